/*
 * subpaths.c: /api/analytics/subpaths (CoreScope computeAnalyticsSubpaths and its
 * windowed/regional variants).
 *
 * Input: the best observation's path of every transmission with at least two hops (with
 * a window: first_seen inside it; with a region: heard by one of its observers). Each hop
 * is named by the relay it resolves to (whole-store context, an_int.h msn_an__pm_resolve)
 * or, unresolved, by its own text. Every run of min_len..max_len consecutive hops counts
 * once per occurrence under its names joined by " → "; rawHops are the hop texts of the
 * first occurrence. pct = count / paths with >= 2 hops, in percent to one decimal.
 *
 * As in CoreScope, the unfiltered shape (no region, no window) reads hops lower-cased
 * (its precomputed index stores them so), while regional or windowed shapes keep their
 * case. Ties in the ranking keep first-occurrence order. Runs are keyed by the sequence
 * of names, so two runs whose joined text coincides only because a node name itself
 * contains " → " stay apart.
 */
#include "an_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shm/json.h"

typedef struct {
    int64_t count;
    uint32_t tx;    /* first occurrence */
    uint32_t start; /* its first hop */
    uint32_t len;
} sub_t;

typedef struct {
    int64_t count;
    uint32_t idx;
} top_t;

/* a is ranked after b: fewer occurrences, or equal and seen later */
static int ranks_after(const top_t *a, const top_t *b)
{
    return a->count < b->count || (a->count == b->count && a->idx > b->idx);
}

