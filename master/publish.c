/* publish.c: see publish.h. */
#include "publish.h"

#include <fcntl.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend_doc.h"
#include "chanpub.h"
#include "fxbulk.h"
#include "fxlists.h"
#include "pubrender.h"
#include "render.h"
#include "render_channels.h"
#include "render_observer.h"
#include "shm/buf.h"
#include "shm/hash.h"
#include "shm/log.h"

typedef struct {
    msn_publisher_t *p;
    msn_store_t *s;
    MDB_txn *txn;
    msn_buf_t scratch;
    msgpack_sbuffer sb;
    const msn_snap_t *prev; /* full build: the environment being replaced (env NULL when none is open) */
    int append;   /* keys arrive in order (full build) */
    int tx_dirty; /* some transmission record was rewritten */
    msn_pubskip_t skip; /* what this publication left out (added to the publisher's on commit) */
    int nodes_rewritten; /* the node table was rewritten: skip.nodes replaces the publisher's count */
    /* full build: packet-list entries are gathered here (written in key order after the
       rows) and oid is written in its own pass; NULL for an incremental publication */
    msn_fxbulk_t *fxb;
    uint32_t tx_ix; /* full build: the index in store->tx of the transmission being written */
    msn_snap_key_t last_obs; /* full build: the last obs key appended (len 0 before the first) */
    /* full build: put()'s cursor per table in the current transaction (opened at its first
       put, closed by close_cursors before the transaction ends). An appending put through
       a cursor left at the end of its table finds its place without a search from the
       root, and a put near the cursor's page searches only that page. */
    MDB_cursor *cur[MSN_DBI_COUNT];
} wctx_t;

static const char *const dbi_label[MSN_DBI_COUNT] = {"meta", "doc", "tx",   "obs",  "oid", "hash",
                                                     "fx",   "ft",  "node", "orow", "fl"};

#define SKIPS_LOGGED 20 /* rows left out of an index logged one by one; then every 1000th */

static void vlog_skip(int64_t n, const char *fmt, va_list ap)
{
    if (n > SKIPS_LOGGED && n % 1000 != 0)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msn_warn("%s%s", msg, n == SKIPS_LOGGED ? " (further ones are logged every 1000th; healthz counts them all)" : "");
}

void msn_pubskip_log(int64_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_skip(n, fmt, ap);
    va_end(ap);
}

