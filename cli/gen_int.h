/*
 * gen_int.h: internals of `meshsnap gen` shared by cli/gen*.c (not for other modules).
 *
 * The generator works in three stages (see gen.c for the overall flow):
 *
 *   world    (gen_world.c)   nodes with Ed25519 keys, names, roles and positions in
 *                            clusters, the radio graph, observers, and per-origin flood
 *                            trees; all drawn from the seed.
 *   plan     (gen_traffic.c) transmission i's kind, origin, route and every copy heard by
 *                            an observer, computed from (world, seed, i) alone, so a plan
 *                            can be recomputed at will and in any thread.
 *   render   (gen_traffic.c) the real packet bytes of a plan, its decoded_json, hash and
 *                            derived columns.
 *   rows     (gen_rows.c)    rendered transmissions turned into table rows and inserted.
 *
 * Nodes are referred to by index (uint16_t); GEN_NONE marks "no node".
 */
#ifndef MSN_GEN_INT_H
#define MSN_GEN_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/buf.h"
#include "shm/codec/codec.h"
#include "shm/pathres.h"
#include "gen.h"

#define GEN_NONE 0xFFFFu
#define GEN_MAX_NODES 20000
#define GEN_MAX_HOPS 63
#define GEN_MAX_COPIES 640 /* observations of one transmission */

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---------------------------------- */

typedef struct {
    uint64_t s[4];
} gen_rng_t;

static inline uint64_t gen_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A stream for (seed, stream, index): independent streams for independent decisions. */
static inline void gen_rng_seed(gen_rng_t *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull) ^ (index * 0x8cb92ba72f3d8dd7ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = gen_splitmix(&x);
}

