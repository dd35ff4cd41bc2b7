/*
 * async_migrations.c: `_async_migrations` bookkeeping and its status-block mirror; see
 * async_migrations.h for the states and the rules.
 */
#include "backfiller/async_migrations.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backfiller/migrations_int.h"
#include "shm/err.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "shm/timeutil.h"

#define PROGRESS_WRITE_INTERVAL_MS 1000
#define PROGRESS_LOG_INTERVAL_MS 10000
#define PROGRESS_HANDLER_OPS 100000 /* SQLite VM steps between two looks at the clock */

/* Copies src into dst (size n > 0), truncating. */
static void scopy(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC) -> unix ms; 0 when unparsable. */
static int64_t parse_utc_ms(const unsigned char *s)
{
    struct tm tm;
    char sep;
    if (s == NULL)
        return 0;
    memset(&tm, 0, sizeof(tm));
    if (sscanf((const char *)s, "%4d-%2d-%2d%c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 7 ||
        (sep != ' ' && sep != 'T'))
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (int64_t)t * 1000;
}

static void mirror(msn_amig_t *m)
{
    if (m->st != NULL)
        msn_status_set_migration(m->st, &m->mirror);
}

void msn_amig_status_failed(msn_status_t *st, const char *name, const char *error)
{
    if (st == NULL)
        return;
    msn_migration_status_t s;
    memset(&s, 0, sizeof(s));
    scopy(s.name, sizeof(s.name), name);
    s.status = MSN_MIG_FAILED;
    s.ended_at = msn_now_ms();
    scopy(s.error, sizeof(s.error), error ? error : "failed");
    msn_status_set_migration(st, &s);
}

static int write_stmt(sqlite3 *db, const char *sql, int n, const char *const *texts, int64_t *changes, char *err,
                      size_t errlen);

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        msn_set_err(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int msn_amig_ensure_table(sqlite3 *db, char *err, size_t errlen)
{
    static const char *const cols[][2] = {{"rows_processed", "INTEGER NOT NULL DEFAULT 0"},
                                          {"rows_total", "INTEGER NOT NULL DEFAULT 0"},
                                          {"last_update_at", "TEXT"}};
    char e[256];
    if (exec_sql(db,
                 "CREATE TABLE IF NOT EXISTS _async_migrations (name TEXT PRIMARY KEY, status TEXT NOT NULL,"
                 " started_at TEXT NOT NULL DEFAULT (datetime('now')), ended_at TEXT, error TEXT,"
                 " rows_processed INTEGER NOT NULL DEFAULT 0, rows_total INTEGER NOT NULL DEFAULT 0,"
                 " last_update_at TEXT)",
                 e, sizeof(e)) < 0) {
        msn_set_err(err, errlen, "create _async_migrations: %s", e);
        return -1;
    }
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        if (msn_schema_has_column(db, "_async_migrations", cols[i][0]))
            continue;
        char sql[160];
        snprintf(sql, sizeof(sql), "ALTER TABLE _async_migrations ADD COLUMN %s %s", cols[i][0], cols[i][1]);
        if (exec_sql(db, sql, e, sizeof(e)) < 0) {
            msn_set_err(err, errlen, "_async_migrations: add column %s: %s", cols[i][0], e);
            return -1;
        }
        msn_info("_async_migrations: added column %s", cols[i][0]);
    }
    if (exec_sql(db,
                 "CREATE TABLE IF NOT EXISTS _meshsnap_backfill (name TEXT PRIMARY KEY, max_id INTEGER NOT NULL,"
                 " cursor INTEGER NOT NULL, processed INTEGER NOT NULL, total INTEGER NOT NULL,"
                 " rejected INTEGER NOT NULL DEFAULT 0, active_ms INTEGER NOT NULL DEFAULT 0, updated_at TEXT)",
                 e, sizeof(e)) < 0) {
        msn_set_err(err, errlen, "create _meshsnap_backfill: %s", e);
        return -1;
    }
    if (exec_sql(db, MSN_MIG_SKIPPED_DDL, e, sizeof(e)) < 0) {
        msn_set_err(err, errlen, "create _meshsnap_skipped: %s", e);
        return -1;
    }
    return 0;
}

/* Reads the resume state of m->name into m (has_resume = 1 when one exists that may be
   continued); a state that may not be (rows were rejected) is deleted. Returns 0, or -1
   with e set. */
static int load_resume(msn_amig_t *m, char *e, size_t elen)
{
    sqlite3_stmt *q = NULL;
    int64_t rejected = 0;
    int found = 0;
    if (sqlite3_prepare_v2(m->db,
                           "SELECT max_id, cursor, processed, total, rejected, active_ms FROM _meshsnap_backfill"
                           " WHERE name = ?1",
                           -1, &q, NULL) != SQLITE_OK) {
        scopy(e, elen, sqlite3_errmsg(m->db));
        return -1;
    }
    sqlite3_bind_text(q, 1, m->name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        found = 1;
        m->resume.max_id = sqlite3_column_int64(q, 0);
        m->resume.cursor = sqlite3_column_int64(q, 1);
        m->resume.processed = sqlite3_column_int64(q, 2);
        m->resume.total = sqlite3_column_int64(q, 3);
        rejected = sqlite3_column_int64(q, 4);
        m->resume.rejected = rejected;
        m->prior_active_ms = sqlite3_column_int64(q, 5);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        scopy(e, elen, sqlite3_errmsg(m->db));
        return -1;
    }
    /* rows a run rejected are recorded in _meshsnap_skipped: the run goes on after them */
    if (found && rejected >= 0 && m->resume.total >= m->resume.processed && m->resume.processed >= 0 &&
        m->prior_active_ms >= 0) {
        m->has_resume = 1;
        return 0;
    }
    memset(&m->resume, 0, sizeof(m->resume));
    m->prior_active_ms = 0;
    if (found) {
        const char *p[1] = {m->name};
        if (write_stmt(m->db, "DELETE FROM _meshsnap_backfill WHERE name = ?1", 1, p, NULL, e, elen) < 0)
            return -1;
        msn_info("%s: the previous run left an unusable resume state; starting over", m->name);
    }
    return 0;
}

/* Prepares sql and binds text parameters (NULL binds NULL). Returns the statement or NULL. */
static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, int n, const char *const *texts)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (texts[i] == NULL)
            sqlite3_bind_null(st, i + 1);
        else
            sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_TRANSIENT);
    }
    return st;
}

