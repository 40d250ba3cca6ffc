/* SPDX-License-Identifier: MIT */
/*
 * envcryptfs.h - the public API of libenvcryptfs, the core every tool links against.
 *
 * A volume is a backing directory holding an encrypted header (man/envcryptfs.5), one
 * directory-ID file per directory, and one blob per regular file. This header covers
 * creating, opening and unlocking a volume, and encrypting file contents, names, symlink
 * targets and small values. It knows nothing of FUSE, argv or terminals.
 *
 * Every function returning int gives 0 (or a non-negative count) on success and a negative
 * errno on failure. The codes that mean something specific here:
 *   -EKEYREJECTED     no key slot opens with the key(s) given (a wrong key)
 *   -EUCLEAN          a structure on disk is corrupt (bad magic, length, checksum)
 *   -EBADMSG          authentication failed (a MAC, tag, canary or SIV did not verify)
 *   -EPROTONOSUPPORT  an unknown format version, feature flag, cipher or slot type
 *   -ENOEXEC          an export file given to unlock is damaged or of an unknown version
 *   -EKEYEXPIRED      a TPM refuses to unseal a slot's key (PCRs changed, or TPM cleared)
 * On failure the library also leaves a one-line description (naming the thing and the
 * cause) for the calling thread in ecfs_last_error().
 */
#ifndef ENVCRYPTFS_H
#define ENVCRYPTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ecfs_util.h"

struct stat;

/* A test build with fault injection says so wherever it reports its version. */
#ifdef ECFS_FAULT_INJECTION
#define ECFS_VERSION_STRING "0.1.0+fault-injection"
#else
#define ECFS_VERSION_STRING "0.1.0"
#endif

#define ECFS_FORMAT_VERSION 2
/* The oldest format version this build opens (and can upgrade). */
#define ECFS_FORMAT_VERSION_MIN 1
/* The version mkfs writes unless told otherwise. */
#define ECFS_FORMAT_DEFAULT 2
#define ECFS_MAX_SLOTS	    8
#define ECFS_UUID_SIZE	    16
#define ECFS_FILE_ID_SIZE   16
#define ECFS_DIR_ID_SIZE    16
#define ECFS_DEK_SIZE	    32
#define ECFS_LABEL_MAX	    64

#define ECFS_MIN_CHUNK	   4096u
#define ECFS_MAX_CHUNK	   1048576u
#define ECFS_DEFAULT_CHUNK 4096u

/* Names reserved in the backing directory. Encoded names never contain '.', so any name
 * with a dot is ours. */
#define ECFS_HEADER_NAME      "envcryptfs.header"
#define ECFS_HEADER_COPY_NAME "envcryptfs.header.copy"
#define ECFS_DIR_ID_NAME      "envcryptfs.dirid"
#define ECFS_LONG_PREFIX      "envcryptfs.long."
#define ECFS_LONG_SIDE_SUFFIX ".name"
/* Side files at the root holding stored symlink targets too long for a backing symlink. */
#define ECFS_LINK_PREFIX "envcryptfs.target."
/* Held with flock() by a mounting daemon: a second mount fails, a killed one frees it. */
#define ECFS_LOCK_NAME "envcryptfs.lock"
/* Held with flock() by whoever writes the header (envcryptfsctl, the daemon's KMS rewrap,
 * fsck repairs, mkfs), so that header updates happen one at a time. */
#define ECFS_METALOCK_NAME "envcryptfs.metalock"
/* Seconds a header writer waits for the metadata lock by default. */
#define ECFS_METALOCK_WAIT 30

/* Plaintext names up to this many bytes always work. */
#define ECFS_NAME_MAX 255
/* Longest full encoded name (base64url of 16-byte SIV + padded 256-byte name) plus NUL. */
#define ECFS_ENCODED_NAME_MAX 368
/* Longest name on the backing file system we produce, plus NUL. */
#define ECFS_DISK_NAME_MAX 256

/* ---- credentials ------------------------------------------------------------------------ */

enum ecfs_slot_type {
	ECFS_SLOT_NONE = 0,
	ECFS_SLOT_KEYFILE = 1,
	ECFS_SLOT_PASSPHRASE = 2,
	ECFS_SLOT_KMS = 3,    /* the DEK wrapped by a Vault Transit key */
	ECFS_SLOT_PKCS11 = 5, /* the DEK wrapped inside a PKCS#11 token by a key it keeps */
	ECFS_SLOT_TPM2 = 6,   /* the DEK wrapped under a KEK sealed by a TPM 2.0 */
	/* A credential only, never a slot on disk: an export file (its bytes in secret) and
	 * the export's password (in password). It opens the volume without any slot. */
	ECFS_KEY_EXPORT = 100,
};

/* What a KMS slot records: where the key lives and the DEK as the KMS wrapped it. */
struct ecfs_kms_slot {
	char url[512];
	char mount[128];
	char key[128];
	char ciphertext[1024]; /* "vault:vN:..." */
	uint64_t key_version;
	int64_t rewrapped; /* when the ciphertext was last made (creation, rotation, rewrap) */
};

/* The library never talks to a KMS itself: a tool passes these callbacks (kms/). */
struct ecfs_kms_ops {
	/* Wraps dek with the KMS key named in s; fills s->ciphertext and s->key_version. */
	int (*wrap)(void *arg, const uint8_t *dek, size_t len, struct ecfs_kms_slot *s);
	/* Unwraps s->ciphertext into dek (len bytes). */
	int (*unwrap)(void *arg, const struct ecfs_kms_slot *s, uint8_t *dek, size_t len);
};

/* What a PKCS#11 slot records: the token and the key on it (by label) and the mechanism that
 * wrapped the DEK. The module is never recorded: it comes from local configuration only. */
#define ECFS_PKCS11_TOKEN_MAX 32 /* CK_TOKEN_INFO's label field */
#define ECFS_PKCS11_KEY_MAX   128
struct ecfs_pkcs11_slot {
	char token[ECFS_PKCS11_TOKEN_MAX + 1];
	char key[ECFS_PKCS11_KEY_MAX + 1];
	char mechanism[24]; /* "aes-key-wrap-pad" */
};

/* A PKCS#11 credential: the module to load (a path from local configuration), the user PIN,
 * and for a new slot the token and key labels; create_key makes a missing key on the token. */
