/*
 * test_fxbulk.c: the packet lists of a full publication gathered in memory and written
 * in key order (master/fxbulk.c, master/publish.c).
 *
 *   - The collector keeps each list's entries in arrival order, drops a repeat of a
 *     list's last entry, and orders the lists as LMDB orders keys (bytes, then length).
 *   - A full publication (lists and oid written in key order with LMDB's append flags)
 *     holds exactly the key/value pairs the entry-by-entry path writes (the incremental
 *     publication of the same store into an empty environment), in every row and index
 *     database: on a generated database with repeated observers, regions and hops, long
 *     values that make no key, unknown types and an observation taken in late; and on the
 *     shared fixture database when it is there. Once in the daemon's batches, once in
 *     batches so small that every pass spans many transactions. The lists read back entry by entry in
 *     ascending id order, each entry valid under its key.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "master/fxbulk.h"
#include "master/publish.h"
#include "master/store.h"
#include "shm/schema.h"
#include "shm/snapkey.h"
#include "shm/snaprec.h"
#include "shm/snapshot.h"
#include "testlib.h"

/* ---- the collector ---- */

static void test_collector(void)
{
    msn_fxbulk_t b;
    msn_fxbulk_init(&b);
    const uint8_t k_o_ab[] = {'o', 'a', 'b'}, k_o_a[] = {'o', 'a'}, k_o_hi[] = {'o', 0xc3, 0x01}, k_a[] = {'a'};
    msn_fxbulk_add(&b, k_o_ab, 3, 1);
    msn_fxbulk_add(&b, k_a, 1, 1);
    msn_fxbulk_add(&b, k_o_ab, 3, 1); /* a repeat of the last: dropped */
    msn_fxbulk_add(&b, k_o_hi, 3, 2);
    msn_fxbulk_add(&b, k_o_a, 2, 2);
    msn_fxbulk_add(&b, k_o_ab, 3, 2);
    msn_fxbulk_add(&b, k_o_ab, 3, 2);
    msn_fxbulk_add(&b, k_a, 1, 2);
    msn_fxbulk_add(&b, k_o_ab, 3, 7);
    CHECK_EQ_INT(b.n_lists, 4);
    CHECK_EQ_INT((int64_t)b.n_entries, 7);
    msn_fxbulk_sort(&b);
    /* "a" < "oa" < "oab" (a prefix first) < "o\xc3\x01" (bytes unsigned) */
    const uint8_t *want_keys[] = {k_a, k_o_a, k_o_ab, k_o_hi};
    const uint32_t want_len[] = {1, 2, 3, 3};
    const uint32_t want_n[] = {2, 1, 3, 1};
    for (uint32_t i = 0; i < 4; i++) {
        const msn_fxlist_t *l = msn_fxbulk_at(&b, i);
        CHECK_EQ_INT(l->key_len, want_len[i]);
        CHECK(memcmp(msn_fxbulk_key(&b, l), want_keys[i], want_len[i]) == 0);
        CHECK_EQ_INT(l->n, want_n[i]);
    }
    const msn_fxlist_t *oab = msn_fxbulk_at(&b, 2);
    CHECK(oab->ix[0] == 1 && oab->ix[1] == 2 && oab->ix[2] == 7);
    /* many lists and entries: the index grows, every list keeps its entries */
    for (uint32_t t = 0; t < 3000; t++)
        for (uint32_t j = 0; j < 50; j++) {
            char key[16];
            int n = snprintf(key, sizeof(key), "n%u", (t * 7 + j) % 500);
            msn_fxbulk_add(&b, key, (size_t)n, 10 + t);
        }
    msn_fxbulk_sort(&b);
    CHECK_EQ_INT(b.n_lists, 504);
    uint64_t total = 0;
    for (uint32_t i = 0; i < b.n_lists; i++) {
        const msn_fxlist_t *l = msn_fxbulk_at(&b, i);
        total += l->n;
        for (uint32_t j = 1; j < l->n; j++)
            if (l->ix[j] <= l->ix[j - 1]) {
                CHECK(l->ix[j] > l->ix[j - 1]);
                break;
            }
        if (i > 0) {
            const msn_fxlist_t *p = msn_fxbulk_at(&b, i - 1);
            uint32_t m = p->key_len < l->key_len ? p->key_len : l->key_len;
            int c = memcmp(msn_fxbulk_key(&b, p), msn_fxbulk_key(&b, l), m);
            CHECK(c < 0 || (c == 0 && p->key_len < l->key_len));
        }
    }
    CHECK_EQ_INT((int64_t)total, (int64_t)b.n_entries);
    CHECK_EQ_INT((int64_t)b.n_entries, 7 + 3000 * 50); /* (t*7+j)%500 never repeats within one t */
    msn_fxbulk_free(&b);
    CHECK_EQ_INT(b.n_lists, 0);
}

