/* SPDX-License-Identifier: MIT */
/*
 * seal.c - the seal: shares are collected one at a time (from --unseal-share files or
 * PUT /v1/sys/unseal) until the threshold, then combined into the master key, which opens
 * the store and is wiped at once. The master key is never whole anywhere else.
 */
#include "kmsd_store.h"

#include <string.h>

int kmsd_seal_init(struct kmsd_seal *z, struct kmsd_store *store)
{
	memset(z, 0, sizeof(*z));
	z->store = store;
	z->sealed = true;
	z->parts = ecfs_secret_new(KMSD_MAX_SHARES * sizeof(struct kmsd_share));
	return z->parts ? 0 : ecfs_fail(-ENOMEM, "out of memory");
}

void kmsd_seal_free(struct kmsd_seal *z)
{
	ecfs_secret_free(z->parts);
	z->parts = NULL;
}

void kmsd_seal_reset(struct kmsd_seal *z)
{
	ecfs_wipe(ecfs_secret_data(z->parts), ecfs_secret_len(z->parts));
	z->progress = 0;
}

void kmsd_seal_close(struct kmsd_seal *z)
{
	kmsd_seal_reset(z);
	kmsd_store_seal(z->store);
	z->sealed = true;
}

/* Combines the collected shares and opens the store with the result. */
static int combine_and_open(struct kmsd_seal *z)
{
	const struct kmsd_share *parts = (const struct kmsd_share *)ecfs_secret_data(z->parts);
	struct ecfs_secret *master = ecfs_secret_new(KMSD_SECRET_SIZE);
	const uint8_t *ys[KMSD_MAX_SHARES];
	uint8_t xs[KMSD_MAX_SHARES];
	int r;

	if (!master)
		return ecfs_fail(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < z->progress; i++) {
		xs[i] = parts[i].index;
		ys[i] = parts[i].y;
	}
	r = kmsd_shamir_combine(xs, ys, z->progress, KMSD_SECRET_SIZE, ecfs_secret_data(master));
	if (r == 0)
		r = kmsd_store_unseal(z->store, ecfs_secret_data(master));
	ecfs_secret_free(master);
	return r;
}

int kmsd_seal_submit(struct kmsd_seal *z, const char *text, size_t len)
{
	struct kmsd_share *parts = (struct kmsd_share *)ecfs_secret_data(z->parts);
	struct kmsd_share *sh = &parts[z->progress];
	int r;

	if (!z->sealed)
		return 0;
	r = kmsd_share_decode(z->store->uuid, text, len, sh);
	if (r < 0)
		return r;
	if (sh->index > z->store->n) {
		ecfs_wipe(sh, sizeof(*sh));
		return ecfs_fail(-EINVAL, "share %u does not exist: the store has %u shares",
				 sh->index, z->store->n);
	}
	/* Before it can count (or be taken for a repeat of the real one): a share forged from
	 * the public store ID passes the typo check, not its verifier. */
	if (kmsd_verifiers_check(z->store, sh) < 0) {
		unsigned index = sh->index;

		ecfs_wipe(sh, sizeof(*sh));
		return ecfs_fail(-EKEYREJECTED,
				 "unseal share %u is not the one this key store was made with "
				 "(forged, or of an older store with the same ID): refused; "
				 "progress stays %u of %u",
				 index, z->progress, z->store->t);
	}
	for (unsigned i = 0; i < z->progress; i++) {
		if (parts[i].index == sh->index) {
			/* Vault ignores a key given twice; so do we (it passed its check). */
			ecfs_wipe(sh, sizeof(*sh));
			return 0;
		}
	}
	if (++z->progress < z->store->t)
		return 0;
	r = combine_and_open(z);
	kmsd_seal_reset(z);
	if (r == 0)
		z->sealed = false;
	return r;
}
