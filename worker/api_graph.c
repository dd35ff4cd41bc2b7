/*
 * api_graph.c: GET /api/analytics/neighbor-graph, assembled from the neighbour-graph
 * document the master publishes (shm/entdoc.h): edges filtered by min_count (default 5),
 * min_score (default 0.1, the score computed at request time from the edge's count and
 * last sighting), region (an edge is kept when one of its observers is in the region; a
 * region no observer carries filters nothing, as in CoreScope) and role (either end has
 * it); the nodes are the ends of the kept edges with their neighbour counts. Nodes are
 * listed in the order their edges come (CoreScope lists them in map order).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entapi.h"
#include "shm/entdoc.h"
#include "shm/json.h"

typedef struct {
    const char *pk, *name, *role;
    uint32_t pk_len, name_len, role_len;
    int64_t degree;
    int listed;
} gnode_t;

typedef struct {
    const char *iata;
    uint32_t iata_len;
    int in_region;
} gobs_t;

static int str_or_nil(msn_mpk_reader_t *it, const char **s, uint32_t *n)
{
    if (msn_mpk_peek(it) == MSN_MPK_NIL) {
        *s = NULL;
        *n = 0;
        return msn_mpk_read_nil(it);
    }
    return msn_mpk_read_str(it, s, n);
}

void msn_api_neighbor_graph(msn_api_req_t *r)
{
    int64_t min_count = 5, x;
    double min_score = 0.1, f;
    const char *v = msn_api_param(r, "min_count");
    if (v && msn_api_go_atoi(v, &x) == 0 && x > 0)
        min_count = x;
    v = msn_api_param(r, "min_score");
    if (v && msn_api_go_float(v, &f) == 0)
        min_score = f;
    const char *role = msn_api_param(r, "role");
    if (role && !*role)
        role = NULL;
    const char *region = msn_api_param(r, "region");
    const void *body;
    size_t len;
    if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_NEIGHBOR_GRAPH, &body, &len, NULL, NULL) != 0) {
        r->retry_after = 5;
        msn_api_error(r, 503, "the neighbour graph is being computed; retry shortly");
        return;
    }
    msn_mpk_reader_t it;
    uint32_t top, nn, no, neg;
    gnode_t *nodes = NULL;
    gobs_t *obs = NULL;
    msn_mpk_reader_init(&it, body, len);
    if (msn_mpk_read_array(&it, &top) < 0 || top != 4 || msn_mpk_read_array(&it, &nn) < 0 || nn > len)
        goto bad;
    nodes = msn_xcalloc((size_t)nn + 1, sizeof(*nodes));
    for (uint32_t i = 0; i < nn; i++) {
        uint32_t k;
        if (msn_mpk_read_array(&it, &k) < 0 || k != 3 || msn_mpk_read_str(&it, &nodes[i].pk, &nodes[i].pk_len) < 0 ||
            str_or_nil(&it, &nodes[i].name, &nodes[i].name_len) < 0 ||
            str_or_nil(&it, &nodes[i].role, &nodes[i].role_len) < 0)
            goto bad;
    }
    if (msn_mpk_read_array(&it, &no) < 0 || no > len)
        goto bad;
    obs = msn_xcalloc((size_t)no + 1, sizeof(*obs));
    /* CoreScope's resolveRegionObservers: the observers whose IATA is one of the codes */
    char codes[256];
    snprintf(codes, sizeof(codes), "%s", region ? region : "");
    int region_on = 0;
    for (uint32_t i = 0; i < no; i++) {
        uint32_t k, il;
        const char *id;
        if (msn_mpk_read_array(&it, &k) < 0 || k != 2 || msn_mpk_read_str(&it, &id, &il) < 0 ||
            str_or_nil(&it, &obs[i].iata, &obs[i].iata_len) < 0)
            goto bad;
        if (obs[i].iata == NULL || obs[i].iata_len == 0)
            continue;
        for (const char *p = codes; *p;) {
            while (*p == ',' || isspace((unsigned char)*p))
                p++;
            const char *e = p;
            while (*e && *e != ',')
                e++;
            const char *t = e;
            while (t > p && isspace((unsigned char)t[-1]))
                t--;
            if ((size_t)(t - p) == obs[i].iata_len && strncasecmp(p, obs[i].iata, obs[i].iata_len) == 0 &&
                !(t - p == 3 && strncasecmp(p, "ALL", 3) == 0))
                obs[i].in_region = region_on = 1;
            p = e;
        }
    }
    if (msn_mpk_read_array(&it, &neg) < 0)
        goto bad;
    msn_buf_t edges = MSN_BUF_INIT;
    uint32_t *order = msn_xcalloc((size_t)nn + 1, sizeof(uint32_t));
    uint32_t n_order = 0;
    int64_t n_edges = 0, n_amb = 0;
    for (uint32_t i = 0; i < neg; i++) {
        uint32_t k, nob;
        int64_t a, bi, count, last_s, snr_n;
        double snr_sum;
        const char *prefix;
        uint32_t prefix_len;
        int amb;
        if (msn_mpk_read_array(&it, &k) < 0 || k != MSN_NGEF_COUNT_ || msn_mpk_read_int(&it, &a) < 0 ||
            msn_mpk_read_int(&it, &bi) < 0 || msn_mpk_read_str(&it, &prefix, &prefix_len) < 0 ||
            msn_mpk_read_int(&it, &count) < 0 || msn_mpk_read_int(&it, &last_s) < 0 ||
            msn_mpk_read_double(&it, &snr_sum) < 0 || msn_mpk_read_int(&it, &snr_n) < 0 ||
            msn_mpk_read_array(&it, &nob) < 0 || a < 0 || a >= nn || bi < -1 || bi >= nn) {
            free(order);
            msn_buf_free(&edges);
            goto bad;
        }
        int in = !region_on;
        for (uint32_t j = 0; j < nob; j++) {
            int64_t oi;
            if (msn_mpk_read_int(&it, &oi) < 0)
                break;
            if (oi >= 0 && oi < no && obs[oi].in_region)
                in = 1;
        }
        if (msn_mpk_read_bool(&it, &amb) < 0) {
            free(order);
            msn_buf_free(&edges);
            goto bad;
        }
        double score = msn_api_nbr_score(count, last_s, r->now_ms);
        if (count < min_count || score < min_score || !in)
            continue;
        if (role) {
            size_t rl = strlen(role);
            const gnode_t *ga = &nodes[a], *gb = bi >= 0 ? &nodes[bi] : NULL;
            int ma = ga->role && ga->role_len == rl && strncasecmp(ga->role, role, rl) == 0;
            int mb = gb && gb->role && gb->role_len == rl && strncasecmp(gb->role, role, rl) == 0;
            if (!ma && !mb)
                continue;
        }
        msn_buf_puts(&edges, n_edges ? ",{\"source\":" : "{\"source\":");
        msn_json_strn(&edges, nodes[a].pk, nodes[a].pk_len);
        msn_buf_puts(&edges, ",\"target\":");
        if (bi >= 0) {
            msn_json_strn(&edges, nodes[bi].pk, nodes[bi].pk_len);
        } else {
            msn_buf_puts(&edges, "\"prefix:");
            msn_buf_append(&edges, prefix, prefix_len); /* hex */
            msn_buf_putc(&edges, '"');
        }
        msn_buf_printf(&edges, ",\"weight\":%lld,\"score\":", (long long)count);
        msn_json_double(&edges, score);
        msn_buf_puts(&edges, ",\"bidirectional\":true,\"avg_snr\":");
        if (snr_n > 0)
            msn_json_double(&edges, snr_sum / (double)snr_n);
        else
            msn_buf_puts(&edges, "null");
        msn_buf_printf(&edges, ",\"ambiguous\":%s}", amb ? "true" : "false");
        n_edges++;
        n_amb += amb != 0;
        int64_t ends[2] = {a, bi};
        for (int e = 0; e < 2; e++) {
            if (ends[e] < 0)
                continue;
            nodes[ends[e]].degree++;
            if (!nodes[ends[e]].listed) {
                nodes[ends[e]].listed = 1;
                order[n_order++] = (uint32_t)ends[e];
            }
        }
    }
    int64_t rejected = 0;
    msn_mpk_read_int(&it, &rejected);
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"nodes\":[");
    for (uint32_t i = 0; i < n_order; i++) {
        const gnode_t *g = &nodes[order[i]];
        msn_buf_puts(b, i ? ",{\"pubkey\":" : "{\"pubkey\":");
        msn_json_strn(b, g->pk, g->pk_len);
        msn_buf_puts(b, ",\"name\":");
        msn_json_strn(b, g->name ? g->name : "", g->name_len);
        msn_buf_puts(b, ",\"role\":");
        msn_json_strn(b, g->role ? g->role : "", g->role_len);
        msn_buf_printf(b, ",\"neighbor_count\":%lld}", (long long)g->degree);
    }
    msn_buf_puts(b, "],\"edges\":[");
    if (edges.len)
        msn_buf_append(b, edges.data, edges.len);
    msn_buf_printf(b, "],\"stats\":{\"total_nodes\":%u,\"total_edges\":%lld,\"ambiguous_edges\":%lld,\"avg_cluster_size\":",
                   n_order, (long long)n_edges, (long long)n_amb);
    msn_json_double(b, n_order ? (double)(n_edges * 2) / (double)n_order : 0);
    msn_buf_printf(b, ",\"rejected_edges_geo_far\":%lld}}", (long long)rejected);
    msn_buf_free(&edges);
    free(order);
    free(nodes);
    free(obs);
    r->status = 200;
    return;
bad:
    free(nodes);
    free(obs);
    msn_api_error(r, 500, "neighbour graph document malformed");
}
