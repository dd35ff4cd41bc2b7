/* snapshot.c: see snapshot.h for the on-disk layout. */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "etag.h"
#include "buf.h"
#include "reserve.h"

static const char *const dbi_names[MSN_DBI_COUNT] = {"meta", "doc", "tx",   "obs", "oid",  "hash", "fx", "ft",
                                                     "node", "orow", "fl", "chl", "cmsg", "om",   "feed"};

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int rm_rf(const char *path)
{
    return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int check_not_truncated(msn_snap_t *s, char *err, size_t errlen);

/* LMDB's reader table (dir/lock.mdb) is written through a shared map by every process, and
 * LMDB creates it sparse: on a full disk its first write would be SIGBUS. It is created
 * here first, with every block (reserve.h), so that a full disk is an error now; LMDB takes
 * a file at least as large as it needs as it is (and fits its reader count to it). Returns
 * 0 or an errno value. */
#define LOCK_FILE_BYTES ((off_t)(MSN_SNAP_MAXREADERS + 2) * 64 + 4096)
static int reserve_lock_file(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) < 0)
        rc = errno;
    else if (sb.st_size < LOCK_FILE_BYTES && ftruncate(fd, LOCK_FILE_BYTES) < 0)
        rc = errno;
    else
        rc = -msn_reserve_blocks(fd, sb.st_size < LOCK_FILE_BYTES ? LOCK_FILE_BYTES : sb.st_size);
    close(fd);
    return rc;
}

static int open_env(const char *dir, int rdonly, msn_snap_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->dir, sizeof(out->dir), "%s", dir);
    int rc = mdb_env_create(&out->env);
    if (rc != 0)
        goto fail;
    mdb_env_set_maxdbs(out->env, MSN_DBI_COUNT + 2);
    mdb_env_set_maxreaders(out->env, MSN_SNAP_MAXREADERS);
    if (!rdonly && (rc = mdb_env_set_mapsize(out->env, MSN_SNAP_MAPSIZE)) != 0)
        goto fail;
    unsigned flags = MDB_NOTLS | (rdonly ? MDB_RDONLY : (MDB_NOSYNC | MDB_NOMETASYNC));
    if (!rdonly && (rc = reserve_lock_file(dir)) != 0) {
        snprintf(err, errlen, "LMDB %s: reader table: %s", dir, strerror(rc));
        mdb_env_close(out->env);
        out->env = NULL;
        return -1;
    }
    if ((rc = mdb_env_open(out->env, dir, flags, 0644)) != 0)
        goto fail;
    /* before any page is touched through the map: a short file would SIGBUS */
    if (rdonly && check_not_truncated(out, err, errlen) < 0) {
        mdb_env_close(out->env);
        out->env = NULL;
        return -1;
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(out->env, NULL, rdonly ? MDB_RDONLY : 0, &txn)) != 0)
        goto fail;
    for (int i = 0; i < MSN_DBI_COUNT; i++) {
        unsigned f = rdonly ? 0 : MDB_CREATE;
        if (i == MSN_DBI_FX || i == MSN_DBI_CHL)
            f |= MDB_DUPSORT | MDB_DUPFIXED;
        rc = mdb_dbi_open(txn, dbi_names[i], f, &out->dbi[i]);
        /* a snapshot of another format may lack a database: open_usable refuses it
           before anything is looked up in it */
        if (rc == MDB_NOTFOUND && rdonly) {
            out->dbi[i] = 0;
            continue;
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            goto fail;
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "LMDB %s: %s", dir, mdb_strerror(rc));
    if (out->env)
        mdb_env_close(out->env);
    out->env = NULL;
    return -1;
}

int msn_snap_create(const char *state_dir, uint64_t gen, msn_snap_t *out, char *err, size_t errlen)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/snap-%012llu", state_dir, (unsigned long long)gen);
    rm_rf(dir);
    if (mkdir(dir, 0755) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return open_env(dir, 0, out, err, errlen);
}

/* Resolves state_dir/current into dir. Returns 0, 1 when absent, -1 on error (err set
   unless NULL). */
static int current_dir(const char *state_dir, char *dir, size_t n, char *err, size_t errlen)
{
    char link[4096], target[1024];
    snprintf(link, sizeof(link), "%s/current", state_dir);
    ssize_t len = readlink(link, target, sizeof(target) - 1);
    if (len < 0) {
        if (errno == ENOENT)
            return 1;
        if (err != NULL)
            snprintf(err, errlen, "%s: %s", link, strerror(errno));
        return -1;
    }
    target[len] = '\0';
    if (strchr(target, '/') != NULL || strncmp(target, "snap-", 5) != 0) {
        if (err != NULL)
            snprintf(err, errlen, "%s points outside the state directory (%s)", link, target);
        return -1;
    }
    snprintf(dir, n, "%s/%s", state_dir, target);
    return 0;
}

