/* testlib.c: see testlib.h. */
#include "testlib.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/schema.h"

int msn_test_failures;
int msn_tests_passed, msn_tests_failed, msn_tests_skipped;
static int skipped_now;

void msn_test_run(const char *name, void (*fn)(void))
{
    msn_test_failures = 0;
    skipped_now = 0;
    fn();
    if (skipped_now) {
        msn_tests_skipped++;
        fprintf(stderr, "SKIP %s\n", name);
    } else if (msn_test_failures) {
        msn_tests_failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        msn_tests_passed++;
        fprintf(stderr, "ok   %s\n", name);
    }
}

void msn_test_skip(const char *why)
{
    skipped_now = 1;
    fprintf(stderr, "skipped: %s\n", why);
}

int msn_test_done(void)
{
    printf("%d passed, %d failed, %d skipped\n", msn_tests_passed, msn_tests_failed, msn_tests_skipped);
    if (msn_tests_failed)
        return 1;
    if (msn_tests_passed == 0 && msn_tests_skipped > 0)
        return 77;
    return 0;
}

const char *msn_test_tmpdir(const char *tag)
{
    static char path[512];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/msn-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (mkdtemp(path) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    return path;
}

const char *msn_test_shared_dir(void)
{
    static char path[512];
    const char *e = getenv("MESHSNAP_SHARED");
    struct stat st;
    if (e && *e && stat(e, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(path, sizeof(path), "%s", e);
        return path;
    }
    return NULL;
}

const char *msn_test_fixture_db(void)
{
    static char path[600];
    const char *shared = msn_test_shared_dir();
    if (shared == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/fixtures/corescope-e2e.db", shared);
    return access(path, R_OK) == 0 ? path : NULL;
}

int msn_test_copy_file(const char *src, const char *dst)
{
    char buf[65536];
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t n;
    int rc = (in < 0 || out < 0) ? -1 : 0;
    while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

sqlite3 *msn_test_schema_db(void)
{
    sqlite3 *db = NULL;
    char err[512];
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || msn_schema_create_current(db, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot make an in-memory database in the current schema: %s\n",
                db ? sqlite3_errmsg(db) : "out of memory");
        msn_test_failures++;
    }
    return db;
}

int msn_test_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    fprintf(stderr, "SQL failed: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    msn_test_failures++;
    return -1;
}

int64_t msn_test_query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare %s: %s\n", sql, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

const char *msn_test_query_text(sqlite3 *db, const char *sql)
{
    static char buf[8][512];
    static unsigned k;
    char *out = buf[k++ % 8];
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, 512, "(prepare failed: %s)", sqlite3_errmsg(db));
        return out;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, 512, "%s", t ? (const char *)t : "(null)");
    }
    sqlite3_finalize(st);
    return out;
}
