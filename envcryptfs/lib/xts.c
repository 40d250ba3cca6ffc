/* SPDX-License-Identifier: MIT */
/*
 * xts.c - XTS (IEEE 1619-2007) over a 128-bit block cipher that OpenSSL runs in ECB mode.
 *
 * OpenSSL has no SM4-XTS in 3.0, and its SM4-XTS in later versions defaults to GB/T 17964,
 * so XTS is built here from ECB. For speed many blocks go through each ECB call: their
 * tweaks are computed into a scratch buffer and XORed in before and after. The ECB calls go
 * to OpenSSL, or for SM4 to a bulk implementation of sm4.c where the CPU has one (OpenSSL
 * 3.0's SM4 is a slow table implementation). An object is not safe for concurrent use (it
 * owns the cipher contexts or round keys, and the scratch).
 */
#include "internal.h"

#include <endian.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define XTS_BLOCK 16
/* Blocks per ECB call (4 KiB; see xts_bulk). Measured best between 128 and 512. */
#ifndef XTS_PIECE
#define XTS_PIECE 256
#endif
#define XTS_SCRATCH (XTS_PIECE * XTS_BLOCK)

/* The three block cipher keys of XTS. */
enum xts_key {
	XTS_ENC1, /* E_K1 */
	XTS_DEC1, /* D_K1 */
	XTS_ENC2, /* E_K2, for the tweak */
	XTS_NKEYS
};

struct ecfs_xts {
	/* The tweaks of the current piece. Allocated once, cache-line aligned: placed inside
	 * the struct it measured 10-20% slower. */
	uint8_t *scratch;
	/* SM4 through sm4, with its round keys (struct ecfs_sm4_key[XTS_NKEYS]) in locked
	 * memory; or, when sm4 is NULL, OpenSSL's ECB contexts. */
	const struct ecfs_sm4_impl *sm4;
	struct ecfs_secret *round_keys;
	EVP_CIPHER_CTX *ctx[XTS_NKEYS];
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

/* OpenSSL's contexts for K1 (both ways) and K2. */
static int openssl_keys(struct ecfs_xts *x, const char *name, const uint8_t *key, size_t half)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, name, NULL);

	if (!c)
		return ecfs_fail(-EPROTONOSUPPORT, "xts: OpenSSL has no %s", name);
	x->ctx[XTS_ENC1] = ecb_ctx(c, key, 1);
	x->ctx[XTS_DEC1] = ecb_ctx(c, key, 0);
	x->ctx[XTS_ENC2] = ecb_ctx(c, key + half, 1);
	EVP_CIPHER_free(c);
	if (!x->ctx[XTS_ENC1] || !x->ctx[XTS_DEC1] || !x->ctx[XTS_ENC2])
		return ecfs_fail(-ENOMEM, "xts: cannot set up %s", name);
	return 0;
}

/* SM4 round keys for K1 (both ways) and K2, in locked memory. */
static int sm4_keys(struct ecfs_xts *x, const uint8_t *key)
{
	struct ecfs_sm4_key *rk;

	x->round_keys = ecfs_secret_new(XTS_NKEYS * sizeof(*rk));
	if (!x->round_keys)
		return ecfs_fail(-ENOMEM, "xts: out of memory for the SM4 round keys");
	rk = (struct ecfs_sm4_key *)(void *)ecfs_secret_data(x->round_keys);
	ecfs_sm4_expand(key, &rk[XTS_ENC1], &rk[XTS_DEC1]);
	ecfs_sm4_expand(key + 16, &rk[XTS_ENC2], NULL);
	return 0;
}

int ecfs_xts_new_with(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		      const struct ecfs_sm4_impl *sm4, struct ecfs_xts **out)
{
	size_t half = key_len / 2;
	const char *name = ecb_name(bc, half);
	struct ecfs_xts *x;
	int err;

	*out = NULL;
	if (!name || key_len % 2)
		return ecfs_fail(-EINVAL, "xts: bad key length %zu", key_len);
	if (sm4 && bc != ECFS_BC_SM4)
		return ecfs_fail(-EINVAL, "xts: an SM4 implementation for another cipher");
	/* FIPS (SP 800-38E, IG A.9) forbids equal halves; the compare must not leak the key. */
	if (CRYPTO_memcmp(key, key + half, half) == 0)
		return ecfs_fail(-EINVAL, "xts: the two key halves are equal");
	x = calloc(1, sizeof(*x));
	if (!x)
		return ecfs_fail(-ENOMEM, "xts: out of memory");
	x->sm4 = sm4;
	x->scratch = aligned_alloc(64, XTS_SCRATCH);
	if (!x->scratch)
		err = ecfs_fail(-ENOMEM, "xts: out of memory");
	else
		err = sm4 ? sm4_keys(x, key) : openssl_keys(x, name, key, half);
	if (err) {
		ecfs_xts_free(x);
		return err;
	}
	*out = x;
	return 0;
}

