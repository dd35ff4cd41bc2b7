/*
 * ws.c: WebSocket clients of the live feed (see ws.h): the handshake, one queue of
 * shared frames per client, writes, reads, keepalive and stop.
 *
 * A message is one allocation holding the whole text frame (header and JSON), with a
 * reference count: each client whose queue holds it, or whose current write sends it,
 * holds one reference. A client writes at most one batch at a time (pending control
 * frames first, then up to BATCH messages) with one h2o_socket_write; the frames are
 * sent from the shared allocation, never copied per client.
 *
 * A client's life: handshake (counted in n_clients) -> open (linked in clients) ->
 * closing (a close frame queued: nothing else is sent; once written, the socket is
 * closed when the client answers with its close, or after CLOSE_WAIT_MS) -> destroyed.
 * A dropped client (slow, silent, or whose socket failed) is destroyed at once.
 */
#include "ws_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "h2o/http1.h"
#include "shm/buf.h"
#include "shm/log.h"
#include "wsproto.h"

#define TICK_MS 50          /* how often the ring is looked at */
#define SWEEP_MS 1000       /* how often keepalive and write deadlines are checked */
#define CLOSE_WAIT_MS 2000  /* after our close frame, how long the client has to answer */
#define BATCH 64            /* messages per write */
#define PACE_BUDGET_MS 2000 /* how long in all the feed may wait for one client to make room */
#define CTL_MAX (2 + 125)   /* the largest control frame */

typedef struct ws_msg {
    uint32_t refs;
    uint32_t len; /* of data: the whole frame */
    uint8_t data[];
} ws_msg_t;

typedef struct {
    h2o_linklist_t link; /* in hub->clients once open */
    msn_ws_hub_t *hub;
    h2o_socket_t *sock; /* NULL until the upgrade completed */
    /* messages waiting: a ring of q_cap slots (grown up to queue_messages) */
    ws_msg_t **q;
    uint32_t q_head, q_n, q_cap;
    uint64_t q_bytes;
    /* the write in flight */
    int writing;
    int64_t write_since_ms;
    ws_msg_t *w_msgs[BATCH];
    uint32_t w_n;
    uint64_t w_bytes;
    uint8_t w_ctl[3 * CTL_MAX];
    size_t w_ctl_len;
    h2o_iovec_t iov[BATCH + 1];
    /* control frames waiting */
    uint8_t pong[CTL_MAX];
    size_t pong_len; /* 0: none */
    int want_ping;
    uint8_t close_frame[CTL_MAX];
    size_t close_len;
    /* state */
    int closing;     /* a close frame is queued or sent: nothing else goes out */
    int close_sent;  /* it has been written */
    int peer_closed; /* the client sent its close frame */
    int failed;      /* closing after a bad frame: what follows is not parsed */
    int64_t closing_since_ms;
    int64_t last_pong_ms, last_ping_ms;
    uint64_t from_seq;        /* the first ring message it is sent: it connected after the ones before */
    int64_t blocked_since_ms; /* since when the feed waits for room in its queue (0: it does not) */
    int64_t waited_ms;        /* how long the feed waited for it before */
    int unpaced;              /* it used PACE_BUDGET_MS: no longer waited for */
    int in_message;           /* inside a fragmented client message */
    uint64_t msg_len;         /* its length so far */
} ws_client_t;

int64_t msn_ws__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- messages --------------------------------------------------------------------------- */

static void msg_release(msn_ws_hub_t *h, ws_msg_t *m)
{
    if (--m->refs == 0) {
        h->live_bytes -= m->len;
        atomic_store_explicit(&h->stat->queued_bytes, h->live_bytes, memory_order_relaxed);
        free(m);
    }
}

/* ---- clients ---------------------------------------------------------------------------- */

static void flush(ws_client_t *c);

