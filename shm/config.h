/*
 * config.h: meshsnap's configuration (conf/meshsnap.conf) and its validation.
 *
 * File format: `key = value` lines, comment lines, blank lines, and `[section]` headers.
 * Keys before the first section are global.
 *  - A comment is a line whose first non-blank character is `#`. There are no trailing
 *    comments: a `#` after a value is part of the value (hashtag channels are written
 *    `hashtags = #a #b`). A value that is refused and holds ` #` gets a hint saying so,
 *    and path/user values holding ` #` are refused.
 *  - Leading and trailing blanks (and CR) around keys and values are dropped. Values are
 *    literal: no quoting, no escapes, no variable expansion.
 *  - Section and key names are lowercase and matched exactly. A section may appear more
 *    than once. A key given twice keeps the later value (`listen` too: the later line
 *    replaces the list); in [channels] every line adds channels, a name given again gets
 *    the later key.
 * Every key is known; an unknown key or section, a malformed line, or a bad value is an
 * error "PATH:LINE: reason" naming the key and the allowed values or range. Nothing is
 * ever silently defaulted. Command-line flags are applied with msn_config_set() after the
 * file, so they override it; msn_config_validate() then checks the combination.
 *
 * Global keys:    db, listen, workers, state_dir, poll_interval_ms, user, log_level
 * [http]          req_timeout_ms, shutdown_timeout_ms, access_log, web_root, ui_root, ui; the
 *                 resource bounds max_connections, accept_backoff_ms, write_timeout_ms,
 *                 conn_buffer_kb, worker_buffer_mb, max_query_params; http2, admin_listen;
 *                 answer_cache_ms, answer_cache_kb (worker/anscache.h);
 *                 doc_hold_ms, doc_holds (worker/respond.h: stored documents sent from the map)
 * [analytics]     default_interval_s, max_shapes, shape_idle_s, and one interval per analytic
 *                 (msn_analytic_names); node_documents_s, node_changes_s (per-node
 *                 documents, master/nodedocs.h)
 * [backfill]      enabled, batch_size, yield_ms, republish_interval_s
 * [websocket]     max_clients, client_queue_messages, client_queue_bytes, write_timeout_s,
 *                 ping_interval_s, pong_timeout_s, max_frame_bytes, ring_messages, ring_seconds
 * [channels]      NAME = HEXKEY (32 hex chars), plus `hashtags = #a #b` (keys derived)
 * [frontend]      what the web pages are told (config_frontend.h)
 * [mqtt]          the ingestor: batch_size, batch_ms, reconnect_max_s, resolver_refresh_s,
 *                 edges_interval_s, and the ingest rules (shm/ingest/ingest.h: rules,
 *                 packet_time, observer_first, ...)
 * [mqtt.NAME]     one broker per section (NAME: letters, digits, '-', '_'): url, username,
 *                 password, client_id, ca_file, cert_file, key_file, tls_verify, topics,
 *                 iata_filter, region, keepalive_s, protocol (config_mqtt.c)
 *
 * Ownership: msn_config_t owns every string in it; msn_config_free() releases them.
 * Thread/process: plain data; each process loads its own copy.
 */
#ifndef MSN_CONFIG_H
#define MSN_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "config_frontend.h"
#include "ingest/rules.h"

#define MSN_MAX_LISTEN 8
#define MSN_MAX_CHANNELS 64
#define MSN_MAX_WORKERS 64 /* `workers` is auto or 1..MSN_MAX_WORKERS */
#define MSN_MAX_MQTT 8          /* [mqtt.NAME] brokers */
#define MSN_MQTT_MAX_TOPICS 16  /* topics per broker */
#define MSN_MQTT_MAX_IATA 32    /* iata_filter entries per broker */

