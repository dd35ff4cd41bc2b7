/*
 * distance.c: /api/analytics/distance (CoreScope buildDistanceIndex +
 * computeAnalyticsDistance).
 *
 * For every transmission (with a region: heard by one of its observers; CoreScope's
 * distance endpoint takes no time window) the best observation's hops are resolved to
 * relay nodes with that transmission's own context (sender, observer, unambiguous hops).
 * The chain is the sender (an advert's pubKey, any role) followed by the resolved hops,
 * keeping only nodes with a position. Each consecutive pair of the chain is one hop
 * record: its great-circle distance (haversine, R = 6371 km, rounded to 0.01 km; pairs
 * farther than 300 km are dropped as implausible) and its category: R↔R when both ends
 * are repeaters, C↔C when neither is, C↔R otherwise. A transmission with at least one
 * record is one path record (total distance, hop count).
 *
 * Output: summary, the 20 longest node pairs (deduplicated per unordered pair), the 20
 * longest paths, per-category count/avg/median/min/max, a 25-bin histogram (`[]` without
 * data, as CoreScope emits), and the mean distance per hour of first_seen. Ties keep
 * transmission order.
 *
 * A pair's bestSnr and medianSnr (CoreScope dedupeHopsByPair) come from its hop records:
 * each carries the SNR of its transmission's best observation (CoreScope's tx.SNR, the
 * observation whose path the record was made from), and the pair gets the largest and the
 * median of those that have one. They are null exactly when none of the pair's records
 * has an SNR, as CoreScope's floatPtrOrNil gives null then (its fixture database has no
 * SNR at all, so there every pair is null in both).
 *
 * Phases: collect (one pass: hop and path records), merge (categories, hours, node
 * pairs), rank (the 20 longest pairs and paths), render.
 */
#include "an_int.h"

#include <math.h>
#include <string.h>

#include "shm/json.h"

enum { CAT_RR, CAT_CR, CAT_CC };
/* "R↔R", "C↔R", "C↔C": U+2194 is \342\206\224 in UTF-8 (octal escapes stop after three
 * digits, where a hex escape would swallow the letter after it) */
static const char *const cat_name[3] = {"R\342\206\224R", "C\342\206\224R", "C\342\206\224C"};

typedef struct {
    uint32_t tx;
    int32_t a, b;
    double dist; /* rounded to 0.01 */
    uint8_t cat;
} dhop_t;

typedef struct {
    uint32_t tx;
    uint32_t first, n; /* hop records */
    double total;
} dpath_t;

/* A node pair (the value of the pair map, keyed by the two node indexes in key order). */
typedef struct {
    uint32_t best; /* its longest record */
    int64_t obs;   /* records */
    int has_snr;
    double max_snr;
} dpair_t;

typedef struct {
    double sum;
    int64_t n;
} hoursum_t;

typedef struct {
    uint32_t idx; /* pair entry */
    double dist;
} pref_t;

typedef struct {
    const an_ctx_t *c;
    const msn_store_t *s;
    msn_arena_t *a;
    an_pm_t pm;
    uint8_t *rep; /* per node: its role names a repeater */
    /* collect */
    an_rctx_t rc; /* the current transmission's context */
    msn_jsonr_obj_t jo;
    msn_buf_t *scratch;
    int32_t *chain;
    size_t chain_cap;
    dhop_t *hr; /* hop records, in transmission order */
    size_t n_hr, hr_cap;
    dpath_t *pr; /* path records */
    size_t n_pr, pr_cap;
    /* merge */
    double *cat_d[3];
    size_t cat_n[3], cat_cap[3];
    double cat_sum[3];
    double all_sum, all_min, all_max;
    an_map_t hours; /* hour -> hoursum_t */
    an_map_t pairs; /* (node, node) -> dpair_t */
    uint32_t *rec_pair; /* per record: its pair entry */
    /* rank */
    pref_t *top; /* the longest pairs */
    size_t n_top;
    size_t n_top_paths; /* pr is ranked: the first n_top_paths are the longest */
} dist_t;

/* ---- collect ------------------------------------------------------------------------------ */

/* The positioned nodes of t's path: its sender (an advert's pubKey), then its resolved
 * hops. Returns their count (in j->chain). */