/* Runs a write statement with text parameters; *changes = rows touched. Returns 0, or -1. */
static int write_stmt(sqlite3 *db, const char *sql, int n, const char *const *texts, int64_t *changes, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = prepare(db, sql, n, texts);
    if (st == NULL) {
        msn_set_err(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        msn_set_err(err, errlen, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (changes != NULL)
        *changes = sqlite3_changes64(db);
    return 0;
}

/* msn_amig_begin, with the migration's effects (MSN_MIG_AFFECTS_*) in every status write. */
static int begin(msn_amig_t *m, sqlite3 *db, msn_status_t *st, const char *name, uint32_t effects, char *err,
                 size_t errlen)
{
    char e[384] = "";
    const char *stage = "lookup";
    sqlite3_stmt *q = NULL;
    memset(m, 0, sizeof(*m));
    m->db = db;
    m->st = st;
    m->run_start_mono_ms = msn_mono_ms();
    scopy(m->name, sizeof(m->name), name);
    scopy(m->mirror.name, sizeof(m->mirror.name), name);
    m->mirror.effects = effects;

    if (msn_amig_ensure_table(db, e, sizeof(e)) < 0) {
        stage = "bookkeeping table";
        goto fail;
    }
    const char *p[1] = {name};
    q = prepare(db,
                "SELECT status, started_at, ended_at, rows_processed, rows_total, last_update_at"
                " FROM _async_migrations WHERE name = ?1",
                1, p);
    if (q == NULL) {
        scopy(e, sizeof(e), sqlite3_errmsg(db));
        goto fail;
    }
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const unsigned char *status = sqlite3_column_text(q, 0);
        if (status != NULL && strcmp((const char *)status, "done") == 0) {
            m->mirror.status = MSN_MIG_DONE;
            m->mirror.started_at = parse_utc_ms(sqlite3_column_text(q, 1));
            m->mirror.ended_at = parse_utc_ms(sqlite3_column_text(q, 2));
            m->mirror.rows_processed = sqlite3_column_int64(q, 3);
            m->mirror.rows_total = sqlite3_column_int64(q, 4);
            m->mirror.last_update_at = parse_utc_ms(sqlite3_column_text(q, 5));
            sqlite3_finalize(q);
            mirror(m);
            return 1;
        }
        sqlite3_finalize(q);
        q = NULL;
        /* pending_async (an interrupted run), failed, or anything unknown: run again,
           continuing from the resume state when there is one */
        stage = "resume state";
        if (load_resume(m, e, sizeof(e)) < 0)
            goto fail;
        stage = "reset";
        char back[40], proc[24], tot[24];
        snprintf(back, sizeof(back), "-%lld seconds", (long long)(m->prior_active_ms / 1000));
        snprintf(proc, sizeof(proc), "%lld", (long long)m->resume.processed);
        snprintf(tot, sizeof(tot), "%lld", (long long)m->resume.total);
        const char *rp[4] = {name, back, proc, tot};
        if (write_stmt(db,
                       "UPDATE _async_migrations SET status = 'pending_async', started_at = datetime('now', ?2),"
                       " ended_at = NULL, error = NULL, rows_processed = CAST(?3 AS INTEGER),"
                       " rows_total = CAST(?4 AS INTEGER), last_update_at = NULL WHERE name = ?1",
                       4, rp, NULL, e, sizeof(e)) < 0)
            goto fail;
    } else if (rc == SQLITE_DONE) {
        sqlite3_finalize(q);
        q = NULL;
        stage = "register";
        /* a state without its bookkeeping row (the row was deleted to force a new run) is
           stale, and so are the states of the migration's parts ("<name>/<part>") */
        if (write_stmt(db, "DELETE FROM _meshsnap_backfill WHERE name = ?1 OR substr(name, 1, length(?1) + 1) = ?1 || '/'",
                       1, p, NULL, e, sizeof(e)) < 0 ||
            write_stmt(db, "INSERT INTO _async_migrations (name, status) VALUES (?1, 'pending_async')", 1, p, NULL, e,
                       sizeof(e)) < 0)
            goto fail;
    } else {
        scopy(e, sizeof(e), sqlite3_errmsg(db));
        goto fail;
    }
    m->mirror.status = MSN_MIG_RUNNING;
    m->mirror.started_at = msn_now_ms() - (m->prior_active_ms / 1000) * 1000;
    m->mirror.rows_processed = m->resume.processed;
    m->mirror.rows_total = m->resume.total;
    m->mirror.cursor = m->has_resume && m->resume.cursor > 0 ? m->resume.cursor : 0;
    m->mirror.rows_skipped = m->has_resume ? m->resume.rejected : 0;
    mirror(m);
    return 0;
fail:
    if (q != NULL)
        sqlite3_finalize(q);
    msn_set_err(err, errlen, "%s: %s: %s", name, stage, e);
    m->mirror.status = MSN_MIG_FAILED;
    m->mirror.ended_at = msn_now_ms();
    if (err != NULL && errlen > 0)
        scopy(m->mirror.error, sizeof(m->mirror.error), err);
    mirror(m);
    return -1;
}

int msn_amig_begin(msn_amig_t *m, sqlite3 *db, msn_status_t *st, const char *name, char *err, size_t errlen)
{
    return begin(m, db, st, name, 0, err, errlen);
}

int msn_amig_progress(msn_amig_t *m, int64_t processed, int64_t total, int terminal, char *err, size_t errlen)
{
    int64_t now = msn_mono_ms();
    m->mirror.rows_processed = processed;
    m->mirror.rows_total = total;
    m->mirror.last_update_at = msn_now_ms();
    mirror(m);

    int same = m->last_log_mono_ms != 0 && m->logged_processed == processed && m->logged_total == total;
    if ((terminal && !same) || m->last_log_mono_ms == 0 || now - m->last_log_mono_ms >= PROGRESS_LOG_INTERVAL_MS) {
        m->last_log_mono_ms = now;
        m->logged_processed = processed;
        m->logged_total = total;
        if (total > 0)
            msn_info("%s: %lld / %lld rows (%.1f%%)", m->name, (long long)processed, (long long)total,
                     100.0 * (double)processed / (double)total);
        else
            msn_info("%s: %lld rows, nothing left to do", m->name, (long long)processed);
    }

    if (!terminal && m->last_write_mono_ms != 0 && now - m->last_write_mono_ms < PROGRESS_WRITE_INTERVAL_MS)
        return 0;
    m->last_write_mono_ms = now;

    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(m->db,
                           "UPDATE _async_migrations SET rows_processed = ?1, rows_total = ?2, last_update_at = ?3"
                           " WHERE name = ?4",
                           -1, &q, NULL) != SQLITE_OK) {
        msn_set_err(err, errlen, "%s: progress write: %s", m->name, sqlite3_errmsg(m->db));
        return -1;
    }
    sqlite3_bind_int64(q, 1, processed);
    sqlite3_bind_int64(q, 2, total);
    sqlite3_bind_text(q, 3, ts, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 4, m->name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_DONE) {
        msn_set_err(err, errlen, "%s: progress write: %s", m->name, sqlite3_errmsg(m->db));
        sqlite3_finalize(q);
        return -1;
    }
    sqlite3_finalize(q);
    if (sqlite3_changes64(m->db) == 0) {
        msn_set_err(err, errlen, "%s: progress write: no row updated (bookkeeping row missing)", m->name);
        return -1;
    }
    return 0;
}

void msn_amig_chunk_progress(void *ud, int64_t processed, int64_t total, int64_t cursor)
{
    msn_amig_t *m = ud;
    if (cursor > m->mirror.cursor)
        m->mirror.cursor = cursor;
    char e[384];
    if (msn_amig_progress(m, processed, total, 0, e, sizeof(e)) < 0) {
        m->write_failures++;
        msn_warn("%s (in-loop failure %lld, continuing)", e, (long long)m->write_failures);
    }
}

const msn_chunk_result_t *msn_amig_resume(const msn_amig_t *m)
{
    return m != NULL && m->has_resume ? &m->resume : NULL;
}

/* Writes the resume state `name` (active_ms: the time spent so far). */
static int save_state(sqlite3 *db, const char *name, const msn_chunk_result_t *s, int64_t active_ms, char *err,
                      size_t errlen)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO _meshsnap_backfill (name, max_id, cursor, processed, total, rejected, active_ms,"
                           " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
                           " ON CONFLICT(name) DO UPDATE SET max_id = excluded.max_id, cursor = excluded.cursor,"
                           " processed = excluded.processed, total = excluded.total, rejected = excluded.rejected,"
                           " active_ms = excluded.active_ms, updated_at = excluded.updated_at",
                           -1, &q, NULL) != SQLITE_OK) {
        msn_set_err(err, errlen, "%s: checkpoint: %s", name, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 2, s->max_id);
    sqlite3_bind_int64(q, 3, s->cursor);
    sqlite3_bind_int64(q, 4, s->processed);
    sqlite3_bind_int64(q, 5, s->total);
    sqlite3_bind_int64(q, 6, s->rejected);
    sqlite3_bind_int64(q, 7, active_ms);
    if (sqlite3_step(q) != SQLITE_DONE) {
        msn_set_err(err, errlen, "%s: checkpoint: %s", name, sqlite3_errmsg(db));
        sqlite3_finalize(q);
        return -1;
    }
    sqlite3_finalize(q);
    return 0;
}

