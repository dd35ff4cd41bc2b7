/* sqlw.c: the short-transaction writer discipline; see sqlw.h. */
#include "sqlw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

void msn_sqlw_defaults(msn_sqlw_opts_t *o)
{
    o->batch_max = 2000;
    o->batch_ms = 50;
    o->busy_retries = 24;
}

void msn_sqlw_init(msn_sqlw_t *w, sqlite3 *db, const msn_sqlw_opts_t *o)
{
    memset(w, 0, sizeof(*w));
    w->db = db;
    w->o = *o;
    if (w->o.batch_max < 1)
        w->o.batch_max = 1;
    if (w->o.batch_ms < 1)
        w->o.batch_ms = 1;
    if (w->o.busy_retries < 1)
        w->o.busy_retries = 1;
}

/* Runs sql (BEGIN IMMEDIATE or COMMIT), retrying SQLITE_BUSY; each attempt waits the busy
 * timeout inside SQLite. */
static int exec_retry(msn_sqlw_t *w, const char *sql, char *err, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_exec(w->db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xFF) != SQLITE_BUSY || attempt + 1 >= w->o.busy_retries) {
            snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(w->db));
            return -1;
        }
        w->busy_waits++;
        if (attempt == 0)
            msn_warn("%s: the database is locked by another writer; waiting", sql);
    }
}

int msn_sqlw_begin(msn_sqlw_t *w, char *err, size_t errlen)
{
    if (w->in_txn)
        return 0;
    if (exec_retry(w, "BEGIN IMMEDIATE", err, errlen) < 0)
        return -1;
    w->in_txn = 1;
    w->items = 0;
    w->began_us = msn_mono_us();
    return 0;
}

void msn_sqlw_add(msn_sqlw_t *w, int n)
{
    w->items += n;
}

int msn_sqlw_ms_left(const msn_sqlw_t *w)
{
    if (!w->in_txn)
        return 0;
    int64_t left = (int64_t)w->o.batch_ms * 1000 - (msn_mono_us() - w->began_us);
    return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

int msn_sqlw_due(const msn_sqlw_t *w)
{
    if (!w->in_txn)
        return 0;
    return w->items >= w->o.batch_max || msn_sqlw_ms_left(w) == 0;
}

static int bucket_of(int64_t us)
{
    if (us < 1)
        return 0;
    int b = (int)floor(3.0 * log2((double)us));
    return b < 0 ? 0 : b >= MSN_SQLW_BUCKETS ? MSN_SQLW_BUCKETS - 1 : b;
}

int msn_sqlw_commit(msn_sqlw_t *w, char *err, size_t errlen)
{
    if (!w->in_txn)
        return 0;
    int64_t t0 = msn_mono_us();
    if (exec_retry(w, "COMMIT", err, errlen) < 0) {
        msn_sqlw_rollback(w);
        return -1;
    }
    int64_t t1 = msn_mono_us();
    w->in_txn = 0;
    w->commits++;
    w->items_committed += w->items;
    w->items = 0;
    w->last_commit_us = t1 - t0;
    w->last_hold_us = t1 - w->began_us;
    w->hold_hist[bucket_of(w->last_hold_us)]++;
    return 0;
}

void msn_sqlw_rollback(msn_sqlw_t *w)
{
    if (!sqlite3_get_autocommit(w->db))
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
    if (w->in_txn)
        w->rollbacks++;
    w->in_txn = 0;
    w->items = 0;
}

static int wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    if (strcmp(name, "main") == 0)
        ((msn_sqlw_t *)ud)->wal_pages = pages;
    return SQLITE_OK;
}

void msn_sqlw_own_checkpoints(msn_sqlw_t *w)
{
    sqlite3_wal_hook(w->db, wal_hook, w); /* replaces the automatic checkpoint's hook */
    w->own_checkpoints = 1;
}

int msn_sqlw_checkpoint(msn_sqlw_t *w)
{
    if (!w->own_checkpoints || w->in_txn || w->wal_pages < MSN_SQLW_CHECKPOINT_PAGES)
        return 0;
    int64_t t0 = msn_mono_us();
    int rc = sqlite3_wal_checkpoint_v2(w->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    w->wal_pages = 0; /* the next commit reports what is left */
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        msn_warn("WAL checkpoint: %s", sqlite3_errmsg(w->db));
        return -1;
    }
    w->checkpoints++;
    w->last_checkpoint_us = msn_mono_us() - t0;
    return 1;
}

void msn_sqlw_release(msn_sqlw_t *w)
{
    if (!w->own_checkpoints)
        return;
    sqlite3_wal_autocheckpoint(w->db, MSN_SQLW_CHECKPOINT_PAGES);
    w->own_checkpoints = 0;
}

int64_t msn_sqlw_quantile_us(const msn_sqlw_t *w, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < MSN_SQLW_BUCKETS; i++)
        total += w->hold_hist[i];
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;
    if (want < 1)
        want = 1;
    for (int i = 0; i < MSN_SQLW_BUCKETS; i++) {
        seen += w->hold_hist[i];
        if (seen >= want)
            return (int64_t)ceil(exp2((double)(i + 1) / 3.0));
    }
    return (int64_t)ceil(exp2((double)MSN_SQLW_BUCKETS / 3.0));
}
