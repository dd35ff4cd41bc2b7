/* json.c: see json.h. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const char hexd[] = "0123456789abcdef";

void msn_json_strn(msn_buf_t *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    msn_buf_reserve(b, len + 2);
    msn_buf_putc(b, '"');
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
            size_t j = i + 1;
            while (j < len && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\' && p[j] != '<' &&
                   p[j] != '>' && p[j] != '&')
                j++;
            msn_buf_append(b, p + i, j - i);
            i = j;
            continue;
        }
        if (c < 0x80) {
            switch (c) {
            case '"':
                msn_buf_append(b, "\\\"", 2);
                break;
            case '\\':
                msn_buf_append(b, "\\\\", 2);
                break;
            case '\n':
                msn_buf_append(b, "\\n", 2);
                break;
            case '\r':
                msn_buf_append(b, "\\r", 2);
                break;
            case '\t':
                msn_buf_append(b, "\\t", 2);
                break;
            case '\b':
                msn_buf_append(b, "\\b", 2);
                break;
            case '\f':
                msn_buf_append(b, "\\f", 2);
                break;
            default: {
                char e[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
                msn_buf_append(b, e, 6);
            }
            }
            i++;
            continue;
        }
        size_t n = msn_utf8_len(p + i, len - i);
        if (n == 0) {
            msn_buf_append(b, "\\ufffd", 6);
            i++;
            continue;
        }
        if (n == 3 && p[i] == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
            msn_buf_append(b, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
        } else {
            msn_buf_append(b, p + i, n);
        }
        i += n;
    }
    msn_buf_putc(b, '"');
}

void msn_json_str_or_null(msn_buf_t *b, const char *s)
{
    if (s == NULL)
        msn_buf_append(b, "null", 4);
    else
        msn_json_strn(b, s, strlen(s));
}

size_t msn_json_format_double(char *out, double v)
{
    if (isnan(v) || isinf(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    if (v == 0) {
        memcpy(out, "0", 2);
        return 1;
    }
    /* Fast path for values with at most 6 decimals below 1e15 (SNR, RSSI, coordinates,
       rounded figures): the fewest decimals k for which n = round(v * 10^k) is an exact
       integer (below 2^53) and n / 10^k is v itself. That division is correctly rounded,
       so the k-decimal text parses back to v, and no shorter text does (k - 1 decimals
       failed): it is the shortest round-trip form. */
    if (fabs(v) >= 1e-6 && fabs(v) < 1e15) {
        static const int64_t p10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};
        for (int k = 0; k <= 6; k++) {
            double n = round(v * (double)p10[k]);
            if (fabs(n) >= 9007199254740992.0)
                break;
            if (n / (double)p10[k] != v)
                continue;
            int64_t m = (int64_t)n;
            uint64_t a = m < 0 ? (uint64_t)(-m) : (uint64_t)m;
            size_t o = 0;
            if (m < 0)
                out[o++] = '-';
            o += (size_t)sprintf(out + o, "%llu", (unsigned long long)(a / (uint64_t)p10[k]));
            if (k > 0)
                o += (size_t)sprintf(out + o, ".%0*llu", k, (unsigned long long)(a % (uint64_t)p10[k]));
            return o;
        }
    }
    /* Shortest digits that round-trip: try increasing precision in %e form. */
    char e[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *q = e;
    int neg = 0;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    double av = fabs(v);
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (av < 1e-6 || av >= 1e21) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, nd - 1);
            o += nd - 1;
        }
        o += (size_t)sprintf(out + o, "e%c%d", exp10 < 0 ? '-' : '+', abs(exp10));
        return o;
    }
    if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++)
            out[o++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)exp10 + 1 < nd) {
            out[o++] = '.';
            for (size_t i = (size_t)exp10 + 1; i < nd; i++)
                out[o++] = digits[i];
        }
    } else {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = -1; i > exp10; i--)
            out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    }
    out[o] = '\0';
    return o;
}

void msn_json_double(msn_buf_t *b, double v)
{
    char tmp[48];
    size_t n = msn_json_format_double(tmp, v);
    msn_buf_append(b, tmp, n);
}

void msn_json_key(msn_buf_t *b, const char *key)
{
    msn_buf_putc(b, '"');
    msn_buf_puts(b, key);
    msn_buf_append(b, "\":", 2);
}
