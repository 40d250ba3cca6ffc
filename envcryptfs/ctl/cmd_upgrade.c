/* SPDX-License-Identifier: MIT */
/* cmd_upgrade.c - `upgrade`: converts a format-1 volume to format 2 in place, offline. */
#include "ctl.h"

#include <errno.h>
#include <unistd.h>

static int upgrade_locked(struct ecfs_volume *v, const char *dir)
{
	struct ecfs_upgrade_stats st;
	bool resumed = ecfs_volume_upgrading(v);
	int r = ecfs_volume_upgrade(v, &st);

	if (r < 0) {
		ecfs_tool_error(CTL_PROG, "%s: the upgrade stopped: %s", dir, ecfs_last_error());
		ecfs_tool_error(CTL_PROG,
				"nothing is lost; the volume opens only for the upgrade until "
				"'envcryptfsctl upgrade %s' is run again",
				dir);
		return ecfs_tool_exit_code(r);
	}
	printf("%s: format 2%s (%llu directories, %llu files, %llu symbolic links and %llu "
	       "extended attributes converted)\n",
	       dir, resumed ? ", the interrupted upgrade finished" : "",
	       (unsigned long long)st.dirs, (unsigned long long)st.files,
	       (unsigned long long)st.symlinks, (unsigned long long)st.xattrs);
	return ECFS_EXIT_OK;
}

int cmd_upgrade(const struct ctl_args *a)
{
	struct ctl_args args = *a;
	struct ecfs_volume *v;
	int fd, r;

	args.unlock.upgrade = true;
	r = ctl_open_unlocked(&args, a->pos[0], true, &v, NULL);
	if (r != ECFS_EXIT_OK)
		return r;
	if (ecfs_volume_format(v) == ECFS_FORMAT_VERSION && !ecfs_volume_upgrading(v)) {
		printf("%s: already format %d\n", a->pos[0], ECFS_FORMAT_VERSION);
		ecfs_volume_close(v);
		return ECFS_EXIT_OK;
	}
	fd = ecfs_volume_lock_exclusive(v);
	if (fd < 0) {
		ecfs_tool_error(CTL_PROG, "%s", ecfs_last_error());
		ecfs_volume_close(v);
		return fd == -EBUSY ? ECFS_EXIT_MOUNT : ecfs_tool_exit_code(fd);
	}
	r = upgrade_locked(v, a->pos[0]);
	close(fd);
	ecfs_volume_close(v);
	return r;
}
