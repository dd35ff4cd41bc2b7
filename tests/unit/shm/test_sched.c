/* test_sched.c: the scheduling classes and groups (shm/sched.c), each tried in a child
 * process so that the test's own process and session keep their settings. */
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

/* The nice value of the calling process's scheduling group from /proc/self/autogroup
 * ("/autogroup-N nice V"), or -100 when none is shown: a kernel without groups, or a
 * process still in the default group of init's session (the file reads empty there). */
static int own_group_nice(void)
{
    FILE *f = fopen("/proc/self/autogroup", "r");
    if (f == NULL)
        return -100;
    char line[128];
    int nice = -100;
    if (fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, " nice ");
        if (p != NULL)
            nice = atoi(p + 6);
    }
    fclose(f);
    return nice;
}

static int own_group_child(void)
{
    int rc = msn_sched_own_group(12);
    if (rc != 0 && errno != ENOENT)
        return 1;
    if (getsid(0) != getpid())
        return 1; /* a session of its own */
    int after = own_group_nice();
    if (after == -100)
        return 77; /* no group shown for the new session: the session is all there is */
    return rc == 0 && after == 12 ? 0 : 1;
}

/* A child that does not lead its session: the session's group (the test's, the shell's)
 * is left as it is. Then, once it leads its own, the group takes the value. */
static int group_nice_child(void)
{
    int before = own_group_nice();
    if (msn_sched_group_nice(9) != 1 || own_group_nice() != before)
        return 1;
    if (setsid() < 0)
        return 1;
    int rc = msn_sched_group_nice(9);
    int after = own_group_nice();
    if (after == -100)
        return rc == 0 || rc == -1 ? 77 : 1; /* no group shown for the new session */
    return rc == 0 && after == 9 ? 0 : 1;
}

static void check_child(int (*fn)(void))
{
    int rc = in_child(fn);
    if (rc == 77) {
        msn_test_skip("this kernel does not group processes by session (no /proc/self/autogroup)");
        return;
    }
    CHECK_EQ_INT(rc, 0);
}

static void test_own_group(void)
{
    check_child(own_group_child);
}

static void test_group_nice_only_as_leader(void)
{
    check_child(group_nice_child);
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
    MSN_RUN(test_own_group);
    MSN_RUN(test_group_nice_only_as_leader);
    return msn_test_done();
}
