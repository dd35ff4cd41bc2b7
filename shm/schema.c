/*
 * schema.c: what a CoreScope database has (PRAGMA table_info per table), the current
 * schema for a new database (msn_schema_init_db creates the file), and opening SQLite with the settings every role uses.
 *
 * Detection never fails on a missing optional column: it only records what is there.
 * `legacy` summarises the server's startup requirements (data-model spec §1.9); a legacy
 * database is still readable, the backfiller upgrades what it can.
 *
 * The CREATE statements follow the column order of a fresh CoreScope database (§1.1-§1.7)
 * so that statements relying on position (INSERT INTO inactive_nodes SELECT * FROM nodes)
 * keep working on databases we create.
 */
#include "schema.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

/* ---- detection ---------------------------------------------------------------------- */

#define MAX_COLS 64

/* The column names of one table (n == 0 when the table does not exist). */
typedef struct {
    int n;
    char names[MAX_COLS][48];
} col_set_t;

/* Reads PRAGMA table_info(table) into cs. Returns 0, or -1 with err set. */
static int read_columns(sqlite3 *db, const char *table, col_set_t *cs, char *err, size_t errlen)
{
    cs->n = 0;
    char *sql = sqlite3_mprintf("PRAGMA table_info(\"%w\")", table);
    if (sql == NULL) {
        msn_set_err(err, errlen, "out of memory");
        return -1;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        msn_set_err(err, errlen, "PRAGMA table_info(%s): %s", table, sqlite3_errmsg(db));
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 1);
        if (name != NULL && cs->n < MAX_COLS)
            snprintf(cs->names[cs->n++], sizeof(cs->names[0]), "%s", (const char *)name);
    }
    if (rc != SQLITE_DONE) {
        msn_set_err(err, errlen, "PRAGMA table_info(%s): %s", table, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int has(const col_set_t *cs, const char *col)
{
    for (int i = 0; i < cs->n; i++)
        if (sqlite3_stricmp(cs->names[i], col) == 0)
            return 1;
    return 0;
}

/* The columns §1.9 requires, per table. */
static const char *const req_obs[] = {"resolved_path", "raw_hex", NULL};
static const char *const req_observers[] = {"inactive",           "last_packet_at",       "iata",
                                            "clock_skew_seconds", "clock_skew_count_24h", "clock_last_naive_at",
                                            "can_relay",          "can_relay_seen",       NULL};
static const char *const req_nodes[] = {"foreign_advert", "default_scope", "multibyte_sup", "multibyte_evidence",
                                        NULL};
static const char *const req_tx[] = {"from_pubkey", "last_seen", "scope_name", NULL};

static int has_all(const col_set_t *cs, const char *const *cols)
{
    for (; *cols != NULL; cols++)
        if (!has(cs, *cols))
            return 0;
    return 1;
}

int msn_schema_detect(sqlite3 *db, msn_schema_info_t *out, char *err, size_t errlen)
{
    col_set_t tx, obs, nodes, inodes, observers, edges, amig; /* about 3 KiB each */
    memset(out, 0, sizeof(*out));
    if (read_columns(db, "transmissions", &tx, err, errlen) < 0 ||
        read_columns(db, "observations", &obs, err, errlen) < 0 ||
        read_columns(db, "nodes", &nodes, err, errlen) < 0 ||
        read_columns(db, "inactive_nodes", &inodes, err, errlen) < 0 ||
        read_columns(db, "observers", &observers, err, errlen) < 0 ||
        read_columns(db, "neighbor_edges", &edges, err, errlen) < 0 ||
        read_columns(db, "_async_migrations", &amig, err, errlen) < 0)
        return -1;
    if (tx.n == 0) {
        msn_set_err(err, errlen, "no transmissions table (not a CoreScope database?)");
        return -1;
    }

    out->has_transmissions = 1;
    out->has_observations = obs.n > 0;
    out->has_nodes = nodes.n > 0;
    out->has_observers = observers.n > 0;
    out->has_neighbor_edges = edges.n > 0;
    out->has_inactive_nodes = inodes.n > 0;
    out->has_async_migrations = amig.n > 0;

    out->obs_v3 = has(&obs, "observer_idx");
    out->obs_resolved_path = has(&obs, "resolved_path");
    out->obs_raw_hex = has(&obs, "raw_hex");

    out->tx_last_seen = has(&tx, "last_seen");
    out->tx_from_pubkey = has(&tx, "from_pubkey");
    out->tx_channel_hash = has(&tx, "channel_hash");
    out->tx_scope_name = has(&tx, "scope_name");

    out->nodes_battery_mv = has(&nodes, "battery_mv");
    out->nodes_temperature_c = has(&nodes, "temperature_c");
    out->nodes_foreign_advert = has(&nodes, "foreign_advert");
    out->nodes_default_scope = has(&nodes, "default_scope");
    out->nodes_multibyte_sup = has(&nodes, "multibyte_sup");
    out->nodes_multibyte_evidence = has(&nodes, "multibyte_evidence");

    out->observers_iata = has(&observers, "iata");
    out->observers_inactive = has(&observers, "inactive");
    out->observers_last_packet_at = has(&observers, "last_packet_at");
    out->observers_clock_skew = has(&observers, "clock_skew_seconds");
    out->observers_can_relay = has(&observers, "can_relay");
    out->observers_model = has(&observers, "model");
    out->observers_firmware = has(&observers, "firmware");
    out->observers_client_version = has(&observers, "client_version");
    out->observers_radio = has(&observers, "radio");
    out->observers_battery_mv = has(&observers, "battery_mv");
    out->observers_uptime_secs = has(&observers, "uptime_secs");
    out->observers_noise_floor = has(&observers, "noise_floor");

    out->async_progress_cols =
        has(&amig, "rows_processed") && has(&amig, "rows_total") && has(&amig, "last_update_at");

    int ready = out->has_neighbor_edges && has_all(&obs, req_obs) && has_all(&observers, req_observers) &&
                has_all(&nodes, req_nodes) && has_all(&inodes, req_nodes) && has_all(&tx, req_tx);
    out->legacy = !ready;
    return 0;
}

int msn_schema_has_column(sqlite3 *db, const char *table, const char *column)
{
    col_set_t cs;
    if (read_columns(db, table, &cs, NULL, 0) < 0)
        return 0;
    return has(&cs, column);
}

/* ---- the current schema ------------------------------------------------------------- */

#define NODE_COLUMNS                                                                                         \
    "public_key TEXT PRIMARY KEY, name TEXT, role TEXT, lat REAL, lon REAL, last_seen TEXT, first_seen TEXT, " \
    "advert_count INTEGER DEFAULT 0, battery_mv INTEGER, temperature_c REAL, foreign_advert INTEGER DEFAULT 0, " \
    "default_scope TEXT DEFAULT NULL, multibyte_sup INTEGER NOT NULL DEFAULT 0, multibyte_evidence TEXT"

static const char current_schema_sql[] =
    /* §1.1 */
    "CREATE TABLE IF NOT EXISTS transmissions ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, raw_hex TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,"
    " first_seen TEXT NOT NULL, route_type INTEGER, payload_type INTEGER, payload_version INTEGER,"
    " decoded_json TEXT, from_pubkey TEXT, last_seen INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT DEFAULT (datetime('now')), channel_hash TEXT DEFAULT NULL, scope_name TEXT DEFAULT NULL);\n"
    /* §1.2 */
    "CREATE TABLE IF NOT EXISTS observations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, transmission_id INTEGER NOT NULL REFERENCES transmissions(id),"
    " observer_idx INTEGER, direction TEXT, snr REAL, rssi REAL, score INTEGER, path_json TEXT,"
    " timestamp INTEGER NOT NULL, resolved_path TEXT, raw_hex TEXT);\n"
    /* §1.3 */
    "CREATE TABLE IF NOT EXISTS nodes (" NODE_COLUMNS ");\n"
    "CREATE TABLE IF NOT EXISTS inactive_nodes (" NODE_COLUMNS ");\n"
    /* §1.4 */
    "CREATE TABLE IF NOT EXISTS observers ("
    " id TEXT PRIMARY KEY, name TEXT, iata TEXT, last_seen TEXT, first_seen TEXT, packet_count INTEGER DEFAULT 0,"
    " model TEXT, firmware TEXT, client_version TEXT, radio TEXT, battery_mv INTEGER, uptime_secs INTEGER,"
    " noise_floor REAL, inactive INTEGER DEFAULT 0, last_packet_at TEXT DEFAULT NULL,"
    " clock_skew_seconds INTEGER DEFAULT NULL, clock_skew_count_24h INTEGER DEFAULT 0,"
    " clock_last_naive_at TEXT DEFAULT NULL, can_relay INTEGER DEFAULT 1, can_relay_seen INTEGER DEFAULT 0);\n"
    /* §1.5 */
    "CREATE TABLE IF NOT EXISTS neighbor_edges ("
    " node_a TEXT NOT NULL, node_b TEXT NOT NULL, count INTEGER DEFAULT 1, last_seen TEXT,"
    " PRIMARY KEY (node_a, node_b));\n"
    /* §1.6 */
    "CREATE TABLE IF NOT EXISTS observer_metrics ("
    " observer_id TEXT NOT NULL, timestamp TEXT NOT NULL, noise_floor REAL, tx_air_secs INTEGER,"
    " rx_air_secs INTEGER, recv_errors INTEGER, battery_mv INTEGER, packets_sent INTEGER, packets_recv INTEGER,"
    " PRIMARY KEY (observer_id, timestamp));\n"
    "CREATE TABLE IF NOT EXISTS dropped_packets ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT, raw_hex TEXT, reason TEXT NOT NULL, observer_id TEXT,"
    " observer_name TEXT, node_pubkey TEXT, node_name TEXT, dropped_at DATETIME DEFAULT CURRENT_TIMESTAMP);\n"
    "CREATE TABLE IF NOT EXISTS client_receptions ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, rx_pubkey TEXT NOT NULL, heard_key TEXT NOT NULL,"
    " heard_keylen INTEGER NOT NULL, rssi INTEGER, snr REAL, lat REAL NOT NULL, lon REAL NOT NULL,"
    " pos_acc_m REAL, rx_at TEXT NOT NULL, ingested_at TEXT NOT NULL, src TEXT NOT NULL,"
    " UNIQUE(rx_pubkey, heard_key, rx_at));\n"
    "CREATE TABLE IF NOT EXISTS client_observers (pubkey TEXT PRIMARY KEY, name TEXT, last_seen TEXT);\n"
    "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY);\n"
    /* §5.3, with the progress columns in the CREATE body */
    "CREATE TABLE IF NOT EXISTS _async_migrations ("
    " name TEXT PRIMARY KEY, status TEXT NOT NULL, started_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " ended_at TEXT, error TEXT, rows_processed INTEGER NOT NULL DEFAULT 0,"
    " rows_total INTEGER NOT NULL DEFAULT 0, last_update_at TEXT);\n"
    /* §1.7 and the per-table index lists */
    "CREATE INDEX IF NOT EXISTS idx_transmissions_hash ON transmissions(hash);\n"
    "CREATE INDEX IF NOT EXISTS idx_transmissions_first_seen ON transmissions(first_seen);\n"
    "CREATE INDEX IF NOT EXISTS idx_transmissions_payload_type ON transmissions(payload_type);\n"
    "CREATE INDEX IF NOT EXISTS idx_transmissions_from_pubkey ON transmissions(from_pubkey);\n"
    "CREATE INDEX IF NOT EXISTS idx_tx_channel_hash ON transmissions(channel_hash) WHERE payload_type = 5;\n"
    "CREATE INDEX IF NOT EXISTS idx_tx_scope_name ON transmissions(scope_name) WHERE scope_name IS NOT NULL;\n"
    "CREATE INDEX IF NOT EXISTS idx_tx_last_seen_zero ON transmissions(id) WHERE last_seen=0;\n"
    "CREATE INDEX IF NOT EXISTS idx_observations_transmission_id ON observations(transmission_id);\n"
    "CREATE INDEX IF NOT EXISTS idx_observations_observer_idx ON observations(observer_idx);\n"
    "CREATE INDEX IF NOT EXISTS idx_observations_timestamp ON observations(timestamp);\n"
    "CREATE INDEX IF NOT EXISTS idx_observations_tx_ts ON observations(transmission_id, timestamp);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_observations_dedup"
    " ON observations(transmission_id, observer_idx, COALESCE(path_json, ''));\n"
    "CREATE INDEX IF NOT EXISTS idx_observations_observer_idx_timestamp ON observations(observer_idx, timestamp);\n"
    "CREATE INDEX IF NOT EXISTS idx_nodes_last_seen ON nodes(last_seen);\n"
    "CREATE INDEX IF NOT EXISTS idx_nodes_foreign_advert ON nodes(foreign_advert) WHERE foreign_advert = 1;\n"
    "CREATE INDEX IF NOT EXISTS idx_inactive_nodes_last_seen ON inactive_nodes(last_seen);\n"
    "CREATE INDEX IF NOT EXISTS idx_observers_last_seen ON observers(last_seen);\n"
    "CREATE INDEX IF NOT EXISTS idx_observer_metrics_timestamp ON observer_metrics(timestamp);\n"
    "CREATE INDEX IF NOT EXISTS idx_dropped_observer ON dropped_packets(observer_id);\n"
    "CREATE INDEX IF NOT EXISTS idx_dropped_node ON dropped_packets(node_pubkey);\n"
    "CREATE INDEX IF NOT EXISTS idx_client_recept_heard_geo ON client_receptions(heard_key, heard_keylen, lat, lon);\n"
    "CREATE INDEX IF NOT EXISTS idx_client_recept_latlon ON client_receptions(lat, lon);\n"
    "CREATE INDEX IF NOT EXISTS idx_client_recept_rxat ON client_receptions(rx_at);\n"
    /* §1.6 view */
    "CREATE VIEW IF NOT EXISTS packets_v AS"
    " SELECT o.id, COALESCE(o.raw_hex, t.raw_hex) AS raw_hex, datetime(o.timestamp, 'unixepoch') AS timestamp,"
    " obs.id AS observer_id, obs.name AS observer_name, o.direction, o.snr, o.rssi, o.score, t.hash,"
    " t.route_type, t.payload_type, t.payload_version, o.path_json, t.decoded_json, t.created_at"
    " FROM observations o JOIN transmissions t ON t.id = o.transmission_id"
    " LEFT JOIN observers obs ON obs.rowid = o.observer_idx AND (obs.inactive IS NULL OR obs.inactive = 0);\n";

int msn_schema_create_current(sqlite3 *db, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
        msn_set_err(err, errlen, "create schema: BEGIN: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    if (sqlite3_exec(db, current_schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
        msn_set_err(err, errlen, "create schema: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        msn_set_err(err, errlen, "create schema: COMMIT: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* ---- opening ------------------------------------------------------------------------ */

/* Runs a one-row text query (a PRAGMA) and copies the first column into out. */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", v ? (const char *)v : "");
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int msn_sqlite_open(const char *path, int readonly, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char buf[32];
    *out = NULL;
    /* a read-only connection is used by one thread at a time: without SQLite's mutex, which
       every column read would otherwise lock and unlock */
    int flags = readonly ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX : SQLITE_OPEN_READWRITE;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (access(path, F_OK) < 0 && errno == ENOENT)
            msn_set_err(err, errlen, "%s: no such file", path);
        else
            msn_set_err(err, errlen, "%s: cannot open%s: %s", path, readonly ? " read-only" : "",
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 5000);
    /* Opening is lazy: read the schema now so a file that is not a database fails here. */
    if (sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
        msn_set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    if (readonly)
        goto done; /* a read-only connection cannot change the journal mode; readers follow the file's */
    if (sqlite3_db_readonly(db, "main") == 1) {
        msn_set_err(err, errlen, "%s: cannot open for writing (file or directory is read-only)", path);
        goto fail;
    }
    if (query_text(db, "PRAGMA journal_mode", buf, sizeof(buf)) < 0) {
        msn_set_err(err, errlen, "%s: PRAGMA journal_mode: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    if (sqlite3_stricmp(buf, "wal") != 0) {
        if (query_text(db, "PRAGMA journal_mode=WAL", buf, sizeof(buf)) < 0) {
            msn_set_err(err, errlen, "%s: cannot switch to WAL: %s", path, sqlite3_errmsg(db));
            goto fail;
        }
        if (sqlite3_stricmp(buf, "wal") != 0) {
            msn_set_err(err, errlen, "%s: cannot switch to WAL (journal_mode stays %s)", path, buf);
            goto fail;
        }
    }
done:
    *out = db;
    return 0;
fail:
    sqlite3_close(db);
    return -1;
}

/* ---- a new database file ------------------------------------------------------------ */

int64_t msn_schema_object_count(sqlite3 *db)
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

int msn_schema_init_db(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        msn_set_err(err, errlen, "%s: cannot create: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(db, 5000);
    int64_t objects = msn_schema_object_count(db);
    if (objects < 0) {
        msn_set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    /* auto_vacuum only takes effect before the first table and before WAL (as CoreScope sets it) */
    if (objects == 0 && sqlite3_exec(db, "PRAGMA auto_vacuum=INCREMENTAL", NULL, NULL, &msg) != SQLITE_OK) {
        msn_set_err(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
        goto fail;
    }
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) != SQLITE_OK) {
        msn_set_err(err, errlen, "%s: cannot switch to WAL: %s", path, msg ? msg : sqlite3_errmsg(db));
        goto fail;
    }
    char e[384];
    if (msn_schema_create_current(db, e, sizeof(e)) < 0) {
        msn_set_err(err, errlen, "%s: %s", path, e);
        goto fail;
    }
    sqlite3_close(db);
    return 0;
fail:
    sqlite3_free(msg);
    sqlite3_close(db);
    return -1;
}
