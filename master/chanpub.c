/* chanpub.c: see chanpub.h. */
#include "chanpub.h"

#include <string.h>

#include "render_channels.h"


/* Puts (or deletes) the chl entry val under channel+region. */
static int chl_op(MDB_txn *txn, const msn_snap_t *snap, const char *ch, const char *region, const uint8_t val[16],
                  int del)
{
    msn_snap_key_t k;
    if (msn_snap_chl_key(ch, strlen(ch), region, strlen(region), &k) < 0)
        return 0;
    MDB_val key = msn_snap_key_val(&k), v = {16, (void *)val};
    int rc = del ? mdb_del(txn, snap->dbi[MSN_DBI_CHL], &key, &v)
                 : mdb_put(txn, snap->dbi[MSN_DBI_CHL], &key, &v, MDB_NODUPDATA);
    return rc == MDB_NOTFOUND || rc == MDB_KEYEXIST ? 0 : rc;
}

int msn_chanpub_regions(const msn_store_t *s, const msn_tx_t *t, char regions[][16])
{
    int nr = 0;
    for (uint32_t k = 0; k < t->n_obs; k++) {
        char code[16];
        if (!msn_observer_region(msn_store_observer(s, s->obs[t->obs[k]].observer_rowid), code, sizeof(code)))
            continue;
        int seen = 0;
        for (int j = 0; j < nr && !seen; j++)
            seen = strcmp(regions[j], code) == 0;
        if (!seen && nr < MSN_CHANPUB_MAX_REGIONS)
            strcpy(regions[nr++], code);
    }
    return nr;
}

int msn_chanpub_write_chl(MDB_txn *txn, const msn_snap_t *snap, const msn_store_t *s, msn_tx_t *t)
{
    if (!msn_is_channel_message(t))
        return 0;
    char regions[MSN_CHANPUB_MAX_REGIONS][16];
    int nr = msn_chanpub_regions(s, t, regions);
    int rc;
    uint8_t nv[16], ov[16];
    msn_snap_chl_val(t->latest, (uint64_t)t->id, nv);
    if (t->chl_written && t->chl_pub != t->latest) {
        msn_snap_chl_val(t->chl_pub, (uint64_t)t->id, ov);
        if ((rc = chl_op(txn, snap, t->channel_hash, "", ov, 1)))
            return rc;
        for (int j = 0; j < nr; j++)
            if ((rc = chl_op(txn, snap, t->channel_hash, regions[j], ov, 1)))
                return rc;
    }
    if ((rc = chl_op(txn, snap, t->channel_hash, "", nv, 0)))
        return rc;
    for (int j = 0; j < nr; j++)
        if ((rc = chl_op(txn, snap, t->channel_hash, regions[j], nv, 0)))
            return rc;
    t->chl_pub = t->latest;
    t->chl_written = 1;
    return 0;
}

int msn_chanpub_put_cmsg(MDB_txn *txn, const msn_snap_t *snap, const msn_tx_t *t, const void *rec, size_t len)
{
    msn_snap_key_t k;
    msn_snap_tx_key((uint64_t)t->id, &k);
    MDB_val key = msn_snap_key_val(&k);
    if (rec == NULL) {
        int rc = mdb_del(txn, snap->dbi[MSN_DBI_CMSG], &key, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    MDB_val v = {len, (void *)rec};
    return mdb_put(txn, snap->dbi[MSN_DBI_CMSG], &key, &v, 0);
}

int msn_chanpub_write(MDB_txn *txn, const msn_snap_t *snap, const msn_store_t *s, msn_tx_t *t, msn_buf_t *scratch,
                      msgpack_sbuffer *sb)
{
    if (!msn_is_channel_message(t))
        return 0;
    int rc = msn_chanpub_write_chl(txn, snap, s, t);
    if (rc)
        return rc;
    /* the message object */
    msn_buf_reset(scratch);
    if (msn_render_channel_message(scratch, s, t) < 0)
        return msn_chanpub_put_cmsg(txn, snap, t, NULL, 0);
    msgpack_sbuffer_clear(sb);
    msn_snaprec_cmsg_t rec = {{scratch->data, scratch->len}};
    msn_snaprec_cmsg_encode(sb, &rec);
    return msn_chanpub_put_cmsg(txn, snap, t, sb->data, sb->size);
}
