/* test_backfills.c: path_json_backfill_v1 and resolved_path_backfill_v1 row by row, and how
   every migration behaves when the database refuses writes (read-only, disk full). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backfiller/backfiller.h"
#include "backfiller/migrations.h"
#include "shm/codec/codec.h"
#include "shm/schema.h"
#include "testlib.h"

static const char *query_text(sqlite3 *db, const char *fmt, long long id)
{
    static char buf[8][600];
    static int k;
    char *out = buf[k++ % 8];
    char sql[300];
    snprintf(sql, sizeof(sql), fmt, id);
    sqlite3_stmt *st = NULL;
    snprintf(out, 600, "(no row)");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, 600, "(prepare failed: %s)", sqlite3_errmsg(db));
        return out;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, 600, "%s", t ? (const char *)t : "NULL");
    }
    sqlite3_finalize(st);
    return out;
}

/* A new current-schema database at dir/name. */
static sqlite3 *new_db(const char *dir, const char *name, char *path, size_t n)
{
    char err[512];
    snprintf(path, n, "%s/%s", dir, name);
    if (msn_schema_init_db(path, err, sizeof(err)) < 0) {
        fprintf(stderr, "init_db: %s\n", err);
        exit(2);
    }
    sqlite3 *db = NULL;
    if (msn_sqlite_open(path, 0, &db, err, sizeof(err)) < 0) {
        fprintf(stderr, "open: %s\n", err);
        exit(2);
    }
    return db;
}

static void config(msn_config_t *cfg, char *db, int batch)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->db = db;
    cfg->backfill.enabled = 1;
    cfg->backfill.batch_size = batch;
    cfg->backfill.yield_ms = 0;
}

static const msn_migration_status_t *find_mig(const msn_status_t *st, const char *name)
{
    for (int i = 0; i < st->backfill.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++)
        if (strncmp(st->backfill.mig[i].name, name, sizeof(st->backfill.mig[i].name)) == 0)
            return &st->backfill.mig[i];
    return NULL;
}

/* Runs the backfiller over path (batches of `batch` rows) into st, cleared first, and checks
   that it ends done with migration `name` done; returns that migration's status. */
