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

#include "shm/anshape.h"
#include "shm/buf.h"
#include "shm/config.h"
#include "shm/route.h"
#include "shm/snapshot.h"
#include "shm/status.h"

#define MSN_API_MAX_REQUEST_BODY (64 * 1024) /* the largest request body a POST/PUT route takes */
#define MSN_API_DOC_NAME_MAX (MSN_ANSHAPE_KEY_MAX + 48)
#define MSN_API_BUSY_MESSAGE "server busy: its response buffers are full; retry shortly"

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
    msn_qparam_t *q;       /* the query parameters (worker/query.h), nq of them; owned by the caller */
    int nq;
    const char *query_error; /* why the query string is refused (a 400 on any route), or NULL */
    int busy;              /* the worker's response buffers are full: 503 on any route (respond.h) */
    int admin;             /* asked on the admin listener: healthz and perf show everything */
    const msn_config_t *cfg; /* the configuration (analytics intervals); NULL = the defaults */
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
    char doc_name[MSN_API_DOC_NAME_MAX]; /* the stored document's name (when use_doc) */
} msn_api_req_t;

/** The decoded value of query parameter `name`, or NULL when absent. */
const char *msn_api_param(const msn_api_req_t *r, const char *name);
/** The value of path parameter `name` (":name" in the route's pattern), or NULL. */
const char *msn_api_path_param(const msn_api_req_t *r, const char *name);
/** Sets an error response {"error": msg} with the given status. */
void msn_api_error(msn_api_req_t *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** Parses an integer parameter: 0 and *out set, 1 when absent/empty, -1 when not a number
 *  at all (it does not start with an optional '-' and a digit), -2 when a number outside
 *  the range of int64_t, -3 when a number followed by other characters ("10abc", "1 ").
 *  Only [-]digits is a number: no blanks, no '+', no other base. */
int msn_api_int_param(const msn_api_req_t *r, const char *name, int64_t *out);

/** The largest offset a list endpoint takes (2^53 - 1, the largest integer every JSON
 *  client reads exactly); with it, offset + limit cannot overflow. */
#define MSN_API_MAX_OFFSET 9007199254740991LL

/** `limit` by CoreScope's clampLimit: empty, non-numeric or <= 0 gives def; above cap
 *  gives cap. Returns 0 with *out set, or -1 with err set (for a 400) when the value is
 *  a number outside the range of int64_t or a number with trailing characters. */
int msn_api_limit(const msn_api_req_t *r, int64_t def, int64_t cap, int64_t *out, char *err, size_t errlen);
/** `offset`: empty, non-numeric or negative gives 0. Returns 0 with *out set, or -1 with
 *  err set (for a 400) when it is above MSN_API_MAX_OFFSET or outside int64_t, or a number
 *  with trailing characters. */
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
/** Answers with the stored document `name` (503 + Retry-After when it is missing). */
void msn_api_send_doc(msn_api_req_t *r, const char *name);
/** Appends the async_migrations array (API spec §4.3) from the status block; returns 1
 *  when a migration is running. Error messages as msn_api_json_text shows them to r. */
int msn_api_migrations_json(const msn_api_req_t *r, msn_buf_t *b, const msn_backfill_status_t *bf, int64_t now_ms);
/** Appends text (an error message, a status line) as a JSON string: as is for a request on
 *  the admin listener (r->admin); otherwise with every word that is a file system path
 *  (starting with '/', "./", "../" or "~/", after an opening quote or bracket) replaced by
 *  "[path]", so that the public API does not show where the server keeps its files. */
void msn_api_json_text(const msn_api_req_t *r, msn_buf_t *b, const char *text, size_t len);

/** Appends the resource bounds' figures (api_bounds.c) over all workers: a JSON object
 *  for /api/perf's "bounds", or Prometheus series for /metrics. */
void msn_api_bounds_json(const msn_api_req_t *r, msn_buf_t *b, const msn_master_status_t *ms);
void msn_api_bounds_metrics(const msn_api_req_t *r, msn_buf_t *b, const msn_master_status_t *ms);

/** Appends transmission id's packet object with its "observations" array. Returns 0, or
 *  -1 when it is not in the snapshot (nothing appended). */
int msn_api_tx_with_observations(msn_api_req_t *r, msn_buf_t *b, uint64_t id);

#endif
