/* test_status.c: the status block's sequence lock (shm/status.c) with writers in two
 * threads, a writer that dies mid-write, and readers that never see a torn section unless
 * the read says it took the section as it is (a write left open too long). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/status.h"
#include "testlib.h"

static msn_status_t *open_block(const char *tag)
{
    msn_status_t *st = NULL;
    CHECK_EQ_INT(msn_status_create(msn_test_tmpdir(tag), &st), 0);
    return st;
}

/* -- one writer at a time ---------------------------------------------------------------- */

typedef struct {
    msn_status_t *st;
    atomic_int holding; /* the first writer is inside its write */
    atomic_int ended;   /* the first writer is about to end it */
    int second_saw_end; /* the second writer's begin returned only after that */
} excl_t;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *first_writer(void *arg)
{
    excl_t *x = arg;
    msn_status_write_begin(&x->st->master_seq);
    atomic_store(&x->holding, 1);
    sleep_ms(50);
    atomic_store(&x->ended, 1);
    msn_status_write_end(&x->st->master_seq);
    return NULL;
}

static void *second_writer(void *arg)
{
    excl_t *x = arg;
    while (!atomic_load(&x->holding))
        sleep_ms(1);
    msn_status_write_begin(&x->st->master_seq);
    x->second_saw_end = atomic_load(&x->ended);
    msn_status_write_end(&x->st->master_seq);
    return NULL;
}

