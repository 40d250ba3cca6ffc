/* SPDX-License-Identifier: MIT */
/*
 * internal.h - declarations shared between libenvcryptfs's own files, one section per file.
 * Tools include envcryptfs.h only; tests may include this to reach the primitives.
 */
#ifndef ECFS_INTERNAL_H
#define ECFS_INTERNAL_H

#include "envcryptfs.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>

/* ---- kdf.c: Argon2id (RFC 9106) via libargon2 ------------------------------------------- */

int ecfs_argon2id(const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
		  const struct ecfs_argon2_params *p, uint8_t *out, size_t out_len);

/* ---- keywrap.c: AES key wrap (RFC 3394, NIST SP 800-38F KW) ----------------------------- */

/* kek_len is 16, 24 or 32; in_len a multiple of 8, at least 16; out holds in_len + 8. */
int ecfs_keywrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
		 uint8_t *out);
/* in_len a multiple of 8, at least 24; out holds in_len - 8. -EBADMSG when the integrity
 * check fails (out is then wiped). */
int ecfs_keyunwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
		   uint8_t *out);

/* ---- blockcipher: which 128-bit block cipher a generic mode runs over ------------------- */

enum ecfs_block_cipher {
	ECFS_BC_AES = 1, /* AES-128 or AES-256, chosen by key length */
	ECFS_BC_SM4 = 2, /* SM4, 128-bit keys only */
};

/* ---- sm4.c: SM4 (GB/T 32907-2016) round keys and bulk implementations ------------------- */

#define ECFS_SM4_ROUNDS 32

struct ecfs_sm4_key {
	uint32_t rk[ECFS_SM4_ROUNDS];
};

/* The round keys of a 16-byte key for encryption and (dec may be NULL) for decryption. */
void ecfs_sm4_expand(const uint8_t key[16], struct ecfs_sm4_key *enc, struct ecfs_sm4_key *dec);

/* n blocks from in to out (in == out allowed) under round keys k; constant-time. */
typedef void ecfs_sm4_blocks_fn(const struct ecfs_sm4_key *k, const uint8_t *in, uint8_t *out,
				size_t n);

struct ecfs_sm4_impl {
	const char *name;
	bool (*usable)(void); /* whether this CPU runs it */
	ecfs_sm4_blocks_fn *blocks;
};

/* Every implementation built in, fastest first, ending with a NULL name. */
extern const struct ecfs_sm4_impl ecfs_sm4_impls[];
/* The fastest this CPU runs; NULL when none does (SM4 then goes through OpenSSL). */
const struct ecfs_sm4_impl *ecfs_sm4_best(void);

#if defined(__x86_64__)
/* sm4_aesni.c: the S-box with AESENCLAST between two affine maps; AES-NI and AVX2. */
ecfs_sm4_blocks_fn ecfs_sm4_blocks_aesni_avx2;
/* sm4_gfni.c: the S-box with GF2P8AFFINEINVQB; GFNI and AVX2. */
ecfs_sm4_blocks_fn ecfs_sm4_blocks_gfni_avx2;
#endif

/* ---- xts.c: XTS (IEEE 1619-2007) over any 128-bit block cipher in ECB mode -------------- */

struct ecfs_xts;

/* key = K1 || K2, key_len twice the block cipher's key length; -EINVAL when K1 == K2. */
int ecfs_xts_new(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		 struct ecfs_xts **out);
/* The same with SM4 through sm4 (bc must be ECFS_BC_SM4) or, when sm4 is NULL, through
 * OpenSSL's ECB mode; ecfs_xts_new picks ecfs_sm4_best() for SM4. */
int ecfs_xts_new_with(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		      const struct ecfs_sm4_impl *sm4, struct ecfs_xts **out);
/* One data unit: len >= 16 (ciphertext stealing for a partial last block). The tweak is the
 * 16-byte data unit number, little-endian, as IEEE 1619 defines it. in == out is allowed. */
int ecfs_xts_encrypt(struct ecfs_xts *x, const uint8_t tweak[16], const uint8_t *in, uint8_t *out,
		     size_t len);
int ecfs_xts_decrypt(struct ecfs_xts *x, const uint8_t tweak[16], const uint8_t *in, uint8_t *out,
		     size_t len);
