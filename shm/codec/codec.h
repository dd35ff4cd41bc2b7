/*
 * codec.h: the MeshCore packet codec (decode, decoded_json, content hash, encode).
 *
 * A MeshCore frame is
 *
 *   [0]     header: route_type (bits 1-0), payload_type (bits 5-2), payload_version (7-6)
 *   [1..4]  transport codes, only for route types 0 (TRANSPORT_FLOOD) and 3 (TRANSPORT_DIRECT)
 *   [next]  path length byte: hash_size = (b >> 6) + 1 (4 is reserved), hash_count = b & 0x3F
 *   [next]  hash_count * hash_size path bytes (at most 64)
 *   [rest]  payload, at most 184 bytes
 *
 * The decoder reproduces what CoreScope's ingestor stores: msn_packet_render_json() writes
 * the `transmissions.decoded_json` text byte for byte (key order, omitempty rules, string
 * escaping and float formatting of Go's encoding/json), msn_codec_content_hash() the
 * `hash` column, and the msn_packet_* helpers the derived columns (channel_hash,
 * from_pubkey, scope_name, path_json).
 *
 * Memory: msn_packet_decode_*() fills a caller-provided msn_packet_t and allocates
 * nothing; the struct holds the packet bytes and the decrypted plaintext, and every
 * decoded field refers into it by offset, so the struct may be copied freely. Only
 * `payload.channel` points outside it, at a name owned by the key set used to decode.
 *
 * Channel decryption (GRP_TXT, GRP_DATA) tries the keys of an msn_chankeys_t in the set's
 * order and takes the first that verifies (2-byte HMAC-SHA256 prefix, then AES-128-ECB;
 * GRP_TXT also needs printable UTF-8). CoreScope tries its keys in Go map order, which is
 * random; ours is deterministic: the builtin Public key first, then the other keys in the
 * order they were added (configuration order). Only a false 2-byte MAC match that also
 * yields printable text could make the order matter.
 *
 * Crypto is OpenSSL libcrypto (EVP). Each thread caches its own digest/cipher handles
 * (msn_codec_thread_cleanup() releases them); a key set holds per-key MAC contexts and so
 * must not be used by two threads at once.
 */
#ifndef MSN_CODEC_H
#define MSN_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "shm/buf.h"
#include "shm/config.h"
#include "shm/hex.h"

/* ---- wire constants ------------------------------------------------------------------- */

#define MSN_MAX_PATH_BYTES 64     /* MAX_PATH_SIZE */
#define MSN_MAX_PAYLOAD 184       /* MAX_PACKET_PAYLOAD */
#define MSN_MAX_PACKET 254        /* 1 + 4 + 1 + 64 + 184 */
#define MSN_PLAIN_MAX 192         /* decrypted group plaintext (ciphertext <= 181, 16-aligned) */
#define MSN_ADVERT_NAME_MAX 32    /* the advert name is cut to 32 bytes */

enum { MSN_ROUTE_TRANSPORT_FLOOD = 0, MSN_ROUTE_FLOOD = 1, MSN_ROUTE_DIRECT = 2, MSN_ROUTE_TRANSPORT_DIRECT = 3 };

enum {
    MSN_PT_REQ = 0x00,
    MSN_PT_RESPONSE = 0x01,
    MSN_PT_TXT_MSG = 0x02,
    MSN_PT_ACK = 0x03,
    MSN_PT_ADVERT = 0x04,
    MSN_PT_GRP_TXT = 0x05,
    MSN_PT_GRP_DATA = 0x06,
    MSN_PT_ANON_REQ = 0x07,
    MSN_PT_PATH = 0x08,
    MSN_PT_TRACE = 0x09,
    MSN_PT_MULTIPART = 0x0A,
    MSN_PT_CONTROL = 0x0B,
    MSN_PT_RAW_CUSTOM = 0x0F,
};

/** "TRANSPORT_FLOOD", "FLOOD", "DIRECT", "TRANSPORT_DIRECT" (route_type & 3). */
const char *msn_route_type_name(int route_type);
/** "REQ" ... "RAW_CUSTOM"; "UNKNOWN" for 12-14 and out-of-range values. */
const char *msn_payload_type_name(int payload_type);

/* ---- decode errors ---------------------------------------------------------------------- */

