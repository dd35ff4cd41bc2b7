/*
 * anscache.h: a worker's cache of the answers it assembled, reused for identical requests
 * within one snapshot generation.
 *
 * Most requests of a public dashboard are the same few URLs asked by many people at once
 * (the default node list, the observers, the first page of packets). An answer a handler
 * assembles from the snapshot (not a stored document, which is sent from the map as it
 * is) depends only on the request's path and query, on the snapshot and, for a few
 * parameters (lastHeard, server_time), on the clock. So the worker keeps each such 200
 * answer, keyed by the exact request target (and the listener it came on), and answers
 * the same request again with a copy of it while both hold:
 *
 *   - the snapshot is the same generation of the same master run (meta gen and
 *     master_start_ms), so an answer never outlives the data it was made from;
 *   - it is at most ttl_ms old ([http] answer_cache_ms, default 1000), so what depends on
 *     the clock is at most that late; 0 turns the cache off.
 *
 * The cache holds at most max_bytes of bodies ([http] answer_cache_kb); a body larger than
 * an eighth of that is not kept. Slots are direct-mapped by a hash of the key (a new
 * answer replaces the one in its slot); when the bytes would exceed the bound, the oldest
 * entries (by store order) are dropped first. Memory that cannot be allocated means the
 * answer is not kept, nothing else.
 *
 * Worker process only, on the event loop's thread.
 */
#ifndef MSN_ANSCACHE_H
#define MSN_ANSCACHE_H

#include <stddef.h>
#include <stdint.h>

#define MSN_ANSCACHE_SLOTS 512       /* a power of two */
#define MSN_ANSCACHE_KEY_MAX 2048    /* longer request targets are not cached */

/* One kept answer. */
typedef struct {
    char *key;      /* owned; NULL = empty slot */
    size_t key_len;
    uint64_t gen;   /* snapshot generation it was made from */
    int64_t run;    /* that snapshot's master_start_ms */
    int64_t stored_ms;
    uint64_t order; /* store order (for dropping the oldest) */
    int route;      /* shm/route.h id of the request */
    const char *content_type; /* a static string, or NULL (JSON) */
    char *body;     /* owned */
    size_t len;
} msn_anscache_entry_t;

typedef struct {
    msn_anscache_entry_t slot[MSN_ANSCACHE_SLOTS];
    size_t bytes, max_bytes; /* bodies and keys held, and the bound */
    int ttl_ms;
    uint64_t next_order;
} msn_anscache_t;

/** Initialises an empty cache keeping at most max_bytes, each answer for at most ttl_ms
 *  (0: the cache is off: lookups miss, stores keep nothing). */
void msn_anscache_init(msn_anscache_t *c, size_t max_bytes, int ttl_ms);

/** Frees every kept answer; the cache is empty and still usable. */
void msn_anscache_free(msn_anscache_t *c);

/** Whether the cache is on. */
static inline int msn_anscache_enabled(const msn_anscache_t *c)
{
    return c->ttl_ms > 0 && c->max_bytes > 0;
}

/** The answer kept for key (klen bytes) made from generation gen of run `run`, at most
 *  ttl_ms old at now_ms; NULL when there is none. An entry of another generation or too
 *  old is dropped. The entry stays valid until the next msn_anscache_put or _free. */
const msn_anscache_entry_t *msn_anscache_get(msn_anscache_t *c, const char *key, size_t klen, uint64_t gen,
                                             int64_t run, int64_t now_ms);

/** Keeps a copy of answer body (len bytes) for key, made from generation gen of run `run`
 *  at now_ms, for request route `route` with content_type (a static string or NULL).
 *  Returns 1 when kept, 0 when not (cache off, key too long, body too large, out of
 *  memory). */
int msn_anscache_put(msn_anscache_t *c, const char *key, size_t klen, uint64_t gen, int64_t run, int64_t now_ms,
                     int route, const char *content_type, const void *body, size_t len);

#endif
