/* nodedocs.c: see nodedocs.h. */
#include "nodedocs.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/pernode.h"
#include "render.h"
#include "shm/entdoc.h"
#include "shm/etag.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "shm/timeutil.h"

void msn_nodedocs_init(msn_nodedocs_t *nd, const msn_config_t *cfg, msn_entdocs_t *ent)
{
    memset(nd, 0, sizeof(*nd));
    nd->cfg = cfg;
    nd->ent = ent;
    msn_nodeidx_init(&nd->idx);
}

static void bat_queue_clear(msn_nodedocs_t *nd)
{
    for (uint32_t i = 0; i < nd->n_bat_queue; i++)
        free(nd->bat_queue[i]);
    nd->n_bat_queue = 0;
}

void msn_nodedocs_free(msn_nodedocs_t *nd)
{
    msn_nodeidx_free(&nd->idx);
    free(nd->row_hash);
    free(nd->pending);
    msn_u32vec_free(&nd->pending_list);
    msn_u32vec_free(&nd->run_keys);
    bat_queue_clear(nd);
    free(nd->bat_queue);
    memset(nd, 0, sizeof(*nd));
}

static void grow(msn_nodedocs_t *nd, uint32_t n_keys)
{
    if (n_keys > nd->n_row_hash) {
        uint32_t cap = nd->n_row_hash ? nd->n_row_hash : 1024;
        while (cap < n_keys)
            cap *= 2;
        nd->row_hash = msn_xrealloc(nd->row_hash, (size_t)cap * sizeof(uint64_t));
        memset(nd->row_hash + nd->n_row_hash, 0, (size_t)(cap - nd->n_row_hash) * sizeof(uint64_t));
        nd->n_row_hash = cap;
    }
    if (n_keys > nd->n_pending_cap) {
        uint32_t cap = nd->n_pending_cap ? nd->n_pending_cap : 1024;
        while (cap < n_keys)
            cap *= 2;
        nd->pending = msn_xrealloc(nd->pending, cap);
        memset(nd->pending + nd->n_pending_cap, 0, cap - nd->n_pending_cap);
        nd->n_pending_cap = cap;
    }
}

static void mark(msn_nodedocs_t *nd, uint32_t key)
{
    grow(nd, key + 1);
    if (nd->pending[key])
        return;
    nd->pending[key] = 1;
    msn_u32vec_push(&nd->pending_list, key);
}

/* Notes the node rows whose rendering changed since the last look. */
static void rows_changed(msn_nodedocs_t *nd, msn_store_t *s, int mark_changes)
{
    msn_buf_t b = MSN_BUF_INIT;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *n = &s->nodes[i];
        if (n->public_key == NULL)
            continue;
        uint32_t key = msn_store_intern_key(s, n->public_key, strlen(n->public_key));
        if (key == MSN_KEY_NONE)
            continue;
        msn_buf_reset(&b);
        msn_render_node_fragment(&b, n);
        uint64_t h = msn_hash64(b.data, b.len) | 1; /* never 0, which means "no row" */
        grow(nd, key + 1);
        if (nd->row_hash[key] != h) {
            nd->row_hash[key] = h;
            if (mark_changes)
                mark(nd, key);
        }
    }
    msn_buf_free(&b);
}

void msn_nodedocs_loaded(msn_nodedocs_t *nd, msn_store_t *s, int64_t now_ms)
{
    msn_nodeidx_free(&nd->idx);
    msn_nodeidx_init(&nd->idx);
    msn_nodeidx_update(&nd->idx, s);
    msn_u32vec_t drop = {0};
    msn_nodeidx_take_dirty(&nd->idx, &drop); /* the full run covers everything */
    msn_u32vec_free(&drop);
    /* key ids belong to the store: start the per-key state afresh */
    if (nd->row_hash != NULL)
        memset(nd->row_hash, 0, (size_t)nd->n_row_hash * sizeof(uint64_t));
    if (nd->pending != NULL)
        memset(nd->pending, 0, nd->n_pending_cap);
    nd->pending_list.n = 0;
    rows_changed(nd, s, 0);
    nd->next_full_ms = now_ms;
    nd->next_changes_ms = now_ms;
    nd->loaded = 1;
    nd->bat_rowid = 0;
    nd->bat_ready = 0;
    bat_queue_clear(nd);
}

/* ---- battery ---- */

static int bat_prepare(msn_nodedocs_t *nd, sqlite3 *db)
{
    if (nd->bat_ready)
        return 1;
    if (!msn_schema_has_column(db, "observer_metrics", "observer_id") ||
        !msn_schema_has_column(db, "observer_metrics", "timestamp") ||
        !msn_schema_has_column(db, "observer_metrics", "battery_mv"))
        return 0;
    nd->bat_ready = 1;
    return 1;
}

