/* SPDX-License-Identifier: MIT */
/* crypto.c - AES-256-GCM (util/aead.c) in the layout of the store and of transit ciphertexts,
 * UUIDs, key names. */
#include "kmsd_store.h"

#include <stdio.h>
#include <string.h>

/* C || tag, the layout of the store's records and of transit ciphertexts. */
int kmsd_gcm_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t len, uint8_t *out)
{
	return ecfs_gcm_seal(key, nonce, aad, aad_len, in, len, out, out + len);
}

int kmsd_gcm_open(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		  const uint8_t *in, size_t len, uint8_t *out)
{
	if (len < KMSD_TAG_SIZE)
		return -EBADMSG;
	return ecfs_gcm_open(key, nonce, aad, aad_len, in, len - KMSD_TAG_SIZE, out,
			     in + len - KMSD_TAG_SIZE);
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
