/*
 * pn_reach.c: a node's reach (CoreScope node_reach.go computeNodeReach).
 *
 * Reliable tokens: the node's 1-, 2- and 3-byte key prefixes (upper-case hex) that name
 * exactly one relay-capable node, itself. The reach index maps each reliable token of
 * every node to the observations whose path carries it (one pass over all observations
 * per full run); a node's rows in a window are its indexed observations with a timestamp
 * at or after now - days (at most 200000, as CoreScope caps its scan). For each
 * occurrence of a token in a row's path:
 *  - the hop before it resolves (unique relay prefix) to a node the target hears ("we
 *    hear"); when the token is the first hop of an ADVERT, the advert's originator;
 *  - the hop after it to a node that hears the target ("they hear"); when it is the last
 *    hop, the observer, which also becomes a direct observer (count, SNR);
 * a row with at least one occurrence counts as a relay observation.
 * Importance comes from the neighbour graph of the run: the node's resolved edges
 * (degree), its rank among the ends with edges (1 + those with a higher degree), and how
 * many ends have edges. Links are sorted bidirectional first, then by the weaker
 * direction, then by the total, then by key; direct observers by count, then key.
 *
 * Departure from CoreScope: the degree counts the run's graph edges, not the rows of the
 * persisted neighbor_edges table (built from the same observations).
 */
#include "pn_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shm/timeutil.h"

#define REACH_ROW_CAP 200000

typedef struct {
    int64_t we, they, obs_count, snr_n;
    double snr_sum;
    int in_we, in_they, is_obs;
} link_t;

/* The reliable tokens of a lowercase key (upper-case, sorted: shorter first). */
static int tokens_of(const an_pm_t *pm, const char *pk, char out[3][8])
{
    int n = 0;
    for (int l = 2; l <= 6; l += 2) {
        uint32_t first, cnt;
        if (msn_an__pm_candidates(pm, pk, (size_t)l, &first, &cnt) == 1 &&
            strcmp(pm->lkeys + pm->lkey_off[first], pk) == 0) {
            for (int i = 0; i < l; i++)
                out[n][i] = (char)((pk[i] >= 'a' && pk[i] <= 'f') ? pk[i] - 'a' + 'A' : pk[i]);
            out[n][l] = '\0';
            n++;
        }
    }
    return n;
}

static void degrees(msn_pernode_t *p, pn_reach_t *r);

