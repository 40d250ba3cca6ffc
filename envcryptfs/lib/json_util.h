/* SPDX-License-Identifier: MIT */
/* json_util.h - strict field access for the JSON documents the library reads (the header's
 * JSON area, export files): every field required, type-checked and range-checked. */
#ifndef ECFS_JSON_UTIL_H
#define ECFS_JSON_UTIL_H

#include <json.h>
#include <stddef.h>
#include <stdint.h>

/* doc names the document in messages ("header", "export file"). All return 0 or -EUCLEAN
 * with a message naming the field. */
int ecfs_json_field(json_object *o, const char *doc, const char *key, json_type t,
		    json_object **out);
int ecfs_json_u64(json_object *o, const char *doc, const char *key, uint64_t min, uint64_t max,
		  uint64_t *v);
int ecfs_json_u32(json_object *o, const char *doc, const char *key, uint32_t min, uint32_t max,
		  uint32_t *v);
/* A base64 string that must decode to exactly want bytes. */
int ecfs_json_b64(json_object *o, const char *doc, const char *key, uint8_t *out, size_t want);
/* A new JSON string holding the base64 of len (at most 256) bytes. */
json_object *ecfs_json_b64_string(const uint8_t *p, size_t len);

#endif /* ECFS_JSON_UTIL_H */
