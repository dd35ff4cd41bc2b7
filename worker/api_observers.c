/*
 * api_observers.c: one observer's endpoints (/api/observers/:id, /analytics, /metrics)
 * and the fleet metrics summary.
 *
 *  /api/observers/:id            the entity document "observer/<id>" the master publishes
 *  /api/observers/:id/analytics  the analytic observer-analytics for (days, id): published
 *                                for 1, 3, 7 and 30 days, requested from the master for
 *                                other day counts (503 until computed)
 *  /api/observers/:id/metrics    a range scan of the observer's `om` rows (shm/snapshot.h)
 *                                with CoreScope's deltas (computeDeltas, db.go)
 *  /api/observers/metrics/summary  the analytic observers-metrics-summary per window and
 *                                region
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "shm/anparam.h"
#include "shm/anshape.h"
#include "shm/config.h"
#include "shm/json.h"
#include "shm/jsonr.h"
#include "shm/timeutil.h"

/* The observer's document, or -1 when there is none (no such observer). */
static int observer_doc(msn_api_req_t *r, const char *id, msn_doc_t *d)
{
    char name[600];
    if (id == NULL || msn_snap_famdoc_name(MSN_FAMDOC_OBSERVER, id, strlen(id), name, sizeof(name)) < 0)
        return -1;
    return msn_snap_doc_get_full(r->txn, r->snap, name, d) == 0 ? 0 : -1;
}

void msn_api_observer_detail(msn_api_req_t *r, const char *id)
{
    if (observer_doc(r, id, &r->doc) < 0) {
        msn_api_error(r, 404, "Observer not found");
        return;
    }
    r->use_doc = 1;
    r->status = 200;
}

void msn_api_observer_analytics(msn_api_req_t *r, const char *id)
{
    msn_doc_t d;
    if (observer_doc(r, id, &d) < 0) {
        /* CoreScope answers an unknown observer with empty aggregates */
        msn_buf_puts(r->body, "{\"timeline\":[],\"packetTypes\":{},\"nodesTimeline\":[],\"snrDistribution\":[],"
                              "\"recentPackets\":[]}");
        r->status = 200;
        return;
    }
    int64_t days = 7;
    if (msn_api_int_param(r, "days", &days) != 0)
        days = 7; /* absent, empty or not a number: CoreScope's default */
    days = days < 1 ? 1 : days > 365 ? 365 : days;
    char param[MSN_ANSHAPE_KEY_MAX];
    if (msn_anparam_observer((int)days, id, param, sizeof(param)) < 0) {
        msn_api_error(r, 400, "observer id too long for its analytics (at most %d characters)",
                      MSN_ANSHAPE_KEY_MAX - 12);
        return;
    }
    msn_api_analytic_with(r, MSN_AN_OBSERVER_ANALYTICS, param);
}

void msn_api_observers_metrics_summary(msn_api_req_t *r)
{
    const char *w = msn_api_param(r, "window");
    int64_t secs = 86400;
    if (w && *w && msn_anparam_window_s(w, &secs) < 0) {
        msn_api_error(r, 400, "invalid window: %s", w);
        return;
    }
    char param[32];
    snprintf(param, sizeof(param), "%lld", (long long)secs);
    msn_api_analytic_with(r, MSN_AN_OBSERVERS_METRICS_SUMMARY, secs == 86400 ? NULL : param);
}

/* ---- /api/observers/:id/metrics ---------------------------------------------------------- */

typedef struct {
    char ts[40]; /* as emitted: the row's timestamp, or its bucket's start */
    int64_t ts_ms;
    msn_snaprec_om_t m;
} sample_t;

static void num_or_null(msn_buf_t *b, int has, double v)
{
    if (has)
        msn_json_double(b, v);
    else
        msn_buf_puts(b, "null");
}

/* Appends one sample with CoreScope's deltas against prev (NULL for the first). Returns 1
 * when it is a reboot. */
