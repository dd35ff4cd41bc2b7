/*
 * migrations.c: the registered migrations and their bodies; see migrations.h.
 */
#include "backfiller/migrations.h"

#include <errno.h>
#include <stdio.h>

#include "shm/log.h"
#include "shm/schema.h"

const msn_migration_t msn_migrations[] = {
    {MSN_MIG_TX_LAST_SEEN, msn_mig_tx_last_seen_v1},
};
const size_t msn_migrations_count = sizeof(msn_migrations) / sizeof(msn_migrations[0]);

/* ---- tx_last_seen_backfill_v1 -------------------------------------------------------- */

#define TX_HAS_OBS(t) "EXISTS (SELECT 1 FROM observations o WHERE o.transmission_id = " t ".id)"

const msn_chunk_sql_t msn_tx_last_seen_sql = {
    .max_sql = "SELECT COALESCE(MAX(id), 0) FROM transmissions",
    .count_sql = "SELECT COUNT(*) FROM transmissions t WHERE t.last_seen = 0 AND t.id <= ?1 AND " TX_HAS_OBS("t"),
    .hi_sql = "SELECT MAX(id) FROM (SELECT t.id FROM transmissions t"
              " WHERE t.last_seen = 0 AND t.id > ?1 AND t.id <= ?2 AND " TX_HAS_OBS("t") " ORDER BY t.id LIMIT ?3)",
    /* COALESCE keeps a NOT NULL column valid should a legacy row carry a NULL timestamp */
    .update_sql = "UPDATE transmissions SET last_seen = COALESCE((SELECT MAX(o.timestamp) FROM observations o"
                  " WHERE o.transmission_id = transmissions.id), last_seen)"
                  " WHERE last_seen = 0 AND id > ?1 AND id <= ?2 AND " TX_HAS_OBS("transmissions"),
};

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Adds the column and the partial index when missing, in one short transaction. */
static int tx_last_seen_schema(sqlite3 *db, char *err, size_t errlen)
{
    char e[384];
    if (exec_sql(db, "BEGIN IMMEDIATE", e, sizeof(e)) < 0)
        goto fail;
    if (!msn_schema_has_column(db, "transmissions", "last_seen")) {
        if (exec_sql(db, "ALTER TABLE transmissions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0", e,
                     sizeof(e)) < 0)
            goto fail;
        msn_info("%s: added column transmissions.last_seen", MSN_MIG_TX_LAST_SEEN);
    }
    if (exec_sql(db, "CREATE INDEX IF NOT EXISTS idx_tx_last_seen_zero ON transmissions(id) WHERE last_seen=0", e,
                 sizeof(e)) < 0)
        goto fail;
    if (exec_sql(db, "COMMIT", e, sizeof(e)) < 0)
        goto fail;
    return 0;
fail:
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    snprintf(err, errlen, "schema: %s", e);
    return -1;
}

int msn_mig_tx_last_seen_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen)
{
    /* check the settings before touching the schema */
    if (ctx->batch_size <= 0) {
        snprintf(err, errlen, "batch size must be > 0 (got %d)", ctx->batch_size);
        return -EINVAL;
    }
    if (ctx->yield_ms < 0) {
        snprintf(err, errlen, "yield must be >= 0 ms (got %d)", ctx->yield_ms);
        return -EINVAL;
    }
    if (tx_last_seen_schema(ctx->db, err, errlen) < 0)
        return -1;

    msn_chunk_opts_t opts = {
        .batch_size = ctx->batch_size,
        .yield_ms = ctx->yield_ms,
        .stop = ctx->stop,
        .progress = ctx->amig ? msn_amig_chunk_progress : NULL,
        .progress_ud = ctx->amig,
    };
    msn_chunk_result_t res;
    int rc = msn_chunk_loop(ctx->db, &msn_chunk_sql_ops, (void *)&msn_tx_last_seen_sql, &opts, &res, err, errlen);
    if (ctx->amig != NULL && rc != -EINVAL) {
        /* the final stable counts; on success a failed write fails the migration */
        char e[384];
        if (msn_amig_progress(ctx->amig, res.processed, res.total, 1, e, sizeof(e)) < 0) {
            if (rc == 0) {
                snprintf(err, errlen, "%s", e);
                return -1;
            }
            msn_warn("%s", e);
        }
    }
    return rc;
}
