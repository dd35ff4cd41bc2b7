/*
 * clock_skew.c: /api/observers/clock-skew and /api/nodes/clock-skew (CoreScope
 * clock_skew.go), and the fleet skew the roles analytic summarises.
 *
 * Samples: every observation of every ADVERT whose advert timestamp (decoded
 * payload.timestamp or timestamp) lies in 2020..2100; raw skew = advert time - observation
 * time, in seconds.
 *
 * Observer calibration: for each advert heard by two or more observations, each
 * observation's deviation from the median observation time of that advert; an observer's
 * offset is the median of its deviations (observations without a known observer share the
 * id "", as in CoreScope). The observer view lists offsets (rounded to 0.1 s) by |offset|
 * descending, then by id.
 *
 * Node skew: per advert the corrected skews (raw + the observer's offset when it has one)
 * give a median/mean/last and the newest observation time; per node (the advert's pubKey)
 * those per-advert medians give mean/median, the newest advert's skew, a recent median
 * over the last 5 adverts or the last hour of them (whichever is fewer), a good/bad split
 * of the recent ones (|skew| <= 1 h good, > 1 h bad, > 24 h ignored as an RTC reset),
 * the severity (no_clock below 10 % good, bimodal_clock below 80 % good with bad samples,
 * else by |recent skew| of the good samples: 5 min warning, 1 h critical, 30 d absurd,
 * 365 d no_clock), and a Theil-Sen drift in s/day over at least 5 adverts spanning an
 * hour (jumps over 60 s dropped, at most the newest 200 points, |drift| > 1 d/d zeroed).
 * Values are rounded as CoreScope's round() does (toward zero after adding 0.5). The
 * fleet view is ordered by public key (CoreScope leaves it in map order); ties in time
 * keep transmission order.
 */
#include "an_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shm/json.h"

#define SKEW_WARN 300.0
#define SKEW_CRIT 3600.0
#define SKEW_ABSURD (30.0 * 86400)
#define SKEW_NOCLOCK (365.0 * 86400)
#define BIMODAL_BAD 3600.0
#define RTC_RESET 86400.0
#define MAX_JUMP 60.0
#define THEIL_MAX 200
#define RECENT_COUNT 5
#define RECENT_SEC 3600

typedef struct {
    uint32_t slot; /* observer index + 1, 0 = none */
    int64_t obs_ts;
} sample_t;

typedef struct {
    uint32_t tx;
    int64_t advert_ts;
    uint32_t first, n; /* samples */
    uint32_t group;    /* node key entry */
    double median, last; /* rounded to 0.1 */
    int64_t latest_obs;
    int calibrated;
} advrec_t;

typedef struct {
    uint32_t slot;
    double dev;
} devi_t;

static int dev_cmp(const void *a, const void *b)
{
    const devi_t *x = a, *y = b;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return x->dev < y->dev ? -1 : x->dev > y->dev;
}

static const char *classify(double abs_skew)
{
    if (abs_skew >= SKEW_NOCLOCK)
        return "no_clock";
    if (abs_skew >= SKEW_ABSURD)
        return "absurd";
    if (abs_skew >= SKEW_CRIT)
        return "critical";
    if (abs_skew >= SKEW_WARN)
        return "warning";
    return "ok";
}

/* extractTimestamp: payload.timestamp, else timestamp (numbers > 0, truncated). */
static int64_t advert_ts(const an_jobj_t *o)
{
    const an_jmember_t *p = msn_an__jobj_get(o, "payload");
    double v;
    if (p != NULL && p->t == AN_J_OBJ) {
        an_jobj_t inner;
        if (msn_an__jobj_parse(&inner, p->v, p->vn) >= 0 && msn_an__jobj_num(&inner, "timestamp", &v) == 0 &&
            isfinite(v) && (int64_t)v > 0)
            return (int64_t)v;
    }
    if (msn_an__jobj_num(o, "timestamp", &v) == 0 && isfinite(v) && v < 9e18 && (int64_t)v > 0)
        return (int64_t)v;
    return 0;
}

typedef struct {
    int64_t ts;
    double skew;
    uint32_t rec;
} pair_t;

