/*
 * an_int.h: helpers shared by the analytics (private to master/analytics/).
 *
 * - an_map_t: an insertion-ordered hash map from byte strings to dense indexes 0..n-1;
 *   callers keep their values in parallel arrays indexed by the entry number, so the
 *   iteration order of a map is the order in which keys were first seen (deterministic).
 * - a tolerant JSON object scanner for decoded_json (top-level members only; a malformed
 *   document yields no members, the way a failed json.Unmarshal leaves an empty map).
 * - path_json hop splitting (slices into the store's strings, no copies).
 * - hour buckets, region and window filters, node lookups by public key.
 * - the relay prefix map and hop resolver (CoreScope's prefixMap.resolveWithContext
 *   without the neighbour-graph tier; see an_pm_resolve).
 * - small numeric helpers matching the Go server's rounding and medians.
 *
 * Everything here is single-threaded and per call: an analytic builds what it needs,
 * uses it and frees it before returning.
 */
#ifndef MSN_AN_INT_H
#define MSN_AN_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "master/analytics/analytics.h"
#include "master/arena.h"
#include "master/store.h"
#include "shm/buf.h"

/* ---- growable arrays ------------------------------------------------------------------- */

/* Ensures arr (of element type T, capacity cap) holds at least need elements. */
#define AN_RESERVE(arr, cap, need)                                                                           \
    do {                                                                                                     \
        if ((size_t)(need) > (size_t)(cap)) {                                                                \
            size_t nc_ = (cap) ? (size_t)(cap) * 2 : 16;                                                    \
            while (nc_ < (size_t)(need))                                                                     \
                nc_ *= 2;                                                                                    \
            (arr) = msn_xrealloc((arr), nc_ * sizeof(*(arr)));                                               \
            (cap) = nc_;                                                                                     \
        }                                                                                                    \
    } while (0)

/* ---- string -> index map ---------------------------------------------------------------- */

typedef struct {
    uint64_t *slots; /* 0 = empty, else entry + 1 and a hash tag (an_util.c) */
    uint32_t mask;   /* slot count - 1 (slot count is a power of two) */
    uint32_t n;      /* entries */
    size_t cap;      /* entry capacity */
    const char **keys;
    uint32_t *klen;
    uint64_t *hash;
    msn_arena_t *arena; /* key copies */
} an_map_t;

void msn_an__map_init(an_map_t *m);
void msn_an__map_free(an_map_t *m);
/** Index of key, or -1. */
int64_t msn_an__map_find(const an_map_t *m, const void *key, size_t n);
/** Index of key, inserting a copy of it when absent (*is_new set accordingly; may be NULL). */
uint32_t msn_an__map_intern(an_map_t *m, const void *key, size_t n, int *is_new);
/** The entry indexes sorted by key bytes (shorter first on a common prefix); caller frees. */
uint32_t *msn_an__map_sorted(const an_map_t *m);

/* ---- decoded_json members ------------------------------------------------------------- */

enum { AN_J_STR = 's', AN_J_NUM = 'n', AN_J_OBJ = 'o', AN_J_ARR = 'a', AN_J_TRUE = 't', AN_J_FALSE = 'f', AN_J_NULL = 'z' };

typedef struct {
    const char *k; /* raw key bytes (between the quotes, escapes not decoded) */
    uint32_t kn;
    const char *v; /* the value: for strings the bytes between the quotes (escaped) */
    uint32_t vn;
    char t; /* AN_J_* */
} an_jmember_t;

#define AN_JMAX 48
typedef struct {
    an_jmember_t m[AN_JMAX];
    int n; /* members kept (a later duplicate key replaces the earlier one); -1 = invalid */
} an_jobj_t;

/** Scans the JSON object text[0..len). On any syntax error (or when text is NULL or not an
 *  object) o->n is -1 and every lookup misses. Members beyond AN_JMAX are validated but
 *  not kept. Returns o->n. */
