/*
 * worker.c: the HTTP worker process (libh2o 2.2.5, evloop).
 *
 * After exec the worker maps the status block, builds its h2o context on its own event
 * loop, and accepts on the listening sockets it inherited from the master (one shared
 * accept queue per address; conns.c paces accepting and bounds the connections). Each
 * request: parse the query (query.c), open the snapshot's read transaction, let
 * dispatch.c route it to its handler (the route table: shm/route.h), add the status and
 * cache headers, send within the buffering budgets (respond.c), reset the transaction.
 * SIGTERM (through a signalfd on the loop) stops accepting, lets in-flight requests
 * finish and exits.
 *
 * Every other path (but /metrics) is a static file (static.c): [http] web_root, else
 * meshsnap's dashboard in [http] ui_root when that directory has an index.html (and
 * [http] ui is on), else a plain-text page at / and 404 elsewhere.
 *
 * Response headers on every /api/ response:
 *   X-CoreScope-Load-Status      ready | loading; progress=N
 *   X-CoreScope-Status           ready | backfilling
 *   X-CoreScope-Backfill-Remaining  rows left over the running migrations
 *   X-Meshsnap-Generation        the snapshot generation that answered
 *   X-Meshsnap-Snapshot-Age      seconds since that generation was published
 *   X-Meshsnap-Snapshot-Stale    1 while serving a snapshot of an earlier master run
 *   X-Meshsnap-Document-Generation  on an answer that is a stored document: the generation
 *                                that wrote it (entity documents are rewritten only when
 *                                their content changes)
 */
#include "worker.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <limits.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define H2O_USE_EPOLL 1
#include <h2o.h>

#include "anscache.h"
#include "api.h"
#include "conns.h"
#include "dispatch.h"
#include "query.h"
#include "respond.h"
#include "shm/etag.h"
#include "shm/log.h"
#include "shm/proc.h"
#include "shm/sched.h"
#include "shm/status.h"
#include "snapview.h"
#include "static.h"
#include "ws.h"

/* The body buffer keeps its memory between requests up to this size. */
#define BODY_KEEP_BYTES (1024 * 1024)
/* the free heap a worker keeps for its next requests (M_TRIM_THRESHOLD) */
#define MSN_WORKER_HEAP_SLACK (4 * 1024 * 1024)

typedef struct {
    h2o_handler_t super;
    struct worker *w;
} handler_t;

typedef struct worker {
    const msn_config_t *cfg;
    int slot;
    msn_status_t *st;
    msn_snapview_t view;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t actx;
    msn_conns_t conns;    /* the connections and their bounds */
    msn_responder_t resp; /* the response budgets */
    h2o_socket_t *sigsock;
    int stopping;
    int64_t stop_at_ms;
    int64_t last_request_ms;
    int access_fd;  /* the access log, -1 when off */
    msn_buf_t body;
    msn_static_t *files; /* web_root or the dashboard; NULL: the plain-text page */
    msn_api_state_t api; /* what handlers keep between requests */
    msn_ws_hub_t *ws; /* the live feed's WebSocket clients */
    msn_anscache_t answers; /* assembled answers reused within a generation (anscache.h) */
} worker_t;

/* Opens (or reopens, after logrotate) the access log. */
static void open_access_log(worker_t *w)
{
    if (w->cfg->http.access_log == NULL)
        return;
    int fd = open(w->cfg->http.access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        msn_error("cannot open the access log %s: %s", w->cfg->http.access_log, strerror(errno));
        return;
    }
    if (w->access_fd >= 0)
        close(w->access_fd);
    w->access_fd = fd;
}

/* One Common Log Format line, written with a single write(2) (O_APPEND keeps lines whole
 * between workers). */
static void access_log(worker_t *w, h2o_req_t *req, int status, size_t bytes)
{
    if (w->access_fd < 0)
        return;
    char host[INET6_ADDRSTRLEN] = "-";
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl > 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
    }
    time_t now = time(NULL);
    struct tm tm;
    char ts[40];
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    char line[2300];
    int n = snprintf(line, sizeof(line), "%s - - [%s] \"%.*s %.*s HTTP/%d.%d\" %d %zu\n", host, ts,
                     (int)(req->method.len < 16 ? req->method.len : 16), req->method.base,
                     (int)(req->path.len < 2000 ? req->path.len : 2000), req->path.base, req->version >> 8,
                     req->version & 0xff, status, bytes);
    if (n > 0) {
        /* the request line is client input: keep the log one line per request */
        for (int i = 0; i < n - 1 && i < (int)sizeof(line) - 1; i++)
            if ((unsigned char)line[i] < 0x20)
                line[i] = '?';
        ssize_t wr = write(w->access_fd, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
        (void)wr;
    }
}

