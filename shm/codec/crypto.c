/*
 * crypto.c: the codec's cryptography, all through OpenSSL libcrypto (EVP): SHA-256,
 * HMAC-SHA256 (channel MACs and transport-scope codes), AES-128-ECB (group messages)
 * and Ed25519 (advert signatures).
 *
 * The decoder hashes every packet, so the fetched algorithms and a digest/cipher context
 * are cached per thread (a thread-local struct, never shared) instead of being created
 * per call; msn_codec_thread_cleanup() releases them.
 */
#include "codec_int.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    EVP_CIPHER *aes;
    EVP_CIPHER_CTX *cipher;
    EVP_MAC *hmac;
} crypto_cache_t;

static _Thread_local crypto_cache_t cache;

static EVP_MD_CTX *md_ctx(void)
{
    if (cache.sha256 == NULL && (cache.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
        return NULL;
    if (cache.md == NULL && (cache.md = EVP_MD_CTX_new()) == NULL)
        return NULL;
    if (!EVP_DigestInit_ex2(cache.md, cache.sha256, NULL))
        return NULL;
    return cache.md;
}

static EVP_MAC *hmac_alg(void)
{
    if (cache.hmac == NULL)
        cache.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    return cache.hmac;
}

void msn_codec_thread_cleanup(void)
{
    EVP_MD_CTX_free(cache.md);
    EVP_MD_free(cache.sha256);
    EVP_CIPHER_CTX_free(cache.cipher);
    EVP_CIPHER_free(cache.aes);
    EVP_MAC_free(cache.hmac);
    memset(&cache, 0, sizeof(cache));
}

int msn_codec__sha256_2(const uint8_t *a, size_t na, const uint8_t *b, size_t nb, uint8_t out[32])
{
    EVP_MD_CTX *c = md_ctx();
    if (c == NULL)
        return -1;
    if (!EVP_DigestUpdate(c, a, na))
        return -1;
    if (b != NULL && nb > 0 && !EVP_DigestUpdate(c, b, nb))
        return -1;
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(c, out, &len) || len != 32)
        return -1;
    return 0;
}

int msn_sha256(const void *data, size_t n, uint8_t out[32])
{
    return msn_codec__sha256_2(data, n, NULL, 0, out);
}

struct msn_codec__mac {
    EVP_MAC_CTX *ctx;
};

static int mac_init(EVP_MAC_CTX *ctx, const uint8_t *key, size_t keylen)
{
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(ctx, key, keylen, params) ? 0 : -1;
}

msn_codec__mac_t *msn_codec__mac_new(const uint8_t key[16])
{
    EVP_MAC *alg = hmac_alg();
    if (alg == NULL)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
    if (ctx == NULL)
        return NULL;
    uint8_t secret[32] = {0};
    memcpy(secret, key, 16);
    if (mac_init(ctx, secret, sizeof(secret)) < 0) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    msn_codec__mac_t *m = msn_xmalloc(sizeof(*m));
    m->ctx = ctx;
    return m;
}

void msn_codec__mac_free(msn_codec__mac_t *m)
{
    if (m == NULL)
        return;
    EVP_MAC_CTX_free(m->ctx);
    free(m);
}

int msn_codec__mac2(msn_codec__mac_t *m, const uint8_t *data, size_t n, uint8_t out[2])
{
    uint8_t full[32];
    size_t len = 0;
    /* A NULL key re-initialises the context with the key it already holds. */
    if (!EVP_MAC_init(m->ctx, NULL, 0, NULL) || !EVP_MAC_update(m->ctx, data, n) ||
        !EVP_MAC_final(m->ctx, full, &len, sizeof(full)) || len != 32)
        return -1;
    out[0] = full[0];
    out[1] = full[1];
    return 0;
}

int msn_codec__hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *a, size_t na, const uint8_t *b,
                           size_t nb, uint8_t out[32])
{
    EVP_MAC *alg = hmac_alg();
    if (alg == NULL)
        return -1;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
    if (ctx == NULL)
        return -1;
    int rc = -1;
    size_t len = 0;
    if (mac_init(ctx, key, keylen) < 0)
        goto out;
    if (!EVP_MAC_update(ctx, a, na))
        goto out;
    if (b != NULL && nb > 0 && !EVP_MAC_update(ctx, b, nb))
        goto out;
    if (!EVP_MAC_final(ctx, out, &len, 32) || len != 32)
        goto out;
    rc = 0;
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int msn_codec__aes128_ecb(const uint8_t key[16], int enc, const uint8_t *in, size_t n, uint8_t *out)
{
    if (n % 16 != 0 || n > INT32_MAX)
        return -1;
    if (cache.aes == NULL && (cache.aes = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL)) == NULL)
        return -1;
    if (cache.cipher == NULL && (cache.cipher = EVP_CIPHER_CTX_new()) == NULL)
        return -1;
    EVP_CIPHER_CTX *c = cache.cipher;
    if (!EVP_CipherInit_ex2(c, cache.aes, key, NULL, enc, NULL))
        return -1;
    EVP_CIPHER_CTX_set_padding(c, 0);
    int l1 = 0, l2 = 0;
    if (!EVP_CipherUpdate(c, out, &l1, in, (int)n))
        return -1;
    if (!EVP_CipherFinal_ex(c, out + l1, &l2))
        return -1;
    return (size_t)(l1 + l2) == n ? 0 : -1;
}

int msn_codec__ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t n, const uint8_t sig[64])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    if (pk == NULL)
        return 0;
    int ok = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c != NULL && EVP_DigestVerifyInit_ex(c, NULL, NULL, NULL, NULL, pk, NULL) == 1)
        ok = EVP_DigestVerify(c, sig, 64, msg, n) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pk);
    return ok;
}

int msn_codec__ed25519_sign(const uint8_t seed[32], const uint8_t *msg, size_t n, uint8_t sig[64])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (pk == NULL)
        return -1;
    int rc = -1;
    size_t siglen = 64;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c != NULL && EVP_DigestSignInit_ex(c, NULL, NULL, NULL, NULL, pk, NULL) == 1 &&
        EVP_DigestSign(c, sig, &siglen, msg, n) == 1 && siglen == 64)
        rc = 0;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pk);
    return rc;
}

int msn_ed25519_public(const uint8_t seed[32], uint8_t pub[32])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (pk == NULL)
        return -1;
    size_t len = 32;
    int rc = EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 && len == 32 ? 0 : -1;
    EVP_PKEY_free(pk);
    return rc;
}
