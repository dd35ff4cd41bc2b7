/*
 * test_store_rows.c: rows the master cannot serve as they are (master/store.c,
 * master/publish.c), on small databases made here.
 *
 *   - An observation whose transmission id is above every loaded one and does not exist
 *     is skipped; the observations after it still load. It waits, and once its
 *     transmission is committed (a writer that commits out of order) the next poll takes
 *     it in, out of id order; lookups by id (the resolved-path take-in) still find every
 *     observation. An observation whose transmission is below the loaded ones and missing
 *     is an orphan.
 *   - Transmissions and observations with an id <= 0 are counted (never loaded).
 *   - Keys from row data that no key can hold (an empty or 600-byte content hash, public
 *     key, observer id, IATA code, channel hash, advert originator) leave their index
 *     entry out and are counted; the publication succeeds and every other row is there,
 *     also when such a row arrives by a poll.
 *   - A database file replaced at its path while the master's connection is open is not
 *     mixed with the old one in a load.
 */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "master/publish.h"
#include "master/store.h"
#include "shm/buf.h"
#include "shm/schema.h"
#include "shm/snapshot.h"
#include "testlib.h"

static sqlite3 *new_db(void)
{
    sqlite3 *db = msn_test_schema_db();
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name, iata) VALUES (1, 'obs1', 'One', 'SJC')");
    return db;
}

static void add_tx(sqlite3 *db, int64_t id)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json)"
             " VALUES (%lld, '1500', '%016llx', '2026-07-18T11:00:00.000Z', 1, 5, '{}')",
             (long long)id, (unsigned long long)(0xabc000 + (id < 0 ? -id * 7 : id)));
    msn_test_exec(db, sql);
}

static void add_obs(sqlite3 *db, int64_t id, int64_t txid)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO observations (id, transmission_id, observer_idx, path_json, timestamp)"
             " VALUES (%lld, %lld, 1, '[\"%02X\"]', %lld)",
             (long long)id, (long long)txid, (unsigned)(id & 0xff), (long long)(1784372400 + id));
    msn_test_exec(db, sql);
}

static int has_obs(const msn_store_t *s, int64_t id)
{
    for (uint32_t i = 0; i < s->n_obs; i++)
        if (s->obs[i].id == id)
            return 1;
    return 0;
}

