/* SPDX-License-Identifier: MIT */
/*
 * export.c - export files: the DEK sealed with AES-256-GCM under Argon2id of a password,
 * with the volume's UUID and cipher, as a small JSON document (man/envcryptfs.5, "Export
 * files"). The way back in when every key slot is lost.
 */
#include "slot.h" /* the Argon2id costs in JSON, as passphrase slots store them */

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT_VERSION 1
#define EXPORT_AD      "envcryptfs export 1"
#define EXPORT_MAX     (64 * 1024)
#define DOC	       "export file"

static void export_ad(const struct ecfs_export *e, uint8_t *ad, size_t *len)
{
	size_t n = strlen(EXPORT_AD), c = strlen(ecfs_cipher_name(e->cipher));

	memcpy(ad, EXPORT_AD, n);
	memcpy(ad + n, e->uuid, ECFS_UUID_SIZE);
	memcpy(ad + n + ECFS_UUID_SIZE, ecfs_cipher_name(e->cipher), c);
	*len = n + ECFS_UUID_SIZE + c;
}

/* AES-256-GCM over the 32-byte DEK; enc selects the direction. */
static int export_crypt(const struct ecfs_export *e, const uint8_t key[32], bool enc,
			const uint8_t *in, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t ad[64];
	size_t adlen;
	int n, ok;

	if (!ctx)
		return -ENOMEM;
	export_ad(e, ad, &adlen);
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, e->nonce, enc) == 1 &&
	     EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) == 1 &&
	     EVP_CipherUpdate(ctx, out, &n, in, ECFS_DEK_SIZE) == 1 &&
	     (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, ECFS_GCM_TAG, tag) == 1) &&
	     EVP_CipherFinal_ex(ctx, out + n, &n) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, ECFS_GCM_TAG, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -EBADMSG;
}

