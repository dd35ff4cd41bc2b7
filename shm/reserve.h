/*
 * reserve.h: disk blocks for a file that is written through a shared map.
 *
 * A page of a sparse file (ftruncate'd, never written) gets its disk block when it is
 * first written through the map; on a full disk that write cannot fail with an error, so
 * the kernel sends SIGBUS and the process dies. Every file the processes share by mmap
 * and write (the status block, LMDB's reader table) is therefore given all its blocks when
 * it is created, where a full disk is an error that can be reported.
 */
#ifndef MSN_RESERVE_H
#define MSN_RESERVE_H

#include <sys/types.h>

/** Allocates the blocks of fd's first len bytes (posix_fallocate: no data is written; they
 *  read as zeros). Returns 0, or -errno (-ENOSPC on a full disk). A file system that cannot
 *  allocate ahead (EOPNOTSUPP) is not an error: the file is left as it is. */
int msn_reserve_blocks(int fd, off_t len);

#endif