static void log_skip(wctx_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_skip(wctx_t *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_skip(++w->p->skip.logged, fmt, ap);
    va_end(ap);
}

void msn_publisher_init(msn_publisher_t *p, const char *state_dir, const char *source_db, int64_t master_start_ms)
{
    memset(p, 0, sizeof(*p));
    p->state_dir = msn_xstrdup(state_dir);
    p->source_db = msn_xstrdup(source_db);
    p->master_start_ms = master_start_ms;
    msn_famdocs_init(&p->observer_docs, MSN_FAMDOC_OBSERVER);
    /* continue the generation numbers of whatever snapshot is there, in any format: the
       first full publication then writes a new environment beside it */
    msn_snap_meta_t m;
    char err[512];
    int rc = msn_snap_current_meta(state_dir, &m, err, sizeof(err));
    /* the numbers go on after every environment there ever was, damaged ones included */
    uint64_t highest = msn_snap_highest_gen(state_dir);
    p->gen = highest;
    if (rc == 0) {
        if (m.gen > p->gen)
            p->gen = m.gen;
        if (m.format == 0)
            msn_warn("the snapshot in %s has no snapshot format version (written by an older meshsnap), this binary "
                     "writes format %d: it is not served; publishing a fresh generation in a new environment",
                     state_dir, MSN_SNAP_FORMAT);
        else if (m.format != MSN_SNAP_FORMAT)
            msn_warn("the snapshot in %s has snapshot format %u, this binary writes format %d: it is not served; "
                     "publishing a fresh generation in a new environment",
                     state_dir, (unsigned)m.format, MSN_SNAP_FORMAT);
    }
}

void msn_publisher_free(msn_publisher_t *p)
{
    msn_snap_close(&p->snap);
    msn_famdocs_free(&p->observer_docs);
    free(p->state_dir);
    free(p->source_db);
    memset(p, 0, sizeof(*p));
}

static int put(wctx_t *w, int dbi, const msn_snap_key_t *key, const void *v, size_t vl, unsigned flags)
{
    MDB_val k = msn_snap_key_val(key), val = {vl, (void *)v};
    /* the last guard: LMDB answers MDB_BAD_VALSIZE for these, which would fail the whole
       publication (DUPSORT values are keys too) */
    size_t max = (size_t)mdb_env_get_maxkeysize(w->p->snap.env);
    if (k.mv_size == 0 || k.mv_size > max || (dbi == MSN_DBI_FX && (vl == 0 || vl > max))) {
        char ex[MSN_LOG_EXCERPT_SIZE];
        msn_log_excerpt(k.mv_data, k.mv_size, ex);
        w->skip.refused++;
        log_skip(w, "snapshot: a %s key of %zu bytes (\"%s\") cannot be stored; that entry is left out", dbi_label[dbi],
                 k.mv_size, ex);
        return 0;
    }
    int rc;
    if (w->append) {
        if (w->cur[dbi] == NULL && (rc = mdb_cursor_open(w->txn, w->p->snap.dbi[dbi], &w->cur[dbi])))
            return rc;
        rc = mdb_cursor_put(w->cur[dbi], &k, &val, flags);
    } else {
        rc = mdb_put(w->txn, w->p->snap.dbi[dbi], &k, &val, flags);
    }
    if (rc == MDB_KEYEXIST && (flags & (MDB_NODUPDATA | MDB_NOOVERWRITE)))
        return 0;
    return rc;
}

/* Adds rec to packet list kind+value (a value that makes no key has no list). */
static int put_fx(wctx_t *w, msn_fx_kind_t kind, const void *value, size_t len, const msn_fx_rec_t *rec)
{
    msn_snap_key_t k;
    if (msn_snap_fx_key(kind, value, len, &k) < 0) {
        if (len > 0 && value != NULL) { /* a value no list key can hold (empty ones have no list) */
            char ex[MSN_LOG_EXCERPT_SIZE];
            msn_log_excerpt(value, len, ex);
            w->skip.list_keys++;
            log_skip(w, "transmission %llu: the value \"%s\" (%zu bytes) is too long for the '%c' packet list; "
                     "the transmission is not listed under it", (unsigned long long)msn_snaprec_fx_id(rec), ex, len,
                     (char)kind);
        }
        return 0;
    }
    if (w->fxb) {
        msn_fxbulk_add(w->fxb, k.b, k.len, w->tx_ix);
        return 0;
    }
    msn_fx_rec_t sealed = *rec;
    msn_snaprec_fx_seal(&sealed, k.b, k.len);
    return put(w, MSN_DBI_FX, &k, &sealed, sizeof(sealed), MDB_NODUPDATA);
}

/* put_fx as an fxlists.h walker: puts the entry under each list it is given. */
typedef struct {
    wctx_t *w;
    const msn_fx_rec_t *rec;
} listctx_t;

static int put_fx_cb(void *ctx, msn_fx_kind_t kind, const void *value, size_t len)
{
    listctx_t *c = ctx;
    return put_fx(c->w, kind, value, len, c->rec);
}

static void fx_rec_of(const msn_tx_t *t, msn_fx_rec_t *rec)
{
    msn_snaprec_fx_make(rec, (uint64_t)t->id, t->first_seen_ms, t->payload_type, t->route_type);
}

/* Keeps the time-of-sighting index (fl) in step with the transmission's newest sighting. */
static int write_latest(wctx_t *w, msn_tx_t *t)
{
    int64_t latest = t->latest * 1000 > t->first_seen_ms ? t->latest * 1000 : t->first_seen_ms;
    if (latest == t->latest_pub)
        return 0;
    msn_snap_key_t k;
    int rc;
    if (t->latest_pub != 0 && !w->append) {
        msn_snap_fl_key(t->latest_pub, (uint64_t)t->id, &k);
        MDB_val key = msn_snap_key_val(&k);
        rc = mdb_del(w->txn, w->p->snap.dbi[MSN_DBI_FL], &key, NULL);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
    }
    msn_snap_fl_key(latest, (uint64_t)t->id, &k);
    uint8_t ks[MSN_SNAPREC_KEYSUM_LEN];
    msn_snaprec_keysum(ks, k.b, k.len);
    if ((rc = put(w, MSN_DBI_FL, &k, ks, sizeof(ks), 0)))
        return rc;
    t->latest_pub = latest;
    return 0;
}

/* Adds a new transmission to its packet lists. */
static int write_tx_lists(wctx_t *w, const msn_tx_t *t)
{
    msn_fx_rec_t rec;
    fx_rec_of(t, &rec);
    listctx_t c = {w, &rec};
    return msn_fxlists_tx(t, &rec, put_fx_cb, &c);
}

/* Writes a transmission's own keys (tx record, plus hash/fx/ft when new). pre: its records
 * as the full build's render thread made them (which also gathered its packet-list
 * entries), or NULL to render them here. */
static int write_tx(wctx_t *w, msn_tx_t *t, int is_new, const msn_pubrender_tx_t *pre)
{
    msn_snap_key_t k;
    uint8_t idv[MSN_SNAPREC_ID_LEN];
    msn_snap_tx_key((uint64_t)t->id, &k);
    int rc;
    if (pre) {
        rc = put(w, MSN_DBI_TX, &k, pre->tx, pre->tx_len, w->append ? MDB_APPEND : 0);
    } else {
        msgpack_sbuffer_clear(&w->sb);
        msn_render_tx_record(&w->sb, w->s, t, &w->scratch);
        rc = put(w, MSN_DBI_TX, &k, w->sb.data, w->sb.size, w->append ? MDB_APPEND : 0);
    }
    if (rc == 0)
        rc = write_latest(w, t);
    if (rc == 0 && pre == NULL)
        rc = msn_chanpub_write(w->txn, &w->p->snap, w->s, t, &w->scratch, &w->sb);
    else if (rc == 0 && pre->cmsg_kind != 0) {
        /* its chl entries were gathered by the render thread: written in key order after
           the rows (write_chls) */
        t->chl_pub = t->latest;
        t->chl_written = 1;
        rc = msn_chanpub_put_cmsg(w->txn, &w->p->snap, t, pre->cmsg_kind > 0 ? pre->cmsg : NULL, pre->cmsg_len);
    }
    if (rc || !is_new)
        return rc;
    if (t->hash && msn_snap_hash_key(t->hash, strlen(t->hash), &k) == 0) {
        if (pre == NULL) { /* (the full build writes the index in key order afterwards: write_hashes) */
            msn_snaprec_id_encode(idv, k.b, k.len, (uint64_t)t->id);
            if ((rc = put(w, MSN_DBI_HASH, &k, idv, sizeof(idv), 0)))
                return rc;
        }
    } else {
        char ex[MSN_LOG_EXCERPT_SIZE];
        msn_log_excerpt(t->hash ? t->hash : "", t->hash ? strlen(t->hash) : 0, ex);
        w->skip.tx_hash++;
        log_skip(w, "transmission %lld has the hash \"%s\" (%zu bytes), not 1 to 64 hex digits: it is served, but "
                 "not found by hash", (long long)t->id, ex, t->hash ? strlen(t->hash) : (size_t)0);
    }
    if (pre == NULL && (rc = write_tx_lists(w, t)))
        return rc; /* (with pre, the render thread gathered the list entries) */
    msn_snap_ft_key(t->first_seen_ms, (uint64_t)t->id, &k);
    uint8_t v[MSN_SNAPREC_KEYSUM_LEN + 128];
    size_t vlen = msn_snaprec_timeval(v, sizeof(v), k.b, k.len, t->first_seen, strlen(t->first_seen));
    return put(w, MSN_DBI_FT, &k, v, vlen, 0);
}

/* Writes one observation (obs, oid, and the observer list entry of its transmission).
 * pre: its record as the full build's render thread made it (which also gathered its
 * packet-list entries), pre_len bytes; NULL to render it here. */
static int write_obs(wctx_t *w, msn_tx_t *t, const msn_obs_t *o, const uint8_t *pre, size_t pre_len)
{
    msn_snap_key_t k;
    uint8_t txv[MSN_SNAPREC_ID_LEN];
    msn_snap_obs_key((uint64_t)t->id, (uint64_t)o->id, &k);
    const void *val = pre;
    size_t len = pre_len;
    if (pre == NULL) {
        msgpack_sbuffer_clear(&w->sb);
        msn_render_obs_record(&w->sb, w->s, t, o);
        val = w->sb.data;
        len = w->sb.size;
    }
    /* a full build appends; an observation taken in late (store.h) may come after a newer
       one of its transmission and is put in its place */
    int append = w->append && (w->last_obs.len == 0 || memcmp(k.b, w->last_obs.b, k.len) > 0);
    int rc = put(w, MSN_DBI_OBS, &k, val, len, append ? MDB_APPEND : 0);
    if (rc)
        return rc;
    if (append)
        w->last_obs = k;
    if (pre)
        return 0; /* oid is written afterwards (write_oids), the lists were gathered */
    if (w->fxb == NULL) { /* a full build writes oid in id order afterwards (write_oids) */
        msn_snap_oid_key((uint64_t)o->id, &k);
        msn_snaprec_id_encode(txv, k.b, k.len, (uint64_t)t->id);
        if ((rc = put(w, MSN_DBI_OID, &k, txv, sizeof(txv), 0)))
            return rc;
    }
    msn_fx_rec_t rec;
    fx_rec_of(t, &rec);
    listctx_t c = {w, &rec};
    return msn_fxlists_obs(w->s, o, put_fx_cb, &c);
}

/* Writes the observer_metrics rows changed since the last publication (all when force). */
static int write_metrics(wctx_t *w, int force, int *changed)
{
    const msn_obsmetrics_t *m = &w->s->metrics;
    if (!force && !m->dirty)
        return 0;
    for (uint32_t i = 0; i < m->n_series; i++) {
        const msn_omseries_t *se = &m->series[i];
        if (!force && !se->dirty)
            continue;
        for (uint32_t r = 0; r < se->n; r++) {
            if (!force && !se->rows[r].dirty)
                continue;
            msn_snap_key_t k;
            if (msn_snap_om_key(se->observer_id, strlen(se->observer_id), se->rows[r].ts_ms, &k) < 0)
                continue;
            msn_snaprec_om_t rec;
            msn_obsmetrics_record(&se->rows[r], &rec);
            msgpack_sbuffer_clear(&w->sb);
            msn_snaprec_om_encode(&w->sb, &rec);
            int rc = put(w, MSN_DBI_OM, &k, w->sb.data, w->sb.size, 0);
            if (rc)
                return rc;
            *changed = 1;
        }
    }
    return 0;
}

/* Rewrites each observer's document whose body changed; deletes those of observers gone. */
static int write_observer_docs(wctx_t *w, int64_t now_ms, int *changed)
{
    msn_publisher_t *p = w->p;
    msn_famdocs_begin(&p->observer_docs);
    for (uint32_t i = 0; i < w->s->n_observers; i++) {
        const msn_observer_t *o = &w->s->observers[i];
        if (o->id == NULL || o->id[0] == 0)
            continue;
        msn_buf_reset(&w->scratch);
        msn_render_observer_detail(&w->scratch, o, now_ms);
        int rc = msn_famdocs_put(&p->observer_docs, w->txn, &p->snap, o->id, strlen(o->id), w->scratch.data,
                                 w->scratch.len, p->gen + 1, now_ms, now_ms + p->poll_interval_ms, changed);
        if (rc)
            return rc;
    }
    return msn_famdocs_end(&p->observer_docs, w->txn, &p->snap, changed);
}

/* Rewrites the channel index when it changed (it depends on channel messages and on
 * observer regions: it is rebuilt when either may have changed). */
static int write_channels_index(wctx_t *w, int64_t now_ms, int force, int observers_changed, int *changed)
{
    msn_publisher_t *p = w->p;
    if (!force && !observers_changed && p->pub_tx == w->s->n_tx && p->pub_obs == w->s->n_obs && !w->tx_dirty)
        return 0;
    msgpack_sbuffer_clear(&w->sb);
    msn_render_channels_index(&w->sb, w->s);
    uint64_t h = msn_fnv1a64(w->sb.data, w->sb.size);
    if (!force && h == p->channels_hash)
        return 0;
    int rc = msn_snap_doc_put(w->txn, &p->snap, MSN_DOC_CHANNELS_INDEX, w->sb.data, w->sb.size, p->gen + 1, now_ms);
    if (rc == 0) {
        p->channels_hash = h;
        *changed = 1;
    }
    return rc;
}

/* Rewrites the small documents (nodes, observers, stats) when their content changed. */
static int write_small(wctx_t *w, int64_t now_ms, int force, int *changed)
{
    msn_publisher_t *p = w->p;
    msn_store_t *s = w->s;
    int rc;
    /* nodes */
    msn_buf_t all = MSN_BUF_INIT;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        msn_render_node_fragment(&all, &s->nodes[i]);
    uint64_t h = msn_fnv1a64(all.data, all.len);
    if (force || h != p->nodes_hash) {
        if ((rc = mdb_drop(w->txn, p->snap.dbi[MSN_DBI_NODE], 0)))
            goto out;
        w->skip.nodes = 0;
        w->nodes_rewritten = 1;
        for (uint32_t i = 0; i < s->n_nodes; i++) {
            const char *pkey = s->nodes[i].public_key;
            msn_snap_key_t k;
            if (pkey == NULL || msn_snap_node_key(pkey, strlen(pkey), &k) < 0) {
                char ex[MSN_LOG_EXCERPT_SIZE];
                msn_log_excerpt(pkey ? pkey : "", pkey ? strlen(pkey) : 0, ex);
                w->skip.nodes++;
                log_skip(w, "node \"%s\" has a public key of %zu bytes (\"%s\"), not 1 to 64: listed, but not found by key",
                         s->nodes[i].name ? s->nodes[i].name : "", pkey ? strlen(pkey) : (size_t)0, ex);
                continue;
            }
            msn_buf_reset(&w->scratch);
            msn_render_node_fragment(&w->scratch, &s->nodes[i]);
            size_t frag_len = w->scratch.len;
            msn_render_node_base(&w->scratch, &s->nodes[i], s->schema.nodes_default_scope);
            msgpack_sbuffer_clear(&w->sb);
            msn_snaprec_node_t rec = {{w->scratch.data, frag_len},
                                      {w->scratch.data + frag_len, w->scratch.len - frag_len}};
            msn_snaprec_node_encode(&w->sb, &rec);
            if ((rc = put(w, MSN_DBI_NODE, &k, w->sb.data, w->sb.size, 0)))
                goto out;
        }
        msgpack_sbuffer_clear(&w->sb);
        msn_render_nodes_index(&w->sb, s);
        if ((rc = msn_snap_doc_put(w->txn, &p->snap, MSN_DOC_NODES_INDEX, w->sb.data, w->sb.size, p->gen + 1, now_ms)))
            goto out;
        p->nodes_hash = h;
        *changed = 1;
    }
    /* observers */
    msn_buf_reset(&all);
    msn_render_observers_prefix(&all, s);
    h = msn_fnv1a64(all.data, all.len);
    int observers_changed = force || h != p->observers_hash;
    if ((rc = write_observer_docs(w, now_ms, changed)) || (rc = write_metrics(w, force, changed)))
        goto out;
    if ((rc = write_channels_index(w, now_ms, force, observers_changed, changed)))
        goto out;
    if (observers_changed) {
        if ((rc = mdb_drop(w->txn, p->snap.dbi[MSN_DBI_OROW], 0)))
            goto out;
        for (uint32_t i = 0; i < s->n_observers; i++) {
            msn_snap_key_t k;
            msn_snap_orow_key(s->observers[i].rowid, &k);
            msgpack_sbuffer_clear(&w->sb);
            msn_render_observer_row(&w->sb, &s->observers[i]);
            if ((rc = put(w, MSN_DBI_OROW, &k, w->sb.data, w->sb.size, 0)))
                goto out;
        }
        if ((rc = msn_snap_doc_put_full(w->txn, &p->snap, MSN_DOC_OBSERVERS, all.data, all.len, NULL, 0, 1, p->gen + 1, now_ms,
                                        now_ms + p->poll_interval_ms)))
            goto out;
        p->observers_hash = h;
        *changed = 1;
    }
    /* the default /api/packets page (newest 50), which dashboards ask for most */
    if (force || p->pub_tx != s->n_tx || w->tx_dirty) {
        msn_buf_reset(&all);
        msn_render_packets_page(&all, s, 50);
        if ((rc = msn_snap_doc_put_full(w->txn, &p->snap, MSN_DOC_PACKETS_DEFAULT, all.data, all.len, NULL, 0, 1, p->gen + 1,
                                        now_ms, now_ms + p->poll_interval_ms)))
            goto out;
        *changed = 1;
    }
    /* stats */
    msn_buf_reset(&all);
    msn_render_stats(&all, s, now_ms);
    h = msn_fnv1a64(all.data, all.len);
    if (force || h != p->stats_hash) {
        if ((rc = msn_snap_doc_put_full(w->txn, &p->snap, MSN_DOC_STATS, all.data, all.len, NULL, 0, 1, p->gen + 1, now_ms,
                                        now_ms + p->poll_interval_ms)))
            goto out;
        p->stats_hash = h;
        *changed = 1;
    }
    /* what the web pages' configuration derives from the data */
    msn_buf_reset(&all);
    msn_render_frontend_iatas(&all, s);
    size_t iatas_len = all.len;
    msn_render_frontend_center(&all, s);
    h = msn_fnv1a64(all.data, all.len);
    if (force || h != p->frontend_hash) {
        if ((rc = msn_snap_doc_put(w->txn, &p->snap, MSN_DOC_FRONTEND_IATAS, all.data, iatas_len, p->gen + 1, now_ms)) ||
            (rc = msn_snap_doc_put(w->txn, &p->snap, MSN_DOC_FRONTEND_CENTER, all.data + iatas_len, all.len - iatas_len,
                                   p->gen + 1, now_ms)))
            goto out;
        p->frontend_hash = h;
        *changed = 1;
    }
    if (p->an) {
        int wrote = 0;
        if ((rc = msn_ansched_write(p->an, w->txn, &p->snap, p->gen + 1, now_ms, force, &wrote)))
            goto out;
        if (wrote)
            *changed = 1;
    }
    if (p->ent) {
        int wrote = 0;
        if ((rc = msn_entdocs_write(p->ent, w->txn, &p->snap, w->prev, p->state_dir, p->gen + 1, now_ms, force,
                                    &wrote)))
            goto out;
        if (wrote)
            *changed = 1;
    }
    rc = 0;
out:
    msn_buf_free(&all);
    return rc;
}

static int write_meta(wctx_t *w, int64_t now_ms)
{
    msn_snap_meta_t m;
    memset(&m, 0, sizeof(m));
    m.format = MSN_SNAP_FORMAT;
    m.gen = w->p->gen + 1;
    m.published_at_ms = now_ms;
    m.master_start_ms = w->p->master_start_ms;
    m.max_tx_id = w->s->max_tx_id;
    m.max_obs_id = w->s->max_obs_id;
    m.tx_count = w->s->n_tx;
    m.obs_count = w->s->n_obs;
    m.legacy_schema = w->s->schema.legacy;
    snprintf(m.source_db, sizeof(m.source_db), "%s", w->p->source_db);
    int rc;
    msn_snap_meta_put(w->txn, &w->p->snap, &m, &rc);
    return rc;
}

/* Closes put()'s cursors (before the transaction ends: LMDB frees them with it). */
static void close_cursors(wctx_t *w)
{
    for (int i = 0; i < MSN_DBI_COUNT; i++) {
        if (w->cur[i])
            mdb_cursor_close(w->cur[i]);
        w->cur[i] = NULL;
    }
}

static void wctx_free(wctx_t *w)
{
    msn_buf_free(&w->scratch);
    msgpack_sbuffer_destroy(&w->sb);
}

/* Drops the master's page-table entries of the environment's read-only map (the pages
 * stay in the page cache, shared with the workers, and fault in again when read): a full
 * publication touches every page of the B-trees it writes, which would otherwise stay
 * resident in the master for as long as the environment is open. */
static void drop_mapped_pages(MDB_env *env)
{
    msn_snap_drop_resident(env);
}

/* Full build: commits what the current transaction holds (without a sync: see
 * msn_publish_full) and begins the next one. The pages written so far start going to the
 * disk at once (sync_file_range, without waiting for them): the kernel would otherwise
 * hold them until the final sync, which then waits for all of them with nothing else to
 * do, while the rest of the build could have overlapped the writes. */
static int next_batch(wctx_t *w)
{
    close_cursors(w);
    int rc = mdb_txn_commit(w->txn);
    w->txn = NULL;
    int fd;
    if (rc == 0 && mdb_env_get_fd(w->p->snap.env, &fd) == 0)
        (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    drop_mapped_pages(w->p->snap.env);
    if (rc == 0)
        rc = mdb_txn_begin(w->p->snap.env, NULL, 0, &w->txn);
    return rc;
}

static int stop_asked(const msn_publisher_t *p)
{
    return p->stop != NULL && atomic_load(p->stop);
}

#define PUB_STOPPED (-2) /* a full build gave up (*p->stop): not an LMDB or errno code */

/* The full build's batches in the passes after the rows: index entries are small, so a
 * batch holds this many times MSN_PUBLISH_BATCH_RECORDS of them. */
#define OID_PER_RECORD 4u
#define FX_PER_RECORD 8u

/* The full build's batch, in records. */
static uint32_t batch_records(const msn_publisher_t *p)
{
    return p->batch_records ? p->batch_records : MSN_PUBLISH_BATCH_RECORDS;
}

/* Full build, a pass after the rows through one cursor on table dbi: when *batch reached
 * limit entries, closes the cursor, commits (checking for a stop request first) and opens
 * the cursor again in the next transaction. */
static int pass_batch(wctx_t *w, MDB_cursor **cur, int dbi, uint32_t *batch, uint32_t limit)
{
    if (*batch < limit)
        return 0;
    *batch = 0;
    mdb_cursor_close(*cur);
    *cur = NULL;
    if (stop_asked(w->p))
        return PUB_STOPPED;
    int rc = next_batch(w);
    return rc ? rc : mdb_cursor_open(w->txn, w->p->snap.dbi[dbi], cur);
}

/* Puts index entry k -> id (an id record, shm/snaprec.h) through cur. */
static int cursor_put_id(MDB_cursor *cur, const msn_snap_key_t *k, uint64_t id, unsigned flags)
{
    uint8_t v[MSN_SNAPREC_ID_LEN];
    msn_snaprec_id_encode(v, k->b, k->len, id);
    MDB_val kv = msn_snap_key_val(k), vv = {sizeof(v), v};
    return mdb_cursor_put(cur, &kv, &vv, flags);
}

/* Full build: the oid index in observation-id order, through one cursor (its keys, 8
 * bytes, are never refused). store->obs is in id order except for the late observations
 * (store.h): an id that does not come after every one written so far is put in its
 * place, the others are appended. */
static int write_oids(wctx_t *w)
{
    uint64_t last = 0;
    uint32_t batch = 0;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(w->txn, w->p->snap.dbi[MSN_DBI_OID], &cur);
    for (uint32_t i = 0; i < w->s->n_obs && rc == 0; i++) {
        const msn_obs_t *o = &w->s->obs[i];
        msn_snap_key_t k;
        msn_snap_oid_key((uint64_t)o->id, &k);
        int append = (uint64_t)o->id > last;
        if ((rc = cursor_put_id(cur, &k, (uint64_t)o->tx_id, append ? MDB_APPEND : 0)))
            break;
        if (append)
            last = (uint64_t)o->id;
        batch++;
        rc = pass_batch(w, &cur, MSN_DBI_OID, &batch, batch_records(w->p) * OID_PER_RECORD);
    }
    if (cur)
        mdb_cursor_close(cur);
    return rc;
}

/* Full build: the hash index, in key order as the render thread sorted it, appended
 * through one cursor. Of transmissions with equal keys the last in store order is
 * indexed, as putting them one by one in that order left it. */
static int write_hashes(wctx_t *w, const msn_pubrender_t *rr)
{
    uint32_t n, batch = 0;
    const msn_pubrender_hash_t *hs = msn_pubrender_hashes(rr, &n);
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(w->txn, w->p->snap.dbi[MSN_DBI_HASH], &cur);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (i + 1 < n && hs[i + 1].len == hs[i].len && strncasecmp(hs[i + 1].hash, hs[i].hash, hs[i].len) == 0)
            continue; /* a later transmission has the same key */
        msn_snap_key_t k;
        (void)msn_snap_hash_key(hs[i].hash, hs[i].len, &k); /* made a key when sorted */
        if ((rc = cursor_put_id(cur, &k, (uint64_t)w->s->tx[hs[i].tx_ix].id, MDB_APPEND)))
            break;
        batch++;
        rc = pass_batch(w, &cur, MSN_DBI_HASH, &batch, batch_records(w->p) * OID_PER_RECORD);
    }
    if (cur)
        mdb_cursor_close(cur);
    return rc;
}

/* Full build: the channel lists (chl) of every channel message, in key and value order as
 * the render thread sorted them, appended through one cursor: a key's first entry after
 * every key so far (MDB_APPEND), its others after its last (MDB_APPENDDUP). A repeated
 * pair is put once, as MDB_NODUPDATA did. */
static int write_chls(wctx_t *w, const msn_pubrender_t *rr)
{
    uint32_t n, batch = 0;
    const uint8_t *keys;
    const msn_pubrender_chl_t *es = msn_pubrender_chls(rr, &n, &keys);
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(w->txn, w->p->snap.dbi[MSN_DBI_CHL], &cur);
    const msn_pubrender_chl_t *prev = NULL;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const msn_pubrender_chl_t *e = &es[i];
        int same_key = prev && prev->key_len == e->key_len &&
                       memcmp(keys + prev->key_off, keys + e->key_off, e->key_len) == 0;
        if (same_key && memcmp(prev->val, e->val, sizeof(e->val)) == 0)
            continue;
        MDB_val k = {e->key_len, (void *)(keys + e->key_off)}, v = {sizeof(e->val), (void *)e->val};
        /* (MDB_APPENDDUP without MDB_APPEND finds the key, also in a new transaction) */
        unsigned flags = same_key ? MDB_APPENDDUP : MDB_APPEND;
        if ((rc = mdb_cursor_put(cur, &k, &v, flags)))
            break;
        prev = e;
        batch++;
        rc = pass_batch(w, &cur, MSN_DBI_CHL, &batch, batch_records(w->p) * OID_PER_RECORD);
    }
    if (cur)
        mdb_cursor_close(cur);
    return rc;
}

