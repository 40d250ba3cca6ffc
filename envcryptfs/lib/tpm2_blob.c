/* SPDX-License-Identifier: MIT */
/*
 * tpm2_blob.c - a TPM2 slot's blobs and PCR lists: the sealed key's public and private parts
 * in the TPM's marshalled form (libtss2-mu, which checks every length), and "0,7" lists.
 * Everything here reads header bytes that nobody has authenticated yet.
 */
#include "tpm2_blob.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#define PCR_COUNT 24 /* PCRs 0 to 23, as every PC client TPM has them */

/* tpm2-tss logs what it refuses to stderr, which would add lines to the one-line messages
 * returned; TSS2_LOG set by the user still wins. Set before main(), while single-threaded. */
__attribute__((constructor)) static void quiet_tss2(void)
{
	setenv("TSS2_LOG", "all+none", 0);
}

int ecfs_tpm2_blobs_marshal(const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
			    struct ecfs_tpm2_slot *s)
{
	size_t pub_len = 0, priv_len = 0;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, s->pub, sizeof(s->pub), &pub_len) ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, s->priv, sizeof(s->priv), &priv_len))
		return ecfs_fail(-ENOBUFS, "the TPM's sealed key does not fit in a key slot");
	s->pub_len = (uint16_t)pub_len;
	s->priv_len = (uint16_t)priv_len;
	return 0;
}

static int damaged(const char *why)
{
	return ecfs_fail(-EUCLEAN, "header: TPM2 key slot: %s", why);
}

/* What the slot's public part must be: the kind of object esys_seal makes. */
static int check_public(const TPMT_PUBLIC *p, uint32_t pcrs)
{
	bool user_auth = p->objectAttributes & TPMA_OBJECT_USERWITHAUTH;

	if (p->type != TPM2_ALG_KEYEDHASH || p->nameAlg != TPM2_ALG_SHA256 ||
	    p->parameters.keyedHashDetail.scheme.scheme != TPM2_ALG_NULL)
		return damaged("the sealed key is not a SHA-256 keyedhash object");
	if (pcrs && (user_auth || p->authPolicy.size != 32))
		return damaged("the sealed key has no PCR policy, but the slot lists PCRs");
	if (!pcrs && (!user_auth || p->authPolicy.size != 0))
		return damaged("the sealed key has a policy, but the slot lists no PCRs");
	return 0;
}

int ecfs_tpm2_blobs_unmarshal(const struct ecfs_tpm2_slot *s, TPM2B_PUBLIC *pub,
			      TPM2B_PRIVATE *priv)
{
	TPM2B_PUBLIC pub_buf;
	TPM2B_PRIVATE priv_buf;
	size_t off = 0;

	/* The unmarshalling refuses a destination whose size is not zero. */
	pub = pub ? pub : &pub_buf;
	priv = priv ? priv : &priv_buf;
	memset(pub, 0, sizeof(*pub));
	memset(priv, 0, sizeof(*priv));
	if (s->pub_len > sizeof(s->pub) || s->priv_len > sizeof(s->priv))
		return damaged("a blob is too long");
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(s->pub, s->pub_len, &off, pub) || off != s->pub_len)
		return damaged("'public' is not one TPM2B_PUBLIC");
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(s->priv, s->priv_len, &off, priv) ||
	    off != s->priv_len || priv->size == 0)
		return damaged("'private' is not one TPM2B_PRIVATE");
	return check_public(&pub->publicArea, s->pcrs);
}

/* One list item: "N" or "N-M". */
static int parse_item(const char *p, const char **end, uint32_t *mask)
{
	unsigned long first, last;
	char *e;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	first = last = strtoul(p, &e, 10);
	if (*e == '-') {
		if (e[1] < '0' || e[1] > '9')
			return -EINVAL;
		last = strtoul(e + 1, &e, 10);
	}
	if (first > last || last >= PCR_COUNT)
		return -EINVAL;
	for (unsigned long i = first; i <= last; i++)
		*mask |= 1u << i;
	*end = e;
	return 0;
}

int ecfs_tpm2_parse_pcrs(const char *list, uint32_t *mask)
{
	const char *p = list;
	uint32_t m = 0;

	for (;;) {
		if (parse_item(p, &p, &m) < 0)
			return -EINVAL;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	*mask = m;
	return 0;
}

void ecfs_tpm2_format_pcrs(uint32_t mask, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; i < PCR_COUNT && n < len; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%d", n ? "," : "", i);
}
