/*
 * gen_traffic.c: what happens to transmission i of `meshsnap gen` (its plan) and the real
 * packet bytes it becomes (its rendering).
 *
 * Plan. The slot's kind and time come from the schedule; origin, destination, route and
 * observers are drawn from a random stream keyed by (seed, i), so the plan is a pure
 * function of the world and i and can be recomputed in any thread.
 *
 *   flood   The origin's flood tree: an observer hears the copy retransmitted by one of
 *           its neighbours (or the origin itself, zero hops); that copy's path is the
 *           route from the origin's first relay up to that neighbour, one hop prefix per
 *           relay. Observers are taken in the order the flood reaches them, some missed,
 *           and a few report a second copy heard from another neighbour.
 *   direct  A fixed route of relays from the origin towards the destination. Each relay
 *           removes itself from the path before retransmitting (MeshCore's direct
 *           routing), so a copy's path is the rest of the route. Observers report copies
 *           whose last hop is a relay they can hear.
 *   trace   A TRACE along a route of repeaters, heard near its last repeater: path_json
 *           is the payload route, the header carries one SNR byte per completed hop.
 *   control A zero-hop DISCOVER request or response, heard by the origin's neighbours.
 *
 * SNR and RSSI fall with the distance between the observer and the node it heard.
 * Timestamps add a per-hop delay and an uplink jitter to the origin time.
 *
 * Render. The payload is built with the codec's encoders (adverts signed with the node's
 * Ed25519 seed, channel messages encrypted with the channel key), the first copy's packet
 * decoded with the ingestor's keys (Public and the hashtag channels) to get decoded_json,
 * hash, channel_hash, from_pubkey and scope_name exactly as CoreScope stores them. Other
 * copies differ only in their header path bytes.
 */
#include "gen_int.h"

#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/hash.h"
#include "shm/log.h"

#define STREAM_PLAN 0x706c616eull
#define STREAM_RENDER 0x726e6472ull

/* The region the simulated ingestor knows, for transport-scoped packets. */
static const char *const scope_regions[] = {"#pnw"};

/* ---- plan helpers -------------------------------------------------------------------------- */

static inline int transmits(const gen_world_t *w, int origin, int y)
{
    return y == origin || w->nodes[y].role == ROLE_REPEATER;
}

static int adjacent(const gen_world_t *w, int a, int b)
{
    const gen_node_t *na = &w->nodes[a];
    for (uint32_t k = 0; k < na->adj_n; k++)
        if (w->adj[na->adj_off + k] == b)
            return 1;
    return 0;
}

static int max_hops(int hash_size)
{
    int m = 64 / hash_size;
    return m > GEN_MAX_HOPS ? GEN_MAX_HOPS : m;
}

/* The relay one hop closer to the origin than y (y at depth >= 1), chosen among the
 * equally close ones by a salted hash: the flood's route variant. */
static int parent_of(const gen_world_t *w, int origin, uint64_t salt, int y)
{
    const uint8_t *depth = w->trees[origin].depth;
    int d = depth[y];
    if (d <= 1)
        return origin;
    const gen_node_t *ny = &w->nodes[y];
    int best = -1;
    uint64_t bh = 0;
    for (uint32_t k = 0; k < ny->adj_n; k++) {
        int z = w->adj[ny->adj_off + k];
        if (depth[z] != d - 1 || w->nodes[z].role != ROLE_REPEATER)
            continue;
        uint64_t h = msn_mix64(salt ^ ((uint64_t)z * 0x9e3779b97f4a7c15ull));
        if (best < 0 || h < bh) {
            best = z;
            bh = h;
        }
    }
    return best < 0 ? origin : best;
}

/* Starts a new route variant: forgets the memoized parents. */
static void memo_reset(const gen_world_t *w, gen_plan_t *pl)
{
    if (pl->par_n != w->n) {
        free(pl->par);
        free(pl->par_stamp);
        pl->par = msn_xmalloc((size_t)w->n * sizeof(uint16_t));
        pl->par_stamp = msn_xcalloc((size_t)w->n, sizeof(uint32_t));
        pl->par_n = w->n;
        pl->stamp = 0;
    }
    if (++pl->stamp == 0) {
        memset(pl->par_stamp, 0, (size_t)w->n * sizeof(uint32_t));
        pl->stamp = 1;
    }
}

/* parent_of, memoized for the current variant (memo_reset before each new salt). */
static int parent_memo(const gen_world_t *w, gen_plan_t *pl, uint64_t salt, int y)
{
    if (pl->par_stamp[y] == pl->stamp)
        return pl->par[y];
    int p = parent_of(w, pl->origin, salt, y);
    pl->par[y] = (uint16_t)p;
    pl->par_stamp[y] = pl->stamp;
    return p;
}

