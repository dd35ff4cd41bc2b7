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
 */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/json.h"

typedef struct {
    uint32_t node;
    double lat, lon;
    char pfx[8]; /* upper-case prefix of the current size */
    uint32_t seq;
} cnode_t;

static void emit_cnode(msn_buf_t *b, const msn_store_t *s, const an_hsinfo_t *info, const cnode_t *cn)
{
    const msn_node_t *nd = &s->nodes[cn->node];
    const an_hsinfo_t *h = &info[cn->node];
    msn_buf_puts(b, "{\"public_key\":");
    msn_an__str(b, nd->public_key);
    msn_buf_puts(b, ",\"name\":");
    msn_an__str(b, nd->name);
    msn_buf_puts(b, ",\"role\":");
    msn_an__str(b, nd->role);
    msn_buf_puts(b, ",\"lat\":");
    msn_json_double(b, cn->lat);
    msn_buf_puts(b, ",\"lon\":");
    msn_json_double(b, cn->lon);
    msn_buf_puts(b, ",\"hash_size\":");
    msn_buf_put_i64(b, h->has ? h->hash_size : 0);
    msn_buf_puts(b, ",\"hash_size_inconsistent\":");
    msn_buf_puts(b, h->inconsistent ? "true" : "false");
    if (__builtin_popcount(h->sizes_mask) > 1) {
        msn_buf_puts(b, ",\"hash_sizes_seen\":[");
        int first = 1;
        for (int k = 1; k <= 4; k++)
            if (h->sizes_mask & (1u << (k - 1))) {
                if (!first)
                    msn_buf_putc(b, ',');
                first = 0;
                msn_buf_put_i64(b, k);
            }
        msn_buf_putc(b, ']');
    }
    msn_buf_putc(b, '}');
}

static void emit_list(msn_buf_t *b, const msn_store_t *s, const an_hsinfo_t *info, cnode_t *const *l, size_t n)
{
    msn_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            msn_buf_putc(b, ',');
        emit_cnode(b, s, info, l[i]);
    }
    msn_buf_putc(b, ']');
}

static int pfx_cmp(const void *a, const void *b)
{
    const cnode_t *x = *(cnode_t *const *)a, *y = *(cnode_t *const *)b;
    int c = strcmp(x->pfx, y->pfx);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct {
    uint32_t first, n; /* range in the sorted list */
    double max_km;
    int cls; /* 0 local, 1 regional, 2 distant, 3 incomplete */
    int with_coords;
} coll_t;

static int coll_cmp(const void *a, const void *b)
{
    const coll_t *x = a, *y = b;
    if (x->cls != y->cls)
        return x->cls - y->cls;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first; /* ranges follow prefix order */
}

static int role_is(const char *role, const char *want)
{
    return role != NULL && strcmp(role, want) == 0;
}

static void upper_prefix(const char *pk, size_t n, char out[8])
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)toupper((unsigned char)pk[i]);
    out[n] = 0;
}

