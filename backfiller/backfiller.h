/*
 * backfiller.h: the backfiller process, the only process that writes SQLite.
 *
 * The daemon runs it as a child (`meshsnapd --role backfiller`, msn_backfiller_main). It opens the database
 * read-write, makes sure `_async_migrations` exists with its progress columns, and runs
 * the registered migrations (migrations.h) in order, each in bounded chunks with pauses
 * so readers and CoreScope's own ingestor keep getting the database. Progress goes to
 * `_async_migrations` (≤ 1 write/s) and to the backfill section of the status block,
 * which the master and the workers read; a log line is written at least every 10 s while
 * rows are being processed.
 *
 * Exit protocol with the master:
 *   MSN_BF_EXIT_DONE (0)     every migration is done; do not restart
 *   MSN_BF_EXIT_FAILED (1)   a migration failed (recorded as failed) or the database
 *                            could not be opened; restart with backoff (done ones are
 *                            skipped, failed ones resume)
 *   MSN_BF_EXIT_STOPPED (2)  *stop became non-zero: the current chunk finished, the
 *                            running migration is recorded as failed "cancelled" (never
 *                            done) and resumes on the next start
 *
 * Test knob: with MESHSNAP_BACKFILL_SINGLE_TXN=1 in the environment, every chunked
 * backfill runs as a single transaction (batch size unlimited, no pause), the way a naive
 * implementation would. It exists so that tests and benchmarks can show what chunking
 * prevents (a writer or the master's poll stalled for the whole backfill); it is logged
 * as a warning and must never be set in production.
 */
#ifndef MSN_BACKFILLER_H
#define MSN_BACKFILLER_H

#include <signal.h>
#include <stddef.h>

#include <sqlite3.h>

#include "shm/config.h"
#include "shm/status.h"

#define MSN_BF_EXIT_DONE 0
#define MSN_BF_EXIT_FAILED 1
#define MSN_BF_EXIT_STOPPED 2

/** The backfiller process (`meshsnapd --role backfiller`), called by the daemon's entry
 *  point after the configuration is parsed: sets the log role and process title, lowers
 *  its CPU priority, installs its signal handlers (SIGTERM/SIGINT stop at a chunk
 *  boundary; SIGPIPE, SIGUSR1 and SIGHUP are ignored), maps the status block (running
 *  without one when it is missing, with a warning) and runs msn_backfiller_run.
 *  Returns one of MSN_BF_EXIT_*, the process exit status. */
int msn_backfiller_main(const msn_config_t *cfg);

/** Runs the backfiller to completion in the calling process.
 *  cfg: uses db, backfill.batch_size and backfill.yield_ms. st: the mapped status block,
 *  or NULL (no mirroring). stop: set non-zero by the caller's SIGTERM/SIGINT handler;
 *  checked before each chunk and during the pauses. The caller sets the log role and the
 *  signal handlers. Returns one of MSN_BF_EXIT_*. */
int msn_backfiller_run(const msn_config_t *cfg, msn_status_t *st, volatile sig_atomic_t *stop);

/** What msn_backfiller_run does once the database is open: creates the current schema
 *  in a database with no tables, makes sure the bookkeeping tables exist, and runs every
 *  registered migration in order on db (a read-write connection, outside any
 *  transaction; not closed). For tests that need a connection with particular settings
 *  (read-only, PRAGMA max_page_count). Returns one of MSN_BF_EXIT_*. */
int msn_backfiller_run_db(sqlite3 *db, const msn_config_t *cfg, msn_status_t *st, volatile sig_atomic_t *stop);

#endif
