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
 *
 * Phases (msn_an__skew_compute): collect (one pass over the adverts: samples, per advert
 * records, calibration deviations), merge (observer offsets, corrected skews per advert,
 * then per node its statistics, recent window, severity and drift), rank (the fleet by
 * public key). The two endpoints, and roles, render from the result.
 */
#include "an_int.h"

#include <math.h>
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

/* An advert of a node in time: its newest observation, its median skew. */
typedef struct {
    int64_t ts;
    double skew;
    uint32_t rec;
} pair_t;

typedef struct {
    uint32_t rec;
    uint32_t group;
} recref_t;

typedef struct {
    const an_ctx_t *c;
    const msn_store_t *s;
    msn_arena_t *a;
    an_skew_t *k; /* the result */
    msn_jsonr_obj_t jo;
    msn_buf_t *scratch;
    an_map_t keys; /* advert pubKey -> (node group) */
    sample_t *sm;
    size_t n_sm, sm_cap;
    advrec_t *ar;
    size_t n_ar, ar_cap;
    devi_t *dv;
    size_t n_dv, dv_cap;
    double *tmp;
    size_t tmp_cap;
    pair_t *pairs, *filt;
    size_t pairs_cap, filt_cap;
    double *slopes; /* Theil-Sen scratch: THEIL_MAX^2 / 2 */
} skewjob_t;

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
static int64_t advert_ts(const msn_jsonr_obj_t *o)
{
    const msn_jsonr_val_t *p = msn_jsonr_obj_get(o, "payload");
    double v;
    if (p != NULL && p->type == MSN_JSONR_OBJ) {
        msn_jsonr_obj_t inner;
        if (msn_jsonr_obj_parse(&inner, p->p, p->n) >= 0 && msn_jsonr_obj_num(&inner, "timestamp", &v) == 0 &&
            isfinite(v) && (int64_t)v > 0)
            return (int64_t)v;
    }
    if (msn_jsonr_obj_num(o, "timestamp", &v) == 0 && isfinite(v) && v < 9e18 && (int64_t)v > 0)
        return (int64_t)v;
    return 0;
}

/* ---- collect ------------------------------------------------------------------------------ */

/* Each observation's deviation from the advert's median observation time. */
static void add_deviations(skewjob_t *j, const advrec_t *r)
{
    AN_GROW(j->a, j->tmp, j->tmp_cap, r->n);
    for (uint32_t q = 0; q < r->n; q++)
        j->tmp[q] = (double)j->sm[r->first + q].obs_ts;
    double med = msn_an__median(j->tmp, r->n);
    for (uint32_t q = 0; q < r->n; q++) {
        AN_GROW(j->a, j->dv, j->dv_cap, j->n_dv + 1);
        j->dv[j->n_dv++] = (devi_t){j->sm[r->first + q].slot, (double)j->sm[r->first + q].obs_ts - med};
    }
}

/* An advert with a plausible timestamp: its observations as samples, one record. */
static void add_advert(skewjob_t *j, uint32_t ti, int64_t ats, const char *pk, size_t pkn)
{
    const msn_tx_t *t = &j->s->tx[ti];
    uint32_t first = (uint32_t)j->n_sm;
    for (uint32_t q = 0; q < t->n_obs; q++) {
        const msn_obs_t *o = &j->s->obs[t->obs[q]];
        if (o->timestamp <= 0)
            continue;
        AN_GROW(j->a, j->sm, j->sm_cap, j->n_sm + 1);
        j->sm[j->n_sm++] = (sample_t){(uint32_t)(msn_an__obs_observer(j->c, o) + 1), o->timestamp};
    }
    if (j->n_sm == first)
        return;
    AN_GROW(j->a, j->ar, j->ar_cap, j->n_ar + 1);
    advrec_t *r = &j->ar[j->n_ar++];
    *r = (advrec_t){ti, ats, first, (uint32_t)(j->n_sm - first), UINT32_MAX, 0, 0, 0, 0};
    if (pk != NULL && pkn > 0)
        r->group = msn_an__map_intern(&j->keys, pk, pkn, NULL);
    if (r->n >= 2)
        add_deviations(j, r);
}