int msn_amig_checkpoint(sqlite3 *db, void *ud, const msn_chunk_result_t *s, char *err, size_t errlen)
{
    msn_amig_t *m = ud;
    return save_state(db, m->name, s, m->prior_active_ms + (msn_mono_ms() - m->run_start_mono_ms), err, errlen);
}

void msn_amig_part_init(msn_amig_part_t *p, msn_amig_t *m, const char *part)
{
    p->m = m;
    snprintf(p->name, sizeof(p->name), "%s/%s", m ? m->name : "", part);
}

int msn_amig_part_load(const msn_amig_part_t *p, msn_chunk_result_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (p->m == NULL)
        return 0;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(p->m->db,
                           "SELECT max_id, cursor, processed, total, rejected FROM _meshsnap_backfill WHERE name = ?1", -1,
                           &q, NULL) != SQLITE_OK) {
        msn_set_err(err, errlen, "%s: %s", p->name, sqlite3_errmsg(p->m->db));
        return -1;
    }
    sqlite3_bind_text(q, 1, p->name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q), found = 0;
    if (rc == SQLITE_ROW) {
        out->max_id = sqlite3_column_int64(q, 0);
        out->cursor = sqlite3_column_int64(q, 1);
        out->processed = sqlite3_column_int64(q, 2);
        out->total = sqlite3_column_int64(q, 3);
        out->rejected = sqlite3_column_int64(q, 4);
        found = out->processed >= 0 && out->total >= 0;
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        msn_set_err(err, errlen, "%s: %s", p->name, sqlite3_errmsg(p->m->db));
        return -1;
    }
    return found;
}

