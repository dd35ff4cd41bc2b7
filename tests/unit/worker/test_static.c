/*
 * test_static.c: the workers' static files (worker/static.c) without HTTP: content types,
 * fingerprinted names, the index page and its __BUST__, the SPA fallback, refusals
 * (traversal, dotfiles, symbolic links leading outside the root, special files, methods),
 * validators and 304, HEAD, gzip (precompressed siblings, compressed copies and their
 * bound). Every serving test runs twice: with openat2(2) and with the realpath fallback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "shm/buf.h"
#include "testlib.h"
#include "worker/static.h"

#define BUST 1790000000LL

static char root[512], outside[512];
static int fallback; /* 1: the realpath confinement */

static void write_file(const char *rel, const char *body, size_t len)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    if (f == NULL) {
        fprintf(stderr, "cannot write %s: %s\n", p, strerror(errno));
        exit(1);
    }
    fwrite(body, 1, len, f);
    fclose(f);
}

static void write_text(const char *rel, const char *body)
{
    write_file(rel, body, strlen(body));
}

static void mkdir_in(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    mkdir(p, 0755);
}

static void link_in(const char *rel, const char *target)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    unlink(p);
    if (symlink(target, p) < 0) {
        fprintf(stderr, "symlink %s: %s\n", p, strerror(errno));
        exit(1);
    }
}

/* Some compressible text of n bytes. */
static char *text_of(size_t n, char seed)
{
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        t[i] = (char)("function(a){return a+1};\n"[i % 25] + (i % 97 == 0 ? seed - 'a' : 0));
    t[n] = '\0';
    return t;
}

static void setup(void)
{
    snprintf(root, sizeof(root), "%s", msn_test_tmpdir("static"));
    snprintf(outside, sizeof(outside), "%s", msn_test_tmpdir("static-outside"));
    write_text("index.html", "<!DOCTYPE html><title>t</title><script src=\"app.js?v=__BUST__\"></script>\n"
                             "<link href=\"style.css?v=__BUST__\"><!-- __BUST__ -->\n");
    char *js = text_of(4000, 'a');
    write_text("app.js", js);
    free(js);
    write_text("app.3f2a9c1b.js", "console.log(1);\n");
    write_text("page.html", "<p>page</p>\n");
    write_file("logo.png", "\x89PNG\r\n\x1a\n" "0123456789012345678901234567890123456789", 48);
    char *css = text_of(3000, 'c');
    write_text("big.css", css);
    /* a precompressed sibling: deliberately not the gzip of big.css, to tell them apart */
    write_text("big.css.gz", "precompressed bytes");
    free(css);
    write_text("small.txt", "tiny\n");
    mkdir_in("sub");
    mkdir_in("sub/dir");
    write_text("sub/dir/page.txt", "deep\n");
    write_text(".env", "SECRET=1\n");
    mkdir_in(".hidden");
    write_text(".hidden/x.txt", "hidden\n");
    mkdir_in("sub/.git");
    write_text("sub/.git/config", "[core]\n");
    /* outside the root: a secret file and a directory */
    char p[1024];
    snprintf(p, sizeof(p), "%s/secret.txt", outside);
    FILE *f = fopen(p, "w");
    fputs("outside secret\n", f);
    fclose(f);
    link_in("link_in.js", "app.js");
    link_in("link_sub", "sub/dir");
    link_in("link_out.txt", p);
    link_in("dir_out", outside);
    /* the same file by a relative path (both temporary directories share a parent) */
    const char *base = strrchr(outside, '/');
    snprintf(p, sizeof(p), "..%s/secret.txt", base ? base : "/x");
    link_in("link_up.txt", p);
    snprintf(p, sizeof(p), "%s/app.js", root);
    link_in("link_abs.js", p); /* absolute, but inside the root */
    snprintf(p, sizeof(p), "%s/fifo", root);
    mkfifo(p, 0644);
}

static msn_static_t *open_root(size_t gz_max)
{
    msn_static_opts_t o = {.bust = BUST, .gz_cache_max = gz_max, .no_openat2 = fallback};
    msn_static_t *s = NULL;
    char err[512];
    if (msn_static_open(root, &o, &s, err, sizeof(err)) < 0) {
        fprintf(stderr, "open: %s\n", err);
        msn_test_failures++;
        return NULL;
    }
    return s;
}

