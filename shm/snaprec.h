/*
 * snaprec.h: the values of the LMDB snapshot (layout: snapshot.h) as C structs, with
 * their msgpack encoders (the master) and decoders (the workers, `meshsnap status`).
 * The keys are built by snapkey.h.
 *
 * Records. Every record but meta is a msgpack array whose positions are named by the
 * record's field enum (MSN_TXF_*, MSN_OBSF_*, ...); its length is the enum's _COUNT. A
 * decoder refuses a value whose field count differs (MSN_SNAPREC_EFIELDS) or one of whose
 * fields has another type (MSN_SNAPREC_ETYPE): a record of another layout is an error,
 * never misread. meta is a map by name, so that any binary can read its format version.
 *
 * Checksums (format 2). Every record (tx, obs, node, orow, doc, meta) ends with a seal:
 * a msgpack uint32 after the record, the checksum (msn_snaprec_sum32) of the bytes before
 * it. Its decoder checks the seal before it reads a field, and answers
 * MSN_SNAPREC_ECHECKSUM when a byte changed. The values that are not records carry their
 * checksum too, over their key as well (a changed key does not find another entry's
 * value valid): the transmission id under a content hash or an observation id (12
 * bytes: id + checksum), each packet-list entry (in msn_fx_rec_t.sum), and the time
 * indexes ft and fl (their value is the checksum of their key). So a bit flip in a
 * snapshot file is found before the record is sent (workers, snapview.h), or by a full
 * pass over every entry (snapverify.h), never served.
 *
 * Format version. MSN_SNAP_FORMAT is stored in meta. Changing a record's fields (their
 * number, order, type or meaning), a key layout (snapkey.h) or a packet list's content
 * bumps it: a snapshot of another version is not served (msn_snap_open_current_ro) and
 * the master rebuilds a fresh one.
 *
 * Nil. Optional strings are str|nil: a msn_sv_t whose p is NULL is nil (an empty string
 * has a non-NULL p). Bins (pre-rendered JSON) are never nil. Optional numbers carry a
 * has_ flag.
 *
 * Lifetime. Decoded strings, bins and resolved-path keys point into the value they were
 * decoded from: for an LMDB value, valid until the read transaction ends. Encoders append
 * to a msgpack_sbuffer owned by the caller; they cannot fail short of OOM (msgpack-c's
 * sbuffer aborts the process then, as msn_buf does).
 *
 * Any process may call these functions; they keep no state.
 */
#ifndef MSN_SNAPREC_H
#define MSN_SNAPREC_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "snapkey.h"

/** The snapshot format this binary writes and reads. A snapshot written before format
 *  versions existed has none, read as 0. */
#define MSN_SNAP_FORMAT 5

/** Decoder errors (0 is success). */
#define MSN_SNAPREC_ESHAPE (-1)  /* not a msgpack array (map for meta), or truncated */
#define MSN_SNAPREC_EFIELDS (-2) /* another field count: written with another record layout */
#define MSN_SNAPREC_ETYPE (-3)   /* a field of another type, or out of its range */
#define MSN_SNAPREC_ECHECKSUM (-4) /* the value (or its key) does not match its checksum: damaged */

/** The checksum the records and entries carry (a 64-bit hash folded to 32 bits). */
uint32_t msn_snaprec_sum32(const void *data, size_t len);

/** A message for a decoder error code, e.g. for a log line. Never NULL. */
const char *msn_snaprec_strerror(int rc);

/** A string in a record: p NULL means nil. Not NUL-terminated when decoded. */
typedef struct {
    const char *p;
    size_t len;
} msn_sv_t;

/** A NUL-terminated string (or NULL for nil) as a msn_sv_t. */
msn_sv_t msn_sv(const char *s);

/* ---- tx: one transmission, under its id ---- */

