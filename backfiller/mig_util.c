/*
 * mig_util.c: helpers shared by the migration bodies; see migrations_int.h.
 */
#include "backfiller/migrations_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm/buf.h"
#include "shm/log.h"

#define REJECTS_LOGGED 20

int msn_mig_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int msn_mig_check_settings(const msn_mig_ctx_t *ctx, char *err, size_t errlen)
{
    if (ctx->batch_size <= 0) {
        snprintf(err, errlen, "batch size must be > 0 (got %d)", ctx->batch_size);
        return -EINVAL;
    }
    if (ctx->yield_ms < 0) {
        snprintf(err, errlen, "yield must be >= 0 ms (got %d)", ctx->yield_ms);
        return -EINVAL;
    }
    return 0;
}

int msn_mig_stopped(const msn_mig_ctx_t *ctx)
{
    return ctx->stop != NULL && *ctx->stop != 0;
}

void msn_mig_pause(const msn_mig_ctx_t *ctx)
{
    int left = ctx->single_txn ? 0 : ctx->yield_ms;
    while (left > 0 && !msn_mig_stopped(ctx)) {
        int slice = left < 10 ? left : 10;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        left -= slice;
    }
}

int msn_mig_query_int(sqlite3 *db, const char *sql, int nparams, const int64_t *params, int64_t *out, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = NULL;
    *out = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    for (int i = 0; i < nparams; i++)
        sqlite3_bind_int64(st, i + 1, params[i]);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

void msn_mig_reject(msn_mig_rejects_t *r, int64_t id, const char *why)
{
    r->n++;
    if (r->n <= REJECTS_LOGGED)
        msn_warn("%s: row %lld left unchanged: %s", r->migration, (long long)id, why);
    else if (r->n % 1000 == 0)
        msn_warn("%s: %lld rows left unchanged so far (latest: row %lld: %s)", r->migration, (long long)r->n,
                 (long long)id, why);
    size_t used = strlen(r->text);
    if (r->listed < 4 && used + 8 < sizeof(r->text)) {
        snprintf(r->text + used, sizeof(r->text) - used, "%sid %lld: %s", r->listed ? "; " : "", (long long)id, why);
        r->listed++;
    }
}

int msn_mig_run_chunked(msn_mig_ctx_t *ctx, const msn_chunk_ops_t *ops, void *ud, msn_mig_rejects_t *rej,
                        msn_chunk_result_t *res, char *err, size_t errlen)
{
    msn_chunk_opts_t opts = {
        .batch_size = ctx->batch_size,
        .yield_ms = ctx->yield_ms,
        .stop = ctx->stop,
        .progress = ctx->amig ? msn_amig_chunk_progress : NULL,
        .progress_ud = ctx->amig,
        .checkpoint = ctx->amig ? msn_amig_checkpoint : NULL,
        .checkpoint_ud = ctx->amig,
        .resume = msn_amig_resume(ctx->amig),
        .single_txn = ctx->single_txn,
    };
    msn_chunk_result_t r;
    int rc = msn_chunk_loop(ctx->db, ops, ud, &opts, &r, err, errlen);
    if (res != NULL)
        *res = r;
    if (ctx->amig != NULL && (rc == 0 || rc == -ECANCELED) && r.cursor > ctx->amig->mirror.cursor)
        ctx->amig->mirror.cursor = r.cursor;
    if (ctx->amig != NULL && rc != -EINVAL) {
        /* the final stable counts (skipped rows are handled rows); on success a failed write
           fails the migration */
        char e[384];
        int64_t handled = r.processed + r.rejected, total = rc == 0 && r.rejected > 0 ? handled : r.total;
        ctx->amig->mirror.rows_skipped = r.rejected;
        if (msn_amig_progress(ctx->amig, rc == 0 ? handled : r.processed, total, 1, e, sizeof(e)) < 0) {
            if (rc == 0) {
                snprintf(err, errlen, "%s", e);
                return -1;
            }
            msn_warn("%s", e);
        }
    }
    if (rc == -EIO)
        return -1;
    if (rc != 0)
        return rc;
    if (r.rejected > 0)
        msn_warn("%s: %lld row(s) could not be processed; they are left unchanged and recorded in _meshsnap_skipped "
                 "(%s%s)",
                 rej && rej->migration ? rej->migration : "backfill", (long long)r.rejected,
                 rej && rej->text[0] ? rej->text : "see the log above", rej && rej->n > rej->listed ? "; ..." : "");
    return 0;
}

const char *msn_mig_col_text(sqlite3_stmt *st, int col, size_t *len)
{
    int t = sqlite3_column_type(st, col);
    if (t == SQLITE_NULL) {
        *len = 0;
        return NULL;
    }
    const char *p = t == SQLITE_BLOB ? (const char *)sqlite3_column_blob(st, col)
                                     : (const char *)sqlite3_column_text(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    return p ? p : "";
}

void msn_mig_batch_reset(msn_mig_batch_t *b)
{
    b->n = 0;
    b->last_id = INT64_MIN; /* ids may be zero or negative */
    msn_buf_reset(&b->buf);
}

void msn_mig_batch_add(msn_mig_batch_t *b, int64_t id, int kind, size_t value_start)
{
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 1024;
        b->ids = msn_xrealloc(b->ids, (size_t)cap * sizeof(*b->ids));
        b->kind = msn_xrealloc(b->kind, (size_t)cap * sizeof(*b->kind));
        b->off = msn_xrealloc(b->off, (size_t)cap * sizeof(*b->off));
        b->len = msn_xrealloc(b->len, (size_t)cap * sizeof(*b->len));
        b->cap = cap;
    }
    b->ids[b->n] = id;
    b->kind[b->n] = (uint8_t)kind;
    b->off[b->n] = value_start;
    b->len[b->n] = kind == MSN_MIG_ROW_VALUE ? b->buf.len - value_start : 0;
    b->n++;
    if (id > b->last_id)
        b->last_id = id;
}

void msn_mig_batch_reject(msn_mig_batch_t *b, msn_mig_rejects_t *r, int64_t id, const char *why)
{
    msn_mig_reject(r, id, why);
    size_t start = b->buf.len;
    msn_buf_puts(&b->buf, why);
    msn_mig_batch_add(b, id, MSN_MIG_ROW_REJECTED, start);
    b->len[b->n - 1] = b->buf.len - start;
}

void msn_mig_batch_free(msn_mig_batch_t *b)
{
    free(b->ids);
    free(b->kind);
    free(b->off);
    free(b->len);
    msn_buf_free(&b->buf);
    memset(b, 0, sizeof(*b));
}

int msn_mig_batch_write(sqlite3 *db, sqlite3_stmt *upd, const msn_mig_batch_t *b, const char *migration,
                        int64_t *cursor, int64_t *affected, int64_t *rejected, char *err, size_t errlen)
{
    int64_t done = 0, rej = 0;
    sqlite3_stmt *skip = NULL;
    for (int i = 0; i < b->n; i++) {
        if (b->kind[i] == MSN_MIG_ROW_REJECTED) {
            rej++;
            if (skip == NULL && (sqlite3_exec(db, MSN_MIG_SKIPPED_DDL, NULL, NULL, NULL) != SQLITE_OK ||
                                 sqlite3_prepare_v2(db,
                                                    "INSERT OR REPLACE INTO _meshsnap_skipped (migration, row_id, reason,"
                                                    " skipped_at) VALUES (?1, ?2, ?3,"
                                                    " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                                                    -1, &skip, NULL) != SQLITE_OK)) {
                snprintf(err, errlen, "recording skipped row %lld: %s", (long long)b->ids[i], sqlite3_errmsg(db));
                return -1;
            }
            sqlite3_reset(skip);
            sqlite3_bind_text(skip, 1, migration, -1, SQLITE_STATIC);
            sqlite3_bind_int64(skip, 2, b->ids[i]);
            sqlite3_bind_text(skip, 3, b->buf.data + b->off[i], (int)b->len[i], SQLITE_STATIC);
            if (sqlite3_step(skip) != SQLITE_DONE) {
                snprintf(err, errlen, "recording skipped row %lld: %s", (long long)b->ids[i], sqlite3_errmsg(db));
                sqlite3_finalize(skip);
                return -1;
            }
            continue;
        }
        if (b->kind[i] == MSN_MIG_ROW_NOTHING) {
            done++;
            continue;
        }
        sqlite3_reset(upd);
        sqlite3_bind_text(upd, 1, b->buf.data + b->off[i], (int)b->len[i], SQLITE_STATIC);
        sqlite3_bind_int64(upd, 2, b->ids[i]);
        int rc = sqlite3_step(upd);
        if (rc == SQLITE_DONE) {
            done++;
        } else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            /* the statement is undone, the transaction goes on */
            msn_warn("%s: row %lld keeps its old value: %s", migration, (long long)b->ids[i], sqlite3_errmsg(db));
            done++;
        } else {
            snprintf(err, errlen, "row %lld: %s", (long long)b->ids[i], sqlite3_errmsg(db));
            sqlite3_reset(upd);
            sqlite3_finalize(skip);
            return -1;
        }
    }
    sqlite3_finalize(skip);
    sqlite3_reset(upd);
    sqlite3_clear_bindings(upd);
    *affected = done;
    *rejected = rej;
    if (b->n > 0)
        *cursor = b->last_id;
    return 0;
}
