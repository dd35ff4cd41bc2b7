/*
 * test_api_pages.c: the observer, channel and packet-tool endpoints and the analytics
 * pages' remaining ones (worker/api_observers.c, api_channels.c, api_packet_tools.c,
 * api_analytics.c) on a snapshot the master's own code publishes (master/store.c,
 * publish.c with its channel-message records, observer documents, metrics rows and
 * channel index), then changes incrementally, as a poll does.
 *
 * The mesh, at now T (seconds):
 *   observers  obs-a "Alpha" SFO (rowid 1), obs-b "Bravo" SJC (2), obs-c "Charlie" " sjc " (3)
 *   1  #test  "Alice: hello there", sender ""   obs 1 (obs-a T-600, path AA,BB, snr 5), 2 (obs-b T-100)
 *   2  #test  "no colon", sender "Bob"          obs 3 (obs-a T-300)
 *   3  #test  decoded_json not JSON             obs 4 (obs-c T-50)
 *   4  enc_3A                                   obs 5 (obs-b T-200)
 *   5  Public "x: y", sender "S"                no observation
 *   6  advert                                   obs 6 (obs-b T-30), 7 (obs-a T-30), 8 (obs-a T-40)
 *   7  #test  a ": " past byte 50 (first seen T) obs 9 (obs-a T-400)
 *   first_seen: 1 T-600, 2 T-300, 3 T-50, 4 T-200, 5 T-700, 6 T-40, 7 T
 *   observer_metrics: obs-a every 5 minutes for the last 3 hours, a reboot at T-3600
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/analytics/analytics.h"
#include "master/publish.h"
#include "master/store.h"
#include "shm/anshape.h"
#include "shm/config.h"
#include "shm/schema.h"
#include "shm/status.h"
#include "shm/timeutil.h"
#include "testlib.h"
#include "apicall.h"
#include "worker/api.h"
#include "worker/query.h"
#include "worker/dispatch.h"
#include "worker/snapview.h"

#define LONG_TEXT "This message is long enough that its colon comes late: after fifty bytes"
#define ADVERT_HEX                                                                                           \
    "1100aabbccdd11111111111111111111111111111111111111111111111111111111"

static struct {
    char dir[512], db[700];
    msn_status_t *st;
    msn_snapview_t view;
    msn_store_t store;
    msn_publisher_t pub;
    sqlite3 *db_ro;
    int64_t now_s;
} fx;

static int exec_sql(const char *sql)
{
    sqlite3 *db = NULL;
    char err[256], *msg = NULL;
    if (msn_sqlite_open(fx.db, 0, &db, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK ? 0 : -1;
    if (rc)
        fprintf(stderr, "SQL failed: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc;
}

static int make_db(void)
{
    char err[512], sql[8000], f[8][32];
    if (msn_schema_init_db(fx.db, err, sizeof(err)) < 0) {
        fprintf(stderr, "init-db: %s\n", err);
        return -1;
    }
    int64_t T = fx.now_s;
    static const int ago[8] = {600, 300, 50, 200, 700, 40, 0, 0};
    for (int i = 0; i < 8; i++)
        msn_format_iso_s(f[i], T - ago[i]);
    snprintf(sql, sizeof(sql),
             "INSERT INTO observers (id, name, iata, last_seen, first_seen) VALUES"
             " ('obs-a', 'Alpha', 'SFO', '%s', '%s'), ('obs-b', 'Bravo', 'SJC', '%s', '%s'),"
             " ('obs-c', 'Charlie', ' sjc ', '%s', '%s');"
             "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json,"
             " channel_hash, last_seen) VALUES"
             " (1, '1500aa', '00000000000000a1', '%s', 1, 5,"
             "  '{\"type\":\"CHAN\",\"text\":\"Alice: hello there\",\"sender\":\"\",\"sender_timestamp\":1700000000}',"
             "  '#test', 0),"
             " (2, '1500bb', '00000000000000a2', '%s', 1, 5, '{\"text\":\"no colon\",\"sender\":\"Bob\"}', '#test', 0),"
             " (3, '1500cc', '00000000000000a3', '%s', 1, 5, 'not json', '#test', 0),"
             " (4, '1500dd', '00000000000000a4', '%s', 1, 5, '{\"type\":\"GRP_TXT\",\"channelHash\":58}', 'enc_3A', 0),"
             " (5, '1500ee', '00000000000000a5', '%s', 1, 5, '{\"text\":\"x: y\",\"sender\":\"S\"}', 'Public', 0),"
             " (6, '" ADVERT_HEX "', '00000000000000a6', '%s', 1, 4, '{\"type\":\"ADVERT\"}', NULL, 0),"
             " (7, '1500ff', '00000000000000a7', '%s', 1, 5, '{\"text\":\"" LONG_TEXT "\",\"sender\":\"Zed\"}',"
             "  '#test', 0);"
             "INSERT INTO observations (id, transmission_id, observer_idx, snr, rssi, path_json, timestamp) VALUES"
             " (1, 1, 1, 5, -90, '[\"AA\",\"BB\"]', %lld), (2, 1, 2, 7, -80, '[]', %lld),"
             " (3, 2, 1, 3, -95, '[\"CC\"]', %lld), (4, 3, 3, 1, -99, '[]', %lld), (5, 4, 2, 2, -97, '[]', %lld),"
             " (6, 6, 2, -1.5, -101, '[\"AB\"]', %lld), (7, 6, 1, 2.25, -100, '[]', %lld),"
             " (8, 6, 1, 0.5, -99, '[\"AB\",\"CD\"]', %lld), (9, 7, 1, NULL, NULL, '[]', %lld);",
             f[7], f[7], f[7], f[7], f[7], f[7], f[0], f[1], f[2], f[3], f[4], f[5], f[6], (long long)T - 600,
             (long long)T - 100, (long long)T - 300, (long long)T - 50, (long long)T - 200, (long long)T - 30,
             (long long)T - 30, (long long)T - 40, (long long)T - 400);
    if (exec_sql(sql) < 0)
        return -1;
    /* obs-a's metrics: 37 samples, counters reset at T-3600 */
    msn_buf_t m = MSN_BUF_INIT;
    msn_buf_puts(&m, "INSERT INTO observer_metrics VALUES ");
    for (int i = 36; i >= 0; i--) {
        int64_t t = (T / 300 - i) * 300;
        char ts[32];
        msn_format_iso_s(ts, t);
        int64_t c = t >= (T / 300 - 12) * 300 ? 36 - i - 24 : 36 - i; /* the reset */
        msn_buf_printf(&m, "%s('obs-a', '%s', %d, %lld, %lld, %lld, %d, %lld, %lld)", i == 36 ? "" : ",", ts,
                       -110 + i % 5, (long long)c * 3, (long long)c * 30, (long long)c, 3700 - i,
                       (long long)c * 2, (long long)c * 97);
    }
    int rc = exec_sql(msn_buf_cstr(&m));
    msn_buf_free(&m);
    return rc;
}

