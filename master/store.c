/* store.c: loading and polling the CoreScope tables into memory. See store.h. */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "handoff.h"
#include "shm/buf.h"
#include "shm/hash.h"
#include "shm/jsonr.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "shm/timeutil.h"

/* An observation's size is the bulk of the master's memory: a field added or moved is seen here. */
_Static_assert(sizeof(void *) != 8 || sizeof(msn_obs_t) == 88, "msn_obs_t grew: keep it packed (store.h)");

void msn_store_init(msn_store_t *s)
{
    memset(s, 0, sizeof(*s));
    s->arena = msn_arena_new();
    s->small_arena = msn_arena_new();
    msn_obsmetrics_init(&s->metrics);
}

void msn_store_free(msn_store_t *s)
{
    for (uint32_t i = 0; i < s->n_tx; i++)
        free(s->tx[i].obs);
    free(s->tx);
    free(s->obs);
    free(s->nodes);
    free(s->observers);
    free(s->observer_at);
    free(s->keys);
    msn_hmap_free(&s->key_ix);
    free(s->strs);
    free(s->str_hops);
    msn_hmap_free(&s->str_ix);
    free(s->obs_dirty);
    msn_obsmetrics_free(&s->metrics);
    free(s->pend);
    free(s->late);
    msn_arena_free(s->arena);
    msn_arena_free(s->small_arena);
    memset(s, 0, sizeof(*s));
}

msn_tx_t *msn_store_tx_by_id(const msn_store_t *s, int64_t id)
{
    uint32_t lo = 0, hi = s->n_tx;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->tx[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_tx && s->tx[lo].id == id ? &s->tx[lo] : NULL;
}

const msn_observer_t *msn_store_observer(const msn_store_t *s, int64_t rowid)
{
    if (s->observers != NULL && s->observer_at_of == s->observers && s->observer_at_count == s->n_observers) {
        if (rowid < 0 || rowid >= (int64_t)s->n_observer_at || s->observer_at[rowid] == 0)
            return NULL;
        return &s->observers[s->observer_at[rowid] - 1];
    }
    uint32_t lo = 0, hi = s->n_observers;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->observers[mid].rowid < rowid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_observers && s->observers[lo].rowid == rowid ? &s->observers[lo] : NULL;
}

uint32_t msn_store_intern_key(msn_store_t *s, const char *key, size_t len)
{
    char low[65];
    if (len != 64)
        return MSN_KEY_NONE;
    for (size_t i = 0; i < 64; i++) {
        char c = key[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return MSN_KEY_NONE;
        low[i] = c;
    }
    low[64] = '\0';
    msn_hmap_probe_t pr;
    for (uint32_t id = msn_hmap_first(&s->key_ix, msn_hash_bytes(low, 64), &pr); id != MSN_HMAP_NONE;
         id = msn_hmap_next(&s->key_ix, &pr))
        if (memcmp(s->keys[id], low, 64) == 0)
            return id;
    if (s->n_keys == s->cap_keys) {
        s->cap_keys = s->cap_keys ? s->cap_keys * 2 : 1024;
        s->keys = msn_xrealloc(s->keys, s->cap_keys * sizeof(*s->keys));
    }
    memcpy(s->keys[s->n_keys], low, 65);
    msn_hmap_insert(&s->key_ix, &pr, s->n_keys);
    return s->n_keys++;
}

typedef struct {
    msn_store_t *s;
    uint32_t ids[64];
    int n, bad;
} rp_ctx_t;

static void rp_cb(void *ctx, int idx, const char *str, size_t n)
{
    rp_ctx_t *c = ctx;
    if (idx >= 64) {
        c->bad = 1;
        return;
    }
    uint32_t id = MSN_KEY_NONE;
    if (str != NULL) {
        id = msn_store_intern_key(c->s, str, n);
        if (id == MSN_KEY_NONE)
            c->bad = 1;
    }
    c->ids[idx] = id;
    c->n = idx + 1;
}

/* Parses a resolved_path JSON array (t[0..len), NULL when the column is NULL) into
   interned key ids. 0 ok (rp NULL when absent), -1 malformed. */
static int parse_resolved(msn_store_t *s, msn_arena_t *a, const char *t, size_t len, msn_obs_t *o)
{
    if (t == NULL)
        return 0;
    rp_ctx_t c = {.s = s};
    int n = msn_json_str_array_each(t, len, rp_cb, &c);
    if (n < 0 || c.bad)
        return -1;
    if (n == 0)
        return 0;
    uint32_t *rp = msn_arena_alloc(a, (size_t)n * sizeof(uint32_t));
    memcpy(rp, c.ids, (size_t)n * sizeof(uint32_t));
    o->rp = rp;
    o->rp_n = (uint8_t)n;
    return 0;
}

static const char *col_text(msn_arena_t *a, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (t == NULL)
        return NULL;
    return msn_arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, i));
}

/* Hop count of a path_json array (a C string); 0 when empty, -1 when not an array of
   strings. */
static int path_hops(const char *path_json)
{
    int n = msn_json_str_array_each(path_json, strlen(path_json), NULL, NULL);
    return n < 0 ? -1 : (n > 255 ? 255 : n);
}

/* The interned copy of text t[0..n) (t[n] is a NUL; h = msn_hash_bytes(t, n)) in the
   store's string table, made in arena a when the text is new: one copy per distinct text
   (an observation's path and direction repeat across observations). *hops: the text's hop
   count as a path_json array (path_hops, worked out once per distinct text). Readers take
   these as C strings, cut at a NUL inside the value; a text is interned with all its bytes,
   so two texts that differ only after such a NUL are two copies that read the same. */
static const char *intern_text(msn_store_t *s, msn_arena_t *a, const char *t, size_t n, uint64_t h, int *hops)
{
    msn_hmap_probe_t pr;
    for (uint32_t e = msn_hmap_first(&s->str_ix, h, &pr); e != MSN_HMAP_NONE;
         e = msn_hmap_next(&s->str_ix, &pr))
        if (memcmp(s->strs[e], t, n + 1) == 0) { /* the copy has n bytes and a NUL, as t */
            *hops = s->str_hops[e];
            return s->strs[e];
        }
    if (s->n_strs == s->cap_strs) {
        s->cap_strs = s->cap_strs ? s->cap_strs * 2 : 1024;
        s->strs = msn_xrealloc(s->strs, s->cap_strs * sizeof(*s->strs));
        s->str_hops = msn_xrealloc(s->str_hops, s->cap_strs * sizeof(*s->str_hops));
    }
    char *copy = msn_arena_alloc(a, n + 1);
    memcpy(copy, t, n + 1);
    s->strs[s->n_strs] = copy;
    s->str_hops[s->n_strs] = (int16_t)path_hops(copy);
    *hops = s->str_hops[s->n_strs];
    msn_hmap_insert(&s->str_ix, &pr, s->n_strs);
    s->n_strs++;
    return copy;
}

