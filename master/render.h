/*
 * render.h: what the master writes into a snapshot, rendered once at publish time:
 * JSON fragments for packet-list rows and nodes, msgpack records for observations, and
 * whole response bodies (stats, observers). Key order follows CoreScope's Go server:
 * maps sorted alphabetically, typed structs in field order (API spec §0.3).
 */
#ifndef MSN_RENDER_H
#define MSN_RENDER_H

#include <msgpack.h>
#include <stdint.h>

#include "shm/buf.h"
#include "store.h"

/** The packet-list object of one transmission (API spec §3.4), from its best observation. */
void msn_render_tx_fragment(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t);
/** The groupByHash row of one transmission (API spec §3.4). */
void msn_render_tx_grouped(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t);
/** The `tx` record (snapshot.h) of one transmission, including its fragment. */
void msn_render_tx_record(msgpack_sbuffer *sb, const msn_store_t *s, const msn_tx_t *t, msn_buf_t *scratch);
/** The `obs` record (snapshot.h) of one observation. */
void msn_render_obs_record(msgpack_sbuffer *sb, const msn_store_t *s, const msn_tx_t *t, const msn_obs_t *o);
/** The `/api/nodes` object of one node. */
void msn_render_node_fragment(msn_buf_t *b, const msn_node_t *n);
/** The node as CoreScope's row lookups return it (its scanNodeRow: no hash-size
 *  enrichment, hash_size null; default_scope only when the column exists). */
void msn_render_node_base(msn_buf_t *b, const msn_node_t *n, int has_default_scope);
/** The `orow` record of one observer. */
void msn_render_observer_row(msgpack_sbuffer *sb, const msn_observer_t *o);
/** The /api/observers body without its closing `,"server_time":"..."}` (the worker adds it). */
void msn_render_observers_prefix(msn_buf_t *b, const msn_store_t *s);
/** The /api/packets body of the newest `limit` transmissions (offset 0, by id descending). */
void msn_render_packets_page(msn_buf_t *b, const msn_store_t *s, int limit);
/** The /api/stats body at now_ms. */
void msn_render_stats(msn_buf_t *b, const msn_store_t *s, int64_t now_ms);
/** The node index the workers filter and page /api/nodes with (snaprec.h: msn_snaprec_nidx_encode). */
void msn_render_nodes_index(msgpack_sbuffer *sb, const msn_store_t *s);

#endif
