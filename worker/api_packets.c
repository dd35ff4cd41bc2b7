/*
 * api_packets.c: GET /api/packets and GET /api/packets/{hash|id}.
 *
 * The list is answered from the `fx` packet lists (snapshot.h): the hash filter is one
 * lookup; an observer filter walks that observer's list (a union for several); a
 * since/until-only query range-scans the `ft` time index; otherwise the type, route or
 * all-packets list is walked in id order with the remaining filters checked against the
 * fixed-size entries. Without filters the total is the list's count and only the page
 * is visited. Rows are the pre-rendered fragments of the `tx` records.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "shm/json.h"
#include "shm/mpk.h"
#include "shm/timeutil.h"

typedef struct {
    int has_type, has_route, has_since, has_until;
    int type, route;
    int64_t since_ms, until_ms;
} pred_t;

static int pred_active(const pred_t *p)
{
    return p->has_type || p->has_route || p->has_since || p->has_until;
}

static int rec_match(const msn_fx_rec_t *rec, const pred_t *p)
{
    if (p->has_type && rec->payload_type != p->type)
        return 0;
    if (p->has_route && rec->route_type != p->route)
        return 0;
    int64_t fs = (int64_t)msn_be64_get(rec->first_seen_ms_be);
    if (p->has_since && !(fs > p->since_ms))
        return 0;
    if (p->has_until && !(fs < p->until_ms))
        return 0;
    return 1;
}

typedef struct {
    uint64_t *v;
    size_t n, cap;
} idvec_t;

static void idvec_push(idvec_t *a, uint64_t id)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->v = msn_xrealloc(a->v, a->cap * sizeof(uint64_t));
    }
    a->v[a->n++] = id;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Walks the dup list `key` collecting matching ids (ascending) into out. */
static int collect_list(msn_api_req_t *r, const void *key, size_t klen, const pred_t *p, idvec_t *out)
{
    MDB_cursor *c;
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FX], &c) != 0)
        return -1;
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
    while (rc == 0) {
        const msn_fx_rec_t *rec = v.mv_data;
        if (v.mv_size == sizeof(*rec) && rec_match(rec, p))
            idvec_push(out, msn_be64_get(rec->id_be));
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(c);
    return 0;
}

/* Walks one list in the requested order, counting matches and keeping the page. */
static int64_t walk_list(msn_api_req_t *r, const void *key, size_t klen, const pred_t *p, int asc, int64_t offset,
                         int64_t limit, idvec_t *page)
{
    MDB_cursor *c;
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FX], &c) != 0)
        return 0;
    MDB_val k = {klen, (void *)key}, v;
    int64_t total = 0;
    if (mdb_cursor_get(c, &k, &v, MDB_SET_KEY) != 0) {
        mdb_cursor_close(c);
        return 0;
    }
    if (!pred_active(p)) {
        size_t count = 0;
        mdb_cursor_count(c, &count);
        total = (int64_t)count;
    }
    int rc = mdb_cursor_get(c, &k, &v, asc ? MDB_FIRST_DUP : MDB_LAST_DUP);
    int64_t seen = 0;
    while (rc == 0) {
        const msn_fx_rec_t *rec = v.mv_data;
        if (v.mv_size == sizeof(*rec) && rec_match(rec, p)) {
            if (seen >= offset && seen < offset + limit)
                idvec_push(page, msn_be64_get(rec->id_be));
            seen++;
            if (!pred_active(p) && seen >= offset + limit)
                break;
        }
        rc = mdb_cursor_get(c, &k, &v, asc ? MDB_NEXT_DUP : MDB_PREV_DUP);
    }
    mdb_cursor_close(c);
    return pred_active(p) ? seen : total;
}

/* Reads the fields of a tx record. */
typedef struct {
    const char *frag;
    uint32_t frag_len;
    int64_t first_seen_ms, type, route;
    const char *hash, *raw_hex, *decoded_json, *path_json;
    uint32_t hash_len, raw_len, dj_len, path_len;
    int64_t obs_count;
} txrec_t;

