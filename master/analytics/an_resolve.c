/*
 * an_resolve.c: the relay prefix map and hop resolution of the analytics (CoreScope's
 * buildPrefixMap and resolveWithContext without the neighbour-graph tier), and the
 * caching resolver over one aggregate context. See an_int.h.
 */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#define AN_PI 3.14159265358979323846

/* ---- the relay prefix map ------------------------------------------------------------------ */

static int role_is_relay(const char *role)
{
    if (role == NULL)
        return 0;
    char low[64];
    size_t n = strlen(role);
    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)role[i]);
    low[n] = 0;
    return strstr(low, "repeater") != NULL || strstr(low, "room_server") != NULL || strcmp(low, "room") == 0;
}

typedef struct {
    const char *key;
    uint32_t idx;
} lkey_t;

static int lkey_cmp(const void *a, const void *b)
{
    const lkey_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The relays' lowercase keys, sorted, into pm->relay / lkeys / lkey_off. */
static void pm_relays(an_pm_t *pm, msn_arena_t *a)
{
    const msn_store_t *s = pm->s;
    size_t total = 0;
    uint32_t nr = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        if (s->nodes[i].public_key != NULL && role_is_relay(s->nodes[i].role)) {
            total += strlen(s->nodes[i].public_key) + 1;
            nr++;
        }
    char *low = AN_ARRAY(a, char, total);
    lkey_t *ki = AN_ARRAY(a, lkey_t, nr);
    size_t off = 0;
    nr = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const char *pk = s->nodes[i].public_key;
        if (pk == NULL || !role_is_relay(s->nodes[i].role))
            continue;
        size_t l = strlen(pk);
        for (size_t k = 0; k <= l; k++)
            low[off + k] = (char)tolower((unsigned char)pk[k]);
        ki[nr++] = (lkey_t){low + off, i};
        off += l + 1;
    }
    msn_an__qsort(ki, nr, sizeof(*ki), lkey_cmp);
    pm->relay = AN_ARRAY(a, uint32_t, nr);
    pm->lkey_off = AN_ARRAY(a, uint32_t, nr);
    for (uint32_t i = 0; i < nr; i++) {
        pm->relay[i] = ki[i].idx;
        pm->lkey_off[i] = (uint32_t)(ki[i].key - low);
    }
    pm->lkeys = low;
    pm->n_relay = nr;
}

void msn_an__pm_init(an_pm_t *pm, const an_ctx_t *c)
{
    const msn_store_t *s = c->s;
    memset(pm, 0, sizeof(*pm));
    pm->s = s;
    pm->gps = AN_ARRAY(c->arena, uint8_t, s->n_nodes);
    pm->nonrelay = AN_ARRAY(c->arena, uint8_t, s->n_nodes);
    for (uint32_t i = 0; i < s->n_nodes; i++)
        pm->gps[i] = (uint8_t)msn_an__node_gps(&s->nodes[i]);
    pm_relays(pm, c->arena);
    /* listener-only observers: COALESCE(can_relay, 1) = 0 and active */
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const msn_observer_t *o = &s->observers[i];
        if (!o->has_can_relay || o->can_relay || o->inactive || o->id == NULL || o->id[0] == 0)
            continue;
        uint32_t first, cnt;
        size_t l = strlen(o->id);
        if (l <= 8)
            continue; /* listener keys are full public keys */
        msn_an__pm_candidates(pm, o->id, l, &first, &cnt);
        for (uint32_t k = 0; k < cnt; k++)
            pm->nonrelay[pm->relay[first + k]] = 1;
    }
}

uint32_t msn_an__pm_candidates(const an_pm_t *pm, const char *hop, size_t n, uint32_t *first, uint32_t *count)
{
    *first = 0;
    *count = 0;
    if (hop == NULL || n < 2 || n > 256)
        return 0;
    char low[257];
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)hop[i]);
    low[n] = 0;
    uint32_t lo = 0, hi = pm->n_relay;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (strcmp(pm->lkeys + pm->lkey_off[mid], low) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t e = lo;
    if (n <= 8) {
        while (e < pm->n_relay && strncmp(pm->lkeys + pm->lkey_off[e], low, n) == 0)
            e++;
    } else {
        while (e < pm->n_relay && strcmp(pm->lkeys + pm->lkey_off[e], low) == 0)
            e++;
    }
    *first = lo;
    *count = e - lo;
    return *count;
}

