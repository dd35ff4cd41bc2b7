/*
 * status.c: `meshsnap status` (see status.h): a snapshot of a running meshsnapd for people
 * (aligned tables) and for machines (--json), from the shared status block.
 *
 * Two samples of the block, --interval apart, give the rates: requests per second per
 * worker slot (the slot counters survive respawns, so a delta is right across a restart)
 * and rows per second per migration. Liveness of a pid is checked in /proc, and a pid
 * whose command line does not name meshsnapd counts as gone (the pid was reused).
 */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/buf.h"
#include "shm/config.h"
#include "shm/json.h"
#include "shm/snapshot.h"
#include "shm/status.h"
#include "shm/timeutil.h"

#define DEFAULT_CONFIG "/etc/meshsnap/meshsnap.conf"

static const char usage[] =
    "usage: meshsnap status [--state-dir DIR | --config FILE] [--interval SEC] [--json]\n"
    "  --state-dir DIR  the daemon's state directory (where its `status` block lives)\n"
    "  --config FILE    take state_dir from this configuration (default " DEFAULT_CONFIG ")\n"
    "  --interval SEC   sample the counters this far apart for the rates (default 1; 0 = no rates)\n"
    "  --json           one JSON object: running, stateDir, master, snapshot, requests, workers,\n"
    "                   backfiller, ingestor, migrations, analytics (absent figures are null)\n"
    "Exit status: 0 running, 1 the master exited without stopping (killed or crashed),\n"
    "2 usage error, 3 not running (no status block, or the daemon stopped), 4 the status\n"
    "block cannot be read.\n";

typedef struct {
    const char *state_dir;
    const char *config;
    double interval_s;
    int json;
} opts_t;

/* One consistent-enough reading of the block (the sections under their sequence locks;
 * the worker counters are independent atomics). */
typedef struct {
    int64_t at_ms; /* CLOCK_REALTIME, for ages */
    double mono_s; /* CLOCK_MONOTONIC, for rates */
    msn_master_status_t ms;
    msn_backfill_status_t bf;
    msn_ingest_status_t ing;
    struct {
        int32_t pid, ready, connections, slot_gen;
        uint64_t requests;
    } w[MSN_STATUS_MAX_WORKERS];
} sample_t;

typedef struct {
    int ok; /* the snapshot's meta record was read */
    msn_snap_meta_t meta;
    char err[512];
} snapinfo_t;

/* ---- arguments and the state directory ---- */

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "meshsnap status: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return MSN_STATUS_EXIT_USAGE;
}

/* Returns 0, MSN_STATUS_EXIT_USAGE on a usage error, or -1 after printing help. */
static int parse_args(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        const char **dst = NULL;
        const char *val = NULL;
        const char *name = NULL;
        static const char *const with_value[] = {"--state-dir", "--config", "--interval"};
        for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
            size_t n = strlen(with_value[k]);
            if (strncmp(a, with_value[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
                name = with_value[k];
                if (a[n] == '=')
                    val = a + n + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return usage_error("%s needs a value", name);
            }
        }
        if (name == NULL)
            return usage_error("unknown argument '%s'", a);
        if (strcmp(name, "--interval") == 0) {
            char *end;
            double v = strtod(val, &end);
            if (end == val || *end != '\0' || !(v >= 0) || v > 3600)
                return usage_error("--interval %s: expected seconds between 0 and 3600", val);
            o->interval_s = v;
            continue;
        }
        dst = strcmp(name, "--state-dir") == 0 ? &o->state_dir : &o->config;
        if (*val == '\0')
            return usage_error("%s needs a non-empty value", name);
        *dst = val;
    }
    if (o->state_dir && o->config)
        return usage_error("%s", "give --state-dir or --config, not both");
    return 0;
}

/* The state directory from the options into out. Returns 0, or an exit status after
 * printing why. */
static int find_state_dir(const opts_t *o, char *out, size_t n)
{
    if (o->state_dir) {
        snprintf(out, n, "%s", o->state_dir);
        return 0;
    }
    const char *path = o->config ? o->config : DEFAULT_CONFIG;
    if (o->config == NULL && access(path, F_OK) != 0) {
        fprintf(stderr, "meshsnap status: no --state-dir or --config given, and %s does not exist\n%s", path,
                usage);
        return MSN_STATUS_EXIT_USAGE;
    }
    msn_config_t cfg;
    char err[512];
    msn_config_defaults(&cfg);
    if (msn_config_load_file(&cfg, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "meshsnap status: %s\n", err);
        msn_config_free(&cfg);
        return MSN_STATUS_EXIT_USAGE;
    }
    int rc = 0;
    if (cfg.state_dir) {
        snprintf(out, n, "%s", cfg.state_dir);
    } else if (cfg.db) {
        /* meshsnapd's default: the database's directory + /meshsnap-state */
        const char *slash = strrchr(cfg.db, '/');
        if (slash == NULL)
            snprintf(out, n, "meshsnap-state");
        else if (slash == cfg.db)
            snprintf(out, n, "/meshsnap-state");
        else
            snprintf(out, n, "%.*s/meshsnap-state", (int)(slash - cfg.db), cfg.db);
    } else {
        fprintf(stderr, "meshsnap status: %s sets neither state_dir nor db; use --state-dir\n", path);
        rc = MSN_STATUS_EXIT_USAGE;
    }
    msn_config_free(&cfg);
    return rc;
}

