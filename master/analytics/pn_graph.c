/*
 * pn_graph.c: the neighbour graph (CoreScope neighbor_graph.go BuildFromStoreWithOptions)
 * and the documents built from it: the whole-mesh graph and each node's neighbours.
 *
 * Edges come from every observation:
 *  - a zero-hop ADVERT: originator <-> observer;
 *  - an ADVERT with a path: originator <-> first hop;
 *  - any packet with a path: observer <-> last hop.
 * A hop names its relay candidates by prefix (relay-capable nodes, 2..8 characters or a
 * whole key); one candidate (other than the known end) makes a resolved edge, several or
 * none an ambiguous edge "known <-> prefix:<hop>" carrying the candidates. An edge whose
 * two ends both have a GPS position more than 500 km apart is dropped and counted. Each
 * edge counts sightings (also by hash size: prefix length / 2 in 1..3, else 0), first and
 * last sighting, SNR sum and count, and its observers.
 *
 * Ambiguous edges are then resolved with the known end as context when CoreScope's
 * resolver would: a single candidate left after dropping listener-only observers, a
 * neighbour affinity (an existing resolved edge of the known end to a candidate whose
 * score times observer confidence is at least 3x the runner-up's, with 3+ sightings), or
 * geographic proximity (the candidate with a GPS position nearest to the known end's,
 * when the known end is a relay with one). A resolved edge merges into the existing edge
 * of the same two ends.
 *
 * Departure from CoreScope: its last phase (Jaccard similarity of neighbour sets) is not
 * run; edges it would resolve that way stay ambiguous here.
 *
 * Scores are computed by the reader at request time: min(1, count/100) x
 * exp(-ln2 x hours since last sighting / 168).
 */
#include "pn_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shm/entdoc.h"
#include "shm/mpk.h"

#define MAX_EDGE_KM 500.0

#define PN_PI 3.14159265358979323846
#define PN_LN2 0.69314718055994530942

static const char *lower_copy(char *buf, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    buf[n] = '\0';
    return buf;
}

double msn_pn__edge_score(const pn_edge_t *e, int64_t now_ms)
{
    double cf = (double)e->count / 100.0;
    if (cf > 1)
        cf = 1;
    double hours = ((double)now_ms / 1000.0 - (double)e->last_s) / 3600.0;
    if (hours < 0)
        hours = 0;
    return cf * exp(-(PN_LN2 / 168.0) * hours);
}

/* Interns an end string; returns its end index. */
static uint32_t end_of(pn_graph_t *g, const char *s, size_t n)
{
    int is_new;
    return msn_an__map_intern(&g->ends, s, n, &is_new);
}

/* The interned copy of an end string (stable: the map's keys are arena copies). */
static const char *end_str(pn_graph_t *g, const char *s)
{
    uint32_t e = end_of(g, s, strlen(s)); /* first: interning may move the keys array */
    return g->ends.keys[e];
}

typedef struct {
    msn_pernode_t *p;
    pn_graph_t *g;
    msn_arena_t *a;
    pn_end_t *lists;
    size_t lists_cap;
    size_t lists_n;
} gb_t;

static void list_add(gb_t *b, const char *end, uint32_t edge)
{
    uint32_t ei = end_of(b->g, end, strlen(end));
    if (ei >= b->lists_cap) {
        size_t old = b->lists_cap;
        AN_GROW(b->a, b->lists, b->lists_cap, (size_t)ei + 1);
        memset(b->lists + old, 0, (b->lists_cap - old) * sizeof(pn_end_t));
    }
    pn_end_t *l = &b->lists[ei];
    if (ei + 1 > b->lists_n)
        b->lists_n = ei + 1;
    AN_GROW(b->a, l->e, l->cap, (size_t)l->n + 1);
    l->e[l->n++] = edge;
}

static int32_t node_of(const gb_t *b, const char *k)
{
    return msn_an__node_find(&b->p->c, k, strlen(k));
}

