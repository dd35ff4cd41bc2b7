/*
 * api_nodedocs.c: the per-node endpoints, answered from the node documents the master
 * publishes (shm/entdoc.h) and from the node index: /api/nodes/search,
 * /api/nodes/bulk-health, /api/nodes/{pubkey}/{health,paths,neighbors,clock-skew,analytics,
 * battery,reach}. A handler looks documents up and, for neighbours, bulk health and battery,
 * filters and renders records; it never computes an analytic.
 *
 * Parameters follow CoreScope's parsing (strconv.Atoi: anything unparsable takes the
 * default): analytics days default 7 clamped to 1..365, reach days default 7 clamped to
 * 1..30, battery days 1..365 else 7. The windows published are MSN_NODE_ANALYTICS_DAYS and
 * MSN_NODE_REACH_DAYS (what CoreScope's frontend asks for); another in-range value is a 400
 * naming the parameter and the published values.
 *
 * Public keys are matched in any case (CoreScope matches health, paths and analytics
 * exactly; its frontend always sends the stored lowercase key).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entapi.h"
#include "shm/entdoc.h"
#include "shm/json.h"
#include "shm/timeutil.h"

/* The node id (64 lowercase hex) of a path parameter; 0, or -1 when it is not a key. */
static int node_id(const char *pk, char id[65])
{
    return pk ? msn_entdoc_node_id(pk, strlen(pk), id) : -1;
}

/* A node document: 404 for an unknown node, 503 while a known node's documents are
 * computed. */
static void node_doc(msn_api_req_t *r, const char *pk, const char *doc)
{
    char id[65];
    if (node_id(pk, id) < 0) {
        msn_api_error(r, 404, "Not found");
        return;
    }
    if (msn_api_send_nodedoc(r, doc, id) == 0)
        return;
    if (msn_api_node_known(r, id))
        msn_api_nodedocs_pending(r);
    else
        msn_api_error(r, 404, "Not found");
}

void msn_api_node_health(msn_api_req_t *r, const char *pk)
{
    node_doc(r, pk, MSN_NODEDOC_HEALTH);
}

void msn_api_node_paths(msn_api_req_t *r, const char *pk)
{
    node_doc(r, pk, MSN_NODEDOC_PATHS);
}

/* ---- days ---- */

/* CoreScope's queryInt(days, def) clamped to lo..hi, then one of the published windows:
 * 0 with *days set, or -1 after answering 400. */
static int days_param(msn_api_req_t *r, int def, int lo, int hi, const int *pub, int n_pub, const char *what)
{
    int64_t d = def;
    const char *v = msn_api_param(r, "days");
    if (v && msn_api_go_atoi(v, &d) < 0)
        d = def;
    if (d < lo)
        d = lo;
    if (d > hi)
        d = hi;
    for (int i = 0; i < n_pub; i++)
        if (pub[i] == d)
            return (int)d;
    char list[64] = "";
    for (int i = 0; i < n_pub; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", i ? (i == n_pub - 1 ? " or " : ", ") : "",
                 pub[i]);
    msn_api_error(r, 400, "invalid days: %s are published for days=%s", what, list);
    return -1;
}

void msn_api_node_analytics(msn_api_req_t *r, const char *pk)
{
    static const int pub[] = MSN_NODE_ANALYTICS_DAYS;
    int d = days_param(r, 7, 1, 365, pub, MSN_NODE_ANALYTICS_NDAYS, "node analytics");
    if (d < 0)
        return;
    char doc[32];
    snprintf(doc, sizeof(doc), MSN_NODEDOC_ANALYTICS ".%d", d);
    node_doc(r, pk, doc);
}

void msn_api_node_reach(msn_api_req_t *r, const char *pk)
{
    static const int pub[] = MSN_NODE_REACH_DAYS;
    char id[65];
    /* CoreScope lowercases first, then wants 64 hex characters */
    if (node_id(pk, id) < 0) {
        msn_api_error(r, 400, "invalid pubkey: expected 64 hex chars");
        return;
    }
    int d = days_param(r, 7, 1, 30, pub, MSN_NODE_REACH_NDAYS, "node reach windows");
    if (d < 0)
        return;
    char doc[32];
    snprintf(doc, sizeof(doc), MSN_NODEDOC_REACH ".%d", d);
    node_doc(r, id, doc);
}