int msn_an__hash_collisions(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    an_hsinfo_t *info = msn_xmalloc((s->n_nodes ? s->n_nodes : 1) * sizeof(*info));
    msn_an__hsinfo(c, info);

    /* the region's node keys */
    uint8_t *keep = NULL;
    if (c->region_active) {
        keep = msn_xcalloc(s->n_nodes ? s->n_nodes : 1, 1);
        an_jobj_t jo;
        msn_buf_t scratch = MSN_BUF_INIT;
        for (uint32_t ti = 0; ti < s->n_tx; ti++) {
            const msn_tx_t *t = &s->tx[ti];
            if (!msn_an__tx_in_region(c, t))
                continue;
            if (t->decoded_json != NULL && t->decoded_json[0] &&
                msn_an__jobj_parse(&jo, t->decoded_json, strlen(t->decoded_json)) >= 0) {
                static const char *const fields[2] = {"pubKey", "public_key"};
                for (int f = 0; f < 2; f++) {
                    size_t n;
                    const char *pk = msn_an__jobj_str(&jo, fields[f], &scratch, &n);
                    int32_t nd = pk != NULL && n > 0 ? msn_an__node_find(c, pk, n) : -1;
                    if (nd >= 0)
                        keep[nd] = 1;
                }
            }
            for (uint32_t k = 0; k < t->n_obs; k++) {
                const char *oid = msn_an__obs_observer_id(c, &s->obs[t->obs[k]]);
                int32_t nd = oid[0] ? msn_an__node_find(c, oid, strlen(oid)) : -1;
                if (nd >= 0)
                    keep[nd] = 1;
            }
        }
        msn_buf_free(&scratch);
    }

    cnode_t *all = msn_xmalloc((s->n_nodes ? s->n_nodes : 1) * sizeof(*all));
    uint32_t n_all = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *nd = &s->nodes[i];
        if (nd->public_key == NULL || (keep != NULL && !keep[i]))
            continue;
        cnode_t *cn = &all[n_all];
        cn->node = i;
        cn->seq = n_all;
        cn->lat = cn->lon = 0;
        if (nd->has_lat && nd->has_lon && isfinite(nd->lat) && isfinite(nd->lon)) {
            cn->lat = nd->lat;
            cn->lon = nd->lon;
        }
        n_all++;
    }
    free(keep);
    cnode_t **list = msn_xmalloc((n_all ? n_all : 1) * sizeof(*list));
    cnode_t **cell = msn_xmalloc((n_all ? n_all : 1) * sizeof(*cell));
    coll_t *coll = msn_xmalloc((n_all ? n_all : 1) * sizeof(*coll));

    msn_buf_puts(out, "{\"by_size\":{");
    for (int bytes = 1; bytes <= 3; bytes++) {
        size_t plen = (size_t)bytes * 2;
        uint32_t nl = 0, using = 0;
        for (uint32_t i = 0; i < n_all; i++) {
            const an_hsinfo_t *h = &info[all[i].node];
            int hs = h->has ? h->hash_size : 0;
            if (hs == bytes)
                using++;
            if (hs == bytes && role_is(s->nodes[all[i].node].role, "repeater"))
                list[nl++] = &all[i];
        }
        uint32_t n_for_byte = nl;
        /* keys shorter than the prefix are left out of the prefix map */
        uint32_t np = 0;
        for (uint32_t i = 0; i < nl; i++) {
            const char *pk = s->nodes[list[i]->node].public_key;
            if (strlen(pk) < plen)
                continue;
            upper_prefix(pk, plen, list[i]->pfx);
            list[np++] = list[i];
        }
        msn_an__qsort(list, np, sizeof(*list), pfx_cmp);
        uint32_t n_coll = 0, unique = 0;
        for (uint32_t i = 0; i < np;) {
            uint32_t j = i + 1;
            while (j < np && strcmp(list[j]->pfx, list[i]->pfx) == 0)
                j++;
            unique++;
            if (j - i > 1) {
                coll_t *cl = &coll[n_coll++];
                cl->first = i;
                cl->n = j - i;
                cl->max_km = 0;
                cl->with_coords = 0;
                for (uint32_t a = i; a < j; a++) {
                    if (list[a]->lat == 0 && list[a]->lon == 0)
                        continue;
                    cl->with_coords++;
                    for (uint32_t b = a + 1; b < j; b++) {
                        if (list[b]->lat == 0 && list[b]->lon == 0)
                            continue;
                        double d = msn_an__haversine_km(list[a]->lat, list[a]->lon, list[b]->lat, list[b]->lon);
                        if (d > cl->max_km)
                            cl->max_km = d;
                    }
                }
                if (cl->with_coords >= 2)
                    cl->cls = cl->max_km < 50 ? 0 : (cl->max_km < 200 ? 1 : 2);
                else
                    cl->cls = 3;
            }
            i = j;
        }
        msn_an__qsort(coll, n_coll, sizeof(*coll), coll_cmp);

        if (bytes > 1)
            msn_buf_putc(out, ',');
        msn_buf_printf(out, "\"%d\":{\"collisions\":[", bytes);
        static const char *const cls_name[4] = {"local", "regional", "distant", "incomplete"};
        for (uint32_t q = 0; q < n_coll; q++) {
            const coll_t *cl = &coll[q];
            if (q)
                msn_buf_putc(out, ',');
            msn_buf_puts(out, "{\"prefix\":");
            msn_an__str(out, list[cl->first]->pfx);
            msn_buf_printf(out, ",\"byte_size\":%d,\"appearances\":%u,\"nodes\":", bytes, cl->n);
            emit_list(out, s, info, list + cl->first, cl->n);
            msn_buf_puts(out, ",\"max_dist_km\":");
            msn_json_double(out, cl->max_km);
            msn_buf_puts(out, ",\"classification\":\"");
            msn_buf_puts(out, cls_name[cl->cls]);
            msn_buf_printf(out, "\",\"with_coords\":%d}", cl->with_coords);
        }
        msn_buf_putc(out, ']');

        if (bytes == 1) {
            /* 256 cells: the 1-byte repeaters of each byte, then the 2/3-byte repeaters whose
             * key starts with it */
            msn_buf_puts(out, ",\"one_byte_cells\":{");
            uint32_t li = 0;
            for (int v = 0; v < 256; v++) {
                char hex[3];
                snprintf(hex, sizeof(hex), "%02X", v);
                msn_buf_printf(out, "%s\"%s\":", v ? "," : "", hex);
                size_t nc = 0;
                while (li < np && strcmp(list[li]->pfx, hex) < 0)
                    li++;
                while (li < np && strcmp(list[li]->pfx, hex) == 0)
                    cell[nc++] = list[li++];
                for (uint32_t i = 0; i < n_all; i++) {
                    const an_hsinfo_t *h = &info[all[i].node];
                    const char *pk = s->nodes[all[i].node].public_key;
                    if (!h->has || (h->hash_size != 2 && h->hash_size != 3) ||
                        !role_is(s->nodes[all[i].node].role, "repeater") || strlen(pk) < 2)
                        continue;
                    char up[8];
                    upper_prefix(pk, 2, up);
                    if (strcmp(up, hex) == 0)
                        cell[nc++] = &all[i];
                }
                emit_list(out, s, info, cell, nc);
            }
            msn_buf_putc(out, '}');
        }
        double space = bytes == 1 ? 256 : (bytes == 2 ? 65536 : 16777216);
        msn_buf_printf(out, ",\"stats\":{\"collision_count\":%u,\"nodes_for_byte\":%u,\"pct_used\":", n_coll,
                       n_for_byte);
        msn_json_double(out, (double)unique / space * 100);
        msn_buf_printf(out, ",\"space_size\":%.0f,\"total_nodes\":%u,\"unique_prefixes\":%u,\"using_this_size\":%u}",
                       space, n_all, unique, using);
        if (bytes == 2) {
            /* 256 first-byte groups of the 2-byte repeaters */
            msn_buf_puts(out, ",\"two_byte_cells\":{");
            uint32_t li = 0;
            for (int v = 0; v < 256; v++) {
                char hex[3];
                snprintf(hex, sizeof(hex), "%02X", v);
                while (li < np && strncmp(list[li]->pfx, hex, 2) < 0)
                    li++;
                uint32_t g0 = li;
                while (li < np && strncmp(list[li]->pfx, hex, 2) == 0)
                    li++;
                /* the list is sorted by 2-byte prefix, so a group is contiguous; its members
                 * in node order: */
                size_t nc = 0;
                for (uint32_t k = g0; k < li; k++)
                    cell[nc++] = list[k];
                cnode_t **grp = msn_xmalloc((nc ? nc : 1) * sizeof(*grp));
                memcpy(grp, cell, nc * sizeof(*grp));
                /* group_nodes in node order */
                for (size_t a = 1; a < nc; a++)
                    for (size_t b = a; b > 0 && grp[b - 1]->seq > grp[b]->seq; b--) {
                        cnode_t *t = grp[b];
                        grp[b] = grp[b - 1];
                        grp[b - 1] = t;
                    }
                int max_coll = 0, n_c = 0;
                for (uint32_t k = g0; k < li;) {
                    uint32_t j = k + 1;
                    while (j < li && strcmp(list[j]->pfx, list[k]->pfx) == 0)
                        j++;
                    if (j - k > 1) {
                        n_c++;
                        if ((int)(j - k) > max_coll)
                            max_coll = (int)(j - k);
                    }
                    k = j;
                }
                msn_buf_printf(out, "%s\"%s\":{\"group_nodes\":", v ? "," : "", hex);
                emit_list(out, s, info, grp, nc);
                msn_buf_puts(out, ",\"two_byte_map\":{");
                for (uint32_t k = g0; k < li;) {
                    uint32_t j = k + 1;
                    while (j < li && strcmp(list[j]->pfx, list[k]->pfx) == 0)
                        j++;
                    if (k > g0)
                        msn_buf_putc(out, ',');
                    msn_an__str(out, list[k]->pfx);
                    msn_buf_putc(out, ':');
                    emit_list(out, s, info, list + k, j - k);
                    k = j;
                }
                msn_buf_printf(out, "},\"max_collision\":%d,\"collision_count\":%d}", max_coll, n_c);
                free(grp);
            }
            msn_buf_putc(out, '}');
        }
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "},\"inconsistent_nodes\":[");
    int first = 1;
    for (uint32_t i = 0; i < n_all; i++) {
        const char *role = s->nodes[all[i].node].role;
        if (!info[all[i].node].inconsistent || !(role_is(role, "repeater") || role_is(role, "room_server")))
            continue;
        if (!first)
            msn_buf_putc(out, ',');
        first = 0;
        emit_cnode(out, s, info, &all[i]);
    }
    msn_buf_puts(out, "]}");
    free(list);
    free(cell);
    free(coll);
    free(all);
    free(info);
    return 0;
}
