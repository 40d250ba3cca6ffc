/* SPDX-License-Identifier: MIT */
/* atomic.c - replacing a file atomically (temporary file, fsync, rename, directory fsync),
 * each step open to fault injection in test builds. */
#include "ecfs_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
