/*
 * pn_health.c: a node's health (CoreScope GetNodeHealth), its bulk-health entry
 * (GetBulkHealth) and its enriched detail object (handleNodeDetail).
 *
 * Departures from CoreScope:
 *  - observers with equal packet counts are ordered by id (Go leaves map order);
 *  - detail: relay activity counts the node's transmissions in which it is a path hop
 *    (resolved_path, or the uniquely named hop of a path without one) and which are not
 *    adverts; CoreScope also folds in the transmissions whose raw one-byte hop equals the
 *    key's first byte, which counts collisions as relaying. The usefulness scores
 *    (traffic_share_score, bridge_score, ...) and multi-byte capability fields are not
 *    computed; transported_scopes is not emitted.
 */
#include "pn_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "master/render.h"
#include "shm/json.h"
#include "shm/timeutil.h"

/* The figures shared by health and bulk-health. */
typedef struct {
    int64_t today, snr_n, hops_total, hop_n, total_obs, total_obs_bulk;
    double snr_sum;
    const char *last;
} hstats_t;

static void hstats(const msn_pernode_t *p, const uint32_t *txs, uint32_t n, hstats_t *h)
{
    memset(h, 0, sizeof(*h));
    for (uint32_t i = 0; i < n; i++) {
        const msn_tx_t *t = &p->s->tx[txs[i]];
        const msn_obs_t *o = msn_pn__best(p->s, t);
        h->total_obs += t->n_obs;
        /* GetBulkHealth's running total: a zero total becomes 1 */
        h->total_obs_bulk += t->n_obs;
        if (h->total_obs_bulk == 0)
            h->total_obs_bulk = 1;
        if (msn_pn__strcmp0(t->first_seen, p->today) > 0)
            h->today++;
        if (o && o->has_snr) {
            h->snr_sum += o->snr;
            h->snr_n++;
        }
        if (h->last == NULL || msn_pn__strcmp0(t->first_seen, h->last) > 0)
            h->last = t->first_seen ? t->first_seen : "";
        if (o && o->hops > 0) {
            h->hops_total += o->hops;
            h->hop_n++;
        }
    }
}

/* The members of an observer row common to health and bulk-health. */
static void obs_row(msn_buf_t *b, const msn_pernode_t *p, const pn_obsstat_t *st, int with_can_relay)
{
    const msn_observer_t *ob = &p->s->observers[st->obs];
    msn_an__open(b, NULL, '{');
    msn_pn__kdbl_or_null(b, "avgRssi", st->rssi_n > 0, st->rssi_n ? st->rssi_sum / (double)st->rssi_n : 0);
    msn_pn__kdbl_or_null(b, "avgSnr", st->snr_n > 0, st->snr_n ? st->snr_sum / (double)st->snr_n : 0);
    if (with_can_relay) {
        if (ob->has_can_relay)
            msn_an__kbool(b, "can_relay", ob->can_relay);
        else
            msn_an__knull(b, "can_relay");
    }
    msn_an__kstr(b, "observer_id", ob->id);
    msn_an__kstr(b, "observer_name", ob->name);
    msn_an__ki64(b, "packetCount", st->count);
    msn_buf_putc(b, '}');
}

