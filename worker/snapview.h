/*
 * snapview.h: a worker's view of the snapshot: the environment `current` points at,
 * reopened between requests when the master publishes a new environment (status
 * env_seq), and one reusable read transaction per request.
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
} msn_snapview_t;

/** Initialises the view (no environment opened yet). */
void msn_snapview_init(msn_snapview_t *v, const char *state_dir, msn_status_t *st);
/** Begins the read transaction of one request, reopening the environment first if the
 *  master switched it. Returns 0 with v->txn active, or 1 when no snapshot can be served
 *  (none exists, or v->refused says why the existing one is not served). */
int msn_snapview_begin(msn_snapview_t *v);
/** Ends the request's read transaction (keeps it for renewal). */
void msn_snapview_end(msn_snapview_t *v);
/** Closes everything. */
void msn_snapview_close(msn_snapview_t *v);

#endif
