/* SPDX-License-Identifier: MIT */
/* cmd_rotate_kms.c - `rotate` of a KMS slot without a new key: the KMS rewraps the volume key
 * under its key's latest version (made first with --kms-rotate); the DEK is not needed. */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The slot as it is to be recorded: a URL or mount given overrides (a KMS that moved). */
static void next_slot(const struct ctl_args *a, const struct ecfs_slot_info *s,
		      struct ecfs_kms_slot *out)
{
	const char *url = a->kms.v[ECFS_KMS_URL], *mount = a->kms.v[ECFS_KMS_MOUNT];

	*out = s->kms;
	if (url)
		snprintf(out->url, sizeof(out->url), "%s", url);
	if (mount)
		snprintf(out->mount, sizeof(out->mount), "%s", mount);
}

/* A KMS that refused or failed is an operational error; a bad option is a usage error. */
static int kms_failed(int err, bool rotated)
{
	ctl_fail("rotate", err, ECFS_EXIT_ERROR);
	if (rotated)
		ecfs_tool_warn(CTL_PROG, "the KMS key has a new version, but the slot still uses "
					 "the old one; run rotate again without --kms-rotate");
	return err == -EINVAL ? ECFS_EXIT_USAGE : ECFS_EXIT_ERROR;
}

/* Asks the KMS for the slot's ciphertext under the key's latest version. */
static int rewrap(const struct ctl_args *a, const struct ecfs_slot_info *s,
		  struct ecfs_kms_slot *next)
{
	struct ecfs_kms *k = NULL;
	bool rotated = false;
	char *ct = NULL;
	int e = ecfs_tool_kms_new(&a->kms, next, false, &k);

	if (e == 0 && a->kms_rotate) {
		e = ecfs_kms_rotate(k);
		rotated = e == 0;
	}
	if (e == 0)
		e = ecfs_kms_rewrap(k, s->kms.ciphertext, &ct, &next->key_version);
	ecfs_kms_free(k);
	if (e == 0 && strlen(ct) >= sizeof(next->ciphertext)) {
		ecfs_tool_error(CTL_PROG, "rotate: the KMS's ciphertext is too long for a slot");
		free(ct);
		return ECFS_EXIT_ERROR;
	}
	if (e < 0)
		return kms_failed(e, rotated);
	memcpy(next->ciphertext, ct, strlen(ct) + 1);
	free(ct);
	return ECFS_EXIT_OK;
}

/* Whether slot s still holds the ciphertext that was rewrapped: another writer may have
 * changed it while the KMS was asked. */
static bool slot_unchanged(const struct ecfs_volume_info *in, const struct ecfs_slot_info *s)
{
	for (int i = 0; i < in->nslots; i++)
		if (in->slots[i].index == s->index)
			return in->slots[i].type == ECFS_SLOT_KMS &&
			       strcmp(in->slots[i].kms.ciphertext, s->kms.ciphertext) == 0;
	return false;
}

int ctl_rotate_kms(const struct ctl_args *a, struct ecfs_volume *v, const struct ecfs_slot_info *s)
{
	struct ecfs_volume_info in;
	struct ecfs_kms_slot next;
	struct ecfs_metalock *lock = NULL;
	uint64_t before;
	int e, r;

	next_slot(a, s, &next);
	r = rewrap(a, s, &next);
	if (r == ECFS_EXIT_OK)
		r = ctl_lock_for_update("rotate", v, a->pos[0], &lock);
	if (r != ECFS_EXIT_OK)
		return r;
	ecfs_volume_get_info(v, &in);
	before = in.seqid;
	if (!slot_unchanged(&in, s)) {
		ecfs_metalock_release(lock);
		ecfs_tool_error(CTL_PROG, "rotate: key slot %d changed since it was read; rerun",
				s->index);
		return ECFS_EXIT_ERROR;
	}
	e = ecfs_volume_slot_set_kms(v, s->index, &next);
	ecfs_metalock_release(lock);
	if (!ctl_took_effect(v, e))
		return ctl_update_failed("rotate", a->pos[0], before, e);
	printf("rotated key slot %d to KEK generation %llu (KMS key '%s' version %llu%s)\n",
	       s->index, (unsigned long long)next.key_version, next.key,
	       (unsigned long long)next.key_version,
	       next.key_version == s->kms.key_version ? ", unchanged" : "");
	return ctl_update_result("rotate", v, a->pos[0], before, e);
}
