/*
 * gen_rows.c: the rows of `meshsnap gen`: every transmission rendered into its
 * transmissions, observations and _gen_truth rows, and inserted into SQLite.
 *
 * Two threads. A renderer thread turns batches of BATCH_TX transmissions into rows: for
 * each, the plan (recomputed, see gen_traffic.c), the packet bytes and decoded row values
 * (a re-drawn payload when its content hash was seen before: hashes are unique, as the
 * ingestor's dedup makes them), every copy's raw_hex, path_json and resolved_path (the
 * §4.2 resolver, shm/pathres), and the ground truth. All strings of a batch live in one
 * buffer and are bound to SQLite without copies. The calling thread inserts the batches in
 * order with multi-row INSERT statements while the renderer fills the next one (three
 * batches circulate). Ids are assigned here: transmissions 1..T in schedule order,
 * observations consecutively in transmission order.
 */
#include "gen_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm/hash.h"
#include "shm/hex.h"
#include "shm/hmap.h"
#include "shm/timeutil.h"

#define BATCH_TX 2000
#define N_BATCHES 3

double msn_gen__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double msn_gen__thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- batches of rendered rows ---------------------------------------------------------------- */

typedef struct {
    uint32_t off, len; /* into batch text; off == UINT32_MAX: NULL */
} str_t;

#define STR_NULL ((str_t){UINT32_MAX, 0})

typedef struct {
    str_t raw, hash, first_seen, created, json, from, chan, scope;
    str_t routes, heard; /* ground truth: per observation hop node indexes, heard node */
    int64_t first_obs_id;
    int origin;
    uint8_t route_type, payload_type;
    int64_t last_seen;
    uint32_t n_obs;
} tx_row_t;

typedef struct {
    str_t path, resolved, raw;
    int64_t id, tx_id;
    int32_t observer_idx;
    uint32_t ts;
    float snr, rssi;
} obs_row_t;

typedef struct {
    long first, count;
    msn_buf_t text;
    tx_row_t *tx;
    obs_row_t *obs;
    size_t n_obs, cap_obs;
    long hops, hops_resolved, hops_wrong;
    int state; /* 0 free, 1 filled, 2 end of stream, 3 failed */
} batch_t;

typedef struct {
    const gen_world_t *w;
    const msn_pathres_t *pr;
    int resolve;
    batch_t batches[N_BATCHES];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    /* generator state */
    uint64_t *hashes; /* the content hashes drawn so far (as numbers) */
    uint32_t n_hashes;
    msn_hmap_t hset; /* indexes hashes[] */
    long collisions;
    double gen_busy, gen_wait;
    char err[256];
} pipe_t;

static const char hexu[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

static str_t put_str(msn_buf_t *b, const char *s, size_t n)
{
    str_t r = {(uint32_t)b->len, (uint32_t)n};
    msn_buf_append(b, s, n);
    return r;
}

static str_t put_hex(msn_buf_t *b, const uint8_t *p, size_t n, int upper)
{
    const char *h = upper ? hexu : hexl;
    msn_buf_reserve(b, 2 * n);
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = h[p[i] >> 4];
        o[2 * i + 1] = h[p[i] & 15];
    }
    str_t r = {(uint32_t)b->len, (uint32_t)(2 * n)};
    b->len += 2 * n;
    return r;
}

static size_t fmt_u32(char *out, uint32_t v)
{
    char tmp[12];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static void iso_s(char out[32], int64_t t)
{
    msn_format_iso_s(out, t);
}

static void created_s(char out[32], int64_t t)
{
    msn_format_iso_s(out, t); /* YYYY-MM-DDTHH:MM:SSZ */
    out[10] = ' ';
    out[19] = '\0';
}

static uint64_t hash_u64(const char *hex)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++)
        v = v << 4 | (uint64_t)msn_hexval(hex[i]);
    return v;
}

