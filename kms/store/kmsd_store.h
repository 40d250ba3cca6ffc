/* SPDX-License-Identifier: MIT */
/*
 * kmsd_store.h - the key-holding core of envcryptfs-kmsd, kept free of HTTP so that unit
 * tests link it from libecfskmsd.a (which only kmsd links): Shamir sharing (shamir.c), unseal share
 * texts and files (share.c), AES-GCM, UUIDs and key names (crypto.c), the encrypted key store
 * (keystore.c) and the seal (seal.c).
 */
#ifndef KMSD_STORE_H
#define KMSD_STORE_H

#include "envcryptfs.h"
#include "ecfs_util.h"
#include "kv_json.h"
#include "transit_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KMSD_STORE_NAME	 "kmsd.store"
#define KMSD_VERIFY_NAME "kmsd.verify" /* the share verifiers (verifiers.c) */
#define KMSD_SECRET_SIZE 32	       /* master key, store key and every transit key version */
#define KMSD_MAX_SHARES	 32
#define KMSD_NAME_MAX	 128

/* ---- shamir.c: Shamir's secret sharing over GF(2^8), byte by byte ----------------------- */

/* Splits secret (len bytes) into n shares for x = 1..n, any t of which recover it: share i
 * (x = i + 1) is ys[i * len .. (i + 1) * len). 1 <= t <= n <= 255. */
int kmsd_shamir_split(const uint8_t *secret, size_t len, unsigned n, unsigned t, uint8_t *ys);
/* Interpolates at x = 0 from k shares with distinct non-zero xs[i] and ys[i] (len bytes). */
int kmsd_shamir_combine(const uint8_t *xs, const uint8_t *const *ys, unsigned k, size_t len,
			uint8_t *out);

/* ---- share.c: a share as text, bound to its store ---------------------------------------- */

/* index (1 byte) || y (32 bytes) || check (4 bytes), as 74 hex digits. */
#define KMSD_SHARE_BYTES 37
#define KMSD_SHARE_HEX	 (2 * KMSD_SHARE_BYTES)

struct kmsd_share {
	uint8_t index; /* x, 1..255 */
	uint8_t y[KMSD_SECRET_SIZE];
};

/* out receives KMSD_SHARE_HEX hex digits and a NUL. */
void kmsd_share_encode(const uint8_t uuid[ECFS_UUID_SIZE], const struct kmsd_share *s, char *out);
/* Hex (74 digits) or standard base64 (52 characters) text: -EINVAL when neither, -EBADMSG
 * when the check fails (a typo, or a share of another store). */
int kmsd_share_decode(const uint8_t uuid[ECFS_UUID_SIZE], const char *text, size_t len,
		      struct kmsd_share *s);
/* A share file: comment lines, then the hex line. Created O_EXCL, mode 0600. */
int kmsd_share_write_file(const char *path, const uint8_t uuid[ECFS_UUID_SIZE],
			  const struct kmsd_share *s, unsigned n, unsigned t);
/* The share text of a file (comments and blank lines skipped) into locked memory. */
int kmsd_share_read_file(const char *path, struct ecfs_secret **text);

/* ---- crypto.c ----------------------------------------------------------------------------- */

#define KMSD_NONCE_SIZE 12
#define KMSD_TAG_SIZE	16

/* AES-256-GCM: out receives len + KMSD_TAG_SIZE bytes (ciphertext || tag). */
int kmsd_gcm_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t len, uint8_t *out);
/* in is ciphertext || tag (len >= KMSD_TAG_SIZE); -EBADMSG when it does not verify (out is
 * then wiped). */
int kmsd_gcm_open(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t len, uint8_t *out);
/* The 8-4-4-4-12 form of 16 bytes; a random version-4 UUID for request_id. */
void kmsd_uuid_str(const uint8_t uuid[ECFS_UUID_SIZE], char out[37]);
int kmsd_request_id(char out[37]);
/* Vault's key name pattern \w(([\w-.@]+)?\w)?, at most KMSD_NAME_MAX bytes. */
bool kmsd_valid_key_name(const char *s, size_t len);

/* ---- keystore.c --------------------------------------------------------------------------- */

struct kmsd_version {
	int64_t created;
	uint8_t key[KMSD_SECRET_SIZE];
};

struct kmsd_key {
	char name[KMSD_NAME_MAX + 1];
	bool deletion_allowed;
	uint32_t min_decryption;      /* >= 1 */
	uint32_t nversions;	      /* the latest version */
	struct ecfs_secret *versions; /* nversions struct kmsd_version, version i at [i - 1] */
};

/* A secret of the KV version 2 engine: its newest versions, oldest first. */
#define KMSD_KV_MAX_VERSIONS 10 /* versions kept per secret (Vault's default max_versions) */
#define KMSD_KV_MAX_SECRETS  4096

struct kmsd_kv_version {
	int64_t created;
	struct ecfs_secret *data; /* the version's "data" object as JSON text */
};

struct kmsd_kv_secret {
	char path[KMS_KV_PATH_MAX + 1];
	uint32_t current; /* the newest version, >= 1 */
	uint32_t nkept;	  /* versions current - nkept + 1 .. current are kept, 1 .. MAX */
	struct kmsd_kv_version kept[KMSD_KV_MAX_VERSIONS];
};

struct kmsd_store {
	int dirfd;
	char *dir;
	uint8_t uuid[ECFS_UUID_SIZE];
	unsigned n, t;
	uint64_t generation; /* bumped on every write */
	uint32_t format;     /* of the file: 1, or 2 with the KV engine's section */
	uint8_t *file;	     /* the store file as read, opened at unseal */
	size_t file_len;
	uint8_t *verifiers; /* n x KMSD_VERIFIER_SIZE; NULL for a store made without them */
	struct ecfs_secret *store_key; /* NULL while sealed */
	struct kmsd_key *keys;
	size_t nkeys;
	struct kmsd_kv_secret *secrets; /* the KV engine's (kvstore.c) */
	size_t nsecrets;
};

