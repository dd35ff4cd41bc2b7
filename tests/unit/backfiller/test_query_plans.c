/*
 * test_query_plans.c: every statement the backfills repeat (per chunk or per row) has a
 * plan that scales: EXPLAIN QUERY PLAN of each, taken when it first runs, during a real run
 * of every migration on a legacy-schema database (the indexes of CoreScope's e2e fixture,
 * no statistics, duplicates to merge, every backfill with rows to do).
 *
 * A statement that runs more than once fails the test when its plan
 *   - SCANs observations or transmissions (a full table or full index scan: one per
 *     chunk or row is quadratic over the run), or
 *   - SEARCHes observations by another column than transmission_id while the statement
 *     selects rows of one transmission (`transmission_id = ?`): the observer index, which
 *     SQLite picks without statistics, reads every observation of that observer (at 7M
 *     observations: 350 ms per lookup instead of 0.02 ms).
 * Statements that run once per run (the counts that size a migration) may scan.
 *
 * The plans are printed, so that a change shows what it does to them.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfiller/backfiller.h"
#include "backfiller/migrations.h"
#include "shm/codec/codec.h"
#include "shm/schema.h"
#include "testlib.h"

#define MAX_STMTS 256

typedef struct {
    char *sql;
    int runs;
    char plan[2048];
} stmt_t;

typedef struct {
    sqlite3 *eqp; /* a second connection: plans of the committed schema, as the run sees it */
    stmt_t s[MAX_STMTS];
    int n;
} trace_t;

static void plan_of(sqlite3 *db, const char *sql, char *out, size_t n)
{
    char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, n, "(no plan: %s)", sqlite3_errmsg(db));
        sqlite3_free(q);
        return;
    }
    sqlite3_free(q);
    size_t used = 0;
    while (sqlite3_step(st) == SQLITE_ROW && used + 2 < n) {
        const unsigned char *d = sqlite3_column_text(st, 3);
        used += (size_t)snprintf(out + used, n - used, "%s%s", used ? " | " : "", d ? (const char *)d : "");
    }
    sqlite3_finalize(st);
}

static int is_query(const char *sql)
{
    while (*sql == ' ' || *sql == '\n')
        sql++;
    return strncasecmp(sql, "SELECT", 6) == 0 || strncasecmp(sql, "UPDATE", 6) == 0 ||
           strncasecmp(sql, "DELETE", 6) == 0 || strncasecmp(sql, "INSERT", 6) == 0 ||
           strncasecmp(sql, "WITH", 4) == 0;
}

static int trace_cb(unsigned type, void *ud, void *p, void *x)
{
    (void)type;
    (void)x;
    trace_t *t = ud;
    const char *sql = sqlite3_sql((sqlite3_stmt *)p);
    if (sql == NULL || !is_query(sql))
        return 0;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->s[i].sql, sql) == 0) {
            t->s[i].runs++;
            return 0;
        }
    if (t->n == MAX_STMTS)
        return 0;
    stmt_t *s = &t->s[t->n++];
    s->sql = strdup(sql);
    s->runs = 1;
    plan_of(t->eqp, sql, s->plan, sizeof(s->plan));
    return 0;
}

/* 1 when the plan scans observations or transmissions (by their name or alias). */
static int scans_big_table(const char *plan)
{
    regex_t re;
    regcomp(&re, "(^|\\| )SCAN (observations|transmissions|o|t|ob|tx)( |$)", REG_EXTENDED);
    int hit = regexec(&re, plan, 0, NULL, 0) == 0;
    regfree(&re);
    return hit;
}

/* 1 when the statement picks the rows of one transmission but the plan searches
   observations by another leading column. */
static int wrong_index(const char *sql, const char *plan)
{
    regex_t eq, search;
    regcomp(&eq, "transmission_id *= *\\?", REG_EXTENDED);
    regcomp(&search, "SEARCH (observations|o) USING (COVERING )?INDEX [a-z_0-9]+ \\(([a-z_]+)[=<>]",
            REG_EXTENDED);
    int bad = 0;
    if (regexec(&eq, sql, 0, NULL, 0) == 0) {
        regmatch_t m[4];
        const char *p = plan;
        while (regexec(&search, p, 4, m, 0) == 0) {
            if ((size_t)(m[3].rm_eo - m[3].rm_so) != strlen("transmission_id") ||
                strncmp(p + m[3].rm_so, "transmission_id", strlen("transmission_id")) != 0)
                bad = 1;
            p += m[0].rm_eo;
        }
    }
    regfree(&eq);
    regfree(&search);
    return bad;
}

