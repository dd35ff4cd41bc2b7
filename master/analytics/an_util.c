/* an_util.c: the helpers shared by the analytics (maps, decoded_json scanning, hops,
 * hour buckets, region/window filters, node lookups, the relay prefix map and hop
 * resolver, rounding). See an_int.h. */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/json.h"

#define AN_PI 3.14159265358979323846

/* ---- string -> index map ---------------------------------------------------------------- */

static uint64_t hash_bytes(const void *key, size_t n)
{
    const unsigned char *p = key;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= w * 0x87c37b91114253d5ull;
        h = (h << 31 | h >> 33) * 0x4cf5ad432745937full;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h ^= w * 0x87c37b91114253d5ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* A slot holds entry + 1 in its low 32 bits (0 = empty) and the key hash's high 32 bits
 * above, so most mismatches are rejected without touching the entry arrays. */
#define SLOT(e, h) ((uint64_t)((e) + 1) | ((h) & 0xFFFFFFFF00000000ull))

void msn_an__map_init(an_map_t *m)
{
    memset(m, 0, sizeof(*m));
    m->mask = 15;
    m->slots = msn_xcalloc(16, sizeof(*m->slots));
    m->arena = msn_arena_new();
}

void msn_an__map_free(an_map_t *m)
{
    free(m->slots);
    free(m->keys);
    free(m->klen);
    free(m->hash);
    msn_arena_free(m->arena);
    memset(m, 0, sizeof(*m));
}

int64_t msn_an__map_find(const an_map_t *m, const void *key, size_t n)
{
    uint64_t h = hash_bytes(key, n), tag = h & 0xFFFFFFFF00000000ull;
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        uint64_t sl = m->slots[i];
        if (sl == 0)
            return -1;
        if ((sl & 0xFFFFFFFF00000000ull) != tag)
            continue;
        uint32_t e = (uint32_t)sl - 1;
        if (m->klen[e] == n && memcmp(m->keys[e], key, n) == 0)
            return e;
    }
}

static void map_grow(an_map_t *m)
{
    uint32_t nslots = (m->mask + 1) * 2;
    uint64_t *slots = msn_xcalloc(nslots, sizeof(*slots));
    for (uint32_t e = 0; e < m->n; e++) {
        uint32_t i = (uint32_t)m->hash[e] & (nslots - 1);
        while (slots[i] != 0)
            i = (i + 1) & (nslots - 1);
        slots[i] = SLOT(e, m->hash[e]);
    }
    free(m->slots);
    m->slots = slots;
    m->mask = nslots - 1;
}

uint32_t msn_an__map_intern(an_map_t *m, const void *key, size_t n, int *is_new)
{
    uint64_t h = hash_bytes(key, n), tag = h & 0xFFFFFFFF00000000ull;
    uint32_t i = (uint32_t)h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        uint64_t sl = m->slots[i];
        if (sl == 0)
            break;
        if ((sl & 0xFFFFFFFF00000000ull) != tag)
            continue;
        uint32_t e = (uint32_t)sl - 1;
        if (m->klen[e] == n && memcmp(m->keys[e], key, n) == 0) {
            if (is_new)
                *is_new = 0;
            return e;
        }
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->keys = msn_xrealloc(m->keys, m->cap * sizeof(*m->keys));
        m->klen = msn_xrealloc(m->klen, m->cap * sizeof(*m->klen));
        m->hash = msn_xrealloc(m->hash, m->cap * sizeof(*m->hash));
    }
    uint32_t e = m->n++;
    m->keys[e] = msn_arena_strndup(m->arena, key, n);
    m->klen[e] = (uint32_t)n;
    m->hash[e] = h;
    m->slots[i] = SLOT(e, h);
    if ((uint64_t)m->n * 4 > (uint64_t)(m->mask + 1) * 3)
        map_grow(m);
    if (is_new)
        *is_new = 1;
    return e;
}

typedef struct {
    const char *k;
    uint32_t n, idx;
} mkey_t;

