/*
 * test_route.c: the route table (shm/route.c): path matching (literal segments before
 * parameters, parameter values, what never matches), the request-statistics names derived
 * from it, methods (405 and its Allow set), and docs/api.md's endpoint table, which must list
 * the same methods, routes and Cache-Control policies (skipped when MESHSNAP_SOURCE does not
 * name the source tree).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/route.h"
#include "shm/status.h"
#include "testlib.h"

static int param_is(const msn_route_params_t *pp, int i, const char *want)
{
    return i < pp->n && pp->v[i].len == strlen(want) && memcmp(pp->v[i].at, want, pp->v[i].len) == 0;
}

static void test_literal_routes(void)
{
    msn_route_params_t pp;
    for (int i = 0; i < MSN_ROUTE_COUNT; i++) {
        if (strchr(msn_routes[i].pattern, ':') != NULL)
            continue;
        CHECK_EQ_INT(msn_route_match(msn_routes[i].pattern, &pp), i);
        CHECK_EQ_INT(pp.n, 0);
    }
    CHECK_EQ_INT(msn_route_match("/api/stats", NULL), MSN_ROUTE_STATS);
    CHECK_EQ_INT(msn_route_match("/metrics", NULL), MSN_ROUTE_METRICS);
    CHECK_EQ_INT(msn_route_match("/api/analytics/hash-sizes", NULL), MSN_ROUTE_AN_HASH_SIZES);
}

static void test_parameters(void)
{
    msn_route_params_t pp;
    CHECK_EQ_INT(msn_route_match("/api/packets/0123456789abcdef", &pp), MSN_ROUTE_PACKET);
    CHECK(param_is(&pp, 0, "0123456789abcdef"));
    CHECK_EQ_INT(pp.n, 1);
    CHECK_EQ_INT(msn_route_match("/api/nodes/ABCDEF01", &pp), MSN_ROUTE_NODE);
    CHECK(param_is(&pp, 0, "ABCDEF01"));
    CHECK_EQ_INT(msn_route_param_index(MSN_ROUTE_NODE, "pubkey"), 0);
    CHECK_EQ_INT(msn_route_param_index(MSN_ROUTE_PACKET, "id"), 0);
    CHECK_EQ_INT(msn_route_param_index(MSN_ROUTE_PACKET, "pubkey"), -1);
    CHECK_EQ_INT(msn_route_param_index(MSN_ROUTE_STATS, "id"), -1);
    CHECK_EQ_INT(msn_route_param_index(-1, "id"), -1);
    /* a literal segment beats a parameter, wherever the routes are in the table */
    CHECK_EQ_INT(msn_route_match("/api/nodes/clock-skew", &pp), MSN_ROUTE_NODES_CLOCK_SKEW);
    CHECK_EQ_INT(pp.n, 0);
    CHECK_EQ_INT(msn_route_match("/api/nodes/clock-skewx", &pp), MSN_ROUTE_NODE);
    CHECK(param_is(&pp, 0, "clock-skewx"));
    CHECK_EQ_INT(msn_route_match("/api/observers/clock-skew", NULL), MSN_ROUTE_OBSERVERS_CLOCK_SKEW);
}

static void test_no_match(void)
{
    static const char *const paths[] = {
        "",
        "/",
        "/api",
        "/api/",
        "api/stats",
        "/api/stats/x",
        "/api/statsx",
        "/api/Stats",
        "/api//stats",
        "/api/packets/", /* a parameter is never empty */
        "/api/packets//x",
        "/api/packets/abc/def", /* nor more than one segment */
        "/api/nodes/abc/",
        "/api/analytics",
        "/api/analytics/observers-clock-skew", /* a document name, not a route */
        "/api/analytics/nope",
        "/metrics/",
    };
    msn_route_params_t pp;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int id = msn_route_match(paths[i], &pp);
        if (id != -1)
            fprintf(stderr, "%s matched route %d\n", paths[i], id);
        CHECK_EQ_INT(id, -1);
    }
}

