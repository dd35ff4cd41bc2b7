/*
 * migrations.h: the registered data migrations the backfiller runs, in order.
 *
 * Each entry is a name in `_async_migrations` and a body (msn_mig_fn). Bodies are
 * idempotent and resumable: whatever a stopped or failed run committed stays, and the
 * next run picks up the rows still unprocessed. Add new migrations at the end of
 * msn_migrations[]; names are shared with CoreScope's ingestor, so never reuse one for
 * different work.
 *
 * tx_last_seen_backfill_v1 (data-model spec §5): makes sure transmissions.last_seen
 * (INTEGER NOT NULL DEFAULT 0) and the partial index idx_tx_last_seen_zero exist, then
 * sets last_seen = MAX(observations.timestamp) for every transmission with last_seen = 0
 * that has observations, in bounded chunks. Orphans (no observations) stay 0 and are not
 * counted. Rows inserted after the run started are left to the ingestor.
 */
#ifndef MSN_MIGRATIONS_H
#define MSN_MIGRATIONS_H

#include <stddef.h>

#include "backfiller/async_migrations.h"
#include "backfiller/chunk_loop.h"

typedef struct {
    const char *name;
    msn_mig_fn run;
} msn_migration_t;

/* In run order. */
extern const msn_migration_t msn_migrations[];
extern const size_t msn_migrations_count;

#define MSN_MIG_TX_LAST_SEEN "tx_last_seen_backfill_v1"

/** The chunk statements of tx_last_seen_backfill_v1 (for msn_chunk_loop with
 *  msn_chunk_sql_ops); they need transmissions.last_seen to exist. */
extern const msn_chunk_sql_t msn_tx_last_seen_sql;

/** The body of tx_last_seen_backfill_v1. ctx->amig may be NULL (no bookkeeping).
 *  Returns 0 when every in-scope row is done, -ECANCELED when stopped, -EINVAL for bad
 *  batch/yield settings, or -1/-EIO on an SQL error (err set in every failure case). */
int msn_mig_tx_last_seen_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen);

#endif
