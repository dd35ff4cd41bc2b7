/* anrun.c: see anrun.h. */
#include "anrun.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "child.h"
#include "shm/etag.h"
#include "shm/log.h"
#include "shm/proc.h"
#include "shm/sched.h"
#include "shm/status.h"
#include "shm/timeutil.h"

#define TRAILER UINT32_MAX

typedef struct {
    uint32_t job;
    int32_t rc;
    uint32_t ms;
    uint32_t len;
    uint32_t gz_len;
} rec_t;

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * The child of the fork, a copy of the whole master process with one thread. What it
 * inherits and what it does with it:
 *
 * - The store: read, never written (copy-on-write pages, so the publisher thread goes on
 *   changing its own copy meanwhile).
 * - The publisher's SQLite connection (sqlite3 *) and the LMDB write environment
 *   (MDB_env *), the status block mapping, and whatever the supervisor thread held: never
 *   used, never closed through their libraries. sqlite3_close in a child can act on the
 *   parent's files (it may checkpoint, or delete the WAL when it believes it is the last
 *   connection) and LMDB forbids any use of an environment after fork(), mdb_env_close
 *   included. The fork happens on the publisher thread between two of its steps, never
 *   inside an SQLite statement or an LMDB transaction, so no state of either is half-way.
 * - File descriptors: all but stdin, stdout, stderr and the pipe are closed first thing,
 *   with close(2) only (close_range). That releases nothing of the parent's: fcntl locks
 *   belong to the process that took them and are not inherited, and the parent's
 *   descriptors stay open. The child then holds no database file, no LMDB lock file and
 *   no listening socket, whatever it runs into later.
 * - Locks: it calls no function that takes a lock another thread may have held at the
 *   fork (no stdio, no SQLite, no LMDB; the log is vsnprintf + gmtime_r + write(2);
 *   glibc makes malloc safe after fork).
 * - Memory it writes: its own copies only (the log role, the process title over its copy
 *   of the command line, its buffers).
 * - Exit: _exit only, which runs no atexit handler and flushes no stdio buffer copied
 *   from the parent; a failed write ends it with _exit(1).
 */
static void child_main(int fd, pid_t parent, const msn_store_t *s, const msn_anjob_t *jobs, int n, int64_t now_ms)
{
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1); /* the master died before the line above */
    msn_log_set_role("analytics");
    msn_proc_set_title("analytics"); /* "meshsnapd: analytics" in ps, once the descriptors are closed */
    /* background work: on a busy machine the workers answering requests go first */
    (void)msn_sched_own_group(10);
    (void)msn_sched_background(10);
    msn_buf_t body = MSN_BUF_INIT, gz = MSN_BUF_INIT;
    msn_an_run_t *run = msn_an_run_new(s); /* indexes shared by the jobs, built on first use */
    for (int i = 0; i < n; i++) {
        msn_anshape_t shape;
        char err[256] = "";
        msn_buf_reset(&body);
        msn_buf_reset(&gz);
        int64_t t0 = msn_mono_ms();
        int rc = msn_anshape_from_key(jobs[i].key, &shape);
        if (jobs[i].inject == 2)
            kill(getpid(), SIGKILL); /* a computing process that dies, without a core or report */
        if (jobs[i].inject == 1) {
            rc = -1;
            snprintf(err, sizeof(err), "injected failure (MESHSNAP_TEST_ANALYTICS_FAIL)");
        } else if (rc < 0) {
            snprintf(err, sizeof(err), "malformed shape key '%s'", jobs[i].key);
        } else {
            msn_an_shape_t sh = {shape.region[0] ? shape.region : NULL,
                                 shape.from_ms,
                                 shape.to_ms,
                                 shape.area[0] ? shape.area : NULL,
                                 NULL,
                                 shape.param[0] ? shape.param : NULL};
            if (shape.window[0]) {
                sh.from_ms = now_ms - msn_anshape_window_ms(shape.window);
                sh.to_ms = 0;
                sh.window = shape.window;
            }
            rc = msn_analytic_compute_run(run, jobs[i].an, s, &sh, now_ms, &body, err, sizeof(err));
            if (rc == 0 && msn_gzip(body.data, body.len, 6, &gz) < 0) {
                rc = -1;
                snprintf(err, sizeof(err), "gzip failed");
            }
        }
        rec_t rec = {(uint32_t)i, rc, (uint32_t)(msn_mono_ms() - t0), 0, 0};
        const void *payload = body.data;
        if (rc != 0) {
            if (!err[0])
                snprintf(err, sizeof(err), "computation failed");
            payload = err;
            rec.len = (uint32_t)strlen(err);
        } else {
            rec.len = (uint32_t)body.len;
            rec.gz_len = (uint32_t)gz.len;
        }
        if (write_all(fd, &rec, sizeof(rec)) < 0 || write_all(fd, payload, rec.len) < 0 ||
            (rec.gz_len && write_all(fd, gz.data, rec.gz_len) < 0))
            _exit(1);
    }
    rec_t end = {TRAILER, 0, 0, 0, 0};
    _exit(write_all(fd, &end, sizeof(end)) < 0 ? 1 : 0);
}

