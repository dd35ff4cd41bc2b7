/* test_backfiller.c: the backfiller process body: migrations end to end, stop/resume, failures. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backfiller/backfiller.h"
#include "backfiller/migrations.h"
#include "shm/schema.h"
#include "testlib.h"

static void config(msn_config_t *cfg, char *db, int batch, int yield_ms)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->db = db;
    cfg->backfill.enabled = 1;
    cfg->backfill.batch_size = batch;
    cfg->backfill.yield_ms = yield_ms;
}

static const msn_migration_status_t *find_mig(const msn_status_t *st, const char *name)
{
    for (int i = 0; i < st->backfill.n_migrations; i++)
        if (strcmp(st->backfill.mig[i].name, name) == 0)
            return &st->backfill.mig[i];
    return NULL;
}

/* Transmissions whose last_seen is not what §5.1 says (newest observation, or 0 for orphans). */
static const char wrong_sql[] =
    "SELECT COUNT(*) FROM transmissions t WHERE t.last_seen !="
    " COALESCE((SELECT MAX(o.timestamp) FROM observations o WHERE o.transmission_id = t.id), 0)";

static void test_fixture_migration(void)
{
    const char *fx = msn_test_fixture_db();
    if (fx == NULL) {
        msn_test_skip("fixtures/corescope-e2e.db not available");
        return;
    }
    char path[600];
    snprintf(path, sizeof(path), "%s/e2e.db", msn_test_tmpdir("bf"));
    CHECK_EQ_INT(msn_test_copy_file(fx, path), 0);
    msn_config_t cfg;
    config(&cfg, path, 100, 0);
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);

    sqlite3 *db = NULL;
    char err[512] = "";
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db, err, sizeof(err)), 0);
    msn_schema_info_t si;
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.tx_last_seen, 1);
    CHECK_EQ_INT(si.async_progress_cols, 1);
    CHECK_EQ_INT(msn_test_query_int(db, wrong_sql), 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen > 0"), 499);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'idx_tx_last_seen_zero'"), 1);
    CHECK_EQ_STR(msn_test_query_text(
                     db, "SELECT status FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 "done");
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 499);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT rows_total FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"), 499);
    CHECK_EQ_STR(msn_test_query_text(db, "PRAGMA journal_mode"), "wal");
    sqlite3_close(db);

    const msn_migration_status_t *m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_EQ_INT(m->status, MSN_MIG_DONE);
        CHECK_EQ_INT(m->rows_processed, 499);
        CHECK_EQ_INT(m->rows_total, 499);
    }
    CHECK_EQ_INT(st->backfill.pid, getpid());
    CHECK_EQ_INT(st->backfill.remaining, 0);

    /* a restart skips it */
    memset(st, 0, sizeof(*st));
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL && m->status == MSN_MIG_DONE && m->rows_processed == 499);
    free(st);
}

/* ---- stop and resume ---- */

typedef struct {
    msn_status_t *st;
    volatile sig_atomic_t *stop;
    int saw_progress;
} stopper_t;

/* Sets *stop once the status block shows the first committed chunk (or after 20 s). */
static void *stopper(void *arg)
{
    stopper_t *s = arg;
    for (int i = 0; i < 20000; i++) {
        msn_backfill_status_t b;
        msn_status_read_backfill(s->st, &b);
        for (int j = 0; j < b.n_migrations; j++)
            if (strcmp(b.mig[j].name, MSN_MIG_TX_LAST_SEEN) == 0 && b.mig[j].rows_processed > 0)
                s->saw_progress = 1;
        if (s->saw_progress)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    *s->stop = 1;
    return NULL;
}

static void make_synthetic(const char *path, int n)
{
    char err[512] = "", sql[800];
    CHECK_EQ_INT(msn_schema_init_db(path, err, sizeof(err)), 0);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql),
             "BEGIN;"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)"
             " INSERT INTO transmissions (id, raw_hex, hash, first_seen, last_seen)"
             " SELECT i, '', printf('%%016x', i), '2026-01-01T00:00:00Z', 0 FROM c;"
             "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
             " SELECT id, 1, '[]', 1700000000 + id FROM transmissions;"
             "COMMIT;",
             n);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_stop_and_resume(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/s.db", msn_test_tmpdir("bf"));
    make_synthetic(path, 5000);
    msn_config_t cfg;
    config(&cfg, path, 1000, 1000 * 1000 * 1000); /* pauses far longer than the test may take */
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    stopper_t s = {st, &stop, 0};
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, stopper, &s), 0);
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_STOPPED);
    pthread_join(th, NULL);
    CHECK_EQ_INT(s.saw_progress, 1);

    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 1000);
    CHECK_EQ_STR(msn_test_query_text(
                     db, "SELECT status FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 "failed");
    CHECK_EQ_STR(msn_test_query_text(
                     db, "SELECT error FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 "cancelled");
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 1000);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT rows_total FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 5000);
    sqlite3_close(db);
    const msn_migration_status_t *m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && strcmp(m->error, "cancelled") == 0);
    CHECK(m != NULL && m->cursor == 1000); /* rows up to id 1000 are final */

    /* the resume state is that of the last committed chunk */
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT cursor FROM _meshsnap_backfill WHERE name = 'tx_last_seen_backfill_v1'"), 1000);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT max_id FROM _meshsnap_backfill WHERE name = 'tx_last_seen_backfill_v1'"), 5000);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT processed FROM _meshsnap_backfill WHERE name = 'tx_last_seen_backfill_v1'"), 1000);
    sqlite3_close(db);

    /* the next start resumes where the first stopped: same snapshot and total, progress
       carrying on from 1000 (never back to 0) */
    stop = 0;
    config(&cfg, path, 1000, 0);
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, wrong_sql), 0);
    CHECK_EQ_STR(msn_test_query_text(
                     db, "SELECT status FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 "done");
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT rows_total FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"), 5000);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 5000);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _meshsnap_backfill"), 0); /* dropped once done */
    sqlite3_close(db);
    m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL && m->status == MSN_MIG_DONE && m->error[0] == '\0');
    CHECK(m != NULL && m->rows_processed == 5000 && m->rows_total == 5000);
    CHECK(m != NULL && m->cursor == 5000);
    free(st);
}

