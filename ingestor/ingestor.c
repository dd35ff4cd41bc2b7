/*
 * ingestor.c: the ingestor process. MeshCore observers publish what they hear to MQTT
 * brokers; this process subscribes to every [mqtt.NAME] broker and writes each message
 * into the CoreScope database with the writer `meshsnap import` uses (shm/ingest/), under
 * CoreScope's rules by default ([mqtt] rules). The master serves what it writes at its
 * next poll.
 *
 * DESIGN: nothing acknowledged is ever lost.
 *
 * Messages are subscribed at QoS 1 in a persistent session (clean start off, a stable
 * client id, MQTT 5 session expiry of 7 days), so the broker keeps what arrives while we
 * are down and resends every message we have not acknowledged (PUBACK). The rule is
 * therefore: a PUBACK leaves only after the message's rows are committed.
 *
 * libmosquitto (Debian 12: 2.0.11, lib/handle_publish.c) answers a QoS 1 PUBLISH by
 * calling send__puback *before* it calls the on_message callback, and in its default
 * mode writes that PUBACK to the socket at once. Committing inside the callback would
 * not help: the acknowledgement is already out when the callback runs, and a kill -9 in
 * the callback would lose the message. So the clients run in "external threading" mode
 * (mosquitto_threaded_set): libmosquitto then only queues outgoing packets, and nothing
 * leaves until we call mosquitto_loop_write. This process drives the sockets itself
 * (poll, mosquitto_loop_read, mosquitto_loop_write, mosquitto_loop_misc), in one thread:
 *
 *   1. read: each message is prepared (JSON, decode, hash, path, resolver: no database)
 *      and kept in the batch; its PUBACK sits in libmosquitto's queue. While a broker has
 *      messages in the batch, its socket is never written to (not even pings).
 *   2. commit: when the batch holds [mqtt] batch_size messages, or batch_ms have passed
 *      since its first message, or no broker has anything more to read right now, it is
 *      written in one short transaction (shm/sqlw.h: BEGIN IMMEDIATE ... COMMIT; only
 *      the row writes run inside it). synchronous=FULL: a commit survives a power cut.
 *   3. ack: only then are the queues written (PUBACKs, pings, subscriptions).
 *
 * kill -9 at any point: before 2 the transaction is rolled back by SQLite and nothing was
 * acknowledged, so the broker resends everything; between 2 and 3 the rows are there and
 * the broker resends what it did not see acknowledged (also PUBACKs already written to
 * the socket: a connection reset discards what the broker had not read yet). A resent
 * message must not be written twice: with CoreScope's rules a second copy would add to
 * packet_count (and the first packet of an unknown observer, whose observer_idx is NULL,
 * would get a second row). So with each message the same transaction records its packet
 * id and a digest of topic and payload (ledger.h); a message found there is a resend and
 * is acknowledged without being written. A lost connection is handled the same way.
 * If a batch fails to commit, it is rolled back and every broker with messages in it is
 * dropped without sending its queue, so the broker resends them.
 *
 * Brokers that are down or refuse us are retried with backoff (source.h); the HTTP side
 * never waits on any of this. Bad messages (not JSON, bad hex, a packet the decoder
 * rejects, unknown fields ignored, any size) are counted, sampled in the log at most
 * once per 10 s, acknowledged and skipped. Every few hundred ms the state goes to the
 * status block's ingest section (/api/mqtt/status, /api/healthz, /metrics, meshsnap
 * status). Every [mqtt] resolver_refresh_s the hop resolver is rebuilt from nodes and
 * neighbor_edges (CoreScope: 60 s), every edges_interval_s the neighbour-edge builder
 * runs (CoreScope's 60 s job), both between batches.
 */
#include "ingestor/ingestor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingestor/ledger.h"
#include "ingestor/source.h"
#include "shm/ingest/ingest.h"
#include "shm/log.h"
#include "shm/proc.h"
#include "shm/sched.h"
#include "shm/schema.h"
#include "shm/status.h"

#define READ_BUDGET 256      /* messages read from one socket before looking at the others */
#define STATUS_EVERY_MS 250
#define SAMPLE_EVERY_MS 10000 /* at most one bad-message sample per 10 s */

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct ingestor ingestor_t;

typedef struct {
    ingestor_t *g;
    msn_source_t *s;
    msn_ledger_t *led;
    const msn_mqtt_broker_t *b;
    int uncommitted;   /* messages received since the last commit: their PUBACKs are queued */
    int was_connected;
} src_t;

