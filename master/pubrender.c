/* pubrender.c: see pubrender.h. */
#include "pubrender.h"

#include <msgpack.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chanpub.h"
#include "fxlists.h"
#include "handoff.h"
#include "publish.h"
#include "render.h"
#include "render_channels.h"
#include "shm/buf.h"
#include "shm/log.h"
#include "shm/snapkey.h"
#include "shm/snaprec.h"

typedef struct {
    uint32_t tx_off, tx_len, cmsg_off, cmsg_len;
    uint32_t obs_first; /* index into the block's obs_off */
    int cmsg_kind;
} txent_t;

typedef struct {
    int ready;         /* filled, not yet given back (handoff.h) */
    uint32_t first, n; /* transmissions [first, first + n) */
    msn_buf_t data;
    txent_t *tx;
    uint32_t cap_tx;
    uint32_t *obs_off; /* per transmission: its observations' offsets, then the end */
    uint32_t n_off, cap_off;
} block_t;

typedef struct {
    int ready;
    uint32_t n;
    msn_fx_rec_t recs[MSN_PUBRENDER_FX_CHUNK];
} fxslot_t;

/* fx_add's memory of list numbers (fxlists.h: a list's value names it by its address):
 * a direct-mapped table over the store strings' addresses, and one entry per type and
 * route byte. Nearly every entry of a full publication goes to a list met before (an
 * observer's, a region's, a node's), found here without making and hashing its key. */
#define FX_MEMO 8192u
typedef struct {
    const void *value; /* NULL: empty */
    uint32_t list;
    uint8_t kind;
} fxmemo_t;

struct msn_pubrender {
    const msn_store_t *s;
    msn_fxbulk_t *fxb;
    /* the packet lists' gathering: the publisher thread's (msn_pubrender_gather) */
    fxmemo_t memo[FX_MEMO];
    uint32_t memo_byte[3][256]; /* all (at 0), type, route: list number + 1, 0 = not yet */
    msn_pubrender_skip_t skip;
    /* render state (the render thread's, or the publisher's when there is no thread) */
    msgpack_sbuffer sb;
    msn_buf_t scratch;
    uint32_t next_first; /* the first transmission of the next block to render */
    /* hand-over */
    msn_handoff_t h;
    int threaded;
    pthread_t thread;
    block_t slot[MSN_PUBRENDER_SLOTS];
    /* the publisher's side */
    uint32_t cur;      /* slot being read */
    int cur_held;      /* slot cur is ready and being read */
    /* after the rows: the hash index in key order, the packet lists' entries */
    msn_pubrender_hash_t *hashes;
    uint32_t n_hashes;
    msn_pubrender_chl_t *chls; /* gathered with the rows, sorted after them */
    uint32_t n_chls, cap_chls;
    msn_buf_t chl_keys;
    int sorted;        /* the hash index and chl are sorted (render thread -> publisher; handoff.h) */
    int lists_pending; /* 1 until the publisher thread gathered and sorted the packet lists */
    uint32_t fx_list, fx_off; /* the producer's place: the next chunk is list fx_list's from entry fx_off */
    fxslot_t fx[MSN_PUBRENDER_FX_SLOTS];
    uint32_t fx_cur;         /* the publisher's: slot being read */
    int fx_held;
};

/* ---- packet lists ---- */

/* The remembered list of kind + value, or NULL (*slot then tells where to remember it). */
static uint32_t *memo_find(msn_pubrender_t *r, msn_fx_kind_t kind, const void *value, size_t len, fxmemo_t **slot)
{
    *slot = NULL;
    if (kind == MSN_FX_ALL || kind == MSN_FX_TYPE || kind == MSN_FX_ROUTE) {
        if (len > 1)
            return NULL;
        int row = kind == MSN_FX_ALL ? 0 : kind == MSN_FX_TYPE ? 1 : 2;
        return &r->memo_byte[row][len ? *(const uint8_t *)value : 0];
    }
    uintptr_t a = (uintptr_t)value;
    fxmemo_t *m = &r->memo[((a >> 3) ^ (a >> 16) ^ (uint32_t)kind * 0x9e37u) & (FX_MEMO - 1)];
    *slot = m;
    return NULL;
}

