/*
 * api_packets.c: GET /api/packets: parse and plan the query (packets_plan.h), resolve
 * the `node` parameter, execute the plan against the packet lists and indexes of the
 * snapshot (snapshot.h), and render the page from the pre-rendered rows of the `tx`
 * records. The default first page is a published document.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "packets_plan.h"

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

/* Sorts ascending and drops duplicates. */
static void idvec_sort_unique(idvec_t *a)
{
    if (a->n < 2)
        return;
    qsort(a->v, a->n, sizeof(uint64_t), cmp_u64);
    size_t w = 1;
    for (size_t i = 1; i < a->n; i++)
        if (a->v[i] != a->v[w - 1])
            a->v[w++] = a->v[i];
    a->n = w;
}

/* Keeps in a the ids also in b (both sorted ascending). */
static void idvec_intersect(idvec_t *a, const idvec_t *b)
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

/* The page and the number of matches over all pages. */
typedef struct {
    idvec_t page;
    int64_t total;
} result_t;

/* ---- the packet lists ---- */

/* 1 when a list entry matches its checksum (snaprec.h); a damaged one is counted
   (msn_snap_note: the worker stops serving this snapshot) and left out. */
static int entry_ok(msn_api_req_t *r, const msn_snap_key_t *key, const msn_fx_rec_t *rec)
{
    return msn_snap_note(r->snap, msn_snaprec_fx_check(rec, key->b, key->len)) == 0;
}

/* 1 when a time-index entry (ft, fl) matches its checksum; see entry_ok. */
static int time_entry_ok(msn_api_req_t *r, const MDB_val *k, const MDB_val *d)
{
    return msn_snap_note(r->snap, msn_snaprec_keysum_check(d->mv_data, d->mv_size, k->mv_data, k->mv_size)) == 0;
}

/* Positions a cursor on list key; returns 0, or -1 when the list is empty or absent. */
static int list_open(msn_api_req_t *r, const msn_snap_key_t *key, MDB_cursor **c, MDB_val *k, MDB_val *v)
{
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FX], c) != 0)
        return -1;
    *k = msn_snap_key_val(key);
    if (mdb_cursor_get(*c, k, v, MDB_SET_KEY) != 0) {
        mdb_cursor_close(*c);
        return -1;
    }
    return 0;
}

/* Collects the ids of list key that pass f, ascending. */
static void collect_list(msn_api_req_t *r, const msn_snap_key_t *key, const msn_pk_filter_t *f, idvec_t *out)
{
    MDB_cursor *c;
    MDB_val k, v;
    if (list_open(r, key, &c, &k, &v) < 0)
        return;
    for (int rc = 0; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
        const msn_fx_rec_t *rec = msn_snaprec_fx_of(v.mv_data, v.mv_size);
        if (rec && msn_pk_filter_match(f, rec) && entry_ok(r, key, rec))
            idvec_push(out, msn_snaprec_fx_id(rec));
    }
    mdb_cursor_close(c);
}

/* Calls fn on the list key of each value of list filter l (its comma-separated values
 * when split) until fn returns non-zero, which is returned. */
static int each_value(const msn_pk_list_t *l, int (*fn)(void *ctx, const msn_snap_key_t *key), void *ctx)
{
    msn_snap_key_t key;
    if (!l->split)
        return msn_snap_fx_key(l->kind, l->values, strlen(l->values), &key) == 0 ? fn(ctx, &key) : 0;
    char *copy = msn_xstrdup(l->values), *save = NULL;
    int stop = 0;
    for (char *v = strtok_r(copy, ",", &save); v && !stop; v = strtok_r(NULL, ",", &save)) {
        while (*v == ' ')
            v++;
        if (msn_snap_fx_key(l->kind, v, strlen(v), &key) == 0)
            stop = fn(ctx, &key);
    }
    free(copy);
    return stop;
}

typedef struct {
    msn_api_req_t *r;
    const msn_pk_filter_t *f;
    idvec_t *out;
    int lists;
    const msn_fx_rec_t *rec;
} list_ctx_t;

static int collect_cb(void *ctx, const msn_snap_key_t *key)
{
    list_ctx_t *x = ctx;
    collect_list(x->r, key, x->f, x->out);
    x->lists++;
    return 0;
}

