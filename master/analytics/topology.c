/*
 * topology.c: /api/analytics/topology (CoreScope computeAnalyticsTopology).
 *
 * Input: the transmissions whose first_seen lies in the window and (with a region) that
 * some observer of the region heard; of each, the path of its best observation (the store's
 * rule, data-model spec §6) and that observation's observer and SNR. Transmissions
 * without hops are skipped.
 *
 * Output: hop-count distribution (up to 25 hops) with mean/median/max, the 20 most
 * frequent hops and 15 most frequent adjacent hop pairs (prefixes that name exactly one
 * relay are merged per node, keeping the longest prefix), mean SNR per hop count (up to
 * 20), the observers, per-observer reach rings (a hop's distance from the observer is
 * hops-from-the-end; rings up to 15), hops heard by several observers (50) and the
 * closest observer of each hop (50). uniqueNodes is the number of nodes seen in the last
 * 7 days, the figure /api/stats reports as totalNodes.
 *
 * Hops are resolved to nodes with the relay prefix map and the whole input as context
 * (an_int.h an_resolver_t). CoreScope leaves ties in every ranking to Go's map order; here
 * ties are broken by the hop text, the observer id, or the pair text, so the output is
 * deterministic.
 *
 * Phases: collect (one pass: the resolution context, the hop-count histogram, hop and pair
 * counts, per observer and hop the reach), merge (hops and pairs per relay), rank (top
 * hops and pairs, reach entries by hop and by observer), render.
 */
#include "an_int.h"

#include <string.h>
#include <strings.h>

#include "shm/json.h"

/* What one observer saw of one hop (the value of the reach map, keyed "id\0hop"). */
typedef struct {
    int64_t min_dist, max_dist, count;
    uint32_t obs;    /* index in the observer-id map */
    const char *hop; /* into the reach map's key */
    uint32_t hop_n;
} reach_t;

typedef struct {
    uint32_t first, n; /* a run of reach entries (in by-hop order) with one hop */
} hopgrp_t;

typedef struct {
    const an_ctx_t *c;
    const msn_store_t *s;
    msn_arena_t *a;
    an_resolver_t rs; /* context: every transmission read */
    /* collect */
    int64_t *hop_counts, *snr_n; /* per hop count */
    double *snr_sum;
    size_t hist_len, hc_cap, sn_cap, ss_cap;
    int64_t n_paths, sum_hops;
    int max_hops;
    an_map_t hopfreq;  /* hop text -> count */
    an_map_t pairfreq; /* "a|b" with a <= b -> count */
    an_map_t ids;      /* observer id -> its name (const char *; NULL: an id without observer) */
    an_map_t reach;    /* observer id \0 hop -> reach_t */
    msn_buf_t *key;
    /* merge and rank */
    an_rank_t *hops, *pairs; /* merged per relay; after rank the first n_top_* are the top ones */
    size_t n_hops, n_pairs, n_top_hops, n_top_pairs;
    uint32_t *byhop;   /* reach entries by hop, distance, observer id */
    hopgrp_t *groups;  /* runs of byhop with one hop */
    uint32_t n_groups;
    uint32_t *closest; /* groups by their closest distance (stable) */
    uint32_t *multi;   /* groups heard by several observers, most observers first (stable) */
    uint32_t n_multi;
    uint32_t *byobs;   /* reach entries by observer id, distance, count (desc), hop */
    uint32_t *obs_order; /* observer-id entries by id */
} topo_t;

/* ---- collect ---------------------------------------------------------------------------- */

