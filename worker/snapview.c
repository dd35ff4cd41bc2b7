/* snapview.c: see snapview.h. */
#include "snapview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envclose.h"
#include "shm/log.h"

void msn_snapview_init(msn_snapview_t *v, const char *state_dir, msn_status_t *st)
{
    memset(v, 0, sizeof(*v));
    v->state_dir = state_dir;
    v->st = st;
}

/* 1 when a hold still uses env. */
static int env_held(const msn_snapview_t *v, const MDB_env *env)
{
    for (const msn_snaphold_t *h = v->holds; h != NULL; h = h->next)
        if (h->env == env)
            return 1;
    return 0;
}

/* The last component of a path. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Hands env (of directory dir) to the closing thread, and remembers its directory. */
static void hand_over(msn_snapview_t *v, MDB_env *env, const char *dir)
{
    msn_envclose_later(env);
    snprintf(v->left, sizeof(v->left), "%s", base_name(dir));
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
    if (v->snap.env != NULL) {
        if (env_held(v, v->snap.env))
            v->parked = v->snap; /* its last hold closes it (msn_snapview_release) */
        else
            hand_over(v, v->snap.env, v->snap.dir);
    }
    v->snap.env = NULL;
}

/* The name of the directory `current` points at into name ("" when there is none). */
static void current_name(const msn_snapview_t *v, char name[256])
{
    char err[256];
    if (msn_snap_current_name(v->state_dir, name, 256, err, sizeof(err)) != 0)
        name[0] = '\0';
}

/* 1 when `current` still names the directory of the view's environment. */
static int same_dir(const msn_snapview_t *v)
{
    char cur[256];
    if (v->snap.env == NULL)
        return 0;
    current_name(v, cur);
    return strcmp(cur, base_name(v->snap.dir)) == 0;
}

static int reopen(msn_snapview_t *v)
{
    char err[512];
    drop_env(v);
    uint64_t seq = v->st ? atomic_load(&v->st->env_seq) : 0;
    /* LMDB forbids opening one environment twice in a process: closing either handle would
       drop the other's locks and reader slots. So when `current` names the directory left
       a moment ago (a failed read transaction, a report of damage, not a new environment),
       a handle a hold keeps open is served again, and one being closed is waited for. */
    char cur[256];
    current_name(v, cur);
    int rc;
    if (v->parked.env != NULL && cur[0] != '\0' && strcmp(cur, base_name(v->parked.dir)) == 0) {
        v->snap = v->parked;
        v->parked.env = NULL;
        rc = 0;
    } else {
        if (cur[0] != '\0' && strcmp(cur, v->left) == 0)
            msn_envclose_drain();
        rc = msn_snap_open_current_ro(v->state_dir, &v->snap, err, sizeof(err));
    }
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
        v->txn = NULL;
        drop_env(v);
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
    if (v->snap.env != NULL && seq != v->env_seq && v->n_holds > 0 && env_held(v, v->snap.env) && same_dir(v))
        v->env_seq = seq; /* the same directory: it stays open (LMDB: never open one twice in a process) */
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
        if (env_held(v, v->snap.env)) {
            /* remapping would move the pages held transactions point into: not before they end */
            msn_debug("the snapshot's map grew; it is remapped once the held transactions end");
            return 1;
        }
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

msn_snaphold_t *msn_snapview_hold(msn_snapview_t *v)
{
    if (!v->txn_active || v->txn == NULL || v->snap.env == NULL)
        return NULL;
    msn_snaphold_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    MDB_txn *fresh;
    int rc = mdb_txn_begin(v->snap.env, NULL, MDB_RDONLY, &fresh);
    if (rc != 0) {
        msn_debug("no read transaction to spare (%s): the document is copied", mdb_strerror(rc));
        free(h);
        return NULL;
    }
    mdb_txn_reset(fresh);
    h->txn = v->txn;
    h->env = v->snap.env;
    v->txn = fresh;
    v->txn_active = 0;
    h->next = v->holds;
    if (v->holds != NULL)
        v->holds->prev = h;
    v->holds = h;
    v->n_holds++;
    return h;
}

void msn_snapview_release(msn_snapview_t *v, msn_snaphold_t *h)
{
    if (h == NULL)
        return;
    mdb_txn_abort(h->txn);
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        v->holds = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    v->n_holds--;
    if (h->env != v->snap.env && !env_held(v, h->env)) { /* the view moved on: this was the last hold on it */
        if (h->env == v->parked.env) {
            hand_over(v, h->env, v->parked.dir);
            v->parked.env = NULL;
        } else {
            msn_envclose_later(h->env);
        }
    }
    free(h);
}

void msn_snapview_close(msn_snapview_t *v)
{
    while (v->holds != NULL)
        msn_snapview_release(v, v->holds);
    drop_env(v);
    msn_envclose_drain();
}
