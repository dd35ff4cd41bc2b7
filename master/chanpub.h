/*
 * chanpub.h: the channel-message records of a snapshot (`chl` and `cmsg`, layout in
 * shm/snapshot.h), kept by the publisher as it writes each new or changed transmission.
 */
#ifndef MSN_CHANPUB_H
#define MSN_CHANPUB_H

#include <lmdb.h>

#include "shm/buf.h"
#include "shm/snapshot.h"
#include "store.h"

#define MSN_CHANPUB_MAX_REGIONS 64 /* distinct regions of one message's observers that get an entry */

/** The regions (render_channels.h msn_observer_region) of the observers that heard t, each
 *  once and at most MSN_CHANPUB_MAX_REGIONS of them, in the order first heard: t's chl
 *  entries are under its channel with "" and with each of them. Returns the count. Reads
 *  s only (any thread, while s does not change). */
int msn_chanpub_regions(const msn_store_t *s, const msn_tx_t *t, char regions[][16]);

/** Writes channel message t's entries: moves its chl entries (every message, and each
 *  region that heard it) to its current newest observation second, and rewrites its cmsg
 *  record (or deletes it when the message has none). Does nothing for other transmissions.
 *  Updates t->chl_pub / t->chl_written. scratch and sb are the caller's buffers. Returns an
 *  LMDB error code. Publisher thread only. */
int msn_chanpub_write(MDB_txn *txn, const msn_snap_t *snap, const msn_store_t *s, msn_tx_t *t, msn_buf_t *scratch,
                      msgpack_sbuffer *sb);

/** The first half of msn_chanpub_write: the chl entries of channel message t (and
 *  t->chl_pub / t->chl_written); nothing for other transmissions. Returns an LMDB error
 *  code. Publisher thread only. */
int msn_chanpub_write_chl(MDB_txn *txn, const msn_snap_t *snap, const msn_store_t *s, msn_tx_t *t);

/** The second half: puts t's cmsg record rec (len bytes, rendered as msn_chanpub_write
 *  renders it), or deletes it when rec is NULL. Returns an LMDB error code. Publisher
 *  thread only. */
int msn_chanpub_put_cmsg(MDB_txn *txn, const msn_snap_t *snap, const msn_tx_t *t, const void *rec, size_t len);

#endif
