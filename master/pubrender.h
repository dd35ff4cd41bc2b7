/*
 * pubrender.h: the full publication's render-ahead thread (master, publisher thread and
 * the one thread it starts here).
 *
 * A full publication visits every transmission in store order and, for each, writes its
 * `tx` record, its `cmsg` record (channel messages) and the `obs` records of its
 * observations, and gathers its packet-list entries (fxbulk.h). Rendering those records
 * needs no LMDB; this module does it on a second thread, a few blocks of transmissions
 * ahead of the publisher thread, which puts the rendered bytes into LMDB and gathers the
 * packet lists meanwhile (msn_pubrender_gather). Both then share the machine's cores.
 *
 * Thread ownership, between msn_pubrender_start and msn_pubrender_finish:
 *   - the store is read by both threads and written by neither, except the fields only the
 *     publisher thread writes and the renderer never reads (msn_tx_t dirty, latest_pub,
 *     chl_pub, chl_written: distinct memory locations);
 *   - the packet-list collector given to start is filled by the publisher thread
 *     (msn_pubrender_gather), then read by both after msn_pubrender_fx_begin; it is the
 *     caller's again once msn_pubrender_finish returned; the list-number memory and the
 *     counts of left-out entries are the publisher thread's;
 *   - blocks of rendered bytes are handed over through handoff.h: the render thread
 *     fills a free slot, the publisher thread reads it through msn_pubrender_next and gives
 *     it back when it asks for a transmission of the next block.
 * After the rows, the render thread sorts the hash index and the channel lists (chl) it
 * gathered with them, the publisher thread sorts the packet lists and hands them over
 * (msn_pubrender_fx_begin), and the render thread makes their entries (sealed,
 * shm/snaprec.h) chunk by chunk, a few chunks ahead of the publisher thread, which
 * appends them to LMDB (msn_pubrender_fx_next); fxb is read by both then and written by
 * neither.
 * When the thread cannot be started, the publisher thread does all this itself.
 *
 * Memory: at most MSN_PUBRENDER_SLOTS blocks of rendered records (a block ends after
 * about MSN_PUBRENDER_BLOCK_RECORDS records; all of them about 20 MB with records of 300
 * bytes), aborting on OOM (shm/buf.h policy).
 */
#ifndef MSN_PUBRENDER_H
#define MSN_PUBRENDER_H

#include <stddef.h>
#include <stdint.h>

#include "fxbulk.h"
#include "shm/snaprec.h"
#include "store.h"

/* Blocks rendered ahead: enough for the render thread to go on while the publisher thread
   commits a batch (MSN_PUBLISH_BATCH_RECORDS), which takes a while on a large database. */
#define MSN_PUBRENDER_SLOTS 32
#define MSN_PUBRENDER_BLOCK_RECORDS 2048u
#define MSN_PUBRENDER_FX_CHUNK 1024u /* packet-list entries per chunk */
#define MSN_PUBRENDER_FX_SLOTS 8

typedef struct msn_pubrender msn_pubrender_t;

/* One transmission's rendered records; the pointers stay valid until the next
   msn_pubrender_next or msn_pubrender_finish. */
typedef struct {
    const uint8_t *tx;
    size_t tx_len;
    int cmsg_kind; /* 0: not a channel message; 1: cmsg record below; -1: a channel message without one */
    const uint8_t *cmsg;
    size_t cmsg_len;
    uint32_t n_obs; /* = the transmission's n_obs, its observations in t->obs order */
    const uint8_t *obs_base;
    const uint32_t *obs_off; /* n_obs + 1 offsets from obs_base: record j is [off[j], off[j+1]) */
} msn_pubrender_tx_t;

/* Packet-list values the render thread could not make keys of (publish.h msn_pubskip_t
   list_keys), counted and logged by the render thread (the first ones one by one, then
   every 1000th, counting from `logged`). */
typedef struct {
    int64_t list_keys;
    int64_t logged;
} msn_pubrender_skip_t;

/** Starts rendering s's transmissions 0..n_tx-1 (s must not change until finish), adding
 *  their packet-list entries to fxb. logged: the log lines already written about skipped
 *  entries (for the throttling). Returns a handle (never NULL: aborts on OOM). */
msn_pubrender_t *msn_pubrender_start(const msn_store_t *s, msn_fxbulk_t *fxb, int64_t logged);

/** The rendered records of transmission i: i is 0 at the first call and one more at each
 *  next call. Blocks until they are ready. Publisher thread. */
void msn_pubrender_next(msn_pubrender_t *r, uint32_t i, msn_pubrender_tx_t *out);

/** Adds the packet-list entries of transmission i and of its observations (fxlists.h) to
 *  the collector given to start, remembering list numbers by value (the render thread
 *  renders; gathering the lists is the publisher thread's share of the rows). Once per
 *  transmission, in order, after msn_pubrender_next(r, i). Publisher thread. */
void msn_pubrender_gather(msn_pubrender_t *r, uint32_t i);

/** After the last transmission was gathered: sorts the packet lists (msn_fxbulk_sort) and
 *  hands them to the render thread, then waits until it sorted the hash index and the
 *  channel lists; from then on both threads only read fxb. Publisher thread. */
void msn_pubrender_fx_begin(msn_pubrender_t *r);

/* A transmission's entry of the hash index (shm/snapkey.h msn_snap_hash_key). */
typedef struct {
    uint64_t prefix;  /* the key's first 8 bytes, big-endian (0 past its end): orders most pairs */
    const char *hash; /* the transmission's hash text (the key is it in lowercase) */
    uint32_t len;
    uint32_t tx_ix;
} msn_pubrender_hash_t;

/** After msn_pubrender_fx_begin: the transmissions whose hash makes a key, in the order
 *  of their keys as LMDB orders them, equal keys by store index; *n receives the count.
 *  Sorted by the render thread after the rows (the full build writes the index in one
 *  appending pass instead of putting it at random places row by row). Valid until
 *  finish. Publisher thread. */
const msn_pubrender_hash_t *msn_pubrender_hashes(const msn_pubrender_t *r, uint32_t *n);

/* A chl entry (chanpub.h) of a channel message: key bytes [key_off, key_off + key_len) of
   the keys msn_pubrender_chls returns, and the 16-byte value. */
typedef struct {
    uint32_t key_off, key_len;
    uint8_t val[16];
} msn_pubrender_chl_t;

/** After msn_pubrender_fx_begin: the chl entries of every channel message (the same
 *  msn_chanpub_write_chl puts), gathered with the rows and sorted by key, then value, as
 *  LMDB orders them; *n receives the count, *keys the bytes their key_off point into.
 *  Valid until finish. Publisher thread. */
const msn_pubrender_chl_t *msn_pubrender_chls(const msn_pubrender_t *r, uint32_t *n, const uint8_t **keys);

/** After msn_pubrender_fx_begin: the next chunk of list entries, sealed under their list
 *  key, in the order the lists are in (msn_fxbulk_at) and each list's entries in chunks
 *  of at most MSN_PUBRENDER_FX_CHUNK: *recs (valid until the next call or finish)
 *  receives them, the count is returned. Only as many calls as there are chunks. Blocks
 *  until the chunk is made. Publisher thread. */
uint32_t msn_pubrender_fx_next(msn_pubrender_t *r, const msn_fx_rec_t **recs);

/** Stops the render thread (at once, when not every transmission or chunk was asked for),
 *  joins it and frees r; *skip receives what it left out. fxb is the caller's again,
 *  complete when every transmission was asked for. */
void msn_pubrender_finish(msn_pubrender_t *r, msn_pubrender_skip_t *skip);

#endif