static void header(h2o_req_t *req, const char *name, const char *value)
{
    /* h2o keeps pointers to name and value: both must outlive the response */
    h2o_iovec_t v = h2o_strdup(&req->pool, value, strlen(value));
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, v.base, v.len);
}

/* Splits and decodes the query string into r->q (in the request's memory); a refused
 * query string sets r->query_error, which dispatch answers with 400. */
static void parse_query(worker_t *w, h2o_req_t *req, msn_api_req_t *r)
{
    if (req->query_at == SIZE_MAX)
        return;
    size_t len = req->path.len - req->query_at - 1;
    char *buf = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(buf, req->path.base + req->query_at + 1, len);
    int max = w->cfg->http.max_query_params;
    r->q = h2o_mem_alloc_pool(&req->pool, sizeof(msn_qparam_t) * (size_t)max);
    char err[200];
    if (msn_query_parse(buf, len, r->q, max, &r->nq, err, sizeof(err)) < 0) {
        h2o_iovec_t e = h2o_strdup(&req->pool, err, SIZE_MAX);
        r->query_error = e.base;
    }
}

static void status_headers(worker_t *w, h2o_req_t *req, const msn_api_req_t *r)
{
    char v[96];
    msn_master_status_t ms;
    msn_backfill_status_t bf;
    msn_status_read_master(w->st, &ms);
    msn_status_read_backfill(w->st, &bf);
    if (ms.phase == MSN_PHASE_READY || ms.phase == MSN_PHASE_STOPPING)
        header(req, "x-corescope-load-status", "ready");
    else {
        snprintf(v, sizeof(v), "loading; progress=%lld", (long long)ms.load_progress_tx);
        header(req, "x-corescope-load-status", v);
    }
    int running = 0;
    for (int i = 0; i < bf.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++)
        running |= bf.mig[i].status == MSN_MIG_RUNNING;
    header(req, "x-corescope-status", running ? "backfilling" : "ready");
    snprintf(v, sizeof(v), "%lld", (long long)(running ? bf.remaining : 0));
    header(req, "x-corescope-backfill-remaining", v);
    if (r->txn) {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)r->meta.gen);
        header(req, "x-meshsnap-generation", v);
        int64_t age = (r->now_ms - r->meta.published_at_ms) / 1000;
        snprintf(v, sizeof(v), "%lld", (long long)(age < 0 ? 0 : age));
        header(req, "x-meshsnap-snapshot-age", v);
        header(req, "x-meshsnap-snapshot-stale", r->meta.master_start_ms != ms.started_at_ms ? "1" : "0");
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 403: return "Forbidden";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return status >= 400 ? "Error" : "OK";
    }
}

/* A path outside /api/ and /metrics: a static file (static.h), or without a web root the
 * plain-text page at / (404 elsewhere). */
static int serve_static(worker_t *w, h2o_req_t *req, const char *method)
{
    static const char page[] = "meshsnap: MeshCore packet analytics. The API is under /api/ (try /api/stats).\n";
    msn_static_resp_t rs;
    if (w->files == NULL) {
        size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
        int root = plen == 0 || (plen == 1 && req->path.base[0] == '/');
        memset(&rs, 0, sizeof(rs));
        rs.status = root ? 200 : 404;
        rs.content_type = "text/plain; charset=utf-8";
        rs.body = page;
        rs.len = sizeof(page) - 1;
        rs.head = strcmp(method, "HEAD") == 0;
    } else {
        msn_static_req_t rq = {.method = method, .path = req->path.base};
        rq.path_len = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
        if (i != -1) {
            rq.if_none_match = req->headers.entries[i].value.base;
            rq.if_none_match_len = req->headers.entries[i].value.len;
        }
        i = h2o_find_header(&req->headers, H2O_TOKEN_IF_MODIFIED_SINCE, -1);
        if (i != -1) {
            rq.if_modified_since = req->headers.entries[i].value.base;
            rq.if_modified_since_len = req->headers.entries[i].value.len;
        }
        i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT_ENCODING, -1);
        if (i != -1) {
            h2o_iovec_t v = req->headers.entries[i].value;
            for (size_t k = 0; k + 4 <= v.len && !rq.accept_gzip; k++)
                rq.accept_gzip = memcmp(v.base + k, "gzip", 4) == 0;
        }
        msn_static_serve(w->files, &rq, &rs);
    }
    req->res.status = rs.status;
    req->res.reason = reason(rs.status);
    if (rs.status != 304)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, rs.content_type,
                       strlen(rs.content_type));
    header(req, "x-content-type-options", "nosniff");
    if (rs.cache_control)
        header(req, "cache-control", rs.cache_control);
    else if (w->files != NULL)
        header(req, "cache-control", "no-store");
    if (rs.etag[0])
        header(req, "etag", rs.etag);
    if (rs.last_modified[0])
        header(req, "last-modified", rs.last_modified);
    if (rs.content_encoding)
        header(req, "content-encoding", rs.content_encoding);
    if (rs.vary)
        header(req, "vary", "Accept-Encoding");
    if (rs.allow)
        header(req, "allow", rs.allow);
    req->res.content_length = rs.len;
    access_log(w, req, rs.status, rs.head ? 0 : rs.len);
    h2o_send_inline(req, rs.head ? NULL : rs.body, rs.head ? 0 : rs.len);
    return 0;
}

