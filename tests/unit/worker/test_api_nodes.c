/*
 * test_api_nodes.c: the per-node endpoints, the neighbour graph, resolve-hops and
 * paths/inspect (worker/api_nodedocs.c, api_graph.c, api_hops.c) without HTTP.
 *
 * The mesh of tests/unit/nodemesh.h is loaded by the master's store, its node documents
 * are rendered by master/analytics/pernode.h and queued into the entity-document runner
 * (master/entdocs.h), and msn_publish_full writes the snapshot with them, as the master
 * does. Requests run through msn_api_dispatch at the mesh's time (edge scores decay with
 * the time since an edge's last sighting).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/analytics/pernode.h"
#include "master/entdocs.h"
#include "master/nodeidx.h"
#include "master/publish.h"
#include "master/store.h"
#include "nodemesh.h"
#include "shm/entdoc.h"
#include "shm/schema.h"
#include "shm/status.h"
#include "testlib.h"
#include "apicall.h"
#include "worker/api.h"
#include "worker/query.h"
#include "worker/dispatch.h"
#include "worker/snapview.h"

#define NOW_MS (NODEMESH_NOW_MS + 60000) /* a minute after the mesh's last packet plus 29 */

static struct {
    char dir[512];
    msn_status_t *st;
    msn_snapview_t view;
} fx;

typedef apicall_t ans_t;

/* Runs method target with body (may be NULL) at NOW_MS through the dispatcher. */
static void call_body(ans_t *a, const char *method, const char *target, const char *body)
{
    apicall_run(a, fx.st, &fx.view, NOW_MS, method, target, body);
}

static void get(ans_t *a, const char *target)
{
    call_body(a, "GET", target, NULL);
}

static void ans_free(ans_t *a)
{
    apicall_free(a);
}

