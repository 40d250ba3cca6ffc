/* SPDX-License-Identifier: MIT */
/*
 * slot.c - key slots: a key-encryption key from a key file (HKDF) or a passphrase (Argon2id),
 * and the DEK wrapped under it with AES key wrap (man/envcryptfs.5, "Key slots").
 */
#include "internal.h"

#include <string.h>
#include <time.h>

static const char *const slot_names[] = {
    [ECFS_SLOT_KEYFILE] = "keyfile",
    [ECFS_SLOT_PASSPHRASE] = "passphrase",
    [ECFS_SLOT_KMS] = "kms",
};

const char *ecfs_slot_type_name(enum ecfs_slot_type t)
{
	if ((size_t)t < ECFS_ARRAY_SIZE(slot_names) && slot_names[t])
		return slot_names[t];
	return "unknown";
}

enum ecfs_slot_type ecfs_slot_type_from_name(const char *name)
{
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(slot_names); i++)
		if (slot_names[i] && strcmp(slot_names[i], name) == 0)
			return (enum ecfs_slot_type)i;
	return ECFS_SLOT_NONE;
}

/* A key file is random, so HKDF suffices; a passphrase needs Argon2id's memory hardness. */
static int derive_kek(const struct ecfs_slot *s, const struct ecfs_credential *c, uint8_t kek[32])
{
	const uint8_t *secret = ecfs_secret_data(c->secret);
	size_t len = ecfs_secret_len(c->secret);

	if (s->type == ECFS_SLOT_KEYFILE)
		return ecfs_hkdf_sha256(secret, len, s->salt, ECFS_SALT_SIZE,
					(const uint8_t *)ECFS_LABEL_KEYFILE,
					sizeof(ECFS_LABEL_KEYFILE) - 1, kek, 32);
	if (s->type == ECFS_SLOT_PASSPHRASE)
		return ecfs_argon2id(secret, len, s->salt, ECFS_SALT_SIZE, &s->argon2, kek, 32);
	return -EPROTONOSUPPORT;
}

/* A KMS slot: the KMS wraps the DEK; its key version is the slot's KEK generation. */
static int kms_slot_create(struct ecfs_slot *s, const struct ecfs_credential *c,
			   const uint8_t dek[ECFS_DEK_SIZE])
{
	int r;

	if (!c->kms || !c->kms_target)
		return ecfs_fail(-EINVAL, "a KMS slot needs a KMS URL and key");
	s->kms = *c->kms_target;
	s->kms.ciphertext[0] = '\0';
	r = c->kms->wrap(c->kms_arg, dek, ECFS_DEK_SIZE, &s->kms);
	if (r == 0 && (!s->kms.ciphertext[0] || s->kms.key_version == 0))
		r = ecfs_fail(-EBADMSG, "the KMS returned no ciphertext");
	s->kek_generation = s->kms.key_version;
	s->kms.rewrapped = s->created;
	return r;
}

int ecfs_slot_create(struct ecfs_slot *s, const struct ecfs_credential *c,
		     const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE])
{
	struct ecfs_secret *kek;
	int r;

	memset(s, 0, sizeof(*s));
	s->type = c->type;
	s->created = (int64_t)time(NULL);
	if (c->type == ECFS_SLOT_KMS)
		return kms_slot_create(s, c, dek);
	kek = ecfs_secret_new(32);
	if (!kek)
		return -ENOMEM;
	s->kek_generation = 1;
	if (c->type == ECFS_SLOT_PASSPHRASE)
		s->argon2 = *argon2;
	r = ecfs_random(s->salt, ECFS_SALT_SIZE);
	if (r == 0)
		r = derive_kek(s, c, ecfs_secret_data(kek));
	if (r == 0)
		r = ecfs_keywrap(ecfs_secret_data(kek), 32, dek, ECFS_DEK_SIZE, s->wrapped_dek);
	ecfs_secret_free(kek);
	return r;
}

int ecfs_slot_open(const struct ecfs_slot *s, const struct ecfs_credential *c,
		   uint8_t dek[ECFS_DEK_SIZE])
{
	struct ecfs_secret *kek;
	int r;

	if (s->type != c->type)
		return -EKEYREJECTED;
	if (s->type == ECFS_SLOT_KMS) {
		if (!c->kms)
			return -EKEYREJECTED;
		r = c->kms->unwrap(c->kms_arg, &s->kms, dek, ECFS_DEK_SIZE);
		/* The KMS said why (unreachable, denied, key deleted): keep that error. */
		return r;
	}
	kek = ecfs_secret_new(32);
	if (!kek)
		return -ENOMEM;
	r = derive_kek(s, c, ecfs_secret_data(kek));
	if (r == 0)
		r = ecfs_keyunwrap(ecfs_secret_data(kek), 32, s->wrapped_dek, ECFS_WRAPPED_DEK_SIZE,
				   dek);
	ecfs_secret_free(kek);
	return r == -EBADMSG ? -EKEYREJECTED : r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ecfs_argon2_calibrate(uint32_t target_ms, uint32_t min_kib, struct ecfs_argon2_params *out)
{
	struct ecfs_argon2_params p = {1, min_kib, 4};
	uint8_t salt[ECFS_SALT_SIZE] = {0}, key[32];
	uint64_t start, took;
	int r;

	/* Time one pass at the memory floor, then scale passes to the target (LUKS2 style:
	 * memory hardness first, time second). */
	start = now_ms();
	r = ecfs_argon2id((const uint8_t *)"calibrate", 9, salt, sizeof(salt), &p, key,
			  sizeof(key));
	took = now_ms() - start;
	ecfs_wipe(key, sizeof(key));
	if (r < 0)
		return r;
	if (took == 0)
		took = 1;
	p.t_cost = (uint32_t)(target_ms / took);
	if (p.t_cost < 1)
		p.t_cost = 1;
	if (p.t_cost > 100)
		p.t_cost = 100;
	*out = p;
	return 0;
}
