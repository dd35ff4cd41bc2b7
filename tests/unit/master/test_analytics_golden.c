/*
 * test_analytics_golden.c: pins every analytic's exact output on a small generated
 * database, so a change that alters any byte of any body (a refactoring that was meant to
 * change nothing, most of all) is caught.
 *
 * The database comes from `meshsnap gen` (cli/gen*.c, run in-process with a fixed seed and
 * end time, so it is the same row for row on every run). Every analytic is computed for
 * every shape the master precomputes (default, the windows 1h/24h/7d/30d where the
 * analytic takes a window, each observer region where it takes a region) plus a few
 * requested-only shapes, at a fixed "now". Each body's length and SHA-256 are compared
 * with analytics_golden.txt beside this file.
 *
 * The golden file also records a fingerprint of the loaded store: when that differs, the
 * generator (or the loader) changed, not the analytics, and the test says so. To rewrite
 * the file after an intended change, run the test with MESHSNAP_GOLDEN_UPDATE=1 (it
 * writes analytics_golden.txt in $MESHSNAP_SOURCE/tests/unit/master, or beside the source
 * it was compiled from) and review the diff.
 * Bodies include doubles formatted from libm results (haversine, square roots): the hashes
 * are those of Debian 12's glibc on x86-64.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../../cli/gen.c"
#include "../../../cli/gen_rows.c"
#include "../../../cli/gen_traffic.c"
#include "../../../cli/gen_world.c"
#include "master/analytics/analytics.h"
#include "master/store.h"
#include "shm/anshape.h"
#include "shm/codec/codec.h"
#include "shm/config.h"
#include "test_analytics_json.h"
#include "testlib.h"

#define GOLDEN_END 1780000000LL /* 2026-05-28T20:26:40Z */
#define GOLDEN_FILE "tests/unit/master/analytics_golden.txt"

static void gen_params(msn_gen_params_t *p, const char *path)
{
    msn_gen_defaults(p);
    p->db = path;
    p->nodes = 140;
    p->observers = 14;
    p->transmissions = 3000;
    p->obs_per_tx = 6;
    p->days = 3;
    p->seed = 11;
    p->end = GOLDEN_END;
    p->quiet = 1;
    p->threads = 1;
}

/* ---- SHA-256 over many pieces ---- */

typedef struct {
    msn_buf_t b; /* everything fed so far (the store is small) */
} fp_t;

static void fp_bytes(fp_t *f, const void *p, size_t n)
{
    uint64_t len = n;
    msn_buf_append(&f->b, &len, sizeof(len));
    if (n)
        msn_buf_append(&f->b, p, n);
}

static void fp_str(fp_t *f, const char *s)
{
    if (s == NULL) {
        msn_buf_putc(&f->b, 'N');
        return;
    }
    fp_bytes(f, s, strlen(s));
}

static void fp_i64(fp_t *f, int64_t v)
{
    fp_bytes(f, &v, sizeof(v));
}

static void fp_dbl(fp_t *f, int has, double v)
{
    fp_i64(f, has);
    if (has)
        fp_bytes(f, &v, sizeof(v));
}

