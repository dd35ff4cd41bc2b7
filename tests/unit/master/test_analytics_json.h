/*
 * test_analytics_json.h: a strict little JSON parser (DOM) and the golden-shape checker of
 * CoreScope's parity test (validateShape), for the analytics unit tests. Header-only
 * (static functions); included by the test_analytics*.c executables.
 */
#ifndef TEST_ANALYTICS_JSON_H
#define TEST_ANALYTICS_JSON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jv {
    char t; /* 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null */
    double num;
    int boolean;
    char *str;
    size_t n;
    char **keys;
    struct jv **items;
} jv_t;

typedef struct {
    const char *s;
    size_t n, i;
    int depth;
} jp_t;

static inline void jv_free(jv_t *v)
{
    if (v == NULL)
        return;
    for (size_t k = 0; k < v->n; k++) {
        if (v->keys)
            free(v->keys[k]);
        jv_free(v->items[k]);
    }
    free(v->keys);
    free(v->items);
    free(v->str);
    free(v);
}

static inline void jp_ws(jp_t *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]) && p->s[p->i])
        p->i++;
}

static inline char *jp_string(jp_t *p)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return NULL;
    p->i++;
    size_t cap = 16, len = 0;
    char *out = malloc(cap);
    while (p->i < p->n && p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) {
            free(out);
            return NULL;
        }
        if (len + 8 > cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        if (c == '\\') {
            if (p->i + 1 >= p->n) {
                free(out);
                return NULL;
            }
            char e = p->s[p->i + 1];
            p->i += 2;
            switch (e) {
            case 'n':
                out[len++] = '\n';
                break;
            case 't':
                out[len++] = '\t';
                break;
            case 'r':
                out[len++] = '\r';
                break;
            case 'b':
                out[len++] = '\b';
                break;
            case 'f':
                out[len++] = '\f';
                break;
            case '"':
            case '\\':
            case '/':
                out[len++] = e;
                break;
            case 'u': {
                if (p->i + 4 > p->n) {
                    free(out);
                    return NULL;
                }
                unsigned cp = 0;
                for (int k = 0; k < 4; k++) {
                    char h = p->s[p->i + k];
                    cp <<= 4;
                    if (h >= '0' && h <= '9')
                        cp |= (unsigned)(h - '0');
                    else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
                        cp |= (unsigned)((h | 0x20) - 'a' + 10);
                    else {
                        free(out);
                        return NULL;
                    }
                }
                p->i += 4;
                if (cp < 0x80) {
                    out[len++] = (char)cp;
                } else if (cp < 0x800) {
                    out[len++] = (char)(0xC0 | cp >> 6);
                    out[len++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    out[len++] = (char)(0xE0 | cp >> 12);
                    out[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    out[len++] = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                free(out);
                return NULL;
            }
            continue;
        }
        out[len++] = (char)c;
        p->i++;
    }
    if (p->i >= p->n) {
        free(out);
        return NULL;
    }
    p->i++;
    out[len] = 0;
    return out;
}

static inline jv_t *jp_value(jp_t *p);

static inline jv_t *jp_new(char t)
{
    jv_t *v = calloc(1, sizeof(*v));
    v->t = t;
    return v;
}

static inline void jp_push(jv_t *v, char *key, jv_t *item)
{
    v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
    if (v->t == 'o')
        v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
    if (v->t == 'o')
        v->keys[v->n] = key;
    v->items[v->n++] = item;
}

static inline jv_t *jp_value(jp_t *p)
{
    jp_ws(p);
    if (p->i >= p->n || ++p->depth > 200)
        return NULL;
    char c = p->s[p->i];
    jv_t *v = NULL;
    if (c == '{' || c == '[') {
        v = jp_new(c == '{' ? 'o' : 'a');
        char close = c == '{' ? '}' : ']';
        p->i++;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            p->depth--;
            return v;
        }
        for (;;) {
            char *key = NULL;
            jp_ws(p);
            if (v->t == 'o') {
                key = jp_string(p);
                jp_ws(p);
                if (key == NULL || p->i >= p->n || p->s[p->i] != ':') {
                    free(key);
                    jv_free(v);
                    return NULL;
                }
                p->i++;
            }
            jv_t *item = jp_value(p);
            if (item == NULL) {
                free(key);
                jv_free(v);
                return NULL;
            }
            jp_push(v, key, item);
            jp_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == close) {
                p->i++;
                break;
            }
            jv_free(v);
            return NULL;
        }
    } else if (c == '"') {
        char *s = jp_string(p);
        if (s == NULL)
            return NULL;
        v = jp_new('s');
        v->str = s;
    } else if (strncmp(p->s + p->i, "true", 4) == 0 || strncmp(p->s + p->i, "false", 5) == 0) {
        v = jp_new('b');
        v->boolean = c == 't';
        p->i += c == 't' ? 4 : 5;
    } else if (strncmp(p->s + p->i, "null", 4) == 0) {
        v = jp_new('z');
        p->i += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        /* strict number grammar */
        size_t st = p->i;
        if (p->s[p->i] == '-')
            p->i++;
        if (p->i < p->n && p->s[p->i] == '0')
            p->i++;
        else if (p->i < p->n && p->s[p->i] >= '1' && p->s[p->i] <= '9')
            while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
                p->i++;
        else
            return NULL;
        if (p->i < p->n && p->s[p->i] == '.') {
            p->i++;
            size_t d = p->i;
            while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
                p->i++;
            if (p->i == d)
                return NULL;
        }
        if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
            p->i++;
            if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
                p->i++;
            size_t d = p->i;
            while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
                p->i++;
            if (p->i == d)
                return NULL;
        }
        char tmp[64];
        size_t l = p->i - st < 63 ? p->i - st : 63;
        memcpy(tmp, p->s + st, l);
        tmp[l] = 0;
        v = jp_new('n');
        v->num = strtod(tmp, NULL);
    } else {
        return NULL;
    }
    p->depth--;
    return v;
}

