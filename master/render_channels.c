/*
 * render_channels.c: channel message objects and the channel index (render_channels.h).
 *
 * Messages follow CoreScope's GetChannelMessages (db.go): decoded_json must unmarshal into
 * a map; `sender` is decoded.sender, or when empty the text before a ": " found at a byte
 * offset between 1 and 49; a text with such a ": " is shown as sender and text around it;
 * observers/hops/snr/packetId come from the first observation by id; repeats counts every
 * observation; timestamp is the newest observation second (RFC3339), first_seen without
 * any. Keys are sorted (a Go map).
 *
 * The index follows GetChannels and GetEncryptedChannels: per channel hash of payload
 * type 5 (an empty hash is left out), the message count, the newest first_seen (string
 * order, as SQL MAX) and the text and sender of the message with it (lastMessage is the
 * text after the first ": ", with no offset limit there); per observer region, the number
 * of observations of its messages by observers of that region and the newest first_seen
 * among those messages (CoreScope's region query joins observations: its messageCount
 * then counts observations).
 */
#include "render_channels.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "shm/json.h"
#include "shm/jsonr.h"
#include "shm/snaprec.h"
#include "shm/timeutil.h"

int msn_is_channel_message(const msn_tx_t *t)
{
    return t->payload_type == 5 && t->channel_hash != NULL;
}

int msn_channel_is_encrypted(const char *h)
{
    return h && strlen(h) >= 4 && tolower((unsigned char)h[0]) == 'e' && tolower((unsigned char)h[1]) == 'n' &&
           tolower((unsigned char)h[2]) == 'c';
}

size_t msn_observer_region(const msn_observer_t *o, char *out, size_t n)
{
    const char *s = o ? o->iata : NULL;
    out[0] = 0;
    if (s == NULL)
        return 0;
    size_t l = strlen(s);
    while (l > 0 && isspace((unsigned char)*s)) {
        s++;
        l--;
    }
    while (l > 0 && isspace((unsigned char)s[l - 1]))
        l--;
    if (l >= n)
        return 0; /* longer than any code a client sends */
    for (size_t i = 0; i < l; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[l] = 0;
    return l;
}

/* The byte offset of the first ": " in s[0..n), or -1. */
static long colon_space(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == ':' && s[i + 1] == ' ')
            return (long)i;
    return -1;
}

/* Reads the JSON document s (the whole text one value, as json.Unmarshal requires) into
 * *v. Returns 0, or -1 when s is not JSON. */
static int read_doc(const char *s, msn_jsonr_val_t *v)
{
    msn_jsonr_t r;
    msn_jsonr_init(&r, s, strlen(s));
    return msn_jsonr_value(&r, v) < 0 || msn_jsonr_end(&r) < 0 ? -1 : 0;
}

/* The string member `key` of a decoded object, unescaped into out; 0 when it is absent or
 * not a string (Go's `v, _ := decoded[key].(string)`). */
static int member_str(const msn_jsonr_val_t *obj, const char *key, msn_buf_t *out)
{
    msn_jsonr_val_t v;
    msn_buf_reset(out);
    if (!msn_jsonr_get(obj, key, 0, &v) || v.type != MSN_JSONR_STR)
        return 0;
    msn_jsonr_str(&v, out);
    return 1;
}

/* Appends a decoded interface{} value as Go re-encodes it (numbers are float64). */
static void reencode(msn_buf_t *b, const msn_jsonr_val_t *v)
{
    msn_buf_t tmp = MSN_BUF_INIT;
    double d;
    switch (v->type) {
    case MSN_JSONR_NUM:
        msn_jsonr_num(v, &d);
        msn_json_double(b, d);
        break;
    case MSN_JSONR_STR:
        msn_jsonr_str(v, &tmp);
        msn_json_strn(b, tmp.data ? tmp.data : "", tmp.len);
        break;
    default: msn_buf_append(b, v->p, v->n); break; /* literals; containers as stored */
    }
    msn_buf_free(&tmp);
}