static void hex_sha256(const void *p, size_t n, char out[65])
{
    uint8_t h[32];
    msn_sha256(p, n, h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* What the analytics read of the store, hashed. */
static void store_fingerprint(const msn_store_t *s, char out[65])
{
    fp_t f = {MSN_BUF_INIT};
    for (uint32_t i = 0; i < s->n_tx; i++) {
        const msn_tx_t *t = &s->tx[i];
        fp_i64(&f, t->id);
        fp_str(&f, t->hash);
        fp_str(&f, t->raw_hex);
        fp_str(&f, t->first_seen);
        fp_i64(&f, t->payload_type);
        fp_str(&f, t->decoded_json);
        fp_i64(&f, t->best);
        for (uint32_t k = 0; k < t->n_obs; k++) {
            const msn_obs_t *o = &s->obs[t->obs[k]];
            fp_i64(&f, o->observer_rowid);
            fp_i64(&f, o->timestamp);
            fp_dbl(&f, o->has_snr, o->snr);
            fp_dbl(&f, o->has_rssi, o->rssi);
            fp_str(&f, o->path_json);
        }
    }
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *n = &s->nodes[i];
        fp_str(&f, n->public_key);
        fp_str(&f, n->name);
        fp_str(&f, n->role);
        fp_dbl(&f, n->has_lat, n->lat);
        fp_dbl(&f, n->has_lon, n->lon);
        fp_str(&f, n->last_seen);
        fp_i64(&f, n->advert_count);
    }
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const msn_observer_t *o = &s->observers[i];
        fp_i64(&f, o->rowid);
        fp_str(&f, o->id);
        fp_str(&f, o->name);
        fp_str(&f, o->iata);
        fp_i64(&f, o->inactive);
        fp_i64(&f, o->has_can_relay ? o->can_relay : -1);
    }
    hex_sha256(f.b.data, f.b.len, out);
    msn_buf_free(&f.b);
}

/* ---- the bodies ---- */

typedef struct {
    msn_buf_t text; /* the golden file being built: "name bytes sha256" lines */
    int bodies;
} run_t;

static void record(run_t *r, const char *name, const msn_buf_t *body)
{
    char h[65];
    hex_sha256(body->data ? body->data : "", body->len, h);
    msn_buf_printf(&r->text, "%s %zu %s\n", name, body->len, h);
    r->bodies++;
    jv_t *v = jv_parse(body->data ? body->data : "", body->len);
    if (v == NULL)
        fprintf(stderr, "%s: not valid JSON\n", name);
    CHECK(v != NULL);
    jv_free(v);
}

static void compute(run_t *r, const msn_store_t *s, int an, const msn_an_shape_t *sh, const char *key,
                    int64_t now_ms)
{
    msn_buf_t b = MSN_BUF_INIT;
    char err[256] = "", name[200];
    CHECK_EQ_INT(msn_analytic_compute(an, s, sh, now_ms, &b, err, sizeof(err)), 0);
    snprintf(name, sizeof(name), "%s%s%s", msn_anshape_endpoints[an], key[0] ? "?" : "", key);
    record(r, name, &b);
    msn_buf_free(&b);
}

/* The regions the master precomputes: each active observer's IATA, canonical, once. */
static int regions(const msn_store_t *s, char (*out)[64], int max)
{
    int n = 0;
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const char *iata = s->observers[i].iata;
        msn_anshape_t sh;
        char err[64];
        if (iata == NULL || !iata[0] || s->observers[i].inactive ||
            msn_anshape_parse(iata, NULL, NULL, NULL, NULL, &sh, err, sizeof(err)) < 0 || !sh.region[0])
            continue;
        int dup = 0;
        for (int k = 0; k < n; k++)
            dup |= strcmp(out[k], sh.region) == 0;
        if (!dup && n < max)
            snprintf(out[n++], 64, "%s", sh.region);
    }
    return n;
}

