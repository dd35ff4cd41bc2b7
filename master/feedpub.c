/* feedpub.c: see feedpub.h. */
#include "feedpub.h"

#include <stdlib.h>
#include <string.h>

#include "gojson.h"
#include "shm/codec/codec.h"
#include "shm/feed.h"
#include "shm/json.h"
#include "shm/log.h"

void msn_feedpub_init(msn_feedpub_t *f, uint64_t run_id, int ring_messages, int ring_seconds)
{
    memset(f, 0, sizeof(*f));
    f->run_id = run_id;
    f->next_seq = 1;
    f->ring_messages = ring_messages > 0 ? ring_messages : 1;
    f->ring_seconds = ring_seconds > 0 ? ring_seconds : 1;
    f->published_tx = f->published_obs = -1;
    f->saved_seq = f->next_seq;
}

void msn_feedpub_free(msn_feedpub_t *f)
{
    msn_buf_free(&f->body);
}

void msn_feedpub_begin_full(msn_feedpub_t *f, int reload)
{
    f->reload = reload && f->published_tx >= 0;
}

void msn_feedpub_end(msn_feedpub_t *f, const msn_store_t *s, int committed)
{
    if (committed) {
        f->published_tx = s->max_tx_id;
        f->published_obs = s->max_obs_id;
    } else {
        f->next_seq = f->saved_seq;
        f->messages = f->saved_messages;
        f->skipped = f->saved_skipped;
    }
    f->saved_seq = f->next_seq;
    f->saved_messages = f->messages;
    f->saved_skipped = f->skipped;
}

/* ---- rendering --------------------------------------------------------------------------- */

/* CoreScope's payloadTypeNames (firmware Packet.h), "UNK(n)" otherwise, "UNKNOWN" for NULL. */
static void payload_type_name(msn_buf_t *b, int pt)
{
    static const char *const names[16] = {
        "REQ",  "RESPONSE", "TXT_MSG",   "ACK",     "ADVERT", "GRP_TXT", "GRP_DATA", "ANON_REQ",
        "PATH", "TRACE",    "MULTIPART", "CONTROL", NULL,     NULL,      NULL,       "RAW_CUSTOM"};
    if (pt < 0)
        msn_buf_puts(b, "\"UNKNOWN\"");
    else if (pt < 16 && names[pt])
        msn_buf_printf(b, "\"%s\"", names[pt]);
    else
        msn_buf_printf(b, "\"UNK(%d)\"", pt);
}

/* A string, or null when NULL or empty (CoreScope's strOrNil). */
static void str_or_null(msn_buf_t *b, const char *s)
{
    if (s == NULL || *s == '\0')
        msn_buf_puts(b, "null");
    else
        msn_json_strn(b, s, strlen(s));
}

static void num_or_null(msn_buf_t *b, int has, double v)
{
    if (has)
        msn_json_double(b, v);
    else
        msn_buf_puts(b, "null");
}

static void int_or_null(msn_buf_t *b, int v)
{
    if (v < 0)
        msn_buf_puts(b, "null");
    else
        msn_buf_put_i64(b, v);
}

static void hex_upper(msn_buf_t *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789ABCDEF";
    msn_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        msn_buf_putc(b, hx[p[i] >> 4]);
        msn_buf_putc(b, hx[p[i] & 15]);
    }
    msn_buf_putc(b, '"');
}

/* decoded.path of a TRACE: the decoder's path object (hashSize, hashCount, hops,
 * hopsCompleted when the payload carries the route). Nothing when raw_hex does not decode. */
static void trace_path(msn_buf_t *b, const char *raw_hex)
{
    msn_packet_t pkt;
    if (raw_hex == NULL || *raw_hex == '\0' ||
        msn_packet_decode_hex(&pkt, raw_hex, strlen(raw_hex), NULL) != 0)
        return;
    msn_buf_printf(b, ",\"path\":{\"hashSize\":%d,\"hashCount\":%d,\"hops\":[", pkt.hop_size, pkt.hop_count);
    const uint8_t *h = msn_span_ptr(&pkt, pkt.hops);
    for (int i = 0; i < pkt.hop_count && pkt.hop_size > 0 && (size_t)(i + 1) * pkt.hop_size <= pkt.hops.len;
         i++) {
        if (i)
            msn_buf_putc(b, ',');
        hex_upper(b, h + (size_t)i * pkt.hop_size, pkt.hop_size);
    }
    msn_buf_putc(b, ']');
    if (pkt.hops_completed >= 0)
        msn_buf_printf(b, ",\"hopsCompleted\":%d", pkt.hops_completed);
    msn_buf_putc(b, '}');
}

