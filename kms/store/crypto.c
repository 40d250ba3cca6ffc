/* SPDX-License-Identifier: MIT */
/* crypto.c - AES-256-GCM for the store and for transit ciphertexts, UUIDs, key names. */
#include "kmsd_store.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* One GCM pass; enc selects the direction. tag is written (enc) or checked (!enc). */
static int gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
	       size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
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
	    (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KMSD_TAG_SIZE, tag) != 1))
		r = -EIO;
	else if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
		r = enc ? -EIO : -EBADMSG;
	else if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KMSD_TAG_SIZE, tag) != 1)
		r = -EIO;
	EVP_CIPHER_CTX_free(ctx);
	if (r < 0 && !enc)
		ecfs_wipe(out, len);
	return r;
}

int kmsd_gcm_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t len, uint8_t *out)
{
	return gcm(1, key, nonce, aad, aad_len, in, len, out, out + len);
}

int kmsd_gcm_open(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t tag[KMSD_TAG_SIZE];

	if (len < KMSD_TAG_SIZE)
		return -EBADMSG;
	memcpy(tag, in + len - KMSD_TAG_SIZE, KMSD_TAG_SIZE);
	return gcm(0, key, nonce, aad, aad_len, in, len - KMSD_TAG_SIZE, out, tag);
}

void kmsd_uuid_str(const uint8_t u[ECFS_UUID_SIZE], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

int kmsd_request_id(char out[37])
{
	uint8_t u[ECFS_UUID_SIZE];
	int r = ecfs_random(u, sizeof(u));

	if (r < 0)
		return r;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	kmsd_uuid_str(u, out);
	return 0;
}

static bool word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

bool kmsd_valid_key_name(const char *s, size_t len)
{
	if (len == 0 || len > KMSD_NAME_MAX || !word_char(s[0]) || !word_char(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!word_char(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '@')
			return false;
	return true;
}
