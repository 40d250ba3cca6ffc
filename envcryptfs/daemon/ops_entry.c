/* ops_entry.c - lookups and namespace changes: lookup, forget, mknod, mkdir, symlink,
 * readlink, link, unlink, rmdir, rename. Names are encrypted on the way in (names.c). */
#include "daemon.h"
#include "ecfs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

void fs_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	/* The kernel counts a lookup only when it gets the reply (an interrupted request may
	 * be gone); undo ours when the reply cannot be delivered. */
	if (fuse_reply_entry(req, e) != 0 && e->ino)
		itab_unref(&fs.itab, inode_of(e->ino), 1);
}

static void reply_entry_or_err(fuse_req_t req, int r, const struct fuse_entry_param *e)
{
	if (r < 0)
		fuse_reply_err(req, fs_errno(r));
	else
		fs_reply_entry(req, e);
}

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *dir = inode_of(parent);
	struct ecfs_disk_name dn;
	struct fuse_entry_param e;
	int r = names_encrypt(dir, name, &dn);

	if (r == 0)
		r = names_lookup_disk(dir, dn.disk, dn.full, &e);
	if (r == 0 && dn.is_long) {
		r = names_check_side(dir, &dn);
		if (r < 0)
			itab_unref(&fs.itab, inode_of(e.ino), 1);
	}
	if (r == -ENOENT) {
		/* A negative entry: the kernel may cache the absence too. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = FS_NEG_TIMEOUT;
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry_or_err(req, r, &e);
}

/* The root lives as long as the mount: the kernel never looks it up, so it never forgets it
 * either; a forget for it is ignored rather than trusted. */
static void forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	if (ino != FUSE_ROOT_ID)
		itab_unref(&fs.itab, inode_of(ino), nlookup);
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

int fs_chown_new(fuse_req_t req, int parentfd, int fd, const char *disk)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t gid = ctx->gid;
	struct stat parent;
	int r;

	if (!fs.is_root)
		return 0;
	/* A root caller of the daemon's own group: the entry already has the owner it needs
	 * (root) and the group it needs (the daemon's, or the set-group-ID directory's). */
	if (ctx->uid == 0 && ctx->gid == fs.egid)
		return 0;
	/* In a set-group-ID directory the backing file system already chose the group. */
	if (fstatat(parentfd, "", &parent, AT_EMPTY_PATH) == 0 && (parent.st_mode & S_ISGID))
		gid = (gid_t)-1;
	if (fd >= 0)
		r = fchown(fd, ctx->uid, gid);
	else
		r = fchownat(parentfd, disk, ctx->uid, gid, AT_SYMLINK_NOFOLLOW);
	return r < 0 ? -errno : 0;
}

/* How to make one kind of entry under its backing name. */
struct maker {
	int (*make)(fuse_req_t req, int dirfd, const char *disk, struct maker *m);
	mode_t mode;
	dev_t rdev;
	const char *target;  /* symlink */
	struct inode *inode; /* link */
	int fd;		     /* a regular file made here, open until its header is written */
	uint8_t dir_id[ECFS_DIR_ID_SIZE];
	struct ecfs_place at; /* where the entry is made (format 2) */
};

/* Makes name in dir: the long-name side file first, then the entry, then a lookup. */
static int make_entry(fuse_req_t req, struct inode *dir, const char *name, struct maker *m,
		      struct fuse_entry_param *e, struct ecfs_disk_name *dn)
{
	bool side_made;
	int r;

	if (fs.read_only)
		return -EROFS;
	r = names_encrypt(dir, name, dn);
	if (r == 0 && names_bound())
		r = names_dir_id(dir, m->at.parent_id);
	m->at.name = dn->full;
	if (r == 0)
		r = names_side_create(dir->fd, dn, &side_made);
	if (r < 0)
		return r;
	r = m->make(req, dir->fd, dn->disk, m);
	if (r == 0)
		r = names_lookup_disk(dir, dn->disk, dn->full, e);
	if (r < 0 && side_made)
		names_side_remove(dir->fd, dn);
	return r;
}

