/*
 * anshape.h: the "shape" of an analytics request (region, time window, area) in one
 * canonical form, shared by the workers (which look published shapes up, and ask the
 * master for missing ones) and the master (which computes them).
 *
 * Canonical key: fields in a fixed order, only those set, ';'-separated:
 *   r=SFO,SJC   regions: trimmed, upper-case, sorted, without duplicates ("All" = none)
 *   w=24h       window: 1h, 24h, 3d, 7d, 30d (1d -> 24h, 1w -> 7d)
 *   f=<ms>      from, unix ms (RFC3339 in the query)
 *   t=<ms>      to, unix ms
 *   a=<name>    area key
 * The default shape has the empty key. Document names: "an/<endpoint>" for the default
 * shape, "an/<endpoint>?<key>" otherwise (endpoint as in msn_anshape_endpoints).
 *
 * Normal form (msn_anshape_normalise): requests that mean the same computation share one
 * shape, so that the number of distinct shapes a client can make the master compute and
 * keep is small: from/to are rounded to the analytic's recompute interval (from down, to
 * up), a `to` that is not in the past is dropped (it means "until now"), a `from` at or
 * before the epoch is dropped (it means "from the start"), and the area is dropped (no
 * areas are configured: an area filters nothing). Nonsense is refused: from after to, a
 * from in the future.
 */
#ifndef MSN_ANSHAPE_H
#define MSN_ANSHAPE_H

#include <stddef.h>
#include <stdint.h>

#define MSN_ANSHAPE_KEY_MAX 120

typedef struct {
    char region[64];
    char window[8];
    int64_t from_ms, to_ms; /* 0 = unset */
    char area[32];
} msn_anshape_t;

/** The analytics' names in their document names, indexed by MSN_AN_* (shm/config.h):
 *  "topology", "rf", "distance", "channels", "hash-sizes", "hash-collisions", "roles",
 *  "subpaths", "observers-clock-skew", "nodes-clock-skew". They name snapshot documents
 *  only; the HTTP paths that serve them are routes of shm/route.h. */
extern const char *const msn_anshape_endpoints[];

/** Builds a canonical shape from query values (NULL or "" = unset). Returns 0, or -1 with
 *  err naming the malformed parameter. */
int msn_anshape_parse(const char *region, const char *window, const char *from, const char *to, const char *area,
                      msn_anshape_t *out, char *err, size_t errlen);
/** Brings s (already restricted to analytic an) into normal form for recompute interval
 *  interval_ms (> 0) at time now_ms (see the top comment). Returns 0, or -1 with err
 *  naming the parameter when the shape is nonsense. */
int msn_anshape_normalise(msn_anshape_t *s, int64_t interval_ms, int64_t now_ms, char *err, size_t errlen);
/** 1 when s is in normal form for interval_ms at now_ms (its region canonical too), else
 *  0 (the master takes only normal shapes from the workers). */
int msn_anshape_is_normal(const msn_anshape_t *s, int64_t interval_ms, int64_t now_ms);

/** 1 for the default shape (nothing set). */
int msn_anshape_is_default(const msn_anshape_t *s);
/** Writes the canonical key (empty for the default shape). */
void msn_anshape_key(const msn_anshape_t *s, char *out, size_t n);
/** Parses a canonical key back. Returns 0, or -1 when it is not one. */
int msn_anshape_from_key(const char *key, msn_anshape_t *out);
/** Writes the document name of analytic `an` for shape s. */
void msn_anshape_doc_name(int an, const msn_anshape_t *s, char *out, size_t n);
/** Clears the fields analytic `an` does not take (CoreScope ignores them): region applies
 *  to all but roles and the clock-skew endpoints; window/from/to to topology, rf,
 *  channels and subpaths; area to all but roles and observers clock-skew. */
void msn_anshape_restrict(int an, msn_anshape_t *s);
/** 1 when analytic `an` takes a region, 2 a time window: a bit mask. */
int msn_anshape_params(int an);

/** The window's length in ms, or 0 for an unknown/empty window. */
int64_t msn_anshape_window_ms(const char *w);

#endif
