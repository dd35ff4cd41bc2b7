/*
 * test_config.c: the configuration parser (shm/config.c): the shipped conf/meshsnap.conf,
 * every key, the error messages (line number and reason) for bad files, listen addresses,
 * flags overriding the file, hashtag keys, validation, dump round-trip, copy/free.
 */
#include "testlib.h"

#include "shm/config.h"
#include "shm/log.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[512];

/* Writes content to a file in the test directory; returns its path (static buffer). */
static const char *write_conf(const char *name, const char *content)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(content, f);
    fclose(f);
    return path;
}

static int contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

static void test_defaults(void)
{
    msn_config_t c;
    msn_config_defaults(&c);
    CHECK(c.db == NULL);
    CHECK(c.state_dir == NULL);
    CHECK(c.user == NULL);
    CHECK(c.config_path == NULL);
    CHECK_EQ_INT(c.n_listen, 1);
    CHECK_EQ_STR(c.listen[0].host, "127.0.0.1");
    CHECK_EQ_INT(c.listen[0].port, 3000);
    CHECK_EQ_INT(c.workers, 0);
    CHECK_EQ_INT(c.poll_interval_ms, 1000);
    CHECK_EQ_INT(c.log_level, MSN_LOG_INFO);
    CHECK_EQ_INT(c.http.req_timeout_ms, 10000);
    CHECK_EQ_INT(c.http.shutdown_timeout_ms, 5000);
    /* the resource bounds */
    CHECK_EQ_INT(c.http.max_connections, 4096);
    CHECK_EQ_INT(c.http.accept_backoff_ms, 100);
    CHECK_EQ_INT(c.http.write_timeout_ms, 30000);
    CHECK_EQ_INT(c.http.conn_buffer_kb, 4096);
    CHECK_EQ_INT(c.http.worker_buffer_mb, 64);
    CHECK_EQ_INT(c.http.doc_hold_ms, 2000);
    CHECK_EQ_INT(c.http.doc_holds, 32);
    CHECK_EQ_INT(c.http.max_query_params, 32);
    CHECK_EQ_INT(c.http.http2, 0);
    CHECK_EQ_INT(c.http.admin_listen.port, 0);
    CHECK_EQ_INT(c.analytics.max_shapes, 256);
    CHECK_EQ_INT(c.analytics.shape_idle_s, 600);
    CHECK_EQ_INT(c.analytics.default_interval_s, 300);
    for (int i = 0; i < MSN_AN_COUNT; i++)
        CHECK_EQ_INT(c.analytics.interval_s[i], 0);
    CHECK_EQ_INT(c.backfill.enabled, 1);
    CHECK_EQ_INT(c.backfill.batch_size, 5000);
    CHECK_EQ_INT(c.backfill.yield_ms, 100);
    CHECK_EQ_INT(c.backfill.republish_interval_s, 60);
    CHECK_EQ_INT(c.n_channels, 0);
    CHECK_EQ_STR(msn_analytic_names[MSN_AN_TOPOLOGY], "topology");
    CHECK_EQ_STR(msn_analytic_names[MSN_AN_NODES_CLOCK_SKEW], "nodes_clock_skew");
    msn_config_free(&c);
}

