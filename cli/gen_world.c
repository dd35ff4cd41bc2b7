/*
 * gen_world.c: the simulated mesh of `meshsnap gen`: nodes placed in clusters over a
 * region (western Cascadia), each with an Ed25519 identity, a role, a name and a radio
 * range; the radio graph linking them; the observers; a flood tree per origin; and the
 * schedule of transmissions over the time window.
 *
 * Radio graph. Two nodes are linked when at least one relays (a repeater) and they are
 * within the geometric mean of their ranges; a repeater keeps its best few repeater links
 * and serves a bounded number of other nodes, and extra repeater links join the
 * components into one connected mesh. Every link is a pair that can hear each other.
 *
 * Keys. As mesh operators do, keys are re-rolled so that no two nodes that share a
 * neighbour have the same first key byte. Then any node adjacent to a given node is the
 * only one of its 1-byte prefix among that node's neighbours, which is what lets the
 * conservative resolver (§4.2) use adjacency without ever picking a wrong relay.
 *
 * Flood trees. A flood from origin o reaches every node by breadth-first search over
 * relays; depth[o][x] is the hop count of the first copy node x hears. The relay path to
 * x is recovered by walking to a neighbour one hop closer, chosen by a salted hash so that
 * each transmission can take one of several equally short routes.
 */
#include "gen_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/log.h"

