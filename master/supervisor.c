/* supervisor.c: see supervisor.h. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "instance.h"
#include "listen.h"
#include "publisher.h"
#include "shm/buf.h"
#include "shm/log.h"
#include "shm/proc.h"
#include "shm/sched.h"
#include "shm/status.h"

#include <systemd/sd-daemon.h>

#define BACKFILLER_SLOT (-1)

typedef struct {
    pid_t pid;
    int64_t started_ms;
    int64_t next_start_ms; /* respawn not before (backoff) */
    int backoff_ms;
    int crashes;
    int active;   /* a worker slot that should be running (respawned when it dies) */
    int retiring; /* an old-generation worker: finishing its requests after a reload */
    int restart;  /* the backfiller is being restarted on purpose (no backoff) */
    int usr1;     /* SIGUSR1 arrived while this worker was starting: passed on once it is ready */
    int spawn_failures; /* fork failures in a row (backed off) */
} child_t;

typedef struct {
    msn_config_t *cfg;
    int argc;
    char **argv;
    char exe[4096];
    int listen_fds[MSN_MAX_LISTEN + 1]; /* the listen addresses, then [http] admin_listen when set */
    int n_listen;
    int n_workers;
    child_t workers[MSN_STATUS_MAX_WORKERS];
    child_t backfiller;
    int backfiller_done;
    child_t ingestor; /* started when [mqtt] has brokers; restarted with backoff whenever it ends */
    msn_status_t *st;
    msn_publisher_thread_t pub;
    char effective[4200];      /* the configuration file the children read */
    int64_t retire_at_ms;      /* SIGTERM the retiring workers at this time, or when the new ones are ready */
    uint64_t worker_restarts;  /* respawns after a worker died */
    pid_t pid;                 /* the master's own */
    int lock_fd;               /* the instance lock (instance.h), inherited by every child; -1 */
    int64_t db_changes_seen;   /* the publisher's count of database files replaced or deleted */
} master_t;

/* In the child between fork and exec: only async-signal-safe calls. What every role gets,
 * whatever it is (a new role needs nothing more):
 *   - SIGTERM when the master dies (PR_SET_PDEATHSIG, kept across exec), and an exit
 *     right here when the master died before that was set: no child outlives the master
 *     for long, and none starts after it is gone;
 *   - the instance lock's descriptor (instance.h), so a new master waits for it to end;
 *   - an empty signal mask: a role installs its handlers first thing; the master passes
 *     a signal on only to a child that said it is ready (SIGUSR1: ready workers).
 * Workers also keep the listening sockets; every other descriptor is closed. */
static void child_exec(master_t *m, const char *role, int slot)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != m->pid)
        _exit(127); /* the master is already gone */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int fds[MSN_MAX_LISTEN + 1];
    int n = role[0] == 'w' ? m->n_listen : 0;
    for (int i = 0; i < n; i++)
        fds[i] = m->listen_fds[i];
    if (m->lock_fd >= 0)
        fds[n++] = m->lock_fd;
    /* sorted copy for close_range gaps (tiny insertion sort: qsort is not async-signal-safe) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    int lo = 3;
    for (int i = 0; i < n; i++) {
        if (fds[i] > lo)
            close_range((unsigned)lo, (unsigned)fds[i] - 1, 0);
        fcntl(fds[i], F_SETFD, 0);
        lo = fds[i] + 1;
    }
    close_range((unsigned)lo, ~0U, 0);
    char slotbuf[16], fdbuf[128];
    int o = 0;
    for (int i = 0; i < m->n_listen && role[0] == 'w'; i++) {
        int v = m->listen_fds[i];
        char tmp[12];
        int k = 0;
        do {
            tmp[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        if (i)
            fdbuf[o++] = ',';
        while (k)
            fdbuf[o++] = tmp[--k];
    }
    fdbuf[o] = '\0';
    {
        int v = slot < 0 ? 0 : slot, k = 0;
        char tmp[12];
        do {
            tmp[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        int p = 0;
        while (k)
            slotbuf[p++] = tmp[--k];
        slotbuf[p] = '\0';
    }
    char *args[256];
    int a = 0;
    args[a++] = m->argv[0];
    args[a++] = "--role";
    args[a++] = (char *)role;
    args[a++] = "--slot";
    args[a++] = slotbuf;
    if (role[0] == 'w') {
        args[a++] = "--listen-fds";
        args[a++] = fdbuf;
    }
    args[a++] = "--config";
    args[a++] = m->effective;
    args[a] = NULL;
    execv(m->exe, args);
    _exit(127);
}

/* Forks and execs c as `role`. When fork fails, c is left without a process (pid 0) and
   tried again after a backoff, like a child that crashed at start. Returns c->pid. */
