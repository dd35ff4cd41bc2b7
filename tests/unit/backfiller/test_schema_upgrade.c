/* test_schema_upgrade.c: schema_upgrade_v1 on the legacy fixture and on synthetic legacy
   databases: every object of the current schema, duplicate observations merged, idempotent. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backfiller/backfiller.h"
#include "backfiller/migrations.h"
#include "shm/migration_effects.h"
#include "shm/schema.h"
#include "testlib.h"

/* The first column of every row, joined with '|'. */
static void query_list(sqlite3 *db, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, n, "(prepare failed: %s)", sqlite3_errmsg(db));
        return;
    }
    size_t used = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        int w = snprintf(out + used, n - used, "%s%s", used ? "|" : "", t ? (const char *)t : "NULL");
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
    sqlite3_finalize(st);
}

/* Opens path read-write as the backfiller does, creating an empty file first if needed. */
static sqlite3 *open_rw(const char *path)
{
    sqlite3 *db = NULL;
    char err[512];
    if (access(path, F_OK) != 0) {
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        if (fd >= 0)
            close(fd);
    }
    if (msn_sqlite_open(path, 0, &db, err, sizeof(err)) < 0) {
        fprintf(stderr, "open %s: %s\n", path, err);
        exit(2);
    }
    return db;
}

static int upgrade(sqlite3 *db, int batch, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    msn_mig_ctx_t ctx = {.db = db, .batch_size = batch, .yield_ms = 0, .stop = stop};
    return msn_mig_schema_upgrade_v1(&ctx, err, errlen);
}

/* Every table, column, index and view of msn_schema_create_current exists in db (per
   object: the same CREATE text for indexes and views the upgrade created). */
static void check_current(sqlite3 *db, int skip_observer_idx)
{
    sqlite3 *ref = NULL;
    char err[512];
    CHECK_EQ_INT(sqlite3_open(":memory:", &ref), SQLITE_OK);
    CHECK_EQ_INT(msn_schema_create_current(ref, err, sizeof(err)), 0);
    sqlite3_stmt *st = NULL;
    CHECK_EQ_INT(sqlite3_prepare_v2(ref,
                                    "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                                    -1, &st, NULL),
                 SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        char sql[300], got[64];
        if (skip_observer_idx && strstr(name, "observer_idx") != NULL)
            continue;
        if (skip_observer_idx && strcmp(name, "idx_observations_dedup") == 0)
            continue;
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM sqlite_master WHERE type = '%s' AND name = '%s'", type,
                 name);
        if (msn_test_query_int(db, sql) != 1) {
            fprintf(stderr, "missing %s %s\n", type, name);
            CHECK(0);
        }
        if (strcmp(type, "table") != 0)
            continue;
        /* the columns */
        char *q = sqlite3_mprintf("SELECT name FROM pragma_table_info('%q')", name);
        sqlite3_stmt *c = NULL;
        CHECK_EQ_INT(sqlite3_prepare_v2(ref, q, -1, &c, NULL), SQLITE_OK);
        sqlite3_free(q);
        while (sqlite3_step(c) == SQLITE_ROW) {
            const char *col = (const char *)sqlite3_column_text(c, 0);
            if (skip_observer_idx && strcmp(col, "observer_idx") == 0)
                continue;
            if (!msn_schema_has_column(db, name, col)) {
                fprintf(stderr, "missing column %s.%s\n", name, col);
                CHECK(0);
            }
        }
        sqlite3_finalize(c);
        (void)got;
    }
    sqlite3_finalize(st);
    sqlite3_close(ref);
}

