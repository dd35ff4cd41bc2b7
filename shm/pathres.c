/*
 * pathres.c: the conservative hop resolver (data-model spec §4.2).
 *
 * Layout. Every string the resolver ever sees (node keys, edge ends) is interned once,
 * lowercased, and known by a dense id. After msn_pathres_finish():
 *
 *   sorted[]   the ids of the node keys in byte order. All keys sharing a prefix are then
 *              contiguous, so a prefix maps to a range [lo, lo + cnt) of sorted[].
 *   pent/pix   the prefix index: entries (len, prefix chars) -> range, one for every
 *              prefix of 2, 4, 6, 8, 12 and 16 chars of every node key (CoreScope's
 *              prefix index: a hop of any other length has no candidate).
 *   etab       the set of undirected edges, packed (min id, max id): an open-addressing
 *              table of the keys themselves (no indirection on the resolver's hottest
 *              probe, which an index into an entry array would add).
 * (stab and pix are hash maps, shm/hmap.h.)
 *
 * Resolving a hop is one hash probe plus, for an ambiguous prefix, one edge probe per
 * candidate; nothing is allocated per hop (paths longer than 256 hops, which no real
 * packet has, take one allocation per path). The built resolver is never written by
 * msn_pathres_resolve*, so threads may share it.
 */
#include "pathres.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hmap.h"
#include "json.h"
#include "jsonr.h"

#define PREFIX_MAX 16
static const int prefix_lens[] = {2, 4, 6, 8, 12, 16};
#define N_PREFIX_LENS ((int)(sizeof(prefix_lens) / sizeof(prefix_lens[0])))

/* One prefix-index entry: the candidates of (len, p) are sorted[lo .. lo + cnt). */
typedef struct {
    int32_t lo, cnt;
    uint8_t len;
    char p[PREFIX_MAX];
} pentry_t;

struct msn_pathres {
    /* interned strings: lowercased copies, id = index */
    char **strs;
    uint32_t *slen;
    uint8_t *is_node;
    int32_t nstr, capstr;
    msn_hmap_t stab; /* string table: hash of the lowercase string -> id */

    int32_t nnodes;
    uint64_t *edges; /* packed pairs as added (before dedup) */
    size_t nedges, capedges;

    /* built by finish */
    int finished;
    int32_t *sorted;
    pentry_t *pent;
    uint32_t npent;
    msn_hmap_t pix;
    uint64_t *etab; /* 0 = empty */
    uint32_t etab_mask;
    size_t n_edges_unique;
};

/* ---- hashing ------------------------------------------------------------------------ */

static inline uint8_t lower_c(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Keys are compared without regard to case. */
static inline uint64_t hash_lower(const char *s, size_t n)
{
    return msn_hash_bytes_nocase(s, n);
}

/* 1 when stored (lowercase) equals the lowercase of s[0..n). */
static int eq_lower(const char *stored, size_t stored_len, const char *s, size_t n)
{
    if (stored_len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)stored[i] != lower_c((uint8_t)s[i]))
            return 0;
    return 1;
}

/* ---- interning ---------------------------------------------------------------------- */

/* The id of s[0..n) (any case), or -1 with *probe where it would be inserted. */
static int32_t str_lookup(const msn_pathres_t *pr, const char *s, size_t n, msn_hmap_probe_t *probe)
{
    for (uint32_t id = msn_hmap_first(&pr->stab, hash_lower(s, n), probe); id != MSN_HMAP_NONE;
         id = msn_hmap_next(&pr->stab, probe))
        if (eq_lower(pr->strs[id], pr->slen[id], s, n))
            return (int32_t)id;
    return -1;
}

static int32_t str_find(const msn_pathres_t *pr, const char *s, size_t n)
{
    msn_hmap_probe_t probe;
    return str_lookup(pr, s, n, &probe);
}

static int32_t str_intern(msn_pathres_t *pr, const char *s, size_t n)
{
    msn_hmap_probe_t probe;
    int32_t id = str_lookup(pr, s, n, &probe);
    if (id >= 0)
        return id;
    if (pr->nstr == pr->capstr) {
        pr->capstr = pr->capstr ? pr->capstr * 2 : 256;
        pr->strs = msn_xrealloc(pr->strs, (size_t)pr->capstr * sizeof(*pr->strs));
        pr->slen = msn_xrealloc(pr->slen, (size_t)pr->capstr * sizeof(*pr->slen));
        pr->is_node = msn_xrealloc(pr->is_node, (size_t)pr->capstr);
    }
    id = pr->nstr++;
    char *c = msn_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        c[i] = (char)lower_c((uint8_t)s[i]);
    c[n] = '\0';
    pr->strs[id] = c;
    pr->slen[id] = (uint32_t)n;
    pr->is_node[id] = 0;
    msn_hmap_insert(&pr->stab, &probe, (uint32_t)id);
    return id;
}