static inline uint64_t gen_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t gen_next(gen_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = gen_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = gen_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double gen_unit(gen_rng_t *r)
{
    return (double)(gen_next(r) >> 11) * 0x1p-53;
}

/* Uniform in [0, n). */
static inline uint32_t gen_below(gen_rng_t *r, uint32_t n)
{
    return (uint32_t)(((gen_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline int gen_chance(gen_rng_t *r, double p)
{
    return gen_unit(r) < p;
}

/* Standard normal (Box-Muller, one value per call). */
double msn_gen__normal(gen_rng_t *r);

/* ---- the world --------------------------------------------------------------------------- */

enum { ROLE_REPEATER, ROLE_COMPANION, ROLE_ROOM, ROLE_SENSOR, N_ROLES };

typedef struct {
    uint8_t seed[32];
    uint8_t pub[32];
    char hex[65]; /* lowercase */
    char name[48];
    uint8_t role;
    uint8_t cluster;
    uint8_t hash_size; /* path hash size this node uses as an originator (1..3) */
    uint8_t has_loc;
    double lat, lon;
    int32_t lat_e6, lon_e6; /* as advertised */
    float range_km;
    int32_t clock_skew;        /* seconds added to the advert timestamp */
    int observer;              /* index into world.obs, or -1 */
    uint32_t adj_off, adj_n;   /* neighbours: world.adj[adj_off .. adj_off + adj_n) */
    uint32_t oadj_off, oadj_n; /* observer neighbours: world.oadj[...] (observer indexes) */
    double weight;             /* activity weight for chat traffic */
    uint16_t battery_mv;       /* sensors */
    int16_t temperature_raw;
} gen_node_t;

typedef struct {
    uint16_t node;
    char id[65]; /* uppercase pubkey */
    const char *model, *firmware, *client_version, *radio;
    int battery_mv; /* 0 = NULL */
    int64_t uptime_secs;
    double noise_floor;
    int lower_hex; /* reports raw packets in lowercase hex */
} gen_observer_t;

typedef struct {
    const char *iata;
    double lat, lon, sigma_km, weight;
    const char *place[6];
} gen_cluster_t;

/* Kinds of transmission (what the plan generates). */
enum {
    K_ADVERT,
    K_CHAN,      /* GRP_TXT on Public or a hashtag channel (decryptable) */
    K_CHAN_PRIV, /* GRP_TXT on a private channel (not decryptable) */
    K_DM,        /* TXT_MSG */
    K_ACK,
    K_REQ,
    K_RESPONSE,
    K_PATH,
    K_TRACE,
    K_ANON_REQ,
    K_CONTROL,
    N_KINDS
};

/* The flood from one origin: the hop count at which each node first hears it, and the
 * observers in the order they do (with some jitter). A relay's parent is recomputed on
 * demand (gen_traffic.c parent_of), so one tree serves every route variant. */
typedef struct {
    uint8_t *depth;  /* per node; 0xFF = not reached */
    uint16_t *order; /* observer indexes */
    uint32_t n_order;
} gen_tree_t;

typedef struct {
    msn_gen_params_t p;
    gen_node_t *nodes;
    int n;
    gen_observer_t *obs;
    int n_obs;
    gen_cluster_t *clusters;
    int n_clusters;
    uint16_t *adj;  /* neighbour lists */
    uint16_t *oadj; /* observer-neighbour lists (observer indexes) */
    size_t n_links;

    gen_tree_t *trees; /* per origin */
    uint8_t *tree_mem;

    /* uniqueness of each node's own key prefix among all node keys, per hash size 1..3
     * (uniq[0] unused) */
    uint8_t *uniq[4];

    /* the schedule: per transmission slot its origin time and kind */
    uint32_t *slot_time;
    uint8_t *slot_kind;
    uint16_t *slot_origin; /* adverts only (GEN_NONE for others) */
    long n_slots;
    double obs_scale; /* calibrated so that observations / transmissions ~ obs_per_tx */

    /* channel traffic */
    msn_chankeys_t *keys; /* what the ingestor decrypts with: Public + hashtags */
    int n_hashtags;
    uint8_t priv_keys[8][16];
    int n_priv;

    /* cumulative weights for picking chat senders and targets */
    double *w_chat; /* companions and rooms, by activity */
    uint16_t *chat_ids;
    int n_chat;
    uint16_t *rooms; /* rooms and repeaters (request targets) */
    int n_rooms;
    uint16_t *repeaters;
    int n_repeaters;

    int colour_conflicts; /* node pairs sharing a neighbour and a 1-byte prefix */
    int max_degree;
} gen_world_t;

int msn_gen__world_build(gen_world_t *w, const msn_gen_params_t *p, char *err, size_t errlen);
void msn_gen__world_free(gen_world_t *w);
const char *msn_gen__role_name(int role);
/* Distance in km between two nodes. */
double msn_gen__dist_km(const gen_node_t *a, const gen_node_t *b);

/* ---- plans -------------------------------------------------------------------------------- */

/* One copy heard by one observer. */
typedef struct {
    uint16_t observer; /* index into world.obs */
    uint16_t heard;    /* the node whose transmission was heard */
    uint8_t n_hops;    /* hops in this copy's path_json */
    uint8_t leg;       /* direct/trace: which transmission of the route (header hops differ) */
    uint32_t ts;       /* unix seconds */
    uint16_t hops_off; /* this copy's hop nodes: plan.hop_nodes[hops_off .. + n_hops) */
    float snr, rssi;
} gen_copy_t;

typedef struct {
    long index;
    int kind;
    int route_type;
    int payload_type;
    int hash_size;      /* header path hash size (TRACE: 1, the SNR bytes) */
    int trace_hop_size; /* TRACE payload route hop size (1 or 2) */
    uint16_t origin, dest;
    uint32_t t0;
    int transport; /* 0 none, 1 known region, 2 unknown region */
    /* direct and trace routes: the relays */
    uint16_t route[GEN_MAX_HOPS + 1];
    int route_len;
    /* copies, ordered by timestamp */
    int n_copies;
    uint16_t *hop_nodes; /* node indexes of every copy's hops */
    int n_hop_nodes, cap_hop_nodes;
    /* parents already chosen for the current route variant (valid when stamp matches) */
    uint16_t *par;
    uint32_t *par_stamp;
    uint32_t stamp;
    int par_n;
    gen_copy_t copy_store[GEN_MAX_COPIES];
} gen_plan_t;

/* Fills pl for transmission slot i (pl is overwritten). Pure function of (w, i). */
void msn_gen__plan(const gen_world_t *w, long i, gen_plan_t *pl);
void msn_gen__plan_init(gen_plan_t *pl);
void msn_gen__plan_free(gen_plan_t *pl);

/* ---- rendering ------------------------------------------------------------------------------ */

/* A rendered transmission: the packet of every copy and the decoded row values. */
typedef struct {
    uint8_t payload[MSN_MAX_PAYLOAD];
    int payload_len;
    uint8_t transport[4];
    msn_packet_t pkt; /* the first copy, decoded */
    char hash[17];
    char from_pubkey[65];
    int has_from;
    const char *channel_hash; /* NULL or a name (static or in chan_tmp) */
    char chan_tmp[8];
    const char *scope_name; /* NULL, "" or the region */
} gen_render_t;

/* Per-thread rendering state (the key set and crypto caches are not shareable). */
typedef struct gen_renderer gen_renderer_t;
gen_renderer_t *msn_gen__renderer_new(const gen_world_t *w);
void msn_gen__renderer_free(gen_renderer_t *r);
/* Builds the payload of pl (attempt > 0 varies it, to escape a hash collision), the
 * first copy's packet, decodes and hashes it. Returns 0 or -1 (a bug: logged). */
int msn_gen__render(gen_renderer_t *r, const gen_world_t *w, const gen_plan_t *pl, int attempt,
                    gen_render_t *out);
/* Writes copy c's packet bytes to out; returns its length or -1. */
int msn_gen__copy_packet(const gen_world_t *w, const gen_plan_t *pl, const gen_render_t *rd,
                         const gen_copy_t *c, uint8_t *out, size_t cap);
/* The hop bytes of copy c (n_hops * hop size bytes) and the hop size. */
int msn_gen__copy_hops(const gen_world_t *w, const gen_plan_t *pl, const gen_copy_t *c, uint8_t *out,
                       int *hop_size);

/* ---- rows and SQLite (gen_rows.c) ---------------------------------------------------------- */

typedef struct {
    long observations;
    long hops, hops_resolved, hops_wrong; /* over every observation path */
    long collisions;                      /* payloads re-drawn for a unique hash */
    double render_cpu, insert_cpu;        /* CPU seconds of each thread */
    double render_wait, insert_wait;      /* seconds each thread waited for the other */
} gen_rows_stats_t;

/* Renders every transmission slot of w and inserts its transmissions, observations and
 * _gen_truth rows into db (inside the caller's transaction; the tables must exist).
 * resolve: fill resolved_path with pr and last_seen; 0 leaves them NULL and 0. Returns 0
 * and fills st, or -1 with err set. */
int msn_gen__write_rows(sqlite3 *db, const gen_world_t *w, const msn_pathres_t *pr, int resolve, int quiet,
                        gen_rows_stats_t *st, char *err, size_t errlen);

/* SQLite helpers: run sql (no rows expected), prepare a statement, step a statement that
 * returns no row and reset it. Each returns 0, or -1 with err set. */
int msn_gen__exec(sqlite3 *db, const char *sql, char *err, size_t errlen);
int msn_gen__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen);
int msn_gen__step(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen);

/* Monotonic wall clock, and the calling thread's CPU time, in seconds. */
double msn_gen__now(void);
double msn_gen__thread_cpu(void);

#endif
