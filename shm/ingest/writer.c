/*
 * writer.c: the rows (see ingest.h). One prepared packet becomes at most one
 * transmission, one observation, one node upsert and one observer update; a status
 * message one observer update and one observer_metrics row; a bad-signature advert (with
 * the dropped_packets rule) one dropped_packets row; all written the way CoreScope's
 * ingestor writes them (cmd/ingestor db.go InsertTransmission, UpsertNode,
 * UpsertObserverAt, InsertMetrics, InsertDroppedPacket), inside short batches (shm/sqlw.h).
 *
 * Idempotence with the import rules (a re-run after a crash must give the database an
 * uninterrupted run gives, ids included):
 *  - transmissions are looked up by hash (in-memory cache, then the hash index) and
 *    inserted only when absent; first_seen only goes down (MIN), last_seen only up (MAX).
 *  - observations are looked up by (transmission, observer, COALESCE(path_json, '')) and
 *    inserted only when absent, on every schema. (INSERT ... ON CONFLICT DO NOTHING would
 *    also keep out duplicates where the unique dedup index exists, but it advances the
 *    AUTOINCREMENT sequence even when it inserts nothing, so a re-run would shift the ids
 *    of everything after; and legacy databases have no such index.) Nobody else can
 *    insert between the look-up and the insert: the batch holds the write lock.
 *  - counters move only with rows really inserted: observers.packet_count counts the
 *    observations inserted, nodes.advert_count the advert transmissions inserted, and
 *    transmissions.last_seen is raised to the timestamp of an inserted observation. A
 *    replayed line finds its rows and moves no counter.
 *  - the rest is last-writer-wins (node name/role, observer name/iata), COALESCE (node
 *    position and telemetry, observation snr/rssi/score/raw_hex/resolved_path) or MAX
 *    (last_seen columns): replaying a prefix of the input and then all of it ends in the
 *    state the whole input gives.
 *  - rows are created in the order of the input's first mention, so rowids agree too.
 * With the import rules observers are created before their first observation (the
 * ingestor creates them after it, which leaves observer_idx NULL on an observer's very
 * first packet: the observer_first rule).
 *
 * With the CoreScope rules (receive_time, count_messages, blank_missing,
 * repeat_raises_last_seen) the same collapsing gives what CoreScope's statement sequence
 * gives message by message: its MAX(MIN(x, now), now) clamps are `now`, packet_count
 * grows by the messages, last_packet_at is set only by packets whose observer existed.
 *
 * Caches: transmission hash -> (id, first_seen, last_seen), observer id -> rowid, node
 * key -> pending upsert. The first_seen/last_seen changes, the observer counters and the
 * node upserts are collected in memory and written once per batch, just before COMMIT,
 * in the same transaction (the effect of applying them message by message).
 */
#include "ingest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/hash.h"
#include "shm/hmap.h"
#include "../log.h"
#include "../schema.h"
#include "../timeutil.h"

/* ---- string-keyed indexes over entry arrays ----------------------------------------------- */

/* key(ctx, i) is entry i's key (NUL-terminated). */
typedef const char *(*key_fn)(const void *ctx, uint32_t i);

static uint64_t key_hash(const char *s)
{
    return msn_hash_bytes(s, strlen(s));
}

/* Entry index of key, or -1. */
static int64_t six_find(const msn_hmap_t *ix, const char *key, key_fn kf, const void *ctx)
{
    msn_hmap_probe_t pr;
    for (uint32_t e = msn_hmap_first(ix, key_hash(key), &pr); e != MSN_HMAP_NONE; e = msn_hmap_next(ix, &pr))
        if (strcmp(kf(ctx, e), key) == 0)
            return e;
    return -1;
}

/* Indexes entry n - 1 (just appended, with a key not in the index yet). */
static void six_add(msn_hmap_t *ix, uint32_t n, key_fn kf, const void *ctx)
{
    msn_hmap_add(ix, key_hash(kf(ctx, n - 1)), n - 1);
}

/* ---- cache entries ------------------------------------------------------------------------- */

/* The transmission cache is emptied at a batch boundary once it holds this many entries
 * (about 100 MB); later lines of those transmissions look them up in the database again. */
#define TX_CACHE_MAX 2000000

#define TX_FS_EXACT 0x01 /* the stored first_seen is exactly iso(first_seen) */
#define TX_DIRTY 0x02    /* first_seen/last_seen to write at the end of the batch */
#define TX_LS_ZERO 0x04  /* stored last_seen is 0 (not backfilled): write the full maximum */

typedef struct {
    char hash[17];
    uint8_t flags;
    int64_t id;
    int64_t first_seen; /* unix s: the stored value (exact) or the lowest line time seen */
    int64_t last_seen;  /* unix s, as stored or raised since */
} txent_t;

typedef struct {
    char *id;
    int64_t rowid;     /* 0: no row yet (observer_first off: created after its first packet) */
    int dirty;
    int64_t pkt_delta; /* observations inserted (or messages: count_messages) in this batch */
    int64_t max_ts;    /* newest message time in this batch */
    int64_t lpa_ts;    /* last_packet_at candidate (0: none in this batch) */
    char *name, *iata; /* last values given in this batch, or NULL */
    /* status-message columns: the last value given in this batch */
    char *st_str[MSN_ST_STR_COUNT];
    int has_num[3];
    double num[3]; /* battery_mv, uptime_secs, noise_floor */
    int repeat;    /* -1 none */
} obsent_t;

/* A node upsert collected over a batch: what applying its advert lines one by one gives. */
typedef struct {
    char pubkey[65];
    int dirty;
    char name[MSN_ADVERT_NAME_MAX + 1]; /* last advert's name ("" when it had none) */
    uint8_t name_len;
    char role[16]; /* last advert's role */
    int has_pos;   /* last advert with a position */
    double lat, lon;
    int has_batt, has_temp;
    int batt;
    double temp;
    int64_t first_ts; /* first advert line of the batch (first_seen of a new node) */
    int64_t max_ts;
    int advert_delta; /* adverts that created their transmission */
} nodeent_t;

static const char *tx_key(const void *ctx, uint32_t i)
{
    return ((const txent_t *)ctx)[i].hash;
}

