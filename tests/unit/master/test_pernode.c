/*
 * test_pernode.c: the per-node documents (master/analytics/pernode.h) and the node index
 * (master/nodeidx.h) on a hand-made mesh, with every figure worked out by hand from
 * CoreScope's rules (cmd/server store.go GetNodeHealth, GetBulkHealth, GetNodeAnalytics,
 * routes.go handleNodePaths and handleNodeDetail, node_reach.go, neighbor_graph.go).
 *
 * The mesh (tests/unit/nodemesh.h), at now = 2026-03-27T12:00:00Z (a Friday):
 *   nodes     R1 aa11.. repeater (37.5, -122.0), R2 bb22.. repeater (37.6, -122.1),
 *             C1 cc33.. companion (37.55, -122.05)
 *   observers rowid 1 "O1-OBSERVER" (Obs One, SJC, can_relay 1),
 *             rowid 2 "obs-two" (Obs Two, SFO, can_relay 0)
 *   tx 1  TXT_MSG  2026-03-24T12:00Z  destPubKey R1, srcPubKey C1, sender_key C1 "Cee"
 *                  obs 1: O1 snr 10 rssi -70 path []
 *   tx 2  ADVERT   2026-03-26T06:00Z  from C1
 *                  obs 2: O1 snr 4 rssi -95 path [AA] resolved [R1]
 *   tx 3  ADVERT   2026-03-27T10:00Z  from R1 (raw header 0x11, path byte 0x00: hash size 1)
 *                  obs 3: O1 snr 8 rssi -90 path []; obs 4: O2 snr 2 rssi -100 path [BB] resolved [R2]
 *   tx 4  GRP_TXT  2026-03-27T11:30Z
 *                  obs 5: O2 snr -2 rssi -105 path [AA,BB] resolved [R1,R2]
 * Best observation (most hops, then newest): tx1 obs1, tx2 obs2, tx3 obs4, tx4 obs5.
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/analytics/pernode.h"
#include "master/nodeidx.h"
#include "master/store.h"
#include "shm/mpk.h"
#include "shm/schema.h"
#include "nodemesh.h"
#include "testlib.h"

#define NOW_MS NODEMESH_NOW_MS

static msn_store_t st;
static msn_nodeidx_t idx;
static msn_pernode_t *full;
static msn_buf_t out;

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "SQL failed: %s\n", msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Loads the mesh into st and indexes it. */
static int load(const char *dir)
{
    char path[600], err[512];
    snprintf(path, sizeof(path), "%s/mesh.db", dir);
    if (msn_schema_init_db(path, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    sqlite3 *db = NULL;
    if (msn_sqlite_open(path, 0, &db, err, sizeof(err)) < 0 || exec_sql(db, NODEMESH_SQL) < 0) {
        sqlite3_close(db);
        return -1;
    }
    msn_store_init(&st);
    int rc = msn_store_load(&st, db, 1000, NULL, NULL, NULL, err, sizeof(err)) < 0 ||
                     msn_store_reload_small(&st, db, NOW_MS / 1000, err, sizeof(err)) < 0
                 ? -1
                 : 0;
    if (rc < 0)
        fprintf(stderr, "%s\n", err);
    sqlite3_close(db);
    msn_nodeidx_init(&idx);
    msn_nodeidx_update(&idx, &st);
    return rc;
}

static uint32_t key(const char *pk)
{
    return msn_store_intern_key(&st, pk, 64);
}

#define HAS(needle) has(out.data, out.len, needle, __LINE__)
static int has(const char *hay, size_t n, const char *needle, int line)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= n; i++)
        if (memcmp(hay + i, needle, nl) == 0)
            return 1;
    fprintf(stderr, "line %d: missing %s\n  in %.*s\n", line, needle, (int)(n < 3000 ? n : 3000), hay);
    return 0;
}

/* ---- the node index ---- */

