/* render.c: see render.h. */
#include "render.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "shm/hex.h"
#include "shm/json.h"
#include "shm/jsonr.h"
#include "shm/snaprec.h"
#include "shm/timeutil.h"

static void key(msn_buf_t *b, int *first, const char *k)
{
    if (!*first)
        msn_buf_putc(b, ',');
    *first = 0;
    msn_json_key(b, k);
}

static void str_or_null(msn_buf_t *b, const char *s)
{
    msn_json_str_or_null(b, s);
}

static void num_or_null(msn_buf_t *b, int has, double v)
{
    if (has)
        msn_json_double(b, v);
    else
        msn_buf_puts(b, "null");
}

/* Appends a JSON array of strings from a path_json text, or `null` when empty/invalid. */
static void hop_cb(void *ctx, int idx, const char *s, size_t n)
{
    msn_buf_t *b = ctx;
    if (idx > 0)
        msn_buf_putc(b, ',');
    if (s == NULL)
        msn_buf_puts(b, "null");
    else
        msn_json_strn(b, s, n);
}

static void parsed_path(msn_buf_t *b, const char *path_json)
{
    if (path_json == NULL) {
        msn_buf_puts(b, "null");
        return;
    }
    size_t mark = b->len;
    msn_buf_putc(b, '[');
    int n = msn_json_str_array_each(path_json, strlen(path_json), hop_cb, b);
    if (n <= 0) {
        b->len = mark;
        msn_buf_puts(b, "null");
        return;
    }
    msn_buf_putc(b, ']');
}

void msn_render_tx_fragment(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t)
{
    const msn_obs_t *o = t->best >= 0 ? &s->obs[t->best] : NULL;
    const msn_observer_t *ob = o ? msn_store_observer(s, o->observer_rowid) : NULL;
    int first = 1;
    msn_buf_putc(b, '{');
    key(b, &first, "_parsedPath");
    parsed_path(b, o ? o->path_json : NULL);
    key(b, &first, "decoded_json");
    str_or_null(b, t->decoded_json);
    key(b, &first, "direction");
    str_or_null(b, o ? o->direction : NULL);
    key(b, &first, "first_seen");
    str_or_null(b, t->first_seen);
    key(b, &first, "hash");
    str_or_null(b, t->hash);
    key(b, &first, "id");
    msn_buf_put_i64(b, t->id);
    key(b, &first, "observation_count");
    msn_buf_put_u64(b, t->n_obs);
    key(b, &first, "observer_iata");
    str_or_null(b, ob ? (ob->iata ? ob->iata : "") : NULL);
    key(b, &first, "observer_id");
    str_or_null(b, ob ? ob->id : NULL);
    key(b, &first, "observer_name");
    str_or_null(b, ob ? ob->name : NULL);
    key(b, &first, "path_json");
    str_or_null(b, o ? o->path_json : NULL);
    key(b, &first, "payload_type");
    if (t->payload_type >= 0)
        msn_buf_put_i64(b, t->payload_type);
    else
        msn_buf_puts(b, "null");
    key(b, &first, "raw_hex");
    str_or_null(b, t->raw_hex);
    if (o && o->rp) {
        key(b, &first, "resolved_path");
        msn_buf_putc(b, '[');
        for (int i = 0; i < o->rp_n; i++) {
            if (i)
                msn_buf_putc(b, ',');
            if (o->rp[i] == MSN_KEY_NONE) {
                msn_buf_puts(b, "null");
            } else {
                msn_buf_putc(b, '"');
                msn_buf_append(b, s->keys[o->rp[i]], 64);
                msn_buf_putc(b, '"');
            }
        }
        msn_buf_putc(b, ']');
    }
    key(b, &first, "route_type");
    if (t->route_type >= 0)
        msn_buf_put_i64(b, t->route_type);
    else
        msn_buf_puts(b, "null");
    key(b, &first, "rssi");
    num_or_null(b, o && o->has_rssi, o ? o->rssi : 0);
    key(b, &first, "snr");
    num_or_null(b, o && o->has_snr, o ? o->snr : 0);
    key(b, &first, "timestamp");
    str_or_null(b, t->first_seen);
    msn_buf_putc(b, '}');
}