static int pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* computeDrift over pairs sorted by time; scratch holds at least THEIL_MAX^2/2 doubles. */
static double drift_of(const pair_t *p, size_t n, pair_t *filt, double *slopes)
{
    if (n < 2 || (double)(p[n - 1].ts - p[0].ts) < 3600)
        return 0;
    size_t nf = 0;
    filt[nf++] = p[0];
    for (size_t i = 1; i < n; i++)
        if (fabs(p[i].skew - filt[nf - 1].skew) <= MAX_JUMP)
            filt[nf++] = p[i];
    const pair_t *use = filt;
    size_t nu = nf;
    if (nf < 2 || (double)(filt[nf - 1].ts - filt[0].ts) < 3600) {
        use = p;
        nu = n;
    }
    if (nu > THEIL_MAX) {
        use += nu - THEIL_MAX;
        nu = THEIL_MAX;
    }
    size_t ns = 0;
    for (size_t i = 0; i < nu; i++)
        for (size_t j = i + 1; j < nu; j++) {
            double dt = (double)(use[j].ts - use[i].ts);
            if (dt <= 0)
                continue;
            slopes[ns++] = (use[j].skew - use[i].skew) / dt;
        }
    if (ns == 0)
        return 0;
    return msn_an__median(slopes, ns) * 86400;
}

typedef struct {
    uint32_t rec;
    uint32_t group;
} recref_t;

static int recref_cmp(const void *a, const void *b)
{
    const recref_t *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->rec < y->rec ? -1 : x->rec > y->rec;
}

typedef struct {
    const char *k;
    uint32_t kn, idx;
} gkey_t;

static int gkey_cmp(const void *a, const void *b)
{
    const gkey_t *x = a, *y = b;
    int c = memcmp(x->k, y->k, x->kn < y->kn ? x->kn : y->kn);
    if (c)
        return c;
    return x->kn < y->kn ? -1 : x->kn > y->kn;
}

