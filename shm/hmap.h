/*
 * hmap.h: the project's hash table: an open-addressing index from 64-bit key hashes to
 * entry numbers (any process; an index is used by one thread at a time, or read by many
 * while nobody inserts).
 *
 * The caller keeps its entries (keys, values) in arrays of its own, numbered 0, 1, 2, ...
 * as it appends them, so iterating them is iterating the arrays, in insertion order. The
 * index maps a key's hash to candidate entries and the caller's key comparison decides;
 * there is no deletion (msn_hmap_clear empties the whole index).
 *
 * Layout: a power-of-two array of 64-bit slots, linear probing, at most 3/4 full. A slot
 * holds entry + 1 in its low 32 bits (0 = empty) and the hash's high 32 bits above them,
 * which also pick the home slot: most mismatches are rejected without touching the
 * entries, and the index grows without asking the caller for hashes again. Hashes must
 * therefore have good high bits (shm/hash.h's do).
 *
 * A lookup and an insertion share one probe:
 *
 *     msn_hmap_probe_t pr;
 *     for (uint32_t e = msn_hmap_first(&m->ix, h, &pr); e != MSN_HMAP_NONE; e = msn_hmap_next(&m->ix, &pr))
 *         if (m->len[e] == n && memcmp(m->key[e], key, n) == 0)
 *             return e;
 *     e = append_entry(m, key, n);     // the caller's arrays
 *     msn_hmap_insert(&m->ix, &pr, e);
 *
 * Memory: slot arrays come from the heap (aborting on OOM, shm/buf.h policy) unless
 * msn_hmap_init_alloc names another allocator (an arena). A zeroed msn_hmap_t is an empty
 * heap index.
 */
#ifndef MSN_HMAP_H
#define MSN_HMAP_H

#include <stddef.h>
#include <stdint.h>

#define MSN_HMAP_NONE UINT32_MAX

typedef struct {
    uint64_t *slots; /* NULL until the first insertion */
    uint32_t mask;   /* slot count - 1 */
    uint32_t n;      /* entries indexed */
    /* the allocator: NULL zalloc = the heap */
    void *(*zalloc)(void *ctx, size_t bytes);          /* zeroed memory, never NULL */
    void (*release)(void *ctx, void *p, size_t bytes); /* may be NULL */
    void *ctx;
} msn_hmap_t;

/* Where a probe is: the slot to look at next and the hash's tag. */
typedef struct {
    uint32_t i;
    uint32_t tag;
} msn_hmap_probe_t;

/** An empty heap index. */
void msn_hmap_init(msn_hmap_t *m);
/** An empty index whose slot arrays come from zalloc(ctx, bytes) (zeroed, never NULL) and
 *  go back through release(ctx, p, bytes) (NULL: never given back, e.g. an arena that is
 *  freed as a whole). */
void msn_hmap_init_alloc(msn_hmap_t *m, void *(*zalloc)(void *ctx, size_t bytes),
                         void (*release)(void *ctx, void *p, size_t bytes), void *ctx);
/** Releases the slot array; the index is empty (and keeps its allocator). */
void msn_hmap_free(msn_hmap_t *m);
/** Forgets every entry, keeping the slot array. */
void msn_hmap_clear(msn_hmap_t *m);
/** Makes room for n entries in all without growing again. */
void msn_hmap_reserve(msn_hmap_t *m, uint32_t n);
/** Indexes entry e (< MSN_HMAP_NONE - 1) under hash h without looking for it first (bulk
 *  building, or when the key is known to be new). */
void msn_hmap_add(msn_hmap_t *m, uint64_t h, uint32_t e);
/** After msn_hmap_first/next returned MSN_HMAP_NONE for this probe (and nothing was
 *  inserted since): indexes entry e under the probe's hash. */
void msn_hmap_insert(msn_hmap_t *m, const msn_hmap_probe_t *pr, uint32_t e);

/** The next candidate entry of a probe (an entry whose hash has the same high 32 bits), or
 *  MSN_HMAP_NONE when there is none left; pr then marks where msn_hmap_insert puts a new
 *  entry. */
static inline uint32_t msn_hmap_next(const msn_hmap_t *m, msn_hmap_probe_t *pr)
{
    if (m->slots == NULL)
        return MSN_HMAP_NONE;
    for (;;) {
        uint64_t s = m->slots[pr->i];
        if (s == 0)
            return MSN_HMAP_NONE;
        pr->i = (pr->i + 1) & m->mask;
        if ((uint32_t)(s >> 32) == pr->tag)
            return (uint32_t)s - 1;
    }
}

/** Fetches into the cache the slot a probe for hash h starts at (a hint, for a lookup made
 *  a little later; nothing is read or changed). */
static inline void msn_hmap_prefetch(const msn_hmap_t *m, uint64_t h)
{
    if (m->slots != NULL)
        __builtin_prefetch(&m->slots[(uint32_t)(h >> 32) & m->mask]);
}

/** Starts a probe for hash h: the first candidate entry, or MSN_HMAP_NONE. */
static inline uint32_t msn_hmap_first(const msn_hmap_t *m, uint64_t h, msn_hmap_probe_t *pr)
{
    pr->tag = (uint32_t)(h >> 32);
    pr->i = pr->tag & m->mask;
    return msn_hmap_next(m, pr);
}

#endif
