/* obsmetrics.c: see obsmetrics.h. */
#include "obsmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "shm/buf.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "shm/timeutil.h"

void msn_obsmetrics_init(msn_obsmetrics_t *m)
{
    memset(m, 0, sizeof(*m));
    m->arena = msn_arena_new();
}

void msn_obsmetrics_free(msn_obsmetrics_t *m)
{
    for (uint32_t i = 0; i < m->n_series; i++)
        free(m->series[i].rows);
    free(m->series);
    msn_arena_free(m->arena);
    memset(m, 0, sizeof(*m));
}

/* The position of id among the series (found or where it would go). */
static uint32_t series_pos(const msn_obsmetrics_t *m, const char *id, int *found)
{
    uint32_t lo = 0, hi = m->n_series;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->series[mid].observer_id, id);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

const msn_omseries_t *msn_obsmetrics_find(const msn_obsmetrics_t *m, const char *id)
{
    int found;
    uint32_t i = series_pos(m, id, &found);
    return found ? &m->series[i] : NULL;
}

uint32_t msn_obsmetrics_lower_bound(const msn_omseries_t *s, int64_t ts_ms)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->rows[mid].ts_ms < ts_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Inserts (or replaces) row r in observer id's series. */
static void upsert(msn_obsmetrics_t *m, const char *id, const msn_omrow_t *r)
{
    int found;
    uint32_t si = series_pos(m, id, &found);
    if (!found) {
        if (m->n_series == m->cap_series) {
            m->cap_series = m->cap_series ? m->cap_series * 2 : 16;
            m->series = msn_xrealloc(m->series, m->cap_series * sizeof(*m->series));
        }
        memmove(&m->series[si + 1], &m->series[si], (m->n_series - si) * sizeof(*m->series));
        memset(&m->series[si], 0, sizeof(*m->series));
        m->series[si].observer_id = msn_arena_strdup(m->arena, id);
        m->n_series++;
    }
    msn_omseries_t *s = &m->series[si];
    uint32_t at = msn_obsmetrics_lower_bound(s, r->ts_ms);
    if (at < s->n && s->rows[at].ts_ms == r->ts_ms) {
        s->rows[at] = *r; /* a replaced row */
    } else {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 64;
            s->rows = msn_xrealloc(s->rows, s->cap * sizeof(*s->rows));
        }
        memmove(&s->rows[at + 1], &s->rows[at], (s->n - at) * sizeof(*s->rows));
        s->rows[at] = *r;
        s->n++;
        m->n_rows++;
    }
    s->rows[at].dirty = 1;
    s->dirty = 1;
    m->dirty = 1;
}

int msn_obsmetrics_poll(msn_obsmetrics_t *m, sqlite3 *db, int max_rows, int *n_read, char *err, size_t errlen)
{
    if (n_read)
        *n_read = 0;
    if (!m->present) {
        m->present = msn_schema_has_column(db, "observer_metrics", "timestamp");
        if (!m->present)
            return 0;
    }
    int sent = msn_schema_has_column(db, "observer_metrics", "packets_sent");
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT rowid, observer_id, timestamp, noise_floor, tx_air_secs, rx_air_secs, recv_errors, battery_mv, "
             "%s, %s FROM observer_metrics WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
             sent ? "packets_sent" : "NULL", sent ? "packets_recv" : "NULL");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "reading observer_metrics: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, m->max_rowid);
    sqlite3_bind_int(st, 2, max_rows);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        m->max_rowid = sqlite3_column_int64(st, 0);
        const char *id = (const char *)sqlite3_column_text(st, 1);
        const char *ts = (const char *)sqlite3_column_text(st, 2);
        msn_omrow_t r;
        memset(&r, 0, sizeof(r));
        if (id == NULL || ts == NULL || msn_parse_time_ms(ts, &r.ts_ms) < 0) {
            if (m->skipped++ == 0)
                msn_warn("observer_metrics row %lld has no observer or an unreadable timestamp; skipped (further "
                         "ones are counted, not logged)",
                         (long long)m->max_rowid);
            continue;
        }
        r.ts = msn_arena_strdup(m->arena, ts);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            r.noise_floor = sqlite3_column_double(st, 3);
            r.has_noise_floor = 1;
        }
        for (int k = 0; k < MSN_OM_INTS; k++)
            if (sqlite3_column_type(st, 4 + k) != SQLITE_NULL) {
                r.v[k] = sqlite3_column_int64(st, 4 + k);
                r.has[k] = 1;
            }
        upsert(m, id, &r);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading observer_metrics: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (n_read)
        *n_read = n;
    return 0;
}

void msn_obsmetrics_published(msn_obsmetrics_t *m)
{
    for (uint32_t i = 0; m->dirty && i < m->n_series; i++) {
        msn_omseries_t *s = &m->series[i];
        for (uint32_t k = 0; s->dirty && k < s->n; k++)
            s->rows[k].dirty = 0;
        s->dirty = 0;
    }
    m->dirty = 0;
}

void msn_obsmetrics_record(const msn_omrow_t *r, msn_snaprec_om_t *out)
{
    memset(out, 0, sizeof(*out));
    out->timestamp = msn_sv(r->ts);
    out->noise_floor = r->noise_floor;
    out->has_noise_floor = r->has_noise_floor;
    for (int k = 0; k < MSN_OM_INTS; k++) {
        out->v[k] = r->v[k];
        out->has[k] = r->has[k];
    }
}
