/* test_resume.c: the backfiller killed (SIGKILL) or stopped (SIGTERM) in the middle of each
   chunked backfill, at several points: committed chunks stay, the migration is not done,
   the next start resumes with the same snapshot and total (progress never goes back), and
   the final path_json, resolved_path and last_seen columns equal those of an
   uninterrupted run on a copy. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backfiller/backfiller.h"
#include "backfiller/migrations.h"
#include "shm/codec/codec.h"
#include "shm/schema.h"
#include "testlib.h"

#define N_NODES 70
#define N_TX 1200

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* The base database: nodes (some 1-byte prefixes shared), neighbour edges, transmissions
   with last_seen 0, and observations of which a third carry only raw_hex (path_json to
   derive) and the rest a path_json (resolved_path to fill). Closed cleanly (no -wal). */
static void make_base(const char *path)
{
    char err[512];
    CHECK_EQ_INT(msn_schema_init_db(path, err, sizeof(err)), 0);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    char keys[N_NODES][65];
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO nodes (public_key, role) VALUES (?1, 'repeater')", -1, &st, NULL);
    for (int i = 0; i < N_NODES; i++) {
        for (int j = 0; j < 64; j++)
            keys[i][j] = "0123456789abcdef"[rnd(16)];
        keys[i][64] = '\0';
        if (i % 7 == 3) { /* share the first byte with the previous node */
            keys[i][0] = keys[i - 1][0];
            keys[i][1] = keys[i - 1][1];
        }
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, keys[i], 64, SQLITE_STATIC);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO neighbor_edges (node_a, node_b) VALUES (?1, ?2)", -1, &st, NULL);
    for (int i = 0; i < 150; i++) {
        int a = (int)rnd(N_NODES), b = (int)rnd(N_NODES);
        if (a == b)
            continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, keys[a < b ? a : b], 64, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, keys[a < b ? b : a], 64, SQLITE_STATIC);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    sqlite3_stmt *tx = NULL, *ob = NULL;
    sqlite3_prepare_v2(db,
                       "INSERT INTO transmissions (id, raw_hex, hash, first_seen, payload_type, from_pubkey, last_seen)"
                       " VALUES (?1, '', printf('%016x', ?1), '2026-01-01T00:00:00Z', ?2, ?3, 0)",
                       -1, &tx, NULL);
    sqlite3_prepare_v2(db,
                       "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp, raw_hex)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
                       -1, &ob, NULL);
    for (int t = 1; t <= N_TX; t++) {
        int advert = rnd(5) == 0;
        sqlite3_reset(tx);
        sqlite3_bind_int(tx, 1, t);
        sqlite3_bind_int(tx, 2, advert ? 4 : 2);
        if (advert)
            sqlite3_bind_text(tx, 3, keys[rnd(N_NODES)], 64, SQLITE_STATIC);
        else
            sqlite3_bind_null(tx, 3);
        sqlite3_step(tx);
        int nobs = 1 + (int)rnd(5);
        for (int k = 0; k < nobs; k++) {
            int hops = (int)rnd(6);
            uint8_t hb[8];
            char pj[64] = "[";
            for (int h = 0; h < hops; h++) {
                const char *kk = keys[rnd(N_NODES)];
                char byte[3] = {kk[0], kk[1], 0};
                hb[h] = (uint8_t)strtol(byte, NULL, 16);
                snprintf(pj + strlen(pj), sizeof(pj) - strlen(pj), "%s\"%02X\"", h ? "," : "", hb[h]);
            }
            strcat(pj, "]");
            sqlite3_reset(ob);
            sqlite3_bind_int(ob, 1, t);
            sqlite3_bind_int(ob, 2, k + 1);
            sqlite3_bind_int(ob, 4, 1700000000 + t * 10 + (int)rnd(500));
            if (rnd(3) == 0) {
                uint8_t payload[32], pkt[300];
                const uint8_t mac[2] = {1, 2}, data[8] = {0};
                int pl = msn_encode_direct(1, 2, mac, data, sizeof(data), payload, sizeof(payload));
                msn_frame_t f;
                memset(&f, 0, sizeof(f));
                f.route_type = MSN_ROUTE_FLOOD;
                f.payload_type = MSN_PT_TXT_MSG;
                f.hash_size = 1;
                f.hash_count = hops;
                f.path = hb;
                int len = msn_encode_packet(&f, payload, (size_t)pl, pkt, sizeof(pkt));
                char hex[600];
                for (int i = 0; i < len; i++)
                    snprintf(hex + 2 * i, 3, "%02X", pkt[i]);
                sqlite3_bind_null(ob, 3);
                sqlite3_bind_text(ob, 5, hex, -1, SQLITE_TRANSIENT);
            } else {
                sqlite3_bind_text(ob, 3, pj, -1, SQLITE_TRANSIENT);
                sqlite3_bind_null(ob, 5);
            }
            sqlite3_step(ob);
        }
    }
    sqlite3_finalize(tx);
    sqlite3_finalize(ob);
    CHECK_EQ_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void config(msn_config_t *cfg, char *db, int batch, int yield_ms)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->db = db;
    cfg->backfill.enabled = 1;
    cfg->backfill.batch_size = batch;
    cfg->backfill.yield_ms = yield_ms;
}

