/*
 * hash_sizes.c: /api/analytics/hash-sizes (CoreScope computeAnalyticsHashSizes +
 * computeMultiByteCapability), and the per-node advert hash-size facts shared with
 * hash-collisions (computeNodeHashSizeInfo).
 *
 * The hash size of a transmission comes from the path length byte of its raw_hex
 * ((b >> 6) + 1; the reserved size 4 is skipped). Every transmission (no time window;
 * with a region: heard by one of its observers, or an advert whose originator's home
 * region is the region) contributes:
 *  - for an ADVERT with a pubKey: that node's packet count, last first_seen, name and
 *    hash size (zero-hop direct adverts carry a locally generated path byte and do not set
 *    the size);
 *  - when its best observation has hops: the size distribution (total, per hour of
 *    first_seen) and per hop text its count, size ((len+1)/2) and first relay candidate.
 * multiByteNodes are the advert originators with size > 1; distributionByRepeaters counts
 * repeaters per size (a "0" key appears for repeaters only seen in zero-hop adverts, as
 * in CoreScope). A node's home region is the region whose observers heard most of its
 * zero-hop direct adverts (ties to the smaller code); with a region, nodes whose home is
 * elsewhere are left out and attributionMethod is "repeater".
 *
 * multiByteCapability lists every node: "confirmed" (an advert in the last 7 days, or the
 * unfiltered multiByteNodes, shows size >= 2), "suspected" (one of its 1-3 byte prefixes
 * is a hop of a multi-byte packet that is not a PATH), or "unknown". Ordered by status,
 * then name (case-insensitive), then key.
 *
 * "First relay candidate" is the lowest key among the relays with that prefix (CoreScope
 * takes the first in its node table order, which the store does not keep).
 *
 * Phases: homes (with a region: one pass over the adverts for the home regions, which the
 * region filter of the next pass needs), collect (one pass: the filtered and, with a
 * region, unfiltered per-node figures, the distribution, the hops, the suspected
 * prefixes), the advert facts (msn_an__hsinfo, its own pass), merge (nodes away from the
 * region, repeaters per size, each node's capability), rank, render.
 */
#include "an_int.h"

#include <ctype.h>
#include <string.h>

#include "shm/hex.h"
#include "shm/json.h"

/* Header and path length byte of raw_hex as CoreScope reads them: the path byte at
 * offset 5 for transport routes (0, 3), else 1. Returns 0, or -1 when unreadable. */
static int raw_path_byte(const char *raw, int *route, int *pb)
{
    if (raw == NULL)
        return -1;
    size_t n = strlen(raw);
    if (n < 4)
        return -1;
    int h = msn_hex_byte(raw);
    if (h < 0)
        return -1;
    *route = h & 3;
    size_t idx = (*route == 0 || *route == 3) ? 5 : 1;
    if (idx * 2 + 2 > n)
        return -1;
    *pb = msn_hex_byte(raw + idx * 2);
    return *pb < 0 ? -1 : 0;
}

/* The advert originator key: pubKey when it is a string, else public_key. */
static const char *advert_pk(const msn_jsonr_obj_t *o, msn_buf_t *scratch, size_t *n)
{
    const msn_jsonr_val_t *m = msn_jsonr_obj_get(o, "pubKey");
    if (m != NULL && m->type == MSN_JSONR_STR)
        return msn_jsonr_obj_str(o, "pubKey", scratch, n);
    return msn_jsonr_obj_str(o, "public_key", scratch, n);
}

/* ---- computeNodeHashSizeInfo ---- */

typedef struct {
    uint32_t node;
    uint32_t seq;
    int64_t ts;
    uint8_t size;
} hsent_t;

