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
#include <strings.h>

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

/* Is transmission rec in any of the lists key_prefix+value for the comma-separated values? */
static int in_any_list(msn_api_req_t *r, char prefix, const char *values, const msn_fx_rec_t *rec)
{
    char *list = msn_xstrdup(values), *save = NULL;
    int ok = 0;
    for (char *v = strtok_r(list, ",", &save); v && !ok; v = strtok_r(NULL, ",", &save)) {
        while (*v == ' ')
            v++;
        size_t vl = strlen(v);
        char key[200];
        if (vl == 0 || vl + 1 > sizeof(key))
            continue;
        key[0] = prefix;
        memcpy(key + 1, v, vl);
        MDB_cursor *c;
        if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FX], &c) == 0) {
            MDB_val k = {vl + 1, key}, d = {sizeof(*rec), (void *)rec};
            ok = mdb_cursor_get(c, &k, &d, MDB_GET_BOTH) == 0;
            mdb_cursor_close(c);
        }
    }
    free(list);
    return ok;
}

/* Union of the lists prefix+value (comma-separated values), filtered, sorted, unique. */
static void collect_union(msn_api_req_t *r, char prefix, const char *values, const pred_t *p, idvec_t *out)
{
    char *list = msn_xstrdup(values), *save = NULL;
    int lists = 0;
    for (char *v = strtok_r(list, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        while (*v == ' ')
            v++;
        size_t vl = strlen(v);
        char key[200];
        if (vl == 0 || vl + 1 > sizeof(key))
            continue;
        key[0] = prefix;
        memcpy(key + 1, v, vl);
        collect_list(r, key, vl + 1, p, out);
        lists++;
    }
    free(list);
    if (lists > 1 && out->n > 1) {
        qsort(out->v, out->n, sizeof(uint64_t), cmp_u64);
        size_t w = 1;
        for (size_t i = 1; i < out->n; i++)
            if (out->v[i] != out->v[w - 1])
                out->v[w++] = out->v[i];
        out->n = w;
    }
}

/* Keeps in a the ids also in b (both sorted ascending). */
static void intersect(idvec_t *a, const idvec_t *b)
{
    size_t i = 0, j = 0, w = 0;
    while (i < a->n && j < b->n) {
        if (a->v[i] < b->v[j])
            i++;
        else if (a->v[i] > b->v[j])
            j++;
        else {
            a->v[w++] = a->v[i];
            i++;
            j++;
        }
    }
    a->n = w;
}

/* Resolves the `node` parameter (a public key, a key prefix of 8+ hex characters, or a node
 * name) to a full key. Returns 0 with out set, -1 when no single node matches. */
static int resolve_node(msn_api_req_t *r, const char *v, char out[65])
{
    size_t n = strlen(v);
    int hex = n >= 8 && n <= 64;
    for (size_t i = 0; i < n && hex; i++)
        hex = isxdigit((unsigned char)v[i]) != 0;
    if (hex) {
        char low[65];
        for (size_t i = 0; i < n; i++)
            low[i] = (char)tolower((unsigned char)v[i]);
        MDB_cursor *c;
        int matches = 0;
        if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_NODE], &c) == 0) {
            MDB_val k = {n, low}, d;
            int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
            while (rc == 0 && matches < 2 && k.mv_size >= n && memcmp(k.mv_data, low, n) == 0) {
                if (k.mv_size == 64)
                    memcpy(out, k.mv_data, 64);
                matches++;
                rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
            }
            mdb_cursor_close(c);
        }
        if (matches == 1) {
            out[64] = '\0';
            return 0;
        }
    }
    /* a name: the node index holds every node's key and name */
    const void *doc;
    size_t len;
    if (msn_snap_doc_get(r->txn, r->snap, "nodes.index", &doc, &len, NULL, NULL) != 0)
        return -1;
    msn_mpk_reader_t m;
    uint32_t nf, nrec;
    msn_mpk_reader_init(&m, doc, len);
    if (msn_mpk_read_array(&m, &nf) < 0 || msn_mpk_read_array(&m, &nrec) < 0)
        return -1;
    int found = 0;
    for (uint32_t i = 0; i < nrec; i++) {
        uint32_t fields, pl = 0, nl = 0;
        const char *pk = NULL, *name = NULL;
        if (msn_mpk_read_array(&m, &fields) < 0 || read_str_or_nil(&m, &pk, &pl) < 0 ||
            read_str_or_nil(&m, &name, &nl) < 0)
            return -1;
        for (uint32_t k = 2; k < fields; k++)
            if (msn_mpk_skip(&m) < 0)
                return -1;
        if (name && nl == n && strncasecmp(name, v, n) == 0 && pk && pl == 64) {
            memcpy(out, pk, 64);
            out[64] = '\0';
            found++;
        }
    }
    return found == 1 ? 0 : -1;
}