/* ---- building ----------------------------------------------------------------------- */

msn_pathres_t *msn_pathres_new(void)
{
    return msn_xcalloc(1, sizeof(msn_pathres_t));
}

void msn_pathres_add_node(msn_pathres_t *pr, const char *pubkey)
{
    if (pubkey == NULL)
        return;
    int32_t id = str_intern(pr, pubkey, strlen(pubkey));
    if (!pr->is_node[id]) {
        pr->is_node[id] = 1;
        pr->nnodes++;
        pr->finished = 0;
    }
}

static inline uint64_t edge_key(int32_t a, int32_t b)
{
    if (a > b) {
        int32_t t = a;
        a = b;
        b = t;
    }
    return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
}

void msn_pathres_add_edge(msn_pathres_t *pr, const char *a, const char *b)
{
    if (a == NULL || b == NULL || a[0] == '\0' || b[0] == '\0')
        return;
    size_t na = strlen(a), nb = strlen(b);
    int32_t ia = str_intern(pr, a, na), ib = str_intern(pr, b, nb);
    if (ia == ib)
        return;
    if (pr->nedges == pr->capedges) {
        pr->capedges = pr->capedges ? pr->capedges * 2 : 1024;
        pr->edges = msn_xrealloc(pr->edges, pr->capedges * sizeof(*pr->edges));
    }
    pr->edges[pr->nedges++] = edge_key(ia, ib);
    pr->finished = 0;
}

/* A node key and its id, sorted by key. */
typedef struct {
    const char *s;
    int32_t id;
} keyref_t;

static int cmp_keyref(const void *x, const void *y)
{
    return strcmp(((const keyref_t *)x)->s, ((const keyref_t *)y)->s);
}

static uint64_t prefix_hash(const char *p, size_t len)
{
    return hash_lower(p, len) ^ ((uint64_t)len << 56);
}

static void prefix_put(msn_pathres_t *pr, const char *p, int len, int32_t lo, int32_t cnt)
{
    pentry_t *e = &pr->pent[pr->npent];
    e->lo = lo;
    e->cnt = cnt;
    e->len = (uint8_t)len;
    memcpy(e->p, p, (size_t)len);
    msn_hmap_add(&pr->pix, prefix_hash(p, (size_t)len), pr->npent++);
}

void msn_pathres_finish(msn_pathres_t *pr)
{
    free(pr->sorted);
    free(pr->pent);
    free(pr->etab);
    msn_hmap_free(&pr->pix);
    pr->sorted = NULL;
    pr->pent = NULL;
    pr->npent = 0;
    pr->etab = NULL;

    /* node ids in byte order of their keys */
    pr->sorted = msn_xmalloc(((size_t)pr->nnodes + 1) * sizeof(int32_t));
    keyref_t *refs = msn_xmalloc(((size_t)pr->nnodes + 1) * sizeof(keyref_t));
    int32_t k = 0;
    for (int32_t id = 0; id < pr->nstr; id++)
        if (pr->is_node[id])
            refs[k++] = (keyref_t){pr->strs[id], id};
    qsort(refs, (size_t)k, sizeof(keyref_t), cmp_keyref);
    for (int32_t i = 0; i < k; i++)
        pr->sorted[i] = refs[i].id;
    free(refs);

    /* prefix groups: contiguous runs of sorted[] sharing the first L chars */
    size_t max_groups = (size_t)pr->nnodes * N_PREFIX_LENS;
    pr->pent = msn_xmalloc((max_groups + 1) * sizeof(pentry_t));
    msn_hmap_reserve(&pr->pix, (uint32_t)max_groups);
    for (int li = 0; li < N_PREFIX_LENS; li++) {
        int L = prefix_lens[li];
        int32_t i = 0;
        while (i < k) {
            const char *s = pr->strs[pr->sorted[i]];
            if (pr->slen[pr->sorted[i]] < (uint32_t)L) {
                i++;
                continue;
            }
            int32_t j = i + 1;
            while (j < k && pr->slen[pr->sorted[j]] >= (uint32_t)L &&
                   memcmp(pr->strs[pr->sorted[j]], s, (size_t)L) == 0)
                j++;
            prefix_put(pr, s, L, i, j - i);
            i = j;
        }
    }

    /* the edge set */
    uint32_t cap = 16;
    while (cap < pr->nedges * 2 + 1)
        cap <<= 1;
    pr->etab = msn_xcalloc(cap, sizeof(uint64_t));
    pr->etab_mask = cap - 1;
    pr->n_edges_unique = 0;
    for (size_t e = 0; e < pr->nedges; e++) {
        uint64_t key = pr->edges[e];
        uint32_t i = (uint32_t)msn_mix64(key) & pr->etab_mask;
        while (pr->etab[i] != 0 && pr->etab[i] != key)
            i = (i + 1) & pr->etab_mask;
        if (pr->etab[i] == 0) {
            pr->etab[i] = key;
            pr->n_edges_unique++;
        }
    }
    pr->finished = 1;
}

