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
 * (an_int.h msn_an__pm_resolve). CoreScope leaves ties in every ranking to Go's map
 * order; here ties are broken by the hop text, the observer id, or the pair text, so the
 * output is deterministic.
 */
#include "an_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/json.h"

typedef struct {
    int64_t min_dist, max_dist, count;
    uint32_t obs;       /* index in the observer-id map */
    const char *hop;    /* into the composite key */
    uint32_t hop_n;
} reach_t;

typedef struct {
    const char *hop;
    uint32_t n;
    int64_t count;
} freq_t;

static int freq_cmp(const void *a, const void *b)
{
    const freq_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = memcmp(x->hop, y->hop, x->n < y->n ? x->n : y->n);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Sort context for reach entries (qsort has no user pointer). */
typedef struct {
    reach_t *r;
    const an_map_t *ids;
    int mode; /* 0: by observer id, min dist, count desc, hop; 1: by hop, min dist, observer id */
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
    if (x->ctx->mode == 0) {
        c = bytes_cmp(ids->keys[p->obs], ids->klen[p->obs], ids->keys[q->obs], ids->klen[q->obs]);
        if (c)
            return c;
        if (p->min_dist != q->min_dist)
            return p->min_dist < q->min_dist ? -1 : 1;
        if (p->count != q->count)
            return p->count > q->count ? -1 : 1;
        return bytes_cmp(p->hop, p->hop_n, q->hop, q->hop_n);
    }
    c = bytes_cmp(p->hop, p->hop_n, q->hop, q->hop_n);
    if (c)
        return c;
    if (p->min_dist != q->min_dist)
        return p->min_dist < q->min_dist ? -1 : 1;
    return bytes_cmp(ids->keys[p->obs], ids->klen[p->obs], ids->keys[q->obs], ids->klen[q->obs]);
}

typedef struct {
    const an_ctx_t *c;
    const an_pm_t *pm;
    const an_rctx_t *rc;
    an_map_t cache; /* hop -> resolved node (+1, 0 = none) */
    int32_t *res;
    size_t cap;
} resolver_t;

static int32_t resolve(resolver_t *r, const char *hop, size_t n)
{
    int is_new;
    uint32_t e = msn_an__map_intern(&r->cache, hop ? hop : "", hop ? n : 0, &is_new);
    if (is_new) {
        AN_RESERVE(r->res, r->cap, (size_t)e + 1);
        r->res[e] = msn_an__pm_resolve(r->pm, hop, n, r->rc);
    }
    return r->res[e];
}

/* "name":…,"pubkey":… (or the A/B variants) for a resolved node, nulls when unresolved. */
static void emit_ref(msn_buf_t *b, const msn_store_t *s, int32_t node, const char *kname, const char *kpk)
{
    msn_buf_putc(b, ',');
    msn_json_key(b, kname);
    if (node < 0)
        msn_buf_puts(b, "null");
    else
        msn_an__str(b, s->nodes[node].name);
    msn_buf_putc(b, ',');
    msn_json_key(b, kpk);
    if (node < 0)
        msn_buf_puts(b, "null");
    else
        msn_an__str(b, s->nodes[node].public_key);
}

/* The single relay a hop prefix names (CoreScope pmLookup: lowercase, cut to 8 chars), or
 * -1 when none or several. */
static int32_t unique_relay(const an_pm_t *pm, const char *hop, size_t n)
{
    uint32_t first, cnt;
    if (msn_an__pm_candidates(pm, hop, n > 8 ? 8 : n, &first, &cnt) != 1)
        return -1;
    return (int32_t)pm->relay[first];
}

int msn_an__topology(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    an_pm_t pm;
    msn_an__pm_init(&pm, c);
    an_hops_t hops = {0};
    an_jobj_t jo;
    msn_buf_t scratch = MSN_BUF_INIT;

    /* the filtered transmissions (window + region) */
    uint32_t *txs = msn_xmalloc((s->n_tx ? s->n_tx : 1) * sizeof(uint32_t));
    uint32_t n_txs = 0;
    for (uint32_t i = 0; i < s->n_tx; i++)
        if (msn_an__tx_in_window(c, &s->tx[i]) && msn_an__tx_in_region(c, &s->tx[i]))
            txs[n_txs++] = i;

    /* pre-pass: the resolution context over every filtered transmission */
    an_rctx_t rc;
    msn_an__rctx_reset(&rc);
    an_map_t ctxseen;
    msn_an__map_init(&ctxseen);
    for (uint32_t k = 0; k < n_txs; k++) {
        const msn_tx_t *t = &s->tx[txs[k]];
        msn_an__tx_hops(&hops, s, t);
        msn_an__rctx_tx(c, &pm, &rc, &ctxseen, t, &hops, &jo, &scratch);
    }
    msn_an__rctx_finish(&rc);
    msn_an__map_free(&ctxseen);
    resolver_t rs = {c, &pm, &rc, {0}, NULL, 0};
    msn_an__map_init(&rs.cache);

    int64_t *hop_counts = NULL, *snr_n = NULL;
    double *snr_sum = NULL;
    size_t hc_cap = 0, sn_cap = 0, ss_cap = 0, hc_len = 0;
    int64_t n_paths = 0, sum_hops = 0;
    int max_hops = 0;
    an_map_t hopfreq, pairfreq, ids, reach;
    msn_an__map_init(&hopfreq);
    msn_an__map_init(&pairfreq);
    msn_an__map_init(&ids);
    msn_an__map_init(&reach);
    int64_t *hf = NULL, *pf = NULL;
    size_t hf_cap = 0, pf_cap = 0;
    const char **id_name = NULL; /* observerMap: id -> name (NULL = not in the map) */
    size_t idn_cap = 0;
    reach_t *rr = NULL;
    size_t rr_cap = 0;
    msn_buf_t key = MSN_BUF_INIT;

    for (uint32_t k = 0; k < n_txs; k++) {
        const msn_tx_t *t = &s->tx[txs[k]];
        int n = msn_an__tx_hops(&hops, s, t);
        if (n == 0)
            continue;
        const msn_obs_t *best = &s->obs[t->best];
        if ((size_t)n + 1 > hc_len) {
            AN_RESERVE(hop_counts, hc_cap, (size_t)n + 1);
            AN_RESERVE(snr_n, sn_cap, (size_t)n + 1);
            AN_RESERVE(snr_sum, ss_cap, (size_t)n + 1);
            for (size_t q = hc_len; q <= (size_t)n; q++) {
                hop_counts[q] = 0;
                snr_n[q] = 0;
                snr_sum[q] = 0;
            }
            hc_len = (size_t)n + 1;
        }
        if (n > max_hops)
            max_hops = n;
        hop_counts[n]++;
        n_paths++;
        sum_hops += n;
        if (best->has_snr) {
            snr_n[n]++;
            snr_sum[n] += best->snr;
        }
        for (int i = 0; i < n; i++) {
            int is_new;
            uint32_t e = msn_an__map_intern(&hopfreq, hops.h[i].p ? hops.h[i].p : "", hops.h[i].n, &is_new);
            if (is_new) {
                AN_RESERVE(hf, hf_cap, (size_t)e + 1);
                hf[e] = 0;
            }
            hf[e]++;
        }
        for (int i = 0; i + 1 < n; i++) {
            const an_hop_t *a = &hops.h[i], *b = &hops.h[i + 1];
            if (bytes_cmp(a->p ? a->p : "", a->n, b->p ? b->p : "", b->n) > 0) {
                const an_hop_t *tmp = a;
                a = b;
                b = tmp;
            }
            msn_buf_reset(&key);
            msn_buf_append(&key, a->p ? a->p : "", a->n);
            msn_buf_putc(&key, '|');
            msn_buf_append(&key, b->p ? b->p : "", b->n);
            int is_new;
            uint32_t e = msn_an__map_intern(&pairfreq, key.data, key.len, &is_new);
            if (is_new) {
                AN_RESERVE(pf, pf_cap, (size_t)e + 1);
                pf[e] = 0;
            }
            pf[e]++;
        }
        /* per observer reach */
        int32_t ob = msn_an__obs_observer(c, best);
        const char *oid = ob < 0 ? "" : msn_an__s(s->observers[ob].id);
        size_t oidn = strlen(oid);
        int is_new;
        uint32_t oe = msn_an__map_intern(&ids, oid, oidn, &is_new);
        if (is_new) {
            AN_RESERVE(id_name, idn_cap, (size_t)oe + 1);
            id_name[oe] = NULL;
        }
        if (oidn > 0)
            id_name[oe] = ob < 0 ? "" : msn_an__s(s->observers[ob].name);
        for (int i = 0; i < n; i++) {
            int64_t dist = n - i;
            msn_buf_reset(&key);
            msn_buf_append(&key, oid, oidn);
            msn_buf_putc(&key, 0);
            msn_buf_append(&key, hops.h[i].p ? hops.h[i].p : "", hops.h[i].n);
            uint32_t e = msn_an__map_intern(&reach, key.data, key.len, &is_new);
            if (is_new) {
                AN_RESERVE(rr, rr_cap, (size_t)e + 1);
                rr[e].min_dist = rr[e].max_dist = dist;
                rr[e].count = 0;
                rr[e].obs = oe;
                rr[e].hop = reach.keys[e] + oidn + 1;
                rr[e].hop_n = hops.h[i].n;
            }
            if (dist < rr[e].min_dist)
                rr[e].min_dist = dist;
            if (dist > rr[e].max_dist)
                rr[e].max_dist = dist;
            rr[e].count++;
        }
    }

    /* ---- merge hop prefixes naming one relay ---- */
    uint32_t nf = 0;
    freq_t *fl = msn_xmalloc((hopfreq.n ? hopfreq.n : 1) * sizeof(*fl));
    {
        int32_t *group = msn_xmalloc((s->n_nodes ? s->n_nodes : 1) * sizeof(int32_t));
        for (uint32_t i = 0; i < s->n_nodes; i++)
            group[i] = -1;
        for (uint32_t e = 0; e < hopfreq.n; e++) {
            int32_t node = unique_relay(&pm, hopfreq.keys[e], hopfreq.klen[e]);
            if (node < 0) {
                fl[nf++] = (freq_t){hopfreq.keys[e], hopfreq.klen[e], hf[e]};
                continue;
            }
            if (group[node] < 0) {
                group[node] = (int32_t)nf;
                fl[nf++] = (freq_t){hopfreq.keys[e], hopfreq.klen[e], hf[e]};
            } else {
                freq_t *g = &fl[group[node]];
                g->count += hf[e];
                if (hopfreq.klen[e] > g->n) {
                    g->hop = hopfreq.keys[e];
                    g->n = hopfreq.klen[e];
                }
            }
        }
        free(group);
    }
    msn_an__qsort(fl, nf, sizeof(*fl), freq_cmp);

    /* ---- merge pairs whose both prefixes name one relay ---- */
    uint32_t np = 0;
    typedef struct {
        const char *a, *b;
        uint32_t an, bn;
        int64_t count;
        int32_t na, nb; /* merged pair nodes, -1 for ambiguous pairs */
    } pair_t;
    pair_t *pl = msn_xmalloc((pairfreq.n ? pairfreq.n : 1) * sizeof(*pl));
    {
        an_map_t byp; /* merged pairs: (node, node) -> group */
        msn_an__map_init(&byp);
        uint32_t *gslot = NULL; /* group -> index in pl */
        size_t gslot_cap = 0;
        for (uint32_t e = 0; e < pairfreq.n; e++) {
            const char *p = pairfreq.keys[e];
            const char *bar = memchr(p, '|', pairfreq.klen[e]);
            const char *a = p, *b = bar + 1;
            uint32_t an = (uint32_t)(bar - p), bn = pairfreq.klen[e] - an - 1;
            int32_t na = unique_relay(&pm, a, an), nb = unique_relay(&pm, b, bn);
            if (na < 0 || nb < 0) {
                pl[np++] = (pair_t){a, b, an, bn, pf[e], -1, -1};
                continue;
            }
            if (strcasecmp(s->nodes[na].public_key, s->nodes[nb].public_key) > 0) {
                int32_t tn = na;
                na = nb;
                nb = tn;
                const char *ta = a;
                a = b;
                b = ta;
                uint32_t tl = an;
                an = bn;
                bn = tl;
            }
            int32_t kk[2] = {na, nb};
            int is_new;
            uint32_t g = msn_an__map_intern(&byp, kk, sizeof(kk), &is_new);
            if (is_new) {
                AN_RESERVE(gslot, gslot_cap, (size_t)g + 1);
                gslot[g] = np;
                pl[np++] = (pair_t){a, b, an, bn, pf[e], na, nb};
                continue;
            }
            pair_t *gp = &pl[gslot[g]];
            gp->count += pf[e];
            if (an > gp->an) {
                gp->a = a;
                gp->an = an;
            }
            if (bn > gp->bn) {
                gp->b = b;
                gp->bn = bn;
            }
        }
        msn_an__map_free(&byp);
        free(gslot);
        for (uint32_t q = 0; q < np; q++)
            if (pl[q].na >= 0 && bytes_cmp(pl[q].a, pl[q].an, pl[q].b, pl[q].bn) > 0) {
                const char *t = pl[q].a;
                pl[q].a = pl[q].b;
                pl[q].b = t;
                uint32_t tl = pl[q].an;
                pl[q].an = pl[q].bn;
                pl[q].bn = tl;
            }
    }
    /* rank pairs by count, then by their "a|b" text */
    freq_t *pr = msn_xmalloc((np ? np : 1) * sizeof(*pr));
    msn_buf_t ptext = MSN_BUF_INIT;
    size_t *poff = msn_xmalloc((np ? np : 1) * sizeof(size_t));
    for (uint32_t q = 0; q < np; q++) {
        poff[q] = ptext.len;
        msn_buf_append(&ptext, pl[q].a, pl[q].an);
        msn_buf_putc(&ptext, '|');
        msn_buf_append(&ptext, pl[q].b, pl[q].bn);
    }
    for (uint32_t q = 0; q < np; q++)
        pr[q] = (freq_t){ptext.data + poff[q], (uint32_t)((q + 1 < np ? poff[q + 1] : ptext.len) - poff[q]),
                         pl[q].count};
    msn_an__qsort(pr, np, sizeof(*pr), freq_cmp);

    /* ---- output ---- */
    msn_buf_puts(out, "{\"avgHops\":");
    msn_json_double(out, n_paths ? (double)sum_hops / (double)n_paths : 0.0);

    /* reach entries sorted by hop then distance: best path per hop and multi-observer hops */
    uint32_t nr = reach.n;
    rsort_t rsx = {rr, &ids, 1};
    rref_t *byhop = msn_xmalloc((nr ? nr : 1) * sizeof(*byhop));
    for (uint32_t e = 0; e < nr; e++)
        byhop[e] = (rref_t){e, &rsx};
    msn_an__qsort(byhop, nr, sizeof(*byhop), rref_cmp);
    typedef struct {
        uint32_t first, n; /* range in byhop */
    } hopgrp_t;
    hopgrp_t *hg = msn_xmalloc((nr ? nr : 1) * sizeof(*hg));
    uint32_t nhg = 0;
    for (uint32_t i = 0; i < nr;) {
        uint32_t j = i + 1;
        const reach_t *a = &rr[byhop[i].idx];
        while (j < nr && bytes_cmp(a->hop, a->hop_n, rr[byhop[j].idx].hop, rr[byhop[j].idx].hop_n) == 0)
            j++;
        hg[nhg++] = (hopgrp_t){i, j - i};
        i = j;
    }
    /* best path list: the closest observer of each hop (groups are already sorted by hop,
     * and within a hop by distance then observer id); order by distance, then hop */
    uint32_t *bp = msn_xmalloc((nhg ? nhg : 1) * sizeof(uint32_t));
    for (uint32_t g = 0; g < nhg; g++)
        bp[g] = g;
    /* stable insertion by min distance keeps hop order for ties */
    {
        int64_t maxd = 0;
        for (uint32_t g = 0; g < nhg; g++)
            if (rr[byhop[hg[g].first].idx].min_dist > maxd)
                maxd = rr[byhop[hg[g].first].idx].min_dist;
        /* counting sort by distance (distances are hop counts) */
        int64_t *cnt = msn_xcalloc((size_t)maxd + 2, sizeof(int64_t));
        for (uint32_t g = 0; g < nhg; g++)
            cnt[rr[byhop[hg[g].first].idx].min_dist + 1]++;
        for (int64_t d = 1; d <= maxd + 1; d++)
            cnt[d] += cnt[d - 1];
        for (uint32_t g = 0; g < nhg; g++)
            bp[cnt[rr[byhop[hg[g].first].idx].min_dist]++] = g;
        free(cnt);
    }
    msn_buf_puts(out, ",\"bestPathList\":[");
    for (uint32_t i = 0; i < nhg && i < 50; i++) {
        const reach_t *e = &rr[byhop[hg[bp[i]].first].idx];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"hop\":");
        msn_an__strn(out, e->hop, e->hop_n);
        msn_buf_puts(out, ",\"minDist\":");
        msn_buf_put_i64(out, e->min_dist);
        int32_t node = resolve(&rs, e->hop, e->hop_n);
        msn_buf_puts(out, ",\"name\":");
        if (node < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[node].name);
        msn_buf_puts(out, ",\"observer_id\":");
        msn_an__strn(out, ids.keys[e->obs], ids.klen[e->obs]);
        msn_buf_puts(out, ",\"observer_name\":");
        const char *on = id_name[e->obs];
        if (on == NULL || on[0] == 0)
            msn_an__strn(out, ids.keys[e->obs], ids.klen[e->obs]);
        else
            msn_an__str(out, on);
        msn_buf_puts(out, ",\"pubkey\":");
        if (node < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[node].public_key);
        msn_buf_putc(out, '}');
    }
    free(bp);

    msn_buf_puts(out, "],\"hopDistribution\":[");
    int first = 1;
    for (int h = 0; h <= max_hops && h <= 25; h++) {
        if (hop_counts == NULL || hop_counts[h] == 0)
            continue;
        if (!first)
            msn_buf_putc(out, ',');
        first = 0;
        msn_buf_puts(out, "{\"count\":");
        msn_buf_put_i64(out, hop_counts[h]);
        msn_buf_puts(out, ",\"hops\":");
        msn_buf_put_i64(out, h);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "],\"hopsVsSnr\":[");
    first = 1;
    for (int h = 0; h <= max_hops && h <= 20; h++) {
        if (snr_n == NULL || snr_n[h] == 0)
            continue;
        if (!first)
            msn_buf_putc(out, ',');
        first = 0;
        msn_buf_puts(out, "{\"avgSnr\":");
        msn_json_double(out, snr_sum[h] / (double)snr_n[h]);
        msn_buf_puts(out, ",\"count\":");
        msn_buf_put_i64(out, snr_n[h]);
        msn_buf_puts(out, ",\"hops\":");
        msn_buf_put_i64(out, h);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "],\"maxHops\":");
    msn_buf_put_i64(out, max_hops);
    int64_t median = 0;
    if (n_paths > 0) {
        int64_t want = n_paths / 2, pos = 0;
        for (int h = 0; h <= max_hops; h++) {
            if (want < pos + hop_counts[h]) {
                median = h;
                break;
            }
            pos += hop_counts[h];
        }
    }
    msn_buf_puts(out, ",\"medianHops\":");
    msn_buf_put_i64(out, median);

    /* multi-observer hops: hops heard by more than one observer, most observers first */
    uint32_t *mo = msn_xmalloc((nhg ? nhg : 1) * sizeof(uint32_t));
    uint32_t nmo = 0;
    for (uint32_t g = 0; g < nhg; g++)
        if (hg[g].n > 1)
            mo[nmo++] = g;
    {
        /* stable by observer count descending (groups are in hop order) */
        uint32_t maxn = 0;
        for (uint32_t q = 0; q < nmo; q++)
            if (hg[mo[q]].n > maxn)
                maxn = hg[mo[q]].n;
        uint32_t *cnt = msn_xcalloc((size_t)maxn + 2, sizeof(uint32_t));
        for (uint32_t q = 0; q < nmo; q++)
            cnt[maxn - hg[mo[q]].n + 1]++;
        for (uint32_t d = 1; d <= maxn + 1; d++)
            cnt[d] += cnt[d - 1];
        uint32_t *sorted = msn_xmalloc((nmo ? nmo : 1) * sizeof(uint32_t));
        for (uint32_t q = 0; q < nmo; q++)
            sorted[cnt[maxn - hg[mo[q]].n]++] = mo[q];
        free(cnt);
        free(mo);
        mo = sorted;
    }
    msn_buf_puts(out, ",\"multiObsNodes\":[");
    for (uint32_t q = 0; q < nmo && q < 50; q++) {
        const hopgrp_t *g = &hg[mo[q]];
        const reach_t *h0 = &rr[byhop[g->first].idx];
        if (q)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"hop\":");
        msn_an__strn(out, h0->hop, h0->hop_n);
        int32_t node = resolve(&rs, h0->hop, h0->hop_n);
        msn_buf_puts(out, ",\"name\":");
        if (node < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[node].name);
        msn_buf_puts(out, ",\"observers\":[");
        for (uint32_t i = 0; i < g->n; i++) {
            const reach_t *e = &rr[byhop[g->first + i].idx];
            if (i)
                msn_buf_putc(out, ',');
            msn_buf_puts(out, "{\"count\":");
            msn_buf_put_i64(out, e->count);
            msn_buf_puts(out, ",\"minDist\":");
            msn_buf_put_i64(out, e->min_dist);
            msn_buf_puts(out, ",\"observer_id\":");
            msn_an__strn(out, ids.keys[e->obs], ids.klen[e->obs]);
            msn_buf_puts(out, ",\"observer_name\":");
            const char *on = id_name[e->obs];
            if (on == NULL || on[0] == 0)
                msn_an__strn(out, ids.keys[e->obs], ids.klen[e->obs]);
            else
                msn_an__str(out, on);
            msn_buf_putc(out, '}');
        }
        msn_buf_puts(out, "],\"pubkey\":");
        if (node < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[node].public_key);
        msn_buf_putc(out, '}');
    }
    free(mo);
    free(hg);
    free(byhop);

    /* observers: ids with a name entry, sorted by id */
    uint32_t *ido = msn_an__map_sorted(&ids);
    msn_buf_puts(out, "],\"observers\":[");
    first = 1;
    for (uint32_t i = 0; i < ids.n; i++) {
        uint32_t e = ido[i];
        if (id_name[e] == NULL)
            continue;
        if (!first)
            msn_buf_putc(out, ',');
        first = 0;
        msn_buf_puts(out, "{\"id\":");
        msn_an__strn(out, ids.keys[e], ids.klen[e]);
        msn_buf_puts(out, ",\"name\":");
        if (id_name[e][0] == 0)
            msn_an__strn(out, ids.keys[e], ids.klen[e]);
        else
            msn_an__str(out, id_name[e]);
        msn_buf_putc(out, '}');
    }

    /* per observer reach rings (distance <= 15) */
    msn_buf_puts(out, "],\"perObserverReach\":{");
    rsort_t rso = {rr, &ids, 0};
    rref_t *byobs = msn_xmalloc((nr ? nr : 1) * sizeof(*byobs));
    for (uint32_t e = 0; e < nr; e++)
        byobs[e] = (rref_t){e, &rso};
    msn_an__qsort(byobs, nr, sizeof(*byobs), rref_cmp);
    uint32_t i = 0;
    for (uint32_t oi = 0; oi < ids.n; oi++) {
        uint32_t o = ido[oi];
        if (oi)
            msn_buf_putc(out, ',');
        msn_an__strn(out, ids.keys[o], ids.klen[o]);
        msn_buf_puts(out, ":{\"observer_name\":");
        if (id_name[o] == NULL || id_name[o][0] == 0)
            msn_an__strn(out, ids.keys[o], ids.klen[o]);
        else
            msn_an__str(out, id_name[o]);
        msn_buf_puts(out, ",\"rings\":[");
        int64_t ring = -1;
        int ring_first = 1;
        while (i < nr && rr[byobs[i].idx].obs == o) {
            const reach_t *e = &rr[byobs[i].idx];
            i++;
            if (e->min_dist > 15)
                continue;
            if (e->min_dist != ring) {
                if (ring >= 0)
                    msn_buf_puts(out, "]},");
                ring = e->min_dist;
                msn_buf_puts(out, "{\"hops\":");
                msn_buf_put_i64(out, ring);
                msn_buf_puts(out, ",\"nodes\":[");
                ring_first = 1;
            }
            if (!ring_first)
                msn_buf_putc(out, ',');
            ring_first = 0;
            msn_buf_puts(out, "{\"count\":");
            msn_buf_put_i64(out, e->count);
            msn_buf_puts(out, ",\"distRange\":");
            if (e->min_dist != e->max_dist)
                msn_buf_printf(out, "\"%lld-%lld\"", (long long)e->min_dist, (long long)e->max_dist);
            else
                msn_buf_puts(out, "null");
            msn_buf_puts(out, ",\"hop\":");
            msn_an__strn(out, e->hop, e->hop_n);
            int32_t node = resolve(&rs, e->hop, e->hop_n);
            emit_ref(out, s, node, "name", "pubkey");
            msn_buf_putc(out, '}');
        }
        if (ring >= 0)
            msn_buf_puts(out, "]}");
        msn_buf_puts(out, "]}");
    }
    free(byobs);
    free(ido);

    msn_buf_puts(out, "},\"topPairs\":[");
    for (uint32_t q = 0; q < np && q < 15; q++) {
        const char *bar = memchr(pr[q].hop, '|', pr[q].n);
        const char *a = pr[q].hop, *b = bar + 1;
        size_t an = (size_t)(bar - a), bn = pr[q].n - an - 1;
        if (q)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"count\":");
        msn_buf_put_i64(out, pr[q].count);
        msn_buf_puts(out, ",\"hopA\":");
        msn_an__strn(out, a, an);
        msn_buf_puts(out, ",\"hopB\":");
        msn_an__strn(out, b, bn);
        int32_t ra = resolve(&rs, a, an), rb = resolve(&rs, b, bn);
        msn_buf_puts(out, ",\"nameA\":");
        if (ra < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[ra].name);
        msn_buf_puts(out, ",\"nameB\":");
        if (rb < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[rb].name);
        msn_buf_puts(out, ",\"pubkeyA\":");
        if (ra < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[ra].public_key);
        msn_buf_puts(out, ",\"pubkeyB\":");
        if (rb < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[rb].public_key);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "],\"topRepeaters\":[");
    for (uint32_t q = 0; q < nf && q < 20; q++) {
        if (q)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"count\":");
        msn_buf_put_i64(out, fl[q].count);
        msn_buf_puts(out, ",\"hop\":");
        msn_an__strn(out, fl[q].hop, fl[q].n);
        int32_t node = resolve(&rs, fl[q].hop, fl[q].n);
        emit_ref(out, s, node, "name", "pubkey");
        msn_buf_putc(out, '}');
    }
    int64_t active = 0;
    for (uint32_t q = 0; q < s->n_nodes; q++)
        if (s->nodes[q].last_seen_ms >= c->now_ms - 7 * 86400000LL)
            active++;
    msn_buf_puts(out, "],\"uniqueNodes\":");
    msn_buf_put_i64(out, active);
    msn_buf_putc(out, '}');

    free(pr);
    free(poff);
    msn_buf_free(&ptext);
    free(pl);
    free(fl);
    free(txs);
    free(hops.h);
    msn_buf_free(&scratch);
    msn_buf_free(&key);
    free(hop_counts);
    free(snr_n);
    free(snr_sum);
    free(hf);
    free(pf);
    free(id_name);
    free(rr);
    msn_an__map_free(&hopfreq);
    msn_an__map_free(&pairfreq);
    msn_an__map_free(&ids);
    msn_an__map_free(&reach);
    msn_an__map_free(&rs.cache);
    free(rs.res);
    msn_an__pm_free(&pm);
    return 0;
}
