/*
 * msg.c: one message for the shared writer (see ingest.h): the keys an MQTT observer
 * publishes (packet and status fields), read from a JSON object, the topic
 * and timestamp rules, and the per-packet checks of the CoreScope ingestor (decode,
 * corrupted advert, signature), which together give a prepared item.
 *
 * The message is read with shm/jsonr.h, which follows RFC 8259: any text that Go's
 * encoding/json would refuse is "not JSON" here too (raw control characters in strings,
 * bad escapes, trailing commas, bad numbers, text after the object). Other keys' values,
 * nested ones included, are validated and skipped; only the status message's "stats"
 * object is read.
 */
#include "ingest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../jsonr.h"
#include "../timeutil.h"

const char *const msn_ingest_reason_names[MSN_INGEST_R_COUNT] = {
    [MSN_INGEST_OK] = "ok",
    [MSN_INGEST_R_JSON] = "not JSON",
    [MSN_INGEST_R_RAW] = "no raw packet",
    [MSN_INGEST_R_HEX] = "bad hex",
    [MSN_INGEST_R_DECODE] = "packet rejected by the decoder",
    [MSN_INGEST_R_OBSERVER] = "missing observer",
    [MSN_INGEST_R_TIME] = "bad timestamp",
    [MSN_INGEST_R_ADVERT] = "corrupted advert",
    [MSN_INGEST_R_SIG] = "invalid advert signature",
    [MSN_INGEST_R_TOPIC] = "topic not ingested",
    [MSN_INGEST_R_FILTER] = "region not in the broker's iata filter",
};

void msn_ingest_fields_init(msn_ingest_fields_t *l)
{
    memset(l, 0, sizeof(*l));
    l->repeat = -1;
}

void msn_ingest_fields_free(msn_ingest_fields_t *l)
{
    msn_buf_t *bufs[] = {&l->raw,    &l->observer, &l->name,  &l->iata, &l->direction, &l->ts_str,
                         &l->origin, &l->region,   &l->topic, &l->dir1};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        msn_buf_free(bufs[i]);
    for (int i = 0; i < MSN_ST_STR_COUNT; i++)
        msn_buf_free(&l->st_str[i]);
}

/* ---- the fields -------------------------------------------------------------------------- */

enum {
    F_NONE,
    F_RAW,
    F_OBSERVER,
    F_NAME,   /* observer_name */
    F_ORIGIN, /* origin: the name for both readings */
    F_IATA,   /* iata */
    F_REGION, /* region: the iata for both readings */
    F_SNR,
    F_SNR1, /* SNR */
    F_RSSI,
    F_RSSI1, /* RSSI */
    F_SCORE1, /* score */
    F_SCORE,  /* Score */
    F_DIR1,   /* direction */
    F_DIR,    /* Direction */
    F_TIMESTAMP,
    F_TOPIC,
    F_STATS,
    F_REPEAT,
    F_ST_STR,  /* + MSN_ST_* text index */
    F_ST_STR2, /* the later spelling that wins: firmware_version, clientVersion */
    F_ST_NUM,  /* + MSN_ST_* numeric index */
};

typedef struct {
    int field;
    int idx;
} field_t;

