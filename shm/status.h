/*
 * status.h: the shared status block, a small file (state_dir/status) that every process
 * maps MAP_SHARED. It is how the roles see each other without touching SQLite:
 *
 *   section     written by    read by
 *   master      master        workers (load status header, /api/healthz), meshsnap status
 *   backfill    backfiller    workers (backfill headers, healthz), master (republish), CLI
 *   workers[i]  worker i      master, /api/perf, meshsnap status
 *   ingest      ingestor      workers (/api/mqtt/status, healthz, /metrics), meshsnap status
 *               (its `restarts` is written by the master, only while no ingestor runs)
 *
 * Each section is guarded by a sequence lock: a writer makes the sequence odd, writes,
 * makes it even; a reader copies the section and retries while the sequence was odd or
 * changed. Readers never block a writer and never see a torn copy. A section may have
 * writers in two threads or processes (the master's supervisor and publisher threads
 * both count into master; the master writes ingest while no ingestor runs): a writer
 * takes the odd sequence only from an even one, so writes never overlap. A reader or
 * writer that finds the sequence odd yields the CPU while it waits: the writer it waits
 * for may have been preempted on the same CPU, at a lower priority (shm/sched.h). Once
 * one write has stayed open for MSN_STATUS_READER_WAIT_MS, a reader takes the section as
 * it is (its writer died mid-write, or is kept off the CPU): a request never stalls long
 * on a writer.
 *
 * The master creates (and resets) the file at start; the others open it after exec.
 * Layout changes bump MSN_STATUS_VERSION; a mismatch is refused at open.
 */
#ifndef MSN_STATUS_H
#define MSN_STATUS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "route.h"

#define MSN_STATUS_MAGIC 0x3154534e534d5355ull /* "USMSNST1" */
#define MSN_STATUS_VERSION 5
#define MSN_STATUS_MAX_WORKERS 64
#define MSN_STATUS_WRITER_WAIT_MS 1000 /* a writer waits this long for another, then takes over */
#define MSN_STATUS_READER_SPINS 64  /* a reader spins this often on an odd sequence, then yields */
#define MSN_STATUS_READER_WAIT_MS 20 /* and once one write stayed open this long, takes the section as it is */
#define MSN_STATUS_MAX_MIGRATIONS 8
#define MSN_PERF_ENDPOINTS 128 /* request-statistics slots: one per route (shm/route.h) + "other" */
#define MSN_PERF_BUCKETS 96 /* latency bucket i holds [2^(i/4), 2^((i+1)/4)) microseconds */
#define MSN_PERF_SLOW 16
#define MSN_PERF_SLOW_MS 100
#define MSN_AN_SLOTS 24
#define MSN_SHAPE_RING 256

enum { MSN_PHASE_STARTING = 0, MSN_PHASE_LOADING, MSN_PHASE_READY, MSN_PHASE_STOPPING };

/* The database file as the master last saw it (msn_master_status_t.db_state). */
enum { MSN_DB_UNKNOWN = 0, MSN_DB_OK, MSN_DB_MISSING, MSN_DB_REPLACED };

/* The verification of an earlier run's snapshot at start (msn_master_status_t.snap_verify). */
enum { MSN_VERIFY_NONE = 0, MSN_VERIFY_RUNNING, MSN_VERIFY_PASSED, MSN_VERIFY_FAILED };

/* Migration status values, as the API names them. */
enum { MSN_MIG_UNKNOWN = 0, MSN_MIG_RUNNING, MSN_MIG_DONE, MSN_MIG_FAILED };

typedef struct {
    char name[48];
    int32_t status;          /* MSN_MIG_* */
    uint32_t effects;        /* MSN_MIG_AFFECTS_* (shm/migration_effects.h): what it changes */
    int64_t started_at;      /* unix ms, 0 = unset */
    int64_t ended_at;        /* unix ms, 0 = unset */
    int64_t last_update_at;  /* unix ms, 0 = unset */
    int64_t rows_processed;
    int64_t rows_total;
    int64_t cursor;          /* the last row id the migration finished (0 = unknown); rows up to it are final */
    int64_t rows_skipped;    /* rows it could not process, left unchanged (in _meshsnap_skipped) */
    char error[256];
} msn_migration_status_t;

typedef struct {
    int64_t last_compute_ms;    /* duration of the last computation */
    int64_t last_published_at;  /* unix ms of the last successful publication, 0 = never */
    int64_t computes, failures;
    char last_error[120];       /* empty when the last computation succeeded */
} msn_analytic_status_t;

