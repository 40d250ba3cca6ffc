/* SPDX-License-Identifier: MIT */
/*
 * export.c - export files: volume DEKs sealed with AES-256-GCM under Argon2id of a password,
 * each bound to its volume's UUID and cipher, as a small JSON document (man/envcryptfs.5,
 * "Export files"). Version 1 holds one volume, version 2 several under one password. The
 * way back in when every key slot is lost.
 */
#include "slot.h" /* the Argon2id costs in JSON, as passphrase slots store them */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT_SINGLE 1
#define EXPORT_MULTI  2
#define DOC	      "export file"

/* "envcryptfs export V" || UUID || cipher name: an entry opens only as what it was sealed
 * as, in the version it was written in. */
static void export_ad(uint32_t version, const struct ecfs_export_entry *e, uint8_t *ad, size_t *len)
{
	const char *cipher = ecfs_cipher_name(e->cipher);
	int n = snprintf((char *)ad, 32, "envcryptfs export %u", version);
	size_t c = strlen(cipher);

	memcpy(ad + n, e->uuid, ECFS_UUID_SIZE);
	memcpy(ad + n + ECFS_UUID_SIZE, cipher, c);
	*len = (size_t)n + ECFS_UUID_SIZE + c;
}

/* AES-256-GCM over the 32-byte DEK; enc selects the direction. */
static int export_crypt(uint32_t version, const struct ecfs_export_entry *e, const uint8_t key[32],
			bool enc, const uint8_t *in, uint8_t *out, uint8_t *tag)
{
	uint8_t ad[96];
	size_t adlen;

	export_ad(version, e, ad, &adlen);
	if (enc)
		return ecfs_gcm_seal(key, e->nonce, ad, adlen, in, ECFS_DEK_SIZE, out, tag);
	return ecfs_gcm_open(key, e->nonce, ad, adlen, in, ECFS_DEK_SIZE, out, tag);
}

/* ---- writing ------------------------------------------------------------------------------ */

static void entry_fields(const struct ecfs_export_entry *v, json_object *o)
{
	json_object_object_add(o, "uuid", ecfs_json_b64_string(v->uuid, ECFS_UUID_SIZE));
	json_object_object_add(o, "cipher", json_object_new_string(ecfs_cipher_name(v->cipher)));
}

static void sealed_fields(const struct ecfs_export_entry *v, json_object *o)
{
	json_object_object_add(o, "nonce", ecfs_json_b64_string(v->nonce, ECFS_CANARY_NONCE));
	json_object_object_add(o, "dek",
			       ecfs_json_b64_string(v->sealed_dek, sizeof(v->sealed_dek)));
}

static json_object *kdf_object(const struct ecfs_export *e)
{
	json_object *kdf = json_object_new_object();

	json_object_object_add(kdf, "type", json_object_new_string("argon2id"));
	json_object_object_add(kdf, "salt", ecfs_json_b64_string(e->salt, ECFS_SALT_SIZE));
	ecfs_argon2_to_json(&e->argon2, kdf);
	return kdf;
}

static char *export_text(const struct ecfs_export *e)
{
	json_object *o = json_object_new_object(), *list;
	char *text;

	json_object_object_add(o, "envcryptfs_export", json_object_new_int((int)e->version));
	if (e->version == EXPORT_SINGLE)
		entry_fields(&e->v[0], o);
	json_object_object_add(o, "created", json_object_new_int64(e->created));
	json_object_object_add(o, "kdf", kdf_object(e));
	if (e->version == EXPORT_SINGLE) {
		sealed_fields(&e->v[0], o);
	} else {
		list = json_object_new_array();
		for (size_t i = 0; i < e->n; i++) {
			json_object *one = json_object_new_object();

			entry_fields(&e->v[i], one);
			sealed_fields(&e->v[i], one);
			json_object_array_add(list, one);
		}
		json_object_object_add(o, "volumes", list);
	}
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* Seals each volume's DEK under key (from the password). */
static int seal_all(struct ecfs_export *e, const struct ecfs_volume *const *v, const uint8_t *key)
{
	int r = 0;

	for (size_t i = 0; i < e->n && r == 0; i++) {
		struct ecfs_export_entry *x = &e->v[i];

		memcpy(x->uuid, v[i]->hdr.uuid, ECFS_UUID_SIZE);
		x->cipher = v[i]->hdr.cipher;
		r = ecfs_random(x->nonce, sizeof(x->nonce));
		if (r == 0)
			r = export_crypt(e->version, x, key, true, v[i]->keys->dek, x->sealed_dek,
					 x->sealed_dek + ECFS_DEK_SIZE);
	}
	return r;
}

static int check_volumes(const struct ecfs_volume *const *v, size_t n)
{
	if (n == 0 || n > ECFS_EXPORT_MAX_VOLUMES)
		return ecfs_fail(-EINVAL, "an export holds 1 to %d volumes, not %zu",
				 ECFS_EXPORT_MAX_VOLUMES, n);
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->keys)
			return ecfs_fail(-ENOKEY, "the volume must be unlocked to export its key");
		for (size_t j = 0; j < i; j++)
			if (memcmp(v[i]->hdr.uuid, v[j]->hdr.uuid, ECFS_UUID_SIZE) == 0)
				return ecfs_fail(-EINVAL, "the same volume is given twice");
	}
	return 0;
}