static void req(msn_static_t *s, msn_static_resp_t *rs, const char *method, const char *path, int gzip,
                const char *inm, const char *ims)
{
    msn_static_req_t rq = {.method = method, .path = path, .path_len = strlen(path), .accept_gzip = gzip};
    if (inm) {
        rq.if_none_match = inm;
        rq.if_none_match_len = strlen(inm);
    }
    if (ims) {
        rq.if_modified_since = ims;
        rq.if_modified_since_len = strlen(ims);
    }
    msn_static_serve(s, &rq, rs);
}

static void get(msn_static_t *s, msn_static_resp_t *rs, const char *path)
{
    req(s, rs, "GET", path, 0, NULL, NULL);
}

static int body_is(const msn_static_resp_t *rs, const char *want)
{
    return rs->len == strlen(want) && memcmp(rs->body, want, rs->len) == 0;
}

static int body_is_file(const msn_static_resp_t *rs, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "rb");
    if (f == NULL)
        return 0;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return n == rs->len && memcmp(buf, rs->body, n) == 0;
}

/* gunzips the body into out; returns its length or -1. */
static long gunzip(const msn_static_resp_t *rs, char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 31) != Z_OK)
        return -1;
    z.next_in = (Bytef *)rs->body;
    z.avail_in = (uInt)rs->len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    long n = rc == Z_STREAM_END ? (long)z.total_out : -1;
    inflateEnd(&z);
    return n;
}

/* ---- tests ---- */