static const msn_migration_status_t *run_to_done(char *path, int batch, msn_status_t *st, const char *name)
{
    msn_config_t cfg;
    config(&cfg, path, batch);
    memset(st, 0, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    const msn_migration_status_t *m = find_mig(st, name);
    CHECK(m != NULL && m->status == MSN_MIG_DONE);
    return m;
}

static const char *status_of(sqlite3 *db, const char *name)
{
    static char buf[4][64];
    static int k;
    char *out = buf[k++ % 4];
    char *q = sqlite3_mprintf("SELECT status FROM _async_migrations WHERE name = '%q'", name);
    sqlite3_stmt *st = NULL;
    snprintf(out, 64, "(none)");
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, 64, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_free(q);
    return out;
}

/* A TXT_MSG frame with the given hops (hash_size bytes each), as hex. */
static void frame_hex(int route, int hash_size, const uint8_t *hops, int count, char *out, size_t n)
{
    uint8_t payload[64], pkt[300];
    const uint8_t mac[2] = {0x12, 0x34};
    const uint8_t data[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    int pl = msn_encode_direct(0xA1, 0xB2, mac, data, sizeof(data), payload, sizeof(payload));
    msn_frame_t f;
    memset(&f, 0, sizeof(f));
    f.route_type = route;
    f.payload_type = MSN_PT_TXT_MSG;
    f.hash_size = hash_size;
    f.hash_count = count;
    f.path = hops;
    int len = msn_encode_packet(&f, payload, (size_t)pl, pkt, sizeof(pkt));
    CHECK(len > 0);
    size_t o = 0;
    for (int i = 0; i < len && o + 3 < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%02X", pkt[i]);
}

static int64_t insert_obs(sqlite3 *db, int64_t tx, int observer, const char *path_json, const char *raw_hex,
                          const char *resolved)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db,
                       "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp, raw_hex,"
                       " resolved_path) VALUES (?1, ?2, ?3, 1700000000, ?4, ?5)",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, tx);
    sqlite3_bind_int(st, 2, observer);
    if (path_json)
        sqlite3_bind_text(st, 3, path_json, -1, SQLITE_TRANSIENT);
    if (raw_hex)
        sqlite3_bind_text(st, 4, raw_hex, -1, SQLITE_TRANSIENT);
    if (resolved)
        sqlite3_bind_text(st, 5, resolved, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
        msn_test_failures++;
    }
    sqlite3_finalize(st);
    return sqlite3_last_insert_rowid(db);
}

/* ---- path_json_backfill_v1 ---- */

static void test_path_json(void)
{
    char path[600], hex[600];
    sqlite3 *db = new_db(msn_test_tmpdir("bfs"), "pj.db", path, sizeof(path));
    msn_test_exec(db,
                  "INSERT INTO transmissions (id, raw_hex, hash, first_seen, payload_type, last_seen) VALUES"
                  " (1, '', 'a', '2026', 2, 1), (2, '', 'b', '2026', 9, 1), (3, '', 'c', '2026', NULL, 1)");
    const uint8_t h1[] = {0xAB, 0xCD}, h2[] = {0xAB, 0xCD, 0xEF, 0x01};
    frame_hex(MSN_ROUTE_FLOOD, 1, h1, 2, hex, sizeof(hex));
    int64_t o1 = insert_obs(db, 1, 1, NULL, hex, NULL);
    frame_hex(MSN_ROUTE_FLOOD, 2, h2, 2, hex, sizeof(hex));
    int64_t o2 = insert_obs(db, 1, 2, "", hex, NULL);
    frame_hex(MSN_ROUTE_DIRECT, 1, NULL, 0, hex, sizeof(hex));
    int64_t o3 = insert_obs(db, 1, 3, NULL, hex, NULL);
    frame_hex(MSN_ROUTE_FLOOD, 1, h1, 2, hex, sizeof(hex));
    int64_t o4 = insert_obs(db, 2, 1, NULL, hex, NULL); /* TRACE: out of scope */
    int64_t o5 = insert_obs(db, 1, 4, NULL, "ZZZZ", NULL);
    int64_t o6 = insert_obs(db, 1, 5, NULL, NULL, NULL);  /* no raw_hex */
    int64_t o7 = insert_obs(db, 1, 6, "[]", hex, NULL);   /* already set */
    /* lower case with spaces decodes too */
    char spaced[700];
    size_t k = 0;
    for (size_t i = 0; hex[i] && k + 3 < sizeof(spaced); i++) {
        spaced[k++] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
        if (i % 8 == 7)
            spaced[k++] = ' ';
    }
    spaced[k] = '\0';
    int64_t o8 = insert_obs(db, 1, 7, NULL, spaced, NULL);
    /* the path claims more bytes than the packet has */
    int64_t o9 = insert_obs(db, 1, 8, NULL, "0505ABCD", NULL);
    int64_t o10 = insert_obs(db, 3, 1, NULL, hex, NULL); /* payload_type NULL: out of scope */
    /* a row whose path would duplicate an existing observation (idx_observations_dedup) */
    insert_obs(db, 1, 9, "[\"AB\",\"CD\"]", NULL, NULL);
    int64_t o12 = insert_obs(db, 1, 9, NULL, hex, NULL);
    sqlite3_close(db);

    msn_status_t *st = calloc(1, sizeof(*st));
    const msn_migration_status_t *m = run_to_done(path, 2, st, MSN_MIG_PATH_JSON);
    char want[160];
    if (m != NULL) {
        /* the two rows that do not decode are skipped, not failed: every row is handled */
        CHECK_EQ_INT(m->rows_skipped, 2);
        CHECK_EQ_INT(m->rows_total, 7);
        CHECK_EQ_INT(m->rows_processed, 7);
        CHECK_EQ_STR(m->error, "");
    }
    /* the other migrations went on */
    CHECK(find_mig(st, MSN_MIG_RESOLVED_PATH) != NULL && find_mig(st, MSN_MIG_RESOLVED_PATH)->status == MSN_MIG_DONE);

    db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    const char *pj = "SELECT path_json FROM observations WHERE id = %lld";
    CHECK_EQ_STR(query_text(db, pj, o1), "[\"AB\",\"CD\"]");
    CHECK_EQ_STR(query_text(db, pj, o2), "[\"ABCD\",\"EF01\"]");
    CHECK_EQ_STR(query_text(db, pj, o3), "[]");
    CHECK_EQ_STR(query_text(db, pj, o4), "NULL");
    CHECK_EQ_STR(query_text(db, pj, o5), "NULL");
    CHECK_EQ_STR(query_text(db, pj, o6), "NULL");
    CHECK_EQ_STR(query_text(db, pj, o7), "[]");
    CHECK_EQ_STR(query_text(db, pj, o8), "[\"AB\",\"CD\"]");
    CHECK_EQ_STR(query_text(db, pj, o9), "NULL");
    CHECK_EQ_STR(query_text(db, pj, o10), "NULL");
    CHECK_EQ_STR(query_text(db, pj, o12), "NULL"); /* kept: it would duplicate another observation */
    CHECK_EQ_STR(status_of(db, MSN_MIG_PATH_JSON), "done");
    /* recorded with their reason */
    snprintf(want, sizeof(want), "SELECT COUNT(*) FROM _meshsnap_skipped WHERE migration = '%s'", MSN_MIG_PATH_JSON);
    CHECK_EQ_INT(msn_test_query_int(db, want), 2);
    CHECK(strstr(query_text(db, "SELECT reason FROM _meshsnap_skipped WHERE row_id = %lld", o5),
                 "raw_hex does not decode") != NULL);
    CHECK(strstr(query_text(db, "SELECT reason FROM _meshsnap_skipped WHERE row_id = %lld", o9),
                 "raw_hex does not decode") != NULL);
    sqlite3_close(db);

    /* a later start has nothing left to do */
    run_to_done(path, 2, st, MSN_MIG_PATH_JSON);
    free(st);
}

/* Rows with ids of zero and below (an imported table can have them) are backfilled like the
   others, in chunks smaller than their run: none is passed over. */
static void test_path_json_nonpositive_ids(void)
{
    char path[600], hex[600], sql[1400];
    sqlite3 *db = new_db(msn_test_tmpdir("bfs"), "pjneg.db", path, sizeof(path));
    msn_test_exec(db, "INSERT INTO transmissions (id, raw_hex, hash, first_seen, payload_type, last_seen) VALUES"
                      " (1, '', 'a', '2026', 2, 1)");
    const uint8_t h1[] = {0xAB, 0xCD};
    frame_hex(MSN_ROUTE_FLOOD, 1, h1, 2, hex, sizeof(hex));
    for (int id = -5; id <= 2; id++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO observations (id, transmission_id, observer_idx, timestamp, raw_hex)"
                 " VALUES (%d, 1, %d, 1700000000, '%s')",
                 id, id + 10, hex);
        msn_test_exec(db, sql);
    }
    sqlite3_close(db);
    msn_status_t *st = calloc(1, sizeof(*st));
    const msn_migration_status_t *m = run_to_done(path, 2, st, MSN_MIG_PATH_JSON);
    if (m != NULL) {
        CHECK_EQ_INT(m->rows_total, 8);
        CHECK_EQ_INT(m->rows_processed, 8);
    }
    db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE path_json = '[\"AB\",\"CD\"]'"), 8);
    sqlite3_close(db);
    free(st);
}