static int hsent_cmp(const void *a, const void *b)
{
    const hsent_t *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The qualifying adverts of the last 7 days (not zero-hop direct ones) of known nodes:
 * node, time, hash size. Returns their count. */
static size_t hs_adverts(const an_ctx_t *c, hsent_t **out)
{
    const msn_store_t *s = c->s;
    hsent_t *e = NULL;
    size_t n = 0, cap = 0;
    msn_jsonr_obj_t jo;
    msn_buf_t *scratch = msn_an__buf(c);
    int64_t cutoff = c->now_ms - 7 * 86400000LL;
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        int route, pb;
        size_t pkn;
        if (t->payload_type != 4 || (t->first_seen != NULL && t->first_seen[0] && t->first_seen_ms < cutoff) ||
            t->raw_hex == NULL || t->decoded_json == NULL || t->decoded_json[0] == 0 ||
            raw_path_byte(t->raw_hex, &route, &pb) < 0 || ((route == 2 || route == 3) && (pb & 0x3F) == 0) ||
            msn_jsonr_obj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) < 0)
            continue;
        const char *pk = advert_pk(&jo, scratch, &pkn);
        int32_t nd = pk != NULL && pkn > 0 ? msn_an__node_find(c, pk, pkn) : -1;
        if (nd < 0)
            continue;
        AN_GROW(c->arena, e, cap, n + 1);
        e[n] = (hsent_t){(uint32_t)nd, (uint32_t)n, t->first_seen_ms, (uint8_t)(((pb >> 6) & 3) + 1)};
        n++;
    }
    *out = e;
    return n;
}

an_hsinfo_t *msn_an__hsinfo(const an_ctx_t *c)
{
    an_hsinfo_t *info = AN_ARRAY(c->arena, an_hsinfo_t, c->s->n_nodes);
    hsent_t *e;
    size_t n = hs_adverts(c, &e);
    msn_an__qsort(e, n, sizeof(*e), hsent_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && e[j].node == e[i].node)
            j++;
        an_hsinfo_t *h = &info[e[i].node];
        h->has = 1;
        int transitions = 0;
        for (size_t k = i; k < j; k++) {
            h->sizes_mask |= (uint8_t)(1u << (e[k].size - 1));
            if (k > i && e[k].size != e[k - 1].size)
                transitions++;
        }
        h->hash_size = e[j - 1].size;
        int distinct = __builtin_popcount(h->sizes_mask);
        if (j - i >= 3 && distinct >= 2 && transitions >= 2) {
            /* settled when the 3 newest adverts agree */
            int agree = e[j - 3].size == e[j - 1].size && e[j - 2].size == e[j - 1].size;
            h->inconsistent = (uint8_t)!agree;
        }
        i = j;
    }
    return info;
}

/* ---- computeAnalyticsHashSizes ---- */

/* An advert originator (the value of a scan's node map, keyed by its pubKey). */
typedef struct {
    int32_t hash_size;
    int64_t packets;
    const char *last_seen;
    const char *name;
    const char *role;
} bynode_t;

/* A hop text (the value of the hop map): its count and first relay candidate. */
typedef struct {
    int64_t count;
    int32_t node;
} hopcnt_t;

/* The figures of one pass: the per-node part alone for the unfiltered one. */
typedef struct {
    an_map_t nodes; /* advert pubKey -> bynode_t */
    int64_t total, dist[4];
    an_map_t hours; /* hour -> int64_t[4], by size */
    an_map_t hops;  /* hop text -> hopcnt_t */
} scan_t;

/* What collect reads of one transmission. */
typedef struct {
    int route, pb, hs;
    const char *pk, *name; /* the advert's originator and name (NULL when none) */
    size_t pkn, namen;
} txfacts_t;

typedef struct {
    uint32_t node;
    int status; /* 0 confirmed, 1 suspected, 2 unknown */
    int max_hs;
    const char *name, *key;
} cap_t;

