/*
 * ws.h: the live feed of a worker: WebSocket clients and the ring they are fed from.
 *
 * Any request carrying `Upgrade: websocket` (with `Connection: upgrade`) outside /api/
 * and /metrics is a WebSocket handshake, whatever its path (CoreScope upgrades any path;
 * its frontend opens ws://host/). It is answered 101 when it is a GET with
 * Sec-WebSocket-Version 13, a valid Sec-WebSocket-Key and an Origin whose host equals the
 * Host header (or no Origin at all); otherwise 405, 400 (with Sec-WebSocket-Version: 13)
 * or 403 for a foreign Origin; 503 while the worker stops or holds [websocket]
 * max_clients clients.
 *
 * Feeding. Every 50 ms the worker looks at the status block: when the master published a
 * generation (or switched environments), it reads the new messages of the ring
 * (shm/feed.h) in sequence order and queues each one, as one text frame built once and
 * shared by every client, to every client connected at that moment. A client gets only
 * messages published after it connected (no backlog). When the ring no longer holds the
 * next message the worker expects, it logs how many it missed, counts them
 * (feed_skipped) and goes on with the oldest one there.
 *
 * Bounds, per client ([websocket]): at most client_queue_messages messages and
 * client_queue_bytes bytes waiting (queued or being written); a client over either bound,
 * or whose write has not completed for write_timeout_s, is dropped (its socket closed).
 * Per worker: at most max_clients clients. Frames are shared, so the message bytes a
 * worker holds are those of its furthest-behind client: at most client_queue_bytes (plus
 * one message), and per client a fixed state and a queue of client_queue_messages
 * pointers.
 *
 * Keepalive (CoreScope's): a ping every ping_interval_s; a client that has not answered
 * with a pong for pong_timeout_s is dropped. Client messages are read and discarded; one
 * longer than max_frame_bytes is answered with close 1009, a protocol error with 1002.
 * A client's ping gets a pong, its close frame a close frame.
 *
 * Stopping (SIGTERM, SIGHUP reload): msn_ws_stop sends every client close 1001 "server
 * shutting down" (its queued messages are dropped) and refuses new handshakes; the
 * browser reconnects to another worker.
 *
 * Counters go to the worker's slot of the status block (msn_ws_status_t), shown by
 * /api/perf and /metrics. Worker process only, on its event loop.
 */
#ifndef MSN_WS_H
#define MSN_WS_H

#define H2O_USE_EPOLL 1
#include <h2o.h>

#include "shm/config.h"
#include "shm/status.h"
#include "snapview.h"

typedef struct msn_ws_hub msn_ws_hub_t;

/** Creates the feed of the worker in status slot `slot`, on ctx's loop. cfg, st and view
 *  (the worker's snapshot view, used between requests) must outlive it. */
msn_ws_hub_t *msn_ws_create(h2o_context_t *ctx, const msn_config_t *cfg, msn_status_t *st, int slot,
                            msn_snapview_t *view);

/** Handles req when it is a WebSocket handshake (see the top comment): returns 1 with
 *  *status set to the status answered (101, or the refusal's), or 0 when req is not a
 *  handshake (nothing is done). */
int msn_ws_handle(msn_ws_hub_t *h, h2o_req_t *req, int *status);

/** Begins the worker's stop: close 1001 to every client, new handshakes refused. */
void msn_ws_stop(msn_ws_hub_t *h);

/** Closes the clients left and frees everything (NULL is fine). */
void msn_ws_destroy(msn_ws_hub_t *h);

#endif
