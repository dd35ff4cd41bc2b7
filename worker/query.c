/* query.c: see query.h. */
#include "query.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A printable excerpt of raw bytes for an error message (at most 40 of them). */
static void excerpt(const char *p, size_t n, char out[48])
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < 40; i++) {
        unsigned char c = (unsigned char)p[i];
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (n > 40) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
}

/* Decodes p[0..n) in place (the result is never longer) and NUL-terminates it at p[o],
 * o <= n. Returns 0, -1 on a malformed escape, -2 on a NUL byte (raw or %00), -3 on
 * another control byte. */
static int decode(char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '+') {
            p[o++] = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval(p[i + 1])) < 0 || (lo = hexval(p[i + 2])) < 0)
                return -1;
            int v = hi << 4 | lo;
            if (v == 0)
                return -2;
            if (v < 0x20 || v == 0x7f)
                return -3;
            p[o++] = (char)v;
            i += 2;
        } else if (c == 0) {
            return -2;
        } else if (c < 0x20 || c == 0x7f) {
            return -3;
        } else {
            p[o++] = (char)c;
        }
    }
    p[o] = '\0';
    return 0;
}

static const char *why(int rc)
{
    switch (rc) {
    case -1: return "malformed percent-encoding (expected %XX with two hex digits)";
    case -2: return "it contains a NUL byte";
    default: return "it contains a control character";
    }
}

int msn_query_parse(char *buf, size_t len, msn_qparam_t *out, int max, int *n, char *err, size_t errlen)
{
    *n = 0;
    buf[len] = '\0';
    for (size_t i = 0; i <= len;) {
        size_t start = i, end = i;
        while (end < len && buf[end] != '&')
            end++;
        i = end + 1;
        if (end == start)
            continue; /* an empty pair */
        if (*n >= max) {
            snprintf(err, errlen, "too many query parameters (the limit is %d)", max);
            return -1;
        }
        /* name [pair, pair + nlen), value [pair + nlen + 1, buf + end): each is decoded in
           place and terminated within its own range (at the '=', at the '&' or at buf[len]) */
        char *pair = buf + start;
        size_t plen = end - start;
        char *eq = memchr(pair, '=', plen);
        size_t nlen = eq ? (size_t)(eq - pair) : plen;
        char raw_name[48];
        excerpt(pair, nlen, raw_name);
        int nrc = decode(pair, nlen);
        if (nrc < 0) {
            snprintf(err, errlen, "invalid parameter name '%s': %s", raw_name, why(nrc));
            return -1;
        }
        char *value = eq ? eq + 1 : pair + strlen(pair); /* no '=': the empty string */
        int vrc = eq ? decode(value, plen - nlen - 1) : 0;
        if (vrc < 0) {
            char name[48];
            excerpt(pair, strlen(pair), name);
            snprintf(err, errlen, "invalid %s: %s", name, why(vrc));
            return -1;
        }
        out[*n].name = pair;
        out[*n].value = value;
        (*n)++;
    }
    return 0;
}
