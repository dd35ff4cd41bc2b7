/* status.c: see status.h. */
#include "status.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "reserve.h"
#include "timeutil.h"

int64_t msn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int status_path(const char *state_dir, char *path, size_t n)
{
    int r = snprintf(path, n, "%s/status", state_dir);
    return (r < 0 || (size_t)r >= n) ? -ENAMETOOLONG : 0;
}

static int map_fd(int fd, msn_status_t **out)
{
    void *p = mmap(NULL, sizeof(msn_status_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *out = p;
    return 0;
}

int msn_status_create(const char *state_dir, msn_status_t **out)
{
    char path[4096];
    int rc = status_path(state_dir, path, sizeof(path));
    if (rc < 0)
        return rc;
    /* A fresh inode each run: children of an earlier run keep their old mapping. */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, sizeof(msn_status_t)) < 0) {
        rc = -errno;
        goto fail;
    }
    /* every block now: on a full disk, a first write through the map would be SIGBUS */
    rc = msn_reserve_blocks(fd, sizeof(msn_status_t));
    if (rc < 0)
        goto fail;
    rc = map_fd(fd, out);
    if (rc < 0)
        goto fail;
    /* a file truncated and extended reads as zeros: only the pages written are touched */
    (*out)->magic = MSN_STATUS_MAGIC;
    (*out)->version = MSN_STATUS_VERSION;
    (*out)->size = sizeof(msn_status_t);
    if (rename(tmp, path) < 0) {
        rc = -errno;
        munmap(*out, sizeof(msn_status_t));
        *out = NULL;
        goto fail;
    }
    close(fd);
    return 0;
fail:
    close(fd);
    unlink(tmp);
    return rc;
}

int msn_status_open(const char *state_dir, msn_status_t **out)
{
    char path[4096];
    int rc = status_path(state_dir, path, sizeof(path));
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(msn_status_t)) {
        close(fd);
        return -EPROTO;
    }
    rc = map_fd(fd, out);
    close(fd);
    if (rc < 0)
        return rc;
    if ((*out)->magic != MSN_STATUS_MAGIC || (*out)->version != MSN_STATUS_VERSION ||
        (*out)->size != sizeof(msn_status_t)) {
        munmap(*out, sizeof(msn_status_t));
        *out = NULL;
        return -EPROTO;
    }
    return 0;
}

void msn_status_close(msn_status_t *st)
{
    if (st != NULL)
        munmap(st, sizeof(msn_status_t));
}

/* The write this thread has open (writes do not nest): the sequence and the odd value its
 * begin set. Its end moves that value on only, so that a writer taken for dead that comes
 * back late leaves the write of the one that took over open. */
static _Thread_local struct {
    _Atomic uint64_t *seq;
    uint64_t taken;
} open_write;

