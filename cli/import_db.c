/*
 * import_db.c: the writer of `meshsnap import` (see import_int.h and import.h): one
 * input line becomes at most one transmission, one observation, one node upsert and one
 * observer update, written the way CoreScope's ingestor writes them (cmd/ingestor db.go
 * InsertTransmission/UpsertNode/UpsertObserverAt), inside short batches.
 *
 * Idempotence (a re-run after a crash must give the database an uninterrupted run gives):
 *  - transmissions: looked up by hash first (in-memory cache, then the hash index), so a
 *    packet is inserted once; first_seen only ever goes down (MIN) and last_seen only up
 *    (MAX), both idempotent.
 *  - observations: one per (transmission, observer, path). With the unique dedup index
 *    the insert is ON CONFLICT DO NOTHING; without it (legacy databases) the row is
 *    looked up first. Either way we know whether a row was really inserted.
 *  - counters move only with rows really inserted: observers.packet_count counts the
 *    observations inserted, nodes.advert_count the advert transmissions inserted, and
 *    transmissions.last_seen is raised to the timestamp of an inserted observation. A
 *    replayed line finds its rows and changes no counter.
 *  - everything else is last-writer-wins (node name/role/position, observer name/iata),
 *    MAX (last_seen columns) or COALESCE, so replaying a prefix of the input and then the
 *    whole input ends in the same state.
 * Observers are created before their first observation (the ingestor creates them after
 * it, which leaves observer_idx NULL on an observer's very first packet): a NULL
 * observer_idx would escape the dedup key and break idempotence.
 *
 * Caches: transmission hash -> (id, first_seen, last_seen), observer id -> rowid. The
 * first_seen/last_seen raises and the observer counters are collected in memory and
 * written once per batch, just before COMMIT, in the same transaction.
 */
#include "import_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/json.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "shm/timeutil.h"

/* ---- transmission cache ------------------------------------------------------------------ */

#define TX_USED 0x01
#define TX_FS_EXACT 0x02 /* the stored first_seen is exactly iso(first_seen) */
#define TX_DIRTY 0x04    /* first_seen/last_seen to write at the end of the batch */

typedef struct {
    char hash[17];
    uint8_t flags;
    int64_t id;
    int64_t first_seen; /* unix s: the stored value (exact) or the lowest line time seen */
    int64_t last_seen;  /* unix s, as stored or raised since */
} txent_t;

typedef struct {
    txent_t *ents;
    uint32_t n, cap;
    uint32_t *slots; /* index + 1, 0 = empty */
    uint32_t mask;
} txcache_t;

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static txent_t *txc_find(txcache_t *c, const char *hash)
{
    if (c->slots == NULL)
        return NULL;
    size_t hl = strlen(hash);
    for (uint32_t i = (uint32_t)fnv1a(hash, hl) & c->mask;; i = (i + 1) & c->mask) {
        uint32_t s = c->slots[i];
        if (s == 0)
            return NULL;
        txent_t *e = &c->ents[s - 1];
        if (strcmp(e->hash, hash) == 0)
            return e;
    }
}

static void txc_rehash(txcache_t *c, uint32_t nslots)
{
    free(c->slots);
    c->slots = msn_xcalloc(nslots, sizeof(uint32_t));
    c->mask = nslots - 1;
    for (uint32_t k = 0; k < c->n; k++) {
        uint32_t i = (uint32_t)fnv1a(c->ents[k].hash, strlen(c->ents[k].hash)) & c->mask;
        while (c->slots[i] != 0)
            i = (i + 1) & c->mask;
        c->slots[i] = k + 1;
    }
}

/* Adds an entry (the hash must not be present); returns its index. */
static uint32_t txc_add(txcache_t *c, const txent_t *e)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->ents = msn_xrealloc(c->ents, (size_t)c->cap * sizeof(txent_t));
    }
    c->ents[c->n++] = *e;
    if (c->slots == NULL || (uint64_t)c->n * 2 > (uint64_t)c->mask + 1) {
        txc_rehash(c, c->slots == NULL ? 8192 : (c->mask + 1) * 2);
    } else {
        uint32_t i = (uint32_t)fnv1a(e->hash, strlen(e->hash)) & c->mask;
        while (c->slots[i] != 0)
            i = (i + 1) & c->mask;
        c->slots[i] = c->n;
    }
    return c->n - 1;
}