/* Column i interned (intern_text), or NULL (*hops 0) when it is NULL. */
static const char *col_interned_in(msn_store_t *s, msn_arena_t *a, sqlite3_stmt *st, int i, int *hops)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    *hops = 0;
    if (t == NULL)
        return NULL;
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    return intern_text(s, a, (const char *)t, n, msn_hash_bytes(t, n), hops);
}

static int col_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "SQLite: %s (in: %.80s)", sqlite3_errmsg(db), sql);
        return -1;
    }
    return 0;
}

/* 1 when observation a is a better display observation than b (store.h rule). */
static int obs_better(const msn_obs_t *a, const msn_obs_t *b)
{
    if (a->hops != b->hops)
        return a->hops > b->hops;
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp;
    return a->id > b->id;
}

/* ---- transmissions ---- */

static const char *tx_sql(const msn_schema_info_t *sc)
{
    static char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json, %s, %s, %s "
             "FROM transmissions WHERE id > ?1 ORDER BY id LIMIT ?2",
             sc->tx_from_pubkey ? "from_pubkey" : "NULL", sc->tx_channel_hash ? "channel_hash" : "NULL",
             sc->tx_scope_name ? "scope_name" : "NULL");
    return sql;
}

static void tx_append(msn_store_t *s, sqlite3_stmt *st)
{
    if (s->n_tx == s->cap_tx) {
        s->cap_tx = s->cap_tx ? s->cap_tx * 2 : 4096;
        s->tx = msn_xrealloc(s->tx, s->cap_tx * sizeof(msn_tx_t));
    }
    msn_tx_t *t = &s->tx[s->n_tx];
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(st, 0);
    t->raw_hex = col_text(s->arena, st, 1);
    t->hash = col_text(s->arena, st, 2);
    t->first_seen = col_text(s->arena, st, 3);
    t->route_type = col_null(st, 4) ? -1 : sqlite3_column_int(st, 4);
    t->payload_type = col_null(st, 5) ? -1 : sqlite3_column_int(st, 5);
    t->decoded_json = col_text(s->arena, st, 6);
    t->from_pubkey = col_text(s->arena, st, 7);
    t->channel_hash = col_text(s->arena, st, 8);
    t->scope_name = col_text(s->arena, st, 9);
    t->best = -1;
    t->dirty = 1;
    if (t->raw_hex == NULL)
        t->raw_hex = "";
    if (t->hash == NULL || t->first_seen == NULL) {
        msn_warn("transmission %lld has a NULL hash or first_seen; serving it with empty values",
                 (long long)t->id);
        s->skipped_rows++;
        if (t->hash == NULL)
            t->hash = "";
        if (t->first_seen == NULL)
            t->first_seen = "";
    }
    if (msn_parse_time_ms(t->first_seen, &t->first_seen_ms) < 0)
        t->first_seen_ms = 0;
    s->n_tx++;
    if (t->id > s->max_tx_id)
        s->max_tx_id = t->id;
}

/* Reads up to limit transmissions after s->max_tx_id. Returns rows read or -1. */
static int load_tx_chunk(msn_store_t *s, sqlite3 *db, int limit, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (prepare(db, tx_sql(&s->schema), &st, err, errlen) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, s->max_tx_id);
    sqlite3_bind_int(st, 2, limit);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tx_append(s, st);
        n++;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading transmissions: %s", sqlite3_errmsg(db));
        n = -1;
    }
    sqlite3_finalize(st);
    return n;
}

/* ---- observations ---- */

/* The observation query: the rows after ?1 in id order (at most ?2), or with one_id the
   row whose id is ?1. */
static const char *obs_sql(const msn_schema_info_t *sc, int one_id)
{
    static char sql[768];
    snprintf(sql, sizeof(sql),
             "SELECT id, transmission_id, %s, direction, snr, rssi, score, path_json, timestamp, %s "
             "FROM observations WHERE %s",
             sc->obs_v3 ? "observer_idx" : "(SELECT rowid FROM observers WHERE observers.id = observations.observer_id)",
             sc->obs_resolved_path ? "resolved_path" : "NULL",
             one_id ? "id = ?1" : "id > ?1 ORDER BY id LIMIT ?2");
    return sql;
}

static void tx_add_obs(msn_store_t *s, msn_tx_t *t, uint32_t oi)
{
    if (t->n_obs == t->cap_obs) {
        t->cap_obs = t->cap_obs ? t->cap_obs * 2 : 2;
        t->obs = msn_xrealloc(t->obs, t->cap_obs * sizeof(uint32_t));
    }
    t->obs[t->n_obs++] = oi;
    if (s->obs[oi].timestamp > t->latest)
        t->latest = s->obs[oi].timestamp;
    if (t->best < 0 || obs_better(&s->obs[oi], &s->obs[t->best]))
        t->best = (int32_t)oi;
    t->dirty = 1;
}

/* Fills o's columns but path_json and resolved_path from the current row of obs_sql's
   statement (direction interned, its copy in arena a). */
static void obs_cols(msn_store_t *s, msn_arena_t *a, sqlite3_stmt *st, msn_obs_t *o)
{
    int hops;
    o->observer_rowid = col_null(st, 2) ? -1 : sqlite3_column_int64(st, 2);
    o->direction = col_interned_in(s, a, st, 3, &hops);
    if (!col_null(st, 4)) {
        o->snr = sqlite3_column_double(st, 4);
        o->has_snr = 1;
    }
    if (!col_null(st, 5)) {
        o->rssi = sqlite3_column_double(st, 5);
        o->has_rssi = 1;
    }
    if (!col_null(st, 6)) {
        o->score = sqlite3_column_double(st, 6);
        o->has_score = 1;
    }
    o->timestamp = sqlite3_column_int64(st, 8);
}

/* Sets o's resolved_path from its text rp[0..rp_len) (NULL when the column is NULL; key ids
   in arena a); logs what cannot be parsed and counts it in *skipped. */
static void obs_resolved(msn_store_t *s, msn_arena_t *a, msn_obs_t *o, const char *rp, size_t rp_len,
                         int64_t *skipped)
{
    if (parse_resolved(s, a, rp, rp_len, o) < 0) {
        msn_warn("observation %lld has an unparsable resolved_path; served without it", (long long)o->id);
        (*skipped)++;
    }
}

/* Sets o's hop count from its interned path_json's (intern_text's hops: -1 when it is not
   an array of strings, logged and counted in *skipped). */
