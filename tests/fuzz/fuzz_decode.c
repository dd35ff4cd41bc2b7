/*
 * fuzz_decode.c: libFuzzer target for the packet codec (shm/codec/).
 *
 * Input: byte 0 selects the mode, the rest is the packet.
 *   bit 0  the rest is hex text (msn_packet_decode_hex, spaces/CR/LF allowed), else raw
 *          bytes (msn_packet_decode_bytes)
 *   bit 1  decode with channel keys (Public, #test, and a key that matches nothing)
 *   bit 2  verify advert signatures
 * For every input the content hash of the text is computed; for every packet that decodes,
 * decoded_json, path_json and the field walk are rendered and checked for basic shape,
 * and the frame is re-encoded from the decoded fields, which must give the same bytes.
 * Any violation aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static msn_chankeys_t *keys;
static msn_packet_t pkt;
static msn_buf_t out;

static void count_field(void *ctx, const char *key, const msn_field_t *f)
{
    (void)key;
    (void)f;
    (*(int *)ctx)++;
}

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_decode: invariant violated: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (keys == NULL) {
        char err[128];
        keys = msn_chankeys_new();
        msn_chankeys_add_builtin(keys);
        msn_chankeys_add_hashtag(keys, "#test", err, sizeof(err));
        msn_chankeys_add_hex(keys, "other", "000102030405060708090a0b0c0d0e0f", err, sizeof(err));
    }
    unsigned mode = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    msn_decode_opts_t opts = {.keys = (mode & 2) ? keys : NULL, .verify_signatures = (mode & 4) != 0};

    char h[17];
    size_t hl = msn_codec_content_hash((const char *)p, n, h);
    check(hl <= 16 && h[hl] == '\0', "hash length");

    int rc = (mode & 1) ? msn_packet_decode_hex(&pkt, (const char *)p, n, &opts)
                        : msn_packet_decode_bytes(&pkt, p, n, &opts);
    if (rc < 0) {
        check(rc >= -7, "error code range");
        return 0;
    }
    check(pkt.raw_len <= MSN_MAX_PACKET && pkt.payload.len <= MSN_MAX_PAYLOAD, "sizes");
    check(pkt.payload.off + pkt.payload.len == pkt.raw_len, "payload span");

    msn_buf_reset(&out);
    msn_packet_render_json(&pkt, &out);
    check(out.len >= 2 && out.data[0] == '{' && out.data[out.len - 1] == '}', "json object");
    int quotes_ok = 1;
    for (size_t i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.data[i];
        if (c < 0x20)
            quotes_ok = 0; /* control bytes must have been escaped */
    }
    check(quotes_ok, "no raw control characters in JSON");
    int fields = 0;
    msn_packet_fields(&pkt, count_field, &fields);
    check(fields >= 1, "type field");

    msn_buf_reset(&out);
    msn_packet_render_path_json(&pkt, &out);
    check(out.len >= 2 && out.data[0] == '[' && out.data[out.len - 1] == ']', "path array");

    char tmp[8], pk[65];
    (void)msn_packet_channel_hash(&pkt, tmp);
    (void)msn_packet_from_pubkey(&pkt, pk);
    msn_packet_content_hash(&pkt, h);
    if (!(mode & 1)) {
        /* The string hash of the hex of these bytes equals the packet hash. */
        char hex[2 * MSN_MAX_PACKET + 1], h2[17];
        msn_hex_encode(p, n, hex, 0);
        msn_codec_content_hash(hex, 2 * n, h2);
        check(strcmp(h, h2) == 0, "packet hash == string hash");
    }

    /* Re-encode the frame from the decoded header fields. */
    msn_frame_t f = {.route_type = pkt.route_type,
                     .payload_type = pkt.payload_type,
                     .payload_version = pkt.payload_version,
                     .hash_size = pkt.hash_size,
                     .hash_count = pkt.hash_count,
                     .path = msn_span_ptr(&pkt, pkt.path)};
    memcpy(f.transport, pkt.transport, 4);
    uint8_t again[MSN_MAX_PACKET];
    int len = msn_encode_packet(&f, msn_span_ptr(&pkt, pkt.payload), pkt.payload.len, again, sizeof(again));
    check(len == pkt.raw_len && memcmp(again, pkt.bytes, (size_t)len) == 0, "re-encoded frame");
    return 0;
}