/* ---- reading ---- */

/* Maps the block read-only, for a reader who may read but not write the file. */
static int status_open_ro(const char *state_dir, msn_status_t **out)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/status", state_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || (size_t)sb.st_size < sizeof(msn_status_t)) {
        close(fd);
        return -EPROTO;
    }
    void *p = mmap(NULL, sizeof(msn_status_t), PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return -e;
    msn_status_t *st = p;
    if (st->magic != MSN_STATUS_MAGIC || st->version != MSN_STATUS_VERSION ||
        st->size != sizeof(msn_status_t)) {
        munmap(p, sizeof(msn_status_t));
        return -EPROTO;
    }
    *out = st;
    return 0;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void take_sample(const msn_status_t *st, sample_t *s)
{
    memset(s, 0, sizeof(*s));
    msn_status_read_master(st, &s->ms);
    msn_status_read_backfill(st, &s->bf);
    msn_status_read_ingest(st, &s->ing);
    if (s->ing.n_sources < 0 || s->ing.n_sources > MSN_STATUS_MAX_MQTT)
        s->ing.n_sources = 0;
    if (s->bf.n_migrations < 0)
        s->bf.n_migrations = 0;
    if (s->bf.n_migrations > MSN_STATUS_MAX_MIGRATIONS)
        s->bf.n_migrations = MSN_STATUS_MAX_MIGRATIONS;
    for (int i = 0; i < s->bf.n_migrations; i++) {
        s->bf.mig[i].name[sizeof(s->bf.mig[i].name) - 1] = '\0';
        s->bf.mig[i].error[sizeof(s->bf.mig[i].error) - 1] = '\0';
    }
    s->ms.status_text[sizeof(s->ms.status_text) - 1] = '\0';
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++) {
        msn_worker_status_t *w = (msn_worker_status_t *)&st->workers[i];
        s->w[i].pid = atomic_load_explicit(&w->pid, memory_order_acquire);
        s->w[i].ready = atomic_load_explicit(&w->ready, memory_order_relaxed);
        s->w[i].connections = atomic_load_explicit(&w->connections, memory_order_relaxed);
        s->w[i].slot_gen = atomic_load_explicit(&w->slot_gen, memory_order_relaxed);
        s->w[i].requests = atomic_load_explicit(&w->requests, memory_order_relaxed);
    }
    s->at_ms = msn_now_ms();
    s->mono_s = mono_now();
}

/* 1 when pid is a live (not zombie) process that is, as far as /proc tells, a meshsnapd. */
static int pid_alive(int pid)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) < 0 && errno != EPERM)
        return 0;
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')');
        if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
            return 0;
    }
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
        if (n > 0 && strstr(buf, "meshsnapd") == NULL)
            return 0; /* someone else has the pid now */
    }
    return 1;
}

static void read_snapshot(const char *state_dir, snapinfo_t *si)
{
    msn_snap_t snap;
    memset(si, 0, sizeof(*si));
    memset(&snap, 0, sizeof(snap));
    int rc = msn_snap_open_current_ro(state_dir, &snap, si->err, sizeof(si->err));
    if (rc == 1) {
        snprintf(si->err, sizeof(si->err), "no snapshot published yet");
        return;
    }
    if (rc != 0) /* damaged, or written in another snapshot format: err says which */
        return;
    MDB_txn *txn = NULL;
    rc = mdb_txn_begin(snap.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        snprintf(si->err, sizeof(si->err), "cannot read the snapshot: %s", mdb_strerror(rc));
    } else {
        if (msn_snap_meta_get(txn, &snap, &si->meta) == 0)
            si->ok = 1;
        else
            snprintf(si->err, sizeof(si->err), "the snapshot has no valid meta record");
        mdb_txn_abort(txn);
    }
    msn_snap_close(&snap);
    si->meta.source_db[sizeof(si->meta.source_db) - 1] = '\0';
}

/* ---- figures derived from the two samples ---- */

static const char *phase_name(int phase)
{
    static const char *const names[] = {"starting", "loading", "ready", "stopping"};
    return phase >= 0 && phase <= MSN_PHASE_STOPPING ? names[phase] : "unknown";
}

static const char *mig_status_name(int status)
{
    switch (status) {
    case MSN_MIG_RUNNING:
        return "running";
    case MSN_MIG_DONE:
        return "done";
    case MSN_MIG_FAILED:
        return "failed";
    default:
        return "pending";
    }
}