/* Rows of a and b (attached as ref) that differ in the backfilled columns. */
static int64_t differences(const char *path, const char *ref)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    char sql[700];
    snprintf(sql, sizeof(sql), "ATTACH DATABASE '%s' AS ref", ref);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    int64_t n = msn_test_query_int(db, "SELECT (SELECT COUNT(*) FROM observations o JOIN ref.observations r ON r.id = o.id"
                              " WHERE o.path_json IS NOT r.path_json OR o.resolved_path IS NOT r.resolved_path)"
                              " + (SELECT COUNT(*) FROM transmissions t JOIN ref.transmissions r ON r.id = t.id"
                              " WHERE t.last_seen != r.last_seen)"
                              " + ABS((SELECT COUNT(*) FROM observations) - (SELECT COUNT(*) FROM ref.observations))");
    sqlite3_close(db);
    return n;
}

static msn_status_t *shared_status(void)
{
    void *p = mmap(NULL, sizeof(msn_status_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    return p;
}

static volatile sig_atomic_t child_stop;

static void on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

/* Runs the backfiller in a child and sends sig once `migration` shows processed >= frac *
   total (or has finished). Returns the child's wait status; *caught = 1 when the signal
   was sent while the migration was still running. */
static int run_and_signal(const char *path, msn_status_t *st, const char *migration, double frac, int sig,
                          int *caught)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        sigaction(SIGTERM, &sa, NULL);
        msn_config_t cfg;
        config(&cfg, (char *)path, 25, 1);
        _exit(msn_backfiller_run(&cfg, st, &child_stop));
    }
    *caught = 0;
    int status = 0;
    for (int i = 0; i < 400000; i++) {
        msn_backfill_status_t b;
        msn_status_read_backfill(st, &b);
        int fire = 0;
        for (int j = 0; j < b.n_migrations; j++) {
            const msn_migration_status_t *m = &b.mig[j];
            if (strcmp(m->name, migration) != 0 || m->status == MSN_MIG_UNKNOWN)
                continue;
            if (m->status == MSN_MIG_RUNNING && m->rows_total > 0 &&
                (double)m->rows_processed >= frac * (double)m->rows_total)
                fire = *caught = 1;
            else if (m->status == MSN_MIG_DONE || m->status == MSN_MIG_FAILED)
                fire = 1;
        }
        if (fire || waitpid(pid, &status, WNOHANG) == pid) {
            if (fire) {
                kill(pid, sig);
                waitpid(pid, &status, 0);
            }
            return status;
        }
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return status;
}

typedef struct {
    const char *migration;
    double frac;
    int sig;
} point_t;

static void test_kill_and_resume(void)
{
    const char *dir = msn_test_tmpdir("resume");
    char base[600], ref[600];
    snprintf(base, sizeof(base), "%s/base.db", dir);
    snprintf(ref, sizeof(ref), "%s/ref.db", dir);
    make_base(base);
    CHECK_EQ_INT(msn_test_copy_file(base, ref), 0);

    /* the uninterrupted run */
    msn_config_t cfg;
    config(&cfg, ref, 25, 0);
    msn_status_t *rst = calloc(1, sizeof(*rst));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, rst, &stop), MSN_BF_EXIT_DONE);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(ref, &db), SQLITE_OK);
    CHECK(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE resolved_path IS NOT NULL") > 100);
    CHECK(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE resolved_path IS NULL AND path_json != '[]'") > 10);
    CHECK(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE path_json IS NULL") == 0);
    sqlite3_close(db);
    CHECK_EQ_INT(differences(base, ref) > 0, 1);

    static const point_t scenarios[][3] = {
        {{MSN_MIG_TX_LAST_SEEN, 0.3, SIGKILL}, {NULL, 0, 0}, {NULL, 0, 0}},
        {{MSN_MIG_PATH_JSON, 0.5, SIGKILL}, {NULL, 0, 0}, {NULL, 0, 0}},
        {{MSN_MIG_RESOLVED_PATH, 0.15, SIGKILL}, {MSN_MIG_RESOLVED_PATH, 0.6, SIGKILL}, {NULL, 0, 0}},
        {{MSN_MIG_RESOLVED_PATH, 0.5, SIGTERM}, {NULL, 0, 0}, {NULL, 0, 0}},
        {{MSN_MIG_TX_LAST_SEEN, 0.8, SIGTERM}, {MSN_MIG_PATH_JSON, 0.2, SIGTERM}, {MSN_MIG_RESOLVED_PATH, 0.9, SIGKILL}},
    };
    msn_status_t *st = shared_status();
    for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/run%zu.db", dir, s);
        CHECK_EQ_INT(msn_test_copy_file(base, path), 0);
        memset(st, 0, sizeof(*st));
        for (int k = 0; k < 3 && scenarios[s][k].migration; k++) {
            const point_t *p = &scenarios[s][k];
            int caught = 0;
            int64_t before_processed = 0;
            msn_backfill_status_t b0;
            msn_status_read_backfill(st, &b0);
            for (int j = 0; j < b0.n_migrations && j < MSN_STATUS_MAX_MIGRATIONS; j++)
                if (strncmp(b0.mig[j].name, p->migration, sizeof(b0.mig[j].name)) == 0)
                    before_processed = b0.mig[j].rows_processed;
            int status = run_and_signal(path, st, p->migration, p->frac, p->sig, &caught);
            CHECK(caught);
            if (!caught) {
                fprintf(stderr, "scenario %zu: %s finished before the signal\n", s, p->migration);
                continue;
            }
            if (p->sig == SIGKILL)
                CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
            else
                CHECK(WIFEXITED(status) && WEXITSTATUS(status) == MSN_BF_EXIT_STOPPED);
            /* committed work stays, the migration is not done, the resume point is recorded */
            CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
            char q[300];
            snprintf(q, sizeof(q), "SELECT COUNT(*) FROM _async_migrations WHERE name = '%s' AND status = 'done'",
                     p->migration);
            CHECK_EQ_INT(msn_test_query_int(db, q), 0);
            snprintf(q, sizeof(q), "SELECT processed FROM _meshsnap_backfill WHERE name = '%s'", p->migration);
            int64_t saved = msn_test_query_int(db, q);
            CHECK(saved > 0);
            snprintf(q, sizeof(q), "SELECT cursor FROM _meshsnap_backfill WHERE name = '%s'", p->migration);
            int64_t saved_cursor = msn_test_query_int(db, q);
            if (p->sig == SIGTERM)
                CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _async_migrations WHERE status = 'failed'"
                                           " AND error = 'cancelled'"),
                             1);
            sqlite3_close(db);
            /* the status block showed progress that only grew */
            msn_backfill_status_t b1;
            msn_status_read_backfill(st, &b1);
            for (int j = 0; j < b1.n_migrations; j++)
                if (strcmp(b1.mig[j].name, p->migration) == 0) {
                    CHECK(b1.mig[j].rows_processed >= before_processed);
                    /* the published cursor never runs ahead of what is committed */
                    CHECK(b1.mig[j].cursor > 0 && b1.mig[j].cursor <= saved_cursor);
                }
        }
        /* the next start finishes */
        msn_backfill_status_t killed;
        msn_status_read_backfill(st, &killed);
        config(&cfg, path, 25, 0);
        CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
        int64_t diff = differences(path, ref);
        if (diff != 0)
            fprintf(stderr, "scenario %zu: %lld rows differ from the uninterrupted run\n", s, (long long)diff);
        CHECK_EQ_INT(diff, 0);
        /* same totals as the uninterrupted run; processed reached them, never went back */
        for (int j = 0; j < rst->backfill.n_migrations; j++) {
            const msn_migration_status_t *r = &rst->backfill.mig[j];
            for (int i = 0; i < st->backfill.n_migrations; i++) {
                const msn_migration_status_t *m = &st->backfill.mig[i];
                if (strcmp(m->name, r->name) != 0)
                    continue;
                CHECK_EQ_INT(m->status, MSN_MIG_DONE);
                if (strcmp(m->name, MSN_MIG_SCHEMA_UPGRADE) != 0)
                    CHECK_EQ_INT(m->rows_total, r->rows_total);
                CHECK_EQ_INT(m->rows_processed, m->rows_total);
                for (int q = 0; q < killed.n_migrations; q++)
                    if (strcmp(killed.mig[q].name, m->name) == 0)
                        CHECK(m->rows_processed >= killed.mig[q].rows_processed);
            }
        }
        CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
        CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _meshsnap_backfill"), 0);
        CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _async_migrations WHERE status != 'done'"), 0);
        sqlite3_close(db);
    }
    munmap(st, sizeof(*st));
    free(rst);
}

int main(void)
{
    MSN_RUN(test_kill_and_resume);
    return msn_test_done();
}
