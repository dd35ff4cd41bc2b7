/*
 * pernode.h: the per-node documents (shm/entdoc.h), computed from the store and the node
 * index (master/nodeidx.h) in the analytics computing process, never on a request.
 *
 * A run (msn_pernode_new) prepares what every node's documents share: the node and
 * observer lookups, the relay prefix map, the nodes' hash-size facts, the fleet clock skew,
 * and for a full run the neighbour graph (built from every observation, as CoreScope's
 * BuildFromStore does) and the reach index. Then each msn_pernode_* call renders one
 * document of one node (a store key id) into a buffer that it resets first. Each call
 * works in an arena of its own, freed before it returns.
 *
 * The rules are CoreScope's (cmd/server: store.go GetNodeHealth, GetBulkHealth,
 * GetNodeAnalytics, routes.go handleNodePaths and handleNodeDetail, node_reach.go,
 * neighbor_graph.go, clock_skew.go); each file says where it departs from them. JSON key
 * order is Go's: maps sorted by key, structs in field order. Where Go leaves an order to
 * map iteration (observer rows with equal counts, packet types, heatmap cells), the
 * order here is fixed (by id, type, day then hour) so that an unchanged node renders
 * unchanged bytes.
 *
 * "now" is the run's now_ms: time windows (days=N, packetsToday, relay counts) are judged
 * against it, so documents are rendered again on [analytics] node_documents_s even when
 * nothing new arrived.
 */
#ifndef MSN_PERNODE_H
#define MSN_PERNODE_H

#include <msgpack.h>
#include <stdint.h>

#include "master/nodeidx.h"
#include "master/store.h"
#include "shm/buf.h"

typedef struct msn_pernode msn_pernode_t;

/** Prepares a run over store s and index x at now_ms; full also builds the neighbour
 *  graph and the reach index (needed by reach, neighbors and graph). The store and the
 *  index must not change while the run exists. */
msn_pernode_t *msn_pernode_new(const msn_store_t *s, const msn_nodeidx_t *x, int64_t now_ms, int full);
/** Frees the run. */
void msn_pernode_free(msn_pernode_t *p);

/* Each renders one document of node `key` (a store key id) into out, which it resets, and
 * returns 1; or returns 0 when the node has no such document (the endpoint answers 404, or
 * the worker answers without it). */

/** /api/nodes/{pubkey}/health. No document for a key that is neither a nodes row nor the
 *  key of any transmission. */
int msn_pernode_health(msn_pernode_t *p, uint32_t key, msn_buf_t *out);
/** The `bulk` document (msgpack, entdoc.h). Nodes rows only. */
int msn_pernode_bulk(msn_pernode_t *p, uint32_t key, msgpack_sbuffer *out);
/** The node object of /api/nodes/{pubkey} with hash-size, relay and advert enrichment.
 *  Nodes rows only. */
int msn_pernode_detail(msn_pernode_t *p, uint32_t key, msn_buf_t *out);
/** /api/nodes/{pubkey}/paths. Nodes rows only. */
int msn_pernode_paths(msn_pernode_t *p, uint32_t key, msn_buf_t *out);
/** /api/nodes/{pubkey}/analytics?days=N (days 1..365). Nodes rows only. */
int msn_pernode_analytics(msn_pernode_t *p, uint32_t key, int days, msn_buf_t *out);
/** /api/nodes/{pubkey}/clock-skew. No document for a node without advert clock samples. */
int msn_pernode_clock_skew(msn_pernode_t *p, uint32_t key, msn_buf_t *out);
/** /api/nodes/{pubkey}/reach?days=N (days 1..30). Full runs only; no document for a key
 *  that is neither a node nor an observer. */
int msn_pernode_reach(msn_pernode_t *p, uint32_t key, int days, msn_buf_t *out);
/** The `neighbors` document (msgpack, entdoc.h). Full runs only; no document for a node
 *  without edges. */
int msn_pernode_neighbors(msn_pernode_t *p, uint32_t key, msgpack_sbuffer *out);
/** The neighbour-graph document (msgpack, entdoc.h). Full runs only (else returns 0). */
int msn_pernode_graph(msn_pernode_t *p, msgpack_sbuffer *out);

/** The relay document (msgpack, entdoc.h MSN_RLYF_*). */
void msn_pernode_relays(msn_pernode_t *p, msgpack_sbuffer *out);

/** 1 when key is a row of the nodes table. */
int msn_pernode_is_node(const msn_pernode_t *p, uint32_t key);

#endif
