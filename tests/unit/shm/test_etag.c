/* test_etag.c: validators and compression (shm/etag.c). */
#include <string.h>
#include <zlib.h>

#include "shm/etag.h"
#include "testlib.h"

static void test_hash_and_etag(void)
{
    char big[1000];
    memset(big, 'a', sizeof(big));
    uint64_t h1 = msn_hash64(big, sizeof(big));
    big[999] = 'b';
    CHECK(msn_hash64(big, sizeof(big)) != h1); /* the last byte counts */
    big[999] = 'a';
    big[0] = 'b';
    CHECK(msn_hash64(big, sizeof(big)) != h1); /* the first byte counts */
    CHECK(msn_hash64(big, 999) != msn_hash64(big, 1000)); /* the length counts */
    CHECK(msn_hash64("", 0) == msn_hash64("", 0));
    char e1[24], e2[24];
    msn_etag_of("abc", 3, e1);
    msn_etag_of("abc", 3, e2);
    CHECK_EQ_STR(e1, e2);
    CHECK_EQ_INT(strlen(e1), 18);
    CHECK(e1[0] == '"' && e1[17] == '"');
}

static void test_if_none_match(void)
{
    const char *e = "\"0123456789abcdef\"";
    CHECK(msn_etag_matches(e, strlen(e), e));
    const char *list = "\"zzz\", W/\"0123456789abcdef\"";
    CHECK(msn_etag_matches(list, strlen(list), e));
    CHECK(msn_etag_matches("*", 1, e));
    const char *other = "\"0123456789abcdee\"";
    CHECK(!msn_etag_matches(other, strlen(other), e));
    CHECK(!msn_etag_matches("", 0, e));
}

static void test_gzip_round_trip(void)
{
    char body[5000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)('a' + i % 7);
    msn_buf_t gz = MSN_BUF_INIT;
    CHECK_EQ_INT(msn_gzip(body, sizeof(body), 6, &gz), 0);
    CHECK(gz.len > 18 && gz.len < sizeof(body));
    CHECK((unsigned char)gz.data[0] == 0x1f && (unsigned char)gz.data[1] == 0x8b);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    char out[6000];
    CHECK_EQ_INT(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)gz.data;
    zs.avail_in = (uInt)gz.len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = sizeof(out);
    CHECK_EQ_INT(inflate(&zs, Z_FINISH), Z_STREAM_END);
    CHECK_EQ_INT(zs.total_out, sizeof(body));
    CHECK(memcmp(out, body, sizeof(body)) == 0);
    inflateEnd(&zs);
    msn_buf_free(&gz);
}

int main(void)
{
    MSN_RUN(test_hash_and_etag);
    MSN_RUN(test_if_none_match);
    MSN_RUN(test_gzip_round_trip);
    return msn_test_done();
}
