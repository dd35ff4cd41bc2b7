/*
 * dispatch.h: from a request to its handler, without HTTP plumbing: the route table
 * (shm/route.h) decides 404, 405 and 503, binds each route to its handler, and gives the
 * Cache-Control of the answer. worker.c calls it for every /api/ and /metrics request;
 * the unit tests call it directly with a hand-filled msn_api_req_t.
 */
#ifndef MSN_DISPATCH_H
#define MSN_DISPATCH_H

#include <stddef.h>

#include "api.h"

/** Answers request r: r->path, r->q/nq, r->st, r->now_ms, r->body (empty) and, when a
 *  snapshot is available, r->txn/snap/meta are set by the caller. method is the HTTP
 *  method ("GET", "HEAD", "POST", ...); r->req_body for POST/PUT. Sets r->route (-1 when
 *  no route matches) and the answer:
 *    404 {"error"} when no route matches the path;
 *    405 {"error"} with r->allow naming the methods of the routes the path matches (for
 *        example "GET, HEAD") when none of them takes this method;
 *    400 {"error"} when r->query_error is set (the query string was refused, query.h), or
 *        a path parameter decodes to a NUL byte;
 *    503 {"error"} with r->retry_after when r->busy is set (the response buffers are
 *        full, respond.h), or the route needs a snapshot and r->txn is NULL;
 *  otherwise what the route's handler sets (r->status, r->body or r->doc).
 *  Path parameters are percent-decoded copies that live for the handler call and are
 *  freed before returning. */
void msn_api_dispatch(msn_api_req_t *r, const char *method);

/** The Cache-Control value of the answered request r, written into buf (n >= 48) and
 *  returned: "no-store" for any status but 200; else by the route's policy "no-store",
 *  "no-cache", or for a stored document (r->use_doc) "public, max-age=N", N the whole
 *  seconds until r->doc.expires_at_ms (0 when past). */
const char *msn_api_cache_control(const msn_api_req_t *r, char *buf, size_t n);

#endif
