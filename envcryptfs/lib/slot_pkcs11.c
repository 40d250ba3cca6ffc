/* SPDX-License-Identifier: MIT */
/*
 * slot_pkcs11.c - the PKCS#11 slot: an AES key that never leaves a token wraps the DEK inside
 * the token (pkcs11.c); the slot records the token's and the key's labels, the mechanism and
 * the wrapped DEK (man/envcryptfs.5, "Key slots"). Which module to load is never read from
 * the header: the credential brings it from local configuration.
 */
#include "slot.h"

#include <stdio.h>
#include <string.h>

#define MECHANISM "aes-key-wrap-pad"

/* A label to keep in the header and print in messages: 1..max bytes, no control bytes. */
static bool label_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int json_label(json_object *o, const char *key, char *out, size_t max)
{
	json_object *f;
	int r = ecfs_json_field(o, "header", key, json_type_string, &f);

	if (r < 0)
		return r;
	if (!label_ok(json_object_get_string(f), (size_t)json_object_get_string_len(f), max))
		return ecfs_fail(-EUCLEAN,
				 "header field 'pkcs11.%s' is empty, longer than %zu bytes or "
				 "holds control characters",
				 key, max);
	memcpy(out, json_object_get_string(f), (size_t)json_object_get_string_len(f) + 1);
	return 0;
}

/* {"pkcs11": {"token", "key", "mechanism", "dek"}}; anything else in it is ignored. */
static int parse_fields(json_object *o, struct ecfs_slot *s)
{
	struct ecfs_pkcs11_slot *p = &s->pkcs11;
	json_object *x, *mech;
	int r = ecfs_json_field(o, "header", "pkcs11", json_type_object, &x);

	if (r == 0)
		r = json_label(x, "token", p->token, ECFS_PKCS11_TOKEN_MAX);
	if (r == 0)
		r = json_label(x, "key", p->key, ECFS_PKCS11_KEY_MAX);
	if (r == 0)
		r = ecfs_json_field(x, "header", "mechanism", json_type_string, &mech);
	if (r == 0 && strcmp(json_object_get_string(mech), MECHANISM) != 0)
		return ecfs_fail(-EPROTONOSUPPORT, "PKCS#11 mechanism '%s' is not supported",
				 json_object_get_string(mech));
	if (r == 0) {
		snprintf(p->mechanism, sizeof(p->mechanism), "%s", MECHANISM);
		r = ecfs_json_b64(x, "header", "dek", s->wrapped_dek, ECFS_WRAPPED_DEK_SIZE);
	}
	return r;
}

static void write_fields(const struct ecfs_slot *s, json_object *o)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "token", json_object_new_string(s->pkcs11.token));
	json_object_object_add(x, "key", json_object_new_string(s->pkcs11.key));
	json_object_object_add(x, "mechanism", json_object_new_string(s->pkcs11.mechanism));
	json_object_object_add(x, "dek",
			       ecfs_json_b64_string(s->wrapped_dek, ECFS_WRAPPED_DEK_SIZE));
	json_object_object_add(o, "pkcs11", x);
}

static int validate(const struct ecfs_credential *c)
{
	const struct ecfs_pkcs11_cred *p = c->pkcs11;

	if (!p || !p->module || !p->pin || !p->token || !p->key)
		return ecfs_fail(-EINVAL,
				 "a PKCS#11 slot needs a module, a PIN, a token and a key label");
	if (!label_ok(p->token, strlen(p->token), ECFS_PKCS11_TOKEN_MAX))
		return ecfs_fail(-EINVAL,
				 "PKCS#11 token label '%s' must be 1 to %d bytes, no control "
				 "characters",
				 p->token, ECFS_PKCS11_TOKEN_MAX);
	if (!label_ok(p->key, strlen(p->key), ECFS_PKCS11_KEY_MAX))
		return ecfs_fail(-EINVAL,
				 "PKCS#11 key label '%s' must be 1 to %d bytes, no control "
				 "characters",
				 p->key, ECFS_PKCS11_KEY_MAX);
	return 0;
}

static int create(struct ecfs_slot *s, const struct ecfs_credential *c,
		  const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE])
{
	const struct ecfs_pkcs11_cred *p = c->pkcs11;

	(void)argon2;
	snprintf(s->pkcs11.token, sizeof(s->pkcs11.token), "%s", p->token);
	snprintf(s->pkcs11.key, sizeof(s->pkcs11.key), "%s", p->key);
	snprintf(s->pkcs11.mechanism, sizeof(s->pkcs11.mechanism), "%s", MECHANISM);
	return ecfs_pkcs11_wrap(p, p->token, p->key, p->create_key, dek, s->wrapped_dek);
}

/* The token and key come from the slot, the module and PIN from the credential. */
static int open_slot(const struct ecfs_slot *s, const struct ecfs_credential *c,
		     uint8_t dek[ECFS_DEK_SIZE])
{
	if (!c->pkcs11 || !c->pkcs11->module || !c->pkcs11->pin)
		return -EKEYREJECTED;
	return ecfs_pkcs11_unwrap(c->pkcs11, s->pkcs11.token, s->pkcs11.key, s->wrapped_dek, dek);
}

static void describe(const struct ecfs_slot_info *s, char *buf, size_t len)
{
	snprintf(buf, len, ", token '%s', key '%s', %s", s->pkcs11.token, s->pkcs11.key,
		 s->pkcs11.mechanism);
}

static json_object *describe_json(const struct ecfs_slot_info *s, const char **key)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "token", json_object_new_string(s->pkcs11.token));
	json_object_object_add(x, "key", json_object_new_string(s->pkcs11.key));
	json_object_object_add(x, "mechanism", json_object_new_string(s->pkcs11.mechanism));
	*key = "pkcs11";
	return x;
}

const struct ecfs_slot_handler ecfs_slot_pkcs11 = {
    .type = ECFS_SLOT_PKCS11,
    .name = "pkcs11",
    .counts_generations = true,
    .parse = parse_fields,
    .write = write_fields,
    .validate = validate,
    .create = create,
    .open = open_slot,
    .describe = describe,
    .describe_json = describe_json,
};