static void compute_all(run_t *r, const msn_store_t *s, int64_t now_ms)
{
    static const char *const windows[] = {"1h", "24h", "7d", "30d"};
    char reg[32][64];
    int n_reg = regions(s, reg, 32);
    CHECK(n_reg >= 2);
    char two[140];
    snprintf(two, sizeof(two), "%s, %s ,all", reg[0], reg[n_reg - 1]);
    for (int an = 0; an < MSN_AN_COUNT; an++) {
        int p = msn_anshape_params(an);
        compute(r, s, an, NULL, "", now_ms);
        for (int w = 0; (p & 2) && w < 4; w++) {
            char key[16];
            snprintf(key, sizeof(key), "w=%s", windows[w]);
            msn_an_shape_t sh = {NULL, now_ms - msn_anshape_window_ms(windows[w]), 0, NULL, windows[w], NULL};
            compute(r, s, an, &sh, key, now_ms);
        }
        for (int k = 0; (p & 1) && k < n_reg; k++) {
            char key[80];
            snprintf(key, sizeof(key), "r=%.60s", reg[k]);
            msn_an_shape_t sh = {reg[k], 0, 0, NULL, NULL, NULL};
            compute(r, s, an, &sh, key, now_ms);
        }
        if (!(p & 3))
            continue;
        /* shapes only ever requested: two regions, a region nobody carries, from/to */
        msn_an_shape_t two_r = {two, 0, 0, NULL, NULL, NULL}, none = {"ZZZ", 0, 0, NULL, NULL, NULL};
        msn_an_shape_t ft = {reg[0], now_ms - 2 * 86400000LL, now_ms - 6 * 3600000LL, NULL, NULL, NULL};
        compute(r, s, an, &two_r, "x=two-regions", now_ms);
        compute(r, s, an, &none, "x=no-region", now_ms);
        compute(r, s, an, &ft, "x=from-to-region", now_ms);
    }
    /* per parameter value: observers' analytics, hop lists, groups, metrics windows */
    static const int days[] = {1, 3, 7, 30};
    for (uint32_t o = 0; o < 2 && o < s->n_observers; o++)
        for (int d = 0; d < 4; d++) {
            char param[120], key[130];
            snprintf(param, sizeof(param), "%d:%s", days[d], s->observers[o].id);
            snprintf(key, sizeof(key), "p=%d:obs%u", days[d], o);
            msn_an_shape_t sh = {NULL, 0, 0, NULL, NULL, param};
            compute(r, s, MSN_AN_OBSERVER_ANALYTICS, &sh, key, now_ms);
        }
    char hops2[64] = "", hops3[64] = "";
    for (uint32_t i = 0; i < s->n_tx && (!hops2[0] || !hops3[0]); i++) {
        const msn_tx_t *t = &s->tx[i];
        const char *pj = t->best >= 0 ? s->obs[t->best].path_json : NULL;
        char h[3][8];
        if (pj == NULL || sscanf(pj, "[\"%7[0-9A-Fa-f]\",\"%7[0-9A-Fa-f]\",\"%7[0-9A-Fa-f]\"", h[0], h[1], h[2]) != 3)
            continue;
        snprintf(hops2, sizeof(hops2), "%s,%s", h[0], h[1]);
        snprintf(hops3, sizeof(hops3), "%s,%s,%s", h[0], h[1], h[2]);
    }
    CHECK(hops2[0] && hops3[0]);
    const char *const hop_params[] = {hops2, hops3, "zz,yy", "ab"};
    for (int k = 0; k < 4; k++) {
        char key[80];
        snprintf(key, sizeof(key), "p=hops%d", k);
        msn_an_shape_t sh = {NULL, 0, 0, NULL, NULL, hop_params[k]};
        compute(r, s, MSN_AN_SUBPATH_DETAIL, &sh, key, now_ms);
    }
    msn_an_shape_t groups = {NULL, 0, 0, NULL, NULL, "2-3:5,4-8:3"};
    compute(r, s, MSN_AN_SUBPATHS_BULK, &groups, "p=2-3:5,4-8:3", now_ms);
    static const char *const mwin[] = {"3600", "259200", "2592000"};
    for (int k = 0; k < 3; k++) {
        char key[100];
        snprintf(key, sizeof(key), "p=%s", mwin[k]);
        msn_an_shape_t sh = {NULL, 0, 0, NULL, NULL, mwin[k]};
        compute(r, s, MSN_AN_OBSERVERS_METRICS_SUMMARY, &sh, key, now_ms);
        snprintf(key, sizeof(key), "r=%s;p=%s", reg[0], mwin[k]);
        msn_an_shape_t shr = {reg[0], 0, 0, NULL, NULL, mwin[k]};
        compute(r, s, MSN_AN_OBSERVERS_METRICS_SUMMARY, &shr, key, now_ms);
    }
    msn_buf_t b = MSN_BUF_INIT;
    char err[256];
    msn_an_shape_t sh = {reg[0], 0, 0, NULL, NULL, NULL};
    CHECK_EQ_INT(msn_analytic_subpaths(s, NULL, 3, 5, 20, &b, err, sizeof(err)), 0);
    record(r, "subpaths(3,5,20)", &b);
    msn_buf_reset(&b);
    CHECK_EQ_INT(msn_analytic_subpaths(s, &sh, 1, 3, 7, &b, err, sizeof(err)), 0);
    record(r, "subpaths(1,3,7)?r", &b);
    msn_buf_free(&b);
}

