/*
 * fuzz_http.c: libFuzzer target for the worker's request handling without the socket:
 * the query-string parser (worker/query.c) and the router with every handler
 * (worker/dispatch.c, worker/api_*.c) against a small published snapshot.
 *
 * Input:
 *   byte 0     bits 0-2: the method (GET, HEAD, POST, PUT, DELETE, OPTIONS, get, GET);
 *              bit 3: the admin listener; bit 4: response buffers full (busy);
 *              bit 5: no snapshot; bit 6: the client accepts gzip
 *   then       the request target ("/api/...?query") up to the first '\n' (a NUL ends the
 *              path as it would in the worker); what follows is the request body
 * What worker.c does around msn_api_dispatch is done the same way here: the trailing
 * slash, the query parser's limit ([http] max_query_params by default), one read
 * transaction. Checked on every answer: a status the API documents, a well-formed JSON
 * body (for JSON answers) with a string "error" on errors, a Cache-Control value, the
 * path parameters released, and the document's bytes readable for a stored document.
 * Any violation aborts, which libFuzzer reports as a crash.
 *
 * The snapshot: a CoreScope database written in LLVMFuzzerInitialize (two observers,
 * three nodes, five transmissions, a few observations; the same mesh as
 * tests/unit/worker/test_api.c) and published by the master's own code into a temporary
 * state directory, with a status block beside it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master/publish.h"
#include "master/store.h"
#include "shm/anshape.h"
#include "shm/config.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "shm/status.h"
#include "shm/timeutil.h"
#include "worker/api.h"
#include "worker/dispatch.h"
#include "worker/query.h"
#include "worker/snapview.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARAMS 32
#define KEY_A "aabbccdd11111111111111111111111111111111111111111111111111111111"
#define KEY_B "aabbccdd22222222222222222222222222222222222222222222222222222222"
#define KEY_C "1234567833333333333333333333333333333333333333333333333333333333"

static struct {
    char dir[256];
    msn_status_t *st;
    msn_snapview_t view;
    msn_config_t cfg;
    msn_buf_t body;
} fx;

static void check(int cond, const char *what, const char *target)
{
    if (!cond) {
        fprintf(stderr, "fuzz_http: invariant violated: %s (target %.300s)\n", what, target);
        abort();
    }
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_http: setting up: %s\n", what);
    exit(1);
}

/* ---- the snapshot ---- */

static void make_db(const char *path, int64_t now_s)
{
    char err[512], sql[4000], t[5][32];
    for (int i = 0; i < 5; i++)
        msn_format_iso_s(t[i], now_s - 3600 + 600 * i);
    if (msn_schema_init_db(path, err, sizeof(err)) < 0)
        die(err);
    snprintf(sql, sizeof(sql),
             "INSERT INTO observers (id, name, iata, last_seen, first_seen) VALUES"
             " ('obs-a', 'Alpha', 'SFO', '%s', '%s'), ('obs-b', 'Bravo', 'SJC', '%s', '%s');"
             "INSERT INTO nodes (public_key, name, role, last_seen, first_seen, advert_count, lat, lon) VALUES"
             " ('" KEY_A "', 'Alpha node', 'repeater', '%s', '%s', 3, 37.7, -122.4),"
             " ('" KEY_B "', 'Alpha twin', 'companion', '%s', '%s', 1, NULL, NULL),"
             " ('" KEY_C "', 'Bee', 'room', '%s', '%s', 2, 37.3, -121.9);"
             "INSERT INTO transmissions (id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json,"
             " from_pubkey, last_seen) VALUES"
             " (1, '1100aa', '00000000000000a1', '%s', 1, 4, '{\"type\":\"ADVERT\",\"pubKey\":\"" KEY_A "\"}',"
             "  '" KEY_A "', %lld),"
             " (2, '1500bb', '00000000000000b2', '%s', 1, 5, '{\"type\":\"CHAN\",\"channelHash\":\"11\"}', NULL,"
             "  %lld),"
             " (3, '1100cc', '00000000000000c3', '%s', 1, 4, '{\"type\":\"ADVERT\",\"pubKey\":\"" KEY_C "\"}',"
             "  '" KEY_C "', %lld),"
             " (4, '0900dd', '00000000000000d4', '%s', 2, 2, '{\"type\":\"TXT_MSG\"}', NULL, %lld),"
             " (5, '0d00ee', '00000000000000e5', '%s', 0, 9, '{}', NULL, %lld);"
             "INSERT INTO observations (id, transmission_id, observer_idx, snr, rssi, path_json, timestamp) VALUES"
             " (1, 1, 1, 5.5, -90, '[\"aa\"]', %lld), (2, 1, 2, 7.0, -80, '[]', %lld),"
             " (3, 2, 1, 3.0, -95, '[\"aa\",\"12\"]', %lld), (4, 3, 2, 1.0, -99, '[]', %lld),"
             " (5, 4, 1, 2.0, -97, '[]', %lld), (6, 5, 2, NULL, NULL, NULL, %lld);",
             t[4], t[0], t[4], t[0], t[3], t[0], t[1], t[0], t[4], t[0], t[0], (long long)now_s - 3600, t[1],
             (long long)now_s - 3000, t[2], (long long)now_s - 2400, t[3], (long long)now_s - 1800, t[4],
             (long long)now_s - 1200, (long long)now_s - 3600, (long long)now_s - 3590, (long long)now_s - 3000,
             (long long)now_s - 2400, (long long)now_s - 1800, (long long)now_s - 1200);
    sqlite3 *db = NULL;
    if (msn_sqlite_open(path, 0, &db, err, sizeof(err)) < 0)
        die(err);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        die(msg ? msg : "SQL failed");
    sqlite3_close(db);
}