static void test_orphan_does_not_block(void)
{
    sqlite3 *db = new_db();
    for (int i = 1; i <= 5; i++)
        add_tx(db, i);
    add_obs(db, 1, 1);
    add_obs(db, 2, 2);
    add_obs(db, 3, 100); /* its transmission is not committed (yet) */
    add_obs(db, 4, 4);
    add_obs(db, 5, 5);
    add_obs(db, 6, 0); /* below the loaded transmissions, and missing: an orphan */
    add_obs(db, 7, 3);
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 2, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_tx, 5);
    CHECK_EQ_INT(s.n_obs, 5); /* 1, 2, 4, 5, 7: the ones after the skipped ones load */
    CHECK(has_obs(&s, 4) && has_obs(&s, 5) && has_obs(&s, 7) && !has_obs(&s, 3));
    CHECK_EQ_INT(s.max_obs_id, 7);
    CHECK_EQ_INT(s.n_pend, 1);
    CHECK_EQ_INT(s.orphan_obs, 1);

    /* later rows load by polls, whatever waits */
    add_tx(db, 6);
    add_obs(db, 8, 6);
    int ntx, nobs;
    CHECK_EQ_INT(msn_store_poll(&s, db, 100, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(ntx, 1);
    CHECK_EQ_INT(nobs, 1);
    CHECK_EQ_INT(s.n_pend, 1);

    /* the transmission is committed late: the waiting observation is taken in */
    add_tx(db, 100);
    CHECK_EQ_INT(msn_store_poll(&s, db, 100, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(ntx, 1);
    CHECK_EQ_INT(nobs, 1);
    CHECK_EQ_INT(s.n_pend, 0);
    CHECK(has_obs(&s, 3));
    CHECK_EQ_INT(s.n_late, 1);
    CHECK(msn_store_obs_is_late(&s, s.n_obs - 1));
    msn_tx_t *t = msn_store_tx_by_id(&s, 100);
    CHECK(t != NULL && t->n_obs == 1 && t->dirty);

    /* lookups by id find every observation, the late one and those around it */
    msn_test_exec(db, "UPDATE observations SET resolved_path ="
                      " '[\"aa11111111111111111111111111111111111111111111111111111111111111\"]'");
    int64_t changed = 0;
    CHECK_EQ_INT(msn_store_refresh_resolved(&s, db, 0, 100, &changed, err, sizeof(err)), 0);
    CHECK_EQ_INT(changed, 7); /* 1, 2, 3, 4, 5, 7, 8 (6 is an orphan) */

    /* a full load reads everything in id order again */
    msn_store_t f;
    msn_store_init(&f);
    CHECK_EQ_INT(msn_store_load(&f, db, 100, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(f.n_obs, 7);
    CHECK_EQ_INT(f.n_late, 0);
    CHECK_EQ_INT(f.n_pend, 0);
    CHECK_EQ_INT(f.orphan_obs, 1);
    msn_store_free(&f);
    msn_store_free(&s);
    sqlite3_close(db);
}

static void test_transmission_not_loaded_yet_blocks(void)
{
    /* an observation whose transmission exists but is past the loaded ones waits for the
       transmission chunk (the normal case of a poll that did not read every transmission) */
    sqlite3 *db = new_db();
    for (int i = 1; i <= 3; i++)
        add_tx(db, i);
    add_obs(db, 1, 1);
    add_obs(db, 2, 3);
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 100, NULL, NULL, NULL, err, sizeof(err)), 0);
    for (int i = 4; i <= 6; i++) {
        add_tx(db, i);
        add_obs(db, i, i);
    }
    int ntx, nobs;
    CHECK_EQ_INT(msn_store_poll(&s, db, 1, &ntx, &nobs, err, sizeof(err)), 0); /* one transmission per poll */
    CHECK_EQ_INT(ntx, 1);
    CHECK_EQ_INT(nobs, 1);
    CHECK_EQ_INT(s.n_pend, 0);
    CHECK_EQ_INT(msn_store_poll(&s, db, 1, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_poll(&s, db, 1, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_obs, 5);
    CHECK_EQ_INT(s.orphan_obs, 0);
    CHECK_EQ_INT(s.n_pend, 0);
    msn_store_free(&s);
    sqlite3_close(db);
}

static void test_nonpositive_ids_counted(void)
{
    sqlite3 *db = new_db();
    add_tx(db, -5);
    add_tx(db, 0);
    add_tx(db, 1);
    add_obs(db, -2, 1);
    add_obs(db, 1, -5);
    add_obs(db, 2, 1);
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 100, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_tx, 1);
    CHECK_EQ_INT(s.nonpositive_tx, 2);
    CHECK_EQ_INT(s.nonpositive_obs, 1);
    CHECK_EQ_INT(s.orphan_obs, 1); /* observation 1: its transmission -5 is not served */
    CHECK_EQ_INT(s.n_obs, 1);
    /* counted again at every poll */
    add_tx(db, -6);
    int ntx, nobs;
    CHECK_EQ_INT(msn_store_poll(&s, db, 100, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.nonpositive_tx, 3);
    msn_store_free(&s);
    sqlite3_close(db);
}

/* ---- keys from row data ---- */

#define LONG600 "printf('%.600c', 'a')"

static int64_t count_dbi(const msn_snap_t *snap, int dbi)
{
    MDB_txn *txn;
    MDB_stat st;
    if (mdb_txn_begin(snap->env, NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    int rc = mdb_stat(txn, snap->dbi[dbi], &st);
    mdb_txn_abort(txn);
    return rc == 0 ? (int64_t)st.ms_entries : -1;
}

static void test_unkeyable_rows_do_not_block_publication(void)
{
    const char *dir = msn_test_tmpdir("storerows");
    char state[600];
    snprintf(state, sizeof(state), "%s/state", dir);
    CHECK(mkdir(state, 0755) == 0);
    sqlite3 *db = new_db();
    for (int i = 1; i <= 6; i++) {
        add_tx(db, i);
        add_obs(db, i, i);
    }
    msn_test_exec(db, "UPDATE transmissions SET hash = '' WHERE id = 2;"
             "UPDATE transmissions SET hash = " LONG600 " WHERE id = 3;"
             "UPDATE transmissions SET channel_hash = " LONG600 " WHERE id = 4;"
             "UPDATE transmissions SET payload_type = 4, from_pubkey = " LONG600 " WHERE id = 5;"
             "INSERT INTO observers (rowid, id, name, iata) VALUES (2, " LONG600 ", 'long', " LONG600 ");"
             "UPDATE observations SET observer_idx = 2 WHERE id = 6;"
             "INSERT INTO nodes (public_key, name, role) VALUES ('', 'empty key', 'room');"
             "INSERT INTO nodes (public_key, name, role) VALUES (" LONG600 ", 'long key', 'room');"
             "INSERT INTO nodes (public_key, name, role) VALUES"
             " ('aa11111111111111111111111111111111111111111111111111111111111111', 'good', 'repeater');");
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 100, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), 0);
    msn_publisher_t p;
    msn_publisher_init(&p, state, ":memory:", 1);
    int rc = msn_publish_full(&p, &s, 1784372400000, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "publish: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(p.skip.tx_hash, 2);
    CHECK_EQ_INT(p.skip.nodes, 2);
    CHECK(p.skip.list_keys >= 4); /* channel, from and node lists of tx 5, observer and region of tx 6 */
    CHECK_EQ_INT(count_dbi(&p.snap, MSN_DBI_TX), 6);
    CHECK_EQ_INT(count_dbi(&p.snap, MSN_DBI_OBS), 6);
    CHECK_EQ_INT(count_dbi(&p.snap, MSN_DBI_HASH), 4);
    CHECK_EQ_INT(count_dbi(&p.snap, MSN_DBI_NODE), 1);

    /* the same rows arriving by a poll: the incremental publication goes through */
    add_tx(db, 7);
    add_obs(db, 7, 7);
    msn_test_exec(db, "UPDATE transmissions SET hash = printf('%.600c', 'b') WHERE id = 7;"
             "INSERT INTO nodes (public_key, name, role) VALUES (" LONG600 "||'b', 'another', 'room')");
    int ntx, nobs, published = 0;
    CHECK_EQ_INT(msn_store_poll(&s, db, 100, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), 0);
    rc = msn_publish_incremental(&p, &s, 1784372401000, &published, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "publish: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(published, 1);
    CHECK_EQ_INT(p.gen, 2);
    CHECK_EQ_INT(p.skip.tx_hash, 3);
    CHECK_EQ_INT(p.skip.nodes, 3);
    CHECK_EQ_INT(count_dbi(&p.snap, MSN_DBI_TX), 7);
    msn_publisher_free(&p);
    msn_store_free(&s);
    sqlite3_close(db);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* A file at dir/name with n_tx transmissions and per_tx observations each. */
static void file_db(const char *path, int n_tx, int per_tx)
{
    sqlite3 *db;
    char err[512];
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(msn_schema_create_current(db, err, sizeof(err)) == 0);
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name, iata) VALUES (1, 'obs1', 'One', 'SJC')");
    int64_t oid = 1;
    for (int t = 1; t <= n_tx; t++) {
        add_tx(db, t);
        for (int k = 0; k < per_tx; k++)
            add_obs(db, oid++, t);
    }
    sqlite3_close(db);
}

/* The database file replaced at its path while the master's connection is open: the load
   reads the file that connection opened, never observations of the new file beside
   transmissions of the old one (the observation reader opens its own connection by path). */
static void test_replaced_file_is_not_mixed(void)
{
    const char *dir = msn_test_tmpdir("store-replaced");
    char path[600], other[600], err[512];
    snprintf(path, sizeof(path), "%s/mesh.db", dir);
    snprintf(other, sizeof(other), "%s/restored.db", dir);
    file_db(path, 3, 2);
    file_db(other, 3, 4);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db, err, sizeof(err)), 0);
    CHECK_EQ_INT(rename(other, path), 0);
    msn_store_t s;
    msn_store_init(&s);
    CHECK_EQ_INT(msn_store_load(&s, db, 100, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_tx, 3);
    CHECK_EQ_INT(s.n_obs, 6); /* the old file's: the new one has 12 */
    msn_store_free(&s);
    sqlite3_close(db);
    /* an unchanged file is read on two connections, and fully */
    sqlite3 *db2 = NULL;
    CHECK_EQ_INT(msn_sqlite_open(path, 1, &db2, err, sizeof(err)), 0);
    msn_store_init(&s);
    CHECK_EQ_INT(msn_store_load(&s, db2, 100, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_obs, 12);
    msn_store_free(&s);
    sqlite3_close(db2);
}

/* Observers by rowid: dense rowids are found through the direct index, sparse ones by
 * the search; absent, negative and out-of-range rowids find none; a reload replaces the
 * index with the new table's, and a table changed by hand (no index of its own) is
 * searched. */
static void check_observers(const msn_store_t *s, const int64_t *rowids, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        const msn_observer_t *o = msn_store_observer(s, rowids[i]);
        CHECK(o != NULL && o->rowid == rowids[i]);
        if (o == NULL)
            printf("  %s: observer %lld not found\n", what, (long long)rowids[i]);
    }
    const int64_t absent[] = {-1, 0, 4, 6, 999, 1000001, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        int listed = 0;
        for (int j = 0; j < n; j++)
            listed |= rowids[j] == absent[i];
        if (!listed)
            CHECK(msn_store_observer(s, absent[i]) == NULL);
    }
}

static void test_observer_lookup(void)
{
    sqlite3 *db = msn_test_schema_db();
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name, iata) VALUES (1, 'a', 'A', 'SJC'), (2, 'b', 'B', NULL),"
                      " (3, 'c', 'C', 'SFO'), (5, 'e', 'E', NULL)");
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 100, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), 0);
    CHECK(s.observer_at != NULL); /* dense: indexed */
    const int64_t dense[] = {1, 2, 3, 5};
    check_observers(&s, dense, 4, "dense");
    /* sparse rowids: no index, the same answers */
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name, iata) VALUES (1000000, 'far', 'Far', NULL)");
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), 0);
    CHECK(s.observer_at == NULL);
    const int64_t sparse[] = {1, 2, 3, 5, 1000000};
    check_observers(&s, sparse, 5, "sparse");
    /* dense again: a new index for the new table */
    msn_test_exec(db, "DELETE FROM observers WHERE rowid = 1000000");
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), 0);
    CHECK(s.observer_at != NULL);
    check_observers(&s, dense, 4, "dense again");
    CHECK(msn_store_observer(&s, 1000000) == NULL);
    /* a table grown by hand in place: the index no longer covers it, the search does */
    s.observers = msn_xrealloc(s.observers, (s.n_observers + 1) * sizeof(msn_observer_t));
    memset(&s.observers[s.n_observers], 0, sizeof(msn_observer_t));
    s.observers[s.n_observers++].rowid = 7;
    const int64_t grown[] = {1, 2, 3, 5, 7};
    check_observers(&s, grown, 5, "grown by hand");
    msn_store_free(&s);
    sqlite3_close(db);
}