static int read_str_or_nil(msn_mpk_reader_t *m, const char **s, uint32_t *len)
{
    if (msn_mpk_peek(m) == MSN_MPK_NIL) {
        *s = NULL;
        *len = 0;
        return msn_mpk_read_nil(m);
    }
    return msn_mpk_read_str(m, s, len);
}

static int get_tx(msn_api_req_t *r, uint64_t id, txrec_t *t)
{
    uint8_t k[8];
    msn_be64_put(k, id);
    MDB_val key = {8, k}, val;
    if (mdb_get(r->txn, r->snap->dbi[MSN_DBI_TX], &key, &val) != 0)
        return 1;
    msn_mpk_reader_t m;
    msn_mpk_reader_init(&m, val.mv_data, val.mv_size);
    uint32_t n;
    if (msn_mpk_read_array(&m, &n) < 0 || n < 9 || msn_mpk_read_bin(&m, &t->frag, &t->frag_len) < 0 ||
        msn_mpk_read_int(&m, &t->first_seen_ms) < 0 || msn_mpk_read_int(&m, &t->type) < 0 ||
        msn_mpk_read_int(&m, &t->route) < 0 || read_str_or_nil(&m, &t->hash, &t->hash_len) < 0 ||
        read_str_or_nil(&m, &t->raw_hex, &t->raw_len) < 0 || read_str_or_nil(&m, &t->decoded_json, &t->dj_len) < 0 ||
        read_str_or_nil(&m, &t->path_json, &t->path_len) < 0 || msn_mpk_read_int(&m, &t->obs_count) < 0)
        return -1;
    return 0;
}

static int get_u64(msn_api_req_t *r, int dbi, const void *key, size_t klen, uint64_t *out)
{
    MDB_val k = {klen, (void *)key}, v;
    if (mdb_get(r->txn, r->snap->dbi[dbi], &k, &v) != 0 || v.mv_size != 8)
        return 1;
    *out = msn_be64_get(v.mv_data);
    return 0;
}

static void render_page(msn_api_req_t *r, const idvec_t *page, int64_t total, int64_t limit, int64_t offset)
{
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"packets\":[");
    int first = 1;
    for (size_t i = 0; i < page->n; i++) {
        txrec_t t;
        if (get_tx(r, page->v[i], &t) != 0)
            continue;
        if (!first)
            msn_buf_putc(b, ',');
        first = 0;
        msn_buf_append(b, t.frag, t.frag_len);
    }
    msn_buf_printf(b, "],\"total\":%lld,\"limit\":%lld,\"offset\":%lld}", (long long)total, (long long)limit,
                   (long long)offset);
}

static int parse_time_param(msn_api_req_t *r, const char *name, int *has, int64_t *ms)
{
    const char *v = msn_api_param(r, name);
    if (v == NULL || *v == '\0')
        return 0;
    if (msn_parse_time_ms(v, ms) < 0) {
        msn_api_error(r, 400, "invalid %s: expected an ISO-8601 time such as 2026-01-02T15:04:05Z", name);
        return -1;
    }
    *has = 1;
    return 0;
}

