/*
 * entapi.h: what the handlers that read entity documents (shm/entdoc.h) share: looking a
 * document up, the relay and neighbour records, and CoreScope's lenient parameter parsing.
 * Worker process; no allocation beyond the request.
 */
#ifndef MSN_ENTAPI_H
#define MSN_ENTAPI_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "shm/mpk.h"

/** Looks up entity document `doc` of entity `id` of `kind` into *d (pointers into the map).
 *  Returns 0, or MDB_NOTFOUND (also for an id that makes no document name). */
int msn_api_entdoc_get(msn_api_req_t *r, const char *kind, const char *doc, const char *id, size_t id_len,
                       msn_doc_t *d);
/** Answers with entity document `doc` of node id (64 lowercase hex) when it exists.
 *  Returns 0 when answered, MDB_NOTFOUND when there is no such document. */
int msn_api_send_nodedoc(msn_api_req_t *r, const char *doc, const char *id);
/** 1 when the nodes table has this node (id: 64 lowercase hex). */
int msn_api_node_known(msn_api_req_t *r, const char *id);
/** Answers 503 + Retry-After: the node's documents are being computed. */
void msn_api_nodedocs_pending(msn_api_req_t *r);

/** Go's strconv.Atoi: optional sign, decimal digits, nothing else; 0 with *out set, -1 for
 *  anything else (empty, junk, out of the range of int64). */
int msn_api_go_atoi(const char *v, int64_t *out);
/** Go's strconv.ParseFloat(v, 64) for the forms clients send: 0 with *out set, -1 when v
 *  is empty or not wholly a number. */
int msn_api_go_float(const char *v, double *out);

/** One relay of the relay document (entdoc.h MSN_RLYF_*). */
typedef struct {
    const char *pk; /* lowercase, 64 chars */
    const char *name;
    uint32_t name_len;
    double lat, lon;
    int gps, listener;
    int64_t adverts;
} msn_relay_t;

/** The relays, read from the relay document into an array the caller frees (sorted by
 *  key). Returns their count, or -1 when the document is missing or malformed. */
int msn_api_relays(msn_api_req_t *r, msn_relay_t **out);
/** The relays whose key starts with hop (lowercase hex, 2..8 characters) or, for a
 *  longer hop, equals it: CoreScope's prefix map. *first receives the first index. */
uint32_t msn_api_relay_range(const msn_relay_t *rl, uint32_t n, const char *hop, size_t len, uint32_t *first);

/** One neighbour entry of a `neighbors` document (entdoc.h MSN_NBRF_*); strings point
 *  into the document. */
typedef struct {
    const char *pk; /* NULL for an unresolved prefix edge */
    uint32_t pk_len;
    const char *prefix;
    uint32_t prefix_len;
    int64_t count, first_s, last_s, snr_n, modes[4];
    double snr_sum, dist_km;
    int ambiguous, has_dist;
    msn_mpk_reader_t observers;  /* positioned at the observers array */
    msn_mpk_reader_t candidates; /* positioned at the candidates array */
    const char *name, *role;     /* NULL when nil */
    uint32_t name_len, role_len;
} msn_nbr_t;

/** Starts reading node id's `neighbors` document: *n receives the number of entries.
 *  Returns 0, MDB_NOTFOUND when the node has none, or -1 when malformed. */
int msn_api_nbr_open(msn_api_req_t *r, const char *id, msn_mpk_reader_t *it, uint32_t *n);
/** Reads the next entry. Returns 0, or -1 when malformed. */
int msn_api_nbr_next(msn_mpk_reader_t *it, msn_nbr_t *e);
/** CoreScope's edge score at now: min(1, count/100) x 2^(-hours since last / 168). */
double msn_api_nbr_score(int64_t count, int64_t last_s, int64_t now_ms);

#endif