typedef struct {
    const an_ctx_t *c;
    const msn_store_t *s;
    msn_arena_t *a;
    an_pm_t pm;
    msn_jsonr_obj_t jo;
    msn_buf_t *scratch, *namebuf;
    /* homes: every advert originator key, and its home region (NULL without a region) */
    an_map_t keys;
    const char **home;
    int any_home;
    /* collect */
    scan_t sc; /* with the region filter */
    scan_t gl; /* without it (only when a region is asked) */
    an_map_t susp; /* lowercase 1-3 byte hop of a multi-byte non-PATH packet -> its size */
    an_hsinfo_t *info;
    /* merge and rank */
    uint8_t *away; /* per sc node: its home region is elsewhere */
    int64_t byrep[4];
    cap_t *caps;
    uint32_t n_caps;
    an_rank_t *mb; /* multiByteNodes, ranked */
    uint32_t n_mb;
    an_rank_t *top_hops;
    size_t n_top_hops;
} hs_t;

static void scan_init(scan_t *sc, msn_arena_t *a)
{
    memset(sc, 0, sizeof(*sc));
    msn_an__map_init(&sc->nodes, a, sizeof(bynode_t));
    msn_an__map_init(&sc->hours, a, 4 * sizeof(int64_t));
    msn_an__map_init(&sc->hops, a, sizeof(hopcnt_t));
}

/* ---- homes -------------------------------------------------------------------------------- */

/* Upper-cased, trimmed IATA code per observer ("" when none). */
static char (*observer_iatas(hs_t *j, int *any))[16]
{
    const msn_store_t *s = j->s;
    char (*iata)[16] = msn_arena_calloc(j->a, s->n_observers ? s->n_observers : 1, 16);
    *any = 0;
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const char *v = s->observers[i].iata;
        size_t l = v ? strlen(v) : 0;
        while (l > 0 && isspace((unsigned char)*v)) {
            v++;
            l--;
        }
        while (l > 0 && isspace((unsigned char)v[l - 1]))
            l--;
        if (l == 0 || l >= 16)
            continue;
        for (size_t k = 0; k < l; k++)
            iata[i][k] = (char)toupper((unsigned char)v[k]);
        *any = 1;
    }
    return iata;
}

/* Counts the observers' regions of a zero-hop direct advert of key entry ke. */
static void tally_advert(hs_t *j, const msn_tx_t *t, uint32_t ke, char (*iata)[16], an_map_t *tally)
{
    const char *raw = t->raw_hex;
    if (raw == NULL || strlen(raw) < 4 || t->decoded_json[0] == 0)
        return;
    int h = msn_hex_byte(raw);
    if (h < 0 || ((h & 3) != 2 && (h & 3) != 3))
        return;
    int pb = msn_hex_byte(raw + 2); /* offset 1 for both direct routes, as CoreScope */
    if (pb < 0 || (pb & 0x3F) != 0)
        return;
    for (uint32_t k = 0; k < t->n_obs; k++) {
        int32_t ob = msn_an__obs_observer(j->c, &j->s->obs[t->obs[k]]);
        if (ob < 0 || iata[ob][0] == 0)
            continue;
        msn_buf_reset(j->namebuf);
        msn_buf_append(j->namebuf, &ke, 4);
        msn_buf_puts(j->namebuf, iata[ob]);
        msn_an__map_count(tally, j->namebuf->data, j->namebuf->len);
    }
}

/* computeNodeHomeRegions: every advert originator key, and per key the region whose
 * observers heard most of its zero-hop direct adverts (ties to the smaller code). */
