/*
 * codec_int.h: internals shared by the files of shm/codec/ (not for other modules).
 *
 * The crypto wrappers below are thin layers over OpenSSL EVP; crypto.c caches the fetched
 * algorithms and reusable contexts per thread.
 */
#ifndef MSN_CODEC_INT_H
#define MSN_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* HMAC-SHA256 keyed with key(16) ‖ 16 zero bytes, reusable for many messages. */
typedef struct msn_codec__mac msn_codec__mac_t;
msn_codec__mac_t *msn_codec__mac_new(const uint8_t key[16]);
void msn_codec__mac_free(msn_codec__mac_t *m);
/* The first 2 bytes of the MAC of data[0..n). Returns 0 or -1. */
int msn_codec__mac2(msn_codec__mac_t *m, const uint8_t *data, size_t n, uint8_t out[2]);

/* One-shot HMAC-SHA256 over a ‖ b. Returns 0 or -1. */
int msn_codec__hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *a, size_t na, const uint8_t *b,
                           size_t nb, uint8_t out[32]);
/* SHA-256 over a ‖ b (b may be NULL). Returns 0 or -1. */
int msn_codec__sha256_2(const uint8_t *a, size_t na, const uint8_t *b, size_t nb, uint8_t out[32]);
/* AES-128-ECB without padding; n must be a multiple of 16. enc: 1 encrypt, 0 decrypt. */
int msn_codec__aes128_ecb(const uint8_t key[16], int enc, const uint8_t *in, size_t n, uint8_t *out);
/* Ed25519: 1 valid, 0 invalid (or unusable key). */
int msn_codec__ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t n, const uint8_t sig[64]);
/* Ed25519 signature of msg with the 32-byte seed. Returns 0 or -1. */
int msn_codec__ed25519_sign(const uint8_t seed[32], const uint8_t *msg, size_t n, uint8_t sig[64]);

/* Channel key entry: the set tries them in order. */
typedef struct {
    char *name;
    uint8_t key[16];
    uint8_t hash;          /* SHA-256(key)[0] */
    msn_codec__mac_t *mac; /* created on first use */
} msn_codec__chankey_t;

struct msn_chankeys {
    msn_codec__chankey_t *v;
    int n, cap;
};

/* Lowercase hex of b[0..n) appended to out. */
void msn_codec__buf_hex(msn_buf_t *out, const uint8_t *b, size_t n, int upper);

/* Appends v / 10^places (places 0..9) as Go prints the nearest double: the shortest
 * round-trip text, which for these few digits is the exact decimal with trailing zeros
 * (and a bare point) removed, "0" for zero. Valid while |v| < 10^15. */
void msn_codec__put_decimal(msn_buf_t *out, int64_t v, int places);

/* "YYYY-MM-DDTHH:MM:SS.000Z" of a unix time; out must hold 25 bytes. */
void msn_codec__iso_time(uint32_t t, char out[32]);

#endif
