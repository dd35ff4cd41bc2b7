/*
 * api_health.c: GET /api/health, /api/perf/io, /api/perf/sqlite and /api/perf/write-sources
 * in CoreScope's shapes, with the figures meshsnap has:
 *
 *   /api/health        engine "c". memory: the resident set (rss) and the anonymous resident
 *                      memory (heapUsed) summed over meshsnap's processes (master, workers,
 *                      backfiller), and the machine's memory (heapTotal, MemTotal), in MB:
 *                      the page warns when heapUsed passes 70% of it. eventLoop: how long a
 *                      request holds a worker's event loop (every handler runs to completion
 *                      on it): percentiles and maximum over all requests, and the mean as
 *                      currentLagMs. cache: the snapshot answers everything (no misses).
 *                      version and commit are "unknown" (the frontend would link them to
 *                      CoreScope's releases); meshsnap's own version is in serverVersion.
 *   /api/perf/io       read, write and cancelled-write bytes per second and read/write
 *                      system calls per second of meshsnap's processes (/proc/PID/io), over
 *                      the interval since this worker's previous answer (0 on its first)
 *   /api/perf/sqlite   the database's page size (from its header), page count (file size /
 *                      page size) and WAL size; meshsnap's readers never query SQLite, so
 *                      cacheSize and cacheHitRate are 0
 *   /api/perf/write-sources  rows written by each backfill migration, as backfill_<name>
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "shm/json.h"
#include "shm/timeutil.h"

#define MAX_PIDS (MSN_STATUS_MAX_WORKERS + 2)

/* The pids of meshsnap's processes, from the status block. */
static int meshsnap_pids(msn_status_t *st, int pids[MAX_PIDS])
{
    msn_master_status_t ms;
    msn_backfill_status_t bf;
    msn_status_read_master(st, &ms);
    msn_status_read_backfill(st, &bf);
    int n = 0;
    if (ms.pid > 0)
        pids[n++] = ms.pid;
    if (bf.pid > 0)
        pids[n++] = bf.pid;
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS && n < MAX_PIDS; i++) {
        int pid = atomic_load(&st->workers[i].pid);
        if (pid > 0)
            pids[n++] = pid;
    }
    return n;
}

/* Sums "name: value" fields of /proc/PID/<file> over pids into out[i] (names[i]).
 * Returns how many processes could be read. */
static int proc_sum(const int *pids, int n, const char *file, const char *const *names, int nn, uint64_t *out)
{
    int read_ok = 0;
    memset(out, 0, sizeof(*out) * (size_t)nn);
    for (int p = 0; p < n; p++) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/%s", pids[p], file);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        read_ok++;
        while (fgets(line, sizeof(line), f)) {
            for (int i = 0; i < nn; i++) {
                size_t l = strlen(names[i]);
                if (strncmp(line, names[i], l) == 0 && line[l] == ':')
                    out[i] += strtoull(line + l + 1, NULL, 10);
            }
        }
        fclose(f);
    }
    return read_ok;
}

static void ms1(msn_buf_t *b, double ms)
{
    msn_json_double(b, (double)(int64_t)(ms * 10 + 0.5) / 10);
}

static int cmp_slow_asc(const void *x, const void *y)
{
    const msn_perf_slow_t *a = x, *b = y;
    return a->at_ms < b->at_ms ? -1 : a->at_ms > b->at_ms ? 1 : 0;
}