void msn_render_tx_grouped(msn_buf_t *b, const msn_store_t *s, const msn_tx_t *t)
{
    const msn_obs_t *o = t->best >= 0 ? &s->obs[t->best] : NULL;
    const msn_observer_t *ob = o ? msn_store_observer(s, o->observer_rowid) : NULL;
    /* distinct observers and regions over every observation */
    int64_t seen_obs[64];
    const char *iatas[32];
    int n_seen = 0, n_iata = 0, overflow = 0;
    for (uint32_t i = 0; i < t->n_obs; i++) {
        int64_t rid = s->obs[t->obs[i]].observer_rowid;
        int dup = 0;
        for (int k = 0; k < n_seen && !dup; k++)
            dup = seen_obs[k] == rid;
        if (dup)
            continue;
        if (n_seen == 64) {
            overflow++;
            continue;
        }
        seen_obs[n_seen++] = rid;
        const msn_observer_t *x = msn_store_observer(s, rid);
        const char *iata = x && x->iata && x->iata[0] ? x->iata : NULL;
        int dupi = iata == NULL;
        for (int k = 0; k < n_iata && !dupi; k++)
            dupi = strcmp(iatas[k], iata) == 0;
        if (!dupi && n_iata < 32)
            iatas[n_iata++] = iata;
    }
    /* the newest sighting: first_seen, or a later observation (CoreScope's LatestSeen) */
    char latest[32];
    int64_t latest_ms = t->latest * 1000 > t->first_seen_ms ? t->latest * 1000 : t->first_seen_ms;
    msn_format_iso_ms(latest, latest_ms);
    int first = 1;
    msn_buf_putc(b, '{');
    key(b, &first, "hash");
    str_or_null(b, t->hash);
    key(b, &first, "first_seen");
    str_or_null(b, t->first_seen);
    key(b, &first, "count");
    msn_buf_put_u64(b, t->n_obs);
    key(b, &first, "observer_count");
    msn_buf_put_i64(b, n_seen + overflow);
    key(b, &first, "observation_count");
    msn_buf_put_u64(b, t->n_obs);
    key(b, &first, "latest");
    str_or_null(b, latest_ms > t->first_seen_ms ? latest : t->first_seen);
    key(b, &first, "observer_id");
    str_or_null(b, ob ? ob->id : NULL);
    key(b, &first, "observer_name");
    str_or_null(b, ob ? ob->name : NULL);
    key(b, &first, "observer_iata");
    str_or_null(b, ob ? (ob->iata ? ob->iata : "") : NULL);
    key(b, &first, "distinct_iatas");
    msn_buf_putc(b, '[');
    for (int k = 0; k < n_iata; k++) {
        if (k)
            msn_buf_putc(b, ',');
        msn_json_str_or_null(b, iatas[k]);
    }
    msn_buf_putc(b, ']');
    key(b, &first, "path_json");
    str_or_null(b, o ? o->path_json : NULL);
    key(b, &first, "payload_type");
    if (t->payload_type >= 0)
        msn_buf_put_i64(b, t->payload_type);
    else
        msn_buf_puts(b, "null");
    key(b, &first, "route_type");
    if (t->route_type >= 0)
        msn_buf_put_i64(b, t->route_type);
    else
        msn_buf_puts(b, "null");
    key(b, &first, "raw_hex");
    str_or_null(b, t->raw_hex);
    key(b, &first, "decoded_json");
    str_or_null(b, t->decoded_json);
    key(b, &first, "snr");
    num_or_null(b, o && o->has_snr, o ? o->snr : 0);
    key(b, &first, "rssi");
    num_or_null(b, o && o->has_rssi, o ? o->rssi : 0);
    msn_buf_putc(b, '}');
}

