/* SPDX-License-Identifier: MIT */
/*
 * sm4_x86.h - SM4's rounds over 8 and 16 blocks with AVX2, shared by the x86 implementations,
 * which differ only in how they compute the S-box.
 *
 * Each of sm4_aesni.c and sm4_gfni.c defines SM4_TARGET (the function attribute that
 * enables its instructions) and SM4_BLOCKS (the name of the ecfs_sm4_blocks_fn to define),
 * includes this file once, and then defines what it declares last:
 *   sm4_sbox(x)   the S-box on each byte of x, leaving the bytes of each 128-bit lane in the
 *                 order that the shuffles of sm4_rot expect;
 *   sm4_rot[m]    shuffles that take sm4_sbox's result to the S-box of each word rotated
 *                 left by 8m bits.
 * The blocks are transposed so that register j holds word j of 8 blocks, one in each 32-bit
 * lane: a round is then the same few lane-wise operations for every block, none of them a
 * memory access at an address that depends on data or key.
 */
#ifndef SM4_BLOCKS
#error "sm4_x86.h is included by an implementation that defines SM4_BLOCKS"
#endif

#include <immintrin.h>
#include <string.h>

/* A 16-byte shuffle row repeated for both 128-bit lanes of a 32-byte constant. */
#define SM4_LANES(...)                                                                             \
	{                                                                                          \
		__VA_ARGS__, __VA_ARGS__                                                           \
	}

/* SM4's words are big-endian. */
static const uint8_t sm4_bswap32[32] __attribute__((aligned(32))) =
    SM4_LANES(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);

SM4_TARGET static inline __m256i sm4_sbox(__m256i x);
static const uint8_t sm4_rot[4][32] __attribute__((aligned(32)));

SM4_TARGET static inline __m256i sm4_const(const uint8_t c[32])
{
	return _mm256_load_si256((const __m256i *)(const void *)c);
}

/* A 4x4 transpose of 32-bit words within each 128-bit lane; its own inverse. */
SM4_TARGET static inline void sm4_transpose(__m256i w[4])
{
	__m256i t0 = _mm256_unpacklo_epi32(w[0], w[1]), t1 = _mm256_unpackhi_epi32(w[0], w[1]);
	__m256i t2 = _mm256_unpacklo_epi32(w[2], w[3]), t3 = _mm256_unpackhi_epi32(w[2], w[3]);

	w[0] = _mm256_unpacklo_epi64(t0, t2);
	w[1] = _mm256_unpackhi_epi64(t0, t2);
	w[2] = _mm256_unpacklo_epi64(t1, t3);
	w[3] = _mm256_unpackhi_epi64(t1, t3);
}

/* Blocks 0-7 of in as words: block 2i in lane 0 and block 2i+1 in lane 1 of 32-bit lane i. */
SM4_TARGET static inline void sm4_load8(const uint8_t *in, __m256i w[4])
{
	const __m256i bswap = sm4_const(sm4_bswap32);

	for (int i = 0; i < 4; i++)
		w[i] = _mm256_shuffle_epi8(
		    _mm256_loadu_si256((const __m256i *)(const void *)(in + 32 * i)), bswap);
	sm4_transpose(w);
}

/* The reverse of sm4_load8, for the output words X35, X34, X33, X32. */
SM4_TARGET static inline void sm4_store8(uint8_t *out, __m256i x0, __m256i x1, __m256i x2,
					 __m256i x3)
{
	const __m256i bswap = sm4_const(sm4_bswap32);
	__m256i w[4] = {x3, x2, x1, x0};

	sm4_transpose(w);
	for (int i = 0; i < 4; i++)
		_mm256_storeu_si256((__m256i *)(void *)(out + 32 * i),
				    _mm256_shuffle_epi8(w[i], bswap));
}

