/* SPDX-License-Identifier: MIT */
/* tmpdir_helpers.h - scratch directories for the unit tests, made under /tmp and removed
 * whole by the suite's teardown. */
#ifndef ECFS_TEST_TMPDIR_HELPERS_H
#define ECFS_TEST_TMPDIR_HELPERS_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

/* Makes /tmp/ecfs-test-WHAT.XXXXXX into buf (at least 64 bytes). */
static inline void tmpdir_make(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "/tmp/ecfs-test-%s.XXXXXX", what);
	cr_assert_not_null(mkdtemp(buf), "mkdtemp %s", buf);
}

static inline int tmpdir_remove_entry(const char *path, const struct stat *st, int flag,
				      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes path and everything below it; "" (never made) is fine. */
static inline void tmpdir_remove(const char *path)
{
	if (path[0])
		nftw(path, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* ECFS_TEST_TMPDIR_HELPERS_H */