static void collect(skewjob_t *j)
{
    const msn_store_t *s = j->s;
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (t->payload_type != 4 || t->decoded_json == NULL || t->n_obs == 0 ||
            msn_jsonr_obj_parse(&j->jo, t->decoded_json, strlen(t->decoded_json)) < 0)
            continue;
        int64_t ats = advert_ts(&j->jo);
        if (ats < 1577836800 || ats > 4102444800LL)
            continue;
        size_t pkn = 0;
        const char *pk = msn_jsonr_obj_str(&j->jo, "pubKey", j->scratch, &pkn);
        add_advert(j, ti, ats, pk, pkn);
    }
}

/* ---- merge: observers and adverts ----------------------------------------------------------- */

static int dev_cmp(const void *a, const void *b)
{
    const devi_t *x = a, *y = b;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return x->dev < y->dev ? -1 : x->dev > y->dev;
}

/* An observer's offset is the median of its deviations. */
static void merge_observers(skewjob_t *j)
{
    an_skew_t *k = j->k;
    msn_an__qsort(j->dv, j->n_dv, sizeof(*j->dv), dev_cmp);
    double *v = AN_ARRAY(j->a, double, j->n_dv);
    for (size_t i = 0; i < j->n_dv; i++)
        v[i] = j->dv[i].dev;
    for (size_t i = 0; i < j->n_dv;) {
        size_t e = i;
        while (e < j->n_dv && j->dv[e].slot == j->dv[i].slot)
            e++;
        k->obs_offset[j->dv[i].slot] = msn_an__median_sorted(v + i, e - i);
        k->obs_samples[j->dv[i].slot] = (int64_t)(e - i);
        k->obs_has[j->dv[i].slot] = 1;
        i = e;
    }
}

/* Per advert: the skews corrected by the observers' offsets, their median and the last. */
static void merge_adverts(skewjob_t *j)
{
    const an_skew_t *k = j->k;
    for (size_t i = 0; i < j->n_ar; i++) {
        advrec_t *r = &j->ar[i];
        AN_GROW(j->a, j->tmp, j->tmp_cap, r->n);
        double last = 0;
        for (uint32_t q = 0; q < r->n; q++) {
            const sample_t *x = &j->sm[r->first + q];
            double sk = (double)(r->advert_ts - x->obs_ts);
            if (k->obs_has[x->slot]) {
                sk += k->obs_offset[x->slot];
                r->calibrated = 1;
            }
            j->tmp[q] = sk;
            last = sk;
            if (x->obs_ts > r->latest_obs)
                r->latest_obs = x->obs_ts;
        }
        r->median = msn_an__round_trunc(msn_an__median(j->tmp, r->n), 1);
        r->last = msn_an__round_trunc(last, 1);
    }
}

/* ---- merge: per node ---------------------------------------------------------------------- */

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
        for (size_t k = i + 1; k < nu; k++) {
            double dt = (double)(use[k].ts - use[i].ts);
            if (dt <= 0)
                continue;
            slopes[ns++] = (use[k].skew - use[i].skew) / dt;
        }
    if (ns == 0)
        return 0;
    return msn_an__median(slopes, ns) * 86400;
}

/* A node's adverts (refs rf[0..n)) in time order (j->pairs), with their totals into ns;
 * *mean, *median and *last get the mean, median and newest of the adverts' skews. */
static void node_series(skewjob_t *j, const recref_t *rf, size_t n, an_nodeskew_t *ns, double *mean,
                        double *median, double *last)
{
    AN_GROW(j->a, j->tmp, j->tmp_cap, n);
    AN_GROW(j->a, j->pairs, j->pairs_cap, n);
    AN_GROW(j->a, j->filt, j->filt_cap, n);
    double sum = 0;
    *last = 0;
    for (size_t q = 0; q < n; q++) {
        const advrec_t *r = &j->ar[rf[q].rec];
        j->tmp[q] = r->median;
        sum += r->median;
        ns->sample_count += r->n;
        ns->calibrated |= r->calibrated;
        if (r->latest_obs > ns->last_observed_ts) {
            ns->last_observed_ts = r->latest_obs;
            *last = r->last;
            ns->last_advert_ts = r->advert_ts;
        }
        j->pairs[q] = (pair_t){r->latest_obs, r->median, rf[q].rec};
    }
    *mean = sum / (double)n;
    *median = msn_an__median(j->tmp, n);
    msn_an__qsort(j->pairs, n, sizeof(*j->pairs), pair_cmp);
}