static pid_t spawn(master_t *m, child_t *c, const char *role, int slot)
{
    int64_t now = msn_now_ms();
    c->started_ms = now;
    pid_t pid = fork();
    if (pid == 0)
        child_exec(m, role, slot);
    if (pid < 0) {
        int e = errno;
        c->pid = 0;
        c->spawn_failures++;
        c->backoff_ms = c->backoff_ms ? (c->backoff_ms * 2 > 5000 ? 5000 : c->backoff_ms * 2) : 100;
        c->next_start_ms = now + c->backoff_ms;
        msn_error("cannot start the %s: fork failed: %s (failure %d in a row; trying again in %d ms)", role,
                  strerror(e), c->spawn_failures, c->backoff_ms);
        return 0;
    }
    c->spawn_failures = 0;
    c->pid = pid;
    return pid;
}

static void spawn_worker(master_t *m, int slot)
{
    child_t *c = &m->workers[slot];
    atomic_store(&m->st->workers[slot].ready, 0); /* before the fork: the child sets it once it accepts */
    c->active = 1;
    c->retiring = 0;
    c->usr1 = 0;
    if (spawn(m, c, "worker", slot) > 0) {
        atomic_store(&m->st->workers[slot].pid, c->pid);
        atomic_fetch_add(&m->st->workers[slot].slot_gen, 1);
        msn_info("started worker %d (pid %d)", slot, (int)c->pid);
    }
}

static void spawn_backfiller(master_t *m)
{
    child_t *c = &m->backfiller;
    if (spawn(m, c, "backfiller", BACKFILLER_SLOT) > 0)
        msn_info("started backfiller (pid %d)", (int)c->pid);
}

static void spawn_ingestor(master_t *m)
{
    child_t *c = &m->ingestor;
    /* the brokers as configured, disconnected, until the ingestor reports (it is not running) */
    msn_status_write_begin(&m->st->ingest_seq);
    m->st->ingest.n_sources = m->cfg->mqtt.n_brokers;
    for (int i = 0; i < m->cfg->mqtt.n_brokers && i < MSN_STATUS_MAX_MQTT; i++) {
        const msn_mqtt_broker_t *b = &m->cfg->mqtt.brokers[i];
        snprintf(m->st->ingest.src[i].name, sizeof(m->st->ingest.src[i].name), "%s", b->name);
        snprintf(m->st->ingest.src[i].broker, sizeof(m->st->ingest.src[i].broker), "%s://%s:%d",
                 b->tls ? "mqtts" : "mqtt", b->host, b->port);
        m->st->ingest.src[i].connected = 0;
    }
    msn_status_write_end(&m->st->ingest_seq);
    if (spawn(m, c, "ingestor", 0) > 0)
        msn_info("started ingestor (pid %d)", (int)c->pid);
}

/* The ingestor runs as long as the master: an exit is restarted after 500 ms, or, when it
 * keeps ending within 2 s of its start, after a backoff doubling from 1 s to 60 s. Its
 * status section is marked stopped; the master writes it only while no ingestor runs. */
