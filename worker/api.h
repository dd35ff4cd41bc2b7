/*
 * api.h: the API handlers of a worker and what they share. A handler runs inside one
 * LMDB read transaction (r->txn), writes a JSON body into r->body and sets r->status;
 * dispatch.c picks the handler from the route table (shm/route.h), worker.c adds the
 * headers and sends the answer. Handlers never block and never allocate
 * beyond the request.
 */
#ifndef MSN_API_H
#define MSN_API_H

#include <stdint.h>

#include "shm/buf.h"
#include "shm/config.h"
#include "shm/route.h"
#include "shm/snapshot.h"
#include "shm/status.h"

#define MSN_API_MAX_PARAMS 32
#define MSN_API_MAX_REQUEST_BODY (64 * 1024) /* the largest request body a POST/PUT route takes */

typedef struct {
    char *name;
    char *value; /* percent-decoded, NUL-terminated */
} msn_qparam_t;

/* What a worker's handlers keep from one request to the next (owned by worker.c, one per
 * worker, zeroed at start). */
typedef struct {
    int64_t io_at_ms; /* when /api/perf/io last sampled (0 = never) */
    uint64_t io[5];   /* read_bytes, write_bytes, cancelled_write_bytes, syscr, syscw then,
                         summed over meshsnap's processes */
} msn_api_state_t;

typedef struct {
    MDB_txn *txn;          /* NULL when no snapshot is available */
    const char *snap_refused; /* when txn is NULL: why the existing snapshot is not served, or NULL */
    const msn_snap_t *snap;
    msn_snap_meta_t meta;
    msn_status_t *st;
    const char *path;      /* without the query string, NUL-terminated */
    const char *req_body;  /* the request's body (POST, PUT), not NUL-terminated; NULL when none */
    size_t req_body_len;
    msn_qparam_t q[MSN_API_MAX_PARAMS];
    int nq;
    msn_buf_t *body;
    int status;
    int retry_after;       /* seconds, for 503 */
    int64_t now_ms;
    const char *allow;     /* for 405 */
    const char *content_type; /* NULL = application/json */
    int route;             /* the route's id (shm/route.h), -1 when none matched; set by msn_api_dispatch */
    const char *params[MSN_ROUTE_MAX_PARAMS]; /* path parameters in pattern order, NUL-terminated; valid
                                                 during the handler call only (msn_api_dispatch owns them) */
    const char *db_path;   /* the configured database (its size is reported, it is never opened) */
    const msn_config_t *cfg;  /* the worker's configuration (NULL in some unit tests) */
    msn_api_state_t *state;   /* the worker's state between requests (NULL in some unit tests) */
    int accept_gzip;       /* the client accepts gzip */
    /* A handler that answers with a stored document sets doc (pointers into the map, valid
       until the transaction ends: worker.c sends before ending it) instead of body. */
    int use_doc;
    msn_doc_t doc;
} msn_api_req_t;

