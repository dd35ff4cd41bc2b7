/* test_hex.c: hex digits and strings (shm/hex.c) and the error-text helper (shm/err.c). */
#include <string.h>

#include "shm/err.h"
#include "shm/hex.h"
#include "testlib.h"

static void test_hexval(void)
{
    for (int c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
        CHECK_EQ_INT(msn_hexval((char)c), want);
    }
}

static void test_hex_byte(void)
{
    CHECK_EQ_INT(msn_hex_byte("00"), 0);
    CHECK_EQ_INT(msn_hex_byte("7d"), 0x7d);
    CHECK_EQ_INT(msn_hex_byte("Ff"), 0xff);
    CHECK_EQ_INT(msn_hex_byte("aB9"), 0xab); /* reads two digits only */
    CHECK_EQ_INT(msn_hex_byte("g0"), -1);
    CHECK_EQ_INT(msn_hex_byte("0g"), -1);
    CHECK_EQ_INT(msn_hex_byte("1"), -1); /* the NUL is not a digit */
}

static void test_encode_decode(void)
{
    const uint8_t b[4] = {0x00, 0x7d, 0xab, 0xff};
    char hex[9];
    msn_hex_encode(b, 4, hex, 0);
    CHECK_EQ_STR(hex, "007dabff");
    msn_hex_encode(b, 4, hex, 1);
    CHECK_EQ_STR(hex, "007DABFF");
    uint8_t out[4];
    CHECK_EQ_INT(msn_hex_decode("007DabFF", 8, out, 4), 0);
    CHECK(memcmp(out, b, 4) == 0);
    CHECK_EQ_INT(msn_hex_decode("007dab", 6, out, 4), -1); /* length */
    CHECK_EQ_INT(msn_hex_decode("007dabfg", 8, out, 4), -1);
    CHECK_EQ_INT(msn_hex_decode(" 07dabff", 8, out, 4), -1);
}

static void test_set_err(void)
{
    char err[8];
    msn_set_err(err, sizeof(err), "%s %d", "value", 12345);
    CHECK_EQ_STR(err, "value 1"); /* truncated, terminated */
    msn_set_err(NULL, 0, "%s", "ignored");
    err[0] = 'x';
    msn_set_err(err, 0, "%s", "ignored");
    CHECK(err[0] == 'x');
}

int main(void)
{
    MSN_RUN(test_hexval);
    MSN_RUN(test_hex_byte);
    MSN_RUN(test_encode_decode);
    MSN_RUN(test_set_err);
    return msn_test_done();
}
