/*
 * render_json.c: the decoded_json text and the field walk it is built on.
 *
 * CoreScope marshals a Go struct whose fields are all `omitempty`, so the output is the
 * struct's fields in declaration order, minus zero values of plain fields (0, "", nil
 * slices) and minus unset pointer fields (set pointers are emitted even when 0/false).
 * msn_packet_fields() walks exactly those fields; the JSON renderer and the CLI's text
 * view both consume it, so they can never disagree about which fields exist.
 */
#include "codec_int.h"

#include <string.h>

#include "shm/json.h"

typedef void (*field_cb)(void *ctx, const char *key, const msn_field_t *f);

static void emit_str(field_cb cb, void *ctx, const char *key, const char *s, size_t n)
{
    if (n == 0)
        return;
    msn_field_t f = {.kind = MSN_FV_STR, .s = s, .n = n};
    cb(ctx, key, &f);
}

static void emit_cstr(field_cb cb, void *ctx, const char *key, const char *s)
{
    if (s != NULL)
        emit_str(cb, ctx, key, s, strlen(s));
}

static void emit_hex(field_cb cb, void *ctx, const char *key, const msn_packet_t *pkt, msn_span_t sp)
{
    if (sp.len == 0)
        return;
    msn_field_t f = {.kind = MSN_FV_HEX, .bytes = pkt->bytes + sp.off, .n = sp.len};
    cb(ctx, key, &f);
}

static void emit_span_text(field_cb cb, void *ctx, const char *key, const msn_packet_t *pkt, msn_span_t sp)
{
    if (sp.len == 0)
        return;
    emit_str(cb, ctx, key, (const char *)pkt->bytes + sp.off, sp.len);
}

static void emit_int(field_cb cb, void *ctx, const char *key, int64_t v)
{
    msn_field_t f = {.kind = MSN_FV_INT, .i = v};
    cb(ctx, key, &f);
}

static void emit_nonzero(field_cb cb, void *ctx, const char *key, int64_t v)
{
    if (v != 0)
        emit_int(cb, ctx, key, v);
}

/* A value that is exactly v / 10^places (lat/lon, temperature, SNR). */
static void emit_decimal(field_cb cb, void *ctx, const char *key, int64_t v, int places, double d)
{
    msn_field_t f = {.kind = MSN_FV_DECIMAL, .i = v, .n = (size_t)places, .d = d};
    cb(ctx, key, &f);
}

static void emit_bool(field_cb cb, void *ctx, const char *key, int v)
{
    msn_field_t f = {.kind = MSN_FV_BOOL, .i = v != 0};
    cb(ctx, key, &f);
}

/* "%02x"/"%02X" and "%08x" without printf. */
static size_t hex_byte(char *out, unsigned v, int upper)
{
    const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    out[0] = d[(v >> 4) & 15];
    out[1] = d[v & 15];
    return 2;
}

static size_t hex_be32(char *out, uint32_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
    return 8;
}

static const char *status_name(msn_decrypt_status_t s)
{
    switch (s) {
    case MSN_DECRYPT_DECRYPTED:
        return "decrypted";
    case MSN_DECRYPT_FAILED:
        return "decryption_failed";
    case MSN_DECRYPT_NO_KEY:
        return "no_key";
    default:
        return NULL;
    }
}