static int export_volumes(const struct ecfs_volume *const *v, size_t n, uint32_t version,
			  const struct ecfs_secret *password,
			  const struct ecfs_argon2_params *argon2, char **out, size_t *out_len)
{
	struct ecfs_export *e;
	struct ecfs_secret *key;
	int r;

	ecfs_clear_error();
	r = check_volumes(v, n);
	if (r < 0)
		return r;
	e = calloc(1, sizeof(*e));
	key = ecfs_secret_new(32);
	if (!e || !key) {
		free(e);
		ecfs_secret_free(key);
		return -ENOMEM;
	}
	e->version = version;
	e->n = n;
	e->created = (int64_t)time(NULL);
	r = ecfs_argon2_or_calibrate(argon2, &e->argon2);
	if (r == 0)
		r = ecfs_random(e->salt, sizeof(e->salt));
	if (r == 0)
		r = ecfs_argon2id(ecfs_secret_data(password), ecfs_secret_len(password), e->salt,
				  sizeof(e->salt), &e->argon2, ecfs_secret_data(key), 32);
	if (r == 0)
		r = seal_all(e, v, ecfs_secret_data(key));
	ecfs_secret_free(key);
	if (r == 0 && !(*out = export_text(e)))
		r = -ENOMEM;
	if (r == 0)
		*out_len = strlen(*out);
	free(e);
	return r;
}

int ecfs_volume_export(const struct ecfs_volume *v, const struct ecfs_secret *password,
		       const struct ecfs_argon2_params *argon2, char **out, size_t *out_len)
{
	return export_volumes(&v, 1, EXPORT_SINGLE, password, argon2, out, out_len);
}

int ecfs_volumes_export(const struct ecfs_volume *const *v, size_t n,
			const struct ecfs_secret *password, const struct ecfs_argon2_params *argon2,
			char **out, size_t *out_len)
{
	return export_volumes(v, n, EXPORT_MULTI, password, argon2, out, out_len);
}

/* ---- parsing: every field required, every length checked -------------------------------- */

/* uuid and cipher of one volume, from o. */
static int parse_identity(json_object *o, struct ecfs_export_entry *x)
{
	json_object *f;
	int r = ecfs_json_b64(o, DOC, "uuid", x->uuid, ECFS_UUID_SIZE);

	if (r == 0)
		r = ecfs_json_field(o, DOC, "cipher", json_type_string, &f);
	if (r == 0) {
		x->cipher = ecfs_cipher_from_name(json_object_get_string(f));
		if (x->cipher == ECFS_CIPHER_NONE)
			return ecfs_fail(-EPROTONOSUPPORT, "export file cipher is not supported");
	}
	return r;
}

static int parse_sealed(json_object *o, struct ecfs_export_entry *x)
{
	int r = ecfs_json_b64(o, DOC, "nonce", x->nonce, ECFS_CANARY_NONCE);

	return r == 0 ? ecfs_json_b64(o, DOC, "dek", x->sealed_dek, sizeof(x->sealed_dek)) : r;
}

static int parse_kdf(json_object *o, struct ecfs_export *e)
{
	json_object *f, *kdf;
	int r = ecfs_json_field(o, DOC, "kdf", json_type_object, &kdf);

	if (r == 0)
		r = ecfs_json_field(kdf, DOC, "type", json_type_string, &f);
	if (r == 0 && strcmp(json_object_get_string(f), "argon2id") != 0)
		return ecfs_fail(-EPROTONOSUPPORT, "export file KDF is not supported");
	if (r == 0)
		r = ecfs_json_b64(kdf, DOC, "salt", e->salt, ECFS_SALT_SIZE);
	if (r == 0)
		r = ecfs_argon2_from_json(kdf, DOC, &e->argon2);
	return r;
}

/* Version 2's "volumes": 1 to ECFS_EXPORT_MAX_VOLUMES objects of distinct UUIDs. */
static int parse_list(json_object *o, struct ecfs_export *e)
{
	json_object *list;
	size_t n;
	int r = ecfs_json_field(o, DOC, "volumes", json_type_array, &list);

	if (r < 0)
		return r;
	n = json_object_array_length(list);
	if (n == 0 || n > ECFS_EXPORT_MAX_VOLUMES)
		return ecfs_fail(-EUCLEAN, "export file holds %zu volumes (1 to %d)", n,
				 ECFS_EXPORT_MAX_VOLUMES);
	for (size_t i = 0; i < n && r == 0; i++) {
		json_object *one = json_object_array_get_idx(list, i);

		if (!json_object_is_type(one, json_type_object))
			return ecfs_fail(-EUCLEAN, "export file volume %zu is not an object", i);
		r = parse_identity(one, &e->v[i]);
		if (r == 0)
			r = parse_sealed(one, &e->v[i]);
		for (size_t j = 0; j < i && r == 0; j++)
			if (memcmp(e->v[i].uuid, e->v[j].uuid, ECFS_UUID_SIZE) == 0)
				r = ecfs_fail(-EUCLEAN, "export file holds a volume twice");
	}
	e->n = n;
	return r;
}