static void collect_homes(hs_t *j)
{
    int any;
    char(*iata)[16] = observer_iatas(j, &any);
    an_map_t tally; /* key entry (4 bytes) + iata -> count */
    msn_an__map_init(&tally, j->a, sizeof(int64_t));
    for (uint32_t ti = 0; ti < j->s->n_tx; ti++) {
        const msn_tx_t *t = &j->s->tx[ti];
        size_t pkn;
        if (t->payload_type != 4 || t->decoded_json == NULL ||
            msn_jsonr_obj_parse(&j->jo, t->decoded_json, strlen(t->decoded_json)) < 0)
            continue;
        const char *pk = advert_pk(&j->jo, j->scratch, &pkn);
        if (pk == NULL || pkn == 0)
            continue;
        uint32_t ke = msn_an__map_intern(&j->keys, pk, pkn, NULL);
        if (any)
            tally_advert(j, t, ke, iata, &tally);
    }
    j->home = AN_ARRAY(j->a, const char *, j->keys.n);
    int64_t *best = AN_ARRAY(j->a, int64_t, j->keys.n);
    for (uint32_t e = 0; e < tally.n; e++) {
        uint32_t kk;
        memcpy(&kk, tally.keys[e], 4);
        const char *code = tally.keys[e] + 4;
        int64_t n = msn_an__map_n(&tally, e);
        if (n > best[kk] || (n == best[kk] && j->home[kk] != NULL && strcmp(code, j->home[kk]) < 0)) {
            best[kk] = n;
            j->home[kk] = code;
        }
    }
    for (uint32_t e = 0; e < j->keys.n; e++)
        j->any_home |= j->home[e] != NULL;
}

/* The home region of an advert key, or NULL. */
static const char *home_of(const hs_t *j, const char *pk, size_t n)
{
    if (j->home == NULL)
        return NULL;
    int64_t e = msn_an__map_find(&j->keys, pk, n);
    return e < 0 ? NULL : j->home[e];
}

/* ---- collect ------------------------------------------------------------------------------ */

/* An advert's originator key and name (NULL when t is not an advert or has no key). */
static void read_advert(hs_t *j, const msn_tx_t *t, txfacts_t *f)
{
    f->pk = f->name = NULL;
    f->pkn = f->namen = 0;
    if (t->payload_type != 4 || t->decoded_json == NULL || t->decoded_json[0] == 0 ||
        msn_jsonr_obj_parse(&j->jo, t->decoded_json, strlen(t->decoded_json)) < 0)
        return;
    f->pk = advert_pk(&j->jo, j->scratch, &f->pkn);
    f->name = msn_jsonr_obj_str(&j->jo, "name", j->namebuf, &f->namen);
    if (f->pk != NULL && f->pkn == 0)
        f->pk = NULL;
}

/* The advert's originator: packets, last seen, name, hash size. */
static void scan_node(hs_t *j, scan_t *sc, const msn_tx_t *t, const txfacts_t *f)
{
    int zero_hop = (f->route == 2 || f->route == 3) && (f->pb & 0x3F) == 0;
    int is_new;
    uint32_t e = msn_an__map_intern(&sc->nodes, f->pk, f->pkn, &is_new);
    bynode_t *b = msn_an__map_val(&sc->nodes, e);
    if (is_new) {
        const char *name = f->name;
        size_t namen = f->namen;
        if (name == NULL || namen == 0) {
            name = f->pk;
            namen = f->pkn >= 8 ? 8 : f->pkn;
        }
        b->hash_size = zero_hop ? 0 : f->hs;
        b->name = msn_arena_strndup(j->a, name, namen);
        int32_t nd = msn_an__node_find(j->c, f->pk, f->pkn);
        b->role = nd >= 0 ? msn_an__s(j->s->nodes[nd].role) : "";
    }
    b->packets++;
    if (!zero_hop)
        b->hash_size = f->hs;
    b->last_seen = msn_an__s(t->first_seen);
}

/* A path: the size distribution (total, per hour) and its hops. */
static void scan_path(hs_t *j, scan_t *sc, const msn_tx_t *t, int hs, const an_hops_t *hops)
{
    sc->total++;
    sc->dist[hs]++;
    char hk[16];
    if (msn_an__hour_of_tx(t, hk))
        ((int64_t *)msn_an__map_val(&sc->hours, msn_an__map_intern(&sc->hours, hk, 13, NULL)))[hs]++;
    for (int i = 0; i < hops->n; i++) {
        const char *hp = msn_an__hop_text(&hops->h[i]);
        int is_new;
        uint32_t e = msn_an__map_intern(&sc->hops, hp, hops->h[i].n, &is_new);
        hopcnt_t *h = msn_an__map_val(&sc->hops, e);
        if (is_new)
            h->node = msn_an__pm_first(&j->pm, hp, hops->h[i].n);
        h->count++;
    }
}