/* Closes the socket and frees the client. */
static void destroy(ws_client_t *c)
{
    msn_ws_hub_t *h = c->hub;
    if (h2o_linklist_is_linked(&c->link))
        h2o_linklist_unlink(&c->link);
    h->n_clients--;
    atomic_store_explicit(&h->stat->clients, h->n_clients, memory_order_relaxed);
    if (c->sock != NULL) {
        c->sock->data = NULL;
        h2o_socket_close(c->sock); /* no callback of it runs after this */
        c->sock = NULL;
    }
    for (uint32_t i = 0; i < c->w_n; i++)
        msg_release(h, c->w_msgs[i]);
    for (uint32_t i = 0; i < c->q_n; i++)
        msg_release(h, c->q[(c->q_head + i) % c->q_cap]);
    free(c->q);
    free(c);
}

/* Queues our close frame (once); everything still queued is dropped. */
static void begin_close(ws_client_t *c, int code, const char *reason)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->closing_since_ms = msn_ws__now_ms();
    c->close_len = msn_wsp_close_frame(c->close_frame, code, reason);
    for (uint32_t i = 0; i < c->q_n; i++)
        msg_release(c->hub, c->q[(c->q_head + i) % c->q_cap]);
    c->q_n = 0;
    c->q_bytes = 0;
    flush(c);
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    ws_client_t *c = sock->data;
    if (c == NULL)
        return;
    c->writing = 0;
    for (uint32_t i = 0; i < c->w_n; i++)
        msg_release(c->hub, c->w_msgs[i]);
    c->w_n = 0;
    c->w_bytes = 0;
    if (err != NULL) {
        destroy(c);
        return;
    }
    flush(c);
}

/* Starts the next write when none is in flight: control frames, then messages. */
static void flush(ws_client_t *c)
{
    if (c->writing || c->sock == NULL)
        return;
    size_t n = 0;
    c->w_ctl_len = 0;
    if (c->pong_len) {
        memcpy(c->w_ctl, c->pong, c->pong_len);
        c->w_ctl_len = c->pong_len;
        c->pong_len = 0;
    }
    if (c->want_ping && !c->closing) {
        c->w_ctl[c->w_ctl_len++] = 0x80 | MSN_WS_OP_PING;
        c->w_ctl[c->w_ctl_len++] = 0;
    }
    c->want_ping = 0;
    if (c->closing && !c->close_sent) {
        memcpy(c->w_ctl + c->w_ctl_len, c->close_frame, c->close_len);
        c->w_ctl_len += c->close_len;
        c->close_sent = 1;
    }
    if (c->w_ctl_len)
        c->iov[n++] = h2o_iovec_init(c->w_ctl, c->w_ctl_len);
    while (!c->closing && c->q_n > 0 && c->w_n < BATCH) {
        ws_msg_t *m = c->q[c->q_head];
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_n--;
        c->q_bytes -= m->len;
        c->w_msgs[c->w_n++] = m;
        c->w_bytes += m->len;
        c->iov[n++] = h2o_iovec_init(m->data, m->len);
    }
    if (n == 0) {
        if (c->close_sent && c->peer_closed)
            destroy(c); /* both close frames exchanged */
        return;
    }
    atomic_fetch_add_explicit(&c->hub->stat->messages, c->w_n, memory_order_relaxed);
    c->writing = 1;
    c->write_since_ms = msn_ws__now_ms();
    h2o_socket_write(c->sock, c->iov, n, on_write);
}

static void drop_slow(ws_client_t *c, const char *why)
{
    msn_debug("dropping a WebSocket client: %s", why);
    atomic_fetch_add_explicit(&c->hub->stat->dropped_slow, 1, memory_order_relaxed);
    destroy(c);
}

/* Queues m to c; drops c when that would pass its bounds. Returns 0, or -1 when dropped. */
static int enqueue(ws_client_t *c, ws_msg_t *m)
{
    msn_ws_hub_t *h = c->hub;
    if (c->q_n + c->w_n + 1 > h->queue_messages || c->q_bytes + c->w_bytes + m->len > h->queue_bytes) {
        drop_slow(c, "its queue is full (it does not read)");
        return -1;
    }
    if (c->q_n == c->q_cap) {
        uint32_t cap = c->q_cap ? c->q_cap * 2 : 8;
        if (cap > h->queue_messages)
            cap = h->queue_messages;
        ws_msg_t **q = msn_xmalloc(cap * sizeof(*q));
        for (uint32_t i = 0; i < c->q_n; i++)
            q[i] = c->q[(c->q_head + i) % c->q_cap];
        free(c->q);
        c->q = q;
        c->q_head = 0;
        c->q_cap = cap;
    }
    c->q[(c->q_head + c->q_n) % c->q_cap] = m;
    c->q_n++;
    c->q_bytes += m->len;
    m->refs++;
    return 0;
}

