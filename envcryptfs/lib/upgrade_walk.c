/* SPDX-License-Identifier: MIT */
/*
 * upgrade_walk.c - the two walks of an upgrade to format 2 (see upgrade.c).
 *
 * The first walk only reads: it groups the names of hard-linked format-1 blobs by inode, and
 * notes the format-2 blobs with several names that an interrupted run made (by file ID), so
 * that names still on the old blob join them. The second walk converts, one directory at a
 * time: its ID file and attributes, its symbolic links and its files, then its
 * subdirectories.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/openat2.h>
#include <unistd.h>

/* ---- what the first walk finds ------------------------------------------------------------ */

/* One name of a hard-linked format-1 blob: where it is, and what binds it there. */
struct up_name {
	dev_t dev;
	ino_t ino;
	char *path; /* relative to the root */
	uint8_t parent_id[ECFS_DIR_ID_SIZE];
	char *full; /* the full encoded name */
};

/* A format-2 blob with several names, made by an interrupted run. */
struct up_linked {
	uint8_t file_id[ECFS_FILE_ID_SIZE];
	char *path; /* relative to the root */
};

/* A directory's times before the upgrade touched it. */
struct up_times {
	char *path; /* relative to the root */
	struct timespec ts[2];
};

struct up {
	struct ecfs_volume *v;
	struct ecfs_crypto *c;
	struct ecfs_upgrade_stats *st;
	int rootfd;
	bool converting; /* the second walk */
	/* Sorted by inode after the first walk: the names of one inode are a run. */
	struct up_name *names;
	size_t nnames, names_cap;
	/* Sorted by file ID after the first walk. */
	struct up_linked *linked;
	size_t nlinked, linked_cap;
	/* Converting renames entries and adds link files in many directories; each directory
	 * gets back the times its user gave it at the end. */
	struct up_times *times;
	size_t ntimes, times_cap;
};

/* The directory being walked. */
struct up_dir {
	int fd;
	char *path; /* relative to the root ("." for the root) */
	uint8_t id[ECFS_DIR_ID_SIZE];
};

static char *join(const char *dir, const char *name)
{
	char *p;

	if (strcmp(dir, ".") == 0)
		return strdup(name);
	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* Makes room for one more element of size sz in *arr. */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? 2 * *cap : 16) * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = *cap ? 2 * *cap : 16;
	return 0;
}

static int note_name(struct up *u, const struct up_dir *d, const char *disk, const char *full,
		     const struct stat *st)
{
	struct up_name *n;

	if (grow((void **)&u->names, u->nnames, &u->names_cap, sizeof(*n)) < 0)
		return -ENOMEM;
	n = &u->names[u->nnames++];
	*n = (struct up_name){st->st_dev, st->st_ino, join(d->path, disk), {0}, strdup(full)};
	memcpy(n->parent_id, d->id, ECFS_DIR_ID_SIZE);
	return n->path && n->full ? 0 : -ENOMEM;
}

static int note_linked(struct up *u, const struct up_dir *d, const char *disk,
		       const uint8_t file_id[ECFS_FILE_ID_SIZE])
{
	struct up_linked *l;

	if (grow((void **)&u->linked, u->nlinked, &u->linked_cap, sizeof(*l)) < 0)
		return -ENOMEM;
	l = &u->linked[u->nlinked++];
	memcpy(l->file_id, file_id, ECFS_FILE_ID_SIZE);
	l->path = join(d->path, disk);
	return l->path ? 0 : -ENOMEM;
}

static int note_times(struct up *u, const struct up_dir *d)
{
	struct up_times *t;
	struct stat st;

	if (fstat(d->fd, &st) < 0)
		return -errno;
	if (grow((void **)&u->times, u->ntimes, &u->times_cap, sizeof(*t)) < 0)
		return -ENOMEM;
	t = &u->times[u->ntimes++];
	*t = (struct up_times){strdup(d->path), {st.st_atim, st.st_mtim}};
	return t->path ? 0 : -ENOMEM;
}

static int open_parent(const struct up *u, const char *path, const char **base);