static void ingestor_exited(master_t *m, const char *how, int stopping)
{
    child_t *c = &m->ingestor;
    pid_t pid = c->pid;
    int64_t now = msn_now_ms();
    c->pid = 0;
    msn_status_writer_gone(&m->st->ingest_seq); /* it may have died mid-write */
    msn_status_write_begin(&m->st->ingest_seq);
    m->st->ingest.pid = 0;
    for (int i = 0; i < MSN_STATUS_MAX_MQTT; i++)
        m->st->ingest.src[i].connected = 0;
    if (!stopping && !c->restart)
        m->st->ingest.restarts++;
    msn_status_write_end(&m->st->ingest_seq);
    if (stopping)
        return;
    if (c->restart) {
        c->restart = 0;
        c->backoff_ms = 0;
        c->next_start_ms = now;
        return;
    }
    if (now - c->started_ms >= 2000)
        c->backoff_ms = 500;
    else
        c->backoff_ms = c->backoff_ms < 1000 ? 1000 : (c->backoff_ms * 2 > 60000 ? 60000 : c->backoff_ms * 2);
    c->next_start_ms = now + c->backoff_ms;
    msn_warn("ingestor (pid %d) %s; restarting in %d ms", (int)pid, how, c->backoff_ms);
}

/* A child that ran less than this is counted as crash-looping and backed off. */
#define MIN_HEALTHY_MS 1000

static void backfiller_exited(master_t *m, int status, const char *how, int stopping)
{
    child_t *c = &m->backfiller;
    pid_t pid = c->pid;
    int64_t now = msn_now_ms();
    c->pid = 0;
    msn_status_writer_gone(&m->st->backfill_seq); /* its only writer: it may have died mid-write */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        msn_info("backfiller finished all migrations");
        m->backfiller_done = 1;
    } else if (c->restart) {
        c->restart = 0;
        c->backoff_ms = 0;
        c->next_start_ms = now;
    } else if (!stopping) {
        c->backoff_ms = c->backoff_ms ? (c->backoff_ms * 2 > 60000 ? 60000 : c->backoff_ms * 2) : 1000;
        c->next_start_ms = now + c->backoff_ms;
        msn_warn("backfiller (pid %d) %s; restarting in %d ms", (int)pid, how, c->backoff_ms);
    }
}

static void worker_exited(master_t *m, int i, const char *how, int stopping)
{
    child_t *c = &m->workers[i];
    pid_t pid = c->pid;
    int64_t now = msn_now_ms();
    c->pid = 0;
    atomic_store(&m->st->workers[i].pid, 0);
    atomic_store(&m->st->workers[i].ready, 0);
    atomic_store(&m->st->workers[i].connections, 0); /* the kernel closed them with the process */
    atomic_store(&m->st->workers[i].ws.clients, 0);
    atomic_store(&m->st->workers[i].ws.queued_bytes, 0);
    atomic_store(&m->pub.ctl.reader_check, 1);
    if (c->retiring) {
        c->retiring = 0;
        msn_info("retired worker %d (pid %d) %s", i, (int)pid, how);
        return;
    }
    if (stopping || !c->active)
        return;
    m->worker_restarts++;
    msn_status_write_begin(&m->st->master_seq);
    m->st->master.worker_restarts = (int64_t)m->worker_restarts;
    msn_status_write_end(&m->st->master_seq);
    if (now - c->started_ms < MIN_HEALTHY_MS) {
        c->crashes++;
        c->backoff_ms = c->backoff_ms ? (c->backoff_ms * 2 > 5000 ? 5000 : c->backoff_ms * 2) : 100;
        c->next_start_ms = now + c->backoff_ms;
        msn_error("worker %d (pid %d) %s %d ms after start; crash loop %d, respawning in %d ms", i, (int)pid, how,
                  (int)(now - c->started_ms), c->crashes, c->backoff_ms);
    } else {
        c->crashes = 0;
        c->backoff_ms = 0;
        c->next_start_ms = now;
        msn_warn("worker %d (pid %d) %s; respawning", i, (int)pid, how);
    }
}

/* Reaps c's process when it has ended. Returns 1 with how set, else 0. The supervisor
 * waits only for the pids it started (child.h): the analytics computing process belongs
 * to the publisher thread, which reaps it itself. */
static int reaped(child_t *c, int *status, char *how, size_t hn)
{
    if (c->pid <= 0)
        return 0;
    int rc = msn_child_reap(c->pid, 0, status);
    if (rc == 0)
        return 0;
    if (rc < 0) {
        /* not ours any more (cannot happen while nobody else waits for it): forget the pid */
        msn_error("cannot wait for child pid %d: %s", (int)c->pid, strerror(-rc));
        *status = -1;
        snprintf(how, hn, "ended (status unknown)");
        return 1;
    }
    msn_child_describe(*status, how, hn);
    return 1;
}

