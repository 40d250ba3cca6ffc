/* SPDX-License-Identifier: MIT */
/* test_kms_shamir.c - Shamir sharing over GF(2^8): any t of n shares recover the secret, t - 1
 * reveal nothing, and a mistyped or foreign share text is refused. */
#include <criterion/criterion.h>

#include "kmsd_store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEN 32

static void split_random(unsigned n, unsigned t, uint8_t secret[LEN], uint8_t *ys)
{
	cr_assert_eq(ecfs_random(secret, LEN), 0);
	cr_assert_eq(kmsd_shamir_split(secret, LEN, n, t, ys), 0);
}

/* Combines the shares whose bits are set in mask. */
static void combine_mask(const uint8_t *ys, size_t len, unsigned mask, uint8_t *out)
{
	uint8_t xs[8];
	const uint8_t *yp[8];
	unsigned k = 0;

	for (unsigned i = 0; i < 8; i++) {
		if (mask & (1u << i)) {
			xs[k] = (uint8_t)(i + 1);
			yp[k++] = ys + i * len;
		}
	}
	cr_assert_eq(kmsd_shamir_combine(xs, yp, k, len, out), 0);
}

Test(kms_shamir, every_threshold_subset_recovers)
{
	uint8_t secret[LEN], ys[5 * LEN], out[LEN];
	int subsets = 0;

	split_random(5, 3, secret, ys);
	for (unsigned mask = 0; mask < 32; mask++) {
		int k = __builtin_popcount(mask);

		if (k < 3)
			continue;
		combine_mask(ys, LEN, mask, out);
		cr_assert_eq(memcmp(out, secret, LEN), 0, "subset %#x", mask);
		subsets += k == 3;
	}
	cr_assert_eq(subsets, 10);
}

Test(kms_shamir, fewer_than_threshold_give_a_wrong_secret)
{
	uint8_t secret[LEN], ys[5 * LEN], out[LEN];

	split_random(5, 3, secret, ys);
	for (unsigned mask = 1; mask < 32; mask++) {
		if (__builtin_popcount(mask) >= 3)
			continue;
		combine_mask(ys, LEN, mask, out);
		cr_assert_neq(memcmp(out, secret, LEN), 0, "subset %#x", mask);
	}
}

/* With t - 1 shares fixed, each of the 256 values of the t-th share completes them to a
 * different secret: every secret value is equally consistent, so t - 1 shares say nothing. */
static void check_secrecy(unsigned n, unsigned t)
{
	uint8_t secret = 0x5a, ys[16], xs[16], seen[256] = {0}, out;
	const uint8_t *yp[16];

	cr_assert_eq(kmsd_shamir_split(&secret, 1, n, t, ys), 0);
	for (unsigned i = 0; i < t; i++) {
		xs[i] = (uint8_t)(i + 1);
		yp[i] = &ys[i];
	}
	for (unsigned v = 0; v < 256; v++) {
		uint8_t last = (uint8_t)v;

		yp[t - 1] = &last;
		cr_assert_eq(kmsd_shamir_combine(xs, yp, t, 1, &out), 0);
		seen[out]++;
	}
	for (unsigned s = 0; s < 256; s++)
		cr_assert_eq(seen[s], 1, "t=%u n=%u: secret %u reached %u times", t, n, s, seen[s]);
}

Test(kms_shamir, threshold_minus_one_reveals_nothing)
{
	check_secrecy(5, 3);
	check_secrecy(2, 2);
	check_secrecy(8, 8);
	check_secrecy(10, 4);
}

Test(kms_shamir, small_cases)
{
	/* A threshold of 1 is a copy. */
	uint8_t secret[3] = {1, 2, 3}, ys[3], out[3], x = 1;
	const uint8_t *yp = ys;

	cr_assert_eq(kmsd_shamir_split(secret, 3, 1, 1, ys), 0);
	cr_assert_eq(memcmp(ys, secret, 3), 0);
	cr_assert_eq(kmsd_shamir_combine(&x, &yp, 1, 3, out), 0);
	cr_assert_eq(memcmp(out, secret, 3), 0);
	/* Every byte value survives a 2-of-2 split and combination. */
	uint8_t xs2[2] = {1, 2}, again[2];
	for (unsigned s0 = 0; s0 < 256; s0++) {
		uint8_t sec = (uint8_t)s0, out1;
		const uint8_t *ya[2] = {&again[0], &again[1]};

		cr_assert_eq(kmsd_shamir_split(&sec, 1, 2, 2, again), 0);
		cr_assert_eq(kmsd_shamir_combine(xs2, ya, 2, 1, &out1), 0);
		cr_assert_eq(out1, sec);
	}
}

