/*
 * snapverify.h: a full check of a snapshot environment: every entry of every named
 * database is read and checked against its checksum (snaprec.h), and every record is
 * decoded. LMDB's own errors on a damaged file (a page out of the file, a corrupted page)
 * count as damage too.
 *
 * The master runs it on an earlier run's snapshot at start, in a process of its own
 * (master/snapcheck.h): reading a damaged map can also kill the reader (SIGBUS or SIGSEGV
 * on a page pointer that leads out of the file), which then says as much. Any process
 * may call it; it keeps no state.
 */
#ifndef MSN_SNAPVERIFY_H
#define MSN_SNAPVERIFY_H

#include <stddef.h>
#include <stdint.h>

/** Checks the environment in directory dir (read-only). *entries receives the entries
 *  read (may be NULL). Returns 0 when every entry is intact; 1 when one is damaged (err
 *  names the database, the key and what is wrong); -1 when the environment cannot be
 *  opened at all (err says why: a missing or truncated file counts as damaged too). */
int msn_snap_verify_dir(const char *dir, int64_t *entries, char *err, size_t errlen);

#endif
