/*
 * api_channels.c: /api/channels, /api/channels/:hash/messages and /api/known-channels.
 *
 *  /api/channels   assembled from the "channels.index" document (one entry per channel
 *                  with its per-region figures, shm/snaprec.h): for the requested regions
 *                  (CoreScope's normalizeRegionCodes: comma list, trimmed, upper-case, "ALL"
 *                  and empty codes dropped) a channel's messageCount is the observations of
 *                  its messages by observers of those regions and lastActivity the newest
 *                  first_seen among the messages they heard; without a region, the message
 *                  count and newest first_seen of all. Sorted by lastActivity descending
 *                  (then hash); with includeEncrypted=true the "enc_" channels follow, sorted
 *                  the same way. Keys in Go's map order (sorted).
 *  /api/channels/:hash/messages  a reverse walk of the channel's `chl` list (every
 *                  message, or the union of the lists of the requested regions) skipping
 *                  `offset` and taking `limit` (default 100, at most 500) by newest
 *                  observation second then id, descending; emitted oldest first with the
 *                  `cmsg` objects (messages whose decoded_json was unusable take their place
 *                  in the page but are not shown, as in CoreScope). total counts the list.
 *  /api/known-channels  the empty catalogue CoreScope serves without knownChannelsUrl.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "shm/json.h"

#define MAX_CODES 32

typedef struct {
    char code[MAX_CODES][64];
    int n;
} codes_t;

/* CoreScope's normalizeRegionCodes. Returns 0, or -1 with a 400 answered. */
static int region_codes(msn_api_req_t *r, codes_t *c)
{
    c->n = 0;
    const char *p = msn_api_param(r, "region");
    while (p && *p) {
        size_t l = strcspn(p, ",");
        const char *s = p, *e = p + l;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
            e--;
        size_t cl = (size_t)(e - s);
        if (cl > 0) {
            if (c->n == MAX_CODES || cl >= sizeof(c->code[0])) {
                msn_api_error(r, 400, "invalid region: at most %d codes of at most %d characters", MAX_CODES,
                              (int)sizeof(c->code[0]) - 1);
                return -1;
            }
            for (size_t i = 0; i < cl; i++)
                c->code[c->n][i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
            c->code[c->n][cl] = 0;
            if (strcmp(c->code[c->n], "ALL") != 0)
                c->n++;
        }
        p += l;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int codes_has(const codes_t *c, const char *s, size_t n)
{
    for (int i = 0; i < c->n; i++)
        if (strlen(c->code[i]) == n && memcmp(c->code[i], s, n) == 0)
            return 1;
    return 0;
}

/* ---- /api/channels ------------------------------------------------------------------------ */

typedef struct {
    msn_snaprec_chan_t ch;
    int64_t count;
    msn_sv_t last;
} row_t;

static int cmp_sv(msn_sv_t a, msn_sv_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static int cmp_row(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->last.p == NULL || y->last.p == NULL) {
        if (x->last.p != y->last.p)
            return x->last.p ? -1 : 1;
    } else {
        int c = cmp_sv(y->last, x->last);
        if (c)
            return c;
    }
    return cmp_sv(x->ch.hash, y->ch.hash);
}

static void sv_or_null(msn_buf_t *b, msn_sv_t s)
{
    if (s.p)
        msn_json_strn(b, s.p, s.len);
    else
        msn_buf_puts(b, "null");
}

static void render_rows(msn_buf_t *b, row_t *rows, size_t n, int *first)
{
    if (n > 1)
        qsort(rows, n, sizeof(*rows), cmp_row);
    for (size_t i = 0; i < n; i++) {
        const row_t *w = &rows[i];
        msn_buf_puts(b, *first ? "{" : ",{");
        *first = 0;
        if (w->ch.encrypted)
            msn_buf_puts(b, "\"encrypted\":true,");
        msn_buf_puts(b, "\"hash\":");
        msn_json_strn(b, w->ch.hash.p, w->ch.hash.len);
        msn_buf_puts(b, ",\"lastActivity\":");
        sv_or_null(b, w->last);
        msn_buf_puts(b, ",\"lastMessage\":");
        sv_or_null(b, w->ch.encrypted ? (msn_sv_t){NULL, 0} : w->ch.last_message);
        msn_buf_puts(b, ",\"lastSender\":");
        sv_or_null(b, w->ch.encrypted ? (msn_sv_t){NULL, 0} : w->ch.last_sender);
        msn_buf_printf(b, ",\"messageCount\":%lld,\"name\":", (long long)w->count);
        if (w->ch.encrypted) {
            /* "Encrypted (0x" + the hash without its "enc_" prefix (case-sensitive) + ")" */
            const char *h = w->ch.hash.p;
            size_t hl = w->ch.hash.len;
            if (hl >= 4 && memcmp(h, "enc_", 4) == 0) {
                h += 4;
                hl -= 4;
            }
            msn_buf_t nm = MSN_BUF_INIT;
            msn_buf_puts(&nm, "Encrypted (0x");
            msn_buf_append(&nm, h, hl);
            msn_buf_putc(&nm, ')');
            msn_json_strn(b, nm.data, nm.len);
            msn_buf_free(&nm);
        } else {
            msn_json_strn(b, w->ch.hash.p, w->ch.hash.len);
        }
        msn_buf_putc(b, '}');
    }
}

void msn_api_channels(msn_api_req_t *r)
{
    codes_t codes;
    if (region_codes(r, &codes) < 0)
        return;
    const char *ie = msn_api_param(r, "includeEncrypted");
    int include_enc = ie && strcmp(ie, "true") == 0;
    const void *doc;
    size_t len;
    if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_CHANNELS_INDEX, &doc, &len, NULL, NULL) != 0) {
        r->retry_after = 2;
        msn_api_error(r, 503, "channels are not in the snapshot yet");
        return;
    }
    msn_chidx_reader_t it;
    uint32_t n;
    if (msn_snaprec_chidx_open(&it, doc, len, &n) != 0) {
        msn_api_error(r, 500, "the channel index is damaged");
        return;
    }
    row_t *plain = msn_xcalloc(n ? n : 1, sizeof(row_t)), *enc = msn_xcalloc(n ? n : 1, sizeof(row_t));
    size_t np = 0, ne = 0;
    msn_snaprec_chan_t ch;
    int rc;
    while ((rc = msn_snaprec_chidx_next(&it, &ch)) == 1) {
        row_t w = {ch, 0, {NULL, 0}};
        if (codes.n == 0) {
            w.count = ch.tx_count;
            w.last = ch.last_activity;
        }
        msn_snaprec_chreg_t rg;
        while ((rc = msn_snaprec_chidx_region(&it, &rg)) == 1)
            if (codes.n && codes_has(&codes, rg.code.p, rg.code.len)) {
                w.count += rg.obs_count;
                if (rg.last_activity.p && (w.last.p == NULL || cmp_sv(rg.last_activity, w.last) > 0))
                    w.last = rg.last_activity;
            }
        if (rc < 0)
            break;
        if (w.count == 0 || ch.hash.len == 0)
            continue;
        if (ch.encrypted) {
            if (include_enc)
                enc[ne++] = w;
        } else {
            plain[np++] = w;
        }
    }
    if (rc < 0) {
        msn_api_error(r, 500, "the channel index is damaged");
    } else {
        int first = 1;
        msn_buf_puts(r->body, "{\"channels\":[");
        render_rows(r->body, plain, np, &first);
        render_rows(r->body, enc, ne, &first);
        msn_buf_puts(r->body, "]}");
        r->status = 200;
    }
    free(plain);
    free(enc);
}

/* ---- /api/channels/:hash/messages ----------------------------------------------------------- */

typedef struct {
    MDB_cursor *c;
    msn_snap_key_t k; /* the list */
    MDB_val key;
    int live; /* positioned on an entry */
    uint8_t val[16];
} walk_t;

/* Opens a cursor on w's list and positions it on the last (newest) entry. */
static void walk_start(msn_api_req_t *r, walk_t *w)
{
    w->live = 0;
    w->key = msn_snap_key_val(&w->k);
    MDB_val v;
    if (mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_CHL], &w->c) != 0) {
        w->c = NULL;
        return;
    }
    if (mdb_cursor_get(w->c, &w->key, &v, MDB_SET_KEY) == 0 && mdb_cursor_get(w->c, &w->key, &v, MDB_LAST_DUP) == 0 &&
        v.mv_size == 16) {
        memcpy(w->val, v.mv_data, 16);
        w->live = 1;
    }
}