static void add_hist(topo_t *j, int n, const msn_obs_t *best)
{
    if ((size_t)n + 1 > j->hist_len) {
        AN_GROW(j->a, j->hop_counts, j->hc_cap, (size_t)n + 1);
        AN_GROW(j->a, j->snr_n, j->sn_cap, (size_t)n + 1);
        AN_GROW(j->a, j->snr_sum, j->ss_cap, (size_t)n + 1);
        for (size_t q = j->hist_len; q <= (size_t)n; q++) {
            j->hop_counts[q] = 0;
            j->snr_n[q] = 0;
            j->snr_sum[q] = 0;
        }
        j->hist_len = (size_t)n + 1;
    }
    if (n > j->max_hops)
        j->max_hops = n;
    j->hop_counts[n]++;
    j->n_paths++;
    j->sum_hops += n;
    if (best->has_snr) {
        j->snr_n[n]++;
        j->snr_sum[n] += best->snr;
    }
}

/* Adjacent pairs, each keyed by its two hop texts in byte order. */
static void add_pairs(topo_t *j, const an_hops_t *hops)
{
    for (int i = 0; i + 1 < hops->n; i++) {
        const an_hop_t *a = &hops->h[i], *b = &hops->h[i + 1];
        if (msn_an__bytes_cmp(msn_an__hop_text(a), a->n, msn_an__hop_text(b), b->n) > 0) {
            const an_hop_t *t = a;
            a = b;
            b = t;
        }
        msn_buf_reset(j->key);
        msn_buf_append(j->key, msn_an__hop_text(a), a->n);
        msn_buf_putc(j->key, '|');
        msn_buf_append(j->key, msn_an__hop_text(b), b->n);
        msn_an__map_count(&j->pairfreq, j->key->data, j->key->len);
    }
}

/* Per observer (of the best observation) and hop: the distance from the observer. */
static void add_reach(topo_t *j, const msn_obs_t *best, const an_hops_t *hops)
{
    int32_t ob = msn_an__obs_observer(j->c, best);
    const char *oid = ob < 0 ? "" : msn_an__s(j->s->observers[ob].id);
    size_t oidn = strlen(oid);
    uint32_t oe = msn_an__map_intern(&j->ids, oid, oidn, NULL);
    if (oidn > 0)
        *(const char **)msn_an__map_val(&j->ids, oe) = ob < 0 ? "" : msn_an__s(j->s->observers[ob].name);
    for (int i = 0; i < hops->n; i++) {
        int64_t dist = hops->n - i;
        msn_buf_reset(j->key);
        msn_buf_append(j->key, oid, oidn);
        msn_buf_putc(j->key, 0);
        msn_buf_append(j->key, msn_an__hop_text(&hops->h[i]), hops->h[i].n);
        int is_new;
        uint32_t e = msn_an__map_intern(&j->reach, j->key->data, j->key->len, &is_new);
        reach_t *r = msn_an__map_val(&j->reach, e);
        if (is_new)
            *r = (reach_t){dist, dist, 0, oe, j->reach.keys[e] + oidn + 1, hops->h[i].n};
        if (dist < r->min_dist)
            r->min_dist = dist;
        if (dist > r->max_dist)
            r->max_dist = dist;
        r->count++;
    }
}

static void collect(topo_t *j)
{
    const msn_store_t *s = j->s;
    an_hops_t hops;
    msn_an__hops_init(&hops, j->c);
    for (uint32_t i = 0; i < s->n_tx; i++) {
        const msn_tx_t *t = &s->tx[i];
        if (!msn_an__tx_in_window(j->c, t) || !msn_an__tx_in_region(j->c, t))
            continue;
        int n = msn_an__tx_hops(&hops, s, t);
        msn_an__resolver_add(&j->rs, t, &hops);
        if (n == 0)
            continue;
        const msn_obs_t *best = &s->obs[t->best];
        add_hist(j, n, best);
        for (int q = 0; q < n; q++)
            msn_an__map_count(&j->hopfreq, msn_an__hop_text(&hops.h[q]), hops.h[q].n);
        add_pairs(j, &hops);
        add_reach(j, best, &hops);
    }
    msn_an__resolver_finish(&j->rs);
}

/* ---- merge -------------------------------------------------------------------------------- */

