/* xattr.c - extended attributes: only the user.* namespace, stored as "user." + the name
 * encrypted like a file name (under an all-zero directory ID) with the value sealed. */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define USER_PREFIX	"user."
#define USER_PREFIX_LEN 5
#define XATTR_DOMAIN	"xattr"
/* The kernel's limit on the length of a whole attribute name. */
#define XATTR_NAME_LIMIT 255

static const uint8_t zero_dir_id[ECFS_DIR_ID_SIZE];

/* The backing name of user attribute name. */
static int backing_name(const char *name, char out[XATTR_NAME_LIMIT + 1])
{
	struct ecfs_crypto *c = fs_crypto();
	struct ecfs_disk_name dn;
	int r;

	if (strncmp(name, USER_PREFIX, USER_PREFIX_LEN) != 0)
		return -EOPNOTSUPP;
	if (!c)
		return -ENOMEM;
	name += USER_PREFIX_LEN;
	r = ecfs_name_encrypt(c, zero_dir_id, name, strlen(name), &dn);
	if (r == -ENAMETOOLONG)
		return -ERANGE;
	if (r < 0)
		return r;
	/* Encryption makes names longer: about 159 plaintext bytes fit after "user.". */
	if (USER_PREFIX_LEN + strlen(dn.full) > XATTR_NAME_LIMIT)
		return -ERANGE;
	memcpy(out, USER_PREFIX, USER_PREFIX_LEN);
	memcpy(out + USER_PREFIX_LEN, dn.full, strlen(dn.full) + 1);
	return 0;
}

/* The attribute calls on the backing inode. Symlinks carry no user attributes on Linux and
 * their /proc link cannot name the symlink itself, so they are answered here. */
static int target(struct inode *inode, char proc[32], int symlink_err, int *fd)
{
	*fd = -1;
	if (S_ISLNK(inode->type))
		return symlink_err;
	*fd = inode_fd_get(inode);
	if (*fd < 0)
		return *fd;
	fs_proc_path(*fd, proc);
	return 0;
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags)
{
	char proc[32], bname[XATTR_NAME_LIMIT + 1];
	struct ecfs_crypto *c = fs_crypto();
	uint8_t *sealed = NULL;
	int fd = -1, r = fs.read_only ? -EROFS : backing_name(name, bname);

	if (r == 0)
		r = target(inode_of(ino), proc, -EPERM, &fd);
	if (r == 0 && !(sealed = malloc(size + ECFS_SEAL_OVERHEAD)))
		r = -ENOMEM;
	if (r == 0)
		r = ecfs_seal(c, XATTR_DOMAIN, (const uint8_t *)value, size, sealed);
	if (r >= 0)
		r = setxattr(proc, bname, sealed, (size_t)r, flags) < 0 ? -errno : 0;
	inode_fd_put(inode_of(ino), fd);
	free(sealed);
	fuse_reply_err(req, fs_errno(r));
}

