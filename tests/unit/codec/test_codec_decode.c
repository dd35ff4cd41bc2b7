/*
 * test_codec_decode.c: frame decoding, every rejection rule and every payload layout,
 * checked against the exact decoded_json text CoreScope stores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/codec/codec.h"
#include "testlib.h"

static msn_packet_t pkt;
static msn_buf_t out;

/* Decodes hex and returns the decoded_json text, or "ERR <code>". */
static const char *dj_opts(const char *hex, const msn_decode_opts_t *opts)
{
    msn_buf_reset(&out);
    int rc = msn_packet_decode_hex(&pkt, hex, strlen(hex), opts);
    if (rc < 0) {
        msn_buf_printf(&out, "ERR %d", rc);
        return msn_buf_cstr(&out);
    }
    msn_packet_render_json(&pkt, &out);
    return msn_buf_cstr(&out);
}

static const char *dj(const char *hex)
{
    return dj_opts(hex, NULL);
}

static const char *path_json(void)
{
    msn_buf_reset(&out);
    msn_packet_render_path_json(&pkt, &out);
    return msn_buf_cstr(&out);
}

static char *repeat_hex(const char *prefix, const char *unit, int n)
{
    size_t len = strlen(prefix) + strlen(unit) * (size_t)n + 1;
    char *s = malloc(len);
    strcpy(s, prefix);
    for (int i = 0; i < n; i++)
        strcat(s, unit);
    return s;
}

static void test_header_fields(void)
{
    /* 0xC6 = version 3, payload 1 (RESPONSE), route 2 (DIRECT). */
    CHECK_EQ_STR(dj("C600AABBCCDD"), "{\"type\":\"RESPONSE\",\"destHash\":\"aa\",\"srcHash\":\"bb\",\"mac\":\"ccdd\"}");
    CHECK_EQ_INT(pkt.route_type, 2);
    CHECK_EQ_INT(pkt.payload_type, 1);
    CHECK_EQ_INT(pkt.payload_version, 3);
    CHECK_EQ_INT(pkt.has_transport, 0);
    CHECK_EQ_STR(msn_route_type_name(0), "TRANSPORT_FLOOD");
    CHECK_EQ_STR(msn_route_type_name(3), "TRANSPORT_DIRECT");
    CHECK_EQ_STR(msn_payload_type_name(0x0B), "CONTROL");
    CHECK_EQ_STR(msn_payload_type_name(0x0F), "RAW_CUSTOM");
    CHECK_EQ_STR(msn_payload_type_name(13), "UNKNOWN");
}

static void test_transport_codes(void)
{
    /* route 0 (TRANSPORT_FLOOD), REQ: codes ABCD 1234, zero hops. */
    CHECK_EQ_STR(dj("00ABCD123400010203040506"),
                 "{\"type\":\"REQ\",\"destHash\":\"01\",\"srcHash\":\"02\",\"mac\":\"0304\",\"encryptedData\":\"0506\"}");
    CHECK_EQ_INT(pkt.has_transport, 1);
    CHECK_EQ_INT(pkt.transport[0], 0xAB);
    CHECK_EQ_INT(pkt.transport[3], 0x34);
    CHECK_EQ_INT(pkt.payload.len, 6);
    /* route 3 (TRANSPORT_DIRECT) also carries codes. */
    CHECK_EQ_STR(dj("0BFFFF000000AABBCCDD"), "{\"type\":\"TXT_MSG\",\"destHash\":\"aa\",\"srcHash\":\"bb\",\"mac\":\"ccdd\"}");
    CHECK_EQ_INT(pkt.has_transport, 1);
}

static void test_path_hop_sizes(void)
{
    /* 1-byte hops: path byte 0x03. */
    CHECK_EQ_STR(dj("0903a1b2c3AABBCCDD"), "{\"type\":\"TXT_MSG\",\"destHash\":\"aa\",\"srcHash\":\"bb\",\"mac\":\"ccdd\"}");
    CHECK_EQ_INT(pkt.hash_size, 1);
    CHECK_EQ_INT(pkt.hash_count, 3);
    CHECK_EQ_STR(path_json(), "[\"A1\",\"B2\",\"C3\"]");
    /* 2-byte hops: 0x42. */
    dj("09427d1dda2aAABBCCDD");
    CHECK_EQ_INT(pkt.hash_size, 2);
    CHECK_EQ_INT(pkt.hash_count, 2);
    CHECK_EQ_STR(path_json(), "[\"7D1D\",\"DA2A\"]");
    /* 3-byte hops: 0x81. */
    dj("0981eacf01AABBCCDD");
    CHECK_EQ_INT(pkt.hash_size, 3);
    CHECK_EQ_STR(path_json(), "[\"EACF01\"]");
    /* Zero hops, hash size bits set: still valid, path_json "[]". */
    dj("0940AABBCCDD");
    CHECK_EQ_INT(pkt.hash_count, 0);
    CHECK_EQ_STR(path_json(), "[]");
    /* 3 x 21 = 63 path bytes is within the 64-byte limit; 2 x 32 = 64 too. */
    char *p = repeat_hex("0995", "aabbcc", 21);
    char *q = malloc(strlen(p) + 16);
    sprintf(q, "%sAABBCCDD", p);
    CHECK_EQ_STR(dj(q), "{\"type\":\"TXT_MSG\",\"destHash\":\"aa\",\"srcHash\":\"bb\",\"mac\":\"ccdd\"}");
    CHECK_EQ_INT(pkt.path.len, 63);
    free(p);
    free(q);
    p = repeat_hex("0960", "aabb", 32);
    q = malloc(strlen(p) + 16);
    sprintf(q, "%sAABBCCDD", p);
    CHECK(strncmp(dj(q), "{\"type\":\"TXT_MSG\"", 17) == 0);
    CHECK_EQ_INT(pkt.path.len, 64);
    free(p);
    free(q);
}

