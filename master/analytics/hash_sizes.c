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
 */
#include "an_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shm/json.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hexbyte(const char *p)
{
    int a = hexval(p[0]), b = hexval(p[1]);
    return a < 0 || b < 0 ? -1 : a << 4 | b;
}

/* Header and path length byte of raw_hex as CoreScope reads them: the path byte at
 * offset 5 for transport routes (0, 3), else 1. Returns 0, or -1 when unreadable. */
static int raw_path_byte(const char *raw, int *route, int *pb)
{
    if (raw == NULL)
        return -1;
    size_t n = strlen(raw);
    if (n < 4)
        return -1;
    int h = hexbyte(raw);
    if (h < 0)
        return -1;
    *route = h & 3;
    size_t idx = (*route == 0 || *route == 3) ? 5 : 1;
    if (idx * 2 + 2 > n)
        return -1;
    *pb = hexbyte(raw + idx * 2);
    return *pb < 0 ? -1 : 0;
}

/* The advert originator key: pubKey when it is a string, else public_key. */
static const char *advert_pk(const an_jobj_t *o, msn_buf_t *scratch, size_t *n)
{
    const an_jmember_t *m = msn_an__jobj_get(o, "pubKey");
    if (m != NULL && m->t == AN_J_STR)
        return msn_an__jobj_str(o, "pubKey", scratch, n);
    return msn_an__jobj_str(o, "public_key", scratch, n);
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

void msn_an__hsinfo(const an_ctx_t *c, an_hsinfo_t *info)
{
    const msn_store_t *s = c->s;
    memset(info, 0, (s->n_nodes ? s->n_nodes : 1) * sizeof(*info));
    hsent_t *e = NULL;
    size_t n = 0, cap = 0;
    an_jobj_t jo;
    msn_buf_t scratch = MSN_BUF_INIT;
    int64_t cutoff = c->now_ms - 7 * 86400000LL;
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (t->payload_type != 4)
            continue;
        if (t->first_seen != NULL && t->first_seen[0] && t->first_seen_ms < cutoff)
            continue;
        if (t->raw_hex == NULL || t->decoded_json == NULL || t->decoded_json[0] == 0)
            continue;
        int route, pb;
        if (raw_path_byte(t->raw_hex, &route, &pb) < 0)
            continue;
        if ((route == 2 || route == 3) && (pb & 0x3F) == 0)
            continue;
        if (msn_an__jobj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) < 0)
            continue;
        size_t pkn;
        const char *pk = advert_pk(&jo, &scratch, &pkn);
        if (pk == NULL || pkn == 0)
            continue;
        int32_t nd = msn_an__node_find(c, pk, pkn);
        if (nd < 0)
            continue;
        AN_RESERVE(e, cap, n + 1);
        e[n].node = (uint32_t)nd;
        e[n].seq = (uint32_t)n;
        e[n].ts = t->first_seen_ms;
        e[n].size = (uint8_t)(((pb >> 6) & 3) + 1);
        n++;
    }
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
        size_t cnt = j - i;
        if (cnt >= 3 && distinct >= 2 && transitions >= 2) {
            /* settled when the 3 newest adverts agree */
            int agree = e[j - 3].size == e[j - 1].size && e[j - 2].size == e[j - 1].size;
            h->inconsistent = (uint8_t)!agree;
        }
        i = j;
    }
    free(e);
    msn_buf_free(&scratch);
}

/* ---- computeAnalyticsHashSizes ---- */

typedef struct {
    int32_t hash_size;
    int64_t packets;
    const char *last_seen;
    const char *name; /* arena */
    const char *role;
} bynode_t;

typedef struct {
    an_map_t nodes; /* advert pubKey -> bynode */
    bynode_t *bn;
    size_t bn_cap;
    int64_t total, dist[4];
    an_map_t hours; /* hour -> counts */
    int64_t (*hc)[4];
    size_t hc_cap;
    an_map_t hops; /* hop text -> stats */
    int64_t *hop_n;
    int32_t *hop_node;
    size_t hn_cap, hnode_cap;
    msn_arena_t *arena;
} scan_t;

static void scan_init(scan_t *sc)
{
    memset(sc, 0, sizeof(*sc));
    msn_an__map_init(&sc->nodes);
    msn_an__map_init(&sc->hours);
    msn_an__map_init(&sc->hops);
    sc->arena = msn_arena_new();
}

