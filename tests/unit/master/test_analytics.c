/*
 * test_analytics.c: the analytics of master/analytics on a hand-made store whose figures
 * are worked out by hand (hop distributions, distances, collisions, clock skew, ...),
 * a store full of malformed rows, and the CoreScope fixture database (skipped when the
 * shared fixtures are absent). Every body must be valid JSON and match the golden
 * shapes (when available) and the key lists below.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "master/analytics/analytics.h"
#include "master/arena.h"
#include "master/store.h"
#include "shm/json.h"
#include "shm/jsonr.h"
#include "shm/timeutil.h"
#include "test_analytics_json.h"
#include "testlib.h"

#define NOW_MS 1784376000000LL /* 2026-07-18T12:00:00Z */
#define T0 1784372400LL        /* 2026-07-18T11:00:00Z */

/* ---- building a store by hand ---- */

static const char *key64(msn_store_t *s, const char *prefix)
{
    char k[65];
    memset(k, '0', 64);
    k[64] = 0;
    memcpy(k, prefix, strlen(prefix));
    return msn_arena_strdup(s->arena, k);
}

static void add_node(msn_store_t *s, const char *prefix, const char *name, const char *role, int gps, double lat,
                     double lon, int64_t adverts, int64_t last_seen_s)
{
    s->nodes = msn_xrealloc(s->nodes, (s->n_nodes + 1) * sizeof(msn_node_t));
    msn_node_t *n = &s->nodes[s->n_nodes++];
    memset(n, 0, sizeof(*n));
    n->public_key = key64(s, prefix);
    n->name = name;
    n->role = role;
    n->has_lat = n->has_lon = (uint8_t)gps;
    n->lat = lat;
    n->lon = lon;
    n->advert_count = adverts;
    char iso[32];
    msn_format_iso_s(iso, last_seen_s);
    n->last_seen = msn_arena_strdup(s->arena, iso);
    n->last_seen_ms = last_seen_s * 1000;
}

static void add_observer(msn_store_t *s, int64_t rowid, const char *id, const char *name, const char *iata)
{
    s->observers = msn_xrealloc(s->observers, (s->n_observers + 1) * sizeof(msn_observer_t));
    msn_observer_t *o = &s->observers[s->n_observers++];
    memset(o, 0, sizeof(*o));
    o->rowid = rowid;
    o->id = id;
    o->name = name;
    o->iata = iata;
}

static msn_tx_t *add_tx(msn_store_t *s, int64_t id, const char *raw, int pt, const char *decoded, int64_t first_s)
{
    s->tx = msn_xrealloc(s->tx, (s->n_tx + 1) * sizeof(msn_tx_t));
    msn_tx_t *t = &s->tx[s->n_tx++];
    memset(t, 0, sizeof(*t));
    t->id = id;
    t->raw_hex = raw;
    char h[32];
    snprintf(h, sizeof(h), "%016llx", (unsigned long long)(0xabc000 + id));
    t->hash = msn_arena_strdup(s->arena, h);
    char iso[32];
    msn_format_iso_s(iso, first_s);
    t->first_seen = msn_arena_strdup(s->arena, iso);
    t->first_seen_ms = first_s * 1000;
    t->route_type = 1;
    t->payload_type = pt;
    t->decoded_json = decoded;
    t->best = -1;
    s->max_tx_id = id;
    return t;
}

static int hops_of(const char *path)
{
    if (path == NULL)
        return 0;
    int n = msn_json_str_array_each(path, strlen(path), NULL, NULL);
    return n < 0 ? 0 : n;
}

/* Adds an observation to transmission id (snr/rssi NAN = NULL); keeps the store's best rule. */
static void add_obs(msn_store_t *s, int64_t tx_id, int64_t observer_rowid, int64_t ts, const char *path, double snr,
                    double rssi)
{
    msn_tx_t *t = msn_store_tx_by_id(s, tx_id);
    s->obs = msn_xrealloc(s->obs, (s->n_obs + 1) * sizeof(msn_obs_t));
    uint32_t oi = s->n_obs++;
    msn_obs_t *o = &s->obs[oi];
    memset(o, 0, sizeof(*o));
    o->id = oi + 1;
    o->tx_id = tx_id;
    o->observer_rowid = observer_rowid;
    o->timestamp = ts;
    o->path_json = path;
    o->hops = (uint8_t)hops_of(path);
    if (!isnan(snr)) {
        o->snr = snr;
        o->has_snr = 1;
    }
    if (!isnan(rssi)) {
        o->rssi = rssi;
        o->has_rssi = 1;
    }
    t->obs = msn_xrealloc(t->obs, (t->n_obs + 1) * sizeof(uint32_t));
    t->obs[t->n_obs++] = oi;
    if (t->best < 0) {
        t->best = (int32_t)oi;
    } else {
        const msn_obs_t *b = &s->obs[t->best];
        if (o->hops > b->hops || (o->hops == b->hops && (o->timestamp > b->timestamp || o->id > b->id)))
            t->best = (int32_t)oi;
    }
}

static const char *fmt(msn_store_t *s, const char *f, const char *a, long long b)
{
    char buf[512];
    snprintf(buf, sizeof(buf), f, a, b);
    return msn_arena_strdup(s->arena, buf);
}

/*
 * Nodes: RptA aa11 (37.0,-122.0), RptC aa33 (no position), RptE aa77 (37.01,-122.01),
 * RptB bb22 (37.5,-122.0), Comp cc44 companion (37.0,-121.5), Room dd55 room,
 * Nan ee66 (lat NaN, last seen a month ago), RptG ff77 (38.0,-122.0).
 * Observers: OBS1 (SJC), OBS2 ("lax ").
 */
