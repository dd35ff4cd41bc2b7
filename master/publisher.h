/*
 * publisher.h: the master's publisher thread: it loads SQLite into the store, publishes
 * the first generation, then polls for new rows every poll_interval_ms and publishes
 * what changed. A finished backfill migration that changed what the store holds (its
 * effects in the status block) triggers a full reload, since backfills change old rows
 * that polling by id does not see. What it does when is the step function of pubstep.h;
 * this thread runs the steps and sleeps between them.
 *
 * The thread owns the SQLite connection, the store, the LMDB writer environment and the
 * analytics computing process (child.h); nothing else in the master touches them. The
 * supervisor talks to it only through the atomic flags in msn_publisher_thread_t.ctl.
 */
#ifndef MSN_PUBLISHER_H
#define MSN_PUBLISHER_H

#include <pthread.h>

#include "pubstep.h"
#include "shm/config.h"
#include "shm/status.h"

typedef struct {
    msn_config_t cfg; /* the thread's own copy */
    msn_status_t *st;
    int64_t started_at_ms;
    pthread_t thread;
    msn_pubctl_t ctl; /* written by the supervisor, read by the steps */
    atomic_int finished; /* set by the thread as its last act: it can be joined without waiting */
} msn_publisher_thread_t;

/** Starts the thread on a copy of cfg (the caller may change or free its own). Returns 0, or -errno. */
int msn_publisher_start(msn_publisher_thread_t *pt, const msn_config_t *cfg, msn_status_t *st,
                        int64_t started_at_ms);
/** Asks the thread to stop, without waiting: a full load in progress ends at its next
 *  chunk, a full publication at its next thousand transmissions (its environment is
 *  discarded), an analytics computation is killed. */
void msn_publisher_request_stop(msn_publisher_thread_t *pt);
/** 1 once the thread has finished (after a stop request), so that msn_publisher_stop
 *  returns at once. */
int msn_publisher_finished(msn_publisher_thread_t *pt);
/** Asks the thread to stop and joins it. */
void msn_publisher_stop(msn_publisher_thread_t *pt);

#endif
