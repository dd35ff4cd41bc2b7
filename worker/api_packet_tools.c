/*
 * api_packet_tools.c: /api/packets/timestamps, POST /api/packets/observations,
 * POST /api/decode and /api/traces/:hash.
 *
 *  timestamps    a range scan of the `ft` index after `since`: the stored first_seen of
 *                every transmission newer than it, oldest first (a bare JSON array; []
 *                where CoreScope sends null)
 *  observations  per hash of the body (at most 200), the transmission's observation objects
 *                as /api/packets/:id lists them ([] for an unknown hash), keyed by the hash
 *                as sent, keys sorted (a Go map)
 *  decode        the shared codec (shm/codec) on the body's hex, without channel keys (as
 *                CoreScope's server decoder) and with advert signatures checked; the payload
 *                is the decoded_json object CoreScope's ingestor stores
 *  traces        the observations of the transmission with that hash, by time then id:
 *                observer id and name, time, snr, rssi, path_json (keys sorted)
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "shm/codec/codec.h"
#include "shm/json.h"
#include "shm/jsonr.h"
#include "shm/timeutil.h"

#define MAX_HASHES 200

void msn_api_packet_timestamps(msn_api_req_t *r)
{
    const char *since = msn_api_param(r, "since");
    int64_t since_ms;
    if (since == NULL || since[0] == '\0') {
        msn_api_error(r, 400, "since required");
        return;
    }
    if (msn_parse_time_ms(since, &since_ms) < 0) {
        msn_api_error(r, 400, "invalid since: expected an RFC3339 time");
        return;
    }
    msn_buf_t *b = r->body;
    msn_buf_putc(b, '[');
    MDB_cursor *c;
    if (since_ms < INT64_MAX && mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FT], &c) == 0) {
        msn_snap_key_t k;
        msn_snap_ft_key(since_ms + 1, 0, &k);
        MDB_val key = msn_snap_key_val(&k), v;
        int first = 1;
        for (int rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
            if (msn_snap_note(r->snap, msn_snaprec_keysum_check(v.mv_data, v.mv_size, key.mv_data, key.mv_size)) != 0 ||
                v.mv_size == MSN_SNAPREC_KEYSUM_LEN)
                continue; /* damaged (reported), or no text */
            if (!first)
                msn_buf_putc(b, ',');
            first = 0;
            msn_json_strn(b, (const char *)v.mv_data + MSN_SNAPREC_KEYSUM_LEN, v.mv_size - MSN_SNAPREC_KEYSUM_LEN);
        }
        mdb_cursor_close(c);
    }
    msn_buf_putc(b, ']');
    r->status = 200;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a POST body as Go's json.Decoder does: its first JSON value (what follows is not
 * read), which must be an object or null. Returns 0 with *body set, or -1. */
static int read_body(const msn_api_req_t *r, msn_jsonr_val_t *body)
{
    msn_jsonr_t jr;
    msn_jsonr_init(&jr, r->req_body ? r->req_body : "", r->req_body ? r->req_body_len : 0);
    if (msn_jsonr_value(&jr, body) < 0)
        return -1;
    return body->type == MSN_JSONR_OBJ || body->type == MSN_JSONR_NULL ? 0 : -1;
}