int32_t msn_an__pm_first(const an_pm_t *pm, const char *hop, size_t n)
{
    uint32_t first, cnt;
    return msn_an__pm_candidates(pm, hop, n, &first, &cnt) > 0 ? (int32_t)pm->relay[first] : -1;
}

int32_t msn_an__pm_unique(const an_pm_t *pm, const char *hop, size_t n)
{
    uint32_t first, cnt;
    if (msn_an__pm_candidates(pm, hop, n > 8 ? 8 : n, &first, &cnt) != 1)
        return -1;
    return (int32_t)pm->relay[first];
}

/* ---- resolution -------------------------------------------------------------------------- */

static double geo_approx(double lat1, double lon1, double lat2, double lon2)
{
    double dlat = (lat2 - lat1) * AN_PI / 180;
    double dlon = (lon2 - lon1) * AN_PI / 180 * cos((lat1 + lat2) / 2 * AN_PI / 180);
    return sqrt(dlat * dlat + dlon * dlon);
}

/* a beats b under betterByObsCount: more adverts, then the smaller key. */
static int better_by_count(const msn_node_t *a, const msn_node_t *b)
{
    if (a->advert_count != b->advert_count)
        return a->advert_count > b->advert_count;
    return strcmp(a->public_key, b->public_key) < 0;
}

/* Tier 2: the live GPS candidate nearest the context centroid, or -1. */
static int32_t nearest_to_context(const an_pm_t *pm, uint32_t first, uint32_t cnt, const an_rctx_t *rc)
{
    const msn_node_t *nodes = pm->s->nodes;
    int32_t best = -1;
    double bd = INFINITY;
    for (uint32_t k = first; k < first + cnt; k++) {
        uint32_t ni = pm->relay[k];
        if (pm->nonrelay[ni] || !pm->gps[ni])
            continue;
        double d = geo_approx(rc->lat, rc->lon, nodes[ni].lat, nodes[ni].lon);
        if (best < 0 || d < bd) {
            bd = d;
            best = (int32_t)ni;
        }
    }
    return best;
}

/* The live candidate with the most adverts (then the lowest key), among those with a
 * position when gps_only; -1 when none. */
static int32_t most_adverts(const an_pm_t *pm, uint32_t first, uint32_t cnt, int gps_only)
{
    const msn_node_t *nodes = pm->s->nodes;
    int32_t best = -1;
    for (uint32_t k = first; k < first + cnt; k++) {
        uint32_t ni = pm->relay[k];
        if (pm->nonrelay[ni] || (gps_only && !pm->gps[ni]))
            continue;
        if (best < 0 || better_by_count(&nodes[ni], &nodes[best]))
            best = (int32_t)ni;
    }
    return best;
}

int32_t msn_an__pm_resolve(const an_pm_t *pm, const char *hop, size_t n, const an_rctx_t *rc)
{
    uint32_t first, cnt;
    if (msn_an__pm_candidates(pm, hop, n, &first, &cnt) == 0)
        return -1;
    uint32_t live = 0;
    int32_t only = -1;
    for (uint32_t k = first; k < first + cnt; k++)
        if (!pm->nonrelay[pm->relay[k]]) {
            live++;
            only = (int32_t)pm->relay[k];
        }
    if (live <= 1)
        return only;
    int32_t best = -1;
    if (rc != NULL && rc->n_ctx > 0 && rc->n_gps > 0)
        best = nearest_to_context(pm, first, cnt, rc);
    if (best < 0)
        best = most_adverts(pm, first, cnt, 1);
    if (best < 0)
        best = most_adverts(pm, first, cnt, 0);
    return best;
}

/* ---- resolution contexts ------------------------------------------------------------------ */

void msn_an__rctx_reset(an_rctx_t *rc)
{
    rc->n_ctx = rc->n_gps = rc->n_seen = 0;
    rc->lat = rc->lon = 0;
}

