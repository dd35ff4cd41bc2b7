/*
 * analytics.h: every analytic the master publishes, computed from the in-memory store,
 * off the request path. Each function renders the exact response body of its endpoint
 * (CoreScope shapes, API spec §3.9 and the golden shapes) for one "shape" (region,
 * time window, area) into a buffer; the publisher schedules them and stores the bodies.
 *
 * The functions only read the store; they may be slow (seconds on an operator-scale
 * database) but must never crash on odd data: malformed decoded_json, empty paths,
 * nodes without a location are skipped and counted, not fatal.
 *
 * Shapes follow CoreScope: the region filters topology, rf, distance, channels,
 * hash_sizes, hash_collisions and subpaths (a region no observer carries filters nothing,
 * as in CoreScope); from/to bound rf, topology, channels and subpaths; the other
 * analytics ignore what their CoreScope endpoint ignores. now_ms dates "active in the
 * last 7 days" (topology uniqueNodes) and "adverts of the last 7 days" (hash sizes and
 * collisions). Hop prefixes are resolved without the neighbour graph (the store carries
 * none), so CoreScope's neighbour-affinity tier is skipped. Thread safety: a call reads
 * the store only and keeps all its state in an arena of its own (freed before it returns,
 * whether it succeeds or fails); calls on one store may run concurrently as long as
 * nothing modifies it.
 */
#ifndef MSN_ANALYTICS_H
#define MSN_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "master/store.h"
#include "shm/buf.h"
#include "shm/config.h"

typedef struct {
    const char *region; /* NULL = every region; else comma-separated IATA codes, upper-case */
    int64_t from_ms;    /* 0 = unbounded */
    int64_t to_ms;      /* 0 = unbounded */
    const char *area;   /* NULL = none (areas are a later feature; a non-NULL area filters nothing yet) */
    const char *window; /* the window's name ("24h") when from_ms came from one, else NULL: the
                           analytics that echo it (relay-airtime-share) or bucket by it (scope-stats) */
    const char *param;  /* the analytic's own parameter (anshape.h p=), NULL = none:
                           subpaths-bulk "min-max:limit,..." (NULL = the dashboard's groups),
                           subpath-detail "hop,hop,...", observer-analytics "<days>:<observer id>",
                           observers-metrics-summary the window in seconds (NULL = 86400) */
} msn_an_shape_t;

/** What the jobs of one computing process share: indexes built once, on first use, over
 *  the store they all read (the observations of each observer, decoded node keys). Opaque;
 *  one thread at a time. */
typedef struct msn_an_run msn_an_run_t;

/** A run over store s (which must not change while the run lives). */
msn_an_run_t *msn_an_run_new(const msn_store_t *s);
/** Frees the run and its indexes (NULL is fine). */
void msn_an_run_free(msn_an_run_t *run);

/** Computes analytic `an` (MSN_AN_* from shm/config.h) for `shape` at now_ms and appends
 *  its response body to out. Returns 0, or -1 with err set (out is then unspecified). */
int msn_analytic_compute(int an, const msn_store_t *s, const msn_an_shape_t *shape, int64_t now_ms, msn_buf_t *out,
                         char *err, size_t errlen);
/** As msn_analytic_compute, reusing the indexes of run (NULL: none, the job builds what it
 *  needs); run must be over s. */
int msn_analytic_compute_run(msn_an_run_t *run, int an, const msn_store_t *s, const msn_an_shape_t *shape,
                             int64_t now_ms, msn_buf_t *out, char *err, size_t errlen);

/** The /api/analytics/subpaths body for explicit parameters (msn_analytic_compute uses
 *  CoreScope's defaults minLen 2, maxLen 8, limit 100): subpaths of min_len..max_len
 *  hops (min_len below 2 counts as 2), the `limit` most frequent. Returns 0, or -1 with
 *  err set. */
int msn_analytic_subpaths(const msn_store_t *s, const msn_an_shape_t *shape, int min_len, int max_len, int limit,
                          msn_buf_t *out, char *err, size_t errlen);

#endif
