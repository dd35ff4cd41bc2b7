/*
 * sqlw.h: the writer discipline every process that writes SQLite follows (the ingestor,
 * the backfiller's chunk loop, `meshsnap import`): short write transactions, so that two
 * writers never hold the database against each other for long and the master's polls and
 * CoreScope's readers always get through.
 *
 *  - A transaction starts with BEGIN IMMEDIATE (the write lock at once, never a deadlock
 *    between two writers upgrading read locks). SQLITE_BUSY is retried: each attempt waits
 *    the connection's busy timeout (msn_sqlite_open sets 5000 ms), and after busy_retries
 *    attempts the caller gets an error. The first wait is logged once.
 *  - It ends after at most batch_max items or batch_ms milliseconds, whichever comes
 *    first (msn_sqlw_due): a batch never grows without bound, whatever the input rate.
 *    The backfiller counts rows, the ingestor packets, the importer input lines.
 *  - COMMIT is retried on SQLITE_BUSY as BEGIN is; any other failure rolls back.
 *  - Every commit is timed: the hold time (BEGIN to the end of COMMIT) and the COMMIT
 *    statement itself, kept in a small histogram for p50/p99 (msn_sqlw_quantile_us).
 *  - Checkpoints, optionally apart from the commits (msn_sqlw_own_checkpoints): SQLite
 *    checkpoints the WAL inside the COMMIT statement that takes it past 1000 pages, which
 *    delays whatever the caller does after the commit (the ingestor's acknowledgements)
 *    and shows in the hold time although no lock is held then. With own checkpoints the
 *    connection's automatic checkpoint is off and the caller runs msn_sqlw_checkpoint
 *    when it suits it: a PASSIVE checkpoint (it never waits on a reader or a writer) once
 *    the WAL holds MSN_SQLW_CHECKPOINT_PAGES or more, timed on its own.
 *
 * Defaults (msn_sqlw_defaults): batch_max 2000, batch_ms 50, busy_retries 24 (two minutes
 * at the 5 s busy timeout). The ingestor takes them from [mqtt] batch_size / batch_ms, the
 * backfiller from [backfill] batch_size (its chunks are bounded by rows).
 *
 * Ownership: the caller owns the connection; msn_sqlw_t borrows it. One thread.
 */
#ifndef MSN_SQLW_H
#define MSN_SQLW_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define MSN_SQLW_CHECKPOINT_PAGES 1000 /* SQLite's own automatic checkpoint threshold */
#define MSN_SQLW_BUCKETS 64 /* commit-latency bucket i holds [2^(i/3), 2^((i+1)/3)) microseconds */

typedef struct {
    int batch_max;    /* items per transaction, >= 1 */
    int batch_ms;     /* longest a transaction stays open collecting items, >= 1 */
    int busy_retries; /* BEGIN/COMMIT attempts that may each wait the busy timeout, >= 1 */
} msn_sqlw_opts_t;

typedef struct {
    sqlite3 *db;
    msn_sqlw_opts_t o;
    int in_txn;
    int items;          /* items in the open transaction */
    int64_t began_us;   /* monotonic time BEGIN returned */
    /* statistics since msn_sqlw_init */
    int64_t commits, rollbacks, busy_waits, items_committed;
    int64_t last_hold_us, last_commit_us;
    uint64_t hold_hist[MSN_SQLW_BUCKETS];
    /* own checkpoints (msn_sqlw_own_checkpoints) */
    int own_checkpoints;
    int wal_pages;      /* pages in the WAL after the last commit (SQLite's WAL hook) */
    int64_t checkpoints, last_checkpoint_us;
} msn_sqlw_t;

/** The defaults above. */
void msn_sqlw_defaults(msn_sqlw_opts_t *o);

/** Prepares w for writes on db (not in a transaction). Options out of range are clamped
 *  to their minimum. */
void msn_sqlw_init(msn_sqlw_t *w, sqlite3 *db, const msn_sqlw_opts_t *o);

/** BEGIN IMMEDIATE unless a transaction is open. Returns 0, or -1 with err set (SQLITE_BUSY
 *  beyond busy_retries attempts, or another error). */
int msn_sqlw_begin(msn_sqlw_t *w, char *err, size_t errlen);

/** Counts n items written in the open transaction. */
void msn_sqlw_add(msn_sqlw_t *w, int n);

/** 1 when the open transaction is due to commit: batch_max items, or batch_ms since BEGIN.
 *  0 when none is open. */
int msn_sqlw_due(const msn_sqlw_t *w);

/** Milliseconds until the open transaction is due by time (0 when due or none is open). */
int msn_sqlw_ms_left(const msn_sqlw_t *w);

/** COMMIT the open transaction (no-op when none is open) and record its times. On failure
 *  the transaction is rolled back. Returns 0, or -1 with err set. */
int msn_sqlw_commit(msn_sqlw_t *w, char *err, size_t errlen);

/** Rolls back the open transaction, if any. */
void msn_sqlw_rollback(msn_sqlw_t *w);

/** Turns the connection's automatic checkpoint off: from now on the caller checkpoints
 *  with msn_sqlw_checkpoint. w must stay at its address until msn_sqlw_release (SQLite's
 *  WAL hook points at it). */
void msn_sqlw_own_checkpoints(msn_sqlw_t *w);

/** With own checkpoints, outside a transaction, and when the WAL holds at least
 *  MSN_SQLW_CHECKPOINT_PAGES: a PASSIVE checkpoint, counted and timed. Returns 1 when one
 *  ran, 0 when none was due, -1 on an error (logged; the next call tries again). */
int msn_sqlw_checkpoint(msn_sqlw_t *w);

/** Gives the connection its automatic checkpoint back (after own checkpoints); w may then
 *  go. No-op otherwise. */
void msn_sqlw_release(msn_sqlw_t *w);

/** The q-quantile (0 < q <= 1) of the hold times recorded so far, in microseconds (the
 *  upper bound of its histogram bucket); 0 when nothing was committed. */
int64_t msn_sqlw_quantile_us(const msn_sqlw_t *w, double q);

#endif