static field_t field_of(const msn_jsonr_val_t *k)
{
    static const struct {
        const char *key;
        int field, idx;
    } keys[] = {
        {"raw", F_RAW, 0},
        {"observer", F_OBSERVER, 0},
        {"observer_id", F_OBSERVER, 0},
        {"observer_name", F_NAME, 0},
        {"origin", F_ORIGIN, 0},
        {"iata", F_IATA, 0},
        {"region", F_REGION, 0},
        {"snr", F_SNR, 0},
        {"SNR", F_SNR1, 0},
        {"rssi", F_RSSI, 0},
        {"RSSI", F_RSSI1, 0},
        {"score", F_SCORE1, 0},
        {"Score", F_SCORE, 0},
        {"direction", F_DIR1, 0},
        {"Direction", F_DIR, 0},
        {"timestamp", F_TIMESTAMP, 0},
        {"topic", F_TOPIC, 0},
        {"stats", F_STATS, 0},
        {"repeat", F_REPEAT, 0},
        {"model", F_ST_STR, MSN_ST_MODEL},
        {"firmware", F_ST_STR, MSN_ST_FIRMWARE},
        {"firmware_version", F_ST_STR2, MSN_ST_FIRMWARE},
        {"client_version", F_ST_STR, MSN_ST_CLIENT_VERSION},
        {"clientVersion", F_ST_STR2, MSN_ST_CLIENT_VERSION},
        {"radio", F_ST_STR, MSN_ST_RADIO},
        {"battery_mv", F_ST_NUM, MSN_ST_BATTERY_MV},
        {"uptime_secs", F_ST_NUM, MSN_ST_UPTIME_SECS},
        {"noise_floor", F_ST_NUM, MSN_ST_NOISE_FLOOR},
        {"tx_air_secs", F_ST_NUM, MSN_ST_TX_AIR_SECS},
        {"rx_air_secs", F_ST_NUM, MSN_ST_RX_AIR_SECS},
        {"recv_errors", F_ST_NUM, MSN_ST_RECV_ERRORS},
        {"packets_sent", F_ST_NUM, MSN_ST_PACKETS_SENT},
        {"packets_recv", F_ST_NUM, MSN_ST_PACKETS_RECV},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (msn_jsonr_is(k, keys[i].key))
            return (field_t){keys[i].field, keys[i].idx};
    return (field_t){F_NONE, 0};
}

/* A numeric string as the ingestor reads it: blanks around, an optional unit suffix. */
static int numeric_string(const char *s, double *out)
{
    static const char *const units[] = {"dBm", "dB", "mW", "km", "mi", "m"};
    char tmp[64];
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t u = strlen(units[i]);
        if (n >= u && strncasecmp(s + n - u, units[i], u) == 0) {
            n -= u;
            while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
            break;
        }
    }
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(tmp, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static void set_string_field(msn_buf_t *dst, int *has, const msn_jsonr_val_t *v)
{
    *has = v->type == MSN_JSONR_STR;
    msn_buf_reset(dst);
    msn_jsonr_str(v, dst);
    msn_buf_cstr(dst);
}

static void set_number_field(double *dst, int *has, const msn_jsonr_val_t *v, msn_buf_t *scratch)
{
    double num;
    *has = 0;
    if (msn_jsonr_num(v, &num) == 0 && isfinite(num)) {
        *dst = num;
        *has = 1;
    } else if (v->type == MSN_JSONR_STR) {
        msn_buf_reset(scratch);
        msn_jsonr_str(v, scratch);
        *has = numeric_string(msn_buf_cstr(scratch), dst) == 0;
    }
}

/* The status message's "repeat": a boolean, on/true/1/yes or off/false/0/no in any case,
 * or a number (non-zero = on). Anything else leaves it as it was. */
static void set_repeat(msn_ingest_fields_t *l, const msn_jsonr_val_t *v, msn_buf_t *scratch)
{
    double num;
    if (v->type == MSN_JSONR_TRUE || v->type == MSN_JSONR_FALSE) {
        l->repeat = v->type == MSN_JSONR_TRUE;
    } else if (msn_jsonr_num(v, &num) == 0) {
        l->repeat = num != 0;
    } else if (v->type == MSN_JSONR_STR) {
        msn_buf_reset(scratch);
        msn_jsonr_str(v, scratch);
        const char *s = msn_buf_cstr(scratch);
        static const char *const on[] = {"on", "true", "1", "yes"}, *const off[] = {"off", "false", "0", "no"};
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(s, on[i]) == 0)
                l->repeat = 1;
            if (strcasecmp(s, off[i]) == 0)
                l->repeat = 0;
        }
    }
}

/* Numeric status fields set from the "stats" object, which the top level does not override. */
typedef struct {
    int from_stats[MSN_ST_NUM_COUNT];
} stats_src_t;

/* Reads the members of an object into l: the top-level object (nested == 0, r at its
 * '{') or the status message's "stats" object (nested == 1: numeric status fields only).
 * Returns 0, or -1 with r->err set. */
