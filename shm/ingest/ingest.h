/*
 * ingest.h: the one writer of packets into a CoreScope database, shared by `meshsnap
 * import` (cli/import.c) and the ingestor process (ingestor/). It reads one message (an
 * import line, or an MQTT message with its topic), decides what CoreScope's ingestor would
 * store, and writes it (data-model spec §1-§5; cmd/ingestor InsertTransmission,
 * UpsertNode, UpsertObserverAt, the status handler).
 *
 *   msg.c      one message: the strict JSON object parser and its fields (packet and
 *              status), the topic, the timestamp rules, and the per-packet checks
 *              (decode, corrupted advert, signature) -> a prepared item
 *   writer.c   the rows: transmission dedup by content hash, one observation per
 *              (transmission, observer, path), node upserts from adverts, observer
 *              upserts from packets and status messages, observer_metrics,
 *              dropped_packets; collected per batch and committed through shm/sqlw.h
 *   rules.c    the switches below, their presets and their names
 *   edges.c    the neighbour-edge builder (data-model spec §7)
 *
 * ---- Messages -----------------------------------------------------------------------------
 * An MQTT message is read as CoreScope's ingestor reads it (notes §2-§3): the topic
 * `meshcore/<IATA>/<OBSERVER>/...` gives the observer id (segment 2; none when absent) and
 * its region (segment 1, else the broker's configured region); a topic whose segment 3 is
 * `status` is a status message; `meshcore/status` and `meshcore/events/connection` are
 * ignored; anything else with a "raw" string is a packet. JSON fields: raw, origin (the
 * observer's name), region (overrides the topic's), SNR else snr, RSSI else rssi, score
 * else Score, direction else Direction (the first spelling wins whenever present),
 * timestamp; status fields as msn_ingest_fields_t lists them ("stats" object first).
 * An import line (no topic) is read as `meshsnap import` always read it: observer (alias
 * observer_id, required), observer_name or origin, iata or region, the aliases last-wins.
 * An import line that carries a "topic" key is read as that MQTT message (recorded traffic).
 *
 * ---- Rules: where CoreScope's ingestor and the importer differ ----------------------------
 * Each difference is a switch (msn_ingest_rules_t); the ingestor defaults to CoreScope's
 * behaviour (msn_ingest_rules_corescope), `meshsnap import` to its documented one
 * (msn_ingest_rules_import); both take the same switches by name (msn_ingest_rule_set:
 * [mqtt] keys, `meshsnap import --rules/--rule`). Not switchable, the same in both:
 * observations are looked up before insert (ids without gaps: CoreScope's ON CONFLICT
 * upsert burns an AUTOINCREMENT id per repeat), no region keys (scope_name "" for
 * transport-scoped packets), no geo filter, no naive-clock skew columns, no companion
 * (Format 2) or client-RX topics. The full list is in docs/ingest.md.
 *
 * Idempotence: with the import rules a replayed message changes nothing (every counter
 * moves only with rows inserted). With the CoreScope rules a replay adds no row either
 * (transmissions by hash, observations by key) but moves the per-message counters
 * (observers.packet_count) and times, as CoreScope does; the ingestor therefore never
 * replays a committed message (ingestor/ingestor.c).
 *
 * Threads: a prep (msn_ingest_prep_t) and a writer are each used by one thread at a time;
 * the importer prepares on one thread and writes on another.
 */
#ifndef MSN_INGEST_H
#define MSN_INGEST_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "../buf.h"
#include "../codec/codec.h"
#include "../pathres.h"
#include "../sqlw.h"

#include "rules.h"

/* ---- one message ----------------------------------------------------------------------- */

/* Status-message numeric fields (index into msn_ingest_fields_t.st_num). */
enum {
    MSN_ST_BATTERY_MV,
    MSN_ST_UPTIME_SECS,
    MSN_ST_NOISE_FLOOR,
    MSN_ST_TX_AIR_SECS,
    MSN_ST_RX_AIR_SECS,
    MSN_ST_RECV_ERRORS,
    MSN_ST_PACKETS_SENT,
    MSN_ST_PACKETS_RECV,
    MSN_ST_NUM_COUNT
};
/* Status-message text fields (index into st_str). */
enum { MSN_ST_MODEL, MSN_ST_FIRMWARE, MSN_ST_CLIENT_VERSION, MSN_ST_RADIO, MSN_ST_STR_COUNT };

/** The fields of one JSON message. Strings are unescaped, NUL-terminated copies owned by
 *  the struct (reused from message to message); has_* says whether the key was present
 *  with a value of the expected type (`null` or another type counts as absent). For the
 *  aliased pairs, `alt` records the second spelling separately (SNR/snr, RSSI/rssi,
 *  score/Score, direction/Direction): the merged value is the last one given (import
 *  lines); MQTT messages prefer the first spelling whenever its key is present. */
