/* test_snapshot.c: the LMDB snapshot contract (shm/snapshot.c, shm/mpk.c). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/mpk.h"
#include "shm/snapshot.h"
#include "testlib.h"

static void write_gen(msn_snap_t *s, uint64_t gen, const char *stats)
{
    MDB_txn *txn;
    CHECK_EQ_INT(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
    msn_snap_meta_t m;
    memset(&m, 0, sizeof(m));
    m.format = MSN_SNAP_FORMAT;
    m.gen = gen;
    m.published_at_ms = 1000 * (int64_t)gen;
    m.max_tx_id = 10 * (int64_t)gen;
    m.max_obs_id = 20 * (int64_t)gen;
    snprintf(m.source_db, sizeof(m.source_db), "/data/db-%llu.sqlite", (unsigned long long)gen);
    int rc;
    msn_snap_meta_put(txn, s, &m, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(msn_snap_doc_put(txn, s, "stats", stats, strlen(stats), gen, m.published_at_ms), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
}

static void test_round_trip(void)
{
    const char *dir = msn_test_tmpdir("snap");
    char err[512];
    msn_snap_t w, r;
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), 1); /* nothing yet */
    CHECK_EQ_INT(msn_snap_create(dir, 1, &w, err, sizeof(err)), 0);
    write_gen(&w, 1, "{\"a\":1}");
    CHECK_EQ_INT(msn_snap_make_current(dir, &w, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), 0);
    MDB_txn *txn;
    CHECK_EQ_INT(mdb_txn_begin(r.env, NULL, MDB_RDONLY, &txn), 0);
    msn_snap_meta_t m;
    CHECK_EQ_INT(msn_snap_meta_get(txn, &r, &m), 0);
    CHECK_EQ_INT(m.gen, 1);
    CHECK_EQ_INT(m.max_tx_id, 10);
    CHECK_EQ_INT(m.max_obs_id, 20);
    CHECK_EQ_STR(m.source_db, "/data/db-1.sqlite");
    const void *body;
    size_t len;
    uint64_t g;
    int64_t at;
    CHECK_EQ_INT(msn_snap_doc_get(txn, &r, "stats", &body, &len, &g, &at), 0);
    CHECK_EQ_INT(len, 7);
    CHECK(memcmp(body, "{\"a\":1}", 7) == 0);
    CHECK_EQ_INT(g, 1);
    CHECK_EQ_INT(at, 1000);
    CHECK_EQ_INT(msn_snap_doc_get(txn, &r, "missing", &body, &len, NULL, NULL), MDB_NOTFOUND);
    mdb_txn_abort(txn);
    msn_snap_close(&r);
    msn_snap_close(&w);
}

/* A reader keeps seeing one whole generation while the writer commits the next; the next
 * read transaction sees the new one, data and meta together. */
static void test_atomic_generation_switch(void)
{
    const char *dir = msn_test_tmpdir("snapgen");
    char err[512];
    msn_snap_t w, r;
    CHECK_EQ_INT(msn_snap_create(dir, 1, &w, err, sizeof(err)), 0);
    write_gen(&w, 1, "one");
    CHECK_EQ_INT(msn_snap_make_current(dir, &w, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), 0);
    MDB_txn *old;
    CHECK_EQ_INT(mdb_txn_begin(r.env, NULL, MDB_RDONLY, &old), 0);
    write_gen(&w, 2, "two!");
    msn_snap_meta_t m;
    const void *body;
    size_t len;
    CHECK_EQ_INT(msn_snap_meta_get(old, &r, &m), 0);
    CHECK_EQ_INT(m.gen, 1);
    CHECK_EQ_INT(msn_snap_doc_get(old, &r, "stats", &body, &len, NULL, NULL), 0);
    CHECK(len == 3 && memcmp(body, "one", 3) == 0);
    mdb_txn_reset(old);
    CHECK_EQ_INT(mdb_txn_renew(old), 0);
    CHECK_EQ_INT(msn_snap_meta_get(old, &r, &m), 0);
    CHECK_EQ_INT(m.gen, 2);
    CHECK_EQ_INT(msn_snap_doc_get(old, &r, "stats", &body, &len, NULL, NULL), 0);
    CHECK(len == 4 && memcmp(body, "two!", 4) == 0);
    mdb_txn_abort(old);
    msn_snap_close(&r);
    msn_snap_close(&w);
}