static int parse_members(msn_jsonr_t *r, msn_ingest_fields_t *l, int nested, stats_src_t *ss, msn_buf_t *scratch)
{
    msn_jsonr_val_t key, v;
    int rc;
    if (msn_jsonr_object(r) < 0)
        return -1;
    while ((rc = msn_jsonr_member(r, &key)) == 1) {
        field_t f = field_of(&key);
        if (nested && f.field != F_ST_NUM)
            f.field = F_NONE;
        if (msn_jsonr_value(r, &v) < 0)
            return -1;
        if (f.field == F_STATS && v.type == MSN_JSONR_OBJ) {
            msn_jsonr_t sub; /* validated whole above */
            msn_jsonr_init(&sub, v.p, v.n);
            if (parse_members(&sub, l, 1, ss, scratch) < 0) {
                r->err = sub.err;
                r->err_at = sub.err_at;
                return -1;
            }
            continue;
        }
        switch (f.field) {
        case F_RAW:
            set_string_field(&l->raw, &l->has_raw, &v);
            break;
        case F_OBSERVER:
            set_string_field(&l->observer, &l->has_observer, &v);
            break;
        case F_ORIGIN:
            set_string_field(&l->origin, &l->has_origin, &v);
            /* fall through */
        case F_NAME:
            set_string_field(&l->name, &l->has_name, &v);
            break;
        case F_REGION:
            set_string_field(&l->region, &l->has_region, &v);
            /* fall through */
        case F_IATA:
            set_string_field(&l->iata, &l->has_iata, &v);
            break;
        case F_DIR1:
            l->key1_dir = 1;
            set_string_field(&l->dir1, &l->has1_dir, &v);
            /* fall through */
        case F_DIR:
            set_string_field(&l->direction, &l->has_direction, &v);
            break;
        case F_SNR1:
            l->key1_snr = 1;
            set_number_field(&l->snr1, &l->has1_snr, &v, scratch);
            /* fall through */
        case F_SNR:
            set_number_field(&l->snr, &l->has_snr, &v, scratch);
            break;
        case F_RSSI1:
            l->key1_rssi = 1;
            set_number_field(&l->rssi1, &l->has1_rssi, &v, scratch);
            /* fall through */
        case F_RSSI:
            set_number_field(&l->rssi, &l->has_rssi, &v, scratch);
            break;
        case F_SCORE1:
            l->key1_score = 1;
            set_number_field(&l->score1, &l->has1_score, &v, scratch);
            /* fall through */
        case F_SCORE:
            set_number_field(&l->score, &l->has_score, &v, scratch);
            break;
        case F_TOPIC:
            set_string_field(&l->topic, &l->has_topic, &v);
            break;
        case F_REPEAT:
            set_repeat(l, &v, scratch);
            break;
        case F_ST_STR:
        case F_ST_STR2:
            /* a non-empty string; the second spelling wins when both are given */
            msn_buf_reset(scratch);
            if (msn_jsonr_str(&v, scratch) == 0 && scratch->len > 0 &&
                (f.field == F_ST_STR2 || !l->has_st_str[f.idx] || l->has_st_str[f.idx] == 1)) {
                msn_buf_reset(&l->st_str[f.idx]);
                msn_buf_append(&l->st_str[f.idx], scratch->data, scratch->len);
                msn_buf_cstr(&l->st_str[f.idx]);
                l->has_st_str[f.idx] = f.field == F_ST_STR2 ? 2 : 1;
            }
            break;
        case F_ST_NUM:
            if (!nested && ss->from_stats[f.idx])
                break; /* the "stats" object's value stands */
            {
                double d;
                int has = 0;
                set_number_field(&d, &has, &v, scratch);
                if (has) {
                    l->st_num[f.idx] = d;
                    l->has_st_num[f.idx] = 1;
                    ss->from_stats[f.idx] |= nested;
                }
            }
            break;
        case F_TIMESTAMP:
            if (msn_jsonr_num(&v, &l->ts_num) == 0) {
                l->ts_kind = 1;
            } else if (v.type == MSN_JSONR_STR) {
                l->ts_kind = 2;
                msn_buf_reset(&l->ts_str);
                msn_jsonr_str(&v, &l->ts_str);
                msn_buf_cstr(&l->ts_str);
            } else if (v.type == MSN_JSONR_NULL) {
                l->ts_kind = 0;
            } else {
                l->ts_kind = 3; /* present but neither a number nor a string: bad */
            }
            break;
        default:
            break;
        }
    }
    return rc;
}

