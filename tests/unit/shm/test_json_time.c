/* test_json_time.c: Go-compatible JSON emission (shm/json.c) and time formats (shm/timeutil.c). */
#include <string.h>
#include <time.h>

#include "shm/json.h"
#include "shm/timeutil.h"
#include "testlib.h"

static const char *fmt(double v)
{
    static char out[64];
    msn_json_format_double(out, v);
    return out;
}

static void test_doubles(void)
{
    CHECK_EQ_STR(fmt(0), "0");
    CHECK_EQ_STR(fmt(37.658604), "37.658604");
    CHECK_EQ_STR(fmt(-3.5), "-3.5");
    CHECK_EQ_STR(fmt(-121.92734), "-121.92734");
    CHECK_EQ_STR(fmt(100), "100");
    CHECK_EQ_STR(fmt(0.1), "0.1");
    CHECK_EQ_STR(fmt(1e-7), "1e-7");
    CHECK_EQ_STR(fmt(0.000001), "0.000001");
    CHECK_EQ_STR(fmt(1e21), "1e+21");
    CHECK_EQ_STR(fmt(123456789012345678.0), "123456789012345680");
    CHECK_EQ_STR(fmt(-0.25), "-0.25");
}

static void test_strings(void)
{
    msn_buf_t b = MSN_BUF_INIT;
    const char in[] = "a<b>&\"\\\n\t\x01\xe2\x80\xa8 \xff ok";
    msn_json_strn(&b, in, sizeof(in) - 1);
    CHECK_EQ_STR(msn_buf_cstr(&b), "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\t\\u0001\\u2028 \\ufffd ok\"");
    msn_buf_reset(&b);
    msn_json_strn(&b, "\xf0\x9f\x90\xb0", 4); /* valid 4-byte UTF-8 passes through */
    CHECK_EQ_STR(msn_buf_cstr(&b), "\"\xf0\x9f\x90\xb0\"");
    msn_buf_free(&b);
}

static void test_mono(void)
{
    int64_t a = msn_mono_ms();
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    int64_t b = msn_mono_ms();
    CHECK(a > 0);
    CHECK(b - a >= 20);
}

static void test_times(void)
{
    int64_t ms;
    CHECK_EQ_INT(msn_parse_time_ms("2026-03-27T21:05:45.789Z", &ms), 0);
    CHECK_EQ_INT(ms, 1774645545789LL);
    CHECK_EQ_INT(msn_parse_time_ms("2026-03-27T21:05:45Z", &ms), 0);
    CHECK_EQ_INT(ms, 1774645545000LL);
    CHECK_EQ_INT(msn_parse_time_ms("2026-03-27 21:05:45", &ms), 0);
    CHECK_EQ_INT(ms, 1774645545000LL);
    CHECK_EQ_INT(msn_parse_time_ms("2026-03-27T23:05:45+02:00", &ms), 0);
    CHECK_EQ_INT(ms, 1774645545000LL);
    CHECK_EQ_INT(msn_parse_time_ms("1970-01-01", &ms), 0);
    CHECK_EQ_INT(ms, 0);
    CHECK_EQ_INT(msn_parse_time_ms("garbage", &ms), -1);
    CHECK_EQ_INT(msn_parse_time_ms("2026-13-01T00:00:00Z", &ms), -1);
    CHECK_EQ_INT(msn_parse_time_ms("2026-03-27T21:05:45Zjunk", &ms), -1);
    char out[32];
    msn_format_iso_ms(out, 1774645545789LL);
    CHECK_EQ_STR(out, "2026-03-27T21:05:45.789Z");
    msn_format_iso_s(out, 1774645545);
    CHECK_EQ_STR(out, "2026-03-27T21:05:45Z");
}

int main(void)
{
    MSN_RUN(test_doubles);
    MSN_RUN(test_strings);
    MSN_RUN(test_times);
    MSN_RUN(test_mono);
    return msn_test_done();
}
