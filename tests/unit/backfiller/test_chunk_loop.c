/* test_chunk_loop.c: the chunked backfill loop (data-model spec §5.2) on the last_seen backfill. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfiller/chunk_loop.h"
#include "backfiller/migrations.h"
#include "shm/schema.h"
#include "testlib.h"

#define MAX_CALLS 256

typedef struct {
    int n;
    int64_t p[MAX_CALLS], t[MAX_CALLS];
    /* optional actions from inside the callback */
    volatile sig_atomic_t *stop;
    int stop_after; /* set *stop after this many calls (0 = never) */
    sqlite3 *db;
    int insert_rows; /* insert this many new unprocessed tx (with observations) per call */
} calls_t;

static void record(void *ud, int64_t processed, int64_t total, int64_t cursor)
{
    (void)cursor;
    calls_t *c = ud;
    if (c->n < MAX_CALLS) {
        c->p[c->n] = processed;
        c->t[c->n] = total;
    }
    c->n++;
    if (c->stop != NULL && c->stop_after > 0 && c->n >= c->stop_after)
        *c->stop = 1;
    if (c->insert_rows > 0) {
        char sql[600];
        snprintf(sql, sizeof(sql),
                 "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)"
                 " INSERT INTO transmissions (raw_hex, hash, first_seen, last_seen)"
                 " SELECT '', lower(hex(randomblob(8))), '2026-01-01T00:00:00Z', 0 FROM c;"
                 "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                 " SELECT id, 9, '[]', 1800000000 FROM transmissions WHERE last_seen = 0"
                 " AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.transmission_id = transmissions.id);",
                 c->insert_rows);
        if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            fprintf(stderr, "insert from callback: %s\n", sqlite3_errmsg(c->db));
    }
}

/* A current-schema database with n transmissions; every k-th (k > 0) is an orphan (no
   observation); the others have one or two observations (the later one on every third). */
static sqlite3 *make_db(int n, int orphan_every)
{
    char path[600], err[512], sql[1200];
    snprintf(path, sizeof(path), "%s/t.db", msn_test_tmpdir("chunk"));
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        msn_schema_create_current(db, err, sizeof(err)) < 0) {
        fprintf(stderr, "make_db: %s\n", sqlite3_errmsg(db));
        exit(2);
    }
    snprintf(sql, sizeof(sql),
             "BEGIN;"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)"
             " INSERT INTO transmissions (id, raw_hex, hash, first_seen, last_seen)"
             " SELECT i, '', printf('%%016x', i), '2026-01-01T00:00:00Z', 0 FROM c;"
             "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
             " SELECT id, 1, '[]', 1700000000 + id FROM transmissions WHERE %d = 0 OR id %% %d != 0;"
             "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
             " SELECT id, 2, '[]', 1700500000 + id FROM transmissions WHERE id %% 3 = 0 AND (%d = 0 OR id %% %d != 0);"
             "COMMIT;",
             n, orphan_every, orphan_every ? orphan_every : 1, orphan_every, orphan_every ? orphan_every : 1);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "make_db: %s\n", sqlite3_errmsg(db));
        exit(2);
    }
    return db;
}

/* Rows whose last_seen differs from what the backfill must produce (orphans: 0). */
static int64_t wrong_rows(sqlite3 *db)
{
    return msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions t WHERE t.last_seen !="
                         " COALESCE((SELECT MAX(timestamp) FROM observations o WHERE o.transmission_id = t.id), 0)");
}

static int run(sqlite3 *db, int batch, int yield_ms, volatile sig_atomic_t *stop, calls_t *c, msn_chunk_result_t *res,
               char *err, size_t errlen)
{
    msn_chunk_opts_t o = {.batch_size = batch, .yield_ms = yield_ms, .stop = stop, .progress = record, .progress_ud = c};
    return msn_chunk_loop(db, &msn_chunk_sql_ops, (void *)&msn_tx_last_seen_sql, &o, res, err, errlen);
}