void msn_api_packets(msn_api_req_t *r)
{
    pred_t p;
    memset(&p, 0, sizeof(p));
    int64_t v;
    int rc = msn_api_int_param(r, "type", &v);
    if (rc < 0 || (rc == 0 && (v < 0 || v > 15))) {
        msn_api_error(r, 400, "invalid type: expected a payload type number 0-15");
        return;
    }
    if (rc == 0) {
        p.has_type = 1;
        p.type = (int)v;
    }
    rc = msn_api_int_param(r, "route", &v);
    if (rc < 0 || (rc == 0 && (v < 0 || v > 3))) {
        msn_api_error(r, 400, "invalid route: expected a route type number 0-3");
        return;
    }
    if (rc == 0) {
        p.has_route = 1;
        p.route = (int)v;
    }
    if (parse_time_param(r, "since", &p.has_since, &p.since_ms) < 0 ||
        parse_time_param(r, "until", &p.has_until, &p.until_ms) < 0)
        return;
    int64_t limit = msn_api_limit(r, 50, 10000), offset = msn_api_offset(r);
    const char *order = msn_api_param(r, "order");
    int asc = order && strcmp(order, "asc") == 0;
    const char *hash = msn_api_param(r, "hash");
    const char *observer = msn_api_param(r, "observer");
    idvec_t ids = {0}, page = {0};
    int64_t total = 0;

    if (hash && *hash) {
        char h[65];
        size_t n = strlen(hash);
        if (n > 64) {
            msn_api_error(r, 400, "invalid hash: expected a hex content hash");
            return;
        }
        for (size_t i = 0; i < n; i++) {
            if (!isxdigit((unsigned char)hash[i])) {
                msn_api_error(r, 400, "invalid hash: expected a hex content hash");
                return;
            }
            h[i] = (char)tolower((unsigned char)hash[i]);
        }
        uint64_t id;
        if (get_u64(r, MSN_DBI_HASH, h, n, &id) == 0) {
            txrec_t t;
            if (get_tx(r, id, &t) == 0) {
                msn_fx_rec_t rec;
                memset(&rec, 0, sizeof(rec));
                msn_be64_put(rec.id_be, id);
                msn_be64_put(rec.first_seen_ms_be, (uint64_t)t.first_seen_ms);
                rec.payload_type = (uint8_t)t.type;
                rec.route_type = (uint8_t)t.route;
                int ok = rec_match(&rec, &p);
                if (ok && observer && *observer) {
                    ok = 0;
                    char *list = msn_xstrdup(observer), *save = NULL;
                    for (char *o = strtok_r(list, ",", &save); o && !ok; o = strtok_r(NULL, ",", &save)) {
                        char key[200];
                        size_t ol = strlen(o);
                        if (ol + 1 > sizeof(key))
                            continue;
                        key[0] = 'o';
                        memcpy(key + 1, o, ol);
                        MDB_cursor *c;
                        if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FX], &c) == 0) {
                            MDB_val k = {ol + 1, key}, d = {sizeof(rec), &rec};
                            ok = mdb_cursor_get(c, &k, &d, MDB_GET_BOTH) == 0;
                            mdb_cursor_close(c);
                        }
                    }
                    free(list);
                }
                if (ok)
                    idvec_push(&ids, id);
            }
        }
        total = (int64_t)ids.n;
        if (offset < total && limit > 0)
            idvec_push(&page, ids.v[0]);
    } else if (observer && *observer) {
        char *list = msn_xstrdup(observer), *save = NULL;
        int lists = 0;
        for (char *o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
            while (*o == ' ')
                o++;
            size_t ol = strlen(o);
            if (ol == 0 || ol + 1 > 200)
                continue;
            char key[200];
            key[0] = 'o';
            memcpy(key + 1, o, ol);
            collect_list(r, key, ol + 1, &p, &ids);
            lists++;
        }
        free(list);
        if (lists > 1 && ids.n > 1 && ids.v != NULL) {
            qsort(ids.v, ids.n, sizeof(uint64_t), cmp_u64);
            size_t w = 1;
            for (size_t i = 1; i < ids.n; i++)
                if (ids.v[i] != ids.v[w - 1])
                    ids.v[w++] = ids.v[i];
            ids.n = w;
        }
        goto paginate;
    } else if ((p.has_since || p.has_until) && !p.has_type && !p.has_route) {
        MDB_cursor *c;
        if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FT], &c) == 0) {
            uint8_t start[16];
            memset(start, 0, sizeof(start));
            if (p.has_since)
                msn_be64_put(start, (uint64_t)(p.since_ms + 1));
            MDB_val k = {16, start}, d;
            int crc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
            while (crc == 0 && k.mv_size == 16) {
                int64_t fs = (int64_t)msn_be64_get(k.mv_data);
                if (p.has_until && fs >= p.until_ms)
                    break;
                if (!p.has_since || fs > p.since_ms)
                    idvec_push(&ids, msn_be64_get((const uint8_t *)k.mv_data + 8));
                crc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
            }
            mdb_cursor_close(c);
        }
        if (ids.n > 1)
            qsort(ids.v, ids.n, sizeof(uint64_t), cmp_u64);
        goto paginate;
    } else {
        char key[2];
        size_t kl = 1;
        if (p.has_type) {
            key[0] = 't';
            key[1] = (char)p.type;
            kl = 2;
        } else if (p.has_route) {
            key[0] = 'r';
            key[1] = (char)p.route;
            kl = 2;
        } else {
            key[0] = 'a';
        }
        pred_t rest = p;
        if (p.has_type)
            rest.has_type = 0;
        else if (p.has_route)
            rest.has_route = 0;
        total = walk_list(r, key, kl, &rest, asc, offset, limit, &page);
    }
    goto render;
