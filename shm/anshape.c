/* anshape.c: see anshape.h. */
#include "anshape.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "status.h"
#include "timeutil.h"

const char *const msn_anshape_endpoints[] = {"topology",
                                             "rf",
                                             "distance",
                                             "channels",
                                             "hash-sizes",
                                             "hash-collisions",
                                             "roles",
                                             "subpaths",
                                             "observers-clock-skew",
                                             "nodes-clock-skew",
                                             "relay-airtime-share",
                                             "subpaths-bulk",
                                             "subpath-detail",
                                             "scope-stats",
                                             "observer-analytics",
                                             "observers-metrics-summary",
                                             "audio-lab"};
_Static_assert(sizeof(msn_anshape_endpoints) / sizeof(msn_anshape_endpoints[0]) == MSN_AN_COUNT,
               "one document name per analytic");
_Static_assert(MSN_AN_COUNT <= MSN_AN_SLOTS, "every analytic has a slot in the status block (raise MSN_AN_SLOTS "
                                             "and MSN_STATUS_VERSION)");

int64_t msn_anshape_window_ms(const char *w)
{
    static const struct {
        const char *k;
        int64_t ms;
    } t[] = {{"1h", 3600000LL}, {"24h", 86400000LL}, {"3d", 3 * 86400000LL}, {"7d", 7 * 86400000LL},
             {"30d", 30 * 86400000LL}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(w, t[i].k) == 0)
            return t[i].ms;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int canon_region(const char *in, char *out, size_t n, char *err, size_t errlen)
{
    char buf[256];
    char *parts[16];
    int np = 0;
    snprintf(buf, sizeof(buf), "%s", in);
    char *save = NULL;
    for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ')
            p++;
        size_t l = strlen(p);
        while (l > 0 && p[l - 1] == ' ')
            p[--l] = '\0';
        if (l == 0)
            continue;
        for (size_t i = 0; i < l; i++) {
            if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_') {
                snprintf(err, errlen, "invalid region: expected comma-separated IATA codes");
                return -1;
            }
            p[i] = (char)toupper((unsigned char)p[i]);
        }
        if (strcmp(p, "ALL") == 0) {
            out[0] = '\0';
            return 0;
        }
        if (np == 16) {
            snprintf(err, errlen, "invalid region: at most 16 codes");
            return -1;
        }
        parts[np++] = p;
    }
    qsort(parts, (size_t)np, sizeof(char *), cmp_str);
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < np; i++) {
        if (i > 0 && strcmp(parts[i], parts[i - 1]) == 0)
            continue;
        int w = snprintf(out + o, n - o, "%s%s", o ? "," : "", parts[i]);
        if (w < 0 || (size_t)w >= n - o) {
            snprintf(err, errlen, "invalid region: too long");
            return -1;
        }
        o += (size_t)w;
    }
    return 0;
}

int msn_anshape_parse(const char *region, const char *window, const char *from, const char *to, const char *area,
                      msn_anshape_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (region && *region && canon_region(region, out->region, sizeof(out->region), err, errlen) < 0)
        return -1;
    if (window && *window) {
        const char *w = strcmp(window, "1d") == 0 ? "24h" : strcmp(window, "1w") == 0 ? "7d" : window;
        if (msn_anshape_window_ms(w) == 0) {
            snprintf(err, errlen, "invalid window: expected 1h, 24h, 3d, 7d or 30d");
            return -1;
        }
        snprintf(out->window, sizeof(out->window), "%s", w);
    }
    if (from && *from && msn_parse_time_ms(from, &out->from_ms) < 0) {
        snprintf(err, errlen, "invalid from: expected an RFC3339 time");
        return -1;
    }
    if (to && *to && msn_parse_time_ms(to, &out->to_ms) < 0) {
        snprintf(err, errlen, "invalid to: expected an RFC3339 time");
        return -1;
    }
    if (from && *from && out->from_ms == 0)
        out->from_ms = 1; /* the epoch itself: keep it distinguishable from "unset" */
    if (area && *area) {
        size_t l = strlen(area);
        if (l >= sizeof(out->area)) {
            snprintf(err, errlen, "invalid area: too long");
            return -1;
        }
        for (size_t i = 0; i < l; i++)
            if (!isalnum((unsigned char)area[i]) && area[i] != '-' && area[i] != '_') {
                snprintf(err, errlen, "invalid area: expected an area key");
                return -1;
            }
        memcpy(out->area, area, l + 1);
    }
    /* from/to take precedence over window (API spec §0.4) */
    if (out->from_ms || out->to_ms)
        out->window[0] = '\0';
    return 0;
}

