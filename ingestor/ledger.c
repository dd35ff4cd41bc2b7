/* ledger.c: messages already in the database, per MQTT session; see ledger.h. */
#include "ingestor/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"

#define MIDS 65536

struct msn_ledger {
    sqlite3 *db;
    char *session;
    sqlite3_stmt *put;
    uint64_t digest[MIDS];
    uint8_t has[MIDS];
    size_t count;
};

msn_ledger_t *msn_ledger_new(sqlite3 *db, const char *session)
{
    msn_ledger_t *l = msn_xcalloc(1, sizeof(*l));
    l->db = db;
    l->session = msn_xstrdup(session);
    return l;
}

void msn_ledger_free(msn_ledger_t *l)
{
    if (l == NULL)
        return;
    sqlite3_finalize(l->put);
    free(l->session);
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

int msn_ledger_resend(const msn_ledger_t *l, int mid, uint64_t digest)
{
    return mid > 0 && mid < MIDS && l->has[mid] && l->digest[mid] == digest;
}

void msn_ledger_note(msn_ledger_t *l, int mid, uint64_t digest)
{
    if (mid <= 0 || mid >= MIDS)
        return;
    if (!l->has[mid])
        l->count++;
    l->has[mid] = 1;
    l->digest[mid] = digest;
}

int msn_ledger_put(msn_ledger_t *l, int mid, uint64_t digest, char *err, size_t errlen)
{
    if (mid <= 0 || mid >= MIDS)
        return 0;
    if (l->put == NULL &&
        sqlite3_prepare_v3(l->db,
                           "INSERT OR REPLACE INTO _meshsnap_mqtt_acks (session, mid, digest) VALUES (?1, ?2, ?3)",
                           -1, SQLITE_PREPARE_PERSISTENT, &l->put, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(l->put, 1, l->session, -1, SQLITE_STATIC);
    sqlite3_bind_int(l->put, 2, mid);
    sqlite3_bind_int64(l->put, 3, (int64_t)digest);
    int rc = sqlite3_step(l->put);
    sqlite3_reset(l->put);
    if (rc != SQLITE_DONE)
        goto fail;
    if (!l->has[mid])
        l->count++;
    l->has[mid] = 1;
    l->digest[mid] = digest;
    return 0;
fail:
    snprintf(err, errlen, "write _meshsnap_mqtt_acks: %s", sqlite3_errmsg(l->db));
    return -1;
}

int msn_ledger_reload(msn_ledger_t *l, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    memset(l->has, 0, sizeof(l->has));
    l->count = 0;
    if (sqlite3_prepare_v2(l->db, "SELECT mid, digest FROM _meshsnap_mqtt_acks WHERE session = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, l->session, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int mid = sqlite3_column_int(st, 0);
        if (mid <= 0 || mid >= MIDS)
            continue;
        l->count += !l->has[mid];
        l->has[mid] = 1;
        l->digest[mid] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    return 0;
fail:
    snprintf(err, errlen, "read _meshsnap_mqtt_acks: %s", sqlite3_errmsg(l->db));
    sqlite3_finalize(st);
    return -1;
}

int msn_ledger_reset(msn_ledger_t *l, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    memset(l->has, 0, sizeof(l->has));
    l->count = 0;
    int rc = sqlite3_prepare_v2(l->db, "DELETE FROM _meshsnap_mqtt_acks WHERE session = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, l->session, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "clear _meshsnap_mqtt_acks: %s", sqlite3_errmsg(l->db));
        return -1;
    }
    return 0;
}

size_t msn_ledger_count(const msn_ledger_t *l)
{
    return l->count;
}

int msn_ledger_ensure_table(sqlite3 *db, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS _meshsnap_mqtt_acks (session TEXT NOT NULL, mid INTEGER NOT NULL,"
                     " digest INTEGER NOT NULL, PRIMARY KEY (session, mid)) WITHOUT ROWID",
                     NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "create _meshsnap_mqtt_acks: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}
