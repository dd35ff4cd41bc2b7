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
 */
#include "an_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/json.h"

typedef struct {
    an_map_t m; /* 8-byte double -> entry */
    int64_t *cnt;
    size_t cap;
    int64_t total;
    uint64_t last_bits;
    int64_t last_idx;
} vcount_t;

static void vc_init(vcount_t *v)
{
    memset(v, 0, sizeof(*v));
    msn_an__map_init(&v->m);
    v->last_idx = -1;
}

static void vc_free(vcount_t *v)
{
    msn_an__map_free(&v->m);
    free(v->cnt);
}

static void vc_add(vcount_t *v, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, 8);
    v->total++;
    if (v->last_idx >= 0 && bits == v->last_bits) {
        v->cnt[v->last_idx]++;
        return;
    }
    int is_new;
    uint32_t e = msn_an__map_intern(&v->m, &bits, 8, &is_new);
    if (is_new) {
        AN_RESERVE(v->cnt, v->cap, (size_t)e + 1);
        v->cnt[e] = 0;
    }
    v->cnt[e]++;
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

/* Sorted distinct values with their counts; caller frees. */
static vn_t *vc_sorted(const vcount_t *v, uint32_t *n)
{
    vn_t *a = msn_xmalloc((v->m.n ? v->m.n : 1) * sizeof(*a));
    for (uint32_t e = 0; e < v->m.n; e++) {
        memcpy(&a[e].v, v->m.keys[e], 8);
        a[e].n = v->cnt[e];
    }
    msn_an__qsort(a, v->m.n, sizeof(*a), vn_cmp);
    *n = v->m.n;
    return a;
}

static void emit_stats(msn_buf_t *b, const vn_t *a, uint32_t n, int64_t total)
{
    if (total == 0) {
        msn_buf_puts(b, "{\"avg\":0,\"max\":0,\"median\":0,\"min\":0,\"stddev\":0}");
        return;
    }
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        for (int64_t k = 0; k < a[i].n; k++)
            sum += a[i].v;
    double avg = sum / (double)total;
    double sq = 0, med = a[0].v;
    int64_t pos = 0, want = total / 2;
    for (uint32_t i = 0; i < n; i++) {
        double d = a[i].v - avg;
        for (int64_t k = 0; k < a[i].n; k++)
            sq += d * d;
        if (want >= pos && want < pos + a[i].n)
            med = a[i].v;
        pos += a[i].n;
    }
    msn_buf_puts(b, "{\"avg\":");
    msn_json_double(b, avg);
    msn_buf_puts(b, ",\"max\":");
    msn_json_double(b, a[n - 1].v);
    msn_buf_puts(b, ",\"median\":");
    msn_json_double(b, med);
    msn_buf_puts(b, ",\"min\":");
    msn_json_double(b, a[0].v);
    msn_buf_puts(b, ",\"stddev\":");
    msn_json_double(b, sqrt(sq / (double)total));
    msn_buf_putc(b, '}');
}

/* buildHistogramF64/buildHistogramInt: `bins` equal bins over [min, max]. */
static void emit_hist(msn_buf_t *b, const vn_t *a, uint32_t n, int bins)
{
    if (n == 0) {
        msn_buf_puts(b, "{\"bins\":[],\"max\":0,\"min\":0}");
        return;
    }
    double mn = a[0].v, mx = a[n - 1].v, rng = mx - mn;
    if (rng == 0)
        rng = 1;
    double w = rng / bins;
    int64_t counts[32] = {0};
    for (uint32_t i = 0; i < n; i++) {
        int idx = (int)((a[i].v - mn) / w);
        if (idx >= bins)
            idx = bins - 1;
        if (idx < 0)
            idx = 0;
        counts[idx] += a[i].n;
    }
    msn_buf_puts(b, "{\"bins\":[");
    for (int i = 0; i < bins; i++) {
        if (i)
            msn_buf_putc(b, ',');
        msn_buf_puts(b, "{\"count\":");
        msn_buf_put_i64(b, counts[i]);
        msn_buf_puts(b, ",\"w\":");
        msn_json_double(b, w);
        msn_buf_puts(b, ",\"x\":");
        msn_json_double(b, mn + (double)i * w);
        msn_buf_putc(b, '}');
    }
    msn_buf_puts(b, "],\"max\":");
    msn_json_double(b, mx);
    msn_buf_puts(b, ",\"min\":");
    msn_json_double(b, mn);
    msn_buf_putc(b, '}');
}

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

typedef struct {
    an_map_t hours;
    hour_t *h;
    size_t cap;
    int64_t last_hour;
    int64_t last_idx;
} hours_t;