struct ecfs_pkcs11_cred {
	const char *module;
	const struct ecfs_secret *pin;
	const char *pin_origin; /* for messages: the PIN file */
	/* Set once the token refused the PIN: it is not offered again (tokens lock the PIN
	 * after a few wrong tries). NULL: no such memory. */
	bool *pin_refused;
	const char *token, *key;
	bool create_key;
};

/* What a TPM2 slot records: the sealed KEK as the TPM made it (a TPM2B_PUBLIC and a
 * TPM2B_PRIVATE, marshalled) and the PCRs of the SHA-256 bank its policy checks. */
#define ECFS_TPM2_BLOB_MAX	 1024
#define ECFS_TPM2_DEVICE_DEFAULT "device:/dev/tpmrm0"
struct ecfs_tpm2_slot {
	uint8_t pub[ECFS_TPM2_BLOB_MAX];
	uint8_t priv[ECFS_TPM2_BLOB_MAX];
	uint16_t pub_len, priv_len;
	uint32_t pcrs; /* bit n: PCR n; 0: no PCR policy */
};

/* The talk to a TPM, given by the tools that use one, so that only they link the TPM
 * libraries; device is a TCTI string ("device:/dev/tpmrm0", "swtpm:host=H,port=P"). */
struct ecfs_tpm2_ops {
	/* Seals secret (len bytes) under the TPM's storage primary key, bound to s->pcrs when
	 * any; fills the blobs of s. */
	int (*seal)(const char *device, const uint8_t *secret, size_t len,
		    struct ecfs_tpm2_slot *s);
	/* Unseals s into secret (exactly len bytes): -EHOSTUNREACH when the TPM cannot be
	 * reached, -EKEYEXPIRED when it refuses (PCRs changed, or cleared since). */
	int (*unseal)(const char *device, const struct ecfs_tpm2_slot *s, uint8_t *secret,
		      size_t len);
};
/* Through tpm2-tss (ESYS, libtss2-esys and libtss2-tctildr; envcryptfs/lib/tpm2.c). */
extern const struct ecfs_tpm2_ops ecfs_tpm2_esys;
/* Parses a PCR list ("7", "0,7", "0-3,7"; PCRs 0 to 23) into a mask; -EINVAL when bad. */
int ecfs_tpm2_parse_pcrs(const char *list, uint32_t *mask);
/* The mask as a list ("0,7"), "" for none. */
void ecfs_tpm2_format_pcrs(uint32_t mask, char *buf, size_t len);

/* A key offered to unlock a volume or to create a slot. The secrets are borrowed. */
struct ecfs_credential {
	enum ecfs_slot_type type;
	const struct ecfs_secret *secret;
	const char *origin;		    /* for messages: a path or "passphrase prompt" */
	const struct ecfs_secret *password; /* ECFS_KEY_EXPORT only */
	/* ECFS_SLOT_KMS: the callbacks, and for a new slot the URL, mount and key to use. */
	const struct ecfs_kms_ops *kms;
	void *kms_arg;
	const struct ecfs_kms_slot *kms_target;
	const struct ecfs_pkcs11_cred *pkcs11; /* ECFS_SLOT_PKCS11 */
	/* ECFS_SLOT_TPM2: the TPM (a TCTI string, never one read from a header), how to talk
	 * to it, and for a new slot the PCRs to bind it to. */
	const struct ecfs_tpm2_ops *tpm2;
	const char *tpm2_device;
	uint32_t tpm2_pcrs;
};

/* The slot type's name ("keyfile", "passphrase", "kms"), "unknown" for any other value. */
const char *ecfs_slot_type_name(enum ecfs_slot_type t);

/* The slot number reported when an export file unlocked the volume. */
#define ECFS_UNLOCKED_BY_EXPORT (-2)

#define ECFS_KEYFILE_MIN 32
#define ECFS_KEYFILE_MAX (64 * 1024)

/* ---- volumes ---------------------------------------------------------------------------- */

enum ecfs_cipher {
	ECFS_CIPHER_NONE = 0,
	ECFS_CIPHER_AES256_GCM = 1,
	ECFS_CIPHER_AES256_XTS = 2,
	ECFS_CIPHER_AES128_XTS = 3,
	ECFS_CIPHER_SM4_XTS = 4,
};

const char *ecfs_cipher_name(enum ecfs_cipher c);
enum ecfs_cipher ecfs_cipher_from_name(const char *name);
bool ecfs_cipher_is_authenticated(enum ecfs_cipher c);

struct ecfs_argon2_params {
	uint32_t t_cost;      /* passes */
	uint32_t m_cost_kib;  /* memory in KiB */
	uint32_t parallelism; /* lanes */
};

/* The costs a passphrase slot or an export file may have, in the header or given by a tool. */
#define ECFS_ARGON2_TIME_MIN	   1
#define ECFS_ARGON2_TIME_MAX	   1000
#define ECFS_ARGON2_MEMORY_MIN_KIB 8
#define ECFS_ARGON2_MEMORY_MAX_KIB (1u << 24)
#define ECFS_ARGON2_PARALLEL_MIN   1
#define ECFS_ARGON2_PARALLEL_MAX   64
/* Costs calibrated when none are given: about a second here, 64 MiB at least, at most
 * ECFS_ARGON2_CALIBRATE_TIME_MAX passes. */
#define ECFS_ARGON2_CALIBRATE_MS       1000
#define ECFS_ARGON2_CALIBRATE_MIN_KIB  65536
#define ECFS_ARGON2_CALIBRATE_TIME_MAX 100
/* The floor of a new slot's or export's Argon2id cost: OWASP's minimum for Argon2id (19 MiB,
 * 2 passes), memory rounded up to 32 MiB. Tools refuse less without an explicit option. */
#define ECFS_ARGON2_FLOOR_MEMORY_KIB (32u * 1024)
#define ECFS_ARGON2_FLOOR_TIME	     2u
/* The cap of a cost read before unlock, as cryptsetup's: memory at most 4 GiB and at most
 * half the machine's memory; at most 100 passes (the most calibration picks) and at most
 * 16 GiB passes of work (time x memory; 4 GiB x 4, or 64 MiB x 100 and more). */
#define ECFS_ARGON2_CAP_MEMORY_KIB (4u * 1024 * 1024)
#define ECFS_ARGON2_CAP_TIME	   100u
#define ECFS_ARGON2_CAP_WORK_KIB   (16ull * 1024 * 1024)
/* The memory cap on this machine, in KiB. */
uint32_t ecfs_argon2_memory_cap_kib(void);
/* -E2BIG with a message ("Argon2id memory cost ... is above the cap ...") when p is over
 * the cap; 0 otherwise. */
