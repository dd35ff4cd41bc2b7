/* jsonr.c: see jsonr.h. */
#include "jsonr.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "utf8.h"

/* Byte classes inside a string: what ends a run of bytes that are their own value. */
enum { C_PLAIN = 0, C_QUOTE, C_BACKSLASH, C_CONTROL, C_HIGH };

#define P C_PLAIN
#define Q C_QUOTE
#define B C_BACKSLASH
#define C C_CONTROL
#define H C_HIGH
static const uint8_t str_class[256] = {
    C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C,
    P, P, Q, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, B, P, P, P,
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
};
#undef P
#undef Q
#undef B
#undef C
#undef H

/* ---- scanning ---------------------------------------------------------------------------- */

static int fail(msn_jsonr_t *r, const char *at, const char *why)
{
    if (r->err == NULL) {
        r->err = why;
        r->err_at = at;
    }
    return -1;
}

static inline void skip_ws(msn_jsonr_t *r)
{
    const char *p = r->p, *end = r->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    r->p = p;
}

static inline int is_hex4(const char *p)
{
    return msn_hexval(p[0]) >= 0 && msn_hexval(p[1]) >= 0 && msn_hexval(p[2]) >= 0 && msn_hexval(p[3]) >= 0;
}

/* The rest of a string from p, the first byte of the string at start that is not its own
 * value (see scan_string). */
static int scan_string_slow(msn_jsonr_t *r, msn_jsonr_val_t *v, const char *start, const char *p)
{
    const char *end = r->end;
    for (;;) {
        while (p < end && str_class[(uint8_t)*p] == C_PLAIN)
            p++;
        if (p >= end)
            return fail(r, end, "unterminated string");
        switch (str_class[(uint8_t)*p]) {
        case C_QUOTE:
            v->p = start;
            v->n = (uint32_t)(p - start);
            v->type = MSN_JSONR_STR;
            v->plain = 0;
            r->p = p + 1;
            return 0;
        case C_HIGH:
            p++;
            break;
        case C_CONTROL:
            return fail(r, p, "control character in a string");
        default: /* C_BACKSLASH */
            if (end - p < 2)
                return fail(r, end, "unterminated string");
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                break;
            case 'u':
                if (end - p < 6 || !is_hex4(p + 2))
                    return fail(r, p + 2, "bad \\u escape");
                p += 6;
                break;
            default:
                return fail(r, p + 1, "bad escape");
            }
        }
    }
}

/* A string, at its opening quote: *v receives it; the reader ends past the closing quote.
 * (The common string, without escapes or bytes >= 0x80, takes the first loop only.) */
static inline int scan_string(msn_jsonr_t *r, msn_jsonr_val_t *v)
{
    const char *start = r->p + 1, *p = start, *end = r->end;
    while (p < end && str_class[(uint8_t)*p] == C_PLAIN)
        p++;
    if (p < end && *p == '"') {
        v->p = start;
        v->n = (uint32_t)(p - start);
        v->type = MSN_JSONR_STR;
        v->plain = 1;
        r->p = p + 1;
        return 0;
    }
    return scan_string_slow(r, v, start, p);
}

static inline const char *digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

