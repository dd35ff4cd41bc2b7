/*
 * test_codec_hash.c: the content hash (§2.7) with its fallbacks, the derived columns
 * (channel_hash, from_pubkey, scope_name) and the channel key set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/codec/codec.h"
#include "testlib.h"

static char hbuf[17];

static const char *hash_of(const char *raw)
{
    size_t n = msn_codec_content_hash(raw, strlen(raw), hbuf);
    CHECK_EQ_INT(n, strlen(hbuf));
    return hbuf;
}

/* Lowercase hex of SHA-256(bytes of hex)[0:8], computed here independently of the codec. */
static const char *sha_prefix(const char *hex)
{
    static char s[17];
    uint8_t b[1024], d[32];
    size_t n = strlen(hex) / 2;
    CHECK_EQ_INT(msn_hex_decode(hex, strlen(hex), b, n), 0);
    CHECK_EQ_INT(msn_sha256(b, n, d), 0);
    msn_hex_encode(d, 8, s, 0);
    return s;
}

static void test_hash_formula(void)
{
    /* Golden value of the upstream test suite: TRACE mixes in path_len as uint16 LE. */
    CHECK_EQ_STR(hash_of("2502AABBDEADBEEF"), "b1baaf3bf0d0726c");
    /* Firmware formula for a TXT_MSG: SHA-256(0x02 ‖ payload). */
    CHECK_EQ_STR(hash_of("0A00D69FD7A5A7475DB07337749AE61FA53A4788E976"),
                 sha_prefix("02D69FD7A5A7475DB07337749AE61FA53A4788E976"));
    /* Fixture tx 16 (a 3-hop GRP_TXT) as stored by CoreScope. */
    CHECK_EQ_STR(hash_of("150359d69581d1666fd2abd32988b6ad68a307882c574a852481d99c18a0f6e249544a879182f8bb3837590333"
                         "2082b91043a0a4b189f9bbc6d8cc4bc94ca88d8e92d0d14664e87e"),
                 "bfe6d4414d328c88");
    /* Independent of route type, version, transport codes and path. */
    char a[17];
    strcpy(a, hash_of("0A00D69FD7A5A7475DB07337749AE61FA53A4788E976"));
    CHECK_EQ_STR(hash_of("0902AABBD69FD7A5A7475DB07337749AE61FA53A4788E976"), a);
    CHECK_EQ_STR(hash_of("CA41AABBD69FD7A5A7475DB07337749AE61FA53A4788E976"), a);
    CHECK_EQ_STR(hash_of("0B1234567800D69FD7A5A7475DB07337749AE61FA53A4788E976"), a);
    CHECK_EQ_STR(hash_of("0a00d69fd7a5a7475db07337749ae61fa53a4788e976"), a);
    /* ... but TRACE depends on the path length. */
    strcpy(a, hash_of("2601AADEADBEEF"));
    CHECK(strcmp(hash_of("2602AABBDEADBEEF"), a) != 0);
    CHECK_EQ_STR(hash_of("2601CCDEADBEEF"), a);
    CHECK_EQ_STR(a, sha_prefix("090100DEADBEEF"));
}

static void test_hash_fallbacks(void)
{
    CHECK_EQ_STR(hash_of(""), "");
    CHECK_EQ_STR(hash_of("abc"), "abc");                                   /* odd length */
    CHECK_EQ_STR(hash_of("0A"), "0A");                                     /* one byte */
    CHECK_EQ_STR(hash_of("0A00 D69FD7A5A7475DB073"), "0A00 D69FD7A5A74"); /* spaces are not stripped */
    CHECK_EQ_STR(hash_of("ZZ00D69FD7A5A7475DB073"), "ZZ00D69FD7A5A747");
    CHECK_EQ_STR(hash_of("00AABBCC"), "00AABBCC");                         /* transport codes run past the end */
    CHECK_EQ_STR(hash_of("00AABBCCDD"), "00AABBCCDD");                     /* no path byte */
    CHECK_EQ_STR(hash_of("0A05AABB"), "0A05AABB");                         /* path runs past the end */
    CHECK_EQ_STR(hash_of("0A45AABBCCDDEEFF0011"), "0A45AABBCCDDEEFF");       /* 5 x 2 bytes past the end */
    /* The reserved hash size 4 is still hashed, with 4-byte hops. */
    CHECK_EQ_STR(hash_of("0AC1AABBCCDD0102"), sha_prefix("020102"));
    /* Payload longer than a packet: still hashed (the decoder would reject it). */
    char *big = malloc(2 * 600 + 8);
    strcpy(big, "0A00");
    for (int i = 0; i < 600; i++)
        strcat(big, "7f");
    char *want = malloc(2 * 601 + 1);
    strcpy(want, "02");
    strcat(want, big + 4);
    char w[17];
    strcpy(w, sha_prefix(want));
    CHECK_EQ_STR(hash_of(big), w);
    free(big);
    free(want);
}

