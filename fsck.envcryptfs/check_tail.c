/* SPDX-License-Identifier: MIT */
/*
 * check_tail.c - pass 3, format 2: all-zero chunks past a file's authenticated size S that no
 * holes map lists. The daemon lists the chunks a write past the end skips only at the next
 * fsync or close, before S comes to cover them (envcryptfs(5), Holes), so a crash in between
 * leaves them unlisted past S, where they read as damage. Nothing past S was ever synced
 * (every fsync raises S), so either repair leaves the file as the daemon would have: when
 * only zeros follow, the blob is cut back to the first such chunk (a crash a moment earlier);
 * when written chunks follow, the zero ones are listed as holes, as the commit at close would
 * have listed them, and nothing is dropped. Runs on the walking thread, before the blob's
 * chunks are queued, so that the workers check what the repair left.
 */
#include "tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONE UINT64_MAX

/* A blob's chunks past S and what to do with them. */
struct tail {
	const struct ecfs_volume *vol;
	int fd;
	struct ecfs_blob_header h;
	struct ecfs_holes map;	/* the map that fits h (empty when none does) */
	bool have_map;		/* map was loaded and fits h */
	struct ecfs_holes gaps; /* unlisted all-zero chunks past S */
	uint64_t last_data;	/* the last chunk past S holding data, NONE: none */
};

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* A generation above the header's and above the map on disk, fitting or not (a leftover of
 * a commit a crash cut short): no map written before fits the file again. */
static uint32_t next_generation(const struct tail *t)
{
	uint32_t g = t->h.holes_generation;
	struct ecfs_holes disk;

	if (t->have_map)
		g = max_u32(g, t->map.generation);
	else if (ecfs_holes_read(t->vol, ecfs_volume_dirfd(t->vol), t->h.file_id, &disk) == 0) {
		g = max_u32(g, disk.generation);
		ecfs_holes_free(&disk);
	}
	return g + 1;
}

/* Commits a copy of the file's map, changed by edit (ecfs_holes_remove) of [first, end)
 * unless edit is NULL. */
static int commit_map(struct tail *t, int (*edit)(struct ecfs_holes *, uint64_t, uint64_t),
		      uint64_t first, uint64_t end)
{
	struct ecfs_holes m;
	int r = ecfs_holes_copy(&m, &t->map);

	if (r == 0 && edit)
		r = edit(&m, first, end);
	m.generation = next_generation(t);
	if (r == 0)
		r = ecfs_holes_commit(t->vol, ecfs_volume_dirfd(t->vol), t->fd, &t->h, &m);
	ecfs_holes_free(&m);
	return r;
}

/* Only zeros from the first gap on: the blob is cut back to it, the map's listing past it
 * removed first (as a shrinking truncate does), so that zero chunks appended later are not
 * taken for listed holes. */
static int fix_cut_tail(void *arg)
{
	struct tail *t = arg;
	uint64_t keep = t->gaps.r[0].first;
	int r = 0;

	if (t->have_map && ecfs_holes_meets(&t->map, keep, ECFS_HOLES_END_MAX))
		r = commit_map(t, ecfs_holes_remove, keep, ECFS_HOLES_END_MAX);
	if (r < 0)
		return r;
	if (ftruncate(t->fd, (off_t)ecfs_chunk_offset(t->vol, keep)) < 0)
		return -errno;
	return fsync(t->fd) < 0 ? -errno : 0;
}

/* Written chunks follow the gaps: the gaps become listed holes, in a map of a new
 * generation, the header naming it. */
static int fix_list_gaps(void *arg)
{
	struct tail *t = arg;
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < t->gaps.count; i++)
		r = ecfs_holes_add(&t->map, t->gaps.r[i].first, t->gaps.r[i].end);
	return r < 0 ? r : commit_map(t, NULL, 0, 0);
}

/* Reads the stored chunks [first, n) of a blob of size bytes into t's gaps and last_data. */
static int scan_tail(struct tail *t, uint64_t size, uint64_t first, uint64_t n)
{
	uint64_t sc = ecfs_stored_chunk_size(t->vol);
	uint8_t *buf = malloc(sc);
	int r = buf ? 0 : -ENOMEM;

	t->last_data = NONE;
	for (uint64_t idx = first; r == 0 && idx < n && !fsck_cancelled; idx++) {
		uint64_t at = ecfs_chunk_offset(t->vol, idx);
		size_t len = (size_t)(size - at < sc ? size - at : sc);
		ssize_t got = ecfs_pread_full(t->fd, buf, len, at);

		if (got != (ssize_t)len)
			r = got < 0 ? (int)got : -EIO;
		else if (!ecfs_chunk_is_hole(t->vol, buf, len))
			t->last_data = idx;
		else if (!ecfs_holes_contains(&t->map, idx))
			r = ecfs_holes_add(&t->gaps, idx, idx + 1);
	}
	free(buf);
	return r;
}

