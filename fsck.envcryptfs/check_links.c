/* SPDX-License-Identifier: MIT */
/*
 * check_links.c - pass 2, long symlink targets: a symlink whose stored target is too long for
 * the backing symlink names a side file at the root (envcryptfs.5, "Symbolic links"). Each
 * side file must hash to its name and be named by a symlink; one that none names is left by
 * an interrupted create or remove and is removed by -p.
 */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct link_side {
	char name[ECFS_LINK_REF_LEN + 1];
	bool named; /* a symlink names it */
};

void links_note_side(struct fsck *f, struct dir *d, struct entry *e)
{
	struct link_side *s;
	char *b;

	if (!d->is_root || e->type != DT_REG) {
		b = entry_backing(d, e);
		fsck_problem(f,
			     problem_of(PASS_TREE, b ? b : e->disk, b ? b : e->disk,
					"foreign-entry", "entry is not part of the volume",
					d->is_root
					    ? "a symlink side file that is not a regular file; "
					      "left alone"
					    : "a root-only name below the root; left alone"),
			     NULL);
		free(b);
		return;
	}
	s = realloc(f->link_sides, (f->n_link_sides + 1) * sizeof(*s));
	if (!s) {
		fsck_operr(f, PASS_TREE, d->backing, d->backing, "out of memory");
		return;
	}
	f->link_sides = s;
	/* The root's entries come in name order, so the table stays sorted. */
	s = &f->link_sides[f->n_link_sides++];
	snprintf(s->name, sizeof(s->name), "%s", e->disk);
	s->named = false;
}

static int cmp_side(const void *a, const void *b)
{
	return strcmp(((const struct link_side *)a)->name, ((const struct link_side *)b)->name);
}

static void link_problem(struct fsck *f, const char *path, const char *backing, const char *kind,
			 const char *detail)
{
	fsck_problem(
	    f, problem_of(PASS_TREE, path, backing, kind, "symbolic link target is lost", detail),
	    NULL);
}

int links_read_stored(struct fsck *f, int dirfd, const char *disk, char *stored)
{
	ssize_t n = readlinkat(dirfd, disk, stored, ECFS_SYMLINK_STORED_MAX);
	char ref[ECFS_LINK_REF_LEN + 1];

	if (n < 0)
		return -errno;
	if (n == ECFS_SYMLINK_STORED_MAX)
		return -EBADMSG;
	stored[n] = '\0';
	if (!ecfs_link_is_ref(stored))
		return 0;
	snprintf(ref, sizeof(ref), "%s", stored);
	return ecfs_link_side_read(ecfs_volume_dirfd(f->vol), ref, stored);
}

int links_load(struct fsck *f, struct dir *d, struct entry *e, char *stored, const char *path,
	       const char *backing)
{
	struct link_side key, *s;
	char detail[200];
	ssize_t n = readlinkat(d->fd, e->disk, stored, ECFS_SYMLINK_STORED_MAX);
	int r;

	if (n < 0 || n == ECFS_SYMLINK_STORED_MAX) {
		fsck_operr(f, PASS_TREE, path, backing, "cannot read the link: %s",
			   n < 0 ? strerror(errno) : "too long");
		return -1;
	}
	stored[n] = '\0';
	if (!ecfs_link_is_ref(stored))
		return 0;
	snprintf(key.name, sizeof(key.name), "%s", stored);
	s = f->n_link_sides ? bsearch(&key, f->link_sides, f->n_link_sides, sizeof(key), cmp_side)
			    : NULL;
	if (!s) {
		snprintf(detail, sizeof(detail), "its side file %s is missing", key.name);
		link_problem(f, path, backing, "symlink-side-missing", detail);
		return -1;
	}
	s->named = true;
	r = ecfs_link_side_read(ecfs_volume_dirfd(f->vol), key.name, stored);
	if (r < 0) {
		snprintf(detail, sizeof(detail), "its side file %s %s", key.name,
			 r == -EBADMSG ? "does not hash to its name (damaged)" : "cannot be read");
		link_problem(f, path, backing, "symlink-side-bad", detail);
		return -1;
	}
	return 0;
}

void links_check_orphans(struct fsck *f, int rootfd)
{
	/* After an incomplete walk a symlink that names a side file may have gone unseen. */
	bool complete = !atomic_load(&f->tree_incomplete) && !fsck_cancelled;

	for (size_t i = 0; i < f->n_link_sides; i++) {
		struct link_side *s = &f->link_sides[i];
		struct fix_at at = {.dirfd = rootfd, .name = s->name};
		struct fix fx = fix_of(FIX_SAFE, "Remove it", "removed", fix_unlink, &at);
		char *backing;

		if (s->named)
			continue;
		backing = path_join(f->o.dir, s->name);
		fsck_problem(f,
			     problem_of(PASS_TREE, backing ? backing : s->name,
					backing ? backing : s->name, "symlink-side-orphan",
					"orphaned symlink side file",
					complete ? "no symbolic link names it"
						 : "no symbolic link seen names it; left alone, "
						   "since not every directory could be read"),
			     complete ? &fx : NULL);
		free(backing);
	}
	free(f->link_sides);
	f->link_sides = NULL;
	f->n_link_sides = 0;
}
