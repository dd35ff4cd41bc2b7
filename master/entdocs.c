/* entdocs.c: see entdocs.h. */
#include "entdocs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "shm/entdoc.h"
#include "shm/etag.h"
#include "shm/log.h"
#include "shm/proc.h"
#include "shm/sched.h"
#include "shm/status.h"

#define F_DELETE 1u
#define F_END 2u
#define GZIP_MIN 1024
#define PUBLISH_AFTER_MS 1000         /* write what arrived at least this often during a run */
#define PUBLISH_AFTER_BYTES (4u << 20) /* ... or once this much is waiting */

typedef struct {
    uint32_t name_len, body_len, gz_len, flags;
    uint64_t hash;
} rec_t;

struct msn_entdoc_out {
    int fd;
    const msn_entdocs_t *e;
    msn_buf_t gz;
};

/* ---- the hash table ---- */

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static msn_enthash_t *ht_slot(const msn_entdocs_t *e, const char *name, size_t n)
{
    if (e->ht_cap == 0)
        return NULL;
    uint32_t h = name_hash(name, n) & (e->ht_cap - 1);
    while (e->ht[h].name != NULL) {
        if (strlen(e->ht[h].name) == n && memcmp(e->ht[h].name, name, n) == 0)
            return &e->ht[h];
        h = (h + 1) & (e->ht_cap - 1);
    }
    return &e->ht[h];
}

uint64_t msn_entdocs_hash(const msn_entdocs_t *e, const char *name)
{
    const msn_enthash_t *sl = ht_slot(e, name, strlen(name));
    return sl && sl->name ? sl->hash : 0;
}

static void ht_set(msn_entdocs_t *e, const char *name, size_t n, uint64_t hash, int del)
{
    if ((e->ht_n + 1) * 2 > e->ht_cap) {
        uint32_t cap = e->ht_cap ? e->ht_cap * 2 : 4096;
        msn_enthash_t *old = e->ht;
        uint32_t old_cap = e->ht_cap;
        e->ht = msn_xcalloc(cap, sizeof(*e->ht));
        e->ht_cap = cap;
        for (uint32_t i = 0; i < old_cap; i++)
            if (old[i].name) {
                msn_enthash_t *sl = ht_slot(e, old[i].name, strlen(old[i].name));
                *sl = old[i];
            }
        free(old);
    }
    msn_enthash_t *sl = ht_slot(e, name, n);
    if (sl->name == NULL) {
        if (del)
            return;
        sl->name = msn_xstrndup(name, n);
        e->ht_n++;
    }
    /* a deleted document keeps its slot with hash 0 (never a body's hash in practice) */
    sl->hash = del ? 0 : hash;
}

static void ht_clear(msn_entdocs_t *e)
{
    for (uint32_t i = 0; i < e->ht_cap; i++)
        free(e->ht[i].name);
    free(e->ht);
    e->ht = NULL;
    e->ht_cap = e->ht_n = 0;
}

/* ---- set-up ---- */

void msn_entdocs_init(msn_entdocs_t *e)
{
    memset(e, 0, sizeof(*e));
    e->fd = -1;
}

void msn_entdocs_add_kind(msn_entdocs_t *e, const msn_entkind_t *k)
{
    if (e->n_kinds < MSN_ENTDOCS_MAX_KINDS)
        e->kinds[e->n_kinds++] = *k;
}

/* Ends the run: kills a child not reaped yet, closes the pipe. */
static void stop_child(msn_entdocs_t *e)
{
    if (e->pid > 0 && !e->reaped) {
        kill(e->pid, SIGKILL);
        int st;
        if (msn_child_reap(e->pid, 1, &st) > 0) {
            e->reaped = 1;
            e->status = st;
        }
    }
    if (e->fd >= 0)
        close(e->fd);
    e->fd = -1;
    e->pid = 0;
}

void msn_entdocs_free(msn_entdocs_t *e)
{
    stop_child(e);
    msn_buf_free(&e->in);
    ht_clear(e);
    memset(e, 0, sizeof(*e));
    e->fd = -1;
}

void msn_entdocs_reset(msn_entdocs_t *e, int64_t now_ms)
{
    int running = e->pid > 0;
    stop_child(e);
    msn_buf_reset(&e->in);
    e->parsed = 0;
    e->first_pending_ms = 0;
    if (running && e->kind < e->n_kinds)
        e->kinds[e->kind].finish(e->kinds[e->kind].kctx, 0, now_ms);
}

