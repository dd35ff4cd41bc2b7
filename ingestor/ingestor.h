/*
 * ingestor.h: the ingestor process (`meshsnapd --role ingestor`), started by the master
 * when [mqtt] names at least one broker. It subscribes to the brokers and writes every
 * packet and status message into the database as CoreScope's ingestor would (the shared
 * writer, shm/ingest/), acknowledging a message to its broker only once the batch that
 * holds it is committed. See ingestor.c for the design.
 */
#ifndef MSN_INGESTOR_H
#define MSN_INGESTOR_H

#include "shm/config.h"

/** Runs the ingestor until SIGTERM/SIGINT. Returns the exit status: 0 after a clean stop,
 *  1 when the database cannot be opened or written (the master restarts it with backoff). */
int msn_ingestor_main(const msn_config_t *cfg);

#endif
