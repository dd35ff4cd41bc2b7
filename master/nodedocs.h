/*
 * nodedocs.h: the node entity kind of the entity documents (entdocs.h, shm/entdoc.h):
 * which nodes' documents are rendered when, and the battery samples.
 *
 * The node index (nodeidx.h) lives here and follows the store: rebuilt after a full load
 * (msn_nodedocs_loaded), extended after each poll (msn_nodedocs_polled), which also
 * notices the node rows whose content changed. A node is "changed" when its transmissions,
 * their observations or its nodes row changed.
 *
 * Runs (planned by the entity-document runner):
 *   full     every node (a nodes row, or a key with transmissions), every document, plus
 *            the neighbour graph: after each full load, then every [analytics]
 *            node_documents_s (0 = default_interval_s). Time windows move on without new
 *            packets, so this is what keeps days=N documents true.
 *   changes  the changed nodes (at most 4096 per run), at most every [analytics]
 *            node_changes_s: health, bulk, detail, paths, analytics.1, analytics.7 and
 *            clock-skew. The longer windows (analytics.30, .365, reach) and neighbours
 *            wait for the next full run (a new packet moves them by a fraction of a
 *            percent), except for a node that has no documents yet, which gets them all
 *            (the run then builds the neighbour graph and the reach index too).
 * Either way the runner rewrites only documents whose bytes changed.
 *
 * Battery (observer_metrics): the publisher thread reads new rows by rowid at each poll
 * (observer_metrics may be large: the first pass after a load goes back 366 days, in
 * chunks of MSN_NODEDOCS_BATTERY_CHUNK rows per poll) and renders the day documents of
 * the (observer, day) pairs they touched from their rows in SQLite, queued with
 * msn_entdocs_inject. No SQLite access happens anywhere else.
 *
 * Publisher thread only (the computing process reads its forked copy in compute).
 */
#ifndef MSN_NODEDOCS_H
#define MSN_NODEDOCS_H

#include <sqlite3.h>
#include <stdint.h>

#include "entdocs.h"
#include "nodeidx.h"
#include "shm/config.h"
#include "store.h"

#define MSN_NODEDOCS_CHANGES_MAX 4096     /* nodes in one changes run */
#define MSN_NODEDOCS_BATTERY_CHUNK 20000  /* observer_metrics rows read per poll */
#define MSN_NODEDOCS_BATTERY_DAYS_MAX 400 /* (observer, day) documents rendered per poll */

typedef struct {
    const msn_config_t *cfg; /* not owned */
    msn_entdocs_t *ent;      /* not owned: where battery documents are queued */
    msn_nodeidx_t idx;
    uint64_t *row_hash;      /* per key id: hash of its nodes row as last seen (0 = none) */
    uint32_t n_row_hash;
    uint8_t *pending;        /* per key id: changed, not yet planned */
    uint32_t n_pending_cap;
    msn_u32vec_t pending_list;
    /* the run being computed */
    int run_full;
    msn_u32vec_t run_keys;
    int64_t next_full_ms, next_changes_ms;
    int loaded;
    /* battery */
    int64_t bat_rowid;          /* observer_metrics rows up to this rowid were read */
    int bat_ready;              /* the table exists with the needed columns */
    char **bat_queue;            /* "observer_id\tYYYY-MM-DD" pairs to render */
    uint32_t n_bat_queue, cap_bat_queue;
} msn_nodedocs_t;

/** Initialises nd (nothing loaded). cfg and ent must outlive it. */
void msn_nodedocs_init(msn_nodedocs_t *nd, const msn_config_t *cfg, msn_entdocs_t *ent);
/** Frees everything nd owns. */
void msn_nodedocs_free(msn_nodedocs_t *nd);
/** The entity kind to register with the runner (its context is nd, which must not move). */
msn_entkind_t msn_nodedocs_kind(msn_nodedocs_t *nd);

/** After a full load into s (a new store): rebuilds the index; a full run is due now; the
 *  battery documents are read again from the start of their window. */
void msn_nodedocs_loaded(msn_nodedocs_t *nd, msn_store_t *s, int64_t now_ms);
/** After a poll into s (before its publication): indexes the new rows, marks the nodes
 *  whose data changed, reads new battery rows from db and queues their day documents.
 *  Errors reading db are logged; the next poll retries. */
void msn_nodedocs_polled(msn_nodedocs_t *nd, msn_store_t *s, sqlite3 *db, int64_t now_ms);

#endif
