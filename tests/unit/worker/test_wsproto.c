/*
 * test_wsproto.c: the WebSocket protocol pieces of the live feed (worker/wsproto.c): the
 * accept key (RFC 6455's own example), key validation, CoreScope's origin rule, server
 * frame headers and client frame parsing, including what must close the connection.
 */
#include <string.h>

#include "testlib.h"
#include "worker/wsproto.h"

static void test_accept_key(void)
{
    char out[29];
    msn_wsp_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out); /* RFC 6455 1.3 */
    CHECK_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(msn_wsp_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24));
    CHECK(!msn_wsp_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
    CHECK(!msn_wsp_key_valid("dGhlIHNhbXBsZSBub25jZQ!!", 24));
    CHECK(msn_wsp_key_valid("dGhlIHNhbXBsZSBub25jZR==", 24)); /* unused low bits are not checked */
    CHECK(!msn_wsp_key_valid("dGhlIHNhbXBsZSBub25j$Q==", 24));
    CHECK(!msn_wsp_key_valid(NULL, 0));
}

static int allowed(const char *origin, const char *host)
{
    return msn_wsp_origin_allowed(origin, origin ? strlen(origin) : 0, host, host ? strlen(host) : 0);
}

static void test_origin(void)
{
    CHECK(allowed(NULL, "example.com:3000")); /* no Origin: a non-browser client */
    CHECK(allowed("", "example.com:3000"));   /* empty counts as absent (Go's Header.Get) */
    CHECK(allowed("http://example.com:3000", "example.com:3000"));
    CHECK(allowed("https://EXAMPLE.com:3000", "example.COM:3000")); /* case-insensitive */
    CHECK(allowed("http://example.com:3000/some/page?x=1", "example.com:3000"));
    CHECK(allowed("http://user@example.com", "example.com"));
    CHECK(allowed("http://[::1]:3000", "[::1]:3000"));
    CHECK(!allowed("http://example.com", "example.com:3000")); /* the port is part of the host */
    CHECK(!allowed("http://evil.example", "example.com"));
    CHECK(!allowed("http://example.com.evil.example", "example.com"));
    CHECK(!allowed("null", "example.com"));
    CHECK(!allowed("example.com", "example.com")); /* not a URL: no host */
    CHECK(!allowed("http://", ""));
    CHECK(!allowed("http://example.com", NULL));
    CHECK(!allowed("://example.com", "example.com"));
}

