/*
 * import.c: `meshsnap import` (see import.h): options, the input (with the first pass
 * that collects advert keys for the resolver), the two-thread batch loop (a reader thread
 * prepares lines with import_line.c, this thread writes them with import_db.c), progress,
 * the report of rejected lines and the exit status.
 */
#include "keys.h"
#include "import.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/ingest/ingest.h"
#include "usage.h"
#include "shm/buf.h"
#include "shm/codec/codec.h"
#include "shm/config.h"
#include "shm/hash.h"
#include "shm/hex.h"
#include "shm/hmap.h"
#include "shm/log.h"
#include "shm/pathres.h"
#include "shm/schema.h"
#include "shm/timeutil.h"

static const char usage[] =
    "usage: meshsnap import --db PATH [--batch N] [--config FILE] [--channel NAME]... [--no-verify]\n"
    "                       [--rules import|corescope] [--rule NAME=VALUE]... [--progress] [FILE|-]\n"
    "  FILE          JSON lines {\"raw\": HEX, \"observer\": ID, \"observer_name\"?, \"iata\"?, \"snr\"?,\n"
    "                \"rssi\"?, \"score\"?, \"direction\"?, \"timestamp\"?} (default: standard input)\n"
    "  --db PATH     the CoreScope database (created with the current schema when missing)\n"
    "  --batch N     commit every N input lines (default 5000)\n"
    "  --config F    add the [channels] keys of a meshsnap configuration file\n"
    "  --channel N   add a channel key: #hashtag (derived) or name=HEXKEY (repeatable)\n"
    "  --no-verify   do not check advert signatures (the ingestor checks them by default)\n"
    "  --rules R     import (default): this command's rules; corescope: CoreScope's ingestor's\n"
    "                (receive time, per-message counters, ...; docs/ingest.md)\n"
    "  --rule N=V    one rule: packet_time, observer_first, packet_count, missing_name,\n"
    "                repeat_last_seen, bad_signature, verify_signatures, metrics_interval_s\n"
    "  --progress[=S] print a progress line every S seconds (default 2) even when stderr is\n"
    "                not a terminal (on a terminal it is always shown)\n"
    "A line's timestamp (unix seconds or RFC3339) is its packet time; without one, the\n"
    "current time is used. Exit status: 0 all lines imported, 1 some lines rejected, 2 error.\n";

#define DEFAULT_BATCH 5000
#define MAX_LISTED 50
#define PROGRESS_EVERY_MS 2000

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct {
    const char *db;
    const char *input;
    const char *config;
    const char **channels;
    int n_channels;
    long batch;
    msn_ingest_rules_t rules;
    int progress;        /* --progress given */
    int64_t progress_ms; /* interval of the progress lines */
} opts_t;

typedef struct {
    int64_t line;
    int reason;
    char *why;
} rejected_t;

typedef struct {
    int64_t lines;    /* non-blank lines read */
    int64_t imported; /* lines written and committed */
    int64_t rejected;
    int64_t by_reason[MSN_INGEST_R_COUNT];
    rejected_t listed[MAX_LISTED];
    int n_listed;
} report_t;

static int usage_error(const char *fmt, const char *arg)
{
    return msn_cli_usage_error("import", usage, 2, fmt, arg);
}