int msn_render_channel_message(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t)
{
    msn_jsonr_val_t doc;
    if (t->n_obs == 0 || t->decoded_json == NULL || read_doc(t->decoded_json, &doc) < 0 ||
        (doc.type != MSN_JSONR_OBJ && doc.type != MSN_JSONR_NULL))
        return -1;
    const msn_obs_t *first = &s->obs[t->obs[0]];
    for (uint32_t k = 1; k < t->n_obs; k++)
        if (s->obs[t->obs[k]].id < first->id)
            first = &s->obs[t->obs[k]];
    msn_buf_t text = MSN_BUF_INIT, sender = MSN_BUF_INIT;
    member_str(&doc, "text", &text);
    member_str(&doc, "sender", &sender);
    const char *tx = text.data ? text.data : "";
    long cs = colon_space(tx, text.len);
    const char *ds = sender.data ? sender.data : "", *dt = tx;
    size_t dsl = sender.len, dtl = text.len;
    if (text.len > 0 && cs > 0 && cs < 50) {
        ds = tx; /* the sender written into the text wins over decoded.sender */
        dsl = (size_t)cs;
        dt = tx + cs + 2;
        dtl = text.len - (size_t)cs - 2;
    }
    msn_buf_puts(b, "{\"first_seen\":");
    msn_json_str_or_null(b, t->first_seen);
    int hops = 0;
    msn_jsonr_val_t path;
    if (first->path_json && read_doc(first->path_json, &path) == 0 && path.type == MSN_JSONR_ARR) {
        msn_jsonr_t r;
        msn_jsonr_init(&r, path.p, path.n);
        for (msn_jsonr_array(&r); msn_jsonr_element(&r) == 1 && msn_jsonr_value(&r, NULL) == 0;)
            hops++;
    }
    msn_buf_printf(b, ",\"hops\":%d,\"observers\":[", hops);
    const msn_observer_t *ob = msn_store_observer(s, first->observer_rowid);
    if (ob && ob->name)
        msn_json_strn(b, ob->name, strlen(ob->name));
    else if (ob && ob->id)
        msn_json_strn(b, ob->id, strlen(ob->id));
    msn_buf_puts(b, "],\"packetHash\":");
    msn_json_str_or_null(b, t->hash);
    msn_buf_printf(b, ",\"packetId\":%lld,\"repeats\":%u,\"sender\":", (long long)first->id, t->n_obs);
    msn_json_strn(b, ds, dsl);
    msn_buf_puts(b, ",\"sender_timestamp\":");
    msn_jsonr_val_t st;
    if (msn_jsonr_get(&doc, "sender_timestamp", 0, &st))
        reencode(b, &st);
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"snr\":");
    if (first->has_snr)
        msn_json_double(b, first->snr);
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"text\":");
    msn_json_strn(b, dt, dtl);
    msn_buf_puts(b, ",\"timestamp\":");
    if (t->latest > 0) {
        char iso[32];
        msn_format_iso_s(iso, t->latest);
        msn_json_strn(b, iso, strlen(iso));
    } else {
        msn_json_str_or_null(b, t->first_seen);
    }
    msn_buf_putc(b, '}');
    msn_buf_free(&text);
    msn_buf_free(&sender);
    return 0;
}

/* ---- the index ---------------------------------------------------------------------------- */

typedef struct {
    char code[16];
    int64_t obs;
    const char *last; /* newest first_seen among the messages heard there */
} reg_t;

typedef struct {
    const char *hash;
    int64_t tx;
    const char *last;      /* newest first_seen */
    const msn_tx_t *newest; /* the message with it */
    reg_t *regs;
    uint32_t n_regs, cap_regs;
} chan_t;

typedef struct {
    chan_t *c;
    uint32_t n, cap;
    uint32_t *ht; /* channel index + 1 */
    uint32_t ht_cap;
} chans_t;

static uint32_t str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static void chans_rehash(chans_t *m, uint32_t cap)
{
    free(m->ht);
    m->ht = msn_xcalloc(cap, sizeof(uint32_t));
    m->ht_cap = cap;
    for (uint32_t i = 0; i < m->n; i++) {
        uint32_t h = str_hash(m->c[i].hash) & (cap - 1);
        while (m->ht[h])
            h = (h + 1) & (cap - 1);
        m->ht[h] = i + 1;
    }
}

static chan_t *chan_of(chans_t *m, const char *hash)
{
    if ((m->n + 1) * 2 > m->ht_cap)
        chans_rehash(m, m->ht_cap ? m->ht_cap * 2 : 64);
    uint32_t h = str_hash(hash) & (m->ht_cap - 1);
    while (m->ht[h]) {
        chan_t *c = &m->c[m->ht[h] - 1];
        if (strcmp(c->hash, hash) == 0)
            return c;
        h = (h + 1) & (m->ht_cap - 1);
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->c = msn_xrealloc(m->c, m->cap * sizeof(*m->c));
    }
    chan_t *c = &m->c[m->n];
    memset(c, 0, sizeof(*c));
    c->hash = hash;
    m->ht[h] = ++m->n;
    return c;
}

