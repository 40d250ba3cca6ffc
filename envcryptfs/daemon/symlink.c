/* symlink.c - stored symlink targets: in the backing symlink itself, or, when too long for
 * one, in a side file at the volume root that the backing symlink names (envcryptfs.5). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* Writes a new side file ref at the root holding stored, durably: the symlink that will name
 * it must never outlive its contents. */
static int side_write(const char *ref, const char *stored)
{
	int fd = ecfs_open_typed(fs.root->fd, ref, O_WRONLY | O_CREAT | O_EXCL, 0600, S_IFREG);
	int r;

	if (fd < 0)
		return fd;
	r = ecfs_write_full(fd, stored, strlen(stored));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		unlinkat(fs.root->fd, ref, 0);
	return r;
}

int symlink_store(int dirfd, const char *disk, const char *stored)
{
	char ref[ECFS_LINK_REF_LEN + 1];
	int r;

	if (strlen(stored) <= ECFS_LINK_INLINE_MAX)
		return symlinkat(stored, dirfd, disk) < 0 ? -errno : 0;
	/* The stored text is randomized (a fresh nonce), so its hash names it alone. */
	ecfs_link_ref_name(stored, ref);
	r = side_write(ref, stored);
	if (r == 0 && symlinkat(ref, dirfd, disk) < 0) {
		r = -errno;
		unlinkat(fs.root->fd, ref, 0);
	}
	return r;
}

int symlink_load(struct inode *inode, int fd, char *stored)
{
	char ref[ECFS_LINK_REF_LEN + 1];
	ssize_t n = readlinkat(fd, "", stored, ECFS_SYMLINK_STORED_MAX);
	int r;

	if (n < 0)
		return -errno;
	if (n == ECFS_SYMLINK_STORED_MAX)
		return -EBADMSG;
	stored[n] = '\0';
	if (!ecfs_link_is_ref(stored))
		return 0;
	memcpy(ref, stored, sizeof(ref));
	r = ecfs_link_side_read(fs.root->fd, ref, stored);
	if (r < 0 && inode)
		fs_log_damage(inode, FS_DAMAGE_SYMLINK,
			      "symlink target's side file is %s; readlink fails with EIO",
			      r == -ENOENT ? "missing" : "damaged");
	return r == -ENOENT ? -EBADMSG : r;
}

off_t symlink_plain_size(struct inode *inode, const struct stat *st)
{
	char ref[ECFS_LINK_REF_LEN + 2];
	struct stat side;
	ssize_t n = -1;
	int fd;

	if (st->st_size != ECFS_LINK_REF_LEN)
		return (off_t)ecfs_symlink_plain_len((size_t)st->st_size);
	/* A reference: the side file's size gives the length; nothing is decrypted. */
	fd = inode ? inode_fd_get(inode) : -EBADF;
	if (fd >= 0)
		n = readlinkat(fd, "", ref, sizeof(ref) - 1);
	if (inode)
		inode_fd_put(inode, fd);
	if (n != ECFS_LINK_REF_LEN)
		return 0;
	ref[n] = '\0';
	if (!ecfs_link_is_ref(ref) || fstatat(fs.root->fd, ref, &side, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return (off_t)ecfs_symlink_plain_len((size_t)side.st_size);
}

int symlink_side_if_last(int dirfd, const char *disk, const struct stat *st,
			 char side[ECFS_LINK_REF_LEN + 1])
{
	struct stat own;
	ssize_t n;

	if (!st && fstatat(dirfd, disk, &own, AT_SYMLINK_NOFOLLOW) == 0)
		st = &own;
	if (!st || !S_ISLNK(st->st_mode) || st->st_size != ECFS_LINK_REF_LEN || st->st_nlink != 1)
		return 0;
	n = readlinkat(dirfd, disk, side, ECFS_LINK_REF_LEN + 1);
	if (n != ECFS_LINK_REF_LEN)
		return 0;
	side[n] = '\0';
	return ecfs_link_is_ref(side);
}

int symlink_check_linked(int fd)
{
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return st.st_nlink == 0 ? -ESTALE : 0;
}

void symlink_side_remove(const char *side)
{
	/* A side file left behind wastes space only; fsck removes it. */
	if (unlinkat(fs.root->fd, side, 0) < 0 && errno != ENOENT)
		fs_log(LOG_WARNING, "cannot remove the symlink side file '%s/%s': %m",
		       fs.backing_dir, side);
}