double msn_gen__normal(gen_rng_t *r)
{
    double u1 = gen_unit(r), u2 = gen_unit(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

const char *msn_gen__role_name(int role)
{
    static const char *const names[] = {"repeater", "companion", "room", "sensor"};
    return role >= 0 && role < N_ROLES ? names[role] : "none";
}

/* ---- geography --------------------------------------------------------------------------- */

static const gen_cluster_t cluster_table[] = {
    {"SEA",
     47.6062,
     -122.3321,
     14,
     10,
     {"Capitol Hill", "Ballard", "Fremont", "Queen Anne", "Beacon Hill", "Kent"}},
    {"PDX",
     45.5152,
     -122.6784,
     13,
     8,
     {"Alberta", "Sellwood", "Gresham", "Beaverton", "St Johns", "Hawthorne"}},
    {"YVR",
     49.2827,
     -123.1207,
     12,
     6,
     {"Kitsilano", "Burnaby", "Surrey", "Richmond", "Mt Pleasant", "Coquitlam"}},
    {"PAE",
     47.9790,
     -122.2021,
     10,
     4,
     {"Everett", "Marysville", "Lynnwood", "Mukilteo", "Snohomish", "Lake Stevens"}},
    {"OLM", 47.0379, -122.9007, 9, 3, {"Olympia", "Lacey", "Tumwater", "Yelm", "Shelton", "Rochester"}},
    {"BLI", 48.7519, -122.4787, 8, 2.5, {"Bellingham", "Ferndale", "Lynden", "Fairhaven", "Blaine", "Sumas"}},
    {"SLE", 44.9429, -123.0351, 9, 2.5, {"Salem", "Keizer", "Silverton", "Woodburn", "Dallas", "Stayton"}},
    {"EUG",
     44.0521,
     -123.0868,
     10,
     3,
     {"Eugene", "Springfield", "Creswell", "Veneta", "Coburg", "Junction City"}},
    {"YYJ", 48.4284, -123.3656, 8, 2.5, {"Victoria", "Saanich", "Langford", "Sidney", "Esquimalt", "Sooke"}},
    {"TIW",
     47.2529,
     -122.4443,
     10,
     3.5,
     {"Tacoma", "Puyallup", "Lakewood", "Gig Harbor", "Federal Way", "Orting"}},
    {"BFI",
     47.5300,
     -122.0300,
     9,
     3,
     {"Issaquah", "Bellevue", "Redmond", "Renton", "Sammamish", "North Bend"}},
    {"KLS",
     46.1170,
     -122.9000,
     8,
     1.5,
     {"Longview", "Kelso", "Castle Rock", "Rainier", "Kalama", "Woodland"}},
    {"AST",
     46.1879,
     -123.8313,
     7,
     1,
     {"Astoria", "Warrenton", "Seaside", "Cannon Beach", "Ilwaco", "Gearhart"}},
    {"CVO", 44.5646, -123.2620, 7, 1.5, {"Corvallis", "Albany", "Philomath", "Lebanon", "Monmouth", "Adair"}},
};
#define N_CLUSTER_TABLE ((int)(sizeof(cluster_table) / sizeof(cluster_table[0])))

double msn_gen__dist_km(const gen_node_t *a, const gen_node_t *b)
{
    double lat0 = (a->lat + b->lat) * 0.5 * M_PI / 180.0;
    double dx = (b->lon - a->lon) * cos(lat0) * 111.32;
    double dy = (b->lat - a->lat) * 110.57;
    return sqrt(dx * dx + dy * dy);
}

static void offset_km(double lat, double lon, double dx_km, double dy_km, double *olat, double *olon)
{
    *olat = lat + dy_km / 110.57;
    *olon = lon + dx_km / (111.32 * cos(lat * M_PI / 180.0));
}

/* ---- names -------------------------------------------------------------------------------- */

static const char *const words[] = {"Ridge",   "Summit", "Harbor",  "Cedar",   "Alder",   "Fir",    "Raven",
                                    "Heron",   "Osprey", "Cascade", "Basalt",  "Juniper", "Tide",   "Granite",
                                    "Lookout", "Beacon", "Orca",    "Hemlock", "Spruce",  "Falcon", "Bluff"};
static const char *const first_names[] = {"Alex",   "Sam",   "Jordan", "Riley", "Casey", "Morgan", "Jamie",
                                          "Taylor", "Quinn", "Avery",  "Drew",  "Rowan", "Sage",   "Kai",
                                          "Robin",  "Eli",   "Noa",    "Mika",  "Jun",   "Ari",    "Lee"};
static const char *const emoji[] = {"\xF0\x9F\x8C\xB2", "\xE2\x9B\xB0\xEF\xB8\x8F", "\xF0\x9F\x93\xA1",
                                    "\xF0\x9F\x90\xBB",
                                    "\xF0\x9F\x8C\x8A"}; /* tree, mountain, dish, bear, wave */

#define PICK(r, arr) (arr[gen_below(r, (uint32_t)(sizeof(arr) / sizeof(arr[0])))])

static void callsign(gen_rng_t *r, char *out, size_t cap)
{
    static const char *const pre[] = {"K", "W", "N", "KD7", "KJ7", "KG7", "KF7", "VA7", "VE7", "AG7"};
    const char *p = PICK(r, pre);
    char suf[4];
    for (int i = 0; i < 3; i++)
        suf[i] = (char)('A' + gen_below(r, 26));
    suf[3] = '\0';
    if (strlen(p) == 1)
        snprintf(out, cap, "%s%d%s", p, (int)gen_below(r, 10), suf);
    else
        snprintf(out, cap, "%s%s", p, suf);
}

/* Cuts a name to the 32 bytes an advert carries, at a UTF-8 boundary, without a
 * trailing space. */
static void clip_name(char *s)
{
    size_t n = strlen(s);
    if (n > MSN_ADVERT_NAME_MAX) {
        n = MSN_ADVERT_NAME_MAX;
        while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)
            n--;
        s[n] = '\0';
    }
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

static void make_name_raw(gen_rng_t *r, const gen_cluster_t *c, int role, char *out, size_t cap);

static void make_name(gen_rng_t *r, const gen_cluster_t *c, int role, char *out, size_t cap)
{
    make_name_raw(r, c, role, out, cap);
    clip_name(out);
}

static void make_name_raw(gen_rng_t *r, const gen_cluster_t *c, int role, char *out, size_t cap)
{
    const char *place = c->place[gen_below(r, 6)];
    char cs[16];
    switch (role) {
    case ROLE_REPEATER:
        switch (gen_below(r, 5)) {
        case 0:
            snprintf(out, cap, "%s Rptr", place);
            break;
        case 1:
            snprintf(out, cap, "%s %s", place, PICK(r, words));
            break;
        case 2:
            callsign(r, cs, sizeof(cs));
            snprintf(out, cap, "%s-%s", cs, place);
            break;
        case 3:
            snprintf(out, cap, "%s %s %s", c->iata, PICK(r, words), PICK(r, emoji));
            break;
        default:
            snprintf(out, cap, "%s-%02d Repeater", PICK(r, words), (int)gen_below(r, 100));
            break;
        }
        break;
    case ROLE_ROOM:
        snprintf(out, cap, gen_below(r, 2) ? "%s BBS" : "%s Room", place);
        break;
    case ROLE_SENSOR:
        if (gen_below(r, 2))
            snprintf(out, cap, "%s WX", place);
        else
            snprintf(out, cap, "Sensor %04X", (unsigned)gen_below(r, 65536));
        break;
    default:
        switch (gen_below(r, 4)) {
        case 0:
            callsign(r, cs, sizeof(cs));
            snprintf(out, cap, "%s Mobile", cs);
            break;
        case 1:
            snprintf(out, cap, "%s %s", PICK(r, first_names), PICK(r, emoji));
            break;
        case 2:
            snprintf(out, cap, "%s-%s", PICK(r, first_names), c->iata);
            break;
        default:
            snprintf(out, cap, "%s T-Deck", PICK(r, first_names));
            break;
        }
        break;
    }
}

/* ---- links -------------------------------------------------------------------------------- */

typedef struct {
    uint16_t other;
    float q; /* distance / reach: lower is better */
} link_cand_t;

static int cmp_cand(const void *x, const void *y)
{
    const link_cand_t *a = x, *b = y;
    if (a->q != b->q)
        return a->q < b->q ? -1 : 1;
    return (int)a->other - (int)b->other;
}

/* An edge list being built: pairs (a < b), deduplicated at the end. */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} pairs_t;

static void pairs_add(pairs_t *p, uint16_t a, uint16_t b)
{
    if (a == b)
        return;
    if (a > b) {
        uint16_t t = a;
        a = b;
        b = t;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4096;
        p->v = msn_xrealloc(p->v, p->cap * sizeof(uint32_t));
    }
    p->v[p->n++] = (uint32_t)a << 16 | b;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int uf_find(int *parent, int x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

#define RR_KEEP 7    /* best repeater links each repeater asks for */
#define SERVE_MAX 10 /* non-relay nodes a repeater serves */

static void build_links(gen_world_t *w, gen_rng_t *r)
{
    int n = w->n;
    gen_node_t *nd = w->nodes;
    pairs_t pairs = {0};
    link_cand_t *cands = msn_xmalloc((size_t)n * sizeof(link_cand_t));
    int *served = msn_xcalloc((size_t)n, sizeof(int));

    /* repeater <-> repeater: each keeps its best RR_KEEP in reach */
    for (int u = 0; u < n; u++) {
        if (nd[u].role != ROLE_REPEATER)
            continue;
        int nc = 0;
        for (int v = 0; v < n; v++) {
            if (v == u || nd[v].role != ROLE_REPEATER)
                continue;
            double reach = sqrt((double)nd[u].range_km * nd[v].range_km);
            double d = msn_gen__dist_km(&nd[u], &nd[v]);
            if (d <= reach)
                cands[nc++] = (link_cand_t){(uint16_t)v, (float)(d / reach)};
        }
        qsort(cands, (size_t)nc, sizeof(link_cand_t), cmp_cand);
        for (int k = 0; k < nc && k < RR_KEEP; k++)
            pairs_add(&pairs, (uint16_t)u, cands[k].other);
    }

    /* everyone else: one to three repeaters in reach that still have capacity */
    uint16_t *order = msn_xmalloc((size_t)n * sizeof(uint16_t));
    for (int i = 0; i < n; i++)
        order[i] = (uint16_t)i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)gen_below(r, (uint32_t)i + 1);
        uint16_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int oi = 0; oi < n; oi++) {
        int u = order[oi];
        if (nd[u].role == ROLE_REPEATER)
            continue;
        int nc = 0;
        for (int v = 0; v < n; v++) {
            if (nd[v].role != ROLE_REPEATER)
                continue;
            double reach = sqrt((double)nd[u].range_km * nd[v].range_km);
            double d = msn_gen__dist_km(&nd[u], &nd[v]);
            cands[nc++] = (link_cand_t){(uint16_t)v, (float)(d / reach)};
        }
        qsort(cands, (size_t)nc, sizeof(link_cand_t), cmp_cand);
        int want = 1 + (gen_chance(r, 0.55) ? 1 : 0) + (gen_chance(r, 0.2) ? 1 : 0);
        int got = 0;
        for (int k = 0; k < nc && got < want && cands[k].q <= 1.0f; k++) {
            if (served[cands[k].other] >= SERVE_MAX)
                continue;
            served[cands[k].other]++;
            pairs_add(&pairs, (uint16_t)u, cands[k].other);
            got++;
        }
        if (got == 0 && nc > 0) {
            /* out of reach of every free repeater: the closest one with room, else the closest */
            int pick = cands[0].other;
            for (int k = 0; k < nc; k++)
                if (served[cands[k].other] < SERVE_MAX) {
                    pick = cands[k].other;
                    break;
                }
            served[pick]++;
            pairs_add(&pairs, (uint16_t)u, (uint16_t)pick);
        }
    }

    /* join the repeater components: repeatedly link the smallest component to its
     * closest repeater elsewhere */
    int *uf = msn_xmalloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++)
        uf[i] = i;
    for (size_t k = 0; k < pairs.n; k++) {
        int a = pairs.v[k] >> 16, b = pairs.v[k] & 0xFFFF;
        if (nd[a].role == ROLE_REPEATER && nd[b].role == ROLE_REPEATER)
            uf[uf_find(uf, a)] = uf_find(uf, b);
    }
    int *size = msn_xcalloc((size_t)n, sizeof(int));
    for (;;) {
        memset(size, 0, (size_t)n * sizeof(int));
        int ncomp = 0;
        for (int i = 0; i < n; i++)
            if (nd[i].role == ROLE_REPEATER && size[uf_find(uf, i)]++ == 0)
                ncomp++;
        if (ncomp <= 1)
            break;
        int small = -1;
        for (int i = 0; i < n; i++) {
            int root = uf_find(uf, i);
            if (nd[i].role == ROLE_REPEATER && root == i && (small < 0 || size[i] < size[small]))
                small = i;
        }
        double best = 1e18;
        int ba = -1, bb = -1;
        for (int a = 0; a < n; a++) {
            if (nd[a].role != ROLE_REPEATER || uf_find(uf, a) != small)
                continue;
            for (int b = 0; b < n; b++) {
                if (nd[b].role != ROLE_REPEATER || uf_find(uf, b) == small)
                    continue;
                double d = msn_gen__dist_km(&nd[a], &nd[b]);
                if (d < best) {
                    best = d;
                    ba = a;
                    bb = b;
                }
            }
        }
        pairs_add(&pairs, (uint16_t)ba, (uint16_t)bb);
        uf[uf_find(uf, ba)] = uf_find(uf, bb);
    }

    /* dedup and build the adjacency lists */
    qsort(pairs.v, pairs.n, sizeof(uint32_t), cmp_u32);
    size_t m = 0;
    for (size_t k = 0; k < pairs.n; k++)
        if (m == 0 || pairs.v[k] != pairs.v[m - 1])
            pairs.v[m++] = pairs.v[k];
    pairs.n = m;
    w->n_links = m;
    uint32_t *deg = msn_xcalloc((size_t)n, sizeof(uint32_t));
    for (size_t k = 0; k < m; k++) {
        deg[pairs.v[k] >> 16]++;
        deg[pairs.v[k] & 0xFFFF]++;
    }
    uint32_t off = 0;
    w->max_degree = 0;
    for (int i = 0; i < n; i++) {
        nd[i].adj_off = off;
        nd[i].adj_n = 0;
        off += deg[i];
        if ((int)deg[i] > w->max_degree)
            w->max_degree = (int)deg[i];
    }
    w->adj = msn_xmalloc(((size_t)off + 1) * sizeof(uint16_t));
    for (size_t k = 0; k < m; k++) {
        int a = pairs.v[k] >> 16, b = pairs.v[k] & 0xFFFF;
        w->adj[nd[a].adj_off + nd[a].adj_n++] = (uint16_t)b;
        w->adj[nd[b].adj_off + nd[b].adj_n++] = (uint16_t)a;
    }
    free(deg);
    free(size);
    free(uf);
    free(order);
    free(served);
    free(cands);
    free(pairs.v);
}

