/*
 * config.c: loads, checks and prints meshsnap's configuration (format in config.h).
 *
 * One table (KEYS) describes every fixed key: its section, its kind, its range and where it
 * lives in msn_config_t. The file parser, msn_config_set(), msn_config_validate() and
 * msn_config_dump() all walk that table, so a new key is added in one place. The
 * per-analytic intervals ([analytics] + msn_analytic_names) and [channels] are handled
 * beside it. Reasons are built without file/line; msn_config_load_file() prefixes them.
 */
#include "config.h"

#include "buf.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

const char *const msn_analytic_names[MSN_AN_COUNT] = {
    [MSN_AN_TOPOLOGY] = "topology",
    [MSN_AN_RF] = "rf",
    [MSN_AN_DISTANCE] = "distance",
    [MSN_AN_CHANNELS] = "channels",
    [MSN_AN_HASH_SIZES] = "hash_sizes",
    [MSN_AN_HASH_COLLISIONS] = "hash_collisions",
    [MSN_AN_ROLES] = "roles",
    [MSN_AN_SUBPATHS] = "subpaths",
    [MSN_AN_OBSERVERS_CLOCK_SKEW] = "observers_clock_skew",
    [MSN_AN_NODES_CLOCK_SKEW] = "nodes_clock_skew",
    [MSN_AN_RELAY_AIRTIME_SHARE] = "relay_airtime_share",
    [MSN_AN_SUBPATHS_BULK] = "subpaths_bulk",
    [MSN_AN_SUBPATH_DETAIL] = "subpath_detail",
    [MSN_AN_SCOPE_STATS] = "scope_stats",
    [MSN_AN_OBSERVER_ANALYTICS] = "observer_analytics",
    [MSN_AN_OBSERVERS_METRICS_SUMMARY] = "observers_metrics_summary",
    [MSN_AN_AUDIO_LAB] = "audio_lab",
};

/* Ranges not carried by a struct comment elsewhere. */
#define AN_INTERVAL_MAX 86400
#define HASHTAG_NAME_MAX 64

typedef enum {
    K_STR,       /* owned string: a path (db, state_dir) */
    K_USER,      /* owned string: a user name (no blanks) */
    K_INT,       /* int in min..max */
    K_BOOL,      /* yes/no/true/false/1/0 */
    K_WORKERS,   /* "auto" (0) or 1..max */
    K_LOG_LEVEL, /* debug|info|warn|error */
    K_LISTEN,    /* the listen list */
    K_WEB_ROOT,  /* owned string: a directory with an index.html, stored resolved */
    K_ADDR,      /* one optional listen address (msn_listen_addr_t; port 0 = unset) */
} kind_t;

typedef struct {
    const char *section; /* "" = global */
    const char *name;
    kind_t kind;
    size_t off; /* of the field in msn_config_t (unused for K_LISTEN) */
    int min, max;
} key_def_t;

#define OFF(m) offsetof(msn_config_t, m)

static const key_def_t KEYS[] = {
    {"", "db", K_STR, OFF(db), 0, 0},
    {"", "listen", K_LISTEN, 0, 0, 0},
    {"", "workers", K_WORKERS, OFF(workers), 1, MSN_MAX_WORKERS},
    {"", "state_dir", K_STR, OFF(state_dir), 0, 0},
    {"", "poll_interval_ms", K_INT, OFF(poll_interval_ms), 10, 3600000},
    {"", "user", K_USER, OFF(user), 0, 0},
    {"", "log_level", K_LOG_LEVEL, OFF(log_level), MSN_LOG_DEBUG, MSN_LOG_ERROR},
    {"http", "req_timeout_ms", K_INT, OFF(http.req_timeout_ms), 100, 3600000},
    {"http", "shutdown_timeout_ms", K_INT, OFF(http.shutdown_timeout_ms), 0, 3600000},
    {"http", "access_log", K_STR, OFF(http.access_log), 0, 0},
    {"http", "web_root", K_WEB_ROOT, OFF(http.web_root), 0, 0},
    {"http", "ui_root", K_STR, OFF(http.ui_root), 0, 0},
    {"http", "ui", K_BOOL, OFF(http.ui), 0, 1},
    {"analytics", "default_interval_s", K_INT, OFF(analytics.default_interval_s), 1, AN_INTERVAL_MAX},
    {"analytics", "node_documents_s", K_INT, OFF(analytics.node_documents_s), 0, AN_INTERVAL_MAX},
    {"analytics", "node_changes_s", K_INT, OFF(analytics.node_changes_s), 1, 3600},
    {"http", "max_connections", K_INT, OFF(http.max_connections), 1, 1000000},
    {"http", "accept_backoff_ms", K_INT, OFF(http.accept_backoff_ms), 10, 60000},
    {"http", "write_timeout_ms", K_INT, OFF(http.write_timeout_ms), 1000, 3600000},
    {"http", "conn_buffer_kb", K_INT, OFF(http.conn_buffer_kb), 64, 4194304},
    {"http", "worker_buffer_mb", K_INT, OFF(http.worker_buffer_mb), 1, 65536},
    {"http", "max_query_params", K_INT, OFF(http.max_query_params), 1, 1024},
    {"http", "answer_cache_ms", K_INT, OFF(http.answer_cache_ms), 0, 60000},
    {"http", "answer_cache_kb", K_INT, OFF(http.answer_cache_kb), 0, 1048576},
    {"http", "doc_hold_ms", K_INT, OFF(http.doc_hold_ms), 1, 3600000},
    {"http", "doc_holds", K_INT, OFF(http.doc_holds), 0, 256},
    {"http", "http2", K_BOOL, OFF(http.http2), 0, 1},
    {"http", "admin_listen", K_ADDR, OFF(http.admin_listen), 0, 0},
    {"analytics", "max_shapes", K_INT, OFF(analytics.max_shapes), 1, 100000},
    {"analytics", "shape_idle_s", K_INT, OFF(analytics.shape_idle_s), 10, AN_INTERVAL_MAX},
    {"backfill", "enabled", K_BOOL, OFF(backfill.enabled), 0, 1},
    {"backfill", "batch_size", K_INT, OFF(backfill.batch_size), 1, 1000000},
    {"backfill", "yield_ms", K_INT, OFF(backfill.yield_ms), 0, 60000},
    {"backfill", "republish_interval_s", K_INT, OFF(backfill.republish_interval_s), 1, 86400},
    {"websocket", "max_clients", K_INT, OFF(websocket.max_clients), 1, 1000000},
    {"websocket", "client_queue_messages", K_INT, OFF(websocket.client_queue_messages), 1, 1000000},
    {"websocket", "client_queue_bytes", K_INT, OFF(websocket.client_queue_bytes), 1024, 1073741824},
    {"websocket", "write_timeout_s", K_INT, OFF(websocket.write_timeout_s), 1, 3600},
    {"websocket", "ping_interval_s", K_INT, OFF(websocket.ping_interval_s), 1, 3600},
    {"websocket", "pong_timeout_s", K_INT, OFF(websocket.pong_timeout_s), 2, 7200},
    {"websocket", "max_frame_bytes", K_INT, OFF(websocket.max_frame_bytes), 1, 1048576},
    {"websocket", "ring_messages", K_INT, OFF(websocket.ring_messages), 16, 1000000},
    {"websocket", "ring_seconds", K_INT, OFF(websocket.ring_seconds), 1, 86400},
};
#define N_KEYS (sizeof(KEYS) / sizeof(KEYS[0]))