void msn_an__skew_compute(const an_ctx_t *c, an_skew_t *k)
{
    const msn_store_t *s = c->s;
    memset(k, 0, sizeof(*k));
    k->arena = msn_arena_new();
    k->n_obs_slots = s->n_observers + 1;
    k->obs_offset = msn_xcalloc(k->n_obs_slots, sizeof(double));
    k->obs_samples = msn_xcalloc(k->n_obs_slots, sizeof(int64_t));
    k->obs_has = msn_xcalloc(k->n_obs_slots, 1);

    an_jobj_t jo;
    msn_buf_t scratch = MSN_BUF_INIT;
    an_map_t keys;
    msn_an__map_init(&keys);
    sample_t *sm = NULL;
    size_t n_sm = 0, sm_cap = 0;
    advrec_t *ar = NULL;
    size_t n_ar = 0, ar_cap = 0;
    devi_t *dv = NULL;
    size_t n_dv = 0, dv_cap = 0;
    double *tmp = NULL;
    size_t tmp_cap = 0;

    /* samples */
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (t->payload_type != 4 || t->decoded_json == NULL || t->n_obs == 0)
            continue;
        if (msn_an__jobj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) < 0)
            continue;
        int64_t ats = advert_ts(&jo);
        if (ats < 1577836800 || ats > 4102444800LL)
            continue;
        size_t pkn = 0;
        const char *pk = msn_an__jobj_str(&jo, "pubKey", &scratch, &pkn);
        uint32_t first = (uint32_t)n_sm;
        for (uint32_t q = 0; q < t->n_obs; q++) {
            const msn_obs_t *o = &s->obs[t->obs[q]];
            if (o->timestamp <= 0)
                continue;
            AN_RESERVE(sm, sm_cap, n_sm + 1);
            sm[n_sm].slot = (uint32_t)(msn_an__obs_observer(c, o) + 1);
            sm[n_sm].obs_ts = o->timestamp;
            n_sm++;
        }
        if (n_sm == first)
            continue;
        AN_RESERVE(ar, ar_cap, n_ar + 1);
        advrec_t *r = &ar[n_ar++];
        memset(r, 0, sizeof(*r));
        r->tx = ti;
        r->advert_ts = ats;
        r->first = first;
        r->n = (uint32_t)(n_sm - first);
        r->group = UINT32_MAX;
        if (pk != NULL && pkn > 0)
            r->group = msn_an__map_intern(&keys, pk, pkn, NULL);
        /* calibration deviations from the advert's median observation time */
        if (r->n >= 2) {
            AN_RESERVE(tmp, tmp_cap, r->n);
            for (uint32_t q = 0; q < r->n; q++)
                tmp[q] = (double)sm[first + q].obs_ts;
            double med = msn_an__median(tmp, r->n);
            for (uint32_t q = 0; q < r->n; q++) {
                AN_RESERVE(dv, dv_cap, n_dv + 1);
                dv[n_dv].slot = sm[first + q].slot;
                dv[n_dv].dev = (double)sm[first + q].obs_ts - med;
                n_dv++;
            }
        }
    }
    /* observer offsets: median deviation per observer */
    msn_an__qsort(dv, n_dv, sizeof(*dv), dev_cmp);
    for (size_t i = 0; i < n_dv;) {
        size_t j = i;
        while (j < n_dv && dv[j].slot == dv[i].slot)
            j++;
        size_t n = j - i;
        double med = (n % 2) ? dv[i + n / 2].dev : (dv[i + n / 2 - 1].dev + dv[i + n / 2].dev) / 2;
        k->obs_offset[dv[i].slot] = med;
        k->obs_samples[dv[i].slot] = (int64_t)n;
        k->obs_has[dv[i].slot] = 1;
        i = j;
    }
    /* per advert: corrected skews */
    for (size_t i = 0; i < n_ar; i++) {
        advrec_t *r = &ar[i];
        AN_RESERVE(tmp, tmp_cap, r->n);
        double last = 0;
        for (uint32_t q = 0; q < r->n; q++) {
            const sample_t *x = &sm[r->first + q];
            double sk = (double)(r->advert_ts - x->obs_ts);
            if (k->obs_has[x->slot]) {
                sk += k->obs_offset[x->slot];
                r->calibrated = 1;
            }
            tmp[q] = sk;
            last = sk;
            if (x->obs_ts > r->latest_obs)
                r->latest_obs = x->obs_ts;
        }
        r->median = msn_an__round_trunc(msn_an__median(tmp, r->n), 1);
        r->last = msn_an__round_trunc(last, 1);
    }

    /* per node */
    recref_t *rf = msn_xmalloc((n_ar ? n_ar : 1) * sizeof(*rf));
    size_t n_rf = 0;
    for (size_t i = 0; i < n_ar; i++)
        if (ar[i].group != UINT32_MAX)
            rf[n_rf++] = (recref_t){(uint32_t)i, ar[i].group};
    msn_an__qsort(rf, n_rf, sizeof(*rf), recref_cmp);
    k->nodes = msn_xmalloc((keys.n ? keys.n : 1) * sizeof(*k->nodes));
    pair_t *pairs = NULL, *filt = NULL;
    size_t pairs_cap = 0, filt_cap = 0;
    double *slopes = msn_xmalloc((size_t)THEIL_MAX * THEIL_MAX / 2 * sizeof(double));
    size_t bad_cap = 0;
    for (size_t i = 0; i < n_rf;) {
        size_t j = i;
        while (j < n_rf && rf[j].group == rf[i].group)
            j++;
        size_t n = j - i;
        an_nodeskew_t *ns = &k->nodes[k->n++];
        memset(ns, 0, sizeof(*ns));
        uint32_t g = rf[i].group;
        ns->pubkey = keys.keys[g];
        ns->node = msn_an__node_find(c, keys.keys[g], keys.klen[g]);
        AN_RESERVE(tmp, tmp_cap, n);
        AN_RESERVE(pairs, pairs_cap, n);
        AN_RESERVE(filt, filt_cap, n);
        double sum = 0, last_skew = 0;
        int64_t last_obs = 0;
        for (size_t q = 0; q < n; q++) {
            const advrec_t *r = &ar[rf[i + q].rec];
            tmp[q] = r->median;
            sum += r->median;
            ns->sample_count += r->n;
            ns->calibrated |= r->calibrated;
            if (r->latest_obs > last_obs) {
                last_obs = r->latest_obs;
                last_skew = r->last;
                ns->last_advert_ts = r->advert_ts;
            }
            pairs[q] = (pair_t){r->latest_obs, r->median, rf[i + q].rec};
        }
        ns->last_observed_ts = last_obs;
        double mean = sum / (double)n;
        double med = msn_an__median(tmp, n);
        msn_an__qsort(pairs, n, sizeof(*pairs), pair_cmp);
        /* the recent window */
        size_t start_count = n > RECENT_COUNT ? n - RECENT_COUNT : 0;
        size_t start_time = n - 1;
        for (size_t q = n; q-- > 0;) {
            if (pairs[n - 1].ts - pairs[q].ts <= RECENT_SEC)
                start_time = q;
            else
                break;
        }
        size_t start = start_count > start_time ? start_count : start_time;
        size_t nrec = n - start;
        double recent = last_skew;
        for (size_t q = 0; q < nrec; q++)
            tmp[q] = pairs[start + q].skew;
        if (nrec > 0)
            recent = msn_an__median(tmp, nrec);
        /* good / bad split */
        double good[RECENT_COUNT + 1];
        size_t n_good = 0, n_reset = 0;
        ns->bad_first = k->n_bad;
        for (size_t q = 0; q < nrec; q++) {
            double v = pairs[start + q].skew, av = fabs(v);
            if (av > RTC_RESET) {
                n_reset++;
            } else if (av <= BIMODAL_BAD) {
                if (n_good < RECENT_COUNT + 1)
                    good[n_good] = v;
                n_good++;
            } else {
                const advrec_t *r = &ar[pairs[start + q].rec];
                const char *hash = msn_an__s(s->tx[r->tx].hash);
                if (hash[0]) {
                    AN_RESERVE(k->bad, bad_cap, (size_t)k->n_bad + 1);
                    k->bad[k->n_bad++] = (an_badsample_t){hash, r->advert_ts, msn_an__round_trunc(v, 1)};
                }
            }
        }
        ns->bad_n = k->n_bad - ns->bad_first;
        int recent_count = (int)(nrec - n_reset);
        int bad_count = recent_count - (int)n_good;
        double gf = recent_count > 0 ? (double)n_good / (double)recent_count : 0;
        const char *sev;
        if (gf < 0.10) {
            sev = "no_clock";
        } else if (gf < 0.80 && bad_count > 0) {
            sev = "bimodal_clock";
            if (n_good > 0)
                recent = msn_an__median(good, n_good);
        } else {
            if (n_good > 0)
                recent = msn_an__median(good, n_good);
            sev = classify(fabs(recent));
        }
        double drift = 0;
        if (strcmp(sev, "no_clock") != 0 && strcmp(sev, "bimodal_clock") != 0 && n >= 5) {
            drift = drift_of(pairs, n, filt, slopes);
            if (fabs(drift) > 86400.0)
                drift = 0;
        }
        ns->mean = msn_an__round_trunc(mean, 1);
        ns->median = msn_an__round_trunc(med, 1);
        ns->last = msn_an__round_trunc(last_skew, 1);
        ns->recent_median = msn_an__round_trunc(recent, 1);
        ns->drift = msn_an__round_trunc(drift, 2);
        ns->severity = sev;
        ns->good_fraction = msn_an__round_trunc(gf, 2);
        ns->recent_bad_count = bad_count;
        ns->recent_count = recent_count;
        i = j;
    }
    /* order by public key */
    gkey_t *gk = msn_xmalloc((k->n ? k->n : 1) * sizeof(*gk));
    for (uint32_t i = 0; i < k->n; i++) {
        int64_t e = msn_an__map_find(&keys, k->nodes[i].pubkey, strlen(k->nodes[i].pubkey));
        gk[i] = (gkey_t){k->nodes[i].pubkey, e >= 0 ? keys.klen[e] : 0, i};
    }
    msn_an__qsort(gk, k->n, sizeof(*gk), gkey_cmp);
    an_nodeskew_t *sorted = msn_xmalloc((k->n ? k->n : 1) * sizeof(*sorted));
    for (uint32_t i = 0; i < k->n; i++) {
        sorted[i] = k->nodes[gk[i].idx];
        /* keys move to the result's arena: the map is freed below */
        sorted[i].pubkey = msn_arena_strndup(k->arena, gk[i].k, gk[i].kn);
    }
    free(k->nodes);
    k->nodes = sorted;
    free(gk);

    free(slopes);
    free(pairs);
    free(filt);
    free(rf);
    free(sm);
    free(ar);
    free(dv);
    free(tmp);
    msn_an__map_free(&keys);
    msn_buf_free(&scratch);
}

