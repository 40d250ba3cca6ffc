/* SPDX-License-Identifier: MIT */
/*
 * keys.c - the key hierarchy below the DEK: one HKDF-SHA-256 subkey per purpose, each with
 * its own label (internal.h), salted with the volume UUID; and the canary that proves a DEK
 * belongs to this volume.
 */
#include "internal.h"

#include <string.h>

static int derive(const struct ecfs_keys *k, const struct ecfs_header *h, const char *label,
		  uint8_t *out, size_t len)
{
	return ecfs_hkdf_sha256(k->dek, ECFS_DEK_SIZE, h->uuid, ECFS_UUID_SIZE,
				(const uint8_t *)label, strlen(label), out, len);
}

int ecfs_keys_derive(struct ecfs_keys *k, const struct ecfs_header *h)
{
	const struct ecfs_mode *m = ecfs_mode_get(h->cipher);
	int r;

	if (!m)
		return -EPROTONOSUPPORT;
	r = derive(k, h, ECFS_LABEL_CONTENTS, k->contents, m->contents_key_len);
	if (r == 0)
		r = derive(k, h, ECFS_LABEL_NAMES, k->names, m->siv_key_len);
	if (r == 0)
		r = derive(k, h, ECFS_LABEL_SEAL, k->seal, m->siv_key_len);
	if (r == 0)
		r = derive(k, h, ECFS_LABEL_CANARY, k->canary, sizeof(k->canary));
	if (r == 0)
		r = derive(k, h, ECFS_LABEL_HEADER_MAC, k->header_mac, sizeof(k->header_mac));
	/* Format 1 has no use for it but an upgrade to format 2 does. */
	if (r == 0)
		r = derive(k, h, ECFS_LABEL_BIND, k->bind, sizeof(k->bind));
	return r;
}

/* The canary is a known plaintext sealed with AES-256-GCM under the canary key, with the
 * volume UUID as associated data. */
static int canary_crypt(const struct ecfs_keys *k, const struct ecfs_header *h, bool enc,
			const uint8_t *in, uint8_t *out, uint8_t *tag)
{
	if (enc)
		return ecfs_gcm_seal(k->canary, h->canary_nonce, h->uuid, ECFS_UUID_SIZE, in,
				     ECFS_CANARY_SIZE, out, tag);
	return ecfs_gcm_open(k->canary, h->canary_nonce, h->uuid, ECFS_UUID_SIZE, in,
			     ECFS_CANARY_SIZE, out, tag);
}

int ecfs_canary_make(const struct ecfs_keys *k, struct ecfs_header *h)
{
	int r = ecfs_random(h->canary_nonce, ECFS_CANARY_NONCE);

	if (r < 0)
		return r;
	return canary_crypt(k, h, true, (const uint8_t *)ECFS_CANARY_PLAIN, h->canary,
			    h->canary + ECFS_CANARY_SIZE);
}

int ecfs_canary_check(const struct ecfs_keys *k, const struct ecfs_header *h)
{
	uint8_t plain[ECFS_CANARY_SIZE], tag[ECFS_GCM_TAG];
	int r;

	memcpy(tag, h->canary + ECFS_CANARY_SIZE, sizeof(tag));
	r = canary_crypt(k, h, false, h->canary, plain, tag);
	if (r == 0 && ecfs_memcmp_ct(plain, ECFS_CANARY_PLAIN, ECFS_CANARY_SIZE) != 0)
		r = -EBADMSG;
	ecfs_wipe(plain, sizeof(plain));
	return r;
}
