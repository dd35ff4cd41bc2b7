/*
 * test_codec_encode.c: the encoder, by round trips through the decoder (every payload
 * type, signed adverts, encrypted channel messages), known vectors (RFC 8032, an
 * independently built channel message) and the encoder's own range checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/codec/codec.h"
#include "testlib.h"

static msn_packet_t pkt;
static msn_buf_t out;
static uint8_t frame[300];

/* Frames payload[0..n) and decodes it; returns the decoded_json (or "ERR"). */
static const char *roundtrip(const msn_frame_t *f, const uint8_t *payload, int n, const msn_decode_opts_t *o)
{
    msn_buf_reset(&out);
    CHECK(n >= 0);
    if (n < 0)
        return "ERR";
    int len = msn_encode_packet(f, payload, (size_t)n, frame, sizeof(frame));
    CHECK(len > 0);
    if (len <= 0 || msn_packet_decode_bytes(&pkt, frame, (size_t)len, o) < 0)
        return "ERR";
    CHECK_EQ_INT(pkt.raw_len, len);
    CHECK(memcmp(pkt.bytes, frame, (size_t)len) == 0);
    msn_packet_render_json(&pkt, &out);
    return msn_buf_cstr(&out);
}

static void test_ed25519_rfc8032(void)
{
    /* RFC 8032 section 7.1, test 1. */
    uint8_t seed[32], pub[32];
    msn_hex_decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", 64, seed, 32);
    CHECK_EQ_INT(msn_ed25519_public(seed, pub), 0);
    char hex[65];
    msn_hex_encode(pub, 32, hex, 0);
    CHECK_EQ_STR(hex, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
}

static void test_signed_advert(void)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    msn_appdata_t a = {.type = 4,
                       .has_location = 1,
                       .lat_e6 = 37658604,
                       .lon_e6 = -122058554,
                       .has_feat1 = 1,
                       .feat1 = 0x1234,
                       .name = "Sensor <1>",
                       .has_telemetry = 1,
                       .battery_mv = 3700,
                       .temperature_raw = -1234};
    uint8_t app[100], payload[MSN_MAX_PAYLOAD];
    int an = msn_encode_appdata(&a, app, sizeof(app));
    CHECK_EQ_INT(an, 1 + 8 + 2 + 10 + 1 + 4);
    int n = msn_encode_advert(seed, 1774805580, app, (size_t)an, payload, sizeof(payload));
    CHECK_EQ_INT(n, 100 + an);
    msn_decode_opts_t v = {.verify_signatures = 1};
    msn_frame_t f = {.route_type = 1, .payload_type = MSN_PT_ADVERT, .hash_size = 2, .hash_count = 2,
                     .path = (const uint8_t *)"\x7d\x1d\xda\x2a"};
    const char *j = roundtrip(&f, payload, n, &v);
    uint8_t pub[32];
    char pk[65];
    msn_ed25519_public(seed, pub);
    msn_hex_encode(pub, 32, pk, 0);
    char want[1024];
    snprintf(want, sizeof(want), "{\"type\":\"ADVERT\",\"pubKey\":\"%s\",\"timestamp\":1774805580,"
             "\"timestampISO\":\"2026-03-29T17:33:00.000Z\",\"signature\":\"", pk);
    CHECK(strncmp(j, want, strlen(want)) == 0);
    CHECK(strstr(j, "\",\"signatureValid\":true,\"flags\":{\"raw\":180,\"type\":4,\"chat\":false,\"repeater\":false,"
                    "\"room\":false,\"sensor\":true,\"hasLocation\":true,\"hasFeat1\":true,\"hasFeat2\":false,"
                    "\"hasName\":true},\"lat\":37.658604,\"lon\":-122.058554,\"name\":\"Sensor \\u003c1\\u003e\","
                    "\"feat1\":4660,\"battery_mv\":3700,\"temperature_c\":-12.34}") != NULL);
    char fp[65];
    CHECK_EQ_INT(msn_packet_from_pubkey(&pkt, fp), 1);
    CHECK_EQ_STR(fp, pk);
    CHECK_EQ_STR(msn_buf_cstr(&out), j);

    /* Any change to the signed bytes (pubkey, timestamp, appdata) invalidates it. */
    for (int pos = 0; pos < n; pos++) {
        if (pos != 0 && pos != 33 && pos != 40 && pos != 100 && pos != n - 1)
            continue;
        uint8_t bad[MSN_MAX_PAYLOAD];
        memcpy(bad, payload, (size_t)n);
        bad[pos] ^= 0x01;
        j = roundtrip(&f, bad, n, &v);
        CHECK(strstr(j, "\"signatureValid\":false") != NULL);
    }
}