typedef struct {
    double percent; /* NaN when unknown */
    double rate;    /* rows per second, NaN when unknown */
    double eta_s;   /* NaN when unknown or not running */
} mig_fig_t;

static mig_fig_t migration_figures(const msn_migration_status_t *m, const sample_t *a, const sample_t *b)
{
    mig_fig_t f = {NAN, NAN, NAN};
    if (m->rows_total > 0)
        f.percent = 100.0 * (double)(m->rows_processed > m->rows_total ? m->rows_total : m->rows_processed) /
                    (double)m->rows_total;
    else if (m->status == MSN_MIG_DONE)
        f.percent = 100.0;
    /* the rate over the sampling interval when the migration moved in it, else its average */
    const msn_migration_status_t *prev = NULL;
    for (int i = 0; a && i < a->bf.n_migrations; i++)
        if (strcmp(a->bf.mig[i].name, m->name) == 0)
            prev = &a->bf.mig[i];
    double dt = a ? b->mono_s - a->mono_s : 0;
    if (prev && dt > 0 && m->rows_processed > prev->rows_processed) {
        f.rate = (double)(m->rows_processed - prev->rows_processed) / dt;
    } else if (m->started_at > 0) {
        int64_t end = m->ended_at > 0 ? m->ended_at : b->at_ms;
        if (end > m->started_at)
            f.rate = (double)m->rows_processed * 1000.0 / (double)(end - m->started_at);
    }
    if (m->status == MSN_MIG_DONE)
        f.eta_s = 0;
    else if (m->status == MSN_MIG_RUNNING && f.rate > 0 && m->rows_total > m->rows_processed)
        f.eta_s = (double)(m->rows_total - m->rows_processed) / f.rate;
    return f;
}

/* ---- text formatting ---- */

static void fmt_duration(char *out, size_t n, double s)
{
    if (isnan(s) || s < 0) {
        snprintf(out, n, "-");
        return;
    }
    long long t = (long long)(s + 0.5);
    if (s < 10 && s != floor(s))
        snprintf(out, n, "%.1fs", s);
    else if (t < 60)
        snprintf(out, n, "%llds", t);
    else if (t < 3600)
        snprintf(out, n, "%lldm %02llds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(out, n, "%lldh %02lldm", t / 3600, t % 3600 / 60);
    else
        snprintf(out, n, "%lldd %02lldh", t / 86400, t % 86400 / 3600);
}

static void fmt_rate(char *out, size_t n, double r)
{
    if (isnan(r))
        snprintf(out, n, "-");
    else if (r >= 1000)
        snprintf(out, n, "%.0f", r);
    else
        snprintf(out, n, "%.1f", r);
}

/* A table printed with columns as wide as their widest cell; numeric columns right-aligned. */
#define TBL_COLS 10
#define TBL_ROWS (MSN_STATUS_MAX_WORKERS + MSN_STATUS_MAX_MIGRATIONS + 8)
typedef struct {
    int ncols, nrows;
    int right[TBL_COLS];
    char cell[TBL_ROWS][TBL_COLS][96];
} table_t;

static void tbl_row(table_t *t, const char *const *cells)
{
    if (t->nrows >= TBL_ROWS)
        return;
    for (int c = 0; c < t->ncols; c++)
        snprintf(t->cell[t->nrows][c], sizeof(t->cell[0][0]), "%s", cells[c] ? cells[c] : "");
    t->nrows++;
}

static void tbl_print(const table_t *t, FILE *f)
{
    int w[TBL_COLS] = {0};
    for (int r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            int len = (int)strlen(t->cell[r][c]);
            if (len > w[c])
                w[c] = len;
        }
    for (int r = 0; r < t->nrows; r++) {
        fputs("  ", f);
        for (int c = 0; c < t->ncols; c++) {
            int last = c == t->ncols - 1;
            if (t->right[c])
                fprintf(f, "%*s", w[c], t->cell[r][c]);
            else if (last)
                fputs(t->cell[r][c], f);
            else
                fprintf(f, "%-*s", w[c], t->cell[r][c]);
            if (!last)
                fputs("  ", f);
        }
        fputc('\n', f);
    }
}

typedef struct {
    const char *state_dir;
    const sample_t *a; /* first sample, NULL without --interval */
    const sample_t *b; /* latest sample */
    const snapinfo_t *snap;
    int master_alive;
    int backfiller_alive;
    int ingestor_alive;
    int worker_alive[MSN_STATUS_MAX_WORKERS];
} report_t;

static double worker_rate(const report_t *r, int i)
{
    if (r->a == NULL)
        return NAN;
    double dt = r->b->mono_s - r->a->mono_s;
    uint64_t x = r->a->w[i].requests, y = r->b->w[i].requests;
    return dt > 0 && y >= x ? (double)(y - x) / dt : NAN;
}

static void totals(const report_t *r, uint64_t *requests, long *conns, double *rate)
{
    *requests = 0;
    *conns = 0;
    *rate = NAN;
    uint64_t before = 0;
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++) {
        *requests += r->b->w[i].requests;
        if (r->b->w[i].pid > 0 && r->worker_alive[i])
            *conns += r->b->w[i].connections;
        if (r->a)
            before += r->a->w[i].requests;
    }
    double dt = r->a ? r->b->mono_s - r->a->mono_s : 0;
    if (r->a && dt > 0 && *requests >= before)
        *rate = (double)(*requests - before) / dt;
}

