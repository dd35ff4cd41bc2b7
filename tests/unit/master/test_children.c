/*
 * test_children.c: each child process of the master has one owner that alone reaps it, by
 * its pid (master/child.h). A "worker" child (as the supervisor starts them) and an
 * analytics computing process (master/anrun.c) end at the same time, both unreaped; each
 * owner then gets its own child's exit status, whichever reaps first, and never the
 * other's. The analytics run reports how its child ended (exit code or signal), and a
 * reset reaps a child it had to kill.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "master/anrun.h"
#include "master/child.h"
#include "master/store.h"
#include "shm/config.h"
#include "testlib.h"

/* A child that exits with `code` (a worker, for the purpose of reaping). */
static pid_t spawn_exiting(int code)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(code);
    return pid;
}

/* Waits until pid has ended, without reaping it (it stays a zombie). */
static void wait_ended(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
}

/* Polls the run until it is over (the child reaped). Returns the last msn_anrun_poll result. */
static int run_to_end(msn_anrun_t *r)
{
    for (int i = 0; i < 30000; i++) {
        int rc = msn_anrun_poll(r);
        if (rc != 0)
            return rc;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void start_crashing_run(msn_anrun_t *r, const msn_store_t *s)
{
    msn_anjob_t job;
    memset(&job, 0, sizeof(job));
    job.an = MSN_AN_ROLES;
    job.inject = 2; /* the computing process kills itself with SIGKILL */
    memset(r, 0, sizeof(*r));
    CHECK_EQ_INT(msn_anrun_start(r, s, &job, 1, 1784376000000LL), 0);
    CHECK(r->pid > 0);
}

/* The worker's owner reaps first, while the analytics child is a zombie too. */
static void test_worker_reaped_first(void)
{
    msn_store_t s;
    msn_store_init(&s);
    msn_anrun_t r;
    pid_t worker = spawn_exiting(7);
    CHECK(worker > 0);
    start_crashing_run(&r, &s);
    wait_ended(worker);
    wait_ended(r.pid);

    int status = 0;
    CHECK_EQ_INT(msn_child_reap(worker, 0, &status), 1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    CHECK_EQ_INT(msn_child_reap(worker, 0, &status), -ECHILD); /* reaped once, by its owner */
    /* the analytics child was left alone: still a zombie of ours, its status intact */
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    CHECK_EQ_INT(waitid(P_PID, (id_t)r.pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
    CHECK_EQ_INT(si.si_pid, r.pid);

    CHECK_EQ_INT(run_to_end(&r), -1); /* died: no trailer */
    CHECK(r.reaped);
    CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
    char how[96];
    msn_anrun_describe(&r, how, sizeof(how));
    CHECK(strstr(how, "was killed by signal 9") != NULL);
    pid_t apid = r.pid;
    msn_anrun_reset(&r);
    CHECK_EQ_INT(r.pid, 0);
    CHECK_EQ_INT(msn_child_reap(apid, 0, &status), -ECHILD);
    msn_store_free(&s);
}

/* The analytics owner reaps first: the worker's exit is still there for its owner. */
static void test_analytics_reaped_first(void)
{
    msn_store_t s;
    msn_store_init(&s);
    msn_anrun_t r;
    start_crashing_run(&r, &s);
    pid_t worker = spawn_exiting(3);
    CHECK(worker > 0);
    wait_ended(r.pid);
    wait_ended(worker);

    CHECK_EQ_INT(run_to_end(&r), -1);
    CHECK(r.reaped && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
    int status = 0;
    CHECK_EQ_INT(msn_child_reap(worker, 0, &status), 1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    msn_anrun_reset(&r);
    msn_store_free(&s);
}

/* A run that completes: results arrive, the child exited with status 0 and was reaped. */
static void test_run_completes(void)
{
    msn_store_t s;
    msn_store_init(&s);
    msn_anrun_t r;
    memset(&r, 0, sizeof(r));
    msn_anjob_t job;
    memset(&job, 0, sizeof(job));
    job.an = MSN_AN_ROLES;
    CHECK_EQ_INT(msn_anrun_start(&r, &s, &job, 1, 1784376000000LL), 0);
    pid_t pid = r.pid;
    CHECK_EQ_INT(run_to_end(&r), 1);
    CHECK(r.reaped && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    char how[96];
    msn_anrun_describe(&r, how, sizeof(how));
    CHECK_EQ_STR(how, "exited with status 0");
    size_t pos = 0;
    msn_anresult_t res;
    CHECK_EQ_INT(msn_anrun_next(&r, &pos, &res), 1);
    CHECK_EQ_INT(res.rc, 0);
    CHECK(res.len > 0 && res.body[0] == '{');
    msn_anrun_reset(&r);
    int status;
    CHECK_EQ_INT(msn_child_reap(pid, 0, &status), -ECHILD);
    msn_store_free(&s);
}

/* A reset while the child may still run kills and reaps it: no zombie is left. */
static void test_reset_reaps(void)
{
    msn_store_t s;
    msn_store_init(&s);
    msn_anrun_t r;
    memset(&r, 0, sizeof(r));
    msn_anjob_t jobs[64];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 64; i++)
        jobs[i].an = MSN_AN_ROLES;
    CHECK_EQ_INT(msn_anrun_start(&r, &s, jobs, 64, 1784376000000LL), 0);
    pid_t pid = r.pid;
    msn_anrun_reset(&r);
    int status;
    CHECK_EQ_INT(msn_child_reap(pid, 0, &status), -ECHILD); /* gone, and reaped by the reset */
    msn_store_free(&s);
}

static void test_describe(void)
{
    char how[96];
    msn_child_describe(5 << 8, how, sizeof(how)); /* as waitpid reports exit(5) */
    CHECK_EQ_STR(how, "exited with status 5");
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    kill(pid, SIGTERM);
    int status = 0;
    CHECK_EQ_INT(msn_child_reap(pid, 1, &status), 1);
    msn_child_describe(status, how, sizeof(how));
    CHECK(strncmp(how, "was killed by signal 15 (", 25) == 0);
    CHECK_EQ_INT(msn_child_reap(0, 0, &status), -ECHILD); /* never "any child" */
    CHECK_EQ_INT(msn_child_reap(-1, 0, &status), -ECHILD);
}

int main(void)
{
    MSN_RUN(test_worker_reaped_first);
    MSN_RUN(test_analytics_reaped_first);
    MSN_RUN(test_run_completes);
    MSN_RUN(test_reset_reaps);
    MSN_RUN(test_describe);
    return msn_test_done();
}