static void test_rejections(void)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "ERR %d", MSN_CODEC_ESHORT);
    CHECK_EQ_STR(dj(""), buf);
    CHECK_EQ_STR(dj("0A"), buf);
    snprintf(buf, sizeof(buf), "ERR %d", MSN_CODEC_EHEX);
    CHECK_EQ_STR(dj("0A0"), buf);      /* odd length */
    CHECK_EQ_STR(dj("0A0G"), buf);     /* not hex */
    CHECK_EQ_STR(dj("0A\t00AABBCCDD"), buf); /* tab is not stripped */
    snprintf(buf, sizeof(buf), "ERR %d", MSN_CODEC_ETRANSPORT);
    CHECK_EQ_STR(dj("00AABBCC"), buf); /* route 0 needs 4 code bytes */
    snprintf(buf, sizeof(buf), "ERR %d", MSN_CODEC_ENOPATH);
    CHECK_EQ_STR(dj("00AABBCCDD"), buf); /* codes but no path byte */
    snprintf(buf, sizeof(buf), "ERR %d", MSN_CODEC_EPATHLEN);
    CHECK_EQ_STR(dj("09C0AABBCCDD"), buf); /* reserved hash size 4, even with zero hops */
    CHECK_EQ_STR(dj("09C1AABBCCDDEE"), buf);
    CHECK_EQ_STR(dj("0961AABBCCDD"), buf); /* 2 x 33 = 66 > 64 */
    CHECK_EQ_STR(dj("0996AABBCCDD"), buf); /* 3 x 22 = 66 > 64 */
    CHECK_EQ_STR(dj("0941AABBCCDD"), "{\"type\":\"TXT_MSG\",\"raw\":\"ccdd\",\"error\":\"too short\"}");
    snprintf(buf, sizeof(buf), "ERR %d", MSN_CODEC_EPATHRUN);
    CHECK_EQ_STR(dj("0905AABB"), buf); /* 5 hops claimed, 2 bytes present */
    /* Payload limit: 184 bytes decode, 185 are rejected. */
    char *ok = repeat_hex("3D00", "ab", 184);
    CHECK(strncmp(dj(ok), "{\"type\":\"RAW_CUSTOM\"", 20) == 0);
    CHECK_EQ_INT(pkt.payload.len, 184);
    char *bad = repeat_hex("3D00", "ab", 185);
    snprintf(buf, sizeof(buf), "ERR %d", MSN_CODEC_EPAYLOAD);
    CHECK_EQ_STR(dj(bad), buf);
    free(ok);
    free(bad);
    /* A very long packet is rejected without overrunning the packet buffer. */
    char *huge = repeat_hex("3D00", "ab", 5000);
    CHECK_EQ_STR(dj(huge), buf);
    free(huge);
    for (int rc = -1; rc >= -7; rc--)
        CHECK(strcmp(msn_codec_strerror(rc), "unknown codec error") != 0);
}

static void test_whitespace_in_hex(void)
{
    CHECK_EQ_STR(dj("09 00\r\nAA BB\nCC DD"), "{\"type\":\"TXT_MSG\",\"destHash\":\"aa\",\"srcHash\":\"bb\",\"mac\":\"ccdd\"}");
    CHECK_EQ_STR(dj("0 900AABBCCDD"), "{\"type\":\"TXT_MSG\",\"destHash\":\"aa\",\"srcHash\":\"bb\",\"mac\":\"ccdd\"}");
}

static void test_encrypted_types(void)
{
    CHECK_EQ_STR(dj("0100aabbccdd0102"),
                 "{\"type\":\"REQ\",\"destHash\":\"aa\",\"srcHash\":\"bb\",\"mac\":\"ccdd\",\"encryptedData\":\"0102\"}");
    CHECK_EQ_STR(dj("0500aabbcc"), "{\"type\":\"RESPONSE\",\"raw\":\"aabbcc\",\"error\":\"too short\"}");
    CHECK_EQ_STR(dj("0900"), "{\"type\":\"TXT_MSG\",\"error\":\"too short\"}");
}

static void test_ack(void)
{
    CHECK_EQ_STR(dj("0D0001020304"), "{\"type\":\"ACK\",\"extraHash\":\"04030201\",\"ackLen\":4}");
    CHECK_EQ_STR(dj("0D000102030405"), "{\"type\":\"ACK\",\"extraHash\":\"04030201\",\"ackLen\":5,\"ackAttempt\":5}");
    CHECK_EQ_STR(dj("0D000102030400FF"),
                 "{\"type\":\"ACK\",\"extraHash\":\"04030201\",\"ackLen\":6,\"ackAttempt\":0,\"ackRand\":255}");
    CHECK_EQ_STR(dj("0D000102030401020304"),
                 "{\"type\":\"ACK\",\"extraHash\":\"04030201\",\"ackLen\":6,\"ackAttempt\":1,\"ackRand\":2}");
    CHECK_EQ_STR(dj("0D00010203"), "{\"type\":\"ACK\",\"raw\":\"010203\",\"error\":\"too short\"}");
}

