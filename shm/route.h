/*
 * route.h: the HTTP API's routes, in one table. Each route is a path pattern, its
 * Cache-Control policy and whether it needs a snapshot; its position in the table is its
 * id, which is also its slot in the request statistics of the status block.
 *
 * Who reads the table:
 *   worker/dispatch.c  routes each request (404, 405, 503 without a snapshot), binds a
 *                      handler to each route id (a route without a handler fails the
 *                      build: -Wswitch), and derives Cache-Control
 *   shm/status.c       names the request-statistics slots after the patterns, as /api/perf
 *                      and /metrics show them (slot MSN_PERF_OTHER: "other", no route)
 *   docs/api.md        its endpoint table lists the same methods, patterns and cache
 *                      policies (tests/unit/shm/test_route.c fails when they disagree)
 *
 * Methods: GET routes answer GET and HEAD; POST and PUT routes answer that method only.
 * Several routes may share a pattern with different methods; a path whose routes all take
 * other methods is answered 405 with an Allow header naming theirs.
 *
 * Patterns: '/'-separated segments, each either literal or a parameter ":name" that
 * matches exactly one non-empty segment (percent-decoded before the handler sees it). When several patterns match a path the most
 * literal one wins: compared segment by segment, the first segment where one pattern is
 * literal and the other a parameter decides ("/api/nodes/clock-skew" beats
 * "/api/nodes/:pubkey"), whatever their order in the table. Two patterns of one method that
 * differ only in parameter names are ambiguous and refused by the tests.
 *
 * Adding a route: one line in MSN_ROUTES (appended, so existing slots keep their ids),
 * its handler in worker/ and its case in worker/dispatch.c, and its row in docs/api.md.
 * The status block has MSN_PERF_ENDPOINTS slots (shm/status.h): a table that outgrows
 * them fails the build until that constant (and MSN_STATUS_VERSION) is raised.
 */
#ifndef MSN_ROUTE_H
#define MSN_ROUTE_H

#include <stddef.h>

/* Cache-Control of a 200 answer (any other status is sent with no-store). */
typedef enum {
    MSN_CACHE_LIVE,       /* "no-store": live process state, never reused */
    MSN_CACHE_REVALIDATE, /* "no-cache": assembled from the snapshot; reusable after revalidation (ETag) */
    MSN_CACHE_PUBLISHED,  /* "public, max-age=N": a document the master published; N = seconds until it
                             publishes that document again */
} msn_cache_policy_t;

/* The method a route answers. */
typedef enum {
    MSN_METHOD_GET,  /* GET and HEAD */
    MSN_METHOD_POST,
    MSN_METHOD_PUT,
} msn_method_t;