static int scan_number(msn_jsonr_t *r)
{
    const char *p = r->p, *end = r->end, *q;
    if (*p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return fail(r, p, "bad number");
    p = *p == '0' ? p + 1 : digits(p, end);
    if (p < end && *p == '.') {
        q = digits(p + 1, end);
        if (q == p + 1)
            return fail(r, q, "bad number");
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        q = digits(p, end);
        if (q == p)
            return fail(r, q, "bad number");
        p = q;
    }
    r->p = p;
    return 0;
}

static int scan_literal(msn_jsonr_t *r, const char *lit, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return fail(r, r->p, "unexpected character");
    r->p += n;
    return 0;
}

static int scan_value(msn_jsonr_t *r, int depth, msn_jsonr_val_t *v);

/* An object or array at its opening bracket, at nesting depth `depth` (1 = outermost). */
static int scan_container(msn_jsonr_t *r, int depth)
{
    if (depth > MSN_JSONR_MAX_DEPTH)
        return fail(r, r->p, "nested too deep");
    char close = *r->p == '{' ? '}' : ']';
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    msn_jsonr_val_t tmp;
    for (;;) {
        skip_ws(r);
        if (close == '}') {
            if (r->p >= r->end || *r->p != '"')
                return fail(r, r->p, "expected a key");
            if (scan_string(r, &tmp) < 0)
                return -1;
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':')
                return fail(r, r->p, "expected ':'");
            r->p++;
        }
        if (scan_value(r, depth, &tmp) < 0)
            return -1;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        return fail(r, r->p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

/* The value that comes next, inside `depth` open containers. */
static int scan_value(msn_jsonr_t *r, int depth, msn_jsonr_val_t *v)
{
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, r->p, "expected a value");
    const char *start = r->p;
    int rc;
    switch (*start) {
    case '"':
        return scan_string(r, v);
    case '{':
        v->type = MSN_JSONR_OBJ;
        rc = scan_container(r, depth + 1);
        break;
    case '[':
        v->type = MSN_JSONR_ARR;
        rc = scan_container(r, depth + 1);
        break;
    case 't':
        v->type = MSN_JSONR_TRUE;
        rc = scan_literal(r, "true", 4);
        break;
    case 'f':
        v->type = MSN_JSONR_FALSE;
        rc = scan_literal(r, "false", 5);
        break;
    case 'n':
        v->type = MSN_JSONR_NULL;
        rc = scan_literal(r, "null", 4);
        break;
    default:
        if (*start != '-' && (*start < '0' || *start > '9'))
            return fail(r, start, "unexpected character");
        v->type = MSN_JSONR_NUM;
        rc = scan_number(r);
    }
    if (rc < 0)
        return -1;
    v->p = start;
    v->n = (uint32_t)(r->p - start);
    v->plain = 0;
    return 0;
}

/* ---- the pull reader ----------------------------------------------------------------------- */

void msn_jsonr_init(msn_jsonr_t *r, const char *s, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->s = r->p = s;
    r->end = s + n;
    if (n > UINT32_MAX) /* spans are 32-bit */
        fail(r, s, "text longer than 4 GiB");
}

int msn_jsonr_value(msn_jsonr_t *r, msn_jsonr_val_t *v)
{
    msn_jsonr_val_t tmp;
    if (r->err != NULL)
        return -1;
    r->fresh = 0;
    return scan_value(r, r->depth, v != NULL ? v : &tmp);
}

static int open_container(msn_jsonr_t *r, char open, const char *what)
{
    if (r->err != NULL)
        return -1;
    skip_ws(r);
    if (r->p >= r->end || *r->p != open)
        return fail(r, r->p, what);
    if (r->depth >= MSN_JSONR_MAX_DEPTH)
        return fail(r, r->p, "nested too deep");
    r->p++;
    if (open == '{')
        r->objects |= (uint64_t)1 << r->depth;
    else
        r->objects &= ~((uint64_t)1 << r->depth);
    r->depth++;
    r->fresh = 1;
    return 0;
}

int msn_jsonr_object(msn_jsonr_t *r)
{
    return open_container(r, '{', "expected a JSON object");
}

int msn_jsonr_array(msn_jsonr_t *r)
{
    return open_container(r, '[', "expected a JSON array");
}

/* Past the separator before the next item of the innermost container: 1 when an item
 * follows, 0 when the container ended (closed here), -1 on an error. */
static int next_item(msn_jsonr_t *r, int object)
{
    if (r->err != NULL)
        return -1;
    if (r->depth == 0 || ((r->objects >> (r->depth - 1)) & 1) != (uint64_t)object)
        return fail(r, r->p, object ? "not in an object" : "not in an array");
    char close = object ? '}' : ']';
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        r->fresh = 0;
        return 0;
    }
    if (!r->fresh) {
        if (r->p >= r->end || *r->p != ',')
            return fail(r, r->p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        r->p++;
        skip_ws(r);
    }
    r->fresh = 0;
    return 1;
}

int msn_jsonr_member(msn_jsonr_t *r, msn_jsonr_val_t *key)
{
    int rc = next_item(r, 1);
    if (rc <= 0)
        return rc;
    if (r->p >= r->end || *r->p != '"')
        return fail(r, r->p, "expected a key");
    if (scan_string(r, key) < 0)
        return -1;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':')
        return fail(r, r->p, "expected ':'");
    r->p++;
    return 1;
}

int msn_jsonr_element(msn_jsonr_t *r)
{
    return next_item(r, 0);
}

int msn_jsonr_end(msn_jsonr_t *r)
{
    if (r->err != NULL)
        return -1;
    skip_ws(r);
    return r->p < r->end ? fail(r, r->p, "text after the JSON value") : 0;
}

/* ---- decoding strings ------------------------------------------------------------------------ */

/* Decodes the piece of a scanned string at s[*i] (i < n), which is an escape or a byte
 * >= 0x80: writes its UTF-8 (1..4 bytes) to u, advances *i and returns the length. */
static size_t decode_piece(const char *s, size_t n, size_t *i, char u[4])
{
    size_t k = *i;
    if (s[k] != '\\') {
        size_t l = msn_utf8_len((const uint8_t *)s + k, n - k);
        if (l == 0) {
            *i = k + 1;
            memcpy(u, "\xEF\xBF\xBD", 3); /* U+FFFD */
            return 3;
        }
        memcpy(u, s + k, l);
        *i = k + l;
        return l;
    }
    char e = k + 1 < n ? s[k + 1] : '\\';
    *i = k + 2;
    switch (e) {
    case 'b':
        u[0] = '\b';
        return 1;
    case 'f':
        u[0] = '\f';
        return 1;
    case 'n':
        u[0] = '\n';
        return 1;
    case 'r':
        u[0] = '\r';
        return 1;
    case 't':
        u[0] = '\t';
        return 1;
    case 'u':
        break;
    default: /* \" \\ \/ */
        u[0] = e;
        return 1;
    }
    uint32_t cp = 0xFFFD;
    if (k + 6 <= n && is_hex4(s + k + 2)) {
        const char *h = s + k + 2;
        cp = (uint32_t)(msn_hexval(h[0]) << 12 | msn_hexval(h[1]) << 8 | msn_hexval(h[2]) << 4 |
                        msn_hexval(h[3]));
        *i = k + 6;
        if (cp >= 0xD800 && cp < 0xDC00) {
            /* a high surrogate: joined with a low one that follows, else U+FFFD (and what
             * follows is decoded on its own) */
            const char *l = s + k + 6;
            uint32_t lo = 0;
            if (k + 12 <= n && l[0] == '\\' && l[1] == 'u' && is_hex4(l + 2))
                lo = (uint32_t)(msn_hexval(l[2]) << 12 | msn_hexval(l[3]) << 8 | msn_hexval(l[4]) << 4 |
                                msn_hexval(l[5]));
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                *i = k + 12;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            cp = 0xFFFD;
        }
    }
    return msn_utf8_encode(cp, u);
}

int msn_jsonr_str(const msn_jsonr_val_t *v, msn_buf_t *out)
{
    if (v == NULL || v->type != MSN_JSONR_STR)
        return -1;
    const char *s = v->p;
    size_t n = v->n, i = 0;
    if (v->plain) {
        msn_buf_append(out, s, n);
        return 0;
    }
    msn_buf_reserve(out, n);
    while (i < n) {
        size_t j = i;
        while (j < n && str_class[(uint8_t)s[j]] == C_PLAIN)
            j++;
        if (j > i) {
            msn_buf_append(out, s + i, j - i);
            i = j;
            if (i >= n)
                break;
        }
        char u[4];
        size_t l = decode_piece(s, n, &i, u);
        msn_buf_append(out, u, l);
    }
    return 0;
}

const char *msn_jsonr_strv(const msn_jsonr_val_t *v, msn_buf_t *scratch, size_t *n)
{
    if (v == NULL || v->type != MSN_JSONR_STR)
        return NULL;
    if (v->plain) {
        *n = v->n;
        return v->p;
    }
    msn_buf_reset(scratch);
    msn_jsonr_str(v, scratch);
    *n = scratch->len;
    return msn_buf_cstr(scratch);
}

/* The next piece of scanned string s[*i..n) (i < n): a byte that is its own value, or what
 * decode_piece makes of an escape or a byte >= 0x80 (a whole UTF-8 sequence). */
static inline size_t next_piece(const char *s, size_t n, size_t *i, char u[4])
{
    if (str_class[(uint8_t)s[*i]] == C_PLAIN) {
        u[0] = s[(*i)++];
        return 1;
    }
    return decode_piece(s, n, i, u);
}

/* 1 when the decoded values of scanned strings a and b are equal (pieces are single bytes
 * or whole UTF-8 sequences, so equal values split into equal pieces). */
static int str_eq(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0, j = 0;
    while (i < an && j < bn) {
        char ua[4], ub[4];
        size_t la = next_piece(a, an, &i, ua), lb = next_piece(b, bn, &j, ub);
        if (la != lb || memcmp(ua, ub, la) != 0)
            return 0;
    }
    return i == an && j == bn;
}

/* 1 when the decoded value of scanned string a is the bytes b[0..bn). */
static int str_eq_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0, j = 0;
    while (i < an) {
        char u[4];
        size_t l = next_piece(a, an, &i, u);
        if (bn - j < l || memcmp(b + j, u, l) != 0)
            return 0;
        j += l;
    }
    return j == bn;
}

