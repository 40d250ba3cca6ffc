/* names.c - plaintext names <-> backing entries: directory IDs, encrypted and long names with
 * their side files, lookups by backing name, and decoding entries for readdir and messages. */
#include "daemon.h"
#include "ecfs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <unistd.h>

/* How often a lookup looks again for an entry that a rename or unlink took away meanwhile. */
#define LOOKUP_TRIES 8

/* Logs why the directory ID file of dir cannot be used: a hostile object is named. */
static void log_dir_id_damage(struct inode *dir)
{
	char why[160];
	struct stat st;

	if (fstatat(dir->fd, ECFS_DIR_ID_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st.st_mode))
		snprintf(why, sizeof(why),
			 "is %s, not a regular file; names in the directory cannot be used",
			 ecfs_file_type_name(st.st_mode));
	else
		snprintf(why, sizeof(why),
			 "is missing or damaged; names in the directory cannot be used");
	fs_log_bad_name(dir, ECFS_DIR_ID_NAME, why);
}

bool names_bound(void)
{
	return ecfs_volume_format(fs.vol) >= 2;
}

/* True when parent/full is inode's recorded place (gone or not); inode->lock held. */
static bool is_place(const struct inode *inode, const uint8_t parent[ECFS_DIR_ID_SIZE],
		     const char *full)
{
	return inode->place_name && strcmp(inode->place_name, full) == 0 &&
	       memcmp(inode->place_parent, parent, ECFS_DIR_ID_SIZE) == 0;
}

/* names_set_place with inode->lock held. */
static void set_place_locked(struct inode *inode, const uint8_t parent[ECFS_DIR_ID_SIZE],
			     const char *full)
{
	char *name;

	inode->place_gone = false;
	if (!is_place(inode, parent, full)) {
		/* Out of memory: the place stays unknown and its checks fail with EIO. */
		name = strdup(full);
		free(inode->place_name);
		inode->place_name = name;
		memcpy(inode->place_parent, parent, ECFS_DIR_ID_SIZE);
		/* A directory found at a new place (swapped or moved behind our back) has its ID
		 * file checked again against it before its names are used. */
		inode->has_dir_id = false;
	}
}

void names_set_place(struct inode *inode, const uint8_t parent[ECFS_DIR_ID_SIZE], const char *full)
{
	if (!names_bound())
		return;
	pthread_mutex_lock(&inode->lock);
	set_place_locked(inode, parent, full);
	pthread_mutex_unlock(&inode->lock);
}

/* Records parent/full as the place of inode, which a lookup found as entry disk of dir (st:
 * its stat). The kernel sends some lookups without the directory lock (revalidating a cached
 * entry, e.g. after ESTALE), so a rename or unlink may have taken the entry away since it was
 * opened and given the inode its new place (or marked the old one gone) already: a stale
 * place would fail the inode's next open with EIO. Those record theirs under inode->lock
 * after their rename(2) or unlink(2), so the entry is checked again under it. False when the
 * entry is no longer the inode's: look again. */