static void reap(master_t *m, int stopping)
{
    int status;
    char how[96];
    if (reaped(&m->backfiller, &status, how, sizeof(how)))
        backfiller_exited(m, status, how, stopping);
    if (reaped(&m->ingestor, &status, how, sizeof(how)))
        ingestor_exited(m, how, stopping);
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++)
        if (reaped(&m->workers[i], &status, how, sizeof(how)))
            worker_exited(m, i, how, stopping);
}

static void respawn_due(master_t *m)
{
    int64_t now = msn_now_ms();
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++)
        if (m->workers[i].active && m->workers[i].pid == 0 && now >= m->workers[i].next_start_ms)
            spawn_worker(m, i);
    if (m->cfg->backfill.enabled && !m->backfiller_done && m->backfiller.pid == 0 &&
        now >= m->backfiller.next_start_ms)
        spawn_backfiller(m);
    if (m->cfg->mqtt.n_brokers > 0 && m->ingestor.pid == 0 && now >= m->ingestor.next_start_ms)
        spawn_ingestor(m);
}

/* Which children a stop or a count concerns: the workers serve HTTP and stop last; every
   other child (the backfiller, and any other background role) stops first. */
enum { WORKERS = 1, BACKGROUND = 2, ALL = WORKERS | BACKGROUND };

static int live_children(master_t *m, int which)
{
    int n = 0;
    if (which & BACKGROUND)
        n += (m->backfiller.pid > 0) + (m->ingestor.pid > 0);
    for (int i = 0; (which & WORKERS) && i < MSN_STATUS_MAX_WORKERS; i++)
        n += m->workers[i].pid > 0;
    return n;
}

static void signal_children(master_t *m, int sig, int which)
{
    if ((which & BACKGROUND) && m->backfiller.pid > 0)
        kill(m->backfiller.pid, sig);
    if ((which & BACKGROUND) && m->ingestor.pid > 0)
        kill(m->ingestor.pid, sig);
    for (int i = 0; (which & WORKERS) && i < MSN_STATUS_MAX_WORKERS; i++)
        if (m->workers[i].pid > 0)
            kill(m->workers[i].pid, sig);
}

/* SIGUSR1 (reopen the access log) goes to the workers that are ready, which have their
   handler; one still starting gets it once it is ready (it may have opened the old file). */
static void pass_usr1(master_t *m, int arrived)
{
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++) {
        child_t *c = &m->workers[i];
        if (c->pid <= 0)
            continue;
        if (arrived)
            c->usr1 = 1;
        if (c->usr1 && atomic_load(&m->st->workers[i].ready)) {
            kill(c->pid, SIGUSR1);
            c->usr1 = 0;
        }
    }
}

/* The publisher counts database files replaced or deleted at the configured path: the
   backfiller's connection still writes to the old file, so it is restarted (and started
   again if it had finished: the new file may need migrations). */
static void db_changed(master_t *m)
{
    msn_master_status_t ms;
    msn_status_read_master(m->st, &ms);
    if (ms.db_changes == m->db_changes_seen)
        return;
    m->db_changes_seen = ms.db_changes;
    if (!m->cfg->backfill.enabled)
        return;
    if (m->backfiller.pid > 0) {
        msn_info("restarting the backfiller on the new database file");
        m->backfiller.restart = 1;
        kill(m->backfiller.pid, SIGTERM);
    } else { /* waiting out a backoff (it could not open the file): try the new one now */
        m->backfiller.backoff_ms = 0;
        m->backfiller.next_start_ms = msn_now_ms();
    }
    m->backfiller_done = 0;
}

/* Writes the effective configuration the children read (write + rename: a child never
 * sees half a file). Returns 0, or -1 with err set. */