/* A data file shorter than the pages the meta page claims would SIGBUS readers. */
static int check_not_truncated(msn_snap_t *s, char *err, size_t errlen)
{
    MDB_envinfo info;
    MDB_stat st;
    char path[4200];
    struct stat sb;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &st);
    snprintf(path, sizeof(path), "%s/data.mdb", s->dir);
    if (stat(path, &sb) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    uint64_t need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if ((uint64_t)sb.st_size < need) {
        snprintf(err, errlen, "snapshot %s is truncated (%lld of %llu bytes)", path, (long long)sb.st_size,
                 (unsigned long long)need);
        return -1;
    }
    return 0;
}

/* Opens the environment `current` points at and reads its meta record into m.
 * Returns 0, 1 when there is none, or -1 with err set. */
/* Opens directory dir (what `current` named) and reads its meta record. */
static int open_dir_meta(const char *dir, int rdonly, msn_snap_t *out, msn_snap_meta_t *m, char *err,
                         size_t errlen)
{
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &sb) < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (sb.st_size < 2 * 4096) {
        snprintf(err, errlen, "snapshot %s is truncated (%lld bytes)", path, (long long)sb.st_size);
        return -1;
    }
    if (open_env(dir, rdonly, out, err, errlen) < 0)
        return -1;
    MDB_txn *txn;
    if (mdb_txn_begin(out->env, NULL, MDB_RDONLY, &txn) != 0) {
        snprintf(err, errlen, "snapshot %s: cannot begin a read transaction", dir);
        goto fail;
    }
    int mrc = msn_snap_meta_get(txn, out, m);
    mdb_txn_abort(txn);
    if (mrc < 0) {
        snprintf(err, errlen, "snapshot %s has no valid meta record", dir);
        goto fail;
    }
    return 0;
fail:
    msn_snap_close(out);
    return -1;
}

static int open_current(const char *state_dir, int rdonly, msn_snap_t *out, msn_snap_meta_t *m, char *err,
                        size_t errlen)
{
    char dir[4096], now[4096];
    int rc = current_dir(state_dir, dir, sizeof(dir), err, errlen);
    for (int tries = 0; rc == 0; tries++) {
        rc = open_dir_meta(dir, rdonly, out, m, err, errlen);
        /* failed on an environment the master replaced (and removed) meanwhile: open the new
           one `current` names now */
        if (rc == 0 || tries == 2 || current_dir(state_dir, now, sizeof(now), NULL, 0) != 0 ||
            strcmp(now, dir) == 0)
            break;
        snprintf(dir, sizeof(dir), "%s", now);
        rc = 0;
    }
    return rc;
}

/* Opens `current` when it has this binary's format. */
static int open_usable(const char *state_dir, int rdonly, msn_snap_t *out, char *err, size_t errlen)
{
    msn_snap_meta_t m;
    int rc = open_current(state_dir, rdonly, out, &m, err, errlen);
    if (rc != 0)
        return rc;
    if (m.format != MSN_SNAP_FORMAT) {
        if (m.format == 0)
            snprintf(err, errlen, "snapshot %s has no format version (written by an older meshsnap); this binary "
                     "reads format %d", out->dir, MSN_SNAP_FORMAT);
        else
            snprintf(err, errlen, "snapshot %s was written in snapshot format %u; this binary reads format %d",
                     out->dir, (unsigned)m.format, MSN_SNAP_FORMAT);
        msn_snap_close(out);
        return MSN_SNAP_OTHER_FORMAT;
    }
    return 0;
}

int msn_snap_current_meta(const char *state_dir, msn_snap_meta_t *m, char *err, size_t errlen)
{
    msn_snap_t s;
    memset(m, 0, sizeof(*m));
    int rc = open_current(state_dir, 1, &s, m, err, errlen);
    if (rc == 0)
        msn_snap_close(&s);
    return rc;
}

int msn_snap_open_dir_ro(const char *dir, msn_snap_t *out, char *err, size_t errlen)
{
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &sb) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (sb.st_size < 2 * 4096) {
        snprintf(err, errlen, "snapshot %s is truncated (%lld bytes)", path, (long long)sb.st_size);
        return -1;
    }
    return open_env(dir, 1, out, err, errlen);
}

