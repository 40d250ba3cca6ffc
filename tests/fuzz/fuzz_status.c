/* SPDX-License-Identifier: MIT */
/* fuzz_status.c - libFuzzer target for the status reply parser of `envcryptfsctl status`:
 * whatever a peer on the socket sends gives a status or an error, never a crash. */
#include "status.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecfs_status st;

	if (size > 1 << 16)
		return 0;
	if (ecfs_status_parse((const char *)data, size, &st) == 0) {
		/* Strings stay terminated inside their fields. */
		if (memchr(st.uuid, 0, sizeof(st.uuid)) == NULL ||
		    memchr(st.cipher, 0, sizeof(st.cipher)) == NULL)
			__builtin_trap();
	}
	return 0;
}
