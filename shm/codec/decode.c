/*
 * decode.c: frame and payload decoding into msn_packet_t (see codec.h).
 *
 * The rules follow CoreScope's ingestor decoder: a frame is rejected only for a bad
 * header/path/size (MSN_CODEC_E*); a payload too short for its type still decodes to
 * {"type":T,"raw":hex,"error":"too short"}. Every decoded string field is a span of
 * pkt->bytes, so nothing is allocated and the hex is produced only when rendering.
 */
#include "codec_int.h"

#include <stdio.h>
#include <string.h>

#include "shm/utf8.h"

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A span of the payload: payload[from .. from+len). */
static msn_span_t pspan(const msn_packet_t *pkt, size_t from, size_t len)
{
    msn_span_t s = {(uint16_t)(pkt->payload.off + from), (uint16_t)len};
    return s;
}

static void too_short(msn_packet_t *pkt, const char *type, const char *msg)
{
    pkt->p.type = type;
    pkt->p.raw = pkt->payload;
    pkt->p.error = msg;
}

/* REQ / RESPONSE / TXT_MSG: dest(1) src(1) mac(2) ciphertext. */
static void decode_encrypted(msn_packet_t *pkt, const char *type)
{
    if (pkt->payload.len < 4) {
        too_short(pkt, type, "too short");
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = type;
    p->dest_hash = pspan(pkt, 0, 1);
    p->src_hash = pspan(pkt, 1, 1);
    p->mac = pspan(pkt, 2, 2);
    p->encrypted_data = pspan(pkt, 4, pkt->payload.len - 4u);
}

static void decode_ack(msn_packet_t *pkt, const uint8_t *b, size_t n)
{
    if (n < 4) {
        too_short(pkt, "ACK", "too short");
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = "ACK";
    p->extra_hash = le32(b);
    p->ack_len = n > 6 ? 6 : (int)n;
    p->has |= MSN_HAS_EXTRA_HASH | MSN_HAS_ACK_LEN;
    if (n >= 5) {
        p->ack_attempt = b[4];
        p->has |= MSN_HAS_ACK_ATTEMPT;
    }
    if (n >= 6) {
        p->ack_rand = b[5];
        p->has |= MSN_HAS_ACK_RAND;
    }
}

/* The advert name: characters below 0x20 (except TAB/LF) and DEL removed, invalid UTF-8
 * bytes replaced by U+FFFD (the rune Go's range loop yields for them), then cut to 32
 * bytes, which may split a sequence (rendered as \ufffd per byte). */
static void advert_name(msn_payload_t *p, const uint8_t *s, size_t n)
{
    size_t o = 0, i = 0;
    while (i < n && o < MSN_ADVERT_NAME_MAX) {
        size_t w = msn_utf8_len(s + i, n - i);
        const uint8_t *src = s + i;
        static const uint8_t repl[3] = {0xEF, 0xBF, 0xBD};
        size_t len = w;
        if (w == 0) {
            src = repl;
            len = 3;
            w = 1;
        } else if (w == 1 && ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || s[i] == 0x7F)) {
            i++;
            continue;
        }
        for (size_t k = 0; k < len && o < MSN_ADVERT_NAME_MAX; k++)
            p->name[o++] = (char)src[k];
        i += w;
    }
    p->name[o] = '\0';
    p->name_len = (uint8_t)o;
}

static void decode_advert(msn_packet_t *pkt, const uint8_t *b, size_t n, const msn_decode_opts_t *opts)
{
    if (n < 100) {
        too_short(pkt, "ADVERT", "too short for advert");
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = "ADVERT";
    p->pub_key = pspan(pkt, 0, 32);
    p->timestamp = le32(b + 32);
    p->signature = pspan(pkt, 36, 64);
    p->has |= MSN_HAS_TIMESTAMP_ISO;
    const uint8_t *app = b + 100;
    size_t an = n - 100;

    if (opts != NULL && opts->verify_signatures) {
        uint8_t msg[32 + 4 + MSN_MAX_PAYLOAD];
        memcpy(msg, b, 36); /* pubkey ‖ timestamp LE, as on the wire */
        memcpy(msg + 36, app, an);
        p->signature_valid = msn_codec__ed25519_verify(b, msg, 36 + an, b + 36);
        p->has |= MSN_HAS_SIG_VALID;
    }
    if (an == 0)
        return;

    uint8_t f = app[0];
    int type = f & 0x0F;
    p->flags = f;
    p->has |= MSN_HAS_FLAGS;
    size_t off = 1;
    if ((f & 0x10) && an >= off + 8) {
        p->lat_e6 = (int32_t)le32(app + off);
        p->lon_e6 = (int32_t)le32(app + off + 4);
        p->has |= MSN_HAS_LATLON;
        off += 8;
    }
    if ((f & 0x20) && an >= off + 2) {
        p->feat1 = le16(app + off);
        p->has |= MSN_HAS_FEAT1;
        off += 2;
    }
    if ((f & 0x40) && an >= off + 2) {
        p->feat2 = le16(app + off);
        p->has |= MSN_HAS_FEAT2;
        off += 2;
    }
    if (f & 0x80) {
        size_t end = off;
        while (end < an && app[end] != 0)
            end++;
        advert_name(p, app + off, end - off);
        off = end;
        while (off < an && app[off] == 0)
            off++;
    }
    if (type == 4 && off + 4 <= an) {
        int mv = le16(app + off);
        int16_t t = (int16_t)le16(app + off + 2);
        if (mv > 0 && mv <= 10000) {
            p->battery_mv = mv;
            p->has |= MSN_HAS_BATTERY;
        }
        if (t >= -5000 && t <= 10000) {
            p->temperature_raw = t;
            p->has |= MSN_HAS_TEMPERATURE;
        }
    }
}

/* GRP_TXT plaintext check and sender split. Returns 0 when the text is acceptable. */
static int chan_text(msn_packet_t *pkt, size_t plain_len)
{
    msn_payload_t *p = &pkt->p;
    const uint8_t *pl = pkt->bytes + MSN_PLAIN_OFF;
    if (plain_len < 5)
        return -1;
    const uint8_t *t = pl + 5;
    size_t tn = 0;
    while (5 + tn < plain_len && t[tn] != 0)
        tn++;
    /* Valid UTF-8 with at most 2 non-printables (<0x20 except LF/TAB, or U+FFFD). */
    int bad = 0;
    for (size_t i = 0; i < tn;) {
        size_t w = msn_utf8_len(t + i, tn - i);
        if (w == 0)
            return -1;
        if (w == 1 && t[i] < 0x20 && t[i] != '\n' && t[i] != '\t')
            bad++;
        else if (w == 3 && t[i] == 0xEF && t[i + 1] == 0xBF && t[i + 2] == 0xBD)
            bad++;
        i += w;
    }
    if (bad > 2)
        return -1;
    p->sender_timestamp = le32(pl);
    uint16_t toff = (uint16_t)(MSN_PLAIN_OFF + 5);
    /* Sender: the first ": " at byte index 1..49, with no ':' '[' ']' before it. */
    size_t colon = 0;
    int found = 0;
    for (size_t i = 0; i + 1 < tn; i++) {
        if (t[i] == ':' && t[i + 1] == ' ') {
            colon = i;
            found = 1;
            break;
        }
    }
    int split = 0;
    if (found && colon > 0 && colon < 50) {
        split = 1;
        for (size_t i = 0; i < colon; i++)
            if (t[i] == ':' || t[i] == '[' || t[i] == ']')
                split = 0;
    }
    if (split) {
        p->sender.off = toff;
        p->sender.len = (uint16_t)colon;
        /* text = "sender: message", or only the (empty) message when nothing follows. */
        if (colon + 2 < tn) {
            p->text.off = toff;
            p->text.len = (uint16_t)tn;
        }
    } else {
        p->text.off = toff;
        p->text.len = (uint16_t)tn;
    }
    return 0;
}

/* GRP_TXT (5) and GRP_DATA (6): channel_hash(1) mac(2) ciphertext. */
static void decode_group(msn_packet_t *pkt, const uint8_t *b, size_t n, int is_data, const msn_decode_opts_t *opts)
{
    const char *type = is_data ? "GRP_DATA" : "GRP_TXT";
    if (n < 3) {
        too_short(pkt, type, "too short");
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = type;
    p->channel_hash = b[0];
    p->has |= MSN_HAS_CHANNEL_HASH_HEX;
    msn_span_t mac = pspan(pkt, 1, 2), enc = pspan(pkt, 3, n - 3);
    const uint8_t *ct = b + 3;
    size_t cn = n - 3;
    msn_chankeys_t *ks = opts ? opts->keys : NULL;
    if (ks == NULL || ks->n == 0 || cn < 5) {
        p->decryption_status = MSN_DECRYPT_NO_KEY;
        p->mac = mac;
        p->encrypted_data = enc;
        return;
    }
    /* Unaligned ciphertext can never decrypt (CoreScope checks the MAC first, then the
     * alignment; both must pass, so the order does not change the outcome). */
    if (cn % 16 == 0) {
        uint8_t *plain = pkt->bytes + MSN_PLAIN_OFF;
        for (int i = 0; i < ks->n; i++) {
            msn_codec__chankey_t *k = &ks->v[i];
            if (k->mac == NULL && (k->mac = msn_codec__mac_new(k->key)) == NULL)
                continue;
            uint8_t m[2];
            if (msn_codec__mac2(k->mac, ct, cn, m) < 0 || m[0] != b[1] || m[1] != b[2])
                continue;
            if (msn_codec__aes128_ecb(k->key, 0, ct, cn, plain) < 0)
                continue;
            if (!is_data) {
                if (chan_text(pkt, cn) < 0) {
                    p->sender_timestamp = 0;
                    memset(&p->sender, 0, sizeof(p->sender));
                    memset(&p->text, 0, sizeof(p->text));
                    continue;
                }
                p->type = "CHAN";
                p->decryption_status = MSN_DECRYPT_DECRYPTED;
                p->channel = k->name;
                return;
            }
            p->decryption_status = MSN_DECRYPT_DECRYPTED;
            p->channel = k->name;
            if (cn < 3) {
                p->error = "inner too short";
                return;
            }
            p->data_type = le16(plain);
            p->data_len = plain[2];
            p->has |= MSN_HAS_DATA_TYPE | MSN_HAS_DATA_LEN;
            if (3 + (size_t)p->data_len > cn) {
                p->error = "inner data_len exceeds buffer";
                return;
            }
            p->decrypted_blob.off = (uint16_t)(MSN_PLAIN_OFF + 3);
            p->decrypted_blob.len = (uint16_t)p->data_len;
            return;
        }
    }
    p->decryption_status = MSN_DECRYPT_FAILED;
    p->mac = mac;
    p->encrypted_data = enc;
}

static void decode_anon_req(msn_packet_t *pkt, size_t n)
{
    if (n < 35) {
        too_short(pkt, "ANON_REQ", "too short");
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = "ANON_REQ";
    p->dest_hash = pspan(pkt, 0, 1);
    p->ephemeral_pub_key = pspan(pkt, 1, 32);
    p->mac = pspan(pkt, 33, 2);
    p->encrypted_data = pspan(pkt, 35, n - 35);
}

static void decode_path_payload(msn_packet_t *pkt, size_t n)
{
    if (n < 4) {
        too_short(pkt, "PATH", "too short");
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = "PATH";
    p->dest_hash = pspan(pkt, 0, 1);
    p->src_hash = pspan(pkt, 1, 1);
    p->mac = pspan(pkt, 2, 2);
    p->path_data = pspan(pkt, 4, n - 4);
}

static void decode_trace(msn_packet_t *pkt, const uint8_t *b, size_t n)
{
    if (n < 9) {
        too_short(pkt, "TRACE", "too short");
        pkt->anomaly = "TRACE payload decode failed: too short";
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = "TRACE";
    p->tag = le32(b);
    p->auth_code = le32(b + 4);
    p->trace_flags = b[8];
    p->has |= MSN_HAS_TRACE_FLAGS;
    if (n <= 9)
        return;
    p->path_data = pspan(pkt, 9, n - 9);
    if (pkt->route_type != MSN_ROUTE_DIRECT && pkt->route_type != MSN_ROUTE_TRANSPORT_DIRECT)
        pkt->anomaly = "TRACE packet with non-DIRECT routing (expected DIRECT or TRANSPORT_DIRECT)";
    /* One SNR value per header hop, only when the header hops are single bytes. */
    if (pkt->hash_size == 1)
        p->n_snr = pkt->hash_count;
    size_t sz = (size_t)1 << (p->trace_flags & 3);
    pkt->hops = p->path_data;
    pkt->hop_size = (uint8_t)sz;
    pkt->hop_count = (uint8_t)((n - 9) / sz);
    pkt->hops_completed = pkt->hash_count;
}

static void decode_multipart(msn_packet_t *pkt, const uint8_t *b, size_t n)
{
    if (n < 1) {
        too_short(pkt, "MULTIPART", "too short");
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = "MULTIPART";
    p->remaining = b[0] >> 4;
    p->inner_type = b[0] & 0x0F;
    p->inner_type_name = msn_payload_type_name(p->inner_type);
    p->has |= MSN_HAS_REMAINING | MSN_HAS_INNER_TYPE;
    if (p->inner_type == MSN_PT_ACK && n >= 5) {
        p->inner_ack_crc = le32(b + 1);
        p->inner_ack_len = n - 1 > 6 ? 6 : (int)(n - 1);
        p->has |= MSN_HAS_INNER_ACK_CRC | MSN_HAS_INNER_ACK_LEN;
        if (n >= 6) {
            p->inner_ack_attempt = b[5];
            p->has |= MSN_HAS_INNER_ACK_ATTEMPT;
        }
        if (n >= 7) {
            p->inner_ack_rand = b[6];
            p->has |= MSN_HAS_INNER_ACK_RAND;
        }
    } else if (n > 1) {
        p->inner_payload = pspan(pkt, 1, n - 1);
    }
}

static void decode_control(msn_packet_t *pkt, const uint8_t *b, size_t n)
{
    if (n < 1) {
        too_short(pkt, "CONTROL", "too short");
        return;
    }
    msn_payload_t *p = &pkt->p;
    p->type = "CONTROL";
    p->raw = pkt->payload;
    p->ctrl_flags = b[0];
    p->ctrl_zero_hop = (b[0] & 0x80) != 0;
    p->ctrl_length = (int)n;
    p->has |= MSN_HAS_CTRL_FLAGS | MSN_HAS_CTRL_ZERO_HOP | MSN_HAS_CTRL_LENGTH;
    switch (b[0] & 0xF0) {
    case 0x80:
        p->ctrl_subtype = "DISCOVER_REQ";
        if (n >= 6) {
            p->ctrl_filter = b[1];
            p->ctrl_tag = le32(b + 2);
            p->has |= MSN_HAS_CTRL_FILTER | MSN_HAS_CTRL_TAG;
            if (n >= 10) {
                p->ctrl_since = le32(b + 6);
                p->has |= MSN_HAS_CTRL_SINCE;
            }
        }
        break;
    case 0x90:
        p->ctrl_subtype = "DISCOVER_RESP";
        p->ctrl_node_type = b[0] & 0x0F;
        p->has |= MSN_HAS_CTRL_NODE_TYPE;
        if (n >= 6) {
            p->ctrl_snr = (int8_t)b[1];
            p->ctrl_tag = le32(b + 2);
            p->has |= MSN_HAS_CTRL_SNR | MSN_HAS_CTRL_TAG;
            size_t rest = n - 6;
            if (rest >= 32)
                p->ctrl_pub_key = pspan(pkt, 6, 32);
            else if (rest >= 8)
                p->ctrl_pub_key = pspan(pkt, 6, 8);
        }
        break;
    default:
        p->ctrl_subtype = "UNKNOWN";
    }
}

static void decode_raw_custom(msn_packet_t *pkt, const uint8_t *b, size_t n)
{
    msn_payload_t *p = &pkt->p;
    p->type = "RAW_CUSTOM";
    p->raw_length = (int)n;
    p->raw = pkt->payload;
    p->has |= MSN_HAS_RAW_LENGTH;
    if (n > 0) {
        p->first_byte_tag = b[0];
        p->has |= MSN_HAS_FIRST_BYTE_TAG;
    }
}

static void decode_payload(msn_packet_t *pkt, const msn_decode_opts_t *opts)
{
    const uint8_t *b = pkt->bytes + pkt->payload.off;
    size_t n = pkt->payload.len;
    switch (pkt->payload_type) {
    case MSN_PT_REQ:
        decode_encrypted(pkt, "REQ");
        break;
    case MSN_PT_RESPONSE:
        decode_encrypted(pkt, "RESPONSE");
        break;
    case MSN_PT_TXT_MSG:
        decode_encrypted(pkt, "TXT_MSG");
        break;
    case MSN_PT_ACK:
        decode_ack(pkt, b, n);
        break;
    case MSN_PT_ADVERT:
        decode_advert(pkt, b, n, opts);
        break;
    case MSN_PT_GRP_TXT:
        decode_group(pkt, b, n, 0, opts);
        break;
    case MSN_PT_GRP_DATA:
        decode_group(pkt, b, n, 1, opts);
        break;
    case MSN_PT_ANON_REQ:
        decode_anon_req(pkt, n);
        break;
    case MSN_PT_PATH:
        decode_path_payload(pkt, n);
        break;
    case MSN_PT_TRACE:
        decode_trace(pkt, b, n);
        break;
    case MSN_PT_MULTIPART:
        decode_multipart(pkt, b, n);
        break;
    case MSN_PT_CONTROL:
        decode_control(pkt, b, n);
        break;
    case MSN_PT_RAW_CUSTOM:
        decode_raw_custom(pkt, b, n);
        break;
    default:
        pkt->p.type = "UNKNOWN";
        pkt->p.raw = pkt->payload;
    }
}

/* Decodes the frame of pkt->bytes[0..stored); `total` is the full packet length, which
 * may exceed what was stored (a packet that long is always rejected). */
static int decode_frame(msn_packet_t *pkt, size_t stored, size_t total, const msn_decode_opts_t *opts)
{
    const uint8_t *b = pkt->bytes;
    if (total < 2)
        return MSN_CODEC_ESHORT;
    pkt->header = b[0];
    pkt->route_type = b[0] & 3;
    pkt->payload_type = (b[0] >> 2) & 0x0F;
    pkt->payload_version = (b[0] >> 6) & 3;
    size_t off = 1;
    pkt->has_transport = pkt->route_type == MSN_ROUTE_TRANSPORT_FLOOD ||
                         pkt->route_type == MSN_ROUTE_TRANSPORT_DIRECT;
    if (pkt->has_transport) {
        if (total < 5)
            return MSN_CODEC_ETRANSPORT;
        memcpy(pkt->transport, b + 1, 4);
        off = 5;
    } else {
        memset(pkt->transport, 0, 4);
    }
    if (off >= total)
        return MSN_CODEC_ENOPATH;
    uint8_t pb = b[off++];
    size_t hs = (size_t)(pb >> 6) + 1, hc = pb & 0x3F;
    if (hs == 4 || hs * hc > MSN_MAX_PATH_BYTES)
        return MSN_CODEC_EPATHLEN;
    if (off + hs * hc > total)
        return MSN_CODEC_EPATHRUN;
    if (total - off - hs * hc > MSN_MAX_PAYLOAD || total > stored)
        return MSN_CODEC_EPAYLOAD;
    pkt->raw_len = (uint16_t)total;
    pkt->path_byte = pb;
    pkt->hash_size = (uint8_t)hs;
    pkt->hash_count = (uint8_t)hc;
    pkt->path.off = (uint16_t)off;
    pkt->path.len = (uint16_t)(hs * hc);
    off += hs * hc;
    pkt->payload.off = (uint16_t)off;
    pkt->payload.len = (uint16_t)(total - off);
    pkt->hops = pkt->path;
    pkt->hop_size = (uint8_t)hs;
    pkt->hop_count = (uint8_t)hc;
    pkt->hops_completed = -1;
    pkt->anomaly = NULL;
    memset(&pkt->p, 0, sizeof(pkt->p));
    decode_payload(pkt, opts);
    return 0;
}

int msn_packet_decode_hex(msn_packet_t *pkt, const char *hex, size_t len, const msn_decode_opts_t *opts)
{
    const size_t cap = sizeof(pkt->bytes) - MSN_PLAIN_MAX;
    size_t total = 0;
    int hi = -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)hex[i];
        if (c == ' ' || c == '\n' || c == '\r')
            continue;
        int v = msn_hexval((char)c);
        if (v < 0)
            return MSN_CODEC_EHEX;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (total < cap)
            pkt->bytes[total] = (uint8_t)(hi << 4 | v);
        total++;
        hi = -1;
    }
    if (hi >= 0)
        return MSN_CODEC_EHEX;
    return decode_frame(pkt, total < cap ? total : cap, total, opts);
}

int msn_packet_decode_bytes(msn_packet_t *pkt, const uint8_t *b, size_t n, const msn_decode_opts_t *opts)
{
    const size_t cap = sizeof(pkt->bytes) - MSN_PLAIN_MAX;
    size_t stored = n < cap ? n : cap;
    memcpy(pkt->bytes, b, stored);
    return decode_frame(pkt, stored, n, opts);
}
