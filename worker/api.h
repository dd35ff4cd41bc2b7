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
#include "shm/route.h"
#include "shm/snapshot.h"
#include "shm/status.h"

#define MSN_API_MAX_PARAMS 32
#define MSN_API_MAX_REQUEST_BODY (64 * 1024) /* the largest request body a POST/PUT route takes */

typedef struct {
    char *name;
    char *value; /* percent-decoded, NUL-terminated */
} msn_qparam_t;

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
/** GET /api/mqtt/status, from the status block's ingest section (api_mqtt.c). */
void msn_api_mqtt_status(msn_api_req_t *r);
/** Appends /api/healthz's "ingestor" object. */
void msn_api_ingest_health_json(const msn_api_req_t *r, msn_buf_t *b);
/** Appends the ingestor's /metrics lines. */
void msn_api_ingest_metrics(const msn_api_req_t *r, msn_buf_t *b);
/** Answers with the stored document `name` (503 + Retry-After when it is missing). */
void msn_api_send_doc(msn_api_req_t *r, const char *name);
/** Appends the async_migrations array (API spec §4.3) from the status block; returns 1
 *  when a migration is running. */
int msn_api_migrations_json(msn_buf_t *b, const msn_backfill_status_t *bf, int64_t now_ms);

/** Appends transmission id's packet object with its "observations" array. Returns 0, or
 *  -1 when it is not in the snapshot (nothing appended). */
int msn_api_tx_with_observations(msn_api_req_t *r, msn_buf_t *b, uint64_t id);

#endif
