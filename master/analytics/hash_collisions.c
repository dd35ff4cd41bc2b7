/*
 * hash_collisions.c: /api/analytics/hash-collisions (CoreScope computeHashCollisions).
 *
 * Nodes (with a region: those whose key appears as a pubKey/public_key in the decoded
 * payload of a transmission heard in the region, or that observed such a transmission)
 * carry their advert hash size from the last 7 days (msn_an__hsinfo). For each prefix
 * size 1..3 the repeaters (role exactly "repeater") using that size are grouped by the
 * upper-case prefix of their key; a prefix shared by several is a collision, classified
 * by the largest pairwise great-circle distance among members with a position (lat/lon
 * not both 0): local < 50 km, regional < 200 km, distant otherwise, incomplete with fewer
 * than two positioned members. Collisions are ordered local, regional, distant,
 * incomplete, then by member count (descending), then by prefix.
 *
 * Size 1 also lists all 256 one-byte cells, into which 2- and 3-byte repeaters are
 * projected by their first byte (they occupy that byte in 1-byte routing too); size 2
 * lists per first byte its 2-byte repeaters and their 2-byte prefixes. Nodes inside a
 * list keep the store's node order. A position that is not finite counts as none.
 *
 * Phases: collect (the advert facts, then with a region one pass for the region's
 * nodes; the nodes), merge (per size: the repeaters by prefix and their collisions), rank
 * (the collisions), render.
 */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shm/json.h"

typedef struct {
    uint32_t node;
    double lat, lon;
    char pfx[8]; /* upper-case prefix at the size whose list holds the node */
    uint32_t seq;
} cnode_t;

typedef struct {
    uint32_t first, n; /* range in the sorted list */
    double max_km;
    int cls; /* 0 local, 1 regional, 2 distant, 3 incomplete */
    int with_coords;
} coll_t;

/* One prefix size. */
typedef struct {
    cnode_t **list; /* its repeaters with a long enough key, by prefix then node order */
    uint32_t np;
    uint32_t n_for_byte, using, unique;
    coll_t *coll;
    uint32_t n_coll;
} sizegrp_t;

typedef struct {
    const an_ctx_t *c;
    const msn_store_t *s;
    msn_arena_t *a;
    an_hsinfo_t *info;
    uint8_t *keep; /* per node, with a region: it is one of the region's */
    cnode_t *all;  /* the nodes considered, in node order */
    uint32_t n_all;
    sizegrp_t size[4]; /* 1..3 */
} hc_t;

static int role_is(const char *role, const char *want)
{
    return role != NULL && strcmp(role, want) == 0;
}

static int hash_size_of(const hc_t *j, const cnode_t *cn)
{
    const an_hsinfo_t *h = &j->info[cn->node];
    return h->has ? h->hash_size : 0;
}

static void upper_prefix(const char *pk, size_t n, char out[8])
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)toupper((unsigned char)pk[i]);
    out[n] = 0;
}

/* ---- collect ------------------------------------------------------------------------------ */

static void keep_key(hc_t *j, const char *pk, size_t n)
{
    int32_t nd = pk != NULL && n > 0 ? msn_an__node_find(j->c, pk, n) : -1;
    if (nd >= 0)
        j->keep[nd] = 1;
}

/* The region's nodes: keys named in the decoded payload of a transmission heard in the
 * region, and the observers that heard one. */
static void collect_region_nodes(hc_t *j)
{
    static const char *const fields[2] = {"pubKey", "public_key"};
    const msn_store_t *s = j->s;
    msn_jsonr_obj_t jo;
    msn_buf_t *scratch = msn_an__buf(j->c);
    j->keep = AN_ARRAY(j->a, uint8_t, s->n_nodes);
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (!msn_an__tx_in_region(j->c, t))
            continue;
        if (t->decoded_json != NULL && t->decoded_json[0] &&
            msn_jsonr_obj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) >= 0)
            for (int f = 0; f < 2; f++) {
                size_t n;
                const char *pk = msn_jsonr_obj_str(&jo, fields[f], scratch, &n);
                keep_key(j, pk, n);
            }
        for (uint32_t k = 0; k < t->n_obs; k++) {
            const char *oid = msn_an__obs_observer_id(j->c, &s->obs[t->obs[k]]);
            keep_key(j, oid, strlen(oid));
        }
    }
}