/* ---- clock skew ---- */

void msn_api_node_clock_skew(msn_api_req_t *r, const char *pk)
{
    char id[65];
    if (node_id(pk, id) < 0) {
        msn_api_error(r, 404, "No clock skew data for this node");
        return;
    }
    if (msn_api_send_nodedoc(r, MSN_NODEDOC_CLOCK_SKEW, id) == 0)
        return;
    msn_doc_t d;
    if (!msn_api_node_known(r, id) && msn_api_entdoc_get(r, MSN_ENT_NODE, MSN_NODEDOC_HEALTH, id, 64, &d) != 0) {
        msn_api_error(r, 404, "No clock skew data for this node");
        return;
    }
    /* CoreScope answers 404 for a known node without advert clock samples, which the
       browser logs as a failed request; its page ignores an answer without severity */
    msn_buf_printf(r->body, "{\"pubkey\":\"%s\",\"sampleCount\":0,\"samples\":[]}", id);
    r->status = 200;
}

/* ---- neighbours ---- */

typedef struct {
    msn_nbr_t e;
    double score;
    int64_t count, modes[4];
    char last[32];
    int removed;
    /* observers: the entry's own, plus merged ones (in one buffer of the request) */
    const char *obs[64];
    uint32_t obs_len[64];
    int n_obs;
} nent_t;

static void obs_add(nent_t *x, const char *s, uint32_t n)
{
    for (int i = 0; i < x->n_obs; i++)
        if (x->obs_len[i] == n && memcmp(x->obs[i], s, n) == 0)
            return;
    if (x->n_obs < 64) {
        x->obs[x->n_obs] = s;
        x->obs_len[x->n_obs++] = n;
    }
}

static void obs_read(nent_t *x)
{
    msn_mpk_reader_t it = x->e.observers;
    uint32_t n;
    if (msn_mpk_read_array(&it, &n) < 0)
        return;
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        uint32_t l;
        if (msn_mpk_read_str(&it, &s, &l) < 0)
            return;
        obs_add(x, s, l);
    }
}

static int sv_cmp(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an < bn ? -1 : an > bn);
}

static void obs_sort(nent_t *x)
{
    for (int i = 1; i < x->n_obs; i++)
        for (int j = i; j > 0 && sv_cmp(x->obs[j - 1], x->obs_len[j - 1], x->obs[j], x->obs_len[j]) > 0; j--) {
            const char *t = x->obs[j];
            uint32_t tl = x->obs_len[j];
            x->obs[j] = x->obs[j - 1];
            x->obs_len[j] = x->obs_len[j - 1];
            x->obs[j - 1] = t;
            x->obs_len[j - 1] = tl;
        }
}

static int nent_cmp(const void *a, const void *b)
{
    const nent_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    const char *xk = x->e.pk ? x->e.pk : x->e.prefix, *yk = y->e.pk ? y->e.pk : y->e.prefix;
    return sv_cmp(xk, x->e.pk ? x->e.pk_len : x->e.prefix_len, yk, y->e.pk ? y->e.pk_len : y->e.prefix_len);
}

static void kstrn(msn_buf_t *b, const char *key, const char *s, uint32_t n, int first)
{
    if (!first)
        msn_buf_putc(b, ',');
    msn_json_key(b, key);
    if (s == NULL)
        msn_buf_puts(b, "null");
    else
        msn_json_strn(b, s, n);
}

