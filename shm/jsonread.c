/* jsonread.c: see jsonread.h. */
#include "jsonread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p, *end;
    int depth;
} rd_t;

static void ws(rd_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int lit(rd_t *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return -1;
    r->p += n;
    return 0;
}

static int string(rd_t *r)
{
    r->p++; /* the opening quote */
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"')
            return 0;
        if (c < 0x20)
            return -1;
        if (c != '\\')
            continue;
        if (r->p >= r->end)
            return -1;
        char e = *r->p++;
        if (e == 'u') {
            for (int i = 0; i < 4; i++)
                if (r->p >= r->end || hexv(*r->p++) < 0)
                    return -1;
        } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
            return -1;
        }
    }
    return -1;
}

static int digits(rd_t *r)
{
    const char *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > s ? 0 : -1;
}

static int number(rd_t *r)
{
    if (*r->p == '-')
        r->p++;
    if (r->p >= r->end)
        return -1;
    if (*r->p == '0')
        r->p++;
    else if (digits(r) < 0)
        return -1;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (digits(r) < 0)
            return -1;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (digits(r) < 0)
            return -1;
    }
    return 0;
}

static int value(rd_t *r, msn_jtype_t *t);

static int container(rd_t *r, char close, int is_object)
{
    if (++r->depth > MSN_JREAD_MAX_DEPTH)
        return -1;
    r->p++;
    ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return 0;
    }
    for (;;) {
        msn_jtype_t t;
        if (is_object) {
            ws(r);
            if (r->p >= r->end || *r->p != '"' || string(r) < 0)
                return -1;
            ws(r);
            if (r->p >= r->end || *r->p != ':')
                return -1;
            r->p++;
        }
        ws(r);
        if (value(r, &t) < 0)
            return -1;
        ws(r);
        if (r->p >= r->end)
            return -1;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p != close)
            return -1;
        r->p++;
        r->depth--;
        return 0;
    }
}

static int value(rd_t *r, msn_jtype_t *t)
{
    if (r->p >= r->end)
        return -1;
    switch (*r->p) {
    case '{': *t = MSN_JV_OBJECT; return container(r, '}', 1);
    case '[': *t = MSN_JV_ARRAY; return container(r, ']', 0);
    case '"': *t = MSN_JV_STRING; return string(r);
    case 't': *t = MSN_JV_TRUE; return lit(r, "true");
    case 'f': *t = MSN_JV_FALSE; return lit(r, "false");
    case 'n': *t = MSN_JV_NULL; return lit(r, "null");
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) {
            *t = MSN_JV_NUMBER;
            return number(r);
        }
        return -1;
    }
}

int msn_jread_value(const char *text, size_t len, msn_jval_t *v, size_t *end)
{
    if (text == NULL)
        return -1;
    rd_t r = {text, text + len, 0};
    ws(&r);
    const char *start = r.p;
    msn_jtype_t t;
    if (value(&r, &t) < 0)
        return -1;
    v->p = start;
    v->n = (size_t)(r.p - start);
    v->t = t;
    if (end)
        *end = (size_t)(r.p - text);
    return 0;
}

int msn_jread_document(const char *text, size_t len, msn_jval_t *v)
{
    size_t end;
    if (msn_jread_value(text, len, v, &end) < 0)
        return -1;
    rd_t r = {text + end, text + len, 0};
    ws(&r);
    return r.p == r.end ? 0 : -1;
}

/* Reads the next value of a validated container's span at r (after whitespace). */
static void next_value(rd_t *r, msn_jval_t *v)
{
    ws(r);
    const char *s = r->p;
    msn_jtype_t t = MSN_JV_NULL;
    r->depth = 0;
    value(r, &t); /* validated before: cannot fail */
    v->p = s;
    v->n = (size_t)(r->p - s);
    v->t = t;
}

/* Positions r after the separator preceding the next entry; 0 at the end. */
static int next_entry(const msn_jval_t *c, size_t *pos, rd_t *r)
{
    r->p = c->p + (*pos ? *pos : 1);
    r->end = c->p + c->n;
    ws(r);
    if (*pos && *r->p == ',')
        r->p++;
    ws(r);
    return r->p < r->end - 1 || (r->p < r->end && *r->p != ']' && *r->p != '}');
}