int msn_amig_part_checkpoint(sqlite3 *db, void *ud, const msn_chunk_result_t *s, char *err, size_t errlen)
{
    const msn_amig_part_t *p = ud;
    if (p->m == NULL)
        return 0;
    return save_state(db, p->name, s, 0, err, errlen);
}

int msn_amig_part_drop(const msn_amig_part_t *p, char *err, size_t errlen)
{
    if (p->m == NULL)
        return 0;
    const char *a[1] = {p->name};
    return write_stmt(p->m->db, "DELETE FROM _meshsnap_backfill WHERE name = ?1", 1, a, NULL, err, errlen);
}

int msn_amig_sqlite_progress(void *ud)
{
    msn_amig_t *m = ud;
    int64_t now = msn_mono_ms();
    int64_t last = m->last_log_mono_ms ? m->last_log_mono_ms : m->run_start_mono_ms;
    if (now - last >= PROGRESS_LOG_INTERVAL_MS) {
        m->last_log_mono_ms = now;
        m->logged_processed = m->mirror.rows_processed;
        m->logged_total = m->mirror.rows_total;
        msn_info("%s: still working: %lld / %lld rows", m->name, (long long)m->mirror.rows_processed,
                 (long long)m->mirror.rows_total);
    }
    return m->stop != NULL && *m->stop != 0;
}