/** Parses a whole document; NULL when it is not valid JSON. */
static inline jv_t *jv_parse(const char *s, size_t n)
{
    jp_t p = {s, n, 0, 0};
    jv_t *v = jp_value(&p);
    jp_ws(&p);
    if (v != NULL && p.i != n) {
        jv_free(v);
        return NULL;
    }
    return v;
}

static inline jv_t *jv_get(const jv_t *o, const char *key)
{
    if (o == NULL || o->t != 'o')
        return NULL;
    for (size_t k = 0; k < o->n; k++)
        if (strcmp(o->keys[k], key) == 0)
            return o->items[k];
    return NULL;
}

static inline jv_t *jv_at(const jv_t *a, size_t i)
{
    if (a == NULL || a->t != 'a' || i >= a->n)
        return NULL;
    return a->items[i];
}

static inline double jv_num(const jv_t *v)
{
    return v && v->t == 'n' ? v->num : -99999999.0;
}

static inline const char *jv_str(const jv_t *v)
{
    return v && v->t == 's' ? v->str : NULL;
}

/** 1 when the object's keys are in ascending byte order (Go map encoding). */
static inline int jv_keys_sorted(const jv_t *o)
{
    if (o == NULL || o->t != 'o')
        return 0;
    for (size_t k = 1; k < o->n; k++)
        if (strcmp(o->keys[k - 1], o->keys[k]) >= 0)
            return 0;
    return 1;
}

/* ---- validateShape ---- */

static int shape_errors;

static inline void shape_fail(const char *path, const char *msg)
{
    fprintf(stderr, "shape: %s: %s\n", path, msg);
    shape_errors++;
}

/* null_numbers: accept null where a number is expected (fixtures without SNR). */
static inline void shape_check(const jv_t *v, const jv_t *spec, const char *path, int null_numbers)
{
    const char *type = jv_str(jv_get(spec, "type"));
    char sub[512];
    if (type == NULL) {
        shape_fail(path, "spec without type");
        return;
    }
    if (strcmp(type, "null") == 0 || strcmp(type, "nullable") == 0)
        return;
    if (strcmp(type, "nullable_number") == 0) {
        if (v->t != 'z' && v->t != 'n')
            shape_fail(path, "expected number or null");
        return;
    }
    if (strcmp(type, "string") == 0) {
        if (v->t != 's')
            shape_fail(path, "expected string");
        return;
    }
    if (strcmp(type, "number") == 0) {
        if (v->t != 'n' && !(null_numbers && v->t == 'z'))
            shape_fail(path, "expected number");
        return;
    }
    if (strcmp(type, "boolean") == 0) {
        if (v->t != 'b')
            shape_fail(path, "expected boolean");
        return;
    }
    if (strcmp(type, "array") == 0) {
        if (v->t != 'a') {
            shape_fail(path, "expected array");
            return;
        }
        const jv_t *es = jv_get(spec, "elementShape");
        /* every element, not just the first */
        for (size_t i = 0; es && i < v->n; i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            shape_check(v->items[i], es, sub, null_numbers);
        }
        return;
    }
    if (strcmp(type, "object") == 0) {
        if (v->t != 'o') {
            shape_fail(path, "expected object");
            return;
        }
        const jv_t *dyn = jv_get(spec, "dynamicKeys");
        if (dyn && dyn->t == 'b' && dyn->boolean) {
            const jv_t *vs = jv_get(spec, "valueShape");
            for (size_t i = 0; vs && i < v->n; i++) {
                snprintf(sub, sizeof(sub), "%s.%s", path, v->keys[i]);
                shape_check(v->items[i], vs, sub, null_numbers);
            }
            return;
        }
        const jv_t *keys = jv_get(spec, "keys");
        for (size_t k = 0; keys && k < keys->n; k++) {
            snprintf(sub, sizeof(sub), "%s.%s", path, keys->keys[k]);
            const jv_t *val = jv_get(v, keys->keys[k]);
            if (val == NULL)
                shape_fail(sub, "missing");
            else
                shape_check(val, keys->items[k], sub, null_numbers);
        }
        return;
    }
    shape_fail(path, "unknown spec type");
}

/** Reads a whole file (NUL-terminated); NULL on error. */
static inline char *read_file_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

#endif
