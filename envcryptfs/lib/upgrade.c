/* SPDX-License-Identifier: MIT */
/*
 * upgrade.c - converts a format-1 volume to format 2 in place (man/envcryptfs.5, "Upgrade").
 *
 * The header is first marked "upgrading-to-2" (so that nothing else unlocks a half-converted
 * volume), then every object is converted where it stands, each step crash-safe and each
 * object recognisable as converted, so that a rerun after a crash finishes the job: a blob
 * is copied into a new format-2 blob beside it and renamed over the old one (the names of a
 * hard-linked file are linked to the new blob afterwards, grouped by file ID, which the copy
 * keeps); an empty blob gets its header where it is; a directory ID file is rewritten
 * atomically; a symbolic link is made again beside itself and renamed over; an attribute is
 * set under its new name before the old one is removed. Last, the header says format 2.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ecfs_volume_allow_upgrading(struct ecfs_volume *v)
{
	v->upgrade_mode = true;
}

bool ecfs_volume_upgrading(const struct ecfs_volume *v)
{
	return v->hdr.upgrading;
}

static int set_marker(struct ecfs_volume *v, bool upgrading, uint32_t version)
{
	struct ecfs_header before = v->hdr;
	int r;

	v->hdr.upgrading = upgrading;
	v->hdr.version = version;
	r = ecfs_header_store(v);
	if (r < 0 && !v->primary_written)
		v->hdr = before;
	return r;
}

/* The root directory's times, which the header writes change: kept for the user. */
static int root_times(const struct ecfs_volume *v, struct timespec ts[2], bool set)
{
	int fd = openat(v->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (!set && fstat(fd, &st) == 0) {
		ts[0] = st.st_atim;
		ts[1] = st.st_mtim;
	} else if (!set || futimens(fd, ts) < 0) {
		r = -errno;
	}
	close(fd);
	return r;
}

/* Once the tree has been read and found convertible: from here on only the upgrade unlocks
 * the volume, until it says format 2. */
static int mark_upgrading(struct ecfs_volume *v)
{
	int r;

	if (v->hdr.upgrading)
		return 0;
	v->hdr.version = 1;
	r = set_marker(v, true, 1);
	v->hdr.version = ECFS_FORMAT_VERSION;
	return r;
}

int ecfs_volume_upgrade(struct ecfs_volume *v, struct ecfs_upgrade_stats *st)
{
	struct timespec ts[2];
	int r;

	memset(st, 0, sizeof(*st));
	if (!v->keys)
		return ecfs_fail(-ENOKEY, "the volume must be unlocked to upgrade it");
	if (v->hdr.version == ECFS_FORMAT_VERSION && !v->hdr.upgrading)
		return 0;
	r = root_times(v, ts, false);
	if (r < 0)
		return ecfs_fail(r, "cannot read the times of '%s': %s", v->dir, strerror(-r));
	/* The objects are written in format 2 while the header on disk still says 1. */
	v->hdr.version = ECFS_FORMAT_VERSION;
	r = ecfs_upgrade_tree(v, st, mark_upgrading);
	if (r < 0) {
		v->hdr.version = 1;
		return r;
	}
	v->hdr.version = 1;
	r = set_marker(v, false, ECFS_FORMAT_VERSION);
	if (r == 0)
		root_times(v, ts, true);
	return r;
}
