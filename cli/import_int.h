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
#ifndef MSN_CLI_IMPORT_INT_H
#define MSN_CLI_IMPORT_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/buf.h"
#include "shm/codec/codec.h"
#include "shm/pathres.h"

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
} msn_import_line_t;

/* Why a line was rejected (index into msn_import__reason_names). 0 = not rejected. */
enum {
    MSN_IMPORT_OK = 0,
    MSN_IMPORT_R_JSON,     /* not a JSON object */
    MSN_IMPORT_R_RAW,      /* no "raw" string */
    MSN_IMPORT_R_HEX,      /* "raw" is not hex */
    MSN_IMPORT_R_DECODE,   /* the decoder rejects the packet */
    MSN_IMPORT_R_OBSERVER, /* no "observer" string */
    MSN_IMPORT_R_TIME,     /* "timestamp" is neither unix seconds nor RFC3339 */
    MSN_IMPORT_R_ADVERT,   /* an ADVERT the ingestor drops as corrupted (zero key, lat/lon) */
    MSN_IMPORT_R_SIG,      /* an ADVERT whose signature does not verify */
    MSN_IMPORT_R_COUNT
};

/** Short names of the reasons, indexed by MSN_IMPORT_R_* ("not JSON", "bad hex", ...). */
extern const char *const msn_import__reason_names[MSN_IMPORT_R_COUNT];

/** Prepares an empty line record. */
void msn_import__line_init(msn_import_line_t *l);
/** Releases the buffers of a line record. */
void msn_import__line_free(msn_import_line_t *l);

/** Parses s[0..n) (one line without its newline) as a JSON object and fills l with the
 *  fields it knows: raw, observer (alias observer_id), observer_name (alias origin), iata
 *  (alias region), snr/SNR, rssi/RSSI, score/Score, direction/Direction, timestamp. Other
 *  keys are validated and ignored; a key given twice keeps its last value. snr, rssi and
 *  score may be numbers or numeric strings (a trailing dB/dBm is allowed, as the ingestor
 *  accepts); anything else leaves them absent. Returns 0, or -1 with why (whylen bytes)
 *  saying where the text stops being JSON. */
int msn_import__parse_line(msn_import_line_t *l, const char *s, size_t n, char *why, size_t whylen);

/** The line's timestamp in unix seconds: a JSON number (seconds, fraction dropped), a
 *  string of digits (seconds), or an RFC3339 string ("2026-05-17T16:01:39Z", fraction and
 *  offset allowed; without a zone it is UTC). Returns 0 with *out set, 1 when the line has
 *  no timestamp, -1 when it is not a time between 1970 and 9999. */
int msn_import__line_time(const msn_import_line_t *l, int64_t *out);

/** Decodes the line's raw hex without channel keys or signature check (what every copy of
 *  a packet needs: header, path, advert fields). Returns MSN_IMPORT_OK, or
 *  MSN_IMPORT_R_HEX / MSN_IMPORT_R_DECODE with why set. */
int msn_import__decode_light(msn_packet_t *pkt, const char *raw, size_t n, char *why, size_t whylen);

/** 1 when pkt is an ADVERT that carries a public key (the ingestor's advert path). */
int msn_import__is_keyed_advert(const msn_packet_t *pkt);

/** The ingestor's corrupted-advert check (ValidateAdvert) for a keyed advert: the key must
 *  not be all zeros, lat within ±90 and lon within ±180. Returns MSN_IMPORT_OK or
 *  MSN_IMPORT_R_ADVERT with why set. */
int msn_import__check_advert(const msn_packet_t *pkt, char *why, size_t whylen);

/** Verifies the signature of a keyed advert by decoding raw again with verification.
 *  Returns 1 when valid, 0 when not. */
int msn_import__advert_signature_ok(msn_packet_t *scratch, const char *raw, size_t n);

/* ---- the writer -------------------------------------------------------------------------- */

typedef struct msn_importer msn_importer_t;

/** Counters of one import (the rows written, by kind). */
typedef struct {
    int64_t tx_new;         /* transmissions inserted */
    int64_t tx_known;       /* lines whose transmission already existed */
    int64_t obs_new;        /* observations inserted */
    int64_t obs_dup;        /* lines whose (transmission, observer, path) already existed */
    int64_t adverts;        /* node upserts (keyed adverts) */
    int64_t nodes_new;      /* nodes inserted */
    int64_t observers_new;  /* observers inserted */
    int64_t commits;        /* batches committed */
} msn_import_stats_t;

/** Options of the writer. */
typedef struct {
    msn_chankeys_t *keys;    /* channel keys for new transmissions (borrowed) */
    int verify;              /* check advert signatures (the ingestor's default) */
    const msn_pathres_t *pr; /* the §4.2 resolver for resolved_path (borrowed, finished) */
} msn_import_opts_t;

/** Prepares the writer on db (a read-write connection to a CoreScope database whose
 *  transmissions/observations/nodes/observers tables exist). Fails on a database it cannot
 *  write the way the ingestor does (no observations.observer_idx). Returns 0 and *out, or
 *  -1 with err set. */
int msn_import__open(sqlite3 *db, const msn_import_opts_t *opts, msn_importer_t **out, char *err, size_t errlen);

/** Writes one parsed line with timestamp ts (unix seconds). pkt holds the light decode
 *  of l->raw (msn_import__decode_light). Opens a write transaction when none is open.
 *  Returns MSN_IMPORT_OK, a MSN_IMPORT_R_* code (the line is rejected, nothing written,
 *  why set), or -1 on a database error (err set; the caller should stop). */
int msn_import__write(msn_importer_t *im, const msn_import_line_t *l, const msn_packet_t *pkt, int64_t ts, char *why,
                      size_t whylen, char *err, size_t errlen);

/** Flushes the pending counters and commits the open transaction (no-op when none is
 *  open). Returns 0, or -1 with err set. */
int msn_import__commit(msn_importer_t *im, char *err, size_t errlen);

/** Whether a write transaction is open. */
int msn_import__in_txn(const msn_importer_t *im);

/** The counters so far. */
const msn_import_stats_t *msn_import__stats(const msn_importer_t *im);

/** A one-line description of what the writer detected ("current schema" / "legacy schema
 *  without the observation dedup index: existence checks"), for the log. */
const char *msn_import__mode(const msn_importer_t *im);

/** Rolls back an open transaction, finalizes the statements and frees the writer (the
 *  connection stays open; NULL is fine). */
void msn_import__close(msn_importer_t *im);

#endif