static int write_effective(master_t *m, const msn_config_t *cfg, char *err, size_t errlen)
{
    char tmp[4300];
    snprintf(m->effective, sizeof(m->effective), "%s/effective.conf", cfg->state_dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", m->effective);
    /* it holds the channel keys and MQTT broker passwords: readable by the daemon's user only, whatever the umask
       (and whatever mode a leftover temporary file had) */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %.300s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    fprintf(f, "# The configuration meshsnapd is running with (written at start and on reload).\n");
    msn_config_dump(cfg, f);
    if (fclose(f) != 0 || rename(tmp, m->effective) < 0) {
        snprintf(err, errlen, "cannot write %.300s: %s", m->effective, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Re-reads the configuration from the original command line into a new context; on
 * success starts a new generation of workers on it and retires the old ones once the new
 * ones accept (the listening sockets are shared, so no connection is refused). On any
 * error the old configuration stays in force. */
static void reload(master_t *m)
{
    char err[512];
    msn_config_t next;
    msn_config_defaults(&next);
    const char *config = NULL;
    for (int i = 1; i + 1 < m->argc; i++)
        if (strcmp(m->argv[i], "--config") == 0)
            config = m->argv[i + 1];
    if (config && msn_config_load_file(&next, config, err, sizeof(err)) < 0)
        goto invalid;
    for (int i = 1; i + 1 < m->argc; i++) {
        static const struct {
            const char *flag, *key;
        } flags[] = {{"--db", "db"}, {"--workers", "workers"}, {"--state-dir", "state_dir"}};
        for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            if (strcmp(m->argv[i], flags[k].flag) == 0 &&
                msn_config_set(&next, NULL, flags[k].key, m->argv[i + 1], err, sizeof(err)) < 0)
                goto invalid;
    }
    /* what the running processes are bound to cannot change without a restart */
    if (next.db == NULL || strcmp(next.db, m->cfg->db) != 0 || next.state_dir == NULL ||
        strcmp(next.state_dir, m->cfg->state_dir) != 0)
        msn_warn("reload: db and state_dir changes need a restart; keeping %s and %s", m->cfg->db,
                 m->cfg->state_dir);
    msn_config_set(&next, NULL, "db", m->cfg->db, err, sizeof(err));
    msn_config_set(&next, NULL, "state_dir", m->cfg->state_dir, err, sizeof(err));
    if (next.n_listen != m->cfg->n_listen || memcmp(next.listen, m->cfg->listen, sizeof(next.listen)) != 0)
        msn_warn("reload: listen address changes need a restart; keeping the current sockets");
    memcpy(next.listen, m->cfg->listen, sizeof(next.listen));
    next.n_listen = m->cfg->n_listen;
    if (memcmp(&next.http.admin_listen, &m->cfg->http.admin_listen, sizeof(next.http.admin_listen)) != 0)
        msn_warn("reload: [http] admin_listen changes need a restart; keeping the current admin listener");
    next.http.admin_listen = m->cfg->http.admin_listen;
    if (msn_config_validate(&next, err, sizeof(err)) < 0)
        goto invalid;
    if (write_effective(m, &next, err, sizeof(err)) < 0)
        goto invalid;
    int want = msn_config_worker_count(&next);
    if (want > MSN_STATUS_MAX_WORKERS / 2)
        want = MSN_STATUS_MAX_WORKERS / 2;
    /* old generation: retire; new generation: the free slots */
    int old = 0;
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++)
        if (m->workers[i].active) {
            m->workers[i].active = 0;
            m->workers[i].retiring = m->workers[i].pid > 0;
            old++;
        }
    int started = 0;
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS && started < want; i++)
        if (m->workers[i].pid == 0 && !m->workers[i].retiring) {
            memset(&m->workers[i], 0, sizeof(m->workers[i]));
            spawn_worker(m, i);
            started++;
        }
    m->n_workers = want;
    m->retire_at_ms = msn_now_ms() + 3000;
    atomic_store(&m->pub.ctl.poll_interval_ms, next.poll_interval_ms);
    if (m->backfiller.pid > 0) {
        m->backfiller.restart = 1;
        kill(m->backfiller.pid, SIGTERM);
    }
    m->backfiller_done = 0; /* a new configuration may enable or tune it */
    if (m->ingestor.pid > 0) { /* brokers and rules may have changed */
        m->ingestor.restart = 1;
        kill(m->ingestor.pid, SIGTERM);
    }
    msn_config_free(m->cfg);
    *m->cfg = next;
    msn_status_write_begin(&m->st->master_seq);
    m->st->master.reloads++;
    msn_status_write_end(&m->st->master_seq);
    msn_info("reloaded the configuration: %d new workers replacing %d", want, old);
    return;
invalid:
    msn_error("reload refused, still running on the previous configuration: %s", err);
    msn_config_free(&next);
}

/* Retires the old generation once every new worker accepts (or after a grace period). */
static void retire_due(master_t *m)
{
    if (m->retire_at_ms == 0)
        return;
    int pending = 0;
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++)
        if (m->workers[i].active && !atomic_load(&m->st->workers[i].ready))
            pending++;
    if (pending && msn_now_ms() < m->retire_at_ms)
        return;
    for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++)
        if (m->workers[i].retiring && m->workers[i].pid > 0)
            kill(m->workers[i].pid, SIGTERM);
    m->retire_at_ms = 0;
}

