/*
 * import_int.h: the parts of `meshsnap import` shared by cli/import*.c (not for other
 * modules). See import.h for the command and the rules it follows.
 *
 *   import_line.c   one input line: the JSON object, its fields, its timestamp, and the
 *                   packet checks every line goes through (decode, advert validation)
 *   import_db.c     the writer: prepared statements, the hash and observer caches, one
 *                   line -> transmission/observation/node/observer rows, batches
 *   import.c        the command: options, input (with the node prescan), progress,
 *                   the report of rejected lines, the exit status
 */
#ifndef MSN_INGEST_H
#define MSN_INGEST_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "../buf.h"
#include "../codec/codec.h"
#include "../pathres.h"

/* ---- one input line ------------------------------------------------------------------- */

/** The fields of one input line. Strings are unescaped, NUL-terminated copies owned by the
 *  struct (reused from line to line); has_* says whether the key was present with a value
 *  of the expected type (a `null` or a value of another type counts as absent). */
typedef struct {
    msn_buf_t raw, observer, name, iata, direction, ts_str;
    int has_raw, has_observer, has_name, has_iata, has_direction;
    int has_snr, has_rssi, has_score;
    double snr, rssi, score;
    int ts_kind; /* 0 absent, 1 number (ts_num), 2 string (ts_str) */
    double ts_num;
} msn_ingest_fields_t;

/* Why a line was rejected (index into msn_ingest_reason_names). 0 = not rejected. */
enum {
    MSN_INGEST_OK = 0,
    MSN_INGEST_R_JSON,     /* not a JSON object */
    MSN_INGEST_R_RAW,      /* no "raw" string */
    MSN_INGEST_R_HEX,      /* "raw" is not hex */
    MSN_INGEST_R_DECODE,   /* the decoder rejects the packet */
    MSN_INGEST_R_OBSERVER, /* no "observer" string */
    MSN_INGEST_R_TIME,     /* "timestamp" is neither unix seconds nor RFC3339 */
    MSN_INGEST_R_ADVERT,   /* an ADVERT the ingestor drops as corrupted (zero key, lat/lon) */
    MSN_INGEST_R_SIG,      /* an ADVERT whose signature does not verify */
    MSN_INGEST_R_COUNT
};

/** Short names of the reasons, indexed by MSN_INGEST_R_* ("not JSON", "bad hex", ...). */
extern const char *const msn_ingest_reason_names[MSN_INGEST_R_COUNT];

/** Prepares an empty line record. */
void msn_ingest_fields_init(msn_ingest_fields_t *l);
/** Releases the buffers of a line record. */
void msn_ingest_fields_free(msn_ingest_fields_t *l);

/** Parses s[0..n) (one line without its newline) as a JSON object and fills l with the
 *  fields it knows: raw, observer (alias observer_id), observer_name (alias origin), iata
 *  (alias region), snr/SNR, rssi/RSSI, score/Score, direction/Direction, timestamp. Other
 *  keys are validated and ignored; a key given twice keeps its last value. snr, rssi and
 *  score may be numbers or numeric strings (a trailing dB/dBm is allowed, as the ingestor
 *  accepts); anything else leaves them absent. Returns 0, or -1 with why (whylen bytes)
 *  saying where the text stops being JSON. */
int msn_ingest_parse_json(msn_ingest_fields_t *l, const char *s, size_t n, char *why, size_t whylen);

/** The line's timestamp in unix seconds: a JSON number (seconds, fraction dropped), a
 *  string of digits (seconds), or an RFC3339 string ("2026-05-17T16:01:39Z", fraction and
 *  offset allowed; without a zone it is UTC). Returns 0 with *out set, 1 when the line has
 *  no timestamp, -1 when it is not a time between 1970 and 9999. */
int msn_ingest_fields_time(const msn_ingest_fields_t *l, int64_t *out);

/* ---- a prepared line ------------------------------------------------------------------- */

/** One input line with everything computed that needs no database: the reader thread
 *  fills it (msn_ingest_prepare), the writer turns it into rows (msn_ingest_write).
 *  The struct owns its buffers and is reused from line to line. */