static void test_frame_header(void)
{
    uint8_t h[MSN_WS_MAX_HEADER];
    CHECK_EQ_INT(msn_wsp_frame_header(h, MSN_WS_OP_TEXT, 5), 2);
    CHECK_EQ_INT(h[0], 0x81);
    CHECK_EQ_INT(h[1], 5);
    CHECK_EQ_INT(msn_wsp_frame_header(h, MSN_WS_OP_TEXT, 125), 2);
    CHECK_EQ_INT(msn_wsp_frame_header(h, MSN_WS_OP_TEXT, 126), 4);
    CHECK_EQ_INT(h[1], 126);
    CHECK_EQ_INT(h[2] << 8 | h[3], 126);
    CHECK_EQ_INT(msn_wsp_frame_header(h, MSN_WS_OP_TEXT, 65535), 4);
    CHECK_EQ_INT(msn_wsp_frame_header(h, MSN_WS_OP_BINARY, 65536), 10);
    CHECK_EQ_INT(h[0], 0x82);
    CHECK_EQ_INT(h[1], 127);
    CHECK_EQ_INT(h[7], 1);
    CHECK_EQ_INT(h[8], 0);
    uint8_t c[130];
    size_t n = msn_wsp_close_frame(c, 1001, "server shutting down");
    CHECK_EQ_INT(n, 4 + 20);
    CHECK_EQ_INT(c[0], 0x88);
    CHECK_EQ_INT(c[1], 22);
    CHECK_EQ_INT(c[2] << 8 | c[3], 1001);
    CHECK(memcmp(c + 4, "server shutting down", 20) == 0);
    CHECK_EQ_INT(msn_wsp_close_frame(c, 0, NULL), 2);
    char longr[300];
    memset(longr, 'x', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';
    CHECK_EQ_INT(msn_wsp_close_frame(c, 1000, longr), 127); /* a control frame holds 125 bytes */
}

/* A masked client frame of opcode and payload into out; returns its length. */
static size_t client_frame(uint8_t *out, int fin, int opcode, const char *payload, size_t n)
{
    static const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
    size_t h = 0;
    out[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        out[h++] = (uint8_t)(0x80 | n);
    } else {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    }
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = (uint8_t)payload[i] ^ mask[i & 3];
    return h + n;
}

static void test_parse(void)
{
    uint8_t b[512];
    msn_wsp_frame_t f;
    size_t n = client_frame(b, 1, MSN_WS_OP_TEXT, "hello", 5);
    CHECK_EQ_INT(msn_wsp_parse(b, n, &f), 0);
    CHECK_EQ_INT(f.fin, 1);
    CHECK_EQ_INT(f.opcode, MSN_WS_OP_TEXT);
    CHECK_EQ_INT(f.len, 5);
    CHECK_EQ_INT(f.header_len, 6);
    msn_wsp_unmask(b + f.header_len, 5, f.mask, 0);
    CHECK(memcmp(b + f.header_len, "hello", 5) == 0);
    /* headers arriving a byte at a time */
    n = client_frame(b, 1, MSN_WS_OP_BINARY, (const char *)b + 300, 200);
    for (size_t k = 0; k < 8; k++)
        CHECK_EQ_INT(msn_wsp_parse(b, k, &f), 1);
    CHECK_EQ_INT(msn_wsp_parse(b, 8, &f), 0);
    CHECK_EQ_INT(f.len, 200);
    CHECK_EQ_INT(f.header_len, 8);
    /* the header is enough: a frame longer than the buffer is reported by its length */
    CHECK_EQ_INT(msn_wsp_parse(b, 10, &f), 0);
    /* 64-bit length */
    uint8_t big[14] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4};
    CHECK_EQ_INT(msn_wsp_parse(big, sizeof(big), &f), 0);
    CHECK(f.len == 65536);
    big[2] = 0x80; /* the top bit must be 0 */
    CHECK_EQ_INT(msn_wsp_parse(big, sizeof(big), &f), -1);
    /* protocol errors */
    n = client_frame(b, 1, MSN_WS_OP_TEXT, "x", 1);
    b[1] &= 0x7F; /* unmasked */
    CHECK_EQ_INT(msn_wsp_parse(b, n, &f), -1);
    n = client_frame(b, 1, MSN_WS_OP_TEXT, "x", 1);
    b[0] |= 0x40; /* RSV1 without an extension */
    CHECK_EQ_INT(msn_wsp_parse(b, n, &f), -1);
    n = client_frame(b, 1, 0x3, "x", 1); /* a reserved opcode */
    CHECK_EQ_INT(msn_wsp_parse(b, n, &f), -1);
    n = client_frame(b, 0, MSN_WS_OP_PING, "x", 1); /* a fragmented control frame */
    CHECK_EQ_INT(msn_wsp_parse(b, n, &f), -1);
    char p126[126];
    memset(p126, 'p', sizeof(p126));
    n = client_frame(b, 1, MSN_WS_OP_PING, p126, 126); /* a control frame over 125 bytes */
    CHECK_EQ_INT(msn_wsp_parse(b, n, &f), -1);
    n = client_frame(b, 1, MSN_WS_OP_CLOSE, "\x03\xe8", 2);
    CHECK_EQ_INT(msn_wsp_parse(b, n, &f), 0);
    CHECK_EQ_INT(f.opcode, MSN_WS_OP_CLOSE);
    n = client_frame(b, 0, MSN_WS_OP_CONT, "ab", 2);
    CHECK_EQ_INT(msn_wsp_parse(b, n, &f), 0);
    CHECK_EQ_INT(f.fin, 0);
    CHECK_EQ_INT(f.opcode, MSN_WS_OP_CONT);
}

int main(void)
{
    MSN_RUN(test_accept_key);
    MSN_RUN(test_origin);
    MSN_RUN(test_frame_header);
    MSN_RUN(test_parse);
    return msn_test_done();
}