static void render_nent(msn_buf_t *b, const nent_t *x)
{
    const msn_nbr_t *e = &x->e;
    msn_buf_putc(b, '{');
    kstrn(b, "pubkey", e->pk, e->pk_len, 1);
    kstrn(b, "prefix", e->prefix, e->prefix_len, 0);
    kstrn(b, "name", e->name, e->name_len, 0);
    kstrn(b, "role", e->role, e->role_len, 0);
    msn_buf_printf(b, ",\"count\":%lld", (long long)x->count);
    int any = 0;
    for (int m = 0; m < 4; m++)
        any |= x->modes[m] != 0;
    if (any) {
        msn_buf_puts(b, ",\"counts_by_mode\":{");
        int first = 1;
        for (int m = 0; m < 4; m++)
            if (x->modes[m]) {
                msn_buf_printf(b, "%s\"%d\":%lld", first ? "" : ",", m, (long long)x->modes[m]);
                first = 0;
            }
        msn_buf_putc(b, '}');
    }
    msn_buf_puts(b, ",\"score\":");
    msn_json_double(b, x->score);
    char fs[32];
    msn_format_iso_s(fs, e->first_s);
    msn_buf_printf(b, ",\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"avg_snr\":", fs, x->last);
    if (e->snr_n > 0)
        msn_json_double(b, e->snr_sum / (double)e->snr_n);
    else
        msn_buf_puts(b, "null");
    if (e->has_dist) {
        msn_buf_puts(b, ",\"distance_km\":");
        msn_json_double(b, e->dist_km);
    }
    msn_buf_puts(b, ",\"observers\":[");
    for (int i = 0; i < x->n_obs; i++) {
        if (i)
            msn_buf_putc(b, ',');
        msn_json_strn(b, x->obs[i], x->obs_len[i]);
    }
    msn_buf_printf(b, "],\"ambiguous\":%s", e->ambiguous ? "true" : "false");
    if (e->ambiguous) {
        msn_mpk_reader_t it = e->candidates;
        uint32_t n;
        if (msn_mpk_read_array(&it, &n) == 0) {
            if (n == 0)
                msn_buf_puts(b, ",\"unresolved\":true");
            else {
                msn_buf_puts(b, ",\"candidates\":[");
                for (uint32_t i = 0; i < n; i++) {
                    uint32_t f, kl, nl, rl;
                    const char *k, *nm, *rol;
                    if (msn_mpk_read_array(&it, &f) < 0 || f != 3 || msn_mpk_read_str(&it, &k, &kl) < 0 ||
                        msn_mpk_read_str(&it, &nm, &nl) < 0 || msn_mpk_read_str(&it, &rol, &rl) < 0)
                        break;
                    msn_buf_puts(b, i ? ",{" : "{");
                    kstrn(b, "pubkey", k, kl, 1);
                    kstrn(b, "name", nm, nl, 0);
                    kstrn(b, "role", rol, rl, 0);
                    msn_buf_putc(b, '}');
                }
                msn_buf_putc(b, ']');
            }
        }
    }
    msn_buf_putc(b, '}');
}

