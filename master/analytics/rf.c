/*
 * rf.c: /api/analytics/rf (CoreScope computeAnalyticsRF).
 *
 * Without a region every transmission whose first_seen lies in the window contributes all
 * of its observations (a transmission without observations counts once, with its
 * first_seen hour). With a region only the observations of the region's observers whose
 * own timestamp lies in the window count. Per observation: SNR/RSSI statistics and
 * histograms (20 bins), SNR per payload type, per-hour packet counts (a transmission
 * counts once per hour), per-hour mean SNR, and an SNR/RSSI scatter downsampled to about
 * 500 points. Per transmission (once): its size (raw_hex length / 2, 25-bin histogram)
 * and payload type.
 *
 * Observations are visited transmission by transmission in id order (CoreScope's region
 * mode walks them observer by observer; only the scatter's sample choice depends on it).
 * SNR and RSSI values are kept as counts per distinct value, which gives the exact sorted
 * order CoreScope's mean, median and stddev are computed in without storing millions of
 * values.
 *
 * Phases: collect (one pass over the transmissions and their observations), merge (the
 * value counts as sorted distributions), rank (payload types and SNR per type by count),
 * render.
 */
#include "an_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shm/json.h"

/* ---- value counts ------------------------------------------------------------------------ */

typedef struct {
    an_map_t m; /* 8-byte double -> count */
    int64_t total;
    uint64_t last_bits; /* the previous value's entry, a cache for runs of one value */
    int64_t last_idx;
} vcount_t;

/* A value count as a distribution: distinct values ascending, with their counts. */
typedef struct {
    double *v;
    int64_t *n;
    uint32_t len;
    int64_t total;
} vdist_t;

static void vc_init(vcount_t *v, msn_arena_t *a)
{
    memset(v, 0, sizeof(*v));
    msn_an__map_init(&v->m, a, sizeof(int64_t));
    v->last_idx = -1;
}

static void vc_add(vcount_t *v, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, 8);
    v->total++;
    if (v->last_idx >= 0 && bits == v->last_bits) {
        (*(int64_t *)msn_an__map_val(&v->m, (uint32_t)v->last_idx))++;
        return;
    }
    uint32_t e = msn_an__map_count(&v->m, &bits, 8);
    v->last_bits = bits;
    v->last_idx = e;
}

typedef struct {
    double v;
    int64_t n;
} vn_t;

static int vn_cmp(const void *a, const void *b)
{
    const vn_t *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    /* -0 before +0, for a total order */
    return signbit(y->v) - signbit(x->v);
}

static vdist_t vc_sorted(const vcount_t *v, msn_arena_t *a)
{
    uint32_t n = v->m.n;
    vn_t *p = AN_ARRAY(a, vn_t, n);
    for (uint32_t e = 0; e < n; e++) {
        memcpy(&p[e].v, v->m.keys[e], 8);
        p[e].n = msn_an__map_n(&v->m, e);
    }
    msn_an__qsort(p, n, sizeof(*p), vn_cmp);
    vdist_t d = {AN_ARRAY(a, double, n), AN_ARRAY(a, int64_t, n), n, v->total};
    for (uint32_t e = 0; e < n; e++) {
        d.v[e] = p[e].v;
        d.n[e] = p[e].n;
    }
    return d;
}

/* min/max/avg/median/stddev, summing value by value in sorted order as CoreScope does. */
static void render_stats(msn_buf_t *b, const char *key, const vdist_t *d)
{
    msn_an__key(b, key);
    if (d->total == 0) {
        msn_buf_puts(b, "{\"avg\":0,\"max\":0,\"median\":0,\"min\":0,\"stddev\":0}");
        return;
    }
    double sum = 0;
    for (uint32_t i = 0; i < d->len; i++)
        for (int64_t k = 0; k < d->n[i]; k++)
            sum += d->v[i];
    double avg = sum / (double)d->total, sq = 0;
    for (uint32_t i = 0; i < d->len; i++) {
        double dv = d->v[i] - avg;
        for (int64_t k = 0; k < d->n[i]; k++)
            sq += dv * dv;
    }
    msn_buf_putc(b, '{');
    msn_an__kdbl(b, "avg", avg);
    msn_an__kdbl(b, "max", d->v[d->len - 1]);
    msn_an__kdbl(b, "median", d->v[msn_an__kth_bucket(d->n, d->len, d->total / 2)]);
    msn_an__kdbl(b, "min", d->v[0]);
    msn_an__kdbl(b, "stddev", sqrt(sq / (double)d->total));
    msn_buf_putc(b, '}');
}

