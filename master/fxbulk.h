/*
 * fxbulk.h: the packet lists (fx, shm/snapkey.h) of a full publication, gathered in
 * memory so that they can be written in key order (master, publisher thread only).
 *
 * Inserting list entries one by one as the transmissions are visited puts them into
 * LMDB in random key order; gathered here first, each list can be written with LMDB's
 * append flags, key after key and entry after entry.
 *
 * The full publication visits transmissions in ascending id order (store->tx is sorted
 * by id) and adds, for each list entry it makes, the list key and the transmission's
 * index in store->tx. A list's entries therefore arrive in ascending order; a repeat of
 * the list's last index (the same transmission heard twice by one observer, a hop named
 * twice in a path) is dropped, as MDB_NODUPDATA did. msn_fxbulk_sort then orders the
 * lists as LMDB's default key comparison orders their keys (memcmp over the shorter
 * length, then the shorter key first).
 *
 * Memory: 4 bytes per entry (each list's array grows by doubling), the key bytes of each
 * list once, and a hash index over the keys; everything is the collector's own (aborting
 * on OOM, shm/buf.h policy) and freed by msn_fxbulk_free.
 */
#ifndef MSN_FXBULK_H
#define MSN_FXBULK_H

#include <stddef.h>
#include <stdint.h>

#include "shm/hmap.h"

typedef struct {
    size_t key_off;  /* the key's bytes, in the collector's keys */
    uint32_t key_len;
    uint32_t n, cap;
    uint32_t *ix; /* ascending transmission indexes, without repeats */
} msn_fxlist_t;

typedef struct {
    msn_fxlist_t *lists; /* in order of first appearance */
    uint32_t n_lists, cap_lists;
    uint8_t *keys;
    size_t keys_len, keys_cap;
    msn_hmap_t ix;     /* key hash -> list number */
    uint32_t *order;   /* after msn_fxbulk_sort: list numbers in key order */
    uint64_t n_entries; /* entries kept (repeats not counted) */
} msn_fxbulk_t;

/** An empty collector. */
void msn_fxbulk_init(msn_fxbulk_t *b);
/** Frees everything b holds; b is empty again. */
void msn_fxbulk_free(msn_fxbulk_t *b);

/** Adds transmission index tx_ix to the list whose key is key[0..len) (len >= 1),
 *  creating the list at its first entry. tx_ix must not be below the last index added to
 *  that list: an equal one is dropped. Invalidates an earlier msn_fxbulk_sort. */
void msn_fxbulk_add(msn_fxbulk_t *b, const void *key, size_t len, uint32_t tx_ix);

/** The number of the list whose key is key[0..len) (len >= 1), created empty when there
 *  is none: msn_fxbulk_add in two steps, for a caller that remembers list numbers. A list
 *  left empty is still walked by msn_fxbulk_at (with n 0). Invalidates an earlier
 *  msn_fxbulk_sort. */
uint32_t msn_fxbulk_list(msn_fxbulk_t *b, const void *key, size_t len);

/** Adds tx_ix to list number `list` (from msn_fxbulk_list), as msn_fxbulk_add does. */
void msn_fxbulk_add_to(msn_fxbulk_t *b, uint32_t list, uint32_t tx_ix);

/** Orders the lists by key as LMDB's default comparison does (memcmp over the shorter
 *  length, then the shorter first); msn_fxbulk_at then walks them in that order. */
void msn_fxbulk_sort(msn_fxbulk_t *b);

/** The i-th list in key order (i < n_lists; after msn_fxbulk_sort). */
static inline const msn_fxlist_t *msn_fxbulk_at(const msn_fxbulk_t *b, uint32_t i)
{
    return &b->lists[b->order[i]];
}

/** The key bytes of list l (l->key_len of them; valid until the next msn_fxbulk_add). */
static inline const uint8_t *msn_fxbulk_key(const msn_fxbulk_t *b, const msn_fxlist_t *l)
{
    return b->keys + l->key_off;
}

#endif
