/* snapcover.c: see snapcover.h. */
#include "snapcover.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shm/schema.h"

/* One integer from a one-row query (NULL reads as 0). Returns 0, or -1 with err set. */
static int one_int(sqlite3 *db, const char *sql, int64_t bind, int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) > 0)
        rc = sqlite3_bind_int64(st, 1, bind);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

int msn_snapcover_check(sqlite3 *db, const char *source_db, const msn_snap_meta_t *m, char *why, size_t whylen)
{
    if (m->format != MSN_SNAP_FORMAT) {
        snprintf(why, whylen, "it has snapshot format %u, this binary writes %d", (unsigned)m->format,
                 MSN_SNAP_FORMAT);
        return 0;
    }
    if (strcmp(m->source_db, source_db) != 0) {
        snprintf(why, whylen, "it was built from %s", m->source_db);
        return 0;
    }
    msn_schema_info_t sc;
    if (msn_schema_detect(db, &sc, why, whylen) < 0)
        return -1;
    if (!sc.has_observations) {
        snprintf(why, whylen, "the database has no observations table");
        return 0;
    }
    if (sc.legacy != m->legacy_schema) {
        snprintf(why, whylen, "the database's schema changed (%s now)", sc.legacy ? "legacy" : "current");
        return 0;
    }
    static const struct {
        const char *sql, *what;
        size_t off;
    } q[] = {
        {"SELECT max(id) FROM transmissions", "the largest transmission id", offsetof(msn_snap_meta_t, max_tx_id)},
        {"SELECT max(id) FROM observations", "the largest observation id", offsetof(msn_snap_meta_t, max_obs_id)},
        {"SELECT count(*) FROM transmissions", "the number of transmissions", offsetof(msn_snap_meta_t, tx_count)},
        {"SELECT count(*) FROM observations", "the number of observations", offsetof(msn_snap_meta_t, obs_count)},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        int64_t v, want;
        if (one_int(db, q[i].sql, 0, &v, why, whylen) < 0)
            return -1;
        memcpy(&want, (const char *)m + q[i].off, sizeof(want));
        if (v != want) {
            snprintf(why, whylen, "%s is %lld in the database, %lld in the snapshot", q[i].what, (long long)v,
                     (long long)want);
            return 0;
        }
    }
    if (sc.has_async_migrations) {
        /* started_at and ended_at are datetime('now') strings, last_update_at ISO 8601, all
           UTC to the second: a migration active in the snapshot's last second counts as
           after it. A migration that wrote rows and has not finished counts too. */
        int64_t n;
        const char *sql = sc.async_progress_cols
                              ? "SELECT count(*) FROM _async_migrations WHERE "
                                "(status NOT IN ('done', 'failed') AND rows_processed > 0) OR "
                                "coalesce(ended_at, '') >= datetime(?1 / 1000, 'unixepoch') OR "
                                "coalesce(started_at, '') >= datetime(?1 / 1000, 'unixepoch') OR "
                                "coalesce(last_update_at, '') >= strftime('%Y-%m-%dT%H:%M:%SZ', ?1 / 1000, 'unixepoch')"
                              : "SELECT count(*) FROM _async_migrations WHERE status NOT IN ('done', 'failed') OR "
                                "coalesce(ended_at, '') >= datetime(?1 / 1000, 'unixepoch') OR "
                                "coalesce(started_at, '') >= datetime(?1 / 1000, 'unixepoch')";
        if (one_int(db, sql, m->published_at_ms, &n, why, whylen) < 0)
            return -1;
        if (n > 0) {
            snprintf(why, whylen, "%lld backfill migration(s) ran or are unfinished since it was published",
                     (long long)n);
            return 0;
        }
    }
    return 1;
}
