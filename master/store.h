/*
 * store.h: the master's in-memory copy of the CoreScope database.
 *
 * The master loads transmissions, observations, nodes and observers from SQLite in
 * chunks (msn_store_load) and later picks up new rows by id (msn_store_poll). Every
 * string lives in the store's arena and is freed with the store. Nodes and observers are
 * small tables and are re-read in full on every poll (msn_store_reload_small).
 *
 * Best observation per transmission (data-model spec §6): the observation whose path has
 * the most hops; on a tie the newest (largest timestamp, then largest id), which is the
 * cold-load order CoreScope uses. The same rule applies after a poll, so a restart and a
 * long-running master agree.
 *
 * Rows that cannot be served (store.c logs each kind, the first ones one by one):
 *   - an id <= 0: never loaded (the snapshot keys ids as unsigned integers); counted by
 *     msn_store_count_nonpositive at every load and poll (nonpositive_tx/_obs);
 *   - an observation whose transmission does not exist: skipped, and later observations
 *     load as usual. When its transmission id is above every loaded one, the transmission
 *     may still be committed (a writer that commits out of order): the observation waits
 *     (pend, at most MSN_STORE_PENDING_MAX) and is read again once that transmission is
 *     loaded; it is then appended out of id order (a "late" observation, see late[]).
 *     Otherwise it is an orphan (orphan_obs). A full load re-reads everything, orphans
 *     included.
 *
 * Only the publisher thread of the master touches a store, with one exception: during
 * msn_store_load's observation pass a reader thread it starts (and joins before it
 * returns) owns the string and key tables and reads observations on a connection of its
 * own (store.c, "the full load's observation reader", says who owns what meanwhile).
 */
#ifndef MSN_STORE_H
#define MSN_STORE_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "obsmetrics.h"
#include "shm/hmap.h"
#include "shm/schema.h"

typedef struct {
    int64_t id;
    int64_t tx_id;
    int64_t observer_rowid; /* -1 when NULL */
    const char *direction;  /* NULL when NULL; interned (store.c): equal texts share one copy */
    double snr, rssi, score;
    uint8_t has_snr, has_rssi, has_score;
    uint8_t hops; /* hop count of path_json (0 when empty or invalid) */
    uint8_t rp_n; /* entries in rp (beside the flags: 88 bytes, not 96, per observation) */
    const char *path_json;  /* NULL when NULL; interned like direction */
    int64_t timestamp; /* unix seconds */
    const uint32_t *rp; /* resolved_path as key ids (MSN_KEY_NONE = null hop); NULL when the column is NULL */
} msn_obs_t;

#define MSN_KEY_NONE UINT32_MAX

typedef struct {
    int64_t id;
    const char *raw_hex;
    const char *hash;
    const char *first_seen;
    int64_t first_seen_ms;
    int route_type, payload_type; /* -1 when NULL */
    const char *decoded_json;
    const char *from_pubkey;
    const char *channel_hash; /* NULL when absent (or the column is missing) */
    const char *scope_name;   /* NULL when NULL (or the column is missing) */
    int64_t latest;       /* newest observation timestamp (unix s), 0 without observations */
    int64_t latest_pub;   /* latest as last written into the snapshot's time-of-sighting index */
    int64_t chl_pub;      /* channel messages: latest as last written into the chl index */
    uint8_t chl_written;  /* chl_pub is valid */
    uint32_t *obs;   /* indexes into store->obs */
    uint32_t n_obs, cap_obs;
    int32_t best;    /* index into store->obs, -1 when none */
    uint8_t dirty;   /* changed since the last publication */
} msn_tx_t;

typedef struct {
    const char *public_key, *name, *role, *last_seen, *first_seen, *default_scope;
    double lat, lon, temperature_c;
    uint8_t has_lat, has_lon, has_temp, has_battery, foreign;
    int64_t battery_mv, advert_count;
    int64_t last_seen_ms, first_seen_ms;
    uint8_t hash_size;       /* from the node's newest advert, 0 = unknown */
    uint8_t hash_sizes_mask; /* bit k-1 set when size k was seen */
} msn_node_t;

typedef struct {
    int64_t rowid;
    const char *id, *name, *iata, *last_seen, *first_seen, *model, *firmware, *client_version, *radio;
    const char *last_packet_at, *clock_last_naive_at;
    int64_t packet_count, battery_mv, uptime_secs, clock_skew_seconds, clock_skew_count_24h;
    double noise_floor;
    uint8_t has_battery, has_uptime, has_noise, has_clock_skew, inactive, can_relay, has_can_relay;
    int64_t packets_last_hour; /* computed */
} msn_observer_t;

typedef struct msn_arena msn_arena_t;

/* An observation whose transmission is not loaded (yet). */
typedef struct {
    int64_t obs_id, tx_id;
} msn_store_pend_t;

/** The most observations that wait for their transmission; beyond it the oldest one is
 *  given up (an orphan until the next full load). */
#define MSN_STORE_PENDING_MAX 65536

