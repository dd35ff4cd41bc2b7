/*
 * pn_paths.c: the paths through a node (CoreScope handleNodePaths).
 *
 * Candidates are the node's transmissions (nodeidx.h), which hold every transmission
 * whose resolved path names it and every one whose unresolved path names it by a unique
 * prefix: CoreScope's candidates (the path-hop index by full key and by 2- and 4-character
 * prefix) that survive its membership test. Per transmission, with the best observation's
 * path:
 *  - when that observation has a resolved_path (the canonical one), it is a member when the
 *    node is one of its hops; each hop shows the relay node its key names (name, key, GPS
 *    position), or just the key when it names no relay node;
 *  - otherwise the hops are resolved with the node as context (CoreScope's resolver
 *    without the neighbour-affinity tier), and a hop counts as the node only when its
 *    prefix has at most one relay candidate or another observation's resolved_path
 *    names the node (CoreScope #1352).
 * Members are grouped by the sequence of resolved keys (the raw hop when unresolved):
 * count, newest first_seen and its hash; sorted by that time descending, then count
 * descending (then the key sequence), the first 50 kept.
 */
#include "pn_int.h"

#include <string.h>
#include <strings.h>

#include "shm/json.h"

typedef struct {
    const char *hops; /* the rendered hops array of the first member */
    size_t hops_len;
    int64_t count;
    const char *last; /* newest first_seen */
    const char *hash;
    const char *sig;
    uint32_t sig_len;
} group_t;

static int group_cmp(const void *a, const void *b)
{
    const group_t *x = *(const group_t *const *)a, *y = *(const group_t *const *)b;
    int c = msn_pn__strcmp0(y->last, x->last);
    if (c)
        return c;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return msn_an__bytes_cmp(x->sig, x->sig_len, y->sig, y->sig_len);
}

/* A hop entry naming node row `node` (or key text when node < 0 and key != NULL). */
static void hop_entry(msn_buf_t *b, const msn_pernode_t *p, const an_hop_t *h, int32_t node, const char *key)
{
    msn_an__open(b, NULL, '{');
    msn_an__kstrn(b, "prefix", h->p, h->n);
    if (node >= 0) {
        const msn_node_t *nd = &p->s->nodes[node];
        msn_an__kstr(b, "name", nd->name);
        msn_an__kstr(b, "pubkey", nd->public_key);
        int gps = msn_an__node_gps(nd);
        msn_pn__kdbl_or_null(b, "lat", gps, nd->lat);
        msn_pn__kdbl_or_null(b, "lon", gps, nd->lon);
    } else {
        msn_an__kstrn(b, "name", h->p, h->n);
        if (key)
            msn_an__kstrn(b, "pubkey", key, 64);
        else
            msn_an__knull(b, "pubkey");
        msn_an__knull(b, "lat");
        msn_an__knull(b, "lon");
    }
    msn_buf_putc(b, '}');
}

/* The relay node row whose whole key is k (64 lowercase hex), or -1. */
static int32_t relay_by_key(const msn_pernode_t *p, const char *k)
{
    uint32_t first, cnt;
    if (msn_an__pm_candidates(&p->pm, k, 64, &first, &cnt) != 1)
        return -1;
    return (int32_t)p->pm.relay[first];
}

static void sig_part(msn_buf_t *sig, const char *s, size_t n)
{
    if (sig->len)
        msn_buf_puts(sig, "\xe2\x86\x92"); /* → */
    msn_buf_append(sig, s, n);
}