/* Publishes an analytic's document as the scheduler would. */
static int put_analytic(int an, const char *param)
{
    msn_anshape_t sh;
    char err[256], name[200];
    memset(&sh, 0, sizeof(sh));
    if (param)
        msn_anshape_set_param(&sh, param, strlen(param), err, sizeof(err));
    msn_an_shape_t in = {NULL, 0, 0, NULL, NULL, param};
    msn_buf_t b = MSN_BUF_INIT;
    if (msn_analytic_compute(an, &fx.store, &in, fx.now_s * 1000, &b, err, sizeof(err)) < 0)
        return -1;
    msn_anshape_doc_name(an, &sh, name, sizeof(name));
    MDB_txn *txn;
    int rc = mdb_txn_begin(fx.pub.snap.env, NULL, 0, &txn);
    if (rc == 0)
        rc = msn_snap_doc_put_full(txn, &fx.pub.snap, name, b.data, b.len, NULL, 0, 1, fx.pub.gen, fx.now_s * 1000,
                                   fx.now_s * 1000 + 60000);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    msn_buf_free(&b);
    return rc ? -1 : 0;
}

static int fixture_build(void)
{
    snprintf(fx.dir, sizeof(fx.dir), "%s", msn_test_tmpdir("api-pages"));
    snprintf(fx.db, sizeof(fx.db), "%s/mesh.db", fx.dir);
    fx.now_s = msn_now_ms() / 1000;
    char err[512];
    if (make_db() < 0 || msn_status_create(fx.dir, &fx.st) < 0)
        return -1;
    fx.st->master.phase = MSN_PHASE_READY;
    msn_snapview_init(&fx.view, fx.dir, fx.st);
    msn_store_init(&fx.store);
    msn_publisher_init(&fx.pub, fx.dir, fx.db, fx.now_s * 1000);
    fx.pub.poll_interval_ms = 30000;
    if (msn_sqlite_open(fx.db, 1, &fx.db_ro, err, sizeof(err)) < 0 ||
        msn_store_load(&fx.store, fx.db_ro, 1000, NULL, NULL, NULL, err, sizeof(err)) < 0 ||
        msn_store_reload_small(&fx.store, fx.db_ro, fx.now_s, err, sizeof(err)) < 0 ||
        msn_publish_full(&fx.pub, &fx.store, fx.now_s * 1000, err, sizeof(err)) < 0) {
        fprintf(stderr, "publish: %s\n", err);
        return -1;
    }
    if (put_analytic(MSN_AN_OBSERVER_ANALYTICS, "7:obs-a") < 0 || put_analytic(MSN_AN_SCOPE_STATS, NULL) < 0)
        return -1;
    atomic_fetch_add(&fx.st->env_seq, 1);
    return 0;
}

/* New rows appear in the database: the master polls and publishes them incrementally. */
static int poll_and_publish(const char *sql)
{
    char err[512];
    int ntx, nobs, published;
    if (exec_sql(sql) < 0 || msn_store_poll(&fx.store, fx.db_ro, 1000, &ntx, &nobs, err, sizeof(err)) < 0 ||
        msn_store_reload_small(&fx.store, fx.db_ro, fx.now_s, err, sizeof(err)) < 0 ||
        msn_publish_incremental(&fx.pub, &fx.store, fx.now_s * 1000, &published, err, sizeof(err)) < 0) {
        fprintf(stderr, "poll: %s\n", err);
        return -1;
    }
    return published ? 0 : -1;
}

