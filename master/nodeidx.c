/* nodeidx.c: see nodeidx.h. */
#include "nodeidx.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/buf.h"
#include "shm/json.h"
#include "shm/jsonr.h"

void msn_u32vec_push(msn_u32vec_t *vec, uint32_t v)
{
    if (vec->n == vec->cap) {
        vec->cap = vec->cap ? vec->cap * 2 : 8;
        vec->v = msn_xrealloc(vec->v, (size_t)vec->cap * sizeof(uint32_t));
    }
    vec->v[vec->n++] = v;
}

void msn_u32vec_free(msn_u32vec_t *vec)
{
    free(vec->v);
    memset(vec, 0, sizeof(*vec));
}

void msn_nodeidx_init(msn_nodeidx_t *x)
{
    memset(x, 0, sizeof(*x));
}

void msn_nodeidx_free(msn_nodeidx_t *x)
{
    for (uint32_t i = 0; i < x->n_lists; i++)
        free(x->by_key[i].v);
    free(x->by_key);
    free(x->is_dirty);
    msn_u32vec_free(&x->dirty);
    free(x->relay);
    memset(x, 0, sizeof(*x));
}

const uint32_t *msn_nodeidx_txs(const msn_nodeidx_t *x, uint32_t key, uint32_t *n)
{
    if (key >= x->n_lists || x->by_key[key].n == 0) {
        *n = 0;
        return NULL;
    }
    *n = x->by_key[key].n;
    return x->by_key[key].v;
}

static void ensure_lists(msn_nodeidx_t *x, uint32_t n_keys)
{
    if (n_keys <= x->n_lists)
        return;
    uint32_t cap = x->n_lists ? x->n_lists : 1024;
    while (cap < n_keys)
        cap *= 2;
    x->by_key = msn_xrealloc(x->by_key, (size_t)cap * sizeof(*x->by_key));
    memset(x->by_key + x->n_lists, 0, (size_t)(cap - x->n_lists) * sizeof(*x->by_key));
    x->is_dirty = msn_xrealloc(x->is_dirty, cap);
    memset(x->is_dirty + x->n_lists, 0, cap - x->n_lists);
    x->n_lists = cap;
}

void msn_nodeidx_mark(msn_nodeidx_t *x, uint32_t key)
{
    ensure_lists(x, key + 1);
    if (x->is_dirty[key])
        return;
    x->is_dirty[key] = 1;
    msn_u32vec_push(&x->dirty, key);
}

void msn_nodeidx_take_dirty(msn_nodeidx_t *x, msn_u32vec_t *out)
{
    for (uint32_t i = 0; i < x->dirty.n; i++) {
        x->is_dirty[x->dirty.v[i]] = 0;
        msn_u32vec_push(out, x->dirty.v[i]);
    }
    x->dirty.n = 0;
}

/* Adds transmission ti to key's list (once) and marks key dirty when it was new. */
static void add(msn_nodeidx_t *x, uint32_t key, uint32_t ti)
{
    ensure_lists(x, key + 1);
    msn_u32vec_t *l = &x->by_key[key];
    if (l->n == 0 || l->v[l->n - 1] < ti) {
        msn_u32vec_push(l, ti);
    } else {
        uint32_t lo = 0, hi = l->n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (l->v[mid] < ti)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (l->v[lo] == ti)
            return;
        msn_u32vec_push(l, 0);
        memmove(l->v + lo + 1, l->v + lo, (size_t)(l->n - 1 - lo) * sizeof(uint32_t));
        l->v[lo] = ti;
    }
    msn_nodeidx_mark(x, key);
}

int msn_nodeidx_relay_role(const char *role)
{
    if (role == NULL)
        return 0;
    size_t n = strlen(role);
    for (size_t i = 0; i < n; i++) {
        if (i + 8 <= n && strncasecmp(role + i, "repeater", 8) == 0)
            return 1;
        if (i + 11 <= n && strncasecmp(role + i, "room_server", 11) == 0)
            return 1;
    }
    return strcasecmp(role, "room") == 0;
}

static int cmp_key65(const void *a, const void *b)
{
    return memcmp(a, b, 64);
}

static void build_relay(msn_nodeidx_t *x, const msn_store_t *s)
{
    free(x->relay);
    x->relay = msn_xmalloc(((size_t)s->n_nodes + 1) * sizeof(*x->relay));
    x->n_relay = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *nd = &s->nodes[i];
        if (nd->public_key == NULL || strlen(nd->public_key) != 64 || !msn_nodeidx_relay_role(nd->role))
            continue;
        char *k = x->relay[x->n_relay];
        int ok = 1;
        for (int j = 0; j < 64 && ok; j++) {
            char c = nd->public_key[j];
            if (c >= 'A' && c <= 'F')
                c = (char)(c - 'A' + 'a');
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            k[j] = c;
        }
        k[64] = '\0';
        if (ok)
            x->n_relay++;
    }
    qsort(x->relay, x->n_relay, sizeof(*x->relay), cmp_key65);
}

int32_t msn_nodeidx_unique_relay(const msn_nodeidx_t *x, const char *hop, size_t n)
{
    char low[65];
    if (hop == NULL || n < 2 || (n > 8 && n != 64))
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = hop[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        low[i] = c;
    }
    /* the first key >= the prefix, then whether the next one shares it too */
    uint32_t lo = 0, hi = x->n_relay;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(x->relay[mid], low, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= x->n_relay || memcmp(x->relay[lo], low, n) != 0)
        return -1;
    if (lo + 1 < x->n_relay && memcmp(x->relay[lo + 1], low, n) == 0)
        return -1;
    return (int32_t)lo;
}

