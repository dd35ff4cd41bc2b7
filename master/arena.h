/*
 * arena.h: region allocation for the master: memory that lives exactly as long as one
 * owner (the store's strings, one analytics job) and is freed all at once with
 * msn_arena_free, whatever path the owner leaves by.
 *
 * The master keeps millions of short strings (paths, hashes, hex); one malloc each would
 * double their cost, so small blocks are carved from 1 MiB chunks with no per-block
 * header. Blocks of MSN_ARENA_DIRECT bytes or more get a malloc of their own on a
 * separate list, so a large growing array (msn_arena_realloc) is resized in place by
 * realloc and can be given back early (msn_arena_release) instead of leaving its old
 * copies behind. Memory the arena does not allocate itself (a msn_buf_t's data, say) can
 * be tied to it with msn_arena_defer.
 *
 * Every block is 8-byte aligned. Allocation aborts on OOM (shm/buf.h policy). An arena is
 * used by one thread at a time.
 */
#ifndef MSN_ARENA_H
#define MSN_ARENA_H

#include <stddef.h>

typedef struct msn_arena msn_arena_t;

/** Blocks of at least this many bytes are allocated directly (see above). */
#define MSN_ARENA_DIRECT ((size_t)64 << 10)

/** Creates an arena. */
msn_arena_t *msn_arena_new(void);
/** Copies s[0..n) plus a NUL into the arena; returns the copy. */
const char *msn_arena_strndup(msn_arena_t *a, const char *s, size_t n);
/** Copies a NUL-terminated string, or returns NULL for NULL. */
const char *msn_arena_strdup(msn_arena_t *a, const char *s);
/** Allocates n bytes (uninitialised). */
void *msn_arena_alloc(msn_arena_t *a, size_t n);
/** Allocates count * size zeroed bytes (aborts when the product overflows). */
void *msn_arena_calloc(msn_arena_t *a, size_t count, size_t size);
/** Grows the block p of old_n bytes (allocated from a, or NULL with old_n 0) to new_n bytes
 *  and returns it: the same block when it can grow in place (a direct block, or the last
 *  block carved from the current chunk), else a copy (the old small block then stays
 *  allocated until the arena is freed). The first old_n bytes are kept, the rest is
 *  uninitialised. new_n <= old_n returns p unchanged. */
void *msn_arena_realloc(msn_arena_t *a, void *p, size_t old_n, size_t new_n);
/** Gives the block p of n bytes back before the arena is freed when that is possible (a
 *  direct block, or the last block carved from the current chunk); otherwise does
 *  nothing. p must not be used afterwards. */
void msn_arena_release(msn_arena_t *a, void *p, size_t n);
/** Calls fn(p) when the arena is freed (callbacks run newest first, before any memory of
 *  the arena is released). */
void msn_arena_defer(msn_arena_t *a, void (*fn)(void *), void *p);
/** Bytes held by the arena (chunks and direct blocks). */
size_t msn_arena_bytes(const msn_arena_t *a);
/** Runs the deferred callbacks and frees the arena and every block in it (NULL is fine). */
void msn_arena_free(msn_arena_t *a);

#endif
