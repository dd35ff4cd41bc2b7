/* listen.h: the master's listening sockets. */
#ifndef MSN_LISTEN_H
#define MSN_LISTEN_H

#include <stddef.h>

#include "shm/config.h"

/** Opens, binds and listens (backlog 4096, SO_REUSEADDR, IPv6-only for v6 addresses).
 *  The descriptor is non-blocking and close-on-exec (the spawner clears that flag in the
 *  child). Returns the fd, or -1 with err set. */
int msn_listen_open(const msn_listen_addr_t *a, char *err, size_t errlen);

#endif
