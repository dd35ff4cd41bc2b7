/*
 * api_hops.c: GET /api/resolve-hops and POST /api/paths/inspect: path hops resolved to
 * relay nodes from the relay document and the nodes' neighbour documents (shm/entdoc.h).
 * Both work on their request's input only (bounded: at most MAX_HOPS hops, a 4 KiB
 * body), with document lookups; neither touches the whole mesh.
 *
 * resolve-hops (CoreScope handleResolveHops): per hop its relay candidates (keys starting
 * with it, 2..8 characters, or equal to it); several are ranked with the context keys
 * (from_node, observer) by CoreScope's tiers: neighbour affinity (score x observer
 * confidence at least 3x the runner-up's, 3+ sightings), geographic proximity to the
 * context relays with a position, the GPS candidate with the most adverts, the candidate
 * with the most adverts (ties to the lower key); listener-only observers are left out of
 * the ranking but stay listed.
 *
 * paths/inspect (CoreScope path_inspect.go): a beam search (width 20) over the relay
 * candidates of each prefix, each hop scored 0.35 x edge score + 0.20 x geographic
 * plausibility (1, or 50 km / distance beyond 50 km, at least 0.1) + 0.15 x recency
 * (1 within 24 h of the edge's last sighting, else 24 h / age, at least 0.1) + 0.30 x
 * 1 / candidates, at least 0.05; a path's score is the geometric mean of its hops'.
 * Departure: CoreScope caches a result for 30 s; every request computes here (the work
 * is bounded by the input).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entapi.h"
#include "shm/entdoc.h"
#include "shm/json.h"

#define MAX_HOPS 64
#define BEAM 20
#define INSPECT_BODY_MAX 4096

/* ---- neighbour lookups, cached per request ---- */

typedef struct {
    const char *pk;
    uint32_t pk_len;
    int64_t count, last_s, n_obs;
} nbrlink_t;

typedef struct {
    char id[65];
    nbrlink_t *v;
    uint32_t n;
} nset_t;

typedef struct {
    msn_api_req_t *r;
    nset_t *sets;
    uint32_t n, cap;
} ncache_t;

/* The resolved neighbours of a node (lowercase key); an empty set when it has none. */
static const nset_t *neighbours(ncache_t *c, const char *pk)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->sets[i].id, pk) == 0)
            return &c->sets[i];
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->sets = msn_xrealloc(c->sets, (size_t)c->cap * sizeof(*c->sets));
    }
    nset_t *s = &c->sets[c->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", pk);
    msn_mpk_reader_t it;
    uint32_t n;
    if (strlen(pk) != 64 || msn_api_nbr_open(c->r, pk, &it, &n) != 0)
        return s;
    s->v = msn_xcalloc((size_t)n + 1, sizeof(*s->v));
    for (uint32_t i = 0; i < n; i++) {
        msn_nbr_t e;
        if (msn_api_nbr_next(&it, &e) < 0)
            break;
        if (e.ambiguous || e.pk == NULL)
            continue;
        msn_mpk_reader_t o = e.observers;
        uint32_t no = 0;
        msn_mpk_read_array(&o, &no);
        s->v[s->n++] = (nbrlink_t){e.pk, e.pk_len, e.count, e.last_s, no};
    }
    return s;
}

static void ncache_free(ncache_t *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        free(c->sets[i].v);
    free(c->sets);
}

static const nbrlink_t *link_to(const nset_t *s, const char *pk)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].pk_len == 64 && memcmp(s->v[i].pk, pk, 64) == 0)
            return &s->v[i];
    return NULL;
}

static double confidence(int64_t n_obs)
{
    double n = n_obs < 1 ? 1 : (double)n_obs;
    return n / 3.0 > 1 ? 1 : n / 3.0;
}

static void lower(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)tolower((unsigned char)s[i]);
    dst[n] = '\0';
}

/* ---- resolve-hops ---- */

typedef struct {
    uint32_t idx; /* into the relays */
    double affinity;
    int has_affinity;
} cand_t;