#define CHECK_HAS(a, frag)                                                                                   \
    do {                                                                                                     \
        if (strstr((a)->body, frag) == NULL) {                                                               \
            fprintf(stderr, "%s:%d: body lacks %s: %.600s\n", __FILE__, __LINE__, frag, (a)->body);          \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)
#define CHECK_LACKS(a, frag)                                                                                 \
    do {                                                                                                     \
        if (strstr((a)->body, frag) != NULL) {                                                               \
            fprintf(stderr, "%s:%d: body has %s: %.600s\n", __FILE__, __LINE__, frag, (a)->body);            \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)

static int count_of(const ans_t *a, const char *needle)
{
    int n = 0;
    for (const char *p = a->body; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- the fixture ---- */

static void queue(msn_entdocs_t *e, const char *doc, const char *pk, const void *body, size_t len)
{
    char name[MSN_ENTDOC_NAME_MAX + 1];
    if (pk)
        msn_entdoc_name(name, sizeof(name), MSN_ENT_NODE, doc, pk, 64);
    else
        snprintf(name, sizeof(name), "%s", doc);
    msn_entdocs_inject(e, name, body, len, NOW_MS);
}

/* Every node's documents, the graph and the relays, as a full run emits them. */
static void queue_all(msn_entdocs_t *e, msn_store_t *s, msn_nodeidx_t *x)
{
    msn_pernode_t *p = msn_pernode_new(s, x, NODEMESH_NOW_MS, 1);
    msn_buf_t b = MSN_BUF_INIT;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    static const int ad[] = MSN_NODE_ANALYTICS_DAYS, rd[] = MSN_NODE_REACH_DAYS;
    msn_pernode_relays(p, &sb);
    queue(e, MSN_DOC_RELAYS, NULL, sb.data, sb.size);
    msn_pernode_graph(p, &sb);
    queue(e, MSN_DOC_NEIGHBOR_GRAPH, NULL, sb.data, sb.size);
    for (uint32_t k = 0; k < s->n_keys; k++) {
        const char *pk = s->keys[k];
        char doc[32];
        if (msn_pernode_health(p, k, &b))
            queue(e, MSN_NODEDOC_HEALTH, pk, b.data, b.len);
        if (msn_pernode_paths(p, k, &b))
            queue(e, MSN_NODEDOC_PATHS, pk, b.data, b.len);
        if (msn_pernode_detail(p, k, &b))
            queue(e, MSN_NODEDOC_DETAIL, pk, b.data, b.len);
        if (msn_pernode_bulk(p, k, &sb))
            queue(e, MSN_NODEDOC_BULK, pk, sb.data, sb.size);
        if (msn_pernode_neighbors(p, k, &sb))
            queue(e, MSN_NODEDOC_NEIGHBORS, pk, sb.data, sb.size);
        for (int i = 0; i < 4; i++) {
            snprintf(doc, sizeof(doc), "analytics.%d", ad[i]);
            if (msn_pernode_analytics(p, k, ad[i], &b))
                queue(e, doc, pk, b.data, b.len);
            snprintf(doc, sizeof(doc), "reach.%d", rd[i]);
            if (msn_pernode_reach(p, k, rd[i], &b))
                queue(e, doc, pk, b.data, b.len);
        }
    }
    /* battery samples of R1 as an observer: the publisher renders them from observer_metrics */
    msgpack_sbuffer_clear(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    const char *ts[2] = {"2026-03-27T08:00:00Z", "2026-03-27T11:00:00Z"};
    int mv[2] = {3400, 3250};
    for (int i = 0; i < 2; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_str(&pk, strlen(ts[i]));
        msgpack_pack_str_body(&pk, ts[i], strlen(ts[i]));
        msgpack_pack_int(&pk, mv[i]);
    }
    queue(e, "battery.2026-03-27", R1, sb.data, sb.size);
    msgpack_sbuffer_clear(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str(&pk, 20);
    msgpack_pack_str_body(&pk, "2026-03-18T09:00:00Z", 20); /* 9 days back */
    msgpack_pack_int(&pk, 3900);
    queue(e, "battery.2026-03-18", R1, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    msn_buf_free(&b);
    msn_pernode_free(p);
}

static int fixture_build(void)
{
    char err[512], db_path[700];
    snprintf(fx.dir, sizeof(fx.dir), "%s", msn_test_tmpdir("api-nodes"));
    snprintf(db_path, sizeof(db_path), "%s/mesh.db", fx.dir);
    sqlite3 *db = NULL;
    if (msn_schema_init_db(db_path, err, sizeof(err)) < 0 || msn_sqlite_open(db_path, 0, &db, err, sizeof(err)) < 0 ||
        sqlite3_exec(db, NODEMESH_SQL, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "mesh: %s\n", err);
        sqlite3_close(db);
        return -1;
    }
    if (msn_status_create(fx.dir, &fx.st) < 0)
        return -1;
    msn_store_t s;
    msn_nodeidx_t x;
    msn_entdocs_t e;
    msn_publisher_t p;
    msn_store_init(&s);
    msn_nodeidx_init(&x);
    msn_entdocs_init(&e);
    msn_publisher_init(&p, fx.dir, db_path, NOW_MS);
    p.poll_interval_ms = 30000;
    p.ent = &e;
    int rc = -1;
    if (msn_store_load(&s, db, 1000, NULL, NULL, NULL, err, sizeof(err)) < 0 ||
        msn_store_reload_small(&s, db, NODEMESH_NOW_MS / 1000, err, sizeof(err)) < 0) {
        fprintf(stderr, "load: %s\n", err);
        goto out;
    }
    msn_nodeidx_update(&x, &s);
    queue_all(&e, &s, &x);
    if (msn_publish_full(&p, &s, NOW_MS, err, sizeof(err)) < 0) {
        fprintf(stderr, "publish: %s\n", err);
        goto out;
    }
    CHECK(e.parsed == 0); /* every queued document written and committed */
    CHECK(e.docs_written > 40);
    msn_snapview_init(&fx.view, fx.dir, fx.st);
    atomic_fetch_add(&fx.st->env_seq, 1);
    rc = 0;
out:
    sqlite3_close(db);
    msn_publisher_free(&p);
    msn_entdocs_free(&e);
    msn_nodeidx_free(&x);
    msn_store_free(&s);
    return rc;
}

/* ---- tests ---- */

static void test_search(void)
{
    ans_t a;
    get(&a, "/api/nodes/search?q= one ");
    CHECK_EQ_INT(a.status, 200); /* trimmed; the name contains it */
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 1);
    CHECK_HAS(&a, "\"R One\"");
    ans_free(&a);
    get(&a, "/api/nodes/search?q=R");
    CHECK_EQ_INT(a.status, 200);
    /* names containing "r" (case-insensitive): R One, R Two; newest first; base rows */
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 2);
    CHECK(strstr(a.body, "\"R One\"") < strstr(a.body, "\"R Two\""));
    CHECK_HAS(&a, "\"hash_size\":null,\"hash_size_inconsistent\":false");
    ans_free(&a);
    get(&a, "/api/nodes/search?q=cc33");
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 1); /* a key prefix */
    CHECK_HAS(&a, "\"Cee\"");
    ans_free(&a);
    get(&a, "/api/nodes/search?q=%25");
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 3); /* LIKE wildcard */
    ans_free(&a);
    get(&a, "/api/nodes/search?q=_n");
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 1); /* "R One": one character then "n" */
    ans_free(&a);
    get(&a, "/api/nodes/search?q=");
    CHECK_EQ_INT(a.status, 200);
    CHECK(strcmp(a.body, "{\"nodes\":[]}") == 0);
    ans_free(&a);
    get(&a, "/api/nodes/search?q=zzzz");
    CHECK(strcmp(a.body, "{\"nodes\":[]}") == 0);
    ans_free(&a);
}

static void test_bulk_health(void)
{
    ans_t a;
    get(&a, "/api/nodes/bulk-health");
    CHECK_EQ_INT(a.status, 200);
    CHECK(a.body[0] == '[');
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 3);
    CHECK(strstr(a.body, R1) < strstr(a.body, R2) && strstr(a.body, R2) < strstr(a.body, C1)); /* newest first */
    ans_free(&a);
    get(&a, "/api/nodes/bulk-health?limit=1");
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 1);
    ans_free(&a);
    get(&a, "/api/nodes/bulk-health?limit=abc");
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 3); /* CoreScope: unparsable gives the default */
    ans_free(&a);
    /* SFO: obs-two heard transmissions of R1 and R2, none of C1 */
    get(&a, "/api/nodes/bulk-health?region=sfo");
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 2);
    CHECK_LACKS(&a, C1);
    ans_free(&a);
    /* a region no observer carries filters nothing */
    get(&a, "/api/nodes/bulk-health?region=ZZZ");
    CHECK_EQ_INT(count_of(&a, "\"public_key\""), 3);
    ans_free(&a);
    get(&a, "/api/nodes/bulk-health?limit=99999999999999999999");
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "limit");
    ans_free(&a);
}