/* Returns 0, 2 on a usage error, or -1 after printing help (exit 0). */
static int parse_args(int argc, char **argv, opts_t *o)
{
    int only_args = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_args && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) {
                only_args = 1;
                continue;
            }
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                fputs(usage, stdout);
                return -1;
            }
            if (strcmp(a, "--no-verify") == 0) {
                o->rules.verify = 0;
                continue;
            }
            if (strncmp(a, "--progress", 10) == 0 && (a[10] == '\0' || a[10] == '=')) {
                o->progress = 1;
                if (a[10] == '=') {
                    char *end;
                    errno = 0;
                    double v = strtod(a + 11, &end);
                    if (a[11] == '\0' || *end != '\0' || errno != 0 || !(v >= 0.001 && v <= 86400))
                        return usage_error("--progress: '%s' is not a number of seconds", a + 11);
                    o->progress_ms = (int64_t)(v * 1000.0 + 0.5);
                }
                continue;
            }
            static const char *const with_value[] = {"--db", "--batch", "--config", "--channel", "--rules", "--rule"};
            const char *val = NULL;
            size_t k;
            for (k = 0; k < 6; k++) {
                size_t n = strlen(with_value[k]);
                if (strncmp(a, with_value[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
                    if (a[n] == '=')
                        val = a + n + 1;
                    else if (i + 1 < argc)
                        val = argv[++i];
                    else
                        return usage_error("%s needs a value", a);
                    break;
                }
            }
            if (k == 6)
                return usage_error("unknown option %s", a);
            if (k == 4 || k == 5) {
                char name[64], why[256];
                const char *v = val;
                if (k == 4) {
                    snprintf(name, sizeof(name), "rules");
                } else {
                    const char *eq = strchr(val, '=');
                    if (eq == NULL || (size_t)(eq - val) >= sizeof(name))
                        return usage_error("--rule: '%s' is not NAME=VALUE", val);
                    snprintf(name, sizeof(name), "%.*s", (int)(eq - val), val);
                    v = eq + 1;
                }
                int r = msn_ingest_rule_set(&o->rules, name, v, why, sizeof(why));
                if (r > 0)
                    return usage_error("--rule: unknown rule '%s'", name);
                if (r < 0)
                    return usage_error("%s", why);
                continue;
            }
            if (k == 0) {
                o->db = val;
            } else if (k == 1) {
                char *end;
                errno = 0;
                long v = strtol(val, &end, 10);
                if (*val == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 10000000)
                    return usage_error("--batch: '%s' is not a number of lines in 1..10000000", val);
                o->batch = v;
            } else if (k == 2) {
                o->config = val;
            } else {
                o->channels[o->n_channels++] = val;
            }
            continue;
        }
        if (o->input != NULL)
            return usage_error("more than one input file (%s)", a);
        o->input = a;
    }
    if (o->db == NULL)
        return usage_error("%s", "--db PATH is required");
    if (o->input == NULL)
        o->input = "-";
    return 0;
}

static msn_chankeys_t *load_keys(const opts_t *o)
{
    return msn_cli_load_keys("meshsnap import", o->config, (const char *const *)o->channels, o->n_channels);
}

/* ---- advert keys of the input (the first pass) --------------------------------------------- */

typedef struct {
    uint8_t (*keys)[32]; /* entries */
    uint32_t n, cap;
    msn_hmap_t ix;
} keyset_t;

static int keyset_find(const keyset_t *s, const uint8_t k[32], msn_hmap_probe_t *pr)
{
    for (uint32_t e = msn_hmap_first(&s->ix, msn_hash_bytes(k, 32), pr); e != MSN_HMAP_NONE;
         e = msn_hmap_next(&s->ix, pr))
        if (memcmp(s->keys[e], k, 32) == 0)
            return 1;
    return 0;
}

static int keyset_has(const keyset_t *s, const uint8_t k[32])
{
    msn_hmap_probe_t pr;
    return keyset_find(s, k, &pr);
}

static void keyset_put(keyset_t *s, const uint8_t k[32])
{
    msn_hmap_probe_t pr;
    if (keyset_find(s, k, &pr))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->keys = msn_xrealloc(s->keys, (size_t)s->cap * sizeof(*s->keys));
    }
    memcpy(s->keys[s->n], k, 32);
    msn_hmap_insert(&s->ix, &pr, s->n++);
}

static void keyset_free(keyset_t *s)
{
    free(s->keys);
    msn_hmap_free(&s->ix);
}

/* Payload type from the header byte of a hex string (spaces ignored), or -1. */
static int header_payload_type(const char *s, size_t n)
{
    int d[2], k = 0;
    for (size_t i = 0; i < n && k < 2; i++) {
        if (s[i] == ' ' || s[i] == '\r' || s[i] == '\n')
            continue;
        if ((d[k++] = msn_hexval(s[i])) < 0)
            return -1;
    }
    if (k < 2)
        return -1;
    return ((d[0] << 4 | d[1]) >> 2) & 0x0F;
}

