/*
 * pubstep.h: the publisher thread's work, as a step function over one context.
 *
 * The thread (publisher.c) calls msn_pub_step in a loop and sleeps when told to. Each
 * step gathers its inputs (the clock, the supervisor's flags, the backfill section of the
 * status block, and SQLite's PRAGMA data_version when a poll is due), decides the one
 * thing to do next (msn_pub_decide: a pure function of the context and the inputs), and
 * does it. The first row that applies wins:
 *
 *   action       when                                          does
 *   STOP         the supervisor asked to stop                  nothing: the thread ends
 *   READERS      a worker died (and a snapshot is open)        clears stale LMDB reader slots
 *   OPEN         no connection, and its retry time came        opens SQLite read-only
 *                (1 s after a failed open or poll, 2 s after
 *                a failed full load)
 *   FULL_LOAD    nothing loaded yet; an incremental            loads everything into a fresh store,
 *                publication or a reload failed; or a          publishes a full generation, makes
 *                migration whose effects touch the store       every analytic due (a reload frees
 *                (MSN_MIG_AFFECTS_STORE) changed rows and      the loaded store first: the snapshot
 *                ended after the last load (in the status      is served meanwhile, and the master
 *                block now, or noted by an earlier step:       never holds two stores)
 *                reload_pending), and no migration ran for
 *                1 s (or the running one reported no
 *                progress for 30 s)
 *   TAKE_PATHS   a running migration that affects resolved     re-reads resolved_path up to its
 *                paths (MSN_MIG_AFFECTS_RESOLVED_PATH)         cursor, makes the path analytics
 *                reports a cursor past what the store holds,   due, polls at once
 *                and [backfill] republish_interval_s passed
 *                since the last take-in (or full load)
 *   POLL         poll time (poll_interval_ms after the last),  reads new rows, re-reads nodes
 *                and data_version moved, results wait to be    and observers, publishes what
 *                published (analytics, a take-in), or nodes    changed
 *                and observers were re-read 10 s ago or more
 *   COUNTS       poll time, none of the above                  refreshes the status counters
 *   ANALYTICS    a store is loaded, every 50 ms                msn_ansched_tick: collects results,
 *                                                              starts computations; new results
 *                                                              make the poll due at once; the same
 *                                                              for entity documents (entdocs.h)
 *   SLEEP        nothing is due                                nothing: the caller sleeps
 *
 * Before each step, at most every MSN_PUB_DB_CHECK_MS, the file at the database path is
 * compared with the one the connection reads (device and inode): when it was deleted or
 * replaced, the connection is closed, the status block says so (db_state, db_changes; the
 * supervisor restarts the backfiller on it), and the next steps reopen the path and load
 * it in full. Until then the last snapshot stays served.
 *
 * Damaged snapshots, also before each step: an earlier run's snapshot that `current`
 * points at when nothing is published yet is checked in full in a child (snapcheck.h);
 * a worker that found a value failing its checksum reports the environment it read
 * (status damage_env_seq). A damaged environment that is still current is set aside
 * (msn_snap_set_aside: renamed, kept, `current` removed, env_seq bumped so the workers
 * let go of it), and when it was the master's own the next step loads and publishes in
 * full. One that cannot even be opened at start is set aside by msn_pubctx_init.
 *
 * The context owns the SQLite connection, the store, the LMDB publisher and the
 * analytics scheduler (and with it the computing process, which this thread alone forks
 * and reaps: child.h); only the thread running the steps touches them.
 */
#ifndef MSN_PUBSTEP_H
#define MSN_PUBSTEP_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ansched.h"
#include "entdocs.h"
#include "nodedocs.h"
#include "publish.h"
#include "snapcheck.h"
#include "shm/config.h"
#include "shm/status.h"
#include "store.h"

#define MSN_PUB_SLICE_MS 50           /* analytics tick period, and the longest sleep */
#define MSN_PUB_SMALL_RELOAD_MS 10000 /* re-read nodes and observers at least this often */
#define MSN_PUB_STALL_MS 30000        /* a running migration silent this long no longer holds a reload */
#define MSN_PUB_SETTLE_MS 1000        /* no migration ran for this long: the run is over, reload */
#define MSN_PUB_DB_CHECK_MS 1000      /* how often the database path is checked for a new file */

/* What the supervisor thread may change while the steps run. */
typedef struct {
    atomic_int stop;             /* end the steps (STOP); also stops a full load between chunks */
    atomic_int reader_check;     /* a worker died: clear its stale LMDB reader slot */
    atomic_int poll_interval_ms; /* set at start, updated by a reload of the configuration */
} msn_pubctl_t;

