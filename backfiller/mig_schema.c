/*
 * mig_schema.c: schema_upgrade_v1, a legacy CoreScope database brought to the current
 * schema (data-model spec §1); see migrations.h for the steps and the trade-offs.
 *
 * The reference schema is msn_schema_create_current() run on an in-memory database: its
 * sqlite_master gives the statement of every table, index and view, and PRAGMA
 * table_info the declaration of every column, so the upgrade never carries a copy of the
 * DDL. The upgrade plans what is missing, then executes one step per short transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backfiller/migrations.h"
#include "backfiller/migrations_int.h"
#include "shm/buf.h"
#include "shm/log.h"
#include "shm/schema.h"
#include "shm/timeutil.h"

#define MIG MSN_MIG_SCHEMA_UPGRADE
#define DEDUP_INDEX "idx_observations_dedup"
#define LEGACY_INDEX "idx_tx_last_seen"
#define INDEX_CACHE_KIB 65536 /* page cache while an index is built (the sorter's memory) */

/* ---- schema objects and columns ------------------------------------------------------- */

typedef struct {
    char type[8];
    char name[96];
    char tbl[96];
    char *sql;
} obj_t;

typedef struct {
    obj_t *v;
    int n, cap;
} objs_t;

typedef struct {
    char name[96];
    char type[48];
    int notnull, pk;
    char *dflt; /* the default's SQL text, or NULL */
} col_t;

typedef struct {
    col_t *v;
    int n;
} cols_t;

static void objs_free(objs_t *o)
{
    for (int i = 0; i < o->n; i++)
        free(o->v[i].sql);
    free(o->v);
    memset(o, 0, sizeof(*o));
}

static void cols_free(cols_t *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->v[i].dflt);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static void copy_cell(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Every table, index and view of db (not sqlite_*), in creation order. */
static int read_objects(sqlite3 *db, objs_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(db,
                           "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index', 'view')"
                           " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "reading the schema: %s", sqlite3_errmsg(db));
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->v = msn_xrealloc(out->v, (size_t)out->cap * sizeof(*out->v));
        }
        obj_t *o = &out->v[out->n++];
        copy_cell(o->type, sizeof(o->type), st, 0);
        copy_cell(o->name, sizeof(o->name), st, 1);
        copy_cell(o->tbl, sizeof(o->tbl), st, 2);
        const unsigned char *sql = sqlite3_column_text(st, 3);
        o->sql = sql ? msn_xstrdup((const char *)sql) : NULL;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading the schema: %s", sqlite3_errmsg(db));
        objs_free(out);
        return -1;
    }
    return 0;
}

static const obj_t *find_obj(const objs_t *o, const char *type, const char *name)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->v[i].type, type) == 0 && sqlite3_stricmp(o->v[i].name, name) == 0)
            return &o->v[i];
    return NULL;
}

/* The columns of table (n = 0 when it does not exist). */
static int read_cols(sqlite3 *db, const char *table, cols_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char *sql = sqlite3_mprintf("PRAGMA table_info(\"%w\")", table);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "PRAGMA table_info(%s): %s", table, sqlite3_errmsg(db));
        return -1;
    }
    int cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->v = msn_xrealloc(out->v, (size_t)cap * sizeof(*out->v));
        }
        col_t *c = &out->v[out->n++];
        copy_cell(c->name, sizeof(c->name), st, 1);
        copy_cell(c->type, sizeof(c->type), st, 2);
        c->notnull = sqlite3_column_int(st, 3);
        const unsigned char *d = sqlite3_column_text(st, 4);
        c->dflt = d ? msn_xstrdup((const char *)d) : NULL;
        c->pk = sqlite3_column_int(st, 5);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "PRAGMA table_info(%s): %s", table, sqlite3_errmsg(db));
        cols_free(out);
        return -1;
    }
    return 0;
}

static int has_col(const cols_t *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (sqlite3_stricmp(c->v[i].name, name) == 0)
            return 1;
    return 0;
}

/* 1 when a default (as PRAGMA table_info shows it) is a literal: a number, a string, a
   blob, NULL, TRUE or FALSE. Anything else is an expression. */
static int literal_default(const char *d)
{
    if (d[0] == '\'' || d[0] == '"' || d[0] == '-' || d[0] == '+' || (d[0] >= '0' && d[0] <= '9') ||
        ((d[0] == 'x' || d[0] == 'X') && d[1] == '\''))
        return 1;
    return sqlite3_stricmp(d, "NULL") == 0 || sqlite3_stricmp(d, "TRUE") == 0 || sqlite3_stricmp(d, "FALSE") == 0;
}

/* Appends one column definition ("name TYPE [PRIMARY KEY] [NOT NULL] [DEFAULT x]").
   for_alter: ALTER TABLE ADD COLUMN accepts only a constant default, so an expression
   default (datetime('now')) is left out there. */
