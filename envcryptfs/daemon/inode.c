/* inode.c - the inode table: a hash map from backing (st_dev, st_ino) to struct inode. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define ITAB_MIN_BUCKETS 1024

static size_t bucket_of(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;

	return (size_t)(h ^ h >> 29) & (nbuckets - 1);
}

int itab_init(struct inode_table *t)
{
	t->buckets = calloc(ITAB_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = ITAB_MIN_BUCKETS;
	t->count = 0;
	t->generation = 0;
	t->retired = NULL;
	t->mount_fd = -1;
	t->nfds = 0;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

/* Doubles the bucket array when chains grow past two on average; failure only costs speed.
 * Called with t->lock held. */
static void itab_grow(struct inode_table *t)
{
	size_t n = t->nbuckets * 2;
	struct inode **b;

	if (t->count < t->nbuckets * 2)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct inode *p = t->buckets[i], *next;

		for (; p; p = next) {
			size_t k = bucket_of(p->dev, p->ino, n);

			next = p->hnext;
			p->hnext = b[k];
			b[k] = p;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

/* The file handle of the entry open as fd, or NULL; asked for on the stack, then copied at
 * its size, which leaves no freed tail between parked inodes. */
static struct file_handle *handle_of(int fd)
{
	union {
		struct file_handle h;
		char room[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} buf;
	struct file_handle *h;
	int mount_id;

	buf.h.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &buf.h, &mount_id, AT_EMPTY_PATH) < 0)
		return NULL;
	h = malloc(sizeof(*h) + buf.h.handle_bytes);
	if (h)
		memcpy(h, &buf.h, sizeof(*h) + buf.h.handle_bytes);
	return h;
}

/* A new inode for the entry open as fd. It takes fd over later (itab_get), unless parked:
 * then it keeps a handle and fd stays the caller's. */
static struct inode *inode_new(struct inode_table *t, int fd, const struct stat *st)
{
	struct inode *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->fd = fd;
	p->dev = st->st_dev;
	p->ino = st->st_ino;
	p->type = st->st_mode & S_IFMT;
	p->nlookup = 1;
	if (t->mount_fd >= 0 && !S_ISDIR(st->st_mode) && st->st_dev == t->mount_dev &&
	    __atomic_load_n(&t->nfds, __ATOMIC_RELAXED) >= t->fd_budget) {
		p->handle = handle_of(fd);
		if (p->handle)
			p->fd = -1;
	}
	pthread_rwlock_init(&p->io, NULL);
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

static void inode_free(struct inode_table *t, struct inode *p)
{
	bind_file_forget(p);
	if (p->fd >= 0) {
		close(p->fd);
		__atomic_sub_fetch(&t->nfds, 1, __ATOMIC_RELAXED);
	}
	free(p->handle);
	free(p->place_name);
	free(p->kept_target);
	holes_forget(p);
	file_content_free(p);
	pthread_rwlock_destroy(&p->io);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void itab_enable_parking(struct inode_table *t, int mount_fd, size_t fd_budget)
{
	struct file_handle *h = handle_of(mount_fd);
	struct stat st;
	int fd = h ? open_by_handle_at(mount_fd, h, O_PATH | O_CLOEXEC) : -1;

	free(h);
	if (fd < 0 || fstat(mount_fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		close(mount_fd);
		return;
	}
	close(fd);
	t->mount_dev = st.st_dev;
	t->fd_budget = fd_budget;
	t->mount_fd = mount_fd;
}

int inode_fd_get(const struct inode *inode)
{
	int fd;

	if (inode->fd >= 0)
		return inode->fd;
	fd = open_by_handle_at(fs.itab.mount_fd, inode->handle, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void inode_fd_put(const struct inode *inode, int fd)
{
	if (fd >= 0 && fd != inode->fd)
		close(fd);
}

/* True when the entry open as fd is the one parked inode p names. A parked inode holds no
 * descriptor, so its backing entry can be removed and its number given to a new entry while
 * the kernel still knows it: the number alone does not say which entry it is. (An inode with
 * a descriptor keeps its entry, and so its number, alive.) */
static bool parked_is(const struct inode *p, int fd)
{
	struct file_handle *h = handle_of(fd);
	bool same = h && h->handle_type == p->handle->handle_type &&
		    h->handle_bytes == p->handle->handle_bytes &&
		    memcmp(h->f_handle, p->handle->f_handle, h->handle_bytes) == 0;

	free(h);
	return same;
}

static void itab_remove(struct inode_table *t, struct inode *p);

/* Moves p, whose number now names another entry, out of its bucket; it lives on until the
 * kernel forgets it. Called with t->lock held. */
static void itab_retire(struct inode_table *t, struct inode *p)
{
	itab_remove(t, p);
	p->retired = true;
	p->hnext = t->retired;
	t->retired = p;
}

/* The inode of (dev, ino) in the table, for the entry open as fd; called with t->lock held. */
static struct inode *itab_find(struct inode_table *t, int fd, const struct stat *st, size_t k)
{
	struct inode *p;

	for (p = t->buckets[k]; p; p = p->hnext)
		if (p->ino == st->st_ino && p->dev == st->st_dev)
			break;
	if (p && p->fd < 0 && !parked_is(p, fd)) {
		itab_retire(t, p);
		p = NULL;
	}
	return p;
}

struct inode *itab_get(struct inode_table *t, int *fd, const struct stat *st)
{
	struct inode *p, *fresh = NULL;
	size_t k;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		k = bucket_of(st->st_dev, st->st_ino, t->nbuckets);
		p = itab_find(t, *fd, st, k);
		if (p || fresh)
			break;
		/* Allocate outside the lock, then look again: another thread may have won. */
		pthread_mutex_unlock(&t->lock);
		fresh = inode_new(t, *fd, st);
		if (!fresh)
			return NULL;
		pthread_mutex_lock(&t->lock);
	}
	if (p) {
		p->nlookup++;
	} else {
		p = fresh;
		fresh = NULL;
		p->generation = ++t->generation;
		p->hnext = t->buckets[k];
		t->buckets[k] = p;
		t->count++;
		itab_grow(t);
		if (p->fd >= 0)
			__atomic_add_fetch(&t->nfds, 1, __ATOMIC_RELAXED);
		else
			close(*fd); /* parked: the handle names it */
		*fd = -1;
	}
	pthread_mutex_unlock(&t->lock);
	if (fresh) {
		fresh->fd = -1; /* still the caller's */
		inode_free(t, fresh);
	}
	return p;
}

struct inode *itab_peek(struct inode_table *t, int fd, const struct stat *st)
{
	struct inode *p;

	pthread_mutex_lock(&t->lock);
	p = itab_find(t, fd, st, bucket_of(st->st_dev, st->st_ino, t->nbuckets));
	if (p)
		p->nlookup++;
	pthread_mutex_unlock(&t->lock);
	return p;
}

struct inode *itab_peek_held(struct inode_table *t, const struct stat *st)
{
	struct inode *p;

	pthread_mutex_lock(&t->lock);
	for (p = t->buckets[bucket_of(st->st_dev, st->st_ino, t->nbuckets)]; p; p = p->hnext)
		if (p->ino == st->st_ino && p->dev == st->st_dev)
			break;
	if (p && p->fd < 0)
		p = NULL;
	if (p)
		p->nlookup++;
	pthread_mutex_unlock(&t->lock);
	return p;
}

/* Unlinks p from its chain (a bucket, or the retired list); called with t->lock held. */
static void itab_remove(struct inode_table *t, struct inode *p)
{
	struct inode **pp =
	    p->retired ? &t->retired : &t->buckets[bucket_of(p->dev, p->ino, t->nbuckets)];

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	if (!p->retired)
		t->count--;
}

void itab_unref(struct inode_table *t, struct inode *inode, uint64_t n)
{
	bool gone;

	pthread_mutex_lock(&t->lock);
	if (inode->nlookup < n) {
		/* The kernel never forgets more than it was given: this is our bug. Keep the
		 * inode (a leak) rather than free one that may still be in use. */
		fs_log(LOG_ERR, "forget of %llu lookups, inode %llu holds %llu",
		       (unsigned long long)n, (unsigned long long)inode->ino,
		       (unsigned long long)inode->nlookup);
		n = 0;
	}
	inode->nlookup -= n;
	gone = n && inode->nlookup == 0;
	if (gone)
		itab_remove(t, inode);
	pthread_mutex_unlock(&t->lock);
	if (gone)
		inode_free(t, inode);
}

void itab_destroy(struct inode_table *t)
{
	while (t->retired) {
		struct inode *p = t->retired;

		t->retired = p->hnext;
		inode_free(t, p);
	}
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct inode *p = t->buckets[i], *next;

		for (; p; p = next) {
			next = p->hnext;
			inode_free(t, p);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
	if (t->mount_fd >= 0)
		close(t->mount_fd);
	t->mount_fd = -1;
	pthread_mutex_destroy(&t->lock);
}
