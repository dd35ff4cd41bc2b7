/*
 * analytics.c: the dispatcher of msn_analytic_compute (see analytics.h).
 *
 * Every analytic follows CoreScope's Go server (cmd/server store.go, clock_skew.go,
 * role_analytics.go); each file says where it departs from it and why. Shape handling,
 * as in CoreScope:
 *  - region: honoured by topology, rf, distance, channels, hash_sizes, hash_collisions and
 *    subpaths; roles and the clock-skew views take no region (CoreScope ignores it too).
 *  - from/to: honoured by the analytics whose CoreScope endpoints parse a time window
 *    (rf, topology, channels, subpaths); the others ignore it, as CoreScope does.
 *  - area: accepted and ignored by every analytic for now (areas are not configured yet).
 *
 * Each computation is one job: msn_an__ctx_init creates its arena, msn_an__ctx_free frees
 * it with everything the analytic allocated (an_int.h).
 */
#include "analytics.h"

#include <stdio.h>

#include "an_int.h"

typedef int (*an_fn_t)(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);

/* The analytics computed by msn_analytic_compute (subpaths takes its own parameters). */
static const an_fn_t analytics[MSN_AN_COUNT] = {
    [MSN_AN_TOPOLOGY] = msn_an__topology,
    [MSN_AN_RF] = msn_an__rf,
    [MSN_AN_DISTANCE] = msn_an__distance,
    [MSN_AN_CHANNELS] = msn_an__channels,
    [MSN_AN_HASH_SIZES] = msn_an__hash_sizes,
    [MSN_AN_HASH_COLLISIONS] = msn_an__hash_collisions,
    [MSN_AN_ROLES] = msn_an__roles,
    [MSN_AN_OBSERVERS_CLOCK_SKEW] = msn_an__observers_clock_skew,
    [MSN_AN_NODES_CLOCK_SKEW] = msn_an__nodes_clock_skew,
    [MSN_AN_RELAY_AIRTIME_SHARE] = msn_an__relay_airtime_share,
    [MSN_AN_SUBPATHS_BULK] = msn_an__subpaths_bulk,
    [MSN_AN_SUBPATH_DETAIL] = msn_an__subpath_detail,
    [MSN_AN_SCOPE_STATS] = msn_an__scope_stats,
    [MSN_AN_OBSERVER_ANALYTICS] = msn_an__observer_analytics,
    [MSN_AN_OBSERVERS_METRICS_SUMMARY] = msn_an__observers_metrics_summary,
    [MSN_AN_AUDIO_LAB] = msn_an__audio_lab,
};

int msn_analytic_compute(int an, const msn_store_t *s, const msn_an_shape_t *shape, int64_t now_ms, msn_buf_t *out,
                         char *err, size_t errlen)
{
    return msn_analytic_compute_run(NULL, an, s, shape, now_ms, out, err, errlen);
}

int msn_analytic_compute_run(msn_an_run_t *run, int an, const msn_store_t *s, const msn_an_shape_t *shape,
                             int64_t now_ms, msn_buf_t *out, char *err, size_t errlen)
{
    if (an == MSN_AN_SUBPATHS)
        return msn_analytic_subpaths(s, shape, 2, 8, 100, out, err, errlen);
    if (s == NULL || out == NULL) {
        snprintf(err, errlen, "analytic %d: no store or output buffer", an);
        return -1;
    }
    if (an < 0 || an >= MSN_AN_COUNT || analytics[an] == NULL) {
        snprintf(err, errlen, "unknown analytic %d", an);
        return -1;
    }
    msn_an_shape_t none = {NULL, 0, 0, NULL, NULL, NULL};
    an_ctx_t c;
    msn_an__ctx_init(&c, s, shape ? shape : &none, now_ms);
    c.run = run;
    int rc = analytics[an](&c, out, err, errlen);
    msn_an__ctx_free(&c); /* the job's arena: everything it allocated, on success or failure */
    return rc;
}

int msn_analytic_subpaths(const msn_store_t *s, const msn_an_shape_t *shape, int min_len, int max_len, int limit,
                          msn_buf_t *out, char *err, size_t errlen)
{
    if (s == NULL || out == NULL) {
        snprintf(err, errlen, "subpaths: no store or output buffer");
        return -1;
    }
    msn_an_shape_t none = {NULL, 0, 0, NULL, NULL, NULL};
    an_ctx_t c;
    msn_an__ctx_init(&c, s, shape ? shape : &none, 0);
    int rc = msn_an__subpaths(&c, min_len, max_len, limit, out, err, errlen);
    msn_an__ctx_free(&c);
    return rc;
}
