/* hex.c: see hex.h. */
#include "hex.h"

const uint8_t msn_hex__val1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

void msn_hex_encode(const uint8_t *b, size_t n, char *out, int upper)
{
    const char *d = upper ? hex_upper : hex_lower;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int msn_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
    if (hexlen != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = msn_hexval(hex[2 * i]), lo = msn_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
