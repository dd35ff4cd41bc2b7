/* an_map.c: the analytics' string -> index map, with optional values (see an_int.h). */
#include "an_int.h"

#include <string.h>

#include "shm/hash.h"

/* The index's slot arrays live in the job's arena. */
static void *arena_zalloc(void *ctx, size_t bytes)
{
    return msn_arena_calloc(ctx, 1, bytes);
}

static void arena_release(void *ctx, void *p, size_t bytes)
{
    msn_arena_release(ctx, p, bytes);
}

void msn_an__map_init(an_map_t *m, msn_arena_t *a, size_t vsize)
{
    memset(m, 0, sizeof(*m));
    m->arena = a;
    m->vsize = vsize;
    msn_hmap_init_alloc(&m->ix, arena_zalloc, arena_release, a);
}

int64_t msn_an__map_find(const an_map_t *m, const void *key, size_t n)
{
    msn_hmap_probe_t pr;
    for (uint32_t e = msn_hmap_first(&m->ix, msn_hash_bytes(key, n), &pr); e != MSN_HMAP_NONE;
         e = msn_hmap_next(&m->ix, &pr))
        if (m->klen[e] == n && memcmp(m->keys[e], key, n) == 0)
            return e;
    return -1;
}

static void entries_grow(an_map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    msn_arena_t *a = m->arena;
    m->keys = msn_arena_realloc(a, m->keys, m->cap * sizeof(*m->keys), cap * sizeof(*m->keys));
    m->klen = msn_arena_realloc(a, m->klen, m->cap * sizeof(*m->klen), cap * sizeof(*m->klen));
    if (m->vsize)
        m->vals = msn_arena_realloc(a, m->vals, m->cap * m->vsize, cap * m->vsize);
    m->cap = cap;
}

uint32_t msn_an__map_intern(an_map_t *m, const void *key, size_t n, int *is_new)
{
    msn_hmap_probe_t pr;
    for (uint32_t e = msn_hmap_first(&m->ix, msn_hash_bytes(key, n), &pr); e != MSN_HMAP_NONE;
         e = msn_hmap_next(&m->ix, &pr))
        if (m->klen[e] == n && memcmp(m->keys[e], key, n) == 0) {
            if (is_new)
                *is_new = 0;
            return e;
        }
    if (m->n == m->cap)
        entries_grow(m);
    uint32_t e = m->n++;
    m->keys[e] = msn_arena_strndup(m->arena, key, n);
    m->klen[e] = (uint32_t)n;
    if (m->vsize)
        memset(m->vals + (size_t)e * m->vsize, 0, m->vsize);
    msn_hmap_insert(&m->ix, &pr, e);
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
