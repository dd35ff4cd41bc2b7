/*
 * api_nodes.c: GET /api/nodes and GET /api/nodes/{pubkey}.
 *
 * /api/nodes filters the compact "nodes.index" document (shm/nodes_index.h) in the
 * requested order and fetches the page's pre-rendered node objects from `node`.
 * /api/nodes/{pubkey} is an exact lookup, else a prefix range scan (409 when ambiguous),
 * with the node's newest adverts from the "f"<pubkey> packet list.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "shm/json.h"
#include "shm/mpk.h"
#include "shm/nodes_index.h"
#include "shm/timeutil.h"

typedef struct {
    const char *pk, *name, *role;
    uint32_t pk_l, name_l, role_l;
    int64_t last_seen_ms, first_seen_ms, adverts;
} nrec_t;

static int read_opt_str(msn_mpk_reader_t *m, const char **s, uint32_t *l)
{
    if (msn_mpk_peek(m) == MSN_MPK_NIL) {
        *s = NULL;
        *l = 0;
        return msn_mpk_read_nil(m);
    }
    return msn_mpk_read_str(m, s, l);
}

static int ci_contains(const char *hay, size_t hl, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0)
        return 1;
    for (size_t i = 0; i + nl <= hl; i++)
        if (strncasecmp(hay + i, needle, nl) == 0)
            return 1;
    return 0;
}

static int64_t last_heard_ms(const char *v)
{
    static const struct {
        const char *k;
        int64_t ms;
    } t[] = {{"1h", 3600000LL}, {"6h", 6 * 3600000LL}, {"24h", 86400000LL}, {"7d", 7 * 86400000LL}, {"30d", 30 * 86400000LL}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(v, t[i].k) == 0)
            return t[i].ms;
    return -1;
}

static int append_node(msn_api_req_t *r, const char *pk, size_t pkl, msn_buf_t *b)
{
    MDB_val k = {pkl, (void *)pk}, v;
    if (mdb_get(r->txn, r->snap->dbi[MSN_DBI_NODE], &k, &v) != 0)
        return -1;
    msn_mpk_reader_t m;
    uint32_t n, fl;
    const char *frag;
    msn_mpk_reader_init(&m, v.mv_data, v.mv_size);
    if (msn_mpk_read_array(&m, &n) < 0 || n < 1 || msn_mpk_read_bin(&m, &frag, &fl) < 0)
        return -1;
    msn_buf_append(b, frag, fl);
    return 0;
}

void msn_api_nodes(msn_api_req_t *r)
{
    const char *role = msn_api_param(r, "role");
    const char *search = msn_api_param(r, "search");
    const char *sort = msn_api_param(r, "sortBy");
    const char *lh = msn_api_param(r, "lastHeard");
    const char *before = msn_api_param(r, "before");
    int64_t limit = msn_api_limit(r, 50, 2000), offset = msn_api_offset(r);
    int64_t since_ms = 0, before_ms = 0;
    int has_since = 0, has_before = 0;
    if (role && *role && strcmp(role, "repeater") && strcmp(role, "room") && strcmp(role, "companion") &&
        strcmp(role, "sensor")) {
        msn_api_error(r, 400, "invalid role: expected repeater, room, companion or sensor");
        return;
    }
    if (lh && *lh) {
        int64_t d = last_heard_ms(lh);
        if (d < 0) {
            msn_api_error(r, 400, "invalid lastHeard: expected 1h, 6h, 24h, 7d or 30d");
            return;
        }
        since_ms = r->now_ms - d;
        has_since = 1;
    }
    if (before && *before) {
        if (msn_parse_time_ms(before, &before_ms) < 0) {
            msn_api_error(r, 400, "invalid before: expected an ISO-8601 time");
            return;
        }
        has_before = 1;
    }
    int order = 0; /* 0 lastSeen, 1 name, 2 packetCount */
    if (sort && *sort) {
        if (strcmp(sort, "name") == 0)
            order = 1;
        else if (strcmp(sort, "packetCount") == 0)
            order = 2;
        else if (strcmp(sort, "lastSeen") != 0) {
            msn_api_error(r, 400, "invalid sortBy: expected name, lastSeen or packetCount");
            return;
        }
    }
    const void *doc;
    size_t len;
    if (msn_snap_doc_get(r->txn, r->snap, "nodes.index", &doc, &len, NULL, NULL) != 0) {
        msn_api_error(r, 500, "node index missing from the snapshot");
        return;
    }
    msn_mpk_reader_t m;
    uint32_t nf, nrec;
    msn_mpk_reader_init(&m, doc, len);
    if (msn_mpk_read_array(&m, &nf) < 0 || nf < MSN_NIDX_FIELDS || msn_mpk_read_array(&m, &nrec) < 0) {
        msn_api_error(r, 500, "node index malformed");
        return;
    }
    nrec_t *recs = msn_xcalloc(nrec + 1, sizeof(nrec_t));
    uint32_t *ord = msn_xmalloc((nrec + 1) * sizeof(uint32_t));
    int bad = 0;
    for (uint32_t i = 0; i < nrec && !bad; i++) {
        uint32_t fields;
        nrec_t *x = &recs[i];
        if (msn_mpk_read_array(&m, &fields) < 0 || fields < MSN_NREC_FIELDS || read_opt_str(&m, &x->pk, &x->pk_l) < 0 ||
            read_opt_str(&m, &x->name, &x->name_l) < 0 || read_opt_str(&m, &x->role, &x->role_l) < 0 ||
            msn_mpk_read_int(&m, &x->last_seen_ms) < 0 || msn_mpk_read_int(&m, &x->first_seen_ms) < 0 ||
            msn_mpk_read_int(&m, &x->adverts) < 0)
            bad = 1;
        for (uint32_t k = MSN_NREC_FIELDS; k < fields && !bad; k++)
            bad = msn_mpk_skip(&m) < 0;
        ord[i] = i;
    }
    for (int k = 1; k <= 2 && !bad; k++) {
        uint32_t cnt;
        if (msn_mpk_read_array(&m, &cnt) < 0 || cnt != nrec) {
            bad = 1;
            break;
        }
        for (uint32_t i = 0; i < cnt; i++) {
            int64_t pos;
            if (msn_mpk_read_int(&m, &pos) < 0 || pos < 0 || pos >= nrec) {
                bad = 1;
                break;
            }
            if (k == order)
                ord[i] = (uint32_t)pos;
        }
    }
    int64_t counts[4] = {0, 0, 0, 0};
    uint32_t nc;
    if (!bad && msn_mpk_read_array(&m, &nc) == 0 && nc >= 4)
        for (int k = 0; k < 4; k++)
            msn_mpk_read_int(&m, &counts[k]);
    if (bad) {
        free(recs);
        free(ord);
        msn_api_error(r, 500, "node index malformed");
        return;
    }
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"nodes\":[");
    int64_t total = 0;
    int first = 1;
    for (uint32_t i = 0; i < nrec; i++) {
        const nrec_t *x = &recs[ord[i]];
        if (role && *role && !(x->role && x->role_l == strlen(role) && memcmp(x->role, role, x->role_l) == 0))
            continue;
        if (search && *search && !(x->name && ci_contains(x->name, x->name_l, search)))
            continue;
        if (has_since && !(x->last_seen_ms > since_ms))
            continue;
        if (has_before && !(x->first_seen_ms <= before_ms))
            continue;
        if (total >= offset && total < offset + limit) {
            size_t mark = b->len;
            if (!first)
                msn_buf_putc(b, ',');
            if (append_node(r, x->pk, x->pk_l, b) < 0)
                b->len = mark;
            else
                first = 0;
        }
        total++;
    }
    msn_buf_printf(b, "],\"total\":%lld,\"counts\":{\"repeaters\":%lld,\"rooms\":%lld,\"companions\":%lld,\"sensors\":%lld}}",
                   (long long)total, (long long)counts[0], (long long)counts[1], (long long)counts[2],
                   (long long)counts[3]);
    free(recs);
    free(ord);
    r->status = 200;
}

