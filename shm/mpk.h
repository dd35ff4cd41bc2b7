/*
 * mpk.h: small helpers around msgpack-c: packing shortcuts, and a zero-copy reader that
 * walks msgpack bytes in place (msgpack-c's unpacker allocates a zone per value; a worker
 * reading LMDB values per request does not need one).
 *
 * Reader contract: every msn_mpk_read_* consumes one value and returns 0, or -1 when the
 * next value is not of the asked type or the buffer is short (the reader is then left
 * where it was). Strings and bins point into the buffer: valid as long as it is (for an
 * LMDB value, until the read transaction ends).
 */
#ifndef MSN_MPK_H
#define MSN_MPK_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} msn_mpk_reader_t;

typedef enum {
    MSN_MPK_NIL,
    MSN_MPK_BOOL,
    MSN_MPK_INT,
    MSN_MPK_FLOAT,
    MSN_MPK_STR,
    MSN_MPK_BIN,
    MSN_MPK_ARRAY,
    MSN_MPK_MAP,
    MSN_MPK_OTHER,
    MSN_MPK_END
} msn_mpk_type_t;

void msn_mpk_reader_init(msn_mpk_reader_t *r, const void *data, size_t len);
/** The type of the next value (MSN_MPK_END when the buffer is exhausted). */
msn_mpk_type_t msn_mpk_peek(const msn_mpk_reader_t *r);
int msn_mpk_read_nil(msn_mpk_reader_t *r);
int msn_mpk_read_bool(msn_mpk_reader_t *r, int *v);
int msn_mpk_read_int(msn_mpk_reader_t *r, int64_t *v);
/** Reads a float or an integer as a double. */
int msn_mpk_read_double(msn_mpk_reader_t *r, double *v);
int msn_mpk_read_str(msn_mpk_reader_t *r, const char **s, uint32_t *len);
int msn_mpk_read_bin(msn_mpk_reader_t *r, const char **s, uint32_t *len);
int msn_mpk_read_array(msn_mpk_reader_t *r, uint32_t *n);
int msn_mpk_read_map(msn_mpk_reader_t *r, uint32_t *n);
/** Skips one value of any type (recursively). */
int msn_mpk_skip(msn_mpk_reader_t *r);

/** Packing shortcuts (the packer writes into an msgpack_sbuffer; they cannot fail short of
 *  OOM, which msgpack-c reports by its own means). */
void msn_mpk_str(msgpack_packer *pk, const char *s);
void msn_mpk_strn(msgpack_packer *pk, const char *s, size_t n);
void msn_mpk_str_or_nil(msgpack_packer *pk, const char *s);
void msn_mpk_kv_i64(msgpack_packer *pk, const char *key, int64_t v);
void msn_mpk_kv_u64(msgpack_packer *pk, const char *key, uint64_t v);

#endif
