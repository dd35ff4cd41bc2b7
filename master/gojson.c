/* gojson.c: see gojson.h. A recursive descent over the text: each object's members are
 * rendered into a scratch buffer, sorted by key, and emitted. */
#include "gojson.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/json.h"

#define MAX_DEPTH 64

typedef struct {
    const char *s;
    size_t n, i;
    int depth;
} rd_t;

typedef struct {
    size_t koff, klen; /* decoded key in the keys buffer */
    size_t voff, vlen; /* rendered value in the values buffer */
    size_t order;      /* position in the text: the last of equal keys wins */
    const char *keys;  /* for the comparator */
} member_t;

static int value(rd_t *r, msn_buf_t *out);

static void ws(rd_t *r)
{
    while (r->i < r->n &&
           (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r'))
        r->i++;
}

static int hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

static void utf8(msn_buf_t *b, uint32_t cp)
{
    char t[4];
    if (cp < 0x80) {
        msn_buf_putc(b, (char)cp);
        return;
    }
    if (cp < 0x800) {
        t[0] = (char)(0xC0 | cp >> 6);
        t[1] = (char)(0x80 | (cp & 0x3F));
        msn_buf_append(b, t, 2);
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | cp >> 12);
        t[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        msn_buf_append(b, t, 3);
    } else {
        t[0] = (char)(0xF0 | cp >> 18);
        t[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        t[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        msn_buf_append(b, t, 4);
    }
}

/* At the opening quote: appends the unescaped bytes to b, leaves i past the closing quote. */
static int string_raw(rd_t *r, msn_buf_t *b)
{
    r->i++;
    while (r->i < r->n) {
        unsigned char c = (unsigned char)r->s[r->i];
        if (c == '"') {
            r->i++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            msn_buf_putc(b, (char)c);
            r->i++;
            continue;
        }
        if (r->i + 1 >= r->n)
            return -1;
        char e = r->s[r->i + 1];
        r->i += 2;
        switch (e) {
        case '"':
            msn_buf_putc(b, '"');
            break;
        case '\\':
            msn_buf_putc(b, '\\');
            break;
        case '/':
            msn_buf_putc(b, '/');
            break;
        case 'b':
            msn_buf_putc(b, '\b');
            break;
        case 'f':
            msn_buf_putc(b, '\f');
            break;
        case 'n':
            msn_buf_putc(b, '\n');
            break;
        case 'r':
            msn_buf_putc(b, '\r');
            break;
        case 't':
            msn_buf_putc(b, '\t');
            break;
        case 'u': {
            uint32_t cp, lo;
            if (r->i + 4 > r->n || hex4(r->s + r->i, &cp) < 0)
                return -1;
            r->i += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                /* a high surrogate: a pair with the next escape, else U+FFFD (Go) */
                if (r->i + 6 <= r->n && r->s[r->i] == '\\' && r->s[r->i + 1] == 'u' &&
                    hex4(r->s + r->i + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    r->i += 6;
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                cp = 0xFFFD;
            }
            utf8(b, cp);
            break;
        }
        default:
            return -1;
        }
    }
    return -1;
}

static int string_value(rd_t *r, msn_buf_t *out)
{
    msn_buf_t tmp = MSN_BUF_INIT;
    int rc = string_raw(r, &tmp);
    if (rc == 0)
        msn_json_strn(out, tmp.data ? tmp.data : "", tmp.len);
    msn_buf_free(&tmp);
    return rc;
}

/* A number by JSON's grammar, written back as a float64. */
static int number(rd_t *r, msn_buf_t *out)
{
    size_t st = r->i;
    if (r->i < r->n && r->s[r->i] == '-')
        r->i++;
    if (r->i >= r->n)
        return -1;
    if (r->s[r->i] == '0') {
        r->i++;
    } else if (r->s[r->i] >= '1' && r->s[r->i] <= '9') {
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
    } else {
        return -1;
    }
    if (r->i < r->n && r->s[r->i] == '.') {
        r->i++;
        size_t d = r->i;
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
        if (r->i == d)
            return -1;
    }
    if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
        r->i++;
        if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
            r->i++;
        size_t d = r->i;
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
        if (r->i == d)
            return -1;
    }
    char *tmp = msn_xstrndup(r->s + st, r->i - st);
    double v = strtod(tmp, NULL);
    free(tmp);
    if (!isfinite(v))
        return -1;
    if (v == 0 && signbit(v))
        msn_buf_puts(out, "-0"); /* Go's float encoder keeps the sign of zero */
    else
        msn_json_double(out, v);
    return 0;
}

static int literal(rd_t *r, msn_buf_t *out, const char *word)
{
    size_t n = strlen(word);
    if (r->n - r->i < n || memcmp(r->s + r->i, word, n) != 0)
        return -1;
    r->i += n;
    msn_buf_puts(out, word);
    return 0;
}

static int cmp_member(const void *x, const void *y)
{
    const member_t *a = x, *b = y;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n ? memcmp(a->keys + a->koff, b->keys + b->koff, n) : 0;
    if (c == 0 && a->klen != b->klen)
        c = a->klen < b->klen ? -1 : 1;
    if (c == 0)
        c = a->order < b->order ? -1 : 1;
    return c;
}

static int object(rd_t *r, msn_buf_t *out)
{
    msn_buf_t keys = MSN_BUF_INIT, vals = MSN_BUF_INIT;
    member_t *m = NULL;
    size_t nm = 0, cap = 0;
    int rc = -1;
    r->i++; /* '{' */
    ws(r);
    if (r->i < r->n && r->s[r->i] == '}') {
        r->i++;
        msn_buf_puts(out, "{}");
        return 0;
    }
    for (;;) {
        ws(r);
        if (r->i >= r->n || r->s[r->i] != '"')
            goto out;
        if (nm == cap) {
            cap = cap ? cap * 2 : 16;
            m = msn_xrealloc(m, cap * sizeof(*m));
        }
        m[nm].koff = keys.len;
        if (string_raw(r, &keys) < 0)
            goto out;
        m[nm].klen = keys.len - m[nm].koff;
        ws(r);
        if (r->i >= r->n || r->s[r->i] != ':')
            goto out;
        r->i++;
        m[nm].voff = vals.len;
        if (value(r, &vals) < 0)
            goto out;
        m[nm].vlen = vals.len - m[nm].voff;
        m[nm].order = nm;
        nm++;
        ws(r);
        if (r->i < r->n && r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        if (r->i < r->n && r->s[r->i] == '}') {
            r->i++;
            break;
        }
        goto out;
    }
    for (size_t k = 0; k < nm; k++)
        m[k].keys = keys.data;
    qsort(m, nm, sizeof(*m), cmp_member);
    msn_buf_putc(out, '{');
    int first = 1;
    for (size_t k = 0; k < nm; k++) {
        if (k + 1 < nm && m[k].klen == m[k + 1].klen &&
            (m[k].klen == 0 || memcmp(keys.data + m[k].koff, keys.data + m[k + 1].koff, m[k].klen) == 0))
            continue; /* a later member has the same key */
        if (!first)
            msn_buf_putc(out, ',');
        first = 0;
        msn_json_strn(out, m[k].klen ? keys.data + m[k].koff : "", m[k].klen);
        msn_buf_putc(out, ':');
        msn_buf_append(out, vals.data + m[k].voff, m[k].vlen);
    }
    msn_buf_putc(out, '}');
    rc = 0;
out:
    free(m);
    msn_buf_free(&keys);
    msn_buf_free(&vals);
    return rc;
}

static int array(rd_t *r, msn_buf_t *out)
{
    r->i++; /* '[' */
    msn_buf_putc(out, '[');
    ws(r);
    if (r->i < r->n && r->s[r->i] == ']') {
        r->i++;
        msn_buf_putc(out, ']');
        return 0;
    }
    for (int first = 1;; first = 0) {
        if (!first)
            msn_buf_putc(out, ',');
        if (value(r, out) < 0)
            return -1;
        ws(r);
        if (r->i < r->n && r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        if (r->i < r->n && r->s[r->i] == ']') {
            r->i++;
            msn_buf_putc(out, ']');
            return 0;
        }
        return -1;
    }
}

static int value(rd_t *r, msn_buf_t *out)
{
    ws(r);
    if (r->i >= r->n)
        return -1;
    if (++r->depth > MAX_DEPTH)
        return -1;
    int rc;
    switch (r->s[r->i]) {
    case '{':
        rc = object(r, out);
        break;
    case '[':
        rc = array(r, out);
        break;
    case '"':
        rc = string_value(r, out);
        break;
    case 't':
        rc = literal(r, out, "true");
        break;
    case 'f':
        rc = literal(r, out, "false");
        break;
    case 'n':
        rc = literal(r, out, "null");
        break;
    default:
        rc = number(r, out);
        break;
    }
    r->depth--;
    return rc;
}

int msn_gojson_object(msn_buf_t *out, const char *text, size_t len)
{
    rd_t r = {text, len, 0, 0};
    size_t mark = out->len;
    ws(&r);
    if (text == NULL || r.i >= r.n || text[r.i] != '{')
        return -1;
    if (value(&r, out) < 0) {
        out->len = mark;
        return -1;
    }
    ws(&r);
    if (r.i != r.n) {
        out->len = mark;
        return -1;
    }
    return 0;
}