/* buildHistogramF64/buildHistogramInt: `bins` equal bins over [min, max]. */
static void render_hist(msn_buf_t *b, const char *key, const vdist_t *d, int bins)
{
    msn_an__key(b, key);
    if (d->len == 0) {
        msn_buf_puts(b, "{\"bins\":[],\"max\":0,\"min\":0}");
        return;
    }
    double mn = d->v[0], mx = d->v[d->len - 1], rng = mx - mn;
    if (rng == 0)
        rng = 1;
    double w = rng / bins;
    int64_t counts[32] = {0};
    for (uint32_t i = 0; i < d->len; i++) {
        int idx = (int)((d->v[i] - mn) / w);
        counts[idx >= bins ? bins - 1 : (idx < 0 ? 0 : idx)] += d->n[i];
    }
    msn_buf_putc(b, '{');
    msn_an__open(b, "bins", '[');
    for (int i = 0; i < bins; i++) {
        msn_an__open(b, NULL, '{');
        msn_an__ki64(b, "count", counts[i]);
        msn_an__kdbl(b, "w", w);
        msn_an__kdbl(b, "x", mn + (double)i * w);
        msn_buf_putc(b, '}');
    }
    msn_buf_putc(b, ']');
    msn_an__kdbl(b, "max", mx);
    msn_an__kdbl(b, "min", mn);
    msn_buf_putc(b, '}');
}

/* ---- the job ------------------------------------------------------------------------------ */

static const char *const pt_names[16] = {"REQ",       "RESPONSE", "TXT_MSG", "ACK",  "ADVERT", "GRP_TXT",
                                         "GRP_DATA",  "ANON_REQ", "PATH",    "TRACE", "MULTIPART", "CONTROL",
                                         NULL,        NULL,       NULL,      "RAW_CUSTOM"};

/* payloadTypeNames lookup; "UNK(n)" for unnamed types. */
static void pt_name(int pt, char out[32])
{
    if (pt >= 0 && pt < 16 && pt_names[pt] != NULL)
        snprintf(out, 32, "%s", pt_names[pt]);
    else
        snprintf(out, 32, "UNK(%d)", pt);
}

typedef struct {
    int64_t count;
    double sum, min, max;
} snrtype_t;

typedef struct {
    int64_t pkts;  /* packetsPerHour */
    int64_t n_snr; /* signalOverTime */
    double sum_snr;
} hour_t;

/* A count under a name (payload types; SNR per type), ranked by count, name, key. */
typedef struct {
    int key; /* payload type, or entry of the type-name map */
    int64_t count;
    const char *name;
} cnt_entry_t;

static int cnt_entry_cmp(const void *a, const void *b)
{
    const cnt_entry_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->key - y->key;
}

/* What the current transmission has contributed so far. */
typedef struct {
    int has_hash;
    char tname[32];
    int32_t tname_idx; /* its entry in the type-name map, -1 until it has an SNR */
    int64_t counted;   /* observations counted */
} txstate_t;

typedef struct {
    const an_ctx_t *c;
    const msn_store_t *s;
    msn_arena_t *a;
    int region;
    /* collect */
    vcount_t snr, rssi, sizes;
    an_map_t hours; /* hour -> hour_t */
    int64_t last_hour, last_hour_idx;
    an_map_t tnames; /* snrByType: type name -> snrtype_t */
    int64_t pt_count[256]; /* payload types 0..255 */
    an_map_t pt_other;     /* other payload type values, as decimal text -> count */
    uint32_t *scatter;     /* observations with SNR and RSSI */
    size_t sc_n, sc_cap;
    uint32_t *tx_hours; /* hours already counted for the current transmission */
    size_t th_n, th_cap;
    int64_t total_obs, total_tx, min_ms, max_ms;
    int have_ts;
    int64_t sz_min, sz_max, sz_sum;
    /* merge and rank */
    vdist_t snr_d, rssi_d, sz_d;
    uint32_t *hour_order;
    cnt_entry_t *pts, *types;
    size_t n_pts;
} rf_t;