static void print_text(const report_t *r)
{
    const msn_master_status_t *ms = &r->b->ms;
    const msn_backfill_status_t *bf = &r->b->bf;
    int64_t now = r->b->at_ms;
    char t1[64], t2[64];
    FILE *f = stdout;

    if (r->master_alive)
        printf("meshsnapd is running (state_dir %s)\n", r->state_dir);
    else if (ms->phase == MSN_PHASE_STOPPING)
        printf("meshsnapd is NOT running: it stopped (state_dir %s)\n", r->state_dir);
    else
        printf("meshsnapd is NOT running: master pid %d has exited without stopping (state_dir %s)\n",
               (int)ms->pid, r->state_dir);
    fmt_duration(t1, sizeof(t1), ms->started_at_ms > 0 ? (double)(now - ms->started_at_ms) / 1000.0 : NAN);
    printf("  master     pid %d%s, up %s, phase %s: %s\n", (int)ms->pid, r->master_alive ? "" : " (exited)",
           t1, phase_name(ms->phase), ms->status_text[0] ? ms->status_text : "-");

    /* snapshot: the meta record when readable, else what the master recorded */
    if (r->snap->ok) {
        const msn_snap_meta_t *m = &r->snap->meta;
        fmt_duration(t1, sizeof(t1), (double)(now - m->published_at_ms) / 1000.0);
        printf("  snapshot   generation %llu, published %s ago, %lld transmissions, %lld observations%s\n",
               (unsigned long long)m->gen, t1, (long long)m->tx_count, (long long)m->obs_count,
               m->master_start_ms != ms->started_at_ms ? " (stale: from an earlier run)" : "");
        if (m->source_db[0])
            printf("             from %s%s\n", m->source_db, m->legacy_schema ? " (legacy schema)" : "");
    } else if (ms->published_gen > 0) {
        fmt_duration(t1, sizeof(t1), (double)(now - ms->published_at_ms) / 1000.0);
        printf("  snapshot   generation %lld, published %s ago (%s)\n", (long long)ms->published_gen, t1,
               r->snap->err);
    } else {
        printf("  snapshot   none (%s)\n", r->snap->err);
    }

    uint64_t total;
    long conns;
    double rate;
    totals(r, &total, &conns, &rate);
    if (r->a) {
        fmt_rate(t1, sizeof(t1), rate);
        printf("  requests   %s/s over %.1f s, %llu in total, %ld open connection%s\n", t1,
               r->b->mono_s - r->a->mono_s, (unsigned long long)total, conns, conns == 1 ? "" : "s");
    } else {
        printf("  requests   %llu in total, %ld open connection%s\n", (unsigned long long)total, conns,
               conns == 1 ? "" : "s");
    }
    snprintf(t2, sizeof(t2), "%.1f s", ms->last_full_load_ms / 1000.0);
    printf("  restarts   %lld worker restart%s, %lld reload%s%s%s\n", (long long)ms->worker_restarts,
           ms->worker_restarts == 1 ? "" : "s", (long long)ms->reloads, ms->reloads == 1 ? "" : "s",
           ms->last_full_load_ms > 0 ? "; last full load " : "", ms->last_full_load_ms > 0 ? t2 : "");

    /* analytics: one line, naming the failing ones */
    int published = 0, failing = 0;
    double oldest = -1;
    char failed_names[200] = "";
    for (int i = 0; i < MSN_AN_COUNT && i < MSN_AN_SLOTS; i++) {
        const msn_analytic_status_t *an = &ms->an[i];
        if (an->last_published_at > 0) {
            published++;
            double age = (double)(now - an->last_published_at) / 1000.0;
            if (age > oldest)
                oldest = age;
        }
        if (an->last_error[0] != '\0') {
            failing++;
            size_t len = strlen(failed_names);
            snprintf(failed_names + len, sizeof(failed_names) - len, "%s%s", len ? ", " : "",
                     msn_analytic_names[i]);
        }
    }
    fmt_duration(t1, sizeof(t1), oldest);
    printf("  analytics  %d of %d published%s%s, %d failing%s%s%s\n", published, MSN_AN_COUNT,
           oldest >= 0 ? ", oldest " : "", oldest >= 0 ? t1 : "", failing, failing ? " (" : "", failed_names,
           failing ? ")" : "");

    /* processes */
    static table_t t;
    memset(&t, 0, sizeof(t));
    t.ncols = 7;
    t.right[1] = t.right[2] = t.right[4] = t.right[5] = t.right[6] = 1;
    const char *head[] = {"ROLE", "SLOT", "PID", "STATE", "REQUESTS", "REQ/S", "CONNS"};
    tbl_row(&t, head);
    char pid[16], req[32], rs[32], cn[16], slot[16];
    snprintf(pid, sizeof(pid), "%d", (int)ms->pid);
    const char *mrow[] = {"master", "-", pid, r->master_alive ? "alive" : "exited", "-", "-", "-"};
    tbl_row(&t, mrow);
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++) {
        if (r->b->w[i].pid <= 0)
            continue;
        snprintf(slot, sizeof(slot), "%d", i);
        snprintf(pid, sizeof(pid), "%d", (int)r->b->w[i].pid);
        snprintf(req, sizeof(req), "%llu", (unsigned long long)r->b->w[i].requests);
        fmt_rate(rs, sizeof(rs), worker_rate(r, i));
        snprintf(cn, sizeof(cn), "%d", (int)r->b->w[i].connections);
        const char *state = !r->worker_alive[i] ? "exited" : r->b->w[i].ready ? "ready" : "starting";
        const char *row[] = {"worker", slot, pid, state, req, rs, cn};
        tbl_row(&t, row);
    }
    int all_done = bf->n_migrations > 0;
    for (int i = 0; i < bf->n_migrations; i++)
        all_done &= bf->mig[i].status == MSN_MIG_DONE;
    if (bf->pid > 0) {
        snprintf(pid, sizeof(pid), "%d", (int)bf->pid);
        const char *state = r->backfiller_alive ? "alive" : all_done ? "finished" : "exited";
        const char *row[] = {"backfiller", "-", pid, state, "-", "-", "-"};
        tbl_row(&t, row);
    } else {
        const char *row[] = {"backfiller", "-", "-", "not started", "-", "-", "-"};
        tbl_row(&t, row);
    }
    const msn_ingest_status_t *ing = &r->b->ing;
    if (ing->n_sources > 0) {
        char rcv[32], irate[32];
        snprintf(pid, sizeof(pid), "%d", (int)ing->pid);
        snprintf(rcv, sizeof(rcv), "%lld", (long long)ing->received);
        double dt = r->a ? r->b->mono_s - r->a->mono_s : 0;
        fmt_rate(irate, sizeof(irate), r->a && dt > 0 ? (double)(ing->received - r->a->ing.received) / dt : NAN);
        const char *row[] = {"ingestor", "-", ing->pid > 0 ? pid : "-", r->ingestor_alive ? "alive" : "not running",
                             rcv, irate, "-"};
        tbl_row(&t, row);
    }
    putchar('\n');
    tbl_print(&t, f);

    /* MQTT brokers */
    if (ing->n_sources > 0) {
        memset(&t, 0, sizeof(t));
        t.ncols = 6;
        t.right[3] = t.right[4] = 1;
        const char *bh[] = {"BROKER", "URL", "STATE", "MESSAGES", "LAST 5 MIN", "LAST ERROR"};
        tbl_row(&t, bh);
        for (int i = 0; i < ing->n_sources; i++) {
            const msn_mqtt_source_status_t *s = &ing->src[i];
            char msgs[32], m5[32];
            snprintf(msgs, sizeof(msgs), "%lld", (long long)s->messages_total);
            snprintf(m5, sizeof(m5), "%lld", (long long)s->messages_last5m);
            const char *row[] = {s->name, s->broker,
                                 r->ingestor_alive && s->connected ? "connected" : "disconnected", msgs, m5,
                                 s->last_error[0] ? s->last_error : "-"};
            tbl_row(&t, row);
        }
        putchar('\n');
        tbl_print(&t, f);
        printf("  ingest: %lld packets, %lld status messages, %lld rejected, %lld pending; %lld batches"
               " (hold p50 %.1f ms, p99 %.1f ms), %lld rolled back\n",
               (long long)ing->packets, (long long)ing->status_msgs, (long long)ing->rejected,
               (long long)ing->pending, (long long)ing->batches, ing->commit_p50_us / 1000.0,
               ing->commit_p99_us / 1000.0, (long long)ing->write_errors);
    }

    /* migrations */
    if (bf->n_migrations > 0) {
        memset(&t, 0, sizeof(t));
        t.ncols = 7;
        t.right[2] = t.right[3] = t.right[4] = t.right[5] = t.right[6] = 1;
        const char *mh[] = {"MIGRATION", "STATUS", "PROCESSED", "TOTAL", "DONE", "ROWS/S", "ETA"};
        tbl_row(&t, mh);
        for (int i = 0; i < bf->n_migrations; i++) {
            const msn_migration_status_t *m = &bf->mig[i];
            mig_fig_t fg = migration_figures(m, r->a, r->b);
            char proc[32], tot[32], pct[16], rate_s[32], eta[32];
            snprintf(proc, sizeof(proc), "%lld", (long long)m->rows_processed);
            snprintf(tot, sizeof(tot), "%lld", (long long)m->rows_total);
            if (isnan(fg.percent))
                snprintf(pct, sizeof(pct), "-");
            else
                snprintf(pct, sizeof(pct), "%.1f%%", fg.percent);
            fmt_rate(rate_s, sizeof(rate_s), fg.rate);
            fmt_duration(eta, sizeof(eta), fg.eta_s);
            const char *row[] = {m->name, mig_status_name(m->status), proc, tot, pct, rate_s, eta};
            tbl_row(&t, row);
        }
        putchar('\n');
        tbl_print(&t, f);
        for (int i = 0; i < bf->n_migrations; i++)
            if (bf->mig[i].error[0])
                printf("  %s: %s\n", bf->mig[i].name, bf->mig[i].error);
    }
}

