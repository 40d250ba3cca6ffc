/* rebind.c - format 2: what a rename or a link moves stays bound to its place. A directory's
 * ID file names both places across the rename(2); a symbolic link is sealed anew for its new
 * place under a temporary name (man/envcryptfs.5, "Binding"). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

int rebind_dir_begin(struct inode *parent, const char *disk, const struct ecfs_place *from,
		     const struct ecfs_place *to, struct rebind_dir *b)
{
	int r;

	b->fd = -1;
	b->from = from;
	b->to = to;
	if (!names_bound())
		return 0;
	/* Read-only, not O_PATH: the atomic rewrite syncs the directory. */
	b->fd = openat(parent->fd, disk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (b->fd < 0)
		return errno == ENOTDIR || errno == ELOOP ? 0 : -errno;
	r = ecfs_dirid_read_at(fs.vol, b->fd, from, b->id);
	/* Rewriting the ID file inside the directory is no change to it: its times stay. */
	if (r == 0)
		r = times_note(b->fd, &b->times);
	if (r == 0) {
		r = ecfs_dirid_rebind(fs.vol, b->fd, b->id, from, to);
		times_put_back(b->fd, &b->times);
	}
	if (r < 0) {
		close(b->fd);
		b->fd = -1;
	}
	/* A directory bound elsewhere is not legitimized by moving it. */
	if (r == -EBADMSG) {
		fs_log_bad_name(parent, disk,
				"is a directory bound to another place (moved or swapped?); "
				"renaming it fails with EIO");
		return -EIO;
	}
	return r;
}

/* Gives the inode of the moved directory (if the kernel knows it) its new place. */
static void move_inode(struct rebind_dir *b)
{
	struct inode *inode;
	struct stat st;

	if (fstat(b->fd, &st) < 0)
		return;
	inode = itab_peek(&fs.itab, b->fd, &st);
	if (!inode)
		return;
	names_set_place(inode, b->to->parent_id, b->to->name);
	itab_unref(&fs.itab, inode, 1);
}

void rebind_dir_end(struct rebind_dir *b, bool moved)
{
	const struct ecfs_place *at = moved ? b->to : b->from;
	int r;

	if (b->fd < 0)
		return;
	if (moved)
		move_inode(b);
	/* Left with both tags (a crash, a full disk), the directory works under either name. */
	r = ecfs_dirid_rebind(fs.vol, b->fd, b->id, at, NULL);
	times_put_back(b->fd, &b->times);
	if (r < 0)
		fs_log(LOG_WARNING, "cannot drop the old place from a directory ID file: %s",
		       ecfs_last_error());
	close(b->fd);
	b->fd = -1;
}

int symlink_read_target(struct inode *inode, int fd, const struct ecfs_place *at, char target[])
{
	struct ecfs_crypto *c = fs_crypto();
	char stored[ECFS_SYMLINK_STORED_MAX];
	int r;

	if (!c)
		return -ENOMEM;
	r = symlink_load(inode, fd, stored);
	if (r == 0)
		r = ecfs_symlink_decrypt_at(c, at, stored, target, PATH_MAX + 1);
	if (r == -EBADMSG && inode)
		fs_log_damage(inode, at ? FS_DAMAGE_PLACE : FS_DAMAGE_SYMLINK,
			      at ? "symlink target failed authentication or is bound to another "
				   "place (moved or swapped?); readlink fails with EIO"
				 : "symlink target failed authentication; readlink fails with EIO");
	return r;
}

/* Gives the new symlink the owner and times of the one it copies. */
static int copy_meta(int dirfd, const char *disk, const struct stat *st)
{
	struct timespec times[2] = {st->st_atim, st->st_mtim};

	if (fs.is_root && fchownat(dirfd, disk, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (utimensat(dirfd, disk, times, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

int symlink_copy_fd(struct inode *inode, int fd, const struct ecfs_place *from, int tofd,
		    const char *to_disk, const struct ecfs_place *to, char target[])
{
	char stored[ECFS_SYMLINK_STORED_MAX], side[ECFS_LINK_REF_LEN + 1];
	struct ecfs_crypto *c = fs_crypto();
	struct stat st;
	int r;

	if (!c)
		return -ENOMEM;
	r = fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (r == 0)
		r = symlink_read_target(inode, fd, from, target);
	if (r >= 0)
		r = ecfs_symlink_encrypt_at(c, to, target, stored, sizeof(stored));
	if (r >= 0)
		r = symlink_store(tofd, to_disk, stored);
	if (r < 0)
		return r == -EBADMSG ? -EIO : r;
	r = copy_meta(tofd, to_disk, &st);
	if (r < 0) {
		bool has_side = symlink_side_if_last(tofd, to_disk, NULL, side);

		unlinkat(tofd, to_disk, 0);
		if (has_side)
			symlink_side_remove(side);
	}
	return r;
}

/* Gives the kernel's inode of the symlink open as fd (if it holds one) target to keep. */
static void keep_target(int fd, const char *target)
{
	struct inode *inode;
	struct stat st;
	char *kept;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return;
	inode = itab_peek(&fs.itab, fd, &st);
	if (!inode)
		return;
	kept = strdup(target); /* out of memory: readlink answers ESTALE, as before */
	pthread_mutex_lock(&inode->lock);
	if (!inode->kept_target) {
		inode->kept_target = kept;
		kept = NULL;
	}
	pthread_mutex_unlock(&inode->lock);
	free(kept);
	itab_unref(&fs.itab, inode, 1);
}

int symlink_copy(int fromfd, const char *from_disk, const struct ecfs_place *from, int tofd,
		 const char *to_disk, const struct ecfs_place *to)
{
	char target[PATH_MAX + 1];
	int fd = openat(fromfd, from_disk, O_PATH | O_NOFOLLOW | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = symlink_copy_fd(NULL, fd, from, tofd, to_disk, to, target);
	if (r == 0)
		keep_target(fd, target);
	close(fd);
	return r;
}

bool symlink_kept_target(struct inode *inode, char target[])
{
	bool kept;

	pthread_mutex_lock(&inode->lock);
	kept = inode->kept_target != NULL;
	if (kept)
		snprintf(target, PATH_MAX + 1, "%s", inode->kept_target);
	pthread_mutex_unlock(&inode->lock);
	return kept;
}

void symlink_remove(int dirfd, const char *disk)
{
	char side[ECFS_LINK_REF_LEN + 1];
	bool has_side = symlink_side_if_last(dirfd, disk, NULL, side);

	if (unlinkat(dirfd, disk, 0) == 0 && has_side)
		symlink_side_remove(side);
}
