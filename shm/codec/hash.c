/*
 * hash.c: the transmission content hash (§2.7) and the derived transmission columns
 * (channel_hash, from_pubkey, scope_name; §2.8).
 *
 * The hash is SHA-256 over payload_type ‖ [path_byte, 0x00 for TRACE] ‖ payload, so it
 * does not depend on route type, version or path: every copy of a flooded packet hashes
 * the same, which makes it the dedup key. Only TRACE mixes in its (uint16 LE) path length.
 */
#include "codec_int.h"

#include "shm/hex.h"

#include <stdlib.h>
#include <string.h>

/* Byte i of raw, whose every char is a hex digit (checked by the caller). */
static uint8_t byte_at(const char *raw, size_t i)
{
    return (uint8_t)msn_hex_byte(raw + 2 * i);
}

static size_t fallback(const char *raw, size_t len, char out[17])
{
    size_t n = len < 16 ? len : 16;
    memcpy(out, raw, n);
    out[n] = '\0';
    return n;
}

static void digest_hex(const uint8_t *prefix, size_t np, const uint8_t *payload, size_t n, char out[17])
{
    uint8_t d[32];
    if (msn_codec__sha256_2(prefix, np, payload, n, d) < 0)
        memset(d, 0, sizeof(d));
    msn_hex_encode(d, 8, out, 0);
}

size_t msn_codec_content_hash(const char *raw, size_t len, char out[17])
{
    if (len % 2 != 0)
        return fallback(raw, len, out);
    for (size_t i = 0; i < len; i++)
        if (msn_hexval(raw[i]) < 0)
            return fallback(raw, len, out);
    size_t n = len / 2;
    if (n < 2)
        return fallback(raw, len, out);
    uint8_t header = byte_at(raw, 0);
    size_t off = 1;
    if ((header & 3) == MSN_ROUTE_TRANSPORT_FLOOD || (header & 3) == MSN_ROUTE_TRANSPORT_DIRECT)
        off += 4;
    if (off >= n)
        return fallback(raw, len, out);
    uint8_t pb = byte_at(raw, off++);
    size_t start = off + ((size_t)(pb >> 6) + 1) * (pb & 0x3F); /* size 4 is hashed as 4 */
    if (start > n)
        return fallback(raw, len, out);

    uint8_t prefix[3] = {(uint8_t)((header >> 2) & 0x0F), pb, 0};
    size_t np = prefix[0] == MSN_PT_TRACE ? 3 : 1;
    /* Decode the payload in chunks so that arbitrarily long input needs no allocation. */
    uint8_t chunk[256];
    size_t pn = n - start;
    if (pn <= sizeof(chunk)) {
        for (size_t i = 0; i < pn; i++)
            chunk[i] = byte_at(raw, start + i);
        digest_hex(prefix, np, chunk, pn, out);
        return 16;
    }
    uint8_t *big = msn_xmalloc(pn);
    for (size_t i = 0; i < pn; i++)
        big[i] = byte_at(raw, start + i);
    digest_hex(prefix, np, big, pn, out);
    free(big);
    return 16;
}

void msn_packet_content_hash(const msn_packet_t *pkt, char out[17])
{
    uint8_t prefix[3] = {pkt->payload_type, pkt->path_byte, 0};
    size_t np = pkt->payload_type == MSN_PT_TRACE ? 3 : 1;
    digest_hex(prefix, np, pkt->bytes + pkt->payload.off, pkt->payload.len, out);
}

const char *msn_packet_channel_hash(const msn_packet_t *pkt, char tmp[8])
{
    if (pkt->payload_type != MSN_PT_GRP_TXT)
        return NULL;
    const msn_payload_t *p = &pkt->p;
    if (strcmp(p->type, "CHAN") == 0 && p->channel != NULL && p->channel[0] != '\0')
        return p->channel;
    if (strcmp(p->type, "GRP_TXT") == 0 && (p->has & MSN_HAS_CHANNEL_HASH_HEX)) {
        static const char d[] = "0123456789ABCDEF";
        memcpy(tmp, "enc_", 4);
        tmp[4] = d[(p->channel_hash >> 4) & 15];
        tmp[5] = d[p->channel_hash & 15];
        tmp[6] = '\0';
        return tmp;
    }
    return NULL;
}

int msn_packet_from_pubkey(const msn_packet_t *pkt, char out[65])
{
    out[0] = '\0';
    if (pkt->payload_type != MSN_PT_ADVERT || pkt->p.pub_key.len != 32)
        return 0;
    msn_hex_encode(pkt->bytes + pkt->p.pub_key.off, 32, out, 0);
    return 1;
}

int msn_packet_scope(const msn_packet_t *pkt, const char *const *regions, int n, const char **name)
{
    *name = "";
    if (!pkt->has_transport || (pkt->transport[0] == 0 && pkt->transport[1] == 0))
        return -1;
    if (pkt->payload.len == 0)
        return 0;
    uint8_t pt = pkt->payload_type;
    for (int i = 0; i < n; i++) {
        const char *r = regions[i];
        if (r == NULL || r[0] == '\0')
            continue;
        uint8_t key[32], mac[32];
        int ok = r[0] == '#' ? msn_sha256(r, strlen(r), key)
                             : msn_codec__sha256_2((const uint8_t *)"#", 1, (const uint8_t *)r, strlen(r), key);
        if (ok < 0)
            continue;
        if (msn_codec__hmac_sha256(key, 16, &pt, 1, pkt->bytes + pkt->payload.off, pkt->payload.len, mac) < 0)
            continue;
        unsigned code = (unsigned)mac[0] | (unsigned)mac[1] << 8;
        if (code == 0)
            code = 1;
        else if (code == 0xFFFF)
            code = 0xFFFE;
        /* code1 is the hex of the first two transport bytes; the code is written LE. */
        if (pkt->transport[0] == (code & 0xFF) && pkt->transport[1] == (code >> 8)) {
            *name = r;
            return 1;
        }
    }
    return 0;
}