enum {
    MSN_CODEC_EHEX = -1,       /* not valid hex (after removing spaces, CR and LF) */
    MSN_CODEC_ESHORT = -2,     /* fewer than 2 bytes */
    MSN_CODEC_ETRANSPORT = -3, /* too short for the transport codes */
    MSN_CODEC_ENOPATH = -4,    /* no path length byte */
    MSN_CODEC_EPATHLEN = -5,   /* path byte invalid: reserved hash size 4, or more than 64 path bytes */
    MSN_CODEC_EPATHRUN = -6,   /* the path runs past the end of the packet */
    MSN_CODEC_EPAYLOAD = -7,   /* payload longer than 184 bytes */
};

/** A short static description of an MSN_CODEC_E* code. */
const char *msn_codec_strerror(int rc);

/* ---- the decoded packet ----------------------------------------------------------------- */

/** A byte range of msn_packet_t.bytes. len == 0 means absent/empty. */
typedef struct {
    uint16_t off, len;
} msn_span_t;

/* Presence bits of msn_payload_t.has: the fields CoreScope keeps as pointers, which are
 * emitted whenever set (including 0/false), plus a few strings that are formatted. */
#define MSN_HAS_EXTRA_HASH (1ull << 0)
#define MSN_HAS_ACK_LEN (1ull << 1)
#define MSN_HAS_ACK_ATTEMPT (1ull << 2)
#define MSN_HAS_ACK_RAND (1ull << 3)
#define MSN_HAS_TIMESTAMP_ISO (1ull << 4)
#define MSN_HAS_SIG_VALID (1ull << 5)
#define MSN_HAS_FLAGS (1ull << 6)
#define MSN_HAS_LATLON (1ull << 7)
#define MSN_HAS_FEAT1 (1ull << 8)
#define MSN_HAS_FEAT2 (1ull << 9)
#define MSN_HAS_BATTERY (1ull << 10)
#define MSN_HAS_TEMPERATURE (1ull << 11)
#define MSN_HAS_CHANNEL_HASH_HEX (1ull << 12)
#define MSN_HAS_DATA_TYPE (1ull << 13)
#define MSN_HAS_DATA_LEN (1ull << 14)
#define MSN_HAS_TRACE_FLAGS (1ull << 15)
#define MSN_HAS_REMAINING (1ull << 16)
#define MSN_HAS_INNER_TYPE (1ull << 17)
#define MSN_HAS_INNER_ACK_CRC (1ull << 18)
#define MSN_HAS_INNER_ACK_LEN (1ull << 19)
#define MSN_HAS_INNER_ACK_ATTEMPT (1ull << 20)
#define MSN_HAS_INNER_ACK_RAND (1ull << 21)
#define MSN_HAS_CTRL_FLAGS (1ull << 22)
#define MSN_HAS_CTRL_ZERO_HOP (1ull << 23)
#define MSN_HAS_CTRL_LENGTH (1ull << 24)
#define MSN_HAS_CTRL_FILTER (1ull << 25)
#define MSN_HAS_CTRL_TAG (1ull << 26)
#define MSN_HAS_CTRL_SINCE (1ull << 27)
#define MSN_HAS_CTRL_NODE_TYPE (1ull << 28)
#define MSN_HAS_CTRL_SNR (1ull << 29)
#define MSN_HAS_RAW_LENGTH (1ull << 30)
#define MSN_HAS_FIRST_BYTE_TAG (1ull << 31)

typedef enum {
    MSN_DECRYPT_NONE = 0, /* not a group message (field omitted) */
    MSN_DECRYPT_DECRYPTED,
    MSN_DECRYPT_FAILED, /* keys were tried, none matched: "decryption_failed" */
    MSN_DECRYPT_NO_KEY, /* no keys, or ciphertext under 5 bytes: "no_key" */
} msn_decrypt_status_t;

/** The decoded payload: CoreScope's Payload struct. String fields that are hex of packet
 *  bytes are spans; "omitempty" fields are omitted when zero/empty, MSN_HAS_* fields are
 *  emitted when their bit is set. See msn_packet_render_json for the exact rules. */
