/*
 * an_run.c: what the jobs of one computing process share (msn_an_run_t, analytics.h):
 * indexes over the store built on first use and kept for the jobs after it, so that a run
 * of one job per observer reads each observer's own observations instead of all of them.
 *
 *  - observations per observer (index into s->observers), newest first;
 *  - per transmission, the node keys its decoded_json names (pubKey, srcHash, destHash).
 *
 * Without a run (msn_analytic_compute), the same is built in the job's arena, for that
 * job only.
 */
#include <string.h>

#include "an_int.h"

struct msn_an_run {
    const msn_store_t *s;
    msn_arena_t *arena;
    uint32_t **obs_of; /* per observer index: observation indexes, newest first */
    uint32_t *n_obs_of;
    an_txkeys_t *txk; /* per transmission index */
    uint8_t *txk_done;
};

msn_an_run_t *msn_an_run_new(const msn_store_t *s)
{
    msn_arena_t *a = msn_arena_new();
    msn_an_run_t *r = msn_arena_calloc(a, 1, sizeof(*r));
    r->s = s;
    r->arena = a;
    return r;
}

void msn_an_run_free(msn_an_run_t *run)
{
    if (run)
        msn_arena_free(run->arena);
}

typedef struct {
    int64_t ts, id;
    uint32_t idx;
} ord_t;

static int cmp_newest(const void *a, const void *b)
{
    const ord_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts > y->ts ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id;
}

/* Sorts l[0..n) (observation indexes) newest first. */
static void sort_newest(const msn_store_t *s, msn_arena_t *a, uint32_t *l, uint32_t n)
{
    if (n < 2)
        return;
    ord_t *o = AN_ARRAY(a, ord_t, n);
    for (uint32_t i = 0; i < n; i++) {
        o[i].ts = s->obs[l[i]].timestamp;
        o[i].id = s->obs[l[i]].id;
        o[i].idx = l[i];
    }
    qsort(o, n, sizeof(*o), cmp_newest);
    for (uint32_t i = 0; i < n; i++)
        l[i] = o[i].idx;
    msn_arena_release(a, o, (size_t)n * sizeof(*o));
}

/* Builds the per-observer lists in arena a: *lists and *counts get n_observers entries. */
static void build_obs_index(const msn_store_t *s, msn_arena_t *a, uint32_t ***lists, uint32_t **counts)
{
    uint32_t no = s->n_observers;
    uint32_t *cnt = AN_ARRAY(a, uint32_t, no);
    int32_t *oi = AN_ARRAY(a, int32_t, s->n_obs);
    for (uint32_t i = 0; i < s->n_obs; i++) {
        const msn_observer_t *ob = msn_store_observer(s, s->obs[i].observer_rowid);
        oi[i] = ob ? (int32_t)(ob - s->observers) : -1;
        if (oi[i] >= 0)
            cnt[oi[i]]++;
    }
    uint32_t **l = AN_ARRAY(a, uint32_t *, no);
    uint32_t *fill = AN_ARRAY(a, uint32_t, no);
    for (uint32_t k = 0; k < no; k++)
        l[k] = AN_ARRAY(a, uint32_t, cnt[k]);
    for (uint32_t i = 0; i < s->n_obs; i++)
        if (oi[i] >= 0)
            l[oi[i]][fill[oi[i]]++] = i;
    for (uint32_t k = 0; k < no; k++)
        sort_newest(s, a, l[k], cnt[k]);
    *lists = l;
    *counts = cnt;
}

const uint32_t *msn_an__observer_obs(const an_ctx_t *c, uint32_t oi, uint32_t *n)
{
    *n = 0;
    if (oi >= c->s->n_observers)
        return NULL;
    msn_an_run_t *r = c->run;
    if (r != NULL) {
        if (r->obs_of == NULL)
            build_obs_index(r->s, r->arena, &r->obs_of, &r->n_obs_of);
        *n = r->n_obs_of[oi];
        return r->obs_of[oi];
    }
    /* no run: this observer's observations only */
    const msn_store_t *s = c->s;
    int64_t rowid = s->observers[oi].rowid;
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < s->n_obs; i++)
        cnt += s->obs[i].observer_rowid == rowid;
    uint32_t *l = AN_ARRAY(c->arena, uint32_t, cnt);
    cnt = 0;
    for (uint32_t i = 0; i < s->n_obs; i++)
        if (s->obs[i].observer_rowid == rowid)
            l[cnt++] = i;
    sort_newest(s, c->arena, l, cnt);
    *n = cnt;
    return l;
}

static void decode_keys(const msn_store_t *s, msn_arena_t *a, uint32_t ti, an_txkeys_t *out)
{
    static const char *const names[3] = {"pubKey", "srcHash", "destHash"};
    memset(out, 0, sizeof(*out));
    const char *dj = s->tx[ti].decoded_json;
    if (dj == NULL || dj[0] != '{')
        return;
    msn_jsonr_obj_t o;
    if (msn_jsonr_obj_parse(&o, dj, strlen(dj)) < 0)
        return;
    msn_buf_t scratch = MSN_BUF_INIT;
    for (int k = 0; k < 3; k++) {
        size_t n;
        const char *v = msn_jsonr_obj_str(&o, names[k], &scratch, &n);
        if (v == NULL || n == 0)
            continue;
        out->k[out->nk] = msn_arena_strndup(a, v, n);
        out->n[out->nk] = (uint32_t)n;
        out->nk++;
    }
    msn_buf_free(&scratch);
}

const an_txkeys_t *msn_an__tx_keys(const an_ctx_t *c, uint32_t ti)
{
    msn_an_run_t *r = c->run;
    if (r == NULL) {
        an_txkeys_t *k = AN_NEW(c, an_txkeys_t);
        decode_keys(c->s, c->arena, ti, k);
        return k;
    }
    if (r->txk == NULL) {
        r->txk = AN_ARRAY(r->arena, an_txkeys_t, r->s->n_tx);
        r->txk_done = AN_ARRAY(r->arena, uint8_t, r->s->n_tx);
    }
    if (!r->txk_done[ti]) {
        decode_keys(r->s, r->arena, ti, &r->txk[ti]);
        r->txk_done[ti] = 1;
    }
    return &r->txk[ti];
}
