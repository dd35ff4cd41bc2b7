/*
 * snapview.h: a worker's view of the snapshot: the environment `current` points at,
 * reopened between requests when the master publishes a new environment (status
 * env_seq), and one reusable read transaction per request.
 *
 * Damage: the lookups count values that fail their checksum in v->damage (through
 * snap.damage). A request that met one is answered 503 (the worker checks the count
 * around each request) and msn_snapview_damaged() stops serving that environment: it is
 * closed, reported to the master (status damage_env_seq / damage_reports), and not
 * opened again until the master has made another one current (env_seq moved).
 */
#ifndef MSN_SNAPVIEW_H
#define MSN_SNAPVIEW_H

#include <stdint.h>

#include "shm/snapshot.h"
#include "shm/status.h"

typedef struct {
    const char *state_dir;
    msn_status_t *st;
    msn_snap_t snap; /* env NULL while there is no snapshot */
    MDB_txn *txn;    /* reset between requests */
    uint64_t env_seq;
    int64_t last_try_ms;
    int txn_active;
    char refused[512]; /* why the snapshot `current` points at is not served (another format,
                          damaged); "" when it is served or there is none. Logged once. */
    uint32_t damage;       /* values that failed their checksum (counted by the lookups) */
    int damaged;           /* the environment of damaged_seq is damaged: not opened again */
    uint64_t damaged_seq;
} msn_snapview_t;

/** Initialises the view (no environment opened yet). */
void msn_snapview_init(msn_snapview_t *v, const char *state_dir, msn_status_t *st);
/** Begins the read transaction of one request, reopening the environment first if the
 *  master switched it. Returns 0 with v->txn active, or 1 when no snapshot can be served
 *  (none exists, or v->refused says why the existing one is not served). */
int msn_snapview_begin(msn_snapview_t *v);
/** The environment being served is damaged (a value failed its checksum): ends the read
 *  transaction, closes it, reports it to the master, and answers as without a snapshot
 *  (v->refused says why) until the master makes another environment current. */
void msn_snapview_damaged(msn_snapview_t *v);
/** Ends the request's read transaction (keeps it for renewal). */
void msn_snapview_end(msn_snapview_t *v);
/** Closes everything. */
void msn_snapview_close(msn_snapview_t *v);

#endif
