/* SPDX-License-Identifier: MIT */
/* cmd_rotate.c - `rotate`: a slot's key replaced in one atomic header update. */
#include "ctl.h"

#include <string.h>

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
	struct ecfs_metalock *lock = NULL;
	uint64_t before;
	int e, r = ctl_load_new_key(a, "New passphrase: ", &nk);

	if (r != ECFS_EXIT_OK)
		return r;
	r = ctl_lock_for_update("rotate", v, a->pos[0], &lock);
	if (r != ECFS_EXIT_OK) {
		ecfs_tool_free_creds(&nk);
		return r;
	}
	ecfs_volume_get_info(v, &in);
	before = in.seqid;
	e = ecfs_volume_slot_rotate(v, slot, &nk.cred[0], ctl_argon2(a));
	ecfs_tool_free_creds(&nk);
	ecfs_metalock_release(lock);
	if (ctl_took_effect(v, e)) {
		ecfs_volume_get_info(v, &in);
		s = slot_info(&in, slot);
		printf("rotated key slot %d to KEK generation %llu; its previous key no longer "
		       "opens it\n",
		       slot, s ? (unsigned long long)s->kek_generation : 0ULL);
	}
	return ctl_update_result("rotate", v, a->pos[0], before, e);
}

/* Whether slot s is a KMS slot to rewrap in place: no new key, or only a new URL or mount
 * for the same KMS key (a KMS that moved). */
static bool kms_in_place(const struct ctl_args *a, const struct ecfs_slot_info *s)
{
	const char *key = a->kms.v[ECFS_KMS_KEY];

	return s && s->type == ECFS_SLOT_KMS &&
	       (a->newkey.count == 0 || (a->newkey.count == 1 && a->newkey.kms)) &&
	       (!key || strcmp(key, s->kms.key) == 0);
}

/* Rotation with a new key; none given is a usage error unless the slot is a KMS slot. */
static int rotate_checked(const struct ctl_args *a, struct ecfs_volume *v,
			  const struct ecfs_slot_info *s, int slot)
{
	if (!s) {
		ecfs_tool_error(CTL_PROG, "rotate: key slot %d is not in use", slot);
		return ECFS_EXIT_ERROR;
	}
	if (a->kms_rotate) {
		ecfs_tool_error(CTL_PROG, "rotate: --kms-rotate applies to a KMS slot rewrapped "
					  "in place (no new key, or the same KMS key)");
		return ECFS_EXIT_USAGE;
	}
	if (a->newkey.count == 0) {
		ecfs_tool_error(CTL_PROG,
				"rotate: slot %d is not a KMS slot: give a new key "
				"(--key-file, --passphrase-file, --passphrase or "
				"--kms-url with --kms-key)",
				slot);
		return ECFS_EXIT_USAGE;
	}
	if (a->newkey.kms && ecfs_kms_check_target(CTL_PROG, &a->kms) < 0)
		return ECFS_EXIT_USAGE;
	return rotate(a, v, slot);
}

int cmd_rotate(const struct ctl_args *a)
{
	struct ecfs_volume_info in;
	struct ecfs_volume *v;
	const struct ecfs_slot_info *s;
	int opened = -1, slot, r = ctl_open_unlocked(a, a->pos[0], true, &v, &opened);

	if (r != ECFS_EXIT_OK)
		return r;
	slot = target_slot(a, opened);
	ecfs_volume_get_info(v, &in);
	s = slot < 0 ? NULL : slot_info(&in, slot);
	if (slot < 0)
		r = ECFS_EXIT_USAGE;
	else if (kms_in_place(a, s))
		r = ctl_rotate_kms(a, v, s);
	else
		r = rotate_checked(a, v, s, slot);
	ecfs_volume_close(v);
	return r;
}