enum msn_tx_field {
    MSN_TXF_FRAGMENT,         /* bin: its /api/packets row (a JSON object) */
    MSN_TXF_FIRST_SEEN_MS,    /* int */
    MSN_TXF_PAYLOAD_TYPE,     /* int, -1 when unknown */
    MSN_TXF_ROUTE_TYPE,       /* int, -1 when unknown */
    MSN_TXF_HASH,             /* str|nil */
    MSN_TXF_RAW_HEX,          /* str|nil */
    MSN_TXF_DECODED_JSON,     /* str|nil */
    MSN_TXF_BEST_PATH_JSON,   /* str|nil: path_json of its best observation */
    MSN_TXF_OBS_COUNT,        /* int */
    MSN_TXF_GROUPED_FRAGMENT, /* bin: its groupByHash row */
    MSN_TXF_LATEST_MS,        /* int: its newest sighting (first_seen or a later observation) */
    MSN_TXF_COUNT
};

typedef struct {
    msn_sv_t fragment, grouped_fragment;
    msn_sv_t hash, raw_hex, decoded_json, best_path_json;
    int64_t first_seen_ms, payload_type, route_type, obs_count, latest_ms;
} msn_snaprec_tx_t;

void msn_snaprec_tx_encode(msgpack_sbuffer *sb, const msn_snaprec_tx_t *t);
/** Returns 0, or a MSN_SNAPREC_E* code (out is then unspecified). */
int msn_snaprec_tx_decode(const void *val, size_t len, msn_snaprec_tx_t *out);

/* ---- obs: one observation, under txid(8) obsid(8) ---- */

enum msn_obs_field {
    MSN_OBSF_ID,             /* int */
    MSN_OBSF_TX_ID,          /* int */
    MSN_OBSF_OBSERVER_ROWID, /* int|nil: the key of its orow record */
    MSN_OBSF_DIRECTION,      /* str|nil */
    MSN_OBSF_SNR,            /* float|nil */
    MSN_OBSF_RSSI,           /* float|nil */
    MSN_OBSF_SCORE,          /* float|nil */
    MSN_OBSF_PATH_JSON,      /* str|nil */
    MSN_OBSF_TIMESTAMP_S,    /* int: unix seconds */
    MSN_OBSF_RESOLVED_PATH,  /* array of bin(32)|nil (a node key per hop, nil = unresolved), or nil */
    MSN_OBSF_RAW_HEX,        /* nil | true (= the transmission's raw_hex) | str */
    MSN_OBSF_COUNT
};

#define MSN_SNAPREC_RP_MAX 255 /* hops of a resolved path */

typedef enum {
    MSN_OBS_RAW_NONE, /* nil */
    MSN_OBS_RAW_TX,   /* true: the transmission's raw_hex */
    MSN_OBS_RAW_OWN   /* its own string, in raw_hex */
} msn_obs_raw_t;

typedef struct {
    int64_t id, tx_id, observer_rowid, timestamp_s;
    double snr, rssi, score;
    uint8_t has_observer, has_snr, has_rssi, has_score;
    uint8_t has_rp; /* resolved_path is an array (else nil) */
    msn_sv_t direction, path_json;
    msn_obs_raw_t raw_kind;
    msn_sv_t raw_hex; /* when raw_kind is MSN_OBS_RAW_OWN */
    uint32_t rp_n;
    const uint8_t *rp[MSN_SNAPREC_RP_MAX]; /* 32-byte binary node keys; NULL = unresolved hop */
} msn_snaprec_obs_t;

/** Encodes o (rp_n at most MSN_SNAPREC_RP_MAX; further hops are not written). */
void msn_snaprec_obs_encode(msgpack_sbuffer *sb, const msn_snaprec_obs_t *o);
/** Returns 0, or a MSN_SNAPREC_E* code (ETYPE also for a key that is not 32 bytes or a
 *  path longer than MSN_SNAPREC_RP_MAX). */
int msn_snaprec_obs_decode(const void *val, size_t len, msn_snaprec_obs_t *out);

/* ---- node: one node's /api/nodes object, under its public key ---- */

enum msn_node_field {
    MSN_NODEF_FRAGMENT, /* bin: the JSON object */
    MSN_NODEF_BASE,     /* bin: the row as CoreScope's own lookups return it (no hash-size
                           enrichment): /api/nodes/search, the `node` of health and analytics */
    MSN_NODEF_COUNT
};