int msn_pathres_load_sqlite(msn_pathres_t *pr, sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if (sqlite3_prepare_v2(db, "SELECT public_key FROM nodes", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pk = (const char *)sqlite3_column_text(st, 0);
        if (pk != NULL)
            msn_pathres_add_node(pr, pk);
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;

    int has_edges = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='neighbor_edges'", -1,
                           &st, NULL) != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        has_edges = 1;
    else if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;

    if (has_edges) {
        if (sqlite3_prepare_v2(db, "SELECT node_a, node_b FROM neighbor_edges", -1, &st, NULL) != SQLITE_OK)
            goto fail;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *a = (const char *)sqlite3_column_text(st, 0);
            const char *b = (const char *)sqlite3_column_text(st, 1);
            msn_pathres_add_edge(pr, a, b);
        }
        if (rc != SQLITE_DONE)
            goto fail;
        sqlite3_finalize(st);
        st = NULL;
    }
    msn_pathres_finish(pr);
    return 0;
fail:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "path resolver: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return -1;
}

size_t msn_pathres_node_count(const msn_pathres_t *pr)
{
    return (size_t)pr->nnodes;
}

size_t msn_pathres_edge_count(const msn_pathres_t *pr)
{
    return pr->finished ? pr->n_edges_unique : 0;
}

/* ---- resolving ---------------------------------------------------------------------- */

/* The candidate range of hop s[0..n), or cnt 0. */
static const pentry_t *prefix_find(const msn_pathres_t *pr, const char *s, size_t n)
{
    if (n != 2 && n != 4 && n != 6 && n != 8 && n != 12 && n != 16)
        return NULL;
    msn_hmap_probe_t probe;
    for (uint32_t k = msn_hmap_first(&pr->pix, prefix_hash(s, n), &probe); k != MSN_HMAP_NONE;
         k = msn_hmap_next(&pr->pix, &probe)) {
        const pentry_t *e = &pr->pent[k];
        if (e->len == n && eq_lower(e->p, n, s, n))
            return e;
    }
    return NULL;
}

static int is_edge(const msn_pathres_t *pr, int32_t a, int32_t b)
{
    uint64_t key = edge_key(a, b);
    uint32_t i = (uint32_t)msn_mix64(key) & pr->etab_mask;
    for (;;) {
        uint64_t v = pr->etab[i];
        if (v == 0)
            return 0;
        if (v == key)
            return 1;
        i = (i + 1) & pr->etab_mask;
    }
}

static int in_seen(const int32_t *seen, int nseen, int32_t id)
{
    for (int i = 0; i < nseen; i++)
        if (seen[i] == id)
            return 1;
    return 0;
}

#define SEEN_STACK 256

/* The core: hops given as (pointer, length) pairs; a NULL pointer is a hop with no
 * candidate. */