/* The two-step form (a list number, then entries by number) keeps the lists as
 * msn_fxbulk_add does, mixed with it; a list made and left empty is walked with no
 * entries; a new list after a sort undoes the sort, more entries do not. */
static void test_list_numbers(void)
{
    msn_fxbulk_t a, b;
    msn_fxbulk_init(&a);
    msn_fxbulk_init(&b);
    uint32_t nums[40];
    for (int i = 0; i < 40; i++)
        nums[i] = UINT32_MAX;
    for (uint32_t t = 0; t < 400; t++)
        for (uint32_t j = 0; j < 5; j++) {
            char key[16];
            uint32_t n = (t * 3 + j * 11) % 40;
            int len = snprintf(key, sizeof(key), "k%u", n);
            msn_fxbulk_add(&a, key, (size_t)len, t);
            if ((t + j) % 2) { /* half by number, half by key */
                uint32_t l = msn_fxbulk_list(&b, key, (size_t)len);
                msn_fxbulk_add_to(&b, l, t);
            } else {
                msn_fxbulk_add(&b, key, (size_t)len, t);
            }
            uint32_t l = msn_fxbulk_list(&b, key, (size_t)len);
            if (nums[n] == UINT32_MAX)
                nums[n] = l;
            CHECK_EQ_INT(l, nums[n]); /* the same key, the same number */
            msn_fxbulk_add_to(&b, nums[n], t); /* a repeat of the last: dropped */
        }
    msn_fxbulk_sort(&a);
    msn_fxbulk_sort(&b);
    CHECK_EQ_INT(a.n_lists, b.n_lists);
    CHECK_EQ_INT((int64_t)a.n_entries, (int64_t)b.n_entries);
    for (uint32_t i = 0; i < a.n_lists && i < b.n_lists; i++) {
        const msn_fxlist_t *x = msn_fxbulk_at(&a, i), *y = msn_fxbulk_at(&b, i);
        CHECK(x->key_len == y->key_len && memcmp(msn_fxbulk_key(&a, x), msn_fxbulk_key(&b, y), x->key_len) == 0);
        CHECK(x->n == y->n && memcmp(x->ix, y->ix, x->n * sizeof(uint32_t)) == 0);
    }
    msn_fxbulk_add_to(&b, nums[0], 400); /* an entry: the order stands */
    CHECK(b.order != NULL);
    uint32_t e = msn_fxbulk_list(&b, "a-empty", 7); /* a new list: sorted again before walking */
    CHECK(b.order == NULL);
    msn_fxbulk_sort(&b);
    CHECK_EQ_INT(b.n_lists, a.n_lists + 1);
    CHECK(msn_fxbulk_at(&b, 0) == &b.lists[e]); /* "a-empty" < "k..." */
    CHECK_EQ_INT(msn_fxbulk_at(&b, 0)->n, 0);
    msn_fxbulk_free(&a);
    msn_fxbulk_free(&b);
}

/* ---- a full publication against the entry-by-entry path ---- */

#define KEY(c) "printf('%%.64c', '" c "')" /* in snprintf formats: a 64-digit node key */

/* A database with what makes lists interesting: adverts (upper- and lowercase originator
 * keys), channel messages, unknown types, observers of one region, resolved paths with a
 * hop named twice and the originator among the hops, the same observer twice, values too
 * long for a key. And hashes that make the hash index interesting: some the same as the
 * transmission before's but in upper case (the same key), 64 digits, one digit, none, too
 * many, not hex. */
