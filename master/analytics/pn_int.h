/*
 * pn_int.h: what the per-node document renderers share (private to master/analytics/pn_*.c).
 *
 * Memory: the run's shared state lives in its an_ctx_t arena (freed by msn_pernode_free);
 * each document call opens a scratch arena (pn_tmp) and frees it before returning.
 */
#ifndef MSN_PN_INT_H
#define MSN_PN_INT_H

#include "an_int.h"
#include "pernode.h"

/* One edge of the neighbour graph (pn_graph.c). Ends are interned strings (lowercase
 * public keys or observer ids); b is NULL for an unresolved prefix edge. */
typedef struct {
    const char *a, *b;
    const char *prefix;
    int64_t count, first_s, last_s, snr_n, modes[4];
    double snr_sum;
    uint32_t *obs; /* observer slots (indexes into the graph's observer table) */
    uint32_t n_obs, cap_obs;
    const char **cands; /* ambiguous edges: the candidates (lowercase keys) */
    uint32_t n_cands;
    uint8_t ambiguous, dead; /* dead: merged into another edge */
} pn_edge_t;

typedef struct {
    pn_edge_t *e;
    size_t n, cap;
    an_map_t keys;    /* "a|b" -> edge index + 1 (int64_t) */
    an_map_t ends;    /* end string -> pn_end_t (its edge list) */
    an_map_t obs;     /* lowercase observer id -> slot */
    const char **obs_iata; /* per slot (NULL when none) */
    int64_t rejected_geo_far;
    struct pn_end *ends_lists; /* per end (the ends map's index): its edges */
    size_t n_ends_lists;
} pn_graph_t;

/* The edges of one end (indexes into pn_graph_t.e; merged edges stay, marked dead). */
typedef struct pn_end {
    uint32_t *e;
    uint32_t n, cap;
} pn_end_t;

/* The reach index (pn_reach.c): per node key id, the observations whose path carries one
 * of its reliable tokens. */
typedef struct {
    uint32_t **obs; /* per key id (NULL when none) */
    uint32_t *n_obs, *cap_obs;
    uint32_t n_keys;
    int64_t *deg;        /* per graph end: its resolved edges */
    int64_t *deg_sorted; /* the non-zero degrees, descending */
    size_t n_deg_sorted;
} pn_reach_t;

struct msn_pernode {
    an_ctx_t c; /* run-wide: arena, observers, node lookup */
    const msn_store_t *s;
    const msn_nodeidx_t *x;
    int full;
    char today[32]; /* "YYYY-MM-DDT00:00:00Z" of now (UTC) */
    an_pm_t pm;
    an_hsinfo_t *hs;
    an_skew_t *skew;
    pn_graph_t *g;     /* full runs */
    pn_reach_t *reach; /* full runs */
    msn_arena_t *tmp;  /* the current call's scratch arena */
};

/* pn_run.c */
/** Opens the per-call scratch arena (closing a previous one). */
msn_arena_t *msn_pn__tmp(msn_pernode_t *p);
/** Frees the per-call scratch arena. */
void msn_pn__tmp_done(msn_pernode_t *p);
/** The node row index of key id `key`, or -1. */
int32_t msn_pn__node(const msn_pernode_t *p, uint32_t key);
/** The best observation of t, or NULL. */
static inline const msn_obs_t *msn_pn__best(const msn_store_t *s, const msn_tx_t *t)
{
    return t->best >= 0 ? &s->obs[t->best] : NULL;
}
/** The observer row of an observation, or NULL. */
const msn_observer_t *msn_pn__observer(const msn_pernode_t *p, const msn_obs_t *o);
/** Appends the base node map of node row `node` (CoreScope's scanNodeRow). */
void msn_pn__base(const msn_pernode_t *p, int32_t node, msn_buf_t *out);
/** strcmp with NULL as "". */
int msn_pn__strcmp0(const char *a, const char *b);
/** Appends `"key":` then the string, or null for NULL/"" when empty_null (Go's strOrNil). */
void msn_pn__kstr_or_null(msn_buf_t *b, const char *key, const char *s, int empty_null);
/** Appends `"key":` then v, or null when !has. */
void msn_pn__kdbl_or_null(msn_buf_t *b, const char *key, int has, double v);
/** Per-observer sums (health, bulk-health, analytics' coverage). */
typedef struct {
    int32_t obs;    /* observer row index */
    const char *id; /* its id */
    int64_t count, snr_n, rssi_n;
    double snr_sum, rssi_sum;
    const char *first, *last; /* first_seen strings (analytics) */
} pn_obsstat_t;
/** The per-observer sums of the best observations of txs[0..n) (those with an observer
 *  id), sorted by count descending then observer id; *n_out receives their count. In the
 *  call's scratch arena. */
pn_obsstat_t *msn_pn__obsstats(msn_pernode_t *p, const uint32_t *txs, uint32_t n, uint32_t *n_out);

/* pn_graph.c */
pn_graph_t *msn_pn__graph_build(msn_pernode_t *p);
/** The end entry of a lowercase key, or NULL. */
const pn_end_t *msn_pn__graph_end(const pn_graph_t *g, const char *key, size_t n);
/** Score of an edge at now (CoreScope NeighborEdge.Score). */
double msn_pn__edge_score(const pn_edge_t *e, int64_t now_ms);

/* pn_reach.c */
pn_reach_t *msn_pn__reach_build(msn_pernode_t *p);

#endif
