/*
 * roles.c: /api/analytics/roles (CoreScope computeRoleAnalytics).
 *
 * Every node is counted under its role (trimmed, lower-cased, "unknown" when empty).
 * Nodes with a fleet clock-skew entry (clock_skew.c) add their |recent median skew| (or
 * |last skew| when that is 0) to the role's mean and median (rounded to 0.01 as
 * CoreScope's round() does) and their severity to the role's ok/warning/critical/
 * absurd/no_clock counts (bimodal_clock is counted in none, as in CoreScope). Roles are
 * ordered by node count (descending), then name.
 */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shm/json.h"

typedef struct {
    int64_t nodes, with_skew, ok, warning, critical, absurd, no_clock;
    double *abs;
    size_t n_abs, cap_abs;
} role_t;

typedef struct {
    uint32_t idx;
    int64_t nodes;
    const char *name;
    size_t n;
} rrank_t;

static int rrank_cmp(const void *a, const void *b)
{
    const rrank_t *x = a, *y = b;
    if (x->nodes != y->nodes)
        return x->nodes > y->nodes ? -1 : 1;
    int c = memcmp(x->name, y->name, x->n < y->n ? x->n : y->n);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

int msn_an__roles(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    an_skew_t k;
    msn_an__skew_compute(c, &k);
    const an_nodeskew_t **skew = msn_xcalloc(s->n_nodes ? s->n_nodes : 1, sizeof(*skew));
    for (uint32_t i = 0; i < k.n; i++)
        if (k.nodes[i].node >= 0)
            skew[k.nodes[i].node] = &k.nodes[i];
    an_map_t roles;
    msn_an__map_init(&roles);
    role_t *r = NULL;
    size_t r_cap = 0;
    msn_buf_t name = MSN_BUF_INIT;
    int64_t total = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *nd = &s->nodes[i];
        if (nd->public_key == NULL)
            continue;
        const char *role = msn_an__s(nd->role);
        size_t l = strlen(role);
        while (l > 0 && isspace((unsigned char)*role)) {
            role++;
            l--;
        }
        while (l > 0 && isspace((unsigned char)role[l - 1]))
            l--;
        msn_buf_reset(&name);
        if (l == 0)
            msn_buf_puts(&name, "unknown");
        for (size_t q = 0; q < l; q++)
            msn_buf_putc(&name, (char)tolower((unsigned char)role[q]));
        int is_new;
        uint32_t e = msn_an__map_intern(&roles, name.data, name.len, &is_new);
        if (is_new) {
            AN_RESERVE(r, r_cap, (size_t)e + 1);
            memset(&r[e], 0, sizeof(r[e]));
        }
        role_t *b = &r[e];
        b->nodes++;
        total++;
        const an_nodeskew_t *ns = skew[i];
        if (ns == NULL)
            continue;
        b->with_skew++;
        double a = fabs(ns->recent_median);
        if (a == 0)
            a = fabs(ns->last);
        AN_RESERVE(b->abs, b->cap_abs, b->n_abs + 1);
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
    rrank_t *rk = msn_xmalloc((roles.n ? roles.n : 1) * sizeof(*rk));
    for (uint32_t e = 0; e < roles.n; e++)
        rk[e] = (rrank_t){e, r[e].nodes, roles.keys[e], roles.klen[e]};
    msn_an__qsort(rk, roles.n, sizeof(*rk), rrank_cmp);
    msn_buf_puts(out, "{\"totalNodes\":");
    msn_buf_put_i64(out, total);
    msn_buf_puts(out, ",\"roles\":[");
    for (uint32_t i = 0; i < roles.n; i++) {
        role_t *b = &r[rk[i].idx];
        double mean = 0, median = 0;
        if (b->n_abs > 0) {
            double sum = 0;
            for (size_t q = 0; q < b->n_abs; q++)
                sum += b->abs[q];
            mean = msn_an__round_trunc(sum / (double)b->n_abs, 2);
            median = msn_an__round_trunc(msn_an__median(b->abs, b->n_abs), 2);
        }
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"role\":");
        msn_an__strn(out, rk[i].name, rk[i].n);
        msn_buf_puts(out, ",\"nodeCount\":");
        msn_buf_put_i64(out, b->nodes);
        msn_buf_puts(out, ",\"withSkew\":");
        msn_buf_put_i64(out, b->with_skew);
        msn_buf_puts(out, ",\"meanAbsSkewSec\":");
        msn_json_double(out, mean);
        msn_buf_puts(out, ",\"medianAbsSkewSec\":");
        msn_json_double(out, median);
        msn_buf_puts(out, ",\"okCount\":");
        msn_buf_put_i64(out, b->ok);
        msn_buf_puts(out, ",\"warningCount\":");
        msn_buf_put_i64(out, b->warning);
        msn_buf_puts(out, ",\"criticalCount\":");
        msn_buf_put_i64(out, b->critical);
        msn_buf_puts(out, ",\"absurdCount\":");
        msn_buf_put_i64(out, b->absurd);
        msn_buf_puts(out, ",\"noClockCount\":");
        msn_buf_put_i64(out, b->no_clock);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "]}");
    for (uint32_t e = 0; e < roles.n; e++)
        free(r[e].abs);
    free(r);
    free(rk);
    free(skew);
    msn_buf_free(&name);
    msn_an__map_free(&roles);
    msn_an__skew_free(&k);
    return 0;
}