static int mkey_cmp(const void *a, const void *b)
{
    const mkey_t *x = a, *y = b;
    int c = memcmp(x->k, y->k, x->n < y->n ? x->n : y->n);
    if (c)
        return c;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

uint32_t *msn_an__map_sorted(const an_map_t *m)
{
    mkey_t *k = msn_xmalloc((m->n ? m->n : 1) * sizeof(*k));
    for (uint32_t e = 0; e < m->n; e++) {
        k[e].k = m->keys[e];
        k[e].n = m->klen[e];
        k[e].idx = e;
    }
    msn_an__qsort(k, m->n, sizeof(*k), mkey_cmp);
    uint32_t *out = msn_xmalloc((m->n ? m->n : 1) * sizeof(uint32_t));
    for (uint32_t e = 0; e < m->n; e++)
        out[e] = k[e].idx;
    free(k);
    return out;
}

/* ---- decoded_json ---------------------------------------------------------------------- */

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

/* ---- hops -------------------------------------------------------------------------------- */

static void hop_cb(void *ctx, int idx, const char *s, size_t n)
{
    an_hops_t *h = ctx;
    (void)idx;
    AN_RESERVE(h->h, h->cap, (size_t)h->n + 1);
    h->h[h->n].p = s;
    h->h[h->n].n = (uint32_t)n;
    h->n++;
}

int msn_an__hops_parse(an_hops_t *hops, const char *path_json)
{
    hops->n = 0;
    if (path_json == NULL || path_json[0] == 0)
        return 0;
    if (msn_json_str_array_each(path_json, strlen(path_json), hop_cb, hops) < 0)
        hops->n = 0;
    return hops->n;
}

int msn_an__tx_hops(an_hops_t *hops, const msn_store_t *s, const msn_tx_t *t)
{
    hops->n = 0;
    if (t->best < 0 || (uint32_t)t->best >= s->n_obs)
        return 0;
    return msn_an__hops_parse(hops, s->obs[t->best].path_json);
}

/* ---- time ------------------------------------------------------------------------------------ */

void msn_an__hour_of_s(int64_t secs, char out[16])
{
    int64_t hours = secs >= 0 ? secs / 3600 : -((-secs + 3599) / 3600);
    int64_t z = hours >= 0 ? hours / 24 : -((-hours + 23) / 24);
    int hh = (int)(hours - z * 24);
    /* civil_from_days (proleptic Gregorian) */
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    if (y < 0 || y > 9999) {
        y = y < 0 ? 0 : 9999;
    }
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = 'T';
    out[11] = (char)('0' + hh / 10);
    out[12] = (char)('0' + hh % 10);
    out[13] = 0;
}

size_t msn_an__hour_of_tx(const msn_tx_t *t, char out[16])
{
    const char *f = t->first_seen;
    if (f == NULL)
        return 0;
    size_t n = strnlen(f, 13);
    if (n < 13)
        return 0;
    memcpy(out, f, 13);
    out[13] = 0;
    return 13;
}

/* ---- context ----------------------------------------------------------------------------- */

typedef struct {
    const char *key;
    uint32_t idx;
} keyidx_t;

static int keyidx_cmp(const void *a, const void *b)
{
    const keyidx_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Upper-cased, trimmed copy of s[0..n) into out (cap bytes, cut if longer); returns the
 * trimmed length before any cut. */
static size_t trim_upper(const char *s, size_t n, char *out, size_t cap)
{
    while (n > 0 && isspace((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    size_t full = n;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[n] = 0;
    return full;
}

static void region_init(an_ctx_t *c)
{
    const msn_store_t *s = c->s;
    const char *r = c->shape ? c->shape->region : NULL;
    if (r == NULL || *r == 0 || s->n_observers == 0) {
        if (r && *r)
            c->region_asked = 1;
        return;
    }
    char codes[32][16];
    int n_codes = 0;
    const char *p = r;
    while (*p && n_codes < 32) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char code[16];
        size_t cl = trim_upper(p, l, code, sizeof(code));
        if (code[0] && cl < sizeof(code) && strcmp(code, "ALL") != 0) /* longer codes match no IATA */
            memcpy(codes[n_codes++], code, sizeof(code));
        p += l;
        if (*p == ',')
            p++;
    }
    if (n_codes == 0)
        return;
    c->region_asked = 1;
    c->in_region = msn_xcalloc(s->n_observers, 1);
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const char *iata = s->observers[i].iata;
        if (iata == NULL)
            continue;
        /* SQL TRIM drops spaces only */
        size_t l = strlen(iata);
        while (l > 0 && *iata == ' ') {
            iata++;
            l--;
        }
        while (l > 0 && iata[l - 1] == ' ')
            l--;
        if (l == 0 || l >= 16)
            continue;
        char up[16];
        for (size_t k = 0; k < l; k++)
            up[k] = (char)toupper((unsigned char)iata[k]);
        up[l] = 0;
        for (int k = 0; k < n_codes; k++)
            if (strcmp(up, codes[k]) == 0) {
                c->in_region[i] = 1;
                c->region_active = 1;
                break;
            }
    }
}

void msn_an__ctx_init(an_ctx_t *c, const msn_store_t *s, const msn_an_shape_t *shape, int64_t now_ms)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->shape = shape;
    c->now_ms = now_ms;
    int64_t max_rowid = -1, min_rowid = INT64_MAX;
    for (uint32_t i = 0; i < s->n_observers; i++) {
        if (s->observers[i].rowid > max_rowid)
            max_rowid = s->observers[i].rowid;
        if (s->observers[i].rowid < min_rowid)
            min_rowid = s->observers[i].rowid;
    }
    if (s->n_observers > 0 && min_rowid >= 0 && max_rowid < (1 << 24)) {
        c->n_rowid = max_rowid + 1;
        c->obs_by_rowid = msn_xmalloc((size_t)c->n_rowid * sizeof(int32_t));
        for (int64_t r = 0; r < c->n_rowid; r++)
            c->obs_by_rowid[r] = -1;
        for (uint32_t i = 0; i < s->n_observers; i++)
            if (c->obs_by_rowid[s->observers[i].rowid] < 0)
                c->obs_by_rowid[s->observers[i].rowid] = (int32_t)i;
    }
    region_init(c);
    keyidx_t *ki = msn_xmalloc((s->n_nodes ? s->n_nodes : 1) * sizeof(*ki));
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        if (s->nodes[i].public_key != NULL) {
            ki[n].key = s->nodes[i].public_key;
            ki[n].idx = i;
            n++;
        }
    msn_an__qsort(ki, n, sizeof(*ki), keyidx_cmp);
    c->node_by_key = msn_xmalloc((n ? n : 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        c->node_by_key[i] = ki[i].idx;
    c->n_node_by_key = n;
    free(ki);
}

void msn_an__ctx_free(an_ctx_t *c)
{
    free(c->obs_by_rowid);
    free(c->in_region);
    free(c->node_by_key);
    memset(c, 0, sizeof(*c));
}

int32_t msn_an__obs_observer(const an_ctx_t *c, const msn_obs_t *o)
{
    if (o->observer_rowid < 0)
        return -1;
    if (c->obs_by_rowid != NULL)
        return o->observer_rowid < c->n_rowid ? c->obs_by_rowid[o->observer_rowid] : -1;
    const msn_observer_t *ob = msn_store_observer(c->s, o->observer_rowid);
    return ob ? (int32_t)(ob - c->s->observers) : -1;
}

const char *msn_an__obs_observer_id(const an_ctx_t *c, const msn_obs_t *o)
{
    int32_t k = msn_an__obs_observer(c, o);
    return k < 0 ? "" : msn_an__s(c->s->observers[k].id);
}

int msn_an__tx_in_region(const an_ctx_t *c, const msn_tx_t *t)
{
    if (!c->region_active)
        return 1;
    for (uint32_t i = 0; i < t->n_obs; i++) {
        int32_t k = msn_an__obs_observer(c, &c->s->obs[t->obs[i]]);
        if (k >= 0 && c->in_region[k])
            return 1;
    }
    return 0;
}

int msn_an__window_set(const an_ctx_t *c)
{
    return c->shape != NULL && (c->shape->from_ms != 0 || c->shape->to_ms != 0);
}

int msn_an__in_window(const an_ctx_t *c, int64_t ms)
{
    if (c->shape == NULL)
        return 1;
    if (c->shape->from_ms != 0 && ms < c->shape->from_ms)
        return 0;
    if (c->shape->to_ms != 0 && ms > c->shape->to_ms)
        return 0;
    return 1;
}

int msn_an__tx_in_window(const an_ctx_t *c, const msn_tx_t *t)
{
    if (!msn_an__window_set(c) || t->first_seen == NULL || t->first_seen[0] == 0)
        return 1;
    return msn_an__in_window(c, t->first_seen_ms);
}

int32_t msn_an__node_find(const an_ctx_t *c, const char *pk, size_t n)
{
    uint32_t lo = 0, hi = c->n_node_by_key;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *k = c->s->nodes[c->node_by_key[mid]].public_key;
        int cmp = strncmp(k, pk, n);
        if (cmp == 0 && k[n] != 0)
            cmp = 1;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n_node_by_key) {
        const char *k = c->s->nodes[c->node_by_key[lo]].public_key;
        if (strncmp(k, pk, n) == 0 && k[n] == 0)
            return (int32_t)c->node_by_key[lo];
    }
    return -1;
}

int msn_an__node_gps(const msn_node_t *nd)
{
    if (!nd->has_lat || !nd->has_lon || !isfinite(nd->lat) || !isfinite(nd->lon))
        return 0;
    return !(nd->lat == 0 && nd->lon == 0);
}

/* ---- relay prefix map ------------------------------------------------------------------- */

static int role_is_relay(const char *role)
{
    if (role == NULL)
        return 0;
    char low[64];
    size_t n = strlen(role);
    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)role[i]);
    low[n] = 0;
    return strstr(low, "repeater") != NULL || strstr(low, "room_server") != NULL || strcmp(low, "room") == 0;
}

static int lower_cmp(const void *a, const void *b)
{
    return keyidx_cmp(a, b);
}

void msn_an__pm_init(an_pm_t *pm, const an_ctx_t *c)
{
    const msn_store_t *s = c->s;
    memset(pm, 0, sizeof(*pm));
    pm->s = s;
    uint32_t nn = s->n_nodes ? s->n_nodes : 1;
    pm->gps = msn_xcalloc(nn, 1);
    pm->nonrelay = msn_xcalloc(nn, 1);
    size_t total = 0;
    uint32_t nr = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        pm->gps[i] = (uint8_t)msn_an__node_gps(&s->nodes[i]);
        if (s->nodes[i].public_key != NULL && role_is_relay(s->nodes[i].role)) {
            total += strlen(s->nodes[i].public_key) + 1;
            nr++;
        }
    }
    char *low = msn_xmalloc(total ? total : 1);
    keyidx_t *ki = msn_xmalloc((nr ? nr : 1) * sizeof(*ki));
    size_t off = 0;
    nr = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const char *pk = s->nodes[i].public_key;
        if (pk == NULL || !role_is_relay(s->nodes[i].role))
            continue;
        size_t l = strlen(pk);
        for (size_t k = 0; k <= l; k++)
            low[off + k] = (char)tolower((unsigned char)pk[k]);
        ki[nr].key = low + off;
        ki[nr].idx = i;
        nr++;
        off += l + 1;
    }
    msn_an__qsort(ki, nr, sizeof(*ki), lower_cmp);
    pm->relay = msn_xmalloc((nr ? nr : 1) * sizeof(uint32_t));
    pm->lkey_off = msn_xmalloc((nr ? nr : 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < nr; i++) {
        pm->relay[i] = ki[i].idx;
        pm->lkey_off[i] = (uint32_t)(ki[i].key - low);
    }
    pm->lkeys = low;
    pm->n_relay = nr;
    free(ki);
    /* listener-only observers: COALESCE(can_relay, 1) = 0 and active */
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const msn_observer_t *o = &s->observers[i];
        if (!o->has_can_relay || o->can_relay || o->inactive || o->id == NULL || o->id[0] == 0)
            continue;
        uint32_t first, cnt;
        size_t l = strlen(o->id);
        if (l <= 8)
            continue; /* listener keys are full public keys */
        msn_an__pm_candidates(pm, o->id, l, &first, &cnt);
        for (uint32_t k = 0; k < cnt; k++)
            pm->nonrelay[pm->relay[first + k]] = 1;
    }
}