static int make_file(fuse_req_t req, int dirfd, const char *disk, struct maker *m)
{
	int r;

	m->fd = openat(dirfd, disk, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
		       m->mode & 07777);
	if (m->fd < 0)
		return -errno;
	r = fs_chown_new(req, dirfd, m->fd, NULL);
	/* chown clears set-user-ID and set-group-ID bits that the new file was made with. */
	if (r == 0 && fs.is_root && (m->mode & (S_ISUID | S_ISGID)) &&
	    fchmod(m->fd, m->mode & 07777) < 0)
		r = -errno;
	if (r < 0) {
		close(m->fd);
		m->fd = -1;
		unlinkat(dirfd, disk, 0);
	}
	return r;
}

static int make_node(fuse_req_t req, int dirfd, const char *disk, struct maker *m)
{
	int r;

	if (mknodat(dirfd, disk, m->mode, m->rdev) < 0)
		return -errno;
	r = fs_chown_new(req, dirfd, -1, disk);
	if (r < 0)
		unlinkat(dirfd, disk, 0);
	return r;
}

static int make_dir(fuse_req_t req, int dirfd, const char *disk, struct maker *m)
{
	return dir_make(dirfd, disk, m->mode, req, &m->at, m->dir_id);
}

static int make_symlink(fuse_req_t req, int dirfd, const char *disk, struct maker *m)
{
	struct ecfs_crypto *c = fs_crypto();
	char stored[ECFS_SYMLINK_STORED_MAX], side[ECFS_LINK_REF_LEN + 1];
	int r;

	if (!c)
		return -ENOMEM;
	r = ecfs_symlink_encrypt_at(c, names_bound() ? &m->at : NULL, m->target, stored,
				    sizeof(stored));
	if (r >= 0)
		r = symlink_store(dirfd, disk, stored);
	if (r < 0)
		return r;
	r = fs_chown_new(req, dirfd, -1, disk);
	if (r < 0) {
		bool has_side = symlink_side_if_last(dirfd, disk, NULL, side);

		unlinkat(dirfd, disk, 0);
		if (has_side)
			symlink_side_remove(side);
	}
	return r;
}

/* Format 2: a hard link to a symlink is a copy bound to its own place (its inode number and
 * link count differ from the original's). */
static int make_symlink_copy(struct maker *m, int fd, int dirfd, const char *disk)
{
	char name[ECFS_ENCODED_NAME_MAX], target[PATH_MAX + 1];
	struct ecfs_place from;
	int r = names_get_place(m->inode, &from, name);

	if (r == 0)
		r = symlink_copy_fd(m->inode, fd, &from, dirfd, disk, &m->at, target);
	return r;
}

static int make_link(fuse_req_t req, int dirfd, const char *disk, struct maker *m)
{
	int fd = inode_fd_get(m->inode), r;

	(void)req;
	if (fd < 0)
		return fd;
	if (names_bound() && S_ISLNK(m->inode->type)) {
		r = make_symlink_copy(m, fd, dirfd, disk);
		inode_fd_put(m->inode, fd);
		return r;
	}
	/* Format 2: the link file names the new name before it exists. */
	r = bind_file_link(m->inode, fd, &m->at, dirfd, disk);
	inode_fd_put(m->inode, fd);
	return r;
}

/* Undoes a new regular file whose header could not be written. */
static void unmake_file(struct inode *dir, const struct ecfs_disk_name *dn,
			struct fuse_entry_param *e)
{
	unlinkat(dir->fd, dn->disk, 0);
	names_side_remove(dir->fd, dn);
	itab_unref(&fs.itab, inode_of(e->ino), 1);
}

/* Makes a regular file with its blob header; leaves it open in *fd when fd is not NULL. */
int fs_make_file(fuse_req_t req, struct inode *dir, const char *name, mode_t mode,
		 struct fuse_entry_param *e, int *fd)
{
	struct maker m = {.make = make_file, .mode = mode, .fd = -1};
	struct ecfs_disk_name dn;
	int r = make_entry(req, dir, name, &m, e, &dn);