typedef struct {
    msn_sv_t fragment, base;
} msn_snaprec_node_t;

void msn_snaprec_node_encode(msgpack_sbuffer *sb, const msn_snaprec_node_t *n);
int msn_snaprec_node_decode(const void *val, size_t len, msn_snaprec_node_t *out);

/* ---- orow: an observer row as observations name it, under its rowid ---- */

enum msn_orow_field {
    MSN_OROWF_ID,   /* str|nil: the observer id (its public key, as stored) */
    MSN_OROWF_NAME, /* str|nil */
    MSN_OROWF_IATA, /* str|nil ("" when the observer has none) */
    MSN_OROWF_COUNT
};

typedef struct {
    msn_sv_t id, name, iata;
} msn_snaprec_orow_t;

void msn_snaprec_orow_encode(msgpack_sbuffer *sb, const msn_snaprec_orow_t *o);
int msn_snaprec_orow_decode(const void *val, size_t len, msn_snaprec_orow_t *out);

/* ---- the "nodes.index" document: /api/nodes without scanning the node table ----
 *
 *   [records, by_name, by_advert_count, counts]
 *   records          array of node index entries (below), sorted by last_seen descending
 *                    (the default sortBy=lastSeen)
 *   by_name          positions into records, sorted by name ascending
 *   by_advert_count  positions into records, sorted by advert_count descending
 *   counts           all-time [repeaters, rooms, companions, sensors]
 */

enum msn_nidx_field {
    MSN_NIDXF_RECORDS,
    MSN_NIDXF_BY_NAME,
    MSN_NIDXF_BY_ADVERT_COUNT,
    MSN_NIDXF_COUNTS,
    MSN_NIDXF_COUNT
};

enum msn_nidx_role {
    MSN_NIDX_REPEATERS,
    MSN_NIDX_ROOMS,
    MSN_NIDX_COMPANIONS,
    MSN_NIDX_SENSORS,
    MSN_NIDX_ROLES
};

/** One node index entry. */
enum msn_nrec_field {
    MSN_NRECF_PUBLIC_KEY,    /* str|nil */
    MSN_NRECF_NAME,          /* str|nil */
    MSN_NRECF_ROLE,          /* str|nil */
    MSN_NRECF_LAST_SEEN_MS,  /* int */
    MSN_NRECF_FIRST_SEEN_MS, /* int */
    MSN_NRECF_ADVERT_COUNT,  /* int */
    MSN_NRECF_COUNT
};

typedef struct {
    msn_sv_t public_key, name, role;
    int64_t last_seen_ms, first_seen_ms, advert_count;
} msn_snaprec_nrec_t;

/** Encodes the whole index: n records (in last_seen order), the two orderings (n
 *  positions each) and the role counts. */
void msn_snaprec_nidx_encode(msgpack_sbuffer *sb, const msn_snaprec_nrec_t *recs, uint32_t n,
                             const uint32_t *by_name, const uint32_t *by_advert_count,
                             const int64_t counts[MSN_NIDX_ROLES]);

/** Reads the index in place, front to back: open, then next until it returns 0, then
 *  orders. Positions are checked to be within the records. */
typedef struct {
    const uint8_t *p, *end; /* the unread part */
    uint32_t n;             /* records in the index */
    uint32_t left;          /* records not read yet */
} msn_nidx_reader_t;

/** Starts reading: *n receives the number of records. Returns 0 or a MSN_SNAPREC_E* code. */
int msn_snaprec_nidx_open(msn_nidx_reader_t *it, const void *doc, size_t len, uint32_t *n);
/** The next record: returns 1 with *rec set, 0 after the last, or a MSN_SNAPREC_E* code. */
int msn_snaprec_nidx_next(msn_nidx_reader_t *it, msn_snaprec_nrec_t *rec);
/** After the last record: fills by_name and by_advert_count (n entries each; either may be
 *  NULL to skip it) and counts (may be NULL). Returns 0 or a MSN_SNAPREC_E* code. */