static sqlite3 *varied_db(int n_tx)
{
    sqlite3 *db;
    char err[512];
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(msn_schema_create_current(db, err, sizeof(err)) == 0);
    msn_test_exec(db, "INSERT INTO observers (rowid, id, name, iata) VALUES (1, 'obs-one', 'One', 'SJC'),"
             " (2, 'obs-two', 'Two', 'SJC'), (3, 'OBS-three', 'Three', 'sfo'), (4, 'o4', 'Four', NULL),"
             " (5, printf('%.600c', 'x'), 'Long', printf('%.600c', 'y'))");
    char sql[8192];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
             " INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json,"
             " from_pubkey, channel_hash)"
             " SELECT i, '1500',"
             " CASE WHEN i %% 101 = 0 THEN printf('AB%%014x', 999 + i) WHEN i %% 103 = 0 THEN 'not-hex-' || i"
             " WHEN i = 107 THEN '' WHEN i %% 109 = 0 THEN printf('%%.56c%%08X', 'F', i) WHEN i = 113 THEN 'a'"
             " WHEN i %% 127 = 0 THEN printf('%%.57c%%08x', 'a', i) ELSE printf('ab%%014x', 1000 + i) END, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 1784372400 + i * 37,"
             " 'unixepoch'), CASE WHEN i %% 13 = 0 THEN NULL ELSE i %% 4 END,"
             " CASE WHEN i %% 17 = 0 THEN NULL WHEN i %% 5 = 0 THEN 4 WHEN i %% 3 = 0 THEN 5 ELSE i %% 12 END, '{}',"
             " CASE i %% 4 WHEN 0 THEN " KEY("A") " WHEN 1 THEN " KEY("b") " WHEN 2 THEN " KEY("C")
             " ELSE printf('%%.300c', 'd') END,"
             " CASE WHEN i %% 3 = 0 THEN printf('%%02x', i %% 7) WHEN i %% 31 = 0 THEN printf('%%.400c', 'e') END"
             " FROM n",
             n_tx);
    msn_test_exec(db, sql);
    /* 1 to 4 observations each; observer 1 twice for some; resolved paths */
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d),"
             " k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 3)"
             " INSERT INTO observations (id, transmission_id, observer_idx, path_json, timestamp, resolved_path)"
             " SELECT i * 4 + j, i, CASE WHEN j = 3 THEN 1 ELSE 1 + (i + j) %% 5 END, printf('[\"%%02X\"]', j),"
             " 1784372400 + i * 37 + j,"
             " CASE (i + j) %% 4 WHEN 0 THEN '[\"' || " KEY("a") " || '\",\"' || " KEY("b") " || '\",\"' || " KEY("a") " || '\"]'"
             " WHEN 1 THEN '[\"' || " KEY("C") " || '\",null]' WHEN 2 THEN NULL ELSE '[]' END"
             " FROM n, k WHERE j <= i %% 4",
             n_tx);
    msn_test_exec(db, sql);
    return db;
}

/* Every key/value pair of dbi in both environments, in order, byte for byte. */
static void check_same_dbi(const msn_snap_t *a, const msn_snap_t *b, int dbi, const char *label)
{
    MDB_txn *ta = NULL, *tb = NULL;
    MDB_cursor *ca = NULL, *cb = NULL;
    CHECK(mdb_txn_begin(a->env, NULL, MDB_RDONLY, &ta) == 0);
    CHECK(mdb_txn_begin(b->env, NULL, MDB_RDONLY, &tb) == 0);
    CHECK(mdb_cursor_open(ta, a->dbi[dbi], &ca) == 0);
    CHECK(mdb_cursor_open(tb, b->dbi[dbi], &cb) == 0);
    MDB_val ka, va, kb, vb;
    int64_t n = 0;
    for (;;) {
        int ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
        int rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
        if (ra != rb) {
            fprintf(stderr, "%s: one ends after %lld pairs, the other does not\n", label, (long long)n);
            CHECK(ra == rb);
            break;
        }
        if (ra != 0)
            break;
        if (ka.mv_size != kb.mv_size || memcmp(ka.mv_data, kb.mv_data, ka.mv_size) != 0 ||
            va.mv_size != vb.mv_size || memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0) {
            fprintf(stderr, "%s: pair %lld differs\n", label, (long long)n);
            CHECK(0);
            break;
        }
        n++;
    }
    MDB_stat sa, sb;
    CHECK(mdb_stat(ta, a->dbi[dbi], &sa) == 0 && mdb_stat(tb, b->dbi[dbi], &sb) == 0);
    CHECK_EQ_INT((int64_t)sa.ms_entries, n);
    CHECK_EQ_INT((int64_t)sb.ms_entries, n);
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    mdb_txn_abort(ta);
    mdb_txn_abort(tb);
}