int ecfs_argon2_check_cap(const struct ecfs_argon2_params *p);
/* -EINVAL with a message when p is below the floor; 0 otherwise. */
int ecfs_argon2_check_floor(const struct ecfs_argon2_params *p);

/* Calibrates Argon2id to take about target_ms here with at least min_kib of memory. */
int ecfs_argon2_calibrate(uint32_t target_ms, uint32_t min_kib, struct ecfs_argon2_params *out);
/* in when it gives all three costs, else the calibrated default. */
int ecfs_argon2_or_calibrate(const struct ecfs_argon2_params *in, struct ecfs_argon2_params *out);

struct ecfs_create_params {
	enum ecfs_cipher cipher;	  /* ECFS_CIPHER_NONE means the default, aes-256-gcm */
	uint32_t chunk_size;		  /* 0 means ECFS_DEFAULT_CHUNK */
	const char *label;		  /* may be NULL */
	struct ecfs_argon2_params argon2; /* all zero: calibrate */
	bool force;			  /* allow a non-empty directory (never deletes anything) */
	uint32_t format_version;	  /* 0 means ECFS_FORMAT_DEFAULT */
};

struct ecfs_slot_info {
	int index;
	enum ecfs_slot_type type;
	uint64_t kek_generation;
	int64_t created;
	struct ecfs_argon2_params argon2; /* passphrase slots */
	struct ecfs_kms_slot kms;	  /* KMS slots */
	struct ecfs_pkcs11_slot pkcs11;	  /* PKCS#11 slots */
	uint32_t tpm2_pcrs;		  /* TPM2 slots: the PCRs of the SHA-256 bank bound */
};

/* What info shows of a slot beyond its index, type, generation and creation time: text to
 * append to that line (may be empty), and a JSON member named *key (NULL when none). */
struct json_object;
void ecfs_slot_describe(const struct ecfs_slot_info *s, char *buf, size_t len);
struct json_object *ecfs_slot_describe_json(const struct ecfs_slot_info *s, const char **key);
/* t (seconds since the epoch) as an ISO 8601 UTC time; as a number if it has none. */
void ecfs_format_time(int64_t t, char *buf, size_t len);

enum ecfs_header_state {
	ECFS_HDR_OK = 0,	  /* this copy parsed and matches the one in use */
	ECFS_HDR_MISSING = 1,	  /* the file is absent */
	ECFS_HDR_DAMAGED = 2,	  /* it failed structure or checksum checks */
	ECFS_HDR_STALE = 3,	  /* valid, but an older sequence number than the one in use */
	ECFS_HDR_UNSUPPORTED = 4, /* a version or feature this build does not know */
};

struct ecfs_volume_info {
	uint8_t uuid[ECFS_UUID_SIZE];
	char uuid_str[37];
	char label[ECFS_LABEL_MAX + 1];
	uint32_t format_version;
	enum ecfs_cipher cipher;
	uint32_t chunk_size;
	int64_t created;
	uint64_t seqid;
	int nslots;
	struct ecfs_slot_info slots[ECFS_MAX_SLOTS];
	enum ecfs_header_state primary_state;
	enum ecfs_header_state copy_state;
	bool opened_from_copy; /* the primary was unusable and the copy was used */
	bool unlocked;
	int unlocked_slot;  /* -1 until unlocked */
	bool header_mac_ok; /* known only once unlocked */
};

struct ecfs_volume;

/* Creates a volume in dir (made if missing) with one slot per credential. Every parameter is
 * checked before dir is touched, and a failure before the header is written removes what
 * was made. A failure once the primary header is on disk returns the error with *out set:
 * the volume exists and opens (ecfs_volume_get_info tells the state of the copies). */
int ecfs_volume_create(const char *dir, const struct ecfs_create_params *p,
		       const struct ecfs_credential *creds, size_t ncreds,
		       struct ecfs_volume **out);
/* Reads and checks the header (falling back to the copy). No key needed. */
int ecfs_volume_open(const char *dir, struct ecfs_volume **out);
/* Tries each credential against each slot of its type, in order. On success the DEK is
 * held, the canary and header MAC verified, and *slot (if not NULL) names the slot. */
int ecfs_volume_unlock(struct ecfs_volume *v, const struct ecfs_credential *creds, size_t ncreds,
		       int *slot);
/* Rewrites both header copies when the copy in use is not the primary or a copy is damaged
 * or stale. Needs an unlocked volume. Returns 1 when something was repaired. */
int ecfs_volume_repair_header(struct ecfs_volume *v);
/* When a header copy is missing, damaged, stale or (once unlocked) fails the header MAC:
 * true, with one line in buf naming the file, the cause and the copy in use. */
bool ecfs_volume_header_problem(const struct ecfs_volume *v, char *buf, size_t len);
void ecfs_volume_close(struct ecfs_volume *v);
/* Re-reads the header from disk into v, keeping its keys: an unlocked volume checks the new
 * header with them (-EXDEV when it is another volume's). For a writer holding the metadata
 * lock, so that what another writer changed is kept. */
int ecfs_volume_refresh(struct ecfs_volume *v);
/* True when the last header update reached the primary copy but not the second copy: the
 * change took effect, the copy lags behind (the next update rewrites both). */
bool ecfs_volume_copy_behind(const struct ecfs_volume *v);

/* ---- the volume lock (envcryptfs.lock) --------------------------------------------------- */

enum ecfs_lock_mode {
	ECFS_LOCK_CREATE,   /* made when missing: a read-write mount, an upgrade */
	ECFS_LOCK_EXISTING, /* opened read-only, never made: a read-only mount, fsck */
};
/* Takes envcryptfs.lock in dirfd (dir names it in messages) with flock(2), without waiting;
 * returns the descriptor that holds it. -EBUSY when another process holds it (the message
 * names its pid when it wrote one), -ENOENT (EXISTING) when there is no lock file, -EUCLEAN
 * when something else stands in its place; -EROFS, -EACCES and the like when it cannot be
 * opened. */
int ecfs_lock_take(int dirfd, const char *dir, enum ecfs_lock_mode mode);
/* Writes our pid into the lock file fd holds, for the messages of others. */
void ecfs_lock_note_pid(int fd);

