/* snapverify.c: see snapverify.h. */
#include "snapverify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "snapshot.h"

static const char *const names[MSN_DBI_COUNT] = {"meta", "doc", "tx",  "obs", "oid", "hash", "fx",  "ft",
                                                 "node", "orow", "fl", "chl", "cmsg", "om",  "feed"};

/* Checks one entry of database dbi. Returns 0, or a MSN_SNAPREC_E* code. */
static int check_entry(int dbi, const MDB_val *k, const MDB_val *v, void *scratch)
{
    uint64_t id, a, b;
    int64_t ms;
    switch (dbi) {
    case MSN_DBI_META: {
        msn_snap_meta_t m;
        int rc = msn_snaprec_meta_decode(v->mv_data, v->mv_size, &m);
        return rc != 0 ? rc : (m.format == MSN_SNAP_FORMAT ? 0 : MSN_SNAPREC_EFIELDS);
    }
    case MSN_DBI_DOC: {
        msn_doc_t d;
        return msn_snaprec_doc_decode(v->mv_data, v->mv_size, &d);
    }
    case MSN_DBI_TX: {
        msn_snaprec_tx_t t;
        return k->mv_size != 8 ? MSN_SNAPREC_ESHAPE : msn_snaprec_tx_decode(v->mv_data, v->mv_size, &t);
    }
    case MSN_DBI_OBS: {
        msn_snaprec_obs_t *o = scratch;
        if (msn_snap_obs_key_parse(k->mv_data, k->mv_size, &a, &b) < 0)
            return MSN_SNAPREC_ESHAPE;
        int rc = msn_snaprec_obs_decode(v->mv_data, v->mv_size, o);
        if (rc == 0 && ((uint64_t)o->tx_id != a || (uint64_t)o->id != b))
            rc = MSN_SNAPREC_ECHECKSUM; /* the key does not name the record under it */
        return rc;
    }
    case MSN_DBI_OID:
    case MSN_DBI_HASH:
        return msn_snaprec_id_decode(v->mv_data, v->mv_size, k->mv_data, k->mv_size, &id);
    case MSN_DBI_FX: {
        const msn_fx_rec_t *rec = msn_snaprec_fx_of(v->mv_data, v->mv_size);
        return rec == NULL ? MSN_SNAPREC_ESHAPE : msn_snaprec_fx_check(rec, k->mv_data, k->mv_size);
    }
    case MSN_DBI_FT:
    case MSN_DBI_FL:
        if (msn_snap_time_key_parse(k->mv_data, k->mv_size, &ms, &id) < 0)
            return MSN_SNAPREC_ESHAPE;
        return msn_snaprec_keysum_check(v->mv_data, v->mv_size, k->mv_data, k->mv_size);
    case MSN_DBI_NODE: {
        msn_snaprec_node_t n;
        return msn_snaprec_node_decode(v->mv_data, v->mv_size, &n);
    }
    case MSN_DBI_CMSG: {
        msn_snaprec_cmsg_t m;
        return k->mv_size != 8 ? MSN_SNAPREC_ESHAPE : msn_snaprec_cmsg_decode(v->mv_data, v->mv_size, &m);
    }
    case MSN_DBI_OM: {
        msn_snaprec_om_t m;
        return msn_snaprec_om_decode(v->mv_data, v->mv_size, &m);
    }
    case MSN_DBI_OROW: {
        msn_snaprec_orow_t o;
        return k->mv_size != 8 ? MSN_SNAPREC_ESHAPE : msn_snaprec_orow_decode(v->mv_data, v->mv_size, &o);
    }
    }
    return 0;
}

static void key_text(const MDB_val *k, char *out, size_t n)
{
    const unsigned char *b = k->mv_data;
    size_t o = 0;
    for (size_t i = 0; i < k->mv_size && o + 3 < n && i < 40; i++)
        o += (size_t)snprintf(out + o, n - o, "%02x", b[i]);
    out[o] = '\0';
}

int msn_snap_verify_dir(const char *dir, int64_t *entries, char *err, size_t errlen)
{
    msn_snap_t s;
    int64_t seen = 0;
    if (entries)
        *entries = 0;
    if (msn_snap_open_dir_ro(dir, &s, err, errlen) < 0)
        return -1;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), result = 0;
    if (rc != 0) {
        snprintf(err, errlen, "snapshot %s: %s", dir, mdb_strerror(rc));
        msn_snap_close(&s);
        return 1;
    }
    msn_snaprec_obs_t *obs = msn_xmalloc(sizeof(*obs));
    for (int dbi = 0; dbi < MSN_DBI_COUNT && result == 0; dbi++) {
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(txn, s.dbi[dbi], &c)) != 0) {
            snprintf(err, errlen, "snapshot %s, database %s: %s", dir, names[dbi], mdb_strerror(rc));
            result = 1;
            break;
        }
        MDB_val k, v;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            seen++;
            int e = check_entry(dbi, &k, &v, obs);
            if (e != 0) {
                char kt[96];
                key_text(&k, kt, sizeof(kt));
                snprintf(err, errlen, "snapshot %s, database %s, key %s: %s", dir, names[dbi], kt,
                         msn_snaprec_strerror(e));
                result = 1;
                break;
            }
        }
        if (result == 0 && rc != MDB_NOTFOUND) {
            snprintf(err, errlen, "snapshot %s, database %s: %s", dir, names[dbi], mdb_strerror(rc));
            result = 1;
        }
        mdb_cursor_close(c);
    }
    free(obs);
    mdb_txn_abort(txn);
    msn_snap_close(&s);
    if (entries)
        *entries = seen;
    return result;
}
