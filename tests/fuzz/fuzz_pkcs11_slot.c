/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pkcs11_slot.c - libFuzzer target for a PKCS#11 key slot as the header holds it: any
 * JSON text is parsed as a slot object; it is refused as damaged or unsupported, or it parses
 * into labels that are non-empty, within their bounds, free of control bytes and terminated,
 * and writes back to an object that parses to the same slot.
 */
#include "slot.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_label(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n == 0 || n > max)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			__builtin_trap();
}

static void round_trip(const struct ecfs_slot *s)
{
	json_object *o = ecfs_slot_write(s);
	struct ecfs_slot again;

	memset(&again, 0, sizeof(again));
	if (ecfs_slot_parse(o, &again) != 0 || again.type != s->type ||
	    again.kek_generation != s->kek_generation || again.created != s->created ||
	    memcmp(&again.pkcs11, &s->pkcs11, sizeof(s->pkcs11)) != 0 ||
	    memcmp(again.wrapped_dek, s->wrapped_dek, sizeof(s->wrapped_dek)) != 0)
		__builtin_trap();
	json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_tokener *tok = json_tokener_new_ex(16);
	json_object *o;
	struct ecfs_slot s;
	int r;

	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)(size > 65536 ? 65536 : size));
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return 0;
	}
	memset(&s, 0, sizeof(s));
	r = ecfs_slot_parse(o, &s);
	if (r != 0 && r != -EUCLEAN && r != -EPROTONOSUPPORT)
		__builtin_trap();
	if (r == 0 && s.type == ECFS_SLOT_PKCS11) {
		check_label(s.pkcs11.token, ECFS_PKCS11_TOKEN_MAX);
		check_label(s.pkcs11.key, ECFS_PKCS11_KEY_MAX);
		round_trip(&s);
	}
	json_object_put(o);
	return 0;
}