typedef struct {
    msn_ingest_fields_t line;
    msn_packet_t pkt, scratch;
    keyset_t keys;
    int verify;
    char why[256];
} prescan_t;

/* Collects the key of a valid advert line (one the import itself would accept as a node:
 * it decodes, passes the corrupted-advert check and its signature verifies). A key that
 * is already known is not checked again. */
static void prescan_line(prescan_t *ps, const char *s, size_t n)
{
    if (msn_ingest_parse_json(&ps->line, s, n, NULL, 0) < 0 || !ps->line.has_raw)
        return;
    const msn_ingest_fields_t *l = &ps->line;
    if (header_payload_type(l->raw.data, l->raw.len) != MSN_PT_ADVERT)
        return;
    if (msn_ingest_decode_light(&ps->pkt, l->raw.data, l->raw.len, ps->why, sizeof(ps->why)) !=
        MSN_INGEST_OK)
        return;
    if (!msn_ingest_is_keyed_advert(&ps->pkt) ||
        msn_ingest_check_advert(&ps->pkt, ps->why, sizeof(ps->why)) != MSN_INGEST_OK)
        return;
    const uint8_t *k = msn_span_ptr(&ps->pkt, ps->pkt.p.pub_key);
    if (keyset_has(&ps->keys, k))
        return;
    if (ps->verify && !msn_ingest_advert_signature_ok(&ps->scratch, l->raw.data, l->raw.len))
        return;
    keyset_put(&ps->keys, k);
}

