/*
 * subpaths.c: /api/analytics/subpaths (CoreScope computeAnalyticsSubpaths and its
 * windowed/regional variants).
 *
 * Input: the best observation's path of every transmission with at least two hops (with
 * a window: first_seen inside it; with a region: heard by one of its observers). Each hop
 * is named by the relay it resolves to (whole-store context, an_int.h an_resolver_t) or,
 * unresolved, by its own text. Every run of min_len..max_len consecutive hops counts
 * once per occurrence under its names joined by " → "; rawHops are the hop texts of the
 * first occurrence. pct = count / paths with >= 2 hops, in percent to one decimal.
 *
 * As in CoreScope, the unfiltered shape (no region, no window) reads hops lower-cased
 * (its precomputed index stores them so), while regional or windowed shapes keep their
 * case. Ties in the ranking keep first-occurrence order. Runs are keyed by the sequence
 * of names, so two runs whose joined text coincides only because a node name itself
 * contains " → " stay apart.
 *
 * Phases: context (a pass over every transmission: the resolution context, which must be
 * complete before the first hop is named), collect (a pass over the shape's paths: the
 * runs), rank (the `limit` most frequent), render.
 */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "shm/json.h"

#define ARROW " \xe2\x86\x92 "

/* A run of hop names (the value of the run map, keyed by the sequence of name ids). */
typedef struct {
    int64_t count;
    uint32_t tx;    /* first occurrence */
    uint32_t start; /* its first hop */
    uint32_t len;
} sub_t;

typedef struct {
    int64_t count;
    uint32_t idx;
} top_t;

typedef struct {
    const an_ctx_t *c;
    const msn_store_t *s;
    msn_arena_t *a;
    int min_len, max_len, windowed, fast;
    an_resolver_t rs;
    an_hops_t hops;
    an_map_t hopname; /* hop text (as read) -> uint32_t name id */
    an_map_t names;   /* name text -> id */
    an_map_t subs;    /* name-id sequence -> sub_t */
    uint32_t *ids;    /* the current path's name ids */
    size_t ids_cap;
    int64_t total; /* paths with >= 2 hops */
    top_t *top;
    size_t n_top;
    msn_buf_t *path, *scratch;
} sp_t;

/* ---- context and collect ------------------------------------------------------------------ */

static void context(sp_t *j)
{
    for (uint32_t ti = 0; ti < j->s->n_tx; ti++) {
        msn_an__tx_hops(&j->hops, j->s, &j->s->tx[ti]);
        msn_an__resolver_add(&j->rs, &j->s->tx[ti], &j->hops);
    }
    msn_an__resolver_finish(&j->rs);
}

/* The name id of a hop: the name of the relay it resolves to, else its text (lower-cased
 * in the fast shape). */
static uint32_t hop_name(sp_t *j, const an_hop_t *hop)
{
    char low[257];
    const char *h = msn_an__hop_text(hop);
    size_t hl = hop->n;
    if (j->fast) {
        if (hl > 256)
            hl = 256;
        for (size_t q = 0; q < hl; q++)
            low[q] = (char)tolower((unsigned char)h[q]);
        h = low;
    }
    int is_new;
    uint32_t e = msn_an__map_intern(&j->hopname, h, hl, &is_new);
    uint32_t *id = msn_an__map_val(&j->hopname, e);
    if (is_new) {
        int32_t nd = msn_an__resolve(&j->rs, h, hl);
        const char *nm = nd >= 0 ? msn_an__s(j->s->nodes[nd].name) : h;
        *id = msn_an__map_intern(&j->names, nm, nd >= 0 ? strlen(nm) : hl, NULL);
    }
    return *id;
}

/* Every run of min_len..max_len names of a path of n hops. */
static void add_runs(sp_t *j, uint32_t ti, int n)
{
    for (int l = j->min_len; l <= j->max_len && l <= n; l++)
        for (int st = 0; st + l <= n; st++) {
            int is_new;
            uint32_t e = msn_an__map_intern(&j->subs, j->ids + st, (size_t)l * sizeof(uint32_t), &is_new);
            sub_t *sb = msn_an__map_val(&j->subs, e);
            if (is_new)
                *sb = (sub_t){0, ti, (uint32_t)st, (uint32_t)l};
            sb->count++;
        }
}

static void collect(sp_t *j)
{
    const msn_store_t *s = j->s;
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (j->windowed && !msn_an__tx_in_window(j->c, t))
            continue;
        int n = msn_an__tx_hops(&j->hops, s, t);
        if (n < 2 || !msn_an__tx_in_region(j->c, t))
            continue;
        j->total++;
        AN_GROW(j->a, j->ids, j->ids_cap, (size_t)n);
        for (int i = 0; i < n; i++)
            j->ids[i] = hop_name(j, &j->hops.h[i]);
        add_runs(j, ti, n);
    }
}