static void test_shipped_conf(void)
{
    const char *src = getenv("MESHSNAP_SOURCE");
    if (src == NULL || *src == '\0') {
        msn_test_skip("MESHSNAP_SOURCE is not set");
        return;
    }
    char path[1024], err[512] = "";
    snprintf(path, sizeof(path), "%s/conf/meshsnap.conf", src);
    msn_config_t c;
    msn_config_defaults(&c);
    int rc = msn_config_load_file(&c, path, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "load: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(c.config_path, path);
    CHECK_EQ_STR(c.db, "/var/lib/meshsnap/meshsnap.db");
    CHECK_EQ_STR(c.state_dir, "/var/lib/meshsnap");
    CHECK(c.user == NULL);
    CHECK_EQ_INT(c.n_listen, 1);
    CHECK_EQ_STR(c.listen[0].host, "127.0.0.1");
    CHECK_EQ_INT(c.listen[0].port, 3000);
    CHECK_EQ_INT(c.workers, 0);
    CHECK_EQ_INT(c.backfill.batch_size, 5000);
    CHECK_EQ_INT(c.n_channels, 1);
    if (c.n_channels >= 1) {
        CHECK_EQ_STR(c.channels[0].name, "Public");
        CHECK_EQ_STR(c.channels[0].key_hex, "8b3387e9c5cdea6ac9e5edbaa115cd72");
    }
    rc = msn_config_validate(&c, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "validate: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    msn_config_free(&c);
}

static const char *EVERY_KEY = "\xEF\xBB\xBF# every key, CRLF line endings and a BOM\r\n"
                               "db = /tmp/x.db\r\n"
                               "  listen =  127.0.0.1:8080 [::1]:8081,0.0.0.0:8082  \r\n"
                               "workers = 3\r\n"
                               "state_dir = /tmp/state dir\r\n"
                               "poll_interval_ms = 250\r\n"
                               "user = meshsnap\r\n"
                               "log_level = debug\r\n"
                               "\r\n"
                               "   # indented comment\r\n"
                               "[http]\r\n"
                               "req_timeout_ms = 20000\r\n"
                               "shutdown_timeout_ms = 0\r\n"
                               "ui_root = /opt/ui\r\n"
                               "ui = off\r\n"
                               "max_connections = 100\r\n"
                               "accept_backoff_ms = 250\r\n"
                               "write_timeout_ms = 2000\r\n"
                               "conn_buffer_kb = 512\r\n"
                               "worker_buffer_mb = 16\r\n"
                               "doc_hold_ms = 500\r\n"
                               "doc_holds = 0\r\n"
                               "max_query_params = 64\r\n"
                               "http2 = yes\r\n"
                               "admin_listen = [::1]:9000\r\n"
                               "[ analytics ]\r\n"
                               "default_interval_s = 600\r\n"
                               "max_shapes = 50\r\n"
                               "shape_idle_s = 120\r\n"
                               "topology = 60\r\n"
                               "rf = 0\r\n"
                               "distance = 86400\r\n"
                               "channels = 1\r\n"
                               "hash_sizes = 2\r\n"
                               "hash_collisions = 3\r\n"
                               "roles = 4\r\n"
                               "subpaths = 5\r\n"
                               "observers_clock_skew = 6\r\n"
                               "nodes_clock_skew = 7\r\n"
                               "[backfill]\r\n"
                               "enabled = No\r\n"
                               "batch_size = 1000000\r\n"
                               "yield_ms = 0\r\n"
                               "republish_interval_s = 30\r\n"
                               "[channels]\r\n"
                               "Public = 8B3387E9C5CDEA6AC9E5EDBAA115CD72\r\n"
                               "My Group = 00112233445566778899aabbccddeeff\r\n"
                               "hashtags = #test #wardriving,#test\r\n"
                               "hashtags = #bot\r\n"
                               "[frontend]\r\n"
                               "site_name = Bay Mesh\r\n"
                               "tagline = What we hear\r\n"
                               "hero_title = Hello\r\n"
                               "hero_subtitle = World\r\n"
                               "map_center = 47.6062, -122.3321\r\n"
                               "map_zoom = 11\r\n"
                               "tiles_light_url = http://tiles.local/{z}/{x}/{y}.png\r\n"
                               "tiles_dark_url = http://tiles.local/dark/{z}/{x}/{y}.png\r\n"
                               "live_map_max_nodes = 500\r\n"
                               "propagation_buffer_ms = 2500\r\n"
                               "timestamp_mode = absolute\r\n"
                               "timestamp_timezone = utc\r\n"
                               "timestamp_format = iso-seconds\r\n"
                               "region = SEA Seattle, WA\r\n"
                               "region = PDX Portland\r\n"
                               "region = SEA Seattle\r\n"
                               "theme_accent_hover = #123456\r\n"
                               "theme_dark_nav_bg2 = rgb(1, 2, 3)\r\n"
                               "node_color_repeater = #dc2626\r\n"
                               "type_color_grp_txt = blue\r\n";

static void check_every_key(const msn_config_t *c)
{
    CHECK_EQ_STR(c->db, "/tmp/x.db");
    CHECK_EQ_INT(c->n_listen, 3);
    CHECK_EQ_STR(c->listen[0].host, "127.0.0.1");
    CHECK_EQ_INT(c->listen[0].port, 8080);
    CHECK_EQ_STR(c->listen[1].host, "::1");
    CHECK_EQ_INT(c->listen[1].port, 8081);
    CHECK_EQ_STR(c->listen[2].host, "0.0.0.0");
    CHECK_EQ_INT(c->listen[2].port, 8082);
    CHECK_EQ_INT(c->workers, 3);
    CHECK_EQ_STR(c->state_dir, "/tmp/state dir");
    CHECK_EQ_INT(c->poll_interval_ms, 250);
    CHECK_EQ_STR(c->user, "meshsnap");
    CHECK_EQ_INT(c->log_level, MSN_LOG_DEBUG);
    CHECK_EQ_INT(c->http.req_timeout_ms, 20000);
    CHECK_EQ_INT(c->http.shutdown_timeout_ms, 0);
    CHECK_EQ_INT(c->http.max_connections, 100);
    CHECK_EQ_INT(c->http.accept_backoff_ms, 250);
    CHECK_EQ_INT(c->http.write_timeout_ms, 2000);
    CHECK_EQ_INT(c->http.conn_buffer_kb, 512);
    CHECK_EQ_INT(c->http.worker_buffer_mb, 16);
    CHECK_EQ_INT(c->http.doc_hold_ms, 500);
    CHECK_EQ_INT(c->http.doc_holds, 0);
    CHECK_EQ_INT(c->http.max_query_params, 64);
    CHECK_EQ_INT(c->http.http2, 1);
    CHECK_EQ_STR(c->http.admin_listen.host, "::1");
    CHECK_EQ_INT(c->http.admin_listen.port, 9000);
    CHECK_EQ_INT(c->analytics.max_shapes, 50);
    CHECK_EQ_INT(c->analytics.shape_idle_s, 120);
    CHECK_EQ_INT(c->analytics.default_interval_s, 600);
    CHECK_EQ_INT(c->analytics.interval_s[MSN_AN_TOPOLOGY], 60);
    CHECK_EQ_INT(c->analytics.interval_s[MSN_AN_RF], 0);
    CHECK_EQ_INT(c->analytics.interval_s[MSN_AN_DISTANCE], 86400);
    CHECK_EQ_INT(c->analytics.interval_s[MSN_AN_CHANNELS], 1);
    CHECK_EQ_INT(c->analytics.interval_s[MSN_AN_NODES_CLOCK_SKEW], 7);
    CHECK_EQ_INT(msn_config_analytic_interval(c, MSN_AN_TOPOLOGY), 60);
    CHECK_EQ_INT(msn_config_analytic_interval(c, MSN_AN_RF), 600);
    CHECK_EQ_INT(msn_config_analytic_interval(c, MSN_AN_SUBPATHS), 5);
    CHECK_EQ_INT(c->backfill.enabled, 0);
    CHECK_EQ_INT(c->backfill.batch_size, 1000000);
    CHECK_EQ_INT(c->backfill.yield_ms, 0);
    CHECK_EQ_INT(c->backfill.republish_interval_s, 30);
    CHECK_EQ_INT(c->n_channels, 5);
    CHECK_EQ_STR(c->http.ui_root, "/opt/ui");
    CHECK_EQ_STR(msn_config_ui_root(c), "/opt/ui");
    CHECK_EQ_INT(c->http.ui, 0);
    CHECK(c->http.web_root == NULL);
    const msn_frontend_conf_t *f = &c->frontend;
    CHECK_EQ_STR(f->site_name, "Bay Mesh");
    CHECK_EQ_STR(f->tagline, "What we hear");
    CHECK_EQ_STR(f->hero_title, "Hello");
    CHECK_EQ_STR(f->hero_subtitle, "World");
    CHECK(f->has_center && f->center_lat == 47.6062 && f->center_lon == -122.3321);
    CHECK_EQ_INT(f->zoom, 11);
    CHECK_EQ_STR(f->tiles_light_url, "http://tiles.local/{z}/{x}/{y}.png");
    CHECK_EQ_STR(f->tiles_dark_url, "http://tiles.local/dark/{z}/{x}/{y}.png");
    CHECK_EQ_INT(f->live_map_max_nodes, 500);
    CHECK_EQ_INT(f->propagation_buffer_ms, 2500);
    CHECK_EQ_STR(f->timestamp_mode, "absolute");
    CHECK_EQ_STR(f->timestamp_timezone, "utc");
    CHECK_EQ_STR(f->timestamp_format, "iso-seconds");
    CHECK_EQ_INT(f->n_regions, 2); /* SEA given again: the later label */
    if (f->n_regions == 2) {
        CHECK_EQ_STR(f->regions[0].code, "SEA");
        CHECK_EQ_STR(f->regions[0].label, "Seattle");
        CHECK_EQ_STR(f->regions[1].code, "PDX");
        CHECK_EQ_STR(f->regions[1].label, "Portland");
    }
    CHECK_EQ_INT(f->n_colors, 4);
    if (f->n_colors == 4) {
        CHECK(f->colors[0].section == MSN_COLOR_THEME && strcmp(f->colors[0].name, "accentHover") == 0 &&
              strcmp(f->colors[0].value, "#123456") == 0);
        CHECK(f->colors[1].section == MSN_COLOR_THEME_DARK && strcmp(f->colors[1].name, "navBg2") == 0 &&
              strcmp(f->colors[1].value, "rgb(1, 2, 3)") == 0);
        CHECK(f->colors[2].section == MSN_COLOR_NODE && strcmp(f->colors[2].name, "repeater") == 0);
        CHECK(f->colors[3].section == MSN_COLOR_TYPE && strcmp(f->colors[3].name, "GRP_TXT") == 0 &&
              strcmp(f->colors[3].value, "blue") == 0);
    }
}

static const char *channel_key(const msn_config_t *c, const char *name)
{
    for (int i = 0; i < c->n_channels; i++)
        if (strcmp(c->channels[i].name, name) == 0)
            return c->channels[i].key_hex;
    return NULL;
}

static void test_every_key(void)
{
    char err[512] = "";
    const char *path = write_conf("every.conf", EVERY_KEY);
    msn_config_t c;
    msn_config_defaults(&c);
    int rc = msn_config_load_file(&c, path, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "load: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    check_every_key(&c);
    CHECK_EQ_STR(channel_key(&c, "Public"), "8b3387e9c5cdea6ac9e5edbaa115cd72");
    CHECK_EQ_STR(channel_key(&c, "My Group"), "00112233445566778899aabbccddeeff");
    /* printf '#test' | sha256sum -> 9cd8fcf22a47333b591d96a2b848b73f457b1bb1... */
    CHECK_EQ_STR(channel_key(&c, "#test"), "9cd8fcf22a47333b591d96a2b848b73f");
    /* printf '#wardriving' | sha256sum -> e3c26491e9cd321e3a6be50d57d54acf7b49... */
    CHECK_EQ_STR(channel_key(&c, "#wardriving"), "e3c26491e9cd321e3a6be50d57d54acf");
    CHECK(channel_key(&c, "#bot") != NULL);
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), 0);
    msn_config_free(&c);
}

static void test_hashtag_key(void)
{
    char hex[33];
    CHECK_EQ_INT(msn_config_hashtag_key("#test", hex), 0);
    CHECK_EQ_STR(hex, "9cd8fcf22a47333b591d96a2b848b73f");
    CHECK_EQ_INT(msn_config_hashtag_key("#wardriving", hex), 0);
    CHECK_EQ_STR(hex, "e3c26491e9cd321e3a6be50d57d54acf");
}

/* A bad file: its body, the line the error must name, and a substring of the reason. */
typedef struct {
    const char *body;
    int line;
    const char *reason;
} bad_case_t;

static const bad_case_t BAD[] = {
    {"db = /x\n[backfill]\nbatchsize = 10\n", 3, "unknown key 'batchsize' in [backfill]"},
    {"db = /x\nfrobnicate = 1\n", 2, "unknown global key 'frobnicate'"},
    {"batch_size = 10\n", 1, "unknown global key 'batch_size' (it belongs in [backfill])"},
    {"# c\n\n[htpp]\nreq_timeout_ms = 1\n", 3, "unknown section [htpp]"},
    {"[backfill\n", 1, "malformed section header"},
    {"[]\n", 1, "empty section name"},
    {"db = /x\n\n[backfill]\nbatch_size = -5\n", 4,
     "[backfill] batch_size: -5 is out of range (allowed 1..1000000)"},
    {"[backfill]\nbatch_size = 0\n", 2, "[backfill] batch_size: 0 is out of range (allowed 1..1000000)"},
    {"[backfill]\nbatch_size = 1000001\n", 2, "out of range (allowed 1..1000000)"},
    {"[backfill]\nbatch_size = 99999999999999999999999\n", 2, "out of range"},
    {"[backfill]\nbatch_size = 10k\n", 2,
     "[backfill] batch_size: '10k' is not an integer (allowed 1..1000000)"},
    {"[backfill]\nbatch_size = 0x10\n", 2, "is not an integer"},
    {"[backfill]\nbatch_size =\n", 2, "[backfill] batch_size: empty value (expected an integer 1..1000000)"},
    {"[backfill]\nbatch_size = 10 # rows\n", 2, "starts a comment only at the beginning of a line"},
    {"[backfill]\nyield_ms = -1\n", 2, "[backfill] yield_ms: -1 is out of range (allowed 0..60000)"},
    {"[backfill]\nenabled = maybe\n", 2, "[backfill] enabled: 'maybe' is not a boolean"},
    {"listen = 127.0.0.1:http\n", 1, "port 'http' is not a number"},
    {"listen = 127.0.0.1:70000\n", 1, "port 70000 is out of range (allowed 1..65535)"},
    {"listen = 127.0.0.1:0\n", 1, "port 0 is out of range"},
    {"listen = 127.0.0.1:\n", 1, "missing port"},
    {"listen = example.com:80\n", 1, "host 'example.com' is not a numeric IPv4 address"},
    {"listen = ::1:3000\n", 1, "write IPv6 addresses in brackets"},
    {"listen = [::1]\n", 1, "expected ':port' after ']'"},
    {"listen = [::g]:80\n", 1, "is not a numeric IPv6 address"},
    {"listen = 1 2 3 4 5 6 7 8 9\n", 1, "too many listen addresses (at most 8)"},
    {"listen = 1.2.3.4:5 1.2.3.4:5\n", 1, "listed twice"},
    {"listen =\n", 1, "listen: empty value"},
    {"workers = many\n", 1, "workers: 'many' is neither 'auto' nor an integer (allowed auto or 1..64)"},
    {"workers = 0\n", 1, "workers: 0 is out of range (allowed auto or 1..64)"},
    {"[http]\ndoc_hold_ms = 0\n", 2, "[http] doc_hold_ms: 0 is out of range (allowed 1..3600000)"},
    {"[http]\ndoc_holds = 257\n", 2, "[http] doc_holds: 257 is out of range (allowed 0..256)"},
    {"workers = 65\n", 1, "workers: 65 is out of range (allowed auto or 1..64)"},
    {"log_level = verbose\n", 1,
     "log_level: 'verbose' is not a log level (allowed debug, info, warn, error)"},
    {"poll_interval_ms = 5\n", 1, "poll_interval_ms: 5 is out of range (allowed 10..3600000)"},
    {"db = /x\njust some words\n", 2, "expected 'key = value' but found no '='"},
    {"= 5\n", 1, "missing key name before '='"},
    {"db =\n", 1, "db: empty value (expected a path)"},
    {"db = /x.db # main\n", 1, "comments must be on their own line"},
    {"db = \"/x.db\"\n", 1, "without quotes"},
    {"user = a b\n", 1, "is not a user name"},
    {"[analytics]\ntopology = -1\n", 2, "[analytics] topology: -1 is out of range (allowed 0..86400)"},
    {"[analytics]\nrf = 86401\n", 2, "[analytics] rf: 86401 is out of range (allowed 0..86400)"},
    {"[analytics]\ndefault_interval_s = 0\n", 2, "out of range (allowed 1..86400)"},
    {"[analytics]\nbogus = 1\n", 2, "unknown key 'bogus' in [analytics]"},
    {"[http]\nreq_timeout_ms = fast\n", 2, "[http] req_timeout_ms: 'fast' is not an integer"},
    {"[http]\nmax_connections = 0\n", 2, "[http] max_connections: 0 is out of range (allowed 1..1000000)"},
    {"[http]\naccept_backoff_ms = 5\n", 2, "[http] accept_backoff_ms: 5 is out of range (allowed 10..60000)"},
    {"[http]\nwrite_timeout_ms = 999\n", 2, "[http] write_timeout_ms: 999 is out of range (allowed 1000..3600000)"},
    {"[http]\nconn_buffer_kb = 8\n", 2, "[http] conn_buffer_kb: 8 is out of range (allowed 64..4194304)"},
    {"[http]\nworker_buffer_mb = 0\n", 2, "[http] worker_buffer_mb: 0 is out of range (allowed 1..65536)"},
    {"[http]\nmax_query_params = 0\n", 2, "[http] max_query_params: 0 is out of range (allowed 1..1024)"},
    {"[http]\nhttp2 = h2c\n", 2, "[http] http2: 'h2c' is not a boolean"},
    {"[http]\nadmin_listen = 127.0.0.1\n", 2, "[http] admin_listen: '127.0.0.1': port"},
    {"[http]\nadmin_listen = 1.2.3.4:5 6.7.8.9:10\n", 2, "[http] admin_listen:"},
    {"[http]\nadmin_listen =\n", 2, "[http] admin_listen: empty value (expected one host:port address)"},
    {"[analytics]\nmax_shapes = 0\n", 2, "[analytics] max_shapes: 0 is out of range (allowed 1..100000)"},
    {"[analytics]\nshape_idle_s = 5\n", 2, "[analytics] shape_idle_s: 5 is out of range (allowed 10..86400)"},
    {"[channels]\nPublic = 8b3387e9c5cdea6ac9e5edbaa115cd7\n", 2,
     "[channels] Public: bad channel key '8b3387e9c5cdea6ac9e5edbaa115cd7' (expected 32 hex characters"},
    {"[channels]\nPublic = 8b3387e9c5cdea6ac9e5edbaa115cd7z\n", 2, "bad channel key"},
    {"[channels]\nPublic =\n", 2, "[channels] Public: empty value"},
    {"[channels]\nhashtags = #a wardriving\n", 2, "'wardriving' is not a hashtag (expected #name)"},
    {"[channels]\nhashtags = #a # comment\n", 2, "'#' is not a hashtag"},
    {"[channels]\nhashtags =\n", 2, "[channels] hashtags: empty value"},
    {"[http]\nui = maybe\n", 2, "[http] ui: 'maybe' is not a boolean (allowed yes/no, true/false, on/off, 1/0)"},
    {"[http]\nweb_root = /nonexistent/meshsnap-web\n", 2, "[http] web_root: /nonexistent/meshsnap-web: No such file"},
    {"[http]\nweb_root = /srv/www # the site\n", 2, "comments must be on their own line"},
    {"[frontend]\nsite_nam = x\n", 2, "unknown key 'site_nam' in [frontend]"},
    {"[frontend]\nmap_center = 47.6\n", 2, "[frontend] map_center: '47.6' is not 'LAT, LON'"},
    {"[frontend]\nmap_center = 95, 10\n", 2, "out of range (latitude -90..90, longitude -180..180)"},
    {"[frontend]\nmap_zoom = 21\n", 2, "[frontend] map_zoom: '21' is not an integer in 1..20"},
    {"[frontend]\nlive_map_max_nodes = 50\n", 2, "is not an integer in 100..20000"},
    {"[frontend]\ntimestamp_mode = soon\n", 2, "[frontend] timestamp_mode: 'soon' is not one of ago, absolute"},
    {"[frontend]\nregion = SEA\n", 2, "[frontend] region: 'SEA' is not 'CODE Label'"},
    {"[frontend]\ntheme_accnt = #fff\n", 2, "unknown key 'theme_accnt' in [frontend]"},
    {"[frontend]\nnode_color_router = #fff\n", 2, "unknown key 'node_color_router' in [frontend]"},
    {"[frontend]\ntype_color_advert = #fff;x\n", 2, "is not a CSS colour"},
    {"[frontend]\nsite_name = \"Mesh\"\n", 2, "without quotes"},
    {"[frontend]\nsite_name = Mesh # west\n", 2, "comments must be on their own line"},
    {"[frontnd]\nsite_name = x\n", 1, "unknown section [frontnd] (known: http, analytics, backfill, websocket, channels, frontend, mqtt, mqtt.NAME)"},
};

static void test_bad_files(void)
{
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        char err[512] = "", want[1200];
        const char *path = write_conf("bad.conf", BAD[i].body);
        msn_config_t c;
        msn_config_defaults(&c);
        int rc = msn_config_load_file(&c, path, err, sizeof(err));
        CHECK_EQ_INT(rc, -1);
        snprintf(want, sizeof(want), "%s:%d: ", path, BAD[i].line);
        if (strncmp(err, want, strlen(want)) != 0 || !contains(err, BAD[i].reason)) {
            fprintf(stderr, "case %zu: got \"%s\"\n  want prefix \"%s\" and \"%s\"\n", i, err, want,
                    BAD[i].reason);
            msn_test_failures++;
        }
        msn_config_free(&c);
    }
}

