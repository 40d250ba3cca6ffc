/* SPDX-License-Identifier: MIT */
/*
 * test_sm4.c - the bulk SM4 implementations (sm4.c) against OpenSSL's SM4 on random keys and
 * data: ECB on every block count of a 4 KiB buffer, and XTS on every data unit length from
 * one block to a little over one piece of xts.c, against XTS over OpenSSL's SM4-ECB. Every
 * implementation this CPU runs is tested; the published vectors are in test_kat.c.
 */
#include <criterion/criterion.h>

#include "internal.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 256 /* 4 KiB */
#define KEYS	   4

static void random_bytes(void *p, size_t n)
{
	cr_assert_eq(RAND_bytes(p, (int)n), 1);
}

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	cr_assert_not_null(p);
	return p;
}

/* OpenSSL's SM4-ECB, the reference. */
static void openssl_ecb(const uint8_t key[16], int enc, const uint8_t *in, uint8_t *out, size_t len)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "SM4-ECB", NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	cr_assert(c && ctx);
	cr_assert_eq(EVP_CipherInit_ex2(ctx, c, key, NULL, enc, NULL), 1);
	cr_assert_eq(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
	cr_assert_eq(EVP_CipherUpdate(ctx, out, &n, in, (int)len), 1);
	cr_assert_eq((size_t)n, len);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
}

/* Calls fn with every implementation this CPU runs; returns how many. */
static size_t each_impl(void (*fn)(const struct ecfs_sm4_impl *m))
{
	size_t n = 0;

	for (const struct ecfs_sm4_impl *m = ecfs_sm4_impls; m->name; m++) {
		if (!m->usable()) {
			cr_log_warn("SM4 implementation %s: not on this CPU, not tested", m->name);
			continue;
		}
		fn(m);
		n++;
	}
	return n;
}

/* n blocks of in through m both ways, out of place and in place, against OpenSSL. */
static void ecb_compare(const struct ecfs_sm4_impl *m, const uint8_t key[16],
			const struct ecfs_sm4_key *enc, const struct ecfs_sm4_key *dec,
			const uint8_t *in, size_t n)
{
	uint8_t want[MAX_BLOCKS * 16], got[MAX_BLOCKS * 16 + 16];

	openssl_ecb(key, 1, in, want, n * 16);
	/* A guard block after the output: nothing past n blocks may be written. */
	memset(got, 0xa5, sizeof(got));
	m->blocks(enc, in, got, n);
	cr_assert_arr_eq(got, want, n * 16, "%s: %zu blocks encrypt differently", m->name, n);
	for (size_t i = n * 16; i < sizeof(got); i++)
		cr_assert_eq(got[i], 0xa5, "%s: %zu blocks wrote byte %zu", m->name, n, i);
	m->blocks(dec, got, got, n);
	cr_assert_arr_eq(got, in, n * 16, "%s: %zu blocks do not decrypt in place", m->name, n);
	memcpy(got, in, n * 16);
	m->blocks(enc, got, got, n);
	cr_assert_arr_eq(got, want, n * 16, "%s: %zu blocks differ in place", m->name, n);
}

static void ecb_every_count(const struct ecfs_sm4_impl *m)
{
	uint8_t key[16], in[MAX_BLOCKS * 16];
	struct ecfs_sm4_key enc, dec;

	for (int k = 0; k < KEYS; k++) {
		random_bytes(key, sizeof(key));
		random_bytes(in, sizeof(in));
		ecfs_sm4_expand(key, &enc, &dec);
		for (size_t n = 0; n <= MAX_BLOCKS; n++)
			ecb_compare(m, key, &enc, &dec, in, n);
	}
}

Test(sm4, ecb_matches_openssl_on_every_block_count)
{
	cr_log_info("SM4-ECB against OpenSSL: %zu implementations", each_impl(ecb_every_count));
}