static void test_progress_per_batch(void)
{
    sqlite3 *db = make_db(12000, 0);
    calls_t c = {0};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 5000, 0, NULL, &c, &res, err, sizeof(err)), 0);
    CHECK(c.n >= 3);
    CHECK_EQ_INT(c.n, 3); /* 5000, 10000, 12000; the terminal call is not repeated */
    CHECK_EQ_INT(c.p[0], 5000);
    CHECK_EQ_INT(c.p[1], 10000);
    CHECK_EQ_INT(c.p[c.n - 1], 12000);
    CHECK_EQ_INT(c.t[c.n - 1], 12000);
    CHECK_EQ_INT(res.total, 12000);
    CHECK_EQ_INT(res.processed, 12000);
    CHECK_EQ_INT(res.max_id, 12000);
    CHECK_EQ_INT(res.chunks, 3);
    CHECK_EQ_INT(wrong_rows(db), 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen = 0"), 0);
    /* MAX, not any observation: tx 3 has two */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT last_seen FROM transmissions WHERE id = 3"), 1700500003);

    /* a second run finds nothing: progress(0,0) once */
    calls_t c2 = {0};
    CHECK_EQ_INT(run(db, 5000, 0, NULL, &c2, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(c2.n, 1);
    CHECK_EQ_INT(c2.p[0], 0);
    CHECK_EQ_INT(c2.t[0], 0);
    CHECK_EQ_INT(res.chunks, 0);
    sqlite3_close(db);
}

static void test_cancel_keeps_partial_work(void)
{
    sqlite3 *db = make_db(12000, 0);
    volatile sig_atomic_t stop = 0;
    calls_t c = {0};
    c.stop = &stop;
    c.stop_after = 1;
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 5000, 0, &stop, &c, &res, err, sizeof(err)), -ECANCELED);
    CHECK_EQ_STR(err, "cancelled");
    CHECK_EQ_INT(res.processed, 5000);
    CHECK_EQ_INT(res.total, 12000);
    CHECK_EQ_INT(c.n, 2); /* the batch, then the report at cancellation */
    CHECK_EQ_INT(c.p[c.n - 1], 5000);
    CHECK_EQ_INT(c.t[c.n - 1], 12000);
    /* the first chunk is committed, the rest untouched */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 5000);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT MAX(id) FROM transmissions WHERE last_seen != 0"), 5000);
    CHECK(sqlite3_get_autocommit(db)); /* no transaction left open */

    /* resume */
    stop = 0;
    calls_t c2 = {0};
    CHECK_EQ_INT(run(db, 5000, 0, &stop, &c2, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(res.total, 7000);
    CHECK_EQ_INT(res.processed, 7000);
    CHECK_EQ_INT(wrong_rows(db), 0);
    sqlite3_close(db);
}

/* A stop during a long pause is seen at once (yield far above the test timeout). */
static void test_cancel_during_yield(void)
{
    sqlite3 *db = make_db(300, 0);
    volatile sig_atomic_t stop = 0;
    calls_t c = {0};
    c.stop = &stop;
    c.stop_after = 1;
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 100, 1000 * 1000 * 1000, &stop, &c, &res, err, sizeof(err)), -ECANCELED);
    CHECK_EQ_INT(res.processed, 100);
    sqlite3_close(db);
}

/* A stop requested before the first chunk: nothing is written. */
static void test_cancel_before_start(void)
{
    sqlite3 *db = make_db(300, 0);
    volatile sig_atomic_t stop = 1;
    calls_t c = {0};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 100, 0, &stop, &c, &res, err, sizeof(err)), -ECANCELED);
    CHECK_EQ_INT(res.processed, 0);
    CHECK_EQ_INT(c.n, 1);
    CHECK_EQ_INT(c.p[0], 0);
    CHECK_EQ_INT(c.t[0], 300);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 0);
    sqlite3_close(db);
}

static void test_new_rows_do_not_trap_the_loop(void)
{
    sqlite3 *db = make_db(1000, 0);
    calls_t c = {0};
    c.db = db;
    c.insert_rows = 400; /* more than a batch, every batch */
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 300, 0, NULL, &c, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(res.max_id, 1000);
    CHECK_EQ_INT(res.total, 1000);
    CHECK_EQ_INT(res.processed, 1000);
    CHECK_EQ_INT(c.n, 4); /* 300, 600, 900, 1000 */
    CHECK_EQ_INT(c.p[c.n - 1], 1000);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE id > 1000"), 1600);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE id > 1000 AND last_seen = 0"), 1600);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE id <= 1000 AND last_seen = 0"), 0);
    sqlite3_close(db);
}

