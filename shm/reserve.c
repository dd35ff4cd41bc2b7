/* reserve.c: see reserve.h. */
#include "reserve.h"

#include <errno.h>
#include <fcntl.h>

int msn_reserve_blocks(int fd, off_t len)
{
    if (len <= 0)
        return 0;
    int e = posix_fallocate(fd, 0, len);
    if (e == 0 || e == EOPNOTSUPP || e == EINVAL)
        return 0;
    return -e;
}
