/*
 * jsonr.h: reading JSON, the project's one JSON reader (any process or thread; a reader or
 * a member table is used by one thread at a time). It reads decoded_json in the analytics,
 * the input lines of `meshsnap import` and `meshsnap decode --json`, and path_json arrays.
 *
 * Nothing is allocated or copied: a value (msn_jsonr_val_t) is a span of the text, valid
 * as long as the text is, and a string stays escaped until msn_jsonr_str() or
 * msn_jsonr_strv() decodes it. Three ways in:
 *
 *  - the pull reader (msn_jsonr_t): open an object or an array, step through its members
 *    or elements, and read each value whole (msn_jsonr_value validates and skips nested
 *    values) or open it in turn. For a document read once, field by field:
 *
 *        msn_jsonr_t r;
 *        msn_jsonr_val_t k, v;
 *        msn_jsonr_init(&r, text, len);
 *        if (msn_jsonr_object(&r) < 0) ... r.err, r.err_at say why and where
 *        while ((rc = msn_jsonr_member(&r, &k)) == 1) {
 *            if (msn_jsonr_value(&r, &v) < 0) ...
 *            if (msn_jsonr_is(&k, "hex") && v.type == MSN_JSONR_STR) msn_jsonr_str(&v, &out);
 *        }
 *        if (rc < 0 || msn_jsonr_end(&r) < 0) ...
 *
 *  - the member table (msn_jsonr_obj_t): an object's top-level members, validated whole
 *    and then looked up by name, for documents of which several fields are read.
 *  - msn_json_str_array_each: the elements of an array of strings (path_json).
 *
 * Grammar: RFC 8259, which is what Go's encoding/json accepts: no trailing commas, no
 * leading zeros, no single quotes, no raw control characters in strings, only the standard
 * escapes; whitespace is space, tab, CR and LF; at most MSN_JSONR_MAX_DEPTH containers
 * nested (the outermost counts).
 * Strings decode as Go decodes them: \uXXXX escapes to UTF-8 (a surrogate pair to one code
 * point), a lone surrogate and every byte that does not start valid UTF-8 (shm/utf8.h) to
 * U+FFFD.
 */
#ifndef MSN_JSONR_H
#define MSN_JSONR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MSN_JSONR_MAX_DEPTH 64

typedef enum {
    MSN_JSONR_NONE = 0,
    MSN_JSONR_STR,
    MSN_JSONR_NUM,
    MSN_JSONR_OBJ,
    MSN_JSONR_ARR,
    MSN_JSONR_TRUE,
    MSN_JSONR_FALSE,
    MSN_JSONR_NULL,
} msn_jsonr_type_t;

/* A value: a span of the text. For a string, the bytes between the quotes, still escaped;
 * for anything else its whole text ("{...}", "-1.5e3", "null"). */
typedef struct {
    const char *p;
    uint32_t n;
    uint8_t type;  /* msn_jsonr_type_t */
    uint8_t plain; /* a string without escapes and without bytes >= 0x80: p[0..n) is its value */
} msn_jsonr_val_t;

/* ---- the pull reader ------------------------------------------------------------------- */

typedef struct {
    const char *s, *p, *end;
    int depth;          /* containers open */
    uint64_t objects;   /* bit d: the container at depth d + 1 is an object */
    int fresh;          /* a container was just opened */
    const char *err;    /* NULL, or why the text is not JSON (static text, e.g. "bad number") */
    const char *err_at; /* where it stopped being JSON (s <= err_at <= end) */
} msn_jsonr_t;

/** Starts reading s[0..n) (borrowed: it must outlive the reader and its values). Text of
 *  4 GiB or more is refused (r->err set: every call fails). */
void msn_jsonr_init(msn_jsonr_t *r, const char *s, size_t n);
/** Reads the next value whole (nested values validated): *v (may be NULL) receives it.
 *  Returns 0, or -1 with r->err set. Once r->err is set, every call fails. */
int msn_jsonr_value(msn_jsonr_t *r, msn_jsonr_val_t *v);
/** Opens the object that comes next. Returns 0, or -1 ("expected a JSON object", "nested
 *  too deep"). */
int msn_jsonr_object(msn_jsonr_t *r);
/** Steps to the next member of the innermost open container, an object: returns 1 with
 *  *key (a string) set and the reader before the member's value, which the caller must
 *  read (msn_jsonr_value) or open before the next call; 0 when the object ends (it is
 *  closed); -1 on an error. */
