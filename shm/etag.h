/*
 * etag.h: response validators and compression shared by the master (which stores
 * ready-to-send bodies with their gzip copy and ETag) and the workers (which answer
 * If-None-Match and compute ETags of assembled bodies).
 */
#ifndef MSN_ETAG_H
#define MSN_ETAG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/** A fast 64-bit hash of data (8 bytes at a time; not cryptographic). */
uint64_t msn_hash64(const void *data, size_t len);
/** Writes a strong ETag value for body, with quotes: "\"<16 hex>\"" (19 bytes + NUL). */
void msn_etag_of(const void *body, size_t len, char out[24]);
/** 1 when the If-None-Match header value (may be a list, or "*") matches etag. W/ prefixes
 *  are accepted (weak comparison, RFC 9110 §13.1.2). */
int msn_etag_matches(const char *if_none_match, size_t n, const char *etag);
/** Appends the gzip (RFC 1952) encoding of data at the given zlib level. Returns 0, or -1. */
int msn_gzip(const void *data, size_t len, int level, msn_buf_t *out);

#endif
