/*
 * snapshot.h: the LMDB snapshot, the contract between the master (the only writer) and
 * the workers (read-only).
 *
 * On disk (state_dir):
 *   current            symlink to the environment being served, e.g. "snap-000000000007"
 *   snap-<gen>/        one LMDB environment (data.mdb, lock.mdb) per full rebuild
 *   status             the shared status block (status.h)
 *
 * A full rebuild (every master start, and after a backfill changed old rows) writes a new
 * environment, then renames a new `current` symlink over the old one and bumps
 * status->env_seq; workers reopen between requests. Incremental publications (new rows
 * from a poll) are one write transaction in the current environment that also rewrites
 * the meta record, so a reader sees one consistent generation per read transaction.
 *
 * Named databases and their values (all integers big-endian in keys; values msgpack):
 *   meta   "meta"           map {gen, published_at, source_db, max_tx_id, max_obs_id,
 *                                tx_count, obs_count, legacy_schema, master_start}
 *   doc    name             [body(bin), gen, published_at, gzip(bin)|nil, etag, expires_at]:
 *                           ready-to-send bodies with their gzip copy and ETag; expires_at
 *                           is when the master next republishes it (0 = unknown)
 *                           ("stats", "observers" (prefix, worker appends server_time),
 *                           "nodes.index")
 *   tx     id(8)            [fragment(bin), first_seen_ms, payload_type, route_type,
 *                            hash, raw_hex, decoded_json, best_path_json|nil, obs_count,
 *                            grouped_fragment(bin), latest_ms]
 *   obs    txid(8) obsid(8) [obs_id, tx_id, observer_rowid|nil, direction|nil, snr|nil,
 *                            rssi|nil, score|nil, path_json|nil, timestamp_s,
 *                            resolved_path|nil, raw_hex|nil|true(= the tx raw_hex)]
 *                           resolved_path: array of bin(32) keys or nil per hop
 *   oid    obsid(8)         txid(8)
 *   hash   hash(16 chars)   txid(8)
 *   fx     list key         DUPSORT/DUPFIXED msn_fx_rec_t, sorted by id: the packet lists
 *                           "a" all, "t"<type byte>, "r"<route byte>, "o"<observer id>,
 *                           "f"<from pubkey> (adverts by originator), "n"<pubkey> (the node
 *                           originated it or is a resolved hop of one of its paths),
 *                           "c"<channel_hash>, "g"<IATA> (heard by an observer of that region)
 *   ft     first_seen_ms(8) id(8)   (empty value): the time index for since/until
 *   fl     latest_ms(8) id(8)       (empty value): newest sighting first, for groupByHash
 *   node   pubkey           [fragment(bin)]
 *   orow   rowid(8)         [id, name|nil, iata|nil]
 */
#ifndef MSN_SNAPSHOT_H
#define MSN_SNAPSHOT_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#define MSN_SNAP_MAPSIZE (64ull << 30) /* address space only; the file grows as written */
#define MSN_SNAP_MAXREADERS 512

enum {
    MSN_DBI_META,
    MSN_DBI_DOC,
    MSN_DBI_TX,
    MSN_DBI_OBS,
    MSN_DBI_OID,
    MSN_DBI_HASH,
    MSN_DBI_FX,
    MSN_DBI_FT,
    MSN_DBI_NODE,
    MSN_DBI_OROW,
    MSN_DBI_FL,
    MSN_DBI_COUNT
};

/* One entry of a packet list in `fx`: fixed size, sorts by id (big-endian first). */
typedef struct {
    uint8_t id_be[8];
    uint8_t first_seen_ms_be[8];
    uint8_t payload_type;
    uint8_t route_type;
    uint8_t _pad[6];
} msn_fx_rec_t;

typedef struct {
    uint64_t gen;
    int64_t published_at_ms;
    int64_t master_start_ms; /* start time of the master run that published it */
    int64_t max_tx_id, max_obs_id;
    int64_t tx_count, obs_count;
    int legacy_schema;
    char source_db[512];
} msn_snap_meta_t;

