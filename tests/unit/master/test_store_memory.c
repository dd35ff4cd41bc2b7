/*
 * test_store_memory.c: how the store keeps observations compact (master/store.h).
 *
 *   - An observation's path_json and direction are interned: observations with the same
 *     text share one copy, different texts stay apart, NULL stays NULL, and the texts
 *     read as they are in the database, after a load and after a poll alike.
 */
#include <string.h>

#include "master/store.h"
#include "shm/schema.h"
#include "testlib.h"

static void add_obs(sqlite3 *db, int id, int txid, const char *dir, const char *path)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO observations (id, transmission_id, observer_idx, direction, path_json, timestamp)"
             " VALUES (%d, %d, 1, %s, %s, %d)",
             id, txid, dir, path, 1784372400 + id);
    msn_test_exec(db, sql);
}

static const msn_obs_t *obs(const msn_store_t *s, int64_t id)
{
    for (uint32_t i = 0; i < s->n_obs; i++)
        if (s->obs[i].id == id)
            return &s->obs[i];
    return NULL;
}

static void test_strings_interned(void)
{
    sqlite3 *db;
    char err[512];
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK_EQ_INT(msn_schema_create_current(db, err, sizeof(err)), 0);
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name) VALUES (1, 'obs1', 'One')");
    for (int i = 1; i <= 3; i++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json)"
                 " VALUES (%d, '1500', 'h%d', '2026-07-18T11:00:00.000Z', 1, 5, '{}')",
                 i, i);
        msn_test_exec(db, sql);
    }
    add_obs(db, 1, 1, "'RX'", "'[\"AB\",\"CD\"]'");
    add_obs(db, 2, 2, "'RX'", "'[\"AB\",\"CD\"]'");
    add_obs(db, 3, 2, "'TX'", "'[\"AB\"]'");
    add_obs(db, 4, 3, "NULL", "NULL");
    msn_store_t s;
    msn_store_init(&s);
    CHECK_EQ_INT(msn_store_load(&s, db, 2, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_obs, 4);
    const msn_obs_t *a = obs(&s, 1), *b = obs(&s, 2), *c = obs(&s, 3), *d = obs(&s, 4);
    CHECK(a && b && c && d);
    if (!(a && b && c && d))
        goto done;
    CHECK_EQ_STR(a->path_json, "[\"AB\",\"CD\"]");
    CHECK_EQ_STR(a->direction, "RX");
    CHECK(a->path_json == b->path_json); /* one copy */
    CHECK(a->direction == b->direction);
    CHECK(a->path_json != c->path_json);
    CHECK_EQ_STR(c->path_json, "[\"AB\"]");
    CHECK_EQ_STR(c->direction, "TX");
    CHECK_EQ_INT(a->hops, 2);
    CHECK_EQ_INT(c->hops, 1);
    CHECK(d->path_json == NULL && d->direction == NULL);

    /* a poll interns into the same table */
    add_obs(db, 5, 3, "'RX'", "'[\"AB\"]'");
    int ntx, nobs;
    CHECK_EQ_INT(msn_store_poll(&s, db, 100, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(nobs, 1);
    const msn_obs_t *e = obs(&s, 5);
    CHECK(e != NULL && e->path_json == obs(&s, 3)->path_json && e->direction == obs(&s, 1)->direction);
done:
    msn_store_free(&s);
    sqlite3_close(db);
}

int main(void)
{
    MSN_RUN(test_strings_interned);
    return msn_test_done();
}