int msn_anrun_start(msn_anrun_t *r, const msn_store_t *s, const msn_anjob_t *jobs, int n, int64_t now_ms)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0)
        child_main(p[1], parent, s, jobs, n, now_ms); /* never returns */
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    r->pid = pid;
    r->fd = p[0];
    r->jobs = msn_xmalloc((size_t)(n ? n : 1) * sizeof(msn_anjob_t));
    memcpy(r->jobs, jobs, (size_t)n * sizeof(msn_anjob_t));
    r->n_jobs = n;
    msn_buf_reset(&r->in);
    r->started_ms = msn_now_ms();
    r->done = 0;
    r->reaped = 0;
    r->status = 0;
    return 0;
}

/* Waits for the child (block: it has closed the pipe, so it is gone or going). */
static void reap(msn_anrun_t *r, int block)
{
    if (r->pid <= 0 || r->reaped)
        return;
    int rc = msn_child_reap(r->pid, block, &r->status);
    if (rc > 0) {
        r->reaped = 1;
    } else if (rc < 0) {
        /* cannot happen while this thread alone waits for it; never signal that pid again */
        msn_error("analytics: cannot wait for the computing process (pid %d): %s", (int)r->pid, strerror(-rc));
        r->reaped = 1;
        r->status = -1;
    }
}

/* Scans the buffer for complete records; sets done at the trailer. -1 on garbage. */
static int scan(msn_anrun_t *r)
{
    size_t pos = 0;
    while (r->in.len - pos >= sizeof(rec_t)) {
        rec_t rec;
        memcpy(&rec, r->in.data + pos, sizeof(rec));
        if (rec.job == TRAILER) {
            r->done = 1;
            return 0;
        }
        if (rec.job >= (uint32_t)r->n_jobs)
            return -1;
        size_t need = sizeof(rec) + rec.len + rec.gz_len;
        if (r->in.len - pos < need)
            return 0;
        pos += need;
    }
    return 0;
}

int msn_anrun_poll(msn_anrun_t *r)
{
    if (r->pid == 0)
        return -1;
    for (;;) {
        msn_buf_reserve(&r->in, 1 << 16);
        ssize_t n = read(r->fd, r->in.data + r->in.len, r->in.cap - r->in.len - 1);
        if (n > 0) {
            r->in.len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n < 0 && !r->reaped) /* cannot read it any more: end it (not reaped, so still its pid) */
            kill(r->pid, SIGKILL);
        break; /* end of file: the child closed its end by exiting */
    }
    reap(r, 1);
    if (scan(r) < 0 || !r->done)
        return -1;
    return 1;
}

void msn_anrun_describe(const msn_anrun_t *r, char *out, size_t n)
{
    if (r->pid <= 0)
        snprintf(out, n, "not started");
    else if (!r->reaped)
        snprintf(out, n, "still running");
    else if (r->status == -1)
        snprintf(out, n, "ended (status unknown)");
    else
        msn_child_describe(r->status, out, n);
}

int msn_anrun_next(msn_anrun_t *r, size_t *pos, msn_anresult_t *out)
{
    if (r->in.len - *pos < sizeof(rec_t))
        return 0;
    rec_t rec;
    memcpy(&rec, r->in.data + *pos, sizeof(rec));
    if (rec.job == TRAILER || rec.job >= (uint32_t)r->n_jobs)
        return 0;
    size_t need = sizeof(rec) + rec.len + rec.gz_len;
    if (r->in.len - *pos < need)
        return 0;
    out->job = (int)rec.job;
    out->rc = rec.rc;
    out->compute_ms = rec.ms;
    out->body = r->in.data + *pos + sizeof(rec);
    out->len = rec.len;
    out->gz = rec.gz_len ? out->body + rec.len : NULL;
    out->gz_len = rec.gz_len;
    *pos += need;
    return 1;
}

void msn_anrun_reset(msn_anrun_t *r)
{
    if (r->pid > 0 && !r->reaped) {
        /* not reaped: the pid is still this child's (a zombie keeps it), so the kill cannot
           reach another process; gone before the master goes on (or exits) */
        kill(r->pid, SIGKILL);
        reap(r, 1);
        char how[96];
        msn_anrun_describe(r, how, sizeof(how));
        msn_debug("analytics: the computing process (pid %d) was stopped: it %s", (int)r->pid, how);
    }
    if (r->fd > 0)
        close(r->fd);
    free(r->jobs);
    msn_buf_free(&r->in);
    memset(r, 0, sizeof(*r));
}
