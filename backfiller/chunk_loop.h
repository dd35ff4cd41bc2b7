/*
 * chunk_loop.h: the bounded, cancellable backfill loop every long-running data migration
 * uses (data-model spec §5.2).
 *
 * A backfill touches a set of rows defined by a predicate ("last_seen = 0 and the tx has
 * observations"). The loop never holds the write lock for long: each chunk of at most
 * batch_size rows is one short transaction (BEGIN IMMEDIATE ... COMMIT), and between
 * chunks it sleeps yield_ms so readers and other writers get the database. Work done is
 * committed chunk by chunk, so a stop or a crash keeps everything before it and the next
 * run resumes from whatever is still unprocessed.
 *
 * Contract (§5.2):
 *   1. batch_size <= 0 or yield_ms < 0: rejected (-EINVAL) before touching the database.
 *   2. max_id is snapshotted once (ops->snapshot_max); rows added later are out of scope,
 *      which guarantees termination under concurrent inserts.
 *   3. total = ops->count_total(max_id). When it is 0, progress(0,0) fires once and the
 *      loop returns 0 without running a chunk.
 *   4. Loop: stop requested -> progress(processed,total) fires and -ECANCELED is returned;
 *      otherwise one chunk runs in its own transaction; a chunk that touched 0 rows ends
 *      the loop without firing progress; else processed += n, progress(processed,total)
 *      fires, and the loop sleeps yield_ms in small slices, watching the stop flag.
 *   5. After the loop, a terminal progress(processed,total) fires unless the last
 *      in-loop call already reported the same pair.
 *   6. Every SQL error ends the loop with -EIO and sqlite's message in err; the failing
 *      chunk is rolled back, earlier chunks stay committed.
 *
 * The cursor: each chunk receives the cursor the previous one left (initially
 * MSN_CHUNK_CURSOR_START) and should advance it past the rows it handled (for example the
 * largest id). A chunk whose rows still match the predicate afterwards then cannot be
 * picked again, so the loop ends even when an UPDATE leaves a row looking unprocessed.
 */
#ifndef MSN_CHUNK_LOOP_H
#define MSN_CHUNK_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#define MSN_CHUNK_CURSOR_START INT64_MIN

/* What a backfill does; ud is passed back unchanged. Each returns 0, or -1 with err set
   (the loop then returns -EIO with that message). */
typedef struct {
    /* The largest id in scope now (e.g. SELECT COALESCE(MAX(id),0) FROM t). */
    int (*snapshot_max)(sqlite3 *db, void *ud, int64_t *max_id, char *err, size_t errlen);
    /* How many rows with id <= max_id still need work. */
    int (*count_total)(sqlite3 *db, void *ud, int64_t max_id, int64_t *total, char *err, size_t errlen);
    /* Processes at most limit rows with cursor < id <= max_id, inside the transaction the
       loop opened; sets *affected and advances *cursor. Must not BEGIN/COMMIT itself. */
    int (*run_chunk)(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t *cursor, int64_t *affected,
                     char *err, size_t errlen);
} msn_chunk_ops_t;

/* Called after each committed chunk and at the end (see the contract above). It runs
   outside any transaction and may write to the database itself. */
typedef void (*msn_chunk_progress_fn)(void *ud, int64_t processed, int64_t total);

typedef struct {
    int batch_size;                /* rows per chunk, > 0 */
    int yield_ms;                  /* sleep between chunks, >= 0 */
    volatile sig_atomic_t *stop;   /* non-zero = stop at the next chunk boundary; may be NULL */
    msn_chunk_progress_fn progress; /* may be NULL */
    void *progress_ud;
} msn_chunk_opts_t;

typedef struct {
    int64_t max_id;    /* the snapshot */
    int64_t total;     /* rows in scope at the start */
    int64_t processed; /* rows changed by committed chunks */
    int64_t chunks;    /* committed chunks that changed rows */
} msn_chunk_result_t;

/** Runs the loop on db (a read-write connection outside any transaction).
 *  Returns 0 when no row in scope is left, -ECANCELED when *opts->stop became non-zero
 *  (err = "cancelled"), -EINVAL for bad options, or -EIO when a statement or callback
 *  failed (err = the message). err is set in every failure case; res (may be NULL) holds
 *  the counts reached in every case. */
int msn_chunk_loop(sqlite3 *db, const msn_chunk_ops_t *ops, void *ud, const msn_chunk_opts_t *opts,
                   msn_chunk_result_t *res, char *err, size_t errlen);

/*
 * SQL-only backfills: four statements instead of callbacks. Pass msn_chunk_sql_ops with a
 * msn_chunk_sql_t as ud. Parameters are bound by number:
 *   max_sql     no parameter, one integer column (NULL reads as 0)
 *   count_sql   ?1 = max_id, one integer column
 *   hi_sql      ?1 = cursor, ?2 = max_id, ?3 = limit: the largest id of the next chunk,
 *               e.g. SELECT MAX(id) FROM (SELECT id ... WHERE id > ?1 AND id <= ?2
 *               ORDER BY id LIMIT ?3); NULL or no row = nothing left
 *   update_sql  ?1 = cursor, ?2 = hi: processes the rows with cursor < id <= hi;
 *               sqlite3_changes() is the chunk's row count
 * The cursor becomes hi after each chunk.
 */
typedef struct {
    const char *max_sql;
    const char *count_sql;
    const char *hi_sql;
    const char *update_sql;
} msn_chunk_sql_t;

extern const msn_chunk_ops_t msn_chunk_sql_ops;

#endif