static const char *const SECTIONS[] = {"http", "analytics", "backfill", "websocket", "channels", "frontend"};
#define N_SECTIONS (sizeof(SECTIONS) / sizeof(SECTIONS[0]))

static const char *const LOG_LEVELS[] = {"debug", "info", "warn", "error"};

static int *int_field(msn_config_t *c, const key_def_t *k)
{
    return (int *)(void *)((char *)c + k->off);
}

static int int_value(const msn_config_t *c, const key_def_t *k)
{
    return *(const int *)(const void *)((const char *)c + k->off);
}

static char **str_field(msn_config_t *c, const key_def_t *k)
{
    return (char **)(void *)((char *)c + k->off);
}

static const char *str_value(const msn_config_t *c, const key_def_t *k)
{
    return *(char *const *)(const void *)((const char *)c + k->off);
}

/* "[backfill] batch_size", or "db" for a global key. */
static const char *label(const char *section, const char *key, char *buf, size_t n)
{
    if (section && *section)
        snprintf(buf, n, "[%s] %s", section, key);
    else
        snprintf(buf, n, "%s", key);
    return buf;
}

/* A hint for a refused value that looks like it carries a trailing comment. */
static const char *comment_hint(const char *v)
{
    for (const char *p = v; *p; p++)
        if (*p == '#' && p > v && (p[-1] == ' ' || p[-1] == '\t'))
            return " ('#' starts a comment only at the beginning of a line)";
    return "";
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Splits s in place at blanks and commas; returns the next token or NULL. */
static char *next_token(char **s)
{
    char *p = *s;
    while (*p && (is_blank(*p) || *p == ','))
        p++;
    if (*p == '\0') {
        *s = p;
        return NULL;
    }
    char *tok = p;
    while (*p && !is_blank(*p) && *p != ',')
        p++;
    if (*p)
        *p++ = '\0';
    *s = p;
    return tok;
}

/* Parses a decimal integer. Returns 0, -1 when v is not an integer, -2 when it does not fit. */
static int parse_ll(const char *v, long long *out)
{
    char *end;
    if (*v == '\0' || is_blank(*v))
        return -1;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != '\0')
        return -1;
    if (errno == ERANGE)
        return -2;
    *out = x;
    return 0;
}

