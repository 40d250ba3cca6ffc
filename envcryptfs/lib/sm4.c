/* SPDX-License-Identifier: MIT */
/*
 * sm4.c - SM4 (GB/T 32907-2016) round keys, and the choice of a bulk implementation.
 *
 * OpenSSL 3.0 runs SM4 from byte tables indexed by secret data, at about a tenth of the speed
 * of AES-NI. The bulk implementations (sm4_aesni.c, sm4_gfni.c) compute the S-box with
 * instructions that have no secret-dependent memory access and run many blocks at once; this
 * file makes their round keys with the same care: the S-box is computed (an inversion in
 * GF(2^8) between two affine maps), never looked up.
 */
#include "internal.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rol32(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

static uint8_t rol8(uint8_t x, unsigned n)
{
	return (uint8_t)(x << n | x >> (8 - n));
}

/* a * b in GF(2^8) modulo SM4's x^8 + x^7 + x^6 + x^5 + x^4 + x^2 + 1, without branches. */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
	uint8_t r = 0;

	for (int i = 0; i < 8; i++) {
		r ^= a & (uint8_t)(0 - (b >> i & 1));
		a = (uint8_t)(a << 1) ^ ((uint8_t)(0 - (a >> 7)) & 0xf5);
	}
	return r;
}

/* x^254, the inverse (0 for 0), by a fixed chain of squarings and products. */
static uint8_t gf_inv(uint8_t x)
{
	uint8_t r = x;

	/* 254 = 0b11111110: six square-and-multiply steps, then a square. */
	for (int i = 0; i < 6; i++)
		r = gf_mul(gf_mul(r, r), x);
	return gf_mul(r, r);
}

/* The S-box's affine map A x + 0xd3, A circulant (GB/T 32907's S-box is A I(A x + c) + c). */
static uint8_t sbox_affine(uint8_t x)
{
	return x ^ rol8(x, 1) ^ rol8(x, 3) ^ rol8(x, 6) ^ rol8(x, 7) ^ 0xd3;
}

static uint8_t sbox(uint8_t x)
{
	return sbox_affine(gf_inv(sbox_affine(x)));
}

/* tau: the S-box on each byte of a word. */
static uint32_t tau(uint32_t w)
{
	return (uint32_t)sbox((uint8_t)(w >> 24)) << 24 | (uint32_t)sbox((uint8_t)(w >> 16)) << 16 |
	       (uint32_t)sbox((uint8_t)(w >> 8)) << 8 | sbox((uint8_t)w);
}

void ecfs_sm4_expand(const uint8_t key[16], struct ecfs_sm4_key *enc, struct ecfs_sm4_key *dec)
{
	static const uint32_t fk[4] = {0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc};
	uint32_t k[4], ck, w;
	int i, j;

	for (i = 0; i < 4; i++) {
		memcpy(&w, key + 4 * i, 4);
		k[i] = be32toh(w) ^ fk[i];
	}
	for (i = 0; i < ECFS_SM4_ROUNDS; i++) {
		/* CK_i: byte j is (4i + j) * 7 mod 256. */
		for (ck = 0, j = 0; j < 4; j++)
			ck = ck << 8 | (uint8_t)((4 * i + j) * 7);
		w = tau(k[(i + 1) % 4] ^ k[(i + 2) % 4] ^ k[(i + 3) % 4] ^ ck);
		k[i % 4] ^= w ^ rol32(w, 13) ^ rol32(w, 23);
		enc->rk[i] = k[i % 4];
	}
	/* Decryption is encryption with the round keys in reverse order. */
	if (dec)
		for (i = 0; i < ECFS_SM4_ROUNDS; i++)
			dec->rk[i] = enc->rk[ECFS_SM4_ROUNDS - 1 - i];
	ecfs_wipe(k, sizeof(k));
	ecfs_wipe(&w, sizeof(w));
}

#if defined(__x86_64__)
static bool gfni_usable(void)
{
	return __builtin_cpu_supports("gfni") && __builtin_cpu_supports("avx2");
}

static bool aesni_usable(void)
{
	return __builtin_cpu_supports("aes") && __builtin_cpu_supports("avx2");
}
#endif

const struct ecfs_sm4_impl ecfs_sm4_impls[] = {
#if defined(__x86_64__)
    {"gfni-avx2", gfni_usable, ecfs_sm4_blocks_gfni_avx2},
    {"aesni-avx2", aesni_usable, ecfs_sm4_blocks_aesni_avx2},
#endif
    {NULL, NULL, NULL},
};

#ifdef ECFS_FAULT_INJECTION
/* Test builds: ECFS_FAULT_SM4_IMPL=NAME uses that implementation if the CPU runs it and
 * OpenSSL otherwise ("openssl"), so that a mount can be tested and measured on each path. */
static bool forced(const struct ecfs_sm4_impl **out)
{
	const char *name = getenv("ECFS_FAULT_SM4_IMPL");

	if (!name)
		return false;
	*out = NULL;
	for (const struct ecfs_sm4_impl *i = ecfs_sm4_impls; i->name; i++)
		if (strcmp(i->name, name) == 0 && i->usable())
			*out = i;
	return true;
}
#else
static bool forced(const struct ecfs_sm4_impl **out)
{
	(void)out;
	return false;
}
#endif

const struct ecfs_sm4_impl *ecfs_sm4_best(void)
{
	const struct ecfs_sm4_impl *f;

	if (forced(&f))
		return f;
	for (const struct ecfs_sm4_impl *i = ecfs_sm4_impls; i->name; i++)
		if (i->usable())
			return i;
	return NULL;
}
