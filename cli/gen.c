/*
 * gen.c: `meshsnap gen` (see gen.h): command line, and the run that turns a simulated
 * mesh into a CoreScope database.
 *
 * Flow of a run:
 *   1. world       msn_gen__world_build (nodes, radio graph, observers, flood trees, schedule)
 *   2. calibrate   scale the number of observers per transmission so that the mean
 *                  observations per transmission comes close to --obs-per-tx
 *   3. edges       every plan is computed once (two threads) to derive neighbor_edges
 *                  with the ingestor's rules (data-model spec §7) and the node and
 *                  observer statistics; resolved_path needs the final edge set
 *   4. rows        msn_gen__write_rows (gen_rows.c): a thread renders batches of
 *                  transmissions and their observations (raw_hex, decoded_json, path_json,
 *                  resolved_path via shm/pathres) while this thread inserts them
 *   5. finish      nodes, observers, neighbor_edges, side tables; the indexes dropped for
 *                  the bulk insert are recreated from their original SQL; the database is
 *                  switched to WAL.
 *
 * Speed: during the bulk insert the database runs with journal_mode=OFF,
 * synchronous=OFF, an exclusive lock and a 1 GB page cache. The indexes that rows reach in
 * order (transmission id, time) are kept up to date as rows arrive; those led by
 * observer_idx, and the unique dedup index, are built once at the end (see drop_indexes).
 *
 * neighbor_edges follows §7 as the ingestor's builder leaves it when it keeps up with
 * ingest: every observation counted once, then the 5-day prune relative to --end.
 * resolved_path follows §4.2 with the final nodes and neighbor_edges (what a resolved_path
 * backfill of the same database computes).
 */
#include "gen.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gen_int.h"
#include "shm/err.h"
#include "shm/hash.h"
#include "shm/hmap.h"
#include "shm/json.h"
#include "shm/log.h"
#include "shm/pathres.h"
#include "shm/schema.h"
#include "shm/timeutil.h"

#define EDGE_MAX_AGE (5 * 86400) /* neighborEdgesMaxAgeDays */

void msn_gen_defaults(msn_gen_params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->nodes = 400;
    p->observers = 40;
    p->transmissions = 20000;
    p->obs_per_tx = 8;
    p->days = 7;
    p->seed = 1;
    p->end = (int64_t)time(NULL) / 3600 * 3600;
    p->threads = 2;
}

/* ---- edges: the ingestor's neighbour builder rules (§7) -------------------------------------- */

typedef struct {
    uint32_t key; /* a << 16 | b, a < b */
    uint32_t count;
    uint32_t last;
} edge_t;

/* Edges in the order they were first seen (the order they are written in), indexed by key. */
typedef struct {
    edge_t *v;
    uint32_t n, cap;
    msn_hmap_t ix;
} edge_map_t;

static void emap_init(edge_map_t *m, uint32_t cap)
{
    memset(m, 0, sizeof(*m));
    m->cap = cap > 16 ? cap : 16;
    m->v = msn_xmalloc((size_t)m->cap * sizeof(edge_t));
    msn_hmap_reserve(&m->ix, m->cap);
}

static void emap_free(edge_map_t *m)
{
    free(m->v);
    msn_hmap_free(&m->ix);
}

static void emap_add(edge_map_t *m, uint32_t key, uint32_t count, uint32_t last)
{
    msn_hmap_probe_t pr;
    for (uint32_t i = msn_hmap_first(&m->ix, msn_mix64(key), &pr); i != MSN_HMAP_NONE;
         i = msn_hmap_next(&m->ix, &pr)) {
        edge_t *e = &m->v[i];
        if (e->key == key) {
            e->count += count;
            if (last > e->last)
                e->last = last;
            return;
        }
    }
    if (m->n == m->cap) {
        m->cap *= 2;
        m->v = msn_xrealloc(m->v, (size_t)m->cap * sizeof(edge_t));
    }
    m->v[m->n] = (edge_t){key, count, last};
    msn_hmap_insert(&m->ix, &pr, m->n++);
}

static inline void edge_event(edge_map_t *m, int a, int b, uint32_t ts)
{
    if (a == b)
        return;
    uint32_t key = a < b ? (uint32_t)a << 16 | (uint32_t)b : (uint32_t)b << 16 | (uint32_t)a;
    emap_add(m, key, 1, ts);
}

/* Statistics gathered from the plans. */
typedef struct {
    const gen_world_t *w;
    long from, to;
    edge_map_t edges;
    uint32_t *obs_count, *obs_first, *obs_last;   /* per observer */
    uint32_t *adv_count, *node_first, *node_last; /* per node: advert copies */
    long n_obs;
} scan_t;