static int restore_times(const struct up *u)
{
	for (size_t i = 0; i < u->ntimes; i++) {
		const char *base;
		int fd = open_parent(u, u->times[i].path, &base), r = fd;

		if (fd >= 0)
			r = utimensat(fd, base, u->times[i].ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno
											 : 0;
		if (fd >= 0)
			close(fd);
		if (r < 0)
			return ecfs_fail(r, "%s: cannot restore its times: %s", u->times[i].path,
					 strerror(-r));
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	const struct up_name *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int cmp_linked(const void *a, const void *b)
{
	return memcmp(((const struct up_linked *)a)->file_id,
		      ((const struct up_linked *)b)->file_id, ECFS_FILE_ID_SIZE);
}

/* The names of st's inode: *n of them from the returned one. */
static struct up_name *names_of(const struct up *u, const struct stat *st, size_t *n)
{
	struct up_name key = {.dev = st->st_dev, .ino = st->st_ino}, *p, *end;

	*n = 0;
	p = u->nnames ? bsearch(&key, u->names, u->nnames, sizeof(key), cmp_name) : NULL;
	if (!p)
		return NULL;
	while (p > u->names && cmp_name(p - 1, &key) == 0)
		p--;
	for (end = p; end < u->names + u->nnames && cmp_name(end, &key) == 0; end++)
		(*n)++;
	return p;
}

static const char *linked_path(const struct up *u, const uint8_t file_id[ECFS_FILE_ID_SIZE])
{
	struct up_linked key, *l;

	memcpy(key.file_id, file_id, ECFS_FILE_ID_SIZE);
	l = u->nlinked ? bsearch(&key, u->linked, u->nlinked, sizeof(key), cmp_linked) : NULL;
	return l ? l->path : NULL;
}

static void up_free(struct up *u)
{
	for (size_t i = 0; i < u->nnames; i++) {
		free(u->names[i].path);
		free(u->names[i].full);
	}
	for (size_t i = 0; i < u->nlinked; i++)
		free(u->linked[i].path);
	for (size_t i = 0; i < u->ntimes; i++)
		free(u->times[i].path);
	free(u->names);
	free(u->linked);
	free(u->times);
}

/* ---- reading what is there -------------------------------------------------------------- */

/* The format of a blob and its file ID (a 0-byte format-1 blob has none: *empty). */
struct up_blob {
	int version;
	bool empty;
	uint16_t flags;
	uint8_t file_id[ECFS_FILE_ID_SIZE];
};

static int probe_blob(struct up *u, int fd, const struct stat *st, struct up_blob *b)
{
	uint8_t buf[ECFS_BLOB_HEADER_MAX];
	struct ecfs_blob_header h;
	ssize_t n;

	memset(b, 0, sizeof(*b));
	if (st->st_size == 0) {
		*b = (struct up_blob){.version = 1, .empty = true};
		return 0;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if (n >= 6 && buf[4] == 0 && buf[5] == 1) {
		b->version = 1;
		return ecfs_blob_header_parse(buf, (size_t)n, b->file_id);
	}
	if (ecfs_blob_header_decode(u->v, buf, (size_t)n, &h) < 0)
		return -EUCLEAN;
	b->version = 2;
	b->flags = h.flags;
	memcpy(b->file_id, h.file_id, ECFS_FILE_ID_SIZE);
	return 0;
}

/* The full encoded name of user entry disk (a long name's is in its side file). */
static int full_name(int dirfd, const char *disk, char full[ECFS_ENCODED_NAME_MAX])
{
	if (ecfs_name_classify(disk) == ECFS_NAME_LONG)
		return ecfs_name_side_read(dirfd, disk, full);
	snprintf(full, ECFS_ENCODED_NAME_MAX, "%s", disk);
	return 0;
}

/* Puts the file made at tmp in d in the place of disk, with disk's times (and owner, unless
 * the caller set it already: a chown after the mode would drop set-user-ID bits). */
static int replace_with(const struct up_dir *d, const char *tmp, const char *disk,
			const struct stat *st, bool chown)
{
	const struct timespec times[2] = {st->st_atim, st->st_mtim};

	if ((chown && fchownat(d->fd, tmp, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) ||
	    utimensat(d->fd, tmp, times, AT_SYMLINK_NOFOLLOW) < 0 ||
	    renameat(d->fd, tmp, d->fd, disk) < 0) {
		int err = -errno;

		unlinkat(d->fd, tmp, 0);
		return err;
	}
	return 0;
}

/* ---- symbolic links ------------------------------------------------------------------------ */

/* The stored target of symlink disk, from the side file its reference names if it does. */
static int read_stored(struct up *u, const struct up_dir *d, const char *disk,
		       char stored[ECFS_SYMLINK_STORED_MAX], char ref[ECFS_LINK_REF_LEN + 1])
{
	ssize_t n = readlinkat(d->fd, disk, stored, ECFS_SYMLINK_STORED_MAX - 1);
	char check[ECFS_LINK_REF_LEN + 1];
	int fd;

	ref[0] = '\0';
	if (n < 0)
		return -errno;
	stored[n] = '\0';
	if (!ecfs_link_is_ref(stored))
		return 0;
	memcpy(ref, stored, ECFS_LINK_REF_LEN + 1); /* ecfs_link_is_ref checked the length */
	fd = ecfs_open_typed(u->rootfd, ref, O_RDONLY, 0, S_IFREG);
	if (fd < 0)
		return fd;
	n = read(fd, stored, ECFS_SYMLINK_STORED_MAX - 1);
	close(fd);
	if (n <= 0 || n >= ECFS_SYMLINK_STORED_MAX - 1)
		return -EUCLEAN;
	stored[n] = '\0';
	ecfs_link_ref_name(stored, check);
	return strcmp(check, ref) == 0 ? 0 : -EUCLEAN;
}

/* Makes a backing symlink holding stored (through a side file when it is long) at tmp in d. */
static int make_link(struct up *u, const struct up_dir *d, const char *stored, const char *tmp)
{
	char ref[ECFS_LINK_REF_LEN + 1];
	int r;

	if (strlen(stored) <= ECFS_LINK_INLINE_MAX)
		return symlinkat(stored, d->fd, tmp) < 0 ? -errno : 0;
	ecfs_link_ref_name(stored, ref);
	r = ecfs_write_file_atomic(u->rootfd, ref, (const uint8_t *)stored, strlen(stored), 0600);
	if (r == 0 && symlinkat(ref, d->fd, tmp) < 0)
		r = -errno;
	return r;
}

/* The first walk: the link's target must open in one format or the other. */
static int check_symlink(struct up *u, const struct up_dir *d, const char *disk,
			 const struct ecfs_place *at)
{
	char stored[ECFS_SYMLINK_STORED_MAX], target[PATH_MAX + 1], ref[ECFS_LINK_REF_LEN + 1];
	int r = read_stored(u, d, disk, stored, ref);

	if (r == 0 && ecfs_symlink_decrypt_at(u->c, NULL, stored, target, sizeof(target)) < 0 &&
	    ecfs_symlink_decrypt_at(u->c, at, stored, target, sizeof(target)) < 0)
		r = ecfs_fail(-EUCLEAN, "the symbolic link's target does not decrypt (run "
					"fsck.envcryptfs)");
	ecfs_wipe(target, sizeof(target));
	return r;
}

static int convert_symlink(struct up *u, const struct up_dir *d, const char *disk,
			   const struct ecfs_place *at, const struct stat *st)
{
	char stored[ECFS_SYMLINK_STORED_MAX], out[ECFS_SYMLINK_STORED_MAX], target[PATH_MAX + 1];
	char ref[ECFS_LINK_REF_LEN + 1], tmp[ECFS_TMP_NAME_MAX];
	int r = read_stored(u, d, disk, stored, ref);

	if (r == 0 && ecfs_symlink_decrypt_at(u->c, at, stored, target, sizeof(target)) >= 0)
		return 0; /* converted by an earlier run */
	if (r == 0)
		r = ecfs_symlink_decrypt_at(u->c, NULL, stored, target, sizeof(target));
	if (r >= 0)
		r = ecfs_symlink_encrypt_at(u->c, at, target, out, sizeof(out));
	ecfs_wipe(target, sizeof(target));
	if (r >= 0)
		r = ecfs_tmp_name(tmp);
	if (r >= 0)
		r = make_link(u, d, out, tmp);
	if (r >= 0)
		r = replace_with(d, tmp, disk, st, true);
	/* The last name of a format-1 link with a side file takes the side file with it. */
	if (r >= 0 && ref[0] && st->st_nlink == 1)
		unlinkat(u->rootfd, ref, 0);
	if (r >= 0)
		u->st->symlinks++;
	return r;
}

/* ---- extended attributes ------------------------------------------------------------------- */

static const uint8_t zero_id[ECFS_DIR_ID_SIZE];

/* The format-2 form of user attribute plain (name and value) of object id, set on dst. */
static int set_xattr_2(struct up *u, int dst, const uint8_t id[ECFS_DIR_ID_SIZE], const char *plain,
		       const uint8_t *value, size_t len)
{
	struct ecfs_disk_name dn;
	char name[XATTR_NAME_MAX + 1];
	uint8_t *sealed = malloc(len + ECFS_SEAL_OVERHEAD);
	int r = sealed ? ecfs_name_encrypt(u->c, id, plain, strlen(plain), &dn) : -ENOMEM;

	if (r == 0 && snprintf(name, sizeof(name), "user.%s", dn.full) >= (int)sizeof(name))
		r = -ERANGE;
	if (r == 0)
		r = ecfs_xattr_seal_at(u->c, id, dn.full, value, len, sealed);
	if (r >= 0)
		r = fsetxattr(dst, name, sealed, (size_t)r, 0) < 0 ? -errno : 0;
	free(sealed);
	return r;
}

/* One attribute of src: a format-1 user attribute is converted onto dst (and removed from src
 * when they are the same file); anything else is copied to a different dst as it is. */
static int convert_xattr(struct up *u, int src, int dst, const uint8_t *id, const char *name)
{
	char plain[ECFS_NAME_MAX + 1];
	uint8_t *value = NULL, *open = NULL;
	ssize_t len = fgetxattr(src, name, NULL, 0);
	int r = len < 0 ? -errno : 0;

	if (r == 0 && !(value = malloc((size_t)len + 1)))
		r = -ENOMEM;
	if (r == 0 && (len = fgetxattr(src, name, value, (size_t)len)) < 0)
		r = -errno;
	if (r == 0 && strncmp(name, "user.", 5) == 0 &&
	    ecfs_name_decrypt(u->c, zero_id, name + 5, plain) >= 0) {
		if (len < ECFS_SEAL_OVERHEAD || !(open = malloc((size_t)len)))
			r = len < ECFS_SEAL_OVERHEAD ? -EUCLEAN : -ENOMEM;
		if (r == 0)
			r = ecfs_unseal(u->c, "xattr", value, (size_t)len, open);
		if (r >= 0)
			r = set_xattr_2(u, dst, id, plain, open, (size_t)r);
		if (open)
			ecfs_wipe(open, (size_t)len);
		if (r == 0 && src == dst && fremovexattr(src, name) < 0)
			r = -errno;
		if (r == 0)
			u->st->xattrs++;
	} else if (r == 0 && src != dst && fsetxattr(dst, name, value, (size_t)len, 0) < 0 &&
		   errno != ENOTSUP && errno != EPERM) {
		r = -errno;
	}
	free(open);
	free(value);
	return r;
}

/* Whether attribute name of fd (object id) opens in either format: an interrupted run may
 * have converted some attributes of a directory and not others. The first walk refuses to
 * start on a volume with an object the conversion could not read. */
static int check_xattr(struct up *u, int fd, int unused, const uint8_t *id, const char *name)
{
	char plain[ECFS_NAME_MAX + 1];
	uint8_t *value = NULL, *open = NULL;
	bool v1 = false;
	ssize_t len;
	int r;

	(void)unused; /* the shape each_xattr calls */
	if (strncmp(name, "user.", 5) != 0)
		return 0;
	r = ecfs_name_decrypt(u->c, zero_id, name + 5, plain);
	v1 = r >= 0;
	if (!v1)
		r = ecfs_name_decrypt(u->c, id, name + 5, plain);
	len = r < 0 ? -1 : fgetxattr(fd, name, NULL, 0);
	if (r >= 0 && len < ECFS_SEAL_OVERHEAD)
		r = len < 0 ? -errno : -EUCLEAN;
	if (r >= 0 && (!(value = malloc((size_t)len)) || !(open = malloc((size_t)len))))
		r = -ENOMEM;
	if (r >= 0 && (len = fgetxattr(fd, name, value, (size_t)len)) < ECFS_SEAL_OVERHEAD)
		r = len < 0 ? -errno : -EUCLEAN;
	if (r >= 0)
		r = v1 ? ecfs_unseal(u->c, "xattr", value, (size_t)len, open)
		       : ecfs_xattr_unseal_at(u->c, id, name + 5, value, (size_t)len, open);
	if (open)
		ecfs_wipe(open, (size_t)len);
	free(open);
	free(value);
	if (r < 0)
		return ecfs_fail(r, "extended attribute %s does not decrypt (run fsck.envcryptfs)",
				 name);
	return 0;
}

/* Calls fn for each attribute name of src until one fails. */
static int each_xattr(struct up *u, int src, int dst, const uint8_t id[ECFS_DIR_ID_SIZE],
		      int (*fn)(struct up *u, int src, int dst, const uint8_t *id,
				const char *name))
{
	ssize_t len = flistxattr(src, NULL, 0);
	char *list;
	int r = 0;

	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? -errno : 0;
	list = malloc((size_t)len);
	if (!list)
		return -ENOMEM;
	len = flistxattr(src, list, (size_t)len);
	for (ssize_t i = 0; r == 0 && i < len; i += (ssize_t)strlen(list + i) + 1)
		r = fn(u, src, dst, id, list + i);
	free(list);
	return r;
}

/* ---- files --------------------------------------------------------------------------------- */

/* Opens the directory holding the root-relative path, without following a symbolic link
 * anywhere on the way (an attacker may swap a directory for one while the upgrade runs);
 * *base points at the last component. */
static int open_parent(const struct up *u, const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
	long fd;

	if (!dir)
		return -ENOMEM;
	*base = slash ? slash + 1 : path;
	fd = syscall(SYS_openat2, u->rootfd, dir, &how, sizeof(how));
	free(dir);
	return fd < 0 ? -errno : (int)fd;
}

/* Links the file from (in from_dir) over the name at the root-relative path. */
static int link_over(struct up *u, int from_dir, const char *from, const char *path)
{
	const char *base;
	char tmp[ECFS_TMP_NAME_MAX];
	struct stat a, b;
	int fd = open_parent(u, path, &base);
	int r = fd < 0 ? fd : ecfs_tmp_name(tmp);

	/* Renaming a name over another link to the same file would leave tmp behind. */
	if (r == 0 && fstatat(from_dir, from, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(fd, base, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		close(fd);
		return 0;
	}
	if (r == 0 && linkat(from_dir, from, fd, tmp, 0) < 0)
		r = -errno;
	if (r == 0 && renameat(fd, tmp, fd, base) < 0) {
		r = -errno;
		unlinkat(fd, tmp, 0);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static int write_links(struct up *u, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		       uint8_t (*tags)[ECFS_BIND_TAG_SIZE], size_t n)
{
	struct ecfs_links l = {.count = (uint32_t)n, .tags = tags};
	char name[ECFS_LINKS_NAME_MAX];
	uint8_t *buf;
	size_t len;
	int r;

	if (n > ECFS_LINKS_MAX)
		return -EMLINK;
	r = ecfs_links_serialize(u->v, file_id, &l, &buf, &len);
	if (r < 0)
		return r;
	ecfs_links_name(file_id, name);
	r = ecfs_write_file_atomic(u->rootfd, name, buf, len, 0600);
	free(buf);
	return r;
}

/* The tags that bind file id to its names; more than one name goes into its link file. */
static int bind_names(struct up *u, const struct up_dir *d, const char *full,
		      const struct up_name *names, size_t n, struct ecfs_blob_header *h)
{
	uint8_t(*tags)[ECFS_BIND_TAG_SIZE];
	int r = 0;

	if (n <= 1) {
		struct ecfs_place at = {.name = full};

		memcpy(at.parent_id, d->id, ECFS_DIR_ID_SIZE);
		return ecfs_file_name_tag(u->v, h->file_id, &at, h->name_tag[0]);
	}
	tags = calloc(n, sizeof(*tags));
	if (!tags)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct ecfs_place at = {.name = names[i].full};

		memcpy(at.parent_id, names[i].parent_id, ECFS_DIR_ID_SIZE);
		r = ecfs_file_name_tag(u->v, h->file_id, &at, tags[i]);
	}
	if (r == 0)
		r = write_links(u, h->file_id, tags, n);
	if (r == 0)
		h->flags |= ECFS_BLOB_LINKED;
	free(tags);
	return r;
}

/* Writes the format-2 form of the blob src (probed as b) into the new file dst. */
static int write_blob_2(struct up *u, int src, int dst, const struct up_blob *b,
			struct ecfs_blob_header *h)
{
	if (b->empty)
		return ecfs_blob_header_write(u->v, dst, h);
	return ecfs_blob_convert_v1(u->v, u->c, src, dst, u->rootfd, h);
}

static int convert_file(struct up *u, const struct up_dir *d, const char *disk, const char *full,
			int src, const struct stat *st, const struct up_blob *b)
{
	size_t n = 0;
	const struct up_name *names = st->st_nlink > 1 ? names_of(u, st, &n) : NULL;
	struct ecfs_blob_header h = {.version = 2};
	char tmp[ECFS_TMP_NAME_MAX];
	int dst = -1, r;

	if (b->empty)
		r = ecfs_blob_header_init(u->v, &h);
	else
		r = (memcpy(h.file_id, b->file_id, ECFS_FILE_ID_SIZE), 0);
	if (r == 0)
		r = bind_names(u, d, full, names, n, &h);
	if (r == 0)
		r = ecfs_tmp_name(tmp);
	if (r == 0) {
		dst = openat(d->fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		r = dst < 0 ? -errno : 0;
	}
	if (r == 0)
		r = write_blob_2(u, src, dst, b, &h);
	if (r == 0)
		r = each_xattr(u, src, dst, h.file_id, convert_xattr);
	if (r == 0 && (fchown(dst, st->st_uid, st->st_gid) < 0 ||
		       fchmod(dst, st->st_mode & 07777) < 0 || fsync(dst) < 0))
		r = -errno;
	if (dst >= 0)
		close(dst);
	if (r == 0)
		r = replace_with(d, tmp, disk, st, false);
	else if (dst >= 0)
		unlinkat(d->fd, tmp, 0);
	/* The other names of a hard-linked file now name the new blob too. */
	for (size_t i = 0; r == 0 && i < n; i++)
		r = link_over(u, d->fd, disk, names[i].path);
	if (r == 0)
		u->st->files++;
	return r;
}

/* A format-1 file whose other names an interrupted run already moved to a format-2 blob:
 * this name joins them. */
static int relink(struct up *u, const struct up_dir *d, const char *disk, const char *to)
{
	char *path = join(d->path, disk);
	const char *base;
	int fd = open_parent(u, to, &base);
	int r = fd < 0 ? fd : path ? link_over(u, fd, base, path) : -ENOMEM;

	if (fd >= 0)
		close(fd);
	free(path);
	return r;
}

/* An empty format-1 blob with several names gets a format-1 header (still an empty file) so
 * that it has a file ID: names an interrupted run left on it then find the new blob. */
static int give_file_id(const struct up_dir *d, const char *disk, struct up_blob *b)
{
	uint8_t hdr[ECFS_BLOB_HEADER_SIZE];
	int fd = ecfs_open_typed(d->fd, disk, O_WRONLY, 0, S_IFREG);
	int r = fd < 0 ? fd : ecfs_blob_header_new(hdr);

	if (r == 0 && (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || fsync(fd) < 0))
		r = errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (r == 0) {
		b->empty = false;
		memcpy(b->file_id, hdr + 8, ECFS_FILE_ID_SIZE);
	}
	return r;
}

static int visit_file(struct up *u, const struct up_dir *d, const char *disk, const char *full,
		      const struct stat *st)
{
	int fd = ecfs_open_typed(d->fd, disk, O_RDONLY, 0, S_IFREG);
	struct up_blob b;
	const char *to;
	int r = fd < 0 ? fd : probe_blob(u, fd, st, &b);

	if (r < 0)
		;
	else if (!u->converting && (r = each_xattr(u, fd, fd, b.file_id, check_xattr)) < 0)
		;
	else if (!u->converting && b.empty && st->st_nlink > 1 &&
		 (r = give_file_id(d, disk, &b)) < 0)
		;
	else if (!u->converting && b.version == 2 && (b.flags & ECFS_BLOB_LINKED))
		r = note_linked(u, d, disk, b.file_id);
	else if (!u->converting && b.version == 1 && st->st_nlink > 1)
		r = note_name(u, d, disk, full, st);
	else if (u->converting && b.version == 1 && !b.empty && (to = linked_path(u, b.file_id)))
		r = relink(u, d, disk, to);
	else if (u->converting && b.version == 1)
		r = convert_file(u, d, disk, full, fd, st, &b);
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- directories and the walk ------------------------------------------------------------- */

/* The directory's ID, from an ID file of either format (both begin with the ID); *v1 when it
 * is format 1's. */
static int read_dirid(const struct up_dir *d, uint8_t id[ECFS_DIR_ID_SIZE], bool *v1)
{
	uint8_t buf[ECFS_DIRID_FILE_SIZE + 1];
	int fd = ecfs_open_typed(d->fd, ECFS_DIR_ID_NAME, O_RDONLY, 0, S_IFREG);
	ssize_t n = fd < 0 ? fd : read(fd, buf, sizeof(buf));

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return fd < 0 ? fd : -errno;
	if (n != ECFS_DIR_ID_SIZE && n != ECFS_DIRID_FILE_SIZE)
		return ecfs_fail(-EUCLEAN, "%s holds %zd bytes, not a directory ID",
				 ECFS_DIR_ID_NAME, n);
	memcpy(id, buf, ECFS_DIR_ID_SIZE);
	*v1 = n == ECFS_DIR_ID_SIZE;
	return 0;
}

/* The first walk: an ID file of format 2 must be bound here, and the attributes open. */
static int check_dir(struct up *u, const struct up_dir *d, const struct ecfs_place *at, bool v1)
{
	uint8_t id[ECFS_DIR_ID_SIZE];
	int fd, r = v1 ? 0 : ecfs_dirid_read_at(u->v, d->fd, at, id);

	if (r < 0)
		return ecfs_fail(r, "%s is bound to another place", ECFS_DIR_ID_NAME);
	fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = each_xattr(u, fd, fd, d->id, check_xattr);
	close(fd);
	return r;
}

/* d's ID file (format 1 when v1) and attributes. */
static int convert_dir(struct up *u, const struct up_dir *d, const struct ecfs_place *at, bool v1)
{
	int fd, r = 0;

	if (v1) {
		r = ecfs_dirid_rebind(u->v, d->fd, d->id, at, NULL);
		if (r == 0)
			u->st->dirs++;
	}
	fd = r == 0 ? openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && fd < 0)
		r = -errno;
	if (r == 0)
		r = each_xattr(u, fd, fd, d->id, convert_xattr);
	if (fd >= 0)
		close(fd);
	return r;
}

struct up_entry {
	char *disk;
	char full[ECFS_ENCODED_NAME_MAX];
	struct stat st;
};

/* The user entries of d, read before anything in d is renamed. */
static int read_entries(const struct up_dir *d, struct up_entry **out, size_t *n)
{
	int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dd = fd >= 0 ? fdopendir(fd) : NULL;
	size_t cap = 0;
	struct dirent *de;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (!dd) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (r == 0 && (de = readdir(dd))) {
		enum ecfs_name_kind k = ecfs_name_classify(de->d_name);
		struct up_entry *e;

		if (k != ECFS_NAME_ENCRYPTED && k != ECFS_NAME_LONG)
			continue;
		r = grow((void **)out, *n, &cap, sizeof(**out));
		if (r < 0)
			break;
		e = &(*out)[*n];
		e->disk = strdup(de->d_name);
		if (!e->disk)
			r = -ENOMEM;
		else if (fstatat(d->fd, e->disk, &e->st, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
		else
			r = full_name(d->fd, e->disk, e->full);
		(*n)++;
	}
	closedir(dd);
	return r;
}

static void free_entries(struct up_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].disk);
	free(e);
}

static int walk(struct up *u, struct up_dir *d, const struct ecfs_place *at);

/* Names the backing object that stopped the upgrade, with the library's reason if it gave one. */
static int fail_at(int r, const char *dir, const char *name)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", *ecfs_last_error() ? ecfs_last_error() : strerror(-r));
	if (strcmp(dir, ".") == 0 && !name)
		return ecfs_fail(r, "the root directory: %s", why);
	if (strcmp(dir, ".") == 0)
		return ecfs_fail(r, "%s: %s", name, why);
	return name ? ecfs_fail(r, "%s/%s: %s", dir, name, why) : ecfs_fail(r, "%s: %s", dir, why);
}

static int walk_subdir(struct up *u, const struct up_dir *parent, const struct up_entry *e)
{
	struct up_dir d = {.path = join(parent->path, e->disk)};
	struct ecfs_place at = {.name = e->full};
	int r = d.path ? 0 : -ENOMEM;

	memcpy(at.parent_id, parent->id, ECFS_DIR_ID_SIZE);
	if (r == 0) {
		d.fd = openat(parent->fd, e->disk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = d.fd < 0 ? -errno : 0;
	}
	if (r == 0) {
		r = walk(u, &d, &at);
		close(d.fd);
	}
	free(d.path);
	return r;
}

static int walk(struct up *u, struct up_dir *d, const struct ecfs_place *at)
{
	struct up_entry *e = NULL;
	size_t n = 0;
	bool v1 = false;
	int r = read_dirid(d, d->id, &v1);

	if (r == 0 && !u->converting)
		r = note_times(u, d);
	if (r == 0 && !u->converting)
		r = check_dir(u, d, at, v1);
	if (r == 0 && u->converting)
		r = convert_dir(u, d, at, v1);
	if (r == 0)
		r = read_entries(d, &e, &n);
	if (r < 0)
		return fail_at(r, d->path, NULL);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct ecfs_place here = {.name = e[i].full};

		memcpy(here.parent_id, d->id, ECFS_DIR_ID_SIZE);
		if (S_ISREG(e[i].st.st_mode))
			r = visit_file(u, d, e[i].disk, e[i].full, &e[i].st);
		else if (S_ISLNK(e[i].st.st_mode) && u->converting)
			r = convert_symlink(u, d, e[i].disk, &here, &e[i].st);
		else if (S_ISLNK(e[i].st.st_mode))
			r = check_symlink(u, d, e[i].disk, &here);
		if (r < 0)
			r = fail_at(r, d->path, e[i].disk);
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		if (S_ISDIR(e[i].st.st_mode))
			r = walk_subdir(u, d, &e[i]);
	free_entries(e, n);
	return r;
}

int ecfs_upgrade_tree(struct ecfs_volume *v, struct ecfs_upgrade_stats *st,
		      int (*between)(struct ecfs_volume *v))
{
	struct up u = {.v = v, .st = st};
	struct up_dir root = {.path = "."};
	const struct ecfs_place at = {.name = ""};
	int r = ecfs_crypto_new(v, &u.c);

	if (r < 0)
		return r;
	root.fd = openat(v->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	u.rootfd = root.fd;
	r = root.fd < 0 ? -errno : walk(&u, &root, &at);
	if (r == 0) {
		if (u.nnames)
			qsort(u.names, u.nnames, sizeof(*u.names), cmp_name);
		if (u.nlinked)
			qsort(u.linked, u.nlinked, sizeof(*u.linked), cmp_linked);
		u.converting = true;
		r = between(v);
	}
	if (r == 0) {
		r = walk(&u, &root, &at);
	}
	if (r == 0)
		r = restore_times(&u);
	/* Nothing may say format 2 before every converted object is on disk. */
	if (r == 0 && syncfs(root.fd) < 0)
		r = ecfs_fail(-errno, "cannot sync the backing file system: %s", strerror(errno));
	if (root.fd >= 0)
		close(root.fd);
	up_free(&u);
	ecfs_crypto_free(u.c);
	return r;
}
