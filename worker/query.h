/*
 * query.h: the query string of a request, split and percent-decoded into parameters.
 *
 * Rules (docs/api.md, "Parameters"):
 *   - pairs are separated by '&'; empty pairs ("a=1&&b=2", a trailing '&') are skipped;
 *   - a pair without '=' is a parameter with an empty value;
 *   - '+' decodes to a blank, "%XX" (two hex digits, any case) to that byte;
 *   - a '%' not followed by two hex digits is an error naming the parameter; so is a NUL
 *     byte (%00 or raw) or another control character (below 0x20, or 0x7f), encoded or raw:
 *     no parameter takes one;
 *   - more pairs than the limit is an error naming the limit: nothing is silently dropped;
 *   - names are case-sensitive; a name given twice keeps both (msn_api_param returns the
 *     first, as CoreScope does); names the endpoint does not know are ignored by it.
 *
 * Worker process; no allocation, no state.
 */
#ifndef MSN_QUERY_H
#define MSN_QUERY_H

#include <stddef.h>

#include "api.h"

/** Splits and decodes the query string buf (len bytes, without the leading '?'; decoded
 *  in place: buf must be writable and have room for len + 1 bytes, it is NUL-terminated
 *  here) into out[0..max). The parameters point into buf. Returns 0 with *n set, or -1
 *  with err set to the reason for a 400 answer (naming the parameter or the limit); *n
 *  then counts the parameters decoded before the error. */
int msn_query_parse(char *buf, size_t len, msn_qparam_t *out, int max, int *n, char *err, size_t errlen);

#endif
