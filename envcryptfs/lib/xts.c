/* SPDX-License-Identifier: MIT */
/*
 * xts.c - XTS (IEEE 1619-2007) over a 128-bit block cipher that OpenSSL runs in ECB mode.
 *
 * OpenSSL has no SM4-XTS in 3.0, and its SM4-XTS in later versions defaults to GB/T 17964,
 * so XTS is built here from ECB. For speed a whole data unit goes through one ECB call:
 * the tweak sequence is computed into a scratch buffer and XORed in before and after.
 * An object is not safe for concurrent use (it owns cipher contexts and the scratch).
 */
#include "internal.h"

#include <endian.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define XTS_BLOCK 16

struct ecfs_xts {
	EVP_CIPHER_CTX *enc1; /* E_K1 */
	EVP_CIPHER_CTX *dec1; /* D_K1 */
	EVP_CIPHER_CTX *enc2; /* E_K2, for the tweak */
	uint8_t *scratch;     /* the tweak sequence of the current data unit */
	size_t scratch_size;
};

static const char *ecb_name(enum ecfs_block_cipher bc, size_t half)
{
	if (bc == ECFS_BC_AES && half == 16)
		return "AES-128-ECB";
	if (bc == ECFS_BC_AES && half == 32)
		return "AES-256-ECB";
	if (bc == ECFS_BC_SM4 && half == 16)
		return "SM4-ECB";
	return NULL;
}

