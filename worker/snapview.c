/* snapview.c: see snapview.h. */
#include "snapview.h"

#include <stdio.h>
#include <string.h>

#include "shm/log.h"

void msn_snapview_init(msn_snapview_t *v, const char *state_dir, msn_status_t *st)
{
    memset(v, 0, sizeof(*v));
    v->state_dir = state_dir;
    v->st = st;
}

static void drop_env(msn_snapview_t *v)
{
    if (v->txn) {
        if (v->txn_active)
            mdb_txn_reset(v->txn);
        mdb_txn_abort(v->txn);
        v->txn = NULL;
    }
    v->txn_active = 0;
    msn_snap_close(&v->snap);
}

static int reopen(msn_snapview_t *v)
{
    char err[512];
    drop_env(v);
    uint64_t seq = v->st ? atomic_load(&v->st->env_seq) : 0;
    int rc = msn_snap_open_current_ro(v->state_dir, &v->snap, err, sizeof(err));
    if (rc == 1)
        v->refused[0] = '\0';
    if (rc < 0 || rc == MSN_SNAP_OTHER_FORMAT) {
        /* once per reason: the view retries every 200 ms until the master replaces it */
        if (strcmp(err, v->refused) != 0)
            msn_warn("not serving the snapshot: %s", err);
        snprintf(v->refused, sizeof(v->refused), "%s", err);
    }
    if (rc != 0)
        return 1;
    v->refused[0] = '\0';
    v->snap.damage = &v->damage;
    if (mdb_txn_begin(v->snap.env, NULL, MDB_RDONLY, &v->txn) != 0) {
        msn_snap_close(&v->snap);
        return 1;
    }
    mdb_txn_reset(v->txn);
    v->env_seq = seq;
    return 0;
}

int msn_snapview_begin(msn_snapview_t *v)
{
    uint64_t seq = v->st ? atomic_load(&v->st->env_seq) : 0;
    if (v->damaged) {
        if (seq == v->damaged_seq)
            return 1; /* v->refused says why */
        v->damaged = 0;
    }
    if (v->snap.env == NULL || seq != v->env_seq) {
        int64_t now = msn_now_ms();
        /* without a snapshot, look again at most every 200 ms (or at once when env_seq moved) */
        if (v->snap.env == NULL && seq == v->env_seq && now - v->last_try_ms < 200)
            return 1;
        v->last_try_ms = now;
        if (reopen(v) != 0) {
            v->env_seq = seq;
            return 1;
        }
    }
    int rc = mdb_txn_renew(v->txn);
    if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(v->snap.env, 0);
        rc = mdb_txn_renew(v->txn);
    }
    if (rc != 0) {
        msn_warn("LMDB read transaction failed: %s", mdb_strerror(rc));
        drop_env(v);
        return 1;
    }
    v->txn_active = 1;
    return 0;
}

void msn_snapview_damaged(msn_snapview_t *v)
{
    uint64_t seq = v->env_seq;
    if (!v->damaged)
        msn_error("the snapshot %s is damaged (a value does not match its checksum): not serving it; the master "
                  "sets it aside and publishes another",
                  v->snap.dir);
    snprintf(v->refused, sizeof(v->refused), "the snapshot %.400s is damaged; a new one is being published",
             v->snap.dir);
    drop_env(v);
    v->damaged = 1;
    v->damaged_seq = seq;
    if (v->st != NULL) {
        atomic_store(&v->st->damage_env_seq, seq);
        atomic_fetch_add(&v->st->damage_reports, 1);
    }
}

void msn_snapview_end(msn_snapview_t *v)
{
    if (v->txn_active) {
        mdb_txn_reset(v->txn);
        v->txn_active = 0;
    }
}

void msn_snapview_close(msn_snapview_t *v)
{
    drop_env(v);
}
