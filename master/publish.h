/*
 * publish.h: writing the in-memory store into LMDB snapshots (layout in shm/snapshot.h).
 *
 * msn_publish_full writes a complete new environment and makes it current;
 * msn_publish_incremental writes what changed since the last publication (new
 * transmissions and observations with their channel-message records, new observer
 * metrics rows, changed small documents: stats, observers and each observer's document,
 * nodes, the channel index) as one write transaction of the current environment. Both bump the generation; an incremental publication with
 * nothing to write does not.
 */
#ifndef MSN_PUBLISH_H
#define MSN_PUBLISH_H

#include <stdint.h>

#include "ansched.h"
#include "entdocs.h"
#include "famdocs.h"
#include "feedpub.h"
#include "shm/snapshot.h"
#include "store.h"

/* A full publication commits its new environment every this many records (transmissions
 * plus observations), without a sync, and syncs once at the end. */
#define MSN_PUBLISH_BATCH_RECORDS 200000u

typedef struct {
    char *state_dir;
    char *source_db;
    msn_snap_t snap;      /* the current environment, open read-write (env NULL before the first publish) */
    uint64_t gen;         /* last generation published (or found at start) */
    int64_t master_start_ms;
    uint32_t pub_tx, pub_obs; /* store sizes at the last publication */
    uint64_t nodes_hash, observers_hash, stats_hash, channels_hash;
    uint64_t frontend_hash;      /* of the frontend.* documents */
    msn_famdocs_t observer_docs; /* "observer/<id>" (/api/observers/:id) */
    int64_t last_published_ms;
    int64_t poll_interval_ms;  /* how soon the poll-driven documents may change (for expires_at) */
    msn_ansched_t *an;         /* analytics results written into every generation, or NULL */
    msn_entdocs_t *ent;        /* entity documents written as they arrive, carried over full
                                  rebuilds (entdocs.h), or NULL */
    msn_feedpub_t *feed;       /* the live feed's messages written with the rows, or NULL */
    /* msn_publish_resume: the previous run's snapshot is served as this run's until the
       store is loaded and a full publication replaces it (msn_publish_release) */
    int resumed;
} msn_publisher_t;

/** Initialises p; reads the generation of an existing current snapshot, if any, so new
 *  generations continue its numbering. */
void msn_publisher_init(msn_publisher_t *p, const char *state_dir, const char *source_db, int64_t master_start_ms);
/** Closes the environment and frees p's strings. */
void msn_publisher_free(msn_publisher_t *p);

/** Writes generation gen+1 as a new environment and points `current` at it.
 *  Returns 0, or -1 with err set (the previous snapshot stays current). */
int msn_publish_full(msn_publisher_t *p, msn_store_t *s, int64_t now_ms, char *err, size_t errlen);

/** Writes what changed since the last publication. *published is set to 1 when a new
 *  generation was committed. Returns 0, or -1 with err set (nothing is committed). */
int msn_publish_incremental(msn_publisher_t *p, msn_store_t *s, int64_t now_ms, int *published, char *err,
                            size_t errlen);

/** At start, before anything is loaded: makes the current snapshot (which the caller has
 *  checked covers the database: snapcover.h) this run's, by writing generation gen+1 of
 *  its meta record with this run's master start, so that workers serve it as fresh. m is
 *  its meta as read. Sets p->resumed. Returns 0, or -1 with err set (nothing changed but
 *  the snapshot may be open: a full publication follows as usual). */
int msn_publish_resume(msn_publisher_t *p, const msn_snap_meta_t *m, int64_t now_ms, char *err, size_t errlen);

/** After the first full load of a resumed run, before its full publication: closes the
 *  resumed snapshot, so that the full publication starts as at any start (a new
 *  environment; nothing carried over from the previous run's), while workers keep serving
 *  the resumed one until the new one is current. No-op when not resumed. */
void msn_publish_release(msn_publisher_t *p);

#endif