int ecfs_xts_new(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		 struct ecfs_xts **out)
{
	return ecfs_xts_new_with(bc, key, key_len, bc == ECFS_BC_SM4 ? ecfs_sm4_best() : NULL, out);
}

void ecfs_xts_free(struct ecfs_xts *x)
{
	if (!x)
		return;
	/* Freeing a cipher context cleanses its key schedule; the secret wipes the SM4 one. */
	for (int i = 0; i < XTS_NKEYS; i++)
		EVP_CIPHER_CTX_free(x->ctx[i]);
	ecfs_secret_free(x->round_keys);
	if (x->scratch) {
		ecfs_wipe(x->scratch, XTS_SCRATCH);
		free(x->scratch);
	}
	free(x);
}

/* Runs whole blocks (at most one piece) through ECB under one of the keys. */
static int ecb_run(struct ecfs_xts *x, enum xts_key key, const uint8_t *in, uint8_t *out,
		   size_t len)
{
	int n;

	if (x->sm4) {
		const struct ecfs_sm4_key *rk = (const void *)ecfs_secret_data(x->round_keys);

		x->sm4->blocks(&rk[key], in, out, len / XTS_BLOCK);
		return 0;
	}
	if (EVP_CipherUpdate(x->ctx[key], out, &n, in, (int)len) != 1 || (size_t)n != len)
		return ecfs_fail(-EIO, "xts: block cipher failed");
	return 0;
}

/* 16-byte vectors (a GCC/Clang extension) let the XOR passes use whole SIMD registers. */
typedef uint64_t xts_v128 __attribute__((vector_size(16)));