static void put_coldef(msn_buf_t *b, const col_t *c, int with_pk, int for_alter)
{
    char *q = sqlite3_mprintf("\"%w\"", c->name);
    msn_buf_puts(b, q);
    sqlite3_free(q);
    if (c->type[0])
        msn_buf_printf(b, " %s", c->type);
    if (with_pk && c->pk)
        msn_buf_puts(b, " PRIMARY KEY");
    if (c->notnull)
        msn_buf_puts(b, " NOT NULL");
    if (c->dflt == NULL)
        return;
    if (literal_default(c->dflt))
        msn_buf_printf(b, " DEFAULT %s", c->dflt);
    else if (!for_alter)
        msn_buf_printf(b, " DEFAULT (%s)", c->dflt);
}

/* ---- the plan ---------------------------------------------------------------------------- */

enum { A_COLUMN, A_TABLE, A_DROP_INDEX, A_INDEX, A_DEDUP, A_VIEW };

typedef struct {
    int kind;
    char table[96];
    char name[96];
    char *sql; /* owned */
} action_t;

typedef struct {
    action_t *v;
    int n, cap;
} plan_t;

static void plan_add(plan_t *p, int kind, const char *table, const char *name, const char *sql)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->v = msn_xrealloc(p->v, (size_t)p->cap * sizeof(*p->v));
    }
    action_t *a = &p->v[p->n++];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    snprintf(a->table, sizeof(a->table), "%s", table ? table : "");
    snprintf(a->name, sizeof(a->name), "%s", name ? name : "");
    a->sql = sql ? msn_xstrdup(sql) : NULL;
}

static void plan_free(plan_t *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->v[i].sql);
    free(p->v);
    memset(p, 0, sizeof(*p));
}

/* 1 when s mentions word (case-insensitive, as an identifier). */
static int mentions(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = s; p && *p; p++)
        if (strncasecmp(p, word, n) == 0) {
            char a = p == s ? ' ' : p[-1], b = p[n];
            int ida = (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9') || a == '_';
            int idb = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_';
            if (!ida && !idb)
                return 1;
        }
    return 0;
}

typedef struct {
    plan_t plan;
    int obs_v2; /* observations has observer_id and no observer_idx: keep it that way */
} upgrade_t;

/* Compares the database with the reference and lists the steps, in execution order. */
static int make_plan(sqlite3 *db, sqlite3 *ref, upgrade_t *u, char *err, size_t errlen)
{
    objs_t have, want;
    int rc = -1;
    if (read_objects(db, &have, err, errlen) < 0)
        return -1;
    if (read_objects(ref, &want, err, errlen) < 0) {
        objs_free(&have);
        return -1;
    }
    cols_t obs;
    if (read_cols(db, "observations", &obs, err, errlen) < 0)
        goto out;
    u->obs_v2 = obs.n > 0 && !has_col(&obs, "observer_idx") && has_col(&obs, "observer_id");
    cols_free(&obs);
    if (u->obs_v2)
        msn_warn("%s: observations has the legacy v2 layout (observer_id); observer_idx and its indexes are not added",
                 MIG);

    /* columns of the tables that exist */
    for (int i = 0; i < want.n; i++) {
        const obj_t *t = &want.v[i];
        if (strcmp(t->type, "table") != 0 || find_obj(&have, "table", t->name) == NULL)
            continue;
        cols_t wc, hc;
        if (read_cols(ref, t->name, &wc, err, errlen) < 0)
            goto out;
        if (read_cols(db, t->name, &hc, err, errlen) < 0) {
            cols_free(&wc);
            goto out;
        }
        for (int j = 0; j < wc.n; j++) {
            const col_t *c = &wc.v[j];
            if (has_col(&hc, c->name))
                continue;
            if (u->obs_v2 && strcmp(t->name, "observations") == 0 && strcmp(c->name, "observer_idx") == 0)
                continue;
            if (c->pk) {
                snprintf(err, errlen, "%s lacks its key column %s, which cannot be added", t->name, c->name);
                cols_free(&wc);
                cols_free(&hc);
                goto out;
            }
            msn_buf_t b = MSN_BUF_INIT;
            char *q = sqlite3_mprintf("ALTER TABLE \"%w\" ADD COLUMN ", t->name);
            msn_buf_puts(&b, q);
            sqlite3_free(q);
            put_coldef(&b, c, 0, 1);
            if (c->dflt != NULL && !literal_default(c->dflt))
                msn_warn("%s: %s.%s is added without its default (%s): SQLite cannot add a column with a"
                         " non-constant default",
                         MIG, t->name, c->name, c->dflt);
            plan_add(&u->plan, A_COLUMN, t->name, c->name, msn_buf_cstr(&b));
            msn_buf_free(&b);
        }
        cols_free(&wc);
        cols_free(&hc);
    }
    /* missing tables (their statement may be replaced at execution: see create_table) */
    for (int i = 0; i < want.n; i++)
        if (strcmp(want.v[i].type, "table") == 0 && find_obj(&have, "table", want.v[i].name) == NULL)
            plan_add(&u->plan, A_TABLE, want.v[i].name, want.v[i].name, want.v[i].sql);
    if (find_obj(&have, "index", LEGACY_INDEX) != NULL)
        plan_add(&u->plan, A_DROP_INDEX, "transmissions", LEGACY_INDEX, NULL);
    /* indexes: the unique dedup index last, after its duplicate pass */
    int dedup = 0;
    for (int i = 0; i < want.n; i++) {
        const obj_t *x = &want.v[i];
        if (strcmp(x->type, "index") != 0 || x->sql == NULL || find_obj(&have, "index", x->name) != NULL)
            continue;
        if (u->obs_v2 && strcmp(x->tbl, "observations") == 0 && mentions(x->sql, "observer_idx"))
            continue;
        if (strcmp(x->name, DEDUP_INDEX) == 0) {
            dedup = 1;
            continue;
        }
        plan_add(&u->plan, A_INDEX, x->tbl, x->name, x->sql);
    }
    if (dedup) {
        const obj_t *x = find_obj(&want, "index", DEDUP_INDEX);
        plan_add(&u->plan, A_DEDUP, "observations", "duplicate observations", NULL);
        plan_add(&u->plan, A_INDEX, x->tbl, x->name, x->sql);
    }
    for (int i = 0; i < want.n; i++)
        if (strcmp(want.v[i].type, "view") == 0 && find_obj(&have, "view", want.v[i].name) == NULL)
            plan_add(&u->plan, A_VIEW, "", want.v[i].name, want.v[i].sql);
    rc = 0;
out:
    objs_free(&have);
    objs_free(&want);
    return rc;
}