void msn_render_tx_record(msgpack_sbuffer *sb, const msn_store_t *s, const msn_tx_t *t, msn_buf_t *scratch)
{
    /* both fragments into scratch, one after the other (it may move while growing) */
    msn_buf_reset(scratch);
    msn_render_tx_fragment(scratch, s, t);
    size_t frag_len = scratch->len;
    msn_render_tx_grouped(scratch, s, t);
    const msn_obs_t *o = t->best >= 0 ? &s->obs[t->best] : NULL;
    msn_snaprec_tx_t rec = {
        .fragment = {scratch->data, frag_len},
        .grouped_fragment = {scratch->data + frag_len, scratch->len - frag_len},
        .hash = msn_sv(t->hash),
        .raw_hex = msn_sv(t->raw_hex),
        .decoded_json = msn_sv(t->decoded_json),
        .best_path_json = msn_sv(o ? o->path_json : NULL),
        .first_seen_ms = t->first_seen_ms,
        .payload_type = t->payload_type,
        .route_type = t->route_type,
        .obs_count = t->n_obs,
        .latest_ms = t->latest * 1000 > t->first_seen_ms ? t->latest * 1000 : t->first_seen_ms,
    };
    msn_snaprec_tx_encode(sb, &rec);
}

void msn_render_obs_record(msgpack_sbuffer *sb, const msn_store_t *s, const msn_tx_t *t, const msn_obs_t *o)
{
    msn_snaprec_obs_t rec = {
        .id = o->id,
        .tx_id = o->tx_id,
        .has_observer = o->observer_rowid >= 0,
        .observer_rowid = o->observer_rowid,
        .direction = msn_sv(o->direction),
        .has_snr = o->has_snr,
        .snr = o->snr,
        .has_rssi = o->has_rssi,
        .rssi = o->rssi,
        .has_score = o->has_score,
        .score = o->score,
        .path_json = msn_sv(o->path_json),
        .timestamp_s = o->timestamp,
        /* CoreScope serves the transmission's raw_hex for every observation (data-model spec §3.2) */
        .raw_kind = t->raw_hex && t->raw_hex[0] ? MSN_OBS_RAW_TX : MSN_OBS_RAW_NONE,
    };
    /* resolved_path as binary keys (32 bytes each): half the size of the hex text */
    uint8_t bins[MSN_SNAPREC_RP_MAX][32];
    if (o->rp != NULL) {
        rec.has_rp = 1;
        rec.rp_n = o->rp_n;
        for (uint32_t i = 0; i < rec.rp_n; i++) {
            if (o->rp[i] == MSN_KEY_NONE) {
                rec.rp[i] = NULL;
                continue;
            }
            msn_hex_decode(s->keys[o->rp[i]], 64, bins[i], 32); /* interned keys are hex */
            rec.rp[i] = bins[i];
        }
    }
    msn_snaprec_obs_encode(sb, &rec);
}

void msn_render_node_fragment(msn_buf_t *b, const msn_node_t *n)
{
    int first = 1;
    msn_buf_putc(b, '{');
    key(b, &first, "advert_count");
    msn_buf_put_i64(b, n->advert_count);
    key(b, &first, "battery_mv");
    if (n->has_battery)
        msn_buf_put_i64(b, n->battery_mv);
    else
        msn_buf_puts(b, "null");
    key(b, &first, "default_scope");
    str_or_null(b, n->default_scope);
    key(b, &first, "first_seen");
    str_or_null(b, n->first_seen);
    key(b, &first, "foreign");
    msn_buf_puts(b, n->foreign ? "true" : "false");
    int sizes = 0;
    for (int k = 0; k < 3; k++)
        sizes += (n->hash_sizes_mask >> k) & 1;
    key(b, &first, "hash_size");
    if (n->hash_size)
        msn_buf_put_i64(b, n->hash_size);
    else
        msn_buf_puts(b, "null");
    key(b, &first, "hash_size_inconsistent");
    msn_buf_puts(b, sizes > 1 ? "true" : "false");
    if (sizes > 1) {
        key(b, &first, "hash_sizes_seen");
        msn_buf_putc(b, '[');
        int f2 = 1;
        for (int k = 0; k < 3; k++)
            if ((n->hash_sizes_mask >> k) & 1) {
                if (!f2)
                    msn_buf_putc(b, ',');
                f2 = 0;
                msn_buf_put_i64(b, k + 1);
            }
        msn_buf_putc(b, ']');
    }
    key(b, &first, "last_heard");
    str_or_null(b, n->last_seen);
    key(b, &first, "last_seen");
    str_or_null(b, n->last_seen);
    key(b, &first, "lat");
    num_or_null(b, n->has_lat, n->lat);
    key(b, &first, "lon");
    num_or_null(b, n->has_lon, n->lon);
    key(b, &first, "name");
    str_or_null(b, n->name);
    key(b, &first, "public_key");
    str_or_null(b, n->public_key);
    key(b, &first, "role");
    str_or_null(b, n->role);
    key(b, &first, "temperature_c");
    num_or_null(b, n->has_temp, n->temperature_c);
    msn_buf_putc(b, '}');
}