void msn_api_packet_observations(msn_api_req_t *r)
{
    msn_jsonr_val_t body, hashes = {0}, el;
    if (read_body(r, &body) < 0) {
        msn_api_error(r, 400, "invalid JSON body");
        return;
    }
    int have = msn_jsonr_get(&body, "hashes", 1, &hashes) && hashes.type != MSN_JSONR_NULL;
    if (have && hashes.type != MSN_JSONR_ARR) {
        msn_api_error(r, 400, "invalid JSON body");
        return;
    }
    msn_jsonr_t jr;
    int n = 0;
    msn_jsonr_init(&jr, have ? hashes.p : "", have ? hashes.n : 0);
    for (msn_jsonr_array(&jr); have && msn_jsonr_element(&jr) == 1 && msn_jsonr_value(&jr, &el) == 0;) {
        if (el.type != MSN_JSONR_STR && el.type != MSN_JSONR_NULL) {
            msn_api_error(r, 400, "invalid JSON body");
            return;
        }
        n++;
    }
    if (n > MAX_HASHES) {
        msn_api_error(r, 400, "too many hashes (max %d)", MAX_HASHES);
        return;
    }
    char **list = msn_xcalloc((size_t)(n ? n : 1), sizeof(char *));
    int k = 0;
    msn_jsonr_init(&jr, have ? hashes.p : "", have ? hashes.n : 0);
    for (msn_jsonr_array(&jr); have && k < n && msn_jsonr_element(&jr) == 1 && msn_jsonr_value(&jr, &el) == 0;) {
        msn_buf_t s = MSN_BUF_INIT;
        msn_jsonr_str(&el, &s); /* a null stays empty */
        list[k++] = s.data ? msn_xstrndup(s.data, s.len) : msn_xstrdup("");
        msn_buf_free(&s);
    }
    qsort(list, (size_t)n, sizeof(char *), cmp_str);
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"results\":{");
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(list[i], list[i - 1]) == 0)
            continue; /* one key per hash */
        if (!first)
            msn_buf_putc(b, ',');
        first = 0;
        msn_json_strn(b, list[i], strlen(list[i]));
        msn_buf_putc(b, ':');
        uint64_t id;
        if (msn_snap_hash_get(r->txn, r->snap, list[i], strlen(list[i]), &id) == 0)
            msn_api_obs_array(r, b, id);
        else
            msn_buf_puts(b, "[]");
    }
    msn_buf_puts(b, "}}");
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    r->status = 200;
}

/* ---- /api/decode ---------------------------------------------------------------------------- */

static void render_decoded(msn_buf_t *b, const msn_packet_t *pkt)
{
    msn_buf_printf(b,
                   "{\"decoded\":{\"header\":{\"routeType\":%u,\"routeTypeName\":\"%s\",\"payloadType\":%u,"
                   "\"payloadTypeName\":\"%s\",\"payloadVersion\":%u},\"path\":",
                   pkt->route_type, msn_route_type_name(pkt->route_type), pkt->payload_type,
                   msn_payload_type_name(pkt->payload_type), pkt->payload_version);
    /* a TRACE with route data lists its route hops; else the header path */
    int trace = pkt->hops_completed >= 0;
    unsigned size = trace ? pkt->hop_size : pkt->hash_size, count = trace ? pkt->hop_count : pkt->hash_count;
    msn_span_t span = trace ? pkt->hops : pkt->path;
    int direct = pkt->route_type == 2 || pkt->route_type == 3;
    unsigned shown_size = !trace && direct && (pkt->path_byte & 0x3F) == 0 && pkt->payload_type != 9 ? 0 : size;
    msn_buf_printf(b, "{\"hashSize\":%u,\"hashCount\":%u,\"hops\":[", shown_size, count);
    const uint8_t *p = msn_span_ptr(pkt, span);
    static const char hx[] = "0123456789ABCDEF";
    for (unsigned i = 0; size > 0 && i < count && (size_t)(i + 1) * size <= span.len; i++) {
        msn_buf_puts(b, i ? ",\"" : "\"");
        for (unsigned j = 0; j < size; j++) {
            msn_buf_putc(b, hx[p[i * size + j] >> 4]);
            msn_buf_putc(b, hx[p[i * size + j] & 15]);
        }
        msn_buf_putc(b, '"');
    }
    msn_buf_putc(b, ']');
    if (trace)
        msn_buf_printf(b, ",\"hopsCompleted\":%d", pkt->hops_completed);
    msn_buf_puts(b, "},\"payload\":");
    msn_packet_render_json(pkt, b);
    msn_buf_puts(b, "}}");
}

