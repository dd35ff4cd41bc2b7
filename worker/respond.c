/* respond.c: see respond.h. */
#include "respond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/log.h"

#define DOC_NAME_MAX 200
#define DOC_ETAG_MAX 32

/* One response being written; lives in its request's memory (released with it). */
typedef struct {
    h2o_generator_t gen; /* first: libh2o hands it back to proceed */
    msn_responder_t *rs;
    msn_conn_t *conn; /* NULL when the connection is not tracked */
    size_t cost;
    const char *data; /* the body (a copy in the request's memory, or owned) */
    char *owned;      /* a body taken from the handler's buffer */
    size_t len, off;
    int doc;          /* streamed from the snapshot by copying */
    int gz;
    char *piece;      /* doc: the piece being written */
    msn_snaphold_t *hold; /* sent from the map (data points into it) while this is held */
    int64_t hold_until;   /* then the rest is copied (doc) */
    char name[DOC_NAME_MAX];
    char etag[DOC_ETAG_MAX];
} resp_t;

void msn_responder_init(msn_responder_t *rs, msn_conns_t *conns, msn_snapview_t *view, const msn_config_t *cfg,
                        msn_worker_status_t *ws)
{
    memset(rs, 0, sizeof(*rs));
    rs->conns = conns;
    rs->view = view;
    rs->conn_limit = (size_t)cfg->http.conn_buffer_kb * 1024;
    rs->worker_limit = (size_t)cfg->http.worker_buffer_mb * 1024 * 1024;
    rs->ws = ws;
    rs->hold_ms = cfg->http.doc_hold_ms;
    /* the holds of all workers together take at most half the reader table */
    int fair = MSN_SNAP_MAXREADERS / 2 / msn_config_worker_count(cfg);
    rs->max_holds = cfg->http.doc_holds < fair ? cfg->http.doc_holds : fair;
    if (ws != NULL)
        atomic_store_explicit(&ws->doc_holds_held, 0, memory_order_relaxed); /* a respawned slot starts afresh */
}

static void count(msn_responder_t *rs, int started, int fallback)
{
    if (rs->ws == NULL)
        return;
    if (started)
        atomic_fetch_add_explicit(&rs->ws->doc_holds_started, 1, memory_order_relaxed);
    if (fallback)
        atomic_fetch_add_explicit(&rs->ws->doc_hold_fallbacks, 1, memory_order_relaxed);
    atomic_store_explicit(&rs->ws->doc_holds_held, (uint64_t)rs->view->n_holds, memory_order_relaxed);
}

static int streamable(const msn_body_t *b)
{
    return b->doc_name != NULL && b->doc_etag != NULL && strlen(b->doc_name) < DOC_NAME_MAX &&
           strlen(b->doc_etag) < DOC_ETAG_MAX;
}

/* 1 when b may be sent from the map: a stored document larger than a piece, read in the
   view's transaction, and a hold is free. */
static int can_hold(const msn_responder_t *rs, const msn_body_t *b)
{
    return rs != NULL && !b->head && b->len > MSN_RESPOND_PIECE && streamable(b) &&
           rs->view != NULL && rs->view->txn_active && rs->view->n_holds < rs->max_holds;
}

size_t msn_respond_cost(const msn_responder_t *rs, const msn_body_t *b)
{
    if (b->head || b->len == 0 || can_hold(rs, b))
        return 0;
    if (b->len > MSN_RESPOND_PIECE && streamable(b))
        return MSN_RESPOND_PIECE;
    return b->len;
}

int msn_respond_admit(const msn_responder_t *rs, const msn_conn_t *k, const msn_body_t *b)
{
    size_t cost = msn_respond_cost(rs, b);
    if (cost == 0)
        return 1;
    if (k != NULL && k->buffered > 0 && k->buffered + cost > rs->conn_limit)
        return 0;
    if (rs->conns->buffered > 0 && rs->conns->buffered + cost > rs->worker_limit)
        return 0;
    return 1;
}

int msn_respond_full(const msn_responder_t *rs, const msn_conn_t *k)
{
    return (k != NULL && k->buffered >= rs->conn_limit) || rs->conns->buffered >= rs->worker_limit;
}

static void account(msn_responder_t *rs, msn_conn_t *k, size_t add, size_t sub)
{
    if (k != NULL)
        k->buffered = k->buffered + add - sub;
    rs->conns->buffered = rs->conns->buffered + add - sub;
    if (rs->ws) {
        uint64_t now = rs->conns->buffered;
        atomic_store_explicit(&rs->ws->buffered_bytes, now, memory_order_relaxed);
        if (now > atomic_load_explicit(&rs->ws->buffered_peak, memory_order_relaxed))
            atomic_store_explicit(&rs->ws->buffered_peak, now, memory_order_relaxed);
    }
}

/* Ends rp's hold (the bytes handed to libh2o from it have been written, or never will be). */
static void unhold(resp_t *rp)
{
    msn_snapview_release(rp->rs->view, rp->hold);
    rp->hold = NULL;
    count(rp->rs, 0, 0);
}

static void on_dispose(void *p)
{
    resp_t *rp = p;
    if (rp->hold != NULL)
        unhold(rp);
    account(rp->rs, rp->conn, 0, rp->cost);
    if (rp->conn != NULL) {
        rp->conn->progress_ms = msn_now_ms(); /* finished (or abandoned): the others start afresh */
        rp->conn->sending--;
        msn_conn_unref(rp->conn);
    }
    free(rp->owned);
    free(rp->piece);
}