/* An ADVERT packet (FLOOD, no path) around appdata hex; pubkey 11.., ts 0x01020304,
 * signature 22... */
static char *advert(const char *appdata_hex)
{
    char *s = malloc(4 + 200 + strlen(appdata_hex) + 1);
    strcpy(s, "1100");
    for (int i = 0; i < 32; i++)
        strcat(s, "11");
    strcat(s, "04030201");
    for (int i = 0; i < 64; i++)
        strcat(s, "22");
    strcat(s, appdata_hex);
    return s;
}

#define ADV_PREFIX                                                                                           \
    "{\"type\":\"ADVERT\",\"pubKey\":\"1111111111111111111111111111111111111111111111111111111111111111\","      \
    "\"timestamp\":16909060,\"timestampISO\":\"1970-07-15T16:57:40.000Z\",\"signature\":"                      \
    "\"2222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222" \
    "2222222222222222222222222\""

static void check_advert(const char *appdata, const char *rest)
{
    char *hex = advert(appdata);
    char want[1024];
    snprintf(want, sizeof(want), "%s%s", ADV_PREFIX, rest);
    CHECK_EQ_STR(dj(hex), want);
    free(hex);
}

static void test_advert_fields(void)
{
    check_advert("", "}");
    /* Repeater with location and name (fixture tx 2's appdata). */
    check_advert("92ec9f3e02c688b9f852352d443420333030442052616b",
                 ",\"flags\":{\"raw\":146,\"type\":2,\"chat\":false,\"repeater\":true,\"room\":false,\"sensor\":false,"
                 "\"hasLocation\":true,\"hasFeat1\":false,\"hasFeat2\":false,\"hasName\":true},\"lat\":37.658604,"
                 "\"lon\":-122.058554,\"name\":\"R5-D4 300D Rak\"}");
    CHECK_EQ_INT(pkt.p.has & MSN_HAS_LATLON, MSN_HAS_LATLON);
    /* Negative and tiny coordinates: plain decimal notation. */
    check_advert("1001000000ffffffff",
                 ",\"flags\":{\"raw\":16,\"type\":0,\"chat\":false,\"repeater\":false,\"room\":false,\"sensor\":false,"
                 "\"hasLocation\":true,\"hasFeat1\":false,\"hasFeat2\":false,\"hasName\":false},\"lat\":0.000001,"
                 "\"lon\":-0.000001}");
    /* Zero location is emitted ("lat":0), feat1/feat2 in order, chat type. */
    check_advert("71000000000000000001000200",
                 ",\"flags\":{\"raw\":113,\"type\":1,\"chat\":true,\"repeater\":false,\"room\":false,\"sensor\":false,"
                 "\"hasLocation\":true,\"hasFeat1\":true,\"hasFeat2\":true,\"hasName\":false},\"lat\":0,\"lon\":0,"
                 "\"feat1\":1,\"feat2\":2}");
    /* Location flag without the 8 bytes: no lat/lon. Type 7 is none of the named roles. */
    check_advert("170102",
                 ",\"flags\":{\"raw\":23,\"type\":7,\"chat\":false,\"repeater\":false,\"room\":false,\"sensor\":false,"
                 "\"hasLocation\":true,\"hasFeat1\":false,\"hasFeat2\":false,\"hasName\":false}}");
    /* Too short: 99 bytes. */
    char hex[512] = "1100";
    for (int i = 0; i < 99; i++)
        strcat(hex, "ab");
    CHECK(strstr(dj(hex), "\"error\":\"too short for advert\"") != NULL);
    CHECK_EQ_STR(dj("1100"), "{\"type\":\"ADVERT\",\"error\":\"too short for advert\"}");
    /* timestamp 0 is omitted but timestampISO stays. */
    char z[512] = "1100";
    for (int i = 0; i < 32; i++)
        strcat(z, "11");
    strcat(z, "00000000");
    for (int i = 0; i < 64; i++)
        strcat(z, "22");
    CHECK(strstr(dj(z), "\"pubKey\":\"1111111111111111111111111111111111111111111111111111111111111111\","
                        "\"timestampISO\":\"1970-01-01T00:00:00.000Z\"") != NULL);
}