/* ---- collect ------------------------------------------------------------------------------ */

static uint32_t hour_idx_key(rf_t *j, const char *key)
{
    return msn_an__map_intern(&j->hours, key, 13, NULL);
}

static uint32_t hour_idx_s(rf_t *j, int64_t secs)
{
    int64_t hr = secs >= 0 ? secs / 3600 : -((-secs + 3599) / 3600);
    if (j->last_hour_idx >= 0 && hr == j->last_hour)
        return (uint32_t)j->last_hour_idx;
    char key[16];
    msn_an__hour_of_s(secs, key);
    uint32_t e = hour_idx_key(j, key);
    j->last_hour = hr;
    j->last_hour_idx = e;
    return e;
}

static hour_t *hour_at(rf_t *j, uint32_t e)
{
    return msn_an__map_val(&j->hours, e);
}

static void saw_time(rf_t *j, int64_t ms)
{
    if (!j->have_ts || ms < j->min_ms)
        j->min_ms = ms;
    if (!j->have_ts || ms > j->max_ms)
        j->max_ms = ms;
    j->have_ts = 1;
}

/* A transmission without observations counts once, at its first_seen. */
static void add_unobserved(rf_t *j, const msn_tx_t *t)
{
    j->total_obs++;
    if (t->first_seen != NULL && t->first_seen[0])
        saw_time(j, t->first_seen_ms);
    char hk[16];
    if (msn_an__hour_of_tx(t, hk))
        hour_at(j, hour_idx_key(j, hk))->pkts++;
}

static void add_snr(rf_t *j, txstate_t *st, const msn_obs_t *o, uint32_t oi, uint32_t hi)
{
    vc_add(&j->snr, o->snr);
    if (st->tname_idx < 0) {
        int is_new;
        st->tname_idx = (int32_t)msn_an__map_intern(&j->tnames, st->tname, strlen(st->tname), &is_new);
        if (is_new) {
            snrtype_t *e = msn_an__map_val(&j->tnames, (uint32_t)st->tname_idx);
            e->min = e->max = o->snr;
        }
    }
    snrtype_t *e = msn_an__map_val(&j->tnames, (uint32_t)st->tname_idx);
    e->count++;
    e->sum += o->snr;
    if (o->snr < e->min)
        e->min = o->snr;
    if (o->snr > e->max)
        e->max = o->snr;
    if (o->has_rssi && isfinite(o->rssi)) {
        AN_GROW(j->a, j->scatter, j->sc_cap, j->sc_n + 1);
        j->scatter[j->sc_n++] = oi;
    }
    hour_at(j, hi)->n_snr++;
    hour_at(j, hi)->sum_snr += o->snr;
}

/* Packets per hour count a transmission once per hour (every observation when it has no
 * hash). */
static void count_hour(rf_t *j, txstate_t *st, uint32_t hi)
{
    if (st->has_hash) {
        for (size_t q = 0; q < j->th_n; q++)
            if (j->tx_hours[q] == hi)
                return;
        AN_GROW(j->a, j->tx_hours, j->th_cap, j->th_n + 1);
        j->tx_hours[j->th_n++] = hi;
    }
    hour_at(j, hi)->pkts++;
}

static void add_obs(rf_t *j, txstate_t *st, uint32_t oi)
{
    const msn_obs_t *o = &j->s->obs[oi];
    j->total_obs++;
    st->counted++;
    saw_time(j, msn_an__ms(o->timestamp));
    uint32_t hi = hour_idx_s(j, o->timestamp);
    if (o->has_snr && isfinite(o->snr))
        add_snr(j, st, o, oi, hi);
    if (o->has_rssi && isfinite(o->rssi))
        vc_add(&j->rssi, o->rssi);
    count_hour(j, st, hi);
}