static void test_methods(void)
{
    unsigned allowed = 99;
    CHECK_EQ_INT(msn_route_find("/api/stats", "GET", NULL, &allowed), MSN_ROUTE_STATS);
    CHECK_EQ_INT(allowed, 0);
    CHECK_EQ_INT(msn_route_find("/api/stats", "HEAD", NULL, &allowed), MSN_ROUTE_STATS);
    CHECK_EQ_INT(msn_route_find("/api/stats", "POST", NULL, &allowed), -1);
    CHECK_EQ_INT(allowed, 1u << MSN_METHOD_GET);
    CHECK_EQ_INT(msn_route_find("/api/stats", "DELETE", NULL, &allowed), -1);
    CHECK_EQ_INT(allowed, 1u << MSN_METHOD_GET);
    CHECK_EQ_INT(msn_route_find("/api/nope", "POST", NULL, &allowed), -1);
    CHECK_EQ_INT(allowed, 0);
    msn_route_params_t pp;
    CHECK_EQ_INT(msn_route_find("/api/nodes/abcd", "GET", &pp, NULL), MSN_ROUTE_NODE);
    CHECK(param_is(&pp, 0, "abcd"));
    CHECK_EQ_STR(msn_method_allow(MSN_METHOD_GET), "GET, HEAD");
    CHECK_EQ_STR(msn_method_allow(MSN_METHOD_POST), "POST");
    for (int i = 0; i < MSN_ROUTE_COUNT; i++) {
        static const char *const names[] = {"GET", "POST", "PUT"};
        if (strchr(msn_routes[i].pattern, ':') == NULL)
            CHECK_EQ_INT(msn_route_find(msn_routes[i].pattern, names[msn_routes[i].method], NULL, NULL), i);
    }
}

/* Two patterns of one method that only differ in parameter names would match the same
 * paths equally. */
static void test_unambiguous(void)
{
    char a[128], b[128];
    for (int i = 0; i < MSN_ROUTE_COUNT; i++) {
        CHECK(msn_routes[i].pattern[0] == '/');
        for (int j = i + 1; j < MSN_ROUTE_COUNT; j++) {
            if (msn_routes[i].method != msn_routes[j].method)
                continue;
            const char *pats[2] = {msn_routes[i].pattern, msn_routes[j].pattern};
            char *outs[2] = {a, b};
            for (int k = 0; k < 2; k++) {
                char *o = outs[k];
                for (const char *p = pats[k]; *p;) {
                    if (*p == ':') {
                        *o++ = ':';
                        p += strcspn(p, "/");
                    } else {
                        *o++ = *p++;
                    }
                }
                *o = '\0';
            }
            if (strcmp(a, b) == 0)
                fprintf(stderr, "ambiguous: %s and %s\n", pats[0], pats[1]);
            CHECK(strcmp(a, b) != 0);
        }
    }
}

static void test_perf_names(void)
{
    for (int i = 0; i < MSN_ROUTE_COUNT; i++)
        CHECK_EQ_STR(msn_perf_endpoint_names[i], msn_routes[i].pattern);
    CHECK_EQ_STR(msn_perf_endpoint_names[MSN_PERF_OTHER], "other");
    for (int i = MSN_PERF_OTHER + 1; i < MSN_PERF_ENDPOINTS; i++)
        CHECK(msn_perf_endpoint_names[i] == NULL);
    /* the slots /metrics has always listed, in its order */
    CHECK_EQ_STR(msn_perf_endpoint_names[0], "/api/healthz");
    CHECK_EQ_STR(msn_perf_endpoint_names[6], "/api/packets/:id");
    CHECK_EQ_STR(msn_perf_endpoint_names[8], "/api/nodes/:pubkey");
    CHECK_EQ_STR(msn_perf_endpoint_names[19], "/metrics");
    CHECK_EQ_INT(MSN_PERF_OTHER, MSN_ROUTE_COUNT); /* "other" follows the last route */
}

static void test_cache_directives(void)
{
    CHECK_EQ_STR(msn_cache_policy_directive(MSN_CACHE_LIVE), "no-store");
    CHECK_EQ_STR(msn_cache_policy_directive(MSN_CACHE_REVALIDATE), "no-cache");
    CHECK_EQ_STR(msn_cache_policy_directive(MSN_CACHE_PUBLISHED), "public, max-age");
    CHECK_EQ_INT(msn_routes[MSN_ROUTE_STATS].cache, MSN_CACHE_PUBLISHED);
    CHECK_EQ_INT(msn_routes[MSN_ROUTE_NODES].cache, MSN_CACHE_REVALIDATE);
    CHECK_EQ_INT(msn_routes[MSN_ROUTE_HEALTHZ].cache, MSN_CACHE_LIVE);
    CHECK_EQ_INT(msn_routes[MSN_ROUTE_HEALTHZ].needs_snapshot, 0);
    CHECK_EQ_INT(msn_routes[MSN_ROUTE_PACKETS].needs_snapshot, 1);
}

/* ---- docs/api.md's endpoint table ---- */

#define MAX_DOC 256

typedef struct {
    int method;
    char path[128];
    char cache[32];
} doc_route_t;

