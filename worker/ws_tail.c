/*
 * ws_tail.c: a worker follows the feed ring (shm/feed.h) and broadcasts what is new.
 *
 * State: the master run whose numbers it follows (the ring's run record) and the next
 * sequence number it expects. On its first look it starts after the newest message (no
 * backlog); when the run changes (a new master) it starts at message 1 of the new run.
 * It reads the ring only when the status block shows a new generation or environment,
 * and at least once a second. A burst is sent in chunks, one per loop iteration, and
 * paced: a message waits while a client lacks room for it in its queue (msn_ws__room:
 * each client may hold the feed back for a bounded time in all). With no client it only
 * moves its position.
 */
#include <inttypes.h>

#include "shm/feed.h"
#include "shm/log.h"
#include "ws_int.h"

/* Publication to queueing, in the worker's histogram (both clocks are the wall clock). */
static void record_lag(msn_ws_hub_t *h, int64_t at_ms)
{
    int64_t lag = msn_now_ms() - at_ms;
    if (lag < 0)
        lag = 0;
    int b = 0;
    while (b < MSN_WS_LAG_BUCKETS - 1 && lag >= (int64_t)1 << b)
        b++;
    atomic_fetch_add_explicit(&h->stat->lag_buckets[b], 1, memory_order_relaxed);
    if ((uint64_t)lag > atomic_load_explicit(&h->stat->lag_max_ms, memory_order_relaxed))
        atomic_store_explicit(&h->stat->lag_max_ms, (uint64_t)lag, memory_order_relaxed);
}

void msn_ws__tail(msn_ws_hub_t *h, int64_t now_ms)
{
    msn_master_status_t ms;
    msn_status_read_master(h->st, &ms);
    uint64_t env = atomic_load(&h->st->env_seq);
    if (!h->more && ms.published_gen == h->seen_gen && env == h->seen_env && now_ms - h->last_look_ms < 1000)
        return;
    h->more = 0;
    if (msn_snapview_begin(h->view) != 0)
        return; /* no snapshot yet: look again at the next tick */
    h->seen_gen = ms.published_gen;
    h->seen_env = env;
    h->last_look_ms = now_ms;
    MDB_txn *txn = h->view->txn;
    const msn_snap_t *snap = &h->view->snap;
    uint64_t run, last = 0;
    MDB_cursor *cur = NULL;
    if (msn_feed_get_run(txn, snap, &run) != 0)
        goto out; /* nothing published into this snapshot's feed yet */
    int rc = msn_feed_last(txn, snap, &last);
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto out;
    if (!h->have_run || run != h->run_id) {
        if (h->have_run) {
            msn_info("live feed: a new master run; following its feed from its first message");
            msn_ws__restart_numbers(h);
        }
        h->next_seq = h->have_run ? 1 : last + 1;
        h->have_run = 1;
        h->run_id = run;
    }
    if (last < h->next_seq)
        goto out;
    if (h->n_clients == 0 || h->stopping) {
        h->next_seq = last + 1;
        goto out;
    }
    if (mdb_cursor_open(txn, snap->dbi[MSN_DBI_FEED], &cur) != 0)
        goto out;
    msn_feed_msg_t m;
    rc = msn_feed_seek(cur, h->next_seq, &m);
    if (rc == 0 && m.seq > h->next_seq) {
        uint64_t missed = m.seq - h->next_seq;
        msn_warn("live feed: %" PRIu64 " message(s) from %" PRIu64
                 " are no longer in the ring (this worker fell "
                 "behind, or the master left them out of a large publication); skipping ahead",
                 missed, h->next_seq);
        atomic_fetch_add_explicit(&h->stat->feed_skipped, missed, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->stat->feed_gaps, 1, memory_order_relaxed);
    }
    for (int n = 0; rc == 0; n++) {
        if (n == MSN_WS_TAIL_CHUNK || !msn_ws__room(h, m.len, msn_ws__now_ms())) {
            h->more = 1;
            goto out;
        }
        msn_ws__broadcast(h, m.seq, m.body, m.len);
        record_lag(h, m.at_ms);
        h->next_seq = m.seq + 1;
        rc = msn_feed_next(cur, &m);
    }
    if (rc != MDB_NOTFOUND) {
        msn_warn("live feed: cannot read message %" PRIu64 " of the ring (%d); skipping to the newest",
                 h->next_seq, rc);
        h->next_seq = last + 1;
    }
out:
    if (cur)
        mdb_cursor_close(cur);
    msn_snapview_end(h->view);
    msn_ws__flush_all(h);
}

uint64_t msn_ws__ring_last(msn_ws_hub_t *h)
{
    uint64_t run, last = 0;
    if (msn_snapview_begin(h->view) != 0)
        return 0;
    /* a ring of another run than the one followed: its numbers mean nothing here yet */
    if (msn_feed_get_run(h->view->txn, &h->view->snap, &run) != 0 || (h->have_run && run != h->run_id) ||
        msn_feed_last(h->view->txn, &h->view->snap, &last) != 0)
        last = 0;
    msn_snapview_end(h->view);
    return last;
}