/* Reads every packet list of the environment back: ascending ids, each entry valid under
 * its key and matching its transmission. Returns the number of entries. */
static int64_t check_lists(const msn_snap_t *snap, const msn_store_t *s)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    CHECK(mdb_txn_begin(snap->env, NULL, MDB_RDONLY, &txn) == 0);
    CHECK(mdb_cursor_open(txn, snap->dbi[MSN_DBI_FX], &c) == 0);
    MDB_val k, v;
    int64_t n = 0, bad = 0;
    uint64_t last_id = 0;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const msn_fx_rec_t *r = msn_snaprec_fx_of(v.mv_data, v.mv_size);
        uint64_t id = r ? msn_snaprec_fx_id(r) : 0;
        const msn_tx_t *t = msn_store_tx_by_id(s, (int64_t)id);
        if (r == NULL || msn_snaprec_fx_check(r, k.mv_data, k.mv_size) != 0 || t == NULL ||
            msn_snaprec_fx_first_seen_ms(r) != t->first_seen_ms || id <= last_id)
            bad++;
        last_id = id;
        n++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP);
        if (rc == MDB_NOTFOUND) {
            last_id = 0;
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
        }
    }
    CHECK_EQ_INT(rc, MDB_NOTFOUND);
    CHECK_EQ_INT(bad, 0);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return n;
}

static int64_t list_len(const msn_snap_t *snap, const void *key, size_t len)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    size_t count = 0;
    CHECK(mdb_txn_begin(snap->env, NULL, MDB_RDONLY, &txn) == 0);
    CHECK(mdb_cursor_open(txn, snap->dbi[MSN_DBI_FX], &c) == 0);
    MDB_val k = {len, (void *)key}, v;
    if (mdb_cursor_get(c, &k, &v, MDB_SET) == 0)
        CHECK(mdb_cursor_count(c, &count) == 0);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return (int64_t)count;
}

static const int compared[] = {MSN_DBI_TX, MSN_DBI_OBS, MSN_DBI_OID, MSN_DBI_HASH, MSN_DBI_FX,
                               MSN_DBI_FT, MSN_DBI_FL,  MSN_DBI_CHL};

/* Publishes s in full into state_dir/full, in batches of `batch` records, and entry by
 * entry (an incremental publication of every row into an empty environment) into
 * state_dir/each; compares them. */
