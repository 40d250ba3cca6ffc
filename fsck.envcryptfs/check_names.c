/* SPDX-License-Identifier: MIT */
/* check_names.c - pass 2, names: decryption, long names and their side files, duplicates. */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIDE_SUFFIX_LEN (sizeof(ECFS_LONG_SIDE_SUFFIX) - 1)

/* Reports a problem with entry e (its side file when side is not NULL). */
static bool entry_problem(struct fsck *f, struct dir *d, struct entry *e, const char *side,
			  const char *kind, const char *what, const char *detail,
			  const struct fix *fix)
{
	char *plain = entry_plain(d, e), *backing = path_join(d->backing, side ? side : e->disk);
	bool fixed;

	fixed = fsck_problem(f,
			     problem_of(PASS_TREE, shown_path(plain, backing ? backing : e->disk),
					backing ? backing : e->disk, kind, what, detail),
			     fix);
	free(plain);
	free(backing);
	return fixed;
}

/* A long entry's side file: present, a well-formed name, and hashing to the entry's name.
 * Needs no key. Returns 0 with the full encoded name in full. */
static int check_side_of(struct fsck *f, struct dir *d, struct entry *e, char *full)
{
	char side[ECFS_DISK_NAME_MAX + SIDE_SUFFIX_LEN], hash[ECFS_DISK_NAME_MAX];
	char detail[ECFS_DISK_NAME_MAX + 100];
	struct entry *se;

	snprintf(side, sizeof(side), "%s%s", e->disk, ECFS_LONG_SIDE_SUFFIX);
	se = dir_find(d, side);
	if (!se) {
		entry_problem(f, d, e, NULL, "long-side-missing", "long name is lost",
			      "its side file " ECFS_LONG_SIDE_SUFFIX " is missing", NULL);
		return -1;
	}
	if (se->type != DT_REG || ecfs_name_side_read(d->fd, e->disk, full) < 0) {
		entry_problem(f, d, e, side, "long-side-bad", "long name is lost",
			      "its side file does not hold an encoded name", NULL);
		return -1;
	}
	ecfs_name_long_hash(full, hash);
	if (strcmp(hash, e->disk) != 0) {
		snprintf(detail, sizeof(detail), "its side file holds the name of %s", hash);
		entry_problem(f, d, e, side, "long-side-mismatch", "long name is lost", detail,
			      NULL);
		return -1;
	}
	return 0;
}

void names_check_entry(struct fsck *f, struct dir *d, struct entry *e)
{
	char full[ECFS_ENCODED_NAME_MAX], name[ECFS_NAME_MAX + 1];
	const char *encoded = e->disk;
	int r;

	if (e->kind == ECFS_NAME_LONG) {
		if (check_side_of(f, d, e, full) < 0)
			return;
		encoded = full;
	}
	/* Without a key, or in a directory whose ID is gone (reported once), names stay
	 * unverified. */
	if (!f->have_key || !d->have_id)
		return;
	r = ecfs_name_decrypt(f->crypto, d->id, encoded, name);
	if (r < 0) {
		entry_problem(f, d, e, NULL, "name-undecryptable", "name does not decrypt",
			      "it fails authentication under its directory's ID (renamed, moved "
			      "from another directory, or damaged); left alone",
			      NULL);
		return;
	}
	e->plain = strdup(name);
	e->full = strdup(encoded);
}

void names_check_side(struct fsck *f, struct dir *d, struct entry *e)
{
	size_t len = strlen(e->disk) - SIDE_SUFFIX_LEN;
	char owner[ECFS_DISK_NAME_MAX];
	struct fix_at at = {.dirfd = d->fd, .name = e->disk};
	struct fix fx = fix_of(FIX_SAFE, "Remove it", "removed", fix_unlink, &at);
	char *backing;

	snprintf(owner, sizeof(owner), "%.*s", (int)len, e->disk);
	if (dir_find(d, owner))
		return;
	/* A create or remove that stopped between the side file and its entry. */
	backing = entry_backing(d, e);
	fsck_problem(f,
		     problem_of(PASS_TREE, backing ? backing : e->disk, backing ? backing : e->disk,
				"long-side-orphan", "orphaned long-name side file",
				"its entry is missing"),
		     &fx);
	free(backing);
}

static int cmp_plain(const void *a, const void *b)
{
	return strcmp((*(struct entry *const *)a)->plain, (*(struct entry *const *)b)->plain);
}

static void duplicate(struct fsck *f, struct dir *d, struct entry *a, struct entry *b)
{
	char detail[2 * ECFS_DISK_NAME_MAX + 80];

	snprintf(detail, sizeof(detail), "backing entries %s and %s decrypt to the same name",
		 a->disk, b->disk);
	entry_problem(f, d, b, NULL, "name-duplicate", "duplicate name", detail, NULL);
}

void names_check_duplicates(struct fsck *f, struct dir *d)
{
	struct entry **v = malloc((d->n ? d->n : 1) * sizeof(*v));
	size_t n = 0;

	if (!v) {
		fsck_operr(f, PASS_TREE, shown_path(d->plain, d->backing), d->backing,
			   "out of memory");
		return;
	}
	for (size_t i = 0; i < d->n; i++)
		if (d->e[i].plain)
			v[n++] = &d->e[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_plain);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(v[i - 1]->plain, v[i]->plain))
			duplicate(f, d, v[i - 1], v[i]);
	free(v);
}
