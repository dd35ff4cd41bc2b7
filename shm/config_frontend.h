/*
 * config_frontend.h: the [frontend] section of meshsnap.conf, what the web pages are told
 * through /api/config/{theme,client,map,regions} (worker/api_config.c).
 *
 * Keys (every one optional; an unset key keeps the frontend's own default, or a value the
 * master derives from the data, as noted):
 *   site_name, tagline            branding.siteName / branding.tagline (text, at most 200 bytes)
 *   hero_title, hero_subtitle     home.heroTitle / home.heroSubtitle
 *   map_center = LAT, LON         /api/config/map center; unset: the centroid of the node
 *                                 positions the master publishes (then of the observers'),
 *                                 else 37.45, -122 as CoreScope
 *   map_zoom = N                  1..20; unset: 9
 *   tiles_light_url, tiles_dark_url   map.tiles.{lightUrl,darkUrl} of /api/config/client
 *   live_map_max_nodes = N        100..20000 (default 2000)
 *   propagation_buffer_ms = N     1..600000 (default 5000)
 *   timestamp_mode = ago|absolute, timestamp_timezone = local|utc,
 *   timestamp_format = iso|iso-seconds|locale          timestamps.* of /api/config/client
 *   region = CODE Label...        a region name: every line adds one (CODE is an observer's
 *                                 IATA code as the data has it; the label is the rest of the
 *                                 line). /api/config/regions lists these and every IATA
 *                                 code of the observers (labelled with itself).
 *   theme_<name> = COLOR          theme.<name> (light) and
 *   theme_dark_<name> = COLOR     themeDark.<name>, <name> in snake case: theme_accent_hover
 *                                 sets accentHover; the names the frontend knows are listed
 *                                 in msn_frontend_theme_keys
 *   node_color_<role> = COLOR     nodeColors.<role> (repeater, companion, room, sensor, observer)
 *   type_color_<type> = COLOR     typeColors.<TYPE> (advert, grp_txt, ...: upper-cased)
 * A COLOR is any CSS colour text (#4a9eff, rgb(...), a name): printable, at most 64 bytes.
 *
 * Ownership: msn_frontend_conf_t owns its strings (msn_frontend_conf_free).
 * Process: plain data, part of msn_config_t (each process loads its own copy).
 */
#ifndef MSN_CONFIG_FRONTEND_H
#define MSN_CONFIG_FRONTEND_H

#include <stdio.h>

#define MSN_FRONTEND_MAX_REGIONS 128
#define MSN_FRONTEND_MAX_COLORS 128
#define MSN_FRONTEND_TEXT_MAX 200

/* Where a colour goes in /api/config/theme. */
typedef enum {
    MSN_COLOR_THEME,      /* "theme" */
    MSN_COLOR_THEME_DARK, /* "themeDark" */
    MSN_COLOR_NODE,       /* "nodeColors" */
    MSN_COLOR_TYPE,       /* "typeColors" */
} msn_color_section_t;

typedef struct {
    msn_color_section_t section;
    char *name;  /* as the JSON key: "accentHover", "repeater", "ADVERT" */
    char *value;
    char *key;   /* the config key it came from: "theme_accent_hover" (for dump) */
} msn_frontend_color_t;

typedef struct {
    char *code;  /* as configured (case kept) */
    char *label;
} msn_frontend_region_t;

typedef struct {
    char *site_name, *tagline, *hero_title, *hero_subtitle;
    int has_center;
    double center_lat, center_lon;
    int zoom;                  /* 0 = default (9) */
    char *tiles_light_url, *tiles_dark_url;
    int live_map_max_nodes;    /* 0 = default (2000) */
    int propagation_buffer_ms; /* 0 = default (5000) */
    const char *timestamp_mode;     /* NULL = "ago"; else a static string */
    const char *timestamp_timezone; /* NULL = "local" */
    const char *timestamp_format;   /* NULL = "iso" */
    msn_frontend_region_t regions[MSN_FRONTEND_MAX_REGIONS];
    int n_regions;
    msn_frontend_color_t colors[MSN_FRONTEND_MAX_COLORS];
    int n_colors;
} msn_frontend_conf_t;

/** The theme keys the frontend applies (camel case), NULL-terminated. */
extern const char *const msn_frontend_theme_keys[];

/** Sets one [frontend] key. A key given again keeps the later value (a region or colour
 *  given again replaces the earlier one). Returns 0, or -1 with err set to the reason
 *  (without file or line); f is then unchanged. */
int msn_frontend_conf_set(msn_frontend_conf_t *f, const char *key, const char *value, char *err, size_t errlen);

/** Deep-copies src into dst (whatever dst held is not freed). Aborts on out-of-memory. */
void msn_frontend_conf_copy(msn_frontend_conf_t *dst, const msn_frontend_conf_t *src);

/** Releases every string and empties the lists; a second call is harmless. */
void msn_frontend_conf_free(msn_frontend_conf_t *f);

/** Writes the section's keys in the file format (unset keys as comments), so that loading
 *  the output gives the same values back. */
void msn_frontend_conf_dump(const msn_frontend_conf_t *f, FILE *out);

#endif