static void test_missing_file(void)
{
    char err[512] = "", path[600];
    snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
    msn_config_t c;
    msn_config_defaults(&c);
    CHECK_EQ_INT(msn_config_load_file(&c, path, err, sizeof(err)), -1);
    CHECK(strncmp(err, path, strlen(path)) == 0);
    CHECK(contains(err, "cannot open"));
    msn_config_free(&c);
}

static void test_parse_listen(void)
{
    char err[256];
    msn_listen_addr_t a;
    CHECK_EQ_INT(msn_config_parse_listen("127.0.0.1:3000", &a, err, sizeof(err)), 0);
    CHECK_EQ_STR(a.host, "127.0.0.1");
    CHECK_EQ_INT(a.port, 3000);
    CHECK_EQ_INT(msn_config_parse_listen("[::1]:3000", &a, err, sizeof(err)), 0);
    CHECK_EQ_STR(a.host, "::1");
    CHECK_EQ_INT(a.port, 3000);
    CHECK_EQ_INT(msn_config_parse_listen("[2001:db8::42]:65535", &a, err, sizeof(err)), 0);
    CHECK_EQ_STR(a.host, "2001:db8::42");
    CHECK_EQ_INT(a.port, 65535);
    CHECK_EQ_INT(msn_config_parse_listen("[::]:80", &a, err, sizeof(err)), 0);
    CHECK_EQ_STR(a.host, "::");
    CHECK_EQ_INT(msn_config_parse_listen(":8080", &a, err, sizeof(err)), 0);
    CHECK_EQ_STR(a.host, "0.0.0.0");
    CHECK_EQ_INT(a.port, 8080);
    CHECK_EQ_INT(msn_config_parse_listen("9000", &a, err, sizeof(err)), 0);
    CHECK_EQ_STR(a.host, "0.0.0.0");
    CHECK_EQ_INT(a.port, 9000);
    CHECK_EQ_INT(msn_config_parse_listen("localhost:1", &a, err, sizeof(err)), 0);
    CHECK_EQ_STR(a.host, "127.0.0.1");
    CHECK_EQ_INT(a.port, 1);
    CHECK_EQ_INT(msn_config_parse_listen("*:3000", &a, err, sizeof(err)), 0);
    CHECK_EQ_STR(a.host, "0.0.0.0");

    /* Failures leave out untouched. */
    msn_listen_addr_t keep = a;
    const char *bad[] = {"",        "3000x", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:+80",   "1.2.3:80",
                         "[::1:80", "[]:80", "[1.2.3.4]:80",  "host:80",    "1.2.3.4:80:90", "[::1]:"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (msn_config_parse_listen(bad[i], &a, err, sizeof(err)) != -1) {
            fprintf(stderr, "'%s' was accepted\n", bad[i]);
            msn_test_failures++;
        }
        CHECK(err[0] != '\0');
    }
    CHECK_EQ_STR(a.host, keep.host);
    CHECK_EQ_INT(a.port, keep.port);
}