int msn_ingest_parse_json(msn_ingest_fields_t *l, const char *s, size_t n, char *why, size_t whylen)
{
    msn_jsonr_t r;
    msn_buf_t scratch = MSN_BUF_INIT;
    stats_src_t ss;

    memset(&ss, 0, sizeof(ss));
    l->has_raw = l->has_observer = l->has_name = l->has_iata = l->has_direction = 0;
    l->has_snr = l->has_rssi = l->has_score = 0;
    l->has_origin = l->has_region = l->has_topic = 0;
    l->key1_snr = l->key1_rssi = l->key1_score = l->key1_dir = 0;
    l->has1_snr = l->has1_rssi = l->has1_score = l->has1_dir = 0;
    memset(l->has_st_str, 0, sizeof(l->has_st_str));
    memset(l->has_st_num, 0, sizeof(l->has_st_num));
    l->repeat = -1;
    l->ts_kind = 0;

    msn_jsonr_init(&r, s, n);
    int rc = parse_members(&r, l, 0, &ss, &scratch) < 0 || msn_jsonr_end(&r) < 0 ? -1 : 0;
    if (rc < 0 && why != NULL && whylen > 0) {
        if (r.err_at >= r.end)
            snprintf(why, whylen, "%s at the end of the line", r.err);
        else
            snprintf(why, whylen, "%s at column %zu", r.err, (size_t)(r.err_at - r.s) + 1);
    }
    msn_buf_free(&scratch);
    return rc;
}

/* Largest accepted time: 9999-12-31T23:59:59Z. */
#define MAX_UNIX_S 253402300799LL

int msn_ingest_fields_time(const msn_ingest_fields_t *l, int64_t *out)
{
    if (l->ts_kind == 0)
        return 1;
    if (l->ts_kind == 1) {
        double d = l->ts_num;
        if (!isfinite(d) || d < 0 || d > (double)MAX_UNIX_S)
            return -1;
        *out = (int64_t)floor(d);
        return 0;
    }
    if (l->ts_kind != 2 || l->ts_str.len == 0)
        return -1;
    const char *s = l->ts_str.data;
    size_t n = l->ts_str.len, i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == n) {
        if (n > 12)
            return -1;
        int64_t v = strtoll(s, NULL, 10);
        if (v > MAX_UNIX_S)
            return -1;
        *out = v;
        return 0;
    }
    int64_t ms;
    if (msn_parse_time_ms(s, &ms) < 0 || ms < 0 || ms / 1000 > MAX_UNIX_S)
        return -1;
    *out = ms / 1000;
    return 0;
}

/* ---- packet checks ------------------------------------------------------------------------- */

int msn_ingest_decode_light(msn_packet_t *pkt, const char *raw, size_t n, char *why, size_t whylen)
{
    int rc = msn_packet_decode_hex(pkt, raw, n, NULL);
    if (rc == 0)
        return MSN_INGEST_OK;
    snprintf(why, whylen, "%s", msn_codec_strerror(rc));
    return rc == MSN_CODEC_EHEX ? MSN_INGEST_R_HEX : MSN_INGEST_R_DECODE;
}

int msn_ingest_is_keyed_advert(const msn_packet_t *pkt)
{
    return pkt->payload_type == MSN_PT_ADVERT && pkt->p.pub_key.len == 32;
}

int msn_ingest_check_advert(const msn_packet_t *pkt, char *why, size_t whylen)
{
    const uint8_t *k = msn_span_ptr(pkt, pkt->p.pub_key);
    int zero = 1;
    for (int i = 0; i < 32 && zero; i++)
        zero = k[i] == 0;
    if (zero) {
        snprintf(why, whylen, "public key is all zeros");
        return MSN_INGEST_R_ADVERT;
    }
    if (pkt->p.has & MSN_HAS_LATLON) {
        double lat = (double)pkt->p.lat_e6 / 1e6, lon = (double)pkt->p.lon_e6 / 1e6;
        if (lat < -90 || lat > 90) {
            snprintf(why, whylen, "invalid lat %f", lat);
            return MSN_INGEST_R_ADVERT;
        }
        if (lon < -180 || lon > 180) {
            snprintf(why, whylen, "invalid lon %f", lon);
            return MSN_INGEST_R_ADVERT;
        }
    }
    return MSN_INGEST_OK;
}

