/*
 * api_perf.c: GET /api/perf (CoreScope's perf shape plus meshsnap's snapshot, analytics
 * and migration figures), GET /api/perf/async-migrations and GET /metrics (Prometheus
 * text format 0.0.4). Everything comes from the shared status block, where every worker
 * records its requests; the figures cover all workers, including ones since restarted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "shm/config.h"
#include "shm/json.h"
#include "shm/timeutil.h"

typedef struct {
    uint64_t count, sum_us, max_us, bytes;
    uint64_t status[6];
    uint64_t buckets[MSN_PERF_BUCKETS];
} agg_t;

static void aggregate(const msn_status_t *st, int ep, agg_t *a)
{
    memset(a, 0, sizeof(*a));
    for (int w = 0; w < MSN_STATUS_MAX_WORKERS; w++) {
        const msn_perf_endpoint_t *e = &st->workers[w].ep[ep];
        uint64_t c = atomic_load_explicit(&e->count, memory_order_relaxed);
        if (c == 0)
            continue;
        a->count += c;
        a->sum_us += atomic_load_explicit(&e->sum_us, memory_order_relaxed);
        a->bytes += atomic_load_explicit(&e->bytes, memory_order_relaxed);
        uint64_t mx = atomic_load_explicit(&e->max_us, memory_order_relaxed);
        if (mx > a->max_us)
            a->max_us = mx;
        for (int k = 0; k < 6; k++)
            a->status[k] += atomic_load_explicit(&e->status[k], memory_order_relaxed);
        for (int k = 0; k < MSN_PERF_BUCKETS; k++)
            a->buckets[k] += atomic_load_explicit(&e->buckets[k], memory_order_relaxed);
    }
}

/* Percentile from the histogram: the geometric middle of the bucket holding it. */
static double percentile_ms(const agg_t *a, double q)
{
    uint64_t total = 0;
    for (int k = 0; k < MSN_PERF_BUCKETS; k++)
        total += a->buckets[k];
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)total), seen = 0;
    for (int k = 0; k < MSN_PERF_BUCKETS; k++) {
        seen += a->buckets[k];
        if (seen >= rank && a->buckets[k]) {
            double lo = msn_perf_bucket_lower_us(k), hi = msn_perf_bucket_lower_us(k + 1);
            double mid = lo > 0 ? sqrt(lo * hi) : hi / 2;
            if (mid > (double)a->max_us)
                mid = (double)a->max_us;
            return mid / 1000.0;
        }
    }
    return (double)a->max_us / 1000.0;
}

static void ms1(msn_buf_t *b, double ms)
{
    msn_json_double(b, round(ms * 10) / 10);
}

static int cmp_slow(const void *x, const void *y)
{
    const msn_perf_slow_t *a = x, *b = y;
    return a->at_ms < b->at_ms ? 1 : a->at_ms > b->at_ms ? -1 : 0;
}

static double file_mb(const char *path, const char *suffix)
{
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof(p), "%s%s", path, suffix);
    return stat(p, &sb) == 0 ? round((double)sb.st_size / 1048576.0 * 10) / 10 : 0;
}

