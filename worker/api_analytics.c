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

void msn_api_analytic(msn_api_req_t *r, int an)
{
    msn_anshape_t sh;
    char err[160], key[MSN_ANSHAPE_KEY_MAX], name[MSN_ANSHAPE_KEY_MAX + 40];
    if (msn_anshape_parse(msn_api_param(r, "region"), msn_api_param(r, "window"), msn_api_param(r, "from"),
                          msn_api_param(r, "to"), msn_api_param(r, "area"), &sh, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    msn_anshape_restrict(an, &sh);
    int64_t interval_ms = 1000LL * (r->cfg ? msn_config_analytic_interval(r->cfg, an) : 300);
    if (msn_anshape_normalise(&sh, interval_ms, r->now_ms, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    msn_anshape_key(&sh, key, sizeof(key));
    msn_anshape_doc_name(an, &sh, name, sizeof(name));
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