static void test_fixture(void)
{
    const char *fx = msn_test_fixture_db();
    if (fx == NULL) {
        msn_test_skip("fixtures/corescope-e2e.db not available");
        return;
    }
    char path[600], err[512] = "";
    snprintf(path, sizeof(path), "%s/e2e.db", msn_test_tmpdir("su"));
    CHECK_EQ_INT(msn_test_copy_file(fx, path), 0);
    sqlite3 *db = open_rw(path);
    msn_schema_info_t si;
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 1);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations"), 500);
    int64_t obs85_ts = msn_test_query_int(db, "SELECT timestamp FROM observations WHERE id = 85");

    CHECK_EQ_INT(upgrade(db, 50, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 0);
    CHECK_EQ_INT(si.tx_last_seen, 1);
    CHECK_EQ_INT(si.obs_raw_hex, 1);
    check_current(db, 0);

    /* the duplicate (85, 294) merged into the lowest id; nothing else removed */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations"), 499);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE id = 294"), 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT timestamp FROM observations WHERE id = 85"), obs85_ts);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM (SELECT 1 FROM observations GROUP BY transmission_id,"
                               " observer_idx, COALESCE(path_json, '') HAVING COUNT(*) > 1)"),
                 0);
    /* the unique index now rejects a duplicate, as CoreScope's upsert expects */
    CHECK((sqlite3_exec(db,
                        "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                        " SELECT transmission_id, observer_idx, path_json, timestamp FROM observations WHERE id = 85",
                        NULL, NULL, NULL) &
           0xff) == SQLITE_CONSTRAINT);
    /* other data untouched */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM transmissions"), 499);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM nodes"), 200);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE resolved_path IS NOT NULL"), 399);
    /* inactive_nodes has the column order of nodes */
    char a[1024], b[1024];
    query_list(db, "SELECT name FROM pragma_table_info('nodes')", a, sizeof(a));
    query_list(db, "SELECT name FROM pragma_table_info('inactive_nodes')", b, sizeof(b));
    CHECK_EQ_STR(a, b);
    CHECK_EQ_INT(sqlite3_exec(db, "INSERT INTO inactive_nodes SELECT * FROM nodes LIMIT 1", NULL, NULL, NULL),
                 SQLITE_OK);

    /* idempotent: a second run finds nothing to do and changes nothing */
    query_list(db, "SELECT type || ':' || name || ':' || COALESCE(sql, '') FROM sqlite_master ORDER BY name", a,
               sizeof(a));
    CHECK_EQ_INT(upgrade(db, 50, NULL, err, sizeof(err)), 0);
    query_list(db, "SELECT type || ':' || name || ':' || COALESCE(sql, '') FROM sqlite_master ORDER BY name", b,
               sizeof(b));
    CHECK_EQ_STR(a, b);
    sqlite3_close(db);
}

/* A legacy database built by hand: no unique index, duplicate groups across chunk
   boundaries, NULL observers, NULL vs '' paths, and the legacy last_seen index. */
static const char legacy_sql[] =
    "CREATE TABLE transmissions (id INTEGER PRIMARY KEY AUTOINCREMENT, raw_hex TEXT NOT NULL, hash TEXT NOT NULL "
    "UNIQUE, first_seen TEXT NOT NULL, route_type INTEGER, payload_type INTEGER, payload_version INTEGER, "
    "decoded_json TEXT, created_at TEXT DEFAULT (datetime('now')));"
    "CREATE TABLE observations (id INTEGER PRIMARY KEY AUTOINCREMENT, transmission_id INTEGER NOT NULL, "
    "observer_idx INTEGER, direction TEXT, snr REAL, rssi REAL, score INTEGER, path_json TEXT, "
    "timestamp INTEGER NOT NULL);"
    /* nodes with its later columns in another order than a fresh database */
    "CREATE TABLE nodes (public_key TEXT PRIMARY KEY, name TEXT, role TEXT, lat REAL, lon REAL, last_seen TEXT, "
    "first_seen TEXT, advert_count INTEGER DEFAULT 0, foreign_advert INTEGER DEFAULT 0, battery_mv INTEGER);"
    "CREATE TABLE observers (id TEXT PRIMARY KEY, name TEXT, last_seen TEXT);"
    "CREATE INDEX idx_tx_last_seen ON transmissions(first_seen);"
    "INSERT INTO nodes (public_key, name) VALUES ('aa', 'n1');"
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 40)"
    " INSERT INTO transmissions (id, raw_hex, hash, first_seen) SELECT i, '', 'h' || i, '2026' FROM c;"
    /* one observation per transmission and observer 1 */
    "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
    " SELECT id, 1, '[\"AB\"]', 1000 + id FROM transmissions;"
    /* duplicates of tx 7: two later copies with other values */
    "INSERT INTO observations (transmission_id, observer_idx, snr, rssi, path_json, timestamp)"
    " VALUES (7, 1, 5.5, NULL, '[\"AB\"]', 5000), (7, 1, NULL, -90, '[\"AB\"]', 6000);"
    /* NULL and '' paths are the same key */
    "INSERT INTO observations (transmission_id, observer_idx, path_json, score, timestamp)"
    " VALUES (20, 2, NULL, 3, 10), (20, 2, '', NULL, 11), (20, 2, NULL, 9, 12);"
    /* NULL observers never conflict */
    "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
    " VALUES (30, NULL, '[]', 1), (30, NULL, '[]', 2);"
    /* different paths are different keys */
    "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp) VALUES (31, 1, '[\"CD\"]', 3);";

