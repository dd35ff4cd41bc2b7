/*
 * log.h: one line per event on stderr, with time, level, role and pid.
 *
 *   2026-11-22T15:55:58Z INFO  master[1234] published generation 7 (1200 tx)
 *
 * journald captures stderr under systemd. Every process sets its role once with
 * msn_log_set_role() right after it starts (or after exec). The functions are safe
 * to call from several threads; each line is written with a single write(2).
 */
#ifndef MSN_LOG_H
#define MSN_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum { MSN_LOG_DEBUG = 0, MSN_LOG_INFO, MSN_LOG_WARN, MSN_LOG_ERROR } msn_log_level_t;

/** Sets the role name shown in every line ("master", "worker 2", "backfiller", "meshsnap").
 *  The string is copied (at most 31 bytes). */
void msn_log_set_role(const char *role);

/** Sets the lowest level written (default INFO; MESHSNAP_DEBUG=1 in the environment lowers it). */
void msn_log_set_level(msn_log_level_t level);

/** Writes one line. A trailing newline in fmt is not needed. */
void msn_log(msn_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void msn_vlog(msn_log_level_t level, const char *fmt, va_list ap);

/** A printable excerpt of a value (a key or field from a row, any bytes) for a log line:
 *  its first 40 bytes, each byte outside printable ASCII or a double quote shown as '?',
 *  "..." after a longer value; out is NUL-terminated. */
#define MSN_LOG_EXCERPT_SIZE 48
void msn_log_excerpt(const void *v, size_t n, char out[MSN_LOG_EXCERPT_SIZE]);

#define msn_debug(...) msn_log(MSN_LOG_DEBUG, __VA_ARGS__)
#define msn_info(...) msn_log(MSN_LOG_INFO, __VA_ARGS__)
#define msn_warn(...) msn_log(MSN_LOG_WARN, __VA_ARGS__)
#define msn_error(...) msn_log(MSN_LOG_ERROR, __VA_ARGS__)

#endif
