/* log.c: see log.h. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_role[32] = "meshsnap";
static msn_log_level_t log_level = MSN_LOG_INFO;
static int log_level_init;

void msn_log_set_role(const char *role)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
}

void msn_log_set_level(msn_log_level_t level)
{
    log_level = level;
    log_level_init = 1;
}

void msn_vlog(msn_log_level_t level, const char *fmt, va_list ap)
{
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    if (!log_level_init) {
        const char *e = getenv("MESHSNAP_DEBUG");
        if (e != NULL && *e != '\0' && *e != '0')
            log_level = MSN_LOG_DEBUG;
        log_level_init = 1;
    }
    if (level < log_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%ld] ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     names[level], log_role, (long)getpid());
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    while (len > 0 && line[len - 1] == '\n')
        len--;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void msn_log(msn_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msn_vlog(level, fmt, ap);
    va_end(ap);
}

void msn_log_excerpt(const void *v, size_t n, char out[MSN_LOG_EXCERPT_SIZE])
{
    const unsigned char *b = v;
    size_t o = 0;
    for (size_t i = 0; i < n && o < 40; i++)
        out[o++] = b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' ? (char)b[i] : '?';
    if (n > 40) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}