/* Opens the static files this worker serves (w->files stays NULL when there are none).
 * Returns 0, or -1 when web_root is set and cannot be served. */
static int open_files(worker_t *w)
{
    msn_master_status_t ms;
    msn_status_read_master(w->st, &ms);
    /* one value per master start, so every worker sends the same index page */
    msn_static_opts_t o = {.bust = ms.started_at_ms / 1000};
    char err[PATH_MAX + 256];
    if (w->cfg->http.web_root) {
        if (msn_static_open(w->cfg->http.web_root, &o, &w->files, err, sizeof(err)) < 0) {
            msn_error("[http] web_root: %s", err);
            return -1;
        }
        return 0;
    }
    if (!w->cfg->http.ui)
        return 0;
    const char *ui = msn_config_ui_root(w->cfg);
    struct stat sb;
    if (stat(ui, &sb) < 0) {
        msn_debug("no dashboard in %s (%s): / answers with a plain-text page", ui, strerror(errno));
        return 0;
    }
    if (msn_static_open(ui, &o, &w->files, err, sizeof(err)) < 0)
        msn_warn("the dashboard in %s cannot be served (%s): / answers with a plain-text page", ui, err);
    return 0;
}

/* The body of answer r (a stored document, maybe its gzip copy, or what the handler
 * assembled in w->body) and its ETag. */
static void body_of(worker_t *w, msn_api_req_t *r, msn_body_t *b, char etag[32])
{
    memset(b, 0, sizeof(*b));
    if (r->use_doc) {
        int gz = r->accept_gzip && r->doc.gz != NULL;
        b->data = gz ? r->doc.gz : r->doc.body;
        b->len = gz ? r->doc.gz_len : r->doc.len;
        b->doc_name = r->doc_name[0] ? r->doc_name : NULL;
        b->doc_etag = r->doc.etag;
        b->doc_gz = gz;
        snprintf(etag, 32, "%.*s%s\"", (int)strlen(r->doc.etag) - 1, r->doc.etag, gz ? "-gz" : "");
    } else {
        if (!r->content_type)
            msn_buf_putc(&w->body, '\n');
        b->data = w->body.data;
        b->len = w->body.len;
        b->owner = &w->body;
        msn_etag_of(b->data, b->len, etag);
    }
}

/* Answers r from the answer cache (anscache.h) when it keeps this request's answer for
 * the snapshot r reads, else through the dispatcher, keeping what the dispatcher
 * assembled when the route's answers may be reused. damage: the view's damage count
 * before the request (an answer read from a damaged value is never kept). */