static void test_synthetic_duplicates(void)
{
    char path[600], err[512] = "";
    snprintf(path, sizeof(path), "%s/legacy.db", msn_test_tmpdir("su"));
    sqlite3 *db = open_rw(path);
    CHECK_EQ_INT(sqlite3_exec(db, legacy_sql, NULL, NULL, NULL), SQLITE_OK);
    int64_t before = msn_test_query_int(db, "SELECT COUNT(*) FROM observations");
    int64_t first7 = msn_test_query_int(db, "SELECT MIN(id) FROM observations WHERE transmission_id = 7");
    int64_t first20 = msn_test_query_int(db, "SELECT MIN(id) FROM observations WHERE transmission_id = 20 AND observer_idx = 2");

    /* a stop before the first step: nothing changes, -ECANCELED */
    volatile sig_atomic_t stop = 1;
    CHECK_EQ_INT(upgrade(db, 3, &stop, err, sizeof(err)), -ECANCELED);
    CHECK_EQ_INT(msn_schema_has_column(db, "transmissions", "last_seen"), 0);

    stop = 0;
    CHECK_EQ_INT(upgrade(db, 3, &stop, err, sizeof(err)), 0); /* chunks of about 3 rows */
    check_current(db, 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations"), before - 4);
    /* tx 7: the lowest id stays, later non-NULL values win */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE transmission_id = 7"), 1);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT id FROM observations WHERE transmission_id = 7"), first7);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT snr * 10 FROM observations WHERE transmission_id = 7"), 55);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT rssi FROM observations WHERE transmission_id = 7"), -90);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT timestamp FROM observations WHERE transmission_id = 7"), 1007);
    /* tx 20: NULL and '' merged, the last non-NULL score wins */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE transmission_id = 20 AND observer_idx = 2"), 1);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT id FROM observations WHERE transmission_id = 20 AND observer_idx = 2"), first20);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT score FROM observations WHERE transmission_id = 20 AND observer_idx = 2"), 9);
    /* untouched */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE transmission_id = 30"), 3);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE transmission_id = 31"), 2);
    /* the legacy index is gone, inactive_nodes follows nodes' column order */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'idx_tx_last_seen'"), 0);
    char a[1024], b[1024];
    query_list(db, "SELECT name FROM pragma_table_info('nodes')", a, sizeof(a));
    query_list(db, "SELECT name FROM pragma_table_info('inactive_nodes')", b, sizeof(b));
    CHECK_EQ_STR(a, b);
    CHECK(strstr(a, "foreign_advert|battery_mv") != NULL);
    CHECK_EQ_INT(sqlite3_exec(db, "INSERT INTO inactive_nodes SELECT * FROM nodes", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM inactive_nodes WHERE public_key = 'aa' AND name = 'n1'"), 1);
    msn_schema_info_t si;
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 0);
    sqlite3_close(db);
}

