/* attr.c - attributes: backing stat translated to the plaintext view, setattr, access and
 * statfs. Nothing here decrypts: sizes follow from the backing sizes. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

void fs_proc_path(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

void fs_translate_stat(struct inode *inode, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		int64_t plain = ecfs_plain_size(fs.vol, (uint64_t)st->st_size);

		if (plain < 0) {
			/* Shown as empty so that it can still be listed and removed; reads and
			 * writes fail with EIO. */
			if (inode)
				fs_log_damage(inode, FS_DAMAGE_SIZE,
					      "backing size %lld is no valid blob size; shown as "
					      "empty, reads fail with EIO",
					      (long long)st->st_size);
			plain = 0;
		}
		st->st_size = plain;
	} else if (S_ISLNK(st->st_mode)) {
		st->st_size = symlink_plain_size(inode, st);
	}
}

int fs_stat_inode(struct inode *inode, struct stat *st)
{
	bool reg = S_ISREG(inode->type);
	int fd = inode_fd_get(inode), r;
	uint64_t floor = 0;

	if (fd < 0)
		return fd;
	/* A write in progress may be between its chunk writes: its lock gives a whole size. */
	if (reg)
		pthread_rwlock_rdlock(&inode->io);
	r = fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		r = -errno;
	if (reg) {
		floor = file_size_floor(inode);
		pthread_rwlock_unlock(&inode->io);
	}
	inode_fd_put(inode, fd);
	if (r < 0)
		return r;
	fs_translate_stat(inode, st);
	/* Format 2: a cut blob shows the size its header records, not a silently shorter file. */
	if ((uint64_t)st->st_size < floor)
		st->st_size = (off_t)floor;
	return 0;
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int r = fs_stat_inode(inode_of(ino), &st);

	(void)fi;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, FS_TIMEOUT);
}

static int set_mode(struct inode *inode, struct fuse_file_info *fi, mode_t mode)
{
	char proc[32];
	int fd, r;

	if (S_ISLNK(inode->type))
		return -EOPNOTSUPP;
	if (fi)
		return fchmod(fh_of(fi)->fd, mode) < 0 ? -errno : 0;
	/* O_PATH descriptors take no fchmod; the /proc link reaches the same inode. */
	fd = inode_fd_get(inode);
	if (fd < 0)
		return fd;
	fs_proc_path(fd, proc);
	r = chmod(proc, mode) < 0 ? -errno : 0;
	inode_fd_put(inode, fd);
	return r;
}

static int set_owner(struct inode *inode, const struct stat *attr, int valid)
{
	uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
	gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
	int fd = inode_fd_get(inode), r;

	if (fd < 0)
		return fd;
	r = fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	inode_fd_put(inode, fd);
	return r;
}

static int set_size(struct inode *inode, struct fuse_file_info *fi, off_t size)
{
	int fd, r;

	if (S_ISDIR(inode->type))
		return -EISDIR;
	if (!S_ISREG(inode->type))
		return -EINVAL;
	if (size < 0)
		return -EINVAL;
	fd = fi ? fh_of(fi)->fd : file_open_backing(inode, O_RDWR);
	if (fd < 0)
		return fd;
	pthread_rwlock_wrlock(&inode->io);
	r = file_truncate(inode, fd, (uint64_t)size);
	if (r == 0)
		fs_note_own_change(inode, fd);
	pthread_rwlock_unlock(&inode->io);
	if (!fi)
		close(fd);
	return r;
}

static int apply_times(struct inode *inode, struct fuse_file_info *fi, const struct timespec tv[2])
{
	char proc[32];
	int fd, r;

	if (fi)
		return futimens(fh_of(fi)->fd, tv) < 0 ? -errno : 0;
	fd = inode_fd_get(inode);
	if (fd < 0)
		return fd;
	if (S_ISLNK(inode->type)) {
		r = utimensat(fd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	} else {
		fs_proc_path(fd, proc);
		r = utimensat(AT_FDCWD, proc, tv, 0);
	}
	r = r < 0 ? -errno : 0;
	inode_fd_put(inode, fd);
	return r;
}

static int set_times(struct inode *inode, struct fuse_file_info *fi, const struct stat *attr,
		     int valid)
{
	struct timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	bool reg = S_ISREG(inode->type);
	int r;

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	/* Not between a commit's look at the blob's times and its putting them back
	 * (file_commit), which would undo these. */
	if (reg)
		pthread_rwlock_wrlock(&inode->io);
	r = apply_times(inode, fi, tv);
	if (reg)
		pthread_rwlock_unlock(&inode->io);
	return r;
}

static int kill_privs(struct inode *inode, struct fuse_file_info *fi)
{
	char proc[32];
	int fd, r;

	if (fi) {
		r = fs_kill_suidgid(fh_of(fi)->fd, NULL);
	} else {
		fd = inode_fd_get(inode);
		if (fd < 0)
			return fd;
		fs_proc_path(fd, proc);
		r = fs_kill_suidgid(-1, proc);
		inode_fd_put(inode, fd);
	}
	return r < 0 ? r : 0;
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		   struct fuse_file_info *fi)
{
	struct inode *inode = inode_of(ino);
	int r = fs.read_only ? -EROFS : 0;

	if (r == 0 && (valid & FUSE_SET_ATTR_MODE))
		r = set_mode(inode, fi, attr->st_mode);
	if (r == 0 && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		r = set_owner(inode, attr, valid);
	if (r == 0 && (valid & FUSE_SET_ATTR_SIZE))
		r = set_size(inode, fi, attr->st_size);
	/* killpriv v2: a truncate by an unprivileged caller, or a chown, clears the set-ID bits
	 * (FATTR_KILL_SUIDGID, which libfuse passes on as this bit). */
	if (r == 0 && fs.killpriv && (valid & FUSE_SET_ATTR_KILL_SUID) &&
	    (valid & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    S_ISREG(inode->type))
		r = kill_privs(inode, fi);
	if (r == 0 && (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)))
		r = set_times(inode, fi, attr, valid);
	if (r < 0)
		fuse_reply_err(req, fs_errno(r));
	else
		fs_op_getattr(req, ino, fi);
}

static bool in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, groups);
	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

int fs_check_access(fuse_req_t req, const struct stat *st, int mask)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	unsigned bits;

	if ((mask & W_OK) && fs.read_only)
		return -EROFS;
	if (mask == F_OK)
		return 0;
	if (ctx->uid == 0) {
		/* root may read and write anything, and execute what someone may execute. */
		if ((mask & X_OK) && !S_ISDIR(st->st_mode) && !(st->st_mode & 0111))
			return -EACCES;
		return 0;
	}
	if (ctx->uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (in_group(req, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return ((unsigned)mask & ~bits & 7) ? -EACCES : 0;
}

void fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct inode *inode = inode_of(ino);
	struct stat st;
	int fd = inode_fd_get(inode), r = fd;

	if (fd >= 0) {
		r = fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
		inode_fd_put(inode, fd);
	}
	if (r == 0)
		r = fs_check_access(req, &st, mask);
	fuse_reply_err(req, -r);
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;

	(void)ino;
	if (fstatvfs(fs.root->fd, &st) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	st.f_namemax = ECFS_NAME_MAX;
	fuse_reply_statfs(req, &st);
}
