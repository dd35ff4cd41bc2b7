/*
 * jsonread.h: reading JSON text in place, without building a tree: validating one value,
 * walking the members of an object and the elements of an array, and decoding strings and
 * numbers the way Go's encoding/json reads them (CoreScope's stored decoded_json and the
 * request bodies of its POST endpoints).
 *
 * A value is a span of the text (msn_jval_t); walking a container re-scans its span, so
 * only validated values (from msn_jread_value or a walk) may be walked. Strict RFC 8259
 * syntax, as Go's decoder: no control characters in strings, no leading zeros, no trailing
 * commas; nesting deeper than MSN_JREAD_MAX_DEPTH is refused.
 *
 * Nothing is allocated except what a caller's msn_buf_t receives; any process and thread.
 */
#ifndef MSN_JSONREAD_H
#define MSN_JSONREAD_H

#include <stddef.h>

#include "buf.h"

#define MSN_JREAD_MAX_DEPTH 64

typedef enum {
    MSN_JV_NULL = 1,
    MSN_JV_FALSE,
    MSN_JV_TRUE,
    MSN_JV_NUMBER,
    MSN_JV_STRING, /* the span includes the quotes */
    MSN_JV_ARRAY,
    MSN_JV_OBJECT,
} msn_jtype_t;

typedef struct {
    const char *p; /* the value's text */
    size_t n;
    msn_jtype_t t;
} msn_jval_t;

/** Reads the first JSON value of text[0..len), after leading whitespace. Returns 0 with *v
 *  set and *end (may be NULL) the offset just past it (what follows is not read), or -1
 *  when the text does not start with a valid value. */
int msn_jread_value(const char *text, size_t len, msn_jval_t *v, size_t *end);

/** As msn_jread_value, but the whole text must be that one value (whitespace around it is
 *  allowed), as json.Unmarshal requires. */
int msn_jread_document(const char *text, size_t len, msn_jval_t *v);

/** The next member of object obj: *pos starts at 0. Returns 1 with *key (a string value)
 *  and *val set, 0 after the last. */
int msn_jread_member(const msn_jval_t *obj, size_t *pos, msn_jval_t *key, msn_jval_t *val);

/** The next element of array arr: *pos starts at 0. Returns 1 with *val set, 0 after the
 *  last. */
int msn_jread_elem(const msn_jval_t *arr, size_t *pos, msn_jval_t *val);

/** The value of obj's member `name`: the last one when the key repeats (Go's rule). With
 *  fold set, keys match ASCII case-insensitively, as Go matches struct fields. Returns 1
 *  with *val set, 0 when there is none. */
int msn_jread_get(const msn_jval_t *obj, const char *name, int fold, msn_jval_t *val);

/** Appends string value v, unescaped, to out (invalid UTF-8 and lone surrogates become
 *  U+FFFD, as Go decodes them). Returns 0, or -1 when v is not a string. */
int msn_jread_str(const msn_jval_t *v, msn_buf_t *out);

/** 1 when string value v equals s[0..n) once unescaped (plain strings compare in place). */
int msn_jread_str_eq(const msn_jval_t *v, const char *s, size_t n);

/** Number value v as a double. Returns 0, or -1 when v is not a number. */
int msn_jread_num(const msn_jval_t *v, double *out);

#endif
