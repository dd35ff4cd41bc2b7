/* pubstep.c: see pubstep.h. */
#include "pubstep.h"

#include <errno.h>
#include <stdarg.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "shm/log.h"
#include "shm/migration_effects.h"
#include "shm/schema.h"
#include "snapcover.h"

static void set_status(msn_status_t *st, int phase, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_status(msn_status_t *st, int phase, const char *fmt, ...)
{
    msn_status_write_begin(&st->master_seq);
    if (phase >= 0)
        st->master.phase = phase;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->master.status_text, sizeof(st->master.status_text), fmt, ap);
    va_end(ap);
    msn_status_write_end(&st->master_seq);
}

/* ---- deciding -------------------------------------------------------------------------- */

static int n_migrations(const msn_backfill_status_t *bf)
{
    return bf->n_migrations < MSN_STATUS_MAX_MIGRATIONS ? bf->n_migrations : MSN_STATUS_MAX_MIGRATIONS;
}

/* 1 when mg finished, changed rows of what the store holds, after the last load began. */
static int calls_for_reload(const msn_pubctx_t *c, const msn_migration_status_t *mg)
{
    return mg->status == MSN_MIG_DONE && (mg->effects & MSN_MIG_AFFECTS_STORE) && mg->rows_processed > 0 &&
           mg->ended_at >= c->loaded_at_ms;
}

/* The index of a finished migration whose changes the store lacks, or -1. */
static int finished_migration(const msn_pubctx_t *c, const msn_backfill_status_t *bf)
{
    for (int i = 0; i < n_migrations(bf); i++)
        if (calls_for_reload(c, &bf->mig[i]))
            return i;
    return -1;
}

/* Migrations run one after the other: reload once the last one has finished (the
   resolved-path take-in covers the time in between), that is once none has run for
   MSN_PUB_SETTLE_MS (the next one of a run starts within milliseconds of the previous
   one's end), or once the runner went silent. */
static int reload_may_start(const msn_backfill_status_t *bf, int64_t now)
{
    for (int i = 0; i < n_migrations(bf); i++)
        if (bf->mig[i].status == MSN_MIG_RUNNING)
            return now - bf->last_progress_ms > MSN_PUB_STALL_MS;
    return now - bf->last_progress_ms >= MSN_PUB_SETTLE_MS;
}

/* The running resolved-path migration with the furthest cursor past the store, or -1. */
static int paths_to_take(const msn_pubctx_t *c, const msn_pub_in_t *in)
{
    if (in->now_ms - c->last_paths_ms < (int64_t)c->cfg->backfill.republish_interval_s * 1000)
        return -1;
    int best = -1;
    int64_t cursor = c->paths_to;
    for (int i = 0; i < n_migrations(&in->bf); i++) {
        const msn_migration_status_t *mg = &in->bf.mig[i];
        if (mg->status == MSN_MIG_RUNNING && (mg->effects & MSN_MIG_AFFECTS_RESOLVED_PATH) &&
            mg->cursor > cursor) {
            best = i;
            cursor = mg->cursor;
        }
    }
    return best;
}

/* PRAGMA data_version moves when another connection commits: without a commit there is
   nothing to read, except the time-dependent counters every MSN_PUB_SMALL_RELOAD_MS. */
static int poll_needed(const msn_pubctx_t *c, const msn_pub_in_t *in)
{
    return c->poll_now || in->data_version < 0 || in->data_version != c->last_data_version ||
           in->now_ms - c->last_small_ms >= MSN_PUB_SMALL_RELOAD_MS;
}

static msn_pub_plan_t plan(msn_pub_action_t a, int mig)
{
    msn_pub_plan_t p = {a, mig, 0};
    return p;
}

