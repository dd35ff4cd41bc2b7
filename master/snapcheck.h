/*
 * snapcheck.h: the full check of an earlier run's snapshot at start, in a process of its
 * own (snapverify.h: reading a damaged map may kill the reader).
 *
 * When the master starts, the snapshot `current` points at was written by an earlier run
 * and the workers serve it until the master has published its own. The publisher thread
 * forks a child that reads every entry of it and checks its checksum, at low priority,
 * while the load goes on; the child reports on a pipe and exits 0 (intact), 1 (damaged,
 * with the reason), or dies of a signal (damaged: the map led it out of the file).
 *
 * The publisher thread owns the child (child.h): it alone waits for it, by its pid.
 */
#ifndef MSN_SNAPCHECK_H
#define MSN_SNAPCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;          /* 0 = none running */
    int fd;             /* the report pipe, -1 */
    char dir_name[64];  /* the environment checked ("snap-000000000007") */
    char report[512];   /* what the child wrote */
    size_t report_len;
    int64_t started_ms;
} msn_snapcheck_t;

/* The outcome of a check. */
enum { MSN_SNAPCHECK_RUNNING = 0, MSN_SNAPCHECK_INTACT, MSN_SNAPCHECK_DAMAGED, MSN_SNAPCHECK_UNKNOWN };

/** Initialises c (no check running). */
void msn_snapcheck_init(msn_snapcheck_t *c);
/** Starts checking state_dir/dir_name in a child. Publisher thread only. Returns 0, or
 *  -errno (nothing started). */
int msn_snapcheck_start(msn_snapcheck_t *c, const char *state_dir, const char *dir_name);
/** Reads what the child reported so far. Returns MSN_SNAPCHECK_RUNNING while it runs;
 *  else it has been reaped, and the outcome is returned with why (the child's report, or
 *  how it died) in out (n bytes). */
int msn_snapcheck_poll(msn_snapcheck_t *c, char *out, size_t n);
/** Kills (SIGKILL) and reaps a child still running; releases c. */
void msn_snapcheck_reset(msn_snapcheck_t *c);

#endif