void msn_packet_fields(const msn_packet_t *pkt, field_cb cb, void *ctx)
{
    const msn_payload_t *p = &pkt->p;
    uint64_t h = p->has;
    char tmp[40];

    emit_cstr(cb, ctx, "type", p->type);
    emit_hex(cb, ctx, "destHash", pkt, p->dest_hash);
    emit_hex(cb, ctx, "srcHash", pkt, p->src_hash);
    emit_hex(cb, ctx, "mac", pkt, p->mac);
    emit_hex(cb, ctx, "encryptedData", pkt, p->encrypted_data);
    if (h & MSN_HAS_EXTRA_HASH) {
        emit_str(cb, ctx, "extraHash", tmp, hex_be32(tmp, p->extra_hash));
    }
    if (h & MSN_HAS_ACK_LEN)
        emit_int(cb, ctx, "ackLen", p->ack_len);
    if (h & MSN_HAS_ACK_ATTEMPT)
        emit_int(cb, ctx, "ackAttempt", p->ack_attempt);
    if (h & MSN_HAS_ACK_RAND)
        emit_int(cb, ctx, "ackRand", p->ack_rand);
    emit_hex(cb, ctx, "pubKey", pkt, p->pub_key);
    emit_nonzero(cb, ctx, "timestamp", p->timestamp);
    if (h & MSN_HAS_TIMESTAMP_ISO) {
        msn_codec__iso_time(p->timestamp, tmp);
        emit_cstr(cb, ctx, "timestampISO", tmp);
    }
    emit_hex(cb, ctx, "signature", pkt, p->signature);
    if (h & MSN_HAS_SIG_VALID)
        emit_bool(cb, ctx, "signatureValid", p->signature_valid);
    if (h & MSN_HAS_FLAGS) {
        msn_field_t f = {.kind = MSN_FV_FLAGS, .i = p->flags};
        cb(ctx, "flags", &f);
    }
    if (h & MSN_HAS_LATLON) {
        emit_decimal(cb, ctx, "lat", p->lat_e6, 6, (double)p->lat_e6 / 1e6);
        emit_decimal(cb, ctx, "lon", p->lon_e6, 6, (double)p->lon_e6 / 1e6);
    }
    emit_str(cb, ctx, "name", p->name, p->name_len);
    if (h & MSN_HAS_FEAT1)
        emit_int(cb, ctx, "feat1", p->feat1);
    if (h & MSN_HAS_FEAT2)
        emit_int(cb, ctx, "feat2", p->feat2);
    if (h & MSN_HAS_BATTERY)
        emit_int(cb, ctx, "battery_mv", p->battery_mv);
    if (h & MSN_HAS_TEMPERATURE)
        emit_decimal(cb, ctx, "temperature_c", p->temperature_raw, 2, (double)p->temperature_raw / 100.0);
    emit_nonzero(cb, ctx, "channelHash", p->channel_hash);
    if (h & MSN_HAS_CHANNEL_HASH_HEX) {
        emit_str(cb, ctx, "channelHashHex", tmp, hex_byte(tmp, (unsigned)p->channel_hash, 1));
    }
    emit_cstr(cb, ctx, "decryptionStatus", status_name(p->decryption_status));
    emit_cstr(cb, ctx, "channel", p->channel);
    if (h & MSN_HAS_DATA_TYPE)
        emit_int(cb, ctx, "dataType", p->data_type);
    if (h & MSN_HAS_DATA_LEN)
        emit_int(cb, ctx, "dataLen", p->data_len);
    emit_hex(cb, ctx, "decryptedBlob", pkt, p->decrypted_blob);
    emit_span_text(cb, ctx, "text", pkt, p->text);
    emit_span_text(cb, ctx, "sender", pkt, p->sender);
    emit_nonzero(cb, ctx, "sender_timestamp", p->sender_timestamp);
    emit_hex(cb, ctx, "ephemeralPubKey", pkt, p->ephemeral_pub_key);
    emit_hex(cb, ctx, "pathData", pkt, p->path_data);
    if (p->n_snr > 0) {
        msn_field_t f = {.kind = MSN_FV_SNR, .bytes = pkt->bytes + pkt->path.off, .n = p->n_snr};
        cb(ctx, "snrValues", &f);
    }
    emit_nonzero(cb, ctx, "tag", p->tag);
    emit_nonzero(cb, ctx, "authCode", p->auth_code);
    if (h & MSN_HAS_TRACE_FLAGS)
        emit_int(cb, ctx, "traceFlags", p->trace_flags);
    emit_hex(cb, ctx, "raw", pkt, p->raw);
    emit_cstr(cb, ctx, "error", p->error);
    if (h & MSN_HAS_REMAINING)
        emit_int(cb, ctx, "remaining", p->remaining);
    if (h & MSN_HAS_INNER_TYPE)
        emit_int(cb, ctx, "innerType", p->inner_type);
    emit_cstr(cb, ctx, "innerTypeName", p->inner_type_name);
    if (h & MSN_HAS_INNER_ACK_CRC) {
        emit_str(cb, ctx, "innerAckCrc", tmp, hex_be32(tmp, p->inner_ack_crc));
    }
    if (h & MSN_HAS_INNER_ACK_LEN)
        emit_int(cb, ctx, "innerAckLen", p->inner_ack_len);
    if (h & MSN_HAS_INNER_ACK_ATTEMPT)
        emit_int(cb, ctx, "innerAckAttempt", p->inner_ack_attempt);
    if (h & MSN_HAS_INNER_ACK_RAND)
        emit_int(cb, ctx, "innerAckRand", p->inner_ack_rand);
    emit_hex(cb, ctx, "innerPayload", pkt, p->inner_payload);
    if (h & MSN_HAS_CTRL_FLAGS) {
        emit_str(cb, ctx, "ctrlFlags", tmp, hex_byte(tmp, p->ctrl_flags, 0));
    }
    if (h & MSN_HAS_CTRL_ZERO_HOP)
        emit_bool(cb, ctx, "ctrlZeroHop", p->ctrl_zero_hop);
    if (h & MSN_HAS_CTRL_LENGTH)
        emit_int(cb, ctx, "ctrlLength", p->ctrl_length);
    emit_cstr(cb, ctx, "ctrlSubtype", p->ctrl_subtype);
    if (h & MSN_HAS_CTRL_FILTER)
        emit_int(cb, ctx, "ctrlFilter", p->ctrl_filter);
    if (h & MSN_HAS_CTRL_TAG)
        emit_int(cb, ctx, "ctrlTag", p->ctrl_tag);
    if (h & MSN_HAS_CTRL_SINCE)
        emit_int(cb, ctx, "ctrlSince", p->ctrl_since);
    if (h & MSN_HAS_CTRL_NODE_TYPE)
        emit_int(cb, ctx, "ctrlNodeType", p->ctrl_node_type);
    if (h & MSN_HAS_CTRL_SNR)
        emit_int(cb, ctx, "ctrlSNR", p->ctrl_snr);
    emit_hex(cb, ctx, "ctrlPubKey", pkt, p->ctrl_pub_key);
    if (h & MSN_HAS_RAW_LENGTH)
        emit_int(cb, ctx, "rawLength", p->raw_length);
    if (h & MSN_HAS_FIRST_BYTE_TAG) {
        emit_str(cb, ctx, "firstByteTag", tmp, hex_byte(tmp, p->first_byte_tag, 1));
    }
}

