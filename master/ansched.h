/*
 * ansched.h: when the master computes which analytics, and the published results.
 *
 * Every analytic is recomputed on its own interval ([analytics] in the configuration) in
 * the shapes dashboards ask for (precomputed shapes): the default, each region seen in
 * observers.iata, the windows 1h, 24h, 7d, 30d (for the analytics that take them; 1h and
 * 7d beside the default 24h for scope-stats), and per parameter value: each observer's
 * analytics over 1, 3, 7 and 30 days, and the metrics summary over the dashboard's windows
 * (1h, 3h, 6h, 12h, 24h, 3d, 7d, 30d) for every region. Any other shape a client asks for
 * reaches the master through the status block's shape ring; it is computed at once, then
 * kept fresh on the analytic's interval while clients keep asking, and dropped after
 * [analytics] shape_idle_s without a request. Only shapes in normal form (shm/anshape.h)
 * are taken, and at most [analytics] max_shapes on-demand shapes are kept: a new one
 * beyond that evicts the least recently asked (its document is deleted from the snapshot;
 * LMDB reuses the freed pages, and a full rebuild writes a compact new environment), so
 * neither the master's memory nor the state directory grows with the number of distinct
 * shapes clients invent. A precomputed shape that no longer applies (its observer or
 * region is gone) is dropped with its document. A shape whose data changed (an observer's
 * analytics once that observer's counters moved, the metrics summary once new metrics rows
 * arrived) is recomputed without waiting for its interval, at most every
 * MSN_ANSCHED_CHANGED_MS. Computations run in a forked child (anrun.h); a failed one keeps
 * the previous result published and is counted in the status block. A result identical to
 * the published one is not written again.
 *
 * The results live here (owned copies) and are written into every snapshot generation
 * (msn_ansched_write), so a full rebuild keeps them.
 */
#ifndef MSN_ANSCHED_H
#define MSN_ANSCHED_H

#include <lmdb.h>
#include <stdint.h>

#include "anrun.h"
#include "shm/config.h"
#include "shm/snapshot.h"
#include "shm/status.h"
#include "store.h"

#define MSN_ANSCHED_CHANGED_MS 15000 /* recompute a shape whose data changed at most this often */

typedef struct {
    int an;
    char key[MSN_ANSHAPE_KEY_MAX];
    char name[MSN_ANSHAPE_KEY_MAX + 40];
    char *body, *gz; /* owned; NULL until first computed */
    size_t len, gz_len;
    int64_t published_at, last_requested_ms;
    int on_demand;   /* asked for by a client (else precomputed) */
    uint32_t kept;   /* precomputed: the last pass over the precomputed shapes that named it */
    uint64_t sig;          /* a signature of the data it reads (0 = none kept): its observer's counters... */
    uint64_t sig_computed; /* ...as it was when the last computation started */
    int64_t computed_ms;   /* when the last computation started */
    int dirty;       /* to be written into the snapshot */
    int pending;     /* in the running child's jobs */
} msn_ancache_ent_t;

typedef struct {
    const msn_config_t *cfg;
    msn_status_t *st;
    msn_ancache_ent_t *ents;
    int n, cap;
    uint32_t *ht;    /* open addressing over (an, key): entry index + 1, 0 = empty */
    uint32_t ht_cap;
    uint32_t pass;   /* passes over the precomputed shapes */
    int64_t last_pass_ms; /* the last pass (one a second at most: it walks every observer) */
    char **deleted; /* document names to delete from the snapshot */
    int n_deleted;
    int n_on_demand;          /* entries with on_demand set */
    int64_t evicted;          /* on-demand shapes evicted to stay within max_shapes */
    int64_t next_due[MSN_AN_COUNT];
    int force_path_analytics; /* recompute path-dependent analytics at the next tick */
    msn_anrun_t run;
    uint64_t ring_tail;
} msn_ansched_t;

/** Initialises the scheduler (all analytics due at the first tick). */
void msn_ansched_init(msn_ansched_t *a, const msn_config_t *cfg, msn_status_t *st);
/** Frees the results and kills a running child. */
void msn_ansched_free(msn_ansched_t *a);
/** Takes shape requests, collects a finished run, starts a new one when work is due.
 *  Returns 1 when results changed (a publication should follow), else 0. Cheap when idle:
 *  call it often. */
int msn_ansched_tick(msn_ansched_t *a, const msn_store_t *s, int64_t now_ms);
/** Makes every analytic due now (after a reload of the store). */
void msn_ansched_all_due(msn_ansched_t *a);
/** Makes the analytics that depend on resolved paths (topology, distance, subpaths) due now. */
void msn_ansched_paths_due(msn_ansched_t *a);
/** Writes the dirty results (or all of them when force) and pending deletions into txn.
 *  Returns an LMDB error code; *wrote is set when something was written. */
int msn_ansched_write(msn_ansched_t *a, MDB_txn *txn, const msn_snap_t *snap, uint64_t gen, int64_t now_ms,
                      int force, int *wrote);
/** Marks everything written (after the transaction committed). */
void msn_ansched_committed(msn_ansched_t *a);

#endif
