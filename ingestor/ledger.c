/* ledger.c: messages committed but possibly resent; see ledger.h. */
#include "ingestor/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"

#define MIDS 65536

/* Entry states. "queued": its PUBACK waits in this connection's queue. */
enum {
    E_NONE = 0,
    E_BATCH,        /* in the open batch, PUBACK queued */
    E_BATCH_LOST,   /* in the open batch, PUBACK lost with a connection: will be resent */
    E_DONE_QUEUED,  /* committed, PUBACK queued */
    E_DONE_AWAITED, /* committed, PUBACK not sent: the broker will resend it */
};

struct msn_ledger {
    uint64_t digest[MIDS];
    uint8_t state[MIDS];
    uint16_t *active; /* mids that may have an entry (compacted as entries go) */
    size_t n_active, cap;
    size_t count;
    int dirty;
};

msn_ledger_t *msn_ledger_new(void)
{
    return msn_xcalloc(1, sizeof(msn_ledger_t));
}

void msn_ledger_free(msn_ledger_t *l)
{
    if (l == NULL)
        return;
    free(l->active);
    free(l);
}

uint64_t msn_ledger_digest(const char *topic, const void *payload, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = topic; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0) * 1099511628211ull;
    const unsigned char *b = payload;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static void set(msn_ledger_t *l, int mid, uint64_t digest, uint8_t st)
{
    if (l->state[mid] == E_NONE) {
        if (l->n_active == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 1024;
            l->active = msn_xrealloc(l->active, l->cap * sizeof(uint16_t));
        }
        l->active[l->n_active++] = (uint16_t)mid;
        l->count++;
    }
    l->state[mid] = st;
    l->digest[mid] = digest;
    l->dirty = 1;
}

/* Applies map[state] to every entry, dropping the ones that become E_NONE. */
static void transition(msn_ledger_t *l, const uint8_t map[5])
{
    size_t k = 0;
    for (size_t i = 0; i < l->n_active; i++) {
        uint16_t mid = l->active[i];
        uint8_t old = l->state[mid];
        if (old == E_NONE)
            continue;
        uint8_t st = map[old];
        if (st != old)
            l->dirty = 1;
        l->state[mid] = st;
        if (st == E_NONE)
            l->count--;
        else
            l->active[k++] = mid;
    }
    l->n_active = k;
}

int msn_ledger_resend(msn_ledger_t *l, int mid, uint64_t digest)
{
    if (mid <= 0 || mid >= MIDS || l->state[mid] == E_NONE || l->digest[mid] != digest)
        return 0;
    uint8_t st = l->state[mid];
    /* the copy just received has its PUBACK queued now, sent after the next commit */
    if (st == E_DONE_AWAITED || st == E_DONE_QUEUED)
        set(l, mid, digest, E_DONE_QUEUED);
    else
        set(l, mid, digest, E_BATCH);
    return 1;
}

void msn_ledger_add(msn_ledger_t *l, int mid, uint64_t digest)
{
    if (mid > 0 && mid < MIDS)
        set(l, mid, digest, E_BATCH);
}

void msn_ledger_committed(msn_ledger_t *l)
{
    static const uint8_t map[5] = {E_NONE, E_DONE_QUEUED, E_DONE_AWAITED, E_DONE_QUEUED, E_DONE_AWAITED};
    transition(l, map);
}

void msn_ledger_rolled_back(msn_ledger_t *l)
{
    static const uint8_t map[5] = {E_NONE, E_NONE, E_NONE, E_DONE_QUEUED, E_DONE_AWAITED};
    transition(l, map);
}

void msn_ledger_acked(msn_ledger_t *l)
{
    static const uint8_t map[5] = {E_NONE, E_BATCH, E_BATCH_LOST, E_NONE, E_DONE_AWAITED};
    transition(l, map);
}

void msn_ledger_conn_lost(msn_ledger_t *l)
{
    static const uint8_t map[5] = {E_NONE, E_BATCH_LOST, E_BATCH_LOST, E_DONE_AWAITED, E_DONE_AWAITED};
    transition(l, map);
}

void msn_ledger_reset(msn_ledger_t *l)
{
    static const uint8_t map[5] = {E_NONE, E_NONE, E_NONE, E_NONE, E_NONE};
    transition(l, map);
    l->dirty = 1;
}

size_t msn_ledger_count(const msn_ledger_t *l)
{
    return l->count;
}

int msn_ledger_ensure_table(sqlite3 *db, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS _meshsnap_mqtt_inflight (source TEXT PRIMARY KEY,"
                     " client_id TEXT NOT NULL, entries BLOB NOT NULL)",
                     NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "create _meshsnap_mqtt_inflight: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int msn_ledger_load(msn_ledger_t *l, sqlite3 *db, const char *source, const char *client_id, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT client_id, entries FROM _meshsnap_mqtt_inflight WHERE source = ?1", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "read _meshsnap_mqtt_inflight: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *cid = (const char *)sqlite3_column_text(st, 0);
        const unsigned char *b = sqlite3_column_blob(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        if (cid != NULL && strcmp(cid, client_id) == 0 && b != NULL) {
            for (int i = 0; i + 10 <= n; i += 10) {
                int mid = b[i] | b[i + 1] << 8;
                uint64_t d = 0;
                for (int k = 7; k >= 0; k--)
                    d = d << 8 | b[i + 2 + k];
                if (mid > 0)
                    set(l, mid, d, E_DONE_AWAITED);
            }
        }
    }
    sqlite3_finalize(st);
    l->dirty = 0;
    return 0;
}

int msn_ledger_store(msn_ledger_t *l, sqlite3 *db, const char *source, const char *client_id, char *err,
                     size_t errlen)
{
    if (!l->dirty)
        return 0;
    unsigned char *b = msn_xmalloc(l->count * 10 + 1);
    size_t n = 0;
    for (size_t i = 0; i < l->n_active; i++) {
        uint16_t mid = l->active[i];
        if (l->state[mid] == E_NONE)
            continue;
        b[n++] = (unsigned char)(mid & 0xFF);
        b[n++] = (unsigned char)(mid >> 8);
        uint64_t d = l->digest[mid];
        for (int k = 0; k < 8; k++)
            b[n++] = (unsigned char)(d >> (8 * k));
    }
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO _meshsnap_mqtt_inflight (source, client_id, entries)"
                           " VALUES (?1, ?2, ?3)",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, client_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, b, (int)n, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto out;
    l->dirty = 0;
    rc = 0;
out:
    if (rc < 0)
        snprintf(err, errlen, "write _meshsnap_mqtt_inflight: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    free(b);
    return rc;
}