/* ---- failures ---- */

static void test_not_a_database(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/garbage.db", msn_test_tmpdir("bf"));
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 300; i++)
        fputs("definitely not sqlite\n", f);
    fclose(f);
    msn_config_t cfg;
    config(&cfg, path, 100, 0);
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_FAILED);
    const msn_migration_status_t *m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_EQ_INT(m->status, MSN_MIG_FAILED);
        CHECK(strstr(m->error, "not a database") != NULL);
        CHECK(strstr(m->error, path) != NULL);
    }

    /* a missing file is not created */
    snprintf(path, sizeof(path), "%s/missing.db", msn_test_tmpdir("bf"));
    config(&cfg, path, 100, 0);
    memset(st, 0, sizeof(*st));
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_FAILED);
    CHECK(access(path, F_OK) != 0);
    m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL && m->status == MSN_MIG_FAILED);
    free(st);
}

/* The migration's writes fail mid-way: failed with the message, partial work kept, never done;
   once writes work again the next start completes it. */
static void test_write_failure_then_recovery(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/w.db", msn_test_tmpdir("bf"));
    make_synthetic(path, 1000);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "CREATE TRIGGER no_write BEFORE UPDATE OF last_seen ON transmissions"
                              " WHEN NEW.id > 500 BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    msn_config_t cfg;
    config(&cfg, path, 250, 0);
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_FAILED);
    const msn_migration_status_t *m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && strstr(m->error, "disk I/O error (simulated)") != NULL);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_STR(msn_test_query_text(
                     db, "SELECT status FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 "failed");
    CHECK(strstr(msn_test_query_text(
                     db, "SELECT error FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 "disk I/O error (simulated)") != NULL);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 500);
    CHECK_EQ_INT(sqlite3_exec(db, "DROP TRIGGER no_write", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, wrong_sql), 0);
    CHECK_EQ_STR(msn_test_query_text(
                     db, "SELECT status FROM _async_migrations WHERE name = 'tx_last_seen_backfill_v1'"),
                 "done");
    sqlite3_close(db);
    free(st);
}

static void test_bad_settings_fail(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/b.db", msn_test_tmpdir("bf"));
    make_synthetic(path, 10);
    msn_config_t cfg;
    config(&cfg, path, 0, 0);
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_FAILED);
    const msn_migration_status_t *m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && strstr(m->error, "batch") != NULL);
    config(&cfg, path, 10, -1);
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_FAILED);
    m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && strstr(m->error, "yield") != NULL);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 0);
    sqlite3_close(db);
    free(st);
}

/* ---- new databases ---- */

static void test_init_db_and_empty_file(void)
{
    char path[600], err[512] = "";
    const char *dir = msn_test_tmpdir("bf");
    snprintf(path, sizeof(path), "%s/demo.db", dir);
    CHECK_EQ_INT(msn_schema_init_db(path, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_schema_init_db(path, err, sizeof(err)), 0); /* again: nothing changes */
    sqlite3 *db = NULL;
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db, err, sizeof(err)), 0);
    msn_schema_info_t si;
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 0);
    CHECK_EQ_STR(msn_test_query_text(db, "PRAGMA journal_mode"), "wal");
    CHECK_EQ_INT(msn_test_query_int(db, "PRAGMA auto_vacuum"), 2);
    sqlite3_close(db);

    /* the backfiller on it: nothing to do, done with 0/0 */
    msn_config_t cfg;
    config(&cfg, path, 100, 0);
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    const msn_migration_status_t *m = find_mig(st, MSN_MIG_TX_LAST_SEEN);
    CHECK(m != NULL && m->status == MSN_MIG_DONE && m->rows_total == 0);

    /* an empty (0-byte) file gets the current schema from the backfiller */
    snprintf(path, sizeof(path), "%s/empty.db", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fclose(f);
    config(&cfg, path, 100, 0);
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 0);
    sqlite3_close(db);

    /* init_db refuses to "upgrade" a legacy database */
    const char *fx = msn_test_fixture_db();
    if (fx != NULL) {
        snprintf(path, sizeof(path), "%s/legacy.db", dir);
        CHECK_EQ_INT(msn_test_copy_file(fx, path), 0);
        CHECK_EQ_INT(msn_schema_init_db(path, err, sizeof(err)), -1);
        CHECK(strstr(err, path) != NULL);
    }
    free(st);
}

int main(void)
{
    MSN_RUN(test_fixture_migration);
    MSN_RUN(test_stop_and_resume);
    MSN_RUN(test_not_a_database);
    MSN_RUN(test_write_failure_then_recovery);
    MSN_RUN(test_bad_settings_fail);
    MSN_RUN(test_init_db_and_empty_file);
    return msn_test_done();
}