/* Hop prefixes naming one relay count as one entry, under the longest prefix. */
static void merge_hops(topo_t *j)
{
    const an_map_t *m = &j->hopfreq;
    j->hops = AN_ARRAY(j->a, an_rank_t, m->n);
    int32_t *group = AN_ARRAY(j->a, int32_t, j->s->n_nodes); /* node -> entry */
    for (uint32_t i = 0; i < j->s->n_nodes; i++)
        group[i] = -1;
    size_t nf = 0;
    for (uint32_t e = 0; e < m->n; e++) {
        int32_t node = msn_an__pm_unique(&j->rs.pm, m->keys[e], m->klen[e]);
        if (node >= 0 && group[node] >= 0) {
            an_rank_t *g = &j->hops[group[node]];
            g->count += msn_an__map_n(m, e);
            if (m->klen[e] > g->kn) {
                g->key = m->keys[e];
                g->kn = m->klen[e];
            }
            continue;
        }
        if (node >= 0)
            group[node] = (int32_t)nf;
        j->hops[nf++] = (an_rank_t){m->keys[e], m->klen[e], e, msn_an__map_n(m, e)};
    }
    j->n_hops = nf;
}

typedef struct {
    const char *a, *b;
    uint32_t an, bn;
    int64_t count;
    int32_t na, nb; /* the relays of a merged pair, -1 for a pair left as it is */
} pair_t;

/* Adds a pair whose prefixes name relays na and nb to its merged entry (keyed by the two
 * nodes in key order, case-insensitively), keeping the longest prefix of each side. */
static void merge_pair(topo_t *j, an_map_t *byp, pair_t *pl, uint32_t *np, pair_t p)
{
    const msn_node_t *nodes = j->s->nodes;
    if (strcasecmp(nodes[p.na].public_key, nodes[p.nb].public_key) > 0)
        p = (pair_t){p.b, p.a, p.bn, p.an, p.count, p.nb, p.na};
    int32_t kk[2] = {p.na, p.nb};
    int is_new;
    uint32_t g = msn_an__map_intern(byp, kk, sizeof(kk), &is_new);
    uint32_t *slot = msn_an__map_val(byp, g);
    if (is_new) {
        *slot = *np;
        pl[(*np)++] = p;
        return;
    }
    pair_t *gp = &pl[*slot];
    gp->count += p.count;
    if (p.an > gp->an) {
        gp->a = p.a;
        gp->an = p.an;
    }
    if (p.bn > gp->bn) {
        gp->b = p.b;
        gp->bn = p.bn;
    }
}

/* Pairs whose two prefixes each name one relay count as one entry per relay pair; the
 * result as "a|b" texts (merged pairs in byte order again). */
static void merge_pairs(topo_t *j)
{
    const an_map_t *m = &j->pairfreq;
    pair_t *pl = AN_ARRAY(j->a, pair_t, m->n);
    uint32_t np = 0;
    an_map_t byp; /* (node, node) -> index in pl */
    msn_an__map_init(&byp, j->a, sizeof(uint32_t));
    for (uint32_t e = 0; e < m->n; e++) {
        const char *p = m->keys[e], *bar = memchr(p, '|', m->klen[e]);
        uint32_t an = (uint32_t)(bar - p), bn = m->klen[e] - an - 1;
        pair_t pr = {p, bar + 1, an, bn, msn_an__map_n(m, e), msn_an__pm_unique(&j->rs.pm, p, an),
                     msn_an__pm_unique(&j->rs.pm, bar + 1, bn)};
        if (pr.na < 0 || pr.nb < 0)
            pl[np++] = (pair_t){pr.a, pr.b, pr.an, pr.bn, pr.count, -1, -1};
        else
            merge_pair(j, &byp, pl, &np, pr);
    }
    j->pairs = AN_ARRAY(j->a, an_rank_t, np);
    for (uint32_t q = 0; q < np; q++) {
        pair_t *p = &pl[q];
        if (p->na >= 0 && msn_an__bytes_cmp(p->a, p->an, p->b, p->bn) > 0)
            *p = (pair_t){p->b, p->a, p->bn, p->an, p->count, p->nb, p->na};
        char *text = msn_arena_alloc(j->a, (size_t)p->an + p->bn + 1);
        memcpy(text, p->a, p->an);
        text[p->an] = '|';
        memcpy(text + p->an + 1, p->b, p->bn);
        j->pairs[q] = (an_rank_t){text, p->an + p->bn + 1, q, p->count};
    }
    j->n_pairs = np;
}

