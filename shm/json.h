/*
 * json.h: JSON text emission onto an msn_buf_t, compatible with Go's encoding/json.
 *
 * CoreScope's server and ingestor are written in Go, and clients compare our bytes with
 * theirs, so strings are escaped the way encoding/json does it: `"` `\\` `\n` `\r` `\t`
 * `\b` `\f` short forms, other control characters as \u00XX, `<` `>` `&` as \u003c
 * \u003e \u0026, U+2028/U+2029 as \u2028/\u2029, and invalid UTF-8 bytes as \ufffd.
 * Floats use the shortest form that round-trips, in plain notation unless the magnitude
 * is below 1e-6 or at least 1e21 (then exponent form, "1e-07" written as "1e-7").
 * Reading JSON: jsonr.h.
 */
#ifndef MSN_JSON_H
#define MSN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/** Appends s[0..len) as a quoted, escaped JSON string. */
void msn_json_strn(msn_buf_t *b, const char *s, size_t len);
/** Appends a NUL-terminated string as a JSON string, or `null` when s is NULL. */
void msn_json_str_or_null(msn_buf_t *b, const char *s);
/** Appends a double in Go's encoding/json format. NaN and infinities become `null`. */
void msn_json_double(msn_buf_t *b, double v);
/** Formats a double as msn_json_double does into out (at least 32 bytes); returns its length. */
size_t msn_json_format_double(char *out, double v);
/** Appends `"key":` (key is emitted verbatim: callers pass plain ASCII literals). */
void msn_json_key(msn_buf_t *b, const char *key);

#endif
