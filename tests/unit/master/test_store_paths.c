/*
 * test_store_paths.c: observations' path_json as the master loads it (master/store.c).
 *
 *   - The full load's reader interns the paths of a batch after reading its rows: across
 *     several batches (more rows than one batch holds), every observation gets its own
 *     text and hop count, equal texts share one copy, and a path that is not an array of
 *     strings is served as an empty path and counted, once per observation.
 *   - A poll (rows read one by one) gives the same: the texts loaded before are reused.
 *   - A text with a NUL inside reads as the part before it.
 *   - resolved_path (parsed on the load's other thread than the paths): its keys are
 *     interned lowercase, a null hop is kept as none, and a value that is not an array of
 *     keys and nulls leaves the observation without one, counted.
 */
#include <stdlib.h>
#include <string.h>

#include "master/store.h"
#include "testlib.h"

#define N_PATHS 9
#define N_OBS 10000 /* more than one reader batch (store.c PIPE_ROWS) */

/* The path of observation id, as SQL, and what the master makes of it. */
static const struct {
    const char *sql;  /* the column's value */
    const char *text; /* what readers see (NULL: NULL) */
    int hops;
    int bad; /* not an array of strings */
} paths[N_PATHS] = {
    {"NULL", NULL, 0, 0},
    {"'[]'", "[]", 0, 0},
    {"'[\"A1\"]'", "[\"A1\"]", 1, 0},
    {"'[\"A1\",\"B2\",\"C3\"]'", "[\"A1\",\"B2\",\"C3\"]", 3, 0},
    {"'not json'", "not json", 0, 1},
    {"'[\"A1\",'", "[\"A1\",", 0, 1},
    {"'[1,2]'", "[1,2]", 0, 1},
    {"CAST(x'5b5d0041' AS TEXT)", "[]", 0, 0}, /* "[]", a NUL, "A" */
    {"''", "", 0, 1},
};

/* Distinct paths beside those: "[\"%04X\",\"%02X\"]" of id % 701, 2 hops each. */
#define N_DISTINCT 701

#define KEY_UPPER "AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12"
#define KEY_LOWER "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"

/* The resolved path of observation id: 0 NULL, 1 [key, null], 2 not parsable. */
static int rp_kind(int64_t id)
{
    return id % 5 == 1 ? 1 : id % 5 == 2 ? 2 : 0;
}

static const char *const rp_sql[3] = {"NULL", "'[\"" KEY_UPPER "\", null]'", "'[\"nope\"'"};

static int kind_of(int64_t id)
{
    return (int)(id % 3 == 0 ? id / 3 % N_PATHS : -1);
}

/* Observations first..last of transmission 1, with their paths (kind_of). */
static void add_obs(sqlite3 *db, int64_t first, int64_t last)
{
    msn_test_exec(db, "BEGIN");
    for (int64_t id = first; id <= last; id++) {
        char path[128], sql[512];
        int k = kind_of(id);
        if (k >= 0)
            snprintf(path, sizeof(path), "%s", paths[k].sql);
        else
            snprintf(path, sizeof(path), "'[\"%04X\",\"%02X\"]'", (unsigned)(id % N_DISTINCT),
                     (unsigned)(id % N_DISTINCT) & 0xff);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO observations (id, transmission_id, observer_idx, direction, path_json, timestamp,"
                 " resolved_path) VALUES (%lld, 1, %lld, 'rx', %s, %lld, %s)",
                 (long long)id, (long long)id, path, (long long)(1784372400 + id), rp_sql[rp_kind(id)]);
        msn_test_exec(db, sql);
    }
    msn_test_exec(db, "COMMIT");
}

static sqlite3 *new_db(void)
{
    sqlite3 *db = msn_test_schema_db();
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name, iata) VALUES (1, 'obs1', 'One', 'SJC')");
    msn_test_exec(db, "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type,"
                      " decoded_json)"
                      " VALUES (1, '1500', 'abc0000000000001', '2026-07-18T11:00:00.000Z', 1, 5, '{}')");
    return db;
}

/* Checks every observation of s against kind_of; returns how many have a bad path. The
 * copy of each text seen is kept in first[] (by kind, then by distinct path) to check that
 * equal texts share one. */
static int check_obs(const msn_store_t *s, const char **first)
{
    int bad = 0;
    for (uint32_t i = 0; i < s->n_obs; i++) {
        const msn_obs_t *o = &s->obs[i];
        int k = kind_of(o->id);
        const char **seen;
        if (k >= 0) {
            if (paths[k].text == NULL)
                CHECK(o->path_json == NULL);
            else
                CHECK(o->path_json != NULL && strcmp(o->path_json, paths[k].text) == 0);
            CHECK_EQ_INT(o->hops, paths[k].hops);
            bad += paths[k].bad;
            seen = &first[k];
        } else {
            char want[64];
            snprintf(want, sizeof(want), "[\"%04X\",\"%02X\"]", (unsigned)(o->id % N_DISTINCT),
                     (unsigned)(o->id % N_DISTINCT) & 0xff);
            CHECK(o->path_json != NULL && strcmp(o->path_json, want) == 0);
            CHECK_EQ_INT(o->hops, 2);
            seen = &first[N_PATHS + o->id % N_DISTINCT];
        }
        if (*seen == NULL)
            *seen = o->path_json;
        CHECK(o->path_json == *seen); /* one copy per text */
        CHECK(o->direction != NULL && strcmp(o->direction, "rx") == 0);
        CHECK(o->direction == s->obs[0].direction);
        if (rp_kind(o->id) == 1) {
            CHECK(o->rp != NULL && o->rp_n == 2);
            if (o->rp != NULL && o->rp_n == 2) {
                CHECK(o->rp[0] != MSN_KEY_NONE && strcmp(s->keys[o->rp[0]], KEY_LOWER) == 0);
                CHECK(o->rp[1] == MSN_KEY_NONE);
            }
        } else {
            CHECK(o->rp == NULL && o->rp_n == 0);
            bad += rp_kind(o->id) == 2;
        }
    }
    return bad;
}

static void test_load_then_poll(void)
{
    sqlite3 *db = new_db();
    add_obs(db, 1, N_OBS);
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 1000, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_obs, N_OBS);
    const char *first[N_PATHS + N_DISTINCT] = {0};
    int bad = check_obs(&s, first);
    CHECK(bad > 0);
    CHECK_EQ_INT(s.skipped_rows, bad);

    /* rows a poll reads one by one reuse the loaded copies */
    add_obs(db, N_OBS + 1, N_OBS + 3000);
    int ntx, nobs;
    CHECK_EQ_INT(msn_store_poll(&s, db, 5000, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(nobs, 3000);
    CHECK_EQ_INT(s.n_obs, N_OBS + 3000);
    bad = check_obs(&s, first);
    CHECK_EQ_INT(s.skipped_rows, bad);
    msn_store_free(&s);
    sqlite3_close(db);
}

int main(void)
{
    MSN_RUN(test_load_then_poll);
    return msn_test_done();
}