void msn_status_write_begin(_Atomic uint64_t *seq)
{
    int64_t since = 0;
    for (unsigned tries = 0;; tries++) {
        uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
        if (s & 1) { /* another writer is mid-write */
            if (tries < MSN_STATUS_READER_SPINS) {
                sched_yield();
                continue;
            }
            int64_t now = msn_mono_us();
            if (since == 0)
                since = now;
            if (now - since < MSN_STATUS_WRITER_WAIT_MS * 1000) {
                struct timespec nap = {0, 50000}; /* 50 us */
                nanosleep(&nap, NULL);
                continue;
            }
        }
        /* even: take it odd; still odd after the wait: its writer died mid-write, and the
           sequence moves on to the next odd value (readers see it changed) */
        uint64_t next = (s & 1) ? s + 2 : s + 1;
        if (atomic_compare_exchange_weak_explicit(seq, &s, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            open_write.seq = seq;
            open_write.taken = next;
            break;
        }
    }
    atomic_thread_fence(memory_order_release);
}

void msn_status_write_end(_Atomic uint64_t *seq)
{
    atomic_thread_fence(memory_order_release);
    if (open_write.seq != seq) { /* no begin on this thread (not expected): move it on */
        atomic_fetch_add_explicit(seq, 1, memory_order_relaxed);
        return;
    }
    uint64_t taken = open_write.taken;
    open_write.seq = NULL;
    /* fails when another writer took the sequence over meanwhile: its write stays open */
    atomic_compare_exchange_strong_explicit(seq, &taken, taken + 1, memory_order_relaxed,
                                            memory_order_relaxed);
}

void msn_status_writer_gone(_Atomic uint64_t *seq)
{
    uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
    while ((s & 1) &&
           !atomic_compare_exchange_weak_explicit(seq, &s, s + 1, memory_order_release, memory_order_relaxed))
        ;
}

/* Copies the section; returns 0 when the copy is consistent, 1 when it was taken as it is. */
static int seq_read(const _Atomic uint64_t *seq, void *dst, const void *src, size_t n)
{
    int64_t since = 0;
    uint64_t stuck = 0; /* the odd value seen since `since` */
    for (int tries = 0;; tries++) {
        uint64_t a = atomic_load_explicit((_Atomic uint64_t *)seq, memory_order_acquire);
        if (a & 1) {
            if (tries >= MSN_STATUS_READER_SPINS) {
                int64_t now = msn_mono_us();
                if (a != stuck) { /* a new write: its writer is alive */
                    stuck = a;
                    since = now;
                } else if (now - since >= MSN_STATUS_READER_WAIT_MS * 1000)
                    a = 0; /* one write open this long: its writer died, or is kept off the CPU */
            }
            if (a != 0) {
                if (tries >= MSN_STATUS_READER_SPINS)
                    sched_yield(); /* let a preempted writer finish */
                continue;
            }
        }
        memcpy(dst, src, n);
        atomic_thread_fence(memory_order_acquire);
        uint64_t b = atomic_load_explicit((_Atomic uint64_t *)seq, memory_order_relaxed);
        if (a == b)
            return 0;
        if (a == 0)
            return 1;
    }
}

int msn_status_read_master(const msn_status_t *st, msn_master_status_t *out)
{
    return seq_read(&st->master_seq, out, &st->master, sizeof(*out));
}

int msn_status_read_backfill(const msn_status_t *st, msn_backfill_status_t *out)
{
    return seq_read(&st->backfill_seq, out, &st->backfill, sizeof(*out));
}

int msn_status_read_ingest(const msn_status_t *st, msn_ingest_status_t *out)
{
    return seq_read(&st->ingest_seq, out, &st->ingest, sizeof(*out));
}

void msn_status_set_migration(msn_status_t *st, const msn_migration_status_t *m)
{
    msn_backfill_status_t *b = &st->backfill;
    msn_status_write_begin(&st->backfill_seq);
    int i;
    for (i = 0; i < b->n_migrations; i++)
        if (strncmp(b->mig[i].name, m->name, sizeof(b->mig[i].name)) == 0)
            break;
    if (i == b->n_migrations) {
        if (i == MSN_STATUS_MAX_MIGRATIONS)
            i = MSN_STATUS_MAX_MIGRATIONS - 1; /* overwrite the last slot rather than drop news */
        else
            b->n_migrations++;
        b->mig[i].status = MSN_MIG_UNKNOWN;
    }
    int was_finished = b->mig[i].status == MSN_MIG_DONE || b->mig[i].status == MSN_MIG_FAILED;
    b->mig[i] = *m;
    b->mig[i].name[sizeof(b->mig[i].name) - 1] = '\0';
    b->mig[i].error[sizeof(b->mig[i].error) - 1] = '\0';
    int is_finished = m->status == MSN_MIG_DONE || m->status == MSN_MIG_FAILED;
    if (is_finished && !was_finished)
        b->finished_count++;
    int64_t rem = 0;
    for (int j = 0; j < b->n_migrations; j++)
        if (b->mig[j].status == MSN_MIG_RUNNING && b->mig[j].rows_total > b->mig[j].rows_processed)
            rem += b->mig[j].rows_total - b->mig[j].rows_processed;
    b->remaining = rem;
    b->last_progress_ms = msn_now_ms();
    msn_status_write_end(&st->backfill_seq);
}

_Static_assert(MSN_PERF_OTHER < MSN_PERF_ENDPOINTS,
               "more routes (shm/route.h) than request-statistics slots: raise MSN_PERF_ENDPOINTS and "
               "MSN_STATUS_VERSION");

#define PERF_NAME(id, method, pattern, cache, snapshot) [MSN_ROUTE_##id] = pattern,
const char *const msn_perf_endpoint_names[MSN_PERF_ENDPOINTS] = {
    MSN_ROUTES(PERF_NAME)[MSN_PERF_OTHER] = "other",
};
#undef PERF_NAME

double msn_perf_bucket_lower_us(int i)
{
    return i <= 0 ? 0 : pow(2.0, i / 4.0);
}

static int bucket_of(uint64_t us)
{
    if (us < 2)
        return 0;
    int b = (int)(4.0 * log2((double)us));
    return b >= MSN_PERF_BUCKETS ? MSN_PERF_BUCKETS - 1 : b;
}

void msn_perf_record(msn_worker_status_t *w, int endpoint, int status, uint64_t us, uint64_t bytes,
                     const char *path, int64_t now_ms)
{
    if (endpoint < 0 || endpoint >= MSN_PERF_ENDPOINTS)
        return;
    msn_perf_endpoint_t *e = &w->ep[endpoint];
    atomic_fetch_add_explicit(&e->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->sum_us, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->bytes, bytes, memory_order_relaxed);
    int cls = status >= 100 && status < 600 ? status / 100 : 0;
    atomic_fetch_add_explicit(&e->status[cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->buckets[bucket_of(us)], 1, memory_order_relaxed);
    uint64_t mx = atomic_load_explicit(&e->max_us, memory_order_relaxed);
    while (us > mx && !atomic_compare_exchange_weak(&e->max_us, &mx, us))
        ;
    if (us >= (uint64_t)MSN_PERF_SLOW_MS * 1000) {
        uint64_t pos = atomic_fetch_add(&w->slow_next, 1) % MSN_PERF_SLOW;
        msn_perf_slow_t *sl = &w->slow[pos];
        snprintf(sl->path, sizeof(sl->path), "%s", path);
        sl->at_ms = now_ms;
        sl->ms_x10 = (int32_t)(us / 100);
        sl->status = status;
    }
}

void msn_status_request_shape(msn_status_t *st, int an, const char *key, int missing)
{
    uint64_t pos = atomic_fetch_add(&st->shape_head, 1);
    __typeof__(st->shape_ring[0]) *e = &st->shape_ring[pos % MSN_SHAPE_RING];
    atomic_store_explicit(&e->seq, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    e->an = an;
    e->missing = missing;
    snprintf(e->key, sizeof(e->key), "%s", key);
    atomic_store_explicit(&e->seq, pos + 1, memory_order_release);
}

int msn_status_take_shape(msn_status_t *st, uint64_t *tail, int *an, char key[120], int *missing)
{
    uint64_t head = atomic_load(&st->shape_head);
    if (head > *tail + MSN_SHAPE_RING)
        *tail = head - MSN_SHAPE_RING;
    while (*tail < head) {
        __typeof__(st->shape_ring[0]) *e = &st->shape_ring[*tail % MSN_SHAPE_RING];
        uint64_t pos = *tail;
        if (atomic_load_explicit(&e->seq, memory_order_acquire) != pos + 1) {
            (*tail)++; /* being written or already overwritten: a worker asks again on retry */
            continue;
        }
        *an = e->an;
        *missing = e->missing;
        memcpy(key, e->key, 120);
        key[119] = '\0';
        atomic_thread_fence(memory_order_acquire);
        (*tail)++;
        if (atomic_load_explicit(&e->seq, memory_order_relaxed) == pos + 1)
            return 1;
    }
    return 0;
}