static void cand_json(msn_buf_t *b, const msn_relay_t *x, const cand_t *c)
{
    msn_buf_puts(b, "{\"name\":");
    if (x->name && x->name_len)
        msn_json_strn(b, x->name, x->name_len);
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"pubkey\":");
    msn_json_strn(b, x->pk, 64);
    msn_buf_puts(b, ",\"lat\":");
    if (x->gps)
        msn_json_double(b, x->lat);
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"lon\":");
    if (x->gps)
        msn_json_double(b, x->lon);
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"affinityScore\":");
    if (c->has_affinity)
        msn_json_double(b, c->affinity);
    else
        msn_buf_puts(b, "null");
    msn_buf_putc(b, '}');
}

static int better_by_adverts(const msn_relay_t *a, const msn_relay_t *b)
{
    if (a->adverts != b->adverts)
        return a->adverts > b->adverts;
    return memcmp(a->pk, b->pk, 64) < 0;
}

/* CoreScope's resolveWithContext over cands[0..n): the chosen relay index or -1, and the
 * tier's label. */
static int32_t resolve_ctx(const msn_relay_t *rl, uint32_t n_rl, const cand_t *cands, uint32_t n, char ctx[2][65],
                           int n_ctx, ncache_t *nc, int64_t now_ms, const char **conf)
{
    uint32_t f[256], nf = 0;
    for (uint32_t i = 0; i < n && nf < 256; i++)
        if (!rl[cands[i].idx].listener)
            f[nf++] = cands[i].idx;
    *conf = "no_match";
    if (nf == 0)
        return -1;
    if (nf == 1) {
        *conf = "unique_prefix";
        return (int32_t)f[0];
    }
    if (n_ctx > 0) { /* tier 1: affinity */
        double best = 0, second = 0;
        int64_t best_count = 0;
        int32_t bi = -1;
        for (uint32_t i = 0; i < nf; i++) {
            double sc = 0;
            int64_t cnt = 0;
            for (int k = 0; k < n_ctx; k++) {
                const nbrlink_t *l = link_to(neighbours(nc, ctx[k]), rl[f[i]].pk);
                if (l) {
                    double s = msn_api_nbr_score(l->count, l->last_s, now_ms) * confidence(l->n_obs);
                    if (s > sc) {
                        sc = s;
                        cnt = l->count;
                    }
                }
            }
            if (sc <= 0)
                continue;
            if (sc > best) {
                second = best;
                best = sc;
                best_count = cnt;
                bi = (int32_t)f[i];
            } else if (sc > second) {
                second = sc;
            }
        }
        if (bi >= 0 && best_count >= 3 && (second == 0 || best >= 3.0 * second)) {
            *conf = "neighbor_affinity";
            return bi;
        }
    }
    if (n_ctx > 0) { /* tier 2: geographic proximity to the context relays with a position */
        double lat = 0, lon = 0;
        int g = 0;
        for (int k = 0; k < n_ctx; k++) {
            uint32_t first;
            if (msn_api_relay_range(rl, n_rl, ctx[k], strlen(ctx[k]), &first) == 1 && rl[first].gps) {
                lat += rl[first].lat;
                lon += rl[first].lon;
                g++;
            }
        }
        if (g > 0) {
            lat /= g;
            lon /= g;
            double bd = INFINITY;
            int32_t bi = -1;
            for (uint32_t i = 0; i < nf; i++) {
                const msn_relay_t *c = &rl[f[i]];
                if (!c->gps)
                    continue;
                double dlat = (c->lat - lat) * M_PI / 180;
                double dlon = (c->lon - lon) * M_PI / 180 * cos((lat + c->lat) / 2 * M_PI / 180);
                double d = sqrt(dlat * dlat + dlon * dlon);
                if (d < bd) {
                    bd = d;
                    bi = (int32_t)f[i];
                }
            }
            if (bi >= 0) {
                *conf = "geo_proximity";
                return bi;
            }
        }
    }
    int32_t bg = -1, ba = -1;
    for (uint32_t i = 0; i < nf; i++) {
        const msn_relay_t *c = &rl[f[i]];
        if (c->gps && (bg < 0 || better_by_adverts(c, &rl[bg])))
            bg = (int32_t)f[i];
        if (ba < 0 || better_by_adverts(c, &rl[ba]))
            ba = (int32_t)f[i];
    }
    if (bg >= 0) {
        *conf = "gps_preference";
        return bg;
    }
    *conf = "observation_count_fallback";
    return ba;
}