void msn_api_decode(msn_api_req_t *r)
{
    msn_jsonr_val_t body, hex;
    if (read_body(r, &body) < 0) {
        msn_api_error(r, 400, "invalid JSON body");
        return;
    }
    msn_buf_t text = MSN_BUF_INIT;
    if (msn_jsonr_get(&body, "hex", 1, &hex) && hex.type != MSN_JSONR_NULL) {
        if (hex.type != MSN_JSONR_STR) {
            msn_api_error(r, 400, "invalid JSON body");
            return;
        }
        msn_jsonr_str(&hex, &text);
    }
    const char *s = text.data ? text.data : "";
    size_t n = text.len;
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                     s[n - 1] == '\v' || s[n - 1] == '\f'))
        n--;
    if (n == 0) {
        msn_api_error(r, 400, "hex is required");
        msn_buf_free(&text);
        return;
    }
    msn_packet_t *pkt = msn_xmalloc(sizeof(*pkt));
    msn_decode_opts_t opts = {NULL, 1};
    int rc = msn_packet_decode_hex(pkt, s, n, &opts);
    if (rc < 0)
        msn_api_error(r, 400, "%s", msn_codec_strerror(rc));
    else {
        render_decoded(r->body, pkt);
        r->status = 200;
    }
    free(pkt);
    msn_buf_free(&text);
}

/* ---- /api/traces/:hash ---------------------------------------------------------------------- */

typedef struct {
    int64_t ts, id;
    msn_snaprec_obs_t o; /* pointers into the map */
} trace_t;

static int cmp_trace(const void *a, const void *b)
{
    const trace_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void sv_or_null(msn_buf_t *b, msn_sv_t s)
{
    if (s.p)
        msn_json_strn(b, s.p, s.len);
    else
        msn_buf_puts(b, "null");
}

void msn_api_traces(msn_api_req_t *r, const char *hash)
{
    msn_buf_t *b = r->body;
    uint64_t id;
    trace_t *t = NULL;
    size_t n = 0, cap = 0;
    MDB_cursor *c;
    if (hash && msn_snap_hash_get(r->txn, r->snap, hash, strlen(hash), &id) == 0 &&
        mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_OBS], &c) == 0) {
        msn_snap_key_t start;
        msn_snap_obs_key(id, 0, &start);
        MDB_val k = msn_snap_key_val(&start), v;
        uint64_t tx_id, obs_id;
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
             rc == 0 && msn_snap_obs_key_parse(k.mv_data, k.mv_size, &tx_id, &obs_id) == 0 && tx_id == id;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                t = msn_xrealloc(t, cap * sizeof(*t));
            }
            if (msn_snap_note(r->snap, msn_snaprec_obs_decode(v.mv_data, v.mv_size, &t[n].o)) != 0)
                continue; /* damage is counted: the answer is a 503 */
            t[n].ts = t[n].o.timestamp_s;
            t[n].id = t[n].o.id;
            n++;
        }
        mdb_cursor_close(c);
    }
    if (n > 1)
        qsort(t, n, sizeof(*t), cmp_trace);
    msn_buf_puts(b, "{\"traces\":[");
    for (size_t i = 0; i < n; i++) {
        const msn_snaprec_obs_t *o = &t[i].o;
        msn_snaprec_orow_t ob = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
        if (o->has_observer && msn_snap_orow_get(r->txn, r->snap, o->observer_rowid, &ob) != 0)
            memset(&ob, 0, sizeof(ob));
        msn_buf_puts(b, i ? ",{\"observer\":" : "{\"observer\":");
        sv_or_null(b, ob.id);
        msn_buf_puts(b, ",\"observer_name\":");
        sv_or_null(b, ob.name);
        msn_buf_puts(b, ",\"path_json\":");
        sv_or_null(b, o->path_json);
        msn_buf_puts(b, ",\"rssi\":");
        if (o->has_rssi)
            msn_json_double(b, o->rssi);
        else
            msn_buf_puts(b, "null");
        msn_buf_puts(b, ",\"snr\":");
        if (o->has_snr)
            msn_json_double(b, o->snr);
        else
            msn_buf_puts(b, "null");
        char iso[32];
        msn_format_iso_ms(iso, o->timestamp_s * 1000);
        msn_buf_printf(b, ",\"time\":\"%s\"}", iso);
    }
    msn_buf_puts(b, "]}");
    free(t);
    r->status = 200;
}