static void reserve_hops(gen_plan_t *pl, int extra)
{
    if (pl->n_hop_nodes + extra > pl->cap_hop_nodes) {
        while (pl->n_hop_nodes + extra > pl->cap_hop_nodes)
            pl->cap_hop_nodes = pl->cap_hop_nodes ? pl->cap_hop_nodes * 2 : 4096;
        pl->hop_nodes = msn_xrealloc(pl->hop_nodes, (size_t)pl->cap_hop_nodes * sizeof(uint16_t));
    }
}

/* Appends the relay path of a flood copy transmitted by y; returns its offset. */
static uint16_t flood_path(const gen_world_t *w, gen_plan_t *pl, uint64_t salt, int y, int *n_hops)
{
    int o = pl->origin;
    int d = y == o ? 0 : w->trees[o].depth[y];
    reserve_hops(pl, d);
    int off = pl->n_hop_nodes;
    int x = y;
    for (int j = d - 1; j >= 0; j--) {
        pl->hop_nodes[off + j] = (uint16_t)x;
        x = parent_memo(w, pl, salt, x);
    }
    pl->n_hop_nodes += d;
    *n_hops = d;
    return (uint16_t)(off > 0xFFFF ? 0xFFFF : off);
}

/* RSSI and SNR of a copy heard over d km. The SNR saturates softly near +13 dB, as LoRa
 * receivers report it, and bottoms out around the SF7 demodulation floor. */
static void radio(gen_rng_t *r, double d_km, double noise_floor, float *snr, float *rssi)
{
    double rs = -78.0 - 24.0 * log10(d_km + 0.05) + 4.0 * msn_gen__normal(r);
    if (rs > -35)
        rs = -35;
    if (rs < -128)
        rs = -128;
    double s = rs - noise_floor - 3.0 + 2.0 * msn_gen__normal(r);
    s = s > 0 ? 13.5 * tanh(s / 13.5) : 12.0 * tanh(s / 12.0);
    *rssi = (float)lround(rs);
    *snr = (float)(round(s * 4.0) / 4.0);
}

static int same_hops(const gen_world_t *w, const gen_plan_t *pl, const gen_copy_t *a, const gen_copy_t *b,
                     int hs)
{
    if (a->n_hops != b->n_hops)
        return 0;
    for (int j = 0; j < a->n_hops; j++) {
        const uint8_t *pa = w->nodes[pl->hop_nodes[a->hops_off + j]].pub;
        const uint8_t *pb = w->nodes[pl->hop_nodes[b->hops_off + j]].pub;
        if (memcmp(pa, pb, (size_t)hs) != 0)
            return 0;
    }
    return 1;
}

static gen_copy_t *new_copy(gen_plan_t *pl)
{
    if (pl->n_copies >= GEN_MAX_COPIES)
        return NULL;
    gen_copy_t *c = &pl->copy_store[pl->n_copies++];
    memset(c, 0, sizeof(*c));
    return c;
}

/* ---- the copies of each route kind ---------------------------------------------------------- */

static void flood_copies(const gen_world_t *w, gen_plan_t *pl, gen_rng_t *r, int target, double hop_delay)
{
    int o = pl->origin, hs = pl->hash_size, maxd = max_hops(hs);
    const gen_tree_t *t = &w->trees[o];
    uint64_t salt = gen_next(r);
    memo_reset(w, pl);
    int taken = 0;
    int opts[128];
    for (uint32_t k = 0; k < t->n_order && taken < target; k++) {
        int force = taken == 0 && k + 1 == t->n_order;
        if (!force && !gen_chance(r, 0.8))
            continue;
        int ob = t->order[k];
        int x = w->obs[ob].node;
        const gen_node_t *nx = &w->nodes[x];
        int no = 0;
        for (uint32_t a = 0; a < nx->adj_n && no < 128; a++) {
            int y = w->adj[nx->adj_off + a];
            if (y == x || !transmits(w, o, y) || t->depth[y] > maxd)
                continue;
            opts[no++] = y;
        }
        if (no == 0)
            continue;
        /* the first copy comes from the closest transmitter */
        int best = 0;
        for (int a = 1; a < no; a++)
            if (t->depth[opts[a]] < t->depth[opts[best]] ||
                (t->depth[opts[a]] == t->depth[opts[best]] &&
                 msn_mix64(salt ^ (uint64_t)opts[a]) < msn_mix64(salt ^ (uint64_t)opts[best])))
                best = a;
        int n_this = 1 + (no > 1 && gen_chance(r, 0.2)) + (no > 2 && gen_chance(r, 0.06));
        int first = pl->n_copies;
        for (int c = 0; c < n_this; c++) {
            int y = c == 0 ? opts[best] : opts[gen_below(r, (uint32_t)no)];
            if (c > 0 && y == opts[best])
                continue;
            gen_copy_t *cp = new_copy(pl);
            if (cp == NULL)
                return;
            int nh;
            cp->observer = (uint16_t)ob;
            cp->heard = (uint16_t)y;
            cp->hops_off = flood_path(w, pl, salt, y, &nh);
            cp->n_hops = (uint8_t)nh;
            double dt = nh * hop_delay + 1.2 * gen_unit(r) + (c > 0 ? 0.3 + 2.0 * gen_unit(r) : 0);
            cp->ts = pl->t0 + (uint32_t)dt;
            radio(r, msn_gen__dist_km(nx, &w->nodes[y]), w->obs[ob].noise_floor, &cp->snr, &cp->rssi);
            /* one observation per (observer, path): drop a copy whose path bytes repeat */
            for (int e = first; e < pl->n_copies - 1; e++)
                if (same_hops(w, pl, &pl->copy_store[e], cp, hs)) {
                    pl->n_copies--;
                    pl->n_hop_nodes -= nh;
                    break;
                }
        }
        taken++;
    }
}