static int contains_cb(void *ctx, const msn_snap_key_t *key)
{
    list_ctx_t *x = ctx;
    MDB_cursor *c;
    int found = 0;
    if (mdb_cursor_open(x->r->txn, x->r->snap->dbi[MSN_DBI_FX], &c) == 0) {
        msn_fx_rec_t sealed = *x->rec; /* stored entries carry the checksum under their list key */
        msn_snaprec_fx_seal(&sealed, key->b, key->len);
        MDB_val k = msn_snap_key_val(key), d = {sizeof(sealed), &sealed};
        found = mdb_cursor_get(c, &k, &d, MDB_GET_BOTH) == 0;
        mdb_cursor_close(c);
    }
    return found;
}

/* The ids in list filter l that pass f, ascending, without duplicates. */
static void collect_filter(msn_api_req_t *r, const msn_pk_list_t *l, const msn_pk_filter_t *f, idvec_t *out)
{
    list_ctx_t x = {.r = r, .f = f, .out = out};
    each_value(l, collect_cb, &x);
    if (x.lists > 1)
        idvec_sort_unique(out);
}

/* Whether list filter l holds entry rec. */
static int filter_contains(msn_api_req_t *r, const msn_pk_list_t *l, const msn_fx_rec_t *rec)
{
    list_ctx_t x = {.r = r, .rec = rec};
    return each_value(l, contains_cb, &x);
}

/* The list entry of transmission t. */
static void entry_of(uint64_t id, const msn_snaprec_tx_t *t, msn_fx_rec_t *rec)
{
    msn_snaprec_fx_make(rec, id, t->first_seen_ms, t->payload_type, t->route_type);
}

/* ---- the strategies ---- */

static void run_hash(msn_api_req_t *r, const msn_pk_plan_t *p, idvec_t *ids)
{
    uint64_t id;
    msn_snaprec_tx_t t;
    msn_fx_rec_t rec;
    if (msn_snap_hash_get(r->txn, r->snap, p->hash, strlen(p->hash), &id) != 0 ||
        msn_snap_tx_get(r->txn, r->snap, id, &t) != 0)
        return;
    entry_of(id, &t, &rec);
    int ok = msn_pk_filter_match(&p->filter, &rec);
    for (int i = 0; i < p->n_lists && ok; i++)
        ok = filter_contains(r, &p->lists[i], &rec);
    if (ok)
        idvec_push(ids, id);
}

static void run_lists(msn_api_req_t *r, const msn_pk_plan_t *p, idvec_t *ids)
{
    for (int i = 0; i < p->n_lists; i++) {
        idvec_t set = {0};
        collect_filter(r, &p->lists[i], &p->filter, &set);
        if (i == 0) {
            *ids = set;
            continue;
        }
        idvec_intersect(ids, &set);
        free(set.v);
    }
}

static void run_time(msn_api_req_t *r, const msn_pk_plan_t *p, idvec_t *ids)
{
    const msn_pk_filter_t *f = &p->filter;
    MDB_cursor *c;
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FT], &c) != 0)
        return;
    msn_snap_key_t start;
    msn_snap_ft_key(f->has_since && f->since_ms >= 0 ? f->since_ms + 1 : 0, 0, &start);
    MDB_val k = msn_snap_key_val(&start), d;
    int64_t fs;
    uint64_t id;
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
         rc == 0 && msn_snap_time_key_parse(k.mv_data, k.mv_size, &fs, &id) == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (f->has_until && fs >= f->until_ms)
            break;
        if ((!f->has_since || fs > f->since_ms) && time_entry_ok(r, &k, &d))
            idvec_push(ids, id);
    }
    mdb_cursor_close(c);
    idvec_sort_unique(ids);
}