/* 1 when both ends have GPS positions farther apart than MAX_EDGE_KM. */
static int geo_far(const gb_t *b, const char *x, const char *y)
{
    int32_t nx = node_of(b, x), ny = node_of(b, y);
    if (nx < 0 || ny < 0)
        return 0;
    const msn_node_t *p = &b->p->s->nodes[nx], *q = &b->p->s->nodes[ny];
    if (!msn_an__node_gps(p) || !msn_an__node_gps(q))
        return 0;
    return msn_an__haversine_km(p->lat, p->lon, q->lat, q->lon) > MAX_EDGE_KM;
}

static void sighting(gb_t *b, pn_edge_t *e, const char *prefix, int32_t obs_slot, const msn_obs_t *o)
{
    e->count++;
    size_t bytes = strlen(prefix) / 2;
    e->modes[bytes >= 1 && bytes <= 3 ? bytes : 0]++;
    if (o->timestamp > e->last_s)
        e->last_s = o->timestamp;
    if (o->timestamp < e->first_s)
        e->first_s = o->timestamp;
    if (o->has_snr) {
        e->snr_sum += o->snr;
        e->snr_n++;
    }
    if (obs_slot < 0)
        return;
    for (uint32_t i = 0; i < e->n_obs; i++)
        if (e->obs[i] == (uint32_t)obs_slot)
            return;
    AN_GROW(b->a, e->obs, e->cap_obs, (size_t)e->n_obs + 1);
    e->obs[e->n_obs++] = (uint32_t)obs_slot;
}

/* The edge of key "x|y" (creating it); *is_new set when it was created. */
static pn_edge_t *edge_get(gb_t *b, const char *x, const char *y, int *is_new)
{
    char key[300];
    int kn = snprintf(key, sizeof(key), "%s|%s", x, y);
    if (kn < 0 || (size_t)kn >= sizeof(key))
        kn = (int)sizeof(key) - 1;
    uint32_t k = msn_an__map_intern(&b->g->keys, key, (size_t)kn, is_new);
    int64_t *slot = msn_an__map_val(&b->g->keys, k);
    if (!*is_new)
        return &b->g->e[*slot - 1];
    AN_GROW(b->a, b->g->e, b->g->cap, b->g->n + 1);
    pn_edge_t *e = &b->g->e[b->g->n];
    memset(e, 0, sizeof(*e));
    e->first_s = INT64_MAX;
    *slot = (int64_t)++b->g->n;
    return e;
}

static void upsert(gb_t *b, const char *x, const char *y, const char *prefix, int32_t obs_slot, const msn_obs_t *o)
{
    if (geo_far(b, x, y)) {
        b->g->rejected_geo_far++;
        return;
    }
    if (strcmp(x, y) > 0) {
        const char *t = x;
        x = y;
        y = t;
    }
    int is_new;
    pn_edge_t *e = edge_get(b, x, y, &is_new);
    if (is_new) {
        e->a = end_str(b->g, x);
        e->b = end_str(b->g, y);
        e->prefix = msn_arena_strdup(b->a, prefix);
        list_add(b, e->a, (uint32_t)(e - b->g->e));
        list_add(b, e->b, (uint32_t)(e - b->g->e));
    }
    sighting(b, e, prefix, obs_slot, o);
}

