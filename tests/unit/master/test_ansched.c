/*
 * test_ansched.c: the master's bound on on-demand analytics shapes (master/ansched.c):
 * at most [analytics] max_shapes are kept, the least recently asked is evicted (its
 * document deleted from the snapshot at the next write), only shapes in normal form are
 * taken, and the counts reach the status block; a shape evicted and asked again before the
 * next write keeps its new document.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "master/ansched.h"
#include "master/store.h"
#include "shm/anshape.h"
#include "shm/snapshot.h"
#include "shm/config.h"
#include "shm/status.h"
#include "testlib.h"

#define CAP 4
#define INTERVAL_MS (300 * 1000LL)

static struct {
    msn_config_t cfg;
    msn_status_t *st;
    msn_store_t store;
    msn_ansched_t a;
} t;

static int setup(void)
{
    msn_config_defaults(&t.cfg);
    t.cfg.analytics.max_shapes = CAP;
    if (msn_status_create(msn_test_tmpdir("ansched"), &t.st) < 0)
        return -1;
    msn_store_init(&t.store);
    msn_ansched_init(&t.a, &t.cfg, t.st);
    return 0;
}

static void teardown(void)
{
    msn_ansched_free(&t.a);
    msn_store_free(&t.store);
    msn_status_close(t.st);
    msn_config_free(&t.cfg);
}

/* The key of "from = base + i intervals" (in normal form). */
static const char *from_key(int64_t base, int i)
{
    static char key[64];
    snprintf(key, sizeof(key), "f=%lld", (long long)(base + i * INTERVAL_MS));
    return key;
}

static int on_demand_named(const char *key)
{
    for (int i = 0; i < t.a.n; i++)
        if (t.a.ents[i].on_demand && strcmp(t.a.ents[i].key, key) == 0)
            return 1;
    return 0;
}

static int deleted_named(const char *name)
{
    for (int i = 0; i < t.a.n_deleted; i++)
        if (strcmp(t.a.deleted[i], name) == 0)
            return 1;
    return 0;
}

static void test_cap_and_lru(void)
{
    if (setup() < 0) {
        CHECK(0);
        return;
    }
    int64_t now = msn_now_ms();
    int64_t base = (now / INTERVAL_MS - 100) * INTERVAL_MS;
    /* ten distinct shapes asked one after the other */
    for (int i = 0; i < 10; i++) {
        msn_status_request_shape(t.st, MSN_AN_TOPOLOGY, from_key(base, i), 1);
        msn_ansched_tick(&t.a, &t.store, now + i);
    }
    CHECK_EQ_INT(t.a.n_on_demand, CAP);
    CHECK_EQ_INT(t.a.evicted, 10 - CAP);
    /* the newest are kept, the oldest were evicted and their documents are to be deleted */
    for (int i = 0; i < 10; i++) {
        char name[200];
        msn_anshape_t sh;
        CHECK_EQ_INT(msn_anshape_from_key(from_key(base, i), &sh), 0);
        msn_anshape_doc_name(MSN_AN_TOPOLOGY, &sh, name, sizeof(name));
        CHECK_EQ_INT(on_demand_named(from_key(base, i)), i >= 10 - CAP);
        CHECK_EQ_INT(deleted_named(name), i < 10 - CAP);
    }
    /* asking an old one again makes it the most recent: the next new shape evicts another */
    msn_status_request_shape(t.st, MSN_AN_TOPOLOGY, from_key(base, 6), 0);
    msn_ansched_tick(&t.a, &t.store, now + 20);
    msn_status_request_shape(t.st, MSN_AN_TOPOLOGY, from_key(base, 11), 1);
    msn_ansched_tick(&t.a, &t.store, now + 21);
    CHECK(on_demand_named(from_key(base, 6)));
    CHECK(!on_demand_named(from_key(base, 7)));
    CHECK(on_demand_named(from_key(base, 11)));
    CHECK_EQ_INT(t.a.n_on_demand, CAP);
    /* the counts are in the status block */
    msn_master_status_t ms;
    msn_status_read_master(t.st, &ms);
    CHECK_EQ_INT(ms.shapes_on_demand, CAP);
    CHECK_EQ_INT(ms.shapes_evicted, 10 - CAP + 1);
    teardown();
}

