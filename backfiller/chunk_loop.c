/*
 * chunk_loop.c: the bounded, cancellable backfill loop; see chunk_loop.h for the contract.
 */
#include "backfiller/chunk_loop.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "shm/sqlw.h"

#define SLEEP_SLICE_MS 10

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int stopped(const msn_chunk_opts_t *o)
{
    return o->stop != NULL && *o->stop != 0;
}

/* Sleeps ms in slices of SLEEP_SLICE_MS, returning early once a stop is requested. */
static void yield_sleep(const msn_chunk_opts_t *o)
{
    int left = o->yield_ms;
    while (left > 0 && !stopped(o)) {
        int slice = left < SLEEP_SLICE_MS ? left : SLEEP_SLICE_MS;
        struct timespec ts = {0, (long)slice * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopped(o))
            ;
        left -= slice;
    }
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* One chunk: read (outside any transaction) when the backfill has a read step, then the
   writes in their own transaction unless the whole run already holds one (single_txn).
   The chunk's transaction follows the writer discipline of shm/sqlw.h (BEGIN IMMEDIATE
   with busy retries, a timed COMMIT) that the ingestor and the importer share.
   Returns 0 with *found (0 = nothing left), *affected, *rejected and the new *cursor; or -1
   (the chunk's writes rolled back, the cursor unchanged). */
static int one_chunk(sqlite3 *db, msn_sqlw_t *w, const msn_chunk_ops_t *ops, void *ud, const msn_chunk_opts_t *o,
                     const msn_chunk_result_t *r, int64_t *cursor, int64_t *found, int64_t *affected,
                     int64_t *rejected, char *err, size_t errlen)
{
    int64_t cur = *cursor;
    int own_txn = !o->single_txn;
    *found = 0;
    *affected = 0;
    *rejected = 0;
    if (ops->read_chunk != NULL) {
        if (ops->read_chunk(db, ud, r->max_id, o->batch_size, cur, found, err, errlen) < 0)
            return -1;
        if (*found <= 0) {
            *found = 0;
            return 0;
        }
    }
    if (own_txn && msn_sqlw_begin(w, err, errlen) < 0)
        return -1;
    if (ops->run_chunk(db, ud, r->max_id, o->batch_size, &cur, affected, rejected, err, errlen) < 0)
        goto fail;
    if (ops->read_chunk == NULL)
        *found = cur != *cursor;
    else if (cur <= *cursor) {
        set_err(err, errlen, "the chunk after id %lld read %lld rows but did not move past them", (long long)*cursor,
                (long long)*found);
        goto fail;
    }
    if (*found && o->checkpoint != NULL) {
        msn_chunk_result_t next = *r;
        next.processed += *affected;
        next.rejected += *rejected;
        next.chunks += *affected > 0;
        next.cursor = cur;
        if (o->checkpoint(db, o->checkpoint_ud, &next, err, errlen) < 0)
            goto fail;
    }
    if (own_txn) {
        msn_sqlw_add(w, (int)(*affected > INT_MAX ? INT_MAX : *affected));
        if (msn_sqlw_commit(w, err, errlen) < 0)
            goto fail;
    }
    *cursor = cur;
    return 0;
fail:
    if (own_txn)
        msn_sqlw_rollback(w);
    *found = 0;
    *affected = 0;
    *rejected = 0;
    return -1;
}

int msn_chunk_loop(sqlite3 *db, const msn_chunk_ops_t *ops, void *ud, const msn_chunk_opts_t *opts,
                   msn_chunk_result_t *res, char *err, size_t errlen)
{
    msn_chunk_result_t r = {0, 0, 0, 0, MSN_CHUNK_CURSOR_START, 0};
    int rc = 0;
    int fired = 0;
    int64_t fired_p = 0, fired_t = 0;
    int in_txn = 0;
    msn_sqlw_t w;
    msn_sqlw_opts_t wo;

    msn_sqlw_defaults(&wo);
    wo.batch_max = opts->batch_size > 0 ? opts->batch_size : 1;
    msn_sqlw_init(&w, db, &wo);
    if (opts->batch_size <= 0) {
        set_err(err, errlen, "batch size must be > 0 (got %d)", opts->batch_size);
        rc = -EINVAL;
        goto out;
    }
    if (opts->yield_ms < 0) {
        set_err(err, errlen, "yield must be >= 0 ms (got %d)", opts->yield_ms);
        rc = -EINVAL;
        goto out;
    }
    if (opts->single_txn) {
        if (exec_sql(db, "BEGIN IMMEDIATE", err, errlen) < 0) {
            rc = -EIO;
            goto out;
        }
        in_txn = 1;
    }
    if (opts->resume != NULL) {
        r = *opts->resume;
    } else {
        if (ops->snapshot_max(db, ud, &r.max_id, err, errlen) < 0 ||
            ops->count_total(db, ud, r.max_id, &r.total, err, errlen) < 0) {
            rc = -EIO;
            goto out;
        }
        if (r.total == 0) {
            if (opts->progress)
                opts->progress(opts->progress_ud, 0, 0, r.cursor);
            goto out;
        }
    }

    for (;;) {
        if (stopped(opts)) {
            if (opts->progress)
                opts->progress(opts->progress_ud, r.processed, r.total, r.cursor);
            set_err(err, errlen, "cancelled");
            rc = -ECANCELED;
            goto out;
        }
        int64_t found = 0, n = 0, rej = 0;
        if (one_chunk(db, &w, ops, ud, opts, &r, &r.cursor, &found, &n, &rej, err, errlen) < 0) {
            rc = -EIO;
            goto out;
        }
        if (found <= 0)
            break;
        r.processed += n;
        r.rejected += rej;
        if (n > 0) {
            r.chunks++;
            if (opts->progress) {
                opts->progress(opts->progress_ud, r.processed, r.total, r.cursor);
                fired = 1;
                fired_p = r.processed;
                fired_t = r.total;
            }
        }
        if (!opts->single_txn)
            yield_sleep(opts);
    }
    if (r.rejected == 0)
        r.total = r.processed;
    if (opts->progress && !(fired && fired_p == r.processed && fired_t == r.total))
        opts->progress(opts->progress_ud, r.processed, r.total, r.cursor);
out:
    if (in_txn) {
        /* the naive variant keeps what it did when stopped, and loses everything on an error */
        if (rc == 0 || rc == -ECANCELED) {
            char e[256];
            if (exec_sql(db, "COMMIT", e, sizeof(e)) < 0) {
                set_err(err, errlen, "%s", e);
                rc = -EIO;
            }
        }
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (res != NULL)
        *res = r;
    return rc;
}

/* ---- SQL-only backfills ------------------------------------------------------------- */

/* Prepares sql, binds up to three integers, steps once; *val = the first column of the
   first row (has_val = 0 when there is no row or it is NULL). Returns 0, or -1. */
static int sql_int(sqlite3 *db, const char *sql, int nparams, const int64_t *params, int64_t *val, int *has_val,
                   char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    *val = 0;
    if (has_val)
        *has_val = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        set_err(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    for (int i = 0; i < nparams; i++)
        sqlite3_bind_int64(st, i + 1, params[i]);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            *val = sqlite3_column_int64(st, 0);
            if (has_val)
                *has_val = 1;
        }
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int sql_snapshot_max(sqlite3 *db, void *ud, int64_t *max_id, char *err, size_t errlen)
{
    const msn_chunk_sql_t *q = ud;
    return sql_int(db, q->max_sql, 0, NULL, max_id, NULL, err, errlen);
}

static int sql_count_total(sqlite3 *db, void *ud, int64_t max_id, int64_t *total, char *err, size_t errlen)
{
    const msn_chunk_sql_t *q = ud;
    return sql_int(db, q->count_sql, 1, &max_id, total, NULL, err, errlen);
}

static int sql_run_chunk(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t *cursor, int64_t *affected,
                         int64_t *rejected, char *err, size_t errlen)
{
    const msn_chunk_sql_t *q = ud;
    int64_t hi = 0;
    int has_hi = 0;
    int64_t p[3] = {*cursor, max_id, limit};
    *affected = 0;
    *rejected = 0;
    if (sql_int(db, q->hi_sql, 3, p, &hi, &has_hi, err, errlen) < 0)
        return -1;
    if (!has_hi)
        return 0;
    int64_t u[2] = {*cursor, hi};
    int64_t ignored;
    if (sql_int(db, q->update_sql, 2, u, &ignored, NULL, err, errlen) < 0)
        return -1;
    *affected = sqlite3_changes64(db);
    *cursor = hi;
    return 0;
}

const msn_chunk_ops_t msn_chunk_sql_ops = {sql_snapshot_max, sql_count_total, sql_run_chunk, NULL};
