/* SPDX-License-Identifier: MIT */
/*
 * header_io.c - reading the two header copies and replacing files atomically, so that a crash
 * at any moment leaves each copy either old or new, never torn.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ecfs_header_read_file(int dirfd, const char *name, uint8_t **buf, size_t *len)
{
	int r = ecfs_read_whole(dirfd, name, ECFS_HEADER_MAX, buf, len);

	/* What stands in its place (a FIFO, a link) is named by ecfs_open_typed already. */
	if (r == -EFBIG)
		return ecfs_fail(-EUCLEAN, "'%s' is larger than any header (%u bytes)", name,
				 ECFS_HEADER_MAX);
	return r;
}

uint64_t ecfs_header_disk_seqid(int dirfd)
{
	static const char *const names[] = {ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME};
	struct ecfs_header h;
	uint64_t max = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint8_t *buf;
		size_t len;

		if (ecfs_header_read_file(dirfd, names[i], &buf, &len) < 0)
			continue;
		if (ecfs_header_parse(buf, len, &h) == 0 && h.seqid > max)
			max = h.seqid;
		ecfs_wipe(&h, sizeof(h));
		free(buf);
	}
	ecfs_clear_error(); /* a damaged copy is not this caller's failure */
	return max;
}

/* Whether the file name in dirfd holds exactly buf. */
static bool file_holds(int dirfd, const char *name, const uint8_t *buf, size_t len)
{
	uint8_t *cur;
	size_t curlen;
	bool same;

	if (ecfs_header_read_file(dirfd, name, &cur, &curlen) < 0)
		return false;
	same = curlen == len && memcmp(cur, buf, len) == 0;
	free(cur);
	return same;
}

/* Writes the primary, then the copy; v takes the new header once the primary is on disk. */
static int store_locked(struct ecfs_volume *v)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	v->hdr.seqid++;
	r = ecfs_header_serialize(&v->hdr, v->keys->header_mac, &buf, &len);
	/* Primary first: until the copy catches up, readers prefer the higher seqid. */
	if (r == 0)
		r = ecfs_write_file_atomic(v->dirfd, ECFS_HEADER_NAME, buf, len, 0600);
	if (r < 0) {
		free(buf);
		v->hdr.seqid--;
		return r;
	}
	free(v->raw);
	free(v->other_raw);
	v->raw = buf;
	v->raw_len = len;
	v->other_raw = NULL;
	v->disk_seqid = v->hdr.seqid;
	v->primary_state = ECFS_HDR_OK;
	v->from_copy = false;
	v->mac_ok = true;
	v->primary_written = true;
	r = ecfs_write_file_atomic(v->dirfd, ECFS_HEADER_COPY_NAME, buf, len, 0600);
	/* A copy renamed into place whose directory sync failed is there all the same. */
	v->copy_behind = r < 0 && !file_holds(v->dirfd, ECFS_HEADER_COPY_NAME, buf, len);
	v->copy_state = v->copy_behind ? ECFS_HDR_STALE : ECFS_HDR_OK;
	return r;
}

int ecfs_header_store(struct ecfs_volume *v)
{
	struct ecfs_metalock *lock;
	int r;

	v->copy_behind = v->primary_written = false;
	if (!v->keys)
		return ecfs_fail(-ENOKEY, "the volume must be unlocked to change its header");
	r = ecfs_metalock_acquire_at(v->dirfd, v->dir, &lock);
	if (r < 0)
		return r;
	if (ecfs_header_disk_seqid(v->dirfd) != v->disk_seqid)
		r = ecfs_fail(-ESTALE, "the header of '%s' changed since it was read; rerun",
			      v->dir);
	else
		r = store_locked(v);
	ecfs_metalock_release(lock);
	return r;
}
