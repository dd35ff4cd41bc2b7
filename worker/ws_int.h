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
    int n_clients;  /* linked, plus handshakes being answered */
    uint64_t live_bytes; /* bytes of the messages some client still holds */
    int stopping;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    int64_t last_sweep_ms;
    /* the ring's tail (ws_tail.c) */
    int have_run;
    uint64_t run_id;
    uint64_t next_seq;
    int64_t seen_gen;
    uint64_t seen_env;
    int64_t last_look_ms;
};

/** Monotonic milliseconds. */
int64_t msn_ws__now_ms(void);

/** Queues one message (its JSON text) to every client connected now. */
void msn_ws__broadcast(msn_ws_hub_t *h, const char *body, size_t len);

/** Reads the messages the master published since the last call and broadcasts them. */
void msn_ws__tail(msn_ws_hub_t *h, int64_t now_ms);

#endif