/* ---- JSON ---------------------------------------------------------------------------------- */

typedef struct {
    msn_buf_t *out;
    int n;
} json_ctx_t;

static void put_bool(msn_buf_t *b, int v)
{
    if (v)
        msn_buf_append(b, "true", 4);
    else
        msn_buf_append(b, "false", 5);
}

static void flags_object(msn_buf_t *b, unsigned f)
{
    unsigned t = f & 0x0F;
    msn_buf_append(b, "{\"raw\":", 7);
    msn_buf_put_u64(b, f);
    msn_buf_append(b, ",\"type\":", 8);
    msn_buf_put_u64(b, t);
    msn_buf_append(b, ",\"chat\":", 8);
    put_bool(b, t == 1);
    msn_buf_append(b, ",\"repeater\":", 12);
    put_bool(b, t == 2);
    msn_buf_append(b, ",\"room\":", 8);
    put_bool(b, t == 3);
    msn_buf_append(b, ",\"sensor\":", 10);
    put_bool(b, t == 4);
    msn_buf_append(b, ",\"hasLocation\":", 15);
    put_bool(b, f & 0x10);
    msn_buf_append(b, ",\"hasFeat1\":", 12);
    put_bool(b, f & 0x20);
    msn_buf_append(b, ",\"hasFeat2\":", 12);
    put_bool(b, f & 0x40);
    msn_buf_append(b, ",\"hasName\":", 11);
    put_bool(b, f & 0x80);
    msn_buf_putc(b, '}');
}

static void json_field(void *vctx, const char *key, const msn_field_t *f)
{
    json_ctx_t *c = vctx;
    msn_buf_t *b = c->out;
    if (c->n++)
        msn_buf_putc(b, ',');
    msn_json_key(b, key);
    switch (f->kind) {
    case MSN_FV_STR:
        msn_json_strn(b, f->s, f->n);
        break;
    case MSN_FV_HEX:
        msn_buf_putc(b, '"');
        msn_codec__buf_hex(b, f->bytes, f->n, 0);
        msn_buf_putc(b, '"');
        break;
    case MSN_FV_INT:
        msn_buf_put_i64(b, f->i);
        break;
    case MSN_FV_DOUBLE:
        msn_json_double(b, f->d);
        break;
    case MSN_FV_DECIMAL:
        msn_codec__put_decimal(b, f->i, (int)f->n);
        break;
    case MSN_FV_BOOL:
        put_bool(b, (int)f->i);
        break;
    case MSN_FV_SNR:
        msn_buf_putc(b, '[');
        for (size_t i = 0; i < f->n; i++) {
            if (i)
                msn_buf_putc(b, ',');
            /* int8 / 4.0 == int8 * 25 / 100 exactly */
            msn_codec__put_decimal(b, (int8_t)f->bytes[i] * 25, 2);
        }
        msn_buf_putc(b, ']');
        break;
    case MSN_FV_FLAGS:
        flags_object(b, (unsigned)f->i);
        break;
    }
}

void msn_packet_render_json(const msn_packet_t *pkt, msn_buf_t *out)
{
    json_ctx_t c = {out, 0};
    msn_buf_putc(out, '{');
    msn_packet_fields(pkt, json_field, &c);
    msn_buf_putc(out, '}');
}

void msn_packet_render_path_json(const msn_packet_t *pkt, msn_buf_t *out)
{
    msn_buf_putc(out, '[');
    const uint8_t *h = pkt->bytes + pkt->hops.off;
    for (unsigned i = 0; i < pkt->hop_count; i++) {
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_putc(out, '"');
        msn_codec__buf_hex(out, h + (size_t)i * pkt->hop_size, pkt->hop_size, 1);
        msn_buf_putc(out, '"');
    }
    msn_buf_putc(out, ']');
}