typedef struct {
    const char *type; /* "REQ", "ADVERT", "CHAN", "GRP_TXT", ..., "UNKNOWN" (static) */
    uint64_t has;     /* MSN_HAS_* */
    const char *error; /* "too short", "too short for advert", "inner too short", ... or NULL */

    msn_span_t dest_hash, src_hash, mac, encrypted_data; /* REQ/RESPONSE/TXT_MSG/PATH/ANON_REQ/GRP */
    uint32_t extra_hash;                                 /* ACK crc (rendered %08x) */
    int ack_len, ack_attempt, ack_rand;

    msn_span_t pub_key, signature; /* ADVERT */
    uint32_t timestamp;            /* omitted when 0; timestampISO is rendered from it */
    int signature_valid;
    uint8_t flags;                 /* advert flags byte (appdata[0]) */
    int32_t lat_e6, lon_e6;        /* lat/lon * 1e6 as sent */
    uint8_t name_len;
    char name[MSN_ADVERT_NAME_MAX + 1]; /* sanitized, cut to 32 bytes (may end inside a UTF-8 sequence) */
    uint16_t feat1, feat2;
    int battery_mv;
    int16_t temperature_raw; /* temperature_c * 100 */

    int channel_hash;                  /* GRP_TXT/GRP_DATA byte 0; omitted when 0 */
    msn_decrypt_status_t decryption_status;
    const char *channel;               /* key name as stored (owned by the key set) or NULL */
    int data_type, data_len;           /* GRP_DATA inner */
    msn_span_t decrypted_blob;         /* GRP_DATA inner blob */
    msn_span_t text, sender;           /* CHAN */
    uint32_t sender_timestamp;         /* omitted when 0 */

    msn_span_t ephemeral_pub_key; /* ANON_REQ */
    msn_span_t path_data;         /* PATH, TRACE */
    uint8_t n_snr;                /* TRACE: snrValues count (from the header path bytes) */
    uint32_t tag, auth_code;      /* TRACE: omitted when 0 */
    int trace_flags;

    msn_span_t raw; /* "raw": hex of the payload (errors, CONTROL, RAW_CUSTOM, UNKNOWN) */

    int remaining, inner_type; /* MULTIPART */
    const char *inner_type_name;
    uint32_t inner_ack_crc;
    int inner_ack_len, inner_ack_attempt, inner_ack_rand;
    msn_span_t inner_payload;

    uint8_t ctrl_flags; /* CONTROL */
    int ctrl_zero_hop, ctrl_length;
    const char *ctrl_subtype; /* "DISCOVER_REQ", "DISCOVER_RESP", "UNKNOWN" */
    int ctrl_filter;
    uint32_t ctrl_tag, ctrl_since;
    int ctrl_node_type, ctrl_snr;
    msn_span_t ctrl_pub_key;

    int raw_length; /* RAW_CUSTOM */
    uint8_t first_byte_tag;
} msn_payload_t;

typedef struct {
    /* bytes[0 .. raw_len) is the packet; bytes[MSN_PLAIN_OFF ..) the decrypted plaintext. */
    uint8_t bytes[256 + MSN_PLAIN_MAX];
    uint16_t raw_len;

    uint8_t header, route_type, payload_type, payload_version;
    uint8_t has_transport;          /* route_type 0 or 3 */
    uint8_t transport[4];           /* code1 = transport[0..1], code2 = transport[2..3] (as sent) */
    uint8_t path_byte;              /* path length byte as sent */
    uint8_t hash_size, hash_count;  /* from the path byte (1..3, 0..63) */
    msn_span_t path;                /* the header path bytes (TRACE: SNR bytes) */
    msn_span_t payload;

    /* The hops that go into path_json: the header path split into hash_size chunks, or for
     * a TRACE with route data the payload route split into 1 << (traceFlags & 3) chunks. */
    msn_span_t hops;
    uint8_t hop_size, hop_count;
    int hops_completed;   /* TRACE with route data: header hop count (SNR entries); else -1 */
    const char *anomaly;  /* TRACE notes (not stored), or NULL */

    msn_payload_t p;
} msn_packet_t;

#define MSN_PLAIN_OFF 256