typedef struct {
    uint64_t id;
    int64_t latest;
} idlat_t;

static int cmp_latest_desc(const void *a, const void *b)
{
    const idlat_t *x = a, *y = b;
    if (x->latest != y->latest)
        return x->latest > y->latest ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id;
}

/* The newest sighting of a transmission (ms), from its tx record. */
static int tx_latest(msn_api_req_t *r, uint64_t id, int64_t *latest, const char **grp, uint32_t *grp_len)
{
    uint8_t k[8];
    msn_be64_put(k, id);
    MDB_val key = {8, k}, val;
    if (mdb_get(r->txn, r->snap->dbi[MSN_DBI_TX], &key, &val) != 0)
        return -1;
    msn_mpk_reader_t m;
    uint32_t n;
    msn_mpk_reader_init(&m, val.mv_data, val.mv_size);
    if (msn_mpk_read_array(&m, &n) < 0 || n < 11)
        return -1;
    for (int i = 0; i < 9; i++)
        if (msn_mpk_skip(&m) < 0)
            return -1;
    if (msn_mpk_read_bin(&m, grp, grp_len) < 0 || msn_mpk_read_int(&m, latest) < 0)
        return -1;
    return 0;
}

static void render_rows(msn_api_req_t *r, const idvec_t *page, int expand)
{
    msn_buf_t *b = r->body;
    int first = 1;
    for (size_t i = 0; i < page->n; i++) {
        size_t mark = b->len;
        if (!first)
            msn_buf_putc(b, ',');
        if (expand) {
            if (msn_api_tx_with_observations(r, b, page->v[i]) < 0) {
                b->len = mark;
                continue;
            }
        } else {
            txrec_t t;
            if (get_tx(r, page->v[i], &t) != 0) {
                b->len = mark;
                continue;
            }
            msn_buf_append(b, t.frag, t.frag_len);
        }
        first = 0;
    }
}

/* The default page (no parameter but limit=50 and offset=0) is published ready to send. */
static int is_default_page(const msn_api_req_t *r)
{
    for (int i = 0; i < r->nq; i++) {
        const char *n = r->q[i].name, *v = r->q[i].value;
        if (strcmp(n, "limit") == 0 && strcmp(v, "50") == 0)
            continue;
        if (strcmp(n, "offset") == 0 && strcmp(v, "0") == 0)
            continue;
        if (strcmp(n, "order") == 0 && strcmp(v, "asc") != 0)
            continue;
        return 0;
    }
    return 1;
}

