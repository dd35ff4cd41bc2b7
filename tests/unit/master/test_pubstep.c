/*
 * test_pubstep.c: the publisher's step function (master/pubstep.c).
 *
 * On a small database made here: the first steps open it and publish a full generation;
 * rows committed by another connection are picked up by the next poll and published as
 * the next generation; a poll time with nothing committed (data_version unchanged)
 * publishes nothing; a finished migration whose effects touch the store reloads it; a
 * running migration that writes resolved paths has its finished rows taken in.
 *
 * msn_pub_decide on hand-made states: loading, ready with new rows, a running
 * resolved-path migration, a finished migration, stop requested; the decisions follow
 * the migrations' effect bits, never their names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "master/pubstep.h"
#include "shm/log.h"
#include "shm/migration_effects.h"
#include "shm/schema.h"
#include "shm/snapshot.h"
#include "testlib.h"

#define KEY_A "aa11111111111111111111111111111111111111111111111111111111111111"

typedef struct {
    char dir[512], db_path[600], state_dir[600];
    msn_config_t cfg;
    msn_status_t *st;
    msn_pubctl_t ctl;
    sqlite3 *rw; /* the writer (another connection, as the ingestor would be) */
} fixture_t;

/* Transmissions from..to, one observation each (same ids), heard by observer 1. */
static void add_rows(sqlite3 *db, int from, int to)
{
    for (int i = from; i <= to; i++) {
        char sql[1024];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, "
                 "decoded_json,"
                 " last_seen) VALUES (%d, '15001122', '%016x', '2026-07-18T11:%02d:00.000Z', 1, 5,"
                 " '{\"type\":\"GRP_TXT\"}', %d);"
                 "INSERT INTO observations (id, transmission_id, observer_idx, direction, snr, rssi, score, "
                 "path_json,"
                 " timestamp) VALUES (%d, %d, 1, 'rx', 5.5, -90, 1, '[\"AA\"]', %d);",
                 i, 0xabc000 + i, i % 60, 1784372400 + i, i, i, 1784372400 + i);
        msn_test_exec(db, sql);
    }
}

static void setup(fixture_t *f, int n_tx)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "%s", msn_test_tmpdir("pubstep"));
    snprintf(f->db_path, sizeof(f->db_path), "%s/mesh.db", f->dir);
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
    CHECK(mkdir(f->state_dir, 0755) == 0);
    char err[512];
    CHECK(sqlite3_open(f->db_path, &f->rw) == SQLITE_OK);
    msn_test_exec(f->rw, "PRAGMA journal_mode=WAL");
    CHECK(msn_schema_create_current(f->rw, err, sizeof(err)) == 0);
    msn_test_exec(
        f->rw,
        "INSERT INTO observers (rowid, id, name, iata, last_seen, first_seen) VALUES"
        " (1, 'obs1', 'Observer One', 'SJC', '2026-07-18T11:00:00.000Z', '2026-07-01T00:00:00.000Z');"
        "INSERT INTO nodes (public_key, name, role, last_seen, first_seen) VALUES"
        " ('" KEY_A "', 'Node A', 'repeater', '2026-07-18T11:00:00.000Z', '2026-07-01T00:00:00.000Z');");
    add_rows(f->rw, 1, n_tx);
    msn_config_defaults(&f->cfg);
    CHECK(msn_config_set(&f->cfg, NULL, "db", f->db_path, err, sizeof(err)) == 0);
    CHECK(msn_config_set(&f->cfg, NULL, "state_dir", f->state_dir, err, sizeof(err)) == 0);
    CHECK(msn_config_set(&f->cfg, NULL, "poll_interval_ms", "100", err, sizeof(err)) == 0);
    CHECK(msn_config_set(&f->cfg, "backfill", "republish_interval_s", "1", err, sizeof(err)) == 0);
    CHECK(msn_status_create(f->state_dir, &f->st) == 0);
    atomic_store(&f->ctl.poll_interval_ms, f->cfg.poll_interval_ms);
}

static void teardown(fixture_t *f)
{
    sqlite3_close(f->rw);
    msn_status_close(f->st);
    msn_config_free(&f->cfg);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
}

