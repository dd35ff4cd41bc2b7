/*
 * wsproto.h: the WebSocket protocol (RFC 6455) pieces the live feed needs, as pure
 * functions: the handshake's accept key and checks, CoreScope's origin rule, server frame
 * headers, and client frame parsing. No I/O and no state; ws.c drives them.
 *
 * Server frames are never masked and never fragmented here; client frames must be masked
 * (RFC 6455 5.1). Extensions are not negotiated, so RSV bits must be 0.
 */
#ifndef MSN_WSPROTO_H
#define MSN_WSPROTO_H

#include <stddef.h>
#include <stdint.h>

enum {
    MSN_WS_OP_CONT = 0x0,
    MSN_WS_OP_TEXT = 0x1,
    MSN_WS_OP_BINARY = 0x2,
    MSN_WS_OP_CLOSE = 0x8,
    MSN_WS_OP_PING = 0x9,
    MSN_WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 7.4.1). */
enum {
    MSN_WS_CLOSE_NORMAL = 1000,
    MSN_WS_CLOSE_GOING_AWAY = 1001, /* the server stops (SIGTERM, reload) */
    MSN_WS_CLOSE_PROTOCOL = 1002,   /* a frame breaks the protocol */
    MSN_WS_CLOSE_TOO_BIG = 1009,    /* a message longer than [websocket] max_frame_bytes */
};

/** The largest server frame header: 2 bytes + 8 of length. */
#define MSN_WS_MAX_HEADER 10

/** Sec-WebSocket-Accept of a client's Sec-WebSocket-Key (key[0..len)): base64 of the
 *  SHA-1 of the key and RFC 6455's GUID, written to out as 28 characters and a NUL. */
void msn_wsp_accept_key(const char *key, size_t len, char out[29]);

/** 1 when key[0..len) is the base64 text of 16 bytes (24 characters, "==" padding), as
 *  RFC 6455 4.2.1 requires of Sec-WebSocket-Key; else 0. Like Go's decoder, the unused
 *  low bits of the last character are not checked. */
int msn_wsp_key_valid(const char *key, size_t len);

/** CoreScope's origin rule (cmd/server/websocket.go checkOrigin, without its allowlist):
 *  allowed (1) when there is no Origin header (origin NULL) or it is empty, or when the
 *  host[:port] of the Origin URL equals the request's Host (case-insensitive); refused
 *  (0) otherwise, including an Origin that is not a URL with a host ("null"). */
int msn_wsp_origin_allowed(const char *origin, size_t olen, const char *host, size_t hlen);

/** Writes the header of an unmasked, final server frame of opcode and payload length len
 *  into hdr; returns its length (2, 4 or 10). */
size_t msn_wsp_frame_header(uint8_t hdr[MSN_WS_MAX_HEADER], int opcode, uint64_t len);

/** A client frame's header. */
typedef struct {
    int fin;
    int opcode;
    uint64_t len;      /* payload length */
    size_t header_len; /* bytes before the payload (2..14) */
    uint8_t mask[4];
} msn_wsp_frame_t;

/** Parses the client frame header at buf[0..n). Returns 0 with f set (the payload, when
 *  all there, is buf[f->header_len .. f->header_len + f->len)), 1 when the header is not
 *  complete yet, or -1 when the frame breaks the protocol: RSV bits set, an unmasked
 *  frame, an unknown opcode, a fragmented or longer than 125 bytes control frame, or a
 *  64-bit length with its top bit set. Message sizes and fragment order are the caller's. */
int msn_wsp_parse(const uint8_t *buf, size_t n, msn_wsp_frame_t *f);

/** Unmasks p[0..n) in place; offset is the position of p[0] in the payload. */
void msn_wsp_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset);

/** Writes a close frame with code (0: none) and reason (may be NULL, cut to 123 bytes)
 *  into out (at least 127 bytes); returns its length. */
size_t msn_wsp_close_frame(uint8_t *out, int code, const char *reason);

#endif