/* Fills pl->route with the relays from the origin towards dest (dest excluded). Returns 0,
 * or -1 when dest cannot be reached within the hop limit. */
static int direct_route(const gen_world_t *w, gen_plan_t *pl, uint64_t salt)
{
    int o = pl->origin, dest = pl->dest;
    const uint8_t *depth = w->trees[o].depth;
    pl->route_len = 0;
    if (adjacent(w, o, dest))
        return 0;
    int last = -1;
    const gen_node_t *nd = &w->nodes[dest];
    for (uint32_t k = 0; k < nd->adj_n; k++) {
        int y = w->adj[nd->adj_off + k];
        if (w->nodes[y].role != ROLE_REPEATER || y == o || depth[y] == 0xFF)
            continue;
        if (last < 0 || depth[y] < depth[last])
            last = y;
    }
    if (last < 0 || depth[last] > max_hops(pl->hash_size) || depth[last] > 24)
        return -1;
    int d = depth[last], x = last;
    for (int j = d; j >= 1; j--) {
        pl->route[j] = (uint16_t)x;
        x = parent_of(w, o, salt, x);
    }
    pl->route_len = d;
    return 0;
}

typedef struct {
    uint16_t ob;
    uint8_t leg;
} leg_cand_t;

static void direct_copies(const gen_world_t *w, gen_plan_t *pl, gen_rng_t *r, int target, double hop_delay)
{
    int k = pl->route_len, o = pl->origin;
    leg_cand_t cands[1024];
    int nc = 0;
    for (int j = 0; j <= k; j++) {
        int tj = j == 0 ? o : pl->route[j];
        const gen_node_t *nt = &w->nodes[tj];
        for (uint32_t a = 0; a < nt->oadj_n && nc < 1024; a++) {
            int ob = w->oadj[nt->oadj_off + a];
            int x = w->obs[ob].node;
            if (x == tj)
                continue;
            if (j < k && x != pl->route[k] && !adjacent(w, x, pl->route[k]))
                continue;
            cands[nc++] = (leg_cand_t){(uint16_t)ob, (uint8_t)j};
        }
    }
    /* shuffle, then take up to target, at most two legs per observer */
    for (int a = nc - 1; a > 0; a--) {
        int b = (int)gen_below(r, (uint32_t)a + 1);
        leg_cand_t tmp = cands[a];
        cands[a] = cands[b];
        cands[b] = tmp;
    }
    int taken = 0;
    for (int a = 0; a < nc && taken < target; a++) {
        int per = 0;
        for (int e = 0; e < pl->n_copies; e++)
            per += pl->copy_store[e].observer == cands[a].ob;
        if (per >= 2)
            continue;
        gen_copy_t *cp = new_copy(pl);
        if (cp == NULL)
            return;
        int j = cands[a].leg;
        int tj = j == 0 ? o : pl->route[j];
        int nh = k - j;
        reserve_hops(pl, nh);
        cp->observer = cands[a].ob;
        cp->heard = (uint16_t)tj;
        cp->leg = (uint8_t)j;
        cp->hops_off = (uint16_t)pl->n_hop_nodes;
        for (int h = 0; h < nh; h++)
            pl->hop_nodes[pl->n_hop_nodes++] = pl->route[j + 1 + h];
        cp->n_hops = (uint8_t)nh;
        cp->ts = pl->t0 + (uint32_t)(j * hop_delay + 1.2 * gen_unit(r));
        radio(r, msn_gen__dist_km(&w->nodes[w->obs[cands[a].ob].node], &w->nodes[tj]),
              w->obs[cands[a].ob].noise_floor, &cp->snr, &cp->rssi);
        if (per == 1) {
            /* the second leg of the same observer: its path must differ */
            for (int e = 0; e < pl->n_copies - 1; e++)
                if (pl->copy_store[e].observer == cp->observer &&
                    same_hops(w, pl, &pl->copy_store[e], cp, pl->hash_size)) {
                    pl->n_copies--;
                    pl->n_hop_nodes -= nh;
                    break;
                }
        } else {
            taken++;
        }
    }
}