/* An edge from `known` to the node(s) hop prefix `hop` (lowercase) names. */
static void upsert_cands(gb_t *b, const char *known, const char *hop, int32_t obs_slot, const msn_obs_t *o)
{
    const an_pm_t *pm = &b->p->pm;
    uint32_t first, cnt;
    msn_an__pm_candidates(pm, hop, strlen(hop), &first, &cnt);
    if (cnt == 1) {
        const char *r = pm->lkeys + pm->lkey_off[first];
        if (strcmp(r, known) != 0)
            upsert(b, known, r, hop, obs_slot, o);
        return;
    }
    uint32_t n_f = 0, only = 0;
    for (uint32_t k = 0; k < cnt; k++)
        if (strcmp(pm->lkeys + pm->lkey_off[first + k], known) != 0) {
            only = first + k;
            n_f++;
        }
    if (n_f == 1) {
        upsert(b, known, pm->lkeys + pm->lkey_off[only], hop, obs_slot, o);
        return;
    }
    char pseudo[300];
    snprintf(pseudo, sizeof(pseudo), "prefix:%s", hop);
    int is_new;
    pn_edge_t *e = edge_get(b, known, pseudo, &is_new);
    if (is_new) {
        e->a = end_str(b->g, known);
        e->b = NULL;
        e->prefix = msn_arena_strdup(b->a, hop);
        e->ambiguous = 1;
        e->cands = AN_ARRAY(b->a, const char *, n_f);
        for (uint32_t k = 0; k < cnt; k++) {
            const char *c = pm->lkeys + pm->lkey_off[first + k];
            if (strcmp(c, known) != 0)
                e->cands[e->n_cands++] = c;
        }
        list_add(b, e->a, (uint32_t)(e - b->g->e));
    }
    sighting(b, e, hop, obs_slot, o);
}

/* The originator a decoded packet names: pubKey, from_node or from (first non-empty). */
static const char *from_node(gb_t *b, const msn_tx_t *t, msn_jsonr_obj_t *jo, msn_buf_t *scratch, char *low, size_t cap)
{
    if (t->decoded_json == NULL || msn_jsonr_obj_parse(jo, t->decoded_json, strlen(t->decoded_json)) < 0)
        return NULL;
    static const char *const names[] = {"pubKey", "from_node", "from"};
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        const char *v = msn_jsonr_obj_str(jo, names[i], scratch, &n);
        if (v && n > 0)
            return lower_copy(low, cap, v, n);
    }
    (void)b;
    return NULL;
}

/* ---- phase 1.5 ---- */

static double confidence(const pn_edge_t *e)
{
    double n = e->n_obs < 1 ? 1 : (double)e->n_obs;
    return n / 3.0 > 1 ? 1 : n / 3.0;
}

/* The candidate (a lowercase key among relay candidates of the edge's prefix) an ambiguous
 * edge resolves to with its known end as context, or NULL. */
static const char *resolve_ambiguous(gb_t *b, const pn_edge_t *e)
{
    msn_pernode_t *p = b->p;
    const an_pm_t *pm = &p->pm;
    uint32_t first, cnt;
    msn_an__pm_candidates(pm, e->prefix, strlen(e->prefix), &first, &cnt);
    const char *cands[64];
    int32_t cnode[64];
    uint32_t nc = 0;
    for (uint32_t k = 0; k < cnt && nc < 64; k++) {
        uint32_t node = pm->relay[first + k];
        if (pm->nonrelay[node])
            continue;
        cands[nc] = pm->lkeys + pm->lkey_off[first + k];
        cnode[nc++] = (int32_t)node;
    }
    if (nc == 0)
        return NULL;
    if (nc == 1)
        return cands[0];
    /* tier 1: affinity with the known end */
    int64_t ei = msn_an__map_find(&b->g->ends, e->a, strlen(e->a));
    double best = 0, second = 0;
    int64_t best_count = 0;
    int best_i = -1;
    if (ei >= 0 && (size_t)ei < b->lists_n) {
        double sc[64] = {0};
        int64_t scn[64] = {0};
        const pn_end_t *l = &b->lists[ei];
        for (uint32_t k = 0; k < l->n; k++) {
            const pn_edge_t *x = &b->g->e[l->e[k]];
            if (x->ambiguous || x->dead || x->b == NULL)
                continue;
            const char *other = strcmp(x->a, e->a) == 0 ? x->b : x->a;
            for (uint32_t c = 0; c < nc; c++)
                if (strcmp(other, cands[c]) == 0) {
                    double s = msn_pn__edge_score(x, p->c.now_ms) * confidence(x);
                    if (s > sc[c]) {
                        sc[c] = s;
                        scn[c] = x->count;
                    }
                }
        }
        for (uint32_t c = 0; c < nc; c++) {
            if (sc[c] <= 0)
                continue;
            if (sc[c] > best) {
                second = best;
                best = sc[c];
                best_count = scn[c];
                best_i = (int)c;
            } else if (sc[c] > second) {
                second = sc[c];
            }
        }
        if (best_i >= 0 && best_count >= 3 && (second == 0 || best >= 3.0 * second))
            return cands[best_i];
    }
    /* tier 2: geographic proximity to the known end, when it is a relay with GPS */
    uint32_t kf, kc;
    if (msn_an__pm_candidates(pm, e->a, strlen(e->a), &kf, &kc) == 1 && pm->gps[pm->relay[kf]]) {
        const msn_node_t *kn = &p->s->nodes[pm->relay[kf]];
        double bd = INFINITY;
        int bi = -1;
        for (uint32_t c = 0; c < nc; c++) {
            const msn_node_t *cn = &p->s->nodes[cnode[c]];
            if (!pm->gps[cnode[c]])
                continue;
            double dlat = (cn->lat - kn->lat) * PN_PI / 180;
            double dlon = (cn->lon - kn->lon) * PN_PI / 180 * cos((kn->lat + cn->lat) / 2 * PN_PI / 180);
            double d = sqrt(dlat * dlat + dlon * dlon);
            if (d < bd) {
                bd = d;
                bi = (int)c;
            }
        }
        if (bi >= 0)
            return cands[bi];
    }
    return NULL;
}

