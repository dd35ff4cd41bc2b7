/*
 * api_config.c: GET /api/config/{cache,client,theme,regions,map,areas,areas/polygons,
 * geo-filter}, in CoreScope's shapes (key order as its Go server writes them: struct
 * fields in order, map keys sorted), from the [frontend] section (shm/config_frontend.h)
 * and, for regions and map, the documents the master derives from the data
 * (master/frontend_doc.h). Also the write endpoints meshsnap does not take (403).
 *
 * Keys left unset give the frontend's own defaults: an empty object for a theme section,
 * null for home, CoreScope's default map centre when no node has a position.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "shm/json.h"
#include "shm/jsonr.h"

#define DEFAULT_CENTER "[37.45,-122]"
#define DEFAULT_ZOOM 9

static const msn_frontend_conf_t *frontend(const msn_api_req_t *r)
{
    static const msn_frontend_conf_t none; /* read-only: a unit test without a configuration */
    return r->cfg ? &r->cfg->frontend : &none;
}

static void kv_str(msn_buf_t *b, int *first, const char *key, const char *v)
{
    if (v == NULL)
        return;
    msn_buf_puts(b, *first ? "" : ",");
    msn_json_key(b, key);
    msn_json_strn(b, v, strlen(v));
    *first = 0;
}

void msn_api_config_cache(msn_api_req_t *r)
{
    /* the client's cache lifetimes of the analytics, in seconds: the master republishes
       them this often (the client keeps its own defaults for everything else) */
    static const struct {
        const char *key;
        int an;
    } keys[] = {
        {"analyticsChannels", MSN_AN_CHANNELS}, {"analyticsHashSizes", MSN_AN_HASH_SIZES},
        {"analyticsRF", MSN_AN_RF},             {"analyticsSubpaths", MSN_AN_SUBPATHS},
        {"analyticsTopology", MSN_AN_TOPOLOGY},
    };
    msn_buf_putc(r->body, '{');
    for (size_t i = 0; r->cfg && i < sizeof(keys) / sizeof(keys[0]); i++)
        msn_buf_printf(r->body, "%s\"%s\":%d", i ? "," : "", keys[i].key, msn_config_analytic_interval(r->cfg, keys[i].an));
    msn_buf_putc(r->body, '}');
    r->status = 200;
}

void msn_api_config_client(msn_api_req_t *r)
{
    const msn_frontend_conf_t *f = frontend(r);
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"roles\":null,\"healthThresholds\":{\"infraDegradedMs\":86400000,\"infraSilentMs\":259200000,"
                    "\"nodeDegradedMs\":3600000,\"nodeSilentMs\":86400000,\"observerOnlineMs\":3600000,"
                    "\"observerStaleMs\":86400000},\"map\":{\"tiles\":{");
    int first = 1;
    kv_str(b, &first, "darkUrl", f->tiles_dark_url);
    kv_str(b, &first, "lightUrl", f->tiles_light_url);
    msn_buf_puts(b, "}},\"tiles\":null,\"snrThresholds\":null,\"distThresholds\":null,\"maxHopDist\":null,"
                    "\"limits\":null,\"perfSlowMs\":null,\"wsReconnectMs\":null,\"cacheInvalidateMs\":null,"
                    "\"externalUrls\":null");
    msn_buf_printf(b, ",\"propagationBufferMs\":%d,\"liveMapMaxNodes\":%d",
                   f->propagation_buffer_ms > 0 ? f->propagation_buffer_ms : 5000,
                   f->live_map_max_nodes > 0 ? f->live_map_max_nodes : 2000);
    msn_buf_printf(b,
                   ",\"timestamps\":{\"defaultMode\":\"%s\",\"timezone\":\"%s\",\"formatPreset\":\"%s\","
                   "\"customFormat\":\"\",\"allowCustomFormat\":false}",
                   f->timestamp_mode ? f->timestamp_mode : "ago", f->timestamp_timezone ? f->timestamp_timezone : "local",
                   f->timestamp_format ? f->timestamp_format : "iso");
    msn_buf_puts(b, ",\"customizer\":{\"disabledTabs\":[]},\"clientRxCoverage\":false}");
    r->status = 200;
}

static int cmp_color(const void *a, const void *b)
{
    const msn_frontend_color_t *x = *(const msn_frontend_color_t *const *)a, *y = *(const msn_frontend_color_t *const *)b;
    return strcmp(x->name, y->name);
}

/* One colour section as an object, keys sorted; typeColors also carries REQUEST = REQ,
 * the name older frontends read. */
static void color_section(msn_buf_t *b, const msn_frontend_conf_t *f, msn_color_section_t sec)
{
    const msn_frontend_color_t *list[MSN_FRONTEND_MAX_COLORS + 1];
    int n = 0;
    const msn_frontend_color_t *req = NULL;
    for (int i = 0; i < f->n_colors; i++)
        if (f->colors[i].section == sec) {
            list[n++] = &f->colors[i];
            if (sec == MSN_COLOR_TYPE && strcmp(f->colors[i].name, "REQ") == 0)
                req = &f->colors[i];
        }
    msn_frontend_color_t alias = {MSN_COLOR_TYPE, (char *)"REQUEST", NULL, NULL};
    if (req) {
        alias.value = req->value;
        list[n++] = &alias;
    }
    qsort(list, (size_t)n, sizeof(list[0]), cmp_color);
    msn_buf_putc(b, '{');
    for (int i = 0; i < n; i++) {
        if (i)
            msn_buf_putc(b, ',');
        msn_json_strn(b, list[i]->name, strlen(list[i]->name));
        msn_buf_putc(b, ':');
        msn_json_strn(b, list[i]->value, strlen(list[i]->value));
    }
    msn_buf_putc(b, '}');
}

