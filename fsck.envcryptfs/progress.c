/* SPDX-License-Identifier: MIT */
/*
 * progress.c - the progress line on a terminal: files and bytes checked, rate and time left.
 * A quick first walk (names and sizes only, nothing kept) gives the totals; a thread rewrites
 * the line four times a second.
 */
#include "fsck.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 250000000L /* at most four rewrites a second */

struct progress {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	uint64_t total_files, total_bytes;
	struct timespec start;
	struct fsck *f;
};

static bool is_user_entry(const char *name)
{
	enum ecfs_name_kind k = ecfs_name_classify(name);

	return k == ECFS_NAME_ENCRYPTED || k == ECFS_NAME_LONG;
}

/* Adds up the user files and blob bytes below dirfd (which it closes). */
static void count_tree(struct progress *p, int dirfd, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	struct stat st;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d)) && !fsck_cancelled) {
		if (!is_user_entry(e->d_name) ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 4096) {
			int fd = openat(dirfd, e->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0)
				count_tree(p, fd, depth + 1);
			continue;
		}
		p->total_files++;
		if (S_ISREG(st.st_mode))
			p->total_bytes += (uint64_t)st.st_size;
	}
	closedir(d);
}

static double elapsed(const struct progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - p->start.tv_sec) + (now.tv_nsec - p->start.tv_nsec) / 1e9;
}

static void show(struct progress *p)
{
	uint64_t files = p->f->n.files, bytes = p->f->n.bytes;
	double secs = elapsed(p), rate = secs > 0 ? (double)bytes / secs : 0;
	double left =
	    rate > 0 && p->total_bytes > bytes ? (double)(p->total_bytes - bytes) / rate : 0;
	char line[200];

	snprintf(line, sizeof(line), "%s: %llu/%llu files, %.1f/%.1f MiB, %.1f MiB/s, %d:%02d left",
		 PROG, (unsigned long long)files, (unsigned long long)p->total_files,
		 (double)bytes / 1048576, (double)p->total_bytes / 1048576, rate / 1048576,
		 (int)left / 60, (int)left % 60);
	report_status(p->f->rep, line);
}

static void *progress_main(void *arg)
{
	struct progress *p = arg;
	struct timespec t;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_nsec += TICK_NS;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cv, &p->mu, &t);
		if (!p->stop)
			show(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int progress_start(struct fsck *f)
{
	struct progress *p;
	pthread_condattr_t ca;
	sigset_t all, old;
	int fd, r;

	if (!isatty(STDERR_FILENO))
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	p->f = f;
	report_status(f->rep, PROG ": counting files...");
	fd = openat(ecfs_volume_dirfd(f->vol), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		count_tree(p, fd, 0);
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&p->thread, NULL, progress_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return -1;
	}
	f->prog = p;
	return 0;
}

void progress_stop(struct fsck *f)
{
	struct progress *p = f->prog;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
	f->prog = NULL;
}
