/*
 * respond.h: sending a response body with bounded buffering.
 *
 * Every response body a worker hands to libh2o stays in the worker's memory until the
 * client has read it (libh2o keeps pointers to it and writes as the socket and, for HTTP/2,
 * the stream's flow-control window allow). A client that does not read would make the
 * worker hold bodies without end; these rules bound what it holds, in bytes:
 *
 *   budget      The bytes held for responses not yet fully written are counted per
 *               connection and per worker. A response is admitted when it fits both
 *               budgets ([http] conn_buffer_kb, [http] worker_buffer_mb), or when nothing
 *               at all is held for the connection (resp. the worker): one response larger
 *               than a budget is still sent, alone. A response that does not fit is
 *               replaced by 503 with Retry-After (worker.c), counted as busy_refusals;
 *               when a budget is used up already, requests are answered 503 before
 *               their body is built (msn_respond_full). Requests on the admin listener
 *               are never refused (their answers are small, and counted). So the worker
 *               holds at most max(worker budget, its largest response), plus what the
 *               admin listener's answers hold.
 *   pieces      A body is handed to libh2o in pieces (MSN_RESPOND_PIECE bytes of a stored
 *               document, MSN_RESPOND_HELD_PIECE of an assembled body); the next piece
 *               when the previous one is written. Each piece written is "progress":
 *               a response with none for [http] write_timeout_ms gets its connection
 *               closed (conns.h, stalled).
 *   assembled   A body the handler built (r->body) is held whole until written: up to
 *               MSN_RESPOND_PIECE bytes as a copy in the request's memory, a larger one
 *               by taking the handler's buffer (no copy). It costs its length.
 *   stored      A stored document (r->use_doc: analytics, stats, ...) larger than one
 *               piece is streamed from the snapshot: each piece is read from the map in
 *               a new read transaction and copied, so it costs one piece whatever its
 *               size, and no read transaction spans a write. When the document changed
 *               between two pieces (the master republished it), the response is aborted
 *               (HTTP/1: the connection closes short of Content-Length).
 *   HEAD, 304   no body: cost nothing.
 *
 * The worker's gauge buffered_bytes (and its high-water mark buffered_peak) in the status
 * block shows the bytes held; /metrics exports them.
 *
 * Worker process only, on the event loop's thread.
 */
#ifndef MSN_RESPOND_H
#define MSN_RESPOND_H

#include <stddef.h>

#include "conns.h"
#include "shm/buf.h"
#include "snapview.h"

#define MSN_RESPOND_PIECE (32 * 1024)
/* the piece of an assembled body (held whole anyway: larger pieces cost no memory and
   fewer turns of the event loop; a client must take one per write_timeout_ms) */
#define MSN_RESPOND_HELD_PIECE (256 * 1024)

typedef struct {
    msn_conns_t *conns;   /* the per-worker count (buffered) lives there */
    msn_snapview_t *view; /* where stored documents are read again */
    size_t conn_limit, worker_limit;
    msn_worker_status_t *ws; /* may be NULL */
} msn_responder_t;

/** What a response's body is. */
typedef struct {
    const char *data;     /* the bytes (for a stored document: a pointer into the map, valid
                             while the caller's read transaction is) */
    size_t len;
    msn_buf_t *owner;     /* data is this buffer's: a large body is taken from it (the buffer is
                             left empty), a small one copied; NULL: copied */
    const char *doc_name; /* data is stored document doc_name: streamed when large */
    const char *doc_etag; /* that document's ETag as stored (msn_doc_t.etag): a piece is read
                             only from the same document */
    int doc_gz;           /* data is the document's gzip copy */
    int head;             /* a HEAD request or a 304: no body is sent */
} msn_body_t;

/** Sets the budgets from cfg ([http] conn_buffer_kb, worker_buffer_mb). */
void msn_responder_init(msn_responder_t *rs, msn_conns_t *conns, msn_snapview_t *view, const msn_config_t *cfg,
                        msn_worker_status_t *ws);

/** The bytes body b would hold (see the top comment). */
size_t msn_respond_cost(const msn_body_t *b);

/** 1 when b fits the budgets of connection k (may be NULL) and of the worker, else 0. */
int msn_respond_admit(const msn_responder_t *rs, const msn_conn_t *k, const msn_body_t *b);

/** 1 when the budget of connection k (may be NULL) or of the worker is used up already:
 *  no response could be admitted, so the request need not even be answered (503). */
int msn_respond_full(const msn_responder_t *rs, const msn_conn_t *k);

/** Sends b as req's response: the status and headers (content_length included) are set
 *  by the caller; the body follows the rules above. k is req's connection (may be NULL).
 *  For a stored document the caller's read transaction must still be active (the first
 *  piece is copied from it); the caller may end it when this returns. */
void msn_respond_send(msn_responder_t *rs, h2o_req_t *req, msn_conn_t *k, msn_body_t *b);

#endif