/** The decoded value of query parameter `name`, or NULL when absent. */
const char *msn_api_param(const msn_api_req_t *r, const char *name);
/** The value of path parameter `name` (":name" in the route's pattern), or NULL. */
const char *msn_api_path_param(const msn_api_req_t *r, const char *name);
/** Sets an error response {"error": msg} with the given status. */
void msn_api_error(msn_api_req_t *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** Parses an integer parameter: 0 and *out set, 1 when absent/empty, -1 when malformed,
 *  -2 when a number outside the range of int64_t. */
int msn_api_int_param(const msn_api_req_t *r, const char *name, int64_t *out);

/** The largest offset a list endpoint takes (2^53 - 1, the largest integer every JSON
 *  client reads exactly); with it, offset + limit cannot overflow. */
#define MSN_API_MAX_OFFSET 9007199254740991LL

/** `limit` by CoreScope's clampLimit: empty, non-numeric or <= 0 gives def; above cap
 *  gives cap. Returns 0 with *out set, or -1 with err set (for a 400) when the value is
 *  a number outside the range of int64_t. */
int msn_api_limit(const msn_api_req_t *r, int64_t def, int64_t cap, int64_t *out, char *err, size_t errlen);
/** `offset`: empty, non-numeric or negative gives 0. Returns 0 with *out set, or -1 with
 *  err set (for a 400) when it is above MSN_API_MAX_OFFSET or outside int64_t. */
int msn_api_offset(const msn_api_req_t *r, int64_t *out, char *err, size_t errlen);

/* Handlers. */
void msn_api_stats(msn_api_req_t *r);
void msn_api_observers(msn_api_req_t *r);
void msn_api_packets(msn_api_req_t *r);
void msn_api_packet_detail(msn_api_req_t *r, const char *id);
void msn_api_nodes(msn_api_req_t *r);
void msn_api_node_detail(msn_api_req_t *r, const char *pubkey);
void msn_api_healthz(msn_api_req_t *r);
void msn_api_perf(msn_api_req_t *r);
void msn_api_perf_migrations(msn_api_req_t *r);
void msn_api_metrics(msn_api_req_t *r);
/** /api/analytics/<name>, /api/observers/clock-skew, /api/nodes/clock-skew: analytic `an`. */
void msn_api_analytic(msn_api_req_t *r, int an);
/* The web pages' configuration (api_config.c). */
void msn_api_config_cache(msn_api_req_t *r);
void msn_api_config_client(msn_api_req_t *r);
void msn_api_config_theme(msn_api_req_t *r);
void msn_api_config_regions(msn_api_req_t *r);
void msn_api_config_map(msn_api_req_t *r);
void msn_api_config_areas(msn_api_req_t *r);
void msn_api_config_geo_filter(msn_api_req_t *r);
/** A write endpoint (PUT /api/config/geo-filter, POST /api/admin/prune-geo-filter, POST
 *  /api/perf/reset): 403, as CoreScope answers them without an API key. */
void msn_api_write_refused(msn_api_req_t *r);
/* Process figures in CoreScope's shapes (api_health.c). */
void msn_api_health(msn_api_req_t *r);
void msn_api_perf_io(msn_api_req_t *r);
void msn_api_perf_sqlite(msn_api_req_t *r);
void msn_api_perf_write_sources(msn_api_req_t *r);
/** Request figures summed over every worker slot, for one endpoint (a route id or
 *  MSN_PERF_OTHER) or, with ep < 0, for all of them (api_perf.c). */
typedef struct {
    uint64_t count, sum_us, max_us;
    double p50_ms, p95_ms, p99_ms; /* from the latency histograms */
} msn_api_perf_summary_t;
void msn_api_perf_summary(const msn_status_t *st, int ep, msn_api_perf_summary_t *out);
/** GET /api/iata-coords (iata_coords.c). */
void msn_api_iata_coords(msn_api_req_t *r);
/* Observers, channels, packet tools and the analytics pages' remaining endpoints. */
void msn_api_observer_detail(msn_api_req_t *r, const char *id);
void msn_api_observer_analytics(msn_api_req_t *r, const char *id);
void msn_api_observer_metrics(msn_api_req_t *r, const char *id);
void msn_api_observers_metrics_summary(msn_api_req_t *r);
void msn_api_channels(msn_api_req_t *r);
void msn_api_channel_messages(msn_api_req_t *r, const char *hash);
void msn_api_known_channels(msn_api_req_t *r);
void msn_api_packet_timestamps(msn_api_req_t *r);
void msn_api_packet_observations(msn_api_req_t *r);
void msn_api_decode(msn_api_req_t *r);
void msn_api_traces(msn_api_req_t *r, const char *hash);
void msn_api_subpaths_bulk(msn_api_req_t *r);
void msn_api_subpath_detail(msn_api_req_t *r);
void msn_api_scope_stats(msn_api_req_t *r);
/** Analytic `an` in the shape the query gives for the fields it takes (anshape.h
 *  msn_anshape_params; the others are not read), with parameter param (NULL = none): the
 *  published document, else a 503 that asks the master for it. */
void msn_api_analytic_with(msn_api_req_t *r, int an, const char *param);

/** GET /api/mqtt/status, from the status block's ingest section (api_mqtt.c). */
void msn_api_mqtt_status(msn_api_req_t *r);
/** Appends /api/healthz's "ingestor" object. */
void msn_api_ingest_health_json(const msn_api_req_t *r, msn_buf_t *b);
/** Appends the ingestor's /metrics lines. */
void msn_api_ingest_metrics(const msn_api_req_t *r, msn_buf_t *b);
/** Answers with the stored document `name` (503 + Retry-After when it is missing). */
void msn_api_send_doc(msn_api_req_t *r, const char *name);
/* Per-node endpoints and hop resolution (api_nodedocs.c, api_graph.c, api_hops.c): answered
 * from the node documents of shm/entdoc.h. pubkey is the percent-decoded path parameter. */
void msn_api_node_search(msn_api_req_t *r);
void msn_api_nodes_bulk_health(msn_api_req_t *r);
void msn_api_node_health(msn_api_req_t *r, const char *pubkey);
void msn_api_node_paths(msn_api_req_t *r, const char *pubkey);
void msn_api_node_neighbors(msn_api_req_t *r, const char *pubkey);
void msn_api_node_clock_skew(msn_api_req_t *r, const char *pubkey);
void msn_api_node_analytics(msn_api_req_t *r, const char *pubkey);
void msn_api_node_battery(msn_api_req_t *r, const char *pubkey);
void msn_api_node_reach(msn_api_req_t *r, const char *pubkey);
void msn_api_neighbor_graph(msn_api_req_t *r);
void msn_api_resolve_hops(msn_api_req_t *r);
/** POST /api/paths/inspect: body {"prefixes": [...], "limit": n} (at most 4 KiB). */
void msn_api_paths_inspect(msn_api_req_t *r);

/** Appends the async_migrations array (API spec §4.3) from the status block; returns 1
 *  when a migration is running. */
int msn_api_migrations_json(msn_buf_t *b, const msn_backfill_status_t *bf, int64_t now_ms);

/** Appends the observation objects of transmission id as a JSON array, as
 *  /api/packets/:id lists them; returns their count ("[]" and 0 when it is not in the
 *  snapshot). */
int64_t msn_api_obs_array(msn_api_req_t *r, msn_buf_t *b, uint64_t id);
/** The live feed's figures (api_ws.c): the "websocket" member of /api/perf (appended with
 *  its leading comma) and the meshsnap_ws_* / meshsnap_feed_* lines of /metrics. */
void msn_api_ws_perf(msn_buf_t *b, const msn_status_t *st, const msn_master_status_t *ms);
void msn_api_ws_metrics(msn_buf_t *b, const msn_status_t *st, const msn_master_status_t *ms);

/** Appends transmission id's packet object with its "observations" array. Returns 0, or
 *  -1 when it is not in the snapshot (nothing appended). */
int msn_api_tx_with_observations(msn_api_req_t *r, msn_buf_t *b, uint64_t id);

#endif