/* ---- resolved_path_backfill_v1 ---- */

#define KEY_A "aa11111111111111111111111111111111111111111111111111111111111111"
#define KEY_B "bb22222222222222222222222222222222222222222222222222222222222222"
#define KEY_C1 "cc33333333333333333333333333333333333333333333333333333333333333"
#define KEY_C2 "cc44444444444444444444444444444444444444444444444444444444444444"

static void test_resolved_path(void)
{
    char path[600];
    sqlite3 *db = new_db(msn_test_tmpdir("bfs"), "rp.db", path, sizeof(path));
    msn_test_exec(
        db,
        "INSERT INTO nodes (public_key, name, role) VALUES ('" KEY_A "', 'a', 'repeater'),"
        " ('" KEY_B "', 'b', 'companion'), ('" KEY_C1 "', 'c1', 'repeater'), ('" KEY_C2 "', 'c2', 'room');"
        "INSERT INTO neighbor_edges (node_a, node_b) VALUES ('" KEY_B "', '" KEY_C1 "');"
        "INSERT INTO transmissions (id, raw_hex, hash, first_seen, payload_type, from_pubkey, last_seen)"
        " VALUES (1, '', 'a', '2026', 2, NULL, 1), (2, '', 'b', '2026', 4, '" KEY_B "', 1);");
    int64_t r1 = insert_obs(db, 1, 1, "[\"AA\",\"BB\",\"CC\"]", NULL, NULL);
    int64_t r2 = insert_obs(db, 1, 2, "[\"CC\"]", NULL, NULL);  /* ambiguous, no anchor */
    int64_t r3 = insert_obs(db, 1, 3, "[\"EE\"]", NULL, NULL);  /* no candidate */
    int64_t r4 = insert_obs(db, 1, 4, "[\"AA\",\"AA\"]", NULL, NULL); /* a revisit */
    int64_t r5 = insert_obs(db, 1, 5, "[\"CC33\",\"BB\"]", NULL, NULL);
    int64_t r6 = insert_obs(db, 1, 6, "[\"bb\",\"cc\"]", NULL, NULL);
    int64_t r7 = insert_obs(db, 1, 7, "[\"AA\",", NULL, NULL);  /* unparsable */
    int64_t r8 = insert_obs(db, 2, 8, "[\"CC\"]", NULL, NULL);  /* ADVERT from B: B anchors CC */
    int64_t r9 = insert_obs(db, 1, 9, "[\"AA\"]", NULL, "[\"kept\"]");
    int64_t r10 = insert_obs(db, 1, 10, "[]", NULL, NULL);
    /* many rows with no resolvable hop, so that whole chunks write nothing */
    for (int i = 0; i < 25; i++)
        insert_obs(db, 1, 100 + i, "[\"EE\",\"CC\"]", NULL, NULL);
    int64_t r_last = insert_obs(db, 1, 200, "[\"BB\"]", NULL, NULL);
    sqlite3_close(db);

    msn_status_t *st = calloc(1, sizeof(*st));
    const msn_migration_status_t *m = run_to_done(path, 3, st, MSN_MIG_RESOLVED_PATH);
    CHECK(m != NULL && m->rows_total == 34 && m->rows_processed == 34 && m->rows_skipped == 1);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    const char *rp = "SELECT resolved_path FROM observations WHERE id = %lld";
    CHECK_EQ_STR(query_text(db, rp, r1), "[\"" KEY_A "\",\"" KEY_B "\",\"" KEY_C1 "\"]");
    CHECK_EQ_STR(query_text(db, rp, r2), "NULL");
    CHECK_EQ_STR(query_text(db, rp, r3), "NULL");
    CHECK_EQ_STR(query_text(db, rp, r4), "[\"" KEY_A "\",null]");
    CHECK_EQ_STR(query_text(db, rp, r5), "[\"" KEY_C1 "\",\"" KEY_B "\"]");
    CHECK_EQ_STR(query_text(db, rp, r6), "[\"" KEY_B "\",\"" KEY_C1 "\"]");
    CHECK_EQ_STR(query_text(db, rp, r7), "NULL");
    CHECK_EQ_STR(query_text(db, rp, r8), "[\"" KEY_C1 "\"]");
    CHECK_EQ_STR(query_text(db, rp, r9), "[\"kept\"]");
    CHECK_EQ_STR(query_text(db, rp, r10), "NULL");
    CHECK_EQ_STR(query_text(db, rp, r_last), "[\"" KEY_B "\"]");
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE path_json = '[\"EE\",\"CC\"]'"
                               " AND resolved_path IS NOT NULL"),
                 0);

    /* the unparsable row is recorded, the migration is done and stays done */
    CHECK(strstr(query_text(db, "SELECT reason FROM _meshsnap_skipped WHERE row_id = %lld", r7),
                 "path_json is not a JSON array") != NULL);
    CHECK_EQ_STR(status_of(db, MSN_MIG_RESOLVED_PATH), "done");
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _meshsnap_backfill"), 0);
    sqlite3_close(db);
    run_to_done(path, 3, st, MSN_MIG_RESOLVED_PATH);
    free(st);
}

