/*
 * test_snapcover.c: whether a snapshot's meta covers a database (master/snapcover.c).
 *
 * On an in-memory database with the current schema and a few rows: a meta with the
 * database's max ids and counts covers it; a different format, source file, schema kind,
 * max id or count does not (and why names the difference); a backfill migration that
 * ended after the snapshot was published, or one that wrote rows and is unfinished, does
 * not; one that ended before it does.
 */
#include <stdio.h>
#include <string.h>

#include "master/snapcover.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "testlib.h"

#define SRC "/var/lib/meshsnap/x.db"

static sqlite3 *make_db(void)
{
    sqlite3 *db = NULL;
    char err[512];
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(msn_schema_create_current(db, err, sizeof(err)) == 0);
    msn_test_exec(db, "INSERT INTO transmissions (id, raw_hex, hash, first_seen) VALUES (3, '00', 'h3', 'x'), "
             "(9, '00', 'h9', 'x');"
             "INSERT INTO observations (id, transmission_id, observer_idx, timestamp) VALUES (10, 3, 1, 1), "
             "(11, 3, 2, 1), (40, 9, 1, 1);");
    return db;
}

static msn_snap_meta_t covering_meta(void)
{
    msn_snap_meta_t m;
    memset(&m, 0, sizeof(m));
    m.format = MSN_SNAP_FORMAT;
    m.gen = 5;
    m.published_at_ms = 1800000000000LL; /* 2027-01-15T08:00:00Z */
    m.max_tx_id = 9;
    m.max_obs_id = 40;
    m.tx_count = 2;
    m.obs_count = 3;
    m.legacy_schema = 0;
    snprintf(m.source_db, sizeof(m.source_db), "%s", SRC);
    return m;
}

static void test_covers_and_differences(void)
{
    sqlite3 *db = make_db();
    char why[512];
    msn_snap_meta_t m = covering_meta();
    CHECK_EQ_INT(msn_snapcover_check(db, SRC, &m, why, sizeof(why)), 1);

    m.format = MSN_SNAP_FORMAT + 1;
    CHECK_EQ_INT(msn_snapcover_check(db, SRC, &m, why, sizeof(why)), 0);
    CHECK(strstr(why, "format") != NULL);

    m = covering_meta();
    CHECK_EQ_INT(msn_snapcover_check(db, "/other.db", &m, why, sizeof(why)), 0);
    CHECK(strstr(why, SRC) != NULL);

    m = covering_meta();
    m.legacy_schema = 1;
    CHECK_EQ_INT(msn_snapcover_check(db, SRC, &m, why, sizeof(why)), 0);
    CHECK(strstr(why, "schema") != NULL);

    m = covering_meta();
    m.max_tx_id = 8;
    CHECK_EQ_INT(msn_snapcover_check(db, SRC, &m, why, sizeof(why)), 0);
    CHECK_EQ_STR(why, "the largest transmission id is 9 in the database, 8 in the snapshot");

    /* a row deleted (same max id, one fewer row) */
    m = covering_meta();
    msn_test_exec(db, "DELETE FROM observations WHERE id = 11");
    CHECK_EQ_INT(msn_snapcover_check(db, SRC, &m, why, sizeof(why)), 0);
    CHECK_EQ_STR(why, "the number of observations is 2 in the database, 3 in the snapshot");
    sqlite3_close(db);
}

static void test_migrations(void)
{
    sqlite3 *db = make_db();
    char why[512];
    msn_snap_meta_t m = covering_meta();
    msn_test_exec(db, "INSERT INTO _async_migrations (name, status, started_at, ended_at, rows_processed) VALUES "
             "('a', 'done', '2027-01-15 07:00:00', '2027-01-15 07:30:00', 100), "
             "('b', 'pending_async', '2027-01-15 07:00:00', NULL, 0)");
    CHECK_EQ_INT(msn_snapcover_check(db, SRC, &m, why, sizeof(why)), 1);

    msn_test_exec(db, "UPDATE _async_migrations SET ended_at = '2027-01-15 08:00:00' WHERE name = 'a'");
    CHECK_EQ_INT(msn_snapcover_check(db, SRC, &m, why, sizeof(why)), 0);
    CHECK(strstr(why, "migration") != NULL);

    msn_test_exec(db, "UPDATE _async_migrations SET ended_at = '2027-01-15 07:30:00' WHERE name = 'a';"
             "UPDATE _async_migrations SET rows_processed = 5 WHERE name = 'b'");
    CHECK_EQ_INT(msn_snapcover_check(db, SRC, &m, why, sizeof(why)), 0);
    sqlite3_close(db);
}

int main(void)
{
    msn_log_set_level(MSN_LOG_WARN);
    MSN_RUN(test_covers_and_differences);
    MSN_RUN(test_migrations);
    return msn_test_done();
}