static void collect_nodes(hc_t *j)
{
    const msn_store_t *s = j->s;
    j->all = AN_ARRAY(j->a, cnode_t, s->n_nodes);
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *nd = &s->nodes[i];
        if (nd->public_key == NULL || (j->keep != NULL && !j->keep[i]))
            continue;
        cnode_t *cn = &j->all[j->n_all];
        *cn = (cnode_t){i, 0, 0, "", j->n_all};
        if (nd->has_lat && nd->has_lon && isfinite(nd->lat) && isfinite(nd->lon)) {
            cn->lat = nd->lat;
            cn->lon = nd->lon;
        }
        j->n_all++;
    }
}

/* ---- merge -------------------------------------------------------------------------------- */

static int pfx_cmp(const void *a, const void *b)
{
    const cnode_t *x = *(cnode_t *const *)a, *y = *(cnode_t *const *)b;
    int c = strcmp(x->pfx, y->pfx);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The largest distance between positioned members, and the class it gives. */
static void classify(coll_t *cl, cnode_t *const *m)
{
    cl->max_km = 0;
    cl->with_coords = 0;
    for (uint32_t a = 0; a < cl->n; a++) {
        if (m[a]->lat == 0 && m[a]->lon == 0)
            continue;
        cl->with_coords++;
        for (uint32_t b = a + 1; b < cl->n; b++) {
            if (m[b]->lat == 0 && m[b]->lon == 0)
                continue;
            double d = msn_an__haversine_km(m[a]->lat, m[a]->lon, m[b]->lat, m[b]->lon);
            if (d > cl->max_km)
                cl->max_km = d;
        }
    }
    if (cl->with_coords >= 2)
        cl->cls = cl->max_km < 50 ? 0 : (cl->max_km < 200 ? 1 : 2);
    else
        cl->cls = 3;
}

/* The repeaters using size `bytes`, by prefix; runs of one prefix are its collisions. */
static void merge_size(hc_t *j, int bytes)
{
    sizegrp_t *g = &j->size[bytes];
    size_t plen = (size_t)bytes * 2;
    g->list = AN_ARRAY(j->a, cnode_t *, j->n_all);
    g->coll = AN_ARRAY(j->a, coll_t, j->n_all);
    for (uint32_t i = 0; i < j->n_all; i++) {
        int hs = hash_size_of(j, &j->all[i]);
        g->using += hs == bytes;
        if (hs != bytes || !role_is(j->s->nodes[j->all[i].node].role, "repeater"))
            continue;
        g->n_for_byte++;
        /* keys shorter than the prefix are left out of the prefix map */
        const char *pk = j->s->nodes[j->all[i].node].public_key;
        if (strlen(pk) < plen)
            continue;
        upper_prefix(pk, plen, j->all[i].pfx);
        g->list[g->np++] = &j->all[i];
    }
    msn_an__qsort(g->list, g->np, sizeof(*g->list), pfx_cmp);
    for (uint32_t i = 0; i < g->np;) {
        uint32_t k = i + 1;
        while (k < g->np && strcmp(g->list[k]->pfx, g->list[i]->pfx) == 0)
            k++;
        g->unique++;
        if (k - i > 1) {
            coll_t *cl = &g->coll[g->n_coll++];
            cl->first = i;
            cl->n = k - i;
            classify(cl, g->list + i);
        }
        i = k;
    }
}

/* ---- rank --------------------------------------------------------------------------------- */

static int coll_cmp(const void *a, const void *b)
{
    const coll_t *x = a, *y = b;
    if (x->cls != y->cls)
        return x->cls - y->cls;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first; /* ranges follow prefix order */
}

/* ---- render ------------------------------------------------------------------------------- */

static void render_node(msn_buf_t *b, const hc_t *j, const cnode_t *cn)
{
    const msn_node_t *nd = &j->s->nodes[cn->node];
    const an_hsinfo_t *h = &j->info[cn->node];
    msn_an__open(b, NULL, '{');
    msn_an__kstr(b, "public_key", nd->public_key);
    msn_an__kstr(b, "name", nd->name);
    msn_an__kstr(b, "role", nd->role);
    msn_an__kdbl(b, "lat", cn->lat);
    msn_an__kdbl(b, "lon", cn->lon);
    msn_an__ki64(b, "hash_size", h->has ? h->hash_size : 0);
    msn_an__kbool(b, "hash_size_inconsistent", h->inconsistent);
    if (__builtin_popcount(h->sizes_mask) > 1) {
        msn_an__open(b, "hash_sizes_seen", '[');
        for (int k = 1; k <= 4; k++)
            if (h->sizes_mask & (1u << (k - 1)))
                msn_an__ei64(b, k);
        msn_buf_putc(b, ']');
    }
    msn_buf_putc(b, '}');
}

static void render_list(msn_buf_t *b, const hc_t *j, cnode_t *const *l, size_t n)
{
    msn_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++)
        render_node(b, j, l[i]);
    msn_buf_putc(b, ']');
}

