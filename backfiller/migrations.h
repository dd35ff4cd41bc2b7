/*
 * migrations.h: the registered data migrations the backfiller runs, in order.
 *
 * Each entry is a name in `_async_migrations`, a body (msn_mig_fn), and what the body
 * changes (MSN_MIG_AFFECTS_* bits, published with its status: the master acts on them,
 * see shm/migration_effects.h; a new migration must declare every bit it affects). Bodies are
 * idempotent and resumable: whatever a stopped or failed run committed stays, and the
 * next run picks up the rows still unprocessed (the chunked ones exactly where the last
 * committed chunk ended, see async_migrations.h). Add new migrations at the end of
 * msn_migrations[]; names are shared with CoreScope's ingestor, so never reuse one for
 * different work. Every body returns 0 when complete, -ECANCELED when stopped at a
 * chunk boundary, -EINVAL for bad batch/yield settings (nothing touched), or -1 with err
 * set. ctx->amig may be NULL (no bookkeeping, no resume).
 *
 * Run order (schema first; path_json before resolved_path, which reads it):
 *
 * schema_upgrade_v1 (data-model spec §1): brings a legacy database (such as the e2e
 *   fixture) to the current schema of msn_schema_create_current(). The reference is that
 *   function's own DDL, run on an in-memory database and compared with this one, so the
 *   two cannot drift apart. Steps, each idempotent and in its own short transaction:
 *   missing columns (ALTER TABLE ADD COLUMN: only the schema changes, no table is
 *   rewritten); missing tables (inactive_nodes takes the column order of nodes, which
 *   `INSERT INTO inactive_nodes SELECT * FROM nodes` relies on); the legacy index
 *   idx_tx_last_seen is dropped (§1.7); missing indexes, one per transaction; before the
 *   unique idx_observations_dedup, a chunked pass that merges duplicate observations
 *   (same transmission_id, observer_idx and COALESCE(path_json, '')) the way CoreScope's
 *   upsert would have (the lowest id stays; snr, rssi, score, raw_hex and resolved_path
 *   take the later non-NULL values; the others are deleted); finally the view packets_v.
 *   A legacy "v2" observations table (observer_id instead of observer_idx) keeps its
 *   columns: observer_idx and the indexes on it are not created.
 *   Trade-off: CREATE INDEX is one statement and holds the write lock for as long as
 *   SQLite needs to scan the table and sort the keys (seconds per index at millions of
 *   rows). Readers are not affected (WAL); other writers wait, or time out after their
 *   busy timeout. To keep that as short as SQLite allows, each index is built in its own
 *   transaction with a larger page cache, with a pause between indexes, and a stop
 *   request interrupts the build (rolled back, retried on the next start). Progress
 *   counts one unit per schema object plus one per observation the duplicate pass scans.
 *
 * tx_last_seen_backfill_v1 (§5): makes sure transmissions.last_seen
 *   (INTEGER NOT NULL DEFAULT 0) and the partial index idx_tx_last_seen_zero exist, then
 *   sets last_seen = MAX(observations.timestamp) for every transmission with last_seen = 0
 *   that has observations, in bounded chunks. Orphans (no observations) stay 0 and are
 *   not counted. Rows inserted after the run started are left to the ingestor.
 *
 * path_json_backfill_v1 (§3.1): for observations with raw_hex present, path_json NULL or
 *   '' and a transmission whose payload_type != 9, decodes the observation's own raw_hex
 *   (shm/codec) and stores its hops as path_json ('[]' when there are none). Each chunk
 *   is decoded without a lock and written in one short transaction. A raw_hex that does
 *   not decode is reported (row id and reason, in the log and the error text), left
 *   unchanged, and the migration ends failed after the other rows; a later start retries.
 *   A row whose new path would duplicate another observation of the same transmission and
 *   observer (idx_observations_dedup) keeps path_json NULL, with a warning.
 *
 * resolved_path_backfill_v1 (§4): for observations with a non-empty path_json and
 *   resolved_path NULL, resolves the hops with the conservative rule of §4.2
 *   (shm/pathres.h; from_pubkey of the transmission as the first anchor). The prefix
 *   index and the neighbour graph are built once per run. Each chunk is read and resolved
 *   without any lock and written in one short transaction (UPDATE ... WHERE id = ? AND
 *   resolved_path IS NULL); a result with no resolved hop stores nothing (the column
 *   stays NULL, §4.1) and the id cursor moves past it. A path_json that is not a JSON
 *   array of hop strings is reported like an undecodable raw_hex.
 *
 * All three chunked backfills snapshot max(id) at the start: rows that arrive during the
 * run are out of scope.
 */
#ifndef MSN_MIGRATIONS_H
#define MSN_MIGRATIONS_H

#include <stddef.h>
#include <stdint.h>

#include "backfiller/async_migrations.h"
#include "backfiller/chunk_loop.h"

typedef struct {
    const char *name;
    msn_mig_fn run;
    uint32_t effects; /* MSN_MIG_AFFECTS_* (shm/migration_effects.h): what it changes, for the master */
} msn_migration_t;

/* In run order. */
extern const msn_migration_t msn_migrations[];
extern const size_t msn_migrations_count;

#define MSN_MIG_SCHEMA_UPGRADE "schema_upgrade_v1"
#define MSN_MIG_TX_LAST_SEEN "tx_last_seen_backfill_v1"
#define MSN_MIG_PATH_JSON "path_json_backfill_v1"
#define MSN_MIG_RESOLVED_PATH "resolved_path_backfill_v1"

/** The chunk statements of tx_last_seen_backfill_v1 (for msn_chunk_loop with
 *  msn_chunk_sql_ops); they need transmissions.last_seen to exist. */
extern const msn_chunk_sql_t msn_tx_last_seen_sql;

/** The bodies (see above for what each does and returns). */
int msn_mig_schema_upgrade_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen);
int msn_mig_tx_last_seen_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen);
int msn_mig_path_json_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen);
int msn_mig_resolved_path_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen);

#endif