static void obs_hops(msn_obs_t *o, int hops, int64_t *skipped)
{
    o->hops = (uint8_t)(hops < 0 ? 0 : hops);
    if (hops < 0) {
        msn_warn("observation %lld has an unparsable path_json; served as an empty path", (long long)o->id);
        (*skipped)++;
    }
}

/* Fills o (id and tx_id already set) from the current row of obs_sql's statement. */
static void obs_fill(msn_store_t *s, sqlite3_stmt *st, msn_obs_t *o)
{
    int hops;
    obs_cols(s, s->arena, st, o);
    o->path_json = col_interned_in(s, s->arena, st, 7, &hops);
    const char *rp = (const char *)sqlite3_column_text(st, 9);
    obs_resolved(s, s->arena, o, rp, (size_t)sqlite3_column_bytes(st, 9), &s->skipped_rows);
    obs_hops(o, hops, &s->skipped_rows);
}

/* Appends the observation of the current row to transmission t. */
static void obs_append(msn_store_t *s, sqlite3_stmt *st, int64_t id, msn_tx_t *t)
{
    if (s->n_obs == s->cap_obs) {
        s->cap_obs = s->cap_obs ? s->cap_obs * 2 : 16384;
        s->obs = msn_xrealloc(s->obs, s->cap_obs * sizeof(msn_obs_t));
    }
    msn_obs_t *o = &s->obs[s->n_obs];
    memset(o, 0, sizeof(*o));
    o->id = id;
    o->tx_id = t->id;
    obs_fill(s, st, o);
    tx_add_obs(s, t, s->n_obs);
    s->n_obs++;
}

#define ORPHANS_LOGGED 20 /* orphan and waiting observations logged one by one; then every 1000th */

static void log_orphan(msn_store_t *s, const char *fmt, int64_t id, int64_t txid)
    __attribute__((format(printf, 2, 0)));

static void log_orphan(msn_store_t *s, const char *fmt, int64_t id, int64_t txid)
{
    s->logged_orphans++;
    if (s->logged_orphans <= ORPHANS_LOGGED || s->logged_orphans % 1000 == 0)
        msn_warn(fmt, (long long)id, (long long)txid);
    if (s->logged_orphans == ORPHANS_LOGGED)
        msn_warn("further orphan or waiting observations are logged every 1000th (healthz counts them all)");
}

static int cmp_pend(const void *a, const void *b)
{
    int64_t x = ((const msn_store_pend_t *)a)->obs_id, y = ((const msn_store_pend_t *)b)->obs_id;
    return x < y ? -1 : x > y;
}

/* Queues observation id (transmission txid, not committed yet) to be read again once that
   transmission is loaded. The list is kept in observation id order (ids only grow here,
   except after a full load, which starts with an empty list). */
static void pend_add(msn_store_t *s, int64_t id, int64_t txid)
{
    if (s->n_pend == MSN_STORE_PENDING_MAX) {
        msn_warn("observation %lld gave up waiting for transmission %lld (%d observations wait already): skipped "
                 "until the next full load",
                 (long long)s->pend[0].obs_id, (long long)s->pend[0].tx_id, MSN_STORE_PENDING_MAX);
        memmove(s->pend, s->pend + 1, (s->n_pend - 1) * sizeof(*s->pend));
        s->n_pend--;
        s->pend_given_up++;
        s->orphan_obs++;
    }
    if (s->n_pend == s->cap_pend) {
        s->cap_pend = s->cap_pend ? s->cap_pend * 2 : 64;
        s->pend = msn_xrealloc(s->pend, s->cap_pend * sizeof(*s->pend));
    }
    s->pend[s->n_pend].obs_id = id;
    s->pend[s->n_pend].tx_id = txid;
    s->n_pend++;
    if (s->n_pend > 1 && s->pend[s->n_pend - 2].obs_id > id)
        qsort(s->pend, s->n_pend, sizeof(*s->pend), cmp_pend);
    log_orphan(s, "observation %lld refers to transmission %lld, which is not in the database (yet): skipped; "
                  "taken in if that transmission is committed later", id, txid);
}

/* 1 when transmission txid exists in the database now. */
static int tx_exists(sqlite3_stmt *q, int64_t txid)
{
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, txid);
    int found = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_reset(q);
    return found;
}

/* Reads up to limit observations after s->max_obs_id. An observation whose transmission
 * is loaded is added; one whose transmission exists in the database but is not loaded yet
 * (ahead of the transmission cursor) ends the chunk with *blocked set, so that the
 * transmissions are read first; one whose transmission does not exist is skipped:
 * it waits (pend_add) when its transmission id is above the loaded ones, else it is an
 * orphan. Returns rows consumed (skipped ones included), or -1. */
static int load_obs_chunk(msn_store_t *s, sqlite3 *db, int limit, int *blocked, char *err, size_t errlen)
{
    sqlite3_stmt *st, *q = NULL;
    *blocked = 0;
    if (prepare(db, obs_sql(&s->schema, 0), &st, err, errlen) < 0)
        return -1;
    if (prepare(db, "SELECT 1 FROM transmissions WHERE id = ?1", &q, err, errlen) < 0) {
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_bind_int64(st, 1, s->max_obs_id);
    sqlite3_bind_int(st, 2, limit);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        int64_t txid = sqlite3_column_int64(st, 1);
        msn_tx_t *t = txid > s->max_tx_id ? NULL : msn_store_tx_by_id(s, txid);
        if (t == NULL && txid > s->max_tx_id) {
            if (tx_exists(q, txid)) {
                *blocked = 1;
                break;
            }
            s->max_obs_id = id;
            n++;
            pend_add(s, id, txid);
            continue;
        }
        s->max_obs_id = id;
        n++;
        if (t == NULL) {
            log_orphan(s, "observation %lld refers to missing transmission %lld: skipped", id, txid);
            s->orphan_obs++;
            continue;
        }
        obs_append(s, st, id, t);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading observations: %s", sqlite3_errmsg(db));
        n = -1;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(q);
    return n;
}

/* Records obs[idx] as appended out of id order. */
static void late_add(msn_store_t *s, uint32_t idx)
{
    if (s->n_late == s->cap_late) {
        s->cap_late = s->cap_late ? s->cap_late * 2 : 64;
        s->late = msn_xrealloc(s->late, s->cap_late * sizeof(*s->late));
    }
    s->late[s->n_late++] = idx; /* appended: indexes only grow */
}

int msn_store_obs_is_late(const msn_store_t *s, uint32_t idx)
{
    uint32_t lo = 0, hi = s->n_late;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->late[mid] < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_late && s->late[lo] == idx;
}

/* Takes in the waiting observations whose transmission is loaded now (read again by id:
 * the row may have changed); those whose transmission id the loaded ones passed without
 * it become orphans. Returns the observations added, or -1 with err set. */
static int take_pending(msn_store_t *s, sqlite3 *db, char *err, size_t errlen)
{
    if (s->n_pend == 0)
        return 0;
    sqlite3_stmt *st;
    if (prepare(db, obs_sql(&s->schema, 1), &st, err, errlen) < 0)
        return -1;
    int added = 0;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < s->n_pend; i++) {
        msn_store_pend_t p = s->pend[i];
        if (p.tx_id > s->max_tx_id) {
            s->pend[keep++] = p; /* its transmission may still come */
            continue;
        }
        msn_tx_t *t = msn_store_tx_by_id(s, p.tx_id);
        if (t == NULL) {
            log_orphan(s, "observation %lld: transmission %lld never arrived: skipped until the next full load", p.obs_id,
                       p.tx_id);
            s->orphan_obs++;
            continue;
        }
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, p.obs_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_int64(st, 1) == p.tx_id) {
            late_add(s, s->n_obs);
            obs_append(s, st, p.obs_id, t);
            added++;
            msn_info("observation %lld: its transmission %lld arrived; taken in", (long long)p.obs_id,
                     (long long)p.tx_id);
        } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
            msn_info("observation %lld changed or was deleted while it waited for transmission %lld; dropped",
                     (long long)p.obs_id, (long long)p.tx_id);
        } else {
            snprintf(err, errlen, "reading observation %lld: %s", (long long)p.obs_id, sqlite3_errmsg(db));
            /* keep this one and the rest for the next poll */
            for (uint32_t j = i; j < s->n_pend; j++)
                s->pend[keep++] = s->pend[j];
            s->n_pend = keep;
            sqlite3_finalize(st);
            return -1;
        }
    }
    s->n_pend = keep;
    sqlite3_finalize(st);
    return added;
}