/* Adds v to the set of hashes drawn; returns 0 when it was already there. */
static int hset_add(pipe_t *pp, uint64_t v)
{
    msn_hmap_probe_t pr;
    for (uint32_t e = msn_hmap_first(&pp->hset, msn_mix64(v), &pr); e != MSN_HMAP_NONE;
         e = msn_hmap_next(&pp->hset, &pr))
        if (pp->hashes[e] == v)
            return 0;
    pp->hashes[pp->n_hashes] = v;
    msn_hmap_insert(&pp->hset, &pr, pp->n_hashes++);
    return 1;
}

/* Renders transmissions [b->first, b->first + b->count) into b. Returns 0 or -1. */
static int fill_batch(pipe_t *pp, gen_renderer_t *rr, gen_plan_t *pl, batch_t *b)
{
    const gen_world_t *w = pp->w;
    msn_buf_reset(&b->text);
    b->n_obs = 0;
    b->hops = b->hops_resolved = b->hops_wrong = 0;
    gen_render_t rd;
    /* path_json hops: at most 63 header hops, or a TRACE route within the payload */
    uint8_t pkt[MSN_MAX_PACKET], hopb[MSN_MAX_PAYLOAD];
    char hopstr[MSN_MAX_PAYLOAD][8];
    const char *hops[MSN_MAX_PAYLOAD];
    const char *res[MSN_MAX_PAYLOAD];
    char tbuf[32];
    for (long k = 0; k < b->count; k++) {
        long i = b->first + k;
        msn_gen__plan(w, i, pl);
        int attempt = 0;
        for (;;) {
            if (msn_gen__render(rr, w, pl, attempt, &rd) < 0) {
                snprintf(pp->err, sizeof(pp->err), "transmission %ld cannot be rendered", i);
                return -1;
            }
            if (hset_add(pp, hash_u64(rd.hash)))
                break;
            pp->collisions++;
            if (++attempt > 50) {
                snprintf(pp->err, sizeof(pp->err), "transmission %ld (payload type %d): no unique hash", i,
                         pl->payload_type);
                return -1;
            }
        }
        tx_row_t *t = &b->tx[k];
        const char *from = rd.has_from ? rd.from_pubkey : NULL;
        /* observations */
        if (b->n_obs + (size_t)pl->n_copies > b->cap_obs) {
            while (b->n_obs + (size_t)pl->n_copies > b->cap_obs)
                b->cap_obs = b->cap_obs ? b->cap_obs * 2 : 65536;
            b->obs = msn_xrealloc(b->obs, b->cap_obs * sizeof(obs_row_t));
        }
        for (int c = 0; c < pl->n_copies; c++) {
            const gen_copy_t *cp = &pl->copy_store[c];
            const gen_observer_t *ob = &w->obs[cp->observer];
            obs_row_t *o = &b->obs[b->n_obs++];
            int n = msn_gen__copy_packet(w, pl, &rd, cp, pkt, sizeof(pkt));
            if (n < 0) {
                snprintf(pp->err, sizeof(pp->err), "transmission %ld: copy %d does not encode", i, c);
                return -1;
            }
            o->raw = put_hex(&b->text, pkt, (size_t)n, !ob->lower_hex);
            o->observer_idx = cp->observer + 1;
            o->tx_id = i + 1;
            o->ts = cp->ts;
            o->snr = cp->snr;
            o->rssi = cp->rssi;
            int hs;
            msn_gen__copy_hops(w, pl, cp, hopb, &hs);
            int nh = cp->n_hops;
            /* path_json */
            msn_buf_reserve(&b->text, (size_t)nh * 9 + 4);
            o->path.off = (uint32_t)b->text.len;
            char *q = b->text.data + b->text.len;
            *q++ = '[';
            for (int j = 0; j < nh; j++) {
                if (j)
                    *q++ = ',';
                *q++ = '"';
                char *hsp = hopstr[j];
                for (int x = 0; x < hs; x++) {
                    uint8_t v = hopb[j * hs + x];
                    *q++ = hsp[2 * x] = hexu[v >> 4];
                    *q++ = hsp[2 * x + 1] = hexu[v & 15];
                }
                hsp[2 * hs] = '\0';
                hops[j] = hsp;
                *q++ = '"';
            }
            *q++ = ']';
            o->path.len = (uint32_t)(q - (b->text.data + o->path.off));
            b->text.len += o->path.len;
            /* resolved_path */
            o->resolved = STR_NULL;
            if (pp->resolve && nh > 0) {
                int nr = msn_pathres_resolve(pp->pr, from, hops, nh, res);
                b->hops += nh;
                b->hops_resolved += nr;
                for (int j = 0; j < nh; j++)
                    if (res[j] != NULL &&
                        memcmp(res[j], w->nodes[pl->hop_nodes[cp->hops_off + j]].hex, 64) != 0)
                        b->hops_wrong++;
                size_t before = b->text.len;
                if (msn_pathres_render(res, nh, &b->text))
                    o->resolved = (str_t){(uint32_t)before, (uint32_t)(b->text.len - before)};
            } else {
                b->hops += nh;
            }
        }
        /* ground truth: the true hops of every copy, and the node each copy was heard from */
        size_t all_hops = 0;
        for (int c = 0; c < pl->n_copies; c++)
            all_hops += pl->copy_store[c].n_hops;
        msn_buf_reserve(&b->text, all_hops * 6 + (size_t)pl->n_copies * 10 + 8);
        t->routes.off = (uint32_t)b->text.len;
        char *q = b->text.data + b->text.len;
        *q++ = '[';
        for (int c = 0; c < pl->n_copies; c++) {
            const gen_copy_t *cp = &pl->copy_store[c];
            if (c)
                *q++ = ',';
            *q++ = '[';
            for (int j = 0; j < cp->n_hops; j++) {
                if (j)
                    *q++ = ',';
                q += fmt_u32(q, pl->hop_nodes[cp->hops_off + j]);
            }
            *q++ = ']';
        }
        *q++ = ']';
        t->routes.len = (uint32_t)(q - (b->text.data + t->routes.off));
        b->text.len += t->routes.len;
        t->heard.off = (uint32_t)b->text.len;
        *q++ = '[';
        for (int c = 0; c < pl->n_copies; c++) {
            if (c)
                *q++ = ',';
            q += fmt_u32(q, pl->copy_store[c].heard);
        }
        *q++ = ']';
        t->heard.len = (uint32_t)(q - (b->text.data + t->heard.off));
        b->text.len += t->heard.len;
        /* the transmission: the first copy as received */
        t->raw = b->obs[b->n_obs - (size_t)pl->n_copies].raw;
        t->hash = put_str(&b->text, rd.hash, 16);
        iso_s(tbuf, pl->copy_store[0].ts);
        t->first_seen = put_str(&b->text, tbuf, strlen(tbuf));
        created_s(tbuf, pl->copy_store[0].ts);
        t->created = put_str(&b->text, tbuf, strlen(tbuf));
        size_t before = b->text.len;
        msn_packet_render_json(&rd.pkt, &b->text);
        t->json = (str_t){(uint32_t)before, (uint32_t)(b->text.len - before)};
        t->from = from ? put_str(&b->text, from, 64) : STR_NULL;
        t->chan = rd.channel_hash ? put_str(&b->text, rd.channel_hash, strlen(rd.channel_hash)) : STR_NULL;
        t->scope = rd.scope_name ? put_str(&b->text, rd.scope_name, strlen(rd.scope_name)) : STR_NULL;
        t->origin = pl->origin;
        t->route_type = (uint8_t)pl->route_type;
        t->payload_type = (uint8_t)pl->payload_type;
        t->last_seen = pp->resolve ? (int64_t)pl->copy_store[pl->n_copies - 1].ts : 0;
        t->n_obs = (uint32_t)pl->n_copies;
        if (b->text.len > 0xF0000000u) {
            snprintf(pp->err, sizeof(pp->err), "batch too large");
            return -1;
        }
    }
    return 0;
}

