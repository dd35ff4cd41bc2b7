/* ansched.c: see ansched.h. */
#include "ansched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "shm/anparam.h"
#include "shm/anshape.h"
#include "shm/log.h"

static const char *const windows[] = {"1h", "24h", "7d", "30d"};
static const char *const scope_windows[] = {"1h", "7d"}; /* 24h is scope-stats' default */
static const int observer_days[] = {1, 3, 7, 30};
/* the metrics summary windows of the RF Health tab but its default 24h, in seconds */
static const int64_t metrics_windows[] = {3600, 3 * 3600, 6 * 3600, 12 * 3600, 3 * 86400, 7 * 86400, 30 * 86400};

/* Test knob: MESHSNAP_TEST_ANALYTICS_FAIL=NAME:N[:crash] makes analytic NAME fail (or crash
 * the computing process) from its N-th computation on, to show that a failure keeps the
 * previous result published and takes no process down. Never set in production. */
static int injected(const msn_ansched_t *a, int an)
{
    const char *e = getenv("MESHSNAP_TEST_ANALYTICS_FAIL");
    if (e == NULL || *e == '\0' || an >= MSN_AN_SLOTS)
        return 0;
    char name[48];
    int from = 1;
    char mode[16] = "";
    if (sscanf(e, "%47[^:]:%d:%15s", name, &from, mode) < 1 || strcmp(name, msn_analytic_names[an]) != 0)
        return 0;
    msn_master_status_t ms;
    msn_status_read_master(a->st, &ms);
    if (ms.an[an].computes + 1 < from)
        return 0;
    return strcmp(mode, "crash") == 0 ? 2 : 1;
}

void msn_ansched_init(msn_ansched_t *a, const msn_config_t *cfg, msn_status_t *st)
{
    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->st = st;
    a->ring_tail = st ? atomic_load(&st->shape_head) : 0;
}

static void ent_free(msn_ancache_ent_t *e)
{
    free(e->body);
    free(e->gz);
}

void msn_ansched_free(msn_ansched_t *a)
{
    msn_anrun_reset(&a->run);
    for (int i = 0; i < a->n; i++)
        ent_free(&a->ents[i]);
    free(a->ents);
    for (int i = 0; i < a->n_deleted; i++)
        free(a->deleted[i]);
    free(a->deleted);
    free(a->ht);
    memset(a, 0, sizeof(*a));
}

void msn_ansched_all_due(msn_ansched_t *a)
{
    for (int i = 0; i < MSN_AN_COUNT; i++)
        a->next_due[i] = 0;
}

void msn_ansched_paths_due(msn_ansched_t *a)
{
    a->next_due[MSN_AN_TOPOLOGY] = 0;
    a->next_due[MSN_AN_DISTANCE] = 0;
    a->next_due[MSN_AN_SUBPATHS] = 0;
}

static uint32_t ent_hash(int an, const char *key)
{
    uint32_t h = 2166136261u ^ (uint32_t)an;
    for (const char *p = key; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 16777619u;
    }
    return h;
}

/* Rebuilds the (an, key) index over the entries (after they moved or grew). */
static void reindex(msn_ansched_t *a)
{
    uint32_t cap = 64;
    while (cap < (uint32_t)a->n * 2 + 2)
        cap *= 2;
    free(a->ht);
    a->ht = msn_xcalloc(cap, sizeof(uint32_t));
    a->ht_cap = cap;
    for (int i = 0; i < a->n; i++) {
        uint32_t h = ent_hash(a->ents[i].an, a->ents[i].key) & (cap - 1);
        while (a->ht[h])
            h = (h + 1) & (cap - 1);
        a->ht[h] = (uint32_t)i + 1;
    }
}

