/* proc.c: see proc.h. */
#include "proc.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

/* The title is written over the original argument strings, which are contiguous in
 * memory; the environment that follows them is left alone, so a title is at most as long
 * as the original command line. */
static char *title_area;
static size_t title_len;

void msn_proc_init(int argc, char **argv)
{
    if (argc < 1 || argv[0] == NULL)
        return;
    char *end = argv[0] + strlen(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (argv[i] != end + 1)
            break;
        end = argv[i] + strlen(argv[i]);
    }
    title_area = argv[0];
    title_len = (size_t)(end - argv[0]);
}

void msn_proc_set_title(const char *role)
{
    if (title_area != NULL && title_len > 0) {
        char t[256];
        int n = snprintf(t, sizeof(t), "meshsnapd: %s", role);
        size_t len = n < 0 ? 0 : (size_t)n;
        if (len > title_len)
            len = title_len;
        memset(title_area, 0, title_len + 1);
        memcpy(title_area, t, len);
    }
    char comm[16];
    snprintf(comm, sizeof(comm), "msn-%s", role);
    prctl(PR_SET_NAME, comm);
}

int msn_proc_drop_privileges(const char *user, char *err, size_t errlen)
{
    if (geteuid() != 0)
        return 0;
    if (user == NULL || *user == '\0') {
        msn_warn("running as root: set `user` in the configuration to drop privileges after binding");
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errlen, "user %s: %s", user, errno ? strerror(errno) : "no such user");
        return -1;
    }
    if (setgid(pw->pw_gid) < 0 || initgroups(pw->pw_name, pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "cannot switch to user %s: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        snprintf(err, errlen, "privileges of root could be regained after switching to %s", user);
        return -1;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    msn_info("running as user %s (uid %d)", user, (int)pw->pw_uid);
    return 0;
}