static void fixture_free(void)
{
    sqlite3_close(fx.db_ro);
    msn_snapview_close(&fx.view);
    msn_publisher_free(&fx.pub);
    msn_store_free(&fx.store);
    msn_status_close(fx.st);
}

/* ---- one request ---- */

typedef apicall_t answer_t;

/* Runs method target with body (may be NULL) now through the dispatcher. */
static void call_body(answer_t *a, const char *method, const char *target, const char *body)
{
    apicall_run(a, fx.st, &fx.view, msn_now_ms(), method, target, body);
}

static void call(answer_t *a, const char *target)
{
    call_body(a, "GET", target, NULL);
}

static void answer_free(answer_t *a)
{
    apicall_free(a);
}

#define CHECK_HAS(a, fragment)                                                                               \
    do {                                                                                                     \
        if (strstr((a)->body, fragment) == NULL) {                                                           \
            fprintf(stderr, "%s:%d: body lacks %s: %.700s\n", __FILE__, __LINE__, fragment, (a)->body);      \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)
#define CHECK_LACKS(a, fragment)                                                                             \
    do {                                                                                                     \
        if (strstr((a)->body, fragment) != NULL) {                                                           \
            fprintf(stderr, "%s:%d: body has %s: %.700s\n", __FILE__, __LINE__, fragment, (a)->body);        \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)

static int count_of(const answer_t *a, const char *needle)
{
    int n = 0;
    for (const char *p = a->body; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The position of needle in the body (to check an order), or -1. */
static long pos_of(const answer_t *a, const char *needle)
{
    const char *p = strstr(a->body, needle);
    return p ? (long)(p - a->body) : -1;
}

/* ---- observers ---- */

static void test_observer_detail(void)
{
    answer_t a;
    call(&a, "/api/observers/obs-b");
    CHECK_EQ_INT(a.route, MSN_ROUTE_OBSERVER);
    CHECK_EQ_INT(a.status, 200);
    CHECK(a.use_doc);
    CHECK(strncmp(a.cache, "public, max-age=", 16) == 0);
    CHECK_HAS(&a, "{\"id\":\"obs-b\",\"name\":\"Bravo\",\"iata\":\"SJC\"");
    CHECK_HAS(&a, "\"packetsLastHour\":3,\"lat\":null,\"lon\":null,\"nodeRole\":null,\"clock_naive\":false");
    answer_free(&a);
    call(&a, "/api/observers/nobody");
    CHECK_EQ_INT(a.status, 404);
    CHECK_EQ_STR(a.body, "{\"error\":\"Observer not found\"}");
    answer_free(&a);
    /* the literal route beats the parameter one */
    call(&a, "/api/observers/clock-skew");
    CHECK_EQ_INT(a.route, MSN_ROUTE_OBSERVERS_CLOCK_SKEW);
    answer_free(&a);
}

static void test_observer_analytics(void)
{
    answer_t a;
    /* published for 7 days; days that are not numbers mean 7, as in CoreScope */
    static const char *const seven[] = {"", "?days=7", "?days=abc", "?days=", "?days=99999999999999999999999"};
    for (size_t i = 0; i < sizeof(seven) / sizeof(seven[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/observers/obs-a/analytics%s", seven[i]);
        call(&a, path);
        CHECK_EQ_INT(a.status, 200);
        CHECK(a.use_doc);
        CHECK_HAS(&a, "\"packetTypes\":{\"4\":2,\"5\":3}");
        answer_free(&a);
    }
    /* another day count (clamped to 1..365) is asked of the master: 503 until computed */
    uint64_t tail = atomic_load(&fx.st->shape_head);
    call(&a, "/api/observers/obs-a/analytics?days=1000");
    CHECK_EQ_INT(a.status, 503);
    CHECK_EQ_INT(a.retry_after, 2);
    answer_free(&a);
    int an, missing;
    char key[120];
    CHECK(msn_status_take_shape(fx.st, &tail, &an, key, &missing));
    CHECK_EQ_INT(an, MSN_AN_OBSERVER_ANALYTICS);
    CHECK_EQ_STR(key, "p=365:obs-a");
    CHECK_EQ_INT(missing, 1);
    /* an observer nobody knows: CoreScope's empty aggregates, nothing asked */
    call(&a, "/api/observers/nobody/analytics?days=3");
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.body, "{\"timeline\":[],\"packetTypes\":{},\"nodesTimeline\":[],\"snrDistribution\":[],"
                         "\"recentPackets\":[]}");
    answer_free(&a);
    CHECK(!msn_status_take_shape(fx.st, &tail, &an, key, &missing));
}

static void test_observer_metrics(void)
{
    answer_t a;
    call(&a, "/api/observers/obs-a/metrics");
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.cache, "no-cache");
    CHECK(strncmp(a.body, "{\"metrics\":[{\"timestamp\":\"", 26) == 0);
    CHECK_EQ_INT(count_of(&a, "\"timestamp\""), 37);
    /* the first sample has no deltas; then 3 s of 300 s on air: 1 %; 1 error per 97 packets */
    CHECK_HAS(&a, "\"tx_airtime_pct\":null,\"rx_airtime_pct\":null,\"recv_error_rate\":null}");
    CHECK_HAS(&a, "\"tx_airtime_pct\":1,\"rx_airtime_pct\":10,\"recv_error_rate\":1.02}");
    CHECK_EQ_INT(count_of(&a, "\"is_reboot_sample\":true"), 1);
    CHECK_HAS(&a, "],\"observer_id\":\"obs-a\",\"observer_name\":\"Alpha\",\"reboots\":[\"");
    answer_free(&a);
    /* hourly: the last row of each hour, at the hour */
    call(&a, "/api/observers/obs-a/metrics?resolution=1h");
    CHECK_EQ_INT(a.status, 200);
    CHECK(count_of(&a, "\"timestamp\"") >= 3 && count_of(&a, "\"timestamp\"") <= 4);
    CHECK_HAS(&a, ":00:00Z\",\"noise_floor\"");
    answer_free(&a);
    /* a window with nothing, an observer without metrics */
    call(&a, "/api/observers/obs-a/metrics?since=2001-01-01T00:00:00Z&until=2001-01-02T00:00:00.000Z");
    CHECK_EQ_STR(a.body, "{\"metrics\":[],\"observer_id\":\"obs-a\",\"observer_name\":\"Alpha\",\"reboots\":[]}");
    answer_free(&a);
    call(&a, "/api/observers/nobody/metrics");
    CHECK_EQ_STR(a.body, "{\"metrics\":[],\"observer_id\":\"nobody\",\"observer_name\":null,\"reboots\":[]}");
    answer_free(&a);
    /* bad parameters: CoreScope's message, or a 400 naming the parameter */
    call(&a, "/api/observers/obs-a/metrics?resolution=2h");
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"error\":\"invalid resolution: 2h. Must be 5m, 1h, or 1d\"}");
    answer_free(&a);
    call(&a, "/api/observers/obs-a/metrics?since=yesterday");
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "invalid since");
    answer_free(&a);
    call(&a, "/api/observers/obs-a/metrics?until=99999-01-01");
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "invalid until");
    answer_free(&a);
}

static void test_metrics_summary(void)
{
    answer_t a;
    /* not published in this snapshot: the default shape warms up, others are asked for */
    call(&a, "/api/observers/metrics/summary");
    CHECK_EQ_INT(a.route, MSN_ROUTE_OBSERVERS_METRICS_SUMMARY);
    CHECK_EQ_INT(a.status, 503);
    answer_free(&a);
    uint64_t tail = atomic_load(&fx.st->shape_head);
    call(&a, "/api/observers/metrics/summary?window=3d&region=sjc");
    CHECK_EQ_INT(a.status, 503);
    answer_free(&a);
    int an, missing;
    char key[120];
    CHECK(msn_status_take_shape(fx.st, &tail, &an, key, &missing));
    CHECK_EQ_STR(key, "r=SJC;p=259200");
    /* 24h in any spelling is the default shape */
    call(&a, "/api/observers/metrics/summary?window=1440m");
    CHECK_EQ_STR(a.body, "{\"error\":\"analytics warming up\",\"retry_after_s\":5}");
    answer_free(&a);
    static const char *const bad[] = {"abc", "0d", "12", "99999999999999d", "1.5d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[128], want[128];
        snprintf(path, sizeof(path), "/api/observers/metrics/summary?window=%s", bad[i]);
        call(&a, path);
        CHECK_EQ_INT(a.status, 400);
        snprintf(want, sizeof(want), "{\"error\":\"invalid window: %s\"}", bad[i]);
        CHECK_EQ_STR(a.body, want);
        answer_free(&a);
    }
}

/* ---- channels ---- */

static void test_channels(void)
{
    answer_t a;
    call(&a, "/api/channels");
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.cache, "no-cache");
    /* newest first: #test (tx 7's first_seen is the newest), then Public; no encrypted ones */
    char want[1024];
    char f1[32];
    msn_format_iso_s(f1, fx.now_s);
    snprintf(want, sizeof(want),
             "{\"channels\":[{\"hash\":\"#test\",\"lastActivity\":\"%s\",\"lastMessage\":\"after fifty bytes\","
             "\"lastSender\":\"Zed\",\"messageCount\":4,\"name\":\"#test\"},",
             f1);
    CHECK(strncmp(a.body, want, strlen(want)) == 0);
    CHECK_HAS(&a, "{\"hash\":\"Public\",\"lastActivity\":\"");
    CHECK_HAS(&a, "\"lastMessage\":\"y\",\"lastSender\":\"S\",\"messageCount\":1,\"name\":\"Public\"}]}");
    CHECK_LACKS(&a, "enc_3A");
    answer_free(&a);
    /* a region counts the observations of its observers (" sjc " is SJC); lastActivity is the
       newest message they heard */
    call(&a, "/api/channels?region=sjc,all&includeEncrypted=true");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "{\"hash\":\"#test\",\"lastActivity\":\"");
    CHECK_HAS(&a, "\"messageCount\":2,\"name\":\"#test\"}");
    CHECK_HAS(&a, "{\"encrypted\":true,\"hash\":\"enc_3A\",\"lastActivity\":\"");
    CHECK_HAS(&a, "\"lastMessage\":null,\"lastSender\":null,\"messageCount\":1,\"name\":\"Encrypted (0x3A)\"}");
    CHECK_LACKS(&a, "Public");
    CHECK(pos_of(&a, "#test") < pos_of(&a, "enc_3A"));
    answer_free(&a);
    call(&a, "/api/channels?region=XYZ&includeEncrypted=true");
    CHECK_EQ_STR(a.body, "{\"channels\":[]}");
    answer_free(&a);
}

