/*
 * edges.c: CoreScope's neighbour-edge builder (data-model spec §7), one pass.
 *
 * The observations newer than the newest edge (the watermark: MAX(neighbor_edges.
 * last_seen); a strict `>`, as CoreScope compares) are read outside any transaction, at
 * most PASS_ROWS of them in timestamp order. Each gives up to two direct links:
 *   - a zero-hop ADVERT heard by an observer: originator - observer;
 *   - an ADVERT with hops: originator - first hop;
 *   - any packet with hops heard by an observer: observer - last hop;
 * where a hop counts only when its prefix matches exactly one node key (all roles). The
 * edges are collected in memory (count of events, newest time) and upserted in one short
 * transaction: count = count + events, last_seen = MAX(last_seen, newest).
 */
#include "ingest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json.h"
#include "../schema.h"
#include "../timeutil.h"

#define PASS_ROWS 50000

typedef struct {
    char a[65], b[65];
    int64_t count;
    int64_t last; /* unix s */
} edge_t;

typedef struct {
    edge_t *v;
    size_t n, cap;
    uint32_t *slots; /* open addressing: index + 1, 0 = empty; 2 * cap slots */
} edges_t;

static uint64_t pair_hash(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ull;
    h = (h ^ '|') * 1099511628211ull;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ull;
    return h;
}

