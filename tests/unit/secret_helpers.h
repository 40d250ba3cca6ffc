/* SPDX-License-Identifier: MIT */
/* secret_helpers.h - test keys in locked memory, shared by the unit tests. */
#ifndef ECFS_TEST_SECRET_HELPERS_H
#define ECFS_TEST_SECRET_HELPERS_H

#include "envcryptfs.h"

#include <criterion/criterion.h>
#include <string.h>

static inline struct ecfs_secret *secret_of(const void *p, size_t len)
{
	struct ecfs_secret *s = ecfs_secret_new(len);

	cr_assert_not_null(s);
	memcpy(ecfs_secret_data(s), p, len);
	return s;
}

/* A 48-byte key file whose bytes depend on seed. */
static inline struct ecfs_secret *key_secret(uint8_t seed)
{
	uint8_t b[48];

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + 1);
	return secret_of(b, sizeof(b));
}

#endif /* ECFS_TEST_SECRET_HELPERS_H */