static void test_channel_messages(void)
{
    answer_t a;
    /* the hash arrives percent-decoded; the newest two by newest sighting are tx 3 (not
       shown: its decoded_json is no object) and tx 1 */
    call(&a, "/api/channels/%23test/messages?limit=2");
    CHECK_EQ_INT(a.route, MSN_ROUTE_CHANNEL_MESSAGES);
    CHECK_EQ_INT(a.status, 200);
    char ts[32];
    msn_format_iso_s(ts, fx.now_s - 100);
    CHECK_HAS(&a, "\"hops\":2,\"observers\":[\"Alpha\"],\"packetHash\":\"00000000000000a1\",\"packetId\":1,"
                  "\"repeats\":2,\"sender\":\"Alice\",\"sender_timestamp\":1700000000,\"snr\":5,"
                  "\"text\":\"hello there\",\"timestamp\":\"");
    CHECK_HAS(&a, ts);
    CHECK_EQ_INT(count_of(&a, "\"packetId\""), 1);
    CHECK_HAS(&a, "],\"total\":4}");
    answer_free(&a);
    /* the next page: tx 2 and tx 7, emitted oldest first */
    call(&a, "/api/channels/%23test/messages?limit=2&offset=2");
    CHECK_EQ_INT(count_of(&a, "\"packetId\""), 2);
    CHECK(pos_of(&a, "\"packetId\":9") >= 0 && pos_of(&a, "\"packetId\":9") < pos_of(&a, "\"packetId\":3"));
    /* decoded sender kept: no ": " in the text; a ": " at byte 50 or later does not split */
    CHECK_HAS(&a, "\"sender\":\"Bob\",\"sender_timestamp\":null,\"snr\":3,\"text\":\"no colon\"");
    CHECK_HAS(&a, "\"sender\":\"Zed\",\"sender_timestamp\":null,\"snr\":null,\"text\":\"" LONG_TEXT "\"");
    answer_free(&a);
    /* a region: the union of its lists */
    call(&a, "/api/channels/%23test/messages?region=SFO");
    CHECK_HAS(&a, "\"total\":3}");
    CHECK_EQ_INT(count_of(&a, "\"packetId\""), 3);
    answer_free(&a);
    call(&a, "/api/channels/%23test/messages?region=SFO,SJC");
    CHECK_HAS(&a, "\"total\":4}");
    CHECK_EQ_INT(count_of(&a, "\"packetId\""), 3);
    answer_free(&a);
    call(&a, "/api/channels/enc_3A/messages");
    CHECK_HAS(&a, "\"sender\":\"\",\"sender_timestamp\":null,\"snr\":2,\"text\":\"\"");
    answer_free(&a);
    /* a message without observations has no object; unknown channels are empty */
    call(&a, "/api/channels/Public/messages");
    CHECK_EQ_STR(a.body, "{\"messages\":[],\"total\":1}");
    answer_free(&a);
    call(&a, "/api/channels/test/messages?limit=10");
    CHECK_EQ_STR(a.body, "{\"messages\":[],\"total\":0}");
    answer_free(&a);
    /* paging parameters: CoreScope's clamps, 400 beyond 64 bits */
    call(&a, "/api/channels/%23test/messages?limit=-3&offset=-8");
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_INT(count_of(&a, "\"packetId\""), 3);
    answer_free(&a);
    call(&a, "/api/channels/%23test/messages?offset=99999999999999999999");
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "invalid offset");
    answer_free(&a);
    call(&a, "/api/channels/%23test/messages?offset=1000000");
    CHECK_EQ_STR(a.body, "{\"messages\":[],\"total\":4}");
    answer_free(&a);
}