static void test_advert_name(void)
{
    /* Control characters (except TAB/LF) and DEL are removed; invalid UTF-8 becomes U+FFFD;
     * the name stops at the first NUL. */
    check_advert("81" "41014209430a447f45ff46004748",
                 ",\"flags\":{\"raw\":129,\"type\":1,\"chat\":true,\"repeater\":false,\"room\":false,\"sensor\":false,"
                 "\"hasLocation\":false,\"hasFeat1\":false,\"hasFeat2\":false,\"hasName\":true},"
                 "\"name\":\"AB\\tC\\nDE\xef\xbf\xbd" "F\"}");
    CHECK_EQ_INT(pkt.p.name_len, 11);
    /* Cut to 32 bytes on a byte boundary: 31 'a' + "é" (C3 A9) keeps only C3, which the JSON
     * encoder replaces with \ufffd, as Go does. */
    char app[256] = "81";
    for (int i = 0; i < 31; i++)
        strcat(app, "61");
    strcat(app, "c3a9");
    char *hex = advert(app);
    dj(hex);
    CHECK_EQ_INT(pkt.p.name_len, 32);
    CHECK(strstr(out.data, "\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\ufffd\"}") != NULL);
    free(hex);
    /* A 2-byte sequence that fits stays intact: 30 'a' + "é". */
    strcpy(app, "81");
    for (int i = 0; i < 30; i++)
        strcat(app, "61");
    strcat(app, "c3a9");
    hex = advert(app);
    dj(hex);
    CHECK(strstr(out.data, "\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\"}") != NULL);
    free(hex);
    /* Invalid bytes expand to 3 bytes before the cut: 30 'a' + FF gives 30 'a' + EF BF. */
    strcpy(app, "81");
    for (int i = 0; i < 30; i++)
        strcat(app, "61");
    strcat(app, "ff");
    hex = advert(app);
    dj(hex);
    CHECK_EQ_INT(pkt.p.name_len, 32);
    CHECK(strstr(out.data, "\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\ufffd\\ufffd\"}") != NULL);
    free(hex);
    /* A name of only removed characters is omitted. */
    check_advert("810102",
                 ",\"flags\":{\"raw\":129,\"type\":1,\"chat\":true,\"repeater\":false,\"room\":false,\"sensor\":false,"
                 "\"hasLocation\":false,\"hasFeat1\":false,\"hasFeat2\":false,\"hasName\":true}}");
}

static const char *sensor_flags = ",\"flags\":{\"raw\":132,\"type\":4,\"chat\":false,\"repeater\":false,\"room\":false,"
                                  "\"sensor\":true,\"hasLocation\":false,\"hasFeat1\":false,\"hasFeat2\":false,"
                                  "\"hasName\":true},\"name\":\"S\"";

static void check_sensor(const char *telemetry, const char *rest)
{
    char app[64], want[512];
    snprintf(app, sizeof(app), "845300%s", telemetry);
    snprintf(want, sizeof(want), "%s%s", sensor_flags, rest);
    check_advert(app, want);
}

static void test_advert_telemetry(void)
{
    check_sensor("d20e3509", ",\"battery_mv\":3794,\"temperature_c\":23.57}");
    check_sensor("102778ec", ",\"battery_mv\":10000,\"temperature_c\":-50}"); /* both bounds kept */
    check_sensor("112777ec", "}");                                           /* 10001 mV, -50.01 C */
    /* NULs after the name are all skipped, so a 0 mV reading there is eaten (as upstream). */
    check_sensor("00001027", "}");
    check_sensor("01001127", ",\"battery_mv\":1}");                          /* 100.01 C dropped */
    check_sensor("0100000000", ",\"battery_mv\":1,\"temperature_c\":0}");
    check_sensor("d20e35", "}"); /* under 4 bytes: nothing */
    /* Several NULs after the name are skipped before the telemetry. */
    check_sensor("0000d20e3509", ",\"battery_mv\":3794,\"temperature_c\":23.57}");
    /* A sensor without a name reads telemetry right after the flags. */
    check_advert("04d20e3509",
                 ",\"flags\":{\"raw\":4,\"type\":4,\"chat\":false,\"repeater\":false,\"room\":false,\"sensor\":true,"
                 "\"hasLocation\":false,\"hasFeat1\":false,\"hasFeat2\":false,\"hasName\":false},"
                 "\"battery_mv\":3794,\"temperature_c\":23.57}");
    check_advert("0400001027",
                 ",\"flags\":{\"raw\":4,\"type\":4,\"chat\":false,\"repeater\":false,\"room\":false,\"sensor\":true,"
                 "\"hasLocation\":false,\"hasFeat1\":false,\"hasFeat2\":false,\"hasName\":false},"
                 "\"temperature_c\":100}"); /* 0 mV dropped */
    /* A non-sensor ignores the same bytes. */
    check_advert("835300d20e3509",
                 ",\"flags\":{\"raw\":131,\"type\":3,\"chat\":false,\"repeater\":false,\"room\":true,\"sensor\":false,"
                 "\"hasLocation\":false,\"hasFeat1\":false,\"hasFeat2\":false,\"hasName\":true},\"name\":\"S\"}");
}

static void test_advert_signature_flag(void)
{
    msn_decode_opts_t v = {.keys = NULL, .verify_signatures = 1};
    char *hex = advert("81414243");
    const char *j = dj_opts(hex, &v);
    /* A garbage signature is reported as false (the key is emitted because it is set). */
    CHECK(strstr(j, "\"signature\":\"2222") != NULL);
    CHECK(strstr(j, "\",\"signatureValid\":false,\"flags\":") != NULL);
    CHECK(strstr(dj(hex), "signatureValid") == NULL);
    free(hex);
}