static void *generator(void *arg)
{
    pipe_t *pp = arg;
    gen_renderer_t *rr = msn_gen__renderer_new(pp->w);
    gen_plan_t *pl = msn_xmalloc(sizeof(gen_plan_t));
    msn_gen__plan_init(pl);
    long T = pp->w->n_slots;
    int slot = 0;
    for (long first = 0;; first += BATCH_TX) {
        batch_t *b = &pp->batches[slot];
        double tw = msn_gen__now();
        pthread_mutex_lock(&pp->mu);
        while (b->state != 0 && !pp->stop)
            pthread_cond_wait(&pp->cv, &pp->mu);
        pp->gen_wait += msn_gen__now() - tw;
        int stop = pp->stop;
        pthread_mutex_unlock(&pp->mu);
        if (stop)
            break;
        int state;
        if (first >= T) {
            state = 2;
        } else {
            b->first = first;
            b->count = T - first < BATCH_TX ? T - first : BATCH_TX;
            double t0 = msn_gen__thread_cpu();
            state = fill_batch(pp, rr, pl, b) < 0 ? 3 : 1;
            pp->gen_busy += msn_gen__thread_cpu() - t0;
        }
        pthread_mutex_lock(&pp->mu);
        b->state = state;
        pthread_cond_broadcast(&pp->cv);
        pthread_mutex_unlock(&pp->mu);
        if (state != 1)
            break;
        slot = (slot + 1) % N_BATCHES;
    }
    msn_gen__plan_free(pl);
    free(pl);
    msn_gen__renderer_free(rr);
    msn_codec_thread_cleanup();
    return NULL;
}

