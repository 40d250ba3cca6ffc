/* SPDX-License-Identifier: MIT */
/*
 * check_leftover.c - pass 4: envcryptfs.tmp.* entries, left by an update that stopped half-way
 * (a header or file written under a temporary name, a directory ID set aside by rmdir, a
 * directory made under a temporary name by mkdir). None holds anything a reader can see.
 */
#include "tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Counts what a temporary directory holds besides its ID file; -1 when it cannot be read. */
static long foreign_entries(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	long n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, ECFS_DIR_ID_NAME))
			n++;
	closedir(d);
	return n;
}

static void leftover_dir(struct fsck *f, struct dir *d, struct entry *e, const char *backing)
{
	struct fix_at at = {.dirfd = d->fd, .name = e->disk};
	struct fix fx = fix_of(FIX_SAFE, "Remove it", "removed", fix_rmdir_tmp, &at);
	long n = foreign_entries(d->fd, e->disk);
	char detail[120];

	if (n != 0)
		snprintf(detail, sizeof(detail), "it holds %s; left alone",
			 n < 0 ? "entries that cannot be read" : "more than a directory ID");
	fsck_problem(f,
		     problem_of(PASS_LEFTOVER, backing, backing, "leftover-tmp-dir",
				"temporary directory of an interrupted mkdir",
				n == 0 ? "it holds no entries" : detail),
		     n == 0 ? &fx : NULL);
}

static void leftover_file(struct fsck *f, struct dir *d, struct entry *e, const char *backing)
{
	struct fix_at at = {.dirfd = d->fd, .name = e->disk};
	struct fix fx = fix_of(FIX_SAFE, "Remove it", "removed", fix_unlink, &at);

	fsck_problem(f,
		     problem_of(PASS_LEFTOVER, backing, backing, "leftover-tmp-file",
				"temporary file of an interrupted update", "nothing refers to it"),
		     &fx);
}

void leftover_check(struct fsck *f, struct dir *d, struct entry *e)
{
	char *backing = entry_backing(d, e);
	const char *shown = backing ? backing : e->disk;

	if (e->type == DT_DIR)
		leftover_dir(f, d, e, shown);
	else
		leftover_file(f, d, e, shown);
	free(backing);
}
