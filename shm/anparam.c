/* anparam.c: see anparam.h. */
#include "anparam.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MAX_S (100LL * 366 * 86400)

/* Go's strconv.Atoi on s[0..n): optional sign, at least one digit, nothing else, in range
 * of int (64 bits). Returns 0 with *v, or -1. */
static int atoi_go(const char *s, size_t n, long long *v)
{
    char tmp[32];
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    size_t i = tmp[0] == '+' || tmp[0] == '-';
    if (tmp[i] == 0)
        return -1;
    for (size_t k = i; k < n; k++)
        if (!isdigit((unsigned char)tmp[k]))
            return -1;
    errno = 0;
    *v = strtoll(tmp, NULL, 10);
    return errno == ERANGE ? -1 : 0;
}

int msn_anparam_groups(const char *groups, msn_spgroup_t *out, char *err, size_t errlen)
{
    int n = 0;
    for (const char *g = groups;;) {
        size_t gl = strcspn(g, ",");
        const char *colon = memchr(g, ':', gl);
        if (colon == NULL) {
            snprintf(err, errlen, "invalid group format: %.*s", (int)gl, g);
            return -1;
        }
        size_t rl = (size_t)(colon - g);
        const char *dash = memchr(g, '-', rl);
        if (dash == NULL) {
            snprintf(err, errlen, "invalid range format: %.*s", (int)rl, g);
            return -1;
        }
        long long mn, mx, lim;
        if (atoi_go(g, (size_t)(dash - g), &mn) < 0 || atoi_go(dash + 1, (size_t)(colon - dash - 1), &mx) < 0 ||
            atoi_go(colon + 1, gl - rl - 1, &lim) < 0 || mn < 2 || mx < mn || lim < 1 || mx > 1000000) {
            snprintf(err, errlen, "invalid group: %.*s", (int)gl, g);
            return -1;
        }
        if (n == MSN_SUBPATH_GROUPS_MAX) {
            snprintf(err, errlen, "invalid groups: at most %d groups", MSN_SUBPATH_GROUPS_MAX);
            return -2;
        }
        out[n].min_len = (int)mn;
        out[n].max_len = (int)mx;
        out[n].limit = lim > 200 ? 200 : (int)lim;
        n++;
        if (g[gl] == 0)
            break;
        g += gl + 1;
    }
    return n;
}

size_t msn_anparam_groups_text(const msn_spgroup_t *g, int n, char *out, size_t size)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + o, size - o, "%s%d-%d:%d", i ? "," : "", g[i].min_len, g[i].max_len, g[i].limit);
        if (w < 0 || (size_t)w >= size - o)
            break;
        o += (size_t)w;
    }
    return o;
}

int msn_anparam_observer(int days, const char *id, char *out, size_t size)
{
    int w = snprintf(out, size, "%d:%s", days, id);
    return w < 0 || (size_t)w >= size ? -1 : 0;
}

/* Go's time.ParseDuration into seconds. */
static int go_duration(const char *s, double *secs)
{
    static const struct {
        const char *u;
        double s;
    } units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"\xce\xbcs", 1e-6}, {"ms", 1e-3},
                 {"s", 1},     {"m", 60},    {"h", 3600}};
    int neg = 0;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *secs = 0;
        return 0;
    }
    if (*s == 0)
        return -1;
    double total = 0;
    while (*s) {
        const char *start = s;
        while (isdigit((unsigned char)*s))
            s++;
        int have = s > start;
        if (*s == '.') {
            s++;
            const char *f = s;
            while (isdigit((unsigned char)*s))
                s++;
            have |= s > f;
        }
        if (!have)
            return -1;
        double v = strtod(start, NULL);
        size_t best = 0;
        double mul = 0;
        for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
            size_t ul = strlen(units[k].u);
            if (strncmp(s, units[k].u, ul) == 0 && ul > best) {
                best = ul;
                mul = units[k].s;
            }
        }
        if (best == 0)
            return -1; /* a number without a unit */
        s += best;
        total += v * mul;
    }
    *secs = neg ? -total : total;
    return 0;
}

int msn_anparam_window_s(const char *w, int64_t *secs)
{
    size_t n = strlen(w);
    double v;
    if (n > 1 && w[n - 1] == 'd') {
        long long d;
        if (atoi_go(w, n - 1, &d) < 0 || d <= 0 || d > WINDOW_MAX_S / 86400)
            return -1;
        *secs = d * 86400;
        return 0;
    }
    if (n == 0 || go_duration(w, &v) < 0 || !isfinite(v) || fabs(v) > (double)WINDOW_MAX_S)
        return -1;
    *secs = (int64_t)v;
    return 0;
}
