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
 *
 * Holds: msn_snapview_hold() keeps the request's read transaction past the request (a
 * stored document sent from the map, respond.h) and gives the view a fresh one. A held
 * transaction keeps its environment open: when the view moves to another environment
 * (env_seq moved, or damage), the old one is closed only when its last hold is released.
 * The map is not remapped while a hold uses it: should the master have grown it, requests
 * are answered as without a snapshot until the holds end. Each hold uses one reader slot
 * of the environment's table (MSN_SNAP_MAXREADERS, shared by every process) and pins the
 * pages it can see (the master cannot reuse them): the caller bounds how many it takes
 * and for how long.
 *
 * Closing: an environment the view leaves is closed on a thread of its own (envclose.h),
 * never on the caller's: its last close may free a whole snapshot's blocks. LMDB allows one
 * open of an environment per process, so should `current` name the directory the view left
 * when it opens again, it waits for that close first, or serves again the handle a hold
 * still keeps open.
 */
#ifndef MSN_SNAPVIEW_H
#define MSN_SNAPVIEW_H

#include <stdint.h>

#include "shm/snapshot.h"
#include "shm/status.h"

/* A read transaction held past its request. */
typedef struct msn_snaphold {
    MDB_txn *txn;                     /* active; what was read in it stays valid until released */
    MDB_env *env;                     /* its environment (maybe no longer the view's) */
    struct msn_snaphold *prev, *next; /* the view's list */
} msn_snaphold_t;

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
    uint32_t damage;   /* values that failed their checksum (counted by the lookups) */
    int damaged;       /* the environment of damaged_seq is damaged: not opened again */
    uint64_t damaged_seq;
    msn_snap_t parked;     /* the environment last left while a hold still used it (env NULL
                              once its last hold is released): served again, not opened
                              twice, should `current` name it once more */
    char left[4096];       /* the directory name of the environment last handed to the
                              closing thread ("" before any) */
    msn_snaphold_t *holds; /* the held transactions (msn_snapview_hold) */
    int n_holds;
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
/** Holds the request's read transaction (v->txn, active) past the request: the returned
 *  hold owns it, so every pointer read in it stays valid until msn_snapview_release;
 *  the view gets a fresh transaction (not active: msn_snapview_end does nothing for this
 *  request). Returns NULL (nothing changed) when no transaction is active or no fresh one
 *  can be had (e.g. the reader table is full). */
msn_snaphold_t *msn_snapview_hold(msn_snapview_t *v);
/** Ends a held transaction (frees its reader slot) and closes its environment when the
 *  view has moved to another one and this was its last hold. h is freed. */
void msn_snapview_release(msn_snapview_t *v, msn_snaphold_t *h);
/** Closes everything, the held transactions included (their holders must not use them
 *  again), and waits until every environment the view left is closed. */
void msn_snapview_close(msn_snapview_t *v);

#endif
