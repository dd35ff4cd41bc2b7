/* fxbulk.c: see fxbulk.h. */
#include "fxbulk.h"

#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/hash.h"

void msn_fxbulk_init(msn_fxbulk_t *b)
{
    memset(b, 0, sizeof(*b));
    msn_hmap_init(&b->ix);
}

void msn_fxbulk_free(msn_fxbulk_t *b)
{
    for (uint32_t i = 0; i < b->n_lists; i++)
        free(b->lists[i].ix);
    free(b->lists);
    free(b->keys);
    free(b->order);
    msn_hmap_free(&b->ix);
    msn_fxbulk_init(b);
}

static uint32_t new_list(msn_fxbulk_t *b, const void *key, size_t len)
{
    if (b->n_lists == b->cap_lists) {
        b->cap_lists = b->cap_lists ? b->cap_lists * 2 : 64;
        b->lists = msn_xrealloc(b->lists, b->cap_lists * sizeof(*b->lists));
    }
    if (b->keys_len + len > b->keys_cap) {
        while (b->keys_len + len > b->keys_cap)
            b->keys_cap = b->keys_cap ? b->keys_cap * 2 : 4096;
        b->keys = msn_xrealloc(b->keys, b->keys_cap);
    }
    memcpy(b->keys + b->keys_len, key, len);
    msn_fxlist_t *l = &b->lists[b->n_lists];
    memset(l, 0, sizeof(*l));
    l->key_off = b->keys_len;
    l->key_len = (uint32_t)len;
    b->keys_len += len;
    return b->n_lists++;
}

uint32_t msn_fxbulk_list(msn_fxbulk_t *b, const void *key, size_t len)
{
    uint64_t h = msn_hash_bytes(key, len);
    msn_hmap_probe_t pr;
    uint32_t e;
    for (e = msn_hmap_first(&b->ix, h, &pr); e != MSN_HMAP_NONE; e = msn_hmap_next(&b->ix, &pr))
        if (b->lists[e].key_len == len && memcmp(b->keys + b->lists[e].key_off, key, len) == 0)
            break;
    if (e == MSN_HMAP_NONE) {
        e = new_list(b, key, len);
        msn_hmap_insert(&b->ix, &pr, e);
        free(b->order);
        b->order = NULL;
    }
    return e;
}

void msn_fxbulk_add(msn_fxbulk_t *b, const void *key, size_t len, uint32_t tx_ix)
{
    msn_fxbulk_add_to(b, msn_fxbulk_list(b, key, len), tx_ix);
}

void msn_fxbulk_add_to(msn_fxbulk_t *b, uint32_t list, uint32_t tx_ix)
{
    msn_fxlist_t *l = &b->lists[list];
    if (l->n > 0 && l->ix[l->n - 1] == tx_ix)
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->ix = msn_xrealloc(l->ix, (size_t)l->cap * sizeof(uint32_t));
    }
    l->ix[l->n++] = tx_ix;
    b->n_entries++;
}

typedef struct {
    const uint8_t *key;
    uint32_t len;
    uint32_t list;
} sortkey_t;

/* LMDB's default key order (mdb_cmp_memn). */
static int cmp_key(const void *a, const void *b)
{
    const sortkey_t *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

void msn_fxbulk_sort(msn_fxbulk_t *b)
{
    free(b->order);
    b->order = msn_xmalloc((b->n_lists ? b->n_lists : 1) * sizeof(uint32_t));
    sortkey_t *sk = msn_xmalloc((b->n_lists ? b->n_lists : 1) * sizeof(*sk));
    for (uint32_t i = 0; i < b->n_lists; i++)
        sk[i] = (sortkey_t){b->keys + b->lists[i].key_off, b->lists[i].key_len, i};
    qsort(sk, b->n_lists, sizeof(*sk), cmp_key);
    for (uint32_t i = 0; i < b->n_lists; i++)
        b->order[i] = sk[i].list;
    free(sk);
}