typedef struct {
    msn_buf_t raw, observer, name, iata, direction, ts_str;
    int has_raw, has_observer, has_name, has_iata, has_direction;
    int has_snr, has_rssi, has_score;
    double snr, rssi, score;
    int ts_kind; /* 0 absent, 1 number (ts_num), 2 string (ts_str), 3 another type */
    double ts_num;
    /* MQTT reading: origin and region separately; the first spelling of each pair */
    msn_buf_t origin, region, topic, dir1;
    int has_origin, has_region, has_topic;
    int key1_snr, key1_rssi, key1_score, key1_dir; /* the first spelling's key was present */
    int has1_snr, has1_rssi, has1_score, has1_dir; /* ... with a usable value */
    double snr1, rssi1, score1;
    /* status messages */
    msn_buf_t st_str[MSN_ST_STR_COUNT];
    int has_st_str[MSN_ST_STR_COUNT];
    double st_num[MSN_ST_NUM_COUNT];
    int has_st_num[MSN_ST_NUM_COUNT];
    int repeat; /* -1 absent, 0 off, 1 on */
} msn_ingest_fields_t;

/* Why a message was rejected (index into msn_ingest_reason_names). 0 = not rejected. */
enum {
    MSN_INGEST_OK = 0,
    MSN_INGEST_R_JSON,     /* not a JSON object */
    MSN_INGEST_R_RAW,      /* no "raw" string */
    MSN_INGEST_R_HEX,      /* "raw" is not hex */
    MSN_INGEST_R_DECODE,   /* the decoder rejects the packet */
    MSN_INGEST_R_OBSERVER, /* no "observer" string (import lines without a topic) */
    MSN_INGEST_R_TIME,     /* "timestamp" is neither unix seconds nor RFC3339 (message time) */
    MSN_INGEST_R_ADVERT,   /* an ADVERT the ingestor drops as corrupted (zero key, lat/lon) */
    MSN_INGEST_R_SIG,      /* an ADVERT whose signature does not verify (reject rule) */
    MSN_INGEST_R_TOPIC,    /* a topic CoreScope ignores (meshcore/status, events, no raw) */
    MSN_INGEST_R_FILTER,   /* a region the broker's iata filter does not take */
    MSN_INGEST_R_COUNT
};

/** Short names of the reasons, indexed by MSN_INGEST_R_* ("not JSON", "bad hex", ...). */
extern const char *const msn_ingest_reason_names[MSN_INGEST_R_COUNT];

/** Prepares an empty field record / releases its buffers. */
void msn_ingest_fields_init(msn_ingest_fields_t *l);
void msn_ingest_fields_free(msn_ingest_fields_t *l);

/** Parses s[0..n) as a JSON object and fills l with the fields it knows (packet fields,
 *  their aliases, "topic", status fields, the "stats" object). Other keys are validated
 *  and ignored; a key given twice keeps its last value. Numbers may be given as numeric
 *  strings with an optional unit (dBm, dB, mW, km, mi, m), as the ingestor accepts.
 *  Returns 0, or -1 with why (whylen bytes) saying where the text stops being JSON. */
int msn_ingest_parse_json(msn_ingest_fields_t *l, const char *s, size_t n, char *why, size_t whylen);

/** The message's timestamp in unix seconds: a JSON number (seconds, fraction dropped), a
 *  string of digits (seconds), or an RFC3339 string (fraction and offset allowed; without
 *  a zone it is UTC). Returns 0 with *out set, 1 when absent, -1 when not a time between
 *  1970 and 9999. */
int msn_ingest_fields_time(const msn_ingest_fields_t *l, int64_t *out);

/** Where an MQTT message came from: its topic and the broker's settings. */
typedef struct {
    const char *topic;         /* the MQTT topic (NULL: an import line without one) */
    const char *region;        /* the broker's fallback region, or NULL */
    const char *const *iata_filter; /* the broker's region allow-list (exact, case-sensitive), or NULL */
    int n_iata_filter;
} msn_ingest_src_t;

/* What a message is. */
enum { MSN_INGEST_PACKET = 0, MSN_INGEST_STATUS };

/** One message with everything computed that needs no database: msn_ingest_prepare fills
 *  it, msn_ingest_write turns it into rows. The struct owns its buffers and is reused. */