static int trace_plan(const gen_world_t *w, gen_plan_t *pl, gen_rng_t *r, int target, double hop_delay)
{
    int o = pl->origin;
    const uint8_t *depth = w->trees[o].depth;
    int last = -1;
    for (int tries = 0; tries < 40 && last < 0; tries++) {
        int y = w->repeaters[gen_below(r, (uint32_t)w->n_repeaters)];
        if (y != o && depth[y] != 0xFF && depth[y] >= 1 && depth[y] <= 10 && w->nodes[y].oadj_n > 0)
            last = y;
    }
    if (last < 0)
        return -1;
    uint64_t salt = gen_next(r);
    int d = depth[last], x = last;
    for (int j = d; j >= 1; j--) {
        pl->route[j] = (uint16_t)x;
        x = parent_of(w, o, salt, x);
    }
    pl->route_len = d;
    reserve_hops(pl, d);
    uint16_t off = (uint16_t)pl->n_hop_nodes;
    for (int j = 1; j <= d; j++)
        pl->hop_nodes[pl->n_hop_nodes++] = pl->route[j];
    const gen_node_t *nl = &w->nodes[last];
    int taken = 0;
    for (uint32_t a = 0; a < nl->oadj_n && taken < target; a++) {
        int ob = w->oadj[nl->oadj_off + a];
        gen_copy_t *cp = new_copy(pl);
        if (cp == NULL)
            break;
        cp->observer = (uint16_t)ob;
        cp->heard = (uint16_t)last;
        cp->leg = (uint8_t)d;
        cp->hops_off = off;
        cp->n_hops = (uint8_t)d;
        cp->ts = pl->t0 + (uint32_t)(d * hop_delay + 1.2 * gen_unit(r));
        radio(r, msn_gen__dist_km(&w->nodes[w->obs[ob].node], nl), w->obs[ob].noise_floor, &cp->snr,
              &cp->rssi);
        taken++;
    }
    return taken > 0 ? 0 : -1;
}

static void zero_hop_copies(const gen_world_t *w, gen_plan_t *pl, gen_rng_t *r, int target)
{
    const gen_node_t *no = &w->nodes[pl->origin];
    int taken = 0;
    for (uint32_t a = 0; a < no->oadj_n && taken < target; a++) {
        int ob = w->oadj[no->oadj_off + a];
        gen_copy_t *cp = new_copy(pl);
        if (cp == NULL)
            return;
        cp->observer = (uint16_t)ob;
        cp->heard = pl->origin;
        cp->hops_off = (uint16_t)pl->n_hop_nodes;
        cp->ts = pl->t0 + (uint32_t)(1.2 * gen_unit(r));
        radio(r, msn_gen__dist_km(&w->nodes[w->obs[ob].node], no), w->obs[ob].noise_floor, &cp->snr,
              &cp->rssi);
        taken++;
    }
}

/* ---- choosing who talks -------------------------------------------------------------------- */

