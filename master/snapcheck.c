/* snapcheck.c: see snapcheck.h. */
#include "snapcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "shm/log.h"
#include "shm/proc.h"
#include "shm/sched.h"
#include "shm/snapverify.h"
#include "shm/status.h"

void msn_snapcheck_init(msn_snapcheck_t *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* The child (a copy of the master with one thread; see anrun.c for what a forked child
   may touch): descriptors closed but the pipe, a fresh read-only LMDB environment of its
   own, the report, _exit. */
static void child_main(int fd, pid_t parent, const char *dir)
{
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(2);
    msn_log_set_role("snapshot check");
    msn_proc_set_title("snapshot check");
    (void)msn_sched_own_group(15);
    (void)msn_sched_background(15);
    char err[480];
    int64_t entries = 0;
    int rc = msn_snap_verify_dir(dir, &entries, err, sizeof(err));
    char msg[512];
    int n = rc == 0 ? snprintf(msg, sizeof(msg), "%lld entries intact", (long long)entries)
                    : snprintf(msg, sizeof(msg), "%s", err);
    ssize_t w = write(fd, msg, (size_t)(n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1));
    (void)w;
    _exit(rc == 0 ? 0 : 1);
}

int msn_snapcheck_start(msn_snapcheck_t *c, const char *state_dir, const char *dir_name)
{
    char dir[4400];
    int p[2];
    snprintf(dir, sizeof(dir), "%s/%s", state_dir, dir_name);
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0)
        child_main(p[1], parent, dir); /* never returns */
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    c->pid = pid;
    c->fd = p[0];
    c->report_len = 0;
    c->report[0] = '\0';
    snprintf(c->dir_name, sizeof(c->dir_name), "%s", dir_name);
    c->started_ms = msn_now_ms();
    return 0;
}

int msn_snapcheck_poll(msn_snapcheck_t *c, char *out, size_t n)
{
    if (c->pid <= 0)
        return MSN_SNAPCHECK_UNKNOWN;
    for (;;) {
        ssize_t r = read(c->fd, c->report + c->report_len, sizeof(c->report) - 1 - c->report_len);
        if (r > 0) {
            c->report_len += (size_t)r;
            c->report[c->report_len] = '\0';
            if (c->report_len < sizeof(c->report) - 1)
                continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return MSN_SNAPCHECK_RUNNING;
        break; /* end of file (the child exited) or the report is full */
    }
    int status = 0;
    if (msn_child_reap(c->pid, 1, &status) != 1)
        status = -1;
    c->pid = 0;
    close(c->fd);
    c->fd = -1;
    int outcome;
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        outcome = MSN_SNAPCHECK_INTACT;
        snprintf(out, n, "%s", c->report);
    } else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        outcome = MSN_SNAPCHECK_DAMAGED;
        snprintf(out, n, "%s", c->report);
    } else if (status != -1 && WIFSIGNALED(status) &&
               (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGSEGV)) {
        outcome = MSN_SNAPCHECK_DAMAGED;
        snprintf(out, n, "reading it killed the checking process (signal %d, %s): its pages lead out of the file",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
        char how[96];
        if (status == -1)
            snprintf(how, sizeof(how), "status unknown");
        else
            msn_child_describe(status, how, sizeof(how));
        outcome = MSN_SNAPCHECK_UNKNOWN;
        snprintf(out, n, "the checking process %s", how);
    }
    return outcome;
}

void msn_snapcheck_reset(msn_snapcheck_t *c)
{
    if (c->pid > 0) {
        int status;
        kill(c->pid, SIGKILL);
        msn_child_reap(c->pid, 1, &status);
    }
    if (c->fd >= 0)
        close(c->fd);
    msn_snapcheck_init(c);
}