/* ---- keys --------------------------------------------------------------------------------- */

static int derive_key(gen_node_t *nd, gen_rng_t *r)
{
    for (int i = 0; i < 32; i += 8) {
        uint64_t v = gen_next(r);
        memcpy(nd->seed + i, &v, 8);
    }
    if (msn_ed25519_public(nd->seed, nd->pub) < 0)
        return -1;
    msn_hex_encode(nd->pub, 32, nd->hex, 0);
    return 0;
}

/* Re-rolls keys until no two nodes sharing a neighbour share a first key byte (as far as
 * 256 values allow). Returns 0 or -1. */
static int colour_keys(gen_world_t *w, gen_rng_t *r)
{
    uint8_t used[256];
    w->colour_conflicts = 0;
    for (int u = 0; u < w->n; u++) {
        gen_node_t *nu = &w->nodes[u];
        memset(used, 0, sizeof(used));
        int n_used = 0;
        for (uint32_t a = 0; a < nu->adj_n; a++) {
            const gen_node_t *x = &w->nodes[w->adj[nu->adj_off + a]];
            for (uint32_t b = 0; b < x->adj_n; b++) {
                int v = w->adj[x->adj_off + b];
                if (v != u && !used[w->nodes[v].pub[0]]) {
                    used[w->nodes[v].pub[0]] = 1;
                    n_used++;
                }
            }
        }
        if (!used[nu->pub[0]])
            continue;
        if (n_used >= 256) {
            w->colour_conflicts++;
            continue;
        }
        int tries = 0;
        do {
            if (derive_key(nu, r) < 0)
                return -1;
        } while (used[nu->pub[0]] && ++tries < 4000);
        if (used[nu->pub[0]])
            w->colour_conflicts++;
    }
    return 0;
}