msn_pub_plan_t msn_pub_decide(const msn_pubctx_t *c, const msn_pub_in_t *in)
{
    int64_t now = in->now_ms;
    if (in->stop)
        return plan(MSN_PUB_STOP, -1);
    if (in->reader_check && c->pub.snap.env != NULL)
        return plan(MSN_PUB_READERS, -1);
    int64_t next = INT64_MAX;
    if (c->db == NULL) {
        if (now >= c->retry_ms)
            return plan(MSN_PUB_OPEN, -1);
        next = c->retry_ms;
    } else {
        if (!c->loaded || c->rebuild || c->store_dropped)
            return plan(MSN_PUB_FULL_LOAD, -1);
        int mig = finished_migration(c, &in->bf);
        if ((mig >= 0 || c->reload_pending) && reload_may_start(&in->bf, now))
            return plan(MSN_PUB_FULL_LOAD, mig);
        if ((mig = paths_to_take(c, in)) >= 0)
            return plan(MSN_PUB_TAKE_PATHS, mig);
        if (now >= c->next_poll_ms)
            return plan(poll_needed(c, in) ? MSN_PUB_POLL : MSN_PUB_COUNTS, -1);
        next = c->next_poll_ms;
    }
    if (c->loaded && !c->store_dropped) {
        if (now >= c->next_tick_ms)
            return plan(MSN_PUB_ANALYTICS, -1);
        if (c->next_tick_ms < next)
            next = c->next_tick_ms;
    }
    msn_pub_plan_t p = plan(MSN_PUB_SLEEP, -1);
    p.sleep_ms = next - now > MSN_PUB_SLICE_MS ? MSN_PUB_SLICE_MS : (int)(next - now);
    if (p.sleep_ms < 1)
        p.sleep_ms = 1;
    return p;
}