static void test_orphans_skipped(void)
{
    sqlite3 *db = make_db(1500, 3); /* ids 3, 6, 9, ... are orphans: 500 of them */
    calls_t c = {0};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 400, 0, NULL, &c, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(res.total, 1000);
    CHECK_EQ_INT(res.processed, 1000);
    CHECK_EQ_INT(c.p[c.n - 1], 1000);
    CHECK_EQ_INT(c.t[c.n - 1], 1000);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen = 0"), 500);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen = 0 AND id % 3 != 0"), 0);
    CHECK_EQ_INT(wrong_rows(db), 0);
    sqlite3_close(db);

    /* only orphans: total 0, progress(0,0) once, nothing written */
    db = make_db(50, 1);
    calls_t c2 = {0};
    CHECK_EQ_INT(run(db, 10, 0, NULL, &c2, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(c2.n, 1);
    CHECK_EQ_INT(c2.p[0], 0);
    CHECK_EQ_INT(c2.t[0], 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 0);
    sqlite3_close(db);
}

static void test_bad_options_rejected(void)
{
    sqlite3 *db = make_db(100, 0);
    calls_t c = {0};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 0, 0, NULL, &c, &res, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "batch") != NULL);
    CHECK_EQ_INT(run(db, -5, 0, NULL, &c, &res, err, sizeof(err)), -EINVAL);
    err[0] = '\0';
    CHECK_EQ_INT(run(db, 10, -1, NULL, &c, &res, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "yield") != NULL);
    CHECK_EQ_INT(c.n, 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 0);
    sqlite3_close(db);
}