static msn_ancache_ent_t *find(msn_ansched_t *a, int an, const char *key)
{
    if (a->ht_cap == 0)
        return NULL;
    for (uint32_t h = ent_hash(an, key) & (a->ht_cap - 1); a->ht[h]; h = (h + 1) & (a->ht_cap - 1)) {
        msn_ancache_ent_t *e = &a->ents[a->ht[h] - 1];
        if (e->an == an && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

/* Removes entry i (the last one takes its place) and queues its document's deletion. */
static void remove_ent(msn_ansched_t *a, int i)
{
    msn_ancache_ent_t *e = &a->ents[i];
    a->deleted = msn_xrealloc(a->deleted, (size_t)(a->n_deleted + 1) * sizeof(char *));
    a->deleted[a->n_deleted++] = msn_xstrdup(e->name);
    a->n_on_demand -= e->on_demand != 0;
    ent_free(e);
    a->ents[i] = a->ents[--a->n];
}

/* Sets whether e is an on-demand shape, keeping the count. */
static void set_on_demand(msn_ansched_t *a, msn_ancache_ent_t *e, int on_demand)
{
    a->n_on_demand += (on_demand != 0) - (e->on_demand != 0);
    e->on_demand = on_demand != 0;
}

static void publish_counts(msn_ansched_t *a)
{
    if (a->st == NULL)
        return;
    msn_status_write_begin(&a->st->master_seq);
    a->st->master.shapes_on_demand = a->n_on_demand;
    a->st->master.shapes_evicted = a->evicted;
    msn_status_write_end(&a->st->master_seq);
}

/* Makes room for one more on-demand shape: evicts the least recently asked ones while
 * [analytics] max_shapes are kept. */
static void make_room(msn_ansched_t *a)
{
    int64_t before = a->evicted;
    while (a->n_on_demand >= a->cfg->analytics.max_shapes) {
        int lru = -1;
        for (int i = 0; i < a->n; i++)
            if (a->ents[i].on_demand && (lru < 0 || a->ents[i].last_requested_ms < a->ents[lru].last_requested_ms))
                lru = i;
        if (lru < 0)
            return;
        msn_debug("analytics: %s evicted (at most %d on-demand shapes are kept)", a->ents[lru].name,
                  a->cfg->analytics.max_shapes);
        remove_ent(a, lru);
        a->evicted++;
    }
    if (a->evicted != before)
        reindex(a);
}

static msn_ancache_ent_t *add(msn_ansched_t *a, int an, const char *key, int on_demand)
{
    msn_ancache_ent_t *e = find(a, an, key);
    if (e)
        return e;
    if (on_demand)
        make_room(a);
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->ents = msn_xrealloc(a->ents, (size_t)a->cap * sizeof(*a->ents));
    }
    if ((uint32_t)(a->n + 1) * 2 > a->ht_cap) {
        reindex(a); /* sized for the entry about to be added */
    }
    e = &a->ents[a->n++];
    memset(e, 0, sizeof(*e));
    e->an = an;
    snprintf(e->key, sizeof(e->key), "%s", key);
    msn_anshape_t sh;
    if (msn_anshape_from_key(key, &sh) < 0)
        memset(&sh, 0, sizeof(sh));
    msn_anshape_doc_name(an, &sh, e->name, sizeof(e->name));
    set_on_demand(a, e, on_demand);
    uint32_t h = ent_hash(an, e->key) & (a->ht_cap - 1);
    while (a->ht[h])
        h = (h + 1) & (a->ht_cap - 1);
    a->ht[h] = (uint32_t)a->n;
    return e;
}

/* Marks the shape (an, key) precomputed in this pass; sig (0 = none) signs its data. */
static msn_ancache_ent_t *keep(msn_ansched_t *a, int an, const char *key)
{
    msn_ancache_ent_t *e = add(a, an, key, 0);
    set_on_demand(a, e, 0);
    e->kept = a->pass;
    return e;
}

static uint64_t sig_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* What an observer's analytics depend on, as far as the observers table tells: it moves
 * with each packet the observer uploads. */
static uint64_t observer_sig(const msn_observer_t *o)
{
    uint64_t h = 1469598103934665603ull;
    h = sig_mix(h, &o->packet_count, sizeof(o->packet_count));
    h = sig_mix(h, &o->packets_last_hour, sizeof(o->packets_last_hour));
    if (o->last_seen)
        h = sig_mix(h, o->last_seen, strlen(o->last_seen));
    if (o->last_packet_at)
        h = sig_mix(h, o->last_packet_at, strlen(o->last_packet_at));
    return h | 1;
}

/* The canonical key of a shape (r=region or none, w=window or none, p=param or none). */
static int shape_key(const char *region, const char *window, const char *param, char *key, size_t n)
{
    msn_anshape_t sh;
    char err[64];
    if (msn_anshape_parse(region, window, NULL, NULL, NULL, &sh, err, sizeof(err)) < 0 ||
        (param && msn_anshape_set_param(&sh, param, strlen(param), err, sizeof(err)) < 0))
        return -1;
    msn_anshape_key(&sh, key, n);
    return 0;
}

/* The precomputed shapes (ansched.h); those of an earlier pass that no longer apply are
 * dropped with their documents. */
static void ensure_precomputed(msn_ansched_t *a, const msn_store_t *s)
{
    a->pass++;
    /* the regions: each active observer's IATA code, canonical */
    char (*regions)[64] = msn_xcalloc(s->n_observers + 1, sizeof(*regions));
    int nr = 0;
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const char *iata = s->observers[i].iata;
        msn_anshape_t sh;
        char err[64];
        if (iata == NULL || !iata[0] || s->observers[i].inactive ||
            msn_anshape_parse(iata, NULL, NULL, NULL, NULL, &sh, err, sizeof(err)) < 0 || !sh.region[0])
            continue;
        snprintf(regions[nr++], sizeof(regions[0]), "%s", sh.region);
    }
    char key[MSN_ANSHAPE_KEY_MAX], param[MSN_ANSHAPE_KEY_MAX];
    for (int an = 0; an < MSN_AN_COUNT; an++) {
        int p = msn_anshape_params(an);
        if (msn_anshape_has_default(an))
            keep(a, an, "");
        if (p & 2) {
            const char *const *w = an == MSN_AN_SCOPE_STATS ? scope_windows : windows;
            size_t nw = an == MSN_AN_SCOPE_STATS ? sizeof(scope_windows) / sizeof(scope_windows[0])
                                                 : sizeof(windows) / sizeof(windows[0]);
            for (size_t k = 0; k < nw; k++)
                if (shape_key(NULL, w[k], NULL, key, sizeof(key)) == 0)
                    keep(a, an, key);
        }
        for (int r = 0; (p & 1) && r < nr; r++)
            if (shape_key(regions[r], NULL, NULL, key, sizeof(key)) == 0)
                keep(a, an, key);
        if (an == MSN_AN_OBSERVER_ANALYTICS)
            for (uint32_t i = 0; i < s->n_observers; i++)
                for (size_t d = 0; s->observers[i].id && s->observers[i].id[0] &&
                                   d < sizeof(observer_days) / sizeof(observer_days[0]);
                     d++)
                    if (msn_anparam_observer(observer_days[d], s->observers[i].id, param, sizeof(param)) == 0 &&
                        shape_key(NULL, NULL, param, key, sizeof(key)) == 0)
                        keep(a, an, key)->sig = observer_sig(&s->observers[i]);
        if (an == MSN_AN_OBSERVERS_METRICS_SUMMARY) {
            uint64_t msig = sig_mix(1469598103934665603ull, &s->metrics.max_rowid, sizeof(s->metrics.max_rowid)) | 1;
            for (size_t w = 0; w <= sizeof(metrics_windows) / sizeof(metrics_windows[0]); w++) {
                param[0] = '\0'; /* the last round: the default window */
                if (w < sizeof(metrics_windows) / sizeof(metrics_windows[0]))
                    snprintf(param, sizeof(param), "%lld", (long long)metrics_windows[w]);
                for (int r = -1; r < nr; r++)
                    if (shape_key(r < 0 ? NULL : regions[r], NULL, param[0] ? param : NULL, key, sizeof(key)) == 0)
                        keep(a, an, key)->sig = msig;
            }
        }
    }
    free(regions);
    /* precomputed shapes this pass did not name: their observer or region is gone */
    int removed = 0;
    for (int i = 0; i < a->n;) {
        msn_ancache_ent_t *e = &a->ents[i];
        if (!e->on_demand && !e->pending && e->kept != a->pass) {
            msn_info("analytics: %s no longer applies; dropped", e->name);
            remove_ent(a, i);
            removed = 1;
            continue;
        }
        i++;
    }
    if (removed)
        reindex(a);
}

static void take_requests(msn_ansched_t *a, int64_t now)
{
    int an, missing;
    char key[120];
    while (a->st && msn_status_take_shape(a->st, &a->ring_tail, &an, key, &missing)) {
        msn_anshape_t sh;
        if (an < 0 || an >= MSN_AN_COUNT || msn_anshape_from_key(key, &sh) < 0)
            continue;
        char canon[MSN_ANSHAPE_KEY_MAX];
        msn_anshape_key(&sh, canon, sizeof(canon));
        if (strcmp(canon, key) != 0 ||
            !msn_anshape_is_normal(&sh, 1000LL * msn_config_analytic_interval(a->cfg, an), now))
            continue; /* workers send normal shapes only */
        msn_ancache_ent_t *e = find(a, an, key);
        if (e == NULL) {
            if (!missing)
                continue;
            e = add(a, an, key, 1);
            msn_info("analytics: %s requested; computing it", e->name);
        }
        e->last_requested_ms = now;
    }
}

static void drop_idle(msn_ansched_t *a, int64_t now)
{
    int64_t idle_ms = 1000LL * a->cfg->analytics.shape_idle_s;
    int removed = 0;
    for (int i = 0; i < a->n;) {
        msn_ancache_ent_t *e = &a->ents[i];
        if (e->on_demand && !e->pending && now - e->last_requested_ms > idle_ms) {
            msn_info("analytics: %s not requested for %d s; dropped", e->name, a->cfg->analytics.shape_idle_s);
            remove_ent(a, i);
            removed = 1;
            continue;
        }
        i++;
    }
    if (removed)
        reindex(a);
}

static void record_status(msn_ansched_t *a, int an, int ok, uint32_t ms, int64_t now, const char *err)
{
    if (a->st == NULL || an >= MSN_AN_SLOTS)
        return;
    msn_status_write_begin(&a->st->master_seq);
    msn_analytic_status_t *s = &a->st->master.an[an];
    s->computes++;
    s->last_compute_ms = ms;
    if (ok) {
        s->last_published_at = now;
        s->last_error[0] = '\0';
    } else {
        s->failures++;
        snprintf(s->last_error, sizeof(s->last_error), "%.119s", err);
    }
    msn_status_write_end(&a->st->master_seq);
}

/* Takes the results of a finished run into the cache. Returns 1 when any changed. */
static int collect(msn_ansched_t *a, int64_t now)
{
    size_t pos = 0;
    msn_anresult_t res;
    int changed = 0;
    while (msn_anrun_next(&a->run, &pos, &res)) {
        const msn_anjob_t *j = &a->run.jobs[res.job];
        msn_ancache_ent_t *e = find(a, j->an, j->key);
        if (e == NULL)
            continue; /* dropped meanwhile */
        e->pending = 0;
        /* the status block follows the default shape (or any shape of an analytic without one) */
        int is_default = j->key[0] == '\0' || !msn_anshape_has_default(j->an);
        if (res.rc != 0) {
            char msg[160];
            snprintf(msg, sizeof(msg), "%.*s", (int)(res.len < 150 ? res.len : 150), res.body);
            msn_error("analytics: %s failed (%s); the previous result stays published", e->name, msg);
            if (is_default)
                record_status(a, j->an, 0, res.compute_ms, now, msg);
            continue;
        }
        if (e->body != NULL && e->len == res.len && memcmp(e->body, res.body, res.len) == 0) {
            if (is_default)
                record_status(a, j->an, 1, res.compute_ms, now, "");
            continue; /* the same bytes are published already */
        }
        free(e->body);
        free(e->gz);
        e->body = msn_xmalloc(res.len + 1);
        memcpy(e->body, res.body, res.len);
        e->len = res.len;
        e->gz = NULL;
        e->gz_len = 0;
        if (res.gz_len) {
            e->gz = msn_xmalloc(res.gz_len);
            memcpy(e->gz, res.gz, res.gz_len);
            e->gz_len = res.gz_len;
        }
        e->published_at = now;
        e->dirty = 1;
        changed = 1;
        if (is_default)
            record_status(a, j->an, 1, res.compute_ms, now, "");
    }
    for (int i = 0; i < a->n; i++)
        a->ents[i].pending = 0;
    return changed;
}

/* Ends the run in progress once its child is gone: takes its results, or records the
 * failure of every job of a child that died; logs how the child ended (it was reaped by
 * msn_anrun_poll, see child.h). Returns -1 while the child runs, else 1 when results
 * changed, 0 when not. */
static int finish_run(msn_ansched_t *a, int64_t now)
{
    int rc = msn_anrun_poll(&a->run);
    if (rc == 0)
        return -1;
    int changed = 0;
    char how[96];
    msn_anrun_describe(&a->run, how, sizeof(how));
    if (rc > 0) {
        changed = collect(a, now);
        if (WIFEXITED(a->run.status) && WEXITSTATUS(a->run.status) == 0)
            msn_debug("analytics: %d computations in %.1f s; the computing process (pid %d) %s", a->run.n_jobs,
                      (now - a->run.started_ms) / 1000.0, (int)a->run.pid, how);
        else
            msn_warn("analytics: the computing process (pid %d) sent every result, then %s", (int)a->run.pid, how);
    } else {
        msn_error("analytics: the computing process died (pid %d %s); previous results stay published, "
                  "retrying in 30 s",
                  (int)a->run.pid, how);
        for (int i = 0; i < a->run.n_jobs; i++) {
            int an = a->run.jobs[i].an;
            if (a->run.jobs[i].key[0] == '\0')
                record_status(a, an, 0, 0, now, "the computing process died");
            if (a->next_due[an] > now + 30000 || a->next_due[an] == 0)
                a->next_due[an] = now + 30000;
        }
        for (int i = 0; i < a->n; i++)
            a->ents[i].pending = 0;
    }
    msn_anrun_reset(&a->run);
    return changed;
}

int msn_ansched_tick(msn_ansched_t *a, const msn_store_t *s, int64_t now)
{
    int changed = 0;
    take_requests(a, now);
    publish_counts(a);
    if (a->run.pid > 0 && (changed = finish_run(a, now)) < 0)
        return 0;
    drop_idle(a, now);
    if (a->pass == 0 || now - a->last_pass_ms >= 1000 || now < a->last_pass_ms) {
        ensure_precomputed(a, s);
        a->last_pass_ms = now;
    }
    publish_counts(a);
    /* jobs: every shape of each due analytic, plus on-demand shapes never computed */
    msn_anjob_t *jobs = msn_xmalloc((size_t)(a->n + 1) * sizeof(msn_anjob_t));
    int nj = 0;
    int due[MSN_AN_COUNT];
    for (int an = 0; an < MSN_AN_COUNT; an++)
        due[an] = now >= a->next_due[an];
    /* Until every default shape has been published once, a run computes only those: the
       dashboards' default views come first, the other shapes in the next run. */
    int defaults_only = 0;
    for (int i = 0; i < a->n; i++)
        if (a->ents[i].key[0] == '\0' && a->ents[i].body == NULL)
            defaults_only = 1;
    for (int i = 0; i < a->n; i++) {
        msn_ancache_ent_t *e = &a->ents[i];
        if (defaults_only && e->key[0] != '\0')
            continue;
        /* its data changed, or a precomputed shape that appeared since (a new observer, a new
           region) or whose computation failed: not before MSN_ANSCHED_CHANGED_MS */
        int changed_data = (e->body == NULL || e->sig != e->sig_computed) && now - e->computed_ms >= MSN_ANSCHED_CHANGED_MS;
        if (!due[e->an] && e->body != NULL && !changed_data)
            continue;
        if (!due[e->an] && !e->on_demand && !changed_data)
            continue; /* a precomputed shape waits for its analytic's turn */
        e->sig_computed = e->sig;
        e->computed_ms = now;
        jobs[nj].an = e->an;
        snprintf(jobs[nj].key, sizeof(jobs[nj].key), "%s", e->key);
        jobs[nj].inject = a->st ? injected(a, e->an) : 0;
        e->pending = 1;
        nj++;
    }
    if (nj > 0) {
        int rc = msn_anrun_start(&a->run, s, jobs, nj, now);
        if (rc < 0) {
            msn_error("analytics: cannot start the computing process: %s", strerror(-rc));
            for (int i = 0; i < a->n; i++)
                a->ents[i].pending = 0;
        } else if (!defaults_only) {
            for (int an = 0; an < MSN_AN_COUNT; an++)
                if (due[an])
                    a->next_due[an] = now + (int64_t)msn_config_analytic_interval(a->cfg, an) * 1000;
        }
    }
    free(jobs);
    return changed;
}

int msn_ansched_write(msn_ansched_t *a, MDB_txn *txn, const msn_snap_t *snap, uint64_t gen, int64_t now_ms,
                      int force, int *wrote)
{
    int rc;
    /* the deletions first: a shape evicted and asked again since the last write has its
       name in both lists, and its new document must stay */
    for (int i = 0; i < a->n_deleted; i++) {
        if ((rc = msn_snap_doc_del(txn, snap, a->deleted[i])))
            return rc;
        *wrote = 1;
    }
    for (int i = 0; i < a->n; i++) {
        msn_ancache_ent_t *e = &a->ents[i];
        if (e->body == NULL || (!force && !e->dirty))
            continue;
        int64_t expires = e->published_at + (int64_t)msn_config_analytic_interval(a->cfg, e->an) * 1000;
        rc = msn_snap_doc_put_full(txn, snap, e->name, e->body, e->len, e->gz, e->gz_len, 0, gen, e->published_at,
                                   expires);
        if (rc)
            return rc;
        *wrote = 1;
    }
    (void)now_ms;
    return 0;
}

void msn_ansched_committed(msn_ansched_t *a)
{
    for (int i = 0; i < a->n; i++)
        a->ents[i].dirty = 0;
    for (int i = 0; i < a->n_deleted; i++)
        free(a->deleted[i]);
    a->n_deleted = 0;
}