const char *msn_pub_action_name(msn_pub_action_t a)
{
    static const char *const names[] = {"stop", "readers", "open",      "full_load", "take_paths",
                                        "poll", "counts",  "analytics", "sleep"};
    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

/* ---- doing ----------------------------------------------------------------------------- */

/* The time `now` moved on to after work that began (wall clock) at real_start. */
static int64_t after(int64_t now, int64_t real_start)
{
    int64_t spent = msn_now_ms() - real_start;
    return now + (spent > 0 ? spent : 0);
}

static int poll_interval(const msn_pubctx_t *c)
{
    return atomic_load(&c->ctl->poll_interval_ms);
}

typedef struct {
    msn_status_t *st;
    int64_t last_log_ms;
} progress_ctx_t;

static void on_progress(void *ctx, int64_t tx, int64_t obs)
{
    progress_ctx_t *pc = ctx;
    msn_status_t *st = pc->st;
    msn_status_write_begin(&st->master_seq);
    st->master.load_progress_tx = tx;
    snprintf(st->master.status_text, sizeof(st->master.status_text),
             "loading: %lld transmissions, %lld observations", (long long)tx, (long long)obs);
    msn_status_write_end(&st->master_seq);
    int64_t now = msn_now_ms();
    if (now - pc->last_log_ms >= 5000) {
        msn_info("loading: %lld transmissions, %lld observations", (long long)tx, (long long)obs);
        pc->last_log_ms = now;
    }
}

static void publish_counts(msn_pubctx_t *c, int64_t now)
{
    msn_status_t *st = c->st;
    msn_status_write_begin(&st->master_seq);
    st->master.loaded_tx = c->store.n_tx;
    st->master.loaded_obs = c->store.n_obs;
    st->master.loaded_nodes = c->store.n_nodes;
    st->master.loaded_observers = c->store.n_observers;
    st->master.published_gen = (int64_t)c->pub.gen;
    st->master.published_at_ms = c->pub.last_published_ms;
    st->master.last_poll_at_ms = now;
    st->master.feed_messages = c->feed.messages;
    st->master.feed_skipped = c->feed.skipped;
    const msn_store_t *s = &c->store;
    const msn_pubskip_t *k = &c->pub.skip;
    st->master.rows_corrupt = s->skipped_rows;
    st->master.obs_orphaned = s->orphan_obs;
    st->master.obs_waiting = s->n_pend;
    st->master.ids_nonpositive = s->nonpositive_tx + s->nonpositive_obs;
    st->master.index_skipped = k->tx_hash + k->nodes + k->list_keys + k->refused;
    msn_status_write_end(&st->master_seq);
}

static void close_db(msn_pubctx_t *c, int64_t retry_ms)
{
    sqlite3_close(c->db);
    c->db = NULL;
    c->retry_ms = retry_ms;
    c->last_data_version = -1; /* a count of one connection: the next one polls at once */
}

static void set_db_state(msn_pubctx_t *c, int state, int changed, int64_t now)
{
    msn_status_t *st = c->st;
    msn_status_write_begin(&st->master_seq);
    st->master.db_state = state;
    if (changed) {
        st->master.db_changes++;
        st->master.db_changed_at_ms = now;
    }
    msn_status_write_end(&st->master_seq);
}

/* After an open: records which file the connection reads. A file other than the one
   loaded before (replaced while the connection was closed) makes the next step reload. */
static void note_db_file(msn_pubctx_t *c, int64_t now)
{
    struct stat sb;
    if (stat(c->cfg->db, &sb) < 0)
        return; /* gone again already: the next check says so */
    int other = c->db_known && (c->db_dev != (uint64_t)sb.st_dev || c->db_ino != (uint64_t)sb.st_ino);
    c->db_dev = (uint64_t)sb.st_dev;
    c->db_ino = (uint64_t)sb.st_ino;
    c->db_known = 1;
    c->next_db_check_ms = now + MSN_PUB_DB_CHECK_MS;
    if (other) {
        msn_warn("%s is another file than the one loaded before: loading it in full", c->cfg->db);
        c->rebuild = 1;
        set_db_state(c, MSN_DB_REPLACED, 1, now);
    } else if (!c->rebuild) {
        set_db_state(c, MSN_DB_OK, 0, now);
    }
}

/* Compares the file at the database path with the one the connection reads. */
static void check_db_file(msn_pubctx_t *c, int64_t now)
{
    c->next_db_check_ms = now + MSN_PUB_DB_CHECK_MS;
    if (!c->db_known)
        return;
    struct stat sb;
    int src = stat(c->cfg->db, &sb);
    if (src == 0 && (uint64_t)sb.st_dev == c->db_dev && (uint64_t)sb.st_ino == c->db_ino)
        return;
    if (src < 0 && errno != ENOENT && errno != ENOTDIR)
        return; /* cannot tell (EACCES, EIO...): the next poll reports what it meets */
    int missing = src < 0;
    if (missing)
        msn_error("the database %s was deleted: serving the last snapshot until a database is back at that path",
                  c->cfg->db);
    else
        msn_warn("the database %s was replaced by another file (inode %llu, was %llu): reopening it and loading it "
                 "in full",
                 c->cfg->db, (unsigned long long)sb.st_ino, (unsigned long long)c->db_ino);
    set_db_state(c, missing ? MSN_DB_MISSING : MSN_DB_REPLACED, 1, now);
    set_status(c->st, -1, missing ? "the database was deleted; serving the last snapshot"
                                  : "the database was replaced; reloading");
    close_db(c, now);
    c->rebuild = 1;
}

static void do_open(msn_pubctx_t *c, int64_t now)
{
    char err[512];
    if (msn_sqlite_open(c->cfg->db, 1, &c->db, err, sizeof(err)) == 0) {
        note_db_file(c, now);
        return;
    }
    if (now - c->last_err_log_ms > 30000) {
        msn_error("cannot open the database: %s (retrying)", err);
        c->last_err_log_ms = now;
    }
    set_status(c->st, -1, "waiting for the database: %s", err);
    c->retry_ms = now + 1000;
}

/* At the first load of this run: when the snapshot a previous run left covers the
 * database (snapcover.h), serves it as this run's first generation before loading. */
static void try_resume(msn_pubctx_t *c, int64_t now)
{
    char why[512];
    msn_snap_meta_t m;
    if (c->pub.snap.env != NULL || msn_snap_current_meta(c->pub.state_dir, &m, why, sizeof(why)) != 0)
        return;
    int rc = msn_snapcover_check(c->db, c->pub.source_db, &m, why, sizeof(why));
    if (rc < 0)
        msn_warn("cannot compare the snapshot with the database: %s", why);
    if (rc == 0)
        msn_info("the snapshot of generation %llu is rebuilt: %s", (unsigned long long)m.gen, why);
    if (rc != 1)
        return;
    if (msn_publish_resume(&c->pub, &m, now, why, sizeof(why)) < 0) {
        msn_warn("the snapshot of generation %llu cannot be served as this run's: %s", (unsigned long long)m.gen,
                 why);
        return;
    }
    msn_info("generation %llu: the snapshot of generation %llu covers the database (%lld transmissions, %lld "
             "observations) and is served as this run's (%.3f s); loading",
             (unsigned long long)c->pub.gen, (unsigned long long)m.gen, (long long)m.tx_count,
             (long long)m.obs_count, (msn_now_ms() - now) / 1000.0);
    msn_status_write_begin(&c->st->master_seq);
    c->st->master.published_gen = (int64_t)c->pub.gen;
    c->st->master.published_at_ms = c->pub.last_published_ms;
    msn_status_write_end(&c->st->master_seq);
}

/* Before a reload: frees the loaded store (the published snapshot is served meanwhile),
 * so that the master never holds the old store and the new one at once. Until a load
 * succeeds, nothing is computed and the next steps load in full (store_dropped). What
 * the entity documents' child was computing from the old store is dropped. */
static void drop_store(msn_pubctx_t *c)
{
    msn_entdocs_reset(&c->ent, msn_now_ms());
    msn_store_free(&c->store);
    msn_store_init(&c->store);
    c->store_dropped = 1;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Loads everything into a fresh store and publishes it as a full generation (on a reload,
 * after drop_store). Returns 0, -1 on error, -2 when stopped. */
static int load_and_publish(msn_pubctx_t *c)
{
    char err[512];
    progress_ctx_t pc = {c->st, 0};
    msn_store_t fresh;
    msn_store_init(&fresh);
    int64_t t0 = msn_now_ms();
    if (!c->loaded)
        try_resume(c, t0);
    else
        drop_store(c);
    set_status(c->st, -1, "loading %s", c->cfg->db);
    int rc = msn_store_load(&fresh, c->db, 10000, on_progress, &pc, &c->ctl->stop, err, sizeof(err));
    if (rc == 0)
        rc = msn_store_reload_small(&fresh, c->db, msn_now_ms() / 1000, err, sizeof(err));
    if (rc != 0) {
        msn_store_free(&fresh);
        if (rc == -2)
            return -2;
        msn_error("load failed: %s", err);
        set_status(c->st, -1, "load failed: %s", err);
        return -1;
    }
    int64_t t1 = msn_now_ms();
    set_status(c->st, -1, "publishing generation %llu", (unsigned long long)c->pub.gen + 1);
    msn_feedpub_begin_full(&c->feed, c->loaded);
    msn_publish_release(&c->pub);
    rc = msn_publish_full(&c->pub, &fresh, msn_now_ms(), err, sizeof(err));
    if (rc == -2) {
        msn_store_free(&fresh);
        return -2;
    }
    if (rc < 0) {
        msn_error("publish failed: %s", err);
        set_status(c->st, -1, "publish failed: %s", err);
        msn_store_free(&fresh);
        return -1;
    }
    /* `current` points at the new environment: tell the workers at once, so that none keeps
       answering from the old one while another already answers from the new one */
    atomic_fetch_add(&c->st->env_seq, 1);
    /* LMDB caches the page buffers of the publication's batches until the environment is
       closed: reopen it to give them back */
    if (msn_snap_reopen(&c->pub.snap, err, sizeof(err)) < 0) {
        msn_error("cannot reopen the new snapshot after writing it: %s", err);
        set_status(c->st, -1, "publish failed: %s", err);
        msn_store_free(&fresh);
        return -1;
    }
    int64_t t2 = msn_now_ms();
    msn_store_free(&c->store); /* empty on a reload: drop_store */
    c->store = fresh;
    c->store_dropped = 0;
#ifdef __GLIBC__
    /* the load's temporaries are free: give their pages back */
    malloc_trim(0);
#endif
    /* entity documents follow the new store: what a run computed from the old one is dropped */
    msn_entdocs_reset(&c->ent, t2);
    msn_nodedocs_loaded(&c->nodes, &c->store, t2);
    const msn_store_t *s = &c->store;
    msn_info("published generation %llu: %u transmissions, %u observations, %u nodes, %u observers%s "
             "(load %.1f s, publish %.1f s)",
             (unsigned long long)c->pub.gen, s->n_tx, s->n_obs, s->n_nodes, s->n_observers,
             s->schema.legacy ? ", legacy schema" : "", (t1 - t0) / 1000.0, (t2 - t1) / 1000.0);
    if (s->skipped_rows)
        msn_warn("%lld rows were skipped or served with empty values (see the warnings above)",
                 (long long)s->skipped_rows);
    publish_counts(c, t2);
    msn_status_write_begin(&c->st->master_seq);
    c->st->master.last_full_load_ms = t2 - t0;
    msn_status_write_end(&c->st->master_seq);
    set_status(c->st, MSN_PHASE_READY, "serving generation %llu", (unsigned long long)c->pub.gen);
    return 0;
}

static void do_full_load(msn_pubctx_t *c, const msn_pub_in_t *in)
{
    int64_t real_start = msn_now_ms();
    int rc = load_and_publish(c);
    if (rc == -2) {
        msn_info("stop requested: the full load was abandoned before it was published");
        return; /* the next step stops */
    }
    int64_t end = after(in->now_ms, real_start);
    if (rc < 0) {
        close_db(c, end + 2000);
        return;
    }
    c->loaded = 1;
    c->rebuild = 0;
    c->reload_pending = 0;
    if (c->db_known)
        set_db_state(c, MSN_DB_OK, 0, end);
    c->poll_now = 0; /* a full generation carries every analytics result */
    c->loaded_at_ms = real_start;
    /* the fresh store holds every resolved path written up to the load */
    c->paths_to = 0;
    for (int i = 0; i < n_migrations(&in->bf); i++)
        if ((in->bf.mig[i].effects & MSN_MIG_AFFECTS_RESOLVED_PATH) && in->bf.mig[i].cursor > c->paths_to)
            c->paths_to = in->bf.mig[i].cursor;
    c->last_paths_ms = end;
    c->last_small_ms = end;
    c->next_poll_ms = end + poll_interval(c);
    c->next_tick_ms = end;
    msn_ansched_all_due(&c->an);
}

/* While a backfill writes resolved paths, takes in what it finished and republishes the
   analytics built on paths, at a bounded cadence ([backfill] republish_interval_s). */
static void do_take_paths(msn_pubctx_t *c, const msn_pub_in_t *in, int mig)
{
    char err[512];
    const msn_migration_status_t *mg = &in->bf.mig[mig];
    int64_t changed = 0;
    c->last_paths_ms = in->now_ms;
    if (msn_store_refresh_resolved(&c->store, c->db, c->paths_to, mg->cursor, &changed, err, sizeof(err)) <
        0) {
        msn_error("%s", err);
        return;
    }
    c->paths_to = mg->cursor;
    msn_info("backfill: %lld resolved paths taken in (up to observation %lld); republishing path analytics",
             (long long)changed, (long long)mg->cursor);
    msn_ansched_paths_due(&c->an);
    c->poll_now = 1;
    c->next_poll_ms = in->now_ms;
}

static void do_poll(msn_pubctx_t *c, const msn_pub_in_t *in)
{
    char err[512];
    int64_t now = in->now_ms, real_start = msn_now_ms();
    int ntx, nobs;
    c->last_data_version = in->data_version;
    c->poll_now = 0;
    if (msn_store_poll(&c->store, c->db, 20000, &ntx, &nobs, err, sizeof(err)) < 0) {
        msn_error("poll failed: %s", err);
        close_db(c, now + 1000);
        return;
    }
    /* nodes and observers change without new packets (status messages): re-read them too */
    if (msn_store_reload_small(&c->store, c->db, now / 1000, err, sizeof(err)) < 0)
        msn_error("reading nodes/observers failed: %s", err);
    c->last_small_ms = now;
    msn_nodedocs_polled(&c->nodes, &c->store, c->db, now);
    int published;
    if (msn_publish_incremental(&c->pub, &c->store, msn_now_ms(), &published, err, sizeof(err)) < 0) {
        msn_error("incremental publish failed: %s; rebuilding", err);
        c->rebuild = 1;
        return;
    }
    if (published) {
        msn_debug("published generation %llu (+%d tx, +%d obs)", (unsigned long long)c->pub.gen, ntx, nobs);
        set_status(c->st, -1, "serving generation %llu", (unsigned long long)c->pub.gen);
    }
    publish_counts(c, now);
    c->next_poll_ms = after(now, real_start) + poll_interval(c);
}

static void do_readers(msn_pubctx_t *c)
{
    if (!atomic_exchange(&c->ctl->reader_check, 0) || c->pub.snap.env == NULL)
        return;
    int dead = 0;
    mdb_reader_check(c->pub.snap.env, &dead);
    if (dead)
        msn_info("cleared %d stale LMDB reader slot(s)", dead);
}

/* Notes (and logs) each migration that finished since the last look and makes the store
 * reload. The note outlives the status entry: a restarted backfiller rewrites the entries
 * of finished migrations from the database, with end times rounded down to the second. */
static void note_finished(msn_pubctx_t *c, const msn_backfill_status_t *bf)
{
    if (!c->loaded)
        return;
    int64_t upto = c->announced_ms;
    for (int i = 0; i < n_migrations(bf); i++) {
        const msn_migration_status_t *mg = &bf->mig[i];
        if (!calls_for_reload(c, mg) || mg->ended_at <= c->announced_ms)
            continue;
        msn_info("migration %s finished; the master reloads to publish its results", mg->name);
        c->reload_pending = 1;
        if (mg->ended_at > upto)
            upto = mg->ended_at;
    }
    c->announced_ms = upto;
}

/* Sets the environment `current` points at aside (it is damaged: why) and makes the
   workers let go of it; when it is the master's own, the next step publishes in full. */
static void set_aside_current(msn_pubctx_t *c, const char *why, int64_t now)
{
    char name[128], fresh[256], err[512];
    if (msn_snap_current_name(c->cfg->state_dir, name, sizeof(name), err, sizeof(err)) != 0)
        return;
    const char *own = strrchr(c->pub.snap.dir, '/');
    if (c->pub.snap.env != NULL && own != NULL && strcmp(own + 1, name) == 0) {
        msn_snap_close(&c->pub.snap);
        c->rebuild = 1;
    }
    int rc = msn_snap_set_aside(c->cfg->state_dir, name, fresh, sizeof(fresh), err, sizeof(err));
    if (rc < 0) {
        msn_error("the snapshot %s is damaged (%s), and could not be set aside: %s", name, why, err);
        return;
    }
    if (rc == 1)
        return;
    atomic_fetch_add(&c->st->env_seq, 1);
    msn_error("the snapshot %s is damaged (%s): set aside as %s/%s (kept for inspection); %s", name, why,
              c->cfg->state_dir, fresh,
              c->rebuild || !c->loaded ? "no snapshot is served until the next one is published"
                                       : "serving none until the next publication");
    msn_status_write_begin(&c->st->master_seq);
    c->st->master.snap_set_aside++;
    snprintf(c->st->master.snap_set_aside_last, sizeof(c->st->master.snap_set_aside_last), "%.95s", fresh);
    msn_status_write_end(&c->st->master_seq);
    (void)now;
}

static void set_verify(msn_pubctx_t *c, int state)
{
    msn_status_write_begin(&c->st->master_seq);
    c->st->master.snap_verify = state;
    msn_status_write_end(&c->st->master_seq);
}

/* The check of an earlier run's snapshot (started once, before the first publication). */
static void check_snapshot(msn_pubctx_t *c, int64_t now)
{
    if (!c->check_started) {
        c->check_started = 1;
        char name[128], err[512];
        msn_snap_meta_t m;
        if (c->loaded || msn_snap_current_name(c->cfg->state_dir, name, sizeof(name), err, sizeof(err)) != 0 ||
            msn_snap_current_meta(c->cfg->state_dir, &m, err, sizeof(err)) != 0 || m.format != MSN_SNAP_FORMAT)
            return; /* nothing an earlier run left that would be served */
        int rc = msn_snapcheck_start(&c->check, c->cfg->state_dir, name);
        if (rc < 0) {
            msn_warn("cannot check the earlier snapshot %s: %s", name, strerror(-rc));
            return;
        }
        set_verify(c, MSN_VERIFY_RUNNING);
        return;
    }
    if (c->check.pid <= 0)
        return;
    char why[600];
    char name[64];
    snprintf(name, sizeof(name), "%s", c->check.dir_name);
    int64_t took = now - c->check.started_ms;
    int outcome = msn_snapcheck_poll(&c->check, why, sizeof(why));
    if (outcome == MSN_SNAPCHECK_RUNNING)
        return;
    if (outcome == MSN_SNAPCHECK_INTACT) {
        msn_info("the earlier snapshot %s is intact (%s, checked in %.1f s)", name, why, took / 1000.0);
        set_verify(c, MSN_VERIFY_PASSED);
        return;
    }
    if (outcome == MSN_SNAPCHECK_UNKNOWN) {
        msn_warn("the check of the earlier snapshot %s ended without a verdict: %s", name, why);
        set_verify(c, MSN_VERIFY_NONE);
        return;
    }
    char dir[4400];
    struct stat sb;
    snprintf(dir, sizeof(dir), "%s/%s", c->cfg->state_dir, name);
    if (stat(dir, &sb) < 0 && errno == ENOENT) {
        /* gone while it was checked: set aside (a worker met a damaged value of it first,
           take_damage_reports), or replaced by this run's first generation */
        const char *last = c->st->master.snap_set_aside_last;
        size_t ll = strnlen(last, sizeof(c->st->master.snap_set_aside_last)), nl = strlen(name);
        int aside = ll >= nl && strncmp(last + ll - nl, name, nl) == 0;
        set_verify(c, aside ? MSN_VERIFY_FAILED : MSN_VERIFY_NONE);
        msn_info("the check of the earlier snapshot %s ended without a verdict: it had been %s already", name,
                 aside ? "set aside (damaged)" : "replaced");
        return;
    }
    /* set aside first: whoever reads the verdict in the status block finds it done */
    char cur[128], err[512];
    if (msn_snap_current_name(c->cfg->state_dir, cur, sizeof(cur), err, sizeof(err)) == 0 && strcmp(cur, name) == 0)
        set_aside_current(c, why, now);
    else
        msn_error("the earlier snapshot %s was damaged (%s); it has been replaced already", name, why);
    set_verify(c, MSN_VERIFY_FAILED);
}

/* A worker found a value of the environment it read failing its checksum. */
static void take_damage_reports(msn_pubctx_t *c, int64_t now)
{
    uint64_t reports = atomic_load(&c->st->damage_reports);
    if (reports == c->damage_seen)
        return;
    c->damage_seen = reports;
    if (atomic_load(&c->st->damage_env_seq) != atomic_load(&c->st->env_seq))
        return; /* about an environment that is no longer current */
    set_aside_current(c, "a worker found a value that does not match its checksum", now);
}

static int64_t data_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

msn_pub_plan_t msn_pub_step(msn_pubctx_t *c, int64_t now_ms)
{
    msn_pub_in_t in;
    in.now_ms = now_ms;
    in.stop = atomic_load(&c->ctl->stop);
    in.reader_check = atomic_load(&c->ctl->reader_check);
    msn_status_read_backfill(c->st, &in.bf);
    in.data_version = -1;
    if (c->db != NULL && now_ms >= c->next_db_check_ms)
        check_db_file(c, now_ms);
    take_damage_reports(c, now_ms);
    check_snapshot(c, now_ms);
    if (c->db != NULL && c->loaded && !c->rebuild && now_ms >= c->next_poll_ms)
        in.data_version = data_version(c->db);
    note_finished(c, &in.bf);
    msn_pub_plan_t p = msn_pub_decide(c, &in);
    uint64_t gen_before = c->pub.gen;
    switch (p.action) {
    case MSN_PUB_READERS:
        do_readers(c);
        break;
    case MSN_PUB_OPEN:
        do_open(c, now_ms);
        break;
    case MSN_PUB_FULL_LOAD:
        do_full_load(c, &in);
        break;
    case MSN_PUB_TAKE_PATHS:
        do_take_paths(c, &in, p.mig);
        break;
    case MSN_PUB_POLL:
        do_poll(c, &in);
        break;
    case MSN_PUB_COUNTS:
        publish_counts(c, now_ms);
        c->next_poll_ms = now_ms + poll_interval(c);
        break;
    case MSN_PUB_ANALYTICS:
        if (msn_ansched_tick(&c->an, &c->store, now_ms) | msn_entdocs_tick(&c->ent, &c->store, now_ms)) {
            c->poll_now = 1; /* new results: publish them at once */
            c->next_poll_ms = now_ms;
        }
        c->next_tick_ms = now_ms + MSN_PUB_SLICE_MS;
        break;
    case MSN_PUB_STOP:
    case MSN_PUB_SLEEP:
        break;
    }
    /* writing a generation reads pages of the snapshot through LMDB's map: they would stay
       in the master's resident set (as much as the snapshot at a full publication) */
    if (c->pub.gen != gen_before)
        msn_snap_drop_resident(c->pub.snap.env);
    return p;
}

void msn_pubctx_init(msn_pubctx_t *c, const msn_config_t *cfg, msn_status_t *st, msn_pubctl_t *ctl,
                     int64_t started_at_ms)
{
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    c->st = st;
    c->ctl = ctl;
    c->last_data_version = -1;
    msn_snapcheck_init(&c->check);
    c->damage_seen = atomic_load(&st->damage_reports);
    /* an earlier snapshot that cannot even be opened or read is damaged: set aside at once */
    msn_snap_meta_t m;
    char err[512];
    if (msn_snap_current_meta(cfg->state_dir, &m, err, sizeof(err)) < 0)
        set_aside_current(c, err, started_at_ms);
    msn_store_init(&c->store);
    msn_publisher_init(&c->pub, cfg->state_dir, cfg->db, started_at_ms);
    msn_ansched_init(&c->an, cfg, st);
    c->pub.an = &c->an;
    msn_entdocs_init(&c->ent);
    msn_nodedocs_init(&c->nodes, cfg, &c->ent);
    msn_entkind_t nk = msn_nodedocs_kind(&c->nodes);
    msn_entdocs_add_kind(&c->ent, &nk);
    c->pub.ent = &c->ent;
    msn_feedpub_init(&c->feed, (uint64_t)started_at_ms, cfg->websocket.ring_messages, cfg->websocket.ring_seconds);
    c->pub.feed = &c->feed;
    c->pub.poll_interval_ms = cfg->poll_interval_ms;
    c->pub.stop = &ctl->stop;
}

void msn_pubctx_free(msn_pubctx_t *c)
{
    if (c->db)
        sqlite3_close(c->db);
    c->db = NULL;
    msn_snapcheck_reset(&c->check);
    msn_ansched_free(&c->an);
    msn_entdocs_free(&c->ent);
    msn_nodedocs_free(&c->nodes);
    msn_store_free(&c->store);
    msn_publisher_free(&c->pub);
    msn_feedpub_free(&c->feed);
}
