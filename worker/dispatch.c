/*
 * dispatch.c: the route table (shm/route.h) bound to the handlers of this folder.
 *
 * call_handler has one case per route and no default: a route added to the table
 * without a case here fails the build (-Wswitch, part of -Wall, with -Werror).
 */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/config.h"

static void call_handler(msn_api_req_t *r)
{
    switch ((msn_route_id_t)r->route) {
    case MSN_ROUTE_HEALTHZ: msn_api_healthz(r); break;
    case MSN_ROUTE_STATS: msn_api_stats(r); break;
    case MSN_ROUTE_PERF: msn_api_perf(r); break;
    case MSN_ROUTE_PERF_MIGRATIONS: msn_api_perf_migrations(r); break;
    case MSN_ROUTE_OBSERVERS: msn_api_observers(r); break;
    case MSN_ROUTE_PACKETS: msn_api_packets(r); break;
    case MSN_ROUTE_PACKET: msn_api_packet_detail(r, msn_api_path_param(r, "id")); break;
    case MSN_ROUTE_NODES: msn_api_nodes(r); break;
    case MSN_ROUTE_NODE: msn_api_node_detail(r, msn_api_path_param(r, "pubkey")); break;
    case MSN_ROUTE_AN_TOPOLOGY: msn_api_analytic(r, MSN_AN_TOPOLOGY); break;
    case MSN_ROUTE_AN_RF: msn_api_analytic(r, MSN_AN_RF); break;
    case MSN_ROUTE_AN_DISTANCE: msn_api_analytic(r, MSN_AN_DISTANCE); break;
    case MSN_ROUTE_AN_CHANNELS: msn_api_analytic(r, MSN_AN_CHANNELS); break;
    case MSN_ROUTE_AN_HASH_SIZES: msn_api_analytic(r, MSN_AN_HASH_SIZES); break;
    case MSN_ROUTE_AN_HASH_COLLISIONS: msn_api_analytic(r, MSN_AN_HASH_COLLISIONS); break;
    case MSN_ROUTE_AN_ROLES: msn_api_analytic(r, MSN_AN_ROLES); break;
    case MSN_ROUTE_AN_SUBPATHS: msn_api_analytic(r, MSN_AN_SUBPATHS); break;
    case MSN_ROUTE_OBSERVERS_CLOCK_SKEW: msn_api_analytic(r, MSN_AN_OBSERVERS_CLOCK_SKEW); break;
    case MSN_ROUTE_NODES_CLOCK_SKEW: msn_api_analytic(r, MSN_AN_NODES_CLOCK_SKEW); break;
    case MSN_ROUTE_METRICS: msn_api_metrics(r); break;
    case MSN_ROUTE_CONFIG_CACHE: msn_api_config_cache(r); break;
    case MSN_ROUTE_CONFIG_CLIENT: msn_api_config_client(r); break;
    case MSN_ROUTE_CONFIG_THEME: msn_api_config_theme(r); break;
    case MSN_ROUTE_CONFIG_REGIONS: msn_api_config_regions(r); break;
    case MSN_ROUTE_CONFIG_MAP: msn_api_config_map(r); break;
    case MSN_ROUTE_CONFIG_AREAS: msn_api_config_areas(r); break;
    case MSN_ROUTE_CONFIG_AREA_POLYGONS: msn_api_config_areas(r); break;
    case MSN_ROUTE_CONFIG_GEO_FILTER: msn_api_config_geo_filter(r); break;
    case MSN_ROUTE_CONFIG_GEO_FILTER_PUT: msn_api_write_refused(r); break;
    case MSN_ROUTE_ADMIN_PRUNE_GEO_FILTER: msn_api_write_refused(r); break;
    case MSN_ROUTE_HEALTH: msn_api_health(r); break;
    case MSN_ROUTE_PERF_IO: msn_api_perf_io(r); break;
    case MSN_ROUTE_PERF_SQLITE: msn_api_perf_sqlite(r); break;
    case MSN_ROUTE_PERF_WRITE_SOURCES: msn_api_perf_write_sources(r); break;
    case MSN_ROUTE_PERF_RESET: msn_api_write_refused(r); break;
    case MSN_ROUTE_IATA_COORDS: msn_api_iata_coords(r); break;
    case MSN_ROUTE_NODE_SEARCH: msn_api_node_search(r); break;
    case MSN_ROUTE_NODES_BULK_HEALTH: msn_api_nodes_bulk_health(r); break;
    case MSN_ROUTE_NODE_HEALTH: msn_api_node_health(r, msn_api_path_param(r, "pubkey")); break;
    case MSN_ROUTE_NODE_PATHS: msn_api_node_paths(r, msn_api_path_param(r, "pubkey")); break;
    case MSN_ROUTE_NODE_NEIGHBORS: msn_api_node_neighbors(r, msn_api_path_param(r, "pubkey")); break;
    case MSN_ROUTE_NODE_CLOCK_SKEW: msn_api_node_clock_skew(r, msn_api_path_param(r, "pubkey")); break;
    case MSN_ROUTE_NODE_ANALYTICS: msn_api_node_analytics(r, msn_api_path_param(r, "pubkey")); break;
    case MSN_ROUTE_NODE_BATTERY: msn_api_node_battery(r, msn_api_path_param(r, "pubkey")); break;
    case MSN_ROUTE_NODE_REACH: msn_api_node_reach(r, msn_api_path_param(r, "pubkey")); break;
    case MSN_ROUTE_AN_NEIGHBOR_GRAPH: msn_api_neighbor_graph(r); break;
    case MSN_ROUTE_RESOLVE_HOPS: msn_api_resolve_hops(r); break;
    case MSN_ROUTE_PATHS_INSPECT: msn_api_paths_inspect(r); break;
    case MSN_ROUTE_OBSERVER: msn_api_observer_detail(r, msn_api_path_param(r, "id")); break;
    case MSN_ROUTE_OBSERVER_ANALYTICS: msn_api_observer_analytics(r, msn_api_path_param(r, "id")); break;
    case MSN_ROUTE_OBSERVER_METRICS: msn_api_observer_metrics(r, msn_api_path_param(r, "id")); break;
    case MSN_ROUTE_OBSERVERS_METRICS_SUMMARY: msn_api_observers_metrics_summary(r); break;
    case MSN_ROUTE_CHANNELS: msn_api_channels(r); break;
    case MSN_ROUTE_CHANNEL_MESSAGES: msn_api_channel_messages(r, msn_api_path_param(r, "hash")); break;
    case MSN_ROUTE_KNOWN_CHANNELS: msn_api_known_channels(r); break;
    case MSN_ROUTE_PACKET_TIMESTAMPS: msn_api_packet_timestamps(r); break;
    case MSN_ROUTE_PACKET_OBSERVATIONS: msn_api_packet_observations(r); break;
    case MSN_ROUTE_DECODE: msn_api_decode(r); break;
    case MSN_ROUTE_TRACES: msn_api_traces(r, msn_api_path_param(r, "hash")); break;
    case MSN_ROUTE_AN_RELAY_AIRTIME_SHARE: msn_api_analytic_with(r, MSN_AN_RELAY_AIRTIME_SHARE, NULL); break;
    case MSN_ROUTE_AN_SUBPATHS_BULK: msn_api_subpaths_bulk(r); break;
    case MSN_ROUTE_AN_SUBPATH_DETAIL: msn_api_subpath_detail(r); break;
    case MSN_ROUTE_SCOPE_STATS: msn_api_scope_stats(r); break;
    case MSN_ROUTE_AUDIO_LAB_BUCKETS: msn_api_analytic_with(r, MSN_AN_AUDIO_LAB, NULL); break;
    case MSN_ROUTE_MQTT_STATUS: msn_api_mqtt_status(r); break;
    }
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A path parameter, percent-decoded into a new string (the caller frees it); NULL when it
 * would decode to a NUL byte. "+" stays itself in a path. */
static char *decode_param(const char *at, size_t len)
{
    char *out = msn_xstrndup(at, len), *o = out;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (at[i] == '%' && i + 2 < len && (hi = hexdigit(at[i + 1])) >= 0 && (lo = hexdigit(at[i + 2])) >= 0) {
            if (hi == 0 && lo == 0) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = at[i];
        }
    }
    *o = '\0';
    return out;
}