void msn_api_health(msn_api_req_t *r)
{
    msn_buf_t *b = r->body;
    msn_master_status_t ms;
    msn_status_read_master(r->st, &ms);
    int64_t up = ms.started_at_ms > 0 ? (r->now_ms - ms.started_at_ms) / 1000 : 0;
    if (up < 0)
        up = 0;
    int pids[MAX_PIDS];
    int np = meshsnap_pids(r->st, pids);
    static const char *const mem_names[] = {"VmRSS", "RssAnon"};
    uint64_t mem[3];
    proc_sum(pids, np, "status", mem_names, 2, mem);
    FILE *mi = fopen("/proc/meminfo", "re");
    char line[128];
    mem[2] = 0;
    while (mi && fgets(line, sizeof(line), mi))
        if (strncmp(line, "MemTotal:", 9) == 0)
            mem[2] = strtoull(line + 9, NULL, 10);
    if (mi)
        fclose(mi);
    msn_api_perf_summary_t all;
    msn_api_perf_summary(r->st, -1, &all);
    double avg = all.count ? (double)all.sum_us / (double)all.count / 1000.0 : 0;
    msn_buf_printf(b, "{\"status\":\"ok\",\"engine\":\"c\",\"version\":\"unknown\",\"commit\":\"unknown\","
                      "\"buildTime\":\"unknown\",\"uptime\":%lld,\"uptimeHuman\":\"%lldh %lldm\"",
                   (long long)up, (long long)(up / 3600), (long long)(up % 3600 / 60));
    msn_buf_printf(b, ",\"memory\":{\"rss\":%llu,\"heapUsed\":%llu,\"heapTotal\":%llu,\"external\":0}",
                   (unsigned long long)(mem[0] / 1024), (unsigned long long)(mem[1] / 1024),
                   (unsigned long long)(mem[2] / 1024));
    msn_buf_puts(b, ",\"eventLoop\":{\"currentLagMs\":");
    ms1(b, avg);
    msn_buf_puts(b, ",\"maxLagMs\":");
    ms1(b, (double)all.max_us / 1000.0);
    msn_buf_puts(b, ",\"p50Ms\":");
    ms1(b, all.p50_ms);
    msn_buf_puts(b, ",\"p95Ms\":");
    ms1(b, all.p95_ms);
    msn_buf_puts(b, ",\"p99Ms\":");
    ms1(b, all.p99_ms);
    msn_buf_puts(b, "},\"cache\":{\"entries\":0,\"hits\":0,\"misses\":0,\"staleHits\":0,\"recomputes\":0,\"hitRate\":100}");
    /* no live feed is counted in the status block yet */
    msn_buf_puts(b, ",\"websocket\":{\"clients\":0}");
    msn_buf_printf(b, ",\"packetStore\":{\"packets\":%lld,\"estimatedMB\":0,\"trackedMB\":0}",
                   (long long)(r->txn ? r->meta.tx_count : 0));
    /* slow requests (the rings of every worker): their count and the newest five, oldest first */
    msn_perf_slow_t slow[MSN_STATUS_MAX_WORKERS * MSN_PERF_SLOW];
    int ns = 0;
    for (int w = 0; w < MSN_STATUS_MAX_WORKERS; w++)
        for (int k = 0; k < MSN_PERF_SLOW; k++)
            if (r->st->workers[w].slow[k].at_ms > 0)
                slow[ns++] = r->st->workers[w].slow[k];
    qsort(slow, (size_t)ns, sizeof(slow[0]), cmp_slow_asc);
    msn_buf_printf(b, ",\"perf\":{\"totalRequests\":%llu,\"avgMs\":", (unsigned long long)all.count);
    ms1(b, avg);
    msn_buf_printf(b, ",\"slowQueries\":%d,\"recentSlow\":[", ns);
    for (int i = ns > 5 ? ns - 5 : 0, first = 1; i < ns; i++, first = 0) {
        char t[32];
        slow[i].path[sizeof(slow[i].path) - 1] = '\0';
        msn_format_iso_ms(t, slow[i].at_ms);
        msn_buf_puts(b, first ? "{\"path\":" : ",{\"path\":");
        msn_json_strn(b, slow[i].path, strlen(slow[i].path));
        msn_buf_puts(b, ",\"ms\":");
        msn_json_double(b, slow[i].ms_x10 / 10.0);
        msn_buf_printf(b, ",\"time\":\"%s\",\"status\":%d}", t, slow[i].status);
    }
    msn_buf_printf(b, "]},\"server\":\"meshsnap\",\"serverVersion\":\"%s\",\"processes\":%d}", MESHSNAP_VERSION, np);
    r->status = 200;
}