/* ---- rank --------------------------------------------------------------------------------- */

/* Sort context for reach entries (qsort has no user pointer). */
typedef struct {
    const reach_t *r;
    const an_map_t *ids;
    int by_observer; /* 1: by observer id, min dist, count desc, hop; 0: by hop, min dist, observer id */
} rsort_t;

typedef struct {
    uint32_t idx;
    const rsort_t *ctx;
} rref_t;

static int rref_cmp(const void *a, const void *b)
{
    const rref_t *x = a, *y = b;
    const reach_t *p = &x->ctx->r[x->idx], *q = &x->ctx->r[y->idx];
    const an_map_t *ids = x->ctx->ids;
    int c;
    if (x->ctx->by_observer) {
        c = msn_an__bytes_cmp(ids->keys[p->obs], ids->klen[p->obs], ids->keys[q->obs], ids->klen[q->obs]);
        if (c)
            return c;
        if (p->min_dist != q->min_dist)
            return p->min_dist < q->min_dist ? -1 : 1;
        if (p->count != q->count)
            return p->count > q->count ? -1 : 1;
        return msn_an__bytes_cmp(p->hop, p->hop_n, q->hop, q->hop_n);
    }
    c = msn_an__bytes_cmp(p->hop, p->hop_n, q->hop, q->hop_n);
    if (c)
        return c;
    if (p->min_dist != q->min_dist)
        return p->min_dist < q->min_dist ? -1 : 1;
    return msn_an__bytes_cmp(ids->keys[p->obs], ids->klen[p->obs], ids->keys[q->obs], ids->klen[q->obs]);
}

static uint32_t *reach_sorted(topo_t *j, int by_observer)
{
    uint32_t nr = j->reach.n;
    rsort_t ctx = {(const reach_t *)(const void *)j->reach.vals, &j->ids, by_observer};
    rref_t *refs = AN_ARRAY(j->a, rref_t, nr);
    for (uint32_t e = 0; e < nr; e++)
        refs[e] = (rref_t){e, &ctx};
    msn_an__qsort(refs, nr, sizeof(*refs), rref_cmp);
    uint32_t *order = AN_ARRAY(j->a, uint32_t, nr);
    for (uint32_t e = 0; e < nr; e++)
        order[e] = refs[e].idx;
    return order;
}

static const reach_t *reach_at(const topo_t *j, uint32_t e)
{
    return (const reach_t *)msn_an__map_val(&j->reach, e);
}

/* The first reach entry of group g: its hop, heard closest (then by the smallest id). */
static const reach_t *group_head(const topo_t *j, uint32_t g)
{
    return reach_at(j, j->byhop[j->groups[g].first]);
}

/* items[0..n) in the stable order of their keys key[i] (0..max): a counting sort. */
static uint32_t *stable_by_key(msn_arena_t *a, const uint32_t *items, const int64_t *key, uint32_t n, int64_t max)
{
    int64_t *cnt = AN_ARRAY(a, int64_t, (size_t)max + 2);
    for (uint32_t i = 0; i < n; i++)
        cnt[key[i] + 1]++;
    for (int64_t d = 1; d <= max + 1; d++)
        cnt[d] += cnt[d - 1];
    uint32_t *out = AN_ARRAY(a, uint32_t, n);
    for (uint32_t i = 0; i < n; i++)
        out[cnt[key[i]]++] = items[i];
    return out;
}