/* ---- the metadata lock (envcryptfs.metalock) ------------------------------------------- */

/* Every header write of the library takes the lock of its volume and fails with -ESTALE when
 * the header on disk changed since the volume read it. A tool that reads, decides and writes
 * takes the lock around all of it (or refreshes under it). Within one thread the lock nests;
 * other threads and processes wait, at most the time set here (default ECFS_METALOCK_WAIT
 * seconds), then get -EBUSY with a message naming the holder. */
struct ecfs_metalock;

void ecfs_metalock_set_wait(unsigned seconds);
/* *out is NULL after a failure, so that it may be released all the same. */
int ecfs_metalock_acquire(const char *dir, struct ecfs_metalock **out);
int ecfs_metalock_acquire_at(int dirfd, const char *dir, struct ecfs_metalock **out);
/* NULL is fine. */
void ecfs_metalock_release(struct ecfs_metalock *l);

/* ---- key management (envcryptfsctl); each needs an unlocked volume and rewrites the header
 * atomically. No data is re-encrypted. ---------------------------------------------------- */

/* Adds a slot for c in the first free index; argon2 NULL or all zero calibrates. */
int ecfs_volume_slot_add(struct ecfs_volume *v, const struct ecfs_credential *c,
			 const struct ecfs_argon2_params *argon2, int *index);
/* Removes slot index. Refuses (-EBUSY) to remove the last slot unless force. */
int ecfs_volume_slot_remove(struct ecfs_volume *v, int index, bool force);
/* Replaces slot index's key with c (the type may change) and bumps its KEK generation. */
int ecfs_volume_slot_rotate(struct ecfs_volume *v, int index, const struct ecfs_credential *c,
			    const struct ecfs_argon2_params *argon2);

/* Replaces KMS slot index's ciphertext (after a KMS rewrap, which needs no DEK) and sets its
 * KEK generation to the key version. */
int ecfs_volume_slot_set_kms(struct ecfs_volume *v, int index, const struct ecfs_kms_slot *s);

/* An export file: the DEK with the volume's UUID and cipher, sealed under Argon2id of a
 * password (man/envcryptfs.5, "Export files"); argon2 NULL or all zero calibrates. *out is
 * malloc()ed text. */
int ecfs_volume_export(const struct ecfs_volume *v, const struct ecfs_secret *password,
		       const struct ecfs_argon2_params *argon2, char **out, size_t *out_len);
/* The most volumes one export file holds, and the largest export file. */
#define ECFS_EXPORT_MAX_VOLUMES 256
#define ECFS_EXPORT_FILE_MAX	(256 * 1024)
/* One export file (format 2) holding the DEK of each of the n unlocked volumes v (distinct
 * UUIDs), each bound to its UUID and cipher, all under one password; it unlocks each of
 * them as a single export does. */
int ecfs_volumes_export(const struct ecfs_volume *const *v, size_t n,
			const struct ecfs_secret *password, const struct ecfs_argon2_params *argon2,
			char **out, size_t *out_len);

/* The raw bytes of the header copy in use (for header-backup). */
int ecfs_volume_header_bytes(const struct ecfs_volume *v, const uint8_t **buf, size_t *len);
/* Replaces both header copies of the volume in dir with a backup. The backup must parse and
 * carry the UUID of the volume there (unless force, for a volume whose header is unusable). */
int ecfs_header_restore(const char *dir, const uint8_t *backup, size_t len, bool force);

void ecfs_volume_get_info(const struct ecfs_volume *v, struct ecfs_volume_info *info);
/* ---- upgrade to format 2 (man/envcryptfs.5, "Upgrade") ------------------------------------ */

struct ecfs_upgrade_stats {
	uint64_t dirs, files, symlinks, xattrs; /* objects converted by this run */
};
/* Takes envcryptfs.lock, which a daemon serving the volume holds, so that nothing mounts the
 * volume meanwhile: -EBUSY when it is mounted. Returns the descriptor to close when done. */
int ecfs_volume_lock_exclusive(const struct ecfs_volume *v);
/* An interrupted upgrade marks the header; only a volume opened for the upgrade unlocks then.
 * Call before ecfs_volume_unlock. */
void ecfs_volume_allow_upgrading(struct ecfs_volume *v);
bool ecfs_volume_upgrading(const struct ecfs_volume *v);
/* Converts the unlocked volume to format 2 in place: every blob, directory ID file, symbolic
 * link and extended attribute; the header last. The caller holds the volume lock. A run that
 * is interrupted (a crash, a full disk) leaves the volume marked, and a new run finishes it.
 * 0 also when the volume already is format 2. */
int ecfs_volume_upgrade(struct ecfs_volume *v, struct ecfs_upgrade_stats *st);

/* The volume's format version (ECFS_FORMAT_VERSION_MIN .. ECFS_FORMAT_VERSION). */
uint32_t ecfs_volume_format(const struct ecfs_volume *v);
/* An O_PATH|O_DIRECTORY descriptor of the backing directory, owned by the volume. */
int ecfs_volume_dirfd(const struct ecfs_volume *v);

/* ---- per-thread crypto context ---------------------------------------------------------- */

/* Holds the cipher contexts one thread needs, keyed from an unlocked volume; not thread-safe,
 * so a daemon keeps one per worker thread. */
struct ecfs_crypto;

int ecfs_crypto_new(const struct ecfs_volume *v, struct ecfs_crypto **out);
void ecfs_crypto_free(struct ecfs_crypto *c);

/* ---- file contents ---------------------------------------------------------------------- */

/* A format-1 blob header: magic, version 1, file ID. */
#define ECFS_BLOB_HEADER_SIZE 24
/* The largest blob header (format 2; layout in man/envcryptfs.5, "Blobs"). */
#define ECFS_BLOB_HEADER_MAX 128

#define ECFS_BLOB_LINKED 0x1 /* the file's names are bound in its link file */
#define ECFS_BLOB_SPARSE 0x2 /* the file may hold holes listed in its holes map */

/* A blob header of either format; format 1 uses only version and file_id. */
struct ecfs_blob_header {
	uint16_t version; /* 1 or 2 */
	uint16_t flags;	  /* ECFS_BLOB_LINKED, ECFS_BLOB_SPARSE */
	uint8_t file_id[ECFS_FILE_ID_SIZE];
	uint32_t dek_generation, holes_generation;
	uint64_t size; /* the authenticated plaintext size */
	uint8_t name_tag[2][16];
	uint8_t tail_nonce[16];
};

