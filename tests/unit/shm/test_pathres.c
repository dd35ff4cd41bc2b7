/*
 * test_pathres.c: the conservative hop resolver (shm/pathres.c, data-model spec §4.2):
 * every branch of the rule, the prefix lengths, case handling, rendering, loading from
 * SQLite, and a randomized comparison with a naive reference implementation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/buf.h"
#include "shm/pathres.h"
#include "testlib.h"

/* 64-char keys built from a short distinctive head padded with a filler digit. */
static void mkkey(char out[65], const char *head, char fill)
{
    size_t n = strlen(head);
    memcpy(out, head, n);
    for (size_t i = n; i < 64; i++)
        out[i] = fill;
    out[64] = '\0';
}

static char K_AA[65], K_BB[65], K_CC1[65], K_CC2[65], K_CC3[65], K_DD[65];

static msn_pathres_t *fixture(int with_edges)
{
    mkkey(K_AA, "aa11", '0');
    mkkey(K_BB, "bb22", '1');
    mkkey(K_CC1, "cc0123", '2');
    mkkey(K_CC2, "cc0245", '3');
    mkkey(K_CC3, "cc0367", '4');
    mkkey(K_DD, "dd", '5');
    msn_pathres_t *pr = msn_pathres_new();
    msn_pathres_add_node(pr, K_AA);
    msn_pathres_add_node(pr, K_BB);
    msn_pathres_add_node(pr, K_CC1);
    msn_pathres_add_node(pr, K_CC2);
    msn_pathres_add_node(pr, K_CC3);
    msn_pathres_add_node(pr, K_DD);
    if (with_edges) {
        msn_pathres_add_edge(pr, K_AA, K_CC1); /* aa - cc01 */
        msn_pathres_add_edge(pr, K_BB, K_CC1); /* bb - cc01, bb - cc02: two survivors from bb */
        msn_pathres_add_edge(pr, K_BB, K_CC2);
        msn_pathres_add_edge(pr, K_DD, K_CC3);
    }
    msn_pathres_finish(pr);
    return pr;
}

#define RESOLVE(pr, from, ...)                                                                               \
    do {                                                                                                     \
        const char *hops_[] = {__VA_ARGS__};                                                                 \
        n_ = (int)(sizeof(hops_) / sizeof(hops_[0]));                                                        \
        nres_ = msn_pathres_resolve(pr, from, hops_, n_, out_);                                              \
    } while (0)

static const char *out_[16];
static int n_, nres_;

static void test_unique_prefix(void)
{
    msn_pathres_t *pr = fixture(0);
    RESOLVE(pr, NULL, "AA", "BB", "DD");
    CHECK_EQ_INT(nres_, 3);
    CHECK_EQ_STR(out_[0], K_AA);
    CHECK_EQ_STR(out_[1], K_BB);
    CHECK_EQ_STR(out_[2], K_DD);
    /* no candidate at all */
    RESOLVE(pr, NULL, "EE", "AA");
    CHECK_EQ_INT(nres_, 1);
    CHECK(out_[0] == NULL);
    CHECK_EQ_STR(out_[1], K_AA);
    CHECK_EQ_INT(msn_pathres_node_count(pr), 6);
    msn_pathres_free(pr);
}

static void test_revisit_is_null(void)
{
    msn_pathres_t *pr = fixture(0);
    RESOLVE(pr, NULL, "AA", "BB", "AA");
    CHECK_EQ_INT(nres_, 2);
    CHECK_EQ_STR(out_[0], K_AA);
    CHECK_EQ_STR(out_[1], K_BB);
    CHECK(out_[2] == NULL);
    /* the originator counts as visited */
    RESOLVE(pr, K_AA, "AA", "BB");
    CHECK(out_[0] == NULL);
    CHECK_EQ_STR(out_[1], K_BB);
    /* the originator in another case */
    char up[65];
    for (int i = 0; i < 65; i++)
        up[i] = (K_AA[i] >= 'a' && K_AA[i] <= 'f') ? (char)(K_AA[i] - 32) : K_AA[i];
    RESOLVE(pr, up, "aa");
    CHECK(out_[0] == NULL);
    msn_pathres_free(pr);
}