static void test_flags_override(void)
{
    char err[512] = "";
    const char *path =
        write_conf("flags.conf", "db = /file.db\nlisten = 127.0.0.1:3000 [::1]:3000\nworkers = 2\n"
                                 "[backfill]\nbatch_size = 100\n");
    msn_config_t c;
    msn_config_defaults(&c);
    CHECK_EQ_INT(msn_config_load_file(&c, path, err, sizeof(err)), 0);
    CHECK_EQ_INT(c.n_listen, 2);
    CHECK_EQ_INT(msn_config_set(&c, NULL, "listen", "127.0.0.1:8080", err, sizeof(err)), 0);
    CHECK_EQ_INT(c.n_listen, 1);
    CHECK_EQ_STR(c.listen[0].host, "127.0.0.1");
    CHECK_EQ_INT(c.listen[0].port, 8080);
    CHECK_EQ_INT(msn_config_set(&c, "", "db", "/flag.db", err, sizeof(err)), 0);
    CHECK_EQ_STR(c.db, "/flag.db");
    CHECK_EQ_INT(msn_config_set(&c, NULL, "workers", "auto", err, sizeof(err)), 0);
    CHECK_EQ_INT(c.workers, 0);
    CHECK_EQ_INT(msn_config_set(&c, "backfill", "batch_size", "7", err, sizeof(err)), 0);
    CHECK_EQ_INT(c.backfill.batch_size, 7);
    CHECK_EQ_INT(msn_config_set(&c, "analytics", "roles", "42", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_config_analytic_interval(&c, MSN_AN_ROLES), 42);

    /* Errors carry no file or line, and leave c unchanged. */
    CHECK_EQ_INT(msn_config_set(&c, "backfill", "batch_size", "-3", err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "[backfill] batch_size: -3 is out of range (allowed 1..1000000)");
    CHECK_EQ_INT(c.backfill.batch_size, 7);
    CHECK_EQ_INT(msn_config_set(&c, NULL, "listen", "[::1]:3001 1.2.3.4:99999", err, sizeof(err)), -1);
    CHECK(contains(err, "listen: '1.2.3.4:99999': port 99999 is out of range"));
    CHECK(!contains(err, path));
    CHECK_EQ_INT(c.n_listen, 1);
    CHECK_EQ_INT(c.listen[0].port, 8080);
    CHECK_EQ_INT(msn_config_set(&c, NULL, "db", "", err, sizeof(err)), -1);
    CHECK_EQ_STR(c.db, "/flag.db");
    CHECK_EQ_INT(msn_config_set(&c, "nope", "x", "1", err, sizeof(err)), -1);
    CHECK(contains(err, "unknown section [nope]"));
    CHECK_EQ_INT(msn_config_set(&c, "channels", "#foo", "00112233445566778899aabbccddeeff", err, sizeof(err)),
                 -1);
    CHECK(contains(err, "hashtags"));
    CHECK_EQ_INT(c.n_channels, 0);
    msn_config_free(&c);
}

static void test_channels_replace(void)
{
    char err[256];
    msn_config_t c;
    msn_config_defaults(&c);
    CHECK_EQ_INT(msn_config_set(&c, "channels", "A", "00000000000000000000000000000000", err, sizeof(err)),
                 0);
    CHECK_EQ_INT(msn_config_set(&c, "channels", "A", "ffffffffffffffffffffffffffffffff", err, sizeof(err)),
                 0);
    CHECK_EQ_INT(c.n_channels, 1);
    CHECK_EQ_STR(channel_key(&c, "A"), "ffffffffffffffffffffffffffffffff");
    /* Capacity: 64 channels in all; the 65th is refused and nothing of its line is added. */
    for (int i = 1; i < MSN_MAX_CHANNELS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "#c%d", i);
        CHECK_EQ_INT(msn_config_set(&c, "channels", "hashtags", name, err, sizeof(err)), 0);
    }
    CHECK_EQ_INT(c.n_channels, MSN_MAX_CHANNELS);
    CHECK_EQ_INT(msn_config_set(&c, "channels", "hashtags", "#c1 #extra", err, sizeof(err)), -1);
    CHECK(contains(err, "too many channels (at most 64)"));
    CHECK_EQ_INT(c.n_channels, MSN_MAX_CHANNELS);
    CHECK_EQ_INT(msn_config_set(&c, "channels", "hashtags", "#c1 #c2", err, sizeof(err)), 0);
    msn_config_free(&c);
    CHECK_EQ_INT(c.n_channels, 0);
}

static void test_validate(void)
{
    char err[512];
    msn_config_t c;
    msn_config_defaults(&c);
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), -1);
    CHECK(contains(err, "db is not set"));
    CHECK_EQ_INT(msn_config_set(&c, NULL, "db", "/x.db", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), -1);
    CHECK(contains(err, "state_dir is not set"));
    CHECK_EQ_INT(msn_config_set(&c, NULL, "state_dir", "/tmp", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), 0);
    c.n_listen = 0;
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), -1);
    CHECK(contains(err, "no listen address"));
    c.n_listen = 1;
    c.backfill.batch_size = -1; /* set directly, bypassing the parser */
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), -1);
    CHECK(contains(err, "[backfill] batch_size: -1 is out of range (allowed 1..1000000)"));
    c.backfill.batch_size = 10;
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), 0);
    /* the admin listener needs an address of its own */
    CHECK_EQ_INT(msn_config_set(&c, "http", "admin_listen", "127.0.0.1:3000", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), -1);
    CHECK(contains(err, "[http] admin_listen: 127.0.0.1:3000 is also a `listen` address"));
    CHECK_EQ_INT(msn_config_set(&c, "http", "admin_listen", "localhost:3001", err, sizeof(err)), 0);
    CHECK_EQ_INT(msn_config_validate(&c, err, sizeof(err)), 0);
    CHECK_EQ_STR(c.http.admin_listen.host, "127.0.0.1");
    msn_config_free(&c);
}

