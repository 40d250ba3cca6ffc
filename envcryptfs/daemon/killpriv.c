/* killpriv.c - FUSE_HANDLE_KILLPRIV_V2, which libfuse 3.14 cannot ask for, through its
 * custom-I/O hooks on the /dev/fuse descriptor (which also amend INIT for, and pass replies
 * to, the io_uring transport of uring.c).
 *
 * Without it the kernel asks the daemon for security.capability (a GETXATTR round trip) on
 * every write(2) to a file, to learn whether a write must drop file capabilities: for
 * random 4 KiB writes into the page cache that round trip was most of the cost. With it the
 * kernel marks inodes it has checked once as needing no check (S_NOSEC) until their
 * attributes change, and leaves clearing the set-user-ID and set-group-ID bits on write,
 * truncate and chown to the daemon: it flags the writes, truncates and O_TRUNC opens of
 * callers without CAP_FSETID, and every chown. The hooks see each request before libfuse
 * does: the flag of a write or open is handed on in its open flags (FS_O_KILL_SUIDGID), that
 * of a SETATTR arrives as FUSE_SET_ATTR_KILL_SUID (the same bit). The INIT reply gains the
 * flag only when the kernel offered it; otherwise the kernel clears the bits itself with a
 * SETATTR, as before. File capabilities cannot exist here: only user.* attributes are
 * stored.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

/* The unique ID of the INIT request, and whether the kernel offered killpriv v2; set while
 * INIT is served alone (serve_init), read-only afterwards. */
static uint64_t init_unique;
static bool init_offered;

void fs_killpriv_request(void *buf, size_t len)
{
	struct fuse_in_header *h = buf;
	size_t n = len;

	if (n < sizeof(*h))
		return;
	switch (h->opcode) {
	case FUSE_INIT:
		if (n >= sizeof(*h) + sizeof(struct fuse_init_in)) {
			struct fuse_init_in *in = (struct fuse_init_in *)(h + 1);

			init_unique = h->unique;
			init_offered = in->major == 7 && (in->flags & FUSE_HANDLE_KILLPRIV_V2);
			fs_uring_init_request(in, n - sizeof(*h));
		}
		break;
	case FUSE_WRITE:
		if (n >= sizeof(*h) + sizeof(struct fuse_write_in)) {
			struct fuse_write_in *in = (struct fuse_write_in *)(h + 1);

			if (in->write_flags & FUSE_WRITE_KILL_SUIDGID)
				in->flags |= FS_O_KILL_SUIDGID;
		}
		break;
	case FUSE_OPEN:
		if (n >= sizeof(*h) + sizeof(struct fuse_open_in)) {
			struct fuse_open_in *in = (struct fuse_open_in *)(h + 1);

			if (in->open_flags & FUSE_OPEN_KILL_SUIDGID)
				in->flags |= FS_O_KILL_SUIDGID;
		}
		break;
	}
}

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n > 0)
		fs_killpriv_request(buf, (size_t)n);
	return n;
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	ssize_t res;

	(void)userdata;
	/* A reply to a request that came through an io_uring entry goes back there. */
	if (fs_uring_capture(iov, count, &res))
		return res;
	/* The INIT reply: its header, then fuse_init_out. */
	if (init_unique && count >= 2 && iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
		struct fuse_out_header *o = iov[0].iov_base;

		if (o->unique == init_unique) {
			struct fuse_init_out *out = iov[1].iov_base;

			init_unique = 0;
			if (o->error == 0 && init_offered) {
				out->flags |= FUSE_HANDLE_KILLPRIV_V2;
				fs.killpriv = true;
			}
			if (o->error == 0)
				fs_uring_init_reply(out, iov[1].iov_len, fd);
		}
	}
	return writev(fd, iov, count);
}

int fs_killpriv_hook(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {.read = hook_read, .writev = hook_writev};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

int fs_kill_suidgid(int fd, const char *path)
{
	struct stat st;
	mode_t m;
	int r;

	r = fd >= 0 ? fstat(fd, &st) : stat(path, &st);
	if (r < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	m = st.st_mode & 07777 & ~(mode_t)S_ISUID;
	/* Set-group-ID without group execute is mandatory locking, not a privilege. */
	if ((m & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		m &= ~(mode_t)S_ISGID;
	if (m == (st.st_mode & 07777))
		return 0;
	r = fd >= 0 ? fchmod(fd, m) : chmod(path, m);
	return r < 0 ? -errno : 1;
}

void fs_kill_suidgid_notify(struct inode *inode, int fd)
{
	/* The kernel keeps the mode it cached across a write or an open: have it ask again.
	 * Only attributes (offset -1); this waits for no lock the request holds. */
	if (fs_kill_suidgid(fd, NULL) > 0)
		fuse_lowlevel_notify_inval_inode(fs.se, ino_of(inode), -1, 0);
}
