/*
 * anscache.c: the worker's answer cache (anscache.h).
 */
#include "anscache.h"

#include <stdlib.h>
#include <string.h>

#include "shm/hash.h"

void msn_anscache_init(msn_anscache_t *c, size_t max_bytes, int ttl_ms)
{
    memset(c, 0, sizeof(*c));
    c->max_bytes = max_bytes;
    c->ttl_ms = ttl_ms < 0 ? 0 : ttl_ms;
}

static void drop(msn_anscache_t *c, msn_anscache_entry_t *e)
{
    if (e->key == NULL)
        return;
    c->bytes -= e->key_len + e->len;
    free(e->key);
    free(e->body);
    memset(e, 0, sizeof(*e));
}

void msn_anscache_free(msn_anscache_t *c)
{
    for (size_t i = 0; i < MSN_ANSCACHE_SLOTS; i++)
        drop(c, &c->slot[i]);
    c->bytes = 0;
}

static msn_anscache_entry_t *slot_of(msn_anscache_t *c, const char *key, size_t klen)
{
    return &c->slot[msn_hash_bytes(key, klen) & (MSN_ANSCACHE_SLOTS - 1)];
}

const msn_anscache_entry_t *msn_anscache_get(msn_anscache_t *c, const char *key, size_t klen, uint64_t gen,
                                             int64_t run, int64_t now_ms)
{
    if (!msn_anscache_enabled(c) || klen > MSN_ANSCACHE_KEY_MAX)
        return NULL;
    msn_anscache_entry_t *e = slot_of(c, key, klen);
    if (e->key == NULL || e->key_len != klen || memcmp(e->key, key, klen) != 0)
        return NULL;
    if (e->gen != gen || e->run != run || now_ms - e->stored_ms >= c->ttl_ms || now_ms < e->stored_ms) {
        drop(c, e);
        return NULL;
    }
    return e;
}

/* Drops the oldest entries until need more bytes fit. */
static void make_room(msn_anscache_t *c, size_t need)
{
    while (c->bytes + need > c->max_bytes) {
        msn_anscache_entry_t *oldest = NULL;
        for (size_t i = 0; i < MSN_ANSCACHE_SLOTS; i++)
            if (c->slot[i].key && (oldest == NULL || c->slot[i].order < oldest->order))
                oldest = &c->slot[i];
        if (oldest == NULL)
            return;
        drop(c, oldest);
    }
}

int msn_anscache_put(msn_anscache_t *c, const char *key, size_t klen, uint64_t gen, int64_t run, int64_t now_ms,
                     int route, const char *content_type, const void *body, size_t len)
{
    if (!msn_anscache_enabled(c) || klen == 0 || klen > MSN_ANSCACHE_KEY_MAX || len + klen > c->max_bytes / 8)
        return 0;
    msn_anscache_entry_t *e = slot_of(c, key, klen);
    drop(c, e);
    make_room(c, klen + len);
    char *k = malloc(klen);
    char *b = malloc(len ? len : 1);
    if (k == NULL || b == NULL) {
        free(k);
        free(b);
        return 0;
    }
    memcpy(k, key, klen);
    if (len)
        memcpy(b, body, len);
    *e = (msn_anscache_entry_t){.key = k, .key_len = klen, .gen = gen, .run = run, .stored_ms = now_ms,
                                .order = c->next_order++, .route = route, .content_type = content_type, .body = b,
                                .len = len};
    c->bytes += klen + len;
    return 1;
}
