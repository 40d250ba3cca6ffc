/* SPDX-License-Identifier: MIT */
/*
 * slot_passphrase.c - the passphrase slot: a passphrase needs Argon2id's memory hardness to
 * give the KEK; its parameters are stored in the slot (man/envcryptfs.5, "Key slots").
 */
#include "slot.h"

#include <stdio.h>

#define KDF_NAME "argon2id"

static int derive(const struct ecfs_slot *s, const struct ecfs_credential *c, uint8_t kek[32])
{
	return ecfs_argon2id(ecfs_secret_data(c->secret), ecfs_secret_len(c->secret), s->salt,
			     ECFS_SALT_SIZE, &s->argon2, kek, 32);
}

static int parse_fields(json_object *o, struct ecfs_slot *s)
{
	json_object *kdf;
	int r = ecfs_kek_slot_parse_kdf(o, s, KDF_NAME, &kdf);

	if (r == 0)
		r = ecfs_argon2_from_json(kdf, "header", &s->argon2);
	return r == 0 ? ecfs_kek_slot_parse_wrap(o, s) : r;
}

static void write_fields(const struct ecfs_slot *s, json_object *o)
{
	ecfs_argon2_to_json(&s->argon2, ecfs_kek_slot_write(s, o, KDF_NAME));
}

static int create(struct ecfs_slot *s, const struct ecfs_credential *c,
		  const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE])
{
	s->argon2 = *argon2;
	return ecfs_kek_slot_create(s, c, dek, derive);
}

static int open_slot(const struct ecfs_slot *s, const struct ecfs_credential *c,
		     uint8_t dek[ECFS_DEK_SIZE])
{
	return ecfs_kek_slot_open(s, c, dek, derive);
}

static void describe(const struct ecfs_slot_info *s, char *buf, size_t len)
{
	snprintf(buf, len, ", argon2id t=%u m=%u KiB p=%u", s->argon2.t_cost, s->argon2.m_cost_kib,
		 s->argon2.parallelism);
}

static json_object *describe_json(const struct ecfs_slot_info *s, const char **key)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "time", json_object_new_int64(s->argon2.t_cost));
	json_object_object_add(x, "memory_kib", json_object_new_int64(s->argon2.m_cost_kib));
	json_object_object_add(x, "parallel", json_object_new_int64(s->argon2.parallelism));
	*key = "argon2id";
	return x;
}

const struct ecfs_slot_handler ecfs_slot_passphrase = {
    .type = ECFS_SLOT_PASSPHRASE,
    .name = "passphrase",
    .uses_argon2 = true,
    .counts_generations = true,
    .parse = parse_fields,
    .write = write_fields,
    .validate = ecfs_kek_slot_validate,
    .create = create,
    .open = open_slot,
    .describe = describe,
    .describe_json = describe_json,
};
