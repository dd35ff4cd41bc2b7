/*
 * migration_effects.h: what a backfill migration changes in the database, as a bitmask.
 *
 * The backfiller declares the bits with each migration (backfiller/migrations.c) and
 * publishes them with the migration's status (msn_migration_status_t.effects in the
 * status block). The master decides from these bits, never from a migration's name, what
 * a migration means for the data it serves (master/pubstep.c):
 *
 *   bit                              changes                            the master
 *   MSN_MIG_AFFECTS_SCHEMA           tables, columns, indexes, views    reloads when it finished
 *   MSN_MIG_AFFECTS_OBS_ROWS         observation rows merged/deleted    reloads when it finished
 *   MSN_MIG_AFFECTS_LAST_SEEN        transmissions.last_seen            reloads when it finished
 *   MSN_MIG_AFFECTS_PATH_JSON        observations.path_json             reloads when it finished
 *   MSN_MIG_AFFECTS_RESOLVED_PATH    observations.resolved_path,        reloads when it finished; while
 *                                    in observation id order: rows up   it runs, takes in the rows up to
 *                                    to the status' cursor are final    the cursor at a bounded cadence
 *
 * "Reloads when it finished": once a migration with any bit of MSN_MIG_AFFECTS_STORE is
 * done, changed rows, and ended after the master's last full load, the master loads
 * everything again (when no other migration runs) and publishes a full generation. A
 * migration that declares no bit causes no reload.
 */
#ifndef MSN_MIGRATION_EFFECTS_H
#define MSN_MIGRATION_EFFECTS_H

#define MSN_MIG_AFFECTS_SCHEMA (1u << 0)
#define MSN_MIG_AFFECTS_OBS_ROWS (1u << 1)
#define MSN_MIG_AFFECTS_LAST_SEEN (1u << 2)
#define MSN_MIG_AFFECTS_PATH_JSON (1u << 3)
#define MSN_MIG_AFFECTS_RESOLVED_PATH (1u << 4)

/* What the master's in-memory store holds: any of these makes a finished migration reload it. */
#define MSN_MIG_AFFECTS_STORE                                                                                \
    (MSN_MIG_AFFECTS_SCHEMA | MSN_MIG_AFFECTS_OBS_ROWS | MSN_MIG_AFFECTS_LAST_SEEN |                         \
     MSN_MIG_AFFECTS_PATH_JSON | MSN_MIG_AFFECTS_RESOLVED_PATH)

#endif