/* A multi-byte packet's 1-3 byte hops: suspected prefixes (the first packet's size). */
static void add_suspects(hs_t *j, int hs, const an_hops_t *hops)
{
    for (int i = 0; i < hops->n; i++) {
        uint32_t l = hops->h[i].n;
        if ((l != 2 && l != 4 && l != 6) || hops->h[i].p == NULL)
            continue;
        char low[8];
        for (uint32_t k = 0; k < l; k++)
            low[k] = (char)tolower((unsigned char)hops->h[i].p[k]);
        int is_new;
        uint32_t e = msn_an__map_intern(&j->susp, low, l, &is_new);
        if (is_new)
            *(uint8_t *)msn_an__map_val(&j->susp, e) = (uint8_t)hs;
    }
}

/* With a region, a transmission counts when an observer of the region heard it, or when
 * it is an advert whose originator's home region is the region. */
static int in_scope(const hs_t *j, const msn_tx_t *t, const txfacts_t *f)
{
    if (!j->c->region_active || msn_an__tx_in_region(j->c, t))
        return 1;
    const char *hm = f->pk != NULL ? home_of(j, f->pk, f->pkn) : NULL;
    return hm != NULL && msn_an__region_has(j->c, hm);
}

static void collect(hs_t *j)
{
    const msn_store_t *s = j->s;
    an_hops_t hops;
    msn_an__hops_init(&hops, j->c);
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        txfacts_t f;
        if (raw_path_byte(t->raw_hex, &f.route, &f.pb) < 0)
            continue;
        f.hs = ((f.pb >> 6) & 3) + 1;
        int n = msn_an__tx_hops(&hops, s, t);
        if (t->payload_type != 8 && f.hs >= 2)
            add_suspects(j, f.hs, &hops);
        if (f.hs > 3)
            continue;
        read_advert(j, t, &f);
        if (j->c->region_asked && f.pk != NULL)
            scan_node(j, &j->gl, t, &f);
        if (!in_scope(j, t, &f))
            continue;
        if (f.pk != NULL)
            scan_node(j, &j->sc, t, &f);
        if (n > 0)
            scan_path(j, &j->sc, t, f.hs, &hops);
    }
}

/* ---- merge -------------------------------------------------------------------------------- */

/* With a region, nodes whose home region is known and elsewhere are left out; the
 * repeaters per hash size. */
static void merge_nodes(hs_t *j)
{
    const an_map_t *m = &j->sc.nodes;
    j->away = AN_ARRAY(j->a, uint8_t, m->n);
    for (uint32_t e = 0; e < m->n; e++) {
        const char *hm = home_of(j, m->keys[e], m->klen[e]);
        j->away[e] = (uint8_t)(j->c->region_asked && hm != NULL && !msn_an__region_has(j->c, hm));
        const bynode_t *b = msn_an__map_val(m, e);
        if (msn_an__role_has(b->role, "repeater") && !j->away[e])
            j->byrep[b->hash_size]++;
    }
}

/* The largest advertised hash size of a node (of the last 7 days), 1 without any. */
static int advert_max(const an_hsinfo_t *h)
{
    int mx = 1;
    for (int k = 1; k <= 4; k++)
        if (h->has && (h->sizes_mask & (1u << (k - 1))))
            mx = k;
    return mx;
}

/* The largest size of a suspected prefix (the key's first 1..3 bytes), 0 when none. */
static int suspected_max(const hs_t *j, const char *key)
{
    int mx = 0;
    size_t kl = strlen(key);
    for (size_t bl = 2; bl <= 6 && bl <= kl; bl += 2) {
        char low[8];
        for (size_t k = 0; k < bl; k++)
            low[k] = (char)tolower((unsigned char)key[k]);
        int64_t se = msn_an__map_find(&j->susp, low, bl);
        if (se >= 0 && *(const uint8_t *)msn_an__map_val(&j->susp, (uint32_t)se) > mx)
            mx = *(const uint8_t *)msn_an__map_val(&j->susp, (uint32_t)se);
    }
    return mx;
}

