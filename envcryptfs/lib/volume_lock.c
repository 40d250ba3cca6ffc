/* SPDX-License-Identifier: MIT */
/*
 * volume_lock.c - envcryptfs.lock, held with flock(2) by the daemon that serves a volume, and
 * by an offline change of the whole volume (an upgrade) so that nothing mounts it meanwhile.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int ecfs_volume_lock_exclusive(const struct ecfs_volume *v)
{
	int fd = openat(v->dirfd, ECFS_LOCK_NAME,
			O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	int err;

	if (fd < 0)
		return ecfs_fail(-errno, "cannot open %s/%s: %s", v->dir, ECFS_LOCK_NAME,
				 strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	err = errno;
	close(fd);
	if (err == EWOULDBLOCK)
		return ecfs_fail(-EBUSY, "'%s' is mounted; unmount it first", v->dir);
	return ecfs_fail(-err, "cannot lock %s/%s: %s", v->dir, ECFS_LOCK_NAME, strerror(err));
}
