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
 * Output: summary, the 20 longest node pairs (deduplicated per unordered pair, with the
 * best and median SNR of the best observations), the 20 longest paths, per-category
 * count/avg/median/min/max, a 25-bin histogram (`[]` without data, as CoreScope emits),
 * and the mean distance per hour of first_seen. Ties keep transmission order.
 */
#include "an_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/json.h"

enum { CAT_RR, CAT_CR, CAT_CC };
static const char *const cat_name[3] = {"R\xe2\x86\x94R", "C\xe2\x86\x94R", "C\xe2\x86\x94"
                                                                             "C"};

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

typedef struct {
    uint32_t best; /* record index */
    int64_t obs;
    int has_snr;
    double max_snr;
} dpair_t;

static int cmp_path(const void *a, const void *b)
{
    const dpath_t *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return x->tx < y->tx ? -1 : x->tx > y->tx;
}

typedef struct {
    uint32_t idx;
    double dist;
} pref_t;

static int cmp_pref(const void *a, const void *b)
{
    const pref_t *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist > y->dist ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void emit_hop_ends(msn_buf_t *b, const msn_store_t *s, const dhop_t *h)
{
    msn_buf_puts(b, ",\"fromName\":");
    msn_an__str(b, s->nodes[h->a].name);
    msn_buf_puts(b, ",\"fromPk\":");
    msn_an__str(b, s->nodes[h->a].public_key);
    msn_buf_puts(b, ",\"toName\":");
    msn_an__str(b, s->nodes[h->b].name);
    msn_buf_puts(b, ",\"toPk\":");
    msn_an__str(b, s->nodes[h->b].public_key);
}

static int is_repeater(const char *role)
{
    if (role == NULL)
        return 0;
    for (const char *p = role; *p; p++)
        if (strncasecmp(p, "repeater", 8) == 0)
            return 1;
    return 0;
}

int msn_an__distance(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    an_pm_t pm;
    msn_an__pm_init(&pm, c);
    uint8_t *rep = msn_xcalloc(s->n_nodes ? s->n_nodes : 1, 1);
    for (uint32_t i = 0; i < s->n_nodes; i++)
        rep[i] = (uint8_t)is_repeater(s->nodes[i].role);
    an_hops_t hops = {0};
    an_jobj_t jo;
    msn_buf_t scratch = MSN_BUF_INIT;
    an_rctx_t rc;
    int32_t *chain = NULL;
    size_t chain_cap = 0;
    dhop_t *hr = NULL;
    size_t n_hr = 0, hr_cap = 0;
    dpath_t *pr = NULL;
    size_t n_pr = 0, pr_cap = 0;

    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        int n = msn_an__tx_hops(&hops, s, t);
        if (n == 0 || !msn_an__tx_in_region(c, t))
            continue;
        msn_an__rctx_reset(&rc);
        msn_an__rctx_tx(c, &pm, &rc, NULL, t, &hops, &jo, &scratch);
        msn_an__rctx_finish(&rc);
        AN_RESERVE(chain, chain_cap, (size_t)n + 1);
        size_t nc = 0;
        const char *dj = t->decoded_json;
        if (dj != NULL && strstr(dj, "\"pubKey\"") != NULL) {
            msn_an__jobj_parse(&jo, dj, strlen(dj));
            size_t pkn;
            const char *pk = msn_an__jobj_str(&jo, "pubKey", &scratch, &pkn);
            if (pk != NULL && pkn > 0) {
                int32_t nd = msn_an__node_find(c, pk, pkn);
                if (nd >= 0 && pm.gps[nd])
                    chain[nc++] = nd;
            }
        }
        for (int i = 0; i < n; i++) {
            int32_t nd = msn_an__pm_resolve(&pm, hops.h[i].p, hops.h[i].n, &rc);
            if (nd >= 0 && pm.gps[nd])
                chain[nc++] = nd;
        }
        if (nc < 2)
            continue;
        size_t first = n_hr;
        double total = 0;
        for (size_t i = 0; i + 1 < nc; i++) {
            const msn_node_t *a = &s->nodes[chain[i]], *b = &s->nodes[chain[i + 1]];
            double d = msn_an__haversine_km(a->lat, a->lon, b->lat, b->lon);
            if (!(d <= 300))
                continue;
            AN_RESERVE(hr, hr_cap, n_hr + 1);
            dhop_t *h = &hr[n_hr++];
            h->tx = ti;
            h->a = chain[i];
            h->b = chain[i + 1];
            h->dist = msn_an__round_half(d, 2);
            int ra = rep[chain[i]], rb = rep[chain[i + 1]];
            h->cat = (uint8_t)(ra && rb ? CAT_RR : (!ra && !rb ? CAT_CC : CAT_CR));
            total += d;
        }
        if (n_hr == first)
            continue;
        AN_RESERVE(pr, pr_cap, n_pr + 1);
        pr[n_pr].tx = ti;
        pr[n_pr].first = (uint32_t)first;
        pr[n_pr].n = (uint32_t)(n_hr - first);
        pr[n_pr].total = msn_an__round_half(total, 2);
        n_pr++;
    }

    /* categories and hours, in record order */
    double *cat_d[3] = {NULL, NULL, NULL};
    size_t cat_n[3] = {0, 0, 0}, cat_cap[3] = {0, 0, 0};
    double cat_sum[3] = {0, 0, 0};
    an_map_t hours;
    msn_an__map_init(&hours);
    double *h_sum = NULL;
    int64_t *h_n = NULL;
    size_t hs_cap = 0, hn_cap = 0;
    double all_sum = 0, all_min = 0, all_max = 0;
    for (size_t i = 0; i < n_hr; i++) {
        const dhop_t *h = &hr[i];
        AN_RESERVE(cat_d[h->cat], cat_cap[h->cat], cat_n[h->cat] + 1);
        cat_d[h->cat][cat_n[h->cat]++] = h->dist;
        cat_sum[h->cat] += h->dist;
        all_sum += h->dist;
        if (i == 0 || h->dist < all_min)
            all_min = h->dist;
        if (i == 0 || h->dist > all_max)
            all_max = h->dist;
        char hk[16];
        if (msn_an__hour_of_tx(&s->tx[h->tx], hk)) {
            int is_new;
            uint32_t e = msn_an__map_intern(&hours, hk, 13, &is_new);
            if (is_new) {
                AN_RESERVE(h_sum, hs_cap, (size_t)e + 1);
                AN_RESERVE(h_n, hn_cap, (size_t)e + 1);
                h_sum[e] = 0;
                h_n[e] = 0;
            }
            h_sum[e] += h->dist;
            h_n[e]++;
        }
    }

    /* node pairs (unordered), longest first */
    an_map_t pairs;
    msn_an__map_init(&pairs);
    dpair_t *pa = NULL;
    size_t pa_cap = 0;
    uint32_t *rec_pair = msn_xmalloc((n_hr ? n_hr : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n_hr; i++) {
        const dhop_t *h = &hr[i];
        int32_t k[2] = {h->a, h->b};
        if (strcmp(s->nodes[h->a].public_key, s->nodes[h->b].public_key) > 0) {
            k[0] = h->b;
            k[1] = h->a;
        }
        int is_new;
        uint32_t e = msn_an__map_intern(&pairs, k, sizeof(k), &is_new);
        rec_pair[i] = e;
        if (is_new) {
            AN_RESERVE(pa, pa_cap, (size_t)e + 1);
            memset(&pa[e], 0, sizeof(pa[e]));
            pa[e].best = (uint32_t)i;
        }
        pa[e].obs++;
        const msn_tx_t *t = &s->tx[h->tx];
        const msn_obs_t *bo = &s->obs[t->best];
        if (bo->has_snr) {
            if (!pa[e].has_snr || bo->snr > pa[e].max_snr)
                pa[e].max_snr = bo->snr;
            pa[e].has_snr = 1;
        }
        if (h->dist > hr[pa[e].best].dist)
            pa[e].best = (uint32_t)i;
    }
    pref_t *po = msn_xmalloc((pairs.n ? pairs.n : 1) * sizeof(*po));
    for (uint32_t e = 0; e < pairs.n; e++)
        po[e] = (pref_t){e, hr[pa[e].best].dist};
    msn_an__qsort(po, pairs.n, sizeof(*po), cmp_pref);

    /* ---- output ---- */
    static const int cat_order[3] = {CAT_CC, CAT_CR, CAT_RR}; /* key order */
    msn_buf_puts(out, "{\"catStats\":{");
    for (int q = 0; q < 3; q++) {
        int k = cat_order[q];
        if (q)
            msn_buf_putc(out, ',');
        msn_an__str(out, cat_name[k]);
        size_t n = cat_n[k];
        if (n == 0) {
            msn_buf_puts(out, ":{\"avg\":0,\"count\":0,\"max\":0,\"median\":0,\"min\":0}");
            continue;
        }
        double mn = cat_d[k][0], mx = cat_d[k][0];
        for (size_t i = 1; i < n; i++) {
            if (cat_d[k][i] < mn)
                mn = cat_d[k][i];
            if (cat_d[k][i] > mx)
                mx = cat_d[k][i];
        }
        double med = msn_an__select(cat_d[k], n, n / 2);
        msn_buf_puts(out, ":{\"avg\":");
        msn_json_double(out, msn_an__round_half(cat_sum[k] / (double)n, 2));
        msn_buf_puts(out, ",\"count\":");
        msn_buf_put_i64(out, (int64_t)n);
        msn_buf_puts(out, ",\"max\":");
        msn_json_double(out, msn_an__round_half(mx, 2));
        msn_buf_puts(out, ",\"median\":");
        msn_json_double(out, msn_an__round_half(med, 2));
        msn_buf_puts(out, ",\"min\":");
        msn_json_double(out, msn_an__round_half(mn, 2));
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "},\"distHistogram\":");
    if (n_hr == 0) {
        msn_buf_puts(out, "[]");
    } else {
        double w = (all_max - all_min) / 25;
        if (w == 0)
            w = 1;
        int64_t bins[25] = {0};
        for (size_t i = 0; i < n_hr; i++) {
            int idx = (int)floor((hr[i].dist - all_min) / w);
            if (idx >= 25)
                idx = 24;
            if (idx < 0)
                idx = 0;
            bins[idx]++;
        }
        msn_buf_puts(out, "{\"bins\":[");
        for (int i = 0; i < 25; i++) {
            if (i)
                msn_buf_putc(out, ',');
            msn_buf_puts(out, "{\"count\":");
            msn_buf_put_i64(out, bins[i]);
            msn_buf_puts(out, ",\"w\":");
            msn_json_double(out, msn_an__round_half(w, 1));
            msn_buf_puts(out, ",\"x\":");
            msn_json_double(out, msn_an__round_half(all_min + (double)i * w, 1));
            msn_buf_putc(out, '}');
        }
        msn_buf_puts(out, "],\"max\":");
        msn_json_double(out, all_max);
        msn_buf_puts(out, ",\"min\":");
        msn_json_double(out, all_min);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, ",\"distOverTime\":[");
    uint32_t *ho = msn_an__map_sorted(&hours);
    for (uint32_t i = 0; i < hours.n; i++) {
        uint32_t e = ho[i];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"avg\":");
        msn_json_double(out, msn_an__round_half(h_sum[e] / (double)h_n[e], 2));
        msn_buf_puts(out, ",\"count\":");
        msn_buf_put_i64(out, h_n[e]);
        msn_buf_puts(out, ",\"hour\":");
        msn_an__strn(out, hours.keys[e], hours.klen[e]);
        msn_buf_putc(out, '}');
    }
    free(ho);
    msn_buf_puts(out, "],\"summary\":{\"avgDist\":");
    msn_json_double(out, n_hr ? msn_an__round_half(all_sum / (double)n_hr, 2) : 0.0);
    msn_buf_puts(out, ",\"maxDist\":");
    msn_json_double(out, n_hr ? msn_an__round_half(all_max, 2) : 0.0);
    msn_buf_puts(out, ",\"totalHops\":");
    msn_buf_put_i64(out, (int64_t)n_hr);
    msn_buf_puts(out, ",\"totalPaths\":");
    msn_buf_put_i64(out, (int64_t)n_pr);
    msn_buf_puts(out, "},\"topHops\":[");
    double *snrs = NULL;
    size_t snr_cap = 0;
    for (uint32_t q = 0; q < pairs.n && q < 20; q++) {
        uint32_t e = po[q].idx;
        const dhop_t *h = &hr[pa[e].best];
        size_t ns = 0;
        for (size_t i = 0; i < n_hr; i++) {
            if (rec_pair[i] != e)
                continue;
            const msn_obs_t *bo = &s->obs[s->tx[hr[i].tx].best];
            if (bo->has_snr) {
                AN_RESERVE(snrs, snr_cap, ns + 1);
                snrs[ns++] = bo->snr;
            }
        }
        if (q)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"bestSnr\":");
        if (pa[e].has_snr)
            msn_json_double(out, pa[e].max_snr);
        else
            msn_buf_puts(out, "null");
        msn_buf_puts(out, ",\"dist\":");
        msn_json_double(out, h->dist);
        msn_buf_puts(out, ",\"fromName\":");
        msn_an__str(out, s->nodes[h->a].name);
        msn_buf_puts(out, ",\"fromPk\":");
        msn_an__str(out, s->nodes[h->a].public_key);
        msn_buf_puts(out, ",\"hash\":");
        msn_an__str(out, s->tx[h->tx].hash);
        msn_buf_puts(out, ",\"medianSnr\":");
        if (ns > 0)
            msn_json_double(out, msn_an__median(snrs, ns));
        else
            msn_buf_puts(out, "null");
        msn_buf_puts(out, ",\"obsCount\":");
        msn_buf_put_i64(out, pa[e].obs);
        msn_buf_puts(out, ",\"timestamp\":");
        msn_an__str(out, s->tx[h->tx].first_seen);
        msn_buf_puts(out, ",\"toName\":");
        msn_an__str(out, s->nodes[h->b].name);
        msn_buf_puts(out, ",\"toPk\":");
        msn_an__str(out, s->nodes[h->b].public_key);
        msn_buf_puts(out, ",\"type\":");
        msn_an__str(out, cat_name[h->cat]);
        msn_buf_putc(out, '}');
    }
    free(snrs);
    msn_buf_puts(out, "],\"topPaths\":[");
    msn_an__qsort(pr, n_pr, sizeof(*pr), cmp_path);
    for (size_t q = 0; q < n_pr && q < 20; q++) {
        const dpath_t *p = &pr[q];
        if (q)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"hash\":");
        msn_an__str(out, s->tx[p->tx].hash);
        msn_buf_puts(out, ",\"hopCount\":");
        msn_buf_put_i64(out, p->n);
        msn_buf_puts(out, ",\"hops\":[");
        for (uint32_t i = 0; i < p->n; i++) {
            const dhop_t *h = &hr[p->first + i];
            if (i)
                msn_buf_putc(out, ',');
            msn_buf_puts(out, "{\"dist\":");
            msn_json_double(out, h->dist);
            emit_hop_ends(out, s, h);
            msn_buf_putc(out, '}');
        }
        msn_buf_puts(out, "],\"timestamp\":");
        msn_an__str(out, s->tx[p->tx].first_seen);
        msn_buf_puts(out, ",\"totalDist\":");
        msn_json_double(out, p->total);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "]}");

    for (int k = 0; k < 3; k++)
        free(cat_d[k]);
    msn_an__map_free(&hours);
    free(h_sum);
    free(h_n);
    msn_an__map_free(&pairs);
    free(pa);
    free(rec_pair);
    free(po);
    free(hr);
    free(pr);
    free(chain);
    free(hops.h);
    msn_buf_free(&scratch);
    free(rep);
    msn_an__pm_free(&pm);
    return 0;
}