void msn_api_packets(msn_api_req_t *r)
{
    if (is_default_page(r) && msn_snap_doc_get_full(r->txn, r->snap, "packets.default", &r->doc) == 0) {
        r->use_doc = 1;
        r->status = 200;
        return;
    }
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
    const char *grp = msn_api_param(r, "groupByHash");
    int grouped = grp && (strcmp(grp, "true") == 0 || strcmp(grp, "1") == 0);
    const char *exp = msn_api_param(r, "expand");
    int expand = exp && strstr(exp, "observations") != NULL;
    const char *hash = msn_api_param(r, "hash");
    const char *observer = msn_api_param(r, "observer");
    const char *channel = msn_api_param(r, "channel");
    const char *region_in = msn_api_param(r, "region");
    const char *node_in = msn_api_param(r, "node");
    char region[200] = "", node[65] = "";
    int node_missing = 0;
    if (region_in && *region_in) {
        size_t o = 0;
        for (const char *c = region_in; *c && o + 1 < sizeof(region); c++) {
            if (!isalnum((unsigned char)*c) && *c != ',' && *c != ' ' && *c != '-' && *c != '_') {
                msn_api_error(r, 400, "invalid region: expected comma-separated IATA codes");
                return;
            }
            region[o++] = (char)toupper((unsigned char)*c);
        }
        region[o] = '\0';
        if (strcmp(region, "ALL") == 0)
            region[0] = '\0';
    }
    if (node_in && *node_in && resolve_node(r, node_in, node) < 0)
        node_missing = 1;
    int lists = (observer && *observer) || region[0] || node[0] || (channel && *channel);
    idvec_t ids = {0}, page = {0};
    int64_t total = 0;
    int ids_sorted_by_id = 1;

    if (node_missing) {
        /* a node that does not exist has no packets */
    } else if (hash && *hash) {
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
        txrec_t t;
        if (get_u64(r, MSN_DBI_HASH, h, n, &id) == 0 && get_tx(r, id, &t) == 0) {
            msn_fx_rec_t rec;
            memset(&rec, 0, sizeof(rec));
            msn_be64_put(rec.id_be, id);
            msn_be64_put(rec.first_seen_ms_be, (uint64_t)t.first_seen_ms);
            rec.payload_type = (uint8_t)t.type;
            rec.route_type = (uint8_t)t.route;
            int ok = rec_match(&rec, &p);
            if (ok && observer && *observer)
                ok = in_any_list(r, 'o', observer, &rec);
            if (ok && region[0])
                ok = in_any_list(r, 'g', region, &rec);
            if (ok && node[0])
                ok = in_any_list(r, 'n', node, &rec);
            if (ok && channel && *channel)
                ok = in_any_list(r, 'c', channel, &rec);
            if (ok)
                idvec_push(&ids, id);
        }
    } else if (lists) {
        /* every list filter is a set of ids; the answer is their intersection */
        int first = 1;
        struct {
            char prefix;
            const char *values;
        } groups[4] = {{'o', observer}, {'g', region}, {'n', node}, {'c', channel}};
        for (int g = 0; g < 4; g++) {
            if (groups[g].values == NULL || !groups[g].values[0])
                continue;
            idvec_t set = {0};
            if (groups[g].prefix == 'c' || groups[g].prefix == 'n') {
                char key[200];
                size_t vl = strlen(groups[g].values);
                if (vl + 1 <= sizeof(key)) {
                    key[0] = groups[g].prefix;
                    memcpy(key + 1, groups[g].values, vl);
                    collect_list(r, key, vl + 1, &p, &set);
                }
            } else {
                collect_union(r, groups[g].prefix, groups[g].values, &p, &set);
            }
            if (first) {
                free(ids.v);
                ids = set;
                first = 0;
            } else {
                intersect(&ids, &set);
                free(set.v);
            }
        }
    } else if (grouped) {
        /* newest sighting first: walk the time-of-sighting index backwards */
        MDB_cursor *c;
        if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FL], &c) == 0) {
            MDB_val k, d;
            int crc = mdb_cursor_get(c, &k, &d, MDB_LAST);
            int no_pred = !pred_active(&p);
            while (crc == 0 && k.mv_size == 16) {
                int64_t latest = (int64_t)msn_be64_get(k.mv_data);
                if (p.has_since && latest <= p.since_ms)
                    break; /* first_seen <= latest <= since: nothing further can match */
                uint64_t id = msn_be64_get((const uint8_t *)k.mv_data + 8);
                int ok = 1;
                if (!no_pred) {
                    txrec_t t;
                    msn_fx_rec_t rec;
                    ok = get_tx(r, id, &t) == 0;
                    if (ok) {
                        memset(&rec, 0, sizeof(rec));
                        msn_be64_put(rec.first_seen_ms_be, (uint64_t)t.first_seen_ms);
                        rec.payload_type = (uint8_t)t.type;
                        rec.route_type = (uint8_t)t.route;
                        ok = rec_match(&rec, &p);
                    }
                }
                if (ok) {
                    if (total >= offset && total < offset + limit)
                        idvec_push(&page, id);
                    total++;
                }
                crc = mdb_cursor_get(c, &k, &d, MDB_PREV);
            }
            mdb_cursor_close(c);
        }
        goto render;
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
        if (!grouped) {
            total = walk_list(r, key, kl, &rest, asc, offset, limit, &page);
            goto render;
        }
        collect_list(r, key, kl, &rest, &ids);
    }
    /* ids holds every match, ascending by id */
    total = (int64_t)ids.n;
    if (grouped && ids_sorted_by_id) {
        idlat_t *il = msn_xmalloc((ids.n + 1) * sizeof(idlat_t));
        size_t n = 0;
        for (size_t i = 0; i < ids.n; i++) {
            const char *g;
            uint32_t gl;
            if (tx_latest(r, ids.v[i], &il[n].latest, &g, &gl) == 0)
                il[n++].id = ids.v[i];
        }
        qsort(il, n, sizeof(idlat_t), cmp_latest_desc);
        total = (int64_t)n;
        for (int64_t i = offset; i < (int64_t)n && i < offset + limit; i++)
            idvec_push(&page, il[i].id);
        free(il);
        goto render;
    }
    for (int64_t i = offset; i < total && i < offset + limit; i++)
        idvec_push(&page, asc ? ids.v[i] : ids.v[total - 1 - i]);
render:
    msn_buf_puts(r->body, "{\"packets\":[");
    if (grouped) {
        for (size_t i = 0; i < page.n; i++) {
            const char *g;
            uint32_t gl;
            int64_t latest;
            if (tx_latest(r, page.v[i], &latest, &g, &gl) != 0)
                continue;
            if (i)
                msn_buf_putc(r->body, ',');
            msn_buf_append(r->body, g, gl);
        }
    } else {
        render_rows(r, &page, expand);
    }
    msn_buf_printf(r->body, "],\"total\":%lld,\"limit\":%lld,\"offset\":%lld}", (long long)total, (long long)limit,
                   (long long)offset);
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