/* ---- nodes and observers ---- */

/* Reads the nodes (strings in a) into *out / *n_out; of the store only skipped_rows changes. */
static int load_nodes(msn_store_t *s, sqlite3 *db, msn_arena_t *a, msn_node_t **out, uint32_t *n_out,
                      char *err, size_t errlen)
{
    const msn_schema_info_t *sc = &s->schema;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT public_key, name, role, lat, lon, last_seen, first_seen, advert_count, %s, %s, %s, %s "
             "FROM nodes",
             sc->nodes_battery_mv ? "battery_mv" : "NULL", sc->nodes_temperature_c ? "temperature_c" : "NULL",
             sc->nodes_foreign_advert ? "foreign_advert" : "0", sc->nodes_default_scope ? "default_scope" : "NULL");
    sqlite3_stmt *st;
    if (prepare(db, sql, &st, err, errlen) < 0)
        return -1;
    uint32_t cap = 256, n = 0;
    msn_node_t *nodes = msn_xmalloc(cap * sizeof(*nodes));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (col_null(st, 0)) {
            s->skipped_rows++;
            continue;
        }
        if (n == cap) {
            cap *= 2;
            nodes = msn_xrealloc(nodes, cap * sizeof(*nodes));
        }
        msn_node_t *nd = &nodes[n++];
        memset(nd, 0, sizeof(*nd));
        nd->public_key = col_text(a, st, 0);
        nd->name = col_text(a, st, 1);
        nd->role = col_text(a, st, 2);
        if (!col_null(st, 3)) {
            nd->lat = sqlite3_column_double(st, 3);
            nd->has_lat = 1;
        }
        if (!col_null(st, 4)) {
            nd->lon = sqlite3_column_double(st, 4);
            nd->has_lon = 1;
        }
        nd->last_seen = col_text(a, st, 5);
        nd->first_seen = col_text(a, st, 6);
        nd->advert_count = sqlite3_column_int64(st, 7);
        if (!col_null(st, 8)) {
            nd->battery_mv = sqlite3_column_int64(st, 8);
            nd->has_battery = 1;
        }
        if (!col_null(st, 9)) {
            nd->temperature_c = sqlite3_column_double(st, 9);
            nd->has_temp = 1;
        }
        nd->foreign = sqlite3_column_int(st, 10) != 0;
        nd->default_scope = col_text(a, st, 11);
        if (nd->last_seen == NULL || msn_parse_time_ms(nd->last_seen, &nd->last_seen_ms) < 0)
            nd->last_seen_ms = 0;
        if (nd->first_seen == NULL || msn_parse_time_ms(nd->first_seen, &nd->first_seen_ms) < 0)
            nd->first_seen_ms = 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading nodes: %s", sqlite3_errmsg(db));
        free(nodes);
        return -1;
    }
    *out = nodes;
    *n_out = n;
    return 0;
}

/* Builds s->observer_at for the observers just loaded: every observation's lookup is then
   one load instead of a binary search. Rowids are SQLite's, normally 1..n; sparse ones
   (a table with many rows deleted) keep the search. */
static void index_observers(msn_store_t *s)
{
    free(s->observer_at);
    s->observer_at = NULL;
    s->n_observer_at = 0;
    s->observer_at_of = NULL;
    if (s->n_observers == 0)
        return;
    int64_t lo = s->observers[0].rowid, hi = s->observers[s->n_observers - 1].rowid;
    if (lo < 0 || hi >= (int64_t)s->n_observers * 16 + 4096)
        return;
    s->n_observer_at = (uint32_t)hi + 1;
    s->observer_at = msn_xcalloc(s->n_observer_at, sizeof(uint32_t));
    for (uint32_t i = 0; i < s->n_observers; i++)
        s->observer_at[s->observers[i].rowid] = i + 1;
    s->observer_at_of = s->observers;
    s->observer_at_count = s->n_observers;
}