/* A reload of nodes and observers that fails half-way (the observers table is gone) leaves
   the store as it was: the nodes read before the failure do not replace the old ones, whose
   strings stay valid (under ASan a use after free would stop here). */
static void test_failed_small_reload_keeps_store(void)
{
    sqlite3 *db = msn_test_schema_db();
    msn_test_exec(db, "INSERT INTO nodes (public_key, name, role) VALUES ('aa11', 'Alpha', 'repeater')");
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name) VALUES (1, 'o1', 'Obs one')");
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 100, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), 0);
    CHECK_EQ_INT((int)s.n_nodes, 1);
    msn_test_exec(db, "UPDATE nodes SET name = 'Renamed'");
    msn_test_exec(db, "DROP TABLE observers");
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), -1);
    CHECK(strstr(err, "observers") != NULL);
    CHECK_EQ_INT((int)s.n_nodes, 1);
    CHECK_EQ_INT((int)s.n_observers, 1);
    if (s.n_nodes == 1 && s.n_observers == 1) {
        CHECK_EQ_STR(s.nodes[0].name, "Alpha");
        CHECK_EQ_STR(s.observers[0].name, "Obs one");
        CHECK(msn_store_observer(&s, 1) != NULL);
    }
    msn_store_free(&s);
    sqlite3_close(db);
}

int main(void)
{
    MSN_RUN(test_observer_lookup);
    MSN_RUN(test_failed_small_reload_keeps_store);
    MSN_RUN(test_orphan_does_not_block);
    MSN_RUN(test_transmission_not_loaded_yet_blocks);
    MSN_RUN(test_nonpositive_ids_counted);
    MSN_RUN(test_unkeyable_rows_do_not_block_publication);
    MSN_RUN(test_replaced_file_is_not_mixed);
    return msn_test_done();
}
