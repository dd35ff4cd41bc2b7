/*
 * timeutil.h: the time formats of the CoreScope data: RFC3339 strings in the tables and
 * the API, unix seconds in observations.
 */
#ifndef MSN_TIMEUTIL_H
#define MSN_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/** Parses "YYYY-MM-DDTHH:MM:SS[.fff...][Z|±hh:mm]", "YYYY-MM-DD HH:MM:SS" (UTC) or
 *  "YYYY-MM-DD" into unix milliseconds. Returns 0, or -1 when s is not such a time. */
int msn_parse_time_ms(const char *s, int64_t *out_ms);

/** Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes with the NUL) for unix milliseconds. */
void msn_format_iso_ms(char out[32], int64_t ms);

/** Writes "YYYY-MM-DDTHH:MM:SSZ" for unix seconds. */
void msn_format_iso_s(char out[32], int64_t s);

/** Milliseconds on CLOCK_MONOTONIC: for durations and deadlines, never for dates (those
 *  are msn_now_ms in shm/status.h). */
int64_t msn_mono_ms(void);
/** Microseconds on CLOCK_MONOTONIC, as msn_mono_ms. */
int64_t msn_mono_us(void);

#endif