static void merge_into(pn_edge_t *dst, const pn_edge_t *src, gb_t *b)
{
    dst->count += src->count;
    if (src->last_s > dst->last_s)
        dst->last_s = src->last_s;
    if (src->first_s < dst->first_s)
        dst->first_s = src->first_s;
    dst->snr_sum += src->snr_sum;
    dst->snr_n += src->snr_n;
    for (int m = 0; m < 4; m++)
        dst->modes[m] += src->modes[m];
    for (uint32_t i = 0; i < src->n_obs; i++) {
        int dup = 0;
        for (uint32_t j = 0; j < dst->n_obs && !dup; j++)
            dup = dst->obs[j] == src->obs[i];
        if (!dup) {
            AN_GROW(b->a, dst->obs, dst->cap_obs, (size_t)dst->n_obs + 1);
            dst->obs[dst->n_obs++] = src->obs[i];
        }
    }
}

static void resolve_phase(gb_t *b)
{
    pn_graph_t *g = b->g;
    size_t n = g->n;
    const char **res = AN_ARRAY(b->a, const char *, n);
    for (size_t i = 0; i < n; i++) {
        const pn_edge_t *e = &g->e[i];
        if (!e->ambiguous || e->dead)
            continue;
        const char *r = resolve_ambiguous(b, e);
        if (r && strcmp(r, e->a) != 0)
            res[i] = r;
    }
    for (size_t i = 0; i < n; i++) {
        if (res[i] == NULL)
            continue;
        pn_edge_t *e = &g->e[i];
        const char *x = e->a, *y = res[i];
        if (strcmp(x, y) > 0) {
            const char *t = x;
            x = y;
            y = t;
        }
        char key[300];
        int kn = snprintf(key, sizeof(key), "%s|%s", x, y);
        int64_t k = msn_an__map_find(&g->keys, key, (size_t)kn);
        if (k >= 0) {
            pn_edge_t *dst = &g->e[*(int64_t *)msn_an__map_val(&g->keys, (uint32_t)k) - 1];
            merge_into(dst, e, b);
            e->dead = 1;
            continue;
        }
        int is_new;
        pn_edge_t *ne = edge_get(b, x, y, &is_new); /* may move g->e */
        e = &g->e[i];
        pn_edge_t copy = *e;
        e->dead = 1;
        copy.a = end_str(g, x);
        copy.b = end_str(g, y);
        copy.ambiguous = 0;
        copy.cands = NULL;
        copy.n_cands = 0;
        *ne = copy;
        uint32_t idx = (uint32_t)(ne - g->e);
        list_add(b, copy.a, idx);
        list_add(b, copy.b, idx);
    }
}