/* ---- the computing process ---- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int emit(msn_entdoc_out_t *o, const char *name, const void *body, size_t len, int compress, int del)
{
    size_t nl = strlen(name);
    if (nl == 0 || nl > MSN_ENTDOC_NAME_MAX || len > UINT32_MAX / 2)
        return 0;
    const msn_enthash_t *sl = ht_slot(o->e, name, nl);
    uint64_t h = del ? 0 : msn_hash64(body, len);
    if (del && (sl == NULL || sl->name == NULL || sl->hash == 0))
        return 0; /* not published */
    if (!del && sl && sl->name && sl->hash == h)
        return 0; /* unchanged */
    msn_buf_reset(&o->gz);
    if (!del && compress && len >= GZIP_MIN && msn_gzip(body, len, 4, &o->gz) < 0)
        msn_buf_reset(&o->gz);
    rec_t r = {(uint32_t)nl, del ? 0 : (uint32_t)len, (uint32_t)o->gz.len, del ? F_DELETE : 0, h};
    if (write_all(o->fd, &r, sizeof(r)) < 0 || write_all(o->fd, name, nl) < 0 ||
        (!del && len && write_all(o->fd, body, len) < 0) || (o->gz.len && write_all(o->fd, o->gz.data, o->gz.len) < 0))
        return -1;
    return 0;
}

int msn_entdoc_emit(msn_entdoc_out_t *o, const char *name, const void *body, size_t len, int compress)
{
    return emit(o, name, body, len, compress, 0);
}

int msn_entdoc_emit_delete(msn_entdoc_out_t *o, const char *name)
{
    return emit(o, name, NULL, 0, 0, 1);
}

int msn_entdoc_published(const msn_entdoc_out_t *o, const char *name)
{
    return msn_entdocs_hash(o->e, name) != 0;
}

/* The forked child: see entdocs.h (and anrun.c child_main, whose rules it follows). */
static void child_main(msn_entdocs_t *e, int fd, pid_t parent, const msn_store_t *s, int64_t now_ms)
{
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    msn_log_set_role("documents");
    msn_proc_set_title("documents");
    (void)msn_sched_own_group(10);
    (void)msn_sched_background(10);
    msn_entdoc_out_t out = {fd, e, MSN_BUF_INIT};
    const msn_entkind_t *k = &e->kinds[e->kind];
    int rc = k->compute(k->kctx, s, now_ms, &out);
    rec_t end = {0, rc == 0 ? 0u : 1u, 0, F_END, 0};
    _exit(write_all(fd, &end, sizeof(end)) < 0 ? 1 : 0);
}

static int start(msn_entdocs_t *e, msn_store_t *s, int kind, int64_t now_ms)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
    e->kind = kind;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(p[0]);
        close(p[1]);
        return -err;
    }
    if (pid == 0)
        child_main(e, p[1], parent, s, now_ms); /* never returns */
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    e->pid = pid;
    e->fd = p[0];
    e->started_ms = msn_now_ms();
    e->now_ms = now_ms;
    e->reaped = e->got_end = e->end_rc = 0;
    e->run_docs = e->run_bytes = e->run_write_ms = 0;
    return 0;
}

/* ---- the publisher thread's side ---- */

/* Advances e->parsed over the complete records read so far; notes the end record. */
static void parse(msn_entdocs_t *e, int64_t now_ms)
{
    while (e->in.len - e->parsed >= sizeof(rec_t)) {
        rec_t r;
        memcpy(&r, e->in.data + e->parsed, sizeof(r));
        size_t need = sizeof(r) + r.name_len + ((r.flags & F_END) ? 0 : (size_t)r.body_len + r.gz_len);
        if (e->in.len - e->parsed < need)
            return;
        if (r.flags & F_END) {
            e->got_end = 1;
            e->end_rc = (int)r.body_len;
            /* drop it: only documents stay in the buffer */
            memmove(e->in.data + e->parsed, e->in.data + e->parsed + need, e->in.len - e->parsed - need);
            e->in.len -= need;
            continue;
        }
        if (e->first_pending_ms == 0)
            e->first_pending_ms = now_ms;
        e->run_docs++;
        e->run_bytes += r.body_len;
        e->parsed += need;
    }
}

