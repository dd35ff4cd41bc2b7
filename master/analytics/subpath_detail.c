/*
 * subpath_detail.c: /api/analytics/subpath-detail (CoreScope GetSubpathDetail).
 *
 * Parameter: the hop list as the client sent it ("a,b,c"). Matches: every run of 2..8
 * consecutive hops of a transmission's best path whose hop texts, joined with "," and
 * lower-cased, equal the lower-cased parameter (CoreScope's spTxIndex key); a transmission
 * counts once per matching run. For them: totalMatches, first/last first_seen (string
 * order; "" when none), first_seen hours (UTC), the mean SNR/RSSI of their best
 * observations, the best observers' names (top 10) and the full paths with every hop
 * resolved in the context of its own transmission (top 15, names joined by " → "). The
 * requested hops are resolved in the context of all the matches; `nodes` gives each one's
 * name (the hop itself when unresolved), public key and position (GPS nodes only).
 * Ranking ties (CoreScope's sort is not stable) go by text. Fewer than two hops: CoreScope's
 * {"error":"Need at least 2 hops"}.
 */
#include <ctype.h>
#include <string.h>

#include "an_int.h"
#include "shm/json.h"

#define ARROW " \xe2\x86\x92 "

typedef struct {
    const char *key;
    uint32_t kn;
    int64_t count;
} kc_t;

static int cmp_kc(const void *a, const void *b)
{
    const kc_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return msn_an__bytes_cmp(x->key, x->kn, y->key, y->kn);
}

/* 1 when hops h[start..start+l) joined by "," equal key (lower-case, kn bytes) ignoring case. */
static int run_matches(const an_hops_t *h, int start, int l, const char *key, size_t kn)
{
    size_t total = (size_t)l - 1;
    for (int i = start; i < start + l; i++)
        total += h->h[i].n;
    if (total != kn)
        return 0;
    size_t o = 0;
    for (int i = start; i < start + l; i++) {
        if (i > start && key[o++] != ',')
            return 0;
        const char *p = msn_an__hop_text(&h->h[i]);
        for (uint32_t k = 0; k < h->h[i].n; k++)
            if (tolower((unsigned char)p[k]) != key[o++])
                return 0;
    }
    return 1;
}

/* Appends a ranking of counting map m (top k) as [{"<name>":..,"count":..}] with the text
 * under member `field`. */
static void ranking(msn_buf_t *out, const an_map_t *m, size_t k, const char *field, msn_arena_t *a, int count_first)
{
    kc_t *v = AN_ARRAY(a, kc_t, m->n);
    for (uint32_t e = 0; e < m->n; e++) {
        v[e].key = m->keys[e];
        v[e].kn = m->klen[e];
        v[e].count = msn_an__map_n(m, e);
    }
    size_t n = msn_an__top(a, v, m->n, sizeof(kc_t), k, cmp_kc);
    msn_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        msn_buf_puts(out, i ? "," : "");
        if (count_first) {
            msn_buf_printf(out, "{\"count\":%lld,\"%s\":", (long long)v[i].count, field);
            msn_json_strn(out, v[i].key, v[i].kn);
            msn_buf_putc(out, '}');
        } else {
            msn_buf_printf(out, "{\"%s\":", field);
            msn_json_strn(out, v[i].key, v[i].kn);
            msn_buf_printf(out, ",\"count\":%lld}", (long long)v[i].count);
        }
    }
    msn_buf_putc(out, ']');
}

