/* SPDX-License-Identifier: MIT */
/* aead.c - one-shot AES-256-GCM with a 96-bit nonce and a 128-bit tag, for small secrets
 * sealed whole (the canary, export files, kmsd's store and transit ciphertexts). File
 * contents use the per-thread contexts of lib/cipher.c instead. */
#include "ecfs_util.h"

#include <limits.h>
#include <openssl/evp.h>

/* One pass; enc selects the direction. tag is written (enc) or checked (!enc). */
static int gcm(int enc, const uint8_t key[32], const uint8_t nonce[ECFS_GCM_NONCE_SIZE],
	       const void *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
	       uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx;
	int n, r = 0;

	if (len > INT_MAX || aad_len > INT_MAX)
		return -EINVAL;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1 ||
	    (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
	    (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1) ||
	    (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, ECFS_GCM_TAG_SIZE, tag) != 1))
		r = -EIO;
	else if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
		r = enc ? -EIO : -EBADMSG;
	else if (enc &&
		 EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, ECFS_GCM_TAG_SIZE, tag) != 1)
		r = -EIO;
	EVP_CIPHER_CTX_free(ctx); /* wipes the key schedule */
	if (r < 0 && !enc)
		ecfs_wipe(out, len);
	return r;
}

int ecfs_gcm_seal(const uint8_t key[32], const uint8_t nonce[ECFS_GCM_NONCE_SIZE], const void *aad,
		  size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
		  uint8_t tag[ECFS_GCM_TAG_SIZE])
{
	return gcm(1, key, nonce, aad, aad_len, in, len, out, tag);
}

int ecfs_gcm_open(const uint8_t key[32], const uint8_t nonce[ECFS_GCM_NONCE_SIZE], const void *aad,
		  size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
		  const uint8_t tag[ECFS_GCM_TAG_SIZE])
{
	uint8_t t[ECFS_GCM_TAG_SIZE];

	/* OpenSSL takes the expected tag through a non-const pointer. */
	for (size_t i = 0; i < sizeof(t); i++)
		t[i] = tag[i];
	return gcm(0, key, nonce, aad, aad_len, in, len, out, t);
}
