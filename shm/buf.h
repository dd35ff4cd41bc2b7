/*
 * buf.h: a growable byte buffer, the building block of every renderer.
 *
 * Ownership: the msn_buf_t owns `data`; msn_buf_free() releases it. Growth aborts the
 * process on out-of-memory (a request or publish cannot continue without it, and the
 * supervisor restarts the process); see STYLE: OOM policy.
 */
#ifndef MSN_BUF_H
#define MSN_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} msn_buf_t;

#define MSN_BUF_INIT {NULL, 0, 0}

/** Ensures room for `extra` more bytes; aborts on OOM. */
void msn_buf_reserve(msn_buf_t *b, size_t extra);
/** Appends n bytes. */
void msn_buf_append(msn_buf_t *b, const void *p, size_t n);
/** Appends a NUL-terminated string (without its NUL). */
void msn_buf_puts(msn_buf_t *b, const char *s);
/** Appends one byte. */
void msn_buf_putc(msn_buf_t *b, char c);
/** Appends printf-formatted text. */
void msn_buf_printf(msn_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Appends a signed/unsigned decimal integer. */
void msn_buf_put_i64(msn_buf_t *b, int64_t v);
void msn_buf_put_u64(msn_buf_t *b, uint64_t v);
/** Empties the buffer, keeping its memory. */
void msn_buf_reset(msn_buf_t *b);
/** Releases the memory; the buffer is empty and reusable afterwards. */
void msn_buf_free(msn_buf_t *b);
/** Returns a NUL-terminated view (appends a NUL past len without counting it). */
const char *msn_buf_cstr(msn_buf_t *b);

/** malloc/calloc/realloc/strdup that abort with file:line on OOM. */
void *msn_xmalloc(size_t n);
void *msn_xcalloc(size_t n, size_t sz);
void *msn_xrealloc(void *p, size_t n);
char *msn_xstrdup(const char *s);
char *msn_xstrndup(const char *s, size_t n);

#endif