int msn_ws__room(msn_ws_hub_t *h, size_t len, int64_t now_ms)
{
    uint64_t frame = len + MSN_WS_MAX_HEADER;
    int room = 1;
    h2o_linklist_t *node;
    for (node = h->clients.next; node != &h->clients; node = node->next) {
        ws_client_t *c = H2O_STRUCT_FROM_MEMBER(ws_client_t, link, node);
        if (c->closing || c->unpaced)
            continue;
        int fits =
            c->q_n + c->w_n + 1 <= h->queue_messages && c->q_bytes + c->w_bytes + frame <= h->queue_bytes;
        if (fits) {
            if (c->blocked_since_ms) {
                c->waited_ms += now_ms - c->blocked_since_ms;
                c->blocked_since_ms = 0;
            }
            continue;
        }
        if (c->blocked_since_ms == 0)
            c->blocked_since_ms = now_ms;
        if (c->waited_ms + (now_ms - c->blocked_since_ms) >= PACE_BUDGET_MS) {
            c->unpaced = 1;
            msn_debug("a WebSocket client used its pacing budget: no longer waited for");
            continue;
        }
        room = 0;
    }
    return room;
}

void msn_ws__flush_all(msn_ws_hub_t *h)
{
    h2o_linklist_t *node = h->clients.next, *next;
    for (; node != &h->clients; node = next) {
        next = node->next; /* flush may destroy the client (a finished close) */
        flush(H2O_STRUCT_FROM_MEMBER(ws_client_t, link, node));
    }
}

void msn_ws__restart_numbers(msn_ws_hub_t *h)
{
    h2o_linklist_t *node;
    for (node = h->clients.next; node != &h->clients; node = node->next)
        H2O_STRUCT_FROM_MEMBER(ws_client_t, link, node)->from_seq = 0;
}

void msn_ws__broadcast(msn_ws_hub_t *h, uint64_t seq, const char *body, size_t len)
{
    uint8_t hdr[MSN_WS_MAX_HEADER];
    size_t hl = msn_wsp_frame_header(hdr, MSN_WS_OP_TEXT, len);
    if (hl + len > UINT32_MAX)
        return;
    ws_msg_t *m = msn_xmalloc(sizeof(*m) + hl + len);
    m->refs = 1; /* held by this function while it hands the message out */
    m->len = (uint32_t)(hl + len);
    memcpy(m->data, hdr, hl);
    memcpy(m->data + hl, body, len);
    h->live_bytes += m->len;
    h2o_linklist_t *node = h->clients.next, *next;
    uint64_t sent = 0;
    for (; node != &h->clients; node = next) {
        next = node->next;
        ws_client_t *c = H2O_STRUCT_FROM_MEMBER(ws_client_t, link, node);
        if (c->closing || seq < c->from_seq)
            continue;
        if (enqueue(c, m) == 0)
            sent++; /* written by msn_ws__flush_all, with the rest of the chunk */
    }
    atomic_fetch_add_explicit(&h->stat->bytes, sent * m->len, memory_order_relaxed);
    msg_release(h, m);
    atomic_store_explicit(&h->stat->queued_bytes, h->live_bytes, memory_order_relaxed);
}

/* ---- reading ---------------------------------------------------------------------------- */

static void fail(ws_client_t *c, int code, const char *reason)
{
    atomic_fetch_add_explicit(&c->hub->stat->closed_frame, 1, memory_order_relaxed);
    msn_debug("closing a WebSocket client with %d: %s", code, reason);
    h2o_buffer_consume(&c->sock->input, c->sock->input->size);
    c->failed = 1; /* the rest of a bad frame would parse as more frames */
    begin_close(c, code, reason);
}