static void bat_queue_add(msn_nodedocs_t *nd, const char *obs, const char *day)
{
    char pair[400];
    snprintf(pair, sizeof(pair), "%s\t%.10s", obs, day);
    for (uint32_t i = nd->n_bat_queue; i-- > 0;) /* new rows cluster: the recent pairs match first */
        if (strcmp(nd->bat_queue[i], pair) == 0)
            return;
    if (nd->n_bat_queue == nd->cap_bat_queue) {
        nd->cap_bat_queue = nd->cap_bat_queue ? nd->cap_bat_queue * 2 : 64;
        nd->bat_queue = msn_xrealloc(nd->bat_queue, (size_t)nd->cap_bat_queue * sizeof(char *));
    }
    nd->bat_queue[nd->n_bat_queue++] = msn_xstrdup(pair);
}

/* Reads new observer_metrics rows: the (observer, day) pairs they touch. */
static int bat_scan(msn_nodedocs_t *nd, sqlite3 *db, int64_t now_ms)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT rowid, observer_id, timestamp FROM observer_metrics WHERE rowid > ?1 AND "
                           "battery_mv IS NOT NULL AND timestamp >= ?2 ORDER BY rowid LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    char since[32];
    msn_format_iso_s(since, now_ms / 1000 - 366 * 86400);
    since[10] = '\0';
    sqlite3_bind_int64(st, 1, nd->bat_rowid);
    sqlite3_bind_text(st, 2, since, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, MSN_NODEDOCS_BATTERY_CHUNK);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        nd->bat_rowid = sqlite3_column_int64(st, 0);
        const char *id = (const char *)sqlite3_column_text(st, 1);
        const char *ts = (const char *)sqlite3_column_text(st, 2);
        char key[65];
        if (id == NULL || ts == NULL || strlen(ts) < 10 || msn_entdoc_node_id(id, strlen(id), key) < 0)
            continue; /* only observers whose id is a node key have a battery endpoint */
        bat_queue_add(nd, id, ts);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Renders the day document of one (observer id, day) pair from its rows. */
static int bat_render(msn_nodedocs_t *nd, sqlite3 *db, const char *pair, int64_t now_ms)
{
    const char *tab = strchr(pair, '\t');
    if (tab == NULL)
        return 0;
    char id[300], day[16], next[32];
    snprintf(id, sizeof(id), "%.*s", (int)(tab - pair), pair);
    snprintf(day, sizeof(day), "%s", tab + 1);
    int64_t ms;
    if (msn_parse_time_ms(day, &ms) < 0)
        return 0;
    msn_format_iso_s(next, ms / 1000 + 86400);
    next[10] = '\0';
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT timestamp, battery_mv FROM observer_metrics WHERE observer_id = ?1 AND "
                           "timestamp >= ?2 AND timestamp < ?3 AND battery_mv IS NOT NULL ORDER BY timestamp",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, next, -1, SQLITE_STATIC);
    msgpack_sbuffer rows, sb;
    msgpack_sbuffer_init(&rows);
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &rows, msgpack_sbuffer_write);
    uint32_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ts = (const char *)sqlite3_column_text(st, 0);
        if (ts == NULL)
            continue;
        msgpack_pack_array(&pk, 2);
        msgpack_pack_str(&pk, strlen(ts));
        msgpack_pack_str_body(&pk, ts, strlen(ts));
        msgpack_pack_int64(&pk, sqlite3_column_int64(st, 1));
        n++;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, n);
        msgpack_sbuffer_write(&sb, rows.data, rows.size);
        char key[65], doc[32], name[MSN_ENTDOC_NAME_MAX + 1];
        msn_entdoc_node_id(id, strlen(id), key);
        snprintf(doc, sizeof(doc), MSN_NODEDOC_BATTERY ".%s", day);
        if (msn_entdoc_name(name, sizeof(name), MSN_ENT_NODE, doc, key, 64) > 0)
            msn_entdocs_inject(nd->ent, name, sb.data, sb.size, now_ms);
    }
    msgpack_sbuffer_destroy(&rows);
    msgpack_sbuffer_destroy(&sb);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void battery(msn_nodedocs_t *nd, sqlite3 *db, int64_t now_ms)
{
    if (db == NULL || nd->ent == NULL || !bat_prepare(nd, db))
        return;
    if (nd->n_bat_queue < MSN_NODEDOCS_BATTERY_DAYS_MAX && bat_scan(nd, db, now_ms) < 0) {
        msn_error("reading observer_metrics (battery samples) failed: %s", sqlite3_errmsg(db));
        return;
    }
    uint32_t done = 0;
    while (done < nd->n_bat_queue && done < MSN_NODEDOCS_BATTERY_DAYS_MAX) {
        if (bat_render(nd, db, nd->bat_queue[done], now_ms) < 0) {
            msn_error("reading observer_metrics (battery samples) failed: %s", sqlite3_errmsg(db));
            break;
        }
        free(nd->bat_queue[done]);
        done++;
    }
    if (done > 0 && nd->n_bat_queue > done)
        memmove(nd->bat_queue, nd->bat_queue + done, (size_t)(nd->n_bat_queue - done) * sizeof(char *));
    nd->n_bat_queue -= done;
}

