/*
 * supervisor.h: the master process: binds the listening sockets, starts the publisher
 * thread, and forks+execs the workers and the backfiller, each as `meshsnapd --role ...`
 * so that no LMDB environment or SQLite connection crosses a fork. It respawns a worker
 * that dies (backing off when one crash-loops), restarts a failed backfiller with
 * backoff, and stops everything on SIGTERM/SIGINT within the shutdown timeout. It waits
 * only for the pids it started, each by its pid (child.h): the analytics computing
 * process is the publisher thread's, which reaps it itself.
 *
 * Signals are blocked in every thread of the master and taken synchronously with
 * sigtimedwait() in the supervisor loop.
 */
#ifndef MSN_SUPERVISOR_H
#define MSN_SUPERVISOR_H

#include "shm/config.h"

/** Runs the master until it is told to stop. argv is the daemon's own command line
 *  (passed on to the children after their --role arguments). Returns the exit status. */
int msn_master_main(msn_config_t *cfg, int argc, char **argv);

#endif
