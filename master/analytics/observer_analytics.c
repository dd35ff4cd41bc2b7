/*
 * observer_analytics.c: /api/observers/:id/analytics for one observer and day count
 * (CoreScope handleObserverAnalytics and observer_analytics.go).
 *
 * Parameter: "<days>:<observer id>" (days 1..365, clamped by the worker as CoreScope
 * clamps them). Input: the observer's observations at or after now - days, newest first
 * (timestamp, then id; CoreScope's sort is not stable, ties are ours). An observer id
 * that names no observer gives the empty aggregates CoreScope gives.
 *
 *  timeline         observations per bucket: 1 h for 1 day, 4 h up to 7 days, else 24 h,
 *                   aligned to the epoch (Go's Truncate), ascending; labels "15:04",
 *                   "Mon 15:04" or "Jan 02" (UTC)
 *  packetTypes      observations per payload type (of their transmission), keys as strings
 *                   in Go's map order (sorted as strings)
 *  nodesTimeline    per bucket, the distinct path hops and decoded pubKey/srcHash/destHash
 *  snrDistribution  observations per 2-dB bucket, Go's int(snr)/2*2 with one step down for
 *                   negative values off the even grid, ascending
 *  recentPackets    the 20 newest observations as CoreScope's enrichObs map (sorted keys)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "an_int.h"
#include "shm/json.h"
#include "shm/timeutil.h"

#define RECENT 20

typedef struct {
    int64_t bucket;
    int64_t count;
} bcount_t;

static int cmp_bucket(const void *a, const void *b)
{
    const bcount_t *x = a, *y = b;
    return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

static void label(char *out, size_t n, int64_t bucket_s, int days)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)bucket_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (days <= 1)
        snprintf(out, n, "%02d:%02d", tm.tm_hour, tm.tm_min);
    else if (days <= 7)
        snprintf(out, n, "%s %02d:%02d", wd[tm.tm_wday], tm.tm_hour, tm.tm_min);
    else
        snprintf(out, n, "%s %02d", mo[tm.tm_mon], tm.tm_mday);
}

/* Appends [{"label":..,"count":..}] for the counts of a bucket map (value: int64 count),
 * sorted by bucket. */
static void timeline(msn_buf_t *b, const an_map_t *m, int days, msn_arena_t *a)
{
    bcount_t *v = AN_ARRAY(a, bcount_t, m->n);
    for (uint32_t e = 0; e < m->n; e++) {
        memcpy(&v[e].bucket, m->keys[e], sizeof(int64_t));
        v[e].count = msn_an__map_n(m, e);
    }
    msn_an__qsort(v, m->n, sizeof(*v), cmp_bucket);
    msn_buf_putc(b, '[');
    for (uint32_t e = 0; e < m->n; e++) {
        char l[32];
        label(l, sizeof(l), v[e].bucket, days);
        msn_buf_printf(b, "%s{\"label\":\"%s\",\"count\":%lld}", e ? "," : "", l, (long long)v[e].count);
    }
    msn_buf_putc(b, ']');
}

