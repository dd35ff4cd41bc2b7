/*
 * encode.c: building MeshCore packets (frame + every payload layout), for tests and data
 * generators: signed adverts (Ed25519 seed) and encrypted channel messages (channel key)
 * are real packets that the decoder, and CoreScope, accept.
 */
#include "codec_int.h"

#include <string.h>

/* A bounded writer over out[0..cap), never larger than MSN_MAX_PAYLOAD unless told. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    int bad;
} wr_t;

static wr_t wr_open(uint8_t *out, size_t cap, size_t limit)
{
    wr_t w = {out, 0, cap < limit ? cap : limit, 0};
    return w;
}

static void put(wr_t *w, const void *src, size_t n)
{
    if (w->bad || n > w->cap - w->n) {
        w->bad = 1;
        return;
    }
    if (n)
        memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put8(wr_t *w, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(w, &b, 1);
}

static void put16(wr_t *w, unsigned v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(w, b, 2);
}

static void put32(wr_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}

static int wr_done(const wr_t *w)
{
    return w->bad ? -1 : (int)w->n;
}

int msn_encode_packet(const msn_frame_t *f, const uint8_t *payload, size_t n, uint8_t *out, size_t cap)
{
    if (f->route_type < 0 || f->route_type > 3 || f->payload_type < 0 || f->payload_type > 15 ||
        f->payload_version < 0 || f->payload_version > 3 || f->hash_count < 0 || f->hash_count > 63 ||
        n > MSN_MAX_PAYLOAD)
        return -1;
    int hs = f->hash_count == 0 && (f->hash_size < 1 || f->hash_size > 3) ? 1 : f->hash_size;
    if (hs < 1 || hs > 3 || hs * f->hash_count > MSN_MAX_PATH_BYTES)
        return -1;
    if (f->hash_count > 0 && f->path == NULL)
        return -1;
    wr_t w = wr_open(out, cap, MSN_MAX_PACKET);
    put8(&w, (unsigned)(f->payload_version << 6 | f->payload_type << 2 | f->route_type));
    if (f->route_type == MSN_ROUTE_TRANSPORT_FLOOD || f->route_type == MSN_ROUTE_TRANSPORT_DIRECT)
        put(&w, f->transport, 4);
    put8(&w, (unsigned)((hs - 1) << 6 | f->hash_count));
    put(&w, f->path, (size_t)hs * (size_t)f->hash_count);
    put(&w, payload, n);
    return wr_done(&w);
}

int msn_encode_direct(uint8_t dest, uint8_t src, const uint8_t mac[2], const uint8_t *data, size_t n, uint8_t *out,
                      size_t cap)
{
    wr_t w = wr_open(out, cap, MSN_MAX_PAYLOAD);
    put8(&w, dest);
    put8(&w, src);
    put(&w, mac, 2);
    put(&w, data, n);
    return wr_done(&w);
}

int msn_encode_ack(uint32_t crc, int attempt, int rnd, uint8_t *out, size_t cap)
{
    if (attempt > 255 || rnd > 255 || (rnd >= 0 && attempt < 0))
        return -1;
    wr_t w = wr_open(out, cap, MSN_MAX_PAYLOAD);
    put32(&w, crc);
    if (attempt >= 0)
        put8(&w, (unsigned)attempt);
    if (rnd >= 0)
        put8(&w, (unsigned)rnd);
    return wr_done(&w);
}

int msn_encode_appdata(const msn_appdata_t *a, uint8_t *out, size_t cap)
{
    if (a->type < 0 || a->type > 15)
        return -1;
    unsigned flags = (unsigned)a->type;
    if (a->has_location)
        flags |= 0x10;
    if (a->has_feat1)
        flags |= 0x20;
    if (a->has_feat2)
        flags |= 0x40;
    if (a->name != NULL)
        flags |= 0x80;
    wr_t w = wr_open(out, cap, MSN_MAX_PAYLOAD - 100);
    put8(&w, flags);
    if (a->has_location) {
        put32(&w, (uint32_t)a->lat_e6);
        put32(&w, (uint32_t)a->lon_e6);
    }
    if (a->has_feat1)
        put16(&w, a->feat1);
    if (a->has_feat2)
        put16(&w, a->feat2);
    if (a->name != NULL)
        put(&w, a->name, strlen(a->name));
    if (a->has_telemetry) {
        if (a->name != NULL)
            put8(&w, 0);
        put16(&w, a->battery_mv);
        put16(&w, (uint16_t)a->temperature_raw);
    }
    return wr_done(&w);
}

int msn_encode_advert(const uint8_t seed[32], uint32_t timestamp, const uint8_t *appdata, size_t n, uint8_t *out,
                      size_t cap)
{
    if (n > MSN_MAX_PAYLOAD - 100 || cap < 100 + n)
        return -1;
    uint8_t msg[36 + MSN_MAX_PAYLOAD];
    if (msn_ed25519_public(seed, msg) < 0)
        return -1;
    msg[32] = (uint8_t)timestamp;
    msg[33] = (uint8_t)(timestamp >> 8);
    msg[34] = (uint8_t)(timestamp >> 16);
    msg[35] = (uint8_t)(timestamp >> 24);
    if (n)
        memcpy(msg + 36, appdata, n);
    uint8_t sig[64];
    if (msn_codec__ed25519_sign(seed, msg, 36 + n, sig) < 0)
        return -1;
    memcpy(out, msg, 36);
    memcpy(out + 36, sig, 64);
    if (n)
        memcpy(out + 100, appdata, n);
    return (int)(100 + n);
}

int msn_encode_grp_txt_plain(uint32_t timestamp, uint8_t flags, const char *text, uint8_t *out, size_t cap)
{
    wr_t w = wr_open(out, cap, MSN_PLAIN_MAX);
    put32(&w, timestamp);
    put8(&w, flags);
    put(&w, text, strlen(text));
    return wr_done(&w);
}

int msn_encode_grp_data_plain(uint16_t data_type, const uint8_t *blob, size_t n, uint8_t *out, size_t cap)
{
    if (n > 255)
        return -1;
    wr_t w = wr_open(out, cap, MSN_PLAIN_MAX);
    put16(&w, data_type);
    put8(&w, (unsigned)n);
    put(&w, blob, n);
    return wr_done(&w);
}

int msn_encode_group(const uint8_t key[16], const uint8_t *plain, size_t n, uint8_t *out, size_t cap)
{
    size_t cn = (n + 15) / 16 * 16;
    if (cn == 0)
        cn = 16;
    if (3 + cn > MSN_MAX_PAYLOAD || 3 + cn > cap)
        return -1;
    uint8_t padded[MSN_MAX_PAYLOAD] = {0};
    memcpy(padded, plain, n);
    uint8_t d[32];
    if (msn_sha256(key, 16, d) < 0)
        return -1;
    if (msn_codec__aes128_ecb(key, 1, padded, cn, out + 3) < 0)
        return -1;
    uint8_t secret[32] = {0}, mac[32];
    memcpy(secret, key, 16);
    if (msn_codec__hmac_sha256(secret, 32, out + 3, cn, NULL, 0, mac) < 0)
        return -1;
    out[0] = d[0];
    out[1] = mac[0];
    out[2] = mac[1];
    return (int)(3 + cn);
}

int msn_encode_anon_req(uint8_t dest, const uint8_t eph[32], const uint8_t mac[2], const uint8_t *data, size_t n,
                        uint8_t *out, size_t cap)
{
    wr_t w = wr_open(out, cap, MSN_MAX_PAYLOAD);
    put8(&w, dest);
    put(&w, eph, 32);
    put(&w, mac, 2);
    put(&w, data, n);
    return wr_done(&w);
}

int msn_encode_trace(uint32_t tag, uint32_t auth_code, uint8_t flags, const uint8_t *route, size_t n, uint8_t *out,
                     size_t cap)
{
    wr_t w = wr_open(out, cap, MSN_MAX_PAYLOAD);
    put32(&w, tag);
    put32(&w, auth_code);
    put8(&w, flags);
    put(&w, route, n);
    return wr_done(&w);
}

int msn_encode_multipart(int remaining, int inner_type, const uint8_t *data, size_t n, uint8_t *out, size_t cap)
{
    if (remaining < 0 || remaining > 15 || inner_type < 0 || inner_type > 15)
        return -1;
    wr_t w = wr_open(out, cap, MSN_MAX_PAYLOAD);
    put8(&w, (unsigned)(remaining << 4 | inner_type));
    put(&w, data, n);
    return wr_done(&w);
}

int msn_encode_bytes(int b0, const uint8_t *data, size_t n, uint8_t *out, size_t cap)
{
    if (b0 > 255)
        return -1;
    wr_t w = wr_open(out, cap, MSN_MAX_PAYLOAD);
    if (b0 >= 0)
        put8(&w, (unsigned)b0);
    put(&w, data, n);
    return wr_done(&w);
}
