/* an_jscan.c: the tolerant decoded_json object scanner of the analytics (see an_int.h). */
#include "an_int.h"

#include <string.h>

typedef struct {
    const char *s;
    size_t n, i;
} jscan_t;

static void jws(jscan_t *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

static int jhex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* At the opening quote; leaves i past the closing quote. */
static int jstring(jscan_t *j)
{
    j->i++;
    while (j->i < j->n) {
        unsigned char c = (unsigned char)j->s[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (j->i + 1 >= j->n)
                return -1;
            char e = j->s[j->i + 1];
            if (e == 'u') {
                if (j->i + 6 > j->n)
                    return -1;
                for (int k = 2; k < 6; k++)
                    if (!jhex(j->s[j->i + k]))
                        return -1;
                j->i += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return -1;
            j->i += 2;
            continue;
        }
        j->i++;
    }
    return -1;
}

static int jdigits(jscan_t *j)
{
    size_t st = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
        j->i++;
    return j->i > st ? 0 : -1;
}

static int jnumber(jscan_t *j)
{
    if (j->s[j->i] == '-')
        j->i++;
    if (j->i >= j->n)
        return -1;
    if (j->s[j->i] == '0')
        j->i++;
    else if (jdigits(j) < 0)
        return -1;
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        if (jdigits(j) < 0)
            return -1;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
            j->i++;
        if (jdigits(j) < 0)
            return -1;
    }
    return 0;
}

static int jvalue(jscan_t *j, int depth, char *type);

static int jcompound(jscan_t *j, int depth, char close)
{
    if (depth > 64)
        return -1;
    j->i++;
    jws(j);
    if (j->i < j->n && j->s[j->i] == close) {
        j->i++;
        return 0;
    }
    for (;;) {
        jws(j);
        if (close == '}') {
            if (j->i >= j->n || j->s[j->i] != '"' || jstring(j) < 0)
                return -1;
            jws(j);
            if (j->i >= j->n || j->s[j->i] != ':')
                return -1;
            j->i++;
        }
        char t;
        if (jvalue(j, depth + 1, &t) < 0)
            return -1;
        jws(j);
        if (j->i >= j->n)
            return -1;
        if (j->s[j->i] == ',') {
            j->i++;
            continue;
        }
        if (j->s[j->i] == close) {
            j->i++;
            return 0;
        }
        return -1;
    }
}

static int jlit(jscan_t *j, const char *lit)
{
    size_t l = strlen(lit);
    if (j->n - j->i < l || memcmp(j->s + j->i, lit, l) != 0)
        return -1;
    j->i += l;
    return 0;
}

static int jvalue(jscan_t *j, int depth, char *type)
{
    jws(j);
    if (j->i >= j->n)
        return -1;
    char c = j->s[j->i];
    switch (c) {
    case '"':
        *type = AN_J_STR;
        return jstring(j);
    case '{':
        *type = AN_J_OBJ;
        return jcompound(j, depth, '}');
    case '[':
        *type = AN_J_ARR;
        return jcompound(j, depth, ']');
    case 't':
        *type = AN_J_TRUE;
        return jlit(j, "true");
    case 'f':
        *type = AN_J_FALSE;
        return jlit(j, "false");
    case 'n':
        *type = AN_J_NULL;
        return jlit(j, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            *type = AN_J_NUM;
            return jnumber(j);
        }
        return -1;
    }
}

int msn_an__jobj_parse(an_jobj_t *o, const char *text, size_t len)
{
    o->n = -1;
    if (text == NULL)
        return -1;
    jscan_t j = {text, len, 0};
    jws(&j);
    if (j.i >= j.n || j.s[j.i] != '{')
        return -1;
    j.i++;
    int n = 0;
    jws(&j);
    if (j.i < j.n && j.s[j.i] == '}') {
        j.i++;
    } else {
        for (;;) {
            jws(&j);
            if (j.i >= j.n || j.s[j.i] != '"')
                return -1;
            size_t ks = j.i + 1;
            if (jstring(&j) < 0)
                return -1;
            size_t ke = j.i - 1;
            jws(&j);
            if (j.i >= j.n || j.s[j.i] != ':')
                return -1;
            j.i++;
            jws(&j);
            size_t vs = j.i;
            char t;
            if (jvalue(&j, 1, &t) < 0)
                return -1;
            size_t ve = j.i;
            if (t == AN_J_STR) {
                vs++;
                ve--;
            }
            int slot = -1;
            for (int k = 0; k < n; k++)
                if (o->m[k].kn == ke - ks && memcmp(o->m[k].k, text + ks, ke - ks) == 0) {
                    slot = k;
                    break;
                }
            if (slot < 0 && n < AN_JMAX)
                slot = n++;
            if (slot >= 0) {
                o->m[slot].k = text + ks;
                o->m[slot].kn = (uint32_t)(ke - ks);
                o->m[slot].v = text + vs;
                o->m[slot].vn = (uint32_t)(ve - vs);
                o->m[slot].t = t;
            }
            jws(&j);
            if (j.i >= j.n)
                return -1;
            if (j.s[j.i] == ',') {
                j.i++;
                continue;
            }
            if (j.s[j.i] == '}') {
                j.i++;
                break;
            }
            return -1;
        }
    }
    jws(&j);
    if (j.i != j.n)
        return -1;
    o->n = n;
    return n;
}

const an_jmember_t *msn_an__jobj_get(const an_jobj_t *o, const char *key)
{
    size_t kl = strlen(key);
    for (int k = 0; k < o->n; k++)
        if (o->m[k].kn == kl && memcmp(o->m[k].k, key, kl) == 0)
            return &o->m[k];
    return NULL;
}

static void put_utf8(msn_buf_t *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    msn_buf_append(b, u, n);
}

/* Length of the valid UTF-8 sequence at p (Go's rules: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

static uint32_t hex4(const char *p)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

int msn_an__jstr(const an_jmember_t *m, msn_buf_t *out)
{
    msn_buf_reset(out);
    if (m == NULL || m->t != AN_J_STR)
        return -1;
    const char *s = m->v;
    size_t n = m->vn, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[i + 1];
            i += 2;
            switch (e) {
            case 'b':
                msn_buf_putc(out, '\b');
                break;
            case 'f':
                msn_buf_putc(out, '\f');
                break;
            case 'n':
                msn_buf_putc(out, '\n');
                break;
            case 'r':
                msn_buf_putc(out, '\r');
                break;
            case 't':
                msn_buf_putc(out, '\t');
                break;
            case 'u': {
                if (i + 4 > n)
                    return -1;
                uint32_t cp = hex4(s + i);
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    if (i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
                        uint32_t lo = hex4(s + i + 2);
                        if (lo >= 0xDC00 && lo < 0xE000) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            i += 6;
                        } else {
                            cp = 0xFFFD;
                        }
                    } else {
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    cp = 0xFFFD;
                }
                put_utf8(out, cp);
                break;
            }
            default:
                msn_buf_putc(out, e);
                break;
            }
            continue;
        }
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l == 0) {
            put_utf8(out, 0xFFFD);
            i++;
        } else {
            msn_buf_append(out, s + i, l);
            i += l;
        }
    }
    msn_buf_cstr(out);
    return 0;
}

const char *msn_an__jobj_str(const an_jobj_t *o, const char *key, msn_buf_t *scratch, size_t *n)
{
    const an_jmember_t *m = msn_an__jobj_get(o, key);
    if (m == NULL || m->t != AN_J_STR)
        return NULL;
    int plain = 1;
    for (uint32_t i = 0; i < m->vn; i++) {
        unsigned char c = (unsigned char)m->v[i];
        if (c == '\\' || c >= 0x80) {
            plain = 0;
            break;
        }
    }
    if (plain) {
        *n = m->vn;
        return m->v;
    }
    msn_an__jstr(m, scratch);
    *n = scratch->len;
    return msn_buf_cstr(scratch);
}

int msn_an__jobj_num(const an_jobj_t *o, const char *key, double *out)
{
    const an_jmember_t *m = msn_an__jobj_get(o, key);
    if (m == NULL || m->t != AN_J_NUM || m->vn >= 64)
        return -1;
    char tmp[64];
    memcpy(tmp, m->v, m->vn);
    tmp[m->vn] = 0;
    *out = strtod(tmp, NULL);
    return 0;
}
