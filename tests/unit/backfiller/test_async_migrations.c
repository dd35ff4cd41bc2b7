/* test_async_migrations.c: `_async_migrations` bookkeeping (data-model spec §5.3) and its status mirror. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "backfiller/async_migrations.h"
#include "testlib.h"

static sqlite3 *open_tmp(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/a.db", msn_test_tmpdir("amig"));
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        exit(2);
    return db;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare %s: %s\n", sql, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int is_sqlite_datetime(const char *s)
{
    int y, mo, d, h, mi, se;
    char tail;
    return strlen(s) == 19 && s[10] == ' ' &&
           sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &tail) == 6;
}

static int is_rfc3339(const char *s)
{
    return strlen(s) == 20 && s[10] == 'T' && s[19] == 'Z';
}

static msn_status_t *new_status(void)
{
    return calloc(1, sizeof(msn_status_t));
}

static const msn_migration_status_t *find_mig(const msn_status_t *st, const char *name)
{
    for (int i = 0; i < st->backfill.n_migrations; i++)
        if (strcmp(st->backfill.mig[i].name, name) == 0)
            return &st->backfill.mig[i];
    return NULL;
}

/* migration bodies used by the tests */
typedef struct {
    int calls;
    int result;            /* what the body returns */
    int64_t rows;          /* reported as processed and total, terminal */
    const char *message;
    msn_status_t *st;      /* to observe the mirror while running */
    int seen_running;
} body_t;

static body_t body;

static int test_body(msn_mig_ctx_t *ctx, char *err, size_t errlen)
{
    body.calls++;
    if (body.st != NULL) {
        const msn_migration_status_t *m = find_mig(body.st, "m1");
        body.seen_running = m != NULL && m->status == MSN_MIG_RUNNING && m->started_at > 0 && m->ended_at == 0;
    }
    if (ctx->amig != NULL && body.rows > 0)
        msn_amig_progress(ctx->amig, body.rows, body.rows, 1, err, errlen);
    if (body.result != 0)
        snprintf(err, errlen, "%s", body.message ? body.message : "boom");
    return body.result;
}