/* ---- observer cache ---------------------------------------------------------------------- */

typedef struct {
    char *id;
    int64_t rowid;
    int dirty;
    int64_t pkt_delta; /* observations inserted in this batch */
    int64_t max_ts;    /* newest line time in this batch */
    char *name, *iata; /* last values given in this batch, or NULL */
} obsent_t;

typedef struct {
    obsent_t *ents;
    uint32_t n, cap;
    uint32_t *slots;
    uint32_t mask;
} obscache_t;

static obsent_t *obc_find(obscache_t *c, const char *id)
{
    if (c->slots == NULL)
        return NULL;
    for (uint32_t i = (uint32_t)fnv1a(id, strlen(id)) & c->mask;; i = (i + 1) & c->mask) {
        uint32_t s = c->slots[i];
        if (s == 0)
            return NULL;
        if (strcmp(c->ents[s - 1].id, id) == 0)
            return &c->ents[s - 1];
    }
}

static obsent_t *obc_add(obscache_t *c, const char *id, int64_t rowid)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->ents = msn_xrealloc(c->ents, (size_t)c->cap * sizeof(obsent_t));
    }
    obsent_t *e = &c->ents[c->n++];
    memset(e, 0, sizeof(*e));
    e->id = msn_xstrdup(id);
    e->rowid = rowid;
    if (c->slots == NULL || (uint64_t)c->n * 2 > (uint64_t)c->mask + 1) {
        uint32_t nslots = c->slots == NULL ? 256 : (c->mask + 1) * 2;
        free(c->slots);
        c->slots = msn_xcalloc(nslots, sizeof(uint32_t));
        c->mask = nslots - 1;
        for (uint32_t k = 0; k < c->n; k++) {
            uint32_t i = (uint32_t)fnv1a(c->ents[k].id, strlen(c->ents[k].id)) & c->mask;
            while (c->slots[i] != 0)
                i = (i + 1) & c->mask;
            c->slots[i] = k + 1;
        }
    } else {
        uint32_t i = (uint32_t)fnv1a(id, strlen(id)) & c->mask;
        while (c->slots[i] != 0)
            i = (i + 1) & c->mask;
        c->slots[i] = c->n;
    }
    return e;
}

/* ---- the writer -------------------------------------------------------------------------- */

struct msn_importer {
    sqlite3 *db;
    msn_schema_info_t si;
    int dedup_index; /* observations has the unique (tx, observer, path) index */
    int in_txn;

    sqlite3_stmt *tx_get, *tx_ins, *tx_upd;
    sqlite3_stmt *obs_ins, *obs_find, *obs_upd;
    sqlite3_stmt *node_up;
    sqlite3_stmt *obsr_get, *obsr_ins, *obsr_upd;

    txcache_t txc;
    uint32_t *dirty; /* txcache indexes with TX_DIRTY */
    size_t ndirty, capdirty;
    obscache_t obc;

    msn_import_stats_t st;
};

static int db_fail(msn_importer_t *im, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(im->db));
    return -1;
}

static int prepare(msn_importer_t *im, sqlite3_stmt **st, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(im->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "prepare %.60s...: %s", sql, sqlite3_errmsg(im->db));
        return -1;
    }
    return 0;
}

