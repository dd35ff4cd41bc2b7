/*
 * entdoc.h: entity documents: what the master publishes per entity (one node, one
 * observer, ...) beside the whole-mesh documents, and how they are named in the snapshot's
 * doc database (snapshot.h).
 *
 * Name: "ent/<kind>/<doc>/<id>". kind names the entity type ("node"), doc the document
 * ("health", "analytics.7", ...), id the entity's canonical id last, so that it may hold
 * any byte but NUL (a node's id is its lowercase public key). The documents of one kind
 * and one doc sort together ("ent/node/health/..."), and every entity document starts
 * with MSN_ENTDOC_PREFIX: the master carries them from one environment into the next on a
 * full rebuild (and recomputes them after it), so a rebuild leaves no gap.
 *
 * Values are the ordinary doc records (snaprec.h msn_doc_t: body, gzip copy, ETag). Most
 * bodies are the JSON a route sends as it is; a document the workers assemble a response
 * from has a msgpack body, laid out below.
 *
 * Node documents (kind MSN_ENT_NODE; the master writes them, master/nodedocs.h says when):
 *   detail          JSON: the node object of /api/nodes/{pubkey} with CoreScope's enrichment
 *   health          JSON: /api/nodes/{pubkey}/health
 *   paths           JSON: /api/nodes/{pubkey}/paths
 *   analytics.<d>   JSON: /api/nodes/{pubkey}/analytics?days=<d>, d in MSN_NODE_ANALYTICS_DAYS
 *   reach.<d>       JSON: /api/nodes/{pubkey}/reach?days=<d>, d in MSN_NODE_REACH_DAYS
 *   clock-skew      JSON: /api/nodes/{pubkey}/clock-skew (absent: no advert clock samples)
 *   bulk            msgpack [regions, entry]: regions = array of str (the IATA codes of the
 *                   observers that heard any of its transmissions), entry = bin (its
 *                   /api/nodes/bulk-health element)
 *   neighbors       msgpack array of neighbour entries (MSN_NBRF_*), one per edge of the
 *                   node in the neighbour graph
 *   battery.<day>   msgpack array of [timestamp str, battery_mv int] (ascending): the
 *                   observer_metrics samples of the node (as an observer) on that UTC day
 *                   ("YYYY-MM-DD")
 *
 * Any process may call these functions; they keep no state.
 */
#ifndef MSN_ENTDOC_H
#define MSN_ENTDOC_H

#include <stddef.h>

#define MSN_ENTDOC_PREFIX "ent/"
#define MSN_ENTDOC_NAME_MAX 500 /* LMDB keys are at most 511 bytes */

#define MSN_ENT_NODE "node"

#define MSN_NODEDOC_DETAIL "detail"
#define MSN_NODEDOC_HEALTH "health"
#define MSN_NODEDOC_PATHS "paths"
#define MSN_NODEDOC_ANALYTICS "analytics" /* + ".<days>" */
#define MSN_NODEDOC_REACH "reach"         /* + ".<days>" */
#define MSN_NODEDOC_CLOCK_SKEW "clock-skew"
#define MSN_NODEDOC_BULK "bulk"
#define MSN_NODEDOC_NEIGHBORS "neighbors"
#define MSN_NODEDOC_BATTERY "battery" /* + ".<YYYY-MM-DD>" */

/* The windows published for the per-node analytics and reach (the ones CoreScope's
 * frontend asks for). */
#define MSN_NODE_ANALYTICS_DAYS {1, 7, 30, 365}
#define MSN_NODE_ANALYTICS_NDAYS 4
#define MSN_NODE_REACH_DAYS {1, 7, 14, 30}
#define MSN_NODE_REACH_NDAYS 4

/* A neighbour entry of the `neighbors` document (and of the neighbour-graph document's
 * edges, see snapkey.h MSN_DOC_NEIGHBOR_GRAPH): an array with these positions. */
