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
 *               document being copied, MSN_RESPOND_HELD_PIECE of an assembled body or of a
 *               document sent from the map); the next piece when the previous one is
 *               written. Each piece written is "progress":
 *               a response with none for [http] write_timeout_ms gets its connection
 *               closed (conns.h, stalled).
 *   assembled   A body the handler built (r->body) is held whole until written: up to
 *               MSN_RESPOND_PIECE bytes as a copy in the request's memory, a larger one
 *               by taking the handler's buffer (no copy). It costs its length.
 *   held        A stored document (r->use_doc: analytics, stats, ...) larger than one
 *               piece is sent straight from the map: the request's read transaction is
 *               held (snapview.h, msn_snapview_hold) and libh2o is handed pointers into
 *               the mapped pages, so nothing is copied and it costs no buffered bytes. The
 *               client receives the one document that transaction saw, whatever the master
 *               republishes meanwhile. A held transaction is not free: it takes a slot of
 *               the reader table (MSN_SNAP_MAXREADERS, shared by every process), keeps its
 *               environment open after the master switched to a new one, and pins the
 *               pages it sees, which the master cannot reuse (the data file grows while
 *               it republishes). So holds are bounded:
 *                 - at most [http] doc_holds per worker at once (and never more than
 *                   MSN_SNAP_MAXREADERS / 2 / workers, so that all the workers' holds take
 *                   at most half the table); a response that finds none free (or for
 *                   which no spare transaction can be begun) is copied (below);
 *                 - at most [http] doc_hold_ms per response: when a piece has been written
 *                   after that time, the transaction is released at once and the rest of
 *                   the body is copied (below). The time is checked only between pieces
 *                   (libh2o may read a piece it was handed until it has written it), so a
 *                   hold lasts at most doc_hold_ms plus one piece's writing time, which
 *                   write_timeout_ms bounds (a stalled connection is closed).
 *               The transaction is released when the response's memory is released: the
 *               body written, or the connection closed mid-send (libh2o stops the
 *               generator and releases the request), or the worker's view closed at exit.
 *   stored      Otherwise such a document is streamed by copying: each piece is read
 *               from the map in a new read transaction and copied, so it costs one piece
 *               whatever its size, and no read transaction spans a write. When the
 *               document changed between two pieces (the master republished it), the
 *               response is aborted (HTTP/1: the connection closes short of
 *               Content-Length). A held response that falls back continues this way from
 *               where its hold ended (the same ETag check), and costs a piece from then.
 *   HEAD, 304   no body: cost nothing.
 *
 * The worker's gauge buffered_bytes (and its high-water mark buffered_peak) in the status
 * block shows the bytes held; doc_holds_held the transactions held now, doc_holds_started
 * the responses sent from the map, doc_hold_fallbacks the large stored documents copied
 * (no hold free, or the hold expired); /metrics and /api/perf's bounds export them.
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
    int64_t hold_ms;         /* [http] doc_hold_ms */
    int max_holds;           /* [http] doc_holds, within the reader table's share */
} msn_responder_t;

/** What a response's body is. */
typedef struct {
    const char *data;     /* the bytes (for a stored document: a pointer into the map, read
                             in the view's transaction, which must still be active) */
    size_t len;
    msn_buf_t *owner;     /* data is this buffer's: a large body is taken from it (the buffer is
                             left empty), a small one copied; NULL: copied */
    const char *doc_name; /* data is stored document doc_name: streamed when large */
    const char *doc_etag; /* that document's ETag as stored (msn_doc_t.etag): a piece is read
                             only from the same document */
    int doc_gz;           /* data is the document's gzip copy */
    int head;             /* a HEAD request or a 304: no body is sent */
} msn_body_t;

/** Sets the budgets from cfg ([http] conn_buffer_kb, worker_buffer_mb) and the holds'
 *  bounds ([http] doc_hold_ms, doc_holds; workers). */
void msn_responder_init(msn_responder_t *rs, msn_conns_t *conns, msn_snapview_t *view, const msn_config_t *cfg,
                        msn_worker_status_t *ws);

/** The bytes body b would hold if sent now (see the top comment: 0 when it would be sent
 *  from the map; rs may be NULL: as if no hold were free). */
size_t msn_respond_cost(const msn_responder_t *rs, const msn_body_t *b);

/** 1 when b fits the budgets of connection k (may be NULL) and of the worker, else 0. */
int msn_respond_admit(const msn_responder_t *rs, const msn_conn_t *k, const msn_body_t *b);

/** 1 when the budget of connection k (may be NULL) or of the worker is used up already:
 *  no response could be admitted, so the request need not even be answered (503). */
int msn_respond_full(const msn_responder_t *rs, const msn_conn_t *k);

/** Sends b as req's response: the status and headers (content_length included) are set
 *  by the caller; the body follows the rules above. k is req's connection (may be NULL).
 *  For a stored document the view's read transaction (rs->view) must still be active:
 *  it is held for the send (msn_snapview_hold: the view then has a fresh one, not
 *  active), or the first piece is copied from it; the caller may end it when this
 *  returns (msn_snapview_end). */
void msn_respond_send(msn_responder_t *rs, h2o_req_t *req, msn_conn_t *k, msn_body_t *b);

#endif