void msn_api_perf(msn_api_req_t *r)
{
    msn_buf_t *b = r->body;
    msn_master_status_t ms;
    msn_backfill_status_t bf;
    msn_status_read_master(r->st, &ms);
    msn_status_read_backfill(r->st, &bf);
    uint64_t total = 0, sum = 0;
    agg_t a;
    msn_buf_printf(b, "{\"uptime\":%lld", (long long)((r->now_ms - ms.started_at_ms) / 1000));
    /* endpoints (sorted keys, like Go maps) */
    int order[MSN_PERF_ENDPOINTS], n = 0;
    for (int i = 0; i < MSN_PERF_ENDPOINTS && msn_perf_endpoint_names[i]; i++)
        order[n++] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(msn_perf_endpoint_names[order[j - 1]], msn_perf_endpoint_names[order[j]]) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    msn_buf_t eps = MSN_BUF_INIT;
    int first = 1;
    for (int i = 0; i < n; i++) {
        aggregate(r->st, order[i], &a);
        if (a.count == 0)
            continue;
        total += a.count;
        sum += a.sum_us;
        msn_buf_printf(&eps, "%s\"%s\":{\"count\":%llu,\"avgMs\":", first ? "" : ",", msn_perf_endpoint_names[order[i]],
                       (unsigned long long)a.count);
        ms1(&eps, (double)a.sum_us / (double)a.count / 1000.0);
        msn_buf_puts(&eps, ",\"p50Ms\":");
        ms1(&eps, percentile_ms(&a, 0.50));
        msn_buf_puts(&eps, ",\"p95Ms\":");
        ms1(&eps, percentile_ms(&a, 0.95));
        msn_buf_puts(&eps, ",\"p99Ms\":");
        ms1(&eps, percentile_ms(&a, 0.99));
        msn_buf_puts(&eps, ",\"maxMs\":");
        ms1(&eps, (double)a.max_us / 1000.0);
        msn_buf_putc(&eps, '}');
        first = 0;
    }
    msn_buf_printf(b, ",\"totalRequests\":%llu,\"avgMs\":", (unsigned long long)total);
    ms1(b, total ? (double)sum / (double)total / 1000.0 : 0);
    msn_buf_puts(b, ",\"endpoints\":{");
    msn_buf_append(b, eps.data, eps.len);
    msn_buf_free(&eps);
    /* slow requests, newest first, at most 20 */
    msn_perf_slow_t all[MSN_STATUS_MAX_WORKERS * MSN_PERF_SLOW];
    int ns = 0;
    for (int w = 0; w < MSN_STATUS_MAX_WORKERS; w++)
        for (int k = 0; k < MSN_PERF_SLOW; k++)
            if (r->st->workers[w].slow[k].at_ms > 0)
                all[ns++] = r->st->workers[w].slow[k];
    qsort(all, (size_t)ns, sizeof(all[0]), cmp_slow);
    /* the newest 20, oldest first as CoreScope appends them (its perf page reverses the list) */
    msn_buf_puts(b, "},\"slowQueries\":[");
    int shown = ns < 20 ? ns : 20;
    for (int j = 0; j < shown; j++) {
        int i = shown - 1 - j;
        char t[32];
        msn_format_iso_s(t, all[i].at_ms / 1000);
        all[i].path[sizeof(all[i].path) - 1] = '\0';
        msn_buf_puts(b, j ? ",{\"path\":" : "{\"path\":");
        msn_json_strn(b, all[i].path, strlen(all[i].path));
        msn_buf_puts(b, ",\"ms\":");
        msn_json_double(b, all[i].ms_x10 / 10.0);
        msn_buf_printf(b, ",\"time\":\"%s\",\"status\":%d}", t, all[i].status);
    }
    msn_buf_puts(b, "]");
    /* CoreScope's cache block: everything is precomputed, so there are no misses to report */
    msn_buf_puts(b, ",\"cache\":{\"size\":0,\"hits\":0,\"misses\":0,\"staleHits\":0,\"recomputes\":0,\"hitRate\":100}");
    int64_t tx = r->txn ? r->meta.tx_count : 0, obs = r->txn ? r->meta.obs_count : 0;
    msn_buf_printf(b,
                   ",\"packetStore\":{\"totalLoaded\":%lld,\"totalObservations\":%lld,\"evicted\":0,\"inserts\":0,"
                   "\"queries\":%llu,\"inMemory\":%lld,\"sqliteOnly\":false,\"maxPackets\":0,\"estimatedMB\":0,"
                   "\"trackedMB\":0,\"maxMB\":0,\"indexes\":{\"byHash\":%lld,\"byObserver\":%lld,\"byNode\":%lld,"
                   "\"advertByObserver\":0},\"hotStartupHours\":0,\"backgroundLoadComplete\":%s,"
                   "\"backgroundLoadFailed\":false,\"backgroundLoadProgress\":%lld,\"retentionHours\":0,"
                   "\"loadCoverageRatio\":1}",
                   (long long)tx, (long long)obs, (unsigned long long)total, (long long)tx, (long long)tx,
                   (long long)ms.loaded_observers, (long long)ms.loaded_nodes,
                   ms.phase == MSN_PHASE_READY ? "true" : "false", (long long)ms.load_progress_tx);
    const char *db = r->db_path ? r->db_path : "";
    msn_buf_puts(b, ",\"sqlite\":{\"dbSizeMB\":");
    msn_json_double(b, file_mb(db, ""));
    msn_buf_puts(b, ",\"walSizeMB\":");
    msn_json_double(b, file_mb(db, "-wal"));
    msn_buf_printf(b,
                   ",\"freelistMB\":0,\"walPages\":{\"total\":0,\"checkpointed\":0,\"busy\":0},\"rows\":"
                   "{\"transmissions\":%lld,\"observations\":%lld,\"nodes\":%lld,\"observers\":%lld}}",
                   (long long)ms.loaded_tx, (long long)ms.loaded_obs, (long long)ms.loaded_nodes,
                   (long long)ms.loaded_observers);
    msn_buf_printf(b,
                   ",\"goRuntime\":{\"goroutines\":0,\"numGC\":0,\"pauseTotalMs\":0,\"lastPauseMs\":0,\"heapAllocMB\":0,"
                   "\"heapSysMB\":0,\"heapInuseMB\":0,\"heapIdleMB\":0,\"numCPU\":%ld}",
                   sysconf(_SC_NPROCESSORS_ONLN));
    /* meshsnap: snapshot and analytics */
    msn_buf_printf(b, ",\"snapshot\":{\"generation\":%llu,\"ageSec\":", (unsigned long long)(r->txn ? r->meta.gen : 0));
    if (r->txn)
        ms1(b, (double)(r->now_ms - r->meta.published_at_ms) / 1000.0);
    else
        msn_buf_puts(b, "null");
    msn_buf_printf(b, ",\"workerRestarts\":%lld,\"reloads\":%lld,\"lastFullLoadMs\":%lld}", (long long)ms.worker_restarts,
                   (long long)ms.reloads, (long long)ms.last_full_load_ms);
    msn_buf_puts(b, ",\"analytics\":{");
    first = 1;
    for (int i = 0; i < MSN_AN_COUNT && i < MSN_AN_SLOTS; i++) {
        const msn_analytic_status_t *an = &ms.an[i];
        msn_buf_printf(b, "%s\"%s\":{\"lastComputeMs\":%lld,\"ageSec\":", first ? "" : ",", msn_analytic_names[i],
                       (long long)an->last_compute_ms);
        if (an->last_published_at > 0)
            ms1(b, (double)(r->now_ms - an->last_published_at) / 1000.0);
        else
            msn_buf_puts(b, "null");
        msn_buf_printf(b, ",\"computes\":%lld,\"failures\":%lld,\"lastError\":", (long long)an->computes,
                       (long long)an->failures);
        an->last_error[0] ? msn_json_strn(b, an->last_error, strnlen(an->last_error, sizeof(an->last_error)))
                          : msn_buf_puts(b, "null");
        msn_buf_putc(b, '}');
        first = 0;
    }
    msn_buf_puts(b, "}");
    msn_api_ws_perf(b, r->st, &ms);
    msn_buf_puts(b, ",\"asyncMigrations\":");
    msn_api_migrations_json(b, &bf, r->now_ms);
    msn_buf_putc(b, '}');
    r->status = 200;
}