static int signature_bad(const msn_packet_t *pkt)
{
    return (pkt->p.has & MSN_HAS_SIG_VALID) && !pkt->p.signature_valid;
}

int msn_ingest_advert_signature_ok(msn_packet_t *scratch, const char *raw, size_t n)
{
    msn_decode_opts_t o = {.keys = NULL, .verify_signatures = 1};
    if (msn_packet_decode_hex(scratch, raw, n, &o) != 0)
        return 0;
    return !signature_bad(scratch);
}

/* ---- preparing a message ------------------------------------------------------------------------ */

void msn_ingest_item_init(msn_ingest_item_t *it)
{
    memset(it, 0, sizeof(*it));
    msn_ingest_fields_init(&it->l);
}

void msn_ingest_item_free(msn_ingest_item_t *it)
{
    msn_ingest_fields_free(&it->l);
    msn_buf_free(&it->obs_id);
    msn_buf_free(&it->obs_name);
    msn_buf_free(&it->obs_iata);
    msn_buf_free(&it->path_json);
    msn_buf_free(&it->resolved);
    msn_buf_free(&it->decoded_json);
    msn_buf_free(&it->channel_hash);
}

/* The hashes of the lines accepted so far (16-char strings; NUL-padded slots). Emptied
 * when it reaches SEEN_MAX hashes (about 70 MB): a hash seen again after that is treated
 * as new here (decoded in full and verified once more), and the writer, which looks the
 * transmission up anyway, finds it. */
#define SEEN_MAX 2000000

typedef struct {
    char (*slots)[17];
    size_t n, cap; /* cap: a power of two */
} hashset_t;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int hashset_has(const hashset_t *hs, const char *h)
{
    if (hs->cap == 0)
        return 0;
    for (size_t i = str_hash(h) & (hs->cap - 1);; i = (i + 1) & (hs->cap - 1)) {
        if (hs->slots[i][0] == '\0')
            return 0;
        if (strcmp(hs->slots[i], h) == 0)
            return 1;
    }
}

static void hashset_put(hashset_t *hs, const char *h)
{
    if (h[0] == '\0')
        return;
    if ((hs->n + 1) * 2 > hs->cap) {
        hashset_t big = {NULL, 0, hs->cap ? hs->cap * 2 : 16384};
        big.slots = msn_xcalloc(big.cap, 17);
        for (size_t i = 0; i < hs->cap; i++)
            if (hs->slots[i][0] != '\0')
                hashset_put(&big, hs->slots[i]);
        free(hs->slots);
        *hs = big;
    }
    size_t i = str_hash(h) & (hs->cap - 1);
    while (hs->slots[i][0] != '\0') {
        if (strcmp(hs->slots[i], h) == 0)
            return;
        i = (i + 1) & (hs->cap - 1);
    }
    snprintf(hs->slots[i], 17, "%s", h);
    hs->n++;
}

struct msn_ingest_prep {
    msn_chankeys_t *keys;
    msn_ingest_rules_t rules;
    const msn_pathres_t *pr;
    hashset_t seen;
};

msn_ingest_prep_t *msn_ingest_prep_new(msn_chankeys_t *keys, const msn_ingest_rules_t *rules,
                                       const msn_pathres_t *pr)
{
    msn_ingest_prep_t *p = msn_xcalloc(1, sizeof(*p));
    p->keys = keys;
    p->rules = *rules;
    p->pr = pr;
    return p;
}

void msn_ingest_prep_set_resolver(msn_ingest_prep_t *p, const msn_pathres_t *pr)
{
    p->pr = pr;
}

void msn_ingest_prep_free(msn_ingest_prep_t *p)
{
    if (p == NULL)
        return;
    free(p->seen.slots);
    free(p);
}