static void test_channel_messages(void)
{
    char err[128];
    msn_chankeys_t *ks = msn_chankeys_new();
    msn_chankeys_add_builtin(ks);
    CHECK_EQ_INT(msn_chankeys_add_hashtag(ks, "#test", err, sizeof(err)), 0);
    msn_decode_opts_t o = {.keys = ks};
    /* The same bytes as a vector built independently with Python's cryptography package. */
    uint8_t plain[200], payload[MSN_MAX_PAYLOAD];
    int pn = msn_encode_grp_txt_plain(1700000000, 0, "Alice: Hi <b> & \xe2\x80\xa8 \xc3\xa9", plain, sizeof(plain));
    int n = msn_encode_group(msn_chankeys_key(ks, 1), plain, (size_t)pn, payload, sizeof(payload));
    CHECK_EQ_INT(n, 3 + 32);
    msn_frame_t f = {.route_type = 1, .payload_type = MSN_PT_GRP_TXT, .hash_size = 1};
    int len = msn_encode_packet(&f, payload, (size_t)n, frame, sizeof(frame));
    char hex[2 * 300 + 1];
    msn_hex_encode(frame, (size_t)len, hex, 1);
    CHECK_EQ_STR(hex, "1500D9C92D6AFB28B62410A4246D6A1DED871217CC48CF4A5130655B956CB7B25937646C6A");

    /* Public, through a transport-direct frame with 3-byte hops. */
    pn = msn_encode_grp_txt_plain(42, 0, "hello", plain, sizeof(plain));
    n = msn_encode_group(msn_chankeys_key(ks, 0), plain, (size_t)pn, payload, sizeof(payload));
    msn_frame_t f3 = {.route_type = 3, .payload_type = MSN_PT_GRP_TXT, .transport = {1, 2, 3, 4}, .hash_size = 3,
                      .hash_count = 1, .path = (const uint8_t *)"\xaa\xbb\xcc"};
    CHECK_EQ_STR(roundtrip(&f3, payload, n, &o),
                 "{\"type\":\"CHAN\",\"channelHash\":17,\"channelHashHex\":\"11\",\"decryptionStatus\":\"decrypted\","
                 "\"channel\":\"Public\",\"text\":\"hello\",\"sender_timestamp\":42}");
    char tmp[8];
    CHECK_EQ_STR(msn_packet_channel_hash(&pkt, tmp), "Public");

    /* A longer message: 150 characters fill 10 AES blocks (plus the 5-byte header). */
    char longtext[151];
    memset(longtext, 'x', 150);
    longtext[150] = '\0';
    pn = msn_encode_grp_txt_plain(1, 0, longtext, plain, sizeof(plain));
    n = msn_encode_group(msn_chankeys_key(ks, 1), plain, (size_t)pn, payload, sizeof(payload));
    CHECK_EQ_INT(n, 3 + 160);
    CHECK(strstr(roundtrip(&f, payload, n, &o), longtext) != NULL);
    /* Too long for a packet. */
    memset(plain, 'y', 190);
    CHECK_EQ_INT(msn_encode_group(msn_chankeys_key(ks, 1), plain, 180, payload, sizeof(payload)), -1);

    /* GRP_DATA round trip. */
    const uint8_t blob[] = {0xde, 0xad, 0xbe, 0xef};
    pn = msn_encode_grp_data_plain(7, blob, sizeof(blob), plain, sizeof(plain));
    n = msn_encode_group(msn_chankeys_key(ks, 1), plain, (size_t)pn, payload, sizeof(payload));
    msn_frame_t fd = {.route_type = 2, .payload_type = MSN_PT_GRP_DATA, .hash_size = 1};
    CHECK_EQ_STR(roundtrip(&fd, payload, n, &o),
                 "{\"type\":\"GRP_DATA\",\"channelHash\":217,\"channelHashHex\":\"D9\",\"decryptionStatus\":\"decrypted\","
                 "\"channel\":\"#test\",\"dataType\":7,\"dataLen\":4,\"decryptedBlob\":\"deadbeef\"}");
    msn_chankeys_free(ks);
}

