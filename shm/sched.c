/*
 * sched.c: the scheduling classes of sched.h, through sched_setattr (glibc has no wrapper
 * on this Debian release: the system call is made directly).
 */
#include "sched.h"

#include <errno.h>
#include <linux/sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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