typedef enum {
    MSN_PUB_STOP = 0,
    MSN_PUB_READERS,
    MSN_PUB_OPEN,
    MSN_PUB_FULL_LOAD,
    MSN_PUB_TAKE_PATHS,
    MSN_PUB_POLL,
    MSN_PUB_COUNTS,
    MSN_PUB_ANALYTICS,
    MSN_PUB_SLEEP,
} msn_pub_action_t;

/* The inputs of one decision. */
typedef struct {
    int64_t now_ms;
    int stop;                 /* ctl->stop */
    int reader_check;         /* ctl->reader_check */
    int64_t data_version;     /* PRAGMA data_version when a poll is due, else -1 (unknown: poll) */
    msn_backfill_status_t bf; /* the backfill section of the status block */
} msn_pub_in_t;

/* A decision. */
typedef struct {
    msn_pub_action_t action;
    int mig;      /* FULL_LOAD because of a migration, TAKE_PATHS: its index in bf.mig; else -1 */
    int sleep_ms; /* SLEEP: nothing is due sooner (1..MSN_PUB_SLICE_MS) */
} msn_pub_plan_t;

typedef struct {
    const msn_config_t *cfg; /* not owned: outlives the context */
    msn_status_t *st;        /* not owned: the status block (master section written here) */
    msn_pubctl_t *ctl;       /* not owned */
    sqlite3 *db;             /* read-only connection; NULL until opened and after an error */
    msn_store_t store;
    msn_publisher_t pub; /* pub.an and pub.feed point at an and feed: the context must not move after init */
    msn_ansched_t an;
    msn_entdocs_t ent;     /* entity documents (pub.ent points at it) */
    msn_nodedocs_t nodes;  /* the node kind of ent */
    msn_feedpub_t feed;  /* the live feed's messages (feedpub.h) */
    int loaded;                /* a full load was published */
    int rebuild;               /* an incremental publication failed: load in full */
    int store_dropped;         /* a reload freed the store before reading the new one and has
                                  not succeeded yet: nothing to compute from, load in full */
    int reload_pending;        /* a migration that changed the store's data finished after the load */
    int poll_now;              /* results wait to be published (analytics, resolved paths) */
    int64_t loaded_at_ms;      /* wall clock when the last full load began */
    int64_t paths_to;          /* resolved paths of observations up to this id are in the store */
    int64_t last_paths_ms;     /* the last take-in of resolved paths (or full load) */
    int64_t last_data_version; /* at the last poll; -1 none */
    int64_t last_small_ms;     /* nodes and observers last re-read */
    int64_t next_poll_ms;
    int64_t next_tick_ms;    /* analytics */
    int64_t retry_ms;        /* no connection: open again from this time */
    int64_t last_err_log_ms; /* "cannot open the database" logged at most every 30 s */
    int64_t announced_ms;    /* finished migrations up to this end time were noted */
    /* the identity of the database file the connection reads (checked every
       MSN_PUB_DB_CHECK_MS: a file deleted or replaced at the path is reopened and reloaded) */
    int db_known;
    uint64_t db_dev, db_ino;
    int64_t next_db_check_ms;
    /* damaged snapshots (shm/snapshot.h): the check of an earlier run's snapshot at start,
       and the reports of workers that found a value failing its checksum */
    msn_snapcheck_t check;
    int check_started;
    uint64_t damage_seen; /* status damage_reports as last handled */
} msn_pubctx_t;

/** Initialises c (nothing loaded, no connection: the first steps open and load).
 *  cfg, st and ctl must outlive c; c must not be moved afterwards. */
void msn_pubctx_init(msn_pubctx_t *c, const msn_config_t *cfg, msn_status_t *st, msn_pubctl_t *ctl,
                     int64_t started_at_ms);
/** Closes the connection, kills a running analytics computation, frees everything c owns. */
void msn_pubctx_free(msn_pubctx_t *c);

/** Decides the next action from c and in (see the table above). Pure: changes nothing. */
msn_pub_plan_t msn_pub_decide(const msn_pubctx_t *c, const msn_pub_in_t *in);

/** One step at now_ms: gathers the inputs, decides, and carries the action out (errors are
 *  logged and shown in the status block; the next steps retry). Returns what it did.
 *  Publisher thread only. */
msn_pub_plan_t msn_pub_step(msn_pubctx_t *c, int64_t now_ms);

/** The action's name ("full_load", ...), for logs and tests. */
const char *msn_pub_action_name(msn_pub_action_t a);

#endif