/* A new environment made current replaces the old one; old directories are removed. */
static void test_switch_environment(void)
{
    const char *d = msn_test_tmpdir("snapenv");
    char dir[512], err[512];
    snprintf(dir, sizeof(dir), "%s", d);
    msn_snap_t a, b, r;
    CHECK_EQ_INT(msn_snap_create(dir, 1, &a, err, sizeof(err)), 0);
    write_gen(&a, 1, "a");
    CHECK_EQ_INT(msn_snap_make_current(dir, &a, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_snap_create(dir, 2, &b, err, sizeof(err)), 0);
    write_gen(&b, 2, "b");
    CHECK_EQ_INT(msn_snap_make_current(dir, &b, err, sizeof(err)), 0);
    char old[600];
    snprintf(old, sizeof(old), "%s/snap-000000000001", dir);
    struct stat sb;
    CHECK(stat(old, &sb) != 0);
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), 0);
    MDB_txn *txn;
    CHECK_EQ_INT(mdb_txn_begin(r.env, NULL, MDB_RDONLY, &txn), 0);
    msn_snap_meta_t m;
    CHECK_EQ_INT(msn_snap_meta_get(txn, &r, &m), 0);
    CHECK_EQ_INT(m.gen, 2);
    mdb_txn_abort(txn);
    msn_snap_close(&r);
    msn_snap_close(&a);
    msn_snap_close(&b);
}

/* A truncated data file is refused with a clear error instead of crashing readers. */
static void test_truncated_snapshot(void)
{
    const char *d = msn_test_tmpdir("snaptrunc");
    char dir[512], err[512], path[700];
    snprintf(dir, sizeof(dir), "%s", d);
    msn_snap_t w, r;
    CHECK_EQ_INT(msn_snap_create(dir, 1, &w, err, sizeof(err)), 0);
    MDB_txn *txn;
    CHECK_EQ_INT(mdb_txn_begin(w.env, NULL, 0, &txn), 0);
    char big[3000];
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%04d", i);
        CHECK_EQ_INT(msn_snap_doc_put(txn, &w, k, big, sizeof(big), 1, 1), 0);
    }
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    write_gen(&w, 1, "x");
    mdb_env_sync(w.env, 1);
    CHECK_EQ_INT(msn_snap_make_current(dir, &w, err, sizeof(err)), 0);
    msn_snap_close(&w);
    snprintf(path, sizeof(path), "%s/snap-000000000001/data.mdb", dir);
    struct stat sb;
    CHECK_EQ_INT(stat(path, &sb), 0);
    CHECK_EQ_INT(truncate(path, sb.st_size / 2), 0);
    err[0] = '\0';
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), -1);
    CHECK(strstr(err, "truncated") != NULL);
    CHECK_EQ_INT(truncate(path, 100), 0);
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), -1);
    CHECK(strstr(err, "truncated") != NULL);
}

