/*
 * scope_stats.c: /api/scope-stats (CoreScope GetScopeStats, db.go).
 *
 * Window 1h, 24h (the default) or 7d: transmissions whose first_seen is at or after now -
 * window (now in whole seconds, as CoreScope formats it). On transport routes (route type
 * 0 or 3): transportTotal; scoped = scope_name not NULL (an empty name included, as SQL
 * COUNT(scope_name) counts it); unscoped = NULL; unknownScope = ''. unscoped then also
 * counts the FLOOD and DIRECT transmissions (route type 1 or 2), which never carry a
 * scope. byRegion: transport transmissions per non-empty scope name, by count descending
 * (then name). timeSeries: transport transmissions per bucket of first_seen (5 minutes for
 * 1h, 1 hour for 24h, 6 hours for 7d), "YYYY-MM-DDTHH:MM:00Z", ascending. A database
 * without the scope_name column reads every scope as NULL (CoreScope answers 500 there).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "an_int.h"
#include "shm/json.h"

typedef struct {
    int64_t count;
} cnt_t;

typedef struct {
    int64_t scoped, unscoped;
} ts_t;

static int cmp_str_keys(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

typedef struct {
    const char *name;
    uint32_t len;
    int64_t count;
} reg_t;

static int cmp_reg(const void *a, const void *b)
{
    const reg_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return msn_an__bytes_cmp(x->name, x->len, y->name, y->len);
}

int msn_an__scope_stats(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const char *w = c->shape->window && c->shape->window[0] ? c->shape->window : "24h";
    int64_t span_s = 86400, bucket_s = 3600;
    if (strcmp(w, "1h") == 0) {
        span_s = 3600;
        bucket_s = 300;
    } else if (strcmp(w, "7d") == 0) {
        span_s = 7 * 86400;
        bucket_s = 6 * 3600;
    } else {
        w = "24h";
    }
    int64_t since_ms = (c->now_ms / 1000 - span_s) * 1000;
    int64_t total = 0, scoped = 0, unscoped = 0, unknown = 0, other = 0;
    an_map_t regions, buckets;
    msn_an__map_init(&regions, c->arena, sizeof(cnt_t));
    msn_an__map_init(&buckets, c->arena, sizeof(ts_t));
    const msn_store_t *s = c->s;
    for (uint32_t i = 0; i < s->n_tx; i++) {
        const msn_tx_t *t = &s->tx[i];
        if (t->first_seen_ms < since_ms || t->first_seen[0] == 0)
            continue;
        if (t->route_type == 1 || t->route_type == 2) {
            other++;
            continue;
        }
        if (t->route_type != 0 && t->route_type != 3)
            continue;
        total++;
        const char *sc = t->scope_name;
        if (sc == NULL)
            unscoped++;
        else
            scoped++;
        if (sc && sc[0] == 0)
            unknown++;
        if (sc && sc[0])
            msn_an__map_count(&regions, sc, strlen(sc));
        int64_t secs = t->first_seen_ms / 1000, b = secs / bucket_s * bucket_s;
        char key[32];
        time_t tt = (time_t)b;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(key, sizeof(key), "%Y-%m-%dT%H:%M:00Z", &tm);
        ts_t *v = msn_an__map_val(&buckets, msn_an__map_intern(&buckets, key, strlen(key), NULL));
        if (sc == NULL)
            v->unscoped++;
        else
            v->scoped++;
    }
    msn_buf_printf(out, "{\"window\":\"%s\",\"summary\":{\"transportTotal\":%lld,\"scoped\":%lld,\"unscoped\":%lld,"
                        "\"unknownScope\":%lld},\"byRegion\":[",
                   w, (long long)total, (long long)scoped, (long long)(unscoped + other), (long long)unknown);
    reg_t *r = AN_ARRAY(c->arena, reg_t, regions.n);
    for (uint32_t e = 0; e < regions.n; e++) {
        r[e].name = regions.keys[e];
        r[e].len = regions.klen[e];
        r[e].count = msn_an__map_n(&regions, e);
    }
    msn_an__qsort(r, regions.n, sizeof(reg_t), cmp_reg);
    for (uint32_t e = 0; e < regions.n; e++) {
        msn_buf_puts(out, e ? ",{\"name\":" : "{\"name\":");
        msn_json_strn(out, r[e].name, r[e].len);
        msn_buf_printf(out, ",\"count\":%lld}", (long long)r[e].count);
    }
    msn_buf_puts(out, "],\"timeSeries\":[");
    const char **keys = AN_ARRAY(c->arena, const char *, buckets.n);
    for (uint32_t e = 0; e < buckets.n; e++)
        keys[e] = buckets.keys[e];
    msn_an__qsort(keys, buckets.n, sizeof(char *), cmp_str_keys);
    for (uint32_t e = 0; e < buckets.n; e++) {
        int64_t idx = msn_an__map_find(&buckets, keys[e], strlen(keys[e]));
        const ts_t *v = msn_an__map_val(&buckets, (uint32_t)idx);
        msn_buf_printf(out, "%s{\"t\":\"%s\",\"scoped\":%lld,\"unscoped\":%lld}", e ? "," : "", keys[e],
                       (long long)v->scoped, (long long)v->unscoped);
    }
    msn_buf_puts(out, "]}");
    return 0;
}
