/* SPDX-License-Identifier: MIT */
/* json_util.c - strict field access shared by the header and export-file parsers. */
#include "json_util.h"
#include "internal.h"

#include <string.h>

int ecfs_json_field(json_object *o, const char *doc, const char *key, json_type t,
		    json_object **out)
{
	if (!json_object_object_get_ex(o, key, out) || !json_object_is_type(*out, t))
		return ecfs_fail(-EUCLEAN, "%s field '%s' is missing or of the wrong type", doc,
				 key);
	return 0;
}

int ecfs_json_u64(json_object *o, const char *doc, const char *key, uint64_t min, uint64_t max,
		  uint64_t *v)
{
	json_object *f;
	int64_t i;
	int r = ecfs_json_field(o, doc, key, json_type_int, &f);

	if (r < 0)
		return r;
	i = json_object_get_int64(f);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return ecfs_fail(-EUCLEAN, "%s field '%s' is out of range", doc, key);
	*v = (uint64_t)i;
	return 0;
}

int ecfs_json_u32(json_object *o, const char *doc, const char *key, uint32_t min, uint32_t max,
		  uint32_t *v)
{
	uint64_t wide = 0;
	int r = ecfs_json_u64(o, doc, key, min, max, &wide);

	*v = (uint32_t)wide;
	return r;
}

int ecfs_json_b64(json_object *o, const char *doc, const char *key, uint8_t *out, size_t want)
{
	json_object *f;
	uint8_t buf[256];
	int n, r = ecfs_json_field(o, doc, key, json_type_string, &f);

	if (r < 0)
		return r;
	n = ecfs_b64_decode(json_object_get_string(f), (size_t)json_object_get_string_len(f), buf,
			    sizeof(buf));
	if (n < 0 || (size_t)n != want)
		return ecfs_fail(-EUCLEAN, "%s field '%s' is not %zu bytes of base64", doc, key,
				 want);
	memcpy(out, buf, want);
	return 0;
}

json_object *ecfs_json_b64_string(const uint8_t *p, size_t len)
{
	char buf[4 * (256 + 2) / 3 + 4];

	if (len > 256)
		return NULL;
	ecfs_b64_encode(p, len, buf);
	return json_object_new_string(buf);
}