enum msn_nbr_field {
    MSN_NBRF_PUBKEY,     /* str|nil: the neighbour (nil for an unresolved prefix edge) */
    MSN_NBRF_PREFIX,     /* str: the hop prefix that established the edge ("" for zero-hop) */
    MSN_NBRF_COUNT,      /* int: sightings */
    MSN_NBRF_FIRST_S,    /* int: first sighting, unix s */
    MSN_NBRF_LAST_S,     /* int: last sighting, unix s */
    MSN_NBRF_SNR_SUM,    /* float */
    MSN_NBRF_SNR_N,      /* int */
    MSN_NBRF_OBSERVERS,  /* array of str: observer ids (lowercase, sorted) */
    MSN_NBRF_AMBIGUOUS,  /* bool */
    MSN_NBRF_CANDIDATES, /* array of [pubkey str, name str, role str] (ambiguous edges) */
    MSN_NBRF_MODES,      /* array of 4 int: sightings by hash size 0 (unknown), 1, 2, 3 */
    MSN_NBRF_NAME,       /* str|nil: the neighbour's name (nodes and observers) */
    MSN_NBRF_ROLE,       /* str|nil */
    MSN_NBRF_DIST_KM,    /* float|nil: when both ends have a GPS position */
    MSN_NBRF_COUNT_      /* fields */
};

/* The neighbour-graph document (snapkey.h MSN_DOC_NEIGHBOR_GRAPH, whole-mesh, msgpack):
 *   [nodes, observers, edges, rejected_geo_far]
 *   nodes      array of [pubkey str, name str|nil, role str|nil]: every resolved end of an
 *              edge (an observer that is no node has role "observer")
 *   observers  array of [id str (lowercase), iata str|nil]: the observers of the edges
 *   edges      array of edges (MSN_NGEF_*)
 *   rejected_geo_far  int: edges dropped as geographically implausible (> 500 km) */
enum msn_nge_field {
    MSN_NGEF_A,         /* int: index into nodes */
    MSN_NGEF_B,         /* int: index into nodes, -1 for an unresolved prefix edge */
    MSN_NGEF_PREFIX,    /* str */
    MSN_NGEF_COUNT,     /* int */
    MSN_NGEF_LAST_S,    /* int: unix s */
    MSN_NGEF_SNR_SUM,   /* float */
    MSN_NGEF_SNR_N,     /* int */
    MSN_NGEF_OBSERVERS, /* array of int: indexes into observers */
    MSN_NGEF_AMBIGUOUS, /* bool */
    MSN_NGEF_COUNT_
};

/* The relay document (snapkey.h MSN_DOC_RELAYS, whole-mesh, msgpack): the nodes a path hop
 * can name (role containing "repeater" or "room_server", or "room"), sorted by key: an
 * array of relays (MSN_RLYF_*). */
enum msn_rly_field {
    MSN_RLYF_PUBKEY,   /* str: lowercase */
    MSN_RLYF_NAME,     /* str|nil */
    MSN_RLYF_LAT,      /* float|nil: nil unless it has a GPS position (both set, not both 0) */
    MSN_RLYF_LON,      /* float|nil */
    MSN_RLYF_ADVERTS,  /* int: advert_count */
    MSN_RLYF_LISTENER, /* bool: an active observer that reported it does not repeat */
    MSN_RLYF_COUNT_
};

/** Writes "ent/<kind>/<doc>/<id[0..id_len)>" into out (n bytes). Returns its length, or
 *  -1 when it does not fit in n or in MSN_ENTDOC_NAME_MAX, or id_len is 0. */
int msn_entdoc_name(char *out, size_t n, const char *kind, const char *doc, const char *id, size_t id_len);

/** The canonical id of a node: its public key lowercased into out (65 bytes). Returns 0,
 *  or -1 when it is not 64 hex characters (no node has such a key). */
int msn_entdoc_node_id(const char *pubkey, size_t len, char out[65]);

#endif
