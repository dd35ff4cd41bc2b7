/* static.c: see static.h. */
#include "static.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/buf.h"
#include "shm/etag.h"
#include "shm/log.h"

#define CC_NO_CACHE "no-cache"
#define CC_IMMUTABLE "public, max-age=31536000, immutable"
#define CC_SHORT "public, max-age=300, must-revalidate"
#define HTML_TYPE "text/html; charset=utf-8"
#define TEXT_TYPE "text/plain; charset=utf-8"
#define MSN_STATIC_GZ_ENTRIES 4096 /* files with a remembered gzip decision */

/* One gzip copy of a file. */
typedef struct {
    char *rel;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    char *gz; /* NULL: compressing does not pay, send the file as it is */
    size_t gz_len;
    uint64_t used; /* tick of the last use */
} gz_entry_t;

struct msn_static {
    int root_fd;
    char root[PATH_MAX]; /* resolved */
    size_t root_len;
    msn_static_opts_t o;
    int openat2_ok;
    /* the index page */
    msn_buf_t index, index_gz;
    char index_etag[24], index_gz_etag[32], index_lm[40];
    /* per request */
    msn_buf_t file, rel, scratch;
    /* gzip copies */
    gz_entry_t *gz;
    size_t n_gz, cap_gz, gz_bytes;
    uint64_t tick;
};

/* ---- names ------------------------------------------------------------------------------ */

static const struct {
    const char *ext;
    const char *type;
    int compressible;
} TYPES[] = {
    {"html", HTML_TYPE, 1},
    {"htm", HTML_TYPE, 1},
    {"js", "text/javascript; charset=utf-8", 1},
    {"mjs", "text/javascript; charset=utf-8", 1},
    {"cjs", "text/javascript; charset=utf-8", 1},
    {"css", "text/css; charset=utf-8", 1},
    {"json", "application/json", 1},
    {"map", "application/json", 1},
    {"webmanifest", "application/manifest+json", 1},
    {"svg", "image/svg+xml", 1},
    {"png", "image/png", 0},
    {"jpg", "image/jpeg", 0},
    {"jpeg", "image/jpeg", 0},
    {"gif", "image/gif", 0},
    {"ico", "image/x-icon", 1},
    {"webp", "image/webp", 0},
    {"avif", "image/avif", 0},
    {"woff", "font/woff", 0},
    {"woff2", "font/woff2", 0},
    {"ttf", "font/ttf", 1},
    {"otf", "font/otf", 1},
    {"eot", "application/vnd.ms-fontobject", 1},
    {"txt", TEXT_TYPE, 1},
    {"md", "text/markdown; charset=utf-8", 1},
    {"csv", "text/csv; charset=utf-8", 1},
    {"xml", "application/xml", 1},
    {"wasm", "application/wasm", 1},
    {"pdf", "application/pdf", 0},
    {"mp3", "audio/mpeg", 0},
    {"wav", "audio/wav", 0},
    {"ogg", "audio/ogg", 0},
    {"mp4", "video/mp4", 0},
    {"webm", "video/webm", 0},
    {"gz", "application/gzip", 0},
    {"zip", "application/zip", 0},
};

static int type_index(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot == NULL || dot == base)
        return -1;
    for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++)
        if (strcasecmp(dot + 1, TYPES[i].ext) == 0)
            return (int)i;
    return -1;
}

const char *msn_static_content_type(const char *name)
{
    int i = type_index(name);
    return i >= 0 ? TYPES[i].type : "application/octet-stream";
}

static int is_html(const char *name)
{
    int i = type_index(name);
    return i >= 0 && strcmp(TYPES[i].type, HTML_TYPE) == 0;
}

static int compressible(const char *name)
{
    int i = type_index(name);
    return i >= 0 && TYPES[i].compressible;
}

int msn_static_fingerprinted(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *p = slash ? slash + 1 : name;
    /* parts between separators, the last part (the extension) excluded */
    while (*p) {
        size_t n = strcspn(p, ".-");
        if (p[n] == '\0')
            break; /* the extension, or a name without one */
        int digit = 0, letter = 0, hex = n >= 8 && n <= 64;
        for (size_t i = 0; i < n && hex; i++) {
            char ch = (char)tolower((unsigned char)p[i]);
            if (ch >= '0' && ch <= '9')
                digit = 1;
            else if (ch >= 'a' && ch <= 'f')
                letter = 1;
            else
                hex = 0;
        }
        if (hex && digit && letter)
            return 1;
        p += n + 1;
    }
    return 0;
}