static void build_store(msn_store_t *s)
{
    msn_store_init(s);
    int64_t recent = T0;
    add_node(s, "aa11", "RptA", "repeater", 1, 37.0, -122.0, 10, recent);
    add_node(s, "aa33", "RptC", "repeater", 0, 0, 0, 5, recent);
    add_node(s, "aa77", "RptE", "repeater", 1, 37.01, -122.01, 3, recent);
    add_node(s, "bb22", "RptB", "repeater", 1, 37.5, -122.0, 8, recent);
    add_node(s, "cc44", "Comp", "companion", 1, 37.0, -121.5, 1, recent);
    add_node(s, "dd55", "Room", "room", 0, 0, 0, 1, recent);
    add_node(s, "ee66", "Nan", "repeater", 1, NAN, 1.0, 1, T0 - 30 * 86400);
    add_node(s, "ff77", "RptG", "repeater", 1, 38.0, -122.0, 2, recent);
    add_observer(s, 1, "OBS1", "Obs One", "SJC");
    add_observer(s, 2, "OBS2", "Obs Two", "lax ");
    const char *A = s->nodes[0].public_key, *B = s->nodes[3].public_key, *C = s->nodes[4].public_key;
    const char *C3 = s->nodes[1].public_key, *E = s->nodes[2].public_key, *G = s->nodes[7].public_key;
    const char *adv = "{\"type\":\"ADVERT\",\"pubKey\":\"%s\",\"timestamp\":%lld}";

    /* 1: RptA's advert, heard by both observers 10 s apart */
    add_tx(s, 1, "1102BBAA0000000000000000000000000000000000000000", 4, fmt(s, adv, A, T0), T0);
    add_obs(s, 1, 1, T0, "[\"BB\",\"AA11\"]", 5, -80);
    add_obs(s, 1, 2, T0 + 10, "[\"BB\"]", -3, -100);
    /* 2: RptB's advert, 600 s ahead */
    add_tx(s, 2, "1101AA0000000000000000000000000000000000000000", 4, fmt(s, adv, B, T0 + 660), T0 + 60);
    add_obs(s, 2, 1, T0 + 60, "[\"AA11\"]", 7, -70);
    /* 3: a direct message */
    add_tx(s, 3, "0901BB00000000000000000000", 2, "{\"type\":\"TXT_MSG\"}", T0 + 120);
    add_obs(s, 3, 2, T0 + 120, "[\"BB\"]", 1, -90);
    /* 4: the companion's advert, two hours behind */
    add_tx(s, 4, "1101BB000000000000000000000000000000000000000000000000000000000000", 4,
           fmt(s, adv, C, T0 + 180 - 7200), T0 + 180);
    add_obs(s, 4, 1, T0 + 180, "[\"BB\"]", 2, -95);
    /* 5-8: channel messages */
    add_tx(s, 5, "1503AABBDD00000000000000000000", 5,
           "{\"type\":\"CHAN\",\"channel\":\"Public\",\"channelHash\":17,\"channelHashHex\":\"11\","
           "\"decryptionStatus\":\"decrypted\",\"text\":\"hello\",\"sender\":\"alice\"}",
           T0 + 240);
    add_obs(s, 5, 1, T0 + 240, "[\"AA\",\"BB\",\"DD\"]", 3, -85);
    add_tx(s, 6, "150000000000000000000000", 5,
           "{\"type\":\"CHAN\",\"channel\":\"#bogus\",\"channelHash\":17,\"text\":\"hi\",\"sender\":\"bob\"}", T0 + 300);
    add_obs(s, 6, 2, T0 + 300, "[]", 4, -88);
    add_tx(s, 7, "150000000000000000000000", 5,
           "{\"type\":\"CHAN\",\"channel\":\"#test\",\"channelHash\":217,\"text\":\"yo\",\"sender\":\"alice\"}",
           T0 + 310);
    add_obs(s, 7, 1, T0 + 310, "[]", 0.5, -75);
    add_tx(s, 8, "150000000000000000000000", 5,
           "{\"type\":\"GRP_TXT\",\"channelHash\":200,\"channelHashHex\":\"C8\",\"decryptionStatus\":\"no_key\"}",
           T0 + 320);
    add_obs(s, 8, 2, T0 + 320, "[]", NAN, NAN);
    /* 9-10: adverts nobody relayed (hash size facts only) */
    add_tx(s, 9, "110000000000000000000000", 4, fmt(s, adv, C3, T0), T0 + 330);
    add_tx(s, 10, "110000000000000000000000", 4, fmt(s, adv, E, T0), T0 + 340);
    /* 11: RptG's advert with 2-byte hashes */
    add_tx(s, 11, "1141BB220000000000000000000000", 4,
           fmt(s, "{\"type\":\"ADVERT\",\"pubKey\":\"%s\",\"timestamp\":%lld,\"name\":\"RptG\"}", G, T0 + 400),
           T0 + 400);
    add_obs(s, 11, 2, T0 + 400, "[\"BB22\"]", 6, -60);
    /* 12: RptB's zero-hop direct advert, heard in LAX */
    add_tx(s, 12, "1200000000000000000000000000", 4, fmt(s, adv, B, T0 + 1600), T0 + 1000);
    s->tx[s->n_tx - 1].route_type = 2;
    add_obs(s, 12, 2, T0 + 1000, "[]", NAN, NAN);
}

static int64_t now_ms = NOW_MS; /* "now" of the analytics */

static jv_t *compute(msn_store_t *s, int an, const msn_an_shape_t *shape)
{
    msn_buf_t b = MSN_BUF_INIT;
    char err[256] = "";
    int rc = msn_analytic_compute(an, s, shape, now_ms, &b, err, sizeof(err));
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "analytic %s: %s\n", msn_analytic_names[an], err);
    jv_t *v = jv_parse(b.data ? b.data : "", b.len);
    if (v == NULL)
        fprintf(stderr, "analytic %s: invalid JSON: %.300s\n", msn_analytic_names[an], b.data ? b.data : "");
    CHECK(v != NULL);
    msn_buf_free(&b);
    return v;
}

static int near(double a, double b, double eps)
{
    return fabs(a - b) <= eps;
}

/* ---- key lists (CoreScope field names; maps in alphabetical order) ---- */

static int has_keys(const jv_t *o, const char *const *keys)
{
    int ok = o != NULL && o->t == 'o';
    for (int i = 0; ok && keys[i]; i++)
        if (jv_get(o, keys[i]) == NULL) {
            fprintf(stderr, "missing key %s\n", keys[i]);
            ok = 0;
        }
    return ok;
}

static const char *const k_topology[] = {"avgHops", "bestPathList", "hopDistribution", "hopsVsSnr", "maxHops",
                                         "medianHops", "multiObsNodes", "observers", "perObserverReach",
                                         "topPairs", "topRepeaters", "uniqueNodes", NULL};
static const char *const k_rf[] = {"avgPacketSize", "maxPacketSize", "minPacketSize", "packetSizes",
                                   "packetsPerHour", "payloadTypes", "rssi", "rssiValues", "scatterData",
                                   "signalOverTime", "snr", "snrByType", "snrValues", "timeSpanHours",
                                   "totalAllPackets", "totalPackets", "totalTransmissions", NULL};
static const char *const k_distance[] = {"catStats", "distHistogram", "distOverTime", "summary", "topHops",
                                         "topPaths", NULL};
static const char *const k_channels[] = {"activeChannels", "channelTimeline", "channels", "decryptable",
                                         "msgLengths", "topSenders", NULL};
static const char *const k_channel[] = {"encrypted", "hash", "lastActivity", "messages", "name", "senders", NULL};
static const char *const k_hash_sizes[] = {"attributionMethod", "distribution", "distributionByRepeaters",
                                           "hourly", "multiByteCapability", "multiByteNodes", "topHops",
                                           "total", NULL};
static const char *const k_mbcap[] = {"pubkey", "name", "role", "status", "evidence", "maxHashSize", "lastSeen",
                                      NULL};
static const char *const k_collisions[] = {"by_size", "inconsistent_nodes", NULL};
static const char *const k_size_stats[] = {"collision_count", "nodes_for_byte", "pct_used",   "space_size",
                                           "total_nodes",     "unique_prefixes", "using_this_size", NULL};
static const char *const k_cnode[] = {"public_key", "name", "role", "lat", "lon", "hash_size",
                                      "hash_size_inconsistent", NULL};
static const char *const k_collision[] = {"prefix", "byte_size", "appearances", "nodes", "max_dist_km",
                                          "classification", "with_coords", NULL};
static const char *const k_roles_entry[] = {"role",          "nodeCount",    "withSkew",      "meanAbsSkewSec",
                                            "medianAbsSkewSec", "okCount",  "warningCount", "criticalCount",
                                            "absurdCount",   "noClockCount", NULL};