void msn_render_node_base(msn_buf_t *b, const msn_node_t *n, int has_default_scope)
{
    int first = 1;
    msn_buf_putc(b, '{');
    key(b, &first, "advert_count");
    msn_buf_put_i64(b, n->advert_count);
    key(b, &first, "battery_mv");
    if (n->has_battery)
        msn_buf_put_i64(b, n->battery_mv);
    else
        msn_buf_puts(b, "null");
    if (has_default_scope) {
        key(b, &first, "default_scope");
        str_or_null(b, n->default_scope);
    }
    key(b, &first, "first_seen");
    str_or_null(b, n->first_seen);
    key(b, &first, "foreign");
    msn_buf_puts(b, n->foreign ? "true" : "false");
    key(b, &first, "hash_size");
    msn_buf_puts(b, "null");
    key(b, &first, "hash_size_inconsistent");
    msn_buf_puts(b, "false");
    key(b, &first, "last_heard");
    str_or_null(b, n->last_seen);
    key(b, &first, "last_seen");
    str_or_null(b, n->last_seen);
    key(b, &first, "lat");
    num_or_null(b, n->has_lat, n->lat);
    key(b, &first, "lon");
    num_or_null(b, n->has_lon, n->lon);
    key(b, &first, "name");
    str_or_null(b, n->name);
    key(b, &first, "public_key");
    str_or_null(b, n->public_key);
    key(b, &first, "role");
    str_or_null(b, n->role);
    key(b, &first, "temperature_c");
    num_or_null(b, n->has_temp, n->temperature_c);
    msn_buf_putc(b, '}');
}

void msn_render_observer_row(msgpack_sbuffer *sb, const msn_observer_t *o)
{
    msn_snaprec_orow_t rec = {msn_sv(o->id), msn_sv(o->name), msn_sv(o->iata ? o->iata : "")};
    msn_snaprec_orow_encode(sb, &rec);
}