void msn_api_node_neighbors(msn_api_req_t *r, const char *pk)
{
    char id[65] = "";
    /* CoreScope lowercases the key and never answers 404: an unknown node has no neighbours */
    size_t pl = pk ? strlen(pk) : 0;
    char low[200];
    snprintf(low, sizeof(low), "%.*s", (int)(pl < sizeof(low) - 1 ? pl : sizeof(low) - 1), pk ? pk : "");
    for (char *c = low; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    int64_t min_count = 1;
    double min_score = 0;
    const char *v = msn_api_param(r, "min_count");
    int64_t x;
    if (v && msn_api_go_atoi(v, &x) == 0 && x > 0)
        min_count = x;
    v = msn_api_param(r, "min_score");
    double f;
    if (v && msn_api_go_float(v, &f) == 0)
        min_score = f;
    v = msn_api_param(r, "include_ambiguous");
    int include_ambiguous = !(v && strcmp(v, "false") == 0);
    msn_mpk_reader_t it;
    uint32_t n = 0;
    int rc = node_id(low, id) == 0 ? msn_api_nbr_open(r, id, &it, &n) : MDB_NOTFOUND;
    if (rc == MDB_NOTFOUND) {
        const void *g;
        size_t gl;
        if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_NEIGHBOR_GRAPH, &g, &gl, NULL, NULL) != 0) {
            r->retry_after = 5;
            msn_api_error(r, 503, "the neighbour graph is being computed; retry shortly");
            return;
        }
        n = 0;
    } else if (rc != 0) {
        msn_api_error(r, 500, "neighbour document malformed");
        return;
    }
    nent_t *ents = msn_xcalloc((size_t)n + 1, sizeof(*ents));
    uint32_t ne = 0;
    int64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        nent_t *y = &ents[ne];
        if (msn_api_nbr_next(&it, &y->e) < 0) {
            free(ents);
            msn_api_error(r, 500, "neighbour document malformed");
            return;
        }
        y->score = msn_api_nbr_score(y->e.count, y->e.last_s, r->now_ms);
        if (y->e.count < min_count || y->score < min_score || (y->e.ambiguous && !include_ambiguous))
            continue;
        total += y->e.count;
        y->count = y->e.count;
        memcpy(y->modes, y->e.modes, sizeof(y->modes));
        msn_format_iso_s(y->last, y->e.last_s);
        obs_read(y);
        ne++;
    }
    /* CoreScope's dedupPrefixEntries: an unresolved entry whose prefix starts exactly one
       resolved neighbour's key merges into it */
    for (uint32_t i = 0; ne > 1 && i < ne; i++) {
        nent_t *u = &ents[i];
        if (u->e.pk != NULL || u->e.prefix_len == 0)
            continue;
        int match = -1, matches = 0;
        for (uint32_t j = 0; j < ne; j++)
            if (j != i && ents[j].e.pk != NULL && !ents[j].removed && ents[j].e.pk_len >= u->e.prefix_len &&
                strncasecmp(ents[j].e.pk, u->e.prefix, u->e.prefix_len) == 0) {
                match = (int)j;
                matches++;
            }
        if (matches != 1)
            continue;
        nent_t *t = &ents[match];
        t->count += u->count;
        for (int m = 0; m < 4; m++)
            t->modes[m] += u->modes[m];
        if (strcmp(u->last, t->last) > 0)
            memcpy(t->last, u->last, sizeof(t->last));
        for (int k = 0; k < u->n_obs; k++)
            obs_add(t, u->obs[k], u->obs_len[k]);
        u->removed = 1;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < ne; i++)
        if (!ents[i].removed)
            ents[kept++] = ents[i];
    qsort(ents, kept, sizeof(*ents), nent_cmp);
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"node\":");
    msn_json_strn(b, low, strlen(low));
    msn_buf_puts(b, ",\"neighbors\":[");
    for (uint32_t i = 0; i < kept; i++) {
        if (i)
            msn_buf_putc(b, ',');
        obs_sort(&ents[i]);
        render_nent(b, &ents[i]);
    }
    msn_buf_printf(b, "],\"total_observations\":%lld}", (long long)total);
    free(ents);
    r->status = 200;
}

/* ---- battery ---- */