static int resolve_spans(const msn_pathres_t *pr, const char *from, const char *const *hops,
                         const size_t *lens, int n, const char **out)
{
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (n <= 0 || !pr->finished || pr->nnodes == 0)
        return 0;

    int32_t seen_stack[SEEN_STACK];
    int32_t *seen = n + 1 <= SEEN_STACK ? seen_stack : msn_xmalloc(((size_t)n + 1) * sizeof(int32_t));
    int nseen = 0;
    int32_t anchor = -1; /* -1: none, or an anchor no edge can touch */
    if (from != NULL && from[0] != '\0') {
        int32_t fid = str_find(pr, from, strlen(from));
        if (fid >= 0) {
            seen[nseen++] = fid;
            anchor = fid;
        }
    }
    int resolved = 0;
    for (int i = 0; i < n; i++) {
        int32_t got = -1;
        const pentry_t *e = hops[i] != NULL ? prefix_find(pr, hops[i], lens[i]) : NULL;
        if (e == NULL) {
            /* no candidate */
        } else if (e->cnt == 1) {
            int32_t c = pr->sorted[e->lo];
            if (!in_seen(seen, nseen, c))
                got = c;
        } else if (anchor >= 0 && pr->n_edges_unique > 0) {
            int survivors = 0;
            for (int32_t k = 0; k < e->cnt; k++) {
                int32_t c = pr->sorted[e->lo + k];
                if (in_seen(seen, nseen, c) || !is_edge(pr, anchor, c))
                    continue;
                if (++survivors > 1)
                    break;
                got = c;
            }
            if (survivors != 1)
                got = -1;
        }
        if (got >= 0) {
            out[i] = pr->strs[got];
            seen[nseen++] = got;
            anchor = got;
            resolved++;
        } else {
            anchor = -1; /* the chain breaks */
        }
    }
    if (seen != seen_stack)
        free(seen);
    return resolved;
}

int msn_pathres_resolve(const msn_pathres_t *pr, const char *from_pubkey, const char *const *hops, int n,
                        const char **out)
{
    if (n <= 0)
        return 0;
    size_t lens_stack[SEEN_STACK];
    size_t *lens = n <= SEEN_STACK ? lens_stack : msn_xmalloc((size_t)n * sizeof(size_t));
    for (int i = 0; i < n; i++)
        lens[i] = hops[i] != NULL ? strlen(hops[i]) : 0;
    int r = resolve_spans(pr, from_pubkey, hops, lens, n, out);
    if (lens != lens_stack)
        free(lens);
    return r;
}

int msn_pathres_render(const char *const *out, int n, msn_buf_t *b)
{
    int any = 0;
    for (int i = 0; i < n && !any; i++)
        any = out[i] != NULL;
    if (!any)
        return 0;
    msn_buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        if (i > 0)
            msn_buf_putc(b, ',');
        if (out[i] != NULL)
            msn_json_strn(b, out[i], strlen(out[i]));
        else
            msn_buf_append(b, "null", 4);
    }
    msn_buf_putc(b, ']');
    return 1;
}

/* Collects the elements of a path_json array. */
typedef struct {
    const char **hops;
    size_t *lens;
    int cap, n;
} collect_t;

static void collect_cb(void *ctx, int idx, const char *s, size_t n)
{
    collect_t *c = ctx;
    if (idx < c->cap) {
        c->hops[idx] = s;
        c->lens[idx] = n;
    }
    c->n = idx + 1;
}

int msn_pathres_resolve_json(const msn_pathres_t *pr, const char *from_pubkey, const char *path_json,
                             size_t len, msn_buf_t *b)
{
    if (path_json == NULL)
        return -1;
    int n = msn_json_str_array_each(path_json, len, NULL, NULL);
    if (n < 0)
        return -1;
    if (n == 0)
        return 0;
    const char *hops_stack[64];
    size_t lens_stack[64];
    const char *out_stack[64];
    int big = n > 64;
    collect_t c = {big ? msn_xmalloc((size_t)n * sizeof(char *)) : hops_stack,
                   big ? msn_xmalloc((size_t)n * sizeof(size_t)) : lens_stack, n, 0};
    const char **out = big ? msn_xmalloc((size_t)n * sizeof(char *)) : out_stack;
    msn_json_str_array_each(path_json, len, collect_cb, &c);
    resolve_spans(pr, from_pubkey, c.hops, c.lens, n, out);
    int r = msn_pathres_render(out, n, b);
    if (big) {
        free(c.hops);
        free(c.lens);
        free(out);
    }
    return r;
}

void msn_pathres_free(msn_pathres_t *pr)
{
    if (pr == NULL)
        return;
    for (int32_t i = 0; i < pr->nstr; i++)
        free(pr->strs[i]);
    free(pr->strs);
    free(pr->slen);
    free(pr->is_node);
    msn_hmap_free(&pr->stab);
    free(pr->edges);
    free(pr->sorted);
    free(pr->pent);
    msn_hmap_free(&pr->pix);
    free(pr->etab);
    free(pr);
}