static void test_health_paths(void)
{
    ans_t a;
    get(&a, "/api/nodes/" R1 "/health");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"totalTransmissions\":4");
    ans_free(&a);
    get(&a, "/api/nodes/AA11111111111111111111111111111111111111111111111111111111111111/health");
    CHECK_EQ_INT(a.status, 200); /* any case */
    ans_free(&a);
    get(&a, "/api/nodes/dd44444444444444444444444444444444444444444444444444444444444444/health");
    CHECK_EQ_INT(a.status, 404);
    CHECK_HAS(&a, "Not found");
    ans_free(&a);
    get(&a, "/api/nodes/aa11/health");
    CHECK_EQ_INT(a.status, 404); /* no prefix resolution */
    ans_free(&a);
    get(&a, "/api/nodes/" R1 "/paths");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"totalPaths\":2");
    ans_free(&a);
    get(&a, "/api/nodes/not-a-key/paths");
    CHECK_EQ_INT(a.status, 404);
    ans_free(&a);
    /* the node detail takes the enriched object */
    get(&a, "/api/nodes/" R1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"relay_count_24h\":1");
    CHECK_HAS(&a, "\"hash_size\":1");
    CHECK_HAS(&a, "\"recentAdverts\":[");
    ans_free(&a);
}

static void test_analytics_days(void)
{
    static const struct {
        const char *q;
        int days;
    } ok[] = {{"", 7},         {"?days=7", 7},     {"?days=abc", 7},   {"?days=-1", 1},
              {"?days=0", 1},  {"?days=400", 365}, {"?days=30", 30},   {"?days=99999999999999999999", 7},
              {"?days=%2B1", 1}, {"?days=+1", 7}, {"?days=1.5", 7},   {"?days=%207", 7}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char t[300], want[32];
        ans_t a;
        snprintf(t, sizeof(t), "/api/nodes/" R1 "/analytics%s", ok[i].q);
        get(&a, t);
        CHECK_EQ_INT(a.status, 200);
        snprintf(want, sizeof(want), "\"days\":%d}", ok[i].days);
        CHECK_HAS(&a, want);
        ans_free(&a);
    }
    ans_t a;
    get(&a, "/api/nodes/" R1 "/analytics?days=3");
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "invalid days");
    CHECK_HAS(&a, "1, 7, 30 or 365");
    ans_free(&a);
    get(&a, "/api/nodes/dd44444444444444444444444444444444444444444444444444444444444444/analytics");
    CHECK_EQ_INT(a.status, 404);
    ans_free(&a);
}

