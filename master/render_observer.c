/*
 * render_observer.c: the /api/observers/:id body of one observer (CoreScope's
 * handleObserverDetail: an ObserverResp without a list around it, lat, lon and nodeRole
 * null, the naive-clock fields as applyObserverNaiveClock decays them).
 */
#include <stdio.h>
#include <string.h>

#include "render_observer.h"
#include "shm/json.h"
#include "shm/timeutil.h"

#define NAIVE_CLOCK_WINDOW_MS (24 * 3600 * 1000LL)

static void kstr(msn_buf_t *b, const char *key, const char *v)
{
    msn_buf_putc(b, ',');
    msn_json_key(b, key);
    msn_json_str_or_null(b, v);
}

static void knum(msn_buf_t *b, const char *key, int has, double v)
{
    msn_buf_putc(b, ',');
    msn_json_key(b, key);
    if (has)
        msn_json_double(b, v);
    else
        msn_buf_puts(b, "null");
}

void msn_render_observer_detail(msn_buf_t *b, const msn_observer_t *o, int64_t now_ms)
{
    int64_t naive_ms;
    int naive = o->clock_last_naive_at && o->clock_last_naive_at[0] &&
                msn_parse_time_ms(o->clock_last_naive_at, &naive_ms) == 0 && now_ms - naive_ms <= NAIVE_CLOCK_WINDOW_MS;
    msn_buf_putc(b, '{');
    msn_json_key(b, "id");
    msn_json_str_or_null(b, o->id ? o->id : "");
    kstr(b, "name", o->name);
    kstr(b, "iata", o->iata);
    kstr(b, "last_seen", o->last_seen);
    kstr(b, "first_seen", o->first_seen);
    msn_buf_printf(b, ",\"packet_count\":%lld", (long long)o->packet_count);
    kstr(b, "model", o->model);
    kstr(b, "firmware", o->firmware);
    kstr(b, "client_version", o->client_version);
    kstr(b, "radio", o->radio);
    knum(b, "battery_mv", o->has_battery, (double)o->battery_mv);
    knum(b, "uptime_secs", o->has_uptime, (double)o->uptime_secs);
    knum(b, "noise_floor", o->has_noise, o->noise_floor);
    kstr(b, "last_packet_at", o->last_packet_at);
    msn_buf_printf(b, ",\"packetsLastHour\":%lld", (long long)o->packets_last_hour);
    msn_buf_puts(b, ",\"lat\":null,\"lon\":null,\"nodeRole\":null");
    msn_buf_printf(b, ",\"clock_naive\":%s", naive ? "true" : "false");
    knum(b, "clock_skew_seconds", naive && o->has_clock_skew, (double)o->clock_skew_seconds);
    msn_buf_printf(b, ",\"clock_skew_count_24h\":%lld", naive ? (long long)o->clock_skew_count_24h : 0LL);
    kstr(b, "clock_last_naive_at", naive ? o->clock_last_naive_at : NULL);
    if (o->has_can_relay)
        msn_buf_printf(b, ",\"can_relay\":%s", o->can_relay ? "true" : "false");
    msn_buf_putc(b, '}');
}
