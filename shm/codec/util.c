/*
 * util.c: small codec helpers: type names, error texts, hex into a buffer and the advert
 * timestamp format.
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

void msn_codec__buf_hex(msn_buf_t *out, const uint8_t *b, size_t n, int upper)
{
    msn_buf_reserve(out, 2 * n + 1);
    msn_hex_encode(b, n, out->data + out->len, upper);
    out->len += 2 * n;
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