static int parse_range_int(const char *what, const char *v, int min, int max, int *out, char *err,
                           size_t errlen)
{
    long long x = 0;
    int r = parse_ll(v, &x);
    if (r == -1) {
        snprintf(err, errlen, "%s: '%s' is not an integer (allowed %d..%d)%s", what, v, min, max,
                 comment_hint(v));
        return -1;
    }
    if (r == -2 || x < min || x > max) {
        snprintf(err, errlen, "%s: %s is out of range (allowed %d..%d)", what, v, min, max);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* ---- listen ---------------------------------------------------------------------------- */

static int parse_port(const char *s, const char *whole, int *out, char *err, size_t errlen)
{
    if (*s == '\0') {
        snprintf(err, errlen, "'%s': missing port", whole);
        return -1;
    }
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            snprintf(err, errlen, "'%s': port '%s' is not a number (allowed 1..65535)", whole, s);
            return -1;
        }
    }
    long long x = 0;
    if (parse_ll(s, &x) != 0 || x < 1 || x > 65535) {
        snprintf(err, errlen, "'%s': port %s is out of range (allowed 1..65535)", whole, s);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int msn_config_parse_listen(const char *s, msn_listen_addr_t *out, char *err, size_t errlen)
{
    msn_listen_addr_t a;
    char host[sizeof(a.host)];
    const char *port;
    memset(&a, 0, sizeof(a));
    if (*s == '\0') {
        snprintf(err, errlen, "empty listen address (expected host:port, [v6]:port or port)");
        return -1;
    }
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL) {
            snprintf(err, errlen, "'%s': missing ']' after the IPv6 address", s);
            return -1;
        }
        size_t n = (size_t)(close - (s + 1));
        if (n == 0 || n >= sizeof(host)) {
            snprintf(err, errlen, "'%s': bad IPv6 address", s);
            return -1;
        }
        memcpy(host, s + 1, n);
        host[n] = '\0';
        if (close[1] != ':') {
            snprintf(err, errlen, "'%s': expected ':port' after ']'", s);
            return -1;
        }
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) {
            snprintf(err, errlen, "'%s': '%s' is not a numeric IPv6 address", s, host);
            return -1;
        }
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL) {
            /* "port" alone: all interfaces. */
            snprintf(host, sizeof(host), "0.0.0.0");
            port = s;
        } else {
            size_t n = (size_t)(colon - s);
            if (memchr(s, ':', n) != NULL) {
                snprintf(err, errlen, "'%s': write IPv6 addresses in brackets, e.g. [::1]:3000", s);
                return -1;
            }
            if (n >= sizeof(host)) {
                snprintf(err, errlen, "'%s': host too long", s);
                return -1;
            }
            memcpy(host, s, n);
            host[n] = '\0';
            port = colon + 1;
            struct in_addr a4;
            if (n == 0 || strcmp(host, "*") == 0) {
                snprintf(host, sizeof(host), "0.0.0.0");
            } else if (strcmp(host, "localhost") == 0) {
                snprintf(host, sizeof(host), "127.0.0.1");
            } else if (inet_pton(AF_INET, host, &a4) != 1) {
                snprintf(err, errlen,
                         "'%s': host '%s' is not a numeric IPv4 address, [IPv6] address, localhost or *", s,
                         host);
                return -1;
            }
        }
    }
    if (parse_port(port, s, &a.port, err, errlen) < 0)
        return -1;
    snprintf(a.host, sizeof(a.host), "%s", host);
    *out = a;
    return 0;
}

/* Parses a listen list into c, replacing the old list only when every address is good. */
static int set_listen(msn_config_t *c, const char *what, const char *value, char *err, size_t errlen)
{
    msn_listen_addr_t list[MSN_MAX_LISTEN];
    int n = 0, rc = -1;
    char reason[256];
    char *copy = msn_xstrdup(value), *rest = copy, *tok;
    while ((tok = next_token(&rest)) != NULL) {
        if (n == MSN_MAX_LISTEN) {
            snprintf(err, errlen, "%s: too many listen addresses (at most %d)", what, MSN_MAX_LISTEN);
            goto out;
        }
        if (msn_config_parse_listen(tok, &list[n], reason, sizeof(reason)) < 0) {
            snprintf(err, errlen, "%s: %s%s", what, reason, comment_hint(value));
            goto out;
        }
        for (int i = 0; i < n; i++) {
            if (strcmp(list[i].host, list[n].host) == 0 && list[i].port == list[n].port) {
                snprintf(err, errlen, "%s: '%s' is listed twice", what, tok);
                goto out;
            }
        }
        n++;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s: empty value (expected one or more host:port addresses)", what);
        goto out;
    }
    memcpy(c->listen, list, sizeof(list[0]) * (size_t)n);
    c->n_listen = n;
    rc = 0;
out:
    free(copy);
    return rc;
}

/* ---- channels -------------------------------------------------------------------------- */