int msn_anshape_set_param(msn_anshape_t *s, const char *param, size_t len, char *err, size_t errlen)
{
    if (memchr(param, '\0', len) != NULL || len >= sizeof(s->param)) {
        snprintf(err, errlen, "parameter too long");
        return -1;
    }
    char saved[sizeof(s->param)];
    memcpy(saved, s->param, sizeof(saved));
    memcpy(s->param, param, len);
    s->param[len] = '\0';
    char key[MSN_ANSHAPE_KEY_MAX + 1];
    msn_anshape_key(s, key, sizeof(key));
    if (strlen(key) >= MSN_ANSHAPE_KEY_MAX - 1) {
        memcpy(s->param, saved, sizeof(saved));
        snprintf(err, errlen, "parameter too long");
        return -1;
    }
    return 0;
}

int msn_anshape_is_default(const msn_anshape_t *s)
{
    return !s->region[0] && !s->window[0] && !s->from_ms && !s->to_ms && !s->area[0] && !s->param[0];
}

void msn_anshape_key(const msn_anshape_t *s, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
#define ADD(...)                                                                                             \
    do {                                                                                                     \
        int w_ = snprintf(out + o, n - o, __VA_ARGS__);                                                      \
        if (w_ > 0 && (size_t)w_ < n - o)                                                                    \
            o += (size_t)w_;                                                                                 \
    } while (0)
    if (s->region[0])
        ADD("%sr=%s", o ? ";" : "", s->region);
    if (s->window[0])
        ADD("%sw=%s", o ? ";" : "", s->window);
    if (s->from_ms)
        ADD("%sf=%lld", o ? ";" : "", (long long)s->from_ms);
    if (s->to_ms)
        ADD("%st=%lld", o ? ";" : "", (long long)s->to_ms);
    if (s->area[0])
        ADD("%sa=%s", o ? ";" : "", s->area);
    if (s->param[0])
        ADD("%sp=%s", o ? ";" : "", s->param);
#undef ADD
}