/* The recent window: the last RECENT_COUNT adverts or those of the newest one's last
 * RECENT_SEC, whichever are fewer. Returns its first index. */
static size_t recent_start(const pair_t *p, size_t n)
{
    size_t start_count = n > RECENT_COUNT ? n - RECENT_COUNT : 0;
    size_t start_time = n - 1;
    for (size_t q = n; q-- > 0;) {
        if (p[n - 1].ts - p[q].ts <= RECENT_SEC)
            start_time = q;
        else
            break;
    }
    return start_count > start_time ? start_count : start_time;
}

/* Splits the recent adverts p[0..nrec) into good (|skew| <= 1 h), bad (kept as samples)
 * and RTC resets (> 24 h, ignored); sets the counts and the severity, with *recent the
 * median of the good ones when there are any. Returns 1 when the clock is neither missing
 * ("no_clock") nor bimodal, so that its drift is meaningful. */
static int judge(skewjob_t *j, an_nodeskew_t *ns, const pair_t *p, size_t nrec, double *recent)
{
    an_skew_t *k = j->k;
    double good[RECENT_COUNT + 1];
    size_t n_good = 0, n_reset = 0;
    ns->bad_first = k->n_bad;
    for (size_t q = 0; q < nrec; q++) {
        double v = p[q].skew, av = fabs(v);
        if (av > RTC_RESET) {
            n_reset++;
        } else if (av <= BIMODAL_BAD) {
            if (n_good < RECENT_COUNT + 1)
                good[n_good] = v;
            n_good++;
        } else {
            const advrec_t *r = &j->ar[p[q].rec];
            const char *hash = msn_an__s(j->s->tx[r->tx].hash);
            if (hash[0]) {
                AN_GROW(j->a, k->bad, k->bad_cap, (size_t)k->n_bad + 1);
                k->bad[k->n_bad++] = (an_badsample_t){hash, r->advert_ts, msn_an__round_trunc(v, 1)};
            }
        }
    }
    ns->bad_n = k->n_bad - ns->bad_first;
    ns->recent_count = (int)(nrec - n_reset);
    ns->recent_bad_count = ns->recent_count - (int)n_good;
    double gf = ns->recent_count > 0 ? (double)n_good / (double)ns->recent_count : 0;
    ns->good_fraction = msn_an__round_trunc(gf, 2);
    ns->severity = "no_clock";
    if (gf < 0.10)
        return 0;
    if (n_good > 0)
        *recent = msn_an__median(good, n_good);
    ns->severity = "bimodal_clock";
    if (gf < 0.80 && ns->recent_bad_count > 0)
        return 0;
    ns->severity = classify(fabs(*recent));
    return !(fabs(*recent) >= SKEW_NOCLOCK); /* not "no_clock" */
}

/* One node's skew from its adverts (refs rf[0..n), all of one key group). */
static void node_skew(skewjob_t *j, const recref_t *rf, size_t n, an_nodeskew_t *ns)
{
    uint32_t g = rf[0].group;
    memset(ns, 0, sizeof(*ns));
    ns->pubkey = j->keys.keys[g];
    ns->node = msn_an__node_find(j->c, j->keys.keys[g], j->keys.klen[g]);
    double mean, med, last;
    node_series(j, rf, n, ns, &mean, &med, &last);
    size_t start = recent_start(j->pairs, n), nrec = n - start;
    double recent = last;
    for (size_t q = 0; q < nrec; q++)
        j->tmp[q] = j->pairs[start + q].skew;
    if (nrec > 0)
        recent = msn_an__median(j->tmp, nrec);
    double drift = 0;
    if (judge(j, ns, j->pairs + start, nrec, &recent) && n >= 5) {
        drift = drift_of(j->pairs, n, j->filt, j->slopes);
        if (fabs(drift) > 86400.0)
            drift = 0;
    }
    ns->series_first = j->k->n_series;
    ns->series_n = (uint32_t)n;
    AN_GROW(j->a, j->k->series, j->k->series_cap, (size_t)j->k->n_series + n);
    for (size_t q = 0; q < n; q++)
        j->k->series[j->k->n_series++] = (an_skewpt_t){j->pairs[q].ts, msn_an__round_trunc(j->pairs[q].skew, 1)};
    ns->mean = msn_an__round_trunc(mean, 1);
    ns->median = msn_an__round_trunc(med, 1);
    ns->last = msn_an__round_trunc(last, 1);
    ns->recent_median = msn_an__round_trunc(recent, 1);
    ns->drift = msn_an__round_trunc(drift, 2);
}