static void fx_add(msn_pubrender_t *r, msn_fx_kind_t kind, const void *value, size_t len, uint32_t tx_ix,
                   int64_t tx_id)
{
    fxmemo_t *slot;
    uint32_t *byte = memo_find(r, kind, value, len, &slot);
    if (byte && *byte) {
        msn_fxbulk_add_to(r->fxb, *byte - 1, tx_ix);
        return;
    }
    if (slot && slot->value == value && slot->kind == (uint8_t)kind && value != NULL) {
        msn_fxbulk_add_to(r->fxb, slot->list, tx_ix);
        return;
    }
    msn_snap_key_t k;
    if (msn_snap_fx_key(kind, value, len, &k) < 0) {
        if (len > 0 && value != NULL) { /* a value no list key can hold (empty ones have no list) */
            r->skip.list_keys++;
            char ex[MSN_LOG_EXCERPT_SIZE];
            msn_log_excerpt(value, len, ex);
            msn_pubskip_log(++r->skip.logged,
                            "transmission %lld: the value \"%s\" (%zu bytes) is too long for the '%c' packet list; the "
                            "transmission is not listed under it",
                            (long long)tx_id, ex, len, (char)kind);
        }
        return;
    }
    uint32_t list = msn_fxbulk_list(r->fxb, k.b, k.len);
    msn_fxbulk_add_to(r->fxb, list, tx_ix);
    if (byte)
        *byte = list + 1;
    else if (slot && value != NULL)
        *slot = (fxmemo_t){value, list, (uint8_t)kind};
}

/* fx_add as an fxlists.h walker for transmission tx_ix. */
typedef struct {
    msn_pubrender_t *r;
    uint32_t tx_ix;
    int64_t tx_id;
} gatherctx_t;

static int gather_cb(void *ctx, msn_fx_kind_t kind, const void *value, size_t len)
{
    gatherctx_t *c = ctx;
    fx_add(c->r, kind, value, len, c->tx_ix, c->tx_id);
    return 0;
}

/* The list entries of transmission i and of its observations (fxlists.h; an incremental
   publication puts the same ones one by one). */
static void fx_gather(msn_pubrender_t *r, uint32_t i)
{
    const msn_store_t *s = r->s;
    const msn_tx_t *t = &s->tx[i];
    msn_fx_rec_t rec;
    msn_snaprec_fx_make(&rec, (uint64_t)t->id, t->first_seen_ms, t->payload_type, t->route_type);
    gatherctx_t c = {r, i, t->id};
    (void)msn_fxlists_tx(t, &rec, gather_cb, &c);
    for (uint32_t j = 0; j < t->n_obs; j++)
        (void)msn_fxlists_obs(s, &s->obs[t->obs[j]], gather_cb, &c);
}

/* ---- channel lists ---- */

static void add_chl(msn_pubrender_t *r, const msn_tx_t *t, const char *region)
{
    msn_snap_key_t k;
    if (msn_snap_chl_key(t->channel_hash, strlen(t->channel_hash), region, strlen(region), &k) < 0)
        return; /* (as msn_chanpub_write_chl: no entry) */
    if (r->n_chls == r->cap_chls) {
        r->cap_chls = r->cap_chls ? r->cap_chls * 2 : 4096;
        r->chls = msn_xrealloc(r->chls, r->cap_chls * sizeof(*r->chls));
    }
    msn_pubrender_chl_t *e = &r->chls[r->n_chls++];
    e->key_off = (uint32_t)r->chl_keys.len;
    e->key_len = (uint32_t)k.len;
    msn_snap_chl_val(t->latest, (uint64_t)t->id, e->val);
    msn_buf_append(&r->chl_keys, k.b, k.len);
}

/* The chl entries of channel message t: under its channel, and its channel in each region
   that heard it. */
static void gather_chl(msn_pubrender_t *r, const msn_tx_t *t)
{
    char regions[MSN_CHANPUB_MAX_REGIONS][16];
    int nr = msn_chanpub_regions(r->s, t, regions);
    add_chl(r, t, "");
    for (int j = 0; j < nr; j++)
        add_chl(r, t, regions[j]);
}

/* LMDB's order: the key (memcmp over the shorter, then the shorter first), then the value. */
static int cmp_chl(const void *a, const void *b, void *keys)
{
    const msn_pubrender_chl_t *x = a, *y = b;
    const uint8_t *kb = keys;
    uint32_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(kb + x->key_off, kb + y->key_off, n);
    if (c == 0 && x->key_len != y->key_len)
        c = x->key_len < y->key_len ? -1 : 1;
    return c ? c : memcmp(x->val, y->val, sizeof(x->val));
}

static void sort_chls(msn_pubrender_t *r)
{
    if (r->n_chls > 1) /* (none gathered: no array at all) */
        qsort_r(r->chls, r->n_chls, sizeof(*r->chls), cmp_chl, r->chl_keys.data);
}

