/*
 * test_analytics_arena.c: master/arena.c, the per-job memory of the analytics (and of the
 * store's strings): alignment, zeroing, growth in place and by copy, direct blocks for
 * large arrays, early release, deferred callbacks, and the byte count. Run under ASan,
 * it also shows that freeing the arena releases everything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "master/arena.h"
#include "shm/buf.h"
#include "testlib.h"

static void test_alloc(void)
{
    msn_arena_t *a = msn_arena_new();
    CHECK_EQ_INT(msn_arena_bytes(a), 0);
    const char *s = msn_arena_strndup(a, "abcdef", 3);
    CHECK_EQ_STR(s, "abc");
    CHECK(msn_arena_strdup(a, NULL) == NULL);
    for (int i = 1; i < 40; i++) {
        char *p = msn_arena_alloc(a, (size_t)i);
        CHECK_EQ_INT((uintptr_t)p % 8, 0);
        memset(p, 0xAB, (size_t)i);
        msn_arena_strndup(a, "x", 1); /* unaligned tail for the next block */
    }
    uint64_t *z = msn_arena_calloc(a, 100, sizeof(uint64_t));
    int zero = 1;
    for (int i = 0; i < 100; i++)
        zero &= z[i] == 0;
    CHECK(zero);
    CHECK_EQ_INT(msn_arena_bytes(a), 1 << 20); /* one chunk so far */
    msn_arena_free(a);
    msn_arena_free(NULL);
}

static void test_realloc(void)
{
    msn_arena_t *a = msn_arena_new();
    /* the last small block grows in place */
    int *v = msn_arena_alloc(a, 4 * sizeof(int));
    for (int i = 0; i < 4; i++)
        v[i] = i;
    int *w = msn_arena_realloc(a, v, 4 * sizeof(int), 64 * sizeof(int));
    CHECK(w == v);
    /* a block that is no longer the last is copied */
    char *other = msn_arena_alloc(a, 8);
    int *x = msn_arena_realloc(a, w, 64 * sizeof(int), 128 * sizeof(int));
    CHECK(x != w && x != (int *)(void *)other);
    CHECK(x[0] == 0 && x[3] == 3);
    /* shrinking or keeping the size returns the block */
    CHECK(msn_arena_realloc(a, x, 128 * sizeof(int), 16) == x);
    /* NULL with size 0 allocates */
    int *n = msn_arena_realloc(a, NULL, 0, 10 * sizeof(int));
    CHECK(n != NULL);

    /* small to direct, then direct blocks grow keeping their content */
    size_t bytes0 = msn_arena_bytes(a);
    size_t big = MSN_ARENA_DIRECT;
    uint32_t *d = msn_arena_realloc(a, x, 128 * sizeof(int), big);
    CHECK(d[0] == 0 && d[3] == 3);
    CHECK_EQ_INT(msn_arena_bytes(a), bytes0 + big);
    for (size_t i = 0; i < big / 4; i++)
        d[i] = (uint32_t)i;
    uint32_t *e = msn_arena_realloc(a, d, big, 8 * big);
    int same = 1;
    for (size_t i = 0; i < big / 4; i++)
        same &= e[i] == (uint32_t)i;
    CHECK(same);
    CHECK_EQ_INT(msn_arena_bytes(a), bytes0 + 8 * big);
    /* a second direct block, then the first is released early */
    void *f = msn_arena_alloc(a, 2 * big);
    CHECK_EQ_INT(msn_arena_bytes(a), bytes0 + 10 * big);
    msn_arena_release(a, e, 8 * big);
    CHECK_EQ_INT(msn_arena_bytes(a), bytes0 + 2 * big);
    f = msn_arena_realloc(a, f, 2 * big, 3 * big);
    CHECK_EQ_INT(msn_arena_bytes(a), bytes0 + 3 * big);
    msn_arena_free(a);
}

static void test_release_small(void)
{
    msn_arena_t *a = msn_arena_new();
    char *p = msn_arena_alloc(a, 100);
    msn_arena_release(a, p, 100);
    char *q = msn_arena_alloc(a, 50);
    CHECK(q == p); /* the last block was given back */
    char *r = msn_arena_alloc(a, 8);
    msn_arena_release(a, q, 50); /* not the last: nothing happens */
    char *t = msn_arena_alloc(a, 8);
    CHECK(t > r);
    msn_arena_free(a);
}

typedef struct {
    int order[4];
    int n;
    msn_buf_t *buf;
} seen_t;

typedef struct {
    seen_t *seen;
    int id;
} tag_t;

static void note(void *p)
{
    tag_t *t = p;
    t->seen->order[t->seen->n++] = t->id;
}

static void free_buf(void *p)
{
    msn_buf_free(p);
}

static void test_defer(void)
{
    seen_t seen = {{0}, 0, NULL};
    msn_arena_t *a = msn_arena_new();
    tag_t *t1 = msn_arena_alloc(a, sizeof(tag_t)), *t2 = msn_arena_alloc(a, sizeof(tag_t));
    *t1 = (tag_t){&seen, 1};
    *t2 = (tag_t){&seen, 2};
    msn_arena_defer(a, note, t1);
    msn_arena_defer(a, note, t2);
    /* memory the arena does not own itself, tied to it (ASan reports a leak otherwise) */
    msn_buf_t *b = msn_arena_calloc(a, 1, sizeof(msn_buf_t));
    msn_buf_puts(b, "tied to the arena");
    msn_arena_defer(a, free_buf, b);
    CHECK_EQ_INT(seen.n, 0);
    msn_arena_free(a);
    CHECK_EQ_INT(seen.n, 2);
    CHECK_EQ_INT(seen.order[0], 2); /* newest first */
    CHECK_EQ_INT(seen.order[1], 1);
}

static void test_many_chunks(void)
{
    msn_arena_t *a = msn_arena_new();
    size_t total = 0;
    for (int i = 0; i < 5000; i++) {
        size_t n = 1000 + (size_t)(i % 7) * 3000;
        char *p = msn_arena_alloc(a, n);
        memset(p, i & 0xFF, n);
        total += n;
    }
    CHECK(msn_arena_bytes(a) >= total);
    CHECK(msn_arena_bytes(a) < total + total / 4 + (1 << 20));
    msn_arena_free(a);
}

int main(void)
{
    MSN_RUN(test_alloc);
    MSN_RUN(test_realloc);
    MSN_RUN(test_release_small);
    MSN_RUN(test_defer);
    MSN_RUN(test_many_chunks);
    return msn_test_done();
}
