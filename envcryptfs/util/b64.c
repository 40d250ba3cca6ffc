/* SPDX-License-Identifier: MIT */
/*
 * b64.c - strict base64url without padding (file names) and padded base64 (JSON fields).
 *
 * Decoding accepts exactly one spelling of each byte string, so two names on disk can never
 * decode to the same plaintext name. The character mapping is branch-free and table-free,
 * since some fields hold key material.
 */
#include "ecfs_util.h"

#include <limits.h>

/* The two characters that differ between the alphabets (values 62 and 63). */
struct b64_alphabet {
	unsigned int c62, c63;
};

static const struct b64_alphabet url_abc = {'-', '_'};
static const struct b64_alphabet std_abc = {'+', '/'};

/* All ones when v >= k, else zero (v, k < 2^31). */
static unsigned int ge_mask(unsigned int v, unsigned int k)
{
	return 0u - (((k - 1 - v) >> 31) & 1);
}

/* All ones when lo <= c <= hi, else zero. */
static unsigned int range_mask(unsigned int c, unsigned int lo, unsigned int hi)
{
	return ((((hi - c) | (c - lo)) >> 31) & 1) - 1u;
}

static char enc_char(unsigned int v, const struct b64_alphabet *a)
{
	/* Start at 'A' and add the gap to each following range once v reaches it. */
	unsigned int c = 'A' + v;

	c += ge_mask(v, 26) & ('a' - 'A' - 26);
	c += ge_mask(v, 52) & ('0' - 'a' - 26);
	c += ge_mask(v, 62) & (a->c62 - '0' - 10);
	c += ge_mask(v, 63) & (a->c63 - a->c62 - 1);
	return (char)c;
}

/* The 6-bit value of c; *bad gets all ones OR-ed in when c is not in the alphabet. */
static unsigned int dec_char(unsigned char ch, const struct b64_alphabet *a, unsigned int *bad)
{
	unsigned int c = ch, m, v, ok;

	m = range_mask(c, 'A', 'Z');
	v = m & (c - 'A');
	ok = m;
	m = range_mask(c, 'a', 'z');
	v |= m & (c - 'a' + 26);
	ok |= m;
	m = range_mask(c, '0', '9');
	v |= m & (c - '0' + 52);
	ok |= m;
	m = range_mask(c, a->c62, a->c62);
	v |= m & 62;
	ok |= m;
	m = range_mask(c, a->c63, a->c63);
	v |= m & 63;
	ok |= m;
	*bad |= ~ok;
	return v & 63;
}

size_t ecfs_b64_encoded_len(size_t len)
{
	return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

static size_t encode(const uint8_t *in, size_t len, char *out, const struct b64_alphabet *a)
{
	unsigned int acc = 0, bits = 0;
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		acc = (acc << 8 | in[i]) & 0xffff;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = enc_char((acc >> bits) & 63, a);
		}
	}
	/* The last partial group is padded with zero bits. */
	if (bits)
		out[o++] = enc_char((acc << (6 - bits)) & 63, a);
	out[o] = '\0';
	return o;
}

size_t ecfs_b64url_encode(const uint8_t *in, size_t len, char *out)
{
	return encode(in, len, out, &url_abc);
}

/* Decodes unpadded text; the length and leftover-bit checks make the encoding unique. */
static int decode(const char *in, size_t len, uint8_t *out, size_t outsz,
		  const struct b64_alphabet *a)
{
	unsigned int acc = 0, bits = 0, bad = 0;
	size_t i, o = 0, n;

	if (len % 4 == 1)
		return -EINVAL;
	n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (n > outsz || n > INT_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		acc = (acc << 6 | dec_char((unsigned char)in[i], a, &bad)) & 0xfff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits (2 or 4) must be zero, or two texts would decode alike. */
	bad |= acc & ((1u << bits) - 1);
	if (bad) {
		ecfs_wipe(out, o);
		return -EINVAL;
	}
	return (int)n;
}

int ecfs_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outsz)
{
	return decode(in, len, out, outsz, &url_abc);
}

/* out must hold 4 * ((len + 2) / 3) + 1 bytes. */
size_t ecfs_b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = encode(in, len, out, &std_abc);

	while (o % 4)
		out[o++] = '=';
	out[o] = '\0';
	return o;
}

int ecfs_b64_decode(const char *in, size_t len, uint8_t *out, size_t outsz)
{
	size_t pad = 0;

	if (len % 4)
		return -EINVAL;
	/* At most two '='; one anywhere else is rejected by the alphabet check. */
	while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
		pad++;
	return decode(in, len - pad, out, outsz, &std_abc);
}