typedef struct {
    int64_t lineno; /* 1-based line number in the input (import) or message number */
    int64_t offset; /* input bytes read up to the end of this line (import) */
    int blank;      /* an empty or all-blank line: skipped, not counted */
    int reason;     /* MSN_INGEST_OK, or why the message is rejected */
    char why[256];  /* details of the rejection ("" when none) */
    int kind;       /* MSN_INGEST_PACKET or MSN_INGEST_STATUS */
    msn_ingest_fields_t l;
    int64_t ts;     /* unix seconds: the packet time (see the packet_time rule) */
    /* the observer as the rules read it */
    msn_buf_t obs_id;       /* "" = none: observer_idx NULL and no observer row */
    int set_name, set_iata; /* write name/iata ("" when blank_missing and absent) */
    msn_buf_t obs_name, obs_iata; /* obs_iata trimmed and uppercased */
    /* packets */
    char hash[17];                 /* content hash of l.raw as given */
    msn_packet_t pkt;              /* decode of l.raw (with keys when `first`) */
    int keyed;                     /* an ADVERT with a public key (the node upsert) */
    int sig_bad;                   /* ... whose signature fails: a dropped_packets row */
    char pubkey[65];               /* its key, lowercase hex ("" otherwise) */
    msn_buf_t path_json, resolved; /* observation path_json; resolved_path (len 0 = NULL) */
    /* The first accepted message of its hash since the prep started. Only then are these
     * set: what a new transmission row needs (msn_ingest_complete sets them later). */
    int first;
    msn_buf_t decoded_json, channel_hash; /* channel_hash.len 0 = NULL */
    int scope_null;                       /* scope_name NULL (else "" : no region keys are configured) */
} msn_ingest_item_t;

/** Prepares an empty item / releases its buffers. */
void msn_ingest_item_init(msn_ingest_item_t *it);
void msn_ingest_item_free(msn_ingest_item_t *it);

/** The per-thread state of msn_ingest_prepare. */
typedef struct msn_ingest_prep msn_ingest_prep_t;

/** keys: channel keys (used by this prep only: a key set must not be shared between
 *  threads); rules: copied; pr: the built resolver (may be NULL: no resolved_path).
 *  keys and pr are borrowed. */
msn_ingest_prep_t *msn_ingest_prep_new(msn_chankeys_t *keys, const msn_ingest_rules_t *rules,
                                       const msn_pathres_t *pr);
/** Replaces the resolver (borrowed; NULL: none) for the messages prepared from now on. */
void msn_ingest_prep_set_resolver(msn_ingest_prep_t *p, const msn_pathres_t *pr);
void msn_ingest_prep_free(msn_ingest_prep_t *p);

/** Fills it from one message (s[0..n)): parse, topic (src; NULL for an import line),
 *  checks (JSON, raw, hex, decoder, observer, timestamp, corrupted advert, advert
 *  signature), hash, path_json, resolved_path and, for the first accepted message of a
 *  hash, the transmission columns. Messages are expected in order: "first" depends on
 *  the ones before. now_s is the receive time (and the time of a message without a
 *  timestamp). it->lineno/offset are left to the caller. */
void msn_ingest_prepare(msn_ingest_prep_t *p, msn_ingest_item_t *it, const char *s, size_t n, int64_t now_s,
                        const msn_ingest_src_t *src);

/** Computes the transmission columns of an accepted packet item that is not `first`
 *  (for a writer that found its transmission gone: msn_ingest_write returned
 *  MSN_INGEST_NEED_FIRST), the same as for the first message of its hash. */
void msn_ingest_complete(msn_ingest_prep_t *p, msn_ingest_item_t *it);

/** Decodes raw hex without channel keys or signature check. Returns MSN_INGEST_OK, or
 *  MSN_INGEST_R_HEX / MSN_INGEST_R_DECODE with why set. */
int msn_ingest_decode_light(msn_packet_t *pkt, const char *raw, size_t n, char *why, size_t whylen);

/** 1 when pkt is an ADVERT that carries a public key (the ingestor's advert path). */
int msn_ingest_is_keyed_advert(const msn_packet_t *pkt);

/** The ingestor's corrupted-advert check (ValidateAdvert) for a keyed advert: the key must
 *  not be all zeros, lat within ±90 and lon within ±180. Returns MSN_INGEST_OK or
 *  MSN_INGEST_R_ADVERT with why set. */
int msn_ingest_check_advert(const msn_packet_t *pkt, char *why, size_t whylen);

/** Verifies the signature of a keyed advert by decoding raw again with verification.
 *  Returns 1 when valid, 0 when not. */
int msn_ingest_advert_signature_ok(msn_packet_t *scratch, const char *raw, size_t n);

/* ---- the writer -------------------------------------------------------------------------- */

typedef struct msn_ingest_writer msn_ingest_writer_t;