int msn_pernode_health(msn_pernode_t *p, uint32_t key, msn_buf_t *out)
{
    uint32_t n;
    const uint32_t *txs = msn_nodeidx_txs(p->x, key, &n);
    int32_t node = msn_pn__node(p, key);
    msn_buf_reset(out);
    if (node < 0 && n == 0)
        return 0;
    msn_pn__tmp(p);
    hstats_t h;
    hstats(p, txs, n, &h);
    uint32_t n_st;
    pn_obsstat_t *st = msn_pn__obsstats(p, txs, n, &n_st);
    msn_buf_puts(out, "{\"node\":");
    if (node >= 0) {
        msn_pn__base(p, node, out);
    } else {
        msn_buf_puts(out, "{\"name\":\"Unknown\",\"public_key\":\"");
        msn_buf_append(out, p->s->keys[key], 64);
        msn_buf_puts(out, "\",\"role\":\"unknown\"}");
    }
    msn_an__open(out, "observers", '[');
    for (uint32_t i = 0; i < n_st; i++)
        obs_row(out, p, &st[i], 1);
    msn_buf_putc(out, ']');
    /* the newest 20, newest first, as /api/packets rows without observations */
    msn_an__open(out, "recentPackets", '[');
    for (uint32_t i = n, k = 0; i-- > 0 && k < 20; k++) {
        msn_an__sep(out);
        msn_render_tx_fragment(out, p->s, &p->s->tx[txs[i]]);
    }
    msn_buf_putc(out, ']');
    msn_an__open(out, "stats", '{');
    msn_an__ki64(out, "avgHops", h.hop_n ? (int64_t)llround((double)h.hops_total / (double)h.hop_n) : 0);
    msn_pn__kdbl_or_null(out, "avgSnr", h.snr_n > 0, h.snr_n ? h.snr_sum / (double)h.snr_n : 0);
    msn_pn__kstr_or_null(out, "lastHeard", h.last, 1);
    msn_an__ki64(out, "packetsToday", h.today);
    msn_an__ki64(out, "totalObservations", h.total_obs);
    msn_an__ki64(out, "totalPackets", n);
    msn_an__ki64(out, "totalTransmissions", n);
    msn_buf_puts(out, "}}");
    msn_pn__tmp_done(p);
    return 1;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int msn_pernode_bulk(msn_pernode_t *p, uint32_t key, msgpack_sbuffer *out)
{
    const msn_store_t *s = p->s;
    int32_t node = msn_pn__node(p, key);
    msgpack_sbuffer_clear(out);
    if (node < 0)
        return 0;
    uint32_t n;
    const uint32_t *txs = msn_nodeidx_txs(p->x, key, &n);
    msn_arena_t *a = msn_pn__tmp(p);
    /* the regions that heard it: every observation, not only the best */
    uint8_t *seen = AN_ARRAY(a, uint8_t, s->n_observers);
    const char **iatas = AN_ARRAY(a, const char *, s->n_observers);
    uint32_t n_iata = 0;
    for (uint32_t i = 0; i < n; i++) {
        const msn_tx_t *t = &s->tx[txs[i]];
        for (uint32_t j = 0; j < t->n_obs; j++) {
            int32_t oi = msn_an__obs_observer(&p->c, &s->obs[t->obs[j]]);
            if (oi < 0 || seen[oi])
                continue;
            seen[oi] = 1;
            const char *iata = s->observers[oi].iata;
            if (iata == NULL || iata[0] == '\0')
                continue;
            int dup = 0;
            for (uint32_t k = 0; k < n_iata && !dup; k++)
                dup = strcmp(iatas[k], iata) == 0;
            if (!dup)
                iatas[n_iata++] = iata;
        }
    }
    msn_an__qsort(iatas, n_iata, sizeof(*iatas), cmp_cstr);
    hstats_t h;
    hstats(p, txs, n, &h);
    uint32_t n_st;
    pn_obsstat_t *st = msn_pn__obsstats(p, txs, n, &n_st);
    const msn_node_t *nd = &s->nodes[node];
    msn_buf_t bb = MSN_BUF_INIT, *b = &bb;
    msn_buf_putc(b, '{');
    msn_pn__kdbl_or_null(b, "lat", nd->has_lat, nd->lat);
    msn_pn__kdbl_or_null(b, "lon", nd->has_lon, nd->lon);
    msn_pn__kstr_or_null(b, "name", nd->name, 1);
    msn_an__open(b, "observers", '[');
    for (uint32_t i = 0; i < n_st; i++)
        obs_row(b, p, &st[i], 0);
    msn_buf_putc(b, ']');
    msn_an__kstr(b, "public_key", nd->public_key);
    msn_pn__kstr_or_null(b, "role", nd->role, 1);
    msn_an__open(b, "stats", '{');
    msn_pn__kdbl_or_null(b, "avgSnr", h.snr_n > 0, h.snr_n ? h.snr_sum / (double)h.snr_n : 0);
    msn_pn__kstr_or_null(b, "lastHeard", h.last, 1);
    msn_an__ki64(b, "packetsToday", h.today);
    msn_an__ki64(b, "totalObservations", h.total_obs_bulk);
    msn_an__ki64(b, "totalPackets", n);
    msn_an__ki64(b, "totalTransmissions", n);
    msn_buf_puts(b, "}}");
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, n_iata);
    for (uint32_t k = 0; k < n_iata; k++) {
        msgpack_pack_str(&pk, strlen(iatas[k]));
        msgpack_pack_str_body(&pk, iatas[k], strlen(iatas[k]));
    }
    msgpack_pack_bin(&pk, b->len);
    msgpack_pack_bin_body(&pk, b->data, b->len);
    msn_buf_free(b);
    msn_pn__tmp_done(p);
    return 1;
}

