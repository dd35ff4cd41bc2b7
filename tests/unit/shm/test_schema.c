/* test_schema.c: schema detection, creation of the current schema, and opening SQLite. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/schema.h"
#include "testlib.h"

static void query_text(sqlite3 *db, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static void test_create_current_then_detect(void)
{
    char path[600], err[512] = "";
    snprintf(path, sizeof(path), "%s/new.db", msn_test_tmpdir("schema"));
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    CHECK_EQ_INT(msn_schema_create_current(db, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_schema_create_current(db, err, sizeof(err)), 0); /* idempotent */

    msn_schema_info_t si;
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 0);
    CHECK(si.has_transmissions && si.has_observations && si.has_nodes && si.has_observers);
    CHECK(si.has_neighbor_edges && si.has_inactive_nodes && si.has_async_migrations);
    CHECK(si.obs_v3 && si.obs_resolved_path && si.obs_raw_hex);
    CHECK(si.tx_last_seen && si.tx_from_pubkey && si.tx_channel_hash && si.tx_scope_name);
    CHECK(si.nodes_battery_mv && si.nodes_temperature_c && si.nodes_foreign_advert && si.nodes_default_scope);
    CHECK(si.nodes_multibyte_sup && si.nodes_multibyte_evidence);
    CHECK(si.observers_iata && si.observers_inactive && si.observers_last_packet_at && si.observers_clock_skew);
    CHECK(si.observers_can_relay && si.observers_model && si.observers_firmware && si.observers_client_version);
    CHECK(si.observers_radio && si.observers_battery_mv && si.observers_uptime_secs && si.observers_noise_floor);
    CHECK_EQ_INT(si.async_progress_cols, 1);

    /* every table, index and the view of §1.1-§1.7 */
    static const char *const objects[] = {
        "table:transmissions", "table:observations", "table:nodes", "table:inactive_nodes", "table:observers",
        "table:neighbor_edges", "table:observer_metrics", "table:dropped_packets", "table:client_receptions",
        "table:client_observers", "table:_migrations", "table:_async_migrations", "view:packets_v",
        "index:idx_transmissions_hash", "index:idx_transmissions_first_seen", "index:idx_transmissions_payload_type",
        "index:idx_transmissions_from_pubkey", "index:idx_tx_channel_hash", "index:idx_tx_scope_name",
        "index:idx_tx_last_seen_zero", "index:idx_observations_transmission_id", "index:idx_observations_observer_idx",
        "index:idx_observations_timestamp", "index:idx_observations_tx_ts", "index:idx_observations_dedup",
        "index:idx_observations_observer_idx_timestamp", "index:idx_nodes_last_seen", "index:idx_nodes_foreign_advert",
        "index:idx_inactive_nodes_last_seen", "index:idx_observers_last_seen", "index:idx_observer_metrics_timestamp",
        "index:idx_dropped_observer", "index:idx_dropped_node", "index:idx_client_recept_heard_geo",
        "index:idx_client_recept_latlon", "index:idx_client_recept_rxat", NULL};
    for (int i = 0; objects[i]; i++) {
        char type[16], name[80], sql[200];
        const char *colon = strchr(objects[i], ':');
        snprintf(type, sizeof(type), "%.*s", (int)(colon - objects[i]), objects[i]);
        snprintf(name, sizeof(name), "%s", colon + 1);
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM sqlite_master WHERE type='%s' AND name='%s'", type, name);
        if (msn_test_query_int(db, sql) != 1) {
            fprintf(stderr, "missing %s\n", objects[i]);
            CHECK(0);
        }
    }
    char sql[512];
    query_text(db, "SELECT sql FROM sqlite_master WHERE name='idx_observations_dedup'", sql, sizeof(sql));
    CHECK(strstr(sql, "UNIQUE") != NULL && strstr(sql, "COALESCE(path_json, '')") != NULL);
    query_text(db, "SELECT sql FROM sqlite_master WHERE name='idx_tx_last_seen_zero'", sql, sizeof(sql));
    CHECK(strstr(sql, "WHERE last_seen=0") != NULL);

    /* inactive_nodes has exactly the shape of nodes (INSERT ... SELECT * relies on it) */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM pragma_table_info('nodes') a JOIN pragma_table_info('inactive_nodes') b"
                               " ON a.cid = b.cid AND a.name = b.name AND a.type = b.type"),
                 msn_test_query_int(db, "SELECT COUNT(*) FROM pragma_table_info('nodes')"));
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM pragma_table_info('inactive_nodes')"), 14);
    /* fresh column order of transmissions (§1.1) */
    query_text(db, "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('transmissions') ORDER BY cid)",
               sql, sizeof(sql));
    CHECK_EQ_STR(sql, "id,raw_hex,hash,first_seen,route_type,payload_type,payload_version,decoded_json,from_pubkey,"
                      "last_seen,created_at,channel_hash,scope_name");
    /* the dedup index really is unique */
    CHECK_EQ_INT(sqlite3_exec(db,
                              "INSERT INTO transmissions (raw_hex, hash, first_seen) VALUES ('00', 'aa', 'x');"
                              "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                              " VALUES (1, 1, '[]', 5)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                       " VALUES (1, 1, '[]', 6)",
                       NULL, NULL, NULL) != SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT last_seen FROM transmissions WHERE id = 1"), 0);
    sqlite3_close(db);
}

