/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv.c - libFuzzer target for the KV version 2 parsers: a read answer's field (the
 * bytes of a vault: key file), kmsd's write requests, and the KV section of kmsd's store. A
 * field never decodes longer than the limit; a write request's data is a JSON object inside
 * the input; a decoded store section encodes back to exactly the input.
 */
#include "kmsd_store.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_answer(const char *text, size_t size)
{
	struct ecfs_secret *v = NULL;

	if (kms_kv_parse_field(text, size, "key", 64, &v) == 0) {
		if (!v || ecfs_secret_len(v) > 64)
			abort();
		ecfs_secret_free(v);
	} else if (v) {
		abort();
	}
}

static void write_request(const char *text, size_t size)
{
	struct kms_json d, again;
	uint64_t cas = 0;
	bool has_cas = false;

	if (kms_kv_parse_write_req(text, size, &d, &has_cas, &cas) != 0)
		return;
	if (d.p < text || d.p + d.len > text + size || d.len > KMS_KV_DATA_MAX ||
	    kms_json_parse(d.p, d.len, &again) != 0 || again.type != KMS_JSON_OBJECT)
		abort();
}

static void store_section(const uint8_t *data, size_t size)
{
	struct kmsd_store s = {0};
	uint8_t *again;

	if (kmsd_kv_decode(data, size, &s.secrets, &s.nsecrets) != 0)
		return;
	if (kmsd_kv_encoded_size(&s) != size || !(again = malloc(size)))
		abort();
	if (kmsd_kv_encode(&s, again) != again + size || memcmp(again, data, size) != 0)
		abort();
	free(again);
	kmsd_kv_free(s.secrets, s.nsecrets);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_answer((const char *)data, size);
	write_request((const char *)data, size);
	store_section(data, size);
	return 0;
}
