/*
 * test_entdocs.c: the entity-document runner (master/entdocs.h): documents computed in a
 * forked process travel through the pipe, only changed ones, are written into a
 * snapshot transaction and recorded at commit; deletions; a failing or dying computation
 * is reported to its kind; documents queued by the publisher thread; a reset kills a run;
 * a full write carries every entity document of the previous environment over.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/entdocs.h"
#include "master/store.h"
#include "shm/snapshot.h"
#include "testlib.h"

typedef struct {
    int due;   /* plan returns this once */
    int phase; /* what compute does */
    int finished, ok;
} tkind_t;

static int plan(void *kctx, msn_store_t *s, int64_t now_ms)
{
    (void)s;
    (void)now_ms;
    tkind_t *k = kctx;
    int d = k->due;
    k->due = 0;
    return d;
}

static int compute(void *kctx, const msn_store_t *s, int64_t now_ms, msn_entdoc_out_t *out)
{
    (void)s;
    (void)now_ms;
    const tkind_t *k = kctx;
    char big[4000];
    switch (k->phase) {
    case 0:
        memset(big, 'x', sizeof(big));
        if (msn_entdoc_emit(out, "ent/test/a/1", "one", 3, 1) || msn_entdoc_emit(out, "ent/test/b/1", "two", 3, 1) ||
            msn_entdoc_emit(out, "ent/test/big/1", big, sizeof(big), 1))
            return -1;
        return 0;
    case 1: /* a unchanged, b changed, c was never published */
        if (msn_entdoc_emit(out, "ent/test/a/1", "one", 3, 1) || msn_entdoc_emit(out, "ent/test/b/1", "TWO", 3, 1) ||
            msn_entdoc_emit_delete(out, "ent/test/c/1"))
            return -1;
        return 0;
    case 2:
        return msn_entdoc_emit_delete(out, "ent/test/a/1");
    case 3:
        msn_entdoc_emit(out, "ent/test/d/1", "dee", 3, 0);
        return -1; /* a failed computation */
    case 4:
        msn_entdoc_emit(out, "ent/test/e/1", "eee", 3, 0);
        kill(getpid(), SIGKILL); /* a computing process that dies */
        return 0;
    default:
        sleep(30); /* reset kills it */
        return 0;
    }
}

static void finish(void *kctx, int ok, int64_t now_ms)
{
    (void)now_ms;
    tkind_t *k = kctx;
    k->finished++;
    k->ok = ok;
}

static msn_snap_t snap;
static char dir[600];

/* Runs ticks until the run finished and its records are read. */
static void run(msn_entdocs_t *e, msn_store_t *s)
{
    tkind_t *k = e->kinds[0].kctx;
    int before = k->finished;
    for (int i = 0; i < 2000 && k->finished == before; i++) {
        msn_entdocs_tick(e, s, 1000);
        usleep(5000);
    }
    CHECK(k->finished == before + 1);
}