static void test_packet_hash_matches_string_hash(void)
{
    static msn_packet_t pkt;
    const char *raws[] = {"2502AABBDEADBEEF", "0A00D69FD7A5A7475DB07337749AE61FA53A4788E976", "00ABCD123400010203040506",
                          "3D00", "2641AAAA0100000000000000000009"};
    for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        CHECK_EQ_INT(msn_packet_decode_hex(&pkt, raws[i], strlen(raws[i]), NULL), 0);
        char h[17];
        msn_packet_content_hash(&pkt, h);
        CHECK_EQ_STR(h, hash_of(raws[i]));
    }
}

static void test_from_pubkey(void)
{
    static msn_packet_t pkt;
    char hex[512] = "1100";
    for (int i = 0; i < 32; i++)
        strcat(hex, "AB");
    for (int i = 0; i < 68; i++)
        strcat(hex, "00");
    char pk[65];
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, hex, strlen(hex), NULL), 0);
    CHECK_EQ_INT(msn_packet_from_pubkey(&pkt, pk), 1);
    CHECK_EQ_STR(pk, "abababababababababababababababababababababababababababababababab");
    /* A too-short advert has no pubKey; other types have none either. */
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, "1100ABCD", 8, NULL), 0);
    CHECK_EQ_INT(msn_packet_from_pubkey(&pkt, pk), 0);
    CHECK_EQ_STR(pk, "");
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, "0900AABBCCDD", 12, NULL), 0);
    CHECK_EQ_INT(msn_packet_from_pubkey(&pkt, pk), 0);
}

static void test_channel_hash_column(void)
{
    static msn_packet_t pkt;
    char tmp[8];
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, "15006E20E91EBBBE6974", 20, NULL), 0);
    CHECK_EQ_STR(msn_packet_channel_hash(&pkt, tmp), "enc_6E");
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, "15000A20", 8, NULL), 0); /* too short: no channelHashHex */
    CHECK(msn_packet_channel_hash(&pkt, tmp) == NULL);
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, "0900AABBCCDD", 12, NULL), 0);
    CHECK(msn_packet_channel_hash(&pkt, tmp) == NULL);
}

static void test_scope(void)
{
    static msn_packet_t pkt;
    const char *regions[] = {"#nyc", "#sf"};
    const char *name = "x";
    /* TXT_MSG (2), payload 01020304; the code for #sf was computed independently: 91D8. */
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, "0891D8000000 01020304", 21, NULL), 0);
    CHECK_EQ_INT(msn_packet_scope(&pkt, regions, 2, &name), 1);
    CHECK_EQ_STR(name, "#sf");
    const char *bare[] = {"sf"};
    CHECK_EQ_INT(msn_packet_scope(&pkt, bare, 1, &name), 1);
    CHECK_EQ_STR(name, "sf");
    CHECK_EQ_INT(msn_packet_scope(&pkt, regions, 1, &name), 0);
    CHECK_EQ_STR(name, "");
    /* code1 0000 or no transport codes: NULL. */
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, "0800000000000001020304", 22, NULL), 0);
    CHECK_EQ_INT(msn_packet_scope(&pkt, regions, 2, &name), -1);
    CHECK_EQ_INT(msn_packet_decode_hex(&pkt, "090001020304", 12, NULL), 0);
    CHECK_EQ_INT(msn_packet_scope(&pkt, regions, 2, &name), -1);
}