	if (r == 0) {
		r = file_init_blob(inode_of(e->ino), m.fd, names_bound() ? &m.at : NULL);
		if (r < 0)
			unmake_file(dir, &dn, e);
	}
	if (r == 0 && fd) {
		*fd = m.fd;
		m.fd = -1;
	}
	if (m.fd >= 0)
		close(m.fd);
	return r;
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct maker m = {.make = make_node, .mode = mode, .rdev = rdev};
	struct ecfs_disk_name dn;
	struct fuse_entry_param e;
	int r;

	if (S_ISREG(mode))
		r = fs_make_file(req, inode_of(parent), name, mode, &e, NULL);
	else
		r = make_entry(req, inode_of(parent), name, &m, &e, &dn);
	reply_entry_or_err(req, r, &e);
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct maker m = {.make = make_dir, .mode = mode};
	struct ecfs_disk_name dn;
	struct fuse_entry_param e;
	int r = make_entry(req, inode_of(parent), name, &m, &e, &dn);

	if (r == 0) {
		/* We know the new directory's ID: spare its first use a read. */
		struct inode *inode = inode_of(e.ino);

		pthread_mutex_lock(&inode->lock);
		memcpy(inode->dir_id, m.dir_id, ECFS_DIR_ID_SIZE);
		inode->has_dir_id = true;
		pthread_mutex_unlock(&inode->lock);
	}
	reply_entry_or_err(req, r, &e);
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct maker m = {.make = make_symlink, .target = link};
	struct ecfs_disk_name dn;
	struct fuse_entry_param e;
	int r = make_entry(req, inode_of(parent), name, &m, &e, &dn);

	reply_entry_or_err(req, r, &e);
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct maker m = {.make = make_link, .inode = inode_of(ino)};
	struct ecfs_disk_name dn;
	struct fuse_entry_param e;
	int r = make_entry(req, inode_of(parent), name, &m, &e, &dn);

	reply_entry_or_err(req, r, &e);
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct inode *inode = inode_of(ino);
	char target[PATH_MAX + 1], name[ECFS_ENCODED_NAME_MAX];
	struct ecfs_place at;
	int fd, r = names_bound() ? names_get_place(inode, &at, name) : 0;

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fd = inode_fd_get(inode);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	r = names_bound() ? symlink_check_linked(fd) : 0;
	/* Replaced by a copy for a new place: the same link to the caller, with the same
	 * target. */
	if (r == -ESTALE && symlink_kept_target(inode, target))
		r = 1;
	if (r == 0)
		r = symlink_read_target(inode, fd, names_bound() ? &at : NULL, target);
	inode_fd_put(inode, fd);
	if (r < 0)
		fuse_reply_err(req, fs_errno(r));
	else
		fuse_reply_readlink(req, target);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *dir = inode_of(parent);
	struct ecfs_disk_name dn;
	char target_side[ECFS_LINK_REF_LEN + 1];
	bool has_target_side = false;
	struct unbind_file u = {.fd = -1};
	struct ecfs_place at = {.name = dn.full};
	struct stat st;
	int r = fs.read_only ? -EROFS : names_encrypt(dir, name, &dn);