/* T(x) = L(tau(x)), L(b) = b ^ (b <<< 2) ^ (b <<< 10) ^ (b <<< 18) ^ (b <<< 24)
 *      = b ^ (b <<< 24) ^ ((b ^ (b <<< 8) ^ (b <<< 16)) <<< 2). */
SM4_TARGET static inline __m256i sm4_t(__m256i x)
{
	__m256i z = sm4_sbox(x);
	__m256i b = _mm256_shuffle_epi8(z, sm4_const(sm4_rot[0]));
	__m256i t = b ^ _mm256_shuffle_epi8(z, sm4_const(sm4_rot[1])) ^
		    _mm256_shuffle_epi8(z, sm4_const(sm4_rot[2]));

	return b ^ _mm256_shuffle_epi8(z, sm4_const(sm4_rot[3])) ^ _mm256_slli_epi32(t, 2) ^
	       _mm256_srli_epi32(t, 30);
}

SM4_TARGET static inline __m256i sm4_rk(const struct ecfs_sm4_key *k, int i)
{
	return _mm256_set1_epi32((int)k->rk[i]);
}

/* SM4_SETS sets of 8 blocks at once, so that one set's S-box latency hides the others'; the
 * 32 rounds unrolled by four so that the words need not move. */
#ifndef SM4_SETS
#define SM4_SETS 8
#endif
#define SM4_WIDE (8 * SM4_SETS)

SM4_TARGET static inline __attribute__((always_inline)) void
sm4_sets(const struct ecfs_sm4_key *k, const uint8_t *in, uint8_t *out, int sets)
{
	__m256i x[SM4_SETS][4], r;

	for (int s = 0; s < sets; s++)
		sm4_load8(in + 128 * s, x[s]);
	for (int i = 0; i < ECFS_SM4_ROUNDS; i += 4) {
		r = sm4_rk(k, i);
		for (int s = 0; s < sets; s++)
			x[s][0] ^= sm4_t(x[s][1] ^ x[s][2] ^ x[s][3] ^ r);
		r = sm4_rk(k, i + 1);
		for (int s = 0; s < sets; s++)
			x[s][1] ^= sm4_t(x[s][2] ^ x[s][3] ^ x[s][0] ^ r);
		r = sm4_rk(k, i + 2);
		for (int s = 0; s < sets; s++)
			x[s][2] ^= sm4_t(x[s][3] ^ x[s][0] ^ x[s][1] ^ r);
		r = sm4_rk(k, i + 3);
		for (int s = 0; s < sets; s++)
			x[s][3] ^= sm4_t(x[s][0] ^ x[s][1] ^ x[s][2] ^ r);
	}
	for (int s = 0; s < sets; s++)
		sm4_store8(out + 128 * s, x[s][0], x[s][1], x[s][2], x[s][3]);
}

SM4_TARGET static void sm4_8(const struct ecfs_sm4_key *k, const uint8_t *in, uint8_t *out)
{
	sm4_sets(k, in, out, 1);
}

SM4_TARGET static void sm4_wide(const struct ecfs_sm4_key *k, const uint8_t *in, uint8_t *out)
{
	sm4_sets(k, in, out, SM4_SETS);
}

SM4_TARGET void SM4_BLOCKS(const struct ecfs_sm4_key *k, const uint8_t *in, uint8_t *out, size_t n)
{
	uint8_t tail[128];

	for (; n >= SM4_WIDE; n -= SM4_WIDE, in += 16 * SM4_WIDE, out += 16 * SM4_WIDE)
		sm4_wide(k, in, out);
	for (; n >= 8; n -= 8, in += 128, out += 128)
		sm4_8(k, in, out);
	if (n) {
		/* Fewer than 8 blocks go through a full set of 8 on the stack, wiped after. */
		memset(tail, 0, sizeof(tail));
		memcpy(tail, in, n * 16);
		sm4_8(k, tail, tail);
		memcpy(out, tail, n * 16);
		ecfs_wipe(tail, sizeof(tail));
	}
}
