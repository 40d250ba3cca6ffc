/* SPDX-License-Identifier: MIT */
/* util.c - small helpers the passes share: paths, whole reads, opening entries. */
#include "fsck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	bool slash = a > 0 && dir[a - 1] != '/';
	char *p = malloc(a + slash + b + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	if (slash)
		p[a] = '/';
	memcpy(p + a + slash, name, b + 1);
	return p;
}

const char *shown_path(const char *plain, const char *backing)
{
	return plain ? plain : backing;
}

/* O_NOATIME keeps a check from touching access times, but only the owner (or a capable
 * user) may ask for it. */
static int open_noatime(int dirfd, const char *name, int flags)
{
	int fd =
	    openat(dirfd, name, flags | O_NOATIME | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* O_NONBLOCK only kept a planted FIFO from blocking the open. */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int open_entry(int dirfd, const char *name, int flags, bool writable, bool *got_writable)
{
	int fd = -EACCES;

	if (writable) {
		fd = open_noatime(dirfd, name, flags | O_RDWR);
		/* Read-only files or file systems still get checked; their repair fails. */
		if (fd == -EACCES || fd == -EROFS || fd == -ETXTBSY || fd == -EPERM)
			writable = false;
	}
	if (!writable)
		fd = open_noatime(dirfd, name, flags | O_RDONLY);
	if (got_writable)
		*got_writable = writable && fd >= 0;
	return fd;
}
