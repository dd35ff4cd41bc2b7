/*
 * handoff.h: slots handed between one producer thread and one consumer thread.
 *
 * Each slot has a `ready` flag of its own, read and written only under the hand-off's
 * mutex: the producer fills a slot whose flag is 0 and sets it; the consumer reads a slot
 * whose flag is set and clears it to give the slot back. The mutex also orders what was
 * written into the slot before its flag. Used by the full load's observation reader
 * (store.c) and the full publication's render thread (pubrender.c).
 */
#ifndef MSN_HANDOFF_H
#define MSN_HANDOFF_H

#include <pthread.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t filled, freed;
    int quit; /* the consumer asked the producer to stop */
} msn_handoff_t;

void msn_handoff_init(msn_handoff_t *h);
void msn_handoff_destroy(msn_handoff_t *h);

/** Producer: waits until *ready is 0. Returns 0, or -1 once the consumer asked to stop
 *  (msn_handoff_quit). */
int msn_handoff_wait_free(msn_handoff_t *h, const int *ready);

/** Producer: sets *ready (the slot is filled) and wakes the consumer. */
void msn_handoff_fill(msn_handoff_t *h, int *ready);

/** Consumer: waits until *ready is set. */
void msn_handoff_wait_filled(msn_handoff_t *h, const int *ready);

/** Consumer: clears *ready (the slot is given back) and wakes the producer. */
void msn_handoff_give_back(msn_handoff_t *h, int *ready);

/** Consumer: asks the producer to stop, waking it if it waits for a free slot. */
void msn_handoff_quit(msn_handoff_t *h);

#endif
