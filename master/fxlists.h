/*
 * fxlists.h: which packet lists (the fx table, shm/snapkey.h msn_fx_kind_t) a
 * transmission is listed under: by itself (all, type, route, sender, channel) and through
 * each of its observations (observer, region, the nodes of its resolved path). The full
 * publication's render thread (pubrender.c) and the incremental publication (publish.c)
 * both take the lists from here, so the two always list a transmission alike.
 */
#ifndef MSN_FXLISTS_H
#define MSN_FXLISTS_H

#include <stddef.h>

#include "shm/snapkey.h"
#include "shm/snaprec.h"
#include "store.h"

/* Called once per list: kind and the value that names the list (len bytes; NULL and 0 for
   MSN_FX_ALL). A non-zero return stops the walk and is returned by it. The value of a
   type or route list points into rec (msn_fxlists_tx); the value of every other list is
   a string of the store (or of its key table), the same bytes at the same address for as
   long as the store does not change. */
typedef int (*msn_fxlists_cb)(void *ctx, msn_fx_kind_t kind, const void *value, size_t len);

/** The lists t is under by itself. rec: t's list entry (msn_snaprec_fx_make), whose
 *  normalised payload and route type bytes name the type and route lists. Returns 0, or
 *  the first non-zero return of cb. */
int msn_fxlists_tx(const msn_tx_t *t, const msn_fx_rec_t *rec, msn_fxlists_cb cb, void *ctx);

/** The lists observation o of s puts its transmission under. Returns 0, or the first
 *  non-zero return of cb. */
int msn_fxlists_obs(const msn_store_t *s, const msn_obs_t *o, msn_fxlists_cb cb, void *ctx);

#endif