/* The round keys: decryption's are encryption's reversed, and both follow the key. */
Test(sm4, round_keys_follow_the_key)
{
	uint8_t key[16] = {0};
	struct ecfs_sm4_key a, b, dec;

	ecfs_sm4_expand(key, &a, &dec);
	for (int i = 0; i < ECFS_SM4_ROUNDS; i++)
		cr_assert_eq(dec.rk[i], a.rk[ECFS_SM4_ROUNDS - 1 - i]);
	key[15] = 1;
	ecfs_sm4_expand(key, &b, NULL);
	cr_assert_arr_neq(a.rk, b.rk, sizeof(a.rk));
}

/* One data unit through XTS over m and over OpenSSL's ECB: both ways, and in place. */
static void xts_compare(struct ecfs_xts *fast, struct ecfs_xts *ref, const char *name,
			const uint8_t tweak[16], const uint8_t *pt, size_t len, uint8_t *want,
			uint8_t *got)
{
	cr_assert_eq(ecfs_xts_encrypt(ref, tweak, pt, want, len), 0);
	cr_assert_eq(ecfs_xts_encrypt(fast, tweak, pt, got, len), 0);
	cr_assert_arr_eq(got, want, len, "%s: XTS unit of %zu bytes encrypts differently", name,
			 len);
	cr_assert_eq(ecfs_xts_decrypt(fast, tweak, want, got, len), 0);
	cr_assert_arr_eq(got, pt, len, "%s: XTS unit of %zu bytes decrypts differently", name, len);
	memcpy(got, want, len);
	cr_assert_eq(ecfs_xts_decrypt(fast, tweak, got, got, len), 0);
	cr_assert_arr_eq(got, pt, len, "%s: XTS unit of %zu bytes in place", name, len);
}

/* Every length from 16 to one piece of xts.c (256 blocks) and 4 blocks more, stealing
 * lengths included, then units of several pieces. */
static void xts_every_length(const struct ecfs_sm4_impl *m)
{
	static const size_t long_lens[] = {65536, 65536 + 15, 3 * 4096 + 16 * 9 + 7};
	const size_t max = 65536 + 16;
	uint8_t key[32], tweak[16];
	uint8_t *pt = xmalloc(max), *want = xmalloc(max), *got = xmalloc(max);
	struct ecfs_xts *fast, *ref;

	random_bytes(key, sizeof(key));
	random_bytes(tweak, sizeof(tweak));
	random_bytes(pt, max);
	cr_assert_eq(ecfs_xts_new_with(ECFS_BC_SM4, key, sizeof(key), m, &fast), 0);
	cr_assert_eq(ecfs_xts_new_with(ECFS_BC_SM4, key, sizeof(key), NULL, &ref), 0);
	for (size_t len = 16; len <= 4096 + 64; len++)
		xts_compare(fast, ref, m->name, tweak, pt, len, want, got);
	for (size_t i = 0; i < sizeof(long_lens) / sizeof(long_lens[0]); i++)
		xts_compare(fast, ref, m->name, tweak, pt, long_lens[i], want, got);
	/* The tweak and single-block helpers of the short-tail rule (chunk.c). */
	cr_assert_eq(ecfs_xts_encrypt_tweak(ref, tweak, want), 0);
	cr_assert_eq(ecfs_xts_encrypt_tweak(fast, tweak, got), 0);
	cr_assert_arr_eq(got, want, 16, "%s: E_K2", m->name);
	cr_assert_eq(ecfs_xts_encrypt_block_k1(ref, pt, want), 0);
	cr_assert_eq(ecfs_xts_encrypt_block_k1(fast, pt, got), 0);
	cr_assert_arr_eq(got, want, 16, "%s: E_K1", m->name);
	ecfs_xts_free(fast);
	ecfs_xts_free(ref);
	free(pt), free(want), free(got);
}