static const char *const k_obs_skew[] = {"observerID", "offsetSec", "samples", NULL};
static const char *const k_node_skew[] = {"pubkey", "meanSkewSec", "medianSkewSec", "lastSkewSec",
                                          "recentMedianSkewSec", "driftPerDaySec", "severity", "sampleCount",
                                          "calibrated", "lastAdvertTS", "lastObservedTS", "goodFraction",
                                          "recentBadSampleCount", "recentSampleCount", NULL};
static const char *const k_subpaths[] = {"subpaths", "totalPaths", NULL};

/* Checks the key lists of every analytic body (arrays: every element). */
static void check_keys(int an, const jv_t *v)
{
    switch (an) {
    case MSN_AN_TOPOLOGY:
        CHECK(has_keys(v, k_topology) && jv_keys_sorted(v));
        break;
    case MSN_AN_RF:
        CHECK(has_keys(v, k_rf) && jv_keys_sorted(v));
        break;
    case MSN_AN_DISTANCE:
        CHECK(has_keys(v, k_distance) && jv_keys_sorted(v));
        break;
    case MSN_AN_CHANNELS: {
        CHECK(has_keys(v, k_channels) && jv_keys_sorted(v));
        const jv_t *ch = jv_get(v, "channels");
        for (size_t i = 0; ch && i < ch->n; i++)
            CHECK(has_keys(ch->items[i], k_channel) && jv_keys_sorted(ch->items[i]));
        break;
    }
    case MSN_AN_HASH_SIZES: {
        CHECK(has_keys(v, k_hash_sizes) && jv_keys_sorted(v));
        const jv_t *mb = jv_get(v, "multiByteCapability");
        for (size_t i = 0; mb && i < mb->n; i++)
            CHECK(has_keys(mb->items[i], k_mbcap));
        break;
    }
    case MSN_AN_HASH_COLLISIONS: {
        CHECK(has_keys(v, k_collisions) && jv_keys_sorted(v));
        const jv_t *bs = jv_get(v, "by_size");
        CHECK(bs != NULL && bs->t == 'o' && bs->n == 3);
        for (int k = 1; k <= 3; k++) {
            char key[2] = {(char)('0' + k), 0};
            const jv_t *sz = jv_get(bs, key);
            CHECK(has_keys(jv_get(sz, "stats"), k_size_stats));
            const jv_t *cl = jv_get(sz, "collisions");
            CHECK(cl != NULL && cl->t == 'a');
            for (size_t i = 0; cl && i < cl->n; i++) {
                CHECK(has_keys(cl->items[i], k_collision));
                const jv_t *nodes = jv_get(cl->items[i], "nodes");
                for (size_t q = 0; nodes && q < nodes->n; q++)
                    CHECK(has_keys(nodes->items[q], k_cnode));
            }
            if (k == 1) {
                const jv_t *cells = jv_get(sz, "one_byte_cells");
                CHECK(cells != NULL && cells->n == 256 && jv_keys_sorted(cells));
            }
            if (k == 2) {
                const jv_t *cells = jv_get(sz, "two_byte_cells");
                CHECK(cells != NULL && cells->n == 256 && jv_keys_sorted(cells));
                const char *const cell_keys[] = {"group_nodes", "two_byte_map", "max_collision", "collision_count",
                                                 NULL};
                CHECK(cells && has_keys(cells->items[0], cell_keys));
            }
        }
        break;
    }
    case MSN_AN_ROLES: {
        CHECK(v && v->t == 'o' && jv_get(v, "totalNodes") && jv_get(v, "roles"));
        const jv_t *r = jv_get(v, "roles");
        for (size_t i = 0; r && i < r->n; i++)
            CHECK(has_keys(r->items[i], k_roles_entry));
        break;
    }
    case MSN_AN_SUBPATHS:
        CHECK(has_keys(v, k_subpaths) && jv_keys_sorted(v));
        break;
    case MSN_AN_OBSERVERS_CLOCK_SKEW:
        CHECK(v && v->t == 'a');
        for (size_t i = 0; v && i < v->n; i++)
            CHECK(has_keys(v->items[i], k_obs_skew));
        break;
    case MSN_AN_NODES_CLOCK_SKEW:
        CHECK(v && v->t == 'a');
        for (size_t i = 0; v && i < v->n; i++)
            CHECK(has_keys(v->items[i], k_node_skew));
        break;
    }
}

/* Golden shapes from the shared fixtures (NULL when unavailable). */
static jv_t *golden(void)
{
    const char *shared = msn_test_shared_dir();
    if (shared == NULL)
        return NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/fixtures/corescope-api/golden-shapes.json", shared);
    size_t n;
    char *text = read_file_all(path, &n);
    if (text == NULL)
        return NULL;
    jv_t *g = jv_parse(text, n);
    free(text);
    return g;
}

static const char *golden_key(int an)
{
    switch (an) {
    case MSN_AN_TOPOLOGY:
        return "analytics_topology";
    case MSN_AN_RF:
        return "analytics_rf";
    case MSN_AN_DISTANCE:
        return "analytics_distance";
    case MSN_AN_HASH_SIZES:
        return "analytics_hash_sizes";
    case MSN_AN_SUBPATHS:
        return "analytics_subpaths";
    default:
        return NULL;
    }
}

/* Computes every analytic, checks JSON, key lists and golden shapes; returns 1 if all fine. */
static void check_all(msn_store_t *s, const msn_an_shape_t *shape, int null_numbers)
{
    jv_t *g = golden();
    for (int an = 0; an < MSN_AN_COUNT; an++) {
        jv_t *v = compute(s, an, shape);
        if (v == NULL)
            continue;
        check_keys(an, v);
        const char *gk = golden_key(an);
        jv_t *dh = an == MSN_AN_DISTANCE ? jv_get(v, "distHistogram") : NULL;
        int no_hist = dh != NULL && dh->t == 'a';
        if (no_hist) {
            /* CoreScope emits [] instead of the histogram object when there is no hop */
            CHECK_EQ_INT(dh->n, 0);
            CHECK_EQ_INT(jv_num(jv_get(jv_get(v, "summary"), "totalHops")), 0);
        }
        if (g != NULL && gk != NULL) {
            jv_t *hspec = jv_get(jv_get(jv_get(g, gk), "keys"), "distHistogram");
            jv_t *htype = jv_get(hspec, "type");
            char *saved = htype ? htype->str : NULL;
            if (no_hist && htype)
                htype->str = "nullable";
            shape_errors = 0;
            shape_check(v, jv_get(g, gk), gk, null_numbers);
            if (htype)
                htype->str = saved;
            if (shape_errors)
                fprintf(stderr, "%s: %d shape errors\n", msn_analytic_names[an], shape_errors);
            CHECK_EQ_INT(shape_errors, 0);
        }
        jv_free(v);
    }
    jv_free(g);
}

/* ---- tests on the hand-made store ---- */

static void test_shapes(void)
{
    msn_store_t s;
    build_store(&s);
    check_all(&s, NULL, 0);
    msn_an_shape_t lax = {"lax", 0, 0, NULL, NULL, NULL};
    check_all(&s, &lax, 1);
    msn_an_shape_t win = {NULL, (T0 + 100) * 1000, (T0 + 350) * 1000, "somewhere", NULL, NULL};
    check_all(&s, &win, 1);
    msn_store_free(&s);
}