static inline xts_v128 load16(const uint8_t *p)
{
	xts_v128 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void store16(uint8_t *p, xts_v128 v)
{
	memcpy(p, &v, sizeof(v));
}

/* A tweak as a 128-bit little-endian integer: bit i is the coefficient of x^i. */
struct xts_tweak {
	uint64_t lo, hi;
};

static inline struct xts_tweak tweak_load(const uint8_t *p)
{
	struct xts_tweak t;

	memcpy(&t.lo, p, 8);
	memcpy(&t.hi, p + 8, 8);
	t.lo = le64toh(t.lo);
	t.hi = le64toh(t.hi);
	return t;
}

/* t * alpha in GF(2^128): shift left by one, fold x^128 back in as 0x87. Branch-free so the
 * tweak's bits do not show in timing. */
static inline struct xts_tweak mul_alpha(struct xts_tweak t)
{
	uint64_t carry = t.hi >> 63;

	t.hi = t.hi << 1 | t.lo >> 63;
	t.lo = t.lo << 1 ^ ((0 - carry) & 0x87);
	return t;
}

/* Stores tweak t for one block and XORs it into that block: tw = t, out = in ^ t. Works in
 * 64-bit halves, as a 16-byte reload of tw would stall on store forwarding. */
static inline void tweak_put(uint8_t *tw, uint8_t *out, const uint8_t *in, struct xts_tweak t)
{
	uint64_t lo = htole64(t.lo), hi = htole64(t.hi), a, b;

	memcpy(tw, &lo, 8);
	memcpy(tw + 8, &hi, 8);
	memcpy(&a, in, 8);
	memcpy(&b, in + 8, 8);
	a ^= lo;
	b ^= hi;
	memcpy(out, &a, 8);
	memcpy(out + 8, &b, 8);
}

/*
 * First pass over n blocks: writes the tweaks from *t on into tw and XORs them into out,
 * leaving *t at the next tweak. Unrolled by four: the serial tweak chain is the bottleneck
 * and the loop bookkeeping would otherwise cost as much again.
 */
static void tweaks_in(uint8_t *tw, uint8_t *out, const uint8_t *in, size_t n, struct xts_tweak *t)
{
	struct xts_tweak c = *t;
	size_t i = 0, end = n * XTS_BLOCK;

	for (; i + 4 * XTS_BLOCK <= end; i += 4 * XTS_BLOCK) {
		tweak_put(tw + i, out + i, in + i, c);
		c = mul_alpha(c);
		tweak_put(tw + i + 16, out + i + 16, in + i + 16, c);
		c = mul_alpha(c);
		tweak_put(tw + i + 32, out + i + 32, in + i + 32, c);
		c = mul_alpha(c);
		tweak_put(tw + i + 48, out + i + 48, in + i + 48, c);
		c = mul_alpha(c);
	}
	for (; i < end; i += XTS_BLOCK) {
		tweak_put(tw + i, out + i, in + i, c);
		c = mul_alpha(c);
	}
	*t = c;
}

/* Second pass: out ^= tw over n blocks, unrolled by four like the first. */
static void tweaks_out(uint8_t *out, const uint8_t *tw, size_t n)
{
	size_t i = 0, end = n * XTS_BLOCK;

	for (; i + 4 * XTS_BLOCK <= end; i += 4 * XTS_BLOCK) {
		store16(out + i, load16(out + i) ^ load16(tw + i));
		store16(out + i + 16, load16(out + i + 16) ^ load16(tw + i + 16));
		store16(out + i + 32, load16(out + i + 32) ^ load16(tw + i + 32));
		store16(out + i + 48, load16(out + i + 48) ^ load16(tw + i + 48));
	}
	for (; i < end; i += XTS_BLOCK)
		store16(out + i, load16(out + i) ^ load16(tw + i));
}

/*
 * n full blocks through ctx, tweaks from *t on. The unit goes in pieces small enough for
 * the tweaks and output to stay in L1 between the two XOR passes; each piece is one ECB
 * call, long enough for OpenSSL's interleaved AES-NI (or SM4) code to run at full speed.
 */
static int xts_bulk(struct ecfs_xts *x, enum xts_key key, struct xts_tweak *t, const uint8_t *in,
		    uint8_t *out, size_t n)
{
	while (n) {
		size_t k = n < XTS_PIECE ? n : XTS_PIECE;

		tweaks_in(x->scratch, out, in, k, t);
		if (ecb_run(x, key, out, out, k * XTS_BLOCK))
			return -EIO;
		tweaks_out(out, x->scratch, k);
		in += k * XTS_BLOCK;
		out += k * XTS_BLOCK;
		n -= k;
	}
	return 0;
}

/* One block through key under tweak t. */
static int xex_block(struct ecfs_xts *x, enum xts_key key, struct xts_tweak t, const uint8_t *in,
		     uint8_t *out)
{
	uint8_t tb[XTS_BLOCK];
	int err;

	tweak_put(tb, out, in, t);
	err = ecb_run(x, key, out, out, XTS_BLOCK);
	tweaks_out(out, tb, 1);
	ecfs_wipe(tb, sizeof(tb));
	return err;
}

/*
 * Ciphertext stealing over the last full block and the r-byte tail (IEEE 1619 5.3.2 and
 * 5.4.2). Both directions have the same shape; encryption uses T_{m-1} then T_m, and
 * decryption T_m then T_{m-1}.
 */
static int xts_steal(struct ecfs_xts *x, enum xts_key key, struct xts_tweak first,
		     struct xts_tweak second, const uint8_t *in, uint8_t *out, size_t r)
{
	uint8_t b[2 * XTS_BLOCK], cc[XTS_BLOCK];
	int err;

	/* Copy first: in and out may be the same buffer. */
	memcpy(b, in, XTS_BLOCK + r);
	err = xex_block(x, key, first, b, cc);
	if (!err) {
		memcpy(b + XTS_BLOCK + r, cc + r, XTS_BLOCK - r);
		memcpy(out + XTS_BLOCK, cc, r);
		err = xex_block(x, key, second, b + XTS_BLOCK, out);
	}
	ecfs_wipe(b, sizeof(b));
	ecfs_wipe(cc, sizeof(cc));
	return err;
}

static int xts_run(struct ecfs_xts *x, int enc, const uint8_t tweak[16], const uint8_t *in,
		   uint8_t *out, size_t len)
{
	enum xts_key key = enc ? XTS_ENC1 : XTS_DEC1;
	size_t r = len % XTS_BLOCK, n = len / XTS_BLOCK - (r != 0);
	struct xts_tweak t, t_next;
	uint8_t t0[XTS_BLOCK];
	int err;

	if (len < XTS_BLOCK)
		return ecfs_fail(-EINVAL, "xts: data unit of %zu bytes is shorter than a block",
				 len);
	err = ecb_run(x, XTS_ENC2, tweak, t0, XTS_BLOCK);
	if (err)
		return err;
	t = tweak_load(t0);
	ecfs_wipe(t0, sizeof(t0));
	err = xts_bulk(x, key, &t, in, out, n);
	if (!err && r) {
		t_next = mul_alpha(t);
		in += n * XTS_BLOCK;
		out += n * XTS_BLOCK;
		err = enc ? xts_steal(x, key, t, t_next, in, out, r)
			  : xts_steal(x, key, t_next, t, in, out, r);
	}
	return err;
}

int ecfs_xts_encrypt(struct ecfs_xts *x, const uint8_t tweak[16], const uint8_t *in, uint8_t *out,
		     size_t len)
{
	return xts_run(x, 1, tweak, in, out, len);
}

int ecfs_xts_decrypt(struct ecfs_xts *x, const uint8_t tweak[16], const uint8_t *in, uint8_t *out,
		     size_t len)
{
	return xts_run(x, 0, tweak, in, out, len);
}

int ecfs_xts_encrypt_tweak(struct ecfs_xts *x, const uint8_t tweak[16], uint8_t out[16])
{
	return ecb_run(x, XTS_ENC2, tweak, out, XTS_BLOCK);
}

int ecfs_xts_encrypt_block_k1(struct ecfs_xts *x, const uint8_t in[16], uint8_t out[16])
{
	return ecb_run(x, XTS_ENC1, in, out, XTS_BLOCK);
}
