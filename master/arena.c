/* arena.c: see arena.h. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"

#define CHUNK (1u << 20)

struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

struct msn_arena {
    struct chunk *head;
    size_t bytes;
};

msn_arena_t *msn_arena_new(void)
{
    return msn_xcalloc(1, sizeof(msn_arena_t));
}

static void ensure(msn_arena_t *a, size_t n)
{
    if (a->head == NULL || a->head->cap - a->head->used < n) {
        size_t cap = n > CHUNK ? n : CHUNK;
        struct chunk *c = msn_xmalloc(sizeof(*c) + cap);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->bytes += cap;
    }
}

void *msn_arena_alloc(msn_arena_t *a, size_t n)
{
    size_t pad = (8 - (a->head ? a->head->used % 8 : 0)) % 8;
    ensure(a, n + pad + 8);
    pad = (8 - a->head->used % 8) % 8;
    a->head->used += pad;
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

const char *msn_arena_strndup(msn_arena_t *a, const char *s, size_t n)
{
    ensure(a, n + 1);
    char *p = a->head->data + a->head->used;
    memcpy(p, s, n);
    p[n] = '\0';
    a->head->used += n + 1;
    return p;
}

const char *msn_arena_strdup(msn_arena_t *a, const char *s)
{
    return s == NULL ? NULL : msn_arena_strndup(a, s, strlen(s));
}

size_t msn_arena_bytes(const msn_arena_t *a)
{
    return a ? a->bytes : 0;
}

void msn_arena_free(msn_arena_t *a)
{
    if (a == NULL)
        return;
    struct chunk *c = a->head;
    while (c) {
        struct chunk *n = c->next;
        free(c);
        c = n;
    }
    free(a);
}
