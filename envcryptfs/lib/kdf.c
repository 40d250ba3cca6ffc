/* SPDX-License-Identifier: MIT */
/* kdf.c - Argon2id via libargon2 (the digests are in util/digest.c). */
#include "internal.h"

#include <argon2.h>
#include <limits.h>

_Static_assert(ARGON2_VERSION_NUMBER == 0x13, "libargon2 must default to Argon2 version 0x13");

int ecfs_argon2id(const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
		  const struct ecfs_argon2_params *p, uint8_t *out, size_t out_len)
{
	int rc;

	/* libargon2 takes 32-bit lengths. */
	if (pass_len > UINT32_MAX || salt_len > UINT32_MAX || out_len > UINT32_MAX)
		return ecfs_fail(-EINVAL, "argon2id: input too long");
	rc = argon2id_hash_raw(p->t_cost, p->m_cost_kib, p->parallelism, pass, pass_len, salt,
			       salt_len, out, out_len);
	if (rc == ARGON2_OK)
		return 0;
	ecfs_wipe(out, out_len);
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR || rc == ARGON2_THREAD_FAIL)
		return ecfs_fail(-ENOMEM, "argon2id: %s (m=%u KiB, p=%u)", argon2_error_message(rc),
				 p->m_cost_kib, p->parallelism);
	return ecfs_fail(-EINVAL, "argon2id: %s (t=%u, m=%u KiB, p=%u)", argon2_error_message(rc),
			 p->t_cost, p->m_cost_kib, p->parallelism);
}
