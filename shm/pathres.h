/*
 * pathres.h: the conservative hop resolver of data-model spec §4.2 (CoreScope's ingestor
 * rule): a hop prefix resolves to a node only when exactly one node key starts with it,
 * or, when several do, when exactly one of them (not already on the path) is a
 * neighbour-graph neighbour of the previous resolved hop. Otherwise the hop is null:
 * never guess. Used by the importer and the generator at insert time and by the
 * resolved_path backfill.
 *
 * Build once (nodes of all roles, neighbor_edges), then resolve any number of paths;
 * a built resolver is read-only and may be shared by threads.
 */
#ifndef MSN_PATHRES_H
#define MSN_PATHRES_H

#include <sqlite3.h>
#include <stddef.h>

#include "buf.h"

typedef struct msn_pathres msn_pathres_t;

/** Creates an empty resolver. */
msn_pathres_t *msn_pathres_new(void);
/** Adds a node key (64 hex chars, any case; stored lowercase). Duplicates are ignored. */
void msn_pathres_add_node(msn_pathres_t *pr, const char *pubkey);
/** Adds an undirected neighbour edge (self-loops and empty ends are ignored). */
void msn_pathres_add_edge(msn_pathres_t *pr, const char *a, const char *b);
/** Builds the lookup indexes; call after the last add and before resolving. */
void msn_pathres_finish(msn_pathres_t *pr);
/** Adds every node of `nodes` and every edge of `neighbor_edges` (when the table exists),
 *  then finishes. Returns 0, or -1 with err set. */
int msn_pathres_load_sqlite(msn_pathres_t *pr, sqlite3 *db, char *err, size_t errlen);
/** Resolves n hops (hex prefixes of 2..16 chars, any case). from_pubkey is the
 *  originator (ADVERTs) or NULL/"". out[i] receives a pointer to the resolved 64-char
 *  lowercase key (owned by the resolver) or NULL. Returns the number resolved.
 *  Hops of a length other than 2, 4, 6, 8, 12 or 16 chars, and NULL hops, have no
 *  candidate. A resolver that was not finished (or was added to since) resolves nothing.
 *  Allocates nothing unless n > 256. */
int msn_pathres_resolve(const msn_pathres_t *pr, const char *from_pubkey, const char *const *hops, int n,
                        const char **out);
/** Appends the resolved_path JSON (an array of keys or null, one per hop) for out[0..n),
 *  or appends nothing and returns 0 when no hop resolved (CoreScope stores NULL then).
 *  Returns 1 when something was appended. */
int msn_pathres_render(const char *const *out, int n, msn_buf_t *b);
/** Resolves a stored path_json text (a JSON array of hop strings; `null` elements count
 *  as hops with no candidate) and appends its resolved_path JSON to b as
 *  msn_pathres_render does. Returns 1 when something was appended, 0 when the path is
 *  empty or no hop resolved (the column stays NULL), -1 when path_json is NULL or not
 *  such an array (nothing appended). */
int msn_pathres_resolve_json(const msn_pathres_t *pr, const char *from_pubkey, const char *path_json,
                             size_t len, msn_buf_t *b);
/** Number of distinct node keys added, and of distinct undirected edges (after finish). */
size_t msn_pathres_node_count(const msn_pathres_t *pr);
size_t msn_pathres_edge_count(const msn_pathres_t *pr);
/** Frees the resolver (NULL is fine). */
void msn_pathres_free(msn_pathres_t *pr);

#endif
