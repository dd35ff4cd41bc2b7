/*
 * publisher.h: the master's publisher thread: it loads SQLite into the store, publishes
 * the first generation, then polls for new rows every poll_interval_ms and publishes
 * what changed. A finished backfill migration (status block) triggers a full reload,
 * since backfills change old rows that polling by id does not see.
 *
 * The thread owns the SQLite connection, the store and the LMDB writer environment;
 * nothing else in the master touches them. The supervisor talks to it only through the
 * atomic flags in msn_publisher_thread_t.
 */
#ifndef MSN_PUBLISHER_H
#define MSN_PUBLISHER_H

#include <pthread.h>
#include <stdatomic.h>

#include "shm/config.h"
#include "shm/status.h"

typedef struct {
    const msn_config_t *cfg;       /* points at cfg_copy: the thread's own copy */
    msn_config_t cfg_copy;
    msn_status_t *st;
    int64_t started_at_ms;
    pthread_t thread;
    atomic_int stop;               /* set by the supervisor to end the thread */
    atomic_int reader_check;       /* set after a worker died: clear its stale LMDB reader slot */
    atomic_int running;
    atomic_int poll_interval_ms;   /* set at start, updated by a reload */
} msn_publisher_thread_t;

/** Starts the thread on a copy of cfg (the caller may change or free its own). Returns 0, or -errno. */
int msn_publisher_start(msn_publisher_thread_t *pt, const msn_config_t *cfg, msn_status_t *st,
                        int64_t started_at_ms);
/** Asks the thread to stop and joins it. */
void msn_publisher_stop(msn_publisher_thread_t *pt);

#endif
