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
 *      otherwise one chunk runs in its own transaction. A chunk that found no row ends the
 *      loop without firing progress; else processed += the rows it processed, progress
 *      fires when that is > 0, and the loop sleeps yield_ms in small slices, watching the
 *      stop flag.
 *   5. After the loop, a terminal progress(processed,total) fires unless the last
 *      in-loop call already reported the same pair. When no row was rejected, total is
 *      first set to processed: rows that left the scope meanwhile (done by another
 *      writer) are not waited for, so a complete run always ends with processed == total.
 *   6. Every SQL error ends the loop with -EIO and sqlite's message in err; the failing
 *      chunk is rolled back, earlier chunks stay committed.
 *
 * The cursor: each chunk receives the cursor the previous one left (initially
 * MSN_CHUNK_CURSOR_START) and advances it past the rows it handled (for example the
 * largest id). A chunk that leaves the cursor where it was found nothing and ends the
 * loop; a chunk whose rows still match the predicate afterwards cannot be picked again,
 * so the loop ends even when an UPDATE leaves a row looking unprocessed.
 *
 * Reading without the write lock: a backfill whose per-row work is expensive (decoding,
 * path resolution) supplies ops->read_chunk. The loop calls it outside any transaction
 * (it only holds a WAL read snapshot, which blocks nobody), then opens the chunk's short
 * write transaction and calls run_chunk to write what read_chunk computed. run_chunk
 * must re-check its predicate in the UPDATE (WHERE id = ? AND col IS NULL), since other
 * writers may have changed a row in between.
 *
 * Rejected rows: a chunk may report rows it could not process (a corrupt value); they
 * are counted in res->rejected, left unchanged, and the loop goes on with the others.
 * The caller decides what that means (the migrations record a failure).
 *
 * Checkpoints and resuming: opts->checkpoint, when set, runs inside each chunk's
 * transaction just before COMMIT with the state that COMMIT makes durable (max_id,
 * total, processed, cursor, rejected). Passing that state back as opts->resume continues
 * the run exactly where the last committed chunk ended: no new snapshot, no recount.
 *
 * opts->single_txn (a test knob, never set in production): the whole run, snapshot and
 * count included, happens inside one BEGIN IMMEDIATE ... COMMIT, the way a naive
 * implementation would do it, so that tests can show what the chunking prevents.
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
    /* Processes at most limit rows with cursor < id <= max_id (with read_chunk: the rows it
       read), inside the transaction the loop opened; sets *affected (rows processed),
       *rejected (rows reported and left unchanged) and advances *cursor past every row it
       looked at. Leaving *cursor unchanged means "no row left". Must not BEGIN/COMMIT. */
    int (*run_chunk)(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t *cursor, int64_t *affected,
                     int64_t *rejected, char *err, size_t errlen);
    /* Optional (NULL: none). Reads the next chunk (at most limit rows with
       cursor < id <= max_id) outside any transaction and prepares its writes in ud;
       *found = the rows read, 0 ends the loop. */
    int (*read_chunk)(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t cursor, int64_t *found, char *err,
                      size_t errlen);
} msn_chunk_ops_t;

/* Called after each committed chunk and at the end (see the contract above), with the
   cursor of the last committed chunk (MSN_CHUNK_CURSOR_START before the first): every row
   up to it is final. It runs outside any transaction (except with single_txn) and may
   write to the database itself. */
typedef void (*msn_chunk_progress_fn)(void *ud, int64_t processed, int64_t total, int64_t cursor);

typedef struct {
    int64_t max_id;    /* the snapshot */
    int64_t total;     /* rows in scope at the start (see contract 5) */
    int64_t processed; /* rows processed by committed chunks */
    int64_t chunks;    /* committed chunks that processed rows */
    int64_t cursor;    /* where the last committed chunk left the cursor */
    int64_t rejected;  /* rows reported by committed chunks and left unchanged */
} msn_chunk_result_t;

/* Called inside a chunk's transaction before COMMIT (see above); returning -1 with err
   set rolls the chunk back and ends the loop with -EIO. */
typedef int (*msn_chunk_checkpoint_fn)(sqlite3 *db, void *ud, const msn_chunk_result_t *state, char *err,
                                       size_t errlen);

typedef struct {
    int batch_size;                 /* rows per chunk, > 0 */
    int yield_ms;                   /* sleep between chunks, >= 0 */
    volatile sig_atomic_t *stop;    /* non-zero = stop at the next chunk boundary; may be NULL */
    msn_chunk_progress_fn progress; /* may be NULL */
    void *progress_ud;
    msn_chunk_checkpoint_fn checkpoint; /* may be NULL */
    void *checkpoint_ud;
    const msn_chunk_result_t *resume; /* the state of an interrupted run to continue, or NULL */
    int single_txn;                 /* test knob: one transaction for the whole run */
} msn_chunk_opts_t;

/** Runs the loop on db (a read-write connection outside any transaction).
 *  Returns 0 when no row in scope is left, -ECANCELED when *opts->stop became non-zero
 *  (err = "cancelled"; also when a chunk failed once the flag was set, as a statement
 *  interrupted by a progress handler does: that chunk is rolled back), -EINVAL for bad options, or -EIO when a statement or callback
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