/* Marks the item rejected; returns 0 so that callers can `return reject(...)`. */
static int reject(msn_ingest_item_t *it, int reason, const char *fmt, const char *arg)
{
    it->reason = reason;
    if (fmt != NULL)
        snprintf(it->why, sizeof(it->why), fmt, arg);
    return 0;
}

/* ---- topics ---------------------------------------------------------------------------------- */

#define MAX_PARTS 8

typedef struct {
    const char *at[MAX_PARTS];
    size_t len[MAX_PARTS];
    int n; /* segments (at most MAX_PARTS are kept; more count) */
} topic_t;

static void split_topic(const char *t, topic_t *tp)
{
    tp->n = 0;
    const char *p = t;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (tp->n < MAX_PARTS) {
            tp->at[tp->n] = p;
            tp->len[tp->n] = len;
        }
        tp->n++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
}

static int part_is(const topic_t *tp, int i, const char *s)
{
    return i < tp->n && i < MAX_PARTS && tp->len[i] == strlen(s) && memcmp(tp->at[i], s, tp->len[i]) == 0;
}

static void part_copy(const topic_t *tp, int i, msn_buf_t *b)
{
    msn_buf_reset(b);
    if (i < tp->n && i < MAX_PARTS)
        msn_buf_append(b, tp->at[i], tp->len[i]);
    msn_buf_cstr(b);
}

/* Trimmed and uppercased, as observers.iata is stored. */
static void set_iata(msn_buf_t *dst, const char *s, size_t n)
{
    msn_buf_reset(dst);
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    for (size_t i = 0; i < n; i++)
        msn_buf_putc(dst, (char)toupper((unsigned char)s[i]));
    msn_buf_cstr(dst);
}

/* Takes the first spelling of each aliased pair when its key was present (CoreScope's
 * reading of an MQTT message). */
static void prefer_first_spelling(msn_ingest_fields_t *l)
{
    if (l->key1_snr) {
        l->has_snr = l->has1_snr;
        l->snr = l->snr1;
    }
    if (l->key1_rssi) {
        l->has_rssi = l->has1_rssi;
        l->rssi = l->rssi1;
    }
    if (l->key1_score) {
        l->has_score = l->has1_score;
        l->score = l->score1;
    }
    if (l->key1_dir) {
        l->has_direction = l->has1_dir;
        msn_buf_reset(&l->direction);
        if (l->has1_dir)
            msn_buf_append(&l->direction, l->dir1.data ? l->dir1.data : "", l->dir1.len);
        msn_buf_cstr(&l->direction);
    }
}

/* The observer of an MQTT message (the topic's; name from origin, iata from the JSON
 * region, the topic's region or the broker's), as CoreScope's ingestor reads it. */
static void observer_of_topic(const msn_ingest_rules_t *r, msn_ingest_item_t *it, const topic_t *tp,
                              const msn_ingest_src_t *src, int status)
{
    const msn_ingest_fields_t *l = &it->l;
    part_copy(tp, 2, &it->obs_id);
    it->set_name = l->has_origin || r->blank_missing;
    msn_buf_reset(&it->obs_name);
    if (l->has_origin)
        msn_buf_append(&it->obs_name, l->origin.data ? l->origin.data : "", l->origin.len);
    msn_buf_cstr(&it->obs_name);
    const char *reg = NULL;
    size_t rn = 0;
    if (!status && l->has_region && l->region.len > 0) {
        reg = l->region.data;
        rn = l->region.len;
    } else if (tp->n > 1 && tp->len[1] > 0) {
        reg = tp->at[1];
        rn = tp->len[1];
    } else if (!status && src != NULL && src->region != NULL) {
        reg = src->region;
        rn = strlen(reg);
    }
    set_iata(&it->obs_iata, reg ? reg : "", rn);
    it->set_iata = it->obs_iata.len > 0 || r->blank_missing;
}

