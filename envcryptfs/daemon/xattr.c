/* xattr.c - extended attributes: only the user.* namespace, stored as "user." + the name
 * encrypted like a file name with the value sealed. Format 1 encrypts names under an all-zero
 * directory ID; format 2 under the object's ID (its file or directory ID), and seals values
 * with that ID and the encrypted name as associated data, so that neither moves to another
 * object or attribute unnoticed. */
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

/* Only user.* attributes are ours. */
static int user_name(const char *name)
{
	return strncmp(name, USER_PREFIX, USER_PREFIX_LEN) == 0 ? 0 : -EOPNOTSUPP;
}

/* The ID names and values of inode's attributes are bound to: zeros on format 1. */
static int object_id(struct inode *inode, uint8_t id[ECFS_DIR_ID_SIZE])
{
	int r;

	memset(id, 0, ECFS_DIR_ID_SIZE);
	if (!names_bound())
		return 0;
	_Static_assert(ECFS_FILE_ID_SIZE == ECFS_DIR_ID_SIZE, "object IDs have one size");
	if (S_ISDIR(inode->type))
		return names_dir_id(inode, id);
	if (!S_ISREG(inode->type))
		return -EPERM; /* no user attributes on special files */
	r = file_id(inode, id);
	return r == -EUCLEAN || r == -EPROTONOSUPPORT || r == -EBADMSG ? -EIO : r;
}

/* Seals or unseals an attribute value of object oid stored under backing name bname. */
static int value_crypt(bool seal, const uint8_t oid[ECFS_DIR_ID_SIZE], const char *bname,
		       const uint8_t *in, size_t len, uint8_t *out)
{
	struct ecfs_crypto *c = fs_crypto();
	const char *encoded = bname + USER_PREFIX_LEN;

	if (!c)
		return -ENOMEM;
	if (!names_bound())
		return seal ? ecfs_seal(c, XATTR_DOMAIN, in, len, out)
			    : ecfs_unseal(c, XATTR_DOMAIN, in, len, out);
	return seal ? ecfs_xattr_seal_at(c, oid, encoded, in, len, out)
		    : ecfs_xattr_unseal_at(c, oid, encoded, in, len, out);
}

/* The backing name of user attribute name of the object with ID oid. */
static int backing_name(const char *name, const uint8_t oid[ECFS_DIR_ID_SIZE],
			char out[XATTR_NAME_LIMIT + 1])
{
	struct ecfs_crypto *c = fs_crypto();
	struct ecfs_disk_name dn;
	int r;

	if (strncmp(name, USER_PREFIX, USER_PREFIX_LEN) != 0)
		return -EOPNOTSUPP;
	if (!c)
		return -ENOMEM;
	name += USER_PREFIX_LEN;
	r = ecfs_name_encrypt(c, oid, name, strlen(name), &dn);
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
 * their /proc link cannot name the symlink itself, so they are answered here. oid receives
 * the object's ID (format 2). */
static int target(struct inode *inode, char proc[32], int symlink_err, int *fd,
		  uint8_t oid[ECFS_DIR_ID_SIZE])
{
	int r;

	*fd = -1;
	if (S_ISLNK(inode->type))
		return symlink_err;
	r = object_id(inode, oid);
	if (r < 0)
		return r == -EPERM ? symlink_err : r;
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
	uint8_t *sealed = NULL, oid[ECFS_DIR_ID_SIZE];
	int fd = -1, r = fs.read_only ? -EROFS : user_name(name);

	if (r == 0)
		r = target(inode_of(ino), proc, -EPERM, &fd, oid);
	if (r == 0)
		r = backing_name(name, oid, bname);
	if (r == 0 && !(sealed = malloc(size + ECFS_SEAL_OVERHEAD)))
		r = -ENOMEM;
	if (r == 0)
		r = value_crypt(true, oid, bname, (const uint8_t *)value, size, sealed);
	if (r >= 0)
		r = setxattr(proc, bname, sealed, (size_t)r, flags) < 0 ? -errno : 0;
	inode_fd_put(inode_of(ino), fd);
	free(sealed);
	fuse_reply_err(req, fs_errno(r));
}

/* Reads and unseals a value into *out (malloc'd); returns its length. */
static ssize_t get_value(struct inode *inode, const char *proc, const uint8_t *oid,
			 const char *bname, size_t size, uint8_t **out)
{
	uint8_t *sealed = malloc(size + ECFS_SEAL_OVERHEAD), *plain = malloc(size + 1);
	ssize_t n = -ENOMEM;

	if (sealed && plain) {
		n = getxattr(proc, bname, sealed, size + ECFS_SEAL_OVERHEAD);
		if (n < 0)
			n = -errno;
	}
	if (n >= 0)
		n = value_crypt(false, oid, bname, sealed, (size_t)n, plain);
	if (n == -EBADMSG)
		fs_log_damage(inode, FS_DAMAGE_XATTR,
			      "an extended attribute value failed authentication%s; reading it "
			      "fails with EIO",
			      names_bound() ? " or is bound to another object or name (moved?)"
					    : "");
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
	uint8_t *value = NULL, oid[ECFS_DIR_ID_SIZE];
	int fd = -1;
	ssize_t n = user_name(name);

	if (n == 0)
		n = target(inode, proc, -ENODATA, &fd, oid);
	if (n == 0)
		n = backing_name(name, oid, bname);
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
		n = get_value(inode, proc, oid, bname, size, &value);
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
static size_t decrypt_list(struct inode *inode, const uint8_t *oid, const char *list, size_t len,
			   char *out)
{
	struct ecfs_crypto *c = fs_crypto();
	char plain[ECFS_NAME_MAX + 1];
	size_t used = 0;

	for (const char *p = list; c && p < list + len; p += strlen(p) + 1) {
		if (strncmp(p, USER_PREFIX, USER_PREFIX_LEN) != 0)
			continue; /* other namespaces are not ours to show */
		if (ecfs_name_decrypt(c, oid, p + USER_PREFIX_LEN, plain) < 0) {
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
	uint8_t oid[ECFS_DIR_ID_SIZE];
	int fd, r = target(inode, proc, 1, &fd, oid);
	ssize_t n = r < 0 ? r : 0;
	size_t used = 0;

	if (r == 0)
		n = backing_list(proc, &list);
	inode_fd_put(inode, fd);
	if (n > 0 && !(out = malloc((size_t)n)))
		n = -ENOMEM;
	if (n > 0)
		used = decrypt_list(inode, oid, list, (size_t)n, out);
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
	uint8_t oid[ECFS_DIR_ID_SIZE];
	int fd = -1, r = fs.read_only ? -EROFS : user_name(name);

	if (r == 0)
		r = target(inode_of(ino), proc, -ENODATA, &fd, oid);
	if (r == 0)
		r = backing_name(name, oid, bname);
	if (r == 0 && removexattr(proc, bname) < 0)
		r = -errno;
	inode_fd_put(inode_of(ino), fd);
	fuse_reply_err(req, fs_errno(r));
}