static void test_chankeys(void)
{
    char err[256];
    msn_chankeys_t *ks = msn_chankeys_new();
    CHECK_EQ_INT(msn_chankeys_count(ks), 0);
    msn_chankeys_add_builtin(ks);
    CHECK_EQ_INT(msn_chankeys_count(ks), 1);
    CHECK_EQ_STR(msn_chankeys_name(ks, 0), "Public");
    CHECK_EQ_INT(msn_chankeys_hash_byte(ks, 0), 0x11);
    /* Hashtag keys: SHA-256("#name")[0:16], '#' implied. */
    CHECK_EQ_INT(msn_chankeys_add_hashtag(ks, "wardriving", err, sizeof(err)), 0);
    CHECK_EQ_STR(msn_chankeys_name(ks, 1), "#wardriving");
    char hex[33];
    msn_hex_encode(msn_chankeys_key(ks, 1), 16, hex, 0);
    CHECK_EQ_STR(hex, "e3c26491e9cd321e3a6be50d57d54acf");
    CHECK_EQ_INT(msn_chankeys_hash_byte(ks, 1), 0x81);
    /* Specs. */
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "#chat", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_chankeys_hash_byte(ks, 2), 0xB8);
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "ops=000102030405060708090A0B0C0D0E0F", err, sizeof(err)), 0);
    CHECK_EQ_STR(msn_chankeys_name(ks, 3), "ops");
    CHECK_EQ_INT(msn_chankeys_key(ks, 3)[15], 0x0F);
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "ops=0001", err, sizeof(err)), -1);
    CHECK(strstr(err, "32 hex") != NULL);
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "chat", err, sizeof(err)), -1);
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "=00", err, sizeof(err)), -1);
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "#", err, sizeof(err)), -1);
    /* A repeated name replaces the key in place. */
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "ops=ffffffffffffffffffffffffffffffff", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_chankeys_count(ks), 4);
    CHECK_EQ_INT(msn_chankeys_key(ks, 3)[0], 0xFF);
    /* "public" (non-canonical) keeps the existing Public key; "Public" replaces it. */
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "public=00000000000000000000000000000000", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_chankeys_count(ks), 4);
    CHECK_EQ_INT(msn_chankeys_key(ks, 0)[0], 0x8b);
    CHECK_EQ_INT(msn_chankeys_add_spec(ks, "Public=00000000000000000000000000000000", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_chankeys_key(ks, 0)[0], 0x00);
    msn_chankeys_free(ks);
    /* A lone "public" is stored as "Public". */
    ks = msn_chankeys_new();
    CHECK_EQ_INT(msn_chankeys_add_hex(ks, "PUBLIC", MSN_PUBLIC_CHANNEL_KEY, err, sizeof(err)), 0);
    CHECK_EQ_STR(msn_chankeys_name(ks, 0), "Public");
    msn_chankeys_free(ks);
}

static void test_chankeys_from_config(void)
{
    msn_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    char n0[] = "#test", k0[] = "9cd8fcf22a47333b591d96a2b848b73f", n1[] = "ops", k1[] = "000102030405060708090a0b0c0d0e0f";
    cfg.channels[0].name = n0;
    cfg.channels[0].key_hex = k0;
    cfg.channels[1].name = n1;
    cfg.channels[1].key_hex = k1;
    cfg.n_channels = 2;
    char err[256];
    msn_chankeys_t *ks = msn_chankeys_new();
    CHECK_EQ_INT(msn_chankeys_add_config(ks, &cfg, err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_chankeys_count(ks), 3);
    CHECK_EQ_STR(msn_chankeys_name(ks, 0), "Public");
    CHECK_EQ_STR(msn_chankeys_name(ks, 1), "#test");
    CHECK_EQ_STR(msn_chankeys_name(ks, 2), "ops");
    CHECK_EQ_INT(msn_chankeys_hash_byte(ks, 1), 0xD9);
    msn_chankeys_free(ks);
    char bad[] = "xyz";
    cfg.channels[1].key_hex = bad;
    ks = msn_chankeys_new();
    CHECK_EQ_INT(msn_chankeys_add_config(ks, &cfg, err, sizeof(err)), -1);
    CHECK(strstr(err, "ops") != NULL);
    msn_chankeys_free(ks);
}

int main(void)
{
    MSN_RUN(test_hash_formula);
    MSN_RUN(test_hash_fallbacks);
    MSN_RUN(test_packet_hash_matches_string_hash);
    MSN_RUN(test_from_pubkey);
    MSN_RUN(test_channel_hash_column);
    MSN_RUN(test_scope);
    MSN_RUN(test_chankeys);
    MSN_RUN(test_chankeys_from_config);
    msn_codec_thread_cleanup();
    return msn_test_done();
}