static void scan_init(scan_t *s, const gen_world_t *w, long from, long to)
{
    memset(s, 0, sizeof(*s));
    s->w = w;
    s->from = from;
    s->to = to;
    emap_init(&s->edges, (uint32_t)w->n_links + 16);
    s->obs_count = msn_xcalloc((size_t)w->n_obs, sizeof(uint32_t));
    s->obs_first = msn_xmalloc((size_t)w->n_obs * sizeof(uint32_t));
    memset(s->obs_first, 0xFF, (size_t)w->n_obs * sizeof(uint32_t));
    s->obs_last = msn_xcalloc((size_t)w->n_obs, sizeof(uint32_t));
    s->adv_count = msn_xcalloc((size_t)w->n, sizeof(uint32_t));
    s->node_first = msn_xmalloc((size_t)w->n * sizeof(uint32_t));
    memset(s->node_first, 0xFF, (size_t)w->n * sizeof(uint32_t));
    s->node_last = msn_xcalloc((size_t)w->n, sizeof(uint32_t));
}

static void scan_free(scan_t *s)
{
    emap_free(&s->edges);
    free(s->obs_count);
    free(s->obs_first);
    free(s->obs_last);
    free(s->adv_count);
    free(s->node_first);
    free(s->node_last);
}

static void *scan_worker(void *arg)
{
    scan_t *s = arg;
    const gen_world_t *w = s->w;
    gen_plan_t *pl = msn_xmalloc(sizeof(gen_plan_t));
    msn_gen__plan_init(pl);
    for (long i = s->from; i < s->to; i++) {
        msn_gen__plan(w, i, pl);
        int advert = pl->kind == K_ADVERT;
        int o = pl->origin;
        int hs = pl->kind == K_TRACE ? pl->trace_hop_size : pl->hash_size;
        const uint8_t *uniq = w->uniq[hs];
        if (advert)
            s->adv_count[o]++;
        for (int c = 0; c < pl->n_copies; c++) {
            const gen_copy_t *cp = &pl->copy_store[c];
            int obn = w->obs[cp->observer].node;
            uint32_t ts = cp->ts;
            s->obs_count[cp->observer]++;
            if (ts < s->obs_first[cp->observer])
                s->obs_first[cp->observer] = ts;
            if (ts > s->obs_last[cp->observer])
                s->obs_last[cp->observer] = ts;
            if (advert) {
                if (ts < s->node_first[o])
                    s->node_first[o] = ts;
                if (ts > s->node_last[o])
                    s->node_last[o] = ts;
            }
            if (cp->n_hops == 0) {
                if (advert)
                    edge_event(&s->edges, o, obn, ts);
                continue;
            }
            if (advert) {
                int x = pl->hop_nodes[cp->hops_off];
                if (uniq[x])
                    edge_event(&s->edges, o, x, ts);
            }
            int y = pl->hop_nodes[cp->hops_off + cp->n_hops - 1];
            if (uniq[y])
                edge_event(&s->edges, obn, y, ts);
        }
        s->n_obs += pl->n_copies;
    }
    msn_gen__plan_free(pl);
    free(pl);
    return NULL;
}

/* ---- calibration ----------------------------------------------------------------------------- */

static void calibrate(gen_world_t *w)
{
    long T = w->n_slots;
    long n = T < 1500 ? T : 1500;
    gen_plan_t *pl = msn_xmalloc(sizeof(gen_plan_t));
    msn_gen__plan_init(pl);
    w->obs_scale = w->p.obs_per_tx;
    for (int round = 0; round < 4; round++) {
        double total = 0;
        for (long k = 0; k < n; k++) {
            msn_gen__plan(w, k * T / n, pl);
            total += pl->n_copies;
        }
        double mean = total / (double)n;
        if (mean <= 0)
            break;
        double f = w->p.obs_per_tx / mean;
        if (fabs(f - 1.0) < 0.01)
            break;
        w->obs_scale *= f;
        if (w->obs_scale > 400)
            w->obs_scale = 400;
    }
    msn_gen__plan_free(pl);
    free(pl);
}

static const char side_tables_sql[] =
    "CREATE TABLE _gen_nodes (idx INTEGER PRIMARY KEY, public_key TEXT NOT NULL, name TEXT, role TEXT, lat "
    "REAL,"
    " lon REAL, iata TEXT, hash_size INTEGER, observer_rowid INTEGER, range_km REAL);\n"
    "CREATE TABLE _gen_links (a INTEGER NOT NULL, b INTEGER NOT NULL, km REAL, PRIMARY KEY (a, b));\n"
    "CREATE TABLE _gen_truth (transmission_id INTEGER PRIMARY KEY, first_observation_id INTEGER NOT NULL,"
    " origin INTEGER NOT NULL, routes_json TEXT NOT NULL, heard_json TEXT NOT NULL);\n"
    "CREATE TABLE _gen_info (key TEXT PRIMARY KEY, value);\n"
    "CREATE VIEW _gen_truth_obs AS SELECT t.first_observation_id + r.key AS observation_id,"
    " t.transmission_id AS transmission_id, r.value AS route_json,"
    " json_extract(t.heard_json, '$[' || r.key || ']') AS heard"
    " FROM _gen_truth t, json_each(t.routes_json) r;\n"
    "CREATE VIEW _gen_truth_keys AS SELECT o.observation_id AS observation_id, o.transmission_id AS "
    "transmission_id,"
    " (SELECT json_group_array(pk) FROM (SELECT n.public_key AS pk FROM json_each(o.route_json) j"
    " JOIN _gen_nodes n ON n.idx = j.value ORDER BY j.key)) AS route_json FROM _gen_truth_obs o;\n";