/* Groups by their closest distance (hop order for ties); groups heard by several
 * observers by observer count, most first (hop order for ties). */
static void rank_groups(topo_t *j)
{
    uint32_t ng = j->n_groups, nm = 0;
    uint32_t *items = AN_ARRAY(j->a, uint32_t, ng);
    int64_t *key = AN_ARRAY(j->a, int64_t, ng), max = 0;
    for (uint32_t g = 0; g < ng; g++) {
        items[g] = g;
        key[g] = group_head(j, g)->min_dist;
        if (key[g] > max)
            max = key[g];
    }
    j->closest = stable_by_key(j->a, items, key, ng, max);
    max = 0;
    for (uint32_t g = 0; g < ng; g++)
        if (j->groups[g].n > 1) {
            items[nm++] = g;
            if (j->groups[g].n > max)
                max = j->groups[g].n;
        }
    for (uint32_t q = 0; q < nm; q++)
        key[q] = max - j->groups[items[q]].n;
    j->multi = stable_by_key(j->a, items, key, nm, max);
    j->n_multi = nm;
}

/* The 20 most frequent hops and 15 most frequent pairs; the reach entries by hop (and its
 * groups) and by observer. */
static void rank(topo_t *j)
{
    j->n_top_hops = msn_an__top(j->a, j->hops, j->n_hops, sizeof(an_rank_t), 20, msn_an__rank_cmp);
    j->n_top_pairs = msn_an__top(j->a, j->pairs, j->n_pairs, sizeof(an_rank_t), 15, msn_an__rank_cmp);
    uint32_t nr = j->reach.n;
    j->byhop = reach_sorted(j, 0);
    j->groups = AN_ARRAY(j->a, hopgrp_t, nr);
    for (uint32_t i = 0; i < nr;) {
        const reach_t *h = reach_at(j, j->byhop[i]);
        uint32_t k = i + 1;
        while (k < nr && msn_an__bytes_cmp(h->hop, h->hop_n, reach_at(j, j->byhop[k])->hop,
                                           reach_at(j, j->byhop[k])->hop_n) == 0)
            k++;
        j->groups[j->n_groups++] = (hopgrp_t){i, k - i};
        i = k;
    }
    rank_groups(j);
    j->byobs = reach_sorted(j, 1);
    j->obs_order = msn_an__map_sorted(&j->ids);
}

/* ---- render ------------------------------------------------------------------------------- */

/* "observer_name": the observer's name, or its id when it has none. */
static void observer_name(msn_buf_t *b, const char *key, const an_map_t *ids, uint32_t e)
{
    const char *on = *(const char **)msn_an__map_val(ids, e);
    if (on == NULL || on[0] == 0)
        msn_an__kstrn(b, key, ids->keys[e], ids->klen[e]);
    else
        msn_an__kstr(b, key, on);
}

