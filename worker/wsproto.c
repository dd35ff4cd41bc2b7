/* wsproto.c: see wsproto.h. */
#include "wsproto.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void msn_wsp_accept_key(const char *key, size_t len, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    out[0] = '\0';
    if (ctx == NULL)
        return;
    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 && EVP_DigestUpdate(ctx, key, len) == 1 &&
        EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) == 1 &&
        EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20)
        EVP_EncodeBlock((unsigned char *)out, md, 20); /* 28 characters and a NUL */
    EVP_MD_CTX_free(ctx);
}

static int b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int msn_wsp_key_valid(const char *key, size_t len)
{
    if (key == NULL || len != 24 || key[22] != '=' || key[23] != '=')
        return 0;
    for (size_t i = 0; i < 22; i++)
        if (!b64(key[i]))
            return 0;
    return 1; /* unused trailing bits are not checked (nor are they by Go's decoder) */
}

int msn_wsp_origin_allowed(const char *origin, size_t olen, const char *host, size_t hlen)
{
    if (origin == NULL || olen == 0)
        return 1;
    /* scheme "://" authority [path...] */
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < olen; i++)
        if (origin[i] == ':' && origin[i + 1] == '/' && origin[i + 2] == '/') {
            sep = origin + i;
            break;
        }
    if (sep == NULL || sep == origin)
        return 0;
    for (const char *p = origin; p < sep; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (p > origin && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))))
            return 0;
    const char *a = sep + 3, *end = origin + olen, *e = a;
    while (e < end && *e != '/' && *e != '?' && *e != '#')
        e++;
    for (const char *p = a; p < e; p++)
        if (*p == '@')
            a = p + 1; /* user info is not part of the host */
    size_t alen = (size_t)(e - a);
    if (alen == 0 || host == NULL || alen != hlen)
        return 0;
    return strncasecmp(a, host, alen) == 0;
}

size_t msn_wsp_frame_header(uint8_t hdr[MSN_WS_MAX_HEADER], int opcode, uint64_t len)
{
    hdr[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        hdr[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        hdr[1] = 126;
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        return 4;
    }
    hdr[1] = 127;
    for (int i = 0; i < 8; i++)
        hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int msn_wsp_parse(const uint8_t *buf, size_t n, msn_wsp_frame_t *f)
{
    if (n < 2)
        return 1;
    memset(f, 0, sizeof(*f));
    f->fin = (buf[0] & 0x80) != 0;
    f->opcode = buf[0] & 0x0F;
    if (buf[0] & 0x70)
        return -1;
    if (!(buf[1] & 0x80))
        return -1;
    switch (f->opcode) {
    case MSN_WS_OP_CONT:
    case MSN_WS_OP_TEXT:
    case MSN_WS_OP_BINARY:
    case MSN_WS_OP_CLOSE:
    case MSN_WS_OP_PING:
    case MSN_WS_OP_PONG:
        break;
    default:
        return -1;
    }
    uint64_t len = buf[1] & 0x7F;
    size_t h = 2;
    if (len == 126) {
        if (n < 4)
            return 1;
        len = (uint64_t)buf[2] << 8 | buf[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return 1;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | buf[2 + i];
        if (len >> 63)
            return -1;
        h = 10;
    }
    if (f->opcode >= MSN_WS_OP_CLOSE && (!f->fin || len > 125))
        return -1;
    if (n < h + 4)
        return 1;
    memcpy(f->mask, buf + h, 4);
    f->len = len;
    f->header_len = h + 4;
    return 0;
}

void msn_wsp_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= mask[(offset + i) & 3];
}

size_t msn_wsp_close_frame(uint8_t *out, int code, const char *reason)
{
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 123)
        rl = 123;
    if (code <= 0) {
        out[0] = 0x80 | MSN_WS_OP_CLOSE;
        out[1] = 0;
        return 2;
    }
    out[0] = 0x80 | MSN_WS_OP_CLOSE;
    out[1] = (uint8_t)(2 + rl);
    out[2] = (uint8_t)(code >> 8);
    out[3] = (uint8_t)code;
    if (rl)
        memcpy(out + 4, reason, rl);
    return 4 + rl;
}