static int sample(msn_buf_t *b, const sample_t *cur, const sample_t *prev, int64_t bucket_s)
{
    const msn_snaprec_om_t *c = &cur->m;
    msn_buf_puts(b, "{\"timestamp\":");
    msn_json_strn(b, cur->ts, strlen(cur->ts));
    msn_buf_puts(b, ",\"noise_floor\":");
    num_or_null(b, c->has_noise_floor, c->noise_floor);
    msn_buf_puts(b, ",\"battery_mv\":");
    if (c->has[MSN_OM_BATTERY])
        msn_buf_put_i64(b, c->v[MSN_OM_BATTERY]);
    else
        msn_buf_puts(b, "null");
    double tx = 0, rx = 0, er = 0;
    int has_tx = 0, has_rx = 0, has_er = 0, reboot = 0;
    double interval = prev ? (double)(cur->ts_ms - prev->ts_ms) / 1000.0 : 0;
    if (prev && interval <= (double)bucket_s * 2.0 && interval > 0) {
        static const int counters[] = {MSN_OM_TX_AIR, MSN_OM_RX_AIR, MSN_OM_RECV_ERRORS, MSN_OM_SENT, MSN_OM_RECV};
        const msn_snaprec_om_t *p = &prev->m;
        for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++)
            if (c->has[counters[k]] && p->has[counters[k]] && c->v[counters[k]] < p->v[counters[k]])
                reboot = 1;
        if (!reboot) {
            if (c->has[MSN_OM_TX_AIR] && p->has[MSN_OM_TX_AIR]) {
                double pct = (double)(c->v[MSN_OM_TX_AIR] - p->v[MSN_OM_TX_AIR]) / interval * 100.0;
                tx = round((pct < 0 ? 0 : pct > 100 ? 100 : pct) * 100) / 100;
                has_tx = 1;
            }
            if (c->has[MSN_OM_RX_AIR] && p->has[MSN_OM_RX_AIR]) {
                double pct = (double)(c->v[MSN_OM_RX_AIR] - p->v[MSN_OM_RX_AIR]) / interval * 100.0;
                rx = round((pct < 0 ? 0 : pct > 100 ? 100 : pct) * 100) / 100;
                has_rx = 1;
            }
            if (c->has[MSN_OM_RECV_ERRORS] && p->has[MSN_OM_RECV_ERRORS] && c->has[MSN_OM_RECV] &&
                p->has[MSN_OM_RECV]) {
                double de = (double)(c->v[MSN_OM_RECV_ERRORS] - p->v[MSN_OM_RECV_ERRORS]);
                double dr = (double)(c->v[MSN_OM_RECV] - p->v[MSN_OM_RECV]);
                if (de + dr > 0) {
                    er = round(de / (de + dr) * 100.0 * 100) / 100;
                    has_er = 1;
                }
            }
        }
    }
    msn_buf_puts(b, ",\"tx_airtime_pct\":");
    num_or_null(b, has_tx, tx);
    msn_buf_puts(b, ",\"rx_airtime_pct\":");
    num_or_null(b, has_rx, rx);
    msn_buf_puts(b, ",\"recv_error_rate\":");
    num_or_null(b, has_er, er);
    msn_buf_puts(b, reboot ? ",\"is_reboot_sample\":true}" : "}");
    return reboot;
}