void msn_api_perf_io(msn_api_req_t *r)
{
    static const char *const names[] = {"read_bytes", "write_bytes", "cancelled_write_bytes", "syscr", "syscw"};
    static const char *const keys[] = {"readBytesPerSec", "writeBytesPerSec", "cancelledWriteBytesPerSec",
                                       "syscallsRead", "syscallsWrite"};
    int pids[MAX_PIDS];
    int np = meshsnap_pids(r->st, pids);
    uint64_t now[5];
    int readable = proc_sum(pids, np, "io", names, 5, now);
    double rate[5] = {0};
    msn_api_state_t *s = r->state;
    if (s && s->io_at_ms > 0 && r->now_ms > s->io_at_ms) {
        double dt = (double)(r->now_ms - s->io_at_ms) / 1000.0;
        for (int i = 0; i < 5; i++)
            rate[i] = now[i] > s->io[i] ? (double)(now[i] - s->io[i]) / dt : 0; /* a process that ended: 0 */
    }
    if (s && readable > 0) {
        s->io_at_ms = r->now_ms;
        memcpy(s->io, now, sizeof(now));
    }
    msn_buf_putc(r->body, '{');
    for (int i = 0; i < 5; i++) {
        msn_buf_printf(r->body, "%s\"%s\":", i ? "," : "", keys[i]);
        msn_json_double(r->body, (double)(int64_t)(rate[i] * 10) / 10);
    }
    msn_buf_printf(r->body, ",\"processes\":%d}", readable);
    r->status = 200;
}

void msn_api_perf_sqlite(msn_api_req_t *r)
{
    const char *db = r->db_path ? r->db_path : "";
    struct stat sb;
    int64_t wal = 0, size = 0, page_size = 0;
    char p[4200];
    snprintf(p, sizeof(p), "%s-wal", db);
    if (stat(p, &sb) == 0)
        wal = sb.st_size;
    /* the page size is bytes 16-17 of the database header (big-endian; 1 means 65536):
       read with pread, no SQLite connection and no lock */
    int fd = *db ? open(db, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
    if (fd >= 0) {
        unsigned char h[18];
        if (fstat(fd, &sb) == 0)
            size = sb.st_size;
        if (pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) && memcmp(h, "SQLite format 3", 16) == 0) {
            page_size = h[16] << 8 | h[17];
            if (page_size == 1)
                page_size = 65536;
        }
        close(fd);
    }
    msn_buf_puts(r->body, "{\"walSizeMB\":");
    msn_json_double(r->body, (double)(int64_t)((double)wal / 1048576.0 * 100) / 100);
    msn_buf_printf(r->body, ",\"walSize\":%lld,\"pageCount\":%lld,\"pageSize\":%lld,\"cacheSize\":0,\"cacheHitRate\":0}",
                   (long long)wal, (long long)(page_size > 0 ? size / page_size : 0), (long long)page_size);
    r->status = 200;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const msn_migration_status_t *)a)->name, ((const msn_migration_status_t *)b)->name);
}

void msn_api_perf_write_sources(msn_api_req_t *r)
{
    msn_backfill_status_t bf;
    msn_status_read_backfill(r->st, &bf);
    int n = bf.n_migrations < MSN_STATUS_MAX_MIGRATIONS ? bf.n_migrations : MSN_STATUS_MAX_MIGRATIONS;
    if (n < 0)
        n = 0;
    for (int i = 0; i < n; i++)
        bf.mig[i].name[sizeof(bf.mig[i].name) - 1] = '\0';
    qsort(bf.mig, (size_t)n, sizeof(bf.mig[0]), cmp_name);
    char now[40];
    msn_format_iso_ms(now, r->now_ms);
    msn_buf_printf(r->body, "{\"sampleAt\":\"%s\",\"sources\":{", now);
    for (int i = 0, first = 1; i < n; i++) {
        if (bf.mig[i].name[0] == '\0')
            continue;
        char key[64];
        snprintf(key, sizeof(key), "backfill_%s", bf.mig[i].name);
        msn_buf_puts(r->body, first ? "" : ",");
        msn_json_strn(r->body, key, strlen(key));
        msn_buf_printf(r->body, ":%lld", (long long)bf.mig[i].rows_processed);
        first = 0;
    }
    msn_buf_puts(r->body, "},\"writer_perf\":{}}");
    r->status = 200;
}
