/* test_sqlw.c: the writer discipline's batches and own checkpoints (shm/sqlw.c). */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "shm/sqlw.h"
#include "testlib.h"

static sqlite3 *open_wal_db(const char *tag)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/w.db", msn_test_tmpdir(tag));
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    msn_test_exec(db, "PRAGMA journal_mode=WAL; PRAGMA page_size=4096; CREATE TABLE t(b BLOB)");
    return db;
}

/* One transaction through w writing n rows of 3000 bytes (about n pages). */
static void write_rows(msn_sqlw_t *w, int n)
{
    char err[256];
    CHECK_EQ_INT(msn_sqlw_begin(w, err, sizeof(err)), 0);
    for (int i = 0; i < n; i++)
        msn_test_exec(w->db, "INSERT INTO t VALUES (zeroblob(3000))");
    msn_sqlw_add(w, n);
    CHECK_EQ_INT(msn_sqlw_commit(w, err, sizeof(err)), 0);
}

static void test_batch_due(void)
{
    sqlite3 *db = open_wal_db("sqlw-due");
    msn_sqlw_opts_t o;
    msn_sqlw_defaults(&o);
    o.batch_max = 3;
    msn_sqlw_t w;
    msn_sqlw_init(&w, db, &o);
    char err[256];
    CHECK_EQ_INT(msn_sqlw_due(&w), 0); /* nothing open */
    CHECK_EQ_INT(msn_sqlw_begin(&w, err, sizeof(err)), 0);
    msn_sqlw_add(&w, 2);
    CHECK_EQ_INT(msn_sqlw_due(&w), 0);
    msn_sqlw_add(&w, 1);
    CHECK_EQ_INT(msn_sqlw_due(&w), 1);
    CHECK_EQ_INT(msn_sqlw_commit(&w, err, sizeof(err)), 0);
    CHECK_EQ_INT(w.commits, 1);
    CHECK_EQ_INT(w.items_committed, 3);
    CHECK(msn_sqlw_quantile_us(&w, 0.99) > 0);
    sqlite3_close(db);
}

static void test_own_checkpoints(void)
{
    sqlite3 *db = open_wal_db("sqlw-ckpt");
    msn_sqlw_opts_t o;
    msn_sqlw_defaults(&o);
    msn_sqlw_t w;
    msn_sqlw_init(&w, db, &o);
    CHECK_EQ_INT(msn_sqlw_checkpoint(&w), 0); /* not asked for: nothing to do */
    msn_sqlw_own_checkpoints(&w);
    write_rows(&w, 300);
    CHECK(w.wal_pages > 0 && w.wal_pages < MSN_SQLW_CHECKPOINT_PAGES);
    CHECK_EQ_INT(msn_sqlw_checkpoint(&w), 0); /* not due yet */
    write_rows(&w, 1200);
    /* the COMMIT that took the WAL past the threshold did not checkpoint (SQLite's own
       would have, and the WAL would be reset): the pages are still counted */
    CHECK(w.wal_pages >= MSN_SQLW_CHECKPOINT_PAGES);
    CHECK_EQ_INT(w.checkpoints, 0);
    CHECK_EQ_INT(msn_sqlw_checkpoint(&w), 1);
    CHECK_EQ_INT(w.checkpoints, 1);
    CHECK_EQ_INT(w.wal_pages, 0);
    CHECK_EQ_INT(msn_sqlw_checkpoint(&w), 0);
    /* the next commit starts the WAL over (everything was copied back) */
    write_rows(&w, 10);
    CHECK(w.wal_pages > 0 && w.wal_pages < 100);
    /* released: SQLite's automatic checkpoint is back, the hook no longer counts */
    msn_sqlw_release(&w);
    int before = w.wal_pages;
    write_rows(&w, 1200);
    CHECK_EQ_INT(w.wal_pages, before);
    CHECK_EQ_INT(msn_sqlw_checkpoint(&w), 0);
    sqlite3_close(db);
}

int main(void)
{
    MSN_RUN(test_batch_due);
    MSN_RUN(test_own_checkpoints);
    return msn_test_done();
}
