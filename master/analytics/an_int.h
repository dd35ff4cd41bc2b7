/*
 * an_int.h: what the analytics share (private to master/analytics/).
 *
 * Memory: every computation is one job with one arena (an_ctx_t.arena, created by
 * msn_an__ctx_init and freed by msn_an__ctx_free). Everything a job allocates (its job
 * struct, maps, arrays, scratch buffers) comes from that arena, so no analytic frees
 * anything itself: whether it renders or fails half-way, the dispatcher frees the arena
 * and with it the whole job.
 *
 * Shape of an analytic: a job struct in the arena, and phases that are functions of their
 * own over it: collect (a pass over the store's data into the job's accumulators), merge
 * (combine and aggregate them), rank (sort, select the top N), render (write the JSON).
 *
 * Shared pieces, by file:
 *  - an_map.c: an_map_t, an insertion-ordered hash map from byte strings to dense indexes
 *    0..n-1 with an optional fixed-size value per entry (counting maps), over shm/hmap.h;
 *    iteration order is the order in which keys were first seen, so it is deterministic.
 *  - an_util.c: the per-job context (observers, region, window, node lookup by key), path
 *    hops (slices into the store's strings), hour buckets, roles, and numbers matching the
 *    Go server's rounding, medians and percentiles.
 *  - an_resolve.c: the relay prefix map, CoreScope's hop resolution without the
 *    neighbour-graph tier (an_pm_t, an_rctx_t), and a caching resolver over one aggregate
 *    context (an_resolver_t).
 *  - an_rank.c: ranking by count then key, and top-N selection.
 *  - an_emit.c: JSON emission (members, elements, node references).
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
#include "shm/hmap.h"
#include "shm/jsonr.h"

/* ---- arena arrays ----------------------------------------------------------------------- */

/* Ensures arr (capacity cap elements, from arena a) holds at least need elements. */
#define AN_GROW(a, arr, cap, need)                                                                           \
    do {                                                                                                     \
        if ((size_t)(need) > (size_t)(cap)) {                                                                \
            size_t nc_ = (cap) ? (size_t)(cap) * 2 : 16;                                                    \
            while (nc_ < (size_t)(need))                                                                     \
                nc_ *= 2;                                                                                    \
            (arr) = msn_arena_realloc((a), (arr), (size_t)(cap) * sizeof(*(arr)), nc_ * sizeof(*(arr)));     \
            (cap) = nc_;                                                                                     \
        }                                                                                                    \
    } while (0)

/* A zeroed array of n elements of type T from arena a (at least one element, so a pointer
 * to an empty array is never NULL). */
#define AN_ARRAY(a, T, n) ((T *)msn_arena_calloc((a), (n) ? (size_t)(n) : 1, sizeof(T)))

/* ---- string -> index map ---------------------------------------------------------------- */

typedef struct {
    msn_hmap_t ix;     /* key hash -> entry (slot arrays in the arena) */
    uint32_t n;        /* entries */
    size_t cap;        /* entry capacity */
    const char **keys; /* copies, NUL-terminated */
    uint32_t *klen;
    char *vals;   /* cap values of vsize bytes, zeroed when their entry is added */
    size_t vsize; /* 0 = no values */
    msn_arena_t *arena;
} an_map_t;

/** An empty map whose memory comes from arena a, with a value of vsize bytes per entry
 *  (0 for none). */
void msn_an__map_init(an_map_t *m, msn_arena_t *a, size_t vsize);
/** Index of key, or -1. */
int64_t msn_an__map_find(const an_map_t *m, const void *key, size_t n);
/** Index of key, inserting a copy of it (with a zeroed value) when absent (*is_new set
 *  accordingly; may be NULL). */
uint32_t msn_an__map_intern(an_map_t *m, const void *key, size_t n, int *is_new);
/** The value of entry e. Valid until the next insertion (values move when the map grows). */
static inline void *msn_an__map_val(const an_map_t *m, uint32_t e)
{
    return m->vals + (size_t)e * m->vsize;
}
/** Counting maps (vsize >= 8, the value starting with an int64_t count): adds one to key's
 *  count, inserting it when absent. Returns the entry index. */