void msn_api_node_battery(msn_api_req_t *r, const char *pk)
{
    char id[65];
    if (node_id(pk, id) < 0 || !msn_api_node_known(r, id)) {
        msn_api_error(r, 404, "node not found");
        return;
    }
    int64_t days = 7, d;
    const char *v = msn_api_param(r, "days");
    if (v && msn_api_go_atoi(v, &d) == 0 && d > 0 && d <= 365)
        days = d;
    int64_t since_s = r->now_ms / 1000 - days * 86400;
    char since[32];
    msn_format_iso_s(since, since_s);
    msn_buf_t *b = r->body;
    msn_buf_printf(b, "{\"days\":%lld,", (long long)days);
    msn_buf_t samples = MSN_BUF_INIT;
    char last_ts[64] = "";
    int64_t last_mv = 0;
    int n = 0;
    for (int64_t day = since_s - since_s % 86400; day <= r->now_ms / 1000; day += 86400) {
        char ds[32], doc[40];
        msn_format_iso_s(ds, day);
        snprintf(doc, sizeof(doc), MSN_NODEDOC_BATTERY ".%.10s", ds);
        msn_doc_t dd;
        if (msn_api_entdoc_get(r, MSN_ENT_NODE, doc, id, 64, &dd) != 0)
            continue;
        msn_mpk_reader_t it;
        uint32_t cnt;
        msn_mpk_reader_init(&it, dd.body, dd.len);
        if (msn_mpk_read_array(&it, &cnt) < 0)
            continue;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t f, tl;
            const char *ts;
            int64_t mv;
            if (msn_mpk_read_array(&it, &f) < 0 || f != 2 || msn_mpk_read_str(&it, &ts, &tl) < 0 ||
                msn_mpk_read_int(&it, &mv) < 0)
                break;
            /* timestamp >= since, compared as text (CoreScope's SQL) */
            size_t sl = strlen(since);
            int c = memcmp(ts, since, tl < sl ? tl : sl);
            if (c < 0 || (c == 0 && tl < sl))
                continue;
            msn_buf_puts(&samples, n ? ",{\"timestamp\":" : "{\"timestamp\":");
            msn_json_strn(&samples, ts, tl);
            msn_buf_printf(&samples, ",\"battery_mv\":%lld}", (long long)mv);
            snprintf(last_ts, sizeof(last_ts), "%.*s", (int)(tl < 63 ? tl : 63), ts);
            last_mv = mv;
            n++;
        }
    }
    if (n) {
        msn_buf_printf(b, "\"latest_mv\":%lld,\"latest_ts\":", (long long)last_mv);
        msn_json_strn(b, last_ts, strlen(last_ts));
    } else {
        msn_buf_puts(b, "\"latest_mv\":null,\"latest_ts\":null");
    }
    msn_buf_printf(b, ",\"public_key\":\"%s\",\"samples\":[", id);
    if (samples.len)
        msn_buf_append(b, samples.data, samples.len);
    const char *status = !n ? "unknown" : last_mv < 3000 ? "critical" : last_mv < 3300 ? "low" : "ok";
    msn_buf_printf(b, "],\"status\":\"%s\",\"thresholds\":{\"critical_mv\":3000,\"low_mv\":3300}}", status);
    msn_buf_free(&samples);
    r->status = 200;
}

/* ---- search ---- */

/* SQLite's LIKE without ESCAPE: % any run, _ one character (UTF-8), ASCII case-insensitive. */
static int like(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn && (p[pi] == '_' || tolower((unsigned char)p[pi]) == tolower((unsigned char)s[si]))) {
            if (p[pi] == '_') { /* one whole character */
                si++;
                while (si < sn && ((unsigned char)s[si] & 0xC0) == 0x80)
                    si++;
            } else {
                si++;
            }
            pi++;
            continue;
        }
        if (star_p == (size_t)-1)
            return 0;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < pn && p[pi] == '%')
        pi++;
    return pi == pn;
}

void msn_api_node_search(msn_api_req_t *r)
{
    const char *q = msn_api_param(r, "q");
    size_t qn = q ? strlen(q) : 0;
    while (qn && isspace((unsigned char)*q)) {
        q++;
        qn--;
    }
    while (qn && isspace((unsigned char)q[qn - 1]))
        qn--;
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"nodes\":[");
    if (qn == 0) {
        msn_buf_puts(b, "]}");
        r->status = 200;
        return;
    }
    char *name_pat = msn_xmalloc(qn + 3), *key_pat = msn_xmalloc(qn + 2);
    name_pat[0] = '%';
    memcpy(name_pat + 1, q, qn);
    name_pat[qn + 1] = '%';
    memcpy(key_pat, q, qn);
    key_pat[qn] = '%';
    const void *doc;
    size_t len;
    msn_nidx_reader_t it;
    uint32_t nrec;
    if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_NODES_INDEX, &doc, &len, NULL, NULL) != 0 ||
        msn_snaprec_nidx_open(&it, doc, len, &nrec) != 0) {
        free(name_pat);
        free(key_pat);
        msn_api_error(r, 500, "node index missing from the snapshot");
        return;
    }
    int found = 0;
    msn_snaprec_nrec_t rec;
    while (found < 10 && msn_snaprec_nidx_next(&it, &rec) == 1) {
        if (!((rec.name.p && like(name_pat, qn + 2, rec.name.p, rec.name.len)) ||
              (rec.public_key.p && like(key_pat, qn + 1, rec.public_key.p, rec.public_key.len))))
            continue;
        msn_snaprec_node_t nd;
        if (rec.public_key.p == NULL || msn_snap_node_get(r->txn, r->snap, rec.public_key.p, rec.public_key.len, &nd))
            continue;
        if (found++)
            msn_buf_putc(b, ',');
        msn_buf_append(b, nd.base.p, nd.base.len);
    }
    free(name_pat);
    free(key_pat);
    msn_buf_puts(b, "]}");
    r->status = 200;
}

