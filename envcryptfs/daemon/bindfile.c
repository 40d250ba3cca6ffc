/* bindfile.c - format 2: a regular file is bound to its name by the name tag in its blob
 * header, or, once it has more than one name (LINKED), by the tags in its link file; checked
 * at open against the place the inode was found at. A rename carries the file through both
 * names; link(2) and unlink(2) add and remove names (man/envcryptfs.5, "Binding"). */
#include "daemon.h"
#include "ecfs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static const uint8_t zero_tag[ECFS_BIND_TAG_SIZE];

int bind_file_new(struct ecfs_blob_header *h, const struct ecfs_place *at)
{
	memset(h->name_tag, 0, sizeof(h->name_tag));
	if (!names_bound())
		return 0;
	return ecfs_file_name_tag(fs.vol, h->file_id, at, h->name_tag[0]);
}

/* True when h names at (either tag: a rename may be under way). */
static bool header_names(const struct ecfs_blob_header *h, const struct ecfs_place *at)
{
	uint8_t tag[ECFS_BIND_TAG_SIZE];

	if (ecfs_file_name_tag(fs.vol, h->file_id, at, tag) < 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (memcmp(h->name_tag[i], zero_tag, sizeof(tag)) != 0 &&
		    memcmp(h->name_tag[i], tag, sizeof(tag)) == 0)
			return true;
	return false;
}

static int bound_elsewhere(struct inode *inode, const char *what)
{
	fs_log_damage(inode, FS_DAMAGE_PLACE,
		      "file bound to another place (moved or swapped?): its blob header does not "
		      "name this place; %s fails with EIO",
		      what);
	return -EIO;
}

/* Adds tag add and removes tag del (either may be NULL) in the link file of file_id; a file
 * left with no name loses its link file. */
static int links_change(const uint8_t file_id[ECFS_FILE_ID_SIZE], const uint8_t *add,
			const uint8_t *del)
{
	struct ecfs_links l;
	int r = ecfs_links_read(fs.vol, fs.root->fd, file_id, &l);

	if (r == -ENOENT && add)
		r = 0; /* made anew */
	if (r < 0)
		return r;
	if (add)
		r = ecfs_links_add(&l, add);
	if (r == 0 && del)
		ecfs_links_remove(&l, del);
	if (r == 0)
		r = l.count ? ecfs_links_write(fs.vol, fs.root->fd, file_id, &l)
			    : ecfs_links_delete(fs.root->fd, file_id);
	ecfs_links_free(&l);
	return r;
}

/* 0 when the file with header h has a name at place at; -EBADMSG when not (or its link file
 * is missing or damaged, which is logged for inode). */
static int names_place(struct inode *inode, const struct ecfs_blob_header *h,
		       const struct ecfs_place *at)
{
	uint8_t tag[ECFS_BIND_TAG_SIZE];
	struct ecfs_links l;
	int r;

	if (!(h->flags & ECFS_BLOB_LINKED))
		return header_names(h, at) ? 0 : -EBADMSG;
	r = ecfs_file_name_tag(fs.vol, h->file_id, at, tag);
	if (r == 0)
		r = ecfs_links_read(fs.vol, fs.root->fd, h->file_id, &l);
	if (r == -ENOENT || r == -EUCLEAN || r == -EPROTONOSUPPORT || r == -EBADMSG) {
		if (inode)
			fs_log_damage(inode, FS_DAMAGE_HEADER, "link file: %s",
				      r == -ENOENT ? "missing" : ecfs_last_error());
		return -EIO;
	}
	if (r < 0)
		return r;
	r = ecfs_links_find(&l, tag) >= 0 ? 0 : -EBADMSG;
	ecfs_links_free(&l);
	return r;
}

/* True when inode's backing file has no name left: opened through a name the kernel still
 * holds after its last unlink (a hard-linked file's link file went with that name), there
 * is no place to check. */
static bool removed(struct inode *inode)
{
	int fd = inode_fd_get(inode);
	struct stat st;
	bool gone = fd >= 0 && fstat(fd, &st) == 0 && st.st_nlink == 0;

	inode_fd_put(inode, fd);
	return gone;
}

int bind_file_check(struct inode *inode, const struct ecfs_blob_header *h)
{
	char name[ECFS_ENCODED_NAME_MAX];
	struct ecfs_place at;
	bool gone;
	int r;

	if (!names_bound())
		return 0;
	/* The common case first, without a stat: a file with one name, opened where its header
	 * says. (A LINKED file asks its link file, which goes with its last name.) */
	if (!(h->flags & ECFS_BLOB_LINKED) && names_get_place(inode, &at, name) == 0 &&
	    header_names(h, &at))
		return 0;
	if (removed(inode))
		return 0;
	/* Whether the place is gone is read with it: a lookup of another name may record that
	 * one (and clear place_gone) while the link file is read, and the place checked here
	 * must not then be taken for a live one. */
	r = names_get_place_gone(inode, &at, name, &gone);
	if (r == 0)
		r = names_place(inode, h, &at);
	if (r == -EBADMSG && (h->flags & ECFS_BLOB_LINKED))
		ecfs_fault_bind_check_delay();
	if (r == -EBADMSG && (h->flags & ECFS_BLOB_LINKED) && gone)
		return 0; /* opened through another name the kernel holds */
	if (r == -EBADMSG)
		return bound_elsewhere(inode, "opening it");
	return r;
}

/* The current header of the file open as fd: the daemon's copy while a key is loaded. */
static int header_current(struct inode *inode, int fd, struct ecfs_blob_header *h)
{
	if (inode && inode_file_key(inode)) {
		*h = inode->content->blob;
		return 0;
	}
	return ecfs_blob_header_read(fs.vol, fd, h);
}

/* Writes h as the header of b's file, and keeps the daemon's copy in step. */
static int header_store(struct rebind_file *b, const struct ecfs_blob_header *h)
{
	int r = ecfs_blob_header_write(fs.vol, b->fd, h);

	if (r == 0 && b->inode && inode_file_key(b->inode)) {
		pthread_mutex_lock(&b->inode->lock);
		b->inode->content->blob = *h;
		pthread_mutex_unlock(&b->inode->lock);
	}
	if (r == 0 && b->inode)
		file_note_header(b->inode, h);
	return r;
}

/* A rename is no change to the file: the times its header's read and writes moved go back
 * (rsync renames a file after setting them), before the io lock goes. */
static void rebind_file_release(struct rebind_file *b)
{
	if (b->fd >= 0)
		times_put_back(b->fd, &b->times);
	if (b->inode) {
		pthread_rwlock_unlock(&b->inode->io);
		itab_unref(&fs.itab, b->inode, 1);
		b->inode = NULL;
	}
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/* Writes the header with the tags of from and to, durably, before the rename(2). */
static int rebind_file_both(struct rebind_file *b)
{
	struct ecfs_blob_header h;
	int r = header_current(b->inode, b->fd, &h);

	/* A blob without a usable header reads as EIO wherever it is: nothing to carry. */
	if (r == -ENODATA || r == -EUCLEAN || r == -EBADMSG || r == -EPROTONOSUPPORT)
		return 1;
	if (r < 0)
		return r;
	r = names_place(b->inode, &h, b->from);
	if (r < 0)
		return r;
	memcpy(b->file_id, h.file_id, sizeof(b->file_id));
	b->linked = h.flags & ECFS_BLOB_LINKED;
	if (b->linked) {
		/* The new name's tag before the rename, the old one's after. */
		r = ecfs_file_name_tag(fs.vol, h.file_id, b->to, b->tag_to);
		if (r == 0)
			r = links_change(h.file_id, b->tag_to, NULL);
		return r;
	}
	r = ecfs_file_name_tag(fs.vol, h.file_id, b->from, h.name_tag[0]);
	if (r == 0)
		r = ecfs_file_name_tag(fs.vol, h.file_id, b->to, h.name_tag[1]);
	if (r == 0)
		r = header_store(b, &h);
	if (r == 0 && fdatasync(b->fd) < 0)
		r = -errno;
	return r;
}

int rebind_file_begin(struct inode *parent, const char *disk, const struct ecfs_place *from,
		      const struct ecfs_place *to, const struct inode *held, struct rebind_file *b)
{
	struct stat st;
	int r;

	b->fd = -1;
	b->inode = NULL;
	b->from = from;
	b->to = to;
	b->carry = false;
	b->linked = false;
	b->times.kept = false;
	if (!names_bound())
		return 0;
	b->fd = openat(parent->fd, disk, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (b->fd < 0)
		return -errno;
	if (fstat(b->fd, &st) < 0) {
		r = -errno;
		rebind_file_release(b);
		return r;
	}
	times_keep(&st, &b->times);
	/* Header updates of one file are serialized under its io lock. */
	b->inode = itab_peek(&fs.itab, b->fd, &st);
	if (b->inode && b->inode == held) {
		itab_unref(&fs.itab, b->inode, 1);
		b->inode = NULL;
		rebind_file_release(b);
		fs_log_bad_name(parent, disk,
				"now leads to the other file of the rename (changed in the backing "
				"directory meanwhile); the rename fails with EIO");
		return -EIO;
	}
	if (b->inode)
		pthread_rwlock_wrlock(&b->inode->io);
	r = rebind_file_both(b);
	if (r == -EBADMSG && b->inode)
		bound_elsewhere(b->inode, "renaming it");
	if (r < 0)
		rebind_file_release(b);
	b->carry = r == 0;
	/* A file bound elsewhere is not legitimized by moving it. */
	return r == -EBADMSG ? -EIO : r > 0 ? 0 : r;
}

void rebind_file_end(struct rebind_file *b, bool moved)
{
	const struct ecfs_place *at = moved ? b->to : b->from;
	struct ecfs_blob_header h;
	int r;

	if (b->fd < 0)
		return;
	if (moved && b->inode)
		names_set_place(b->inode, at->parent_id, at->name);
	if (!b->carry) {
		rebind_file_release(b);
		return;
	}
	if (b->linked) {
		uint8_t gone[ECFS_BIND_TAG_SIZE];

		r = moved ? ecfs_file_name_tag(fs.vol, b->file_id, b->from, gone) : 0;
		if (r == 0)
			r = links_change(b->file_id, NULL, moved ? gone : b->tag_to);
		if (r < 0)
			fs_log(LOG_WARNING, "cannot drop the old name from a link file: %s",
			       ecfs_strerror(r));
		rebind_file_release(b);
		return;
	}
	/* Left with both tags (a crash, a full disk), the file opens under either name. */
	r = header_current(b->inode, b->fd, &h);
	if (r == 0) {
		memset(h.name_tag, 0, sizeof(h.name_tag));
		r = ecfs_file_name_tag(fs.vol, h.file_id, at, h.name_tag[0]);
	}
	if (r == 0)
		r = header_store(b, &h);
	if (r < 0)
		fs_log(LOG_WARNING, "cannot drop the old name from a blob header: %s",
		       ecfs_strerror(r));
	rebind_file_release(b);
}

/* Takes inode's io lock (when known) and reads the header of regular file disk in parent,
 * open as *fd. 1: nothing to do (not a regular file, no usable header). The lock is held
 * until unbind_file_end even for a file with one name: a link(2) of it under way
 * (bind_file_link) must see the name go wholly before or wholly after it. */
static int unbind_open(int parentfd, const char *disk, const struct inode *held,
		       struct unbind_file *u, struct ecfs_blob_header *h)
{
	struct stat st;
	int r;

	u->fd = openat(parentfd, disk, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (u->fd < 0)
		return -errno;
	if (fstat(u->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 1; /* replaced since the caller's stat */
	times_keep(&st, &u->times);
	u->inode = itab_peek(&fs.itab, u->fd, &st);
	if (u->inode && u->inode == held) { /* its io lock is the caller's already */
		itab_unref(&fs.itab, u->inode, 1);
		u->inode = NULL;
	}
	if (u->inode)
		pthread_rwlock_wrlock(&u->inode->io);
	r = header_current(u->inode, u->fd, h);
	if (r == 0 && u->inode)
		file_note_header(u->inode, h);
	return r < 0 ? 1 : 0;
}

/* A name of a file the daemon holds (st: its lstat), removed without a read of its header
 * when that is not needed now: when the daemon knows the header has neither LINKED nor
 * SPARSE; or when this is the last name and the flags are not known, which leaves the
 * header to bind_file_forget (rm -rf of a tree the daemon has only listed). Takes the io
 * lock, held until unbind_file_end. */
static bool unbind_held(const struct stat *st, const struct inode *held, struct unbind_file *u)
{
	struct inode *inode = itab_peek_held(&fs.itab, st);
	bool plain, unknown;

	if (inode && inode == held)
		itab_unref(&fs.itab, inode, 1);
	if (!inode || inode == held)
		return false;
	pthread_rwlock_wrlock(&inode->io);
	pthread_mutex_lock(&inode->lock);
	unknown = !inode->header_flags_known;
	plain = !unknown && !(inode->header_flags & (ECFS_BLOB_LINKED | ECFS_BLOB_SPARSE));
	pthread_mutex_unlock(&inode->lock);
	if (plain || (unknown && st->st_nlink == 1)) {
		u->inode = inode;
		u->later = !plain;
		return true;
	}
	pthread_rwlock_unlock(&inode->io);
	itab_unref(&fs.itab, inode, 1);
	return false;
}

/* Removing one name is no change to the file: the time its header's read moved goes back
 * for the names left, before the io lock goes. */
static void unbind_release(struct unbind_file *u)
{
	if (u->fd >= 0)
		times_put_back(u->fd, &u->times);
	u->times.kept = false;
	if (u->inode) {
		pthread_rwlock_unlock(&u->inode->io);
		itab_unref(&fs.itab, u->inode, 1);
		u->inode = NULL;
	}
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	u->linked = u->sparse = u->later = false;
}

void unbind_file_begin(int parentfd, const char *disk, const struct stat *st,
		       const struct ecfs_place *at, const struct inode *held, struct unbind_file *u)
{
	struct ecfs_blob_header h;
	struct stat own;

	u->fd = -1;
	u->inode = NULL;
	u->linked = u->sparse = u->later = false;
	u->times.kept = false;
	u->at = at;
	if (!names_bound())
		return;
	if (!st && fstatat(parentfd, disk, &own, AT_SYMLINK_NOFOLLOW) == 0)
		st = &own;
	/* Only regular files have headers; never open another kind of entry (a device). */
	if (!st || !S_ISREG(st->st_mode) || unbind_held(st, held, u))
		return;
	if (unbind_open(parentfd, disk, held, u, &h) != 0 ||
	    ecfs_file_name_tag(fs.vol, h.file_id, at, u->tag) < 0) {
		unbind_release(u);
		return;
	}
	memcpy(u->file_id, h.file_id, sizeof(u->file_id));
	u->linked = h.flags & ECFS_BLOB_LINKED;
	u->sparse = h.flags & ECFS_BLOB_SPARSE;
	u->at = at;
}

/* After the name at place at of u's file went: the inode's recorded place may be that name. */
static void mark_place_gone(struct unbind_file *u)
{
	struct inode *inode = u->inode;

	if (!inode)
		return;
	pthread_mutex_lock(&inode->lock);
	if (inode->place_name && strcmp(inode->place_name, u->at->name) == 0 &&
	    memcmp(inode->place_parent, u->at->parent_id, ECFS_DIR_ID_SIZE) == 0)
		inode->place_gone = true;
	pthread_mutex_unlock(&inode->lock);
}

/* A name removed without reading the header as the file's last, which is not the last after
 * all (another was made in the backing directory since the lstat): what unbind_file_begin
 * would have done, now, through the inode's descriptor. */
static void unbind_not_last(struct unbind_file *u)
{
	uint8_t tag[ECFS_BIND_TAG_SIZE];
	struct ecfs_blob_header h;
	int r = file_header_read(u->inode, &h);

	if (r < 0)
		return;
	file_note_header(u->inode, &h);
	if (!(h.flags & ECFS_BLOB_LINKED))
		return;
	r = ecfs_file_name_tag(fs.vol, h.file_id, u->at, tag);
	if (r == 0)
		r = links_change(h.file_id, NULL, tag);
	if (r < 0)
		fs_log(LOG_WARNING, "cannot drop a removed name from a link file: %s",
		       ecfs_strerror(r));
}

/* After the last name of a file went without its header read (unbind_held). */
static void unbind_later_end(struct unbind_file *u)
{
	struct stat st;

	if (fstat(u->inode->fd, &st) == 0 && st.st_nlink != 0) {
		unbind_not_last(u);
		return;
	}
	pthread_mutex_lock(&u->inode->lock);
	u->inode->unlinked_unread = true;
	pthread_mutex_unlock(&u->inode->lock);
}

void unbind_file_end(struct unbind_file *u, bool removed)
{
	struct stat st;
	int r = 0;

	if (u->later && removed)
		unbind_later_end(u);
	if ((u->linked || u->sparse) && removed) {
		bool last = fstat(u->fd, &st) == 0 && st.st_nlink == 0;

		if (last && u->sparse)
			holes_unlinked(u->inode, u->file_id);
		if (!u->linked)
			r = 0;
		else if (last)
			r = ecfs_links_delete(fs.root->fd, u->file_id);
		else
			r = links_change(u->file_id, NULL, u->tag);
		if (r < 0)
			fs_log(LOG_WARNING, "cannot drop a removed name from a link file: %s",
			       ecfs_strerror(r));
		if (u->linked)
			mark_place_gone(u);
	}
	unbind_release(u);
}

/* The link file of the file with header h (found at place at) with a new name at to. */
static int links_with(const struct ecfs_blob_header *h, const struct ecfs_place *at,
		      const struct ecfs_place *to)
{
	uint8_t tag[ECFS_BIND_TAG_SIZE];
	struct ecfs_links l = {0};
	int r = 0;

	if (h->flags & ECFS_BLOB_LINKED)
		r = ecfs_links_read(fs.vol, fs.root->fd, h->file_id, &l);
	else if ((r = ecfs_file_name_tag(fs.vol, h->file_id, at, tag)) == 0)
		r = ecfs_links_add(&l, tag);
	if (r == 0)
		r = ecfs_file_name_tag(fs.vol, h->file_id, to, tag);
	if (r == 0)
		r = ecfs_links_add(&l, tag);
	if (r == 0)
		r = ecfs_links_write(fs.vol, fs.root->fd, h->file_id, &l);
	ecfs_links_free(&l);
	return r;
}

/* linkat of the file open as fd to disk in dirfd; with AT_EMPTY_PATH it would need
 * CAP_DAC_READ_SEARCH, the /proc link works for all. */
static int link_at(int fd, int dirfd, const char *disk)
{
	char proc[32];

	fs_proc_path(fd, proc);
	return linkat(AT_FDCWD, proc, dirfd, disk, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

/* Format 2, under inode's io lock: the name at the inode's place must be the file's, and the
 * link file names every name and the new one before the new one exists (LINKED set). */
static int link_prepare(struct inode *inode, int fd, const struct ecfs_place *to,
			struct ecfs_blob_header *h)
{
	char name[ECFS_ENCODED_NAME_MAX];
	struct ecfs_place at;
	struct stat st;
	bool gone = false;
	int r = fstat(fd, &st) < 0 ? -errno : 0;

	/* Its last name went meanwhile: linkat would fail, and a link file made now would
	 * outlive the file. */
	if (r == 0 && st.st_nlink == 0)
		r = -ENOENT;
	if (r == 0)
		r = header_current(inode, fd, h);
	if (r == -ENODATA || r == -EUCLEAN || r == -EBADMSG || r == -EPROTONOSUPPORT)
		r = -EIO; /* no header to bind the new name in */
	if (r == 0)
		r = names_get_place_gone(inode, &at, name, &gone);
	if (r == 0)
		r = names_place(inode, h, &at);
	if (r == -EBADMSG && (h->flags & ECFS_BLOB_LINKED) && gone)
		r = 0; /* reached through another name the kernel holds */
	if (r == -EBADMSG)
		r = bound_elsewhere(inode, "linking it");
	if (r == 0)
		r = links_with(h, &at, to);
	if (r == 0 && !(h->flags & ECFS_BLOB_LINKED)) {
		struct rebind_file b = {.fd = fd, .inode = inode};

		h->flags |= ECFS_BLOB_LINKED;
		r = header_store(&b, h);
		if (r == 0 && fdatasync(fd) < 0)
			r = -errno;
	}
	return r;
}

int bind_file_link(struct inode *inode, int linkfd, const struct ecfs_place *to, int dirfd,
		   const char *disk)
{
	uint8_t tag[ECFS_BIND_TAG_SIZE];
	struct ecfs_blob_header h;
	struct kept_times times;
	int fd, r;

	if (!names_bound() || !S_ISREG(inode->type))
		return link_at(linkfd, dirfd, disk);
	fd = file_open_backing(inode, O_RDWR);
	if (fd < 0)
		return fd;
	/* Held across linkat: an unlink of the file's last other name (unbind_file_begin takes
	 * the same lock) comes wholly before, and is seen here, or wholly after. */
	pthread_rwlock_wrlock(&inode->io);
	/* A link is no change to the file: the times its header's read and write move go back
	 * (cp -a and tar link a file after setting them). */
	r = times_note(fd, &times);
	if (r == 0)
		r = link_prepare(inode, fd, to, &h);
	if (r == 0) {
		r = link_at(linkfd, dirfd, disk);
		/* The new name did not come: its tag leaves the link file again. */
		if (r < 0 && ecfs_file_name_tag(fs.vol, h.file_id, to, tag) == 0)
			links_change(h.file_id, NULL, tag);
	}
	times_put_back(fd, &times);
	pthread_rwlock_unlock(&inode->io);
	close(fd);
	return r;
}

void bind_file_forget(struct inode *inode)
{
	int rootfd = ecfs_volume_dirfd(fs.vol);
	struct ecfs_blob_header h;
	struct stat st;

	if (!inode->unlinked_unread || inode->fd < 0)
		return;
	/* A name it got back meanwhile (none can: link(2) refuses a file with no name) would
	 * keep its link file. An unusable header leaves both to fsck, as at unlink. */
	if (fstat(inode->fd, &st) < 0 || st.st_nlink != 0 || file_header_read(inode, &h) < 0)
		return;
	if (h.flags & ECFS_BLOB_LINKED)
		(void)ecfs_links_delete(rootfd, h.file_id);
	if (h.flags & ECFS_BLOB_SPARSE)
		(void)ecfs_holes_delete(rootfd, h.file_id);
}