static void test_grp_no_key(void)
{
    CHECK_EQ_STR(dj("1500 6E 20E9 1EBBBE6974CC71086F453C26DA75769F"),
                 "{\"type\":\"GRP_TXT\",\"mac\":\"20e9\",\"encryptedData\":\"1ebbbe6974cc71086f453c26da75769f\","
                 "\"channelHash\":110,\"channelHashHex\":\"6E\",\"decryptionStatus\":\"no_key\"}");
    /* channelHash 0 is omitted, its hex is not. */
    CHECK_EQ_STR(dj("1500 00 0102"),
                 "{\"type\":\"GRP_TXT\",\"mac\":\"0102\",\"channelHashHex\":\"00\",\"decryptionStatus\":\"no_key\"}");
    CHECK_EQ_STR(dj("1500 0001"), "{\"type\":\"GRP_TXT\",\"raw\":\"0001\",\"error\":\"too short\"}");
    CHECK_EQ_STR(dj("1900 FF0102AABB"),
                 "{\"type\":\"GRP_DATA\",\"mac\":\"0102\",\"encryptedData\":\"aabb\",\"channelHash\":255,"
                 "\"channelHashHex\":\"FF\",\"decryptionStatus\":\"no_key\"}");
    /* With keys, a ciphertext under 5 bytes is still "no_key"; 5+ bytes that match no key
     * are "decryption_failed". */
    msn_chankeys_t *ks = msn_chankeys_new();
    msn_chankeys_add_builtin(ks);
    msn_decode_opts_t o = {.keys = ks};
    CHECK(strstr(dj_opts("1500 11 0102 AABBCCDD", &o), "\"decryptionStatus\":\"no_key\"") != NULL);
    CHECK(strstr(dj_opts("1500 11 0102 AABBCCDDEE", &o), "\"decryptionStatus\":\"decryption_failed\"") != NULL);
    CHECK(strstr(dj_opts("1500 11 0102 00112233445566778899AABBCCDDEEFF", &o),
                 "\"decryptionStatus\":\"decryption_failed\"") != NULL);
    msn_chankeys_t *none = msn_chankeys_new();
    msn_decode_opts_t o2 = {.keys = none};
    CHECK(strstr(dj_opts("1500 11 0102 AABBCCDDEE", &o2), "\"decryptionStatus\":\"no_key\"") != NULL);
    msn_chankeys_free(none);
    msn_chankeys_free(ks);
}

/* Vectors built independently (Python: AES-128-ECB + HMAC-SHA256 over the ciphertext). */
#define GRPTXT_TEST "1500D9C92D6AFB28B62410A4246D6A1DED871217CC48CF4A5130655B956CB7B25937646C6A"
#define GRPDATA_PUBLIC "190011C20EE9246D284DFE55F5EEAD1C0BD20ECB5D"

static void test_grp_decrypt_vectors(void)
{
    char err[128];
    msn_chankeys_t *ks = msn_chankeys_new();
    msn_chankeys_add_builtin(ks);
    CHECK_EQ_INT(msn_chankeys_add_hashtag(ks, "#test", err, sizeof(err)), 0);
    msn_decode_opts_t o = {.keys = ks};
    CHECK_EQ_STR(dj_opts(GRPTXT_TEST, &o),
                 "{\"type\":\"CHAN\",\"channelHash\":217,\"channelHashHex\":\"D9\",\"decryptionStatus\":\"decrypted\","
                 "\"channel\":\"#test\",\"text\":\"Alice: Hi \\u003cb\\u003e \\u0026 \\u2028 \xc3\xa9\","
                 "\"sender\":\"Alice\",\"sender_timestamp\":1700000000}");
    char tmp[8];
    CHECK_EQ_STR(msn_packet_channel_hash(&pkt, tmp), "#test");
    CHECK_EQ_STR(dj_opts(GRPDATA_PUBLIC, &o),
                 "{\"type\":\"GRP_DATA\",\"channelHash\":17,\"channelHashHex\":\"11\",\"decryptionStatus\":\"decrypted\","
                 "\"channel\":\"Public\",\"dataType\":4660,\"dataLen\":3,\"decryptedBlob\":\"aabbcc\"}");
    CHECK(msn_packet_channel_hash(&pkt, tmp) == NULL); /* only payload type 5 */
    /* Without the #test key the message is undecryptable. */
    msn_chankeys_t *pub = msn_chankeys_new();
    msn_chankeys_add_builtin(pub);
    msn_decode_opts_t op = {.keys = pub};
    CHECK(strstr(dj_opts(GRPTXT_TEST, &op), "\"decryptionStatus\":\"decryption_failed\"") != NULL);
    CHECK_EQ_STR(msn_packet_channel_hash(&pkt, tmp), "enc_D9");
    msn_chankeys_free(pub);
    msn_chankeys_free(ks);
}

/* Encrypts text on channel key and decodes it; returns the decoded_json. */
static const char *chan_roundtrip(const uint8_t key[16], msn_chankeys_t *ks, const char *text)
{
    uint8_t plain[200], payload[MSN_MAX_PAYLOAD], pk[300];
    int pn = msn_encode_grp_txt_plain(1234, 0, text, plain, sizeof(plain));
    CHECK(pn > 0);
    int n = msn_encode_group(key, plain, (size_t)pn, payload, sizeof(payload));
    CHECK(n > 0);
    msn_frame_t f = {.route_type = 1, .payload_type = MSN_PT_GRP_TXT, .hash_size = 1};
    int len = msn_encode_packet(&f, payload, (size_t)n, pk, sizeof(pk));
    CHECK(len > 0);
    msn_decode_opts_t o = {.keys = ks};
    msn_buf_reset(&out);
    if (msn_packet_decode_bytes(&pkt, pk, (size_t)len, &o) < 0)
        return "ERR";
    msn_packet_render_json(&pkt, &out);
    return msn_buf_cstr(&out);
}

