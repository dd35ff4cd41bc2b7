/*
 * worker.h: an HTTP worker process. It serves the API from the current LMDB snapshot,
 * read-only: one short read transaction per request, no SQLite, no computation beyond
 * assembling pre-rendered records, no lock shared with the master.
 */
#ifndef MSN_WORKER_H
#define MSN_WORKER_H

#include "shm/config.h"

/** Runs worker `slot` on the inherited listening descriptors listed in listen_fds
 *  ("3,4"). Returns the process exit status (0 after a clean stop on SIGTERM). */
int msn_worker_main(const msn_config_t *cfg, int slot, const char *listen_fds);

#endif
