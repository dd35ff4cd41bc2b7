/* config_frontend.c: the [frontend] section (see config_frontend.h). */
#include "config_frontend.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

const char *const msn_frontend_theme_keys[] = {
    "accent",   "accentHover", "navBg",     "navBg2",   "navText",    "navTextMuted", "navActiveBg",
    "background", "text",      "textMuted", "border",   "statusGreen", "statusYellow", "statusRed",
    "surface1", "surface2",    "surface3",  "sectionBg", "cardBg",    "contentBg",    "detailBg",
    "inputBg",  "rowStripe",   "rowHover",  "selectedBg", "font",     "mono",         NULL,
};

static const char *const NODE_ROLES[] = {"repeater", "companion", "room", "sensor", "observer", NULL};
static const char *const PACKET_TYPES[] = {"req",  "response", "txt_msg",   "ack",     "advert",     "grp_txt",
                                           "grp_data", "anon_req", "path", "trace", "multipart", "control",
                                           "raw_custom", "unknown", NULL};

#define COLOR_MAX 64

static int in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* Text shown on the page: printable, not quoted, no trailing-comment look-alike. */
static int check_text(const char *what, const char *v, size_t max, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n == 0) {
        snprintf(err, errlen, "[frontend] %s: empty value", what);
        return -1;
    }
    if (n > max) {
        snprintf(err, errlen, "[frontend] %s: longer than %zu bytes", what, max);
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(err, errlen, "[frontend] %s: holds a control character", what);
            return -1;
        }
        if (*p == '#' && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
            snprintf(err, errlen, "[frontend] %s: '%s' holds ' #': comments must be on their own line", what, v);
            return -1;
        }
    }
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        snprintf(err, errlen, "[frontend] %s: values are taken literally: write %s without quotes", what, v);
        return -1;
    }
    return 0;
}

static void set_owned(char **field, const char *v)
{
    free(*field);
    *field = msn_xstrdup(v);
}