int msn_snap_open_current_rw(const char *state_dir, msn_snap_t *out, char *err, size_t errlen)
{
    return open_usable(state_dir, 0, out, err, errlen);
}

int msn_snap_open_current_ro(const char *state_dir, msn_snap_t *out, char *err, size_t errlen)
{
    return open_usable(state_dir, 1, out, err, errlen);
}

int msn_snap_make_current(const char *state_dir, const msn_snap_t *snap, char *err, size_t errlen)
{
    const char *base = strrchr(snap->dir, '/');
    base = base ? base + 1 : snap->dir;
    char tmp[4200], link[4200];
    snprintf(tmp, sizeof(tmp), "%s/current.tmp.%ld", state_dir, (long)getpid());
    snprintf(link, sizeof(link), "%s/current", state_dir);
    unlink(tmp);
    if (symlink(base, tmp) < 0 || rename(tmp, link) < 0) {
        snprintf(err, errlen, "cannot point %s at %s: %s", link, base, strerror(errno));
        unlink(tmp);
        return -1;
    }
    /* Old environments: readers that still map them keep working on the unlinked files. */
    DIR *d = opendir(state_dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "snap-", 5) != 0 || strcmp(e->d_name, base) == 0)
                continue;
            char p[4400];
            snprintf(p, sizeof(p), "%s/%s", state_dir, e->d_name);
            rm_rf(p);
        }
        closedir(d);
    }
    return 0;
}

int msn_snap_note(const msn_snap_t *s, int rc)
{
    if (rc == MSN_SNAPREC_ECHECKSUM && s->damage != NULL)
        (*s->damage)++;
    return rc;
}

int msn_snap_current_name(const char *state_dir, char *out, size_t n, char *err, size_t errlen)
{
    char dir[4096];
    int rc = current_dir(state_dir, dir, sizeof(dir), err, errlen);
    if (rc != 0)
        return rc;
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    size_t len = strlen(base);
    if (len >= n) {
        snprintf(err, errlen, "snapshot name too long");
        return -1;
    }
    memcpy(out, base, len + 1);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int msn_snap_set_aside(const char *state_dir, const char *dir_name, char *new_name, size_t n, char *err,
                       size_t errlen)
{
    char from[4400], to[4400], stamp[32], cur[256], e[256];
    if (strncmp(dir_name, "snap-", 5) != 0 || strchr(dir_name, '/') != NULL) {
        snprintf(err, errlen, "%s is not a snapshot directory name", dir_name);
        return -1;
    }
    snprintf(from, sizeof(from), "%s/%s", state_dir, dir_name);
    struct stat sb;
    if (stat(from, &sb) < 0)
        return errno == ENOENT ? 1 : (snprintf(err, errlen, "%s: %s", from, strerror(errno)), -1);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(new_name, n, "damaged-%s-%s", stamp, dir_name);
    snprintf(to, sizeof(to), "%s/%s", state_dir, new_name);
    /* `current` first: from here on no reader opens it */
    if (msn_snap_current_name(state_dir, cur, sizeof(cur), e, sizeof(e)) == 0 && strcmp(cur, dir_name) == 0) {
        char link[4200];
        snprintf(link, sizeof(link), "%s/current", state_dir);
        unlink(link);
    }
    if (rename(from, to) < 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", from, new_name, strerror(errno));
        return -1;
    }
    /* at most MSN_SNAP_DAMAGED_KEEP of them: the oldest go (their names sort by time) */
    DIR *d = opendir(state_dir);
    if (d == NULL)
        return 0;
    char *names[256];
    int k = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && k < 256)
        if (strncmp(de->d_name, "damaged-", 8) == 0)
            names[k++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)k, sizeof(names[0]), cmp_names);
    for (int i = 0; i < k; i++) {
        if (names[i] != NULL && i < k - MSN_SNAP_DAMAGED_KEEP) {
            char p[4400];
            snprintf(p, sizeof(p), "%s/%s", state_dir, names[i]);
            rm_rf(p);
        }
        free(names[i]);
    }
    return 0;
}

uint64_t msn_snap_highest_gen(const char *state_dir)
{
    uint64_t best = 0;
    DIR *d = opendir(state_dir);
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *p = strstr(de->d_name, "snap-");
        if (p == NULL || (p != de->d_name && strncmp(de->d_name, "damaged-", 8) != 0))
            continue;
        char *end;
        unsigned long long g = strtoull(p + 5, &end, 10);
        if (end != p + 5 && *end == '\0' && g > best)
            best = g;
    }
    closedir(d);
    return best;
}

