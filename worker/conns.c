/* conns.c: see conns.h. */
#include "conns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "shm/buf.h"
#include "shm/log.h"

#define ACCEPT_BATCH 4   /* connections accepted per wakeup (spreads bursts over the workers) */
#define SCAN_EVERY_MS 250

/* ---- the list (least recently active first) ---- */

static void unlink_conn(msn_conns_t *c, msn_conn_t *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        c->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        c->tail = k->prev;
    k->prev = k->next = NULL;
}

static void append_conn(msn_conns_t *c, msn_conn_t *k)
{
    k->prev = c->tail;
    k->next = NULL;
    if (c->tail)
        c->tail->next = k;
    else
        c->head = k;
    c->tail = k;
}

static void touch(msn_conn_t *k, int64_t now)
{
    k->active_ms = now;
    if (k->sock != NULL && k->owner->tail != k) {
        unlink_conn(k->owner, k);
        append_conn(k->owner, k);
    }
}

/* Adds one to counter `field` of the worker's status section. */
#define COUNT(c, field)                                                                                      \
    do {                                                                                                     \
        if ((c)->ws)                                                                                         \
            atomic_fetch_add_explicit(&(c)->ws->field, 1, memory_order_relaxed);                             \
    } while (0)

/* ---- polling the listeners ---- */

static void on_accept(h2o_socket_t *listener, const char *err);

static void set_polling(msn_conns_t *c, int on)
{
    if (c->polling == on)
        return;
    for (int i = 0; i < c->n_listeners; i++) {
        if (on)
            h2o_socket_read_start(c->listeners[i], on_accept);
        else
            h2o_socket_read_stop(c->listeners[i]);
    }
    c->polling = on;
}

/* Polls the listeners when nothing stands in the way: not while descriptors ran out
 * (until the back-off ends); at the cap only now and then (to see whether a client waits,
 * which makes room: on_accept), else as soon as a connection closes. */
static void maybe_resume(msn_conns_t *c, int64_t now)
{
    if (c->stopped || now < c->paused_until_ms)
        return;
    if (c->count >= c->cfg->http.max_connections && now < c->cap_recheck_ms)
        return;
    set_polling(c, 1);
}

/* ---- closing ---- */

static void shut(msn_conn_t *k, int reset)
{
    if (k->closing || k->sock == NULL)
        return;
    int fd = h2o_socket_get_fd(k->sock);
    if (fd >= 0) {
        if (reset) {
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        shutdown(fd, SHUT_RDWR);
    }
    k->closing = 1;
    k->owner->closing++;
}

static void release(msn_conn_t *k)
{
    if (k->sock == NULL && k->refs == 0)
        free(k);
}

static void on_close(void *data)
{
    msn_conn_t *k = data;
    msn_conns_t *c = k->owner;
    unlink_conn(c, k);
    k->sock = NULL;
    c->count--;
    if (k->closing)
        c->closing--;
    if (c->ws)
        atomic_fetch_sub_explicit(&c->ws->connections, 1, memory_order_relaxed);
    /* a slot is free: poll again, unless the worker is out of descriptors and waits */
    maybe_resume(c, msn_now_ms());
    release(k);
}

int msn_conns_shed_idle(msn_conns_t *c, int max, int64_t now)
{
    int n = 0;
    for (msn_conn_t *k = c->head; k != NULL && n < max; k = k->next) {
        if (k->requests > 0 || k->long_lived || k->closing || now - k->active_ms < MSN_CONNS_SHED_MIN_IDLE_MS)
            continue;
        shut(k, 0);
        COUNT(c, shed_idle);
        n++;
    }
    return n;
}

/* ---- accepting ---- */

static int listener_index(msn_conns_t *c, h2o_socket_t *ls)
{
    for (int i = 0; i < c->n_listeners; i++)
        if (c->listeners[i] == ls)
            return i;
    return -1;
}

static void track(msn_conns_t *c, h2o_socket_t *sock, int admin, int64_t now)
{
    msn_conn_t *k = msn_xcalloc(1, sizeof(*k));
    k->owner = c;
    k->sock = sock;
    k->admin = admin != 0;
    k->active_ms = now;
    append_conn(c, k);
    c->count++;
    if (c->ws) {
        atomic_fetch_add_explicit(&c->ws->connections, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->ws->accepted, 1, memory_order_relaxed);
    }
    sock->on_close.cb = on_close;
    sock->on_close.data = k;
}

/* Out of descriptors (or memory) for a new connection: pause, and make room. */
static void out_of_descriptors(msn_conns_t *c, int err, int64_t now)
{
    int backoff = c->cfg->http.accept_backoff_ms;
    c->paused_until_ms = now + backoff;
    set_polling(c, 0);
    int shed = c->closing > 0 ? 0 : msn_conns_shed_idle(c, MSN_CONNS_SHED_BATCH, now);
    COUNT(c, accept_pauses);
    if (now - c->last_warn_ms >= 60000) {
        c->last_warn_ms = now;
        msn_warn("accept: %s with %ld connections open; not accepting for %d ms, closed %d idle connection(s) "
                 "(raise the descriptor limit or lower [http] max_connections)",
                 strerror(err), c->count, backoff, shed);
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    msn_conns_t *c = listener->data;
    if (err != NULL || c->stopped)
        return;
    int idx = listener_index(c, listener);
    int64_t now = msn_now_ms();
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (c->count >= c->cfg->http.max_connections) {
            /* at the cap with a client waiting: make room (once per round of closes), then
               wait for a close (on_close polls again), or look again after the back-off
               when no connection was idle enough to close */
            if (c->closing == 0)
                msn_conns_shed_idle(c, MSN_CONNS_SHED_BATCH, now);
            c->cap_recheck_ms = now + c->cfg->http.accept_backoff_ms;
            set_polling(c, 0);
            return;
        }
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            int e = errno;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
                out_of_descriptors(c, e, now);
            return; /* EAGAIN: nobody waits; ECONNABORTED and the like: the next wakeup */
        }
        track(c, sock, idx >= 0 && c->admin[idx], now);
        h2o_accept(c->actx, sock);
    }
}