typedef struct {
    int32_t pid;
    int32_t phase;              /* MSN_PHASE_* */
    int64_t started_at_ms;
    int64_t load_progress_tx;   /* transmissions loaded so far in the current load */
    int64_t loaded_tx, loaded_obs, loaded_nodes, loaded_observers;
    int64_t published_gen;      /* last generation published by this master run (0 = none yet) */
    int64_t published_at_ms;
    int64_t last_poll_at_ms;
    int64_t worker_restarts;    /* workers respawned after dying */
    int64_t reloads;
    int64_t last_full_load_ms;  /* duration of the last full load + publication */
    int64_t feed_messages;      /* live-feed messages rendered into the ring by this master run */
    int64_t feed_skipped;       /* ... and left out of it (a publication with more than the ring holds) */
    int64_t shapes_on_demand;   /* on-demand analytics shapes kept now (at most [analytics] max_shapes) */
    int64_t shapes_evicted;     /* on-demand shapes dropped to stay within max_shapes */
    char status_text[160];      /* what the master is doing, for people */
    msn_analytic_status_t an[MSN_AN_SLOTS];
    /* rows and index entries not served (master/store.h, master/publish.h), as of the
       last load, poll or publication */
    int64_t rows_corrupt;       /* rows served with empty values or without a bad column */
    int64_t obs_orphaned;       /* observations whose transmission does not exist */
    int64_t obs_waiting;        /* observations waiting for their transmission to be committed */
    int64_t ids_nonpositive;    /* transmissions and observations with an id <= 0 */
    int64_t index_skipped;      /* index entries left out (no valid key from the row) */
    /* the database file at the configured path */
    int32_t db_state;           /* MSN_DB_* */
    int64_t db_changes;         /* times the file was found replaced or missing */
    int64_t db_changed_at_ms;   /* the last time */
    /* damaged snapshots */
    int32_t snap_verify;        /* MSN_VERIFY_*: the earlier run's snapshot, checked at start */
    int64_t snap_set_aside;     /* damaged snapshots this run renamed and replaced */
    char snap_set_aside_last[96]; /* the name the last one was given in state_dir */
} msn_master_status_t;

typedef struct {
    int32_t pid;
    int32_t n_migrations;
    int64_t remaining;          /* rows left over all running migrations */
    int64_t finished_count;     /* bumped each time a migration finishes (done or failed) */
    int64_t last_progress_ms;
    msn_migration_status_t mig[MSN_STATUS_MAX_MIGRATIONS];
} msn_backfill_status_t;

/* Request statistics of one endpoint in one worker slot. Counters only grow, also across
 * respawns of the slot's worker, so sums over slots stay right. */
typedef struct {
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
    _Atomic uint64_t max_us;
    _Atomic uint64_t bytes;
    _Atomic uint64_t status[6]; /* by class: [1]=1xx ... [5]=5xx, [0]=other */
    _Atomic uint64_t buckets[MSN_PERF_BUCKETS];
} msn_perf_endpoint_t;

typedef struct {
    char path[112];
    int64_t at_ms;
    int32_t ms_x10; /* duration in tenths of a millisecond */
    int32_t status;
} msn_perf_slow_t;

#define MSN_WS_LAG_BUCKETS 16

/* The live feed of one worker slot (worker/ws.c). Counters only grow, also across
 * respawns of the slot's worker; clients and queued_bytes are the running worker's. */
typedef struct {
    _Atomic int32_t clients;         /* WebSocket clients connected now */
    _Atomic uint64_t queued_bytes;   /* message bytes held for clients that have not read them yet */
    _Atomic uint64_t accepted;       /* upgrades accepted */
    _Atomic uint64_t refused;        /* upgrades refused (origin, handshake, max_clients, stopping) */
    _Atomic uint64_t messages;       /* messages sent, counted once per client */
    _Atomic uint64_t bytes;          /* message frame bytes queued for clients, counted per client */
    _Atomic uint64_t dropped_slow;   /* clients dropped: queue bound exceeded or a write stalled */
    _Atomic uint64_t dropped_pong;   /* clients dropped: no pong within pong_timeout_s */
    _Atomic uint64_t closed_frame;   /* clients closed for a bad or oversized frame */
    _Atomic uint64_t feed_skipped;   /* ring messages this worker never sent: it fell behind the ring */
    _Atomic uint64_t feed_gaps;      /* times it found such a gap */
    /* from the master's publication of a message to its worker queueing it for its clients,
       bucket i counting delays below 2^i ms (the last one the rest) */
    _Atomic uint64_t lag_buckets[MSN_WS_LAG_BUCKETS];
    _Atomic uint64_t lag_max_ms;
} msn_ws_status_t;