const msn_pubrender_chl_t *msn_pubrender_chls(const msn_pubrender_t *r, uint32_t *n, const uint8_t **keys)
{
    *n = r->n_chls;
    *keys = (const uint8_t *)r->chl_keys.data;
    return r->chls;
}

/* ---- rendering ---- */

static uint32_t put_sb(block_t *b, const msgpack_sbuffer *sb)
{
    uint32_t off = (uint32_t)b->data.len;
    msn_buf_append(&b->data, sb->data, sb->size);
    return off;
}

/* A transmission's observations lie anywhere in store->obs (in load order), each with its
 * path text and resolved path elsewhere again: rendering one meets a cache miss at every
 * step. So while transmission i is rendered, the memory of the next ones is fetched in
 * three steps: the observation index array of i + 3, the observations of i + 2 (their
 * indexes arrived meanwhile), the texts of i + 1's (their records arrived). */
static void prefetch_ahead(const msn_store_t *s, uint32_t i)
{
    if (i + 3 < s->n_tx)
        __builtin_prefetch(s->tx[i + 3].obs);
    if (i + 2 < s->n_tx) {
        const msn_tx_t *t = &s->tx[i + 2];
        for (uint32_t j = 0; j < t->n_obs; j++)
            __builtin_prefetch(&s->obs[t->obs[j]]);
    }
    if (i + 1 < s->n_tx) {
        const msn_tx_t *t = &s->tx[i + 1];
        for (uint32_t j = 0; j < t->n_obs; j++) {
            const msn_obs_t *o = &s->obs[t->obs[j]];
            if (o->path_json)
                __builtin_prefetch(o->path_json);
            if (o->rp)
                __builtin_prefetch(o->rp);
        }
    }
}

/* Renders the block of transmissions starting at r->next_first into b. */
static void render_block(msn_pubrender_t *r, block_t *b)
{
    const msn_store_t *s = r->s;
    b->first = r->next_first;
    b->n = 0;
    b->data.len = 0;
    b->n_off = 0;
    uint32_t records = 0;
    for (uint32_t i = b->first; i < s->n_tx && records < MSN_PUBRENDER_BLOCK_RECORDS; i++) {
        const msn_tx_t *t = &s->tx[i];
        if (b->n == b->cap_tx) {
            b->cap_tx = b->cap_tx ? b->cap_tx * 2 : 256;
            b->tx = msn_xrealloc(b->tx, b->cap_tx * sizeof(*b->tx));
        }
        if (b->n_off + t->n_obs + 1 > b->cap_off) {
            while (b->n_off + t->n_obs + 1 > b->cap_off)
                b->cap_off = b->cap_off ? b->cap_off * 2 : 4096;
            b->obs_off = msn_xrealloc(b->obs_off, b->cap_off * sizeof(*b->obs_off));
        }
        prefetch_ahead(s, i);
        txent_t *e = &b->tx[b->n++];
        memset(e, 0, sizeof(*e));
        msgpack_sbuffer_clear(&r->sb);
        msn_render_tx_record(&r->sb, s, t, &r->scratch);
        e->tx_len = (uint32_t)r->sb.size;
        e->tx_off = put_sb(b, &r->sb);
        if (msn_is_channel_message(t)) {
            gather_chl(r, t);
            msn_buf_reset(&r->scratch);
            if (msn_render_channel_message(&r->scratch, s, t) < 0) {
                e->cmsg_kind = -1;
            } else {
                msgpack_sbuffer_clear(&r->sb);
                msn_snaprec_cmsg_t rec = {{r->scratch.data, r->scratch.len}};
                msn_snaprec_cmsg_encode(&r->sb, &rec);
                e->cmsg_kind = 1;
                e->cmsg_len = (uint32_t)r->sb.size;
                e->cmsg_off = put_sb(b, &r->sb);
            }
        }
        e->obs_first = b->n_off;
        for (uint32_t j = 0; j < t->n_obs; j++) {
            msgpack_sbuffer_clear(&r->sb);
            msn_render_obs_record(&r->sb, s, t, &s->obs[t->obs[j]]);
            b->obs_off[b->n_off++] = put_sb(b, &r->sb);
        }
        b->obs_off[b->n_off++] = (uint32_t)b->data.len;
        records += 1 + t->n_obs;
    }
    r->next_first = b->first + b->n;
}

#define FX_AHEAD 16 /* list entries between fetching a transmission and reading it */

/* Moves the producer past lists without entries (none in practice: fx_add adds an entry
   to every list it makes), as write_fx_lists asks for no chunk of them. */
