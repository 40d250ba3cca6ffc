/* SPDX-License-Identifier: MIT */
/*
 * crypto_ctx.h - the insides of a per-thread crypto context and of a per-file key, shared by
 * cipher.c (contexts), chunk.c (chunk sealing) and filekey.c (the key pool) alone.
 */
#ifndef ECFS_CRYPTO_CTX_H
#define ECFS_CRYPTO_CTX_H

#include "internal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <time.h>

#define NONCE_POOL 4096

struct ecfs_crypto {
	const struct ecfs_volume *vol;
	const struct ecfs_mode *mode;
	EVP_CIPHER *gcm_cipher;
	EVP_CIPHER_CTX *gcm;
	struct ecfs_xts *xts;
	struct ecfs_siv *names;
	struct ecfs_siv *seal;
	uint8_t *scratch; /* stored chunks for ranged I/O (blob.c); mmap()ed when large */
	size_t scratch_len;
	time_t scratch_big_used; /* when a call last needed more than SCRATCH_SMALL */
	uint8_t *plain; /* two chunks of plaintext for partial chunks (blob.c), wiped after use */
	struct ecfs_helpers helpers; /* offer NULL: none */
	/* GCM nonces are drawn from RAND_bytes in batches: one call per chunk costs more than
	 * encrypting a 4 KiB chunk. Each byte of the pool is used once. */
	uint8_t *nonce_pool; /* NONCE_POOL bytes in nonce_mem */
	size_t nonce_pos;
	/* Secret memory, so MADV_WIPEONFORK: a forked child finds the pool all zeros, and as a
	 * nonce of zeros is never used, it skips them all and draws a pool of its own. (A
	 * getpid() per chunk did the same at the cost of a system call per 4 KiB.) */
	struct ecfs_secret *nonce_mem;
	/* The key the GCM context is set up with (in nonce_mem, after the pool), so that
	 * consecutive chunks of one file skip the key schedule. */
	uint8_t *gcm_key;
	bool gcm_keyed; /* protected by gcm_lock */
	/* Held while the GCM context is in use: when a file key is dropped, every context
	 * still keyed with it is cleared (forget_file_key), whichever thread owns it. */
	pthread_mutex_t gcm_lock;
	struct ecfs_crypto *next_gcm, *prev_gcm; /* protected by gcm_list_lock */
};

struct ecfs_file_key {
	uint8_t file_id[ECFS_FILE_ID_SIZE];
	uint8_t key[32];
	/* Format 2, XTS: a short final chunk is decrypted under the blob header's tail nonce
	 * and encrypted under tail_next, a fresh one; tail_used says that happened since the
	 * last ecfs_file_key_tail_advance (the one field encryption writes: callers serialize
	 * the writes of a file). */
	uint8_t tail_nonce[16], tail_next[16];
	bool tail_used;
	/* Which all-zero stored chunks are holes: any (format 1), or those holes lists
	 * (format 2; NULL: none, a dense file). Not owned. */
	bool holes_any;
	const struct ecfs_holes *holes;
};

/* Wipes key's GCM key schedule from every context keyed with it (cipher.c). */
void ecfs_crypto_forget_key(const uint8_t key[32]);

#endif /* ECFS_CRYPTO_CTX_H */