static void test_reach(void)
{
    ans_t a;
    get(&a, "/api/nodes/" R1 "/reach?days=14");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"window\":{\"days\":14,");
    ans_free(&a);
    get(&a, "/api/nodes/" R1 "/reach?days=100");
    CHECK_HAS(&a, "\"days\":30,"); /* clamped to 30 */
    ans_free(&a);
    get(&a, "/api/nodes/" R1 "/reach?days=2");
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "invalid days");
    ans_free(&a);
    get(&a, "/api/nodes/aa11/reach");
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "invalid pubkey: expected 64 hex chars");
    ans_free(&a);
    get(&a, "/api/nodes/dd44444444444444444444444444444444444444444444444444444444444444/reach");
    CHECK_EQ_INT(a.status, 404);
    ans_free(&a);
}

static void test_neighbors(void)
{
    ans_t a;
    get(&a, "/api/nodes/" R1 "/neighbors");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "{\"node\":\"" R1 "\",\"neighbors\":[");
    CHECK_EQ_INT(count_of(&a, "\"prefix\""), 3);
    CHECK_HAS(&a, "\"total_observations\":4}");
    /* the O1 edge (count 2) scores highest: 2/100 x decay; first */
    CHECK(strstr(a.body, "\"pubkey\":\"o1-observer\"") < strstr(a.body, "\"pubkey\":\"" R2 "\""));
    CHECK_HAS(&a, "\"name\":\"Obs One\",\"role\":\"observer\",\"count\":2,\"counts_by_mode\":{\"0\":1,\"1\":1}");
    CHECK_HAS(&a, "\"observers\":[\"o1-observer\"]");
    CHECK_HAS(&a, "\"distance_km\":"); /* R1 and R2 both have a position */
    ans_free(&a);
    get(&a, "/api/nodes/" R1 "/neighbors?min_count=2");
    CHECK_EQ_INT(count_of(&a, "\"prefix\""), 1);
    CHECK_HAS(&a, "\"total_observations\":2}");
    ans_free(&a);
    get(&a, "/api/nodes/" R1 "/neighbors?min_count=abc&min_score=0.5");
    CHECK_EQ_INT(count_of(&a, "\"prefix\""), 0); /* every score is below 0.05 */
    ans_free(&a);
    get(&a, "/api/nodes/dd44444444444444444444444444444444444444444444444444444444444444/neighbors");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "\"neighbors\":[],\"total_observations\":0}");
    ans_free(&a);
    get(&a, "/api/nodes/NOT-A-KEY/neighbors");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "{\"node\":\"not-a-key\"");
    ans_free(&a);
}