/* Reads what the child sent (bounded). Returns 1 at end of file, else 0. */
static int read_pipe(msn_entdocs_t *e, int64_t now_ms)
{
    for (;;) {
        if (e->parsed >= MSN_ENTDOCS_PENDING_MAX)
            return 0; /* write first: the child waits on the full pipe meanwhile */
        msn_buf_reserve(&e->in, 1 << 16);
        ssize_t n = read(e->fd, e->in.data + e->in.len, e->in.cap - e->in.len - 1);
        if (n > 0) {
            e->in.len += (size_t)n;
            parse(e, now_ms);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        return 1;
    }
}

static void end_run(msn_entdocs_t *e, int64_t now_ms)
{
    int st = 0;
    if (!e->reaped && msn_child_reap(e->pid, 1, &st) > 0) {
        e->reaped = 1;
        e->status = st;
    }
    int clean = e->reaped && WIFEXITED(e->status) && WEXITSTATUS(e->status) == 0;
    int ok = e->got_end && e->end_rc == 0 && clean && e->in.len == e->parsed;
    char how[96] = "was not reaped";
    if (e->reaped)
        msn_child_describe(e->status, how, sizeof(how));
    e->last_run_ms = msn_now_ms() - e->started_ms;
    const msn_entkind_t *k = &e->kinds[e->kind];
    if (ok && k->loud && k->loud(k->kctx))
        msn_info("%s documents: full pass in %.1f s: %lld changed (%.1f MB), written in %lld ms so far", k->name,
                 e->last_run_ms / 1000.0, (long long)e->run_docs, e->run_bytes / 1048576.0,
                 (long long)e->run_write_ms);
    else if (ok)
        msn_debug("%s documents: %lld changed (%lld bytes) in %.1f s", k->name, (long long)e->run_docs,
                  (long long)e->run_bytes, e->last_run_ms / 1000.0);
    else if (e->got_end && e->end_rc != 0)
        msn_error("%s documents: the computation failed (see its log line; %lld documents received); they are "
                  "computed again",
                  k->name, (long long)e->run_docs);
    else
        msn_error("%s documents: the computing process (pid %d) %s before finishing (%lld documents received); "
                  "they are computed again",
                  k->name, (int)e->pid, how, (long long)e->run_docs);
    /* a torn record at the end is dropped */
    e->in.len = e->parsed;
    e->runs++;
    stop_child(e);
    k->finish(k->kctx, ok, now_ms);
}

int msn_entdocs_tick(msn_entdocs_t *e, msn_store_t *s, int64_t now_ms)
{
    if (e->pid > 0 && read_pipe(e, now_ms))
        end_run(e, now_ms);
    if (e->pid == 0 && e->parsed == 0 && e->n_kinds > 0) {
        for (int i = 0; i < e->n_kinds; i++) {
            int k = (e->next_kind + i) % e->n_kinds;
            if (!e->kinds[k].plan(e->kinds[k].kctx, s, now_ms))
                continue;
            e->next_kind = (k + 1) % e->n_kinds;
            int rc = start(e, s, k, now_ms);
            if (rc < 0) {
                msn_error("%s documents: cannot start the computing process: %s", e->kinds[k].name, strerror(-rc));
                e->kinds[k].finish(e->kinds[k].kctx, 0, now_ms);
            }
            break;
        }
    }
    if (e->parsed == 0)
        return 0;
    return e->pid == 0 || e->parsed >= PUBLISH_AFTER_BYTES || now_ms - e->first_pending_ms >= PUBLISH_AFTER_MS;
}

int msn_entdocs_inject(msn_entdocs_t *e, const char *name, const void *body, size_t len, int64_t now_ms)
{
    size_t nl = strlen(name);
    if (nl == 0 || nl > MSN_ENTDOC_NAME_MAX || len > UINT32_MAX / 2)
        return 0;
    uint64_t h = msn_hash64(body, len);
    const msn_enthash_t *sl = ht_slot(e, name, nl);
    if (sl && sl->name && sl->hash == h)
        return 0;
    /* before the child's partial record, if any: complete records stay first */
    rec_t r = {(uint32_t)nl, (uint32_t)len, 0, 0, h};
    size_t need = sizeof(r) + nl + len;
    msn_buf_reserve(&e->in, need);
    memmove(e->in.data + e->parsed + need, e->in.data + e->parsed, e->in.len - e->parsed);
    memcpy(e->in.data + e->parsed, &r, sizeof(r));
    memcpy(e->in.data + e->parsed + sizeof(r), name, nl);
    if (len)
        memcpy(e->in.data + e->parsed + sizeof(r) + nl, body, len);
    e->in.len += need;
    e->parsed += need;
    if (e->first_pending_ms == 0)
        e->first_pending_ms = now_ms;
    return 1;
}

/* Copies every entity document of src into dst. Returns 0, 1 when src has none to give
 * (unreadable, no meta), or -1 when a write failed (*put_rc gets its LMDB code). */
static int carry(MDB_txn *txn, const msn_snap_t *dst, const msn_snap_t *src, int64_t *copied, int *put_rc)
{
    MDB_txn *rt;
    if (mdb_txn_begin(src->env, NULL, MDB_RDONLY, &rt) != 0)
        return 1;
    msn_snap_meta_t m;
    int rc = 1;
    MDB_cursor *c = NULL;
    if (msn_snap_meta_get(rt, src, &m) != 0 || mdb_cursor_open(rt, src->dbi[MSN_DBI_DOC], &c) != 0)
        goto out;
    size_t pl = strlen(MSN_ENTDOC_PREFIX);
    MDB_val k = {pl, (void *)MSN_ENTDOC_PREFIX}, v;
    rc = 0;
    for (int r = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); r == 0 && k.mv_size >= pl &&
                                                           memcmp(k.mv_data, MSN_ENTDOC_PREFIX, pl) == 0;
         r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if ((*put_rc = mdb_put(txn, dst->dbi[MSN_DBI_DOC], &k, &v, 0)) != 0) {
            rc = -1;
            break;
        }
        (*copied)++;
    }
out:
    if (c)
        mdb_cursor_close(c);
    mdb_txn_abort(rt);
    return rc;
}