static void test_topology(void)
{
    msn_store_t s;
    build_store(&s);
    jv_t *v = compute(&s, MSN_AN_TOPOLOGY, NULL);
    /* best paths: [BB,AA11] [AA11] [BB] [BB] [AA,BB,DD] [BB22] */
    const jv_t *hd = jv_get(v, "hopDistribution");
    CHECK(hd != NULL && hd->n == 3);
    CHECK_EQ_INT(jv_num(jv_get(jv_at(hd, 0), "hops")), 1);
    CHECK_EQ_INT(jv_num(jv_get(jv_at(hd, 0), "count")), 4);
    CHECK_EQ_INT(jv_num(jv_get(jv_at(hd, 1), "hops")), 2);
    CHECK_EQ_INT(jv_num(jv_get(jv_at(hd, 1), "count")), 1);
    CHECK_EQ_INT(jv_num(jv_get(jv_at(hd, 2), "hops")), 3);
    CHECK(near(jv_num(jv_get(v, "avgHops")), 1.5, 1e-12));
    CHECK_EQ_INT(jv_num(jv_get(v, "medianHops")), 1);
    CHECK_EQ_INT(jv_num(jv_get(v, "maxHops")), 3);
    CHECK_EQ_INT(jv_num(jv_get(v, "uniqueNodes")), 7); /* Nan was last seen a month ago */
    /* "BB" (4x) and "BB22" (1x) both name RptB only: merged under the longer prefix */
    const jv_t *tr = jv_at(jv_get(v, "topRepeaters"), 0);
    CHECK_EQ_STR(jv_str(jv_get(tr, "hop")), "BB22");
    CHECK_EQ_INT(jv_num(jv_get(tr, "count")), 5);
    CHECK_EQ_STR(jv_str(jv_get(tr, "name")), "RptB");
    /* "AA" is ambiguous (three relays) and stays apart, resolved for its name */
    const jv_t *reps = jv_get(v, "topRepeaters");
    int saw_aa = 0;
    for (size_t i = 0; reps && i < reps->n; i++)
        if (jv_str(jv_get(reps->items[i], "hop")) && strcmp(jv_str(jv_get(reps->items[i], "hop")), "AA") == 0) {
            saw_aa = 1;
            CHECK_EQ_INT(jv_num(jv_get(reps->items[i], "count")), 1);
        }
    CHECK(saw_aa);
    /* observers heard: both, with names */
    const jv_t *obs = jv_get(v, "observers");
    CHECK(obs && obs->n == 2);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(obs, 0), "name")), "Obs One");
    /* OBS1's reach: BB at distance 2 (tx 1) and 2 (tx 5), AA11 at 1 */
    const jv_t *reach = jv_get(jv_get(jv_get(v, "perObserverReach"), "OBS1"), "rings");
    CHECK(reach != NULL && reach->n >= 1);
    CHECK_EQ_INT(jv_num(jv_get(jv_at(reach, 0), "hops")), 1);
    CHECK(jv_keys_sorted(jv_get(v, "perObserverReach")));
    /* hopsVsSnr: 1 hop: SNR 7 (tx2), 1 (tx3), 2 (tx4), 6 (tx11) */
    const jv_t *hs = jv_at(jv_get(v, "hopsVsSnr"), 0);
    CHECK_EQ_INT(jv_num(jv_get(hs, "count")), 4);
    CHECK(near(jv_num(jv_get(hs, "avgSnr")), 4.0, 1e-12));
    jv_free(v);
    msn_store_free(&s);
}

static void test_rf(void)
{
    msn_store_t s;
    build_store(&s);
    jv_t *v = compute(&s, MSN_AN_RF, NULL);
    /* 11 observations, plus 2 transmissions without any */
    CHECK_EQ_INT(jv_num(jv_get(v, "totalAllPackets")), 13);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalPackets")), 9);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalTransmissions")), 12);
    const jv_t *snr = jv_get(v, "snr");
    CHECK(near(jv_num(jv_get(snr, "min")), -3, 0));
    CHECK(near(jv_num(jv_get(snr, "max")), 7, 0));
    CHECK(near(jv_num(jv_get(snr, "median")), 3, 0));
    CHECK(near(jv_num(jv_get(snr, "avg")), 25.5 / 9, 1e-12));
    const jv_t *pt = jv_at(jv_get(v, "payloadTypes"), 0);
    CHECK_EQ_STR(jv_str(jv_get(pt, "name")), "ADVERT");
    CHECK_EQ_INT(jv_num(jv_get(pt, "count")), 7);
    CHECK_EQ_INT(jv_get(jv_get(v, "snrValues"), "bins")->n, 20);
    CHECK_EQ_INT(jv_get(jv_get(v, "packetSizes"), "bins")->n, 25);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(jv_get(v, "packetsPerHour"), 0), "hour")), "2026-07-18T11");
    jv_free(v);

    /* window [T0+100, T0+350]: transmissions 3..10, 6 observations + 2 without */
    msn_an_shape_t win = {NULL, (T0 + 100) * 1000, (T0 + 350) * 1000, NULL, NULL, NULL};
    v = compute(&s, MSN_AN_RF, &win);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalAllPackets")), 8);
    jv_free(v);

    /* region LAX: OBS2's observations only (iata "lax " is trimmed and upper-cased) */
    msn_an_shape_t lax = {" Lax ,", 0, 0, NULL, NULL, NULL};
    v = compute(&s, MSN_AN_RF, &lax);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalAllPackets")), 6);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalPackets")), 4);
    jv_free(v);

    /* a region no observer carries filters nothing, as in CoreScope */
    msn_an_shape_t none = {"XYZ", 0, 0, NULL, NULL, NULL};
    v = compute(&s, MSN_AN_RF, &none);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalAllPackets")), 13);
    jv_free(v);
    msn_store_free(&s);
}

static void test_distance(void)
{
    msn_store_t s;
    build_store(&s);
    jv_t *v = compute(&s, MSN_AN_DISTANCE, NULL);
    /* chains: RptA-RptB-RptA, RptB-RptA, Comp-RptB, RptE-RptB (AA resolved near RptB), RptG-RptB */
    const jv_t *sum = jv_get(v, "summary");
    CHECK_EQ_INT(jv_num(jv_get(sum, "totalHops")), 6);
    CHECK_EQ_INT(jv_num(jv_get(sum, "totalPaths")), 5);
    CHECK(near(jv_num(jv_get(sum, "maxDist")), 71.06, 1e-9));
    const jv_t *h0 = jv_at(jv_get(v, "topHops"), 0);
    CHECK_EQ_STR(jv_str(jv_get(h0, "type")), "C\xe2\x86\x94R");
    CHECK_EQ_STR(jv_str(jv_get(h0, "fromName")), "Comp");
    CHECK(near(jv_num(jv_get(h0, "dist")), 71.06, 1e-9));
    /* RptA-RptB: 55.6 km (0.5 degree of latitude), seen 3 times with SNR 5, 5, 7 */
    const jv_t *h1 = jv_at(jv_get(v, "topHops"), 1);
    CHECK(near(jv_num(jv_get(h1, "dist")), 55.6, 1e-9));
    CHECK_EQ_INT(jv_num(jv_get(h1, "obsCount")), 3);
    CHECK(near(jv_num(jv_get(h1, "bestSnr")), 7, 0));
    CHECK(near(jv_num(jv_get(h1, "medianSnr")), 5, 0));
    CHECK_EQ_STR(jv_str(jv_get(h1, "type")), "R\xe2\x86\x94R");
    const jv_t *rr = jv_get(jv_get(v, "catStats"), "R\xe2\x86\x94R");
    CHECK_EQ_INT(jv_num(jv_get(rr, "count")), 5);
    CHECK(near(jv_num(jv_get(rr, "max")), 55.6, 1e-9));
    CHECK(jv_keys_sorted(jv_get(v, "catStats")));
    const jv_t *p0 = jv_at(jv_get(v, "topPaths"), 0);
    CHECK(near(jv_num(jv_get(p0, "totalDist")), 111.19, 1e-9));
    CHECK_EQ_INT(jv_num(jv_get(p0, "hopCount")), 2);
    CHECK_EQ_INT(jv_get(jv_get(v, "distHistogram"), "bins")->n, 25);
    jv_free(v);
    msn_store_free(&s);
}