static int parse_fields(json_object *o, struct ecfs_export *e)
{
	int r = ecfs_json_u32(o, DOC, "envcryptfs_export", 0, UINT32_MAX, &e->version);

	if (r == 0 && e->version != EXPORT_SINGLE && e->version != EXPORT_MULTI)
		return ecfs_fail(-EPROTONOSUPPORT, "export file version %u is not supported",
				 e->version);
	if (r == 0)
		r = parse_kdf(o, e);
	if (r < 0 || e->version == EXPORT_MULTI)
		return r < 0 ? r : parse_list(o, e);
	e->n = 1;
	r = parse_identity(o, &e->v[0]);
	return r == 0 ? parse_sealed(o, &e->v[0]) : r;
}

int ecfs_export_parse(const uint8_t *buf, size_t len, struct ecfs_export *e)
{
	json_tokener *tok;
	json_object *o;
	int r;

	memset(e, 0, sizeof(*e));
	if (len == 0 || len > ECFS_EXPORT_FILE_MAX || memchr(buf, '\0', len))
		return ecfs_fail(-EUCLEAN, "not an envcryptfs export file");
	tok = json_tokener_new_ex(8);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object))
		r = ecfs_fail(-EUCLEAN, "not an envcryptfs export file (it does not parse)");
	else
		r = parse_fields(o, e);
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

/* ---- opening -------------------------------------------------------------------------------- */

static void uuid_text(const uint8_t *u, char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static const struct ecfs_export_entry *find_entry(const struct ecfs_export *e,
						  const uint8_t uuid[ECFS_UUID_SIZE])
{
	for (size_t i = 0; i < e->n; i++)
		if (memcmp(e->v[i].uuid, uuid, ECFS_UUID_SIZE) == 0)
			return &e->v[i];
	return NULL;
}

static int not_in_export(const struct ecfs_credential *c, const struct ecfs_export *e,
			 const uint8_t uuid[ECFS_UUID_SIZE])
{
	char want[37], has[37];

	uuid_text(uuid, want);
	if (e->version == EXPORT_SINGLE) {
		uuid_text(e->v[0].uuid, has);
		return ecfs_fail(-EKEYREJECTED,
				 "export file '%s' belongs to another volume (%s, not %s)",
				 c->origin, has, want);
	}
	return ecfs_fail(-EKEYREJECTED,
			 "export file '%s' holds no key of volume %s (it holds %zu "
			 "other volumes)",
			 c->origin, want, e->n);
}

/* Derives the password key and opens x with it. */
static int open_entry(const struct ecfs_credential *c, const struct ecfs_export *e,
		      const struct ecfs_export_entry *x, uint8_t dek[ECFS_DEK_SIZE])
{
	struct ecfs_secret *key = ecfs_secret_new(32);
	int r;

	if (!key)
		return -ENOMEM;
	r = ecfs_argon2id(ecfs_secret_data(c->password), ecfs_secret_len(c->password), e->salt,
			  sizeof(e->salt), &e->argon2, ecfs_secret_data(key), 32);
	if (r == 0)
		r = export_crypt(e->version, x, ecfs_secret_data(key), false, x->sealed_dek, dek,
				 (uint8_t *)x->sealed_dek + ECFS_DEK_SIZE);
	ecfs_secret_free(key);
	if (r == -EBADMSG)
		return ecfs_fail(-EKEYREJECTED,
				 "wrong password for export file '%s', or the file was modified",
				 c->origin);
	return r;
}

int ecfs_export_open(const struct ecfs_credential *c, const uint8_t uuid[ECFS_UUID_SIZE],
		     uint8_t dek[ECFS_DEK_SIZE])
{
	struct ecfs_export *e = malloc(sizeof(*e));
	const struct ecfs_export_entry *x = NULL;
	int r;

	if (!e)
		return -ENOMEM;
	r = ecfs_export_parse(ecfs_secret_data(c->secret), ecfs_secret_len(c->secret), e);
	/* A file given as the key is bad, not the volume: a code of its own (the message says
	 * what is wrong with the file). */
	if (r == -EUCLEAN || r == -EPROTONOSUPPORT)
		r = ecfs_fail(-ENOEXEC, "'%s': %s", c->origin, ecfs_last_error());
	else if (r == 0 && !(x = find_entry(e, uuid)))
		r = not_in_export(c, e, uuid);
	else if (r == 0 && !c->password)
		r = ecfs_fail(-EINVAL, "export file '%s' needs its password", c->origin);
	else if (r == 0 && ecfs_argon2_check_cap(&e->argon2) < 0)
		r = ecfs_fail(-E2BIG, "export file '%s' was not tried: %s", c->origin,
			      ecfs_last_error());
	else if (r == 0)
		r = open_entry(c, e, x, dek);
	free(e);
	return r;
}