static int recref_cmp(const void *a, const void *b)
{
    const recref_t *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* The adverts grouped by node key, one skew entry per node. */
static void merge_nodes(skewjob_t *j)
{
    an_skew_t *k = j->k;
    recref_t *rf = AN_ARRAY(j->a, recref_t, j->n_ar);
    size_t n_rf = 0;
    for (size_t i = 0; i < j->n_ar; i++)
        if (j->ar[i].group != UINT32_MAX)
            rf[n_rf++] = (recref_t){(uint32_t)i, j->ar[i].group};
    msn_an__qsort(rf, n_rf, sizeof(*rf), recref_cmp);
    k->nodes = AN_ARRAY(j->a, an_nodeskew_t, j->keys.n);
    j->slopes = AN_ARRAY(j->a, double, (size_t)THEIL_MAX * THEIL_MAX / 2);
    for (size_t i = 0; i < n_rf;) {
        size_t e = i;
        while (e < n_rf && rf[e].group == rf[i].group)
            e++;
        node_skew(j, rf + i, e - i, &k->nodes[k->n++]);
        i = e;
    }
}

/* ---- rank --------------------------------------------------------------------------------- */

typedef struct {
    const char *k;
    uint32_t kn, idx;
} gkey_t;

static int gkey_cmp(const void *a, const void *b)
{
    const gkey_t *x = a, *y = b;
    return msn_an__bytes_cmp(x->k, x->kn, y->k, y->kn);
}

/* The fleet by public key. */
static void rank(skewjob_t *j)
{
    an_skew_t *k = j->k;
    gkey_t *gk = AN_ARRAY(j->a, gkey_t, k->n);
    for (uint32_t i = 0; i < k->n; i++) {
        int64_t e = msn_an__map_find(&j->keys, k->nodes[i].pubkey, strlen(k->nodes[i].pubkey));
        gk[i] = (gkey_t){k->nodes[i].pubkey, e >= 0 ? j->keys.klen[e] : 0, i};
    }
    msn_an__qsort(gk, k->n, sizeof(*gk), gkey_cmp);
    an_nodeskew_t *sorted = AN_ARRAY(j->a, an_nodeskew_t, k->n);
    for (uint32_t i = 0; i < k->n; i++) {
        sorted[i] = k->nodes[gk[i].idx];
        sorted[i].pubkey = msn_arena_strndup(j->a, gk[i].k, gk[i].kn);
    }
    k->nodes = sorted;
}

an_skew_t *msn_an__skew_compute(const an_ctx_t *c)
{
    skewjob_t *j = AN_NEW(c, skewjob_t);
    j->c = c;
    j->s = c->s;
    j->a = c->arena;
    j->scratch = msn_an__buf(c);
    msn_an__map_init(&j->keys, j->a, 0);
    an_skew_t *k = j->k = AN_NEW(c, an_skew_t);
    k->n_obs_slots = c->s->n_observers + 1;
    k->obs_offset = AN_ARRAY(j->a, double, k->n_obs_slots);
    k->obs_samples = AN_ARRAY(j->a, int64_t, k->n_obs_slots);
    k->obs_has = AN_ARRAY(j->a, uint8_t, k->n_obs_slots);
    collect(j);
    merge_observers(j);
    merge_adverts(j);
    merge_nodes(j);
    rank(j);
    return k;
}

/* ---- the two endpoints ---------------------------------------------------------------------- */

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
    const an_skew_t *k = msn_an__skew_compute(c);
    obsoff_t *o = AN_ARRAY(c->arena, obsoff_t, k->n_obs_slots);
    uint32_t n = 0;
    for (uint32_t sl = 0; sl < k->n_obs_slots; sl++)
        if (k->obs_has[sl])
            o[n++] = (obsoff_t){sl, msn_an__round_trunc(k->obs_offset[sl], 1),
                                sl == 0 ? "" : msn_an__s(c->s->observers[sl - 1].id)};
    msn_an__qsort(o, n, sizeof(*o), obsoff_cmp);
    msn_buf_putc(out, '[');
    for (uint32_t i = 0; i < n; i++) {
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "observerID", o[i].id);
        msn_an__kdbl(out, "offsetSec", o[i].off);
        msn_an__ki64(out, "samples", k->obs_samples[o[i].slot]);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    return 0;
}