typedef struct {
    _Atomic int32_t pid;        /* 0 = slot free */
    _Atomic int32_t slot_gen;   /* bumped on each (re)spawn of this slot */
    _Atomic uint64_t requests;
    _Atomic uint64_t env_seq_seen;
    _Atomic int32_t ready;      /* 1 once the worker accepts on its listeners */
    _Atomic int32_t connections;
    _Atomic uint64_t accepted;
    /* resource bounds (worker/conns.h, worker/respond.h) */
    _Atomic uint64_t buffered_bytes;  /* response bytes held for clients now */
    _Atomic uint64_t buffered_peak;   /* the most ever held at once */
    _Atomic uint64_t shed_idle;       /* idle connections closed to make room */
    _Atomic uint64_t write_timeouts;  /* connections closed because their response did not progress */
    _Atomic uint64_t accept_pauses;   /* accepting paused: out of descriptors */
    _Atomic uint64_t busy_refusals;   /* 503 answers: response buffers full */
    _Atomic uint64_t answer_cache_hits; /* requests answered from the answer cache (worker/anscache.h) */
    _Atomic uint64_t slow_next; /* ring position in slow[] */
    msn_perf_slow_t slow[MSN_PERF_SLOW];
    msn_perf_endpoint_t ep[MSN_PERF_ENDPOINTS];
    msn_ws_status_t ws;
    /* stored documents sent from the map under a held read transaction (worker/respond.h) */
    _Atomic uint64_t doc_holds_started;  /* responses that took a hold */
    _Atomic uint64_t doc_hold_fallbacks; /* responses streamed by copying: no hold was free, or theirs expired */
    _Atomic uint64_t doc_holds_held;     /* read transactions held now */
} msn_worker_status_t;

/* ---- the ingestor's section ---- */
#define MSN_STATUS_MAX_MQTT 8

/* One MQTT broker as the ingestor sees it (CoreScope's /api/mqtt/status source). */
typedef struct {
    char name[48];
    char broker[160];          /* scheme://host:port, no credentials */
    int32_t connected;         /* 1 while connected (CONNACK received) */
    int32_t session_present;   /* the broker kept our session at the last connect */
    int64_t last_connect_ms;   /* unix ms, 0 = never */
    int64_t last_disconnect_ms;
    int64_t last_message_ms;
    int64_t connect_count, disconnect_count;
    int64_t messages_total;    /* every message received (CoreScope's packetsTotal) */
    int64_t messages_last5m;   /* received in the last 300 s */
    int64_t redelivered;       /* resent messages found already committed, acknowledged unwritten */
    int64_t next_retry_ms;     /* while disconnected: the next connection attempt */
    char last_error[160];      /* cleared on connect */
} msn_mqtt_source_status_t;

typedef struct {
    int32_t pid;
    int32_t n_sources;
    int64_t started_at_ms;
    int64_t sampled_at_ms;     /* when the ingestor last wrote this section */
    int64_t restarts;          /* times the master restarted the ingestor after it died */
    int64_t received;          /* messages received from all brokers */
    int64_t packets;           /* packet messages written */
    int64_t status_msgs;       /* status messages written */
    int64_t rejected;          /* bad messages skipped (not JSON, bad hex, ...) */
    int64_t ignored;           /* topics and regions not ingested */
    int64_t tx_new, obs_new, dropped;
    int64_t pending;           /* received, not committed yet */
    int64_t batches;           /* transactions committed */
    int64_t last_batch_size;
    int64_t last_commit_ms;    /* unix ms of the last commit */
    int64_t commit_p50_us, commit_p99_us; /* transaction hold time (BEGIN..COMMIT) */
    int64_t write_errors;      /* batches rolled back */
    char last_error[160];
    msn_mqtt_source_status_t src[MSN_STATUS_MAX_MQTT];
} msn_ingest_status_t;

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
    /* a worker that found a record failing its checksum (snaprec.h) reports it here: the
       env_seq of the environment it read, then the count; the master sets that
       environment aside and rebuilds. Many writers (workers), one reader (the master). */
    _Atomic uint64_t damage_env_seq;
    _Atomic uint64_t damage_reports;
    /* analytics shapes the workers were asked for and the snapshot lacks (or that are being
       served and must stay computed): many writers (workers), one reader (the master) */
    _Atomic uint64_t shape_head;
    struct {
        _Atomic uint64_t seq; /* position + 1 once the entry is complete */
        int32_t an;
        int32_t missing;      /* 1: not in the snapshot yet; 0: served, keep it fresh */
        char key[120];
    } shape_ring[MSN_SHAPE_RING];
    /* the ingestor (absent when [mqtt] has no broker: pid 0, n_sources 0) */
    _Atomic uint64_t ingest_seq;
    msn_ingest_status_t ingest;
} msn_status_t;