/* ---- flood trees ---------------------------------------------------------------------------- */

typedef struct {
    gen_world_t *w;
    int from, to;
} tree_job_t;

typedef struct {
    float key;
    uint16_t obs;
} okey_t;

static int cmp_okey(const void *x, const void *y)
{
    const okey_t *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (int)a->obs - (int)b->obs;
}

static void *tree_worker(void *arg)
{
    tree_job_t *job = arg;
    gen_world_t *w = job->w;
    int n = w->n;
    uint16_t *queue = msn_xmalloc((size_t)n * sizeof(uint16_t));
    okey_t *keys = msn_xmalloc(((size_t)w->n_obs + 1) * sizeof(okey_t));
    for (int o = job->from; o < job->to; o++) {
        gen_tree_t *t = &w->trees[o];
        uint8_t *depth = t->depth;
        memset(depth, 0xFF, (size_t)n);
        int qh = 0, qt = 0;
        depth[o] = 0;
        queue[qt++] = (uint16_t)o;
        while (qh < qt) {
            int x = queue[qh++];
            if (depth[x] >= GEN_MAX_HOPS)
                continue;
            const gen_node_t *nx = &w->nodes[x];
            for (uint32_t k = 0; k < nx->adj_n; k++) {
                int y = w->adj[nx->adj_off + k];
                if (depth[y] != 0xFF)
                    continue;
                depth[y] = (uint8_t)(depth[x] + 1);
                if (w->nodes[y].role == ROLE_REPEATER)
                    queue[qt++] = (uint16_t)y;
            }
        }
        /* observers in the order they hear the flood (first copy), with some jitter */
        gen_rng_t r;
        gen_rng_seed(&r, w->p.seed, 0x7472, (uint64_t)o);
        int nk = 0;
        for (int ob = 0; ob < w->n_obs; ob++) {
            const gen_node_t *no = &w->nodes[w->obs[ob].node];
            int best = 0xFF;
            for (uint32_t k = 0; k < no->adj_n; k++) {
                int y = w->adj[no->adj_off + k];
                int dy = depth[y];
                if (dy == 0xFF || (y != o && w->nodes[y].role != ROLE_REPEATER))
                    continue;
                if (dy < best)
                    best = dy;
            }
            if (best == 0xFF)
                continue;
            keys[nk++] = (okey_t){(float)(best + 1.6 * gen_unit(&r)), (uint16_t)ob};
        }
        qsort(keys, (size_t)nk, sizeof(okey_t), cmp_okey);
        for (int k = 0; k < nk; k++)
            t->order[k] = keys[k].obs;
        t->n_order = (uint32_t)nk;
    }
    free(keys);
    free(queue);
    msn_codec_thread_cleanup();
    return NULL;
}