static void test_key_order(void)
{
    /* Two names with the same key: the first in the set wins, every time. */
    char err[128];
    msn_chankeys_t *ks = msn_chankeys_new();
    CHECK_EQ_INT(msn_chankeys_add_hex(ks, "first", "00112233445566778899aabbccddeeff", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_chankeys_add_hex(ks, "second", "00112233445566778899aabbccddeeff", err, sizeof(err)), 0);
    uint8_t plain[64], payload[MSN_MAX_PAYLOAD];
    int pn = msn_encode_grp_txt_plain(5, 0, "x", plain, sizeof(plain));
    int n = msn_encode_group(msn_chankeys_key(ks, 1), plain, (size_t)pn, payload, sizeof(payload));
    msn_decode_opts_t o = {.keys = ks};
    msn_frame_t f = {.route_type = 1, .payload_type = MSN_PT_GRP_TXT, .hash_size = 1};
    for (int i = 0; i < 3; i++)
        CHECK(strstr(roundtrip(&f, payload, n, &o), "\"channel\":\"first\"") != NULL);
    msn_chankeys_free(ks);
}

static void test_other_payloads(void)
{
    uint8_t p[MSN_MAX_PAYLOAD];
    const uint8_t mac[2] = {0xab, 0xcd}, data[3] = {1, 2, 3};
    msn_frame_t f = {.route_type = 2, .hash_size = 1};

    f.payload_type = MSN_PT_TXT_MSG;
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_direct(0x11, 0x22, mac, data, 3, p, sizeof(p)), NULL),
                 "{\"type\":\"TXT_MSG\",\"destHash\":\"11\",\"srcHash\":\"22\",\"mac\":\"abcd\",\"encryptedData\":\"010203\"}");
    f.payload_type = MSN_PT_REQ;
    CHECK(strncmp(roundtrip(&f, p, msn_encode_direct(1, 2, mac, NULL, 0, p, sizeof(p)), NULL), "{\"type\":\"REQ\"", 13) ==
          0);
    f.payload_type = MSN_PT_RESPONSE;
    CHECK(strncmp(roundtrip(&f, p, msn_encode_direct(1, 2, mac, NULL, 0, p, sizeof(p)), NULL),
                  "{\"type\":\"RESPONSE\"", 18) == 0);
    f.payload_type = MSN_PT_PATH;
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_direct(0x11, 0x22, mac, data, 3, p, sizeof(p)), NULL),
                 "{\"type\":\"PATH\",\"destHash\":\"11\",\"srcHash\":\"22\",\"mac\":\"abcd\",\"pathData\":\"010203\"}");

    f.payload_type = MSN_PT_ACK;
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_ack(0xdeadbeef, -1, -1, p, sizeof(p)), NULL),
                 "{\"type\":\"ACK\",\"extraHash\":\"deadbeef\",\"ackLen\":4}");
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_ack(0xdeadbeef, 2, 9, p, sizeof(p)), NULL),
                 "{\"type\":\"ACK\",\"extraHash\":\"deadbeef\",\"ackLen\":6,\"ackAttempt\":2,\"ackRand\":9}");
    CHECK_EQ_INT(msn_encode_ack(1, -1, 5, p, sizeof(p)), -1);

    uint8_t eph[32];
    memset(eph, 0x5a, sizeof(eph));
    f.payload_type = MSN_PT_ANON_REQ;
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_anon_req(0x33, eph, mac, data, 3, p, sizeof(p)), NULL),
                 "{\"type\":\"ANON_REQ\",\"destHash\":\"33\",\"mac\":\"abcd\",\"encryptedData\":\"010203\","
                 "\"ephemeralPubKey\":\"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\"}");

    /* TRACE: SNR bytes in the header path, 2-byte route hops in the payload. */
    msn_frame_t ft = {.route_type = 2, .payload_type = MSN_PT_TRACE, .hash_size = 1, .hash_count = 3,
                      .path = (const uint8_t *)"\x28\xf5\x00"};
    const uint8_t route[6] = {0xa1, 0xa2, 0xb1, 0xb2, 0xc1, 0xc2};
    CHECK_EQ_STR(roundtrip(&ft, p, msn_encode_trace(0x01020304, 7, 1, route, 6, p, sizeof(p)), NULL),
                 "{\"type\":\"TRACE\",\"pathData\":\"a1a2b1b2c1c2\",\"snrValues\":[10,-2.75,0],\"tag\":16909060,"
                 "\"authCode\":7,\"traceFlags\":1}");
    msn_buf_reset(&out);
    msn_packet_render_path_json(&pkt, &out);
    CHECK_EQ_STR(msn_buf_cstr(&out), "[\"A1A2\",\"B1B2\",\"C1C2\"]");

    f.payload_type = MSN_PT_MULTIPART;
    const uint8_t ack[5] = {4, 3, 2, 1, 9};
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_multipart(1, MSN_PT_ACK, ack, 5, p, sizeof(p)), NULL),
                 "{\"type\":\"MULTIPART\",\"remaining\":1,\"innerType\":3,\"innerTypeName\":\"ACK\",\"innerAckCrc\":\"01020304\","
                 "\"innerAckLen\":5,\"innerAckAttempt\":9}");
    CHECK_EQ_INT(msn_encode_multipart(16, 0, NULL, 0, p, sizeof(p)), -1);

    f.payload_type = MSN_PT_CONTROL;
    const uint8_t disc[5] = {1, 0x78, 0x56, 0x34, 0x12};
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_bytes(0x80, disc, 5, p, sizeof(p)), NULL),
                 "{\"type\":\"CONTROL\",\"raw\":\"800178563412\",\"ctrlFlags\":\"80\",\"ctrlZeroHop\":true,\"ctrlLength\":6,"
                 "\"ctrlSubtype\":\"DISCOVER_REQ\",\"ctrlFilter\":1,\"ctrlTag\":305419896}");

    f.payload_type = MSN_PT_RAW_CUSTOM;
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_bytes(-1, data, 3, p, sizeof(p)), NULL),
                 "{\"type\":\"RAW_CUSTOM\",\"raw\":\"010203\",\"rawLength\":3,\"firstByteTag\":\"01\"}");
    f.payload_type = 13;
    CHECK_EQ_STR(roundtrip(&f, p, msn_encode_bytes(-1, data, 3, p, sizeof(p)), NULL),
                 "{\"type\":\"UNKNOWN\",\"raw\":\"010203\"}");
}