static void check_plans(const trace_t *t, const char *phase)
{
    int checked = 0;
    for (int i = 0; i < t->n; i++) {
        const stmt_t *s = &t->s[i];
        fprintf(stderr, "[%s] %5d x  %s\n        plan: %s\n", phase, s->runs, s->sql, s->plan);
        if (s->runs < 2)
            continue;
        checked++;
        if (scans_big_table(s->plan)) {
            fprintf(stderr, "  ^^^ runs %d times and scans a large table\n", s->runs);
            msn_test_failures++;
        }
        if (wrong_index(s->sql, s->plan)) {
            fprintf(stderr, "  ^^^ runs %d times and looks up a transmission's rows by another index\n", s->runs);
            msn_test_failures++;
        }
    }
    CHECK(checked >= 5);
}

static void trace_free(trace_t *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->s[i].sql);
    t->n = 0;
}

/* CoreScope's legacy layout (the e2e fixture's tables and indexes, no statistics). */
static const char legacy_ddl[] =
    "CREATE TABLE nodes (public_key TEXT PRIMARY KEY, name TEXT, role TEXT, lat REAL, lon REAL, last_seen TEXT,"
    " first_seen TEXT, advert_count INTEGER DEFAULT 0, battery_mv INTEGER, temperature_c REAL,"
    " foreign_advert INTEGER DEFAULT 0);"
    "CREATE TABLE observers (id TEXT PRIMARY KEY, name TEXT, iata TEXT, last_seen TEXT, first_seen TEXT,"
    " packet_count INTEGER DEFAULT 0, model TEXT, firmware TEXT, client_version TEXT, radio TEXT,"
    " battery_mv INTEGER, uptime_secs INTEGER, noise_floor REAL, inactive INTEGER DEFAULT 0, last_packet_at TEXT);"
    "CREATE TABLE transmissions (id INTEGER PRIMARY KEY AUTOINCREMENT, raw_hex TEXT NOT NULL, hash TEXT NOT NULL"
    " UNIQUE, first_seen TEXT NOT NULL, route_type INTEGER, payload_type INTEGER, payload_version INTEGER,"
    " decoded_json TEXT, created_at TEXT DEFAULT (datetime('now')), channel_hash TEXT DEFAULT NULL,"
    " from_pubkey TEXT);"
    "CREATE TABLE observations (id INTEGER PRIMARY KEY AUTOINCREMENT, transmission_id INTEGER NOT NULL"
    " REFERENCES transmissions(id), observer_idx INTEGER, direction TEXT, snr REAL, rssi REAL, score INTEGER,"
    " path_json TEXT, timestamp INTEGER NOT NULL, resolved_path TEXT);"
    "CREATE TABLE neighbor_edges (node_a TEXT NOT NULL, node_b TEXT NOT NULL, count INTEGER DEFAULT 1,"
    " last_seen TEXT, PRIMARY KEY (node_a, node_b));"
    "CREATE INDEX idx_tx_channel_hash ON transmissions(channel_hash) WHERE payload_type = 5;"
    "CREATE INDEX idx_transmissions_first_seen ON transmissions(first_seen);"
    "CREATE INDEX idx_transmissions_hash ON transmissions(hash);"
    "CREATE INDEX idx_transmissions_payload_type ON transmissions(payload_type);"
    "CREATE INDEX idx_observations_timestamp ON observations(timestamp);"
    "CREATE INDEX idx_observations_transmission_id ON observations(transmission_id);"
    "CREATE INDEX idx_observations_observer_idx ON observations(observer_idx);"
    "CREATE INDEX idx_transmissions_from_pubkey ON transmissions(from_pubkey);";

#define N_TX 600