/* Reads the piece [off, off + n) of the stored document again. Returns 0, or -1 when the
 * snapshot or the document is gone or is no longer the same document. */
static int read_piece(resp_t *rp, size_t n)
{
    msn_snapview_t *v = rp->rs->view;
    int began = 0;
    if (!v->txn_active) {
        if (msn_snapview_begin(v) != 0)
            return -1;
        began = 1;
    }
    msn_doc_t d;
    int rc = -1;
    if (msn_snap_doc_get_full(v->txn, &v->snap, rp->name, &d) == 0 && strcmp(d.etag, rp->etag) == 0) {
        const char *src = rp->gz ? d.gz : d.body;
        size_t len = rp->gz ? d.gz_len : d.len;
        if (src != NULL && len == rp->len && rp->off + n <= len) {
            memcpy(rp->piece, src + rp->off, n);
            rc = 0;
        }
    }
    if (began)
        msn_snapview_end(v);
    return rc;
}

/* The hold of rp expired with the send unfinished: the rest is copied, piece by piece. */
static void fall_back(resp_t *rp)
{
    unhold(rp);
    count(rp->rs, 0, 1);
    rp->doc = 1;
    rp->data = NULL;
    rp->piece = msn_xmalloc(MSN_RESPOND_PIECE);
    account(rp->rs, rp->conn, MSN_RESPOND_PIECE, 0);
    rp->cost += MSN_RESPOND_PIECE;
}

/* Hands the next piece to libh2o (the last one with FINAL). */
static void send_piece(resp_t *rp, h2o_req_t *req)
{
    if (rp->hold != NULL && msn_now_ms() >= rp->hold_until)
        fall_back(rp);
    size_t n = rp->len - rp->off;
    size_t most = rp->doc ? MSN_RESPOND_PIECE : MSN_RESPOND_HELD_PIECE;
    if (n > most)
        n = most;
    h2o_iovec_t iov;
    if (rp->doc) {
        if (read_piece(rp, n) < 0) {
            msn_debug("%s changed while it was being sent; the response is cut short", rp->name);
            h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
            return;
        }
        iov = h2o_iovec_init(rp->piece, n);
    } else {
        iov = h2o_iovec_init(rp->data + rp->off, n);
    }
    rp->off += n;
    h2o_send(req, &iov, 1, rp->off == rp->len ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    resp_t *rp = (resp_t *)gen;
    if (rp->conn != NULL)
        rp->conn->progress_ms = msn_now_ms();
    send_piece(rp, req);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)gen;
    (void)req; /* the request's memory goes next: on_dispose releases everything */
}

/* Which stored document rp sends (streamable(b)): what reading the rest of it, after a
   hold or piece by piece, finds it again by. */
static void doc_identity(resp_t *rp, const msn_body_t *b)
{
    rp->gz = b->doc_gz;
    snprintf(rp->name, sizeof(rp->name), "%s", b->doc_name);
    snprintf(rp->etag, sizeof(rp->etag), "%s", b->doc_etag);
}

void msn_respond_send(msn_responder_t *rs, h2o_req_t *req, msn_conn_t *k, msn_body_t *b)
{
    static h2o_generator_t none = {NULL, NULL};
    if (b->head || b->len == 0) {
        h2o_start_response(req, &none);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    resp_t *rp = h2o_mem_alloc_shared(&req->pool, sizeof(*rp), on_dispose);
    memset(rp, 0, sizeof(*rp));
    rp->gen.proceed = on_proceed;
    rp->gen.stop = on_stop;
    rp->rs = rs;
    rp->conn = k;
    rp->len = b->len;
    rp->cost = msn_respond_cost(rs, b);
    int holding = can_hold(rs, b);
    if (holding && (rp->hold = msn_snapview_hold(rs->view)) != NULL) {
        rp->data = b->data; /* in the map, valid while held */
        rp->hold_until = msn_now_ms() + rs->hold_ms;
        doc_identity(rp, b);
        count(rs, 1, 0);
    } else if (b->len <= MSN_RESPOND_PIECE) {
        char *copy = h2o_mem_alloc_pool(&req->pool, b->len);
        memcpy(copy, b->data, b->len);
        rp->data = copy;
    } else if (streamable(b)) {
        count(rs, 0, 1);               /* no hold free (or no transaction to spare): copied */
        rp->cost = MSN_RESPOND_PIECE;
        rp->doc = 1;
        doc_identity(rp, b);
        rp->piece = msn_xmalloc(MSN_RESPOND_PIECE);
        memcpy(rp->piece, b->data, MSN_RESPOND_PIECE); /* the first piece: from the caller's transaction */
    } else if (b->owner != NULL && b->owner->data == b->data) {
        rp->owned = b->owner->data; /* taken: the handler's buffer starts afresh */
        b->owner->data = NULL;
        b->owner->len = b->owner->cap = 0;
        rp->data = rp->owned;
    } else {
        rp->owned = msn_xmalloc(b->len);
        memcpy(rp->owned, b->data, b->len);
        rp->data = rp->owned;
    }
    account(rs, k, rp->cost, 0);
    if (k != NULL) {
        msn_conn_ref(k);
        k->sending++;
        k->progress_ms = msn_now_ms();
    }
    h2o_start_response(req, &rp->gen);
    if (rp->doc) {
        h2o_iovec_t iov = h2o_iovec_init(rp->piece, MSN_RESPOND_PIECE);
        rp->off = MSN_RESPOND_PIECE;
        h2o_send(req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
    } else {
        send_piece(rp, req);
    }
}
