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
 * Entity documents are written as their entity's data changes: a poll that brings rows
 * for a few nodes rewrites those nodes' documents only (master/nodedocs.h); a full rebuild
 * copies every "ent/" document of the previous environment into the new one first.
 * Damage: every value carries a checksum (snaprec.h). A lookup whose value fails it answers
 * MSN_SNAPREC_ECHECKSUM and counts it in msn_snap_t.damage; the worker then stops serving
 * that environment and reports it to the master, which sets it aside
 * (msn_snap_set_aside: renamed "damaged-<time>-snap-<gen>", kept for inspection, at most
 * MSN_SNAP_DAMAGED_KEEP of them) and publishes a new one. An earlier run's snapshot is
 * also checked in full at start (snapverify.h).
 *
 * Format version: meta holds the MSN_SNAP_FORMAT (snaprec.h) of the binary that wrote the
 * environment. One written in another format (or before formats existed) is not served:
 * workers answer as without a snapshot, and the master, which rebuilds at every start,
 * publishes a fresh environment in place of it.
 *
 * Named databases, keys and values. Keys are built by snapkey.h (integers big-endian);
 * values are msgpack, encoded and decoded by snaprec.h, whose field enums name the array
 * positions given here:
 *   meta   "meta"           map {format, gen, published_at, master_start, max_tx_id,
 *                                max_obs_id, tx_count, obs_count, legacy_schema, source_db}
 *                           (msn_snap_meta_t)
 *   doc    name             [body(bin), gen, published_at, gzip(bin)|nil, etag, expires_at]
 *                           (msn_doc_t, MSN_DOCF_*): ready-to-send bodies with their gzip
 *                           copy and ETag; expires_at is when the master next republishes it
 *                           (0 = unknown). "stats", "observers" (prefix, worker appends
 *                           server_time), "packets.default" (the first page), "nodes.index"
 *                           (its body is the node index, snaprec.h), "channels.index" (its
 *                           body is the channel index, snaprec.h: /api/channels for any
 *                           region), the neighbour graph ("ent/mesh/neighbor-graph/all",
 *                           msgpack, entdoc.h), the analytics ("an/<name>[?<shape key>]",
 *                           anshape.h, per entity too: "an/observer-analytics?p=<days>:<id>"),
 *                           the entity documents "ent/<kind>/<doc>/<id>" (entdoc.h: per node
 *                           health, paths, analytics.<days>, reach.<days>, clock-skew, detail,
 *                           bulk, neighbors, battery.<day>), and the family documents
 *                           "<family>/<id>" (snapkey.h), written only when that entity's body
 *                           changed: "observer/<id>" (/api/observers/:id)
 *   tx     id(8)            [fragment(bin), first_seen_ms, payload_type, route_type,
 *                            hash, raw_hex, decoded_json, best_path_json|nil, obs_count,
 *                            grouped_fragment(bin), latest_ms]   (MSN_TXF_*)
 *   obs    txid(8) obsid(8) [obs_id, tx_id, observer_rowid|nil, direction|nil, snr|nil,
 *                            rssi|nil, score|nil, path_json|nil, timestamp_s,
 *                            resolved_path|nil, raw_hex|nil|true(= the tx raw_hex)]
 *                           (MSN_OBSF_*); resolved_path: array of bin(32) keys or nil per hop
 *   oid    obsid(8)         txid(8)
 *   hash   hash(lowercase)  txid(8)
 *   fx     kind + value     DUPSORT/DUPFIXED msn_fx_rec_t, sorted by id: the packet lists
 *                           (msn_fx_kind_t): "a" all, "t"<type byte>, "r"<route byte>,
 *                           "o"<observer id>, "f"<from pubkey> (adverts by originator),
 *                           "n"<pubkey> (the node originated it or is a resolved hop of one
 *                           of its paths), "c"<channel_hash>, "g"<IATA> (heard by an
 *                           observer of that region)
 *   ft     first_seen_ms(8) id(8)   checksum(4) + first_seen as stored (text, snaprec.h
 *                           msn_snaprec_timeval): the time index for since/until and
 *                           /api/packets/timestamps
 *   fl     latest_ms(8) id(8)       checksum(4) of the key: newest sighting first, for groupByHash
 *   node   pubkey(lowercase) [fragment(bin), base(bin)]   (MSN_NODEF_*)
 *   orow   rowid(8)         [id|nil, name|nil, iata|nil]   (MSN_OROWF_*)
 *   chl    channel_hash 0x00 region   DUPSORT/DUPFIXED latest_s(8) id(8): the messages
 *                           (payload_type 5) of a channel by their newest observation second,
 *                           then id: region "" lists them all, region <IATA> (upper-case,
 *                           trimmed) those heard by an observer of that region. An entry is
 *                           moved when a new observation changes latest_s (0: none yet).
 *   cmsg   id(8)            [fragment(bin)]   (MSN_CMSGF_*): the message object of
 *                           /api/channels/:hash/messages, rewritten with its transmission;
 *                           absent when decoded_json is not an object or no observation exists
 *   om     observer_id 0x00 ts_ms(8, offset 2^63)   [timestamp, noise_floor|nil, tx_air_secs|nil,
 *                           rx_air_secs|nil, recv_errors|nil, battery_mv|nil, packets_sent|nil,
 *                           packets_recv|nil]   (MSN_OMF_*): the observer_metrics rows
 *   feed   8 zero bytes     [run_id]: the master run that numbered the messages
 *          seq(8), >= 1     [at_ms, body(bin)]: the live feed, a ring of pre-rendered
 *                           WebSocket messages (feed.h)
 */
