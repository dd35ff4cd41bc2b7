/*
 * err.h: the error-text convention. A function that can fail in ways worth explaining takes
 * (char *err, size_t errlen) and, when it fails, writes one line (no newline) saying what
 * went wrong; the caller logs or prints it. err may be NULL or errlen 0 when the caller
 * does not want the text.
 */
#ifndef MSN_ERR_H
#define MSN_ERR_H

#include <stddef.h>

/** Writes printf-formatted text to err (truncated to errlen - 1 bytes, NUL-terminated);
 *  does nothing when err is NULL or errlen is 0. */
void msn_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
