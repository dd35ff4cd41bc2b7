/*
 * api_nodes.c: GET /api/nodes and GET /api/nodes/{pubkey}.
 *
 * /api/nodes filters the compact "nodes.index" document (shm/snaprec.h) in the
 * requested order and fetches the page's pre-rendered node objects from `node`.
 * /api/nodes/{pubkey} is an exact lookup, else a prefix range scan (409 when ambiguous),
 * with the node's newest adverts from the "f"<pubkey> packet list; the node object is its
 * `detail` document (shm/entdoc.h: hash sizes of the last 7 days, relay activity, flood
 * adverts), or its list object until that document is published.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "entapi.h"
#include "shm/entdoc.h"
#include "shm/json.h"
#include "shm/timeutil.h"

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

static int append_node(msn_api_req_t *r, msn_sv_t pk, msn_buf_t *b)
{
    msn_snaprec_node_t n;
    if (pk.p == NULL || msn_snap_node_get(r->txn, r->snap, pk.p, pk.len, &n) != 0)
        return -1;
    msn_buf_append(b, n.fragment.p, n.fragment.len);
    return 0;
}

void msn_api_nodes(msn_api_req_t *r)
{
    const char *role = msn_api_param(r, "role");
    const char *search = msn_api_param(r, "search");
    const char *sort = msn_api_param(r, "sortBy");
    const char *lh = msn_api_param(r, "lastHeard");
    const char *before = msn_api_param(r, "before");
    int64_t limit, offset;
    char err[256];
    if (msn_api_limit(r, 50, 2000, &limit, err, sizeof(err)) < 0 || msn_api_offset(r, &offset, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
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
    if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_NODES_INDEX, &doc, &len, NULL, NULL) != 0) {
        msn_api_error(r, 500, "node index missing from the snapshot");
        return;
    }
    msn_nidx_reader_t it;
    uint32_t nrec;
    if (msn_snaprec_nidx_open(&it, doc, len, &nrec) != 0) {
        msn_api_error(r, 500, "node index malformed");
        return;
    }
    msn_snaprec_nrec_t *recs = msn_xcalloc(nrec + 1, sizeof(*recs));
    uint32_t *ord = msn_xmalloc((nrec + 1) * sizeof(uint32_t));
    int64_t counts[MSN_NIDX_ROLES] = {0, 0, 0, 0};
    int rc = 1;
    for (uint32_t i = 0; i < nrec && rc == 1; i++) {
        rc = msn_snaprec_nidx_next(&it, &recs[i]);
        ord[i] = i;
    }
    if (rc >= 0)
        rc = msn_snaprec_nidx_orders(&it, order == 1 ? ord : NULL, order == 2 ? ord : NULL, counts);
    if (rc != 0) {
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
        const msn_snaprec_nrec_t *x = &recs[ord[i]];
        if (role && *role && !(x->role.p && x->role.len == strlen(role) && memcmp(x->role.p, role, x->role.len) == 0))
            continue;
        if (search && *search && !(x->name.p && ci_contains(x->name.p, x->name.len, search)))
            continue;
        if (has_since && !(x->last_seen_ms > since_ms))
            continue;
        if (has_before && !(x->first_seen_ms <= before_ms))
            continue;
        if (total >= offset && total - offset < limit) {
            size_t mark = b->len;
            if (!first)
                msn_buf_putc(b, ',');
            if (append_node(r, x->public_key, b) < 0)
                b->len = mark;
            else
                first = 0;
        }
        total++;
    }
    msn_buf_printf(b, "],\"total\":%lld,\"counts\":{\"repeaters\":%lld,\"rooms\":%lld,\"companions\":%lld,\"sensors\":%lld}}",
                   (long long)total, (long long)counts[MSN_NIDX_REPEATERS], (long long)counts[MSN_NIDX_ROOMS],
                   (long long)counts[MSN_NIDX_COMPANIONS], (long long)counts[MSN_NIDX_SENSORS]);
    free(recs);
    free(ord);
    r->status = 200;
}

void msn_api_node_detail(msn_api_req_t *r, const char *pubkey)
{
    msn_snap_key_t key;
    if (msn_snap_node_key(pubkey, strlen(pubkey), &key) < 0) {
        msn_api_error(r, 404, "Not found");
        return;
    }
    size_t n = key.len;
    MDB_val k = msn_snap_key_val(&key), v;
    char found[65];
    size_t found_l = 0;
    if (mdb_get(r->txn, r->snap->dbi[MSN_DBI_NODE], &k, &v) == 0) {
        memcpy(found, key.b, n);
        found_l = n;
    } else if (n >= 8) {
        MDB_cursor *c;
        if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_NODE], &c) == 0) {
            int matches = 0;
            for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
                 rc == 0 && matches < 2 && k.mv_size >= n && memcmp(k.mv_data, key.b, n) == 0;
                 rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                if (matches == 0 && k.mv_size <= 64) {
                    memcpy(found, k.mv_data, k.mv_size);
                    found_l = k.mv_size;
                }
                matches++;
            }
            mdb_cursor_close(c);
            if (matches > 1) {
                msn_api_error(r, 409, "Ambiguous prefix: multiple nodes match. Use a longer prefix.");
                return;
            }
        }
    }
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"node\":");
    /* the node with CoreScope's detail enrichment (node documents), else its list object */
    char id[65];
    msn_doc_t detail;
    if (found_l == 64 && msn_entdoc_node_id(found, 64, id) == 0 &&
        msn_api_entdoc_get(r, MSN_ENT_NODE, MSN_NODEDOC_DETAIL, id, 64, &detail) == 0) {
        msn_buf_append(b, detail.body, detail.len);
    } else if (found_l == 0 || append_node(r, (msn_sv_t){found, found_l}, b) < 0) {
        msn_api_error(r, 404, "Not found");
        return;
    }
    msn_buf_puts(b, ",\"recentAdverts\":[");
    /* the newest 20 adverts of this node */
    MDB_cursor *c;
    int count = 0;
    if (msn_snap_fx_key(MSN_FX_FROM, found, found_l, &key) == 0 &&
        mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_FX], &c) == 0) {
        MDB_val fk = msn_snap_key_val(&key), fv;
        int rc = mdb_cursor_get(c, &fk, &fv, MDB_SET_KEY);
        for (rc = rc == 0 ? mdb_cursor_get(c, &fk, &fv, MDB_LAST_DUP) : rc; rc == 0 && count < 20;
             rc = mdb_cursor_get(c, &fk, &fv, MDB_PREV_DUP)) {
            const msn_fx_rec_t *rec = msn_snaprec_fx_of(fv.mv_data, fv.mv_size);
            size_t mark = b->len;
            if (count)
                msn_buf_putc(b, ',');
            if (rec && msn_snap_note(r->snap, msn_snaprec_fx_check(rec, key.b, key.len)) == 0 &&
                msn_api_tx_with_observations(r, b, msn_snaprec_fx_id(rec)) == 0)
                count++;
            else
                b->len = mark;
        }
        mdb_cursor_close(c);
    }
    msn_buf_puts(b, "]}");
    r->status = 200;
}