/*
 * topHops SNR, CoreScope's dedupeHopsByPair: each hop record carries the SNR of its
 * transmission's best observation (tx.SNR); a pair's bestSnr is the largest and medianSnr
 * the median of its records' SNRs, over the records that have one; both are null only
 * when none has. An SNR of another observation than the best one does not count.
 */
static void test_distance_snr(void)
{
    msn_store_t s;
    msn_store_init(&s);
    add_node(&s, "a1", "RptX", "repeater", 1, 37.0, -122.0, 1, T0);
    add_node(&s, "b2", "RptY", "repeater", 1, 37.1, -122.0, 1, T0);
    add_node(&s, "c3", "RptZ", "repeater", 1, 37.3, -122.0, 1, T0);
    add_node(&s, "d4", "RptW", "repeater", 1, 37.5, -122.0, 1, T0);
    add_observer(&s, 1, "OBS1", "Obs One", "SJC");
    /* X-Y three times (once backwards), the best observations' SNR 4, none, 8 */
    add_tx(&s, 1, "0902A1B2", 2, "{}", T0);
    add_obs(&s, 1, 1, T0, "[\"A1\",\"B2\"]", 4, -90);
    add_tx(&s, 2, "0902A1B2", 2, "{}", T0 + 10);
    add_obs(&s, 2, 1, T0 + 10, "[\"A1\",\"B2\"]", NAN, NAN);
    add_tx(&s, 3, "0902B2A1", 2, "{}", T0 + 20);
    add_obs(&s, 3, 1, T0 + 20, "[\"B2\",\"A1\"]", 8, -80);
    /* Z-W once: the best observation (the longer path) has no SNR, a shorter copy has one */
    add_tx(&s, 4, "0902C3D4", 2, "{}", T0 + 30);
    add_obs(&s, 4, 1, T0 + 30, "[\"C3\",\"D4\"]", NAN, NAN);
    add_obs(&s, 4, 1, T0 + 31, "[\"C3\"]", 9, -70);
    jv_t *v = compute(&s, MSN_AN_DISTANCE, NULL);
    const jv_t *top = jv_get(v, "topHops");
    CHECK(top != NULL && top->n == 2);
    /* Z-W: 22.24 km, first */
    const jv_t *zw = jv_at(top, 0);
    CHECK_EQ_STR(jv_str(jv_get(zw, "fromName")), "RptZ");
    CHECK_EQ_INT(jv_num(jv_get(zw, "obsCount")), 1);
    CHECK(jv_get(zw, "bestSnr") != NULL && jv_get(zw, "bestSnr")->t == 'z');
    CHECK(jv_get(zw, "medianSnr") != NULL && jv_get(zw, "medianSnr")->t == 'z');
    /* X-Y: 11.12 km; SNRs 4 and 8 (the record without one is left out) */
    const jv_t *xy = jv_at(top, 1);
    CHECK(near(jv_num(jv_get(xy, "dist")), 11.12, 1e-9));
    CHECK_EQ_INT(jv_num(jv_get(xy, "obsCount")), 3);
    CHECK(near(jv_num(jv_get(xy, "bestSnr")), 8, 0));
    CHECK(near(jv_num(jv_get(xy, "medianSnr")), 6, 0));
    jv_free(v);
    msn_store_free(&s);
}

static void test_channels(void)
{
    msn_store_t s;
    build_store(&s);
    jv_t *v = compute(&s, MSN_AN_CHANNELS, NULL);
    CHECK_EQ_INT(jv_num(jv_get(v, "activeChannels")), 3);
    CHECK_EQ_INT(jv_num(jv_get(v, "decryptable")), 2);
    const jv_t *c0 = jv_at(jv_get(v, "channels"), 0);
    /* hash 17: "Public" (decrypted by key), "#bogus" rejected (does not hash to 17) */
    CHECK_EQ_STR(jv_str(jv_get(c0, "hash")), "17");
    CHECK_EQ_STR(jv_str(jv_get(c0, "name")), "Public");
    CHECK_EQ_INT(jv_num(jv_get(c0, "messages")), 2);
    CHECK_EQ_INT(jv_num(jv_get(c0, "senders")), 2);
    const jv_t *ch = jv_get(v, "channels");
    int saw_test = 0, saw_enc = 0;
    for (size_t i = 0; ch && i < ch->n; i++) {
        const char *name = jv_str(jv_get(ch->items[i], "name"));
        if (name && strcmp(name, "#test") == 0) /* SHA256(SHA256("#test")[0:16])[0] == 217 */
            saw_test = jv_get(ch->items[i], "encrypted")->boolean == 0;
        if (name && strcmp(name, "ch200") == 0)
            saw_enc = jv_get(ch->items[i], "encrypted")->boolean == 1;
    }
    CHECK(saw_test);
    CHECK(saw_enc);
    const jv_t *ts = jv_at(jv_get(v, "topSenders"), 0);
    CHECK_EQ_STR(jv_str(jv_get(ts, "name")), "alice");
    CHECK_EQ_INT(jv_num(jv_get(ts, "count")), 2);
    const jv_t *ml = jv_get(v, "msgLengths");
    CHECK(ml && ml->n == 3 && jv_num(ml->items[0]) == 5);
    const jv_t *tl = jv_get(v, "channelTimeline");
    CHECK(tl && tl->n == 4);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(tl, 2), "channel")), "ch17");
    jv_free(v);
    msn_store_free(&s);
}

