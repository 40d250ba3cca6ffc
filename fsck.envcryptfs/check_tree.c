/* SPDX-License-Identifier: MIT */
/*
 * check_tree.c - pass 2: walks the backing tree depth first, one directory at a time: its ID
 * file, each entry by kind, then its files (blobs go to the workers), then its
 * subdirectories. Only the directories on the current path are held in memory.
 */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* A subdirectory waiting to be walked once its parent's entries are freed. */
struct subdir {
	char *disk, *plain, *backing;
	char *full; /* the full encoded name when it decrypted (format 2 checks its place) */
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->disk, ((const struct entry *)b)->disk);
}

struct entry *dir_find(const struct dir *d, const char *disk)
{
	struct entry key = {.disk = (char *)disk};

	return d->n ? bsearch(&key, d->e, d->n, sizeof(*d->e), cmp_entry) : NULL;
}

char *entry_plain(const struct dir *d, const struct entry *e)
{
	char *q, *p;

	if (!d->plain)
		return NULL;
	if (e->plain)
		return path_join(d->plain, e->plain);
	if (asprintf(&q, "?%s", e->disk) < 0)
		return NULL;
	p = path_join(d->plain, q);
	free(q);
	return p;
}

char *entry_backing(const struct dir *d, const struct entry *e)
{
	return path_join(d->backing, e->disk);
}

static void free_entries(struct dir *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->e[i].disk);
		free(d->e[i].plain);
		free(d->e[i].full);
	}
	free(d->e);
	d->e = NULL;
	d->n = 0;
}

static unsigned char entry_type(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISDIR(st.st_mode)   ? DT_DIR
	       : S_ISREG(st.st_mode) ? DT_REG
	       : S_ISLNK(st.st_mode) ? DT_LNK
				     : DT_UNKNOWN;
}

