/* SPDX-License-Identifier: MIT */
/*
 * fuzz_transit_store.c - libFuzzer target for the other byte parsers of envcryptfs-kmsd: the
 * key store payload decoder (every length checked before use), unseal share texts and the
 * share verifiers file. A decoded store must encode back to exactly the input. Built like
 * fuzz_transit.c.
 */
#include "kmsd_store.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t uuid[ECFS_UUID_SIZE] = {7, 7, 7, 7, 7, 7, 0x47, 7, 0x87, 7, 7, 7, 7, 7, 7, 7};

static void store_payload(const uint8_t *data, size_t size)
{
	struct kmsd_store *s = calloc(1, sizeof(*s));
	struct ecfs_secret *again;

	if (!s)
		abort();
	if (kmsd_store_decode(s, data, size) == 0) {
		if (kmsd_store_encode(s, &again) != 0 || ecfs_secret_len(again) != size ||
		    memcmp(ecfs_secret_data(again), data, size) != 0)
			abort();
		ecfs_secret_free(again);
	}
	kmsd_store_seal(s);
	free(s);
}

static void share_text(const uint8_t *data, size_t size)
{
	struct kmsd_share sh;
	char hex[KMSD_SHARE_HEX + 1];

	if (kmsd_share_decode(uuid, (const char *)data, size, &sh) == 0) {
		/* An accepted share re-encodes to a text that decodes to the same share. */
		struct kmsd_share back;

		kmsd_share_encode(uuid, &sh, hex);
		if (kmsd_share_decode(uuid, hex, KMSD_SHARE_HEX, &back) != 0 ||
		    back.index != sh.index || memcmp(back.y, sh.y, sizeof(sh.y)) != 0)
			abort();
	}
}

/* A verifiers file is taken only for its store: exactly the header and n verifiers. */
static void verifiers_file(const uint8_t *data, size_t size)
{
	struct kmsd_store s = {.dir = "fuzz", .n = size > 28 ? data[28] : 1, .t = 1};

	memcpy(s.uuid, uuid, sizeof(uuid));
	if (kmsd_verifiers_parse(&s, data, size) == 0 && size != 32 + (size_t)s.n * 32)
		abort();
	free(s.verifiers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	store_payload(data, size);
	share_text(data, size);
	verifiers_file(data, size);
	return 0;
}
