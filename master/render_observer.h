/*
 * render_observer.h: the /api/observers/:id document of one observer, rendered by the
 * publisher into the entity document "observer/<id>" (shm/snapkey.h).
 */
#ifndef MSN_RENDER_OBSERVER_H
#define MSN_RENDER_OBSERVER_H

#include <stdint.h>

#include "shm/buf.h"
#include "store.h"

/** Appends the observer object (CoreScope's handleObserverDetail at now_ms). */
void msn_render_observer_detail(msn_buf_t *b, const msn_observer_t *o, int64_t now_ms);

#endif
