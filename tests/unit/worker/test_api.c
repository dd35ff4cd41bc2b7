/*
 * test_api.c: the worker's request handling without HTTP (worker/dispatch.c and the
 * handlers of worker/api_*.c). A hand-made CoreScope database is loaded and published by
 * the master's own code (master/store.c, master/publish.c) into a snapshot in a temporary
 * state directory, with a status block beside it; each test fills an msn_api_req_t the way
 * worker.c does and reads back status, body, Cache-Control and the route that answered.
 *
 * The mesh: observers obs-a (SFO, rowid 1) and obs-b (SJC, rowid 2); nodes KEY_A1 and
 * KEY_A2 (the same 8-hex prefix "aabbccdd") and KEY_B; transmissions
 *   1 advert from KEY_A1   heard by obs-a and obs-b (observations 1, 2)
 *   2 group text           heard by obs-a          (observation 3)
 *   3 advert from KEY_B    heard by obs-b          (observation 4)
 *   4 direct text          heard by obs-a          (observation 5)
 * plus a published topology analytic (an/topology).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/publish.h"
#include "master/store.h"
#include "shm/anshape.h"
#include "shm/config.h"
#include "shm/schema.h"
#include "shm/status.h"
#include "shm/timeutil.h"
#include "testlib.h"
#include "worker/api.h"
#include "worker/dispatch.h"
#include "worker/query.h"
#include "worker/snapview.h"

#define KEY_A1 "aabbccdd11111111111111111111111111111111111111111111111111111111"
#define KEY_A2 "aabbccdd22222222222222222222222222222222222222222222222222222222"
#define KEY_B "1234567833333333333333333333333333333333333333333333333333333333"
#define HASH_1 "00000000000000a1"
#define HASH_2 "00000000000000b2"
#define POLL_MS 30000
#define TEST_MAX_PARAMS 32 /* [http] max_query_params by default */
#define TOPOLOGY_BODY "{\"nodes\":[],\"edges\":[],\"fixture\":true}"

/* The published snapshot and status block every test reads (built once in main). */
static struct {
    char dir[512];
    msn_status_t *st;
    msn_snapview_t view;
    int admin, busy; /* the next call() is on the admin listener / with full buffers */
} fx;

/* ---- the fixture ---- */