/* Makes state_dir/current an environment whose meta is the msgpack value mv. */
static void make_current_with_meta(const char *dir, const void *mv, size_t len)
{
    char err[512];
    msn_snap_t w;
    MDB_txn *txn;
    CHECK_EQ_INT(msn_snap_create(dir, 7, &w, err, sizeof(err)), 0);
    CHECK_EQ_INT(mdb_txn_begin(w.env, NULL, 0, &txn), 0);
    MDB_val k = {4, "meta"}, v = {len, (void *)mv};
    CHECK_EQ_INT(mdb_put(txn, w.dbi[MSN_DBI_META], &k, &v, 0), 0);
    CHECK_EQ_INT(msn_snap_doc_put(txn, &w, "stats", "{}", 2, 7, 1), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    CHECK_EQ_INT(msn_snap_make_current(dir, &w, err, sizeof(err)), 0);
    msn_snap_close(&w);
}

/* A snapshot written in another format is refused by readers (never served), while its
 * meta stays readable for the master's generation numbers. */
static void test_other_format_refused(void)
{
    char err[512];
    msn_snap_t r;
    msn_snap_meta_t m;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    /* a newer format */
    const char *dir = msn_test_tmpdir("snapfmt");
    memset(&m, 0, sizeof(m));
    m.format = MSN_SNAP_FORMAT + 1;
    m.gen = 7;
    snprintf(m.source_db, sizeof(m.source_db), "/x.db");
    msn_snaprec_meta_encode(&sb, &m);
    make_current_with_meta(dir, sb.data, sb.size);
    err[0] = '\0';
    r.env = (MDB_env *)&r; /* a stale value: out is open only on success */
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), MSN_SNAP_OTHER_FORMAT);
    CHECK(r.env == NULL);
    char want[64], want_ours[64];
    snprintf(want, sizeof(want), "snapshot format %d", MSN_SNAP_FORMAT + 1);
    snprintf(want_ours, sizeof(want_ours), "reads format %d", MSN_SNAP_FORMAT);
    CHECK(strstr(err, want) != NULL && strstr(err, want_ours) != NULL);
    CHECK_EQ_INT(msn_snap_open_current_rw(dir, &r, err, sizeof(err)), MSN_SNAP_OTHER_FORMAT);
    CHECK_EQ_INT(msn_snap_current_meta(dir, &m, err, sizeof(err)), 0);
    CHECK_EQ_INT(m.gen, 7);
    CHECK_EQ_INT(m.format, MSN_SNAP_FORMAT + 1);
    /* the meta of a binary from before format versions: a map without "format" */
    dir = msn_test_tmpdir("snapfmt0");
    msgpack_sbuffer_clear(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msn_mpk_kv_u64(&pk, "gen", 5);
    msn_mpk_kv_i64(&pk, "published_at", 1000);
    msn_mpk_str(&pk, "source_db");
    msn_mpk_str(&pk, "/old.db");
    make_current_with_meta(dir, sb.data, sb.size);
    err[0] = '\0';
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), MSN_SNAP_OTHER_FORMAT);
    CHECK(strstr(err, "no format version") != NULL);
    CHECK_EQ_INT(msn_snap_current_meta(dir, &m, err, sizeof(err)), 0);
    CHECK_EQ_INT(m.gen, 5);
    CHECK_EQ_INT(m.format, 0);
    CHECK_EQ_STR(m.source_db, "/old.db");
    /* this binary's format is served */
    dir = msn_test_tmpdir("snapfmt1");
    m.format = MSN_SNAP_FORMAT;
    msgpack_sbuffer_clear(&sb);
    msn_snaprec_meta_encode(&sb, &m);
    make_current_with_meta(dir, sb.data, sb.size);
    CHECK_EQ_INT(msn_snap_open_current_ro(dir, &r, err, sizeof(err)), 0);
    msn_snap_close(&r);
    msgpack_sbuffer_destroy(&sb);
}

static void test_mpk_reader(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_int64(&pk, -5);
    msgpack_pack_int64(&pk, 1LL << 40);
    msgpack_pack_double(&pk, -3.5);
    msn_mpk_str(&pk, "hello");
    msgpack_pack_nil(&pk);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    msgpack_pack_map(&pk, 1);
    msn_mpk_kv_i64(&pk, "k", -70000);
    msn_mpk_reader_t r;
    msn_mpk_reader_init(&r, sb.data, sb.size);
    uint32_t n;
    int64_t i;
    double d;
    const char *s;
    CHECK_EQ_INT(msn_mpk_read_array(&r, &n), 0);
    CHECK_EQ_INT(n, 7);
    CHECK_EQ_INT(msn_mpk_read_int(&r, &i), 0);
    CHECK_EQ_INT(i, -5);
    CHECK_EQ_INT(msn_mpk_read_int(&r, &i), 0);
    CHECK_EQ_INT(i, 1LL << 40);
    CHECK_EQ_INT(msn_mpk_read_str(&r, &s, &n), -1); /* wrong type leaves the reader alone */
    CHECK_EQ_INT(msn_mpk_read_double(&r, &d), 0);
    CHECK(d == -3.5);
    CHECK_EQ_INT(msn_mpk_read_str(&r, &s, &n), 0);
    CHECK(n == 5 && memcmp(s, "hello", 5) == 0);
    CHECK_EQ_INT(msn_mpk_peek(&r), MSN_MPK_NIL);
    CHECK_EQ_INT(msn_mpk_skip(&r), 0);
    CHECK_EQ_INT(msn_mpk_read_bin(&r, &s, &n), 0);
    CHECK(n == 3 && memcmp(s, "abc", 3) == 0);
    CHECK_EQ_INT(msn_mpk_skip(&r), 0);
    CHECK_EQ_INT(msn_mpk_peek(&r), MSN_MPK_END);
    /* a truncated buffer is an error, never an overread */
    msn_mpk_reader_init(&r, sb.data, sb.size - 4);
    CHECK_EQ_INT(msn_mpk_skip(&r), -1);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    MSN_RUN(test_round_trip);
    MSN_RUN(test_atomic_generation_switch);
    MSN_RUN(test_switch_environment);
    MSN_RUN(test_truncated_snapshot);
    MSN_RUN(test_other_format_refused);
    MSN_RUN(test_mpk_reader);
    return msn_test_done();
}
