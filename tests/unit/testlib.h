/*
 * testlib.h: the tiny assertion library of the unit tests.
 *
 * A test executable defines test functions and calls MSN_RUN(fn) for each from main();
 * msn_test_done() prints "N passed, N failed" and returns the exit status (77 = skipped).
 */
#ifndef MSN_TESTLIB_H
#define MSN_TESTLIB_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int msn_test_failures;  /* failures in the current test */
extern int msn_tests_passed, msn_tests_failed, msn_tests_skipped;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                                   \
    do {                                                                                                     \
        long long _a = (long long)(a), _b = (long long)(b);                                                  \
        if (_a != _b) {                                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b, _a,  \
                    _b);                                                                                     \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)
#define CHECK_EQ_STR(a, b)                                                                                   \
    do {                                                                                                     \
        const char *_a = (a), *_b = (b);                                                                     \
        if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) {                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__, __LINE__, #a, #b, \
                    _a ? _a : "(null)", _b ? _b : "(null)");                                                 \
            msn_test_failures++;                                                                             \
        }                                                                                                    \
    } while (0)

/** Runs one test function and records its result. */
#define MSN_RUN(fn) msn_test_run(#fn, fn)
void msn_test_run(const char *name, void (*fn)(void));
/** Marks the running test as skipped, with a reason printed. */
void msn_test_skip(const char *why);
/** Prints the summary line; returns 0 when all passed, 1 otherwise, 77 when all were skipped. */
int msn_test_done(void);
/** Makes a fresh temporary directory (under $TMPDIR or /tmp); returns a static path. */
const char *msn_test_tmpdir(const char *tag);
/** The ../shared directory when it exists, else NULL. */
const char *msn_test_shared_dir(void);
/** The CoreScope e2e fixture database (read-only) when it exists, else NULL. */
const char *msn_test_fixture_db(void);
/** Copies file src to dst (mode 0644). Returns 0 or -1. */
int msn_test_copy_file(const char *src, const char *dst);
/** A new in-memory database in CoreScope's current schema (shm/schema.h); the caller
 *  closes it. On failure the current test is failed, and the database may be unusable. */
sqlite3 *msn_test_schema_db(void);
/** Runs sql (one or more statements). Returns 0, or -1 after printing the statement and
 *  SQLite's message and counting a failure in the current test. */
int msn_test_exec(sqlite3 *db, const char *sql);
/** The first column of the first row of sql as an integer, or -1 (the error is printed). */
int64_t msn_test_query_int(sqlite3 *db, const char *sql);
/** The first column of the first row of sql as text: "(null)" for NULL, "" when there is no
 *  row, "(prepare failed: ...)" when sql does not compile. The text lives in one of eight
 *  static buffers of 512 bytes, reused in turn (so a few may be compared in one CHECK). */
const char *msn_test_query_text(sqlite3 *db, const char *sql);

#endif