void msn_an__skew_free(an_skew_t *k)
{
    free(k->nodes);
    free(k->bad);
    free(k->obs_offset);
    free(k->obs_samples);
    free(k->obs_has);
    msn_arena_free(k->arena);
    memset(k, 0, sizeof(*k));
}

typedef struct {
    uint32_t slot;
    double off;
    const char *id;
} obsoff_t;

static int obsoff_cmp(const void *a, const void *b)
{
    const obsoff_t *x = a, *y = b;
    double ax = fabs(x->off), ay = fabs(y->off);
    if (ax != ay)
        return ax > ay ? -1 : 1;
    return strcmp(x->id, y->id);
}

int msn_an__observers_clock_skew(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    an_skew_t k;
    msn_an__skew_compute(c, &k);
    obsoff_t *o = msn_xmalloc(k.n_obs_slots * sizeof(*o));
    uint32_t n = 0;
    for (uint32_t sl = 0; sl < k.n_obs_slots; sl++)
        if (k.obs_has[sl])
            o[n++] = (obsoff_t){sl, msn_an__round_trunc(k.obs_offset[sl], 1),
                                sl == 0 ? "" : msn_an__s(c->s->observers[sl - 1].id)};
    msn_an__qsort(o, n, sizeof(*o), obsoff_cmp);
    msn_buf_putc(out, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"observerID\":");
        msn_an__str(out, o[i].id);
        msn_buf_puts(out, ",\"offsetSec\":");
        msn_json_double(out, o[i].off);
        msn_buf_puts(out, ",\"samples\":");
        msn_buf_put_i64(out, k.obs_samples[o[i].slot]);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    free(o);
    msn_an__skew_free(&k);
    return 0;
}

