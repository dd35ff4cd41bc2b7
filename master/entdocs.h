/*
 * entdocs.h: entity documents (shm/entdoc.h: per node, per observer, ...) computed off the
 * publisher thread and published incrementally.
 *
 * Entity kinds plug in with three functions (msn_entkind_t):
 *   plan     publisher thread: decides whether a run is due and records what it covers
 *            (which entities, which documents) in the kind's own context;
 *   compute  the computing process: renders the planned documents and emits each with
 *            msn_entdoc_emit (or msn_entdoc_emit_delete);
 *   finish   publisher thread, once the run is over: ok says whether every document
 *            arrived (else the kind plans its entities again).
 * One run at a time, the kinds in turn. A run is a forked copy-on-write child of the
 * master (like the analytics computing process, anrun.h: it keeps the store and the
 * kinds' contexts as they were at the fork, closes every descriptor but its pipe, lowers
 * its priority, never touches SQLite or LMDB, and ends with _exit), titled
 * "meshsnapd: documents" in ps. The publisher thread owns it (child.h): it alone reaps it,
 * and kills it on msn_entdocs_reset or free.
 *
 * Only changes travel: every published document's 64-bit body hash is kept by name; the
 * child, which inherits that table, skips a document whose body hashes the same, so a
 * full refresh of every entity costs writes only for what changed. Documents are gzipped
 * in the child (bodies of 1 KiB or more) and arrive through the pipe; the publisher thread
 * reads at most MSN_ENTDOCS_PENDING_MAX bytes ahead of what it has written (the child then
 * waits on the full pipe), and writes what arrived into the next publication's
 * transaction (msn_entdocs_write), which msn_entdocs_tick asks for.
 *
 * Full rebuilds: msn_entdocs_write with full set first copies every "ent/" document of
 * the previous environment into the new one, so entity documents never vanish while they
 * are recomputed; when that copy is impossible (no previous environment in this format),
 * the hash table is emptied and every document is written again as it is computed.
 *
 * Record format on the pipe (native endianness, same machine):
 *   u32 name_len, u32 body_len, u32 gz_len, u32 flags (1 delete, 2 end of run),
 *   u64 body hash, name[name_len], body[body_len], gz[gz_len]
 * The end record carries the compute function's return code in body_len (0 = ok).
 */
#ifndef MSN_ENTDOCS_H
#define MSN_ENTDOCS_H

#include <lmdb.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/buf.h"
#include "shm/snapshot.h"
#include "store.h"

#define MSN_ENTDOCS_MAX_KINDS 4
#define MSN_ENTDOCS_PENDING_MAX (64u << 20) /* bytes read from the child but not written yet */

/** Where the computing process emits documents (opaque). */
typedef struct msn_entdoc_out msn_entdoc_out_t;

/** Computing process: emits document `name` (shm/entdoc.h) with body[0..len); skipped when
 *  its body hashes as the published one. compress: store a gzip copy (bodies of 1 KiB or
 *  more). Returns 0, or -1 when the pipe broke (compute should stop and return -1). */
int msn_entdoc_emit(msn_entdoc_out_t *o, const char *name, const void *body, size_t len, int compress);
/** Computing process: emits the removal of document `name` (nothing when it is not
 *  published). Returns as msn_entdoc_emit. */
int msn_entdoc_emit_delete(msn_entdoc_out_t *o, const char *name);
/** Computing process: 1 when document `name` was published when the run started. */
int msn_entdoc_published(const msn_entdoc_out_t *o, const char *name);

typedef struct {
    const char *name; /* the kind, for logs ("node") */
    /** Publisher thread: returns 1 when a run is due now (having recorded what it covers),
     *  else 0. May read and update s (e.g. intern keys). */
    int (*plan)(void *kctx, msn_store_t *s, int64_t now_ms);
    /** Computing process: emits the planned documents. Returns 0, or -1 (logged). */
    int (*compute)(void *kctx, const msn_store_t *s, int64_t now_ms, msn_entdoc_out_t *out);
    /** Publisher thread: the run ended; ok = 1 when every document arrived. */
    void (*finish)(void *kctx, int ok, int64_t now_ms);
    /** Publisher thread: 1 when the planned run deserves an info line when it ends (a
     *  full pass), 0 for debug level. May be NULL (debug). */
    int (*loud)(void *kctx);
    void *kctx;
} msn_entkind_t;