typedef struct {
    int64_t lineno; /* 1-based line number in the input */
    int64_t offset; /* input bytes read up to the end of this line */
    int blank;      /* an empty or all-blank line: skipped, not counted */
    int reason;     /* MSN_INGEST_OK, or why the line is rejected */
    char why[256];  /* details of the rejection ("" when none) */
    msn_ingest_fields_t l;
    int64_t ts;                    /* unix seconds: the line's timestamp, or the time it was read */
    char hash[17];                 /* content hash of l.raw as given */
    msn_packet_t pkt;              /* decode of l.raw (with keys when `first`) */
    int keyed;                     /* an ADVERT with a public key (the node upsert) */
    char pubkey[65];               /* its key, lowercase hex ("" otherwise) */
    msn_buf_t path_json, resolved; /* observation path_json; resolved_path (len 0 = NULL) */
    /* The first accepted line of its hash in this input. Only then are these set: what a
     * new transmission row needs. */
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
 *  threads); verify: check advert signatures; pr: the built resolver (may be NULL: no
 *  resolved_path). All borrowed. */
msn_ingest_prep_t *msn_ingest_prep_new(msn_chankeys_t *keys, int verify, const msn_pathres_t *pr);
void msn_ingest_prep_free(msn_ingest_prep_t *p);

/** Fills it from one line (s[0..n), without its newline): parse, checks (JSON, raw, hex,
 *  decoder, observer, timestamp, corrupted advert, advert signature), hash, path_json,
 *  resolved_path and, for the first accepted line of a hash, the transmission columns.
 *  Lines are expected in input order: "first" depends on the lines before. A line without
 *  a timestamp gets now_s. it->lineno/offset are left to the caller. */
void msn_ingest_prepare(msn_ingest_prep_t *p, msn_ingest_item_t *it, const char *s, size_t n, int64_t now_s);

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

/** Counters of one import (the rows written, by kind). */
typedef struct {
    int64_t tx_new;        /* transmissions inserted */
    int64_t tx_known;      /* lines whose transmission already existed */
    int64_t obs_new;       /* observations inserted */
    int64_t obs_dup;       /* lines whose (transmission, observer, path) already existed */
    int64_t adverts;       /* node upserts (keyed adverts) */
    int64_t observers_new; /* observers inserted */
    int64_t commits;       /* batches committed */
} msn_ingest_stats_t;

/** Prepares the writer on db (a read-write connection to a CoreScope database whose
 *  transmissions/observations/nodes/observers tables exist). Fails on a database it cannot
 *  write the way the ingestor does (no observations.observer_idx). Returns 0 and *out, or
 *  -1 with err set. */
int msn_ingest_writer_open(sqlite3 *db, msn_ingest_writer_t **out, char *err, size_t errlen);

/** Writes one prepared, accepted item (it->reason == MSN_INGEST_OK). Opens a write
 *  transaction when none is open (BEGIN IMMEDIATE, waiting for another writer). Returns 0,
 *  or -1 on a database error (err set): the transaction may then hold part of the line,
 *  so the caller stops and lets msn_ingest_writer_close roll it back. */
int msn_ingest_write(msn_ingest_writer_t *im, const msn_ingest_item_t *it, char *err, size_t errlen);

/** Flushes the pending counters and commits the open transaction (no-op when none is
 *  open). Returns 0, or -1 with err set. */
int msn_ingest_commit(msn_ingest_writer_t *im, char *err, size_t errlen);

/** Whether a write transaction is open. */
int msn_ingest_in_txn(const msn_ingest_writer_t *im);

/** The counters so far. */
const msn_ingest_stats_t *msn_ingest_stats(const msn_ingest_writer_t *im);

/** What the writer detected, for the log ("current schema", "legacy schema without the
 *  observation dedup index", ...). */
const char *msn_ingest_mode(const msn_ingest_writer_t *im);

/** Rolls back an open transaction, finalizes the statements and frees the writer (the
 *  connection stays open; NULL is fine). */
void msn_ingest_writer_close(msn_ingest_writer_t *im);

#endif