static void decoded(msn_buf_t *b, const msn_tx_t *t)
{
    msn_buf_puts(b, "{\"header\":{\"payloadTypeName\":");
    payload_type_name(b, t->payload_type);
    msn_buf_putc(b, '}');
    if (t->payload_type == MSN_PT_TRACE)
        trace_path(b, t->raw_hex);
    if (t->decoded_json && *t->decoded_json) {
        size_t mark = b->len;
        msn_buf_puts(b, ",\"payload\":");
        if (msn_gojson_object(b, t->decoded_json, strlen(t->decoded_json)) < 0)
            b->len = mark;
    }
    msn_buf_putc(b, '}');
}

/* The flat fields in Go's sorted map order; with nested set, "decoded" and "packet" are
 * emitted at their places too. */
static void fields(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t, const msn_obs_t *o, uint32_t count,
                   int nested)
{
    const msn_observer_t *ob = msn_store_observer(s, o->observer_rowid);
    msn_buf_putc(b, '{');
    if (nested) {
        msn_buf_puts(b, "\"decoded\":");
        decoded(b, t);
        msn_buf_putc(b, ',');
    }
    msn_buf_puts(b, "\"decoded_json\":");
    str_or_null(b, t->decoded_json);
    msn_buf_puts(b, ",\"direction\":");
    str_or_null(b, o->direction);
    msn_buf_puts(b, ",\"first_seen\":");
    str_or_null(b, t->first_seen);
    msn_buf_puts(b, ",\"hash\":");
    str_or_null(b, t->hash);
    msn_buf_puts(b, ",\"id\":");
    msn_buf_put_i64(b, t->id);
    msn_buf_puts(b, ",\"observation_count\":");
    msn_buf_put_u64(b, count);
    msn_buf_puts(b, ",\"observer_id\":");
    str_or_null(b, ob ? ob->id : NULL);
    msn_buf_puts(b, ",\"observer_name\":");
    str_or_null(b, ob ? ob->name : NULL);
    if (nested) {
        msn_buf_puts(b, ",\"packet\":");
        fields(b, s, t, o, count, 0);
    }
    msn_buf_puts(b, ",\"path_json\":");
    str_or_null(b, o->path_json);
    msn_buf_puts(b, ",\"payload_type\":");
    int_or_null(b, t->payload_type);
    msn_buf_puts(b, ",\"raw_hex\":");
    str_or_null(b, t->raw_hex);
    if (o->rp != NULL && o->rp_n > 0) {
        msn_buf_puts(b, ",\"resolved_path\":[");
        for (int i = 0; i < o->rp_n; i++) {
            if (i)
                msn_buf_putc(b, ',');
            if (o->rp[i] == MSN_KEY_NONE || o->rp[i] >= s->n_keys)
                msn_buf_puts(b, "null");
            else
                msn_json_strn(b, s->keys[o->rp[i]], strlen(s->keys[o->rp[i]]));
        }
        msn_buf_putc(b, ']');
    }
    msn_buf_puts(b, ",\"route_type\":");
    int_or_null(b, t->route_type);
    msn_buf_puts(b, ",\"rssi\":");
    num_or_null(b, o->has_rssi, o->rssi);
    msn_buf_puts(b, ",\"snr\":");
    num_or_null(b, o->has_snr, o->snr);
    msn_buf_puts(b, ",\"timestamp\":");
    str_or_null(b, t->first_seen);
    msn_buf_putc(b, '}');
}

void msn_feedpub_render(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t, const msn_obs_t *o,
                        uint32_t count)
{
    msn_buf_puts(b, "{\"type\":\"packet\",\"data\":");
    fields(b, s, t, o, count, 1);
    msn_buf_putc(b, '}');
}

/* ---- what a publication sends -------------------------------------------------------------- */

typedef struct {
    uint32_t tx, obs, count;
} item_t;

typedef struct {
    item_t *v;
    size_t n, cap;
} items_t;

static void push(items_t *it, uint32_t tx, uint32_t obs, uint32_t count)
{
    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 256;
        it->v = msn_xrealloc(it->v, it->cap * sizeof(*it->v));
    }
    it->v[it->n++] = (item_t){tx, obs, count};
}

static int same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* CoreScope's dedup key: observer id + "|" + path_json. */
static int same_sighting(const msn_store_t *s, const msn_obs_t *a, const msn_obs_t *b)
{
    if (!same_text(a->path_json, b->path_json))
        return 0;
    if (a->observer_rowid == b->observer_rowid)
        return 1;
    const msn_observer_t *x = msn_store_observer(s, a->observer_rowid),
                         *y = msn_store_observer(s, b->observer_rowid);
    return same_text(x ? x->id : NULL, y ? y->id : NULL);
}