/* groupByHash without list filters: newest sighting first, from the fl index. */
static void run_latest(msn_api_req_t *r, const msn_pk_plan_t *p, result_t *res)
{
    const msn_pk_filter_t *f = &p->filter;
    int filtered = msn_pk_filter_active(f);
    MDB_cursor *c;
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FL], &c) != 0)
        return;
    MDB_val k, d;
    int64_t latest;
    uint64_t id;
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
         rc == 0 && msn_snap_time_key_parse(k.mv_data, k.mv_size, &latest, &id) == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_PREV)) {
        if (f->has_since && latest <= f->since_ms)
            break; /* first_seen <= latest <= since: nothing further can match */
        if (!time_entry_ok(r, &k, &d))
            continue;
        if (filtered) {
            msn_snaprec_tx_t t;
            msn_fx_rec_t rec;
            if (msn_snap_tx_get(r->txn, r->snap, id, &t) != 0)
                continue;
            entry_of(id, &t, &rec);
            if (!msn_pk_filter_match(f, &rec))
                continue;
        }
        if (msn_pk_in_page(res->total, p->offset, p->limit))
            idvec_push(&res->page, id);
        res->total++;
    }
    mdb_cursor_close(c);
}

/* One packet list in id order, counting the matches and keeping the page. Without a
 * filter the count is the list's size and the walk ends after the page. */
static void run_walk(msn_api_req_t *r, const msn_pk_plan_t *p, result_t *res)
{
    msn_snap_key_t key;
    if (msn_snap_fx_key(p->walk_kind, &p->walk_value, p->walk_kind == MSN_FX_ALL ? 0 : 1, &key) < 0)
        return;
    MDB_cursor *c;
    MDB_val k, v;
    if (list_open(r, &key, &c, &k, &v) < 0)
        return;
    int filtered = msn_pk_filter_active(&p->filter), asc = p->order == MSN_PK_BY_ID_ASC;
    size_t count = 0;
    if (!filtered)
        mdb_cursor_count(c, &count);
    int64_t seen = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, asc ? MDB_FIRST_DUP : MDB_LAST_DUP); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, asc ? MDB_NEXT_DUP : MDB_PREV_DUP)) {
        const msn_fx_rec_t *rec = msn_snaprec_fx_of(v.mv_data, v.mv_size);
        if (rec == NULL || !msn_pk_filter_match(&p->filter, rec))
            continue;
        if (msn_pk_in_page(seen, p->offset, p->limit)) {
            if (!entry_ok(r, &key, rec))
                continue;
            idvec_push(&res->page, msn_snaprec_fx_id(rec));
        }
        seen++;
        if (!filtered && seen - p->offset >= p->limit)
            break;
    }
    mdb_cursor_close(c);
    res->total = filtered ? seen : (int64_t)count;
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

/* Cuts the page from every match (ids ascending) in the plan's order. */
static void cut_page(msn_api_req_t *r, const msn_pk_plan_t *p, const idvec_t *ids, result_t *res)
{
    if (p->order != MSN_PK_BY_LATEST) {
        res->total = (int64_t)ids->n;
        for (int64_t i = p->offset; i < res->total && msn_pk_in_page(i, p->offset, p->limit); i++)
            idvec_push(&res->page, p->order == MSN_PK_BY_ID_ASC ? ids->v[i] : ids->v[res->total - 1 - i]);
        return;
    }
    idlat_t *il = msn_xmalloc((ids->n + 1) * sizeof(idlat_t));
    size_t n = 0;
    for (size_t i = 0; i < ids->n; i++) {
        msn_snaprec_tx_t t;
        if (msn_snap_tx_get(r->txn, r->snap, ids->v[i], &t) == 0)
            il[n++] = (idlat_t){ids->v[i], t.latest_ms};
    }
    qsort(il, n, sizeof(idlat_t), cmp_latest_desc);
    res->total = (int64_t)n;
    for (int64_t i = p->offset; i < res->total && msn_pk_in_page(i, p->offset, p->limit); i++)
        idvec_push(&res->page, il[i].id);
    free(il);
}

static void execute(msn_api_req_t *r, const msn_pk_plan_t *p, result_t *res)
{
    idvec_t ids = {0}; /* every match, ascending by id, for the strategies that collect */
    switch (p->strategy) {
    case MSN_PK_LATEST:
        run_latest(r, p, res);
        return;
    case MSN_PK_WALK:
        run_walk(r, p, res);
        return;
    case MSN_PK_HASH:
        run_hash(r, p, &ids);
        break;
    case MSN_PK_LISTS:
        run_lists(r, p, &ids);
        break;
    case MSN_PK_TIME:
        run_time(r, p, &ids);
        break;
    case MSN_PK_EMPTY:
        break;
    }
    cut_page(r, p, &ids, res);
    free(ids.v);
}