/* Handles the complete frames in the input buffer. Returns -1 when c was destroyed. */
static int process_input(ws_client_t *c)
{
    msn_ws_hub_t *h = c->hub;
    for (;;) {
        h2o_buffer_t *in = c->sock->input;
        if (in->size == 0)
            return 0;
        if (c->peer_closed || c->failed) {
            h2o_buffer_consume(&c->sock->input, in->size); /* nothing counts after a close frame */
            return 0;
        }
        msn_wsp_frame_t f;
        int rc = msn_wsp_parse((const uint8_t *)in->bytes, in->size, &f);
        if (rc == 1)
            return 0;
        if (rc < 0) {
            fail(c, MSN_WS_CLOSE_PROTOCOL, "protocol error");
            return 0;
        }
        int data = f.opcode < MSN_WS_OP_CLOSE;
        if (data) {
            if ((f.opcode == MSN_WS_OP_CONT) != (c->in_message != 0)) {
                fail(c, MSN_WS_CLOSE_PROTOCOL, "unexpected continuation frame");
                return 0;
            }
            uint64_t total = (f.opcode == MSN_WS_OP_CONT ? c->msg_len : 0) + f.len;
            if (total > h->max_frame) {
                fail(c, MSN_WS_CLOSE_TOO_BIG, "message too big");
                return 0;
            }
        }
        if (in->size < f.header_len + f.len)
            return 0; /* the rest of the frame has not arrived (at most max_frame_bytes or 125 bytes) */
        uint8_t *payload = (uint8_t *)in->bytes + f.header_len;
        size_t plen = (size_t)f.len;
        switch (f.opcode) {
        case MSN_WS_OP_CONT:
        case MSN_WS_OP_TEXT:
        case MSN_WS_OP_BINARY:
            /* read and ignored, as CoreScope does */
            c->msg_len = (f.opcode == MSN_WS_OP_CONT ? c->msg_len : 0) + f.len;
            c->in_message = !f.fin;
            break;
        case MSN_WS_OP_PING:
            if (!c->closing) {
                msn_wsp_unmask(payload, plen, f.mask, 0);
                size_t hl = msn_wsp_frame_header(c->pong, MSN_WS_OP_PONG, plen);
                memcpy(c->pong + hl, payload, plen);
                c->pong_len = hl + plen; /* only the latest ping is answered (RFC 6455 5.5.3) */
            }
            break;
        case MSN_WS_OP_PONG:
            c->last_pong_ms = msn_ws__now_ms();
            break;
        case MSN_WS_OP_CLOSE: {
            int code = 0;
            if (plen == 1) {
                fail(c, MSN_WS_CLOSE_PROTOCOL, "malformed close frame");
                return 0;
            }
            if (plen >= 2) {
                msn_wsp_unmask(payload, 2, f.mask, 0);
                code = payload[0] << 8 | payload[1];
                /* codes an endpoint may send (RFC 6455 7.4): echo them, else a protocol error */
                if (!((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                      (code >= 3000 && code <= 4999)))
                    code = MSN_WS_CLOSE_PROTOCOL;
            }
            c->peer_closed = 1;
            h2o_buffer_consume(&c->sock->input, f.header_len + plen);
            if (c->close_sent) {
                destroy(c);
                return -1;
            }
            begin_close(c, code, NULL); /* the socket closes once our close frame is written */
            return 0;
        }
        }
        h2o_buffer_consume(&c->sock->input, f.header_len + plen);
        flush(c);
    }
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    ws_client_t *c = sock->data;
    if (c == NULL)
        return;
    if (err != NULL) {
        destroy(c);
        return;
    }
    process_input(c);
}

/* ---- handshake -------------------------------------------------------------------------- */

static void on_upgraded(void *data, h2o_socket_t *sock, size_t reqsize)
{
    ws_client_t *c = data;
    msn_ws_hub_t *h = c->hub;
    if (sock == NULL) {
        destroy(c); /* the 101 response could not be sent */
        return;
    }
    c->sock = sock;
    sock->data = c;
    h2o_buffer_consume(&sock->input, reqsize);
    c->last_pong_ms = c->last_ping_ms = msn_ws__now_ms();
    c->from_seq = msn_ws__ring_last(h) + 1; /* no backlog, even from a ring this worker has not read yet */
    h2o_linklist_insert(&h->clients, &c->link);
    atomic_fetch_add_explicit(&h->stat->accepted, 1, memory_order_relaxed);
    if (h->stopping) {
        begin_close(c, MSN_WS_CLOSE_GOING_AWAY, "server shutting down");
        if (c->sock == NULL)
            return;
    }
    if (process_input(c) < 0)
        return;
    h2o_socket_read_start(sock, on_read);
}

static void refuse(msn_ws_hub_t *h, h2o_req_t *req, int status, const char *reason, const char *body)
{
    atomic_fetch_add_explicit(&h->stat->refused, 1, memory_order_relaxed);
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; charset=utf-8"));
    if (status == 400)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-version"), 0, NULL,
                              H2O_STRLIT("13"));
    if (status == 405)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET"));
    if (status == 503)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("3"));
    req->res.content_length = strlen(body);
    h2o_send_inline(req, body, strlen(body));
}

