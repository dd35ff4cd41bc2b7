/*
 * schema.h: the CoreScope SQLite schema: detection of what a database has, and creation
 * of the current schema (data-model spec §1) for a new database.
 *
 * Two schemas are met in the field: the current one (every table, column and index of
 * §1.1-§1.7) and legacy ones such as the e2e fixture (no transmissions.last_seen,
 * observations.raw_hex, ...). Readers ask msn_schema_detect() what exists and name their
 * columns explicitly; a missing column is read as NULL/0 and never stops a reader.
 * Only the backfiller writes a served database (msn_schema_create_current for a new file,
 * migrations for old ones); msn_schema_init_db creates a new file for the tools
 * (`meshsnapd --init-db`, `meshsnap init-db`, `meshsnap import`) and the tests.
 */
#ifndef MSN_SCHEMA_H
#define MSN_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

typedef struct {
    /* tables */
    int has_transmissions, has_observations, has_nodes, has_observers, has_neighbor_edges;
    int has_inactive_nodes, has_async_migrations;
    /* observations */
    int obs_v3;             /* observer_idx present (else legacy v2 observer_id/observer_name) */
    int obs_resolved_path, obs_raw_hex;
    /* transmissions */
    int tx_last_seen, tx_from_pubkey, tx_channel_hash, tx_scope_name;
    /* nodes */
    int nodes_battery_mv, nodes_temperature_c, nodes_foreign_advert, nodes_default_scope;
    int nodes_multibyte_sup, nodes_multibyte_evidence;
    /* observers */
    int observers_iata, observers_inactive, observers_last_packet_at, observers_clock_skew;
    int observers_can_relay, observers_model, observers_firmware, observers_client_version;
    int observers_radio, observers_battery_mv, observers_uptime_secs, observers_noise_floor;
    /* _async_migrations progress columns (rows_processed, rows_total, last_update_at) */
    int async_progress_cols;
    /* 1 when any column or table the current schema requires (§1.9) is missing */
    int legacy;
} msn_schema_info_t;

/** Fills out from PRAGMA table_info of each table. Returns 0, or -1 with err set when the
 *  database cannot be read or has no `transmissions` table. */
int msn_schema_detect(sqlite3 *db, msn_schema_info_t *out, char *err, size_t errlen);

/** 1 when table.column exists, 0 when not (or on error). */
int msn_schema_has_column(sqlite3 *db, const char *table, const char *column);

/** Creates every table, index and view of the current schema that is missing
 *  (CREATE ... IF NOT EXISTS), in one transaction. Meant for a new or empty database;
 *  legacy databases are upgraded by the backfiller's migrations instead.
 *  Returns 0, or -1 with err set. */
int msn_schema_create_current(sqlite3 *db, char *err, size_t errlen);

/** Number of entries in sqlite_master (tables, indexes, views, triggers), or -1 on error. */
int64_t msn_schema_object_count(sqlite3 *db);

/** Creates (or completes) a database file at path with the current schema
 *  (msn_schema_create_current), in WAL mode, auto_vacuum=INCREMENTAL when the file is new.
 *  Meant for new files (a demo database); on an existing current database it changes
 *  nothing. Any process may call it (it opens and closes its own connection).
 *  Returns 0, or -1 with err set (e.g. a legacy database, which migrations upgrade
 *  instead). */
int msn_schema_init_db(const char *path, char *err, size_t errlen);

/** Opens path for the role's needs with WAL and a busy timeout (5000 ms).
 *  readonly=1: SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX (the master): the connection
 *  has no mutex of its own, so only one thread at a time may use it (threads that take
 *  turns need their own hand-off); 0: read-write (backfiller, tools),
 *  which also switches the database to journal_mode=WAL when it is not.
 *  Returns 0 and *out, or -1 with err set (and *out NULL). */
int msn_sqlite_open(const char *path, int readonly, sqlite3 **out, char *err, size_t errlen);

#endif