static int pick_chat(const gen_world_t *w, gen_rng_t *r)
{
    double x = gen_unit(r) * w->w_chat[w->n_chat - 1];
    int lo = 0, hi = w->n_chat - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (w->w_chat[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return w->chat_ids[lo];
}

/* A partner for origin from list (or the chat population when list is NULL), preferably
 * in the same cluster. */
static int pick_partner(const gen_world_t *w, gen_rng_t *r, int origin, const uint16_t *list, int n)
{
    int any = -1;
    for (int tries = 0; tries < 8; tries++) {
        int c = list ? list[gen_below(r, (uint32_t)n)] : pick_chat(w, r);
        if (c == origin)
            continue;
        if (w->nodes[c].cluster == w->nodes[origin].cluster)
            return c;
        if (any < 0)
            any = c;
    }
    if (any >= 0)
        return any;
    return (origin + 1) % w->n;
}

static int copies_target(const gen_world_t *w, gen_rng_t *r, double base)
{
    double k = w->obs_scale * base * exp(0.55 * msn_gen__normal(r) - 0.15);
    long v = lround(k);
    if (v < 1)
        v = 1;
    if (v > GEN_MAX_COPIES / 3)
        v = GEN_MAX_COPIES / 3;
    return (int)v;
}

static int cmp_copy_ts(const void *x, const void *y)
{
    const gen_copy_t *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    /* stable on generation order: hops_off grows with generation, observers break ties */
    if (a->hops_off != b->hops_off)
        return a->hops_off < b->hops_off ? -1 : 1;
    if (a->observer != b->observer)
        return a->observer < b->observer ? -1 : 1;
    return a->leg < b->leg ? -1 : a->leg > b->leg;
}

/* ---- the plan ------------------------------------------------------------------------------- */

void msn_gen__plan_init(gen_plan_t *pl)
{
    memset(pl, 0, sizeof(*pl));
}

void msn_gen__plan_free(gen_plan_t *pl)
{
    free(pl->hop_nodes);
    free(pl->par);
    free(pl->par_stamp);
    pl->hop_nodes = NULL;
    pl->par = NULL;
    pl->par_stamp = NULL;
    pl->par_n = 0;
}

static const int kind_ptype[N_KINDS] = {
    [K_ADVERT] = MSN_PT_ADVERT,     [K_CHAN] = MSN_PT_GRP_TXT,    [K_CHAN_PRIV] = MSN_PT_GRP_TXT,
    [K_DM] = MSN_PT_TXT_MSG,        [K_ACK] = MSN_PT_ACK,         [K_REQ] = MSN_PT_REQ,
    [K_RESPONSE] = MSN_PT_RESPONSE, [K_PATH] = MSN_PT_PATH,       [K_TRACE] = MSN_PT_TRACE,
    [K_ANON_REQ] = MSN_PT_ANON_REQ, [K_CONTROL] = MSN_PT_CONTROL,
};

/* Probability that a kind is sent flood (else direct). */
static const double kind_flood[N_KINDS] = {
    [K_ADVERT] = 1.0, [K_CHAN] = 1.0,      [K_CHAN_PRIV] = 1.0, [K_DM] = 0.4,
    [K_ACK] = 0.45,   [K_REQ] = 0.3,       [K_RESPONSE] = 0.2,  [K_PATH] = 1.0,
    [K_TRACE] = 0.0,  [K_ANON_REQ] = 0.75, [K_CONTROL] = 0.0,
};

void msn_gen__plan(const gen_world_t *w, long i, gen_plan_t *pl)
{
    gen_rng_t r;
    gen_rng_seed(&r, w->p.seed, STREAM_PLAN, (uint64_t)i);
    pl->index = i;
    pl->kind = w->slot_kind[i];
    pl->payload_type = kind_ptype[pl->kind];
    pl->t0 = w->slot_time[i];
    double hop_delay = 0.6 + 0.9 * gen_unit(&r);

    for (int attempt = 0; attempt < 12; attempt++) {
        pl->n_copies = 0;
        pl->n_hop_nodes = 0;
        pl->route_len = 0;
        pl->transport = 0;
        pl->dest = GEN_NONE;
        pl->trace_hop_size = 1;
        int kind = pl->kind;
        int o;
        switch (kind) {
        case K_ADVERT:
            o = w->slot_origin[i];
            break;
        case K_RESPONSE:
            o = w->rooms[gen_below(&r, (uint32_t)w->n_rooms)];
            break;
        case K_TRACE:
            o = gen_chance(&r, 0.5) ? w->repeaters[gen_below(&r, (uint32_t)w->n_repeaters)]
                                    : pick_chat(w, &r);
            break;
        case K_CONTROL:
            o = (int)gen_below(&r, (uint32_t)w->n);
            break;
        default:
            o = pick_chat(w, &r);
            break;
        }
        pl->origin = (uint16_t)o;
        switch (kind) {
        case K_DM:
        case K_ACK:
        case K_PATH:
            pl->dest = (uint16_t)pick_partner(w, &r, o, NULL, 0);
            break;
        case K_REQ:
        case K_ANON_REQ:
            pl->dest = (uint16_t)pick_partner(w, &r, o, w->rooms, w->n_rooms);
            break;
        case K_RESPONSE:
            pl->dest = (uint16_t)pick_partner(w, &r, o, NULL, 0);
            break;
        default:
            break;
        }
        pl->hash_size = w->nodes[o].hash_size;
        int flood = gen_chance(&r, kind_flood[kind]);
        if (attempt >= 8 && kind != K_TRACE && kind != K_CONTROL)
            flood = 1; /* no direct route found: send it flood */
        if (kind == K_TRACE) {
            pl->route_type = MSN_ROUTE_DIRECT;
            pl->hash_size = 1;
            pl->trace_hop_size = gen_chance(&r, 0.85) ? 1 : 2;
            if (trace_plan(w, pl, &r, copies_target(w, &r, 0.2), hop_delay) < 0)
                continue;
        } else if (kind == K_CONTROL) {
            pl->route_type = MSN_ROUTE_DIRECT;
            zero_hop_copies(w, pl, &r, copies_target(w, &r, 0.12));
        } else if (flood) {
            pl->route_type = MSN_ROUTE_FLOOD;
            if (kind != K_ADVERT && gen_chance(&r, 0.03)) {
                pl->route_type = MSN_ROUTE_TRANSPORT_FLOOD;
                pl->transport = gen_chance(&r, 0.7) ? 1 : 2;
            }
            flood_copies(w, pl, &r, copies_target(w, &r, 1.0), hop_delay);
        } else {
            pl->route_type = MSN_ROUTE_DIRECT;
            if (gen_chance(&r, 0.02)) {
                pl->route_type = MSN_ROUTE_TRANSPORT_DIRECT;
                pl->transport = gen_chance(&r, 0.7) ? 1 : 2;
            }
            if (direct_route(w, pl, gen_next(&r)) < 0)
                continue;
            direct_copies(w, pl, &r, copies_target(w, &r, 0.18), hop_delay);
        }
        if (pl->n_copies > 0)
            break;
    }
    qsort(pl->copy_store, (size_t)pl->n_copies, sizeof(gen_copy_t), cmp_copy_ts);
}

/* ---- rendering -------------------------------------------------------------------------------- */

struct gen_renderer {
    msn_chankeys_t *keys;
    msn_decode_opts_t opts;
};

gen_renderer_t *msn_gen__renderer_new(const gen_world_t *w)
{
    gen_renderer_t *r = msn_xcalloc(1, sizeof(*r));
    r->keys = msn_chankeys_new();
    char err[128];
    for (int i = 0; i < msn_chankeys_count(w->keys); i++)
        msn_chankeys_add(r->keys, msn_chankeys_name(w->keys, i), msn_chankeys_key(w->keys, i), err,
                         sizeof(err));
    r->opts.keys = r->keys;
    r->opts.verify_signatures = 0;
    return r;
}

void msn_gen__renderer_free(gen_renderer_t *r)
{
    if (r == NULL)
        return;
    msn_chankeys_free(r->keys);
    free(r);
}

static void rand_bytes(gen_rng_t *r, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = gen_next(r);
        size_t k = n - i < 8 ? n - i : 8;
        memcpy(out + i, &v, k);
    }
}

static const char *const msg_public[] = {
    "Good morning mesh!",          "Hello from %s",
    "Anyone copy near %s?",        "Evening all",
    "Testing a new antenna in %s", "Heading to %s, will check the repeater",
    "Is the %s repeater up?",      "Thanks for the relay!",
    "Quiet night on the mesh",     "Copy you loud and clear",
    "New node online in %s",       "Who else is on from %s?",
    "Power is back in %s",         "Nice path today, 5 hops to %s",
};
static const char *const msg_test[] = {"test", "test %s", "ping", "test 123", "radio check from %s"};
static const char *const msg_bot[] = {"!ping", "!weather %s", "!path", "!help", "!hops"};
static const char *const msg_emerg[] = {"Net check-in from %s, all ok", "Road closed near %s",
                                        "Power outage reported in %s", "Net closes in 10 minutes"};
static const char *const msg_city[] = {"Anyone at the meetup in %s?", "Traffic is bad around %s",
                                       "Nice sunset over %s", "Coffee in %s this weekend?",
                                       "Ferry running late"};
static const char *const msg_priv[] = {"see you at 7", "bring the spare battery",        "ok",
                                       "on my way",    "the code is in the usual place", "meet at %s"};

#define NMSG(a) ((uint32_t)(sizeof(a) / sizeof(a[0])))

/* Copies tmpl to out with its "%s" (if any) replaced by arg. */
static void subst(char *out, size_t cap, const char *tmpl, const char *arg)
{
    const char *at = strstr(tmpl, "%s");
    if (at == NULL)
        snprintf(out, cap, "%s", tmpl);
    else
        snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, arg, at + 2);
}