/* Deterministic observer_metrics rows for the first three observers (the generator writes
 * none): every 5 minutes over the last 2 days, counters rising, one reboot, gaps. */
static void add_metrics(const char *db_path, int64_t end_s)
{
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *ids, *ins;
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT id FROM observers ORDER BY rowid LIMIT 3", -1, &ids, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "INSERT INTO observer_metrics VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", -1,
                                    &ins, NULL),
                 SQLITE_OK);
    int o = 0;
    while (sqlite3_step(ids) == SQLITE_ROW) {
        int64_t tx = 0, rx = 0, er = 0, sent = 0, recv = 0;
        for (int i = 576; i >= 0; i--) {
            if (i % 50 == 7)
                continue; /* a gap */
            if (o == 0 && i == 200)
                tx = rx = er = sent = recv = 0; /* a reboot */
            int64_t t = end_s / 300 * 300 - (int64_t)i * 300;
            tx += (i * 7 + o) % 5;
            rx += (i * 13 + o) % 29;
            er += (i + o) % 3;
            sent += (i * 3) % 11;
            recv += 10 + (i * 17) % 40;
            char ts[32];
            time_t tt = (time_t)t;
            struct tm tm;
            gmtime_r(&tt, &tm);
            strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
            sqlite3_bind_text(ins, 1, (const char *)sqlite3_column_text(ids, 0), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, ts, -1, SQLITE_TRANSIENT);
            if (i % 9 == 0)
                sqlite3_bind_null(ins, 3);
            else
                sqlite3_bind_double(ins, 3, -115.0 + (double)((i * 31 + o * 7) % 170) / 10.0);
            sqlite3_bind_int64(ins, 4, tx);
            sqlite3_bind_int64(ins, 5, rx);
            sqlite3_bind_int64(ins, 6, er);
            sqlite3_bind_int64(ins, 7, 3600 + (i % 200));
            sqlite3_bind_int64(ins, 8, sent);
            sqlite3_bind_int64(ins, 9, recv);
            CHECK_EQ_INT(sqlite3_step(ins), SQLITE_DONE);
            sqlite3_reset(ins);
        }
        o++;
    }
    sqlite3_finalize(ids);
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
}

/* ---- the golden file ---- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    msn_buf_t b = MSN_BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        msn_buf_append(&b, tmp, n);
    fclose(f);
    msn_buf_cstr(&b);
    return b.data ? b.data : msn_xstrdup("");
}

/* The line of text that starts with "name ", or NULL; *len gets its length. */
static const char *find_line(const char *text, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > nl && memcmp(p, name, nl) == 0 && p[nl] == ' ') {
            *len = l;
            return p;
        }
        p = e ? e + 1 : NULL;
    }
    return NULL;
}

static int count_lines(const char *t)
{
    int n = 0;
    for (; *t; t++)
        n += *t == '\n';
    return n;
}

static void compare(const char *got, const char *want)
{
    int differ = 0;
    CHECK_EQ_INT(count_lines(got), count_lines(want));
    for (const char *p = got; *p;) {
        const char *e = strchr(p, '\n');
        size_t l = (size_t)(e - p), wl;
        const char *sp = memchr(p, ' ', l);
        char name[200];
        snprintf(name, sizeof(name), "%.*s", (int)(sp - p), p);
        const char *w = find_line(want, name, &wl);
        if (w == NULL || wl != l || memcmp(w, p, l) != 0) {
            fprintf(stderr, "golden mismatch: got  %.*s\n                 want %.*s\n", (int)l, p,
                    w ? (int)wl : 6, w ? w : "(none)");
            differ++;
        }
        p = e + 1;
    }
    CHECK_EQ_INT(differ, 0);
}