void msn_api_config_theme(msn_api_req_t *r)
{
    const msn_frontend_conf_t *f = frontend(r);
    msn_buf_t *b = r->body;
    int first = 1;
    msn_buf_puts(b, "{\"branding\":{");
    kv_str(b, &first, "siteName", f->site_name);
    kv_str(b, &first, "tagline", f->tagline);
    msn_buf_puts(b, "},\"theme\":");
    color_section(b, f, MSN_COLOR_THEME);
    msn_buf_puts(b, ",\"themeDark\":");
    color_section(b, f, MSN_COLOR_THEME_DARK);
    msn_buf_puts(b, ",\"nodeColors\":");
    color_section(b, f, MSN_COLOR_NODE);
    msn_buf_puts(b, ",\"typeColors\":");
    color_section(b, f, MSN_COLOR_TYPE);
    msn_buf_puts(b, ",\"home\":");
    if (f->hero_title || f->hero_subtitle) {
        first = 1;
        msn_buf_putc(b, '{');
        kv_str(b, &first, "heroSubtitle", f->hero_subtitle);
        kv_str(b, &first, "heroTitle", f->hero_title);
        msn_buf_putc(b, '}');
    } else {
        msn_buf_puts(b, "null");
    }
    msn_buf_puts(b, ",\"markerStroke\":{}}");
    r->status = 200;
}

/* ---- regions ---- */

typedef struct {
    const char *code;
    size_t code_len;
    const char *label; /* NULL: the code itself */
} region_t;

typedef struct {
    region_t *v;
    size_t n, cap;
} regions_t;

static void regions_add(regions_t *rs, const char *code, size_t len, const char *label)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].code_len == len && memcmp(rs->v[i].code, code, len) == 0)
            return; /* configured first: the configured label wins */
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 32;
        rs->v = msn_xrealloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    rs->v[rs->n++] = (region_t){code, len, label};
}

static void on_iata(void *ctx, int idx, const char *s, size_t n)
{
    (void)idx;
    if (s != NULL && n > 0)
        regions_add(ctx, s, n, NULL);
}

static int cmp_region(const void *a, const void *b)
{
    const region_t *x = a, *y = b;
    size_t n = x->code_len < y->code_len ? x->code_len : y->code_len;
    int c = memcmp(x->code, y->code, n);
    return c ? c : (x->code_len > y->code_len) - (x->code_len < y->code_len);
}

void msn_api_config_regions(msn_api_req_t *r)
{
    const msn_frontend_conf_t *f = frontend(r);
    regions_t rs = {0};
    for (int i = 0; i < f->n_regions; i++)
        regions_add(&rs, f->regions[i].code, strlen(f->regions[i].code), f->regions[i].label);
    const void *body;
    size_t len;
    /* the codes live in the map until the transaction ends, after the body is rendered */
    if (r->txn && msn_snap_doc_get(r->txn, r->snap, MSN_DOC_FRONTEND_IATAS, &body, &len, NULL, NULL) == 0)
        msn_json_str_array_each(body, len, on_iata, &rs);
    if (rs.n > 1)
        qsort(rs.v, rs.n, sizeof(*rs.v), cmp_region);
    msn_buf_putc(r->body, '{');
    for (size_t i = 0; i < rs.n; i++) {
        if (i)
            msn_buf_putc(r->body, ',');
        msn_json_strn(r->body, rs.v[i].code, rs.v[i].code_len);
        msn_buf_putc(r->body, ':');
        if (rs.v[i].label)
            msn_json_strn(r->body, rs.v[i].label, strlen(rs.v[i].label));
        else
            msn_json_strn(r->body, rs.v[i].code, rs.v[i].code_len);
    }
    msn_buf_putc(r->body, '}');
    free(rs.v);
    r->status = 200;
}

void msn_api_config_map(msn_api_req_t *r)
{
    const msn_frontend_conf_t *f = frontend(r);
    msn_buf_t *b = r->body;
    msn_buf_puts(b, "{\"center\":");
    const void *body;
    size_t len;
    if (f->has_center) {
        msn_buf_putc(b, '[');
        msn_json_double(b, f->center_lat);
        msn_buf_putc(b, ',');
        msn_json_double(b, f->center_lon);
        msn_buf_putc(b, ']');
    } else if (r->txn && msn_snap_doc_get(r->txn, r->snap, MSN_DOC_FRONTEND_CENTER, &body, &len, NULL, NULL) == 0 &&
               len > 2 && ((const char *)body)[0] == '[') {
        msn_buf_append(b, body, len);
    } else {
        msn_buf_puts(b, DEFAULT_CENTER);
    }
    msn_buf_printf(b, ",\"zoom\":%d}", f->zoom > 0 ? f->zoom : DEFAULT_ZOOM);
    r->status = 200;
}

void msn_api_config_areas(msn_api_req_t *r)
{
    /* meshsnap has no area filters: an empty list hides the frontend's area picker */
    msn_buf_puts(r->body, "[]");
    r->status = 200;
}

void msn_api_config_geo_filter(msn_api_req_t *r)
{
    msn_buf_puts(r->body, "{\"bufferKm\":0,\"polygon\":null,\"writeEnabled\":false}");
    r->status = 200;
}

void msn_api_write_refused(msn_api_req_t *r)
{
    msn_api_error(r, 403, "write endpoints disabled: meshsnap serves the API read-only");
}