static char *export_text(const struct ecfs_export *e)
{
	json_object *o = json_object_new_object(), *kdf = json_object_new_object();
	char *text;

	json_object_object_add(o, "envcryptfs_export", json_object_new_int(EXPORT_VERSION));
	json_object_object_add(o, "uuid", ecfs_json_b64_string(e->uuid, ECFS_UUID_SIZE));
	json_object_object_add(o, "cipher", json_object_new_string(ecfs_cipher_name(e->cipher)));
	json_object_object_add(o, "created", json_object_new_int64(e->created));
	json_object_object_add(kdf, "type", json_object_new_string("argon2id"));
	json_object_object_add(kdf, "salt", ecfs_json_b64_string(e->salt, ECFS_SALT_SIZE));
	ecfs_argon2_to_json(&e->argon2, kdf);
	json_object_object_add(o, "kdf", kdf);
	json_object_object_add(o, "nonce", ecfs_json_b64_string(e->nonce, ECFS_CANARY_NONCE));
	json_object_object_add(o, "dek",
			       ecfs_json_b64_string(e->sealed_dek, sizeof(e->sealed_dek)));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

int ecfs_volume_export(const struct ecfs_volume *v, const struct ecfs_secret *password,
		       const struct ecfs_argon2_params *argon2, char **out, size_t *out_len)
{
	struct ecfs_export e = {0};
	struct ecfs_secret *key = ecfs_secret_new(32);
	int r = 0;

	ecfs_clear_error();
	if (!key)
		return -ENOMEM;
	if (!v->keys) {
		ecfs_secret_free(key);
		return ecfs_fail(-ENOKEY, "the volume must be unlocked to export its key");
	}
	memcpy(e.uuid, v->hdr.uuid, ECFS_UUID_SIZE);
	e.cipher = v->hdr.cipher;
	e.created = (int64_t)time(NULL);
	r = ecfs_argon2_or_calibrate(argon2, &e.argon2);
	if (r == 0)
		r = ecfs_random(e.salt, sizeof(e.salt));
	if (r == 0)
		r = ecfs_random(e.nonce, sizeof(e.nonce));
	if (r == 0)
		r = ecfs_argon2id(ecfs_secret_data(password), ecfs_secret_len(password), e.salt,
				  sizeof(e.salt), &e.argon2, ecfs_secret_data(key), 32);
	if (r == 0)
		r = export_crypt(&e, ecfs_secret_data(key), true, v->keys->dek, e.sealed_dek,
				 e.sealed_dek + ECFS_DEK_SIZE);
	ecfs_secret_free(key);
	if (r < 0)
		return r;
	*out = export_text(&e);
	if (!*out)
		return -ENOMEM;
	*out_len = strlen(*out);
	return 0;
}

/* ---- parsing: every field required, every length checked -------------------------------- */

static int parse_fields(json_object *o, struct ecfs_export *e)
{
	json_object *f, *kdf;
	uint32_t version = 0;
	int r = ecfs_json_u32(o, DOC, "envcryptfs_export", 0, UINT32_MAX, &version);

	if (r == 0 && version != EXPORT_VERSION)
		return ecfs_fail(-EPROTONOSUPPORT, "export file version %u is not supported",
				 version);
	if (r == 0)
		r = ecfs_json_b64(o, DOC, "uuid", e->uuid, ECFS_UUID_SIZE);
	if (r == 0)
		r = ecfs_json_field(o, DOC, "cipher", json_type_string, &f);
	if (r == 0) {
		e->cipher = ecfs_cipher_from_name(json_object_get_string(f));
		if (e->cipher == ECFS_CIPHER_NONE)
			return ecfs_fail(-EPROTONOSUPPORT, "export file cipher is not supported");
		r = ecfs_json_field(o, DOC, "kdf", json_type_object, &kdf);
	}
	if (r == 0)
		r = ecfs_json_field(kdf, DOC, "type", json_type_string, &f);
	if (r == 0 && strcmp(json_object_get_string(f), "argon2id") != 0)
		return ecfs_fail(-EPROTONOSUPPORT, "export file KDF is not supported");
	if (r == 0)
		r = ecfs_json_b64(kdf, DOC, "salt", e->salt, ECFS_SALT_SIZE);
	if (r == 0)
		r = ecfs_argon2_from_json(kdf, DOC, &e->argon2);
	if (r == 0)
		r = ecfs_json_b64(o, DOC, "nonce", e->nonce, ECFS_CANARY_NONCE);
	if (r == 0)
		r = ecfs_json_b64(o, DOC, "dek", e->sealed_dek, sizeof(e->sealed_dek));
	return r;
}

int ecfs_export_parse(const uint8_t *buf, size_t len, struct ecfs_export *e)
{
	json_tokener *tok;
	json_object *o;
	int r;

	memset(e, 0, sizeof(*e));
	if (len == 0 || len > EXPORT_MAX || memchr(buf, '\0', len))
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

int ecfs_export_open(const struct ecfs_credential *c, const uint8_t uuid[ECFS_UUID_SIZE],
		     uint8_t dek[ECFS_DEK_SIZE])
{
	struct ecfs_export e;
	struct ecfs_secret *key;
	int r = ecfs_export_parse(ecfs_secret_data(c->secret), ecfs_secret_len(c->secret), &e);

	/* A file given as the key is bad, not the volume: a code of its own (the message says
	 * what is wrong with the file). */
	if (r == -EUCLEAN || r == -EPROTONOSUPPORT)
		return ecfs_fail(-ENOEXEC, "'%s': %s", c->origin, ecfs_last_error());
	if (r < 0)
		return r;
	if (memcmp(e.uuid, uuid, ECFS_UUID_SIZE) != 0)
		return ecfs_fail(-EKEYREJECTED, "export file '%s' belongs to another volume",
				 c->origin);
	if (!c->password)
		return ecfs_fail(-EINVAL, "export file '%s' needs its password", c->origin);
	if (ecfs_argon2_check_cap(&e.argon2) < 0)
		return ecfs_fail(-E2BIG, "export file '%s' was not tried: %s", c->origin,
				 ecfs_last_error());
	key = ecfs_secret_new(32);
	if (!key)
		return -ENOMEM;
	r = ecfs_argon2id(ecfs_secret_data(c->password), ecfs_secret_len(c->password), e.salt,
			  sizeof(e.salt), &e.argon2, ecfs_secret_data(key), 32);
	if (r == 0)
		r = export_crypt(&e, ecfs_secret_data(key), false, e.sealed_dek, dek,
				 e.sealed_dek + ECFS_DEK_SIZE);
	ecfs_secret_free(key);
	if (r == -EBADMSG)
		return ecfs_fail(-EKEYREJECTED,
				 "wrong password for export file '%s', or the file was modified",
				 c->origin);
	return r;
}