/* ---- opening files under the root --------------------------------------------------------- */

static long sys_openat2(int dirfd, const char *path, int flags)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* 1 when path is the root or inside it. */
static int under_root(const msn_static_t *s, const char *path)
{
    if (strncmp(path, s->root, s->root_len) != 0)
        return 0;
    return path[s->root_len] == '\0' || path[s->root_len] == '/' || (s->root_len == 1 && s->root[0] == '/');
}

/* Opens rel (relative, no "." / ".." segments) under the root. Returns an fd, or -1 with
 * errno: ENOENT/ENOTDIR (nothing there), EXDEV (it leads outside the root), other.
 * With openat2, a path it refuses as leaving the root (an absolute link, maybe pointing
 * back inside) is resolved again the realpath way, which serves it only when it really
 * leads inside. */
static int open_beneath(msn_static_t *s, const char *rel)
{
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    if (s->openat2_ok) {
        long fd = sys_openat2(s->root_fd, rel, flags);
        if (fd >= 0 || (errno != EXDEV && errno != ELOOP))
            return (int)fd;
        /* RESOLVE_BENEATH refuses every absolute link, also one that names a file inside the
           root: resolve it the other way, which checks where it really leads */
    }
    char full[PATH_MAX], real[PATH_MAX], link[64], seen[PATH_MAX];
    if ((size_t)snprintf(full, sizeof(full), "%s/%s", s->root, rel) >= sizeof(full)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (realpath(full, real) == NULL)
        return -1; /* ENOENT, ENOTDIR, ELOOP, ... */
    if (!under_root(s, real)) {
        errno = EXDEV;
        return -1;
    }
    int fd = open(real, flags | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ELOOP) /* the last component became a link after realpath */
            errno = EXDEV;
        return -1;
    }
    /* an intermediate directory swapped for a link after realpath: check what was opened */
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, seen, sizeof(seen) - 1);
    if (n < 0 || (size_t)n >= sizeof(seen) - 1) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    seen[n] = '\0';
    if (!under_root(s, seen)) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}

/* Reads the whole regular file fd (size bytes) into b. Returns 0 or -1. */
static int read_all(int fd, off_t size, msn_buf_t *b)
{
    msn_buf_reset(b);
    msn_buf_reserve(b, (size_t)size + 1);
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t n = pread(fd, b->data + got, (size_t)size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    b->len = got;
    return 0;
}

static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
}

static void http_date(time_t t, char out[40])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* An HTTP date (IMF-fixdate) into *t. Returns 0, or -1 when it is not one. */
static int parse_http_date(const char *v, size_t n, time_t *t)
{
    char buf[64];
    if (n >= sizeof(buf))
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    *t = timegm(&tm);
    return 0;
}

static void file_etag(const struct stat *sb, const char *suffix, char out[64])
{
    snprintf(out, 64, "\"%llx-%llx-%llx%s\"", (unsigned long long)sb->st_ino, (unsigned long long)sb->st_size,
             (unsigned long long)mtime_ns(sb), suffix);
}

/* ---- gzip copies --------------------------------------------------------------------------- */

static void gz_drop(msn_static_t *s, size_t i)
{
    s->gz_bytes -= s->gz[i].gz_len;
    free(s->gz[i].rel);
    free(s->gz[i].gz);
    s->gz[i] = s->gz[--s->n_gz];
}

static gz_entry_t *gz_find(msn_static_t *s, const char *rel, const struct stat *sb)
{
    for (size_t i = 0; i < s->n_gz; i++) {
        gz_entry_t *e = &s->gz[i];
        if (strcmp(e->rel, rel) != 0)
            continue;
        if (e->dev == sb->st_dev && e->ino == sb->st_ino && e->size == sb->st_size && e->mtime_ns == mtime_ns(sb)) {
            e->used = ++s->tick;
            return e;
        }
        gz_drop(s, i); /* the file changed */
        return NULL;
    }
    return NULL;
}