/* Indexes dropped for the bulk insert and rebuilt after it. Observations are inserted in
 * transmission (and so roughly time) order, which makes every index led by
 * transmission_id or timestamp an append: cheap to keep up to date row by row. The
 * indexes led by observer_idx take each row into the middle of the tree instead, and are
 * cheaper to build once from the finished table (a scan and a sort); so is the unique
 * dedup index, whose row-by-row upkeep costs a uniqueness probe besides the insert (and
 * moving it keeps the inserting thread no busier than the rendering one). */
typedef struct {
    char **sql;
    int n;
} saved_idx_t;

static int rebuild_later(const char *name, int all)
{
    return all || strncmp(name, "idx_observations_observer_idx", 29) == 0 ||
           strcmp(name, "idx_observations_dedup") == 0;
}

static int drop_indexes(sqlite3 *db, int all, saved_idx_t *sv, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (msn_gen__prepare(db,
                         "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                         " AND tbl_name IN ('transmissions', 'observations') ORDER BY rowid",
                         &st, err, errlen) < 0)
        return -1;
    char **names = NULL;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!rebuild_later(name, all))
            continue;
        names = msn_xrealloc(names, (size_t)(n + 1) * sizeof(char *));
        sv->sql = msn_xrealloc(sv->sql, (size_t)(n + 1) * sizeof(char *));
        names[n] = msn_xstrdup(name);
        sv->sql[n] = msn_xstrdup((const char *)sqlite3_column_text(st, 1));
        n++;
    }
    sqlite3_finalize(st);
    sv->n = n;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char *sql = sqlite3_mprintf("DROP INDEX \"%w\"", names[i]);
        if (rc == 0 && msn_gen__exec(db, sql, err, errlen) < 0)
            rc = -1;
        sqlite3_free(sql);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int restore_indexes(sqlite3 *db, saved_idx_t *sv, char *err, size_t errlen)
{
    int rc = 0;
    for (int i = 0; i < sv->n; i++) {
        if (rc == 0 && msn_gen__exec(db, sv->sql[i], err, errlen) < 0)
            rc = -1;
        free(sv->sql[i]);
    }
    free(sv->sql);
    sv->sql = NULL;
    sv->n = 0;
    return rc;
}

static int cmp_edge_hex(const gen_world_t *w, uint32_t key, const char **a, const char **b)
{
    const char *x = w->nodes[key >> 16].hex, *y = w->nodes[key & 0xFFFF].hex;
    if (strcmp(x, y) <= 0) {
        *a = x;
        *b = y;
    } else {
        *a = y;
        *b = x;
    }
    return 0;
}

