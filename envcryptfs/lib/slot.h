/* SPDX-License-Identifier: MIT */
/*
 * slot.h - the key-slot handlers: what each slot type stores and how it wraps the DEK, one
 * file per type (slot_keyfile.c, slot_passphrase.c, slot_kms.c, slot_tpm2.c) and one table
 * in slot.c.
 * A new type is a new file and a line in that table; nothing else asks a slot for its type.
 */
#ifndef ECFS_SLOT_H
#define ECFS_SLOT_H

#include "internal.h"
#include "json_util.h"

struct ecfs_slot_handler {
	enum ecfs_slot_type type;
	const char *name; /* in the header's JSON, in info and in messages */
	/* A new slot takes Argon2id parameters (calibrated when the caller gives none). */
	bool uses_argon2;
	/* Rotation counts the KEK generation up; otherwise create sets it (a KMS key version). */
	bool counts_generations;
	/* Reads the type's own fields of slot object o ("type", "kek_generation" and "created"
	 * are read already); -EUCLEAN or -EPROTONOSUPPORT with a message. */
	int (*parse)(json_object *o, struct ecfs_slot *s);
	/* Adds the type's own fields to slot object o. */
	void (*write)(const struct ecfs_slot *s, json_object *o);
	/* Whether c can make a slot of this type, checked before anything changes. */
	int (*validate)(const struct ecfs_credential *c);
	/* Fills s (its type, creation time and generation are set) for c, wrapping dek. */
	int (*create)(struct ecfs_slot *s, const struct ecfs_credential *c,
		      const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE]);
	/* Unwraps the DEK: -EKEYREJECTED when c does not fit. */
	int (*open)(const struct ecfs_slot *s, const struct ecfs_credential *c,
		    uint8_t dek[ECFS_DEK_SIZE]);
	/* The type's details: text after the common ones, and a JSON member (NULL for none). */
	void (*describe)(const struct ecfs_slot_info *s, char *buf, size_t len);
	json_object *(*describe_json)(const struct ecfs_slot_info *s, const char **key);
};

extern const struct ecfs_slot_handler ecfs_slot_keyfile;
extern const struct ecfs_slot_handler ecfs_slot_passphrase;
extern const struct ecfs_slot_handler ecfs_slot_kms;
extern const struct ecfs_slot_handler ecfs_slot_pkcs11;
extern const struct ecfs_slot_handler ecfs_slot_tpm2;

/* The handler of type t, NULL for none (a free slot, an export file, an unknown type). */
const struct ecfs_slot_handler *ecfs_slot_handler_of(enum ecfs_slot_type t);

/* ---- slots whose DEK is wrapped (AES key wrap) under a KEK derived from a secret ---------- */

typedef int (*ecfs_kek_fn)(const struct ecfs_slot *s, const struct ecfs_credential *c,
			   uint8_t kek[32]);

/* Reads "kdf" (its "type" must be kdf_name) and its "salt"; *kdf is the object, for more. */
int ecfs_kek_slot_parse_kdf(json_object *o, struct ecfs_slot *s, const char *kdf_name,
			    json_object **kdf);
/* Reads "wrap": the algorithm and the wrapped DEK. */
int ecfs_kek_slot_parse_wrap(json_object *o, struct ecfs_slot *s);
/* Writes "kdf" {type, salt} and "wrap"; returns the kdf object for the type's parameters. */
json_object *ecfs_kek_slot_write(const struct ecfs_slot *s, json_object *o, const char *kdf_name);
/* Writes "wrap" alone (a slot whose KEK comes from elsewhere than a KDF). */
void ecfs_kek_slot_write_wrap(const struct ecfs_slot *s, json_object *o);
/* A fresh salt, the KEK from derive, and the DEK wrapped under it. */
int ecfs_kek_slot_create(struct ecfs_slot *s, const struct ecfs_credential *c,
			 const uint8_t dek[ECFS_DEK_SIZE], ecfs_kek_fn derive);
int ecfs_kek_slot_open(const struct ecfs_slot *s, const struct ecfs_credential *c,
		       uint8_t dek[ECFS_DEK_SIZE], ecfs_kek_fn derive);
/* A credential that carries a secret (key file bytes or a passphrase). */
int ecfs_kek_slot_validate(const struct ecfs_credential *c);

/* ---- pkcs11.c: the DEK wrapped and unwrapped inside a PKCS#11 token ----------------------- */

/* Wraps dek with AES key key on token (made when missing and create is set) into out.
 * 0, or with a message: -ELIBACC (the module does not load), -ELIBBAD (not a PKCS#11 module),
 * -ENODEV (no such token), -EKEYREJECTED (wrong PIN), -ENOKEY (no such key), -EIO. */
int ecfs_pkcs11_wrap(const struct ecfs_pkcs11_cred *c, const char *token, const char *key,
		     bool create, const uint8_t dek[ECFS_DEK_SIZE],
		     uint8_t out[ECFS_WRAPPED_DEK_SIZE]);
/* Unwraps into dek; errors as above, -EKEYREJECTED also when the key does not fit. */
int ecfs_pkcs11_unwrap(const struct ecfs_pkcs11_cred *c, const char *token, const char *key,
		       const uint8_t wrapped[ECFS_WRAPPED_DEK_SIZE], uint8_t dek[ECFS_DEK_SIZE]);

/* ---- argon2.c: Argon2id costs in JSON ("time", "memory", "parallel"), within the limits ---- */

int ecfs_argon2_from_json(json_object *kdf, const char *doc, struct ecfs_argon2_params *p);
void ecfs_argon2_to_json(const struct ecfs_argon2_params *p, json_object *kdf);

/* ---- used by header.c, keymgmt.c and volume.c ------------------------------------------- */

/* A whole slot object, by its "type"; and back. */
int ecfs_slot_parse(json_object *o, struct ecfs_slot *s);
json_object *ecfs_slot_write(const struct ecfs_slot *s);

#endif /* ECFS_SLOT_H */