/* Keeps a copy (gz NULL: not worth compressing) when it fits the bound, dropping the
 * least recently used ones. Takes ownership of gz (freed when not kept). Returns the
 * entry, or NULL when it was not kept: larger than the whole bound, or the table is full
 * (MSN_STATIC_GZ_ENTRIES files: then entries are dropped by size only). */
static gz_entry_t *gz_keep(msn_static_t *s, const char *rel, const struct stat *sb, char *gz, size_t gz_len)
{
    size_t max = s->o.gz_cache_max ? s->o.gz_cache_max : MSN_STATIC_GZ_CACHE_MAX;
    if (gz_len > max || s->n_gz >= MSN_STATIC_GZ_ENTRIES) {
        free(gz);
        return NULL;
    }
    while (s->n_gz > 0 && s->gz_bytes + gz_len > max) {
        size_t old = 0;
        for (size_t i = 1; i < s->n_gz; i++)
            if (s->gz[i].used < s->gz[old].used)
                old = i;
        gz_drop(s, old);
    }
    if (s->n_gz == s->cap_gz) {
        s->cap_gz = s->cap_gz ? s->cap_gz * 2 : 16;
        s->gz = msn_xrealloc(s->gz, s->cap_gz * sizeof(*s->gz));
    }
    gz_entry_t *e = &s->gz[s->n_gz++];
    e->rel = msn_xstrdup(rel);
    e->dev = sb->st_dev;
    e->ino = sb->st_ino;
    e->size = sb->st_size;
    e->mtime_ns = mtime_ns(sb);
    e->gz = gz;
    e->gz_len = gz ? gz_len : 0;
    e->used = ++s->tick;
    s->gz_bytes += e->gz_len;
    return e;
}

/* ---- answers -------------------------------------------------------------------------------- */

static void error(msn_static_resp_t *rs, int status, const char *body)
{
    rs->status = status;
    rs->content_type = TEXT_TYPE;
    rs->cache_control = NULL;
    rs->body = body;
    rs->len = strlen(body);
}

/* 1 when the validators say the client's copy is current. */
static int not_modified(const msn_static_req_t *rq, const char *etag, time_t mtime)
{
    if (rq->if_none_match != NULL)
        return msn_etag_matches(rq->if_none_match, rq->if_none_match_len, etag);
    time_t ims;
    if (rq->if_modified_since != NULL && parse_http_date(rq->if_modified_since, rq->if_modified_since_len, &ims) == 0)
        return mtime <= ims;
    return 0;
}

static void finish(const msn_static_req_t *rq, msn_static_resp_t *rs, time_t mtime)
{
    if (not_modified(rq, rs->etag, mtime)) {
        rs->status = 304;
        rs->body = "";
        rs->len = 0;
    }
}