/* The analytics the master publishes, in [analytics] key order. */
enum {
    MSN_AN_TOPOLOGY,
    MSN_AN_RF,
    MSN_AN_DISTANCE,
    MSN_AN_CHANNELS,
    MSN_AN_HASH_SIZES,
    MSN_AN_HASH_COLLISIONS,
    MSN_AN_ROLES,
    MSN_AN_SUBPATHS,
    MSN_AN_OBSERVERS_CLOCK_SKEW,
    MSN_AN_NODES_CLOCK_SKEW,
    MSN_AN_RELAY_AIRTIME_SHARE,
    MSN_AN_SUBPATHS_BULK,
    MSN_AN_SUBPATH_DETAIL,
    MSN_AN_SCOPE_STATS,
    MSN_AN_OBSERVER_ANALYTICS,
    MSN_AN_OBSERVERS_METRICS_SUMMARY,
    MSN_AN_AUDIO_LAB,
    MSN_AN_COUNT
};
/** Key names of the analytics in [analytics], indexed by MSN_AN_*: "topology", "rf",
 *  "distance", "channels", "hash_sizes", "hash_collisions", "roles", "subpaths",
 *  "observers_clock_skew", "nodes_clock_skew", "relay_airtime_share", "subpaths_bulk",
 *  "subpath_detail", "scope_stats", "observer_analytics", "observers_metrics_summary",
 *  "audio_lab". */
extern const char *const msn_analytic_names[MSN_AN_COUNT];

typedef struct {
    char host[64]; /* numeric address as written, without IPv6 brackets ("127.0.0.1", "::1", "0.0.0.0") */
    int port;      /* 1..65535 */
} msn_listen_addr_t;

typedef struct {
    char *name;    /* "Public", "#wardriving", or a configured name */
    char *key_hex; /* 32 lowercase hex chars; for hashtags derived as hex(SHA256(name)[0:16]) */
} msn_channel_key_t;

/* One MQTT broker ([mqtt.NAME]). Strings are owned; NULL = not set. */
typedef struct {
    char *name;      /* NAME of the section */
    char *url;       /* as written: mqtt://host[:port] or mqtts://host[:port] (tcp://, ssl:// too) */
    char *host;      /* parsed from url */
    int port;        /* parsed from url (default 1883, 8883 with TLS) */
    int tls;         /* mqtts:// or ssl:// */
    char *username, *password;
    char *client_id; /* NULL: meshsnap-NAME-<hostname> (stable: the broker keeps the session) */
    char *ca_file, *cert_file, *key_file;
    int tls_verify;  /* 1 (default): verify the broker's certificate and host name */
    char *topics[MSN_MQTT_MAX_TOPICS];
    int n_topics;    /* 0: meshcore/# */
    char *iata_filter[MSN_MQTT_MAX_IATA];
    int n_iata_filter;
    char *region;    /* the region of a packet whose topic has none */
    int keepalive_s; /* default 30 */
    int protocol;    /* 5 (default) or 4 (MQTT 3.1.1) */
} msn_mqtt_broker_t;

