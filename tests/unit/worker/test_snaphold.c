/*
 * test_snaphold.c: read transactions held past their request (worker/snapview.c,
 * msn_snapview_hold / msn_snapview_release): what was read in a held transaction stays
 * the same document while the writer rewrites it, and while the view moves to a new
 * environment (the old one stays open until its last hold is released); a release frees
 * the reader slot; closing the view releases the holds left.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/snapshot.h"
#include "testlib.h"
#include "worker/envclose.h"
#include "worker/snapview.h"

#define DOC "an/topology"
#define BODY_LEN (300 * 1024)

static void fill(char *b, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (char)(c + (i % 7));
}

/* Writes meta (generation gen) and DOC filled with c in one write transaction of w. */
static void write_doc(msn_snap_t *w, uint64_t gen, char c)
{
    static char body[BODY_LEN];
    fill(body, sizeof(body), c);
    MDB_txn *txn;
    CHECK_EQ_INT(mdb_txn_begin(w->env, NULL, 0, &txn), 0);
    msn_snap_meta_t m;
    memset(&m, 0, sizeof(m));
    m.format = MSN_SNAP_FORMAT;
    m.gen = gen;
    int rc;
    msn_snap_meta_put(txn, w, &m, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(msn_snap_doc_put_full(txn, w, DOC, body, sizeof(body), NULL, 0, 1, gen, 0, 0), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
}

/* 1 when body is DOC filled with c. */
static int is_doc(const msn_doc_t *d, char c)
{
    static char want[BODY_LEN];
    fill(want, sizeof(want), c);
    return d->len == BODY_LEN && memcmp(d->body, want, BODY_LEN) == 0;
}

static int count_line(const char *msg, void *ctx)
{
    (void)msg;
    (*(int *)ctx)++;
    return 0;
}

/* Reader slots in use in env's table (the header line not counted). */
static int readers(MDB_env *env)
{
    int n = 0;
    mdb_reader_list(env, count_line, &n);
    return n > 0 ? n - 1 : 0;
}

/* A new environment of generation gen in dir, holding the document filled with c, made
 * current (as a full publication leaves it). */
static void publish_new(const char *dir, msn_snap_t *w, uint64_t gen, char c)
{
    char err[512];
    CHECK_EQ_INT(msn_snap_create(dir, gen, w, err, sizeof(err)), 0);
    write_doc(w, gen, c);
    CHECK_EQ_INT(msn_snap_make_current(dir, w, err, sizeof(err)), 0);
}

static void test_held_document_survives_rewrites_and_switch(void)
{
    const char *dir = msn_test_tmpdir("snaphold");
    msn_status_t *st = calloc(1, sizeof(*st));
    msn_snap_t w;
    publish_new(dir, &w, 1, 'a');
    atomic_store(&st->env_seq, 1);

    msn_snapview_t v;
    msn_snapview_init(&v, dir, st);
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    msn_doc_t d;
    CHECK_EQ_INT(msn_snap_doc_get_full(v.txn, &v.snap, DOC, &d), 0);
    CHECK(is_doc(&d, 'a'));
    MDB_env *first = v.snap.env;
    int before = readers(first);
    MDB_txn *request_txn = v.txn;
    msn_snaphold_t *h = msn_snapview_hold(&v);
    CHECK(h != NULL);
    if (h == NULL)
        goto out;
    CHECK(h->txn == request_txn);
    CHECK(v.txn != request_txn && !v.txn_active);
    CHECK_EQ_INT(v.n_holds, 1);
    CHECK_EQ_INT(readers(first), before + 1); /* the view's fresh transaction */
    msn_snapview_end(&v);                     /* the request ends: the hold stays */
    CHECK(msn_snapview_hold(&v) == NULL);     /* nothing active to hold */

    /* the master rewrites the document many times: the freed pages would be reused */
    for (int i = 0; i < 6; i++)
        write_doc(&w, 2 + (uint64_t)i, (char)('b' + i));
    CHECK(is_doc(&d, 'a'));
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    msn_doc_t now;
    CHECK_EQ_INT(msn_snap_doc_get_full(v.txn, &v.snap, DOC, &now), 0);
    CHECK(is_doc(&now, 'g'));
    msn_snapview_end(&v);

    /* the same directory again (env_seq moved, `current` did not): the environment stays open */
    atomic_store(&st->env_seq, 2);
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    CHECK(v.snap.env == first);
    msn_snapview_end(&v);

    /* a full rebuild: a new environment becomes current; the view moves to it, the held
       document stays readable in the old one */
    msn_snap_close(&w);
    publish_new(dir, &w, 9, 'x');
    atomic_store(&st->env_seq, 3);
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    CHECK(v.snap.env != first);
    CHECK_EQ_INT(msn_snap_doc_get_full(v.txn, &v.snap, DOC, &now), 0);
    CHECK(is_doc(&now, 'x'));
    CHECK(is_doc(&d, 'a'));
    CHECK_EQ_INT(readers(first), 1); /* only the hold is left in the old environment */

    /* a second hold in the new environment, released first: its environment stays */
    msn_snaphold_t *h2 = msn_snapview_hold(&v);
    CHECK(h2 != NULL);
    CHECK_EQ_INT(v.n_holds, 2);
    int in_new = readers(v.snap.env);
    msn_snapview_release(&v, h2);
    CHECK_EQ_INT(readers(v.snap.env), in_new - 1); /* its reader slot is free again */
    CHECK_EQ_INT(v.n_holds, 1);
    CHECK(v.snap.env != NULL);
    msn_snapview_release(&v, h); /* the old environment's last hold: closed (ASan: no leak) */
    CHECK_EQ_INT(v.n_holds, 0);
    CHECK(v.holds == NULL);
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    msn_snapview_end(&v);
out:
    msn_snapview_close(&v);
    msn_snap_close(&w);
    free(st);
}

static void test_close_releases_holds(void)
{
    const char *dir = msn_test_tmpdir("snaphold-close");
    msn_status_t *st = calloc(1, sizeof(*st));
    msn_snap_t w;
    publish_new(dir, &w, 1, 'a');
    msn_snapview_t v;
    msn_snapview_init(&v, dir, st);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(msn_snapview_begin(&v), 0);
        CHECK(msn_snapview_hold(&v) != NULL);
    }
    /* damage retires the environment with its holds; a new one is opened for the view */
    msn_snapview_damaged(&v);
    CHECK(v.snap.env == NULL);
    CHECK_EQ_INT(v.n_holds, 3);
    msn_snap_close(&w);
    publish_new(dir, &w, 2, 'b');
    atomic_store(&st->env_seq, 1);
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    CHECK(msn_snapview_hold(&v) != NULL);
    CHECK_EQ_INT(v.n_holds, 4);
    msn_snapview_close(&v); /* the worker's exit: every hold released, both environments closed */
    CHECK_EQ_INT(v.n_holds, 0);
    CHECK(v.holds == NULL && v.snap.env == NULL);
    msn_snap_close(&w);
    free(st);
}

/* A view on a state directory tagged tag whose only environment (generation 1, the
 * document filled with 'a') is current, its writer closed: the view's handles are then the
 * process's only ones. Returns the status block (env_seq 1), to be freed. */
static msn_status_t *view_alone(const char *tag, msn_snapview_t *v)
{
    const char *dir = msn_test_tmpdir(tag);
    msn_status_t *st = calloc(1, sizeof(*st));
    msn_snap_t w;
    publish_new(dir, &w, 1, 'a');
    msn_snap_close(&w);
    atomic_store(&st->env_seq, 1);
    msn_snapview_init(v, dir, st);
    return st;
}

/* A gate that holds the closing thread. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
} gate = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void wait_gate(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&gate.mu);
    while (!gate.open)
        pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
}

static void *begin_on_thread(void *arg)
{
    static int rc;
    rc = msn_snapview_begin(arg);
    return &rc;
}

/* The view leaves an environment whose directory is still current (env_seq moved, the
 * directory did not) and opens it again: the old handle's close, on the closing thread,
 * must be over before, or it clears the reader slots of the new one (LMDB: one open per
 * process). The closing thread is held meanwhile, so without the wait the view would
 * reopen at once. */
static void test_reopen_of_the_same_directory_waits_for_its_close(void)
{
    msn_snapview_t v;
    msn_status_t *st = view_alone("snaphold-same", &v);
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    msn_snapview_end(&v);
    CHECK_EQ_INT(readers(v.snap.env), 1);

    gate.open = 0;
    msn_envclose_defer(wait_gate, NULL);
    atomic_store(&st->env_seq, 2);
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, begin_on_thread, &v), 0);
    usleep(100 * 1000); /* the view would have reopened by now without the wait */
    pthread_mutex_lock(&gate.mu);
    gate.open = 1;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    void *ret;
    pthread_join(t, &ret);
    CHECK_EQ_INT(*(int *)ret, 0);
    msn_envclose_drain();
    CHECK(v.snap.env != NULL);
    if (v.snap.env != NULL)
        CHECK_EQ_INT(readers(v.snap.env), 1); /* the new handle's slot is still its own */
    msn_doc_t d;
    CHECK_EQ_INT(msn_snap_doc_get_full(v.txn, &v.snap, DOC, &d), 0);
    CHECK(is_doc(&d, 'a'));
    msn_snapview_end(&v);
    msn_snapview_close(&v);
    free(st);
}