/* ---- rank --------------------------------------------------------------------------------- */

static int top_cmp(const void *a, const void *b)
{
    const top_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void rank(sp_t *j, int limit)
{
    an_topn_t t;
    msn_an__topn_init(&t, j->a, (size_t)limit, sizeof(top_t), top_cmp);
    for (uint32_t e = 0; e < j->subs.n; e++) {
        top_t cand = {msn_an__map_n(&j->subs, e), e};
        msn_an__topn_push(&t, &cand);
    }
    j->n_top = msn_an__topn_sort(&t);
    j->top = (top_t *)(void *)t.h;
}

/* ---- render ------------------------------------------------------------------------------- */

/* The run's names joined by " → " (into j->path); returns the parts strings.Split finds. */
static int64_t join_names(sp_t *j, uint32_t e)
{
    const uint32_t *seq = (const uint32_t *)(const void *)j->subs.keys[e];
    uint32_t l = j->subs.klen[e] / (uint32_t)sizeof(uint32_t);
    msn_buf_t *p = j->path;
    msn_buf_reset(p);
    for (uint32_t q = 0; q < l; q++) {
        uint32_t id;
        memcpy(&id, seq + q, sizeof(id));
        if (q)
            msn_buf_puts(p, ARROW);
        msn_buf_append(p, j->names.keys[id], j->names.klen[id]);
    }
    int64_t parts = 1;
    for (size_t q = 0; q + 5 <= p->len; q++)
        if (memcmp(p->data + q, ARROW, 5) == 0) {
            parts++;
            q += 4;
        }
    return parts;
}

/* The hop texts of the run's first occurrence, split at commas as strings.Split would. */
static void render_raw_hops(sp_t *j, msn_buf_t *out, const sub_t *e)
{
    msn_an__open(out, "rawHops", '[');
    msn_an__tx_hops(&j->hops, j->s, &j->s->tx[e->tx]);
    for (uint32_t q = 0; q < e->len && e->start + q < (uint32_t)j->hops.n; q++) {
        const an_hop_t *h = &j->hops.h[e->start + q];
        const char *hp = msn_an__hop_text(h);
        size_t a = 0;
        for (size_t z = 0; z <= h->n; z++) {
            if (z < h->n && hp[z] != ',')
                continue;
            msn_buf_reset(j->scratch);
            for (size_t y = a; y < z; y++)
                msn_buf_putc(j->scratch, j->fast ? (char)tolower((unsigned char)hp[y]) : hp[y]);
            msn_an__sep(out);
            msn_an__strn(out, j->scratch->data, j->scratch->len);
            a = z + 1;
        }
    }
    msn_buf_putc(out, ']');
}

static void render(sp_t *j, msn_buf_t *out)
{
    msn_buf_putc(out, '{');
    msn_an__open(out, "subpaths", '[');
    for (size_t i = 0; i < j->n_top; i++) {
        const sub_t *e = msn_an__map_val(&j->subs, j->top[i].idx);
        int64_t parts = join_names(j, j->top[i].idx);
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "count", e->count);
        msn_an__ki64(out, "hops", parts);
        msn_an__kstrn(out, "path", j->path->data, j->path->len);
        msn_an__kdbl(out, "pct", j->total > 0 ? round((double)e->count / (double)j->total * 1000) / 10 : 0.0);
        render_raw_hops(j, out, e);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__ki64(out, "totalPaths", j->total);
    msn_buf_putc(out, '}');
}

int msn_an__subpaths(const an_ctx_t *c, int min_len, int max_len, int limit, msn_buf_t *out, char *err,
                     size_t errlen)
{
    (void)err;
    (void)errlen;
    sp_t *j = AN_NEW(c, sp_t);
    j->c = c;
    j->s = c->s;
    j->a = c->arena;
    j->min_len = min_len < 2 ? 2 : min_len;
    j->max_len = max_len;
    j->windowed = msn_an__window_set(c);
    j->fast = !j->windowed && (c->shape == NULL || c->shape->region == NULL || c->shape->region[0] == 0);
    msn_an__resolver_init(&j->rs, c);
    msn_an__hops_init(&j->hops, c);
    msn_an__map_init(&j->hopname, j->a, sizeof(uint32_t));
    msn_an__map_init(&j->names, j->a, 0);
    msn_an__map_init(&j->subs, j->a, sizeof(sub_t));
    j->path = msn_an__buf(c);
    j->scratch = msn_an__buf(c);
    context(j);
    collect(j);
    rank(j, limit < 0 ? 0 : limit);
    render(j, out);
    return 0;
}
