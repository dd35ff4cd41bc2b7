/*
 * nodeidx.h: the transmissions of each node (CoreScope's byNode), kept up to date by the
 * publisher thread as the store grows, and the set of nodes whose data changed.
 *
 * A transmission belongs to a node when (CoreScope's indexByNode and indexResolvedPathHops)
 *  - its decoded_json names the node as "pubKey", "destPubKey" or "srcPubKey"; or
 *  - one of its observations' resolved_path has the node as a hop; or
 *  - an observation without resolved_path has a path_json hop that names exactly one
 *    relay-capable node by prefix (role containing "repeater" or "room_server", or "room";
 *    the cold-load reconstruction CoreScope does when resolved_path is NULL).
 * Nodes are the store's interned keys (msn_store_intern_key): every row of the nodes table
 * is interned too, so each node has a key id even without transmissions. Lists hold
 * indexes into store->tx in ascending order (= ascending id: polls only append), each
 * transmission once.
 *
 * Changes: msn_nodeidx_update indexes what the store gained since the previous call (new
 * transmissions, new observations, resolved paths a backfill wrote: store->obs_dirty) and
 * marks dirty every node whose list or whose transmissions' observations changed. The
 * owner takes the dirty set with msn_nodeidx_take_dirty.
 *
 * Only the publisher thread touches an index; the computing process reads its forked copy.
 */
#ifndef MSN_NODEIDX_H
#define MSN_NODEIDX_H

#include <stdint.h>

#include "store.h"

typedef struct {
    uint32_t *v;
    uint32_t n, cap;
} msn_u32vec_t;

typedef struct {
    msn_u32vec_t *by_key; /* per key id: transmission indexes, ascending */
    uint32_t n_lists;     /* lists allocated (covers store->n_keys after an update) */
    uint32_t tx_done;     /* transmissions indexed: store->tx[0..tx_done) */
    uint32_t obs_done;    /* observations indexed: store->obs[0..obs_done) */
    uint8_t *is_dirty;    /* per key id */
    msn_u32vec_t dirty;   /* the dirty key ids, in the order they became dirty */
    char (*relay)[65];    /* lowercase keys of relay-capable nodes, sorted (rebuilt per update) */
    uint32_t n_relay;
} msn_nodeidx_t;

/** An empty index (nothing indexed yet). */
void msn_nodeidx_init(msn_nodeidx_t *x);
/** Frees everything the index owns; it is empty and reusable afterwards. */
void msn_nodeidx_free(msn_nodeidx_t *x);

/** Indexes what the store gained since the previous call (all of it on the first call
 *  after init or free) and marks the affected nodes dirty. Interns the key of every node
 *  row and of every 64-hex key found (the store gains keys). Publisher thread only. */
void msn_nodeidx_update(msn_nodeidx_t *x, msn_store_t *s);

/** The transmissions of key id `key` (NULL and 0 when it has none). The array stays valid
 *  until the next update. */
const uint32_t *msn_nodeidx_txs(const msn_nodeidx_t *x, uint32_t key, uint32_t *n);

/** Marks key id `key` dirty (e.g. its nodes row changed). */
void msn_nodeidx_mark(msn_nodeidx_t *x, uint32_t key);

/** Moves the dirty key ids into out (appended) and clears the set. */
void msn_nodeidx_take_dirty(msn_nodeidx_t *x, msn_u32vec_t *out);

/** Appends v to vec. */
void msn_u32vec_push(msn_u32vec_t *vec, uint32_t v);
void msn_u32vec_free(msn_u32vec_t *vec);

/** The relay-capable node a path hop names by prefix, when exactly one does: the hop (any
 *  case) is 2..8 hex characters and one key of x->relay starts with it, or it is a whole
 *  64-character key of x->relay. Returns its index into x->relay, or -1. */
int32_t msn_nodeidx_unique_relay(const msn_nodeidx_t *x, const char *hop, size_t n);

/** 1 when role makes a node relay-capable (CoreScope's canAppearInPath). */
int msn_nodeidx_relay_role(const char *role);

#endif