void msn_api_perf_summary(const msn_status_t *st, int ep, msn_api_perf_summary_t *out)
{
    agg_t a, one;
    memset(&a, 0, sizeof(a));
    for (int i = ep < 0 ? 0 : ep; i < MSN_PERF_ENDPOINTS && (ep < 0 || i == ep); i++) {
        aggregate(st, i, &one);
        a.count += one.count;
        a.sum_us += one.sum_us;
        if (one.max_us > a.max_us)
            a.max_us = one.max_us;
        for (int k = 0; k < MSN_PERF_BUCKETS; k++)
            a.buckets[k] += one.buckets[k];
    }
    out->count = a.count;
    out->sum_us = a.sum_us;
    out->max_us = a.max_us;
    out->p50_ms = percentile_ms(&a, 0.50);
    out->p95_ms = percentile_ms(&a, 0.95);
    out->p99_ms = percentile_ms(&a, 0.99);
}

void msn_api_perf_migrations(msn_api_req_t *r)
{
    msn_backfill_status_t bf;
    msn_status_read_backfill(r->st, &bf);
    msn_api_migrations_json(r->body, &bf, r->now_ms);
    r->status = 200;
}

/* ---- Prometheus text format 0.0.4 ---- */

static void help(msn_buf_t *b, const char *name, const char *type, const char *text)
{
    msn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void label_escaped(msn_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            msn_buf_putc(b, '\\');
        if (*s == '\n') {
            msn_buf_puts(b, "\\n");
            continue;
        }
        msn_buf_putc(b, *s);
    }
}