typedef struct {
    const char *s;
    size_t n;
} hopref_t;

static int hopref_cmp(const void *a, const void *b)
{
    const hopref_t *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n < y->n ? -1 : x->n > y->n);
}

void msn_api_resolve_hops(msn_api_req_t *r)
{
    const char *hops = msn_api_param(r, "hops");
    msn_buf_t *b = r->body;
    if (hops == NULL || *hops == '\0') {
        msn_buf_puts(b, "{\"resolved\":{}}");
        r->status = 200;
        return;
    }
    hopref_t hl[MAX_HOPS];
    int nh = 0;
    for (const char *p = hops;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0) {
            int dup = 0;
            for (int i = 0; i < nh && !dup; i++)
                dup = hl[i].n == n && memcmp(hl[i].s, p, n) == 0;
            if (!dup) {
                if (nh == MAX_HOPS) {
                    msn_api_error(r, 400, "invalid hops: at most %d distinct hops", MAX_HOPS);
                    return;
                }
                hl[nh++] = (hopref_t){p, n};
            }
        }
        if (!e)
            break;
        p = e + 1;
    }
    /* the resolved map is a Go map: keys sorted */
    qsort(hl, (size_t)nh, sizeof(*hl), hopref_cmp);
    msn_relay_t *rl;
    int n_rl = msn_api_relays(r, &rl);
    if (n_rl < 0) {
        r->retry_after = 5;
        msn_api_error(r, 503, "the relay list is being computed; retry shortly");
        return;
    }
    char ctx[2][65];
    int n_ctx = 0;
    const char *cv[2] = {msn_api_param(r, "from_node"), msn_api_param(r, "observer")};
    for (int i = 0; i < 2; i++)
        if (cv[i] && *cv[i])
            lower(ctx[n_ctx++], sizeof(ctx[0]), cv[i], strlen(cv[i]));
    ncache_t nc = {r, NULL, 0, 0};
    msn_buf_puts(b, "{\"resolved\":{");
    for (int h = 0; h < nh; h++) {
        char low[300];
        lower(low, sizeof(low), hl[h].s, hl[h].n);
        uint32_t first, n = hl[h].n < sizeof(low) ? msn_api_relay_range(rl, (uint32_t)n_rl, low, hl[h].n, &first) : 0;
        if (h)
            msn_buf_putc(b, ',');
        msn_json_strn(b, hl[h].s, hl[h].n);
        msn_buf_putc(b, ':');
        if (n == 0) {
            msn_buf_puts(b, "{\"name\":null,\"candidates\":[],\"conflicts\":[],\"confidence\":\"no_match\"}");
            continue;
        }
        cand_t cands[256];
        if (n > 256)
            n = 256;
        for (uint32_t i = 0; i < n; i++)
            cands[i] = (cand_t){first + i, 0, 0};
        if (n > 1 && n_ctx > 0) {
            for (uint32_t i = 0; i < n; i++)
                for (int k = 0; k < n_ctx; k++) {
                    const nbrlink_t *l = link_to(neighbours(&nc, ctx[k]), rl[cands[i].idx].pk);
                    double s = l ? msn_api_nbr_score(l->count, l->last_s, r->now_ms) : 0;
                    if (s > cands[i].affinity) {
                        cands[i].affinity = s;
                        cands[i].has_affinity = 1;
                    }
                }
        }
        const msn_relay_t *pick = &rl[cands[0].idx];
        const char *conf = "unique_prefix";
        int32_t best = -1;
        if (n > 1) {
            best = resolve_ctx(rl, (uint32_t)n_rl, cands, n, ctx, n_ctx, &nc, r->now_ms, &conf);
            if (best >= 0)
                pick = &rl[best];
        }
        msn_buf_puts(b, "{\"name\":");
        if (pick->name && pick->name_len)
            msn_json_strn(b, pick->name, pick->name_len);
        else
            msn_buf_puts(b, "null");
        msn_buf_puts(b, ",\"pubkey\":");
        msn_json_strn(b, pick->pk, 64);
        if (n > 1)
            msn_buf_puts(b, ",\"ambiguous\":true");
        for (int list = 0; list < 2; list++) {
            msn_buf_puts(b, list ? ",\"conflicts\":[" : ",\"candidates\":[");
            for (uint32_t i = 0; i < n && (list == 0 || n > 1); i++) {
                if (i)
                    msn_buf_putc(b, ',');
                cand_json(b, &rl[cands[i].idx], &cands[i]);
            }
            msn_buf_putc(b, ']');
        }
        if (n > 1 && best >= 0 && strcmp(conf, "neighbor_affinity") == 0) {
            msn_buf_puts(b, ",\"bestCandidate\":");
            msn_json_strn(b, rl[best].pk, 64);
        }
        if (n > 1 && (best < 0 || strcmp(conf, "unique_prefix") == 0 || strcmp(conf, "no_match") == 0))
            conf = "ambiguous";
        msn_buf_printf(b, ",\"confidence\":\"%s\"}", conf);
    }
    msn_buf_puts(b, "}}");
    ncache_free(&nc);
    free(rl);
    r->status = 200;
}

