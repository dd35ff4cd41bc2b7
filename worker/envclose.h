/*
 * envclose.h: a worker closes the LMDB environments it leaves on a thread of its own.
 *
 * The master removes an environment's directory once another one is current; the blocks
 * of its data file are freed when the last process that maps it closes it. That is often
 * a worker, and freeing a snapshot's blocks takes tens to hundreds of milliseconds inside
 * close(2): a filesystem mounted with `discard` trims them before the call returns. On the
 * event loop, that would stall every connection of the worker. So the environments a
 * worker leaves are handed to a closing thread instead.
 *
 * One closing thread per process while there is work, started by a hand-over and ended
 * once the work is done, with every signal blocked (the loop's signalfd keeps receiving
 * them). The work is done in the order it was handed over. A process forked while work
 * was pending starts a closer of its own; the pending work stays with the parent.
 */
#ifndef MSN_ENVCLOSE_H
#define MSN_ENVCLOSE_H

#include <lmdb.h>

/** Hands env over to the closing thread (started on first use) and returns at once; env
 *  must not be used again by the caller, nor have a live transaction. When the thread
 *  cannot be started or the hand-over cannot be allocated, env is closed on the calling
 *  thread (a debug line says so). NULL is ignored. */
void msn_envclose_later(MDB_env *env);

/** The same for any work: fn(arg) runs on the closing thread, after the work handed over
 *  before it (fn(arg) runs on the calling thread when it cannot be handed over). */
void msn_envclose_defer(void (*fn)(void *arg), void *arg);

/** Waits until every piece of work handed over so far is done (and the thread has let go
 *  of it). For the end of the process, and tests. */
void msn_envclose_drain(void);

#endif
