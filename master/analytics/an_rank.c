/* an_rank.c: rankings by count and top-N selection for the analytics (see an_int.h). */
#include "an_int.h"

#include <string.h>

int msn_an__rank_cmp(const void *a, const void *b)
{
    const an_rank_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return msn_an__bytes_cmp(x->key, x->kn, y->key, y->kn);
}

an_rank_t *msn_an__map_ranks(const an_map_t *m)
{
    an_rank_t *r = AN_ARRAY(m->arena, an_rank_t, m->n);
    for (uint32_t e = 0; e < m->n; e++)
        r[e] = (an_rank_t){m->keys[e], m->klen[e], e, msn_an__map_n(m, e)};
    return r;
}

/* ---- top N: a max-heap (under cmp) of the k best so far; its root is the worst kept ---- */

#define AT(t, i) ((t)->h + (size_t)(i) * (t)->size)

static void swap(an_topn_t *t, size_t i, size_t j)
{
    memcpy(t->tmp, AT(t, i), t->size);
    memcpy(AT(t, i), AT(t, j), t->size);
    memcpy(AT(t, j), t->tmp, t->size);
}

static void sift_up(an_topn_t *t, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (t->cmp(AT(t, i), AT(t, p)) <= 0)
            return;
        swap(t, i, p);
        i = p;
    }
}

static void sift_down(an_topn_t *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < t->n && t->cmp(AT(t, l), AT(t, w)) > 0)
            w = l;
        if (r < t->n && t->cmp(AT(t, r), AT(t, w)) > 0)
            w = r;
        if (w == i)
            return;
        swap(t, i, w);
        i = w;
    }
}

void msn_an__topn_init(an_topn_t *t, msn_arena_t *a, size_t k, size_t size, int (*cmp)(const void *, const void *))
{
    t->n = 0;
    t->k = k;
    t->size = size;
    t->cmp = cmp;
    t->h = msn_arena_alloc(a, (k ? k : 1) * size);
    t->tmp = msn_arena_alloc(a, size);
}

void msn_an__topn_push(an_topn_t *t, const void *e)
{
    if (t->n < t->k) {
        memcpy(AT(t, t->n), e, t->size);
        sift_up(t, t->n++);
    } else if (t->k > 0 && t->cmp(e, AT(t, 0)) < 0) {
        memcpy(AT(t, 0), e, t->size);
        sift_down(t, 0);
    }
}

size_t msn_an__topn_sort(an_topn_t *t)
{
    msn_an__qsort(t->h, t->n, t->size, t->cmp);
    return t->n;
}

size_t msn_an__top(msn_arena_t *a, void *base, size_t n, size_t size, size_t k,
                   int (*cmp)(const void *, const void *))
{
    if (k >= n) {
        msn_an__qsort(base, n, size, cmp);
        return n;
    }
    an_topn_t t;
    msn_an__topn_init(&t, a, k, size, cmp);
    for (size_t i = 0; i < n; i++)
        msn_an__topn_push(&t, (const char *)base + i * size);
    msn_an__topn_sort(&t);
    memcpy(base, t.h, t.n * size);
    return t.n;
}