static void test_detect_fixture(void)
{
    const char *fx = msn_test_fixture_db();
    if (fx == NULL) {
        msn_test_skip("fixtures/corescope-e2e.db not available");
        return;
    }
    char path[600], err[512] = "";
    snprintf(path, sizeof(path), "%s/e2e.db", msn_test_tmpdir("schema"));
    CHECK_EQ_INT(msn_test_copy_file(fx, path), 0);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db, err, sizeof(err)), 0);
    msn_schema_info_t si;
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 1);
    CHECK_EQ_INT(si.has_transmissions, 1);
    CHECK_EQ_INT(si.has_neighbor_edges, 1);
    CHECK_EQ_INT(si.has_inactive_nodes, 0);
    CHECK_EQ_INT(si.has_async_migrations, 0);
    CHECK_EQ_INT(si.obs_v3, 1);
    CHECK_EQ_INT(si.obs_resolved_path, 1);
    CHECK_EQ_INT(si.obs_raw_hex, 0);
    CHECK_EQ_INT(si.tx_last_seen, 0);
    CHECK_EQ_INT(si.tx_from_pubkey, 1);
    CHECK_EQ_INT(si.tx_channel_hash, 1);
    CHECK_EQ_INT(si.tx_scope_name, 0);
    CHECK_EQ_INT(si.nodes_foreign_advert, 1);
    CHECK_EQ_INT(si.nodes_battery_mv, 1);
    CHECK_EQ_INT(si.nodes_default_scope, 0);
    CHECK_EQ_INT(si.nodes_multibyte_sup, 0);
    CHECK_EQ_INT(si.observers_iata, 1);
    CHECK_EQ_INT(si.observers_inactive, 1);
    CHECK_EQ_INT(si.observers_last_packet_at, 1);
    CHECK_EQ_INT(si.observers_clock_skew, 0);
    CHECK_EQ_INT(si.observers_can_relay, 0);
    CHECK_EQ_INT(si.observers_noise_floor, 1);
    CHECK_EQ_INT(si.async_progress_cols, 0);
    CHECK_EQ_INT(msn_schema_has_column(db, "observations", "observer_idx"), 1);
    CHECK_EQ_INT(msn_schema_has_column(db, "observations", "observer_id"), 0);
    CHECK_EQ_INT(msn_schema_has_column(db, "no_such_table", "id"), 0);
    sqlite3_close(db);

    /* the read-only original can be opened read-only as it is */
    CHECK_EQ_INT(msn_sqlite_open(fx, 1, &db, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 1);
    sqlite3_close(db);
}