int msn_an__jobj_parse(an_jobj_t *o, const char *text, size_t len);
/** The member named key, or NULL. */
const an_jmember_t *msn_an__jobj_get(const an_jobj_t *o, const char *key);
/** Unescapes a string member's value into out (replacing *out's content, NUL-terminated via
 *  msn_buf_cstr); invalid UTF-8 becomes U+FFFD as in Go. Returns 0, or -1 if not a string. */
int msn_an__jstr(const an_jmember_t *m, msn_buf_t *out);
/** The string value of key when it is a plain string without escapes (the common case),
 *  pointing into the document; else unescaped into scratch. NULL when absent or not a
 *  string. *n receives the length. */
const char *msn_an__jobj_str(const an_jobj_t *o, const char *key, msn_buf_t *scratch, size_t *n);
/** The numeric value of key in *out. Returns 0, or -1 when absent or not a number. */
int msn_an__jobj_num(const an_jobj_t *o, const char *key, double *out);

/* ---- path hops ---------------------------------------------------------------------------- */

typedef struct {
    const char *p; /* into the path_json text; NULL for a JSON null (treated as "") */
    uint32_t n;
} an_hop_t;

typedef struct {
    an_hop_t *h;
    size_t cap;
    int n;
} an_hops_t;

/** Splits path_json into hops (no copies). A NULL, empty or malformed path gives 0 hops,
 *  as CoreScope's parsePathJSON does. Returns hops->n. */
int msn_an__hops_parse(an_hops_t *hops, const char *path_json);
/** The hops of tx's best observation (0 when it has none). */
int msn_an__tx_hops(an_hops_t *hops, const msn_store_t *s, const msn_tx_t *t);

/* ---- time ---------------------------------------------------------------------------------- */

/** Writes the 13-char hour bucket "YYYY-MM-DDTHH" (plus NUL) of unix seconds. */
void msn_an__hour_of_s(int64_t secs, char out[16]);
/** The hour bucket of a transmission: the first 13 bytes of first_seen, as CoreScope slices
 *  it. Returns the length written (13) or 0 when first_seen is shorter. */
size_t msn_an__hour_of_tx(const msn_tx_t *t, char out[16]);

/* ---- per-call context: observers, region, window, nodes ------------------------------------ */

typedef struct {
    const msn_store_t *s;
    const msn_an_shape_t *shape;
    int64_t now_ms;
    int32_t *obs_by_rowid; /* rowid -> observer index, for rowids 0..n_rowid-1 */
    int64_t n_rowid;
    uint8_t *in_region; /* per observer index */
    int region_active;  /* a region was asked for and matched at least one observer */
    int region_asked;   /* a region with at least one code was asked for */
    uint32_t *node_by_key; /* node indexes sorted by public_key (strcmp), NULL keys left out */
    uint32_t n_node_by_key;
} an_ctx_t;

/** Prepares the context: observer lookup, region set (CoreScope semantics: codes are trimmed
 *  and upper-cased, "ALL" and empty codes are dropped; when no observer carries one of the
 *  codes the region filter is off, exactly like resolveRegionObservers returning nil), and
 *  the node index. */
void msn_an__ctx_init(an_ctx_t *c, const msn_store_t *s, const msn_an_shape_t *shape, int64_t now_ms);
void msn_an__ctx_free(an_ctx_t *c);
/** Observer index of an observation, or -1. */
int32_t msn_an__obs_observer(const an_ctx_t *c, const msn_obs_t *o);
/** The observer id of an observation ("" when it has no known observer, as in Go). */
const char *msn_an__obs_observer_id(const an_ctx_t *c, const msn_obs_t *o);
/** 1 when some observation of t was made by an observer of the region (always 1 when the
 *  region filter is off). */
int msn_an__tx_in_region(const an_ctx_t *c, const msn_tx_t *t);
/** Unix seconds to milliseconds, saturating (observation timestamps are not validated). */
static inline int64_t msn_an__ms(int64_t secs)
{
    if (secs > INT64_MAX / 1000)
        return INT64_MAX;
    if (secs < INT64_MIN / 1000)
        return INT64_MIN;
    return secs * 1000;
}
/** 1 when ms lies in the shape's [from, to] window (inclusive; 0 bounds are open). */
int msn_an__in_window(const an_ctx_t *c, int64_t ms);
/** 1 when the transmission's first_seen lies in the window (an empty first_seen is
 *  included, as TimeWindow.Includes does). */