/* The table: R(ID, method, pattern, cache policy, needs a snapshot). Order = statistics slot. */
#define MSN_ROUTES(R)                                                                            \
    R(HEALTHZ,              GET, "/api/healthz",                   LIVE,       0)                     \
    R(STATS,                GET, "/api/stats",                     PUBLISHED,  1)                     \
    R(PERF,                 GET, "/api/perf",                      LIVE,       0)                     \
    R(PERF_MIGRATIONS,      GET, "/api/perf/async-migrations",     LIVE,       0)                     \
    R(OBSERVERS,            GET, "/api/observers",                 REVALIDATE, 1)                     \
    R(PACKETS,              GET, "/api/packets",                   REVALIDATE, 1)                     \
    R(PACKET,               GET, "/api/packets/:id",               REVALIDATE, 1)                     \
    R(NODES,                GET, "/api/nodes",                     REVALIDATE, 1)                     \
    R(NODE,                 GET, "/api/nodes/:pubkey",             REVALIDATE, 1)                     \
    R(AN_TOPOLOGY,          GET, "/api/analytics/topology",        PUBLISHED,  1)                     \
    R(AN_RF,                GET, "/api/analytics/rf",              PUBLISHED,  1)                     \
    R(AN_DISTANCE,          GET, "/api/analytics/distance",        PUBLISHED,  1)                     \
    R(AN_CHANNELS,          GET, "/api/analytics/channels",        PUBLISHED,  1)                     \
    R(AN_HASH_SIZES,        GET, "/api/analytics/hash-sizes",      PUBLISHED,  1)                     \
    R(AN_HASH_COLLISIONS,   GET, "/api/analytics/hash-collisions", PUBLISHED,  1)                     \
    R(AN_ROLES,             GET, "/api/analytics/roles",           PUBLISHED,  1)                     \
    R(AN_SUBPATHS,          GET, "/api/analytics/subpaths",        PUBLISHED,  1)                     \
    R(OBSERVERS_CLOCK_SKEW, GET, "/api/observers/clock-skew",      PUBLISHED,  1)                     \
    R(NODES_CLOCK_SKEW,     GET, "/api/nodes/clock-skew",          PUBLISHED,  1)                     \
    R(METRICS,              GET, "/metrics",                       LIVE,       0)                     \
    R(CONFIG_CACHE,         GET, "/api/config/cache",              REVALIDATE, 0)                     \
    R(CONFIG_CLIENT,        GET, "/api/config/client",             REVALIDATE, 0)                     \
    R(CONFIG_THEME,         GET, "/api/config/theme",              REVALIDATE, 0)                     \
    R(CONFIG_REGIONS,       GET, "/api/config/regions",            REVALIDATE, 0)                     \
    R(CONFIG_MAP,           GET, "/api/config/map",                REVALIDATE, 0)                     \
    R(CONFIG_AREAS,         GET, "/api/config/areas",              REVALIDATE, 0)                     \
    R(CONFIG_AREA_POLYGONS, GET, "/api/config/areas/polygons",     REVALIDATE, 0)                     \
    R(CONFIG_GEO_FILTER,    GET, "/api/config/geo-filter",         REVALIDATE, 0)                     \
    R(CONFIG_GEO_FILTER_PUT, PUT, "/api/config/geo-filter",        LIVE,       0)                     \
    R(ADMIN_PRUNE_GEO_FILTER, POST, "/api/admin/prune-geo-filter", LIVE,       0)                     \
    R(HEALTH,               GET, "/api/health",                    LIVE,       0)                     \
    R(PERF_IO,              GET, "/api/perf/io",                   LIVE,       0)                     \
    R(PERF_SQLITE,          GET, "/api/perf/sqlite",               LIVE,       0)                     \
    R(PERF_WRITE_SOURCES,   GET, "/api/perf/write-sources",        LIVE,       0)                     \
    R(PERF_RESET,           POST, "/api/perf/reset",               LIVE,       0)                     \
    R(IATA_COORDS,          GET, "/api/iata-coords",               REVALIDATE, 0)                     \
    R(NODE_SEARCH,          GET, "/api/nodes/search",              REVALIDATE, 1)                     \
    R(NODES_BULK_HEALTH,    GET, "/api/nodes/bulk-health",         REVALIDATE, 1)                     \
    R(NODE_HEALTH,          GET, "/api/nodes/:pubkey/health",      REVALIDATE, 1)                     \
    R(NODE_PATHS,           GET, "/api/nodes/:pubkey/paths",       REVALIDATE, 1)                     \
    R(NODE_NEIGHBORS,       GET, "/api/nodes/:pubkey/neighbors",   REVALIDATE, 1)                     \
    R(NODE_CLOCK_SKEW,      GET, "/api/nodes/:pubkey/clock-skew",  REVALIDATE, 1)                     \
    R(NODE_ANALYTICS,       GET, "/api/nodes/:pubkey/analytics",   REVALIDATE, 1)                     \
    R(NODE_BATTERY,         GET, "/api/nodes/:pubkey/battery",     REVALIDATE, 1)                     \
    R(NODE_REACH,           GET, "/api/nodes/:pubkey/reach",       REVALIDATE, 1)                     \
    R(AN_NEIGHBOR_GRAPH,    GET, "/api/analytics/neighbor-graph",  REVALIDATE, 1)                     \
    R(RESOLVE_HOPS,         GET, "/api/resolve-hops",              REVALIDATE, 1)                     \
    R(PATHS_INSPECT,        POST, "/api/paths/inspect",            LIVE,       1)                     \
    /* observers, channels, packet tools, the analytics pages' remaining endpoints */          \
    R(OBSERVER,             GET, "/api/observers/:id",             PUBLISHED,  1)                     \
    R(OBSERVER_ANALYTICS,   GET, "/api/observers/:id/analytics",   PUBLISHED,  1)                     \
    R(OBSERVER_METRICS,     GET, "/api/observers/:id/metrics",     REVALIDATE, 1)                     \
    R(OBSERVERS_METRICS_SUMMARY, GET, "/api/observers/metrics/summary", PUBLISHED, 1)                 \
    R(CHANNELS,             GET, "/api/channels",                  REVALIDATE, 1)                     \
    R(CHANNEL_MESSAGES,     GET, "/api/channels/:hash/messages",   REVALIDATE, 1)                     \
    R(KNOWN_CHANNELS,       GET, "/api/known-channels",            REVALIDATE, 0)                     \
    R(PACKET_TIMESTAMPS,    GET, "/api/packets/timestamps",        REVALIDATE, 1)                     \
    R(PACKET_OBSERVATIONS,  POST, "/api/packets/observations",     LIVE,       1)                     \
    R(DECODE,               POST, "/api/decode",                   LIVE,       0)                     \
    R(TRACES,               GET, "/api/traces/:hash",              REVALIDATE, 1)                     \
    R(AN_RELAY_AIRTIME_SHARE, GET, "/api/analytics/relay-airtime-share", PUBLISHED, 1)                \
    R(AN_SUBPATHS_BULK,     GET, "/api/analytics/subpaths-bulk",   PUBLISHED,  1)                     \
    R(AN_SUBPATH_DETAIL,    GET, "/api/analytics/subpath-detail",  PUBLISHED,  1)                     \
    R(SCOPE_STATS,          GET, "/api/scope-stats",               PUBLISHED,  1)                     \
    R(AUDIO_LAB_BUCKETS,    GET, "/api/audio-lab/buckets",         PUBLISHED,  1)                     \
    R(MQTT_STATUS,          GET, "/api/mqtt/status",               LIVE,       0)

