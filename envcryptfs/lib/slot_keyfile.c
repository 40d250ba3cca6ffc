/* SPDX-License-Identifier: MIT */
/*
 * slot_keyfile.c - the key-file slot: a key file is random, so HKDF-SHA-256 over its bytes
 * and the slot's salt gives the KEK (man/envcryptfs.5, "Key slots").
 */
#include "slot.h"

#define KDF_NAME "hkdf-sha256"

static int derive(const struct ecfs_slot *s, const struct ecfs_credential *c, uint8_t kek[32])
{
	return ecfs_hkdf_sha256(ecfs_secret_data(c->secret), ecfs_secret_len(c->secret), s->salt,
				ECFS_SALT_SIZE, (const uint8_t *)ECFS_LABEL_KEYFILE,
				sizeof(ECFS_LABEL_KEYFILE) - 1, kek, 32);
}

static int parse_fields(json_object *o, struct ecfs_slot *s)
{
	json_object *kdf;
	int r = ecfs_kek_slot_parse_kdf(o, s, KDF_NAME, &kdf);

	return r == 0 ? ecfs_kek_slot_parse_wrap(o, s) : r;
}

static void write_fields(const struct ecfs_slot *s, json_object *o)
{
	ecfs_kek_slot_write(s, o, KDF_NAME);
}

static int create(struct ecfs_slot *s, const struct ecfs_credential *c,
		  const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE])
{
	(void)argon2;
	return ecfs_kek_slot_create(s, c, dek, derive);
}

static int open_slot(const struct ecfs_slot *s, const struct ecfs_credential *c,
		     uint8_t dek[ECFS_DEK_SIZE])
{
	return ecfs_kek_slot_open(s, c, dek, derive);
}

const struct ecfs_slot_handler ecfs_slot_keyfile = {
    .type = ECFS_SLOT_KEYFILE,
    .name = "keyfile",
    .counts_generations = true,
    .parse = parse_fields,
    .write = write_fields,
    .validate = ecfs_kek_slot_validate,
    .create = create,
    .open = open_slot,
};