/* computeMultiByteCapability for one node: adopters are the unfiltered multiByteNodes. */
static void capability(const hs_t *j, uint32_t i, cap_t *cp)
{
    const msn_node_t *nd = &j->s->nodes[i];
    const scan_t *adopt = j->c->region_asked ? &j->gl : &j->sc;
    const an_hsinfo_t *h = &j->info[i];
    *cp = (cap_t){i, 2, 1, msn_an__s(nd->name), nd->public_key};
    int conf = advert_max(h) >= 2 ? advert_max(h) : 0;
    int64_t ae = msn_an__map_find(&adopt->nodes, nd->public_key, strlen(nd->public_key));
    const bynode_t *ab = ae >= 0 ? msn_an__map_val(&adopt->nodes, (uint32_t)ae) : NULL;
    int susp = suspected_max(j, nd->public_key);
    if (conf) {
        cp->status = 0;
        cp->max_hs = conf;
    } else if (ab != NULL && ab->hash_size >= 2) {
        cp->status = 0;
        cp->max_hs = ab->hash_size;
    } else if (susp > 0) {
        cp->status = 1;
        cp->max_hs = susp;
    }
    if (h->has && cp->max_hs == 1)
        cp->max_hs = advert_max(h);
}

/* ---- rank --------------------------------------------------------------------------------- */

static int ci_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = tolower((unsigned char)*a), y = tolower((unsigned char)*b);
        if (x != y || x == 0)
            return x - y;
    }
}

static int cap_cmp(const void *a, const void *b)
{
    const cap_t *x = a, *y = b;
    if (x->status != y->status)
        return x->status - y->status;
    int c = ci_cmp(x->name, y->name);
    if (c)
        return c;
    return strcmp(x->key, y->key);
}

static void rank(hs_t *j)
{
    j->caps = AN_ARRAY(j->a, cap_t, j->s->n_nodes);
    for (uint32_t i = 0; i < j->s->n_nodes; i++)
        if (j->s->nodes[i].public_key != NULL)
            capability(j, i, &j->caps[j->n_caps++]);
    msn_an__qsort(j->caps, j->n_caps, sizeof(*j->caps), cap_cmp);
    const an_map_t *m = &j->sc.nodes;
    j->mb = AN_ARRAY(j->a, an_rank_t, m->n);
    for (uint32_t e = 0; e < m->n; e++) {
        const bynode_t *b = msn_an__map_val(m, e);
        if (!j->away[e] && b->hash_size > 1)
            j->mb[j->n_mb++] = (an_rank_t){m->keys[e], m->klen[e], e, b->packets};
    }
    msn_an__qsort(j->mb, j->n_mb, sizeof(*j->mb), msn_an__rank_cmp);
    j->top_hops = msn_an__map_ranks(&j->sc.hops);
    j->n_top_hops = msn_an__top(j->a, j->top_hops, j->sc.hops.n, sizeof(an_rank_t), 50, msn_an__rank_cmp);
}

/* ---- render ------------------------------------------------------------------------------- */

/* {"1":…,"2":…,"3":…} of counts per size (with "0" first when zero_key and it is not 0). */
static void render_sizes(msn_buf_t *out, const char *key, const int64_t *v, int zero_key)
{
    msn_an__open(out, key, '{');
    if (zero_key && v[0] > 0)
        msn_an__ki64(out, "0", v[0]);
    msn_an__ki64(out, "1", v[1]);
    msn_an__ki64(out, "2", v[2]);
    msn_an__ki64(out, "3", v[3]);
}