int msn_snaprec_nidx_orders(msn_nidx_reader_t *it, uint32_t *by_name, uint32_t *by_advert_count,
                            int64_t counts[MSN_NIDX_ROLES]);

/* ---- cmsg: a channel message's /api/channels/:hash/messages object, under its
 * transmission id ---- */

enum msn_cmsg_field {
    MSN_CMSGF_FRAGMENT, /* bin: the JSON object (repeats and timestamp as of its publication) */
    MSN_CMSGF_COUNT
};

typedef struct {
    msn_sv_t fragment;
} msn_snaprec_cmsg_t;

void msn_snaprec_cmsg_encode(msgpack_sbuffer *sb, const msn_snaprec_cmsg_t *m);
int msn_snaprec_cmsg_decode(const void *val, size_t len, msn_snaprec_cmsg_t *out);

/* ---- om: one observer_metrics row, under observer id + timestamp ---- */

enum msn_om_field {
    MSN_OMF_TIMESTAMP,    /* str: as stored (RFC3339) */
    MSN_OMF_NOISE_FLOOR,  /* float|nil */
    MSN_OMF_TX_AIR_SECS,  /* int|nil */
    MSN_OMF_RX_AIR_SECS,  /* int|nil */
    MSN_OMF_RECV_ERRORS,  /* int|nil */
    MSN_OMF_BATTERY_MV,   /* int|nil */
    MSN_OMF_PACKETS_SENT, /* int|nil */
    MSN_OMF_PACKETS_RECV, /* int|nil */
    MSN_OMF_COUNT
};

/* The counters of a row, in MSN_OMF_TX_AIR_SECS.. order. */
enum { MSN_OM_TX_AIR, MSN_OM_RX_AIR, MSN_OM_RECV_ERRORS, MSN_OM_BATTERY, MSN_OM_SENT, MSN_OM_RECV, MSN_OM_INTS };

typedef struct {
    msn_sv_t timestamp;
    double noise_floor;
    uint8_t has_noise_floor;
    int64_t v[MSN_OM_INTS];
    uint8_t has[MSN_OM_INTS];
} msn_snaprec_om_t;

void msn_snaprec_om_encode(msgpack_sbuffer *sb, const msn_snaprec_om_t *m);
int msn_snaprec_om_decode(const void *val, size_t len, msn_snaprec_om_t *out);

/* ---- the "channels.index" document: /api/channels for any region without a scan ----
 *
 *   array of channel entries, each
 *   [hash, encrypted, tx_count, last_activity, last_message, last_sender, regions]
 *   regions  array of [code, observation_count, last_activity]: per upper-case observer
 *            IATA code, the observations of the channel's messages by observers of it and
 *            the newest first_seen among the messages they heard
 */

enum msn_chidx_field {
    MSN_CHIDXF_HASH,          /* str */
    MSN_CHIDXF_ENCRYPTED,     /* bool: an "enc_..." channel hash */
    MSN_CHIDXF_TX_COUNT,      /* int: messages (transmissions) */
    MSN_CHIDXF_LAST_ACTIVITY, /* str|nil: the newest first_seen, as stored */
    MSN_CHIDXF_LAST_MESSAGE,  /* str|nil */
    MSN_CHIDXF_LAST_SENDER,   /* str|nil */
    MSN_CHIDXF_REGIONS,       /* array of [str, int, str|nil] */
    MSN_CHIDXF_COUNT
};

typedef struct {
    msn_sv_t code, last_activity;
    int64_t obs_count;
} msn_snaprec_chreg_t;

typedef struct {
    msn_sv_t hash, last_activity, last_message, last_sender;
    int encrypted;
    int64_t tx_count;
    uint32_t n_regions;
    const msn_snaprec_chreg_t *regions; /* encoding only; decoding reads them with _region */
} msn_snaprec_chan_t;

/** Encodes the index: n channel entries. */
void msn_snaprec_chidx_encode(msgpack_sbuffer *sb, const msn_snaprec_chan_t *chans, uint32_t n);