/* Full build: writes the packet lists gathered in w->fxb, key after key in LMDB's order,
 * their entries made by the render thread (pubrender.h) in chunks.
 * A list's first entries make its key after every key written so far (MDB_APPEND); each
 * chunk of entries goes after the list's last one (MDB_APPENDDUP), several per call
 * (MDB_MULTIPLE: fx is DUPFIXED). A list may span batches: its later chunks find their
 * key again in the next transaction (no MDB_APPEND) and are still appended to it. */
static int write_fx_lists(wctx_t *w, msn_pubrender_t *rr)
{
    msn_fxbulk_t *b = w->fxb;
    size_t max = (size_t)mdb_env_get_maxkeysize(w->p->snap.env);
    uint32_t batch = 0;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(w->txn, w->p->snap.dbi[MSN_DBI_FX], &cur);
    for (uint32_t i = 0; i < b->n_lists && rc == 0; i++) {
        const msn_fxlist_t *l = msn_fxbulk_at(b, i);
        MDB_val k = {l->key_len, (void *)msn_fxbulk_key(b, l)};
        int refused = k.mv_size == 0 || k.mv_size > max;
        for (uint32_t off = 0; off < l->n && rc == 0;) {
            const msn_fx_rec_t *recs;
            uint32_t m = msn_pubrender_fx_next(rr, &recs);
            if (refused) { /* put()'s last guard, entry by entry */
                char ex[MSN_LOG_EXCERPT_SIZE];
                msn_log_excerpt(k.mv_data, k.mv_size, ex);
                for (uint32_t j = 0; j < m; j++) {
                    w->skip.refused++;
                    log_skip(w, "snapshot: a %s key of %zu bytes (\"%s\") cannot be stored; that entry is left out",
                             dbi_label[MSN_DBI_FX], k.mv_size, ex);
                }
                off += m;
                continue;
            }
            MDB_val d[2] = {{sizeof(*recs), (void *)recs}, {m, NULL}};
            unsigned flags = MDB_MULTIPLE | MDB_APPENDDUP | (off == 0 ? MDB_APPEND : 0);
            rc = mdb_cursor_put(cur, &k, d, flags);
            if (rc == 0 && d[1].mv_size != m)
                rc = MDB_CORRUPTED; /* LMDB wrote fewer entries without saying why */
            off += m;
            batch += m;
            if (rc == 0)
                rc = pass_batch(w, &cur, MSN_DBI_FX, &batch, batch_records(w->p) * FX_PER_RECORD);
        }
    }
    if (cur)
        mdb_cursor_close(cur);
    return rc;
}