/* 1 when key was not in the context yet (and is now recorded as seen). */
static int rctx_first_time(an_rctx_t *rc, an_map_t *dedup, const char *key, size_t n)
{
    if (dedup != NULL) {
        char low[257];
        if (n > 256)
            return 0;
        for (size_t i = 0; i < n; i++)
            low[i] = (char)tolower((unsigned char)key[i]);
        int is_new;
        msn_an__map_intern(dedup, low, n, &is_new);
        return is_new;
    }
    for (int i = 0; i < rc->n_seen; i++)
        if (rc->seen_n[i] == n && strncasecmp(rc->seen[i], key, n) == 0)
            return 0;
    if (rc->n_seen < AN_RCTX_LIST) {
        rc->seen[rc->n_seen] = key;
        rc->seen_n[rc->n_seen] = (uint32_t)n;
        rc->n_seen++;
    }
    return 1;
}

void msn_an__rctx_add(const an_pm_t *pm, an_rctx_t *rc, an_map_t *dedup, const char *key, size_t n)
{
    if (key == NULL || n == 0 || !rctx_first_time(rc, dedup, key, n))
        return;
    rc->n_ctx++;
    uint32_t first, cnt;
    if (msn_an__pm_candidates(pm, key, n, &first, &cnt) == 1 && pm->gps[pm->relay[first]]) {
        const msn_node_t *nd = &pm->s->nodes[pm->relay[first]];
        rc->lat += nd->lat;
        rc->lon += nd->lon;
        rc->n_gps++;
    }
}

void msn_an__rctx_finish(an_rctx_t *rc)
{
    if (rc->n_gps > 0) {
        rc->lat /= rc->n_gps;
        rc->lon /= rc->n_gps;
    }
}

static int is_hex_str(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return n > 0;
}

void msn_an__rctx_tx(const an_ctx_t *c, const an_pm_t *pm, an_rctx_t *rc, an_map_t *dedup, const msn_tx_t *t,
                     const an_hops_t *hops, msn_jsonr_obj_t *scratch_obj, msn_buf_t *scratch)
{
    const char *dj = t->decoded_json;
    if (dj != NULL && strstr(dj, "\"pubKey\"") != NULL) {
        msn_jsonr_obj_parse(scratch_obj, dj, strlen(dj));
        size_t n;
        const char *pk = msn_jsonr_obj_str(scratch_obj, "pubKey", scratch, &n);
        if (pk != NULL)
            msn_an__rctx_add(pm, rc, dedup, pk, n);
    }
    if (t->best >= 0 && (uint32_t)t->best < c->s->n_obs) {
        const char *oid = msn_an__obs_observer_id(c, &c->s->obs[t->best]);
        size_t n = strlen(oid);
        if (n >= 4 && is_hex_str(oid, n))
            msn_an__rctx_add(pm, rc, dedup, oid, n);
    }
    for (int i = 0; i < hops->n; i++) {
        uint32_t first, cnt;
        if (msn_an__pm_candidates(pm, hops->h[i].p, hops->h[i].n, &first, &cnt) == 1) {
            const char *pk = c->s->nodes[pm->relay[first]].public_key;
            msn_an__rctx_add(pm, rc, dedup, pk, strlen(pk));
        }
    }
}

/* ---- the caching resolver ------------------------------------------------------------------- */

void msn_an__resolver_init(an_resolver_t *r, const an_ctx_t *c)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    msn_an__pm_init(&r->pm, c);
    msn_an__rctx_reset(&r->rc);
    msn_an__map_init(&r->seen, c->arena, 0);
    msn_an__map_init(&r->cache, c->arena, sizeof(int32_t));
    r->scratch = msn_an__buf(c);
}

void msn_an__resolver_add(an_resolver_t *r, const msn_tx_t *t, const an_hops_t *hops)
{
    msn_an__rctx_tx(r->c, &r->pm, &r->rc, &r->seen, t, hops, &r->jo, r->scratch);
}

void msn_an__resolver_finish(an_resolver_t *r)
{
    msn_an__rctx_finish(&r->rc);
}

int32_t msn_an__resolve(an_resolver_t *r, const char *hop, size_t n)
{
    int is_new;
    uint32_t e = msn_an__map_intern(&r->cache, hop ? hop : "", hop ? n : 0, &is_new);
    int32_t *v = msn_an__map_val(&r->cache, e);
    if (is_new)
        *v = msn_an__pm_resolve(&r->pm, hop, n, &r->rc) + 1;
    return *v - 1;
}