static const msn_node_t *node_for_observer(const msn_store_t *s, const char *id)
{
    char low[128];
    size_t n = strlen(id);
    if (n != 64)
        return NULL;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)id[i]);
    low[n] = '\0';
    uint32_t lo = 0, hi = s->n_nodes;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->nodes[mid].public_key, low);
        if (c == 0)
            return &s->nodes[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int cmp_observer_last_seen(const void *a, const void *b)
{
    const msn_observer_t *x = *(const msn_observer_t *const *)a, *y = *(const msn_observer_t *const *)b;
    int c = strcmp(y->last_seen ? y->last_seen : "", x->last_seen ? x->last_seen : "");
    return c ? c : (x->rowid < y->rowid ? -1 : x->rowid > y->rowid);
}

void msn_render_observers_prefix(msn_buf_t *b, const msn_store_t *s)
{
    /* newest first, as CoreScope lists them (ORDER BY last_seen DESC) */
    const msn_observer_t **ord = msn_xmalloc((s->n_observers + 1) * sizeof(*ord));
    for (uint32_t i = 0; i < s->n_observers; i++)
        ord[i] = &s->observers[i];
    qsort(ord, s->n_observers, sizeof(*ord), cmp_observer_last_seen);
    msn_buf_puts(b, "{\"observers\":[");
    int firstrow = 1;
    for (uint32_t i = 0; i < s->n_observers; i++) {
        const msn_observer_t *o = ord[i];
        if (o->inactive)
            continue;
        if (!firstrow)
            msn_buf_putc(b, ',');
        firstrow = 0;
        const msn_node_t *nd = node_for_observer(s, o->id);
        int first = 1;
        msn_buf_putc(b, '{');
        key(b, &first, "id");
        str_or_null(b, o->id);
        key(b, &first, "name");
        str_or_null(b, o->name);
        key(b, &first, "iata");
        str_or_null(b, o->iata);
        key(b, &first, "last_seen");
        str_or_null(b, o->last_seen);
        key(b, &first, "first_seen");
        str_or_null(b, o->first_seen);
        key(b, &first, "packet_count");
        msn_buf_put_i64(b, o->packet_count);
        key(b, &first, "model");
        str_or_null(b, o->model);
        key(b, &first, "firmware");
        str_or_null(b, o->firmware);
        key(b, &first, "client_version");
        str_or_null(b, o->client_version);
        key(b, &first, "radio");
        str_or_null(b, o->radio);
        key(b, &first, "battery_mv");
        num_or_null(b, o->has_battery, (double)o->battery_mv);
        key(b, &first, "uptime_secs");
        num_or_null(b, o->has_uptime, (double)o->uptime_secs);
        key(b, &first, "noise_floor");
        num_or_null(b, o->has_noise, o->noise_floor);
        key(b, &first, "last_packet_at");
        str_or_null(b, o->last_packet_at);
        key(b, &first, "packetsLastHour");
        msn_buf_put_i64(b, o->packets_last_hour);
        key(b, &first, "lat");
        num_or_null(b, nd && nd->has_lat, nd ? nd->lat : 0);
        key(b, &first, "lon");
        num_or_null(b, nd && nd->has_lon, nd ? nd->lon : 0);
        key(b, &first, "nodeRole");
        str_or_null(b, nd ? nd->role : NULL);
        key(b, &first, "clock_naive");
        msn_buf_puts(b, o->clock_last_naive_at ? "true" : "false");
        key(b, &first, "clock_skew_seconds");
        num_or_null(b, o->has_clock_skew, (double)o->clock_skew_seconds);
        key(b, &first, "clock_skew_count_24h");
        msn_buf_put_i64(b, o->clock_skew_count_24h);
        key(b, &first, "clock_last_naive_at");
        str_or_null(b, o->clock_last_naive_at);
        if (o->has_can_relay) {
            key(b, &first, "can_relay");
            msn_buf_puts(b, o->can_relay ? "true" : "false");
        }
        msn_buf_putc(b, '}');
    }
    msn_buf_puts(b, "]");
    free(ord);
}

void msn_render_packets_page(msn_buf_t *b, const msn_store_t *s, int limit)
{
    msn_buf_puts(b, "{\"packets\":[");
    for (uint32_t i = 0; i < s->n_tx && (int)i < limit; i++) {
        if (i)
            msn_buf_putc(b, ',');
        msn_render_tx_fragment(b, s, &s->tx[s->n_tx - 1 - i]);
    }
    msn_buf_printf(b, "],\"total\":%u,\"limit\":%d,\"offset\":0}", s->n_tx, limit);
}

static int role_index(const char *role)
{
    if (role == NULL)
        return -1;
    if (strcmp(role, "repeater") == 0)
        return MSN_NIDX_REPEATERS;
    if (strcmp(role, "room") == 0)
        return MSN_NIDX_ROOMS;
    if (strcmp(role, "companion") == 0)
        return MSN_NIDX_COMPANIONS;
    if (strcmp(role, "sensor") == 0)
        return MSN_NIDX_SENSORS;
    return -1;
}

static void counts_obj(msn_buf_t *b, const int64_t c[4])
{
    msn_buf_printf(b, "{\"repeaters\":%lld,\"rooms\":%lld,\"companions\":%lld,\"sensors\":%lld}", (long long)c[0],
                   (long long)c[1], (long long)c[2], (long long)c[3]);
}

void msn_render_stats(msn_buf_t *b, const msn_store_t *s, int64_t now_ms)
{
    int64_t active = 0, counts[4] = {0, 0, 0, 0};
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const msn_node_t *n = &s->nodes[i];
        if (msn_store_node_active(n, now_ms)) {
            active++;
            int r = role_index(n->role);
            if (r >= 0)
                counts[r]++;
        }
    }
    /* packetsLastHour / packetsLast24h: timestamp > now - 1 h / 24 h, as CoreScope counts */
    int64_t last_hour = 0, last_day = 0, now_s = msn_store__secs(now_ms);
    for (uint32_t i = s->n_obs; i-- > 0;) { /* id order ~ ingest order; late copies within 10 min */
        int64_t ts = s->obs[i].timestamp;
        if (ts < now_s - 86400 - 600) {
            if (s->n_late > 0 && msn_store_obs_is_late(s, i))
                continue; /* taken in out of id order (store.h) */
            break;
        }
        if (ts > now_s - 86400) {
            last_day++;
            if (ts > now_s - 3600)
                last_hour++;
        }
    }
    int64_t observers = 0;
    for (uint32_t i = 0; i < s->n_observers; i++)
        observers += !s->observers[i].inactive;
    msn_buf_printf(b,
                   "{\"totalPackets\":%u,\"totalTransmissions\":%u,\"totalObservations\":%u,\"totalNodes\":%lld,"
                   "\"totalNodesAllTime\":%u,\"totalObservers\":%lld,\"packetsLastHour\":%lld,"
                   "\"packetsLast24h\":%lld,\"engine\":\"meshsnap\",\"version\":\"%s\",\"commit\":\"\","
                   "\"buildTime\":\"\",\"counts\":",
                   s->n_tx, s->n_tx, s->n_obs, (long long)active, s->n_nodes, (long long)observers,
                   (long long)last_hour, (long long)last_day, MESHSNAP_VERSION);
    counts_obj(b, counts);
    msn_buf_puts(b, ",\"hashMigrationComplete\":true}");
}