int msn_publish_full(msn_publisher_t *p, msn_store_t *s, int64_t now_ms, char *err, size_t errlen)
{
    msn_snap_t fresh;
    if (msn_snap_create(p->state_dir, p->gen + 1, &fresh, err, errlen) < 0)
        return -1;
    msn_snap_t old = p->snap;
    p->snap = fresh;
    msn_fxbulk_t fxb;
    msn_fxbulk_init(&fxb);
    wctx_t w = {.p = p, .s = s, .prev = &old, .append = 1, .fxb = &fxb};
    msgpack_sbuffer_init(&w.sb);
    uint32_t visited = 0; /* transmissions written (made clean) */
    int rc = mdb_txn_begin(p->snap.env, NULL, 0, &w.txn);
    if (rc)
        goto fail;
    /* Nobody reads this environment before it is made current: commit in batches (no
       sync, MDB_NOSYNC) so that one transaction's dirty pages never outgrow LMDB's dirty
       list, which would spill them to the file and read them back; one sync at the end.
       The rows come first (keys in order, appended), then the oid index and the packet
       lists, each in key order. */
    uint32_t batch = 0;
    /* the records are rendered on a second thread, a few blocks ahead (pubrender.h); this
       thread puts them and gathers the packet lists meanwhile */
    int64_t logged0 = p->skip.logged;
    msn_pubrender_t *rr = rc == 0 ? msn_pubrender_start(s, &fxb, logged0) : NULL;
    for (uint32_t i = 0; i < s->n_tx && rc == 0; i++) {
        if ((i & 1023) == 0 && stop_asked(p)) {
            rc = PUB_STOPPED;
            break;
        }
        msn_tx_t *t = &s->tx[i];
        w.tx_ix = i;
        msn_pubrender_tx_t pre;
        msn_pubrender_next(rr, i, &pre);
        msn_pubrender_gather(rr, i);
        rc = write_tx(&w, t, 1, &pre);
        for (uint32_t j = 0; j < t->n_obs && rc == 0; j++)
            rc = write_obs(&w, t, &s->obs[t->obs[j]], pre.obs_base + pre.obs_off[j],
                           pre.obs_off[j + 1] - pre.obs_off[j]);
        t->dirty = 0;
        visited = i + 1;
        batch += 1 + t->n_obs;
        if (rc == 0 && batch >= batch_records(p)) {
            batch = 0;
            rc = next_batch(&w);
        }
    }
    if (rc == 0)
        rc = write_oids(&w);
    if (rc == 0) { /* the render thread sorted the hash index and the lists meanwhile */
        msn_pubrender_fx_begin(rr);
        rc = write_hashes(&w, rr);
    }
    if (rc == 0)
        rc = write_chls(&w, rr);
    if (rc == 0)
        rc = write_fx_lists(&w, rr);
    if (rr) {
        msn_pubrender_skip_t rs;
        msn_pubrender_finish(rr, &rs);
        w.skip.list_keys += rs.list_keys;
        p->skip.logged += rs.logged - logged0;
    }
    msn_fxbulk_free(&fxb);
    w.fxb = NULL;
    if (rc == PUB_STOPPED) {
        snprintf(err, errlen, "stopped");
        close_cursors(&w);
        if (w.txn)
            mdb_txn_abort(w.txn);
        msn_snap_close(&p->snap);
        p->snap = old;
        wctx_free(&w);
        for (uint32_t j = 0; j < visited; j++)
            s->tx[j].dirty = 1; /* not published */
        return -2;
    }
    int changed = 0;
    close_cursors(&w);
    w.append = 0;
    msn_famdocs_reset(&p->observer_docs);
    if (rc == 0 && p->feed)
        rc = msn_feedpub_write_full(p->feed, old.env ? &old : NULL, w.txn, &p->snap, s, now_ms);
    if (rc == 0)
        rc = write_small(&w, now_ms, 1, &changed);
    if (rc == 0)
        rc = write_meta(&w, now_ms);
    if (rc == 0) {
        rc = mdb_txn_commit(w.txn);
        w.txn = NULL;
    }
    /* one sync for the whole generation (MDB_NOSYNC): where its pages are written, so a
       full disk or an I/O error shows here and the previous generation stays current */
    if (rc == 0)
        rc = mdb_env_sync(p->snap.env, 1);
    if (rc)
        goto fail;
    drop_mapped_pages(p->snap.env);
    if (msn_snap_make_current(p->state_dir, &p->snap, err, errlen) < 0) {
        if (p->feed)
            msn_feedpub_end(p->feed, s, 0);
        msn_snap_close(&p->snap);
        p->snap = old;
        wctx_free(&w);
        return -1;
    }
    msn_snap_close(&old);
    if (p->an)
        msn_ansched_committed(p->an);
    if (p->ent)
        msn_entdocs_committed(p->ent);
    msn_obsmetrics_published(&s->metrics);
    if (p->feed)
        msn_feedpub_end(p->feed, s, 1);
    w.skip.logged = p->skip.logged;
    p->skip = w.skip;
    s->n_obs_dirty = 0;
    p->gen++;
    p->pub_tx = s->n_tx;
    p->pub_obs = s->n_obs;
    p->last_published_ms = now_ms;
    wctx_free(&w);
    return 0;
fail:
    msn_famdocs_reset(&p->observer_docs);
    if (p->feed)
        msn_feedpub_end(p->feed, s, 0);
    snprintf(err, errlen, "writing snapshot %s: %s", p->snap.dir, mdb_strerror(rc));
    close_cursors(&w);
    if (w.txn)
        mdb_txn_abort(w.txn);
    msn_snap_close(&p->snap);
    p->snap = old;
    wctx_free(&w);
    return -1;
}

