/* SPDX-License-Identifier: MIT */
/* io.c - whole-buffer reads and writes that retry short transfers and EINTR, and opening
 * backing files without trusting what kind of object an attacker left in their place. */
#include "ecfs_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Moves iov past n bytes; returns the buffers left. */
static size_t iov_advance(struct iovec **iov, size_t cnt, size_t n)
{
	while (cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		cnt--;
	}
	if (cnt) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
	return cnt;
}

ssize_t ecfs_preadv_full(int fd, struct iovec *iov, size_t cnt, uint64_t off)
{
	size_t got = 0;

	while (cnt) {
		ssize_t r = preadv(fd, iov, cnt < IOV_MAX ? (int)cnt : IOV_MAX, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
		cnt = iov_advance(&iov, cnt, (size_t)r);
	}
	return (ssize_t)got;
}

ssize_t ecfs_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};

	return ecfs_preadv_full(fd, &iov, 1, off);
}

int ecfs_pwritev_full(int fd, struct iovec *iov, size_t cnt, uint64_t off)
{
	size_t done = 0;

	while ((cnt = iov_advance(&iov, cnt, 0)) > 0) {
		ssize_t r =
		    pwritev(fd, iov, cnt < IOV_MAX ? (int)cnt : IOV_MAX, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		done += (size_t)r;
		cnt = iov_advance(&iov, cnt, (size_t)r);
	}
	return 0;
}

int ecfs_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return ecfs_pwritev_full(fd, &iov, 1, off);
}

int ecfs_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static const struct {
	mode_t type;
	const char *name;
} type_names[] = {
    {S_IFREG, "a regular file"}, {S_IFDIR, "a directory"}, {S_IFLNK, "a symbolic link"},
    {S_IFIFO, "a FIFO"},	 {S_IFSOCK, "a socket"},   {S_IFCHR, "a character device"},
    {S_IFBLK, "a block device"},
};

const char *ecfs_file_type_name(mode_t mode)
{
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(type_names); i++)
		if ((mode & S_IFMT) == type_names[i].type)
			return type_names[i].name;
	return "an object of unknown type";
}

static int wrong_type(const char *name, mode_t found, mode_t type)
{
	return ecfs_fail(-EUCLEAN, "'%s' is %s, not %s", name, ecfs_file_type_name(found),
			 ecfs_file_type_name(type));
}

/* After openat failed with err: a symbolic link (ELOOP) or non-directory (ENOTDIR) where
 * type was expected is named; any other failure stays as it was. */
static int explain_open_error(int dirfd, const char *name, int err, mode_t type)
{
	struct stat st;

	if ((err == ELOOP || err == ENOTDIR) &&
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) != type)
		return wrong_type(name, st.st_mode, type);
	return -err;
}

int ecfs_open_typed(int dirfd, const char *name, int flags, mode_t mode, mode_t type)
{
	int extra = O_NOFOLLOW | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NONBLOCK | O_NOCTTY);
	int fd = openat(dirfd, name, flags | extra, mode);
	struct stat st;

	if (fd < 0)
		return explain_open_error(dirfd, name, errno, type);
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if ((st.st_mode & S_IFMT) != type) {
		close(fd);
		return wrong_type(name, st.st_mode, type);
	}
	/* A regular file or directory never blocks anyway; the caller asked for blocking I/O. */
	if (!(flags & (O_NONBLOCK | O_PATH)))
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int ecfs_read_whole(int dirfd, const char *name, size_t max, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *p;
	ssize_t n;
	int fd = ecfs_open_typed(dirfd, name, O_RDONLY, 0, S_IFREG);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	/* One byte more than its size: a file that grew meanwhile is not read as complete. */
	n = ecfs_pread_full(fd, p, (size_t)st.st_size + 1, 0);
	close(fd);
	if (n < 0 || (size_t)n > max) {
		free(p);
		return n < 0 ? (int)n : -EFBIG;
	}
	*buf = p;
	*len = (size_t)n;
	return 0;
}