/* Reads and unseals a value into *out (malloc'd); returns its length. */
static ssize_t get_value(struct inode *inode, const char *proc, const char *bname, size_t size,
			 uint8_t **out)
{
	struct ecfs_crypto *c = fs_crypto();
	uint8_t *sealed = malloc(size + ECFS_SEAL_OVERHEAD), *plain = malloc(size + 1);
	ssize_t n = -ENOMEM;

	if (c && sealed && plain) {
		n = getxattr(proc, bname, sealed, size + ECFS_SEAL_OVERHEAD);
		if (n < 0)
			n = -errno;
	}
	if (n >= 0)
		n = ecfs_unseal(c, XATTR_DOMAIN, sealed, (size_t)n, plain);
	if (n == -EBADMSG)
		fs_log_damage(inode, FS_DAMAGE_XATTR,
			      "an extended attribute value failed "
			      "authentication; reading it fails with EIO");
	free(sealed);
	if (n < 0)
		free(plain);
	else
		*out = plain;
	return n;
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char proc[32], bname[XATTR_NAME_LIMIT + 1];
	struct inode *inode = inode_of(ino);
	uint8_t *value = NULL;
	ssize_t n = backing_name(name, bname);
	int fd = -1;

	if (n == 0)
		n = target(inode, proc, -ENODATA, &fd);
	if (n == 0 && size == 0) {
		/* The length alone: the sealed value is longer by a fixed amount. */
		n = getxattr(proc, bname, NULL, 0);
		if (n < 0)
			n = -errno;
		inode_fd_put(inode, fd);
		if (n >= 0)
			fuse_reply_xattr(
			    req, n >= ECFS_SEAL_OVERHEAD ? (size_t)n - ECFS_SEAL_OVERHEAD : 0);
		else
			fuse_reply_err(req, (int)-n);
		return;
	}
	if (n == 0)
		n = get_value(inode, proc, bname, size, &value);
	inode_fd_put(inode, fd);
	if (n < 0) {
		fuse_reply_err(req, fs_errno((int)n));
		return;
	}
	fuse_reply_buf(req, (const char *)value, (size_t)n);
	free(value);
}

/* The backing list of attribute names, malloc'd; returns its length. */
static ssize_t backing_list(const char *proc, char **out)
{
	for (;;) {
		ssize_t n = listxattr(proc, NULL, 0);
		char *list;

		if (n < 0)
			return -errno;
		list = malloc((size_t)n + 1);
		if (!list)
			return -ENOMEM;
		n = listxattr(proc, list, (size_t)n);
		if (n >= 0) {
			*out = list;
			return n;
		}
		free(list);
		if (errno != ERANGE) /* ERANGE: it grew meanwhile */
			return -errno;
	}
}

/* Decrypts the user.* names of list into out (as large as list); returns out's length. */
static size_t decrypt_list(struct inode *inode, const char *list, size_t len, char *out)
{
	struct ecfs_crypto *c = fs_crypto();
	char plain[ECFS_NAME_MAX + 1];
	size_t used = 0;

	for (const char *p = list; c && p < list + len; p += strlen(p) + 1) {
		if (strncmp(p, USER_PREFIX, USER_PREFIX_LEN) != 0)
			continue; /* other namespaces are not ours to show */
		if (ecfs_name_decrypt(c, zero_dir_id, p + USER_PREFIX_LEN, plain) < 0) {
			fs_log_damage(inode, FS_DAMAGE_XATTR,
				      "extended attribute name '%s' does "
				      "not decrypt; it is not listed",
				      p);
			continue;
		}
		/* A plain name is never longer than its encrypted form, so out has room. */
		memcpy(out + used, USER_PREFIX, USER_PREFIX_LEN);
		used += USER_PREFIX_LEN;
		memcpy(out + used, plain, strlen(plain) + 1);
		used += strlen(plain) + 1;
	}
	return used;
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct inode *inode = inode_of(ino);
	char proc[32], *list = NULL, *out = NULL;
	int fd, r = target(inode, proc, 1, &fd);
	ssize_t n = r < 0 ? r : 0;
	size_t used = 0;

	if (r == 0)
		n = backing_list(proc, &list);
	inode_fd_put(inode, fd);
	if (n > 0 && !(out = malloc((size_t)n)))
		n = -ENOMEM;
	if (n > 0)
		used = decrypt_list(inode, list, (size_t)n, out);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, used);
	else if (used > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, used);
	free(list);
	free(out);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char proc[32], bname[XATTR_NAME_LIMIT + 1];
	int fd = -1, r = fs.read_only ? -EROFS : backing_name(name, bname);

	if (r == 0)
		r = target(inode_of(ino), proc, -ENODATA, &fd);
	if (r == 0 && removexattr(proc, bname) < 0)
		r = -errno;
	inode_fd_put(inode_of(ino), fd);
	fuse_reply_err(req, -r);
}