int msn_config_hashtag_key(const char *name, char hex[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
        return -1;
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int find_channel(const msn_config_t *c, const char *name)
{
    for (int i = 0; i < c->n_channels; i++)
        if (strcmp(c->channels[i].name, name) == 0)
            return i;
    return -1;
}

/* Adds channel name with key hex, or replaces the key of an existing one. The caller has
 * checked that there is room. */
static void put_channel(msn_config_t *c, const char *name, const char *hex)
{
    int i = find_channel(c, name);
    if (i < 0) {
        i = c->n_channels++;
        c->channels[i].name = msn_xstrdup(name);
    } else {
        free(c->channels[i].key_hex);
    }
    c->channels[i].key_hex = msn_xstrdup(hex);
}

static int is_hex_key(const char *v)
{
    if (strlen(v) != 32)
        return 0;
    for (const char *p = v; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return 0;
    return 1;
}

static int set_hashtags(msn_config_t *c, const char *value, char *err, size_t errlen)
{
    const char *what = "[channels] hashtags";
    char *copy = msn_xstrdup(value), *rest = copy, *tok;
    const char *names[MSN_MAX_CHANNELS];
    char keys[MSN_MAX_CHANNELS][33];
    int n = 0, added = 0, rc = -1;
    while ((tok = next_token(&rest)) != NULL) {
        size_t len = strlen(tok);
        if (tok[0] != '#' || len < 2) {
            snprintf(err, errlen, "%s: '%s' is not a hashtag (expected #name)", what, tok);
            goto out;
        }
        if (len > HASHTAG_NAME_MAX) {
            snprintf(err, errlen, "%s: '%s' is longer than %d characters", what, tok, HASHTAG_NAME_MAX);
            goto out;
        }
        for (const char *p = tok; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                snprintf(err, errlen, "%s: '%s' holds a control character", what, tok);
                goto out;
            }
        }
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= strcmp(names[i], tok) == 0;
        if (dup)
            continue;
        if (n == MSN_MAX_CHANNELS) {
            snprintf(err, errlen, "%s: too many channels (at most %d)", what, MSN_MAX_CHANNELS);
            goto out;
        }
        if (find_channel(c, tok) < 0 && c->n_channels + added + 1 > MSN_MAX_CHANNELS) {
            snprintf(err, errlen, "%s: too many channels (at most %d)", what, MSN_MAX_CHANNELS);
            goto out;
        }
        if (msn_config_hashtag_key(tok, keys[n]) < 0) {
            snprintf(err, errlen, "%s: cannot compute SHA-256 of '%s'", what, tok);
            goto out;
        }
        if (find_channel(c, tok) < 0)
            added++;
        names[n++] = tok;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s: empty value (expected one or more #names)", what);
        goto out;
    }
    for (int i = 0; i < n; i++)
        put_channel(c, names[i], keys[i]);
    rc = 0;
out:
    free(copy);
    return rc;
}

static int set_channel(msn_config_t *c, const char *name, const char *value, char *err, size_t errlen)
{
    char what[160];
    label("channels", name, what, sizeof(what));
    if (strcmp(name, "hashtags") == 0)
        return set_hashtags(c, value, err, errlen);
    if (name[0] == '#') {
        snprintf(err, errlen,
                 "%s: channel names starting with '#' are hashtags: list them in 'hashtags = %s'", what,
                 name);
        return -1;
    }
    if (strchr(name, '=') != NULL || is_blank(name[0]) || is_blank(name[strlen(name) - 1])) {
        snprintf(err, errlen, "%s: bad channel name", what);
        return -1;
    }
    if (*value == '\0') {
        snprintf(err, errlen, "%s: empty value (expected a channel key of 32 hex characters)", what);
        return -1;
    }
    if (!is_hex_key(value)) {
        snprintf(err, errlen, "%s: bad channel key '%s' (expected 32 hex characters, the 16-byte key)%s",
                 what, value, comment_hint(value));
        return -1;
    }
    if (find_channel(c, name) < 0 && c->n_channels >= MSN_MAX_CHANNELS) {
        snprintf(err, errlen, "%s: too many channels (at most %d)", what, MSN_MAX_CHANNELS);
        return -1;
    }
    char hex[33];
    for (int i = 0; i < 32; i++)
        hex[i] = (char)tolower((unsigned char)value[i]);
    hex[32] = '\0';
    put_channel(c, name, hex);
    return 0;
}

/* ---- keys ------------------------------------------------------------------------------ */

static const key_def_t *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].section, section) == 0 && strcmp(KEYS[i].name, name) == 0)
            return &KEYS[i];
    return NULL;
}

static int known_section(const char *section)
{
    if (*section == '\0' || msn_config__mqtt_section(section))
        return 1;
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (strcmp(SECTIONS[i], section) == 0)
            return 1;
    return 0;
}

static void unknown_key(const char *section, const char *key, char *err, size_t errlen)
{
    const char *other = NULL;
    for (size_t i = 0; i < N_KEYS && other == NULL; i++)
        if (strcmp(KEYS[i].name, key) == 0)
            other = KEYS[i].section;
    for (int i = 0; i < MSN_AN_COUNT && other == NULL; i++)
        if (strcmp(msn_analytic_names[i], key) == 0)
            other = "analytics";
    char hint[64] = "";
    if (other != NULL && *other)
        snprintf(hint, sizeof(hint), " (it belongs in [%s])", other);
    else if (other != NULL)
        snprintf(hint, sizeof(hint), " (it is a global key: put it before the first [section])");
    if (*section)
        snprintf(err, errlen, "unknown key '%s' in [%s]%s", key, section, hint);
    else
        snprintf(err, errlen, "unknown global key '%s'%s", key, hint);
}

static int set_string(char **field, const char *what, kind_t kind, const char *value, char *err,
                      size_t errlen)
{
    size_t n = strlen(value);
    if (*comment_hint(value)) {
        snprintf(err, errlen, "%s: '%s' holds ' #': comments must be on their own line", what, value);
        return -1;
    }
    if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
        snprintf(err, errlen, "%s: values are taken literally: write %s without quotes", what, value);
        return -1;
    }
    if (kind == K_USER) {
        for (const char *p = value; *p; p++) {
            if (is_blank(*p) || (unsigned char)*p < 0x20) {
                snprintf(err, errlen, "%s: '%s' is not a user name", what, value);
                return -1;
            }
        }
    }
    free(*field);
    *field = msn_xstrdup(value);
    return 0;
}

