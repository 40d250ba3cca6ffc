/* inode.h - the inode table: backing (st_dev, st_ino) -> what the daemon knows of an inode. */
#ifndef ECFS_DAEMON_INODE_H
#define ECFS_DAEMON_INODE_H

#include "envcryptfs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

/* What the daemon keeps of a regular file's contents (inode->content). */
struct inode_content {
	/* Set lazily under the inode's lock; replaced or freed only with io held exclusively,
	 * so a holder of io may use it without lock. Dropped at the last close: each key is a
	 * locked page, so only open files keep one. */
	struct ecfs_file_key *key;
	/* The blob header the key came from; valid while key is set, changed only with io
	 * held exclusively (and lock). */
	struct ecfs_blob_header blob;
	/* Format 2, with the key: the chunks that may be holes (count 0 and the header's
	 * generation for a dense file), and the listed ones written since the map was
	 * (holes.c). Changed only with io held exclusively. */
	struct ecfs_holes holes, holes_filled;
	/* holes lists gaps skipped by writes past the end that no map on disk lists yet. */
	bool holes_dirty;
	/* The last generation this daemon gave a map of the file (kept when the key goes: a
	 * failed commit may have left that map on disk). io held exclusively. */
	uint32_t holes_gen_floor;
	/* Under the inode's lock: the backing mtime and size at the last open; unchanged means
	 * the kernel's cached pages are still right (keep_cache). */
	bool seen_open;
	struct timespec open_mtime;
	off_t open_size;
};

/*
 * One inode the kernel knows of. Its address is the FUSE node ID (the root is FUSE_ROOT_ID).
 * Lock order: inode_table.lock is never held while taking an inode's locks; an inode's io
 * lock is taken before its lock.
 */
struct inode {
	/* Set when the inode is made, then read-only. */
	int fd; /* O_PATH | O_NOFOLLOW on the backing entry; keeps it alive after unlink. -1 for
		 * a parked inode: see inode_fd_get */
	struct file_handle *handle; /* names a parked inode's backing entry */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits */
	uint64_t generation;

	/* protected by inode_table.lock */
	uint64_t nlookup; /* lookups the kernel holds; the inode goes away at zero */
	struct inode *hnext;
	bool retired; /* on inode_table.retired instead of in a bucket: see itab_get */

	/* The blob's contents: shared by reads and lseek, exclusive for writes, truncation and
	 * fallocate, which must not interleave their read-modify-write of chunks. */
	pthread_rwlock_t io;

	/* protected by lock */
	pthread_mutex_t lock;
	/* A directory's ID (has_dir_id), or a regular file's from its blob header (has_file_id;
	 * it never changes), once read: which one by the inode's type. */
	bool has_dir_id, has_file_id;
	union {
		uint8_t dir_id[ECFS_DIR_ID_SIZE];
		uint8_t file_id[ECFS_FILE_ID_SIZE];
	};
	/* Format 2: where the kernel last found this inode (lookup, create, rename), which its
	 * bindings are checked against: the parent's ID and the full encoded name (malloc'd;
	 * NULL when not known). */
	uint8_t place_parent[ECFS_DIR_ID_SIZE];
	char *place_name;
	/* The daemon removed the name at that place (unlink, rename over it) from a file with
	 * other names, which the kernel may still reach through its cached entries. */
	bool place_gone;
	/* Format 2, a symlink the daemon replaced by a copy sealed for a new place (rename,
	 * exchange): its target, for readlink through the kernel's inode of the original, which
	 * has no backing link (nor, for a long target, side file) left (malloc'd, else NULL). */
	char *kept_target;
	/* A regular file's contents: made at its first open or key load, kept until the inode
	 * goes, so that inodes only looked up (find, ls -l of a big tree) stay small. The
	 * pointer is set once, under lock. */
	struct inode_content *content;
	/* Format 2: the header's LINKED and SPARSE flags as the daemon last read or wrote them
	 * (when header_flags_known), kept after the key goes. Only the daemon sets either flag,
	 * and it updates these when it does: an unlink of a file with neither skips reading
	 * its header. */
	bool header_flags_known;
	uint16_t header_flags;
	/* protected by lock: the file lost its last name while the daemon knew it (it may be
	 * open, or about to be): its holes map goes when the inode is forgotten (holes.c). */
	bool holes_orphan;
	/* protected by lock: the daemon removed the file's last name without reading its
	 * header (its flags unknown); bind_file_forget reads it when the kernel forgets the
	 * inode, through fd, which keeps the nameless file alive. */
	bool unlinked_unread;
	unsigned nopen; /* open handles */
};

struct inode_table {
	/* Parking (set before the session starts, then read-only): once nfds inodes hold a
	 * descriptor, new inodes other than directories on the volume's file system (mount_dev)
	 * keep a file handle instead, opened by handle for each operation (mount_fd; -1: never
	 * park). Every inode the kernel knows holding a descriptor made RLIMIT_NOFILE (20000
	 * here, and root cannot always raise it) the limit on the inodes of a mount. */
	int mount_fd;
	dev_t mount_dev;
	size_t fd_budget;
	size_t nfds; /* inodes holding a descriptor (atomic) */

	pthread_mutex_t lock;
	/* protected by lock */
	struct inode **buckets;
	size_t nbuckets;
	size_t count;
	uint64_t generation;
	/* Parked inodes whose backing entry is gone and whose number the backing file system
	 * gave to a new entry; the kernel still holds lookups of them (chained by hnext). */
	struct inode *retired;
};

int itab_init(struct inode_table *t);
/* Finds the inode of st's (st_dev, st_ino) and adds one lookup, or makes one that takes over
 * *fd (then *fd is set to -1). NULL when out of memory. */
struct inode *itab_get(struct inode_table *t, int *fd, const struct stat *st);
/* The inode of the entry open as fd (stat st) when the table has one, with one more lookup
 * (drop it with itab_unref); NULL otherwise. */
struct inode *itab_peek(struct inode_table *t, int fd, const struct stat *st);
/* The same for an entry known by its stat only: an inode holding a descriptor (which keeps
 * its number from being reused), never a parked one. */
struct inode *itab_peek_held(struct inode_table *t, const struct stat *st);
/* Drops n lookups; the inode is freed when none are left. */
void itab_unref(struct inode_table *t, struct inode *inode, uint64_t n);
/* Frees every inode left (at unmount, when the kernel no longer holds any). */
void itab_destroy(struct inode_table *t);
/* Enables parking with a directory descriptor of the volume's root (taken over), when file
 * handles work there (CAP_DAC_READ_SEARCH and a file system that gives handles). */
void itab_enable_parking(struct inode_table *t, int mount_fd, size_t fd_budget);

/* An O_PATH descriptor of inode's backing entry for one operation: its own, or for a parked
 * inode one opened by its handle. -errno on failure (ESTALE: a parked inode that is gone).
 * inode_fd_put closes a descriptor opened by inode_fd_get. */
int inode_fd_get(const struct inode *inode);
/* The file key of inode while one is loaded (see inode_content), else NULL. */
static inline struct ecfs_file_key *inode_file_key(const struct inode *inode)
{
	const struct inode_content *c = __atomic_load_n(&inode->content, __ATOMIC_ACQUIRE);

	return c ? __atomic_load_n(&c->key, __ATOMIC_ACQUIRE) : NULL;
}
void inode_fd_put(const struct inode *inode, int fd);

#endif /* ECFS_DAEMON_INODE_H */
