/* SPDX-License-Identifier: MIT */
/*
 * blob_store.c - the order in which a change to a blob reaches the backing file, so that a
 * write that fails (a full disk, a quota, an I/O error, a short write) leaves every byte
 * stored before it as it was:
 *
 *  - bytes past the blob's old end are written first: a failure there is undone by cutting
 *    the blob back to its old size;
 *  - bytes over old stored bytes (the old partial last chunk growing, a chunk overwritten)
 *    are written last, once everything that needs new space has it; overwriting allocated
 *    blocks needs no space on ordinary file systems, so this step does not run out of it;
 *  - a blob with holes (st_blocks shows fewer bytes than its size) may be written into a
 *    hole, which does need space: that range is reserved with fallocate first, so that a
 *    full disk fails the write before a hole chunk is half written.
 *
 * Only an I/O error in the last step (or a copy-on-write backing that needs space to
 * overwrite) can still damage the one chunk being rewritten in place.
 */
#include "internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int ecfs_store_begin(struct ecfs_store *s, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	s->fd = fd;
	s->old_end = (uint64_t)st.st_size;
	/* Fewer allocated bytes than the size: holes (or compression, where a reservation
	 * costs one call and nothing else). */
	s->sparse = (uint64_t)st.st_blocks * 512u < (uint64_t)st.st_size;
	return 0;
}

/* Reserves [off, off + len) of a sparse blob. A backing file system without fallocate loses
 * only the guarantee for writes into holes. */
static int reserve(const struct ecfs_store *s, uint64_t off, uint64_t len)
{
	if (!s->sparse || len == 0)
		return 0;
	if (fallocate(s->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	return errno == EOPNOTSUPP || errno == ENOSYS ? 0 : -errno;
}

int ecfs_store_write(struct ecfs_store *s, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	uint64_t end = off + len;
	size_t inside;
	int r;

	if (off >= s->old_end)
		return ecfs_pwrite_full(s->fd, p, len, off);
	inside = end <= s->old_end ? len : (size_t)(s->old_end - off);
	r = reserve(s, off, inside);
	if (r == 0 && inside < len)
		r = ecfs_pwrite_full(s->fd, p + inside, len - inside, s->old_end);
	if (r == 0)
		r = ecfs_pwrite_full(s->fd, p, inside, off);
	return r;
}

/* Finds byte at in iov: its buffer, and the offset in it. */
static size_t iov_find(const struct iovec *iov, size_t cnt, size_t at, size_t *in)
{
	size_t i = 0;

	while (i < cnt && at >= iov[i].iov_len) {
		at -= iov[i].iov_len;
		i++;
	}
	*in = at;
	return i;
}

int ecfs_store_writev(struct ecfs_store *s, struct iovec *iov, size_t cnt, size_t len, uint64_t off)
{
	size_t inside, j, in;
	struct iovec split;
	int r;

	if (off >= s->old_end)
		return ecfs_pwritev_full(s->fd, iov, cnt, off);
	inside = off + len <= s->old_end ? len : (size_t)(s->old_end - off);
	r = reserve(s, off, inside);
	j = iov_find(iov, cnt, inside, &in);
	split = j < cnt ? iov[j] : (struct iovec){0};
	/* What lies past the old end: from byte in of buffer j on. */
	if (r == 0 && inside < len) {
		iov[j].iov_base = (uint8_t *)split.iov_base + in;
		iov[j].iov_len = split.iov_len - in;
		r = ecfs_pwritev_full(s->fd, iov + j, cnt - j, s->old_end);
	}
	/* Then the bytes over old ones: buffers before j and the first in bytes of j. */
	if (r == 0 && j < cnt) {
		iov[j] = split;
		iov[j].iov_len = in;
		r = ecfs_pwritev_full(s->fd, iov, j + 1, off);
	} else if (r == 0) {
		r = ecfs_pwritev_full(s->fd, iov, cnt, off);
	}
	return r;
}

int ecfs_store_resize(struct ecfs_store *s, uint64_t size)
{
	return ftruncate(s->fd, (off_t)size) < 0 ? -errno : 0;
}

int ecfs_store_undo(struct ecfs_store *s, int err)
{
	struct stat st;

	/* Giving back what was added needs no space; if even that fails, the blob keeps a
	 * tail that fsck reports as an interrupted write. */
	if (fstat(s->fd, &st) == 0 && (uint64_t)st.st_size > s->old_end)
		(void)!ftruncate(s->fd, (off_t)s->old_end);
	return err;
}