/* The meta record of the snapshot being served (what a worker would see). */
static msn_snap_meta_t served_meta(const fixture_t *f)
{
    msn_snap_meta_t m;
    memset(&m, 0, sizeof(m));
    msn_snap_t snap;
    char err[512];
    if (msn_snap_open_current_ro(f->state_dir, &snap, err, sizeof(err)) < 0) {
        fprintf(stderr, "no current snapshot: %s\n", err);
        msn_test_failures++;
        return m;
    }
    MDB_txn *txn;
    if (mdb_txn_begin(snap.env, NULL, MDB_RDONLY, &txn) == 0) {
        CHECK_EQ_INT(msn_snap_meta_get(txn, &snap, &m), 0);
        mdb_txn_abort(txn);
    }
    msn_snap_close(&snap);
    return m;
}

static msn_pub_action_t step(msn_pubctx_t *c, int64_t now)
{
    msn_pub_plan_t p = msn_pub_step(c, now);
    return p.action;
}

#define CHECK_ACTION(got, want)                                                                              \
    do {                                                                                                     \
        msn_pub_action_t _g = (got), _w = (want);                                                            \
        if (_g != _w) {                                                                                      \
            fprintf(stderr, "%s:%d: action %s, expected %s\n", __FILE__, __LINE__, msn_pub_action_name(_g),  \
                    msn_pub_action_name(_w));                                                                \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)

/* Opens, loads and publishes generation 1 (3 transmissions). */
static void load_first(fixture_t *f, msn_pubctx_t *c)
{
    int64_t now = msn_now_ms();
    CHECK_ACTION(step(c, now), MSN_PUB_OPEN);
    CHECK(c->db != NULL);
    CHECK_ACTION(step(c, now), MSN_PUB_FULL_LOAD);
    CHECK(c->loaded);
    CHECK_EQ_INT(c->pub.gen, 1);
    CHECK_EQ_INT(c->store.n_tx, 3);
    CHECK_EQ_INT(c->store.n_obs, 3);
    msn_master_status_t ms;
    msn_status_read_master(f->st, &ms);
    CHECK_EQ_INT(ms.phase, MSN_PHASE_READY);
    CHECK_EQ_INT(ms.published_gen, 1);
    CHECK_EQ_INT(ms.loaded_tx, 3);
    msn_snap_meta_t m = served_meta(f);
    CHECK_EQ_INT(m.gen, 1);
    CHECK_EQ_INT(m.tx_count, 3);
}

static void test_full_publish_then_poll(void)
{
    fixture_t f;
    setup(&f, 3);
    msn_pubctx_t c;
    msn_pubctx_init(&c, &f.cfg, f.st, &f.ctl, msn_now_ms());
    load_first(&f, &c);

    /* rows committed by another connection: the next poll publishes them */
    add_rows(f.rw, 4, 5);
    int64_t t = c.next_poll_ms;
    CHECK_ACTION(step(&c, t), MSN_PUB_POLL);
    CHECK_EQ_INT(c.store.n_tx, 5);
    CHECK_EQ_INT(c.store.n_obs, 5);
    CHECK_EQ_INT(c.pub.gen, 2);
    msn_snap_meta_t m = served_meta(&f);
    CHECK_EQ_INT(m.gen, 2);
    CHECK_EQ_INT(m.tx_count, 5);
    CHECK_EQ_INT(m.max_tx_id, 5);
    CHECK_EQ_INT(m.max_obs_id, 5);
    CHECK(c.next_poll_ms >= t + 100);

    /* nothing committed since: data_version is unchanged, nothing is read or published */
    t = c.next_poll_ms;
    CHECK_ACTION(step(&c, t), MSN_PUB_COUNTS);
    CHECK_EQ_INT(c.pub.gen, 2);
    CHECK_EQ_INT(served_meta(&f).gen, 2);
    msn_master_status_t ms;
    msn_status_read_master(f.st, &ms);
    CHECK_EQ_INT(ms.last_poll_at_ms, t);
    CHECK_EQ_INT(ms.published_gen, 2);

    /* a commit that adds no packet: polled (data_version moved), no new packet */
    msn_test_exec(f.rw, "UPDATE observers SET name = 'Observer 1' WHERE id = 'obs1'");
    t = c.next_poll_ms;
    CHECK_ACTION(step(&c, t), MSN_PUB_POLL);
    CHECK_EQ_INT(c.store.n_tx, 5);
    CHECK(c.store.n_observers == 1 && strcmp(c.store.observers[0].name, "Observer 1") == 0);

    /* between polls: the analytics tick, or a sleep bounded by the slice */
    msn_pub_plan_t p = msn_pub_step(&c, c.next_poll_ms - 1);
    CHECK(p.action == MSN_PUB_ANALYTICS || p.action == MSN_PUB_SLEEP);

    atomic_store(&f.ctl.stop, 1);
    CHECK_ACTION(step(&c, c.next_poll_ms), MSN_PUB_STOP);
    msn_pubctx_free(&c);
    teardown(&f);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void set_mig(msn_status_t *st, const char *name, int status, uint32_t effects, int64_t rows,
                    int64_t ended_at, int64_t cursor)
{
    msn_migration_status_t m;
    memset(&m, 0, sizeof(m));
    snprintf(m.name, sizeof(m.name), "%s", name);
    m.status = status;
    m.effects = effects;
    m.rows_processed = rows;
    m.rows_total = rows;
    m.ended_at = ended_at;
    m.cursor = cursor;
    msn_status_set_migration(st, &m);
}

/* A migration that changed what the store holds, finished after the load: full reload. */
static void test_finished_migration_reloads(void)
{
    fixture_t f;
    setup(&f, 3);
    msn_pubctx_t c;
    msn_pubctx_init(&c, &f.cfg, f.st, &f.ctl, msn_now_ms());
    load_first(&f, &c);
    sleep_ms(20);
    /* no effect on the store: no reload, whatever its name */
    set_mig(f.st, "tx_last_seen_backfill_v1", MSN_MIG_DONE, 0, 3, msn_now_ms() - 5, 0);
    CHECK_ACTION(step(&c, c.next_poll_ms), MSN_PUB_POLL); /* data_version: never polled yet */
    CHECK_EQ_INT(c.pub.gen, 1);
    set_mig(f.st, "some_backfill_v1", MSN_MIG_DONE, MSN_MIG_AFFECTS_LAST_SEEN, 3, msn_now_ms() - 5, 0);
    int64_t t = msn_now_ms(); /* the backfill status just changed: another migration may start */
    CHECK(msn_pub_step(&c, t).action != MSN_PUB_FULL_LOAD);
    CHECK(c.reload_pending); /* noted */
    msn_pub_plan_t p = msn_pub_step(&c, t + MSN_PUB_SETTLE_MS);
    CHECK_ACTION(p.action, MSN_PUB_FULL_LOAD);
    CHECK_EQ_INT(p.mig, 1);
    CHECK_EQ_INT(c.pub.gen, 2);
    CHECK(!c.store_dropped); /* the reload succeeded: the new store is the context's */
    CHECK_EQ_INT(c.store.n_tx, 3);
    CHECK_EQ_INT(served_meta(&f).gen, 2);
    /* done once: the migration ended before this load began (and nothing was committed) */
    CHECK_ACTION(step(&c, c.next_poll_ms), MSN_PUB_COUNTS);
    CHECK_EQ_INT(c.pub.gen, 2);
    msn_pubctx_free(&c);
    teardown(&f);
}

/* A running migration that writes resolved paths: its finished rows are taken in. */
static void test_running_resolved_path_migration(void)
{
    fixture_t f;
    setup(&f, 3);
    msn_pubctx_t c;
    msn_pubctx_init(&c, &f.cfg, f.st, &f.ctl, msn_now_ms());
    load_first(&f, &c);
    CHECK(c.store.obs[0].rp == NULL);
    msn_test_exec(f.rw, "UPDATE observations SET resolved_path = '[\"" KEY_A "\"]' WHERE id <= 2");
    /* named like no resolved-path migration: its effects say what it writes */
    set_mig(f.st, "backfill_x_v1", MSN_MIG_RUNNING, MSN_MIG_AFFECTS_RESOLVED_PATH, 2, 0, 2);
    int64_t t = c.last_paths_ms + 1000; /* republish_interval_s = 1 */
    msn_pub_plan_t p = msn_pub_step(&c, t);
    CHECK_ACTION(p.action, MSN_PUB_TAKE_PATHS);
    CHECK_EQ_INT(p.mig, 0);
    CHECK_EQ_INT(c.paths_to, 2);
    CHECK(c.store.obs[0].rp != NULL && c.store.obs[1].rp != NULL);
    CHECK(c.store.obs[2].rp == NULL); /* past the cursor: not final yet */
    CHECK(c.poll_now);
    CHECK_ACTION(step(&c, t), MSN_PUB_POLL); /* at once: the paths are published */
    CHECK_EQ_INT(c.pub.gen, 2);
    CHECK(!c.poll_now);
    /* nothing new past the cursor: no second take-in */
    CHECK(msn_pub_step(&c, t + 5000).action != MSN_PUB_TAKE_PATHS);
    msn_pubctx_free(&c);
    teardown(&f);
}

/* ---- decisions on hand-made states ---- */

typedef struct {
    msn_config_t cfg;
    msn_pubctx_t c;
    msn_pub_in_t in;
    sqlite3 *db;
} decide_t;

#define NOW 1784376000000LL

static void decide_setup(decide_t *d)
{
    memset(d, 0, sizeof(*d));
    msn_config_defaults(&d->cfg); /* republish_interval_s 60 */
    CHECK(sqlite3_open(":memory:", &d->db) == SQLITE_OK);
    d->c.cfg = &d->cfg;
    d->c.db = d->db; /* never used by msn_pub_decide */
    d->c.loaded = 1;
    d->c.loaded_at_ms = NOW - 600000;
    d->c.last_paths_ms = NOW - 600000;
    d->c.last_data_version = 7;
    d->c.last_small_ms = NOW - 1000;
    d->c.next_poll_ms = NOW + 30;
    d->c.next_tick_ms = NOW + 20;
    d->in.now_ms = NOW;
    d->in.data_version = 7;
    d->in.bf.last_progress_ms = NOW - 600000; /* no backfill news for a while */
}

static void decide_teardown(decide_t *d)
{
    sqlite3_close(d->db);
    msn_config_free(&d->cfg);
}

static msn_pub_action_t decide(const decide_t *d)
{
    return msn_pub_decide(&d->c, &d->in).action;
}

static msn_migration_status_t *mig(decide_t *d, const char *name, int status, uint32_t effects)
{
    msn_migration_status_t *m = &d->in.bf.mig[d->in.bf.n_migrations++];
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->status = status;
    m->effects = effects;
    return m;
}

static void test_decide_idle_and_ticks(void)
{
    decide_t d;
    decide_setup(&d);
    msn_pub_plan_t p = msn_pub_decide(&d.c, &d.in);
    CHECK_ACTION(p.action, MSN_PUB_SLEEP);
    CHECK_EQ_INT(p.sleep_ms, 20); /* until the analytics tick */
    d.c.next_tick_ms = NOW;
    CHECK_ACTION(decide(&d), MSN_PUB_ANALYTICS);
    d.c.next_tick_ms = NOW + 1000;
    d.c.next_poll_ms = NOW + 1000;
    CHECK_EQ_INT(msn_pub_decide(&d.c, &d.in).sleep_ms, MSN_PUB_SLICE_MS);
    decide_teardown(&d);
}

static void test_decide_loading(void)
{
    decide_t d;
    decide_setup(&d);
    d.c.loaded = 0;
    d.c.next_tick_ms = NOW - 1; /* nothing is computed before the first load */
    msn_pub_plan_t p = msn_pub_decide(&d.c, &d.in);
    CHECK_ACTION(p.action, MSN_PUB_FULL_LOAD);
    CHECK_EQ_INT(p.mig, -1);
    /* no connection yet: open it, or wait for the retry time */
    d.c.db = NULL;
    d.c.retry_ms = NOW;
    CHECK_ACTION(decide(&d), MSN_PUB_OPEN);
    d.c.retry_ms = NOW + 700;
    p = msn_pub_decide(&d.c, &d.in);
    CHECK_ACTION(p.action, MSN_PUB_SLEEP);
    CHECK_EQ_INT(p.sleep_ms, MSN_PUB_SLICE_MS);
    /* a loaded store keeps its analytics going while the connection is away */
    d.c.loaded = 1;
    CHECK_ACTION(decide(&d), MSN_PUB_ANALYTICS);
    /* an incremental publication failed: rebuild */
    d.c.db = d.db;
    d.c.rebuild = 1;
    CHECK_ACTION(decide(&d), MSN_PUB_FULL_LOAD);
    /* a reload freed the store and failed: nothing is computed from the empty store, even
       while the connection is away, and the next open loads in full */
    d.c.rebuild = 0;
    d.c.store_dropped = 1;
    CHECK_ACTION(decide(&d), MSN_PUB_FULL_LOAD);
    d.c.db = NULL;
    d.c.retry_ms = NOW + 700;
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    d.c.db = d.db;
    decide_teardown(&d);
}

static void test_decide_ready_with_new_rows(void)
{
    decide_t d;
    decide_setup(&d);
    d.c.next_poll_ms = NOW;
    d.in.data_version = 8; /* another connection committed */
    CHECK_ACTION(decide(&d), MSN_PUB_POLL);
    d.in.data_version = 7; /* nothing committed */
    CHECK_ACTION(decide(&d), MSN_PUB_COUNTS);
    d.in.data_version = -1; /* unknown: poll */
    CHECK_ACTION(decide(&d), MSN_PUB_POLL);
    d.in.data_version = 7;
    d.c.poll_now = 1; /* analytics results or resolved paths wait */
    CHECK_ACTION(decide(&d), MSN_PUB_POLL);
    d.c.poll_now = 0;
    d.c.last_small_ms = NOW - MSN_PUB_SMALL_RELOAD_MS; /* time-dependent counters */
    CHECK_ACTION(decide(&d), MSN_PUB_POLL);
    d.c.next_poll_ms = NOW + 1; /* not poll time: new rows wait */
    d.in.data_version = 9;
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    decide_teardown(&d);
}

static void test_decide_running_resolved_path_migration(void)
{
    decide_t d;
    decide_setup(&d);
    d.c.paths_to = 100;
    msn_migration_status_t *m =
        mig(&d, "resolved_path_backfill_v1", MSN_MIG_RUNNING, MSN_MIG_AFFECTS_RESOLVED_PATH);
    m->cursor = 500;
    d.in.bf.last_progress_ms = NOW - 1000; /* it reports progress */
    d.c.last_paths_ms = NOW - 60000;
    msn_pub_plan_t p = msn_pub_decide(&d.c, &d.in);
    CHECK_ACTION(p.action, MSN_PUB_TAKE_PATHS);
    CHECK_EQ_INT(p.mig, 0);
    d.c.last_paths_ms = NOW - 59999; /* at most once per republish_interval_s */
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    d.c.last_paths_ms = NOW - 60000;
    m->cursor = 100; /* nothing past what the store holds */
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    m->cursor = 500;
    m->effects = MSN_MIG_AFFECTS_PATH_JSON; /* the name alone means nothing */
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    m->effects = MSN_MIG_AFFECTS_PATH_JSON | MSN_MIG_AFFECTS_RESOLVED_PATH;
    CHECK_ACTION(decide(&d), MSN_PUB_TAKE_PATHS);
    /* the furthest cursor wins */
    msn_migration_status_t *m2 = mig(&d, "other_v2", MSN_MIG_RUNNING, MSN_MIG_AFFECTS_RESOLVED_PATH);
    m2->cursor = 900;
    p = msn_pub_decide(&d.c, &d.in);
    CHECK_ACTION(p.action, MSN_PUB_TAKE_PATHS);
    CHECK_EQ_INT(p.mig, 1);
    /* while it runs, a finished one does not reload yet */
    msn_migration_status_t *done = mig(&d, "schema_upgrade_v1", MSN_MIG_DONE, MSN_MIG_AFFECTS_SCHEMA);
    done->rows_processed = 4;
    done->ended_at = NOW - 1000;
    CHECK_ACTION(decide(&d), MSN_PUB_TAKE_PATHS);
    d.in.bf.last_progress_ms = NOW - MSN_PUB_STALL_MS - 1; /* unless the runner went silent */
    p = msn_pub_decide(&d.c, &d.in);
    CHECK_ACTION(p.action, MSN_PUB_FULL_LOAD);
    CHECK_EQ_INT(p.mig, 2);
    decide_teardown(&d);
}

static void test_decide_finished_migration(void)
{
    decide_t d;
    decide_setup(&d);
    msn_migration_status_t *m = mig(&d, "tx_last_seen_backfill_v1", MSN_MIG_DONE, MSN_MIG_AFFECTS_LAST_SEEN);
    m->rows_processed = 10;
    m->ended_at = d.c.loaded_at_ms + 1;
    msn_pub_plan_t p = msn_pub_decide(&d.c, &d.in);
    CHECK_ACTION(p.action, MSN_PUB_FULL_LOAD);
    CHECK_EQ_INT(p.mig, 0);
    d.in.bf.last_progress_ms = NOW - MSN_PUB_SETTLE_MS + 1; /* it just ended: the next one may follow */
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    d.in.bf.last_progress_ms = NOW - MSN_PUB_SETTLE_MS; /* none followed: the run is over */
    CHECK_ACTION(decide(&d), MSN_PUB_FULL_LOAD);
    m->ended_at = d.c.loaded_at_ms - 1; /* the store was loaded after it */
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    m->ended_at = d.c.loaded_at_ms + 1;
    m->rows_processed = 0; /* changed nothing */
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    m->rows_processed = 10;
    m->effects = 0; /* touches nothing the store holds */
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    m->effects = MSN_MIG_AFFECTS_PATH_JSON;
    m->status = MSN_MIG_FAILED; /* failed: the next run redoes it */
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    /* noted by an earlier step, its entry since rewritten (a restarted backfiller): still due */
    d.c.reload_pending = 1;
    p = msn_pub_decide(&d.c, &d.in);
    CHECK_ACTION(p.action, MSN_PUB_FULL_LOAD);
    CHECK_EQ_INT(p.mig, -1);
    m->status = MSN_MIG_RUNNING; /* once no migration runs */
    d.in.bf.last_progress_ms = NOW;
    CHECK_ACTION(decide(&d), MSN_PUB_SLEEP);
    decide_teardown(&d);
}

static void test_decide_stop_requested(void)
{
    decide_t d;
    decide_setup(&d);
    d.c.loaded = 0;
    d.c.next_poll_ms = NOW - 1;
    d.c.next_tick_ms = NOW - 1;
    d.in.reader_check = 1;
    d.in.stop = 1;
    CHECK_ACTION(decide(&d), MSN_PUB_STOP);
    d.c.db = NULL;
    CHECK_ACTION(decide(&d), MSN_PUB_STOP);
    d.in.stop = 0;
    /* a dead worker's reader slot is cleared first, once a snapshot is open */
    CHECK_ACTION(decide(&d), MSN_PUB_OPEN);
    int env_stand_in;
    d.c.pub.snap.env = (MDB_env *)&env_stand_in; /* never dereferenced by msn_pub_decide */
    CHECK_ACTION(decide(&d), MSN_PUB_READERS);
    decide_teardown(&d);
}

int main(void)
{
    msn_log_set_level(MSN_LOG_WARN);
    MSN_RUN(test_decide_idle_and_ticks);
    MSN_RUN(test_decide_loading);
    MSN_RUN(test_decide_ready_with_new_rows);
    MSN_RUN(test_decide_running_resolved_path_migration);
    MSN_RUN(test_decide_finished_migration);
    MSN_RUN(test_decide_stop_requested);
    MSN_RUN(test_full_publish_then_poll);
    MSN_RUN(test_finished_migration_reloads);
    MSN_RUN(test_running_resolved_path_migration);
    return msn_test_done();
}
