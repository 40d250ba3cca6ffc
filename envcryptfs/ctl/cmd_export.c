/* SPDX-License-Identifier: MIT */
/* cmd_export.c - `export`: the volume key sealed under a password, in a new 0600 file. */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

/* The costs given, or calibrated here: the library takes an export's costs as they are. */
static int export_costs(const struct ctl_args *a, struct ecfs_argon2_params *p)
{
	int e = ecfs_argon2_or_calibrate(ctl_argon2(a), p);

	return e < 0 ? ctl_fail("export: calibrating Argon2id", e, ECFS_EXIT_ERROR) : 0;
}

static int write_export(const struct ctl_args *a, struct ecfs_volume *v)
{
	struct ecfs_argon2_params p;
	struct ecfs_volume_info in;
	struct ecfs_creds pw;
	char *text = NULL;
	size_t len = 0;
	int e, r = ctl_load_new_key(a, "Export password: ", &pw);

	if (r == ECFS_EXIT_OK)
		r = export_costs(a, &p);
	if (r == ECFS_EXIT_OK) {
		e = ecfs_volume_export(v, pw.secret[0], &p, &text, &len);
		r = e < 0 ? ctl_fail("export", e, ECFS_EXIT_ERROR) : ECFS_EXIT_OK;
	}
	if (r == ECFS_EXIT_OK)
		r = ctl_write_new_file(a->out, text, len, "export");
	if (r == ECFS_EXIT_OK) {
		ecfs_volume_get_info(v, &in);
		printf("wrote an export of volume %s to %s; it opens the volume with its password "
		       "alone, so keep the two apart\n",
		       in.uuid_str, a->out);
	}
	if (text)
		explicit_bzero(text, len);
	free(text);
	ecfs_tool_free_creds(&pw);
	return r;
}

int cmd_export(const struct ctl_args *a)
{
	struct ecfs_volume *v;
	int r = ctl_check_absent(a->out, "export");

	if (r == ECFS_EXIT_OK)
		r = ctl_open_unlocked(a, a->pos[0], false, &v, NULL);
	if (r != ECFS_EXIT_OK)
		return r;
	r = write_export(a, v);
	ecfs_volume_close(v);
	return r;
}
