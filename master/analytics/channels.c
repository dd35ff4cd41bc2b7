/*
 * channels.c: /api/analytics/channels (CoreScope computeAnalyticsChannels).
 *
 * Input: GRP_TXT transmissions (payload_type 5) in the window and region, in id order.
 * Each message is grouped by its channel hash byte (decoded channelHash, else
 * channel_hash, else "?"). Its channel name is the decoded `channel`, else "ch<hash>";
 * a name that does not hash to the channel byte (SHA256(SHA256("#name")[0:16])[0]) is
 * discarded as a bad lookup (name "ch<hash>", encrypted) unless the ingestor marked the
 * message decryptionStatus "decrypted". A message is encrypted when it has neither text
 * nor sender. A channel takes the first name seen, upgraded once from a "chN"
 * placeholder to a real name; it is encrypted only while all its messages are.
 *
 * Output: channel count, decryptable count, channels by message count, the 15 busiest
 * senders, messages per (hour of first_seen, name), and every message's text length in
 * bytes. A decoded_json that is not a JSON object, or whose string fields hold other
 * types, is skipped (json.Unmarshal fails on it in CoreScope). A channelHash that is an
 * object or array (never written by any ingestor) counts as absent. Ties in rankings go
 * by hash, sender name, or hour then channel name.
 *
 * Phases: collect (one pass: each message read, then counted per channel, sender and
 * hour), rank (channels and senders by count), render.
 */
#include "an_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shm/codec/codec.h"
#include "shm/json.h"

/* A channel (the value of the channel map, keyed by hash). */
typedef struct {
    const char *name;
    int64_t messages, senders;
    const char *last;
    int encrypted;
} chan_t;

/* The fields of one message. */
typedef struct {
    const char *chan, *hash2, *text, *sender, *status;
    size_t chan_n, hash2_n, text_n, sender_n, status_n;
    const char *hash; /* channel hash text */
    size_t hash_n;
    const char *name; /* channel name */
    size_t name_n;
    int encrypted;
} msg_t;

typedef struct {
    const an_ctx_t *c;
    msn_arena_t *a;
    msn_jsonr_obj_t jo;
    msn_buf_t *b_type, *b_chan, *b_hash, *b_hash2, *b_text, *b_sender, *b_status, *b_name, *key;
    an_map_t chans;        /* hash -> chan_t */
    an_map_t senders;      /* sender -> count */
    an_map_t chan_senders; /* channel entry + sender */
    an_map_t timeline;     /* "hour|name" -> count */
    int64_t *lens;
    size_t n_lens, lens_cap;
    an_rank_t *ch_rank, *snd_rank;
    size_t n_top_senders;
} chans_t;

/* strconv.Atoi: optional sign, decimal digits, fits in int64. */
static int go_atoi(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 20)
        return -1;
    char tmp[24];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    size_t i = (tmp[0] == '+' || tmp[0] == '-') ? 1 : 0;
    if (i == n)
        return -1;
    for (size_t k = i; k < n; k++)
        if (tmp[k] < '0' || tmp[k] > '9')
            return -1;
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno != 0)
        return -1;
    *out = v;
    return 0;
}

static int is_placeholder(const char *name)
{
    int64_t v;
    return strncmp(name, "ch", 2) == 0 && go_atoi(name + 2, strlen(name + 2), &v) == 0;
}

/* channelNameMatchesHash */
static int name_matches_hash(const char *name, size_t n, const char *hash, size_t hn)
{
    int64_t expected;
    if (go_atoi(hash, hn, &expected) < 0)
        return 0;
    msn_buf_t b = MSN_BUF_INIT;
    if (n == 0 || name[0] != '#')
        msn_buf_putc(&b, '#');
    msn_buf_append(&b, name, n);
    uint8_t h1[32], h2[32];
    int ok = msn_sha256(b.data, b.len, h1) == 0 && msn_sha256(h1, 16, h2) == 0 && (int64_t)h2[0] == expected;
    msn_buf_free(&b);
    return ok;
}

/* chHashStr for a number: strconv.FormatFloat(v, 'f', -1, 64). */
static void number_text(const msn_jsonr_val_t *m, msn_buf_t *out)
{
    char tmp[64];
    size_t l = m->n < 63 ? m->n : 63;
    memcpy(tmp, m->p, l);
    tmp[l] = 0;
    double v = strtod(tmp, NULL);
    msn_buf_reset(out);
    if (v == floor(v) && fabs(v) < 1e18) {
        msn_buf_put_i64(out, (int64_t)v);
    } else {
        char f[32];
        msn_buf_append(out, f, msn_json_format_double(f, v));
    }
}

/* The string member `key`: 1 = string (value in *v and *n), 0 = absent or null, -1 = other type. */
static int str_field(const msn_jsonr_obj_t *o, const char *key, msn_buf_t *scratch, const char **v, size_t *n)
{
    const msn_jsonr_val_t *m = msn_jsonr_obj_get(o, key);
    *v = "";
    *n = 0;
    if (m == NULL || m->type == MSN_JSONR_NULL)
        return 0;
    if (m->type != MSN_JSONR_STR)
        return -1;
    *v = msn_jsonr_strv(m, scratch, n);
    return 1;
}

