/* SPDX-License-Identifier: MIT */
/* lock.c - refusing a mounted volume: the daemon holds the volume lock (lib/volume_lock.c). */
#include "fsck.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* The lock, taken without making a lock file (a volume never mounted has none, and -n must
 * not add one): its descriptor, -ENOENT when there is none, or another negative errno with
 * the message in ecfs_last_error(). */
static int take_lock(const char *dir)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (dirfd < 0)
		return ecfs_fail(-errno, "%s: %s", dir, strerror(errno));
	fd = ecfs_lock_take(dirfd, dir, ECFS_LOCK_EXISTING);
	close(dirfd);
	return fd;
}

int lock_check(struct fsck *f)
{
	int fd = take_lock(f->o.dir);
	bool readonly = f->o.mode == MODE_NO;
	/* Only an explicit -n may check a mounted volume: a run that merely has no terminal to
	 * ask on should still learn that the volume is in use. */
	bool allow_mounted = f->o.explicit_n;

	if (fd == -ENOENT)
		return 0;
	if (fd == -EBUSY && allow_mounted) {
		ecfs_tool_warn(PROG,
			       "'%s' is mounted; checking read-only, so files changed during "
			       "the check may be reported",
			       f->o.dir);
		return 0;
	}
	if (fd == -EBUSY) {
		report_fatal(f, FSCK_OPERROR, "'%s' is mounted; unmount it or use -n", f->o.dir);
		return FSCK_OPERROR;
	}
	if (fd < 0 && readonly)
		return 0; /* the volume open that follows reports a bad directory */
	if (fd < 0) {
		report_fatal(f, FSCK_OPERROR, "%s: cannot tell whether it is mounted: %s", f->o.dir,
			     ecfs_last_error());
		return FSCK_OPERROR;
	}
	/* -n needs no lock and must not stop a mount; a repairing run keeps it to the end so
	 * that nothing mounts the volume under it. */
	if (readonly)
		close(fd);
	else
		f->lock_fd = fd;
	return 0;
}

void lock_release(struct fsck *f)
{
	if (f->lock_fd >= 0)
		close(f->lock_fd);
	f->lock_fd = -1;
}