static int later(const char *a, const char *b)
{
    return b == NULL || (a != NULL && strcmp(a, b) > 0);
}

static void add_region(chan_t *c, const char *code, const msn_tx_t *t)
{
    reg_t *r = NULL;
    for (uint32_t k = 0; k < c->n_regs && r == NULL; k++)
        if (strcmp(c->regs[k].code, code) == 0)
            r = &c->regs[k];
    if (r == NULL) {
        if (c->n_regs == c->cap_regs) {
            c->cap_regs = c->cap_regs ? c->cap_regs * 2 : 4;
            c->regs = msn_xrealloc(c->regs, c->cap_regs * sizeof(*c->regs));
        }
        r = &c->regs[c->n_regs++];
        memset(r, 0, sizeof(*r));
        strcpy(r->code, code);
    }
    r->obs++;
    if (later(t->first_seen, r->last))
        r->last = t->first_seen;
}

static int cmp_chan(const void *a, const void *b)
{
    return strcmp(((const chan_t *)a)->hash, ((const chan_t *)b)->hash);
}

void msn_render_channels_index(msgpack_sbuffer *sb, const msn_store_t *s)
{
    chans_t m;
    memset(&m, 0, sizeof(m));
    for (uint32_t i = 0; i < s->n_tx; i++) {
        const msn_tx_t *t = &s->tx[i];
        if (!msn_is_channel_message(t) || t->channel_hash[0] == 0)
            continue;
        chan_t *c = chan_of(&m, t->channel_hash);
        c->tx++;
        if (c->newest == NULL || !later(c->last, t->first_seen)) {
            /* the newest by first_seen; among equal ones the latest loaded */
            c->last = t->first_seen;
            c->newest = t;
        }
        for (uint32_t k = 0; k < t->n_obs; k++) {
            char code[16];
            if (msn_observer_region(msn_store_observer(s, s->obs[t->obs[k]].observer_rowid), code, sizeof(code)))
                add_region(c, code, t);
        }
    }
    if (m.n > 1)
        qsort(m.c, m.n, sizeof(*m.c), cmp_chan);
    msn_snaprec_chan_t *out = msn_xcalloc(m.n ? m.n : 1, sizeof(*out));
    msn_snaprec_chreg_t **regs = msn_xcalloc(m.n ? m.n : 1, sizeof(*regs));
    msn_buf_t *texts = msn_xcalloc(m.n ? m.n * 2 : 1, sizeof(msn_buf_t));
    for (uint32_t i = 0; i < m.n; i++) {
        chan_t *c = &m.c[i];
        msn_snaprec_chan_t *o = &out[i];
        o->hash = msn_sv(c->hash);
        o->encrypted = msn_channel_is_encrypted(c->hash);
        o->tx_count = c->tx;
        o->last_activity = msn_sv(c->last);
        msn_jsonr_val_t doc;
        const char *dj = c->newest->decoded_json;
        msn_buf_t *text = &texts[2 * i], *sender = &texts[2 * i + 1];
        if (!o->encrypted && dj && read_doc(dj, &doc) == 0 && member_str(&doc, "text", text) &&
            text->len > 0) {
            long cs = colon_space(text->data, text->len);
            if (cs > 0)
                o->last_message = (msn_sv_t){text->data + cs + 2, text->len - (size_t)cs - 2};
            else
                o->last_message = (msn_sv_t){text->data, text->len};
            if (member_str(&doc, "sender", sender))
                o->last_sender = (msn_sv_t){sender->data ? sender->data : "", sender->len};
        }
        regs[i] = msn_xcalloc(c->n_regs ? c->n_regs : 1, sizeof(msn_snaprec_chreg_t));
        for (uint32_t k = 0; k < c->n_regs; k++) {
            regs[i][k].code = msn_sv(c->regs[k].code);
            regs[i][k].obs_count = c->regs[k].obs;
            regs[i][k].last_activity = msn_sv(c->regs[k].last);
        }
        o->regions = regs[i];
        o->n_regions = c->n_regs;
    }
    msn_snaprec_chidx_encode(sb, out, m.n);
    for (uint32_t i = 0; i < m.n; i++) {
        free(regs[i]);
        free(m.c[i].regs);
        msn_buf_free(&texts[2 * i]);
        msn_buf_free(&texts[2 * i + 1]);
    }
    free(regs);
    free(texts);
    free(out);
    free(m.c);
    free(m.ht);
}