/* E_K2(tweak) and E_K1 of one block, for the short-tail rule in cipher.c. */
int ecfs_xts_encrypt_tweak(struct ecfs_xts *x, const uint8_t tweak[16], uint8_t out[16]);
int ecfs_xts_encrypt_block_k1(struct ecfs_xts *x, const uint8_t in[16], uint8_t out[16]);
void ecfs_xts_free(struct ecfs_xts *x);

/* ---- siv.c: SIV (RFC 5297): S2V with CMAC, then CTR, over a 128-bit block cipher -------- */

#define ECFS_SIV_TAG_SIZE 16

struct ecfs_siv;

/* key = K1 (CMAC) || K2 (CTR): 32 or 64 bytes for AES, 32 for SM4. */
int ecfs_siv_new(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		 struct ecfs_siv **out);
/* out receives V || C (len + 16 bytes). ad holds nad associated-data components (nad <= 8);
 * a nonce, when used, is passed as the last component. */
int ecfs_siv_encrypt(struct ecfs_siv *s, const struct ecfs_iov *ad, size_t nad, const uint8_t *in,
		     size_t len, uint8_t *out);
/* in is V || C (len >= 16); out receives len - 16 bytes. -EBADMSG on mismatch (out wiped). */
int ecfs_siv_decrypt(struct ecfs_siv *s, const struct ecfs_iov *ad, size_t nad, const uint8_t *in,
		     size_t len, uint8_t *out);
void ecfs_siv_free(struct ecfs_siv *s);

/* ---- cipher.c: a per-thread context's parts, for blob.c, fname.c and seal.c ------------- */

const struct ecfs_volume *ecfs_crypto_volume(const struct ecfs_crypto *c);
/* The SIV contexts of names and of sealed values (symbolic links, extended attributes). */
struct ecfs_siv *ecfs_crypto_names(struct ecfs_crypto *c);
struct ecfs_siv *ecfs_crypto_seal(struct ecfs_crypto *c);
/* Scratch space of at least len bytes, and a chunk-sized plaintext buffer. */
uint8_t *ecfs_crypto_scratch(struct ecfs_crypto *c, size_t len);
uint8_t *ecfs_crypto_plain(struct ecfs_crypto *c);
const struct ecfs_helpers *ecfs_crypto_helpers(const struct ecfs_crypto *c);

/* ---- chunk.c: whole GCM chunks read apart --------------------------------------------- */

/* AES-256-GCM only: decrypts in place the len bytes of ciphertext at data of chunk idx,
 * whose nonce and tag are at meta (nonce, then tag: the mode's overhead). The same checks
 * and hole rule as ecfs_chunk_decrypt; returns len or a negative errno. */
int ecfs_chunk_open_in_place(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
			     const uint8_t *meta, uint8_t *data, size_t len);
/* AES-256-GCM only: encrypts in place the len plaintext bytes at data of chunk idx, its new
 * nonce and tag going to meta. 0 or a negative errno. */
int ecfs_chunk_seal_in_place(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
			     uint8_t *data, size_t len, uint8_t *meta);

/* ---- work.c: the chunk crypto of one large read or write, shared with helper threads --- */

struct ecfs_work {
	const struct ecfs_file_key *k;
	bool enc;
	uint64_t first, n;     /* chunks [first, first + n) */
	size_t cs, sc;	       /* plaintext and stored chunk sizes */
	uint64_t per, npieces; /* chunks per piece, pieces */
	uint64_t next;	       /* the next piece to take (atomic) */
	uint8_t *stored;       /* stored chunk i at i * sc: read (dec) or written (enc) */
	/* Encryption: chunk idx's plaintext is head for the first chunk and tail for the last
	 * when set, else buf + idx * cs - off; it holds have - idx * cs bytes at most. With
	 * meta set (GCM), each is encrypted in place and its nonce and tag go to
	 * meta + i * (sc - cs); else the stored chunk goes to stored. */
	const uint8_t *buf, *head, *tail;
	uint64_t off, have;
	/* Decryption: got stored bytes in, chunk i's plaintext out at plain + i * cs; or, with
	 * meta set (GCM, whole chunks only), chunk i's ciphertext already at plain + i * cs and
	 * its nonce and tag at meta + i * (sc - cs), decrypted in place. */
	size_t got;
	uint8_t *plain, *meta;
	/* The failure of the lowest chunk that failed. */
	pthread_mutex_t err_lock;
	uint64_t bad; /* UINT64_MAX: none */
	int err;
};

