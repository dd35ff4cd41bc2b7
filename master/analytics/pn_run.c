/* pn_run.c: a per-node run (pernode.h) and the helpers its renderers share (pn_int.h). */
#include "pn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/render.h"
#include "shm/json.h"
#include "shm/timeutil.h"

msn_pernode_t *msn_pernode_new(const msn_store_t *s, const msn_nodeidx_t *x, int64_t now_ms, int full)
{
    msn_pernode_t *p = msn_xcalloc(1, sizeof(*p));
    static const msn_an_shape_t none = {.region = NULL};
    msn_an__ctx_init(&p->c, s, &none, now_ms);
    p->s = s;
    p->x = x;
    p->full = full;
    msn_format_iso_s(p->today, (now_ms / 1000) - ((now_ms / 1000) % 86400)); /* midnight UTC */
    msn_an__pm_init(&p->pm, &p->c);
    p->hs = msn_an__hsinfo(&p->c);
    p->skew = msn_an__skew_compute(&p->c);
    if (full) {
        p->g = msn_pn__graph_build(p);
        p->reach = msn_pn__reach_build(p);
    }
    return p;
}

void msn_pernode_free(msn_pernode_t *p)
{
    if (p == NULL)
        return;
    msn_pn__tmp_done(p);
    msn_an__ctx_free(&p->c);
    free(p);
}

msn_arena_t *msn_pn__tmp(msn_pernode_t *p)
{
    msn_pn__tmp_done(p);
    p->tmp = msn_arena_new();
    return p->tmp;
}

void msn_pn__tmp_done(msn_pernode_t *p)
{
    msn_arena_free(p->tmp);
    p->tmp = NULL;
}

int32_t msn_pn__node(const msn_pernode_t *p, uint32_t key)
{
    if (key >= p->s->n_keys)
        return -1;
    return msn_an__node_find(&p->c, p->s->keys[key], 64);
}

int msn_pernode_is_node(const msn_pernode_t *p, uint32_t key)
{
    return msn_pn__node(p, key) >= 0;
}

const msn_observer_t *msn_pn__observer(const msn_pernode_t *p, const msn_obs_t *o)
{
    int32_t i = msn_an__obs_observer(&p->c, o);
    return i >= 0 ? &p->s->observers[i] : NULL;
}

void msn_pn__base(const msn_pernode_t *p, int32_t node, msn_buf_t *out)
{
    msn_render_node_base(out, &p->s->nodes[node], p->s->schema.nodes_default_scope);
}

int msn_pn__strcmp0(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

void msn_pn__kstr_or_null(msn_buf_t *b, const char *key, const char *s, int empty_null)
{
    if (s == NULL || (empty_null && s[0] == '\0'))
        msn_an__knull(b, key);
    else
        msn_an__kstr(b, key, s);
}

void msn_pn__kdbl_or_null(msn_buf_t *b, const char *key, int has, double v)
{
    if (has)
        msn_an__kdbl(b, key, v);
    else
        msn_an__knull(b, key);
}

static int obsstat_cmp(const void *a, const void *b)
{
    const pn_obsstat_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->obs < y->obs ? -1 : x->obs > y->obs);
}

pn_obsstat_t *msn_pn__obsstats(msn_pernode_t *p, const uint32_t *txs, uint32_t n, uint32_t *n_out)
{
    const msn_store_t *s = p->s;
    int32_t *slot = AN_ARRAY(p->tmp, int32_t, s->n_observers); /* observer -> stat + 1 */
    pn_obsstat_t *st = AN_ARRAY(p->tmp, pn_obsstat_t, s->n_observers);
    uint32_t ns = 0;
    for (uint32_t i = 0; i < n; i++) {
        const msn_tx_t *t = &s->tx[txs[i]];
        const msn_obs_t *o = msn_pn__best(s, t);
        const msn_observer_t *ob = o ? msn_pn__observer(p, o) : NULL;
        if (ob == NULL || ob->id == NULL || ob->id[0] == '\0')
            continue;
        int32_t oi = (int32_t)(ob - s->observers);
        if (slot[oi] == 0) {
            st[ns] = (pn_obsstat_t){.obs = oi, .id = ob->id, .first = t->first_seen, .last = t->first_seen};
            slot[oi] = (int32_t)++ns;
        }
        pn_obsstat_t *e = &st[slot[oi] - 1];
        e->count++;
        if (o->has_snr) {
            e->snr_sum += o->snr;
            e->snr_n++;
        }
        if (o->has_rssi) {
            e->rssi_sum += o->rssi;
            e->rssi_n++;
        }
        if (msn_pn__strcmp0(t->first_seen, e->first) < 0)
            e->first = t->first_seen;
        if (msn_pn__strcmp0(t->first_seen, e->last) > 0)
            e->last = t->first_seen;
    }
    /* Go sorts with sort.Slice over map order: ties here go by observer id */
    msn_an__qsort(st, ns, sizeof(*st), obsstat_cmp);
    *n_out = ns;
    return st;
}

void msn_pernode_relays(msn_pernode_t *p, msgpack_sbuffer *out)
{
    const an_pm_t *pm = &p->pm;
    msgpack_sbuffer_clear(out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, pm->n_relay);
    for (uint32_t i = 0; i < pm->n_relay; i++) {
        uint32_t node = pm->relay[i];
        const msn_node_t *nd = &p->s->nodes[node];
        const char *k = pm->lkeys + pm->lkey_off[i];
        msgpack_pack_array(&pk, 6);
        msgpack_pack_str(&pk, strlen(k));
        msgpack_pack_str_body(&pk, k, strlen(k));
        if (nd->name) {
            msgpack_pack_str(&pk, strlen(nd->name));
            msgpack_pack_str_body(&pk, nd->name, strlen(nd->name));
        } else {
            msgpack_pack_nil(&pk);
        }
        if (pm->gps[node]) {
            msgpack_pack_double(&pk, nd->lat);
            msgpack_pack_double(&pk, nd->lon);
        } else {
            msgpack_pack_nil(&pk);
            msgpack_pack_nil(&pk);
        }
        msgpack_pack_int64(&pk, nd->advert_count);
        if (pm->nonrelay[node])
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
    }
}
