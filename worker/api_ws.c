/*
 * api_ws.c: the live feed's figures in /api/perf ("websocket") and /metrics
 * (meshsnap_ws_*), summed over the worker slots of the status block (counters survive a
 * worker's respawn; clients and queued bytes are the running workers').
 */
#include <stdio.h>
#include <string.h>

#include "api.h"

typedef struct {
    uint64_t clients, queued_bytes, accepted, refused, messages, bytes, dropped_slow, dropped_pong,
        closed_frame, feed_skipped, feed_gaps;
    uint64_t lag[MSN_WS_LAG_BUCKETS], lag_max, lag_n;
} ws_sum_t;

static void sum(const msn_status_t *st, ws_sum_t *s)
{
    memset(s, 0, sizeof(*s));
    for (int w = 0; w < MSN_STATUS_MAX_WORKERS; w++) {
        const msn_ws_status_t *x = &st->workers[w].ws;
        int32_t c = atomic_load_explicit(&x->clients, memory_order_relaxed);
        s->clients += c > 0 ? (uint64_t)c : 0;
        s->queued_bytes += atomic_load_explicit(&x->queued_bytes, memory_order_relaxed);
        s->accepted += atomic_load_explicit(&x->accepted, memory_order_relaxed);
        s->refused += atomic_load_explicit(&x->refused, memory_order_relaxed);
        s->messages += atomic_load_explicit(&x->messages, memory_order_relaxed);
        s->bytes += atomic_load_explicit(&x->bytes, memory_order_relaxed);
        s->dropped_slow += atomic_load_explicit(&x->dropped_slow, memory_order_relaxed);
        s->dropped_pong += atomic_load_explicit(&x->dropped_pong, memory_order_relaxed);
        s->closed_frame += atomic_load_explicit(&x->closed_frame, memory_order_relaxed);
        s->feed_skipped += atomic_load_explicit(&x->feed_skipped, memory_order_relaxed);
        s->feed_gaps += atomic_load_explicit(&x->feed_gaps, memory_order_relaxed);
        for (int b = 0; b < MSN_WS_LAG_BUCKETS; b++) {
            uint64_t v = atomic_load_explicit(&x->lag_buckets[b], memory_order_relaxed);
            s->lag[b] += v;
            s->lag_n += v;
        }
        uint64_t mx = atomic_load_explicit(&x->lag_max_ms, memory_order_relaxed);
        if (mx > s->lag_max)
            s->lag_max = mx;
    }
}

/* The upper bound (ms) of the bucket holding quantile q of the publication-to-queue delays. */
static uint64_t lag_quantile(const ws_sum_t *s, double q)
{
    uint64_t rank = (uint64_t)(q * (double)s->lag_n + 0.999999), seen = 0;
    for (int b = 0; b < MSN_WS_LAG_BUCKETS; b++) {
        seen += s->lag[b];
        if (s->lag[b] && seen >= rank)
            return b == MSN_WS_LAG_BUCKETS - 1 || ((uint64_t)1 << b) > s->lag_max ? s->lag_max
                                                                                  : (uint64_t)1 << b;
    }
    return s->lag_max;
}

void msn_api_ws_perf(msn_buf_t *b, const msn_status_t *st, const msn_master_status_t *ms)
{
    ws_sum_t s;
    sum(st, &s);
    msn_buf_printf(
        b,
        ",\"websocket\":{\"clients\":%llu,\"queuedBytes\":%llu,\"accepted\":%llu,\"refused\":%llu,"
        "\"messagesSent\":%llu,\"bytesSent\":%llu,\"droppedSlow\":%llu,\"droppedNoPong\":%llu,"
        "\"closedBadFrame\":%llu,\"feedSkipped\":%llu,\"feedGaps\":%llu,\"feedPublished\":%lld,"
        "\"feedLeftOut\":%lld,",
        (unsigned long long)s.clients, (unsigned long long)s.queued_bytes, (unsigned long long)s.accepted,
        (unsigned long long)s.refused, (unsigned long long)s.messages, (unsigned long long)s.bytes,
        (unsigned long long)s.dropped_slow, (unsigned long long)s.dropped_pong,
        (unsigned long long)s.closed_frame, (unsigned long long)s.feed_skipped,
        (unsigned long long)s.feed_gaps, (long long)ms->feed_messages, (long long)ms->feed_skipped);
    msn_buf_printf(b, "\"publishToQueueMs\":{\"count\":%llu,\"p50\":%llu,\"p99\":%llu,\"max\":%llu}}",
                   (unsigned long long)s.lag_n, (unsigned long long)lag_quantile(&s, 0.5),
                   (unsigned long long)lag_quantile(&s, 0.99), (unsigned long long)s.lag_max);
}

static void metric(msn_buf_t *b, const char *name, const char *type, const char *help, unsigned long long v)
{
    msn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

void msn_api_ws_metrics(msn_buf_t *b, const msn_status_t *st, const msn_master_status_t *ms)
{
    ws_sum_t s;
    sum(st, &s);
    metric(b, "meshsnap_ws_clients", "gauge", "WebSocket clients connected over all workers.", s.clients);
    metric(b, "meshsnap_ws_queued_bytes", "gauge",
           "Live-feed message bytes held for clients that have not read them.", s.queued_bytes);
    metric(b, "meshsnap_ws_connections_total", "counter", "WebSocket handshakes accepted.", s.accepted);
    metric(b, "meshsnap_ws_refused_total", "counter",
           "WebSocket handshakes refused (foreign Origin, bad handshake, max_clients, stopping).", s.refused);
    metric(b, "meshsnap_ws_messages_sent_total", "counter",
           "Live-feed messages sent, counted once per client.", s.messages);
    metric(b, "meshsnap_ws_bytes_sent_total", "counter", "Live-feed frame bytes queued for clients.",
           s.bytes);
    msn_buf_puts(
        b, "# HELP meshsnap_ws_clients_dropped_total WebSocket clients dropped by the server, by reason.\n"
           "# TYPE meshsnap_ws_clients_dropped_total counter\n");
    msn_buf_printf(b, "meshsnap_ws_clients_dropped_total{reason=\"slow\"} %llu\n",
                   (unsigned long long)s.dropped_slow);
    msn_buf_printf(b, "meshsnap_ws_clients_dropped_total{reason=\"no_pong\"} %llu\n",
                   (unsigned long long)s.dropped_pong);
    msn_buf_printf(b, "meshsnap_ws_clients_dropped_total{reason=\"bad_frame\"} %llu\n",
                   (unsigned long long)s.closed_frame);
    metric(b, "meshsnap_ws_feed_skipped_messages_total", "counter",
           "Live-feed messages a worker never sent: they had left the ring before it read them.",
           s.feed_skipped);
    metric(b, "meshsnap_feed_messages_total", "counter",
           "Live-feed messages the master wrote into the ring (this run).",
           (unsigned long long)(ms->feed_messages > 0 ? ms->feed_messages : 0));
    metric(b, "meshsnap_feed_left_out_messages_total", "counter",
           "Live-feed messages the master left out of a publication larger than the ring (this run).",
           (unsigned long long)(ms->feed_skipped > 0 ? ms->feed_skipped : 0));
}
