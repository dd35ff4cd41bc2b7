/*
 * import_line.c: one line of `meshsnap import` input (see import_int.h): the few keys an
 * MQTT observer publishes, read from a JSON object, the timestamp rules, and the
 * per-packet checks of the CoreScope ingestor (decode, corrupted advert, signature).
 *
 * The line is read with shm/jsonr.h, which follows RFC 8259: any text that Go's
 * encoding/json would refuse is "not JSON" here too (raw control characters in strings,
 * bad escapes, trailing commas, bad numbers, text after the object). Other keys' values,
 * nested ones included, are validated and skipped.
 */
#include "import_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/hash.h"
#include "shm/hmap.h"
#include "shm/jsonr.h"
#include "shm/timeutil.h"

const char *const msn_import__reason_names[MSN_IMPORT_R_COUNT] = {
    [MSN_IMPORT_OK] = "ok",
    [MSN_IMPORT_R_JSON] = "not JSON",
    [MSN_IMPORT_R_RAW] = "no raw packet",
    [MSN_IMPORT_R_HEX] = "bad hex",
    [MSN_IMPORT_R_DECODE] = "packet rejected by the decoder",
    [MSN_IMPORT_R_OBSERVER] = "missing observer",
    [MSN_IMPORT_R_TIME] = "bad timestamp",
    [MSN_IMPORT_R_ADVERT] = "corrupted advert",
    [MSN_IMPORT_R_SIG] = "invalid advert signature",
};

void msn_import__line_init(msn_import_line_t *l)
{
    memset(l, 0, sizeof(*l));
}

void msn_import__line_free(msn_import_line_t *l)
{
    msn_buf_free(&l->raw);
    msn_buf_free(&l->observer);
    msn_buf_free(&l->name);
    msn_buf_free(&l->iata);
    msn_buf_free(&l->direction);
    msn_buf_free(&l->ts_str);
}

/* ---- the fields -------------------------------------------------------------------------- */

enum { F_NONE, F_RAW, F_OBSERVER, F_NAME, F_IATA, F_SNR, F_RSSI, F_SCORE, F_DIRECTION, F_TIMESTAMP };