/* Encryption: where chunk i of w (from first) has its plaintext. */
const uint8_t *ecfs_work_plain(const struct ecfs_work *w, uint64_t i);
/* Runs w: shared with the helpers of c when it is large enough, else alone. Returns 0 or the
 * error of the lowest failing chunk (*bad set to it). */
int ecfs_work_run(struct ecfs_crypto *c, struct ecfs_work *w, uint64_t *bad);

/* ---- volume internals shared by header.c, header_io.c, slot.c, volume.c, cipher.c ----- */

#define ECFS_SALT_SIZE	      32
#define ECFS_WRAPPED_DEK_SIZE (ECFS_DEK_SIZE + 8)
#define ECFS_CANARY_PLAIN     "envcryptfs canary, format 1\n\0\0\0\0"
#define ECFS_CANARY_SIZE      32
#define ECFS_CANARY_NONCE     12
#define ECFS_GCM_TAG	      16
#define ECFS_HEADER_MAX	      (1u << 20)

struct ecfs_slot {
	enum ecfs_slot_type type; /* ECFS_SLOT_NONE: the slot is free */
	uint64_t kek_generation;
	int64_t created;
	uint8_t salt[ECFS_SALT_SIZE];
	struct ecfs_argon2_params argon2;
	uint8_t wrapped_dek[ECFS_WRAPPED_DEK_SIZE];
	struct ecfs_kms_slot kms; /* ECFS_SLOT_KMS: wrapped by the KMS instead */
	/* ECFS_SLOT_PKCS11: where the token wrapped the DEK (into wrapped_dek) */
	struct ecfs_pkcs11_slot pkcs11;
	struct ecfs_tpm2_slot tpm2; /* ECFS_SLOT_TPM2: the sealed KEK */
};

/* The header as the code sees it; header.c converts to and from the bytes on disk. */
struct ecfs_header {
	uint32_t version;
	bool upgrading; /* feature "upgrading-to-2": an upgrade to format 2 is under way */
	uint64_t seqid;
	uint8_t uuid[ECFS_UUID_SIZE];
	char label[ECFS_LABEL_MAX + 1];
	int64_t created;
	enum ecfs_cipher cipher;
	uint32_t chunk_size;
	uint8_t canary_nonce[ECFS_CANARY_NONCE];
	uint8_t canary[ECFS_CANARY_SIZE + ECFS_GCM_TAG];
	struct ecfs_slot slots[ECFS_MAX_SLOTS];
};

/* Keys derived from the DEK; all live inside one ecfs_secret. */
struct ecfs_keys {
	uint8_t dek[ECFS_DEK_SIZE];
	uint8_t contents[64]; /* GCM: the base of per-file keys; XTS: K1 || K2 */
	uint8_t names[64];    /* SIV K1 || K2 for names */
	uint8_t seal[64];     /* SIV K1 || K2 for symlink targets and xattr values */
	uint8_t canary[32];
	uint8_t header_mac[32];
	uint8_t bind[32]; /* format 2: tags that bind objects to their place */
};

struct ecfs_volume {
	char *dir;
	int dirfd;
	struct ecfs_header hdr; /* the copy in use */
	uint8_t *raw;		/* its bytes, for the MAC */
	size_t raw_len;
	struct ecfs_header other; /* the other copy, when it parsed */
	uint8_t *other_raw;	  /* NULL unless it parsed */
	size_t other_raw_len;
	enum ecfs_header_state primary_state, copy_state;
	char primary_why[200], copy_why[200]; /* why a state is not ECFS_HDR_OK */
	bool from_copy;
	struct ecfs_secret *key_secret; /* holds struct ecfs_keys once unlocked */
	const struct ecfs_keys *keys;	/* NULL until unlocked */
	int unlocked_slot;
	char skipped_why[300]; /* a passphrase slot over the KDF cost cap, not tried */
	bool mac_ok;
	/* The highest seqid of the copies on disk when last read or written: a header write
	 * under the metadata lock finds another one there when another writer came between. */
	uint64_t disk_seqid;
	bool primary_written; /* the last update wrote the primary (the copy may have failed) */
	bool copy_behind;     /* ... and the copy on disk is not the new header */
	bool upgrade_mode;    /* opened by the upgrade: a volume being upgraded may unlock */
};

