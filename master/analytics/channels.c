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
 */
#include "an_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/codec/codec.h"
#include "shm/json.h"

typedef struct {
    const char *name;
    int64_t messages, senders;
    const char *last;
    int encrypted;
} chan_t;

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
static void number_text(const an_jmember_t *m, msn_buf_t *out)
{
    char tmp[64];
    size_t l = m->vn < 63 ? m->vn : 63;
    memcpy(tmp, m->v, l);
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

typedef struct {
    uint32_t idx;
    int64_t count;
    const char *key;
    size_t kn;
} rank_t;

static int rank_cmp(const void *a, const void *b)
{
    const rank_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = memcmp(x->key, y->key, x->kn < y->kn ? x->kn : y->kn);
    if (c)
        return c;
    return x->kn < y->kn ? -1 : x->kn > y->kn;
}

/* The string member `key`: 1 = string (value in *v and *n), 0 = absent or null, -1 = other type. */
static int str_field(const an_jobj_t *o, const char *key, msn_buf_t *scratch, const char **v, size_t *n)
{
    const an_jmember_t *m = msn_an__jobj_get(o, key);
    *v = "";
    *n = 0;
    if (m == NULL || m->t == AN_J_NULL)
        return 0;
    if (m->t != AN_J_STR)
        return -1;
    *v = msn_an__jobj_str(o, key, scratch, n);
    return 1;
}

int msn_an__channels(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    an_jobj_t jo;
    msn_buf_t b_type = MSN_BUF_INIT, b_chan = MSN_BUF_INIT, b_hash = MSN_BUF_INIT, b_hash2 = MSN_BUF_INIT,
              b_text = MSN_BUF_INIT, b_sender = MSN_BUF_INIT, b_status = MSN_BUF_INIT, b_name = MSN_BUF_INIT,
              key = MSN_BUF_INIT;
    msn_arena_t *arena = msn_arena_new();
    an_map_t chans, senders, chan_senders, timeline;
    msn_an__map_init(&chans);
    msn_an__map_init(&senders);
    msn_an__map_init(&chan_senders);
    msn_an__map_init(&timeline);
    chan_t *ch = NULL;
    size_t ch_cap = 0;
    int64_t *snd_n = NULL, *tl_n = NULL, *lens = NULL;
    size_t snd_cap = 0, tl_cap = 0, lens_cap = 0, n_lens = 0;

    for (uint32_t ti = 0; ti < s->n_tx; ti++) {
        const msn_tx_t *t = &s->tx[ti];
        if (t->payload_type != 5 || !msn_an__tx_in_window(c, t) || !msn_an__tx_in_region(c, t))
            continue;
        const char *dj = t->decoded_json;
        if (dj == NULL || msn_an__jobj_parse(&jo, dj, strlen(dj)) < 0)
            continue;
        const char *typ, *chan, *hash2, *text, *sender, *status;
        size_t typ_n, chan_n, hash2_n, text_n, sender_n, status_n;
        if (str_field(&jo, "type", &b_type, &typ, &typ_n) < 0 || str_field(&jo, "channel", &b_chan, &chan, &chan_n) < 0 ||
            str_field(&jo, "channel_hash", &b_hash2, &hash2, &hash2_n) < 0 ||
            str_field(&jo, "text", &b_text, &text, &text_n) < 0 ||
            str_field(&jo, "sender", &b_sender, &sender, &sender_n) < 0 ||
            str_field(&jo, "decryptionStatus", &b_status, &status, &status_n) < 0)
            continue;
        /* the channel hash as text */
        const an_jmember_t *hm = msn_an__jobj_get(&jo, "channelHash");
        msn_buf_reset(&b_hash);
        if (hm != NULL) {
            if (hm->t == AN_J_STR)
                msn_an__jstr(hm, &b_hash);
            else if (hm->t == AN_J_NUM)
                number_text(hm, &b_hash);
            else if (hm->t == AN_J_TRUE)
                msn_buf_puts(&b_hash, "true");
            else if (hm->t == AN_J_FALSE)
                msn_buf_puts(&b_hash, "false");
        }
        if (b_hash.len == 0)
            msn_buf_append(&b_hash, hash2, hash2_n);
        if (b_hash.len == 0)
            msn_buf_putc(&b_hash, '?');
        const char *hash = msn_buf_cstr(&b_hash);
        size_t hash_n = b_hash.len;
        /* the name */
        msn_buf_reset(&b_name);
        if (chan_n > 0) {
            msn_buf_append(&b_name, chan, chan_n);
        } else {
            msn_buf_puts(&b_name, "ch");
            msn_buf_append(&b_name, hash, hash_n);
        }
        int encrypted = text_n == 0 && sender_n == 0;
        int decrypted = status_n == 9 && memcmp(status, "decrypted", 9) == 0;
        int is_placeholder_name = b_name.len == hash_n + 2 && memcmp(b_name.data, "ch", 2) == 0 &&
                                  memcmp(b_name.data + 2, hash, hash_n) == 0;
        if (!is_placeholder_name && !decrypted && !name_matches_hash(b_name.data, b_name.len, hash, hash_n)) {
            msn_buf_reset(&b_name);
            msn_buf_puts(&b_name, "ch");
            msn_buf_append(&b_name, hash, hash_n);
            encrypted = 1;
        }
        const char *name = msn_buf_cstr(&b_name);
        int is_new;
        uint32_t ce = msn_an__map_intern(&chans, hash, hash_n, &is_new);
        if (is_new) {
            AN_RESERVE(ch, ch_cap, (size_t)ce + 1);
            memset(&ch[ce], 0, sizeof(ch[ce]));
            ch[ce].name = msn_arena_strndup(arena, name, b_name.len);
            ch[ce].encrypted = encrypted;
        } else if (is_placeholder(ch[ce].name) && !is_placeholder(name)) {
            ch[ce].name = msn_arena_strndup(arena, name, b_name.len);
        }
        ch[ce].messages++;
        ch[ce].last = msn_an__s(t->first_seen);
        if (!encrypted)
            ch[ce].encrypted = 0;
        if (sender_n > 0) {
            msn_buf_reset(&key);
            msn_buf_append(&key, &ce, sizeof(ce));
            msn_buf_append(&key, sender, sender_n);
            msn_an__map_intern(&chan_senders, key.data, key.len, &is_new);
            if (is_new)
                ch[ce].senders++;
            uint32_t se = msn_an__map_intern(&senders, sender, sender_n, &is_new);
            if (is_new) {
                AN_RESERVE(snd_n, snd_cap, (size_t)se + 1);
                snd_n[se] = 0;
            }
            snd_n[se]++;
        }
        if (text_n > 0) {
            AN_RESERVE(lens, lens_cap, n_lens + 1);
            lens[n_lens++] = (int64_t)text_n;
        }
        char hk[16];
        if (msn_an__hour_of_tx(t, hk)) {
            msn_buf_reset(&key);
            msn_buf_append(&key, hk, 13);
            msn_buf_putc(&key, '|');
            msn_buf_append(&key, name, b_name.len);
            uint32_t te = msn_an__map_intern(&timeline, key.data, key.len, &is_new);
            if (is_new) {
                AN_RESERVE(tl_n, tl_cap, (size_t)te + 1);
                tl_n[te] = 0;
            }
            tl_n[te]++;
        }
    }

    /* ---- output ---- */
    int64_t decryptable = 0;
    for (uint32_t e = 0; e < chans.n; e++)
        decryptable += !ch[e].encrypted;
    msn_buf_puts(out, "{\"activeChannels\":");
    msn_buf_put_i64(out, chans.n);
    msn_buf_puts(out, ",\"channelTimeline\":[");
    uint32_t *to = msn_an__map_sorted(&timeline); /* "hour|name" sorts by hour, then name */
    for (uint32_t i = 0; i < timeline.n; i++) {
        uint32_t e = to[i];
        const char *k = timeline.keys[e];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"channel\":");
        msn_an__strn(out, k + 14, timeline.klen[e] - 14);
        msn_buf_puts(out, ",\"count\":");
        msn_buf_put_i64(out, tl_n[e]);
        msn_buf_puts(out, ",\"hour\":");
        msn_an__strn(out, k, 13);
        msn_buf_putc(out, '}');
    }
    free(to);
    rank_t *rk = msn_xmalloc((chans.n > senders.n ? chans.n + 1 : senders.n + 1) * sizeof(*rk));
    for (uint32_t e = 0; e < chans.n; e++)
        rk[e] = (rank_t){e, ch[e].messages, chans.keys[e], chans.klen[e]};
    msn_an__qsort(rk, chans.n, sizeof(*rk), rank_cmp);
    msn_buf_puts(out, "],\"channels\":[");
    for (uint32_t i = 0; i < chans.n; i++) {
        const chan_t *cc = &ch[rk[i].idx];
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"encrypted\":");
        msn_buf_puts(out, cc->encrypted ? "true" : "false");
        msn_buf_puts(out, ",\"hash\":");
        msn_an__strn(out, rk[i].key, rk[i].kn);
        msn_buf_puts(out, ",\"lastActivity\":");
        msn_an__str(out, cc->last);
        msn_buf_puts(out, ",\"messages\":");
        msn_buf_put_i64(out, cc->messages);
        msn_buf_puts(out, ",\"name\":");
        msn_an__str(out, cc->name);
        msn_buf_puts(out, ",\"senders\":");
        msn_buf_put_i64(out, cc->senders);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "],\"decryptable\":");
    msn_buf_put_i64(out, decryptable);
    msn_buf_puts(out, ",\"msgLengths\":[");
    for (size_t i = 0; i < n_lens; i++) {
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_put_i64(out, lens[i]);
    }
    for (uint32_t e = 0; e < senders.n; e++)
        rk[e] = (rank_t){e, snd_n[e], senders.keys[e], senders.klen[e]};
    msn_an__qsort(rk, senders.n, sizeof(*rk), rank_cmp);
    msn_buf_puts(out, "],\"topSenders\":[");
    for (uint32_t i = 0; i < senders.n && i < 15; i++) {
        if (i)
            msn_buf_putc(out, ',');
        msn_buf_puts(out, "{\"count\":");
        msn_buf_put_i64(out, rk[i].count);
        msn_buf_puts(out, ",\"name\":");
        msn_an__strn(out, rk[i].key, rk[i].kn);
        msn_buf_putc(out, '}');
    }
    msn_buf_puts(out, "]}");

    free(rk);
    free(ch);
    free(snd_n);
    free(tl_n);
    free(lens);
    msn_an__map_free(&chans);
    msn_an__map_free(&senders);
    msn_an__map_free(&chan_senders);
    msn_an__map_free(&timeline);
    msn_arena_free(arena);
    msn_buf_free(&b_type);
    msn_buf_free(&b_chan);
    msn_buf_free(&b_hash);
    msn_buf_free(&b_hash2);
    msn_buf_free(&b_text);
    msn_buf_free(&b_sender);
    msn_buf_free(&b_status);
    msn_buf_free(&b_name);
    msn_buf_free(&key);
    return 0;
}
