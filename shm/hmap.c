/* hmap.c: see hmap.h. */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MIN_SLOTS 16

void msn_hmap_init(msn_hmap_t *m)
{
    memset(m, 0, sizeof(*m));
}

void msn_hmap_init_alloc(msn_hmap_t *m, void *(*zalloc)(void *ctx, size_t bytes),
                         void (*release)(void *ctx, void *p, size_t bytes), void *ctx)
{
    msn_hmap_init(m);
    m->zalloc = zalloc;
    m->release = release;
    m->ctx = ctx;
}

static uint64_t *slots_alloc(const msn_hmap_t *m, size_t count)
{
    if (m->zalloc != NULL)
        return m->zalloc(m->ctx, count * sizeof(uint64_t));
    return msn_xcalloc(count, sizeof(uint64_t));
}

static void slots_release(const msn_hmap_t *m)
{
    if (m->slots == NULL)
        return;
    if (m->zalloc == NULL)
        free(m->slots);
    else if (m->release != NULL)
        m->release(m->ctx, m->slots, ((size_t)m->mask + 1) * sizeof(uint64_t));
}

void msn_hmap_free(msn_hmap_t *m)
{
    slots_release(m);
    m->slots = NULL;
    m->mask = 0;
    m->n = 0;
}

void msn_hmap_clear(msn_hmap_t *m)
{
    if (m->slots != NULL)
        memset(m->slots, 0, ((size_t)m->mask + 1) * sizeof(uint64_t));
    m->n = 0;
}

/* Rebuilds the index with room for `count` slots (a power of two). */
static void rehash(msn_hmap_t *m, size_t count)
{
    uint64_t *slots = slots_alloc(m, count);
    uint32_t mask = (uint32_t)(count - 1);
    if (m->slots != NULL) {
        for (size_t k = 0; k <= m->mask; k++) {
            uint64_t s = m->slots[k];
            if (s == 0)
                continue;
            uint32_t i = (uint32_t)(s >> 32) & mask;
            while (slots[i] != 0)
                i = (i + 1) & mask;
            slots[i] = s;
        }
    }
    slots_release(m);
    m->slots = slots;
    m->mask = mask;
}

/* Slots needed so that n entries fill at most 3/4 of them. */
static size_t slots_for(uint32_t n)
{
    size_t count = MIN_SLOTS;
    while ((uint64_t)n * 4 > (uint64_t)count * 3)
        count *= 2;
    return count;
}

void msn_hmap_reserve(msn_hmap_t *m, uint32_t n)
{
    size_t count = slots_for(n);
    if (m->slots == NULL || count > (size_t)m->mask + 1)
        rehash(m, count);
}

/* Grows before the entry that would fill more than 3/4 of the slots; returns 1 when the
 * slot array changed. */
static int grow_for_one(msn_hmap_t *m)
{
    if (m->slots != NULL && (uint64_t)(m->n + 1) * 4 <= ((uint64_t)m->mask + 1) * 3)
        return 0;
    rehash(m, m->slots == NULL ? MIN_SLOTS : ((size_t)m->mask + 1) * 2);
    return 1;
}

static void put(msn_hmap_t *m, uint32_t tag, uint32_t e)
{
    uint32_t i = tag & m->mask;
    while (m->slots[i] != 0)
        i = (i + 1) & m->mask;
    m->slots[i] = (uint64_t)tag << 32 | (uint64_t)(e + 1);
    m->n++;
}

void msn_hmap_add(msn_hmap_t *m, uint64_t h, uint32_t e)
{
    grow_for_one(m);
    put(m, (uint32_t)(h >> 32), e);
}

void msn_hmap_insert(msn_hmap_t *m, const msn_hmap_probe_t *pr, uint32_t e)
{
    if (grow_for_one(m)) {
        put(m, pr->tag, e);
        return;
    }
    m->slots[pr->i] = (uint64_t)pr->tag << 32 | (uint64_t)(e + 1);
    m->n++;
}
