/*
 * migrations.c: the registry of migrations and the tx_last_seen_backfill_v1 body; the
 * other bodies live in mig_*.c. See migrations.h.
 */
#include "backfiller/migrations.h"

#include <errno.h>
#include <stdio.h>

#include "backfiller/migrations_int.h"
#include "shm/log.h"
#include "shm/migration_effects.h"
#include "shm/schema.h"

const msn_migration_t msn_migrations[] = {
    /* columns, tables, indexes and the view; duplicate observations merged before the unique index */
    {MSN_MIG_SCHEMA_UPGRADE, msn_mig_schema_upgrade_v1, MSN_MIG_AFFECTS_SCHEMA | MSN_MIG_AFFECTS_OBS_ROWS},
    {MSN_MIG_TX_LAST_SEEN, msn_mig_tx_last_seen_v1, MSN_MIG_AFFECTS_SCHEMA | MSN_MIG_AFFECTS_LAST_SEEN},
    {MSN_MIG_PATH_JSON, msn_mig_path_json_v1, MSN_MIG_AFFECTS_PATH_JSON},
    /* in observation id order, with the cursor published: the master takes rows in while it runs */
    {MSN_MIG_RESOLVED_PATH, msn_mig_resolved_path_v1, MSN_MIG_AFFECTS_RESOLVED_PATH},
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

/* Adds the column and the partial index when missing, in one short transaction. */
static int tx_last_seen_schema(sqlite3 *db, char *err, size_t errlen)
{
    char e[384];
    if (msn_mig_exec(db, "BEGIN IMMEDIATE", e, sizeof(e)) < 0)
        goto fail;
    if (!msn_schema_has_column(db, "transmissions", "last_seen")) {
        if (msn_mig_exec(db, "ALTER TABLE transmissions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0", e,
                         sizeof(e)) < 0)
            goto fail;
        msn_info("%s: added column transmissions.last_seen", MSN_MIG_TX_LAST_SEEN);
    }
    if (msn_mig_exec(db, "CREATE INDEX IF NOT EXISTS idx_tx_last_seen_zero ON transmissions(id) WHERE last_seen=0", e,
                     sizeof(e)) < 0)
        goto fail;
    if (msn_mig_exec(db, "COMMIT", e, sizeof(e)) < 0)
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
    int rc = msn_mig_check_settings(ctx, err, errlen); /* before touching the schema */
    if (rc < 0)
        return rc;
    if (tx_last_seen_schema(ctx->db, err, errlen) < 0)
        return -1;
    return msn_mig_run_chunked(ctx, &msn_chunk_sql_ops, (void *)&msn_tx_last_seen_sql, NULL, NULL, err, errlen);
}