struct ingestor {
    const msn_config_t *cfg;
    msn_status_t *st;
    sqlite3 *db;
    msn_chankeys_t *keys;
    msn_pathres_t *pr;
    msn_ingest_prep_t *prep;
    msn_ingest_writer_t *w;
    /* the batch: messages prepared (outside any transaction), written at commit */
    struct pending {
        msn_ingest_item_t it;
        src_t *sr;
        int mid;
        uint64_t digest;
    } *batch;
    int n_batch, cap_batch;
    int64_t batch_started_ms; /* when its first message arrived */
    src_t src[MSN_MAX_MQTT];
    int n;
    char err[512];
    /* counters; those of messages count once their batch is committed: a failed batch
       takes its messages back to the counts of the last commit (the brokers resend them) */
    struct counts {
        int64_t received, packets, status_msgs, rejected, ignored;
    } c, committed;
    int64_t write_errors, pending, last_batch;
    int64_t last_commit_ms;
    int64_t sample_at_ms, suppressed;
    char last_error[160];
    int64_t started_ms;
};

/* ---- messages ---------------------------------------------------------------------------- */

static void sample(ingestor_t *g, const src_t *sr, const char *topic, const msn_ingest_item_t *it)
{
    int64_t now = msn_now_ms();
    if (now < g->sample_at_ms) {
        g->suppressed++;
        return;
    }
    g->sample_at_ms = now + SAMPLE_EVERY_MS;
    msn_warn("mqtt %s: skipped a message on %.120s: %s%s%.200s (%lld more skipped since the last sample)",
             sr->b->name, topic, msn_ingest_reason_names[it->reason], it->why[0] ? ": " : "", it->why,
             (long long)g->suppressed);
    g->suppressed = 0;
}

/* The next free slot of the batch (grown on demand up to [mqtt] batch_size). */
static struct pending *batch_slot(ingestor_t *g)
{
    if (g->n_batch == g->cap_batch) {
        int cap = g->cap_batch ? g->cap_batch * 2 : 256;
        g->batch = msn_xrealloc(g->batch, (size_t)cap * sizeof(*g->batch));
        for (int i = g->cap_batch; i < cap; i++)
            msn_ingest_item_init(&g->batch[i].it);
        g->cap_batch = cap;
    }
    return &g->batch[g->n_batch];
}

static void on_message(void *ud, msn_source_t *s, const char *topic, const void *payload, int len, int mid,
                       int qos)
{
    src_t *sr = ud;
    ingestor_t *g = sr->g;
    (void)s;
    (void)qos;
    g->c.received++;
    g->pending++;
    sr->uncommitted++;
    if (g->pending == 1)
        g->batch_started_ms = msn_now_ms();
    uint64_t d = 0;
    if (mid > 0) {
        d = msn_ledger_digest(topic, payload, (size_t)len);
        if (msn_ledger_resend(sr->led, mid, d)) {
            msn_source_count_redelivered(sr->s);
            return;
        }
    }
    msn_ingest_src_t src = {
        .topic = topic,
        .region = sr->b->region,
        .iata_filter = (const char *const *)sr->b->iata_filter,
        .n_iata_filter = sr->b->n_iata_filter,
    };
    struct pending *pd = batch_slot(g);
    msn_ingest_item_t *it = &pd->it;
    msn_ingest_prepare(g->prep, it, payload, (size_t)(len > 0 ? len : 0), msn_now_ms() / 1000, &src);
    if (it->reason != MSN_INGEST_OK) {
        if (it->reason == MSN_INGEST_R_TOPIC || it->reason == MSN_INGEST_R_FILTER) {
            g->c.ignored++;
        } else {
            g->c.rejected++;
            sample(g, sr, topic, it);
        }
        return;
    }
    pd->sr = sr;
    pd->mid = mid;
    pd->digest = d;
    g->n_batch++;
    if (mid > 0)
        msn_ledger_note(sr->led, mid, d); /* a resend within this batch is known at once */
}

/* Writes the batch's messages in one transaction (shm/sqlw.h: BEGIN IMMEDIATE ... ). */
static int write_batch(ingestor_t *g)
{
    for (int i = 0; i < g->n_batch; i++) {
        struct pending *pd = &g->batch[i];
        int rc = msn_ingest_write(g->w, &pd->it, g->err, sizeof(g->err));
        if (rc == MSN_INGEST_NEED_FIRST) { /* its transmission is gone (retention, a rollback) */
            msn_ingest_complete(g->prep, &pd->it);
            rc = msn_ingest_write(g->w, &pd->it, g->err, sizeof(g->err));
        }
        if (rc != 0)
            return -1;
        if (pd->mid > 0 && msn_ledger_put(pd->sr->led, pd->mid, pd->digest, g->err, sizeof(g->err)) < 0)
            return -1;
        if (pd->it.kind == MSN_INGEST_STATUS)
            g->c.status_msgs++;
        else
            g->c.packets++;
    }
    return 0;
}