static void scan_free(scan_t *sc)
{
    msn_an__map_free(&sc->nodes);
    msn_an__map_free(&sc->hours);
    msn_an__map_free(&sc->hops);
    free(sc->bn);
    free(sc->hc);
    free(sc->hop_n);
    free(sc->hop_node);
    msn_arena_free(sc->arena);
}

/* region codes of the shape, upper-cased and trimmed (normalizeRegionCodes) */
static int region_has(const an_ctx_t *c, const char *iata)
{
    const char *r = c->shape ? c->shape->region : NULL;
    if (r == NULL || iata == NULL || iata[0] == 0)
        return 0;
    const char *p = r;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        const char *q = p;
        size_t ql = l;
        while (ql > 0 && isspace((unsigned char)*q)) {
            q++;
            ql--;
        }
        while (ql > 0 && isspace((unsigned char)q[ql - 1]))
            ql--;
        if (ql > 0 && !(ql == 3 && strncasecmp(q, "ALL", 3) == 0) && strlen(iata) == ql &&
            strncasecmp(q, iata, ql) == 0)
            return 1;
        p += l;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* computeNodeHomeRegions: per advert key (index in `keys`), the home IATA or NULL. */
static void home_regions(const an_ctx_t *c, an_map_t *keys, const char ***home_out)
{
    const msn_store_t *s = c->s;
    /* upper-cased, trimmed IATA per observer */
    char (*iata)[16] = msn_xcalloc(s->n_observers ? s->n_observers : 1, 16);
    int any = 0;
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const char *v = s->observers[i].iata;
        if (v == NULL)
            continue;
        size_t l = strlen(v);
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
        any = 1;
    }
    an_map_t tally; /* key index (4 bytes) + iata -> count */
    msn_an__map_init(&tally);
    int64_t *cnt = NULL;
    size_t cnt_cap = 0;
    an_jobj_t jo;
    msn_buf_t scratch = MSN_BUF_INIT, key = MSN_BUF_INIT;
    for (uint32_t ti = 0; any && ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (t->payload_type != 4 || t->raw_hex == NULL || strlen(t->raw_hex) < 4 || t->decoded_json == NULL ||
            t->decoded_json[0] == 0)
            continue;
        int h = hexbyte(t->raw_hex);
        if (h < 0 || ((h & 3) != 2 && (h & 3) != 3))
            continue;
        int pb = hexbyte(t->raw_hex + 2); /* offset 1 for both direct routes, as CoreScope */
        if (pb < 0 || (pb & 0x3F) != 0)
            continue;
        if (msn_an__jobj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) < 0)
            continue;
        size_t pkn;
        const char *pk = advert_pk(&jo, &scratch, &pkn);
        if (pk == NULL || pkn == 0)
            continue;
        int64_t ke = msn_an__map_find(keys, pk, pkn);
        if (ke < 0)
            continue;
        for (uint32_t k = 0; k < t->n_obs; k++) {
            int32_t ob = msn_an__obs_observer(c, &s->obs[t->obs[k]]);
            if (ob < 0 || iata[ob][0] == 0)
                continue;
            uint32_t kk = (uint32_t)ke;
            msn_buf_reset(&key);
            msn_buf_append(&key, &kk, 4);
            msn_buf_puts(&key, iata[ob]);
            int is_new;
            uint32_t e = msn_an__map_intern(&tally, key.data, key.len, &is_new);
            if (is_new) {
                AN_RESERVE(cnt, cnt_cap, (size_t)e + 1);
                cnt[e] = 0;
            }
            cnt[e]++;
        }
    }
    const char **home = msn_xcalloc(keys->n ? keys->n : 1, sizeof(*home));
    int64_t *best = msn_xcalloc(keys->n ? keys->n : 1, sizeof(int64_t));
    for (uint32_t e = 0; e < tally.n; e++) {
        uint32_t kk;
        memcpy(&kk, tally.keys[e], 4);
        const char *code = tally.keys[e] + 4;
        if (cnt[e] > best[kk] || (cnt[e] == best[kk] && home[kk] != NULL && strcmp(code, home[kk]) < 0)) {
            best[kk] = cnt[e];
            home[kk] = code;
        }
    }
    /* the codes live in the tally map's arena: copy them out */
    msn_arena_t *keep = keys->arena;
    for (uint32_t k = 0; k < keys->n; k++)
        if (home[k] != NULL)
            home[k] = msn_arena_strdup(keep, home[k]);
    free(best);
    free(cnt);
    free(iata);
    msn_an__map_free(&tally);
    msn_buf_free(&scratch);
    msn_buf_free(&key);
    *home_out = home;
}

