/* SPDX-License-Identifier: MIT */
/* cmd_check.c - `check-key`: whether a key opens a volume, as an exit code for scripts. */
#include "ctl.h"

int cmd_check_key(const struct ctl_args *a)
{
	struct ecfs_volume *v;
	int slot = -1, r = ctl_open_unlocked(a, a->pos[0], false, &v, &slot);

	if (r != ECFS_EXIT_OK)
		return r; /* ECFS_EXIT_WRONG_KEY when no slot opens with it */
	if (slot == ECFS_UNLOCKED_BY_EXPORT)
		printf("the export file opens the volume\n");
	else
		printf("the key opens key slot %d\n", slot);
	ecfs_volume_close(v);
	return ECFS_EXIT_OK;
}