/* ---- bulk health ---- */

#define MAX_CODES 16

/* CoreScope's region codes: comma-separated, trimmed, upper-case, without "ALL" and
 * empties. Returns their count (into codes, which point into buf). */
static int region_codes(const char *region, char *buf, size_t cap, char *codes[MAX_CODES])
{
    int n = 0;
    if (region == NULL)
        return 0;
    snprintf(buf, cap, "%s", region);
    char *save = NULL;
    for (char *p = strtok_r(buf, ",", &save); p && n < MAX_CODES; p = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*p))
            p++;
        size_t l = strlen(p);
        while (l && isspace((unsigned char)p[l - 1]))
            p[--l] = '\0';
        for (size_t i = 0; i < l; i++)
            p[i] = (char)toupper((unsigned char)p[i]);
        if (l == 0 || strcmp(p, "ALL") == 0)
            continue;
        codes[n++] = p;
    }
    return n;
}

static int code_match(char *const *codes, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(codes[i]) == len && strncasecmp(codes[i], s, len) == 0)
            return 1;
    return 0;
}

/* 1 when some observer carries one of the codes (else CoreScope filters nothing). */
static int region_active(msn_api_req_t *r, char *const *codes, int n)
{
    MDB_cursor *c;
    if (n == 0 || mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_OROW], &c) != 0)
        return 0;
    MDB_val k, v;
    int found = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !found; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        msn_snaprec_orow_t o;
        if (msn_snap_note(r->snap, msn_snaprec_orow_decode(v.mv_data, v.mv_size, &o)) == 0 && o.iata.p)
            found = code_match(codes, n, o.iata.p, o.iata.len);
    }
    mdb_cursor_close(c);
    return found;
}

void msn_api_nodes_bulk_health(msn_api_req_t *r)
{
    int64_t limit;
    char err[128];
    if (msn_api_limit(r, 50, 200, &limit, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    char rbuf[256], *codes[MAX_CODES];
    int n_codes = region_codes(msn_api_param(r, "region"), rbuf, sizeof(rbuf), codes);
    int filter = region_active(r, codes, n_codes);
    const void *doc;
    size_t len;
    msn_nidx_reader_t it;
    uint32_t nrec;
    if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_NODES_INDEX, &doc, &len, NULL, NULL) != 0 ||
        msn_snaprec_nidx_open(&it, doc, len, &nrec) != 0) {
        msn_api_error(r, 500, "node index missing from the snapshot");
        return;
    }
    msn_buf_t *b = r->body;
    msn_buf_putc(b, '[');
    int64_t n = 0;
    msn_snaprec_nrec_t rec;
    while (n < limit && msn_snaprec_nidx_next(&it, &rec) == 1) {
        char id[65];
        msn_doc_t d;
        if (rec.public_key.p == NULL || msn_entdoc_node_id(rec.public_key.p, rec.public_key.len, id) < 0 ||
            msn_api_entdoc_get(r, MSN_ENT_NODE, MSN_NODEDOC_BULK, id, 64, &d) != 0)
            continue;
        msn_mpk_reader_t m;
        uint32_t f, nreg;
        msn_mpk_reader_init(&m, d.body, d.len);
        if (msn_mpk_read_array(&m, &f) < 0 || f != 2 || msn_mpk_read_array(&m, &nreg) < 0)
            continue;
        int in = !filter;
        for (uint32_t i = 0; i < nreg; i++) {
            const char *s;
            uint32_t sl;
            if (msn_mpk_read_str(&m, &s, &sl) < 0)
                break;
            in |= filter && code_match(codes, n_codes, s, sl);
        }
        const char *entry;
        uint32_t el;
        if (!in || msn_mpk_read_bin(&m, &entry, &el) < 0)
            continue;
        if (n++)
            msn_buf_putc(b, ',');
        msn_buf_append(b, entry, el);
    }
    msn_buf_putc(b, ']');
    r->status = 200;
}
