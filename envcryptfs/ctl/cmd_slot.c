/* SPDX-License-Identifier: MIT */
/* cmd_slot.c - `slot add` and `slot remove`: one header update each, no data touched. */
#include "ctl.h"

#include <errno.h>
#include <string.h>

static uint64_t seqid_of(const struct ecfs_volume *v)
{
	struct ecfs_volume_info in;

	ecfs_volume_get_info(v, &in);
	return in.seqid;
}

/* The new slot's index is the one thing a script needs from `slot add`: when it cannot be
 * printed, the command fails, and says on stderr which slot it added. */
static int print_added(int index, enum ecfs_slot_type type)
{
	int err = 0;

	if (printf("added key slot %d (%s)\n", index, ecfs_slot_type_name(type)) < 0 ||
	    fflush(stdout) != 0)
		err = errno;
	if (!err)
		return ECFS_EXIT_OK;
	ecfs_tool_error(CTL_PROG, "slot add: added key slot %d, but cannot print its index: %s",
			index, strerror(err));
	return ECFS_EXIT_ERROR;
}

int cmd_slot_add(const struct ctl_args *a)
{
	const char *dir = a->pos[0];
	struct ecfs_volume *v;
	struct ecfs_creds nk = {0};
	struct ecfs_metalock *lock = NULL;
	int index = -1, e, r = ctl_open_unlocked(a, dir, true, &v, NULL);

	if (r != ECFS_EXIT_OK)
		return r;
	r = ctl_load_new_key(a, "New passphrase: ", &nk);
	if (r == ECFS_EXIT_OK)
		r = ctl_lock_for_update("slot add", v, dir, &lock);
	if (r == ECFS_EXIT_OK) {
		uint64_t before = seqid_of(v);

		e = ecfs_volume_slot_add(v, &nk.cred[0], ctl_argon2(a), &index);
		if (ctl_took_effect(v, e))
			r = print_added(index, nk.cred[0].type);
		if (r == ECFS_EXIT_OK || e < 0)
			r = ctl_update_result("slot add", v, dir, before, e);
	}
	if (nk.n)
		ecfs_tool_free_creds(&nk);
	ecfs_metalock_release(lock);
	ecfs_volume_close(v);
	return r;
}

static int slots_left(const struct ecfs_volume *v)
{
	struct ecfs_volume_info in;

	ecfs_volume_get_info(v, &in);
	return in.nslots;
}

int cmd_slot_remove(const struct ctl_args *a)
{
	const char *dir = a->pos[0];
	struct ecfs_volume *v;
	struct ecfs_metalock *lock = NULL;
	uint64_t before;
	int opened = -1, e, r, n = ctl_parse_slot(a->pos[1]);

	if (n < 0) {
		ecfs_tool_error(CTL_PROG, "slot remove: '%s' is not a slot number (0 to %d)",
				a->pos[1], ECFS_MAX_SLOTS - 1);
		return ECFS_EXIT_USAGE;
	}
	r = ctl_open_unlocked(a, dir, true, &v, &opened);
	if (r != ECFS_EXIT_OK)
		return r;
	r = ctl_lock_for_update("slot remove", v, dir, &lock);
	if (r != ECFS_EXIT_OK) {
		ecfs_volume_close(v);
		return r;
	}
	before = seqid_of(v);
	e = ecfs_volume_slot_remove(v, n, a->force);
	r = ctl_update_result("slot remove", v, dir, before, e);
	if (ctl_took_effect(v, e)) {
		printf("removed key slot %d\n", n);
		if (slots_left(v) == 0)
			ecfs_tool_warn(CTL_PROG,
				       "no key slot is left: only an export file opens "
				       "'%s' now",
				       dir);
		else if (n == opened)
			ecfs_tool_warn(CTL_PROG,
				       "the key given opened slot %d: it no longer "
				       "opens the volume unless another slot takes it",
				       n);
	}
	ecfs_metalock_release(lock);
	ecfs_volume_close(v);
	return r;
}
