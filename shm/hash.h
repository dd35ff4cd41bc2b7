/*
 * hash.h: the non-cryptographic hashes every module uses (header-only, any process or
 * thread).
 *
 *  - msn_mix64: the 64-bit finaliser of MurmurHash3 (fmix64): every input bit affects
 *    every output bit. For integer keys, and as the last step of the hashes below.
 *  - msn_hash_bytes: the hash of a hash-table key (a few to a few hundred bytes), 8 bytes
 *    per multiply-rotate round (msn_hash_bytes_nocase: ignoring ASCII case). Values may
 *    change between versions: never store them.
 *  - msn_fnv1a64*: FNV-1a, 64 bits, byte by byte. Its values are fixed by definition, so
 *    it is the one to use where a hash is kept or compared across runs (a checksum, the
 *    generator's deterministic choices), and where keys are folded byte by byte (case).
 *
 * SHA-256 (shm/codec) is the hash to use where an adversary chooses the input and a
 * collision would matter; msn_hash64 (shm/etag.h) hashes whole response bodies.
 */
#ifndef MSN_HASH_H
#define MSN_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/** MurmurHash3's fmix64. */
static inline uint64_t msn_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* msn_hash_bytes with every byte ORed with `fold` (0, or 0x20 to ignore ASCII case). */
static inline uint64_t msn_hash__bytes(const void *key, size_t n, uint64_t fold)
{
    const unsigned char *p = key;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    fold *= 0x0101010101010101ull;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= (w | fold) * 0x87c37b91114253d5ull;
        h = (h << 31 | h >> 33) * 0x4cf5ad432745937full;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h ^= (n > 0 ? w | fold : 0) * 0x87c37b91114253d5ull;
    return msn_mix64(h);
}

/** A hash of key[0..n) for hash tables (all 64 bits usable, the high ones included). */
static inline uint64_t msn_hash_bytes(const void *key, size_t n)
{
    return msn_hash__bytes(key, n, 0);
}

/** The same for keys compared without regard to ASCII case: strings equal but for the case
 *  of their letters hash alike (each byte is hashed ORed with 0x20). */
static inline uint64_t msn_hash_bytes_nocase(const void *key, size_t n)
{
    return msn_hash__bytes(key, n, 0x20);
}

#define MSN_FNV1A64_INIT 14695981039346656037ull
#define MSN_FNV1A64_PRIME 1099511628211ull

/** One FNV-1a step: h after byte b. */
static inline uint64_t msn_fnv1a64_byte(uint64_t h, uint8_t b)
{
    return (h ^ b) * MSN_FNV1A64_PRIME;
}

/** FNV-1a of data[0..n), continuing from h (MSN_FNV1A64_INIT to start). */
static inline uint64_t msn_fnv1a64_add(uint64_t h, const void *data, size_t n)
{
    const uint8_t *d = data;
    for (size_t i = 0; i < n; i++)
        h = msn_fnv1a64_byte(h, d[i]);
    return h;
}

/** FNV-1a of data[0..n). */
static inline uint64_t msn_fnv1a64(const void *data, size_t n)
{
    return msn_fnv1a64_add(MSN_FNV1A64_INIT, data, n);
}

/** FNV-1a of a NUL-terminated string (without its NUL). */
static inline uint64_t msn_fnv1a64_str(const char *s)
{
    uint64_t h = MSN_FNV1A64_INIT;
    for (; *s; s++)
        h = msn_fnv1a64_byte(h, (uint8_t)*s);
    return h;
}

#endif
