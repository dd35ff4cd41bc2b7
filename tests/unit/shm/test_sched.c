/* test_sched.c: the scheduling classes (shm/sched.c), each tried in a child process so
 * that the test's own process keeps its settings. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/sched.h"
#include "testlib.h"

/* se.slice of the calling process from /proc/self/sched, or -1 when not shown. */
static long long own_slice(void)
{
    FILE *f = fopen("/proc/self/sched", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long long v = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "se.slice", 8) == 0) {
            const char *colon = strchr(line, ':');
            if (colon != NULL)
                v = atoll(colon + 1);
        }
    fclose(f);
    return v;
}

/* Runs fn in a child; its exit status (0 pass, 1 fail, 77 not supported here). */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 1;
    return WEXITSTATUS(status);
}

static int background_child(void)
{
    if (msn_sched_background(7) != 0)
        return 1;
    if (sched_getscheduler(0) != SCHED_BATCH)
        return 1;
    errno = 0;
    return getpriority(PRIO_PROCESS, 0) == 7 && errno == 0 ? 0 : 1;
}

static int interactive_child(void)
{
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    if (msn_sched_interactive() != 0)
        return 77; /* a kernel without custom slices: the worker keeps the default */
    if (sched_getscheduler(0) != SCHED_OTHER || getpriority(PRIO_PROCESS, 0) != nice)
        return 1; /* the nice value is kept */
    long long slice = own_slice();
    if (slice < 0)
        return 77; /* not shown by this kernel */
    return slice == MSN_SCHED_INTERACTIVE_SLICE_NS ? 0 : 1;
}

static void test_background(void)
{
    CHECK_EQ_INT(in_child(background_child), 0);
}

static void test_interactive(void)
{
    int rc = in_child(interactive_child);
    if (rc == 77) {
        msn_test_skip("this kernel has no custom scheduling slice");
        return;
    }
    CHECK_EQ_INT(rc, 0);
}

int main(void)
{
    MSN_RUN(test_background);
    MSN_RUN(test_interactive);
    return msn_test_done();
}