static void serve_index(msn_static_t *s, const msn_static_req_t *rq, msn_static_resp_t *rs)
{
    int gz = rq->accept_gzip && s->index_gz.len > 0;
    rs->status = 200;
    rs->is_index = 1;
    rs->content_type = HTML_TYPE;
    rs->cache_control = CC_NO_CACHE;
    rs->vary = 1;
    rs->content_encoding = gz ? "gzip" : NULL;
    rs->body = gz ? s->index_gz.data : s->index.data;
    rs->len = gz ? s->index_gz.len : s->index.len;
    snprintf(rs->etag, sizeof(rs->etag), "%s", gz ? s->index_gz_etag : s->index_etag);
    snprintf(rs->last_modified, sizeof(rs->last_modified), "%s", s->index_lm);
    time_t lm = 0;
    parse_http_date(s->index_lm, strlen(s->index_lm), &lm);
    finish(rq, rs, lm);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The request path made relative to the root into s->rel ("" for the root).
 * Returns 0, 400 (a traversal attempt or a malformed path) or 404 (a dotfile). */
static int relative_path(msn_static_t *s, const char *raw, size_t n)
{
    msn_buf_reset(&s->rel);
    if (n == 0 || raw[0] != '/' || n >= PATH_MAX)
        return 400;
    char dec[PATH_MAX];
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(raw[i + 1]) : -1, lo = i + 2 < n ? hexval(raw[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return 400;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f || c == '\\')
            return 400; /* NUL, control characters, backslashes (raw or encoded) */
        dec[d++] = c;
    }
    dec[d] = '\0';
    int dotfile = 0;
    for (char *seg = dec, *next; seg != NULL; seg = next) {
        next = strchr(seg, '/');
        if (next)
            *next++ = '\0';
        if (*seg == '\0')
            continue;
        if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
            return 400;
        if (seg[0] == '.')
            dotfile = 1;
        if (s->rel.len)
            msn_buf_putc(&s->rel, '/');
        msn_buf_puts(&s->rel, seg);
    }
    msn_buf_cstr(&s->rel);
    return dotfile ? 404 : 0;
}

/* Sends rel's precompressed sibling when there is one. Returns 1 when it answered. */
static int serve_sibling(msn_static_t *s, const char *rel, const msn_static_req_t *rq, msn_static_resp_t *rs)
{
    char gzname[PATH_MAX];
    if ((size_t)snprintf(gzname, sizeof(gzname), "%s.gz", rel) >= sizeof(gzname))
        return 0;
    int fd = open_beneath(s, gzname);
    if (fd < 0)
        return 0;
    struct stat sb;
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size <= MSN_STATIC_MAX_FILE &&
             read_all(fd, sb.st_size, &s->file) == 0;
    close(fd);
    if (!ok)
        return 0;
    rs->content_encoding = "gzip";
    rs->vary = 1;
    rs->body = s->file.data;
    rs->len = s->file.len;
    file_etag(&sb, "", rs->etag);
    http_date(sb.st_mtim.tv_sec, rs->last_modified);
    finish(rq, rs, sb.st_mtim.tv_sec);
    return 1;
}

void msn_static_serve(msn_static_t *s, const msn_static_req_t *rq, msn_static_resp_t *rs)
{
    memset(rs, 0, sizeof(*rs));
    rs->head = strcmp(rq->method, "HEAD") == 0;
    if (!rs->head && strcmp(rq->method, "GET") != 0) {
        error(rs, 405, "method not allowed\n");
        rs->allow = "GET, HEAD";
        return;
    }
    int bad = relative_path(s, rq->path, rq->path_len);
    if (bad == 400) {
        error(rs, 400, "bad request\n");
        return;
    }
    if (bad == 404) {
        error(rs, 404, "not found\n");
        return;
    }
    const char *rel = s->rel.data ? s->rel.data : "";
    if (*rel == '\0' || strcmp(rel, "index.html") == 0) {
        serve_index(s, rq, rs);
        return;
    }
    int fd = open_beneath(s, rel);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
            serve_index(s, rq, rs);
        else
            error(rs, 404, "not found\n");
        return;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))) {
        close(fd);
        error(rs, 404, "not found\n");
        return;
    }
    if (S_ISDIR(sb.st_mode)) { /* never listed */
        close(fd);
        serve_index(s, rq, rs);
        return;
    }
    if ((uint64_t)sb.st_size > MSN_STATIC_MAX_FILE) {
        close(fd);
        msn_warn("static file %s/%s is larger than %u bytes: not served", s->root, rel, MSN_STATIC_MAX_FILE);
        error(rs, 500, "file too large\n");
        return;
    }
    rs->status = 200;
    rs->content_type = msn_static_content_type(rel);
    rs->cache_control = is_html(rel) ? CC_NO_CACHE : msn_static_fingerprinted(rel) ? CC_IMMUTABLE : CC_SHORT;
    int comp = compressible(rel);
    rs->vary = comp;
    if (rq->accept_gzip && serve_sibling(s, rel, rq, rs)) {
        close(fd);
        return;
    }
    http_date(sb.st_mtim.tv_sec, rs->last_modified);
    const char *gz = NULL;
    size_t gz_len = 0;
    int have_file = 0;
    if (rq->accept_gzip && comp && sb.st_size >= MSN_STATIC_GZ_MIN) {
        gz_entry_t *e = gz_find(s, rel, &sb);
        if (e != NULL) {
            gz = e->gz; /* NULL: compressing this file does not pay */
            gz_len = e->gz_len;
        } else if (read_all(fd, sb.st_size, &s->file) == 0) {
            have_file = 1;
            msn_buf_reset(&s->scratch);
            if (msn_gzip(s->file.data, s->file.len, 6, &s->scratch) == 0 && s->scratch.len < s->file.len) {
                gz = s->scratch.data; /* sent from here when it is too large to keep */
                gz_len = s->scratch.len;
                char *copy = msn_xmalloc(gz_len);
                memcpy(copy, gz, gz_len);
                e = gz_keep(s, rel, &sb, copy, gz_len);
                if (e != NULL)
                    gz = e->gz;
            } else {
                gz_keep(s, rel, &sb, NULL, 0);
            }
        }
    }
    if (gz != NULL) {
        rs->content_encoding = "gzip";
        rs->body = gz;
        rs->len = gz_len;
        file_etag(&sb, "-gz", rs->etag);
    } else {
        if (!have_file && read_all(fd, sb.st_size, &s->file) < 0) {
            close(fd);
            error(rs, 500, "read error\n");
            return;
        }
        rs->body = s->file.data;
        rs->len = s->file.len;
        file_etag(&sb, "", rs->etag);
    }
    close(fd);
    finish(rq, rs, sb.st_mtim.tv_sec);
}