static void test_incremental(void)
{
    /* a new sighting of tx 2 by obs-b moves it to the top of #test and into SJC's list; a new
       observer appears (its document is written) */
    char sql[600];
    snprintf(sql, sizeof(sql),
             "INSERT INTO observations (id, transmission_id, observer_idx, snr, rssi, path_json, timestamp)"
             " VALUES (10, 2, 2, 9, -70, '[]', %lld);"
             "INSERT INTO observers (id, name, iata) VALUES ('obs-d', 'Delta', 'LAX');",
             (long long)fx.now_s - 5);
    uint32_t before = fx.pub.observer_docs.n;
    CHECK_EQ_INT(poll_and_publish(sql), 0);
    CHECK_EQ_INT(fx.pub.observer_docs.n, before + 1);
    CHECK(fx.pub.observer_docs.written >= 1 && fx.pub.observer_docs.written < fx.pub.observer_docs.n);
    atomic_fetch_add(&fx.st->env_seq, 1);
    answer_t a;
    call(&a, "/api/channels/%23test/messages?limit=1");
    CHECK_HAS(&a, "\"packetHash\":\"00000000000000a2\",\"packetId\":3,\"repeats\":2");
    CHECK_HAS(&a, "\"total\":4}");
    answer_free(&a);
    call(&a, "/api/channels/%23test/messages?region=SJC");
    CHECK_HAS(&a, "\"total\":3}");
    answer_free(&a);
    call(&a, "/api/channels?region=SJC");
    CHECK_HAS(&a, "\"messageCount\":3,\"name\":\"#test\"}");
    answer_free(&a);
    call(&a, "/api/observers/obs-d");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"name\":\"Delta\"");
    answer_free(&a);
    /* the observer vanishes: its document goes */
    CHECK_EQ_INT(poll_and_publish("DELETE FROM observers WHERE id = 'obs-d'"), 0);
    CHECK_EQ_INT(fx.pub.observer_docs.deleted, 1);
    call(&a, "/api/observers/obs-d");
    CHECK_EQ_INT(a.status, 404);
    answer_free(&a);
    /* a metrics row replaced in the database is replaced in the snapshot */
    char ts[32];
    msn_format_iso_s(ts, fx.now_s / 300 * 300);
    snprintf(sql, sizeof(sql),
             "INSERT OR REPLACE INTO observer_metrics VALUES ('obs-a', '%s', -77.5, NULL, NULL, NULL, 3333, NULL, "
             "NULL)",
             ts);
    CHECK_EQ_INT(poll_and_publish(sql), 0);
    call(&a, "/api/observers/obs-a/metrics");
    CHECK_HAS(&a, "\"noise_floor\":-77.5,\"battery_mv\":3333");
    CHECK_EQ_INT(count_of(&a, "\"timestamp\""), 37);
    answer_free(&a);
}

