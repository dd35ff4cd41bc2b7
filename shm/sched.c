/*
 * sched.c: the scheduling classes of sched.h, through sched_setattr (glibc has no wrapper
 * on this Debian release: the system call is made directly).
 */
#include "sched.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* struct sched_attr as the kernel defines it (SCHED_ATTR_SIZE_VER1: 56 bytes) */
typedef struct {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    uint32_t sched_util_min, sched_util_max;
} attr_t;

static int set_attr(uint32_t policy, int nice, uint64_t runtime_ns)
{
    attr_t a;
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.sched_policy = policy;
    a.sched_nice = nice;
    a.sched_runtime = runtime_ns;
    return (int)syscall(SYS_sched_setattr, 0, &a, 0);
}

int msn_sched_interactive(void)
{
    /* the nice value stays what it is (lowering it would need privileges: a daemon started
       with a nice value keeps it) */
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (nice == -1 && errno != 0)
        nice = 0;
    if (set_attr(SCHED_NORMAL, nice, MSN_SCHED_INTERACTIVE_SLICE_NS) == 0)
        return 0;
    int e = errno;
    msn_debug("the kernel keeps its default scheduling slice for this process: %s", strerror(e));
    errno = e;
    return -1;
}

int msn_sched_background(int nice)
{
    if (set_attr(SCHED_BATCH, nice, 0) == 0)
        return 0;
    int e = errno;
    msn_debug("cannot make this process a batch task (%s): lowering its priority only", strerror(e));
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice) < 0) {
        e = errno;
        msn_debug("cannot lower this process's priority: %s", strerror(e));
    }
    errno = e;
    return -1;
}

#define GROUP_TRIES 4             /* an unprivileged write waits out another's 100 ms */
#define GROUP_RETRY_NS 110000000L /* a little over the kernel's 100 ms */

/* Writes group_nice to /proc/self/autogroup (ENOENT: the kernel has no groups). */
static int write_group_nice(int group_nice)
{
    char text[16];
    int len = snprintf(text, sizeof(text), "%d", group_nice);
    for (int i = 0;; i++) {
        int fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        ssize_t w = write(fd, text, (size_t)len);
        int e = errno;
        close(fd);
        if (w == len)
            return 0;
        if (w >= 0)
            e = EIO;
        if (e != EAGAIN || i + 1 >= GROUP_TRIES) {
            errno = e;
            return -1;
        }
        struct timespec ts = {0, GROUP_RETRY_NS};
        nanosleep(&ts, NULL);
    }
}

static int group_nice_or_log(int group_nice)
{
    if (group_nice <= 0 || write_group_nice(group_nice) == 0)
        return 0;
    int e = errno;
    msn_debug("the scheduling group of this process keeps its nice value: %s",
              e == ENOENT ? "the kernel does not group processes by session" : strerror(e));
    errno = e;
    return -1;
}

int msn_sched_own_group(int group_nice)
{
    if (setsid() < 0) {
        int e = errno;
        msn_debug("cannot start a session of its own: %s", strerror(e));
        errno = e;
        return -1;
    }
    return group_nice_or_log(group_nice);
}

int msn_sched_group_nice(int group_nice)
{
    if (getsid(0) != getpid())
        return 1;
    return group_nice_or_log(group_nice);
}