/** Reads the index in place: open, then next per channel (its regions with region). */
typedef struct {
    const uint8_t *p, *end;
    uint32_t left;         /* channels not read yet */
    uint32_t regions_left; /* regions of the current channel not read yet */
} msn_chidx_reader_t;

/** Starts reading: *n receives the number of channels. Returns 0 or a MSN_SNAPREC_E* code. */
int msn_snaprec_chidx_open(msn_chidx_reader_t *it, const void *doc, size_t len, uint32_t *n);
/** The next channel (regions set to NULL, n_regions to its count): returns 1, 0 after the
 *  last, or a MSN_SNAPREC_E* code. Its regions must be read (or skipped by the next call). */
int msn_snaprec_chidx_next(msn_chidx_reader_t *it, msn_snaprec_chan_t *ch);
/** The current channel's next region: returns 1, 0 after its last, or an error code. */
int msn_snaprec_chidx_region(msn_chidx_reader_t *it, msn_snaprec_chreg_t *rg);

/* ---- doc: a ready-to-send document, under its name ---- */

enum msn_doc_field {
    MSN_DOCF_BODY,            /* bin */
    MSN_DOCF_GEN,             /* int: the generation that wrote it */
    MSN_DOCF_PUBLISHED_AT_MS, /* int */
    MSN_DOCF_GZIP,            /* bin|nil: the body gzip-compressed */
    MSN_DOCF_ETAG,            /* str: quoted strong ETag of the body */
    MSN_DOCF_EXPIRES_AT_MS,   /* int: when the master next republishes it (0 = unknown) */
    MSN_DOCF_COUNT
};

/** A document (pointers into the value when decoded). */
typedef struct {
    const void *body;
    size_t len;
    const void *gz; /* NULL when there is no compressed copy */
    size_t gz_len;
    char etag[24]; /* quoted strong ETag of body; the gzip copy's is etag with "-gz" inserted */
    uint64_t gen;
    int64_t published_at_ms;
    int64_t expires_at_ms;
} msn_doc_t;

void msn_snaprec_doc_encode(msgpack_sbuffer *sb, const msn_doc_t *d);
/** Returns 0, or a MSN_SNAPREC_E* code (ETYPE also for an ETag longer than 23 bytes). */
int msn_snaprec_doc_decode(const void *val, size_t len, msn_doc_t *out);

/* ---- meta: the generation, under "meta" ---- */

/** The map keys of meta. */
#define MSN_META_FORMAT "format"
#define MSN_META_GEN "gen"
#define MSN_META_PUBLISHED_AT "published_at"
#define MSN_META_MASTER_START "master_start"
#define MSN_META_MAX_TX_ID "max_tx_id"
#define MSN_META_MAX_OBS_ID "max_obs_id"
#define MSN_META_TX_COUNT "tx_count"
#define MSN_META_OBS_COUNT "obs_count"
#define MSN_META_LEGACY_SCHEMA "legacy_schema"
#define MSN_META_SOURCE_DB "source_db"

typedef struct {
    uint32_t format; /* MSN_SNAP_FORMAT when this binary wrote it; 0 when absent */
    uint64_t gen;
    int64_t published_at_ms;
    int64_t master_start_ms; /* start time of the master run that published it */
    int64_t max_tx_id, max_obs_id;
    int64_t tx_count, obs_count;
    int legacy_schema;
    char source_db[512];
} msn_snap_meta_t;

/** Encodes every field of m, format included (as given), sealed. */
void msn_snaprec_meta_encode(msgpack_sbuffer *sb, const msn_snap_meta_t *m);
/** Decodes the keys it knows and skips the others (so that a meta of any format shows its
 *  version); absent keys are 0. A meta without a seal is read as one of another format
 *  (before checksums, or unknown: refused by its format); one naming MSN_SNAP_FORMAT
 *  there is damaged. Returns 0, MSN_SNAPREC_ETYPE,
 *  MSN_SNAPREC_ECHECKSUM, or MSN_SNAPREC_ESHAPE (also when there is no generation). The
 *  format is not checked here. */