/* Writes a new empty store sealed under master into dir (refused when one exists). */
int kmsd_store_create(const char *dir, unsigned n, unsigned t, const uint8_t *master,
		      const uint8_t uuid[ECFS_UUID_SIZE]);
/* Reads and checks the store's plaintext header; the store stays sealed. */
int kmsd_store_open(const char *dir, struct kmsd_store **out);
/* Opens the store with a master key: -EKEYREJECTED when it does not authenticate,
 * -EUCLEAN when the authenticated contents are malformed. */
int kmsd_store_unseal(struct kmsd_store *s, const uint8_t *master);
/* Forgets every key and the store key. */
void kmsd_store_seal(struct kmsd_store *s);
void kmsd_store_free(struct kmsd_store *s);
/* Serializes, encrypts and replaces the store file atomically. */
int kmsd_store_save(struct kmsd_store *s);
struct kmsd_key *kmsd_store_find(struct kmsd_store *s, const char *name);
/* Each change is saved before it returns; on failure memory is left as it was. */
int kmsd_store_create_key(struct kmsd_store *s, const char *name, struct kmsd_key **out);
int kmsd_store_rotate(struct kmsd_store *s, struct kmsd_key *k);
int kmsd_store_configure(struct kmsd_store *s, struct kmsd_key *k, uint32_t min_decryption,
			 bool deletion_allowed);
int kmsd_store_delete(struct kmsd_store *s, struct kmsd_key *k);
const struct kmsd_version *kmsd_key_version(const struct kmsd_key *k, uint32_t v);
/* Payload (de)serialization, exposed for tests. */
int kmsd_store_encode(const struct kmsd_store *s, struct ecfs_secret **out);
int kmsd_store_decode(struct kmsd_store *s, const uint8_t *p, size_t len);

/* ---- kvstore.c: the KV engine's secrets, saved in the store file after the keys --------- */

const struct kmsd_kv_secret *kmsd_kv_find(const struct kmsd_store *s, const char *path);
/* Version v of k, NULL when it was never written or is no longer kept. */
const struct kmsd_kv_version *kmsd_kv_version(const struct kmsd_kv_secret *k, uint32_t v);
/* Writes a new version of the secret at path (made when missing) holding data (a validated
 * JSON object text) and saves the store; the oldest version past KMSD_KV_MAX_VERSIONS is
 * dropped. With has_cas, only when cas is the current version (0: the secret must not
 * exist), else -EEXIST. On failure memory is left as it was. */
int kmsd_kv_put(struct kmsd_store *s, const char *path, const char *data, size_t len, bool has_cas,
		uint64_t cas, uint32_t *version);
/* The serialized section: u32 count, then per secret u16 path length | path | u32 current |
 * u8 kept | kept x (i64 created | u32 length | data). */
size_t kmsd_kv_encoded_size(const struct kmsd_store *s);
uint8_t *kmsd_kv_encode(const struct kmsd_store *s, uint8_t *p);
/* Decodes exactly len bytes into a new array: -EUCLEAN when anything does not fit. */
int kmsd_kv_decode(const uint8_t *p, size_t len, struct kmsd_kv_secret **out, size_t *n);
void kmsd_kv_free(struct kmsd_kv_secret *secrets, size_t n);

/* ---- verifiers.c: a verifier per share, so that a forged share is refused at once -------- */

#define KMSD_VERIFIER_SIZE 32

/* SHA-256 of share s bound to the store uuid and its index. */
void kmsd_share_verifier(const uint8_t uuid[ECFS_UUID_SIZE], const struct kmsd_share *s,
			 uint8_t out[KMSD_VERIFIER_SIZE]);
/* Writes dir/kmsd.verify for the n shares ys (as kmsd_shamir_split made them); refused when
 * it exists. */
int kmsd_verifiers_write(const char *dir, const uint8_t uuid[ECFS_UUID_SIZE], const uint8_t *ys,
			 unsigned n);
/* Checks the verifiers file's bytes against s (its UUID and n) and keeps them in
 * s->verifiers; -EUCLEAN when they do not fit. */
int kmsd_verifiers_parse(struct kmsd_store *s, const uint8_t *buf, size_t len);
/* Loads s->verifiers from the store's directory; a store without the file keeps NULL. */
int kmsd_verifiers_load(struct kmsd_store *s);
/* 0 when sh (index 1..n) is the share the store was made with, or the store has no
 * verifiers; -EKEYREJECTED when it is not. */
int kmsd_verifiers_check(const struct kmsd_store *s, const struct kmsd_share *sh);

/* ---- seal.c ------------------------------------------------------------------------------- */

struct kmsd_seal {
	struct kmsd_store *store;
	struct ecfs_secret *parts; /* up to t struct kmsd_share */
	unsigned progress;
	bool sealed;
};

int kmsd_seal_init(struct kmsd_seal *z, struct kmsd_store *store);
void kmsd_seal_free(struct kmsd_seal *z);
/* Adds one share. At the threshold the shares are combined and the store opened; a failure
 * then (-EKEYREJECTED) starts the count over. A share already given is ignored. */
int kmsd_seal_submit(struct kmsd_seal *z, const char *text, size_t len);
void kmsd_seal_reset(struct kmsd_seal *z);
/* Seals again: every key is forgotten. */
void kmsd_seal_close(struct kmsd_seal *z);

#endif /* KMSD_STORE_H */