static void test_hash_sizes(void)
{
    msn_store_t s;
    build_store(&s);
    jv_t *v = compute(&s, MSN_AN_HASH_SIZES, NULL);
    CHECK_EQ_INT(jv_num(jv_get(v, "total")), 6);
    const jv_t *d = jv_get(v, "distribution");
    CHECK_EQ_INT(jv_num(jv_get(d, "1")), 5);
    CHECK_EQ_INT(jv_num(jv_get(d, "2")), 1);
    CHECK_EQ_INT(jv_num(jv_get(d, "3")), 0);
    const jv_t *r = jv_get(v, "distributionByRepeaters");
    CHECK_EQ_INT(jv_num(jv_get(r, "1")), 4);
    CHECK_EQ_INT(jv_num(jv_get(r, "2")), 1);
    const jv_t *mb = jv_get(v, "multiByteNodes");
    CHECK(mb && mb->n == 1);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(mb, 0), "name")), "RptG");
    CHECK_EQ_INT(jv_num(jv_get(jv_at(mb, 0), "hashSize")), 2);
    CHECK_EQ_STR(jv_str(jv_get(v, "attributionMethod")), "observer");
    /* capability: RptG confirmed by its advert; RptB suspected (hop BB22 of a 2-byte packet) */
    const jv_t *cap = jv_get(v, "multiByteCapability");
    CHECK(cap && cap->n == 8);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(cap, 0), "name")), "RptG");
    CHECK_EQ_STR(jv_str(jv_get(jv_at(cap, 0), "status")), "confirmed");
    CHECK_EQ_STR(jv_str(jv_get(jv_at(cap, 1), "name")), "RptB");
    CHECK_EQ_STR(jv_str(jv_get(jv_at(cap, 1), "status")), "suspected");
    CHECK_EQ_INT(jv_num(jv_get(jv_at(cap, 1), "maxHashSize")), 2);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(cap, 2), "status")), "unknown");
    jv_free(v);

    /* region LAX: RptB's zero-hop advert was heard there, so attribution goes by home */
    msn_an_shape_t lax = {"LAX", 0, 0, NULL, NULL, NULL};
    v = compute(&s, MSN_AN_HASH_SIZES, &lax);
    CHECK_EQ_STR(jv_str(jv_get(v, "attributionMethod")), "repeater");
    jv_free(v);
    msn_store_free(&s);
}

static void test_hash_collisions(void)
{
    msn_store_t s;
    build_store(&s);
    jv_t *v = compute(&s, MSN_AN_HASH_COLLISIONS, NULL);
    const jv_t *one = jv_get(jv_get(v, "by_size"), "1");
    const jv_t *st = jv_get(one, "stats");
    CHECK_EQ_INT(jv_num(jv_get(st, "total_nodes")), 8);
    CHECK_EQ_INT(jv_num(jv_get(st, "nodes_for_byte")), 4); /* RptA, RptC, RptE, RptB */
    CHECK_EQ_INT(jv_num(jv_get(st, "using_this_size")), 5);
    CHECK_EQ_INT(jv_num(jv_get(st, "unique_prefixes")), 2);
    CHECK_EQ_INT(jv_num(jv_get(st, "collision_count")), 1);
    CHECK(near(jv_num(jv_get(st, "pct_used")), 2.0 / 256 * 100, 1e-12));
    /* AA: RptA, RptC, RptE; two with a position 1.42 km apart: local */
    const jv_t *c0 = jv_at(jv_get(one, "collisions"), 0);
    CHECK_EQ_STR(jv_str(jv_get(c0, "prefix")), "AA");
    CHECK_EQ_INT(jv_num(jv_get(c0, "appearances")), 3);
    CHECK_EQ_INT(jv_num(jv_get(c0, "with_coords")), 2);
    CHECK(near(jv_num(jv_get(c0, "max_dist_km")), 1.4230060921065208, 1e-9));
    CHECK_EQ_STR(jv_str(jv_get(c0, "classification")), "local");
    /* RptG (2-byte) is projected into the 1-byte cell FF */
    const jv_t *ff = jv_get(jv_get(one, "one_byte_cells"), "FF");
    CHECK(ff && ff->n == 1);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(ff, 0), "name")), "RptG");
    const jv_t *two = jv_get(jv_get(jv_get(v, "by_size"), "2"), "two_byte_cells");
    const jv_t *cell = jv_get(two, "FF");
    CHECK(jv_get(cell, "group_nodes") && jv_get(cell, "group_nodes")->n == 1);
    CHECK(jv_get(jv_get(cell, "two_byte_map"), "FF77") != NULL);
    CHECK_EQ_INT(jv_get(v, "inconsistent_nodes")->n, 0);
    jv_free(v);
    msn_store_free(&s);
}

static void test_collision_classes(void)
{
    /* two repeaters sharing "AB", 300 km apart: distant; a flip-flopping repeater */
    msn_store_t s;
    msn_store_init(&s);
    add_node(&s, "ab01", "Far1", "repeater", 1, 40.0, -100.0, 1, T0);
    add_node(&s, "ab02", "Far2", "repeater", 1, 42.7, -100.0, 1, T0);
    add_node(&s, "cd03", "Flip", "repeater", 0, 0, 0, 1, T0);
    const char *adv = "{\"type\":\"ADVERT\",\"pubKey\":\"%s\",\"timestamp\":%lld}";
    add_tx(&s, 1, "1100", 4, fmt(&s, adv, s.nodes[0].public_key, T0), T0);
    add_tx(&s, 2, "1100", 4, fmt(&s, adv, s.nodes[1].public_key, T0), T0);
    /* Flip: sizes 1, 2, 1, 2 */
    const char *raws[4] = {"1100", "1140", "1100", "1140"};
    for (int i = 0; i < 4; i++)
        add_tx(&s, 3 + i, raws[i], 4, fmt(&s, adv, s.nodes[2].public_key, T0), T0 + i);
    jv_t *v = compute(&s, MSN_AN_HASH_COLLISIONS, NULL);
    const jv_t *c0 = jv_at(jv_get(jv_get(jv_get(v, "by_size"), "1"), "collisions"), 0);
    CHECK_EQ_STR(jv_str(jv_get(c0, "classification")), "distant");
    CHECK(jv_num(jv_get(c0, "max_dist_km")) > 200);
    const jv_t *inc = jv_get(v, "inconsistent_nodes");
    CHECK(inc && inc->n == 1);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(inc, 0), "name")), "Flip");
    const jv_t *seen = jv_get(jv_at(inc, 0), "hash_sizes_seen");
    CHECK(seen && seen->n == 2 && jv_num(seen->items[1]) == 2);
    jv_free(v);
    msn_store_free(&s);
}

static const jv_t *find_by(const jv_t *arr, const char *key, const char *val)
{
    for (size_t i = 0; arr && i < arr->n; i++) {
        const char *s = jv_str(jv_get(arr->items[i], key));
        if (s && strcmp(s, val) == 0)
            return arr->items[i];
    }
    return NULL;
}

