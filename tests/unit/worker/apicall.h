/*
 * apicall.h: one API request through the worker's dispatcher against a published
 * snapshot, as worker.c runs it (query parsed by the worker's own parser, the snapshot
 * read in one read transaction), for the worker's unit tests. Header-only: a test file
 * includes it after testlib.h.
 */
#ifndef MSN_TEST_APICALL_H
#define MSN_TEST_APICALL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/buf.h"
#include "shm/status.h"
#include "testlib.h"
#include "worker/api.h"
#include "worker/dispatch.h"
#include "worker/query.h"
#include "worker/snapview.h"

/* What a request answered. Free with apicall_free. */
typedef struct {
    int status, route, retry_after, use_doc;
    const char *content_type; /* NULL = JSON */
    char *body;               /* the body (a stored document's or the assembled one), owned */
    char cache[64];           /* the Cache-Control value */
    char path[512], query[1024];
    msn_buf_t buf;
} apicall_t;

/* Runs `method target` with request body `body` (may be NULL) at now_ms through the
 * dispatcher, with status block st and the snapshot of view. */
static inline void apicall_run(apicall_t *a, msn_status_t *st, msn_snapview_t *view, int64_t now_ms,
                               const char *method, const char *target, const char *body)
{
    memset(a, 0, sizeof(*a));
    msn_api_req_t r;
    memset(&r, 0, sizeof(r));
    const char *qm = strchr(target, '?');
    snprintf(a->path, sizeof(a->path), "%.*s", (int)(qm ? (size_t)(qm - target) : strlen(target)), target);
    static msn_qparam_t params[64];
    static char qerr[256];
    if (qm != NULL) {
        snprintf(a->query, sizeof(a->query), "%s", qm + 1);
        if (msn_query_parse(a->query, strlen(a->query), params, 64, &r.nq, qerr, sizeof(qerr)) < 0)
            r.query_error = qerr;
        r.q = params;
    }
    r.path = a->path;
    r.st = st;
    r.now_ms = now_ms;
    r.body = &a->buf;
    r.status = 500;
    r.req_body = body;
    r.req_body_len = body ? strlen(body) : 0;
    CHECK_EQ_INT(msn_snapview_begin(view), 0);
    r.txn = view->txn;
    r.snap = &view->snap;
    CHECK_EQ_INT(msn_snap_meta_get(r.txn, r.snap, &r.meta), 0);
    msn_api_dispatch(&r, method);
    msn_api_cache_control(&r, a->cache, sizeof(a->cache));
    a->body = r.use_doc ? msn_xstrndup(r.doc.body, r.doc.len) : msn_xstrdup(msn_buf_cstr(&a->buf));
    msn_snapview_end(view);
    a->status = r.status;
    a->route = r.route;
    a->retry_after = r.retry_after;
    a->use_doc = r.use_doc;
    a->content_type = r.content_type;
}

static inline void apicall_free(apicall_t *a)
{
    free(a->body);
    msn_buf_free(&a->buf);
}

#endif
