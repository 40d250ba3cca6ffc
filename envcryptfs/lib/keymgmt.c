/* SPDX-License-Identifier: MIT */
/*
 * keymgmt.c - key slot management and header backup: every change rewraps the DEK or copies
 * header bytes, and is written with one atomic header update; no data is re-encrypted.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int check_unlocked(const struct ecfs_volume *v)
{
	if (!v->keys)
		return ecfs_fail(-ENOKEY, "the volume must be unlocked to change its key slots");
	return 0;
}

/* Writes the header; on failure the in-memory header goes back to what is on disk (unless the
 * primary took the change and only the copy failed). */
static int store_or_undo(struct ecfs_volume *v, const struct ecfs_header *before)
{
	int r = ecfs_header_store(v);

	if (r < 0 && !v->primary_written)
		v->hdr = *before;
	return r;
}

int ecfs_volume_slot_add(struct ecfs_volume *v, const struct ecfs_credential *c,
			 const struct ecfs_argon2_params *argon2, int *index)
{
	struct ecfs_header before = v->hdr;
	struct ecfs_argon2_params a = {0};
	int i, r;

	ecfs_clear_error();
	r = check_unlocked(v);
	if (r == 0)
		r = ecfs_slot_validate(c);
	if (r < 0)
		return r;
	for (i = 0; i < ECFS_MAX_SLOTS && v->hdr.slots[i].type != ECFS_SLOT_NONE; i++)
		;
	if (i == ECFS_MAX_SLOTS)
		return ecfs_fail(-ENOSPC, "all %d key slots are in use", ECFS_MAX_SLOTS);
	if (ecfs_slot_uses_argon2(c->type))
		r = ecfs_argon2_or_calibrate(argon2, &a);
	if (r == 0)
		r = ecfs_slot_create(&v->hdr.slots[i], c, &a, v->keys->dek);
	if (r == 0)
		r = store_or_undo(v, &before);
	if ((r == 0 || v->primary_written) && index)
		*index = i;
	return r;
}

static int nslots(const struct ecfs_volume *v)
{
	int n = 0;

	for (int i = 0; i < ECFS_MAX_SLOTS; i++)
		n += v->hdr.slots[i].type != ECFS_SLOT_NONE;
	return n;
}

int ecfs_volume_slot_remove(struct ecfs_volume *v, int index, bool force)
{
	struct ecfs_header before = v->hdr;
	int r;

	ecfs_clear_error();
	r = check_unlocked(v);
	if (r < 0)
		return r;
	if (index < 0 || index >= ECFS_MAX_SLOTS || v->hdr.slots[index].type == ECFS_SLOT_NONE)
		return ecfs_fail(-ENOENT, "key slot %d is not in use", index);
	if (nslots(v) == 1 && !force)
		return ecfs_fail(-EBUSY,
				 "slot %d is the last key slot: without it no key opens "
				 "the volume and its data is lost unless an export file "
				 "exists (use --force to remove it anyway)",
				 index);
	ecfs_wipe(&v->hdr.slots[index], sizeof(v->hdr.slots[index]));
	v->hdr.slots[index].type = ECFS_SLOT_NONE;
	return store_or_undo(v, &before);
}

int ecfs_volume_slot_rotate(struct ecfs_volume *v, int index, const struct ecfs_credential *c,
			    const struct ecfs_argon2_params *argon2)
{
	struct ecfs_header before = v->hdr;
	struct ecfs_argon2_params a = {0};
	uint64_t gen;
	int r;

	ecfs_clear_error();
	r = check_unlocked(v);
	if (r == 0)
		r = ecfs_slot_validate(c);
	if (r < 0)
		return r;
	if (index < 0 || index >= ECFS_MAX_SLOTS || v->hdr.slots[index].type == ECFS_SLOT_NONE)
		return ecfs_fail(-ENOENT, "key slot %d is not in use", index);
	gen = v->hdr.slots[index].kek_generation;
	if (ecfs_slot_uses_argon2(c->type))
		r = ecfs_argon2_or_calibrate(argon2, &a);
	if (r == 0)
		r = ecfs_slot_create(&v->hdr.slots[index], c, &a, v->keys->dek);
	/* A KMS slot's generation is the KMS key version; other slots count up. */
	if (ecfs_slot_counts_generations(c->type))
		v->hdr.slots[index].kek_generation = gen + 1;
	if (r == 0)
		r = store_or_undo(v, &before);
	else
		v->hdr = before;
	return r;
}

int ecfs_volume_slot_set_kms(struct ecfs_volume *v, int index, const struct ecfs_kms_slot *s)
{
	struct ecfs_header before = v->hdr;
	struct ecfs_slot *slot;
	int r;

	ecfs_clear_error();
	r = check_unlocked(v);
	if (r < 0)
		return r;
	if (index < 0 || index >= ECFS_MAX_SLOTS || v->hdr.slots[index].type != ECFS_SLOT_KMS)
		return ecfs_fail(-ENOENT, "key slot %d is not a KMS slot", index);
	if (!s->ciphertext[0] || s->key_version == 0)
		return ecfs_fail(-EINVAL, "a KMS slot needs a ciphertext and a key version");
	slot = &v->hdr.slots[index];
	slot->kms = *s;
	slot->kms.rewrapped = (int64_t)time(NULL);
	slot->kek_generation = s->key_version;
	return store_or_undo(v, &before);
}

int ecfs_volume_header_bytes(const struct ecfs_volume *v, const uint8_t **buf, size_t *len)
{
	if (!v->raw)
		return -ENODATA;
	*buf = v->raw;
	*len = v->raw_len;
	return 0;
}

int ecfs_header_restore(const char *dir, const uint8_t *backup, size_t len, bool force)
{
	struct ecfs_header h;
	struct ecfs_volume *cur = NULL;
	struct ecfs_metalock *lock = NULL;
	int dirfd, r;

	ecfs_clear_error();
	r = ecfs_header_parse(backup, len, &h);
	if (r < 0)
		return ecfs_fail(r, "the backup is not a valid header: %s", ecfs_last_error());
	r = ecfs_volume_open(dir, &cur);
	if (r == 0 && memcmp(cur->hdr.uuid, h.uuid, ECFS_UUID_SIZE) != 0)
		r = ecfs_fail(-EXDEV, "the backup belongs to another volume");
	else if (r < 0 && !force)
		r = ecfs_fail(r,
			      "cannot check that the backup belongs to '%s' (%s); use --force "
			      "to restore anyway",
			      dir, ecfs_last_error());
	else
		r = 0;
	ecfs_volume_close(cur);
	if (r < 0)
		return r;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return ecfs_fail(-errno, "cannot open '%s'", dir);
	/* A restore replaces whatever is there on purpose: no seqid check, but no other writer
	 * may be halfway through an update either. */
	r = ecfs_metalock_acquire_at(dirfd, dir, &lock);
	if (r == 0)
		r = ecfs_write_file_atomic(dirfd, ECFS_HEADER_NAME, backup, len, 0600);
	if (r == 0)
		r = ecfs_write_file_atomic(dirfd, ECFS_HEADER_COPY_NAME, backup, len, 0600);
	ecfs_metalock_release(lock);
	close(dirfd);
	return r;
}