/* Per-file key material, derived once per open file; immutable, so it may be shared. */
struct ecfs_file_key;
struct ecfs_holes;

/* The blob header size of the volume's format: 24 or 128. */
size_t ecfs_blob_header_size(const struct ecfs_volume *v);
/* A fresh header: random file ID, everything else zero. */
int ecfs_blob_header_init(const struct ecfs_volume *v, struct ecfs_blob_header *h);
/* Reads and checks the header of an open blob (format 2 on an unlocked volume: its MAC
 * too; a locked one checks the layout only). -EBADMSG when the
 * MAC fails, -EUCLEAN when malformed or short, -EPROTONOSUPPORT for an unknown format-1
 * version, -ENODATA for a 0-byte blob (format 1: created, no header yet; format 2: a blob
 * cut to nothing, unless it is being created). */
int ecfs_blob_header_read(const struct ecfs_volume *v, int fd, struct ecfs_blob_header *h);
/* Serializes h (format 2: with its MAC) and writes it at offset 0. */
int ecfs_blob_header_write(const struct ecfs_volume *v, int fd, const struct ecfs_blob_header *h);
/* The same on buffers: decode checks len bytes of buf, encode fills
 * ecfs_blob_header_size(v) bytes of out. */
int ecfs_blob_header_decode(const struct ecfs_volume *v, const uint8_t *buf, size_t len,
			    struct ecfs_blob_header *h);
int ecfs_blob_header_encode(const struct ecfs_volume *v, const struct ecfs_blob_header *h,
			    uint8_t out[ECFS_BLOB_HEADER_MAX]);
/* Format 1 only: makes a fresh header with a random file ID; checks one and extracts its
 * file ID. */
int ecfs_blob_header_new(uint8_t out[ECFS_BLOB_HEADER_SIZE]);
int ecfs_blob_header_parse(const uint8_t *buf, size_t len, uint8_t file_id[ECFS_FILE_ID_SIZE]);

int ecfs_file_key_new(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		      struct ecfs_file_key **out);
void ecfs_file_key_free(struct ecfs_file_key *k);
/* Format 2, XTS: the tail nonce of the blob header (zero after ecfs_file_key_new). A final
 * chunk shorter than 16 bytes is decrypted under it, and encrypted under the key's next
 * nonce, a fresh random value, so that no two versions of a tail share a keystream. Keys are
 * shared by the readers of a file: call these only while no chunk of that file is being
 * encrypted or decrypted. */
void ecfs_file_key_set_tail_nonce(struct ecfs_file_key *k, const uint8_t nonce[16]);
/* After a write or truncate: when a short tail was encrypted since the last call, the next
 * nonce becomes the tail nonce (copied to nonce, for the blob header), a fresh next one is
 * drawn, and 1 is returned; else 0. */
int ecfs_file_key_tail_advance(struct ecfs_file_key *k, uint8_t nonce[16]);
/* Format 2: which all-zero stored chunks (holes) decrypt as zeros. A new key of a format-2
 * volume allows none (a dense file); set_holes allows the chunks map lists (the key keeps
 * the pointer, not a copy: map must outlive the key's use and change only while no chunk of
 * the file is decrypted; NULL: none again); holes_any allows every hole, the format-1 rule. */
void ecfs_file_key_set_holes(struct ecfs_file_key *k, const struct ecfs_holes *map);
void ecfs_file_key_holes_any(struct ecfs_file_key *k);

/* Upgrade: writes to dst_fd (an empty file) the format-2 blob holding the plaintext of
 * src_fd, a format-1 blob (0 bytes: an empty file), on v whose in-memory format is 2. The
 * stored chunks are verified (decrypted) and copied as they are, under the format-1 blob's
 * file ID (a fresh one for a 0-byte blob); an XTS tail shorter than 16 bytes is re-encrypted
 * under a fresh tail nonce. All-zero chunks (holes) stay holes: they go into the file's holes
 * map at the backing root rootfd (written and synced, SPARSE set in h), and a stale map of
 * the file ID is removed when there are none. h's flags and name tags are the caller's; the
 * rest of h is filled in. No fsync of dst_fd. -EUCLEAN when src_fd is not a valid format-1
 * blob, -EBADMSG when a chunk fails authentication. */
int ecfs_blob_convert_v1(const struct ecfs_volume *v, struct ecfs_crypto *c, int src_fd, int dst_fd,
			 int rootfd, struct ecfs_blob_header *h);

/* Bytes a stored chunk adds to its plaintext: 28 for aes-256-gcm, 0 for XTS. */
uint32_t ecfs_chunk_overhead(const struct ecfs_volume *v);
uint32_t ecfs_chunk_size(const struct ecfs_volume *v);
/* Plaintext size of a blob of blob_size bytes, or -EUCLEAN when no valid blob has that size. */
int64_t ecfs_plain_size(const struct ecfs_volume *v, uint64_t blob_size);
/* Blob size holding plain_size bytes of plaintext (the header included). */
uint64_t ecfs_blob_size(const struct ecfs_volume *v, uint64_t plain_size);
/* Offset in the blob where stored chunk idx starts. */
uint64_t ecfs_chunk_offset(const struct ecfs_volume *v, uint64_t idx);
/* The bytes a whole chunk takes in a blob: the chunk size and the mode's overhead. */
uint64_t ecfs_stored_chunk_size(const struct ecfs_volume *v);

/* Encrypts one chunk (len <= chunk size, > 0) into out (len + overhead bytes). */
int ecfs_chunk_encrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *plain, size_t len, uint8_t *out);
/* True when a stored chunk of stored_len bytes has the shape of a hole: all zeros, and not a
 * short XTS tail (under 16 bytes, which may be all zeros as ciphertext). */
bool ecfs_chunk_is_hole(const struct ecfs_volume *v, const uint8_t *stored, size_t stored_len);
/* Decrypts one stored chunk of stored_len bytes into plain; returns the plaintext length.
 * An all-zero stored chunk is a hole and reads as zeros where the key allows one (format 1:
 * always; format 2: ecfs_file_key_set_holes), else -EBADMSG; -EBADMSG as well when it fails
 * authentication (plain is then wiped). */
int ecfs_chunk_decrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *stored, size_t stored_len, uint8_t *plain);