int msn_an__nodes_clock_skew(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    an_skew_t k;
    msn_an__skew_compute(c, &k);
    msn_buf_putc(out, '[');
    for (uint32_t i = 0; i < k.n; i++) {
        const an_nodeskew_t *ns = &k.nodes[i];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"pubkey\":");
        msn_an__str(out, ns->pubkey);
        msn_buf_puts(out, ",\"meanSkewSec\":");
        msn_json_double(out, ns->mean);
        msn_buf_puts(out, ",\"medianSkewSec\":");
        msn_json_double(out, ns->median);
        msn_buf_puts(out, ",\"lastSkewSec\":");
        msn_json_double(out, ns->last);
        msn_buf_puts(out, ",\"recentMedianSkewSec\":");
        msn_json_double(out, ns->recent_median);
        msn_buf_puts(out, ",\"driftPerDaySec\":");
        msn_json_double(out, ns->drift);
        msn_buf_puts(out, ",\"severity\":\"");
        msn_buf_puts(out, ns->severity);
        msn_buf_puts(out, "\",\"sampleCount\":");
        msn_buf_put_i64(out, ns->sample_count);
        msn_buf_puts(out, ",\"calibrated\":");
        msn_buf_puts(out, ns->calibrated ? "true" : "false");
        msn_buf_puts(out, ",\"lastAdvertTS\":");
        msn_buf_put_i64(out, ns->last_advert_ts);
        msn_buf_puts(out, ",\"lastObservedTS\":");
        msn_buf_put_i64(out, ns->last_observed_ts);
        msn_buf_puts(out, ",\"goodFraction\":");
        msn_json_double(out, ns->good_fraction);
        msn_buf_puts(out, ",\"recentBadSampleCount\":");
        msn_buf_put_i64(out, ns->recent_bad_count);
        if (ns->bad_n > 0) {
            msn_buf_puts(out, ",\"recentBadSamples\":[");
            for (uint32_t q = 0; q < ns->bad_n; q++) {
                const an_badsample_t *b = &k.bad[ns->bad_first + q];
                if (q)
                    msn_buf_putc(out, ',');
                msn_buf_puts(out, "{\"hash\":");
                msn_an__str(out, b->hash);
                msn_buf_puts(out, ",\"advertTS\":");
                msn_buf_put_i64(out, b->advert_ts);
                msn_buf_puts(out, ",\"skewSec\":");
                msn_json_double(out, b->skew);
                msn_buf_putc(out, '}');
            }
            msn_buf_putc(out, ']');
        }
        msn_buf_puts(out, ",\"recentSampleCount\":");
        msn_buf_put_i64(out, ns->recent_count);
        if (ns->node >= 0) {
            const msn_node_t *nd = &s->nodes[ns->node];
            if (nd->name != NULL && nd->name[0]) {
                msn_buf_puts(out, ",\"nodeName\":");
                msn_an__str(out, nd->name);
            }
            if (nd->role != NULL && nd->role[0]) {
                msn_buf_puts(out, ",\"nodeRole\":");
                msn_an__str(out, nd->role);
            }
        }
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__skew_free(&k);
    return 0;
}