static void test_ensure_adds_progress_columns(void)
{
    sqlite3 *db = open_tmp();
    char err[256] = "";
    /* the table as CoreScope master creates it: no progress columns */
    CHECK_EQ_INT(sqlite3_exec(db,
                              "CREATE TABLE _async_migrations (name TEXT PRIMARY KEY, status TEXT NOT NULL,"
                              " started_at TEXT NOT NULL DEFAULT (datetime('now')), ended_at TEXT, error TEXT);"
                              "INSERT INTO _async_migrations (name, status) VALUES ('old', 'done');",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(msn_amig_ensure_table(db, err, sizeof(err)), 0);
    CHECK_EQ_INT(query_int(db, "SELECT COUNT(*) FROM pragma_table_info('_async_migrations') WHERE name IN"
                               " ('rows_processed', 'rows_total', 'last_update_at')"),
                 3);
    CHECK_EQ_INT(query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'old'"), 0);
    CHECK_EQ_INT(msn_amig_ensure_table(db, err, sizeof(err)), 0); /* idempotent */
    sqlite3_close(db);

    db = open_tmp(); /* none at all: created with every column */
    CHECK_EQ_INT(msn_amig_ensure_table(db, err, sizeof(err)), 0);
    CHECK_EQ_INT(query_int(db, "SELECT COUNT(*) FROM pragma_table_info('_async_migrations')"), 8);
    sqlite3_close(db);
}

static void test_new_run_done(void)
{
    sqlite3 *db = open_tmp();
    msn_status_t *st = new_status();
    char err[256] = "";
    memset(&body, 0, sizeof(body));
    body.rows = 42;
    body.st = st;
    msn_mig_ctx_t ctx = {0};
    CHECK_EQ_INT(msn_amig_run(db, st, "m1", test_body, &ctx, err, sizeof(err)), 0);
    CHECK_EQ_INT(body.calls, 1);
    CHECK_EQ_INT(body.seen_running, 1);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT status FROM _async_migrations WHERE name = 'm1'"), "done");
    CHECK(is_sqlite_datetime(
        msn_test_query_text(db, "SELECT started_at FROM _async_migrations WHERE name = 'm1'")));
    CHECK(is_sqlite_datetime(
        msn_test_query_text(db, "SELECT ended_at FROM _async_migrations WHERE name = 'm1'")));
    CHECK(is_rfc3339(
        msn_test_query_text(db, "SELECT last_update_at FROM _async_migrations WHERE name = 'm1'")));
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT error FROM _async_migrations WHERE name = 'm1'"), "(null)");
    CHECK_EQ_INT(query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'm1'"), 42);
    CHECK_EQ_INT(query_int(db, "SELECT rows_total FROM _async_migrations WHERE name = 'm1'"), 42);
    const msn_migration_status_t *m = find_mig(st, "m1");
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_EQ_INT(m->status, MSN_MIG_DONE);
        CHECK(m->started_at > 0 && m->ended_at >= m->started_at);
        CHECK_EQ_INT(m->rows_processed, 42);
        CHECK_EQ_STR(m->error, "");
    }
    CHECK_EQ_INT(st->backfill.finished_count, 1);
    free(st);
    sqlite3_close(db);
}

static void test_failed_then_rerun_done(void)
{
    sqlite3 *db = open_tmp();
    msn_status_t *st = new_status();
    char err[256] = "";
    msn_mig_ctx_t ctx = {0};
    memset(&body, 0, sizeof(body));
    body.result = -1;
    body.message = "no such table: observations";
    CHECK_EQ_INT(msn_amig_run(db, st, "m1", test_body, &ctx, err, sizeof(err)), -1);
    CHECK(strstr(err, "no such table: observations") != NULL);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT status FROM _async_migrations WHERE name = 'm1'"), "failed");
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT error FROM _async_migrations WHERE name = 'm1'"),
                 "no such table: observations");
    CHECK(is_sqlite_datetime(
        msn_test_query_text(db, "SELECT ended_at FROM _async_migrations WHERE name = 'm1'")));
    const msn_migration_status_t *m = find_mig(st, "m1");
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && strcmp(m->error, "no such table: observations") == 0);

    /* leave progress behind to see that the rerun resets it */
    CHECK_EQ_INT(sqlite3_exec(db,
                              "UPDATE _async_migrations SET rows_processed = 5, rows_total = 10,"
                              " last_update_at = '2026-01-01T00:00:00Z', started_at = '2000-01-01 00:00:00'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    body.result = 0;
    body.rows = 0;
    body.calls = 0;
    CHECK_EQ_INT(msn_amig_run(db, st, "m1", test_body, &ctx, err, sizeof(err)), 0);
    CHECK_EQ_INT(body.calls, 1);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT status FROM _async_migrations WHERE name = 'm1'"), "done");
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT error FROM _async_migrations WHERE name = 'm1'"), "(null)");
    CHECK_EQ_INT(query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'm1'"), 0);
    CHECK_EQ_INT(query_int(db, "SELECT rows_total FROM _async_migrations WHERE name = 'm1'"), 0);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT last_update_at FROM _async_migrations WHERE name = 'm1'"),
                 "(null)");
    CHECK(strcmp(msn_test_query_text(db, "SELECT started_at FROM _async_migrations WHERE name = 'm1'"),
                 "2000-01-01 00:00:00") != 0);
    CHECK_EQ_INT(query_int(db, "SELECT COUNT(*) FROM _async_migrations"), 1);
    m = find_mig(st, "m1");
    CHECK(m != NULL && m->status == MSN_MIG_DONE && m->error[0] == '\0');
    free(st);
    sqlite3_close(db);
}

static void test_done_is_skipped(void)
{
    sqlite3 *db = open_tmp();
    msn_status_t *st = new_status();
    char err[256] = "";
    msn_mig_ctx_t ctx = {0};
    CHECK_EQ_INT(msn_amig_ensure_table(db, err, sizeof(err)), 0);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "INSERT INTO _async_migrations (name, status, started_at, ended_at, rows_processed,"
                              " rows_total) VALUES ('m1', 'done', '2026-01-02 03:04:05', '2026-01-02 03:04:15', 7, 7)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    memset(&body, 0, sizeof(body));
    CHECK_EQ_INT(msn_amig_run(db, st, "m1", test_body, &ctx, err, sizeof(err)), 0);
    CHECK_EQ_INT(body.calls, 0);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT ended_at FROM _async_migrations WHERE name = 'm1'"),
                 "2026-01-02 03:04:15");
    const msn_migration_status_t *m = find_mig(st, "m1");
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_EQ_INT(m->status, MSN_MIG_DONE);
        CHECK_EQ_INT(m->started_at, 1767323045000LL); /* 2026-01-02T03:04:05Z */
        CHECK_EQ_INT(m->ended_at, 1767323055000LL);
        CHECK_EQ_INT(m->rows_total, 7);
    }
    free(st);
    sqlite3_close(db);
}

/* An interrupted run (pending_async left by a crash) and a stop both rerun; a stop is never done. */
static void test_pending_and_cancelled(void)
{
    sqlite3 *db = open_tmp();
    msn_status_t *st = new_status();
    char err[256] = "";
    msn_mig_ctx_t ctx = {0};
    CHECK_EQ_INT(msn_amig_ensure_table(db, err, sizeof(err)), 0);
    CHECK_EQ_INT(sqlite3_exec(db, "INSERT INTO _async_migrations (name, status) VALUES ('m1', 'pending_async')", NULL,
                              NULL, NULL),
                 SQLITE_OK);
    memset(&body, 0, sizeof(body));
    body.result = -ECANCELED;
    CHECK_EQ_INT(msn_amig_run(db, st, "m1", test_body, &ctx, err, sizeof(err)), -ECANCELED);
    CHECK_EQ_INT(body.calls, 1);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT status FROM _async_migrations WHERE name = 'm1'"), "failed");
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT error FROM _async_migrations WHERE name = 'm1'"),
                 "cancelled");
    const msn_migration_status_t *m = find_mig(st, "m1");
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && strcmp(m->error, "cancelled") == 0);

    body.result = 0;
    CHECK_EQ_INT(msn_amig_run(db, st, "m1", test_body, &ctx, err, sizeof(err)), 0);
    CHECK_EQ_INT(body.calls, 2);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT status FROM _async_migrations WHERE name = 'm1'"), "done");
    free(st);
    sqlite3_close(db);
}