pn_reach_t *msn_pn__reach_build(msn_pernode_t *p)
{
    const msn_store_t *s = p->s;
    msn_arena_t *a = p->c.arena;
    pn_reach_t *r = AN_NEW(&p->c, pn_reach_t);
    r->n_keys = s->n_keys;
    r->obs = AN_ARRAY(a, uint32_t *, s->n_keys);
    r->n_obs = AN_ARRAY(a, uint32_t, s->n_keys);
    r->cap_obs = AN_ARRAY(a, uint32_t, s->n_keys);
    degrees(p, r);
    an_map_t tok; /* upper-case token -> key id + 1 */
    msn_an__map_init(&tok, a, sizeof(int64_t));
    for (uint32_t k = 0; k < s->n_keys; k++) {
        char t[3][8];
        int nt = tokens_of(&p->pm, s->keys[k], t);
        for (int i = 0; i < nt; i++) {
            int is_new;
            uint32_t e = msn_an__map_intern(&tok, t[i], strlen(t[i]), &is_new);
            *(int64_t *)msn_an__map_val(&tok, e) = (int64_t)k + 1;
        }
    }
    if (tok.n == 0)
        return r;
    an_hops_t hops;
    msn_an__hops_init(&hops, &p->c);
    for (uint32_t oi = 0; oi < s->n_obs; oi++) {
        const msn_obs_t *o = &s->obs[oi];
        if (o->hops == 0 || msn_an__hops_parse(&hops, o->path_json) <= 0)
            continue;
        for (int h = 0; h < hops.n; h++) {
            char up[8];
            size_t n = hops.h[h].n;
            if (n < 2 || n > 6 || hops.h[h].p == NULL)
                continue;
            for (size_t i = 0; i < n; i++) {
                char c = hops.h[h].p[i];
                up[i] = (char)((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
            }
            int64_t e = msn_an__map_find(&tok, up, n);
            if (e < 0)
                continue;
            uint32_t k = (uint32_t)(*(int64_t *)msn_an__map_val(&tok, (uint32_t)e) - 1);
            if (r->n_obs[k] > 0 && r->obs[k][r->n_obs[k] - 1] == oi)
                continue;
            if (r->n_obs[k] == r->cap_obs[k]) {
                uint32_t nc = r->cap_obs[k] ? r->cap_obs[k] * 2 : 8;
                r->obs[k] = msn_arena_realloc(a, r->obs[k], (size_t)r->cap_obs[k] * sizeof(uint32_t),
                                              (size_t)nc * sizeof(uint32_t));
                r->cap_obs[k] = nc;
            }
            r->obs[k][r->n_obs[k]++] = oi;
        }
    }
    return r;
}

/* The node or observer a lowercase key names: name, role, GPS, first_seen. */
typedef struct {
    int found, gps;
    const char *name, *role, *first_seen;
    double lat, lon;
} info_t;

static info_t info_of(const msn_pernode_t *p, const char *k, size_t n)
{
    info_t in = {0, 0, "", "", "", 0, 0};
    int32_t node = msn_an__node_find(&p->c, k, n);
    if (node >= 0) {
        const msn_node_t *nd = &p->s->nodes[node];
        in.found = 1;
        in.name = nd->name ? nd->name : "";
        in.role = nd->role ? nd->role : "";
        in.first_seen = nd->first_seen ? nd->first_seen : "";
        in.gps = msn_an__node_gps(nd);
        in.lat = nd->lat;
        in.lon = nd->lon;
        return in;
    }
    for (uint32_t i = 0; i < p->s->n_observers; i++) {
        const char *id = p->s->observers[i].id;
        if (id && strlen(id) == n && strncasecmp(id, k, n) == 0) {
            in.found = 1;
            in.name = p->s->observers[i].name ? p->s->observers[i].name : "";
            in.role = "observer";
            return in;
        }
    }
    return in;
}

/* The unique relay a hop token names, lowercase, or NULL. */
static const char *resolve_tok(const msn_pernode_t *p, const char *tok, size_t n)
{
    uint32_t first, cnt;
    if (msn_an__pm_candidates(&p->pm, tok, n, &first, &cnt) != 1)
        return NULL;
    return p->pm.lkeys + p->pm.lkey_off[first];
}

static link_t *link_of(an_map_t *m, const char *k, size_t n)
{
    int is_new;
    uint32_t e = msn_an__map_intern(m, k, n, &is_new);
    return msn_an__map_val(m, e);
}

typedef struct {
    const char *k;
    const link_t *l;
} lref_t;

static int link_cmp(const void *a, const void *b)
{
    const lref_t *x = a, *y = b;
    int bx = x->l->we > 0 && x->l->they > 0, by = y->l->we > 0 && y->l->they > 0;
    if (bx != by)
        return bx ? -1 : 1;
    int64_t mx = x->l->we < x->l->they ? x->l->we : x->l->they, my = y->l->we < y->l->they ? y->l->we : y->l->they;
    if (mx != my)
        return mx > my ? -1 : 1;
    int64_t tx = x->l->we + x->l->they, ty = y->l->we + y->l->they;
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return strcmp(x->k, y->k);
}

static int obs_cmp(const void *a, const void *b)
{
    const lref_t *x = a, *y = b;
    if (x->l->obs_count != y->l->obs_count)
        return x->l->obs_count > y->l->obs_count ? -1 : 1;
    return strcmp(x->k, y->k);
}

static int desc_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x > y ? -1 : x < y;
}

/* Every graph end's degree (its live resolved edges), and the non-zero ones descending. */
static void degrees(msn_pernode_t *p, pn_reach_t *r)
{
    const pn_graph_t *g = p->g;
    if (g == NULL)
        return;
    r->deg = AN_ARRAY(p->c.arena, int64_t, g->n_ends_lists);
    r->deg_sorted = AN_ARRAY(p->c.arena, int64_t, g->n_ends_lists);
    for (size_t k = 0; k < g->n_ends_lists; k++) {
        for (uint32_t i = 0; i < g->ends_lists[k].n; i++) {
            const pn_edge_t *e = &g->e[g->ends_lists[k].e[i]];
            r->deg[k] += !e->dead && !e->ambiguous && e->b != NULL;
        }
        if (r->deg[k] > 0)
            r->deg_sorted[r->n_deg_sorted++] = r->deg[k];
    }
    msn_an__qsort(r->deg_sorted, r->n_deg_sorted, sizeof(int64_t), desc_cmp);
}

/* The degree of `pk`, its rank (1 + ends with a higher degree; 0 without edges), and how
 * many ends have edges. */
static void degree_rank(const msn_pernode_t *p, const char *pk, int64_t *deg, int64_t *rank, int64_t *total)
{
    const pn_reach_t *r = p->reach;
    *deg = *rank = 0;
    *total = (int64_t)r->n_deg_sorted;
    if (p->g == NULL || r->deg == NULL)
        return;
    int64_t e = msn_an__map_find(&p->g->ends, pk, strlen(pk));
    if (e < 0 || (size_t)e >= p->g->n_ends_lists || r->deg[e] == 0)
        return;
    *deg = r->deg[e];
    size_t lo = 0, hi = r->n_deg_sorted; /* the first index whose degree is <= mine */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->deg_sorted[mid] > *deg)
            lo = mid + 1;
        else
            hi = mid;
    }
    *rank = (int64_t)lo + 1;
}