typedef struct {
    MDB_env *env;
    MDB_dbi dbi[MSN_DBI_COUNT];
    char dir[4096];
} msn_snap_t;

/** Big-endian helpers for keys. */
void msn_be64_put(uint8_t out[8], uint64_t v);
uint64_t msn_be64_get(const uint8_t in[8]);

/** Writer: creates a new environment directory state_dir/snap-<gen> (removing any stale
 *  one of that name) and opens it read-write. Returns 0, or -1 with err set. */
int msn_snap_create(const char *state_dir, uint64_t gen, msn_snap_t *out, char *err, size_t errlen);

/** Writer: opens the environment `current` points at read-write (to publish increments).
 *  Returns 0, 1 when there is no usable current snapshot, or -1 with err set. */
int msn_snap_open_current_rw(const char *state_dir, msn_snap_t *out, char *err, size_t errlen);

/** Reader: opens the environment `current` points at with MDB_RDONLY after validating it
 *  (the data file is not truncated, the meta record exists and decodes). Returns 0,
 *  1 when there is no current snapshot, or -1 with err set (a damaged snapshot). */
int msn_snap_open_current_ro(const char *state_dir, msn_snap_t *out, char *err, size_t errlen);

/** Writer: points `current` at snap's directory atomically (symlink + rename) and removes
 *  the other snap-* directories. Returns 0, or -1 with err set. */
int msn_snap_make_current(const char *state_dir, const msn_snap_t *snap, char *err, size_t errlen);

/** Closes the environment (no transaction may be open). */
void msn_snap_close(msn_snap_t *s);

/** Encodes / decodes the meta record. Decode returns 0, or -1 on a malformed value. */
void msn_snap_meta_put(MDB_txn *txn, const msn_snap_t *s, const msn_snap_meta_t *m, int *rc);
int msn_snap_meta_get(MDB_txn *txn, const msn_snap_t *s, msn_snap_meta_t *m);

/** Puts a ready-to-send body under `name` in `doc`. Returns an LMDB error code. */
int msn_snap_doc_put(MDB_txn *txn, const msn_snap_t *s, const char *name, const void *body, size_t len,
                     uint64_t gen, int64_t published_at_ms);
/** A ready-to-send document (pointers into the map when read: valid until the txn ends). */
typedef struct {
    const void *body;
    size_t len;
    const void *gz; /* NULL when there is no compressed copy */
    size_t gz_len;
    char etag[24];  /* quoted strong ETag of body; the gzip copy's is etag with "-gz" inserted */
    uint64_t gen;
    int64_t published_at_ms;
    int64_t expires_at_ms;
} msn_doc_t;

/** Puts a document with its ETag and gzip copy: gz when given (gz_len > 0), else computed
 *  when compress is set and body is at least 1 KiB. Returns an LMDB error code (or -1
 *  when compression fails). */
int msn_snap_doc_put_full(MDB_txn *txn, const msn_snap_t *s, const char *name, const void *body, size_t len,
                          const void *gz, size_t gz_len, int compress, uint64_t gen, int64_t published_at_ms,
                          int64_t expires_at_ms);
/** Gets a document. Returns 0, MDB_NOTFOUND, or -1 on a malformed value. */
int msn_snap_doc_get_full(MDB_txn *txn, const msn_snap_t *s, const char *name, msn_doc_t *d);
/** Deletes a document (absent is fine). Returns an LMDB error code. */
int msn_snap_doc_del(MDB_txn *txn, const msn_snap_t *s, const char *name);

/** Gets a doc body; *body points into the map (valid until the txn ends).
 *  Returns 0, MDB_NOTFOUND, or -1 on a malformed value. */
int msn_snap_doc_get(MDB_txn *txn, const msn_snap_t *s, const char *name, const void **body, size_t *len,
                     uint64_t *gen, int64_t *published_at_ms);

#endif