uint32_t msn_an__map_count(an_map_t *m, const void *key, size_t n);
/** The count of entry e in a counting map. */
static inline int64_t msn_an__map_n(const an_map_t *m, uint32_t e)
{
    return *(const int64_t *)(const void *)msn_an__map_val(m, e);
}
/** The entry indexes sorted by key bytes (shorter first on a common prefix), in the map's
 *  arena. */
uint32_t *msn_an__map_sorted(const an_map_t *m);
/** Byte-string order: memcmp, then the shorter first. */
int msn_an__bytes_cmp(const char *a, size_t an, const char *b, size_t bn);

/* ---- decoded_json --------------------------------------------------------------------- */

/* decoded_json is read with shm/jsonr.h's member table (msn_jsonr_obj_t): top-level members
 * only, and a malformed document yields no members, the way a failed json.Unmarshal leaves
 * an empty map. */

/* ---- per-job context: arena, observers, region, window, nodes -------------------------------- */

typedef struct {
    const msn_store_t *s;
    const msn_an_shape_t *shape;
    int64_t now_ms;
    msn_arena_t *arena;    /* the job's memory (see the top of this file) */
    int32_t *obs_by_rowid; /* rowid -> observer index, for rowids 0..n_rowid-1 */
    int64_t n_rowid;
    const char **codes; /* the shape's region codes: trimmed, upper-case, no "ALL", no empties */
    int n_codes;
    uint8_t *in_region; /* per observer index */
    int region_active;  /* a region was asked for and matched at least one observer */
    int region_asked;   /* a region with at least one code was asked for */
    uint32_t *node_by_key; /* node indexes sorted by public_key (strcmp), NULL keys left out */
    uint32_t n_node_by_key;
    msn_an_run_t *run; /* the process's shared indexes, or NULL (an_run.c) */
} an_ctx_t;

/** Prepares the job: its arena, observer lookup, region set (CoreScope semantics: codes
 *  are trimmed and upper-cased, "ALL" and empty codes are dropped; when no observer carries
 *  one of the codes the region filter is off, exactly like resolveRegionObservers returning
 *  nil), and the node index. */
void msn_an__ctx_init(an_ctx_t *c, const msn_store_t *s, const msn_an_shape_t *shape, int64_t now_ms);
/** Frees the job: its arena and everything in it. */
void msn_an__ctx_free(an_ctx_t *c);
/** A zeroed T in the job's arena. */
#define AN_NEW(c, T) ((T *)msn_arena_calloc((c)->arena, 1, sizeof(T)))
/** An empty scratch buffer owned by the job's arena (its memory is freed with the job). */
msn_buf_t *msn_an__buf(const an_ctx_t *c);
/** Observer index of an observation, or -1. */
int32_t msn_an__obs_observer(const an_ctx_t *c, const msn_obs_t *o);
/** The observer id of an observation ("" when it has no known observer, as in Go). */
const char *msn_an__obs_observer_id(const an_ctx_t *c, const msn_obs_t *o);
/** 1 when some observation of t was made by an observer of the region (always 1 when the
 *  region filter is off). */
int msn_an__tx_in_region(const an_ctx_t *c, const msn_tx_t *t);
/** 1 when code (any case, compared whole) is one of the shape's region codes. */
int msn_an__region_has(const an_ctx_t *c, const char *code);
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
/** 1 when role contains word (ASCII case-insensitive); 0 for a NULL role. */
int msn_an__role_has(const char *role, const char *word);
/** "" for NULL. */
static inline const char *msn_an__s(const char *s)
{
    return s ? s : "";
}

/* ---- path hops ---------------------------------------------------------------------------- */