static void test_index(void)
{
    uint32_t n;
    const uint32_t *v = msn_nodeidx_txs(&idx, key(R1), &n);
    CHECK_EQ_INT(n, 4); /* destPubKey, resolved hop, pubKey, resolved hop */
    for (uint32_t i = 0; i < n; i++)
        CHECK_EQ_INT(st.tx[v[i]].id, (int64_t)i + 1);
    v = msn_nodeidx_txs(&idx, key(C1), &n);
    CHECK_EQ_INT(n, 2); /* srcPubKey, pubKey */
    v = msn_nodeidx_txs(&idx, key(R2), &n);
    CHECK_EQ_INT(n, 2); /* resolved hops of tx 3 and tx 4 */
    CHECK_EQ_INT(st.tx[v[0]].id, 3);
    /* unique relay prefixes: "aa" names R1 only; "a" is too short, "aa11111x" nobody */
    CHECK(msn_nodeidx_unique_relay(&idx, "AA", 2) >= 0);
    CHECK_EQ_INT(msn_nodeidx_unique_relay(&idx, "a", 1), -1);
    CHECK_EQ_INT(msn_nodeidx_unique_relay(&idx, "aa11111x", 8), -1);
    CHECK_EQ_INT(msn_nodeidx_unique_relay(&idx, "cc", 2), -1); /* a companion is no relay */
    CHECK(msn_nodeidx_relay_role("Repeater"));
    CHECK(msn_nodeidx_relay_role("room"));
    CHECK(!msn_nodeidx_relay_role("roomy"));
}

/* A poll that brings one observation of an old transmission marks every node of that
 * transmission dirty, and only those. */
static void test_index_incremental(void)
{
    msn_nodeidx_t x;
    msn_nodeidx_init(&x);
    msn_nodeidx_update(&x, &st);
    msn_u32vec_t d = {0};
    msn_nodeidx_take_dirty(&x, &d);
    CHECK_EQ_INT(d.n, 3); /* R1, C1, R2 */
    d.n = 0;
    msn_nodeidx_update(&x, &st); /* nothing new */
    msn_nodeidx_take_dirty(&x, &d);
    CHECK_EQ_INT(d.n, 0);
    /* a new observation of tx 2 (C1's advert, relayed by R1) by O2 */
    msn_obs_t o = st.obs[1];
    o.id = 6;
    o.observer_rowid = 2;
    st.obs = realloc(st.obs, (st.n_obs + 1) * sizeof(msn_obs_t));
    st.obs[st.n_obs] = o;
    msn_tx_t *t = msn_store_tx_by_id(&st, 2);
    t->obs = realloc(t->obs, (t->n_obs + 1) * sizeof(uint32_t));
    t->obs[t->n_obs++] = st.n_obs++;
    msn_nodeidx_update(&x, &st);
    msn_nodeidx_take_dirty(&x, &d);
    CHECK_EQ_INT(d.n, 2);
    int r1 = 0, c1 = 0;
    for (uint32_t i = 0; i < d.n; i++) {
        r1 |= d.v[i] == key(R1);
        c1 |= d.v[i] == key(C1);
    }
    CHECK(r1 && c1);
    /* undo: the other tests read the original mesh */
    st.n_obs--;
    t->n_obs--;
    msn_u32vec_free(&d);
    msn_nodeidx_free(&x);
}

/* ---- documents ---- */

static void test_health(void)
{
    CHECK_EQ_INT(msn_pernode_health(full, key(R1), &out), 1);
    CHECK(HAS("\"stats\":{\"avgHops\":1,\"avgSnr\":3.5,\"lastHeard\":\"2026-03-27T11:30:00Z\",\"packetsToday\":2,"
              "\"totalObservations\":5,\"totalPackets\":4,\"totalTransmissions\":4}"));
    CHECK(HAS("\"observers\":[{\"avgRssi\":-82.5,\"avgSnr\":7,\"can_relay\":true,\"observer_id\":\"O1-OBSERVER\","
              "\"observer_name\":\"Obs One\",\"packetCount\":2},{\"avgRssi\":-102.5,\"avgSnr\":0,\"can_relay\":false,"
              "\"observer_id\":\"obs-two\",\"observer_name\":\"Obs Two\",\"packetCount\":2}]"));
    /* newest first: tx 4, 3, 2, 1 */
    CHECK(HAS("\"recentPackets\":[{\"_parsedPath\":[\"AA\",\"BB\"]"));
    const char *p4 = strstr(msn_buf_cstr(&out), "00000000000000a4"), *p1 = strstr(out.data, "00000000000000a1");
    CHECK(p4 && p1 && p4 < p1);
    CHECK(HAS("{\"node\":{\"advert_count\":5,"));
    CHECK(HAS("\"hash_size\":null,\"hash_size_inconsistent\":false"));
    /* C1: its own advert and the message it sent */
    CHECK_EQ_INT(msn_pernode_health(full, key(C1), &out), 1);
    CHECK(HAS("\"totalTransmissions\":2"));
    CHECK(HAS("\"packetsToday\":0"));
    /* a key with neither a row nor transmissions has no document */
    CHECK_EQ_INT(msn_pernode_health(full, key("dd44444444444444444444444444444444444444444444444444444444444444"), &out),
                 0);
}

