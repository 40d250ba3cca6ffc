/* SPDX-License-Identifier: MIT */
/*
 * siv.c - SIV (RFC 5297) over AES or SM4: S2V with CMAC for the synthetic IV, then CTR.
 *
 * OpenSSL 3.0 has AES-SIV but no SM4-SIV, so both are built here from CMAC and CTR. The
 * algorithms are fetched and keyed once per object; each call only resets state. An object
 * is not safe for concurrent use.
 */
#include "internal.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#define SIV_BLOCK  16
#define SIV_MAX_AD 8

struct ecfs_siv {
	EVP_MAC_CTX *cmac;   /* keyed with K1 */
	EVP_CIPHER_CTX *ctr; /* keyed with K2; the IV is set per call */
};

struct siv_algs {
	const char *cbc; /* CMAC names its block cipher by a CBC mode */
	const char *ctr;
};

static int siv_algs(enum ecfs_block_cipher bc, size_t key_len, struct siv_algs *a)
{
	if (bc == ECFS_BC_AES && key_len == 32)
		*a = (struct siv_algs){"AES-128-CBC", "AES-128-CTR"};
	else if (bc == ECFS_BC_AES && key_len == 64)
		*a = (struct siv_algs){"AES-256-CBC", "AES-256-CTR"};
	else if (bc == ECFS_BC_SM4 && key_len == 32)
		*a = (struct siv_algs){"SM4-CBC", "SM4-CTR"};
	else
		return -EINVAL;
	return 0;
}

static EVP_MAC_CTX *cmac_new(const char *cbc, const uint8_t *key, size_t key_len)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	EVP_MAC *mac;

	mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	if (mac)
		ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!ctx)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)cbc, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, key_len, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static EVP_CIPHER_CTX *ctr_new(const char *name, const uint8_t *key)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	EVP_CIPHER *c;
	int ok;

	if (!ctx)
		return NULL;
	c = EVP_CIPHER_fetch(NULL, name, NULL);
	ok = c && EVP_EncryptInit_ex2(ctx, c, key, NULL, NULL) == 1;
	EVP_CIPHER_free(c);
	if (!ok) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int ecfs_siv_new(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		 struct ecfs_siv **out)
{
	size_t half = key_len / 2;
	struct siv_algs a;
	struct ecfs_siv *s;

	*out = NULL;
	if (siv_algs(bc, key_len, &a))
		return ecfs_fail(-EINVAL, "siv: bad key length %zu", key_len);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ecfs_fail(-ENOMEM, "siv: out of memory");
	s->cmac = cmac_new(a.cbc, key, half);
	s->ctr = ctr_new(a.ctr, key + half);
	if (!s->cmac || !s->ctr) {
		ecfs_siv_free(s);
		return ecfs_fail(-EPROTONOSUPPORT, "siv: cannot set up CMAC/CTR over %s", a.cbc);
	}
	*out = s;
	return 0;
}

void ecfs_siv_free(struct ecfs_siv *s)
{
	if (!s)
		return;
	/* Freeing the contexts cleanses the keys and CMAC subkeys. */
	EVP_MAC_CTX_free(s->cmac);
	EVP_CIPHER_CTX_free(s->ctr);
	free(s);
}

/* Restarts CMAC under the key set in ecfs_siv_new (a NULL key keeps the schedule). */
static int cmac_start(struct ecfs_siv *s)
{
	return EVP_MAC_init(s->cmac, NULL, 0, NULL) == 1 ? 0 : -EIO;
}

static int cmac_add(struct ecfs_siv *s, const void *p, size_t len)
{
	if (!len)
		return 0;
	return EVP_MAC_update(s->cmac, p, len) == 1 ? 0 : -EIO;
}

static int cmac_end(struct ecfs_siv *s, uint8_t out[SIV_BLOCK])
{
	size_t n = 0;

	if (EVP_MAC_final(s->cmac, out, &n, SIV_BLOCK) != 1 || n != SIV_BLOCK)
		return -EIO;
	return 0;
}

static int cmac_one(struct ecfs_siv *s, const void *p, size_t len, uint8_t out[SIV_BLOCK])
{
	int err = cmac_start(s);

	if (!err)
		err = cmac_add(s, p, len);
	if (!err)
		err = cmac_end(s, out);
	return err;
}

static void xor16(uint8_t *dst, const uint8_t *src)
{
	int i;

	for (i = 0; i < SIV_BLOCK; i++)
		dst[i] ^= src[i];
}

/* d <- d * x in GF(2^128), big-endian bit order, reduced by 0x87 (RFC 5297 "dbl"). */
static void dbl(uint8_t d[SIV_BLOCK])
{
	uint8_t carry = d[0] >> 7;
	int i;

	for (i = 0; i < SIV_BLOCK - 1; i++)
		d[i] = (uint8_t)(d[i] << 1 | d[i + 1] >> 7);
	/* Branch-free: the top bit is secret. */
	d[SIV_BLOCK - 1] = (uint8_t)(d[SIV_BLOCK - 1] << 1) ^ ((0 - carry) & 0x87);
}