/* Reads the observers (strings in a) into *out / *n_out; the store is not changed. */
static int load_observers(const msn_store_t *s, sqlite3 *db, msn_arena_t *a, msn_observer_t **out,
                          uint32_t *n_out, char *err, size_t errlen)
{
    const msn_schema_info_t *sc = &s->schema;
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT rowid, id, name, %s, last_seen, first_seen, packet_count, %s, %s, %s, %s, %s, %s, %s, "
             "%s, %s, %s, %s, %s, %s FROM observers ORDER BY rowid",
             sc->observers_iata ? "iata" : "NULL", sc->observers_model ? "model" : "NULL",
             sc->observers_firmware ? "firmware" : "NULL", sc->observers_client_version ? "client_version" : "NULL",
             sc->observers_radio ? "radio" : "NULL", sc->observers_battery_mv ? "battery_mv" : "NULL",
             sc->observers_uptime_secs ? "uptime_secs" : "NULL", sc->observers_noise_floor ? "noise_floor" : "NULL",
             sc->observers_last_packet_at ? "last_packet_at" : "NULL", sc->observers_inactive ? "inactive" : "0",
             sc->observers_clock_skew ? "clock_skew_seconds" : "NULL",
             sc->observers_clock_skew ? "clock_skew_count_24h" : "0",
             sc->observers_clock_skew ? "clock_last_naive_at" : "NULL", sc->observers_can_relay ? "can_relay" : "NULL");
    sqlite3_stmt *st;
    if (prepare(db, sql, &st, err, errlen) < 0)
        return -1;
    uint32_t cap = 64, n = 0;
    msn_observer_t *obs = msn_xmalloc(cap * sizeof(*obs));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            obs = msn_xrealloc(obs, cap * sizeof(*obs));
        }
        msn_observer_t *o = &obs[n++];
        memset(o, 0, sizeof(*o));
        o->rowid = sqlite3_column_int64(st, 0);
        o->id = col_text(a, st, 1);
        if (o->id == NULL)
            o->id = "";
        o->name = col_text(a, st, 2);
        o->iata = col_text(a, st, 3);
        o->last_seen = col_text(a, st, 4);
        o->first_seen = col_text(a, st, 5);
        o->packet_count = sqlite3_column_int64(st, 6);
        o->model = col_text(a, st, 7);
        o->firmware = col_text(a, st, 8);
        o->client_version = col_text(a, st, 9);
        o->radio = col_text(a, st, 10);
        if (!col_null(st, 11)) {
            o->battery_mv = sqlite3_column_int64(st, 11);
            o->has_battery = 1;
        }
        if (!col_null(st, 12)) {
            o->uptime_secs = sqlite3_column_int64(st, 12);
            o->has_uptime = 1;
        }
        if (!col_null(st, 13)) {
            o->noise_floor = sqlite3_column_double(st, 13);
            o->has_noise = 1;
        }
        o->last_packet_at = col_text(a, st, 14);
        o->inactive = sqlite3_column_int(st, 15) != 0;
        if (!col_null(st, 16)) {
            o->clock_skew_seconds = sqlite3_column_int64(st, 16);
            o->has_clock_skew = 1;
        }
        o->clock_skew_count_24h = sqlite3_column_int64(st, 17);
        o->clock_last_naive_at = col_text(a, st, 18);
        if (!col_null(st, 19)) {
            o->can_relay = sqlite3_column_int(st, 19) != 0;
            o->has_can_relay = 1;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading observers: %s", sqlite3_errmsg(db));
        free(obs);
        return -1;
    }
    *out = obs;
    *n_out = n;
    return 0;
}

static int node_cmp_key(const void *a, const void *b)
{
    return strcmp(((const msn_node_t *)a)->public_key, ((const msn_node_t *)b)->public_key);
}

/* Hash size of an advert from its raw hex: (path byte >> 6) + 1, or 0 when unreadable. */
static int advert_hash_size(const char *raw_hex)
{
    if (raw_hex == NULL || strlen(raw_hex) < 4)
        return 0;
    unsigned h, p;
    if (sscanf(raw_hex, "%2x%2x", &h, &p) != 2)
        return 0;
    int route = h & 3;
    if (route == 0 || route == 3) {
        if (strlen(raw_hex) < 12 || sscanf(raw_hex + 10, "%2x", &p) != 1)
            return 0;
    }
    int size = (int)(p >> 6) + 1;
    return size <= 3 ? size : 0;
}

int msn_store_reload_small(msn_store_t *s, sqlite3 *db, int64_t now_s, char *err, size_t errlen)
{
    msn_arena_t *a = msn_arena_new();
    msn_node_t *nodes = NULL;
    msn_observer_t *obs = NULL;
    uint32_t n_nodes = 0, n_obs = 0;
    /* both read before either replaces the store's: a failure leaves it as it was */
    if (load_nodes(s, db, a, &nodes, &n_nodes, err, errlen) < 0 ||
        load_observers(s, db, a, &obs, &n_obs, err, errlen) < 0) {
        free(nodes);
        msn_arena_free(a);
        return -1;
    }
    free(s->nodes);
    s->nodes = nodes;
    s->n_nodes = n_nodes;
    free(s->observers);
    s->observers = obs;
    s->n_observers = n_obs;
    index_observers(s);
    msn_arena_free(s->small_arena);
    s->small_arena = a;
    qsort(s->nodes, s->n_nodes, sizeof(msn_node_t), node_cmp_key);
    /* Hash sizes: from each node's adverts, newest last (tx sorted by id). */
    for (uint32_t i = 0; i < s->n_tx; i++) {
        const msn_tx_t *t = &s->tx[i];
        if (t->payload_type != 4 || t->from_pubkey == NULL || t->from_pubkey[0] == '\0')
            continue;
        msn_node_t key = {.public_key = t->from_pubkey};
        msn_node_t *nd = bsearch(&key, s->nodes, s->n_nodes, sizeof(msn_node_t), node_cmp_key);
        if (nd == NULL)
            continue;
        int hs = advert_hash_size(t->raw_hex);
        if (hs > 0) {
            nd->hash_size = (uint8_t)hs;
            nd->hash_sizes_mask |= (uint8_t)(1u << (hs - 1));
        }
    }
    /* packetsLastHour per observer: timestamp > now - 1 h, as CoreScope counts them. */
    for (uint32_t i = 0; i < s->n_observers; i++)
        s->observers[i].packets_last_hour = 0;
    /* observations are in id order, which follows ingest time up to late copies: walk back
       from the newest and stop 10 minutes past the window */
    for (uint32_t i = s->n_obs; i-- > 0;) {
        const msn_obs_t *o = &s->obs[i];
        if (o->timestamp < now_s - 3600 - 600) {
            if (s->n_late > 0 && msn_store_obs_is_late(s, i))
                continue; /* taken in out of order: says nothing of the ones before it */
            break;
        }
        if (o->timestamp <= now_s - 3600)
            continue;
        msn_observer_t *ob = (msn_observer_t *)msn_store_observer(s, o->observer_rowid);
        if (ob)
            ob->packets_last_hour++;
    }
    return 0;
}

/* ---- the full load's observation reader ----
 *
 * During msn_store_load's observation pass a second thread steps the SQLite statements
 * on a connection of its own when one can be opened (then the transmissions are read on
 * the publisher thread meanwhile, as far as the observations need them), else on the
 * store's once the transmissions are read (chunks of chunk_rows * 4 rows, each its own
 * read transaction, as load_obs_chunk reads them) and makes each row's observation
 * (interning direction and path_json) into batches; the publisher thread takes the batches
 * in order, parses each observation's resolved path (interning its keys) and appends the
 * observations to their transmissions: the reader is the busier of the two.
 * The paths of a batch are interned after all its rows are read, with the string table's
 * entries fetched into the cache a few rows ahead: one path lookup is a few cache misses
 * (the table's slot, the entry, the text), the largest part of the reader's work on a
 * large database when made row by row. Ownership while the reader runs: the connection it
 * reads, the string table (strs, str_hops, str_ix) and the reader's own arena (the
 * interned copies; tied to the store's arena afterwards) are the reader's; everything else
 * in the store, the key table (keys, key_ix) included, is the publisher thread's. A batch
 * is handed over through handoff.h (ready set by the reader, cleared by the publisher
 * thread). A row whose transmission is above every loaded one ends the pipeline (the
 * reader is joined first): load_obs_chunk then reads on from that row, which may need the
 * connection (tx_exists). */