void msn_an__pm_free(an_pm_t *pm)
{
    free(pm->relay);
    free(pm->lkeys);
    free(pm->lkey_off);
    free(pm->nonrelay);
    free(pm->gps);
    memset(pm, 0, sizeof(*pm));
}

uint32_t msn_an__pm_candidates(const an_pm_t *pm, const char *hop, size_t n, uint32_t *first, uint32_t *count)
{
    *first = 0;
    *count = 0;
    if (hop == NULL || n < 2 || n > 256)
        return 0;
    char low[257];
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)hop[i]);
    low[n] = 0;
    uint32_t lo = 0, hi = pm->n_relay;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (strcmp(pm->lkeys + pm->lkey_off[mid], low) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t e = lo;
    if (n <= 8) {
        while (e < pm->n_relay && strncmp(pm->lkeys + pm->lkey_off[e], low, n) == 0)
            e++;
    } else {
        while (e < pm->n_relay && strcmp(pm->lkeys + pm->lkey_off[e], low) == 0)
            e++;
    }
    *first = lo;
    *count = e - lo;
    return *count;
}

static double geo_approx(double lat1, double lon1, double lat2, double lon2)
{
    double dlat = (lat2 - lat1) * AN_PI / 180;
    double dlon = (lon2 - lon1) * AN_PI / 180 * cos((lat1 + lat2) / 2 * AN_PI / 180);
    return sqrt(dlat * dlat + dlon * dlon);
}