int msn_jread_member(const msn_jval_t *obj, size_t *pos, msn_jval_t *key, msn_jval_t *val)
{
    rd_t r;
    if (obj->t != MSN_JV_OBJECT || !next_entry(obj, pos, &r) || *r.p != '"')
        return 0;
    next_value(&r, key);
    ws(&r);
    r.p++; /* ':' */
    next_value(&r, val);
    *pos = (size_t)(r.p - obj->p);
    return 1;
}

int msn_jread_elem(const msn_jval_t *arr, size_t *pos, msn_jval_t *val)
{
    rd_t r;
    if (arr->t != MSN_JV_ARRAY || !next_entry(arr, pos, &r) || *r.p == ']')
        return 0;
    next_value(&r, val);
    *pos = (size_t)(r.p - arr->p);
    return 1;
}

/* Appends code point cp as UTF-8. */
static void put_utf8(msn_buf_t *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    msn_buf_append(b, o, n);
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t l;
    uint32_t cp, min;
    if ((s[0] & 0xE0) == 0xC0) {
        l = 2;
        cp = s[0] & 0x1F;
        min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        l = 3;
        cp = s[0] & 0x0F;
        min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        l = 4;
        cp = s[0] & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (l > n)
        return 0;
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return l;
}

static uint32_t hex4(const char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 4 | (uint32_t)hexv(p[i]);
    return v;
}

int msn_jread_str(const msn_jval_t *v, msn_buf_t *out)
{
    if (v->t != MSN_JV_STRING || v->n < 2)
        return -1;
    const char *p = v->p + 1, *end = v->p + v->n - 1;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c != '\\') {
            size_t l = utf8_len((const unsigned char *)p, (size_t)(end - p));
            if (l == 0) {
                put_utf8(out, 0xFFFD);
                p++;
            } else {
                msn_buf_append(out, p, l);
                p += l;
            }
            continue;
        }
        char e = p[1];
        p += 2;
        switch (e) {
        case 'b': msn_buf_putc(out, '\b'); break;
        case 'f': msn_buf_putc(out, '\f'); break;
        case 'n': msn_buf_putc(out, '\n'); break;
        case 'r': msn_buf_putc(out, '\r'); break;
        case 't': msn_buf_putc(out, '\t'); break;
        case 'u': {
            uint32_t cp = hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                uint32_t lo = hex4(p + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            put_utf8(out, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
            break;
        }
        default: msn_buf_putc(out, e); break; /* \" \\ \/ */
        }
    }
    return 0;
}

int msn_jread_str_eq(const msn_jval_t *v, const char *s, size_t n)
{
    if (v->t != MSN_JV_STRING)
        return 0;
    if (memchr(v->p, '\\', v->n) == NULL)
        return v->n - 2 == n && memcmp(v->p + 1, s, n) == 0;
    msn_buf_t b = MSN_BUF_INIT;
    msn_jread_str(v, &b);
    int eq = b.len == n && (n == 0 || memcmp(b.data, s, n) == 0);
    msn_buf_free(&b);
    return eq;
}

static int key_is(const msn_jval_t *key, const char *name, int fold)
{
    size_t n = strlen(name);
    if (!fold)
        return msn_jread_str_eq(key, name, n);
    msn_buf_t b = MSN_BUF_INIT;
    msn_jread_str(key, &b);
    int eq = b.len == n;
    for (size_t i = 0; eq && i < n; i++) {
        char x = b.data[i], y = name[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        eq = x == y;
    }
    msn_buf_free(&b);
    return eq;
}

int msn_jread_get(const msn_jval_t *obj, const char *name, int fold, msn_jval_t *val)
{
    size_t pos = 0;
    msn_jval_t k, v;
    int found = 0;
    while (msn_jread_member(obj, &pos, &k, &v))
        if (key_is(&k, name, fold)) {
            *val = v;
            found = 1;
        }
    return found;
}

int msn_jread_num(const msn_jval_t *v, double *out)
{
    if (v->t != MSN_JV_NUMBER || v->n >= 64)
        return -1;
    char tmp[64];
    memcpy(tmp, v->p, v->n);
    tmp[v->n] = '\0';
    *out = strtod(tmp, NULL);
    return 0;
}