/* Shows the end of the run in the status block (what /api/healthz shows). */
static void mirror_end(msn_amig_t *m, int status, const char *error)
{
    m->mirror.ended_at = msn_now_ms();
    m->mirror.status = status;
    scopy(m->mirror.error, sizeof(m->mirror.error), error);
    mirror(m);
}

int msn_amig_finish(msn_amig_t *m, const char *error, char *err, size_t errlen)
{
    /* The row is written first, so that whoever reads the outcome in the status block finds
       it in _async_migrations too; done is shown only once recorded, a failure whatever
       became of its row. */
    const char *p[2] = {error, m->name};
    int64_t changes = 0;
    char e[256];
    const char *sql = error == NULL ? "UPDATE _async_migrations SET status = 'done', ended_at = datetime('now'),"
                                      " error = ?1 WHERE name = ?2"
                                    : "UPDATE _async_migrations SET status = 'failed', ended_at = datetime('now'),"
                                      " error = ?1 WHERE name = ?2";
    int rc = 0;
    if (write_stmt(m->db, sql, 2, p, &changes, e, sizeof(e)) < 0) {
        msn_set_err(err, errlen, "%s: cannot record %s: %s", m->name, error ? "failure" : "completion", e);
        rc = -1;
    } else if (changes == 0) {
        msn_set_err(err, errlen, "%s: cannot record %s: bookkeeping row missing", m->name,
                    error ? "failure" : "completion");
        rc = -1;
    }
    if (error != NULL) {
        mirror_end(m, MSN_MIG_FAILED, error);
        return rc;
    }
    if (rc < 0)
        return rc; /* the caller shows it as failed */
    const char *d[1] = {m->name};
    if (write_stmt(m->db, "DELETE FROM _meshsnap_backfill WHERE name = ?1 OR substr(name, 1, length(?1) + 1) = ?1 || '/'",
                   1, d, NULL, e, sizeof(e)) < 0)
        msn_warn("%s: done, but its resume state could not be dropped: %s", m->name, e);
    mirror_end(m, MSN_MIG_DONE, "");
    return 0;
}

