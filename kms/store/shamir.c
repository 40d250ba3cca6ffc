/* SPDX-License-Identifier: MIT */
/*
 * shamir.c - Shamir's secret sharing over GF(2^8) (the AES field, x^8 + x^4 + x^3 + x + 1),
 * each byte of the secret the constant term of its own random polynomial of degree t - 1.
 * The field arithmetic has no tables and no data-dependent branches, since every value it
 * touches is secret.
 */
#include "kmsd_store.h"

#include <string.h>

static uint8_t gf_mul(uint8_t a, uint8_t b)
{
	uint8_t r = 0;

	for (int i = 0; i < 8; i++) {
		r ^= (uint8_t)(-(b & 1) & a);
		a = (uint8_t)((a << 1) ^ (-(a >> 7) & 0x1b));
		b >>= 1;
	}
	return r;
}

/* a^254 = a^-1 for a != 0 (the multiplicative group has order 255). */
static uint8_t gf_inv(uint8_t a)
{
	uint8_t sq = gf_mul(a, a), r = sq;

	for (int i = 0; i < 6; i++) {
		sq = gf_mul(sq, sq);
		r = gf_mul(r, sq);
	}
	return r;
}

/* Horner's rule: the polynomial with coefficients coef[0..t-1] at x. */
static uint8_t poly_eval(const uint8_t *coef, unsigned t, uint8_t x)
{
	uint8_t y = 0;

	for (unsigned j = t; j-- > 0;)
		y = gf_mul(y, x) ^ coef[j];
	return y;
}

int kmsd_shamir_split(const uint8_t *secret, size_t len, unsigned n, unsigned t, uint8_t *ys)
{
	uint8_t coef[255];
	int r = 0;

	if (len == 0 || t < 1 || t > n || n > 255)
		return ecfs_fail(-EINVAL, "Shamir sharing needs 1 <= threshold <= shares <= 255");
	for (size_t i = 0; i < len && r == 0; i++) {
		/* Uniform coefficients, a zero top one included: forcing it non-zero would make
		 * some secrets likelier than others given t - 1 shares. */
		coef[0] = secret[i];
		if (t > 1)
			r = ecfs_random(coef + 1, t - 1);
		for (unsigned x = 1; x <= n && r == 0; x++)
			ys[(x - 1) * len + i] = poly_eval(coef, t, (uint8_t)x);
	}
	ecfs_wipe(coef, sizeof(coef));
	if (r < 0)
		ecfs_wipe(ys, (size_t)n * len);
	return r;
}

/* The Lagrange basis polynomial of share i evaluated at 0: prod_{j != i} x_j / (x_j - x_i);
 * subtraction is XOR in GF(2^8). */
static uint8_t basis_at_zero(const uint8_t *xs, unsigned k, unsigned i)
{
	uint8_t num = 1, den = 1;

	for (unsigned j = 0; j < k; j++) {
		if (j == i)
			continue;
		num = gf_mul(num, xs[j]);
		den = gf_mul(den, xs[j] ^ xs[i]);
	}
	return gf_mul(num, gf_inv(den));
}

int kmsd_shamir_combine(const uint8_t *xs, const uint8_t *const *ys, unsigned k, size_t len,
			uint8_t *out)
{
	if (k == 0 || k > 255)
		return ecfs_fail(-EINVAL, "Shamir combination needs 1 to 255 shares");
	for (unsigned i = 0; i < k; i++) {
		if (xs[i] == 0)
			return ecfs_fail(-EINVAL, "share index 0 is invalid");
		for (unsigned j = 0; j < i; j++)
			if (xs[i] == xs[j])
				return ecfs_fail(-EINVAL, "share %u is given twice", xs[i]);
	}
	memset(out, 0, len);
	for (unsigned i = 0; i < k; i++) {
		uint8_t l = basis_at_zero(xs, k, i);

		for (size_t b = 0; b < len; b++)
			out[b] ^= gf_mul(l, ys[i][b]);
	}
	return 0;
}