/* ---- cipher.c: the mode table --------------------------------------------------------- */

struct ecfs_mode {
	enum ecfs_cipher id;
	const char *name;
	bool authenticated;
	enum ecfs_block_cipher block; /* XTS block cipher, and the SIV cipher for names */
	size_t contents_key_len;      /* XTS K1||K2, or the GCM per-file key base */
	size_t siv_key_len;
	uint32_t overhead; /* bytes a stored chunk adds */
};

const struct ecfs_mode *ecfs_mode_get(enum ecfs_cipher c);
/* The bytes of a per-file key (GCM), for tests that look for them in memory. */
const uint8_t *ecfs_file_key_material(const struct ecfs_file_key *k, size_t *len);

/* ---- kdf.c labels: each key derived from the DEK has its own info string ---------------- */

#define ECFS_LABEL_CONTENTS   "envcryptfs 1 contents"
#define ECFS_LABEL_NAMES      "envcryptfs 1 names"
#define ECFS_LABEL_SEAL	      "envcryptfs 1 seal"
#define ECFS_LABEL_CANARY     "envcryptfs 1 canary"
#define ECFS_LABEL_HEADER_MAC "envcryptfs 1 header mac"
#define ECFS_LABEL_BIND	      "envcryptfs 2 bind"
#define ECFS_LABEL_FILE	      "envcryptfs 1 file"
#define ECFS_LABEL_KEYFILE    "envcryptfs 1 keyfile kek"

/* ---- header.c: bytes <-> struct ecfs_header (man/envcryptfs.5, "Volume header") ----------- */

/* Parses and checks structure and checksum; the MAC is checked later (ecfs_header_verify_mac).
 * Returns -EUCLEAN (damaged) or -EPROTONOSUPPORT (unknown version/feature/type). */
int ecfs_header_parse(const uint8_t *buf, size_t len, struct ecfs_header *h);
/* Serializes h with a MAC under mac_key; *out is malloc()ed. */
int ecfs_header_serialize(const struct ecfs_header *h, const uint8_t mac_key[32], uint8_t **out,
			  size_t *out_len);
int ecfs_header_verify_mac(const uint8_t *buf, size_t len, const uint8_t mac_key[32]);

/* ---- header_copies.c: the two copies judged once the volume is unlocked ---------------- */

/* Whether the copy file (not the primary) is the one in use. */
bool ecfs_header_copy_in_use(const struct ecfs_volume *v);
/* The copy not in use must authenticate under the unlocked key too; one that does not is
 * marked damaged, with the reason. */
void ecfs_header_judge_other(struct ecfs_volume *v);

/* ---- header_io.c: reading both copies, atomic writes ------------------------------------ */

/* Reads a header file (at most ECFS_HEADER_MAX bytes); -ENOENT when missing. */
int ecfs_header_read_file(int dirfd, const char *name, uint8_t **buf, size_t *len);
/* Under the metadata lock: checks that the header on disk is the one v read (-ESTALE when
 * another writer changed it), bumps the seqid and writes the primary, then the copy. When
 * only the copy fails, v holds the new header (primary_written), and copy_behind tells
 * whether the copy on disk lags behind (else only syncing it failed). */
int ecfs_header_store(struct ecfs_volume *v);
/* The highest seqid among the header copies in dirfd that parse (0 when none does). */
uint64_t ecfs_header_disk_seqid(int dirfd);

/* ---- upgrade_walk.c: the object conversions of ecfs_volume_upgrade ----------------------- */

/* Reads and checks the whole tree (refusing before anything is written when an object
 * would not convert), calls between, then converts every object. */