/* ---- batches ----------------------------------------------------------------------------- */

/* Writes what each broker's queue holds (PUBACKs of committed messages, pings). */
static void send_acks(ingestor_t *g)
{
    for (int i = 0; i < g->n; i++) {
        g->src[i].uncommitted = 0;
        msn_source_flush(g->src[i].s);
    }
}

static void batch_failed(ingestor_t *g)
{
    msn_ingest_rollback(g->w);
    g->write_errors++;
    snprintf(g->last_error, sizeof(g->last_error), "%.159s", g->err);
    msn_error("a batch of %lld messages failed and was rolled back: %s; the brokers resend them", (long long)g->pending,
              g->err);
    for (int i = 0; i < g->n; i++) {
        src_t *sr = &g->src[i];
        char err[256];
        if (msn_ledger_reload(sr->led, err, sizeof(err)) < 0)
            msn_warn("%s", err);
        if (sr->uncommitted > 0)
            msn_source_drop(sr->s, "a batch failed to commit");
        sr->uncommitted = 0;
    }
    g->n_batch = 0;
    g->pending = 0;
    g->c = g->committed;
    struct timespec ts = {1, 0}; /* a failing database: do not spin */
    nanosleep(&ts, NULL);
}

/* Writes and commits the batch, then acknowledges its messages to their brokers. */
static void commit(ingestor_t *g)
{
    if (g->n_batch > 0) {
        if (write_batch(g) < 0 || msn_ingest_commit(g->w, g->err, sizeof(g->err)) < 0) {
            batch_failed(g);
            return;
        }
        g->last_batch = g->n_batch;
        g->last_commit_ms = msn_now_ms();
    }
    g->n_batch = 0;
    g->pending = 0;
    g->committed = g->c;
    send_acks(g);
    /* the WAL is checkpointed after the acknowledgements have left, not inside COMMIT */
    (void)msn_ingest_checkpoint(g->w);
}

/* ---- status ------------------------------------------------------------------------------- */