static int set_key(msn_config_t *c, const key_def_t *k, const char *value, char *err, size_t errlen)
{
    char what[160];
    label(k->section, k->name, what, sizeof(what));
    if (*value == '\0') {
        char expect[64];
        switch (k->kind) {
        case K_INT:
            snprintf(expect, sizeof(expect), "an integer %d..%d", k->min, k->max);
            break;
        case K_WORKERS:
            snprintf(expect, sizeof(expect), "auto or %d..%d", k->min, k->max);
            break;
        case K_BOOL:
            snprintf(expect, sizeof(expect), "yes or no");
            break;
        case K_LOG_LEVEL:
            snprintf(expect, sizeof(expect), "debug, info, warn or error");
            break;
        case K_LISTEN:
            snprintf(expect, sizeof(expect), "one or more host:port addresses");
            break;
        case K_ADDR:
            snprintf(expect, sizeof(expect), "one host:port address");
            break;
        case K_USER:
            snprintf(expect, sizeof(expect), "a user name");
            break;
        case K_WEB_ROOT:
        case K_STR:
        default:
            snprintf(expect, sizeof(expect), "a path");
            break;
        }
        snprintf(err, errlen, "%s: empty value (expected %s)", what, expect);
        return -1;
    }
    switch (k->kind) {
    case K_STR:
    case K_USER:
        return set_string(str_field(c, k), what, k->kind, value, err, errlen);
    case K_LISTEN:
        return set_listen(c, what, value, err, errlen);
    case K_WEB_ROOT: {
        size_t n = strlen(value);
        if (*comment_hint(value) || (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]))
            return set_string(str_field(c, k), what, K_STR, value, err, errlen); /* refused, with the reason */
        char resolved[PATH_MAX], reason[PATH_MAX + 128];
        if (msn_config_check_web_root(value, resolved, reason, sizeof(reason)) < 0) {
            snprintf(err, errlen, "%s: %s", what, reason);
            return -1;
        }
        return set_string(str_field(c, k), what, K_STR, resolved, err, errlen);
    }
    case K_ADDR: {
        char reason[256];
        msn_listen_addr_t a;
        if (msn_config_parse_listen(value, &a, reason, sizeof(reason)) < 0) {
            snprintf(err, errlen, "%s: %s%s", what, reason, comment_hint(value));
            return -1;
        }
        *(msn_listen_addr_t *)(void *)((char *)c + k->off) = a;
        return 0;
    }
    case K_INT:
        return parse_range_int(what, value, k->min, k->max, int_field(c, k), err, errlen);
    case K_WORKERS: {
        if (strcmp(value, "auto") == 0) {
            *int_field(c, k) = 0;
            return 0;
        }
        long long x = 0;
        int r = parse_ll(value, &x);
        if (r == -1) {
            snprintf(err, errlen, "%s: '%s' is neither 'auto' nor an integer (allowed auto or %d..%d)%s",
                     what, value, k->min, k->max, comment_hint(value));
            return -1;
        }
        if (r == -2 || x < k->min || x > k->max) {
            snprintf(err, errlen, "%s: %s is out of range (allowed auto or %d..%d)", what, value, k->min,
                     k->max);
            return -1;
        }
        *int_field(c, k) = (int)x;
        return 0;
    }
    case K_BOOL: {
        int b;
        if (parse_bool(value, &b) < 0) {
            snprintf(err, errlen, "%s: '%s' is not a boolean (allowed yes/no, true/false, on/off, 1/0)%s", what,
                     value, comment_hint(value));
            return -1;
        }
        *int_field(c, k) = b;
        return 0;
    }
    case K_LOG_LEVEL:
        for (int i = MSN_LOG_DEBUG; i <= MSN_LOG_ERROR; i++) {
            if (strcmp(value, LOG_LEVELS[i]) == 0) {
                *int_field(c, k) = i;
                return 0;
            }
        }
        snprintf(err, errlen, "%s: '%s' is not a log level (allowed debug, info, warn, error)%s", what, value,
                 comment_hint(value));
        return -1;
    }
    snprintf(err, errlen, "%s: internal error (unknown kind)", what);
    return -1;
}

int msn_config_set(msn_config_t *c, const char *section, const char *key, const char *value, char *err,
                   size_t errlen)
{
    if (section == NULL)
        section = "";
    if (value == NULL)
        value = "";
    if (!known_section(section)) {
        snprintf(err, errlen, "unknown section [%s] (known: http, analytics, backfill, websocket, channels, frontend, mqtt, mqtt.NAME)", section);
        return -1;
    }
    if (key == NULL || *key == '\0') {
        snprintf(err, errlen, "missing key name");
        return -1;
    }
    if (strcmp(section, "channels") == 0)
        return set_channel(c, key, value, err, errlen);
    if (strcmp(section, "frontend") == 0)
        return msn_frontend_conf_set(&c->frontend, key, value, err, errlen);
    if (msn_config__mqtt_section(section))
        return msn_config__mqtt_set(c, section, key, value, err, errlen);
    const key_def_t *k = find_key(section, key);
    if (k != NULL)
        return set_key(c, k, value, err, errlen);
    if (strcmp(section, "analytics") == 0) {
        for (int i = 0; i < MSN_AN_COUNT; i++) {
            if (strcmp(key, msn_analytic_names[i]) == 0) {
                char what[160];
                label(section, key, what, sizeof(what));
                if (*value == '\0') {
                    snprintf(err, errlen, "%s: empty value (expected 0 for the default, or 1..%d seconds)",
                             what, AN_INTERVAL_MAX);
                    return -1;
                }
                return parse_range_int(what, value, 0, AN_INTERVAL_MAX, &c->analytics.interval_s[i], err,
                                       errlen);
            }
        }
    }
    unknown_key(section, key, err, errlen);
    return -1;
}

