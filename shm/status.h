/*
 * status.h: the shared status block, a small file (state_dir/status) that every process
 * maps MAP_SHARED. It is how the roles see each other without touching SQLite:
 *
 *   section     written by    read by
 *   master      master        workers (load status header, /api/healthz), meshsnap status
 *   backfill    backfiller    workers (backfill headers, healthz), master (republish), CLI
 *   workers[i]  worker i      master, /api/perf, meshsnap status
 *
 * Each section has one writer and is guarded by a sequence lock: the writer makes the
 * sequence odd, writes, makes it even; a reader copies the section and retries while the
 * sequence was odd or changed. Readers never block the writer and never see a torn copy.
 *
 * The master creates (and resets) the file at start; the others open it after exec.
 * Layout changes bump MSN_STATUS_VERSION; a mismatch is refused at open.
 */
#ifndef MSN_STATUS_H
#define MSN_STATUS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MSN_STATUS_MAGIC 0x3154534e534d5355ull /* "USMSNST1" */
#define MSN_STATUS_VERSION 1
#define MSN_STATUS_MAX_WORKERS 64
#define MSN_STATUS_MAX_MIGRATIONS 8

enum { MSN_PHASE_STARTING = 0, MSN_PHASE_LOADING, MSN_PHASE_READY, MSN_PHASE_STOPPING };

/* Migration status values, as the API names them. */
enum { MSN_MIG_UNKNOWN = 0, MSN_MIG_RUNNING, MSN_MIG_DONE, MSN_MIG_FAILED };

typedef struct {
    char name[48];
    int32_t status;          /* MSN_MIG_* */
    int32_t _pad;
    int64_t started_at;      /* unix ms, 0 = unset */
    int64_t ended_at;        /* unix ms, 0 = unset */
    int64_t last_update_at;  /* unix ms, 0 = unset */
    int64_t rows_processed;
    int64_t rows_total;
    char error[256];
} msn_migration_status_t;

typedef struct {
    int32_t pid;
    int32_t phase;              /* MSN_PHASE_* */
    int64_t started_at_ms;
    int64_t load_progress_tx;   /* transmissions loaded so far in the current load */
    int64_t loaded_tx, loaded_obs, loaded_nodes, loaded_observers;
    int64_t published_gen;      /* last generation published by this master run (0 = none yet) */
    int64_t published_at_ms;
    int64_t last_poll_at_ms;
    char status_text[160];      /* what the master is doing, for people */
} msn_master_status_t;

typedef struct {
    int32_t pid;
    int32_t n_migrations;
    int64_t remaining;          /* rows left over all running migrations */
    int64_t finished_count;     /* bumped each time a migration finishes (done or failed) */
    int64_t last_progress_ms;
    msn_migration_status_t mig[MSN_STATUS_MAX_MIGRATIONS];
} msn_backfill_status_t;

typedef struct {
    _Atomic int32_t pid;        /* 0 = slot free */
    _Atomic int32_t slot_gen;   /* bumped on each (re)spawn of this slot */
    _Atomic uint64_t requests;
    _Atomic uint64_t env_seq_seen;
    _Atomic int32_t ready;      /* 1 once the worker accepts on its listeners */
    _Atomic int32_t _pad;
} msn_worker_status_t;

typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t size;
    /* bumped by the master each time `current` points at a new snapshot environment;
       workers reopen their environment when it differs from theirs */
    _Atomic uint64_t env_seq;
    _Atomic uint64_t master_seq;
    msn_master_status_t master;
    _Atomic uint64_t backfill_seq;
    msn_backfill_status_t backfill;
    msn_worker_status_t workers[MSN_STATUS_MAX_WORKERS];
} msn_status_t;

/** Master: creates or resets state_dir/status and maps it. Returns 0, or -errno. */
int msn_status_create(const char *state_dir, msn_status_t **out);
/** Other processes: maps an existing block read-write. Returns 0, -ENOENT when there is
 *  none, -EPROTO on a magic/version/size mismatch, or another -errno. */
int msn_status_open(const char *state_dir, msn_status_t **out);
/** Unmaps the block. */
void msn_status_close(msn_status_t *st);

/** Sequence-lock writes of one section: begin makes seq odd, end makes it even again.
 *  Only the section's single writer calls them. */
void msn_status_write_begin(_Atomic uint64_t *seq);
void msn_status_write_end(_Atomic uint64_t *seq);

/** Copies a consistent master / backfill section. */
void msn_status_read_master(const msn_status_t *st, msn_master_status_t *out);
void msn_status_read_backfill(const msn_status_t *st, msn_backfill_status_t *out);

/** Backfiller: sets (adds or replaces by name) one migration entry and recomputes
 *  `remaining` over the running ones. Bumps finished_count when m->status is DONE/FAILED
 *  and the stored entry was not. */
void msn_status_set_migration(msn_status_t *st, const msn_migration_status_t *m);

/** Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t msn_now_ms(void);

#endif