static size_t trim_line(const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    return len;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/* Opens the input for the import pass and runs the first pass over it. A regular file is
 * read twice; anything else (standard input, a pipe) is copied to an unlinked temporary
 * file on the way. Returns the stream positioned at the start, or NULL (message printed). */
static FILE *open_input(const char *path, prescan_t *ps, off_t *size)
{
    FILE *in = NULL, *spool = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int is_stdin = strcmp(path, "-") == 0;
    struct stat sb;

    in = is_stdin ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "meshsnap import: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(in), &sb) < 0) {
        fprintf(stderr, "meshsnap import: %s: %s\n", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        const char *dir = getenv("TMPDIR");
        char tmpl[4096];
        snprintf(tmpl, sizeof(tmpl), "%s/meshsnap-import-XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(tmpl);
        if (fd < 0) {
            fprintf(stderr, "meshsnap import: cannot create a temporary file %s: %s\n", tmpl,
                    strerror(errno));
            goto fail;
        }
        unlink(tmpl);
        spool = fdopen(fd, "w+");
        if (spool == NULL) {
            close(fd);
            fprintf(stderr, "meshsnap import: temporary file: %s\n", strerror(errno));
            goto fail;
        }
    }
    while (!g_stop && (n = getline(&line, &cap, in)) >= 0) {
        if (spool != NULL && fwrite(line, 1, (size_t)n, spool) != (size_t)n) {
            fprintf(stderr, "meshsnap import: writing the temporary file: %s\n", strerror(errno));
            goto fail;
        }
        size_t len = trim_line(line, (size_t)n);
        if (!blank(line, len))
            prescan_line(ps, line, len);
    }
    if (ferror(in)) {
        fprintf(stderr, "meshsnap import: reading %s: %s\n", is_stdin ? "standard input" : path,
                strerror(errno));
        goto fail;
    }
    free(line);
    line = NULL;
    if (spool != NULL) {
        if (fflush(spool) != 0) {
            fprintf(stderr, "meshsnap import: writing the temporary file: %s\n", strerror(errno));
            goto fail;
        }
        if (!is_stdin)
            fclose(in);
        in = spool;
        spool = NULL;
        if (fstat(fileno(in), &sb) < 0)
            sb.st_size = 0;
    }
    rewind(in);
    *size = sb.st_size;
    return in;
fail:
    free(line);
    if (spool != NULL)
        fclose(spool);
    if (in != NULL && in != stdin)
        fclose(in);
    return NULL;
}

/* ---- the database ---------------------------------------------------------------------------- */

/* Opens (creating with the current schema when missing or empty) the database. */
static sqlite3 *open_db(const char *path)
{
    char err[512];
    struct stat sb;
    if (stat(path, &sb) < 0 || (S_ISREG(sb.st_mode) && sb.st_size == 0)) {
        if (msn_schema_init_db(path, err, sizeof(err)) < 0) {
            fprintf(stderr, "meshsnap import: %s\n", err);
            return NULL;
        }
        msn_info("created %s with the current schema", path);
    }
    sqlite3 *db = NULL;
    if (msn_sqlite_open(path, 0, &db, err, sizeof(err)) < 0) {
        fprintf(stderr, "meshsnap import: %s\n", err);
        return NULL;
    }
    /* Committed batches survive a crash of this process with synchronous=NORMAL in WAL
     * mode; after a power loss the newest batches may be missing, which a re-run restores. */
    sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    sqlite3_exec(db, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
    sqlite3_exec(db, "PRAGMA temp_store=MEMORY", NULL, NULL, NULL);
    /* fewer, larger checkpoints: each one syncs the WAL and the database file */
    sqlite3_exec(db, "PRAGMA wal_autocheckpoint=16384", NULL, NULL, NULL);
    return db;
}

static msn_pathres_t *build_resolver(sqlite3 *db, const keyset_t *ks)
{
    char err[512], hex[65];
    msn_pathres_t *pr = msn_pathres_new();
    for (uint32_t i = 0; i < ks->n; i++) {
        msn_hex_encode(ks->keys[i], 32, hex, 0);
        msn_pathres_add_node(pr, hex);
    }
    if (msn_pathres_load_sqlite(pr, db, err, sizeof(err)) < 0) {
        fprintf(stderr, "meshsnap import: %s\n", err);
        msn_pathres_free(pr);
        return NULL;
    }
    return pr;
}

/* ---- progress and report ------------------------------------------------------------------- */

static void fmt_duration(char *out, size_t n, double s)
{
    long t = (long)(s + 0.5);
    snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void progress(const report_t *r, int64_t pos, off_t size, int64_t t0, int tty)
{
    double el = (double)(msn_mono_ms() - t0) / 1000.0;
    double rate = el > 0 ? (double)r->lines / el : 0;
    char buf[256];
    int n =
        snprintf(buf, sizeof(buf), "meshsnap import: %lld lines, %.0f lines/s", (long long)r->lines, rate);
    if (size > 0) {
        double frac = (double)pos / (double)size;
        char eta[32] = "?";
        if (frac > 0 && el > 0)
            fmt_duration(eta, sizeof(eta), el / frac - el);
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", %.1f%%, ETA %s", frac * 100.0, eta);
    }
    if (r->rejected > 0 && (size_t)n < sizeof(buf))
        snprintf(buf + n, sizeof(buf) - (size_t)n, ", %lld rejected", (long long)r->rejected);
    fprintf(stderr, tty ? "\r%s\033[K" : "%s\n", buf);
    fflush(stderr);
}

static void reject(report_t *r, int64_t line, int reason, const char *why)
{
    r->rejected++;
    r->by_reason[reason]++;
    if (r->n_listed < MAX_LISTED) {
        rejected_t *x = &r->listed[r->n_listed++];
        x->line = line;
        x->reason = reason;
        x->why = msn_xstrdup(why ? why : "");
    }
}

static void print_report(const report_t *r, const msn_ingest_stats_t *st, double secs)
{
    fprintf(stderr, "meshsnap import: %lld lines in %.1f s (%.0f lines/s)\n", (long long)r->lines, secs,
            secs > 0 ? (double)r->lines / secs : 0.0);
    if (st != NULL) {
        fprintf(stderr, "  transmissions: %lld new, %lld lines of ones already there\n",
                (long long)st->tx_new, (long long)st->tx_known);
        fprintf(stderr, "  observations:  %lld new, %lld already present\n", (long long)st->obs_new,
                (long long)st->obs_dup);
        fprintf(stderr, "  nodes:         %lld advert upserts\n", (long long)st->adverts);
        fprintf(stderr, "  observers:     %lld new, %lld status messages\n", (long long)st->observers_new,
                (long long)st->status_msgs);
        if (st->dropped > 0)
            fprintf(stderr, "  dropped:       %lld adverts with a bad signature (dropped_packets)\n",
                    (long long)st->dropped);
        fprintf(stderr, "  batches:       %lld committed\n", (long long)st->commits);
    }
    fprintf(stderr, "  imported:      %lld lines\n", (long long)r->imported);
    fprintf(stderr, "  rejected:      %lld lines\n", (long long)r->rejected);
    if (r->rejected == 0)
        return;
    for (int i = 1; i < MSN_INGEST_R_COUNT; i++)
        if (r->by_reason[i] > 0)
            fprintf(stderr, "    %-32s %lld\n", msn_ingest_reason_names[i], (long long)r->by_reason[i]);
    for (int i = 0; i < r->n_listed; i++) {
        const rejected_t *x = &r->listed[i];
        if (x->why[0] != '\0')
            fprintf(stderr, "  line %lld: %s: %s\n", (long long)x->line, msn_ingest_reason_names[x->reason],
                    x->why);
        else
            fprintf(stderr, "  line %lld: %s\n", (long long)x->line, msn_ingest_reason_names[x->reason]);
    }
    if (r->rejected > r->n_listed)
        fprintf(stderr, "  (the first %d of %lld rejected lines are listed)\n", r->n_listed,
                (long long)r->rejected);
}

/* ---- the import loop ------------------------------------------------------------------------ */

/*
 * Two threads: the reader prepares lines (parse, decode, signature, path resolution: see
 * msn_ingest_prepare) into a ring of items; the main thread writes them to SQLite in
 * input order. The ring's slots [tail, head) are ready for the writer, the others belong
 * to the reader; both indexes only grow and are guarded by mu.
 */
#define RING 1024
#define CHUNK 64

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t ready, space;
    uint64_t head, tail;
    int eof, read_errno, quit;
    double reader_cpu_s; /* CPU time of the reader thread (for the debug log) */
    msn_ingest_item_t *items;
    FILE *in;
    msn_ingest_prep_t *prep;
} pipe_t;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *reader_main(void *arg)
{
    pipe_t *pp = arg;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = 0;
    int64_t lineno = 0, offset = 0;
    int done = 0;
    while (!done) {
        pthread_mutex_lock(&pp->mu);
        while (pp->head - pp->tail == RING && !pp->quit)
            pthread_cond_wait(&pp->space, &pp->mu);
        uint64_t h = pp->head, room = RING - (pp->head - pp->tail);
        int quit = pp->quit;
        pthread_mutex_unlock(&pp->mu);
        if (quit)
            break;
        uint64_t k = 0;
        int64_t now_s = (int64_t)time(NULL);
        while (k < room && k < CHUNK) {
            if (g_stop || (n = getline(&line, &cap, pp->in)) < 0) {
                done = 1;
                break;
            }
            msn_ingest_item_t *it = &pp->items[(h + k) % RING];
            lineno++;
            offset += n;
            it->lineno = lineno;
            it->offset = offset;
            size_t len = trim_line(line, (size_t)n);
            it->blank = blank(line, len);
            if (!it->blank)
                msn_ingest_prepare(pp->prep, it, line, len, now_s, NULL);
            k++;
        }
        pthread_mutex_lock(&pp->mu);
        pp->head += k;
        if (done) {
            pp->eof = 1;
            if (!g_stop && ferror(pp->in))
                pp->read_errno = errno ? errno : EIO;
        }
        pthread_cond_signal(&pp->ready);
        pthread_mutex_unlock(&pp->mu);
    }
    free(line);
    msn_codec_thread_cleanup();
    pp->reader_cpu_s = thread_cpu_s();
    return NULL;
}

/* Imports every line of in. Returns 0, or -1 on a fatal error (message printed). */
static int run(const opts_t *o, FILE *in, off_t size, msn_ingest_prep_t *prep, msn_ingest_writer_t *im,
               report_t *r, int64_t t0)
{
    pipe_t pp;
    char err[512];
    int64_t in_batch = 0, written = 0, next_progress = t0 + o->progress_ms, last_offset = 0;
    int tty = isatty(STDERR_FILENO), show = tty || o->progress, shown = 0, rc = -1, started = 0, wrc;
    pthread_t th;

    memset(&pp, 0, sizeof(pp));
    pthread_mutex_init(&pp.mu, NULL);
    pthread_cond_init(&pp.ready, NULL);
    pthread_cond_init(&pp.space, NULL);
    pp.items = msn_xcalloc(RING, sizeof(msn_ingest_item_t));
    for (int i = 0; i < RING; i++)
        msn_ingest_item_init(&pp.items[i]);
    pp.in = in;
    pp.prep = prep;
    int perr = pthread_create(&th, NULL, reader_main, &pp);
    if (perr != 0) {
        fprintf(stderr, "meshsnap import: cannot start the reader thread: %s\n", strerror(perr));
        goto out;
    }
    started = 1;
    pthread_setname_np(th, "import-reader");

    for (;;) {
        pthread_mutex_lock(&pp.mu);
        while (pp.head == pp.tail && !pp.eof)
            pthread_cond_wait(&pp.ready, &pp.mu);
        uint64_t t = pp.tail, avail = pp.head - pp.tail;
        int eof = pp.eof, read_errno = pp.read_errno;
        pthread_mutex_unlock(&pp.mu);
        if (avail == 0 && eof) {
            if (read_errno != 0) {
                fprintf(stderr, "%smeshsnap import: reading the input failed: %s\n", shown && tty ? "\n" : "",
                        strerror(read_errno));
                goto out;
            }
            break;
        }
        for (uint64_t i = 0; i < avail; i++) {
            const msn_ingest_item_t *it = &pp.items[(t + i) % RING];
            last_offset = it->offset;
            if (it->blank)
                continue;
            r->lines++;
            if (it->reason != MSN_INGEST_OK) {
                reject(r, it->lineno, it->reason, it->why);
            } else if ((wrc = msn_ingest_write(im, it, err, sizeof(err))) != 0) {
                if (wrc == MSN_INGEST_NEED_FIRST)
                    snprintf(err, sizeof(err), "transmission %s disappeared from the database during the import",
                             it->hash);
                fprintf(stderr, "%smeshsnap import: line %lld: %s\n", shown && tty ? "\n" : "",
                        (long long)it->lineno, err);
                goto out;
            } else {
                written++;
            }
            if (++in_batch >= o->batch) {
                if (msn_ingest_commit(im, err, sizeof(err)) < 0) {
                    fprintf(stderr, "meshsnap import: %s\n", err);
                    goto out;
                }
                r->imported += written; /* imported: committed */
                written = 0;
                in_batch = 0;
            }
        }
        pthread_mutex_lock(&pp.mu);
        pp.tail += avail;
        pthread_cond_signal(&pp.space);
        pthread_mutex_unlock(&pp.mu);
        if (g_stop)
            break;
        if (show) {
            int64_t now = msn_mono_ms();
            if (now >= next_progress) {
                progress(r, last_offset, size, t0, tty);
                shown = 1;
                next_progress = now + o->progress_ms;
            }
        }
    }
    rc = 0;
out:
    if (started) {
        pthread_mutex_lock(&pp.mu);
        pp.quit = 1;
        pthread_cond_signal(&pp.space);
        pthread_mutex_unlock(&pp.mu);
        pthread_join(th, NULL);
        msn_debug("CPU time: reader thread %.2f s, writer thread %.2f s (first pass included)",
                  pp.reader_cpu_s, thread_cpu_s());
    }
    /* After the input ended or a stop request, the batch in flight holds whole lines and
     * is committed; after an error it may hold part of a line and is rolled back (by
     * msn_ingest_writer_close). Either way a re-run continues from what is committed. */
    if (rc == 0 && msn_ingest_in_txn(im) && msn_ingest_commit(im, err, sizeof(err)) < 0) {
        fprintf(stderr, "meshsnap import: %s\n", err);
        rc = -1;
    }
    if (rc == 0)
        r->imported += written;
    if (shown && tty)
        fputc('\n', stderr);
    for (int i = 0; i < RING; i++)
        msn_ingest_item_free(&pp.items[i]);
    free(pp.items);
    pthread_cond_destroy(&pp.ready);
    pthread_cond_destroy(&pp.space);
    pthread_mutex_destroy(&pp.mu);
    return rc;
}

int msn_cli_import(int argc, char **argv)
{
    opts_t o = {.batch = DEFAULT_BATCH, .progress_ms = PROGRESS_EVERY_MS};
    report_t rep;
    prescan_t *ps = msn_xcalloc(1, sizeof(*ps));
    msn_chankeys_t *ks = NULL;
    FILE *in = NULL;
    sqlite3 *db = NULL;
    msn_pathres_t *pr = NULL;
    msn_ingest_writer_t *im = NULL;
    msn_ingest_prep_t *prep = NULL;
    char err[512];
    int status = 2;
    off_t size = 0;

    memset(&rep, 0, sizeof(rep));
    msn_log_set_role("meshsnap import");
    /* Only this thread uses SQLite: no connection mutexes, no memory statistics. (This
     * fails harmlessly when SQLite was initialized already.) */
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    msn_ingest_rules_import(&o.rules);
    o.channels = msn_xcalloc((size_t)(argc > 0 ? argc : 1), sizeof(*o.channels));
    int prc = parse_args(argc, argv, &o);
    if (prc != 0) {
        status = prc < 0 ? 0 : prc;
        goto out;
    }
    ks = load_keys(&o);
    if (ks == NULL)
        goto out;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int64_t t0 = msn_mono_ms();
    msn_ingest_fields_init(&ps->line);
    ps->verify = o.rules.verify;
    in = open_input(o.input, ps, &size);
    msn_ingest_fields_free(&ps->line);
    if (in == NULL)
        goto out;
    if (g_stop) {
        fprintf(stderr, "meshsnap import: interrupted before anything was written\n");
        goto out;
    }

    db = open_db(o.db);
    if (db == NULL)
        goto out;
    pr = build_resolver(db, &ps->keys);
    if (pr == NULL)
        goto out;
    msn_sqlw_opts_t wo;
    msn_sqlw_defaults(&wo);
    wo.batch_max = (int)o.batch;
    wo.batch_ms = 24 * 3600 * 1000; /* batches are counted in lines */
    if (msn_ingest_writer_open(db, &o.rules, &wo, &im, err, sizeof(err)) < 0) {
        fprintf(stderr, "meshsnap import: %s: %s\n", o.db, err);
        goto out;
    }
    msn_debug("%s; first pass %.2f s; resolver: %zu nodes (%zu from the input's adverts), %zu edges",
              msn_ingest_mode(im), (double)(msn_mono_ms() - t0) / 1000.0, msn_pathres_node_count(pr), (size_t)ps->keys.n,
              msn_pathres_edge_count(pr));

    prep = msn_ingest_prep_new(ks, &o.rules, pr);
    int rc = run(&o, in, size, prep, im, &rep, t0);
    print_report(&rep, msn_ingest_stats(im), (double)(msn_mono_ms() - t0) / 1000.0);
    if (rc < 0) {
        status = 2;
    } else if (g_stop) {
        fprintf(stderr,
                "meshsnap import: interrupted; the lines read so far are committed, run the same import "
                "again to finish\n");
        status = 2;
    } else {
        status = rep.rejected > 0 ? 1 : 0;
    }
out:
    msn_ingest_writer_close(im);
    msn_ingest_prep_free(prep);
    msn_pathres_free(pr);
    if (db != NULL)
        sqlite3_close(db);
    if (in != NULL && in != stdin)
        fclose(in);
    msn_chankeys_free(ks);
    keyset_free(&ps->keys);
    free(ps);
    for (int i = 0; i < rep.n_listed; i++)
        free(rep.listed[i].why);
    free(o.channels);
    msn_codec_thread_cleanup();
    return status;
}
