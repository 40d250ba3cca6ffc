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
	struct stat st;
	uint8_t *p;
	ssize_t n;
	int fd = ecfs_open_typed(dirfd, name, O_RDONLY, 0, S_IFREG);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || st.st_size > ECFS_HEADER_MAX) {
		close(fd);
		return ecfs_fail(-EUCLEAN, "'%s' is not a regular file of at most %u bytes", name,
				 ECFS_HEADER_MAX);
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, p, (size_t)st.st_size + 1, 0);
	close(fd);
	if (n < 0 || n != st.st_size) {
		free(p);
		return n < 0 ? -errno : ecfs_fail(-EUCLEAN, "'%s' changed while being read", name);
	}
	*buf = p;
	*len = (size_t)n;
	return 0;
}

/* Writes the temporary file's contents; an injected short write leaves half of them, then
 * fails as a full disk does. */
static int write_contents(int fd, const uint8_t *buf, size_t len, const char *name)
{
	int fault = ecfs_fault_at(ECFS_STEP_WRITE, name);
	int r;

	if (fault < 0)
		return fault;
	r = ecfs_write_full(fd, buf, fault == ECFS_FAULT_SHORT ? len / 2 : len);
	if (r < 0)
		return ecfs_fail(r, "%s", strerror(-r));
	if (fault == ECFS_FAULT_SHORT)
		return ecfs_fail(-ENOSPC, "short write injected: %s", strerror(ENOSPC));
	return 0;
}

/* Each step asks ecfs_fault_at() first, so that tests can fail or end the process before any
 * of them (a no-op outside test builds). */
int ecfs_tmp_name(char out[ECFS_TMP_NAME_MAX])
{
	uint8_t rnd[8];
	int r = ecfs_random(rnd, sizeof(rnd));

	if (r == 0)
		snprintf(out, ECFS_TMP_NAME_MAX, "%s%02x%02x%02x%02x%02x%02x%02x%02x",
			 ECFS_TMP_PREFIX, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
			 rnd[7]);
	return r;
}

int ecfs_write_file_atomic(int dirfd, const char *name, const uint8_t *buf, size_t len, mode_t mode)
{
	char tmp[ECFS_TMP_NAME_MAX];
	int fd, r;

	r = ecfs_tmp_name(tmp);
	if (r < 0)
		return r;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return ecfs_fail(-errno, "cannot create '%s': %s", tmp, strerror(errno));
	r = write_contents(fd, buf, len, name);
	if (r == 0)
		r = ecfs_fault_at(ECFS_STEP_FSYNC, name);
	if (r == 0 && fsync(fd) < 0)
		r = ecfs_fail(-errno, "fsync: %s", strerror(errno));
	close(fd);
	if (r == 0)
		r = ecfs_fault_at(ECFS_STEP_RENAME, name);
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = ecfs_fail(-errno, "rename: %s", strerror(errno));
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return ecfs_fail(r, "cannot write '%s': %s", name, ecfs_last_error());
	}
	r = ecfs_fault_at(ECFS_STEP_DIR_FSYNC, name);
	if (r == 0 && fsync(dirfd) < 0)
		r = ecfs_fail(-errno, "%s", strerror(errno));
	if (r < 0)
		return ecfs_fail(r, "cannot sync the volume directory after writing '%s': %s", name,
				 ecfs_last_error());
	return 0;
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
