/*
 * gojson.h: a JSON text as CoreScope's Go server sends it after a round trip through
 * interface{}: json.Unmarshal into map[string]interface{}, then json.Marshal.
 *
 * That round trip sorts every object's keys (byte order; a key given twice keeps its last
 * value), turns every number into a float64 (so 1.50 is sent as 1.5 and 1e3 as 1000),
 * re-escapes strings the encoding/json way (shm/json.h: <, >, & as \u003c..., invalid
 * UTF-8 as \ufffd, a lone \uD800 surrogate as \ufffd), and drops whitespace. The live
 * feed sends a transmission's decoded_json this way as data.decoded.payload.
 *
 * Master only (rendering at publish time); no state.
 */
#ifndef MSN_GOJSON_H
#define MSN_GOJSON_H

#include <stddef.h>

#include "shm/buf.h"

/** Appends to out the JSON object text[0..len) as described above. Returns 0, or -1 (out
 *  unchanged) when text is not one JSON object (Go's Unmarshal into a map would fail: a
 *  syntax error, trailing data, another top-level type, a number beyond float64, or
 *  nesting deeper than 64 levels). */
int msn_gojson_object(msn_buf_t *out, const char *text, size_t len);

#endif