/* Once per transmission with a hash: its size and payload type. */
static void add_tx(rf_t *j, const msn_tx_t *t)
{
    j->total_tx++;
    if (t->raw_hex != NULL && t->raw_hex[0]) {
        int64_t size = (int64_t)(strlen(t->raw_hex) / 2);
        if (j->sizes.total == 0 || size < j->sz_min)
            j->sz_min = size;
        if (j->sizes.total == 0 || size > j->sz_max)
            j->sz_max = size;
        j->sz_sum += size;
        vc_add(&j->sizes, (double)size);
    }
    if (t->payload_type < 0)
        return;
    if (t->payload_type < 256) {
        j->pt_count[t->payload_type]++;
    } else {
        char num[24];
        int l = snprintf(num, sizeof(num), "%d", t->payload_type);
        msn_an__map_count(&j->pt_other, num, (size_t)l);
    }
}

static int obs_counts(const rf_t *j, const msn_obs_t *o)
{
    if (!j->region)
        return 1;
    int32_t ob = msn_an__obs_observer(j->c, o);
    return ob >= 0 && j->c->in_region[ob] && msn_an__in_window(j->c, msn_an__ms(o->timestamp));
}

static void collect(rf_t *j)
{
    const msn_store_t *s = j->s;
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (!j->region && !msn_an__tx_in_window(j->c, t))
            continue;
        txstate_t st = {msn_an__s(t->hash)[0] != 0, "", -1, 0};
        if (t->payload_type < 0)
            snprintf(st.tname, sizeof(st.tname), "UNK");
        else
            pt_name(t->payload_type, st.tname);
        j->th_n = 0;
        if (!j->region && t->n_obs == 0) {
            add_unobserved(j, t);
            st.counted = 1;
        }
        for (uint32_t k = 0; k < t->n_obs; k++)
            if (obs_counts(j, &s->obs[t->obs[k]]))
                add_obs(j, &st, t->obs[k]);
        if (j->region && st.counted == 0)
            continue;
        if (st.has_hash)
            add_tx(j, t);
    }
}

/* ---- merge and rank ------------------------------------------------------------------------ */

static void merge(rf_t *j)
{
    j->snr_d = vc_sorted(&j->snr, j->a);
    j->rssi_d = vc_sorted(&j->rssi, j->a);
    j->sz_d = vc_sorted(&j->sizes, j->a);
    j->hour_order = msn_an__map_sorted(&j->hours);
}

/* Payload types by count; SNR per payload type by count. */
static void rank(rf_t *j)
{
    j->pts = AN_ARRAY(j->a, cnt_entry_t, 256 + j->pt_other.n);
    char (*ptn)[32] = msn_arena_calloc(j->a, 256 + j->pt_other.n, 32);
    for (int p = 0; p < 256; p++)
        if (j->pt_count[p] > 0) {
            pt_name(p, ptn[j->n_pts]);
            j->pts[j->n_pts] = (cnt_entry_t){p, j->pt_count[p], ptn[j->n_pts]};
            j->n_pts++;
        }
    for (uint32_t e = 0; e < j->pt_other.n; e++) {
        int p = atoi(j->pt_other.keys[e]);
        pt_name(p, ptn[j->n_pts]);
        j->pts[j->n_pts] = (cnt_entry_t){p, msn_an__map_n(&j->pt_other, e), ptn[j->n_pts]};
        j->n_pts++;
    }
    msn_an__qsort(j->pts, j->n_pts, sizeof(*j->pts), cnt_entry_cmp);
    j->types = AN_ARRAY(j->a, cnt_entry_t, j->tnames.n);
    for (uint32_t e = 0; e < j->tnames.n; e++)
        j->types[e] = (cnt_entry_t){(int)e, ((const snrtype_t *)msn_an__map_val(&j->tnames, e))->count,
                                    j->tnames.keys[e]};
    msn_an__qsort(j->types, j->tnames.n, sizeof(*j->types), cnt_entry_cmp);
}

/* ---- render ------------------------------------------------------------------------------- */