#ifndef MSN_SNAPSHOT_H
#define MSN_SNAPSHOT_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "snapkey.h"
#include "snaprec.h"

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
    MSN_DBI_CHL,
    MSN_DBI_CMSG,
    MSN_DBI_OM,
    MSN_DBI_FEED,
    MSN_DBI_COUNT
};

typedef struct {
    MDB_env *env;
    MDB_dbi dbi[MSN_DBI_COUNT];
    char dir[4096];
    uint32_t *damage; /* counted up (when set) each time a value fails its checksum (snaprec.h) */
} msn_snap_t;

/** Writer: creates a new environment directory state_dir/snap-<gen> (removing any stale
 *  one of that name) and opens it read-write. Returns 0, or -1 with err set. */
int msn_snap_create(const char *state_dir, uint64_t gen, msn_snap_t *out, char *err, size_t errlen);

/** msn_snap_open_current_* and msn_snap_meta_get: the snapshot was written in another
 *  snapshot format than this binary's MSN_SNAP_FORMAT (or before formats existed). */
#define MSN_SNAP_OTHER_FORMAT 2

/** Writer: opens the environment `current` points at read-write (to publish increments).
 *  Returns 0, 1 when there is no current snapshot, MSN_SNAP_OTHER_FORMAT (err says which
 *  format), or -1 with err set. */
int msn_snap_open_current_rw(const char *state_dir, msn_snap_t *out, char *err, size_t errlen);

/** Reader: opens the environment `current` points at with MDB_RDONLY after validating it
 *  (the data file is not truncated, the meta record exists, decodes and has this
 *  binary's format). Returns 0; 1 when there is no current snapshot; MSN_SNAP_OTHER_FORMAT
 *  with err set when it was written in another format (it must not be served); or -1 with
 *  err set (a damaged snapshot). out is open only on 0. An environment that the writer
 *  replaces and removes while it is being opened is followed to the one `current` names
 *  then (as for msn_snap_open_current_rw). */
int msn_snap_open_current_ro(const char *state_dir, msn_snap_t *out, char *err, size_t errlen);

/** Opens the environment in directory dir (state_dir/snap-*) read-only, after checking
 *  that its data file is not truncated; no meta or format check. For a full check
 *  (snapverify.h). Returns 0, or -1 with err set. */
int msn_snap_open_dir_ro(const char *dir, msn_snap_t *out, char *err, size_t errlen);

/** Reads the meta record of the snapshot `current` points at, whatever its format (for
 *  the master, which continues its generation numbers, and for status reports).
 *  Returns 0 with m set, 1 when there is no current snapshot, or -1 with err set. */
int msn_snap_current_meta(const char *state_dir, msn_snap_meta_t *m, char *err, size_t errlen);

/** Writer: points `current` at snap's directory atomically (symlink + rename) and removes
 *  the other snap-* directories. Returns 0, or -1 with err set. */
int msn_snap_make_current(const char *state_dir, const msn_snap_t *snap, char *err, size_t errlen);

/** Closes the environment (no transaction may be open). */
void msn_snap_close(msn_snap_t *s);

/** Writer: closes s's environment and opens its directory again read-write (no
 *  transaction may be open; s->damage is kept). LMDB keeps the page buffers of committed
 *  write transactions in a cache of its own until the environment is closed, as many as
 *  the largest transaction dirtied (a full publication's batch: about a hundred
 *  megabytes); reopening gives them back. Returns 0, or -1 with err set and s->env NULL. */
int msn_snap_reopen(msn_snap_t *s, char *err, size_t errlen);

/** Writer: unmaps from this process the pages of env's data file that reading through the
 *  map brought in (madvise MADV_DONTNEED over the used part of the read-only shared map,
 *  found in /proc/self/maps by the data file's device and inode).
 *  The pages stay in the page cache for the readers, and a later read through the map
 *  faults them back in unchanged; only this process's resident set shrinks. Best effort:
 *  does nothing when env is NULL or its map is not found. Any thread; no pointer into the map is
 *  invalidated (the mapping itself stays). */
void msn_snap_drop_resident(MDB_env *env);

/** Notes that a value of s failed its checksum (rc == MSN_SNAPREC_ECHECKSUM; any other rc
 *  is ignored): counts it in *s->damage when set. Returns rc. For readers that decode
 *  values themselves; the lookups below call it. */
