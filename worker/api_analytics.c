/*
 * api_analytics.c: the analytics endpoints. A worker never computes an analytic: it looks
 * the requested shape up among the published documents. A shape nobody asked for before
 * is requested from the master through the status block and answered 503 + Retry-After
 * (CoreScope's frontend retries); the retry finds it published. Shapes served on demand
 * are "touched" (at most once a minute per worker and shape) so the master keeps them
 * fresh; unasked, they expire. Shapes are brought into normal form first (shm/anshape.h:
 * times rounded to the analytic's recompute interval, nonsense refused with 400), so
 * that requests meaning the same computation share one shape.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "shm/anparam.h"
#include "shm/anshape.h"
#include "shm/config.h"

#define TOUCH_SLOTS 64
#define TOUCH_EVERY_MS 60000

static struct {
    int an;
    char key[MSN_ANSHAPE_KEY_MAX];
    int64_t at;
} touched[TOUCH_SLOTS]; /* per worker process: the worker is single-threaded */

static void touch(msn_api_req_t *r, int an, const char *key)
{
    unsigned h = (unsigned)an * 31u;
    for (const char *p = key; *p; p++)
        h = h * 131u + (unsigned char)*p;
    h %= TOUCH_SLOTS;
    if (touched[h].an == an && strcmp(touched[h].key, key) == 0 && r->now_ms - touched[h].at < TOUCH_EVERY_MS)
        return;
    touched[h].an = an;
    snprintf(touched[h].key, sizeof(touched[h].key), "%s", key);
    touched[h].at = r->now_ms;
    msn_status_request_shape(r->st, an, key, 0);
}

/* Answers with analytic an in shape sh: the published document, else a 503 that asks the
 * master for it. */
static void serve_shape(msn_api_req_t *r, int an, msn_anshape_t *sh)
{
    char err[160], key[MSN_ANSHAPE_KEY_MAX], name[MSN_ANSHAPE_KEY_MAX + 40];
    msn_anshape_restrict(an, sh);
    int64_t interval_ms = 1000LL * (r->cfg ? msn_config_analytic_interval(r->cfg, an) : 300);
    if (msn_anshape_normalise(sh, interval_ms, r->now_ms, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    msn_anshape_key(sh, key, sizeof(key));
    msn_anshape_doc_name(an, sh, name, sizeof(name));
    if (msn_snap_doc_get_full(r->txn, r->snap, name, &r->doc) == 0) {
        r->use_doc = 1;
        snprintf(r->doc_name, sizeof(r->doc_name), "%s", name);
        r->status = 200;
        if (key[0])
            touch(r, an, key);
        return;
    }
    if (key[0] == '\0') {
        r->retry_after = 5;
        msn_buf_reset(r->body);
        msn_buf_puts(r->body, "{\"error\":\"analytics warming up\",\"retry_after_s\":5}");
        r->status = 503;
        return;
    }
    msn_status_request_shape(r->st, an, key, 1);
    r->retry_after = 2;
    msn_buf_reset(r->body);
    msn_buf_puts(r->body, "{\"error\":\"computing this shape; retry shortly\",\"retry_after_s\":2}");
    r->status = 503;
}

void msn_api_analytic(msn_api_req_t *r, int an)
{
    msn_anshape_t sh;
    char err[160];
    if (msn_anshape_parse(msn_api_param(r, "region"), msn_api_param(r, "window"), msn_api_param(r, "from"),
                          msn_api_param(r, "to"), msn_api_param(r, "area"), &sh, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    serve_shape(r, an, &sh);
}

/* The shape of the query for the fields analytic an takes, with param; -1 after a 400. */
static int shape_of(msn_api_req_t *r, int an, const char *param, msn_anshape_t *sh)
{
    int p = msn_anshape_params(an);
    char err[160];
    if (msn_anshape_parse((p & 1) ? msn_api_param(r, "region") : NULL, (p & 2) ? msn_api_param(r, "window") : NULL,
                          (p & 2) ? msn_api_param(r, "from") : NULL, (p & 2) ? msn_api_param(r, "to") : NULL,
                          (p & 4) ? msn_api_param(r, "area") : NULL, sh, err, sizeof(err)) < 0 ||
        (param && param[0] && msn_anshape_set_param(sh, param, strlen(param), err, sizeof(err)) < 0)) {
        msn_api_error(r, 400, "%s", err);
        return -1;
    }
    return 0;
}

void msn_api_analytic_with(msn_api_req_t *r, int an, const char *param)
{
    msn_anshape_t sh;
    if (shape_of(r, an, param, &sh) == 0)
        serve_shape(r, an, &sh);
}

/* ---- the analytics page's endpoints with parameters of their own ---- */

void msn_api_subpaths_bulk(msn_api_req_t *r)
{
    /* CoreScope answers these errors with status 200 (the page then shows nothing) */
    const char *groups = msn_api_param(r, "groups");
    if (groups == NULL || groups[0] == '\0') {
        msn_buf_puts(r->body, "{\"error\":\"groups parameter required (e.g. groups=2-2:50,3-3:30)\"}");
        r->status = 200;
        return;
    }
    msn_spgroup_t g[MSN_SUBPATH_GROUPS_MAX];
    char err[300];
    int n = msn_anparam_groups(groups, g, err, sizeof(err));
    if (n == -2) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    if (n < 0) {
        msn_api_error(r, 200, "%s", err);
        return;
    }
    char canon[MSN_ANSHAPE_KEY_MAX];
    msn_anparam_groups_text(g, n, canon, sizeof(canon));
    msn_api_analytic_with(r, MSN_AN_SUBPATHS_BULK, strcmp(canon, MSN_SUBPATH_GROUPS_DEFAULT) == 0 ? NULL : canon);
}

void msn_api_subpath_detail(msn_api_req_t *r)
{
    const char *hops = msn_api_param(r, "hops");
    if (hops == NULL || strchr(hops, ',') == NULL) {
        msn_buf_puts(r->body, "{\"error\":\"Need at least 2 hops\"}");
        r->status = 200;
        return;
    }
    if (strlen(hops) > 100) {
        msn_api_error(r, 400, "invalid hops: at most 100 characters");
        return;
    }
    msn_api_analytic_with(r, MSN_AN_SUBPATH_DETAIL, hops);
}

void msn_api_scope_stats(msn_api_req_t *r)
{
    const char *w = msn_api_param(r, "window");
    if (w && *w && strcmp(w, "1h") != 0 && strcmp(w, "24h") != 0 && strcmp(w, "7d") != 0) {
        msn_api_error(r, 400, "window must be 1h, 24h, or 7d");
        return;
    }
    /* only `window` (CoreScope reads no from/to here); 24h is the default shape */
    msn_anshape_t sh;
    char err[160];
    if (msn_anshape_parse(NULL, w && strcmp(w, "24h") != 0 ? w : NULL, NULL, NULL, NULL, &sh, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    serve_shape(r, MSN_AN_SCOPE_STATS, &sh);
}
