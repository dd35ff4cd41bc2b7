/*
 * snapcover.h: whether the snapshot a previous run left in state_dir still shows the
 * database, so that a restart can serve it as its first fresh generation at once instead
 * of waiting for a rebuild (pubstep.c; the full load and publication still follow, for
 * the analytics, the polls and everything derived from the store).
 *
 * The snapshot covers the database when its meta record (snapshot.h) has this binary's
 * MSN_SNAP_FORMAT, names the same database file and schema kind (legacy or current), and
 * its max ids and row counts of transmissions and observations equal the database's
 * (max(id) and count(*)), and no backfill migration ran, or ended, at or after the time the
 * snapshot was last published (_async_migrations). What this cannot see: a row changed in
 * place while no master ran, which a running master does not pick up either until its next
 * full load; nodes and observers, which the full publication after the load rewrites.
 *
 * Master, publisher thread only.
 */
#ifndef MSN_SNAPCOVER_H
#define MSN_SNAPCOVER_H

#include <sqlite3.h>
#include <stddef.h>

#include "shm/snapshot.h"

/** Compares m (the current snapshot's meta) with the database db (read-only connection)
 *  at source_db. Returns 1 when the snapshot covers it; 0 when not, with why set to the
 *  first difference found; -1 on an SQLite error (err set). */
int msn_snapcover_check(sqlite3 *db, const char *source_db, const msn_snap_meta_t *m, char *why, size_t whylen);

#endif