typedef struct {
    char *config_path; /* the file loaded, or NULL */
    char *db;          /* SQLite database path (required) */
    char *state_dir;   /* LMDB snapshots and the status block live here */
    msn_listen_addr_t listen[MSN_MAX_LISTEN];
    int n_listen;
    int workers;          /* 0 = auto (one per online core) */
    int poll_interval_ms; /* 10..3600000, default 1000 */
    char *user;           /* drop to this user when started as root; NULL = don't */
    int log_level;        /* msn_log_level_t; default INFO */
    struct {
        int req_timeout_ms;      /* HTTP/1 request and keep-alive idle timeout, default 10000 */
        int shutdown_timeout_ms; /* how long in-flight requests may take on stop, default 5000 */
        char *access_log;        /* append one Common Log Format line per request here; NULL = off */
        char *web_root;          /* serve this directory's files (a web app with an index.html); NULL = off.
                                    Stored resolved (realpath); checked when set: msn_config_check_web_root */
        char *ui_root;           /* meshsnap's own dashboard when web_root is unset; NULL = MESHSNAP_UI_DIR */
        int ui;                  /* 1 (default): serve ui_root when web_root is unset */
        /* resource bounds of each worker (worker/conns.h, worker/respond.h) */
        int max_connections;     /* open connections per worker, default 4096 */
        int accept_backoff_ms;   /* pause accepting this long when out of descriptors, default 100 */
        int write_timeout_ms;    /* close a connection whose response does not progress, default 30000 */
        int conn_buffer_kb;      /* response bytes buffered per connection, default 4096 (4 MiB) */
        int worker_buffer_mb;    /* response bytes buffered per worker, default 64 */
        int max_query_params;    /* query parameters a request may carry (more: 400), default 32 */
        int answer_cache_ms;     /* reuse an assembled answer this long within a generation, default 1000; 0 = off */
        int answer_cache_kb;     /* bytes of answers a worker keeps for that, default 4096 */
        /* stored documents sent from the map under a held read transaction (worker/respond.h) */
        int doc_hold_ms;         /* how long one response may hold its transaction, default 2000 */
        int doc_holds;           /* held transactions per worker at once, default 32; 0 = never */
        int http2;               /* 1: accept cleartext HTTP/2 (h2c); default 0 */
        msn_listen_addr_t admin_listen; /* the admin listener; port 0 = none (default) */
    } http;
    struct {
        int default_interval_s;       /* default 300 */
        int max_shapes;               /* on-demand analytics shapes kept at once, default 256 */
        int shape_idle_s;             /* drop an on-demand shape unasked this long, default 600 */
        int interval_s[MSN_AN_COUNT]; /* 0 = use default_interval_s */
        int node_documents_s; /* every node's documents are rendered again this often; 0 = default_interval_s */
        int node_changes_s;   /* the documents of nodes with new data: at most this often, default 5 */
    } analytics;
    struct {
        int enabled;              /* 1 (default): run the backfiller process */
        int batch_size;           /* rows per chunk, 1..1000000, default 5000 */
        int yield_ms;             /* sleep between chunks, 0..60000, default 100 */
        int republish_interval_s; /* republish path analytics while a backfill runs, default 60 */
    } backfill;
    struct {                       /* the live feed (worker/ws.h, shm/feed.h) */
        int max_clients;           /* WebSocket clients per worker, default 10000 */
        int client_queue_messages; /* messages queued for one client before it is dropped, default 256 */
        int client_queue_bytes;    /* bytes queued for one client before it is dropped, default 1 MiB */
        int write_timeout_s;       /* a write to a client stalled this long drops it, default 10 */
        int ping_interval_s;       /* server ping period, default 30 */
        int pong_timeout_s;        /* no pong for this long drops the client, default 60 (> ping_interval_s) */
        int max_frame_bytes;       /* largest client message; a larger one is closed with 1009, default 512 */
        int ring_messages;         /* the master keeps this many messages in the ring, default 4096 */
        int ring_seconds;          /* ... and none older than this, default 60 */
    } websocket;
    msn_channel_key_t channels[MSN_MAX_CHANNELS];
    int n_channels;
    msn_frontend_conf_t frontend;
    struct {
        int batch_size;         /* packets per transaction, 1..100000, default 2000 */
        int batch_ms;           /* longest a transaction collects, 1..10000 ms, default 50 */
        int reconnect_max_s;    /* reconnect backoff cap, 1..3600, default 30 */
        int resolver_refresh_s; /* rebuild the hop resolver from nodes/neighbor_edges, default 60 */
        int edges_interval_s;   /* neighbour-edge builder pass, 0 = off, default 60 */
        msn_ingest_rules_t rules; /* default CoreScope's */
        msn_mqtt_broker_t brokers[MSN_MAX_MQTT];
        int n_brokers; /* 0: no ingestor */
    } mqtt;
} msn_config_t;

/* Where the packages install meshsnap's dashboard: the default of [http] ui_root. */
#ifndef MESHSNAP_UI_DIR
#define MESHSNAP_UI_DIR "/usr/share/meshsnap/ui"
#endif

/** Fills c with the defaults (db and state_dir NULL, listen 127.0.0.1:3000). */
void msn_config_defaults(msn_config_t *c);

/** Parses the file at path into c (which holds defaults or earlier values) and records
 *  path in c->config_path. Returns 0, or -1 with err set to "PATH:LINE: reason" for the
 *  first error (or "PATH: reason" when the file cannot be read). On error c holds the
 *  values of the lines before the bad one: discard it (msn_config_free). */