Test(sm4, xts_matches_openssl_ecb_xts_on_every_length)
{
	cr_log_info("SM4-XTS against XTS over OpenSSL's SM4-ECB: %zu implementations",
		    each_impl(xts_every_length));
}

/* Buffers at every misalignment, in and out apart: the wide sets, a set of 8 and a short
 * tail through ECB, and an XTS unit that steals, against OpenSSL and XTS over its ECB. */
static void every_alignment(const struct ecfs_sm4_impl *m)
{
	enum { BLOCKS = 64 + 8 + 3, LEN = BLOCKS * 16, UNIT = LEN - 11 };
	uint8_t key[32], tweak[16], *in = xmalloc(LEN + 16), *out = xmalloc(LEN + 16);
	uint8_t want[LEN];
	struct ecfs_sm4_key enc, dec;
	struct ecfs_xts *fast, *ref;

	random_bytes(key, sizeof(key));
	random_bytes(tweak, sizeof(tweak));
	ecfs_sm4_expand(key, &enc, &dec);
	cr_assert_eq(ecfs_xts_new_with(ECFS_BC_SM4, key, sizeof(key), m, &fast), 0);
	cr_assert_eq(ecfs_xts_new_with(ECFS_BC_SM4, key, sizeof(key), NULL, &ref), 0);
	for (size_t a = 0; a < 16; a++)
		for (size_t b = 0; b < 16; b++) {
			random_bytes(in + a, LEN);
			openssl_ecb(key, 1, in + a, want, LEN);
			m->blocks(&enc, in + a, out + b, BLOCKS);
			cr_assert_arr_eq(out + b, want, LEN, "%s: ECB at offsets %zu, %zu", m->name,
					 a, b);
			m->blocks(&dec, out + b, out + b, BLOCKS);
			cr_assert_arr_eq(out + b, in + a, LEN, "%s: ECB back at offset %zu",
					 m->name, b);
			cr_assert_eq(ecfs_xts_encrypt(ref, tweak, in + a, want, UNIT), 0);
			cr_assert_eq(ecfs_xts_encrypt(fast, tweak, in + a, out + b, UNIT), 0);
			cr_assert_arr_eq(out + b, want, UNIT, "%s: XTS at offsets %zu, %zu",
					 m->name, a, b);
			cr_assert_eq(ecfs_xts_decrypt(fast, tweak, out + b, out + b, UNIT), 0);
			cr_assert_arr_eq(out + b, in + a, UNIT, "%s: XTS back at offset %zu",
					 m->name, b);
		}
	ecfs_xts_free(fast);
	ecfs_xts_free(ref);
	free(in), free(out);
}

Test(sm4, every_alignment_matches_openssl)
{
	cr_log_info("SM4 on misaligned buffers: %zu implementations", each_impl(every_alignment));
}

Test(sm4, xts_default_is_the_fastest_usable)
{
	const struct ecfs_sm4_impl *best = ecfs_sm4_best();

	for (const struct ecfs_sm4_impl *m = ecfs_sm4_impls; m->name && m != best; m++)
		cr_assert_not(m->usable(), "%s is usable but %s was chosen", m->name,
			      best ? best->name : "openssl");
	if (best)
		cr_assert(best->usable());
#if defined(__x86_64__)
	if (__builtin_cpu_supports("aes") && __builtin_cpu_supports("avx2"))
		cr_assert_not_null(best, "an AES-NI and AVX2 CPU gets no bulk SM4");
#endif
}

Test(sm4, xts_refuses_an_sm4_implementation_for_aes)
{
	uint8_t key[32];
	struct ecfs_xts *x = (struct ecfs_xts *)1;

	random_bytes(key, sizeof(key));
	if (!ecfs_sm4_impls[0].name)
		return;
	cr_assert_eq(ecfs_xts_new_with(ECFS_BC_AES, key, sizeof(key), &ecfs_sm4_impls[0], &x),
		     -EINVAL);
	cr_assert_null(x);
}