static void test_clock_skew_battery(void)
{
    ans_t a;
    get(&a, "/api/nodes/" R1 "/clock-skew");
    CHECK_EQ_INT(a.status, 200);
    CHECK_LACKS(&a, "severity");
    CHECK_HAS(&a, "\"sampleCount\":0");
    ans_free(&a);
    get(&a, "/api/nodes/dd44444444444444444444444444444444444444444444444444444444444444/clock-skew");
    CHECK_EQ_INT(a.status, 404);
    ans_free(&a);
    get(&a, "/api/nodes/" R1 "/battery");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "{\"days\":7,\"latest_mv\":3250,\"latest_ts\":\"2026-03-27T11:00:00Z\",\"public_key\":\"" R1
                  "\",\"samples\":[{\"timestamp\":\"2026-03-27T08:00:00Z\",\"battery_mv\":3400},{\"timestamp\":"
                  "\"2026-03-27T11:00:00Z\",\"battery_mv\":3250}],\"status\":\"low\",\"thresholds\":{\"critical_mv\":"
                  "3000,\"low_mv\":3300}}");
    ans_free(&a);
    get(&a, "/api/nodes/" R1 "/battery?days=10");
    CHECK_EQ_INT(count_of(&a, "battery_mv\":"), 3); /* the sample of 9 days back too */
    ans_free(&a);
    get(&a, "/api/nodes/" R1 "/battery?days=999");
    CHECK_HAS(&a, "{\"days\":7,"); /* out of 1..365: 7 */
    ans_free(&a);
    get(&a, "/api/nodes/" R2 "/battery");
    CHECK_HAS(&a, "\"samples\":[],\"status\":\"unknown\"");
    ans_free(&a);
    get(&a, "/api/nodes/dd44444444444444444444444444444444444444444444444444444444444444/battery");
    CHECK_EQ_INT(a.status, 404);
    CHECK_HAS(&a, "node not found");
    ans_free(&a);
}

static void test_neighbor_graph(void)
{
    ans_t a;
    get(&a, "/api/analytics/neighbor-graph");
    CHECK_EQ_INT(a.status, 200); /* default 5 / 0.1: no edge qualifies */
    CHECK_HAS(&a, "{\"nodes\":[],\"edges\":[],\"stats\":{\"total_nodes\":0,\"total_edges\":0,");
    ans_free(&a);
    get(&a, "/api/analytics/neighbor-graph?min_count=1&min_score=0");
    CHECK_EQ_INT(count_of(&a, "\"source\""), 4);
    CHECK_HAS(&a, "\"total_nodes\":5,\"total_edges\":4,\"ambiguous_edges\":0,\"avg_cluster_size\":1.6,");
    CHECK_HAS(&a, "\"bidirectional\":true");
    ans_free(&a);
    /* SFO: the edges obs-two saw (R1-R2, obs-two-R2) */
    get(&a, "/api/analytics/neighbor-graph?min_count=1&min_score=0&region=SFO");
    CHECK_EQ_INT(count_of(&a, "\"source\""), 2);
    ans_free(&a);
    get(&a, "/api/analytics/neighbor-graph?min_count=1&min_score=0&role=companion");
    CHECK_EQ_INT(count_of(&a, "\"source\""), 1);
    ans_free(&a);
    get(&a, "/api/analytics/neighbor-graph?min_count=2&min_score=0");
    CHECK_EQ_INT(count_of(&a, "\"source\""), 2); /* the two edges seen twice */
    ans_free(&a);
    get(&a, "/api/analytics/neighbor-graph?min_count=-3&min_score=x");
    CHECK_EQ_INT(a.status, 200); /* unparsable: defaults */
    ans_free(&a);
}

static void test_resolve_hops(void)
{
    ans_t a;
    get(&a, "/api/resolve-hops");
    CHECK(strcmp(a.body, "{\"resolved\":{}}") == 0);
    ans_free(&a);
    get(&a, "/api/resolve-hops?hops=bb,AA,cc,zz,AA");
    CHECK_EQ_INT(a.status, 200);
    /* keys sorted; AA names R1 only; a companion is no relay; zz nobody */
    CHECK_HAS(&a, "{\"resolved\":{\"AA\":{\"name\":\"R One\",\"pubkey\":\"" R1 "\",\"candidates\":[{\"name\":\"R One\","
                  "\"pubkey\":\"" R1 "\",\"lat\":37.5,\"lon\":-122,\"affinityScore\":null}],\"conflicts\":[],"
                  "\"confidence\":\"unique_prefix\"},\"bb\":");
    CHECK_HAS(&a, "\"cc\":{\"name\":null,\"candidates\":[],\"conflicts\":[],\"confidence\":\"no_match\"}");
    CHECK_HAS(&a, "\"zz\":{\"name\":null");
    ans_free(&a);
}