/** Options for decoding. A NULL opts means no channel keys and no signature check. */
typedef struct msn_chankeys msn_chankeys_t;
typedef struct {
    msn_chankeys_t *keys;  /* channel keys tried on GRP_TXT/GRP_DATA; NULL = none ("no_key") */
    int verify_signatures; /* 1: check ADVERT Ed25519 signatures and set signatureValid (as
                            * CoreScope's ingestor does by default); 0: leave it out. The check
                            * costs about 0.1 ms per advert with OpenSSL 3.0, some 50 times the
                            * rest of the decode: bulk paths that trust stored rows skip it. */
} msn_decode_opts_t;

/** Decodes a hex packet (spaces, CR and LF are ignored, either case) into *pkt.
 *  Returns 0, or an MSN_CODEC_E* code; on error pkt holds nothing useful. A packet whose
 *  payload is merely too short for its type is not an error: the payload then carries
 *  `error` ("too short"), as CoreScope stores it. */
int msn_packet_decode_hex(msn_packet_t *pkt, const char *hex, size_t len, const msn_decode_opts_t *opts);

/** Decodes packet bytes (n <= any size; more than MSN_MAX_PACKET is always rejected). */
int msn_packet_decode_bytes(msn_packet_t *pkt, const uint8_t *b, size_t n, const msn_decode_opts_t *opts);

/** Pointer to a span's bytes inside pkt. */
static inline const uint8_t *msn_span_ptr(const msn_packet_t *pkt, msn_span_t s)
{
    return pkt->bytes + s.off;
}

/* ---- rendering ---------------------------------------------------------------------------- */

/** Appends the decoded_json text (the payload object) exactly as CoreScope stores it. */
void msn_packet_render_json(const msn_packet_t *pkt, msn_buf_t *out);

/** Appends path_json (§3.1): a JSON array of uppercase hop hex strings, "[]" for none. */
void msn_packet_render_path_json(const msn_packet_t *pkt, msn_buf_t *out);

/** A payload field as visited by msn_packet_fields(): the same fields, in the same order,
 *  as the decoded_json object. Strings are not NUL-terminated. */
typedef enum {
    MSN_FV_STR,    /* s[0..n): text */
    MSN_FV_HEX,    /* bytes[0..n): rendered as lowercase hex */
    MSN_FV_INT,    /* i */
    MSN_FV_DOUBLE, /* d */
    MSN_FV_DECIMAL, /* d, exactly equal to i / 10^n: rendered from the integer (Go's shortest
                     * float text of d, without formatting a double) */
    MSN_FV_BOOL,   /* i (0/1) */
    MSN_FV_SNR,    /* bytes[0..n): int8 quarter-dB values, rendered as an array of v/4.0 */
    MSN_FV_FLAGS,  /* i: the advert flags byte, rendered as the flags object */
} msn_fv_kind_t;

typedef struct {
    msn_fv_kind_t kind;
    const char *s;
    const uint8_t *bytes;
    size_t n;
    int64_t i;
    double d;
} msn_field_t;

/** Calls cb for every field decoded_json would contain, in its order. The pointers in f
 *  are valid only during the call. */
void msn_packet_fields(const msn_packet_t *pkt, void (*cb)(void *ctx, const char *key, const msn_field_t *f),
                       void *ctx);

/* ---- hashes and derived columns --------------------------------------------------------- */

/** The transmission hash (§2.7) of a raw hex string exactly as received: 16 lowercase
 *  hex chars of SHA-256(payload_type ‖ [path_byte, 0 for TRACE] ‖ payload). When raw is
 *  not valid hex (whitespace included), shorter than 2 bytes, or its offsets run past the
 *  end, the hash is the first 16 characters of raw as given (all of it when shorter).
 *  Writes out (NUL-terminated, at most 16 chars + NUL) and returns its length. */
size_t msn_codec_content_hash(const char *raw, size_t len, char out[17]);

/** The same hash computed from a decoded packet. It equals msn_codec_content_hash() of the
 *  hex the packet was decoded from whenever that hex had no whitespace. */
void msn_packet_content_hash(const msn_packet_t *pkt, char out[17]);

/** channel_hash (§2.8): for payload_type 5, the channel name of a decrypted message
 *  ("Public", "#wardriving") or "enc_" + channelHashHex for an undecrypted one; NULL for
 *  anything else. May return tmp (at least 8 bytes) or the key set's name. */
