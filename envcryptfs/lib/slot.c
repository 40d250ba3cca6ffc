/* SPDX-License-Identifier: MIT */
/*
 * slot.c - the key-slot handler table and what every slot shares: its JSON frame ("type",
 * "kek_generation", "created"), creation and opening by type, descriptions for info, and the
 * key-wrap helpers of the types whose KEK comes from a secret (man/envcryptfs.5, "Key slots").
 */
#include "slot.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct ecfs_slot_handler *const handlers[] = {
    &ecfs_slot_keyfile, &ecfs_slot_passphrase, &ecfs_slot_kms, &ecfs_slot_pkcs11, &ecfs_slot_tpm2,
};

const struct ecfs_slot_handler *ecfs_slot_handler_of(enum ecfs_slot_type t)
{
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(handlers); i++)
		if (handlers[i]->type == t)
			return handlers[i];
	return NULL;
}

const char *ecfs_slot_type_name(enum ecfs_slot_type t)
{
	const struct ecfs_slot_handler *h = ecfs_slot_handler_of(t);

	return h ? h->name : "unknown";
}

enum ecfs_slot_type ecfs_slot_type_from_name(const char *name)
{
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(handlers); i++)
		if (strcmp(handlers[i]->name, name) == 0)
			return handlers[i]->type;
	return ECFS_SLOT_NONE;
}

bool ecfs_slot_uses_argon2(enum ecfs_slot_type t)
{
	const struct ecfs_slot_handler *h = ecfs_slot_handler_of(t);

	return h && h->uses_argon2;
}

bool ecfs_slot_counts_generations(enum ecfs_slot_type t)
{
	const struct ecfs_slot_handler *h = ecfs_slot_handler_of(t);

	return h && h->counts_generations;
}

/* ---- the JSON frame -------------------------------------------------------------------- */

int ecfs_slot_parse(json_object *o, struct ecfs_slot *s)
{
	const struct ecfs_slot_handler *h;
	json_object *type;
	uint64_t gen = 0, created = 0;
	int r = ecfs_json_field(o, "header", "type", json_type_string, &type);

	if (r < 0)
		return r;
	s->type = ecfs_slot_type_from_name(json_object_get_string(type));
	h = ecfs_slot_handler_of(s->type);
	if (!h)
		return ecfs_fail(-EPROTONOSUPPORT, "key slot type '%s' is not supported",
				 json_object_get_string(type));
	r = ecfs_json_u64(o, "header", "kek_generation", 1, INT64_MAX, &gen);
	if (r == 0)
		r = ecfs_json_u64(o, "header", "created", 0, INT64_MAX, &created);
	s->kek_generation = gen;
	s->created = (int64_t)created;
	return r == 0 ? h->parse(o, s) : r;
}

json_object *ecfs_slot_write(const struct ecfs_slot *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(ecfs_slot_type_name(s->type)));
	json_object_object_add(o, "kek_generation",
			       json_object_new_int64((int64_t)s->kek_generation));
	json_object_object_add(o, "created", json_object_new_int64(s->created));
	ecfs_slot_handler_of(s->type)->write(s, o);
	return o;
}

/* ---- create and open ------------------------------------------------------------------- */

int ecfs_slot_validate(const struct ecfs_credential *c)
{
	const struct ecfs_slot_handler *h = ecfs_slot_handler_of(c->type);
	char names[128] = "";

	if (h)
		return h->validate(c);
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(handlers); i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 i ? (i + 1 == ECFS_ARRAY_SIZE(handlers) ? " or " : ", ") : "",
			 handlers[i]->name);
	return ecfs_fail(-EINVAL, "a new key slot takes a credential of type %s", names);
}

int ecfs_slot_create(struct ecfs_slot *s, const struct ecfs_credential *c,
		     const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE])
{
	const struct ecfs_slot_handler *h = ecfs_slot_handler_of(c->type);
	int r = ecfs_slot_validate(c);

	if (r < 0)
		return r;
	memset(s, 0, sizeof(*s));
	s->type = c->type;
	s->created = (int64_t)time(NULL);
	s->kek_generation = 1;
	return h->create(s, c, argon2, dek);
}

int ecfs_slot_open(const struct ecfs_slot *s, const struct ecfs_credential *c,
		   uint8_t dek[ECFS_DEK_SIZE])
{
	const struct ecfs_slot_handler *h = ecfs_slot_handler_of(s->type);

	if (!h || s->type != c->type)
		return -EKEYREJECTED;
	return h->open(s, c, dek);
}

/* ---- descriptions ---------------------------------------------------------------------- */

void ecfs_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