/* ---- JSON ---- */

static void j_num(msn_buf_t *b, double v, double scale)
{
    if (isnan(v) || isinf(v))
        msn_buf_puts(b, "null");
    else
        msn_json_double(b, round(v * scale) / scale);
}

static void j_iso(msn_buf_t *b, int64_t ms)
{
    if (ms <= 0) {
        msn_buf_puts(b, "null");
        return;
    }
    char t[32];
    msn_format_iso_ms(t, ms);
    msn_json_strn(b, t, strlen(t));
}

static void print_json(const report_t *r)
{
    msn_buf_t b = MSN_BUF_INIT;
    const msn_master_status_t *ms = &r->b->ms;
    const msn_backfill_status_t *bf = &r->b->bf;
    int64_t now = r->b->at_ms;
    msn_buf_printf(&b, "{\"running\":%s,\"stateDir\":", r->master_alive ? "true" : "false");
    msn_json_strn(&b, r->state_dir, strlen(r->state_dir));
    msn_buf_printf(&b, ",\"master\":{\"pid\":%d,\"alive\":%s,\"phase\":\"%s\",\"status\":", (int)ms->pid,
                   r->master_alive ? "true" : "false", phase_name(ms->phase));
    msn_json_strn(&b, ms->status_text, strlen(ms->status_text));
    msn_buf_puts(&b, ",\"startedAt\":");
    j_iso(&b, ms->started_at_ms);
    msn_buf_puts(&b, ",\"uptimeSec\":");
    j_num(&b, ms->started_at_ms > 0 ? (double)(now - ms->started_at_ms) / 1000.0 : NAN, 10);
    msn_buf_printf(
        &b,
        ",\"reloads\":%lld,\"workerRestarts\":%lld,\"lastFullLoadMs\":%lld,\"publishedGeneration\":%lld,"
        "\"loaded\":{\"transmissions\":%lld,\"observations\":%lld,\"nodes\":%lld,\"observers\":%lld}}",
        (long long)ms->reloads, (long long)ms->worker_restarts, (long long)ms->last_full_load_ms,
        (long long)ms->published_gen, (long long)ms->loaded_tx, (long long)ms->loaded_obs,
        (long long)ms->loaded_nodes, (long long)ms->loaded_observers);

    msn_buf_puts(&b, ",\"snapshot\":");
    if (r->snap->ok) {
        const msn_snap_meta_t *m = &r->snap->meta;
        msn_buf_printf(&b, "{\"generation\":%llu,\"publishedAt\":", (unsigned long long)m->gen);
        j_iso(&b, m->published_at_ms);
        msn_buf_puts(&b, ",\"ageSec\":");
        j_num(&b, (double)(now - m->published_at_ms) / 1000.0, 10);
        msn_buf_printf(
            &b,
            ",\"transmissions\":%lld,\"observations\":%lld,\"stale\":%s,\"legacySchema\":%s,\"sourceDb\":",
            (long long)m->tx_count, (long long)m->obs_count,
            m->master_start_ms != ms->started_at_ms ? "true" : "false", m->legacy_schema ? "true" : "false");
        msn_json_strn(&b, m->source_db, strlen(m->source_db));
        msn_buf_puts(&b, ",\"error\":null}");
    } else {
        msn_buf_printf(&b, "{\"generation\":%lld,\"publishedAt\":", (long long)ms->published_gen);
        j_iso(&b, ms->published_gen > 0 ? ms->published_at_ms : 0);
        msn_buf_puts(&b, ",\"ageSec\":");
        j_num(&b, ms->published_gen > 0 ? (double)(now - ms->published_at_ms) / 1000.0 : NAN, 10);
        msn_buf_puts(&b, ",\"transmissions\":null,\"observations\":null,\"stale\":null,\"legacySchema\":null,"
                         "\"sourceDb\":null,\"error\":");
        msn_json_strn(&b, r->snap->err, strlen(r->snap->err));
        msn_buf_putc(&b, '}');
    }

    uint64_t total;
    long conns;
    double rate;
    totals(r, &total, &conns, &rate);
    msn_buf_printf(&b, ",\"requests\":{\"total\":%llu,\"perSec\":", (unsigned long long)total);
    j_num(&b, rate, 10);
    msn_buf_puts(&b, ",\"intervalSec\":");
    j_num(&b, r->a ? r->b->mono_s - r->a->mono_s : NAN, 1000);
    msn_buf_printf(&b, ",\"connections\":%ld}", conns);

    msn_buf_puts(&b, ",\"workers\":[");
    int first = 1;
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++) {
        if (r->b->w[i].pid <= 0)
            continue;
        msn_buf_printf(&b,
                       "%s{\"slot\":%d,\"pid\":%d,\"alive\":%s,\"ready\":%s,\"requests\":%llu,\"perSec\":",
                       first ? "" : ",", i, (int)r->b->w[i].pid, r->worker_alive[i] ? "true" : "false",
                       r->b->w[i].ready ? "true" : "false", (unsigned long long)r->b->w[i].requests);
        j_num(&b, worker_rate(r, i), 10);
        msn_buf_printf(&b, ",\"connections\":%d,\"starts\":%d}", (int)r->b->w[i].connections,
                       (int)r->b->w[i].slot_gen);
        first = 0;
    }
    msn_buf_puts(&b, "],\"backfiller\":");
    if (bf->pid > 0)
        msn_buf_printf(&b, "{\"pid\":%d,\"alive\":%s}", (int)bf->pid, r->backfiller_alive ? "true" : "false");
    else
        msn_buf_puts(&b, "{\"pid\":null,\"alive\":false}");

    const msn_ingest_status_t *ing = &r->b->ing;
    msn_buf_puts(&b, ",\"ingestor\":");
    if (ing->n_sources > 0) {
        msn_buf_printf(&b,
                       "{\"pid\":%d,\"alive\":%s,\"restarts\":%lld,\"received\":%lld,\"packets\":%lld,"
                       "\"statusMessages\":%lld,\"rejected\":%lld,\"pending\":%lld,\"batches\":%lld,"
                       "\"commitP50Ms\":",
                       (int)ing->pid, r->ingestor_alive ? "true" : "false", (long long)ing->restarts,
                       (long long)ing->received, (long long)ing->packets, (long long)ing->status_msgs,
                       (long long)ing->rejected, (long long)ing->pending, (long long)ing->batches);
        j_num(&b, ing->commit_p50_us / 1000.0, 100);
        msn_buf_puts(&b, ",\"commitP99Ms\":");
        j_num(&b, ing->commit_p99_us / 1000.0, 100);
        msn_buf_puts(&b, ",\"brokers\":[");
        for (int i = 0; i < ing->n_sources; i++) {
            const msn_mqtt_source_status_t *s = &ing->src[i];
            msn_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
            msn_json_strn(&b, s->name, strnlen(s->name, sizeof(s->name)));
            msn_buf_puts(&b, ",\"url\":");
            msn_json_strn(&b, s->broker, strnlen(s->broker, sizeof(s->broker)));
            msn_buf_printf(&b, ",\"connected\":%s,\"messages\":%lld,\"last5m\":%lld,\"lastError\":",
                           r->ingestor_alive && s->connected ? "true" : "false", (long long)s->messages_total,
                           (long long)s->messages_last5m);
            if (s->last_error[0])
                msn_json_strn(&b, s->last_error, strnlen(s->last_error, sizeof(s->last_error)));
            else
                msn_buf_puts(&b, "null");
            msn_buf_putc(&b, '}');
        }
        msn_buf_puts(&b, "]}");
    } else {
        msn_buf_puts(&b, "null");
    }
    msn_buf_printf(&b, ",\"backfillRemaining\":%lld,\"migrations\":[", (long long)bf->remaining);
    for (int i = 0; i < bf->n_migrations; i++) {
        const msn_migration_status_t *m = &bf->mig[i];
        mig_fig_t fg = migration_figures(m, r->a, r->b);
        msn_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        msn_json_strn(&b, m->name, strlen(m->name));
        msn_buf_printf(&b, ",\"status\":\"%s\",\"rowsProcessed\":%lld,\"rowsTotal\":%lld,\"percent\":",
                       mig_status_name(m->status), (long long)m->rows_processed, (long long)m->rows_total);
        j_num(&b, fg.percent, 10);
        msn_buf_puts(&b, ",\"perSec\":");
        j_num(&b, fg.rate, 10);
        msn_buf_puts(&b, ",\"etaSec\":");
        j_num(&b, fg.eta_s, 10);
        msn_buf_puts(&b, ",\"startedAt\":");
        j_iso(&b, m->started_at);
        msn_buf_puts(&b, ",\"endedAt\":");
        j_iso(&b, m->ended_at);
        msn_buf_puts(&b, ",\"error\":");
        if (m->error[0])
            msn_json_strn(&b, m->error, strlen(m->error));
        else
            msn_buf_puts(&b, "null");
        msn_buf_putc(&b, '}');
    }
    msn_buf_puts(&b, "],\"analytics\":{");
    for (int i = 0; i < MSN_AN_COUNT && i < MSN_AN_SLOTS; i++) {
        const msn_analytic_status_t *an = &ms->an[i];
        msn_buf_printf(&b, "%s\"%s\":{\"lastComputeMs\":%lld,\"ageSec\":", i ? "," : "",
                       msn_analytic_names[i], (long long)an->last_compute_ms);
        j_num(&b, an->last_published_at > 0 ? (double)(now - an->last_published_at) / 1000.0 : NAN, 10);
        msn_buf_printf(&b, ",\"computes\":%lld,\"failures\":%lld,\"lastError\":", (long long)an->computes,
                       (long long)an->failures);
        if (an->last_error[0])
            msn_json_strn(&b, an->last_error, strnlen(an->last_error, sizeof(an->last_error)));
        else
            msn_buf_puts(&b, "null");
        msn_buf_putc(&b, '}');
    }
    msn_buf_puts(&b, "}}\n");
    fwrite(b.data, 1, b.len, stdout);
    msn_buf_free(&b);
}

