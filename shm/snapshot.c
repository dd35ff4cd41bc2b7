/* snapshot.c: see snapshot.h for the on-disk layout. */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etag.h"
#include "mpk.h"

static const char *const dbi_names[MSN_DBI_COUNT] = {"meta", "doc", "tx", "obs", "oid",
                                                     "hash", "fx", "ft", "node", "orow", "fl"};

void msn_be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t msn_be64_get(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

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
        if (i == MSN_DBI_FX)
            f |= MDB_DUPSORT | MDB_DUPFIXED;
        if ((rc = mdb_dbi_open(txn, dbi_names[i], f, &out->dbi[i])) != 0) {
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

/* Resolves state_dir/current into dir. Returns 0, 1 when absent, -1 on error. */
static int current_dir(const char *state_dir, char *dir, size_t n, char *err, size_t errlen)
{
    char link[4096], target[1024];
    snprintf(link, sizeof(link), "%s/current", state_dir);
    ssize_t len = readlink(link, target, sizeof(target) - 1);
    if (len < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", link, strerror(errno));
        return -1;
    }
    target[len] = '\0';
    if (strchr(target, '/') != NULL || strncmp(target, "snap-", 5) != 0) {
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

static int open_current(const char *state_dir, int rdonly, msn_snap_t *out, char *err, size_t errlen)
{
    char dir[4096];
    int rc = current_dir(state_dir, dir, sizeof(dir), err, errlen);
    if (rc != 0)
        return rc;
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
    msn_snap_meta_t m;
    int mrc = msn_snap_meta_get(txn, out, &m);
    mdb_txn_abort(txn);
    if (mrc != 0) {
        snprintf(err, errlen, "snapshot %s has no valid meta record", dir);
        goto fail;
    }
    return 0;
fail:
    msn_snap_close(out);
    return -1;
}

int msn_snap_open_current_rw(const char *state_dir, msn_snap_t *out, char *err, size_t errlen)
{
    return open_current(state_dir, 0, out, err, errlen);
}

int msn_snap_open_current_ro(const char *state_dir, msn_snap_t *out, char *err, size_t errlen)
{
    return open_current(state_dir, 1, out, err, errlen);
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

void msn_snap_close(msn_snap_t *s)
{
    if (s->env != NULL)
        mdb_env_close(s->env);
    s->env = NULL;
}

void msn_snap_meta_put(MDB_txn *txn, const msn_snap_t *s, const msn_snap_meta_t *m, int *rc)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
    msn_mpk_kv_u64(&pk, "gen", m->gen);
    msn_mpk_kv_i64(&pk, "published_at", m->published_at_ms);
    msn_mpk_kv_i64(&pk, "master_start", m->master_start_ms);
    msn_mpk_kv_i64(&pk, "max_tx_id", m->max_tx_id);
    msn_mpk_kv_i64(&pk, "max_obs_id", m->max_obs_id);
    msn_mpk_kv_i64(&pk, "tx_count", m->tx_count);
    msn_mpk_kv_i64(&pk, "obs_count", m->obs_count);
    msn_mpk_kv_i64(&pk, "legacy_schema", m->legacy_schema);
    msn_mpk_str(&pk, "source_db");
    msn_mpk_str(&pk, m->source_db);
    MDB_val k = {4, "meta"}, v = {sb.size, sb.data};
    *rc = mdb_put(txn, s->dbi[MSN_DBI_META], &k, &v, 0);
    msgpack_sbuffer_destroy(&sb);
}

int msn_snap_meta_get(MDB_txn *txn, const msn_snap_t *s, msn_snap_meta_t *m)
{
    MDB_val k = {4, "meta"}, v;
    memset(m, 0, sizeof(*m));
    if (mdb_get(txn, s->dbi[MSN_DBI_META], &k, &v) != 0)
        return -1;
    msn_mpk_reader_t r;
    msn_mpk_reader_init(&r, v.mv_data, v.mv_size);
    uint32_t n;
    if (msn_mpk_read_map(&r, &n) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *key;
        uint32_t klen;
        if (msn_mpk_read_str(&r, &key, &klen) < 0)
            return -1;
#define KEY(lit) (klen == sizeof(lit) - 1 && memcmp(key, lit, klen) == 0)
        int64_t iv = 0;
        if (KEY("source_db")) {
            const char *sv;
            uint32_t sl;
            if (msn_mpk_read_str(&r, &sv, &sl) < 0)
                return -1;
            snprintf(m->source_db, sizeof(m->source_db), "%.*s", (int)sl, sv);
            continue;
        }
        if (msn_mpk_read_int(&r, &iv) < 0)
            return -1;
        if (KEY("gen"))
            m->gen = (uint64_t)iv;
        else if (KEY("published_at"))
            m->published_at_ms = iv;
        else if (KEY("master_start"))
            m->master_start_ms = iv;
        else if (KEY("max_tx_id"))
            m->max_tx_id = iv;
        else if (KEY("max_obs_id"))
            m->max_obs_id = iv;
        else if (KEY("tx_count"))
            m->tx_count = iv;
        else if (KEY("obs_count"))
            m->obs_count = iv;
        else if (KEY("legacy_schema"))
            m->legacy_schema = (int)iv;
#undef KEY
    }
    return m->gen > 0 ? 0 : -1;
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
    char etag[24];
    msn_etag_of(body, len, etag);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, body, len);
    msgpack_pack_uint64(&pk, gen);
    msgpack_pack_int64(&pk, published_at_ms);
    if (gz.len) {
        msgpack_pack_bin(&pk, gz.len);
        msgpack_pack_bin_body(&pk, gz.data, gz.len);
    } else {
        msgpack_pack_nil(&pk);
    }
    msn_mpk_str(&pk, etag);
    msgpack_pack_int64(&pk, expires_at_ms);
    MDB_val k = {strlen(name), (void *)name}, v = {sb.size, sb.data};
    int rc = mdb_put(txn, s->dbi[MSN_DBI_DOC], &k, &v, 0);
    msgpack_sbuffer_destroy(&sb);
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
    msn_mpk_reader_t r;
    msn_mpk_reader_init(&r, v.mv_data, v.mv_size);
    uint32_t n, bl;
    int64_t g, p;
    const char *body;
    if (msn_mpk_read_array(&r, &n) < 0 || n < 3 || msn_mpk_read_bin(&r, &body, &bl) < 0 ||
        msn_mpk_read_int(&r, &g) < 0 || msn_mpk_read_int(&r, &p) < 0)
        return -1;
    d->body = body;
    d->len = bl;
    d->gen = (uint64_t)g;
    d->published_at_ms = p;
    if (n >= 6) {
        const char *gz, *et;
        uint32_t gl, el;
        if (msn_mpk_peek(&r) == MSN_MPK_NIL)
            msn_mpk_read_nil(&r);
        else if (msn_mpk_read_bin(&r, &gz, &gl) == 0) {
            d->gz = gz;
            d->gz_len = gl;
        } else
            return -1;
        if (msn_mpk_read_str(&r, &et, &el) < 0 || el >= sizeof(d->etag) || msn_mpk_read_int(&r, &d->expires_at_ms) < 0)
            return -1;
        memcpy(d->etag, et, el);
        d->etag[el] = '\0';
    } else {
        msn_etag_of(body, bl, d->etag);
    }
    return 0;
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
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, body, len);
    msgpack_pack_uint64(&pk, gen);
    msgpack_pack_int64(&pk, published_at_ms);
    MDB_val k = {strlen(name), (void *)name}, v = {sb.size, sb.data};
    int rc = mdb_put(txn, s->dbi[MSN_DBI_DOC], &k, &v, 0);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int msn_snap_doc_get(MDB_txn *txn, const msn_snap_t *s, const char *name, const void **body, size_t *len,
                     uint64_t *gen, int64_t *published_at_ms)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn, s->dbi[MSN_DBI_DOC], &k, &v);
    if (rc != 0)
        return rc;
    msn_mpk_reader_t r;
    msn_mpk_reader_init(&r, v.mv_data, v.mv_size);
    uint32_t n, bl;
    int64_t g, p;
    if (msn_mpk_read_array(&r, &n) < 0 || n < 3 || msn_mpk_read_bin(&r, (const char **)body, &bl) < 0 ||
        msn_mpk_read_int(&r, &g) < 0 || msn_mpk_read_int(&r, &p) < 0)
        return -1;
    *len = bl;
    if (gen)
        *gen = (uint64_t)g;
    if (published_at_ms)
        *published_at_ms = p;
    return 0;
}
