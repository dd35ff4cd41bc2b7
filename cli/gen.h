/*
 * gen.h: `meshsnap gen`, a generator of realistic CoreScope databases.
 *
 *   meshsnap gen --db PATH [--nodes N] [--observers M] [--transmissions T]
 *                [--obs-per-tx R] [--days D] [--seed S] [--end TIME]
 *                [--empty-backfill] [--force] [--quiet] [--threads 1|2]
 *   meshsnap gen --demo --db PATH      (a preset: 600 nodes, 40,000 transmissions)
 *
 * It writes a new database in the current CoreScope schema that looks like a regional
 * MeshCore mesh (see cli/gen_world.c and cli/gen_traffic.c for the model), with every
 * row as CoreScope's ingestor would have written it. The same parameters (seed and
 * --end included) give the same database, row for row.
 *
 * Besides the CoreScope tables it writes side tables that CoreScope readers ignore:
 *   _gen_nodes(idx INTEGER PRIMARY KEY, public_key, name, role, lat, lon, iata,
 *              hash_size, observer_rowid, range_km)      every simulated node
 *   _gen_links(a, b, km)                                    the radio graph (a < b, idx)
 *   _gen_truth(transmission_id INTEGER PRIMARY KEY, first_observation_id, origin,
 *              routes_json, heard_json)
 *       the ground truth of each transmission: origin is the _gen_nodes.idx of the node that
 *       sent it; its observations have consecutive ids from first_observation_id;
 *       routes_json holds one JSON array per observation of the _gen_nodes.idx of its
 *       true hops (one per path_json entry), heard_json the idx of the node whose
 *       transmission each observation heard. Flood: the relays from the origin's first
 *       relay to the heard one (empty when the origin itself was heard). Direct: the
 *       relays still ahead of the heard transmitter (each relay removes itself). TRACE:
 *       the payload route, heard near its last repeater.
 *   _gen_truth_obs (view): observation_id, transmission_id, route_json, heard
 *   _gen_truth_keys (view): observation_id, transmission_id, route_json of full keys
 *   _gen_info(key TEXT PRIMARY KEY, value)                 parameters and statistics
 */
#ifndef MSN_CLI_GEN_H
#define MSN_CLI_GEN_H

#include <stddef.h>
#include <stdint.h>

/** Parameters of a generation run. */
typedef struct {
    const char *db;
    int nodes, observers;
    long transmissions;
    double obs_per_tx; /* target mean observations per transmission */
    double days;
    uint64_t seed;
    int64_t end;        /* unix seconds: transmissions start in [end - days, end); their
                         * copies arrive up to about a minute later */
    int empty_backfill; /* leave resolved_path NULL and last_seen 0 */
    int force;          /* replace an existing file */
    int quiet;          /* no progress on stderr */
    int threads;        /* 1 or 2: threads for the flood trees and the plan pass (rows are
                         * always rendered by one thread while another inserts them) */
    int drop_indexes;   /* rebuild every secondary index after the bulk insert (default: only
                         * those led by observer_idx; the others are appended to row by row) */
} msn_gen_params_t;

/** What a run produced. */
typedef struct {
    long transmissions, observations, nodes, observers, edges;
    long hops, hops_resolved, hops_wrong; /* over all observation paths */
    double seconds, world_seconds, insert_seconds, index_seconds;
    long long file_bytes;
} msn_gen_stats_t;

/** Fills p with the defaults (a small mesh; end = the current hour). */
void msn_gen_defaults(msn_gen_params_t *p);

/** Generates p->db. Refuses an existing file unless p->force. Returns 0 and fills stats
 *  (may be NULL), or -1 with err set (a partly written file is removed). */
int msn_gen_run(const msn_gen_params_t *p, msn_gen_stats_t *stats, char *err, size_t errlen);

/** The `meshsnap gen` command (argv[0] = "gen"). Returns the exit status. */
int msn_cli_gen(int argc, char **argv);

#endif
