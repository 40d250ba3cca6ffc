/* SPDX-License-Identifier: MIT */
/* cmd_rotate.c - `rotate`: a slot's key replaced in one atomic header update. */
#include "ctl.h"

static const struct ecfs_slot_info *slot_info(const struct ecfs_volume_info *in, int index)
{
	for (int i = 0; i < in->nslots; i++)
		if (in->slots[i].index == index)
			return &in->slots[i];
	return NULL;
}

/* The slot to rotate: --slot, else the one the authorizing key opened. */
static int target_slot(const struct ctl_args *a, int opened)
{
	if (a->slot >= 0)
		return a->slot;
	if (opened < 0)
		ecfs_tool_error(CTL_PROG, "rotate: an export file opens no slot; name the slot to "
					  "rotate with --slot N");
	return opened;
}

static int rotate(const struct ctl_args *a, struct ecfs_volume *v, int slot)
{
	struct ecfs_volume_info in;
	const struct ecfs_slot_info *s;
	struct ecfs_creds nk;
	uint64_t before;
	int e, r = ctl_load_new_key(a, "New passphrase: ", &nk);

	if (r != ECFS_EXIT_OK)
		return r;
	ecfs_volume_get_info(v, &in);
	before = in.seqid;
	e = ecfs_volume_slot_rotate(v, slot, &nk.cred[0], ctl_argon2(a));
	ecfs_tool_free_creds(&nk);
	if (e < 0)
		return ctl_update_failed("rotate", a->pos[0], before, e);
	ecfs_volume_get_info(v, &in);
	s = slot_info(&in, slot);
	printf("rotated key slot %d to KEK generation %llu; its previous key no longer opens it\n",
	       slot, s ? (unsigned long long)s->kek_generation : 0ULL);
	return ECFS_EXIT_OK;
}

int cmd_rotate(const struct ctl_args *a)
{
	struct ecfs_volume *v;
	int opened = -1, slot, r = ctl_open_unlocked(a, a->pos[0], &v, &opened);

	if (r != ECFS_EXIT_OK)
		return r;
	slot = target_slot(a, opened);
	r = slot < 0 ? ECFS_EXIT_USAGE : rotate(a, v, slot);
	ecfs_volume_close(v);
	return r;
}
