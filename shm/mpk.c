/* mpk.c: see mpk.h. Format reference: the msgpack specification. */
#include "mpk.h"

#include <string.h>

void msn_mpk_reader_init(msn_mpk_reader_t *r, const void *data, size_t len)
{
    r->p = data;
    r->end = r->p + len;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

msn_mpk_type_t msn_mpk_peek(const msn_mpk_reader_t *r)
{
    if (r->p >= r->end)
        return MSN_MPK_END;
    uint8_t c = *r->p;
    if (c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3))
        return MSN_MPK_INT;
    if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf)
        return MSN_MPK_MAP;
    if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd)
        return MSN_MPK_ARRAY;
    if ((c & 0xe0) == 0xa0 || (c >= 0xd9 && c <= 0xdb))
        return MSN_MPK_STR;
    if (c == 0xc0)
        return MSN_MPK_NIL;
    if (c == 0xc2 || c == 0xc3)
        return MSN_MPK_BOOL;
    if (c == 0xca || c == 0xcb)
        return MSN_MPK_FLOAT;
    if (c >= 0xc4 && c <= 0xc6)
        return MSN_MPK_BIN;
    return MSN_MPK_OTHER;
}

#define NEED(n)                                                                                              \
    do {                                                                                                     \
        if ((size_t)(r->end - r->p) < (size_t)(n))                                                           \
            return -1;                                                                                       \
    } while (0)

int msn_mpk_read_nil(msn_mpk_reader_t *r)
{
    NEED(1);
    if (*r->p != 0xc0)
        return -1;
    r->p++;
    return 0;
}

int msn_mpk_read_bool(msn_mpk_reader_t *r, int *v)
{
    NEED(1);
    if (*r->p != 0xc2 && *r->p != 0xc3)
        return -1;
    *v = *r->p == 0xc3;
    r->p++;
    return 0;
}

int msn_mpk_read_int(msn_mpk_reader_t *r, int64_t *v)
{
    NEED(1);
    uint8_t c = *r->p;
    if (c <= 0x7f) {
        *v = c;
        r->p++;
        return 0;
    }
    if (c >= 0xe0) {
        *v = (int8_t)c;
        r->p++;
        return 0;
    }
    int n;
    int sign;
    switch (c) {
    case 0xcc: n = 1; sign = 0; break;
    case 0xcd: n = 2; sign = 0; break;
    case 0xce: n = 4; sign = 0; break;
    case 0xcf: n = 8; sign = 0; break;
    case 0xd0: n = 1; sign = 1; break;
    case 0xd1: n = 2; sign = 1; break;
    case 0xd2: n = 4; sign = 1; break;
    case 0xd3: n = 8; sign = 1; break;
    default: return -1;
    }
    NEED(1 + n);
    uint64_t u = be(r->p + 1, n);
    if (sign && n < 8) {
        uint64_t m = 1ull << (n * 8 - 1);
        *v = (int64_t)((u ^ m) - m);
    } else {
        *v = (int64_t)u;
    }
    r->p += 1 + n;
    return 0;
}

int msn_mpk_read_double(msn_mpk_reader_t *r, double *v)
{
    NEED(1);
    uint8_t c = *r->p;
    if (c == 0xcb) {
        NEED(9);
        uint64_t u = be(r->p + 1, 8);
        memcpy(v, &u, 8);
        r->p += 9;
        return 0;
    }
    if (c == 0xca) {
        NEED(5);
        uint32_t u = (uint32_t)be(r->p + 1, 4);
        float f;
        memcpy(&f, &u, 4);
        *v = f;
        r->p += 5;
        return 0;
    }
    int64_t i;
    if (msn_mpk_read_int(r, &i) < 0)
        return -1;
    *v = (double)i;
    return 0;
}