/* Route ids: MSN_ROUTE_HEALTHZ, MSN_ROUTE_STATS, ... in table order. */
#define MSN_ROUTE__ID(id, method, pattern, cache, snapshot) MSN_ROUTE_##id,
typedef enum { MSN_ROUTES(MSN_ROUTE__ID) } msn_route_id_t;
#undef MSN_ROUTE__ID
#define MSN_ROUTE__ONE(id, method, pattern, cache, snapshot) +1
enum { MSN_ROUTE_COUNT = 0 MSN_ROUTES(MSN_ROUTE__ONE) };
#undef MSN_ROUTE__ONE

#define MSN_ROUTE_MAX_PARAMS 4

typedef struct {
    msn_method_t method;
    const char *pattern;
    msn_cache_policy_t cache;
    int needs_snapshot; /* 1: answered from the snapshot (503 while there is none) */
} msn_route_t;

/** The table, indexed by msn_route_id_t. */
extern const msn_route_t msn_routes[MSN_ROUTE_COUNT];

/** The values of a matched path's parameters, in pattern order: pointers into the path
 *  (not NUL-terminated), valid as long as the path is. */
typedef struct {
    int n;
    struct {
        const char *at;
        size_t len;
    } v[MSN_ROUTE_MAX_PARAMS];
} msn_route_params_t;

/** The route of path (without the query string) whatever its method, or -1 when none
 *  matches; params (optional) receives the parameter values. Any process; no allocation. */
int msn_route_match(const char *path, msn_route_params_t *params);

/** The route of path for HTTP method (e.g. "GET", "HEAD", "POST"), or -1. When -1 and
 *  the path matches routes of other methods only, *allowed (optional) gets a bitmask of
 *  them (1 << msn_method_t), else 0. Any process; no allocation. */
int msn_route_find(const char *path, const char *method, msn_route_params_t *params, unsigned *allowed);

/** The method's name as an Allow header lists it ("GET, HEAD", "POST", "PUT"). */
const char *msn_method_allow(msn_method_t m);

/** The index of parameter `name` (without ':') in route id's pattern, or -1. */
int msn_route_param_index(int id, const char *name);

/** The Cache-Control directive of a policy: "no-store", "no-cache", "public, max-age"
 *  (the worker appends "=N" to the last). */
const char *msn_cache_policy_directive(msn_cache_policy_t c);

#endif
