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
 * Groups. Where the kernel schedules sessions as groups before the tasks inside them
 * (autogroup: a process outside any cgroup of its own, on a kernel with
 * sched_autogroup_enabled, as when the daemon is started by hand or by a supervisor
 * without the cpu controller), nice values and SCHED_BATCH only divide a group's share
 * among its own tasks. So every worker and every background process leads a session of
 * its own, and a background session gives its group the nice value of its work: the
 * workers' groups then win the CPU from the background groups as the workers win it from
 * background tasks inside one group. Under systemd with the cpu controller, or in a
 * container, the service has its cgroup and the groups have no effect.
 *
 * A kernel that lacks a feature (no custom slice before 6.12, no autogroup) leaves the
 * process as it was; that is logged at debug level, never an error.
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

/** The calling process starts a session of its own (setsid: it must not lead a process
 *  group, as a forked child never does) and gives its scheduling group the nice value
 *  `group_nice` (0..19; 0 leaves the default). The group's nice is written to
 *  /proc/self/autogroup, which exists only where the kernel groups by session; raising it
 *  needs no privilege, but an unprivileged write is refused for 100 ms after any other
 *  (EAGAIN): it is tried again a few times, 0.1 s apart. The process keeps its death
 *  signal, and the master still signals and reaps it by pid. Returns 0, or -1 (errno set,
 *  logged at debug level) when a step was refused or the kernel has no groups. */
int msn_sched_own_group(int group_nice);

/** Gives the calling process's session group the nice value `group_nice`, as
 *  msn_sched_own_group does, without a new session; only when the process leads its
 *  session (getsid(0) == getpid()), so that a daemon started from a shell never changes
 *  the shell's group. Returns 0, 1 when the process does not lead its session (nothing
 *  done), or -1 (errno set, logged at debug level). */
int msn_sched_group_nice(int group_nice);

#endif
