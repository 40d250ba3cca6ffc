/* SPDX-License-Identifier: MIT */
/* cmd_header.c - `header-backup` and `header-restore`: the header's bytes out and back in. */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A header is a few KiB; anything much larger is not one. */
#define BACKUP_MAX (1u << 20)

int cmd_header_backup(const struct ctl_args *a)
{
	struct ecfs_volume *v;
	struct ecfs_volume_info in;
	const uint8_t *buf;
	size_t len;
	int e, r = ctl_open_volume(a->pos[0], &v);

	if (r != ECFS_EXIT_OK)
		return r;
	e = ecfs_volume_header_bytes(v, &buf, &len);
	r = e < 0 ? ctl_fail("header-backup", e, ECFS_EXIT_ERROR)
		  : ctl_write_new_file(a->pos[1], buf, len, "header-backup");
	if (r == ECFS_EXIT_OK) {
		ecfs_volume_get_info(v, &in);
		printf("saved the header of volume %s (sequence %llu, %d key slots) to %s\n",
		       in.uuid_str, (unsigned long long)in.seqid, in.nslots, a->pos[1]);
	}
	ecfs_volume_close(v);
	return r;
}

/* Whether the header dir now uses is the backup (after a restore failed part-way). */
static bool report_restore_failure(const char *dir, const uint8_t *backup, size_t len)
{
	struct ecfs_volume *v;
	struct ecfs_volume_info in;
	const uint8_t *cur;
	size_t curlen;
	bool restored;

	if (ecfs_volume_open(dir, &v) < 0) {
		ecfs_tool_warn(CTL_PROG, "the header of '%s' still cannot be read", dir);
		return false;
	}
	ecfs_volume_get_info(v, &in);
	restored = ecfs_volume_header_bytes(v, &cur, &curlen) == 0 && curlen == len &&
		   memcmp(cur, backup, len) == 0;
	ecfs_volume_close(v);
	if (!restored) {
		ctl_report_outcome(CTL_NOT_DONE);
		return false;
	}
	if (in.primary_state == ECFS_HDR_OK && in.copy_state == ECFS_HDR_OK) {
		ctl_report_outcome(CTL_DONE);
		return false;
	}
	ctl_report_outcome(CTL_DONE_COPY_STALE);
	return true;
}

static int restore_failed(const char *dir, const uint8_t *buf, size_t len, int e)
{
	int code = ecfs_tool_exit_code(e);

	ctl_fail("header-restore", e, ECFS_EXIT_ERROR);
	if (e == -EXDEV || e == -EBUSY)
		return ECFS_EXIT_ERROR; /* another volume's, or another writer at work */
	/* A backup or volume header that does not parse was refused before any write. */
	if (code == ECFS_EXIT_DAMAGED)
		return code;
	return report_restore_failure(dir, buf, len) ? ECFS_EXIT_COPY_BEHIND : ECFS_EXIT_ERROR;
}

static void report_restored(const char *dir, const char *file)
{
	struct ecfs_volume *v;
	struct ecfs_volume_info in;

	if (ctl_open_volume(dir, &v) != ECFS_EXIT_OK)
		return;
	ecfs_volume_get_info(v, &in);
	printf("restored the header of volume %s from %s: %d key slots, sequence %llu\n",
	       in.uuid_str, file, in.nslots, (unsigned long long)in.seqid);
	ecfs_volume_close(v);
}

int cmd_header_restore(const struct ctl_args *a)
{
	const char *dir = a->pos[0], *file = a->pos[1];
	uint8_t *buf;
	size_t len;
	int e, r = ctl_read_file(file, BACKUP_MAX, &buf, &len);

	if (r != ECFS_EXIT_OK)
		return r;
	e = ecfs_header_restore(dir, buf, len, a->force);
	if (e < 0) {
		r = restore_failed(dir, buf, len, e);
	} else {
		report_restored(dir, file);
		ecfs_tool_warn(CTL_PROG,
			       "an old header brings back the key slots it had: keys "
			       "removed or rotated since the backup open the volume again, "
			       "and slots added since are gone");
	}
	free(buf);
	return r;
}
