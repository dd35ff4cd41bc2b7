/*
 * async_migrations.h: the `_async_migrations` bookkeeping table (data-model spec §5.3)
 * and its mirror in the shared status block.
 *
 *   CREATE TABLE _async_migrations (name TEXT PRIMARY KEY, status TEXT NOT NULL,
 *     started_at TEXT NOT NULL DEFAULT (datetime('now')), ended_at TEXT, error TEXT,
 *     rows_processed INTEGER NOT NULL DEFAULT 0, rows_total INTEGER NOT NULL DEFAULT 0,
 *     last_update_at TEXT)
 *
 * status is 'pending_async' (running or interrupted), 'done' or 'failed'. started_at and
 * ended_at use SQLite's datetime('now') form ("YYYY-MM-DD HH:MM:SS", UTC); last_update_at
 * is RFC3339 ("YYYY-MM-DDTHH:MM:SSZ"). CoreScope's ingestor shares this table and these
 * names, so either program may finish a migration the other started.
 *
 * Life of one run (msn_amig_run):
 *   row 'done'                      -> skipped, fn not called
 *   row 'pending_async' or 'failed' -> reset: pending_async, ended_at and error NULL,
 *                                      last_update_at NULL; started_at now and rows 0, or,
 *                                      when a resume state exists (below), the rows of
 *                                      that state and started_at moved back by the time
 *                                      the earlier runs spent
 *   no row                          -> inserted as pending_async
 *   fn succeeds                     -> done, ended_at now, error NULL
 *   fn fails or is stopped          -> failed, ended_at now, error = message ("cancelled"
 *                                      for a stop); never done, so the next run resumes
 * Every state is mirrored into the status block (when one is given): MSN_MIG_RUNNING
 * while pending_async, times as unix ms.
 *
 * Resume state. Chunked backfills record, inside each chunk's transaction, where they
 * are (msn_amig_checkpoint: max_id snapshot, cursor, processed, total, rejected rows,
 * time spent) in meshsnap's own table
 *
 *   CREATE TABLE _meshsnap_backfill (name TEXT PRIMARY KEY, max_id INTEGER NOT NULL,
 *     cursor INTEGER NOT NULL, processed INTEGER NOT NULL, total INTEGER NOT NULL,
 *     rejected INTEGER NOT NULL DEFAULT 0, active_ms INTEGER NOT NULL DEFAULT 0,
 *     updated_at TEXT)
 *
 * so the state is exactly that of the last committed chunk, whatever ended the process
 * (SIGTERM, kill -9, power loss). The next run continues from it (msn_amig_resume): same
 * snapshot, same total, rows_processed carrying on, so a user's progress never goes
 * backwards across restarts and rate = processed / elapsed stays the real throughput.
 * Rows a run rejected are recorded in _meshsnap_skipped (migrations_int.h) and stay
 * skipped; their count carries on with the state. A migration may keep the state of one
 * of its parts under "<name>/<part>" (msn_amig_part_*); every state of the migration is
 * deleted when it is done, or when its bookkeeping row was deleted to force a new run.
 *
 * Only the backfiller process uses this module; a handle belongs to one connection.
 */
#ifndef MSN_ASYNC_MIGRATIONS_H
#define MSN_ASYNC_MIGRATIONS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "backfiller/chunk_loop.h"
#include "shm/status.h"

/* One migration's bookkeeping during a run. Fields are private to async_migrations.c
   except where noted. */
typedef struct {
    sqlite3 *db;
    msn_status_t *st;            /* may be NULL */
    char name[48];
    msn_migration_status_t mirror;
    int64_t last_write_mono_ms;  /* rate limit of progress writes; 0 = none yet */
    int64_t last_log_mono_ms;    /* progress log lines; 0 = none yet */
    int64_t logged_processed, logged_total;
    int64_t write_failures;      /* in-loop progress writes that failed (logged, not fatal) */
    int has_resume;              /* resume holds the state of an interrupted run */
    msn_chunk_result_t resume;
    int64_t prior_active_ms;     /* time the earlier runs spent (resume) */
    int64_t run_start_mono_ms;   /* when this run began */
    volatile sig_atomic_t *stop; /* the run's stop flag (may be NULL): interrupts a statement */
} msn_amig_t;

/* What a migration gets when it runs. */
typedef struct {
    sqlite3 *db;                 /* read-write, outside any transaction */
    int batch_size;              /* rows per chunk */
    int yield_ms;                /* sleep between chunks */
    volatile sig_atomic_t *stop; /* may be NULL */
    int single_txn;              /* test knob (msn_chunk_opts_t.single_txn) */
    uint32_t effects;            /* MSN_MIG_AFFECTS_* (shm/migration_effects.h): published with its status */
    msn_amig_t *amig;            /* set by msn_amig_run: where progress goes; may be NULL */
} msn_mig_ctx_t;

/** A migration body. Returns 0 when complete, -ECANCELED when stopped at a chunk
 *  boundary, or another negative value on failure; err holds the message on failure. */
typedef int (*msn_mig_fn)(msn_mig_ctx_t *ctx, char *err, size_t errlen);

