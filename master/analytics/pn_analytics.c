/*
 * pn_analytics.c: a node's analytics over the last `days` days (CoreScope
 * GetNodeAnalytics).
 *
 * The packets are the node's transmissions (nodeidx.h) whose first_seen is after now -
 * days (compared as RFC3339 text, as CoreScope does); per transmission the best
 * observation gives SNR, RSSI, observer and hop count. Rounding is CoreScope's round()
 * (toward zero after adding half a unit).
 *
 * Departures from CoreScope: packet types are listed by type and heatmap cells by day
 * then hour (Go leaves both in map order); peers and observers with equal counts are
 * ordered by key. clockSkew is the node's own advert clock (the fleet view's entry with
 * its samples): CoreScope takes every advert of byNode, which includes other nodes'
 * adverts the node relayed.
 */
#include "pn_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shm/json.h"
#include "shm/timeutil.h"

typedef struct {
    const char *name;
    int64_t count;
    const char *last;
    const char *key;
    uint32_t kn;
} peer_t;

static int peer_cmp(const void *a, const void *b)
{
    const peer_t *x = *(const peer_t *const *)a, *y = *(const peer_t *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return msn_an__bytes_cmp(x->key, x->kn, y->key, y->kn);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Adds a peer candidate (key, name) seen at first_seen. */
static void add_peer(an_map_t *peers, msn_arena_t *a, const char *k, size_t kn, const char *nm, size_t nn,
                     const char *first_seen)
{
    if (k == NULL || kn == 0)
        return;
    int is_new;
    uint32_t e = msn_an__map_intern(peers, k, kn, &is_new);
    peer_t *pe = msn_an__map_val(peers, e);
    if (is_new) {
        if (nm != NULL && nn > 0)
            pe->name = msn_arena_strndup(a, nm, nn);
        else if (kn >= 12)
            pe->name = msn_arena_strndup(a, k, 12);
        else
            pe->name = "";
        pe->last = first_seen;
        pe->key = peers->keys[e];
        pe->kn = peers->klen[e];
    }
    pe->count++;
    if (msn_pn__strcmp0(first_seen, pe->last) > 0)
        pe->last = first_seen;
}

/* The peers a decoded packet names (sender_key, recipient_key, pubkey other than pk). */
static void peers_of(an_map_t *peers, msn_arena_t *a, const msn_tx_t *t, const char *pk, msn_jsonr_obj_t *jo,
                     msn_buf_t *s1, msn_buf_t *s2)
{
    if (t->decoded_json == NULL || t->decoded_json[0] == '\0')
        return;
    if (msn_jsonr_obj_parse(jo, t->decoded_json, strlen(t->decoded_json)) < 0)
        return;
    static const char *const keys[3][3] = {{"sender_key", "sender_name", "sender_short_name"},
                                           {"recipient_key", "recipient_name", "recipient_short_name"},
                                           {"pubkey", "name", NULL}};
    for (int i = 0; i < 3; i++) {
        size_t kn = 0, nn = 0;
        const char *k = msn_jsonr_obj_str(jo, keys[i][0], s1, &kn);
        if (k == NULL || kn == 0 || (kn == strlen(pk) && memcmp(k, pk, kn) == 0))
            continue;
        const char *nm = msn_jsonr_obj_str(jo, keys[i][1], s2, &nn);
        if ((nm == NULL || nn == 0) && keys[i][2] != NULL)
            nm = msn_jsonr_obj_str(jo, keys[i][2], s2, &nn);
        add_peer(peers, a, k, kn, nm, nm ? nn : 0, t->first_seen);
    }
}

int msn_pernode_analytics(msn_pernode_t *p, uint32_t key, int days, msn_buf_t *out)
{
    const msn_store_t *s = p->s;
    int32_t node = msn_pn__node(p, key);
    msn_buf_reset(out);
    if (node < 0 || days < 1)
        return 0;
    const char *pk = s->keys[key];
    uint32_t n;
    const uint32_t *txs = msn_nodeidx_txs(p->x, key, &n);
    msn_arena_t *a = msn_pn__tmp(p);
    int64_t now_s = floor_div(p->c.now_ms, 1000);
    char from[32], to[32];
    msn_format_iso_s(from, now_s - (int64_t)days * 86400);
    msn_format_iso_s(to, now_s);
    /* the packets of the window */
    uint32_t *pk_tx = AN_ARRAY(a, uint32_t, n);
    uint32_t np = 0;
    for (uint32_t i = 0; i < n; i++)
        if (msn_pn__strcmp0(s->tx[txs[i]].first_seen, from) > 0)
            pk_tx[np++] = txs[i];
    /* one pass: buckets, types, hops, heatmap, SNR sums, peers */
    an_map_t buckets, peers;
    msn_an__map_init(&buckets, a, sizeof(int64_t));
    msn_an__map_init(&peers, a, sizeof(peer_t));
    int64_t types[256] = {0}, hop_counts[5] = {0}, heat[7][24];
    memset(heat, 0, sizeof(heat));
    int hop_seen[5] = {0};
    int64_t with_path = 0, relayed = 0, snr_n = 0;
    double snr_sum = 0;
    msn_jsonr_obj_t *jo = msn_arena_calloc(a, 1, sizeof(msn_jsonr_obj_t));
    msn_buf_t s1 = MSN_BUF_INIT, s2 = MSN_BUF_INIT;
    for (uint32_t i = 0; i < np; i++) {
        const msn_tx_t *t = &s->tx[pk_tx[i]];
        const msn_obs_t *o = msn_pn__best(s, t);
        char hb[16];
        if (msn_an__hour_of_tx(t, hb) == 13)
            msn_an__map_count(&buckets, hb, 13);
        if (t->payload_type >= 0 && t->payload_type < 256)
            types[t->payload_type]++;
        int h = o ? o->hops : 0;
        int slot = h >= 4 ? 4 : h;
        hop_counts[slot]++;
        hop_seen[slot] = 1;
        if (h > 0) {
            with_path++;
            if (h > 1)
                relayed++;
        }
        if (o && o->has_snr) {
            snr_sum += o->snr;
            snr_n++;
        }
        int64_t ms;
        if (t->first_seen && msn_parse_time_ms(t->first_seen, &ms) == 0) {
            int64_t secs = floor_div(ms, 1000), day = floor_div(secs, 86400);
            int dow = (int)(((day + 4) % 7 + 7) % 7);
            int hour = (int)((secs - day * 86400) / 3600);
            heat[dow][hour]++;
        }
        peers_of(&peers, a, t, pk, jo, &s1, &s2);
    }
    msn_buf_free(&s1);
    msn_buf_free(&s2);
    uint32_t n_st;
    pn_obsstat_t *st = msn_pn__obsstats(p, pk_tx, np, &n_st);

    msn_buf_puts(out, "{\"node\":");
    msn_pn__base(p, node, out);
    msn_an__open(out, "timeRange", '{');
    msn_an__kstr(out, "from", from);
    msn_an__kstr(out, "to", to);
    msn_an__ki64(out, "days", days);
    msn_buf_putc(out, '}');
    /* activityTimeline: hourly buckets ascending; also the longest silence between them */
    uint32_t *bk = msn_an__map_sorted(&buckets);
    int64_t longest = 0;
    const char *longest_start = NULL;
    int64_t prev_ms = 0;
    char prev_b[32] = "";
    msn_an__open(out, "activityTimeline", '[');
    for (uint32_t i = 0; i < buckets.n; i++) {
        char b[32];
        snprintf(b, sizeof(b), "%.13s:00:00Z", buckets.keys[bk[i]]);
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "count", msn_an__map_n(&buckets, bk[i]));
        msn_an__kstr(out, "bucket", b);
        msn_buf_putc(out, '}');
        int64_t ms;
        int ok = msn_parse_time_ms(b, &ms) == 0;
        if (i > 0 && ok && prev_b[0] && ms - prev_ms > longest) {
            longest = ms - prev_ms;
            longest_start = msn_arena_strdup(a, prev_b);
        }
        if (ok) {
            prev_ms = ms;
            snprintf(prev_b, sizeof(prev_b), "%s", b);
        } else {
            prev_b[0] = '\0';
        }
    }
    msn_buf_putc(out, ']');
    /* snrTrend: every packet with an SNR, in packet order */
    double mean = snr_n ? snr_sum / (double)snr_n : 0, sq = 0;
    msn_an__open(out, "snrTrend", '[');
    for (uint32_t i = 0; i < np; i++) {
        const msn_tx_t *t = &s->tx[pk_tx[i]];
        const msn_obs_t *o = msn_pn__best(s, t);
        if (!o || !o->has_snr)
            continue;
        sq += (o->snr - mean) * (o->snr - mean);
        const msn_observer_t *ob = msn_pn__observer(p, o);
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "timestamp", t->first_seen);
        msn_an__kdbl(out, "snr", o->snr);
        msn_pn__kdbl_or_null(out, "rssi", o->has_rssi, o->rssi);
        msn_pn__kstr_or_null(out, "observer_id", ob ? ob->id : NULL, 1);
        msn_pn__kstr_or_null(out, "observer_name", ob ? ob->name : NULL, 1);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    double sd = snr_n > 1 ? sqrt(sq / (double)snr_n) : 0;
    msn_an__open(out, "packetTypeBreakdown", '[');
    for (int t = 0; t < 256; t++)
        if (types[t]) {
            msn_an__open(out, NULL, '{');
            msn_an__ki64(out, "payload_type", t);
            msn_an__ki64(out, "count", types[t]);
            msn_buf_putc(out, '}');
        }
    msn_buf_putc(out, ']');
    msn_an__open(out, "observerCoverage", '[');
    for (uint32_t i = 0; i < n_st; i++) {
        const msn_observer_t *ob = &s->observers[st[i].obs];
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "observer_id", ob->id);
        msn_an__kstr(out, "observer_name", ob->name);
        msn_an__ki64(out, "packetCount", st[i].count);
        msn_pn__kdbl_or_null(out, "avgSnr", st[i].snr_n > 0, st[i].snr_n ? st[i].snr_sum / (double)st[i].snr_n : 0);
        msn_pn__kdbl_or_null(out, "avgRssi", st[i].rssi_n > 0,
                             st[i].rssi_n ? st[i].rssi_sum / (double)st[i].rssi_n : 0);
        msn_an__kstr(out, "firstSeen", st[i].first);
        msn_an__kstr(out, "lastSeen", st[i].last);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    static const char *const hop_names[5] = {"0", "1", "2", "3", "4+"};
    msn_an__open(out, "hopDistribution", '[');
    for (int i = 0; i < 5; i++)
        if (hop_seen[i]) {
            msn_an__open(out, NULL, '{');
            msn_an__kstr(out, "hops", hop_names[i]);
            msn_an__ki64(out, "count", hop_counts[i]);
            msn_buf_putc(out, '}');
        }
    msn_buf_putc(out, ']');
    peer_t **pord = AN_ARRAY(a, peer_t *, peers.n);
    for (uint32_t i = 0; i < peers.n; i++)
        pord[i] = msn_an__map_val(&peers, i);
    msn_an__qsort(pord, peers.n, sizeof(*pord), peer_cmp);
    uint32_t n_peers = peers.n < 20 ? peers.n : 20;
    msn_an__open(out, "peerInteractions", '[');
    for (uint32_t i = 0; i < n_peers; i++) {
        msn_an__open(out, NULL, '{');
        msn_an__kstrn(out, "peer_key", pord[i]->key, pord[i]->kn);
        msn_an__kstr(out, "peer_name", pord[i]->name);
        msn_an__ki64(out, "messageCount", pord[i]->count);
        msn_an__kstr(out, "lastContact", pord[i]->last);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__open(out, "uptimeHeatmap", '[');
    for (int d = 0; d < 7; d++)
        for (int h = 0; h < 24; h++)
            if (heat[d][h]) {
                msn_an__open(out, NULL, '{');
                msn_an__ki64(out, "dayOfWeek", d);
                msn_an__ki64(out, "hour", h);
                msn_an__ki64(out, "count", heat[d][h]);
                msn_buf_putc(out, '}');
            }
    msn_buf_putc(out, ']');
    /* computedStats */
    double avail = msn_an__round_trunc((double)buckets.n * 100.0 / ((double)days * 24), 1);
    if (avail > 100)
        avail = 100;
    const char *grade = "D";
    if (mean > 15 && sd < 2)
        grade = "A";
    else if (mean > 15)
        grade = "A-";
    else if (mean > 12 && sd < 3)
        grade = "B+";
    else if (mean > 8)
        grade = "B";
    else if (mean > 3)
        grade = "C";
    msn_an__open(out, "computedStats", '{');
    msn_an__kdbl(out, "availabilityPct", avail);
    msn_an__ki64(out, "longestSilenceMs", longest);
    msn_pn__kstr_or_null(out, "longestSilenceStart", longest_start, 0);
    msn_an__kstr(out, "signalGrade", grade);
    msn_an__kdbl(out, "snrMean", msn_an__round_trunc(mean, 1));
    msn_an__kdbl(out, "snrStdDev", msn_an__round_trunc(sd, 1));
    msn_an__kdbl(out, "relayPct", with_path ? msn_an__round_trunc((double)relayed * 100.0 / (double)with_path, 1) : 0);
    msn_an__ki64(out, "totalPackets", np);
    msn_an__ki64(out, "uniqueObservers", n_st);
    msn_an__ki64(out, "uniquePeers", n_peers);
    msn_an__kdbl(out, "avgPacketsPerDay", msn_an__round_trunc((double)np / (double)days, 1));
    msn_buf_putc(out, '}');
    const an_nodeskew_t *ns = p->skew ? msn_an__skew_find(p->skew, pk, 64) : NULL;
    if (ns != NULL) {
        msn_buf_t sk = MSN_BUF_INIT; /* rendered alone: as an element it would take a separator */
        msn_an__render_node_skew(&sk, s, p->skew, ns, 1);
        msn_an__key(out, "clockSkew");
        msn_buf_append(out, sk.data, sk.len);
        msn_buf_free(&sk);
    }
    msn_buf_putc(out, '}');
    msn_pn__tmp_done(p);
    return 1;
}

int msn_pernode_clock_skew(msn_pernode_t *p, uint32_t key, msn_buf_t *out)
{
    msn_buf_reset(out);
    const an_nodeskew_t *ns = p->skew ? msn_an__skew_find(p->skew, p->s->keys[key], 64) : NULL;
    if (ns == NULL)
        return 0;
    msn_an__render_node_skew(out, p->s, p->skew, ns, 1);
    return 1;
}