static h2o_iovec_t header_value(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

int msn_ws_handle(msn_ws_hub_t *h, h2o_req_t *req, int *status)
{
    if (h == NULL || req->upgrade.base == NULL ||
        !h2o_lcstris(req->upgrade.base, req->upgrade.len, H2O_STRLIT("websocket")))
        return 0;
    if (req->version >= 0x200)
        return 0;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        refuse(h, req, *status = 405, "Method Not Allowed", "WebSocket handshakes are GET requests\n");
        return 1;
    }
    h2o_iovec_t ver = header_value(req, H2O_STRLIT("sec-websocket-version"));
    if (!h2o_memis(ver.base, ver.len, H2O_STRLIT("13"))) {
        refuse(h, req, *status = 400, "Bad Request",
               "unsupported Sec-WebSocket-Version (this server speaks 13)\n");
        return 1;
    }
    h2o_iovec_t origin = header_value(req, H2O_STRLIT("origin"));
    if (!msn_wsp_origin_allowed(origin.base, origin.len, req->input.authority.base, req->input.authority.len)) {
        refuse(h, req, *status = 403, "Forbidden", "the Origin's host is not this server's Host\n");
        return 1;
    }
    h2o_iovec_t key = header_value(req, H2O_STRLIT("sec-websocket-key"));
    if (!msn_wsp_key_valid(key.base, key.len)) {
        refuse(h, req, *status = 400, "Bad Request", "missing or malformed Sec-WebSocket-Key\n");
        return 1;
    }
    if (h->stopping) {
        refuse(h, req, *status = 503, "Service Unavailable", "this worker is stopping\n");
        return 1;
    }
    if (h->n_clients >= h->max_clients) {
        refuse(h, req, *status = 503, "Service Unavailable",
               "this worker has its maximum of WebSocket clients\n");
        return 1;
    }
    ws_client_t *c = msn_xcalloc(1, sizeof(*c));
    c->hub = h;
    h->n_clients++;
    atomic_store_explicit(&h->stat->clients, h->n_clients, memory_order_relaxed);
    char accept[29];
    msn_wsp_accept_key(key.base, key.len, accept);
    req->res.status = *status = 101;
    req->res.reason = "Switching Protocols";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
    h2o_iovec_t av = h2o_strdup(&req->pool, accept, 28);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-accept"), 0, NULL, av.base,
                          av.len);
    h2o_http1_upgrade(req, NULL, 0, on_upgraded, c);
    return 1;
}

/* ---- keepalive, the tick, stop ------------------------------------------------------------ */

