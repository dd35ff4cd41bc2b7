/*
 * snapkey.h: the keys of the LMDB snapshot (layout: snapshot.h), built in one place for
 * the master (which writes them) and the workers (which look them up).
 *
 * Integers are big-endian so that keys sort numerically. Public keys are canonical
 * lowercase hex wherever they are part of a key (node, the "f" and "n" packet lists), and
 * content hashes lowercase hex: a lookup with any case finds the entry.
 *
 * Any process may call these functions; they keep no state.
 */
#ifndef MSN_SNAPKEY_H
#define MSN_SNAPKEY_H

#include <endian.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/** The longest key any builder makes (packet-list keys are kind + value). */
#define MSN_SNAP_KEY_MAX 200

typedef struct {
    size_t len;
    uint8_t b[MSN_SNAP_KEY_MAX];
} msn_snap_key_t;

/** The key as an LMDB value (pointing into k). */
MDB_val msn_snap_key_val(const msn_snap_key_t *k);

/** Big-endian helpers for keys and id values (inline: list walks call them per entry). */
static inline void msn_be64_put(uint8_t out[8], uint64_t v);
static inline uint64_t msn_be64_get(const uint8_t in[8]);

/* ---- fx: the packet lists, key = kind byte + value ---- */

typedef enum {
    MSN_FX_ALL = 'a',      /* every transmission; no value */
    MSN_FX_TYPE = 't',     /* payload type: one byte (255 = unknown) */
    MSN_FX_ROUTE = 'r',    /* route type: one byte (255 = unknown) */
    MSN_FX_OBSERVER = 'o', /* heard by this observer id (as stored) */
    MSN_FX_FROM = 'f',     /* adverts originated by this public key */
    MSN_FX_NODE = 'n',     /* originated by this public key, or it is a resolved hop of a path */
    MSN_FX_CHANNEL = 'c',  /* this channel hash (as stored) */
    MSN_FX_REGION = 'g'    /* heard by an observer of this IATA region (as stored) */
} msn_fx_kind_t;

/** The key of list `kind` for value (len bytes; MSN_FX_ALL takes none, MSN_FX_TYPE and
 *  MSN_FX_ROUTE exactly one; MSN_FX_FROM and MSN_FX_NODE are lowercased). Returns 0, or -1
 *  when there is no such list key (an unknown kind, a missing or empty value, or one
 *  longer than MSN_SNAP_KEY_MAX - 1 bytes): nothing is stored under it. */
int msn_snap_fx_key(msn_fx_kind_t kind, const void *value, size_t len, msn_snap_key_t *out);

/* ---- fixed-layout keys ---- */

/** tx: id(8). */
void msn_snap_tx_key(uint64_t id, msn_snap_key_t *out);
/** obs: txid(8) obsid(8); msn_snap_obs_key(txid, 0) is the first key of txid's observations. */
void msn_snap_obs_key(uint64_t tx_id, uint64_t obs_id, msn_snap_key_t *out);
/** oid: obsid(8). */
void msn_snap_oid_key(uint64_t obs_id, msn_snap_key_t *out);
/** orow: rowid(8). */
void msn_snap_orow_key(int64_t rowid, msn_snap_key_t *out);
/** ft: first_seen_ms(8) id(8); msn_snap_ft_key(ms, 0) is the first key at ms. */
void msn_snap_ft_key(int64_t first_seen_ms, uint64_t id, msn_snap_key_t *out);
/** fl: latest_ms(8) id(8). */
void msn_snap_fl_key(int64_t latest_ms, uint64_t id, msn_snap_key_t *out);

/** Splits an obs key. Returns 0, or -1 when k is not one. */
int msn_snap_obs_key_parse(const void *k, size_t len, uint64_t *tx_id, uint64_t *obs_id);
/** Splits an ft or fl key. Returns 0, or -1 when k is not one. */
int msn_snap_time_key_parse(const void *k, size_t len, int64_t *ms, uint64_t *id);

/* ---- text keys ---- */

