/*
 * sched.h: how each process and thread asks the kernel's scheduler for its share.
 *
 * On a busy machine the readers go first: a worker answers in well under a millisecond,
 * and what it must not do is wait behind a process that computes for seconds. Two
 * classes, both without privileges:
 *
 *   interactive  the workers: the default priority (nice 0), and a short scheduling slice
 *                (MSN_SCHED_INTERACTIVE_SLICE_NS, sched_setattr's sched_runtime on a
 *                fair-class task, Linux 6.12 and later): the scheduler gives a waking
 *                task with a short slice an early deadline, so it runs at once instead
 *                of waiting out the running task's slice
 *   background   everything that computes or writes in bulk (the master's publisher
 *                thread, the ingestor, the backfiller, the analytics and documents
 *                children, the snapshot check): SCHED_BATCH (never preempts a running
 *                task when it wakes) at a given nice value, which sets its share
 *
 * A kernel that lacks a feature (no custom slice before 6.12) leaves the process as it
 * was; that is logged at debug level, never an error.
 */
#ifndef MSN_SCHED_H
#define MSN_SCHED_H

#define MSN_SCHED_INTERACTIVE_SLICE_NS 200000 /* 0.2 ms: longer than a typical answer */

/** The calling thread joins the interactive class: SCHED_NORMAL, the short slice, its nice
 *  value unchanged (the default, unless the daemon was started with another). Returns 0,
 *  or -1 (errno set) when the kernel refused; the thread then keeps its previous settings. */
int msn_sched_interactive(void);

/** The calling thread (only it, not the other threads of its process) joins the
 *  background class: SCHED_BATCH at nice `nice` (0..19). Returns 0, or -1 (errno set)
 *  when the kernel refused; the thread then keeps its previous settings, or only its
 *  nice value when SCHED_BATCH alone was refused. */
int msn_sched_background(int nice);

#endif
