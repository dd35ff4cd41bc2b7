/*
 * backfiller.c: the backfiller process body; see backfiller.h for the exit protocol.
 *
 * One connection, one migration at a time. A database with no tables at all (a new file)
 * gets the current schema first; anything else is left as it is, and each migration adds
 * only what it needs.
 */
#include "backfiller/backfiller.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backfiller/async_migrations.h"
#include "backfiller/migrations.h"
#include "shm/log.h"
#include "shm/schema.h"

/* Number of entries in sqlite_master, or -1. */
static int64_t schema_objects(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_master", -1, &q, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

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

    if (schema_objects(db) == 0) {
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

int msn_backfiller_main(const msn_config_t *cfg, msn_status_t *st, volatile sig_atomic_t *stop)
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

int msn_backfiller_init_db(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot create: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(db, 5000);
    int64_t objects = schema_objects(db);
    if (objects < 0) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    /* auto_vacuum only takes effect before the first table and before WAL (as CoreScope sets it) */
    if (objects == 0 && sqlite3_exec(db, "PRAGMA auto_vacuum=INCREMENTAL", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
        goto fail;
    }
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot switch to WAL: %s", path, msg ? msg : sqlite3_errmsg(db));
        goto fail;
    }
    char e[384];
    if (msn_schema_create_current(db, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "%s: %s", path, e);
        goto fail;
    }
    sqlite3_close(db);
    return 0;
fail:
    sqlite3_free(msg);
    sqlite3_close(db);
    return -1;
}
