/* instance.c: see instance.h. */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "shm/log.h"
#include "shm/status.h"

static void lock_path(const char *state_dir, char *out, size_t n)
{
    snprintf(out, n, "%s/lock", state_dir);
}

/* The pid written in the lock file, or 0. */
static int read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long v = strtol(buf, NULL, 10);
    return v > 0 && v < (1L << 30) ? (int)v : 0;
}

/* 1 when pid is a running meshsnapd master (by its process title). */
static int is_master(int pid)
{
    char path[64], cmd[256];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    cmd[n] = '\0';
    return strncmp(cmd, "meshsnapd: master", 17) == 0;
}

int msn_instance_lock(const char *state_dir, int wait_ms, char *err, size_t errlen)
{
    char path[4200];
    lock_path(state_dir, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the lock file %s: %s", path, strerror(errno));
        return -1;
    }
    int64_t deadline = msn_now_ms() + wait_ms, next_log = 0;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        int pid = read_pid(fd);
        if (pid > 0 && pid != getpid() && is_master(pid)) {
            snprintf(err, errlen,
                     "another meshsnapd (master pid %d) is running with state_dir %s: stop it first, or give this "
                     "one another state_dir",
                     pid, state_dir);
            close(fd);
            return -1;
        }
        int64_t now = msn_now_ms();
        if (now >= deadline) {
            snprintf(err, errlen,
                     "the processes of an earlier meshsnapd (master pid %d, gone) still hold %s after %d ms; "
                     "stop them (ps -o pid,args -C meshsnapd) and start again",
                     pid, path, wait_ms);
            close(fd);
            return -1;
        }
        if (now >= next_log) {
            msn_warn("the processes of an earlier meshsnapd (master pid %d, gone) still hold %s; waiting for them "
                     "to stop",
                     pid, path);
            next_log = now + 2000;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        msn_warn("cannot write the pid into %s: %s", path, strerror(errno));
    return fd;
}

int msn_instance_holder(const char *state_dir, int *holds)
{
    char path[4200];
    lock_path(state_dir, path, sizeof(path));
    *holds = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        *holds = 1;
        pid = read_pid(fd);
    }
    close(fd);
    return pid;
}