int msn_pernode_paths(msn_pernode_t *p, uint32_t key, msn_buf_t *out)
{
    const msn_store_t *s = p->s;
    int32_t node = msn_pn__node(p, key);
    msn_buf_reset(out);
    if (node < 0)
        return 0;
    const char *pk = s->keys[key];
    uint32_t n;
    const uint32_t *txs = msn_nodeidx_txs(p->x, key, &n);
    msn_arena_t *a = msn_pn__tmp(p);
    an_rctx_t rc;
    msn_an__rctx_reset(&rc);
    msn_an__rctx_add(&p->pm, &rc, NULL, pk, 64);
    msn_an__rctx_finish(&rc);
    an_map_t groups;
    msn_an__map_init(&groups, a, sizeof(group_t));
    an_hops_t hops;
    msn_an__hops_init(&hops, &p->c);
    hops.arena = a;
    msn_buf_t hb = MSN_BUF_INIT, sig = MSN_BUF_INIT;
    int64_t members = 0;
    for (uint32_t i = 0; i < n; i++) {
        const msn_tx_t *t = &s->tx[txs[i]];
        const msn_obs_t *o = msn_pn__best(s, t);
        msn_an__tx_hops(&hops, s, t);
        msn_buf_reset(&hb);
        msn_buf_reset(&sig);
        int contains = 0;
        msn_buf_putc(&hb, '[');
        if (o != NULL && o->rp != NULL) {
            for (int h = 0; h < hops.n; h++) {
                uint32_t rk = h < o->rp_n ? o->rp[h] : MSN_KEY_NONE;
                if (rk == MSN_KEY_NONE) {
                    hop_entry(&hb, p, &hops.h[h], -1, NULL);
                    sig_part(&sig, msn_an__hop_text(&hops.h[h]), hops.h[h].n);
                    continue;
                }
                int32_t rn = relay_by_key(p, s->keys[rk]);
                hop_entry(&hb, p, &hops.h[h], rn, s->keys[rk]);
                if (rn >= 0)
                    sig_part(&sig, s->nodes[rn].public_key, strlen(s->nodes[rn].public_key));
                else
                    sig_part(&sig, s->keys[rk], 64);
                contains |= rk == key;
            }
        } else {
            int pre = 0;
            for (uint32_t j = 0; j < t->n_obs && !pre; j++) {
                const msn_obs_t *x = &s->obs[t->obs[j]];
                for (int h = 0; x->rp && h < x->rp_n && !pre; h++)
                    pre = x->rp[h] == key;
            }
            for (int h = 0; h < hops.n; h++) {
                const an_hop_t *hp = &hops.h[h];
                const char *ht = msn_an__hop_text(hp);
                uint32_t first, cnt;
                int unique = msn_an__pm_candidates(&p->pm, ht, hp->n, &first, &cnt) <= 1;
                int32_t rn = msn_an__pm_resolve(&p->pm, ht, hp->n, &rc);
                hop_entry(&hb, p, hp, rn, NULL);
                if (rn >= 0) {
                    const char *rpk = s->nodes[rn].public_key;
                    sig_part(&sig, rpk, strlen(rpk));
                    if (strcasecmp(rpk, pk) == 0 && (pre || unique))
                        contains = 1;
                } else {
                    sig_part(&sig, ht, hp->n);
                    if (hp->n <= 64 && strncasecmp(pk, ht, hp->n) == 0 && (pre || unique))
                        contains = 1;
                }
            }
        }
        msn_buf_putc(&hb, ']');
        if (!contains)
            continue;
        members++;
        int is_new;
        uint32_t gi = msn_an__map_intern(&groups, sig.data ? sig.data : "", sig.len, &is_new);
        group_t *g = msn_an__map_val(&groups, gi);
        if (is_new) {
            g->hops = msn_arena_strndup(a, hb.data, hb.len);
            g->hops_len = hb.len;
            g->count = 1;
            g->last = t->first_seen ? t->first_seen : "";
            g->hash = t->hash ? t->hash : "";
            g->sig = groups.keys[gi];
            g->sig_len = groups.klen[gi];
            continue;
        }
        g->count++;
        if (msn_pn__strcmp0(t->first_seen, g->last) > 0) {
            g->last = t->first_seen;
            g->hash = t->hash ? t->hash : "";
        }
    }
    msn_buf_free(&hb);
    msn_buf_free(&sig);
    group_t **ord = AN_ARRAY(a, group_t *, groups.n);
    for (uint32_t i = 0; i < groups.n; i++)
        ord[i] = msn_an__map_val(&groups, i);
    msn_an__qsort(ord, groups.n, sizeof(*ord), group_cmp);
    const msn_node_t *nd = &s->nodes[node];
    msn_buf_puts(out, "{\"node\":{");
    msn_pn__kdbl_or_null(out, "lat", nd->has_lat, nd->lat);
    msn_pn__kdbl_or_null(out, "lon", nd->has_lon, nd->lon);
    msn_pn__kstr_or_null(out, "name", nd->name, 0);
    msn_an__kstr(out, "public_key", nd->public_key);
    msn_buf_putc(out, '}');
    msn_an__open(out, "paths", '[');
    for (uint32_t i = 0; i < groups.n && i < 50; i++) {
        const group_t *g = ord[i];
        msn_an__open(out, NULL, '{');
        msn_an__key(out, "hops");
        msn_buf_append(out, g->hops, g->hops_len);
        msn_an__ki64(out, "count", g->count);
        msn_pn__kstr_or_null(out, "lastSeen", g->last, 1);
        msn_an__kstr(out, "sampleHash", g->hash);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
    msn_an__ki64(out, "totalPaths", groups.n);
    msn_an__ki64(out, "totalTransmissions", members);
    msn_buf_putc(out, '}');
    msn_pn__tmp_done(p);
    return 1;
}