/* The last S2V step: CMAC of the final string (the plaintext) folded with d. */
static int s2v_final(struct ecfs_siv *s, uint8_t d[SIV_BLOCK], const uint8_t *in, size_t len,
		     uint8_t v[SIV_BLOCK])
{
	int err;

	if (len >= SIV_BLOCK) {
		/* xorend: d goes into the last 16 bytes, fed after the untouched head. */
		xor16(d, in + len - SIV_BLOCK);
		err = cmac_start(s);
		if (!err)
			err = cmac_add(s, in, len - SIV_BLOCK);
		if (!err)
			err = cmac_add(s, d, SIV_BLOCK);
		if (!err)
			err = cmac_end(s, v);
		return err;
	}
	dbl(d);
	/* pad: the string, then 0x80, then zeros. */
	for (size_t i = 0; i < len; i++)
		d[i] ^= in[i];
	d[len] ^= 0x80;
	return cmac_one(s, d, SIV_BLOCK, v);
}

static int s2v(struct ecfs_siv *s, const struct ecfs_iov *ad, size_t nad, const uint8_t *in,
	       size_t len, uint8_t v[SIV_BLOCK])
{
	static const uint8_t zero[SIV_BLOCK];
	uint8_t d[SIV_BLOCK], c[SIV_BLOCK];
	size_t i;
	int err;

	err = cmac_one(s, zero, SIV_BLOCK, d);
	for (i = 0; !err && i < nad; i++) {
		err = cmac_one(s, ad[i].base, ad[i].len, c);
		dbl(d);
		xor16(d, c);
	}
	if (!err)
		err = s2v_final(s, d, in, len, v);
	ecfs_wipe(d, sizeof(d));
	ecfs_wipe(c, sizeof(c));
	return err;
}

/* CTR under K2 from Q = V with bits 63 and 31 (counting from the right) cleared. */
static int siv_ctr(struct ecfs_siv *s, const uint8_t v[SIV_BLOCK], const uint8_t *in, uint8_t *out,
		   size_t len)
{
	const size_t piece = (size_t)1 << 30;
	uint8_t q[SIV_BLOCK];
	int n, ok;

	memcpy(q, v, SIV_BLOCK);
	q[8] &= 0x7f;
	q[12] &= 0x7f;
	/* Resetting only the IV keeps the key schedule and clears any leftover keystream. */
	ok = EVP_EncryptInit_ex2(s->ctr, NULL, NULL, q, NULL) == 1;
	while (ok && len) {
		size_t k = len < piece ? len : piece;

		ok = EVP_EncryptUpdate(s->ctr, out, &n, in, (int)k) == 1 && (size_t)n == k;
		in += k;
		out += k;
		len -= k;
	}
	ecfs_wipe(q, sizeof(q));
	return ok ? 0 : -EIO;
}

static int siv_check(const struct ecfs_iov *ad, size_t nad)
{
	if (nad > SIV_MAX_AD || (nad && !ad))
		return ecfs_fail(-EINVAL, "siv: %zu associated-data components (at most %d)", nad,
				 SIV_MAX_AD);
	return 0;
}

int ecfs_siv_encrypt(struct ecfs_siv *s, const struct ecfs_iov *ad, size_t nad, const uint8_t *in,
		     size_t len, uint8_t *out)
{
	uint8_t v[SIV_BLOCK];
	int err;

	err = siv_check(ad, nad);
	if (err)
		return err;
	err = s2v(s, ad, nad, in, len, v);
	if (!err)
		err = siv_ctr(s, v, in, out + SIV_BLOCK, len);
	if (err) {
		ecfs_wipe(out, len + SIV_BLOCK);
		return ecfs_fail(err, "siv: encryption failed");
	}
	memcpy(out, v, SIV_BLOCK);
	return 0;
}

int ecfs_siv_decrypt(struct ecfs_siv *s, const struct ecfs_iov *ad, size_t nad, const uint8_t *in,
		     size_t len, uint8_t *out)
{
	uint8_t v[SIV_BLOCK];
	int err;

	err = siv_check(ad, nad);
	if (err)
		return err;
	if (len < SIV_BLOCK)
		return ecfs_fail(-EINVAL, "siv: %zu bytes is shorter than the SIV", len);
	len -= SIV_BLOCK;
	err = siv_ctr(s, in, in + SIV_BLOCK, out, len);
	if (!err)
		err = s2v(s, ad, nad, out, len, v);
	if (!err && CRYPTO_memcmp(v, in, SIV_BLOCK) != 0)
		err = -EBADMSG;
	ecfs_wipe(v, sizeof(v));
	if (err) {
		/* Never hand out unauthenticated plaintext. */
		ecfs_wipe(out, len);
		return ecfs_fail(err, "siv: %s",
				 err == -EBADMSG ? "authentication failed" : "decryption failed");
	}
	return 0;
}