int msn_pernode_reach(msn_pernode_t *p, uint32_t key, int days, msn_buf_t *out)
{
    const msn_store_t *s = p->s;
    msn_buf_reset(out);
    if (p->reach == NULL || days < 1)
        return 0;
    const char *pk = s->keys[key];
    info_t self = info_of(p, pk, 64);
    if (!self.found)
        return 0;
    msn_arena_t *a = msn_pn__tmp(p);
    char toks[3][8];
    int nt = tokens_of(&p->pm, pk, toks);
    int64_t now_s = p->c.now_ms / 1000, since = now_s - (int64_t)days * 86400;
    an_map_t links, obsm;
    msn_an__map_init(&links, a, sizeof(link_t));
    msn_an__map_init(&obsm, a, sizeof(link_t));
    int64_t relay = 0, rows = 0;
    an_hops_t hops;
    msn_an__hops_init(&hops, &p->c);
    hops.arena = a;
    uint32_t nobs = key < p->reach->n_keys ? p->reach->n_obs[key] : 0;
    for (uint32_t i = 0; i < nobs && rows < REACH_ROW_CAP; i++) {
        const msn_obs_t *o = &s->obs[p->reach->obs[key][i]];
        if (o->timestamp < since)
            continue;
        int n = msn_an__hops_parse(&hops, o->path_json);
        if (n <= 0)
            continue;
        rows++;
        const msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
        const msn_observer_t *ob = msn_pn__observer(p, o);
        char obsk[300] = "", from[65] = "";
        if (ob && ob->id) {
            size_t l = strlen(ob->id) < sizeof(obsk) - 1 ? strlen(ob->id) : sizeof(obsk) - 1;
            for (size_t c = 0; c < l; c++)
                obsk[c] = (char)((ob->id[c] >= 'A' && ob->id[c] <= 'Z') ? ob->id[c] - 'A' + 'a' : ob->id[c]);
            obsk[l] = '\0';
        }
        if (t && t->from_pubkey && strlen(t->from_pubkey) == 64)
            for (int c = 0; c < 64; c++)
                from[c] = (char)((t->from_pubkey[c] >= 'A' && t->from_pubkey[c] <= 'Z') ? t->from_pubkey[c] - 'A' + 'a'
                                                                                         : t->from_pubkey[c]);
        int advert = t && t->payload_type == 4;
        int hit = 0;
        for (int h = 0; h < n; h++) {
            const an_hop_t *hp = &hops.h[h];
            int ours = 0;
            for (int k = 0; k < nt && !ours; k++)
                ours = hp->p && hp->n == strlen(toks[k]) && strncasecmp(hp->p, toks[k], hp->n) == 0;
            if (!ours)
                continue;
            hit = 1;
            if (h > 0) {
                const char *r = resolve_tok(p, msn_an__hop_text(&hops.h[h - 1]), hops.h[h - 1].n);
                if (r && strcmp(r, pk) != 0)
                    link_of(&links, r, 64)->we++;
            } else if (advert && from[0] && strcmp(from, pk) != 0) {
                link_of(&links, from, 64)->we++;
            }
            if (h < n - 1) {
                const char *r = resolve_tok(p, msn_an__hop_text(&hops.h[h + 1]), hops.h[h + 1].n);
                if (r && strcmp(r, pk) != 0)
                    link_of(&links, r, 64)->they++;
            } else if (obsk[0] && strcmp(obsk, pk) != 0) {
                link_of(&links, obsk, strlen(obsk))->they++;
                link_t *d = link_of(&obsm, obsk, strlen(obsk));
                d->obs_count++;
                if (o->has_snr) {
                    d->snr_sum += o->snr;
                    d->snr_n++;
                }
            }
        }
        relay += hit;
    }
    lref_t *lr = AN_ARRAY(a, lref_t, links.n), *orf = AN_ARRAY(a, lref_t, obsm.n);
    int64_t bidir = 0;
    for (uint32_t i = 0; i < links.n; i++) {
        lr[i] = (lref_t){links.keys[i], msn_an__map_val(&links, i)};
        bidir += lr[i].l->we > 0 && lr[i].l->they > 0;
    }
    for (uint32_t i = 0; i < obsm.n; i++)
        orf[i] = (lref_t){obsm.keys[i], msn_an__map_val(&obsm, i)};
    msn_an__qsort(lr, links.n, sizeof(*lr), link_cmp);
    msn_an__qsort(orf, obsm.n, sizeof(*orf), obs_cmp);
    int64_t deg, rank, total;
    degree_rank(p, pk, &deg, &rank, &total);
    char since_s[32];
    msn_format_iso_s(since_s, since);
    msn_buf_puts(out, "{\"node\":{");
    msn_an__kstr(out, "pubkey", pk);
    msn_an__kstr(out, "name", self.name);
    msn_an__kstr(out, "role", self.role);
    msn_pn__kdbl_or_null(out, "lat", self.gps, self.lat);
    msn_pn__kdbl_or_null(out, "lon", self.gps, self.lon);
    msn_an__kstr(out, "first_seen", self.first_seen);
    msn_buf_putc(out, '}');
    msn_an__open(out, "window", '{');
    msn_an__ki64(out, "days", days);
    msn_an__kstr(out, "since", since_s);
    msn_buf_putc(out, '}');
    msn_an__open(out, "reliable_tokens", '[');
    for (int k = 0; k < nt; k++) {
        msn_an__sep(out);
        msn_an__str(out, toks[k]);
    }
    msn_buf_putc(out, ']');
    msn_an__open(out, "importance", '{');
    msn_an__ki64(out, "neighbor_degree", deg);
    msn_an__ki64(out, "degree_rank", rank);
    msn_an__ki64(out, "nodes_with_edges", total);
    msn_an__ki64(out, "relay_observations", relay);
    msn_an__ki64(out, "bidirectional_links", bidir);
    msn_an__ki64(out, "direct_observers", obsm.n);
    msn_buf_putc(out, '}');
    msn_an__open(out, "direct_observers", '[');
    for (uint32_t i = 0; i < obsm.n; i++) {
        info_t in = info_of(p, orf[i].k, strlen(orf[i].k));
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "pubkey", orf[i].k);
        msn_an__kstr(out, "name", in.name);
        msn_an__ki64(out, "count", orf[i].l->obs_count);
        msn_pn__kdbl_or_null(out, "avg_snr", orf[i].l->snr_n > 0,
                             orf[i].l->snr_n ? orf[i].l->snr_sum / (double)orf[i].l->snr_n : 0);
        msn_pn__kdbl_or_null(out, "lat", in.gps, in.lat);
        msn_pn__kdbl_or_null(out, "lon", in.gps, in.lon);
        msn_pn__kdbl_or_null(out, "distance_km", self.gps && in.gps,
                             msn_an__haversine_km(self.lat, self.lon, in.lat, in.lon));
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__open(out, "links", '[');
    for (uint32_t i = 0; i < links.n; i++) {
        info_t in = info_of(p, lr[i].k, strlen(lr[i].k));
        const link_t *l = lr[i].l;
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "pubkey", lr[i].k);
        msn_an__kstr(out, "name", in.name);
        msn_an__kstr(out, "role", in.role);
        msn_pn__kdbl_or_null(out, "lat", in.gps, in.lat);
        msn_pn__kdbl_or_null(out, "lon", in.gps, in.lon);
        msn_an__ki64(out, "we_hear", l->we);
        msn_an__ki64(out, "they_hear", l->they);
        msn_an__ki64(out, "bottleneck", l->we < l->they ? l->we : l->they);
        msn_an__kbool(out, "bidir", l->we > 0 && l->they > 0);
        msn_pn__kdbl_or_null(out, "distance_km", self.gps && in.gps,
                             msn_an__haversine_km(self.lat, self.lon, in.lat, in.lon));
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "]}");
    msn_pn__tmp_done(p);
    return 1;
}