paginate:
    total = (int64_t)ids.n;
    for (int64_t i = offset; i < total && i < offset + limit; i++)
        idvec_push(&page, asc ? ids.v[i] : ids.v[total - 1 - i]);
render:
    render_page(r, &page, total, limit, offset);
    r->status = 200;
    free(ids.v);
    free(page.v);
}

/* ---- detail ---- */

int msn_api_render_obs(msn_api_req_t *r, msn_buf_t *b, const void *recp, size_t len, const char *tx_hash,
                       size_t hash_len, const char *tx_raw_hex, size_t raw_len, int with_tx_id)
{
    msn_mpk_reader_t m;
    msn_mpk_reader_init(&m, recp, len);
    uint32_t n;
    int64_t id, txid, rowid = -1, ts;
    const char *dir = NULL, *path = NULL, *rp = NULL, *raw = NULL;
    uint32_t dir_l = 0, path_l = 0, raw_l = 0;
    double snr = 0, rssi = 0;
    int has_snr = 0, has_rssi = 0, raw_same = 0;
    if (msn_mpk_read_array(&m, &n) < 0 || n < 11 || msn_mpk_read_int(&m, &id) < 0 || msn_mpk_read_int(&m, &txid) < 0)
        return -1;
    if (msn_mpk_peek(&m) == MSN_MPK_NIL)
        msn_mpk_read_nil(&m);
    else if (msn_mpk_read_int(&m, &rowid) < 0)
        return -1;
    if (read_str_or_nil(&m, &dir, &dir_l) < 0)
        return -1;
    if (msn_mpk_peek(&m) == MSN_MPK_NIL)
        msn_mpk_read_nil(&m);
    else if (msn_mpk_read_double(&m, &snr) == 0)
        has_snr = 1;
    else
        return -1;
    if (msn_mpk_peek(&m) == MSN_MPK_NIL)
        msn_mpk_read_nil(&m);
    else if (msn_mpk_read_double(&m, &rssi) == 0)
        has_rssi = 1;
    else
        return -1;
    if (msn_mpk_skip(&m) < 0 || read_str_or_nil(&m, &path, &path_l) < 0 || msn_mpk_read_int(&m, &ts) < 0)
        return -1;
    msn_mpk_reader_t rp_at = m; /* resolved_path: array of bin(32)|nil, or nil */
    uint32_t rp_n = 0;
    if (msn_mpk_peek(&m) == MSN_MPK_ARRAY) {
        if (msn_mpk_read_array(&m, &rp_n) < 0)
            return -1;
        for (uint32_t i = 0; i < rp_n; i++)
            if (msn_mpk_skip(&m) < 0)
                return -1;
        rp = "";
    } else if (msn_mpk_read_nil(&m) < 0) {
        return -1;
    }
    if (msn_mpk_peek(&m) == MSN_MPK_BOOL) {
        int bv;
        msn_mpk_read_bool(&m, &bv);
        raw_same = bv;
    } else if (read_str_or_nil(&m, &raw, &raw_l) < 0) {
        return -1;
    }
    const char *oid = NULL, *oname = NULL, *oiata = NULL;
    uint32_t oid_l = 0, oname_l = 0, oiata_l = 0;
    if (rowid >= 0) {
        uint8_t k[8];
        msn_be64_put(k, (uint64_t)rowid);
        MDB_val key = {8, k}, val;
        if (mdb_get(r->txn, r->snap->dbi[MSN_DBI_OROW], &key, &val) == 0) {
            msn_mpk_reader_t o;
            uint32_t on;
            msn_mpk_reader_init(&o, val.mv_data, val.mv_size);
            if (msn_mpk_read_array(&o, &on) == 0 && on >= 3) {
                read_str_or_nil(&o, &oid, &oid_l);
                read_str_or_nil(&o, &oname, &oname_l);
                read_str_or_nil(&o, &oiata, &oiata_l);
            }
        }
    }
#define STR(s, l)                                                                                            \
    do {                                                                                                     \
        if (s)                                                                                               \
            msn_json_strn(b, s, l);                                                                          \
        else                                                                                                 \
            msn_buf_puts(b, "null");                                                                         \
    } while (0)
    msn_buf_printf(b, "{\"id\":%lld", (long long)id);
    if (with_tx_id)
        msn_buf_printf(b, ",\"transmission_id\":%lld", (long long)txid);
    msn_buf_puts(b, ",\"hash\":");
    STR(tx_hash, hash_len);
    msn_buf_puts(b, ",\"observer_id\":");
    STR(oid, oid_l);
    msn_buf_puts(b, ",\"observer_name\":");
    STR(oname, oname_l);
    msn_buf_puts(b, ",\"observer_iata\":");
    STR(oiata, oiata_l);
    msn_buf_puts(b, ",\"snr\":");
    if (has_snr)
        msn_json_double(b, snr);
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"rssi\":");
    if (has_rssi)
        msn_json_double(b, rssi);
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"path_json\":");
    STR(path, path_l);
    if (rp) {
        msn_buf_puts(b, ",\"resolved_path\":[");
        msn_mpk_read_array(&rp_at, &rp_n);
        for (uint32_t i = 0; i < rp_n; i++) {
            const char *kb;
            uint32_t kl;
            if (i)
                msn_buf_putc(b, ',');
            if (msn_mpk_peek(&rp_at) == MSN_MPK_BIN && msn_mpk_read_bin(&rp_at, &kb, &kl) == 0 && kl == 32) {
                static const char hx[] = "0123456789abcdef";
                char hex[66];
                hex[0] = '"';
                for (int j = 0; j < 32; j++) {
                    hex[1 + 2 * j] = hx[(uint8_t)kb[j] >> 4];
                    hex[2 + 2 * j] = hx[(uint8_t)kb[j] & 15];
                }
                hex[65] = '"';
                msn_buf_append(b, hex, 66);
            } else {
                msn_mpk_skip(&rp_at);
                msn_buf_puts(b, "null");
            }
        }
        msn_buf_putc(b, ']');
    }
    if (dir) {
        msn_buf_puts(b, ",\"direction\":");
        msn_json_strn(b, dir, dir_l);
    }
    if (raw_same && tx_raw_hex) {
        msn_buf_puts(b, ",\"raw_hex\":");
        msn_json_strn(b, tx_raw_hex, raw_len);
    } else if (raw) {
        msn_buf_puts(b, ",\"raw_hex\":");
        msn_json_strn(b, raw, raw_l);
    }
    char iso[32];
    msn_format_iso_ms(iso, ts * 1000);
    msn_buf_printf(b, ",\"timestamp\":\"%s\"}", iso);