void msn_nodedocs_polled(msn_nodedocs_t *nd, msn_store_t *s, sqlite3 *db, int64_t now_ms)
{
    if (!nd->loaded)
        return;
    msn_nodeidx_update(&nd->idx, s);
    msn_u32vec_t dirty = {0};
    msn_nodeidx_take_dirty(&nd->idx, &dirty);
    for (uint32_t i = 0; i < dirty.n; i++)
        mark(nd, dirty.v[i]);
    msn_u32vec_free(&dirty);
    rows_changed(nd, s, 1);
    battery(nd, db, now_ms);
}

/* ---- the entity kind ---- */

static int interval_s(const msn_nodedocs_t *nd)
{
    int v = nd->cfg ? nd->cfg->analytics.node_documents_s : 0;
    return v > 0 ? v : (nd->cfg ? nd->cfg->analytics.default_interval_s : 300);
}

static int plan(void *kctx, msn_store_t *s, int64_t now_ms)
{
    msn_nodedocs_t *nd = kctx;
    if (!nd->loaded)
        return 0;
    nd->run_keys.n = 0;
    if (now_ms >= nd->next_full_ms) {
        uint8_t *is_node = msn_xcalloc((size_t)s->n_keys + 1, 1);
        for (uint32_t i = 0; i < s->n_nodes; i++) {
            const char *pk = s->nodes[i].public_key;
            uint32_t k = pk ? msn_store_intern_key(s, pk, strlen(pk)) : MSN_KEY_NONE;
            if (k != MSN_KEY_NONE && k < s->n_keys)
                is_node[k] = 1;
        }
        for (uint32_t k = 0; k < s->n_keys; k++) {
            uint32_t n;
            if (is_node[k] || (msn_nodeidx_txs(&nd->idx, k, &n) && n > 0))
                msn_u32vec_push(&nd->run_keys, k);
        }
        free(is_node);
        for (uint32_t i = 0; i < nd->pending_list.n; i++)
            nd->pending[nd->pending_list.v[i]] = 0;
        nd->pending_list.n = 0;
        nd->run_full = 1;
        nd->next_full_ms = now_ms + (int64_t)interval_s(nd) * 1000;
        return 1;
    }
    int changes_s = nd->cfg && nd->cfg->analytics.node_changes_s > 0 ? nd->cfg->analytics.node_changes_s : 5;
    if (nd->pending_list.n == 0 || now_ms < nd->next_changes_ms)
        return 0;
    uint32_t take = nd->pending_list.n < MSN_NODEDOCS_CHANGES_MAX ? nd->pending_list.n : MSN_NODEDOCS_CHANGES_MAX;
    for (uint32_t i = 0; i < take; i++) {
        nd->pending[nd->pending_list.v[i]] = 0;
        msn_u32vec_push(&nd->run_keys, nd->pending_list.v[i]);
    }
    if (take > 0 && nd->pending_list.n > take)
        memmove(nd->pending_list.v, nd->pending_list.v + take, (size_t)(nd->pending_list.n - take) * sizeof(uint32_t));
    nd->pending_list.n -= take;
    nd->run_full = 0;
    nd->next_changes_ms = now_ms + (int64_t)changes_s * 1000;
    return 1;
}

static void finish(void *kctx, int ok, int64_t now_ms)
{
    msn_nodedocs_t *nd = kctx;
    if (ok)
        return;
    if (nd->run_full) {
        nd->next_full_ms = now_ms + 30000; /* and the changed nodes meanwhile */
    } else {
        for (uint32_t i = 0; i < nd->run_keys.n; i++)
            mark(nd, nd->run_keys.v[i]);
    }
}