int msn_an__tx_in_window(const an_ctx_t *c, const msn_tx_t *t);
/** 1 when the shape has a from/to bound. */
int msn_an__window_set(const an_ctx_t *c);
/** Node index with exactly this public key, or -1. */
int32_t msn_an__node_find(const an_ctx_t *c, const char *pk, size_t n);
/** CoreScope's HasGPS: lat and lon both present, finite, and not both zero. */
int msn_an__node_gps(const msn_node_t *nd);
/** "" for NULL. */
static inline const char *msn_an__s(const char *s)
{
    return s ? s : "";
}

/* ---- relay prefix map and hop resolver ---------------------------------------------------- */

typedef struct {
    const msn_store_t *s;
    uint32_t *relay;   /* node indexes of relay-capable nodes, sorted by lowercase key */
    char *lkeys;       /* lowercase keys, NUL-separated */
    uint32_t *lkey_off; /* offset of relay[i]'s key in lkeys */
    uint32_t n_relay;
    uint8_t *nonrelay; /* per node index: an active observer that reported repeat off */
    uint8_t *gps;      /* per node index: msn_an__node_gps */
} an_pm_t;

/* Context of a hop resolution: the distinct lowercase context keys seen and the centroid
 * of those that are GPS relay nodes (resolveWithContext tier 2). */
#define AN_RCTX_LIST 96
typedef struct {
    int n_ctx;
    int n_gps;
    double lat, lon; /* sums until msn_an__rctx_finish, then the centroid */
    /* keys seen, for per-transmission contexts (compared case-insensitively) */
    const char *seen[AN_RCTX_LIST];
    uint32_t seen_n[AN_RCTX_LIST];
    int n_seen;
} an_rctx_t;

/** Empties a context. */
void msn_an__rctx_reset(an_rctx_t *rc);

/** Builds the prefix map of nodes whose role contains "repeater" or "room_server" or is
 *  "room" (case-insensitive), as CoreScope's buildPrefixMap. */
void msn_an__pm_init(an_pm_t *pm, const an_ctx_t *c);
void msn_an__pm_free(an_pm_t *pm);
/** Relay candidates of a hop (any case): keys starting with it when it has 2..8 chars, the
 *  exact key when longer. Writes the range into relay[] to *first and *count; returns *count. */
uint32_t msn_an__pm_candidates(const an_pm_t *pm, const char *hop, size_t n, uint32_t *first, uint32_t *count);
/** Resolves a hop to a node index or -1, CoreScope's resolveWithContext minus the
 *  neighbour-affinity tier (the store carries no neighbour graph): listener-only observers
 *  are dropped; a single candidate wins; else the GPS candidate nearest the context
 *  centroid; else the GPS candidate with the most adverts (then the lowest key); else any
 *  candidate by the same rule. */
int32_t msn_an__pm_resolve(const an_pm_t *pm, const char *hop, size_t n, const an_rctx_t *rc);
/** Adds one context key (any case) to rc unless it was seen before: dedup is a map of
 *  lowercase keys for aggregate contexts, or NULL to use rc's own short list
 *  (per-transmission contexts; beyond AN_RCTX_LIST keys duplicates are not detected). */
void msn_an__rctx_add(const an_pm_t *pm, an_rctx_t *rc, an_map_t *dedup, const char *key, size_t n);
/** Turns the sums into the centroid. */
void msn_an__rctx_finish(an_rctx_t *rc);
/** Adds the context of one transmission (buildHopContextPubkeys): the decoded pubKey, the
 *  best observation's observer id when it is hex of 4+ chars, and every hop with exactly
 *  one relay candidate. dedup as in msn_an__rctx_add; hops are the tx's hops. */