/* min-heap on rank (the root is the worst kept entry) */
static void heap_down(top_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && ranks_after(&h[l], &h[w]))
            w = l;
        if (r < n && ranks_after(&h[r], &h[w]))
            w = r;
        if (w == i)
            return;
        top_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void heap_up(top_t *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ranks_after(&h[i], &h[p]))
            return;
        top_t t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static int top_cmp(const void *a, const void *b)
{
    const top_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int msn_an__subpaths(const an_ctx_t *c, int min_len, int max_len, int limit, msn_buf_t *out, char *err,
                     size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    if (min_len < 2)
        min_len = 2;
    if (limit < 0)
        limit = 0;
    int windowed = msn_an__window_set(c);
    int fast = !windowed && (c->shape == NULL || c->shape->region == NULL || c->shape->region[0] == 0);
    an_pm_t pm;
    msn_an__pm_init(&pm, c);
    an_hops_t hops = {0};
    an_jobj_t jo;
    msn_buf_t scratch = MSN_BUF_INIT;

    /* resolution context: every transmission */
    an_rctx_t rc;
    msn_an__rctx_reset(&rc);
    an_map_t ctxseen;
    msn_an__map_init(&ctxseen);
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        msn_an__tx_hops(&hops, s, &s->tx[ti]);
        msn_an__rctx_tx(c, &pm, &rc, &ctxseen, &s->tx[ti], &hops, &jo, &scratch);
    }
    msn_an__rctx_finish(&rc);
    msn_an__map_free(&ctxseen);

    an_map_t hopname; /* hop text (as read) -> name id */
    an_map_t names;   /* name text -> id */
    an_map_t subs;    /* name-id sequence -> sub */
    msn_an__map_init(&hopname);
    msn_an__map_init(&names);
    msn_an__map_init(&subs);
    uint32_t *hn = NULL;
    size_t hn_cap = 0;
    sub_t *sb = NULL;
    size_t sb_cap = 0;
    uint32_t *ids = NULL;
    size_t ids_cap = 0;
    int64_t total = 0;
    char low[257];

    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (windowed && !msn_an__tx_in_window(c, t))
            continue;
        int n = msn_an__tx_hops(&hops, s, t);
        if (n < 2 || !msn_an__tx_in_region(c, t))
            continue;
        total++;
        AN_RESERVE(ids, ids_cap, (size_t)n);
        for (int i = 0; i < n; i++) {
            const char *h = hops.h[i].p ? hops.h[i].p : "";
            size_t hl = hops.h[i].n;
            if (fast) {
                if (hl > 256)
                    hl = 256;
                for (size_t q = 0; q < hl; q++)
                    low[q] = (char)tolower((unsigned char)h[q]);
                h = low;
            }
            int is_new;
            uint32_t e = msn_an__map_intern(&hopname, h, hl, &is_new);
            if (is_new) {
                int32_t nd = msn_an__pm_resolve(&pm, h, hl, &rc);
                const char *nm = h;
                size_t nml = hl;
                if (nd >= 0) {
                    nm = msn_an__s(s->nodes[nd].name);
                    nml = strlen(nm);
                }
                AN_RESERVE(hn, hn_cap, (size_t)e + 1);
                hn[e] = msn_an__map_intern(&names, nm, nml, NULL);
            }
            ids[i] = hn[e];
        }
        for (int l = min_len; l <= max_len && l <= n; l++)
            for (int st = 0; st + l <= n; st++) {
                int is_new;
                uint32_t e = msn_an__map_intern(&subs, ids + st, (size_t)l * sizeof(uint32_t), &is_new);
                if (is_new) {
                    AN_RESERVE(sb, sb_cap, (size_t)e + 1);
                    sb[e].count = 0;
                    sb[e].tx = ti;
                    sb[e].start = (uint32_t)st;
                    sb[e].len = (uint32_t)l;
                }
                sb[e].count++;
            }
    }

    /* the `limit` most frequent */
    top_t *heap = msn_xmalloc(((size_t)limit + 1) * sizeof(*heap));
    size_t nh = 0;
    for (uint32_t e = 0; e < subs.n && limit > 0; e++) {
        top_t cand = {sb[e].count, e};
        if (nh < (size_t)limit) {
            heap[nh] = cand;
            heap_up(heap, nh);
            nh++;
        } else if (ranks_after(&heap[0], &cand)) {
            heap[0] = cand;
            heap_down(heap, nh, 0);
        }
    }
    msn_an__qsort(heap, nh, sizeof(*heap), top_cmp);

    msn_buf_t path = MSN_BUF_INIT;
    msn_buf_puts(out, "{\"subpaths\":[");
    for (size_t i = 0; i < nh; i++) {
        const sub_t *e = &sb[heap[i].idx];
        const uint32_t *seq = (const uint32_t *)(const void *)subs.keys[heap[i].idx];
        uint32_t l = subs.klen[heap[i].idx] / (uint32_t)sizeof(uint32_t);
        msn_buf_reset(&path);
        for (uint32_t q = 0; q < l; q++) {
            uint32_t id;
            memcpy(&id, seq + q, sizeof(id));
            if (q)
                msn_buf_puts(&path, " \xe2\x86\x92 ");
            msn_buf_append(&path, names.keys[id], names.klen[id]);
        }
        /* hops = parts of the joined text, as strings.Split counts them */
        int64_t parts = 1;
        for (size_t q = 0; q + 5 <= path.len; q++)
            if (memcmp(path.data + q, " \xe2\x86\x92 ", 5) == 0) {
                parts++;
                q += 4;
            }
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"count\":");
        msn_buf_put_i64(out, e->count);
        msn_buf_puts(out, ",\"hops\":");
        msn_buf_put_i64(out, parts);
        msn_buf_puts(out, ",\"path\":");
        msn_an__strn(out, path.data, path.len);
        msn_buf_puts(out, ",\"pct\":");
        msn_json_double(out, total > 0 ? round((double)e->count / (double)total * 1000) / 10 : 0.0);
        msn_buf_puts(out, ",\"rawHops\":[");
        msn_an__tx_hops(&hops, s, &s->tx[e->tx]);
        int first = 1;
        for (uint32_t q = 0; q < e->len && e->start + q < (uint32_t)hops.n; q++) {
            const an_hop_t *h = &hops.h[e->start + q];
            const char *hp = h->p ? h->p : "";
            /* strings.Split(raw, ","): a hop holding a comma would split further */
            size_t a = 0;
            for (size_t z = 0; z <= h->n; z++) {
                if (z < h->n && hp[z] != ',')
                    continue;
                msn_buf_reset(&scratch);
                for (size_t y = a; y < z; y++)
                    msn_buf_putc(&scratch, fast ? (char)tolower((unsigned char)hp[y]) : hp[y]);
                if (!first)
                    msn_buf_putc(out, ',');
                first = 0;
                msn_an__strn(out, scratch.data, scratch.len);
                a = z + 1;
            }
        }
        msn_buf_puts(out, "]}");
    }
    msn_buf_puts(out, "],\"totalPaths\":");
    msn_buf_put_i64(out, total);
    msn_buf_putc(out, '}');

    free(heap);
    msn_buf_free(&path);
    free(hn);
    free(sb);
    free(ids);
    free(hops.h);
    msn_buf_free(&scratch);
    msn_an__map_free(&hopname);
    msn_an__map_free(&names);
    msn_an__map_free(&subs);
    msn_an__pm_free(&pm);
    return 0;
}
