/*
 * instance.h: one daemon per state directory.
 *
 * The master takes an exclusive flock(2) on state_dir/lock before it creates the status
 * block or publishes anything, and writes its pid into the file. Every child it starts
 * inherits the locked descriptor (the spawner keeps it open across exec), so the lock is
 * held until the master AND all of its children are gone: a new master can never run
 * beside the workers or the backfiller of an earlier one (two writers on one database,
 * two publishers on one snapshot directory), even when that earlier master was killed
 * with SIGKILL and its children are still finishing (they stop on their own: they get
 * SIGTERM when the master dies, see supervisor.h).
 *
 * When the lock is held:
 *   - by a live meshsnapd master (the pid in the file, whose process title is
 *     "meshsnapd: master"): refused at once, with a message naming its pid;
 *   - otherwise (the processes of a master that died are still stopping): waited for, up
 *     to wait_ms, then refused with a message.
 *
 * Master process only, before any thread is started.
 */
#ifndef MSN_INSTANCE_H
#define MSN_INSTANCE_H

#include <stddef.h>

/** Takes the lock of state_dir (which must exist). Returns the locked descriptor (not
 *  close-on-exec: children keep it; the caller closes it last), or -1 with err set (why,
 *  and what to do). */
int msn_instance_lock(const char *state_dir, int wait_ms, char *err, size_t errlen);

/** Whether another process holds the lock of state_dir now, for a clearer message when
 *  the listening address is in use: returns the pid written in the lock file (0 when
 *  unknown) with holds set to 1, or 0 with holds 0 when nobody holds it (or there is no
 *  such file). */
int msn_instance_holder(const char *state_dir, int *holds);

#endif