/* The text of a channel message from node o on channel c (0 Public, 1.. hashtags). */
static void chan_text(const gen_world_t *w, gen_rng_t *r, int o, const char *chan, char *out, size_t cap)
{
    const gen_node_t *nd = &w->nodes[o];
    const char *place = w->clusters[nd->cluster].place[gen_below(r, 6)];
    char msg[128];
    const char *fmt;
    if (chan == NULL)
        fmt = msg_priv[gen_below(r, NMSG(msg_priv))];
    else if (strcmp(chan, "#wardriving") == 0) {
        snprintf(msg, sizeof(msg), "@[MapperBot] %.5f, %.5f [%.1fw]", nd->lat + msn_gen__normal(r) * 0.01,
                 nd->lon + msn_gen__normal(r) * 0.01, gen_chance(r, 0.7) ? 0.3 : 1.0);
        fmt = NULL;
    } else if (strcmp(chan, "#test") == 0)
        fmt = msg_test[gen_below(r, NMSG(msg_test))];
    else if (strcmp(chan, "#bot") == 0)
        fmt = msg_bot[gen_below(r, NMSG(msg_bot))];
    else if (strcmp(chan, "#emergency") == 0)
        fmt = msg_emerg[gen_below(r, NMSG(msg_emerg))];
    else if (chan[0] == '#')
        fmt = msg_city[gen_below(r, NMSG(msg_city))];
    else
        fmt = msg_public[gen_below(r, NMSG(msg_public))];
    if (fmt != NULL)
        subst(msg, sizeof(msg), fmt, place);
    snprintf(out, cap, "%s: %s", nd->name, msg);
}

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Builds the payload of pl into out->payload; attempt counts the renders of pl whose hash
 * was taken already. Returns 0 or -1. */