/* Waits until no child of `which` is left or the deadline; returns how many are left. */
static int wait_children(master_t *m, int which, int64_t deadline)
{
    while (live_children(m, which) > 0 && msn_now_ms() < deadline) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        reap(m, 1);
    }
    return live_children(m, which);
}

static void kill_left(master_t *m, int which, int timeout_ms)
{
    if (live_children(m, which) == 0)
        return;
    msn_warn("%d child process(es) did not stop in %d ms; killing them", live_children(m, which), timeout_ms);
    signal_children(m, SIGKILL, which);
    while (live_children(m, which) > 0) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        reap(m, 1);
    }
}

static void close_listeners(master_t *m)
{
    for (int i = 0; i < m->n_listen; i++) {
        if (m->listen_fds[i] >= 0)
            close(m->listen_fds[i]);
        m->listen_fds[i] = -1;
    }
    m->n_listen = 0;
}

/* Stops everything, in an order that refuses no connection longer than needed:
 *   1. the background work (the publisher thread, cancelled mid-load or mid-publication;
 *      the backfiller and any other non-worker child, SIGTERM) while the workers go on
 *      accepting and answering, until it has stopped or shutdown_timeout_ms passed;
 *   2. then the workers: the master closes its copies of the listening sockets and sends
 *      SIGTERM; each closes its own, finishes its in-flight requests and exits (at most
 *      shutdown_timeout_ms more); whatever is left is killed. */
static void stop_all(master_t *m)
{
    int timeout = m->cfg->http.shutdown_timeout_ms;
    int64_t t0 = msn_now_ms(), deadline = t0 + timeout;
    msn_publisher_request_stop(&m->pub);
    signal_children(m, SIGTERM, BACKGROUND);
    while ((live_children(m, BACKGROUND) > 0 || !msn_publisher_finished(&m->pub)) && msn_now_ms() < deadline) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        reap(m, 1);
    }
    kill_left(m, BACKGROUND, timeout);
    msn_debug("background work stopped in %lld ms; stopping the workers", (long long)(msn_now_ms() - t0));
    close_listeners(m);
    signal_children(m, SIGTERM, WORKERS);
    wait_children(m, WORKERS, msn_now_ms() + timeout);
    kill_left(m, WORKERS, timeout);
}

/* Stops every child without the staged order (start-up failed). */
static void shutdown_children(master_t *m)
{
    signal_children(m, SIGTERM, ALL);
    wait_children(m, ALL, msn_now_ms() + m->cfg->http.shutdown_timeout_ms);
    kill_left(m, ALL, m->cfg->http.shutdown_timeout_ms);
}

