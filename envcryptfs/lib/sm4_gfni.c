/* SPDX-License-Identifier: MIT */
/*
 * sm4_gfni.c - SM4 on x86 with GFNI and AVX2: the S-box from two Galois-field instructions.
 *
 * GF2P8AFFINEQB applies an 8x8 bit matrix and a constant to each byte; GF2P8AFFINEINVQB
 * inverts each byte in AES's field first. SM4's S-box is the inversion in its own field
 * between two affine maps, and a linear map takes SM4's field to AES's, so
 * S_SM4(x) = Q(inverse_AES(P(x))) with P and Q affine: P is SM4's inner affine map followed by
 * the change of field, Q the change back followed by SM4's outer map (sm4_aesni.c does the
 * same with AES's whole S-box). The matrices come from the same root of SM4's field
 * polynomial in AES's field (0x23) and are checked by the tests against OpenSSL.
 */
#include "internal.h"

#if defined(__x86_64__)

#define SM4_TARGET __attribute__((target("gfni,avx2")))
#define SM4_BLOCKS ecfs_sm4_blocks_gfni_avx2
#include "sm4_x86.h"

/* The matrices as the instructions take them: byte 7 - i of the quadword is output bit i. */
#define PRE_MATRIX  0x4c287db91a22505dll
#define PRE_CONST   0x3e
#define POST_MATRIX 0xf3ab34a974a6b589ll
#define POST_CONST  0xd3

/* The S-box leaves bytes in place: the rows only rotate. */
static const uint8_t sm4_rot[4][32] __attribute__((aligned(32))) = {
    SM4_LANES(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    SM4_LANES(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14),
    SM4_LANES(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13),
    SM4_LANES(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12),
};

SM4_TARGET static inline __m256i sm4_sbox(__m256i x)
{
	x = _mm256_gf2p8affine_epi64_epi8(x, _mm256_set1_epi64x(PRE_MATRIX), PRE_CONST);
	return _mm256_gf2p8affineinv_epi64_epi8(x, _mm256_set1_epi64x(POST_MATRIX), POST_CONST);
}

#endif