int msn_an__subpath_detail(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    const char *raw = c->shape->param ? c->shape->param : "";
    if (strchr(raw, ',') == NULL) {
        msn_buf_puts(out, "{\"error\":\"Need at least 2 hops\"}");
        return 0;
    }
    size_t kn = strlen(raw);
    char *key = msn_arena_alloc(c->arena, kn + 1);
    for (size_t i = 0; i <= kn; i++)
        key[i] = (char)tolower((unsigned char)raw[i]);
    /* the matches (a transmission once per matching run) */
    uint32_t *match = NULL;
    size_t n_match = 0, cap = 0;
    an_hops_t hops;
    msn_an__hops_init(&hops, c);
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        if (msn_an__tx_hops(&hops, s, &s->tx[ti]) < 2)
            continue;
        int maxl = hops.n < 8 ? hops.n : 8;
        for (int l = 2; l <= maxl; l++)
            for (int st = 0; st + l <= hops.n; st++)
                if (run_matches(&hops, st, l, key, kn)) {
                    AN_GROW(c->arena, match, cap, n_match + 1);
                    match[n_match++] = ti;
                }
    }
    /* the requested hops, resolved in the context of the matches */
    an_resolver_t rs;
    msn_an__resolver_init(&rs, c);
    for (size_t i = 0; i < n_match; i++) {
        msn_an__tx_hops(&hops, s, &s->tx[match[i]]);
        msn_an__resolver_add(&rs, &s->tx[match[i]], &hops);
    }
    msn_an__resolver_finish(&rs);
    /* the matches' figures */
    int64_t hours[24] = {0};
    double snr = 0, rssi = 0;
    int64_t n_snr = 0, n_rssi = 0;
    const char *first = NULL, *last = NULL;
    an_map_t observers, parents;
    msn_an__map_init(&observers, c->arena, sizeof(int64_t));
    msn_an__map_init(&parents, c->arena, sizeof(int64_t));
    an_rctx_t rc;
    msn_jsonr_obj_t jo;
    msn_buf_t *scratch = msn_an__buf(c), *path = msn_an__buf(c);
    for (size_t i = 0; i < n_match; i++) {
        const msn_tx_t *t = &s->tx[match[i]];
        const char *fs = t->first_seen;
        if (fs && fs[0]) {
            if (first == NULL || strcmp(fs, first) < 0)
                first = fs;
            if (last == NULL || strcmp(fs, last) > 0)
                last = fs;
            if (t->first_seen_ms > 0)
                hours[(t->first_seen_ms / 1000) % 86400 / 3600]++;
        }
        const msn_obs_t *best = t->best >= 0 && (uint32_t)t->best < s->n_obs ? &s->obs[t->best] : NULL;
        if (best && best->has_snr) {
            snr += best->snr;
            n_snr++;
        }
        if (best && best->has_rssi) {
            rssi += best->rssi;
            n_rssi++;
        }
        const msn_observer_t *ob = best ? msn_store_observer(s, best->observer_rowid) : NULL;
        if (ob && ob->name && ob->name[0])
            msn_an__map_count(&observers, ob->name, strlen(ob->name));
        /* its full path, each hop resolved in its own context */
        msn_an__tx_hops(&hops, s, t);
        msn_an__rctx_reset(&rc);
        msn_an__rctx_tx(c, &rs.pm, &rc, NULL, t, &hops, &jo, scratch);
        msn_an__rctx_finish(&rc);
        msn_buf_reset(path);
        for (int h = 0; h < hops.n; h++) {
            if (h)
                msn_buf_puts(path, ARROW);
            int32_t nd = msn_an__pm_resolve(&rs.pm, hops.h[h].p, hops.h[h].n, &rc);
            if (nd >= 0)
                msn_buf_puts(path, msn_an__s(s->nodes[nd].name));
            else
                msn_buf_append(path, msn_an__hop_text(&hops.h[h]), hops.h[h].n);
        }
        msn_an__map_count(&parents, path->data ? path->data : "", path->len);
    }
    /* render (a Go map: keys sorted) */
    msn_buf_puts(out, "{\"firstSeen\":");
    msn_json_str_or_null(out, first ? first : "");
    msn_buf_puts(out, ",\"hops\":[");
    for (const char *p = raw;;) {
        size_t l = strcspn(p, ",");
        if (p != raw)
            msn_buf_putc(out, ',');
        msn_json_strn(out, p, l);
        if (p[l] == 0)
            break;
        p += l + 1;
    }
    msn_buf_puts(out, "],\"hourDistribution\":[");
    for (int h = 0; h < 24; h++)
        msn_buf_printf(out, "%s%lld", h ? "," : "", (long long)hours[h]);
    msn_buf_puts(out, "],\"lastSeen\":");
    msn_json_str_or_null(out, last ? last : "");
    msn_buf_puts(out, ",\"nodes\":[");
    for (const char *p = raw;;) {
        size_t l = strcspn(p, ",");
        if (p != raw)
            msn_buf_putc(out, ',');
        int32_t nd = msn_an__resolve(&rs, p, l);
        const msn_node_t *node = nd >= 0 ? &s->nodes[nd] : NULL;
        int gps = node && msn_an__node_gps(node);
        msn_buf_puts(out, "{\"hop\":");
        msn_json_strn(out, p, l);
        msn_buf_puts(out, ",\"lat\":");
        if (gps)
            msn_json_double(out, node->lat);
        else
            msn_buf_puts(out, "null");
        msn_buf_puts(out, ",\"lon\":");
        if (gps)
            msn_json_double(out, node->lon);
        else
            msn_buf_puts(out, "null");
        msn_buf_puts(out, ",\"name\":");
        if (node)
            msn_json_str_or_null(out, msn_an__s(node->name));
        else
            msn_json_strn(out, p, l);
        msn_buf_puts(out, ",\"pubkey\":");
        msn_json_str_or_null(out, node ? node->public_key : NULL);
        msn_buf_putc(out, '}');
        if (p[l] == 0)
            break;
        p += l + 1;
    }
    msn_buf_puts(out, "],\"observers\":");
    ranking(out, &observers, 10, "name", c->arena, 1);
    msn_buf_puts(out, ",\"parentPaths\":");
    ranking(out, &parents, 15, "path", c->arena, 1);
    msn_buf_puts(out, ",\"signal\":{\"avgRssi\":");
    if (n_rssi)
        msn_json_double(out, rssi / (double)n_rssi);
    else
        msn_buf_puts(out, "null");
    msn_buf_puts(out, ",\"avgSnr\":");
    if (n_snr)
        msn_json_double(out, snr / (double)n_snr);
    else
        msn_buf_puts(out, "null");
    msn_buf_printf(out, ",\"samples\":%lld},\"totalMatches\":%zu}", (long long)n_snr, n_match);
    return 0;
}
