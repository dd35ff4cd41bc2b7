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
 *   p=<text>    the analytic's own parameter (always last: it runs to the end of the key
 *               and may hold any byte but NUL), e.g. an observer id and a day count, a
 *               subpaths group list, a hop list (msn_anshape_params bit 8)
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
    char param[MSN_ANSHAPE_KEY_MAX]; /* "" = unset */
} msn_anshape_t;

/** The analytics' names in their document names, indexed by MSN_AN_* (shm/config.h):
 *  "topology", "rf", "distance", "channels", "hash-sizes", "hash-collisions", "roles",
 *  "subpaths", "observers-clock-skew", "nodes-clock-skew", "relay-airtime-share",
 *  "subpaths-bulk", "subpath-detail", "scope-stats", "observer-analytics",
 *  "observers-metrics-summary", "audio-lab". They name snapshot documents only; the HTTP
 *  paths that serve them are routes of shm/route.h. */
extern const char *const msn_anshape_endpoints[];

/** Builds a canonical shape from query values (NULL or "" = unset). Returns 0, or -1 with
 *  err naming the malformed parameter. */
int msn_anshape_parse(const char *region, const char *window, const char *from, const char *to, const char *area,
                      msn_anshape_t *out, char *err, size_t errlen);
/** Sets the shape's parameter (p=). Returns 0, or -1 with err set when it is too long for a
 *  shape key (the whole key must fit MSN_ANSHAPE_KEY_MAX - 1 bytes) or holds a NUL. */
int msn_anshape_set_param(msn_anshape_t *s, const char *param, size_t len, char *err, size_t errlen);
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
 *  to all but roles, the clock-skew endpoints and the analytics of the newer endpoints
 *  that ignore it (relay-airtime-share, subpath-detail, scope-stats, observer-analytics,
 *  audio-lab); window/from/to to topology, rf, channels, subpaths, subpaths-bulk,
 *  relay-airtime-share and scope-stats; area to all but roles, observers clock-skew and
 *  the newer ones; the parameter to subpaths-bulk, subpath-detail, observer-analytics and
 *  observers-metrics-summary. */
void msn_anshape_restrict(int an, msn_anshape_t *s);
/** A bit mask of what analytic `an` takes: 1 a region, 2 a time window, 4 an area, 8 a
 *  parameter (p=). */
int msn_anshape_params(int an);
/** 1 when analytic `an` has a default shape (the empty key) the master publishes; 0 for
 *  those that only exist per parameter value (subpath-detail, observer-analytics). */
int msn_anshape_has_default(int an);

/** The window's length in ms, or 0 for an unknown/empty window. */
int64_t msn_anshape_window_ms(const char *w);

#endif
