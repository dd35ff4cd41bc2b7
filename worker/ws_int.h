/*
 * ws_int.h: what ws.c (clients) and ws_tail.c (the ring) share inside the live feed.
 * Worker process only, on its event loop.
 */
#ifndef MSN_WS_INT_H
#define MSN_WS_INT_H

#include <stdint.h>

#include "ws.h"

struct msn_ws_hub {
    h2o_loop_t *loop;
    msn_status_t *st;
    msn_ws_status_t *stat; /* this worker's counters in the status block */
    msn_snapview_t *view;
    /* [websocket] settings */
    int max_clients;
    uint32_t queue_messages;
    uint64_t queue_bytes;
    int64_t write_timeout_ms, ping_interval_ms, pong_timeout_ms;
    uint64_t max_frame;
    /* clients */
    h2o_linklist_t clients;
    int n_clients;       /* linked, plus handshakes being answered */
    uint64_t live_bytes; /* bytes of the messages some client still holds */
    int stopping;
    h2o_timeout_t tick; /* TICK_MS */
    h2o_timeout_t asap; /* 1 ms: the next loop iteration, while the ring has more */
    h2o_timeout_entry_t tick_entry;
    int64_t last_sweep_ms;
    /* the ring's tail (ws_tail.c) */
    int have_run;
    uint64_t run_id;
    uint64_t next_seq;
    int64_t seen_gen;
    uint64_t seen_env;
    int64_t last_look_ms;
    int more; /* the last look stopped at its chunk: look again at once */
};

/** Monotonic milliseconds. */
int64_t msn_ws__now_ms(void);

/** Pacing: 1 when every client the feed still waits for has room for one more message of
 *  len bytes; else 0 (the tail tries again at the next loop iteration). A client the feed
 *  has waited for PACE_BUDGET_MS in all (ws.c) is no longer waited for: when its queue is
 *  full, the next message drops it. */
int msn_ws__room(msn_ws_hub_t *h, size_t len, int64_t now_ms);

/** Queues message seq (its JSON text) to every client connected now whose first message
 *  is not later (a client starts after the ring's newest message when it connects).
 *  Nothing is written before msn_ws__flush_all. */
void msn_ws__broadcast(msn_ws_hub_t *h, uint64_t seq, const char *body, size_t len);

/** Starts a write on every client that has something queued and none in flight: one
 *  write carries all a client's messages of a chunk. */
void msn_ws__flush_all(msn_ws_hub_t *h);

/** The ring's newest sequence number now (0 when it has none or cannot be read). */
uint64_t msn_ws__ring_last(msn_ws_hub_t *h);

/** A new master run numbers its messages from 1 again: every client takes them all. */
void msn_ws__restart_numbers(msn_ws_hub_t *h);

/** The most messages one look at the ring broadcasts: the loop runs (and clients' writes
 *  complete) between two chunks, so a burst never fills the queue of a client that reads. */
#define MSN_WS_TAIL_CHUNK 64

/** Reads the messages the master published since the last call (at most
 *  MSN_WS_TAIL_CHUNK) and broadcasts them; sets h->more when more are waiting. */
void msn_ws__tail(msn_ws_hub_t *h, int64_t now_ms);

#endif
