/*
 * rateprobe.c: HTTP latency at a fixed request rate (open loop), for the benchmarks.
 *
 *   rateprobe HOST PORT PATH RATE CONNECTIONS SECONDS
 *
 * Request i is due at start + i / RATE and goes out on connection i % CONNECTIONS
 * (HTTP/1.1 keep-alive GET, one request at a time per connection). Its latency runs from
 * the moment it was due to the end of its response, so a server that stalls is charged
 * for every request that waited behind the stall (no coordinated omission: a closed-loop
 * tool such as wrk sends nothing while a connection waits, and does not count what it
 * would have sent). The load does not depend on the server's speed, so two runs at the
 * same RATE compare the server's latency under two conditions, not two loads.
 *
 * It runs for SECONDS, or until SIGTERM or SIGINT (no request is due after that), then
 * prints one JSON line: requests due, answered (2xx/3xx), failed (other status, closed
 * connection), the achieved rate, and latency percentiles in milliseconds (50, 90, 99,
 * 99.9, max). A request still unanswered 10 s after the run counts as failed.
 *
 * The probe stands for clients on other machines: it asks the scheduler for a short slice
 * (0.1 ms, Linux 6.12 and later), so that on a busy machine it sends and reads when due
 * instead of adding its own scheduling delay to the server's latency.
 *
 * Built by the benchmark scripts with `cc -O2`; standard C and Linux only (epoll).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    int busy;           /* a request is out */
    int64_t due_ns;     /* when the request out was due */
    uint64_t queued;    /* requests due on this connection and not yet sent */
    int64_t *queue;     /* their due times (ring of cap entries) */
    uint64_t q_head, cap;
    char buf[65536];
    size_t have;
} conn_t;

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* A short scheduling slice for this process (struct sched_attr, SCHED_ATTR_SIZE_VER1);
   an older kernel keeps its default. */