typedef struct {
    const char *p; /* into the path_json text; NULL for a JSON null (treated as "") */
    uint32_t n;
} an_hop_t;

typedef struct {
    an_hop_t *h;
    size_t cap;
    int n;
    msn_arena_t *arena;
} an_hops_t;

/** An empty hop list growing in the job's arena. */
void msn_an__hops_init(an_hops_t *hops, const an_ctx_t *c);
/** Splits path_json into hops (no copies). A NULL, empty or malformed path gives 0 hops,
 *  as CoreScope's parsePathJSON does. Returns hops->n. */
int msn_an__hops_parse(an_hops_t *hops, const char *path_json);
/** The hops of tx's best observation (0 when it has none). */
int msn_an__tx_hops(an_hops_t *hops, const msn_store_t *s, const msn_tx_t *t);
/** A hop's text ("" for a JSON null). */
static inline const char *msn_an__hop_text(const an_hop_t *h)
{
    return h->p ? h->p : "";
}

/* ---- time ---------------------------------------------------------------------------------- */

/** Writes the 13-char hour bucket "YYYY-MM-DDTHH" (plus NUL) of unix seconds. */
void msn_an__hour_of_s(int64_t secs, char out[16]);
/** The hour bucket of a transmission: the first 13 bytes of first_seen, as CoreScope slices
 *  it. Returns the length written (13) or 0 when first_seen is shorter. */
size_t msn_an__hour_of_tx(const msn_tx_t *t, char out[16]);

/* ---- relay prefix map and hop resolution -------------------------------------------------- */

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

/** Builds (in the job's arena) the prefix map of nodes whose role contains "repeater" or
 *  "room_server" or is "room" (case-insensitive), as CoreScope's buildPrefixMap. */
void msn_an__pm_init(an_pm_t *pm, const an_ctx_t *c);
/** Relay candidates of a hop (any case): keys starting with it when it has 2..8 chars, the
 *  exact key when longer. Writes the range into relay[] to *first and *count; returns *count. */
uint32_t msn_an__pm_candidates(const an_pm_t *pm, const char *hop, size_t n, uint32_t *first, uint32_t *count);
/** The first relay candidate of a hop (the lowest key), or -1. */
int32_t msn_an__pm_first(const an_pm_t *pm, const char *hop, size_t n);
/** The single relay a hop prefix names (CoreScope pmLookup: lowercase, cut to 8 chars),
 *  or -1 when none or several. */
int32_t msn_an__pm_unique(const an_pm_t *pm, const char *hop, size_t n);
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
                     const an_hops_t *hops, msn_jsonr_obj_t *scratch_obj, msn_buf_t *scratch);

/* A resolver over one aggregate context (the transmissions an analytic reads, as
 * CoreScope's analytics resolve against the whole store): feed it every transmission,
 * finish it, then resolve hops; each distinct hop text is resolved once. */
typedef struct {
    const an_ctx_t *c;
    an_pm_t pm;
    an_rctx_t rc;
    an_map_t seen;  /* context keys (lowercase) */
    an_map_t cache; /* hop text -> int32_t node + 1 (0 = unresolved) */
    msn_jsonr_obj_t jo;
    msn_buf_t *scratch;
} an_resolver_t;

/** Prepares a resolver (and its prefix map) in the job's arena. */
void msn_an__resolver_init(an_resolver_t *r, const an_ctx_t *c);
/** Adds transmission t (whose hops are `hops`) to the context. */
void msn_an__resolver_add(an_resolver_t *r, const msn_tx_t *t, const an_hops_t *hops);
/** Ends the context; resolving may start. */
void msn_an__resolver_finish(an_resolver_t *r);
/** The node a hop resolves to (msn_an__pm_resolve with the aggregate context), or -1. */
int32_t msn_an__resolve(an_resolver_t *r, const char *hop, size_t n);

/* ---- ranking ------------------------------------------------------------------------------ */

