/* packets_plan.c: see packets_plan.h. */
#include "packets_plan.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "shm/timeutil.h"

/* The times a since/until may name: years 0000 to 9999. */
#define TIME_MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00Z */
#define TIME_MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

static int parse_small_int(const msn_api_req_t *r, const char *name, int max, int *has, int *out,
                           const char *what, char *err, size_t errlen)
{
    int64_t v;
    int rc = msn_api_int_param(r, name, &v);
    if (rc == -3) {
        snprintf(err, errlen, "invalid %s: characters after the number (expected a %s number 0-%d)", name, what,
                 max);
        return -1;
    }
    if (rc < 0 || (rc == 0 && (v < 0 || v > max))) {
        snprintf(err, errlen, "invalid %s: expected a %s number 0-%d", name, what, max);
        return -1;
    }
    if (rc == 0) {
        *has = 1;
        *out = (int)v;
    }
    return 0;
}

static int parse_time(const msn_api_req_t *r, const char *name, int *has, int64_t *ms, char *err,
                      size_t errlen)
{
    const char *v = msn_api_param(r, name);
    if (v == NULL || *v == '\0')
        return 0;
    if (msn_parse_time_ms(v, ms) < 0) {
        snprintf(err, errlen, "invalid %s: expected an ISO-8601 time such as 2026-01-02T15:04:05Z", name);
        return -1;
    }
    if (*ms < TIME_MIN_MS || *ms > TIME_MAX_MS) {
        snprintf(err, errlen, "invalid %s: out of range (years 0000 to 9999)", name);
        return -1;
    }
    *has = 1;
    return 0;
}

static int parse_region(const char *in, char out[200], char *err, size_t errlen)
{
    size_t o = 0;
    out[0] = '\0';
    if (in == NULL || *in == '\0')
        return 0;
    for (const char *c = in; *c && o + 1 < 200; c++) {
        if (!isalnum((unsigned char)*c) && *c != ',' && *c != ' ' && *c != '-' && *c != '_') {
            snprintf(err, errlen, "invalid region: expected comma-separated IATA codes");
            return -1;
        }
        out[o++] = (char)toupper((unsigned char)*c);
    }
    out[o] = '\0';
    if (strcmp(out, "ALL") == 0)
        out[0] = '\0';
    return 0;
}

/* A content hash is hex, at most 64 characters; anything else (the frontend's search box
 * sends whatever was typed) matches nothing, as in CoreScope, rather than being refused. */