#undef STR
    return 0;
}

/* Appends the observations of transmission id as a JSON array. Returns the count. */
static int64_t render_obs_list(msn_api_req_t *r, msn_buf_t *b, uint64_t id, const txrec_t *t, int with_tx_id)
{
    MDB_cursor *c;
    int64_t n = 0;
    msn_buf_putc(b, '[');
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_OBS], &c) == 0) {
        uint8_t start[16];
        msn_be64_put(start, id);
        memset(start + 8, 0, 8);
        MDB_val k = {16, start}, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (rc == 0 && k.mv_size == 16 && msn_be64_get(k.mv_data) == id) {
            size_t mark = b->len;
            if (n)
                msn_buf_putc(b, ',');
            if (msn_api_render_obs(r, b, v.mv_data, v.mv_size, t->hash, t->hash_len, t->raw_hex, t->raw_len,
                                   with_tx_id) < 0)
                b->len = mark;
            else
                n++;
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
    }
    msn_buf_putc(b, ']');
    return n;
}

static void hop_cb(void *ctx, int idx, const char *s, size_t n)
{
    msn_buf_t *b = ctx;
    if (idx > 0)
        msn_buf_putc(b, ',');
    if (s)
        msn_json_strn(b, s, n);
    else
        msn_buf_puts(b, "null");
}