int msn_jsonr_is(const msn_jsonr_val_t *v, const char *s)
{
    if (v == NULL || v->type != MSN_JSONR_STR)
        return 0;
    size_t n = strlen(s);
    return v->plain ? v->n == n && memcmp(v->p, s, n) == 0 : str_eq_bytes(v->p, v->n, s, n);
}

int msn_jsonr_num(const msn_jsonr_val_t *v, double *out)
{
    if (v == NULL || v->type != MSN_JSONR_NUM)
        return -1;
    char tmp[64];
    if (v->n < sizeof(tmp)) {
        memcpy(tmp, v->p, v->n);
        tmp[v->n] = '\0';
        *out = strtod(tmp, NULL);
    } else {
        char *big = msn_xstrndup(v->p, v->n);
        *out = strtod(big, NULL);
        free(big);
    }
    return 0;
}

static inline char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* 1 when the decoded value of scanned string a is s[0..n) up to ASCII case. */
static int str_eq_fold(const char *a, size_t an, const char *s, size_t n)
{
    size_t i = 0, j = 0;
    while (i < an) {
        char u[4];
        size_t l = next_piece(a, an, &i, u);
        if (n - j < l)
            return 0;
        for (size_t k = 0; k < l; k++)
            if (lower(u[k]) != lower(s[j + k]))
                return 0;
        j += l;
    }
    return j == n;
}