static void test_only_normal_shapes(void)
{
    if (setup() < 0) {
        CHECK(0);
        return;
    }
    int64_t now = msn_now_ms();
    int64_t base = (now / INTERVAL_MS - 10) * INTERVAL_MS;
    char key[64];
    snprintf(key, sizeof(key), "f=%lld", (long long)(base + 1234)); /* not on the interval */
    msn_status_request_shape(t.st, MSN_AN_RF, key, 1);
    snprintf(key, sizeof(key), "t=%lld", (long long)(base + 100 * INTERVAL_MS)); /* in the future */
    msn_status_request_shape(t.st, MSN_AN_RF, key, 1);
    msn_status_request_shape(t.st, MSN_AN_RF, "a=bay", 1);            /* areas make no shape */
    msn_status_request_shape(t.st, MSN_AN_RF, "r=SJC,SFO", 1);        /* not canonical (order) */
    msn_status_request_shape(t.st, MSN_AN_RF, "r=SFO,SJC", 1);        /* fine */
    msn_ansched_tick(&t.a, &t.store, now);
    CHECK_EQ_INT(t.a.n_on_demand, 1);
    CHECK(on_demand_named("r=SFO,SJC"));
    teardown();
}

/* Ticks at now until no computation runs (an empty store computes in milliseconds). */
static void settle(int64_t now)
{
    for (int i = 0; i < 500; i++) {
        msn_ansched_tick(&t.a, &t.store, now);
        if (t.a.run.pid == 0)
            return;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    CHECK(t.a.run.pid == 0);
}

static void test_idle_drop_configurable(void)
{
    if (setup() < 0) {
        CHECK(0);
        return;
    }
    t.cfg.analytics.shape_idle_s = 60;
    int64_t now = msn_now_ms();
    msn_status_request_shape(t.st, MSN_AN_RF, "w=3d", 1);
    settle(now);
    CHECK_EQ_INT(t.a.n_on_demand, 1);
    settle(now + 59 * 1000);
    CHECK_EQ_INT(t.a.n_on_demand, 1);
    settle(now + 61 * 1000);
    CHECK_EQ_INT(t.a.n_on_demand, 0);
    CHECK(deleted_named("an/rf?w=3d"));
    teardown();
}

/* A shape evicted and asked again before the next write: its name is both to delete and
   to put, and the write leaves its new document in the snapshot. */
static void test_evicted_then_asked_again(void)
{
    if (setup() < 0) {
        CHECK(0);
        return;
    }
    int64_t now = msn_now_ms();
    int64_t base = (now / INTERVAL_MS - 100) * INTERVAL_MS;
    for (int i = 0; i <= CAP; i++) { /* CAP + 1 shapes: the first is evicted */
        msn_status_request_shape(t.st, MSN_AN_TOPOLOGY, from_key(base, i), 1);
        msn_ansched_tick(&t.a, &t.store, now + i);
    }
    CHECK(!on_demand_named(from_key(base, 0)));
    msn_status_request_shape(t.st, MSN_AN_TOPOLOGY, from_key(base, 0), 1);
    msn_ansched_tick(&t.a, &t.store, now + 10);
    msn_ancache_ent_t *e = NULL;
    for (int i = 0; i < t.a.n; i++)
        if (strcmp(t.a.ents[i].key, from_key(base, 0)) == 0)
            e = &t.a.ents[i];
    CHECK(e != NULL);
    if (e == NULL) {
        teardown();
        return;
    }
    CHECK(deleted_named(e->name));
    /* its result, as a run would leave it */
    free(e->body);
    e->body = msn_xstrdup("{\"again\":1}");
    e->len = strlen(e->body);
    e->dirty = 1;
    e->published_at = now;

    char err[256];
    msn_snap_t snap;
    CHECK_EQ_INT(msn_snap_create(msn_test_tmpdir("ansched-snap"), 1, &snap, err, sizeof(err)), 0);
    MDB_txn *txn = NULL;
    CHECK_EQ_INT(mdb_txn_begin(snap.env, NULL, 0, &txn), 0);
    int wrote = 0;
    CHECK_EQ_INT(msn_ansched_write(&t.a, txn, &snap, 1, now, 0, &wrote), 0);
    CHECK(wrote);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    CHECK_EQ_INT(mdb_txn_begin(snap.env, NULL, MDB_RDONLY, &txn), 0);
    const void *body = NULL;
    size_t len = 0;
    CHECK_EQ_INT(msn_snap_doc_get(txn, &snap, e->name, &body, &len, NULL, NULL), 0);
    CHECK(len == strlen("{\"again\":1}") && body != NULL && memcmp(body, "{\"again\":1}", len) == 0);
    mdb_txn_abort(txn);
    msn_snap_close(&snap);
    teardown();
}

int main(void)
{
    MSN_RUN(test_cap_and_lru);
    MSN_RUN(test_only_normal_shapes);
    MSN_RUN(test_idle_drop_configurable);
    MSN_RUN(test_evicted_then_asked_again);
    return msn_test_done();
}