int msn_api_tx_with_observations(msn_api_req_t *r, msn_buf_t *b, uint64_t id)
{
    txrec_t t;
    if (get_tx(r, id, &t) != 0 || t.frag_len < 2)
        return -1;
    msn_buf_append(b, t.frag, t.frag_len - 1);
    msn_buf_puts(b, ",\"observations\":");
    render_obs_list(r, b, id, &t, 1);
    msn_buf_putc(b, '}');
    return 0;
}

void msn_api_packet_detail(msn_api_req_t *r, const char *idtext)
{
    uint64_t id = 0;
    size_t n = strlen(idtext);
    int found = 0;
    uint64_t obs_id = 0;
    char low[17];
    int is_hash = n == 16;
    for (size_t i = 0; i < n && is_hash; i++) {
        if (!isxdigit((unsigned char)idtext[i]))
            is_hash = 0;
        else
            low[i] = (char)tolower((unsigned char)idtext[i]);
    }
    if (is_hash) {
        low[16] = '\0';
        found = get_u64(r, MSN_DBI_HASH, low, 16, &id) == 0;
    }
    if (!found) {
        char *end;
        unsigned long long x = strtoull(idtext, &end, 10);
        if (n > 0 && *end == '\0' && idtext[0] != '-') {
            txrec_t t;
            if (get_tx(r, x, &t) == 0) {
                id = x;
                found = 1;
            } else {
                uint8_t k[8];
                msn_be64_put(k, x);
                if (get_u64(r, MSN_DBI_OID, k, 8, &id) == 0) {
                    found = 2;
                    obs_id = x;
                }
            }
        }
    }
    txrec_t t;
    if (!found || get_tx(r, id, &t) != 0) {
        msn_api_error(r, 404, "Not found");
        return;
    }
    msn_buf_t *b = r->body;
    msn_buf_t obs = MSN_BUF_INIT;
    int64_t count = render_obs_list(r, &obs, id, &t, 1);
    msn_buf_puts(b, "{\"packet\":");
    if (found == 2) {
        /* observation-centred map: that observation plus the transmission's fields */
        uint8_t k[16];
        msn_be64_put(k, id);
        msn_be64_put(k + 8, obs_id);
        MDB_val key = {16, k}, val;
        size_t mark = b->len;
        if (mdb_get(r->txn, r->snap->dbi[MSN_DBI_OBS], &key, &val) == 0 &&
            msn_api_render_obs(r, b, val.mv_data, val.mv_size, t.hash, t.hash_len, t.raw_hex, t.raw_len, 1) == 0) {
            b->len--; /* reopen the object */
            msn_buf_printf(b, ",\"payload_type\":%lld,\"route_type\":%lld,\"decoded_json\":", (long long)t.type,
                           (long long)t.route);
            if (t.decoded_json)
                msn_json_strn(b, t.decoded_json, t.dj_len);
            else
                msn_buf_puts(b, "null");
            msn_buf_puts(b, ",\"observations\":");
            msn_buf_append(b, obs.data, obs.len);
            msn_buf_putc(b, '}');
        } else {
            b->len = mark;
            msn_buf_puts(b, "null");
        }
    } else {
        msn_buf_append(b, t.frag, t.frag_len - 1);
        msn_buf_puts(b, ",\"observations\":");
        msn_buf_append(b, obs.data, obs.len);
        msn_buf_putc(b, '}');
    }
    msn_buf_puts(b, ",\"path\":[");
    if (t.path_json)
        msn_json_str_array_each(t.path_json, t.path_len, hop_cb, b);
    msn_buf_printf(b, "],\"observation_count\":%lld", (long long)(count > 0 ? count : 1));
    if (count > 0) {
        msn_buf_puts(b, ",\"observations\":");
        msn_buf_append(b, obs.data, obs.len);
    }
    msn_buf_putc(b, '}');
    msn_buf_free(&obs);
    r->status = 200;
}