int msn_jsonr_get(const msn_jsonr_val_t *v, const char *key, int fold, msn_jsonr_val_t *out)
{
    if (v == NULL || v->type != MSN_JSONR_OBJ)
        return 0;
    msn_jsonr_t r;
    msn_jsonr_val_t k, val;
    size_t n = strlen(key);
    int found = 0;
    msn_jsonr_init(&r, v->p, v->n);
    if (msn_jsonr_object(&r) < 0)
        return 0;
    while (msn_jsonr_member(&r, &k) == 1 && msn_jsonr_value(&r, &val) == 0)
        if (fold ? str_eq_fold(k.p, k.n, key, n) : msn_jsonr_is(&k, key)) {
            *out = val;
            found = 1;
        }
    return found;
}

/* ---- the member table ---------------------------------------------------------------------- */

int msn_jsonr_obj_parse(msn_jsonr_obj_t *o, const char *text, size_t len)
{
    o->n = -1;
    if (text == NULL)
        return -1;
    msn_jsonr_t r;
    msn_jsonr_init(&r, text, len);
    skip_ws(&r);
    if (r.err != NULL || r.p >= r.end || *r.p != '{')
        return -1;
    r.p++;
    int n = 0;
    skip_ws(&r);
    if (r.p < r.end && *r.p == '}') {
        r.p++;
    } else {
        for (;;) {
            msn_jsonr_val_t k, v;
            skip_ws(&r);
            if (r.p >= r.end || *r.p != '"' || scan_string(&r, &k) < 0)
                return -1;
            skip_ws(&r);
            if (r.p >= r.end || *r.p != ':')
                return -1;
            r.p++;
            if (scan_value(&r, 1, &v) < 0)
                return -1;
            int slot = -1;
            for (int i = 0; i < n; i++) {
                const msn_jsonr_val_t *ki = &o->m[i].key;
                if (ki->plain && k.plain ? ki->n == k.n && memcmp(ki->p, k.p, k.n) == 0
                                         : str_eq(ki->p, ki->n, k.p, k.n)) {
                    slot = i;
                    break;
                }
            }
            if (slot < 0 && n < MSN_JSONR_OBJ_MAX)
                slot = n++;
            if (slot >= 0) {
                o->m[slot].key = k;
                o->m[slot].val = v;
            }
            skip_ws(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                continue;
            }
            if (r.p < r.end && *r.p == '}') {
                r.p++;
                break;
            }
            return -1;
        }
    }
    skip_ws(&r);
    if (r.p != r.end)
        return -1;
    o->n = n;
    return n;
}

