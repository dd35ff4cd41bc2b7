/*
 * mig_path_json.c: path_json_backfill_v1, path_json derived from each observation's own
 * raw_hex (data-model spec §3.1); see migrations.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfiller/migrations.h"
#include "backfiller/migrations_int.h"
#include "shm/codec/codec.h"
#include "shm/log.h"
#include "shm/schema.h"

/* The rows in scope (§3.1). CROSS JOIN keeps observations as the outer loop so that the id
   range is a rowid range scan. A missing transmission or a NULL payload_type is out of
   scope, as in CoreScope (NULL != 9 is not true). */
#define PJ_SCOPE                                                                                               \
    " FROM observations o CROSS JOIN transmissions t ON t.id = o.transmission_id"                              \
    " WHERE o.raw_hex IS NOT NULL AND o.raw_hex != '' AND (o.path_json IS NULL OR o.path_json = '')"           \
    " AND t.payload_type != 9"

typedef struct {
    sqlite3_stmt *sel, *upd;
    msn_mig_batch_t batch;
    msn_mig_rejects_t rej;
    msn_packet_t pkt;
} pj_t;

static int pj_max(sqlite3 *db, void *ud, int64_t *max_id, char *err, size_t errlen)
{
    (void)ud;
    return msn_mig_query_int(db, "SELECT COALESCE(MAX(id), 0) FROM observations", 0, NULL, max_id, err, errlen);
}

static int pj_count(sqlite3 *db, void *ud, int64_t max_id, int64_t *total, char *err, size_t errlen)
{
    (void)ud;
    return msn_mig_query_int(db, "SELECT COUNT(*)" PJ_SCOPE " AND o.id <= ?1", 1, &max_id, total, err, errlen);
}

static int pj_read(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t cursor, int64_t *found, char *err,
                   size_t errlen)
{
    pj_t *p = ud;
    msn_mig_batch_reset(&p->batch);
    sqlite3_reset(p->sel);
    sqlite3_bind_int64(p->sel, 1, cursor);
    sqlite3_bind_int64(p->sel, 2, max_id);
    sqlite3_bind_int64(p->sel, 3, limit);
    int rc;
    while ((rc = sqlite3_step(p->sel)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(p->sel, 0);
        size_t len = 0;
        const char *hex = msn_mig_col_text(p->sel, 1, &len);
        int drc = hex ? msn_packet_decode_hex(&p->pkt, hex, len, NULL) : MSN_CODEC_EHEX;
        if (drc != 0) {
            char why[96];
            snprintf(why, sizeof(why), "raw_hex does not decode: %s", msn_codec_strerror(drc));
            msn_mig_batch_reject(&p->batch, &p->rej, id, why);
            continue;
        }
        size_t start = p->batch.buf.len;
        msn_packet_render_path_json(&p->pkt, &p->batch.buf);
        msn_mig_batch_add(&p->batch, id, MSN_MIG_ROW_VALUE, start);
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

static int pj_write(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t *cursor, int64_t *affected,
                    int64_t *rejected, char *err, size_t errlen)
{
    pj_t *p = ud;
    (void)max_id;
    (void)limit;
    return msn_mig_batch_write(db, p->upd, &p->batch, MSN_MIG_PATH_JSON, cursor, affected, rejected, err, errlen);
}

static const msn_chunk_ops_t pj_ops = {pj_max, pj_count, pj_write, pj_read};

int msn_mig_path_json_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen)
{
    int rc = msn_mig_check_settings(ctx, err, errlen);
    if (rc < 0)
        return rc;
    static const char *const needs[][2] = {{"observations", "raw_hex"},
                                           {"observations", "path_json"},
                                           {"transmissions", "payload_type"}};
    for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
        if (!msn_schema_has_column(ctx->db, needs[i][0], needs[i][1])) {
            snprintf(err, errlen, "%s.%s is missing (the schema upgrade has not completed)", needs[i][0],
                     needs[i][1]);
            return -1;
        }
    pj_t *p = msn_xcalloc(1, sizeof(*p));
    p->rej.migration = MSN_MIG_PATH_JSON;
    if (sqlite3_prepare_v2(ctx->db, "SELECT o.id, o.raw_hex" PJ_SCOPE " AND o.id > ?1 AND o.id <= ?2 ORDER BY o.id LIMIT ?3",
                           -1, &p->sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ctx->db,
                           "UPDATE observations SET path_json = ?1 WHERE id = ?2 AND (path_json IS NULL OR path_json = '')",
                           -1, &p->upd, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(ctx->db));
        rc = -1;
        goto out;
    }
    rc = msn_mig_run_chunked(ctx, &pj_ops, p, &p->rej, NULL, err, errlen);
out:
    sqlite3_finalize(p->sel);
    sqlite3_finalize(p->upd);
    msn_mig_batch_free(&p->batch);
    free(p);
    return rc;
}
