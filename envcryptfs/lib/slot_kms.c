/* SPDX-License-Identifier: MIT */
/*
 * slot_kms.c - the KMS slot: a Vault Transit key wraps the DEK; the slot records where the key
 * lives and the ciphertext, and its KEK generation is the key's version (man/envcryptfs.5,
 * "Key slots"). The library never talks to the KMS: the credential brings the callbacks.
 */
#include "slot.h"

#include <stdio.h>
#include <string.h>

static int json_str(json_object *o, const char *key, char *out, size_t outsz)
{
	json_object *f;
	int r = ecfs_json_field(o, "header", key, json_type_string, &f);
	size_t len;

	if (r < 0)
		return r;
	len = (size_t)json_object_get_string_len(f);
	if (len >= outsz || len == 0 || memchr(json_object_get_string(f), 0, len))
		return ecfs_fail(-EUCLEAN, "header field '%s' is empty or too long", key);
	memcpy(out, json_object_get_string(f), len + 1);
	return 0;
}

/* {"kms": {"url", "mount", "key", "ciphertext", "key_version", "rewrapped"}}, no kdf or wrap. */
static int parse_fields(json_object *o, struct ecfs_slot *s)
{
	json_object *kms;
	uint64_t version = 0;
	int r = ecfs_json_field(o, "header", "kms", json_type_object, &kms);

	if (r == 0)
		r = json_str(kms, "url", s->kms.url, sizeof(s->kms.url));
	if (r == 0)
		r = json_str(kms, "mount", s->kms.mount, sizeof(s->kms.mount));
	if (r == 0)
		r = json_str(kms, "key", s->kms.key, sizeof(s->kms.key));
	if (r == 0)
		r = json_str(kms, "ciphertext", s->kms.ciphertext, sizeof(s->kms.ciphertext));
	if (r == 0)
		r = ecfs_json_u64(kms, "header", "key_version", 1, INT64_MAX, &version);
	s->kms.key_version = version;
	if (r == 0)
		r = ecfs_json_u64(kms, "header", "rewrapped", 0, INT64_MAX, &version);
	s->kms.rewrapped = (int64_t)version;
	return r;
}

static void write_fields(const struct ecfs_slot *s, json_object *o)
{
	const struct ecfs_kms_slot *k = &s->kms;
	json_object *x = json_object_new_object();

	json_object_object_add(x, "url", json_object_new_string(k->url));
	json_object_object_add(x, "mount", json_object_new_string(k->mount));
	json_object_object_add(x, "key", json_object_new_string(k->key));
	json_object_object_add(x, "ciphertext", json_object_new_string(k->ciphertext));
	json_object_object_add(x, "key_version", json_object_new_int64((int64_t)k->key_version));
	json_object_object_add(x, "rewrapped", json_object_new_int64(k->rewrapped));
	json_object_object_add(o, "kms", x);
}

static int validate(const struct ecfs_credential *c)
{
	if (!c->kms || !c->kms_target)
		return ecfs_fail(-EINVAL, "a KMS slot needs a KMS URL and key");
	return 0;
}

/* The KMS wraps the DEK; its key version is the slot's KEK generation. */
static int create(struct ecfs_slot *s, const struct ecfs_credential *c,
		  const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE])
{
	int r;

	(void)argon2;
	s->kms = *c->kms_target;
	s->kms.ciphertext[0] = '\0';
	r = c->kms->wrap(c->kms_arg, dek, ECFS_DEK_SIZE, &s->kms);
	if (r == 0 && (!s->kms.ciphertext[0] || s->kms.key_version == 0))
		r = ecfs_fail(-EBADMSG, "the KMS returned no ciphertext");
	s->kek_generation = s->kms.key_version;
	s->kms.rewrapped = s->created;
	return r;
}

static int open_slot(const struct ecfs_slot *s, const struct ecfs_credential *c,
		     uint8_t dek[ECFS_DEK_SIZE])
{
	if (!c->kms)
		return -EKEYREJECTED;
	/* The KMS said why (unreachable, denied, key deleted): keep that error. */
	return c->kms->unwrap(c->kms_arg, &s->kms, dek, ECFS_DEK_SIZE);
}

/* Where the key lives, its version, and when the KMS last wrapped the volume key. */
static void describe(const struct ecfs_slot_info *s, char *buf, size_t len)
{
	const struct ecfs_kms_slot *k = &s->kms;
	char when[32];

	ecfs_format_time(k->rewrapped, when, sizeof(when));
	snprintf(buf, len,
		 ", %s %s/%s\n    KMS: url %s, mount %s, key %s, key version %llu, last rewrap %s",
		 k->url, k->mount, k->key, k->url, k->mount, k->key,
		 (unsigned long long)k->key_version, k->rewrapped ? when : "never");
}

static json_object *describe_json(const struct ecfs_slot_info *s, const char **key)
{
	json_object *x = json_object_new_object();
	char when[32];

	ecfs_format_time(s->kms.rewrapped, when, sizeof(when));
	json_object_object_add(x, "url", json_object_new_string(s->kms.url));
	json_object_object_add(x, "mount", json_object_new_string(s->kms.mount));
	json_object_object_add(x, "key", json_object_new_string(s->kms.key));
	json_object_object_add(x, "key_version", json_object_new_uint64(s->kms.key_version));
	json_object_object_add(x, "last_rewrap",
			       s->kms.rewrapped ? json_object_new_string(when) : NULL);
	*key = "kms";
	return x;
}

const struct ecfs_slot_handler ecfs_slot_kms = {
    .type = ECFS_SLOT_KMS,
    .name = "kms",
    .parse = parse_fields,
    .write = write_fields,
    .validate = validate,
    .create = create,
    .open = open_slot,
    .describe = describe,
    .describe_json = describe_json,
};
