/* famdocs.c: see famdocs.h. */
#include "famdocs.h"

#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"

static uint64_t fnv1a(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

void msn_famdocs_init(msn_famdocs_t *d, const char *family)
{
    memset(d, 0, sizeof(*d));
    d->family = family;
}

void msn_famdocs_free(msn_famdocs_t *d)
{
    for (uint32_t i = 0; i < d->n; i++)
        free(d->ents[i].name);
    free(d->ents);
    free(d->ht);
    memset(d, 0, sizeof(*d));
}

static void rehash(msn_famdocs_t *d, uint32_t cap)
{
    free(d->ht);
    d->ht = msn_xcalloc(cap, sizeof(uint32_t));
    d->ht_cap = cap;
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t h = (uint32_t)fnv1a(d->ents[i].name, strlen(d->ents[i].name)) & (cap - 1);
        while (d->ht[h])
            h = (h + 1) & (cap - 1);
        d->ht[h] = i + 1;
    }
}

void msn_famdocs_reset(msn_famdocs_t *d)
{
    const char *family = d->family;
    msn_famdocs_free(d);
    msn_famdocs_init(d, family);
}

void msn_famdocs_begin(msn_famdocs_t *d)
{
    d->round++;
    d->written = d->deleted = 0;
}

/* The entry named name, added (hash 0, never written) when absent. */
static msn_famdoc_t *entry(msn_famdocs_t *d, const char *name)
{
    if ((d->n + 1) * 2 > d->ht_cap)
        rehash(d, d->ht_cap ? d->ht_cap * 2 : 64);
    uint32_t h = (uint32_t)fnv1a(name, strlen(name)) & (d->ht_cap - 1);
    while (d->ht[h]) {
        msn_famdoc_t *e = &d->ents[d->ht[h] - 1];
        if (strcmp(e->name, name) == 0)
            return e;
        h = (h + 1) & (d->ht_cap - 1);
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->ents = msn_xrealloc(d->ents, d->cap * sizeof(*d->ents));
    }
    msn_famdoc_t *e = &d->ents[d->n];
    e->name = msn_xstrdup(name);
    e->hash = 0;
    e->round = 0;
    d->ht[h] = ++d->n;
    return e;
}

int msn_famdocs_put(msn_famdocs_t *d, MDB_txn *txn, const msn_snap_t *snap, const char *id, size_t len,
                    const void *body, size_t blen, uint64_t gen, int64_t now_ms, int64_t expires_ms, int *wrote)
{
    char name[600];
    if (msn_snap_famdoc_name(d->family, id, len, name, sizeof(name)) < 0)
        return 0;
    msn_famdoc_t *e = entry(d, name);
    uint64_t h = fnv1a(body, blen) | 1; /* never 0, the "not written" mark */
    e->round = d->round;
    if (e->hash == h)
        return 0;
    int rc = msn_snap_doc_put_full(txn, snap, name, body, blen, NULL, 0, 1, gen, now_ms, expires_ms);
    if (rc)
        return rc;
    e->hash = h;
    d->written++;
    *wrote = 1;
    return 0;
}

int msn_famdocs_end(msn_famdocs_t *d, MDB_txn *txn, const msn_snap_t *snap, int *wrote)
{
    uint32_t kept = 0;
    int rc = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        msn_famdoc_t *e = &d->ents[i];
        if (e->round == d->round) {
            d->ents[kept++] = *e;
            continue;
        }
        if (rc == 0 && (rc = msn_snap_doc_del(txn, snap, e->name)) == 0) {
            d->deleted++;
            *wrote = 1;
        }
        free(e->name);
    }
    if (kept != d->n) {
        d->n = kept;
        rehash(d, d->ht_cap);
    }
    return rc;
}