/* ---- rendering ---- */

static void render(msn_api_req_t *r, const msn_pk_plan_t *p, const result_t *res)
{
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"packets\":[");
    int first = 1;
    for (size_t i = 0; i < res->page.n; i++) {
        uint64_t id = res->page.v[i];
        size_t mark = b->len;
        msn_snaprec_tx_t t;
        if (!first)
            msn_buf_putc(b, ',');
        if (p->rows == MSN_PK_ROWS_EXPANDED) {
            if (msn_api_tx_with_observations(r, b, id) < 0) {
                b->len = mark;
                continue;
            }
        } else if (msn_snap_tx_get(r->txn, r->snap, id, &t) == 0) {
            const msn_sv_t *row = p->rows == MSN_PK_ROWS_GROUPED ? &t.grouped_fragment : &t.fragment;
            msn_buf_append(b, row->p, row->len);
        } else {
            b->len = mark;
            continue;
        }
        first = 0;
    }
    msn_buf_printf(b, "],\"total\":%lld,\"limit\":%lld,\"offset\":%lld}", (long long)res->total,
                   (long long)p->limit, (long long)p->offset);
}

/* ---- the node parameter ---- */

/* Resolves `node` (a public key, a key prefix of 8+ hex characters, or a node name) to a
 * full key. Returns 0 with out set, -1 when no single node matches. */
static int resolve_node(msn_api_req_t *r, const char *v, char out[65])
{
    size_t n = strlen(v);
    int hex = n >= 8 && n <= 64;
    for (size_t i = 0; i < n && hex; i++)
        hex = isxdigit((unsigned char)v[i]) != 0;
    msn_snap_key_t prefix;
    MDB_cursor *c;
    if (hex && msn_snap_node_key(v, n, &prefix) == 0 &&
        mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_NODE], &c) == 0) {
        int matches = 0;
        MDB_val k = msn_snap_key_val(&prefix), d;
        for (int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
             rc == 0 && matches < 2 && k.mv_size >= n && memcmp(k.mv_data, prefix.b, n) == 0;
             rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
            if (k.mv_size == 64)
                memcpy(out, k.mv_data, 64);
            matches++;
        }
        mdb_cursor_close(c);
        if (matches == 1) {
            out[64] = '\0';
            return 0;
        }
    }
    /* a name: the node index holds every node's key and name */
    const void *doc;
    size_t len;
    msn_nidx_reader_t it;
    msn_snaprec_nrec_t x;
    uint32_t nrec;
    int found = 0, rc;
    if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_NODES_INDEX, &doc, &len, NULL, NULL) != 0 ||
        msn_snaprec_nidx_open(&it, doc, len, &nrec) != 0)
        return -1;
    while ((rc = msn_snaprec_nidx_next(&it, &x)) == 1) {
        if (x.name.p && x.name.len == n && strncasecmp(x.name.p, v, n) == 0 && x.public_key.p &&
            x.public_key.len == 64) {
            memcpy(out, x.public_key.p, 64);
            out[64] = '\0';
            found++;
        }
    }
    return rc == 0 && found == 1 ? 0 : -1;
}

void msn_api_packets(msn_api_req_t *r)
{
    msn_pk_query_t q;
    char err[256];
    if (msn_pk_parse(r, &q, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    if (q.default_page && msn_snap_doc_get_full(r->txn, r->snap, MSN_DOC_PACKETS_DEFAULT, &r->doc) == 0) {
        r->use_doc = 1;
        snprintf(r->doc_name, sizeof(r->doc_name), "%s", MSN_DOC_PACKETS_DEFAULT);
        r->status = 200;
        return;
    }
    char node[65];
    int node_missing = q.node && resolve_node(r, q.node, node) < 0;
    msn_pk_plan_t plan;
    msn_pk_plan(&q, q.node && !node_missing ? node : NULL, node_missing, &plan);
    result_t res = {{0}, 0};
    execute(r, &plan, &res);
    render(r, &plan, &res);
    free(res.page.v);
    r->status = 200;
}
