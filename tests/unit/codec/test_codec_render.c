/*
 * test_codec_render.c: the number formatting shortcut of the decoded_json renderer.
 *
 * lat/lon (int32 / 1e6), temperature_c (int16 / 100) and snrValues (int8 / 4) are
 * rendered from their integers instead of formatting a double; the text must be exactly
 * what Go's encoding/json (msn_json_double) prints for the double value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/codec/codec_int.h"
#include "shm/json.h"
#include "testlib.h"

static int same(int64_t v, int places, double d)
{
    static msn_buf_t a, b;
    msn_buf_reset(&a);
    msn_buf_reset(&b);
    msn_codec__put_decimal(&a, v, places);
    msn_json_double(&b, d);
    if (a.len == b.len && memcmp(a.data, b.data, a.len) == 0)
        return 1;
    fprintf(stderr, "v=%lld/10^%d: %.*s vs %.*s\n", (long long)v, places, (int)a.len, a.data, (int)b.len, b.data);
    return 0;
}

static void test_examples(void)
{
    msn_buf_t b = MSN_BUF_INIT;
    msn_codec__put_decimal(&b, 37658604, 6);
    msn_buf_putc(&b, ' ');
    msn_codec__put_decimal(&b, -122058554, 6);
    msn_buf_putc(&b, ' ');
    msn_codec__put_decimal(&b, 0, 6);
    msn_buf_putc(&b, ' ');
    msn_codec__put_decimal(&b, -5000, 2);
    msn_buf_putc(&b, ' ');
    msn_codec__put_decimal(&b, 1, 6);
    msn_buf_putc(&b, ' ');
    msn_codec__put_decimal(&b, -275, 2);
    CHECK_EQ_STR(msn_buf_cstr(&b), "37.658604 -122.058554 0 -50 0.000001 -2.75");
    msn_buf_free(&b);
}

static void test_temperature_and_snr_exhaustive(void)
{
    int bad = 0;
    for (int v = -32768; v <= 32767; v++)
        bad += !same(v, 2, (double)(int16_t)v / 100.0);
    for (int v = -128; v <= 127; v++)
        bad += !same(v * 25, 2, (double)(int8_t)v / 4.0);
    CHECK_EQ_INT(bad, 0);
}

static void test_coordinates(void)
{
    int bad = 0;
    /* Edges, then a deterministic pseudo-random sweep over the whole int32 range. */
    const int32_t edges[] = {0, 1, -1, 10, 999999, 1000000, -1000000, 90000000, -180000000, 2147483647, -2147483647 - 1};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        bad += !same(edges[i], 6, (double)edges[i] / 1e6);
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < 300000 && bad < 10; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        int32_t v = (int32_t)(uint32_t)s;
        if (i % 3 == 0)
            v %= 200000000; /* plausible coordinates */
        bad += !same(v, 6, (double)v / 1e6);
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    MSN_RUN(test_examples);
    MSN_RUN(test_temperature_and_snr_exhaustive);
    MSN_RUN(test_coordinates);
    return msn_test_done();
}