static void test_known_channels(void)
{
    answer_t a;
    call(&a, "/api/known-channels?region=SJC");
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.body, "{\"fetchedAt\":\"0001-01-01T00:00:00Z\",\"source\":\"\",\"entries\":[]}");
    answer_free(&a);
}

/* ---- packets ---- */

static void test_timestamps(void)
{
    answer_t a;
    char since[32], path[128];
    msn_format_iso_ms(since, (fx.now_s - 400) * 1000);
    snprintf(path, sizeof(path), "/api/packets/timestamps?since=%s", since);
    call(&a, path);
    CHECK_EQ_INT(a.route, MSN_ROUTE_PACKET_TIMESTAMPS);
    CHECK_EQ_INT(a.status, 200);
    /* first_seen after it (strictly), oldest first: tx 2, 4, 3, 6, 7 */
    char f[5][32], want[256];
    static const int ago[5] = {300, 200, 50, 40, 0};
    for (int i = 0; i < 5; i++)
        msn_format_iso_s(f[i], fx.now_s - ago[i]);
    snprintf(want, sizeof(want), "[\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"]", f[0], f[1], f[2], f[3], f[4]);
    CHECK_EQ_STR(a.body, want);
    answer_free(&a);
    call(&a, "/api/packets/timestamps?since=2999-01-01");
    CHECK_EQ_STR(a.body, "[]");
    answer_free(&a);
    call(&a, "/api/packets/timestamps");
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"error\":\"since required\"}");
    answer_free(&a);
    call(&a, "/api/packets/timestamps?since=yesterday");
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "invalid since");
    answer_free(&a);
}

static void test_observations_post(void)
{
    answer_t a;
    call_body(&a, "POST", "/api/packets/observations",
              "{\"hashes\":[\"00000000000000A6\",\"nothex\",\"00000000000000a4\",\"nothex\"],\"extra\":1}");
    CHECK_EQ_INT(a.route, MSN_ROUTE_PACKET_OBSERVATIONS);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.cache, "no-store");
    /* keyed by the hash as sent, sorted, once each */
    static const char *const head = "{\"results\":{\"00000000000000A6\":[{\"id\":6,\"transmission_id\":6,";
    CHECK(strncmp(a.body, head, strlen(head)) == 0);
    CHECK(pos_of(&a, "\"00000000000000a4\":[{\"id\":5,") > 0);
    CHECK_HAS(&a, "\"nothex\":[]}}");
    CHECK_EQ_INT(count_of(&a, "\"nothex\""), 1);
    CHECK_EQ_INT(count_of(&a, "\"transmission_id\":6"), 3);
    answer_free(&a);
    static const struct {
        const char *body, *want;
        int status;
    } cases[] = {
        {"{\"hashes\":[]}", "{\"results\":{}}", 200},
        {"{}", "{\"results\":{}}", 200},
        {"null", "{\"results\":{}}", 200},
        {"{\"hashes\":null}", "{\"results\":{}}", 200},
        {"{\"Hashes\":[\"zz\"]} trailing", "{\"results\":{\"zz\":[]}}", 200},
        {"", "{\"error\":\"invalid JSON body\"}", 400},
        {"{\"hashes\":[1]}", "{\"error\":\"invalid JSON body\"}", 400},
        {"{\"hashes\":\"00000000000000a6\"}", "{\"error\":\"invalid JSON body\"}", 400},
        {"{\"hashes\":[\"a\",]}", "{\"error\":\"invalid JSON body\"}", 400},
        {"[\"a\"]", "{\"error\":\"invalid JSON body\"}", 400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        call_body(&a, "POST", "/api/packets/observations", cases[i].body);
        CHECK_EQ_INT(a.status, cases[i].status);
        CHECK_EQ_STR(a.body, cases[i].want);
        answer_free(&a);
    }
    /* at most 200 hashes */
    msn_buf_t b = MSN_BUF_INIT;
    msn_buf_puts(&b, "{\"hashes\":[");
    for (int i = 0; i < 201; i++)
        msn_buf_printf(&b, "%s\"%016x\"", i ? "," : "", i);
    msn_buf_puts(&b, "]}");
    call_body(&a, "POST", "/api/packets/observations", msn_buf_cstr(&b));
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"error\":\"too many hashes (max 200)\"}");
    answer_free(&a);
    msn_buf_free(&b);
    /* GET is another route's (packet detail), as in CoreScope */
    call(&a, "/api/packets/observations");
    CHECK_EQ_INT(a.route, MSN_ROUTE_PACKET);
    CHECK_EQ_INT(a.status, 404);
    answer_free(&a);
}

