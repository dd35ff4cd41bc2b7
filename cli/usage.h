/*
 * usage.h: how a `meshsnap` command reports bad arguments (the cli only).
 */
#ifndef MSN_CLI_USAGE_H
#define MSN_CLI_USAGE_H

#include <stdio.h>

/** Prints "meshsnap <cmd>: " + fmt (with one string argument arg) + a newline + the
 *  command's usage text to standard error. Returns code, the exit status to use. */
static inline int msn_cli_usage_error(const char *cmd, const char *usage, int code, const char *fmt,
                                      const char *arg)
{
    fprintf(stderr, "meshsnap %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return code;
}

#endif
