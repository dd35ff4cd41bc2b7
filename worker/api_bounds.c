/*
 * api_bounds.c: the resource bounds' figures (conns.h, respond.h, the master's analytics
 * shapes) as /api/perf's "bounds" object and as /metrics series, summed over the workers.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"

typedef struct {
    uint64_t buffered, peak, shed_idle, write_timeouts, accept_pauses, busy_refusals, answer_cache_hits;
    long connections;
    uint64_t doc_holds_held, doc_holds_started, doc_hold_fallbacks; /* respond.h: documents sent from the map */
} sums_t;

static void sum(const msn_status_t *st, sums_t *s)
{
    memset(s, 0, sizeof(*s));
    for (int w = 0; w < MSN_STATUS_MAX_WORKERS; w++) {
        const msn_worker_status_t *ws = &st->workers[w];
        s->connections += atomic_load(&ws->connections);
        s->buffered += atomic_load(&ws->buffered_bytes);
        s->peak += atomic_load(&ws->buffered_peak);
        s->shed_idle += atomic_load(&ws->shed_idle);
        s->write_timeouts += atomic_load(&ws->write_timeouts);
        s->accept_pauses += atomic_load(&ws->accept_pauses);
        s->busy_refusals += atomic_load(&ws->busy_refusals);
        s->answer_cache_hits += atomic_load(&ws->answer_cache_hits);
        s->doc_holds_held += atomic_load(&ws->doc_holds_held);
        s->doc_holds_started += atomic_load(&ws->doc_holds_started);
        s->doc_hold_fallbacks += atomic_load(&ws->doc_hold_fallbacks);
    }
}

void msn_api_bounds_json(const msn_api_req_t *r, msn_buf_t *b, const msn_master_status_t *ms)
{
    sums_t s;
    sum(r->st, &s);
    msn_buf_printf(b,
                   "{\"connections\":%ld,\"bufferedBytes\":%llu,\"bufferedPeakBytes\":%llu,\"shedIdle\":%llu,"
                   "\"writeTimeouts\":%llu,\"acceptPauses\":%llu,\"busyRefusals\":%llu,\"answerCacheHits\":%llu,"
                   "\"analyticsShapes\":%lld,"
                   "\"analyticsShapesEvicted\":%lld,\"docHolds\":%llu,\"docHoldsStarted\":%llu,"
                   "\"docHoldFallbacks\":%llu}",
                   s.connections, (unsigned long long)s.buffered, (unsigned long long)s.peak,
                   (unsigned long long)s.shed_idle, (unsigned long long)s.write_timeouts,
                   (unsigned long long)s.accept_pauses, (unsigned long long)s.busy_refusals,
                   (unsigned long long)s.answer_cache_hits, (long long)ms->shapes_on_demand, (long long)ms->shapes_evicted,
                   (unsigned long long)s.doc_holds_held, (unsigned long long)s.doc_holds_started,
                   (unsigned long long)s.doc_hold_fallbacks);
}

/* One series' HELP and TYPE lines. */
static void head(msn_buf_t *b, const char *name, const char *type, const char *help)
{
    msn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static unsigned long long count_of(int64_t v)
{
    return v < 0 ? 0 : (unsigned long long)v;
}

void msn_api_bounds_metrics(const msn_api_req_t *r, msn_buf_t *b, const msn_master_status_t *ms)
{
    sums_t s;
    sum(r->st, &s);
    head(b, "meshsnap_http_response_buffered_bytes", "gauge",
         "Response bytes held for clients that have not read them yet, over all workers.");
    msn_buf_printf(b, "meshsnap_http_response_buffered_bytes %llu\n", (unsigned long long)s.buffered);
    head(b, "meshsnap_http_connections_closed_total", "counter",
         "Connections the server closed to stay within its bounds, by reason.");
    msn_buf_printf(b, "meshsnap_http_connections_closed_total{reason=\"idle\"} %llu\n",
                   (unsigned long long)s.shed_idle);
    msn_buf_printf(b, "meshsnap_http_connections_closed_total{reason=\"write_timeout\"} %llu\n",
                   (unsigned long long)s.write_timeouts);
    const struct {
        const char *name, *type, *help;
        unsigned long long value;
    } series[] = {
        {"meshsnap_http_accept_pauses_total", "counter", "Times a worker paused accepting for want of descriptors.",
         s.accept_pauses},
        {"meshsnap_http_busy_refusals_total", "counter",
         "Requests answered 503 because the response buffers were full.", s.busy_refusals},
        {"meshsnap_http_answer_cache_hits_total", "counter",
         "Requests answered with a copy of an answer assembled earlier in the same generation "
         "([http] answer_cache_ms).",
         s.answer_cache_hits},
        {"meshsnap_analytics_shapes", "gauge", "On-demand analytics shapes kept by the master.",
         count_of(ms->shapes_on_demand)},
        {"meshsnap_analytics_shapes_evicted_total", "counter",
         "On-demand analytics shapes dropped to stay within [analytics] max_shapes.", count_of(ms->shapes_evicted)},
        {"meshsnap_http_doc_holds", "gauge",
         "Read transactions held open to send stored documents from the snapshot's map, over all workers.",
         s.doc_holds_held},
        {"meshsnap_http_doc_holds_total", "counter",
         "Stored documents sent from the snapshot's map under a held read transaction.", s.doc_holds_started},
        {"meshsnap_http_doc_hold_fallbacks_total", "counter",
         "Large stored documents streamed by copying: no hold was free ([http] doc_holds), or the hold expired "
         "([http] doc_hold_ms).",
         s.doc_hold_fallbacks},
    };
    for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++) {
        head(b, series[i].name, series[i].type, series[i].help);
        msn_buf_printf(b, "%s %llu\n", series[i].name, series[i].value);
    }
}
