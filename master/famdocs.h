/*
 * famdocs.h: a family of entity documents ("<family>/<id>" in the snapshot's doc
 * database, shm/snapkey.h), kept incrementally by the publisher: each publication renders
 * the family's current documents and hands them to the set, which writes only those whose
 * body changed since the last publication and deletes those of entities that are gone.
 *
 * A round: msn_famdocs_begin, msn_famdocs_put for every entity, msn_famdocs_end (inside
 * one write transaction). After a publication into a new environment (a full rebuild),
 * msn_famdocs_reset makes the next round write everything. When the transaction of a round
 * is aborted, the set no longer matches the snapshot: reset it (the publisher rebuilds
 * then anyway).
 *
 * Publisher thread only; the set owns its names.
 */
#ifndef MSN_FAMDOCS_H
#define MSN_FAMDOCS_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/snapshot.h"

typedef struct {
    char *name;      /* the full document name */
    uint64_t hash;   /* of the body last written */
    uint32_t round;  /* the last round that put it */
} msn_famdoc_t;

typedef struct {
    const char *family; /* not owned: a string constant */
    msn_famdoc_t *ents;
    uint32_t n, cap;
    uint32_t *ht; /* open addressing: entry index + 1, 0 = empty */
    uint32_t ht_cap;
    uint32_t round;
    uint32_t written, deleted; /* by the last round */
} msn_famdocs_t;

void msn_famdocs_init(msn_famdocs_t *d, const char *family);
void msn_famdocs_free(msn_famdocs_t *d);
/** Forgets what was written: the next round writes every document. */
void msn_famdocs_reset(msn_famdocs_t *d);
/** Starts a round. */
void msn_famdocs_begin(msn_famdocs_t *d);
/** The body of entity id[0..len): written (with its gzip copy when large, and expires_at)
 *  unless identical to the last one written. An id that names no document
 *  (msn_snap_famdoc_name) is skipped. Returns an LMDB error code; *wrote is set when
 *  something was written. */
int msn_famdocs_put(msn_famdocs_t *d, MDB_txn *txn, const msn_snap_t *snap, const char *id, size_t len,
                    const void *body, size_t blen, uint64_t gen, int64_t now_ms, int64_t expires_ms, int *wrote);
/** Ends the round: deletes the documents of entities not put in it. Returns an LMDB error
 *  code; *wrote is set when something was deleted. */
int msn_famdocs_end(msn_famdocs_t *d, MDB_txn *txn, const msn_snap_t *snap, int *wrote);

#endif
