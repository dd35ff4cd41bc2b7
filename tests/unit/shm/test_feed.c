/*
 * test_feed.c: the live feed's ring in the snapshot (shm/feed.c): the run record,
 * appending, reading from a sequence number (gaps included), pruning by count and by age,
 * and copying the ring into a new environment.
 */
#include <stdlib.h>
#include <string.h>

#include "shm/feed.h"
#include "testlib.h"

static void put_msgs(msn_snap_t *s, uint64_t from, uint64_t to, int64_t at_ms)
{
    MDB_txn *txn;
    CHECK_EQ_INT(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
    for (uint64_t q = from; q <= to; q++) {
        char body[64];
        int n = snprintf(body, sizeof(body), "{\"seq\":%llu}", (unsigned long long)q);
        CHECK_EQ_INT(msn_feed_put(txn, s, q, at_ms, body, (size_t)n), 0);
    }
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
}

/* The seqs read from `from` on, written into out (at most max); returns how many. */
static int read_from(msn_snap_t *s, uint64_t from, uint64_t *out, int max)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    msn_feed_msg_t m;
    int n = 0;
    CHECK_EQ_INT(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
    CHECK_EQ_INT(mdb_cursor_open(txn, s->dbi[MSN_DBI_FEED], &cur), 0);
    for (int rc = msn_feed_seek(cur, from, &m); rc == 0 && n < max; rc = msn_feed_next(cur, &m)) {
        char want[64];
        int wl = snprintf(want, sizeof(want), "{\"seq\":%llu}", (unsigned long long)m.seq);
        CHECK(m.len == (size_t)wl && memcmp(m.body, want, m.len) == 0);
        out[n++] = m.seq;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return n;
}

static void test_ring(void)
{
    const char *dir = msn_test_tmpdir("feed");
    msn_snap_t s;
    char err[512];
    CHECK_EQ_INT(msn_snap_create(dir, 1, &s, err, sizeof(err)), 0);
    MDB_txn *txn;
    uint64_t run = 0, last = 0;
    /* an empty ring: no run, no message */
    CHECK_EQ_INT(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    CHECK_EQ_INT(msn_feed_get_run(txn, &s, &run), MDB_NOTFOUND);
    CHECK_EQ_INT(msn_feed_last(txn, &s, &last), MDB_NOTFOUND);
    CHECK_EQ_INT(msn_feed_set_run(txn, &s, 1784372400123ull), 0);
    CHECK_EQ_INT(msn_feed_last(txn, &s, &last), MDB_NOTFOUND); /* the run record is no message */
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);

    put_msgs(&s, 1, 10, 1000);
    put_msgs(&s, 14, 20, 2000); /* 11..13 skipped: a gap */
    CHECK_EQ_INT(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
    CHECK_EQ_INT(msn_feed_get_run(txn, &s, &run), 0);
    CHECK(run == 1784372400123ull);
    CHECK_EQ_INT(msn_feed_last(txn, &s, &last), 0);
    CHECK_EQ_INT(last, 20);
    mdb_txn_abort(txn);

    uint64_t got[64];
    int n = read_from(&s, 0, got, 64); /* 0 reads from the first message, never the run record */
    CHECK_EQ_INT(n, 17);
    CHECK_EQ_INT(got[0], 1);
    n = read_from(&s, 9, got, 64);
    CHECK_EQ_INT(n, 9);
    CHECK_EQ_INT(got[0], 9);
    CHECK_EQ_INT(got[2], 14);
    n = read_from(&s, 11, got, 64); /* the reader sees the gap: it asked for 11, gets 14 */
    CHECK_EQ_INT(n, 7);
    CHECK_EQ_INT(got[0], 14);
    CHECK_EQ_INT(read_from(&s, 21, got, 64), 0);

    /* appending below the newest number is refused */
    CHECK_EQ_INT(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    CHECK(msn_feed_put(txn, &s, 5, 0, "x", 1) != 0);
    mdb_txn_abort(txn);

    /* prune by count: 17 messages, keep 12 */
    size_t removed = 0;
    CHECK_EQ_INT(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    CHECK_EQ_INT(msn_feed_prune(txn, &s, 12, 0, &removed), 0);
    CHECK_EQ_INT(removed, 5);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    n = read_from(&s, 0, got, 64);
    CHECK_EQ_INT(n, 12);
    CHECK_EQ_INT(got[0], 6);
    /* prune by age: everything published before 1500 goes (6..10), the count allows all */
    CHECK_EQ_INT(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    CHECK_EQ_INT(msn_feed_prune(txn, &s, 1000, 1500, &removed), 0);
    CHECK_EQ_INT(removed, 5);
    CHECK_EQ_INT(msn_feed_get_run(txn, &s, &run), 0); /* the run record stays */
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    n = read_from(&s, 0, got, 64);
    CHECK_EQ_INT(n, 7);
    CHECK_EQ_INT(got[0], 14);

    /* copy into a new environment: same run, same messages, appending continues */
    msn_snap_t s2;
    CHECK_EQ_INT(msn_snap_create(dir, 2, &s2, err, sizeof(err)), 0);
    MDB_txn *from, *to;
    CHECK_EQ_INT(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &from), 0);
    CHECK_EQ_INT(mdb_txn_begin(s2.env, NULL, 0, &to), 0);
    CHECK_EQ_INT(msn_feed_copy(from, &s, to, &s2), 0);
    CHECK_EQ_INT(msn_feed_put(to, &s2, 21, 3000, "{\"seq\":21}", 10), 0);
    mdb_txn_abort(from);
    CHECK_EQ_INT(mdb_txn_commit(to), 0);
    n = read_from(&s2, 0, got, 64);
    CHECK_EQ_INT(n, 8);
    CHECK_EQ_INT(got[0], 14);
    CHECK_EQ_INT(got[7], 21);
    CHECK_EQ_INT(mdb_txn_begin(s2.env, NULL, MDB_RDONLY, &txn), 0);
    CHECK_EQ_INT(msn_feed_get_run(txn, &s2, &run), 0);
    CHECK(run == 1784372400123ull);
    mdb_txn_abort(txn);

    /* pruning everything leaves an empty ring with its run record */
    CHECK_EQ_INT(mdb_txn_begin(s2.env, NULL, 0, &txn), 0);
    CHECK_EQ_INT(msn_feed_prune(txn, &s2, 0, 0, &removed), 0);
    CHECK_EQ_INT(removed, 8);
    CHECK_EQ_INT(msn_feed_last(txn, &s2, &last), MDB_NOTFOUND);
    CHECK_EQ_INT(msn_feed_get_run(txn, &s2, &run), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    msn_snap_close(&s2);
    msn_snap_close(&s);
}

static void test_malformed_value(void)
{
    const char *dir = msn_test_tmpdir("feedbad");
    msn_snap_t s;
    char err[512];
    CHECK_EQ_INT(msn_snap_create(dir, 1, &s, err, sizeof(err)), 0);
    MDB_txn *txn;
    uint8_t k[8] = {0, 0, 0, 0, 0, 0, 0, 7};
    MDB_val key = {8, k}, val = {3, "abc"};
    CHECK_EQ_INT(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    CHECK_EQ_INT(mdb_put(txn, s.dbi[MSN_DBI_FEED], &key, &val, 0), 0);
    MDB_cursor *cur;
    msn_feed_msg_t m;
    CHECK_EQ_INT(mdb_cursor_open(txn, s.dbi[MSN_DBI_FEED], &cur), 0);
    CHECK(msn_feed_seek(cur, 1, &m) < 0); /* an MSN_SNAPREC_E* code, not a crash */
    mdb_cursor_close(cur);
    /* a malformed message is pruned as if it were old */
    size_t removed = 0;
    CHECK_EQ_INT(msn_feed_prune(txn, &s, 100, 0, &removed), 0);
    CHECK_EQ_INT(removed, 1);
    mdb_txn_abort(txn);
    msn_snap_close(&s);
}

int main(void)
{
    MSN_RUN(test_ring);
    MSN_RUN(test_malformed_value);
    return msn_test_done();
}