static int build_payload(const gen_world_t *w, const gen_plan_t *pl, gen_rng_t *r, int attempt,
                         gen_render_t *out)
{
    const gen_node_t *on = &w->nodes[pl->origin];
    const gen_node_t *dn = pl->dest != GEN_NONE ? &w->nodes[pl->dest] : on;
    uint8_t *p = out->payload;
    size_t cap = sizeof(out->payload);
    uint8_t buf[MSN_MAX_PAYLOAD], mac[2];
    int n = -1;
    rand_bytes(r, mac, 2);
    switch (pl->kind) {
    case K_ADVERT: {
        msn_appdata_t a = {0};
        a.type = on->role == ROLE_REPEATER ? 2 : on->role == ROLE_ROOM ? 3 : on->role == ROLE_SENSOR ? 4 : 1;
        a.has_location = on->has_loc;
        a.lat_e6 = on->lat_e6;
        a.lon_e6 = on->lon_e6;
        a.name = on->name;
        if (on->role == ROLE_SENSOR) {
            a.has_telemetry = 1;
            a.battery_mv = on->battery_mv;
            a.temperature_raw = on->temperature_raw;
        }
        int an = msn_encode_appdata(&a, buf, sizeof(buf));
        if (an < 0)
            return -1;
        /* an advert draws nothing at random: one whose hash is taken (the node advertised
           in the same second) is sent a second later per attempt */
        int64_t ts = (int64_t)pl->t0 + on->clock_skew + attempt;
        if (ts < 0)
            ts = 0;
        n = msn_encode_advert(on->seed, (uint32_t)ts, buf, (size_t)an, p, cap);
        break;
    }
    case K_CHAN:
    case K_CHAN_PRIV: {
        char text[200];
        const uint8_t *key;
        if (pl->kind == K_CHAN) {
            /* Public most of the time, the hashtags in decreasing popularity */
            int nk = msn_chankeys_count(w->keys);
            int c = gen_chance(r, 0.55) ? 0 : 1 + (int)(gen_below(r, (uint32_t)(nk - 1)) * gen_unit(r));
            if (c >= nk)
                c = nk - 1;
            key = msn_chankeys_key(w->keys, c);
            chan_text(w, r, pl->origin, msn_chankeys_name(w->keys, c), text, sizeof(text));
        } else {
            key = w->priv_keys[gen_below(r, (uint32_t)w->n_priv)];
            chan_text(w, r, pl->origin, NULL, text, sizeof(text));
        }
        int64_t ts = (int64_t)pl->t0 + on->clock_skew;
        int pn = msn_encode_grp_txt_plain((uint32_t)(ts < 0 ? 0 : ts), 0, text, buf, sizeof(buf));
        if (pn < 0)
            return -1;
        n = msn_encode_group(key, buf, (size_t)pn, p, cap);
        break;
    }
    case K_DM:
    case K_REQ:
    case K_RESPONSE:
    case K_PATH: {
        size_t dl = pl->kind == K_DM    ? 16 * (1 + gen_below(r, 5))
                    : pl->kind == K_REQ ? 16 * (1 + gen_below(r, 2))
                                        : 16 * (1 + gen_below(r, 4));
        rand_bytes(r, buf, dl);
        n = msn_encode_direct(dn->pub[0], on->pub[0], mac, buf, dl, p, cap);
        break;
    }
    case K_ACK: {
        int ext = gen_chance(r, 0.3);
        n = msn_encode_ack((uint32_t)gen_next(r), ext ? (int)gen_below(r, 4) : -1,
                           ext ? (int)gen_below(r, 256) : -1, p, cap);
        break;
    }
    case K_ANON_REQ: {
        uint8_t eph[32];
        rand_bytes(r, eph, 32);
        size_t dl = 16 * (1 + gen_below(r, 2));
        rand_bytes(r, buf, dl);
        n = msn_encode_anon_req(dn->pub[0], eph, mac, buf, dl, p, cap);
        break;
    }
    case K_TRACE: {
        int hs = pl->trace_hop_size;
        size_t rl = 0;
        for (int j = 1; j <= pl->route_len; j++) {
            memcpy(buf + rl, w->nodes[pl->route[j]].pub, (size_t)hs);
            rl += (size_t)hs;
        }
        uint32_t tag = (uint32_t)gen_next(r) | 1u, auth = (uint32_t)gen_next(r) | 1u;
        n = msn_encode_trace(tag, auth, (uint8_t)(hs == 2 ? 1 : 0), buf, rl, p, cap);
        break;
    }
    case K_CONTROL: {
        uint32_t tag = (uint32_t)gen_next(r);
        if (gen_chance(r, 0.5)) {
            buf[0] = 0x04; /* filter: repeaters */
            put32le(buf + 1, tag);
            put32le(buf + 5, pl->t0 - 3600u * (1 + gen_below(r, 48)));
            n = msn_encode_bytes(0x80, buf, 9, p, cap);
        } else {
            int type = on->role == ROLE_REPEATER ? 2
                       : on->role == ROLE_ROOM   ? 3
                       : on->role == ROLE_SENSOR ? 4
                                                 : 1;
            buf[0] = (uint8_t)(int8_t)(msn_gen__normal(r) * 12);
            put32le(buf + 1, tag);
            memcpy(buf + 5, on->pub, 32);
            n = msn_encode_bytes(0x90 | type, buf, 37, p, cap);
        }
        break;
    }
    default:
        return -1;
    }
    if (n < 0)
        return -1;
    out->payload_len = n;
    return 0;
}