/** Creates _async_migrations when missing and adds any missing progress column
 *  (rows_processed, rows_total, last_update_at) with ALTER TABLE ADD COLUMN; creates
 *  _meshsnap_backfill when missing. Returns 0, or -1 with err set. */
int msn_amig_ensure_table(sqlite3 *db, char *err, size_t errlen);

/** Starts the bookkeeping of `name` (see the table above). Returns 1 when the migration
 *  is already done (the status block then shows it done; nothing else to do), 0 when the
 *  row is pending_async and the migration should run, or -1 with err set (the status
 *  block then shows it failed with that message). The status block shows no effects
 *  (msn_amig_run publishes ctx->effects). */
int msn_amig_begin(msn_amig_t *m, sqlite3 *db, msn_status_t *st, const char *name, char *err, size_t errlen);

/** Records progress. Non-terminal writes to the table are limited to one per second per
 *  handle (the status block is updated on every call); terminal=1 always writes. Returns
 *  0, or -1 with err set when the UPDATE fails or touches no row (the bookkeeping row is
 *  missing). Also logs a progress line at most every 10 s, and always when terminal. */
int msn_amig_progress(msn_amig_t *m, int64_t processed, int64_t total, int terminal, char *err, size_t errlen);

/** msn_chunk_progress_fn adapter (ud = msn_amig_t *): a non-terminal progress write whose
 *  failure is counted in write_failures and logged, never fatal. A cursor > 0 is
 *  published in the status block (msn_migration_status_t.cursor: rows up to it are final,
 *  which the master uses to take in a running backfill's results). */
void msn_amig_chunk_progress(void *ud, int64_t processed, int64_t total, int64_t cursor);

/** The state of the interrupted run to continue (for msn_chunk_opts_t.resume), or NULL
 *  when this run starts afresh (also when m is NULL). */
const msn_chunk_result_t *msn_amig_resume(const msn_amig_t *m);

/** msn_chunk_checkpoint_fn (ud = msn_amig_t *): writes the resume state of `name` inside
 *  the chunk's transaction. Returns 0, or -1 with err set. */
int msn_amig_checkpoint(sqlite3 *db, void *ud, const msn_chunk_result_t *state, char *err, size_t errlen);

/* The resume state of a part of a migration (a chunked pass inside a longer one, such as
   the duplicate pass of the schema upgrade), kept in _meshsnap_backfill as
   "<migration>/<part>". */
typedef struct {
    msn_amig_t *m; /* the migration's bookkeeping (may be NULL: no state kept) */
    char name[80]; /* "<migration>/<part>" */
} msn_amig_part_t;

/** Sets p up for part `part` of m's migration. */
void msn_amig_part_init(msn_amig_part_t *p, msn_amig_t *m, const char *part);
/** Reads the part's saved state into *out. Returns 1 when there is one, 0 when there is
 *  none (or m is NULL), -1 with err set on an SQL error. */
int msn_amig_part_load(const msn_amig_part_t *p, msn_chunk_result_t *out, char *err, size_t errlen);
/** msn_chunk_checkpoint_fn (ud = msn_amig_part_t *): saves the part's state inside the
 *  chunk's transaction. Returns 0, or -1 with err set. */
int msn_amig_part_checkpoint(sqlite3 *db, void *ud, const msn_chunk_result_t *state, char *err, size_t errlen);
/** Deletes the part's state (the part is complete). Returns 0, or -1 with err set. */
int msn_amig_part_drop(const msn_amig_part_t *p, char *err, size_t errlen);

/** Ends the run: error NULL marks it done (and drops its resume state), otherwise failed
 *  with that text (the resume state stays). The status block shows done only after the
 *  row says so; it shows a failure even when the row cannot be written. Returns 0, or -1
 *  with err set when the row could not be written (the caller then shows it as failed). */
int msn_amig_finish(msn_amig_t *m, const char *error, char *err, size_t errlen);

/** Runs one migration with the semantics above: begin, fn(ctx) with ctx->amig set,
 *  finish; every status write carries ctx->effects. Returns 0 when done (now or
 *  already), -ECANCELED when stopped (recorded as failed "cancelled"; a failure while the
 *  stop flag is set, such as an interrupted statement, counts as stopped), or -1 on
 *  failure (recorded as failed, message in err). */
int msn_amig_run(sqlite3 *db, msn_status_t *st, const char *name, msn_mig_fn fn, msn_mig_ctx_t *ctx, char *err,
                 size_t errlen);

/** An sqlite3_progress_handler callback (ud = msn_amig_t *) that msn_amig_run installs
 *  on the connection while the migration runs: when no progress line was logged for
 *  10 s (one statement or one chunk taking that long: counting the rows in scope, a big
 *  chunk), it logs "<name>: still working: processed / total rows". Once the stop flag
 *  is set it interrupts the running statement (returns 1: SQLITE_INTERRUPT), so that a
 *  stop never waits for a long chunk; the chunk is rolled back and the run ends as
 *  cancelled (it resumes from the last committed chunk). A body that installs its own
 *  handler re-installs this one afterwards. */
int msn_amig_sqlite_progress(void *ud);

/** Shows `name` as failed with `error` in the status block only (used when the database
 *  cannot be opened at all). No-op when st is NULL. */
void msn_amig_status_failed(msn_status_t *st, const char *name, const char *error);

#endif