static void answer(worker_t *w, h2o_req_t *req, msn_api_req_t *r, const char *method, int head, uint32_t damage)
{
    /* the key: the listener's kind, then the request target (path?query) */
    char key[MSN_ANSCACHE_KEY_MAX + 1];
    size_t klen = 0;
    if (r->txn != NULL && !r->busy && req->entity.base == NULL && (strcmp(method, "GET") == 0 || head) &&
        msn_anscache_enabled(&w->answers) && req->path.len < MSN_ANSCACHE_KEY_MAX) {
        key[0] = r->admin ? 'A' : 'P';
        memcpy(key + 1, req->path.base, req->path.len);
        klen = req->path.len + 1;
    }
    const msn_anscache_entry_t *kept =
        klen ? msn_anscache_get(&w->answers, key, klen, r->meta.gen, r->meta.master_start_ms, r->now_ms) : NULL;
    if (kept) {
        msn_buf_append(&w->body, kept->body, kept->len);
        r->route = kept->route;
        r->content_type = kept->content_type;
        r->status = 200;
        atomic_fetch_add_explicit(&w->st->workers[w->slot].answer_cache_hits, 1, memory_order_relaxed);
        return;
    }
    msn_api_dispatch(r, method);
    if (klen && r->status == 200 && !r->use_doc && w->view.damage == damage && r->route >= 0 &&
        r->route < MSN_ROUTE_COUNT && msn_routes[r->route].cache != MSN_CACHE_LIVE &&
        msn_routes[r->route].needs_snapshot)
        msn_anscache_put(&w->answers, key, klen, r->meta.gen, r->meta.master_start_ms, r->now_ms, r->route,
                         r->content_type, w->body.data, w->body.len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    worker_t *w = ((handler_t *)self)->w;
    msn_conn_t *conn = msn_conns_request_begin(&w->conns, req);
    msn_api_req_t r;
    memset(&r, 0, sizeof(r));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r.db_path = w->cfg->db;
    r.cfg = w->cfg;
    r.state = &w->api;
    r.admin = conn != NULL && conn->admin;
    char method[16];
    snprintf(method, sizeof(method), "%.*s", (int)(req->method.len < 15 ? req->method.len : 15), req->method.base);
    int head = strcmp(method, "HEAD") == 0;
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    char *path = h2o_mem_alloc_pool(&req->pool, plen + 1);
    memcpy(path, req->path.base, plen);
    path[plen] = '\0';
    /* trailing slash tolerance: "/api/stats/" == "/api/stats" */
    if (plen > 1 && path[plen - 1] == '/')
        path[plen - 1] = '\0';
    r.path = path;
    r.st = w->st;
    r.now_ms = msn_now_ms();
    msn_buf_reset(&w->body);
    r.body = &w->body;
    r.status = 500;
    w->last_request_ms = r.now_ms;
    atomic_fetch_add_explicit(&w->st->workers[w->slot].requests, 1, memory_order_relaxed);
    if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0 && strcmp(path, "/metrics") != 0) {
        int ws_status; /* a WebSocket handshake, on any path outside the API (ws.h) */
        if (msn_ws_handle(w->ws, req, &ws_status)) {
            /* only a handshake taken (not the header alone) exempts the connection from
               the idle and stall limits */
            if (ws_status == 101 && conn != NULL)
                msn_conn_set_long_lived(conn);
            access_log(w, req, ws_status, 0);
            return 0;
        }
        return serve_static(w, req, method);
    }
    parse_query(w, req, &r);
    /* answered 503 without building a body (the admin listener is always answered) */
    r.busy = !r.admin && msn_respond_full(&w->resp, conn);
    ssize_t ae = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT_ENCODING, -1);
    if (ae != -1) {
        h2o_iovec_t v = req->headers.entries[ae].value;
        for (size_t i = 0; i + 4 <= v.len; i++)
            if (memcmp(v.base + i, "gzip", 4) == 0) {
                r.accept_gzip = 1;
                break;
            }
    }
    if (msn_snapview_begin(&w->view) == 0) {
        r.txn = w->view.txn;
        r.snap = &w->view.snap;
        if (msn_snap_meta_get(r.txn, r.snap, &r.meta) != 0) {
            msn_snapview_end(&w->view);
            r.txn = NULL;
        }
    }
    if (r.txn == NULL && w->view.refused[0])
        r.snap_refused = w->view.refused;
    if (req->entity.base != NULL) {
        r.req_body = req->entity.base;
        r.req_body_len = req->entity.len;
    }
    uint32_t damage = w->view.damage;
    answer(w, req, &r, method, head, damage);
    if (r.txn != NULL && w->view.damage != damage) {
        /* a value failed its checksum: nothing of this snapshot is sent (snapview.h) */
        msn_snapview_end(&w->view);
        msn_snapview_damaged(&w->view);
        r.txn = NULL;
        r.use_doc = 0;
        msn_buf_reset(&w->body);
        r.content_type = NULL;
        r.retry_after = 2;
        msn_api_error(&r, 503, "the snapshot is damaged; a new one is being published");
    }
    msn_body_t b;
    char etag[32];
    body_of(w, &r, &b, etag);
    ssize_t inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (r.status == 200 && inm != -1 &&
        msn_etag_matches(req->headers.entries[inm].value.base, req->headers.entries[inm].value.len, etag)) {
        r.status = 304;
        b.len = 0;
    }
    b.head = head;
    if (!r.admin && !msn_respond_admit(&w->resp, conn, &b)) {
        /* the response buffers are full of answers clients have not read: refuse this one */
        atomic_fetch_add_explicit(&w->st->workers[w->slot].busy_refusals, 1, memory_order_relaxed);
        r.use_doc = 0;
        r.retry_after = 1;
        r.content_type = NULL;
        msn_api_error(&r, 503, "%s", MSN_API_BUSY_MESSAGE);
        body_of(w, &r, &b, etag);
        b.head = head;
    }
    status_headers(w, req, &r);
    if (b.doc_gz)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_ENCODING, NULL, H2O_STRLIT("gzip"));
    if (r.use_doc && r.doc.gz != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept-Encoding"));
    char cc[64];
    h2o_iovec_t ccv = h2o_strdup(&req->pool, msn_api_cache_control(&r, cc, sizeof(cc)), SIZE_MAX);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, ccv.base, ccv.len);
    header(req, "etag", etag);
    const char *ctype = r.content_type ? r.content_type : "application/json";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    if (r.retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", r.retry_after);
        header(req, "retry-after", ra);
    }
    if (r.allow)
        header(req, "allow", r.allow);
    if (r.use_doc) {
        char dg[24];
        snprintf(dg, sizeof(dg), "%llu", (unsigned long long)r.doc.gen);
        header(req, "x-meshsnap-document-generation", dg);
    }
    req->res.status = r.status;
    req->res.reason = reason(r.status);
    req->res.content_length = b.len;
    /* counted before the bytes leave, so a client that reads /metrics next sees its request */
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
    size_t sent = head ? 0 : b.len; /* HEAD: the headers only */
    msn_perf_record(&w->st->workers[w->slot], r.route >= 0 ? r.route : MSN_PERF_OTHER, r.status, us, sent, path,
                    r.now_ms);
    access_log(w, req, r.status, sent);
    msn_respond_send(&w->resp, req, conn, &b); /* copies or takes what it keeps: the map may be released now */
    msn_snapview_end(&w->view);
    if (w->body.cap > BODY_KEEP_BYTES)
        msn_buf_free(&w->body); /* a large body built but not taken: give its memory back */
    return 0;
}

