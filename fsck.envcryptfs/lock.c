/* SPDX-License-Identifier: MIT */
/* lock.c - refusing a mounted volume: the daemon holds flock(2) on its lock file. */
#include "fsck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Opens the lock file without creating it: a volume never mounted has none, and -n must not
 * add one. Returns the descriptor, -ENOENT when there is none, or another negative errno. */
static int open_lock(const char *dir)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, ECFS_LOCK_NAME) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

int lock_check(struct fsck *f)
{
	int fd = open_lock(f->o.dir);
	bool readonly = f->o.mode == MODE_NO;
	/* Only an explicit -n may check a mounted volume: a run that merely has no terminal to
	 * ask on should still learn that the volume is in use. */
	bool allow_mounted = f->o.explicit_n;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0 && readonly)
		return 0; /* the volume open that follows reports a bad directory */
	if (fd < 0) {
		report_fatal(f, FSCK_OPERROR, "%s: cannot tell whether it is mounted: %s/%s: %s",
			     f->o.dir, f->o.dir, ECFS_LOCK_NAME, strerror(-fd));
		return FSCK_OPERROR;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK && allow_mounted) {
			ecfs_tool_warn(PROG,
				       "'%s' is mounted; checking read-only, so files changed "
				       "during the check may be reported",
				       f->o.dir);
			return 0;
		}
		if (e == EWOULDBLOCK)
			report_fatal(f, FSCK_OPERROR, "'%s' is mounted; unmount it or use -n",
				     f->o.dir);
		else
			report_fatal(f, FSCK_OPERROR, "%s: cannot lock %s: %s", f->o.dir,
				     ECFS_LOCK_NAME, strerror(e));
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