/* Adds path (with "{a,b,c}" expanded into one path per alternative) to out. */
static void expand(int method, const char *path, const char *cache, doc_route_t *out, int *n)
{
    const char *lb = strchr(path, '{'), *rb = lb ? strchr(lb, '}') : NULL;
    if (lb == NULL || rb == NULL) {
        if (*n < MAX_DOC) {
            out[*n].method = method;
            snprintf(out[*n].path, sizeof(out[*n].path), "%s", path);
            snprintf(out[*n].cache, sizeof(out[*n].cache), "%s", cache);
            (*n)++;
        }
        return;
    }
    for (const char *alt = lb + 1; alt < rb;) {
        size_t l = strcspn(alt, ",}");
        char one[256];
        snprintf(one, sizeof(one), "%.*s%.*s%s", (int)(lb - path), path, (int)l, alt, rb + 1);
        expand(method, one, cache, out, n);
        alt += l + 1;
    }
}

/* Reads the first table after "## Endpoints": every `GET <path>` (or POST, PUT) of a row's
 * first cell, with the row's last cell (the Cache-Control policy, in backquotes). Returns
 * the count, or -1 when the file cannot be read. */
static int read_readme_routes(const char *file, doc_route_t *out)
{
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return -1;
    char line[4096];
    int in_section = 0, in_table = 0, n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "## ", 3) == 0) {
            in_section = strncmp(line, "## Endpoints", 12) == 0;
            continue;
        }
        if (!in_section)
            continue;
        if (line[0] != '|') {
            if (in_table)
                break; /* the end of the first table */
            continue;
        }
        in_table = 1;
        if (strncmp(line, "|---", 4) == 0 || strstr(line, "| endpoint |") == line)
            continue;
        /* the last cell: `directive` */
        char *end = line + strlen(line);
        while (end > line && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '|'))
            *--end = '\0';
        char *last = strrchr(line, '|');
        char cache[32] = "";
        if (last != NULL) {
            char *q1 = strchr(last, '`'), *q2 = q1 ? strchr(q1 + 1, '`') : NULL;
            if (q1 && q2)
                snprintf(cache, sizeof(cache), "%.*s", (int)(q2 - q1 - 1), q1 + 1);
        }
        /* the first cell: every `GET /path` (POST, PUT) */
        char *cell_end = strchr(line + 1, '|');
        if (cell_end)
            *cell_end = '\0';
        for (char *p = line; (p = strchr(p, '`')) != NULL;) {
            static const char *const names[] = {"GET ", "POST ", "PUT "};
            p++;
            int m = -1;
            for (int k = 0; k < 3; k++)
                if (strncmp(p, names[k], strlen(names[k])) == 0)
                    m = k;
            char *q = strchr(p, '`');
            if (q == NULL)
                break;
            if (m >= 0) {
                *q = '\0';
                expand(m, p + strlen(names[m]), cache, out, &n);
            }
            p = q + 1;
        }
    }
    fclose(f);
    return n;
}

static void test_docs_list_the_routes(void)
{
    const char *src = getenv("MESHSNAP_SOURCE");
    if (src == NULL || src[0] == '\0') {
        msn_test_skip("MESHSNAP_SOURCE is not set: docs/api.md cannot be found");
        return;
    }
    char file[1024];
    snprintf(file, sizeof(file), "%s/docs/api.md", src);
    doc_route_t doc[MAX_DOC];
    int n = read_readme_routes(file, doc);
    CHECK(n > 0);
    if (n <= 0)
        return;
    CHECK(n < MAX_DOC);
    for (int i = 0; i < MSN_ROUTE_COUNT; i++) {
        int found = 0;
        for (int j = 0; j < n; j++) {
            if (strcmp(doc[j].path, msn_routes[i].pattern) != 0 || doc[j].method != (int)msn_routes[i].method)
                continue;
            found = 1;
            const char *want = msn_cache_policy_directive(msn_routes[i].cache);
            if (strcmp(doc[j].cache, want) != 0)
                fprintf(stderr, "docs/api.md: %s has Cache-Control `%s`, the route table says `%s`\n", doc[j].path,
                        doc[j].cache, want);
            CHECK_EQ_STR(doc[j].cache, want);
        }
        if (!found)
            fprintf(stderr, "docs/api.md: the endpoint table lacks %s (shm/route.h)\n", msn_routes[i].pattern);
        CHECK(found);
    }
    for (int j = 0; j < n; j++) {
        int id = -1;
        for (int i = 0; i < MSN_ROUTE_COUNT; i++)
            if (strcmp(doc[j].path, msn_routes[i].pattern) == 0 && doc[j].method == (int)msn_routes[i].method)
                id = i;
        if (id < 0)
            fprintf(stderr, "docs/api.md: %s is not a route of shm/route.h\n", doc[j].path);
        CHECK(id >= 0);
    }
}

int main(void)
{
    MSN_RUN(test_literal_routes);
    MSN_RUN(test_parameters);
    MSN_RUN(test_no_match);
    MSN_RUN(test_methods);
    MSN_RUN(test_unambiguous);
    MSN_RUN(test_perf_names);
    MSN_RUN(test_cache_directives);
    MSN_RUN(test_docs_list_the_routes);
    return msn_test_done();
}