/* ---- collect ------------------------------------------------------------------------------ */

/* The channel hash as text: channelHash (string, number or boolean), else channel_hash,
 * else "?". */
static void hash_text(chans_t *j, msg_t *m)
{
    const msn_jsonr_val_t *hm = msn_jsonr_obj_get(&j->jo, "channelHash");
    msn_buf_t *b = j->b_hash;
    msn_buf_reset(b);
    if (hm != NULL) {
        if (hm->type == MSN_JSONR_STR)
            msn_jsonr_str(hm, b);
        else if (hm->type == MSN_JSONR_NUM)
            number_text(hm, b);
        else if (hm->type == MSN_JSONR_TRUE)
            msn_buf_puts(b, "true");
        else if (hm->type == MSN_JSONR_FALSE)
            msn_buf_puts(b, "false");
    }
    if (b->len == 0)
        msn_buf_append(b, m->hash2, m->hash2_n);
    if (b->len == 0)
        msn_buf_putc(b, '?');
    m->hash = msn_buf_cstr(b);
    m->hash_n = b->len;
}

/* The channel name: `channel`, else the "ch<hash>" placeholder, which also replaces a
 * name that does not hash to the channel (the message then counts as encrypted). */
static void channel_name(chans_t *j, msg_t *m)
{
    msn_buf_t *b = j->b_name;
    msn_buf_reset(b);
    if (m->chan_n > 0) {
        msn_buf_append(b, m->chan, m->chan_n);
    } else {
        msn_buf_puts(b, "ch");
        msn_buf_append(b, m->hash, m->hash_n);
    }
    m->encrypted = m->text_n == 0 && m->sender_n == 0;
    int decrypted = m->status_n == 9 && memcmp(m->status, "decrypted", 9) == 0;
    int placeholder =
        b->len == m->hash_n + 2 && memcmp(b->data, "ch", 2) == 0 && memcmp(b->data + 2, m->hash, m->hash_n) == 0;
    if (!placeholder && !decrypted && !name_matches_hash(b->data, b->len, m->hash, m->hash_n)) {
        msn_buf_reset(b);
        msn_buf_puts(b, "ch");
        msn_buf_append(b, m->hash, m->hash_n);
        m->encrypted = 1;
    }
    m->name = msn_buf_cstr(b);
    m->name_n = b->len;
}

/* Reads a message; returns 0, or -1 when its decoded_json is skipped. */
static int read_msg(chans_t *j, const msn_tx_t *t, msg_t *m)
{
    const char *dj = t->decoded_json, *typ;
    size_t typ_n;
    if (dj == NULL || msn_jsonr_obj_parse(&j->jo, dj, strlen(dj)) < 0)
        return -1;
    if (str_field(&j->jo, "type", j->b_type, &typ, &typ_n) < 0 ||
        str_field(&j->jo, "channel", j->b_chan, &m->chan, &m->chan_n) < 0 ||
        str_field(&j->jo, "channel_hash", j->b_hash2, &m->hash2, &m->hash2_n) < 0 ||
        str_field(&j->jo, "text", j->b_text, &m->text, &m->text_n) < 0 ||
        str_field(&j->jo, "sender", j->b_sender, &m->sender, &m->sender_n) < 0 ||
        str_field(&j->jo, "decryptionStatus", j->b_status, &m->status, &m->status_n) < 0)
        return -1;
    hash_text(j, m);
    channel_name(j, m);
    return 0;
}

static void add_msg(chans_t *j, const msn_tx_t *t, const msg_t *m)
{
    int is_new;
    uint32_t ce = msn_an__map_intern(&j->chans, m->hash, m->hash_n, &is_new);
    chan_t *ch = msn_an__map_val(&j->chans, ce);
    if (is_new) {
        ch->name = msn_arena_strndup(j->a, m->name, m->name_n);
        ch->encrypted = m->encrypted;
    } else if (is_placeholder(ch->name) && !is_placeholder(m->name)) {
        ch->name = msn_arena_strndup(j->a, m->name, m->name_n);
    }
    ch->messages++;
    ch->last = msn_an__s(t->first_seen);
    if (!m->encrypted)
        ch->encrypted = 0;
    if (m->sender_n > 0) {
        msn_buf_reset(j->key);
        msn_buf_append(j->key, &ce, sizeof(ce));
        msn_buf_append(j->key, m->sender, m->sender_n);
        msn_an__map_intern(&j->chan_senders, j->key->data, j->key->len, &is_new);
        if (is_new)
            ch->senders++;
        msn_an__map_count(&j->senders, m->sender, m->sender_n);
    }
    if (m->text_n > 0) {
        AN_GROW(j->a, j->lens, j->lens_cap, j->n_lens + 1);
        j->lens[j->n_lens++] = (int64_t)m->text_n;
    }
    char hk[16];
    if (msn_an__hour_of_tx(t, hk)) {
        msn_buf_reset(j->key);
        msn_buf_append(j->key, hk, 13);
        msn_buf_putc(j->key, '|');
        msn_buf_append(j->key, m->name, m->name_n);
        msn_an__map_count(&j->timeline, j->key->data, j->key->len);
    }
}

