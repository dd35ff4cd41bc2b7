/*
 * mig_resolved_path.c: resolved_path_backfill_v1, observations.resolved_path from
 * path_json with the conservative rule of data-model spec §4.2; see migrations.h.
 *
 * The resolver (prefix index of every node key, neighbour graph) is built once per run.
 * Each chunk is read and resolved while holding no lock beyond a WAL read snapshot, and
 * written in one short transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfiller/migrations.h"
#include "backfiller/migrations_int.h"
#include "shm/log.h"
#include "shm/pathres.h"
#include "shm/schema.h"

#define RP_SCOPE                                                                                               \
    " o.resolved_path IS NULL AND o.path_json IS NOT NULL AND o.path_json != '' AND o.path_json != '[]'"

typedef struct {
    sqlite3_stmt *sel, *upd;
    msn_pathres_t *pr;
    msn_mig_batch_t batch;
    msn_mig_rejects_t rej;
    int64_t rows_read, rows_resolved; /* this run, for the final log line */
} rp_t;

static int rp_max(sqlite3 *db, void *ud, int64_t *max_id, char *err, size_t errlen)
{
    (void)ud;
    return msn_mig_query_int(db, "SELECT COALESCE(MAX(id), 0) FROM observations", 0, NULL, max_id, err, errlen);
}

static int rp_count(sqlite3 *db, void *ud, int64_t max_id, int64_t *total, char *err, size_t errlen)
{
    (void)ud;
    return msn_mig_query_int(db, "SELECT COUNT(*) FROM observations o WHERE o.id <= ?1 AND" RP_SCOPE, 1, &max_id,
                             total, err, errlen);
}

static int rp_read(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t cursor, int64_t *found, char *err,
                   size_t errlen)
{
    rp_t *p = ud;
    msn_mig_batch_reset(&p->batch);
    sqlite3_reset(p->sel);
    sqlite3_bind_int64(p->sel, 1, cursor);
    sqlite3_bind_int64(p->sel, 2, max_id);
    sqlite3_bind_int64(p->sel, 3, limit);
    int rc;
    char from[72];
    while ((rc = sqlite3_step(p->sel)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(p->sel, 0);
        size_t len = 0, flen = 0;
        const char *pj = msn_mig_col_text(p->sel, 1, &len);
        const char *fp = msn_mig_col_text(p->sel, 2, &flen);
        from[0] = '\0';
        if (fp != NULL && flen < sizeof(from)) {
            memcpy(from, fp, flen);
            from[flen] = '\0';
        }
        size_t start = p->batch.buf.len;
        int r = sqlite3_column_type(p->sel, 1) == SQLITE_TEXT
                    ? msn_pathres_resolve_json(p->pr, from, pj, len, &p->batch.buf)
                    : -1;
        if (r < 0) {
            p->batch.buf.len = start;
            msn_mig_batch_reject(&p->batch, &p->rej, id, "path_json is not a JSON array of hop strings");
        } else if (r == 0) {
            msn_mig_batch_add(&p->batch, id, MSN_MIG_ROW_NOTHING, 0); /* no hop resolved: stays NULL */
        } else {
            msn_mig_batch_add(&p->batch, id, MSN_MIG_ROW_VALUE, start);
            p->rows_resolved++;
        }
        p->rows_read++;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading observations after id %lld: %s", (long long)cursor, sqlite3_errmsg(db));
        sqlite3_reset(p->sel);
        return -1;
    }
    sqlite3_reset(p->sel);
    *found = p->batch.n;
    return 0;
}

static int rp_write(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t *cursor, int64_t *affected,
                    int64_t *rejected, char *err, size_t errlen)
{
    rp_t *p = ud;
    (void)max_id;
    (void)limit;
    return msn_mig_batch_write(db, p->upd, &p->batch, MSN_MIG_RESOLVED_PATH, cursor, affected, rejected, err,
                               errlen);
}

static const msn_chunk_ops_t rp_ops = {rp_max, rp_count, rp_write, rp_read};

int msn_mig_resolved_path_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen)
{
    int rc = msn_mig_check_settings(ctx, err, errlen);
    if (rc < 0)
        return rc;
    static const char *const needs[][2] = {{"observations", "resolved_path"}, {"observations", "path_json"}};
    for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
        if (!msn_schema_has_column(ctx->db, needs[i][0], needs[i][1])) {
            snprintf(err, errlen, "%s.%s is missing (the schema upgrade has not completed)", needs[i][0],
                     needs[i][1]);
            return -1;
        }
    rp_t *p = msn_xcalloc(1, sizeof(*p));
    p->rej.migration = MSN_MIG_RESOLVED_PATH;
    char e[384];
    p->pr = msn_pathres_new();
    if (msn_pathres_load_sqlite(p->pr, ctx->db, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "loading nodes and neighbour edges: %s", e);
        rc = -1;
        goto out;
    }
    msn_info("%s: resolver built from %zu nodes and %zu neighbour edges", MSN_MIG_RESOLVED_PATH,
             msn_pathres_node_count(p->pr), msn_pathres_edge_count(p->pr));
    /* LEFT JOIN: an observation whose transmission is gone is still resolved (no anchor) */
    const char *sel = msn_schema_has_column(ctx->db, "transmissions", "from_pubkey")
                          ? "SELECT o.id, o.path_json, t.from_pubkey FROM observations o LEFT JOIN transmissions t"
                            " ON t.id = o.transmission_id WHERE o.id > ?1 AND o.id <= ?2 AND" RP_SCOPE
                            " ORDER BY o.id LIMIT ?3"
                          : "SELECT o.id, o.path_json, NULL FROM observations o"
                            " WHERE o.id > ?1 AND o.id <= ?2 AND" RP_SCOPE " ORDER BY o.id LIMIT ?3";
    if (sqlite3_prepare_v2(ctx->db, sel, -1, &p->sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ctx->db, "UPDATE observations SET resolved_path = ?1 WHERE id = ?2 AND resolved_path IS NULL",
                           -1, &p->upd, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(ctx->db));
        rc = -1;
        goto out;
    }
    rc = msn_mig_run_chunked(ctx, &rp_ops, p, &p->rej, NULL, err, errlen);
    msn_info("%s: this run resolved %lld paths; %lld had no resolvable hop and stay NULL", MSN_MIG_RESOLVED_PATH,
             (long long)p->rows_resolved, (long long)(p->rows_read - p->rows_resolved - p->rej.n));
out:
    sqlite3_finalize(p->sel);
    sqlite3_finalize(p->upd);
    msn_pathres_free(p->pr);
    msn_mig_batch_free(&p->batch);
    free(p);
    return rc;
}
