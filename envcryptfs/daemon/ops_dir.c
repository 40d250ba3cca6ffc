/* ops_dir.c - directory streams: the backing directory read in order, reserved names and
 * side files skipped, every other name decrypted (readdirplus looks each one up too). */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dir_handle {
	struct fs_handle h; /* first: the list gives back this address */
	struct inode *inode;
	DIR *dp;
	off_t offset;	      /* where dp stands, in the offsets the kernel sees */
	struct dirent *entry; /* read from dp but not yet returned */
};

static struct dir_handle *dh_of(const struct fuse_file_info *fi)
{
	return (struct dir_handle *)(uintptr_t)fi->fh;
}

static void dir_handle_free(struct fs_handle *h)
{
	struct dir_handle *d = (struct dir_handle *)h;

	fs_handle_untrack(h);
	closedir(d->dp);
	free(d);
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct inode *inode = inode_of(ino);
	struct dir_handle *d = calloc(1, sizeof(*d));
	int fd = -1, err = ENOMEM;

	if (!d)
		goto fail;
	fd = openat(inode->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		err = errno;
		goto fail;
	}
	d->inode = inode;
	fs_handle_track(&d->h, dir_handle_free);
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		dir_handle_free(&d->h);
	return;
fail:
	if (fd >= 0)
		close(fd);
	free(d);
	fuse_reply_err(req, err);
}

static bool is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Adds the pending entry to the reply buffer: its size (more than rem when it does not
 * fit, and then nothing is added), 0 to skip it, or a negative errno. */
static ssize_t add_entry(fuse_req_t req, struct dir_handle *d, char *p, size_t rem, bool plus)
{
	struct dirent *de = d->entry;
	struct fuse_entry_param e = {.attr.st_ino = de->d_ino, .attr.st_mode = DTTOIF(de->d_type)};
	char plain[ECFS_NAME_MAX + 1], full[ECFS_ENCODED_NAME_MAX];
	const char *name = de->d_name;
	size_t size;
	int r;

	if (!is_dot(name)) {
		r = names_decode(d->inode, dirfd(d->dp), name, plain, full);
		if (r != 0) /* damaged names are logged and skipped */
			return r < 0 && r != -EBADMSG ? r : 0;
		name = plain;
		if (plus) {
			r = names_lookup_disk(d->inode, de->d_name, full, &e);
			if (r < 0)
				return r == -ENOENT ? 0 : r; /* removed since readdir saw it */
		}
	}
	if (plus)
		size = fuse_add_direntry_plus(req, p, rem, name, &e, de->d_off);
	else
		size = fuse_add_direntry(req, p, rem, name, &e.attr, de->d_off);
	if (size > rem && e.ino)
		itab_unref(&fs.itab, inode_of(e.ino), 1);
	return (ssize_t)size;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct dir_handle *d = dh_of(fi);
	char *buf = fs_buffer(size), *p = buf;
	size_t rem = size;
	ssize_t n = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				n = errno ? -errno : 0;
				break;
			}
		}
		n = add_entry(req, d, p, rem, plus);
		if (n < 0 || (size_t)n > rem)
			break;
		p += n;
		rem -= (size_t)n;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	/* An error after some entries would lose their lookups: return those instead. */
	if (n < 0 && rem == size)
		fuse_reply_err(req, -(int)n);
	else
		fuse_reply_buf(req, buf, size - rem);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dir_handle_free(&dh_of(fi)->h);
	fuse_reply_err(req, 0);
}

void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int fd = dirfd(dh_of(fi)->dp), r;

	(void)ino;
	r = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, r < 0 ? errno : 0);
}
