/*
 * hex.h: hexadecimal digits and byte strings (any process or thread).
 */
#ifndef MSN_HEX_H
#define MSN_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Digit value + 1 by byte, 0 for a byte that is not a hex digit (msn_hexval). */
extern const uint8_t msn_hex__val1[256];

/** The value (0..15) of hex digit c, either case; -1 when c is not a hex digit. */
static inline int msn_hexval(char c)
{
    return (int)msn_hex__val1[(unsigned char)c] - 1;
}

/** The byte (0..255) written by the two hex digits p[0] p[1], either case; -1 when either
 *  is not a hex digit (p[1] is not read when p[0] is a NUL). */
static inline int msn_hex_byte(const char *p)
{
    int hi = msn_hexval(p[0]);
    if (hi < 0)
        return -1;
    int lo = msn_hexval(p[1]);
    return lo < 0 ? -1 : hi << 4 | lo;
}

/** Writes 2n hex chars (lower- or uppercase) plus NUL to out. */
void msn_hex_encode(const uint8_t *b, size_t n, char *out, int upper);
/** Decodes exactly 2*n hex chars (either case) into out. Returns 0, or -1 when hexlen is
 *  not 2*n or a char is not a hex digit (out is then partly written). */
int msn_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n);

#endif
