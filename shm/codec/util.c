/*
 * util.c: small codec helpers: type names, error texts, hex, UTF-8 (Go's decoding
 * rules) and the advert timestamp format.
 */
#include "codec_int.h"

#include <string.h>
#include <time.h>

static const char *const route_names[4] = {"TRANSPORT_FLOOD", "FLOOD", "DIRECT", "TRANSPORT_DIRECT"};
static const char *const payload_names[16] = {"REQ",       "RESPONSE", "TXT_MSG",  "ACK",     "ADVERT",  "GRP_TXT",
                                              "GRP_DATA",  "ANON_REQ", "PATH",     "TRACE",   "MULTIPART",
                                              "CONTROL",   "UNKNOWN",  "UNKNOWN",  "UNKNOWN", "RAW_CUSTOM"};

const char *msn_route_type_name(int route_type)
{
    return route_names[route_type & 3];
}

const char *msn_payload_type_name(int payload_type)
{
    if (payload_type < 0 || payload_type > 15)
        return "UNKNOWN";
    return payload_names[payload_type];
}

const char *msn_codec_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "ok";
    case MSN_CODEC_EHEX:
        return "invalid hex";
    case MSN_CODEC_ESHORT:
        return "packet too short (need at least header + path length byte)";
    case MSN_CODEC_ETRANSPORT:
        return "packet too short for transport codes";
    case MSN_CODEC_ENOPATH:
        return "packet too short (no path length byte)";
    case MSN_CODEC_EPATHLEN:
        return "invalid path length byte (reserved hash size or more than 64 path bytes)";
    case MSN_CODEC_EPATHRUN:
        return "path runs past the end of the packet";
    case MSN_CODEC_EPAYLOAD:
        return "payload longer than 184 bytes";
    default:
        return "unknown codec error";
    }
}

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

void msn_codec__buf_hex(msn_buf_t *out, const uint8_t *b, size_t n, int upper)
{
    const char *d = upper ? hex_upper : hex_lower;
    msn_buf_reserve(out, 2 * n + 1);
    char *o = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = d[b[i] >> 4];
        o[2 * i + 1] = d[b[i] & 15];
    }
    out->len += 2 * n;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int msn_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
    if (hexlen != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

size_t msn_codec__utf8_len(const uint8_t *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned min;
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
    unsigned cp = c & (0x7Fu >> need);
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

void msn_codec__put_decimal(msn_buf_t *out, int64_t v, int places)
{
    char tmp[32];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    /* Digits, least significant first; at least places+1 of them. */
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0 || n <= places);
    int lo = 0; /* drop trailing fractional zeros */
    while (lo < places && tmp[lo] == '0')
        lo++;
    if (v < 0)
        msn_buf_putc(out, '-');
    for (int i = n - 1; i >= places; i--)
        msn_buf_putc(out, tmp[i]);
    if (lo < places) {
        msn_buf_putc(out, '.');
        for (int i = places - 1; i >= lo; i--)
            msn_buf_putc(out, tmp[i]);
    }
}

void msn_codec__iso_time(uint32_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}
