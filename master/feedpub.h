/*
 * feedpub.h: the live feed's messages, rendered by the master when it publishes the rows
 * they describe and written into the ring (shm/feed.h) in that publication's write
 * transaction. Workers send them as they are: each message is rendered once.
 *
 * What one publication sends (CoreScope's poller: cmd/server/websocket.go, store.go
 * IngestNewFromDB and IngestNewObservations), one message per new observation:
 *   1. transmissions new in this publication, by id; each one's observations newest
 *      first (timestamp descending, then id); observation_count is the transmission's
 *      count once the publication is done;
 *   2. then observations of transmissions published earlier ("late" observations), by
 *      id; observation_count is the count once that observation was added.
 * observation_count counts what the store holds, as /api/packets does. An observation
 * with the same observer id and path_json as an earlier one of its transmission sends
 * nothing (CoreScope's in-memory dedup). A transmission without observations sends
 * nothing until its first observation arrives.
 *
 * The message ({"type":"packet","data":{...}}, keys sorted as Go marshals maps):
 *   data: decoded {header {payloadTypeName}, path (TRACE only), payload (decoded_json
 *         parsed, absent when it is not an object)}, decoded_json, direction, first_seen,
 *         hash, id (the transmission's), observation_count, observer_id, observer_name,
 *         packet (the same flat fields without decoded and packet), path_json,
 *         payload_type, raw_hex, resolved_path (when the observation has one),
 *         route_type, rssi, snr, timestamp (the transmission's first_seen)
 * Empty strings are sent as null, like CoreScope's strOrNil.
 *
 * Publisher thread of the master only.
 */
#ifndef MSN_FEEDPUB_H
#define MSN_FEEDPUB_H

#include <stdint.h>

#include "shm/buf.h"
#include "shm/snapshot.h"
#include "store.h"

typedef struct {
    uint64_t run_id;       /* this master run (its start time, unix ms) */
    uint64_t next_seq;     /* the next message's number, from 1 */
    int ring_messages;     /* [websocket] ring_messages */
    int ring_seconds;      /* [websocket] ring_seconds */
    int64_t published_tx;  /* the largest ids of the rows whose messages were committed */
    int64_t published_obs; /* (-1 before the first publication of the run) */
    int reload;            /* the next full publication sends the rows above those ids */
    int64_t messages;      /* messages committed so far */
    int64_t skipped;       /* messages left out (more in one publication than the ring holds) */
    uint64_t saved_seq;    /* next_seq, messages and skipped when the publication began */
    int64_t saved_messages, saved_skipped;
    msn_buf_t body; /* scratch */
} msn_feedpub_t;

/** Initialises f for run run_id (no message yet; the first full publication sends none). */
void msn_feedpub_init(msn_feedpub_t *f, uint64_t run_id, int ring_messages, int ring_seconds);
/** Frees f's scratch buffer. */
void msn_feedpub_free(msn_feedpub_t *f);

/** Before a full publication: reload 0 for the first load of the run (it sends nothing),
 *  1 when it replaces a published store (its rows above the ones published so far are
 *  sent as new). */
void msn_feedpub_begin_full(msn_feedpub_t *f, int reload);
/** After a publication that called msn_feedpub_write or _write_full: committed 1 when
 *  its transaction was committed (s is the store it published), 0 when it was abandoned
 *  (the sequence numbers it took are given back). */
void msn_feedpub_end(msn_feedpub_t *f, const msn_store_t *s, int committed);

/** Renders the message of observation o of transmission t into b, with
 *  observation_count = count. */
void msn_feedpub_render(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t, const msn_obs_t *o,
                        uint32_t count);

/** Writes the messages of one publication into txn, whose rows new to the feed are
 *  s->tx[tx_from..] and s->obs[obs_from..] (see the top comment), then the run record,
 *  and prunes the ring. When there are more messages than ring_messages, only the newest
 *  ring_messages are written and the numbers of the others are skipped (logged).
 *  *wrote is set to 1 when a message was written. Returns 0 or an LMDB error code. */
int msn_feedpub_write(msn_feedpub_t *f, MDB_txn *txn, const msn_snap_t *snap, const msn_store_t *s,
                      uint32_t tx_from, uint32_t obs_from, int64_t now_ms, int *wrote);

/** For a full publication into the new environment `to`: copies the ring of the one it
 *  replaces (from, NULL when there is none), then writes the messages of the rows new to
 *  the feed (see msn_feedpub_begin_full). Returns 0 or an LMDB error code. */
int msn_feedpub_write_full(msn_feedpub_t *f, const msn_snap_t *from, MDB_txn *txn, const msn_snap_t *to,
                           const msn_store_t *s, int64_t now_ms);

#endif
