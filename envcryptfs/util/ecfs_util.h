/* SPDX-License-Identifier: MIT */
/*
 * ecfs_util.h - the utilities every part of envcryptfs shares, the library, the tools and
 * the KMS alike: error text, whole-buffer and atomic file I/O, secret memory and randomness,
 * base64, and SHA-256/HMAC/HKDF. Nothing here knows of volumes; libecfsutil.a holds it.
 * Functions returning int give 0 (or a count) on success and a negative errno on failure.
 */
#ifndef ECFS_UTIL_H
#define ECFS_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct stat;

#define ECFS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- error.c: errors ------------------------------------------------------------------- */

/* The description of the calling thread's last library failure ("" when none). */
const char *ecfs_last_error(void);
/* What to say about failure err of the last call: the message it recorded, or else err's
 * text. Each entry point clears the message first, so an older one never shows. */
const char *ecfs_error_text(int err);
/* Forgets the calling thread's description (each library entry point starts so). */
void ecfs_clear_error(void);
/* Sets that description and returns err: also for the callbacks a tool gives the library (a
 * KMS refused or failed), whose words the library passes on. */
int ecfs_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A short phrase for a negative errno, with the library's meanings above. */
const char *ecfs_strerror(int err);

/* ---- io.c, atomic.c: I/O --------------------------------------------------------------- */

/* Reads up to len bytes at off, retrying short reads; returns the bytes read (short only at
 * end of file) or -errno. */
ssize_t ecfs_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* The same, scattered over cnt buffers (any number: IOV_MAX at a time); iov is used up. */
ssize_t ecfs_preadv_full(int fd, struct iovec *iov, size_t cnt, uint64_t off);
/* Writes all len bytes at off, retrying short writes; 0 or -errno (the errno of the call
 * that stopped it, so a short write on a full disk ends in -ENOSPC). */
int ecfs_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* The same, gathered from cnt buffers (any number: IOV_MAX at a time); iov is used up. */
int ecfs_pwritev_full(int fd, struct iovec *iov, size_t cnt, uint64_t off);
/* Writes all len bytes, retrying short writes; 0 or -errno. */
int ecfs_write_full(int fd, const void *buf, size_t len);
/* Opens name under dirfd as openat(2) does, adding O_NOFOLLOW, O_NONBLOCK, O_NOCTTY and
 * O_CLOEXEC, so that a symbolic link, FIFO or device planted in a backing directory is never
 * followed or waited on; returns the descriptor (O_NONBLOCK cleared again), or -EUCLEAN with
 * a message naming name and what it is when it is not of type (S_IFREG or S_IFDIR). */
int ecfs_open_typed(int dirfd, const char *name, int flags, mode_t mode, mode_t type);
/* Reads regular file name under dirfd (opened as ecfs_open_typed does) whole into *buf
 * (malloc'ed, *len bytes, for the caller to free): -EFBIG when it holds more than max bytes. */
int ecfs_read_whole(int dirfd, const char *name, size_t max, uint8_t **buf, size_t *len);
/* "a FIFO", "a symbolic link", ...: what an object of st_mode mode is, for messages. */
const char *ecfs_file_type_name(mode_t mode);

/* Temporary names of atomic writes: this prefix and 16 random hex digits (fsck and mkfs
 * know such names in a backing directory as leftovers of interrupted updates). */
#define ECFS_TMP_PREFIX	  "envcryptfs.tmp."
#define ECFS_TMP_NAME_MAX 40
int ecfs_tmp_name(char out[ECFS_TMP_NAME_MAX]);
/* Writes name atomically: a temporary file, fsync, rename, fsync of the directory. */
int ecfs_write_file_atomic(int dirfd, const char *name, const uint8_t *buf, size_t len,
			   mode_t mode);

/* Big-endian integers of n bytes (n <= 8) in on-disk structures. */
static inline void ecfs_put_be(uint8_t *p, uint64_t x, int n)
{
	for (int i = n - 1; i >= 0; i--, x >>= 8)
		p[i] = (uint8_t)x;
}

static inline uint64_t ecfs_get_be(const uint8_t *p, int n)
{
	uint64_t x = 0;

	for (int i = 0; i < n; i++)
		x = x << 8 | p[i];
	return x;
}

/* ---- secmem.c: secrets in locked, wiped memory; randomness ------------------------------ */

struct ecfs_secret;

/* A zeroed buffer of len bytes that is mlock()ed (best effort) and excluded from core dumps. */
struct ecfs_secret *ecfs_secret_new(size_t len);
uint8_t *ecfs_secret_data(const struct ecfs_secret *s);
size_t ecfs_secret_len(const struct ecfs_secret *s);
/* Shortens the visible length (the tail is wiped). */
void ecfs_secret_truncate(struct ecfs_secret *s, size_t len);
/* Wipes and frees; NULL is fine. */
void ecfs_secret_free(struct ecfs_secret *s);
/* Reads a whole file (min..max bytes) into a secret; st (may be NULL) receives the status of
 * the file read, for the caller's checks of its mode and owner. */
int ecfs_secret_read_file(const char *path, size_t min, size_t max, struct ecfs_secret **out,
			  struct stat *st);
/* Like ecfs_secret_read_file, but one trailing newline is dropped (passphrase files). */
int ecfs_secret_read_passphrase_file(const char *path, struct ecfs_secret **out, struct stat *st);
/* Prompts on /dev/tty with echo off; confirm asks twice and requires a match. */
int ecfs_secret_read_passphrase_tty(const char *prompt, bool confirm, struct ecfs_secret **out);
/* Constant-time comparison; 0 when equal. */
int ecfs_memcmp_ct(const void *a, const void *b, size_t len);