/* Ranged I/O on an open blob (fd opened O_RDWR or O_RDONLY, header already present).
 * Reads return the bytes read (short at EOF). Writes handle partial chunks by
 * read-modify-write and return len; callers serialize writes and truncates per file.
 * On -EBADMSG, *bad_chunk (if not NULL) is set to the failing chunk index. */
ssize_t ecfs_blob_pread(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd, void *buf,
			size_t len, uint64_t off, uint64_t *bad_chunk);
ssize_t ecfs_blob_pwrite(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			 const void *buf, size_t len, uint64_t off, uint64_t *bad_chunk);
/* ecfs_blob_pwrite for a caller whose buffer is its own to spend: with aes-256-gcm the whole
 * chunks are encrypted where they lie in buf (no copy of the request), which afterwards holds
 * ciphertext and no longer the data. */
ssize_t ecfs_blob_pwrite_in_place(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
				  void *buf, size_t len, uint64_t off, uint64_t *bad_chunk);
/* Sets the plaintext size, re-encrypting the new last chunk when it is cut mid-chunk or
 * grown from a partial chunk. */
int ecfs_blob_truncate(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
		       uint64_t new_size, uint64_t *bad_chunk);

/* Cipher work that other threads may share: the chunks of one large ranged read or write
 * (from 128 KiB on), in pieces that whoever is free takes. Opaque. */
struct ecfs_work;
/* Does pieces of w with c, the calling thread's own context, until none are left. */
void ecfs_work_help(struct ecfs_crypto *c, struct ecfs_work *w);
/* Optional helpers for the ranged I/O of one context. offer(arg, w): other threads may now
 * call ecfs_work_help on w, each with its own context. withdraw(arg, w): returns once no
 * other thread is in ecfs_work_help for w and none will enter it (w is then gone). The
 * offering thread works on w itself meanwhile, so helpers that come late only cost nothing. */
struct ecfs_helpers {
	void (*offer)(void *arg, struct ecfs_work *w);
	void (*withdraw)(void *arg, struct ecfs_work *w);
	void *arg;
};
/* h NULL: no helpers (the default). h is copied. */
void ecfs_crypto_set_helpers(struct ecfs_crypto *c, const struct ecfs_helpers *h);

/* ---- names ------------------------------------------------------------------------------ */

struct ecfs_disk_name {
	char disk[ECFS_DISK_NAME_MAX];	  /* the entry's name in the backing directory */
	char full[ECFS_ENCODED_NAME_MAX]; /* the full encoded name (== disk unless is_long) */
	bool is_long;			  /* disk is a hash; full lives in disk + ".name" */
};

enum ecfs_name_kind {
	ECFS_NAME_ENCRYPTED, /* an encoded name of a user entry */
	ECFS_NAME_LONG,	     /* envcryptfs.long.<hash>: a user entry with a long name */
	ECFS_NAME_LONG_SIDE, /* envcryptfs.long.<hash>.name: holds the full encoded name */
	ECFS_NAME_LINK_SIDE, /* envcryptfs.target.<hash>: a long symlink target (root only) */
	ECFS_NAME_RESERVED,  /* header, header copy, dirid, temporary files */
	ECFS_NAME_INVALID,   /* none of the above: not ours */
};

enum ecfs_name_kind ecfs_name_classify(const char *disk_name);
/* Whether a full encoded name has a valid encoding and length (no key needed). */
bool ecfs_name_well_formed(const char *encoded);
/* -ENAMETOOLONG over ECFS_NAME_MAX bytes, -EINVAL for "", ".", ".." or a '/'. */
int ecfs_name_encrypt(struct ecfs_crypto *c, const uint8_t dir_id[ECFS_DIR_ID_SIZE],
		      const char *name, size_t len, struct ecfs_disk_name *out);
/* Decrypts a full encoded name into out (ECFS_NAME_MAX + 1 bytes); returns its length. */
int ecfs_name_decrypt(struct ecfs_crypto *c, const uint8_t dir_id[ECFS_DIR_ID_SIZE],
		      const char *encoded, char *out);
/* The long-name disk name for a full encoded name (used to check side files). */
void ecfs_name_long_hash(const char *full, char disk[ECFS_DISK_NAME_MAX]);
/* The side file of long name disk, which holds its full encoded name. */
#define ECFS_SIDE_NAME_MAX (ECFS_DISK_NAME_MAX + sizeof(ECFS_LONG_SIDE_SUFFIX))
void ecfs_name_side_of(const char *disk, char side[ECFS_SIDE_NAME_MAX]);
/* Reads the full encoded name of long name disk from its side file in dirfd: -ENOENT when
 * there is none, -EUCLEAN when it is not a regular file holding a well-formed encoded name.
 * Whether the name hashes to disk is the caller's to check. */
int ecfs_name_side_read(int dirfd, const char *disk, char full[ECFS_ENCODED_NAME_MAX]);

/* Directory IDs: a random ID in each backing directory's ECFS_DIR_ID_NAME file. */
int ecfs_dirid_create(int dirfd, uint8_t id[ECFS_DIR_ID_SIZE]);
int ecfs_dirid_read(int dirfd, uint8_t id[ECFS_DIR_ID_SIZE]);

/* ---- binding objects to their place (format 2; man/envcryptfs.5, "Binding") ------------

 * A tag is HMAC-SHA-256 under the volume's bind subkey, cut to 16 bytes, of the domain name,
 * a zero byte, then each part as its 4-byte big-endian length followed by its bytes. Only
 * a holder of the DEK can make one, so a tag stored with an object proves where the object
 * belongs. Needs an unlocked format-2 volume (-EINVAL otherwise); thread-safe. */
#define ECFS_BIND_TAG_SIZE 16
int ecfs_bind_tag(const struct ecfs_volume *v, const char *domain, const struct ecfs_iov *parts,
		  size_t nparts, uint8_t tag[ECFS_BIND_TAG_SIZE]);
/* Whether tag is the tag of (domain, parts), compared in constant time. */
bool ecfs_bind_check(const struct ecfs_volume *v, const char *domain, const struct ecfs_iov *parts,
		     size_t nparts, const uint8_t tag[ECFS_BIND_TAG_SIZE]);

/* Where an entry lives (format 2): its parent directory's ID and its full encoded name (the
 * root: a zero ID and ""). Directory ID files, symlink targets and file name tags are bound
 * to one. */
struct ecfs_place {
	uint8_t parent_id[ECFS_DIR_ID_SIZE];
	const char *name;
};