void msn_an__rctx_tx(const an_ctx_t *c, const an_pm_t *pm, an_rctx_t *rc, an_map_t *dedup, const msn_tx_t *t,
                     const an_hops_t *hops, an_jobj_t *scratch_obj, msn_buf_t *scratch);

/* ---- numbers ---------------------------------------------------------------------------- */

/** Go's math.Round(v*10^p)/10^p (half away from zero). */
double msn_an__round_half(double v, int places);
/** The Go server's round(): float64(int(v*10^p + 0.5)) / 10^p (truncates toward zero). */
double msn_an__round_trunc(double v, int places);
/** Haversine distance in km (R = 6371). */
double msn_an__haversine_km(double lat1, double lon1, double lat2, double lon2);
/** The k-th smallest of v[0..n) (reorders v). */
double msn_an__select(double *v, size_t n, size_t k);
/** The median as CoreScope's median(): mean of the two middle values for even n, 0 for
 *  n == 0 (reorders v). */
double msn_an__median(double *v, size_t n);
/** qsort that accepts an empty or NULL array. */
static inline void msn_an__qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (base != NULL && n > 1)
        qsort(base, n, size, cmp);
}
/** qsort comparator for doubles (ascending). */
int msn_an__cmp_double(const void *a, const void *b);

/* ---- JSON emission ------------------------------------------------------------------------- */

/** Appends s (may be NULL, emitted as "") as a JSON string. */
void msn_an__str(msn_buf_t *b, const char *s);
/** Appends s[0..n) as a JSON string (NULL p emitted as ""). */
void msn_an__strn(msn_buf_t *b, const char *p, size_t n);

/* ---- the analytics ---------------------------------------------------------------------- */

int msn_an__topology(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__rf(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__distance(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__channels(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__hash_sizes(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__hash_collisions(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__roles(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__subpaths(const an_ctx_t *c, int min_len, int max_len, int limit, msn_buf_t *out, char *err,
                     size_t errlen);
int msn_an__observers_clock_skew(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__nodes_clock_skew(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);

/* Per-node hash-size facts from the last 7 days of adverts (computeNodeHashSizeInfo),
 * shared by hash_sizes and hash_collisions. */
typedef struct {
    uint8_t has;          /* at least one qualifying advert */
    uint8_t hash_size;    /* size of the newest advert (1..4) */
    uint8_t sizes_mask;   /* bit k-1: size k seen */
    uint8_t inconsistent; /* flip-flopping */
} an_hsinfo_t;

/** Fills info[node index] (n_nodes entries, caller-allocated) for nodes of the store, and
 *  for advert keys that are not nodes nothing (callers only ask about nodes). */
void msn_an__hsinfo(const an_ctx_t *c, an_hsinfo_t *info);

/* Per-node clock skew (the fleet view) shared by nodes_clock_skew and roles. */
typedef struct {
    const char *pubkey; /* the advert's pubKey, in the store's arena or the scratch arena */
    double mean, median, last, recent_median, drift, good_fraction;
    const char *severity;
    int64_t sample_count, last_advert_ts, last_observed_ts;
    int recent_bad_count, recent_count, calibrated;
    uint32_t bad_first, bad_n; /* recent bad samples in the shared array */
    int32_t node;              /* node index, -1 when not a known node */
} an_nodeskew_t;

typedef struct {
    const char *hash;
    int64_t advert_ts;
    double skew;
} an_badsample_t;

typedef struct {
    an_nodeskew_t *nodes; /* sorted by pubkey */
    uint32_t n;
    an_badsample_t *bad;
    uint32_t n_bad;
    /* observer calibration: per observer index (+1; slot 0 = observations without observer) */
    double *obs_offset;
    int64_t *obs_samples;
    uint8_t *obs_has;
    uint32_t n_obs_slots;
    msn_arena_t *arena;
} an_skew_t;

/** Computes the observer calibration and the fleet clock skew. */
void msn_an__skew_compute(const an_ctx_t *c, an_skew_t *k);
void msn_an__skew_free(an_skew_t *k);

#endif