/* ---- failures of the database itself ---- */

/* A database with work for every backfill: 300 transmissions, 900 observations. */
static void make_work_db(const char *dir, const char *name, char *path, size_t n)
{
    sqlite3 *db = new_db(dir, name, path, n);
    msn_test_exec(db, "INSERT INTO nodes (public_key) VALUES ('" KEY_A "'), ('" KEY_B "'), ('" KEY_C1 "');"
                      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300)"
                      " INSERT INTO transmissions (id, raw_hex, hash, first_seen, payload_type, last_seen)"
                      " SELECT i, '', printf('%016x', i), '2026', 2, 0 FROM c;"
                      "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                      " SELECT id, 1, '[\"AA\",\"BB\",\"CC\"]', 1700000000 + id FROM transmissions;"
                      "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                      " SELECT id, 2, '[\"BB\",\"AA\"]', 1700000100 + id FROM transmissions;"
                      "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                      " SELECT id, 3, '[\"EE\"]', 1700000200 + id FROM transmissions;");
    sqlite3_close(db);
}

static void test_read_only_connection(void)
{
    char path[600], err[512];
    make_work_db(msn_test_tmpdir("bfs"), "ro.db", path, sizeof(path));
    sqlite3 *ro = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(path, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    msn_config_t cfg;
    config(&cfg, path, 50);
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run_db(ro, &cfg, st, &stop), MSN_BF_EXIT_FAILED);
    sqlite3_close(ro);
    CHECK(st->backfill.n_migrations > 0);
    for (int i = 0; i < st->backfill.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++) {
        CHECK_EQ_INT(st->backfill.mig[i].status, MSN_MIG_FAILED);
        CHECK(strstr(st->backfill.mig[i].error, "readonly") != NULL);
    }
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 0);
    sqlite3_close(db);

    /* writable again: a later start does everything */
    memset(st, 0, sizeof(*st));
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen = 0"), 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE resolved_path IS NOT NULL"), 600);
    sqlite3_close(db);
    (void)err;
    free(st);
}