/* An entry of a ranking by count (descending), then key bytes (msn_an__bytes_cmp). */
typedef struct {
    const char *key;
    uint32_t kn;
    uint32_t idx; /* the caller's entry */
    int64_t count;
} an_rank_t;

int msn_an__rank_cmp(const void *a, const void *b);
/** The entries of a counting map as a ranking (unsorted), in the map's arena. */
an_rank_t *msn_an__map_ranks(const an_map_t *m);

/* Top-N selection: keeps the k best of the elements pushed under cmp (a strict total
 * order, best first); the result is what sorting all of them and taking the first k
 * gives, without sorting them all. */
typedef struct {
    char *h; /* the kept elements: a heap with the worst on top until msn_an__topn_sort */
    size_t n, k, size;
    int (*cmp)(const void *, const void *);
    char *tmp;
} an_topn_t;

void msn_an__topn_init(an_topn_t *t, msn_arena_t *a, size_t k, size_t size, int (*cmp)(const void *, const void *));
void msn_an__topn_push(an_topn_t *t, const void *e);
/** Sorts the kept elements best first (in t->h) and returns their count. */
size_t msn_an__topn_sort(an_topn_t *t);
/** Moves the k best of base[0..n) (under cmp) to its front, sorted; returns min(n, k). The
 *  order of the rest is unspecified. */
size_t msn_an__top(msn_arena_t *a, void *base, size_t n, size_t size, size_t k,
                   int (*cmp)(const void *, const void *));

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
/** The same median of an array already sorted ascending (n > 0). */
double msn_an__median_sorted(const double *v, size_t n);
/** The upper median, sorted[n/2] (CoreScope's medianF), 0 for n == 0 (reorders v). */
double msn_an__upper_median(double *v, size_t n);
/** For a distribution given as counts per bucket (cnt[0..n), buckets in value order), the
 *  bucket holding the k-th value (0-based), or n when there are k values or fewer. */
size_t msn_an__kth_bucket(const int64_t *cnt, size_t n, int64_t k);
/** qsort that accepts an empty or NULL array. */
static inline void msn_an__qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (base != NULL && n > 1)
        qsort(base, n, size, cmp);
}

/* ---- JSON emission ------------------------------------------------------------------------- */

/* Commas come from the buffer itself: a member or element is the first of its container
 * when the byte before it is the container's '{' or '[' (a value never ends with one), so
 * every helper below writes the separator it needs. */

/** Appends s (may be NULL, emitted as "") as a JSON string. */
void msn_an__str(msn_buf_t *b, const char *s);
/** Appends s[0..n) as a JSON string (NULL p emitted as ""). */
void msn_an__strn(msn_buf_t *b, const char *p, size_t n);
/** A ',' unless at the start of a container. */
void msn_an__sep(msn_buf_t *b);
/** `"key":` with its separator (key: a plain ASCII literal). */
void msn_an__key(msn_buf_t *b, const char *key);
/** Opens an object or array ('{' or '['): as member `key` of the enclosing object, or as an
 *  element when key is NULL. */
void msn_an__open(msn_buf_t *b, const char *key, char bracket);
/** Members: integer, double (Go's format), string (NULL as ""), string slice, boolean, null. */
void msn_an__ki64(msn_buf_t *b, const char *key, int64_t v);
void msn_an__kdbl(msn_buf_t *b, const char *key, double v);
void msn_an__kstr(msn_buf_t *b, const char *key, const char *s);
void msn_an__kstrn(msn_buf_t *b, const char *key, const char *p, size_t n);
void msn_an__kbool(msn_buf_t *b, const char *key, int v);
void msn_an__knull(msn_buf_t *b, const char *key);
/** Member: the name or public key of node (an index into s->nodes), null when node < 0. */
void msn_an__kname(msn_buf_t *b, const char *key, const msn_store_t *s, int32_t node);
void msn_an__kpubkey(msn_buf_t *b, const char *key, const msn_store_t *s, int32_t node);
/** Member whose key is arbitrary text (escaped as a JSON string), before its value. */
void msn_an__kdyn(msn_buf_t *b, const char *p, size_t n);
/** Element: an integer. */
void msn_an__ei64(msn_buf_t *b, int64_t v);

