/*
 * feed.h: the live packet feed, a ring of pre-rendered WebSocket messages in the LMDB
 * snapshot (named database "feed", MSN_DBI_FEED; layout in snapshot.h).
 *
 * The master renders one message per new observation when it publishes the generation
 * holding it, and writes the messages in that generation's write transaction: a worker
 * that sees the generation sees its messages, never one without the other. Each worker
 * tails the ring and sends every message to its WebSocket clients; it renders nothing.
 *
 * Keys and values:
 *   8 zero bytes     the run record: msgpack [run_id] (the master's start time in unix
 *                    ms): which master run numbered the messages
 *   seq(8), seq >= 1 one message: msgpack [at_ms, body(bin)]; body is the JSON text
 *                    {"type":"packet","data":{...}}, at_ms when it was published
 * Sequence numbers start at 1 in each master run and grow by one per message, also
 * across the full rebuilds of that run (msn_feed_copy carries the ring into the new
 * environment). A number may be skipped (the master writes only the newest ring_messages
 * of one publication): a reader that finds a gap knows messages are missing. The ring is
 * pruned in the same transaction to its newest ring_messages entries, and to those
 * published less than ring_seconds ago.
 *
 * Functions return 0, MDB_NOTFOUND where said, another LMDB error code, or a (negative)
 * MSN_SNAPREC_E* code for a value that does not decode. Any process, inside a
 * transaction of its own (writes: the master's publisher thread only).
 */
#ifndef MSN_FEED_H
#define MSN_FEED_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/** One message read from the ring; body points into the map (valid until the read
 *  transaction ends), not NUL-terminated. */
typedef struct {
    uint64_t seq;
    int64_t at_ms;
    const char *body;
    size_t len;
} msn_feed_msg_t;

/** Writes the run record. */
int msn_feed_set_run(MDB_txn *txn, const msn_snap_t *s, uint64_t run_id);
/** Reads the run record; MDB_NOTFOUND when the ring has none (nothing published yet). */
int msn_feed_get_run(MDB_txn *txn, const msn_snap_t *s, uint64_t *run_id);

/** Appends message seq (greater than every seq in the ring). */
int msn_feed_put(MDB_txn *txn, const msn_snap_t *s, uint64_t seq, int64_t at_ms, const void *body,
                 size_t len);

/** Deletes the oldest messages while more than keep remain, and every message published
 *  before min_at_ms. *removed (may be NULL) receives the count. */
int msn_feed_prune(MDB_txn *txn, const msn_snap_t *s, size_t keep, int64_t min_at_ms, size_t *removed);

/** The newest seq in the ring; MDB_NOTFOUND when it holds no message. */
int msn_feed_last(MDB_txn *txn, const msn_snap_t *s, uint64_t *seq);

/** Copies the run record and every message of from's ring into to's (empty) ring. */
int msn_feed_copy(MDB_txn *from, const msn_snap_t *fs, MDB_txn *to, const msn_snap_t *ts);

/** Positions cur (a cursor on s->dbi[MSN_DBI_FEED]) at the first message whose seq is at
 *  least from_seq and reads it into m; MDB_NOTFOUND when there is none. */
int msn_feed_seek(MDB_cursor *cur, uint64_t from_seq, msn_feed_msg_t *m);
/** Reads the message after the cursor's into m; MDB_NOTFOUND at the end. */
int msn_feed_next(MDB_cursor *cur, msn_feed_msg_t *m);

#endif