int msn_anshape_from_key(const char *key, msn_anshape_t *out)
{
    memset(out, 0, sizeof(*out));
    char buf[MSN_ANSHAPE_KEY_MAX + 8];
    snprintf(buf, sizeof(buf), "%s", key);
    /* the parameter runs to the end of the key, whatever it holds */
    char *pp = strncmp(buf, "p=", 2) == 0 ? buf : strstr(buf, ";p=");
    if (pp != NULL) {
        const char *v = pp + (*pp == ';' ? 3 : 2);
        if (*v == '\0')
            return -1;
        snprintf(out->param, sizeof(out->param), "%s", v);
        *pp = '\0';
    }
    char *save = NULL;
    for (char *p = strtok_r(buf, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
        if (strlen(p) < 3 || p[1] != '=')
            return -1;
        const char *v = p + 2;
        switch (p[0]) {
        case 'r': snprintf(out->region, sizeof(out->region), "%s", v); break;
        case 'w':
            if (msn_anshape_window_ms(v) == 0)
                return -1;
            snprintf(out->window, sizeof(out->window), "%s", v);
            break;
        case 'f': out->from_ms = strtoll(v, NULL, 10); break;
        case 't': out->to_ms = strtoll(v, NULL, 10); break;
        case 'a': snprintf(out->area, sizeof(out->area), "%s", v); break;
        default: return -1;
        }
    }
    return 0;
}

void msn_anshape_doc_name(int an, const msn_anshape_t *s, char *out, size_t n)
{
    if (an < 0 || an >= MSN_AN_COUNT) {
        snprintf(out, n, "an/?");
        return;
    }
    char key[MSN_ANSHAPE_KEY_MAX];
    msn_anshape_key(s, key, sizeof(key));
    if (key[0])
        snprintf(out, n, "an/%s?%s", msn_anshape_endpoints[an], key);
    else
        snprintf(out, n, "an/%s", msn_anshape_endpoints[an]);
}

int msn_anshape_params(int an)
{
    switch (an) {
    case MSN_AN_TOPOLOGY:
    case MSN_AN_RF:
    case MSN_AN_CHANNELS:
    case MSN_AN_SUBPATHS: return 1 | 2 | 4;
    case MSN_AN_DISTANCE:
    case MSN_AN_HASH_SIZES:
    case MSN_AN_HASH_COLLISIONS: return 1 | 4;
    case MSN_AN_NODES_CLOCK_SKEW: return 4;
    case MSN_AN_RELAY_AIRTIME_SHARE:
    case MSN_AN_SCOPE_STATS: return 2;
    case MSN_AN_SUBPATHS_BULK: return 1 | 2 | 8;
    case MSN_AN_SUBPATH_DETAIL:
    case MSN_AN_OBSERVER_ANALYTICS: return 8;
    case MSN_AN_OBSERVERS_METRICS_SUMMARY: return 1 | 8;
    default: return 0;
    }
}

int msn_anshape_has_default(int an)
{
    return an != MSN_AN_SUBPATH_DETAIL && an != MSN_AN_OBSERVER_ANALYTICS;
}

void msn_anshape_restrict(int an, msn_anshape_t *s)
{
    int p = msn_anshape_params(an);
    if (!(p & 1))
        s->region[0] = '\0';
    if (!(p & 2)) {
        s->window[0] = '\0';
        s->from_ms = s->to_ms = 0;
    }
    if (!(p & 4))
        s->area[0] = '\0';
    if (!(p & 8))
        s->param[0] = '\0';
}

static int64_t floor_to(int64_t v, int64_t q)
{
    int64_t r = v % q;
    return r < 0 ? v - r - q : v - r;
}

int msn_anshape_normalise(msn_anshape_t *s, int64_t interval_ms, int64_t now_ms, char *err, size_t errlen)
{
    if (interval_ms <= 0)
        interval_ms = 1;
    if (s->from_ms && s->to_ms && s->from_ms > s->to_ms) {
        snprintf(err, errlen, "invalid from: after to");
        return -1;
    }
    if (s->from_ms && s->from_ms > now_ms + interval_ms) {
        snprintf(err, errlen, "invalid from: in the future");
        return -1;
    }
    if (s->to_ms < 0) {
        snprintf(err, errlen, "invalid to: before the epoch");
        return -1;
    }
    s->area[0] = '\0';
    if (s->from_ms) {
        s->from_ms = floor_to(s->from_ms, interval_ms);
        if (s->from_ms <= 0)
            s->from_ms = 0; /* from the start */
    }
    if (s->to_ms) {
        int64_t up = floor_to(s->to_ms, interval_ms);
        if (up < s->to_ms)
            up += interval_ms;
        s->to_ms = up >= now_ms ? 0 : up; /* not in the past: until now */
    }
    return 0;
}

int msn_anshape_is_normal(const msn_anshape_t *s, int64_t interval_ms, int64_t now_ms)
{
    msn_anshape_t n = *s;
    char err[80], region[sizeof(n.region)];
    if (s->region[0] && (canon_region(s->region, region, sizeof(region), err, sizeof(err)) < 0 ||
                         strcmp(region, s->region) != 0))
        return 0;
    if (msn_anshape_normalise(&n, interval_ms, now_ms, err, sizeof(err)) < 0)
        return 0;
    return n.from_ms == s->from_ms && n.to_ms == s->to_ms && strcmp(n.area, s->area) == 0;
}
