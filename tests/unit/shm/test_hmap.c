/* test_hmap.c: the hash map (shm/hmap.c) and the hashes (shm/hash.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/hash.h"
#include "shm/hmap.h"
#include "testlib.h"

/* A string set the way callers use the index: entries in an array, the index over them. */
typedef struct {
    char (*key)[24];
    uint32_t n, cap;
    msn_hmap_t ix;
} set_t;

/* hash_fn lets a test force collisions. */
static uint64_t (*hash_fn)(const char *s);

static uint64_t good_hash(const char *s)
{
    return msn_hash_bytes(s, strlen(s));
}

static uint64_t same_hash(const char *s)
{
    (void)s;
    return 0x1234567890abcdefull;
}

/* Entry of s, adding it when absent (*added set). */
static uint32_t set_intern(set_t *st, const char *s, int *added)
{
    msn_hmap_probe_t pr;
    for (uint32_t e = msn_hmap_first(&st->ix, hash_fn(s), &pr); e != MSN_HMAP_NONE;
         e = msn_hmap_next(&st->ix, &pr))
        if (strcmp(st->key[e], s) == 0) {
            *added = 0;
            return e;
        }
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 8;
        st->key = msn_xrealloc(st->key, st->cap * sizeof(*st->key));
    }
    snprintf(st->key[st->n], sizeof(st->key[0]), "%s", s);
    msn_hmap_insert(&st->ix, &pr, st->n);
    *added = 1;
    return st->n++;
}

static int64_t set_find(const set_t *st, const char *s)
{
    msn_hmap_probe_t pr;
    for (uint32_t e = msn_hmap_first(&st->ix, hash_fn(s), &pr); e != MSN_HMAP_NONE;
         e = msn_hmap_next(&st->ix, &pr))
        if (strcmp(st->key[e], s) == 0)
            return e;
    return -1;
}

static void run_set(int count)
{
    set_t st = {0};
    char k[24];
    int added;
    CHECK_EQ_INT(set_find(&st, "absent"), -1); /* an empty index */
    for (int i = 0; i < count; i++) {
        snprintf(k, sizeof(k), "key-%d", i);
        CHECK_EQ_INT(set_intern(&st, k, &added), i); /* entries are numbered in insertion order */
        CHECK_EQ_INT(added, 1);
    }
    CHECK_EQ_INT(st.ix.n, count);
    for (int i = 0; i < count; i++) {
        snprintf(k, sizeof(k), "key-%d", i);
        CHECK_EQ_INT(set_find(&st, k), i);
        CHECK_EQ_INT(set_intern(&st, k, &added), i);
        CHECK_EQ_INT(added, 0);
        snprintf(k, sizeof(k), "other-%d", i);
        CHECK_EQ_INT(set_find(&st, k), -1);
    }
    CHECK((uint64_t)st.ix.n * 4 <= ((uint64_t)st.ix.mask + 1) * 3); /* at most 3/4 full */
    msn_hmap_clear(&st.ix);
    CHECK_EQ_INT(set_find(&st, "key-0"), -1);
    st.n = 0;
    CHECK_EQ_INT(set_intern(&st, "key-7", &added), 0);
    CHECK_EQ_INT(set_find(&st, "key-7"), 0);
    msn_hmap_free(&st.ix);
    CHECK_EQ_INT(set_find(&st, "key-7"), -1);
    free(st.key);
}

static void test_growth(void)
{
    hash_fn = good_hash;
    run_set(100000);
}

static void test_collisions(void)
{
    /* every key with the same hash: the caller's comparison tells them apart */
    hash_fn = same_hash;
    run_set(300);
}

/* An allocator that counts, as an arena would be. */
typedef struct {
    int allocs, releases;
    size_t live;
} counting_t;

static void *count_zalloc(void *ctx, size_t bytes)
{
    counting_t *c = ctx;
    c->allocs++;
    c->live += bytes;
    return msn_xcalloc(1, bytes);
}

static void count_release(void *ctx, void *p, size_t bytes)
{
    counting_t *c = ctx;
    c->releases++;
    c->live -= bytes;
    free(p);
}

static void test_allocator_and_add(void)
{
    counting_t c = {0};
    msn_hmap_t m;
    msn_hmap_init_alloc(&m, count_zalloc, count_release, &c);
    msn_hmap_reserve(&m, 1000);
    CHECK_EQ_INT(c.allocs, 1);
    CHECK((uint64_t)(m.mask + 1) * 3 >= 1000 * 4);
    uint32_t mask = m.mask;
    uint64_t vals[1000];
    for (uint32_t i = 0; i < 1000; i++) {
        vals[i] = msn_mix64(i + 1);
        msn_hmap_add(&m, msn_mix64(vals[i]), i);
    }
    CHECK_EQ_INT(m.mask, mask); /* reserved: no growth */
    CHECK_EQ_INT(c.allocs, 1);
    for (uint32_t i = 0; i < 1000; i++) {
        msn_hmap_probe_t pr;
        int found = 0;
        for (uint32_t e = msn_hmap_first(&m, msn_mix64(vals[i]), &pr); e != MSN_HMAP_NONE;
             e = msn_hmap_next(&m, &pr))
            found += vals[e] == vals[i] && e == i;
        CHECK_EQ_INT(found, 1);
    }
    for (uint32_t i = 1000; i < 5000; i++) /* grows, releasing the old arrays */
        msn_hmap_add(&m, msn_mix64(i * 7919u), i);
    CHECK(c.allocs > 1);
    CHECK_EQ_INT(c.releases, c.allocs - 1);
    msn_hmap_free(&m);
    CHECK_EQ_INT(c.releases, c.allocs);
    CHECK_EQ_INT(c.live, 0);
}

static void test_hashes(void)
{
    /* FNV-1a 64 test vectors */
    CHECK(msn_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    CHECK(msn_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    CHECK(msn_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
    CHECK(msn_fnv1a64_str("foobar") == 0x85944171f73967e8ull);
    CHECK(msn_fnv1a64_add(msn_fnv1a64("foo", 3), "bar", 3) == 0x85944171f73967e8ull);
    /* fmix64 */
    CHECK(msn_mix64(0) == 0);
    CHECK(msn_mix64(1) != msn_mix64(2));
    /* the table hash: every byte and the length count; case folding only in _nocase */
    const char *k = "0123456789abcdefXYZ";
    for (size_t n = 0; n < strlen(k); n++)
        CHECK(msn_hash_bytes(k, n) != msn_hash_bytes(k, n + 1));
    CHECK(msn_hash_bytes("abcdefghij", 10) != msn_hash_bytes("abcdefghiJ", 10));
    CHECK(msn_hash_bytes("ABCDEFGHIJ", 10) != msn_hash_bytes("abcdefghij", 10));
    CHECK(msn_hash_bytes_nocase("ABCDEFGHIJ", 10) == msn_hash_bytes_nocase("abcdefghij", 10));
    CHECK(msn_hash_bytes_nocase("7D", 2) == msn_hash_bytes_nocase("7d", 2));
    CHECK(msn_hash_bytes_nocase("7D", 2) != msn_hash_bytes_nocase("7E", 2));
    CHECK(msn_hash_bytes_nocase("", 0) == msn_hash_bytes("", 0));
}

int main(void)
{
    MSN_RUN(test_growth);
    MSN_RUN(test_collisions);
    MSN_RUN(test_allocator_and_add);
    MSN_RUN(test_hashes);
    return msn_test_done();
}