static size_t chain_of(dist_t *j, const msn_tx_t *t, const an_hops_t *hops)
{
    size_t nc = 0;
    AN_GROW(j->a, j->chain, j->chain_cap, (size_t)hops->n + 1);
    msn_an__rctx_reset(&j->rc);
    msn_an__rctx_tx(j->c, &j->pm, &j->rc, NULL, t, hops, &j->jo, j->scratch);
    msn_an__rctx_finish(&j->rc);
    const char *dj = t->decoded_json;
    if (dj != NULL && strstr(dj, "\"pubKey\"") != NULL) {
        msn_jsonr_obj_parse(&j->jo, dj, strlen(dj));
        size_t pkn;
        const char *pk = msn_jsonr_obj_str(&j->jo, "pubKey", j->scratch, &pkn);
        int32_t nd = pk != NULL && pkn > 0 ? msn_an__node_find(j->c, pk, pkn) : -1;
        if (nd >= 0 && j->pm.gps[nd])
            j->chain[nc++] = nd;
    }
    for (int i = 0; i < hops->n; i++) {
        int32_t nd = msn_an__pm_resolve(&j->pm, hops->h[i].p, hops->h[i].n, &j->rc);
        if (nd >= 0 && j->pm.gps[nd])
            j->chain[nc++] = nd;
    }
    return nc;
}

/* The hop records of a chain (pairs within 300 km), and its path record when it has any. */
static void add_records(dist_t *j, uint32_t ti, size_t nc)
{
    size_t first = j->n_hr;
    double total = 0;
    for (size_t i = 0; i + 1 < nc; i++) {
        int32_t na = j->chain[i], nb = j->chain[i + 1];
        const msn_node_t *a = &j->s->nodes[na], *b = &j->s->nodes[nb];
        double d = msn_an__haversine_km(a->lat, a->lon, b->lat, b->lon);
        if (!(d <= 300))
            continue;
        AN_GROW(j->a, j->hr, j->hr_cap, j->n_hr + 1);
        int ra = j->rep[na], rb = j->rep[nb];
        uint8_t cat = (uint8_t)(ra && rb ? CAT_RR : (!ra && !rb ? CAT_CC : CAT_CR));
        j->hr[j->n_hr++] = (dhop_t){ti, na, nb, msn_an__round_half(d, 2), cat};
        total += d;
    }
    if (j->n_hr == first)
        return;
    AN_GROW(j->a, j->pr, j->pr_cap, j->n_pr + 1);
    j->pr[j->n_pr++] = (dpath_t){ti, (uint32_t)first, (uint32_t)(j->n_hr - first), msn_an__round_half(total, 2)};
}

static void collect(dist_t *j)
{
    const msn_store_t *s = j->s;
    an_hops_t hops;
    msn_an__hops_init(&hops, j->c);
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        int n = msn_an__tx_hops(&hops, s, t);
        if (n == 0 || !msn_an__tx_in_region(j->c, t))
            continue;
        size_t nc = chain_of(j, t, &hops);
        if (nc >= 2)
            add_records(j, ti, nc);
    }
}

/* ---- merge -------------------------------------------------------------------------------- */

/* Distances per category and per hour of first_seen, in record order. */
static void merge_categories(dist_t *j)
{
    for (size_t i = 0; i < j->n_hr; i++) {
        const dhop_t *h = &j->hr[i];
        AN_GROW(j->a, j->cat_d[h->cat], j->cat_cap[h->cat], j->cat_n[h->cat] + 1);
        j->cat_d[h->cat][j->cat_n[h->cat]++] = h->dist;
        j->cat_sum[h->cat] += h->dist;
        j->all_sum += h->dist;
        if (i == 0 || h->dist < j->all_min)
            j->all_min = h->dist;
        if (i == 0 || h->dist > j->all_max)
            j->all_max = h->dist;
        char hk[16];
        if (msn_an__hour_of_tx(&j->s->tx[h->tx], hk)) {
            hoursum_t *hs = msn_an__map_val(&j->hours, msn_an__map_intern(&j->hours, hk, 13, NULL));
            hs->sum += h->dist;
            hs->n++;
        }
    }
}

/* Records per unordered node pair: the longest, how many, the best SNR. */
static void merge_pairs(dist_t *j)
{
    const msn_store_t *s = j->s;
    j->rec_pair = AN_ARRAY(j->a, uint32_t, j->n_hr);
    for (size_t i = 0; i < j->n_hr; i++) {
        const dhop_t *h = &j->hr[i];
        int32_t k[2] = {h->a, h->b};
        if (strcmp(s->nodes[h->a].public_key, s->nodes[h->b].public_key) > 0) {
            k[0] = h->b;
            k[1] = h->a;
        }
        int is_new;
        uint32_t e = msn_an__map_intern(&j->pairs, k, sizeof(k), &is_new);
        dpair_t *p = msn_an__map_val(&j->pairs, e);
        j->rec_pair[i] = e;
        if (is_new)
            p->best = (uint32_t)i;
        p->obs++;
        const msn_obs_t *bo = &s->obs[s->tx[h->tx].best];
        if (bo->has_snr) {
            if (!p->has_snr || bo->snr > p->max_snr)
                p->max_snr = bo->snr;
            p->has_snr = 1;
        }
        if (h->dist > j->hr[p->best].dist)
            p->best = (uint32_t)i;
    }
}

/* ---- rank --------------------------------------------------------------------------------- */