static void short_slice(void)
{
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
        uint32_t util_min, util_max;
    } a;
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.runtime = 100000;
    (void)syscall(SYS_sched_setattr, 0, &a, 0);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int connect_to(const char *host, int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The length of the complete response at the start of c->buf (headers and body), 0 when
   incomplete, -1 when it cannot be parsed; *status gets its status code. */
static long response_len(const conn_t *c, int *status)
{
    const char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
    if (end == NULL)
        return c->have >= sizeof(c->buf) ? -1 : 0;
    size_t head = (size_t)(end - c->buf) + 4;
    if (sscanf(c->buf, "HTTP/1.%*d %d", status) != 1)
        return -1;
    long body = 0;
    for (const char *p = c->buf; p < end; p++) {
        if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
            body = strtol(p + 15, NULL, 10);
            break;
        }
    }
    if (body < 0 || head + (size_t)body > sizeof(c->buf))
        return -1;
    return c->have >= head + (size_t)body ? (long)(head + (size_t)body) : 0;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: rateprobe HOST PORT PATH RATE CONNECTIONS SECONDS\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3];
    int port = atoi(argv[2]), nconn = atoi(argv[5]);
    double rate = atof(argv[4]), seconds = atof(argv[6]);
    if (port <= 0 || nconn <= 0 || rate <= 0 || seconds <= 0) {
        fprintf(stderr, "rateprobe: bad arguments\n");
        return 2;
    }
    uint64_t total = (uint64_t)(rate * seconds);
    char req[1024];
    int req_len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: rateprobe\r\n\r\n", path,
                           host, port);
    if (req_len <= 0 || (size_t)req_len >= sizeof(req))
        return 2;
    int64_t *lat = calloc(total + 1, sizeof(int64_t));
    conn_t *cs = calloc((size_t)nconn, sizeof(conn_t));
    int ep = epoll_create1(0);
    if (lat == NULL || cs == NULL || ep < 0)
        return 1;
    for (int i = 0; i < nconn; i++) {
        cs[i].cap = total / (uint64_t)nconn + 2;
        cs[i].queue = calloc(cs[i].cap, sizeof(int64_t));
        cs[i].fd = connect_to(host, port);
        if (cs[i].queue == NULL || cs[i].fd < 0) {
            fprintf(stderr, "rateprobe: cannot connect to %s:%d\n", host, port);
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    short_slice();
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake up when a request is due, not up to 50 us later */
    usleep(100000);                /* the connections are established before the clock starts */
    uint64_t next = 0, answered = 0, failed = 0, nlat = 0;
    int64_t start = now_ns(), period = (int64_t)(1e9 / rate);
    int64_t deadline = start + (int64_t)(seconds * 1e9) + 10 * (int64_t)1000000000;
    while (answered + failed < total && now_ns() < deadline) {
        int64_t t = now_ns();
        if (stop_flag && next < total) {
            total = next; /* nothing is due from now on: wait for what is out */
            deadline = t + 10 * (int64_t)1000000000;
            continue;
        }
        /* queue every request now due on its connection */
        for (; next < total && start + (int64_t)next * period <= t; next++) {
            conn_t *c = &cs[next % (uint64_t)nconn];
            c->queue[(c->q_head + c->queued) % c->cap] = start + (int64_t)next * period;
            c->queued++;
        }
        for (int i = 0; i < nconn; i++) {
            conn_t *c = &cs[i];
            if (c->busy || c->queued == 0 || c->fd < 0)
                continue;
            c->due_ns = c->queue[c->q_head % c->cap];
            c->q_head++;
            c->queued--;
            if (write(c->fd, req, (size_t)req_len) != req_len) {
                failed++; /* a short write of a 100-byte request: the connection is broken */
                continue;
            }
            c->busy = 1;
        }
        /* sleep until the next request is due (to the microsecond: no spinning, and no
           batching that would charge the probe's own delay to the server) */
        int64_t gap = 1000000;
        if (next < total) {
            gap = start + (int64_t)next * period - now_ns();
            if (gap < 0)
                gap = 0;
        }
        struct timespec to = {(time_t)(gap / 1000000000), (long)(gap % 1000000000)};
        struct epoll_event evs[64];
        int n = epoll_pwait2(ep, evs, 64, &to, NULL);
        if (n < 0)
            n = 0; /* EINTR: a signal */
        for (int k = 0; k < n; k++) {
            conn_t *c = &cs[evs[k].data.u32];
            ssize_t r = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                failed += (uint64_t)c->busy + c->queued;
                c->busy = 0;
                c->queued = 0;
                continue;
            }
            c->have += (size_t)r;
            int status = 0;
            long len = response_len(c, &status);
            if (len < 0) {
                fprintf(stderr, "rateprobe: cannot parse a response\n");
                return 1;
            }
            if (len == 0)
                continue;
            memmove(c->buf, c->buf + len, c->have - (size_t)len);
            c->have -= (size_t)len;
            c->busy = 0;
            if (status >= 200 && status < 400) {
                answered++;
                lat[nlat++] = now_ns() - c->due_ns;
            } else {
                failed++;
            }
        }
    }
    double took = (now_ns() - start) / 1e9;
    failed += total - answered - failed;
    qsort(lat, nlat, sizeof(int64_t), cmp_i64);
#define PCT(p) (nlat ? lat[(uint64_t)((p) / 100.0 * (double)(nlat - 1) + 0.5)] / 1e6 : 0.0)
    printf("{\"due\": %llu, \"answered\": %llu, \"failed\": %llu, \"rate\": %.1f, \"latency_ms\": {\"50\": %.3f, "
           "\"90\": %.3f, \"99\": %.3f, \"99.9\": %.3f, \"max\": %.3f}}\n",
           (unsigned long long)total, (unsigned long long)answered, (unsigned long long)failed, answered / took,
           PCT(50), PCT(90), PCT(99), PCT(99.9), nlat ? lat[nlat - 1] / 1e6 : 0.0);
    for (int i = 0; i < nconn; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].queue);
    }
    free(cs);
    free(lat);
    close(ep);
    return 0;
}
