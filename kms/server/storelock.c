/* SPDX-License-Identifier: MIT */
/*
 * storelock.c - one envcryptfs-kmsd serve per key store: serve holds flock(2) on kmsd.lock
 * next to the store for as long as it runs. Two servers on one store would each rewrite the
 * whole store from their own memory, and the keys one of them made would vanish; the kernel
 * drops the lock when the process dies, so it never goes stale.
 */
#include "kmsd.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* "already served (by pid N)", with the pid the holder wrote when it is still alive. */
static void report_holder(int fd, const char *dir)
{
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = n > 0 ? strtol(buf, NULL, 10) : 0;

	if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
		ecfs_tool_error(KMSD_PROG,
				"the key store '%s' is already served by another %s (pid %ld); "
				"one serve per store",
				dir, KMSD_PROG, pid);
	else
		ecfs_tool_error(KMSD_PROG,
				"the key store '%s' is already served by another process; one "
				"serve per store",
				dir);
}

int kmsd_store_lock(const char *dir, int *lockfd)
{
	char path[4096], pid[32];
	struct stat st;
	int fd, n;

	*lockfd = -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, KMSD_LOCK_NAME) >= (int)sizeof(path)) {
		ecfs_tool_error(KMSD_PROG, "the store path '%s' is too long", dir);
		return ECFS_EXIT_USAGE;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EISDIR;
	}
	if (fd < 0) {
		ecfs_tool_error(KMSD_PROG, "cannot open the store lock '%s': %s", path,
				errno == EISDIR ? "not a regular file" : strerror(errno));
		return ECFS_EXIT_ERROR;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			report_holder(fd, dir);
		else
			ecfs_tool_error(KMSD_PROG, "cannot lock '%s': %s", path, strerror(errno));
		close(fd);
		return errno == EWOULDBLOCK ? KMSD_EXIT_IN_USE : ECFS_EXIT_ERROR;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	/* Best effort: only the message of a second serve uses it. */
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) < 0)
		kmsd_log("cannot write the pid into '%s': %s", path, strerror(errno));
	*lockfd = fd;
	return ECFS_EXIT_OK;
}
