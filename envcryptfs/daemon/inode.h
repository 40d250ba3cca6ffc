/* inode.h - the inode table: backing (st_dev, st_ino) -> what the daemon knows of an inode. */
#ifndef ECFS_DAEMON_INODE_H
#define ECFS_DAEMON_INODE_H

#include "envcryptfs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

/*
 * One inode the kernel knows of. Its address is the FUSE node ID (the root is FUSE_ROOT_ID).
 * Lock order: inode_table.lock is never held while taking an inode's locks; an inode's io
 * lock is taken before its lock.
 */
struct inode {
	/* Set when the inode is made, then read-only. */
	int fd; /* O_PATH | O_NOFOLLOW on the backing entry; keeps it alive after unlink */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits */
	uint64_t generation;

	/* protected by inode_table.lock */
	uint64_t nlookup; /* lookups the kernel holds; the inode goes away at zero */
	struct inode *hnext;

	/* The blob's contents: shared by reads and lseek, exclusive for writes, truncation and
	 * fallocate, which must not interleave their read-modify-write of chunks. */
	pthread_rwlock_t io;

	/* protected by lock */
	pthread_mutex_t lock;
	bool has_dir_id;
	uint8_t dir_id[ECFS_DIR_ID_SIZE];
	/* Set lazily under lock; replaced or freed only with io held exclusively, so a holder
	 * of io may use it without lock. Dropped at the last close: each key is a locked page,
	 * so only open files keep one. */
	struct ecfs_file_key *key;
	unsigned nopen; /* open handles */
	/* The backing mtime and size at the last open: unchanged means the kernel's cached
	 * pages are still right (keep_cache). */
	bool seen_open;
	struct timespec open_mtime;
	off_t open_size;
};

struct inode_table {
	pthread_mutex_t lock;
	/* protected by lock */
	struct inode **buckets;
	size_t nbuckets;
	size_t count;
	uint64_t generation;
};

int itab_init(struct inode_table *t);
/* Finds the inode of st's (st_dev, st_ino) and adds one lookup, or makes one that takes over
 * *fd (then *fd is set to -1). NULL when out of memory. */
struct inode *itab_get(struct inode_table *t, int *fd, const struct stat *st);
/* Drops n lookups; the inode is freed when none are left. */
void itab_unref(struct inode_table *t, struct inode *inode, uint64_t n);
/* Frees every inode left (at unmount, when the kernel no longer holds any). */
void itab_destroy(struct inode_table *t);

#endif /* ECFS_DAEMON_INODE_H */