/* A format-2 directory ID file: ID || tag A || tag B, each tag binding the ID to a place
 * (domain "dir name", parts {ID, parent ID, full encoded name}); B is zero except while a
 * rename is under way. */
#define ECFS_DIRID_FILE_SIZE 48
/* Like ecfs_dirid_create, bound to at on a format-2 volume. */
int ecfs_dirid_create_at(const struct ecfs_volume *v, int dirfd, const struct ecfs_place *at,
			 uint8_t id[ECFS_DIR_ID_SIZE]);
/* Reads the ID of the directory open as dirfd; on a format-2 volume with at set, one of its
 * tags must bind it to at (-EBADMSG: bound to another place). at NULL: no check. */
int ecfs_dirid_read_at(const struct ecfs_volume *v, int dirfd, const struct ecfs_place *at,
		       uint8_t id[ECFS_DIR_ID_SIZE]);
/* Rewrites the ID file atomically with tags for a and b (b may be NULL); format 1: nothing. */
int ecfs_dirid_rebind(const struct ecfs_volume *v, int dirfd, const uint8_t id[ECFS_DIR_ID_SIZE],
		      const struct ecfs_place *a, const struct ecfs_place *b);
/* A file's name tag (blob header, link file): domain "file name" over {file ID, parent ID,
 * full encoded name}. */
int ecfs_file_name_tag(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		       const struct ecfs_place *at, uint8_t tag[ECFS_BIND_TAG_SIZE]);

/* Link files (format 2): the name tags of a file with more than one name, at the backing
 * root as ECFS_LINKS_PREFIX + base64url(file ID); layout in lib/links.c and
 * man/envcryptfs.5 ("Binding"). */
#define ECFS_LINKS_PREFIX   "envcryptfs.links."
#define ECFS_LINKS_NAME_MAX (sizeof(ECFS_LINKS_PREFIX) + 22)
#define ECFS_LINKS_MAX	    65535u
struct ecfs_links {
	uint32_t count;
	uint8_t (*tags)[ECFS_BIND_TAG_SIZE];
};
/* The link file's name for a file ID (NUL-terminated). */
void ecfs_links_name(const uint8_t file_id[ECFS_FILE_ID_SIZE], char out[ECFS_LINKS_NAME_MAX]);
/* Bytes of a link file holding count tags. */
size_t ecfs_links_size(uint32_t count);
/* Checks (every length, then the MAC binding it to file_id) and parses a link file:
 * -EUCLEAN malformed, -EPROTONOSUPPORT another version, -EBADMSG the MAC fails. */
int ecfs_links_parse(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		     const uint8_t *buf, size_t len, struct ecfs_links *out);
/* The bytes of a link file for l (1 .. ECFS_LINKS_MAX tags), malloc()ed. */
int ecfs_links_serialize(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
			 const struct ecfs_links *l, uint8_t **out, size_t *len);
/* The index of tag in l, or -1. */
int ecfs_links_find(const struct ecfs_links *l, const uint8_t tag[ECFS_BIND_TAG_SIZE]);
/* Adds tag unless present (-EMLINK when full); removes it (false when absent). */
int ecfs_links_add(struct ecfs_links *l, const uint8_t tag[ECFS_BIND_TAG_SIZE]);
bool ecfs_links_remove(struct ecfs_links *l, const uint8_t tag[ECFS_BIND_TAG_SIZE]);
void ecfs_links_free(struct ecfs_links *l);
/* Reads and parses the link file of file_id at the backing root rootfd (-ENOENT: none). */
int ecfs_links_read(const struct ecfs_volume *v, int rootfd,
		    const uint8_t file_id[ECFS_FILE_ID_SIZE], struct ecfs_links *out);
/* Writes the link file of file_id holding l atomically (synced, directory too). */
int ecfs_links_write(const struct ecfs_volume *v, int rootfd,
		     const uint8_t file_id[ECFS_FILE_ID_SIZE], const struct ecfs_links *l);
/* Removes the link file of file_id (none: 0). */
int ecfs_links_delete(int rootfd, const uint8_t file_id[ECFS_FILE_ID_SIZE]);

/* Holes maps (format 2): the chunk ranges of a SPARSE file that may be holes, at the backing
 * root as ECFS_HOLES_PREFIX + base64url(file ID); layout in lib/holes.c and man/envcryptfs.5
 * ("Holes"). A superset of the file's holes: a listed chunk may hold data. */
#define ECFS_HOLES_PREFIX   "envcryptfs.holes."
#define ECFS_HOLES_NAME_MAX (sizeof(ECFS_HOLES_PREFIX) + 22)
#define ECFS_HOLES_MAX	    65536u
#define ECFS_HOLES_END_MAX  (UINT64_C(1) << 56) /* above every chunk index */
struct ecfs_hole_range {
	uint64_t first, end; /* chunks [first, end) */
};
struct ecfs_holes {
	uint32_t generation, count;
	uint32_t cap;		   /* ranges r has room for */
	struct ecfs_hole_range *r; /* sorted, apart */
};
void ecfs_holes_name(const uint8_t file_id[ECFS_FILE_ID_SIZE], char out[ECFS_HOLES_NAME_MAX]);
/* Bytes of a holes map holding count ranges. */
size_t ecfs_holes_size(uint32_t count);
/* Checks (every length and the ranges' order, then the MAC binding it to file_id) and parses
 * a holes map: -EUCLEAN malformed, -EPROTONOSUPPORT another version, -EBADMSG the MAC fails. */
int ecfs_holes_parse(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		     const uint8_t *buf, size_t len, struct ecfs_holes *out);
/* The bytes of the holes map m, malloc()ed. */
int ecfs_holes_serialize(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
			 const struct ecfs_holes *m, uint8_t **out, size_t *len);
/* Whether chunk idx is listed; whether all of, or any of, chunks [first, end) are. */
bool ecfs_holes_contains(const struct ecfs_holes *m, uint64_t idx);
bool ecfs_holes_covers(const struct ecfs_holes *m, uint64_t first, uint64_t end);
bool ecfs_holes_meets(const struct ecfs_holes *m, uint64_t first, uint64_t end);
/* Lists chunks [first, end) (merged with their neighbours; past ECFS_HOLES_MAX ranges the two
 * closest are joined); unlists them (a range may split). 0 or -errno. */