static void publish_status(ingestor_t *g)
{
    if (g->st == NULL)
        return;
    msn_ingest_status_t *s = &g->st->ingest;
    const msn_ingest_stats_t *ws = msn_ingest_stats(g->w);
    const msn_sqlw_t *w = msn_ingest_sqlw(g->w);
    int64_t now = msn_now_ms();
    msn_status_write_begin(&g->st->ingest_seq);
    s->pid = (int32_t)getpid();
    s->n_sources = g->n;
    s->started_at_ms = g->started_ms;
    s->sampled_at_ms = now;
    s->received = g->c.received;
    s->packets = g->c.packets;
    s->status_msgs = g->c.status_msgs;
    s->rejected = g->c.rejected;
    s->ignored = g->c.ignored;
    s->tx_new = ws->tx_new;
    s->obs_new = ws->obs_new;
    s->dropped = ws->dropped;
    s->pending = g->pending;
    s->batches = w->commits;
    s->last_batch_size = g->last_batch;
    s->last_commit_ms = g->last_commit_ms;
    s->commit_p50_us = msn_sqlw_quantile_us(w, 0.5);
    s->commit_p99_us = msn_sqlw_quantile_us(w, 0.99);
    s->write_errors = g->write_errors;
    snprintf(s->last_error, sizeof(s->last_error), "%s", g->last_error);
    for (int i = 0; i < g->n && i < MSN_STATUS_MAX_MQTT; i++)
        msn_source_status(g->src[i].s, &s->src[i], now);
    msn_status_write_end(&g->st->ingest_seq);
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int rebuild_resolver(ingestor_t *g)
{
    char err[512];
    msn_pathres_t *pr = msn_pathres_new();
    if (msn_pathres_load_sqlite(pr, g->db, err, sizeof(err)) < 0) {
        msn_warn("cannot rebuild the hop resolver: %s", err);
        msn_pathres_free(pr);
        return -1;
    }
    msn_ingest_prep_set_resolver(g->prep, pr);
    msn_pathres_free(g->pr);
    g->pr = pr;
    return 0;
}

static int open_all(ingestor_t *g)
{
    const msn_config_t *cfg = g->cfg;
    char err[512];
    if (msn_sqlite_open(cfg->db, 0, &g->db, err, sizeof(err)) < 0) {
        msn_error("%s", err);
        return -1;
    }
    /* a commit is durable before its messages are acknowledged */
    sqlite3_exec(g->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    sqlite3_exec(g->db, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
    if (msn_schema_object_count(g->db) == 0) {
        msn_info("the database is empty: creating the current schema");
        if (msn_schema_create_current(g->db, err, sizeof(err)) < 0) {
            msn_error("%s", err);
            return -1;
        }
    }
    if (msn_ledger_ensure_table(g->db, err, sizeof(err)) < 0) {
        msn_error("%s", err);
        return -1;
    }
    g->keys = msn_chankeys_new();
    if (msn_chankeys_add_config(g->keys, cfg, err, sizeof(err)) < 0) {
        msn_error("%s", err);
        return -1;
    }
    msn_sqlw_opts_t wo;
    msn_sqlw_defaults(&wo);
    wo.batch_max = cfg->mqtt.batch_size;
    wo.batch_ms = cfg->mqtt.batch_ms;
    if (msn_ingest_writer_open(g->db, &cfg->mqtt.rules, &wo, &g->w, err, sizeof(err)) < 0) {
        msn_error("%s: %s", cfg->db, err);
        return -1;
    }
    msn_ingest_defer_checkpoints(g->w); /* commit(): after the acknowledgements */
    g->prep = msn_ingest_prep_new(g->keys, &cfg->mqtt.rules, NULL);
    rebuild_resolver(g);
    for (int i = 0; i < cfg->mqtt.n_brokers && i < MSN_MAX_MQTT; i++) {
        src_t *sr = &g->src[g->n];
        sr->g = g;
        sr->b = &cfg->mqtt.brokers[i];
        sr->s = msn_source_new(sr->b, cfg->mqtt.reconnect_max_s, on_message, sr, err, sizeof(err));
        if (sr->s == NULL) {
            msn_error("%s", err);
            return -1;
        }
        g->n++;
        char session[400];
        snprintf(session, sizeof(session), "%s@%s:%d", msn_source_client_id(sr->s), sr->b->host, sr->b->port);
        sr->led = msn_ledger_new(g->db, session);
        if (msn_ledger_reload(sr->led, err, sizeof(err)) < 0) {
            msn_error("%s", err);
            return -1;
        }
        if (msn_ledger_count(sr->led) > 0)
            msn_debug("mqtt %s: %zu messages of this session are in the database; a resend of them is not written",
                      sr->b->name, msn_ledger_count(sr->led));
    }
    msn_info("writing %s (%s; %d broker(s); batches of %d messages or %d ms)", cfg->db, msn_ingest_mode(g->w), g->n,
             cfg->mqtt.batch_size, cfg->mqtt.batch_ms);
    return 0;
}

static void close_all(ingestor_t *g)
{
    for (int i = 0; i < g->n; i++) {
        msn_source_free(g->src[i].s);
        msn_ledger_free(g->src[i].led);
    }
    msn_ingest_writer_close(g->w);
    msn_ingest_prep_free(g->prep);
    msn_pathres_free(g->pr);
    msn_chankeys_free(g->keys);
    for (int i = 0; i < g->cap_batch; i++)
        msn_ingest_item_free(&g->batch[i].it);
    free(g->batch);
    if (g->db != NULL)
        sqlite3_close(g->db);
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Notices lost connections and brokers that lost our session. */
static void watch_connections(ingestor_t *g)
{
    for (int i = 0; i < g->n; i++) {
        src_t *sr = &g->src[i];
        int up = msn_source_connected(sr->s);
        if (sr->was_connected && !up)
            sr->uncommitted = 0; /* its queued PUBACKs are gone: the broker resends */
        if (msn_source_take_new_session(sr->s) && msn_ledger_count(sr->led) > 0) {
            char err[256];
            msn_info("mqtt %s: the broker has no session for us: nothing will be resent", sr->b->name);
            if (msn_ledger_reset(sr->led, err, sizeof(err)) < 0)
                msn_warn("%s", err);
        }
        sr->was_connected = up;
    }
}

static void run(ingestor_t *g)
{
    const msn_config_t *cfg = g->cfg;
    struct pollfd pfd[MSN_MAX_MQTT];
    int64_t next_status = 0, next_resolver = msn_now_ms() + (int64_t)cfg->mqtt.resolver_refresh_s * 1000;
    int64_t next_edges = msn_now_ms() + 1000;
    while (!stop_requested) {
        int64_t now = msn_now_ms();
        for (int i = 0; i < g->n; i++)
            msn_source_tick(g->src[i].s, now);
        for (int i = 0; i < g->n; i++)
            msn_source_pollfd(g->src[i].s, &pfd[i], g->src[i].uncommitted == 0);
        int timeout = 100;
        if (g->pending > 0) {
            int64_t left = g->batch_started_ms + cfg->mqtt.batch_ms - msn_now_ms();
            timeout = left <= 0 ? 0 : left < 100 ? (int)left : 100;
        }
        int pr = poll(pfd, (nfds_t)g->n, timeout);
        if (pr < 0 && errno != EINTR) {
            msn_error("poll: %s", strerror(errno));
            break;
        }
        for (int i = 0; pr > 0 && i < g->n; i++) {
            src_t *sr = &g->src[i];
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            int room = cfg->mqtt.batch_size - g->n_batch;
            if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) && room > 0)
                msn_source_read(sr->s, room < READ_BUDGET ? room : READ_BUDGET);
            if ((pfd[i].revents & POLLOUT) && sr->uncommitted == 0)
                msn_source_flush(sr->s);
        }
        watch_connections(g);
        int drained = 1;
        for (int i = 0; i < g->n && drained; i++)
            drained = !msn_source_readable(g->src[i].s);
        /* due: batch_size messages, batch_ms since the first, or nothing more to read now */
        if (g->pending > 0 && (g->n_batch >= cfg->mqtt.batch_size || drained ||
                               msn_now_ms() - g->batch_started_ms >= cfg->mqtt.batch_ms))
            commit(g);
        for (int i = 0; i < g->n; i++)
            msn_source_misc(g->src[i].s);
        now = msn_now_ms();
        if (g->pending == 0) {
            if (now >= next_resolver) {
                rebuild_resolver(g);
                next_resolver = now + (int64_t)cfg->mqtt.resolver_refresh_s * 1000;
            }
            if (cfg->mqtt.edges_interval_s > 0 && now >= next_edges) {
                int64_t rows = 0;
                char err[512];
                if (msn_ingest_build_edges(g->db, &rows, err, sizeof(err)) < 0)
                    msn_warn("%s", err);
                /* a full pass means more rows wait: go on soon */
                next_edges = now + (rows >= 50000 ? 1000 : (int64_t)cfg->mqtt.edges_interval_s * 1000);
            }
        }
        if (now >= next_status) {
            publish_status(g);
            next_status = now + STATUS_EVERY_MS;
        }
    }
    /* stop: what was read is committed and acknowledged before the sessions are left */
    commit(g);
    for (int k = 0; k < 20; k++) {
        int left = 0;
        for (int i = 0; i < g->n; i++)
            left += msn_source_flush(g->src[i].s) == 0;
        if (!left)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    publish_status(g);
}

int msn_ingestor_main(const msn_config_t *cfg)
{
    ingestor_t g;
    memset(&g, 0, sizeof(g));
    g.cfg = cfg;
    g.started_ms = msn_now_ms();
    msn_log_set_role("ingestor");
    msn_proc_set_title("ingestor");
    /* the workers go first on a busy machine: a burst of messages waits in the broker
       (QoS 1) rather than in the latency of every reader; the ingestor still goes before
       the backfiller and the analytics (nice 10) */
    (void)msn_sched_own_group(5);
    (void)msn_sched_background(5);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* the master restarts this process on a reload */
    int src = msn_status_open(cfg->state_dir, &g.st);
    if (src < 0)
        msn_warn("no status block in %s (%s); the ingestor's state is not shown", cfg->state_dir, strerror(-src));
    msn_source_lib_init();
    int rc = 1;
    if (cfg->mqtt.n_brokers == 0) {
        msn_error("no [mqtt.NAME] broker is configured");
        goto out;
    }
    if (open_all(&g) < 0)
        goto out;
    publish_status(&g);
    run(&g);
    msn_info("stopped (%lld messages received, %lld packets and %lld status messages written)",
             (long long)g.c.received, (long long)g.c.packets, (long long)g.c.status_msgs);
    rc = 0;
out:
    close_all(&g);
    if (g.st != NULL) {
        msn_status_write_begin(&g.st->ingest_seq);
        g.st->ingest.pid = 0;
        for (int i = 0; i < MSN_STATUS_MAX_MQTT; i++)
            g.st->ingest.src[i].connected = 0;
        msn_status_write_end(&g.st->ingest_seq);
    }
    msn_status_close(g.st);
    msn_source_lib_cleanup();
    msn_codec_thread_cleanup();
    return rc;
}