/* ---- progress -------------------------------------------------------------------------------- */

typedef struct {
    msn_mig_ctx_t *ctx;
    int64_t base;      /* units done before the running step (earlier runs included) */
    int64_t total;     /* units of the whole upgrade */
    int64_t steps;     /* steps done by this run */
    int64_t step_size; /* units of the running step (its progress never shows more) */
} prog_t;

/* Records the progress reached after a step as the migration's resume state, so that a
   later run (after a crash or a stop) carries on counting from there instead of from 0.
   The steps themselves are re-planned from the schema on every run. */
static void save_progress(prog_t *p)
{
    if (p->ctx->amig == NULL)
        return;
    msn_chunk_result_t s = {.max_id = 0, .total = p->total, .processed = p->base, .chunks = p->steps,
                            .cursor = p->steps, .rejected = 0};
    char e[256];
    if (msn_amig_checkpoint(p->ctx->db, p->ctx->amig, &s, e, sizeof(e)) < 0)
        msn_warn("%s: %s", MIG, e);
}

static void report(prog_t *p, int64_t done)
{
    if (p->ctx->amig != NULL)
        msn_amig_chunk_progress(p->ctx->amig, done > p->total ? p->total : done, p->total, MSN_CHUNK_CURSOR_START);
}

static void dedup_progress(void *ud, int64_t processed, int64_t total, int64_t cursor)
{
    (void)total;
    (void)cursor; /* a transmission id, not the rows of this migration */
    prog_t *p = ud;
    /* rows added while the pass runs are scanned too: at most the step's count is shown,
       so that the count after the step (base + step size) is never lower */
    report(p, p->base + (processed < p->step_size ? processed : p->step_size));
}

/* While one long statement runs (an index build): a log line every 10 s, and a stop
   request interrupts it (SQLITE_INTERRUPT; the transaction is rolled back). */
typedef struct {
    const msn_mig_ctx_t *ctx;
    const char *what;
    int64_t start, last_log;
} long_stmt_t;

static int long_stmt_cb(void *arg)
{
    long_stmt_t *l = arg;
    int64_t now = msn_mono_ms();
    if (now - l->last_log >= 10000) {
        l->last_log = now;
        msn_info("%s: %s, %lld s so far", MIG, l->what, (long long)((now - l->start) / 1000));
    }
    return msn_mig_stopped(l->ctx);
}

/* ---- steps ---------------------------------------------------------------------------------- */

