/* SPDX-License-Identifier: MIT */
/* fuzz_tpm2_slot.c - libFuzzer target for the TPM2 key slot's parser (a slot object of the
 * header, its sealed-key blobs unmarshalled and checked) and for PCR lists ("0,7"): arbitrary
 * bytes give a slot or an error, never a crash; an accepted slot writes back to the same. */
#include "slot.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const struct ecfs_slot *s)
{
	json_object *o = ecfs_slot_write(s);
	struct ecfs_slot again;

	memset(&again, 0, sizeof(again));
	if (ecfs_slot_parse(o, &again) != 0 || again.tpm2.pcrs != s->tpm2.pcrs ||
	    again.tpm2.pub_len != s->tpm2.pub_len || again.tpm2.priv_len != s->tpm2.priv_len ||
	    memcmp(again.tpm2.pub, s->tpm2.pub, s->tpm2.pub_len) != 0 ||
	    memcmp(again.tpm2.priv, s->tpm2.priv, s->tpm2.priv_len) != 0 ||
	    memcmp(again.wrapped_dek, s->wrapped_dek, sizeof(s->wrapped_dek)) != 0)
		__builtin_trap();
	json_object_put(o);
}

static void fuzz_pcr_list(const uint8_t *data, size_t size)
{
	char text[128];
	uint32_t mask = 0;

	if (size >= sizeof(text))
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ecfs_tpm2_parse_pcrs(text, &mask) == 0 && (mask == 0 || mask >> 24))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;
	struct ecfs_slot s;

	fuzz_pcr_list(data, size);
	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)(size > 65536 ? 65536 : size));
	memset(&s, 0, sizeof(s));
	if (o && ecfs_slot_parse(o, &s) == 0 && s.type == ECFS_SLOT_TPM2) {
		if (s.tpm2.pub_len == 0 || s.tpm2.pub_len > ECFS_TPM2_BLOB_MAX ||
		    s.tpm2.priv_len == 0 || s.tpm2.priv_len > ECFS_TPM2_BLOB_MAX)
			__builtin_trap();
		check_round_trip(&s);
	}
	json_object_put(o);
	json_tokener_free(tok);
	return 0;
}