/* ---- paths/inspect: the request body ---- */

typedef struct {
    const char *p, *end;
} jr_t;

static void ws(jr_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A string into out (cap bytes, cut; *n receives its full decoded length). */
static int jstring(jr_t *j, char *out, size_t cap, size_t *n)
{
    ws(j);
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    size_t k = 0;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if ((unsigned char)c < 0x20)
            return -1;
        if (c == '\\') {
            if (j->p >= j->end)
                return -1;
            char e = *j->p++;
            if (e == 'u') {
                if (j->end - j->p < 4)
                    return -1;
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexv(j->p[i]);
                    if (h < 0)
                        return -1;
                    v = v << 4 | (unsigned)h;
                }
                j->p += 4;
                c = v < 0x80 ? (char)v : '?'; /* only hex digits matter here */
            } else {
                const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
                const char *q = strchr(from, e);
                if (q == NULL || e == '\0')
                    return -1;
                c = to[q - from];
            }
        }
        if (k + 1 < cap)
            out[k] = c;
        k++;
    }
    if (j->p >= j->end)
        return -1;
    j->p++;
    out[k + 1 < cap ? k : cap - 1] = '\0';
    *n = k;
    return 0;
}

static int jvalue(jr_t *j, int depth);

static int jnumber(jr_t *j, int64_t *iv, int *is_int)
{
    ws(j);
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || !isdigit((unsigned char)*j->p))
        return -1;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    *is_int = 1;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        *is_int = 0;
        if (j->p >= j->end || !isdigit((unsigned char)*j->p))
            return -1;
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        *is_int = 0;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || !isdigit((unsigned char)*j->p))
            return -1;
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    }
    if (*is_int && iv) {
        char buf[32];
        size_t n = (size_t)(j->p - s);
        if (n >= sizeof(buf))
            return -1; /* beyond int64: Go's decoder refuses it for an int */
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (msn_api_go_atoi(buf, iv) < 0)
            return -1;
    }
    return 0;
}

static int jlit(jr_t *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return -1;
    j->p += n;
    return 0;
}

static int jvalue(jr_t *j, int depth)
{
    char tmp[8];
    size_t n;
    int64_t iv;
    int isint;
    if (depth > 32)
        return -1;
    ws(j);
    if (j->p >= j->end)
        return -1;
    switch (*j->p) {
    case '"': return jstring(j, tmp, sizeof(tmp), &n);
    case 't': return jlit(j, "true");
    case 'f': return jlit(j, "false");
    case 'n': return jlit(j, "null");
    case '[':
        j->p++;
        ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 0;
        }
        for (;;) {
            if (jvalue(j, depth + 1) < 0)
                return -1;
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                return 0;
            }
            return -1;
        }
    case '{':
        j->p++;
        ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return 0;
        }
        for (;;) {
            if (jstring(j, tmp, sizeof(tmp), &n) < 0)
                return -1;
            ws(j);
            if (j->p >= j->end || *j->p++ != ':' || jvalue(j, depth + 1) < 0)
                return -1;
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == '}') {
                j->p++;
                return 0;
            }
            return -1;
        }
    default: return jnumber(j, &iv, &isint);
    }
}

typedef struct {
    char prefixes[MAX_HOPS][72];
    int n, too_many, bad_len, has_prefixes;
    int64_t limit;
} inspect_req_t;