static void test_chan_sender_rules(void)
{
    char err[128];
    msn_chankeys_t *ks = msn_chankeys_new();
    CHECK_EQ_INT(msn_chankeys_add_hashtag(ks, "#x", err, sizeof(err)), 0);
    const uint8_t *key = msn_chankeys_key(ks, 0);
    const char *pre = "{\"type\":\"CHAN\",\"channelHash\":";
    const char *j = chan_roundtrip(key, ks, "Bob: hi");
    CHECK(strncmp(j, pre, strlen(pre)) == 0);
    CHECK(strstr(j, "\"channel\":\"#x\",\"text\":\"Bob: hi\",\"sender\":\"Bob\",\"sender_timestamp\":1234}") != NULL);
    /* Brackets or a colon before ": " mean no sender. */
    CHECK(strstr(chan_roundtrip(key, ks, "[bot] x: y"), "\"text\":\"[bot] x: y\",\"sender_timestamp\"") != NULL);
    CHECK(strstr(chan_roundtrip(key, ks, "a:b: c"), "\"text\":\"a:b: c\",\"sender_timestamp\"") != NULL);
    /* ": " at index 0 is no sender; at 49 it is, at 50 it is not. */
    CHECK(strstr(chan_roundtrip(key, ks, ": x"), "\"text\":\": x\",\"sender_timestamp\"") != NULL);
    char t[128];
    memset(t, 'n', 49);
    strcpy(t + 49, ": m");
    CHECK(strstr(chan_roundtrip(key, ks, t), "\"sender\":\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"") != NULL);
    memset(t, 'n', 50);
    strcpy(t + 50, ": m");
    CHECK(strstr(chan_roundtrip(key, ks, t), "\"sender\"") == NULL);
    /* A sender with nothing after ": " keeps the sender and omits text. */
    j = chan_roundtrip(key, ks, "Bob: ");
    CHECK(strstr(j, "\"channel\":\"#x\",\"sender\":\"Bob\",\"sender_timestamp\":1234}") != NULL);
    /* Empty text: only the timestamp remains. */
    CHECK(strstr(chan_roundtrip(key, ks, ""), "\"channel\":\"#x\",\"sender_timestamp\":1234}") != NULL);
    /* Up to two non-printables pass (CR counts, TAB/LF do not); three fail. */
    CHECK(strstr(chan_roundtrip(key, ks, "a\x01\rb\t\n"), "\"decryptionStatus\":\"decrypted\"") != NULL);
    CHECK(strstr(chan_roundtrip(key, ks, "a\x01\x02\x03"), "\"decryptionStatus\":\"decryption_failed\"") != NULL);
    /* U+FFFD counts as non-printable. */
    CHECK(strstr(chan_roundtrip(key, ks, "\xef\xbf\xbd\xef\xbf\xbd\x01"), "decryption_failed") != NULL);
    CHECK(strstr(chan_roundtrip(key, ks, "\xef\xbf\xbd\xef\xbf\xbd"), "\"decrypted\"") != NULL);
    /* Invalid UTF-8 fails. */
    CHECK(strstr(chan_roundtrip(key, ks, "ab\xff"), "decryption_failed") != NULL);
    msn_chankeys_free(ks);
}

static void test_grp_data_inner_errors(void)
{
    char err[128];
    msn_chankeys_t *ks = msn_chankeys_new();
    CHECK_EQ_INT(msn_chankeys_add_hex(ks, "mine", "00112233445566778899aabbccddeeff", err, sizeof(err)), 0);
    uint8_t plain[32] = {0x01, 0x00, 0x20}; /* data_len 32 > 16 - 3 */
    uint8_t payload[MSN_MAX_PAYLOAD], pk[300];
    int n = msn_encode_group(msn_chankeys_key(ks, 0), plain, 16, payload, sizeof(payload));
    msn_frame_t f = {.route_type = 1, .payload_type = MSN_PT_GRP_DATA, .hash_size = 1};
    int len = msn_encode_packet(&f, payload, (size_t)n, pk, sizeof(pk));
    msn_decode_opts_t o = {.keys = ks};
    CHECK_EQ_INT(msn_packet_decode_bytes(&pkt, pk, (size_t)len, &o), 0);
    msn_buf_reset(&out);
    msn_packet_render_json(&pkt, &out);
    char want[256];
    snprintf(want, sizeof(want),
             "{\"type\":\"GRP_DATA\",\"channelHash\":%d,\"channelHashHex\":\"%02X\",\"decryptionStatus\":\"decrypted\","
             "\"channel\":\"mine\",\"dataType\":1,\"dataLen\":32,\"error\":\"inner data_len exceeds buffer\"}",
             payload[0], payload[0]);
    CHECK_EQ_STR(msn_buf_cstr(&out), want);
    msn_chankeys_free(ks);
}

static void test_anon_req_and_path(void)
{
    char hex[256] = "1D00AB";
    for (int i = 0; i < 32; i++)
        strcat(hex, "ee");
    strcat(hex, "1234CAFE");
    CHECK_EQ_STR(dj(hex), "{\"type\":\"ANON_REQ\",\"destHash\":\"ab\",\"mac\":\"1234\",\"encryptedData\":\"cafe\","
                          "\"ephemeralPubKey\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"}");
    hex[strlen(hex) - 6] = '\0'; /* 34 bytes */
    CHECK(strstr(dj(hex), "\"error\":\"too short\"") != NULL);
    CHECK_EQ_STR(dj("2200ADBE7425881A8F"),
                 "{\"type\":\"PATH\",\"destHash\":\"ad\",\"srcHash\":\"be\",\"mac\":\"7425\",\"pathData\":\"881a8f\"}");
    CHECK_EQ_STR(dj("2200ADBE7425"), "{\"type\":\"PATH\",\"destHash\":\"ad\",\"srcHash\":\"be\",\"mac\":\"7425\"}");
    CHECK_EQ_STR(dj("2200ADBE74"), "{\"type\":\"PATH\",\"raw\":\"adbe74\",\"error\":\"too short\"}");
}

static void test_trace(void)
{
    /* DIRECT TRACE, 2 SNR bytes (+10 dB, -2.75 dB), tag 1, auth 2, flags 1 (2-byte hops). */
    CHECK_EQ_STR(dj("2602 28F5 01000000 02000000 01 AABBCCDDEE"),
                 "{\"type\":\"TRACE\",\"pathData\":\"aabbccddee\",\"snrValues\":[10,-2.75],\"tag\":1,\"authCode\":2,"
                 "\"traceFlags\":1}");
    CHECK_EQ_STR(path_json(), "[\"AABB\",\"CCDD\"]");
    CHECK_EQ_INT(pkt.hops_completed, 2);
    CHECK(pkt.anomaly == NULL);
    /* Flags 3: 8-byte hops; flags 0: 1-byte. */
    dj("2600 00000000 00000000 03 0102030405060708");
    CHECK_EQ_STR(path_json(), "[\"0102030405060708\"]");
    CHECK_EQ_STR(out.data, "[\"0102030405060708\"]");
    CHECK_EQ_STR(dj("2600 00000000 00000000 00 0102"), "{\"type\":\"TRACE\",\"pathData\":\"0102\",\"traceFlags\":0}");
    CHECK_EQ_STR(path_json(), "[\"01\",\"02\"]");
    /* No route data: no pathData/snrValues, and path_json keeps the header (SNR) bytes. */
    CHECK_EQ_STR(dj("2601 0F BA74E45D 00000000 27"), "{\"type\":\"TRACE\",\"tag\":1575253178,\"traceFlags\":39}");
    CHECK_EQ_STR(path_json(), "[\"0F\"]");
    CHECK_EQ_INT(pkt.hops_completed, -1);
    /* 2-byte header hops give no snrValues. */
    CHECK_EQ_STR(dj("2641 AAAA 01000000 00000000 00 09"),
                 "{\"type\":\"TRACE\",\"pathData\":\"09\",\"tag\":1,\"traceFlags\":0}");
    /* Too short (8 bytes), with an anomaly note; FLOOD routing is an anomaly too. */
    CHECK_EQ_STR(dj("2600 0102030405060708"), "{\"type\":\"TRACE\",\"raw\":\"0102030405060708\",\"error\":\"too short\"}");
    CHECK_EQ_STR(pkt.anomaly, "TRACE payload decode failed: too short");
    dj("2500 01000000 00000000 00 AA");
    CHECK(pkt.anomaly != NULL && strstr(pkt.anomaly, "non-DIRECT") != NULL);
    /* A route shorter than one hop gives no hops at all. */
    dj("2600 01000000 00000000 02 AABBCC");
    CHECK_EQ_STR(path_json(), "[]");
}

static void test_multipart(void)
{
    CHECK_EQ_STR(dj("2900 23 04030201"),
                 "{\"type\":\"MULTIPART\",\"remaining\":2,\"innerType\":3,\"innerTypeName\":\"ACK\",\"innerAckCrc\":\"01020304\","
                 "\"innerAckLen\":4}");
    CHECK_EQ_STR(dj("2900 03 0403020107"),
                 "{\"type\":\"MULTIPART\",\"remaining\":0,\"innerType\":3,\"innerTypeName\":\"ACK\",\"innerAckCrc\":\"01020304\","
                 "\"innerAckLen\":5,\"innerAckAttempt\":7}");
    CHECK_EQ_STR(dj("2900 13 040302010708090A"),
                 "{\"type\":\"MULTIPART\",\"remaining\":1,\"innerType\":3,\"innerTypeName\":\"ACK\",\"innerAckCrc\":\"01020304\","
                 "\"innerAckLen\":6,\"innerAckAttempt\":7,\"innerAckRand\":8}");
    /* An ACK inner under 4 bytes falls back to innerPayload. */
    CHECK_EQ_STR(dj("2900 03 0403"),
                 "{\"type\":\"MULTIPART\",\"remaining\":0,\"innerType\":3,\"innerTypeName\":\"ACK\",\"innerPayload\":\"0403\"}");
    CHECK_EQ_STR(dj("2900 F2 AABB"),
                 "{\"type\":\"MULTIPART\",\"remaining\":15,\"innerType\":2,\"innerTypeName\":\"TXT_MSG\","
                 "\"innerPayload\":\"aabb\"}");
    CHECK_EQ_STR(dj("2900 0C"), "{\"type\":\"MULTIPART\",\"remaining\":0,\"innerType\":12,\"innerTypeName\":\"UNKNOWN\"}");
    CHECK_EQ_STR(dj("2900"), "{\"type\":\"MULTIPART\",\"error\":\"too short\"}");
}

static void test_control(void)
{
    CHECK_EQ_STR(dj("2E00 80"), "{\"type\":\"CONTROL\",\"raw\":\"80\",\"ctrlFlags\":\"80\",\"ctrlZeroHop\":true,"
                                "\"ctrlLength\":1,\"ctrlSubtype\":\"DISCOVER_REQ\"}");
    CHECK_EQ_STR(dj("2E00 8104 78563412"),
                 "{\"type\":\"CONTROL\",\"raw\":\"810478563412\",\"ctrlFlags\":\"81\",\"ctrlZeroHop\":true,\"ctrlLength\":6,"
                 "\"ctrlSubtype\":\"DISCOVER_REQ\",\"ctrlFilter\":4,\"ctrlTag\":305419896}");
    CHECK_EQ_STR(dj("2E00 8000 01000000 00000000"),
                 "{\"type\":\"CONTROL\",\"raw\":\"80000100000000000000\",\"ctrlFlags\":\"80\",\"ctrlZeroHop\":true,"
                 "\"ctrlLength\":10,\"ctrlSubtype\":\"DISCOVER_REQ\",\"ctrlFilter\":0,\"ctrlTag\":1,\"ctrlSince\":0}");
    /* DISCOVER_RESP: node type, signed SNR, tag, 8-byte pubkey prefix (8..31 bytes left). */
    CHECK_EQ_STR(dj("2E00 92 F6 02000000 0102030405060708090A"),
                 "{\"type\":\"CONTROL\",\"raw\":\"92f6020000000102030405060708090a\",\"ctrlFlags\":\"92\",\"ctrlZeroHop\":true,"
                 "\"ctrlLength\":16,\"ctrlSubtype\":\"DISCOVER_RESP\",\"ctrlTag\":2,\"ctrlNodeType\":2,\"ctrlSNR\":-10,"
                 "\"ctrlPubKey\":\"0102030405060708\"}");
    char hex[256] = "2E00 94 10 03000000 ";
    for (int i = 0; i < 33; i++)
        strcat(hex, "ab");
    dj(hex);
    CHECK(strstr(out.data, "\"ctrlSNR\":16,\"ctrlPubKey\":\"abababababababababababababababababababababababababababababababab\"}") !=
          NULL);
    CHECK(strstr(dj("2E00 90 10 03000000 01020304"), "ctrlPubKey") == NULL);
    CHECK_EQ_STR(dj("2E00 90"), "{\"type\":\"CONTROL\",\"raw\":\"90\",\"ctrlFlags\":\"90\",\"ctrlZeroHop\":true,"
                                "\"ctrlLength\":1,\"ctrlSubtype\":\"DISCOVER_RESP\",\"ctrlNodeType\":0}");
    CHECK_EQ_STR(dj("2E00 1F"), "{\"type\":\"CONTROL\",\"raw\":\"1f\",\"ctrlFlags\":\"1f\",\"ctrlZeroHop\":false,"
                                "\"ctrlLength\":1,\"ctrlSubtype\":\"UNKNOWN\"}");
    CHECK_EQ_STR(dj("2E00"), "{\"type\":\"CONTROL\",\"error\":\"too short\"}");
}

static void test_raw_custom_and_unknown(void)
{
    CHECK_EQ_STR(dj("3D00"), "{\"type\":\"RAW_CUSTOM\",\"rawLength\":0}");
    CHECK_EQ_STR(dj("3E00 0aFF"), "{\"type\":\"RAW_CUSTOM\",\"raw\":\"0aff\",\"rawLength\":2,\"firstByteTag\":\"0A\"}");
    CHECK_EQ_STR(dj("3100 AB"), "{\"type\":\"UNKNOWN\",\"raw\":\"ab\"}"); /* 12 */
    CHECK_EQ_STR(dj("3500 AB"), "{\"type\":\"UNKNOWN\",\"raw\":\"ab\"}"); /* 13 */
    CHECK_EQ_STR(dj("3900"), "{\"type\":\"UNKNOWN\"}");                   /* 14 */
}

static void key_cb(void *ctx, const char *key, const msn_field_t *f)
{
    (void)f;
    msn_buf_t *b = ctx;
    msn_buf_puts(b, key);
    msn_buf_putc(b, ',');
}

static void test_fields_walk(void)
{
    /* The field walk gives exactly the keys of the JSON, in order. */
    dj("2E00 8104 78563412");
    msn_buf_t keys = MSN_BUF_INIT;
    msn_packet_fields(&pkt, key_cb, &keys);
    CHECK_EQ_STR(msn_buf_cstr(&keys), "type,raw,ctrlFlags,ctrlZeroHop,ctrlLength,ctrlSubtype,ctrlFilter,ctrlTag,");
    msn_buf_free(&keys);
}

int main(void)
{
    MSN_RUN(test_header_fields);
    MSN_RUN(test_transport_codes);
    MSN_RUN(test_path_hop_sizes);
    MSN_RUN(test_rejections);
    MSN_RUN(test_whitespace_in_hex);
    MSN_RUN(test_encrypted_types);
    MSN_RUN(test_ack);
    MSN_RUN(test_advert_fields);
    MSN_RUN(test_advert_name);
    MSN_RUN(test_advert_telemetry);
    MSN_RUN(test_advert_signature_flag);
    MSN_RUN(test_grp_no_key);
    MSN_RUN(test_grp_decrypt_vectors);
    MSN_RUN(test_chan_sender_rules);
    MSN_RUN(test_grp_data_inner_errors);
    MSN_RUN(test_anon_req_and_path);
    MSN_RUN(test_trace);
    MSN_RUN(test_multipart);
    MSN_RUN(test_control);
    MSN_RUN(test_raw_custom_and_unknown);
    MSN_RUN(test_fields_walk);
    msn_buf_free(&out);
    msn_codec_thread_cleanup();
    return msn_test_done();
}
