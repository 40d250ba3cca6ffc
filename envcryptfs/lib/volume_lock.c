/* SPDX-License-Identifier: MIT */
/*
 * volume_lock.c - envcryptfs.lock, held with flock(2) by the daemon that serves a volume, by
 * a repairing fsck and by an offline change of the whole volume (an upgrade), so that no two
 * of them change the volume at once. The kernel drops the lock when its holder dies, so it
 * never goes stale; the holder writes its pid into the file for the messages of others.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The pid a live holder wrote, or 0. */
static long holder_pid(int fd)
{
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = n > 0 ? strtol(buf, NULL, 10) : 0;

	if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
		return pid;
	return 0;
}

static int lock_open(int dirfd, const char *dir, enum ecfs_lock_mode mode)
{
	int fd = mode == ECFS_LOCK_CREATE
		     ? ecfs_open_typed(dirfd, ECFS_LOCK_NAME, O_RDWR | O_CREAT, 0600, S_IFREG)
		     : ecfs_open_typed(dirfd, ECFS_LOCK_NAME, O_RDONLY, 0, S_IFREG);

	/* ecfs_open_typed names what stands there (a directory, a FIFO) in its message. */
	if (fd == -EUCLEAN)
		return ecfs_fail(-EUCLEAN, "its lock file %s/%s is not a regular file: %s", dir,
				 ECFS_LOCK_NAME, ecfs_last_error());
	if (fd < 0)
		return ecfs_fail(fd, "its lock file %s/%s cannot be opened: %s", dir,
				 ECFS_LOCK_NAME, strerror(-fd));
	return fd;
}

int ecfs_lock_take(int dirfd, const char *dir, enum ecfs_lock_mode mode)
{
	int fd = lock_open(dirfd, dir, mode), err;
	long pid;

	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	err = errno;
	pid = err == EWOULDBLOCK ? holder_pid(fd) : 0;
	close(fd);
	if (err != EWOULDBLOCK)
		return ecfs_fail(-err, "cannot lock %s/%s: %s", dir, ECFS_LOCK_NAME, strerror(err));
	if (pid > 0)
		return ecfs_fail(-EBUSY, "'%s' is already mounted (by pid %ld)", dir, pid);
	return ecfs_fail(-EBUSY, "'%s' is already mounted", dir);
}

void ecfs_lock_note_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	/* Only the messages of others lose: nothing to report. */
	if (fd >= 0 && ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0)
		return;
}

int ecfs_volume_lock_exclusive(const struct ecfs_volume *v)
{
	int fd = ecfs_lock_take(v->dirfd, v->dir, ECFS_LOCK_CREATE);

	if (fd == -EBUSY)
		return ecfs_fail(-EBUSY, "'%s' is mounted; unmount it first", v->dir);
	return fd;
}