/* ---- SQLite ------------------------------------------------------------------------------------ */

int msn_gen__exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int msn_gen__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "prepare %s: %s", sql, sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static void bind_str(sqlite3_stmt *st, int i, const batch_t *b, str_t s)
{
    if (s.off == UINT32_MAX)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, b->text.data + s.off, (int)s.len, SQLITE_STATIC);
}

int msn_gen__step(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    if (sqlite3_step(st) != SQLITE_DONE) {
        snprintf(err, errlen, "insert: %s", sqlite3_errmsg(db));
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

/* Multi-row INSERT statements: rows are bound MULTI at a time into one statement, so the
 * table and index cursors stay open from row to row (appends to the rightmost page then
 * skip the descent from the root), and the per-statement overhead is paid once. */
#define MULTI 64

typedef struct {
    sqlite3_stmt *many, *one;
    int ncols;
} multi_t;

typedef struct {
    multi_t tx, obs, truth;
    int64_t next_obs_id;
} inserter_t;

static int multi_prepare(sqlite3 *db, multi_t *m, const char *head, int ncols, char *err, size_t errlen)
{
    msn_buf_t b = MSN_BUF_INIT;
    m->ncols = ncols;
    for (int pass = 0; pass < 2; pass++) {
        int rows = pass == 0 ? MULTI : 1;
        msn_buf_reset(&b);
        msn_buf_puts(&b, head);
        msn_buf_puts(&b, " VALUES ");
        for (int r = 0; r < rows; r++) {
            msn_buf_puts(&b, r ? ",(" : "(");
            for (int c = 0; c < ncols; c++)
                msn_buf_puts(&b, c ? ",?" : "?");
            msn_buf_putc(&b, ')');
        }
        if (msn_gen__prepare(db, msn_buf_cstr(&b), pass == 0 ? &m->many : &m->one, err, errlen) < 0) {
            msn_buf_free(&b);
            return -1;
        }
    }
    msn_buf_free(&b);
    return 0;
}

static void multi_finalize(multi_t *m)
{
    sqlite3_finalize(m->many);
    sqlite3_finalize(m->one);
    m->many = m->one = NULL;
}

static void bind_tx(sqlite3_stmt *st, int p, const batch_t *b, long k)
{
    const tx_row_t *t = &b->tx[k];
    sqlite3_bind_int64(st, p + 1, b->first + k + 1);
    bind_str(st, p + 2, b, t->raw);
    bind_str(st, p + 3, b, t->hash);
    bind_str(st, p + 4, b, t->first_seen);
    sqlite3_bind_int(st, p + 5, t->route_type);
    sqlite3_bind_int(st, p + 6, t->payload_type);
    sqlite3_bind_int(st, p + 7, 0);
    bind_str(st, p + 8, b, t->json);
    bind_str(st, p + 9, b, t->from);
    sqlite3_bind_int64(st, p + 10, t->last_seen);
    bind_str(st, p + 11, b, t->created);
    bind_str(st, p + 12, b, t->chan);
    bind_str(st, p + 13, b, t->scope);
}

static void bind_obs(sqlite3_stmt *st, int p, const batch_t *b, long k)
{
    const obs_row_t *o = &b->obs[k];
    sqlite3_bind_int64(st, p + 1, o->id);
    sqlite3_bind_int64(st, p + 2, o->tx_id);
    sqlite3_bind_int(st, p + 3, o->observer_idx);
    sqlite3_bind_text(st, p + 4, "rx", 2, SQLITE_STATIC);
    sqlite3_bind_double(st, p + 5, o->snr);
    sqlite3_bind_double(st, p + 6, o->rssi);
    sqlite3_bind_null(st, p + 7);
    bind_str(st, p + 8, b, o->path);
    sqlite3_bind_int64(st, p + 9, o->ts);
    bind_str(st, p + 10, b, o->resolved);
    bind_str(st, p + 11, b, o->raw);
}

static void bind_truth(sqlite3_stmt *st, int p, const batch_t *b, long k)
{
    const tx_row_t *t = &b->tx[k];
    sqlite3_bind_int64(st, p + 1, b->first + k + 1);
    sqlite3_bind_int64(st, p + 2, t->first_obs_id);
    sqlite3_bind_int(st, p + 3, t->origin);
    bind_str(st, p + 4, b, t->routes);
    bind_str(st, p + 5, b, t->heard);
}

/* Inserts rows [0, n) with bind(stmt, first parameter - 1, batch, row). */
static int multi_insert(sqlite3 *db, multi_t *m, const batch_t *b, long n,
                        void (*bind)(sqlite3_stmt *, int, const batch_t *, long), char *err, size_t errlen)
{
    long k = 0;
    for (; k + MULTI <= n; k += MULTI) {
        for (int r = 0; r < MULTI; r++)
            bind(m->many, r * m->ncols, b, k + r);
        if (msn_gen__step(db, m->many, err, errlen) < 0)
            return -1;
    }
    for (; k < n; k++) {
        bind(m->one, 0, b, k);
        if (msn_gen__step(db, m->one, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int insert_batch(sqlite3 *db, inserter_t *ins, batch_t *b, char *err, size_t errlen)
{
    size_t oi = 0;
    for (long k = 0; k < b->count; k++) {
        b->tx[k].first_obs_id = ins->next_obs_id;
        for (uint32_t c = 0; c < b->tx[k].n_obs; c++)
            b->obs[oi++].id = ins->next_obs_id++;
    }
    if (multi_insert(db, &ins->tx, b, b->count, bind_tx, err, errlen) < 0 ||
        multi_insert(db, &ins->obs, b, (long)b->n_obs, bind_obs, err, errlen) < 0 ||
        multi_insert(db, &ins->truth, b, b->count, bind_truth, err, errlen) < 0)
        return -1;
    return 0;
}

int msn_gen__write_rows(sqlite3 *db, const gen_world_t *w, const msn_pathres_t *pr, int resolve, int quiet,
                        gen_rows_stats_t *st, char *err, size_t errlen)
{
    inserter_t ins = {0};
    pipe_t *pp = NULL;
    int started = 0;
    pthread_t th;
    int rc = -1;
    long T = w->n_slots;
    memset(st, 0, sizeof(*st));

    if (multi_prepare(
            db, &ins.tx,
            "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type,"
            " payload_version, decoded_json, from_pubkey, last_seen, created_at, channel_hash, scope_name)",
            13, err, errlen) < 0 ||
        multi_prepare(
            db, &ins.obs,
            "INSERT INTO observations (id, transmission_id, observer_idx, direction, snr, rssi, score,"
            " path_json, timestamp, resolved_path, raw_hex)",
            11, err, errlen) < 0 ||
        multi_prepare(
            db, &ins.truth,
            "INSERT INTO _gen_truth (transmission_id, first_observation_id, origin, routes_json, heard_json)",
            5, err, errlen) < 0)
        goto out;
    ins.next_obs_id = 1;

    pp = msn_xcalloc(1, sizeof(pipe_t));
    pp->w = w;
    pp->pr = pr;
    pp->resolve = resolve;
    pp->hashes = msn_xmalloc(((size_t)T + 1) * sizeof(uint64_t));
    msn_hmap_reserve(&pp->hset, (uint32_t)T);
    for (int k = 0; k < N_BATCHES; k++)
        pp->batches[k].tx = msn_xmalloc(BATCH_TX * sizeof(tx_row_t));
    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->cv, NULL);
    if (pthread_create(&th, NULL, generator, pp) != 0) {
        snprintf(err, errlen, "cannot start the rendering thread");
        goto out;
    }
    started = 1;
    double last_report = msn_gen__now();
    long done_tx = 0;
    for (int slot = 0;; slot = (slot + 1) % N_BATCHES) {
        batch_t *b = &pp->batches[slot];
        double tw = msn_gen__now();
        pthread_mutex_lock(&pp->mu);
        while (b->state == 0)
            pthread_cond_wait(&pp->cv, &pp->mu);
        st->insert_wait += msn_gen__now() - tw;
        int state = b->state;
        pthread_mutex_unlock(&pp->mu);
        if (state == 2)
            break;
        if (state == 3) {
            snprintf(err, errlen, "%s", pp->err);
            goto out;
        }
        double ti = msn_gen__thread_cpu();
        if (insert_batch(db, &ins, b, err, errlen) < 0)
            goto out;
        st->insert_cpu += msn_gen__thread_cpu() - ti;
        st->hops += b->hops;
        st->hops_resolved += b->hops_resolved;
        st->hops_wrong += b->hops_wrong;
        done_tx += b->count;
        pthread_mutex_lock(&pp->mu);
        b->state = 0;
        pthread_cond_broadcast(&pp->cv);
        pthread_mutex_unlock(&pp->mu);
        if (!quiet && msn_gen__now() - last_report > 5) {
            last_report = msn_gen__now();
            fprintf(stderr, "gen: rows: %ld of %ld transmissions, %lld observations\n", done_tx, T,
                    (long long)ins.next_obs_id - 1);
        }
    }
    pthread_join(th, NULL);
    started = 0;
    st->observations = (long)(ins.next_obs_id - 1);
    st->collisions = pp->collisions;
    st->render_cpu = pp->gen_busy;
    st->render_wait = pp->gen_wait;
    rc = 0;
out:
    if (started) {
        /* an insert failed: stop the renderer (it may be waiting for a free batch) */
        pthread_mutex_lock(&pp->mu);
        pp->stop = 1;
        pthread_cond_broadcast(&pp->cv);
        pthread_mutex_unlock(&pp->mu);
        pthread_join(th, NULL);
    }
    if (pp != NULL) {
        for (int k = 0; k < N_BATCHES; k++) {
            msn_buf_free(&pp->batches[k].text);
            free(pp->batches[k].tx);
            free(pp->batches[k].obs);
        }
        free(pp->hashes);
        msn_hmap_free(&pp->hset);
        pthread_mutex_destroy(&pp->mu);
        pthread_cond_destroy(&pp->cv);
        free(pp);
    }
    multi_finalize(&ins.tx);
    multi_finalize(&ins.obs);
    multi_finalize(&ins.truth);
    return rc;
}