static void render_hourly(hs_t *j, msn_buf_t *out)
{
    msn_an__open(out, "hourly", '[');
    uint32_t *ho = msn_an__map_sorted(&j->sc.hours);
    for (uint32_t i = 0; i < j->sc.hours.n; i++) {
        render_sizes(out, NULL, msn_an__map_val(&j->sc.hours, ho[i]), 0);
        msn_an__kstrn(out, "hour", j->sc.hours.keys[ho[i]], j->sc.hours.klen[ho[i]]);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_capability(hs_t *j, msn_buf_t *out)
{
    static const char *const status_name[3] = {"confirmed", "suspected", "unknown"};
    static const char *const evidence[3] = {"advert", "path", ""};
    msn_an__open(out, "multiByteCapability", '[');
    for (uint32_t i = 0; i < j->n_caps; i++) {
        const msn_node_t *nd = &j->s->nodes[j->caps[i].node];
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "pubkey", nd->public_key);
        msn_an__kstr(out, "name", nd->name);
        msn_an__kstr(out, "role", nd->role);
        msn_an__kstr(out, "status", status_name[j->caps[i].status]);
        msn_an__kstr(out, "evidence", evidence[j->caps[i].status]);
        msn_an__ki64(out, "maxHashSize", j->caps[i].max_hs);
        msn_an__kstr(out, "lastSeen", nd->last_seen);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_nodes_hops(hs_t *j, msn_buf_t *out)
{
    msn_an__open(out, "multiByteNodes", '[');
    for (uint32_t i = 0; i < j->n_mb; i++) {
        const bynode_t *b = msn_an__map_val(&j->sc.nodes, j->mb[i].idx);
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "hashSize", b->hash_size);
        msn_an__kstr(out, "lastSeen", b->last_seen);
        msn_an__kstr(out, "name", b->name);
        msn_an__ki64(out, "packets", b->packets);
        msn_an__kstrn(out, "pubkey", j->mb[i].key, j->mb[i].kn);
        msn_an__kstr(out, "role", b->role);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__open(out, "topHops", '[');
    for (size_t i = 0; i < j->n_top_hops; i++) {
        const an_rank_t *r = &j->top_hops[i];
        int32_t nd = ((const hopcnt_t *)msn_an__map_val(&j->sc.hops, r->idx))->node;
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "count", r->count);
        msn_an__kstrn(out, "hex", r->key, r->kn);
        msn_an__kname(out, "name", j->s, nd);
        msn_an__kpubkey(out, "pubkey", j->s, nd);
        msn_an__ki64(out, "size", (int64_t)(r->kn + 1) / 2);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render(hs_t *j, msn_buf_t *out)
{
    msn_buf_putc(out, '{');
    msn_an__kstr(out, "attributionMethod", j->c->region_asked && j->any_home ? "repeater" : "observer");
    render_sizes(out, "distribution", j->sc.dist, 0);
    msn_buf_putc(out, '}');
    render_sizes(out, "distributionByRepeaters", j->byrep, 1);
    msn_buf_putc(out, '}');
    render_hourly(j, out);
    render_capability(j, out);
    render_nodes_hops(j, out);
    msn_an__ki64(out, "total", j->sc.total);
    msn_buf_putc(out, '}');
}

int msn_an__hash_sizes(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    hs_t *j = AN_NEW(c, hs_t);
    j->c = c;
    j->s = c->s;
    j->a = c->arena;
    msn_an__pm_init(&j->pm, c);
    j->scratch = msn_an__buf(c);
    j->namebuf = msn_an__buf(c);
    msn_an__map_init(&j->keys, j->a, 0);
    msn_an__map_init(&j->susp, j->a, sizeof(uint8_t));
    scan_init(&j->sc, j->a);
    scan_init(&j->gl, j->a);
    if (c->region_asked)
        collect_homes(j);
    collect(j);
    j->info = msn_an__hsinfo(c);
    merge_nodes(j);
    rank(j);
    render(j, out);
    return 0;
}