static void begin_stop(worker_t *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    w->stop_at_ms = msn_now_ms();
    msn_conns_stop(&w->conns);
    msn_ws_stop(w->ws);
    h2o_context_request_shutdown(&w->ctx);
}

static void on_signal(h2o_socket_t *sock, const char *err)
{
    worker_t *w = sock->data;
    struct signalfd_siginfo si;
    int fd = h2o_socket_get_fd(sock);
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP)
            begin_stop(w);
        else if (si.ssi_signo == SIGUSR1)
            open_access_log(w);
    }
    (void)err;
}

int msn_worker_main(const msn_config_t *cfg, int slot, const char *listen_fds)
{
    worker_t w;
    char role[32];
    int rc = 1;
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.slot = slot < 0 || slot >= MSN_STATUS_MAX_WORKERS ? 0 : slot;
    snprintf(role, sizeof(role), "worker %d", w.slot);
    msn_log_set_role(role);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* also set by the master's spawner (before exec) */
    /* a session of its own: where the kernel groups processes by session for scheduling
       (autogroup, shm/sched.h), a worker must not share a group with the master's
       background work, or it waits whenever that work has used the group's share. It
       still dies with the master (the death signal above). */
    (void)msn_sched_own_group(0);
    msn_proc_set_title(role);
    (void)msn_sched_interactive(); /* answers go before background work (shm/sched.h) */
    pid_t master = getppid(); /* checked by the spawner before exec: the master, alive */
    signal(SIGPIPE, SIG_IGN);
    /* large response bodies are mapped and unmapped, never left in the heap: what the
       worker holds for clients (respond.h) is what it uses (glibc would otherwise raise
       this threshold after the first large free, and keep such bodies' memory) */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* and the heap keeps up to MSN_WORKER_HEAP_SLACK free at its top: a request's
       temporary memory is reused by the next one instead of being returned with brk() and
       faulted in again (each return flushes the TLB of every core: it cost a third of a
       worker's time on list requests) */
    mallopt(M_TRIM_THRESHOLD, MSN_WORKER_HEAP_SLACK);
    int src = msn_status_open(cfg->state_dir, &w.st);
    if (src < 0) {
        msn_error("cannot open the status block in %s: %s", cfg->state_dir, strerror(-src));
        return 1;
    }
    msn_snapview_init(&w.view, cfg->state_dir, w.st);
    w.access_fd = -1;
    open_access_log(&w);

    h2o_config_init(&w.config);
    w.config.server_name = h2o_iovec_init(H2O_STRLIT(""));
    w.config.http1.req_timeout = (uint64_t)cfg->http.req_timeout_ms;
    w.config.http1.upgrade_to_http2 = cfg->http.http2; /* h2c: off unless [http] http2 = yes */
    w.config.max_request_entity_size = MSN_API_MAX_REQUEST_BODY; /* larger bodies get 413 */
    h2o_hostconf_t *host = h2o_config_register_host(&w.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    handler_t *h = (handler_t *)h2o_create_handler(pc, sizeof(handler_t));
    h->super.on_req = on_req;
    h->w = &w;
    h2o_context_init(&w.ctx, h2o_evloop_create(), &w.config);
    w.actx.ctx = &w.ctx;
    w.actx.hosts = w.config.hosts;
    if (open_files(&w) < 0)
        goto out;
    w.ws = msn_ws_create(&w.ctx, cfg, w.st, w.slot, &w.view);
    msn_conns_init(&w.conns, &w.actx, cfg, &w.st->workers[w.slot]);
    msn_responder_init(&w.resp, &w.conns, &w.view, cfg, &w.st->workers[w.slot]);
    msn_anscache_init(&w.answers, (size_t)cfg->http.answer_cache_kb * 1024, cfg->http.answer_cache_ms);
    msn_conns_fit_fd_limit(cfg);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        msn_error("signalfd: %s", strerror(errno));
        goto out;
    }
    w.sigsock = h2o_evloop_socket_create(w.ctx.loop, sfd, H2O_SOCKET_FLAG_DONT_READ);
    w.sigsock->data = &w;
    h2o_socket_read_start(w.sigsock, on_signal);

    const char *p = listen_fds ? listen_fds : "";
    while (*p && w.conns.n_listeners < MSN_CONNS_MAX_LISTENERS) {
        char *end;
        long fd = strtol(p, &end, 10);
        if (end == p)
            break;
        msn_conns_listen(&w.conns, w.ctx.loop, (int)fd, msn_conns_is_address((int)fd, &cfg->http.admin_listen));
        p = *end == ',' ? end + 1 : end;
    }
    if (w.conns.n_listeners == 0) {
        msn_error("no listening sockets were handed to this worker");
        goto out;
    }
    atomic_store(&w.st->workers[w.slot].ready, 1);
    msn_debug("serving");
    for (;;) {
        h2o_evloop_run(w.ctx.loop, 100);
        msn_conns_tick(&w.conns, msn_now_ms());
        if (w.stopping) {
            int64_t now = msn_now_ms();
            int64_t quiet = now - (w.last_request_ms > w.stop_at_ms ? w.last_request_ms : w.stop_at_ms);
            /* idle keep-alive connections may be dropped, a response being sent may not */
            if ((w.conns.requests <= 0 && (w.conns.count <= 0 || quiet >= 300)) ||
                now - w.stop_at_ms >= cfg->http.shutdown_timeout_ms)
                break;
        }
        if (getppid() != master)
            begin_stop(&w); /* reparented: the master is gone (SIGTERM should have said so) */
    }
    rc = 0;
out:
    msn_ws_destroy(w.ws); /* before the loop goes: it closes the clients left */
    if (w.sigsock)
        h2o_socket_close(w.sigsock);
    if (w.ctx.loop && w.conns.count <= 0) {
        /* no connection left: let the loop run the close callbacks, then release what h2o
           allocated (with connections still open, exiting releases it all anyway) */
        h2o_evloop_run(w.ctx.loop, 0);
        h2o_timeout_unlink(&w.ctx.http2._graceful_shutdown_timeout); /* linked by request_shutdown; dispose asserts */
        h2o_context_dispose(&w.ctx);
        free(w.ctx.queue); /* libh2o 2.2.5 allocates it in h2o_context_init and never frees it */
        h2o_evloop_destroy(w.ctx.loop);
    }
    h2o_config_dispose(&w.config);
    msn_conns_free(&w.conns);
    if (w.access_fd >= 0)
        close(w.access_fd);
    msn_snapview_close(&w.view);
    msn_buf_free(&w.body);
    msn_anscache_free(&w.answers);
    msn_static_close(w.files);
    msn_status_close(w.st);
    return rc;
}
