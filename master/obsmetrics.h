/*
 * obsmetrics.h: the master's copy of CoreScope's observer_metrics table (per-observer
 * radio health samples: noise floor, battery, cumulative airtime and packet counters).
 *
 * The ingestor writes one row per observer and sample interval with INSERT OR REPLACE on
 * (observer_id, timestamp): a replaced row gets a new rowid. So the table is read in full
 * at load and then polled by rowid; a polled row replaces the one with the same observer
 * and timestamp. Rows a prune deleted stay until the next full load.
 *
 * Rows are kept per observer (series sorted by observer id), each series sorted by time.
 * Rows whose timestamp does not parse are skipped (counted). Rows changed since the last
 * publication are flagged (dirty, with their series) so that the publisher writes only
 * those into the snapshot's `om` records. The analytics child reads the series (metrics summary).
 *
 * Strings live in the set's arena. Publisher thread only (and the analytics child, reading
 * its copy-on-write copy).
 */
#ifndef MSN_OBSMETRICS_H
#define MSN_OBSMETRICS_H

#include <sqlite3.h>
#include <stdint.h>

#include "shm/snaprec.h"

typedef struct msn_arena msn_arena_t;

typedef struct {
    int64_t ts_ms;
    const char *ts; /* as stored */
    double noise_floor;
    uint8_t has_noise_floor;
    uint8_t dirty; /* changed since the last publication */
    uint8_t has[MSN_OM_INTS];
    int64_t v[MSN_OM_INTS]; /* snaprec.h MSN_OM_* order */
} msn_omrow_t;

typedef struct {
    const char *observer_id;
    msn_omrow_t *rows; /* sorted by ts_ms */
    uint32_t n, cap;
    uint8_t dirty; /* some row is */
} msn_omseries_t;

typedef struct {
    int present;             /* the table exists */
    msn_omseries_t *series;  /* sorted by observer_id (strcmp) */
    uint32_t n_series, cap_series;
    int64_t max_rowid;
    int64_t n_rows;
    int64_t skipped; /* rows with an unreadable timestamp */
    int dirty;       /* some series is: rows changed since msn_obsmetrics_published */
    msn_arena_t *arena;
} msn_obsmetrics_t;

/** An empty set. */
void msn_obsmetrics_init(msn_obsmetrics_t *m);
/** Frees everything m owns. */
void msn_obsmetrics_free(msn_obsmetrics_t *m);

/** Reads rows with a rowid above the last one read (everything on the first call), at most
 *  max_rows, and upserts them; every row read is flagged dirty. A database without the
 *  table reads nothing. *n_read receives the count (may be NULL). Returns 0, or -1 with err
 *  set. */
int msn_obsmetrics_poll(msn_obsmetrics_t *m, sqlite3 *db, int max_rows, int *n_read, char *err, size_t errlen);

/** The series of observer id, or NULL. */
const msn_omseries_t *msn_obsmetrics_find(const msn_obsmetrics_t *m, const char *id);

/** The index of the first row of series at or after ts_ms. */
uint32_t msn_obsmetrics_lower_bound(const msn_omseries_t *s, int64_t ts_ms);

/** Clears the dirty flags (the publisher wrote those rows). */
void msn_obsmetrics_published(msn_obsmetrics_t *m);

/** The snapshot record of a row (pointers into the row). */
void msn_obsmetrics_record(const msn_omrow_t *r, msn_snaprec_om_t *out);

#endif
