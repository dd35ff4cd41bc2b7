/*
 * migrations_int.h: helpers shared by the migration bodies (backfiller/mig_*.c and
 * migrations.c); not for other modules.
 */
#ifndef MSN_MIGRATIONS_INT_H
#define MSN_MIGRATIONS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "shm/buf.h"

#include "backfiller/async_migrations.h"
#include "backfiller/chunk_loop.h"

/** sqlite3_exec with the message in err. Returns 0, or -1. */
int msn_mig_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

/** Checks ctx->batch_size > 0 and ctx->yield_ms >= 0 (before a migration touches
 *  anything). Returns 0, or -EINVAL with err set. */
int msn_mig_check_settings(const msn_mig_ctx_t *ctx, char *err, size_t errlen);

/** Sleeps ctx->yield_ms in short slices, returning early once *ctx->stop is set. */
void msn_mig_pause(const msn_mig_ctx_t *ctx);

/** 1 when *ctx->stop is set. */
int msn_mig_stopped(const msn_mig_ctx_t *ctx);

/** One integer from a one-row query with up to three integer parameters (NULL or no row
 *  reads as 0). Returns 0, or -1 with err set. */
int msn_mig_query_int(sqlite3 *db, const char *sql, int nparams, const int64_t *params, int64_t *out, char *err,
                      size_t errlen);

/* Rows a backfill could not process: counted, logged (the first few one by one), and the
   first ones listed for the migration's error text. */
typedef struct {
    const char *migration;
    int64_t n;
    int listed;
    char text[240]; /* "id 12: raw_hex: not valid hex; id 40: ..." */
} msn_mig_rejects_t;

/** Records that row `id` could not be processed because of `why`. */
void msn_mig_reject(msn_mig_rejects_t *r, int64_t id, const char *why);

/** The table of rows a backfill skipped (created when missing, by msn_amig_ensure_table
 *  and by msn_mig_batch_write before it records one):
 *    _meshsnap_skipped (migration TEXT, row_id INTEGER, reason TEXT, skipped_at TEXT,
 *                       PRIMARY KEY (migration, row_id))
 *  A skipped row is left unchanged; the migration completes without it. */
#define MSN_MIG_SKIPPED_DDL                                                                                  \
    "CREATE TABLE IF NOT EXISTS _meshsnap_skipped (migration TEXT NOT NULL, row_id INTEGER NOT NULL,"        \
    " reason TEXT, skipped_at TEXT, PRIMARY KEY (migration, row_id))"

/** Runs a chunked backfill for a migration body: msn_chunk_loop with ctx's settings,
 *  progress, checkpoints and resume state wired to ctx->amig (when set), then the
 *  terminal progress write. res (may be NULL) receives the loop's counts.
 *  Rows the body rejected (msn_mig_batch_reject) are skipped: left unchanged, recorded
 *  in _meshsnap_skipped, logged, counted in the status (rows_skipped) and in the terminal
 *  progress as handled; they do not fail the migration (a row that cannot be processed
 *  now cannot be on any later run either).
 *  Returns 0 when every row in scope was processed or skipped; -ECANCELED when stopped;
 *  -EINVAL for bad settings; -1 on an SQL error. */
int msn_mig_run_chunked(msn_mig_ctx_t *ctx, const msn_chunk_ops_t *ops, void *ud, msn_mig_rejects_t *rej,
                        msn_chunk_result_t *res, char *err, size_t errlen);

/* A chunk of per-row results computed without a lock (read_chunk) and written by
   msn_mig_batch_write inside the chunk's transaction. */
enum { MSN_MIG_ROW_VALUE = 0, MSN_MIG_ROW_NOTHING = 1, MSN_MIG_ROW_REJECTED = 2 };

typedef struct {
    int n, cap;
    int64_t *ids;
    uint8_t *kind;   /* MSN_MIG_ROW_* */
    size_t *off;     /* VALUE: the value is buf.data[off .. off + len) */
    size_t *len;
    msn_buf_t buf;
    int64_t last_id; /* the largest id read: the cursor after this chunk */
} msn_mig_batch_t;

/** Empties b for a new chunk (keeps its memory). */
void msn_mig_batch_reset(msn_mig_batch_t *b);
/** Adds row id; for MSN_MIG_ROW_VALUE the value is whatever was appended to b->buf
 *  since value_start (pass b->buf.len taken before appending). */
void msn_mig_batch_add(msn_mig_batch_t *b, int64_t id, int kind, size_t value_start);
/** Adds row id as rejected because of `why` (msn_mig_reject logs and lists it; the reason
 *  is recorded with the row in _meshsnap_skipped when the chunk is written). */
void msn_mig_batch_reject(msn_mig_batch_t *b, msn_mig_rejects_t *r, int64_t id, const char *why);
void msn_mig_batch_free(msn_mig_batch_t *b);

/** Writes b with upd (?1 = value text, ?2 = id; it must re-check the row still needs the
 *  value), and records its rejected rows in _meshsnap_skipped (for `migration`). Rows
 *  whose value another observation already has (a UNIQUE constraint) keep theirs and are
 *  logged. *affected = rows processed (written, nothing to write, or already done by
 *  another writer), *rejected = rejected rows, *cursor = b->last_id.
 *  Returns 0, or -1 with err set (any other SQL error). */
int msn_mig_batch_write(sqlite3 *db, sqlite3_stmt *upd, const msn_mig_batch_t *b, const char *migration,
                        int64_t *cursor, int64_t *affected, int64_t *rejected, char *err, size_t errlen);

/** A text cell of a statement's current row as (pointer, length); NULL when the cell is
 *  NULL. Blobs are returned as their bytes. */
const char *msn_mig_col_text(sqlite3_stmt *st, int col, size_t *len);

#endif