static void test_decode(void)
{
    answer_t a;
    /* a zero-hop direct ACK: hashSize 0, as CoreScope reports it */
    call_body(&a, "POST", "/api/decode", "{\"hex\":\" 0E 00 6F172DC5 \\n\"}");
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.body, "{\"decoded\":{\"header\":{\"routeType\":2,\"routeTypeName\":\"DIRECT\",\"payloadType\":3,"
                         "\"payloadTypeName\":\"ACK\",\"payloadVersion\":0},\"path\":{\"hashSize\":0,\"hashCount\":0,"
                         "\"hops\":[]},\"payload\":{\"type\":\"ACK\",\"extraHash\":\"c52d176f\",\"ackLen\":4}}}");
    answer_free(&a);
    /* a flood packet with two 1-byte hops */
    call_body(&a, "POST", "/api/decode", "{\"HEX\":\"0D02A1B26F172DC5\"}");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"path\":{\"hashSize\":1,\"hashCount\":2,\"hops\":[\"A1\",\"B2\"]},\"payload\":{\"type\":\"ACK\"");
    answer_free(&a);
    static const struct {
        const char *body, *want;
    } bad[] = {
        {"", "{\"error\":\"invalid JSON body\"}"},
        {"{\"hex\":5}", "{\"error\":\"invalid JSON body\"}"},
        {"{\"hex\":", "{\"error\":\"invalid JSON body\"}"},
        {"{}", "{\"error\":\"hex is required\"}"},
        {"{\"hex\":\"  \"}", "{\"error\":\"hex is required\"}"},
        {"{\"hex\":null}", "{\"error\":\"hex is required\"}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        call_body(&a, "POST", "/api/decode", bad[i].body);
        CHECK_EQ_INT(a.status, 400);
        CHECK_EQ_STR(a.body, bad[i].want);
        answer_free(&a);
    }
    /* packets the codec refuses: a 400 saying why, never a crash */
    static const char *const refused[] = {"{\"hex\":\"zz\"}", "{\"hex\":\"0\"}", "{\"hex\":\"0E\"}",
                                          "{\"hex\":\"11FF\"}"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        call_body(&a, "POST", "/api/decode", refused[i]);
        CHECK_EQ_INT(a.status, 400);
        CHECK(strncmp(a.body, "{\"error\":\"", 10) == 0);
        answer_free(&a);
    }
    msn_buf_t big = MSN_BUF_INIT;
    msn_buf_puts(&big, "{\"hex\":\"1100");
    for (int i = 0; i < 600; i++)
        msn_buf_puts(&big, "ab");
    msn_buf_puts(&big, "\"}");
    call_body(&a, "POST", "/api/decode", msn_buf_cstr(&big));
    CHECK_EQ_INT(a.status, 400);
    answer_free(&a);
    msn_buf_free(&big);
}

static void test_traces(void)
{
    answer_t a;
    call(&a, "/api/traces/00000000000000A6");
    CHECK_EQ_INT(a.status, 200);
    /* by time, then id; keys sorted */
    char t40[32], t30[32], want[1024];
    msn_format_iso_ms(t40, (fx.now_s - 40) * 1000);
    msn_format_iso_ms(t30, (fx.now_s - 30) * 1000);
    snprintf(want, sizeof(want),
             "{\"traces\":[{\"observer\":\"obs-a\",\"observer_name\":\"Alpha\",\"path_json\":\"[\\\"AB\\\",\\\"CD\\\"]\","
             "\"rssi\":-99,\"snr\":0.5,\"time\":\"%s\"},{\"observer\":\"obs-b\",\"observer_name\":\"Bravo\","
             "\"path_json\":\"[\\\"AB\\\"]\",\"rssi\":-101,\"snr\":-1.5,\"time\":\"%s\"},{\"observer\":\"obs-a\","
             "\"observer_name\":\"Alpha\",\"path_json\":\"[]\",\"rssi\":-100,\"snr\":2.25,\"time\":\"%s\"}]}",
             t40, t30, t30);
    CHECK_EQ_STR(a.body, want);
    answer_free(&a);
    call(&a, "/api/traces/ffffffffffffffff");
    CHECK_EQ_STR(a.body, "{\"traces\":[]}");
    answer_free(&a);
    call(&a, "/api/traces/not%20a%20hash");
    CHECK_EQ_STR(a.body, "{\"traces\":[]}");
    answer_free(&a);
}