/* Go's json.Decoder.Decode into {prefixes []string, limit int, context {...}}: one value,
 * trailing bytes ignored. Returns 0, or -1 for "invalid JSON". */
static int parse_inspect(const char *body, size_t len, inspect_req_t *q)
{
    jr_t j = {body, body + len};
    memset(q, 0, sizeof(*q));
    ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return -1;
    j.p++;
    ws(&j);
    if (j.p < j.end && *j.p == '}')
        return 0;
    for (;;) {
        char key[32];
        size_t kn;
        if (jstring(&j, key, sizeof(key), &kn) < 0)
            return -1;
        ws(&j);
        if (j.p >= j.end || *j.p++ != ':')
            return -1;
        ws(&j);
        /* Go matches field names case-insensitively */
        if (kn == 8 && strcasecmp(key, "prefixes") == 0) {
            q->n = q->too_many = q->bad_len = 0;
            if (jlit(&j, "null") == 0) {
                q->has_prefixes = 0;
            } else {
                if (j.p >= j.end || *j.p != '[')
                    return -1;
                j.p++;
                q->has_prefixes = 1;
                ws(&j);
                if (j.p < j.end && *j.p == ']') {
                    j.p++;
                } else {
                    for (;;) {
                        char s[72];
                        size_t sn;
                        if (jstring(&j, s, sizeof(s), &sn) < 0)
                            return -1;
                        if (q->n < MAX_HOPS) {
                            /* longer than 71 characters: refused below as over 3 bytes */
                            if (sn >= sizeof(q->prefixes[0]))
                                q->bad_len = 1;
                            size_t cp = sn < sizeof(q->prefixes[0]) ? sn : 0;
                            memcpy(q->prefixes[q->n], s, cp);
                            q->prefixes[q->n][cp] = '\0';
                            q->n++;
                        } else {
                            q->too_many = 1;
                        }
                        ws(&j);
                        if (j.p < j.end && *j.p == ',') {
                            j.p++;
                            continue;
                        }
                        if (j.p < j.end && *j.p == ']') {
                            j.p++;
                            break;
                        }
                        return -1;
                    }
                }
            }
        } else if (kn == 5 && strcasecmp(key, "limit") == 0) {
            int isint;
            if (jlit(&j, "null") == 0)
                q->limit = 0;
            else if (jnumber(&j, &q->limit, &isint) < 0 || !isint)
                return -1;
        } else if (jvalue(&j, 0) < 0) {
            return -1;
        }
        ws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}')
            return 0;
        return -1;
    }
}

/* ---- paths/inspect: the search ---- */

typedef struct {
    uint32_t path[MAX_HOPS];
    double edge[MAX_HOPS];
    int n;
    double score;
} beam_t;

typedef struct {
    const msn_relay_t *rl;
    uint32_t n_rl;
    ncache_t nc;
    int64_t now_ms;
} search_t;

static double haversine(double lat1, double lon1, double lat2, double lon2)
{
    double r = 6371, d2r = M_PI / 180;
    double dlat = (lat2 - lat1) * d2r, dlon = (lon2 - lon1) * d2r;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * d2r) * cos(lat2 * d2r) * sin(dlon / 2) * sin(dlon / 2);
    return r * 2 * atan2(sqrt(a), sqrt(1 - a));
}

/* CoreScope's scoreHop: candidate c after the path prev[0..np). */
static double score_hop(search_t *s, const uint32_t *prev, int np, uint32_t c, uint32_t n_cands)
{
    double edge = 1, geo = 1, rec = 1;
    if (np > 0) {
        const msn_relay_t *last = &s->rl[prev[np - 1]], *cand = &s->rl[c];
        char id[65];
        memcpy(id, last->pk, 64);
        id[64] = '\0';
        const nbrlink_t *l = link_to(neighbours(&s->nc, id), cand->pk);
        if (l) {
            edge = msn_api_nbr_score(l->count, l->last_s, s->now_ms);
            double hours = ((double)s->now_ms / 1000.0 - (double)l->last_s) / 3600.0;
            rec = hours <= 24 ? 1 : fmax(0.1, 24.0 / hours);
        } else {
            edge = rec = 0;
        }
        if (last->gps && cand->gps) {
            double d = haversine(last->lat, last->lon, cand->lat, cand->lon);
            if (d > 50)
                geo = fmax(0.1, 50 / d);
        }
    }
    return 0.35 * edge + 0.20 * geo + 0.15 * rec + 0.30 / (double)n_cands;
}

