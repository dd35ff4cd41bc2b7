/*
 * publish.h: writing the in-memory store into LMDB snapshots (layout in shm/snapshot.h).
 *
 * msn_publish_full writes a complete new environment and makes it current: the rows
 * (transmissions, observations) appended in key order, then the observation-id index and
 * the packet lists, each in key order (the lists gathered in memory meanwhile,
 * fxbulk.h), so that LMDB appends instead of inserting at random places;
 * msn_publish_incremental writes what changed since the last publication (new
 * transmissions and observations with their channel-message records, new observer
 * metrics rows, changed small documents: stats, observers and each observer's document,
 * nodes, the channel index) as one write transaction of the current environment. Both bump the generation; an incremental publication with
 * nothing to write does not.
 *
 * Keys built from row data (content hashes, public keys, observer ids, IATA codes, channel
 * hashes) that no key can hold (empty, too long, not hex where hex is required) are never
 * written: the row stays served where it needs no such key, the missing index entry is
 * counted (msn_pubskip_t) and logged, and the publication goes on. A last guard refuses
 * any key LMDB cannot store (empty or longer than mdb_env_get_maxkeysize) the same way, so
 * that no row can make a publication fail with MDB_BAD_VALSIZE.
 */
#ifndef MSN_PUBLISH_H
#define MSN_PUBLISH_H

#include <stdatomic.h>
#include <stdint.h>

#include "ansched.h"
#include "entdocs.h"
#include "famdocs.h"
#include "feedpub.h"
#include "shm/snapshot.h"
#include "store.h"

/* Index entries left out of the current environment because their row gives no valid key
   (counted per environment: a full publication starts again from 0). */
typedef struct {
    int64_t tx_hash;   /* transmissions not findable by content hash */
    int64_t nodes;     /* nodes not findable by public key (as of the last rewrite of the node table) */
    int64_t list_keys; /* packet-list entries left out (a value too long for a list key) */
    int64_t refused;   /* keys refused by the last guard (empty or beyond LMDB's maximum) */
    int64_t logged;    /* log lines written about them (the first ones one by one) */
} msn_pubskip_t;

/** Logs (warning) the n-th left-out entry of a publication, counting from 1, when n is
 *  among the first 20 or a multiple of 1000 after them; the 20th says that further ones
 *  are logged every 1000th. Any thread (the caller owns its counter). */
void msn_pubskip_log(int64_t n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A full publication commits its new environment every this many records (transmissions
 * plus observations; the index passes after them count several small entries as one
 * record), without a sync, and syncs once at the end. */
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
    msn_pubskip_t skip;        /* of the current environment */
    const atomic_int *stop;    /* when set non-zero, a full publication gives up (may be NULL) */
    /* msn_publish_resume: the previous run's snapshot is served as this run's until the
       store is loaded and a full publication replaces it (msn_publish_release) */
    int resumed;
    uint32_t batch_records; /* a full publication's batch (0: MSN_PUBLISH_BATCH_RECORDS; tests
                               set a small one so that every pass spans transactions) */
} msn_publisher_t;

/** Initialises p; reads the generation of an existing current snapshot, if any, so new
 *  generations continue its numbering. */
void msn_publisher_init(msn_publisher_t *p, const char *state_dir, const char *source_db, int64_t master_start_ms);
/** Closes the environment and frees p's strings. */
void msn_publisher_free(msn_publisher_t *p);

/** Writes generation gen+1 as a new environment and points `current` at it.
 *  Returns 0; -2 when *p->stop became non-zero meanwhile (checked every 1024
 *  transmissions, then at each batch of the index passes: nothing is made current, every
 *  transmission stays dirty); or -1 with err set (the previous snapshot stays current).
 *  Memory: besides LMDB's dirty pages, the packet lists gathered until they are written
 *  (4 bytes per list entry, fxbulk.h). */
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