static void test_ambiguous_without_anchor(void)
{
    msn_pathres_t *pr = fixture(1);
    /* first hop ambiguous, no originator */
    RESOLVE(pr, NULL, "CC");
    CHECK_EQ_INT(nres_, 0);
    CHECK(out_[0] == NULL);
    RESOLVE(pr, "", "CC");
    CHECK(out_[0] == NULL);
    msn_pathres_free(pr);
    /* an anchor but no graph at all */
    pr = fixture(0);
    RESOLVE(pr, NULL, "AA", "CC");
    CHECK_EQ_STR(out_[0], K_AA);
    CHECK(out_[1] == NULL);
    CHECK_EQ_INT(msn_pathres_edge_count(pr), 0);
    msn_pathres_free(pr);
}

static void test_ambiguous_resolved_by_adjacency(void)
{
    msn_pathres_t *pr = fixture(1);
    RESOLVE(pr, NULL, "AA", "CC");
    CHECK_EQ_INT(nres_, 2);
    CHECK_EQ_STR(out_[0], K_AA);
    CHECK_EQ_STR(out_[1], K_CC1);
    /* the anchor for hop 0 is the originator */
    RESOLVE(pr, K_DD, "CC", "dd");
    CHECK_EQ_STR(out_[0], K_CC3);
    CHECK(out_[1] == NULL); /* dd is the originator: a revisit */
    /* a chain of ambiguous hops: aa -> cc01 (adjacent) -> bb (unique) */
    RESOLVE(pr, NULL, "AA", "CC", "BB");
    CHECK_EQ_STR(out_[1], K_CC1);
    CHECK_EQ_STR(out_[2], K_BB);
    /* an originator that is not a node but has edges */
    msn_pathres_t *p2 = msn_pathres_new();
    msn_pathres_add_node(p2, K_CC1);
    msn_pathres_add_node(p2, K_CC2);
    msn_pathres_add_edge(p2, "feedfacefeedface", K_CC2);
    msn_pathres_finish(p2);
    RESOLVE(p2, "FEEDFACEFEEDFACE", "CC");
    CHECK_EQ_STR(out_[0], K_CC2);
    RESOLVE(p2, "feedface", "CC");
    CHECK(out_[0] == NULL);
    msn_pathres_free(p2);
    msn_pathres_free(pr);
}

static void test_two_adjacent_survivors(void)
{
    msn_pathres_t *pr = fixture(1);
    /* bb is adjacent to cc01 and cc02 */
    RESOLVE(pr, NULL, "BB", "CC");
    CHECK_EQ_STR(out_[0], K_BB);
    CHECK(out_[1] == NULL);
    /* ...but one of them is already on the path (the originator): one survivor left */
    RESOLVE(pr, K_CC1, "BB", "CC");
    CHECK_EQ_STR(out_[0], K_BB);
    CHECK_EQ_STR(out_[1], K_CC2);
    /* adjacency that leaves no survivor: cc01 visited, cc02 visited, cc03 not adjacent */
    RESOLVE(pr, K_CC1, "CC02", "BB", "CC");
    CHECK_EQ_STR(out_[0], K_CC2);
    CHECK_EQ_STR(out_[1], K_BB);
    CHECK(out_[2] == NULL);
    msn_pathres_free(pr);
}

static void test_chain_break_resets_anchor(void)
{
    msn_pathres_t *pr = fixture(1);
    /* originator aa is adjacent to cc01, but hop 0 does not resolve: the chain breaks */
    RESOLVE(pr, K_AA, "EE", "CC");
    CHECK(out_[0] == NULL);
    CHECK(out_[1] == NULL);
    /* an ambiguous unresolved hop breaks it too: bb -> CC (2 survivors) -> CC */
    RESOLVE(pr, NULL, "BB", "CC", "CC");
    CHECK(out_[1] == NULL);
    CHECK(out_[2] == NULL);
    /* a later unique hop restarts the chain */
    RESOLVE(pr, NULL, "EE", "AA", "CC");
    CHECK(out_[0] == NULL);
    CHECK_EQ_STR(out_[1], K_AA);
    CHECK_EQ_STR(out_[2], K_CC1);
    /* the observer is never an anchor: without originator the first ambiguous hop is null */
    RESOLVE(pr, NULL, "CC", "AA");
    CHECK(out_[0] == NULL);
    CHECK_EQ_STR(out_[1], K_AA);
    msn_pathres_free(pr);
}