void msn_api_metrics(msn_api_req_t *r)
{
    static const double les[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
    msn_buf_t *b = r->body;
    msn_master_status_t ms;
    msn_backfill_status_t bf;
    msn_status_read_master(r->st, &ms);
    msn_status_read_backfill(r->st, &bf);
    agg_t a;
    help(b, "meshsnap_http_requests_total", "counter", "HTTP requests answered, by endpoint and status class.");
    static const char *classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < MSN_PERF_ENDPOINTS && msn_perf_endpoint_names[i]; i++) {
        aggregate(r->st, i, &a);
        for (int k = 0; k < 6; k++)
            if (a.status[k])
                msn_buf_printf(b, "meshsnap_http_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n",
                               msn_perf_endpoint_names[i], classes[k], (unsigned long long)a.status[k]);
    }
    help(b, "meshsnap_http_request_duration_seconds", "histogram", "Time to answer a request, by endpoint.");
    for (int i = 0; i < MSN_PERF_ENDPOINTS && msn_perf_endpoint_names[i]; i++) {
        aggregate(r->st, i, &a);
        if (a.count == 0)
            continue;
        const char *ep = msn_perf_endpoint_names[i];
        for (size_t l = 0; l < sizeof(les) / sizeof(les[0]); l++) {
            uint64_t c = 0;
            for (int k = 0; k < MSN_PERF_BUCKETS; k++)
                if (msn_perf_bucket_lower_us(k + 1) <= les[l] * 1e6)
                    c += a.buckets[k];
            msn_buf_printf(b, "meshsnap_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n", ep,
                           les[l], (unsigned long long)c);
        }
        msn_buf_printf(b, "meshsnap_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n", ep,
                       (unsigned long long)a.count);
        msn_buf_printf(b, "meshsnap_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ep, a.sum_us / 1e6);
        msn_buf_printf(b, "meshsnap_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", ep,
                       (unsigned long long)a.count);
    }
    help(b, "meshsnap_http_response_bytes_total", "counter", "Response body bytes sent, by endpoint.");
    for (int i = 0; i < MSN_PERF_ENDPOINTS && msn_perf_endpoint_names[i]; i++) {
        aggregate(r->st, i, &a);
        if (a.count)
            msn_buf_printf(b, "meshsnap_http_response_bytes_total{endpoint=\"%s\"} %llu\n", msn_perf_endpoint_names[i],
                           (unsigned long long)a.bytes);
    }
    long conns = 0;
    uint64_t accepted = 0;
    int workers = 0;
    for (int w = 0; w < MSN_STATUS_MAX_WORKERS; w++) {
        conns += atomic_load(&r->st->workers[w].connections);
        accepted += atomic_load(&r->st->workers[w].accepted);
        workers += atomic_load(&r->st->workers[w].pid) > 0;
    }
    help(b, "meshsnap_http_connections", "gauge", "Open client connections over all workers.");
    msn_buf_printf(b, "meshsnap_http_connections %ld\n", conns);
    help(b, "meshsnap_http_connections_accepted_total", "counter", "Client connections accepted.");
    msn_buf_printf(b, "meshsnap_http_connections_accepted_total %llu\n", (unsigned long long)accepted);
    help(b, "meshsnap_workers", "gauge", "Worker processes running.");
    msn_buf_printf(b, "meshsnap_workers %d\n", workers);
    help(b, "meshsnap_worker_restarts_total", "counter", "Workers respawned after they died.");
    msn_buf_printf(b, "meshsnap_worker_restarts_total %lld\n", (long long)ms.worker_restarts);
    help(b, "meshsnap_snapshot_generation", "gauge", "Generation of the snapshot being served.");
    msn_buf_printf(b, "meshsnap_snapshot_generation %llu\n", (unsigned long long)(r->txn ? r->meta.gen : 0));
    help(b, "meshsnap_snapshot_age_seconds", "gauge", "Seconds since the served snapshot was published.");
    msn_buf_printf(b, "meshsnap_snapshot_age_seconds %.3f\n",
                   r->txn ? (double)(r->now_ms - r->meta.published_at_ms) / 1000.0 : 0.0);
    help(b, "meshsnap_snapshot_transmissions", "gauge", "Transmissions in the served snapshot.");
    msn_buf_printf(b, "meshsnap_snapshot_transmissions %lld\n", (long long)(r->txn ? r->meta.tx_count : 0));
    help(b, "meshsnap_snapshot_observations", "gauge", "Observations in the served snapshot.");
    msn_buf_printf(b, "meshsnap_snapshot_observations %lld\n", (long long)(r->txn ? r->meta.obs_count : 0));
    help(b, "meshsnap_sqlite_poll_lag_seconds", "gauge", "Seconds since the master last polled SQLite successfully.");
    msn_buf_printf(b, "meshsnap_sqlite_poll_lag_seconds %.3f\n",
                   ms.last_poll_at_ms > 0 ? (double)(r->now_ms - ms.last_poll_at_ms) / 1000.0 : 0.0);
    help(b, "meshsnap_analytic_compute_seconds", "gauge", "Duration of the last computation of each analytic.");
    for (int i = 0; i < MSN_AN_COUNT && i < MSN_AN_SLOTS; i++)
        msn_buf_printf(b, "meshsnap_analytic_compute_seconds{analytic=\"%s\"} %.3f\n", msn_analytic_names[i],
                       ms.an[i].last_compute_ms / 1000.0);
    help(b, "meshsnap_analytic_age_seconds", "gauge", "Seconds since each analytic was last published.");
    for (int i = 0; i < MSN_AN_COUNT && i < MSN_AN_SLOTS; i++)
        if (ms.an[i].last_published_at > 0)
            msn_buf_printf(b, "meshsnap_analytic_age_seconds{analytic=\"%s\"} %.3f\n", msn_analytic_names[i],
                           (double)(r->now_ms - ms.an[i].last_published_at) / 1000.0);
    help(b, "meshsnap_analytic_failures_total", "counter", "Failed computations of each analytic.");
    for (int i = 0; i < MSN_AN_COUNT && i < MSN_AN_SLOTS; i++)
        msn_buf_printf(b, "meshsnap_analytic_failures_total{analytic=\"%s\"} %lld\n", msn_analytic_names[i],
                       (long long)ms.an[i].failures);
    help(b, "meshsnap_backfill_rows_processed", "gauge", "Rows processed by each migration.");
    for (int i = 0; i < bf.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++) {
        bf.mig[i].name[sizeof(bf.mig[i].name) - 1] = '\0';
        msn_buf_puts(b, "meshsnap_backfill_rows_processed{migration=\"");
        label_escaped(b, bf.mig[i].name);
        msn_buf_printf(b, "\"} %lld\n", (long long)bf.mig[i].rows_processed);
    }
    help(b, "meshsnap_backfill_rows_remaining", "gauge", "Rows left for each migration.");
    for (int i = 0; i < bf.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++) {
        int64_t left = bf.mig[i].rows_total - bf.mig[i].rows_processed;
        msn_buf_puts(b, "meshsnap_backfill_rows_remaining{migration=\"");
        label_escaped(b, bf.mig[i].name);
        msn_buf_printf(b, "\"} %lld\n", (long long)(left > 0 && bf.mig[i].status == MSN_MIG_RUNNING ? left : 0));
    }
    msn_api_ws_metrics(b, r->st, &ms);
    msn_api_ingest_metrics(r, b);
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    r->status = 200;
}
