/* SPDX-License-Identifier: MIT */
/*
 * check_sidecars.c - pass 2, format 2: the per-file files at the root, link files
 * (envcryptfs.links.*) and holes maps (envcryptfs.holes.*). Each must belong to a file the
 * walk found whose header says it has one (LINKED, SPARSE); one that none claims is left by
 * a crash between writing it and the header, or by a file removed while open, and is removed
 * by -p. The walking thread only.
 */
#include "tree.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sidecar_names {
	char **v;
	size_t n;
};

/* The root's link files and holes maps, the names the files found claim, and whether a file
 * whose header could not be read may claim one too. */
static struct sidecar_names found, claimed;
static bool unsure;

void sidecars_unsure(void)
{
	unsure = true;
}

static void add_name(struct fsck *f, struct sidecar_names *s, const char *name)
{
	char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
	char *copy = strdup(name);

	if (!v || !copy) {
		free(copy);
		if (v)
			s->v = v;
		fsck_operr(f, PASS_TREE, f->o.dir, f->o.dir, "out of memory");
		atomic_store(&f->tree_incomplete, true);
		return;
	}
	s->v = v;
	s->v[s->n++] = copy;
}

static void free_names(struct sidecar_names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct sidecar_names){0};
}

bool sidecars_is_one(const char *disk)
{
	return !strncmp(disk, ECFS_LINKS_PREFIX, strlen(ECFS_LINKS_PREFIX)) ||
	       !strncmp(disk, ECFS_HOLES_PREFIX, strlen(ECFS_HOLES_PREFIX));
}

void sidecars_note(struct fsck *f, struct dir *d, struct entry *e)
{
	if (d->is_root && e->type == DT_REG && ecfs_volume_format(f->vol) >= 2 && f->have_key)
		add_name(f, &found, e->disk);
}

void sidecars_claim(struct fsck *f, const struct ecfs_blob_header *h)
{
	char name[ECFS_LINKS_NAME_MAX > ECFS_HOLES_NAME_MAX ? ECFS_LINKS_NAME_MAX
							    : ECFS_HOLES_NAME_MAX];

	if (h->flags & ECFS_BLOB_LINKED) {
		ecfs_links_name(h->file_id, name);
		add_name(f, &claimed, name);
	}
	if (h->flags & ECFS_BLOB_SPARSE) {
		ecfs_holes_name(h->file_id, name);
		add_name(f, &claimed, name);
	}
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void report_orphan(struct fsck *f, int rootfd, const char *name, bool complete)
{
	bool holes = !strncmp(name, ECFS_HOLES_PREFIX, strlen(ECFS_HOLES_PREFIX));
	struct fix_at at = {.dirfd = rootfd, .name = name};
	struct fix fx = fix_of(FIX_SAFE, "Remove it", "removed", fix_unlink, &at);
	char *backing = path_join(f->o.dir, name);

	fsck_problem(f,
		     problem_of(PASS_TREE, backing ? backing : name, backing ? backing : name,
				holes ? "holes-map-orphan" : "link-file-orphan",
				holes ? "holes map is a leftover" : "link file is a leftover",
				complete ? "no file's header names it (left by a crash or by a "
					   "file removed while open)"
					 : "no file seen names it; left alone, since not every "
					   "directory or blob header could be read"),
		     complete ? &fx : NULL);
	free(backing);
}

void sidecars_check_orphans(struct fsck *f, int rootfd)
{
	/* After an incomplete walk a file that claims one may have gone unseen. */
	bool complete = !atomic_load(&f->tree_incomplete) && !fsck_cancelled && !unsure;

	if (claimed.n)
		qsort(claimed.v, claimed.n, sizeof(*claimed.v), cmp_name);
	for (size_t i = 0; i < found.n; i++)
		if (!claimed.n ||
		    !bsearch(&found.v[i], claimed.v, claimed.n, sizeof(*claimed.v), cmp_name))
			report_orphan(f, rootfd, found.v[i], complete);
	free_names(&found);
	free_names(&claimed);
}