/* READY=1 once every worker accepts (or after a 5 s grace), then STATUS= on changes. */
static void notify_systemd(master_t *m, int *notified, int64_t deadline, char *last, size_t lastlen)
{
    if (!*notified) {
        int ready = 0;
        for (int i = 0; i < MSN_STATUS_MAX_WORKERS; i++)
            ready += m->workers[i].active && atomic_load(&m->st->workers[i].ready) != 0;
        if (ready < m->n_workers && msn_now_ms() < deadline)
            return;
        sd_notifyf(0, "READY=1\nMAINPID=%d", (int)getpid());
        msn_info("%d of %d workers accepting; ready", ready, m->n_workers);
        *notified = 1;
    }
    msn_master_status_t ms;
    msn_backfill_status_t bf;
    msn_status_read_master(m->st, &ms);
    msn_status_read_backfill(m->st, &bf);
    char text[sizeof(ms.status_text) + 64];
    int64_t done = 0, total = 0;
    for (int i = 0; i < bf.n_migrations && i < MSN_STATUS_MAX_MIGRATIONS; i++)
        if (bf.mig[i].status == MSN_MIG_RUNNING) {
            done += bf.mig[i].rows_processed;
            total += bf.mig[i].rows_total;
        }
    if (total > 0)
        snprintf(text, sizeof(text), "%s; backfilling %d%%", ms.status_text, (int)(100 * done / total));
    else
        snprintf(text, sizeof(text), "%s", ms.status_text);
    if (strcmp(text, last) != 0) {
        sd_notifyf(0, "STATUS=%s", text);
        snprintf(last, lastlen, "%s", text);
    }
}

/* Binds the listening sockets, drops privileges, creates state_dir and the status block
 * (phase LOADING). Returns 0, or -1 (logged); what was opened stays in m for the caller
 * to close. */
static int master_open(master_t *m, int64_t started)
{
    char err[512];
    const msn_config_t *cfg = m->cfg;
    for (int i = 0; i < cfg->n_listen; i++) {
        int fd = msn_listen_open(&cfg->listen[i], err, sizeof(err));
        if (fd < 0) {
            int holds = 0, pid = msn_instance_holder(cfg->state_dir, &holds);
            if (holds)
                msn_error("%s: another meshsnapd (master pid %d) is running with state_dir %s", err, pid,
                          cfg->state_dir);
            else
                msn_error("%s", err);
            return -1;
        }
        m->listen_fds[m->n_listen++] = fd;
    }
    if (cfg->http.admin_listen.port != 0) {
        /* handed to the workers with the others; they tell it apart by its address */
        int fd = msn_listen_open(&cfg->http.admin_listen, err, sizeof(err));
        if (fd < 0) {
            msn_error("[http] admin_listen: %s", err);
            return -1;
        }
        m->listen_fds[m->n_listen++] = fd;
    }
    /* bound as whoever started us; everything from here on runs as the configured user */
    if (msn_proc_drop_privileges(cfg->user, err, sizeof(err)) < 0) {
        msn_error("%s", err);
        return -1;
    }
    if (mkdir(cfg->state_dir, 0755) < 0 && errno != EEXIST) {
        msn_error("cannot create state_dir %s: %s", cfg->state_dir, strerror(errno));
        return -1;
    }
    /* before anything in state_dir is touched: the processes of an earlier master that was
       killed stop on their own (SIGTERM at its death) within their shutdown timeout */
    m->lock_fd = msn_instance_lock(cfg->state_dir, cfg->http.shutdown_timeout_ms + 2000, err, sizeof(err));
    if (m->lock_fd < 0) {
        msn_error("%s", err);
        return -1;
    }
    int rcs = msn_status_create(cfg->state_dir, &m->st);
    if (rcs < 0) {
        msn_error("cannot create the status block in %s: %s", cfg->state_dir, strerror(-rcs));
        return -1;
    }
    msn_status_write_begin(&m->st->master_seq);
    m->st->master.pid = getpid();
    m->st->master.phase = MSN_PHASE_LOADING;
    m->st->master.started_at_ms = started;
    snprintf(m->st->master.status_text, sizeof(m->st->master.status_text), "starting");
    msn_status_write_end(&m->st->master_seq);
    return 0;
}

/* The supervisor loop: takes the blocked signals in set every 50 ms at most, reaps,
 * respawns and retires children, keeps systemd informed. Returns on SIGTERM or SIGINT. */