/* Batches in flight: enough for the reader to read on while the publisher thread reads a
   chunk of transmissions (a few hundred thousand observations' worth on a large database). */
#define PIPE_SLOTS 32
#define PIPE_ROWS 4096
#define PIPE_PATH_BYTES (16u << 20) /* a batch ends early past this many bytes of paths */
#define PIPE_AHEAD 8                 /* rows between fetching a path's table entry and its lookup */

/* Where a row's text is in a batch's buffer. */
typedef struct {
    uint32_t off, len; /* len UINT32_MAX: NULL */
} pipetext_t;

/* A row's path_json text, copied out of the statement until its batch is interned. */
typedef struct {
    uint64_t hash;
    pipetext_t at; /* in obspipe_t.paths */
} pipepath_t;

typedef struct {
    msn_obs_t *rows; /* complete but for their transmission and resolved path */
    pipetext_t *rp;  /* per row: its resolved_path text in rp_text, parsed by the publisher thread */
    msn_buf_t rp_text;
    uint32_t n;
    int ready; /* handoff.h */
    int end;   /* the last batch: 1 every row was read, -1 an error (pipe err) */
} pipebatch_t;

typedef struct {
    msn_store_t *s;
    sqlite3 *db;
    int chunk;          /* rows per statement */
    msn_arena_t *arena; /* the reader's copies of interned strings, and resolved paths */
    int64_t cursor;     /* the last id read */
    int64_t skipped;    /* rows the reader logged as corrupt (added to skipped_rows at the end) */
    msn_handoff_t h;
    char err[256];
    pipebatch_t b[PIPE_SLOTS];
    msn_buf_t paths;              /* the batch being read: its path_json texts, each with a NUL */
    pipepath_t path[PIPE_ROWS];   /* and where each row's is */
} obspipe_t;

/* Fetches into the cache what interning path pp will read, in two steps: the string
   table's slot was fetched when the row was read; `entry` (step 1) then fetches the entry
   the slot names, step 2 the text that entry points to. Only a hint: the table may change
   before the lookup. */
static void pipe_prefetch(const msn_store_t *s, const pipepath_t *pp, int step)
{
    if (pp->at.len == UINT32_MAX)
        return;
    msn_hmap_probe_t pr;
    uint32_t e = msn_hmap_first(&s->str_ix, pp->hash, &pr);
    if (e == MSN_HMAP_NONE)
        return;
    if (step == 1) {
        __builtin_prefetch(&s->strs[e]);
        __builtin_prefetch(&s->str_hops[e]);
    } else {
        __builtin_prefetch(s->strs[e]);
    }
}

/* Interns the paths of batch b (read by pipe_fill) and sets each row's hop count. */
static void pipe_intern(obspipe_t *p, pipebatch_t *b)
{
    msn_store_t *s = p->s;
    for (uint32_t i = 0; i < b->n; i++) {
        if (i + 2 * PIPE_AHEAD < b->n)
            pipe_prefetch(s, &p->path[i + 2 * PIPE_AHEAD], 1);
        if (i + PIPE_AHEAD < b->n)
            pipe_prefetch(s, &p->path[i + PIPE_AHEAD], 2);
        const pipepath_t *pp = &p->path[i];
        msn_obs_t *o = &b->rows[i];
        int hops = 0;
        if (pp->at.len != UINT32_MAX)
            o->path_json = intern_text(s, p->arena, p->paths.data + pp->at.off, pp->at.len, pp->hash, &hops);
        obs_hops(o, hops, &p->skipped);
    }
}

/* Appends column i's text with its NUL to buf and says where in *at; returns the text, or
   NULL (at->len UINT32_MAX) when the column is NULL. */
static const unsigned char *copy_text(msn_buf_t *buf, pipetext_t *at, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    at->len = UINT32_MAX;
    if (t == NULL)
        return NULL;
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    at->off = (uint32_t)buf->len;
    at->len = (uint32_t)n;
    msn_buf_append(buf, t, n + 1);
    return t;
}

/* Reads rows into b until it is full or the table ends: their paths copied into p->paths
   (pipe_intern interns them), their resolved paths into b->rp_text (the publisher thread
   parses them); returns 0, 1 (end) or -1 (error). */
static int pipe_read(obspipe_t *p, sqlite3_stmt *st, int *in_chunk, pipebatch_t *b)
{
    b->n = 0;
    p->paths.len = 0;
    b->rp_text.len = 0;
    while (b->n < PIPE_ROWS && p->paths.len < PIPE_PATH_BYTES && b->rp_text.len < PIPE_PATH_BYTES) {
        if (*in_chunk == 0) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, p->cursor);
            sqlite3_bind_int(st, 2, p->chunk);
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            if (*in_chunk < p->chunk)
                return 1;
            *in_chunk = 0; /* a full chunk: the next one, in a new read transaction */
            continue;
        }
        if (rc != SQLITE_ROW) {
            snprintf(p->err, sizeof(p->err), "%s", sqlite3_errmsg(p->db));
            return -1;
        }
        (*in_chunk)++;
        msn_obs_t *o = &b->rows[b->n++];
        memset(o, 0, sizeof(*o));
        o->id = sqlite3_column_int64(st, 0);
        o->tx_id = sqlite3_column_int64(st, 1);
        p->cursor = o->id;
        obs_cols(p->s, p->arena, st, o);
        pipepath_t *pp = &p->path[b->n - 1];
        const unsigned char *t = copy_text(&p->paths, &pp->at, st, 7);
        if (t != NULL) {
            pp->hash = msn_hash_bytes(t, pp->at.len);
            msn_hmap_prefetch(&p->s->str_ix, pp->hash);
        }
        copy_text(&b->rp_text, &b->rp[b->n - 1], st, 9);
    }
    return 0;
}

/* Reads rows into b until it is full or the table ends, their paths interned at the end;
   returns 0, 1 (end) or -1 (error). */
static int pipe_fill(obspipe_t *p, sqlite3_stmt *st, int *in_chunk, pipebatch_t *b)
{
    int ret = pipe_read(p, st, in_chunk, b);
    pipe_intern(p, b);
    return ret;
}