pn_graph_t *msn_pn__graph_build(msn_pernode_t *p)
{
    const msn_store_t *s = p->s;
    msn_arena_t *a = p->c.arena;
    pn_graph_t *g = AN_NEW(&p->c, pn_graph_t);
    msn_an__map_init(&g->keys, a, sizeof(int64_t));
    msn_an__map_init(&g->ends, a, 0);
    msn_an__map_init(&g->obs, a, 0);
    gb_t b = {.p = p, .g = g, .a = a};
    /* observer slots: one per observer row with an id, by lowercase id */
    int32_t *slot = AN_ARRAY(a, int32_t, s->n_observers);
    g->obs_iata = AN_ARRAY(a, const char *, s->n_observers);
    char low[300];
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const char *id = s->observers[i].id;
        slot[i] = -1;
        if (id == NULL || id[0] == '\0')
            continue;
        lower_copy(low, sizeof(low), id, strlen(id));
        int is_new;
        uint32_t k = msn_an__map_intern(&g->obs, low, strlen(low), &is_new);
        slot[i] = (int32_t)k;
        if (is_new)
            g->obs_iata[k] = s->observers[i].iata;
    }
    msn_jsonr_obj_t *jo = AN_NEW(&p->c, msn_jsonr_obj_t);
    msn_buf_t *scratch = msn_an__buf(&p->c);
    an_hops_t hops;
    msn_an__hops_init(&hops, &p->c);
    char from[300], hop[300];
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        int advert = t->payload_type == 4;
        const char *fr = t->n_obs ? from_node(&b, t, jo, scratch, from, sizeof(from)) : NULL;
        for (uint32_t j = 0; j < t->n_obs; j++) {
            const msn_obs_t *o = &s->obs[t->obs[j]];
            int32_t oi = msn_an__obs_observer(&p->c, o);
            int32_t os = oi >= 0 ? slot[oi] : -1;
            const char *observer = os >= 0 ? g->obs.keys[os] : NULL;
            int nh = o->hops > 0 ? msn_an__hops_parse(&hops, o->path_json) : 0;
            if (nh == 0) {
                if (advert && fr && observer && strcmp(fr, observer) != 0)
                    upsert(&b, fr, observer, "", os, o);
                continue;
            }
            if (advert && fr) {
                lower_copy(hop, sizeof(hop), msn_an__hop_text(&hops.h[0]), hops.h[0].n);
                if (strcmp(fr, hop) != 0 && hop[0])
                    upsert_cands(&b, fr, hop, os, o);
            }
            if (observer) {
                lower_copy(hop, sizeof(hop), msn_an__hop_text(&hops.h[nh - 1]), hops.h[nh - 1].n);
                if (strcmp(observer, hop) != 0 && hop[0])
                    upsert_cands(&b, observer, hop, os, o);
            }
        }
    }
    resolve_phase(&b);
    /* the end lists, final */
    g->ends_lists = b.lists;
    g->n_ends_lists = b.lists_n;
    return g;
}

const pn_end_t *msn_pn__graph_end(const pn_graph_t *g, const char *key, size_t n)
{
    int64_t e = msn_an__map_find(&g->ends, key, n);
    if (e < 0 || (size_t)e >= g->n_ends_lists)
        return NULL;
    return &g->ends_lists[e];
}

/* ---- documents ---- */

/* Name and role of an end (nodes first, then observers as role "observer"); 0 when it is
 * neither. *node receives the node row or -1. */