static const char *obs_key(const void *ctx, uint32_t i)
{
    return ((const obsent_t *)ctx)[i].id;
}

static const char *node_key(const void *ctx, uint32_t i)
{
    return ((const nodeent_t *)ctx)[i].pubkey;
}

/* Grows an entry array by one; returns the new entry's index. */
static uint32_t grow(void **arr, uint32_t *n, uint32_t *cap, size_t size)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *arr = msn_xrealloc(*arr, (size_t)*cap * size);
    }
    memset((char *)*arr + (size_t)*n * size, 0, size);
    return (*n)++;
}

/* ---- the writer ---------------------------------------------------------------------------- */

struct msn_ingest_writer {
    sqlite3 *db;
    msn_ingest_rules_t r;
    msn_sqlw_t w;
    int defer_checkpoints; /* msn_ingest_defer_checkpoints */
    msn_schema_info_t si;
    int has_metrics, has_dropped; /* observer_metrics, dropped_packets tables */
    int dedup_index;    /* observations has the unique (tx, observer, path) index */
    int schema_version; /* PRAGMA schema_version the statements were built for */

    sqlite3_stmt *tx_get, *tx_ins, *tx_upd;
    sqlite3_stmt *obs_find, *obs_ins, *obs_upd;
    sqlite3_stmt *node_up;
    sqlite3_stmt *obsr_get, *obsr_ins, *obsr_upd;
    sqlite3_stmt *metrics_ins, *dropped_ins;

    txent_t *tx;
    uint32_t ntx, captx;
    msn_hmap_t txix;
    uint32_t *dirty; /* tx entries with TX_DIRTY */
    size_t ndirty, capdirty;

    obsent_t *obs;
    uint32_t nobs, capobs;
    msn_hmap_t obsix;

    nodeent_t *nodes;
    uint32_t nnodes, capnodes;
    msn_hmap_t nodeix;

    msn_ingest_stats_t st;        /* counted as written, the open transaction included */
    msn_ingest_stats_t committed; /* st at the last commit: what msn_ingest_stats shows, and
                                     what a rollback takes st back to */
};

static int db_fail(msn_ingest_writer_t *im, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(im->db));
    return -1;
}

static int prepare(msn_ingest_writer_t *im, sqlite3_stmt **st, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(im->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "prepare \"%.80s...\": %s", sql, sqlite3_errmsg(im->db));
        return -1;
    }
    return 0;
}

/* 1 when observations has a unique index on (transmission_id, observer_idx,
 * COALESCE(path_json, '')), as a fresh CoreScope database does. */
static int has_dedup_index(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'observations'",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    while (!found && sqlite3_step(st) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(st, 0);
        if (sql == NULL || strncasecmp(sql, "CREATE UNIQUE", 13) != 0)
            continue;
        /* compare without blanks and case */
        char norm[512];
        size_t k = 0;
        for (const char *p = strchr(sql, '('); p && *p && k + 1 < sizeof(norm); p++)
            if (*p != ' ' && *p != '\t' && *p != '\n')
                norm[k++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
        norm[k] = '\0';
        found = strcmp(norm, "(transmission_id,observer_idx,coalesce(path_json,''))") == 0;
    }
    sqlite3_finalize(st);
    return found;
}