/* ---- the keys of a transmission ---- */

typedef struct {
    uint32_t k[80];
    int n;
} keyset_t;

static void keyset_add(keyset_t *ks, uint32_t k)
{
    if (k == MSN_KEY_NONE)
        return;
    for (int i = 0; i < ks->n; i++)
        if (ks->k[i] == k)
            return;
    if (ks->n < (int)(sizeof(ks->k) / sizeof(ks->k[0])))
        ks->k[ks->n++] = k;
}

/* The 64-hex string value of top-level-ish member `name` ("\"pubKey\"") in decoded_json. */
static const char *member_key(const char *json, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(json, name); p != NULL; p = strstr(p + nl, name)) {
        const char *q = p + nl;
        while (*q == ' ')
            q++;
        if (*q != ':')
            continue;
        q++;
        while (*q == ' ')
            q++;
        if (*q != '"')
            continue;
        q++;
        size_t i = 0;
        while (i < 65 && q[i] && q[i] != '"')
            i++;
        if (i == 64 && q[64] == '"')
            return q;
    }
    return NULL;
}

static void decoded_keys(msn_store_t *s, const msn_tx_t *t, keyset_t *ks)
{
    if (t->decoded_json == NULL || strstr(t->decoded_json, "ubKey") == NULL)
        return;
    static const char *const names[] = {"\"pubKey\"", "\"destPubKey\"", "\"srcPubKey\""};
    for (int i = 0; i < 3; i++) {
        const char *v = member_key(t->decoded_json, names[i]);
        if (v)
            keyset_add(ks, msn_store_intern_key(s, v, 64));
    }
}

typedef struct {
    const msn_nodeidx_t *x;
    msn_store_t *s;
    keyset_t *ks;
} hopctx_t;

static void hop_cb(void *ctx, int idx, const char *str, size_t n)
{
    (void)idx;
    hopctx_t *h = ctx;
    int32_t r = str ? msn_nodeidx_unique_relay(h->x, str, n) : -1;
    if (r >= 0)
        keyset_add(h->ks, msn_store_intern_key(h->s, h->x->relay[r], 64));
}

/* The keys one observation contributes: its resolved path, else its uniquely named hops. */
static void obs_keys(const msn_nodeidx_t *x, msn_store_t *s, const msn_obs_t *o, keyset_t *ks)
{
    if (o->rp != NULL) {
        for (int i = 0; i < o->rp_n; i++)
            keyset_add(ks, o->rp[i]);
        return;
    }
    if (o->path_json == NULL || o->hops == 0)
        return;
    hopctx_t h = {x, s, ks};
    msn_json_str_array_each(o->path_json, strlen(o->path_json), hop_cb, &h);
}

static void tx_all_keys(const msn_nodeidx_t *x, msn_store_t *s, const msn_tx_t *t, keyset_t *ks)
{
    decoded_keys(s, t, ks);
    for (uint32_t j = 0; j < t->n_obs; j++)
        obs_keys(x, s, &s->obs[t->obs[j]], ks);
}

/* An observation that arrived (or changed) for transmission t (index ti): its keys join
 * the index; when t was indexed before, all of t's nodes see a change (best observation,
 * observation count). */
static void take_obs(msn_nodeidx_t *x, msn_store_t *s, const msn_obs_t *o, int old_tx)
{
    msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
    if (t == NULL)
        return;
    uint32_t ti = (uint32_t)(t - s->tx);
    keyset_t ks = {.n = 0};
    if (old_tx)
        tx_all_keys(x, s, t, &ks);
    else
        obs_keys(x, s, o, &ks);
    for (int i = 0; i < ks.n; i++) {
        add(x, ks.k[i], ti);
        msn_nodeidx_mark(x, ks.k[i]);
    }
}

void msn_nodeidx_update(msn_nodeidx_t *x, msn_store_t *s)
{
    build_relay(x, s);
    for (uint32_t i = 0; i < s->n_nodes; i++)
        if (s->nodes[i].public_key)
            msn_store_intern_key(s, s->nodes[i].public_key, strlen(s->nodes[i].public_key));
    uint32_t tx_before = x->tx_done;
    /* transmissions: the keys their decoded JSON names */
    for (uint32_t ti = x->tx_done; ti < s->n_tx; ti++) {
        keyset_t ks = {.n = 0};
        decoded_keys(s, &s->tx[ti], &ks);
        for (int i = 0; i < ks.n; i++)
            add(x, ks.k[i], ti);
    }
    x->tx_done = s->n_tx;
    /* observations: new ones, then those a backfill changed in place */
    for (uint32_t oi = x->obs_done; oi < s->n_obs; oi++) {
        const msn_obs_t *o = &s->obs[oi];
        msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
        take_obs(x, s, o, t != NULL && (uint32_t)(t - s->tx) < tx_before);
    }
    for (uint32_t i = 0; i < s->n_obs_dirty; i++)
        if (s->obs_dirty[i] < x->obs_done)
            take_obs(x, s, &s->obs[s->obs_dirty[i]], 1);
    x->obs_done = s->n_obs;
    ensure_lists(x, s->n_keys);
}