static void test_golden(void)
{
    const char *dir = msn_test_tmpdir("an-golden");
    char db_path[600];
    snprintf(db_path, sizeof(db_path), "%s/golden.db", dir);
    msn_gen_params_t p;
    gen_params(&p, db_path);
    char err[512] = "";
    CHECK_EQ_INT(msn_gen_run(&p, NULL, err, sizeof(err)), 0);
    add_metrics(db_path, GOLDEN_END);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    msn_store_t s;
    msn_store_init(&s);
    atomic_int stop = 0;
    CHECK_EQ_INT(msn_store_load(&s, db, 700, NULL, NULL, &stop, err, sizeof(err)), 0);
    /* "now": an hour after the newest transmission */
    int64_t now_ms = 0;
    for (uint32_t i = 0; i < s.n_tx; i++)
        if (s.tx[i].first_seen_ms + 3600000 > now_ms)
            now_ms = s.tx[i].first_seen_ms + 3600000;
    CHECK_EQ_INT(msn_store_reload_small(&s, db, now_ms / 1000, err, sizeof(err)), 0);
    sqlite3_close(db);
    CHECK(s.n_tx == 3000);

    run_t r = {MSN_BUF_INIT, 0};
    char fp[65];
    store_fingerprint(&s, fp);
    msn_buf_printf(&r.text, "# every analytic on `meshsnap gen --nodes %d --observers %d --transmissions %ld "
                            "--obs-per-tx %g --days %g --seed %llu --end %lld` at now_ms %lld\n",
                   p.nodes, p.observers, p.transmissions, p.obs_per_tx, p.days, (unsigned long long)p.seed,
                   (long long)p.end, (long long)now_ms);
    msn_buf_printf(&r.text, "store %u %s\n", s.n_tx, fp);
    compute_all(&r, &s, now_ms);
    msn_buf_cstr(&r.text);
    printf("%d bodies\n", r.bodies);

    /* beside this file: in $MESHSNAP_SOURCE (set by CTest), else where it was compiled from */
    const char *src = getenv("MESHSNAP_SOURCE");
    char path[1024];
    if (src && *src)
        snprintf(path, sizeof(path), "%s/%s", src, GOLDEN_FILE);
    else
        snprintf(path, sizeof(path), "%.*sanalytics_golden.txt", (int)(strrchr(__FILE__, '/') + 1 - __FILE__),
                 __FILE__);
    const char *upd = getenv("MESHSNAP_GOLDEN_UPDATE");
    if (upd && strcmp(upd, "1") == 0) {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f) {
            fwrite(r.text.data, 1, r.text.len, f);
            fclose(f);
            printf("wrote %s\n", path);
        }
    } else {
        char *want = read_file(path);
        if (want == NULL) {
            fprintf(stderr, "%s: missing\n", path);
            CHECK(want != NULL);
        } else {
            size_t l;
            const char *st = find_line(want, "store", &l);
            char line[128];
            snprintf(line, sizeof(line), "store %u %s", s.n_tx, fp);
            if (st == NULL || l != strlen(line) || memcmp(st, line, l) != 0)
                fprintf(stderr, "the generated store differs from the one %s was made from: the generator or the "
                                "loader changed; if so on purpose, rewrite it with MESHSNAP_GOLDEN_UPDATE=1\n",
                        GOLDEN_FILE);
            compare(r.text.data, want);
            free(want);
        }
    }
    msn_buf_free(&r.text);
    msn_store_free(&s);
}

int main(void)
{
    MSN_RUN(test_golden);
    return msn_test_done();
}
