/*
 * roles.c: /api/analytics/roles (CoreScope computeRoleAnalytics).
 *
 * Every node is counted under its role (trimmed, lower-cased, "unknown" when empty).
 * Nodes with a fleet clock-skew entry (clock_skew.c) add their |recent median skew| (or
 * |last skew| when that is 0) to the role's mean and median (rounded to 0.01 as
 * CoreScope's round() does) and their severity to the role's ok/warning/critical/
 * absurd/no_clock counts (bimodal_clock is counted in none, as in CoreScope). Roles are
 * ordered by node count (descending), then name.
 *
 * Phases: the fleet skew (msn_an__skew_compute), collect (one pass over the nodes), rank
 * (roles by node count), render.
 */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "shm/json.h"

/* A role (the value of the role map, keyed by its normalised name). */
typedef struct {
    int64_t nodes, with_skew, ok, warning, critical, absurd, no_clock;
    double *abs;
    size_t n_abs, cap_abs;
} role_t;

typedef struct {
    const an_ctx_t *c;
    msn_arena_t *a;
    const an_nodeskew_t **skew; /* per node index, NULL without an entry */
    an_map_t roles;             /* name -> role_t */
    msn_buf_t *name;
    int64_t total;
    an_rank_t *rank;
} roles_t;

/* The role's key: trimmed, lower-case, "unknown" when empty. */
static void role_name(msn_buf_t *name, const char *role)
{
    size_t l = strlen(role);
    while (l > 0 && isspace((unsigned char)*role)) {
        role++;
        l--;
    }
    while (l > 0 && isspace((unsigned char)role[l - 1]))
        l--;
    msn_buf_reset(name);
    if (l == 0)
        msn_buf_puts(name, "unknown");
    for (size_t q = 0; q < l; q++)
        msn_buf_putc(name, (char)tolower((unsigned char)role[q]));
}

static void add_skew(roles_t *j, role_t *b, const an_nodeskew_t *ns)
{
    b->with_skew++;
    double a = fabs(ns->recent_median);
    if (a == 0)
        a = fabs(ns->last);
    AN_GROW(j->a, b->abs, b->cap_abs, b->n_abs + 1);
    b->abs[b->n_abs++] = a;
    if (strcmp(ns->severity, "ok") == 0)
        b->ok++;
    else if (strcmp(ns->severity, "warning") == 0)
        b->warning++;
    else if (strcmp(ns->severity, "critical") == 0)
        b->critical++;
    else if (strcmp(ns->severity, "absurd") == 0)
        b->absurd++;
    else if (strcmp(ns->severity, "no_clock") == 0)
        b->no_clock++;
}

static void collect(roles_t *j)
{
    const msn_store_t *s = j->c->s;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *nd = &s->nodes[i];
        if (nd->public_key == NULL)
            continue;
        role_name(j->name, msn_an__s(nd->role));
        role_t *b = msn_an__map_val(&j->roles, msn_an__map_intern(&j->roles, j->name->data, j->name->len, NULL));
        b->nodes++;
        j->total++;
        if (j->skew[i] != NULL)
            add_skew(j, b, j->skew[i]);
    }
}

static void rank(roles_t *j)
{
    j->rank = AN_ARRAY(j->a, an_rank_t, j->roles.n);
    for (uint32_t e = 0; e < j->roles.n; e++)
        j->rank[e] = (an_rank_t){j->roles.keys[e], j->roles.klen[e], e,
                                 ((const role_t *)msn_an__map_val(&j->roles, e))->nodes};
    msn_an__qsort(j->rank, j->roles.n, sizeof(an_rank_t), msn_an__rank_cmp);
}

static void render_role(msn_buf_t *out, const an_rank_t *r, role_t *b)
{
    double mean = 0, median = 0;
    if (b->n_abs > 0) {
        double sum = 0;
        for (size_t q = 0; q < b->n_abs; q++)
            sum += b->abs[q];
        mean = msn_an__round_trunc(sum / (double)b->n_abs, 2);
        median = msn_an__round_trunc(msn_an__median(b->abs, b->n_abs), 2);
    }
    msn_an__open(out, NULL, '{');
    msn_an__kstrn(out, "role", r->key, r->kn);
    msn_an__ki64(out, "nodeCount", b->nodes);
    msn_an__ki64(out, "withSkew", b->with_skew);
    msn_an__kdbl(out, "meanAbsSkewSec", mean);
    msn_an__kdbl(out, "medianAbsSkewSec", median);
    msn_an__ki64(out, "okCount", b->ok);
    msn_an__ki64(out, "warningCount", b->warning);
    msn_an__ki64(out, "criticalCount", b->critical);
    msn_an__ki64(out, "absurdCount", b->absurd);
    msn_an__ki64(out, "noClockCount", b->no_clock);
    msn_buf_putc(out, '}');
}

int msn_an__roles(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    roles_t *j = AN_NEW(c, roles_t);
    j->c = c;
    j->a = c->arena;
    const an_skew_t *k = msn_an__skew_compute(c);
    j->skew = AN_ARRAY(j->a, const an_nodeskew_t *, c->s->n_nodes);
    for (uint32_t i = 0; i < k->n; i++)
        if (k->nodes[i].node >= 0)
            j->skew[k->nodes[i].node] = &k->nodes[i];
    msn_an__map_init(&j->roles, j->a, sizeof(role_t));
    j->name = msn_an__buf(c);
    collect(j);
    rank(j);
    msn_buf_putc(out, '{');
    msn_an__ki64(out, "totalNodes", j->total);
    msn_an__open(out, "roles", '[');
    for (uint32_t i = 0; i < j->roles.n; i++)
        render_role(out, &j->rank[i], msn_an__map_val(&j->roles, j->rank[i].idx));
    msn_buf_puts(out, "]}");
    return 0;
}
