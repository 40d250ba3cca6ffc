/* SPDX-License-Identifier: MIT */
/*
 * seal.c - randomized SIV for small values (symlink targets, extended attribute values):
 * nonce || SIV(AD = domain, nonce) (man/envcryptfs.5, "Symlinks and extended attributes").
 */
#include "internal.h"

#include <string.h>
#include <stdlib.h>

struct ecfs_siv *ecfs_crypto_seal(struct ecfs_crypto *c);

#define SEAL_NONCE 16
#define SEAL_MAX   (64 * 1024)

int ecfs_seal(struct ecfs_crypto *c, const char *domain, const uint8_t *in, size_t len,
	      uint8_t *out)
{
	struct ecfs_iov ad[2] = {{domain, strlen(domain)}, {out, SEAL_NONCE}};
	int r;

	if (len > SEAL_MAX)
		return -E2BIG;
	r = ecfs_random(out, SEAL_NONCE);
	if (r == 0)
		r = ecfs_siv_encrypt(ecfs_crypto_seal(c), ad, 2, in, len, out + SEAL_NONCE);
	return r < 0 ? r : (int)(len + ECFS_SEAL_OVERHEAD);
}

int ecfs_unseal(struct ecfs_crypto *c, const char *domain, const uint8_t *in, size_t len,
		uint8_t *out)
{
	struct ecfs_iov ad[2] = {{domain, strlen(domain)}, {in, SEAL_NONCE}};
	int r;

	if (len < ECFS_SEAL_OVERHEAD || len > SEAL_MAX + ECFS_SEAL_OVERHEAD)
		return -EBADMSG;
	r = ecfs_siv_decrypt(ecfs_crypto_seal(c), ad, 2, in + SEAL_NONCE, len - SEAL_NONCE, out);
	return r < 0 ? -EBADMSG : (int)(len - ECFS_SEAL_OVERHEAD);
}

int ecfs_symlink_encrypt(struct ecfs_crypto *c, const char *target, char *out, size_t outsz)
{
	size_t len = strlen(target);
	uint8_t *sealed = malloc(len + ECFS_SEAL_OVERHEAD);
	int r;

	if (!sealed)
		return -ENOMEM;
	r = ecfs_seal(c, "symlink", (const uint8_t *)target, len, sealed);
	if (r >= 0 && ecfs_b64_encoded_len((size_t)r) + 1 > outsz)
		r = -ENAMETOOLONG;
	if (r >= 0)
		r = (int)ecfs_b64url_encode(sealed, (size_t)r, out);
	free(sealed);
	return r;
}

int ecfs_symlink_decrypt(struct ecfs_crypto *c, const char *stored, char *out, size_t outsz)
{
	size_t slen = strlen(stored);
	uint8_t *sealed = malloc(slen);
	int n, r;

	if (!sealed)
		return -ENOMEM;
	n = ecfs_b64url_decode(stored, slen, sealed, slen);
	if (n < ECFS_SEAL_OVERHEAD || (size_t)n - ECFS_SEAL_OVERHEAD + 1 > outsz) {
		free(sealed);
		return n < ECFS_SEAL_OVERHEAD ? -EBADMSG : -ENAMETOOLONG;
	}
	r = ecfs_unseal(c, "symlink", sealed, (size_t)n, (uint8_t *)out);
	if (r >= 0)
		out[r] = '\0';
	free(sealed);
	return r;
}