static void *pipe_main(void *arg)
{
    obspipe_t *p = arg;
    sqlite3_stmt *st = NULL;
    int end = prepare(p->db, obs_sql(&p->s->schema, 0), &st, p->err, sizeof(p->err)) < 0 ? -1 : 0;
    int in_chunk = 0;
    for (uint32_t k = 0;; k = (k + 1) % PIPE_SLOTS) {
        pipebatch_t *b = &p->b[k];
        if (msn_handoff_wait_free(&p->h, &b->ready) < 0)
            break;
        if (end == 0)
            end = pipe_fill(p, st, &in_chunk, b);
        else
            b->n = 0;
        b->end = end;
        msn_handoff_fill(&p->h, &b->ready);
        if (end != 0)
            break;
    }
    sqlite3_finalize(st);
    return NULL;
}

static void free_arena(void *a)
{
    msn_arena_free(a);
}

/* The observation pass of a full load through the reader thread, reading on rdb; the
 * transmissions an observation refers to are read on db first (chunks of chunk_rows) until
 * *tx_done (rdb == db: the caller read them all before). Returns 0 when every observation
 * was read, 1 when the sequential pass must read on from s->max_obs_id (a row ahead of
 * every transmission, or no thread), -2 when stop was set, -1 with err set. */
static int load_obs_piped(msn_store_t *s, sqlite3 *db, sqlite3 *rdb, int chunk_rows, int *tx_done,
                          msn_store_progress_cb cb, void *ctx, const atomic_int *stop, char *err, size_t errlen)
{
    int chunk = chunk_rows * 4;
    obspipe_t *p = msn_xmalloc(sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->s = s;
    p->db = rdb;
    p->chunk = chunk;
    p->cursor = s->max_obs_id;
    p->arena = msn_arena_new();
    for (int k = 0; k < PIPE_SLOTS; k++) {
        p->b[k].rows = msn_xmalloc(PIPE_ROWS * sizeof(msn_obs_t));
        p->b[k].rp = msn_xmalloc(PIPE_ROWS * sizeof(pipetext_t));
    }
    msn_handoff_init(&p->h);
    pthread_t th;
    int ret = 0, started = pthread_create(&th, NULL, pipe_main, p) == 0;
    if (started)
        pthread_setname_np(th, "msn-obsread");
    else {
        msn_warn("cannot start the observation reader thread: reading on the publisher thread");
        ret = 1;
    }
    int64_t since_cb = 0;
    for (uint32_t k = 0; started; k = (k + 1) % PIPE_SLOTS) {
        pipebatch_t *b = &p->b[k];
        msn_handoff_wait_filled(&p->h, &b->ready);
        for (uint32_t i = 0; i < b->n; i++) {
            const msn_obs_t *r = &b->rows[i];
            int64_t id = r->id, txid = r->tx_id;
            while (txid > s->max_tx_id && !*tx_done) { /* its transmission may be in the next chunks */
                if (stop != NULL && atomic_load(stop)) {
                    ret = -2;
                    goto out;
                }
                int n = load_tx_chunk(s, db, chunk_rows, err, errlen);
                if (n < 0) {
                    ret = -1;
                    goto out;
                }
                if (cb)
                    cb(ctx, s->n_tx, s->n_obs);
                if (n < chunk_rows)
                    *tx_done = 1;
            }
            msn_tx_t *t = txid > s->max_tx_id ? NULL : msn_store_tx_by_id(s, txid);
            if (t == NULL && txid > s->max_tx_id) {
                ret = 1; /* load_obs_chunk decides: wait for it, or read the transmissions first */
                goto out;
            }
            s->max_obs_id = id;
            if (t == NULL) {
                log_orphan(s, "observation %lld refers to missing transmission %lld: skipped", id, txid);
                s->orphan_obs++;
                continue;
            }
            if (s->n_obs == s->cap_obs) {
                s->cap_obs = s->cap_obs ? s->cap_obs * 2 : 16384;
                s->obs = msn_xrealloc(s->obs, s->cap_obs * sizeof(msn_obs_t));
            }
            s->obs[s->n_obs] = *r;
            const pipetext_t *rp = &b->rp[i];
            if (rp->len != UINT32_MAX)
                obs_resolved(s, s->arena, &s->obs[s->n_obs], b->rp_text.data + rp->off, rp->len,
                             &s->skipped_rows);
            tx_add_obs(s, t, s->n_obs);
            s->n_obs++;
        }
        since_cb += b->n;
        if (cb && since_cb >= chunk) {
            cb(ctx, s->n_tx, s->n_obs);
            since_cb = 0;
        }
        int end = b->end;
        msn_handoff_give_back(&p->h, &b->ready);
        if (end > 0)
            break;
        if (end < 0) {
            snprintf(err, errlen, "reading observations: %s", p->err);
            ret = -1;
            break;
        }
        if (stop != NULL && atomic_load(stop)) {
            ret = -2;
            break;
        }
    }
out:
    if (started) {
        msn_handoff_quit(&p->h);
        pthread_join(th, NULL);
    }
    s->skipped_rows += p->skipped;
    if (cb)
        cb(ctx, s->n_tx, s->n_obs);
    /* the strings interned by the reader live as long as the store's */
    msn_arena_defer(s->arena, free_arena, p->arena);
    for (int k = 0; k < PIPE_SLOTS; k++) {
        free(p->b[k].rows);
        free(p->b[k].rp);
        msn_buf_free(&p->b[k].rp_text);
    }
    msn_buf_free(&p->paths);
    msn_handoff_destroy(&p->h);
    free(p);
    return ret;
}

int msn_store_load(msn_store_t *s, sqlite3 *db, int chunk_rows, msn_store_progress_cb cb, void *ctx,
                   const atomic_int *stop, char *err, size_t errlen)
{
    if (msn_schema_detect(db, &s->schema, err, errlen) < 0)
        return -1;
    if (!s->schema.has_observations || !s->schema.has_nodes || !s->schema.has_observers) {
        snprintf(err, errlen, "not a CoreScope database: the observations, nodes or observers table is missing");
        return -1;
    }
    /* the observations are read on a second connection while this one reads the
       transmissions they need; without one, the transmissions come first */
    int tx_done = 0, piped = 1, own_reader = 0;
    sqlite3 *rdb = NULL;
    const char *path = sqlite3_db_filename(db, "main");
    char rerr[256];
    if (path == NULL || path[0] == '\0' || msn_sqlite_open(path, 1, &rdb, rerr, sizeof(rerr)) < 0)
        rdb = NULL;
    /* the second connection opened the file the path names now: when that is no longer the
       first connection's file (replaced since it was opened), it would mix two databases
       into one generation; the first connection then reads everything, and the master's
       check of the file reloads the new one after */
    int moved = 0;
    if (rdb != NULL && (sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK || moved)) {
        msn_info("the database file was replaced while it was open: this load reads the file it opened alone");
        sqlite3_close(rdb);
        rdb = NULL;
    }
    if (rdb != NULL) {
        own_reader = 1;
        piped = load_obs_piped(s, db, rdb, chunk_rows, &tx_done, cb, ctx, stop, err, errlen);
        sqlite3_close(rdb);
        if (piped < 0)
            return piped;
    }
    while (!tx_done) {
        if (stop != NULL && atomic_load(stop))
            return -2;
        int n = load_tx_chunk(s, db, chunk_rows, err, errlen);
        if (n < 0)
            return -1;
        if (cb)
            cb(ctx, s->n_tx, s->n_obs);
        if (n < chunk_rows)
            tx_done = 1;
    }
    if (!own_reader) {
        piped = load_obs_piped(s, db, db, chunk_rows, &tx_done, cb, ctx, stop, err, errlen);
        if (piped < 0)
            return piped;
    }
    for (; piped != 0;) {
        if (stop != NULL && atomic_load(stop))
            return -2;
        int blocked;
        int n = load_obs_chunk(s, db, chunk_rows * 4, &blocked, err, errlen);
        if (n < 0)
            return -1;
        if (cb)
            cb(ctx, s->n_tx, s->n_obs);
        if (blocked || n < chunk_rows * 4)
            break;
    }
    for (;;) {
        int n;
        if (stop && *stop)
            return -2;
        if (msn_obsmetrics_poll(&s->metrics, db, chunk_rows * 4, &n, err, errlen) < 0)
            return -1;
        if (n < chunk_rows * 4)
            break;
    }
    if (take_pending(s, db, err, errlen) < 0)
        return -1;
    return msn_store_count_nonpositive(s, db, err, errlen);
}

int msn_store_poll(msn_store_t *s, sqlite3 *db, int max_rows, int *n_new_tx, int *n_new_obs, char *err,
                   size_t errlen)
{
    *n_new_tx = *n_new_obs = 0;
    int n = load_tx_chunk(s, db, max_rows, err, errlen);
    if (n < 0)
        return -1;
    *n_new_tx = n;
    uint32_t before = s->n_obs;
    int blocked;
    if (load_obs_chunk(s, db, max_rows * 4, &blocked, err, errlen) < 0)
        return -1;
    if (take_pending(s, db, err, errlen) < 0)
        return -1;
    *n_new_obs = (int)(s->n_obs - before);
    if (msn_obsmetrics_poll(&s->metrics, db, max_rows, NULL, err, errlen) < 0)
        return -1;
    return msn_store_count_nonpositive(s, db, err, errlen);
}

int msn_store_count_nonpositive(msn_store_t *s, sqlite3 *db, char *err, size_t errlen)
{
    static const char *const sql[2] = {"SELECT COUNT(*) FROM transmissions WHERE id <= 0",
                                       "SELECT COUNT(*) FROM observations WHERE id <= 0"};
    static const char *const what[2] = {"transmissions", "observations"};
    int64_t *counts[2] = {&s->nonpositive_tx, &s->nonpositive_obs};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st;
        if (prepare(db, sql[i], &st, err, errlen) < 0)
            return -1;
        int64_t n = 0;
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        else if (rc != SQLITE_DONE) {
            snprintf(err, errlen, "counting %s with an id <= 0: %s", what[i], sqlite3_errmsg(db));
            sqlite3_finalize(st);
            return -1;
        }
        sqlite3_finalize(st);
        if (n != *counts[i] && n > 0)
            msn_warn("%lld %s have an id <= 0: they are not served (ids must be positive)", (long long)n, what[i]);
        *counts[i] = n;
    }
    return 0;
}