static void render_collisions(msn_buf_t *out, const hc_t *j, int bytes)
{
    static const char *const cls_name[4] = {"local", "regional", "distant", "incomplete"};
    const sizegrp_t *g = &j->size[bytes];
    msn_an__open(out, "collisions", '[');
    for (uint32_t q = 0; q < g->n_coll; q++) {
        const coll_t *cl = &g->coll[q];
        msn_an__open(out, NULL, '{');
        msn_an__kstr(out, "prefix", g->list[cl->first]->pfx);
        msn_an__ki64(out, "byte_size", bytes);
        msn_an__ki64(out, "appearances", cl->n);
        msn_an__key(out, "nodes");
        render_list(out, j, g->list + cl->first, cl->n);
        msn_an__kdbl(out, "max_dist_km", cl->max_km);
        msn_an__kstr(out, "classification", cls_name[cl->cls]);
        msn_an__ki64(out, "with_coords", cl->with_coords);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

/* 256 cells: the 1-byte repeaters of each byte, then the 2/3-byte repeaters whose key
 * starts with it. */
static void render_one_byte_cells(msn_buf_t *out, const hc_t *j)
{
    const sizegrp_t *g = &j->size[1];
    cnode_t **cell = AN_ARRAY(j->a, cnode_t *, j->n_all);
    msn_an__open(out, "one_byte_cells", '{');
    uint32_t li = 0;
    for (int v = 0; v < 256; v++) {
        char hex[3];
        snprintf(hex, sizeof(hex), "%02X", v);
        msn_an__kdyn(out, hex, 2);
        size_t nc = 0;
        while (li < g->np && strcmp(g->list[li]->pfx, hex) < 0)
            li++;
        while (li < g->np && strcmp(g->list[li]->pfx, hex) == 0)
            cell[nc++] = g->list[li++];
        for (uint32_t i = 0; i < j->n_all; i++) {
            const char *pk = j->s->nodes[j->all[i].node].public_key;
            int hs = hash_size_of(j, &j->all[i]);
            char up[8];
            if ((hs != 2 && hs != 3) || !role_is(j->s->nodes[j->all[i].node].role, "repeater") || strlen(pk) < 2)
                continue;
            upper_prefix(pk, 2, up);
            if (strcmp(up, hex) == 0)
                cell[nc++] = &j->all[i];
        }
        render_list(out, j, cell, nc);
    }
    msn_buf_putc(out, '}');
}

/* The 2-byte repeaters of one first byte (list[g0..end), by prefix): all of them in node
 * order, then per prefix, and the collisions among them. */
static void render_two_byte_cell(msn_buf_t *out, const hc_t *j, const char *hex, uint32_t g0, uint32_t end)
{
    cnode_t *const *list = j->size[2].list;
    size_t nc = end - g0;
    cnode_t **grp = AN_ARRAY(j->a, cnode_t *, nc);
    memcpy(grp, list + g0, nc * sizeof(*grp));
    for (size_t a = 1; a < nc; a++) /* node order (stable) */
        for (size_t b = a; b > 0 && grp[b - 1]->seq > grp[b]->seq; b--) {
            cnode_t *t = grp[b];
            grp[b] = grp[b - 1];
            grp[b - 1] = t;
        }
    msn_an__kdyn(out, hex, 2);
    msn_buf_putc(out, '{');
    msn_an__key(out, "group_nodes");
    render_list(out, j, grp, nc);
    msn_an__open(out, "two_byte_map", '{');
    int max_coll = 0, n_c = 0;
    for (uint32_t k = g0; k < end;) {
        uint32_t e = k + 1;
        while (e < end && strcmp(list[e]->pfx, list[k]->pfx) == 0)
            e++;
        if (e - k > 1) {
            n_c++;
            if ((int)(e - k) > max_coll)
                max_coll = (int)(e - k);
        }
        msn_an__kdyn(out, list[k]->pfx, strlen(list[k]->pfx));
        render_list(out, j, list + k, e - k);
        k = e;
    }
    msn_buf_putc(out, '}');
    msn_an__ki64(out, "max_collision", max_coll);
    msn_an__ki64(out, "collision_count", n_c);
    msn_buf_putc(out, '}');
}

static void render_two_byte_cells(msn_buf_t *out, const hc_t *j)
{
    const sizegrp_t *g = &j->size[2];
    msn_an__open(out, "two_byte_cells", '{');
    uint32_t li = 0;
    for (int v = 0; v < 256; v++) {
        char hex[3];
        snprintf(hex, sizeof(hex), "%02X", v);
        while (li < g->np && strncmp(g->list[li]->pfx, hex, 2) < 0)
            li++;
        uint32_t g0 = li;
        while (li < g->np && strncmp(g->list[li]->pfx, hex, 2) == 0)
            li++;
        render_two_byte_cell(out, j, hex, g0, li);
    }
    msn_buf_putc(out, '}');
}

static void render_size(msn_buf_t *out, const hc_t *j, int bytes)
{
    const sizegrp_t *g = &j->size[bytes];
    char key[2] = {(char)('0' + bytes), 0};
    msn_an__open(out, key, '{');
    render_collisions(out, j, bytes);
    if (bytes == 1)
        render_one_byte_cells(out, j);
    double space = bytes == 1 ? 256 : (bytes == 2 ? 65536 : 16777216);
    msn_an__open(out, "stats", '{');
    msn_an__ki64(out, "collision_count", g->n_coll);
    msn_an__ki64(out, "nodes_for_byte", g->n_for_byte);
    msn_an__kdbl(out, "pct_used", (double)g->unique / space * 100);
    msn_an__ki64(out, "space_size", (int64_t)space);
    msn_an__ki64(out, "total_nodes", j->n_all);
    msn_an__ki64(out, "unique_prefixes", g->unique);
    msn_an__ki64(out, "using_this_size", g->using);
    msn_buf_putc(out, '}');
    if (bytes == 2)
        render_two_byte_cells(out, j);
    msn_buf_putc(out, '}');
}

static void render(msn_buf_t *out, const hc_t *j)
{
    msn_buf_putc(out, '{');
    msn_an__open(out, "by_size", '{');
    for (int bytes = 1; bytes <= 3; bytes++)
        render_size(out, j, bytes);
    msn_buf_putc(out, '}');
    msn_an__open(out, "inconsistent_nodes", '[');
    for (uint32_t i = 0; i < j->n_all; i++) {
        const char *role = j->s->nodes[j->all[i].node].role;
        if (j->info[j->all[i].node].inconsistent && (role_is(role, "repeater") || role_is(role, "room_server")))
            render_node(out, j, &j->all[i]);
    }
    msn_buf_puts(out, "]}");
}

int msn_an__hash_collisions(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    hc_t *j = AN_NEW(c, hc_t);
    j->c = c;
    j->s = c->s;
    j->a = c->arena;
    j->info = msn_an__hsinfo(c);
    if (c->region_active)
        collect_region_nodes(j);
    collect_nodes(j);
    for (int bytes = 1; bytes <= 3; bytes++) {
        merge_size(j, bytes);
        msn_an__qsort(j->size[bytes].coll, j->size[bytes].n_coll, sizeof(coll_t), coll_cmp);
    }
    render(out, j);
    return 0;
}