static void test_mixed_case(void)
{
    msn_pathres_t *pr = msn_pathres_new();
    char up[65];
    mkkey(up, "ABCDEF", 'E');
    msn_pathres_add_node(pr, up);
    msn_pathres_add_node(pr, "abcdef"
                             "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"); /* the same key */
    msn_pathres_finish(pr);
    CHECK_EQ_INT(msn_pathres_node_count(pr), 1);
    RESOLVE(pr, NULL, "aB");
    CHECK_EQ_STR(out_[0], "abcdefeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    RESOLVE(pr, NULL, "ABCD", "abcdEF");
    CHECK(out_[0] != NULL);
    CHECK(out_[1] == NULL); /* same node twice */
    msn_pathres_free(pr);
}

static void test_hop_sizes(void)
{
    msn_pathres_t *pr = fixture(0);
    /* cc01.., cc02.., cc03..: 1-byte ambiguous, 2-byte unique */
    RESOLVE(pr, NULL, "CC02");
    CHECK_EQ_STR(out_[0], K_CC2);
    RESOLVE(pr, NULL, "CC0367");
    CHECK_EQ_STR(out_[0], K_CC3);
    RESOLVE(pr, NULL, "cc012322");
    CHECK_EQ_STR(out_[0], K_CC1);
    RESOLVE(pr, NULL, "cc0123222222", "cc02453333333333");
    CHECK_EQ_STR(out_[0], K_CC1);
    CHECK_EQ_STR(out_[1], K_CC2);
    /* lengths outside the index: odd, 10, 14, 18 chars, the full key, empty */
    RESOLVE(pr, NULL, "C", "CC0", "cc01232222", "cc012322222222", "cc0123222222222222", K_CC1, "");
    CHECK_EQ_INT(nres_, 0);
    /* a prefix that matches no key at that length */
    RESOLVE(pr, NULL, "CC04", "cc0124");
    CHECK_EQ_INT(nres_, 0);
    /* NULL hops */
    const char *hops[] = {NULL, "AA"};
    CHECK_EQ_INT(msn_pathres_resolve(pr, NULL, hops, 2, out_), 1);
    CHECK(out_[0] == NULL);
    msn_pathres_free(pr);
}

static void test_render(void)
{
    msn_buf_t b = MSN_BUF_INIT;
    const char *none[] = {NULL, NULL, NULL};
    CHECK_EQ_INT(msn_pathres_render(none, 3, &b), 0);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(msn_pathres_render(none, 0, &b), 0);
    CHECK_EQ_INT(b.len, 0);
    const char *some[] = {NULL, "abc", NULL, "def"};
    msn_buf_puts(&b, "x");
    CHECK_EQ_INT(msn_pathres_render(some, 4, &b), 1);
    CHECK_EQ_STR(msn_buf_cstr(&b), "x[null,\"abc\",null,\"def\"]");

    msn_pathres_t *pr = fixture(1);
    msn_buf_reset(&b);
    const char *pj = "[\"AA\",\"CC\",\"EE\"]";
    CHECK_EQ_INT(msn_pathres_resolve_json(pr, NULL, pj, strlen(pj), &b), 1);
    msn_buf_t want = MSN_BUF_INIT;
    msn_buf_printf(&want, "[\"%s\",\"%s\",null]", K_AA, K_CC1);
    CHECK_EQ_STR(msn_buf_cstr(&b), msn_buf_cstr(&want));
    msn_buf_reset(&b);
    CHECK_EQ_INT(msn_pathres_resolve_json(pr, NULL, "[]", 2, &b), 0);
    CHECK_EQ_INT(msn_pathres_resolve_json(pr, NULL, "[\"EE\",null]", 11, &b), 0);
    CHECK_EQ_INT(msn_pathres_resolve_json(pr, NULL, "[\"EE\"", 5, &b), -1);
    CHECK_EQ_INT(msn_pathres_resolve_json(pr, NULL, NULL, 0, &b), -1);
    CHECK_EQ_INT(b.len, 0);
    /* the originator passed to the JSON variant */
    CHECK_EQ_INT(msn_pathres_resolve_json(pr, K_DD, "[\"CC\"]", 6, &b), 1);
    msn_buf_reset(&want);
    msn_buf_printf(&want, "[\"%s\"]", K_CC3);
    CHECK_EQ_STR(msn_buf_cstr(&b), msn_buf_cstr(&want));
    msn_pathres_free(pr);
    msn_buf_free(&b);
    msn_buf_free(&want);
}

static void test_edges_normalized(void)
{
    msn_pathres_t *pr = fixture(0);
    /* edges in upper case, duplicated, reversed, plus self-loops and empty ends */
    char up[65];
    for (int i = 0; i < 65; i++)
        up[i] = (K_AA[i] >= 'a' && K_AA[i] <= 'f') ? (char)(K_AA[i] - 32) : K_AA[i];
    msn_pathres_add_edge(pr, up, K_CC2);
    msn_pathres_add_edge(pr, K_CC2, K_AA);
    msn_pathres_add_edge(pr, K_CC1, K_CC1);
    msn_pathres_add_edge(pr, up, K_AA);
    msn_pathres_add_edge(pr, "", K_CC3);
    msn_pathres_add_edge(pr, NULL, K_CC3);
    RESOLVE(pr, NULL, "AA", "CC"); /* added since finish: nothing resolves */
    CHECK_EQ_INT(nres_, 0);
    msn_pathres_finish(pr);
    CHECK_EQ_INT(msn_pathres_edge_count(pr), 1);
    RESOLVE(pr, NULL, "AA", "CC");
    CHECK_EQ_STR(out_[1], K_CC2);
    msn_pathres_free(pr);
    msn_pathres_free(NULL);
}

static void test_load_sqlite(void)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    char sql[2048];
    msn_pathres_free(fixture(0)); /* sets the K_* keys */
    snprintf(sql, sizeof(sql),
             "CREATE TABLE nodes(public_key TEXT, name TEXT);"
             "INSERT INTO nodes VALUES('%s','a'),('%s','b'),('%s','c'),(NULL,'n');",
             K_AA, K_CC1, K_CC2);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    char err[256] = "";
    /* no neighbor_edges table: loads, but ambiguous hops stay null */
    msn_pathres_t *pr = msn_pathres_new();
    CHECK_EQ_INT(msn_pathres_load_sqlite(pr, db, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_pathres_node_count(pr), 3);
    RESOLVE(pr, NULL, "AA", "CC");
    CHECK_EQ_STR(out_[0], K_AA);
    CHECK(out_[1] == NULL);
    msn_pathres_free(pr);

    snprintf(sql, sizeof(sql),
             "CREATE TABLE neighbor_edges(node_a TEXT, node_b TEXT, count INTEGER, last_seen TEXT);"
             "INSERT INTO neighbor_edges VALUES('%s','%s',1,NULL),('','%s',1,NULL),(NULL,'%s',1,NULL);",
             K_AA, K_CC2, K_CC1, K_CC1);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    pr = msn_pathres_new();
    CHECK_EQ_INT(msn_pathres_load_sqlite(pr, db, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_pathres_edge_count(pr), 1);
    RESOLVE(pr, NULL, "AA", "CC");
    CHECK_EQ_STR(out_[1], K_CC2);
    msn_pathres_free(pr);

    /* no nodes table: an error */
    sqlite3_exec(db, "DROP TABLE nodes", NULL, NULL, NULL);
    pr = msn_pathres_new();
    CHECK_EQ_INT(msn_pathres_load_sqlite(pr, db, err, sizeof(err)), -1);
    CHECK(strstr(err, "nodes") != NULL);
    msn_pathres_free(pr);
    sqlite3_close(db);
}

/* ---- randomized comparison with a naive reference -------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define RN 400
#define RE 1500
static char rkeys[RN][65];
static int redge[RE][2];

static int ref_adjacent(int a, int b)
{
    for (int e = 0; e < RE; e++)
        if ((redge[e][0] == a && redge[e][1] == b) || (redge[e][0] == b && redge[e][1] == a))
            return 1;
    return 0;
}

/* The §4.2 rule written the slow, obvious way. */
static void ref_resolve(int from, char hops[][17], int n, int *out)
{
    int seen[80], nseen = 0, anchor = from;
    if (from >= 0)
        seen[nseen++] = from;
    for (int i = 0; i < n; i++) {
        size_t L = strlen(hops[i]);
        int cands[RN], nc = 0;
        if (L == 2 || L == 4 || L == 6 || L == 8 || L == 12 || L == 16)
            for (int k = 0; k < RN; k++)
                if (strncasecmp(rkeys[k], hops[i], L) == 0)
                    cands[nc++] = k;
        int got = -1;
        if (nc == 1) {
            got = cands[0];
            for (int s = 0; s < nseen; s++)
                if (seen[s] == got)
                    got = -1;
        } else if (nc > 1 && anchor >= 0) {
            int surv = 0;
            for (int c = 0; c < nc; c++) {
                int dup = 0;
                for (int s = 0; s < nseen; s++)
                    dup |= seen[s] == cands[c];
                if (!dup && ref_adjacent(anchor, cands[c])) {
                    surv++;
                    got = cands[c];
                }
            }
            if (surv != 1)
                got = -1;
        }
        out[i] = got;
        if (got >= 0)
            seen[nseen++] = got;
        anchor = got;
    }
}

static void test_random_against_reference(void)
{
    static const char hex[] = "0123456789abcdef";
    msn_pathres_t *pr = msn_pathres_new();
    for (int k = 0; k < RN; k++) {
        for (int i = 0; i < 64; i++)
            rkeys[k][i] = hex[rnd() & 15];
        rkeys[k][64] = '\0';
        /* crowd the first byte so 1-byte hops are mostly ambiguous, some 2-byte too */
        rkeys[k][0] = hex[rnd() % 3];
        if (rnd() % 4 == 0)
            rkeys[k][2] = '7';
        msn_pathres_add_node(pr, rkeys[k]);
    }
    for (int e = 0; e < RE; e++) {
        redge[e][0] = (int)(rnd() % RN);
        redge[e][1] = (int)(rnd() % RN);
        if (redge[e][0] != redge[e][1])
            msn_pathres_add_edge(pr, rkeys[redge[e][0]], rkeys[redge[e][1]]);
        else
            redge[e][0] = redge[e][1] = -2; /* self-loops are ignored */
    }
    msn_pathres_finish(pr);
    long total = 0, resolved = 0;
    for (int t = 0; t < 3000; t++) {
        int n = 1 + (int)(rnd() % 12);
        char hops[16][17];
        const char *hp[16];
        int prev = (int)(rnd() % RN);
        for (int i = 0; i < n; i++) {
            /* mostly walk the edge list, sometimes jump */
            int next = (int)(rnd() % RN);
            if (rnd() % 4 != 0) {
                int e = (int)(rnd() % RE);
                for (int tries = 0; tries < RE; tries++, e = (e + 1) % RE)
                    if (redge[e][0] == prev) {
                        next = redge[e][1];
                        break;
                    }
            }
            static const int lens[] = {2, 2, 2, 4, 4, 6, 8, 3, 16};
            int L = lens[rnd() % 9];
            for (int c = 0; c < L; c++) {
                char ch = rkeys[next][c];
                hops[i][c] = (rnd() & 1) && ch >= 'a' ? (char)(ch - 32) : ch;
            }
            hops[i][L] = '\0';
            hp[i] = hops[i];
            prev = next;
        }
        int from = rnd() % 3 == 0 ? (int)(rnd() % RN) : -1;
        int want[16];
        ref_resolve(from, hops, n, want);
        const char *got[16];
        int nr = msn_pathres_resolve(pr, from >= 0 ? rkeys[from] : NULL, hp, n, got);
        int wr = 0;
        for (int i = 0; i < n; i++) {
            if (want[i] >= 0) {
                wr++;
                CHECK(got[i] != NULL && strcmp(got[i], rkeys[want[i]]) == 0);
            } else {
                CHECK(got[i] == NULL);
            }
        }
        CHECK_EQ_INT(nr, wr);
        total += n;
        resolved += nr;
    }
    /* the mix exercises both outcomes */
    CHECK(resolved > total / 10);
    CHECK(resolved < total * 9 / 10);
    msn_pathres_free(pr);
}

int main(void)
{
    MSN_RUN(test_unique_prefix);
    MSN_RUN(test_revisit_is_null);
    MSN_RUN(test_ambiguous_without_anchor);
    MSN_RUN(test_ambiguous_resolved_by_adjacency);
    MSN_RUN(test_two_adjacent_survivors);
    MSN_RUN(test_chain_break_resets_anchor);
    MSN_RUN(test_mixed_case);
    MSN_RUN(test_hop_sizes);
    MSN_RUN(test_render);
    MSN_RUN(test_edges_normalized);
    MSN_RUN(test_load_sqlite);
    MSN_RUN(test_random_against_reference);
    return msn_test_done();
}