static int parse_int(const char *what, const char *v, int min, int max, int *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno == ERANGE || x < min || x > max) {
        snprintf(err, errlen, "[frontend] %s: '%s' is not an integer in %d..%d", what, v, min, max);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int parse_center(const char *v, double *lat, double *lon, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double a = strtod(v, &end);
    const char *p = end;
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    if (end == v || p == end) {
        snprintf(err, errlen, "[frontend] map_center: '%s' is not 'LAT, LON'", v);
        return -1;
    }
    double b = strtod(p, &end);
    if (end == p || *end != '\0' || errno == ERANGE || !isfinite(a) || !isfinite(b)) {
        snprintf(err, errlen, "[frontend] map_center: '%s' is not 'LAT, LON'", v);
        return -1;
    }
    if (a < -90 || a > 90 || b < -180 || b > 180) {
        snprintf(err, errlen, "[frontend] map_center: %s is out of range (latitude -90..90, longitude -180..180)", v);
        return -1;
    }
    *lat = a;
    *lon = b;
    return 0;
}

static int pick(const char *what, const char *v, const char *const *allowed, const char **out, char *err,
                size_t errlen)
{
    for (int i = 0; allowed[i]; i++)
        if (strcmp(allowed[i], v) == 0) {
            *out = allowed[i];
            return 0;
        }
    char list[128] = "";
    for (int i = 0; allowed[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", allowed[i]);
    snprintf(err, errlen, "[frontend] %s: '%s' is not one of %s", what, v, list);
    return -1;
}

/* "accent_hover" -> "accentHover", "nav_bg2" -> "navBg2". */
static void snake_to_camel(const char *s, char *out, size_t n)
{
    size_t o = 0;
    int up = 0;
    for (; *s && o + 1 < n; s++) {
        if (*s == '_') {
            up = 1;
            continue;
        }
        out[o++] = up ? (char)toupper((unsigned char)*s) : *s;
        up = 0;
    }
    out[o] = '\0';
}

static int set_region(msn_frontend_conf_t *f, const char *v, char *err, size_t errlen)
{
    size_t code_len = strcspn(v, " \t");
    const char *label = v + code_len;
    while (*label == ' ' || *label == '\t')
        label++;
    if (code_len == 0 || *label == '\0') {
        snprintf(err, errlen, "[frontend] region: '%s' is not 'CODE Label' (e.g. region = SJC San Jose, US)", v);
        return -1;
    }
    char code[64];
    if (code_len >= sizeof(code)) {
        snprintf(err, errlen, "[frontend] region: the code of '%s' is longer than %zu bytes", v, sizeof(code) - 1);
        return -1;
    }
    memcpy(code, v, code_len);
    code[code_len] = '\0';
    if (check_text("region", code, sizeof(code) - 1, err, errlen) < 0 ||
        check_text("region", label, MSN_FRONTEND_TEXT_MAX, err, errlen) < 0)
        return -1;
    for (int i = 0; i < f->n_regions; i++)
        if (strcmp(f->regions[i].code, code) == 0) {
            set_owned(&f->regions[i].label, label);
            return 0;
        }
    if (f->n_regions >= MSN_FRONTEND_MAX_REGIONS) {
        snprintf(err, errlen, "[frontend] region: too many regions (at most %d)", MSN_FRONTEND_MAX_REGIONS);
        return -1;
    }
    f->regions[f->n_regions].code = msn_xstrdup(code);
    f->regions[f->n_regions].label = msn_xstrdup(label);
    f->n_regions++;
    return 0;
}

/* theme_*, theme_dark_*, node_color_*, type_color_*: returns 1 when key is none of them. */
static int set_color(msn_frontend_conf_t *f, const char *key, const char *v, char *err, size_t errlen)
{
    msn_color_section_t sec;
    const char *suffix;
    char name[64];
    if (strncmp(key, "theme_dark_", 11) == 0) {
        sec = MSN_COLOR_THEME_DARK;
        suffix = key + 11;
    } else if (strncmp(key, "theme_", 6) == 0) {
        sec = MSN_COLOR_THEME;
        suffix = key + 6;
    } else if (strncmp(key, "node_color_", 11) == 0) {
        sec = MSN_COLOR_NODE;
        suffix = key + 11;
    } else if (strncmp(key, "type_color_", 11) == 0) {
        sec = MSN_COLOR_TYPE;
        suffix = key + 11;
    } else {
        return 1;
    }
    if (sec == MSN_COLOR_THEME || sec == MSN_COLOR_THEME_DARK) {
        snake_to_camel(suffix, name, sizeof(name));
        if (!in_list(msn_frontend_theme_keys, name)) {
            snprintf(err, errlen, "unknown key '%s' in [frontend] (theme_<name> and theme_dark_<name> take a theme "
                     "name in snake case, e.g. theme_accent_hover)", key);
            return -1;
        }
    } else if (sec == MSN_COLOR_NODE) {
        if (!in_list(NODE_ROLES, suffix)) {
            snprintf(err, errlen, "unknown key '%s' in [frontend] (node_color_<role>: repeater, companion, room, "
                     "sensor, observer)", key);
            return -1;
        }
        snprintf(name, sizeof(name), "%s", suffix);
    } else {
        if (!in_list(PACKET_TYPES, suffix)) {
            snprintf(err, errlen, "unknown key '%s' in [frontend] (type_color_<type>: a payload type name such as "
                     "advert or grp_txt)", key);
            return -1;
        }
        size_t i = 0;
        for (; suffix[i] && i + 1 < sizeof(name); i++)
            name[i] = (char)toupper((unsigned char)suffix[i]);
        name[i] = '\0';
    }
    if (strlen(v) > COLOR_MAX) {
        snprintf(err, errlen, "[frontend] %s: longer than %d bytes", key, COLOR_MAX);
        return -1;
    }
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\' || *p == ';') {
            snprintf(err, errlen, "[frontend] %s: '%s' is not a CSS colour", key, v);
            return -1;
        }
    if (*v == '\0') {
        snprintf(err, errlen, "[frontend] %s: empty value (expected a CSS colour such as #4a9eff)", key);
        return -1;
    }
    for (int i = 0; i < f->n_colors; i++)
        if (f->colors[i].section == sec && strcmp(f->colors[i].name, name) == 0) {
            set_owned(&f->colors[i].value, v);
            return 0;
        }
    if (f->n_colors >= MSN_FRONTEND_MAX_COLORS) {
        snprintf(err, errlen, "[frontend] %s: too many colours (at most %d)", key, MSN_FRONTEND_MAX_COLORS);
        return -1;
    }
    msn_frontend_color_t *c = &f->colors[f->n_colors++];
    c->section = sec;
    c->name = msn_xstrdup(name);
    c->value = msn_xstrdup(v);
    c->key = msn_xstrdup(key);
    return 0;
}

int msn_frontend_conf_set(msn_frontend_conf_t *f, const char *key, const char *value, char *err, size_t errlen)
{
    static const char *const modes[] = {"ago", "absolute", NULL};
    static const char *const zones[] = {"local", "utc", NULL};
    static const char *const formats[] = {"iso", "iso-seconds", "locale", NULL};
    struct {
        const char *key;
        char **field;
    } texts[] = {
        {"site_name", &f->site_name},         {"tagline", &f->tagline},
        {"hero_title", &f->hero_title},       {"hero_subtitle", &f->hero_subtitle},
        {"tiles_light_url", &f->tiles_light_url}, {"tiles_dark_url", &f->tiles_dark_url},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (strcmp(key, texts[i].key) == 0) {
            if (check_text(key, value, MSN_FRONTEND_TEXT_MAX * 5, err, errlen) < 0)
                return -1;
            if (strstr(key, "url") == NULL && strlen(value) > MSN_FRONTEND_TEXT_MAX) {
                snprintf(err, errlen, "[frontend] %s: longer than %d bytes", key, MSN_FRONTEND_TEXT_MAX);
                return -1;
            }
            set_owned(texts[i].field, value);
            return 0;
        }
    if (strcmp(key, "map_center") == 0) {
        double lat, lon;
        if (parse_center(value, &lat, &lon, err, errlen) < 0)
            return -1;
        f->has_center = 1;
        f->center_lat = lat;
        f->center_lon = lon;
        return 0;
    }
    if (strcmp(key, "map_zoom") == 0)
        return parse_int(key, value, 1, 20, &f->zoom, err, errlen);
    if (strcmp(key, "live_map_max_nodes") == 0)
        return parse_int(key, value, 100, 20000, &f->live_map_max_nodes, err, errlen);
    if (strcmp(key, "propagation_buffer_ms") == 0)
        return parse_int(key, value, 1, 600000, &f->propagation_buffer_ms, err, errlen);
    if (strcmp(key, "timestamp_mode") == 0)
        return pick(key, value, modes, &f->timestamp_mode, err, errlen);
    if (strcmp(key, "timestamp_timezone") == 0)
        return pick(key, value, zones, &f->timestamp_timezone, err, errlen);
    if (strcmp(key, "timestamp_format") == 0)
        return pick(key, value, formats, &f->timestamp_format, err, errlen);
    if (strcmp(key, "region") == 0)
        return set_region(f, value, err, errlen);
    int rc = set_color(f, key, value, err, errlen);
    if (rc <= 0)
        return rc;
    snprintf(err, errlen, "unknown key '%s' in [frontend]", key);
    return -1;
}

static char *dup_or_null(const char *s)
{
    return s ? msn_xstrdup(s) : NULL;
}

void msn_frontend_conf_copy(msn_frontend_conf_t *dst, const msn_frontend_conf_t *src)
{
    *dst = *src;
    dst->site_name = dup_or_null(src->site_name);
    dst->tagline = dup_or_null(src->tagline);
    dst->hero_title = dup_or_null(src->hero_title);
    dst->hero_subtitle = dup_or_null(src->hero_subtitle);
    dst->tiles_light_url = dup_or_null(src->tiles_light_url);
    dst->tiles_dark_url = dup_or_null(src->tiles_dark_url);
    for (int i = 0; i < src->n_regions; i++) {
        dst->regions[i].code = dup_or_null(src->regions[i].code);
        dst->regions[i].label = dup_or_null(src->regions[i].label);
    }
    for (int i = 0; i < src->n_colors; i++) {
        dst->colors[i].name = dup_or_null(src->colors[i].name);
        dst->colors[i].value = dup_or_null(src->colors[i].value);
        dst->colors[i].key = dup_or_null(src->colors[i].key);
    }
}

void msn_frontend_conf_free(msn_frontend_conf_t *f)
{
    char **texts[] = {&f->site_name, &f->tagline, &f->hero_title, &f->hero_subtitle, &f->tiles_light_url,
                      &f->tiles_dark_url};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        free(*texts[i]);
        *texts[i] = NULL;
    }
    for (int i = 0; i < f->n_regions; i++) {
        free(f->regions[i].code);
        free(f->regions[i].label);
        f->regions[i].code = f->regions[i].label = NULL;
    }
    f->n_regions = 0;
    for (int i = 0; i < f->n_colors; i++) {
        free(f->colors[i].name);
        free(f->colors[i].value);
        free(f->colors[i].key);
        f->colors[i].name = f->colors[i].value = f->colors[i].key = NULL;
    }
    f->n_colors = 0;
}

static void dump_text(FILE *out, const char *key, const char *v)
{
    if (v)
        fprintf(out, "%s = %s\n", key, v);
    else
        fprintf(out, "# %s = (not set)\n", key);
}

static void dump_int(FILE *out, const char *key, int v, const char *def)
{
    if (v > 0)
        fprintf(out, "%s = %d\n", key, v);
    else
        fprintf(out, "# %s = %s (default)\n", key, def);
}

void msn_frontend_conf_dump(const msn_frontend_conf_t *f, FILE *out)
{
    dump_text(out, "site_name", f->site_name);
    dump_text(out, "tagline", f->tagline);
    dump_text(out, "hero_title", f->hero_title);
    dump_text(out, "hero_subtitle", f->hero_subtitle);
    if (f->has_center) {
        char a[32], b[32];
        msn_json_format_double(a, f->center_lat);
        msn_json_format_double(b, f->center_lon);
        fprintf(out, "map_center = %s, %s\n", a, b);
    } else {
        fprintf(out, "# map_center = (derived from the node positions)\n");
    }
    dump_int(out, "map_zoom", f->zoom, "9");
    dump_text(out, "tiles_light_url", f->tiles_light_url);
    dump_text(out, "tiles_dark_url", f->tiles_dark_url);
    dump_int(out, "live_map_max_nodes", f->live_map_max_nodes, "2000");
    dump_int(out, "propagation_buffer_ms", f->propagation_buffer_ms, "5000");
    fprintf(out, "timestamp_mode = %s\n", f->timestamp_mode ? f->timestamp_mode : "ago");
    fprintf(out, "timestamp_timezone = %s\n", f->timestamp_timezone ? f->timestamp_timezone : "local");
    fprintf(out, "timestamp_format = %s\n", f->timestamp_format ? f->timestamp_format : "iso");
    for (int i = 0; i < f->n_regions; i++)
        fprintf(out, "region = %s %s\n", f->regions[i].code, f->regions[i].label);
    for (int i = 0; i < f->n_colors; i++)
        fprintf(out, "%s = %s\n", f->colors[i].key, f->colors[i].value);
}