int ecfs_upgrade_tree(struct ecfs_volume *v, struct ecfs_upgrade_stats *st,
		      int (*between)(struct ecfs_volume *v));

/* ---- slot.c: key slots by type (the handlers are in slot.h) ----------------------------- */

/* Whether c can make a new slot: a type with a handler, and what that type needs. */
int ecfs_slot_validate(const struct ecfs_credential *c);
/* A new slot of type t takes Argon2id parameters. */
bool ecfs_slot_uses_argon2(enum ecfs_slot_type t);
/* Rotating a slot of type t counts its KEK generation up (else the new slot sets it). */
bool ecfs_slot_counts_generations(enum ecfs_slot_type t);
/* Fills slot s (type, salt, KDF parameters, wrapped DEK) for credential c. */
int ecfs_slot_create(struct ecfs_slot *s, const struct ecfs_credential *c,
		     const struct ecfs_argon2_params *argon2, const uint8_t dek[ECFS_DEK_SIZE]);
/* Unwraps the DEK from s with c: -EKEYREJECTED when the key does not fit. */
int ecfs_slot_open(const struct ecfs_slot *s, const struct ecfs_credential *c,
		   uint8_t dek[ECFS_DEK_SIZE]);
enum ecfs_slot_type ecfs_slot_type_from_name(const char *name);

/* ---- keys.c: the key hierarchy below the DEK --------------------------------------------- */

/* Derives every subkey from keys->dek for a volume with this header. */
int ecfs_keys_derive(struct ecfs_keys *keys, const struct ecfs_header *h);
int ecfs_canary_make(const struct ecfs_keys *keys, struct ecfs_header *h);
int ecfs_canary_check(const struct ecfs_keys *keys, const struct ecfs_header *h);

/* ---- blob_store.c: stored bytes written so that a failure leaves the old ones ----------- */

/* One change to a blob: its size before the change and whether it may hold holes. */
struct ecfs_store {
	int fd;
	uint64_t old_end;
	bool sparse;
};

/* Starts a change to the blob open as fd (one fstat). */
int ecfs_store_begin(struct ecfs_store *s, int fd);
/* Writes len stored bytes at off: the part past the old end first, the part over old bytes
 * last, after reserving it where it may fall into holes. 0 or -errno. */
int ecfs_store_write(struct ecfs_store *s, const void *buf, size_t len, uint64_t off);
/* The same for len bytes gathered from cnt buffers; iov is used up. */
int ecfs_store_writev(struct ecfs_store *s, struct iovec *iov, size_t cnt, size_t len,
		      uint64_t off);
/* Sets the blob's size to size (growing it before new chunks are written). */
int ecfs_store_resize(struct ecfs_store *s, uint64_t size);
/* After a failed change: cuts the blob back to its old size. Returns err. */
int ecfs_store_undo(struct ecfs_store *s, int err);

/* ---- export.c --------------------------------------------------------------------------- */

/* One volume's DEK in an export. */
struct ecfs_export_entry {
	uint8_t uuid[ECFS_UUID_SIZE];
	enum ecfs_cipher cipher;
	uint8_t nonce[ECFS_CANARY_NONCE];
	uint8_t sealed_dek[ECFS_DEK_SIZE + ECFS_GCM_TAG];
};

struct ecfs_export {
	uint32_t version; /* 1: one volume, its fields at the top; 2: a "volumes" array */
	int64_t created;
	uint8_t salt[ECFS_SALT_SIZE];
	struct ecfs_argon2_params argon2;
	size_t n; /* 1 for version 1; 1 to ECFS_EXPORT_MAX_VOLUMES, distinct UUIDs */
	struct ecfs_export_entry v[ECFS_EXPORT_MAX_VOLUMES];
};

int ecfs_export_parse(const uint8_t *buf, size_t len, struct ecfs_export *e);
/* Opens the DEK in an ECFS_KEY_EXPORT credential for the volume with this UUID:
 * -EKEYREJECTED for a wrong password or an export without this volume. */
int ecfs_export_open(const struct ecfs_credential *c, const uint8_t uuid[ECFS_UUID_SIZE],
		     uint8_t dek[ECFS_DEK_SIZE]);

#endif /* ECFS_INTERNAL_H */