static void skip_empty(msn_pubrender_t *r)
{
    while (r->fx_list < r->fxb->n_lists && msn_fxbulk_at(r->fxb, r->fx_list)->n == 0)
        r->fx_list++;
}

/* Fills slot f with the next chunk of list entries (sealed), in list key order. */
static void fx_fill(msn_pubrender_t *r, fxslot_t *f)
{
    const msn_fxbulk_t *b = r->fxb;
    const msn_fxlist_t *l = msn_fxbulk_at(b, r->fx_list);
    const uint8_t *key = msn_fxbulk_key(b, l);
    uint32_t m = l->n - r->fx_off < MSN_PUBRENDER_FX_CHUNK ? l->n - r->fx_off : MSN_PUBRENDER_FX_CHUNK;
    const uint32_t *ix = l->ix + r->fx_off;
    for (uint32_t j = 0; j < m; j++) {
        /* a list's transmissions are spread over the store: fetch a few ahead */
        if (j + FX_AHEAD < m)
            __builtin_prefetch(&r->s->tx[ix[j + FX_AHEAD]]);
        const msn_tx_t *t = &r->s->tx[ix[j]];
        msn_snaprec_fx_make(&f->recs[j], (uint64_t)t->id, t->first_seen_ms, t->payload_type, t->route_type);
        msn_snaprec_fx_seal(&f->recs[j], key, l->key_len);
    }
    f->n = m;
    r->fx_off += m;
    if (r->fx_off == l->n) {
        r->fx_list++;
        r->fx_off = 0;
        skip_empty(r);
    }
}

/* ---- the hash index ---- */

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* LMDB's order of the keys (memcmp of the lowercase text, then the shorter first), then
   the store index. */