static void test_bulk(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    CHECK_EQ_INT(msn_pernode_bulk(full, key(R1), &sb), 1);
    msn_mpk_reader_t r;
    uint32_t n, nr;
    const char *s, *entry;
    uint32_t sl, el;
    msn_mpk_reader_init(&r, sb.data, sb.size);
    CHECK(msn_mpk_read_array(&r, &n) == 0 && n == 2);
    CHECK(msn_mpk_read_array(&r, &nr) == 0 && nr == 2);
    CHECK(msn_mpk_read_str(&r, &s, &sl) == 0 && sl == 3 && memcmp(s, "SFO", 3) == 0);
    CHECK(msn_mpk_read_str(&r, &s, &sl) == 0 && sl == 3 && memcmp(s, "SJC", 3) == 0);
    CHECK(msn_mpk_read_bin(&r, &entry, &el) == 0);
    CHECK(has(entry, el,
              "{\"lat\":37.5,\"lon\":-122,\"name\":\"R One\",\"observers\":[{\"avgRssi\":-82.5,\"avgSnr\":7,"
              "\"observer_id\":\"O1-OBSERVER\",\"observer_name\":\"Obs One\",\"packetCount\":2}",
              __LINE__));
    CHECK(has(entry, el,
              "\"public_key\":\"" R1 "\",\"role\":\"repeater\",\"stats\":{\"avgSnr\":3.5,\"lastHeard\":"
              "\"2026-03-27T11:30:00Z\",\"packetsToday\":2,\"totalObservations\":5,\"totalPackets\":4,"
              "\"totalTransmissions\":4}}",
              __LINE__));
    msgpack_sbuffer_destroy(&sb);
}

static void test_analytics(void)
{
    CHECK_EQ_INT(msn_pernode_analytics(full, key(R1), 1, &out), 1);
    CHECK(HAS("\"timeRange\":{\"from\":\"2026-03-26T12:00:00Z\",\"to\":\"2026-03-27T12:00:00Z\",\"days\":1}"));
    CHECK(HAS("\"activityTimeline\":[{\"count\":1,\"bucket\":\"2026-03-27T10:00:00Z\"},{\"count\":1,\"bucket\":"
              "\"2026-03-27T11:00:00Z\"}]"));
    CHECK(HAS("\"snrTrend\":[{\"timestamp\":\"2026-03-27T10:00:00Z\",\"snr\":2,\"rssi\":-100,\"observer_id\":"
              "\"obs-two\",\"observer_name\":\"Obs Two\"},{\"timestamp\":\"2026-03-27T11:30:00Z\",\"snr\":-2,"));
    CHECK(HAS("\"packetTypeBreakdown\":[{\"payload_type\":4,\"count\":1},{\"payload_type\":5,\"count\":1}]"));
    CHECK(HAS("\"observerCoverage\":[{\"observer_id\":\"obs-two\",\"observer_name\":\"Obs Two\",\"packetCount\":2,"
              "\"avgSnr\":0,\"avgRssi\":-102.5,\"firstSeen\":\"2026-03-27T10:00:00Z\",\"lastSeen\":"
              "\"2026-03-27T11:30:00Z\"}]"));
    CHECK(HAS("\"hopDistribution\":[{\"hops\":\"1\",\"count\":1},{\"hops\":\"2\",\"count\":1}]"));
    CHECK(HAS("\"peerInteractions\":[]"));
    CHECK(HAS("\"uptimeHeatmap\":[{\"dayOfWeek\":5,\"hour\":10,\"count\":1},{\"dayOfWeek\":5,\"hour\":11,\"count\":1}]"));
    /* 2 of 24 hours = 8.33 -> 8.3; SNR 2 and -2: mean 0, deviation 2, grade D; 1 of 2
       transmissions with a path relayed (2 hops) */
    CHECK(HAS("\"computedStats\":{\"availabilityPct\":8.3,\"longestSilenceMs\":3600000,\"longestSilenceStart\":"
              "\"2026-03-27T10:00:00Z\",\"signalGrade\":\"D\",\"snrMean\":0,\"snrStdDev\":2,\"relayPct\":50,"
              "\"totalPackets\":2,\"uniqueObservers\":1,\"uniquePeers\":0,\"avgPacketsPerDay\":2}"));
    /* 7 days: all four. SNR 10, 4, 2, -2: mean 3.5, deviation sqrt(18.75) = 4.33 -> C;
       4 hours of 168 = 2.38 -> 2.4; 4 / 7 = 0.57 -> 0.6; with a path 3, relayed 1 -> 33.3;
       the longest silence from 03-24 12h to 03-26 06h = 42 h */
    CHECK_EQ_INT(msn_pernode_analytics(full, key(R1), 7, &out), 1);
    CHECK(HAS("\"computedStats\":{\"availabilityPct\":2.4,\"longestSilenceMs\":151200000,\"longestSilenceStart\":"
              "\"2026-03-24T12:00:00Z\",\"signalGrade\":\"C\",\"snrMean\":3.5,\"snrStdDev\":4.3,\"relayPct\":33.3,"
              "\"totalPackets\":4,\"uniqueObservers\":2,\"uniquePeers\":1,\"avgPacketsPerDay\":0.6}"));
    CHECK(HAS("\"peerInteractions\":[{\"peer_key\":\"" C1 "\",\"peer_name\":\"Cee\",\"messageCount\":1,"
              "\"lastContact\":\"2026-03-24T12:00:00Z\"}]"));
    CHECK(HAS("{\"hops\":\"0\",\"count\":1},{\"hops\":\"1\",\"count\":2},{\"hops\":\"2\",\"count\":1}"));
    /* a node without a row has no analytics (CoreScope: 404) */
    CHECK_EQ_INT(
        msn_pernode_analytics(full, key("dd44444444444444444444444444444444444444444444444444444444444444"), 7, &out),
        0);
}