static void build_trees(gen_world_t *w)
{
    size_t per = (size_t)w->n + (size_t)w->n_obs * sizeof(uint16_t);
    w->tree_mem = msn_xmalloc(per * (size_t)w->n);
    w->trees = msn_xcalloc((size_t)w->n, sizeof(gen_tree_t));
    for (int o = 0; o < w->n; o++) {
        uint8_t *base = w->tree_mem + per * (size_t)o;
        w->trees[o].order = (uint16_t *)(void *)base;
        w->trees[o].depth = base + (size_t)w->n_obs * sizeof(uint16_t);
    }
    tree_job_t jobs[2] = {{w, 0, w->n / 2}, {w, w->n / 2, w->n}};
    pthread_t th;
    if (w->p.threads > 1 && pthread_create(&th, NULL, tree_worker, &jobs[1]) == 0) {
        tree_worker(&jobs[0]);
        pthread_join(th, NULL);
    } else {
        jobs[0].to = w->n;
        tree_worker(&jobs[0]);
    }
}

/* ---- schedule ------------------------------------------------------------------------------ */

/* Relative traffic at a UTC time: a daily rhythm in Pacific time (quiet before dawn, busy
 * in the evening) and somewhat more at weekends. */
static double rhythm(int64_t t)
{
    int64_t local = t - 8 * 3600;
    double h = (double)((local % 86400 + 86400) % 86400) / 3600.0;
    double day =
        1.0 + 0.75 * cos(2.0 * M_PI * (h - 19.0) / 24.0) + 0.25 * cos(4.0 * M_PI * (h - 13.0) / 24.0);
    int64_t dow = ((local / 86400) + 4) % 7; /* 1970-01-01 was a Thursday: 0 = Sunday */
    if (dow == 0 || dow == 6)
        day *= 1.15;
    return day < 0.12 ? 0.12 : day;
}

static const double kind_weight[N_KINDS] = {
    [K_ADVERT] = 13,  [K_CHAN] = 27, [K_CHAN_PRIV] = 7, [K_DM] = 12,      [K_ACK] = 10,    [K_REQ] = 8,
    [K_RESPONSE] = 8, [K_PATH] = 5,  [K_TRACE] = 3,     [K_ANON_REQ] = 4, [K_CONTROL] = 3,
};

