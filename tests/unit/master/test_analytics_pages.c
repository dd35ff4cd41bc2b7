/*
 * test_analytics_pages.c: the analytics behind the observer, scope, route-pattern,
 * relay-airtime and audio-lab endpoints (master/analytics/observer_analytics.c,
 * metrics_summary.c, relay_airtime.c, scope_stats.c, subpaths_bulk.c, subpath_detail.c,
 * audio_lab.c) on hand-made stores whose figures are worked out by hand, plus the
 * observer_metrics loader (master/obsmetrics.c) on an in-memory database.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "master/analytics/analytics.h"
#include "master/arena.h"
#include "master/store.h"
#include "shm/config.h"
#include "shm/json.h"
#include "shm/jsonr.h"
#include "shm/timeutil.h"
#include "testlib.h"

#define NOW_S 1784376000LL /* 2026-07-18T12:00:00Z, a Saturday */
#define NOW_MS (NOW_S * 1000)

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

/* Adds an observation (snr NAN = NULL) and keeps the store's best rule (most hops). */
static msn_obs_t *add_obs(msn_store_t *s, int64_t tx_id, int64_t observer_rowid, int64_t ts, const char *path,
                          double snr)
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
    int n = path ? msn_json_str_array_each(path, strlen(path), NULL, NULL) : 0;
    o->hops = (uint8_t)(n < 0 ? 0 : n);
    if (!isnan(snr)) {
        o->snr = snr;
        o->has_snr = 1;
    }
    t->obs = msn_xrealloc(t->obs, (t->n_obs + 1) * sizeof(uint32_t));
    t->obs[t->n_obs++] = oi;
    if (ts > t->latest)
        t->latest = ts;
    if (t->best < 0 || o->hops > s->obs[t->best].hops)
        t->best = (int32_t)oi;
    return o;
}