static int newest_first(const void *x, const void *y, void *store)
{
    const msn_store_t *s = store;
    const msn_obs_t *a = &s->obs[*(const uint32_t *)x], *b = &s->obs[*(const uint32_t *)y];
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void collect(const msn_store_t *s, uint32_t tx_from, uint32_t obs_from, items_t *it)
{
    uint32_t *tmp = NULL;
    size_t cap = 0;
    for (uint32_t i = tx_from; i < s->n_tx; i++) {
        const msn_tx_t *t = &s->tx[i];
        size_t n = 0;
        if (t->n_obs > cap) {
            cap = t->n_obs;
            tmp = msn_xrealloc(tmp, cap * sizeof(*tmp));
        }
        for (uint32_t j = 0; j < t->n_obs; j++)
            if (t->obs[j] >= obs_from)
                tmp[n++] = t->obs[j];
        qsort_r(tmp, n, sizeof(*tmp), newest_first, (void *)s);
        size_t first = it->n;
        for (size_t j = 0; j < n; j++) {
            int dup = 0;
            for (size_t k = first; k < it->n && !dup; k++)
                dup = same_sighting(s, &s->obs[it->v[k].obs], &s->obs[tmp[j]]);
            if (!dup)
                push(it, i, tmp[j], t->n_obs);
        }
    }
    free(tmp);
    for (uint32_t j = obs_from; j < s->n_obs; j++) {
        const msn_obs_t *o = &s->obs[j];
        const msn_tx_t *t = msn_store_tx_by_id(s, o->tx_id);
        if (t == NULL || (uint32_t)(t - s->tx) >= tx_from)
            continue; /* a new transmission's: sent above */
        uint32_t pos = 0;
        int dup = 0;
        while (pos < t->n_obs && t->obs[pos] != j) {
            dup |= same_sighting(s, &s->obs[t->obs[pos]], o);
            pos++;
        }
        if (!dup)
            push(it, (uint32_t)(t - s->tx), j, pos + 1);
    }
}

int msn_feedpub_write(msn_feedpub_t *f, MDB_txn *txn, const msn_snap_t *snap, const msn_store_t *s,
                      uint32_t tx_from, uint32_t obs_from, int64_t now_ms, int *wrote)
{
    items_t it = {0};
    int rc = 0;
    *wrote = 0;
    collect(s, tx_from, obs_from, &it);
    size_t skip = it.n > (size_t)f->ring_messages ? it.n - (size_t)f->ring_messages : 0;
    if (skip > 0) {
        msn_warn(
            "live feed: one publication holds %zu messages, more than [websocket] ring_messages (%d): the "
            "oldest %zu are not sent",
            it.n, f->ring_messages, skip);
        f->next_seq += skip;
        f->skipped += (int64_t)skip;
    }
    if ((rc = msn_feed_set_run(txn, snap, f->run_id)) != 0)
        goto out;
    for (size_t k = skip; k < it.n; k++) {
        msn_buf_reset(&f->body);
        msn_feedpub_render(&f->body, s, &s->tx[it.v[k].tx], &s->obs[it.v[k].obs], it.v[k].count);
        if ((rc = msn_feed_put(txn, snap, f->next_seq, now_ms, f->body.data, f->body.len)) != 0)
            goto out;
        f->next_seq++;
        f->messages++;
        *wrote = 1;
    }
    rc = msn_feed_prune(txn, snap, (size_t)f->ring_messages, now_ms - (int64_t)f->ring_seconds * 1000, NULL);
out:
    free(it.v);
    return rc;
}

/* The index of the first element with an id above `after` (tx sorted by id, obs in id order). */
static uint32_t first_tx_after(const msn_store_t *s, int64_t after)
{
    uint32_t lo = 0, hi = s->n_tx;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->tx[mid].id <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t first_obs_after(const msn_store_t *s, int64_t after)
{
    uint32_t lo = 0, hi = s->n_obs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->obs[mid].id <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int msn_feedpub_write_full(msn_feedpub_t *f, const msn_snap_t *from, MDB_txn *txn, const msn_snap_t *to,
                           const msn_store_t *s, int64_t now_ms)
{
    int rc;
    if (from != NULL && from->env != NULL) {
        MDB_txn *rt;
        if ((rc = mdb_txn_begin(from->env, NULL, MDB_RDONLY, &rt)) != 0)
            return rc;
        rc = msn_feed_copy(rt, from, txn, to);
        mdb_txn_abort(rt);
        if (rc != 0)
            return rc;
    }
    uint32_t tx_from = s->n_tx, obs_from = s->n_obs;
    if (f->reload) {
        tx_from = first_tx_after(s, f->published_tx);
        obs_from = first_obs_after(s, f->published_obs);
    }
    int wrote;
    return msn_feedpub_write(f, txn, to, s, tx_from, obs_from, now_ms, &wrote);
}
