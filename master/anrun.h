/*
 * anrun.h: running analytics computations in a forked child.
 *
 * The child is a copy-on-write snapshot of the store at fork time: it computes every job
 * (an analytic in one shape) with no lock, on the other core, while the publisher thread
 * goes on polling and publishing; it sends each body (and its gzip copy) back through a
 * pipe and exits. A job that fails sends its error text instead; a child that dies sends
 * no trailer, and the whole run counts as failed. The previous results stay published.
 *
 * The publisher thread owns the child (child.h): it alone waits for it, by its pid, once
 * the pipe reaches end of file (the child has exited then) or after killing it in
 * msn_anrun_reset, so its exit status is always known (msn_anrun_t.status) and a kill never
 * reaches a pid that was already reaped. The child uses nothing of the parent but the store
 * (memory) and the pipe: see child_main in anrun.c for what it does with the handles it
 * inherits.
 *
 * Record format on the pipe (native endianness, same machine):
 *   u32 job, i32 rc (0 ok), u32 compute_ms, u32 len, u32 gz_len, body[len], gz[gz_len]
 *   (rc != 0: body is the error message, gz_len 0); a final record with job UINT32_MAX.
 */
#ifndef MSN_ANRUN_H
#define MSN_ANRUN_H

#include <stdint.h>
#include <sys/types.h>

#include "shm/anshape.h"
#include "shm/buf.h"
#include "store.h"

typedef struct {
    int an;                          /* MSN_AN_* */
    char key[MSN_ANSHAPE_KEY_MAX];   /* canonical shape key ("" = default) */
    int inject;                      /* tests only: 1 fail this job, 2 crash the computing process */
} msn_anjob_t;

typedef struct {
    int job;
    int rc;
    uint32_t compute_ms;
    const char *body; /* into the run's buffer; the error text when rc != 0 */
    size_t len;
    const char *gz;
    size_t gz_len;
} msn_anresult_t;

typedef struct {
    pid_t pid;        /* 0 = idle */
    int fd;
    msn_anjob_t *jobs;
    int n_jobs;
    msn_buf_t in;
    int64_t started_ms;
    int done;         /* the trailer arrived */
    int reaped;       /* the child was waited for: status holds how it ended, pid must not be signalled */
    int status;       /* its wait status (valid when reaped) */
} msn_anrun_t;

/** Starts computing jobs (copied) in a child at now_ms. Publisher thread only (the thread
 *  that forks owns the child). Returns 0, or -errno. */
int msn_anrun_start(msn_anrun_t *r, const msn_store_t *s, const msn_anjob_t *jobs, int n, int64_t now_ms);
/** Reads what the child sent so far. Returns 0 while it runs, 1 when it finished (results
 *  ready), -1 when it died or sent garbage (the run is over, with no results). On 1 and
 *  -1 the child has been reaped (r->reaped, r->status; msn_anrun_describe tells how it
 *  ended). */
int msn_anrun_poll(msn_anrun_t *r);
/** How the reaped child ended ("exited with status 0", "was killed by signal 9 (Killed)"),
 *  or "still running" / "not started", into out (n bytes). */
void msn_anrun_describe(const msn_anrun_t *r, char *out, size_t n);
/** Walks the results of a finished run: *pos starts at 0. Returns 1 with *out filled, 0 at
 *  the end. */
int msn_anrun_next(msn_anrun_t *r, size_t *pos, msn_anresult_t *out);
/** Releases the run: a child not reaped yet is killed (SIGKILL) and reaped first. */
void msn_anrun_reset(msn_anrun_t *r);

#endif