static void test_clock_skew(void)
{
    msn_store_t s;
    build_store(&s);
    /* observers: RptA's advert reached OBS1 at T0 and OBS2 at T0+10: offsets -5 and +5.
     * CoreScope's round() adds 0.5 and truncates toward zero, so -5 is reported as -4.9 (and
     * rounding it again gives -4.8); the figures below follow that. */
    jv_t *v = compute(&s, MSN_AN_OBSERVERS_CLOCK_SKEW, NULL);
    CHECK(v && v->n == 2);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(v, 0), "observerID")), "OBS2"); /* |5| before |-4.9| */
    CHECK(near(jv_num(jv_get(jv_at(v, 0), "offsetSec")), 5, 0));
    CHECK(near(jv_num(jv_get(jv_at(v, 1), "offsetSec")), -4.9, 0));
    CHECK_EQ_INT(jv_num(jv_get(jv_at(v, 1), "samples")), 1);
    jv_free(v);

    v = compute(&s, MSN_AN_NODES_CLOCK_SKEW, NULL);
    CHECK(v && v->n == 4); /* RptA, RptB, Comp, RptG (RptC and RptE were never observed) */
    const jv_t *b = find_by(v, "pubkey", s.nodes[3].public_key);
    /* RptB: +600 via OBS1 (corrected 595) and +600 via OBS2 (corrected 605): warning */
    CHECK_EQ_STR(jv_str(jv_get(b, "severity")), "warning");
    CHECK(near(jv_num(jv_get(b, "recentMedianSkewSec")), 600, 0));
    CHECK(near(jv_num(jv_get(b, "lastSkewSec")), 605, 0));
    CHECK(near(jv_num(jv_get(b, "meanSkewSec")), 600, 0));
    CHECK_EQ_INT(jv_num(jv_get(b, "sampleCount")), 2);
    CHECK(jv_get(b, "calibrated")->boolean);
    CHECK_EQ_STR(jv_str(jv_get(b, "nodeName")), "RptB");
    CHECK_EQ_INT(jv_num(jv_get(b, "lastObservedTS")), T0 + 1000);
    /* the companion's clock is two hours behind: a bad sample, no good ones: no_clock */
    const jv_t *c = find_by(v, "pubkey", s.nodes[4].public_key);
    CHECK_EQ_STR(jv_str(jv_get(c, "severity")), "no_clock");
    CHECK_EQ_INT(jv_num(jv_get(c, "recentBadSampleCount")), 1);
    const jv_t *bad = jv_at(jv_get(c, "recentBadSamples"), 0);
    CHECK(near(jv_num(jv_get(bad, "skewSec")), -7204.8, 0)); /* -7205, rounded twice as CoreScope does */
    CHECK_EQ_STR(jv_str(jv_get(c, "nodeRole")), "companion");
    const jv_t *a = find_by(v, "pubkey", s.nodes[0].public_key);
    CHECK_EQ_STR(jv_str(jv_get(a, "severity")), "ok");
    CHECK(near(jv_num(jv_get(a, "medianSkewSec")), -4.8, 0)); /* -5 rounded twice */
    CHECK(jv_get(a, "recentBadSamples") == NULL); /* omitted when empty */
    jv_free(v);

    v = compute(&s, MSN_AN_ROLES, NULL);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalNodes")), 8);
    const jv_t *r0 = jv_at(jv_get(v, "roles"), 0);
    CHECK_EQ_STR(jv_str(jv_get(r0, "role")), "repeater");
    CHECK_EQ_INT(jv_num(jv_get(r0, "nodeCount")), 6);
    CHECK_EQ_INT(jv_num(jv_get(r0, "withSkew")), 3);
    CHECK_EQ_INT(jv_num(jv_get(r0, "okCount")), 2);
    CHECK_EQ_INT(jv_num(jv_get(r0, "warningCount")), 1);
    CHECK(near(jv_num(jv_get(r0, "medianAbsSkewSec")), 5, 0));
    CHECK(near(jv_num(jv_get(r0, "meanAbsSkewSec")), 203.27, 1e-9)); /* (4.8 + 600 + 5) / 3 */
    CHECK_EQ_STR(jv_str(jv_get(jv_at(jv_get(v, "roles"), 1), "role")), "companion");
    CHECK_EQ_INT(jv_num(jv_get(jv_at(jv_get(v, "roles"), 1), "noClockCount")), 1);
    CHECK_EQ_STR(jv_str(jv_get(jv_at(jv_get(v, "roles"), 2), "role")), "room");
    jv_free(v);
    msn_store_free(&s);
}

static void test_clock_drift(void)
{
    /* one node, 10 adverts an hour apart, its clock gaining 2 s per advert: 48 s/day */
    msn_store_t s;
    msn_store_init(&s);
    add_node(&s, "ab01", "Drifter", "repeater", 0, 0, 0, 1, T0);
    add_observer(&s, 1, "OBS1", "Obs", "SJC");
    for (int i = 0; i < 10; i++) {
        int64_t obs_ts = T0 - 36000 + i * 3600;
        add_tx(&s, i + 1, "1100", 4,
               fmt(&s, "{\"type\":\"ADVERT\",\"pubKey\":\"%s\",\"timestamp\":%lld}", s.nodes[0].public_key,
                   obs_ts + 10 + 2 * i),
               obs_ts);
        add_obs(&s, i + 1, 1, obs_ts, "[]", NAN, NAN);
    }
    jv_t *v = compute(&s, MSN_AN_NODES_CLOCK_SKEW, NULL);
    const jv_t *n = jv_at(v, 0);
    CHECK(near(jv_num(jv_get(n, "driftPerDaySec")), 48, 1e-9));
    CHECK(near(jv_num(jv_get(n, "lastSkewSec")), 28, 0));
    CHECK_EQ_STR(jv_str(jv_get(n, "severity")), "ok");
    CHECK_EQ_INT(jv_num(jv_get(n, "recentSampleCount")), 2); /* the last hour, bounds included */
    CHECK(jv_get(n, "calibrated")->boolean == 0);
    jv_free(v);
    msn_store_free(&s);
}

static void test_subpaths(void)
{
    msn_store_t s;
    build_store(&s);
    jv_t *v = compute(&s, MSN_AN_SUBPATHS, NULL);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalPaths")), 2);
    const jv_t *sp = jv_get(v, "subpaths");
    CHECK(sp && sp->n == 4);
    const jv_t *e0 = jv_at(sp, 0);
    CHECK_EQ_STR(jv_str(jv_get(e0, "path")), "RptB \xe2\x86\x92 RptA");
    CHECK_EQ_STR(jv_str(jv_at(jv_get(e0, "rawHops"), 0)), "bb"); /* the unfiltered shape lower-cases */
    CHECK(near(jv_num(jv_get(e0, "pct")), 50, 0));
    CHECK_EQ_INT(jv_num(jv_get(e0, "hops")), 2);
    /* AA is ambiguous: the relay nearest the centroid of the positioned context is RptE */
    CHECK(find_by(sp, "path", "RptE \xe2\x86\x92 RptB \xe2\x86\x92 Room") != NULL);
    jv_free(v);

    /* a region keeps the hops' case */
    msn_an_shape_t sjc = {"SJC", 0, 0, NULL, NULL, NULL};
    v = compute(&s, MSN_AN_SUBPATHS, &sjc);
    CHECK_EQ_STR(jv_str(jv_at(jv_get(jv_at(jv_get(v, "subpaths"), 0), "rawHops"), 0)), "BB");
    jv_free(v);

    /* explicit parameters: only 3-hop runs */
    msn_buf_t b = MSN_BUF_INIT;
    char err[128];
    CHECK_EQ_INT(msn_analytic_subpaths(&s, NULL, 3, 3, 10, &b, err, sizeof(err)), 0);
    v = jv_parse(b.data, b.len);
    CHECK(v && jv_get(v, "subpaths")->n == 1);
    jv_free(v);
    msn_buf_free(&b);
    msn_store_free(&s);
}

/* ---- malformed rows ---- */

