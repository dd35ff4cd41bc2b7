/*
 * test_anscache.c: the worker's answer cache (worker/anscache.c): an answer is reused
 * for the same key, generation and run within its time to live, never otherwise; the
 * byte bound drops the oldest answers; a disabled cache keeps nothing.
 */
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "worker/anscache.h"

#define K(s) (s), strlen(s)

static int put(msn_anscache_t *c, const char *key, uint64_t gen, int64_t now, const char *body)
{
    return msn_anscache_put(c, key, strlen(key), gen, 77, now, 5, NULL, body, strlen(body));
}

static void test_reuse_rules(void)
{
    msn_anscache_t c;
    msn_anscache_init(&c, 1 << 20, 1000);
    CHECK(msn_anscache_enabled(&c));
    CHECK(msn_anscache_get(&c, K("P/api/nodes?limit=5"), 3, 77, 1000) == NULL);
    CHECK_EQ_INT(put(&c, "P/api/nodes?limit=5", 3, 1000, "{\"nodes\":[]}"), 1);
    const msn_anscache_entry_t *e = msn_anscache_get(&c, K("P/api/nodes?limit=5"), 3, 77, 1500);
    CHECK(e != NULL);
    if (e) {
        CHECK_EQ_INT((int)e->len, 12);
        CHECK(memcmp(e->body, "{\"nodes\":[]}", 12) == 0);
        CHECK_EQ_INT(e->route, 5);
        CHECK(e->content_type == NULL);
    }
    /* another key, listener, generation, run: no */
    CHECK(msn_anscache_get(&c, K("P/api/nodes?limit=6"), 3, 77, 1500) == NULL);
    CHECK(msn_anscache_get(&c, K("A/api/nodes?limit=5"), 3, 77, 1500) == NULL);
    CHECK(msn_anscache_get(&c, K("P/api/nodes?limit=5"), 3, 78, 1500) == NULL);
    /* a lookup with another generation dropped it */
    CHECK(msn_anscache_get(&c, K("P/api/nodes?limit=5"), 3, 77, 1500) == NULL);
    CHECK_EQ_INT((int)c.bytes, 0);
    put(&c, "P/api/nodes?limit=5", 4, 2000, "x");
    CHECK(msn_anscache_get(&c, K("P/api/nodes?limit=5"), 4, 77, 2999) != NULL);
    CHECK(msn_anscache_get(&c, K("P/api/nodes?limit=5"), 4, 77, 3000) == NULL); /* too old */
    put(&c, "P/x", 4, 5000, "y");
    CHECK(msn_anscache_get(&c, K("P/x"), 4, 77, 4000) == NULL); /* a clock that went back */
    msn_anscache_free(&c);
    CHECK_EQ_INT((int)c.bytes, 0);
}

static void test_bounds(void)
{
    msn_anscache_t c;
    msn_anscache_init(&c, 8000, 1000);
    char big[1100];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_INT(put(&c, "P/big", 1, 0, big), 0); /* more than an eighth of the bound */
    char key[32], body[900];
    memset(body, 'v', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "P/k%d", i);
        CHECK_EQ_INT(put(&c, key, 1, i, body), 1);
        CHECK(c.bytes <= c.max_bytes);
    }
    /* the newest are kept, the oldest dropped */
    CHECK(msn_anscache_get(&c, K("P/k19"), 1, 77, 100) != NULL);
    CHECK(msn_anscache_get(&c, K("P/k0"), 1, 77, 100) == NULL);
    /* a too-long key is not kept */
    char longkey[MSN_ANSCACHE_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    CHECK_EQ_INT(put(&c, longkey, 1, 0, "z"), 0);
    msn_anscache_free(&c);
}

static void test_disabled(void)
{
    msn_anscache_t c;
    msn_anscache_init(&c, 1 << 20, 0);
    CHECK(!msn_anscache_enabled(&c));
    CHECK_EQ_INT(put(&c, "P/a", 1, 0, "x"), 0);
    CHECK(msn_anscache_get(&c, K("P/a"), 1, 77, 0) == NULL);
    msn_anscache_init(&c, 0, 1000);
    CHECK_EQ_INT(put(&c, "P/a", 1, 0, "x"), 0);
    msn_anscache_free(&c);
}

int main(void)
{
    MSN_RUN(test_reuse_rules);
    MSN_RUN(test_bounds);
    MSN_RUN(test_disabled);
    return msn_test_done();
}