/* A legacy v2 observations table (observer_id, no observer_idx) keeps its layout. */
static void test_v2_observations(void)
{
    char path[600], err[512] = "";
    snprintf(path, sizeof(path), "%s/v2.db", msn_test_tmpdir("su"));
    sqlite3 *db = open_rw(path);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "CREATE TABLE transmissions (id INTEGER PRIMARY KEY AUTOINCREMENT, raw_hex TEXT NOT NULL,"
                              " hash TEXT NOT NULL UNIQUE, first_seen TEXT NOT NULL);"
                              "CREATE TABLE observations (id INTEGER PRIMARY KEY AUTOINCREMENT, transmission_id INTEGER"
                              " NOT NULL, observer_id TEXT, observer_name TEXT, path_json TEXT, timestamp INTEGER"
                              " NOT NULL);"
                              "INSERT INTO transmissions VALUES (1, '', 'h', '2026');"
                              "INSERT INTO observations (transmission_id, observer_id, path_json, timestamp)"
                              " VALUES (1, 'X', '[]', 1), (1, 'X', '[]', 1);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(upgrade(db, 100, NULL, err, sizeof(err)), 0);
    if (err[0])
        fprintf(stderr, "upgrade: %s\n", err);
    CHECK_EQ_INT(msn_schema_has_column(db, "observations", "observer_idx"), 0);
    CHECK_EQ_INT(msn_schema_has_column(db, "observations", "observer_id"), 1);
    CHECK_EQ_INT(msn_schema_has_column(db, "observations", "resolved_path"), 1);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations"), 2);
    check_current(db, 1);
    msn_schema_info_t si;
    CHECK_EQ_INT(msn_schema_detect(db, &si, err, sizeof(err)), 0);
    CHECK_EQ_INT(si.legacy, 0);
    CHECK_EQ_INT(si.obs_v3, 0);
    sqlite3_close(db);
}

/* A duplicate the pass cannot see (inserted after it) makes the unique index fail: the
   migration fails with the message, and succeeds on the next run. */
