/* publisher.c: see publisher.h. */
#include "publisher.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ansched.h"
#include "publish.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "store.h"

static void set_status(msn_status_t *st, int phase, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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

typedef struct {
    msn_publisher_thread_t *pt;
    int64_t last_log_ms;
} progress_ctx_t;

static void on_progress(void *ctx, int64_t tx, int64_t obs)
{
    progress_ctx_t *pc = ctx;
    msn_status_t *st = pc->pt->st;
    msn_status_write_begin(&st->master_seq);
    st->master.load_progress_tx = tx;
    snprintf(st->master.status_text, sizeof(st->master.status_text), "loading: %lld transmissions, %lld observations",
             (long long)tx, (long long)obs);
    msn_status_write_end(&st->master_seq);
    int64_t now = msn_now_ms();
    if (now - pc->last_log_ms >= 5000) {
        msn_info("loading: %lld transmissions, %lld observations", (long long)tx, (long long)obs);
        pc->last_log_ms = now;
    }
}

/* Sleeps in small slices; the analytics scheduler gets each slice to collect results. */
static msn_ansched_t *sleep_an;
static const msn_store_t *sleep_store;
static int sleep_an_changed;

static void sleep_ms(msn_publisher_thread_t *pt, int ms)
{
    while (ms > 0 && !atomic_load(&pt->stop)) {
        if (sleep_an && sleep_store && msn_ansched_tick(sleep_an, sleep_store, msn_now_ms())) {
            sleep_an_changed = 1;
            return;
        }
        int slice = ms > 50 ? 50 : ms;
        struct timespec ts = {slice / 1000, (long)(slice % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

static void publish_counts(msn_status_t *st, const msn_store_t *s, const msn_publisher_t *p, int64_t now)
{
    msn_status_write_begin(&st->master_seq);
    st->master.loaded_tx = s->n_tx;
    st->master.loaded_obs = s->n_obs;
    st->master.loaded_nodes = s->n_nodes;
    st->master.loaded_observers = s->n_observers;
    st->master.published_gen = (int64_t)p->gen;
    st->master.published_at_ms = p->last_published_ms;
    st->master.last_poll_at_ms = now;
    msn_status_write_end(&st->master_seq);
}

/* Loads everything and publishes a full generation. Returns 0, -1 on error, -2 on stop. */
static int full_cycle(msn_publisher_thread_t *pt, msn_publisher_t *pub, sqlite3 *db, msn_store_t *store)
{
    char err[512];
    progress_ctx_t pc = {pt, 0};
    msn_store_t fresh;
    msn_store_init(&fresh);
    int64_t t0 = msn_now_ms();
    set_status(pt->st, -1, "loading %s", pt->cfg->db);
    int rc = msn_store_load(&fresh, db, 10000, on_progress, &pc, (volatile int *)&pt->stop, err, sizeof(err));
    if (rc == 0)
        rc = msn_store_reload_small(&fresh, db, msn_now_ms() / 1000, err, sizeof(err));
    if (rc != 0) {
        msn_store_free(&fresh);
        if (rc == -2)
            return -2;
        msn_error("load failed: %s", err);
        set_status(pt->st, -1, "load failed: %s", err);
        return -1;
    }
    int64_t t1 = msn_now_ms();
    set_status(pt->st, -1, "publishing generation %llu", (unsigned long long)pub->gen + 1);
    if (msn_publish_full(pub, &fresh, msn_now_ms(), err, sizeof(err)) < 0) {
        msn_error("publish failed: %s", err);
        set_status(pt->st, -1, "publish failed: %s", err);
        msn_store_free(&fresh);
        return -1;
    }
    int64_t t2 = msn_now_ms();
    msn_store_free(store);
    *store = fresh;
    msn_info("published generation %llu: %u transmissions, %u observations, %u nodes, %u observers%s "
             "(load %.1f s, publish %.1f s)",
             (unsigned long long)pub->gen, store->n_tx, store->n_obs, store->n_nodes, store->n_observers,
             store->schema.legacy ? ", legacy schema" : "", (t1 - t0) / 1000.0, (t2 - t1) / 1000.0);
    if (store->skipped_rows)
        msn_warn("%lld rows were skipped or served with empty values (see the warnings above)",
                 (long long)store->skipped_rows);
    publish_counts(pt->st, store, pub, t2);
    msn_status_write_begin(&pt->st->master_seq);
    pt->st->master.last_full_load_ms = t2 - t0;
    msn_status_write_end(&pt->st->master_seq);
    atomic_fetch_add(&pt->st->env_seq, 1);
    set_status(pt->st, MSN_PHASE_READY, "serving generation %llu", (unsigned long long)pub->gen);
    return 0;
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

static void *thread_main(void *arg)
{
    msn_publisher_thread_t *pt = arg;
    /* loading and publishing are background work: readers go first on a busy machine (the
       supervisor thread keeps the default priority: it must react to a dead worker at once) */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5) < 0)
        msn_debug("cannot lower the publisher's priority: %s", strerror(errno));
    const msn_config_t *cfg = pt->cfg;
    msn_publisher_t pub;
    msn_store_t store;
    sqlite3 *db = NULL;
    char err[512];
    int need_full = 1;
    int64_t last_err_log = 0, last_small_reload = 0;
    int64_t seen_finished = -1, loaded_at_ms = 0, last_data_version = -1;
    int64_t last_path_refresh = 0, refreshed_to = 0;
    int reload_pending = 0;
    msn_ansched_t an;
    msn_store_init(&store);
    msn_publisher_init(&pub, cfg->state_dir, cfg->db, pt->started_at_ms);
    msn_ansched_init(&an, cfg, pt->st);
    pub.an = &an;
    pub.poll_interval_ms = cfg->poll_interval_ms;
    while (!atomic_load(&pt->stop)) {
        int64_t now = msn_now_ms();
        if (db == NULL) {
            if (msn_sqlite_open(cfg->db, 1, &db, err, sizeof(err)) < 0) {
                if (now - last_err_log > 30000) {
                    msn_error("cannot open the database: %s (retrying)", err);
                    last_err_log = now;
                }
                set_status(pt->st, -1, "waiting for the database: %s", err);
                sleep_ms(pt, 1000);
                continue;
            }
        }
        /* A migration that ended after the store was loaded changed rows the store holds. */
        msn_backfill_status_t bf;
        msn_status_read_backfill(pt->st, &bf);
        /* Migrations run one after the other: reload once the last running one has finished
           (the resolved-path refresh below covers the time in between) */
        if (bf.finished_count != seen_finished) {
            seen_finished = bf.finished_count;
            for (int i = 0; i < bf.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++)
                if (bf.mig[i].status == MSN_MIG_DONE && bf.mig[i].rows_processed > 0 &&
                    bf.mig[i].ended_at >= loaded_at_ms && !reload_pending) {
                    msn_info("migration %s finished; the master reloads to publish its results", bf.mig[i].name);
                    reload_pending = 1;
                }
        }
        if (reload_pending) {
            int running = 0;
            for (int i = 0; i < bf.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++)
                running |= bf.mig[i].status == MSN_MIG_RUNNING;
            if (!running || now - bf.last_progress_ms > 30000) {
                reload_pending = 0;
                need_full = 1;
            }
        }
        /* While a backfill writes resolved paths, take in what it finished and republish the
           analytics built on paths at a bounded cadence ([backfill] republish_interval_s) */
        if (!need_full && now - last_path_refresh >= (int64_t)cfg->backfill.republish_interval_s * 1000) {
            for (int i = 0; i < bf.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++) {
                const msn_migration_status_t *mg = &bf.mig[i];
                if (mg->status != MSN_MIG_RUNNING || strncmp(mg->name, "resolved_path", 13) != 0 ||
                    mg->cursor <= refreshed_to)
                    continue;
                int64_t changed = 0;
                if (msn_store_refresh_resolved(&store, db, refreshed_to, mg->cursor, &changed, err, sizeof(err)) < 0) {
                    msn_error("%s", err);
                    break;
                }
                refreshed_to = mg->cursor;
                msn_info("backfill: %lld resolved paths taken in (up to observation %lld); republishing path analytics",
                         (long long)changed, (long long)mg->cursor);
                msn_ansched_paths_due(&an);
                last_data_version = -1; /* publish at this poll */
            }
            last_path_refresh = now;
        }
        if (need_full) {
            int64_t load_start = msn_now_ms();
            int rc = full_cycle(pt, &pub, db, &store);
            if (rc == -2)
                break;
            if (rc < 0) {
                sqlite3_close(db);
                db = NULL;
                sleep_ms(pt, 2000);
                continue;
            }
            need_full = 0;
            loaded_at_ms = load_start;
            refreshed_to = 0; /* the fresh store holds every resolved path written up to now */
            for (int i = 0; i < bf.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++)
                if (strncmp(bf.mig[i].name, "resolved_path", 13) == 0 && bf.mig[i].cursor > refreshed_to)
                    refreshed_to = bf.mig[i].cursor;
            last_path_refresh = msn_now_ms();
            msn_ansched_all_due(&an);
            sleep_an = &an;
            sleep_store = &store;
            last_small_reload = msn_now_ms();
        } else {
            /* PRAGMA data_version moves when another connection commits: without a commit there
               is nothing to read, except the time-dependent counters every 10 s */
            int64_t dv = data_version(db);
            if (sleep_an_changed || msn_ansched_tick(&an, &store, now)) {
                sleep_an_changed = 0;
                dv = -2; /* new analytics results: publish them with this poll */
            }
            if (dv == last_data_version && dv >= 0 && now - last_small_reload < 10000) {
                publish_counts(pt->st, &store, &pub, now);
                goto next;
            }
            if (dv != -2)
                last_data_version = dv;
            int ntx, nobs;
            if (msn_store_poll(&store, db, 20000, &ntx, &nobs, err, sizeof(err)) < 0) {
                msn_error("poll failed: %s", err);
                sqlite3_close(db);
                db = NULL;
                sleep_ms(pt, 1000);
                continue;
            }
            /* nodes and observers change without new packets (status messages): re-read them too */
            if (msn_store_reload_small(&store, db, now / 1000, err, sizeof(err)) < 0)
                msn_error("reading nodes/observers failed: %s", err);
            last_small_reload = now;
            int published;
            if (msn_publish_incremental(&pub, &store, msn_now_ms(), &published, err, sizeof(err)) < 0) {
                msn_error("incremental publish failed: %s; rebuilding", err);
                need_full = 1;
                continue;
            }
            if (published) {
                msn_debug("published generation %llu (+%d tx, +%d obs)", (unsigned long long)pub.gen, ntx, nobs);
                set_status(pt->st, -1, "serving generation %llu", (unsigned long long)pub.gen);
            }
            publish_counts(pt->st, &store, &pub, now);
        }
    next:
        if (atomic_exchange(&pt->reader_check, 0) && pub.snap.env) {
            int dead = 0;
            mdb_reader_check(pub.snap.env, &dead);
            if (dead)
                msn_info("cleared %d stale LMDB reader slot(s)", dead);
        }
        sleep_ms(pt, atomic_load(&pt->poll_interval_ms));
    }
    if (db)
        sqlite3_close(db);
    sleep_an = NULL;
    sleep_store = NULL;
    msn_ansched_free(&an);
    msn_store_free(&store);
    msn_publisher_free(&pub);
    atomic_store(&pt->running, 0);
    return NULL;
}

int msn_publisher_start(msn_publisher_thread_t *pt, const msn_config_t *cfg, msn_status_t *st,
                        int64_t started_at_ms)
{
    msn_config_copy(&pt->cfg_copy, cfg);
    pt->cfg = &pt->cfg_copy;
    pt->st = st;
    pt->started_at_ms = started_at_ms;
    atomic_store(&pt->stop, 0);
    atomic_store(&pt->reader_check, 0);
    atomic_store(&pt->running, 1);
    atomic_store(&pt->poll_interval_ms, cfg->poll_interval_ms);
    int rc = pthread_create(&pt->thread, NULL, thread_main, pt);
    if (rc)
        msn_config_free(&pt->cfg_copy);
    return rc ? -rc : 0;
}

void msn_publisher_stop(msn_publisher_thread_t *pt)
{
    atomic_store(&pt->stop, 1);
    pthread_join(pt->thread, NULL);
    msn_config_free(&pt->cfg_copy);
}