Test(kms_shamir, bad_parameters)
{
	uint8_t s[LEN] = {0}, ys[5 * LEN], out[LEN], xs[3] = {1, 1, 2};
	const uint8_t *yp[3] = {ys, ys + LEN, ys + 2 * LEN};

	cr_assert_eq(kmsd_shamir_split(s, LEN, 3, 4, ys), -EINVAL);
	cr_assert_eq(kmsd_shamir_split(s, LEN, 3, 0, ys), -EINVAL);
	cr_assert_eq(kmsd_shamir_split(s, LEN, 256, 3, ys), -EINVAL);
	cr_assert_eq(kmsd_shamir_split(s, 0, 3, 2, ys), -EINVAL);
	cr_assert_eq(kmsd_shamir_combine(xs, yp, 3, LEN, out), -EINVAL);
	xs[0] = 0;
	cr_assert_eq(kmsd_shamir_combine(xs, yp, 2, LEN, out), -EINVAL);
	cr_assert_eq(kmsd_shamir_combine(xs, yp, 0, LEN, out), -EINVAL);
}

/* ---- share texts ---------------------------------------------------------------------- */

static const uint8_t uuid_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t uuid_b[16] = {16, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 1};

static struct kmsd_share some_share(void)
{
	struct kmsd_share s = {.index = 3};

	cr_assert_eq(ecfs_random(s.y, sizeof(s.y)), 0);
	return s;
}

Test(kms_shamir, share_text_round_trip)
{
	struct kmsd_share s = some_share(), back;
	char hex[KMSD_SHARE_HEX + 1], padded[KMSD_SHARE_HEX + 8];
	uint8_t raw[KMSD_SHARE_BYTES];
	char b64[64];

	kmsd_share_encode(uuid_a, &s, hex);
	cr_assert_eq(strlen(hex), KMSD_SHARE_HEX);
	cr_assert_eq(kmsd_share_decode(uuid_a, hex, strlen(hex), &back), 0);
	cr_assert(back.index == 3 && memcmp(back.y, s.y, sizeof(s.y)) == 0);
	/* Surrounding whitespace (a pasted line) is fine; so is upper-case hex. */
	snprintf(padded, sizeof(padded), "  %s\n", hex);
	for (char *p = padded; *p; p++)
		*p = (char)toupper(*p);
	cr_assert_eq(kmsd_share_decode(uuid_a, padded, strlen(padded), &back), 0);
	/* The same bytes in base64. */
	for (size_t i = 0; i < sizeof(raw); i++)
		sscanf(hex + 2 * i, "%2hhx", &raw[i]);
	ecfs_b64_encode(raw, sizeof(raw), b64);
	cr_assert_eq(kmsd_share_decode(uuid_a, b64, strlen(b64), &back), 0);
	cr_assert(back.index == 3 && memcmp(back.y, s.y, sizeof(s.y)) == 0);
}

Test(kms_shamir, corrupt_or_foreign_share_detected)
{
	struct kmsd_share s = some_share(), back;
	char hex[KMSD_SHARE_HEX + 1], bad[KMSD_SHARE_HEX + 1];

	kmsd_share_encode(uuid_a, &s, hex);
	/* Every single-digit change is caught by the check. */
	for (size_t i = 0; i < KMSD_SHARE_HEX; i++) {
		memcpy(bad, hex, sizeof(bad));
		bad[i] = bad[i] == '0' ? '1' : '0';
		int r = kmsd_share_decode(uuid_a, bad, KMSD_SHARE_HEX, &back);

		cr_assert(r == -EBADMSG || (i < 2 && r == -EINVAL), "digit %zu: %d", i, r);
	}
	cr_assert_eq(kmsd_share_decode(uuid_b, hex, KMSD_SHARE_HEX, &back), -EBADMSG);
	cr_assert(strstr(ecfs_last_error(), "another key store"));
	cr_assert_eq(kmsd_share_decode(uuid_a, hex, KMSD_SHARE_HEX - 1, &back), -EINVAL);
	memcpy(bad, hex, sizeof(bad));
	bad[10] = 'g';
	cr_assert_eq(kmsd_share_decode(uuid_a, bad, KMSD_SHARE_HEX, &back), -EINVAL);
	cr_assert_eq(kmsd_share_decode(uuid_a, "", 0, &back), -EINVAL);
}

Test(kms_shamir, share_files)
{
	char dir[] = "/tmp/ecfs-share.XXXXXX", path[64];
	struct kmsd_share s = some_share(), back;
	struct ecfs_secret *text;
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/share.3", dir);
	cr_assert_eq(kmsd_share_write_file(path, uuid_a, &s, 5, 3), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(kmsd_share_write_file(path, uuid_a, &s, 5, 3), -EEXIST);
	cr_assert_eq(kmsd_share_read_file(path, &text), 0);
	cr_assert_eq(kmsd_share_decode(uuid_a, (const char *)ecfs_secret_data(text),
				       ecfs_secret_len(text), &back),
		     0);
	cr_assert(back.index == s.index && memcmp(back.y, s.y, sizeof(s.y)) == 0);
	ecfs_secret_free(text);
	unlink(path);
	rmdir(dir);
}