static void parse_hash(const char *in, char out[65], int *nomatch)
{
    out[0] = '\0';
    *nomatch = 0;
    if (in == NULL || *in == '\0')
        return;
    size_t n = strlen(in);
    int ok = n <= 64;
    for (size_t i = 0; i < n && ok; i++)
        ok = isxdigit((unsigned char)in[i]) != 0;
    if (!ok) {
        *nomatch = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '\0';
}

/* The published first page answers: no parameter but limit=50, offset=0 and an order
 * other than asc. */
static int is_default_page(const msn_api_req_t *r)
{
    for (int i = 0; i < r->nq; i++) {
        const char *n = r->q[i].name, *v = r->q[i].value;
        if (strcmp(n, "limit") == 0 && strcmp(v, "50") == 0)
            continue;
        if (strcmp(n, "offset") == 0 && strcmp(v, "0") == 0)
            continue;
        if (strcmp(n, "order") == 0 && strcmp(v, "asc") != 0)
            continue;
        return 0;
    }
    return 1;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

int msn_pk_parse(const msn_api_req_t *r, msn_pk_query_t *q, char *err, size_t errlen)
{
    memset(q, 0, sizeof(*q));
    q->default_page = is_default_page(r);
    msn_pk_filter_t *f = &q->filter;
    if (parse_small_int(r, "type", 15, &f->has_type, &f->type, "payload type", err, errlen) < 0 ||
        parse_small_int(r, "route", 3, &f->has_route, &f->route, "route type", err, errlen) < 0 ||
        parse_time(r, "since", &f->has_since, &f->since_ms, err, errlen) < 0 ||
        parse_time(r, "until", &f->has_until, &f->until_ms, err, errlen) < 0 ||
        msn_api_limit(r, MSN_PK_LIMIT_DEFAULT, MSN_PK_LIMIT_MAX, &q->limit, err, errlen) < 0 ||
        msn_api_offset(r, &q->offset, err, errlen) < 0 ||
        parse_region(msn_api_param(r, "region"), q->region, err, errlen) < 0)
        return -1;
    parse_hash(msn_api_param(r, "hash"), q->hash, &q->hash_nomatch);
    const char *order = msn_api_param(r, "order");
    q->asc = order && strcmp(order, "asc") == 0;
    const char *grp = msn_api_param(r, "groupByHash");
    q->grouped = grp && (strcmp(grp, "true") == 0 || strcmp(grp, "1") == 0);
    const char *exp = msn_api_param(r, "expand");
    q->expand = exp && strstr(exp, "observations") != NULL;
    q->observer = nonempty(msn_api_param(r, "observer"));
    q->channel = nonempty(msn_api_param(r, "channel"));
    q->node = nonempty(msn_api_param(r, "node"));
    return 0;
}

static void add_list(msn_pk_plan_t *p, msn_fx_kind_t kind, const char *values, int split)
{
    if (values == NULL || *values == '\0')
        return;
    msn_pk_list_t *l = &p->lists[p->n_lists++];
    l->kind = kind;
    l->values = values;
    l->split = split;
}

void msn_pk_plan(const msn_pk_query_t *q, const char *node_key, int node_missing, msn_pk_plan_t *p)
{
    memset(p, 0, sizeof(*p));
    p->filter = q->filter;
    p->offset = q->offset;
    p->limit = q->limit;
    p->rows = q->grouped ? MSN_PK_ROWS_GROUPED : q->expand ? MSN_PK_ROWS_EXPANDED : MSN_PK_ROWS_PLAIN;
    p->order = q->grouped ? MSN_PK_BY_LATEST : q->asc ? MSN_PK_BY_ID_ASC : MSN_PK_BY_ID_DESC;
    /* the list filters, in the order they are intersected */
    add_list(p, MSN_FX_OBSERVER, q->observer, 1);
    add_list(p, MSN_FX_REGION, q->region, 1);
    add_list(p, MSN_FX_NODE, node_key, 0);
    add_list(p, MSN_FX_CHANNEL, q->channel, 0);
    const msn_pk_filter_t *f = &q->filter;
    if (node_missing || q->hash_nomatch) {
        p->strategy = MSN_PK_EMPTY;
        p->n_lists = 0;
    } else if (q->hash[0]) {
        p->strategy = MSN_PK_HASH;
        p->hash = q->hash;
    } else if (p->n_lists > 0) {
        p->strategy = MSN_PK_LISTS;
    } else if (q->grouped) {
        p->strategy = MSN_PK_LATEST;
    } else if ((f->has_since || f->has_until) && !f->has_type && !f->has_route) {
        p->strategy = MSN_PK_TIME;
    } else {
        /* the narrowest fixed list; the entries check what it does not select */
        p->strategy = MSN_PK_WALK;
        if (f->has_type) {
            p->walk_kind = MSN_FX_TYPE;
            p->walk_value = (uint8_t)f->type;
            p->filter.has_type = 0;
        } else if (f->has_route) {
            p->walk_kind = MSN_FX_ROUTE;
            p->walk_value = (uint8_t)f->route;
            p->filter.has_route = 0;
        } else {
            p->walk_kind = MSN_FX_ALL;
        }
    }
}

int msn_pk_filter_active(const msn_pk_filter_t *f)
{
    return f->has_type || f->has_route || f->has_since || f->has_until;
}

int msn_pk_in_page(int64_t pos, int64_t offset, int64_t limit)
{
    return pos >= offset && pos - offset < limit;
}