static void test_progress_rate_limit_and_missing_row(void)
{
    sqlite3 *db = open_tmp();
    msn_status_t *st = new_status();
    char err[256] = "";
    msn_amig_t m;
    CHECK_EQ_INT(msn_amig_begin(&m, db, st, "m2", err, sizeof(err)), 0);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT status FROM _async_migrations WHERE name = 'm2'"),
                 "pending_async");
    CHECK_EQ_INT(msn_amig_progress(&m, 10, 100, 0, err, sizeof(err)), 0);
    CHECK_EQ_INT(query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'm2'"), 10);
    /* within the same second: the table keeps the earlier value, the status block moves on */
    CHECK_EQ_INT(msn_amig_progress(&m, 20, 100, 0, err, sizeof(err)), 0);
    CHECK_EQ_INT(query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'm2'"), 10);
    const msn_migration_status_t *ms = find_mig(st, "m2");
    CHECK(ms != NULL && ms->rows_processed == 20 && ms->rows_total == 100 && ms->status == MSN_MIG_RUNNING);
    CHECK_EQ_INT(st->backfill.remaining, 80);
    /* terminal always writes */
    CHECK_EQ_INT(msn_amig_progress(&m, 30, 100, 1, err, sizeof(err)), 0);
    CHECK_EQ_INT(query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'm2'"), 30);
    CHECK_EQ_INT(query_int(db, "SELECT rows_total FROM _async_migrations WHERE name = 'm2'"), 100);
    CHECK(is_rfc3339(
        msn_test_query_text(db, "SELECT last_update_at FROM _async_migrations WHERE name = 'm2'")));

    /* the bookkeeping row vanished: a progress write is an error, so is finishing */
    CHECK_EQ_INT(sqlite3_exec(db, "DELETE FROM _async_migrations", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(msn_amig_progress(&m, 40, 100, 1, err, sizeof(err)), -1);
    CHECK(strstr(err, "bookkeeping row missing") != NULL);
    m.write_failures = 0;
    m.last_write_mono_ms = 0; /* forget the rate limit so the next in-loop write happens */
    msn_amig_chunk_progress(&m, 50, 100, 7); /* in-loop: counted, not fatal */
    CHECK_EQ_INT(m.write_failures, 1);
    CHECK_EQ_INT(msn_amig_finish(&m, NULL, err, sizeof(err)), -1);
    /* the status block never says done before the table does */
    ms = find_mig(st, "m2");
    CHECK(ms != NULL && ms->status != MSN_MIG_DONE);
    free(st);
    sqlite3_close(db);
}

/* A successful body whose completion cannot be recorded is a failure, never done. */
static void test_done_not_recorded_is_failure(void)
{
    sqlite3 *db = open_tmp();
    msn_status_t *st = new_status();
    char err[256] = "";
    msn_mig_ctx_t ctx = {0};
    memset(&body, 0, sizeof(body));
    CHECK_EQ_INT(msn_amig_ensure_table(db, err, sizeof(err)), 0);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "CREATE TRIGGER no_done BEFORE UPDATE OF status ON _async_migrations"
                              " WHEN NEW.status = 'done' BEGIN SELECT RAISE(ABORT, 'read-only media'); END",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(msn_amig_run(db, st, "m1", test_body, &ctx, err, sizeof(err)), -1);
    CHECK(strstr(err, "read-only media") != NULL);
    CHECK_EQ_STR(msn_test_query_text(db, "SELECT status FROM _async_migrations WHERE name = 'm1'"),
                 "pending_async");
    const msn_migration_status_t *m = find_mig(st, "m1");
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && strstr(m->error, "read-only media") != NULL);
    free(st);
    sqlite3_close(db);
}

/* No bookkeeping possible (read-only connection): failed in the status block, body never run. */
static void test_unwritable_database(void)
{
    char path[600], err[256] = "";
    snprintf(path, sizeof(path), "%s/ro.db", msn_test_tmpdir("amig"));
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "CREATE TABLE transmissions (id INTEGER PRIMARY KEY)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    msn_status_t *st = new_status();
    msn_mig_ctx_t ctx = {0};
    memset(&body, 0, sizeof(body));
    CHECK_EQ_INT(msn_amig_run(db, st, "m1", test_body, &ctx, err, sizeof(err)), -1);
    CHECK_EQ_INT(body.calls, 0);
    CHECK(strstr(err, "readonly") != NULL || strstr(err, "read-only") != NULL);
    const msn_migration_status_t *m = find_mig(st, "m1");
    CHECK(m != NULL && m->status == MSN_MIG_FAILED && m->error[0] != '\0');
    free(st);
    sqlite3_close(db);
}

/* Resume state: a checkpoint is picked up by the next begin (same snapshot and counts,
   started_at moved back by the time already spent), also when the run skipped rows (they
   are recorded), dropped when done, ignored when the bookkeeping row is gone; the states
   of the migration's parts go with it. */
static void test_resume_state(void)
{
    sqlite3 *db = open_tmp();
    char err[256] = "";
    msn_status_t *st = new_status();
    msn_amig_t m;
    CHECK_EQ_INT(msn_amig_begin(&m, db, st, "r_v1", err, sizeof(err)), 0);
    CHECK(msn_amig_resume(&m) == NULL);
    msn_chunk_result_t cp = {.max_id = 900, .total = 800, .processed = 300, .chunks = 3, .cursor = 411, .rejected = 0};
    m.prior_active_ms = 120000; /* as if two minutes had been spent already */
    CHECK_EQ_INT(msn_amig_checkpoint(db, &m, &cp, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_amig_finish(&m, "cancelled", err, sizeof(err)), 0);
    CHECK_EQ_INT(query_int(db, "SELECT cursor FROM _meshsnap_backfill WHERE name = 'r_v1'"), 411);
    CHECK(query_int(db, "SELECT active_ms FROM _meshsnap_backfill WHERE name = 'r_v1'") >= 120000);

    msn_amig_t m2;
    CHECK_EQ_INT(msn_amig_begin(&m2, db, st, "r_v1", err, sizeof(err)), 0);
    const msn_chunk_result_t *r = msn_amig_resume(&m2);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_EQ_INT(r->max_id, 900);
        CHECK_EQ_INT(r->total, 800);
        CHECK_EQ_INT(r->processed, 300);
        CHECK_EQ_INT(r->cursor, 411);
    }
    /* the table and the mirror carry on from 300 / 800, started two minutes earlier */
    CHECK_EQ_INT(query_int(db, "SELECT rows_processed FROM _async_migrations WHERE name = 'r_v1'"), 300);
    CHECK_EQ_INT(query_int(db, "SELECT rows_total FROM _async_migrations WHERE name = 'r_v1'"), 800);
    int64_t back = query_int(db, "SELECT strftime('%s', 'now') - strftime('%s', started_at) FROM _async_migrations"
                                 " WHERE name = 'r_v1'");
    CHECK(back >= 119 && back <= 125);
    const msn_migration_status_t *s = find_mig(st, "r_v1");
    CHECK(s != NULL && s->status == MSN_MIG_RUNNING && s->rows_processed == 300 && s->rows_total == 800);
    CHECK(s != NULL && msn_now_ms() - s->started_at >= 119000);
    CHECK_EQ_INT(msn_amig_finish(&m2, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(query_int(db, "SELECT COUNT(*) FROM _meshsnap_backfill"), 0);

    /* a run that skipped rows resumes, its skipped count carried on */
    msn_amig_t m3;
    CHECK_EQ_INT(sqlite3_exec(db, "UPDATE _async_migrations SET status = 'failed' WHERE name = 'r_v1'", NULL, NULL,
                              NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(msn_amig_begin(&m3, db, st, "r_v1", err, sizeof(err)), 0);
    cp.rejected = 2;
    CHECK_EQ_INT(msn_amig_checkpoint(db, &m3, &cp, err, sizeof(err)), 0);
    msn_amig_part_t part;
    msn_amig_part_init(&part, &m3, "p");
    msn_chunk_result_t pst = {.max_id = 50, .total = 40, .processed = 10, .cursor = 7};
    CHECK_EQ_INT(msn_amig_part_checkpoint(db, &part, &pst, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_amig_finish(&m3, "cancelled", err, sizeof(err)), 0);
    msn_amig_t m4;
    CHECK_EQ_INT(msn_amig_begin(&m4, db, st, "r_v1", err, sizeof(err)), 0);
    CHECK(msn_amig_resume(&m4) != NULL);
    s = find_mig(st, "r_v1");
    CHECK(s != NULL && s->rows_skipped == 2);
    msn_amig_part_init(&part, &m4, "p");
    msn_chunk_result_t got;
    CHECK_EQ_INT(msn_amig_part_load(&part, &got, err, sizeof(err)), 1);
    CHECK_EQ_INT(got.cursor, 7);
    CHECK_EQ_INT(got.total, 40);
    /* done: its state and its parts' go */
    CHECK_EQ_INT(msn_amig_finish(&m4, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(query_int(db, "SELECT COUNT(*) FROM _meshsnap_backfill"), 0);
    CHECK_EQ_INT(sqlite3_exec(db, "UPDATE _async_migrations SET status = 'failed' WHERE name = 'r_v1'", NULL, NULL,
                              NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(msn_amig_begin(&m4, db, st, "r_v1", err, sizeof(err)), 0);
    CHECK(msn_amig_resume(&m4) == NULL);

    /* a state whose bookkeeping row was deleted (to force a new run) is dropped, parts too */
    cp.rejected = 0;
    CHECK_EQ_INT(msn_amig_checkpoint(db, &m4, &cp, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_amig_part_checkpoint(db, &part, &pst, err, sizeof(err)), 0);
    CHECK_EQ_INT(sqlite3_exec(db, "DELETE FROM _async_migrations WHERE name = 'r_v1'", NULL, NULL, NULL), SQLITE_OK);
    msn_amig_t m5;
    CHECK_EQ_INT(msn_amig_begin(&m5, db, st, "r_v1", err, sizeof(err)), 0);
    CHECK(msn_amig_resume(&m5) == NULL);
    CHECK_EQ_INT(query_int(db, "SELECT COUNT(*) FROM _meshsnap_backfill"), 0);
    sqlite3_close(db);
    free(st);
}

/* Runs fn with stderr captured; returns what was written (static buffer). */
static const char *capture_stderr(void (*fn)(void *), void *arg)
{
    static char out[4096];
    char path[600];
    snprintf(path, sizeof(path), "%s/err.txt", msn_test_tmpdir("amig"));
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, sizeof(out) - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    return out;
}

static void call_heartbeat(void *m)
{
    CHECK_EQ_INT(msn_amig_sqlite_progress(m), 0);
}

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One statement or chunk that takes long still gets a log line every 10 s. */
static void test_heartbeat_during_long_statements(void)
{
    sqlite3 *db = open_tmp();
    char err[256] = "";
    msn_amig_t m;
    CHECK_EQ_INT(msn_amig_begin(&m, db, NULL, "hb_v1", err, sizeof(err)), 0);
    m.mirror.rows_processed = 40;
    m.mirror.rows_total = 90;
    CHECK_EQ_STR(capture_stderr(call_heartbeat, &m), ""); /* just started: quiet */
    m.run_start_mono_ms = mono_now() - 11000;             /* 11 s without a line */
    const char *out = capture_stderr(call_heartbeat, &m);
    CHECK(strstr(out, "hb_v1: still working: 40 / 90 rows") != NULL);
    CHECK_EQ_STR(capture_stderr(call_heartbeat, &m), ""); /* and not again right away */
    m.last_log_mono_ms = mono_now() - 10500;
    CHECK(strstr(capture_stderr(call_heartbeat, &m), "still working") != NULL);
    sqlite3_close(db);
}

int main(void)
{
    MSN_RUN(test_ensure_adds_progress_columns);
    MSN_RUN(test_new_run_done);
    MSN_RUN(test_failed_then_rerun_done);
    MSN_RUN(test_done_is_skipped);
    MSN_RUN(test_pending_and_cancelled);
    MSN_RUN(test_progress_rate_limit_and_missing_row);
    MSN_RUN(test_done_not_recorded_is_failure);
    MSN_RUN(test_unwritable_database);
    MSN_RUN(test_resume_state);
    MSN_RUN(test_heartbeat_during_long_statements);
    return msn_test_done();
}