static void render_closest(topo_t *j, msn_buf_t *out)
{
    msn_an__open(out, "bestPathList", '[');
    for (uint32_t i = 0; i < j->n_groups && i < 50; i++) {
        const reach_t *e = group_head(j, j->closest[i]);
        int32_t node = msn_an__resolve(&j->rs, e->hop, e->hop_n);
        msn_an__open(out, NULL, '{');
        msn_an__kstrn(out, "hop", e->hop, e->hop_n);
        msn_an__ki64(out, "minDist", e->min_dist);
        msn_an__kname(out, "name", j->s, node);
        msn_an__kstrn(out, "observer_id", j->ids.keys[e->obs], j->ids.klen[e->obs]);
        observer_name(out, "observer_name", &j->ids, e->obs);
        msn_an__kpubkey(out, "pubkey", j->s, node);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_histograms(topo_t *j, msn_buf_t *out)
{
    msn_an__open(out, "hopDistribution", '[');
    for (int h = 0; h <= j->max_hops && h <= 25; h++) {
        if (j->hop_counts == NULL || j->hop_counts[h] == 0)
            continue;
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "count", j->hop_counts[h]);
        msn_an__ki64(out, "hops", h);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__open(out, "hopsVsSnr", '[');
    for (int h = 0; h <= j->max_hops && h <= 20; h++) {
        if (j->snr_n == NULL || j->snr_n[h] == 0)
            continue;
        msn_an__open(out, NULL, '{');
        msn_an__kdbl(out, "avgSnr", j->snr_sum[h] / (double)j->snr_n[h]);
        msn_an__ki64(out, "count", j->snr_n[h]);
        msn_an__ki64(out, "hops", h);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__ki64(out, "maxHops", j->max_hops);
    size_t median = j->n_paths > 0 ? msn_an__kth_bucket(j->hop_counts, j->hist_len, j->n_paths / 2) : 0;
    msn_an__ki64(out, "medianHops", (int64_t)median);
}

static void render_multi(topo_t *j, msn_buf_t *out)
{
    msn_an__open(out, "multiObsNodes", '[');
    for (uint32_t q = 0; q < j->n_multi && q < 50; q++) {
        const hopgrp_t *g = &j->groups[j->multi[q]];
        const reach_t *h0 = reach_at(j, j->byhop[g->first]);
        int32_t node = msn_an__resolve(&j->rs, h0->hop, h0->hop_n);
        msn_an__open(out, NULL, '{');
        msn_an__kstrn(out, "hop", h0->hop, h0->hop_n);
        msn_an__kname(out, "name", j->s, node);
        msn_an__open(out, "observers", '[');
        for (uint32_t i = 0; i < g->n; i++) {
            const reach_t *e = reach_at(j, j->byhop[g->first + i]);
            msn_an__open(out, NULL, '{');
            msn_an__ki64(out, "count", e->count);
            msn_an__ki64(out, "minDist", e->min_dist);
            msn_an__kstrn(out, "observer_id", j->ids.keys[e->obs], j->ids.klen[e->obs]);
            observer_name(out, "observer_name", &j->ids, e->obs);
            msn_buf_putc(out, '}');
        }
        msn_buf_putc(out, ']');
        msn_an__kpubkey(out, "pubkey", j->s, node);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

/* Observers: the ids that have a name entry, by id. */
static void render_observers(topo_t *j, msn_buf_t *out)
{
    msn_an__open(out, "observers", '[');
    for (uint32_t i = 0; i < j->ids.n; i++) {
        uint32_t e = j->obs_order[i];
        if (*(const char **)msn_an__map_val(&j->ids, e) == NULL)
            continue;
        msn_an__open(out, NULL, '{');
        msn_an__kstrn(out, "id", j->ids.keys[e], j->ids.klen[e]);
        observer_name(out, "name", &j->ids, e);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_ring_node(topo_t *j, msn_buf_t *out, const reach_t *e)
{
    int32_t node = msn_an__resolve(&j->rs, e->hop, e->hop_n);
    msn_an__open(out, NULL, '{');
    msn_an__ki64(out, "count", e->count);
    msn_an__key(out, "distRange");
    if (e->min_dist != e->max_dist)
        msn_buf_printf(out, "\"%lld-%lld\"", (long long)e->min_dist, (long long)e->max_dist);
    else
        msn_buf_puts(out, "null");
    msn_an__kstrn(out, "hop", e->hop, e->hop_n);
    msn_an__kname(out, "name", j->s, node);
    msn_an__kpubkey(out, "pubkey", j->s, node);
    msn_buf_putc(out, '}');
}

/* Per observer (by id), its reach entries (by distance) as rings of up to 15 hops. */
static void render_reach(topo_t *j, msn_buf_t *out)
{
    msn_an__open(out, "perObserverReach", '{');
    uint32_t i = 0, nr = j->reach.n;
    for (uint32_t oi = 0; oi < j->ids.n; oi++) {
        uint32_t o = j->obs_order[oi];
        msn_an__kdyn(out, j->ids.keys[o], j->ids.klen[o]);
        msn_buf_putc(out, '{');
        observer_name(out, "observer_name", &j->ids, o);
        msn_an__open(out, "rings", '[');
        int64_t ring = -1;
        for (; i < nr && reach_at(j, j->byobs[i])->obs == o; i++) {
            const reach_t *e = reach_at(j, j->byobs[i]);
            if (e->min_dist > 15)
                continue;
            if (e->min_dist != ring) {
                if (ring >= 0)
                    msn_buf_puts(out, "]}");
                ring = e->min_dist;
                msn_an__open(out, NULL, '{');
                msn_an__ki64(out, "hops", ring);
                msn_an__open(out, "nodes", '[');
            }
            render_ring_node(j, out, e);
        }
        if (ring >= 0)
            msn_buf_puts(out, "]}");
        msn_buf_puts(out, "]}");
    }
    msn_buf_putc(out, '}');
}

static void render_pairs(topo_t *j, msn_buf_t *out)
{
    msn_an__open(out, "topPairs", '[');
    for (size_t q = 0; q < j->n_top_pairs; q++) {
        const an_rank_t *p = &j->pairs[q];
        const char *a = p->key, *bar = memchr(p->key, '|', p->kn), *b = bar + 1;
        size_t an = (size_t)(bar - a), bn = p->kn - an - 1;
        int32_t ra = msn_an__resolve(&j->rs, a, an), rb = msn_an__resolve(&j->rs, b, bn);
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "count", p->count);
        msn_an__kstrn(out, "hopA", a, an);
        msn_an__kstrn(out, "hopB", b, bn);
        msn_an__kname(out, "nameA", j->s, ra);
        msn_an__kname(out, "nameB", j->s, rb);
        msn_an__kpubkey(out, "pubkeyA", j->s, ra);
        msn_an__kpubkey(out, "pubkeyB", j->s, rb);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_repeaters(topo_t *j, msn_buf_t *out)
{
    msn_an__open(out, "topRepeaters", '[');
    for (size_t q = 0; q < j->n_top_hops; q++) {
        const an_rank_t *h = &j->hops[q];
        int32_t node = msn_an__resolve(&j->rs, h->key, h->kn);
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "count", h->count);
        msn_an__kstrn(out, "hop", h->key, h->kn);
        msn_an__kname(out, "name", j->s, node);
        msn_an__kpubkey(out, "pubkey", j->s, node);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render(topo_t *j, msn_buf_t *out)
{
    msn_buf_putc(out, '{');
    msn_an__kdbl(out, "avgHops", j->n_paths ? (double)j->sum_hops / (double)j->n_paths : 0.0);
    render_closest(j, out);
    render_histograms(j, out);
    render_multi(j, out);
    render_observers(j, out);
    render_reach(j, out);
    render_pairs(j, out);
    render_repeaters(j, out);
    int64_t active = 0;
    for (uint32_t q = 0; q < j->s->n_nodes; q++)
        if (msn_store_node_active(&j->s->nodes[q], j->c->now_ms))
            active++;
    msn_an__ki64(out, "uniqueNodes", active);
    msn_buf_putc(out, '}');
}

int msn_an__topology(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    topo_t *j = AN_NEW(c, topo_t);
    j->c = c;
    j->s = c->s;
    j->a = c->arena;
    msn_an__resolver_init(&j->rs, c);
    msn_an__map_init(&j->hopfreq, j->a, sizeof(int64_t));
    msn_an__map_init(&j->pairfreq, j->a, sizeof(int64_t));
    msn_an__map_init(&j->ids, j->a, sizeof(const char *));
    msn_an__map_init(&j->reach, j->a, sizeof(reach_t));
    j->key = msn_an__buf(c);
    collect(j);
    merge_hops(j);
    merge_pairs(j);
    rank(j);
    render(j, out);
    return 0;
}