static int build_statements(msn_importer_t *im, char *err, size_t errlen)
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
    msn_buf_puts(&q, "INSERT INTO transmissions (raw_hex, hash, first_seen, route_type, payload_type, payload_version,"
                     " decoded_json");
    if (si->tx_channel_hash)
        msn_buf_puts(&q, ", channel_hash");
    if (si->tx_scope_name)
        msn_buf_puts(&q, ", scope_name");
    if (si->tx_from_pubkey)
        msn_buf_puts(&q, ", from_pubkey");
    if (si->tx_last_seen)
        msn_buf_puts(&q, ", last_seen");
    msn_buf_puts(&q, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7");
    if (si->tx_channel_hash)
        msn_buf_puts(&q, ", ?8");
    if (si->tx_scope_name)
        msn_buf_puts(&q, ", ?9");
    if (si->tx_from_pubkey)
        msn_buf_puts(&q, ", ?10");
    if (si->tx_last_seen)
        msn_buf_puts(&q, ", ?11");
    msn_buf_puts(&q, ")");
    if (prepare(im, &im->tx_ins, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    msn_buf_reset(&q);
    /* MIN(x, NULL) is NULL: a NULL ?1 keeps first_seen */
    msn_buf_puts(&q, "UPDATE transmissions SET first_seen = COALESCE(MIN(first_seen, ?1), first_seen)");
    if (si->tx_last_seen)
        msn_buf_puts(&q, ", last_seen = MAX(last_seen, ?2)");
    msn_buf_puts(&q, " WHERE id = ?3");
    if (prepare(im, &im->tx_upd, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    /* observations */
    msn_buf_reset(&q);
    msn_buf_puts(&q, "INSERT INTO observations (transmission_id, observer_idx, direction, snr, rssi, score, path_json,"
                     " timestamp");
    if (si->obs_raw_hex)
        msn_buf_puts(&q, ", raw_hex");
    if (si->obs_resolved_path)
        msn_buf_puts(&q, ", resolved_path");
    msn_buf_puts(&q, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8");
    if (si->obs_raw_hex)
        msn_buf_puts(&q, ", ?9");
    if (si->obs_resolved_path)
        msn_buf_puts(&q, ", ?10");
    msn_buf_puts(&q, ")");
    size_t plain_len = q.len;
    /* The ingestor's upsert needs the unique dedup index; a database without it (legacy)
     * makes this prepare fail, and rows are then looked up before inserting. */
    msn_buf_puts(&q, " ON CONFLICT(transmission_id, observer_idx, COALESCE(path_json, '')) DO NOTHING");
    if (sqlite3_prepare_v3(im->db, msn_buf_cstr(&q), -1, SQLITE_PREPARE_PERSISTENT, &im->obs_ins, NULL) ==
        SQLITE_OK) {
        im->dedup_index = 1;
    } else {
        im->dedup_index = 0;
        q.len = plain_len;
        if (prepare(im, &im->obs_ins, msn_buf_cstr(&q), err, errlen) < 0)
            goto out;
        if (prepare(im, &im->obs_find,
                    "SELECT id FROM observations WHERE transmission_id = ?1 AND observer_idx = ?2"
                    " AND COALESCE(path_json, '') = ?3 LIMIT 1",
                    err, errlen) < 0)
            goto out;
    }

    msn_buf_reset(&q);
    msn_buf_puts(&q, "UPDATE observations SET snr = COALESCE(?4, snr), rssi = COALESCE(?5, rssi),"
                     " score = COALESCE(?6, score)");
    if (si->obs_raw_hex)
        msn_buf_puts(&q, ", raw_hex = COALESCE(?9, raw_hex)");
    if (si->obs_resolved_path)
        msn_buf_puts(&q, ", resolved_path = COALESCE(?10, resolved_path)");
    if (im->dedup_index)
        msn_buf_puts(&q, " WHERE transmission_id = ?1 AND observer_idx = ?2 AND COALESCE(path_json, '') = ?7");
    else
        msn_buf_puts(&q, " WHERE id = ?11");
    if (prepare(im, &im->obs_upd, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    /* nodes (ON CONFLICT on the primary key works on every schema) */
    msn_buf_reset(&q);
    msn_buf_puts(&q, "INSERT INTO nodes (public_key, name, role, lat, lon, last_seen, first_seen, advert_count");
    if (si->nodes_battery_mv)
        msn_buf_puts(&q, ", battery_mv");
    if (si->nodes_temperature_c)
        msn_buf_puts(&q, ", temperature_c");
    msn_buf_puts(&q, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7");
    if (si->nodes_battery_mv)
        msn_buf_puts(&q, ", ?8");
    if (si->nodes_temperature_c)
        msn_buf_puts(&q, ", ?9");
    msn_buf_puts(&q, ") ON CONFLICT(public_key) DO UPDATE SET name = excluded.name, role = excluded.role,"
                     " lat = COALESCE(excluded.lat, lat), lon = COALESCE(excluded.lon, lon),"
                     " last_seen = MAX(COALESCE(last_seen, ''), excluded.last_seen),"
                     " advert_count = COALESCE(advert_count, 0) + excluded.advert_count");
    if (si->nodes_battery_mv)
        msn_buf_puts(&q, ", battery_mv = COALESCE(excluded.battery_mv, battery_mv)");
    if (si->nodes_temperature_c)
        msn_buf_puts(&q, ", temperature_c = COALESCE(excluded.temperature_c, temperature_c)");
    if (prepare(im, &im->node_up, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;

    /* observers */
    if (prepare(im, &im->obsr_get, "SELECT rowid FROM observers WHERE id = ?1", err, errlen) < 0)
        goto out;
    msn_buf_reset(&q);
    msn_buf_puts(&q, "INSERT INTO observers (id, name, ");
    msn_buf_puts(&q, si->observers_iata ? "iata, " : "");
    msn_buf_puts(&q, "last_seen, first_seen, packet_count) VALUES (?1, ?2, ");
    msn_buf_puts(&q, si->observers_iata ? "?3, " : "");
    msn_buf_puts(&q, "?4, ?4, 0)");
    if (prepare(im, &im->obsr_ins, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;
    msn_buf_reset(&q);
    msn_buf_puts(&q, "UPDATE observers SET packet_count = COALESCE(packet_count, 0) + ?1,"
                     " last_seen = MAX(COALESCE(last_seen, ''), ?2), name = COALESCE(?3, name)");
    if (si->observers_last_packet_at)
        msn_buf_puts(&q, ", last_packet_at = MAX(COALESCE(last_packet_at, ''), ?2)");
    if (si->observers_iata)
        msn_buf_puts(&q, ", iata = COALESCE(?4, iata)");
    if (si->observers_inactive)
        msn_buf_puts(&q, ", inactive = 0");
    msn_buf_puts(&q, " WHERE rowid = ?5");
    if (prepare(im, &im->obsr_upd, msn_buf_cstr(&q), err, errlen) < 0)
        goto out;
    rc = 0;
out:
    msn_buf_free(&q);
    return rc;
}

int msn_import__open(sqlite3 *db, msn_importer_t **out, char *err, size_t errlen)
{
    *out = NULL;
    msn_importer_t *im = msn_xcalloc(1, sizeof(*im));
    im->db = db;
    if (msn_schema_detect(db, &im->si, err, errlen) < 0)
        goto fail;
    if (!im->si.has_observations || !im->si.has_nodes || !im->si.has_observers) {
        snprintf(err, errlen, "not a CoreScope database: the observations, nodes or observers table is missing");
        goto fail;
    }
    if (!im->si.obs_v3) {
        snprintf(err, errlen, "observations has no observer_idx column (the old v2 schema); the importer writes "
                              "the v3 schema only");
        goto fail;
    }
    if (build_statements(im, err, errlen) < 0)
        goto fail;
    *out = im;
    return 0;
fail:
    msn_import__close(im);
    return -1;
}

const char *msn_import__mode(const msn_importer_t *im)
{
    if (im->dedup_index)
        return im->si.legacy ? "legacy schema with the observation dedup index" : "current schema";
    return "legacy schema without the observation dedup index: observations are looked up before insert";
}

int msn_import__in_txn(const msn_importer_t *im)
{
    return im->in_txn;
}

const msn_import_stats_t *msn_import__stats(const msn_importer_t *im)
{
    return &im->st;
}

/* BEGIN IMMEDIATE, waiting for another writer (each attempt waits the busy timeout). */
static int begin(msn_importer_t *im, char *err, size_t errlen)
{
    if (im->in_txn)
        return 0;
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_exec(im->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            break;
        if ((rc & 0xFF) != SQLITE_BUSY || attempt >= 24)
            return db_fail(im, err, errlen, "BEGIN IMMEDIATE");
        if (attempt == 0)
            msn_warn("the database is locked by another writer; waiting");
    }
    im->in_txn = 1;
    return 0;
}

static int step_done(msn_importer_t *im, sqlite3_stmt *st, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(im, err, errlen, what);
    return 0;
}

static void mark_dirty(msn_importer_t *im, txent_t *e)
{
    if (e->flags & TX_DIRTY)
        return;
    e->flags |= TX_DIRTY;
    if (im->ndirty == im->capdirty) {
        im->capdirty = im->capdirty ? im->capdirty * 2 : 1024;
        im->dirty = msn_xrealloc(im->dirty, im->capdirty * sizeof(uint32_t));
    }
    im->dirty[im->ndirty++] = (uint32_t)(e - im->txc.ents);
}

/* Looks a transmission up by hash: the cache, then the database. Returns the entry, NULL
 * when it does not exist, or sets *fatal. */
static txent_t *tx_lookup(msn_importer_t *im, const char *hash, int *fatal, char *err, size_t errlen)
{
    txent_t *e = txc_find(&im->txc, hash);
    if (e != NULL)
        return e;
    sqlite3_stmt *st = im->tx_get;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return NULL;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        db_fail(im, err, errlen, "look up transmission");
        *fatal = 1;
        return NULL;
    }
    txent_t ne;
    memset(&ne, 0, sizeof(ne));
    snprintf(ne.hash, sizeof(ne.hash), "%s", hash);
    ne.flags = TX_USED;
    ne.id = sqlite3_column_int64(st, 0);
    ne.last_seen = sqlite3_column_int64(st, 2);
    ne.first_seen = INT64_MAX;
    const char *fs = (const char *)sqlite3_column_text(st, 1);
    int64_t ms;
    if (fs != NULL && msn_parse_time_ms(fs, &ms) == 0) {
        char canon[32];
        int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
        msn_format_iso_s(canon, s);
        if (strcmp(canon, fs) == 0) {
            ne.first_seen = s;
            ne.flags |= TX_FS_EXACT;
        }
    }
    sqlite3_reset(st);
    uint32_t idx = txc_add(&im->txc, &ne); /* may move the entries */
    return &im->txc.ents[idx];
}

/* Finds or creates the observer; returns its cache entry or NULL (err set). */
static obsent_t *observer_get(msn_importer_t *im, const msn_import_line_t *l, const char *iso, char *err,
                              size_t errlen)
{
    const char *id = l->observer.data;
    obsent_t *e = obc_find(&im->obc, id);
    if (e != NULL)
        return e;
    sqlite3_stmt *st = im->obsr_get;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t rowid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(im, err, errlen, "look up observer");
        return NULL;
    }
    if (rc == SQLITE_DONE) {
        st = im->obsr_ins;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (l->has_name)
            sqlite3_bind_text(st, 2, l->name.data, (int)l->name.len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        sqlite3_bind_null(st, 3); /* iata: set (normalized) by the batch update */
        sqlite3_bind_text(st, 4, iso, -1, SQLITE_STATIC);
        if (step_done(im, st, err, errlen, "insert observer") < 0)
            return NULL;
        sqlite3_clear_bindings(st);
        rowid = sqlite3_last_insert_rowid(im->db);
        im->st.observers_new++;
    }
    return obc_add(&im->obc, id, rowid);
}

/* IATA as the ingestor stores it: trimmed and uppercased; NULL when empty. */
static char *normalize_iata(const msn_import_line_t *l)
{
    if (!l->has_iata)
        return NULL;
    const char *s = l->iata.data;
    size_t n = l->iata.len;
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n == 0)
        return NULL;
    char *r = msn_xstrndup(s, n);
    for (size_t i = 0; i < n; i++)
        if (r[i] >= 'a' && r[i] <= 'z')
            r[i] = (char)(r[i] - 'a' + 'A');
    return r;
}

static void note_observer(obsent_t *o, const msn_import_line_t *l, int64_t ts)
{
    if (!o->dirty) {
        o->dirty = 1;
        o->pkt_delta = 0;
        o->max_ts = ts;
    } else if (ts > o->max_ts) {
        o->max_ts = ts;
    }
    if (l->has_name) {
        free(o->name);
        o->name = msn_xstrndup(l->name.data, l->name.len);
    }
    char *iata = normalize_iata(l);
    if (iata != NULL) {
        free(o->iata);
        o->iata = iata;
    }
}

static const char *advert_role(const msn_packet_t *pkt, char tmp[16])
{
    static const char *const roles[] = {"none", "companion", "repeater", "room", "sensor"};
    if (!(pkt->p.has & MSN_HAS_FLAGS))
        return "companion";
    unsigned t = pkt->p.flags & 0x0F;
    if (t < 5)
        return roles[t];
    snprintf(tmp, 16, "type-%u", t);
    return tmp;
}

static int upsert_node(msn_importer_t *im, const msn_packet_t *pkt, const char *pubkey, const char *iso, int is_new,
                       char *err, size_t errlen)
{
    sqlite3_stmt *st = im->node_up;
    char rtmp[16];
    sqlite3_bind_text(st, 1, pubkey, 64, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pkt->p.name, pkt->p.name_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, advert_role(pkt, rtmp), -1, SQLITE_TRANSIENT);
    if (pkt->p.has & MSN_HAS_LATLON) {
        sqlite3_bind_double(st, 4, (double)pkt->p.lat_e6 / 1e6);
        sqlite3_bind_double(st, 5, (double)pkt->p.lon_e6 / 1e6);
    } else {
        sqlite3_bind_null(st, 4);
        sqlite3_bind_null(st, 5);
    }
    sqlite3_bind_text(st, 6, iso, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, is_new ? 1 : 0);
    if (im->si.nodes_battery_mv) {
        if (pkt->p.has & MSN_HAS_BATTERY)
            sqlite3_bind_int(st, 8, pkt->p.battery_mv);
        else
            sqlite3_bind_null(st, 8);
    }
    if (im->si.nodes_temperature_c) {
        if (pkt->p.has & MSN_HAS_TEMPERATURE)
            sqlite3_bind_double(st, 9, (double)pkt->p.temperature_raw / 100.0);
        else
            sqlite3_bind_null(st, 9);
    }
    int rc = step_done(im, st, err, errlen, "upsert node");
    sqlite3_clear_bindings(st);
    if (rc == 0)
        im->st.adverts++;
    return rc;
}

/* Inserts the new transmission; returns its id, 0 when a concurrent writer inserted the
 * same hash first, or -1 (err set). */
static int64_t insert_tx(msn_importer_t *im, const msn_import_item_t *it, const char *iso, char *err, size_t errlen)
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
    if (im->si.tx_channel_hash) {
        if (it->channel_hash.len > 0)
            sqlite3_bind_text(st, 8, it->channel_hash.data, (int)it->channel_hash.len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 8);
    }
    if (im->si.tx_scope_name) {
        if (it->scope_null)
            sqlite3_bind_null(st, 9);
        else
            sqlite3_bind_text(st, 9, "", 0, SQLITE_STATIC); /* no region keys: unknown region */
    }
    if (im->si.tx_from_pubkey) {
        if (it->keyed)
            sqlite3_bind_text(st, 10, it->pubkey, 64, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 10);
    }
    if (im->si.tx_last_seen)
        sqlite3_bind_int64(st, 11, it->ts);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE)
        return sqlite3_last_insert_rowid(im->db);
    if ((rc & 0xFF) == SQLITE_CONSTRAINT)
        return 0;
    db_fail(im, err, errlen, "insert transmission");
    return -1;
}

static void bind_opt_double(sqlite3_stmt *st, int i, int has, double v)
{
    if (has)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Inserts the observation or, when (tx, observer, path) exists, updates it as the
 * ingestor's upsert does. Returns 1 inserted, 0 existed, -1 error. */
static int write_observation(msn_importer_t *im, const msn_import_item_t *it, int64_t tx_id, int64_t obs_rowid,
                             char *err, size_t errlen)
{
    const msn_import_line_t *l = &it->l;
    const msn_buf_t *path = &it->path_json;
    const char *resolved = it->resolved.len > 0 ? it->resolved.data : NULL;
    int rlen = (int)it->resolved.len;
    int64_t ts = it->ts;
    int64_t found_id = 0;
    if (!im->dedup_index) {
        sqlite3_stmt *f = im->obs_find;
        sqlite3_bind_int64(f, 1, tx_id);
        sqlite3_bind_int64(f, 2, obs_rowid);
        sqlite3_bind_text(f, 3, path->data, (int)path->len, SQLITE_STATIC);
        int rc = sqlite3_step(f);
        if (rc == SQLITE_ROW)
            found_id = sqlite3_column_int64(f, 0);
        sqlite3_reset(f);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return db_fail(im, err, errlen, "look up observation");
    }
    int inserted = 0;
    if (found_id == 0) {
        sqlite3_stmt *st = im->obs_ins;
        sqlite3_bind_int64(st, 1, tx_id);
        sqlite3_bind_int64(st, 2, obs_rowid);
        if (l->has_direction)
            sqlite3_bind_text(st, 3, l->direction.data, (int)l->direction.len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 3);
        bind_opt_double(st, 4, l->has_snr, l->snr);
        bind_opt_double(st, 5, l->has_rssi, l->rssi);
        bind_opt_double(st, 6, l->has_score, l->score);
        sqlite3_bind_text(st, 7, path->data, (int)path->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, ts);
        if (im->si.obs_raw_hex)
            sqlite3_bind_text(st, 9, l->raw.data, (int)l->raw.len, SQLITE_STATIC);
        if (im->si.obs_resolved_path) {
            if (resolved != NULL)
                sqlite3_bind_text(st, 10, resolved, rlen, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, 10);
        }
        if (step_done(im, st, err, errlen, "insert observation") < 0)
            return -1;
        inserted = sqlite3_changes(im->db) > 0;
        if (inserted)
            return 1;
    }
    sqlite3_stmt *u = im->obs_upd;
    bind_opt_double(u, 4, l->has_snr, l->snr);
    bind_opt_double(u, 5, l->has_rssi, l->rssi);
    bind_opt_double(u, 6, l->has_score, l->score);
    if (im->si.obs_raw_hex)
        sqlite3_bind_text(u, 9, l->raw.data, (int)l->raw.len, SQLITE_STATIC);
    if (im->si.obs_resolved_path) {
        if (resolved != NULL)
            sqlite3_bind_text(u, 10, resolved, rlen, SQLITE_STATIC);
        else
            sqlite3_bind_null(u, 10);
    }
    if (im->dedup_index) {
        sqlite3_bind_int64(u, 1, tx_id);
        sqlite3_bind_int64(u, 2, obs_rowid);
        sqlite3_bind_text(u, 7, path->data, (int)path->len, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(u, 11, found_id);
    }
    return step_done(im, u, err, errlen, "update observation") < 0 ? -1 : 0;
}

int msn_import__write(msn_importer_t *im, const msn_import_item_t *it, char *err, size_t errlen)
{
    char iso[32];
    msn_format_iso_s(iso, it->ts);
    if (begin(im, err, errlen) < 0)
        return -1;

    int fatal = 0, is_new = 0;
    txent_t *e = tx_lookup(im, it->hash, &fatal, err, errlen);
    if (fatal)
        return -1;
    if (e == NULL) {
        if (!it->first) {
            /* Only the first accepted line of a hash carries the transmission columns, and
             * once written that hash is in the cache: a row deleted under us. */
            snprintf(err, errlen, "transmission %s disappeared from the database during the import", it->hash);
            return -1;
        }
        int64_t id = insert_tx(im, it, iso, err, errlen);
        if (id < 0)
            return -1;
        if (id == 0) {
            /* inserted by another writer since our lookup */
            e = tx_lookup(im, it->hash, &fatal, err, errlen);
            if (e == NULL) {
                if (!fatal)
                    snprintf(err, errlen, "transmission %s: the insert conflicts but no row has the hash", it->hash);
                return -1;
            }
        } else {
            txent_t ne;
            memset(&ne, 0, sizeof(ne));
            memcpy(ne.hash, it->hash, sizeof(ne.hash));
            ne.flags = TX_USED | TX_FS_EXACT;
            ne.id = id;
            ne.first_seen = it->ts;
            ne.last_seen = im->si.tx_last_seen ? it->ts : 0;
            uint32_t idx = txc_add(&im->txc, &ne); /* may move the entries */
            e = &im->txc.ents[idx];
            is_new = 1;
            im->st.tx_new++;
        }
    }
    if (!is_new) {
        im->st.tx_known++;
        if (it->ts < e->first_seen) {
            e->first_seen = it->ts;
            mark_dirty(im, e);
        }
    }

    obsent_t *o = observer_get(im, &it->l, iso, err, errlen);
    if (o == NULL)
        return -1;
    int ins = write_observation(im, it, e->id, o->rowid, err, errlen);
    if (ins < 0)
        return -1;
    note_observer(o, &it->l, it->ts);
    if (ins) {
        im->st.obs_new++;
        o->pkt_delta++;
        if (im->si.tx_last_seen && it->ts > e->last_seen) {
            e->last_seen = it->ts;
            mark_dirty(im, e);
        }
    } else {
        im->st.obs_dup++;
    }
    if (it->keyed && upsert_node(im, &it->pkt, it->pubkey, iso, is_new, err, errlen) < 0)
        return -1;
    return 0;
}

/* Writes the batch's first_seen/last_seen raises and observer counters. */
static int flush(msn_importer_t *im, char *err, size_t errlen)
{
    char iso[32];
    for (size_t i = 0; i < im->ndirty; i++) {
        txent_t *e = &im->txc.ents[im->dirty[i]];
        e->flags &= (uint8_t)~TX_DIRTY;
        sqlite3_stmt *st = im->tx_upd;
        if (e->first_seen == INT64_MAX) {
            sqlite3_bind_null(st, 1);
        } else {
            msn_format_iso_s(iso, e->first_seen);
            sqlite3_bind_text(st, 1, iso, -1, SQLITE_TRANSIENT);
        }
        if (im->si.tx_last_seen)
            sqlite3_bind_int64(st, 2, e->last_seen);
        sqlite3_bind_int64(st, 3, e->id);
        if (step_done(im, st, err, errlen, "update transmission") < 0)
            return -1;
    }
    im->ndirty = 0;
    for (uint32_t i = 0; i < im->obc.n; i++) {
        obsent_t *o = &im->obc.ents[i];
        if (!o->dirty)
            continue;
        char ts[32];
        msn_format_iso_s(ts, o->max_ts);
        sqlite3_stmt *st = im->obsr_upd;
        sqlite3_bind_int64(st, 1, o->pkt_delta);
        sqlite3_bind_text(st, 2, ts, -1, SQLITE_TRANSIENT);
        if (o->name != NULL)
            sqlite3_bind_text(st, 3, o->name, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 3);
        if (im->si.observers_iata) {
            if (o->iata != NULL)
                sqlite3_bind_text(st, 4, o->iata, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, 4);
        }
        sqlite3_bind_int64(st, 5, o->rowid);
        int rc = step_done(im, st, err, errlen, "update observer");
        sqlite3_clear_bindings(st);
        if (rc < 0)
            return -1;
        free(o->name);
        free(o->iata);
        o->name = o->iata = NULL;
        o->dirty = 0;
        o->pkt_delta = 0;
    }
    return 0;
}

int msn_import__commit(msn_importer_t *im, char *err, size_t errlen)
{
    if (!im->in_txn)
        return 0;
    if (flush(im, err, errlen) < 0)
        return -1;
    if (sqlite3_exec(im->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(im, err, errlen, "COMMIT");
    im->in_txn = 0;
    im->st.commits++;
    return 0;
}

void msn_import__close(msn_importer_t *im)
{
    if (im == NULL)
        return;
    if (im->in_txn)
        sqlite3_exec(im->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_stmt *sts[] = {im->tx_get,  im->tx_ins,  im->tx_upd,   im->obs_ins,  im->obs_find,
                           im->obs_upd, im->node_up, im->obsr_get, im->obsr_ins, im->obsr_upd};
    for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
        sqlite3_finalize(sts[i]);
    free(im->txc.ents);
    free(im->txc.slots);
    free(im->dirty);
    for (uint32_t i = 0; i < im->obc.n; i++) {
        free(im->obc.ents[i].id);
        free(im->obc.ents[i].name);
        free(im->obc.ents[i].iata);
    }
    free(im->obc.ents);
    free(im->obc.slots);
    free(im);
}