static int make_db(const char *path, int64_t now_s)
{
    char err[512], sql[6000], t1[32], t2[32], t3[32], t4[32];
    if (msn_schema_init_db(path, err, sizeof(err)) < 0) {
        fprintf(stderr, "init-db: %s\n", err);
        return -1;
    }
    msn_format_iso_s(t1, now_s - 3600);
    msn_format_iso_s(t2, now_s - 2400);
    msn_format_iso_s(t3, now_s - 1200);
    msn_format_iso_s(t4, now_s - 600);
    snprintf(
        sql, sizeof(sql),
        "INSERT INTO observers (id, name, iata, last_seen, first_seen) VALUES"
        " ('obs-a', 'Alpha', 'SFO', '%s', '%s'), ('obs-b', 'Bravo', 'SJC', '%s', '%s');"
        "INSERT INTO nodes (public_key, name, role, last_seen, first_seen, advert_count) VALUES"
        " ('" KEY_A1 "', 'Alpha node', 'repeater', '%s', '%s', 3),"
        " ('" KEY_A2 "', 'Alpha twin', 'companion', '%s', '%s', 1),"
        " ('" KEY_B "', 'Bee', 'repeater', '%s', '%s', 2);"
        "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json,"
        " from_pubkey, last_seen) VALUES"
        " (1, '1100aa', '" HASH_1 "', '%s', 1, 4, '{\"type\":\"ADVERT\",\"pubKey\":\"" KEY_A1 "\"}',"
        "  '" KEY_A1 "', %lld),"
        " (2, '1500bb', '" HASH_2 "', '%s', 1, 5, '{\"type\":\"CHAN\",\"text\":\"hi\"}', NULL, %lld),"
        " (3, '1100cc', '00000000000000c3', '%s', 1, 4, '{\"type\":\"ADVERT\",\"pubKey\":\"" KEY_B "\"}',"
        "  '" KEY_B "', %lld),"
        " (4, '0900dd', '00000000000000d4', '%s', 2, 2, '{\"type\":\"TXT_MSG\"}', NULL, %lld);"
        "INSERT INTO observations (id, transmission_id, observer_idx, snr, rssi, path_json, timestamp) VALUES"
        " (1, 1, 1, 5.5, -90, '[\"aa\"]', %lld), (2, 1, 2, 7.0, -80, '[]', %lld),"
        " (3, 2, 1, 3.0, -95, '[]', %lld), (4, 3, 2, 1.0, -99, '[]', %lld), (5, 4, 1, 2.0, -97, '[]', %lld);",
        t4, t1, t4, t1, t4, t1, t3, t1, t2, t1, t1, (long long)now_s - 3600, t2, (long long)now_s - 2400, t3,
        (long long)now_s - 1200, t4, (long long)now_s - 600, (long long)now_s - 3600, (long long)now_s - 3590,
        (long long)now_s - 2400, (long long)now_s - 1200, (long long)now_s - 600);
    sqlite3 *db = NULL;
    if (msn_sqlite_open(path, 0, &db, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int rc = msn_test_exec(db, sql);
    sqlite3_close(db);
    return rc;
}

/* Loads the database with the master's store and publishes generation 1 into dir. */
static int publish(const char *dir, const char *db_path, int64_t now_ms)
{
    char err[512];
    sqlite3 *db = NULL;
    msn_store_t s;
    msn_publisher_t p;
    int rc = -1;
    msn_store_init(&s);
    msn_publisher_init(&p, dir, db_path, now_ms);
    p.poll_interval_ms = POLL_MS;
    if (msn_sqlite_open(db_path, 1, &db, err, sizeof(err)) < 0 ||
        msn_store_load(&s, db, 1000, NULL, NULL, NULL, err, sizeof(err)) < 0 ||
        msn_store_reload_small(&s, db, now_ms / 1000, err, sizeof(err)) < 0 ||
        msn_publish_full(&p, &s, now_ms, err, sizeof(err)) < 0) {
        fprintf(stderr, "publish: %s\n", err);
        goto out;
    }
    /* an analytic as the master's scheduler publishes it */
    MDB_txn *txn;
    msn_anshape_t shape;
    char name[200];
    memset(&shape, 0, sizeof(shape));
    msn_anshape_doc_name(MSN_AN_TOPOLOGY, &shape, name, sizeof(name));
    if (mdb_txn_begin(p.snap.env, NULL, 0, &txn) != 0)
        goto out;
    if (msn_snap_doc_put_full(txn, &p.snap, name, TOPOLOGY_BODY, strlen(TOPOLOGY_BODY), NULL, 0, 1, p.gen,
                              now_ms, now_ms + 600000) != 0) {
        mdb_txn_abort(txn);
        goto out;
    }
    if (mdb_txn_commit(txn) != 0)
        goto out;
    rc = 0;
out:
    sqlite3_close(db);
    msn_publisher_free(&p);
    msn_store_free(&s);
    return rc;
}

static int fixture_build(void)
{
    snprintf(fx.dir, sizeof(fx.dir), "%s", msn_test_tmpdir("api"));
    char db_path[700];
    snprintf(db_path, sizeof(db_path), "%s/mesh.db", fx.dir);
    int64_t now_ms = msn_now_ms();
    if (make_db(db_path, now_ms / 1000) < 0 || msn_status_create(fx.dir, &fx.st) < 0)
        return -1;
    fx.st->master.started_at_ms = now_ms;
    fx.st->master.phase = MSN_PHASE_READY;
    msn_snapview_init(&fx.view, fx.dir, fx.st);
    /* the snapview sees "no snapshot" until one is published */
    if (msn_snapview_begin(&fx.view) != 1)
        return -1;
    if (publish(fx.dir, db_path, now_ms) < 0)
        return -1;
    atomic_fetch_add(&fx.st->env_seq, 1); /* as the master does when `current` moves */
    return 0;
}

static void fixture_free(void)
{
    msn_snapview_close(&fx.view);
    msn_status_close(fx.st);
}

/* ---- one request ---- */

typedef struct {
    int status, route, retry_after, use_doc;
    const char *allow, *content_type;
    char *body;     /* the body as sent (the stored document, or what the handler wrote) */
    char cache[64]; /* Cache-Control */
    char path[256], query[512];
    msn_qparam_t params[TEST_MAX_PARAMS];
    char query_err[200];
    msn_buf_t buf;
} answer_t;

/* Runs method target ("/api/x?a=1&b=2") through msn_api_dispatch the way worker.c does:
 * with the snapshot's read transaction when snapshot is set, without one otherwise. */
static void call(answer_t *a, const char *method, const char *target, int snapshot)
{
    memset(a, 0, sizeof(*a));
    msn_api_req_t r;
    memset(&r, 0, sizeof(r));
    const char *qm = strchr(target, '?');
    snprintf(a->path, sizeof(a->path), "%.*s", (int)(qm ? (size_t)(qm - target) : strlen(target)), target);
    if (qm != NULL) {
        /* the worker's own query parser, as worker.c runs it */
        snprintf(a->query, sizeof(a->query), "%s", qm + 1);
        if (msn_query_parse(a->query, strlen(a->query), a->params, TEST_MAX_PARAMS, &r.nq, a->query_err,
                            sizeof(a->query_err)) < 0)
            r.query_error = a->query_err;
        r.q = a->params;
    }
    r.admin = fx.admin;
    r.busy = fx.busy;
    fx.admin = fx.busy = 0;
    r.path = a->path;
    r.st = fx.st;
    r.now_ms = msn_now_ms();
    r.body = &a->buf;
    r.status = 500;
    int began = snapshot && msn_snapview_begin(&fx.view) == 0;
    if (began) {
        r.txn = fx.view.txn;
        r.snap = &fx.view.snap;
        CHECK_EQ_INT(msn_snap_meta_get(r.txn, r.snap, &r.meta), 0);
    }
    CHECK(!snapshot || began);
    msn_api_dispatch(&r, method);
    msn_api_cache_control(&r, a->cache, sizeof(a->cache));
    if (r.use_doc)
        a->body = msn_xstrndup(r.doc.body, r.doc.len);
    else
        a->body = msn_xstrdup(msn_buf_cstr(&a->buf));
    if (began)
        msn_snapview_end(&fx.view);
    a->status = r.status;
    a->route = r.route;
    a->retry_after = r.retry_after;
    a->use_doc = r.use_doc;
    a->allow = r.allow;
    a->content_type = r.content_type;
    for (int i = 0; i < MSN_ROUTE_MAX_PARAMS; i++)
        CHECK(r.params[i] == NULL); /* freed by the dispatcher */
}

static void answer_free(answer_t *a)
{
    free(a->body);
    msn_buf_free(&a->buf);
}

/* The body contains fragment (a JSON key/value as rendered). */
#define CHECK_HAS(a, fragment)                                                                               \
    do {                                                                                                     \
        if (strstr((a)->body, fragment) == NULL) {                                                           \
            fprintf(stderr, "%s:%d: body lacks %s: %.400s\n", __FILE__, __LINE__, fragment, (a)->body);      \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)
#define CHECK_LACKS(a, fragment)                                                                             \
    do {                                                                                                     \
        if (strstr((a)->body, fragment) != NULL) {                                                           \
            fprintf(stderr, "%s:%d: body has %s: %.400s\n", __FILE__, __LINE__, fragment, (a)->body);        \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)

/* Occurrences of needle in the body. */
static int count_of(const answer_t *a, const char *needle)
{
    int n = 0;
    for (const char *p = a->body; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- dispatch ---- */

static void test_unknown_path_is_404(void)
{
    static const char *const paths[] = {"/api",
                                        "/api/nope",
                                        "/api/stats/extra",
                                        "/api/packets/a/b",
                                        "/api/analytics/observers-clock-skew",
                                        "/metricsx"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        answer_t a;
        call(&a, "GET", paths[i], 1);
        CHECK_EQ_INT(a.status, 404);
        CHECK_EQ_INT(a.route, -1);
        char want[300];
        snprintf(want, sizeof(want), "{\"error\":\"no such endpoint: %s\"}", paths[i]);
        CHECK_EQ_STR(a.body, want);
        CHECK_EQ_STR(a.cache, "no-store");
        answer_free(&a);
    }
    /* unknown paths are 404 whatever the method */
    answer_t a;
    call(&a, "POST", "/api/nope", 1);
    CHECK_EQ_INT(a.status, 404);
    CHECK(a.allow == NULL);
    answer_free(&a);
}

static void test_methods(void)
{
    answer_t a;
    static const char *const refused[] = {"POST", "PUT", "DELETE", "OPTIONS", "get"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        call(&a, refused[i], "/api/nodes/" KEY_B, 1);
        CHECK_EQ_INT(a.status, 405);
        CHECK_EQ_INT(a.route, MSN_ROUTE_NODE); /* counted under its route */
        CHECK_EQ_STR(a.allow, "GET, HEAD");
        char want[300];
        snprintf(want, sizeof(want), "{\"error\":\"method %s not allowed on /api/nodes/" KEY_B "\"}",
                 refused[i]);
        CHECK_EQ_STR(a.body, want);
        CHECK_EQ_STR(a.cache, "no-store");
        answer_free(&a);
    }
    /* 405 comes before 503: no snapshot needed to refuse */
    call(&a, "POST", "/api/stats", 0);
    CHECK_EQ_INT(a.status, 405);
    answer_free(&a);
    call(&a, "HEAD", "/api/observers", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"obs-a\"");
    answer_free(&a);
}

static void test_no_snapshot(void)
{
    /* every route that reads the snapshot answers 503 + Retry-After without one */
    for (int id = 0; id < MSN_ROUTE_COUNT; id++) {
        /* the pattern with every parameter segment replaced by "abc" */
        char path[128];
        size_t o = 0;
        for (const char *p = msn_routes[id].pattern; *p && o < sizeof(path) - 4;) {
            if (*p == ':') {
                memcpy(path + o, "abc", 3);
                o += 3;
                p += strcspn(p, "/");
            } else {
                path[o++] = *p++;
            }
        }
        path[o] = '\0';
        answer_t a;
        static const char *const methods[] = {"GET", "POST", "PUT"};
        call(&a, methods[msn_routes[id].method], path, 0);
        CHECK_EQ_INT(a.route, id);
        if (msn_routes[id].method != MSN_METHOD_GET && !msn_routes[id].needs_snapshot) {
            /* a POST or PUT without a body: refused or answered, never for want of a snapshot */
            CHECK(a.status != 503 && a.status != 500 && a.status != 405);
        } else if (msn_routes[id].needs_snapshot) {
            CHECK_EQ_INT(a.status, 503);
            CHECK_EQ_INT(a.retry_after, 2);
            CHECK_EQ_STR(a.body, "{\"error\":\"no snapshot yet: the server is loading its database\"}");
            CHECK_EQ_STR(a.cache, "no-store");
        } else {
            CHECK(a.status != 503); /* answered without a snapshot (GETs from the status block: 200) */
            if (msn_routes[id].method == MSN_METHOD_GET)
                CHECK_EQ_INT(a.status, 200);
            CHECK_EQ_INT(a.retry_after, 0);
        }
        answer_free(&a);
    }
    answer_t a;
    call(&a, "GET", "/api/healthz", 0);
    CHECK_HAS(&a, "\"ready\":false");
    CHECK_HAS(&a, "\"generation\":0,\"snapshotAgeSec\":null");
    answer_free(&a);
}

static void test_path_parameters(void)
{
    answer_t a;
    call(&a, "GET", "/api/packets/" HASH_2, 1);
    CHECK_EQ_INT(a.route, MSN_ROUTE_PACKET);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"hash\":\"" HASH_2 "\"");
    answer_free(&a);
    call(&a, "GET", "/api/nodes/" KEY_B, 1);
    CHECK_EQ_INT(a.route, MSN_ROUTE_NODE);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"public_key\":\"" KEY_B "\"");
    answer_free(&a);
    /* a literal route beats the parameter route beside it */
    call(&a, "GET", "/api/nodes/clock-skew", 1);
    CHECK_EQ_INT(a.route, MSN_ROUTE_NODES_CLOCK_SKEW);
    CHECK_EQ_INT(a.status, 503); /* not published in this snapshot */
    CHECK_EQ_STR(a.body, "{\"error\":\"analytics warming up\",\"retry_after_s\":5}");
    answer_free(&a);
    call(&a, "GET", "/api/observers/clock-skew", 1);
    CHECK_EQ_INT(a.route, MSN_ROUTE_OBSERVERS_CLOCK_SKEW);
    answer_free(&a);
    /* a parameter is percent-decoded before the handler sees it */
    char encoded[200];
    snprintf(encoded, sizeof(encoded), "/api/nodes/%%%02x%%%02X%s", KEY_B[0], KEY_B[1], KEY_B + 2);
    call(&a, "GET", encoded, 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"public_key\":\"" KEY_B "\"");
    answer_free(&a);
    call(&a, "GET", "/api/packets/%30%30%30%31", 1);
    CHECK_EQ_INT(a.route, MSN_ROUTE_PACKET);
    answer_free(&a);
    /* one that would decode to a NUL byte is refused */
    call(&a, "GET", "/api/nodes/ab%00cd", 1);
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.cache, "no-store");
    answer_free(&a);
}

/* ---- handlers ---- */

static void test_stats(void)
{
    answer_t a;
    call(&a, "GET", "/api/stats", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_INT(a.route, MSN_ROUTE_STATS);
    CHECK(a.use_doc);
    CHECK_HAS(&a, "\"totalTransmissions\":4");
    CHECK_HAS(&a, "\"totalObservations\":5");
    CHECK_HAS(&a, "\"totalObservers\":2");
    answer_free(&a);
}

static void test_observers(void)
{
    answer_t a;
    call(&a, "GET", "/api/observers", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK(!a.use_doc);
    CHECK_EQ_INT(count_of(&a, "\"iata\":"), 2);
    CHECK_HAS(&a, "\"id\":\"obs-a\"");
    CHECK_HAS(&a, "\"name\":\"Bravo\"");
    CHECK_HAS(&a, "\"server_time\":\"");
    CHECK(a.body[strlen(a.body) - 1] == '}');
    answer_free(&a);
}

static void test_packets(void)
{
    answer_t a;
    call(&a, "GET", "/api/packets", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"total\":4");
    CHECK_EQ_INT(count_of(&a, "\"raw_hex\":"), 4);
    /* newest first by default */
    const char *p4 = strstr(a.body, "00000000000000d4"), *p1 = strstr(a.body, HASH_1);
    CHECK(p4 != NULL && p1 != NULL && p4 < p1);
    answer_free(&a);

    call(&a, "GET", "/api/packets?type=4", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"total\":2");
    CHECK_HAS(&a, HASH_1);
    CHECK_HAS(&a, "00000000000000c3");
    CHECK_LACKS(&a, HASH_2);
    answer_free(&a);

    call(&a, "GET", "/api/packets?observer=obs-b", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"total\":2");
    CHECK_HAS(&a, HASH_1);
    CHECK_HAS(&a, "00000000000000c3");
    CHECK_LACKS(&a, "00000000000000d4");
    answer_free(&a);

    call(&a, "GET", "/api/packets?limit=1&order=asc", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"total\":4");
    CHECK_EQ_INT(count_of(&a, "\"raw_hex\":"), 1);
    CHECK_HAS(&a, HASH_1);
    answer_free(&a);

    call(&a, "GET", "/api/packets?hash=" HASH_2, 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"total\":1");
    CHECK_HAS(&a, HASH_2);
    answer_free(&a);

    call(&a, "GET", "/api/packets?type=abc", 1);
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"error\":\"invalid type: expected a payload type number 0-15\"}");
    CHECK_EQ_STR(a.cache, "no-store");
    answer_free(&a);
}

static void test_packet_detail(void)
{
    answer_t a;
    /* by content hash (any case) */
    call(&a, "GET", "/api/packets/00000000000000A1", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"packet\":{");
    CHECK_HAS(&a, "\"hash\":\"" HASH_1 "\"");
    CHECK_HAS(&a, "\"observation_count\":2");
    answer_free(&a);
    /* by transmission id */
    call(&a, "GET", "/api/packets/2", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"hash\":\"" HASH_2 "\"");
    CHECK_HAS(&a, "\"observation_count\":1");
    answer_free(&a);
    /* by observation id (5 is no transmission id): that observation's transmission */
    call(&a, "GET", "/api/packets/5", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"hash\":\"00000000000000d4\"");
    answer_free(&a);
    static const char *const missing[] = {"/api/packets/99", "/api/packets/ffffffffffffffff",
                                          "/api/packets/-1", "/api/packets/zz"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        call(&a, "GET", missing[i], 1);
        CHECK_EQ_INT(a.status, 404);
        CHECK_EQ_INT(a.route, MSN_ROUTE_PACKET);
        CHECK_EQ_STR(a.body, "{\"error\":\"Not found\"}");
        answer_free(&a);
    }
}

static void test_nodes(void)
{
    answer_t a;
    call(&a, "GET", "/api/nodes", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"total\":3");
    CHECK_HAS(&a, KEY_A1);
    CHECK_HAS(&a, KEY_A2);
    CHECK_HAS(&a, KEY_B);
    answer_free(&a);
    call(&a, "GET", "/api/nodes?role=repeater", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"total\":2");
    CHECK_LACKS(&a, KEY_A2);
    answer_free(&a);
    call(&a, "GET", "/api/nodes?search=twin", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"total\":1");
    CHECK_HAS(&a, KEY_A2);
    answer_free(&a);
    call(&a, "GET", "/api/nodes?role=dragon", 1);
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"error\":\"invalid role: expected repeater, room, companion or sensor\"}");
    answer_free(&a);
}

static void test_node_detail(void)
{
    answer_t a;
    call(&a, "GET", "/api/nodes/" KEY_A1, 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "{\"node\":{");
    CHECK_HAS(&a, "\"name\":\"Alpha node\"");
    CHECK_HAS(&a, "\"recentAdverts\":[");
    CHECK_HAS(&a, HASH_1); /* its advert */
    answer_free(&a);
    /* a unique prefix of 8+ hex characters, in any case */
    call(&a, "GET", "/api/nodes/12345678", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"public_key\":\"" KEY_B "\"");
    answer_free(&a);
    call(&a, "GET", "/api/nodes/AABBCCDD1111", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"public_key\":\"" KEY_A1 "\"");
    answer_free(&a);
    /* a prefix two nodes share */
    call(&a, "GET", "/api/nodes/aabbccdd", 1);
    CHECK_EQ_INT(a.status, 409);
    CHECK_EQ_STR(a.body, "{\"error\":\"Ambiguous prefix: multiple nodes match. Use a longer prefix.\"}");
    CHECK_EQ_STR(a.cache, "no-store");
    answer_free(&a);
    /* too short to be a prefix, unknown, too long */
    static const char *const missing[] = {"/api/nodes/aabb", "/api/nodes/ffffffff", "/api/nodes/" KEY_B "00"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        call(&a, "GET", missing[i], 1);
        CHECK_EQ_INT(a.status, 404);
        CHECK_EQ_STR(a.body, "{\"error\":\"Not found\"}");
        answer_free(&a);
    }
}

static void test_analytics(void)
{
    answer_t a;
    call(&a, "GET", "/api/analytics/topology", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_INT(a.route, MSN_ROUTE_AN_TOPOLOGY);
    CHECK(a.use_doc);
    CHECK_EQ_STR(a.body, TOPOLOGY_BODY);
    answer_free(&a);
    /* a shape nobody published yet is asked of the master */
    uint64_t tail = atomic_load(&fx.st->shape_head);
    call(&a, "GET", "/api/analytics/rf?region=sjc", 1);
    CHECK_EQ_INT(a.status, 503);
    CHECK_EQ_INT(a.retry_after, 2);
    int an = -1, missing = 0;
    char key[120];
    CHECK_EQ_INT(msn_status_take_shape(fx.st, &tail, &an, key, &missing), 1);
    CHECK_EQ_INT(an, MSN_AN_RF);
    CHECK_EQ_STR(key, "r=SJC");
    CHECK_EQ_INT(missing, 1);
    answer_free(&a);
    call(&a, "GET", "/api/analytics/rf?window=2h", 1);
    CHECK_EQ_INT(a.status, 400);
    answer_free(&a);
}

static void test_healthz(void)
{
    answer_t a;
    call(&a, "GET", "/api/healthz", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "{\"ready\":true,\"phase\":\"ready\"");
    CHECK_HAS(&a, "\"loadedTx\":4,\"loadedObs\":5");
    CHECK_HAS(&a, "\"generation\":1,");
    CHECK_HAS(&a, "\"stale\":false");
    CHECK_HAS(&a, "\"async_migrations\":[]");
    answer_free(&a);
}

/* Slow requests: /api/perf lists the newest oldest first (CoreScope's order: its page
 * reverses the list), /api/health counts them and lists the last five. */
static void test_slow_requests(void)
{
    int64_t now = msn_now_ms();
    msn_perf_record(&fx.st->workers[2], MSN_ROUTE_STATS, 200, 150000, 10, "/slow/a", now - 3000);
    msn_perf_record(&fx.st->workers[3], MSN_ROUTE_STATS, 200, 250000, 10, "/slow/c", now - 1000);
    msn_perf_record(&fx.st->workers[2], MSN_ROUTE_STATS, 500, 350000, 10, "/slow/b", now - 2000);
    const char *const paths[] = {"/api/perf", "/api/health"};
    for (int i = 0; i < 2; i++) {
        answer_t a;
        call(&a, "GET", paths[i], 1);
        CHECK_EQ_INT(a.status, 200);
        const char *pa = strstr(a.body, "\"/slow/a\""), *pb = strstr(a.body, "\"/slow/b\""),
                   *pc = strstr(a.body, "\"/slow/c\"");
        CHECK(pa && pb && pc && pa < pb && pb < pc);
        if (i == 1) {
            CHECK_HAS(&a, "\"slowQueries\":3,\"recentSlow\":[{\"path\":\"/slow/a\",\"ms\":150,");
            CHECK_HAS(&a, "\"engine\":\"c\"");
        }
        answer_free(&a);
    }
}

/* The public healthz leaves out paths, process ids and the master's status line; the
 * admin listener gets them (and CoreScope's fields are in both). */
static void test_healthz_public_and_admin(void)
{
    snprintf(fx.st->master.status_text, sizeof(fx.st->master.status_text), "loading /secret/place/mesh.db");
    fx.st->master.pid = 4242;
    fx.st->backfill.pid = 4343;
    msn_migration_status_t m;
    memset(&m, 0, sizeof(m));
    snprintf(m.name, sizeof(m.name), "x_backfill_v1");
    m.status = MSN_MIG_FAILED;
    snprintf(m.error, sizeof(m.error), "cannot open /secret/place/mesh.db: disk I/O error");
    msn_status_set_migration(fx.st, &m);
    answer_t a;
    call(&a, "GET", "/api/healthz", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_LACKS(&a, "/secret");
    CHECK_LACKS(&a, fx.dir);
    CHECK_LACKS(&a, "4242");
    CHECK_LACKS(&a, "4343");
    CHECK_LACKS(&a, "\"pid\"");
    CHECK_LACKS(&a, "sourceDb");
    CHECK_LACKS(&a, "\"status\":\"loading");
    CHECK_HAS(&a, "\"errorMessage\":\"cannot open [path]: disk I/O error\"");
    for (const char *k = "ready\0loadedTx\0loadedObs\0from_pubkey_backfill\0async_migrations\0"
                         "async_migrations_running\0workers\0generation\0stale\0";
         *k; k += strlen(k) + 1) {
        char q[64];
        snprintf(q, sizeof(q), "\"%s\":", k);
        CHECK_HAS(&a, q);
    }
    answer_free(&a);
    fx.admin = 1;
    call(&a, "GET", "/api/healthz", 1);
    CHECK_HAS(&a, "\"status\":\"loading /secret/place/mesh.db\"");
    CHECK_HAS(&a, "\"masterPid\":4242");
    CHECK_HAS(&a, "\"backfillerPid\":4343");
    CHECK_HAS(&a, "\"sourceDb\":\"");
    CHECK_HAS(&a, "cannot open /secret/place/mesh.db: disk I/O error");
    answer_free(&a);
    /* the same for the migrations endpoint and perf */
    call(&a, "GET", "/api/perf/async-migrations", 1);
    CHECK_LACKS(&a, "/secret");
    CHECK_HAS(&a, "[path]");
    answer_free(&a);
    call(&a, "GET", "/api/perf", 1);
    CHECK_LACKS(&a, "/secret");
    CHECK_HAS(&a, "\"bounds\":{\"connections\":");
    answer_free(&a);
    fx.admin = 1;
    call(&a, "GET", "/api/perf", 1);
    CHECK_HAS(&a, "/secret/place/mesh.db");
    answer_free(&a);
    memset(&fx.st->backfill, 0, sizeof(fx.st->backfill));
    fx.st->master.status_text[0] = '\0';
}

/* The query string: refused as a whole (400 naming the parameter or the limit) on every
 * route; numbers with trailing characters refused; unknown names ignored. */
static void test_refused_queries(void)
{
    static const struct {
        const char *target, *error;
    } cases[] = {
        {"/api/packets?limit=1%00abc", "invalid limit: it contains a NUL byte"},
        {"/api/nodes?limit=10abc", "invalid limit: characters after the number"},
        {"/api/nodes?offset=3x", "invalid offset: characters after the number"},
        {"/api/packets?type=4%20", "invalid type: characters after the number"},
        {"/api/stats?region=%zz", "invalid region: malformed percent-encoding"},
        {"/api/healthz?x=%0a", "invalid x: it contains a control character"},
        {"/api/analytics/rf?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "invalid from: after to"},
        {"/api/analytics/topology?from=2999-01-01T00:00:00Z", "invalid from: in the future"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        answer_t a;
        call(&a, "GET", cases[i].target, 1);
        CHECK_EQ_INT(a.status, 400);
        CHECK(a.route >= 0);
        char want[300];
        snprintf(want, sizeof(want), "{\"error\":\"%s", cases[i].error);
        if (strncmp(a.body, want, strlen(want)) != 0) {
            fprintf(stderr, "  %s: %s does not start with %s\n", cases[i].target, a.body, want);
            msn_test_failures++;
        }
        CHECK_EQ_STR(a.cache, "no-store");
        answer_free(&a);
    }
    /* more parameters than the limit */
    char target[512] = "/api/nodes?";
    for (int i = 0; i < TEST_MAX_PARAMS + 1; i++)
        snprintf(target + strlen(target), sizeof(target) - strlen(target), "%sp%d=1", i ? "&" : "", i);
    answer_t a;
    call(&a, "GET", target, 1);
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"error\":\"too many query parameters (the limit is 32)\"}");
    answer_free(&a);
    /* unknown names are ignored, as CoreScope does */
    call(&a, "GET", "/api/nodes?frobnicate=1&limit=1", 1);
    CHECK_EQ_INT(a.status, 200);
    answer_free(&a);
    /* a packet id is digits only */
    call(&a, "GET", "/api/packets/%201", 1);
    CHECK_EQ_INT(a.status, 404);
    answer_free(&a);
    call(&a, "GET", "/api/packets/1", 1);
    CHECK_EQ_INT(a.status, 200);
    answer_free(&a);
}

/* With the response buffers full, every route answers 503 with Retry-After. */
static void test_busy(void)
{
    answer_t a;
    fx.busy = 1;
    call(&a, "GET", "/api/packets?limit=1", 1);
    CHECK_EQ_INT(a.status, 503);
    CHECK_EQ_INT(a.retry_after, 1);
    CHECK_EQ_INT(a.route, MSN_ROUTE_PACKETS);
    CHECK_HAS(&a, "server busy");
    CHECK_EQ_STR(a.cache, "no-store");
    answer_free(&a);
    call(&a, "GET", "/api/packets?limit=1", 1);
    CHECK_EQ_INT(a.status, 200);
    answer_free(&a);
}

/* Analytics shapes in normal form: every from within one recompute interval asks the
 * master for the same shape. */
static void test_analytics_shapes_normalised(void)
{
    int64_t step = 300 * 1000LL, base = (msn_now_ms() / step - 20) * step;
    char keys[3][120];
    for (int i = 0; i < 3; i++) {
        char from[32], target[160];
        msn_format_iso_ms(from, base + i * 1000 * 97); /* 0, 97 and 194 s past the boundary */
        snprintf(target, sizeof(target), "/api/analytics/subpaths?from=%s", from);
        uint64_t tail = atomic_load(&fx.st->shape_head);
        answer_t a;
        call(&a, "GET", target, 1);
        CHECK_EQ_INT(a.status, 503);
        int an = -1, missing = 0;
        CHECK_EQ_INT(msn_status_take_shape(fx.st, &tail, &an, keys[i], &missing), 1);
        CHECK_EQ_INT(an, MSN_AN_SUBPATHS);
        answer_free(&a);
    }
    char want[64];
    snprintf(want, sizeof(want), "f=%lld", (long long)base);
    CHECK_EQ_STR(keys[0], want);
    CHECK_EQ_STR(keys[1], want);
    CHECK_EQ_STR(keys[2], want);
}

static void test_perf_and_metrics(void)
{
    /* what two workers recorded (worker.c records each request after dispatching it;
       msn_api_dispatch alone records nothing, so these are the only requests) */
    int64_t now = msn_now_ms();
    msn_perf_record(&fx.st->workers[0], MSN_ROUTE_STATS, 200, 1500, 100, "/api/stats", now);
    msn_perf_record(&fx.st->workers[1], MSN_ROUTE_STATS, 200, 2500, 100, "/api/stats", now);
    msn_perf_record(&fx.st->workers[1], MSN_ROUTE_NODE, 409, 800, 70, "/api/nodes/aabbccdd", now);
    msn_perf_record(&fx.st->workers[0], MSN_PERF_OTHER, 404, 300, 40, "/api/nope", now);
    answer_t a;
    call(&a, "GET", "/api/perf", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"/api/stats\":{\"count\":2,");
    CHECK_HAS(&a, "\"/api/nodes/:pubkey\":{\"count\":1,");
    CHECK_HAS(&a, "\"other\":{\"count\":1,");
    CHECK_HAS(&a, "\"totalRequests\":4");
    CHECK_LACKS(&a, "\"/api/observers\":"); /* endpoints without requests are left out */
    answer_free(&a);
    call(&a, "GET", "/metrics", 0);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.content_type, "text/plain; version=0.0.4; charset=utf-8");
    CHECK_HAS(&a, "meshsnap_http_requests_total{endpoint=\"/api/stats\",status=\"2xx\"} 2\n");
    CHECK_HAS(&a, "meshsnap_http_requests_total{endpoint=\"/api/nodes/:pubkey\",status=\"4xx\"} 1\n");
    CHECK_HAS(&a, "meshsnap_http_requests_total{endpoint=\"other\",status=\"4xx\"} 1\n");
    CHECK_HAS(&a, "meshsnap_http_response_bytes_total{endpoint=\"/api/stats\"} 200\n");
    answer_free(&a);
    call(&a, "GET", "/api/perf/async-migrations", 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_INT(a.route, MSN_ROUTE_PERF_MIGRATIONS);
    answer_free(&a);
}

/* Cache-Control of every route's 200 answer follows the route table, and of every
 * error is no-store. */
static void test_cache_control_per_route(void)
{
    static const struct {
        const char *target;
        int route;
        const char *cache; /* NULL: "public, max-age=N" */
    } cases[] = {
        {"/api/healthz", MSN_ROUTE_HEALTHZ, "no-store"},
        {"/api/stats", MSN_ROUTE_STATS, NULL},
        {"/api/perf", MSN_ROUTE_PERF, "no-store"},
        {"/api/perf/async-migrations", MSN_ROUTE_PERF_MIGRATIONS, "no-store"},
        {"/api/observers", MSN_ROUTE_OBSERVERS, "no-cache"},
        {"/api/packets", MSN_ROUTE_PACKETS, "no-cache"},
        {"/api/packets/" HASH_1, MSN_ROUTE_PACKET, "no-cache"},
        {"/api/nodes", MSN_ROUTE_NODES, "no-cache"},
        {"/api/nodes/" KEY_A2, MSN_ROUTE_NODE, "no-cache"},
        {"/api/analytics/topology", MSN_ROUTE_AN_TOPOLOGY, NULL},
        {"/metrics", MSN_ROUTE_METRICS, "no-store"},
    };
    int seen[MSN_ROUTE_COUNT] = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        answer_t a;
        call(&a, "GET", cases[i].target, 1);
        CHECK_EQ_INT(a.status, 200);
        CHECK_EQ_INT(a.route, cases[i].route);
        seen[cases[i].route] = 1;
        if (cases[i].cache != NULL) {
            CHECK_EQ_STR(a.cache, cases[i].cache);
        } else {
            /* the seconds until the master publishes the document again */
            long long age = -1;
            CHECK_EQ_INT(sscanf(a.cache, "public, max-age=%lld", &age), 1);
            long long limit = cases[i].route == MSN_ROUTE_STATS ? POLL_MS / 1000 : 600;
            CHECK(age >= 0 && age <= limit);
        }
        answer_free(&a);
    }
    /* every policy of the table is covered */
    int policies[3] = {0};
    for (int id = 0; id < MSN_ROUTE_COUNT; id++)
        if (seen[id])
            policies[msn_routes[id].cache] = 1;
    CHECK(policies[MSN_CACHE_LIVE] && policies[MSN_CACHE_REVALIDATE] && policies[MSN_CACHE_PUBLISHED]);
    /* errors are never reused, whatever the route's policy */
    static const char *const errors[] = {"/api/analytics/rf", "/api/packets/99", "/api/nodes?sortBy=x",
                                         "/api/nope"};
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        answer_t a;
        call(&a, "GET", errors[i], 1);
        CHECK(a.status != 200);
        CHECK_EQ_STR(a.cache, "no-store");
        answer_free(&a);
    }
}

/* The Cache-Control decision alone, on hand-set answers. */
static void test_cache_control_rules(void)
{
    msn_api_req_t r;
    char cc[64];
    memset(&r, 0, sizeof(r));
    r.now_ms = 1000000;
    r.status = 200;
    r.route = MSN_ROUTE_STATS;
    r.use_doc = 1;
    r.doc.expires_at_ms = r.now_ms + 42900;
    CHECK_EQ_STR(msn_api_cache_control(&r, cc, sizeof(cc)), "public, max-age=42");
    r.doc.expires_at_ms = r.now_ms - 1; /* overdue: revalidate now */
    CHECK_EQ_STR(msn_api_cache_control(&r, cc, sizeof(cc)), "public, max-age=0");
    r.use_doc = 0; /* a published route answering with an assembled body */
    CHECK_EQ_STR(msn_api_cache_control(&r, cc, sizeof(cc)), "no-cache");
    r.use_doc = 1;
    r.status = 503;
    CHECK_EQ_STR(msn_api_cache_control(&r, cc, sizeof(cc)), "no-store");
    r.status = 200;
    r.route = MSN_ROUTE_PACKETS;
    r.use_doc = 0;
    CHECK_EQ_STR(msn_api_cache_control(&r, cc, sizeof(cc)), "no-cache");
    r.route = MSN_ROUTE_METRICS;
    CHECK_EQ_STR(msn_api_cache_control(&r, cc, sizeof(cc)), "no-store");
    r.route = -1;
    CHECK_EQ_STR(msn_api_cache_control(&r, cc, sizeof(cc)), "no-store");
}

int main(void)
{
    if (fixture_build() < 0) {
        fprintf(stderr, "could not build the snapshot fixture\n");
        return 1;
    }
    MSN_RUN(test_unknown_path_is_404);
    MSN_RUN(test_methods);
    MSN_RUN(test_no_snapshot);
    MSN_RUN(test_path_parameters);
    MSN_RUN(test_stats);
    MSN_RUN(test_observers);
    MSN_RUN(test_packets);
    MSN_RUN(test_packet_detail);
    MSN_RUN(test_nodes);
    MSN_RUN(test_node_detail);
    MSN_RUN(test_analytics);
    MSN_RUN(test_healthz);
    MSN_RUN(test_healthz_public_and_admin);
    MSN_RUN(test_refused_queries);
    MSN_RUN(test_busy);
    MSN_RUN(test_analytics_shapes_normalised);
    MSN_RUN(test_perf_and_metrics);
    MSN_RUN(test_slow_requests);
    MSN_RUN(test_cache_control_per_route);
    MSN_RUN(test_cache_control_rules);
    fixture_free();
    return msn_test_done();
}
