/* SPDX-License-Identifier: MIT */
/* cmd_export.c - `export`: the key of one or several volumes, sealed under one password, in a
 * new 0600 file. One volume makes a version 1 export, several a version 2 one. */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The costs given, or calibrated here: the library takes an export's costs as they are. */
static int export_costs(const struct ctl_args *a, struct ecfs_argon2_params *p)
{
	int e = ecfs_argon2_or_calibrate(ctl_argon2(a), p);

	return e < 0 ? ctl_fail("export: calibrating Argon2id", e, ECFS_EXIT_ERROR) : 0;
}

static void say_written(const struct ctl_args *a, struct ecfs_volume *const *v, int n)
{
	struct ecfs_volume_info in;

	if (n == 1) {
		ecfs_volume_get_info(v[0], &in);
		printf("wrote an export of volume %s to %s; it opens the volume with its password "
		       "alone, so keep the two apart\n",
		       in.uuid_str, a->out);
		return;
	}
	printf("wrote an export of %d volumes to %s; it opens each of them with its password "
	       "alone, so keep the two apart:\n",
	       n, a->out);
	for (int i = 0; i < n; i++) {
		ecfs_volume_get_info(v[i], &in);
		printf("  %s %s\n", in.uuid_str, a->pos[i]);
	}
}

static int write_export(const struct ctl_args *a, struct ecfs_volume *const *v, int n)
{
	struct ecfs_argon2_params p;
	struct ecfs_creds pw;
	char *text = NULL;
	size_t len = 0;
	int e, r = ctl_load_new_key(a, "Export password: ", &pw);

	if (r == ECFS_EXIT_OK)
		r = export_costs(a, &p);
	if (r == ECFS_EXIT_OK) {
		e = n == 1 ? ecfs_volume_export(v[0], pw.secret[0], &p, &text, &len)
			   : ecfs_volumes_export((const struct ecfs_volume *const *)v, (size_t)n,
						 pw.secret[0], &p, &text, &len);
		r = e < 0 ? ctl_fail("export", e, ECFS_EXIT_ERROR) : ECFS_EXIT_OK;
	}
	if (r == ECFS_EXIT_OK)
		r = ctl_write_new_file(a->out, text, len, "export");
	if (r == ECFS_EXIT_OK)
		say_written(a, v, n);
	if (text)
		explicit_bzero(text, len);
	free(text);
	ecfs_tool_free_creds(&pw);
	return r;
}

/* Opens DIR number i with the unlock options, or with its own --unlock-key-file. */
static int open_one(const struct ctl_args *a, int i, struct ecfs_volume **v)
{
	struct ctl_args *one = malloc(sizeof(*one));
	int r;

	if (!one)
		return ctl_fail("export", -ENOMEM, ECFS_EXIT_ERROR);
	*one = *a;
	if (a->nunlock_keys > 1)
		one->unlock.key_file = a->unlock_keys[i];
	r = ctl_open_unlocked(one, a->pos[i], false, v, NULL);
	free(one);
	return r;
}

int cmd_export(const struct ctl_args *a)
{
	struct ecfs_volume *v[CTL_MAX_POS];
	int n = 0, r = ctl_check_absent(a->out, "export");

	while (r == ECFS_EXIT_OK && n < a->npos) {
		r = open_one(a, n, &v[n]);
		if (r == ECFS_EXIT_OK)
			n++;
	}
	if (r == ECFS_EXIT_OK)
		r = write_export(a, v, n);
	while (n > 0)
		ecfs_volume_close(v[--n]);
	return r;
}