/* The observer of an import line without a topic. */
static void observer_of_line(const msn_ingest_rules_t *r, msn_ingest_item_t *it)
{
    const msn_ingest_fields_t *l = &it->l;
    msn_buf_reset(&it->obs_id);
    msn_buf_append(&it->obs_id, l->observer.data ? l->observer.data : "", l->observer.len);
    msn_buf_cstr(&it->obs_id);
    it->set_name = l->has_name || r->blank_missing;
    msn_buf_reset(&it->obs_name);
    if (l->has_name)
        msn_buf_append(&it->obs_name, l->name.data ? l->name.data : "", l->name.len);
    msn_buf_cstr(&it->obs_name);
    set_iata(&it->obs_iata, l->has_iata && l->iata.data ? l->iata.data : "", l->has_iata ? l->iata.len : 0);
    it->set_iata = it->obs_iata.len > 0 || r->blank_missing;
}

static int region_allowed(const topic_t *tp, const msn_ingest_src_t *src)
{
    if (src == NULL || src->n_iata_filter == 0 || tp->n < 2)
        return 1;
    for (int i = 0; i < src->n_iata_filter; i++)
        if (strlen(src->iata_filter[i]) == tp->len[1] && memcmp(src->iata_filter[i], tp->at[1], tp->len[1]) == 0)
            return 1;
    return 0;
}

/* The columns a new transmission row needs (the item's packet decoded with the keys). */
static void transmission_columns(msn_ingest_item_t *it)
{
    const msn_packet_t *pkt = &it->pkt;
    msn_buf_reset(&it->decoded_json);
    msn_buf_reset(&it->channel_hash);
    msn_packet_render_json(pkt, &it->decoded_json);
    char tmp[8];
    const char *ch = msn_packet_channel_hash(pkt, tmp);
    if (ch != NULL)
        msn_buf_puts(&it->channel_hash, ch);
    const char *scope = NULL;
    it->scope_null = msn_packet_scope(pkt, NULL, 0, &scope) < 0;
}

/* Sets it->ts by the packet_time rule. Returns 0, or -1 with the item rejected (a bad
 * timestamp when the message's time counts). */
static int packet_time(const msn_ingest_rules_t *r, msn_ingest_item_t *it, int64_t now_s)
{
    const msn_ingest_fields_t *l = &it->l;
    if (r->receive_time) {
        it->ts = now_s;
        return 0;
    }
    int trc = msn_ingest_fields_time(l, &it->ts);
    if (trc < 0) {
        reject(it, MSN_INGEST_R_TIME, "%.200s",
               l->ts_kind == 2 ? l->ts_str.data : "not unix seconds or an RFC3339 string");
        return -1;
    }
    if (trc == 1)
        it->ts = now_s;
    return 0;
}