/* A legacy database is not upgraded by create_current: it fails and leaves nothing behind. */
static void test_create_current_is_atomic(void)
{
    const char *fx = msn_test_fixture_db();
    if (fx == NULL) {
        msn_test_skip("fixtures/corescope-e2e.db not available");
        return;
    }
    char path[600], err[512] = "";
    snprintf(path, sizeof(path), "%s/e2e.db", msn_test_tmpdir("schema"));
    CHECK_EQ_INT(msn_test_copy_file(fx, path), 0);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(msn_sqlite_open(path, 0, &db, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_schema_create_current(db, err, sizeof(err)), -1);
    CHECK(strstr(err, "no such column") != NULL);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('inactive_nodes', '_migrations')"), 0);
    sqlite3_close(db);
}

static void test_detect_errors(void)
{
    char path[600], err[512] = "";
    const char *dir = msn_test_tmpdir("schema");
    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/other.db", dir);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "CREATE TABLE t(a)", NULL, NULL, NULL), SQLITE_OK);
    msn_schema_info_t si;
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), -1);
    CHECK(strstr(err, "transmissions") != NULL);
    sqlite3_close(db);
}

static void test_open(void)
{
    char path[600], err[512] = "", buf[64];
    const char *dir = msn_test_tmpdir("schema");
    sqlite3 *db = NULL;

    /* a file that is not a database fails at open, naming the path */
    snprintf(path, sizeof(path), "%s/garbage.db", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 200; i++)
        fputs("this is not an sqlite database\n", f);
    fclose(f);
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db, err, sizeof(err)), -1);
    CHECK(db == NULL);
    CHECK(strstr(err, path) != NULL && strstr(err, "not a database") != NULL);
    CHECK_EQ_INT(msn_sqlite_open(path, 0, &db, err, sizeof(err)), -1);
    CHECK(strstr(err, path) != NULL);

    /* a missing file is never created */
    snprintf(path, sizeof(path), "%s/missing.db", dir);
    err[0] = '\0';
    CHECK_EQ_INT(msn_sqlite_open(path, 0, &db, err, sizeof(err)), -1);
    CHECK(strstr(err, path) != NULL);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db, err, sizeof(err)), -1);

    /* read-write switches a rollback-journal database to WAL, persistently */
    snprintf(path, sizeof(path), "%s/j.db", dir);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "CREATE TABLE transmissions(id INTEGER PRIMARY KEY)", NULL, NULL, NULL), SQLITE_OK);
    query_text(db, "PRAGMA journal_mode", buf, sizeof(buf));
    CHECK_EQ_STR(buf, "delete");
    sqlite3_close(db);
    CHECK_EQ_INT(msn_sqlite_open(path, 0, &db, err, sizeof(err)), 0);
    query_text(db, "PRAGMA journal_mode", buf, sizeof(buf));
    CHECK_EQ_STR(buf, "wal");
    CHECK_EQ_INT(msn_test_query_int(db, "PRAGMA busy_timeout"), 5000);
    sqlite3_close(db);
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db, err, sizeof(err)), 0);
    query_text(db, "PRAGMA journal_mode", buf, sizeof(buf));
    CHECK_EQ_STR(buf, "wal");
    CHECK_EQ_INT(msn_test_query_int(db, "PRAGMA busy_timeout"), 5000);
    /* and a read-only connection cannot write */
    CHECK(sqlite3_exec(db, "INSERT INTO transmissions DEFAULT VALUES", NULL, NULL, NULL) != SQLITE_OK);
    sqlite3_close(db);
}

int main(void)
{
    MSN_RUN(test_create_current_then_detect);
    MSN_RUN(test_detect_fixture);
    MSN_RUN(test_create_current_is_atomic);
    MSN_RUN(test_detect_errors);
    MSN_RUN(test_open);
    return msn_test_done();
}
