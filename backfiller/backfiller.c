/*
 * backfiller.c: the backfiller process body; see backfiller.h for the exit protocol.
 *
 * msn_backfiller_main is the process (`meshsnapd --role backfiller`): it sets its log
 * role, process title, a lower CPU priority and its signal handlers, maps the status
 * block, then runs msn_backfiller_run.
 *
 * One connection, one migration at a time. A database with no tables at all (a new file)
 * gets the current schema first; anything else is left as it is, and each migration adds
 * only what it needs.
 */
#include "backfiller/backfiller.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backfiller/async_migrations.h"
#include "backfiller/migrations.h"
#include "shm/log.h"
#include "shm/proc.h"
#include "shm/sched.h"
#include "shm/schema.h"

/* Shows every registered migration as failed with why (nothing could run). */
static void all_failed(msn_status_t *st, const char *why)
{
    for (size_t i = 0; i < msn_migrations_count; i++)
        msn_amig_status_failed(st, msn_migrations[i].name, why);
}

int msn_backfiller_run_db(sqlite3 *db, const msn_config_t *cfg, msn_status_t *st, volatile sig_atomic_t *stop)
{
    char err[512];
    int failed = 0, stopped = 0;
    msn_mig_ctx_t proto = {
        .db = db,
        .batch_size = cfg->backfill.batch_size,
        .yield_ms = cfg->backfill.yield_ms,
        .stop = stop,
    };
    const char *knob = getenv("MESHSNAP_BACKFILL_SINGLE_TXN");
    if (knob != NULL && strcmp(knob, "1") == 0) {
        msn_warn("MESHSNAP_BACKFILL_SINGLE_TXN=1: every backfill runs as ONE transaction (a test knob; other "
                 "writers and the master's poll will stall)");
        proto.single_txn = 1;
        proto.batch_size = INT_MAX;
        proto.yield_ms = 0;
    }

    if (msn_schema_object_count(db) == 0) {
        msn_info("the database is empty: creating the current schema");
        if (msn_schema_create_current(db, err, sizeof(err)) < 0)
            goto fail_all;
    }
    if (msn_amig_ensure_table(db, err, sizeof(err)) < 0)
        goto fail_all;

    for (size_t i = 0; i < msn_migrations_count; i++) {
        if (stop != NULL && *stop) {
            stopped = 1;
            break;
        }
        msn_mig_ctx_t ctx = proto;
        ctx.effects = msn_migrations[i].effects;
        int rc = msn_amig_run(db, st, msn_migrations[i].name, msn_migrations[i].run, &ctx, err, sizeof(err));
        if (rc == -ECANCELED) {
            stopped = 1;
            break;
        }
        if (rc < 0)
            failed++; /* independent migrations: carry on with the next one */
    }

    if (stopped) {
        msn_info("stopped; unfinished migrations resume on the next start");
        return MSN_BF_EXIT_STOPPED;
    }
    if (failed) {
        msn_error("%d migration(s) failed", failed);
        return MSN_BF_EXIT_FAILED;
    }
    msn_info("all migrations done");
    return MSN_BF_EXIT_DONE;

fail_all:
    msn_error("%s", err);
    all_failed(st, err);
    return MSN_BF_EXIT_FAILED;
}

int msn_backfiller_run(const msn_config_t *cfg, msn_status_t *st, volatile sig_atomic_t *stop)
{
    char err[512];
    sqlite3 *db = NULL;

    if (st != NULL) {
        msn_status_write_begin(&st->backfill_seq);
        st->backfill.pid = (int32_t)getpid();
        msn_status_write_end(&st->backfill_seq);
    }
    if (cfg->db == NULL || cfg->db[0] == '\0') {
        msn_error("no database configured (db)");
        all_failed(st, "no database configured");
        return MSN_BF_EXIT_FAILED;
    }
    if (msn_sqlite_open(cfg->db, 0, &db, err, sizeof(err)) < 0) {
        msn_error("%s", err);
        all_failed(st, err);
        return MSN_BF_EXIT_FAILED;
    }
    msn_info("opened %s read-write (batch %d rows, yield %d ms)", cfg->db, cfg->backfill.batch_size,
             cfg->backfill.yield_ms);
    int rc = msn_backfiller_run_db(db, cfg, st, stop);
    sqlite3_close(db);
    return rc;
}

/* ---- the process -------------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int msn_backfiller_main(const msn_config_t *cfg)
{
    msn_log_set_role("backfiller");
    msn_proc_set_title("backfiller");
    /* background work: the workers and the master go first on a busy machine */
    (void)msn_sched_own_group(10);
    (void)msn_sched_background(10);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, SIG_IGN); /* log reopening concerns the workers' access log */
    signal(SIGHUP, SIG_IGN);  /* the master restarts this process on a reload */
    msn_status_t *st = NULL;
    int src = msn_status_open(cfg->state_dir, &st);
    if (src < 0)
        msn_warn("no status block in %s (%s); progress is recorded in the database only", cfg->state_dir,
                 strerror(-src));
    int rc = msn_backfiller_run(cfg, st, &stop_requested);
    msn_status_close(st);
    return rc;
}