static EVP_CIPHER_CTX *ecb_ctx(EVP_CIPHER *c, const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	if (EVP_CipherInit_ex2(ctx, c, key, NULL, enc, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int ecfs_xts_new(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		 struct ecfs_xts **out)
{
	size_t half = key_len / 2;
	const char *name = ecb_name(bc, half);
	struct ecfs_xts *x;
	EVP_CIPHER *c;

	*out = NULL;
	if (!name || key_len % 2)
		return ecfs_fail(-EINVAL, "xts: bad key length %zu", key_len);
	/* FIPS (SP 800-38E, IG A.9) forbids equal halves; the compare must not leak the key. */
	if (CRYPTO_memcmp(key, key + half, half) == 0)
		return ecfs_fail(-EINVAL, "xts: the two key halves are equal");
	c = EVP_CIPHER_fetch(NULL, name, NULL);
	if (!c)
		return ecfs_fail(-EPROTONOSUPPORT, "xts: OpenSSL has no %s", name);
	x = calloc(1, sizeof(*x));
	if (x) {
		x->enc1 = ecb_ctx(c, key, 1);
		x->dec1 = ecb_ctx(c, key, 0);
		x->enc2 = ecb_ctx(c, key + half, 1);
	}
	EVP_CIPHER_free(c);
	if (!x || !x->enc1 || !x->dec1 || !x->enc2) {
		ecfs_xts_free(x);
		return ecfs_fail(-ENOMEM, "xts: cannot set up %s", name);
	}
	*out = x;
	return 0;
}

void ecfs_xts_free(struct ecfs_xts *x)
{
	if (!x)
		return;
	/* Freeing a cipher context cleanses its key schedule. */
	EVP_CIPHER_CTX_free(x->enc1);
	EVP_CIPHER_CTX_free(x->dec1);
	EVP_CIPHER_CTX_free(x->enc2);
	if (x->scratch) {
		ecfs_wipe(x->scratch, x->scratch_size);
		free(x->scratch);
	}
	free(x);
}

/* Runs whole blocks through ECB; OpenSSL takes int lengths, so big inputs go in pieces. */
static int ecb_run(EVP_CIPHER_CTX *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
	const size_t piece = (size_t)1 << 30;
	int n;

	while (len) {
		size_t k = len < piece ? len : piece;

		if (EVP_CipherUpdate(ctx, out, &n, in, (int)k) != 1 || (size_t)n != k)
			return ecfs_fail(-EIO, "xts: block cipher failed");
		in += k;
		out += k;
		len -= k;
	}
	return 0;
}

static void xor_block(uint8_t *dst, const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	a0 ^= b0;
	a1 ^= b1;
	memcpy(dst, &a0, 8);
	memcpy(dst + 8, &a1, 8);
}

/* t <- t * alpha in GF(2^128), IEEE order: a little-endian shift left, reduced by 0x87. */
static void mul_alpha(uint64_t *lo, uint64_t *hi)
{
	uint64_t carry = *hi >> 63;

	*hi = (*hi << 1) | (*lo >> 63);
	/* Branch-free so the tweak's bits do not show in timing. */
	*lo = (*lo << 1) ^ ((0 - carry) & 0x87);
}

static void store_tweak(uint8_t *dst, uint64_t lo, uint64_t hi)
{
	lo = htole64(lo);
	hi = htole64(hi);
	memcpy(dst, &lo, 8);
	memcpy(dst + 8, &hi, 8);
}

/* Fills tw with T_0..T_{n-1}, T_0 = E_K2(tweak), and leaves T_n in next. */
static int tweak_sequence(struct ecfs_xts *x, const uint8_t tweak[16], uint8_t *tw, size_t n,
			  uint8_t next[16])
{
	uint64_t lo, hi;
	size_t j;
	int err;

	err = ecb_run(x->enc2, tweak, next, XTS_BLOCK);
	if (err)
		return err;
	memcpy(&lo, next, 8);
	memcpy(&hi, next + 8, 8);
	lo = le64toh(lo);
	hi = le64toh(hi);
	for (j = 0; j < n; j++) {
		store_tweak(tw + j * XTS_BLOCK, lo, hi);
		mul_alpha(&lo, &hi);
	}
	store_tweak(next, lo, hi);
	lo = hi = 0;
	return 0;
}

static int grow_scratch(struct ecfs_xts *x, size_t need)
{
	uint8_t *p;

	if (need <= x->scratch_size)
		return 0;
	p = malloc(need);
	if (!p)
		return ecfs_fail(-ENOMEM, "xts: out of memory for a %zu-byte unit", need);
	if (x->scratch) {
		ecfs_wipe(x->scratch, x->scratch_size);
		free(x->scratch);
	}
	x->scratch = p;
	x->scratch_size = need;
	return 0;
}

/* XORs n blocks of src with the tweaks into dst (dst may equal src). */
static void xor_tweaks(uint8_t *dst, const uint8_t *src, const uint8_t *tw, size_t n)
{
	size_t j;

	for (j = 0; j < n * XTS_BLOCK; j += XTS_BLOCK)
		xor_block(dst + j, src + j, tw + j);
}

/* One block through ctx under tweak t. */
static int xex_block(EVP_CIPHER_CTX *ctx, const uint8_t t[16], const uint8_t in[16],
		     uint8_t out[16])
{
	uint8_t b[XTS_BLOCK];
	int err;

	xor_block(b, in, t);
	err = ecb_run(ctx, b, b, XTS_BLOCK);
	xor_block(out, b, t);
	ecfs_wipe(b, sizeof(b));
	return err;
}

/*
 * The shared body: n full blocks through ctx with tweaks from the scratch. For a partial
 * last block the caller has already arranged which tweak block n-1 used.
 */
static int xts_bulk(struct ecfs_xts *x, EVP_CIPHER_CTX *ctx, const uint8_t *in, uint8_t *out,
		    size_t n)
{
	xor_tweaks(out, in, x->scratch, n);
	if (ecb_run(ctx, out, out, n * XTS_BLOCK))
		return -EIO;
	xor_tweaks(out, out, x->scratch, n);
	return 0;
}

static int xts_check(struct ecfs_xts *x, size_t len)
{
	if (len < XTS_BLOCK)
		return ecfs_fail(-EINVAL, "xts: data unit of %zu bytes is shorter than a block",
				 len);
	return grow_scratch(x, len / XTS_BLOCK * XTS_BLOCK);
}

int ecfs_xts_encrypt(struct ecfs_xts *x, const uint8_t tweak[16], const uint8_t *in, uint8_t *out,
		     size_t len)
{
	size_t m = len / XTS_BLOCK, r = len % XTS_BLOCK;
	uint8_t tm[XTS_BLOCK], pp[XTS_BLOCK];
	uint8_t *cc;
	int err;

	err = xts_check(x, len);
	if (!err)
		err = tweak_sequence(x, tweak, x->scratch, m, tm);
	if (!err)
		err = xts_bulk(x, x->enc1, in, out, m);
	if (err || !r)
		goto out;
	/* Ciphertext stealing: CC is block m-1's output; C_m is its head, and P_m || its
	 * tail, under T_m, becomes C_{m-1}. */
	cc = out + (m - 1) * XTS_BLOCK;
	memcpy(pp, in + m * XTS_BLOCK, r);
	memcpy(pp + r, cc + r, XTS_BLOCK - r);
	memcpy(out + m * XTS_BLOCK, cc, r);
	err = xex_block(x->enc1, tm, pp, cc);
out:
	ecfs_wipe(pp, sizeof(pp));
	ecfs_wipe(tm, sizeof(tm));
	return err;
}

int ecfs_xts_decrypt(struct ecfs_xts *x, const uint8_t tweak[16], const uint8_t *in, uint8_t *out,
		     size_t len)
{
	size_t m = len / XTS_BLOCK, r = len % XTS_BLOCK;
	uint8_t tm[XTS_BLOCK], cp[XTS_BLOCK], tprev[XTS_BLOCK];
	uint8_t *pp, *last;
	int err;

	err = xts_check(x, len);
	if (!err)
		err = tweak_sequence(x, tweak, x->scratch, m, tm);
	if (err)
		goto out;
	/* With stealing, IEEE 1619 decrypts block m-1 under T_m and the rebuilt block under
	 * T_{m-1}: swap T_m into the sequence for the bulk pass. */
	last = x->scratch + (m - 1) * XTS_BLOCK;
	if (r) {
		memcpy(tprev, last, XTS_BLOCK);
		memcpy(last, tm, XTS_BLOCK);
	}
	err = xts_bulk(x, x->dec1, in, out, m);
	if (err || !r)
		goto out;
	pp = out + (m - 1) * XTS_BLOCK;
	memcpy(cp, in + m * XTS_BLOCK, r);
	memcpy(cp + r, pp + r, XTS_BLOCK - r);
	memcpy(out + m * XTS_BLOCK, pp, r);
	err = xex_block(x->dec1, tprev, cp, pp);
out:
	ecfs_wipe(cp, sizeof(cp));
	ecfs_wipe(tm, sizeof(tm));
	ecfs_wipe(tprev, sizeof(tprev));
	return err;
}

int ecfs_xts_encrypt_tweak(struct ecfs_xts *x, const uint8_t tweak[16], uint8_t out[16])
{
	return ecb_run(x->enc2, tweak, out, XTS_BLOCK);
}

int ecfs_xts_encrypt_block_k1(struct ecfs_xts *x, const uint8_t in[16], uint8_t out[16])
{
	return ecb_run(x->enc1, in, out, XTS_BLOCK);
}