static int snr_bucket(double snr)
{
    int i = (int)snr; /* Go's int(): toward zero */
    int bucket = i / 2 * 2;
    if (snr < 0 && i != bucket)
        bucket -= 2;
    return bucket;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

static void num_or_null(msn_buf_t *b, int has, double v)
{
    if (has)
        msn_json_double(b, v);
    else
        msn_buf_puts(b, "null");
}

/* One recentPackets entry: CoreScope's enrichObs, keys sorted. */
static void enriched(msn_buf_t *b, const msn_store_t *s, const msn_obs_t *o, const msn_observer_t *ob)
{
    const msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
    int first = 1;
#define KEY(k)                                                                                               \
    do {                                                                                                     \
        msn_buf_puts(b, first ? "{\"" k "\":" : ",\"" k "\":");                                            \
        first = 0;                                                                                           \
    } while (0)
    if (t) {
        KEY("decoded_json");
        msn_json_str_or_null(b, t->decoded_json && t->decoded_json[0] ? t->decoded_json : NULL);
    }
    KEY("direction");
    msn_json_str_or_null(b, o->direction && o->direction[0] ? o->direction : NULL);
    if (t) {
        KEY("hash");
        msn_json_str_or_null(b, t->hash && t->hash[0] ? t->hash : NULL);
    }
    KEY("id");
    msn_buf_put_i64(b, o->id);
    KEY("observer_iata");
    msn_json_str_or_null(b, ob->iata && ob->iata[0] ? ob->iata : NULL);
    KEY("observer_id");
    msn_json_str_or_null(b, ob->id && ob->id[0] ? ob->id : NULL);
    KEY("observer_name");
    msn_json_str_or_null(b, ob->name && ob->name[0] ? ob->name : NULL);
    KEY("path_json");
    msn_json_str_or_null(b, o->path_json && o->path_json[0] ? o->path_json : NULL);
    if (t) {
        KEY("payload_type");
        if (t->payload_type >= 0)
            msn_buf_put_i64(b, t->payload_type);
        else
            msn_buf_puts(b, "null");
        KEY("raw_hex");
        msn_json_str_or_null(b, t->raw_hex && t->raw_hex[0] ? t->raw_hex : NULL);
    }
    if (o->rp) {
        KEY("resolved_path");
        msn_buf_putc(b, '[');
        for (uint32_t k = 0; k < o->rp_n; k++) {
            if (k)
                msn_buf_putc(b, ',');
            if (o->rp[k] == MSN_KEY_NONE)
                msn_buf_puts(b, "null");
            else
                msn_json_strn(b, s->keys[o->rp[k]], 64);
        }
        msn_buf_putc(b, ']');
    }
    if (t) {
        KEY("route_type");
        if (t->route_type >= 0)
            msn_buf_put_i64(b, t->route_type);
        else
            msn_buf_puts(b, "null");
    }
    KEY("rssi");
    num_or_null(b, o->has_rssi, o->rssi);
    KEY("score");
    if (o->has_score)
        msn_buf_put_i64(b, (int64_t)o->score);
    else
        msn_buf_puts(b, "null");
    KEY("snr");
    num_or_null(b, o->has_snr, o->snr);
    KEY("timestamp");
    char iso[32];
    msn_format_iso_ms(iso, msn_an__ms(o->timestamp));
    msn_buf_printf(b, "\"%s\"}", iso);
#undef KEY
}

static int parse_param(const char *p, int *days, const char **id)
{
    if (p == NULL)
        return -1;
    char *end;
    long d = strtol(p, &end, 10);
    if (end == p || *end != ':' || d < 1 || d > 365 || end[1] == 0)
        return -1;
    *days = (int)d;
    *id = end + 1;
    return 0;
}

int msn_an__observer_analytics(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    int days = 7;
    const char *id = NULL;
    int32_t oi = -1;
    if (parse_param(c->shape->param, &days, &id) == 0)
        for (uint32_t i = 0; i < s->n_observers && oi < 0; i++)
            if (s->observers[i].id && strcmp(s->observers[i].id, id) == 0)
                oi = (int32_t)i;
    uint32_t n = 0;
    const uint32_t *list = oi >= 0 ? msn_an__observer_obs(c, (uint32_t)oi, &n) : NULL;
    int64_t since_ms = c->now_ms - (int64_t)days * 86400000LL;
    int64_t bucket_s = days <= 1 ? 3600 : days <= 7 ? 4 * 3600 : 86400;
    an_map_t counts, nodes, nodecounts, types;
    msn_an__map_init(&counts, c->arena, sizeof(int64_t));
    msn_an__map_init(&nodes, c->arena, 0);
    msn_an__map_init(&nodecounts, c->arena, sizeof(int64_t));
    msn_an__map_init(&types, c->arena, sizeof(int64_t));
    int *snr = AN_ARRAY(c->arena, int, n);
    uint32_t n_snr = 0, n_in = 0;
    an_hops_t hops;
    msn_an__hops_init(&hops, c);
    msn_buf_t *key = msn_an__buf(c);
    for (uint32_t k = 0; k < n; k++) {
        const msn_obs_t *o = &s->obs[list[k]];
        if (msn_an__ms(o->timestamp) < since_ms)
            break; /* newest first: the rest is older */
        n_in++;
        int64_t bucket = o->timestamp / bucket_s * bucket_s;
        if (o->timestamp < 0 && o->timestamp % bucket_s)
            bucket -= bucket_s;
        msn_an__map_count(&counts, &bucket, sizeof(bucket));
        msn_an__map_intern(&nodecounts, &bucket, sizeof(bucket), NULL); /* the bucket exists even without nodes */
        const msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
        if (t && t->payload_type >= 0) {
            char pt[24];
            int l = snprintf(pt, sizeof(pt), "%d", t->payload_type);
            msn_an__map_count(&types, pt, (size_t)l);
        }
        /* distinct nodes of the bucket: key = bucket + node text */
        const an_txkeys_t *tk = t ? msn_an__tx_keys(c, (uint32_t)(t - s->tx)) : NULL;
        msn_an__hops_parse(&hops, o->path_json);
        int nk = tk ? tk->nk : 0;
        for (int h = 0; h < nk + hops.n; h++) {
            const char *p = h < nk ? tk->k[h] : hops.h[h - nk].p;
            size_t pl = h < nk ? tk->n[h] : hops.h[h - nk].n;
            if (p == NULL || pl == 0)
                continue;
            msn_buf_reset(key);
            msn_buf_append(key, &bucket, sizeof(bucket));
            msn_buf_append(key, p, pl);
            int is_new;
            msn_an__map_intern(&nodes, key->data, key->len, &is_new);
            if (is_new)
                (*(int64_t *)msn_an__map_val(&nodecounts,
                                             (uint32_t)msn_an__map_find(&nodecounts, &bucket, sizeof(bucket))))++;
        }
        if (o->has_snr)
            snr[n_snr++] = snr_bucket(o->snr);
    }

    msn_buf_puts(out, "{\"timeline\":");
    timeline(out, &counts, days, c->arena);
    msn_buf_puts(out, ",\"packetTypes\":{");
    uint32_t *ord = msn_an__map_sorted(&types);
    for (uint32_t e = 0; e < types.n; e++) {
        uint32_t i = ord[e];
        msn_buf_printf(out, "%s\"%.*s\":%lld", e ? "," : "", (int)types.klen[i], types.keys[i],
                       (long long)msn_an__map_n(&types, i));
    }
    msn_buf_puts(out, "},\"nodesTimeline\":");
    timeline(out, &nodecounts, days, c->arena);
    msn_buf_puts(out, ",\"snrDistribution\":[");
    msn_an__qsort(snr, n_snr, sizeof(int), cmp_int);
    for (uint32_t i = 0; i < n_snr;) {
        uint32_t j = i;
        while (j < n_snr && snr[j] == snr[i])
            j++;
        msn_buf_printf(out, "%s{\"range\":\"%d to %d\",\"count\":%u}", i ? "," : "", snr[i], snr[i] + 2, j - i);
        i = j;
    }
    msn_buf_puts(out, "],\"recentPackets\":[");
    for (uint32_t k = 0; k < n_in && k < RECENT; k++) {
        if (k)
            msn_buf_putc(out, ',');
        enriched(out, s, &s->obs[list[k]], &s->observers[oi]);
    }
    msn_buf_puts(out, "]}");
    return 0;
}