/* Computes analytic an for (param, window label, from) and returns the body (free it). */
static char *compute(msn_store_t *s, int an, const char *param, const char *window, int64_t from_ms)
{
    msn_an_shape_t sh = {NULL, from_ms, 0, NULL, window, param};
    msn_buf_t b = MSN_BUF_INIT;
    char err[256] = "";
    int rc = msn_analytic_compute(an, s, &sh, NOW_MS, &b, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", msn_analytic_names[an], err);
    CHECK_EQ_INT(rc, 0);
    char *out = msn_xstrdup(msn_buf_cstr(&b));
    msn_buf_free(&b);
    return out;
}

#define CHECK_HAS(body, frag)                                                                                \
    do {                                                                                                     \
        if (strstr((body), (frag)) == NULL) {                                                                \
            fprintf(stderr, "%s:%d: lacks %s in %.600s\n", __FILE__, __LINE__, (frag), (body));              \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)

/* ---- observer analytics ---- */

static void observer_store(msn_store_t *s)
{
    msn_store_init(s);
    add_observer(s, 1, "OBS-A", "Alpha", "SJC");
    add_observer(s, 2, "OBS-B", "Bravo", NULL);
    add_tx(s, 1, "1100", 4, "{\"type\":\"ADVERT\",\"pubKey\":\"aa11\"}", NOW_S - 700);
    add_obs(s, 1, 1, NOW_S - 600, "[\"AB\",\"CD\"]", 5.5);
    add_tx(s, 2, "1500", 5, "{\"srcHash\":\"ef\",\"destHash\":\"\"}", NOW_S - 3100);
    add_obs(s, 2, 1, NOW_S - 3000, "[\"AB\"]", -3.5);
    add_obs(s, 2, 2, NOW_S - 2000, "[]", 1);
    add_tx(s, 3, "0900", 2, "not json", NOW_S - 2 * 86400);
    add_obs(s, 3, 1, NOW_S - 2 * 86400, "[]", -2.5);
    add_tx(s, 4, "0d00", -1, NULL, NOW_S - 40 * 86400);
    add_obs(s, 4, 1, NOW_S - 40 * 86400, NULL, NAN);
}

static void test_observer_analytics(void)
{
    msn_store_t s;
    observer_store(&s);
    char *b = compute(&s, MSN_AN_OBSERVER_ANALYTICS, "1:OBS-A", NULL, 0);
    /* the last day: two observations in the 11:00 hour */
    CHECK_HAS(b, "{\"timeline\":[{\"label\":\"11:00\",\"count\":2}],\"packetTypes\":{\"4\":1,\"5\":1}");
    /* nodes: aa11, AB, CD (advert) and ef, AB (the empty destHash is not one) */
    CHECK_HAS(b, "\"nodesTimeline\":[{\"label\":\"11:00\",\"count\":4}]");
    /* 5.5 -> 4..6; -3.5 -> int -3, off the even grid: -4..-2 */
    CHECK_HAS(b, "\"snrDistribution\":[{\"range\":\"-4 to -2\",\"count\":1},{\"range\":\"4 to 6\",\"count\":1}]");
    /* recentPackets: newest first, enrichObs keys in Go's map order */
    CHECK_HAS(b, "\"recentPackets\":[{\"decoded_json\":\"{\\\"type\\\":\\\"ADVERT\\\",\\\"pubKey\\\":\\\"aa11\\\"}\","
                 "\"direction\":null,\"hash\":\"0000000000abc001\",\"id\":1,\"observer_iata\":\"SJC\","
                 "\"observer_id\":\"OBS-A\",\"observer_name\":\"Alpha\",\"path_json\":\"[\\\"AB\\\",\\\"CD\\\"]\","
                 "\"payload_type\":4,\"raw_hex\":\"1100\",\"route_type\":1,\"rssi\":null,\"score\":null,\"snr\":5.5,"
                 "\"timestamp\":\"2026-07-18T11:50:00.000Z\"}");
    CHECK(strstr(b, "\"id\":4") == NULL);
    free(b);
    /* a week: 4-hour buckets labelled with the weekday; -2.5 -> int -2, on the grid: -2..0 */
    b = compute(&s, MSN_AN_OBSERVER_ANALYTICS, "7:OBS-A", NULL, 0);
    CHECK_HAS(b, "{\"timeline\":[{\"label\":\"Thu 12:00\",\"count\":1},{\"label\":\"Sat 08:00\",\"count\":2}]");
    CHECK_HAS(b, "\"packetTypes\":{\"2\":1,\"4\":1,\"5\":1}");
    CHECK_HAS(b, "\"nodesTimeline\":[{\"label\":\"Thu 12:00\",\"count\":0},{\"label\":\"Sat 08:00\",\"count\":4}]");
    CHECK_HAS(b, "{\"range\":\"-2 to 0\",\"count\":1}");
    free(b);
    /* 30 days: daily buckets "Jan 02"; the 40-day-old observation stays out */
    b = compute(&s, MSN_AN_OBSERVER_ANALYTICS, "30:OBS-A", NULL, 0);
    CHECK_HAS(b, "{\"timeline\":[{\"label\":\"Jul 16\",\"count\":1},{\"label\":\"Jul 18\",\"count\":2}]");
    free(b);
    b = compute(&s, MSN_AN_OBSERVER_ANALYTICS, "365:OBS-A", NULL, 0);
    CHECK_HAS(b, "\"packetTypes\":{\"2\":1,\"4\":1,\"5\":1}"); /* no key for an unknown type */
    CHECK_HAS(b, "{\"label\":\"Jun 08\",\"count\":1}"); /* the old one, without a payload type */
    free(b);
    /* an observer nobody knows, or a malformed parameter: CoreScope's empty aggregates */
    static const char *const empty = "{\"timeline\":[],\"packetTypes\":{},\"nodesTimeline\":[],\"snrDistribution\":[],"
                                     "\"recentPackets\":[]}";
    b = compute(&s, MSN_AN_OBSERVER_ANALYTICS, "7:NOPE", NULL, 0);
    CHECK_EQ_STR(b, empty);
    free(b);
    b = compute(&s, MSN_AN_OBSERVER_ANALYTICS, NULL, NULL, 0);
    CHECK_EQ_STR(b, empty);
    free(b);
    /* with a run, the per-observer index is built once and gives the same bodies */
    msn_an_run_t *run = msn_an_run_new(&s);
    const char *params[] = {"1:OBS-A", "7:OBS-B", "30:OBS-A"};
    for (int i = 0; i < 3; i++) {
        msn_an_shape_t sh = {NULL, 0, 0, NULL, NULL, params[i]};
        msn_buf_t x = MSN_BUF_INIT;
        char err[128];
        CHECK_EQ_INT(msn_analytic_compute_run(run, MSN_AN_OBSERVER_ANALYTICS, &s, &sh, NOW_MS, &x, err, sizeof(err)),
                     0);
        char *plain = compute(&s, MSN_AN_OBSERVER_ANALYTICS, params[i], NULL, 0);
        CHECK_EQ_STR(msn_buf_cstr(&x), plain);
        free(plain);
        msn_buf_free(&x);
    }
    msn_an_run_free(run);
    msn_store_free(&s);
}

/* ---- relay airtime ---- */

static void test_relay_airtime(void)
{
    msn_store_t s;
    msn_store_init(&s);
    add_observer(&s, 1, "OBS-A", "Alpha", "SJC");
    uint32_t k1 = msn_store_intern_key(&s, "1111111111111111111111111111111111111111111111111111111111111111", 64);
    uint32_t k2 = msn_store_intern_key(&s, "2222222222222222222222222222222222222222222222222222222222222222", 64);
    uint32_t k3 = msn_store_intern_key(&s, "3333333333333333333333333333333333333333333333333333333333333333", 64);
    static uint32_t rp1[2], rp2[3];
    rp1[0] = k1;
    rp1[1] = k2;
    rp2[0] = k2;
    rp2[1] = MSN_KEY_NONE;
    rp2[2] = k3;
    /* 20 bytes relayed by 3 distinct nodes: 3 x 304128000 ns */
    add_tx(&s, 1, "0000000000000000000000000000000000000000", 5, NULL, NOW_S - 60);
    msn_obs_t *o = add_obs(&s, 1, 1, NOW_S - 60, "[\"11\",\"22\"]", NAN);
    o->rp = rp1;
    o->rp_n = 2;
    o = add_obs(&s, 1, 1, NOW_S - 50, "[\"22\",\"xx\",\"33\"]", NAN);
    o->rp = rp2;
    o->rp_n = 3;
    /* 3 bytes, never relayed: counted, scores 0 */
    add_tx(&s, 2, "000000", 4, NULL, NOW_S - 120);
    /* another copy of transmission 2's hash: counted once */
    msn_tx_t *dup = add_tx(&s, 3, "000000", 4, NULL, NOW_S - 100);
    dup->hash = s.tx[1].hash;
    /* outside a one-hour window */
    add_tx(&s, 4, "00", 4, NULL, NOW_S - 7200);
    char *b = compute(&s, MSN_AN_RELAY_AIRTIME_SHARE, NULL, "1h", NOW_MS - 3600000);
    CHECK_EQ_STR(b, "{\"cached\":false,\"preset\":{\"freq_hz\":869600000,\"bw_khz\":62.5,\"sf\":8,\"cr\":5,"
                    "\"preamble\":32},\"rows\":[{\"airtime_pct\":100,\"count\":1,\"count_pct\":50,"
                    "\"payload_type\":\"GRP_TXT\",\"score\":912384000,\"type\":5},{\"airtime_pct\":0,\"count\":1,"
                    "\"count_pct\":50,\"payload_type\":\"ADVERT\",\"score\":0,\"type\":4}],\"total_count\":2,"
                    "\"total_score\":912384000,\"window\":\"1h\"}");
    free(b);
    /* all time: the old advert counts too; ties on airtime go by count, then name */
    b = compute(&s, MSN_AN_RELAY_AIRTIME_SHARE, NULL, NULL, 0);
    CHECK_HAS(b, "\"payload_type\":\"ADVERT\",\"score\":0,\"type\":4}],\"total_count\":3");
    CHECK_HAS(b, "\"window\":\"\"}");
    free(b);
    msn_store_free(&s);
}

/* ---- scope stats ---- */

static void test_scope_stats(void)
{
    msn_store_t s;
    msn_store_init(&s);
    msn_tx_t *t;
    t = add_tx(&s, 1, "00", 4, NULL, NOW_S - 60); /* transport, scoped */
    t->route_type = 0;
    t->scope_name = "#bay";
    t = add_tx(&s, 2, "00", 4, NULL, NOW_S - 3500); /* transport, unscoped */
    t->route_type = 3;
    t = add_tx(&s, 3, "00", 4, NULL, NOW_S - 7300); /* transport, unknown scope: counts as scoped too */
    t->route_type = 0;
    t->scope_name = "";
    t = add_tx(&s, 4, "00", 4, NULL, NOW_S - 100); /* flood: unscoped by nature */
    t->route_type = 1;
    t = add_tx(&s, 5, "00", 4, NULL, NOW_S - 2 * 86400); /* outside 24h */
    t->route_type = 0;
    t->scope_name = "#bay";
    char *b = compute(&s, MSN_AN_SCOPE_STATS, NULL, NULL, 0);
    CHECK_EQ_STR(b, "{\"window\":\"24h\",\"summary\":{\"transportTotal\":3,\"scoped\":2,\"unscoped\":2,"
                    "\"unknownScope\":1},\"byRegion\":[{\"name\":\"#bay\",\"count\":1}],\"timeSeries\":["
                    "{\"t\":\"2026-07-18T09:00:00Z\",\"scoped\":1,\"unscoped\":0},"
                    "{\"t\":\"2026-07-18T11:00:00Z\",\"scoped\":1,\"unscoped\":1}]}");
    free(b);
    b = compute(&s, MSN_AN_SCOPE_STATS, NULL, "1h", NOW_MS - 3600000);
    CHECK_EQ_STR(b, "{\"window\":\"1h\",\"summary\":{\"transportTotal\":2,\"scoped\":1,\"unscoped\":2,"
                    "\"unknownScope\":0},\"byRegion\":[{\"name\":\"#bay\",\"count\":1}],\"timeSeries\":["
                    "{\"t\":\"2026-07-18T11:00:00Z\",\"scoped\":0,\"unscoped\":1},"
                    "{\"t\":\"2026-07-18T11:55:00Z\",\"scoped\":1,\"unscoped\":0}]}");
    free(b);
    b = compute(&s, MSN_AN_SCOPE_STATS, NULL, "7d", NOW_MS - 7 * 86400000LL);
    CHECK_HAS(b, "\"transportTotal\":4");
    CHECK_HAS(b, "{\"t\":\"2026-07-16T12:00:00Z\",\"scoped\":1,\"unscoped\":0}");
    CHECK_HAS(b, "{\"name\":\"#bay\",\"count\":2}");
    free(b);
    msn_store_free(&s);
}

/* ---- route patterns ---- */

static void path_store(msn_store_t *s)
{
    msn_store_init(s);
    add_observer(s, 1, "OBS-A", "Alpha", "SJC");
    add_observer(s, 2, "OBS-B", "Bravo", "SFO");
    add_tx(s, 1, "00", 4, NULL, NOW_S - 3600 * 3);
    add_obs(s, 1, 1, NOW_S - 3600 * 3, "[\"AA\",\"BB\",\"CC\"]", 4);
    add_tx(s, 2, "00", 4, NULL, NOW_S - 3600 * 2);
    add_obs(s, 2, 2, NOW_S - 3600 * 2, "[\"aa\",\"bb\"]", 8);
    add_tx(s, 3, "00", 4, NULL, NOW_S - 60);
    add_obs(s, 3, 1, NOW_S - 60, "[\"BB\",\"CC\"]", NAN);
    add_tx(s, 4, "00", 4, NULL, NOW_S - 30); /* the run twice in one path */
    add_obs(s, 4, 2, NOW_S - 30, "[\"AA\",\"BB\",\"AA\",\"BB\"]", NAN);
}

static void test_subpath_detail(void)
{
    msn_store_t s;
    path_store(&s);
    char *b = compute(&s, MSN_AN_SUBPATH_DETAIL, "aA,Bb", NULL, 0);
    /* matches: transmissions 1, 2 and twice 4 (case-insensitive); 3 does not start with AA */
    CHECK_HAS(b, "{\"firstSeen\":\"2026-07-18T09:00:00Z\",\"hops\":[\"aA\",\"Bb\"],\"hourDistribution\":"
                 "[0,0,0,0,0,0,0,0,0,1,1,2,0,0,0,0,0,0,0,0,0,0,0,0],\"lastSeen\":\"2026-07-18T11:59:30Z\"");
    CHECK_HAS(b, "\"nodes\":[{\"hop\":\"aA\",\"lat\":null,\"lon\":null,\"name\":\"aA\",\"pubkey\":null},");
    CHECK_HAS(b, "\"observers\":[{\"count\":3,\"name\":\"Bravo\"},{\"count\":1,\"name\":\"Alpha\"}]");
    CHECK_HAS(b, "\"parentPaths\":[{\"count\":2,\"path\":\"AA \xe2\x86\x92 BB \xe2\x86\x92 AA \xe2\x86\x92 BB\"},"
                 "{\"count\":1,\"path\":\"AA \xe2\x86\x92 BB \xe2\x86\x92 CC\"},{\"count\":1,\"path\":\"aa \xe2\x86\x92 bb\"}]");
    CHECK_HAS(b, "\"signal\":{\"avgRssi\":null,\"avgSnr\":6,\"samples\":2},\"totalMatches\":4}");
    free(b);
    b = compute(&s, MSN_AN_SUBPATH_DETAIL, "xx,yy", NULL, 0);
    CHECK_HAS(b, "{\"firstSeen\":\"\",\"hops\":[\"xx\",\"yy\"]");
    CHECK_HAS(b, "\"observers\":[],\"parentPaths\":[],\"signal\":{\"avgRssi\":null,\"avgSnr\":null,\"samples\":0},"
                 "\"totalMatches\":0}");
    free(b);
    b = compute(&s, MSN_AN_SUBPATH_DETAIL, "AA", NULL, 0);
    CHECK_EQ_STR(b, "{\"error\":\"Need at least 2 hops\"}");
    free(b);
    msn_store_free(&s);
}

static void test_subpaths_bulk(void)
{
    msn_store_t s;
    path_store(&s);
    /* one subpaths body per group, as /api/analytics/subpaths computes it */
    char *b = compute(&s, MSN_AN_SUBPATHS_BULK, "2-2:1,3-3:5", NULL, 0);
    msn_an_shape_t none = {NULL, 0, 0, NULL, NULL, NULL};
    msn_buf_t g1 = MSN_BUF_INIT, g2 = MSN_BUF_INIT;
    char err[128];
    CHECK_EQ_INT(msn_analytic_subpaths(&s, &none, 2, 2, 1, &g1, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_analytic_subpaths(&s, &none, 3, 3, 5, &g2, err, sizeof(err)), 0);
    msn_buf_t want = MSN_BUF_INIT;
    msn_buf_printf(&want, "{\"results\":[%s,%s]}", msn_buf_cstr(&g1), msn_buf_cstr(&g2));
    CHECK_EQ_STR(b, msn_buf_cstr(&want));
    free(b);
    /* no parameter: the dashboard's four groups */
    b = compute(&s, MSN_AN_SUBPATHS_BULK, NULL, NULL, 0);
    int n = 0;
    for (const char *p = b; (p = strstr(p, "\"totalPaths\"")) != NULL; p++)
        n++;
    CHECK_EQ_INT(n, 4);
    free(b);
    msn_buf_free(&g1);
    msn_buf_free(&g2);
    msn_buf_free(&want);
    msn_store_free(&s);
}

/* ---- audio lab ---- */

static void test_audio_lab(void)
{
    msn_store_t s;
    msn_store_init(&s);
    add_observer(&s, 1, "OBS-A", "Alpha", "SJC");
    /* ten adverts of lengths 2, 4, ... 20 (inserted longest first) */
    static char raw[10][24];
    for (int i = 0; i < 10; i++) {
        int len = 2 * (10 - i);
        memset(raw[i], 'a', (size_t)len);
        raw[i][len] = 0;
        add_tx(&s, i + 1, raw[i], 4, "{\"type\":\"ADVERT\"}", NOW_S - 100 + i);
    }
    add_obs(&s, 2, 1, NOW_S, "[\"AB\"]", NAN);
    add_tx(&s, 11, "0000", 13, "[1]", NOW_S); /* no type and an unnamed payload type */
    add_tx(&s, 12, "", 4, "{\"type\":\"ADVERT\"}", NOW_S); /* no raw_hex: left out */
    char *b = compute(&s, MSN_AN_AUDIO_LAB, NULL, NULL, 0);
    /* picks 0,1,2,3,5,6,7,8 of the ten by length: lengths 2,4,6,8,12,14,16,18 */
    const char *p = b;
    static const int want[] = {2, 4, 6, 8, 12, 14, 16, 18};
    for (int k = 0; k < 8; k++) {
        p = strstr(p, "\"raw_hex\":\"");
        CHECK(p != NULL);
        if (p == NULL)
            break;
        p += 11;
        CHECK_EQ_INT(strcspn(p, "\""), want[k]);
    }
    CHECK_HAS(b, "\"UNKNOWN\":[{\"hash\":\"0000000000abc00b\",\"raw_hex\":\"0000\",\"decoded_json\":\"[1]\","
                 "\"observation_count\":1,\"payload_type\":13,\"path_json\":null,\"observer_id\":null,");
    CHECK_HAS(b, "\"observation_count\":1,\"payload_type\":4,\"path_json\":\"[\\\"AB\\\"]\",\"observer_id\":\"OBS-A\"");
    CHECK(strstr(b, "abc00c") == NULL);
    CHECK(strncmp(b, "{\"buckets\":{\"ADVERT\":[", 22) == 0);
    free(b);
    msn_store_free(&s);
}

/* ---- observer metrics: the loader and the summary ---- */

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "SQL: %s\n", msg);
        msn_test_failures++;
    }
    sqlite3_free(msg);
}