/* ---- detail ---- */

typedef struct {
    const char *key;
    size_t off, len; /* the value in the members buffer */
} member_t;

typedef struct {
    member_t m[40];
    int n;
    msn_buf_t *vals;
} members_t;

/* Starts member `key`: its value is what is appended to m->vals until the next call. */
static msn_buf_t *member(members_t *m, const char *key)
{
    if (m->n > 0)
        m->m[m->n - 1].len = m->vals->len - m->m[m->n - 1].off;
    m->m[m->n].key = key;
    m->m[m->n].off = m->vals->len;
    m->n++;
    return m->vals;
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const member_t *)a)->key, ((const member_t *)b)->key);
}

static void json_str_or_null(msn_buf_t *b, const char *s)
{
    msn_json_str_or_null(b, s);
}

static void dbl_or_null(msn_buf_t *b, int has, double v)
{
    if (has)
        msn_json_double(b, v);
    else
        msn_buf_puts(b, "null");
}

/* 1 when node key `key` is a path hop of transmission t in one of its observations. */
static int is_hop(const msn_pernode_t *p, const msn_tx_t *t, uint32_t key)
{
    const msn_store_t *s = p->s;
    for (uint32_t j = 0; j < t->n_obs; j++) {
        const msn_obs_t *o = &s->obs[t->obs[j]];
        if (o->rp != NULL) {
            for (int i = 0; i < o->rp_n; i++)
                if (o->rp[i] == key)
                    return 1;
            continue;
        }
        an_hops_t hops;
        msn_an__hops_init(&hops, &p->c);
        hops.arena = p->tmp;
        if (msn_an__hops_parse(&hops, o->path_json) <= 0)
            continue;
        for (int i = 0; i < hops.n; i++) {
            int32_t r = msn_nodeidx_unique_relay(p->x, hops.h[i].p, hops.h[i].n);
            if (r >= 0 && memcmp(p->x->relay[r], s->keys[key], 64) == 0)
                return 1;
        }
    }
    return 0;
}

