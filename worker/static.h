/*
 * static.h: a worker's static files: a web app's directory served read-only, with the
 * single-page-application fallback, validators, caching headers and gzip.
 *
 * One msn_static_t per worker serves one root directory ([http] web_root, else the
 * dashboard in [http] ui_root). What a request gets:
 *
 *   /  and  /index.html   the root's index.html as read at open, every "__BUST__" in it
 *                         replaced by opts.bust (so every worker of one master start sends
 *                         the same bytes); Cache-Control: no-cache
 *   a regular file        its bytes, Content-Type from its extension (msn_static_content_type);
 *                         Cache-Control: no-cache for .html, "public, max-age=31536000,
 *                         immutable" for a fingerprinted name (msn_static_fingerprinted:
 *                         app.3f2a9c1b.js), else "public, max-age=300, must-revalidate"
 *   no such file, or a directory (never listed)
 *                         the index page, 200 (the SPA fallback)
 *   a traversal attempt   400: a ".." or "." segment (raw or percent-encoded), a backslash
 *                         (raw or %5c), a NUL or another control character, a bad %-escape
 *   refused               404: a dotfile or dot-directory segment (".git", ".env"), a
 *                         symbolic link leading outside the root, anything but a regular
 *                         file or directory
 *   other methods         405 with Allow: GET, HEAD
 * Every file answer carries ETag (inode, size and modification time; the index page: a
 * hash of its bytes) and Last-Modified; If-None-Match (else If-Modified-Since) gets 304.
 * HEAD gets the headers GET would get, without the body.
 *
 * Confinement: files are opened with openat2(2) and RESOLVE_BENEATH from a descriptor of
 * the root, so no path and no symbolic link can reach outside it. Where openat2 is
 * missing (kernels before 5.6, or a system call filter), the path is resolved with
 * realpath(3) and checked to be under the root, opened with O_NOFOLLOW, and the opened
 * file's own path (/proc/self/fd) is checked again, so a link swapped in between is caught.
 *
 * gzip: when the client accepts it, a precompressed sibling "<file>.gz" is sent if there is
 * one; otherwise a compressible file (text, JavaScript, CSS, JSON, SVG, wasm, ...) of at
 * least MSN_STATIC_GZ_MIN bytes is compressed once and the result kept in the worker, up
 * to opts.gz_cache_max bytes in all (least recently used copies are dropped first; a
 * changed file, by inode, size or time, is compressed again). Such answers carry
 * Vary: Accept-Encoding.
 *
 * Files larger than MSN_STATIC_MAX_FILE are answered 500 (they are read into memory).
 *
 * Process: a worker; not thread-safe. Ownership: msn_static_t owns everything it holds.
 */
#ifndef MSN_STATIC_H
#define MSN_STATIC_H

#include <stddef.h>
#include <stdint.h>

#define MSN_STATIC_GZ_CACHE_MAX (32u << 20) /* default bound of a worker's gzip copies */
#define MSN_STATIC_GZ_MIN 256               /* smaller files are sent as they are */
#define MSN_STATIC_MAX_FILE (64u << 20)

typedef struct msn_static msn_static_t;

typedef struct {
    int64_t bust;        /* the value that replaces "__BUST__" in index.html */
    size_t gz_cache_max; /* bytes of gzip copies kept; 0 = MSN_STATIC_GZ_CACHE_MAX */
    int no_openat2;      /* 1: use the realpath(3) confinement even where openat2 works (tests) */
} msn_static_opts_t;

/* A request, as the worker received it. */
typedef struct {
    const char *method;            /* "GET", "HEAD", ... NUL-terminated */
    const char *path;              /* the raw path, not percent-decoded, without the query string */
    size_t path_len;
    const char *if_none_match;     /* header value, or NULL */
    size_t if_none_match_len;
    const char *if_modified_since; /* header value, or NULL */
    size_t if_modified_since_len;
    int accept_gzip;               /* Accept-Encoding names gzip */
} msn_static_req_t;

/* The answer. body points into memory msn_static_t owns, valid until the next
 * msn_static_serve or msn_static_close. */
typedef struct {
    int status;                   /* 200, 304, 400, 404, 405, 500 */
    const char *content_type;
    const char *cache_control;    /* NULL on errors */
    const char *content_encoding; /* "gzip" or NULL */
    int vary;                     /* send Vary: Accept-Encoding */
    const char *allow;            /* 405: the Allow header */
    char etag[64];                /* "" when none */
    char last_modified[40];       /* "" when none */
    const char *body;             /* the bytes a GET gets (also for HEAD: len is its length) */
    size_t len;
    int head;                     /* HEAD: send len as Content-Length, and no body */
    int is_index;                 /* the index page answered (root or SPA fallback) */
} msn_static_resp_t;

/** Opens root (a directory holding index.html) for serving and reads index.html. Returns 0
 *  with *out set, or -1 with err set (e.g. "/srv/www/index.html: No such file or directory").
 *  The caller closes *out with msn_static_close. */
int msn_static_open(const char *root, const msn_static_opts_t *opts, msn_static_t **out, char *err, size_t errlen);

/** Answers one request (see the top comment). Never fails: every outcome is a status. */
void msn_static_serve(msn_static_t *s, const msn_static_req_t *rq, msn_static_resp_t *rs);

/** Releases everything (s may be NULL). */
void msn_static_close(msn_static_t *s);

/** Whether the files are confined with openat2(2) (1) or with the realpath fallback (0). */
int msn_static_uses_openat2(const msn_static_t *s);

/** Bytes of gzip copies kept now (for tests and statistics). */
size_t msn_static_gz_cached(const msn_static_t *s);

/** The Content-Type of a file name, by its extension (case-insensitive);
 *  "application/octet-stream" when unknown. */
const char *msn_static_content_type(const char *name);

/** 1 when the file name (its last segment) carries a content hash: a '.'- or '-'-separated
 *  part of 8 to 64 hex digits holding at least one digit and one letter (app.3f2a9c1b.js,
 *  chunk-0a1b2c3d4e.css). */
int msn_static_fingerprinted(const char *name);

#endif