static void walk_prev(walk_t *w)
{
    MDB_val v;
    w->live = 0;
    if (mdb_cursor_get(w->c, &w->key, &v, MDB_PREV_DUP) == 0 && v.mv_size == 16) {
        memcpy(w->val, v.mv_data, 16);
        w->live = 1;
    }
}

static size_t list_count(walk_t *w)
{
    size_t n = 0;
    if (w->live && mdb_cursor_count(w->c, &n) != 0)
        n = 0;
    return w->live ? (size_t)n : 0;
}

/* The next entry of the union of the walks, newest first (an entry in several lists is
 * taken once). Returns 0 at the end. */
static int union_next(walk_t *w, int n, uint8_t out[16])
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (w[i].live && (best < 0 || memcmp(w[i].val, w[best].val, 16) > 0))
            best = i;
    if (best < 0)
        return 0;
    memcpy(out, w[best].val, 16);
    for (int i = 0; i < n; i++)
        if (w[i].live && memcmp(w[i].val, out, 16) == 0)
            walk_prev(&w[i]);
    return 1;
}

void msn_api_channel_messages(msn_api_req_t *r, const char *hash)
{
    codes_t codes;
    int64_t limit, offset;
    char err[160];
    if (region_codes(r, &codes) < 0)
        return;
    if (msn_api_limit(r, 100, 500, &limit, err, sizeof(err)) < 0 || msn_api_offset(r, &offset, err, sizeof(err)) < 0) {
        msn_api_error(r, 400, "%s", err);
        return;
    }
    size_t hl = hash ? strlen(hash) : 0;
    int nw = codes.n ? codes.n : 1;
    walk_t *w = msn_xcalloc((size_t)nw, sizeof(walk_t));
    for (int i = 0; i < nw; i++) {
        const char *code = codes.n ? codes.code[i] : "";
        if (hl && msn_snap_chl_key(hash, hl, code, strlen(code), &w[i].k) == 0)
            walk_start(r, &w[i]);
    }
    /* total: one list's count, or the size of the union (a second set of walks) */
    int64_t total = 0;
    if (nw == 1) {
        total = (int64_t)list_count(&w[0]);
    } else {
        walk_t *cnt = msn_xcalloc((size_t)nw, sizeof(walk_t));
        for (int i = 0; i < nw; i++) {
            cnt[i].k = w[i].k;
            if (w[i].live)
                walk_start(r, &cnt[i]);
        }
        uint8_t e[16];
        while (union_next(cnt, nw, e))
            total++;
        for (int i = 0; i < nw; i++)
            if (cnt[i].c)
                mdb_cursor_close(cnt[i].c);
        free(cnt);
    }
    /* the page, newest first */
    uint64_t *ids = msn_xmalloc((size_t)limit * sizeof(uint64_t));
    size_t n = 0;
    uint8_t e[16];
    for (int64_t skip = 0; skip < offset && union_next(w, nw, e); skip++)
        ;
    while ((int64_t)n < limit && union_next(w, nw, e)) {
        int64_t latest;
        msn_snap_chl_val_parse(e, 16, &latest, &ids[n]);
        n++;
    }
    for (int i = 0; i < nw; i++)
        if (w[i].c)
            mdb_cursor_close(w[i].c);
    free(w);
    /* emitted oldest first */
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"messages\":[");
    int first = 1;
    for (size_t i = n; i-- > 0;) {
        msn_snap_key_t k;
        msn_snap_tx_key(ids[i], &k);
        MDB_val key = msn_snap_key_val(&k), v;
        msn_snaprec_cmsg_t m;
        if (mdb_get(r->txn, r->snap->dbi[MSN_DBI_CMSG], &key, &v) != 0 ||
            msn_snap_note(r->snap, msn_snaprec_cmsg_decode(v.mv_data, v.mv_size, &m)) != 0)
            continue; /* damage is counted: the answer is a 503 */
        if (!first)
            msn_buf_putc(b, ',');
        first = 0;
        msn_buf_append(b, m.fragment.p, m.fragment.len);
    }
    msn_buf_printf(b, "],\"total\":%lld}", (long long)total);
    free(ids);
    r->status = 200;
}

void msn_api_known_channels(msn_api_req_t *r)
{
    msn_buf_puts(r->body, "{\"fetchedAt\":\"0001-01-01T00:00:00Z\",\"source\":\"\",\"entries\":[]}");
    r->status = 200;
}