void msn_snap_close(msn_snap_t *s)
{
    if (s->env != NULL)
        mdb_env_close(s->env);
    s->env = NULL;
}

void msn_snap_meta_put(MDB_txn *txn, const msn_snap_t *s, const msn_snap_meta_t *m, int *rc)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_meta_encode(&sb, m);
    MDB_val k = {sizeof(MSN_SNAP_META_KEY) - 1, MSN_SNAP_META_KEY}, v = {sb.size, sb.data};
    *rc = mdb_put(txn, s->dbi[MSN_DBI_META], &k, &v, 0);
    msgpack_sbuffer_destroy(&sb);
}

int msn_snap_meta_get(MDB_txn *txn, const msn_snap_t *s, msn_snap_meta_t *m)
{
    MDB_val k = {sizeof(MSN_SNAP_META_KEY) - 1, MSN_SNAP_META_KEY}, v;
    memset(m, 0, sizeof(*m));
    if (mdb_get(txn, s->dbi[MSN_DBI_META], &k, &v) != 0 || msn_snaprec_meta_decode(v.mv_data, v.mv_size, m) != 0)
        return -1;
    return m->format == MSN_SNAP_FORMAT ? 0 : MSN_SNAP_OTHER_FORMAT;
}

static int put_doc(MDB_txn *txn, const msn_snap_t *s, const char *name, const msn_doc_t *d)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msn_snaprec_doc_encode(&sb, d);
    MDB_val k = {strlen(name), (void *)name}, v = {sb.size, sb.data};
    int rc = mdb_put(txn, s->dbi[MSN_DBI_DOC], &k, &v, 0);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int msn_snap_doc_put_full(MDB_txn *txn, const msn_snap_t *s, const char *name, const void *body, size_t len,
                          const void *gzin, size_t gzin_len, int compress, uint64_t gen, int64_t published_at_ms,
                          int64_t expires_at_ms)
{
    msn_buf_t gz = MSN_BUF_INIT;
    if (gzin_len > 0)
        msn_buf_append(&gz, gzin, gzin_len);
    else if (compress && len >= 1024 && msn_gzip(body, len, 6, &gz) < 0) {
        msn_buf_free(&gz);
        return -1;
    }
    msn_doc_t d;
    memset(&d, 0, sizeof(d));
    d.body = body;
    d.len = len;
    d.gz = gz.len ? gz.data : NULL;
    d.gz_len = gz.len;
    msn_etag_of(body, len, d.etag);
    d.gen = gen;
    d.published_at_ms = published_at_ms;
    d.expires_at_ms = expires_at_ms;
    int rc = put_doc(txn, s, name, &d);
    msn_buf_free(&gz);
    return rc;
}

int msn_snap_doc_get_full(MDB_txn *txn, const msn_snap_t *s, const char *name, msn_doc_t *d)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    memset(d, 0, sizeof(*d));
    int rc = mdb_get(txn, s->dbi[MSN_DBI_DOC], &k, &v);
    if (rc != 0)
        return rc;
    return msn_snap_note(s, msn_snaprec_doc_decode(v.mv_data, v.mv_size, d));
}