static void test_paths(void)
{
    CHECK_EQ_INT(msn_pernode_paths(full, key(R1), &out), 1);
    CHECK(HAS("{\"node\":{\"lat\":37.5,\"lon\":-122,\"name\":\"R One\",\"public_key\":\"" R1 "\"},\"paths\":["));
    /* tx 4 through R1 then R2 (newest first), then tx 2 through R1; tx 3's canonical path
       names R2 only, tx 1 has none */
    CHECK(HAS("\"paths\":[{\"hops\":[{\"prefix\":\"AA\",\"name\":\"R One\",\"pubkey\":\"" R1
              "\",\"lat\":37.5,\"lon\":-122},{\"prefix\":\"BB\",\"name\":\"R Two\",\"pubkey\":\"" R2
              "\",\"lat\":37.6,\"lon\":-122.1}],\"count\":1,\"lastSeen\":\"2026-03-27T11:30:00Z\",\"sampleHash\":"
              "\"00000000000000a4\"},{\"hops\":[{\"prefix\":\"AA\""));
    CHECK(HAS("\"totalPaths\":2,\"totalTransmissions\":2}"));
}

static void test_detail(void)
{
    CHECK_EQ_INT(msn_pernode_detail(full, key(R1), &out), 1);
    /* the advert header 0x11 with path byte 0x00: hash size 1; R1 relayed tx 4 (flood, 30
       minutes ago); its own flood advert of today */
    CHECK(HAS("\"flood_advert_count_7d\":1,\"foreign\":false,\"hash_size\":1,\"hash_size_inconsistent\":false,"
              "\"last_heard\""));
    CHECK(HAS("\"last_relayed\":\"2026-03-27T11:30:00Z\",\"last_seen\""));
    CHECK(HAS("\"relay_active\":true,\"relay_count_1h\":1,\"relay_count_24h\":1,\"relay_window_hours\":24,"
              "\"role\":\"repeater\",\"temperature_c\":null,\"unscoped_relay_count_24h\":1}"));
    /* a companion gets no relay fields */
    CHECK_EQ_INT(msn_pernode_detail(full, key(C1), &out), 1);
    CHECK(strstr(msn_buf_cstr(&out), "relay_") == NULL);
}

static void test_reach(void)
{
    CHECK_EQ_INT(msn_pernode_reach(full, key(R1), 7, &out), 1);
    CHECK(HAS("\"reliable_tokens\":[\"AA\",\"AA11\",\"AA1111\"]"));
    /* obs 2 (first hop of C1's advert, last hop to O1) and obs 5 (AA then BB) */
    CHECK(HAS("\"importance\":{\"neighbor_degree\":3,\"degree_rank\":1,\"nodes_with_edges\":5,"
              "\"relay_observations\":2,\"bidirectional_links\":0,\"direct_observers\":1}"));
    CHECK(HAS("\"direct_observers\":[{\"pubkey\":\"o1-observer\",\"name\":\"Obs One\",\"count\":1,\"avg_snr\":4,"
              "\"lat\":null,\"lon\":null,\"distance_km\":null}]"));
    CHECK(HAS("\"links\":[{\"pubkey\":\"" R2 "\",\"name\":\"R Two\",\"role\":\"repeater\",\"lat\":37.6,\"lon\":-122.1,"
              "\"we_hear\":0,\"they_hear\":1,\"bottleneck\":0,\"bidir\":false,\"distance_km\":"));
    CHECK(HAS("{\"pubkey\":\"" C1 "\",\"name\":\"Cee\",\"role\":\"companion\",\"lat\":37.55,\"lon\":-122.05,"
              "\"we_hear\":1,\"they_hear\":0"));
    CHECK(HAS("{\"pubkey\":\"o1-observer\",\"name\":\"Obs One\",\"role\":\"observer\",\"lat\":null,\"lon\":null,"
              "\"we_hear\":0,\"they_hear\":1"));
    /* one day: only obs 5 */
    CHECK_EQ_INT(msn_pernode_reach(full, key(R1), 1, &out), 1);
    CHECK(HAS("\"relay_observations\":1,"));
}