/* The view leaves an environment a hold still uses (reported damaged here; a failed read
 * transaction does the same), and `current` names it again when the view opens: the held
 * handle is served again. A second handle would lose its reader slots when the hold's
 * release closed the first (LMDB: one open per process). */
static void test_reopen_of_a_held_directory_reuses_its_handle(void)
{
    msn_snapview_t v;
    msn_status_t *st = view_alone("snaphold-parked", &v);
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    MDB_env *first = v.snap.env;
    msn_snaphold_t *h = msn_snapview_hold(&v);
    CHECK(h != NULL);
    msn_snapview_damaged(&v); /* left while held */
    CHECK(v.snap.env == NULL);
    atomic_store(&st->env_seq, 2); /* ... and `current` still names it */
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    CHECK(v.snap.env == first);
    msn_snapview_end(&v);
    msn_snapview_release(&v, h);
    CHECK_EQ_INT(msn_snapview_begin(&v), 0);
    CHECK(v.snap.env == first);
    if (v.snap.env != NULL)
        CHECK_EQ_INT(readers(v.snap.env), 1); /* the view's slot survived the release */
    msn_doc_t d;
    CHECK_EQ_INT(msn_snap_doc_get_full(v.txn, &v.snap, DOC, &d), 0);
    CHECK(is_doc(&d, 'a'));
    msn_snapview_end(&v);
    msn_snapview_close(&v);
    free(st);
}

int main(void)
{
    MSN_RUN(test_held_document_survives_rewrites_and_switch);
    MSN_RUN(test_close_releases_holds);
    MSN_RUN(test_reopen_of_the_same_directory_waits_for_its_close);
    MSN_RUN(test_reopen_of_a_held_directory_reuses_its_handle);
    return msn_test_done();
}