int msn_snap_doc_del(MDB_txn *txn, const msn_snap_t *s, const char *name)
{
    MDB_val k = {strlen(name), (void *)name};
    int rc = mdb_del(txn, s->dbi[MSN_DBI_DOC], &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int msn_snap_doc_put(MDB_txn *txn, const msn_snap_t *s, const char *name, const void *body, size_t len,
                     uint64_t gen, int64_t published_at_ms)
{
    return msn_snap_doc_put_full(txn, s, name, body, len, NULL, 0, 0, gen, published_at_ms, 0);
}

int msn_snap_doc_get(MDB_txn *txn, const msn_snap_t *s, const char *name, const void **body, size_t *len,
                     uint64_t *gen, int64_t *published_at_ms)
{
    msn_doc_t d;
    int rc = msn_snap_doc_get_full(txn, s, name, &d);
    if (rc != 0)
        return rc;
    *body = d.body;
    *len = d.len;
    if (gen)
        *gen = d.gen;
    if (published_at_ms)
        *published_at_ms = d.published_at_ms;
    return 0;
}

/* ---- record lookups ---- */

static int get_val(MDB_txn *txn, const msn_snap_t *s, int dbi, const msn_snap_key_t *key, MDB_val *v)
{
    MDB_val k = msn_snap_key_val(key);
    return mdb_get(txn, s->dbi[dbi], &k, v);
}

int msn_snap_tx_get(MDB_txn *txn, const msn_snap_t *s, uint64_t id, msn_snaprec_tx_t *out)
{
    msn_snap_key_t k;
    MDB_val v;
    msn_snap_tx_key(id, &k);
    int rc = get_val(txn, s, MSN_DBI_TX, &k, &v);
    return rc != 0 ? rc : msn_snap_note(s, msn_snaprec_tx_decode(v.mv_data, v.mv_size, out));
}

int msn_snap_obs_get(MDB_txn *txn, const msn_snap_t *s, uint64_t tx_id, uint64_t obs_id, msn_snaprec_obs_t *out)
{
    msn_snap_key_t k;
    MDB_val v;
    msn_snap_obs_key(tx_id, obs_id, &k);
    int rc = get_val(txn, s, MSN_DBI_OBS, &k, &v);
    return rc != 0 ? rc : msn_snap_note(s, msn_snaprec_obs_decode(v.mv_data, v.mv_size, out));
}

int msn_snap_orow_get(MDB_txn *txn, const msn_snap_t *s, int64_t rowid, msn_snaprec_orow_t *out)
{
    msn_snap_key_t k;
    MDB_val v;
    msn_snap_orow_key(rowid, &k);
    int rc = get_val(txn, s, MSN_DBI_OROW, &k, &v);
    return rc != 0 ? rc : msn_snap_note(s, msn_snaprec_orow_decode(v.mv_data, v.mv_size, out));
}

int msn_snap_node_get(MDB_txn *txn, const msn_snap_t *s, const char *pubkey, size_t len, msn_snaprec_node_t *out)
{
    msn_snap_key_t k;
    MDB_val v;
    if (msn_snap_node_key(pubkey, len, &k) < 0)
        return MDB_NOTFOUND;
    int rc = get_val(txn, s, MSN_DBI_NODE, &k, &v);
    return rc != 0 ? rc : msn_snap_note(s, msn_snaprec_node_decode(v.mv_data, v.mv_size, out));
}

int msn_snap_hash_get(MDB_txn *txn, const msn_snap_t *s, const char *hash, size_t len, uint64_t *tx_id)
{
    msn_snap_key_t k;
    MDB_val v;
    if (msn_snap_hash_key(hash, len, &k) < 0)
        return MDB_NOTFOUND;
    int rc = get_val(txn, s, MSN_DBI_HASH, &k, &v);
    return rc != 0 ? rc : msn_snap_note(s, msn_snaprec_id_decode(v.mv_data, v.mv_size, k.b, k.len, tx_id));
}

int msn_snap_oid_get(MDB_txn *txn, const msn_snap_t *s, uint64_t obs_id, uint64_t *tx_id)
{
    msn_snap_key_t k;
    MDB_val v;
    msn_snap_oid_key(obs_id, &k);
    int rc = get_val(txn, s, MSN_DBI_OID, &k, &v);
    return rc != 0 ? rc : msn_snap_note(s, msn_snaprec_id_decode(v.mv_data, v.mv_size, k.b, k.len, tx_id));
}

/* The address range [*lo, *hi) where this process maps the file with this device and inode
   (the first such mapping in /proc/self/maps). 0, or -1 when there is none. */
static int find_mapping(dev_t dev, ino_t ino, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    char line[4352];
    int rc = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long a, b, off, inode;
        unsigned maj, min;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &a, &b, perms, &off, &maj, &min, &inode) != 7)
            continue;
        if (inode == (unsigned long)ino && makedev(maj, min) == dev && off == 0) {
            *lo = a;
            *hi = b;
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

void msn_snap_drop_resident(MDB_env *env)
{
    if (env == NULL)
        return;
    MDB_envinfo info;
    MDB_stat st;
    mdb_filehandle_t fd;
    struct stat sb;
    uintptr_t lo, hi;
    if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &st) != 0 || mdb_env_get_fd(env, &fd) != 0 ||
        fstat(fd, &sb) != 0 || find_mapping(sb.st_dev, sb.st_ino, &lo, &hi) < 0)
        return;
    size_t used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
    if (used > hi - lo)
        used = hi - lo;
    (void)madvise((void *)lo, used, MADV_DONTNEED);
}

int msn_snap_reopen(msn_snap_t *s, char *err, size_t errlen)
{
    char dir[sizeof(s->dir)];
    uint32_t *damage = s->damage;
    memcpy(dir, s->dir, sizeof(dir));
    msn_snap_close(s);
    int rc = open_env(dir, 0, s, err, errlen);
    s->damage = damage;
    if (rc < 0)
        s->env = NULL;
    return rc < 0 ? -1 : 0;
}
