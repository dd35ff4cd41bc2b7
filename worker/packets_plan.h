/*
 * packets_plan.h: GET /api/packets in two pure steps, before the snapshot is touched:
 *
 *   msn_pk_parse   the query parameters into a query (400 on a malformed or out-of-range
 *                  value, with a message naming the parameter)
 *   msn_pk_plan    the query into a plan: which index answers it, what is checked on
 *                  each candidate, and in which order the page is cut
 *
 * api_packets.c resolves the `node` parameter (a snapshot lookup) between the two, then
 * executes the plan and renders the rows. Strategies, by precedence:
 *
 *   EMPTY   `node` names no node, or `hash` is no hex hash: nothing matches
 *   HASH    `hash`: one lookup, then every other filter is checked on that transmission
 *   LISTS   observer / region / node / channel: the intersection of those packet lists
 *           (observer and region: the union of the comma-separated values' lists)
 *   LATEST  groupByHash otherwise: the time-of-sighting index, newest first
 *   TIME    since/until without type or route: a range of the first-seen index
 *   WALK    otherwise: the type, route or all-packets list, walked in id order with the
 *           remaining filters checked on its fixed-size entries; the page is cut while
 *           walking, and without remaining filters the walk stops after the page
 *
 * Limits (CoreScope's rules): limit empty, non-numeric or <= 0 gives 50, above 10000 gives
 * 10000; offset non-numeric or negative gives 0. A number outside the range of a 64-bit
 * integer, an offset above MSN_API_MAX_OFFSET and a time outside years 0000-9999 are
 * refused (400), so that no arithmetic on them can overflow.
 *
 * Worker process only; no state.
 */
#ifndef MSN_PACKETS_PLAN_H
#define MSN_PACKETS_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "shm/snapkey.h"
#include "shm/snaprec.h"

#define MSN_PK_LIMIT_DEFAULT 50
#define MSN_PK_LIMIT_MAX 10000

/** The filters every packet-list entry can answer by itself (msn_fx_rec_t). since and
 *  until are exclusive bounds on first_seen. */
typedef struct {
    int has_type, has_route, has_since, has_until;
    int type, route;
    int64_t since_ms, until_ms;
} msn_pk_filter_t;

/** A parsed /api/packets query. Its strings point into the request's parameters. */
typedef struct {
    msn_pk_filter_t filter;
    int64_t limit, offset;
    int asc;              /* order=asc (anything else is descending) */
    int grouped;          /* groupByHash=true|1 */
    int expand;           /* expand contains "observations" */
    int default_page;     /* no parameter but limit=50, offset=0 and a descending order:
                             the published first page ("packets.default") answers */
    char hash[65];        /* the content hash, lowercase hex; "" when absent */
    int hash_nomatch;     /* `hash` is not a hex hash of at most 64 characters: nothing matches */
    const char *observer; /* comma-separated observer ids; NULL when absent or empty */
    const char *channel;  /* a channel hash; NULL when absent or empty */
    const char *node;     /* a public key, a key prefix (8+ hex) or a node name; NULL when absent */
    char region[200];     /* comma-separated IATA codes, upper case; "" when absent or ALL */
} msn_pk_query_t;

/** Parses r's parameters into q. Returns 0, or -1 with a message for a 400 response in
 *  err (naming the parameter). A `hash` that is not hex (or longer than 64 characters) is
 *  no error: it sets hash_nomatch. */
int msn_pk_parse(const msn_api_req_t *r, msn_pk_query_t *q, char *err, size_t errlen);

/** How the matches are found (the strategies of the top comment). */
typedef enum {
    MSN_PK_EMPTY,
    MSN_PK_HASH,
    MSN_PK_LISTS,
    MSN_PK_LATEST,
    MSN_PK_TIME,
    MSN_PK_WALK
} msn_pk_strategy_t;

/** How the page is cut from the matches. */
typedef enum {
    MSN_PK_BY_ID_DESC, /* newest id first (the default) */
    MSN_PK_BY_ID_ASC,
    MSN_PK_BY_LATEST /* newest sighting first (groupByHash) */
} msn_pk_order_t;

/** What each row of the page is. */
typedef enum {
    MSN_PK_ROWS_PLAIN,    /* the transmission's packet object */
    MSN_PK_ROWS_EXPANDED, /* the same with its "observations" */
    MSN_PK_ROWS_GROUPED   /* its groupByHash row */
} msn_pk_rows_t;

/** One packet-list filter: the lists kind+value for each value. */
typedef struct {
    msn_fx_kind_t kind;
    const char *values; /* one value, or comma-separated values when split */
    int split;          /* values is a comma-separated list: the union of their lists */
} msn_pk_list_t;

#define MSN_PK_MAX_LISTS 4

/** A plan: what execution needs, nothing it has to decide. */
typedef struct {
    msn_pk_strategy_t strategy;
    /* checked on every candidate (WALK: what its list does not already select) */
    msn_pk_filter_t filter;
    /* LISTS: intersected; HASH: the candidate must be in each */
    msn_pk_list_t lists[MSN_PK_MAX_LISTS];
    int n_lists;
    const char *hash;        /* HASH: lowercase hex */
    msn_fx_kind_t walk_kind; /* WALK: MSN_FX_ALL, MSN_FX_TYPE or MSN_FX_ROUTE */
    uint8_t walk_value;      /* WALK: the type or route byte */
    msn_pk_order_t order;
    msn_pk_rows_t rows;
    int64_t offset, limit;
} msn_pk_plan_t;

/** Plans query q. node_key: the `node` parameter resolved to a full public key (NULL when
 *  the parameter is absent); node_missing: it names no node. The plan points into q and
 *  node_key, which must outlive it. */
void msn_pk_plan(const msn_pk_query_t *q, const char *node_key, int node_missing, msn_pk_plan_t *plan);

/** Whether list entry rec passes filter f (inline: list walks call it per entry). */
static inline int msn_pk_filter_match(const msn_pk_filter_t *f, const msn_fx_rec_t *rec);
/** Whether f filters anything. */
int msn_pk_filter_active(const msn_pk_filter_t *f);
/** Whether position pos (0-based, among the matches in page order) is on the page
 *  [offset, offset + limit); overflow-free for any non-negative values. */
int msn_pk_in_page(int64_t pos, int64_t offset, int64_t limit);

static inline int msn_pk_filter_match(const msn_pk_filter_t *f, const msn_fx_rec_t *rec)
{
    if (f->has_type && rec->payload_type != f->type)
        return 0;
    if (f->has_route && rec->route_type != f->route)
        return 0;
    if (!f->has_since && !f->has_until)
        return 1;
    int64_t fs = msn_snaprec_fx_first_seen_ms(rec);
    return (!f->has_since || fs > f->since_ms) && (!f->has_until || fs < f->until_ms);
}

#endif
