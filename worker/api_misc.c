/* api_misc.c: GET /api/stats, /api/observers and /api/healthz. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "shm/json.h"
#include "shm/timeutil.h"

void msn_api_send_doc(msn_api_req_t *r, const char *name)
{
    if (msn_snap_doc_get_full(r->txn, r->snap, name, &r->doc) != 0) {
        r->retry_after = 2;
        msn_api_error(r, 503, "%s is not in the snapshot yet", name);
        return;
    }
    r->use_doc = 1;
    r->status = 200;
}

void msn_api_stats(msn_api_req_t *r)
{
    msn_api_send_doc(r, MSN_DOC_STATS);
}

void msn_api_observers(msn_api_req_t *r)
{
    const void *body;
    size_t len;
    if (msn_snap_doc_get(r->txn, r->snap, MSN_DOC_OBSERVERS, &body, &len, NULL, NULL) != 0) {
        r->retry_after = 2;
        msn_api_error(r, 503, "observers are not in the snapshot yet");
        return;
    }
    msn_buf_append(r->body, body, len);
    r->status = 200;
    char now[32];
    msn_format_iso_s(now, r->now_ms / 1000);
    msn_buf_printf(r->body, ",\"server_time\":\"%s\"}", now);
}

static const char *mig_status_name(int s)
{
    switch (s) {
    case MSN_MIG_RUNNING: return "running";
    case MSN_MIG_DONE: return "done";
    case MSN_MIG_FAILED: return "failed";
    default: return "unknown";
    }
}

static void iso_or_null(msn_buf_t *b, int64_t ms)
{
    if (ms <= 0) {
        msn_buf_puts(b, "null");
        return;
    }
    char t[32];
    msn_format_iso_s(t, ms / 1000);
    msn_buf_printf(b, "\"%s\"", t);
}

int msn_api_migrations_json(msn_buf_t *b, const msn_backfill_status_t *bf, int64_t now_ms)
{
    int running = 0;
    msn_buf_putc(b, '[');
    for (int i = 0; i < bf->n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++) {
        const msn_migration_status_t *m = &bf->mig[i];
        if (i)
            msn_buf_putc(b, ',');
        running |= m->status == MSN_MIG_RUNNING;
        int64_t end = m->ended_at > 0 ? m->ended_at : now_ms;
        double elapsed = m->started_at > 0 ? (end - m->started_at) / 1000.0 : 0;
        double rate = elapsed > 0 ? m->rows_processed / elapsed : 0;
        msn_buf_puts(b, "{\"name\":");
        msn_json_strn(b, m->name, strnlen(m->name, sizeof(m->name)));
        msn_buf_printf(b, ",\"status\":\"%s\",\"startedAt\":", mig_status_name(m->status));
        iso_or_null(b, m->started_at);
        msn_buf_puts(b, ",\"endedAt\":");
        iso_or_null(b, m->ended_at);
        msn_buf_puts(b, ",\"lastUpdateAt\":");
        iso_or_null(b, m->last_update_at);
        msn_buf_printf(b, ",\"rowsProcessed\":%lld,\"rowsTotal\":%lld,\"elapsedSec\":", (long long)m->rows_processed,
                       (long long)m->rows_total);
        msn_json_double(b, (double)(int64_t)(elapsed * 10) / 10);
        msn_buf_puts(b, ",\"ratePerSec\":");
        msn_json_double(b, (double)(int64_t)(rate * 10) / 10);
        msn_buf_puts(b, ",\"etaSec\":");
        if (m->status == MSN_MIG_RUNNING && rate > 0 && m->rows_total > m->rows_processed)
            msn_json_double(b, (double)(int64_t)((m->rows_total - m->rows_processed) / rate * 10) / 10);
        else
            msn_buf_puts(b, m->status == MSN_MIG_DONE ? "0" : "null");
        msn_buf_puts(b, ",\"errorMessage\":");
        if (m->error[0])
            msn_json_strn(b, m->error, strnlen(m->error, sizeof(m->error)));
        else
            msn_buf_puts(b, "null");
        msn_buf_putc(b, '}');
    }
    msn_buf_putc(b, ']');
    return running;
}

void msn_api_healthz(msn_api_req_t *r)
{
    msn_buf_t *b = r->body;
    msn_master_status_t ms;
    msn_backfill_status_t bf;
    memset(&ms, 0, sizeof(ms));
    memset(&bf, 0, sizeof(bf));
    if (r->st) {
        msn_status_read_master(r->st, &ms);
        msn_status_read_backfill(r->st, &bf);
    }
    int have = r->txn != NULL;
    int stale = have && r->meta.master_start_ms != ms.started_at_ms;
    static const char *phases[] = {"starting", "loading", "ready", "stopping"};
    const char *phase = ms.phase >= 0 && ms.phase <= 3 ? phases[ms.phase] : "unknown";
    msn_buf_printf(b, "{\"ready\":%s,\"phase\":\"%s\",\"status\":", have ? "true" : "false", phase);
    msn_json_strn(b, ms.status_text, strnlen(ms.status_text, sizeof(ms.status_text)));
    msn_buf_printf(b, ",\"loadProgress\":%lld,\"loadedTx\":%lld,\"loadedObs\":%lld", (long long)ms.load_progress_tx,
                   (long long)(have ? r->meta.tx_count : 0), (long long)(have ? r->meta.obs_count : 0));
    if (have) {
        char pub[32];
        msn_format_iso_ms(pub, r->meta.published_at_ms);
        msn_buf_printf(b, ",\"generation\":%llu,\"publishedAt\":\"%s\",\"snapshotAgeSec\":",
                       (unsigned long long)r->meta.gen, pub);
        msn_json_double(b, (double)((r->now_ms - r->meta.published_at_ms) / 100) / 10);
        msn_buf_printf(b, ",\"stale\":%s,\"maxTransmissionId\":%lld,\"maxObservationId\":%lld,\"legacySchema\":%s",
                       stale ? "true" : "false", (long long)r->meta.max_tx_id, (long long)r->meta.max_obs_id,
                       r->meta.legacy_schema ? "true" : "false");
        msn_buf_puts(b, ",\"sourceDb\":");
        msn_json_strn(b, r->meta.source_db, strlen(r->meta.source_db));
    } else {
        msn_buf_puts(b, ",\"generation\":0,\"snapshotAgeSec\":null,\"stale\":false");
        if (r->snap_refused) {
            msn_buf_puts(b, ",\"snapshotRefused\":");
            msn_json_strn(b, r->snap_refused, strlen(r->snap_refused));
        }
    }
    msn_buf_printf(b, ",\"masterPid\":%d,\"workers\":[", (int)ms.pid);
    int first = 1;
    for (int i = 0; r->st && i < MSN_STATUS_MAX_WORKERS; i++) {
        int pid = atomic_load(&r->st->workers[i].pid);
        if (pid <= 0)
            continue;
        msn_buf_printf(b, "%s{\"slot\":%d,\"pid\":%d,\"requests\":%llu}", first ? "" : ",", i, pid,
                       (unsigned long long)atomic_load(&r->st->workers[i].requests));
        first = 0;
    }
    msn_buf_printf(b, "],\"backfillerPid\":%d", (int)bf.pid);
    msn_buf_puts(b, ",\"from_pubkey_backfill\":{\"total\":0,\"processed\":0,\"done\":true}");
    msn_buf_puts(b, ",\"async_migrations\":");
    int running = msn_api_migrations_json(b, &bf, r->now_ms);
    msn_buf_printf(b, ",\"async_migrations_running\":%s,\"backfillRemaining\":%lld", running ? "true" : "false",
                   (long long)bf.remaining);
    msn_buf_puts(b, ",\"ingestor\":");
    msn_api_ingest_health_json(r, b);
    msn_buf_putc(b, '}');
    r->status = 200;
}
