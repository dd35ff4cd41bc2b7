/* arena.c: see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"

#define CHUNK ((size_t)1 << 20)

/* Small blocks are carved from the newest chunk (head) and never freed one by one. */
struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[]; /* at offset 24: 8-byte aligned, so `used` alignment is address alignment */
};

/* A block of MSN_ARENA_DIRECT bytes or more: its own malloc, on a doubly linked list. */
struct direct {
    struct direct *prev, *next;
    size_t n;
    char data[];
};

struct deferred {
    struct deferred *next;
    void (*fn)(void *);
    void *p;
};

struct msn_arena {
    struct chunk *head;
    struct direct *direct;
    struct deferred *deferred;
    size_t bytes;
};

msn_arena_t *msn_arena_new(void)
{
    return msn_xcalloc(1, sizeof(msn_arena_t));
}

/* n bytes from the head chunk at the given alignment (1 or 8), opening a chunk if needed. */
static void *carve(msn_arena_t *a, size_t n, size_t align)
{
    struct chunk *c = a->head;
    size_t pad = c ? (align - c->used % align) % align : 0;
    if (c == NULL || c->cap - c->used < pad + n) {
        c = msn_xmalloc(sizeof(*c) + CHUNK);
        c->next = a->head;
        c->used = 0;
        c->cap = CHUNK;
        a->head = c;
        a->bytes += CHUNK;
        pad = 0;
    }
    char *p = c->data + c->used + pad;
    c->used += pad + n;
    return p;
}

static void *direct_alloc(msn_arena_t *a, size_t n)
{
    if (n > SIZE_MAX - sizeof(struct direct))
        abort();
    struct direct *d = msn_xmalloc(sizeof(*d) + n);
    d->prev = NULL;
    d->next = a->direct;
    d->n = n;
    if (a->direct)
        a->direct->prev = d;
    a->direct = d;
    a->bytes += n;
    return d->data;
}

static struct direct *direct_of(void *p)
{
    return (struct direct *)(void *)((char *)p - offsetof(struct direct, data));
}

static void direct_relink(msn_arena_t *a, struct direct *d)
{
    if (d->prev)
        d->prev->next = d;
    else
        a->direct = d;
    if (d->next)
        d->next->prev = d;
}

/* 1 when p..p+n is the last block carved from the head chunk. */
static int is_last(const msn_arena_t *a, const void *p, size_t n)
{
    return a->head != NULL && (const char *)p + n == a->head->data + a->head->used;
}

void *msn_arena_alloc(msn_arena_t *a, size_t n)
{
    return n >= MSN_ARENA_DIRECT ? direct_alloc(a, n) : carve(a, n, 8);
}

void *msn_arena_calloc(msn_arena_t *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        abort();
    void *p = msn_arena_alloc(a, count * size);
    memset(p, 0, count * size);
    return p;
}

const char *msn_arena_strndup(msn_arena_t *a, const char *s, size_t n)
{
    char *p = n + 1 >= MSN_ARENA_DIRECT ? direct_alloc(a, n + 1) : carve(a, n + 1, 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

const char *msn_arena_strdup(msn_arena_t *a, const char *s)
{
    return s == NULL ? NULL : msn_arena_strndup(a, s, strlen(s));
}

void *msn_arena_realloc(msn_arena_t *a, void *p, size_t old_n, size_t new_n)
{
    if (p == NULL || old_n == 0)
        return msn_arena_alloc(a, new_n);
    if (new_n <= old_n)
        return p;
    if (old_n >= MSN_ARENA_DIRECT) {
        struct direct *d = direct_of(p);
        if (new_n > SIZE_MAX - sizeof(*d))
            abort();
        d = msn_xrealloc(d, sizeof(*d) + new_n);
        a->bytes += new_n - d->n;
        d->n = new_n;
        direct_relink(a, d);
        return d->data;
    }
    if (new_n < MSN_ARENA_DIRECT && is_last(a, p, old_n) && a->head->cap - a->head->used >= new_n - old_n) {
        a->head->used += new_n - old_n;
        return p;
    }
    void *q = msn_arena_alloc(a, new_n);
    memcpy(q, p, old_n);
    msn_arena_release(a, p, old_n);
    return q;
}

void msn_arena_release(msn_arena_t *a, void *p, size_t n)
{
    if (p == NULL)
        return;
    if (n >= MSN_ARENA_DIRECT) {
        struct direct *d = direct_of(p);
        if (d->prev)
            d->prev->next = d->next;
        else
            a->direct = d->next;
        if (d->next)
            d->next->prev = d->prev;
        a->bytes -= d->n;
        free(d);
    } else if (is_last(a, p, n)) {
        a->head->used -= n;
    }
}

void msn_arena_defer(msn_arena_t *a, void (*fn)(void *), void *p)
{
    struct deferred *d = carve(a, sizeof(*d), 8);
    d->fn = fn;
    d->p = p;
    d->next = a->deferred;
    a->deferred = d;
}

size_t msn_arena_bytes(const msn_arena_t *a)
{
    return a ? a->bytes : 0;
}

void msn_arena_free(msn_arena_t *a)
{
    if (a == NULL)
        return;
    for (struct deferred *d = a->deferred; d; d = d->next)
        d->fn(d->p);
    for (struct direct *d = a->direct; d;) {
        struct direct *n = d->next;
        free(d);
        d = n;
    }
    for (struct chunk *c = a->head; c;) {
        struct chunk *n = c->next;
        free(c);
        c = n;
    }
    free(a);
}