static int end_info(const msn_pernode_t *p, const char *k, const char **name, const char **role, int32_t *node)
{
    *node = msn_an__node_find(&p->c, k, strlen(k));
    if (*node >= 0) {
        *name = p->s->nodes[*node].name ? p->s->nodes[*node].name : "";
        *role = p->s->nodes[*node].role ? p->s->nodes[*node].role : "";
        return 1;
    }
    for (uint32_t i = 0; i < p->s->n_observers; i++) {
        const char *id = p->s->observers[i].id;
        if (id && strcasecmp(id, k) == 0) {
            *name = p->s->observers[i].name ? p->s->observers[i].name : "";
            *role = "observer";
            return 1;
        }
    }
    return 0;
}

static void pack_str_or_nil(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        msgpack_pack_nil(pk);
    else
        msn_mpk_str(pk, s);
}

int msn_pernode_graph(msn_pernode_t *p, msgpack_sbuffer *out)
{
    msgpack_sbuffer_clear(out);
    const pn_graph_t *g = p->g;
    if (g == NULL)
        return 0;
    msn_arena_t *a = msn_pn__tmp(p);
    int32_t *idx = AN_ARRAY(a, int32_t, g->ends.n); /* end -> nodes table index + 1 */
    uint32_t *order = AN_ARRAY(a, uint32_t, g->ends.n);
    uint32_t n_nodes = 0, n_live = 0;
    for (size_t i = 0; i < g->n; i++) {
        const pn_edge_t *e = &g->e[i];
        if (e->dead)
            continue;
        n_live++;
        const char *ends[2] = {e->a, e->b};
        for (int k = 0; k < 2; k++) {
            if (ends[k] == NULL)
                continue;
            int64_t ei = msn_an__map_find(&g->ends, ends[k], strlen(ends[k]));
            if (ei >= 0 && idx[ei] == 0) {
                order[n_nodes] = (uint32_t)ei;
                idx[ei] = (int32_t)++n_nodes;
            }
        }
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_array(&pk, n_nodes);
    for (uint32_t i = 0; i < n_nodes; i++) {
        const char *k = g->ends.keys[order[i]], *name = NULL, *role = NULL;
        int32_t node;
        msgpack_pack_array(&pk, 3);
        msn_mpk_str(&pk, k);
        if (end_info(p, k, &name, &role, &node)) {
            msn_mpk_str(&pk, name);
            msn_mpk_str(&pk, role);
        } else {
            msgpack_pack_nil(&pk);
            msgpack_pack_nil(&pk);
        }
    }
    msgpack_pack_array(&pk, g->obs.n);
    for (uint32_t i = 0; i < g->obs.n; i++) {
        msgpack_pack_array(&pk, 2);
        msn_mpk_str(&pk, g->obs.keys[i]);
        pack_str_or_nil(&pk, g->obs_iata[i]);
    }
    msgpack_pack_array(&pk, n_live);
    for (size_t i = 0; i < g->n; i++) {
        const pn_edge_t *e = &g->e[i];
        if (e->dead)
            continue;
        msgpack_pack_array(&pk, MSN_NGEF_COUNT_);
        msgpack_pack_int64(&pk, idx[msn_an__map_find(&g->ends, e->a, strlen(e->a))] - 1);
        msgpack_pack_int64(&pk, e->b ? idx[msn_an__map_find(&g->ends, e->b, strlen(e->b))] - 1 : -1);
        msn_mpk_str(&pk, e->prefix);
        msgpack_pack_int64(&pk, e->count);
        msgpack_pack_int64(&pk, e->last_s);
        msgpack_pack_double(&pk, e->snr_sum);
        msgpack_pack_int64(&pk, e->snr_n);
        msgpack_pack_array(&pk, e->n_obs);
        for (uint32_t k = 0; k < e->n_obs; k++)
            msgpack_pack_uint32(&pk, e->obs[k]);
        if (e->ambiguous)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
    }
    msgpack_pack_int64(&pk, g->rejected_geo_far);
    msn_pn__tmp_done(p);
    return 1;
}

static int cmp_cstr(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int msn_pernode_neighbors(msn_pernode_t *p, uint32_t key, msgpack_sbuffer *out)
{
    msgpack_sbuffer_clear(out);
    const pn_graph_t *g = p->g;
    if (g == NULL)
        return 0;
    const char *pk = p->s->keys[key];
    const pn_end_t *l = msn_pn__graph_end(g, pk, 64);
    if (l == NULL)
        return 0;
    uint32_t live = 0;
    for (uint32_t i = 0; i < l->n; i++)
        live += !g->e[l->e[i]].dead;
    if (live == 0)
        return 0;
    msn_arena_t *a = msn_pn__tmp(p);
    const char *self_name, *self_role;
    int32_t self_node;
    end_info(p, pk, &self_name, &self_role, &self_node);
    int self_gps = self_node >= 0 && msn_an__node_gps(&p->s->nodes[self_node]);
    msgpack_packer mp;
    msgpack_packer_init(&mp, out, msgpack_sbuffer_write);
    msgpack_pack_array(&mp, live);
    for (uint32_t i = 0; i < l->n; i++) {
        const pn_edge_t *e = &g->e[l->e[i]];
        if (e->dead)
            continue;
        const char *other = e->b == NULL ? NULL : (strcmp(e->a, pk) == 0 ? e->b : e->a);
        msgpack_pack_array(&mp, MSN_NBRF_COUNT_);
        pack_str_or_nil(&mp, other);
        msn_mpk_str(&mp, e->prefix);
        msgpack_pack_int64(&mp, e->count);
        msgpack_pack_int64(&mp, e->first_s);
        msgpack_pack_int64(&mp, e->last_s);
        msgpack_pack_double(&mp, e->snr_sum);
        msgpack_pack_int64(&mp, e->snr_n);
        const char **ids = AN_ARRAY(a, const char *, e->n_obs);
        for (uint32_t k = 0; k < e->n_obs; k++)
            ids[k] = g->obs.keys[e->obs[k]];
        msn_an__qsort(ids, e->n_obs, sizeof(*ids), cmp_cstr);
        msgpack_pack_array(&mp, e->n_obs);
        for (uint32_t k = 0; k < e->n_obs; k++)
            msn_mpk_str(&mp, ids[k]);
        if (e->ambiguous)
            msgpack_pack_true(&mp);
        else
            msgpack_pack_false(&mp);
        msgpack_pack_array(&mp, e->ambiguous ? e->n_cands : 0);
        for (uint32_t k = 0; e->ambiguous && k < e->n_cands; k++) {
            const char *cn = "", *cr = "";
            int32_t cnode;
            end_info(p, e->cands[k], &cn, &cr, &cnode);
            msgpack_pack_array(&mp, 3);
            msn_mpk_str(&mp, e->cands[k]);
            msn_mpk_str(&mp, cn);
            msn_mpk_str(&mp, cr);
        }
        msgpack_pack_array(&mp, 4);
        for (int m = 0; m < 4; m++)
            msgpack_pack_int64(&mp, e->modes[m]);
        const char *name = NULL, *role = NULL;
        int32_t on = -1;
        if (other != NULL && end_info(p, other, &name, &role, &on)) {
            msn_mpk_str(&mp, name);
            msn_mpk_str(&mp, role);
        } else {
            msgpack_pack_nil(&mp);
            msgpack_pack_nil(&mp);
        }
        if (other != NULL && self_gps && on >= 0 && msn_an__node_gps(&p->s->nodes[on])) {
            const msn_node_t *x = &p->s->nodes[self_node], *y = &p->s->nodes[on];
            msgpack_pack_double(&mp, msn_an__haversine_km(x->lat, x->lon, y->lat, y->lon));
        } else {
            msgpack_pack_nil(&mp);
        }
    }
    msn_pn__tmp_done(p);
    return 1;
}