static void test_index_failure_reported(void)
{
    char path[600], err[512] = "";
    snprintf(path, sizeof(path), "%s/late.db", msn_test_tmpdir("su"));
    sqlite3 *db = open_rw(path);
    CHECK_EQ_INT(sqlite3_exec(db, legacy_sql, NULL, NULL, NULL), SQLITE_OK);
    /* a trigger that re-creates a duplicate whenever the pass deletes one */
    CHECK_EQ_INT(sqlite3_exec(db,
                              "CREATE TRIGGER sneaky AFTER DELETE ON observations WHEN OLD.transmission_id = 7 BEGIN"
                              " INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                              " VALUES (7, 1, '[\"AB\"]', 1); END",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(upgrade(db, 100, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "idx_observations_dedup") != NULL);
    CHECK(strstr(err, "UNIQUE") != NULL);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'idx_observations_dedup'"), 0);
    /* the earlier steps stayed */
    CHECK_EQ_INT(msn_schema_has_column(db, "transmissions", "last_seen"), 1);
    CHECK_EQ_INT(sqlite3_exec(db, "DROP TRIGGER sneaky", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(upgrade(db, 100, NULL, err, sizeof(err)), 0);
    check_current(db, 0);
    sqlite3_close(db);
}

/* Through the backfiller: schema_upgrade_v1 is registered first, recorded done, and the
   status block shows its progress complete. */
static void test_registered_first(void)
{
    CHECK(msn_migrations_count >= 4);
    CHECK_EQ_STR(msn_migrations[0].name, MSN_MIG_SCHEMA_UPGRADE);
    int pj = -1, rp = -1;
    for (size_t i = 0; i < msn_migrations_count; i++) {
        if (strcmp(msn_migrations[i].name, MSN_MIG_PATH_JSON) == 0)
            pj = (int)i;
        if (strcmp(msn_migrations[i].name, MSN_MIG_RESOLVED_PATH) == 0)
            rp = (int)i;
    }
    CHECK(pj > 0 && rp > pj); /* resolved_path reads what path_json fills */

    char path[600];
    snprintf(path, sizeof(path), "%s/reg.db", msn_test_tmpdir("su"));
    sqlite3 *db = open_rw(path);
    CHECK_EQ_INT(sqlite3_exec(db, legacy_sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    msn_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.db = path;
    cfg.backfill.batch_size = 7;
    cfg.backfill.yield_ms = 0;
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    CHECK_EQ_STR(st->backfill.mig[0].name, MSN_MIG_SCHEMA_UPGRADE);
    CHECK_EQ_INT(st->backfill.mig[0].status, MSN_MIG_DONE);
    CHECK(st->backfill.mig[0].rows_total > 0);
    CHECK_EQ_INT(st->backfill.mig[0].rows_processed, st->backfill.mig[0].rows_total);
    /* each status entry carries what its migration declares it changes (the master acts on it) */
    CHECK_EQ_INT(st->backfill.n_migrations, (int64_t)msn_migrations_count);
    for (size_t i = 0; i < msn_migrations_count && i < MSN_STATUS_MAX_MIGRATIONS; i++) {
        CHECK(msn_migrations[i].effects != 0);
        CHECK_EQ_STR(st->backfill.mig[i].name, msn_migrations[i].name);
        CHECK_EQ_INT(st->backfill.mig[i].effects, msn_migrations[i].effects);
    }
    CHECK(msn_migrations[0].effects & MSN_MIG_AFFECTS_SCHEMA);
    if (rp >= 0)
        CHECK(msn_migrations[rp].effects & MSN_MIG_AFFECTS_RESOLVED_PATH);
    db = open_rw(path);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _async_migrations WHERE status = 'done'"),
                 (int64_t)msn_migrations_count);
    sqlite3_close(db);
    free(st);
}

/* A stop in the middle of the upgrade (during the pause after an index): not done, and
   the next run carries on counting from where the first stopped. */
typedef struct {
    msn_status_t *st;
    volatile sig_atomic_t *stop;
    int64_t seen;
} watcher_t;

static void *watch_and_stop(void *arg)
{
    watcher_t *w = arg;
    for (int i = 0; i < 20000 && !*w->stop; i++) {
        msn_backfill_status_t b;
        msn_status_read_backfill(w->st, &b);
        if (b.n_migrations > 0 && strcmp(b.mig[0].name, MSN_MIG_SCHEMA_UPGRADE) == 0 &&
            b.mig[0].rows_processed >= 12) {
            w->seen = b.mig[0].rows_processed;
            *w->stop = 1;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_stopped_and_resumed_progress(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/stop.db", msn_test_tmpdir("su"));
    sqlite3 *db = open_rw(path);
    CHECK_EQ_INT(sqlite3_exec(db, legacy_sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    msn_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.db = path;
    cfg.backfill.batch_size = 100;
    cfg.backfill.yield_ms = 200; /* the pause after each index: time for the watcher */
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    watcher_t w = {st, &stop, 0};
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, watch_and_stop, &w), 0);
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_STOPPED);
    pthread_join(th, NULL);
    CHECK(w.seen >= 12);
    const msn_migration_status_t *m = &st->backfill.mig[0];
    CHECK_EQ_INT(m->status, MSN_MIG_FAILED);
    CHECK_EQ_STR(m->error, "cancelled");
    int64_t stopped_at = m->rows_processed;
    int64_t first_total = m->rows_total;
    CHECK(stopped_at >= 12 && stopped_at < first_total);

    stop = 0;
    cfg.backfill.yield_ms = 0;
    CHECK_EQ_INT(msn_backfiller_run(&cfg, st, &stop), MSN_BF_EXIT_DONE);
    m = &st->backfill.mig[0];
    CHECK_EQ_INT(m->status, MSN_MIG_DONE);
    CHECK(m->rows_processed >= stopped_at); /* never back to 0 */
    CHECK_EQ_INT(m->rows_processed, m->rows_total);
    db = open_rw(path);
    check_current(db, 0);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _meshsnap_backfill"), 0);
    sqlite3_close(db);
    free(st);
}

/* The duplicate pass keeps a checkpoint in each chunk's transaction: stopped in the middle
   of it, the next run's first chunk starts after the last committed one (not at the first
   transmission), and the result is the same as without the stop. */
typedef struct {
    int64_t first_cursor; /* the lower bound of the first duplicate-pass read seen; INT64_MAX = none */
} dd_trace_t;

static int trace_cb(unsigned type, void *ud, void *p, void *x)
{
    (void)type;
    (void)x;
    dd_trace_t *t = ud;
    char *sql = sqlite3_expanded_sql((sqlite3_stmt *)p);
    const char *k = sql ? strstr(sql, "COALESCE(path_json, '') FROM observations WHERE transmission_id > ") : NULL;
    if (k != NULL && t->first_cursor == INT64_MAX)
        t->first_cursor = strtoll(k + strlen("COALESCE(path_json, '') FROM observations WHERE transmission_id > "),
                                  NULL, 10);
    sqlite3_free(sql);
    return 0;
}

static void *stop_in_dedup(void *arg)
{
    watcher_t *w = arg;
    for (int i = 0; i < 20000 && !*w->stop; i++) {
        msn_backfill_status_t b;
        msn_status_read_backfill(w->st, &b);
        /* the schema steps count 1 each (about 30); the duplicate pass 1 per observation */
        if (b.n_migrations > 0 && b.mig[0].status == MSN_MIG_RUNNING && b.mig[0].rows_processed >= 150) {
            w->seen = b.mig[0].rows_processed;
            *w->stop = 1;
        }
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_duplicate_pass_resumes(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/dd.db", msn_test_tmpdir("su"));
    sqlite3 *db = open_rw(path);
    CHECK_EQ_INT(sqlite3_exec(db, legacy_sql, NULL, NULL, NULL), SQLITE_OK);
    /* 400 more transmissions, each heard twice by observer 3 (one duplicate each) */
    CHECK_EQ_INT(sqlite3_exec(db,
                              "WITH RECURSIVE c(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM c WHERE i < 499)"
                              " INSERT INTO transmissions (id, raw_hex, hash, first_seen) SELECT i, '', 'h' || i, '2026'"
                              " FROM c;"
                              "INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                              " SELECT id, 3, '[\"EF\"]', 1 FROM transmissions WHERE id >= 100;"
                              "INSERT INTO observations (transmission_id, observer_idx, path_json, snr, timestamp)"
                              " SELECT id, 3, '[\"EF\"]', 2.5, 2 FROM transmissions WHERE id >= 100;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    int64_t before = msn_test_query_int(db, "SELECT COUNT(*) FROM observations");
    msn_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.db = path;
    cfg.backfill.batch_size = 10;
    cfg.backfill.yield_ms = 5;
    msn_status_t *st = calloc(1, sizeof(*st));
    volatile sig_atomic_t stop = 0;
    watcher_t w = {st, &stop, 0};
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, stop_in_dedup, &w), 0);
    CHECK_EQ_INT(msn_backfiller_run_db(db, &cfg, st, &stop), MSN_BF_EXIT_STOPPED);
    pthread_join(th, NULL);
    /* stopped inside the pass: its state is where the last committed chunk ended */
    int64_t cursor = msn_test_query_int(db, "SELECT cursor FROM _meshsnap_backfill WHERE name = 'schema_upgrade_v1/dedup'");
    CHECK(cursor > 0 && cursor < 499);
    int64_t merged = before - msn_test_query_int(db, "SELECT COUNT(*) FROM observations");
    CHECK(merged > 0 && merged < 404);

    /* the next run's first read of the pass starts after that cursor */
    dd_trace_t t = {INT64_MAX};
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_cb, &t);
    stop = 0;
    memset(st, 0, sizeof(*st));
    CHECK_EQ_INT(msn_backfiller_run_db(db, &cfg, st, &stop), MSN_BF_EXIT_DONE);
    sqlite3_trace_v2(db, 0, NULL, NULL);
    CHECK_EQ_INT(t.first_cursor, cursor);
    /* the same result as an uninterrupted run: every duplicate merged, the state gone */
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations"), before - 404);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM observations WHERE transmission_id >= 100 AND snr = 2.5"),
                 400);
    CHECK_EQ_INT(msn_test_query_int(db, "SELECT COUNT(*) FROM _meshsnap_backfill"), 0);
    check_current(db, 0);
    sqlite3_close(db);
    free(st);
}

int main(void)
{
    MSN_RUN(test_duplicate_pass_resumes);
    MSN_RUN(test_fixture);
    MSN_RUN(test_synthetic_duplicates);
    MSN_RUN(test_v2_observations);
    MSN_RUN(test_index_failure_reported);
    MSN_RUN(test_registered_first);
    MSN_RUN(test_stopped_and_resumed_progress);
    return msn_test_done();
}