/* A write failing mid-way: -EIO with sqlite's message; earlier chunks stay, the failed one is rolled back. */
static void test_sql_error_propagates(void)
{
    sqlite3 *db = make_db(1000, 0);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "CREATE TRIGGER no_write BEFORE UPDATE OF last_seen ON transmissions"
                              " WHEN NEW.id = 650 BEGIN SELECT RAISE(ABORT, 'disk says no'); END",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    calls_t c = {0};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 300, 0, NULL, &c, &res, err, sizeof(err)), -EIO);
    CHECK(strstr(err, "disk says no") != NULL);
    CHECK_EQ_INT(res.processed, 600);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen != 0"), 600);
    CHECK(sqlite3_get_autocommit(db));
    /* a missing table is an error too, not an empty backfill */
    CHECK_EQ_INT(sqlite3_exec(db, "DROP TRIGGER no_write; DROP TABLE observations", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(run(db, 300, 0, NULL, &c, &res, err, sizeof(err)), -EIO);
    CHECK(strstr(err, "no such table") != NULL);
    sqlite3_close(db);
}

/* Rows the UPDATE leaves at 0 (observations at timestamp 0) are not picked again forever. */
static void test_terminates_when_rows_stay_zero(void)
{
    sqlite3 *db = make_db(100, 0);
    CHECK_EQ_INT(sqlite3_exec(db, "UPDATE observations SET timestamp = 0 WHERE transmission_id <= 40", NULL, NULL, NULL),
                 SQLITE_OK);
    calls_t c = {0};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(run(db, 7, 0, NULL, &c, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(res.total, 100);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen = 0"), 40);
    CHECK_EQ_INT(wrong_rows(db), 0);
    sqlite3_close(db);
}

/* ---- a backfill with a read step: t(id, v), v = 2 * id where v IS NULL; ids divisible by
   10 are "corrupt" (rejected, left NULL) ---- */

typedef struct {
    int64_t ids[4096];
    int n;
    int reads_in_txn, writes_outside_txn;
    int fail_checkpoint_at; /* checkpoint number that fails (0 = none) */
    int checkpoints;
    msn_chunk_result_t last_cp;
} rd_t;

static int rd_max(sqlite3 *db, void *ud, int64_t *max_id, char *err, size_t errlen)
{
    (void)ud;
    (void)err;
    (void)errlen;
    *max_id = msn_test_query_int(db, "SELECT COALESCE(MAX(id), 0) FROM t");
    return 0;
}

static int rd_count(sqlite3 *db, void *ud, int64_t max_id, int64_t *total, char *err, size_t errlen)
{
    (void)ud;
    (void)err;
    (void)errlen;
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM t WHERE v IS NULL AND id <= %lld", (long long)max_id);
    *total = msn_test_query_int(db, sql);
    return 0;
}

static int rd_read(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t cursor, int64_t *found, char *err,
                   size_t errlen)
{
    rd_t *r = ud;
    (void)err;
    (void)errlen;
    if (!sqlite3_get_autocommit(db))
        r->reads_in_txn++;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT id FROM t WHERE v IS NULL AND id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3", -1, &st,
                       NULL);
    sqlite3_bind_int64(st, 1, cursor);
    sqlite3_bind_int64(st, 2, max_id);
    sqlite3_bind_int64(st, 3, limit);
    r->n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && r->n < 4096)
        r->ids[r->n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    *found = r->n;
    return 0;
}

static int rd_write(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t *cursor, int64_t *affected,
                    int64_t *rejected, char *err, size_t errlen)
{
    rd_t *r = ud;
    (void)max_id;
    (void)limit;
    if (sqlite3_get_autocommit(db))
        r->writes_outside_txn++;
    *affected = 0;
    *rejected = 0;
    for (int i = 0; i < r->n; i++) {
        if (r->ids[i] % 10 == 0) {
            (*rejected)++;
            continue;
        }
        char sql[96];
        snprintf(sql, sizeof(sql), "UPDATE t SET v = %lld WHERE id = %lld AND v IS NULL", (long long)r->ids[i] * 2,
                 (long long)r->ids[i]);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s", sqlite3_errmsg(db));
            return -1;
        }
        (*affected)++;
    }
    if (r->n > 0)
        *cursor = r->ids[r->n - 1];
    return 0;
}

static int rd_checkpoint(sqlite3 *db, void *ud, const msn_chunk_result_t *s, char *err, size_t errlen)
{
    rd_t *r = ud;
    (void)db;
    r->checkpoints++;
    if (r->fail_checkpoint_at && r->checkpoints == r->fail_checkpoint_at) {
        snprintf(err, errlen, "checkpoint refused");
        return -1;
    }
    r->last_cp = *s;
    return 0;
}

static const msn_chunk_ops_t rd_ops = {rd_max, rd_count, rd_write, rd_read};

static sqlite3 *make_t(int n)
{
    char path[600], sql[300];
    snprintf(path, sizeof(path), "%s/r.db", msn_test_tmpdir("chunk"));
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        exit(2);
    snprintf(sql, sizeof(sql),
             "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)"
             " INSERT INTO t (id) SELECT i FROM c;",
             n);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        exit(2);
    return db;
}

/* Reads happen outside any transaction, writes inside one; rejected rows neither stop the
   loop nor count as processed; checkpoints see the state each COMMIT makes durable. */
static void test_read_step_rejects_and_checkpoints(void)
{
    sqlite3 *db = make_t(95);
    rd_t *r = calloc(1, sizeof(*r));
    calls_t c = {0};
    msn_chunk_opts_t o = {.batch_size = 10, .progress = record, .progress_ud = &c, .checkpoint = rd_checkpoint,
                          .checkpoint_ud = r};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(msn_chunk_loop(db, &rd_ops, r, &o, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(r->reads_in_txn, 0);
    CHECK_EQ_INT(r->writes_outside_txn, 0);
    CHECK_EQ_INT(res.rejected, 9);
    CHECK_EQ_INT(res.processed, 86);
    CHECK_EQ_INT(res.total, 95); /* not lowered to processed: rows were rejected */
    CHECK_EQ_INT(res.cursor, 95);
    CHECK_EQ_INT(r->checkpoints, 10);
    CHECK_EQ_INT(r->last_cp.cursor, 95);
    CHECK_EQ_INT(r->last_cp.processed, 86);
    CHECK_EQ_INT(r->last_cp.rejected, 9);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM t WHERE v IS NULL"), 9);
    CHECK_EQ_INT(c.p[c.n - 1], 86);
    CHECK_EQ_INT(c.t[c.n - 1], 95);
    /* a chunk made only of rejected rows does not end the loop: rows after it are done */
    sqlite3_close(db);
    db = make_t(40);
    sqlite3_exec(db, "UPDATE t SET v = 1 WHERE id BETWEEN 11 AND 29", NULL, NULL, NULL); /* leaves 1-10, 30-40 */
    memset(r, 0, sizeof(*r));
    o.batch_size = 1;
    CHECK_EQ_INT(msn_chunk_loop(db, &rd_ops, r, &o, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM t WHERE v IS NULL"), 3); /* 10, 30, 40 */
    CHECK_EQ_INT(res.processed, 18);
    sqlite3_close(db);
    free(r);
}

/* A failing checkpoint rolls its chunk back; resuming from the last good checkpoint
   continues with the same snapshot and counts and ends where a single run would. */
static void test_checkpoint_failure_and_resume(void)
{
    sqlite3 *db = make_t(60);
    rd_t *r = calloc(1, sizeof(*r));
    r->fail_checkpoint_at = 4;
    msn_chunk_opts_t o = {.batch_size = 10, .checkpoint = rd_checkpoint, .checkpoint_ud = r};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(msn_chunk_loop(db, &rd_ops, r, &o, &res, err, sizeof(err)), -EIO);
    CHECK_EQ_STR(err, "checkpoint refused");
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM t WHERE v IS NOT NULL"), 27); /* 3 chunks of 9 */
    CHECK_EQ_INT(r->last_cp.cursor, 30);
    CHECK(sqlite3_get_autocommit(db));
    /* rows added since are out of the resumed run's scope (same snapshot) */
    sqlite3_exec(db, "INSERT INTO t (id) VALUES (61), (62)", NULL, NULL, NULL);
    msn_chunk_result_t resume = r->last_cp;
    r->fail_checkpoint_at = 0;
    calls_t c = {0};
    o.resume = &resume;
    o.progress = record;
    o.progress_ud = &c;
    CHECK_EQ_INT(msn_chunk_loop(db, &rd_ops, r, &o, &res, err, sizeof(err)), 0);
    CHECK_EQ_INT(res.max_id, 60);
    CHECK_EQ_INT(res.processed, 54);
    CHECK_EQ_INT(res.rejected, 6);
    CHECK_EQ_INT(c.p[0], 36); /* progress carried on from the checkpoint */
    CHECK_EQ_INT(c.t[0], 60);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM t WHERE v IS NULL AND id <= 60"), 6);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM t WHERE v IS NULL AND id > 60"), 2);
    sqlite3_close(db);
    free(r);
}

/* The single-transaction test knob: one transaction around everything, reads included. */
static void test_single_txn_knob(void)
{
    sqlite3 *db = make_t(50);
    rd_t *r = calloc(1, sizeof(*r));
    msn_chunk_opts_t o = {.batch_size = 4096, .single_txn = 1};
    msn_chunk_result_t res;
    char err[256] = "";
    CHECK_EQ_INT(msn_chunk_loop(db, &rd_ops, r, &o, &res, err, sizeof(err)), 0);
    CHECK(r->reads_in_txn >= 1); /* the reads ran inside the one transaction */
    CHECK_EQ_INT(res.chunks, 1);
    CHECK_EQ_INT(res.processed, 45);
    CHECK(sqlite3_get_autocommit(db));
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM t WHERE v IS NOT NULL"), 45);
    sqlite3_close(db);
    free(r);
}

int main(void)
{
    MSN_RUN(test_progress_per_batch);
    MSN_RUN(test_cancel_keeps_partial_work);
    MSN_RUN(test_cancel_during_yield);
    MSN_RUN(test_cancel_before_start);
    MSN_RUN(test_new_rows_do_not_trap_the_loop);
    MSN_RUN(test_orphans_skipped);
    MSN_RUN(test_bad_options_rejected);
    MSN_RUN(test_sql_error_propagates);
    MSN_RUN(test_terminates_when_rows_stay_zero);
    MSN_RUN(test_read_step_rejects_and_checkpoints);
    MSN_RUN(test_checkpoint_failure_and_resume);
    MSN_RUN(test_single_txn_knob);
    return msn_test_done();
}