/* ---- open / close --------------------------------------------------------------------------- */

static void bust_index(msn_buf_t *out, const char *in, size_t n, int64_t bust)
{
    static const char tok[] = "__BUST__";
    char num[24];
    int nl = snprintf(num, sizeof(num), "%lld", (long long)bust);
    size_t i = 0;
    while (i < n) {
        const char *hit = memmem(in + i, n - i, tok, sizeof(tok) - 1);
        if (hit == NULL) {
            msn_buf_append(out, in + i, n - i);
            break;
        }
        msn_buf_append(out, in + i, (size_t)(hit - (in + i)));
        msn_buf_append(out, num, (size_t)nl);
        i = (size_t)(hit - in) + sizeof(tok) - 1;
    }
    msn_buf_cstr(out);
}

int msn_static_open(const char *root, const msn_static_opts_t *opts, msn_static_t **out, char *err, size_t errlen)
{
    msn_static_t *s = msn_xcalloc(1, sizeof(*s));
    s->root_fd = -1;
    if (opts)
        s->o = *opts;
    int fd = -1;
    if (realpath(root, s->root) == NULL) {
        snprintf(err, errlen, "%s: %s", root, strerror(errno));
        goto fail;
    }
    s->root_len = strlen(s->root);
    s->root_fd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        snprintf(err, errlen, "%s: %s", root, strerror(errno));
        goto fail;
    }
    s->openat2_ok = 0;
    if (!s->o.no_openat2) {
        long probe = sys_openat2(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (probe >= 0) {
            close((int)probe);
            s->openat2_ok = 1;
        } else {
            msn_debug("openat2 is not available (%s): static files are confined with realpath", strerror(errno));
        }
    }
    fd = open_beneath(s, "index.html");
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s/index.html: %s", s->root, fd < 0 ? strerror(errno) : "not a regular file");
        goto fail;
    }
    if ((uint64_t)sb.st_size > MSN_STATIC_MAX_FILE || read_all(fd, sb.st_size, &s->file) < 0) {
        snprintf(err, errlen, "%s/index.html: cannot read it", s->root);
        goto fail;
    }
    close(fd);
    fd = -1;
    bust_index(&s->index, s->file.data, s->file.len, s->o.bust);
    msn_etag_of(s->index.data, s->index.len, s->index_etag);
    if (s->index.len >= MSN_STATIC_GZ_MIN && msn_gzip(s->index.data, s->index.len, 9, &s->index_gz) == 0 &&
        s->index_gz.len < s->index.len)
        snprintf(s->index_gz_etag, sizeof(s->index_gz_etag), "%.17s-gz\"", s->index_etag);
    else
        msn_buf_free(&s->index_gz);
    http_date(sb.st_mtim.tv_sec, s->index_lm);
    msn_buf_free(&s->file);
    *out = s;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    msn_static_close(s);
    return -1;
}

void msn_static_close(msn_static_t *s)
{
    if (s == NULL)
        return;
    if (s->root_fd >= 0)
        close(s->root_fd);
    while (s->n_gz > 0)
        gz_drop(s, s->n_gz - 1);
    free(s->gz);
    msn_buf_free(&s->index);
    msn_buf_free(&s->index_gz);
    msn_buf_free(&s->file);
    msn_buf_free(&s->rel);
    msn_buf_free(&s->scratch);
    free(s);
}

int msn_static_uses_openat2(const msn_static_t *s)
{
    return s->openat2_ok;
}

size_t msn_static_gz_cached(const msn_static_t *s)
{
    return s->gz_bytes;
}