/* ---- the analytics pages ---- */

static void test_analytics_pages(void)
{
    answer_t a;
    /* scope-stats: 24h is the default shape, published here */
    call(&a, "/api/scope-stats?window=24h");
    CHECK_EQ_INT(a.status, 200);
    CHECK(a.use_doc);
    CHECK_HAS(&a, "{\"window\":\"24h\",\"summary\":{\"transportTotal\":0,\"scoped\":0,\"unscoped\":7,");
    answer_free(&a);
    call(&a, "/api/scope-stats?window=30d");
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"error\":\"window must be 1h, 24h, or 7d\"}");
    answer_free(&a);
    /* subpaths-bulk: CoreScope's 200 errors; the dashboard's groups are the default shape */
    static const struct {
        const char *q, *want;
    } bulk[] = {
        {"", "{\"error\":\"groups parameter required (e.g. groups=2-2:50,3-3:30)\"}"},
        {"?groups=", "{\"error\":\"groups parameter required (e.g. groups=2-2:50,3-3:30)\"}"},
        {"?groups=2-2", "{\"error\":\"invalid group format: 2-2\"}"},
        {"?groups=2:5", "{\"error\":\"invalid range format: 2\"}"},
        {"?groups=1-3:5", "{\"error\":\"invalid group: 1-3:5\"}"},
    };
    for (size_t i = 0; i < sizeof(bulk) / sizeof(bulk[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/analytics/subpaths-bulk%s", bulk[i].q);
        call(&a, path);
        CHECK_EQ_INT(a.status, 200);
        CHECK_EQ_STR(a.body, bulk[i].want);
        answer_free(&a);
    }
    call(&a, "/api/analytics/subpaths-bulk?groups=2-2:50,3-3:30,4-4:20,5-8:15");
    CHECK_EQ_STR(a.body, "{\"error\":\"analytics warming up\",\"retry_after_s\":5}");
    answer_free(&a);
    uint64_t tail = atomic_load(&fx.st->shape_head);
    call(&a, "/api/analytics/subpaths-bulk?groups=%2B2-02:500&region=sjc&window=1d&area=x");
    CHECK_EQ_INT(a.status, 503);
    answer_free(&a);
    int an, missing;
    char key[120];
    CHECK(msn_status_take_shape(fx.st, &tail, &an, key, &missing));
    CHECK_EQ_INT(an, MSN_AN_SUBPATHS_BULK);
    CHECK_EQ_STR(key, "r=SJC;w=24h;p=2-2:200");
    call(&a, "/api/analytics/subpaths-bulk?groups=2-2:1,2-2:1,2-2:1,2-2:1,2-2:1,2-2:1,2-2:1,2-2:1,2-2:1");
    CHECK_EQ_INT(a.status, 400);
    answer_free(&a);
    /* subpath-detail */
    call(&a, "/api/analytics/subpath-detail?hops=AB");
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.body, "{\"error\":\"Need at least 2 hops\"}");
    answer_free(&a);
    call(&a, "/api/analytics/subpath-detail?hops=AB,CD&region=SJC&window=1h");
    CHECK_EQ_INT(a.status, 503);
    answer_free(&a);
    CHECK(msn_status_take_shape(fx.st, &tail, &an, key, &missing));
    CHECK_EQ_INT(an, MSN_AN_SUBPATH_DETAIL);
    CHECK_EQ_STR(key, "p=AB,CD"); /* CoreScope reads neither region nor window here */
    /* relay-airtime-share: region and area are ignored (even malformed), the window is not */
    call(&a, "/api/analytics/relay-airtime-share?region=%3C%3E&area=%21");
    CHECK_EQ_STR(a.body, "{\"error\":\"analytics warming up\",\"retry_after_s\":5}");
    answer_free(&a);
    call(&a, "/api/analytics/relay-airtime-share?window=2w");
    CHECK_EQ_INT(a.status, 400);
    answer_free(&a);
    call(&a, "/api/audio-lab/buckets");
    CHECK_EQ_INT(a.route, MSN_ROUTE_AUDIO_LAB_BUCKETS);
    CHECK_EQ_INT(a.status, 503);
    answer_free(&a);
}

int main(void)
{
    if (fixture_build() < 0) {
        fprintf(stderr, "could not build the snapshot fixture\n");
        return 1;
    }
    MSN_RUN(test_observer_detail);
    MSN_RUN(test_observer_analytics);
    MSN_RUN(test_observer_metrics);
    MSN_RUN(test_metrics_summary);
    MSN_RUN(test_channels);
    MSN_RUN(test_channel_messages);
    MSN_RUN(test_known_channels);
    MSN_RUN(test_timestamps);
    MSN_RUN(test_observations_post);
    MSN_RUN(test_decode);
    MSN_RUN(test_traces);
    MSN_RUN(test_analytics_pages);
    MSN_RUN(test_incremental);
    fixture_free();
    return msn_test_done();
}