int msn_amig_run(sqlite3 *db, msn_status_t *st, const char *name, msn_mig_fn fn, msn_mig_ctx_t *ctx, char *err,
                 size_t errlen)
{
    msn_amig_t m;
    char e[512] = "";
    int rc = begin(&m, db, st, name, ctx->effects, err, errlen);
    if (rc == 1) {
        msn_info("%s: already done, skipped", name);
        return 0;
    }
    if (rc < 0) {
        msn_error("%s", err);
        return -1;
    }
    if (m.has_resume)
        msn_info("%s: resuming after id %lld (%lld / %lld rows done)", name, (long long)m.resume.cursor,
                 (long long)m.resume.processed, (long long)m.resume.total);
    else
        msn_info("%s: starting", name);
    ctx->db = db;
    ctx->amig = &m;
    m.stop = ctx->stop;
    sqlite3_progress_handler(db, PROGRESS_HANDLER_OPS, msn_amig_sqlite_progress, &m);
    int frc = fn(ctx, e, sizeof(e));
    if (frc != 0 && frc != -ECANCELED && ctx->stop != NULL && *ctx->stop) {
        /* e.g. a statement interrupted by the stop; whatever it was, it is not lost */
        if (e[0] != '\0')
            msn_warn("%s: failed while stopping: %s", name, e);
        frc = -ECANCELED;
    }
    sqlite3_progress_handler(db, 0, NULL, NULL);
    ctx->amig = NULL;

    char fe[512];
    if (frc == 0) {
        if (msn_amig_finish(&m, NULL, fe, sizeof(fe)) < 0) {
            /* not recorded as done: the status block must not claim otherwise */
            msn_error("%s", fe);
            mirror_end(&m, MSN_MIG_FAILED, fe);
            msn_set_err(err, errlen, "%s", fe);
            return -1;
        }
        msn_info("%s: done (%lld rows)", name, (long long)m.mirror.rows_processed);
        return 0;
    }
    const char *why = frc == -ECANCELED ? "cancelled" : (e[0] ? e : "failed");
    if (msn_amig_finish(&m, why, fe, sizeof(fe)) < 0)
        msn_warn("%s", fe);
    if (frc == -ECANCELED) {
        msn_info("%s: stopped after %lld / %lld rows; the next run resumes", name,
                 (long long)m.mirror.rows_processed, (long long)m.mirror.rows_total);
        msn_set_err(err, errlen, "cancelled");
        return -ECANCELED;
    }
    msn_error("%s failed: %s", name, why);
    msn_set_err(err, errlen, "%s: %s", name, why);
    return -1;
}