static void test_worker_count(void)
{
    msn_config_t c;
    msn_config_defaults(&c);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long want = cores < 1 ? 1 : cores > MSN_MAX_WORKERS ? MSN_MAX_WORKERS : cores;
    CHECK_EQ_INT(msn_config_worker_count(&c), want);
    c.workers = 5;
    CHECK_EQ_INT(msn_config_worker_count(&c), 5);
    c.workers = 1000;
    CHECK_EQ_INT(msn_config_worker_count(&c), MSN_MAX_WORKERS);
    msn_config_free(&c);
}

static void test_copy_free(void)
{
    char err[512] = "";
    const char *path = write_conf("copy.conf", EVERY_KEY);
    msn_config_t a, b;
    msn_config_defaults(&a);
    CHECK_EQ_INT(msn_config_load_file(&a, path, err, sizeof(err)), 0);
    memset(&b, 0xa5, sizeof(b)); /* dst need not be initialised */
    msn_config_copy(&b, &a);
    CHECK(b.db != a.db);
    CHECK(b.channels[0].name != a.channels[0].name);
    msn_config_free(&a);
    CHECK(a.db == NULL && a.state_dir == NULL && a.user == NULL && a.config_path == NULL);
    CHECK_EQ_INT(a.n_channels, 0);
    check_every_key(&b);
    CHECK_EQ_STR(b.config_path, path);
    CHECK_EQ_STR(channel_key(&b, "#test"), "9cd8fcf22a47333b591d96a2b848b73f");
    msn_config_free(&b);
    msn_config_free(&b); /* a second free is harmless */
}