static int cmp_hash(const void *a, const void *b)
{
    const msn_pubrender_hash_t *x = a, *y = b;
    if (x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    uint32_t n = x->len < y->len ? x->len : y->len;
    for (uint32_t i = 8; i < n; i++) {
        uint8_t c = lower((uint8_t)x->hash[i]), d = lower((uint8_t)y->hash[i]);
        if (c != d)
            return c < d ? -1 : 1;
    }
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->tx_ix < y->tx_ix ? -1 : x->tx_ix > y->tx_ix;
}

/* The transmissions whose hash makes a key (msn_snap_hash_key's rule: 1 to 64 hex
   digits), sorted by key. */
static void sort_hashes(msn_pubrender_t *r)
{
    const msn_store_t *s = r->s;
    r->hashes = msn_xmalloc((s->n_tx ? s->n_tx : 1) * sizeof(*r->hashes));
    r->n_hashes = 0;
    for (uint32_t i = 0; i < s->n_tx; i++) {
        const char *h = s->tx[i].hash;
        size_t len = h ? strlen(h) : 0;
        msn_snap_key_t k;
        if (len == 0 || msn_snap_hash_key(h, len, &k) < 0)
            continue;
        uint64_t pfx = 0;
        for (size_t j = 0; j < 8; j++)
            pfx = pfx << 8 | (j < len ? k.b[j] : 0);
        r->hashes[r->n_hashes++] = (msn_pubrender_hash_t){pfx, h, (uint32_t)len, i};
    }
    if (r->n_hashes > 1)
        qsort(r->hashes, r->n_hashes, sizeof(*r->hashes), cmp_hash);
}

const msn_pubrender_hash_t *msn_pubrender_hashes(const msn_pubrender_t *r, uint32_t *n)
{
    *n = r->n_hashes;
    return r->hashes;
}

/* After the rows: sorts the hash index and the lists, then makes the lists' entries chunk
   after chunk. */
static void thread_fx(msn_pubrender_t *r)
{
    sort_hashes(r);
    sort_chls(r);
    msn_handoff_fill(&r->h, &r->sorted);
    if (msn_handoff_wait_free(&r->h, &r->lists_pending) < 0) /* the lists, handed over */
        return;
    for (uint32_t k = 0; r->fx_list < r->fxb->n_lists; k = (k + 1) % MSN_PUBRENDER_FX_SLOTS) {
        fxslot_t *f = &r->fx[k];
        if (msn_handoff_wait_free(&r->h, &f->ready) < 0)
            return;
        fx_fill(r, f);
        msn_handoff_fill(&r->h, &f->ready);
    }
}

static void *thread_main(void *arg)
{
    msn_pubrender_t *r = arg;
    for (uint32_t k = 0; r->next_first < r->s->n_tx; k = (k + 1) % MSN_PUBRENDER_SLOTS) {
        block_t *b = &r->slot[k];
        if (msn_handoff_wait_free(&r->h, &b->ready) < 0)
            return NULL;
        render_block(r, b);
        msn_handoff_fill(&r->h, &b->ready);
    }
    thread_fx(r);
    return NULL;
}

msn_pubrender_t *msn_pubrender_start(const msn_store_t *s, msn_fxbulk_t *fxb, int64_t logged)
{
    msn_pubrender_t *r = msn_xmalloc(sizeof(*r)); /* large (fx slots): from the heap, not the stack */
    memset(r, 0, sizeof(*r));
    r->s = s;
    r->fxb = fxb;
    r->skip.logged = logged;
    r->lists_pending = 1;
    msgpack_sbuffer_init(&r->sb);
    msn_handoff_init(&r->h);
    if (s->n_tx > 0) {
        if (pthread_create(&r->thread, NULL, thread_main, r) == 0) {
            r->threaded = 1;
            pthread_setname_np(r->thread, "msn-render");
        }
        if (!r->threaded)
            msn_warn("cannot start the render thread of the full publication: rendering on the publisher thread");
    }
    return r;
}

void msn_pubrender_next(msn_pubrender_t *r, uint32_t i, msn_pubrender_tx_t *out)
{
    block_t *b = &r->slot[r->cur];
    if (r->cur_held && i >= b->first + b->n) { /* give the block back, move to the next slot */
        msn_handoff_give_back(&r->h, &b->ready);
        r->cur_held = 0;
        r->cur = (r->cur + 1) % MSN_PUBRENDER_SLOTS;
        b = &r->slot[r->cur];
    }
    if (!r->cur_held) {
        if (r->threaded) {
            msn_handoff_wait_filled(&r->h, &b->ready);
        } else {
            render_block(r, b);
            b->ready = 1;
        }
        r->cur_held = 1;
    }
    const txent_t *e = &b->tx[i - b->first];
    out->tx = (const uint8_t *)b->data.data + e->tx_off;
    out->tx_len = e->tx_len;
    out->cmsg_kind = e->cmsg_kind;
    out->cmsg = (const uint8_t *)b->data.data + e->cmsg_off;
    out->cmsg_len = e->cmsg_len;
    out->n_obs = r->s->tx[i].n_obs;
    out->obs_base = (const uint8_t *)b->data.data;
    out->obs_off = b->obs_off + e->obs_first;
}

void msn_pubrender_fx_begin(msn_pubrender_t *r)
{
    if (r->cur_held) { /* the last block of rows */
        msn_handoff_give_back(&r->h, &r->slot[r->cur].ready);
        r->cur_held = 0;
    }
    msn_fxbulk_sort(r->fxb);
    skip_empty(r);
    if (!r->threaded) {
        sort_hashes(r);
        sort_chls(r);
        return;
    }
    msn_handoff_give_back(&r->h, &r->lists_pending); /* the render thread's from now on */
    msn_handoff_wait_filled(&r->h, &r->sorted);
}

void msn_pubrender_gather(msn_pubrender_t *r, uint32_t i)
{
    fx_gather(r, i);
}

uint32_t msn_pubrender_fx_next(msn_pubrender_t *r, const msn_fx_rec_t **recs)
{
    fxslot_t *f = &r->fx[r->fx_cur];
    if (r->fx_held) {
        msn_handoff_give_back(&r->h, &f->ready);
        r->fx_held = 0;
        r->fx_cur = (r->fx_cur + 1) % MSN_PUBRENDER_FX_SLOTS;
        f = &r->fx[r->fx_cur];
    }
    if (r->threaded) {
        msn_handoff_wait_filled(&r->h, &f->ready);
    } else {
        fx_fill(r, f);
        f->ready = 1;
    }
    r->fx_held = 1;
    *recs = f->recs;
    return f->n;
}

void msn_pubrender_finish(msn_pubrender_t *r, msn_pubrender_skip_t *skip)
{
    if (r->threaded) {
        msn_handoff_quit(&r->h);
        pthread_join(r->thread, NULL);
    }
    *skip = r->skip;
    for (int k = 0; k < MSN_PUBRENDER_SLOTS; k++) {
        msn_buf_free(&r->slot[k].data);
        free(r->slot[k].tx);
        free(r->slot[k].obs_off);
    }
    msgpack_sbuffer_destroy(&r->sb);
    msn_buf_free(&r->scratch);
    msn_handoff_destroy(&r->h);
    free(r->hashes);
    free(r->chls);
    msn_buf_free(&r->chl_keys);
    free(r);
}