int msn_config_load_file(msn_config_t *c, const char *path, char *err, size_t errlen);

/** Sets one key from a section ("" or NULL for global), as the file parser does; used for
 *  flags. A repeated `listen` key replaces the earlier list; one value may hold several
 *  space- or comma-separated addresses. Returns 0, or -1 with err set to the reason
 *  (without file or line; e.g. "[backfill] batch_size: -5 is out of range (allowed
 *  1..1000000)"). On error c is unchanged. */
int msn_config_set(msn_config_t *c, const char *section, const char *key, const char *value, char *err,
                   size_t errlen);

/** Checks the whole configuration: db set, at least one listen address, state_dir set (a
 *  caller that derives a default state_dir does so before validating), and every value in
 *  its range (for fields set directly rather than through the parser). Returns 0, or -1
 *  with err set. */
int msn_config_validate(const msn_config_t *c, char *err, size_t errlen);

/** Parses one listen address: "host:port", "[v6]:port", or ":port"/"port" (meaning
 *  0.0.0.0). host is a numeric IPv4 address, a bracketed numeric IPv6 address, "localhost"
 *  (stored as 127.0.0.1) or "*" (0.0.0.0); port is decimal 1..65535. Returns 0, or -1 with
 *  err set (out untouched). */
int msn_config_parse_listen(const char *s, msn_listen_addr_t *out, char *err, size_t errlen);

/** The number of workers to run: c->workers, or the online core count when 0 (auto);
 *  always within 1..MSN_MAX_WORKERS. */
int msn_config_worker_count(const msn_config_t *c);

/** The interval of analytic `an` (MSN_AN_*) in seconds: its own interval when set (> 0),
 *  else analytics.default_interval_s. */
int msn_config_analytic_interval(const msn_config_t *c, int an);

/** The dashboard directory: c->http.ui_root, or MESHSNAP_UI_DIR when unset. */
const char *msn_config_ui_root(const msn_config_t *c);

/** Checks a web_root value: path must be a directory this process can read and search,
 *  holding a readable regular file index.html. On success writes its resolved absolute
 *  path (realpath) into resolved (PATH_MAX bytes) and returns 0; else -1 with err set to
 *  the reason (e.g. "/srv/www: no index.html in it"). */
int msn_config_check_web_root(const char *path, char *resolved, char *err, size_t errlen);

/** Deep-copies src into dst (dst need not be initialised; whatever it held is not freed).
 *  Aborts on out-of-memory. */
void msn_config_copy(msn_config_t *dst, const msn_config_t *src);

/** Releases every string; c is left with NULL string pointers and no channels (the other
 *  fields keep their values), so a second call is harmless. */
void msn_config_free(msn_config_t *c);

/** Writes the effective configuration to f in the file format above (every key, global
 *  keys first, then each section; unset strings as commented-out lines), so that loading
 *  the output gives the same configuration back. Hashtag channels are written on one
 *  `hashtags` line. Used by `meshsnapd --check-config -v`. */
void msn_config_dump(const msn_config_t *c, FILE *f);

/** Derives the key of hashtag channel `name` (which includes the leading '#', e.g.
 *  "#wardriving"): the first 16 bytes of SHA-256(name), written to hex as 32 lowercase hex
 *  characters plus NUL. Returns 0, or -1 if the digest could not be computed. */
int msn_config_hashtag_key(const char *name, char hex[33]);

/* The [mqtt] and [mqtt.NAME] sections (config_mqtt.c), called by config.c. */
/** 1 when section is "mqtt" or "mqtt.NAME" with a valid NAME. */
int msn_config__mqtt_section(const char *section);
void msn_config__mqtt_defaults(msn_config_t *c);
int msn_config__mqtt_set(msn_config_t *c, const char *section, const char *key, const char *value, char *err,
                         size_t errlen);
int msn_config__mqtt_validate(const msn_config_t *c, char *err, size_t errlen);
void msn_config__mqtt_copy(msn_config_t *dst, const msn_config_t *src);
void msn_config__mqtt_free(msn_config_t *c);
void msn_config__mqtt_dump(const msn_config_t *c, FILE *f);

#endif