int msn_snaprec_meta_decode(const void *val, size_t len, msn_snap_meta_t *out);

/* ---- fx: one entry of a packet list (DUPFIXED: fixed size, sorts by id) ---- */

typedef struct {
    uint8_t id_be[8];
    uint8_t first_seen_ms_be[8];
    uint8_t payload_type; /* 255 when unknown */
    uint8_t route_type;   /* 255 when unknown */
    uint8_t sum[4];       /* checksum of the list key and the 18 bytes before (msn_snaprec_fx_seal) */
    uint8_t _pad[2];
} msn_fx_rec_t;

#define MSN_FX_SUMMED 18 /* the bytes of an entry its checksum covers (with its list key) */

/** The list entry of a transmission (payload_type/route_type < 0: unknown). */
void msn_snaprec_fx_make(msn_fx_rec_t *rec, uint64_t id, int64_t first_seen_ms, int64_t payload_type,
                         int64_t route_type);
/** Fills rec->sum for the entry as stored under list key `key`. */
void msn_snaprec_fx_seal(msn_fx_rec_t *rec, const void *key, size_t klen);
/** 0 when rec matches its checksum under list key `key`, else MSN_SNAPREC_ECHECKSUM. */
int msn_snaprec_fx_check(const msn_fx_rec_t *rec, const void *key, size_t klen);
/** The entry in an LMDB value, or NULL when the value is not an entry's size. Inline, as
 *  the accessors: list walks call them per entry. */
static inline const msn_fx_rec_t *msn_snaprec_fx_of(const void *val, size_t len);
static inline uint64_t msn_snaprec_fx_id(const msn_fx_rec_t *rec);
static inline int64_t msn_snaprec_fx_first_seen_ms(const msn_fx_rec_t *rec);

/* ---- oid and hash values: a transmission id (8 bytes) and the checksum of key and id ---- */

#define MSN_SNAPREC_ID_LEN 12

/** The value stored under key (klen bytes) for transmission id. */
void msn_snaprec_id_encode(uint8_t out[MSN_SNAPREC_ID_LEN], const void *key, size_t klen, uint64_t id);
/** Returns 0 with *id set, MSN_SNAPREC_ESHAPE when the value is not MSN_SNAPREC_ID_LEN
 *  bytes, or MSN_SNAPREC_ECHECKSUM when key and value do not match the checksum. */
int msn_snaprec_id_decode(const void *val, size_t len, const void *key, size_t klen, uint64_t *id);

/* ---- ft and fl values: a checksum of their key (and text), then ft's text ---- */

#define MSN_SNAPREC_KEYSUM_LEN 4

/** fl's value: the checksum of its key (MSN_SNAPREC_KEYSUM_LEN bytes). */
void msn_snaprec_keysum(uint8_t out[MSN_SNAPREC_KEYSUM_LEN], const void *key, size_t klen);
/** ft's value into out[0..n): the checksum of the key and text, then text[0..tlen) (cut
 *  to what fits in n). Returns the value's length (0 when n cannot hold the checksum). */
size_t msn_snaprec_timeval(uint8_t *out, size_t n, const void *key, size_t klen, const char *text, size_t tlen);
/** 0 when val (a checksum, then any text) matches key; MSN_SNAPREC_ESHAPE (shorter than a
 *  checksum) or MSN_SNAPREC_ECHECKSUM. The text is val + MSN_SNAPREC_KEYSUM_LEN. */
int msn_snaprec_keysum_check(const void *val, size_t len, const void *key, size_t klen);

static inline const msn_fx_rec_t *msn_snaprec_fx_of(const void *val, size_t len)
{
    return len == sizeof(msn_fx_rec_t) ? (const msn_fx_rec_t *)val : NULL;
}

static inline uint64_t msn_snaprec_fx_id(const msn_fx_rec_t *rec)
{
    return msn_be64_get(rec->id_be);
}

static inline int64_t msn_snaprec_fx_first_seen_ms(const msn_fx_rec_t *rec)
{
    return (int64_t)msn_be64_get(rec->first_seen_ms_be);
}

#endif