int msn_entdocs_write(msn_entdocs_t *e, MDB_txn *txn, const msn_snap_t *snap, const msn_snap_t *prev,
                      const char *state_dir, uint64_t gen, int64_t now_ms, int full, int *wrote)
{
    int64_t t0 = msn_now_ms();
    int rc;
    if (full) {
        int64_t copied = 0;
        msn_snap_t cur;
        int opened = 0;
        const msn_snap_t *src = prev && prev->env ? prev : NULL;
        char err[512];
        if (src == NULL && state_dir && msn_snap_open_current_ro(state_dir, &cur, err, sizeof(err)) == 0) {
            src = &cur;
            opened = 1;
        }
        int put_rc = 0;
        rc = src ? carry(txn, snap, src, &copied, &put_rc) : 1;
        if (opened)
            msn_snap_close(&cur);
        if (rc < 0)
            return put_rc;
        if (rc == 1 && e->ht_n > 0) {
            msn_info("entity documents: no previous snapshot to carry them from; they are written again as "
                     "they are computed");
            e->forget_at_commit = 1;
        }
        if (copied)
            msn_info("entity documents: %lld carried into the new environment in %lld ms", (long long)copied,
                     (long long)(msn_now_ms() - t0));
        *wrote = 1;
    }
    char name[MSN_ENTDOC_NAME_MAX + 1];
    int64_t t1 = msn_now_ms(), n_docs = 0, bytes = 0;
    for (size_t off = 0; off < e->parsed;) {
        rec_t r;
        memcpy(&r, e->in.data + off, sizeof(r));
        const char *p = e->in.data + off + sizeof(r);
        memcpy(name, p, r.name_len);
        name[r.name_len] = '\0';
        p += r.name_len;
        if (r.flags & F_DELETE)
            rc = msn_snap_doc_del(txn, snap, name);
        else
            rc = msn_snap_doc_put_full(txn, snap, name, p, r.body_len, r.gz_len ? p + r.body_len : NULL, r.gz_len, 0,
                                       gen, now_ms, 0);
        if (rc)
            return rc;
        *wrote = 1;
        n_docs++;
        bytes += r.body_len + r.gz_len;
        off += sizeof(r) + r.name_len + r.body_len + r.gz_len;
    }
    if (n_docs)
        msn_debug("entity documents: %lld written (%lld bytes with their gzip copies) in %lld ms", (long long)n_docs,
                  (long long)bytes, (long long)(msn_now_ms() - t1));
    e->write_ms_total += msn_now_ms() - t0;
    e->run_write_ms += msn_now_ms() - t0;
    return 0;
}

void msn_entdocs_committed(msn_entdocs_t *e)
{
    if (e->forget_at_commit) {
        ht_clear(e);
        e->forget_at_commit = 0;
    }
    for (size_t off = 0; off < e->parsed;) {
        rec_t r;
        memcpy(&r, e->in.data + off, sizeof(r));
        ht_set(e, e->in.data + off + sizeof(r), r.name_len, r.hash, (r.flags & F_DELETE) != 0);
        e->docs_written++;
        e->bytes_written += r.body_len;
        off += sizeof(r) + r.name_len + r.body_len + r.gz_len;
    }
    if (e->parsed > 0 && e->in.len > e->parsed)
        memmove(e->in.data, e->in.data + e->parsed, e->in.len - e->parsed);
    e->in.len -= e->parsed;
    e->parsed = 0;
    e->first_pending_ms = 0;
}
