/* SPDX-License-Identifier: MIT */
/* filekey.c - per-file content keys: derived at open, kept in slabs of locked memory, wiped
 * (with their key schedules in every context) at the last close. */
#include "crypto_ctx.h"

#include <stdlib.h>
#include <string.h>

/*
 * File keys are made at every open of a file and dropped at its last close: a locked page
 * each (mmap, madvise, mlock, munmap) cost more than the key derivation. They live in slabs
 * of locked memory instead, one page of keys per slab; a freed key is wiped and its slot
 * reused. Slabs stay for the life of the process (as many as the most keys ever held at
 * once). The free list is ordinary memory: a forked child sees the slabs wiped, never a
 * broken list.
 */
#define KEY_SLAB_BYTES 4000 /* with the secret's own header, one page */
#define KEYS_PER_SLAB  (KEY_SLAB_BYTES / sizeof(struct ecfs_file_key))

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ecfs_file_key **key_free; /* protected by key_lock */
static size_t key_nfree, key_cap;	/* protected by key_lock */

/* Adds a slab's slots to the free list; key_lock held. */
static int key_slab_add(void)
{
	struct ecfs_secret *mem;
	struct ecfs_file_key *slab;

	if (key_nfree + KEYS_PER_SLAB > key_cap) {
		size_t cap = key_cap ? key_cap * 2 : 4 * KEYS_PER_SLAB;
		struct ecfs_file_key **f;

		while (cap < key_nfree + KEYS_PER_SLAB)
			cap *= 2;
		f = realloc(key_free, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		key_free = f;
		key_cap = cap;
	}
	mem = ecfs_secret_new(KEY_SLAB_BYTES);
	if (!mem)
		return -ENOMEM;
	slab = (struct ecfs_file_key *)ecfs_secret_data(mem);
	for (size_t i = KEYS_PER_SLAB; i-- > 0;)
		key_free[key_nfree++] = &slab[i];
	return 0;
}

static struct ecfs_file_key *key_alloc(void)
{
	struct ecfs_file_key *k = NULL;

	pthread_mutex_lock(&key_lock);
	if (key_nfree || key_slab_add() == 0)
		k = key_free[--key_nfree];
	pthread_mutex_unlock(&key_lock);
	return k;
}

static void key_release(struct ecfs_file_key *k)
{
	ecfs_crypto_forget_key(k->key);
	ecfs_wipe(k, sizeof(*k));
	pthread_mutex_lock(&key_lock);
	/* There is always room: the list had a place for every slot of every slab. */
	key_free[key_nfree++] = k;
	pthread_mutex_unlock(&key_lock);
}

int ecfs_file_key_new(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		      struct ecfs_file_key **out)
{
	struct ecfs_file_key *k;
	uint8_t info[sizeof(ECFS_LABEL_FILE) - 1 + ECFS_FILE_ID_SIZE];
	int r = 0;

	if (!v->keys)
		return ecfs_fail(-ENOKEY, "volume '%s' is locked", v->dir);
	k = key_alloc();
	if (!k)
		return -ENOMEM;
	memcpy(k->file_id, file_id, ECFS_FILE_ID_SIZE);
	memset(k->tail_nonce, 0, sizeof(k->tail_nonce));
	memset(k->tail_next, 0, sizeof(k->tail_next));
	k->tail_used = false;
	k->holes_any = v->hdr.version < 2;
	k->holes = NULL;
	if (v->hdr.version >= 2 && !ecfs_cipher_is_authenticated(v->hdr.cipher))
		r = ecfs_random(k->tail_next, sizeof(k->tail_next));
	/* Per-file keys give each file its own random-nonce budget (GCM); XTS keys are
	 * volume-wide and the file ID goes into the tweak instead. */
	if (r == 0 && ecfs_cipher_is_authenticated(v->hdr.cipher)) {
		memcpy(info, ECFS_LABEL_FILE, sizeof(ECFS_LABEL_FILE) - 1);
		memcpy(info + sizeof(ECFS_LABEL_FILE) - 1, file_id, ECFS_FILE_ID_SIZE);
		r = ecfs_hkdf_sha256(v->keys->contents, 32, NULL, 0, info, sizeof(info), k->key,
				     sizeof(k->key));
	}
	if (r < 0) {
		key_release(k);
		return r;
	}
	*out = k;
	return 0;
}

void ecfs_file_key_set_holes(struct ecfs_file_key *k, const struct ecfs_holes *map)
{
	k->holes = map;
}

void ecfs_file_key_holes_any(struct ecfs_file_key *k)
{
	k->holes_any = true;
}

void ecfs_file_key_set_tail_nonce(struct ecfs_file_key *k, const uint8_t nonce[16])
{
	memcpy(k->tail_nonce, nonce, sizeof(k->tail_nonce));
	k->tail_used = false;
}

int ecfs_file_key_tail_advance(struct ecfs_file_key *k, uint8_t nonce[16])
{
	if (!k->tail_used)
		return 0;
	memcpy(k->tail_nonce, k->tail_next, sizeof(k->tail_nonce));
	memcpy(nonce, k->tail_nonce, sizeof(k->tail_nonce));
	k->tail_used = false;
	return ecfs_random(k->tail_next, sizeof(k->tail_next)) < 0 ? -EIO : 1;
}

void ecfs_file_key_free(struct ecfs_file_key *k)
{
	if (k)
		key_release(k);
}

const uint8_t *ecfs_file_key_material(const struct ecfs_file_key *k, size_t *len)
{
	*len = sizeof(k->key);
	return k->key;
}