static void test_second_writer_waits(void)
{
    excl_t x;
    memset(&x, 0, sizeof(x));
    x.st = open_block("status-excl");
    if (x.st == NULL)
        return;
    pthread_t a, b;
    CHECK_EQ_INT(pthread_create(&a, NULL, first_writer, &x), 0);
    CHECK_EQ_INT(pthread_create(&b, NULL, second_writer, &x), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ_INT(x.second_saw_end, 1);
    CHECK_EQ_INT((int)(atomic_load(&x.st->master_seq) & 1), 0);
    msn_status_close(x.st);
}

/* -- readers never see a torn section while two threads write it -------------------------- */

#define ROUNDS 50000

typedef struct {
    msn_status_t *st;
    atomic_int writers_left;
    long torn, reads;
    long as_is; /* reads that waited out a write kept off the CPU (a loaded machine) */
} race_t;

typedef struct {
    race_t *r;
    int64_t base;
} writer_arg_t;

static void *pair_writer(void *arg)
{
    writer_arg_t *w = arg;
    msn_status_t *st = w->r->st;
    for (int64_t i = 0; i < ROUNDS; i++) {
        msn_status_write_begin(&st->master_seq);
        st->master.reloads = w->base + i;
        for (volatile int k = 0; k < 200; k++) /* a write that takes a while: overlaps show */
            ;
        st->master.worker_restarts = w->base + i;
        msn_status_write_end(&st->master_seq);
        for (volatile int k = 0; k < 200; k++) /* and a pause: the reader finds the section whole */
            ;
    }
    atomic_fetch_sub(&w->r->writers_left, 1);
    return NULL;
}

static void *pair_reader(void *arg)
{
    race_t *r = arg;
    while (atomic_load(&r->writers_left) > 0) {
        msn_master_status_t m;
        int rc = msn_status_read_master(r->st, &m);
        r->reads++;
        if (rc != 0)
            r->as_is++; /* may be torn: the read says so, which is what matters */
        else if (m.reloads != m.worker_restarts)
            r->torn++;
    }
    return NULL;
}

static void test_two_writers_no_torn_read(void)
{
    race_t r;
    memset(&r, 0, sizeof(r));
    r.st = open_block("status-race");
    if (r.st == NULL)
        return;
    atomic_store(&r.writers_left, 2);
    writer_arg_t wa = {&r, 0}, wb = {&r, 1000000000};
    pthread_t a, b, c;
    CHECK_EQ_INT(pthread_create(&c, NULL, pair_reader, &r), 0);
    CHECK_EQ_INT(pthread_create(&a, NULL, pair_writer, &wa), 0);
    CHECK_EQ_INT(pthread_create(&b, NULL, pair_writer, &wb), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    pthread_join(c, NULL);
    CHECK(r.reads > r.as_is);
    CHECK_EQ_INT((int)r.torn, 0); /* no read called consistent was torn */
    CHECK_EQ_INT((int)(atomic_load(&r.st->master_seq) & 1), 0);
    msn_master_status_t m;
    CHECK_EQ_INT(msn_status_read_master(r.st, &m), 0);
    CHECK(m.reloads == m.worker_restarts);
    msn_status_close(r.st);
}

/* -- a writer killed mid-write -------------------------------------------------------------- */

static void test_dead_writer_taken_over(void)
{
    msn_status_t *st = open_block("status-dead");
    if (st == NULL)
        return;
    atomic_store(&st->ingest_seq, 7); /* odd, and nobody will end it */
    msn_ingest_status_t in;
    CHECK_EQ_INT(msn_status_read_ingest(st, &in), 1); /* returns: takes the section as it is */
    msn_status_write_begin(&st->ingest_seq);
    CHECK(atomic_load(&st->ingest_seq) == 9); /* moved on, still odd while this write runs */
    st->ingest.pid = 42;
    msn_status_write_end(&st->ingest_seq);
    CHECK(atomic_load(&st->ingest_seq) == 10);
    CHECK_EQ_INT(msn_status_read_ingest(st, &in), 0);
    CHECK_EQ_INT(in.pid, 42);
    msn_status_close(st);
}

/* -- a writer taken over that comes back ----------------------------------------------------- */

typedef struct {
    msn_status_t *st;
    atomic_int in_window, may_end;
} takeover_t;

static void *taking_over(void *arg)
{
    takeover_t *t = arg;
    msn_status_write_begin(&t->st->ingest_seq); /* waits MSN_STATUS_WRITER_WAIT_MS, then takes over */
    t->st->ingest.pid = 43;
    atomic_store(&t->in_window, 1);
    while (!atomic_load(&t->may_end))
        sched_yield();
    msn_status_write_end(&t->st->ingest_seq);
    return NULL;
}

static void test_late_writer_leaves_the_takeover_open(void)
{
    msn_status_t *st = open_block("status-late");
    if (st == NULL)
        return;
    takeover_t t = {.st = st};
    msn_status_write_begin(&st->ingest_seq); /* this thread: a writer kept off the CPU */
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, taking_over, &t), 0);
    while (!atomic_load(&t.in_window))
        usleep(1000);
    msn_status_write_end(&st->ingest_seq);                    /* comes back after the takeover */
    CHECK_EQ_INT((int)(atomic_load(&st->ingest_seq) & 1), 1); /* the other write is still open */
    atomic_store(&t.may_end, 1);
    pthread_join(th, NULL);
    CHECK_EQ_INT((int)(atomic_load(&st->ingest_seq) & 1), 0);
    msn_ingest_status_t in;
    CHECK_EQ_INT(msn_status_read_ingest(st, &in), 0);
    CHECK_EQ_INT(in.pid, 43);
    msn_status_close(st);
}

static void test_writer_gone_evens_the_sequence(void)
{
    msn_status_t *st = open_block("status-gone");
    if (st == NULL)
        return;
    atomic_store(&st->backfill_seq, 11); /* its writer died mid-write */
    msn_status_writer_gone(&st->backfill_seq);
    CHECK(atomic_load(&st->backfill_seq) == 12);
    msn_backfill_status_t bf;
    CHECK_EQ_INT(msn_status_read_backfill(st, &bf), 0); /* consistent, at once */
    msn_status_writer_gone(&st->backfill_seq);          /* even: unchanged */
    CHECK(atomic_load(&st->backfill_seq) == 12);
    msn_status_close(st);
}

int main(void)
{
    MSN_RUN(test_second_writer_waits);
    MSN_RUN(test_two_writers_no_torn_read);
    MSN_RUN(test_dead_writer_taken_over);
    MSN_RUN(test_late_writer_leaves_the_takeover_open);
    MSN_RUN(test_writer_gone_evens_the_sequence);
    return msn_test_done();
}
