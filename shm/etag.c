/* etag.c: see etag.h. */
#include "etag.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "hash.h"

/* Four independent lanes of multiply-rotate rounds over 32-byte blocks (the structure of
 * xxHash64), then a final avalanche: several GB/s, so validators cost little next to the
 * copy of the body. */
#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t round64(uint64_t acc, uint64_t in)
{
    return rotl(acc + in * P2, 31) * P1;
}

uint64_t msn_hash64(const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t n = len;
    uint64_t h;
    if (n >= 32) {
        uint64_t a = P1 + P2, b = P2, c = 0, d = (uint64_t)0 - P1;
        while (n >= 32) {
            uint64_t w[4];
            memcpy(w, p, 32);
            a = round64(a, w[0]);
            b = round64(b, w[1]);
            c = round64(c, w[2]);
            d = round64(d, w[3]);
            p += 32;
            n -= 32;
        }
        h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
        h = (h ^ round64(0, a)) * P1 + P3;
        h = (h ^ round64(0, b)) * P1 + P3;
        h = (h ^ round64(0, c)) * P1 + P3;
        h = (h ^ round64(0, d)) * P1 + P3;
    } else {
        h = P3;
    }
    h += (uint64_t)len;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = rotl(h ^ round64(0, w), 27) * P1 + P3;
        p += 8;
        n -= 8;
    }
    uint64_t t = 0;
    memcpy(&t, p, n);
    h ^= round64(0, t);
    return msn_mix64(h);
}

void msn_etag_of(const void *body, size_t len, char out[24])
{
    snprintf(out, 24, "\"%016llx\"", (unsigned long long)msn_hash64(body, len));
}

int msn_etag_matches(const char *v, size_t n, const char *etag)
{
    size_t el = strlen(etag);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == ','))
            i++;
        if (i < n && v[i] == '*')
            return 1;
        if (i + 2 <= n && v[i] == 'W' && v[i + 1] == '/')
            i += 2;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && v[end - 1] == ' ')
            end--;
        if (end - start == el && memcmp(v + start, etag, el) == 0)
            return 1;
    }
    return 0;
}

int msn_gzip(const void *data, size_t len, int level, msn_buf_t *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t bound = deflateBound(&zs, (uLong)len);
    msn_buf_reserve(out, bound);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    if (rc != Z_STREAM_END) {
        deflateEnd(&zs);
        return -1;
    }
    out->len += zs.total_out;
    deflateEnd(&zs);
    return 0;
}