static void render_sizes_hours(rf_t *j, msn_buf_t *out)
{
    int64_t n = j->sizes.total;
    msn_an__ki64(out, "avgPacketSize", n ? j->sz_sum / n : 0);
    msn_an__ki64(out, "maxPacketSize", j->sz_max);
    msn_an__ki64(out, "minPacketSize", j->sz_min);
    render_hist(out, "packetSizes", &j->sz_d, 25);
    msn_an__open(out, "packetsPerHour", '[');
    for (uint32_t i = 0; i < j->hours.n; i++) {
        const hour_t *h = hour_at(j, j->hour_order[i]);
        if (h->pkts == 0)
            continue;
        msn_an__open(out, NULL, '{');
        msn_an__kstrn(out, "hour", j->hours.keys[j->hour_order[i]], j->hours.klen[j->hour_order[i]]);
        msn_an__ki64(out, "count", h->pkts);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_types(rf_t *j, msn_buf_t *out)
{
    msn_an__open(out, "payloadTypes", '[');
    for (size_t i = 0; i < j->n_pts; i++) {
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "type", j->pts[i].key);
        msn_an__kstr(out, "name", j->pts[i].name);
        msn_an__ki64(out, "count", j->pts[i].count);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

/* The scatter: every step-th point, step = n / 500. */
static void render_scatter(rf_t *j, msn_buf_t *out)
{
    msn_an__open(out, "scatterData", '[');
    size_t step = j->sc_n > 500 ? j->sc_n / 500 : 1;
    for (size_t i = 0; i < j->sc_n; i += step) {
        const msn_obs_t *o = &j->s->obs[j->scatter[i]];
        msn_an__open(out, NULL, '{');
        msn_an__kdbl(out, "snr", o->snr);
        msn_an__kdbl(out, "rssi", o->rssi);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_snr(rf_t *j, msn_buf_t *out)
{
    msn_an__open(out, "signalOverTime", '[');
    for (uint32_t i = 0; i < j->hours.n; i++) {
        const hour_t *h = hour_at(j, j->hour_order[i]);
        if (h->n_snr == 0)
            continue;
        msn_an__open(out, NULL, '{');
        msn_an__kstrn(out, "hour", j->hours.keys[j->hour_order[i]], j->hours.klen[j->hour_order[i]]);
        msn_an__ki64(out, "count", h->n_snr);
        msn_an__kdbl(out, "avgSnr", h->sum_snr / (double)h->n_snr);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    render_stats(out, "snr", &j->snr_d);
    msn_an__open(out, "snrByType", '[');
    for (uint32_t i = 0; i < j->tnames.n; i++) {
        const snrtype_t *e = msn_an__map_val(&j->tnames, (uint32_t)j->types[i].key);
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "name", j->types[i].name);
        msn_an__ki64(out, "count", e->count);
        msn_an__kdbl(out, "avg", e->sum / (double)e->count);
        msn_an__kdbl(out, "min", e->min);
        msn_an__kdbl(out, "max", e->max);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    render_hist(out, "snrValues", &j->snr_d, 20);
}

static void render(rf_t *j, msn_buf_t *out)
{
    msn_buf_putc(out, '{');
    render_sizes_hours(j, out);
    render_types(j, out);
    render_stats(out, "rssi", &j->rssi_d);
    render_hist(out, "rssiValues", &j->rssi_d, 20);
    render_scatter(j, out);
    render_snr(j, out);
    double span = j->have_ts && j->max_ms != j->min_ms ? ((double)j->max_ms - (double)j->min_ms) / 3600000.0 : 0.0;
    msn_an__kdbl(out, "timeSpanHours", span);
    msn_an__ki64(out, "totalAllPackets", j->total_obs);
    msn_an__ki64(out, "totalPackets", j->snr.total);
    msn_an__ki64(out, "totalTransmissions", j->total_tx);
    msn_buf_putc(out, '}');
}

int msn_an__rf(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    rf_t *j = AN_NEW(c, rf_t);
    j->c = c;
    j->s = c->s;
    j->a = c->arena;
    j->region = c->region_active;
    vc_init(&j->snr, j->a);
    vc_init(&j->rssi, j->a);
    vc_init(&j->sizes, j->a);
    msn_an__map_init(&j->hours, j->a, sizeof(hour_t));
    j->last_hour_idx = -1;
    msn_an__map_init(&j->tnames, j->a, sizeof(snrtype_t));
    msn_an__map_init(&j->pt_other, j->a, sizeof(int64_t));
    collect(j);
    merge(j);
    rank(j);
    render(j, out);
    return 0;
}