void msn_conns_init(msn_conns_t *c, h2o_accept_ctx_t *actx, const msn_config_t *cfg, msn_worker_status_t *ws)
{
    memset(c, 0, sizeof(*c));
    c->actx = actx;
    c->cfg = cfg;
    c->ws = ws;
}

int msn_conns_listen(msn_conns_t *c, h2o_loop_t *loop, int fd, int admin)
{
    if (c->n_listeners >= MSN_CONNS_MAX_LISTENERS)
        return -1;
    h2o_socket_t *ls = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    ls->data = c;
    c->admin[c->n_listeners] = admin;
    c->listeners[c->n_listeners++] = ls;
    if (c->polling)
        h2o_socket_read_start(ls, on_accept);
    else
        maybe_resume(c, msn_now_ms());
    return 0;
}

void msn_conns_stop(msn_conns_t *c)
{
    set_polling(c, 0);
    c->stopped = 1;
    for (int i = 0; i < c->n_listeners; i++)
        h2o_socket_close(c->listeners[i]);
    c->n_listeners = 0;
}

void msn_conns_tick(msn_conns_t *c, int64_t now)
{
    if (!c->polling)
        maybe_resume(c, now);
    if (now - c->last_scan_ms < SCAN_EVERY_MS)
        return;
    c->last_scan_ms = now;
    int64_t limit = c->cfg->http.write_timeout_ms;
    for (msn_conn_t *k = c->head; k != NULL; k = k->next) {
        if (k->sending > 0 && !k->long_lived && !k->closing && now - k->progress_ms >= limit) {
            shut(k, 1);
            COUNT(c, write_timeouts);
        }
    }
}

/* ---- requests ---- */

static void on_request_done(void *p)
{
    msn_conn_t *k = *(msn_conn_t **)p;
    k->requests--;
    k->owner->requests--;
    touch(k, msn_now_ms());
    msn_conn_unref(k);
}

msn_conn_t *msn_conns_request_begin(msn_conns_t *c, h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->on_close.cb != on_close)
        return NULL;
    msn_conn_t *k = sock->on_close.data;
    if (k->owner != c)
        return NULL;
    msn_conn_t **tok = h2o_mem_alloc_shared(&req->pool, sizeof(*tok), on_request_done);
    *tok = k;
    msn_conn_ref(k);
    k->requests++;
    c->requests++;
    touch(k, msn_now_ms());
    return k;
}

void msn_conn_set_long_lived(msn_conn_t *k)
{
    k->long_lived = 1;
}

void msn_conn_ref(msn_conn_t *k)
{
    k->refs++;
}

void msn_conn_unref(msn_conn_t *k)
{
    k->refs--;
    release(k);
}

void msn_conns_free(msn_conns_t *c)
{
    msn_conn_t *k = c->head;
    while (k != NULL) {
        msn_conn_t *next = k->next;
        if (k->sock != NULL)
            k->sock->on_close.cb = NULL;
        free(k);
        k = next;
    }
    c->head = c->tail = NULL;
}

void msn_conns_fit_fd_limit(const msn_config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)cfg->http.max_connections + MSN_CONNS_FD_RESERVE;
    if (rl.rlim_cur < want) {
        rlim_t to = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        if (to > rl.rlim_cur) {
            struct rlimit nl = {to, rl.rlim_max};
            if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
                rl.rlim_cur = to;
        }
    }
    if (rl.rlim_cur < want)
        msn_warn("the descriptor limit (%llu) is below [http] max_connections (%d) + %d: this worker will run out "
                 "of descriptors first, and then pauses accepting and closes idle connections",
                 (unsigned long long)rl.rlim_cur, cfg->http.max_connections, MSN_CONNS_FD_RESERVE);
}

int msn_conns_is_address(int fd, const msn_listen_addr_t *a)
{
    if (a->port == 0)
        return 0;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        struct in_addr want;
        return ntohs(in->sin_port) == a->port && inet_pton(AF_INET, a->host, &want) == 1 &&
               want.s_addr == in->sin_addr.s_addr;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        struct in6_addr want;
        return ntohs(in6->sin6_port) == a->port && inet_pton(AF_INET6, a->host, &want) == 1 &&
               memcmp(&want, &in6->sin6_addr, sizeof(want)) == 0;
    }
    return 0;
}