static int read_len(msn_mpk_reader_t *r, uint32_t *len, uint8_t fix_mask, uint8_t fix_tag, uint8_t fix_max,
                    uint8_t t8, uint8_t t16, uint8_t t32)
{
    NEED(1);
    uint8_t c = *r->p;
    size_t hdr;
    if (fix_mask && (c & fix_mask) == fix_tag) {
        *len = c & fix_max;
        hdr = 1;
    } else if (t8 && c == t8) {
        NEED(2);
        *len = r->p[1];
        hdr = 2;
    } else if (c == t16) {
        NEED(3);
        *len = (uint32_t)be(r->p + 1, 2);
        hdr = 3;
    } else if (c == t32) {
        NEED(5);
        *len = (uint32_t)be(r->p + 1, 4);
        hdr = 5;
    } else {
        return -1;
    }
    r->p += hdr;
    return 0;
}

static int read_bytes(msn_mpk_reader_t *r, const char **s, uint32_t *len, int bin)
{
    const uint8_t *save = r->p;
    int rc = bin ? read_len(r, len, 0, 0, 0, 0xc4, 0xc5, 0xc6) : read_len(r, len, 0xe0, 0xa0, 0x1f, 0xd9, 0xda, 0xdb);
    if (rc < 0)
        return -1;
    if ((size_t)(r->end - r->p) < *len) {
        r->p = save;
        return -1;
    }
    *s = (const char *)r->p;
    r->p += *len;
    return 0;
}

int msn_mpk_read_str(msn_mpk_reader_t *r, const char **s, uint32_t *len)
{
    return read_bytes(r, s, len, 0);
}

int msn_mpk_read_bin(msn_mpk_reader_t *r, const char **s, uint32_t *len)
{
    return read_bytes(r, s, len, 1);
}

int msn_mpk_read_array(msn_mpk_reader_t *r, uint32_t *n)
{
    return read_len(r, n, 0xf0, 0x90, 0x0f, 0, 0xdc, 0xdd);
}

int msn_mpk_read_map(msn_mpk_reader_t *r, uint32_t *n)
{
    return read_len(r, n, 0xf0, 0x80, 0x0f, 0, 0xde, 0xdf);
}

int msn_mpk_skip(msn_mpk_reader_t *r)
{
    const char *s;
    uint32_t n;
    int64_t i;
    double d;
    int b;
    switch (msn_mpk_peek(r)) {
    case MSN_MPK_NIL: return msn_mpk_read_nil(r);
    case MSN_MPK_BOOL: return msn_mpk_read_bool(r, &b);
    case MSN_MPK_INT: return msn_mpk_read_int(r, &i);
    case MSN_MPK_FLOAT: return msn_mpk_read_double(r, &d);
    case MSN_MPK_STR: return msn_mpk_read_str(r, &s, &n);
    case MSN_MPK_BIN: return msn_mpk_read_bin(r, &s, &n);
    case MSN_MPK_ARRAY:
        if (msn_mpk_read_array(r, &n) < 0)
            return -1;
        for (uint32_t k = 0; k < n; k++)
            if (msn_mpk_skip(r) < 0)
                return -1;
        return 0;
    case MSN_MPK_MAP:
        if (msn_mpk_read_map(r, &n) < 0)
            return -1;
        for (uint32_t k = 0; k < 2 * n; k++)
            if (msn_mpk_skip(r) < 0)
                return -1;
        return 0;
    default: return -1;
    }
}

void msn_mpk_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void msn_mpk_str(msgpack_packer *pk, const char *s)
{
    msn_mpk_strn(pk, s, strlen(s));
}

void msn_mpk_str_or_nil(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        msgpack_pack_nil(pk);
    else
        msn_mpk_str(pk, s);
}

void msn_mpk_kv_i64(msgpack_packer *pk, const char *key, int64_t v)
{
    msn_mpk_str(pk, key);
    msgpack_pack_int64(pk, v);
}

void msn_mpk_kv_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
    msn_mpk_str(pk, key);
    msgpack_pack_uint64(pk, v);
}