static void test_frame_checks(void)
{
    uint8_t path[64] = {0}, payload[200] = {0};
    msn_frame_t f = {.route_type = 1, .payload_type = 2, .hash_size = 4, .hash_count = 1, .path = path};
    CHECK_EQ_INT(msn_encode_packet(&f, payload, 4, frame, sizeof(frame)), -1); /* reserved size */
    f.hash_size = 2;
    f.hash_count = 33;
    CHECK_EQ_INT(msn_encode_packet(&f, payload, 4, frame, sizeof(frame)), -1); /* 66 path bytes */
    f.hash_count = 32;
    CHECK_EQ_INT(msn_encode_packet(&f, payload, 4, frame, sizeof(frame)), 1 + 1 + 64 + 4);
    CHECK_EQ_INT(frame[1], 0x60);
    f.hash_count = 0;
    CHECK_EQ_INT(msn_encode_packet(&f, payload, 185, frame, sizeof(frame)), -1); /* payload limit */
    CHECK_EQ_INT(msn_encode_packet(&f, payload, 184, frame, sizeof(frame)), 2 + 184);
    CHECK_EQ_INT(msn_encode_packet(&f, payload, 184, frame, 100), -1); /* out too small */
    f.route_type = 4;
    CHECK_EQ_INT(msn_encode_packet(&f, payload, 4, frame, sizeof(frame)), -1);
    /* Transport codes only for route types 0 and 3. */
    msn_frame_t t = {.route_type = 0, .payload_type = 2, .transport = {0xAA, 0xBB, 0xCC, 0xDD}, .hash_size = 1};
    CHECK_EQ_INT(msn_encode_packet(&t, payload, 4, frame, sizeof(frame)), 1 + 4 + 1 + 4);
    CHECK_EQ_INT(frame[1], 0xAA);
    t.route_type = 1;
    CHECK_EQ_INT(msn_encode_packet(&t, payload, 4, frame, sizeof(frame)), 1 + 1 + 4);
    /* A payload builder refuses what does not fit. */
    uint8_t big[200];
    CHECK_EQ_INT(msn_encode_direct(1, 2, (const uint8_t *)"\0\0", payload, 181, big, sizeof(big)), -1);
    CHECK_EQ_INT(msn_encode_direct(1, 2, (const uint8_t *)"\0\0", payload + 1, 180, frame, sizeof(frame)), 184);
}