static int cmp_pref(const void *a, const void *b)
{
    const pref_t *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist > y->dist ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_path(const void *a, const void *b)
{
    const dpath_t *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return x->tx < y->tx ? -1 : x->tx > y->tx;
}

static void rank(dist_t *j)
{
    an_topn_t t;
    msn_an__topn_init(&t, j->a, 20, sizeof(pref_t), cmp_pref);
    for (uint32_t e = 0; e < j->pairs.n; e++) {
        const dpair_t *p = msn_an__map_val(&j->pairs, e);
        pref_t r = {e, j->hr[p->best].dist};
        msn_an__topn_push(&t, &r);
    }
    j->n_top = msn_an__topn_sort(&t);
    j->top = (pref_t *)(void *)t.h;
    j->n_top_paths = msn_an__top(j->a, j->pr, j->n_pr, sizeof(dpath_t), 20, cmp_path);
}

/* ---- render ------------------------------------------------------------------------------- */

static void render_categories(dist_t *j, msn_buf_t *out)
{
    static const int cat_order[3] = {CAT_CC, CAT_CR, CAT_RR}; /* key order */
    msn_an__open(out, "catStats", '{');
    for (int q = 0; q < 3; q++) {
        int k = cat_order[q];
        size_t n = j->cat_n[k];
        msn_an__kdyn(out, cat_name[k], strlen(cat_name[k]));
        if (n == 0) {
            msn_buf_puts(out, "{\"avg\":0,\"count\":0,\"max\":0,\"median\":0,\"min\":0}");
            continue;
        }
        double mn = j->cat_d[k][0], mx = j->cat_d[k][0];
        for (size_t i = 1; i < n; i++) {
            if (j->cat_d[k][i] < mn)
                mn = j->cat_d[k][i];
            if (j->cat_d[k][i] > mx)
                mx = j->cat_d[k][i];
        }
        msn_buf_putc(out, '{');
        msn_an__kdbl(out, "avg", msn_an__round_half(j->cat_sum[k] / (double)n, 2));
        msn_an__ki64(out, "count", (int64_t)n);
        msn_an__kdbl(out, "max", msn_an__round_half(mx, 2));
        msn_an__kdbl(out, "median", msn_an__round_half(msn_an__upper_median(j->cat_d[k], n), 2));
        msn_an__kdbl(out, "min", msn_an__round_half(mn, 2));
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, '}');
}

static void render_histogram(dist_t *j, msn_buf_t *out)
{
    msn_an__key(out, "distHistogram");
    if (j->n_hr == 0) {
        msn_buf_puts(out, "[]");
        return;
    }
    double w = (j->all_max - j->all_min) / 25;
    if (w == 0)
        w = 1;
    int64_t bins[25] = {0};
    for (size_t i = 0; i < j->n_hr; i++) {
        int idx = (int)floor((j->hr[i].dist - j->all_min) / w);
        bins[idx >= 25 ? 24 : (idx < 0 ? 0 : idx)]++;
    }
    msn_buf_putc(out, '{');
    msn_an__open(out, "bins", '[');
    for (int i = 0; i < 25; i++) {
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "count", bins[i]);
        msn_an__kdbl(out, "w", msn_an__round_half(w, 1));
        msn_an__kdbl(out, "x", msn_an__round_half(j->all_min + (double)i * w, 1));
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__kdbl(out, "max", j->all_max);
    msn_an__kdbl(out, "min", j->all_min);
    msn_buf_putc(out, '}');
}

static void render_hours_summary(dist_t *j, msn_buf_t *out)
{
    msn_an__open(out, "distOverTime", '[');
    uint32_t *ho = msn_an__map_sorted(&j->hours);
    for (uint32_t i = 0; i < j->hours.n; i++) {
        const hoursum_t *h = msn_an__map_val(&j->hours, ho[i]);
        msn_an__open(out, NULL, '{');
        msn_an__kdbl(out, "avg", msn_an__round_half(h->sum / (double)h->n, 2));
        msn_an__ki64(out, "count", h->n);
        msn_an__kstrn(out, "hour", j->hours.keys[ho[i]], j->hours.klen[ho[i]]);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__open(out, "summary", '{');
    msn_an__kdbl(out, "avgDist", j->n_hr ? msn_an__round_half(j->all_sum / (double)j->n_hr, 2) : 0.0);
    msn_an__kdbl(out, "maxDist", j->n_hr ? msn_an__round_half(j->all_max, 2) : 0.0);
    msn_an__ki64(out, "totalHops", (int64_t)j->n_hr);
    msn_an__ki64(out, "totalPaths", (int64_t)j->n_pr);
    msn_buf_putc(out, '}');
}

/* The SNRs of the best observations of each top pair's records (one pass). */
static double **top_snrs(dist_t *j, size_t **n_out)
{
    double **snrs = AN_ARRAY(j->a, double *, j->n_top);
    size_t *n = AN_ARRAY(j->a, size_t, j->n_top), *cap = AN_ARRAY(j->a, size_t, j->n_top);
    int32_t *slot = AN_ARRAY(j->a, int32_t, j->pairs.n);
    for (uint32_t e = 0; e < j->pairs.n; e++)
        slot[e] = -1;
    for (size_t q = 0; q < j->n_top; q++)
        slot[j->top[q].idx] = (int32_t)q;
    for (size_t i = 0; i < j->n_hr; i++) {
        int32_t q = slot[j->rec_pair[i]];
        const msn_obs_t *bo = &j->s->obs[j->s->tx[j->hr[i].tx].best];
        if (q < 0 || !bo->has_snr)
            continue;
        AN_GROW(j->a, snrs[q], cap[q], n[q] + 1);
        snrs[q][n[q]++] = bo->snr;
    }
    *n_out = n;
    return snrs;
}

static void render_hop_ends(msn_buf_t *out, const msn_store_t *s, const dhop_t *h)
{
    msn_an__kstr(out, "fromName", s->nodes[h->a].name);
    msn_an__kstr(out, "fromPk", s->nodes[h->a].public_key);
}

static void render_top_hops(dist_t *j, msn_buf_t *out)
{
    const msn_store_t *s = j->s;
    size_t *ns;
    double **snrs = top_snrs(j, &ns);
    msn_an__open(out, "topHops", '[');
    for (size_t q = 0; q < j->n_top; q++) {
        const dpair_t *p = msn_an__map_val(&j->pairs, j->top[q].idx);
        const dhop_t *h = &j->hr[p->best];
        msn_an__open(out, NULL, '{');
        if (p->has_snr)
            msn_an__kdbl(out, "bestSnr", p->max_snr);
        else
            msn_an__knull(out, "bestSnr");
        msn_an__kdbl(out, "dist", h->dist);
        render_hop_ends(out, s, h);
        msn_an__kstr(out, "hash", s->tx[h->tx].hash);
        if (ns[q] > 0)
            msn_an__kdbl(out, "medianSnr", msn_an__median(snrs[q], ns[q]));
        else
            msn_an__knull(out, "medianSnr");
        msn_an__ki64(out, "obsCount", p->obs);
        msn_an__kstr(out, "timestamp", s->tx[h->tx].first_seen);
        msn_an__kstr(out, "toName", s->nodes[h->b].name);
        msn_an__kstr(out, "toPk", s->nodes[h->b].public_key);
        msn_an__kstr(out, "type", cat_name[h->cat]);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_top_paths(dist_t *j, msn_buf_t *out)
{
    const msn_store_t *s = j->s;
    msn_an__open(out, "topPaths", '[');
    for (size_t q = 0; q < j->n_top_paths; q++) {
        const dpath_t *p = &j->pr[q];
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "hash", s->tx[p->tx].hash);
        msn_an__ki64(out, "hopCount", p->n);
        msn_an__open(out, "hops", '[');
        for (uint32_t i = 0; i < p->n; i++) {
            const dhop_t *h = &j->hr[p->first + i];
            msn_an__open(out, NULL, '{');
            msn_an__kdbl(out, "dist", h->dist);
            render_hop_ends(out, s, h);
            msn_an__kstr(out, "toName", s->nodes[h->b].name);
            msn_an__kstr(out, "toPk", s->nodes[h->b].public_key);
            msn_buf_putc(out, '}');
        }
        msn_buf_putc(out, ']');
        msn_an__kstr(out, "timestamp", s->tx[p->tx].first_seen);
        msn_an__kdbl(out, "totalDist", p->total);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render(dist_t *j, msn_buf_t *out)
{
    msn_buf_putc(out, '{');
    render_categories(j, out);
    render_histogram(j, out);
    render_hours_summary(j, out);
    render_top_hops(j, out);
    render_top_paths(j, out);
    msn_buf_putc(out, '}');
}

int msn_an__distance(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    dist_t *j = AN_NEW(c, dist_t);
    j->c = c;
    j->s = s;
    j->a = c->arena;
    msn_an__pm_init(&j->pm, c);
    j->rep = AN_ARRAY(j->a, uint8_t, s->n_nodes);
    for (uint32_t i = 0; i < s->n_nodes; i++)
        j->rep[i] = (uint8_t)msn_an__role_has(s->nodes[i].role, "repeater");
    j->scratch = msn_an__buf(c);
    msn_an__map_init(&j->hours, j->a, sizeof(hoursum_t));
    msn_an__map_init(&j->pairs, j->a, sizeof(dpair_t));
    collect(j);
    merge_categories(j);
    merge_pairs(j);
    rank(j);
    render(j, out);
    return 0;
}