static void sweep(msn_ws_hub_t *h, int64_t now)
{
    h2o_linklist_t *node = h->clients.next, *next;
    for (; node != &h->clients; node = next) {
        next = node->next;
        ws_client_t *c = H2O_STRUCT_FROM_MEMBER(ws_client_t, link, node);
        if (c->closing) {
            if (now - c->closing_since_ms >= CLOSE_WAIT_MS)
                destroy(c);
            continue;
        }
        if (c->writing && now - c->write_since_ms >= h->write_timeout_ms) {
            drop_slow(c, "a write stalled");
            continue;
        }
        if (now - c->last_pong_ms >= h->pong_timeout_ms) {
            msn_debug("dropping a WebSocket client: no pong for %lld ms", (long long)(now - c->last_pong_ms));
            atomic_fetch_add_explicit(&h->stat->dropped_pong, 1, memory_order_relaxed);
            destroy(c);
            continue;
        }
        if (now - c->last_ping_ms >= h->ping_interval_ms) {
            c->last_ping_ms = now;
            c->want_ping = 1;
            flush(c);
        }
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    msn_ws_hub_t *h = H2O_STRUCT_FROM_MEMBER(msn_ws_hub_t, tick_entry, entry);
    int64_t now = msn_ws__now_ms();
    msn_ws__tail(h, now);
    if (now - h->last_sweep_ms >= SWEEP_MS) {
        h->last_sweep_ms = now;
        sweep(h, now);
    }
    h2o_timeout_link(h->loop, h->more ? &h->asap : &h->tick, &h->tick_entry);
}

msn_ws_hub_t *msn_ws_create(h2o_context_t *ctx, const msn_config_t *cfg, msn_status_t *st, int slot,
                            msn_snapview_t *view)
{
    msn_ws_hub_t *h = msn_xcalloc(1, sizeof(*h));
    h->loop = ctx->loop;
    h->st = st;
    h->stat = &st->workers[slot].ws;
    h->view = view;
    h->max_clients = cfg->websocket.max_clients;
    h->queue_messages = (uint32_t)cfg->websocket.client_queue_messages;
    h->queue_bytes = (uint64_t)cfg->websocket.client_queue_bytes;
    h->write_timeout_ms = (int64_t)cfg->websocket.write_timeout_s * 1000;
    h->ping_interval_ms = (int64_t)cfg->websocket.ping_interval_s * 1000;
    h->pong_timeout_ms = (int64_t)cfg->websocket.pong_timeout_s * 1000;
    h->max_frame = (uint64_t)cfg->websocket.max_frame_bytes;
    h->seen_gen = -1;
    h->last_sweep_ms = msn_ws__now_ms();
    h2o_linklist_init_anchor(&h->clients);
    atomic_store(&h->stat->clients, 0);
    atomic_store(&h->stat->queued_bytes, 0);
    h2o_timeout_init(h->loop, &h->tick, TICK_MS);
    /* not 0 ms: an entry linked again to a 0 ms timeout while it runs would run again before any I/O */
    h2o_timeout_init(h->loop, &h->asap, 1);
    h->tick_entry.cb = on_tick;
    h2o_timeout_link(h->loop, &h->tick, &h->tick_entry);
    return h;
}

void msn_ws_stop(msn_ws_hub_t *h)
{
    if (h == NULL || h->stopping)
        return;
    h->stopping = 1;
    int n = 0;
    h2o_linklist_t *node = h->clients.next, *next;
    for (; node != &h->clients; node = next) {
        next = node->next;
        begin_close(H2O_STRUCT_FROM_MEMBER(ws_client_t, link, node), MSN_WS_CLOSE_GOING_AWAY,
                    "server shutting down");
        n++;
    }
    if (n > 0)
        msn_info("closing %d WebSocket client(s) (1001 server shutting down)", n);
}

void msn_ws_destroy(msn_ws_hub_t *h)
{
    if (h == NULL)
        return;
    while (!h2o_linklist_is_empty(&h->clients))
        destroy(H2O_STRUCT_FROM_MEMBER(ws_client_t, link, h->clients.next));
    if (h2o_timeout_is_linked(&h->tick_entry))
        h2o_timeout_unlink(&h->tick_entry);
    h2o_timeout_dispose(h->loop, &h->tick);
    h2o_timeout_dispose(h->loop, &h->asap);
    atomic_store(&h->stat->clients, 0);
    atomic_store(&h->stat->queued_bytes, 0);
    free(h);
}
