/*
 * child.h: waiting for the master's child processes, and describing how they ended.
 *
 * Every child of the master has exactly one owner, the thread that started it, and only
 * that owner waits for it, by its pid:
 *
 *   child                         owner (thread)               where
 *   workers, the backfiller       supervisor                   supervisor.c
 *   the analytics computing       publisher                    anrun.c
 *   process
 *   the snapshot check process    publisher                    snapcheck.c
 *
 * Nobody waits for "any child" (waitpid(-1)), so no owner takes another's exit status.
 * A child stays a zombie, keeping its pid, until its owner reaps it: an owner may
 * signal its child at any time before that, never after (the pid may then belong to
 * another process).
 */
#ifndef MSN_CHILD_H
#define MSN_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/** Reaps child `pid` when it has ended: waitpid(pid) (without WNOHANG when block is
 *  set), retried on EINTR. Only the child's owner calls it. Returns 1 with *status set
 *  (a wait status: WIFEXITED, WIFSIGNALED, ...) once reaped, 0 while it runs (only when
 *  block is 0), or -errno (-ECHILD: not a child of this process, or already reaped). */
int msn_child_reap(pid_t pid, int block, int *status);

/** Writes how a child ended, for the log: "exited with status N", "was killed by signal
 *  N (Name)", or "stopped (status N)", into out (n bytes, NUL-terminated). */
void msn_child_describe(int status, char *out, size_t n);

#endif