static void publish(const char *dir, const char *db_path, int64_t now_ms)
{
    char err[512];
    sqlite3 *db = NULL;
    msn_store_t s;
    msn_publisher_t p;
    msn_store_init(&s);
    msn_publisher_init(&p, dir, db_path, now_ms);
    if (msn_sqlite_open(db_path, 1, &db, err, sizeof(err)) < 0 ||
        msn_store_load(&s, db, 1000, NULL, NULL, NULL, err, sizeof(err)) < 0 ||
        msn_store_reload_small(&s, db, now_ms / 1000, err, sizeof(err)) < 0 ||
        msn_publish_full(&p, &s, now_ms, err, sizeof(err)) < 0)
        die(err);
    /* a large stored document (an analytic as the scheduler publishes it), and a small one */
    static char big[200000];
    int o = snprintf(big, sizeof(big), "{\"nodes\":[");
    while (o < (int)sizeof(big) - 40)
        o += snprintf(big + o, sizeof(big) - (size_t)o, "%s{\"x\":%d}", o > 12 ? "," : "", o);
    snprintf(big + o, sizeof(big) - (size_t)o, "]}");
    msn_anshape_t shape;
    memset(&shape, 0, sizeof(shape));
    char name[200];
    MDB_txn *txn;
    if (mdb_txn_begin(p.snap.env, NULL, 0, &txn) != 0)
        die("mdb_txn_begin");
    msn_anshape_doc_name(MSN_AN_TOPOLOGY, &shape, name, sizeof(name));
    if (msn_snap_doc_put_full(txn, &p.snap, name, big, strlen(big), NULL, 0, 1, p.gen, now_ms, now_ms + 600000) != 0)
        die("doc put");
    msn_anshape_doc_name(MSN_AN_ROLES, &shape, name, sizeof(name));
    if (msn_snap_doc_put_full(txn, &p.snap, name, "{\"totalNodes\":3,\"roles\":[]}", 28, NULL, 0, 1, p.gen, now_ms,
                              now_ms + 600000) != 0)
        die("doc put");
    if (mdb_txn_commit(txn) != 0)
        die("mdb_txn_commit");
    sqlite3_close(db);
    msn_publisher_free(&p);
    msn_store_free(&s);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* At exit: the temporary state directory goes (the maps die with the process). */
static void cleanup(void)
{
    if (fx.dir[0])
        nftw(fx.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = getenv("TMPDIR");
    snprintf(fx.dir, sizeof(fx.dir), "%s/meshsnap-fuzz-http-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(fx.dir) == NULL)
        die("mkdtemp");
    atexit(cleanup);
    char db_path[400];
    snprintf(db_path, sizeof(db_path), "%s/mesh.db", fx.dir);
    int64_t now_ms = msn_now_ms();
    msn_log_set_level(MSN_LOG_ERROR);
    make_db(db_path, now_ms / 1000);
    if (msn_status_create(fx.dir, &fx.st) < 0)
        die("status block");
    fx.st->master.started_at_ms = now_ms;
    fx.st->master.phase = MSN_PHASE_READY;
    publish(fx.dir, db_path, now_ms);
    atomic_fetch_add(&fx.st->env_seq, 1);
    msn_snapview_init(&fx.view, fx.dir, fx.st);
    msn_config_defaults(&fx.cfg);
    fprintf(stderr, "fuzz_http: snapshot in %s\n", fx.dir);
    return 0;
}

/* ---- JSON well-formedness (RFC 8259 grammar; numbers loosely) ---- */

static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static const char *value(const char *p, const char *e, int depth);

static const char *string(const char *p, const char *e)
{
    if (p >= e || *p != '"')
        return NULL;
    for (p++; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (++p >= e)
                return NULL;
            if (*p == 'u') {
                for (int i = 0; i < 4; i++)
                    if (++p >= e || !strchr("0123456789abcdefABCDEF", *p))
                        return NULL;
            } else if (!strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return NULL;
}

static const char *value(const char *p, const char *e, int depth)
{
    p = ws(p, e);
    if (p >= e || depth > 64)
        return NULL;
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        int obj = *p == '{';
        p = ws(p + 1, e);
        if (p < e && *p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                if ((p = string(ws(p, e), e)) == NULL)
                    return NULL;
                p = ws(p, e);
                if (p >= e || *p != ':')
                    return NULL;
                p++;
            }
            if ((p = value(p, e, depth + 1)) == NULL)
                return NULL;
            p = ws(p, e);
            if (p < e && *p == ',') {
                p++;
                continue;
            }
            return p < e && *p == close ? p + 1 : NULL;
        }
    }
    if (*p == '"')
        return string(p, e);
    if (e - p >= 4 && (memcmp(p, "true", 4) == 0 || memcmp(p, "null", 4) == 0))
        return p + 4;
    if (e - p >= 5 && memcmp(p, "false", 5) == 0)
        return p + 5;
    const char *s = p;
    while (p < e && strchr("0123456789+-.eE", *p))
        p++;
    return p > s ? p : NULL;
}

static int json_ok(const char *p, size_t n)
{
    const char *e = p + n, *end = value(p, e, 0);
    return end != NULL && ws(end, e) == e;
}

/* ---- one request ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "get", "GET"};
    if (size < 2)
        return 0;
    unsigned flags = data[0];
    const char *method = methods[flags & 7];
    const char *in = (const char *)data + 1, *end = (const char *)data + size;
    const char *nl = memchr(in, '\n', (size_t)(end - in));
    size_t tlen = nl ? (size_t)(nl - in) : (size_t)(end - in);
    char *target = malloc(tlen + 1);
    memcpy(target, in, tlen);
    target[tlen] = '\0';

    msn_api_req_t r;
    memset(&r, 0, sizeof(r));
    /* the path: as worker.c cuts it (the query string off, one trailing slash off) */
    const char *qm = memchr(target, '?', tlen);
    size_t plen = qm ? (size_t)(qm - target) : tlen;
    char *path = malloc(plen + 1);
    memcpy(path, target, plen);
    path[plen] = '\0';
    size_t slen = strlen(path);
    if (slen > 1 && path[slen - 1] == '/')
        path[slen - 1] = '\0';
    msn_qparam_t params[MAX_PARAMS];
    char qerr[200];
    char *query = NULL;
    if (qm != NULL) {
        size_t qlen = tlen - plen - 1;
        query = malloc(qlen + 1);
        memcpy(query, qm + 1, qlen);
        if (msn_query_parse(query, qlen, params, MAX_PARAMS, &r.nq, qerr, sizeof(qerr)) < 0) {
            check(qerr[0] != '\0', "a refused query string has a reason", target);
            r.query_error = qerr;
        }
        check(r.nq >= 0 && r.nq <= MAX_PARAMS, "parameter count", target);
        for (int i = 0; i < r.nq; i++)
            check(params[i].name >= query && params[i].name <= query + qlen && params[i].value >= query &&
                      params[i].value <= query + qlen,
                  "parameters point into the query string", target);
        r.q = params;
    }
    r.path = path;
    r.st = fx.st;
    r.cfg = &fx.cfg;
    r.admin = (flags & 8) != 0;
    r.busy = (flags & 16) != 0;
    r.accept_gzip = (flags & 64) != 0;
    r.now_ms = msn_now_ms();
    msn_buf_reset(&fx.body);
    r.body = &fx.body;
    r.status = 500;
    if (nl != NULL) {
        r.req_body = nl + 1;
        r.req_body_len = (size_t)(end - nl - 1);
    }
    int began = !(flags & 32) && msn_snapview_begin(&fx.view) == 0;
    if (began) {
        r.txn = fx.view.txn;
        r.snap = &fx.view.snap;
        check(msn_snap_meta_get(r.txn, r.snap, &r.meta) == 0, "snapshot meta", target);
    }
    msn_api_dispatch(&r, method);

    static const int allowed[] = {200, 304, 400, 404, 405, 409, 503};
    int ok = 0;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        ok |= r.status == allowed[i];
    check(ok, "a documented status", target);
    for (int i = 0; i < MSN_ROUTE_MAX_PARAMS; i++)
        check(r.params[i] == NULL, "path parameters released", target);
    check(r.route >= -1 && r.route < MSN_ROUTE_COUNT, "route id", target);
    check(r.status != 405 || r.allow != NULL, "405 names the allowed methods", target);
    check(r.status != 503 || r.retry_after > 0, "503 has Retry-After", target);
    char cc[64];
    check(msn_api_cache_control(&r, cc, sizeof(cc))[0] != '\0', "Cache-Control", target);
    if (r.use_doc) {
        check(r.status == 200 && r.doc.body != NULL && r.doc_name[0] != '\0', "a stored document", target);
        const char *b = r.doc.body;
        volatile char sink = 0;
        for (size_t i = 0; i < r.doc.len; i += 4096)
            sink ^= b[i]; /* readable for the whole length */
        if (r.doc.len)
            sink ^= b[r.doc.len - 1];
        (void)sink;
    } else if (r.content_type == NULL) {
        check(json_ok(fx.body.data ? fx.body.data : "", fx.body.len), "a well-formed JSON body", target);
        if (r.status >= 400)
            check(fx.body.len > 10 && memcmp(fx.body.data, "{\"error\":\"", 10) == 0, "an error body", target);
    }
    if (began)
        msn_snapview_end(&fx.view);
    free(query);
    free(path);
    free(target);
    return 0;
}