static uint32_t hour_idx_key(hours_t *hs, const char *key)
{
    int is_new;
    uint32_t e = msn_an__map_intern(&hs->hours, key, 13, &is_new);
    if (is_new) {
        AN_RESERVE(hs->h, hs->cap, (size_t)e + 1);
        memset(&hs->h[e], 0, sizeof(hs->h[e]));
    }
    return e;
}

static uint32_t hour_idx_s(hours_t *hs, int64_t secs)
{
    int64_t hr = secs >= 0 ? secs / 3600 : -((-secs + 3599) / 3600);
    if (hs->last_idx >= 0 && hr == hs->last_hour)
        return (uint32_t)hs->last_idx;
    char key[16];
    msn_an__hour_of_s(secs, key);
    uint32_t e = hour_idx_key(hs, key);
    hs->last_hour = hr;
    hs->last_idx = e;
    return e;
}

typedef struct {
    int key; /* payload type, or index into the type-name map */
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

int msn_an__rf(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    vcount_t snr, rssi;
    vc_init(&snr);
    vc_init(&rssi);
    hours_t hs;
    memset(&hs, 0, sizeof(hs));
    msn_an__map_init(&hs.hours);
    hs.last_idx = -1;
    an_map_t tnames; /* snrByType names */
    msn_an__map_init(&tnames);
    snrtype_t *st = NULL;
    size_t st_cap = 0;
    int64_t pt_count[256] = {0}; /* payload types 0..255 */
    an_map_t pt_other;            /* other payload type values, as decimal text */
    msn_an__map_init(&pt_other);
    int64_t *pt_other_n = NULL;
    size_t pt_other_cap = 0;
    uint32_t *scatter = NULL;
    size_t sc_n = 0, sc_cap = 0;
    int64_t *sizes = NULL;
    size_t sz_n = 0, sz_cap = 0;
    uint32_t *tx_hours = NULL; /* hours already counted for the current transmission */
    size_t th_n = 0, th_cap = 0;
    int64_t total_obs = 0, total_tx = 0, min_ms = 0, max_ms = 0;
    int have_ts = 0;
    int region = c->region_active;

    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (!region && !msn_an__tx_in_window(c, t))
            continue;
        const char *hash = msn_an__s(t->hash);
        int has_hash = hash[0] != 0;
        char tname[32];
        if (t->payload_type < 0)
            snprintf(tname, sizeof(tname), "UNK");
        else
            pt_name(t->payload_type, tname);
        int32_t tname_idx = -1;
        th_n = 0;
        int64_t counted = 0;
        if (!region && t->n_obs == 0) {
            /* a transmission without observations counts once, at its first_seen */
            total_obs++;
            counted = 1;
            if (t->first_seen != NULL && t->first_seen[0]) {
                int64_t ms = t->first_seen_ms;
                if (!have_ts || ms < min_ms)
                    min_ms = ms;
                if (!have_ts || ms > max_ms)
                    max_ms = ms;
                have_ts = 1;
            }
            char hk[16];
            if (msn_an__hour_of_tx(t, hk))
                hs.h[hour_idx_key(&hs, hk)].pkts++;
        }
        for (uint32_t k = 0; k < t->n_obs; k++) {
            const msn_obs_t *o = &s->obs[t->obs[k]];
            if (region) {
                int32_t ob = msn_an__obs_observer(c, o);
                if (ob < 0 || !c->in_region[ob] || !msn_an__in_window(c, msn_an__ms(o->timestamp)))
                    continue;
            }
            total_obs++;
            counted++;
            int64_t ms = msn_an__ms(o->timestamp);
            if (!have_ts || ms < min_ms)
                min_ms = ms;
            if (!have_ts || ms > max_ms)
                max_ms = ms;
            have_ts = 1;
            uint32_t hi = hour_idx_s(&hs, o->timestamp);
            if (o->has_snr && isfinite(o->snr)) {
                vc_add(&snr, o->snr);
                if (tname_idx < 0) {
                    int is_new;
                    tname_idx = (int32_t)msn_an__map_intern(&tnames, tname, strlen(tname), &is_new);
                    if (is_new) {
                        AN_RESERVE(st, st_cap, (size_t)tname_idx + 1);
                        st[tname_idx].count = 0;
                        st[tname_idx].sum = 0;
                        st[tname_idx].min = o->snr;
                        st[tname_idx].max = o->snr;
                    }
                }
                snrtype_t *e = &st[tname_idx];
                e->count++;
                e->sum += o->snr;
                if (o->snr < e->min)
                    e->min = o->snr;
                if (o->snr > e->max)
                    e->max = o->snr;
                if (o->has_rssi && isfinite(o->rssi)) {
                    AN_RESERVE(scatter, sc_cap, sc_n + 1);
                    scatter[sc_n++] = t->obs[k];
                }
                hs.h[hi].n_snr++;
                hs.h[hi].sum_snr += o->snr;
            }
            if (o->has_rssi && isfinite(o->rssi))
                vc_add(&rssi, o->rssi);
            /* packets per hour: once per transmission and hour (every observation when the
             * transmission has no hash) */
            int seen = 0;
            if (has_hash) {
                for (size_t q = 0; q < th_n; q++)
                    if (tx_hours[q] == hi) {
                        seen = 1;
                        break;
                    }
                if (!seen) {
                    AN_RESERVE(tx_hours, th_cap, th_n + 1);
                    tx_hours[th_n++] = hi;
                }
            }
            if (!seen)
                hs.h[hi].pkts++;
        }
        if (region && counted == 0)
            continue;
        if (has_hash) {
            total_tx++;
            if (t->raw_hex != NULL && t->raw_hex[0]) {
                AN_RESERVE(sizes, sz_cap, sz_n + 1);
                sizes[sz_n++] = (int64_t)(strlen(t->raw_hex) / 2);
            }
            if (t->payload_type >= 0) {
                if (t->payload_type < 256) {
                    pt_count[t->payload_type]++;
                } else {
                    char num[24];
                    int l = snprintf(num, sizeof(num), "%d", t->payload_type);
                    int is_new;
                    uint32_t e = msn_an__map_intern(&pt_other, num, (size_t)l, &is_new);
                    if (is_new) {
                        AN_RESERVE(pt_other_n, pt_other_cap, (size_t)e + 1);
                        pt_other_n[e] = 0;
                    }
                    pt_other_n[e]++;
                }
            }
        }
    }

    /* ---- output (keys in Go map order: alphabetical) ---- */
    uint32_t n_snr_v, n_rssi_v;
    vn_t *snr_v = vc_sorted(&snr, &n_snr_v);
    vn_t *rssi_v = vc_sorted(&rssi, &n_rssi_v);
    /* packet sizes as a value/count list for the histogram */
    int64_t sz_min = 0, sz_max = 0, sz_sum = 0;
    vcount_t szc;
    vc_init(&szc);
    for (size_t i = 0; i < sz_n; i++) {
        if (i == 0 || sizes[i] < sz_min)
            sz_min = sizes[i];
        if (i == 0 || sizes[i] > sz_max)
            sz_max = sizes[i];
        sz_sum += sizes[i];
        vc_add(&szc, (double)sizes[i]);
    }
    uint32_t n_sz_v;
    vn_t *sz_v = vc_sorted(&szc, &n_sz_v);

    msn_buf_puts(out, "{\"avgPacketSize\":");
    msn_buf_put_i64(out, sz_n ? sz_sum / (int64_t)sz_n : 0);
    msn_buf_puts(out, ",\"maxPacketSize\":");
    msn_buf_put_i64(out, sz_max);
    msn_buf_puts(out, ",\"minPacketSize\":");
    msn_buf_put_i64(out, sz_min);
    msn_buf_puts(out, ",\"packetSizes\":");
    emit_hist(out, sz_v, n_sz_v, 25);

    /* hours sorted by key */
    uint32_t nh = hs.hours.n;
    uint32_t *ho = msn_an__map_sorted(&hs.hours);
    msn_buf_puts(out, ",\"packetsPerHour\":[");
    int first = 1;
    for (uint32_t i = 0; i < nh; i++) {
        const hour_t *h = &hs.h[ho[i]];
        if (h->pkts == 0)
            continue;
        if (!first)
            msn_buf_putc(out, ',');
        first = 0;
        msn_buf_puts(out, "{\"hour\":");
        msn_an__strn(out, hs.hours.keys[ho[i]], hs.hours.klen[ho[i]]);
        msn_buf_puts(out, ",\"count\":");
        msn_buf_put_i64(out, h->pkts);
        msn_buf_putc(out, '}');
    }

    /* payload types by count */
    size_t n_pt = 0;
    cnt_entry_t *pts = msn_xmalloc((256 + pt_other.n) * sizeof(*pts));
    char (*ptn)[32] = msn_xmalloc((256 + pt_other.n) * sizeof(*ptn));
    for (int p = 0; p < 256; p++)
        if (pt_count[p] > 0) {
            pt_name(p, ptn[n_pt]);
            pts[n_pt].key = p;
            pts[n_pt].count = pt_count[p];
            pts[n_pt].name = ptn[n_pt];
            n_pt++;
        }
    for (uint32_t e = 0; e < pt_other.n; e++) {
        int p = atoi(pt_other.keys[e]);
        pt_name(p, ptn[n_pt]);
        pts[n_pt].key = p;
        pts[n_pt].count = pt_other_n[e];
        pts[n_pt].name = ptn[n_pt];
        n_pt++;
    }
    msn_an__qsort(pts, n_pt, sizeof(*pts), cnt_entry_cmp);
    msn_buf_puts(out, "],\"payloadTypes\":[");
    for (size_t i = 0; i < n_pt; i++) {
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"type\":");
        msn_buf_put_i64(out, pts[i].key);
        msn_buf_puts(out, ",\"name\":");
        msn_an__str(out, pts[i].name);
        msn_buf_puts(out, ",\"count\":");
        msn_buf_put_i64(out, pts[i].count);
        msn_buf_putc(out, '}');
    }
    free(pts);
    free(ptn);

    msn_buf_puts(out, "],\"rssi\":");
    emit_stats(out, rssi_v, n_rssi_v, rssi.total);
    msn_buf_puts(out, ",\"rssiValues\":");
    emit_hist(out, rssi_v, n_rssi_v, 20);

    /* scatter: every step-th point, step = n / 500 */
    msn_buf_puts(out, ",\"scatterData\":[");
    size_t step = sc_n > 500 ? sc_n / 500 : 1;
    for (size_t i = 0; i < sc_n; i += step) {
        const msn_obs_t *o = &s->obs[scatter[i]];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"snr\":");
        msn_json_double(out, o->snr);
        msn_buf_puts(out, ",\"rssi\":");
        msn_json_double(out, o->rssi);
        msn_buf_putc(out, '}');
    }

    msn_buf_puts(out, "],\"signalOverTime\":[");
    first = 1;
    for (uint32_t i = 0; i < nh; i++) {
        const hour_t *h = &hs.h[ho[i]];
        if (h->n_snr == 0)
            continue;
        if (!first)
            msn_buf_putc(out, ',');
        first = 0;
        msn_buf_puts(out, "{\"hour\":");
        msn_an__strn(out, hs.hours.keys[ho[i]], hs.hours.klen[ho[i]]);
        msn_buf_puts(out, ",\"count\":");
        msn_buf_put_i64(out, h->n_snr);
        msn_buf_puts(out, ",\"avgSnr\":");
        msn_json_double(out, h->sum_snr / (double)h->n_snr);
        msn_buf_putc(out, '}');
    }
    free(ho);

    msn_buf_puts(out, "],\"snr\":");
    emit_stats(out, snr_v, n_snr_v, snr.total);

    /* SNR by payload type, by count */
    cnt_entry_t *ty = msn_xmalloc((tnames.n ? tnames.n : 1) * sizeof(*ty));
    for (uint32_t e = 0; e < tnames.n; e++) {
        ty[e].key = (int)e;
        ty[e].count = st[e].count;
        ty[e].name = tnames.keys[e];
    }
    msn_an__qsort(ty, tnames.n, sizeof(*ty), cnt_entry_cmp);
    msn_buf_puts(out, ",\"snrByType\":[");
    for (uint32_t i = 0; i < tnames.n; i++) {
        const snrtype_t *e = &st[ty[i].key];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"name\":");
        msn_an__str(out, ty[i].name);
        msn_buf_puts(out, ",\"count\":");
        msn_buf_put_i64(out, e->count);
        msn_buf_puts(out, ",\"avg\":");
        msn_json_double(out, e->sum / (double)e->count);
        msn_buf_puts(out, ",\"min\":");
        msn_json_double(out, e->min);
        msn_buf_puts(out, ",\"max\":");
        msn_json_double(out, e->max);
        msn_buf_putc(out, '}');
    }
    free(ty);

    msn_buf_puts(out, "],\"snrValues\":");
    emit_hist(out, snr_v, n_snr_v, 20);
    msn_buf_puts(out, ",\"timeSpanHours\":");
    msn_json_double(out, have_ts && max_ms != min_ms ? ((double)max_ms - (double)min_ms) / 3600000.0 : 0.0);
    msn_buf_puts(out, ",\"totalAllPackets\":");
    msn_buf_put_i64(out, total_obs);
    msn_buf_puts(out, ",\"totalPackets\":");
    msn_buf_put_i64(out, snr.total);
    msn_buf_puts(out, ",\"totalTransmissions\":");
    msn_buf_put_i64(out, total_tx);
    msn_buf_putc(out, '}');

    free(snr_v);
    free(rssi_v);
    free(sz_v);
    vc_free(&szc);
    vc_free(&snr);
    vc_free(&rssi);
    msn_an__map_free(&hs.hours);
    free(hs.h);
    msn_an__map_free(&tnames);
    free(st);
    msn_an__map_free(&pt_other);
    free(pt_other_n);
    free(scatter);
    free(sizes);
    free(tx_hours);
    return 0;
}