static int in_txn(sqlite3 *db, const char *sql, char *e, size_t elen)
{
    if (msn_mig_exec(db, "BEGIN IMMEDIATE", e, elen) < 0)
        return -1;
    if (msn_mig_exec(db, sql, e, elen) < 0 || msn_mig_exec(db, "COMMIT", e, elen) < 0) {
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int object_exists(sqlite3 *db, const char *type, const char *name)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = ?1 AND name = ?2 COLLATE NOCASE", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* The statement creating a missing table. inactive_nodes must have the column order of
   nodes (INSERT INTO inactive_nodes SELECT * FROM nodes); when a legacy nodes table has
   its columns in another order, inactive_nodes is declared after it. */
static char *create_table_sql(sqlite3 *db, sqlite3 *ref, const action_t *a, char *e, size_t elen)
{
    if (strcmp(a->name, "inactive_nodes") != 0)
        return msn_xstrdup(a->sql);
    cols_t have, want;
    if (read_cols(db, "nodes", &have, e, elen) < 0)
        return NULL;
    if (read_cols(ref, "inactive_nodes", &want, e, elen) < 0) {
        cols_free(&have);
        return NULL;
    }
    int same = have.n == 0 || have.n == want.n;
    for (int i = 0; same && have.n > 0 && i < have.n; i++)
        same = sqlite3_stricmp(have.v[i].name, want.v[i].name) == 0;
    char *out;
    if (same) {
        out = msn_xstrdup(a->sql);
    } else {
        msn_buf_t b = MSN_BUF_INIT;
        msn_buf_puts(&b, "CREATE TABLE inactive_nodes (");
        for (int i = 0; i < have.n; i++) {
            if (i)
                msn_buf_puts(&b, ", ");
            put_coldef(&b, &have.v[i], 1, 0);
        }
        msn_buf_putc(&b, ')');
        out = msn_xstrdup(msn_buf_cstr(&b));
        msn_buf_free(&b);
        msn_info("%s: inactive_nodes takes the column order of nodes", MIG);
    }
    cols_free(&have);
    cols_free(&want);
    return out;
}

/* Adds every planned column of one table in one transaction, from action i on; returns
   the index of the first action after them, or -1. */
static int add_columns(sqlite3 *db, const plan_t *p, int i, char *e, size_t elen)
{
    const char *table = p->v[i].table;
    if (msn_mig_exec(db, "BEGIN IMMEDIATE", e, elen) < 0)
        return -1;
    for (; i < p->n && p->v[i].kind == A_COLUMN && strcmp(p->v[i].table, table) == 0; i++) {
        if (msn_schema_has_column(db, table, p->v[i].name))
            continue; /* added by someone else meanwhile */
        if (msn_mig_exec(db, p->v[i].sql, e, elen) < 0)
            goto fail;
        msn_info("%s: added column %s.%s", MIG, table, p->v[i].name);
    }
    if (msn_mig_exec(db, "COMMIT", e, elen) < 0)
        goto fail;
    return i;
fail:
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Builds one index in its own transaction with a larger cache. Returns 0, -ECANCELED when
   a stop interrupted it, or -1 with e set. */
static int build_index(msn_mig_ctx_t *ctx, const action_t *a, char *e, size_t elen)
{
    sqlite3 *db = ctx->db;
    if (object_exists(db, "index", a->name))
        return 0;
    int64_t cache = 0;
    char ce[64];
    msn_mig_query_int(db, "PRAGMA cache_size", 0, NULL, &cache, ce, sizeof(ce));
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", INDEX_CACHE_KIB);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    char what[224];
    snprintf(what, sizeof(what), "building index %s on %s", a->name, a->table);
    long_stmt_t l = {ctx, what, msn_mono_ms(), msn_mono_ms()};
    int64_t t0 = l.start;
    sqlite3_progress_handler(db, 100000, long_stmt_cb, &l);
    int rc = in_txn(db, a->sql, e, elen);
    int interrupted = rc < 0 && sqlite3_errcode(db) == SQLITE_INTERRUPT;
    if (ctx->amig != NULL) /* back to the bookkeeping's heartbeat */
        sqlite3_progress_handler(db, 100000, msn_amig_sqlite_progress, ctx->amig);
    else
        sqlite3_progress_handler(db, 0, NULL, NULL);
    snprintf(sql, sizeof(sql), "PRAGMA cache_size = %lld", (long long)cache);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (interrupted || (rc < 0 && msn_mig_stopped(ctx)))
        return -ECANCELED;
    if (rc < 0)
        return -1;
    msn_info("%s: created index %s (%lld ms with the write lock held)", MIG, a->name,
             (long long)(msn_mono_ms() - t0));
    return 0;
}

/* ---- the duplicate-observation pass -------------------------------------------------------- */

typedef struct {
    int64_t id, tx, oi;
    int oi_null;
    size_t off, len; /* COALESCE(path_json, '') in paths */
} drow_t;

typedef struct {
    sqlite3_stmt *hi, *sel, *grp, *upd, *del;
    drow_t *rows;
    int n, cap;
    int *order;
    msn_buf_t paths;
    int *groups; /* index into rows of the first row of each duplicate group */
    int ng, capg;
    int64_t next_cursor;
    int64_t merged; /* rows merged away (deleted) */
    int merge_cols; /* how many of snr, rssi, score, raw_hex, resolved_path exist */
    const char *cols[5];
} dedup_t;

static const dedup_t *sort_ctx;

static int cmp_rows(const void *x, const void *y)
{
    const drow_t *a = &sort_ctx->rows[*(const int *)x], *b = &sort_ctx->rows[*(const int *)y];
    if (a->tx != b->tx)
        return a->tx < b->tx ? -1 : 1;
    if (a->oi_null != b->oi_null)
        return a->oi_null - b->oi_null;
    if (a->oi != b->oi)
        return a->oi < b->oi ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(sort_ctx->paths.data + a->off, sort_ctx->paths.data + b->off, n) : 0;
    if (c != 0)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int same_key(const dedup_t *d, const drow_t *a, const drow_t *b)
{
    return a->tx == b->tx && !a->oi_null && !b->oi_null && a->oi == b->oi && a->len == b->len &&
           (a->len == 0 || memcmp(d->paths.data + a->off, d->paths.data + b->off, a->len) == 0);
}

static int dd_max(sqlite3 *db, void *ud, int64_t *max_id, char *err, size_t errlen)
{
    (void)ud;
    return msn_mig_query_int(db, "SELECT COALESCE(MAX(transmission_id), 0) FROM observations", 0, NULL, max_id, err,
                             errlen);
}

static int dd_count(sqlite3 *db, void *ud, int64_t max_id, int64_t *total, char *err, size_t errlen)
{
    (void)ud;
    return msn_mig_query_int(db, "SELECT COUNT(*) FROM observations WHERE transmission_id <= ?1", 1, &max_id, total,
                             err, errlen);
}

/* Reads the observations of the next transmissions (at least `limit` rows, whole
   transmissions) and finds the duplicate groups among them; no lock is held. */
static int dd_read(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t cursor, int64_t *found, char *err,
                   size_t errlen)
{
    dedup_t *d = ud;
    d->n = 0;
    d->ng = 0;
    msn_buf_reset(&d->paths);
    int64_t hi = max_id;
    sqlite3_reset(d->hi);
    sqlite3_bind_int64(d->hi, 1, cursor);
    sqlite3_bind_int64(d->hi, 2, max_id);
    sqlite3_bind_int64(d->hi, 3, limit - 1);
    int rc = sqlite3_step(d->hi);
    if (rc == SQLITE_ROW)
        hi = sqlite3_column_int64(d->hi, 0);
    else if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(d->hi);

    sqlite3_reset(d->sel);
    sqlite3_bind_int64(d->sel, 1, cursor);
    sqlite3_bind_int64(d->sel, 2, hi);
    while ((rc = sqlite3_step(d->sel)) == SQLITE_ROW) {
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 4096;
            d->rows = msn_xrealloc(d->rows, (size_t)d->cap * sizeof(*d->rows));
        }
        drow_t *r = &d->rows[d->n++];
        r->id = sqlite3_column_int64(d->sel, 0);
        r->tx = sqlite3_column_int64(d->sel, 1);
        r->oi_null = sqlite3_column_type(d->sel, 2) == SQLITE_NULL;
        r->oi = sqlite3_column_int64(d->sel, 2);
        size_t len = 0;
        const char *p = msn_mig_col_text(d->sel, 3, &len);
        r->off = d->paths.len;
        r->len = len;
        if (len)
            msn_buf_append(&d->paths, p, len);
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset(d->sel);
    *found = d->n;
    d->next_cursor = hi;
    if (d->n == 0)
        return 0;

    d->order = msn_xrealloc(d->order, (size_t)d->cap * sizeof(*d->order));
    for (int i = 0; i < d->n; i++)
        d->order[i] = i;
    sort_ctx = d;
    qsort(d->order, (size_t)d->n, sizeof(*d->order), cmp_rows);
    sort_ctx = NULL;
    for (int i = 1; i < d->n; i++) {
        const drow_t *a = &d->rows[d->order[i - 1]], *b = &d->rows[d->order[i]];
        if (!same_key(d, a, b))
            continue;
        /* first duplicate of a group: remember the group once */
        if (i >= 2 && same_key(d, &d->rows[d->order[i - 2]], a))
            continue;
        if (d->ng == d->capg) {
            d->capg = d->capg ? d->capg * 2 : 16;
            d->groups = msn_xrealloc(d->groups, (size_t)d->capg * sizeof(*d->groups));
        }
        d->groups[d->ng++] = d->order[i - 1];
    }
    return 0;
fail:
    snprintf(err, errlen, "reading observations of transmissions after %lld: %s", (long long)cursor,
             sqlite3_errmsg(db));
    sqlite3_reset(d->hi);
    sqlite3_reset(d->sel);
    return -1;
}

/* Merges one duplicate group inside the chunk's transaction, re-reading it (another writer
   may have changed it since it was found). */
static int merge_group(sqlite3 *db, dedup_t *d, const drow_t *key, char *err, size_t errlen)
{
    sqlite3_value *keep[5] = {0};
    int64_t keep_id = 0;
    int64_t *gone = NULL;
    int ngone = 0, capgone = 0, rc;
    sqlite3_reset(d->grp);
    sqlite3_bind_int64(d->grp, 1, key->tx);
    sqlite3_bind_int64(d->grp, 2, key->oi);
    sqlite3_bind_text(d->grp, 3, d->paths.data ? d->paths.data + key->off : "", (int)key->len, SQLITE_STATIC);
    int first = 1;
    while ((rc = sqlite3_step(d->grp)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(d->grp, 0);
        if (first) {
            keep_id = id;
            for (int c = 0; c < d->merge_cols; c++)
                keep[c] = sqlite3_value_dup(sqlite3_column_value(d->grp, 1 + c));
            first = 0;
            continue;
        }
        /* CoreScope's upsert: a later copy's non-NULL value wins */
        for (int c = 0; c < d->merge_cols; c++)
            if (sqlite3_column_type(d->grp, 1 + c) != SQLITE_NULL) {
                sqlite3_value_free(keep[c]);
                keep[c] = sqlite3_value_dup(sqlite3_column_value(d->grp, 1 + c));
            }
        if (ngone == capgone) {
            capgone = capgone ? capgone * 2 : 8;
            gone = msn_xrealloc(gone, (size_t)capgone * sizeof(*gone));
        }
        gone[ngone++] = id;
    }
    sqlite3_reset(d->grp);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "duplicate observations of transmission %lld: %s", (long long)key->tx,
                 sqlite3_errmsg(db));
        goto fail;
    }
    if (ngone > 0) {
        sqlite3_reset(d->upd);
        for (int c = 0; c < d->merge_cols; c++)
            sqlite3_bind_value(d->upd, 1 + c, keep[c]);
        sqlite3_bind_int64(d->upd, d->merge_cols + 1, keep_id);
        if (sqlite3_step(d->upd) != SQLITE_DONE) {
            snprintf(err, errlen, "merging into observation %lld: %s", (long long)keep_id, sqlite3_errmsg(db));
            sqlite3_reset(d->upd);
            goto fail;
        }
        sqlite3_reset(d->upd);
        for (int i = 0; i < ngone; i++) {
            sqlite3_reset(d->del);
            sqlite3_bind_int64(d->del, 1, gone[i]);
            if (sqlite3_step(d->del) != SQLITE_DONE) {
                snprintf(err, errlen, "deleting duplicate observation %lld: %s", (long long)gone[i],
                         sqlite3_errmsg(db));
                sqlite3_reset(d->del);
                goto fail;
            }
            sqlite3_reset(d->del);
            d->merged++;
            if (d->merged <= 20)
                msn_info("%s: merged duplicate observation %lld into %lld", MIG, (long long)gone[i],
                         (long long)keep_id);
        }
    }
    for (int c = 0; c < d->merge_cols; c++)
        sqlite3_value_free(keep[c]);
    free(gone);
    return 0;
fail:
    for (int c = 0; c < d->merge_cols; c++)
        sqlite3_value_free(keep[c]);
    free(gone);
    return -1;
}

static int dd_write(sqlite3 *db, void *ud, int64_t max_id, int limit, int64_t *cursor, int64_t *affected,
                    int64_t *rejected, char *err, size_t errlen)
{
    dedup_t *d = ud;
    (void)max_id;
    (void)limit;
    *rejected = 0;
    for (int g = 0; g < d->ng; g++)
        if (merge_group(db, d, &d->rows[d->groups[g]], err, errlen) < 0)
            return -1;
    *affected = d->n;
    *cursor = d->next_cursor;
    return 0;
}

static const msn_chunk_ops_t dd_ops = {dd_max, dd_count, dd_write, dd_read};

/* The duplicate pass keeps its own resume state ("schema_upgrade_v1/dedup"), written in each
   chunk's transaction: a restart continues after the last committed chunk instead of
   scanning from the first transmission again. The state stays once the pass is complete
   (a restart before the unique index exists skips the pass); it goes with the migration's
   when that is done, or when the unique index cannot be built (duplicates arrived after
   the pass: the next run scans again). */
#define DEDUP_PART "dedup"

static int dedup_pass(msn_mig_ctx_t *ctx, prog_t *prog, const msn_chunk_result_t *resume, char *err, size_t errlen)
{
    sqlite3 *db = ctx->db;
    msn_amig_part_t part;
    msn_amig_part_init(&part, ctx->amig, DEDUP_PART);
    dedup_t *d = msn_xcalloc(1, sizeof(*d));
    static const char *const merge[] = {"snr", "rssi", "score", "raw_hex", "resolved_path"};
    for (size_t i = 0; i < 5; i++)
        if (msn_schema_has_column(db, "observations", merge[i]))
            d->cols[d->merge_cols++] = merge[i];
    int rc = -1;
    msn_buf_t q = MSN_BUF_INIT, u = MSN_BUF_INIT;
    msn_buf_puts(&q, "SELECT id");
    msn_buf_puts(&u, "UPDATE observations SET ");
    for (int c = 0; c < d->merge_cols; c++) {
        msn_buf_printf(&q, ", %s", d->cols[c]);
        msn_buf_printf(&u, "%s%s = ?%d", c ? ", " : "", d->cols[c], c + 1);
    }
    /* `+observer_idx`: the lookup must go by the transmission (a handful of rows), never by the
       observer index SQLite would otherwise pick without statistics (every observation of
       that observer: 350 ms a lookup at 7M observations instead of 0.02 ms) */
    msn_buf_puts(&q, " FROM observations WHERE transmission_id = ?1 AND +observer_idx = ?2"
                     " AND COALESCE(path_json, '') = ?3 ORDER BY id");
    msn_buf_printf(&u, " WHERE id = ?%d", d->merge_cols + 1);
    if (d->merge_cols == 0) {
        msn_buf_reset(&u);
        msn_buf_puts(&u, "SELECT ?1"); /* nothing to merge: a harmless statement */
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT transmission_id FROM observations WHERE transmission_id > ?1 AND transmission_id <= ?2"
                           " ORDER BY transmission_id LIMIT 1 OFFSET ?3",
                           -1, &d->hi, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT id, transmission_id, observer_idx, COALESCE(path_json, '') FROM observations"
                           " WHERE transmission_id > ?1 AND transmission_id <= ?2",
                           -1, &d->sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, msn_buf_cstr(&q), -1, &d->grp, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, msn_buf_cstr(&u), -1, &d->upd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "DELETE FROM observations WHERE id = ?1", -1, &d->del, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        goto out;
    }
    msn_chunk_opts_t opts = {
        .batch_size = ctx->batch_size,
        .yield_ms = ctx->yield_ms,
        .stop = ctx->stop,
        .progress = dedup_progress,
        .progress_ud = prog,
        .checkpoint = msn_amig_part_checkpoint,
        .checkpoint_ud = &part,
        .resume = resume,
        .single_txn = 0, /* the schema steps are never one transaction */
    };
    if (resume != NULL)
        msn_info("%s: duplicate pass resumes after transmission %lld (%lld of %lld observations scanned)", MIG,
                 (long long)resume->cursor, (long long)resume->processed, (long long)resume->total);
    msn_chunk_result_t res;
    int lrc = msn_chunk_loop(db, &dd_ops, d, &opts, &res, err, errlen);
    if (lrc == 0) {
        msn_info("%s: duplicate pass done: %lld observations scanned, %lld duplicates merged", MIG,
                 (long long)res.processed, (long long)d->merged);
        rc = 0;
    } else {
        rc = lrc == -ECANCELED ? -ECANCELED : -1;
    }
out:
    msn_buf_free(&q);
    msn_buf_free(&u);
    sqlite3_finalize(d->hi);
    sqlite3_finalize(d->sel);
    sqlite3_finalize(d->grp);
    sqlite3_finalize(d->upd);
    sqlite3_finalize(d->del);
    free(d->rows);
    free(d->order);
    free(d->groups);
    msn_buf_free(&d->paths);
    free(d);
    return rc;
}

/* ---- the migration -------------------------------------------------------------------------- */

int msn_mig_schema_upgrade_v1(msn_mig_ctx_t *ctx, char *err, size_t errlen)
{
    int rc = msn_mig_check_settings(ctx, err, errlen);
    if (rc < 0)
        return rc;
    sqlite3 *db = ctx->db, *ref = NULL;
    upgrade_t u;
    memset(&u, 0, sizeof(u));
    char e[512] = "";
    rc = -1;

    if (sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        msn_schema_create_current(ref, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "reference schema: %s", e[0] ? e : "cannot open an in-memory database");
        goto out;
    }
    if (make_plan(db, ref, &u, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "%s", e);
        goto out;
    }
    /* a run after an interrupted one continues its count */
    const msn_chunk_result_t *earlier = msn_amig_resume(ctx->amig);
    int64_t carried = earlier != NULL ? earlier->processed : 0;
    prog_t prog = {ctx, carried, carried, 0, 0};
    int64_t dedup_rows = 0;
    msn_chunk_result_t dd_state;
    int dd_resume = 0;
    for (int i = 0; i < u.plan.n; i++) {
        if (u.plan.v[i].kind != A_DEDUP) {
            prog.total++;
            continue;
        }
        msn_amig_part_t part;
        msn_amig_part_init(&part, ctx->amig, DEDUP_PART);
        dd_resume = msn_amig_part_load(&part, &dd_state, e, sizeof(e));
        if (dd_resume < 0) {
            snprintf(err, errlen, "reading the duplicate pass' state: %s", e);
            goto out;
        }
        if (dd_resume) {
            dedup_rows = dd_state.total; /* the count of the run that began the pass */
        } else if (msn_mig_query_int(db, "SELECT COUNT(*) FROM observations", 0, NULL, &dedup_rows, e, sizeof(e)) < 0) {
            snprintf(err, errlen, "counting observations: %s", e);
            goto out;
        }
        prog.total += dedup_rows;
    }
    prog.step_size = dedup_rows; /* the one step that reports progress inside it */
    if (u.plan.n == 0) {
        msn_info("%s: the schema is current", MIG);
        if (ctx->amig != NULL && msn_amig_progress(ctx->amig, carried, carried, 1, e, sizeof(e)) < 0) {
            snprintf(err, errlen, "%s", e);
            goto out;
        }
        rc = 0;
        goto out;
    }
    msn_info("%s: %d step(s) to bring the schema up to date", MIG, u.plan.n);
    report(&prog, prog.base);

    for (int i = 0; i < u.plan.n;) {
        if (msn_mig_stopped(ctx)) {
            snprintf(err, errlen, "cancelled");
            rc = -ECANCELED;
            goto out;
        }
        const action_t *a = &u.plan.v[i];
        int next = i + 1, src = 0;
        switch (a->kind) {
        case A_COLUMN:
            next = add_columns(db, &u.plan, i, e, sizeof(e));
            src = next < 0 ? -1 : 0;
            if (next < 0)
                snprintf(err, errlen, "adding columns to %s: %s", a->table, e);
            break;
        case A_TABLE:
            if (object_exists(db, "table", a->name))
                break;
            {
                char *sql = create_table_sql(db, ref, a, e, sizeof(e));
                src = sql ? in_txn(db, sql, e, sizeof(e)) : -1;
                free(sql);
            }
            if (src < 0)
                snprintf(err, errlen, "creating table %s: %s", a->name, e);
            else
                msn_info("%s: created table %s", MIG, a->name);
            break;
        case A_DROP_INDEX:
            src = in_txn(db, "DROP INDEX IF EXISTS " LEGACY_INDEX, e, sizeof(e));
            if (src < 0)
                snprintf(err, errlen, "dropping index %s: %s", a->name, e);
            else
                msn_info("%s: dropped the legacy index %s", MIG, a->name);
            break;
        case A_INDEX:
            src = build_index(ctx, a, e, sizeof(e));
            if (src == -1)
                snprintf(err, errlen, "creating index %s: %s", a->name, e);
            if (src == -1 && strcmp(a->name, DEDUP_INDEX) == 0 && strstr(e, "UNIQUE constraint failed") != NULL) {
                /* duplicates arrived after the pass: the next run scans again */
                msn_amig_part_t part;
                char pe[256];
                msn_amig_part_init(&part, ctx->amig, DEDUP_PART);
                if (msn_amig_part_drop(&part, pe, sizeof(pe)) < 0)
                    msn_warn("%s: %s", MIG, pe);
            }
            break;
        case A_DEDUP:
            if (object_exists(db, "index", DEDUP_INDEX))
                break;
            src = dedup_pass(ctx, &prog, dd_resume ? &dd_state : NULL, e, sizeof(e));
            if (src == -1)
                snprintf(err, errlen, "removing duplicate observations: %s", e);
            break;
        case A_VIEW:
            if (object_exists(db, "view", a->name))
                break;
            src = in_txn(db, a->sql, e, sizeof(e));
            if (src < 0)
                snprintf(err, errlen, "creating view %s: %s", a->name, e);
            else
                msn_info("%s: created view %s", MIG, a->name);
            break;
        }
        if (src == -ECANCELED) {
            snprintf(err, errlen, "cancelled");
            rc = -ECANCELED;
            goto out;
        }
        if (src < 0)
            goto out;
        prog.base += a->kind == A_DEDUP ? dedup_rows : (a->kind == A_COLUMN ? next - i : 1);
        prog.steps++;
        save_progress(&prog); /* the resume state first: a restart never shows fewer rows */
        report(&prog, prog.base);
        i = next;
        if (a->kind == A_INDEX || a->kind == A_DEDUP)
            msn_mig_pause(ctx); /* let other writers in between two long statements */
    }

    msn_schema_info_t si;
    if (msn_schema_detect(db, &si, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "after the upgrade: %s", e);
        goto out;
    }
    if (si.legacy) {
        snprintf(err, errlen, "after the upgrade the schema still lacks required tables or columns");
        goto out;
    }
    if (ctx->amig != NULL && msn_amig_progress(ctx->amig, prog.total, prog.total, 1, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "%s", e);
        goto out;
    }
    rc = 0;
out:
    plan_free(&u.plan);
    sqlite3_close(ref);
    return rc;
}