static void supervise(master_t *m, const sigset_t *set)
{
    int notified_ready = 0;
    char last_status[sizeof(m->st->master.status_text) + 64] = "";
    int64_t ready_deadline = msn_now_ms() + 5000;
    for (;;) {
        struct timespec to = {0, 50 * 1000000L};
        int sig = sigtimedwait(set, NULL, &to);
        if (sig == SIGTERM || sig == SIGINT) {
            msn_info("received %s; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
        if (sig == SIGHUP) {
            msn_info("received SIGHUP; reloading the configuration");
            sd_notify(0, "RELOADING=1");
            reload(m);
            sd_notify(0, "READY=1");
        }
        pass_usr1(m, sig == SIGUSR1); /* reopen logs: the workers hold the access log */
        retire_due(m);
        reap(m, 0);
        db_changed(m);
        respawn_due(m);
        notify_systemd(m, &notified_ready, ready_deadline, last_status, sizeof(last_status));
    }
}

int msn_master_main(msn_config_t *cfg, int argc, char **argv)
{
    master_t m;
    char err[512];
    int rc = 1;
    memset(&m, 0, sizeof(m));
    m.lock_fd = -1;
    m.pid = getpid();
    m.cfg = cfg;
    m.argc = argc;
    m.argv = argv;
    msn_log_set_role("master");
    msn_proc_set_title("master");
    /* the publisher's work is background work: a master that leads its session (as a
       service manager starts it) puts its session's group behind the workers' groups
       (shm/sched.h); started from a shell, it leaves the shell's group as it is */
    (void)msn_sched_group_nice(5);
    ssize_t el = readlink("/proc/self/exe", m.exe, sizeof(m.exe) - 1);
    if (el < 0) {
        msn_error("cannot find my own executable: %s", strerror(errno));
        return 1;
    }
    m.exe[el] = '\0';
    m.n_workers = msn_config_worker_count(cfg);
    if (m.n_workers > MSN_STATUS_MAX_WORKERS)
        m.n_workers = MSN_STATUS_MAX_WORKERS;
    int64_t started = msn_now_ms();
    if (master_open(&m, started) < 0)
        goto out;

    /* blocked in every thread (the publisher thread inherits the mask): taken by supervise() */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (write_effective(&m, cfg, err, sizeof(err)) < 0) {
        msn_error("%s", err);
        goto out;
    }
    for (int i = 0; i < m.n_workers; i++)
        spawn_worker(&m, i);
    for (int i = 0; i < cfg->n_listen; i++)
        msn_info("listening on http://%s%s%s:%d/ with %d workers", strchr(cfg->listen[i].host, ':') ? "[" : "",
                 cfg->listen[i].host, strchr(cfg->listen[i].host, ':') ? "]" : "", cfg->listen[i].port, m.n_workers);
    if (cfg->http.admin_listen.port != 0)
        msn_info("admin listener (full /api/healthz and /api/perf) on http://%s%s%s:%d/",
                 strchr(cfg->http.admin_listen.host, ':') ? "[" : "", cfg->http.admin_listen.host,
                 strchr(cfg->http.admin_listen.host, ':') ? "]" : "", cfg->http.admin_listen.port);
    if (msn_publisher_start(&m.pub, cfg, m.st, started) < 0) {
        msn_error("cannot start the publisher thread");
        shutdown_children(&m);
        goto out;
    }
    if (cfg->backfill.enabled)
        spawn_backfiller(&m);
    if (cfg->mqtt.n_brokers > 0)
        spawn_ingestor(&m);

    supervise(&m, &set);

    sd_notify(0, "STOPPING=1");
    msn_status_write_begin(&m.st->master_seq);
    m.st->master.phase = MSN_PHASE_STOPPING;
    snprintf(m.st->master.status_text, sizeof(m.st->master.status_text), "stopping");
    msn_status_write_end(&m.st->master_seq);
    stop_all(&m);
    msn_publisher_stop(&m.pub);
    msn_info("stopped");
    rc = 0;
out:
    for (int i = 0; i < m.n_listen; i++)
        if (m.listen_fds[i] >= 0)
            close(m.listen_fds[i]);
    msn_status_close(m.st);
    if (m.lock_fd >= 0)
        close(m.lock_fd); /* last: the next master may start now */
    return rc;
}
