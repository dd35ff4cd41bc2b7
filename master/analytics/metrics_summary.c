/*
 * metrics_summary.c: /api/observers/metrics/summary (CoreScope handleMetricsSummary and
 * GetMetricsSummary, db.go), from the store's observer_metrics rows (obsmetrics.h).
 *
 * Parameter: the window in seconds (none: 24 h). Rows with a timestamp at or after now -
 * window (now in whole seconds). Per observer with such rows: its name (observers.name by
 * id; null when unknown), iata (omitted when empty), the latest row's noise floor and
 * battery, the mean and maximum noise floor (null when every value is null), the row
 * count and the noise-floor series (null entries kept) oldest first. Sorted by maximum
 * noise floor descending, nulls last (SQL ORDER BY ... DESC), then by observer id. With a
 * region, only observers whose iata equals it, ignoring case (one code, as CoreScope).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "an_int.h"
#include "shm/json.h"

typedef struct {
    const msn_omseries_t *se;
    uint32_t from; /* first row in the window */
    const msn_observer_t *ob;
    int has_max;
    double max;
} row_t;

static int cmp_row(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->has_max != y->has_max)
        return x->has_max ? -1 : 1;
    if (x->has_max && x->max != y->max)
        return x->max > y->max ? -1 : 1;
    return strcmp(x->se->observer_id, y->se->observer_id);
}

static const msn_observer_t *observer_by_id(const msn_store_t *s, const char *id)
{
    for (uint32_t i = 0; i < s->n_observers; i++)
        if (s->observers[i].id && strcmp(s->observers[i].id, id) == 0)
            return &s->observers[i];
    return NULL;
}

int msn_an__observers_metrics_summary(const an_ctx_t *c, msn_buf_t *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const msn_store_t *s = c->s;
    const msn_obsmetrics_t *m = &s->metrics;
    int64_t window_s = 86400;
    if (c->shape->param && c->shape->param[0])
        window_s = strtoll(c->shape->param, NULL, 10);
    int64_t since_ms = (c->now_ms / 1000 - window_s) * 1000;
    const char *region = c->shape->region && c->shape->region[0] ? c->shape->region : NULL;
    row_t *rows = AN_ARRAY(c->arena, row_t, m->n_series);
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_series; i++) {
        const msn_omseries_t *se = &m->series[i];
        uint32_t from = msn_obsmetrics_lower_bound(se, since_ms);
        if (from >= se->n)
            continue;
        const msn_observer_t *ob = observer_by_id(s, se->observer_id);
        if (region && !(ob && ob->iata && strcasecmp(ob->iata, region) == 0))
            continue;
        row_t *r = &rows[n++];
        memset(r, 0, sizeof(*r));
        r->se = se;
        r->from = from;
        r->ob = ob;
        for (uint32_t k = from; k < se->n; k++)
            if (se->rows[k].has_noise_floor && (!r->has_max || se->rows[k].noise_floor > r->max)) {
                r->max = se->rows[k].noise_floor;
                r->has_max = 1;
            }
    }
    msn_an__qsort(rows, n, sizeof(row_t), cmp_row);
    msn_buf_puts(out, "{\"observers\":[");
    for (uint32_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        const msn_omseries_t *se = r->se;
        const msn_omrow_t *latest = &se->rows[se->n - 1];
        double sum = 0;
        int64_t cnt = 0;
        for (uint32_t k = r->from; k < se->n; k++)
            if (se->rows[k].has_noise_floor) {
                sum += se->rows[k].noise_floor;
                cnt++;
            }
        msn_buf_puts(out, i ? ",{\"observer_id\":" : "{\"observer_id\":");
        msn_json_strn(out, se->observer_id, strlen(se->observer_id));
        msn_buf_puts(out, ",\"observer_name\":");
        msn_json_str_or_null(out, r->ob ? r->ob->name : NULL);
        if (r->ob && r->ob->iata && r->ob->iata[0]) {
            msn_buf_puts(out, ",\"iata\":");
            msn_json_strn(out, r->ob->iata, strlen(r->ob->iata));
        }
        msn_buf_puts(out, ",\"current_noise_floor\":");
        if (latest->has_noise_floor)
            msn_json_double(out, latest->noise_floor);
        else
            msn_buf_puts(out, "null");
        msn_buf_puts(out, ",\"avg_noise_floor_24h\":");
        if (cnt)
            msn_json_double(out, sum / (double)cnt);
        else
            msn_buf_puts(out, "null");
        msn_buf_puts(out, ",\"max_noise_floor_24h\":");
        if (r->has_max)
            msn_json_double(out, r->max);
        else
            msn_buf_puts(out, "null");
        msn_buf_puts(out, ",\"battery_mv\":");
        if (latest->has[MSN_OM_BATTERY])
            msn_buf_put_i64(out, latest->v[MSN_OM_BATTERY]);
        else
            msn_buf_puts(out, "null");
        msn_buf_printf(out, ",\"sample_count\":%u,\"sparkline\":[", se->n - r->from);
        for (uint32_t k = r->from; k < se->n; k++) {
            if (k > r->from)
                msn_buf_putc(out, ',');
            if (se->rows[k].has_noise_floor)
                msn_json_double(out, se->rows[k].noise_floor);
            else
                msn_buf_puts(out, "null");
        }
        msn_buf_puts(out, "]}");
    }
    msn_buf_puts(out, "]}");
    return 0;
}