const char *msn_packet_channel_hash(const msn_packet_t *pkt, char tmp[8]);

/** from_pubkey (§2.8): writes the ADVERT pubkey (64 lowercase hex + NUL) to out and
 *  returns 1; returns 0 (out = "") for anything else (the column is then NULL). */
int msn_packet_from_pubkey(const msn_packet_t *pkt, char out[65]);

/** scope_name (§2.8). Returns -1 when the packet has no transport codes or code1 is "0000"
 *  (the column is NULL); else 0 with *name = "" when no region matches, or 1 with *name
 *  set to the matching region of regions[0..n) (names as "#name"; a missing '#' is
 *  implied when deriving the key, and the name is returned as given). */
int msn_packet_scope(const msn_packet_t *pkt, const char *const *regions, int n, const char **name);

/* ---- channel keys ------------------------------------------------------------------------- */

#define MSN_PUBLIC_CHANNEL_KEY "8b3387e9c5cdea6ac9e5edbaa115cd72"

/** A new, empty key set (aborts on OOM). Free with msn_chankeys_free(). */
msn_chankeys_t *msn_chankeys_new(void);
void msn_chankeys_free(msn_chankeys_t *ks);

/** Adds name with a 16-byte key. A name that equals "public" in any case is stored as
 *  "Public" (CoreScope's display normalization). If the (normalized) name is already in the
 *  set: an exact-case match replaces its key in place, a different-case variant of
 *  "Public" keeps the existing key (CoreScope's rule: the canonical form wins).
 *  Returns 0, or -1 with err set (empty name). */
int msn_chankeys_add(msn_chankeys_t *ks, const char *name, const uint8_t key[16], char *err, size_t errlen);
/** As msn_chankeys_add with the key as 32 hex characters. -1 with err on a bad key. */
int msn_chankeys_add_hex(msn_chankeys_t *ks, const char *name, const char *hex, char *err, size_t errlen);
/** Adds a hashtag channel: "#name" (or "name", '#' implied) with key SHA-256("#name")[0:16]. */
int msn_chankeys_add_hashtag(msn_chankeys_t *ks, const char *tag, char *err, size_t errlen);
/** Adds the builtin "Public" key (MSN_PUBLIC_CHANNEL_KEY). */
void msn_chankeys_add_builtin(msn_chankeys_t *ks);
/** Adds one command-line spec: "#hashtag" (derived key) or "NAME=HEXKEY". */
int msn_chankeys_add_spec(msn_chankeys_t *ks, const char *spec, char *err, size_t errlen);

/** Adds the builtin Public key, then cfg->channels[] in configuration order (hashtag
 *  entries already carry their derived key_hex). Returns 0, or -1 with err naming the bad
 *  entry. */
int msn_chankeys_add_config(msn_chankeys_t *ks, const msn_config_t *cfg, char *err, size_t errlen);

/** Number of keys, and the name / key / channel hash byte (SHA-256(key)[0]) of key i. */
int msn_chankeys_count(const msn_chankeys_t *ks);
const char *msn_chankeys_name(const msn_chankeys_t *ks, int i);
const uint8_t *msn_chankeys_key(const msn_chankeys_t *ks, int i);
uint8_t msn_chankeys_hash_byte(const msn_chankeys_t *ks, int i);

/* ---- encoding ----------------------------------------------------------------------------- */

/** The frame around a payload. */
typedef struct {
    int route_type;      /* 0..3 */
    int payload_type;    /* 0..15 */
    int payload_version; /* 0..3 */
    uint8_t transport[4]; /* written only for route types 0 and 3 */
    int hash_size;       /* 1..3; with hash_count 0 an out-of-range value (e.g. 0) means 1 */
    int hash_count;      /* 0..63, hash_size * hash_count <= 64 */
    const uint8_t *path; /* hash_size * hash_count bytes (TRACE: SNR bytes, hash_size 1) */
} msn_frame_t;

/** Writes header, transport codes, path byte, path and payload to out (cap bytes).
 *  Returns the packet length, or -1 when a field is out of range, the payload exceeds
 *  MSN_MAX_PAYLOAD or out is too small. */
int msn_encode_packet(const msn_frame_t *f, const uint8_t *payload, size_t n, uint8_t *out, size_t cap);