void ecfs_slot_describe(const struct ecfs_slot_info *s, char *buf, size_t len)
{
	const struct ecfs_slot_handler *h = ecfs_slot_handler_of(s->type);

	if (len)
		buf[0] = '\0';
	if (h && h->describe)
		h->describe(s, buf, len);
}

json_object *ecfs_slot_describe_json(const struct ecfs_slot_info *s, const char **key)
{
	const struct ecfs_slot_handler *h = ecfs_slot_handler_of(s->type);

	*key = NULL;
	return h && h->describe_json ? h->describe_json(s, key) : NULL;
}

/* ---- slots whose DEK is wrapped under a KEK derived from a secret ------------------------- */

int ecfs_kek_slot_parse_kdf(json_object *o, struct ecfs_slot *s, const char *kdf_name,
			    json_object **kdf)
{
	json_object *type;
	int r = ecfs_json_field(o, "header", "kdf", json_type_object, kdf);

	if (r == 0)
		r = ecfs_json_field(*kdf, "header", "type", json_type_string, &type);
	if (r == 0 && strcmp(json_object_get_string(type), kdf_name) != 0)
		return ecfs_fail(-EPROTONOSUPPORT, "key slot KDF '%s' is not supported",
				 json_object_get_string(type));
	return r == 0 ? ecfs_json_b64(*kdf, "header", "salt", s->salt, ECFS_SALT_SIZE) : r;
}

int ecfs_kek_slot_parse_wrap(json_object *o, struct ecfs_slot *s)
{
	json_object *wrap, *alg;
	int r = ecfs_json_field(o, "header", "wrap", json_type_object, &wrap);

	if (r == 0)
		r = ecfs_json_field(wrap, "header", "type", json_type_string, &alg);
	if (r == 0 && strcmp(json_object_get_string(alg), "aes-256-kw") != 0)
		r = ecfs_fail(-EPROTONOSUPPORT, "key wrap '%s' is not supported",
			      json_object_get_string(alg));
	if (r == 0)
		r = ecfs_json_b64(wrap, "header", "dek", s->wrapped_dek, ECFS_WRAPPED_DEK_SIZE);
	return r;
}

json_object *ecfs_kek_slot_write(const struct ecfs_slot *s, json_object *o, const char *kdf_name)
{
	json_object *kdf = json_object_new_object();

	json_object_object_add(kdf, "type", json_object_new_string(kdf_name));
	json_object_object_add(kdf, "salt", ecfs_json_b64_string(s->salt, ECFS_SALT_SIZE));
	json_object_object_add(o, "kdf", kdf);
	ecfs_kek_slot_write_wrap(s, o);
	return kdf;
}

void ecfs_kek_slot_write_wrap(const struct ecfs_slot *s, json_object *o)
{
	json_object *wrap = json_object_new_object();

	json_object_object_add(wrap, "type", json_object_new_string("aes-256-kw"));
	json_object_object_add(wrap, "dek",
			       ecfs_json_b64_string(s->wrapped_dek, ECFS_WRAPPED_DEK_SIZE));
	json_object_object_add(o, "wrap", wrap);
}

int ecfs_kek_slot_validate(const struct ecfs_credential *c)
{
	if (!c->secret)
		return ecfs_fail(-EINVAL, "a %s slot needs a secret", ecfs_slot_type_name(c->type));
	return 0;
}

int ecfs_kek_slot_create(struct ecfs_slot *s, const struct ecfs_credential *c,
			 const uint8_t dek[ECFS_DEK_SIZE], ecfs_kek_fn derive)
{
	struct ecfs_secret *kek = ecfs_secret_new(32);
	int r;

	if (!kek)
		return -ENOMEM;
	r = ecfs_random(s->salt, ECFS_SALT_SIZE);
	if (r == 0)
		r = derive(s, c, ecfs_secret_data(kek));
	if (r == 0)
		r = ecfs_keywrap(ecfs_secret_data(kek), 32, dek, ECFS_DEK_SIZE, s->wrapped_dek);
	ecfs_secret_free(kek);
	return r;
}

int ecfs_kek_slot_open(const struct ecfs_slot *s, const struct ecfs_credential *c,
		       uint8_t dek[ECFS_DEK_SIZE], ecfs_kek_fn derive)
{
	struct ecfs_secret *kek = ecfs_secret_new(32);
	int r;

	if (!kek)
		return -ENOMEM;
	r = derive(s, c, ecfs_secret_data(kek));
	if (r == 0)
		r = ecfs_keyunwrap(ecfs_secret_data(kek), 32, s->wrapped_dek, ECFS_WRAPPED_DEK_SIZE,
				   dek);
	ecfs_secret_free(kek);
	return r == -EBADMSG ? -EKEYREJECTED : r;
}