static void test_dump_roundtrip(void)
{
    char err[512] = "", path2[600];
    const char *path = write_conf("dump-src.conf", EVERY_KEY);
    msn_config_t a, b;
    msn_config_defaults(&a);
    CHECK_EQ_INT(msn_config_load_file(&a, path, err, sizeof(err)), 0);
    snprintf(path2, sizeof(path2), "%s/dump-out.conf", tmpdir);
    FILE *f = fopen(path2, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    msn_config_dump(&a, f);
    fclose(f);
    msn_config_defaults(&b);
    int rc = msn_config_load_file(&b, path2, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "reload of dump: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    check_every_key(&b);
    for (int i = 0; i < a.n_channels; i++)
        CHECK_EQ_STR(channel_key(&b, a.channels[i].name), a.channels[i].key_hex);
    msn_config_free(&a);
    msn_config_free(&b);

    /* Defaults: unset strings are written commented out; reloading keeps them unset. */
    msn_config_defaults(&a);
    f = fopen(path2, "w");
    msn_config_dump(&a, f);
    fclose(f);
    msn_config_defaults(&b);
    b.workers = 9;
    CHECK_EQ_INT(msn_config_load_file(&b, path2, err, sizeof(err)), 0);
    CHECK(b.db == NULL);
    CHECK_EQ_INT(b.workers, 0);
    CHECK_EQ_INT(b.n_listen, 1);
    CHECK_EQ_INT(b.n_channels, 0);
    msn_config_free(&a);
    msn_config_free(&b);
}

/* [http] web_root: checked when set, stored resolved; a refusal names the file and line. */
static void test_web_root(void)
{
    char dir[600], link[600], noindex[600], file[800], conf[1400], err[1800] = "";
    snprintf(dir, sizeof(dir), "%s/site", tmpdir);
    snprintf(noindex, sizeof(noindex), "%s/empty-site", tmpdir);
    snprintf(link, sizeof(link), "%s/site-link", tmpdir);
    mkdir(dir, 0755);
    mkdir(noindex, 0755);
    snprintf(file, sizeof(file), "%s/index.html", dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs("<!DOCTYPE html>\n", f);
    fclose(f);
    unlink(link);
    CHECK_EQ_INT(symlink(dir, link), 0);
    char resolved[PATH_MAX];
    CHECK(realpath(dir, resolved) != NULL);

    msn_config_t c;
    msn_config_defaults(&c);
    CHECK_EQ_INT(c.http.ui, 1);
    CHECK_EQ_STR(msn_config_ui_root(&c), MESHSNAP_UI_DIR);
    snprintf(conf, sizeof(conf), "[http]\nweb_root = %s\n", link);
    CHECK_EQ_INT(msn_config_load_file(&c, write_conf("web.conf", conf), err, sizeof(err)), 0);
    CHECK_EQ_STR(c.http.web_root, resolved); /* the link resolved */
    msn_config_free(&c);

    /* a directory without index.html; a file; a missing path */
    const char *bad[] = {noindex, file, "/nonexistent/x"};
    const char *why[] = {"no index.html in it", "not a directory", "No such file or directory"};
    for (int i = 0; i < 3; i++) {
        msn_config_defaults(&c);
        snprintf(conf, sizeof(conf), "# site\n[http]\nweb_root = %s\n", bad[i]);
        const char *path = write_conf("web-bad.conf", conf);
        CHECK_EQ_INT(msn_config_load_file(&c, path, err, sizeof(err)), -1);
        char want[2400]; /* a path (up to 1023 bytes), a directory and the text */
        snprintf(want, sizeof(want), "%s:3: [http] web_root: %s: ", path, bad[i]);
        if (strncmp(err, want, strlen(want)) != 0 || !contains(err, why[i])) {
            fprintf(stderr, "web_root %s: got \"%s\"\n", bad[i], err);
            msn_test_failures++;
        }
        msn_config_free(&c);
    }
    /* an unreadable directory (root reads anything: only checked for other users) */
    if (geteuid() != 0) {
        char locked[700];
        snprintf(locked, sizeof(locked), "%s/locked", tmpdir);
        mkdir(locked, 0755);
        snprintf(file, sizeof(file), "%s/index.html", locked);
        f = fopen(file, "w");
        if (f)
            fclose(f);
        chmod(locked, 0);
        msn_config_defaults(&c);
        CHECK_EQ_INT(msn_config_set(&c, "http", "web_root", locked, err, sizeof(err)), -1);
        CHECK(contains(err, "cannot read the directory"));
        msn_config_free(&c);
        chmod(locked, 0755);
    }
    /* the flag's way in: msn_config_set */
    msn_config_defaults(&c);
    CHECK_EQ_INT(msn_config_set(&c, "http", "web_root", noindex, err, sizeof(err)), -1);
    CHECK(contains(err, "[http] web_root: ") && contains(err, "no index.html"));
    CHECK(c.http.web_root == NULL);
    CHECK_EQ_INT(msn_config_set(&c, "http", "web_root", dir, err, sizeof(err)), 0);
    CHECK_EQ_STR(c.http.web_root, resolved);
    msn_config_free(&c);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s", msn_test_tmpdir("config"));
    MSN_RUN(test_defaults);
    MSN_RUN(test_shipped_conf);
    MSN_RUN(test_every_key);
    MSN_RUN(test_hashtag_key);
    MSN_RUN(test_bad_files);
    MSN_RUN(test_missing_file);
    MSN_RUN(test_parse_listen);
    MSN_RUN(test_flags_override);
    MSN_RUN(test_channels_replace);
    MSN_RUN(test_validate);
    MSN_RUN(test_worker_count);
    MSN_RUN(test_copy_free);
    MSN_RUN(test_dump_roundtrip);
    MSN_RUN(test_web_root);
    const char *files[] = {"every.conf", "bad.conf",      "flags.conf",
                           "copy.conf",  "dump-src.conf", "dump-out.conf"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return msn_test_done();
}
