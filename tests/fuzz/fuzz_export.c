/* SPDX-License-Identifier: MIT */
/* fuzz_export.c - libFuzzer target for the export-file parser: arbitrary bytes must give a
 * parsed export or an error, never a crash; an accepted export (version 1: one volume;
 * version 2: several) has every field in range. */
#include "internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ecfs_export e;

	if (ecfs_export_parse(data, size, &e) == 0) {
		/* Every field of an accepted export is in range: 1 to the most volumes (one in
		 * version 1), distinct UUIDs, known ciphers. */
		if (e.n < 1 || e.n > ECFS_EXPORT_MAX_VOLUMES || (e.version == 1 && e.n != 1) ||
		    e.argon2.t_cost < 1 || e.argon2.m_cost_kib < 8 || e.argon2.parallelism < 1)
			__builtin_trap();
		for (size_t i = 0; i < e.n; i++) {
			if (e.v[i].cipher == ECFS_CIPHER_NONE)
				__builtin_trap();
			for (size_t j = 0; j < i; j++)
				if (memcmp(e.v[i].uuid, e.v[j].uuid, ECFS_UUID_SIZE) == 0)
					__builtin_trap();
		}
	}
	return 0;
}