typedef struct {
    msn_schema_info_t schema;
    msn_tx_t *tx; /* sorted by id */
    uint32_t n_tx, cap_tx;
    msn_obs_t *obs; /* in load order */
    uint32_t n_obs, cap_obs;
    msn_node_t *nodes;
    uint32_t n_nodes;
    msn_observer_t *observers; /* sorted by rowid */
    uint32_t n_observers;
    /* observer rowid -> index + 1 (0: none), for rowids 0..n_observer_at-1: built with
       observers when their rowids are dense enough (msn_store_observer searches otherwise,
       and when observers and n_observers are not those it was built for) */
    uint32_t *observer_at;
    uint32_t n_observer_at;
    const msn_observer_t *observer_at_of;
    uint32_t observer_at_count;
    int64_t max_tx_id, max_obs_id;
    msn_arena_t *arena;       /* tx/obs strings */
    char (*keys)[65];         /* interned node keys used by resolved paths, lowercase */
    uint32_t n_keys, cap_keys;
    msn_hmap_t key_ix;        /* key -> id */
    const char **strs;        /* interned observation strings (path_json, direction), in arena */
    int16_t *str_hops;        /* per string: its hop count as a path_json array, -1 not one */
    uint32_t n_strs, cap_strs;
    msn_hmap_t str_ix;        /* string -> index into strs */
    msn_arena_t *small_arena; /* node/observer strings, replaced on each reload */
    int64_t skipped_rows;     /* rows skipped as corrupt (logged) */
    uint32_t *obs_dirty;      /* observations changed in place since the last publication */
    uint32_t n_obs_dirty, cap_obs_dirty;
    msn_obsmetrics_t metrics; /* observer_metrics rows (obsmetrics.h) */
    /* rows that are not served (see the top comment) */
    int64_t orphan_obs;                  /* observations whose transmission is missing */
    int64_t nonpositive_tx, nonpositive_obs; /* rows with an id <= 0, as last counted */
    int64_t pend_given_up;               /* waiting observations dropped (the list was full) */
    msn_store_pend_t *pend;              /* observations waiting for their transmission, by obs id */
    uint32_t n_pend, cap_pend;
    uint32_t *late;                      /* indexes into obs appended out of id order, ascending */
    uint32_t n_late, cap_late;
    int64_t logged_orphans;              /* orphan and waiting log lines written */
} msn_store_t;

/** Progress callback for msn_store_load: rows of transmissions loaded so far. */
typedef void (*msn_store_progress_cb)(void *ctx, int64_t tx_loaded, int64_t obs_loaded);

/** Initialises an empty store. */
void msn_store_init(msn_store_t *s);
/** Frees everything the store owns. */
void msn_store_free(msn_store_t *s);

/** Detects the schema and loads every table in chunks of chunk_rows (each chunk its own
 *  read transaction). The observations are read by a second thread on a second read-only
 *  connection to the same file (opened and closed here; without one, on db after the
 *  transmissions), while this thread reads the transmissions they refer to and appends
 *  the observations. stop (may be NULL) is read between chunks, from any thread's
 *  writes: when it is set the load ends with -2. Returns 0, or -1 with err set. */
int msn_store_load(msn_store_t *s, sqlite3 *db, int chunk_rows, msn_store_progress_cb cb, void *ctx,
                   const atomic_int *stop, char *err, size_t errlen);

/** Reads transmissions and observations with ids above the store's maxima (at most
 *  max_rows of each per call), new observer_metrics rows, then the waiting observations
 *  whose transmission arrived; marks touched transmissions dirty. *n_new_tx / *n_new_obs
 *  receive the counts. Returns 0, or -1 with err set. */
int msn_store_poll(msn_store_t *s, sqlite3 *db, int max_rows, int *n_new_tx, int *n_new_obs, char *err,
                   size_t errlen);

/** Re-reads nodes and observers in full, and recomputes derived fields (node hash sizes,
 *  observer packetsLastHour at now_s). Returns 0, or -1 with err set. */
int msn_store_reload_small(msn_store_t *s, sqlite3 *db, int64_t now_s, char *err, size_t errlen);

/** Re-reads observations.resolved_path for ids in (from_id, to_id] (a backfill wrote them),
 *  in chunks; observations whose value changed are queued in obs_dirty and their
 *  transmissions marked dirty. *changed receives their count. Returns 0, or -1 with err. */
int msn_store_refresh_resolved(msn_store_t *s, sqlite3 *db, int64_t from_id, int64_t to_id, int64_t *changed,
                               char *err, size_t errlen);

/** Counts the transmissions and observations with an id <= 0 (never loaded) into
 *  nonpositive_tx / nonpositive_obs, and logs when a count changed. Returns 0, or -1
 *  with err set. */
int msn_store_count_nonpositive(msn_store_t *s, sqlite3 *db, char *err, size_t errlen);

/** 1 when obs[idx] was appended out of id order (a waiting observation taken in late). */
int msn_store_obs_is_late(const msn_store_t *s, uint32_t idx);
/** Whole seconds of a millisecond time (rounded down, negative times included). */
static inline int64_t msn_store__secs(int64_t ms)
{
    return ms >= 0 ? ms / 1000 : -((999 - ms) / 1000);
}

/** CoreScope's active node (/api/stats totalNodes, topology uniqueNodes): seen in the 7
 *  days before now_ms. CoreScope compares the RFC3339 texts, last_seen > the cutoff
 *  written to the second, so: the whole seconds of last_seen after those of
 *  now_ms - 7 days (a node seen exactly at the cutoff is not active). */
static inline int msn_store_node_active(const msn_node_t *n, int64_t now_ms)
{
    return msn_store__secs(n->last_seen_ms) > msn_store__secs(now_ms - 7 * 86400000LL);
}

/** Interns a 64-hex node key (any case). Returns its id, or MSN_KEY_NONE when it is not a key. */
uint32_t msn_store_intern_key(msn_store_t *s, const char *key, size_t len);

/** The transmission with this id, or NULL. */
msn_tx_t *msn_store_tx_by_id(const msn_store_t *s, int64_t id);
/** The observer with this rowid, or NULL. O(1) after a load (observer_at), else a binary
 *  search over observers (sorted by rowid). */
const msn_observer_t *msn_store_observer(const msn_store_t *s, int64_t rowid);

#endif