/* ---- file ------------------------------------------------------------------------------ */

/* Parses a `[name]` line into section (which keeps its old value on error). */
static int parse_section(char *s, char *section, size_t n, char *err, size_t errlen)
{
    size_t len = strlen(s);
    if (s[len - 1] != ']') {
        snprintf(err, errlen, "malformed section header '%s' (expected [name])", s);
        return -1;
    }
    s[len - 1] = '\0';
    char *name = trim(s + 1);
    if (*name == '\0') {
        snprintf(err, errlen, "empty section name");
        return -1;
    }
    if (strchr(name, '[') != NULL || strchr(name, ']') != NULL) {
        snprintf(err, errlen, "malformed section header '[%s]' (expected [name])", name);
        return -1;
    }
    if (!known_section(name)) {
        snprintf(err, errlen, "unknown section [%s] (known: http, analytics, backfill, websocket, channels, frontend, mqtt, mqtt.NAME)", name);
        return -1;
    }
    snprintf(section, n, "%s", name);
    return 0;
}

int msn_config_load_file(msn_config_t *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = -1;
    char section[64] = "";
    char reason[512];
    while ((got = getline(&line, &cap, f)) != -1) {
        lineno++;
        char *s = line;
        if (strlen(line) != (size_t)got) {
            snprintf(reason, sizeof(reason), "NUL byte in line");
            goto bad;
        }
        if (lineno == 1 && got >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3; /* UTF-8 byte order mark */
        s = trim(s);
        if (*s == '\0' || *s == '#')
            continue;
        if (*s == '[') {
            if (parse_section(s, section, sizeof(section), reason, sizeof(reason)) < 0)
                goto bad;
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(reason, sizeof(reason), "expected 'key = value' but found no '=' in '%s'", s);
            goto bad;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (*key == '\0') {
            snprintf(reason, sizeof(reason), "missing key name before '='");
            goto bad;
        }
        if (msn_config_set(c, section, key, value, reason, sizeof(reason)) < 0)
            goto bad;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    free(c->config_path);
    c->config_path = msn_xstrdup(path);
    rc = 0;
    goto out;
bad:
    snprintf(err, errlen, "%s:%d: %s", path, lineno, reason);
out:
    free(line);
    fclose(f);
    return rc;
}

/* ---- whole configuration --------------------------------------------------------------- */

void msn_config_defaults(msn_config_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen[0].host, sizeof(c->listen[0].host), "127.0.0.1");
    c->listen[0].port = 3000;
    c->n_listen = 1;
    c->workers = 0;
    c->poll_interval_ms = 1000;
    c->log_level = MSN_LOG_INFO;
    c->http.req_timeout_ms = 10000;
    c->http.shutdown_timeout_ms = 5000;
    c->http.ui = 1;
    c->analytics.default_interval_s = 300;
    c->analytics.node_changes_s = 5;
    c->http.max_connections = 4096;
    c->http.accept_backoff_ms = 100;
    c->http.write_timeout_ms = 30000;
    c->http.conn_buffer_kb = 4096;
    c->http.worker_buffer_mb = 64;
    c->http.answer_cache_ms = 1000;
    c->http.answer_cache_kb = 4096;
    c->http.doc_hold_ms = 2000;
    c->http.doc_holds = 32;
    c->http.max_query_params = 32;
    c->http.http2 = 0;
    c->analytics.max_shapes = 256;
    c->analytics.shape_idle_s = 600;
    c->backfill.enabled = 1;
    c->backfill.batch_size = 5000;
    c->backfill.yield_ms = 100;
    c->backfill.republish_interval_s = 60;
    c->websocket.max_clients = 10000;
    c->websocket.client_queue_messages = 256;
    c->websocket.client_queue_bytes = 1048576;
    c->websocket.write_timeout_s = 10;
    c->websocket.ping_interval_s = 30;
    c->websocket.pong_timeout_s = 60;
    c->websocket.max_frame_bytes = 512;
    c->websocket.ring_messages = 4096;
    c->websocket.ring_seconds = 60;
    msn_config__mqtt_defaults(c);
}

int msn_config_validate(const msn_config_t *c, char *err, size_t errlen)
{
    char what[160];
    if (c->db == NULL || *c->db == '\0') {
        snprintf(err, errlen, "db is not set (the path of the SQLite database)");
        return -1;
    }
    if (c->n_listen < 1) {
        snprintf(err, errlen, "no listen address (set listen = host:port)");
        return -1;
    }
    if (c->n_listen > MSN_MAX_LISTEN) {
        snprintf(err, errlen, "too many listen addresses (at most %d)", MSN_MAX_LISTEN);
        return -1;
    }
    if (c->state_dir == NULL || *c->state_dir == '\0') {
        snprintf(err, errlen, "state_dir is not set (the directory for LMDB snapshots and the status block)");
        return -1;
    }
    for (int i = 0; i < c->n_listen; i++) {
        if (c->listen[i].port < 1 || c->listen[i].port > 65535 || c->listen[i].host[0] == '\0') {
            snprintf(err, errlen, "listen address %d ('%s' port %d) is invalid", i + 1, c->listen[i].host,
                     c->listen[i].port);
            return -1;
        }
    }
    const msn_listen_addr_t *adm = &c->http.admin_listen;
    if (adm->port != 0) {
        for (int i = 0; i < c->n_listen; i++) {
            if (strcmp(c->listen[i].host, adm->host) == 0 && c->listen[i].port == adm->port) {
                snprintf(err, errlen, "[http] admin_listen: %s:%d is also a `listen` address (the admin listener "
                         "needs an address of its own)", adm->host, adm->port);
                return -1;
            }
        }
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def_t *k = &KEYS[i];
        if (k->kind != K_INT && k->kind != K_BOOL && k->kind != K_WORKERS && k->kind != K_LOG_LEVEL)
            continue;
        int v = int_value(c, k);
        int min = k->kind == K_WORKERS ? 0 : k->min;
        if (v < min || v > k->max) {
            snprintf(err, errlen, "%s: %d is out of range (allowed %d..%d)",
                     label(k->section, k->name, what, sizeof(what)), v, min, k->max);
            return -1;
        }
    }
    for (int i = 0; i < MSN_AN_COUNT; i++) {
        int v = c->analytics.interval_s[i];
        if (v < 0 || v > AN_INTERVAL_MAX) {
            snprintf(err, errlen, "[analytics] %s: %d is out of range (allowed 0..%d)", msn_analytic_names[i],
                     v, AN_INTERVAL_MAX);
            return -1;
        }
    }
    if (c->websocket.pong_timeout_s <= c->websocket.ping_interval_s) {
        snprintf(err, errlen,
                 "[websocket] pong_timeout_s (%d) must be greater than ping_interval_s (%d): a client is dropped when "
                 "it has not answered a ping for pong_timeout_s",
                 c->websocket.pong_timeout_s, c->websocket.ping_interval_s);
        return -1;
    }
    if (c->n_channels < 0 || c->n_channels > MSN_MAX_CHANNELS) {
        snprintf(err, errlen, "too many channels (at most %d)", MSN_MAX_CHANNELS);
        return -1;
    }
    for (int i = 0; i < c->n_channels; i++) {
        const msn_channel_key_t *ch = &c->channels[i];
        if (ch->name == NULL || ch->key_hex == NULL || !is_hex_key(ch->key_hex)) {
            snprintf(err, errlen, "[channels] %s: bad channel key", ch->name ? ch->name : "(unnamed)");
            return -1;
        }
    }
    return msn_config__mqtt_validate(c, err, errlen);
}

int msn_config_worker_count(const msn_config_t *c)
{
    long n = c->workers;
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > MSN_MAX_WORKERS)
        n = MSN_MAX_WORKERS;
    return (int)n;
}

int msn_config_analytic_interval(const msn_config_t *c, int an)
{
    if (an >= 0 && an < MSN_AN_COUNT && c->analytics.interval_s[an] > 0)
        return c->analytics.interval_s[an];
    return c->analytics.default_interval_s;
}

const char *msn_config_ui_root(const msn_config_t *c)
{
    return c->http.ui_root ? c->http.ui_root : MESHSNAP_UI_DIR;
}

int msn_config_check_web_root(const char *path, char *resolved, char *err, size_t errlen)
{
    struct stat sb;
    if (realpath(path, resolved) == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (stat(resolved, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", path);
        return -1;
    }
    if (access(resolved, R_OK | X_OK) < 0) {
        snprintf(err, errlen, "%s: cannot read the directory: %s", path, strerror(errno));
        return -1;
    }
    char index[PATH_MAX + 16];
    snprintf(index, sizeof(index), "%s/index.html", resolved);
    int fd = open(index, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s (a web root needs an index.html)", path,
                 errno == ENOENT ? "no index.html in it" : strerror(errno));
        return -1;
    }
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "%s: index.html is not a regular file", path);
        return -1;
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? msn_xstrdup(s) : NULL;
}

void msn_config_copy(msn_config_t *dst, const msn_config_t *src)
{
    *dst = *src;
    dst->config_path = dup_or_null(src->config_path);
    dst->db = dup_or_null(src->db);
    dst->state_dir = dup_or_null(src->state_dir);
    dst->user = dup_or_null(src->user);
    dst->http.access_log = dup_or_null(src->http.access_log);
    dst->http.web_root = dup_or_null(src->http.web_root);
    dst->http.ui_root = dup_or_null(src->http.ui_root);
    msn_frontend_conf_copy(&dst->frontend, &src->frontend);
    for (int i = 0; i < src->n_channels; i++) {
        dst->channels[i].name = dup_or_null(src->channels[i].name);
        dst->channels[i].key_hex = dup_or_null(src->channels[i].key_hex);
    }
    msn_config__mqtt_copy(dst, src);
}

void msn_config_free(msn_config_t *c)
{
    free(c->config_path);
    free(c->db);
    free(c->state_dir);
    free(c->user);
    free(c->http.access_log);
    free(c->http.web_root);
    free(c->http.ui_root);
    c->config_path = c->db = c->state_dir = c->user = c->http.access_log = c->http.web_root = c->http.ui_root = NULL;
    msn_frontend_conf_free(&c->frontend);
    for (int i = 0; i < c->n_channels; i++) {
        free(c->channels[i].name);
        free(c->channels[i].key_hex);
        c->channels[i].name = c->channels[i].key_hex = NULL;
    }
    c->n_channels = 0;
    msn_config__mqtt_free(c);
}

/* ---- dump ------------------------------------------------------------------------------ */

static void dump_key(const msn_config_t *c, const key_def_t *k, FILE *f)
{
    int v;
    switch (k->kind) {
    case K_STR:
    case K_USER:
    case K_WEB_ROOT: {
        const char *s = str_value(c, k);
        if (s != NULL)
            fprintf(f, "%s = %s\n", k->name, s);
        else if (k->off == OFF(http.ui_root))
            fprintf(f, "# %s = %s (default)\n", k->name, MESHSNAP_UI_DIR);
        else
            fprintf(f, "# %s = (not set)\n", k->name);
        return;
    }
    case K_LISTEN:
        fprintf(f, "%s =", k->name);
        for (int i = 0; i < c->n_listen && i < MSN_MAX_LISTEN; i++) {
            const msn_listen_addr_t *a = &c->listen[i];
            if (strchr(a->host, ':') != NULL)
                fprintf(f, " [%s]:%d", a->host, a->port);
            else
                fprintf(f, " %s:%d", a->host, a->port);
        }
        fputc('\n', f);
        return;
    case K_ADDR: {
        const msn_listen_addr_t *a = (const msn_listen_addr_t *)(const void *)((const char *)c + k->off);
        if (a->port == 0)
            fprintf(f, "# %s = (not set)\n", k->name);
        else if (strchr(a->host, ':') != NULL)
            fprintf(f, "%s = [%s]:%d\n", k->name, a->host, a->port);
        else
            fprintf(f, "%s = %s:%d\n", k->name, a->host, a->port);
        return;
    }
    case K_INT:
        fprintf(f, "%s = %d\n", k->name, int_value(c, k));
        return;
    case K_WORKERS:
        v = int_value(c, k);
        if (v == 0)
            fprintf(f, "%s = auto\n", k->name);
        else
            fprintf(f, "%s = %d\n", k->name, v);
        return;
    case K_BOOL:
        fprintf(f, "%s = %s\n", k->name, int_value(c, k) ? "yes" : "no");
        return;
    case K_LOG_LEVEL:
        v = int_value(c, k);
        if (v >= MSN_LOG_DEBUG && v <= MSN_LOG_ERROR)
            fprintf(f, "%s = %s\n", k->name, LOG_LEVELS[v]);
        else
            fprintf(f, "# %s = (invalid: %d)\n", k->name, v);
        return;
    }
}

static void dump_section(const msn_config_t *c, const char *section, FILE *f)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].section, section) == 0)
            dump_key(c, &KEYS[i], f);
}

