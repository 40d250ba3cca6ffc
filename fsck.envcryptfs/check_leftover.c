/* SPDX-License-Identifier: MIT */
/*
 * check_leftover.c - pass 4: envcryptfs.tmp.* entries, left by an update that stopped half-way
 * (a header or file written under a temporary name, a directory ID set aside by rmdir, a
 * directory made under a temporary name by mkdir). None holds anything a reader can see.
 */
#include "tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
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

/* ---- symbolic links an interrupted exchange left ---------------------------------------- */

/* Where stored decrypts in d: whether it is sealed for the place of entry e. */
static bool sealed_for(struct fsck *f, struct dir *d, const struct entry *e, const char *stored)
{
	struct ecfs_place at = {.name = e->full};
	char target[PATH_MAX + 1];

	memcpy(at.parent_id, d->id, ECFS_DIR_ID_SIZE);
	return ecfs_symlink_decrypt_at(f->crypto, &at, stored, target, sizeof(target)) >= 0;
}

/* The link in d that the copy tmp was sealed for and that does not authenticate where it is
 * (RENAME_EXCHANGE moved it there before the crash), or NULL. */
static struct entry *link_replaced_by(struct fsck *f, struct dir *d, const struct entry *tmp)
{
	char copy[ECFS_SYMLINK_STORED_MAX], own[ECFS_SYMLINK_STORED_MAX];

	if (ecfs_volume_format(f->vol) < 2 || !f->have_key || !d->have_id ||
	    links_read_stored(f, d->fd, tmp->disk, copy) < 0)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		struct entry *e = &d->e[i];

		if (e->type != DT_LNK || !e->full || !sealed_for(f, d, e, copy))
			continue;
		if (links_read_stored(f, d->fd, e->disk, own) < 0 || !sealed_for(f, d, e, own))
			return e;
	}
	return NULL;
}

/* The copy tmp takes the place of the link e it was made for; what e named (a side file) is
 * then an orphan, removed at the end of the walk. */
static void exchange_copy(struct fsck *f, struct dir *d, struct entry *tmp, struct entry *e)
{
	char *backing = entry_backing(d, tmp), *plain = entry_plain(d, e);
	const char *shown = shown_path(plain, e->disk);
	char stored[ECFS_SYMLINK_STORED_MAX];
	struct fix_at at = {.dirfd = d->fd, .name = tmp->disk, .new_name = e->disk};
	char detail[PATH_MAX + 200], done[PATH_MAX + 40];
	struct fix fx;

	snprintf(detail, sizeof(detail),
		 "a copy of the symbolic link %s sealed for its place, which RENAME_EXCHANGE "
		 "moved it to: the link found there does not authenticate",
		 shown);
	snprintf(done, sizeof(done), "renamed over %s", shown);
	fx = fix_of(FIX_SAFE, "Put it in place of the link", done, fix_rename, &at);
	fx.needs_key = true;
	/* Whether or not it moves, the copy names its side file (a long target). */
	(void)links_load(f, d, tmp, stored, shown, backing ? backing : tmp->disk);
	fsck_problem(f,
		     problem_of(PASS_LEFTOVER, backing ? backing : tmp->disk,
				backing ? backing : tmp->disk, "symlink-exchange-copy",
				"symbolic link copy of an interrupted exchange", detail),
		     &fx);
	free(backing);
	free(plain);
}

bool leftover_is_tmp(const struct entry *e)
{
	return !strncmp(e->disk, ECFS_TMP_PREFIX, strlen(ECFS_TMP_PREFIX));
}

void leftover_symlinks(struct fsck *f, struct dir *d)
{
	for (size_t i = 0; i < d->n && !fsck_cancelled; i++) {
		struct entry *e = &d->e[i], *link;

		if (!leftover_is_tmp(e) || e->type != DT_LNK)
			continue;
		link = link_replaced_by(f, d, e);
		if (link)
			exchange_copy(f, d, e, link);
		else
			leftover_check(f, d, e);
	}
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