/** hash: the content hash, lowercased. Returns 0, or -1 when hash is empty, longer than 64
 *  characters or not hex (no transmission has such a hash). */
int msn_snap_hash_key(const char *hash, size_t len, msn_snap_key_t *out);
/** node: the public key, lowercased; a prefix of one gives the start of a range scan.
 *  Returns 0, or -1 when it is empty or longer than 64 characters. */
int msn_snap_node_key(const char *pubkey, size_t len, msn_snap_key_t *out);

/* ---- channel messages and observer metrics ---- */

/** chl: channel_hash + 0x00 + region code (empty for the list of every message of the
 *  channel; else an upper-case, trimmed observer IATA code). Returns 0, or -1 when the
 *  channel is empty or the key would exceed MSN_SNAP_KEY_MAX (nothing is stored under it). */
int msn_snap_chl_key(const char *channel, size_t len, const char *region, size_t rlen, msn_snap_key_t *out);
/** The 16-byte value of a chl entry: latest_s(8) id(8) (sorting by the newest observation
 *  second, then by id). */
void msn_snap_chl_val(int64_t latest_s, uint64_t id, uint8_t out[16]);
/** Splits a chl value. Returns 0, or -1 when v is not one. */
int msn_snap_chl_val_parse(const void *v, size_t len, int64_t *latest_s, uint64_t *id);
/** om: observer id (as stored) + 0x00 + timestamp_ms(8). Returns 0, or -1 when the id is
 *  empty, holds a NUL or is too long for a key. msn_snap_om_key(id, n, INT64_MIN, k) is
 *  the first key of that observer (timestamps are stored offset by 2^63 so that they sort
 *  as signed values). */
int msn_snap_om_key(const char *observer_id, size_t len, int64_t ts_ms, msn_snap_key_t *out);
/** Splits an om key of observer id `len` bytes long. Returns 0, or -1 when k is not one of
 *  that observer's. */
int msn_snap_om_key_parse(const void *k, size_t klen, const char *observer_id, size_t len, int64_t *ts_ms);

/* ---- meta and doc ---- */

#define MSN_SNAP_META_KEY "meta"
/* the documents the master publishes besides the analytics (whose names are theirs) */
#define MSN_DOC_STATS "stats"
#define MSN_DOC_OBSERVERS "observers"
#define MSN_DOC_NODES_INDEX "nodes.index"
#define MSN_DOC_PACKETS_DEFAULT "packets.default"
/* what the web pages' configuration derives from the data (master/frontend_doc.h) */
#define MSN_DOC_FRONTEND_IATAS "frontend.iatas"
#define MSN_DOC_FRONTEND_CENTER "frontend.center"
/* the neighbour graph (msgpack, layout in entdoc.h): named as an entity document of the
   whole mesh so that full rebuilds carry it over like the per-node ones */
#define MSN_DOC_NEIGHBOR_GRAPH "ent/mesh/neighbor-graph/all"
/* the relay-capable nodes, for hop resolution (msgpack, layout in entdoc.h) */
#define MSN_DOC_RELAYS "ent/mesh/relays/all"
#define MSN_DOC_CHANNELS_INDEX "channels.index"

/* Family documents: one per entity of a family, named "<family>/<entity id>" (the id as
 * stored, any bytes but NUL), written by the master when that entity's document changes. */
#define MSN_FAMDOC_OBSERVER "observer" /* /api/observers/:id */

/** Writes the name of family's document for entity id[0..len) into out (n bytes). Returns
 *  0, or -1 when the id is empty, holds a NUL or the name does not fit in n bytes or in an
 *  LMDB key (no such document exists then). */
int msn_snap_famdoc_name(const char *family, const char *id, size_t len, char *out, size_t n);

static inline void msn_be64_put(uint8_t out[8], uint64_t v)
{
    v = htobe64(v);
    memcpy(out, &v, 8);
}

static inline uint64_t msn_be64_get(const uint8_t in[8])
{
    uint64_t v;
    memcpy(&v, in, 8);
    return be64toh(v);
}

#endif