static int build_schedule(gen_world_t *w, gen_rng_t *r, char *err, size_t errlen)
{
    long T = w->p.transmissions;
    int64_t span = (int64_t)(w->p.days * 86400.0);
    int64_t start = w->p.end - span;
    int64_t minutes = (span + 59) / 60;
    double *cdf = msn_xmalloc((size_t)(minutes + 1) * sizeof(double));
    cdf[0] = 0;
    for (int64_t m = 0; m < minutes; m++)
        cdf[m + 1] = cdf[m] + rhythm(start + m * 60 + 30);
    w->n_slots = T;
    w->slot_time = msn_xmalloc((size_t)T * sizeof(uint32_t));
    w->slot_kind = msn_xmalloc((size_t)T);
    w->slot_origin = msn_xmalloc((size_t)T * sizeof(uint16_t));
    int64_t m = 0;
    for (long i = 0; i < T; i++) {
        double u = ((double)i + gen_unit(r)) / (double)T * cdf[minutes];
        while (m < minutes - 1 && cdf[m + 1] < u)
            m++;
        double frac = (u - cdf[m]) / (cdf[m + 1] - cdf[m]);
        int64_t t = start + m * 60 + (int64_t)(frac * 60.0);
        if (t >= w->p.end)
            t = w->p.end - 1;
        w->slot_time[i] = (uint32_t)t;
    }
    free(cdf);

    /* kinds; every node adverts at least once */
    double total = 0;
    for (int k = 0; k < N_KINDS; k++)
        total += kind_weight[k];
    double p_adv = kind_weight[K_ADVERT] / total;
    if (p_adv * (double)T < 1.3 * w->n)
        p_adv = fmin(1.0, 1.3 * w->n / (double)T);
    long n_adv = 0;
    for (long i = 0; i < T; i++) {
        int kind;
        if (gen_unit(r) < p_adv) {
            kind = K_ADVERT;
        } else {
            double x = gen_unit(r) * (total - kind_weight[K_ADVERT]);
            for (kind = 0; kind < N_KINDS - 1; kind++) {
                if (kind == K_ADVERT)
                    continue;
                if (x < kind_weight[kind])
                    break;
                x -= kind_weight[kind];
            }
        }
        w->slot_kind[i] = (uint8_t)kind;
        n_adv += kind == K_ADVERT;
    }
    for (long i = 0; n_adv < w->n && i < T; i++) {
        long j = (long)((double)i * (double)T / (double)w->n) % T;
        if (w->slot_kind[j] != K_ADVERT) {
            w->slot_kind[j] = K_ADVERT;
            n_adv++;
        }
    }
    if (n_adv < w->n) {
        snprintf(err, errlen, "%ld transmissions cannot hold one advert per node (%d nodes)", T, w->n);
        return -1;
    }
    /* advert origins: every node once (in random order), then by role-weighted chance */
    uint16_t *perm = msn_xmalloc((size_t)w->n * sizeof(uint16_t));
    for (int i = 0; i < w->n; i++)
        perm[i] = (uint16_t)i;
    for (int i = w->n - 1; i > 0; i--) {
        int j = (int)gen_below(r, (uint32_t)i + 1);
        uint16_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    static const double role_adv[N_ROLES] = {3.0, 1.2, 2.0, 1.5};
    double *cum = msn_xmalloc((size_t)w->n * sizeof(double));
    double acc = 0;
    for (int i = 0; i < w->n; i++) {
        acc += role_adv[w->nodes[i].role];
        cum[i] = acc;
    }
    int next = 0;
    for (long i = 0; i < T; i++) {
        w->slot_origin[i] = GEN_NONE;
        if (w->slot_kind[i] != K_ADVERT)
            continue;
        if (next < w->n) {
            w->slot_origin[i] = perm[next++];
            continue;
        }
        double x = gen_unit(r) * acc;
        int lo = 0, hi = w->n - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cum[mid] <= x)
                lo = mid + 1;
            else
                hi = mid;
        }
        w->slot_origin[i] = (uint16_t)lo;
    }
    free(cum);
    free(perm);
    return 0;
}

/* ---- the whole world ----------------------------------------------------------------------- */

static const char *const hashtags[] = {"#test", "#wardriving", "#bot", "#emergency", "#seattle", "#portland"};