/* A TXT_MSG frame with two one-byte hops, as hex. */
static void frame_hex(uint8_t h1, uint8_t h2, char *out, size_t n)
{
    uint8_t payload[32], pkt[300], hops[2] = {h1, h2};
    const uint8_t mac[2] = {1, 2}, data[8] = {0};
    int pl = msn_encode_direct(1, 2, mac, data, sizeof(data), payload, sizeof(payload));
    msn_frame_t f;
    memset(&f, 0, sizeof(f));
    f.route_type = MSN_ROUTE_FLOOD;
    f.payload_type = MSN_PT_TXT_MSG;
    f.hash_size = 1;
    f.hash_count = 2;
    f.path = hops;
    int len = msn_encode_packet(&f, payload, (size_t)pl, pkt, sizeof(pkt));
    out[0] = '\0';
    for (int i = 0; i < len && (size_t)(2 * i + 3) <= n; i++)
        snprintf(out + 2 * i, 3, "%02X", pkt[i]);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *e = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
        fprintf(stderr, "SQL failed: %s: %s\n", sql, e ? e : "?");
        msn_test_failures++;
    }
    sqlite3_free(e);
}

static void run_traced(sqlite3 *db, const char *path, const char *phase)
{
    trace_t *t = calloc(1, sizeof(*t));
    CHECK_EQ_INT(sqlite3_open_v2(path, &t->eqp, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    msn_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.db = (char *)path;
    cfg.backfill.batch_size = 50; /* many chunks */
    cfg.backfill.yield_ms = 0;
    volatile sig_atomic_t stop = 0;
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_cb, t);
    CHECK_EQ_INT(msn_backfiller_run_db(db, &cfg, NULL, &stop), MSN_BF_EXIT_DONE);
    sqlite3_trace_v2(db, 0, NULL, NULL);
    check_plans(t, phase);
    trace_free(t);
    sqlite3_close(t->eqp);
    free(t);
}

static void test_backfill_plans(void)
{
    char path[600], err[512];
    snprintf(path, sizeof(path), "%s/legacy.db", msn_test_tmpdir("plans"));
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL");
    exec_ok(db, legacy_ddl);
    exec_ok(db, "BEGIN");
    exec_ok(db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 40)"
                " INSERT INTO nodes (public_key, name, role) SELECT printf('%02x', i) || printf('%062d', i), 'n' || i,"
                " 'repeater' FROM c;"
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 8)"
                " INSERT INTO observers (id, name) SELECT 'obs' || i, 'o' || i FROM c;");
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)"
             " INSERT INTO transmissions (id, raw_hex, hash, first_seen, payload_type)"
             " SELECT i, '', printf('%%016x', i), '2026-01-01T00:00:00Z', 2 FROM c",
             N_TX);
    exec_ok(db, sql);
    /* four observations a transmission, by observers 1..8; every fifth one heard twice by
       the same observer over the same path (a duplicate to merge) */
    exec_ok(db, "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                " SELECT t.id, 1 + (t.id + k.k) % 8, '[\"01\",\"02\"]', 1700000000 + t.id"
                " FROM transmissions t, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) k;"
                "INSERT INTO observations (transmission_id, observer_idx, path_json, snr, timestamp)"
                " SELECT id, 1 + id % 8, '[\"01\",\"02\"]', 4.5, 1700000001 + id FROM transmissions WHERE id % 5 = 0;");
    exec_ok(db, "COMMIT");
    sqlite3_close(db);

    /* phase 1: the legacy database through every migration */
    CHECK_EQ_INT(msn_sqlite_open(path, 0, &db, err, sizeof(err)), 0);
    run_traced(db, path, "legacy");
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'idx_observations_dedup'"), 1);

    /* phase 2: the three backfills again, with every row to do (path_json from raw_hex) */
    char hex[600];
    frame_hex(0x01, 0x02, hex, sizeof(hex));
    snprintf(sql, sizeof(sql),
             "UPDATE observations SET path_json = CASE WHEN id %% 3 = 0 THEN NULL ELSE path_json END,"
             " raw_hex = '%s', resolved_path = NULL;"
             "UPDATE transmissions SET last_seen = 0;"
             "DELETE FROM _async_migrations WHERE name != 'schema_upgrade_v1';",
             hex);
    exec_ok(db, sql);
    run_traced(db, path, "backfills");
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE path_json IS NULL"), 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions WHERE last_seen = 0"), 0);
    sqlite3_close(db);
}

int main(void)
{
    MSN_RUN(test_backfill_plans);
    return msn_test_done();
}