void msn_api_observer_metrics(msn_api_req_t *r, const char *id)
{
    const char *since = msn_api_param(r, "since"), *until = msn_api_param(r, "until");
    const char *res = msn_api_param(r, "resolution");
    int64_t since_ms = (r->now_ms / 1000 - 86400) * 1000, until_ms = INT64_MAX, bucket_s = 300;
    if (res == NULL || res[0] == '\0' || strcmp(res, "5m") == 0)
        bucket_s = 300;
    else if (strcmp(res, "1h") == 0)
        bucket_s = 3600;
    else if (strcmp(res, "1d") == 0)
        bucket_s = 86400;
    else {
        msn_api_error(r, 400, "invalid resolution: %s. Must be 5m, 1h, or 1d", res);
        return;
    }
    if (since && *since && msn_parse_time_ms(since, &since_ms) < 0) {
        msn_api_error(r, 400, "invalid since: expected an RFC3339 time");
        return;
    }
    if (until && *until && msn_parse_time_ms(until, &until_ms) < 0) {
        msn_api_error(r, 400, "invalid until: expected an RFC3339 time");
        return;
    }
    /* the observer's name, from its document */
    msn_doc_t d;
    msn_jsonr_t jr;
    msn_jsonr_val_t obj, name;
    msn_buf_t nm = MSN_BUF_INIT;
    int has_name = observer_doc(r, id, &d) == 0;
    if (has_name) {
        msn_jsonr_init(&jr, d.body, d.len);
        has_name = msn_jsonr_value(&jr, &obj) == 0 && msn_jsonr_end(&jr) == 0 &&
                   msn_jsonr_get(&obj, "name", 0, &name) && msn_jsonr_str(&name, &nm) == 0;
    }
    msn_buf_t *b = r->body, reboots = MSN_BUF_INIT;
    msn_buf_puts(b, "{\"metrics\":[");
    msn_snap_key_t k;
    MDB_cursor *c = NULL;
    size_t idl = id ? strlen(id) : 0;
    if (idl && msn_snap_om_key(id, idl, since_ms, &k) == 0 && mdb_cursor_open(r->txn, r->snap->dbi[MSN_DBI_OM], &c) == 0) {
        MDB_val key = msn_snap_key_val(&k), v;
        sample_t cur, prev, pend;
        int have_prev = 0, have_pend = 0, n = 0;
        int64_t ts_ms;
        for (int rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
             rc == 0 && msn_snap_om_key_parse(key.mv_data, key.mv_size, id, idl, &ts_ms) == 0 && ts_ms <= until_ms;
             rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
            if (msn_snap_note(r->snap, msn_snaprec_om_decode(v.mv_data, v.mv_size, &cur.m)) != 0)
                continue; /* damage is counted: the answer is a 503 */
            cur.ts_ms = ts_ms;
            if (bucket_s == 300) {
                snprintf(cur.ts, sizeof(cur.ts), "%.*s", (int)cur.m.timestamp.len, cur.m.timestamp.p);
            } else {
                /* the last row of each bucket, shown at the bucket's start (SQL strftime) */
                cur.ts_ms = ts_ms / 1000 / bucket_s * bucket_s * 1000;
                if (ts_ms < 0 && ts_ms % (bucket_s * 1000))
                    cur.ts_ms -= bucket_s * 1000;
                char iso[32];
                msn_format_iso_s(iso, cur.ts_ms / 1000);
                snprintf(cur.ts, sizeof(cur.ts), "%s", iso);
                if (have_pend && pend.ts_ms != cur.ts_ms) {
                    if (n++)
                        msn_buf_putc(b, ',');
                    if (sample(b, &pend, have_prev ? &prev : NULL, bucket_s))
                        msn_buf_printf(&reboots, "%s\"%s\"", reboots.len ? "," : "", pend.ts);
                    prev = pend;
                    have_prev = 1;
                }
                pend = cur;
                have_pend = 1;
                continue;
            }
            if (n++)
                msn_buf_putc(b, ',');
            if (sample(b, &cur, have_prev ? &prev : NULL, bucket_s)) {
                if (reboots.len)
                    msn_buf_putc(&reboots, ',');
                msn_json_strn(&reboots, cur.ts, strlen(cur.ts));
            }
            prev = cur;
            have_prev = 1;
        }
        if (have_pend) {
            if (n++)
                msn_buf_putc(b, ',');
            if (sample(b, &pend, have_prev ? &prev : NULL, bucket_s))
                msn_buf_printf(&reboots, "%s\"%s\"", reboots.len ? "," : "", pend.ts);
        }
        mdb_cursor_close(c);
    }
    msn_buf_puts(b, "],\"observer_id\":");
    msn_json_strn(b, id ? id : "", idl);
    msn_buf_puts(b, ",\"observer_name\":");
    if (has_name)
        msn_json_strn(b, nm.data ? nm.data : "", nm.len);
    else
        msn_buf_puts(b, "null");
    msn_buf_puts(b, ",\"reboots\":[");
    if (reboots.len)
        msn_buf_append(b, reboots.data, reboots.len);
    msn_buf_puts(b, "]}");
    msn_buf_free(&reboots);
    msn_buf_free(&nm);
    r->status = 200;
}
