/*
 * test_snapshot_memory.c: the writer's memory around a snapshot (shm/snapshot.h).
 *
 *   - msn_snap_drop_resident unmaps the pages a process read through the environment's
 *     map (its resident share of the data file falls to nothing) and the data reads back
 *     unchanged afterwards.
 *   - msn_snap_reopen closes and reopens the environment read-write: what was committed
 *     is there, the damage counter pointer is kept, and writes go on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shm/snapshot.h"
#include "testlib.h"

/* Resident kB of this process's mappings of the file at path (from /proc/self/smaps). */
static long resident_kb(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return -1;
    char line[4608];
    long total = 0;
    int in = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long a, b, off, inode;
        unsigned maj, min;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &a, &b, perms, &off, &maj, &min, &inode) == 7) {
            in = inode == (unsigned long)sb.st_ino;
            continue;
        }
        long kb;
        if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
            total += kb;
    }
    fclose(f);
    return total;
}

/* Writes n documents of 3000 bytes ('a' + i % 26) into w and commits. */
static void fill(msn_snap_t *w, int n)
{
    MDB_txn *txn;
    CHECK_EQ_INT(mdb_txn_begin(w->env, NULL, 0, &txn), 0);
    char body[3000];
    for (int i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%05d", i);
        memset(body, 'a' + i % 26, sizeof(body));
        CHECK_EQ_INT(msn_snap_doc_put(txn, w, k, body, sizeof(body), 1, 1), 0);
    }
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
}

/* Reads every document back through the map; returns how many had the expected body. */
static int read_all(msn_snap_t *w, int n)
{
    MDB_txn *txn;
    if (mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    int good = 0;
    for (int i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%05d", i);
        const void *body;
        size_t len;
        uint64_t gen;
        int64_t at;
        if (msn_snap_doc_get(txn, w, k, &body, &len, &gen, &at) == 0 && len == 3000 &&
            ((const char *)body)[0] == 'a' + i % 26 && ((const char *)body)[2999] == 'a' + i % 26)
            good++;
    }
    mdb_txn_abort(txn);
    return good;
}

static void test_drop_resident(void)
{
    const char *dir = msn_test_tmpdir("snapmem");
    char err[512], path[4200];
    msn_snap_t w;
    CHECK_EQ_INT(msn_snap_create(dir, 1, &w, err, sizeof(err)), 0);
    fill(&w, 2000);
    snprintf(path, sizeof(path), "%s/data.mdb", w.dir);
    CHECK_EQ_INT(read_all(&w, 2000), 2000);
    long before = resident_kb(path);
    CHECK(before >= 2000 * 3); /* every document's pages were read through the map */
    msn_snap_drop_resident(w.env);
    long after = resident_kb(path);
    CHECK(after >= 0 && after < 64);
    CHECK_EQ_INT(read_all(&w, 2000), 2000); /* faulted in again, unchanged */
    msn_snap_drop_resident(NULL);           /* nothing to do */
    msn_snap_close(&w);
}

static void test_reopen(void)
{
    const char *dir = msn_test_tmpdir("snapreopen");
    char err[512];
    msn_snap_t w;
    uint32_t damage = 0;
    CHECK_EQ_INT(msn_snap_create(dir, 1, &w, err, sizeof(err)), 0);
    w.damage = &damage;
    fill(&w, 300);
    CHECK_EQ_INT(msn_snap_reopen(&w, err, sizeof(err)), 0);
    CHECK(w.env != NULL);
    CHECK(w.damage == &damage);
    CHECK(strstr(w.dir, "snap-000000000001") != NULL);
    CHECK_EQ_INT(read_all(&w, 300), 300);
    fill(&w, 400); /* still writable */
    CHECK_EQ_INT(read_all(&w, 400), 400);
    msn_snap_close(&w);

    /* a directory that is gone: an error, and no environment */
    msn_snap_t g;
    CHECK_EQ_INT(msn_snap_create(dir, 2, &g, err, sizeof(err)), 0);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.dir);
    CHECK_EQ_INT(system(cmd), 0);
    err[0] = '\0';
    CHECK_EQ_INT(msn_snap_reopen(&g, err, sizeof(err)), -1);
    CHECK(g.env == NULL);
    CHECK(err[0] != '\0');
}

int main(void)
{
    MSN_RUN(test_drop_resident);
    MSN_RUN(test_reopen);
    return msn_test_done();
}