/* Reports the gaps; true when repaired. */
static bool report_gaps(struct fsck *f, const char *path, const char *backing, struct tail *t)
{
	uint64_t cs = ecfs_chunk_size(f->vol), first = t->gaps.r[0].first;
	uint64_t last = t->gaps.r[t->gaps.count - 1].end - 1;
	bool cut = t->last_data == NONE || t->last_data < first;
	char detail[600], done[160];
	struct fix fx;

	snprintf(detail, sizeof(detail),
		 "the header says %llu bytes; chunks from %llu to %llu (plaintext offset %llu on) "
		 "include all-zero ones no holes map lists, which read as damage: a crash came "
		 "before the holes skipped by a write past the end were recorded; %s",
		 (unsigned long long)t->h.size, (unsigned long long)first, (unsigned long long)last,
		 (unsigned long long)(first * cs),
		 cut ? "only zeros follow" : "written chunks follow, up to the last one kept");
	if (cut)
		snprintf(done, sizeof(done), "cut back to %llu bytes (never synced zeros dropped)",
			 (unsigned long long)(first * cs));
	else
		snprintf(done, sizeof(done), "listed as holes (they read as zeros)");
	fx = fix_of(FIX_SAFE,
		    cut ? "Cut the file back to its last written chunk" : "List them as holes",
		    done, cut ? fix_cut_tail : fix_list_gaps, t);
	fx.needs_key = true;
	return fsck_problem(f,
			    problem_chunk(PASS_BLOB, path, backing, "unsynced-zero-tail",
					  "unlisted zero chunks past the file's size", detail,
					  (int64_t)first, (int64_t)(first * cs)),
			    &fx);
}

uint64_t tail_check(struct fsck *f, int fd, const char *path, const char *backing, uint64_t size,
		    uint64_t *zero_from)
{
	uint64_t hdr = ecfs_blob_header_size(f->vol), sc = ecfs_stored_chunk_size(f->vol);
	uint64_t cs = ecfs_chunk_size(f->vol), nchunks, synced;
	struct tail t = {.vol = f->vol, .fd = fd};
	struct stat st;
	int r;

	*zero_from = NONE;
	/* Without the key the header's size is not authenticated; a header that does not read
	 * is the worker's to report. */
	if (ecfs_volume_format(f->vol) < 2 || !f->have_key || size <= hdr ||
	    ecfs_plain_size(f->vol, size) < 0 || ecfs_blob_header_read(f->vol, fd, &t.h) < 0)
		return size;
	nchunks = (size - hdr + sc - 1) / sc;
	synced = t.h.size / cs + (t.h.size % cs != 0);
	if (nchunks <= synced)
		return size;
	/* A sparse file whose map does not fit is the worker's to report: a new map would hide
	 * that (and the old one's evidence). */
	t.have_map = (t.h.flags & ECFS_BLOB_SPARSE) &&
		     ecfs_holes_load(f->vol, ecfs_volume_dirfd(f->vol), &t.h, &t.map) == 0;
	if ((t.h.flags & ECFS_BLOB_SPARSE) && !t.have_map) {
		ecfs_holes_free(&t.map);
		return size;
	}
	r = scan_tail(&t, size, synced, nchunks);
	if (r < 0)
		fsck_operr(f, PASS_BLOB, path, backing, "cannot read: %s", ecfs_strerror(r));
	if (r == 0 && t.gaps.count) {
		/* Repaired, the file needs nothing more; if not, its gaps are reported once. */
		if (!report_gaps(f, path, backing, &t))
			*zero_from = t.gaps.r[0].first;
		else if (t.h.flags & ECFS_BLOB_SPARSE)
			sidecars_claim(f, &t.h); /* the map written, if any, is no leftover */
		if (fstat(fd, &st) == 0)
			size = (uint64_t)st.st_size;
	}
	ecfs_holes_free(&t.map);
	ecfs_holes_free(&t.gaps);
	return size;
}