static int add_entry(struct dir *d, size_t *cap, const struct dirent *de)
{
	struct entry *e;

	if (d->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;

		e = realloc(d->e, ncap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		d->e = e;
		*cap = ncap;
	}
	e = &d->e[d->n];
	*e = (struct entry){strdup(de->d_name), entry_type(d->fd, de),
			    ecfs_name_classify(de->d_name), NULL, NULL};
	if (!e->disk)
		return -ENOMEM;
	d->n++;
	return 0;
}

/* Reads every entry of d, sorted by backing name. */
static int read_entries(struct dir *d)
{
	int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dd = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t cap = 0;
	int r = 0;

	if (!dd) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	errno = 0;
	while (r == 0 && (de = readdir(dd))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = add_entry(d, &cap, de);
		errno = 0;
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(dd);
	if (d->n)
		qsort(d->e, d->n, sizeof(*d->e), cmp_entry);
	return r;
}

static bool is_user(const struct entry *e)
{
	return e->kind == ECFS_NAME_ENCRYPTED || e->kind == ECFS_NAME_LONG;
}

/* ---- the directory ID --------------------------------------------------------------- */

static bool holds_user_entries(const struct dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (is_user(&d->e[i]) || d->e[i].kind == ECFS_NAME_LONG_SIDE)
			return true;
	return false;
}

/* An empty directory loses nothing by getting a new ID (an rmdir that stopped half-way
 * leaves one); with entries, their names are lost with the ID. Returns true if repaired. */
static bool dirid_problem(struct fsck *f, struct dir *d, bool missing, bool empty)
{
	bool v2 = ecfs_volume_format(f->vol) >= 2;
	struct fix_at at = {.dirfd = d->fd, .vol = f->vol, .place = v2 ? &d->place : NULL};
	struct fix fx = fix_of(FIX_SAFE, "Give it a new ID", "new ID written", fix_dirid, &at);
	char *path = path_join(d->backing, ECFS_DIR_ID_NAME);
	const char *what =
	    missing ? "directory ID file is missing" : "directory ID file is damaged";
	const char *detail =
	    empty ? "the directory is empty" : "the names in it cannot be decrypted";
	struct problem p =
	    problem_of(PASS_TREE, shown_path(d->plain, d->backing), path ? path : d->backing,
		       missing ? "dirid-missing" : "dirid-bad", what, detail);
	/* A format-2 ID is bound to the directory's place: that needs the key and the place. */
	bool fixable = missing && empty && (!v2 || (f->have_key && d->have_place));
	bool fixed = fsck_problem(f, p, fixable ? &fx : NULL);

	free(path);
	return fixed;
}

/* Format 2: an ID file that names another place (a directory moved or swapped in the backing
 * directory, or an ID file copied from another directory). Reported, never rebound silently:
 * the names below still decrypt, so the walk goes on with the ID. */
static void dirid_elsewhere(struct fsck *f, struct dir *d)
{
	char *path = path_join(d->backing, ECFS_DIR_ID_NAME);

	fsck_problem(f,
		     problem_of(PASS_TREE, shown_path(d->plain, d->backing),
				path ? path : d->backing, "dirid-elsewhere",
				"directory is bound to another place (moved or "
				"swapped?)",
				"its ID file names another parent directory or name; the mount "
				"refuses it with EIO; left alone"),
		     NULL);
	free(path);
	d->have_id = ecfs_dirid_read_at(f->vol, d->fd, NULL, d->id) == 0;
}

static void check_dirid(struct fsck *f, struct dir *d)
{
	bool check = f->have_key && d->have_place && ecfs_volume_format(f->vol) >= 2;
	int r = ecfs_dirid_read_at(f->vol, d->fd, check ? &d->place : NULL, d->id);

	d->have_id = r == 0;
	if (r == -EBADMSG) {
		dirid_elsewhere(f, d);
	} else if (r == -ENOENT || r == -EUCLEAN) {
		if (dirid_problem(f, d, r == -ENOENT, !holds_user_entries(d)))
			d->have_id = ecfs_dirid_read_at(f->vol, d->fd, NULL, d->id) == 0;
	} else if (r < 0) {
		fsck_operr(f, PASS_TREE, shown_path(d->plain, d->backing), d->backing,
			   "cannot read the directory ID: %s", ecfs_strerror(r));
	}
}

/* ---- entries ------------------------------------------------------------------------ */

static void foreign(struct fsck *f, struct dir *d, struct entry *e, const char *detail)
{
	char *b = entry_backing(d, e);

	fsck_problem(f,
		     problem_of(PASS_TREE, b ? b : d->backing, b ? b : d->backing, "foreign-entry",
				"entry is not part of the volume", detail),
		     NULL);
	free(b);
}

static void check_reserved(struct fsck *f, struct dir *d, struct entry *e)
{
	if (leftover_is_tmp(e) && e->type == DT_LNK)
		; /* leftover_symlinks, once the names are known */
	else if (leftover_is_tmp(e))
		leftover_check(f, d, e);
	else if (d->is_root && sidecars_is_one(e->disk))
		sidecars_note(f, d, e);
	else if (!strcmp(e->disk, ECFS_DIR_ID_NAME) && e->type != DT_REG)
		foreign(f, d, e, "a directory ID that is not a regular file; left alone");
	else if (strcmp(e->disk, ECFS_DIR_ID_NAME) && !d->is_root)
		foreign(f, d, e, "a root-only name below the root; left alone");
}

static void check_entry(struct fsck *f, struct dir *d, struct entry *e)
{
	switch (e->kind) {
	case ECFS_NAME_RESERVED:
		check_reserved(f, d, e);
		break;
	case ECFS_NAME_ENCRYPTED:
	case ECFS_NAME_LONG:
		names_check_entry(f, d, e);
		break;
	case ECFS_NAME_LONG_SIDE:
		names_check_side(f, d, e);
		break;
	case ECFS_NAME_LINK_SIDE:
		links_note_side(f, d, e);
		break;
	default:
		foreign(f, d, e, "its name is not an encoded name; left alone");
	}
}

static void check_symlink(struct fsck *f, struct dir *d, struct entry *e, const char *path,
			  const char *backing)
{
	char stored[ECFS_SYMLINK_STORED_MAX], target[PATH_MAX + 1];
	int r;

	/* Side files are checked without a key too: each must be named by a symlink. */
	struct ecfs_place at = {.name = e->full};
	bool bound = ecfs_volume_format(f->vol) >= 2;

	if (links_load(f, d, e, stored, path, backing) < 0 || !f->have_key)
		return;
	/* Format 2: sealed with its place; unknown when the name or the ID did not decrypt. */
	if (bound && (!e->full || !d->have_id))
		return;
	if (bound)
		memcpy(at.parent_id, d->id, ECFS_DIR_ID_SIZE);
	r = ecfs_symlink_decrypt_at(f->crypto, bound ? &at : NULL, stored, target, sizeof(target));
	if (r >= 0)
		return;
	fsck_problem(f,
		     problem_of(PASS_TREE, path, backing, "symlink-target",
				"symbolic link target does not decrypt",
				bound && r == -EBADMSG
				    ? "damaged, or bound to another place (moved "
				      "or swapped?)"
				    : ecfs_strerror(r)),
		     NULL);
}

/* True when the file with header h has a name at place at (its header's tags, or when
 * LINKED its link file's). */
static bool file_named_at(struct fsck *f, const struct ecfs_blob_header *h,
			  const struct ecfs_place *at)
{
	uint8_t tag[ECFS_BIND_TAG_SIZE], zero[ECFS_BIND_TAG_SIZE] = {0};
	struct ecfs_links l;
	bool found;

	if (ecfs_file_name_tag(f->vol, h->file_id, at, tag) < 0)
		return false;
	if (!(h->flags & ECFS_BLOB_LINKED))
		return (memcmp(h->name_tag[0], zero, sizeof(tag)) &&
			!memcmp(h->name_tag[0], tag, sizeof(tag))) ||
		       (memcmp(h->name_tag[1], zero, sizeof(tag)) &&
			!memcmp(h->name_tag[1], tag, sizeof(tag)));
	if (ecfs_links_read(f->vol, ecfs_volume_dirfd(f->vol), h->file_id, &l) < 0)
		return false;
	found = ecfs_links_find(&l, tag) >= 0;
	ecfs_links_free(&l);
	return found;
}

/* Format 2: a regular file must be bound to its place (the blob check reports headers that
 * do not read at all), and claims its link file and holes map. */
static void check_file_place(struct fsck *f, struct dir *d, struct entry *e, const char *path,
			     const char *backing)
{
	struct ecfs_place at = {.name = e->full};
	struct ecfs_blob_header h;
	int fd, r;

	if (ecfs_volume_format(f->vol) < 2 || !f->have_key)
		return;
	fd = ecfs_open_typed(d->fd, e->disk, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0, S_IFREG);
	r = fd < 0 ? fd : ecfs_blob_header_read(f->vol, fd, &h);
	if (fd >= 0)
		close(fd);
	if (r == 0)
		sidecars_claim(f, &h);
	else
		sidecars_unsure();
	if (r < 0 || !e->full || !d->have_id)
		return;
	memcpy(at.parent_id, d->id, ECFS_DIR_ID_SIZE);
	if (!file_named_at(f, &h, &at))
		fsck_problem(f,
			     problem_of(PASS_TREE, path, backing, "file-place",
					"file is bound to another place (moved or swapped?), or "
					"its link file is missing or damaged",
					"opening it fails with EIO; left alone"),
			     NULL);
}

/* A user entry that is not a directory. */
static void check_file(struct fsck *f, struct dir *d, struct entry *e)
{
	char *plain = entry_plain(d, e), *backing = entry_backing(d, e);
	const char *path = shown_path(plain, backing);

	if (!backing || (d->plain && !plain)) {
		fsck_operr(f, PASS_TREE, d->backing, d->backing, "out of memory");
	} else if (e->type == DT_REG) {
		check_file_place(f, d, e, path, backing);
		blob_submit(f, d->fd, e->disk, path, backing);
	} else {
		if (e->type == DT_LNK)
			check_symlink(f, d, e, path, backing);
		atomic_fetch_add(&f->n.files, 1);
		report_checked(f, path);
	}
	free(plain);
	free(backing);
}

/* ---- the walk ------------------------------------------------------------------------- */

static void walk(struct fsck *f, struct dir *d);

/* Keeps what the walk below needs of d's subdirectories, and frees d's entries. */
static struct subdir *take_subdirs(struct dir *d, size_t *n)
{
	struct subdir *s = calloc(d->n ? d->n : 1, sizeof(*s));

	*n = 0;
	for (size_t i = 0; s && i < d->n; i++) {
		struct entry *e = &d->e[i];

		if (!is_user(e) || e->type != DT_DIR)
			continue;
		s[*n] = (struct subdir){e->disk, entry_plain(d, e), entry_backing(d, e), e->full};
		e->disk = NULL;
		e->full = NULL;
		(*n)++;
	}
	free_entries(d);
	return s;
}

static void walk_subdir(struct fsck *f, struct dir *parent, struct subdir *s)
{
	struct dir d = {.plain = s->plain, .backing = s->backing};

	if (s->full && parent->have_id) {
		memcpy(d.place.parent_id, parent->id, ECFS_DIR_ID_SIZE);
		d.place.name = s->full;
		d.have_place = true;
	}

	if (!s->backing || (parent->plain && !s->plain)) {
		fsck_operr(f, PASS_TREE, parent->backing, parent->backing, "out of memory");
		return;
	}
	d.fd = openat(parent->fd, s->disk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d.fd < 0) {
		fsck_operr(f, PASS_TREE, shown_path(s->plain, s->backing), s->backing,
			   "cannot open the directory: %s", strerror(errno));
		return;
	}
	walk(f, &d);
	close(d.fd);
}

static void walk(struct fsck *f, struct dir *d)
{
	struct subdir *sub;
	size_t nsub;
	int r = read_entries(d);

	atomic_fetch_add(&f->n.dirs, 1);
	report_checked(f, shown_path(d->plain, d->backing));
	if (r < 0) {
		fsck_operr(f, PASS_TREE, shown_path(d->plain, d->backing), d->backing,
			   "cannot read the directory: %s", strerror(-r));
		free_entries(d);
		return;
	}
	check_dirid(f, d);
	for (size_t i = 0; i < d->n && !fsck_cancelled; i++)
		check_entry(f, d, &d->e[i]);
	if (f->have_key && d->have_id)
		names_check_duplicates(f, d);
	leftover_symlinks(f, d);
	for (size_t i = 0; i < d->n && !fsck_cancelled; i++)
		if (is_user(&d->e[i]) && d->e[i].type != DT_DIR)
			check_file(f, d, &d->e[i]);
	sub = take_subdirs(d, &nsub);
	for (size_t i = 0; i < nsub; i++) {
		if (!fsck_cancelled)
			walk_subdir(f, d, &sub[i]);
		free(sub[i].disk);
		free(sub[i].plain);
		free(sub[i].backing);
		free(sub[i].full);
	}
	free(sub);
}

/* Each level of the walk holds a descriptor: allow as many as the hard limit does. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void check_tree(struct fsck *f)
{
	struct dir root = {.plain = f->have_key ? "/" : NULL,
			   .backing = (char *)f->o.dir,
			   .is_root = true,
			   .place = {.name = ""},
			   .have_place = true};

	raise_fd_limit();
	root.fd = openat(ecfs_volume_dirfd(f->vol), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root.fd < 0) {
		fsck_operr(f, PASS_TREE, f->o.dir, f->o.dir, "cannot open: %s", strerror(errno));
		return;
	}
	walk(f, &root);
	links_check_orphans(f, root.fd);
	sidecars_check_orphans(f, root.fd);
	close(root.fd);
	if (fsck_cancelled)
		report_not_checked(f->rep, "the rest of the volume: the check was cancelled");
}
