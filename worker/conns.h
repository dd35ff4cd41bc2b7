/*
 * conns.h: a worker's connections, and the bounds on how many it holds and for how long.
 *
 *   accepting   The listeners are polled while the worker holds fewer than
 *               [http] max_connections connections. At the cap, a client waiting in the
 *               accept queue makes the worker close its oldest idle connections (a batch
 *               of MSN_CONNS_SHED_BATCH); it accepts again as connections close, and
 *               when none was idle enough to close it looks again after
 *               [http] accept_backoff_ms.
 *               When accept(2) fails for want of descriptors or memory (EMFILE, ENFILE,
 *               ENOBUFS, ENOMEM) the worker stops polling the listeners for
 *               [http] accept_backoff_ms and closes its oldest idle connections, rather
 *               than retrying at once: the listener stays readable, so retrying at once
 *               spins the event loop and starves the connections it already has.
 *   idle        A connection with no request in progress, older than
 *               MSN_CONNS_SHED_MIN_IDLE_MS since its last activity, that no other
 *               protocol has taken over. "Oldest" is least recently active (accepted, or
 *               a request began or ended). A connection taken over by another protocol
 *               (a WebSocket) is never idle: msn_conn_set_long_lived() marks it, and a
 *               request carrying "Upgrade: websocket" marks its connection too.
 *   stalled     A connection with a response being written (respond.h) that has not
 *               progressed for [http] write_timeout_ms: the client does not read. It is
 *               closed, whatever the protocol (an HTTP/2 stream whose flow-control window
 *               stays shut stalls its connection).
 *   admin       Accepted on the admin listener ([http] admin_listen): its requests see
 *               the full /api/healthz and /api/perf.
 *
 * Closing a connection from here: shutdown(2) of its descriptor (after SO_LINGER 0 for a
 * stalled one, so that the kernel drops the unsent bytes with a reset at close). libh2o
 * sees the end of the stream on its next read or write and closes the connection on its
 * own paths, so nothing is freed under its feet.
 *
 * Counters and gauges go to the worker's section of the status block: connections,
 * accepted, shed_idle, write_timeouts, accept_pauses (and buffered_bytes, respond.h).
 *
 * Worker process only, on the event loop's thread.
 */
#ifndef MSN_CONNS_H
#define MSN_CONNS_H

#include <stddef.h>
#include <stdint.h>

#define H2O_USE_EPOLL 1
#include <h2o.h>

#include "shm/config.h"
#include "shm/status.h"

#define MSN_CONNS_MAX_LISTENERS (MSN_MAX_LISTEN + 1) /* the listen addresses and the admin one */
#define MSN_CONNS_SHED_BATCH 16                     /* idle connections closed at once, at most */
#define MSN_CONNS_SHED_MIN_IDLE_MS 500              /* younger idle connections are kept */
#define MSN_CONNS_FD_RESERVE 64                     /* descriptors a worker needs besides connections */

struct msn_conns;

/** One accepted connection. respond.c maintains sending, progress_ms and buffered. */
typedef struct msn_conn {
    struct msn_conns *owner;
    h2o_socket_t *sock;           /* NULL once h2o closed it */
    struct msn_conn *prev, *next; /* owner's list, least recently active first */
    int64_t active_ms;            /* accepted, or a request began or ended */
    int refs;                     /* requests and responses still holding the struct */
    int requests;                 /* requests in progress (their memory not yet released) */
    int sending;                  /* responses being written (respond.h) */
    int64_t progress_ms;          /* when a response of it last progressed (respond.h) */
    size_t buffered;              /* response bytes held for it (respond.h) */
    unsigned admin : 1, long_lived : 1, closing : 1;
} msn_conn_t;

/** A worker's connection table. Fields are read by respond.c and worker.c; only the
 *  functions below change them (respond.c: buffered, per its contract). */
typedef struct msn_conns {
    h2o_accept_ctx_t *actx;
    const msn_config_t *cfg;
    msn_worker_status_t *ws; /* may be NULL */
    h2o_socket_t *listeners[MSN_CONNS_MAX_LISTENERS];
    int admin[MSN_CONNS_MAX_LISTENERS];
    int n_listeners;
    int polling;             /* the listeners are polled */
    int stopped;             /* msn_conns_stop: never accept again */
    int64_t paused_until_ms; /* out of descriptors: not polled before this */
    int64_t cap_recheck_ms;  /* at the cap: polled again (to see whether a client waits) then */
    int64_t last_scan_ms;
    int64_t last_warn_ms;
    long count;              /* open connections */
    long requests;           /* requests in progress over all connections */
    long closing;            /* connections shut down by us, not closed yet */
    size_t buffered;         /* response bytes held over all connections (respond.h) */
    msn_conn_t *head, *tail;
} msn_conns_t;

/** Initialises an empty table: connections are handed to h2o with actx. ws (optional)
 *  receives the counters. */
void msn_conns_init(msn_conns_t *c, h2o_accept_ctx_t *actx, const msn_config_t *cfg, msn_worker_status_t *ws);

/** Polls the listening descriptor fd (inherited from the master) on loop; admin marks
 *  the admin listener. Returns 0, or -1 when the table is full. */
int msn_conns_listen(msn_conns_t *c, h2o_loop_t *loop, int fd, int admin);

/** Stops accepting for good and closes this worker's copies of the listeners (the master
 *  keeps its own). Open connections are left to finish. */
void msn_conns_stop(msn_conns_t *c);

/** Periodic work, to call after each turn of the event loop: polls the listeners again
 *  after a pause, and closes stalled connections (at most every 250 ms). */
void msn_conns_tick(msn_conns_t *c, int64_t now_ms);

/** Registers request req (it ends when h2o releases the request's memory) and returns its
 *  connection, or NULL when the connection is not one of this table's. Marks the
 *  connection long-lived when req asks for a WebSocket upgrade. */
msn_conn_t *msn_conns_request_begin(msn_conns_t *c, h2o_req_t *req);

/** Marks k as taken over by another protocol: never closed as idle or stalled here. */
void msn_conn_set_long_lived(msn_conn_t *k);

/** Holds k (its memory stays valid after h2o closes the connection) until the matching
 *  msn_conn_unref. */
void msn_conn_ref(msn_conn_t *k);
void msn_conn_unref(msn_conn_t *k);

/** Closes up to max idle connections, oldest first (see the top comment); returns how
 *  many were closed. */
int msn_conns_shed_idle(msn_conns_t *c, int max, int64_t now_ms);

/** Raises this process's soft descriptor limit towards [http] max_connections plus a
 *  reserve of MSN_CONNS_FD_RESERVE (never above the hard limit); warns when it stays below
 *  (the worker then runs out of descriptors first: see "accepting" above). */
void msn_conns_fit_fd_limit(const msn_config_t *cfg);

/** 1 when the listening descriptor fd is bound to address a (port 0: never), else 0. */
int msn_conns_is_address(int fd, const msn_listen_addr_t *a);

/** Releases the structs of the connections still open (at the end of the worker, after
 *  the event loop was torn down). */
void msn_conns_free(msn_conns_t *c);

#endif