static void reindex(edges_t *e)
{
    free(e->slots);
    e->slots = msn_xcalloc(e->cap * 2, sizeof(uint32_t));
    for (size_t i = 0; i < e->n; i++) {
        size_t k = pair_hash(e->v[i].a, e->v[i].b) & (e->cap * 2 - 1);
        while (e->slots[k])
            k = (k + 1) & (e->cap * 2 - 1);
        e->slots[k] = (uint32_t)i + 1;
    }
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Adds one event to edge (x, y) (canonical order a <= b). */
static void add_edge(edges_t *e, const char *x, const char *y, int64_t ts)
{
    if (x[0] == '\0' || y[0] == '\0' || strcmp(x, y) == 0)
        return;
    const char *a = strcmp(x, y) < 0 ? x : y, *b = a == x ? y : x;
    if (e->cap > 0) {
        for (size_t k = pair_hash(a, b) & (e->cap * 2 - 1); e->slots[k]; k = (k + 1) & (e->cap * 2 - 1)) {
            edge_t *o = &e->v[e->slots[k] - 1];
            if (strcmp(o->a, a) == 0 && strcmp(o->b, b) == 0) {
                o->count++;
                if (ts > o->last)
                    o->last = ts;
                return;
            }
        }
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 256;
        e->v = msn_xrealloc(e->v, e->cap * sizeof(edge_t));
        reindex(e);
    }
    size_t k = pair_hash(a, b) & (e->cap * 2 - 1);
    while (e->slots[k])
        k = (k + 1) & (e->cap * 2 - 1);
    e->slots[k] = (uint32_t)e->n + 1;
    edge_t *ne = &e->v[e->n++];
    snprintf(ne->a, sizeof(ne->a), "%s", a);
    snprintf(ne->b, sizeof(ne->b), "%s", b);
    ne->count = 1;
    ne->last = ts;
}

typedef struct {
    char hops[64][17];
    int n;
} hops_t;

static void hop_cb(void *ctx, int idx, const char *s, size_t n)
{
    hops_t *h = ctx;
    (void)idx;
    if (h->n >= 64)
        return;
    if (s == NULL || n >= sizeof(h->hops[0]))
        n = 0;
    memcpy(h->hops[h->n], s ? s : "", n);
    h->hops[h->n][n] = '\0';
    h->n++;
}

/* The one node key hop matches, or "" (none or several). */
static const char *unique(const msn_pathres_t *pr, const char *hop)
{
    const char *h[1] = {hop}, *out[1] = {NULL};
    msn_pathres_resolve(pr, NULL, h, 1, out);
    return out[0] ? out[0] : "";
}

/* The pubKey of an advert's decoded_json (legacy rows without from_pubkey). */
static void decoded_pubkey(const char *dj, char out[65])
{
    out[0] = '\0';
    const char *p = dj ? strstr(dj, "\"pubKey\":\"") : NULL;
    if (p == NULL)
        return;
    p += 10;
    size_t n = 0;
    while (n < 64 && isxdigit((unsigned char)p[n]))
        n++;
    if (n == 64) {
        memcpy(out, p, 64);
        out[64] = '\0';
        lower(out);
    }
}

int msn_ingest_build_edges(sqlite3 *db, int64_t *rows, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    msn_pathres_t *pr = NULL;
    edges_t e = {NULL, 0, 0, NULL};
    int64_t n = 0, watermark = 0;
    int rc = -1;
    char q[800];

    if (rows)
        *rows = 0;
    if (!msn_schema_has_column(db, "neighbor_edges", "node_a"))
        return 0;
    if (sqlite3_prepare_v2(db, "SELECT MAX(last_seen) FROM neighbor_edges", -1, &st, NULL) != SQLITE_OK)
        goto dberr;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        int64_t ms;
        if (msn_parse_time_ms((const char *)sqlite3_column_text(st, 0), &ms) == 0)
            watermark = ms / 1000;
    }
    sqlite3_finalize(st);
    st = NULL;

    pr = msn_pathres_new();
    if (sqlite3_prepare_v2(db, "SELECT public_key FROM nodes", -1, &st, NULL) != SQLITE_OK)
        goto dberr;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        if (k != NULL && strlen(k) == 64)
            msn_pathres_add_node(pr, k);
    }
    sqlite3_finalize(st);
    st = NULL;
    msn_pathres_finish(pr);

    int fp = msn_schema_has_column(db, "transmissions", "from_pubkey");
    snprintf(q, sizeof(q),
             "SELECT t.payload_type, t.decoded_json, %s, COALESCE(o.path_json, ''), COALESCE(obs.id, ''),"
             " o.timestamp FROM observations o JOIN transmissions t ON t.id = o.transmission_id"
             " LEFT JOIN observers obs ON obs.rowid = o.observer_idx WHERE o.timestamp > ?1"
             " ORDER BY o.timestamp LIMIT %d",
             fp ? "COALESCE(t.from_pubkey, '')" : "''", PASS_ROWS);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        goto dberr;
    sqlite3_bind_int64(st, 1, watermark);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        int pt = sqlite3_column_int(st, 0);
        char from[65] = "", obs[65] = "";
        const char *fpk = (const char *)sqlite3_column_text(st, 2);
        if (fpk != NULL && strlen(fpk) == 64) {
            memcpy(from, fpk, 65);
            lower(from);
        } else if (pt == MSN_PT_ADVERT) {
            decoded_pubkey((const char *)sqlite3_column_text(st, 1), from);
        }
        const char *oid = (const char *)sqlite3_column_text(st, 4);
        if (oid != NULL && strlen(oid) < sizeof(obs)) {
            snprintf(obs, sizeof(obs), "%s", oid);
            lower(obs);
        }
        int64_t ts = sqlite3_column_int64(st, 5);
        const char *pj = (const char *)sqlite3_column_text(st, 3);
        hops_t h;
        h.n = 0;
        if (pj != NULL && pj[0] != '\0')
            msn_json_str_array_each(pj, strlen(pj), hop_cb, &h);
        if (pt == MSN_PT_ADVERT && from[0] != '\0') {
            if (h.n == 0)
                add_edge(&e, from, obs, ts);
            else
                add_edge(&e, from, unique(pr, h.hops[0]), ts);
        }
        if (h.n > 0 && obs[0] != '\0')
            add_edge(&e, obs, unique(pr, h.hops[h.n - 1]), ts);
    }
    if (src != SQLITE_DONE)
        goto dberr;
    sqlite3_finalize(st);
    st = NULL;

    if (e.n > 0) {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            goto dberr;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO neighbor_edges (node_a, node_b, count, last_seen) VALUES (?1, ?2, ?3, ?4)"
                               " ON CONFLICT(node_a, node_b) DO UPDATE SET count = count + excluded.count,"
                               " last_seen = MAX(last_seen, excluded.last_seen)",
                               -1, &st, NULL) != SQLITE_OK)
            goto rollback;
        for (size_t i = 0; i < e.n; i++) {
            char iso[32];
            msn_format_iso_s(iso, e.v[i].last);
            sqlite3_bind_text(st, 1, e.v[i].a, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, e.v[i].b, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, e.v[i].count);
            sqlite3_bind_text(st, 4, iso, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_DONE)
                goto rollback;
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        st = NULL;
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            goto rollback;
    }
    if (rows)
        *rows = n;
    rc = 0;
    goto out;
rollback:
    snprintf(err, errlen, "neighbor_edges: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    goto out;
dberr:
    snprintf(err, errlen, "neighbor_edges: %s", sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    msn_pathres_free(pr);
    free(e.v);
    free(e.slots);
    return rc;
}