static bool place_from_lookup(struct inode *dir, const char *disk, const struct stat *st,
			      struct inode *inode, const uint8_t parent[ECFS_DIR_ID_SIZE],
			      const char *full)
{
	struct stat now;
	bool same = true;

	if (!names_bound())
		return true;
	pthread_mutex_lock(&inode->lock);
	/* The place it has already: nothing to record, nothing to check. An inode without a
	 * place is new to the kernel (this lookup's reply will introduce it), so nothing can
	 * have renamed or unlinked it through the mount yet: recorded without a check. */
	if (!inode->place_name && !inode->place_gone) {
		set_place_locked(inode, parent, full);
	} else if (inode->place_gone || !is_place(inode, parent, full)) {
		same = fstatat(dir->fd, disk, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		       now.st_ino == st->st_ino && now.st_dev == st->st_dev;
		if (same)
			set_place_locked(inode, parent, full);
	}
	pthread_mutex_unlock(&inode->lock);
	return same;
}

/* names_get_place with inode->lock held. */
static int get_place_locked(struct inode *inode, struct ecfs_place *at,
			    char name[ECFS_ENCODED_NAME_MAX])
{
	if (!inode->place_name)
		return -EIO;
	memcpy(at->parent_id, inode->place_parent, ECFS_DIR_ID_SIZE);
	snprintf(name, ECFS_ENCODED_NAME_MAX, "%s", inode->place_name);
	at->name = name;
	return 0;
}

int names_get_place_gone(struct inode *inode, struct ecfs_place *at,
			 char name[ECFS_ENCODED_NAME_MAX], bool *gone)
{
	int r;

	pthread_mutex_lock(&inode->lock);
	r = get_place_locked(inode, at, name);
	*gone = inode->place_gone;
	pthread_mutex_unlock(&inode->lock);
	return r;
}

int names_get_place(struct inode *inode, struct ecfs_place *at, char name[ECFS_ENCODED_NAME_MAX])
{
	bool gone;

	return names_get_place_gone(inode, at, name, &gone);
}

/* Reads dir's ID (format 2: checked against its place); dir->lock held. */
static int read_dir_id(struct inode *dir)
{
	char name[ECFS_ENCODED_NAME_MAX];
	struct ecfs_place at;
	int r;

	if (!names_bound())
		return ecfs_dirid_read(dir->fd, dir->dir_id);
	r = get_place_locked(dir, &at, name);
	if (r == 0)
		r = ecfs_dirid_read_at(fs.vol, dir->fd, &at, dir->dir_id);
	return r;
}

int names_dir_id(struct inode *dir, uint8_t id[ECFS_DIR_ID_SIZE])
{
	int r = 0;

	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	pthread_mutex_lock(&dir->lock);
	if (!dir->has_dir_id) {
		r = read_dir_id(dir);
		dir->has_dir_id = r == 0;
	}
	if (r == 0)
		memcpy(id, dir->dir_id, ECFS_DIR_ID_SIZE);
	pthread_mutex_unlock(&dir->lock);
	if (r == -EBADMSG) {
		fs_log_damage(dir, FS_DAMAGE_PLACE,
			      "directory bound to another place (moved or swapped?): its ID file "
			      "'%s' does not name this place; using it fails with EIO",
			      ECFS_DIR_ID_NAME);
		return -EIO;
	}
	if (r < 0) {
		log_dir_id_damage(dir);
		return -EIO;
	}
	return 0;
}

int names_encrypt(struct inode *dir, const char *name, struct ecfs_disk_name *dn)
{
	uint8_t id[ECFS_DIR_ID_SIZE];
	struct ecfs_crypto *c = fs_crypto();
	int r;

	if (!c)
		return -ENOMEM;
	r = names_dir_id(dir, id);
	if (r == 0)
		r = ecfs_name_encrypt(c, id, name, strlen(name), dn);
	return r;
}

/* The inode of entry disk of dir, with one more lookup, and its stat. */
static int entry_inode(struct inode *dir, const char *disk, struct stat *st, struct inode **inode)
{
	int fd = openat(dir->fd, disk, O_PATH | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	*inode = r == 0 ? itab_get(&fs.itab, &fd, st) : NULL;
	if (r == 0 && !*inode)
		r = -ENOMEM;
	if (fd >= 0)
		close(fd);
	return r;
}

int names_lookup_disk(struct inode *dir, const char *disk, const char *full,
		      struct fuse_entry_param *e)
{
	uint8_t parent[ECFS_DIR_ID_SIZE] = {0};
	struct inode *inode = NULL;
	int r;

	memset(e, 0, sizeof(*e));
	if (names_bound()) {
		r = names_dir_id(dir, parent);
		if (r < 0)
			return r;
	}
	e->attr_timeout = FS_TIMEOUT;
	e->entry_timeout = FS_TIMEOUT;
	for (int tries = 1;; tries++) {
		r = entry_inode(dir, disk, &e->attr, &inode);
		if (r < 0)
			return r;
		if (S_ISREG(e->attr.st_mode))
			ecfs_fault_lookup_delay();
		if (place_from_lookup(dir, disk, &e->attr, inode, parent, full))
			break;
		itab_unref(&fs.itab, inode, 1);
		/* Replaced again and again behind our back: stale, as the kernel would say. */
		if (tries == LOOKUP_TRIES)
			return -ESTALE;
	}
	/* A size between two chunk writes of a running write is read again under its lock. */
	if (S_ISREG(e->attr.st_mode) && ecfs_plain_size(fs.vol, (uint64_t)e->attr.st_size) < 0)
		fs_stat_inode(inode, &e->attr);
	else
		fs_translate_stat(inode, &e->attr);
	e->ino = ino_of(inode);
	e->generation = inode->generation;
	return 0;
}

/* True when entry disk of dirfd no longer exists. */
static bool entry_gone(int dirfd, const char *disk)
{
	struct stat st;

	return fstatat(dirfd, disk, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

/* Reads the side file of long name disk, which a concurrent unlink or rename may be taking
 * away: an entry goes before its side file, and a new one comes after its side file, so a
 * missing side file is damage only while the entry is there. -ENOENT when the entry is gone. */
static int side_read_racing(int dirfd, const char *disk, char full[ECFS_ENCODED_NAME_MAX])
{
	int r = ecfs_name_side_read(dirfd, disk, full);

	if (r == -ENOENT) {
		if (entry_gone(dirfd, disk))
			return -ENOENT;
		r = ecfs_name_side_read(dirfd, disk, full); /* made again since the first read */
	}
	return r;
}

int names_check_side(struct inode *dir, const struct ecfs_disk_name *dn)
{
	char full[ECFS_ENCODED_NAME_MAX];
	int r = side_read_racing(dir->fd, dn->disk, full);

	if (r == -ENOENT && entry_gone(dir->fd, dn->disk))
		return -ENOENT;
	if (r == 0 && strcmp(full, dn->full) != 0)
		r = -EBADMSG;
	if (r < 0) {
		fs_log_bad_name(dir, dn->disk, "has a missing or damaged side file");
		return -EIO;
	}
	return 0;
}

static int side_write(int dirfd, const char *side, const char *full, int flags)
{
	size_t len = strlen(full);
	int fd = ecfs_open_typed(dirfd, side, O_WRONLY | O_CREAT | flags, 0600, S_IFREG);
	int r = 0;

	if (fd < 0)
		return fd;
	if (write(fd, full, len) != (ssize_t)len)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

int names_side_create(int dirfd, const struct ecfs_disk_name *dn, bool *made)
{
	char side[ECFS_SIDE_NAME_MAX], full[ECFS_ENCODED_NAME_MAX];
	int r;

	*made = false;
	if (!dn->is_long)
		return 0;
	ecfs_name_side_of(dn->disk, side);
	r = side_write(dirfd, side, dn->full, O_EXCL);
	if (r == 0) {
		*made = true;
	} else if (r == -EEXIST) {
		/* Left by an interrupted operation, or the entry exists (then making it fails
		 * with EEXIST). Its right contents follow from its name, so mend it if needed. */
		r = ecfs_name_side_read(dirfd, dn->disk, full);
		if (r < 0 || strcmp(full, dn->full) != 0)
			r = side_write(dirfd, side, dn->full, O_TRUNC);
	} else {
		unlinkat(dirfd, side, 0);
	}
	return r;
}

void names_side_remove(int dirfd, const struct ecfs_disk_name *dn)
{
	char side[ECFS_SIDE_NAME_MAX];

	if (!dn->is_long)
		return;
	ecfs_name_side_of(dn->disk, side);
	unlinkat(dirfd, side, 0);
}

/* Decrypts backing name disk in a directory (dirfd, with ID id). 1: not a user entry. */
static int decode_in(int dirfd, const uint8_t id[ECFS_DIR_ID_SIZE], const char *disk, char *out,
		     char *full_out, const char **why)
{
	char full[ECFS_ENCODED_NAME_MAX], hash[ECFS_DISK_NAME_MAX];
	const char *encoded = disk;
	struct ecfs_crypto *c = fs_crypto();
	int r;

	switch (ecfs_name_classify(disk)) {
	case ECFS_NAME_ENCRYPTED:
		break;
	case ECFS_NAME_LONG:
		r = side_read_racing(dirfd, disk, full);
		if (r == -ENOENT && entry_gone(dirfd, disk))
			return 1; /* removed or renamed since the listing was read */
		if (r < 0) {
			*why = "has a missing or unreadable side file; it is not listed";
			return -EBADMSG;
		}
		ecfs_name_long_hash(full, hash);
		if (strcmp(hash, disk) != 0) {
			*why = "has a side file that does not match its name; it is not listed";
			return -EBADMSG;
		}
		encoded = full;
		break;
	case ECFS_NAME_INVALID:
		/* Not a name we make; lost+found is the backing file system's own. */
		if (strcmp(disk, "lost+found") == 0)
			return 1;
		*why = "is not an envcryptfs name; it is not listed";
		return -EBADMSG;
	default:
		return 1;
	}
	if (!c)
		return -ENOMEM;
	if (ecfs_name_decrypt(c, id, encoded, out) < 0) {
		*why = "does not decrypt (damaged, or not from this volume); it is not listed";
		return -EBADMSG;
	}
	if (full_out)
		snprintf(full_out, ECFS_ENCODED_NAME_MAX, "%s", encoded);
	return 0;
}

int names_decode(struct inode *dir, int dirfd, const char *disk, char *out, char *full)
{
	uint8_t id[ECFS_DIR_ID_SIZE];
	const char *why = NULL;
	int r = names_dir_id(dir, id);

	if (r < 0)
		return r;
	r = decode_in(dirfd, id, disk, out, full, &why);
	if (r == -EBADMSG)
		fs_log_bad_name(dir, disk, why);
	return r;
}

/* Appends "/" and the plaintext of component comp of directory dirfd to out. */
static void describe_component(int dirfd, const char *comp, char *out, size_t outsz)
{
	uint8_t id[ECFS_DIR_ID_SIZE];
	char plain[ECFS_NAME_MAX + 1];
	const char *why;
	size_t len = strlen(out);

	if (ecfs_dirid_read_at(fs.vol, dirfd, NULL, id) < 0 ||
	    decode_in(dirfd, id, comp, plain, NULL, &why) != 0)
		snprintf(plain, sizeof(plain), "?");
	snprintf(out + len, outsz - len, "/%s", plain);
}

int names_describe(struct inode *inode, char *out, size_t outsz)
{
	char proc[32], path[4096], *rest, *comp, *save = NULL;
	size_t rootlen = strlen(fs.backing_dir);
	int dirfd = fs.root->fd, next, fd = inode_fd_get(inode);
	ssize_t n;

	if (fd < 0)
		return fd;
	fs_proc_path(fd, proc);
	n = readlink(proc, path, sizeof(path) - 1);
	if (n < 0)
		n = -errno;
	inode_fd_put(inode, fd);
	if (n < 0)
		return (int)n;
	path[n] = '\0';
	out[0] = '\0';
	if (strcmp(path, fs.backing_dir) == 0) {
		snprintf(out, outsz, "/");
		return 0;
	}
	if (strncmp(path, fs.backing_dir, rootlen) != 0 || path[rootlen] != '/')
		return -ENOENT;
	rest = path + rootlen + 1;
	for (comp = strtok_r(rest, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		/* An unlinked file's link reads "<path> (deleted)". */
		char *deleted = strstr(comp, " (deleted)");

		if (deleted)
			*deleted = '\0';
		describe_component(dirfd, comp, out, outsz);
		next = openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd != fs.root->fd)
			close(dirfd);
		dirfd = next;
		if (dirfd < 0)
			break;
	}
	if (dirfd >= 0 && dirfd != fs.root->fd)
		close(dirfd);
	return 0;
}

int names_tmp(char out[64])
{
	uint8_t rnd[16];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	int n = snprintf(out, 64, "%s", ECFS_TMP_PREFIX);

	for (size_t i = 0; i < sizeof(rnd); i++)
		n += snprintf(out + n, 64 - (size_t)n, "%02x", rnd[i]);
	return 0;
}