void msn_config_dump(const msn_config_t *c, FILE *f)
{
    fprintf(f, "# meshsnap effective configuration\n");
    if (c->config_path != NULL)
        fprintf(f, "# loaded from %s\n", c->config_path);
    dump_section(c, "", f);
    for (size_t s = 0; s < N_SECTIONS; s++) {
        if (strcmp(SECTIONS[s], "channels") == 0)
            continue; /* last, below */
        fprintf(f, "\n[%s]\n", SECTIONS[s]);
        dump_section(c, SECTIONS[s], f);
        if (strcmp(SECTIONS[s], "analytics") == 0) {
            for (int i = 0; i < MSN_AN_COUNT; i++)
                fprintf(f, "%s = %d\n", msn_analytic_names[i], c->analytics.interval_s[i]);
        }
        if (strcmp(SECTIONS[s], "frontend") == 0)
            msn_frontend_conf_dump(&c->frontend, f);
    }
    /* [channels] is last: explicit keys, then the hashtag channels on one line. */
    fprintf(f, "\n[channels]\n");
    int n_tags = 0;
    for (int i = 0; i < c->n_channels; i++) {
        const msn_channel_key_t *ch = &c->channels[i];
        char hex[33];
        if (ch->name[0] != '#') {
            fprintf(f, "%s = %s\n", ch->name, ch->key_hex);
        } else if (msn_config_hashtag_key(ch->name, hex) == 0 && strcmp(hex, ch->key_hex) == 0) {
            n_tags++;
        } else {
            fprintf(f, "# %s = %s (a '#' name with its own key cannot be written in this format)\n", ch->name,
                    ch->key_hex);
        }
    }
    if (n_tags > 0) {
        fprintf(f, "hashtags =");
        for (int i = 0; i < c->n_channels; i++) {
            char hex[33];
            const msn_channel_key_t *ch = &c->channels[i];
            if (ch->name[0] == '#' && msn_config_hashtag_key(ch->name, hex) == 0 &&
                strcmp(hex, ch->key_hex) == 0)
                fprintf(f, " %s", ch->name);
        }
        fputc('\n', f);
    }
    /* [mqtt] and the brokers after [channels] */
    msn_config__mqtt_dump(c, f);
}