/* 1 when some index of observations starts with transmission_id. */
static int tx_id_indexed(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(
            db,
            "SELECT 1 FROM pragma_index_list('observations') il,"
            " pragma_index_info(il.name) ii WHERE ii.seqno = 0 AND ii.name = 'transmission_id'",
            -1, &st, NULL) == SQLITE_OK)
        found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static int build_statements(msn_ingest_writer_t *im, char *err, size_t errlen)
{
    const msn_schema_info_t *si = &im->si;
    msn_buf_t q = MSN_BUF_INIT;
    int rc = -1;

    /* transmissions */
    msn_buf_puts(&q, "SELECT id, first_seen, ");
    msn_buf_puts(&q, si->tx_last_seen ? "last_seen" : "0");
    msn_buf_puts(&q, " FROM transmissions WHERE hash = ?1");
    if (prepare(im, &im->tx_get, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    msn_buf_reset(&q);
    msn_buf_puts(
        &q, "INSERT INTO transmissions (raw_hex, hash, first_seen, route_type, payload_type, payload_version,"
            " decoded_json");
    msn_buf_puts(&q, si->tx_channel_hash ? ", channel_hash" : "");
    msn_buf_puts(&q, si->tx_scope_name ? ", scope_name" : "");
    msn_buf_puts(&q, si->tx_from_pubkey ? ", from_pubkey" : "");
    msn_buf_puts(&q, si->tx_last_seen ? ", last_seen" : "");
    msn_buf_puts(&q, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7");
    msn_buf_puts(&q, si->tx_channel_hash ? ", ?8" : "");
    msn_buf_puts(&q, si->tx_scope_name ? ", ?9" : "");
    msn_buf_puts(&q, si->tx_from_pubkey ? ", ?10" : "");
    msn_buf_puts(&q, si->tx_last_seen ? ", ?11" : "");
    msn_buf_puts(&q, ")");
    if (prepare(im, &im->tx_ins, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    msn_buf_reset(&q);
    /* MIN(x, NULL) is NULL: a NULL ?1 keeps first_seen */
    msn_buf_puts(&q, "UPDATE transmissions SET first_seen = COALESCE(MIN(first_seen, ?1), first_seen)");
    /* A last_seen of 0 means "not computed yet" (§5.1): then the maximum over all of the
     * transmission's observations, not only this batch's, is written. */
    msn_buf_puts(&q, si->tx_last_seen ? ", last_seen = MAX(last_seen, ?2, CASE WHEN ?4 THEN COALESCE((SELECT"
                                        " MAX(timestamp) FROM observations WHERE transmission_id = ?3), 0)"
                                        " ELSE 0 END)"
                                      : "");
    msn_buf_puts(&q, " WHERE id = ?3");
    if (prepare(im, &im->tx_upd, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    /* observations: the dedup key, written as the unique index is so that it serves; without
     * that index, the unary + keeps the planner on transmission_id (a few rows) rather than
     * observer_idx (all of an observer's rows) */
    if (prepare(im, &im->obs_find,
                im->dedup_index
                    ? "SELECT id FROM observations WHERE transmission_id = ?1 AND observer_idx = ?2"
                      " AND COALESCE(path_json, '') = ?3 LIMIT 1"
                    : "SELECT id FROM observations WHERE transmission_id = ?1 AND +observer_idx = ?2"
                      " AND COALESCE(path_json, '') = ?3 LIMIT 1",
                err, errlen) < 0)
        goto out;
    msn_buf_reset(&q);
    msn_buf_puts(
        &q, "INSERT INTO observations (transmission_id, observer_idx, direction, snr, rssi, score, path_json,"
            " timestamp");
    msn_buf_puts(&q, si->obs_raw_hex ? ", raw_hex" : "");
    msn_buf_puts(&q, si->obs_resolved_path ? ", resolved_path" : "");
    msn_buf_puts(&q, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8");
    msn_buf_puts(&q, si->obs_raw_hex ? ", ?9" : "");
    msn_buf_puts(&q, si->obs_resolved_path ? ", ?10" : "");
    msn_buf_puts(&q, ")");
    if (prepare(im, &im->obs_ins, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;
    /* the ingestor's upsert on a repeated (transmission, observer, path) */
    msn_buf_reset(&q);
    msn_buf_puts(&q, "UPDATE observations SET snr = COALESCE(?4, snr), rssi = COALESCE(?5, rssi),"
                     " score = COALESCE(?6, score)");
    msn_buf_puts(&q, si->obs_raw_hex ? ", raw_hex = COALESCE(?9, raw_hex)" : "");
    msn_buf_puts(&q, si->obs_resolved_path ? ", resolved_path = COALESCE(?10, resolved_path)" : "");
    msn_buf_puts(&q, " WHERE id = ?11");
    if (prepare(im, &im->obs_upd, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    /* nodes (ON CONFLICT on the primary key works on every schema; no AUTOINCREMENT) */
    msn_buf_reset(&q);
    msn_buf_puts(&q,
                 "INSERT INTO nodes (public_key, name, role, lat, lon, last_seen, first_seen, advert_count");
    msn_buf_puts(&q, si->nodes_battery_mv ? ", battery_mv" : "");
    msn_buf_puts(&q, si->nodes_temperature_c ? ", temperature_c" : "");
    msn_buf_puts(&q, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?12, ?7");
    msn_buf_puts(&q, si->nodes_battery_mv ? ", ?8" : "");
    msn_buf_puts(&q, si->nodes_temperature_c ? ", ?9" : "");
    msn_buf_puts(&q, ") ON CONFLICT(public_key) DO UPDATE SET name = excluded.name, role = excluded.role,"
                     " lat = COALESCE(excluded.lat, lat), lon = COALESCE(excluded.lon, lon),"
                     " last_seen = ");
    /* receive time: CoreScope's MAX(MIN(last_seen, now), now) is now */
    msn_buf_puts(&q, im->r.receive_time ? "excluded.last_seen," : "MAX(COALESCE(last_seen, ''), excluded.last_seen),");
    msn_buf_puts(&q, " advert_count = COALESCE(advert_count, 0) + excluded.advert_count");
    msn_buf_puts(&q, si->nodes_battery_mv ? ", battery_mv = COALESCE(excluded.battery_mv, battery_mv)" : "");
    msn_buf_puts(&q, si->nodes_temperature_c
                         ? ", temperature_c = COALESCE(excluded.temperature_c, temperature_c)"
                         : "");
    if (prepare(im, &im->node_up, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    /* observers */
    if (prepare(im, &im->obsr_get, "SELECT rowid FROM observers WHERE id = ?1", err, errlen) < 0)
        goto out;
    if (prepare(im, &im->obsr_ins,
                "INSERT INTO observers (id, name, last_seen, first_seen, packet_count) VALUES (?1, ?2, ?3, "
                "?3, 0)",
                err, errlen) < 0)
        goto out;
    /* the batch's observer update: ?1 packet_count delta, ?2 newest message time, ?3 name,
     * ?4 iata, ?5 rowid, ?6 last_packet_at (NULL: none), ?7-?10 model, firmware,
     * client_version, radio, ?11-?13 battery_mv, uptime_secs, noise_floor, ?14 can_relay */
    msn_buf_reset(&q);
    msn_buf_puts(&q, "UPDATE observers SET packet_count = COALESCE(packet_count, 0) + ?1, last_seen = ");
    msn_buf_puts(&q, im->r.receive_time ? "?2" : "MAX(COALESCE(last_seen, ''), ?2)");
    msn_buf_puts(&q, ", name = COALESCE(?3, name)");
    if (si->observers_last_packet_at)
        msn_buf_puts(&q, im->r.receive_time ? ", last_packet_at = COALESCE(?6, last_packet_at)"
                                            : ", last_packet_at = CASE WHEN ?6 IS NULL THEN last_packet_at"
                                              " ELSE MAX(COALESCE(last_packet_at, ''), ?6) END");
    msn_buf_puts(&q, si->observers_iata ? ", iata = COALESCE(?4, iata)" : "");
    msn_buf_puts(&q, si->observers_inactive ? ", inactive = 0" : "");
    msn_buf_puts(&q, si->observers_model ? ", model = COALESCE(?7, model)" : "");
    msn_buf_puts(&q, si->observers_firmware ? ", firmware = COALESCE(?8, firmware)" : "");
    msn_buf_puts(&q, si->observers_client_version ? ", client_version = COALESCE(?9, client_version)" : "");
    msn_buf_puts(&q, si->observers_radio ? ", radio = COALESCE(?10, radio)" : "");
    msn_buf_puts(&q, si->observers_battery_mv ? ", battery_mv = COALESCE(?11, battery_mv)" : "");
    msn_buf_puts(&q, si->observers_uptime_secs ? ", uptime_secs = COALESCE(?12, uptime_secs)" : "");
    msn_buf_puts(&q, si->observers_noise_floor ? ", noise_floor = COALESCE(?13, noise_floor)" : "");
    msn_buf_puts(&q, si->observers_can_relay ? ", can_relay = COALESCE(?14, can_relay), can_relay_seen ="
                                               " CASE WHEN ?14 IS NULL THEN can_relay_seen ELSE 1 END"
                                             : "");
    msn_buf_puts(&q, " WHERE rowid = ?5");
    if (prepare(im, &im->obsr_upd, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    /* status messages: one observer_metrics row per sample interval (INSERT OR REPLACE) */
    if (im->has_metrics) {
        int pk = msn_schema_has_column(im->db, "observer_metrics", "packets_sent") &&
                 msn_schema_has_column(im->db, "observer_metrics", "packets_recv");
        msn_buf_reset(&q);
        msn_buf_puts(&q, "INSERT OR REPLACE INTO observer_metrics (observer_id, timestamp, noise_floor,"
                         " tx_air_secs, rx_air_secs, recv_errors, battery_mv");
        msn_buf_puts(&q, pk ? ", packets_sent, packets_recv) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                            : ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (prepare(im, &im->metrics_ins, msn_buf_cstr(&q), err, errlen) < 0)
            goto out;
    }
    if (im->has_dropped &&
        prepare(im, &im->dropped_ins,
                "INSERT INTO dropped_packets (hash, raw_hex, reason, observer_id, observer_name, node_pubkey,"
                " node_name) VALUES (?1, ?2, 'invalid signature', ?3, ?4, ?5, ?6)",
                err, errlen) < 0)
        goto out;
    rc = 0;
out:
    msn_buf_free(&q);
    return rc;
}

static int table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

static int schema_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void finalize_statements(msn_ingest_writer_t *im)
{
    sqlite3_stmt **sts[] = {&im->tx_get,   &im->tx_ins,   &im->tx_upd,      &im->obs_find,
                            &im->obs_ins,  &im->obs_upd,  &im->node_up,     &im->obsr_get,
                            &im->obsr_ins, &im->obsr_upd, &im->metrics_ins, &im->dropped_ins};
    for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
        sqlite3_finalize(*sts[i]);
        *sts[i] = NULL;
    }
}

/* Detects what the database has and prepares the statements for it. */
static int setup(msn_ingest_writer_t *im, char *err, size_t errlen)
{
    sqlite3 *db = im->db;
    finalize_statements(im);
    /* cached first/last seen may predate the change (columns added): look them up again;
     * nothing is dirty between batches */
    im->ntx = 0;
    msn_hmap_clear(&im->txix);
    im->schema_version = schema_version(db);
    if (msn_schema_detect(db, &im->si, err, errlen) < 0)
        return -1;
    if (!im->si.has_observations || !im->si.has_nodes || !im->si.has_observers) {
        snprintf(err, errlen,
                 "not a CoreScope database: the observations, nodes or observers table is missing");
        return -1;
    }
    if (!im->si.obs_v3) {
        snprintf(err, errlen,
                 "observations has no observer_idx column (the old v2 schema); the importer writes "
                 "the v3 schema only");
        return -1;
    }
    im->dedup_index = has_dedup_index(db);
    if (!im->dedup_index && !tx_id_indexed(db))
        msn_warn("observations has no index on transmission_id: every line scans the table (slow)");
    im->has_metrics = table_exists(db, "observer_metrics");
    im->has_dropped = table_exists(db, "dropped_packets");
    return build_statements(im, err, errlen);
}

int msn_ingest_writer_open(sqlite3 *db, const msn_ingest_rules_t *rules, const msn_sqlw_opts_t *wo,
                           msn_ingest_writer_t **out, char *err, size_t errlen)
{
    *out = NULL;
    msn_ingest_writer_t *im = msn_xcalloc(1, sizeof(*im));
    im->db = db;
    im->r = *rules;
    msn_sqlw_init(&im->w, db, wo);
    msn_sqlw_own_checkpoints(&im->w); /* im is on the heap: it stays where it is */
    if (setup(im, err, errlen) < 0)
        goto fail;
    *out = im;
    return 0;
fail:
    msn_ingest_writer_close(im);
    return -1;
}

const char *msn_ingest_mode(const msn_ingest_writer_t *im)
{
    if (!im->si.legacy)
        return "current schema";
    return im->dedup_index ? "legacy schema (with the observation dedup index)"
                           : "legacy schema without the observation dedup index";
}

int msn_ingest_in_txn(const msn_ingest_writer_t *im)
{
    return im->w.in_txn;
}

int msn_ingest_due(const msn_ingest_writer_t *im)
{
    return msn_sqlw_due(&im->w);
}

sqlite3 *msn_ingest_db(const msn_ingest_writer_t *im)
{
    return im->db;
}

const msn_sqlw_t *msn_ingest_sqlw(const msn_ingest_writer_t *im)
{
    return &im->w;
}

const msn_ingest_stats_t *msn_ingest_stats(const msn_ingest_writer_t *im)
{
    return &im->committed;
}

/* BEGIN IMMEDIATE, waiting for another writer (shm/sqlw.h). */
static int begin(msn_ingest_writer_t *im, char *err, size_t errlen)
{
    if (im->w.in_txn)
        return 0;
    if (msn_sqlw_begin(&im->w, err, errlen) < 0)
        return -1;
    /* Another writer (meshsnapd's backfiller) may have migrated the schema since the last
     * batch: holding the write lock now, follow it before writing. */
    if (schema_version(im->db) != im->schema_version) {
        msn_info("the database schema changed; preparing the statements again");
        if (setup(im, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int step_done(msn_ingest_writer_t *im, sqlite3_stmt *st, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(im, err, errlen, what);
    return 0;
}

static void mark_dirty(msn_ingest_writer_t *im, txent_t *e)
{
    if (e->flags & TX_DIRTY)
        return;
    e->flags |= TX_DIRTY;
    if (im->ndirty == im->capdirty) {
        im->capdirty = im->capdirty ? im->capdirty * 2 : 1024;
        im->dirty = msn_xrealloc(im->dirty, im->capdirty * sizeof(uint32_t));
    }
    im->dirty[im->ndirty++] = (uint32_t)(e - im->tx);
}

static txent_t *tx_add(msn_ingest_writer_t *im, const txent_t *ne)
{
    uint32_t i = grow((void **)&im->tx, &im->ntx, &im->captx, sizeof(txent_t));
    im->tx[i] = *ne;
    six_add(&im->txix, im->ntx, tx_key, im->tx);
    return &im->tx[i];
}

/* Looks a transmission up by hash: the cache, then the database. Returns the entry, or
 * NULL when it does not exist or on error (*fatal set). */
static txent_t *tx_lookup(msn_ingest_writer_t *im, const char *hash, int *fatal, char *err, size_t errlen)
{
    int64_t i = six_find(&im->txix, hash, tx_key, im->tx);
    if (i >= 0)
        return &im->tx[i];
    sqlite3_stmt *st = im->tx_get;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            db_fail(im, err, errlen, "look up transmission");
            *fatal = 1;
        }
        return NULL;
    }
    txent_t ne;
    memset(&ne, 0, sizeof(ne));
    snprintf(ne.hash, sizeof(ne.hash), "%s", hash);
    ne.id = sqlite3_column_int64(st, 0);
    ne.last_seen = sqlite3_column_int64(st, 2);
    if (im->si.tx_last_seen && ne.last_seen == 0)
        ne.flags |= TX_LS_ZERO;
    ne.first_seen = INT64_MAX;
    const char *fs = (const char *)sqlite3_column_text(st, 1);
    int64_t ms;
    if (fs != NULL && msn_parse_time_ms(fs, &ms) == 0 && ms >= 0) {
        char canon[32];
        msn_format_iso_s(canon, ms / 1000);
        if (strcmp(canon, fs) == 0) {
            ne.first_seen = ms / 1000;
            ne.flags |= TX_FS_EXACT;
        }
    }
    sqlite3_reset(st);
    return tx_add(im, &ne);
}

/* Forgets what a batch collected for observer o. */
static void obsent_reset(obsent_t *o)
{
    free(o->name);
    free(o->iata);
    o->name = o->iata = NULL;
    for (int k = 0; k < MSN_ST_STR_COUNT; k++) {
        free(o->st_str[k]);
        o->st_str[k] = NULL;
    }
    o->has_num[0] = o->has_num[1] = o->has_num[2] = 0;
    o->repeat = -1;
    o->dirty = 0;
    o->pkt_delta = 0;
    o->lpa_ts = 0;
}

/* Inserts observer o's row (rowid 0 until now). Returns 0, or -1 (err set). */
static int observer_create(msn_ingest_writer_t *im, obsent_t *o, const msn_ingest_item_t *it, char *err,
                           size_t errlen)
{
    /* name now, iata and the rest with the batch's observer update */
    char iso[32];
    msn_format_iso_s(iso, it->ts);
    sqlite3_stmt *st = im->obsr_ins;
    sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
    if (it->set_name)
        sqlite3_bind_text(st, 2, it->obs_name.data ? it->obs_name.data : "", (int)it->obs_name.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, iso, -1, SQLITE_STATIC);
    if (step_done(im, st, err, errlen, "insert observer") < 0)
        return -1;
    sqlite3_clear_bindings(st);
    o->rowid = sqlite3_last_insert_rowid(im->db);
    im->st.observers_new++;
    return 0;
}

/* Finds observer it->obs_id: its cache entry, with rowid 0 when it has no row yet.
 * Creates the row first when create is set. Returns the entry or NULL (err set). */
static obsent_t *observer_get(msn_ingest_writer_t *im, const msn_ingest_item_t *it, int create, char *err,
                              size_t errlen)
{
    const char *id = it->obs_id.data;
    int64_t k = six_find(&im->obsix, id, obs_key, im->obs);
    obsent_t *o;
    if (k >= 0) {
        o = &im->obs[k];
    } else {
        sqlite3_stmt *st = im->obsr_get;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int64_t rowid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            db_fail(im, err, errlen, "look up observer");
            return NULL;
        }
        uint32_t i = grow((void **)&im->obs, &im->nobs, &im->capobs, sizeof(obsent_t));
        o = &im->obs[i];
        o->id = msn_xstrdup(id);
        o->rowid = rowid;
        o->repeat = -1;
        six_add(&im->obsix, im->nobs, obs_key, im->obs);
    }
    if (o->rowid == 0 && create && observer_create(im, o, it, err, errlen) < 0)
        return NULL;
    return o;
}

static void set_str(char **dst, const char *s, size_t n)
{
    if (*dst != NULL && strlen(*dst) == n && memcmp(*dst, s, n) == 0)
        return;
    free(*dst);
    *dst = msn_xstrndup(s, n);
}

/* Folds one message into its observer's pending update (UpsertObserverAt). */
static void note_observer(const msn_ingest_writer_t *im, obsent_t *o, const msn_ingest_item_t *it)
{
    int64_t ts = it->ts;
    if (!o->dirty) {
        o->dirty = 1;
        o->pkt_delta = 0;
        o->lpa_ts = 0;
        o->max_ts = ts;
    } else if (ts > o->max_ts) {
        o->max_ts = ts;
    }
    if (im->r.count_messages)
        o->pkt_delta++;
    if (it->set_name)
        set_str(&o->name, it->obs_name.data ? it->obs_name.data : "", it->obs_name.len);
    if (it->set_iata)
        set_str(&o->iata, it->obs_iata.data ? it->obs_iata.data : "", it->obs_iata.len);
    if (it->kind != MSN_INGEST_STATUS)
        return;
    const msn_ingest_fields_t *l = &it->l;
    for (int i = 0; i < MSN_ST_STR_COUNT; i++)
        if (l->has_st_str[i])
            set_str(&o->st_str[i], l->st_str[i].data, l->st_str[i].len);
    static const int nums[3] = {MSN_ST_BATTERY_MV, MSN_ST_UPTIME_SECS, MSN_ST_NOISE_FLOOR};
    for (int i = 0; i < 3; i++)
        if (l->has_st_num[nums[i]]) {
            o->has_num[i] = 1;
            o->num[i] = l->st_num[nums[i]];
        }
    if (l->repeat >= 0)
        o->repeat = l->repeat;
}

/* The ingestor's advertRole. */
static void advert_role(const msn_packet_t *pkt, char out[16])
{
    static const char *const roles[] = {"none", "companion", "repeater", "room", "sensor"};
    if (!(pkt->p.has & MSN_HAS_FLAGS)) {
        snprintf(out, 16, "companion");
        return;
    }
    unsigned t = pkt->p.flags & 0x0F;
    if (t < 5)
        snprintf(out, 16, "%s", roles[t]);
    else
        snprintf(out, 16, "type-%u", t);
}

/* Folds one advert into its node's pending upsert (UpsertNode, IncrementAdvertCount,
 * UpdateNodeTelemetry of the ingestor). */
static void note_node(msn_ingest_writer_t *im, const msn_ingest_item_t *it, int is_new)
{
    int64_t k = six_find(&im->nodeix, it->pubkey, node_key, im->nodes);
    nodeent_t *n;
    if (k < 0) {
        uint32_t i = grow((void **)&im->nodes, &im->nnodes, &im->capnodes, sizeof(nodeent_t));
        n = &im->nodes[i];
        memcpy(n->pubkey, it->pubkey, sizeof(n->pubkey));
        six_add(&im->nodeix, im->nnodes, node_key, im->nodes);
    } else {
        n = &im->nodes[k];
    }
    const msn_payload_t *p = &it->pkt.p;
    if (!n->dirty) {
        n->dirty = 1;
        n->first_ts = n->max_ts = it->ts;
        n->has_pos = n->has_batt = n->has_temp = 0;
        n->advert_delta = 0;
    } else if (it->ts > n->max_ts) {
        n->max_ts = it->ts;
    }
    n->name_len = p->name_len;
    memcpy(n->name, p->name, p->name_len);
    n->name[p->name_len] = '\0';
    advert_role(&it->pkt, n->role);
    if (p->has & MSN_HAS_LATLON) {
        n->has_pos = 1;
        n->lat = (double)p->lat_e6 / 1e6;
        n->lon = (double)p->lon_e6 / 1e6;
    }
    if (p->has & MSN_HAS_BATTERY) {
        n->has_batt = 1;
        n->batt = p->battery_mv;
    }
    if (p->has & MSN_HAS_TEMPERATURE) {
        n->has_temp = 1;
        n->temp = (double)p->temperature_raw / 100.0;
    }
    n->advert_delta += is_new;
    im->st.adverts++;
}

/* Inserts the new transmission; returns its id or -1 (err set). */
static int64_t insert_tx(msn_ingest_writer_t *im, const msn_ingest_item_t *it, const char *iso, char *err,
                         size_t errlen)
{
    const msn_packet_t *p = &it->pkt;
    sqlite3_stmt *st = im->tx_ins;
    sqlite3_bind_text(st, 1, it->l.raw.data, (int)it->l.raw.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, it->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, iso, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, p->route_type);
    sqlite3_bind_int(st, 5, p->payload_type);
    sqlite3_bind_int(st, 6, p->payload_version);
    sqlite3_bind_text(st, 7, it->decoded_json.data ? it->decoded_json.data : "", (int)it->decoded_json.len,
                      SQLITE_STATIC);
    if (it->channel_hash.len > 0)
        sqlite3_bind_text(st, 8, it->channel_hash.data, (int)it->channel_hash.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    if (it->scope_null)
        sqlite3_bind_null(st, 9);
    else
        sqlite3_bind_text(st, 9, "", 0, SQLITE_STATIC); /* no region keys: an unknown region */
    if (it->keyed)
        sqlite3_bind_text(st, 10, it->pubkey, 64, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_int64(st, 11, it->ts);
    int rc = step_done(im, st, err, errlen, "insert transmission");
    sqlite3_clear_bindings(st);
    return rc < 0 ? -1 : sqlite3_last_insert_rowid(im->db);
}

static void bind_opt_double(sqlite3_stmt *st, int i, int has, double v)
{
    if (has)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Binds the columns shared by the observation insert and update (?4 ?5 ?6 ?9 ?10). */
static void bind_obs_values(sqlite3_stmt *st, const msn_ingest_item_t *it)
{
    const msn_ingest_fields_t *l = &it->l;
    bind_opt_double(st, 4, l->has_snr, l->snr);
    bind_opt_double(st, 5, l->has_rssi, l->rssi);
    bind_opt_double(st, 6, l->has_score, l->score);
    sqlite3_bind_text(st, 9, l->raw.data, (int)l->raw.len, SQLITE_STATIC);
    if (it->resolved.len > 0)
        sqlite3_bind_text(st, 10, it->resolved.data, (int)it->resolved.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
}

/* Inserts the observation, or when (transmission, observer, path) exists updates it as the
 * ingestor's upsert does. Returns 1 inserted, 0 existed, -1 error. */
static int write_observation(msn_ingest_writer_t *im, const msn_ingest_item_t *it, int64_t tx_id,
                             int64_t obs_rowid, int tx_is_new, char *err, size_t errlen)
{
    const msn_buf_t *path = &it->path_json;
    int64_t found = 0;
    if (!tx_is_new) { /* a transmission inserted by this very line has no observations yet */
        sqlite3_stmt *f = im->obs_find;
        sqlite3_bind_int64(f, 1, tx_id);
        if (obs_rowid != 0)
            sqlite3_bind_int64(f, 2, obs_rowid);
        else
            sqlite3_bind_null(f, 2); /* never equal: a NULL observer_idx never dedups */
        sqlite3_bind_text(f, 3, path->data, (int)path->len, SQLITE_STATIC);
        int rc = sqlite3_step(f);
        if (rc == SQLITE_ROW)
            found = sqlite3_column_int64(f, 0);
        sqlite3_reset(f);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return db_fail(im, err, errlen, "look up observation");
    }
    if (found == 0) {
        sqlite3_stmt *st = im->obs_ins;
        sqlite3_bind_int64(st, 1, tx_id);
        if (obs_rowid != 0)
            sqlite3_bind_int64(st, 2, obs_rowid);
        else
            sqlite3_bind_null(st, 2);
        if (it->l.has_direction)
            sqlite3_bind_text(st, 3, it->l.direction.data, (int)it->l.direction.len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 3);
        sqlite3_bind_text(st, 7, path->data, (int)path->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, it->ts);
        bind_obs_values(st, it);
        return step_done(im, st, err, errlen, "insert observation") < 0 ? -1 : 1;
    }
    sqlite3_stmt *u = im->obs_upd;
    bind_obs_values(u, it);
    sqlite3_bind_int64(u, 11, found);
    return step_done(im, u, err, errlen, "update observation") < 0 ? -1 : 0;
}

/* A status message: the observer's update and, when it carries any status field, its
 * observer_metrics row (InsertMetrics: the time rounded to the nearest sample boundary). */
static int write_status(msn_ingest_writer_t *im, const msn_ingest_item_t *it, char *err, size_t errlen)
{
    obsent_t *o = observer_get(im, it, 1, err, errlen);
    if (o == NULL)
        return -1;
    note_observer(im, o, it);
    im->st.status_msgs++;
    const msn_ingest_fields_t *l = &it->l;
    int meta = l->repeat >= 0;
    for (int i = 0; i < MSN_ST_STR_COUNT; i++)
        meta |= l->has_st_str[i];
    for (int i = 0; i < MSN_ST_NUM_COUNT; i++)
        meta |= l->has_st_num[i];
    if (!meta || im->metrics_ins == NULL)
        return 0;
    int64_t iv = im->r.metrics_interval_s > 0 ? im->r.metrics_interval_s : 300;
    char iso[32];
    msn_format_iso_s(iso, (it->ts + iv / 2) / iv * iv);
    sqlite3_stmt *st = im->metrics_ins;
    sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, iso, -1, SQLITE_STATIC);
    bind_opt_double(st, 3, l->has_st_num[MSN_ST_NOISE_FLOOR], l->st_num[MSN_ST_NOISE_FLOOR]);
    static const struct {
        int param, field;
    } ints[] = {{4, MSN_ST_TX_AIR_SECS},  {5, MSN_ST_RX_AIR_SECS},  {6, MSN_ST_RECV_ERRORS},
                {7, MSN_ST_BATTERY_MV},   {8, MSN_ST_PACKETS_SENT}, {9, MSN_ST_PACKETS_RECV}};
    int nparams = sqlite3_bind_parameter_count(st);
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (ints[i].param > nparams)
            continue;
        if (l->has_st_num[ints[i].field])
            sqlite3_bind_int64(st, ints[i].param, (int64_t)llround(l->st_num[ints[i].field]));
        else
            sqlite3_bind_null(st, ints[i].param);
    }
    int rc = step_done(im, st, err, errlen, "insert observer_metrics");
    sqlite3_clear_bindings(st);
    return rc;
}

/* An advert whose signature fails: one dropped_packets row (InsertDroppedPacket). */
static int write_dropped(msn_ingest_writer_t *im, const msn_ingest_item_t *it, char *err, size_t errlen)
{
    im->st.dropped++;
    if (im->dropped_ins == NULL)
        return 0;
    sqlite3_stmt *st = im->dropped_ins;
    const msn_payload_t *p = &it->pkt.p;
    sqlite3_bind_text(st, 1, it->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, it->l.raw.data, (int)it->l.raw.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, it->obs_id.data ? it->obs_id.data : "", (int)it->obs_id.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, it->obs_name.data ? it->obs_name.data : "", (int)it->obs_name.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, it->pubkey, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, p->name_len ? p->name : "", p->name_len, SQLITE_STATIC);
    int rc = step_done(im, st, err, errlen, "insert dropped_packets");
    sqlite3_clear_bindings(st);
    return rc;
}

int msn_ingest_write(msn_ingest_writer_t *im, const msn_ingest_item_t *it, char *err, size_t errlen)
{
    char iso[32] = ""; /* the message's time as RFC3339, formatted when a row needs it */
    if (begin(im, err, errlen) < 0)
        return -1;
    msn_sqlw_add(&im->w, 1);
    if (it->kind == MSN_INGEST_STATUS)
        return write_status(im, it, err, errlen);
    if (it->sig_bad)
        return write_dropped(im, it, err, errlen);

    int fatal = 0, is_new = 0;
    txent_t *e = tx_lookup(im, it->hash, &fatal, err, errlen);
    if (fatal)
        return -1;
    if (e == NULL) {
        if (!it->first) /* only the first message of a hash carries the transmission columns */
            return MSN_INGEST_NEED_FIRST;
        msn_format_iso_s(iso, it->ts);
        int64_t id = insert_tx(im, it, iso, err, errlen);
        if (id < 0)
            return -1;
        txent_t ne;
        memset(&ne, 0, sizeof(ne));
        memcpy(ne.hash, it->hash, sizeof(ne.hash));
        ne.flags = TX_FS_EXACT;
        ne.id = id;
        ne.first_seen = it->ts;
        ne.last_seen = im->si.tx_last_seen ? it->ts : 0;
        e = tx_add(im, &ne);
        is_new = 1;
        im->st.tx_new++;
    } else {
        im->st.tx_known++;
        if (it->ts < e->first_seen) {
            e->first_seen = it->ts;
            mark_dirty(im, e);
        }
    }

    obsent_t *o = NULL;
    if (it->obs_id.len > 0) {
        o = observer_get(im, it, im->r.observer_first, err, errlen);
        if (o == NULL)
            return -1;
    }
    int existed = o != NULL && o->rowid != 0;
    int ins = write_observation(im, it, e->id, existed ? o->rowid : 0, is_new, err, errlen);
    if (ins < 0)
        return -1;
    if (o != NULL) {
        if (!existed && observer_create(im, o, it, err, errlen) < 0)
            return -1;
        note_observer(im, o, it);
        if (existed && it->ts > o->lpa_ts)
            o->lpa_ts = it->ts;
        if (ins && !im->r.count_messages)
            o->pkt_delta++;
    }
    if (ins)
        im->st.obs_new++;
    else
        im->st.obs_dup++;
    if ((ins || im->r.repeat_raises_last_seen) && im->si.tx_last_seen && it->ts > e->last_seen) {
        e->last_seen = it->ts;
        mark_dirty(im, e);
    }
    if (it->keyed)
        note_node(im, it, is_new);
    return 0;
}

/* Writes what the batch collected: transmission first/last seen, node upserts (in the
 * order of the nodes' first mention), observer updates. */
static int flush(msn_ingest_writer_t *im, char *err, size_t errlen)
{
    char iso[32], iso2[32];
    for (size_t i = 0; i < im->ndirty; i++) {
        txent_t *e = &im->tx[im->dirty[i]];
        e->flags &= (uint8_t)~TX_DIRTY;
        sqlite3_stmt *st = im->tx_upd;
        if (e->first_seen == INT64_MAX) {
            sqlite3_bind_null(st, 1);
        } else {
            msn_format_iso_s(iso, e->first_seen);
            sqlite3_bind_text(st, 1, iso, -1, SQLITE_TRANSIENT);
        }
        sqlite3_bind_int64(st, 2, e->last_seen);
        sqlite3_bind_int64(st, 3, e->id);
        sqlite3_bind_int(st, 4, (e->flags & TX_LS_ZERO) != 0);
        if (step_done(im, st, err, errlen, "update transmission") < 0)
            return -1;
    }
    im->ndirty = 0;

    for (uint32_t i = 0; i < im->nnodes; i++) {
        nodeent_t *n = &im->nodes[i];
        if (!n->dirty)
            continue;
        sqlite3_stmt *st = im->node_up;
        sqlite3_bind_text(st, 1, n->pubkey, 64, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, n->name, n->name_len, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, n->role, -1, SQLITE_STATIC);
        bind_opt_double(st, 4, n->has_pos, n->lat);
        bind_opt_double(st, 5, n->has_pos, n->lon);
        msn_format_iso_s(iso, n->max_ts);
        msn_format_iso_s(iso2, n->first_ts);
        sqlite3_bind_text(st, 6, iso, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, iso2, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 7, n->advert_delta);
        if (n->has_batt)
            sqlite3_bind_int(st, 8, n->batt);
        else
            sqlite3_bind_null(st, 8);
        bind_opt_double(st, 9, n->has_temp, n->temp);
        if (step_done(im, st, err, errlen, "upsert node") < 0)
            return -1;
        n->dirty = 0;
    }

    for (uint32_t i = 0; i < im->nobs; i++) {
        obsent_t *o = &im->obs[i];
        if (!o->dirty)
            continue;
        msn_format_iso_s(iso, o->max_ts);
        sqlite3_stmt *st = im->obsr_upd;
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, o->pkt_delta);
        sqlite3_bind_text(st, 2, iso, -1, SQLITE_STATIC);
        if (o->name != NULL)
            sqlite3_bind_text(st, 3, o->name, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 3);
        if (o->iata != NULL)
            sqlite3_bind_text(st, 4, o->iata, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_int64(st, 5, o->rowid);
        if (o->lpa_ts > 0) {
            msn_format_iso_s(iso2, o->lpa_ts);
            sqlite3_bind_text(st, 6, iso2, -1, SQLITE_STATIC);
        }
        for (int k = 0; k < MSN_ST_STR_COUNT; k++)
            if (o->st_str[k] != NULL)
                sqlite3_bind_text(st, 7 + k, o->st_str[k], -1, SQLITE_STATIC);
        if (o->has_num[0])
            sqlite3_bind_int64(st, 11, (int64_t)llround(o->num[0]));
        if (o->has_num[1])
            sqlite3_bind_int64(st, 12, (int64_t)llround(o->num[1]));
        if (o->has_num[2])
            sqlite3_bind_double(st, 13, o->num[2]);
        if (o->repeat >= 0)
            sqlite3_bind_int(st, 14, o->repeat);
        if (step_done(im, st, err, errlen, "update observer") < 0)
            return -1;
        obsent_reset(o);
    }
    return 0;
}

/* Empties the caches: after a rollback they may name rows that no longer exist. */
static void forget_caches(msn_ingest_writer_t *im)
{
    im->ntx = 0;
    im->ndirty = 0;
    msn_hmap_clear(&im->txix);
    for (uint32_t i = 0; i < im->nobs; i++) {
        obsent_reset(&im->obs[i]);
        free(im->obs[i].id);
    }
    im->nobs = 0;
    msn_hmap_clear(&im->obsix);
    im->nnodes = 0;
    msn_hmap_clear(&im->nodeix);
}

int msn_ingest_commit(msn_ingest_writer_t *im, char *err, size_t errlen)
{
    if (!im->w.in_txn)
        return 0;
    if (flush(im, err, errlen) < 0 || msn_sqlw_commit(&im->w, err, errlen) < 0) {
        msn_ingest_rollback(im);
        return -1;
    }
    im->st.commits++;
    im->committed = im->st;
    if (im->ntx > TX_CACHE_MAX) { /* nothing is dirty after a flush */
        im->ntx = 0;
        msn_hmap_clear(&im->txix);
    }
    if (!im->defer_checkpoints)
        (void)msn_sqlw_checkpoint(&im->w);
    return 0;
}

void msn_ingest_defer_checkpoints(msn_ingest_writer_t *im)
{
    im->defer_checkpoints = 1;
}

int msn_ingest_checkpoint(msn_ingest_writer_t *im)
{
    return msn_sqlw_checkpoint(&im->w);
}

void msn_ingest_rollback(msn_ingest_writer_t *im)
{
    msn_sqlw_rollback(&im->w);
    im->st = im->committed; /* none of it was written */
    forget_caches(im);
}

void msn_ingest_writer_close(msn_ingest_writer_t *im)
{
    if (im == NULL)
        return;
    msn_sqlw_rollback(&im->w);
    msn_sqlw_release(&im->w);
    finalize_statements(im);
    forget_caches(im);
    free(im->tx);
    msn_hmap_free(&im->txix);
    free(im->dirty);
    free(im->obs);
    msn_hmap_free(&im->obsix);
    free(im->nodes);
    msn_hmap_free(&im->nodeix);
    free(im);
}