/* nodes, observers, neighbor_edges and the side tables. */
static int write_tail(sqlite3 *db, const gen_world_t *w, const scan_t *sc, const edge_map_t *edges,
                      const msn_gen_stats_t *stats, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char t1[32], t2[32];
    int rc = -1;
    if (msn_gen__prepare(
            db,
            "INSERT INTO nodes (public_key, name, role, lat, lon, last_seen, first_seen, advert_count,"
            " battery_mv, temperature_c, foreign_advert, default_scope, multibyte_sup, multibyte_evidence)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,0,NULL,0,NULL)",
            &st, err, errlen) < 0)
        goto fail;
    for (int i = 0; i < w->n; i++) {
        const gen_node_t *nd = &w->nodes[i];
        if (sc->adv_count[i] == 0)
            continue;
        sqlite3_bind_text(st, 1, nd->hex, 64, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, nd->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, msn_gen__role_name(nd->role), -1, SQLITE_STATIC);
        if (nd->has_loc) {
            sqlite3_bind_double(st, 4, nd->lat_e6 / 1e6);
            sqlite3_bind_double(st, 5, nd->lon_e6 / 1e6);
        } else {
            sqlite3_bind_null(st, 4);
            sqlite3_bind_null(st, 5);
        }
        msn_format_iso_s(t1, sc->node_last[i]);
        msn_format_iso_s(t2, sc->node_first[i]);
        sqlite3_bind_text(st, 6, t1, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 7, t2, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 8, sc->adv_count[i]);
        if (nd->role == ROLE_SENSOR) {
            sqlite3_bind_int(st, 9, nd->battery_mv);
            sqlite3_bind_double(st, 10, nd->temperature_raw / 100.0);
        } else {
            sqlite3_bind_null(st, 9);
            sqlite3_bind_null(st, 10);
        }
        if (msn_gen__step(db, st, err, errlen) < 0)
            goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;

    if (msn_gen__prepare(
            db,
            "INSERT INTO observers (rowid, id, name, iata, last_seen, first_seen, packet_count, model, "
            "firmware,"
            " client_version, radio, battery_mv, uptime_secs, noise_floor, inactive, last_packet_at,"
            " clock_skew_seconds, clock_skew_count_24h, clock_last_naive_at, can_relay, can_relay_seen)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,NULL,0,NULL,?,1)",
            &st, err, errlen) < 0)
        goto fail;
    for (int k = 0; k < w->n_obs; k++) {
        const gen_observer_t *ob = &w->obs[k];
        const gen_node_t *nd = &w->nodes[ob->node];
        int64_t first = sc->obs_count[k] ? sc->obs_first[k] : w->p.end - (int64_t)(w->p.days * 86400);
        int64_t last = sc->obs_count[k] ? sc->obs_last[k] : first;
        sqlite3_bind_int(st, 1, k + 1);
        sqlite3_bind_text(st, 2, ob->id, 64, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, nd->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, w->clusters[nd->cluster].iata, -1, SQLITE_STATIC);
        msn_format_iso_s(t1, last);
        msn_format_iso_s(t2, first);
        sqlite3_bind_text(st, 5, t1, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, t2, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, sc->obs_count[k] ? sc->obs_count[k] : 1);
        sqlite3_bind_text(st, 8, ob->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, ob->firmware, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, ob->client_version, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, ob->radio, -1, SQLITE_STATIC);
        if (ob->battery_mv)
            sqlite3_bind_int(st, 12, ob->battery_mv);
        else
            sqlite3_bind_null(st, 12);
        sqlite3_bind_int64(st, 13, ob->uptime_secs);
        sqlite3_bind_double(st, 14, ob->noise_floor);
        sqlite3_bind_text(st, 15, t1, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 16, nd->role == ROLE_REPEATER || nd->role == ROLE_ROOM);
        if (msn_gen__step(db, st, err, errlen) < 0)
            goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;

    if (msn_gen__prepare(db, "INSERT INTO neighbor_edges (node_a, node_b, count, last_seen) VALUES (?,?,?,?)",
                         &st, err, errlen) < 0)
        goto fail;
    for (uint32_t i = 0; i < edges->n; i++) {
        const edge_t *e = &edges->v[i];
        const char *a, *b;
        cmp_edge_hex(w, e->key, &a, &b);
        msn_format_iso_s(t1, e->last);
        sqlite3_bind_text(st, 1, a, 64, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, b, 64, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, e->count);
        sqlite3_bind_text(st, 4, t1, -1, SQLITE_TRANSIENT);
        if (msn_gen__step(db, st, err, errlen) < 0)
            goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;

    if (msn_gen__prepare(db, "INSERT INTO _gen_nodes VALUES (?,?,?,?,?,?,?,?,?,?)", &st, err, errlen) < 0)
        goto fail;
    for (int i = 0; i < w->n; i++) {
        const gen_node_t *nd = &w->nodes[i];
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_text(st, 2, nd->hex, 64, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, nd->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, msn_gen__role_name(nd->role), -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 5, nd->lat);
        sqlite3_bind_double(st, 6, nd->lon);
        sqlite3_bind_text(st, 7, w->clusters[nd->cluster].iata, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 8, nd->hash_size);
        if (nd->observer >= 0)
            sqlite3_bind_int(st, 9, nd->observer + 1);
        else
            sqlite3_bind_null(st, 9);
        sqlite3_bind_double(st, 10, nd->range_km);
        if (msn_gen__step(db, st, err, errlen) < 0)
            goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;

    if (msn_gen__prepare(db, "INSERT INTO _gen_links VALUES (?,?,?)", &st, err, errlen) < 0)
        goto fail;
    for (int i = 0; i < w->n; i++) {
        const gen_node_t *nd = &w->nodes[i];
        for (uint32_t k = 0; k < nd->adj_n; k++) {
            int j = w->adj[nd->adj_off + k];
            if (j <= i)
                continue;
            sqlite3_bind_int(st, 1, i);
            sqlite3_bind_int(st, 2, j);
            sqlite3_bind_double(st, 3, round(msn_gen__dist_km(nd, &w->nodes[j]) * 1000) / 1000);
            if (msn_gen__step(db, st, err, errlen) < 0)
                goto fail;
        }
    }
    sqlite3_finalize(st);
    st = NULL;

    if (msn_gen__prepare(db, "INSERT INTO _gen_info VALUES (?,?)", &st, err, errlen) < 0)
        goto fail;
    struct {
        const char *k;
        double v;
    } info[] = {
        {"seed", (double)w->p.seed},
        {"nodes", w->p.nodes},
        {"observers", w->p.observers},
        {"transmissions", (double)w->p.transmissions},
        {"obs_per_tx", w->p.obs_per_tx},
        {"days", w->p.days},
        {"end", (double)w->p.end},
        {"empty_backfill", w->p.empty_backfill},
        {"observations", (double)stats->observations},
        {"links", (double)w->n_links},
        {"hops", (double)stats->hops},
        {"hops_resolved", (double)stats->hops_resolved},
        {"hops_wrong", (double)stats->hops_wrong},
        {"key_prefix_conflicts", w->colour_conflicts},
    };
    for (size_t i = 0; i < sizeof(info) / sizeof(info[0]); i++) {
        sqlite3_bind_text(st, 1, info[i].k, -1, SQLITE_STATIC);
        if (info[i].v == floor(info[i].v) && fabs(info[i].v) < 9e18)
            sqlite3_bind_int64(st, 2, (int64_t)info[i].v);
        else
            sqlite3_bind_double(st, 2, info[i].v);
        if (msn_gen__step(db, st, err, errlen) < 0)
            goto fail;
    }
    /* the seed as text too: a 64-bit value does not survive a double */
    sqlite3_bind_text(st, 1, "seed_text", -1, SQLITE_STATIC);
    char seedtxt[32];
    snprintf(seedtxt, sizeof(seedtxt), "%llu", (unsigned long long)w->p.seed);
    sqlite3_bind_text(st, 2, seedtxt, -1, SQLITE_TRANSIENT);
    if (msn_gen__step(db, st, err, errlen) < 0)
        goto fail;
    rc = 0;
fail:
    sqlite3_finalize(st);
    return rc;
}

/* ---- the run ------------------------------------------------------------------------------------- */

static void remove_db_files(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char buf[4096];
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s", path, suffix[i]);
        unlink(buf);
    }
}

static void progress(const msn_gen_params_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const msn_gen_params_t *p, const char *fmt, ...)
{
    if (p->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Computes every plan (in two threads when asked) and merges the statistics into
 * scans[0]. Returns the number of scans used (to free). */
static int scan_all(const gen_world_t *w, int threads, scan_t scans[2])
{
    long T = w->n_slots;
    int n = threads > 1 && T > 1000 ? 2 : 1;
    for (int k = 0; k < n; k++)
        scan_init(&scans[k], w, T * k / n, T * (k + 1) / n);
    pthread_t th;
    int threaded = n == 2 && pthread_create(&th, NULL, scan_worker, &scans[1]) == 0;
    scan_worker(&scans[0]);
    if (threaded)
        pthread_join(th, NULL);
    else if (n == 2)
        scan_worker(&scans[1]);
    for (int k = 1; k < n; k++) {
        scan_t *a = &scans[0], *b = &scans[k];
        for (uint32_t i = 0; i < b->edges.n; i++)
            emap_add(&a->edges, b->edges.v[i].key, b->edges.v[i].count, b->edges.v[i].last);
        for (int o = 0; o < w->n_obs; o++) {
            a->obs_count[o] += b->obs_count[o];
            if (b->obs_first[o] < a->obs_first[o])
                a->obs_first[o] = b->obs_first[o];
            if (b->obs_last[o] > a->obs_last[o])
                a->obs_last[o] = b->obs_last[o];
        }
        for (int i = 0; i < w->n; i++) {
            a->adv_count[i] += b->adv_count[i];
            if (b->node_first[i] < a->node_first[i])
                a->node_first[i] = b->node_first[i];
            if (b->node_last[i] > a->node_last[i])
                a->node_last[i] = b->node_last[i];
        }
        a->n_obs += b->n_obs;
    }
    return n;
}

/* The resolver of resolved_path: every advertised node (here all of them) and the edges. */
static msn_pathres_t *build_resolver(const gen_world_t *w, const scan_t *sc, const edge_map_t *edges)
{
    msn_pathres_t *pr = msn_pathres_new();
    for (int i = 0; i < w->n; i++)
        if (sc->adv_count[i] > 0)
            msn_pathres_add_node(pr, w->nodes[i].hex);
    for (uint32_t i = 0; i < edges->n; i++)
        msn_pathres_add_edge(pr, w->nodes[edges->v[i].key >> 16].hex, w->nodes[edges->v[i].key & 0xFFFF].hex);
    msn_pathres_finish(pr);
    return pr;
}

/* Creates the database file for the bulk insert: the current schema, the side tables, the
 * indexes to rebuild later dropped (saved in sv). Returns 0, or -1 with err set. */
static int create_db(const msn_gen_params_t *p, sqlite3 **out, saved_idx_t *sv, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE | SQLITE_OPEN_NOMUTEX;
    *out = NULL;
    if (sqlite3_open_v2(p->db, &db, flags, NULL) != SQLITE_OK) {
        msn_set_err(err, errlen, "%s: cannot create: %s", p->db, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    /* auto_vacuum as CoreScope's ingestor creates its databases (before the first table) */
    static const char *const pragmas[] = {
        "PRAGMA auto_vacuum=INCREMENTAL", "PRAGMA journal_mode=OFF",    "PRAGMA synchronous=OFF",
        "PRAGMA locking_mode=EXCLUSIVE",  "PRAGMA cache_size=-1048576", "PRAGMA threads=2",
    };
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++)
        if (msn_gen__exec(db, pragmas[i], err, errlen) < 0)
            return -1;
    if (msn_schema_create_current(db, err, errlen) < 0 ||
        drop_indexes(db, p->drop_indexes, sv, err, errlen) < 0 ||
        msn_gen__exec(db, side_tables_sql, err, errlen) < 0)
        return -1;
    return 0;
}

/* Builds the dropped indexes, then leaves the database in WAL mode as readers expect it.
 * Returns 0, or -1 with err set. */
static int finish_db(sqlite3 *db, saved_idx_t *sv, char *err, size_t errlen)
{
    /* a small cache makes the sorter work in cache-sized runs (temporary files, merged
     * after): about twice as fast as one big in-memory sort */
    if (msn_gen__exec(db, "PRAGMA mmap_size=2147418112", err, errlen) < 0 ||
        msn_gen__exec(db, "PRAGMA cache_size=-2048", err, errlen) < 0 ||
        msn_gen__exec(db, "BEGIN", err, errlen) < 0 || restore_indexes(db, sv, err, errlen) < 0 ||
        msn_gen__exec(db, "COMMIT", err, errlen) < 0)
        return -1;
    /* an exclusive lock is released by the next access after NORMAL */
    if (msn_gen__exec(db, "PRAGMA locking_mode=NORMAL", err, errlen) < 0 ||
        msn_gen__exec(db, "SELECT count(*) FROM sqlite_master", err, errlen) < 0 ||
        msn_gen__exec(db, "PRAGMA journal_mode=WAL", err, errlen) < 0)
        return -1;
    return 0;
}

int msn_gen_run(const msn_gen_params_t *p, msn_gen_stats_t *stats_out, char *err, size_t errlen)
{
    msn_gen_stats_t stats;
    gen_world_t w;
    scan_t scans[2];
    int n_scans = 0;
    edge_map_t edges = {0};
    msn_pathres_t *pr = NULL;
    sqlite3 *db = NULL;
    saved_idx_t saved = {0};
    int created = 0, rc = -1;
    double t_start = msn_gen__now();

    memset(&stats, 0, sizeof(stats));
    memset(&w, 0, sizeof(w));
    if (p->db == NULL || p->db[0] == '\0') {
        msn_set_err(err, errlen, "no --db given");
        return -1;
    }
    if (p->nodes < 4 || p->nodes > GEN_MAX_NODES || p->observers < 1 || p->transmissions < 1 ||
        p->obs_per_tx < 1 || p->days <= 0 || p->days > 3650) {
        msn_set_err(err, errlen,
                    "parameters out of range (nodes 4..%d, observers >= 1, transmissions >= 1,"
                    " obs-per-tx >= 1, days in (0, 3650])",
                    GEN_MAX_NODES);
        return -1;
    }
    struct stat sb;
    if (stat(p->db, &sb) == 0) {
        if (!p->force) {
            msn_set_err(err, errlen, "%s exists (use --force to replace it)", p->db);
            return -1;
        }
        remove_db_files(p->db);
    }

    /* 1. the world; 2. calibration */
    if (msn_gen__world_build(&w, p, err, errlen) < 0)
        goto fail;
    calibrate(&w);
    stats.world_seconds = msn_gen__now() - t_start;
    progress(
        p,
        "world: %d nodes (%d repeaters), %d observers, %zu radio links, max degree %d, %d clusters (%.2f s)",
        w.n, w.n_repeaters, w.n_obs, w.n_links, w.max_degree, w.n_clusters, stats.world_seconds);

    /* 3. every plan once: edges and statistics, then the 5-day prune */
    double t1 = msn_gen__now();
    long T = w.n_slots;
    n_scans = scan_all(&w, p->threads, scans);
    emap_init(&edges, scans[0].edges.n + 16);
    for (uint32_t i = 0; i < scans[0].edges.n; i++) {
        const edge_t *e = &scans[0].edges.v[i];
        if ((int64_t)e->last >= p->end - EDGE_MAX_AGE)
            emap_add(&edges, e->key, e->count, e->last);
    }
    stats.transmissions = T;
    stats.observations = scans[0].n_obs;
    stats.edges = edges.n;
    stats.observers = w.n_obs;
    for (int i = 0; i < w.n; i++)
        stats.nodes += scans[0].adv_count[i] > 0;
    progress(
        p, "plans: %ld transmissions, %ld observations (%.2f per transmission), %u neighbour edges (%.2f s)",
        T, stats.observations, (double)stats.observations / (double)T, edges.n, msn_gen__now() - t1);
    pr = build_resolver(&w, &scans[0], &edges);

    /* 4. the rows */
    int cr = create_db(p, &db, &saved, err, errlen);
    created = db != NULL;
    if (cr < 0)
        goto fail;
    if (msn_gen__exec(db, "BEGIN", err, errlen) < 0)
        goto fail;
    double t2 = msn_gen__now();
    gen_rows_stats_t rs;
    if (msn_gen__write_rows(db, &w, pr, !p->empty_backfill, p->quiet, &rs, err, errlen) < 0)
        goto fail;
    if (rs.observations != stats.observations) {
        msn_set_err(err, errlen, "internal error: %ld observations rendered, %ld planned", rs.observations,
                    stats.observations);
        goto fail;
    }
    stats.hops = rs.hops;
    stats.hops_resolved = rs.hops_resolved;
    stats.hops_wrong = rs.hops_wrong;
    stats.insert_seconds = msn_gen__now() - t2;
    progress(
        p,
        "rows: %ld transmissions, %ld observations inserted (%.2f s; CPU: rendering %.2f s, inserting %.2f s;"
        " waiting: renderer %.2f s, inserter %.2f s; %ld hash collisions re-drawn)",
        T, stats.observations, stats.insert_seconds, rs.render_cpu, rs.insert_cpu, rs.render_wait,
        rs.insert_wait, rs.collisions);

    /* 5. the rest, the indexes, WAL */
    if (write_tail(db, &w, &scans[0], &edges, &stats, err, errlen) < 0 ||
        msn_gen__exec(db, "COMMIT", err, errlen) < 0)
        goto fail;
    double t3 = msn_gen__now(), c3 = msn_gen__thread_cpu();
    if (finish_db(db, &saved, err, errlen) < 0)
        goto fail;
    stats.index_seconds = msn_gen__now() - t3;
    progress(p, "indexes: %.2f s (CPU %.2f s)", stats.index_seconds, msn_gen__thread_cpu() - c3);
    if (sqlite3_close(db) != SQLITE_OK) {
        msn_set_err(err, errlen, "close: %s", sqlite3_errmsg(db));
        goto fail;
    }
    db = NULL;
    if (stat(p->db, &sb) == 0)
        stats.file_bytes = (long long)sb.st_size;
    stats.seconds = msn_gen__now() - t_start;
    rc = 0;
fail:
    for (int i = 0; i < saved.n; i++)
        free(saved.sql[i]);
    free(saved.sql);
    if (db != NULL)
        sqlite3_close(db);
    if (rc < 0 && created)
        remove_db_files(p->db);
    msn_pathres_free(pr);
    emap_free(&edges);
    for (int k = 0; k < n_scans; k++)
        scan_free(&scans[k]);
    msn_gen__world_free(&w); /* also after a partial build */
    msn_codec_thread_cleanup();
    if (rc == 0 && stats_out != NULL)
        *stats_out = stats;
    return rc;
}

/* ---- command line ---------------------------------------------------------------------------------- */

static const char usage[] =
    "usage: meshsnap gen --db PATH [options]\n"
    "       meshsnap gen --demo --db PATH [options]\n"
    "Writes a new CoreScope database with a simulated regional MeshCore mesh.\n"
    "  --db PATH              the database to create (refused if it exists, unless --force)\n"
    "  --nodes N              nodes in the mesh (default 400)\n"
    "  --observers M          observers (MQTT uplinks), mostly repeaters (default 40)\n"
    "  --transmissions T      unique packets (default 20000)\n"
    "  --obs-per-tx R         mean observations per transmission (default 8)\n"
    "  --days D               time span, ending at --end (default 7)\n"
    "  --seed S               random seed (default 1); the same seed gives the same database\n"
    "  --end TIME             newest timestamp: unix seconds or RFC3339 (default: this hour)\n"
    "  --empty-backfill       leave resolved_path NULL and transmissions.last_seen 0\n"
    "  --force                replace an existing database\n"
    "  --threads N            1 or 2 (default 2)\n"
    "  --quiet                no progress output\n"
    "  --drop-indexes         drop every secondary index during the bulk insert and rebuild it after\n"
    "                         (by default only those led by observer_idx are)\n"
    "  --demo                 preset: 600 nodes, 60 observers, 40000 transmissions, 10 obs/tx, seed 42\n"
    "Operator scale: --nodes 2600 --observers 300 --transmissions 325000 --obs-per-tx 22.5 --days 7\n";

static int parse_num(const char *opt, const char *val, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(val, &end);
    if (errno != 0 || end == val || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "meshsnap gen: %s: bad value '%s'\n", opt, val);
        return -1;
    }
    *out = v;
    return 0;
}

int msn_cli_gen(int argc, char **argv)
{
    msn_gen_params_t p;
    msn_gen_defaults(&p);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--demo") == 0) {
            p.nodes = 600;
            p.observers = 60;
            p.transmissions = 40000;
            p.obs_per_tx = 10;
            p.days = 7;
            p.seed = 42;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--demo") == 0)
            continue;
        if (strcmp(a, "--empty-backfill") == 0) {
            p.empty_backfill = 1;
            continue;
        }
        if (strcmp(a, "--force") == 0) {
            p.force = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            p.quiet = 1;
            continue;
        }
        if (strcmp(a, "--drop-indexes") == 0) {
            p.drop_indexes = 1;
            continue;
        }
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        char name[64];
        if (strncmp(a, "--", 2) == 0 && eq != NULL && (size_t)(eq - a) < sizeof(name)) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        } else if (i + 1 < argc) {
            val = argv[++i];
        }
        if (val == NULL) {
            fprintf(stderr, "meshsnap gen: %s needs a value\n%s", a, usage);
            return 2;
        }
        if (strcmp(a, "--db") == 0) {
            p.db = val;
        } else if (strcmp(a, "--nodes") == 0) {
            if (parse_num(a, val, 4, GEN_MAX_NODES, &v) < 0)
                return 2;
            p.nodes = (int)v;
        } else if (strcmp(a, "--observers") == 0) {
            if (parse_num(a, val, 1, GEN_MAX_NODES, &v) < 0)
                return 2;
            p.observers = (int)v;
        } else if (strcmp(a, "--transmissions") == 0) {
            if (parse_num(a, val, 1, 2e8, &v) < 0)
                return 2;
            p.transmissions = (long)v;
        } else if (strcmp(a, "--obs-per-tx") == 0) {
            if (parse_num(a, val, 1, 200, &v) < 0)
                return 2;
            p.obs_per_tx = v;
        } else if (strcmp(a, "--days") == 0) {
            if (parse_num(a, val, 0.01, 3650, &v) < 0)
                return 2;
            p.days = v;
        } else if (strcmp(a, "--seed") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 0);
            if (errno != 0 || end == val || *end != '\0') {
                fprintf(stderr, "meshsnap gen: --seed: bad value '%s'\n", val);
                return 2;
            }
            p.seed = s;
        } else if (strcmp(a, "--end") == 0) {
            char *end = NULL;
            long long s = strtoll(val, &end, 10);
            int64_t ms;
            if (end != val && *end == '\0' && s > 0) {
                p.end = s;
            } else if (msn_parse_time_ms(val, &ms) == 0 && ms > 0) {
                p.end = ms / 1000;
            } else {
                fprintf(stderr, "meshsnap gen: --end: bad time '%s'\n", val);
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_num(a, val, 1, 2, &v) < 0)
                return 2;
            p.threads = (int)v;
        } else {
            fprintf(stderr, "meshsnap gen: unknown option '%s'\n%s", a, usage);
            return 2;
        }
    }
    if (p.db == NULL) {
        fprintf(stderr, "meshsnap gen: --db PATH is required\n%s", usage);
        return 2;
    }
    char err[512];
    msn_gen_stats_t st;
    if (msn_gen_run(&p, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "meshsnap gen: %s\n", err);
        return 1;
    }
    double rows = (double)(st.transmissions + st.observations);
    printf("%s: %ld transmissions, %ld observations, %ld nodes, %ld observers, %ld neighbour edges\n", p.db,
           st.transmissions, st.observations, st.nodes, st.observers, st.edges);
    if (!p.empty_backfill)
        printf("resolved_path: %ld of %ld hops resolved (%.1f%%), %ld wrong\n", st.hops_resolved, st.hops,
               st.hops ? 100.0 * (double)st.hops_resolved / (double)st.hops : 0.0, st.hops_wrong);
    printf("%.1f s (world %.1f s, rows %.1f s, indexes %.1f s), %.0f rows/s, %.1f MB\n", st.seconds,
           st.world_seconds, st.insert_seconds, st.index_seconds, rows / st.seconds,
           (double)st.file_bytes / 1e6);
    return 0;
}