/* Transport code 1 for a region: HMAC-SHA256(SHA-256(region)[0:16], type ‖ payload),
 * the first two bytes as a little-endian code (0 and 0xFFFF avoided). */
static void transport_code(const char *region, int ptype, const uint8_t *payload, size_t n, uint8_t out[2])
{
    uint8_t key[32], msg[1 + MSN_MAX_PAYLOAD], mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    msn_sha256(region, strlen(region), key);
    msg[0] = (uint8_t)ptype;
    memcpy(msg + 1, payload, n);
    HMAC(EVP_sha256(), key, 16, msg, n + 1, mac, &ml);
    unsigned code = (unsigned)mac[0] | (unsigned)mac[1] << 8;
    if (code == 0)
        code = 1;
    else if (code == 0xFFFF)
        code = 0xFFFE;
    out[0] = (uint8_t)code;
    out[1] = (uint8_t)(code >> 8);
}

int msn_gen__copy_hops(const gen_world_t *w, const gen_plan_t *pl, const gen_copy_t *c, uint8_t *out,
                       int *hop_size)
{
    int hs = pl->kind == K_TRACE ? pl->trace_hop_size : pl->hash_size;
    for (int j = 0; j < c->n_hops; j++)
        memcpy(out + j * hs, w->nodes[pl->hop_nodes[c->hops_off + j]].pub, (size_t)hs);
    *hop_size = hs;
    return c->n_hops * hs;
}

int msn_gen__copy_packet(const gen_world_t *w, const gen_plan_t *pl, const gen_render_t *rd,
                         const gen_copy_t *c, uint8_t *out, size_t cap)
{
    uint8_t path[MSN_MAX_PATH_BYTES];
    msn_frame_t f = {0};
    f.route_type = pl->route_type;
    f.payload_type = pl->payload_type;
    f.payload_version = 0;
    memcpy(f.transport, rd->transport, 4);
    if (pl->kind == K_TRACE) {
        /* one SNR byte (quarter dB) per completed hop, the same in every copy */
        for (int j = 0; j < c->n_hops; j++)
            path[j] = (uint8_t)(int8_t)((int)(msn_mix64((uint64_t)pl->index * 64 + (uint64_t)j) % 81) - 40);
        f.hash_size = 1;
        f.hash_count = c->n_hops;
    } else {
        int hs;
        msn_gen__copy_hops(w, pl, c, path, &hs);
        f.hash_size = hs;
        f.hash_count = c->n_hops;
    }
    f.path = path;
    return msn_encode_packet(&f, rd->payload, (size_t)rd->payload_len, out, cap);
}

int msn_gen__render(gen_renderer_t *rr, const gen_world_t *w, const gen_plan_t *pl, int attempt,
                    gen_render_t *out)
{
    gen_rng_t r;
    gen_rng_seed(&r, w->p.seed, STREAM_RENDER, (uint64_t)pl->index * 64 + (uint64_t)attempt);
    memset(out->transport, 0, 4);
    if (build_payload(w, pl, &r, attempt, out) < 0) {
        msn_log(MSN_LOG_ERROR, "gen: cannot build payload of transmission %ld (kind %d)", pl->index,
                pl->kind);
        return -1;
    }
    if (pl->transport == 1) {
        transport_code(scope_regions[0], pl->payload_type, out->payload, (size_t)out->payload_len,
                       out->transport);
    } else if (pl->transport == 2) {
        uint64_t v = gen_next(&r) | 0x0101;
        out->transport[0] = (uint8_t)v;
        out->transport[1] = (uint8_t)(v >> 8);
    }
    uint8_t pkt[MSN_MAX_PACKET];
    int n = msn_gen__copy_packet(w, pl, out, &pl->copy_store[0], pkt, sizeof(pkt));
    if (n < 0 || msn_packet_decode_bytes(&out->pkt, pkt, (size_t)n, &rr->opts) != 0) {
        msn_log(MSN_LOG_ERROR, "gen: transmission %ld does not encode/decode (kind %d)", pl->index, pl->kind);
        return -1;
    }
    if (pl->kind == K_ADVERT) {
        /* signed with the node's own key just above: what the ingestor's check finds */
        out->pkt.p.has |= MSN_HAS_SIG_VALID;
        out->pkt.p.signature_valid = 1;
    }
    msn_packet_content_hash(&out->pkt, out->hash);
    out->has_from = msn_packet_from_pubkey(&out->pkt, out->from_pubkey);
    out->channel_hash = msn_packet_channel_hash(&out->pkt, out->chan_tmp);
    const char *scope = NULL;
    int sc = msn_packet_scope(&out->pkt, scope_regions, 1, &scope);
    out->scope_name = sc < 0 ? NULL : scope;
    return 0;
}