const msn_jsonr_val_t *msn_jsonr_obj_get(const msn_jsonr_obj_t *o, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; i < o->n; i++) {
        const msn_jsonr_val_t *k = &o->m[i].key;
        if (k->plain ? k->n == kl && memcmp(k->p, key, kl) == 0 : str_eq_bytes(k->p, k->n, key, kl))
            return &o->m[i].val;
    }
    return NULL;
}

const char *msn_jsonr_obj_str(const msn_jsonr_obj_t *o, const char *key, msn_buf_t *scratch, size_t *n)
{
    return msn_jsonr_strv(msn_jsonr_obj_get(o, key), scratch, n);
}

int msn_jsonr_obj_num(const msn_jsonr_obj_t *o, const char *key, double *out)
{
    return msn_jsonr_num(msn_jsonr_obj_get(o, key), out);
}

/* ---- arrays of strings ------------------------------------------------------------------------ */

int msn_json_str_array_each(const char *text, size_t len,
                            void (*cb)(void *ctx, int idx, const char *s, size_t n), void *ctx)
{
    msn_jsonr_t r;
    msn_jsonr_init(&r, text, len);
    skip_ws(&r);
    if (r.err != NULL || r.p >= r.end || *r.p != '[')
        return -1;
    r.p++;
    skip_ws(&r);
    int count = 0;
    if (r.p < r.end && *r.p == ']') {
        r.p++;
    } else {
        for (;;) {
            skip_ws(&r);
            if (r.p >= r.end)
                return -1;
            if (*r.p == '"') {
                msn_jsonr_val_t v;
                if (scan_string(&r, &v) < 0)
                    return -1;
                if (cb)
                    cb(ctx, count, v.p, v.n);
            } else if (r.end - r.p >= 4 && memcmp(r.p, "null", 4) == 0) {
                if (cb)
                    cb(ctx, count, NULL, 0);
                r.p += 4;
            } else {
                return -1;
            }
            count++;
            skip_ws(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                continue;
            }
            if (r.p < r.end && *r.p == ']') {
                r.p++;
                break;
            }
            return -1;
        }
    }
    skip_ws(&r);
    return r.p == r.end ? count : -1;
}