/* The Allow header of a bitmask of methods (1 << msn_method_t). */
static const char *allow_of(unsigned allowed)
{
    switch (allowed) {
    case 1u << MSN_METHOD_GET: return "GET, HEAD";
    case 1u << MSN_METHOD_POST: return "POST";
    case 1u << MSN_METHOD_PUT: return "PUT";
    case 1u << MSN_METHOD_GET | 1u << MSN_METHOD_POST: return "GET, HEAD, POST";
    case 1u << MSN_METHOD_GET | 1u << MSN_METHOD_PUT: return "GET, HEAD, PUT";
    case 1u << MSN_METHOD_POST | 1u << MSN_METHOD_PUT: return "POST, PUT";
    default: return "GET, HEAD, POST, PUT";
    }
}

void msn_api_dispatch(msn_api_req_t *r, const char *method)
{
    msn_route_params_t pp;
    unsigned allowed = 0;
    r->route = msn_route_find(r->path, method, &pp, &allowed);
    if (r->route < 0 && allowed != 0) {
        r->route = msn_route_match(r->path, NULL); /* counted under that route */
        r->allow = allow_of(allowed);
        msn_api_error(r, 405, "method %s not allowed on %s", method, r->path);
        return;
    }
    if (r->route < 0) {
        msn_api_error(r, 404, "no such endpoint: %s", r->path);
        return;
    }
    if (msn_routes[r->route].needs_snapshot && r->txn == NULL) {
        r->retry_after = 2;
        msn_api_error(r, 503, "no snapshot yet: the server is loading its database");
        return;
    }
    char *owned[MSN_ROUTE_MAX_PARAMS] = {0};
    int bad = 0;
    for (int i = 0; i < pp.n; i++) {
        r->params[i] = owned[i] = decode_param(pp.v[i].at, pp.v[i].len);
        bad |= owned[i] == NULL;
    }
    if (bad)
        msn_api_error(r, 400, "a path segment of %s decodes to a NUL byte", r->path);
    else
        call_handler(r);
    for (int i = 0; i < pp.n; i++) {
        r->params[i] = NULL;
        free(owned[i]);
    }
}

const char *msn_api_cache_control(const msn_api_req_t *r, char *buf, size_t n)
{
    msn_cache_policy_t c = MSN_CACHE_LIVE; /* errors, refusals and unknown paths are never reused */
    if (r->status == 200 && r->route >= 0 && r->route < MSN_ROUTE_COUNT)
        c = msn_routes[r->route].cache;
    if (c == MSN_CACHE_PUBLISHED && r->use_doc) {
        /* a cache may reuse it until the master publishes this document again */
        int64_t max_age = r->doc.expires_at_ms > r->now_ms ? (r->doc.expires_at_ms - r->now_ms) / 1000 : 0;
        snprintf(buf, n, "%s=%lld", msn_cache_policy_directive(c), (long long)max_age);
    } else {
        /* a published route that answered with an assembled body: revalidate it */
        if (c == MSN_CACHE_PUBLISHED)
            c = MSN_CACHE_REVALIDATE;
        snprintf(buf, n, "%s", msn_cache_policy_directive(c));
    }
    return buf;
}
