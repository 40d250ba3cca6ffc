/* dirid.c - directories and their ID files: a directory never exists under its real name
 * without its ID, and removing one never loses the ID of a directory that stays. */
#include "daemon.h"

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* renameat2(RENAME_NOREPLACE), with a check-then-rename fallback for file systems without
 * it; only this daemon changes the backing directory, so the check holds. */
static int rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new)
{
	struct stat st;

	if (renameat2(olddirfd, old, newdirfd, new, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (fstatat(newdirfd, new, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	return renameat(olddirfd, old, newdirfd, new) < 0 ? -errno : 0;
}

/* Gives the new directory fd the mode asked for; it was made with u+rwx so that its ID file
 * could be written whoever runs the daemon. */
static int fix_mode(int fd, mode_t mode)
{
	struct stat st;

	if ((mode & S_IRWXU) == S_IRWXU)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* Keep what mkdir decided for the rest (a set-group-ID bit inherited from the parent). */
	if (fchmod(fd, (st.st_mode & 07777 & ~S_IRWXU) | (mode & S_IRWXU)) < 0)
		return -errno;
	return 0;
}

int dir_make(int parent, const char *disk, mode_t mode, fuse_req_t req, const struct ecfs_place *at,
	     uint8_t id[ECFS_DIR_ID_SIZE])
{
	char tmp[64];
	int fd, r = names_tmp(tmp);

	if (r < 0)
		return r;
	if (mkdirat(parent, tmp, (mode & 07777) | S_IRWXU) < 0)
		return -errno;
	fd = openat(parent, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		unlinkat(parent, tmp, AT_REMOVEDIR);
		return r;
	}
	r = ecfs_dirid_create_at(fs.vol, fd, at, id);
	if (r == 0)
		r = fix_mode(fd, mode);
	if (r == 0)
		r = fs_chown_new(req, parent, fd, NULL);
	/* The ID file's entry is on disk before the directory takes its real name. */
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0)
		r = rename_noreplace(parent, tmp, parent, disk);
	if (r < 0) {
		unlinkat(fd, ECFS_DIR_ID_NAME, 0);
		unlinkat(parent, tmp, AT_REMOVEDIR);
	}
	close(fd);
	return r;
}

/* Removes a temporary entry an interrupted operation left in a directory (an atomic rewrite
 * of its ID file, a symlink sealed anew, a directory being made). */
static int remove_leftover(int dirfd, const char *name)
{
	int fd;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		unlinkat(fd, ECFS_DIR_ID_NAME, 0);
		close(fd);
	}
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* -ENOTEMPTY unless the directory holds nothing but its ID file; leftovers of interrupted
 * operations (ECFS_TMP_PREFIX) are removed, or they would keep it from being removed. */
static int dir_check_empty(DIR *d)
{
	struct dirent *de;

	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ECFS_DIR_ID_NAME))
			continue;
		if (strncmp(de->d_name, ECFS_TMP_PREFIX, strlen(ECFS_TMP_PREFIX)) != 0 ||
		    remove_leftover(dirfd(d), de->d_name) < 0)
			return -ENOTEMPTY;
		errno = 0;
	}
	return errno ? -errno : 0;
}

int dir_detach_id(int parent, const char *disk, char tmp[64])
{
	int fd, r;
	DIR *d;

	tmp[0] = '\0';
	fd = openat(parent, disk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	/* The kernel holds the directory's lock through rmdir and rename, so nothing can be
	 * created in it between this check and the removal. */
	r = dir_check_empty(d);
	if (r == 0)
		r = names_tmp(tmp);
	if (r == 0 && renameat(dirfd(d), ECFS_DIR_ID_NAME, parent, tmp) < 0) {
		r = errno == ENOENT ? 0 : -errno; /* no ID to keep */
		tmp[0] = '\0';
	}
	closedir(d);
	return r;
}

void dir_restore_id(int parent, const char *disk, const char *tmp)
{
	int fd;

	if (!tmp[0])
		return;
	fd = openat(parent, disk, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || renameat(parent, tmp, fd, ECFS_DIR_ID_NAME) < 0)
		fs_log(LOG_ERR, "cannot put the directory ID '%s' back into '%s': %s", tmp, disk,
		       strerror(errno));
	if (fd >= 0)
		close(fd);
}

void dir_discard_id(int parent, const char *tmp)
{
	if (tmp[0])
		unlinkat(parent, tmp, 0);
}
