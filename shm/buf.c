/* buf.c: see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "meshsnap: out of memory allocating %zu bytes\n", n);
    abort();
}

void *msn_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *msn_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (p == NULL)
        oom(n * sz);
    return p;
}

void *msn_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *msn_xstrdup(const char *s)
{
    return msn_xstrndup(s, strlen(s));
}

char *msn_xstrndup(const char *s, size_t n)
{
    char *p = msn_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void msn_buf_reserve(msn_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = msn_xrealloc(b->data, cap);
    b->cap = cap;
}

void msn_buf_append(msn_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    msn_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void msn_buf_puts(msn_buf_t *b, const char *s)
{
    msn_buf_append(b, s, strlen(s));
}

void msn_buf_putc(msn_buf_t *b, char c)
{
    msn_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void msn_buf_printf(msn_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        msn_buf_append(b, tmp, (size_t)n);
        return;
    }
    msn_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void msn_buf_put_u64(msn_buf_t *b, uint64_t v)
{
    char tmp[24];
    int i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    msn_buf_append(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void msn_buf_put_i64(msn_buf_t *b, int64_t v)
{
    if (v < 0) {
        msn_buf_putc(b, '-');
        msn_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        msn_buf_put_u64(b, (uint64_t)v);
    }
}

void msn_buf_reset(msn_buf_t *b)
{
    b->len = 0;
}

void msn_buf_free(msn_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *msn_buf_cstr(msn_buf_t *b)
{
    msn_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data;
}