static void test_content_types(void)
{
    static const char *const cases[][2] = {
        {"a.html", "text/html; charset=utf-8"},
        {"a.js", "text/javascript; charset=utf-8"},
        {"a.mjs", "text/javascript; charset=utf-8"},
        {"a.css", "text/css; charset=utf-8"},
        {"a.json", "application/json"},
        {"a.svg", "image/svg+xml"},
        {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},
        {"a.JPEG", "image/jpeg"},
        {"a.gif", "image/gif"},
        {"favicon.ico", "image/x-icon"},
        {"a.webp", "image/webp"},
        {"f.woff", "font/woff"},
        {"f.woff2", "font/woff2"},
        {"f.ttf", "font/ttf"},
        {"app.js.map", "application/json"},
        {"robots.txt", "text/plain; charset=utf-8"},
        {"m.wasm", "application/wasm"},
        {"site.webmanifest", "application/manifest+json"},
        {"dir.v2/README", "application/octet-stream"},
        {"noext", "application/octet-stream"},
        {"x.unknownext", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_EQ_STR(msn_static_content_type(cases[i][0]), cases[i][1]);
}

static void test_fingerprinted(void)
{
    CHECK(msn_static_fingerprinted("app.3f2a9c1b.js"));
    CHECK(msn_static_fingerprinted("assets/chunk-0a1b2c3d4e.css"));
    CHECK(msn_static_fingerprinted("0a1b2c3d.png"));
    CHECK(!msn_static_fingerprinted("app.js"));
    CHECK(!msn_static_fingerprinted("vendor-12345678.js"));  /* digits only: a version, maybe */
    CHECK(!msn_static_fingerprinted("app.deadbeef.js"));     /* letters only: a word, maybe */
    CHECK(!msn_static_fingerprinted("app.3f2a9c1.js"));      /* 7 digits: too short */
    CHECK(!msn_static_fingerprinted("x.3f2a9c1b"));          /* the extension is no hash */
    CHECK(!msn_static_fingerprinted("a3f2a9c1b/app.js"));    /* a directory is not the name */
}

static void test_open_refusals(void)
{
    char err[512] = "";
    msn_static_t *s = NULL;
    msn_static_opts_t o = {0};
    CHECK_EQ_INT(msn_static_open("/nonexistent/meshsnap-root", &o, &s, err, sizeof(err)), -1);
    CHECK(s == NULL);
    CHECK(strstr(err, "/nonexistent/meshsnap-root") != NULL);
    CHECK_EQ_INT(msn_static_open(outside, &o, &s, err, sizeof(err)), -1); /* no index.html */
    CHECK(strstr(err, "index.html") != NULL);
}

static void test_index_and_fallback(void)
{
    msn_static_t *s = open_root(0);
    if (s == NULL)
        return;
    msn_static_resp_t rs;
    const char *want = "<!DOCTYPE html><title>t</title><script src=\"app.js?v=1790000000\"></script>\n"
                       "<link href=\"style.css?v=1790000000\"><!-- 1790000000 -->\n";
    const char *paths[] = {"/", "/index.html", "/nope", "/nope/deeper.js", "/sub", "/sub/dir/", "/link_sub",
                           "//", "/sub//dir"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get(s, &rs, paths[i]);
        CHECK_EQ_INT(rs.status, 200);
        CHECK(rs.is_index);
        CHECK(body_is(&rs, want)); /* every __BUST__ replaced */
        CHECK_EQ_STR(rs.content_type, "text/html; charset=utf-8");
        CHECK_EQ_STR(rs.cache_control, "no-cache");
        CHECK(rs.etag[0] == '"');
        CHECK(strstr(rs.last_modified, " GMT") != NULL);
    }
    /* the index page gzipped (it is short: not worth it below 256 bytes) */
    req(s, &rs, "GET", "/", 1, NULL, NULL);
    CHECK(rs.content_encoding == NULL);
    /* HEAD: the length GET would send */
    req(s, &rs, "HEAD", "/nope", 0, NULL, NULL);
    CHECK_EQ_INT(rs.status, 200);
    CHECK(rs.head);
    CHECK_EQ_INT(rs.len, strlen(want));
    msn_static_close(s);
}

static void test_files(void)
{
    msn_static_t *s = open_root(0);
    if (s == NULL)
        return;
    msn_static_resp_t rs;
    get(s, &rs, "/app.js");
    CHECK_EQ_INT(rs.status, 200);
    CHECK(!rs.is_index);
    CHECK(body_is_file(&rs, "app.js"));
    CHECK_EQ_STR(rs.content_type, "text/javascript; charset=utf-8");
    CHECK_EQ_STR(rs.cache_control, "public, max-age=300, must-revalidate");
    CHECK(rs.vary);
    CHECK(rs.content_encoding == NULL);
    get(s, &rs, "/app.js?v=123"); /* the caller strips the query; a literal '?' is a name */
    CHECK(rs.is_index);
    get(s, &rs, "/app.3f2a9c1b.js");
    CHECK_EQ_STR(rs.cache_control, "public, max-age=31536000, immutable");
    get(s, &rs, "/page.html");
    CHECK_EQ_STR(rs.cache_control, "no-cache");
    CHECK(body_is(&rs, "<p>page</p>\n"));
    get(s, &rs, "/logo.png");
    CHECK_EQ_STR(rs.content_type, "image/png");
    CHECK(!rs.vary);
    get(s, &rs, "/sub/dir/page.txt");
    CHECK(body_is(&rs, "deep\n"));
    get(s, &rs, "/sub/dir/%70age.txt"); /* percent-encoded letters are decoded */
    CHECK(body_is(&rs, "deep\n"));
    get(s, &rs, "/link_in.js"); /* a link that stays inside the root */
    CHECK_EQ_INT(rs.status, 200);
    CHECK(body_is_file(&rs, "app.js"));
    get(s, &rs, "/link_abs.js");
    CHECK_EQ_INT(rs.status, 200);
    CHECK(body_is_file(&rs, "app.js"));
    get(s, &rs, "/link_sub/page.txt");
    CHECK(body_is(&rs, "deep\n"));
    req(s, &rs, "HEAD", "/app.js", 0, NULL, NULL);
    CHECK_EQ_INT(rs.status, 200);
    CHECK(rs.head);
    CHECK_EQ_INT(rs.len, 4000);
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "get"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        req(s, &rs, methods[i], "/app.js", 0, NULL, NULL);
        CHECK_EQ_INT(rs.status, 405);
        CHECK_EQ_STR(rs.allow, "GET, HEAD");
    }
    msn_static_close(s);
}

static void test_refusals(void)
{
    msn_static_t *s = open_root(0);
    if (s == NULL)
        return;
    msn_static_resp_t rs;
    static const char *const traversal[] = {
        "/../static-outside/secret.txt", "/..", "/sub/../../static-outside/secret.txt", "/%2e%2e/x",
        "/%2E%2e/x", "/.%2e/x", "/sub/..%2f..%2fx", "/sub/%2e%2e%2f%2e%2e%2fx", "/./app.js", "/sub/.",
        "/a\\b", "/a%5cb", "/a%5Cb", "/a%00b", "/a%0ab", "/a%zzb", "/a%2", "app.js", "",
    };
    for (size_t i = 0; i < sizeof(traversal) / sizeof(traversal[0]); i++) {
        get(s, &rs, traversal[i]);
        if (rs.status != 400)
            fprintf(stderr, "%s: status %d\n", traversal[i], rs.status);
        CHECK_EQ_INT(rs.status, 400);
        CHECK(rs.cache_control == NULL);
    }
    static const char *const refused[] = {
        "/.env", "/.hidden/x.txt", "/.hidden", "/sub/.git/config", "/%2eenv", /* dotfiles */
        "/link_out.txt", "/link_up.txt", "/dir_out/secret.txt", "/dir_out", /* links leading outside */
        "/fifo",                                                              /* not a regular file */
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        get(s, &rs, refused[i]);
        if (rs.status != 404)
            fprintf(stderr, "%s: status %d\n", refused[i], rs.status);
        CHECK_EQ_INT(rs.status, 404);
        CHECK(strstr(rs.body, "secret") == NULL);
    }
    msn_static_close(s);
}

static void test_validators(void)
{
    msn_static_t *s = open_root(0);
    if (s == NULL)
        return;
    msn_static_resp_t rs;
    char etag[64], lm[40];
    get(s, &rs, "/app.js");
    snprintf(etag, sizeof(etag), "%s", rs.etag);
    snprintf(lm, sizeof(lm), "%s", rs.last_modified);
    req(s, &rs, "GET", "/app.js", 0, etag, NULL);
    CHECK_EQ_INT(rs.status, 304);
    CHECK_EQ_INT(rs.len, 0);
    CHECK_EQ_STR(rs.etag, etag);
    CHECK_EQ_STR(rs.cache_control, "public, max-age=300, must-revalidate");
    req(s, &rs, "GET", "/app.js", 0, "\"other\", W/\"x\"", NULL);
    CHECK_EQ_INT(rs.status, 200);
    req(s, &rs, "GET", "/app.js", 0, "\"other\", *", NULL);
    CHECK_EQ_INT(rs.status, 304);
    req(s, &rs, "GET", "/app.js", 0, NULL, lm);
    CHECK_EQ_INT(rs.status, 304);
    req(s, &rs, "GET", "/app.js", 0, NULL, "Sat, 01 Jan 2000 00:00:00 GMT");
    CHECK_EQ_INT(rs.status, 200);
    req(s, &rs, "GET", "/app.js", 0, NULL, "not a date");
    CHECK_EQ_INT(rs.status, 200);
    /* If-None-Match decides when both are sent */
    req(s, &rs, "GET", "/app.js", 0, "\"other\"", "Fri, 01 Jan 2100 00:00:00 GMT");
    CHECK_EQ_INT(rs.status, 200);
    req(s, &rs, "HEAD", "/app.js", 0, etag, NULL);
    CHECK_EQ_INT(rs.status, 304);
    /* the index page and the SPA fallback */
    get(s, &rs, "/");
    snprintf(etag, sizeof(etag), "%s", rs.etag);
    req(s, &rs, "GET", "/some/route", 0, etag, NULL);
    CHECK_EQ_INT(rs.status, 304);
    /* a changed file has another ETag */
    get(s, &rs, "/small.txt");
    snprintf(etag, sizeof(etag), "%s", rs.etag);
    write_text("small.txt", "tiny, changed\n");
    req(s, &rs, "GET", "/small.txt", 0, etag, NULL);
    CHECK_EQ_INT(rs.status, 200);
    CHECK(strcmp(rs.etag, etag) != 0);
    CHECK(body_is(&rs, "tiny, changed\n"));
    write_text("small.txt", "tiny\n");
    msn_static_close(s);
}

static void test_gzip(void)
{
    msn_static_t *s = open_root(0);
    if (s == NULL)
        return;
    msn_static_resp_t rs;
    char out[65536], plain_etag[64];
    get(s, &rs, "/app.js");
    snprintf(plain_etag, sizeof(plain_etag), "%s", rs.etag);
    CHECK_EQ_INT(msn_static_gz_cached(s), 0);
    req(s, &rs, "GET", "/app.js", 1, NULL, NULL);
    CHECK_EQ_INT(rs.status, 200);
    CHECK_EQ_STR(rs.content_encoding, "gzip");
    CHECK(rs.vary);
    CHECK(rs.len < 4000);
    CHECK(strcmp(rs.etag, plain_etag) != 0 && strstr(rs.etag, "-gz\"") != NULL);
    long n = gunzip(&rs, out, sizeof(out));
    CHECK_EQ_INT(n, 4000);
    CHECK(n == 4000 && body_is_file(&(msn_static_resp_t){.body = out, .len = (size_t)n}, "app.js"));
    size_t cached = msn_static_gz_cached(s);
    CHECK(cached > 0 && cached == rs.len);
    char gz_etag[64];
    snprintf(gz_etag, sizeof(gz_etag), "%s", rs.etag);
    req(s, &rs, "GET", "/app.js", 1, gz_etag, NULL); /* the gzip variant's own validator */
    CHECK_EQ_INT(rs.status, 304);
    req(s, &rs, "GET", "/app.js", 1, NULL, NULL); /* from the kept copy */
    CHECK_EQ_STR(rs.content_encoding, "gzip");
    CHECK_EQ_INT(msn_static_gz_cached(s), cached);
    /* a changed file is compressed again */
    char *js = text_of(5000, 'q');
    write_text("app.js", js);
    req(s, &rs, "GET", "/app.js", 1, NULL, NULL);
    n = gunzip(&rs, out, sizeof(out));
    CHECK(n == 5000 && memcmp(out, js, 5000) == 0);
    free(js);
    js = text_of(4000, 'a');
    write_text("app.js", js);
    free(js);
    /* a precompressed sibling is sent as it is */
    req(s, &rs, "GET", "/big.css", 1, NULL, NULL);
    CHECK_EQ_STR(rs.content_encoding, "gzip");
    CHECK(body_is(&rs, "precompressed bytes"));
    CHECK_EQ_STR(rs.content_type, "text/css; charset=utf-8");
    req(s, &rs, "GET", "/big.css", 0, NULL, NULL);
    CHECK(rs.content_encoding == NULL);
    CHECK(body_is_file(&rs, "big.css"));
    /* not compressed: images, small files, clients that do not accept it */
    req(s, &rs, "GET", "/logo.png", 1, NULL, NULL);
    CHECK(rs.content_encoding == NULL);
    req(s, &rs, "GET", "/small.txt", 1, NULL, NULL);
    CHECK(rs.content_encoding == NULL);
    CHECK(body_is(&rs, "tiny\n"));
    /* HEAD gets the gzip length */
    req(s, &rs, "HEAD", "/app.js", 1, NULL, NULL);
    CHECK(rs.head && rs.len > 0 && rs.len < 4000);
    CHECK_EQ_STR(rs.content_encoding, "gzip");
    msn_static_close(s);
}

static void test_gzip_bound(void)
{
    /* room for about two compressed copies: the least recently used one goes */
    char name[64];
    for (int i = 0; i < 6; i++) {
        char *t = text_of(20000 + (size_t)i * 1000, (char)('a' + i * 3));
        snprintf(name, sizeof(name), "bound%d.js", i);
        write_text(name, t);
        free(t);
    }
    msn_static_t *s = open_root(0);
    if (s == NULL)
        return;
    msn_static_resp_t rs;
    req(s, &rs, "GET", "/bound0.js", 1, NULL, NULL);
    size_t one = rs.len;
    msn_static_close(s);
    s = open_root(one * 2 + one / 2);
    if (s == NULL)
        return;
    char out[65536];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 6; i++) {
            snprintf(name, sizeof(name), "/bound%d.js", i);
            req(s, &rs, "GET", name, 1, NULL, NULL);
            CHECK_EQ_STR(rs.content_encoding, "gzip");
            CHECK_EQ_INT(gunzip(&rs, out, sizeof(out)), 20000 + i * 1000);
            CHECK(msn_static_gz_cached(s) <= one * 2 + one / 2);
            CHECK(msn_static_gz_cached(s) > 0);
        }
    msn_static_close(s);
    /* a copy larger than the whole bound is sent, not kept */
    s = open_root(100);
    if (s == NULL)
        return;
    req(s, &rs, "GET", "/bound1.js", 1, NULL, NULL);
    CHECK_EQ_STR(rs.content_encoding, "gzip");
    CHECK_EQ_INT(gunzip(&rs, out, sizeof(out)), 21000);
    CHECK_EQ_INT(msn_static_gz_cached(s), 0);
    msn_static_close(s);
}

static void test_confinement_mode(void)
{
    msn_static_t *s = open_root(0);
    if (s == NULL)
        return;
    if (fallback)
        CHECK_EQ_INT(msn_static_uses_openat2(s), 0);
    else if (!msn_static_uses_openat2(s))
        fprintf(stderr, "note: openat2 is not available here; both runs use the realpath confinement\n");
    msn_static_close(s);
}

int main(void)
{
    setup();
    MSN_RUN(test_content_types);
    MSN_RUN(test_fingerprinted);
    MSN_RUN(test_open_refusals);
    for (fallback = 0; fallback <= 1; fallback++) {
        fprintf(stderr, "-- confinement: %s\n", fallback ? "realpath" : "openat2");
        MSN_RUN(test_confinement_mode);
        MSN_RUN(test_index_and_fallback);
        MSN_RUN(test_files);
        MSN_RUN(test_refusals);
        MSN_RUN(test_validators);
        MSN_RUN(test_gzip);
        MSN_RUN(test_gzip_bound);
    }
    return msn_test_done();
}