static void collect(chans_t *j)
{
    const msn_store_t *s = j->c->s;
    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        msg_t m;
        if (t->payload_type != 5 || !msn_an__tx_in_window(j->c, t) || !msn_an__tx_in_region(j->c, t) ||
            read_msg(j, t, &m) < 0)
            continue;
        add_msg(j, t, &m);
    }
}

/* ---- rank and render ------------------------------------------------------------------------ */

static void rank(chans_t *j)
{
    j->ch_rank = AN_ARRAY(j->a, an_rank_t, j->chans.n);
    for (uint32_t e = 0; e < j->chans.n; e++)
        j->ch_rank[e] = (an_rank_t){j->chans.keys[e], j->chans.klen[e], e,
                                    ((const chan_t *)msn_an__map_val(&j->chans, e))->messages};
    msn_an__qsort(j->ch_rank, j->chans.n, sizeof(an_rank_t), msn_an__rank_cmp);
    j->snd_rank = msn_an__map_ranks(&j->senders);
    j->n_top_senders = msn_an__top(j->a, j->snd_rank, j->senders.n, sizeof(an_rank_t), 15, msn_an__rank_cmp);
}

static void render_timeline(chans_t *j, msn_buf_t *out)
{
    msn_an__open(out, "channelTimeline", '[');
    uint32_t *to = msn_an__map_sorted(&j->timeline); /* "hour|name" sorts by hour, then name */
    for (uint32_t i = 0; i < j->timeline.n; i++) {
        uint32_t e = to[i];
        const char *k = j->timeline.keys[e];
        msn_an__open(out, NULL, '{');
        msn_an__kstrn(out, "channel", k + 14, j->timeline.klen[e] - 14);
        msn_an__ki64(out, "count", msn_an__map_n(&j->timeline, e));
        msn_an__kstrn(out, "hour", k, 13);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render_channels(chans_t *j, msn_buf_t *out)
{
    msn_an__open(out, "channels", '[');
    for (uint32_t i = 0; i < j->chans.n; i++) {
        const chan_t *cc = msn_an__map_val(&j->chans, j->ch_rank[i].idx);
        msn_an__open(out, NULL, '{');
        msn_an__kbool(out, "encrypted", cc->encrypted);
        msn_an__kstrn(out, "hash", j->ch_rank[i].key, j->ch_rank[i].kn);
        msn_an__kstr(out, "lastActivity", cc->last);
        msn_an__ki64(out, "messages", cc->messages);
        msn_an__kstr(out, "name", cc->name);
        msn_an__ki64(out, "senders", cc->senders);
        msn_buf_putc(out, '}');
    }
    msn_buf_putc(out, ']');
}

static void render(chans_t *j, msn_buf_t *out)
{
    int64_t decryptable = 0;
    for (uint32_t e = 0; e < j->chans.n; e++)
        decryptable += !((const chan_t *)msn_an__map_val(&j->chans, e))->encrypted;
    msn_buf_putc(out, '{');
    msn_an__ki64(out, "activeChannels", j->chans.n);
    render_timeline(j, out);
    render_channels(j, out);
    msn_an__ki64(out, "decryptable", decryptable);
    msn_an__open(out, "msgLengths", '[');
    for (size_t i = 0; i < j->n_lens; i++)
        msn_an__ei64(out, j->lens[i]);
    msn_buf_putc(out, ']');
    msn_an__open(out, "topSenders", '[');
    for (size_t i = 0; i < j->n_top_senders; i++) {
        msn_an__open(out, NULL, '{');
        msn_an__ki64(out, "count", j->snd_rank[i].count);
        msn_an__kstrn(out, "name", j->snd_rank[i].key, j->snd_rank[i].kn);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "]}");
}

int msn_an__channels(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    chans_t *j = AN_NEW(c, chans_t);
    j->c = c;
    j->a = c->arena;
    msn_buf_t **bufs[] = {&j->b_type, &j->b_chan,   &j->b_hash,   &j->b_hash2, &j->b_text,
                          &j->b_sender, &j->b_status, &j->b_name, &j->key};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        *bufs[i] = msn_an__buf(c);
    msn_an__map_init(&j->chans, j->a, sizeof(chan_t));
    msn_an__map_init(&j->senders, j->a, sizeof(int64_t));
    msn_an__map_init(&j->chan_senders, j->a, 0);
    msn_an__map_init(&j->timeline, j->a, sizeof(int64_t));
    collect(j);
    rank(j);
    render(j, out);
    return 0;
}