static void test_malformed(void)
{
    msn_store_t s;
    msn_store_init(&s);
    add_node(&s, "aa", NULL, NULL, 1, NAN, NAN, 0, 0);
    add_node(&s, "", "Empty", "repeater", 1, INFINITY, 3, 0, 0);
    add_node(&s, "bbZZ", "Weird \"name\" <&>", "REPEATER", 1, 91, 181, -5, T0);
    s.nodes[0].public_key = "aa"; /* a short key */
    add_observer(&s, 5, "OBS5", NULL, NULL);
    add_tx(&s, 1, "zz", 4, "{bad json", T0);
    add_obs(&s, 1, 999, T0, "[1,2", 1, 2);      /* unknown observer, malformed path */
    add_obs(&s, 1, -1, -5, "[\"AA\",null,\"\"]", NAN, 3); /* no observer, null hop */
    add_tx(&s, 2, "", -1, NULL, T0);
    s.tx[1].first_seen = "";
    s.tx[1].hash = "";
    add_tx(&s, 3, "11", 5, "{\"channelHash\":{\"x\":1},\"channel\":5}", T0); /* wrong types */
    add_obs(&s, 3, 5, T0, NULL, NAN, NAN);
    add_tx(&s, 4, "1540", 5, "{\"channelHash\":\"x\",\"text\":\"\\ud800\\u00e9\\\"\",\"sender\":\"\xff\"}", T0);
    add_obs(&s, 4, 5, T0, "[\"AB\",\"CD\",\"AB\",\"CD\",\"AB\",\"CD\",\"AB\",\"CD\",\"AB\",\"CD\"]", -1e300, 1e300);
    add_tx(&s, 5, "1100", 4, "{\"type\":\"ADVERT\",\"pubKey\":\"bbZZ\",\"timestamp\":1e99,\"payload\":[1]}", 0);
    s.tx[4].first_seen = "garbage";
    add_obs(&s, 5, 5, T0, "[\"BBZZ\"]", 0, 0);
    add_tx(&s, 6, "0x11", 4, "{\"type\":\"ADVERT\",\"pubKey\":\"aa\",\"timestamp\":1800000000,\"lat\":1e400}", T0);
    add_obs(&s, 6, 5, 1, "[\"AA\"]", NAN, NAN);
    add_obs(&s, 6, 5, INT64_MAX / 1000, "[\"AA\"]", NAN, NAN);
    add_tx(&s, 7, "1100", 9, "[]", T0);
    s.tx[6].best = 12345; /* out of range */
    check_all(&s, NULL, 1);
    msn_an_shape_t odd = {",,all,", INT64_MIN, -1, "", NULL, NULL};
    check_all(&s, &odd, 1);
    msn_store_free(&s);

    /* an empty store */
    msn_store_init(&s);
    check_all(&s, NULL, 1);
    msn_store_free(&s);
}

/* Transmissions whose decoded_json, path_json and raw_hex are random JSON-ish fragments. */
static void test_fuzz(void)
{
    static const char alphabet[] = "{}[]\":,\\u0aF9 -.eE+ntrufls#pubKeytimestamppayloadchannelHash";
    uint64_t x = 88172645463325252ull;
    msn_store_t s;
    msn_store_init(&s);
    add_node(&s, "ab", "N", "repeater", 1, 1, 1, 0, T0);
    add_observer(&s, 1, "AB00", "O", "SJC");
    for (int i = 0; i < 400; i++) {
        char frag[3][64];
        for (int f = 0; f < 3; f++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int len = (int)(x % 60);
            for (int k = 0; k < len; k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                frag[f][k] = alphabet[x % (sizeof(alphabet) - 1)];
            }
            frag[f][len] = 0;
        }
        /* every few rows, wrap the fragments so that they parse further */
        const char *dec = fmt(&s, i % 3 ? "%s%lld" : "{\"pubKey\":\"%s\",\"timestamp\":%lld}", frag[0], T0 + i);
        const char *path = fmt(&s, i % 2 ? "[\"%s\"%lld]" : "%s%lld", frag[1], i);
        const char *raw = fmt(&s, "%s%02llx", frag[2], i & 0xff);
        add_tx(&s, i + 1, raw, i % 16, dec, T0 + i);
        add_obs(&s, i + 1, 1 + i % 3, T0 + i, path, i % 7, -i);
    }
    check_all(&s, NULL, 1);
    msn_an_shape_t r = {"sjc", T0 * 1000, (T0 + 200) * 1000, NULL, NULL, NULL};
    check_all(&s, &r, 1);
    msn_store_free(&s);
}

/* ---- the CoreScope fixture database ---- */

static void test_fixture_db(void)
{
    const char *shared = msn_test_shared_dir();
    if (shared == NULL) {
        msn_test_skip("MESHSNAP_SHARED not set or missing (fixtures unavailable)");
        return;
    }
    char uri[1024];
    snprintf(uri, sizeof(uri), "file:%s/fixtures/corescope-e2e.db?immutable=1", shared);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        msn_test_skip("fixture database missing");
        return;
    }
    msn_store_t s;
    msn_store_init(&s);
    char err[256];
    atomic_int stop = 0;
    CHECK_EQ_INT(msn_store_load(&s, db, 100, NULL, NULL, &stop, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_reload_small(&s, db, NOW_MS / 1000, err, sizeof(err)), 0);
    sqlite3_close(db);
    CHECK(s.n_tx == 499);
    /* "now" is an hour after the newest transmission, so its adverts count as recent */
    now_ms = 0;
    for (uint32_t i = 0; i < s.n_tx; i++)
        if (s.tx[i].first_seen_ms + 3600000 > now_ms)
            now_ms = s.tx[i].first_seen_ms + 3600000;
    /* the fixture carries no SNR: numbers that come from SNR may be null */
    check_all(&s, NULL, 1);
    msn_an_shape_t r = {"SJC", 0, 0, NULL, NULL, NULL};
    check_all(&s, &r, 1);

    jv_t *v = compute(&s, MSN_AN_TOPOLOGY, NULL);
    CHECK(jv_num(jv_get(v, "maxHops")) > 0);
    CHECK(jv_get(v, "topRepeaters")->n > 0);
    jv_free(v);
    v = compute(&s, MSN_AN_RF, NULL);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalAllPackets")), s.n_obs);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalTransmissions")), 499);
    jv_free(v);
    v = compute(&s, MSN_AN_CHANNELS, NULL);
    CHECK(jv_num(jv_get(v, "activeChannels")) > 0);
    jv_free(v);
    v = compute(&s, MSN_AN_ROLES, NULL);
    CHECK_EQ_INT(jv_num(jv_get(v, "totalNodes")), s.n_nodes);
    jv_free(v);
    v = compute(&s, MSN_AN_HASH_COLLISIONS, NULL);
    CHECK(jv_num(jv_get(jv_get(jv_get(jv_get(v, "by_size"), "1"), "stats"), "nodes_for_byte")) > 0);
    jv_free(v);
    v = compute(&s, MSN_AN_TOPOLOGY, NULL);
    CHECK(jv_num(jv_get(v, "uniqueNodes")) > 0);
    jv_free(v);
    now_ms = NOW_MS;
    msn_store_free(&s);
}

int main(void)
{
    MSN_RUN(test_shapes);
    MSN_RUN(test_topology);
    MSN_RUN(test_rf);
    MSN_RUN(test_distance);
    MSN_RUN(test_distance_snr);
    MSN_RUN(test_channels);
    MSN_RUN(test_hash_sizes);
    MSN_RUN(test_hash_collisions);
    MSN_RUN(test_collision_classes);
    MSN_RUN(test_clock_skew);
    MSN_RUN(test_clock_drift);
    MSN_RUN(test_subpaths);
    MSN_RUN(test_malformed);
    MSN_RUN(test_fuzz);
    MSN_RUN(test_fixture_db);
    return msn_test_done();
}