static void test_paths_inspect(void)
{
    ans_t a;
    call_body(&a, "POST", "/api/paths/inspect", "{\"prefixes\":[\"AA\",\" bb \"],\"limit\":5,\"context\":{}}");
    CHECK_EQ_INT(a.status, 200);
    /* one candidate per hop; R1-R2 is an edge of the graph */
    CHECK_HAS(&a, "{\"candidates\":[{\"path\":[\"" R1 "\",\"" R2 "\"],\"names\":[\"R One\",\"R Two\"],\"score\":");
    CHECK_HAS(&a, "\"input\":{\"hops\":2,\"prefixes\":[\"aa\",\"bb\"]}");
    CHECK_HAS(&a, "\"stats\":{\"beamWidth\":20,");
    CHECK_HAS(&a, "\"candidatesConsidered\":1,\"chosen\":\"" R1 "\",\"edgeWeight\":1}");
    ans_free(&a);
    call_body(&a, "POST", "/api/paths/inspect", "{\"prefixes\":[\"cc\"]}");
    CHECK_EQ_INT(a.status, 200);
    CHECK_HAS(&a, "{\"candidates\":[],"); /* no relay behind cc: the beam dies */
    ans_free(&a);
    static const struct {
        const char *body, *err;
    } bad[] = {
        {"{\"prefixes\":", "invalid JSON"},
        {"[1,2]", "invalid JSON"},
        {"{\"prefixes\":[1]}", "invalid JSON"},
        {"{\"prefixes\":[\"aa\"],\"limit\":1.5}", "invalid JSON"},
        {"{}", "prefixes required"},
        {"{\"prefixes\":null}", "prefixes required"},
        {"{\"prefixes\":[]}", "prefixes required"},
        {"{\"prefixes\":[\"a\"]}", "prefixes must be even-length hex"},
        {"{\"prefixes\":[\"zz\"]}", "prefixes must be valid hex"},
        {"{\"prefixes\":[\"aabbccdd\"]}", "prefix exceeds 3 bytes"},
        {"{\"prefixes\":[\"aa\",\"aabb\"]}", "mixed prefix lengths not allowed"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        call_body(&a, "POST", "/api/paths/inspect", bad[i].body);
        CHECK_EQ_INT(a.status, 400);
        CHECK(a.content_type && strncmp(a.content_type, "text/plain", 10) == 0);
        char want[96];
        snprintf(want, sizeof(want), "{\"error\":\"%s\"}\n", bad[i].err);
        if (strcmp(a.body, want) != 0) {
            fprintf(stderr, "body %s: got %s, want %s", bad[i].body, a.body, want);
            msn_test_failures++;
        }
        ans_free(&a);
    }
    /* 65 prefixes, and a body over 4 KiB */
    char big[6000];
    size_t o = (size_t)snprintf(big, sizeof(big), "{\"prefixes\":[");
    for (int i = 0; i < 65; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "%s\"aa\"", i ? "," : "");
    snprintf(big + o, sizeof(big) - o, "]}");
    call_body(&a, "POST", "/api/paths/inspect", big);
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "too many prefixes (max 64)");
    ans_free(&a);
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "{\"prefixes\":[\"aa\"]}", 19);
    call_body(&a, "POST", "/api/paths/inspect", big);
    CHECK_EQ_INT(a.status, 400);
    CHECK_HAS(&a, "invalid JSON");
    ans_free(&a);
    call_body(&a, "POST", "/api/paths/inspect", NULL);
    CHECK_EQ_INT(a.status, 400);
    ans_free(&a);
    get(&a, "/api/paths/inspect");
    CHECK_EQ_INT(a.status, 405);
    ans_free(&a);
}

int main(void)
{
    if (fixture_build() < 0) {
        fprintf(stderr, "could not build the snapshot fixture\n");
        return 1;
    }
    MSN_RUN(test_search);
    MSN_RUN(test_bulk_health);
    MSN_RUN(test_health_paths);
    MSN_RUN(test_analytics_days);
    MSN_RUN(test_reach);
    MSN_RUN(test_neighbors);
    MSN_RUN(test_clock_skew_battery);
    MSN_RUN(test_neighbor_graph);
    MSN_RUN(test_resolve_hops);
    MSN_RUN(test_paths_inspect);
    msn_snapview_close(&fx.view);
    msn_status_close(fx.st);
    return msn_test_done();
}