void msn_an__render_node_skew(msn_buf_t *out, const msn_store_t *s, const an_skew_t *k, const an_nodeskew_t *ns,
                              int with_samples)
{
    msn_an__open(out, NULL, '{');
    msn_an__kstr(out, "pubkey", ns->pubkey);
    msn_an__kdbl(out, "meanSkewSec", ns->mean);
    msn_an__kdbl(out, "medianSkewSec", ns->median);
    msn_an__kdbl(out, "lastSkewSec", ns->last);
    msn_an__kdbl(out, "recentMedianSkewSec", ns->recent_median);
    msn_an__kdbl(out, "driftPerDaySec", ns->drift);
    msn_an__kstr(out, "severity", ns->severity);
    msn_an__ki64(out, "sampleCount", ns->sample_count);
    msn_an__kbool(out, "calibrated", ns->calibrated);
    msn_an__ki64(out, "lastAdvertTS", ns->last_advert_ts);
    msn_an__ki64(out, "lastObservedTS", ns->last_observed_ts);
    if (with_samples && ns->series_n > 0) {
        msn_an__open(out, "samples", '[');
        for (uint32_t q = 0; q < ns->series_n; q++) {
            const an_skewpt_t *pt = &k->series[ns->series_first + q];
            msn_an__open(out, NULL, '{');
            msn_an__ki64(out, "ts", pt->ts);
            msn_an__kdbl(out, "skew", pt->skew);
            msn_buf_putc(out, '}');
        }
        msn_buf_putc(out, ']');
    }
    msn_an__kdbl(out, "goodFraction", ns->good_fraction);
    msn_an__ki64(out, "recentBadSampleCount", ns->recent_bad_count);
    if (ns->bad_n > 0) {
        msn_an__open(out, "recentBadSamples", '[');
        for (uint32_t q = 0; q < ns->bad_n; q++) {
            const an_badsample_t *b = &k->bad[ns->bad_first + q];
            msn_an__open(out, NULL, '{');
            msn_an__kstr(out, "hash", b->hash);
            msn_an__ki64(out, "advertTS", b->advert_ts);
            msn_an__kdbl(out, "skewSec", b->skew);
            msn_buf_putc(out, '}');
        }
        msn_buf_putc(out, ']');
    }
    msn_an__ki64(out, "recentSampleCount", ns->recent_count);
    const msn_node_t *nd = ns->node >= 0 && !with_samples ? &s->nodes[ns->node] : NULL;
    if (nd != NULL && nd->name != NULL && nd->name[0])
        msn_an__kstr(out, "nodeName", nd->name);
    if (nd != NULL && nd->role != NULL && nd->role[0])
        msn_an__kstr(out, "nodeRole", nd->role);
    msn_buf_putc(out, '}');
}

int msn_an__nodes_clock_skew(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const an_skew_t *k = msn_an__skew_compute(c);
    msn_buf_putc(out, '[');
    for (uint32_t i = 0; i < k->n; i++)
        msn_an__render_node_skew(out, c->s, k, &k->nodes[i], 0);
    msn_buf_putc(out, ']');
    return 0;
}

const an_nodeskew_t *msn_an__skew_find(const an_skew_t *k, const char *pubkey, size_t n)
{
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = msn_an__bytes_cmp(k->nodes[mid].pubkey, strlen(k->nodes[mid].pubkey), pubkey, n);
        if (c == 0)
            return &k->nodes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
