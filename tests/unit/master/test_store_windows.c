/*
 * test_store_windows.c: the edges of the time windows CoreScope counts over, on a store
 * loaded from a database whose rows sit exactly on them. CoreScope counts
 * `timestamp > now - window` for packetsLastHour / packetsLast24h (whole seconds, its
 * time.Now().Add(-d).Unix()), and `last_seen > cutoff` for active nodes, where the cutoff
 * is now - 7 days written in RFC3339 to the second: a row exactly on an edge is outside.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "master/analytics/analytics.h"
#include "master/render.h"
#include "master/store.h"
#include "shm/config.h"
#include "shm/jsonr.h"
#include "shm/schema.h"
#include "shm/timeutil.h"
#include "testlib.h"

#define NOW_S 1784376000LL /* 2026-07-18T12:00:00Z */

/* One observation by observer 1 at unix time ts (its own transmission). */
static void add_obs(sqlite3 *db, int id, int64_t ts)
{
    char sql[1024], iso[32];
    msn_format_iso_s(iso, ts);
    snprintf(sql, sizeof(sql),
             "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json,"
             " last_seen) VALUES (%d, '15001122', '%016x', '%s', 1, 5, '{\"type\":\"GRP_TXT\"}', %lld);"
             "INSERT INTO observations (id, transmission_id, observer_idx, direction, snr, rssi, score, path_json,"
             " timestamp) VALUES (%d, %d, 1, 'rx', 5.5, -90, 1, '[]', %lld);",
             id, 0xabc000 + id, iso, (long long)ts, id, id, (long long)ts);
    msn_test_exec(db, sql);
}

/* A node last seen at unix time ts (RFC3339 to the second, as the ingestor writes it). */
static void add_node(sqlite3 *db, char c, int64_t ts)
{
    char sql[512], iso[32], key[65];
    memset(key, c, 64);
    key[64] = '\0';
    msn_format_iso_s(iso, ts);
    snprintf(sql, sizeof(sql),
             "INSERT INTO nodes (public_key, name, role, last_seen, first_seen) VALUES ('%s', 'n%c', 'repeater',"
             " '%s', '2026-07-01T00:00:00Z');",
             key, c, iso);
    msn_test_exec(db, sql);
}

static double member(const msn_buf_t *body, const char *key)
{
    msn_jsonr_obj_t o;
    double d = -1;
    if (msn_jsonr_obj_parse(&o, body->data, body->len) < 0 || msn_jsonr_obj_num(&o, key, &d) < 0) {
        fprintf(stderr, "no number %s in %.*s\n", key, (int)body->len, body->data);
        msn_test_failures++;
    }
    return d;
}

static void test_window_edges(void)
{
    sqlite3 *db;
    char err[512];
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK_EQ_INT(msn_schema_create_current(db, err, sizeof(err)), 0);
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name, iata, last_seen, first_seen) VALUES"
                      " (1, 'obs1', 'Observer One', 'SJC', '2026-07-18T11:00:00Z', '2026-07-01T00:00:00Z');");
    /* observations: on and just inside the 24 h edge, on and just inside the 1 h edge */
    add_obs(db, 1, NOW_S - 86400);
    add_obs(db, 2, NOW_S - 86399);
    add_obs(db, 3, NOW_S - 3600);
    add_obs(db, 4, NOW_S - 3599);
    add_obs(db, 5, NOW_S);
    /* nodes: on the 7-day edge, a second inside it, long gone */
    add_node(db, 'a', NOW_S - 7 * 86400);
    add_node(db, 'b', NOW_S - 7 * 86400 + 1);
    add_node(db, 'c', NOW_S - 30 * 86400);

    msn_store_t s;
    msn_store_init(&s);
    CHECK_EQ_INT(msn_store_load(&s, db, 1000, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_reload_small(&s, db, NOW_S, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_observers, 1);
    CHECK_EQ_INT(s.observers[0].packets_last_hour, 2); /* ids 4 and 5 */

    /* now on a whole second, and with a fraction of one: CoreScope's cutoffs are whole
     * seconds, so both count the same */
    msn_buf_t b = MSN_BUF_INIT;
    for (int64_t now_ms = NOW_S * 1000; now_ms <= NOW_S * 1000 + 700; now_ms += 700) {
        msn_buf_reset(&b);
        msn_render_stats(&b, &s, now_ms);
        CHECK_EQ_INT(member(&b, "packetsLastHour"), 2);
        CHECK_EQ_INT(member(&b, "packetsLast24h"), 4); /* ids 2..5 */
        CHECK_EQ_INT(member(&b, "totalNodes"), 1);     /* node b */
        CHECK_EQ_INT(member(&b, "totalNodesAllTime"), 3);

        msn_an_shape_t shape = {0};
        msn_buf_reset(&b);
        CHECK_EQ_INT(msn_analytic_compute(MSN_AN_TOPOLOGY, &s, &shape, now_ms, &b, err, sizeof(err)), 0);
        CHECK_EQ_INT(member(&b, "uniqueNodes"), 1);
    }

    msn_buf_free(&b);
    msn_store_free(&s);
    sqlite3_close(db);
}

static void test_node_active(void)
{
    msn_node_t n = {0};
    int64_t now_ms = NOW_S * 1000 + 999, cut_s = NOW_S - 7 * 86400;
    n.last_seen_ms = cut_s * 1000;
    CHECK(!msn_store_node_active(&n, now_ms));
    n.last_seen_ms = cut_s * 1000 + 999; /* same second as the cutoff: "…:00.999Z" < "…:00Z" */
    CHECK(!msn_store_node_active(&n, now_ms));
    n.last_seen_ms = (cut_s + 1) * 1000;
    CHECK(msn_store_node_active(&n, now_ms));
    n.last_seen_ms = 0; /* never seen */
    CHECK(!msn_store_node_active(&n, now_ms));
    CHECK_EQ_INT(msn_store__secs(-1), -1);
    CHECK_EQ_INT(msn_store__secs(-1000), -1);
    CHECK_EQ_INT(msn_store__secs(-1001), -2);
    CHECK_EQ_INT(msn_store__secs(1999), 1);
}

int main(void)
{
    MSN_RUN(test_window_edges);
    MSN_RUN(test_node_active);
    return msn_test_done();
}
