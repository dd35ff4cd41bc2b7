/* an_map.c: the analytics' string -> index map, with optional values (see an_int.h). */
#include "an_int.h"

#include <string.h>

static uint64_t hash_bytes(const void *key, size_t n)
{
    const unsigned char *p = key;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= w * 0x87c37b91114253d5ull;
        h = (h << 31 | h >> 33) * 0x4cf5ad432745937full;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h ^= w * 0x87c37b91114253d5ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* A slot holds entry + 1 in its low 32 bits (0 = empty) and the key hash's high 32 bits
 * above, so most mismatches are rejected without touching the entry arrays. */
#define SLOT(e, h) ((uint64_t)((e) + 1) | ((h) & 0xFFFFFFFF00000000ull))

void msn_an__map_init(an_map_t *m, msn_arena_t *a, size_t vsize)
{
    memset(m, 0, sizeof(*m));
    m->arena = a;
    m->vsize = vsize;
    m->mask = 15;
    m->slots = msn_arena_calloc(a, 16, sizeof(*m->slots));
}

int64_t msn_an__map_find(const an_map_t *m, const void *key, size_t n)
{
    uint64_t h = hash_bytes(key, n), tag = h & 0xFFFFFFFF00000000ull;
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        uint64_t sl = m->slots[i];
        if (sl == 0)
            return -1;
        if ((sl & 0xFFFFFFFF00000000ull) != tag)
            continue;
        uint32_t e = (uint32_t)sl - 1;
        if (m->klen[e] == n && memcmp(m->keys[e], key, n) == 0)
            return e;
    }
}

static void map_grow(an_map_t *m)
{
    uint32_t nslots = (m->mask + 1) * 2;
    uint64_t *slots = msn_arena_calloc(m->arena, nslots, sizeof(*slots));
    for (uint32_t e = 0; e < m->n; e++) {
        uint32_t i = (uint32_t)m->hash[e] & (nslots - 1);
        while (slots[i] != 0)
            i = (i + 1) & (nslots - 1);
        slots[i] = SLOT(e, m->hash[e]);
    }
    msn_arena_release(m->arena, m->slots, (size_t)(m->mask + 1) * sizeof(*m->slots));
    m->slots = slots;
    m->mask = nslots - 1;
}

static void entries_grow(an_map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    msn_arena_t *a = m->arena;
    m->keys = msn_arena_realloc(a, m->keys, m->cap * sizeof(*m->keys), cap * sizeof(*m->keys));
    m->klen = msn_arena_realloc(a, m->klen, m->cap * sizeof(*m->klen), cap * sizeof(*m->klen));
    m->hash = msn_arena_realloc(a, m->hash, m->cap * sizeof(*m->hash), cap * sizeof(*m->hash));
    if (m->vsize)
        m->vals = msn_arena_realloc(a, m->vals, m->cap * m->vsize, cap * m->vsize);
    m->cap = cap;
}

uint32_t msn_an__map_intern(an_map_t *m, const void *key, size_t n, int *is_new)
{
    uint64_t h = hash_bytes(key, n), tag = h & 0xFFFFFFFF00000000ull;
    uint32_t i = (uint32_t)h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        uint64_t sl = m->slots[i];
        if (sl == 0)
            break;
        if ((sl & 0xFFFFFFFF00000000ull) != tag)
            continue;
        uint32_t e = (uint32_t)sl - 1;
        if (m->klen[e] == n && memcmp(m->keys[e], key, n) == 0) {
            if (is_new)
                *is_new = 0;
            return e;
        }
    }
    if (m->n == m->cap)
        entries_grow(m);
    uint32_t e = m->n++;
    m->keys[e] = msn_arena_strndup(m->arena, key, n);
    m->klen[e] = (uint32_t)n;
    m->hash[e] = h;
    if (m->vsize)
        memset(m->vals + (size_t)e * m->vsize, 0, m->vsize);
    m->slots[i] = SLOT(e, h);
    if ((uint64_t)m->n * 4 > (uint64_t)(m->mask + 1) * 3)
        map_grow(m);
    if (is_new)
        *is_new = 1;
    return e;
}

uint32_t msn_an__map_count(an_map_t *m, const void *key, size_t n)
{
    uint32_t e = msn_an__map_intern(m, key, n, NULL);
    (*(int64_t *)msn_an__map_val(m, e))++;
    return e;
}

int msn_an__bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

typedef struct {
    const char *k;
    uint32_t n, idx;
} mkey_t;

static int mkey_cmp(const void *a, const void *b)
{
    const mkey_t *x = a, *y = b;
    int c = msn_an__bytes_cmp(x->k, x->n, y->k, y->n);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

uint32_t *msn_an__map_sorted(const an_map_t *m)
{
    mkey_t *k = AN_ARRAY(m->arena, mkey_t, m->n);
    for (uint32_t e = 0; e < m->n; e++)
        k[e] = (mkey_t){m->keys[e], m->klen[e], e};
    msn_an__qsort(k, m->n, sizeof(*k), mkey_cmp);
    uint32_t *out = AN_ARRAY(m->arena, uint32_t, m->n);
    for (uint32_t e = 0; e < m->n; e++)
        out[e] = k[e].idx;
    msn_arena_release(m->arena, k, (m->n ? m->n : 1) * sizeof(*k));
    return out;
}