/* Node orderings (qsort over node pointers: the comparators need no context). */
static int cmp_last_seen(const void *a, const void *b)
{
    const msn_node_t *x = *(const msn_node_t *const *)a, *y = *(const msn_node_t *const *)b;
    if (x->last_seen_ms != y->last_seen_ms)
        return x->last_seen_ms > y->last_seen_ms ? -1 : 1;
    return strcmp(x->public_key, y->public_key);
}

static int cmp_name(const void *a, const void *b)
{
    const msn_node_t *x = *(const msn_node_t *const *)a, *y = *(const msn_node_t *const *)b;
    int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
    return c ? c : strcmp(x->public_key, y->public_key);
}

static int cmp_count(const void *a, const void *b)
{
    const msn_node_t *x = *(const msn_node_t *const *)a, *y = *(const msn_node_t *const *)b;
    if (x->advert_count != y->advert_count)
        return x->advert_count > y->advert_count ? -1 : 1;
    return strcmp(x->public_key, y->public_key);
}

/* Fills ord with s's nodes sorted by cmp. */
static void sort_nodes(const msn_store_t *s, const msn_node_t **ord, int (*cmp)(const void *, const void *))
{
    for (uint32_t i = 0; i < s->n_nodes; i++)
        ord[i] = &s->nodes[i];
    qsort(ord, s->n_nodes, sizeof(*ord), cmp);
}

void msn_render_nodes_index(msgpack_sbuffer *sb, const msn_store_t *s)
{
    uint32_t n = s->n_nodes;
    const msn_node_t **ord = msn_xmalloc((n + 1) * sizeof(*ord));
    uint32_t *pos = msn_xmalloc((n + 1) * sizeof(uint32_t));
    uint32_t *orders[2] = {msn_xmalloc((n + 1) * sizeof(uint32_t)), msn_xmalloc((n + 1) * sizeof(uint32_t))};
    msn_snaprec_nrec_t *recs = msn_xmalloc((n + 1) * sizeof(*recs));
    int64_t counts[MSN_NIDX_ROLES] = {0, 0, 0, 0};
    /* records, in lastSeen order */
    sort_nodes(s, ord, cmp_last_seen);
    for (uint32_t i = 0; i < n; i++) {
        const msn_node_t *x = ord[i];
        recs[i] = (msn_snaprec_nrec_t){msn_sv(x->public_key), msn_sv(x->name), msn_sv(x->role),
                                       x->last_seen_ms,       x->first_seen_ms, x->advert_count};
        int r = role_index(x->role);
        if (r >= 0)
            counts[r]++;
        pos[x - s->nodes] = i;
    }
    /* the other orderings, as positions into the records */
    int (*cmps[2])(const void *, const void *) = {cmp_name, cmp_count};
    for (int k = 0; k < 2; k++) {
        sort_nodes(s, ord, cmps[k]);
        for (uint32_t i = 0; i < n; i++)
            orders[k][i] = pos[ord[i] - s->nodes];
    }
    msn_snaprec_nidx_encode(sb, recs, n, orders[0], orders[1], counts);
    free(recs);
    free(orders[0]);
    free(orders[1]);
    free(pos);
    free(ord);
}