/* Writes what arrived into snap and commits. Returns what was written. */
static int publish(msn_entdocs_t *e, int full, const msn_snap_t *prev)
{
    MDB_txn *txn;
    int wrote = 0;
    CHECK_EQ_INT(mdb_txn_begin(snap.env, NULL, 0, &txn), 0);
    CHECK_EQ_INT(msn_entdocs_write(e, txn, &snap, prev, dir, 2, 1000, full, &wrote), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    msn_entdocs_committed(e);
    return wrote;
}

/* The body of document name, or NULL when absent (copied into buf). */
static const char *doc(const char *name, char *buf, size_t n, int *has_gz)
{
    MDB_txn *txn;
    msn_doc_t d;
    const char *r = NULL;
    if (mdb_txn_begin(snap.env, NULL, MDB_RDONLY, &txn) != 0)
        return NULL;
    if (msn_snap_doc_get_full(txn, &snap, name, &d) == 0) {
        snprintf(buf, n, "%.*s", (int)d.len, (const char *)d.body);
        if (has_gz)
            *has_gz = d.gz != NULL;
        r = buf;
    }
    mdb_txn_abort(txn);
    return r;
}

static void write_meta(msn_snap_t *s, uint64_t gen)
{
    MDB_txn *txn;
    msn_snap_meta_t m;
    memset(&m, 0, sizeof(m));
    m.format = MSN_SNAP_FORMAT;
    m.gen = gen;
    int rc;
    CHECK_EQ_INT(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
    msn_snap_meta_put(txn, s, &m, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
}

static void test_runs(void)
{
    char err[512], buf[5000];
    msn_store_t s;
    msn_store_init(&s);
    CHECK_EQ_INT(msn_snap_create(dir, 1, &snap, err, sizeof(err)), 0);
    write_meta(&snap, 1);
    tkind_t k = {.due = 1, .phase = 0};
    msn_entkind_t kind = {"test", plan, compute, finish, NULL, &k};
    msn_entdocs_t e;
    msn_entdocs_init(&e);
    msn_entdocs_add_kind(&e, &kind);

    run(&e, &s);
    CHECK(k.ok);
    CHECK_EQ_INT(e.run_docs, 3);
    CHECK(publish(&e, 0, NULL));
    int gz = 0;
    CHECK(doc("ent/test/a/1", buf, sizeof(buf), &gz) && strcmp(buf, "one") == 0);
    CHECK(!gz); /* small: no gzip copy */
    CHECK(doc("ent/test/big/1", buf, sizeof(buf), &gz) && strlen(buf) == 4000);
    CHECK(gz);
    CHECK(msn_entdocs_hash(&e, "ent/test/a/1") != 0);

    /* only what changed travels */
    k.due = 1;
    k.phase = 1;
    run(&e, &s);
    CHECK(k.ok);
    CHECK_EQ_INT(e.run_docs, 1);
    publish(&e, 0, NULL);
    CHECK(doc("ent/test/b/1", buf, sizeof(buf), NULL) && strcmp(buf, "TWO") == 0);

    /* a deletion */
    k.due = 1;
    k.phase = 2;
    run(&e, &s);
    CHECK_EQ_INT(e.run_docs, 1);
    publish(&e, 0, NULL);
    CHECK(doc("ent/test/a/1", buf, sizeof(buf), NULL) == NULL);
    CHECK_EQ_INT(msn_entdocs_hash(&e, "ent/test/a/1"), 0);

    /* a failed computation and a dying one: reported, what arrived is still written */
    k.due = 1;
    k.phase = 3;
    run(&e, &s);
    CHECK(!k.ok);
    publish(&e, 0, NULL);
    CHECK(doc("ent/test/d/1", buf, sizeof(buf), NULL) != NULL);
    k.due = 1;
    k.phase = 4;
    run(&e, &s);
    CHECK(!k.ok);
    publish(&e, 0, NULL);

    /* a document the publisher thread renders itself */
    CHECK_EQ_INT(msn_entdocs_inject(&e, "ent/test/f/1", "eff", 3, 1000), 1);
    CHECK_EQ_INT(msn_entdocs_tick(&e, &s, 5000), 1); /* a publication is due */
    publish(&e, 0, NULL);
    CHECK(doc("ent/test/f/1", buf, sizeof(buf), NULL) && strcmp(buf, "eff") == 0);
    CHECK_EQ_INT(msn_entdocs_inject(&e, "ent/test/f/1", "eff", 3, 1000), 0); /* unchanged */

    /* a reset kills a run in progress */
    k.due = 1;
    k.phase = 9;
    int before = k.finished;
    msn_entdocs_tick(&e, &s, 1000);
    CHECK(e.pid > 0);
    msn_entdocs_reset(&e, 1000);
    CHECK_EQ_INT(e.pid, 0);
    CHECK_EQ_INT(k.finished, before + 1);
    CHECK(!k.ok);

    /* a full rebuild carries every entity document into the new environment */
    CHECK_EQ_INT(msn_snap_make_current(dir, &snap, err, sizeof(err)), 0);
    msn_snap_t old = snap;
    CHECK_EQ_INT(msn_snap_create(dir, 2, &snap, err, sizeof(err)), 0);
    write_meta(&snap, 2);
    CHECK(publish(&e, 1, &old));
    CHECK(doc("ent/test/b/1", buf, sizeof(buf), NULL) && strcmp(buf, "TWO") == 0);
    CHECK(doc("ent/test/big/1", buf, sizeof(buf), &gz) && gz);
    msn_snap_close(&old);
    /* with no previous environment open, the one `current` points at is read */
    old = snap;
    CHECK_EQ_INT(msn_snap_create(dir, 3, &snap, err, sizeof(err)), 0);
    write_meta(&snap, 3);
    publish(&e, 1, NULL);
    CHECK(doc("ent/test/f/1", buf, sizeof(buf), NULL) != NULL);
    msn_snap_close(&old);
    msn_snap_close(&snap);
    msn_entdocs_free(&e);
    msn_store_free(&s);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s", msn_test_tmpdir("entdocs"));
    MSN_RUN(test_runs);
    return msn_test_done();
}