/* The first index in [i, end) that is not a late observation, or end. */
static uint32_t next_in_order(const msn_store_t *s, uint32_t i, uint32_t end)
{
    while (i < end && s->n_late > 0 && msn_store_obs_is_late(s, i))
        i++;
    return i;
}

/* The observation with this id, or NULL. Observations are in id order except the late
   ones (store.h), which are looked up on their own; the search steps over them. */
static msn_obs_t *obs_by_id(msn_store_t *s, int64_t id, uint32_t *index)
{
    for (uint32_t k = 0; k < s->n_late; k++)
        if (s->obs[s->late[k]].id == id) {
            *index = s->late[k];
            return &s->obs[s->late[k]];
        }
    uint32_t lo = 0, hi = s->n_obs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t j = next_in_order(s, mid, hi);
        if (j == hi)
            hi = mid;
        else if (s->obs[j].id < id)
            lo = j + 1;
        else
            hi = j;
    }
    lo = next_in_order(s, lo, s->n_obs);
    if (lo < s->n_obs && s->obs[lo].id == id) {
        *index = lo;
        return &s->obs[lo];
    }
    return NULL;
}

int msn_store_refresh_resolved(msn_store_t *s, sqlite3 *db, int64_t from_id, int64_t to_id, int64_t *changed,
                               char *err, size_t errlen)
{
    *changed = 0;
    if (!s->schema.obs_resolved_path || to_id <= from_id)
        return 0;
    sqlite3_stmt *st;
    if (prepare(db,
                "SELECT id, resolved_path FROM observations WHERE id > ?1 AND id <= ?2 AND resolved_path IS NOT NULL "
                "ORDER BY id LIMIT 50000",
                &st, err, errlen) < 0)
        return -1;
    int64_t cursor = from_id;
    for (;;) {
        sqlite3_bind_int64(st, 1, cursor);
        sqlite3_bind_int64(st, 2, to_id);
        int rows = 0, rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(st, 0);
            cursor = id;
            rows++;
            uint32_t oi;
            msn_obs_t *o = obs_by_id(s, id, &oi);
            if (o == NULL || o->rp != NULL)
                continue;
            const char *rp = (const char *)sqlite3_column_text(st, 1);
            if (parse_resolved(s, s->arena, rp, (size_t)sqlite3_column_bytes(st, 1), o) < 0 || o->rp == NULL)
                continue;
            if (s->n_obs_dirty == s->cap_obs_dirty) {
                s->cap_obs_dirty = s->cap_obs_dirty ? s->cap_obs_dirty * 2 : 4096;
                s->obs_dirty = msn_xrealloc(s->obs_dirty, s->cap_obs_dirty * sizeof(uint32_t));
            }
            s->obs_dirty[s->n_obs_dirty++] = oi;
            msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
            if (t)
                t->dirty = 1;
            (*changed)++;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            snprintf(err, errlen, "re-reading resolved paths: %s", sqlite3_errmsg(db));
            sqlite3_finalize(st);
            return -1;
        }
        if (rows < 50000)
            break;
    }
    sqlite3_finalize(st);
    return 0;
}