void msn_api_node_detail(msn_api_req_t *r, const char *pubkey)
{
    char pk[65];
    size_t n = strlen(pubkey);
    if (n == 0 || n > 64) {
        msn_api_error(r, 404, "Not found");
        return;
    }
    for (size_t i = 0; i < n; i++)
        pk[i] = (char)tolower((unsigned char)pubkey[i]);
    pk[n] = '\0';
    MDB_val k = {n, pk}, v;
    char found[65];
    size_t found_l = 0;
    if (mdb_get(r->txn, r->snap->dbi[MSN_DBI_NODE], &k, &v) == 0) {
        memcpy(found, pk, n);
        found_l = n;
    } else if (n >= 8) {
        MDB_cursor *c;
        if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_NODE], &c) == 0) {
            int matches = 0;
            int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
            while (rc == 0 && matches < 2 && k.mv_size >= n && memcmp(k.mv_data, pk, n) == 0) {
                if (matches == 0 && k.mv_size <= 64) {
                    memcpy(found, k.mv_data, k.mv_size);
                    found_l = k.mv_size;
                }
                matches++;
                rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            }
            mdb_cursor_close(c);
            if (matches > 1) {
                msn_api_error(r, 409, "Ambiguous prefix: multiple nodes match. Use a longer prefix.");
                return;
            }
        }
    }
    if (found_l == 0) {
        msn_api_error(r, 404, "Not found");
        return;
    }
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"node\":");
    if (append_node(r, found, found_l, b) < 0) {
        msn_api_error(r, 404, "Not found");
        return;
    }
    msn_buf_puts(b, ",\"recentAdverts\":[");
    /* newest 20 adverts of this node */
    char key[70];
    key[0] = 'f';
    memcpy(key + 1, found, found_l);
    MDB_cursor *c;
    int count = 0;
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FX], &c) == 0) {
        MDB_val fk = {found_l + 1, key}, fv;
        int rc = mdb_cursor_get(c, &fk, &fv, MDB_SET_KEY);
        if (rc == 0)
            rc = mdb_cursor_get(c, &fk, &fv, MDB_LAST_DUP);
        while (rc == 0 && count < 20) {
            const msn_fx_rec_t *rec = fv.mv_data;
            size_t mark = b->len;
            if (count)
                msn_buf_putc(b, ',');
            if (msn_api_tx_with_observations(r, b, msn_be64_get(rec->id_be)) == 0)
                count++;
            else
                b->len = mark;
            rc = mdb_cursor_get(c, &fk, &fv, MDB_PREV_DUP);
        }
        mdb_cursor_close(c);
    }
    msn_buf_puts(b, "]}");
    r->status = 200;
}
