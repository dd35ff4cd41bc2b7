/*
 * arena.h: an append-only string arena. The master keeps millions of short strings
 * (paths, hashes, hex); one malloc each would double their cost. Everything is freed at
 * once with msn_arena_free. Allocation aborts on OOM (shm/buf.h policy).
 */
#ifndef MSN_ARENA_H
#define MSN_ARENA_H

#include <stddef.h>

typedef struct msn_arena msn_arena_t;

/** Creates an arena. */
msn_arena_t *msn_arena_new(void);
/** Copies s[0..n) plus a NUL into the arena; returns the copy. */
const char *msn_arena_strndup(msn_arena_t *a, const char *s, size_t n);
/** Copies a NUL-terminated string, or returns NULL for NULL. */
const char *msn_arena_strdup(msn_arena_t *a, const char *s);
/** Allocates n bytes aligned to 8 (uninitialised). */
void *msn_arena_alloc(msn_arena_t *a, size_t n);
/** Bytes held by the arena. */
size_t msn_arena_bytes(const msn_arena_t *a);
/** Frees the arena and every string in it (NULL is fine). */
void msn_arena_free(msn_arena_t *a);

#endif
