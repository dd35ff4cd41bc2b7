/* route.c: the route table and path matching; see route.h. */
#include "route.h"

#include <stdint.h>
#include <string.h>

#define MSN_ROUTE__ENTRY(id, method, pattern, cache, snapshot)                                               \
    [MSN_ROUTE_##id] = {MSN_METHOD_##method, pattern, MSN_CACHE_##cache, snapshot},
const msn_route_t msn_routes[MSN_ROUTE_COUNT] = {MSN_ROUTES(MSN_ROUTE__ENTRY)};
#undef MSN_ROUTE__ENTRY

const char *msn_cache_policy_directive(msn_cache_policy_t c)
{
    switch (c) {
    case MSN_CACHE_LIVE: return "no-store";
    case MSN_CACHE_REVALIDATE: return "no-cache";
    case MSN_CACHE_PUBLISHED: return "public, max-age";
    }
    return "no-store";
}

/* Matches path against one pattern. On a match returns 1 with *score (one bit per
 * segment, most significant first, set for a literal segment) and params filled. */
static int match_one(const char *pattern, const char *path, uint32_t *score, msn_route_params_t *params)
{
    const char *p = pattern, *q = path;
    uint32_t s = 0;
    params->n = 0;
    while (*p == '/' && *q == '/') {
        p++;
        q++;
        size_t pl = strcspn(p, "/"), ql = strcspn(q, "/");
        if (*p == ':') {
            if (ql == 0 || params->n == MSN_ROUTE_MAX_PARAMS)
                return 0;
            params->v[params->n].at = q;
            params->v[params->n].len = ql;
            params->n++;
            s <<= 1;
        } else {
            if (pl != ql || memcmp(p, q, pl) != 0)
                return 0;
            s = s << 1 | 1u;
        }
        p += pl;
        q += ql;
    }
    if (*p != '\0' || *q != '\0')
        return 0;
    *score = s;
    return 1;
}

/* The best route for path among those whose method is in the bitmask `methods`. */
static int best_route(const char *path, unsigned methods, msn_route_params_t *params)
{
    int best = -1;
    uint32_t best_score = 0;
    msn_route_params_t cur, scratch;
    if (params == NULL)
        params = &scratch;
    params->n = 0;
    for (int i = 0; i < MSN_ROUTE_COUNT; i++) {
        uint32_t score;
        if (!(methods & (1u << msn_routes[i].method)))
            continue;
        /* patterns that match the same path have as many segments: the scores compare */
        if (match_one(msn_routes[i].pattern, path, &score, &cur) && (best < 0 || score > best_score)) {
            best = i;
            best_score = score;
            *params = cur;
        }
    }
    return best;
}

int msn_route_match(const char *path, msn_route_params_t *params)
{
    return best_route(path, ~0u, params);
}

int msn_route_find(const char *path, const char *method, msn_route_params_t *params, unsigned *allowed)
{
    unsigned want = 0;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        want = 1u << MSN_METHOD_GET;
    else if (strcmp(method, "POST") == 0)
        want = 1u << MSN_METHOD_POST;
    else if (strcmp(method, "PUT") == 0)
        want = 1u << MSN_METHOD_PUT;
    if (allowed)
        *allowed = 0;
    int id = want ? best_route(path, want, params) : -1;
    if (id >= 0 || allowed == NULL)
        return id;
    for (int i = 0; i < MSN_ROUTE_COUNT; i++) {
        uint32_t score;
        msn_route_params_t scratch;
        if (match_one(msn_routes[i].pattern, path, &score, &scratch))
            *allowed |= 1u << msn_routes[i].method;
    }
    return -1;
}

const char *msn_method_allow(msn_method_t m)
{
    switch (m) {
    case MSN_METHOD_GET: return "GET, HEAD";
    case MSN_METHOD_POST: return "POST";
    case MSN_METHOD_PUT: return "PUT";
    }
    return "GET, HEAD";
}

int msn_route_param_index(int id, const char *name)
{
    if (id < 0 || id >= MSN_ROUTE_COUNT)
        return -1;
    size_t nl = strlen(name);
    int k = 0;
    for (const char *p = msn_routes[id].pattern; (p = strchr(p, '/')) != NULL;) {
        p++;
        size_t l = strcspn(p, "/");
        if (*p == ':') {
            if (l - 1 == nl && memcmp(p + 1, name, nl) == 0)
                return k;
            k++;
        }
        p += l;
    }
    return -1;
}