/** Master: creates or resets state_dir/status and maps it. Returns 0, or -errno. */
int msn_status_create(const char *state_dir, msn_status_t **out);
/** Other processes: maps an existing block read-write. Returns 0, -ENOENT when there is
 *  none, -EPROTO on a magic/version/size mismatch, or another -errno. */
int msn_status_open(const char *state_dir, msn_status_t **out);
/** Unmaps the block. */
void msn_status_close(msn_status_t *st);

/** Sequence-lock writes of one section: begin makes seq odd, end makes it even again.
 *  Begin waits (yielding the CPU, then sleeping) while another writer holds the sequence
 *  odd; after MSN_STATUS_WRITER_WAIT_MS it takes that writer for dead (killed mid-write)
 *  and goes on, keeping the sequence odd until its own end. A writer taken over that comes
 *  back and ends late changes nothing: the write that took over stays open until its end.
 *  Writes do not nest within a thread (end pairs with the thread's last begin). */
void msn_status_write_begin(_Atomic uint64_t *seq);
void msn_status_write_end(_Atomic uint64_t *seq);
/** The only writer of a section has exited (its process was reaped): a sequence it left odd,
 *  dying mid-write, is made even, so that readers stop waiting on it and the next writer
 *  does not wait MSN_STATUS_WRITER_WAIT_MS first. */
void msn_status_writer_gone(_Atomic uint64_t *seq);

/** Copy a master / backfill / ingest section. Return 0 for a consistent copy, or 1 when
 *  one write stayed open MSN_STATUS_READER_WAIT_MS (its writer died or is kept off the
 *  CPU) and the section was copied as it is, possibly half written. */
int msn_status_read_master(const msn_status_t *st, msn_master_status_t *out);
int msn_status_read_backfill(const msn_status_t *st, msn_backfill_status_t *out);
int msn_status_read_ingest(const msn_status_t *st, msn_ingest_status_t *out);

/** Backfiller: sets (adds or replaces by name) one migration entry and recomputes
 *  `remaining` over the running ones. Bumps finished_count when m->status is DONE/FAILED
 *  and the stored entry was not. */
void msn_status_set_migration(msn_status_t *st, const msn_migration_status_t *m);

/* Request statistics are kept per route: slot i < MSN_ROUTE_COUNT is route i of
 * shm/route.h, slot MSN_PERF_OTHER counts requests that matched no route. */
#define MSN_PERF_OTHER MSN_ROUTE_COUNT
/** The name of each slot as /api/perf and /metrics show it: the route's pattern, "other"
 *  for MSN_PERF_OTHER; NULL for the unused slots after it. */
extern const char *const msn_perf_endpoint_names[MSN_PERF_ENDPOINTS];
/** Worker: records one request (lock-free; only the slot's worker writes its counters). */
void msn_perf_record(msn_worker_status_t *w, int endpoint, int status, uint64_t us, uint64_t bytes,
                     const char *path, int64_t now_ms);
/** Lower bound in microseconds of latency bucket i. */
double msn_perf_bucket_lower_us(int i);

/** Worker: asks the master for analytic `an` in the shape with canonical key `key`. */
void msn_status_request_shape(msn_status_t *st, int an, const char *key, int missing);
/** Master: takes the next request after *tail (advanced). Returns 1 with an/key/missing
 *  set, 0 when there is none. Requests overwritten before being read are skipped. */
int msn_status_take_shape(msn_status_t *st, uint64_t *tail, int *an, char key[120], int *missing);

/** Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t msn_now_ms(void);

#endif