/* Every advert originator key, and (with a region) their home regions. */
typedef struct {
    an_map_t keys;
    const char **home; /* per key: home IATA or NULL; NULL array without a region */
} homes_t;

static void homes_init(const an_ctx_t *c, homes_t *h)
{
    const msn_store_t *s = c->s;
    an_jobj_t jo;
    msn_buf_t scratch = MSN_BUF_INIT;
    msn_an__map_init(&h->keys);
    h->home = NULL;
    if (!c->region_asked)
        return;
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (t->payload_type != 4 || t->decoded_json == NULL)
            continue;
        if (msn_an__jobj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) < 0)
            continue;
        size_t pkn;
        const char *pk = advert_pk(&jo, &scratch, &pkn);
        if (pk != NULL && pkn > 0)
            msn_an__map_intern(&h->keys, pk, pkn, NULL);
    }
    msn_buf_free(&scratch);
    home_regions(c, &h->keys, &h->home);
}

static void homes_free(homes_t *h)
{
    free(h->home);
    msn_an__map_free(&h->keys);
}

/* The home region of an advert key, or NULL. */
static const char *home_of(const homes_t *h, const char *pk, size_t n)
{
    if (h->home == NULL)
        return NULL;
    int64_t e = msn_an__map_find(&h->keys, pk, n);
    return e < 0 ? NULL : h->home[e];
}

/* One pass over the transmissions (use_region: apply the shape's region). */
static void scan(const an_ctx_t *c, const an_pm_t *pm, const homes_t *homes, int use_region, scan_t *sc)
{
    const msn_store_t *s = c->s;
    an_jobj_t jo;
    msn_buf_t scratch = MSN_BUF_INIT, namebuf = MSN_BUF_INIT;
    an_hops_t hops = {0};
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        int route, pb;
        if (t->raw_hex == NULL || t->raw_hex[0] == 0 || raw_path_byte(t->raw_hex, &route, &pb) < 0)
            continue;
        int hs = ((pb >> 6) & 3) + 1;
        if (hs > 3)
            continue;
        const char *pk = NULL, *name = NULL;
        size_t pkn = 0, namen = 0;
        if (t->payload_type == 4 && t->decoded_json != NULL && t->decoded_json[0] &&
            msn_an__jobj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) >= 0) {
            pk = advert_pk(&jo, &scratch, &pkn);
            name = msn_an__jobj_str(&jo, "name", &namebuf, &namen);
            if (pk != NULL && pkn == 0)
                pk = NULL;
        }
        if (use_region && c->region_active && !msn_an__tx_in_region(c, t)) {
            int ok = 0;
            if (pk != NULL) {
                const char *hm = home_of(homes, pk, pkn);
                ok = hm != NULL && region_has(c, hm);
            }
            if (!ok)
                continue;
        }
        if (pk != NULL) {
            int zero_hop = (route == 2 || route == 3) && (pb & 0x3F) == 0;
            int is_new;
            uint32_t e = msn_an__map_intern(&sc->nodes, pk, pkn, &is_new);
            if (is_new) {
                AN_RESERVE(sc->bn, sc->bn_cap, (size_t)e + 1);
                bynode_t *b = &sc->bn[e];
                b->hash_size = zero_hop ? 0 : hs;
                b->packets = 0;
                if (name == NULL || namen == 0) {
                    name = pk;
                    namen = pkn >= 8 ? 8 : pkn;
                }
                b->name = msn_arena_strndup(sc->arena, name, namen);
                int32_t nd = msn_an__node_find(c, pk, pkn);
                b->role = nd >= 0 ? msn_an__s(s->nodes[nd].role) : "";
            }
            bynode_t *b = &sc->bn[e];
            b->packets++;
            if (!zero_hop)
                b->hash_size = hs;
            b->last_seen = msn_an__s(t->first_seen);
        }
        int n = msn_an__tx_hops(&hops, s, t);
        if (n == 0)
            continue;
        sc->total++;
        sc->dist[hs]++;
        char hk[16];
        if (msn_an__hour_of_tx(t, hk)) {
            int is_new;
            uint32_t e = msn_an__map_intern(&sc->hours, hk, 13, &is_new);
            if (is_new) {
                AN_RESERVE(sc->hc, sc->hc_cap, (size_t)e + 1);
                memset(sc->hc[e], 0, sizeof(sc->hc[e]));
            }
            sc->hc[e][hs]++;
        }
        for (int i = 0; i < n; i++) {
            const char *hp = hops.h[i].p ? hops.h[i].p : "";
            int is_new;
            uint32_t e = msn_an__map_intern(&sc->hops, hp, hops.h[i].n, &is_new);
            if (is_new) {
                AN_RESERVE(sc->hop_n, sc->hn_cap, (size_t)e + 1);
                AN_RESERVE(sc->hop_node, sc->hnode_cap, (size_t)e + 1);
                sc->hop_n[e] = 0;
                uint32_t first, cnt;
                sc->hop_node[e] = msn_an__pm_candidates(pm, hp, hops.h[i].n, &first, &cnt) > 0
                                      ? (int32_t)pm->relay[first]
                                      : -1;
            }
            sc->hop_n[e]++;
        }
    }
    msn_buf_free(&scratch);
    msn_buf_free(&namebuf);
    free(hops.h);
}