int msn_publish_incremental(msn_publisher_t *p, msn_store_t *s, int64_t now_ms, int *published, char *err,
                            size_t errlen)
{
    *published = 0;
    if (p->snap.env == NULL) {
        snprintf(err, errlen, "no snapshot to update");
        return -1;
    }
    wctx_t w = {.p = p, .s = s, .append = 0};
    msgpack_sbuffer_init(&w.sb);
    int rc = mdb_txn_begin(p->snap.env, NULL, 0, &w.txn);
    if (rc)
        goto fail;
    int changed = 0;
    /* New observations first (their transmissions' records are rewritten below). */
    for (uint32_t i = p->pub_obs; i < s->n_obs && rc == 0; i++) {
        const msn_obs_t *o = &s->obs[i];
        msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
        if (t)
            rc = write_obs(&w, t, o, NULL, 0);
        changed = 1;
    }
    /* observations a backfill changed in place */
    for (uint32_t i = 0; i < s->n_obs_dirty && rc == 0; i++) {
        const msn_obs_t *o = &s->obs[s->obs_dirty[i]];
        if (s->obs_dirty[i] >= p->pub_obs)
            continue; /* new: written above */
        msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
        if (t)
            rc = write_obs(&w, t, o, NULL, 0);
        changed = 1;
    }
    for (uint32_t i = 0; i < s->n_tx && rc == 0; i++) {
        msn_tx_t *t = &s->tx[i];
        if (!t->dirty)
            continue;
        rc = write_tx(&w, t, i >= p->pub_tx, NULL);
        t->dirty = 0;
        changed = 1;
        w.tx_dirty = 1;
    }
    if (rc == 0 && p->feed) {
        int wrote = 0;
        rc = msn_feedpub_write(p->feed, w.txn, &p->snap, s, p->pub_tx, p->pub_obs, now_ms, &wrote);
        changed |= wrote;
    }
    if (rc == 0)
        rc = write_small(&w, now_ms, 0, &changed);
    if (rc == 0 && !changed) {
        mdb_txn_abort(w.txn);
        if (p->feed)
            msn_feedpub_end(p->feed, s, 0); /* nothing was written: nothing to give back */
        wctx_free(&w);
        return 0;
    }
    if (rc == 0)
        rc = write_meta(&w, now_ms);
    if (rc == 0) {
        rc = mdb_txn_commit(w.txn);
        w.txn = NULL;
    }
    if (rc == 0)
        rc = mdb_env_sync(p->snap.env, 1); /* failing: rebuilt in full (pubstep.c) */
    if (rc)
        goto fail;
    if (p->an)
        msn_ansched_committed(p->an);
    if (p->ent)
        msn_entdocs_committed(p->ent);
    msn_obsmetrics_published(&s->metrics);
    if (p->feed)
        msn_feedpub_end(p->feed, s, 1);
    p->skip.tx_hash += w.skip.tx_hash;
    p->skip.list_keys += w.skip.list_keys;
    p->skip.refused += w.skip.refused;
    if (w.nodes_rewritten)
        p->skip.nodes = w.skip.nodes;
    p->gen++;
    p->pub_tx = s->n_tx;
    p->pub_obs = s->n_obs;
    s->n_obs_dirty = 0;
    p->last_published_ms = now_ms;
    *published = 1;
    wctx_free(&w);
    return 0;
fail:
    msn_famdocs_reset(&p->observer_docs);
    if (p->feed)
        msn_feedpub_end(p->feed, s, 0);
    snprintf(err, errlen, "updating snapshot: %s", mdb_strerror(rc));
    if (w.txn)
        mdb_txn_abort(w.txn);
    wctx_free(&w);
    return -1;
}