/** Counters of one writer (the rows written by its committed transactions, by kind). */
typedef struct {
    int64_t tx_new;        /* transmissions inserted */
    int64_t tx_known;      /* packets whose transmission already existed */
    int64_t obs_new;       /* observations inserted */
    int64_t obs_dup;       /* packets whose (transmission, observer, path) already existed */
    int64_t adverts;       /* node upserts (keyed adverts) */
    int64_t observers_new; /* observers inserted */
    int64_t status_msgs;   /* status messages written */
    int64_t dropped;       /* dropped_packets rows (bad advert signatures) */
    int64_t commits;       /* batches committed */
} msn_ingest_stats_t;

/* msn_ingest_write: the transmission of a non-first item is not in the database. */
#define MSN_INGEST_NEED_FIRST 1

/** Prepares the writer on db (a read-write connection to a CoreScope database whose
 *  transmissions/observations/nodes/observers tables exist): rules are copied, wo gives
 *  the batch bounds (shm/sqlw.h). Fails on a database it cannot write the way the
 *  ingestor does (no observations.observer_idx). Returns 0 and *out, or -1 with err set. */
int msn_ingest_writer_open(sqlite3 *db, const msn_ingest_rules_t *rules, const msn_sqlw_opts_t *wo,
                           msn_ingest_writer_t **out, char *err, size_t errlen);

/** Writes one prepared, accepted item (it->reason == MSN_INGEST_OK). Opens a write
 *  transaction when none is open. Returns 0; MSN_INGEST_NEED_FIRST when a non-first
 *  packet's transmission is missing (nothing written: complete the item and write it
 *  again); or -1 on a database error (err set): the transaction may then hold part of
 *  the message, so the caller rolls back (msn_ingest_rollback). */
int msn_ingest_write(msn_ingest_writer_t *im, const msn_ingest_item_t *it, char *err, size_t errlen);

/** 1 when the open batch is due (batch_max items or batch_ms old: shm/sqlw.h). */
int msn_ingest_due(const msn_ingest_writer_t *im);

/** Flushes the pending counters and commits the open transaction (no-op when none is
 *  open), then checkpoints the WAL when due (shm/sqlw.h, own checkpoints), unless
 *  checkpoints are deferred. Returns 0, or -1 with err set (the batch is then rolled back). */
int msn_ingest_commit(msn_ingest_writer_t *im, char *err, size_t errlen);

/** From now on msn_ingest_commit does not checkpoint: the caller runs
 *  msn_ingest_checkpoint after what must follow a commit at once (the ingestor's
 *  acknowledgements). */
void msn_ingest_defer_checkpoints(msn_ingest_writer_t *im);

/** msn_sqlw_checkpoint on the writer's connection: 1 when a checkpoint ran, 0 when none
 *  was due, -1 on an error (logged). */
int msn_ingest_checkpoint(msn_ingest_writer_t *im);

/** Rolls back the open transaction and forgets what the batch collected. */
void msn_ingest_rollback(msn_ingest_writer_t *im);

/** Whether a write transaction is open. */
int msn_ingest_in_txn(const msn_ingest_writer_t *im);

/** The writer's connection (to add rows of one's own to the open batch). */
sqlite3 *msn_ingest_db(const msn_ingest_writer_t *im);

/** The counters of the transactions committed so far (a rolled-back one counts nothing)
 *  / the batch discipline's statistics. */
const msn_ingest_stats_t *msn_ingest_stats(const msn_ingest_writer_t *im);
const msn_sqlw_t *msn_ingest_sqlw(const msn_ingest_writer_t *im);

/** What the writer detected, for the log ("current schema", "legacy schema without the
 *  observation dedup index", ...). */
const char *msn_ingest_mode(const msn_ingest_writer_t *im);

/** Rolls back an open transaction, finalizes the statements and frees the writer (the
 *  connection stays open; NULL is fine). */
void msn_ingest_writer_close(msn_ingest_writer_t *im);

/* ---- neighbour edges (data-model spec §7) ----------------------------------------------------- */

/** One pass of CoreScope's neighbour-edge builder: from the observations newer than the
 *  newest edge (at most 50,000, in timestamp order) derives the direct links (zero-hop
 *  advert: originator-observer; originator-first hop; observer-last hop, each hop resolved
 *  only when its prefix has one candidate among all nodes) and upserts them in one short
 *  transaction. *rows (may be NULL) gets the observations scanned: a full pass (50,000)
 *  means more may follow. Returns 0, or -1 with err set. No-op without neighbor_edges. */
int msn_ingest_build_edges(sqlite3 *db, int64_t *rows, char *err, size_t errlen);

#endif