int msn_pernode_detail(msn_pernode_t *p, uint32_t key, msn_buf_t *out)
{
    const msn_store_t *s = p->s;
    int32_t node = msn_pn__node(p, key);
    msn_buf_reset(out);
    if (node < 0)
        return 0;
    const msn_node_t *nd = &s->nodes[node];
    uint32_t n;
    const uint32_t *txs = msn_nodeidx_txs(p->x, key, &n);
    msn_pn__tmp(p);
    msn_buf_t vals = MSN_BUF_INIT;
    members_t m = {.n = 0, .vals = &vals};
    msn_buf_put_i64(member(&m, "advert_count"), nd->advert_count);
    dbl_or_null(member(&m, "battery_mv"), nd->has_battery, (double)nd->battery_mv);
    if (s->schema.nodes_default_scope)
        json_str_or_null(member(&m, "default_scope"), nd->default_scope);
    json_str_or_null(member(&m, "first_seen"), nd->first_seen);
    msn_buf_puts(member(&m, "foreign"), nd->foreign ? "true" : "false");
    json_str_or_null(member(&m, "last_heard"), nd->last_seen);
    json_str_or_null(member(&m, "last_seen"), nd->last_seen);
    dbl_or_null(member(&m, "lat"), nd->has_lat, nd->lat);
    dbl_or_null(member(&m, "lon"), nd->has_lon, nd->lon);
    json_str_or_null(member(&m, "name"), nd->name);
    json_str_or_null(member(&m, "public_key"), nd->public_key);
    json_str_or_null(member(&m, "role"), nd->role);
    dbl_or_null(member(&m, "temperature_c"), nd->has_temp, nd->temperature_c);
    /* hash size from the adverts of the last 7 days (EnrichNodeWithHashSize) */
    const an_hsinfo_t *hs = &p->hs[node];
    if (hs->has) {
        msn_buf_put_i64(member(&m, "hash_size"), hs->hash_size);
        msn_buf_puts(member(&m, "hash_size_inconsistent"), hs->inconsistent ? "true" : "false");
        if (__builtin_popcount(hs->sizes_mask) > 1) {
            msn_buf_t *v = member(&m, "hash_sizes_seen");
            msn_buf_putc(v, '[');
            int first = 1;
            for (int k = 0; k < 4; k++)
                if ((hs->sizes_mask >> k) & 1) {
                    if (!first)
                        msn_buf_putc(v, ',');
                    first = 0;
                    msn_buf_put_i64(v, k + 1);
                }
            msn_buf_putc(v, ']');
        }
    } else {
        msn_buf_puts(member(&m, "hash_size"), "null");
        msn_buf_puts(member(&m, "hash_size_inconsistent"), "false");
    }
    int64_t now = p->c.now_ms;
    /* flood adverts of the last 7 days, distinct by hash (CountFloodAdvertsForNode) */
    int64_t floods = 0;
    for (uint32_t i = 0; i < n; i++) {
        const msn_tx_t *t = &s->tx[txs[i]];
        if (t->payload_type != 4 || t->route_type != 1 || t->from_pubkey == NULL ||
            strcasecmp(t->from_pubkey, s->keys[key]) != 0)
            continue;
        if (t->first_seen_ms > now - 7 * 86400000LL)
            floods++;
    }
    msn_buf_put_i64(member(&m, "flood_advert_count_7d"), floods);
    if (nd->role && (strcmp(nd->role, "repeater") == 0 || strcmp(nd->role, "room") == 0)) {
        int64_t c1 = 0, c24 = 0, unscoped = 0, latest = 0;
        const char *latest_raw = NULL;
        for (uint32_t i = 0; i < n; i++) {
            const msn_tx_t *t = &s->tx[txs[i]];
            int64_t ms;
            if (t->payload_type == 4 || t->first_seen == NULL || msn_parse_time_ms(t->first_seen, &ms) < 0 ||
                !is_hop(p, t, key))
                continue;
            if (latest_raw == NULL || ms > latest) {
                latest = ms;
                latest_raw = t->first_seen;
            }
            if (ms > now - 86400000LL) {
                c24++;
                if (t->route_type == 1)
                    unscoped++;
                if (ms > now - 3600000LL)
                    c1++;
            }
        }
        if (latest_raw)
            json_str_or_null(member(&m, "last_relayed"), latest_raw);
        msn_buf_puts(member(&m, "relay_active"), latest_raw && latest > now - 24 * 3600000LL ? "true" : "false");
        msn_buf_put_i64(member(&m, "relay_count_1h"), c1);
        msn_buf_put_i64(member(&m, "relay_count_24h"), c24);
        msn_buf_put_i64(member(&m, "relay_window_hours"), 24);
        msn_buf_put_i64(member(&m, "unscoped_relay_count_24h"), unscoped);
    }
    m.m[m.n - 1].len = m.vals->len - m.m[m.n - 1].off;
    qsort(m.m, (size_t)m.n, sizeof(member_t), member_cmp);
    msn_buf_putc(out, '{');
    for (int i = 0; i < m.n; i++) {
        if (i)
            msn_buf_putc(out, ',');
        msn_json_key(out, m.m[i].key);
        msn_buf_append(out, m.vals->data + m.m[i].off, m.m[i].len);
    }
    msn_buf_putc(out, '}');
    msn_buf_free(&vals);
    msn_pn__tmp_done(p);
    return 1;
}