/* a beats b under betterByObsCount: more adverts, then the smaller key. */
static int better_by_count(const msn_node_t *a, const msn_node_t *b)
{
    if (a->advert_count != b->advert_count)
        return a->advert_count > b->advert_count;
    return strcmp(a->public_key, b->public_key) < 0;
}

int32_t msn_an__pm_resolve(const an_pm_t *pm, const char *hop, size_t n, const an_rctx_t *rc)
{
    uint32_t first, cnt;
    if (msn_an__pm_candidates(pm, hop, n, &first, &cnt) == 0)
        return -1;
    const msn_node_t *nodes = pm->s->nodes;
    uint32_t live = 0;
    int32_t only = -1;
    for (uint32_t k = first; k < first + cnt; k++)
        if (!pm->nonrelay[pm->relay[k]]) {
            live++;
            only = (int32_t)pm->relay[k];
        }
    if (live <= 1)
        return only;
    if (rc != NULL && rc->n_ctx > 0 && rc->n_gps > 0) {
        int32_t best = -1;
        double bd = INFINITY;
        for (uint32_t k = first; k < first + cnt; k++) {
            uint32_t ni = pm->relay[k];
            if (pm->nonrelay[ni] || !pm->gps[ni])
                continue;
            double d = geo_approx(rc->lat, rc->lon, nodes[ni].lat, nodes[ni].lon);
            if (best < 0 || d < bd) {
                bd = d;
                best = (int32_t)ni;
            }
        }
        if (best >= 0)
            return best;
    }
    int32_t best = -1;
    for (uint32_t k = first; k < first + cnt; k++) {
        uint32_t ni = pm->relay[k];
        if (pm->nonrelay[ni] || !pm->gps[ni])
            continue;
        if (best < 0 || better_by_count(&nodes[ni], &nodes[best]))
            best = (int32_t)ni;
    }
    if (best >= 0)
        return best;
    for (uint32_t k = first; k < first + cnt; k++) {
        uint32_t ni = pm->relay[k];
        if (pm->nonrelay[ni])
            continue;
        if (best < 0 || better_by_count(&nodes[ni], &nodes[best]))
            best = (int32_t)ni;
    }
    return best;
}