/* A piece of bytes, for functions that take several. */
struct ecfs_iov {
	const void *base;
	size_t len;
};

/* Stops this process from dumping core and from being ptrace-attached by non-root. */
void ecfs_harden_process(void);

/* Zeroes len bytes in a way the compiler cannot drop. */
void ecfs_wipe(void *p, size_t len);
/* Wipes the stack below the caller (what the functions it called left there) and the vector
 * registers (what memcpy and the ciphers last moved through them). The stack must have 128 KiB
 * to spare. */
void ecfs_wipe_stack(void);
/* Fills buf from OpenSSL's RAND_bytes; the only source of randomness. */
int ecfs_random(void *buf, size_t len);

/* ---- secheap.c: the heap of OpenSSL and libcurl, locked, not dumped, wiped on free ------ */

/* Whether OpenSSL took the allocator (it does unless it allocated before main()). */
bool ecfs_secheap_installed(void);
/* For curl_global_init_mem. */
void *ecfs_secheap_malloc(size_t n);
void ecfs_secheap_free(void *p);
void *ecfs_secheap_realloc(void *p, size_t n);
char *ecfs_secheap_strdup(const char *s);
void *ecfs_secheap_calloc(size_t nmemb, size_t size);

/* ---- b64.c: base64url without padding (RFC 4648 section 5) ----------------------------- */

/* Returns the encoded length; out must hold ecfs_b64_encoded_len(len) + 1. */
size_t ecfs_b64_encoded_len(size_t len);
size_t ecfs_b64url_encode(const uint8_t *in, size_t len, char *out);
/* Returns the decoded length or -EINVAL for a bad character or length; strict: unused bits
 * must be zero so that each byte string has one encoding. */
int ecfs_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outsz);
/* Standard base64 with padding, for JSON fields. */
size_t ecfs_b64_encode(const uint8_t *in, size_t len, char *out);
int ecfs_b64_decode(const char *in, size_t len, uint8_t *out, size_t outsz);

/* ---- digest.c: SHA-256, HMAC-SHA-256, HKDF-SHA-256 (RFC 5869) through OpenSSL 3 ------- */

#define ECFS_HMAC_SIZE 32

int ecfs_sha256(const void *data, size_t len, uint8_t out[32]);
/* HMAC over the concatenation of the iovs. */
int ecfs_hmac_sha256(const uint8_t *key, size_t key_len, const struct ecfs_iov *iov, size_t niov,
		     uint8_t out[ECFS_HMAC_SIZE]);
int ecfs_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* ---- aead.c: one-shot AES-256-GCM for small secrets sealed whole ---------------------- */

#define ECFS_GCM_NONCE_SIZE 12
#define ECFS_GCM_TAG_SIZE   16

/* out receives len bytes of ciphertext (it may be in), tag the tag. */
int ecfs_gcm_seal(const uint8_t key[32], const uint8_t nonce[ECFS_GCM_NONCE_SIZE], const void *aad,
		  size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
		  uint8_t tag[ECFS_GCM_TAG_SIZE]);
/* -EBADMSG (out wiped) when tag does not authenticate in and aad under key and nonce. */
int ecfs_gcm_open(const uint8_t key[32], const uint8_t nonce[ECFS_GCM_NONCE_SIZE], const void *aad,
		  size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
		  const uint8_t tag[ECFS_GCM_TAG_SIZE]);

/* ---- fault.c: fault injection, in test builds only ---------------------------------------- */

/* The steps of an atomic file update (ecfs_write_file_atomic), in order. */
enum ecfs_step { ECFS_STEP_WRITE, ECFS_STEP_FSYNC, ECFS_STEP_RENAME, ECFS_STEP_DIR_FSYNC };

/* ecfs_fault_at() asks the caller of a write step to write half of the data, then fail. */
#define ECFS_FAULT_SHORT 1
/* The exit status of a process that an injected crash ended. */
#define ECFS_FAULT_CRASH_STATUS 99

#ifdef ECFS_FAULT_INJECTION
/* Before step of updating name: 0 to go on, a negative errno to fail as the test asked,
 * ECFS_FAULT_SHORT at a write step; an injected crash does not return. */
int ecfs_fault_at(enum ecfs_step step, const char *name);
/* ECFS_FAULT_WRITE_DELAY_MS=N: a slow disk; the daemon calls it before serving each write. */
void ecfs_fault_write_delay(void);
/* ECFS_FAULT_LOOKUP_DELAY_MS=N: a slow lookup; the daemon calls it between opening a regular
 * file's entry and recording where it found it. */
void ecfs_fault_lookup_delay(void);
/* ECFS_FAULT_BIND_CHECK_DELAY_MS=N: a slow check at open; the daemon calls it when the link
 * file of a hard-linked file does not name the place it recorded, before it decides. */
void ecfs_fault_bind_check_delay(void);
/* ECFS_FAULT_RENAME_DELAY_MS=N: a slow rename; the daemon calls it with the moved regular
 * file's io lock held, before it looks at the name the rename replaces. */
void ecfs_fault_rename_delay(void);
/* ECFS_FAULT_TPM2_DEADLINE_S=N: the TPM deadline in seconds (normal when unset). */
int ecfs_fault_tpm2_deadline(int normal);
#else
static inline int ecfs_fault_at(enum ecfs_step step, const char *name)
{
	(void)step;
	(void)name;
	return 0;
}
static inline void ecfs_fault_write_delay(void)
{
}
static inline void ecfs_fault_lookup_delay(void)
{
}
static inline void ecfs_fault_bind_check_delay(void)
{
}
static inline void ecfs_fault_rename_delay(void)
{
}
static inline int ecfs_fault_tpm2_deadline(int normal)
{
	return normal;
}
#endif

#endif /* ECFS_UTIL_H */