/* The checks and computations of msn_ingest_prepare; returns 0 (it->reason says how). */
static int prepare(msn_ingest_prep_t *p, msn_ingest_item_t *it, const char *s, size_t n, int64_t now_s,
                   const msn_ingest_src_t *src)
{
    const msn_ingest_rules_t *r = &p->rules;
    msn_ingest_fields_t *l = &it->l;
    topic_t tp;
    if (msn_ingest_parse_json(l, s, n, it->why, sizeof(it->why)) < 0)
        return reject(it, MSN_INGEST_R_JSON, NULL, NULL);
    const char *topic = src != NULL ? src->topic : NULL;
    if (topic == NULL && l->has_topic)
        topic = l->topic.data ? l->topic.data : "";
    if (topic != NULL) {
        split_topic(topic, &tp);
        prefer_first_spelling(l);
        if (strcmp(topic, "meshcore/status") == 0 || strcmp(topic, "meshcore/events/connection") == 0)
            return reject(it, MSN_INGEST_R_TOPIC, "%s is not ingested", topic);
        if (tp.n >= 4 && part_is(&tp, 3, "status")) {
            it->kind = MSN_INGEST_STATUS;
            observer_of_topic(r, it, &tp, src, 1);
        } else if (!region_allowed(&tp, src)) {
            {
            part_copy(&tp, 1, &it->obs_iata);
            return reject(it, MSN_INGEST_R_FILTER, "region '%.100s'", it->obs_iata.data);
        }
        } else if (!l->has_raw || l->raw.len == 0) {
            return reject(it, MSN_INGEST_R_TOPIC, "no \"raw\" packet on %.200s", topic);
        } else {
            observer_of_topic(r, it, &tp, src, 0);
        }
    } else {
        if (!l->has_raw)
            return reject(it, MSN_INGEST_R_RAW, "no \"raw\" string", NULL);
        if (l->raw.len == 0)
            return reject(it, MSN_INGEST_R_RAW, "\"raw\" is empty", NULL);
    }

    if (it->kind == MSN_INGEST_STATUS)
        return packet_time(r, it, now_s);

    msn_codec_content_hash(l->raw.data, l->raw.len, it->hash);
    int first = !hashset_has(&p->seen, it->hash);
    /* The first message of a hash is decoded with the channel keys and the signature
     * check: it is the one that inserts the transmission. Later copies need only the frame. */
    msn_decode_opts_t full = {.keys = p->keys, .verify_signatures = r->verify};
    int rc = msn_packet_decode_hex(&it->pkt, l->raw.data, l->raw.len, first ? &full : NULL);
    if (rc != 0)
        return reject(it, rc == MSN_CODEC_EHEX ? MSN_INGEST_R_HEX : MSN_INGEST_R_DECODE, "%s",
                      msn_codec_strerror(rc));
    if (topic == NULL) {
        if (!l->has_observer || l->observer.len == 0)
            return reject(it, MSN_INGEST_R_OBSERVER, "no \"observer\" string", NULL);
        observer_of_line(r, it);
    }
    if (packet_time(r, it, now_s) < 0)
        return 0;

    const msn_packet_t *pkt = &it->pkt;
    if (msn_ingest_is_keyed_advert(pkt)) {
        int ar = msn_ingest_check_advert(pkt, it->why, sizeof(it->why));
        if (ar != MSN_INGEST_OK)
            return reject(it, ar, NULL, NULL);
        msn_packet_from_pubkey(pkt, it->pubkey);
        /* a hash seen before was accepted, so its signature verified then */
        if (first && r->verify && signature_bad(pkt)) {
            if (!r->dropped_packets)
                return reject(it, MSN_INGEST_R_SIG, "the Ed25519 signature does not verify", NULL);
            it->sig_bad = 1; /* a dropped_packets row, nothing else */
            return 0;
        }
        it->keyed = 1;
    }

    msn_packet_render_path_json(pkt, &it->path_json);
    msn_buf_cstr(&it->path_json);
    if (p->pr != NULL)
        msn_pathres_resolve_json(p->pr, it->pubkey, it->path_json.data, it->path_json.len, &it->resolved);

    if (first) {
        it->first = 1;
        if (p->seen.n >= SEEN_MAX) {
            memset(p->seen.slots, 0, p->seen.cap * 17);
            p->seen.n = 0;
        }
        hashset_put(&p->seen, it->hash);
        transmission_columns(it);
    }
    return 0;
}

void msn_ingest_prepare(msn_ingest_prep_t *p, msn_ingest_item_t *it, const char *s, size_t n, int64_t now_s,
                        const msn_ingest_src_t *src)
{
    it->reason = MSN_INGEST_OK;
    it->why[0] = '\0';
    it->kind = MSN_INGEST_PACKET;
    it->first = it->keyed = it->sig_bad = 0;
    it->set_name = it->set_iata = 0;
    it->pubkey[0] = '\0';
    it->hash[0] = '\0';
    it->scope_null = 1;
    msn_buf_reset(&it->obs_id);
    msn_buf_reset(&it->obs_name);
    msn_buf_reset(&it->obs_iata);
    msn_buf_cstr(&it->obs_id);
    msn_buf_reset(&it->path_json);
    msn_buf_reset(&it->resolved);
    msn_buf_reset(&it->decoded_json);
    msn_buf_reset(&it->channel_hash);
    prepare(p, it, s, n, now_s, src);
}

void msn_ingest_complete(msn_ingest_prep_t *p, msn_ingest_item_t *it)
{
    /* decoded as the first message of the hash is, signature check included: its result
       is part of decoded_json (it verified then, as the hash was accepted) */
    msn_decode_opts_t full = {.keys = p->keys, .verify_signatures = p->rules.verify};
    if (msn_packet_decode_hex(&it->pkt, it->l.raw.data, it->l.raw.len, &full) != 0)
        return; /* it decoded before: cannot happen */
    it->first = 1;
    hashset_put(&p->seen, it->hash);
    transmission_columns(it);
}