/* A published document's hash, by name (open addressing). */
typedef struct {
    char *name; /* owned; NULL = empty slot */
    uint64_t hash;
} msn_enthash_t;

typedef struct {
    msn_entkind_t kinds[MSN_ENTDOCS_MAX_KINDS];
    int n_kinds;
    int next_kind;
    /* the run */
    pid_t pid;       /* 0 = none */
    int fd;
    int kind;        /* the running kind */
    int64_t started_ms, now_ms;
    int reaped, status, got_end, end_rc;
    msn_buf_t in;     /* bytes read from the pipe: complete records first */
    size_t parsed;    /* complete records: in.data[0..parsed) */
    int64_t first_pending_ms; /* when the oldest unwritten record arrived (0 = none) */
    /* published hashes */
    msn_enthash_t *ht;
    uint32_t ht_cap, ht_n;
    int forget_at_commit; /* a full write could not carry the documents over */
    /* figures (publisher thread), for the log and the benchmarks */
    int64_t runs, docs_written, bytes_written, write_ms_total;
    int64_t run_docs, run_bytes; /* of the run in progress */
    int64_t run_write_ms;        /* publisher time spent writing them so far */
    int64_t last_run_ms;         /* wall time of the last finished run */
} msn_entdocs_t;

/** Initialises e with no kinds. */
void msn_entdocs_init(msn_entdocs_t *e);
/** Adds a kind (copied); at most MSN_ENTDOCS_MAX_KINDS. */
void msn_entdocs_add_kind(msn_entdocs_t *e, const msn_entkind_t *k);
/** Kills a running child, frees everything. */
void msn_entdocs_free(msn_entdocs_t *e);
/** Kills a running child and drops what it sent but was not written (after a full load,
 *  whose new store makes them stale); the kind's finish is told the run failed. */
void msn_entdocs_reset(msn_entdocs_t *e, int64_t now_ms);

/** Publisher thread, often (it is cheap when idle): reads what the running child sent,
 *  ends a finished run, starts the next due one. Returns 1 when documents wait to be
 *  written (a publication should follow), else 0. */
int msn_entdocs_tick(msn_entdocs_t *e, msn_store_t *s, int64_t now_ms);

/** Publisher thread, inside a publication's write transaction: with full, first copies
 *  every entity document of prev (the environment being replaced; NULL when none is open,
 *  then the current one on disk is opened read-only) into snap; then writes every
 *  complete record received. *wrote is set when anything was written. Returns an LMDB
 *  error code (nothing of e changes until msn_entdocs_committed). */
int msn_entdocs_write(msn_entdocs_t *e, MDB_txn *txn, const msn_snap_t *snap, const msn_snap_t *prev,
                      const char *state_dir, uint64_t gen, int64_t now_ms, int full, int *wrote);
/** The transaction of the last msn_entdocs_write committed: its records are published
 *  (their hashes recorded, their bytes released). */
void msn_entdocs_committed(msn_entdocs_t *e);

/** Publisher thread: queues document `name` (body copied, no gzip copy) for the next
 *  msn_entdocs_write, as if a run had emitted it: for documents the publisher thread
 *  renders itself from SQLite (a node's battery samples). Skipped when its body hashes as
 *  the published one. Returns 1 when queued, 0 when unchanged or the name is invalid. */
int msn_entdocs_inject(msn_entdocs_t *e, const char *name, const void *body, size_t len, int64_t now_ms);

/** The published hash of document `name`, or 0 when it is not published. */
uint64_t msn_entdocs_hash(const msn_entdocs_t *e, const char *name);

#endif