/* With --json, a failure is still one JSON object on stdout. */
static int fail(const opts_t *o, const char *state_dir, int code, const char *msg)
{
    fprintf(stderr, "meshsnap status: %s\n", msg);
    if (o->json) {
        msn_buf_t b = MSN_BUF_INIT;
        msn_buf_puts(&b, "{\"running\":false,\"stateDir\":");
        msn_json_strn(&b, state_dir, strlen(state_dir));
        msn_buf_puts(&b, ",\"error\":");
        msn_json_strn(&b, msg, strlen(msg));
        msn_buf_puts(&b, "}\n");
        fwrite(b.data, 1, b.len, stdout);
        msn_buf_free(&b);
    }
    return code;
}

int msn_cli_status(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof(o));
    o.interval_s = 1.0;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    char state_dir[4096];
    rc = find_state_dir(&o, state_dir, sizeof(state_dir));
    if (rc != 0)
        return rc;

    char msg[4400];
    msn_status_t *st = NULL;
    rc = msn_status_open(state_dir, &st);
    if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
        rc = status_open_ro(state_dir, &st);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        snprintf(msg, sizeof(msg),
                 "no meshsnapd status in %s (not running, or running with another state_dir)", state_dir);
        return fail(&o, state_dir, MSN_STATUS_EXIT_NONE, msg);
    }
    if (rc == -EPROTO) {
        snprintf(
            msg, sizeof(msg),
            "%s/status is not a status block of this version of meshsnap (a different meshsnapd version?)",
            state_dir);
        return fail(&o, state_dir, MSN_STATUS_EXIT_UNKNOWN, msg);
    }
    if (rc < 0) {
        snprintf(msg, sizeof(msg), "cannot read %s/status: %s", state_dir, strerror(-rc));
        return fail(&o, state_dir, MSN_STATUS_EXIT_UNKNOWN, msg);
    }

    static sample_t a, b;
    report_t r;
    memset(&r, 0, sizeof(r));
    r.state_dir = state_dir;
    take_sample(st, &b);
    r.master_alive = pid_alive(b.ms.pid);
    if (r.master_alive && o.interval_s > 0) {
        a = b;
        struct timespec ts = {(time_t)o.interval_s, (long)((o.interval_s - floor(o.interval_s)) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        take_sample(st, &b);
        r.a = &a;
        r.master_alive = pid_alive(b.ms.pid);
    }
    r.b = &b;
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++)
        r.worker_alive[i] = b.w[i].pid > 0 && pid_alive(b.w[i].pid);
    r.backfiller_alive = pid_alive(b.bf.pid);
    r.ingestor_alive = b.ing.pid > 0 && pid_alive(b.ing.pid);
    snapinfo_t snap;
    read_snapshot(state_dir, &snap);
    r.snap = &snap;
    if (o.json)
        print_json(&r);
    else
        print_text(&r);
    msn_status_close(st);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "meshsnap status: cannot write the report: %s\n", strerror(errno));
        return MSN_STATUS_EXIT_UNKNOWN;
    }
    if (!r.master_alive && b.ms.phase == MSN_PHASE_STOPPING) {
        fprintf(stderr, "meshsnap status: meshsnapd is not running: it stopped (master pid %d)\n",
                (int)b.ms.pid);
        return MSN_STATUS_EXIT_NONE;
    }
    if (!r.master_alive) {
        fprintf(stderr,
                "meshsnap status: meshsnapd is not running: master pid %d has exited without stopping "
                "(killed or crashed)\n",
                (int)b.ms.pid);
        return MSN_STATUS_EXIT_DEAD;
    }
    return MSN_STATUS_EXIT_RUNNING;
}
