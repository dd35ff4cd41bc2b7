/*
 * wsbench.c: many idle WebSocket clients of meshsnap's live feed, for tests/bench/ws.py.
 *
 *   wsbench HOST PORT N [ORIGIN]
 *
 * Opens N connections, sends each the handshake and waits for its 101, then prints
 * "connected N" (or "failed K" and exits 1 when a handshake fails). From then on it reads
 * every frame, answers pings, and for each text message takes the first "hash":"<hex>"
 * (the benchmark's writer sets the hash to its insert time in microseconds since the
 * epoch) and records now minus that time. On SIGTERM or SIGINT, or when stdin closes, it
 * prints one JSON line: messages, per-connection minimum and maximum, connections closed
 * by the server, and lag percentiles in milliseconds.
 *
 * Built by ws.py with `cc -O2`; standard C and Linux only (epoll).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUCKET_US 100
#define N_BUCKETS 200000 /* 20 s */

typedef struct {
    int fd;
    int open;    /* handshake done */
    int closed;
    char *buf;
    size_t len, cap;
    uint64_t msgs;
} conn_t;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t hist[N_BUCKETS + 1];
static uint64_t n_lag, lag_max_us;

static void record(uint64_t lag_us)
{
    uint64_t b = lag_us / BUCKET_US;
    hist[b > N_BUCKETS ? N_BUCKETS : b]++;
    n_lag++;
    if (lag_us > lag_max_us)
        lag_max_us = lag_us;
}

static double pct_ms(double q)
{
    uint64_t rank = (uint64_t)(q * (double)n_lag + 0.5), seen = 0;
    if (rank < 1)
        rank = 1;
    for (int i = 0; i <= N_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank)
            return (i + 0.5) * BUCKET_US / 1000.0;
    }
    return lag_max_us / 1000.0;
}

static void text_message(const char *p, size_t n)
{
    static const char key[] = "\"hash\":\"";
    const char *h = memmem(p, n, key, sizeof(key) - 1);
    if (h == NULL)
        return;
    h += sizeof(key) - 1;
    uint64_t v = 0;
    int digits = 0;
    while (h < p + n && digits < 16) {
        char c = *h++;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v << 4 | (uint64_t)d;
        digits++;
    }
    uint64_t t = now_us();
    if (digits == 16 && v <= t && t - v < 3600ull * 1000000u) /* a benchmark packet */
        record(t - v);
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void pong(int fd, const uint8_t *payload, size_t n)
{
    uint8_t f[2 + 4 + 125];
    f[0] = 0x8A;
    f[1] = (uint8_t)(0x80 | n);
    memset(f + 2, 0, 4); /* a zero mask */
    memcpy(f + 6, payload, n);
    send_all(fd, f, 6 + n);
}

/* Handles the complete frames in c->buf. */
static void frames(conn_t *c)
{
    size_t off = 0;
    for (;;) {
        uint8_t *b = (uint8_t *)c->buf + off;
        size_t avail = c->len - off;
        if (avail < 2)
            break;
        uint64_t len = b[1] & 0x7F;
        size_t h = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = (uint64_t)b[2] << 8 | b[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | b[2 + i];
            h = 10;
        }
        if (avail < h + len)
            break;
        int op = b[0] & 0x0F;
        if (op == 0x1) {
            c->msgs++;
            text_message((const char *)b + h, (size_t)len);
        } else if (op == 0x9 && len <= 125) {
            pong(c->fd, b + h, (size_t)len);
        } else if (op == 0x8) {
            c->closed = 1;
        }
        off += h + (size_t)len;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static int on_readable(conn_t *c)
{
    for (;;) {
        if (c->cap - c->len < 65536) {
            c->cap = c->cap * 2 + 65536;
            c->buf = realloc(c->buf, c->cap);
            if (c->buf == NULL)
                abort();
        }
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return 0;
        if (r <= 0) {
            c->closed = 1;
            return -1;
        }
        c->len += (size_t)r;
        if (!c->open) {
            char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (e == NULL)
                continue;
            if (c->len < 12 || memcmp(c->buf, "HTTP/1.1 101", 12) != 0)
                return -1;
            c->open = 1;
            size_t hl = (size_t)(e + 4 - c->buf);
            memmove(c->buf, c->buf + hl, c->len - hl);
            c->len -= hl;
        }
        frames(c);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: wsbench HOST PORT N [ORIGIN]\n");
        return 2;
    }
    const char *host = argv[1], *origin = argc > 4 ? argv[4] : NULL;
    int port = atoi(argv[2]), n = atoi(argv[3]);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    conn_t *cs = calloc((size_t)n, sizeof(*cs));
    int ep = epoll_create1(0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    char req[512];
    int rl = snprintf(req, sizeof(req),
                      "GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                      host, port, origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "");
    int opened = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        conn_t *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            perror("connect");
            return 1;
        }
        send_all(c->fd, req, (size_t)rl);
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    struct epoll_event evs[256];
    int announced = 0;
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    while (!stop_flag) {
        if (!announced && opened + failed == n) {
            printf(failed ? "failed %d\n" : "connected %d\n", failed ? failed : opened);
            fflush(stdout);
            if (failed)
                return 1;
            announced = 1;
            fcntl(0, F_SETFL, O_NONBLOCK);
            epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev); /* stdin: its end stops the run */
        }
        int k = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < k; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL) {
                char tmp[64];
                if (read(0, tmp, sizeof(tmp)) <= 0)
                    stop_flag = 1;
                continue;
            }
            int was_open = c->open;
            int rc = on_readable(c);
            if (!was_open && c->open)
                opened++;
            if (rc < 0) {
                if (!c->open)
                    failed++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            }
        }
    }
    uint64_t total = 0, mn = UINT64_MAX, mx = 0;
    int closed = 0;
    for (int i = 0; i < n; i++) {
        total += cs[i].msgs;
        if (cs[i].msgs < mn)
            mn = cs[i].msgs;
        if (cs[i].msgs > mx)
            mx = cs[i].msgs;
        closed += cs[i].closed;
    }
    printf("{\"connections\":%d,\"messages\":%llu,\"per_conn_min\":%llu,\"per_conn_max\":%llu,\"closed\":%d,"
           "\"lag_samples\":%llu,\"lag_ms\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f}}\n",
           n, (unsigned long long)total, (unsigned long long)(n ? mn : 0), (unsigned long long)mx, closed,
           (unsigned long long)n_lag, pct_ms(0.5), pct_ms(0.9), pct_ms(0.99), lag_max_us / 1000.0);
    return 0;
}