int msn_gen__world_build(gen_world_t *w, const msn_gen_params_t *p, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->p = *p;
    int n = p->nodes;
    gen_rng_t r;
    gen_rng_seed(&r, p->seed, 0x776f726c64, 0);

    /* clusters */
    w->n_clusters = (int)lround(sqrt((double)n) / 4.5);
    if (w->n_clusters < 2)
        w->n_clusters = 2;
    if (w->n_clusters > N_CLUSTER_TABLE)
        w->n_clusters = N_CLUSTER_TABLE;
    w->clusters = msn_xmalloc((size_t)w->n_clusters * sizeof(gen_cluster_t));
    memcpy(w->clusters, cluster_table, (size_t)w->n_clusters * sizeof(gen_cluster_t));
    double wsum = 0;
    for (int c = 0; c < w->n_clusters; c++)
        wsum += w->clusters[c].weight;

    /* nodes: place, role, range */
    w->n = n;
    w->nodes = msn_xcalloc((size_t)n, sizeof(gen_node_t));
    int n_rep_target = (int)lround(n * 0.58), n_room = (int)lround(n * 0.10),
        n_sensor = (int)lround(n * 0.05);
    if (n_rep_target < 2)
        n_rep_target = 2;
    for (int i = 0; i < n; i++) {
        gen_node_t *nd = &w->nodes[i];
        double x = gen_unit(&r) * wsum;
        int c = 0;
        while (c < w->n_clusters - 1 && x >= w->clusters[c].weight) {
            x -= w->clusters[c].weight;
            c++;
        }
        const gen_cluster_t *cl = &w->clusters[c];
        nd->cluster = (uint8_t)c;
        if (gen_chance(&r, 0.14)) {
            /* rural: somewhere between this cluster and its nearest neighbour cluster */
            int best = -1;
            double bd = 1e18;
            for (int k = 0; k < w->n_clusters; k++) {
                if (k == c)
                    continue;
                double dy = (w->clusters[k].lat - cl->lat) * 110.57;
                double dx = (w->clusters[k].lon - cl->lon) * 111.32 * cos(cl->lat * M_PI / 180);
                double d = dx * dx + dy * dy + gen_unit(&r) * 2500; /* not always the nearest */
                if (d < bd) {
                    bd = d;
                    best = k;
                }
            }
            double t = 0.1 + 0.8 * gen_unit(&r);
            double lat = cl->lat + (w->clusters[best].lat - cl->lat) * t;
            double lon = cl->lon + (w->clusters[best].lon - cl->lon) * t;
            offset_km(lat, lon, msn_gen__normal(&r) * 7, msn_gen__normal(&r) * 7, &nd->lat, &nd->lon);
        } else {
            double s = cl->sigma_km * (gen_chance(&r, 0.15) ? 2.2 : 1.0);
            offset_km(cl->lat, cl->lon, msn_gen__normal(&r) * s, msn_gen__normal(&r) * s, &nd->lat, &nd->lon);
        }
    }
    /* roles: a shuffled assignment with exact shares */
    {
        uint16_t *perm = msn_xmalloc((size_t)n * sizeof(uint16_t));
        for (int i = 0; i < n; i++)
            perm[i] = (uint16_t)i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)gen_below(&r, (uint32_t)i + 1);
            uint16_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int k = 0; k < n; k++) {
            int role = k < n_rep_target                       ? ROLE_REPEATER
                       : k < n_rep_target + n_room            ? ROLE_ROOM
                       : k < n_rep_target + n_room + n_sensor ? ROLE_SENSOR
                                                              : ROLE_COMPANION;
            w->nodes[perm[k]].role = (uint8_t)role;
        }
        free(perm);
    }
    for (int i = 0; i < n; i++) {
        gen_node_t *nd = &w->nodes[i];
        double med = nd->role == ROLE_REPEATER ? 11.0 : nd->role == ROLE_ROOM ? 6.0 : 3.0;
        double range = med * exp(0.4 * msn_gen__normal(&r));
        if (nd->role == ROLE_REPEATER && gen_chance(&r, 0.08))
            range *= 2.4; /* hilltop */
        nd->range_km = (float)fmin(fmax(range, 1.0), 90.0);
        double hs = gen_unit(&r);
        nd->hash_size = hs < 0.84 ? 1 : hs < 0.96 ? 2 : 3;
        double sk = gen_unit(&r);
        nd->clock_skew = sk < 0.93   ? (int32_t)(msn_gen__normal(&r) * 8)
                         : sk < 0.97 ? (int32_t)(msn_gen__normal(&r) * 5400)
                                     : -(int32_t)(86400 * (30 + gen_below(&r, 300)));
        nd->has_loc = gen_chance(&r, nd->role == ROLE_REPEATER ? 0.95
                                     : nd->role == ROLE_ROOM   ? 0.85
                                     : nd->role == ROLE_SENSOR ? 1.0
                                                               : 0.45);
        /* advertised position: 5 decimals, as most firmware sends */
        nd->lat_e6 = (int32_t)lround(nd->lat * 1e5) * 10;
        nd->lon_e6 = (int32_t)lround(nd->lon * 1e5) * 10;
        make_name(&r, &w->clusters[nd->cluster], nd->role, nd->name, sizeof(nd->name));
        nd->weight = exp(1.1 * msn_gen__normal(&r)); /* a few chat a lot */
        nd->battery_mv = (uint16_t)(3300 + gen_below(&r, 900));
        nd->temperature_raw = (int16_t)(-500 + (int)gen_below(&r, 3500));
        nd->observer = -1;
        if (derive_key(nd, &r) < 0) {
            snprintf(err, errlen, "Ed25519 key derivation failed");
            return -1;
        }
    }

    build_links(w, &r);
    if (colour_keys(w, &r) < 0) {
        snprintf(err, errlen, "Ed25519 key derivation failed");
        return -1;
    }

    /* observers: mostly repeaters, spread like the nodes */
    int m = p->observers < n ? p->observers : n;
    w->obs = msn_xcalloc((size_t)m + 1, sizeof(gen_observer_t));
    {
        static const char *const models[] = {"Heltec V3",   "RAK4631",     "Station G2",
                                             "Heltec T114", "Xiao S3 WIO", "LilyGo T3S3"};
        static const char *const fws[] = {"v1.7.4", "v1.8.0", "v1.8.1", "v1.9.0"};
        static const char *const clients[] = {"meshcoretomqtt/1.0.8.0-e52c5ed",
                                              "meshcoretomqtt/1.1.0.0-31aad7d",
                                              "meshcore-packet-capture/1.2.1-1bd909c", "pyMC_repeater/1.0.6"};
        static const char *const radios[] = {"910.525,62.5,7,5", "910.5250244,62.5,7,5"};
        int tries = 0;
        while (w->n_obs < m && tries < n * 50) {
            tries++;
            int i = (int)gen_below(&r, (uint32_t)n);
            gen_node_t *nd = &w->nodes[i];
            if (nd->observer >= 0)
                continue;
            double pr = nd->role == ROLE_REPEATER ? 1.0 : nd->role == ROLE_SENSOR ? 0.05 : 0.3;
            if (!gen_chance(&r, pr))
                continue;
            gen_observer_t *ob = &w->obs[w->n_obs];
            ob->node = (uint16_t)i;
            nd->observer = w->n_obs++;
            msn_hex_encode(nd->pub, 32, ob->id, 1);
            ob->model = PICK(&r, models);
            ob->firmware = PICK(&r, fws);
            ob->client_version = PICK(&r, clients);
            ob->radio = PICK(&r, radios);
            ob->battery_mv = gen_chance(&r, 0.4) ? 3600 + (int)gen_below(&r, 600) : 0;
            ob->uptime_secs = 3600 + (int64_t)gen_below(&r, 40 * 86400);
            ob->noise_floor = -118.0 + gen_unit(&r) * 16.0;
            ob->noise_floor = round(ob->noise_floor * 4) / 4;
            ob->lower_hex = gen_chance(&r, 0.2);
        }
    }
    if (w->n_obs == 0) {
        snprintf(err, errlen, "no observers");
        return -1;
    }
    /* observer-neighbour lists */
    {
        uint32_t total = 0;
        for (int i = 0; i < n; i++) {
            const gen_node_t *nd = &w->nodes[i];
            for (uint32_t k = 0; k < nd->adj_n; k++)
                total += w->nodes[w->adj[nd->adj_off + k]].observer >= 0;
        }
        w->oadj = msn_xmalloc(((size_t)total + 1) * sizeof(uint16_t));
        uint32_t off = 0;
        for (int i = 0; i < n; i++) {
            gen_node_t *nd = &w->nodes[i];
            nd->oadj_off = off;
            nd->oadj_n = 0;
            for (uint32_t k = 0; k < nd->adj_n; k++) {
                int ob = w->nodes[w->adj[nd->adj_off + k]].observer;
                if (ob >= 0)
                    w->oadj[off + nd->oadj_n++] = (uint16_t)ob;
            }
            off += nd->oadj_n;
        }
    }

    /* prefix uniqueness per hash size */
    {
        uint64_t *v = msn_xmalloc((size_t)n * sizeof(uint64_t));
        for (int hs = 1; hs <= 3; hs++) {
            w->uniq[hs] = msn_xcalloc((size_t)n, 1);
            for (int i = 0; i < n; i++) {
                uint64_t x = 0;
                for (int b = 0; b < hs; b++)
                    x = x << 8 | w->nodes[i].pub[b];
                v[i] = x << 32 | (uint64_t)i;
            }
            qsort(v, (size_t)n, sizeof(uint64_t), cmp_u64);
            for (int i = 0; i < n; i++) {
                int same_prev = i > 0 && (v[i - 1] >> 32) == (v[i] >> 32);
                int same_next = i + 1 < n && (v[i + 1] >> 32) == (v[i] >> 32);
                w->uniq[hs][v[i] & 0xFFFFFFFFu] = !same_prev && !same_next;
            }
        }
        free(v);
    }

    /* channels: the ingestor knows Public and the hashtags; private channels stay opaque */
    w->keys = msn_chankeys_new();
    msn_chankeys_add_builtin(w->keys);
    w->n_hashtags = (int)(sizeof(hashtags) / sizeof(hashtags[0]));
    for (int i = 0; i < w->n_hashtags; i++)
        if (msn_chankeys_add_hashtag(w->keys, hashtags[i], err, errlen) < 0)
            return -1;
    w->n_priv = 6;
    for (int i = 0; i < w->n_priv; i++)
        for (int b = 0; b < 16; b++)
            w->priv_keys[i][b] = (uint8_t)gen_next(&r);

    /* who chats (companions, some rooms), who answers requests (rooms, repeaters) */
    w->chat_ids = msn_xmalloc((size_t)n * sizeof(uint16_t));
    w->w_chat = msn_xmalloc((size_t)n * sizeof(double));
    w->rooms = msn_xmalloc((size_t)n * sizeof(uint16_t));
    w->repeaters = msn_xmalloc((size_t)n * sizeof(uint16_t));
    double acc = 0;
    for (int i = 0; i < n; i++) {
        const gen_node_t *nd = &w->nodes[i];
        if (nd->role == ROLE_COMPANION || nd->role == ROLE_ROOM) {
            acc += nd->weight * (nd->role == ROLE_ROOM ? 0.3 : 1.0);
            w->chat_ids[w->n_chat] = (uint16_t)i;
            w->w_chat[w->n_chat++] = acc;
        }
        if (nd->role == ROLE_ROOM || nd->role == ROLE_REPEATER)
            w->rooms[w->n_rooms++] = (uint16_t)i;
        if (nd->role == ROLE_REPEATER)
            w->repeaters[w->n_repeaters++] = (uint16_t)i;
    }
    if (w->n_chat == 0) {
        /* tiny worlds: let everyone chat */
        for (int i = 0; i < n; i++) {
            acc += 1.0;
            w->chat_ids[w->n_chat] = (uint16_t)i;
            w->w_chat[w->n_chat++] = acc;
        }
    }

    if (build_schedule(w, &r, err, errlen) < 0)
        return -1;
    build_trees(w);
    w->obs_scale = 1.0;
    return 0;
}

void msn_gen__world_free(gen_world_t *w)
{
    free(w->nodes);
    free(w->obs);
    free(w->clusters);
    free(w->adj);
    free(w->oadj);
    free(w->trees);
    free(w->tree_mem);
    for (int i = 0; i < 4; i++)
        free(w->uniq[i]);
    free(w->slot_time);
    free(w->slot_kind);
    free(w->slot_origin);
    msn_chankeys_free(w->keys);
    free(w->w_chat);
    free(w->chat_ids);
    free(w->rooms);
    free(w->repeaters);
    memset(w, 0, sizeof(*w));
}
