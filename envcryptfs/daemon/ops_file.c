/* ops_file.c - open regular files: create, open, read, write, release, fsync and fallocate
 * (lseek is in seek.c). One blob read or write per request, under the inode's io lock. There
 * is no flush: writes reach the backing file when they are made, so close has nothing to add,
 * and the kernel stops sending FLUSH (a round trip per close) once it is told ENOSYS. */
#include "daemon.h"
#include "ecfs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static void handle_free(struct fs_handle *h)
{
	struct open_file *fh = (struct open_file *)h;

	fs_handle_untrack(h);
	file_closed(fh->inode, fh->fd, fh->writable);
	close(fh->fd);
	free(fh);
}

static struct open_file *handle_new(struct inode *inode, int fd, int flags)
{
	struct open_file *fh = calloc(1, sizeof(*fh));

	if (!fh || file_opened(inode) < 0) {
		free(fh);
		return NULL;
	}
	fh->inode = inode;
	fh->fd = fd;
	/* With the writeback cache the kernel places appended data itself. */
	fh->append = (flags & O_APPEND) && !fs.writeback;
	fh->writable = (flags & O_ACCMODE) != O_RDONLY;
	fs_handle_track(&fh->h, handle_free);
	return fh;
}

/* True when the backing file is as it was at the last open, or as the daemon's own changes
 * since left it (the kernel saw those: they came through it): the kernel's cached pages are
 * then still right. */
static bool unchanged_since_open(struct inode *inode, const struct stat *st)
{
	struct inode_content *c = inode->content; /* made by the open (file_opened) */
	bool same;

	pthread_mutex_lock(&inode->lock);
	same = c->seen_open && c->open_size == st->st_size &&
	       c->open_mtime.tv_sec == st->st_mtim.tv_sec &&
	       c->open_mtime.tv_nsec == st->st_mtim.tv_nsec;
	c->seen_open = true;
	c->open_size = st->st_size;
	c->open_mtime = st->st_mtim;
	pthread_mutex_unlock(&inode->lock);
	return same;
}

void fs_note_own_change(struct inode *inode, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return;
	pthread_mutex_lock(&inode->lock);
	/* A truncate by path of a file never opened has nothing cached to keep. */
	if (inode->content && inode->content->seen_open) {
		inode->content->open_size = st.st_size;
		inode->content->open_mtime = st.st_mtim;
	}
	pthread_mutex_unlock(&inode->lock);
}

/* st: the blob's fstat, taken when it was opened. cut (format 2): the blob is shorter than its
 * header says, so reads must reach the daemon past the size the kernel cached (the blob's),
 * to fail there; stat is to show the header's. */
