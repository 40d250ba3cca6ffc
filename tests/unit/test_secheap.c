/* SPDX-License-Identifier: MIT */
/* The heap OpenSSL and libcurl allocate from: blocks are reused through their free lists,
 * wiped when freed, and keep their contents across realloc. */
#include <criterion/criterion.h>

#include "internal.h"

#include <string.h>

Test(secheap, a_freed_block_is_wiped_and_reused)
{
	for (size_t n = 1; n <= 65536; n *= 4) {
		uint8_t *p = ecfs_secheap_malloc(n), *q;

		cr_assert_not_null(p);
		memset(p, 0xa5, n);
		ecfs_secheap_free(p);
		q = ecfs_secheap_malloc(n);
		cr_assert_eq(q, p, "a block of %zu bytes was not reused", n);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(q[i], 0, "byte %zu of a reused %zu-byte block not wiped", i,
				     n);
		ecfs_secheap_free(q);
	}
}

Test(secheap, realloc_keeps_contents_across_classes_and_to_large_blocks)
{
	uint8_t *p = ecfs_secheap_malloc(10);

	cr_assert_not_null(p);
	memcpy(p, "0123456789", 10);
	for (size_t n = 20; n <= (1u << 18); n *= 3) {
		p = ecfs_secheap_realloc(p, n);
		cr_assert_not_null(p);
		cr_assert_arr_eq(p, "0123456789", 10, "contents lost growing to %zu bytes", n);
	}
	p = ecfs_secheap_realloc(p, 12);
	cr_assert_arr_eq(p, "0123456789", 10);
	ecfs_secheap_free(p);
}

Test(secheap, many_blocks_of_every_class_stay_apart)
{
	enum { N = 300 };
	uint8_t *b[N];

	for (int i = 0; i < N; i++) {
		b[i] = ecfs_secheap_malloc((size_t)(i * 97 % 5000) + 1);
		cr_assert_not_null(b[i]);
		memset(b[i], i & 0xff, (size_t)(i * 97 % 5000) + 1);
	}
	for (int i = 0; i < N; i += 2)
		ecfs_secheap_free(b[i]);
	for (int i = 1; i < N; i += 2)
		for (size_t j = 0; j < (size_t)(i * 97 % 5000) + 1; j++)
			cr_assert_eq(b[i][j], i & 0xff, "block %d changed when others were freed",
				     i);
	for (int i = 1; i < N; i += 2)
		ecfs_secheap_free(b[i]);
}