int msn_publish_resume(msn_publisher_t *p, const msn_snap_meta_t *m, int64_t now_ms, char *err, size_t errlen)
{
    if (p->snap.env != NULL) {
        snprintf(err, errlen, "a snapshot is already open");
        return -1;
    }
    int rc = msn_snap_open_current_rw(p->state_dir, &p->snap, err, errlen);
    if (rc != 0) {
        if (rc > 0)
            snprintf(err, errlen, "no usable current snapshot");
        memset(&p->snap, 0, sizeof(p->snap));
        return -1;
    }
    msn_snap_meta_t nm = *m;
    nm.format = MSN_SNAP_FORMAT;
    nm.gen = p->gen + 1;
    nm.published_at_ms = now_ms;
    nm.master_start_ms = p->master_start_ms;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(p->snap.env, NULL, 0, &txn)) == 0) {
        msn_snap_meta_put(txn, &p->snap, &nm, &rc);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc == 0)
        rc = mdb_env_sync(p->snap.env, 1);
    if (rc) {
        snprintf(err, errlen, "updating snapshot %s: %s", p->snap.dir, mdb_strerror(rc));
        msn_snap_close(&p->snap);
        memset(&p->snap, 0, sizeof(p->snap));
        return -1;
    }
    p->gen++;
    p->last_published_ms = now_ms;
    p->resumed = 1;
    return 0;
}

void msn_publish_release(msn_publisher_t *p)
{
    if (p->resumed)
        msn_snap_close(&p->snap);
    p->resumed = 0;
}