int ecfs_holes_add(struct ecfs_holes *m, uint64_t first, uint64_t end);
int ecfs_holes_remove(struct ecfs_holes *m, uint64_t first, uint64_t end);
/* Adds [first, end) only when no join is needed for it (a set of written chunks must not
 * grow into unwritten ones): 0 when added, 1 when dropped, or -errno. */
int ecfs_holes_add_unjoined(struct ecfs_holes *m, uint64_t first, uint64_t end);
/* Unlists every range of sub from m, stopping before a split would take m past
 * ECFS_HOLES_MAX ranges (what stays listed is a superset). 0 or -errno. */
int ecfs_holes_subtract(struct ecfs_holes *m, const struct ecfs_holes *sub);
int ecfs_holes_copy(struct ecfs_holes *dst, const struct ecfs_holes *src);
void ecfs_holes_free(struct ecfs_holes *m);
/* Reads and parses the holes map of file_id at the backing root (-ENOENT: none). */
int ecfs_holes_read(const struct ecfs_volume *v, int rootfd,
		    const uint8_t file_id[ECFS_FILE_ID_SIZE], struct ecfs_holes *out);
/* The holes map that fits blob header h: of its generation or the next one (a crash between
 * writing the map and the header). -EUCLEAN when missing, -EBADMSG when of another
 * generation (an older map swapped in), or ecfs_holes_read's errors. */
int ecfs_holes_load(const struct ecfs_volume *v, int rootfd, const struct ecfs_blob_header *h,
		    struct ecfs_holes *out);
/* Writes the holes map of file_id atomically (synced, directory too); removes it (none: 0). */
int ecfs_holes_write(const struct ecfs_volume *v, int rootfd,
		     const uint8_t file_id[ECFS_FILE_ID_SIZE], const struct ecfs_holes *m);
int ecfs_holes_delete(int rootfd, const uint8_t file_id[ECFS_FILE_ID_SIZE]);
/* Makes m (its generation set by the caller, above any the file had) the holes map of the
 * blob open as fd with header h: the map first, then h with SPARSE and m's generation, both
 * synced; h is updated on success. A crash in between leaves a map one generation ahead,
 * which ecfs_holes_load accepts. */
int ecfs_holes_commit(const struct ecfs_volume *v, int rootfd, int fd, struct ecfs_blob_header *h,
		      const struct ecfs_holes *m);

/* ---- small sealed values: symlink targets, extended attributes --------------------------- */

/* Randomized authenticated encryption for values up to 64 KiB, encoded as base64url text
 * (symlinks) or raw bytes (xattrs). domain separates uses ("symlink", "xattr:<name>"). */
#define ECFS_SEAL_OVERHEAD 32
int ecfs_seal(struct ecfs_crypto *c, const char *domain, const uint8_t *in, size_t len,
	      uint8_t *out);
int ecfs_unseal(struct ecfs_crypto *c, const char *domain, const uint8_t *in, size_t len,
		uint8_t *out);
/* The symlink form: out receives NUL-terminated base64url text; outsz bounds it. */
int ecfs_symlink_encrypt(struct ecfs_crypto *c, const char *target, char *out, size_t outsz);
int ecfs_symlink_decrypt(struct ecfs_crypto *c, const char *stored, char *out, size_t outsz);

/* Sealing with more associated data (up to 5 parts, after the domain, before the nonce). */
int ecfs_seal_ad(struct ecfs_crypto *c, const char *domain, const struct ecfs_iov *parts,
		 size_t nparts, const uint8_t *in, size_t len, uint8_t *out);
int ecfs_unseal_ad(struct ecfs_crypto *c, const char *domain, const struct ecfs_iov *parts,
		   size_t nparts, const uint8_t *in, size_t len, uint8_t *out);
/* Format 2: the target sealed with domain ECFS_SYMLINK_DOMAIN_2 and the link's place as
 * associated data; at NULL: the format-1 form above. */
#define ECFS_SYMLINK_DOMAIN_2 "symlink 2"
int ecfs_symlink_encrypt_at(struct ecfs_crypto *c, const struct ecfs_place *at, const char *target,
			    char *out, size_t outsz);
int ecfs_symlink_decrypt_at(struct ecfs_crypto *c, const struct ecfs_place *at, const char *stored,
			    char *out, size_t outsz);
/* Format 2 extended attributes: the name is encrypted with ecfs_name_encrypt under the
 * object's ID (file or directory ID) in place of a directory ID; the value is sealed in
 * domain "xattr 2" with the object's ID and that encoded name (without "user."). */
int ecfs_xattr_seal_at(struct ecfs_crypto *c, const uint8_t oid[ECFS_FILE_ID_SIZE],
		       const char *encoded, const uint8_t *in, size_t len, uint8_t *out);
int ecfs_xattr_unseal_at(struct ecfs_crypto *c, const uint8_t oid[ECFS_FILE_ID_SIZE],
			 const char *encoded, const uint8_t *in, size_t len, uint8_t *out);

/*
 * Long symlink targets (man/envcryptfs.5, "Symbolic links"). A stored target longer than
 * ECFS_LINK_INLINE_MAX does not fit in a backing symlink: it goes to a side file at the volume
 * root named ECFS_LINK_PREFIX + base64url(SHA-256(stored)), and the backing symlink's target
 * is that name, the reference. A reference is ECFS_LINK_REF_LEN (61) bytes long, a length
 * that no base64url text has (none is 1 mod 4), so a stat tells it from a stored target.
 */
#define ECFS_LINK_INLINE_MAX 4095
#define ECFS_LINK_REF_LEN    61
/* Room for the stored form of the longest target (PATH_MAX - 1 = 4095 bytes) and a NUL. */
#define ECFS_SYMLINK_STORED_MAX 5504
/* The reference (and side-file name) for stored text. */
void ecfs_link_ref_name(const char *stored, char ref[ECFS_LINK_REF_LEN + 1]);
/* Reads side file ref of the volume root rootfd into stored (NUL-terminated): 0, -ENOENT,
 * -EBADMSG when it does not hash to its name (or is empty or too long), another -errno. */
int ecfs_link_side_read(int rootfd, const char *ref, char stored[ECFS_SYMLINK_STORED_MAX]);
/* Whether a backing symlink's target (or a root entry's name) is a reference. */
bool ecfs_link_is_ref(const char *s);
/* The plaintext target length for stored text of stored_len bytes (0 when too short). */
size_t ecfs_symlink_plain_len(size_t stored_len);

#endif /* ENVCRYPTFS_H */