void msn_an__rctx_reset(an_rctx_t *rc)
{
    rc->n_ctx = rc->n_gps = rc->n_seen = 0;
    rc->lat = rc->lon = 0;
}

void msn_an__rctx_add(const an_pm_t *pm, an_rctx_t *rc, an_map_t *dedup, const char *key, size_t n)
{
    if (key == NULL || n == 0)
        return;
    if (dedup != NULL) {
        char low[257];
        if (n > 256)
            return;
        for (size_t i = 0; i < n; i++)
            low[i] = (char)tolower((unsigned char)key[i]);
        int is_new;
        msn_an__map_intern(dedup, low, n, &is_new);
        if (!is_new)
            return;
    } else {
        for (int i = 0; i < rc->n_seen; i++)
            if (rc->seen_n[i] == n && strncasecmp(rc->seen[i], key, n) == 0)
                return;
        if (rc->n_seen < AN_RCTX_LIST) {
            rc->seen[rc->n_seen] = key;
            rc->seen_n[rc->n_seen] = (uint32_t)n;
            rc->n_seen++;
        }
    }
    rc->n_ctx++;
    uint32_t first, cnt;
    if (msn_an__pm_candidates(pm, key, n, &first, &cnt) == 1 && pm->gps[pm->relay[first]]) {
        const msn_node_t *nd = &pm->s->nodes[pm->relay[first]];
        rc->lat += nd->lat;
        rc->lon += nd->lon;
        rc->n_gps++;
    }
}