/* The file itself is read-only for the process: nothing runs, every migration shows why,
   and nothing is recorded as done. As root, file modes do not bind, so the check runs in
   a child that drops to an unprivileged user. */
static void test_read_only_file(void)
{
    char path[600];
    const char *dir = msn_test_tmpdir("bfs");
    make_work_db(dir, "rofile.db", path, sizeof(path));
    msn_status_t *st = calloc(1, sizeof(*st));
    CHECK_EQ_INT(chmod(dir, 0755), 0);
    CHECK_EQ_INT(chmod(path, 0444), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(99);
        msn_config_t cfg;
        config(&cfg, path, 50);
        volatile sig_atomic_t stop = 0;
        int rc = msn_backfiller_run(&cfg, st, &stop);
        /* hand the status back through the exit code and a file-less channel: the status
           block is checked on this side only by code */
        const msn_migration_status_t *m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
        _exit(rc == MSN_BF_EXIT_FAILED && m != NULL && m->status == MSN_MIG_FAILED && m->error[0] ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 99) {
        msn_test_skip("cannot drop privileges to check a read-only file");
        free(st);
        return;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_INT(chmod(path, 0644), 0);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = '_async_migrations'"), 1);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _async_migrations WHERE status = 'done'"), 0);
    sqlite3_close(db);
    msn_config_t cfg;
    config(&cfg, path, 50);
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    free(st);
}

/* The disk fills up in the middle of a backfill (PRAGMA max_page_count on the
   backfiller's connection): failed with SQLite's message, committed chunks kept, never
   done; with room again, the next start finishes from where it stopped. */
static void test_disk_full(void)
{
    char path[600], ref_path[600];
    const char *dir = msn_test_tmpdir("bfs");
    make_work_db(dir, "full.db", path, sizeof(path));
    make_work_db(dir, "ref.db", ref_path, sizeof(ref_path));
    msn_config_t cfg;
    config(&cfg, ref_path, 20);
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);

    sqlite3 *db = NULL;
    char err[512];
    CHECK_EQ_INT(msn_sqlite_open(path, 0, &db, err, sizeof(err)), 0);
    int64_t pages = msn_test_query_int(db, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages + 12);
    msn_test_exec(db, sql);
    config(&cfg, path, 20);
    memset(st, 0, sizeof(*st));
    CHECK_EQ_INT(msn_backfiller_run_db(db, &cfg, st, &stop), MSN_BF_EXIT_FAILED);
    sqlite3_close(db);
    const msn_migration_status_t *m = find_mig(st, MSN_MIG_RESOLVED_PATH);
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && strstr(m->error, "full") != NULL);
    if (m != NULL)
        fprintf(stderr, "disk full: %s (%lld / %lld)\n", m->error, (long long)m->rows_processed,
                (long long)m->rows_total);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    int64_t partial = msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE resolved_path IS NOT NULL");
    CHECK(partial > 0 && partial < 600);
    CHECK(strcmp(status_of(db, MSN_MIG_RESOLVED_PATH), "done") != 0);
    sqlite3_close(db);

    memset(st, 0, sizeof(*st));
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    m = find_mig(st, MSN_MIG_RESOLVED_PATH);
    CHECK(m != NULL && m->status == MSN_MIG_DONE && m->rows_total == 900 && m->rows_processed == 900);
    /* the same result as the run that never failed */
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    char att[700];
    snprintf(att, sizeof(att), "ATTACH DATABASE '%s' AS ref", ref_path);
    msn_test_exec(db, att);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations o JOIN ref.observations r ON r.id = o.id"
                               " WHERE o.resolved_path IS NOT r.resolved_path"),
                 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions t JOIN ref.transmissions r ON r.id = t.id"
                               " WHERE t.last_seen != r.last_seen"),
                 0);
    sqlite3_close(db);
    free(st);
}

int main(void)
{
    MSN_RUN(test_path_json);
    MSN_RUN(test_path_json_nonpositive_ids);
    MSN_RUN(test_resolved_path);
    MSN_RUN(test_read_only_connection);
    MSN_RUN(test_read_only_file);
    MSN_RUN(test_disk_full);
    return msn_test_done();
}