/* The graph: R1-O1 (zero-hop advert, then the last hop of C1's advert: 2), R1-R2 (first
 * hop of R1's advert), C1-R1 (first hop of C1's advert), obs-two-R2 (last hops: 2). */
static void test_graph(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    CHECK_EQ_INT(msn_pernode_neighbors(full, key(R1), &sb), 1);
    msn_mpk_reader_t r;
    uint32_t n;
    msn_mpk_reader_init(&r, sb.data, sb.size);
    CHECK(msn_mpk_read_array(&r, &n) == 0 && n == 3);
    int64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f, pl;
        const char *pk;
        int64_t count;
        CHECK(msn_mpk_read_array(&r, &f) == 0 && f == 14);
        if (msn_mpk_peek(&r) == MSN_MPK_NIL)
            msn_mpk_read_nil(&r);
        else
            msn_mpk_read_str(&r, &pk, &pl);
        msn_mpk_skip(&r); /* prefix */
        CHECK(msn_mpk_read_int(&r, &count) == 0);
        total += count;
        for (int k = 0; k < 11; k++)
            msn_mpk_skip(&r);
    }
    CHECK_EQ_INT(total, 4);
    CHECK_EQ_INT(msn_pernode_neighbors(full, key(C1), &sb), 1);
    CHECK_EQ_INT(msn_pernode_graph(full, &sb), 1);
    msn_mpk_reader_init(&r, sb.data, sb.size);
    uint32_t top, nn, no, ne;
    CHECK(msn_mpk_read_array(&r, &top) == 0 && top == 4);
    CHECK(msn_mpk_read_array(&r, &nn) == 0 && nn == 5); /* R1, o1-observer, R2, obs-two, C1 */
    for (uint32_t i = 0; i < nn; i++)
        msn_mpk_skip(&r);
    CHECK(msn_mpk_read_array(&r, &no) == 0 && no == 2);
    for (uint32_t i = 0; i < no; i++)
        msn_mpk_skip(&r);
    CHECK(msn_mpk_read_array(&r, &ne) == 0 && ne == 4);
    msgpack_sbuffer_destroy(&sb);
}

static void test_clock_skew(void)
{
    /* no advert carries a timestamp: no samples, no document */
    CHECK_EQ_INT(msn_pernode_clock_skew(full, key(R1), &out), 0);
}

static void test_changes_run(void)
{
    /* a changes run renders everything but reach and neighbours */
    msn_pernode_t *p = msn_pernode_new(&st, &idx, NOW_MS, 0);
    CHECK_EQ_INT(msn_pernode_health(p, key(R1), &out), 1);
    CHECK(HAS("\"totalTransmissions\":4"));
    CHECK_EQ_INT(msn_pernode_reach(p, key(R1), 7, &out), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    CHECK_EQ_INT(msn_pernode_graph(p, &sb), 0);
    msgpack_sbuffer_destroy(&sb);
    msn_pernode_free(p);
}

int main(void)
{
    const char *dir = msn_test_tmpdir("pernode");
    if (load(dir) < 0)
        return 1;
    full = msn_pernode_new(&st, &idx, NOW_MS, 1);
    MSN_RUN(test_index);
    MSN_RUN(test_index_incremental);
    MSN_RUN(test_health);
    MSN_RUN(test_bulk);
    MSN_RUN(test_analytics);
    MSN_RUN(test_paths);
    MSN_RUN(test_detail);
    MSN_RUN(test_reach);
    MSN_RUN(test_graph);
    MSN_RUN(test_clock_skew);
    MSN_RUN(test_changes_run);
    msn_pernode_free(full);
    msn_buf_free(&out);
    msn_nodeidx_free(&idx);
    msn_store_free(&st);
    return msn_test_done();
}