/* Payload builders: each writes one payload to out (cap bytes) and returns its length, or
 * -1 when it does not fit (in cap or in MSN_MAX_PAYLOAD) or an argument is out of range. */

/** REQ / RESPONSE / TXT_MSG / PATH: dest(1) src(1) mac(2) data. */
int msn_encode_direct(uint8_t dest, uint8_t src, const uint8_t mac[2], const uint8_t *data, size_t n, uint8_t *out,
                      size_t cap);
/** ACK: crc u32 LE, then attempt and rand bytes when >= 0 (rand needs attempt). */
int msn_encode_ack(uint32_t crc, int attempt, int rnd, uint8_t *out, size_t cap);

/** Advert appdata fields. */
typedef struct {
    int type;            /* 0..15 (1 chat, 2 repeater, 3 room, 4 sensor) */
    int has_location;
    int32_t lat_e6, lon_e6;
    int has_feat1, has_feat2;
    uint16_t feat1, feat2;
    const char *name;    /* NULL = no name flag */
    int has_telemetry;   /* appends battery_mv u16 and temperature int16 (after the name's NUL;
                          * note a decoder skips every NUL there, so battery_mv 0 is lost) */
    uint16_t battery_mv;
    int16_t temperature_raw;
} msn_appdata_t;
/** Builds appdata: flags, [lat lon], [feat1], [feat2], [name], [NUL battery temperature]. */
int msn_encode_appdata(const msn_appdata_t *a, uint8_t *out, size_t cap);
/** ADVERT: pubkey(32) timestamp(4) signature(64) appdata, signed with the Ed25519 private
 *  key seed (32 bytes, RFC 8032) over pubkey ‖ timestamp LE ‖ appdata. */
int msn_encode_advert(const uint8_t seed[32], uint32_t timestamp, const uint8_t *appdata, size_t n, uint8_t *out,
                      size_t cap);
/** Derives the Ed25519 public key of a seed. Returns 0 or -1. */
int msn_ed25519_public(const uint8_t seed[32], uint8_t pub[32]);

/** GRP_TXT plaintext: timestamp u32 LE, flags, text (no NUL). */
int msn_encode_grp_txt_plain(uint32_t timestamp, uint8_t flags, const char *text, uint8_t *out, size_t cap);
/** GRP_DATA plaintext: data_type u16 LE, data_len u8, blob. */
int msn_encode_grp_data_plain(uint16_t data_type, const uint8_t *blob, size_t n, uint8_t *out, size_t cap);
/** GRP_TXT / GRP_DATA: channel_hash(1) = SHA-256(key)[0], mac(2), AES-128-ECB ciphertext
 *  of plain zero-padded to 16 bytes; mac = HMAC-SHA256(key ‖ 16 zeros, ciphertext)[0:2]. */
int msn_encode_group(const uint8_t key[16], const uint8_t *plain, size_t n, uint8_t *out, size_t cap);
/** ANON_REQ: dest(1) ephemeral_pubkey(32) mac(2) data. */
int msn_encode_anon_req(uint8_t dest, const uint8_t eph[32], const uint8_t mac[2], const uint8_t *data, size_t n,
                        uint8_t *out, size_t cap);
/** TRACE: tag u32, auth_code u32, flags u8, route bytes. */
int msn_encode_trace(uint32_t tag, uint32_t auth_code, uint8_t flags, const uint8_t *route, size_t n, uint8_t *out,
                     size_t cap);
/** MULTIPART: (remaining << 4 | inner_type), data. */
int msn_encode_multipart(int remaining, int inner_type, const uint8_t *data, size_t n, uint8_t *out, size_t cap);
/** CONTROL / RAW_CUSTOM / anything: first byte b0 (when >= 0), then data. */
int msn_encode_bytes(int b0, const uint8_t *data, size_t n, uint8_t *out, size_t cap);

/* ---- helpers ------------------------------------------------------------------------------ */

/* msn_hex_encode and msn_hex_decode: shm/hex.h (included above). */
/** SHA-256 of data. Returns 0, or -1 if OpenSSL failed. */
int msn_sha256(const void *data, size_t n, uint8_t out[32]);
/** Releases this thread's cached OpenSSL handles (optional, e.g. before thread exit). */
void msn_codec_thread_cleanup(void);

#endif