void msn_an__rctx_finish(an_rctx_t *rc)
{
    if (rc->n_gps > 0) {
        rc->lat /= rc->n_gps;
        rc->lon /= rc->n_gps;
    }
}

static int is_hex_str(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return n > 0;
}

void msn_an__rctx_tx(const an_ctx_t *c, const an_pm_t *pm, an_rctx_t *rc, an_map_t *dedup, const msn_tx_t *t,
                     const an_hops_t *hops, an_jobj_t *scratch_obj, msn_buf_t *scratch)
{
    const char *dj = t->decoded_json;
    if (dj != NULL && strstr(dj, "\"pubKey\"") != NULL) {
        msn_an__jobj_parse(scratch_obj, dj, strlen(dj));
        size_t n;
        const char *pk = msn_an__jobj_str(scratch_obj, "pubKey", scratch, &n);
        if (pk != NULL)
            msn_an__rctx_add(pm, rc, dedup, pk, n);
    }
    if (t->best >= 0 && (uint32_t)t->best < c->s->n_obs) {
        const char *oid = msn_an__obs_observer_id(c, &c->s->obs[t->best]);
        size_t n = strlen(oid);
        if (n >= 4 && is_hex_str(oid, n))
            msn_an__rctx_add(pm, rc, dedup, oid, n);
    }
    for (int i = 0; i < hops->n; i++) {
        uint32_t first, cnt;
        if (msn_an__pm_candidates(pm, hops->h[i].p, hops->h[i].n, &first, &cnt) == 1) {
            const char *pk = c->s->nodes[pm->relay[first]].public_key;
            msn_an__rctx_add(pm, rc, dedup, pk, strlen(pk));
        }
    }
}

/* ---- numbers ------------------------------------------------------------------------------ */

static double pow10i(int p)
{
    double m = 1;
    for (int i = 0; i < p; i++)
        m *= 10;
    return m;
}

double msn_an__round_half(double v, int places)
{
    double m = pow10i(places);
    return round(v * m) / m;
}

double msn_an__round_trunc(double v, int places)
{
    double m = pow10i(places);
    double x = v * m + 0.5;
    if (!isfinite(x) || fabs(x) >= 9.2e18)
        return v;
    return (double)(int64_t)x / m;
}

double msn_an__haversine_km(double lat1, double lon1, double lat2, double lon2)
{
    const double R = 6371.0;
    double dlat = (lat2 - lat1) * AN_PI / 180;
    double dlon = (lon2 - lon1) * AN_PI / 180;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * AN_PI / 180) * cos(lat2 * AN_PI / 180) * sin(dlon / 2) * sin(dlon / 2);
    return R * 2 * atan2(sqrt(a), sqrt(1 - a));
}

static double median3(double a, double b, double c)
{
    if ((a <= b && b <= c) || (c <= b && b <= a))
        return b;
    if ((b <= a && a <= c) || (c <= a && a <= b))
        return a;
    return c;
}

double msn_an__select(double *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        double piv = median3(v[lo], v[lo + (hi - lo) / 2], v[hi]);
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < piv)
                i++;
            while (v[j] > piv)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            return v[kk];
    }
    return v[kk];
}

double msn_an__median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    double hi = msn_an__select(v, n, n / 2);
    if (n % 2 == 1)
        return hi;
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lo)
            lo = v[i];
    return (lo + hi) / 2;
}

int msn_an__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- emission ------------------------------------------------------------------------------ */

void msn_an__str(msn_buf_t *b, const char *s)
{
    if (s == NULL)
        s = "";
    msn_json_strn(b, s, strlen(s));
}

void msn_an__strn(msn_buf_t *b, const char *p, size_t n)
{
    if (p == NULL) {
        p = "";
        n = 0;
    }
    msn_json_strn(b, p, n);
}