int msn_jsonr_member(msn_jsonr_t *r, msn_jsonr_val_t *key);
/** Opens the array that comes next. Returns 0, or -1 ("expected a JSON array", ...). */
int msn_jsonr_array(msn_jsonr_t *r);
/** Steps to the next element of the innermost open container, an array: 1 when one
 *  follows (read or open it before the next call), 0 when the array ends (it is closed),
 *  -1 on an error. */
int msn_jsonr_element(msn_jsonr_t *r);
/** After the outermost value: 0 when only whitespace is left, else -1 ("text after the
 *  JSON value"). */
int msn_jsonr_end(msn_jsonr_t *r);

/* ---- values ----------------------------------------------------------------------------- */

/** Appends the decoded value of string v to out (not NUL-terminated: msn_buf_cstr).
 *  Returns 0, or -1 when v is not a string. */
int msn_jsonr_str(const msn_jsonr_val_t *v, msn_buf_t *out);
/** The decoded bytes of string v: v->p itself when v is plain (not NUL-terminated), else
 *  scratch's content after decoding v into it (replacing what it held; NUL-terminated).
 *  *n receives the length. NULL when v is not a string. */
const char *msn_jsonr_strv(const msn_jsonr_val_t *v, msn_buf_t *scratch, size_t *n);
/** 1 when v is a string whose decoded value is exactly s (NUL-terminated), else 0. */
int msn_jsonr_is(const msn_jsonr_val_t *v, const char *s);
/** The value of number v (strtod) in *out. Returns 0, or -1 when v is not a number. */
int msn_jsonr_num(const msn_jsonr_val_t *v, double *out);
/** The member `key` of object v, a value read whole (msn_jsonr_value, or a member or
 *  element of one): the last one when the key repeats, as Go decodes; with fold set, keys
 *  match ASCII case-insensitively, as Go matches a struct's fields. Returns 1 with *out
 *  set, 0 when there is none or v is not an object. */
int msn_jsonr_get(const msn_jsonr_val_t *v, const char *key, int fold, msn_jsonr_val_t *out);

/* ---- the member table ------------------------------------------------------------------- */

#define MSN_JSONR_OBJ_MAX 48

typedef struct {
    msn_jsonr_val_t key, val;
} msn_jsonr_member_t;

typedef struct {
    msn_jsonr_member_t m[MSN_JSONR_OBJ_MAX];
    int n; /* members kept; -1 when the text is not a JSON object */
} msn_jsonr_obj_t;

/** Reads the JSON object text[0..len) (whitespace around it, nothing else) into o: its
 *  top-level members in the order of their first appearance, a later duplicate key
 *  replacing the earlier member's value (as json.Unmarshal into a Go map does). Members
 *  beyond MSN_JSONR_OBJ_MAX are validated but not kept. Returns o->n; when text is NULL or
 *  not a JSON object, o->n is -1 and every lookup misses. */
int msn_jsonr_obj_parse(msn_jsonr_obj_t *o, const char *text, size_t len);
/** The value of member key, or NULL. */
const msn_jsonr_val_t *msn_jsonr_obj_get(const msn_jsonr_obj_t *o, const char *key);
/** msn_jsonr_strv of member key; NULL when it is absent or not a string. */
const char *msn_jsonr_obj_str(const msn_jsonr_obj_t *o, const char *key, msn_buf_t *scratch, size_t *n);
/** msn_jsonr_num of member key: 0, or -1 when it is absent or not a number. */
int msn_jsonr_obj_num(const msn_jsonr_obj_t *o, const char *key, double *out);

/* ---- arrays of strings ------------------------------------------------------------------- */

/** Reads a JSON array of strings or nulls, such as path_json `["7D","A1"]`: calls cb (when
 *  not NULL) for each element with its bytes as written between the quotes (escapes are
 *  not decoded: hops are hex), s == NULL for a `null`. Returns the element count, or -1
 *  when text[0..len) is not such an array (cb may have been called for the elements
 *  before the error). */
int msn_json_str_array_each(const char *text, size_t len,
                            void (*cb)(void *ctx, int idx, const char *s, size_t n), void *ctx);

#endif