	/* One lstat serves both: what the name is decides what goes with it. */
	if (r == 0 && fstatat(dir->fd, dn.disk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r == 0 && names_bound() && names_dir_id(dir, at.parent_id) == 0)
		unbind_file_begin(dir->fd, dn.disk, &st, &at, NULL, &u);
	if (r == 0)
		has_target_side = symlink_side_if_last(dir->fd, dn.disk, &st, target_side);
	if (r == 0 && unlinkat(dir->fd, dn.disk, 0) < 0)
		r = -errno;
	unbind_file_end(&u, r == 0);
	/* Side files go after the entry: an entry never lacks its full name or target. */
	if (r == 0) {
		names_side_remove(dir->fd, &dn);
		if (has_target_side)
			symlink_side_remove(target_side);
	}
	fuse_reply_err(req, fs_errno(r));
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *dir = inode_of(parent);
	struct ecfs_disk_name dn;
	char tmp[64];
	int r = fs.read_only ? -EROFS : names_encrypt(dir, name, &dn);

	if (r == 0)
		r = dir_detach_id(dir->fd, dn.disk, tmp);
	if (r == 0) {
		if (unlinkat(dir->fd, dn.disk, AT_REMOVEDIR) < 0) {
			r = -errno;
			dir_restore_id(dir->fd, dn.disk, tmp);
		} else {
			dir_discard_id(dir->fd, tmp);
			names_side_remove(dir->fd, &dn);
		}
	}
	fuse_reply_err(req, fs_errno(r));
}

struct rename_args {
	struct inode *from_dir, *to_dir;
	struct ecfs_disk_name from, to;
	unsigned int flags;
};

/* A rename onto an existing name: 1 when both are the same inode (POSIX: nothing to do);
 * when a directory replaces an empty one, that one's ID file is moved aside into *tmp. */
static int rename_prepare_target(struct rename_args *a, char tmp[64])
{
	struct stat from, to;

	tmp[0] = '\0';
	if (a->flags & RENAME_NOREPLACE)
		return 0;
	if (fstatat(a->to_dir->fd, a->to.disk, &to, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstatat(a->from_dir->fd, a->from.disk, &from, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (from.st_dev == to.st_dev && from.st_ino == to.st_ino)
		return 1;
	if (S_ISDIR(from.st_mode) && S_ISDIR(to.st_mode))
		return dir_detach_id(a->to_dir->fd, a->to.disk, tmp);
	return 0;
}

/* The places of both names of a rename (format 2). */
static void rename_places(struct rename_args *a, struct ecfs_place *from, struct ecfs_place *to)
{
	/* Both IDs are known: the names were just encrypted with them. */
	names_dir_id(a->from_dir, from->parent_id);
	names_dir_id(a->to_dir, to->parent_id);
	from->name = a->from.full;
	to->name = a->to.full;
}

/* Format 2: a symlink is sealed anew for its new place under a temporary name, which then
 * takes the new name; the old name goes last. A crash in between leaves both names, never an
 * unreadable one. */
static int move_symlink(struct rename_args *a, const struct ecfs_place *from,
			const struct ecfs_place *to)
{
	int fromfd = a->from_dir->fd, tofd = a->to_dir->fd;
	char tmp[64];
	int r = names_tmp(tmp);

	if (r == 0)
		r = symlink_copy(fromfd, a->from.disk, from, tofd, tmp, to);
	if (r < 0)
		return r;
	if (renameat2(tofd, tmp, tofd, a->to.disk, a->flags & RENAME_NOREPLACE) < 0) {
		r = -errno;
		symlink_remove(tofd, tmp);
		return r;
	}
	symlink_remove(fromfd, a->from.disk);
	return 0;
}

/* Makes a rename durable before the old place is dropped from what moved (format 2): a
 * power loss must not keep the new place's tag alone with the rename lost. */
static void sync_rename(struct rename_args *a)
{
	struct inode *dirs[2] = {a->to_dir, a->from_dir};

	for (int i = 0; i < (a->from_dir == a->to_dir ? 1 : 2); i++) {
		int fd = openat(dirs[i]->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0) {
			(void)!fsync(fd);
			close(fd);
		}
	}
}

/* The rename(2) itself; on format 2 what moves is rebound to its new place. */
static int move_entry(struct rename_args *a)
{
	int fromfd = a->from_dir->fd, tofd = a->to_dir->fd, r = 0;
	struct rebind_dir b = {.fd = -1};
	struct rebind_file f = {.fd = -1};
	struct unbind_file u = {.fd = -1};
	struct ecfs_place from, to;
	struct stat st, target;
	bool has_target;

	if (!names_bound())
		return renameat2(fromfd, a->from.disk, tofd, a->to.disk, a->flags) < 0 ? -errno : 0;
	rename_places(a, &from, &to);
	if (fstatat(fromfd, a->from.disk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		/* A regular file the link replaces loses that name, as below: its link file and
		 * holes map go with its last one. */
		if (!(a->flags & RENAME_NOREPLACE))
			unbind_file_begin(tofd, a->to.disk, NULL, &to, NULL, &u);
		r = move_symlink(a, &from, &to);
		unbind_file_end(&u, r == 0);
		return r;
	}
	/* rename(2) between two names of one file does nothing. */
	has_target = fstatat(tofd, a->to.disk, &target, AT_SYMLINK_NOFOLLOW) == 0;
	if (has_target && target.st_ino == st.st_ino && target.st_dev == st.st_dev)
		return renameat2(fromfd, a->from.disk, tofd, a->to.disk, a->flags) < 0 ? -errno : 0;
	if (S_ISDIR(st.st_mode))
		r = rebind_dir_begin(a->from_dir, a->from.disk, &from, &to, &b);
	else if (S_ISREG(st.st_mode))
		r = rebind_file_begin(a->from_dir, a->from.disk, &from, &to, NULL, &f);
	if (r < 0)
		return r;
	if (f.inode)
		ecfs_fault_rename_delay();
	/* A hard-linked file replaced by the rename loses that name in its link file. */
	if (!(a->flags & RENAME_NOREPLACE) && has_target)
		unbind_file_begin(tofd, a->to.disk, &target, &to, f.inode, &u);
	r = renameat2(fromfd, a->from.disk, tofd, a->to.disk, a->flags) < 0 ? -errno : 0;
	if (r == 0 && (b.fd >= 0 || f.carry))
		sync_rename(a);
	unbind_file_end(&u, r == 0);
	rebind_dir_end(&b, r == 0);
	rebind_file_end(&f, r == 0);
	return r;
}

/* After an exchange: the copy tmp of a symlink, sealed for its new place, replaces the moved
 * original disk in dirfd. When that fails (or a crash comes first) the copy stays: fsck -p
 * puts it in place of the link, which does not authenticate where the exchange moved it. */
static void replace_with_copy(int dirfd, const char *tmp, const char *disk)
{
	char side[ECFS_LINK_REF_LEN + 1];
	bool has_side = symlink_side_if_last(dirfd, disk, NULL, side);
	int r = ecfs_fault_at(ECFS_STEP_RENAME, "symlink copy");

	if (r == 0 && renameat(dirfd, tmp, dirfd, disk) < 0)
		r = -errno;
	if (r < 0) {
		fs_log(LOG_ERR,
		       "cannot put a symlink sealed for its new place into '%s' (%s): it fails "
		       "with EIO until fsck.envcryptfs -p puts '%s' in its place",
		       disk, ecfs_strerror(r), tmp);
		return;
	}
	if (has_side)
		symlink_side_remove(side);
}

/* Format 2 RENAME_EXCHANGE: directories and regular files carry both places across the
 * exchange; a symlink is copied for its new place first, and the copy replaces it after the
 * exchange (a crash in between leaves that link failing with EIO at its new name, with its
 * copy beside it, until fsck -p puts the copy in its place). */
static int exchange_bound(struct rename_args *a)
{
	int fromfd = a->from_dir->fd, tofd = a->to_dir->fd, r = 0;
	struct rebind_dir b1 = {.fd = -1}, b2 = {.fd = -1};
	struct rebind_file f1 = {.fd = -1}, f2 = {.fd = -1};
	char tmp1[64] = "", tmp2[64] = "";
	struct ecfs_place from, to;
	struct stat s1, s2;

	rename_places(a, &from, &to);
	if (fstatat(fromfd, a->from.disk, &s1, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(tofd, a->to.disk, &s2, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* Two names of one file: nothing moves. */
	if (s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev)
		return renameat2(fromfd, a->from.disk, tofd, a->to.disk, a->flags) < 0 ? -errno : 0;
	if (S_ISLNK(s1.st_mode) && (r = names_tmp(tmp1)) == 0)
		r = symlink_copy(fromfd, a->from.disk, &from, tofd, tmp1, &to);
	if (r < 0)
		tmp1[0] = '\0';
	if (r == 0 && S_ISLNK(s2.st_mode) && (r = names_tmp(tmp2)) == 0)
		r = symlink_copy(tofd, a->to.disk, &to, fromfd, tmp2, &from);
	if (r < 0)
		tmp2[0] = '\0';
	if (r == 0 && S_ISDIR(s1.st_mode))
		r = rebind_dir_begin(a->from_dir, a->from.disk, &from, &to, &b1);
	if (r == 0 && S_ISDIR(s2.st_mode))
		r = rebind_dir_begin(a->to_dir, a->to.disk, &to, &from, &b2);
	if (r == 0 && S_ISREG(s1.st_mode))
		r = rebind_file_begin(a->from_dir, a->from.disk, &from, &to, NULL, &f1);
	if (r == 0 && f1.inode)
		ecfs_fault_rename_delay();
	if (r == 0 && S_ISREG(s2.st_mode))
		r = rebind_file_begin(a->to_dir, a->to.disk, &to, &from, f1.inode, &f2);
	if (r == 0 && renameat2(fromfd, a->from.disk, tofd, a->to.disk, a->flags) < 0)
		r = -errno;
	if (r == 0 && (b1.fd >= 0 || b2.fd >= 0 || f1.carry || f2.carry))
		sync_rename(a);
	rebind_dir_end(&b1, r == 0);
	rebind_dir_end(&b2, r == 0);
	rebind_file_end(&f1, r == 0);
	rebind_file_end(&f2, r == 0);
	if (r == 0 && tmp1[0])
		replace_with_copy(tofd, tmp1, a->to.disk);
	if (r == 0 && tmp2[0])
		replace_with_copy(fromfd, tmp2, a->from.disk);
	if (r < 0 && tmp1[0])
		symlink_remove(tofd, tmp1);
	if (r < 0 && tmp2[0])
		symlink_remove(fromfd, tmp2);
	return r;
}

static int do_rename(struct rename_args *a)
{
	int fromfd = a->from_dir->fd, tofd = a->to_dir->fd;
	char tmp[64], target_side[ECFS_LINK_REF_LEN + 1];
	bool side_made, has_target_side = false;
	int r;

	/* An exchange keeps both names in use: their side files stay right where they are. */
	if (a->flags & RENAME_EXCHANGE) {
		if (names_bound())
			return exchange_bound(a);
		return renameat2(fromfd, a->from.disk, tofd, a->to.disk, a->flags) < 0 ? -errno : 0;
	}
	r = names_side_create(tofd, &a->to, &side_made);
	if (r == 0)
		r = rename_prepare_target(a, tmp);
	/* A long symlink replaced by the rename takes its target's side file with it. */
	if (r == 0 && !(a->flags & RENAME_NOREPLACE))
		has_target_side = symlink_side_if_last(tofd, a->to.disk, NULL, target_side);
	if (r == 0 && (r = move_entry(a)) < 0)
		dir_restore_id(tofd, a->to.disk, tmp);
	if (r < 0) {
		if (side_made)
			names_side_remove(tofd, &a->to);
		return r;
	}
	if (r == 1)
		return 0;
	dir_discard_id(tofd, tmp);
	if (has_target_side)
		symlink_side_remove(target_side);
	if (fromfd != tofd || strcmp(a->from.disk, a->to.disk) != 0)
		names_side_remove(fromfd, &a->from);
	return 0;
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct rename_args a = {
	    .from_dir = inode_of(parent), .to_dir = inode_of(newparent), .flags = flags};
	int r = 0;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		r = -EINVAL;
	else if (fs.read_only)
		r = -EROFS;
	if (r == 0)
		r = names_encrypt(a.from_dir, name, &a.from);
	if (r == 0)
		r = names_encrypt(a.to_dir, newname, &a.to);
	if (r == 0)
		r = do_rename(&a);
	fuse_reply_err(req, fs_errno(r));
}
