/*
 * proc.h: process-level helpers every role needs: the process title shown by ps/top
 * ("meshsnapd: master", "meshsnapd: worker 2", "meshsnapd: backfiller"), and dropping
 * root privileges to the configured user.
 */
#ifndef MSN_PROC_H
#define MSN_PROC_H

#include <stddef.h>

/** Call first thing in main() with main's own arguments; the strings in argv are
 *  overwritten by later titles, so copy whatever is needed from them first. */
void msn_proc_init(int argc, char **argv);
/** Sets the title to "meshsnapd: <role>" and the thread name (15 chars) to match. */
void msn_proc_set_title(const char *role);
/** When running as root and user is non-NULL: setgid, initgroups, setuid to that user, and
 *  forbid regaining privileges. Running as root without a user only logs a warning; a
 *  non-root process is left alone. Returns 0, or -1 with err set. */
int msn_proc_drop_privileges(const char *user, char *err, size_t errlen);

#endif