int msn_snap_note(const msn_snap_t *s, int rc);

/** The most damaged snapshots kept in state_dir for inspection (older ones are deleted). */
#define MSN_SNAP_DAMAGED_KEEP 3

/** Writer: sets a damaged environment aside: renames state_dir/<dir_name> (a "snap-*"
 *  directory) to "damaged-<UTC time>-<dir_name>", removes `current` when it points at it
 *  (readers then find no snapshot until the next one is made current), and deletes the
 *  oldest "damaged-*" directories beyond MSN_SNAP_DAMAGED_KEEP. new_name receives the
 *  new name. Returns 0, 1 when there is no such directory (already replaced), or -1 with
 *  err set. */
int msn_snap_set_aside(const char *state_dir, const char *dir_name, char *new_name, size_t n, char *err,
                       size_t errlen);

/** The name ("snap-000000000007") of the environment `current` points at, into out.
 *  Returns 0, 1 when there is none, -1 with err set. */
int msn_snap_current_name(const char *state_dir, char *out, size_t n, char *err, size_t errlen);

/** The highest generation among the snap-* and damaged-*-snap-* directory names of
 *  state_dir (0 when none): where generation numbers go on when no meta can be read. */
uint64_t msn_snap_highest_gen(const char *state_dir);

/** Writes the meta record (m->format as given: the master sets MSN_SNAP_FORMAT); *rc
 *  receives an LMDB error code. */
void msn_snap_meta_put(MDB_txn *txn, const msn_snap_t *s, const msn_snap_meta_t *m, int *rc);
/** Reads the meta record. Returns 0; MSN_SNAP_OTHER_FORMAT when it has another format (m
 *  is filled, m->format says which); or -1 when it is missing or malformed. */
int msn_snap_meta_get(MDB_txn *txn, const msn_snap_t *s, msn_snap_meta_t *m);

/** Puts a ready-to-send body under `name` in `doc` (with its ETag, no gzip copy, no
 *  expiry). Returns an LMDB error code. */
int msn_snap_doc_put(MDB_txn *txn, const msn_snap_t *s, const char *name, const void *body, size_t len,
                     uint64_t gen, int64_t published_at_ms);
/** Puts a document with its ETag and gzip copy: gz when given (gz_len > 0), else computed
 *  when compress is set and body is at least 1 KiB. Returns an LMDB error code (or -1
 *  when compression fails). */
int msn_snap_doc_put_full(MDB_txn *txn, const msn_snap_t *s, const char *name, const void *body, size_t len,
                          const void *gz, size_t gz_len, int compress, uint64_t gen, int64_t published_at_ms,
                          int64_t expires_at_ms);
/** Gets a document (pointers into the map: valid until the txn ends). Returns 0,
 *  MDB_NOTFOUND, or a (negative) MSN_SNAPREC_E* code on a malformed value. */
int msn_snap_doc_get_full(MDB_txn *txn, const msn_snap_t *s, const char *name, msn_doc_t *d);
/** Deletes a document (absent is fine). Returns an LMDB error code. */
int msn_snap_doc_del(MDB_txn *txn, const msn_snap_t *s, const char *name);

/** Gets a doc body; *body points into the map (valid until the txn ends); gen and
 *  published_at_ms may be NULL. Returns as msn_snap_doc_get_full. */
int msn_snap_doc_get(MDB_txn *txn, const msn_snap_t *s, const char *name, const void **body, size_t *len,
                     uint64_t *gen, int64_t *published_at_ms);

/* Record lookups: the key built by snapkey.h, the value decoded by snaprec.h (pointers
 * into the map: valid until the txn ends). Each returns 0, MDB_NOTFOUND when absent (or
 * when the key cannot exist, e.g. an over-long public key), another LMDB error code, or a
 * (negative) MSN_SNAPREC_E* code when the value does not decode. Any process, inside a
 * transaction of its own. */
int msn_snap_tx_get(MDB_txn *txn, const msn_snap_t *s, uint64_t id, msn_snaprec_tx_t *out);
int msn_snap_obs_get(MDB_txn *txn, const msn_snap_t *s, uint64_t tx_id, uint64_t obs_id, msn_snaprec_obs_t *out);
int msn_snap_orow_get(MDB_txn *txn, const msn_snap_t *s, int64_t rowid, msn_snaprec_orow_t *out);
int msn_snap_node_get(MDB_txn *txn, const msn_snap_t *s, const char *pubkey, size_t len, msn_snaprec_node_t *out);
/** The transmission id under a content hash (any case). */
int msn_snap_hash_get(MDB_txn *txn, const msn_snap_t *s, const char *hash, size_t len, uint64_t *tx_id);
/** The transmission id of an observation id. */
int msn_snap_oid_get(MDB_txn *txn, const msn_snap_t *s, uint64_t obs_id, uint64_t *tx_id);

#endif