static int beam_cmp(const void *a, const void *b)
{
    const beam_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    for (int i = 0; i < x->n && i < y->n; i++)
        if (x->path[i] != y->path[i])
            return x->path[i] < y->path[i] ? -1 : 1;
    return 0;
}

static double round3(double v)
{
    return round(v * 1000) / 1000;
}

typedef struct {
    uint32_t idx;
    double score;
} alt_t;

static int alt_cmp(const void *a, const void *b)
{
    const alt_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void inspect_error(msn_api_req_t *r, const char *msg)
{
    msn_buf_reset(r->body);
    msn_buf_printf(r->body, "{\"error\":\"%s\"}\n", msg); /* CoreScope's http.Error: text/plain */
    r->content_type = "text/plain; charset=utf-8";
    r->status = 400;
}

void msn_api_paths_inspect(msn_api_req_t *r)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    inspect_req_t *q = msn_xmalloc(sizeof(*q));
    if (r->req_body_len > INSPECT_BODY_MAX || r->req_body == NULL ||
        parse_inspect(r->req_body, r->req_body_len, q) < 0) {
        inspect_error(r, "invalid JSON");
        goto out;
    }
    if (!q->has_prefixes || (q->n == 0 && !q->too_many)) {
        inspect_error(r, "prefixes required");
        goto out;
    }
    if (q->too_many) {
        inspect_error(r, "too many prefixes (max 64)");
        goto out;
    }
    int plen = -1;
    for (int i = 0; i < q->n; i++) {
        char *p = q->prefixes[i];
        size_t n = strlen(p);
        while (n && isspace((unsigned char)p[n - 1]))
            p[--n] = '\0';
        size_t lead = strspn(p, " \t\r\n");
        memmove(p, p + lead, n - lead + 1);
        n -= lead;
        for (size_t k = 0; k < n; k++)
            p[k] = (char)tolower((unsigned char)p[k]);
        if (n == 0 || n % 2 != 0) {
            inspect_error(r, "prefixes must be even-length hex");
            goto out;
        }
        for (size_t k = 0; k < n; k++)
            if (hexv(p[k]) < 0) {
                inspect_error(r, "prefixes must be valid hex");
                goto out;
            }
        if (n / 2 > 3 || q->bad_len) {
            inspect_error(r, "prefix exceeds 3 bytes");
            goto out;
        }
        if (plen < 0)
            plen = (int)n;
        else if ((int)n != plen) {
            inspect_error(r, "mixed prefix lengths not allowed");
            goto out;
        }
    }
    int64_t limit = q->limit <= 0 ? 10 : q->limit > 50 ? 50 : q->limit;
    const void *g;
    size_t gl;
    msn_relay_t *rl = NULL;
    int n_rl = msn_api_relays(r, &rl);
    if (n_rl < 0 || msn_snap_doc_get(r->txn, r->snap, MSN_DOC_NEIGHBOR_GRAPH, &g, &gl, NULL, NULL) != 0) {
        free(rl);
        msn_buf_puts(r->body, "{\"retry\":true}");
        r->retry_after = 5;
        r->status = 503;
        goto out;
    }
    search_t s = {rl, (uint32_t)n_rl, {r, NULL, 0, 0}, r->now_ms};
    uint32_t first[MAX_HOPS], count[MAX_HOPS];
    beam_t *beam = msn_xcalloc(BEAM, sizeof(beam_t)), *next = NULL;
    int nb = 1, dead = 0;
    beam[0].score = 1;
    for (int h = 0; h < q->n && !dead; h++) {
        count[h] = msn_api_relay_range(rl, (uint32_t)n_rl, q->prefixes[h], strlen(q->prefixes[h]), &first[h]);
        if (count[h] == 0) {
            dead = 1;
            break;
        }
        size_t cap = (size_t)nb * count[h];
        next = msn_xrealloc(next, cap * sizeof(beam_t));
        size_t nn = 0;
        for (int e = 0; e < nb; e++)
            for (uint32_t c = 0; c < count[h]; c++) {
                double hs = score_hop(&s, beam[e].path, beam[e].n, first[h] + c, count[h]);
                if (hs < 0.05)
                    hs = 0.05;
                beam_t *x = &next[nn++];
                *x = beam[e];
                x->path[x->n] = first[h] + c;
                x->edge[x->n] = hs;
                x->n++;
                x->score = beam[e].score * hs;
            }
        qsort(next, nn, sizeof(beam_t), beam_cmp);
        nb = (int)(nn < BEAM ? nn : BEAM);
        memcpy(beam, next, (size_t)nb * sizeof(beam_t));
    }
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"candidates\":[");
    for (int e = 0; !dead && e < nb && e < limit; e++) {
        const beam_t *x = &beam[e];
        double score = x->n > 0 ? pow(x->score, 1.0 / x->n) : 0;
        msn_buf_puts(b, e ? ",{\"path\":[" : "{\"path\":[");
        for (int i = 0; i < x->n; i++) {
            if (i)
                msn_buf_putc(b, ',');
            msn_json_strn(b, rl[x->path[i]].pk, 64);
        }
        msn_buf_puts(b, "],\"names\":[");
        for (int i = 0; i < x->n; i++) {
            if (i)
                msn_buf_putc(b, ',');
            msn_json_strn(b, rl[x->path[i]].name ? rl[x->path[i]].name : "", rl[x->path[i]].name_len);
        }
        msn_buf_puts(b, "],\"score\":");
        msn_json_double(b, round3(score));
        msn_buf_printf(b, ",\"speculative\":%s,\"evidence\":{\"perHop\":[", score < 0.7 ? "true" : "false");
        for (int h = 0; h < x->n; h++) {
            msn_buf_puts(b, h ? ",{\"prefix\":" : "{\"prefix\":");
            msn_json_strn(b, q->prefixes[h], strlen(q->prefixes[h]));
            msn_buf_printf(b, ",\"candidatesConsidered\":%u,\"chosen\":", count[h]);
            msn_json_strn(b, rl[x->path[h]].pk, 64);
            msn_buf_puts(b, ",\"edgeWeight\":");
            msn_json_double(b, x->edge[h]);
            alt_t alts[256];
            uint32_t na = 0;
            for (uint32_t c = 0; c < count[h] && na < 256; c++) {
                uint32_t idx = first[h] + c;
                if (idx == x->path[h])
                    continue;
                alts[na++] = (alt_t){idx, round3(score_hop(&s, x->path, h, idx, count[h]))};
            }
            qsort(alts, na, sizeof(*alts), alt_cmp);
            if (na > 5)
                na = 5;
            if (na > 0) {
                msn_buf_puts(b, ",\"alternatives\":[");
                for (uint32_t i = 0; i < na; i++) {
                    msn_buf_puts(b, i ? ",{\"publicKey\":" : "{\"publicKey\":");
                    msn_json_strn(b, rl[alts[i].idx].pk, 64);
                    msn_buf_puts(b, ",\"name\":");
                    msn_json_strn(b, rl[alts[i].idx].name ? rl[alts[i].idx].name : "", rl[alts[i].idx].name_len);
                    msn_buf_puts(b, ",\"score\":");
                    msn_json_double(b, alts[i].score);
                    msn_buf_putc(b, '}');
                }
                msn_buf_putc(b, ']');
            }
            msn_buf_putc(b, '}');
        }
        msn_buf_puts(b, "]}}");
    }
    msn_buf_printf(b, "],\"input\":{\"hops\":%d,\"prefixes\":[", q->n);
    for (int i = 0; i < q->n; i++) {
        if (i)
            msn_buf_putc(b, ',');
        msn_json_strn(b, q->prefixes[i], strlen(q->prefixes[i]));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ms = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    msn_buf_printf(b, "]},\"stats\":{\"beamWidth\":%d,\"elapsedMs\":%lld,\"expansionsRun\":%d}}", BEAM, (long long)ms,
                   q->n * BEAM);
    r->status = 200;
    free(beam);
    free(next);
    ncache_free(&s.nc);
    free(rl);
out:
    free(q);
}
