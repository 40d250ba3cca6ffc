/* SPDX-License-Identifier: MIT */
/*
 * sm4_aesni.c - SM4 on x86 with AES-NI and AVX2: the S-box from AESENCLAST.
 *
 * SM4's S-box and AES's are both the inversion in GF(2^8) between affine maps, over different
 * field polynomials, and a linear map takes one field to the other. So with P and Q affine,
 * S_SM4(x) = Q(SubBytes_AES(P(x))): P is SM4's inner affine map followed by the change of
 * field; Q undoes AES's affine map and the change of field and applies SM4's outer map. Each
 * is applied to a byte as two 16-entry tables, one per nibble, looked up with PSHUFB (a
 * shuffle within a register: no memory access depends on the data). AESENCLAST with a zero
 * round key is SubBytes followed by ShiftRows; the shuffles after the S-box (sm4_rot) undo
 * the ShiftRows as they rotate the words. The constants come from a search for a root of
 * SM4's field polynomial in AES's field (0x23) and are checked by the tests against OpenSSL.
 */
#include "internal.h"

#if defined(__x86_64__)

#define SM4_TARGET __attribute__((target("aes,avx2")))
#define SM4_BLOCKS ecfs_sm4_blocks_aesni_avx2
#include "sm4_x86.h"

/* P: P(x) = pre_lo[x & 15] ^ pre_hi[x >> 4]; Q likewise. */
static const uint8_t pre_lo[32] __attribute__((aligned(32))) = SM4_LANES(
    0x3e, 0xb2, 0x0e, 0x82, 0xbb, 0x37, 0x8b, 0x07, 0xa1, 0x2d, 0x91, 0x1d, 0x24, 0xa8, 0x14, 0x98);
static const uint8_t pre_hi[32] __attribute__((aligned(32))) = SM4_LANES(
    0x00, 0xdc, 0x2e, 0xf2, 0xc5, 0x19, 0xeb, 0x37, 0x08, 0xd4, 0x26, 0xfa, 0xcd, 0x11, 0xe3, 0x3f);
static const uint8_t post_lo[32] __attribute__((aligned(32))) = SM4_LANES(
    0x6c, 0xd4, 0xa6, 0x1e, 0x52, 0xea, 0x98, 0x20, 0x0b, 0xb3, 0xc1, 0x79, 0x35, 0x8d, 0xff, 0x47);
static const uint8_t post_hi[32] __attribute__((aligned(32))) = SM4_LANES(
    0x00, 0xe0, 0x50, 0xb0, 0x9d, 0x7d, 0xcd, 0x2d, 0xc0, 0x20, 0x90, 0x70, 0x5d, 0xbd, 0x0d, 0xed);

/* Byte i of AESENCLAST's result is the S-box of input byte i * 5 mod 16 (ShiftRows); row m
 * picks, for each byte of a word rotated left by 8m, where that byte went. */
static const uint8_t sm4_rot[4][32] __attribute__((aligned(32))) = {
    SM4_LANES(0, 13, 10, 7, 4, 1, 14, 11, 8, 5, 2, 15, 12, 9, 6, 3),
    SM4_LANES(7, 0, 13, 10, 11, 4, 1, 14, 15, 8, 5, 2, 3, 12, 9, 6),
    SM4_LANES(10, 7, 0, 13, 14, 11, 4, 1, 2, 15, 8, 5, 6, 3, 12, 9),
    SM4_LANES(13, 10, 7, 0, 1, 14, 11, 4, 5, 2, 15, 8, 9, 6, 3, 12),
};

SM4_TARGET static inline __m256i nibble_map(__m256i x, const uint8_t lo[32], const uint8_t hi[32])
{
	const __m256i low4 = _mm256_set1_epi8(0x0f);

	return _mm256_shuffle_epi8(sm4_const(lo), x & low4) ^
	       _mm256_shuffle_epi8(sm4_const(hi), _mm256_srli_epi16(x, 4) & low4);
}

SM4_TARGET static inline __m256i sm4_sbox(__m256i x)
{
	const __m128i zero = _mm_setzero_si128();
	__m128i a, b;

	x = nibble_map(x, pre_lo, pre_hi);
	/* AES-NI without VAES works on 128 bits at a time. */
	a = _mm_aesenclast_si128(_mm256_castsi256_si128(x), zero);
	b = _mm_aesenclast_si128(_mm256_extracti128_si256(x, 1), zero);
	x = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
	return nibble_map(x, post_lo, post_hi);
}

#endif
