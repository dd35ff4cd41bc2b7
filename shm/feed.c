/* feed.c: see feed.h. */
#include "feed.h"

#include <msgpack.h>
#include <string.h>

#include "mpk.h"
#include "snaprec.h"

static const uint8_t RUN_KEY[8] = {0};

static MDB_val key_of(uint8_t buf[8], uint64_t seq)
{
    msn_be64_put(buf, seq);
    MDB_val k = {8, buf};
    return k;
}

int msn_feed_set_run(MDB_txn *txn, const msn_snap_t *s, uint64_t run_id)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, run_id);
    MDB_val k = {8, (void *)RUN_KEY}, v = {sb.size, sb.data};
    int rc = mdb_put(txn, s->dbi[MSN_DBI_FEED], &k, &v, 0);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int msn_feed_get_run(MDB_txn *txn, const msn_snap_t *s, uint64_t *run_id)
{
    MDB_val k = {8, (void *)RUN_KEY}, v;
    int rc = mdb_get(txn, s->dbi[MSN_DBI_FEED], &k, &v);
    if (rc != 0)
        return rc;
    msn_mpk_reader_t r;
    uint32_t n;
    int64_t id;
    msn_mpk_reader_init(&r, v.mv_data, v.mv_size);
    if (msn_mpk_read_array(&r, &n) < 0)
        return MSN_SNAPREC_ESHAPE;
    if (n != 1)
        return MSN_SNAPREC_EFIELDS;
    if (msn_mpk_read_int(&r, &id) < 0 || id < 0)
        return MSN_SNAPREC_ETYPE;
    *run_id = (uint64_t)id;
    return 0;
}

int msn_feed_put(MDB_txn *txn, const msn_snap_t *s, uint64_t seq, int64_t at_ms, const void *body, size_t len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint8_t kb[8];
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, at_ms);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, body, len);
    MDB_val k = key_of(kb, seq), v = {sb.size, sb.data};
    int rc = mdb_put(txn, s->dbi[MSN_DBI_FEED], &k, &v, MDB_APPEND);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int decode(const MDB_val *k, const MDB_val *v, msn_feed_msg_t *m)
{
    if (k->mv_size != 8)
        return MSN_SNAPREC_ESHAPE;
    m->seq = msn_be64_get(k->mv_data);
    msn_mpk_reader_t r;
    uint32_t n, len;
    msn_mpk_reader_init(&r, v->mv_data, v->mv_size);
    if (msn_mpk_read_array(&r, &n) < 0)
        return MSN_SNAPREC_ESHAPE;
    if (n != 2)
        return MSN_SNAPREC_EFIELDS;
    if (msn_mpk_read_int(&r, &m->at_ms) < 0 || msn_mpk_read_bin(&r, &m->body, &len) < 0)
        return MSN_SNAPREC_ETYPE;
    m->len = len;
    return 0;
}

/* Skips the run record when the cursor stands on it. */
static int skip_run(MDB_cursor *cur, int rc, MDB_val *k, MDB_val *v)
{
    if (rc == 0 && k->mv_size == 8 && memcmp(k->mv_data, RUN_KEY, 8) == 0)
        rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    return rc;
}

int msn_feed_seek(MDB_cursor *cur, uint64_t from_seq, msn_feed_msg_t *m)
{
    uint8_t kb[8];
    MDB_val k = key_of(kb, from_seq < 1 ? 1 : from_seq), v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = skip_run(cur, rc, &k, &v);
    return rc != 0 ? rc : decode(&k, &v, m);
}

int msn_feed_next(MDB_cursor *cur, msn_feed_msg_t *m)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    rc = skip_run(cur, rc, &k, &v);
    return rc != 0 ? rc : decode(&k, &v, m);
}

int msn_feed_last(MDB_txn *txn, const msn_snap_t *s, uint64_t *seq)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->dbi[MSN_DBI_FEED], &cur);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && (k.mv_size != 8 || memcmp(k.mv_data, RUN_KEY, 8) == 0))
        rc = MDB_NOTFOUND; /* only the run record */
    if (rc == 0)
        *seq = msn_be64_get(k.mv_data);
    mdb_cursor_close(cur);
    return rc;
}

int msn_feed_prune(MDB_txn *txn, const msn_snap_t *s, size_t keep, int64_t min_at_ms, size_t *removed)
{
    MDB_stat st;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n_removed = 0;
    int rc = mdb_stat(txn, s->dbi[MSN_DBI_FEED], &st);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->dbi[MSN_DBI_FEED], &cur)) != 0)
        return rc;
    MDB_val rk = {8, (void *)RUN_KEY};
    size_t msgs = st.ms_entries - (mdb_get(txn, s->dbi[MSN_DBI_FEED], &rk, &v) == 0 ? 1 : 0);
    for (;;) {
        /* the oldest message: the first entry, or the one after the run record */
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc == 0 && k.mv_size == 8 && memcmp(k.mv_data, RUN_KEY, 8) == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        if (rc != 0)
            break;
        msn_feed_msg_t m;
        int old = decode(&k, &v, &m) != 0 || m.at_ms < min_at_ms;
        if (msgs <= keep && !old)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        msgs--;
        n_removed++;
    }
    mdb_cursor_close(cur);
    if (removed)
        *removed = n_removed;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int msn_feed_copy(MDB_txn *from, const msn_snap_t *fs, MDB_txn *to, const msn_snap_t *ts)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(from, fs->dbi[MSN_DBI_FEED], &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = mdb_put(to, ts->dbi[MSN_DBI_FEED], &k, &v, MDB_APPEND)) != 0)
            break;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
