/* envclose.c: see envclose.h. */
#include "envclose.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/log.h"

typedef struct job {
    void (*fn)(void *arg);
    void *arg;
    struct job *next;
} job_t;

/* The closer of this process. The thread lives while there is work: it ends when the
 * queue is empty, and the next hand-over starts another. So the worker is a one-thread
 * process again between closes (the kernel then grows its file table without waiting for
 * an RCU grace period, which it does while a second thread shares the table).
 * pid tells whether the state is this process's: after a fork, the child finds the
 * parent's pid and starts afresh (the inherited mutex and queue are left unused). */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when the thread ends (the queue is empty) */
    job_t *head, *tail;
    int running; /* a thread exists and will take the queued work */
    pid_t pid;
} c = {.mu = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};

static void *closer_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&c.mu);
    while (c.head != NULL) {
        job_t *j = c.head;
        c.head = j->next;
        if (c.head == NULL)
            c.tail = NULL;
        pthread_mutex_unlock(&c.mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&c.mu);
    }
    c.running = 0;
    pthread_cond_broadcast(&c.idle);
    pthread_mutex_unlock(&c.mu);
    return NULL;
}

/* A fresh state after a fork (the child has one thread: nothing is locked by it). */
static void adopt_after_fork(void)
{
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.idle, NULL);
    c.head = c.tail = NULL;
    c.running = 0;
    c.pid = getpid();
}

/* Starts a detached thread; called with c.mu held. Returns 0 or -1. */
static int start_locked(void)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits: no signal goes to it */
    pthread_t t;
    int rc = pthread_create(&t, &attr, closer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        msn_debug("no thread to close snapshots on (%s): closing on the event loop", strerror(rc));
        return -1;
    }
    c.running = 1;
    return 0;
}

void msn_envclose_defer(void (*fn)(void *arg), void *arg)
{
    if (c.pid != 0 && c.pid != getpid())
        adopt_after_fork();
    job_t *j = malloc(sizeof(*j));
    if (j == NULL) {
        fn(arg);
        return;
    }
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&c.mu);
    c.pid = getpid();
    if (c.tail != NULL)
        c.tail->next = j;
    else
        c.head = j;
    c.tail = j;
    if (!c.running && start_locked() != 0) {
        /* no thread, so the queue held nothing before j: take it back and run it here */
        c.head = c.tail = NULL;
        pthread_mutex_unlock(&c.mu);
        free(j);
        fn(arg);
        return;
    }
    pthread_mutex_unlock(&c.mu);
}

static void close_env(void *env)
{
    mdb_env_close(env);
}

void msn_envclose_later(MDB_env *env)
{
    if (env != NULL)
        msn_envclose_defer(close_env, env);
}

void msn_envclose_drain(void)
{
    if (c.pid != getpid())
        return; /* nothing was handed over in this process */
    pthread_mutex_lock(&c.mu);
    while (c.running)
        pthread_cond_wait(&c.idle, &c.mu);
    pthread_mutex_unlock(&c.mu);
}