static void compare_both_ways(msn_store_t *s, const char *dir, uint32_t batch)
{
    char full_dir[600], each_dir[600], err[512];
    snprintf(full_dir, sizeof(full_dir), "%s/full", dir);
    snprintf(each_dir, sizeof(each_dir), "%s/each", dir);
    CHECK(mkdir(full_dir, 0755) == 0);
    CHECK(mkdir(each_dir, 0755) == 0);
    int64_t now = 1784372400000;
    msn_publisher_t a;
    msn_publisher_init(&a, full_dir, ":memory:", 1);
    a.batch_records = batch; /* every pass spans transactions (0: the daemon's batches) */
    int rc = msn_publish_full(&a, s, now, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "full publication: %s\n", err);
    CHECK_EQ_INT(rc, 0);

    /* the same store as new rows: every observation and transmission written one by one */
    msn_store_t empty;
    msn_store_init(&empty);
    msn_publisher_t b;
    msn_publisher_init(&b, each_dir, ":memory:", 1);
    CHECK_EQ_INT(msn_publish_full(&b, &empty, now, err, sizeof(err)), 0);
    for (uint32_t i = 0; i < s->n_tx; i++) {
        s->tx[i].dirty = 1;
        s->tx[i].latest_pub = 0;
        s->tx[i].chl_pub = 0;
        s->tx[i].chl_written = 0;
    }
    int published = 0;
    rc = msn_publish_incremental(&b, s, now + 1000, &published, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "incremental publication: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(published, 1);

    static const char *const names[] = {"tx", "obs", "oid", "hash", "fx", "ft", "fl", "chl"};
    for (size_t i = 0; i < sizeof(compared) / sizeof(compared[0]); i++)
        check_same_dbi(&a.snap, &b.snap, compared[i], names[i]);
    CHECK_EQ_INT(a.skip.list_keys, b.skip.list_keys);
    CHECK_EQ_INT(a.skip.tx_hash, b.skip.tx_hash);
    CHECK_EQ_INT(a.skip.refused, b.skip.refused);
    CHECK(check_lists(&a.snap, s) > 0);
    CHECK_EQ_INT(list_len(&a.snap, "a", 1), s->n_tx);
    msn_publisher_free(&a);
    msn_publisher_free(&b);
    msn_store_free(&empty);
}

static void remove_dir(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* batch: records per transaction of the full publication (0: the daemon's) */
static void same_as_entry_by_entry(uint32_t batch)
{
    const char *dir = msn_test_tmpdir("fxbulk");
    sqlite3 *db = varied_db(3000);
    /* an observation of a transmission not committed yet: it waits, and is taken in late */
    msn_test_exec(db, "INSERT INTO observations (id, transmission_id, observer_idx, path_json, timestamp)"
             " VALUES (50000, 3001, 2, '[]', 1784500000)");
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 700, NULL, NULL, NULL, err, sizeof(err)), 0);
    msn_test_exec(db, "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type,"
                      " decoded_json)"
                      " VALUES (3001, '1500', 'ffee01', '2026-07-20T00:00:00.000Z', 1, 5, '{}');"
                      "INSERT INTO observations (id, transmission_id, observer_idx, path_json, timestamp)"
                      " VALUES (50001, 3001, 3, '[]', 1784500001)");
    int ntx = 0, nobs = 0;
    CHECK_EQ_INT(msn_store_poll(&s, db, 100, &ntx, &nobs, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.n_tx, 3001);
    CHECK(s.n_late >= 1);
    compare_both_ways(&s, dir, batch);
    msn_store_free(&s);
    sqlite3_close(db);
    remove_dir(dir);
}

static void test_same_as_entry_by_entry(void)
{
    same_as_entry_by_entry(0);
}

/* Batches of 97 records: the rows and every pass after them (oid, hash, chl, the packet
   lists) continue across many transactions, some in the middle of a key's entries. */
static void test_same_across_batches(void)
{
    same_as_entry_by_entry(97);
}

static void fixture_same_as_entry_by_entry(uint32_t batch)
{
    const char *fx = msn_test_fixture_db();
    if (fx == NULL) {
        msn_test_skip("the shared fixture database is not there");
        return;
    }
    const char *dir = msn_test_tmpdir("fxbulk-fixture");
    sqlite3 *db;
    CHECK(sqlite3_open_v2(fx, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    msn_store_t s;
    msn_store_init(&s);
    char err[512];
    CHECK_EQ_INT(msn_store_load(&s, db, 5000, NULL, NULL, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_store_reload_small(&s, db, 1784372400, err, sizeof(err)), 0);
    compare_both_ways(&s, dir, batch);
    msn_store_free(&s);
    sqlite3_close(db);
    remove_dir(dir);
}

static void test_fixture_same_as_entry_by_entry(void)
{
    fixture_same_as_entry_by_entry(0);
    fixture_same_as_entry_by_entry(500);
}

int main(void)
{
    MSN_RUN(test_collector);
    MSN_RUN(test_list_numbers);
    MSN_RUN(test_same_as_entry_by_entry);
    MSN_RUN(test_same_across_batches);
    MSN_RUN(test_fixture_same_as_entry_by_entry);
    return msn_test_done();
}