/* Emits document `doc` of node pk when have, else its removal. */
static int put(msn_entdoc_out_t *out, const char *doc, const char *pk, int have, const void *body, size_t len,
               int compress)
{
    char name[MSN_ENTDOC_NAME_MAX + 1];
    if (msn_entdoc_name(name, sizeof(name), MSN_ENT_NODE, doc, pk, 64) < 0)
        return 0;
    return have ? msn_entdoc_emit(out, name, body, len, compress) : msn_entdoc_emit_delete(out, name);
}

/* 1 when node pk has no published health document yet: a node new to the documents. */
static int is_new(const msn_entdoc_out_t *out, const char *pk)
{
    char name[MSN_ENTDOC_NAME_MAX + 1];
    return msn_entdoc_name(name, sizeof(name), MSN_ENT_NODE, MSN_NODEDOC_HEALTH, pk, 64) > 0 &&
           !msn_entdoc_published(out, name);
}

static int compute(void *kctx, const msn_store_t *s, int64_t now_ms, msn_entdoc_out_t *out)
{
    msn_nodedocs_t *nd = kctx;
    static const int an_days[] = MSN_NODE_ANALYTICS_DAYS, reach_days[] = MSN_NODE_REACH_DAYS;
    /* a node seen for the first time gets all its documents at once, whatever the run:
       the graph and the reach index are then built for this run too */
    int any_new = 0;
    for (uint32_t i = 0; i < nd->run_keys.n && !nd->run_full && !any_new; i++)
        any_new = is_new(out, s->keys[nd->run_keys.v[i]]);
    msn_pernode_t *p = msn_pernode_new(s, &nd->idx, now_ms, nd->run_full || any_new);
    msn_buf_t b = MSN_BUF_INIT;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_pernode_relays(p, &sb);
    int rc = msn_entdoc_emit(out, MSN_DOC_RELAYS, sb.data, sb.size, 0);
    if (rc == 0 && nd->run_full && msn_pernode_graph(p, &sb))
        rc = msn_entdoc_emit(out, MSN_DOC_NEIGHBOR_GRAPH, sb.data, sb.size, 0);
    for (uint32_t i = 0; i < nd->run_keys.n && rc == 0; i++) {
        uint32_t key = nd->run_keys.v[i];
        const char *pk = s->keys[key];
        int have, all = nd->run_full || (any_new && is_new(out, pk));
        char doc[32];
        have = msn_pernode_health(p, key, &b);
        rc |= put(out, MSN_NODEDOC_HEALTH, pk, have, b.data, b.len, 1);
        have = msn_pernode_detail(p, key, &b);
        rc |= put(out, MSN_NODEDOC_DETAIL, pk, have, b.data, b.len, 1);
        have = msn_pernode_paths(p, key, &b);
        rc |= put(out, MSN_NODEDOC_PATHS, pk, have, b.data, b.len, 1);
        have = msn_pernode_clock_skew(p, key, &b);
        rc |= put(out, MSN_NODEDOC_CLOCK_SKEW, pk, have, b.data, b.len, 1);
        have = msn_pernode_bulk(p, key, &sb);
        rc |= put(out, MSN_NODEDOC_BULK, pk, have, sb.data, sb.size, 0);
        for (int d = 0; d < MSN_NODE_ANALYTICS_NDAYS; d++) {
            if (!all && an_days[d] > 7)
                continue;
            snprintf(doc, sizeof(doc), MSN_NODEDOC_ANALYTICS ".%d", an_days[d]);
            have = msn_pernode_analytics(p, key, an_days[d], &b);
            rc |= put(out, doc, pk, have, b.data, b.len, 1);
        }
        if (!all)
            continue;
        for (int d = 0; d < MSN_NODE_REACH_NDAYS; d++) {
            snprintf(doc, sizeof(doc), MSN_NODEDOC_REACH ".%d", reach_days[d]);
            have = msn_pernode_reach(p, key, reach_days[d], &b);
            rc |= put(out, doc, pk, have, b.data, b.len, 1);
        }
        have = msn_pernode_neighbors(p, key, &sb);
        rc |= put(out, MSN_NODEDOC_NEIGHBORS, pk, have, sb.data, sb.size, 0);
    }
    msgpack_sbuffer_destroy(&sb);
    msn_buf_free(&b);
    msn_pernode_free(p);
    return rc ? -1 : 0;
}

static int loud(void *kctx)
{
    return ((const msn_nodedocs_t *)kctx)->run_full;
}

msn_entkind_t msn_nodedocs_kind(msn_nodedocs_t *nd)
{
    msn_entkind_t k = {MSN_ENT_NODE, plan, compute, finish, loud, nd};
    return k;
}
