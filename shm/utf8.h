/*
 * utf8.h: UTF-8 by Go's rules (header-only, any process or thread). Go decides what a
 * CoreScope client sees: a byte that does not start a valid sequence (an overlong form, a
 * surrogate, a code point above U+10FFFF, a truncated sequence) is one invalid byte, which
 * encoding/json and the decoder turn into U+FFFD.
 */
#ifndef MSN_UTF8_H
#define MSN_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/** Length (1..4) of the valid UTF-8 sequence at p[0..n) (n > 0), or 0 when p[0] does not
 *  start one. */
static inline size_t msn_utf8_len(const uint8_t *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
        need = 2;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    uint32_t cp = c & (0x7Fu >> need);
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

/** Writes code point cp (at most U+10FFFF) as UTF-8 to u; returns its length (1..4). */
static inline size_t msn_utf8_encode(uint32_t cp, char u[4])
{
    if (cp < 0x80) {
        u[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/** Appends code point cp (at most U+10FFFF) as UTF-8. */
static inline void msn_utf8_put(msn_buf_t *b, uint32_t cp)
{
    char u[4];
    msn_buf_append(b, u, msn_utf8_encode(cp, u));
}

#endif
