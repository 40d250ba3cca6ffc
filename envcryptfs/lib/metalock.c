/* SPDX-License-Identifier: MIT */
/*
 * metalock.c - the metadata lock: one flock(2) on envcryptfs.metalock in the backing directory,
 * taken by every writer of the header (envcryptfsctl, the daemon's KMS rewrap, fsck's repairs,
 * mkfs), so that header updates happen one at a time and none is lost.
 *
 * flock() locks belong to an open file description: a second open of the file in the same
 * process would wait for the first. So each process keeps a list of the locks it holds, and a
 * thread taking a lock it already holds only counts once more (the tools take the lock around
 * a whole operation, and the library's header writes take it again inside).
 */
#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ecfs_metalock {
	struct ecfs_metalock *next;
	dev_t dev;
	ino_t ino;
	int fd;
	pid_t pid; /* a child forked meanwhile inherits the list, not the lock */
	pthread_t owner;
	unsigned depth;
};

/* The locks this process holds, and how long to wait for one; protected by held_mutex. */
static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct ecfs_metalock *held;
static unsigned wait_seconds = ECFS_METALOCK_WAIT;

void ecfs_metalock_set_wait(unsigned seconds)
{
	pthread_mutex_lock(&held_mutex);
	wait_seconds = seconds;
	pthread_mutex_unlock(&held_mutex);
}

/* The calling thread's entry for the directory (dev, ino), or NULL. */
static struct ecfs_metalock *find_held(dev_t dev, ino_t ino)
{
	for (struct ecfs_metalock *l = held; l; l = l->next)
		if (l->dev == dev && l->ino == ino && l->pid == getpid() &&
		    pthread_equal(l->owner, pthread_self()))
			return l;
	return NULL;
}

/* Who holds the lock, from what the holder wrote into the file ("pid 123 (envcryptfsctl)"). */
static void describe_holder(int fd, char *out, size_t len)
{
	char buf[64] = "", comm[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = 0;

	out[0] = '\0';
	if (n <= 0 || sscanf(buf, "%ld %31s", &pid, comm) < 1 || pid <= 0)
		return;
	snprintf(out, len, " (held by pid %ld%s%s)", pid, comm[0] ? ", " : "", comm);
}

/* Notes our pid and program name for the message another writer prints while waiting. */
static void note_holder(int fd)
{
	char comm[32] = "", buf[64];
	FILE *f = fopen("/proc/self/comm", "re");
	int n;

	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	n = snprintf(buf, sizeof(buf), "%ld %s\n", (long)getpid(), comm);
	/* Best effort: only a message depends on it. */
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) < 0)
		return;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits (polling, so that the wait is bounded) for the flock on fd. */
static int wait_flock(int fd, const char *dir, unsigned secs)
{
	double deadline = now_seconds() + secs;
	char who[96];

	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return ecfs_fail(-errno, "cannot lock '%s/%s': %s", dir, ECFS_METALOCK_NAME,
					 strerror(errno));
		if (now_seconds() >= deadline) {
			describe_holder(fd, who, sizeof(who));
			return ecfs_fail(-EBUSY,
					 "another program is changing the header of '%s'%s; "
					 "gave up after %u s (envcryptfsctl --wait SECONDS waits "
					 "longer)",
					 dir, who, secs);
		}
		usleep(50 * 1000);
	}
	return 0;
}

static int open_lock_file(int dirfd, const char *dir)
{
	int fd = ecfs_open_typed(dirfd, ECFS_METALOCK_NAME, O_RDWR | O_CREAT, 0600, S_IFREG);

	if (fd == -EUCLEAN)
		return ecfs_fail(fd, "the metadata lock in '%s': %s", dir, ecfs_last_error());
	if (fd < 0)
		return ecfs_fail(fd, "cannot open the metadata lock '%s/%s': %s", dir,
				 ECFS_METALOCK_NAME, strerror(-fd));
	return fd;
}

int ecfs_metalock_acquire_at(int dirfd, const char *dir, struct ecfs_metalock **out)
{
	struct ecfs_metalock *l;
	struct stat st;
	unsigned secs;
	int fd, r;

	ecfs_clear_error();
	*out = NULL; /* releasing after a failure is a no-op */
	if (fstat(dirfd, &st) < 0)
		return ecfs_fail(-errno, "cannot stat '%s': %s", dir, strerror(errno));
	pthread_mutex_lock(&held_mutex);
	l = find_held(st.st_dev, st.st_ino);
	if (l)
		l->depth++;
	secs = wait_seconds;
	pthread_mutex_unlock(&held_mutex);
	if (l) {
		*out = l;
		return 0;
	}
	fd = open_lock_file(dirfd, dir);
	if (fd < 0)
		return fd;
	r = wait_flock(fd, dir, secs);
	l = r == 0 ? calloc(1, sizeof(*l)) : NULL;
	if (!l) {
		close(fd);
		return r < 0 ? r : -ENOMEM;
	}
	note_holder(fd);
	*l = (struct ecfs_metalock){.dev = st.st_dev,
				    .ino = st.st_ino,
				    .fd = fd,
				    .pid = getpid(),
				    .owner = pthread_self(),
				    .depth = 1};
	pthread_mutex_lock(&held_mutex);
	l->next = held;
	held = l;
	pthread_mutex_unlock(&held_mutex);
	*out = l;
	return 0;
}

int ecfs_metalock_acquire(const char *dir, struct ecfs_metalock **out)
{
	int r, dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*out = NULL;
	if (dirfd < 0)
		return ecfs_fail(-errno, "cannot open volume directory '%s': %s", dir,
				 strerror(errno));
	r = ecfs_metalock_acquire_at(dirfd, dir, out);
	close(dirfd);
	return r;
}

void ecfs_metalock_release(struct ecfs_metalock *l)
{
	struct ecfs_metalock **p;

	if (!l)
		return;
	pthread_mutex_lock(&held_mutex);
	if (--l->depth > 0) {
		pthread_mutex_unlock(&held_mutex);
		return;
	}
	for (p = &held; *p && *p != l; p = &(*p)->next)
		;
	if (*p)
		*p = l->next;
	pthread_mutex_unlock(&held_mutex);
	close(l->fd); /* drops the flock */
	free(l);
}