static void set_open_flags(struct fuse_file_info *fi, struct inode *inode, const struct stat *st,
			   bool cut)
{
	if ((fi->flags & O_DIRECT) || cut)
		fi->direct_io = 1;
	else
		fi->keep_cache = unchanged_since_open(inode, st);
	if (cut)
		fuse_lowlevel_notify_inval_inode(fs.se, ino_of(inode), -1, 0);
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct open_file *fh;
	struct inode *inode;
	struct stat st;
	int fd, r = fs_make_file(req, inode_of(parent), name, mode, &e, &fd);

	if (r == 0 && fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		itab_unref(&fs.itab, inode_of(e.ino), 1);
	}
	if (r < 0) {
		fuse_reply_err(req, fs_errno(r));
		return;
	}
	inode = inode_of(e.ino);
	fh = handle_new(inode, fd, fi->flags);
	if (!fh) {
		close(fd);
		itab_unref(&fs.itab, inode, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	set_open_flags(fi, inode, &st, false);
	fi->fh = (uintptr_t)fh;
	if (fuse_reply_create(req, &e, fi) != 0) {
		handle_free(&fh->h);
		itab_unref(&fs.itab, inode, 1);
	}
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct inode *inode = inode_of(ino);
	struct open_file *fh;
	struct stat st;
	bool kill = fi->flags & FS_O_KILL_SUIDGID, cut;
	int acc = fi->flags & O_ACCMODE, fd, r = 0;

	fi->flags &= ~FS_O_KILL_SUIDGID;

	if (fs.read_only && (acc != O_RDONLY || (fi->flags & O_TRUNC))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fd = file_open_backing(inode, fi->flags);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	/* The kernel leaves O_TRUNC to us (atomic_o_trunc). */
	if ((fi->flags & O_TRUNC) && acc != O_RDONLY) {
		pthread_rwlock_wrlock(&inode->io);
		r = file_truncate(inode, fd, 0);
		if (r == 0 && kill)
			fs_kill_suidgid_notify(inode, fd);
		pthread_rwlock_unlock(&inode->io);
	}
	fh = r < 0 ? NULL : handle_new(inode, fd, fi->flags);
	if (!fh) {
		close(fd);
		fuse_reply_err(req, r < 0 ? fs_errno(r) : ENOMEM);
		return;
	}
	/* Format 2: a blob whose header fails its checks does not open. */
	r = file_check_open(inode, fd, &st, &cut);
	if (r < 0) {
		handle_free(&fh->h);
		fuse_reply_err(req, fs_errno(r));
		return;
	}
	set_open_flags(fi, inode, &st, cut);
	fi->fh = (uintptr_t)fh;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(&fh->h);
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct open_file *fh = fh_of(fi);
	struct ecfs_crypto *c = fs_crypto();
	const struct ecfs_file_key *key = NULL;
	void *buf = fs_buffer(size);
	uint64_t bad = 0;
	ssize_t n;

	(void)ino;
	if (!c || !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_rwlock_rdlock(&fh->inode->io);
	n = file_key(fh->inode, fh->fd, false, &key);
	if (n == 0 && key)
		n = ecfs_blob_pread(c, key, fh->fd, buf, size, (uint64_t)off, &bad);
	/* Format 2: never a short read where the header says there is more. */
	if (n >= 0 && key) {
		int r = file_read_check(fh->inode, fh->fd, (uint64_t)off, size, (size_t)n);

		n = r < 0 ? r : n;
	}
	pthread_rwlock_unlock(&fh->inode->io);
	if (n == -EBADMSG)
		fs_log_bad_chunk(fh->inode, bad);
	if (n < 0) {
		fuse_reply_err(req, fs_errno((int)n));
		return;
	}
	__atomic_add_fetch(&fs.bytes_read, (uint64_t)n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&fs.read_ops, 1, __ATOMIC_RELAXED);
	fuse_reply_buf(req, buf, (size_t)n);
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct open_file *fh = fh_of(fi);
	struct ecfs_crypto *c = fs_crypto();
	const struct ecfs_file_key *key = NULL;
	uint64_t bad = 0, pos = (uint64_t)off;
	ssize_t n;

	(void)ino;
	__atomic_add_fetch(&fs.writes_taken, 1, __ATOMIC_RELAXED);
	if (!c) {
		__atomic_add_fetch(&fs.write_errors, 1, __ATOMIC_RELAXED);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_rwlock_wrlock(&fh->inode->io);
	ecfs_fault_write_delay();
	n = file_key(fh->inode, fh->fd, true, &key);
	/* killpriv v2: an unprivileged write clears the set-ID bits (the kernel says when). A
	 * failure to clear them is not the write's: the kernel ignores it as well. */
	if (n == 0 && (fi->flags & FS_O_KILL_SUIDGID))
		fs_kill_suidgid_notify(fh->inode, fh->fd);
	/* O_APPEND without the writeback cache: the end is known only here, under the lock. */
	if (n == 0 && fh->append)
		n = file_plain_size(fh->fd, &pos);
	if (n == 0)
		n = holes_before_write(fh->inode, fh->fd, pos);
	/* The data lies in this worker's receive buffer, which nothing reads again before the
	 * next request: it is encrypted there. */
	if (n == 0)
		n = ecfs_blob_pwrite_in_place(c, key, fh->fd, (void *)buf, size, pos, &bad);
	if (n > 0)
		holes_note_written(fh->inode, pos / fs.chunk_size,
				   (pos + (uint64_t)n + fs.chunk_size - 1) / fs.chunk_size);
	if (n >= 0) {
		int r = file_tail_sync(fh->inode, fh->fd);

		n = r < 0 ? r : n;
	}
	if (n >= 0)
		fs_note_own_change(fh->inode, fh->fd);
	pthread_rwlock_unlock(&fh->inode->io);
	if (n == -EBADMSG)
		fs_log_bad_chunk(fh->inode, bad);
	if (n < 0) {
		__atomic_add_fetch(&fs.write_errors, 1, __ATOMIC_RELAXED);
		fuse_reply_err(req, fs_errno((int)n));
		return;
	}
	__atomic_add_fetch(&fs.bytes_written, (uint64_t)n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&fs.write_ops, 1, __ATOMIC_RELAXED);
	fuse_reply_write(req, (size_t)n);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	handle_free(&fh_of(fi)->h);
	fuse_reply_err(req, 0);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct open_file *fh = fh_of(fi);
	int fd = fh->fd, fl, r;

	(void)ino;
	/* A reader's handle holds an O_RDWR descriptor too, unless the daemon may not write
	 * the blob: the kernel may fsync through it what other handles wrote. */
	fl = fcntl(fd, F_GETFL);
	pthread_rwlock_wrlock(&fh->inode->io);
	r = file_commit(fh->inode, fd, fl >= 0 && (fl & O_ACCMODE) != O_RDONLY);
	pthread_rwlock_unlock(&fh->inode->io);
	if (r == 0 && (datasync ? fdatasync(fd) : fsync(fd)) < 0)
		r = -errno;
	fuse_reply_err(req, fs_errno(r));
}

void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     struct fuse_file_info *fi)
{
	struct open_file *fh = fh_of(fi);
	int r;

	(void)ino;
	if (fs.read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_rwlock_wrlock(&fh->inode->io);
	r = file_fallocate(fh->inode, fh->fd, mode, (uint64_t)off, (uint64_t)len);
	if (r == 0)
		fs_note_own_change(fh->inode, fh->fd);
	pthread_rwlock_unlock(&fh->inode->io);
	fuse_reply_err(req, fs_errno(r));
}