typedef struct {
    uint32_t idx;
    int64_t count;
    const char *key;
    size_t kn;
} rank_t;

static int rank_cmp(const void *a, const void *b)
{
    const rank_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = memcmp(x->key, y->key, x->kn < y->kn ? x->kn : y->kn);
    if (c)
        return c;
    return x->kn < y->kn ? -1 : x->kn > y->kn;
}

static int role_has_repeater(const char *role)
{
    for (const char *p = role; p && *p; p++)
        if (strncasecmp(p, "repeater", 8) == 0)
            return 1;
    return 0;
}

typedef struct {
    uint32_t node;
    int status; /* 0 confirmed, 1 suspected, 2 unknown */
    int max_hs;
    const char *name, *key;
} cap_t;

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

int msn_an__hash_sizes(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    an_pm_t pm;
    msn_an__pm_init(&pm, c);
    homes_t homes;
    homes_init(c, &homes);
    scan_t sc;
    scan_init(&sc);
    scan(c, &pm, &homes, 1, &sc);
    int any_home = 0;
    for (uint32_t e = 0; homes.home != NULL && e < homes.keys.n; e++)
        any_home |= homes.home[e] != NULL;
    /* with a region, nodes whose home region is known and elsewhere are left out */
    uint8_t *away = msn_xcalloc(sc.nodes.n ? sc.nodes.n : 1, 1);
    for (uint32_t e = 0; e < sc.nodes.n; e++) {
        const char *hm = home_of(&homes, sc.nodes.keys[e], sc.nodes.klen[e]);
        away[e] = (uint8_t)(c->region_asked && hm != NULL && !region_has(c, hm));
    }

    msn_buf_puts(out, "{\"attributionMethod\":");
    msn_buf_puts(out, c->region_asked && any_home ? "\"repeater\"" : "\"observer\"");
    msn_buf_puts(out, ",\"distribution\":{\"1\":");
    msn_buf_put_i64(out, sc.dist[1]);
    msn_buf_puts(out, ",\"2\":");
    msn_buf_put_i64(out, sc.dist[2]);
    msn_buf_puts(out, ",\"3\":");
    msn_buf_put_i64(out, sc.dist[3]);
    int64_t byrep[4] = {0, 0, 0, 0};
    for (uint32_t e = 0; e < sc.nodes.n; e++) {
        if (!role_has_repeater(sc.bn[e].role))
            continue;
        if (away[e])
            continue;
        byrep[sc.bn[e].hash_size]++;
    }
    msn_buf_puts(out, "},\"distributionByRepeaters\":{");
    if (byrep[0] > 0) {
        msn_buf_puts(out, "\"0\":");
        msn_buf_put_i64(out, byrep[0]);
        msn_buf_putc(out, ',');
    }
    msn_buf_puts(out, "\"1\":");
    msn_buf_put_i64(out, byrep[1]);
    msn_buf_puts(out, ",\"2\":");
    msn_buf_put_i64(out, byrep[2]);
    msn_buf_puts(out, ",\"3\":");
    msn_buf_put_i64(out, byrep[3]);
    msn_buf_puts(out, "},\"hourly\":[");
    uint32_t *ho = msn_an__map_sorted(&sc.hours);
    for (uint32_t i = 0; i < sc.hours.n; i++) {
        uint32_t e = ho[i];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"1\":");
        msn_buf_put_i64(out, sc.hc[e][1]);
        msn_buf_puts(out, ",\"2\":");
        msn_buf_put_i64(out, sc.hc[e][2]);
        msn_buf_puts(out, ",\"3\":");
        msn_buf_put_i64(out, sc.hc[e][3]);
        msn_buf_puts(out, ",\"hour\":");
        msn_an__strn(out, sc.hours.keys[e], sc.hours.klen[e]);
        msn_buf_putc(out, '}');
    }
    free(ho);

    /* ---- multi-byte capability ---- */
    /* adopters: multiByteNodes of the unfiltered scan */
    scan_t gl;
    const scan_t *adopt = &sc;
    if (c->region_asked) {
        scan_init(&gl);
        scan(c, &pm, &homes, 0, &gl);
        adopt = &gl;
    }
    an_hsinfo_t *info = msn_xmalloc((s->n_nodes ? s->n_nodes : 1) * sizeof(*info));
    msn_an__hsinfo(c, info);
    /* suspected: first multi-byte, non-PATH transmission with each lowercase 1-3 byte hop */
    an_map_t susp;
    msn_an__map_init(&susp);
    uint8_t *susp_hs = NULL;
    size_t susp_cap = 0;
    {
        an_hops_t hops = {0};
        for (uint32_t ti = 0; ti < s->n_tx; ti++) {
            const msn_tx_t *t = &s->tx[ti];
            int route, pb;
            if (t->payload_type == 8 || raw_path_byte(t->raw_hex, &route, &pb) < 0)
                continue;
            int hs = ((pb >> 6) & 3) + 1;
            if (hs < 2)
                continue;
            int n = msn_an__tx_hops(&hops, s, t);
            for (int i = 0; i < n; i++) {
                uint32_t l = hops.h[i].n;
                if ((l != 2 && l != 4 && l != 6) || hops.h[i].p == NULL)
                    continue;
                char low[8];
                for (uint32_t k = 0; k < l; k++)
                    low[k] = (char)tolower((unsigned char)hops.h[i].p[k]);
                int is_new;
                uint32_t e = msn_an__map_intern(&susp, low, l, &is_new);
                if (is_new) {
                    AN_RESERVE(susp_hs, susp_cap, (size_t)e + 1);
                    susp_hs[e] = (uint8_t)hs;
                }
            }
        }
        free(hops.h);
    }
    cap_t *caps = msn_xmalloc((s->n_nodes ? s->n_nodes : 1) * sizeof(*caps));
    uint32_t ncap = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *nd = &s->nodes[i];
        if (nd->public_key == NULL)
            continue;
        cap_t *cp = &caps[ncap++];
        cp->node = i;
        cp->max_hs = 1;
        cp->name = msn_an__s(nd->name);
        cp->key = nd->public_key;
        int conf = 0;
        if (info[i].has) {
            int mx = 1;
            for (int k = 1; k <= 4; k++)
                if (info[i].sizes_mask & (1u << (k - 1)))
                    mx = k;
            if (mx >= 2)
                conf = mx;
        }
        int64_t ae = msn_an__map_find(&adopt->nodes, nd->public_key, strlen(nd->public_key));
        int susp_max = 0;
        size_t kl = strlen(nd->public_key);
        for (size_t bl = 2; bl <= 6 && bl <= kl; bl += 2) {
            char low[8];
            for (size_t k = 0; k < bl; k++)
                low[k] = (char)tolower((unsigned char)nd->public_key[k]);
            int64_t se = msn_an__map_find(&susp, low, bl);
            if (se >= 0 && susp_hs[se] > susp_max)
                susp_max = susp_hs[se];
        }
        if (conf) {
            cp->status = 0;
            cp->max_hs = conf;
        } else if (ae >= 0 && adopt->bn[ae].hash_size >= 2) {
            cp->status = 0;
            cp->max_hs = adopt->bn[ae].hash_size;
        } else if (susp_max > 0) {
            cp->status = 1;
            cp->max_hs = susp_max;
        } else {
            cp->status = 2;
        }
        if (info[i].has && cp->max_hs == 1)
            for (int k = 1; k <= 4; k++)
                if (info[i].sizes_mask & (1u << (k - 1)) && k > cp->max_hs)
                    cp->max_hs = k;
    }
    msn_an__qsort(caps, ncap, sizeof(*caps), cap_cmp);
    static const char *const status_name[3] = {"confirmed", "suspected", "unknown"};
    static const char *const evidence[3] = {"advert", "path", ""};
    msn_buf_puts(out, "],\"multiByteCapability\":[");
    for (uint32_t i = 0; i < ncap; i++) {
        const msn_node_t *nd = &s->nodes[caps[i].node];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"pubkey\":");
        msn_an__str(out, nd->public_key);
        msn_buf_puts(out, ",\"name\":");
        msn_an__str(out, nd->name);
        msn_buf_puts(out, ",\"role\":");
        msn_an__str(out, nd->role);
        msn_buf_puts(out, ",\"status\":\"");
        msn_buf_puts(out, status_name[caps[i].status]);
        msn_buf_puts(out, "\",\"evidence\":\"");
        msn_buf_puts(out, evidence[caps[i].status]);
        msn_buf_puts(out, "\",\"maxHashSize\":");
        msn_buf_put_i64(out, caps[i].max_hs);
        msn_buf_puts(out, ",\"lastSeen\":");
        msn_an__str(out, nd->last_seen);
        msn_buf_putc(out, '}');
    }
    free(caps);
    free(info);
    free(susp_hs);
    msn_an__map_free(&susp);
    if (adopt == &gl)
        scan_free(&gl);

    /* multiByteNodes: size > 1, most packets first */
    rank_t *rk = msn_xmalloc((sc.nodes.n + sc.hops.n + 1) * sizeof(*rk));
    uint32_t nr = 0;
    for (uint32_t e = 0; e < sc.nodes.n; e++) {
        if (away[e])
            continue;
        if (sc.bn[e].hash_size > 1)
            rk[nr++] = (rank_t){e, sc.bn[e].packets, sc.nodes.keys[e], sc.nodes.klen[e]};
    }
    msn_an__qsort(rk, nr, sizeof(*rk), rank_cmp);
    msn_buf_puts(out, "],\"multiByteNodes\":[");
    for (uint32_t i = 0; i < nr; i++) {
        const bynode_t *b = &sc.bn[rk[i].idx];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"hashSize\":");
        msn_buf_put_i64(out, b->hash_size);
        msn_buf_puts(out, ",\"lastSeen\":");
        msn_an__str(out, b->last_seen);
        msn_buf_puts(out, ",\"name\":");
        msn_an__str(out, b->name);
        msn_buf_puts(out, ",\"packets\":");
        msn_buf_put_i64(out, b->packets);
        msn_buf_puts(out, ",\"pubkey\":");
        msn_an__strn(out, rk[i].key, rk[i].kn);
        msn_buf_puts(out, ",\"role\":");
        msn_an__str(out, b->role);
        msn_buf_putc(out, '}');
    }
    /* topHops: the 50 most frequent hop texts */
    for (uint32_t e = 0; e < sc.hops.n; e++)
        rk[e] = (rank_t){e, sc.hop_n[e], sc.hops.keys[e], sc.hops.klen[e]};
    msn_an__qsort(rk, sc.hops.n, sizeof(*rk), rank_cmp);
    msn_buf_puts(out, "],\"topHops\":[");
    for (uint32_t i = 0; i < sc.hops.n && i < 50; i++) {
        int32_t nd = sc.hop_node[rk[i].idx];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"count\":");
        msn_buf_put_i64(out, rk[i].count);
        msn_buf_puts(out, ",\"hex\":");
        msn_an__strn(out, rk[i].key, rk[i].kn);
        msn_buf_puts(out, ",\"name\":");
        if (nd < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[nd].name);
        msn_buf_puts(out, ",\"pubkey\":");
        if (nd < 0)
            msn_buf_puts(out, "null");
        else
            msn_an__str(out, s->nodes[nd].public_key);
        msn_buf_puts(out, ",\"size\":");
        msn_buf_put_i64(out, (int64_t)(rk[i].kn + 1) / 2);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "],\"total\":");
    msn_buf_put_i64(out, sc.total);
    msn_buf_putc(out, '}');

    free(rk);
    free(away);
    homes_free(&homes);
    scan_free(&sc);
    msn_an__pm_free(&pm);
    return 0;
}