/* Random frames of every type: encode, decode, and check the bytes and header survive. */
static void test_random_roundtrips(void)
{
    uint32_t s = 12345;
#define RND() (s = s * 1103515245u + 12345u, (s >> 16) & 0x7fff)
    uint8_t path[64], payload[MSN_MAX_PAYLOAD];
    for (int iter = 0; iter < 3000; iter++) {
        /* one draw per statement: the draws inside one initializer list are not sequenced */
        int route_type = (int)(RND() % 4);
        int payload_type = (int)(RND() % 16);
        int payload_version = (int)(RND() % 4);
        int hash_size = 1 + (int)(RND() % 3);
        msn_frame_t f = {.route_type = route_type, .payload_type = payload_type,
                         .payload_version = payload_version, .hash_size = hash_size};
        f.hash_count = (int)(RND() % (64 / f.hash_size + 1));
        if (f.hash_count > 63)
            f.hash_count = 63;
        for (int i = 0; i < 4; i++)
            f.transport[i] = (uint8_t)RND();
        for (int i = 0; i < 64; i++)
            path[i] = (uint8_t)RND();
        f.path = path;
        size_t n = RND() % (MSN_MAX_PAYLOAD + 1);
        for (size_t i = 0; i < n; i++)
            payload[i] = (uint8_t)RND();
        int len = msn_encode_packet(&f, payload, n, frame, sizeof(frame));
        CHECK(len > 0);
        CHECK_EQ_INT(msn_packet_decode_bytes(&pkt, frame, (size_t)len, NULL), 0);
        CHECK_EQ_INT(pkt.route_type, f.route_type);
        CHECK_EQ_INT(pkt.payload_type, f.payload_type);
        CHECK_EQ_INT(pkt.payload_version, f.payload_version);
        CHECK_EQ_INT(pkt.hash_count, f.hash_count);
        CHECK_EQ_INT(pkt.payload.len, n);
        CHECK(memcmp(msn_span_ptr(&pkt, pkt.payload), payload, n) == 0);
        msn_buf_reset(&out);
        msn_packet_render_json(&pkt, &out);
        CHECK(out.len > 10 && out.data[0] == '{' && out.data[out.len - 1] == '}');
    }
#undef RND
}

int main(void)
{
    MSN_RUN(test_ed25519_rfc8032);
    MSN_RUN(test_signed_advert);
    MSN_RUN(test_channel_messages);
    MSN_RUN(test_key_order);
    MSN_RUN(test_other_payloads);
    MSN_RUN(test_frame_checks);
    MSN_RUN(test_random_roundtrips);
    msn_buf_free(&out);
    msn_codec_thread_cleanup();
    return msn_test_done();
}