static void test_metrics(void)
{
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
    exec(db, "CREATE TABLE observer_metrics (observer_id TEXT NOT NULL, timestamp TEXT NOT NULL, noise_floor REAL,"
             " tx_air_secs INTEGER, rx_air_secs INTEGER, recv_errors INTEGER, battery_mv INTEGER,"
             " packets_sent INTEGER, packets_recv INTEGER, PRIMARY KEY (observer_id, timestamp));"
             "INSERT INTO observer_metrics VALUES"
             " ('OBS-A', '2026-07-18T11:00:00Z', -110, 1, 2, 3, 3700, 4, 5),"
             " ('OBS-A', '2026-07-18T11:55:00Z', NULL, 2, 3, 4, 3650, 5, 6),"
             " ('OBS-A', '2026-07-18T11:50:00Z', -100, 2, 3, 4, NULL, 5, 6),"
             " ('OBS-A', '2026-07-17T11:00:00Z', -90, 1, 1, 1, 3800, 1, 1),"
             " ('OBS-B', '2026-07-18T11:30:00Z', NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
             " ('OBS-C', '2026-07-18T11:40:00Z', -95, NULL, NULL, NULL, 3300, NULL, NULL),"
             " ('OBS-C', 'garbage', -1, NULL, NULL, NULL, NULL, NULL, NULL)");
    msn_store_t s;
    msn_store_init(&s);
    add_observer(&s, 1, "OBS-A", "Alpha", "sjc");
    add_observer(&s, 2, "OBS-B", NULL, "");
    char err[256];
    int n;
    CHECK_EQ_INT(msn_obsmetrics_poll(&s.metrics, db, 1000, &n, err, sizeof(err)), 0);
    CHECK_EQ_INT(n, 7);
    CHECK_EQ_INT(s.metrics.n_rows, 6);
    CHECK_EQ_INT(s.metrics.skipped, 1);
    CHECK_EQ_INT(s.metrics.n_series, 3);
    const msn_omseries_t *a = msn_obsmetrics_find(&s.metrics, "OBS-A");
    CHECK(a != NULL && a->n == 4 && a->rows[0].ts_ms < a->rows[1].ts_ms && a->rows[3].has[MSN_OM_BATTERY]);
    /* a replaced row (INSERT OR REPLACE gives it a new rowid) replaces ours */
    msn_obsmetrics_published(&s.metrics);
    exec(db, "INSERT OR REPLACE INTO observer_metrics VALUES ('OBS-A', '2026-07-18T11:55:00Z', -80, 2, 3, 4, 3640, 5,"
             " 6)");
    CHECK_EQ_INT(msn_obsmetrics_poll(&s.metrics, db, 1000, &n, err, sizeof(err)), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(s.metrics.n_rows, 6);
    a = msn_obsmetrics_find(&s.metrics, "OBS-A");
    CHECK(a->rows[3].has_noise_floor && a->rows[3].noise_floor == -80 && a->rows[3].dirty && !a->rows[2].dirty);
    CHECK(s.metrics.dirty && a->dirty);
    /* the last 24 hours (now 12:00): A's three newest rows, B's one, C's one */
    char *b = compute(&s, MSN_AN_OBSERVERS_METRICS_SUMMARY, NULL, NULL, 0);
    CHECK_EQ_STR(b, "{\"observers\":[{\"observer_id\":\"OBS-A\",\"observer_name\":\"Alpha\",\"iata\":\"sjc\","
                    "\"current_noise_floor\":-80,\"avg_noise_floor_24h\":-96.66666666666667,"
                    "\"max_noise_floor_24h\":-80,\"battery_mv\":3640,\"sample_count\":3,\"sparkline\":[-110,-100,-80]},"
                    "{\"observer_id\":\"OBS-C\",\"observer_name\":null,\"current_noise_floor\":-95,"
                    "\"avg_noise_floor_24h\":-95,\"max_noise_floor_24h\":-95,\"battery_mv\":3300,\"sample_count\":1,"
                    "\"sparkline\":[-95]},{\"observer_id\":\"OBS-B\",\"observer_name\":null,"
                    "\"current_noise_floor\":null,\"avg_noise_floor_24h\":null,\"max_noise_floor_24h\":null,"
                    "\"battery_mv\":null,\"sample_count\":1,\"sparkline\":[null]}]}");
    free(b);
    /* 30 minutes; a region is one code, compared ignoring case */
    msn_an_shape_t sh = {"SJC", 0, 0, NULL, NULL, "1800"};
    msn_buf_t x = MSN_BUF_INIT;
    CHECK_EQ_INT(msn_analytic_compute(MSN_AN_OBSERVERS_METRICS_SUMMARY, &s, &sh, NOW_MS, &x, err, sizeof(err)), 0);
    CHECK_HAS(msn_buf_cstr(&x), "\"sample_count\":2,\"sparkline\":[-100,-80]}]}");
    CHECK(strstr(msn_buf_cstr(&x), "OBS-C") == NULL);
    msn_buf_free(&x);
    msn_store_free(&s);
    sqlite3_close(db);
}

int main(void)
{
    MSN_RUN(test_observer_analytics);
    MSN_RUN(test_relay_airtime);
    MSN_RUN(test_scope_stats);
    MSN_RUN(test_subpath_detail);
    MSN_RUN(test_subpaths_bulk);
    MSN_RUN(test_audio_lab);
    MSN_RUN(test_metrics);
    return msn_test_done();
}