static int field_of(const msn_jsonr_val_t *k)
{
    static const struct {
        const char *key;
        int field;
    } keys[] = {
        {"raw", F_RAW},
        {"observer", F_OBSERVER},
        {"observer_id", F_OBSERVER},
        {"observer_name", F_NAME},
        {"origin", F_NAME},
        {"iata", F_IATA},
        {"region", F_IATA},
        {"snr", F_SNR},
        {"SNR", F_SNR},
        {"rssi", F_RSSI},
        {"RSSI", F_RSSI},
        {"score", F_SCORE},
        {"Score", F_SCORE},
        {"direction", F_DIRECTION},
        {"Direction", F_DIRECTION},
        {"timestamp", F_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (msn_jsonr_is(k, keys[i].key))
            return keys[i].field;
    return F_NONE;
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

int msn_import__parse_line(msn_import_line_t *l, const char *s, size_t n, char *why, size_t whylen)
{
    msn_jsonr_t r;
    msn_jsonr_val_t key, v;
    msn_buf_t scratch = MSN_BUF_INIT;
    int rc;

    l->has_raw = l->has_observer = l->has_name = l->has_iata = l->has_direction = 0;
    l->has_snr = l->has_rssi = l->has_score = 0;
    l->ts_kind = 0;

    msn_jsonr_init(&r, s, n);
    if (msn_jsonr_object(&r) < 0)
        goto bad;
    while ((rc = msn_jsonr_member(&r, &key)) == 1) {
        int field = field_of(&key);
        if (msn_jsonr_value(&r, &v) < 0)
            goto bad;
        switch (field) {
        case F_RAW:
            set_string_field(&l->raw, &l->has_raw, &v);
            break;
        case F_OBSERVER:
            set_string_field(&l->observer, &l->has_observer, &v);
            break;
        case F_NAME:
            set_string_field(&l->name, &l->has_name, &v);
            break;
        case F_IATA:
            set_string_field(&l->iata, &l->has_iata, &v);
            break;
        case F_DIRECTION:
            set_string_field(&l->direction, &l->has_direction, &v);
            break;
        case F_SNR:
            set_number_field(&l->snr, &l->has_snr, &v, &scratch);
            break;
        case F_RSSI:
            set_number_field(&l->rssi, &l->has_rssi, &v, &scratch);
            break;
        case F_SCORE:
            set_number_field(&l->score, &l->has_score, &v, &scratch);
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
    if (rc < 0 || msn_jsonr_end(&r) < 0)
        goto bad;
    msn_buf_free(&scratch);
    return 0;
bad:
    if (why != NULL && whylen > 0) {
        if (r.err_at >= r.end)
            snprintf(why, whylen, "%s at the end of the line", r.err);
        else
            snprintf(why, whylen, "%s at column %zu", r.err, (size_t)(r.err_at - r.s) + 1);
    }
    msn_buf_free(&scratch);
    return -1;
}

/* Largest accepted time: 9999-12-31T23:59:59Z. */
#define MAX_UNIX_S 253402300799LL

int msn_import__line_time(const msn_import_line_t *l, int64_t *out)
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

int msn_import__decode_light(msn_packet_t *pkt, const char *raw, size_t n, char *why, size_t whylen)
{
    int rc = msn_packet_decode_hex(pkt, raw, n, NULL);
    if (rc == 0)
        return MSN_IMPORT_OK;
    snprintf(why, whylen, "%s", msn_codec_strerror(rc));
    return rc == MSN_CODEC_EHEX ? MSN_IMPORT_R_HEX : MSN_IMPORT_R_DECODE;
}

int msn_import__is_keyed_advert(const msn_packet_t *pkt)
{
    return pkt->payload_type == MSN_PT_ADVERT && pkt->p.pub_key.len == 32;
}

int msn_import__check_advert(const msn_packet_t *pkt, char *why, size_t whylen)
{
    const uint8_t *k = msn_span_ptr(pkt, pkt->p.pub_key);
    int zero = 1;
    for (int i = 0; i < 32 && zero; i++)
        zero = k[i] == 0;
    if (zero) {
        snprintf(why, whylen, "public key is all zeros");
        return MSN_IMPORT_R_ADVERT;
    }
    if (pkt->p.has & MSN_HAS_LATLON) {
        double lat = (double)pkt->p.lat_e6 / 1e6, lon = (double)pkt->p.lon_e6 / 1e6;
        if (lat < -90 || lat > 90) {
            snprintf(why, whylen, "invalid lat %f", lat);
            return MSN_IMPORT_R_ADVERT;
        }
        if (lon < -180 || lon > 180) {
            snprintf(why, whylen, "invalid lon %f", lon);
            return MSN_IMPORT_R_ADVERT;
        }
    }
    return MSN_IMPORT_OK;
}

static int signature_bad(const msn_packet_t *pkt)
{
    return (pkt->p.has & MSN_HAS_SIG_VALID) && !pkt->p.signature_valid;
}

int msn_import__advert_signature_ok(msn_packet_t *scratch, const char *raw, size_t n)
{
    msn_decode_opts_t o = {.keys = NULL, .verify_signatures = 1};
    if (msn_packet_decode_hex(scratch, raw, n, &o) != 0)
        return 0;
    return !signature_bad(scratch);
}

/* ---- preparing a line ------------------------------------------------------------------------ */

void msn_import__item_init(msn_import_item_t *it)
{
    memset(it, 0, sizeof(*it));
    msn_import__line_init(&it->l);
}

void msn_import__item_free(msn_import_item_t *it)
{
    msn_import__line_free(&it->l);
    msn_buf_free(&it->path_json);
    msn_buf_free(&it->resolved);
    msn_buf_free(&it->decoded_json);
    msn_buf_free(&it->channel_hash);
}

/* The hashes of the lines accepted so far (16-char strings), in a hash map. Emptied
 * when it reaches SEEN_MAX hashes (about 70 MB): a hash seen again after that is treated
 * as new here (decoded in full and verified once more), and the writer, which looks the
 * transmission up anyway, finds it. */
#define SEEN_MAX 2000000

typedef struct {
    char (*hashes)[17]; /* entries, NUL-terminated */
    uint32_t n, cap;
    msn_hmap_t ix;
} hashset_t;

static int hashset_has(const hashset_t *hs, const char *h, msn_hmap_probe_t *pr)
{
    for (uint32_t e = msn_hmap_first(&hs->ix, msn_hash_bytes(h, strlen(h)), pr); e != MSN_HMAP_NONE;
         e = msn_hmap_next(&hs->ix, pr))
        if (strcmp(hs->hashes[e], h) == 0)
            return 1;
    return 0;
}

static void hashset_put(hashset_t *hs, const char *h)
{
    msn_hmap_probe_t pr;
    if (h[0] == '\0' || hashset_has(hs, h, &pr))
        return;
    if (hs->n == hs->cap) {
        hs->cap = hs->cap ? hs->cap * 2 : 16384;
        hs->hashes = msn_xrealloc(hs->hashes, (size_t)hs->cap * sizeof(*hs->hashes));
    }
    snprintf(hs->hashes[hs->n], sizeof(hs->hashes[hs->n]), "%s", h);
    msn_hmap_insert(&hs->ix, &pr, hs->n++);
}

static void hashset_clear(hashset_t *hs)
{
    msn_hmap_clear(&hs->ix);
    hs->n = 0;
}

struct msn_import_prep {
    msn_chankeys_t *keys;
    int verify;
    const msn_pathres_t *pr;
    hashset_t seen;
};

msn_import_prep_t *msn_import__prep_new(msn_chankeys_t *keys, int verify, const msn_pathres_t *pr)
{
    msn_import_prep_t *p = msn_xcalloc(1, sizeof(*p));
    p->keys = keys;
    p->verify = verify;
    p->pr = pr;
    return p;
}

void msn_import__prep_free(msn_import_prep_t *p)
{
    if (p == NULL)
        return;
    free(p->seen.hashes);
    msn_hmap_free(&p->seen.ix);
    free(p);
}

/* Marks the item rejected; returns 0 so that callers can `return reject(...)`. */
static int reject(msn_import_item_t *it, int reason, const char *fmt, const char *arg)
{
    it->reason = reason;
    if (fmt != NULL)
        snprintf(it->why, sizeof(it->why), fmt, arg);
    return 0;
}

/* The checks and computations of msn_import__prepare; returns 0 (it->reason says how). */
static int prepare(msn_import_prep_t *p, msn_import_item_t *it, const char *s, size_t n, int64_t now_s)
{
    msn_import_line_t *l = &it->l;
    if (msn_import__parse_line(l, s, n, it->why, sizeof(it->why)) < 0)
        return reject(it, MSN_IMPORT_R_JSON, NULL, NULL);
    if (!l->has_raw)
        return reject(it, MSN_IMPORT_R_RAW, "no \"raw\" string", NULL);
    if (l->raw.len == 0)
        return reject(it, MSN_IMPORT_R_RAW, "\"raw\" is empty", NULL);

    msn_codec_content_hash(l->raw.data, l->raw.len, it->hash);
    msn_hmap_probe_t probe;
    int first = !hashset_has(&p->seen, it->hash, &probe);
    /* The first line of a hash is decoded with the channel keys and the signature check:
     * it is the one that inserts the transmission. Later copies need only the frame. */
    msn_decode_opts_t full = {.keys = p->keys, .verify_signatures = p->verify};
    int rc = msn_packet_decode_hex(&it->pkt, l->raw.data, l->raw.len, first ? &full : NULL);
    if (rc != 0)
        return reject(it, rc == MSN_CODEC_EHEX ? MSN_IMPORT_R_HEX : MSN_IMPORT_R_DECODE, "%s",
                      msn_codec_strerror(rc));
    if (!l->has_observer || l->observer.len == 0)
        return reject(it, MSN_IMPORT_R_OBSERVER, "no \"observer\" string", NULL);
    int trc = msn_import__line_time(l, &it->ts);
    if (trc < 0)
        return reject(it, MSN_IMPORT_R_TIME, "%.200s",
                      l->ts_kind == 2 ? l->ts_str.data : "not unix seconds or an RFC3339 string");
    if (trc == 1)
        it->ts = now_s;

    const msn_packet_t *pkt = &it->pkt;
    if (msn_import__is_keyed_advert(pkt)) {
        int r = msn_import__check_advert(pkt, it->why, sizeof(it->why));
        if (r != MSN_IMPORT_OK)
            return reject(it, r, NULL, NULL);
        /* a hash seen before was accepted, so its signature verified then */
        if (first && p->verify && signature_bad(pkt))
            return reject(it, MSN_IMPORT_R_SIG, "the Ed25519 signature does not verify", NULL);
        it->keyed = 1;
        msn_packet_from_pubkey(pkt, it->pubkey);
    }

    msn_packet_render_path_json(pkt, &it->path_json);
    msn_buf_cstr(&it->path_json);
    if (p->pr != NULL)
        msn_pathres_resolve_json(p->pr, it->pubkey, it->path_json.data, it->path_json.len, &it->resolved);

    if (first) {
        it->first = 1;
        if (p->seen.n >= SEEN_MAX)
            hashset_clear(&p->seen);
        hashset_put(&p->seen, it->hash);
        msn_packet_render_json(pkt, &it->decoded_json);
        char tmp[8];
        const char *ch = msn_packet_channel_hash(pkt, tmp);
        if (ch != NULL)
            msn_buf_puts(&it->channel_hash, ch);
        const char *scope = NULL;
        it->scope_null = msn_packet_scope(pkt, NULL, 0, &scope) < 0;
    }
    return 0;
}

void msn_import__prepare(msn_import_prep_t *p, msn_import_item_t *it, const char *s, size_t n, int64_t now_s)
{
    it->reason = MSN_IMPORT_OK;
    it->why[0] = '\0';
    it->first = it->keyed = 0;
    it->pubkey[0] = '\0';
    it->hash[0] = '\0';
    it->scope_null = 1;
    msn_buf_reset(&it->path_json);
    msn_buf_reset(&it->resolved);
    msn_buf_reset(&it->decoded_json);
    msn_buf_reset(&it->channel_hash);
    prepare(p, it, s, n, now_s);
}