/* ---- the run's shared indexes (an_run.c) ------------------------------------------------ */

/** The observations of observer index oi (into s->observers), newest first (timestamp,
 *  then id, descending), as indexes into s->obs: from the run, built once per process, or
 *  without a run in the job's arena. *n receives the count. */
const uint32_t *msn_an__observer_obs(const an_ctx_t *c, uint32_t oi, uint32_t *n);

/* The node keys a transmission's decoded_json names (pubKey, srcHash, destHash: strings,
 * non-empty), for observer-analytics' nodes timeline. */
typedef struct {
    const char *k[3];
    uint32_t n[3];
    int nk;
} an_txkeys_t;

/** The node keys of transmission ti (index into s->tx): cached in the run, else decoded
 *  into the job's arena. */
const an_txkeys_t *msn_an__tx_keys(const an_ctx_t *c, uint32_t ti);

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
int msn_an__relay_airtime_share(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__subpaths_bulk(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__subpath_detail(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__scope_stats(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__observer_analytics(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__observers_metrics_summary(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);
int msn_an__audio_lab(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen);

/* Per-node hash-size facts from the last 7 days of adverts (computeNodeHashSizeInfo),
 * shared by hash_sizes and hash_collisions. */
typedef struct {
    uint8_t has;          /* at least one qualifying advert */
    uint8_t hash_size;    /* size of the newest advert (1..4) */
    uint8_t sizes_mask;   /* bit k-1: size k seen */
    uint8_t inconsistent; /* flip-flopping */
} an_hsinfo_t;

/** The facts per node index (s->n_nodes entries, in the job's arena); advert keys that
 *  are not nodes are left out (callers only ask about nodes). */
an_hsinfo_t *msn_an__hsinfo(const an_ctx_t *c);

/* Per-node clock skew (the fleet view) shared by nodes_clock_skew and roles. */
typedef struct {
    const char *pubkey; /* the advert's pubKey (in the job's arena) */
    double mean, median, last, recent_median, drift, good_fraction;
    const char *severity;
    int64_t sample_count, last_advert_ts, last_observed_ts;
    int recent_bad_count, recent_count, calibrated;
    uint32_t bad_first, bad_n; /* recent bad samples in the shared array */
    int32_t node;              /* node index, -1 when not a known node */
    uint32_t series_first, series_n; /* its adverts in time order in an_skew_t.series */
} an_nodeskew_t;

/* One advert of a node's series: newest observation time, median corrected skew (0.1 s). */
typedef struct {
    int64_t ts;
    double skew;
} an_skewpt_t;

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
    size_t bad_cap;
    an_skewpt_t *series; /* every node's adverts (an_nodeskew_t.series_first/_n) */
    uint32_t n_series;
    size_t series_cap;
    /* observer calibration: per observer index (+1; slot 0 = observations without observer) */
    double *obs_offset;
    int64_t *obs_samples;
    uint8_t *obs_has;
    uint32_t n_obs_slots;
} an_skew_t;

/** Computes the observer calibration and the fleet clock skew (in the job's arena). */
an_skew_t *msn_an__skew_compute(const an_ctx_t *c);
/** Appends one node's skew object: the fleet entry (with nodeName/nodeRole), or with
 *  samples the per-node view (CoreScope's GetNodeClockSkew: its advert series as
 *  samples[{ts,skew}], no nodeName/nodeRole). */
void msn_an__render_node_skew(msn_buf_t *out, const msn_store_t *s, const an_skew_t *k, const an_nodeskew_t *ns,
                              int with_samples);
/** The skew entry of a public key (exact bytes), or NULL. */
const an_nodeskew_t *msn_an__skew_find(const an_skew_t *k, const char *pubkey, size_t n);

#endif
