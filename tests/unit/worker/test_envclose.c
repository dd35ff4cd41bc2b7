/*
 * test_envclose.c: a worker's environments are closed on a thread of their own
 * (worker/envclose.c): a hand-over returns while the work is still blocked, the work runs
 * on another thread and in the order given, a drain waits for all of it (an environment
 * handed over is unmapped after it), and a forked child gets a closer of its own.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "worker/envclose.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;    /* the gate: the blocked job may finish */
    int started; /* the blocked job is running */
    pthread_t ran_on;
} gate_t;

static gate_t g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void blocked_job(void *arg)
{
    gate_t *x = arg;
    pthread_mutex_lock(&x->mu);
    x->started = 1;
    x->ran_on = pthread_self();
    pthread_cond_broadcast(&x->cv);
    while (!x->open)
        pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
}

static void gate_reset(void)
{
    g.open = g.started = 0;
}

static void gate_wait_started(void)
{
    pthread_mutex_lock(&g.mu);
    while (!g.started)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
}

static void gate_open(void)
{
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

static int order[128];
static int n_order;

static void record(void *arg)
{
    order[n_order++] = (int)(long)arg;
}

static void test_handover_does_not_wait(void)
{
    gate_reset();
    n_order = 0;
    msn_envclose_defer(blocked_job, &g);
    gate_wait_started(); /* running, and held: yet the caller got here */
    CHECK(!pthread_equal(g.ran_on, pthread_self()));
    for (long i = 0; i < 64; i++)
        msn_envclose_defer(record, (void *)i);
    CHECK_EQ_INT(n_order, 0); /* queued behind the blocked one */
    gate_open();
    msn_envclose_drain();
    CHECK_EQ_INT(n_order, 64);
    for (int i = 0; i < 64; i++)
        CHECK_EQ_INT(order[i], i);
    /* the thread ended with its work; the next hand-over starts another */
    msn_envclose_defer(record, (void *)64L);
    msn_envclose_drain();
    CHECK_EQ_INT(n_order, 65);
    msn_envclose_drain(); /* nothing pending: returns */
}

/* 1 when a line of /proc/self/maps names path. */
static int mapped(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        found |= strstr(line, path) != NULL;
    fclose(f);
    return found;
}

static void test_environment_closed_by_drain(void)
{
    const char *dir = msn_test_tmpdir("envclose");
    char data[1024];
    snprintf(data, sizeof(data), "%s/data.mdb", dir);
    MDB_env *env;
    CHECK_EQ_INT(mdb_env_create(&env), 0);
    CHECK_EQ_INT(mdb_env_open(env, dir, 0, 0644), 0);
    MDB_txn *txn;
    CHECK_EQ_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    mdb_txn_abort(txn);
    CHECK_EQ_INT(mapped(data), 1);
    gate_reset();
    msn_envclose_defer(blocked_job, &g); /* holds the closer: the environment waits behind it */
    msn_envclose_later(env);
    msn_envclose_later(NULL); /* ignored */
    gate_wait_started();
    CHECK_EQ_INT(mapped(data), 1); /* not closed on this thread */
    gate_open();
    msn_envclose_drain();
    CHECK_EQ_INT(mapped(data), 0); /* closed (and, under ASan, not leaked) */
}

static void test_fork_child_has_its_own(void)
{
    gate_reset();
    n_order = 0;
    msn_envclose_defer(blocked_job, &g); /* the parent's closer is busy at the fork */
    gate_wait_started();
    pid_t pid = fork();
    if (pid == 0) {
        /* the child: the inherited closer has no thread here; a new one runs its work */
        msn_envclose_defer(record, (void *)7L);
        msn_envclose_drain();
        _exit(n_order == 1 && order[0] == 7 ? 0 : 3);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_INT(n_order, 0);
    gate_open();
    msn_envclose_drain();
}

int main(void)
{
    MSN_RUN(test_handover_does_not_wait);
    MSN_RUN(test_environment_closed_by_drain);
    MSN_RUN(test_fork_child_has_its_own);
    return msn_test_done();
}
