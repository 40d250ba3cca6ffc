/* SPDX-License-Identifier: MIT */
/*
 * seal.c - randomized SIV for small values (symlink targets, extended attribute values):
 * nonce || SIV(AD = domain, nonce) (man/envcryptfs.5, "Symlinks and extended attributes").
 */
#include "internal.h"

#include <string.h>
#include <stdlib.h>

#define SEAL_NONCE 16
#define SEAL_MAX   (64 * 1024)

/* Associated data: the domain, the caller's parts, then the nonce. */
#define SEAL_MAX_PARTS 5

static int seal_ad(const char *domain, const struct ecfs_iov *parts, size_t nparts,
		   const uint8_t *nonce, struct ecfs_iov ad[SEAL_MAX_PARTS + 2])
{
	if (nparts > SEAL_MAX_PARTS)
		return -EINVAL;
	ad[0] = (struct ecfs_iov){domain, strlen(domain)};
	for (size_t i = 0; i < nparts; i++)
		ad[1 + i] = parts[i];
	ad[1 + nparts] = (struct ecfs_iov){nonce, SEAL_NONCE};
	return (int)nparts + 2;
}

int ecfs_seal_ad(struct ecfs_crypto *c, const char *domain, const struct ecfs_iov *parts,
		 size_t nparts, const uint8_t *in, size_t len, uint8_t *out)
{
	struct ecfs_iov ad[SEAL_MAX_PARTS + 2];
	int nad = seal_ad(domain, parts, nparts, out, ad), r;

	if (nad < 0)
		return nad;
	if (len > SEAL_MAX)
		return -E2BIG;
	r = ecfs_random(out, SEAL_NONCE);
	if (r == 0)
		r = ecfs_siv_encrypt(ecfs_crypto_seal(c), ad, (size_t)nad, in, len,
				     out + SEAL_NONCE);
	return r < 0 ? r : (int)(len + ECFS_SEAL_OVERHEAD);
}

int ecfs_unseal_ad(struct ecfs_crypto *c, const char *domain, const struct ecfs_iov *parts,
		   size_t nparts, const uint8_t *in, size_t len, uint8_t *out)
{
	struct ecfs_iov ad[SEAL_MAX_PARTS + 2];
	int nad = seal_ad(domain, parts, nparts, in, ad), r;

	if (nad < 0)
		return nad;
	if (len < ECFS_SEAL_OVERHEAD || len > SEAL_MAX + ECFS_SEAL_OVERHEAD)
		return -EBADMSG;
	r = ecfs_siv_decrypt(ecfs_crypto_seal(c), ad, (size_t)nad, in + SEAL_NONCE,
			     len - SEAL_NONCE, out);
	return r < 0 ? -EBADMSG : (int)(len - ECFS_SEAL_OVERHEAD);
}

int ecfs_seal(struct ecfs_crypto *c, const char *domain, const uint8_t *in, size_t len,
	      uint8_t *out)
{
	return ecfs_seal_ad(c, domain, NULL, 0, in, len, out);
}

int ecfs_unseal(struct ecfs_crypto *c, const char *domain, const uint8_t *in, size_t len,
		uint8_t *out)
{
	return ecfs_unseal_ad(c, domain, NULL, 0, in, len, out);
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
