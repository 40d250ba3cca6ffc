/* SPDX-License-Identifier: MIT */
/*
 * kms_json.h - a strict JSON (RFC 8259) reader that validates a whole text and then looks values
 * up in place without copying, and a writer whose buffer lives in locked, wiped memory.
 *
 * Both exist because bodies carry key material (plaintexts, tokens, JWTs): a general JSON
 * library copies strings into heap buffers it frees unwiped. Pure functions, no I/O, so they
 * can be fuzzed (tests/fuzz/fuzz_transit.c).
 */
#ifndef KMS_JSON_H
#define KMS_JSON_H

#include "envcryptfs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting deeper than this is refused. */
#define KMS_JSON_MAX_DEPTH 32

enum kms_json_type {
	KMS_JSON_NULL = 1,
	KMS_JSON_BOOL,
	KMS_JSON_NUMBER,
	KMS_JSON_STRING,
	KMS_JSON_OBJECT,
	KMS_JSON_ARRAY,
};

/* A value inside a validated text. For a string, p/len span the raw characters between the
 * quotes (escapes undecoded); for anything else, the whole token or bracketed text. */
struct kms_json {
	enum kms_json_type type;
	const char *p;
	size_t len;
};

/* Validates text (len bytes, no NUL needed) as one JSON value: -EBADMSG when it is not
 * well-formed, has invalid UTF-8 or escapes, or nests deeper than KMS_JSON_MAX_DEPTH. */
int kms_json_parse(const char *text, size_t len, struct kms_json *root);
/* The member key of object obj: -ENOENT when absent, -EBADMSG when obj is not an object or
 * holds the key twice (an ambiguous answer is treated as a malformed one). */
int kms_json_get(const struct kms_json *obj, const char *key, struct kms_json *out);
/* Iterates an object's members or an array's elements: *pos starts at 0; returns 1 with the
 * next one (name is the member's key, unused for arrays; may be NULL), 0 at the end. */
int kms_json_next(const struct kms_json *v, size_t *pos, struct kms_json *name,
		  struct kms_json *out);
/* Decodes a string's escapes into out (outsz bytes, NUL-terminated): its length, or -ENOSPC
 * when it does not fit, or -EBADMSG when v is not a string. */
int kms_json_string(const struct kms_json *v, char *out, size_t outsz);
/* The decoded length of a string (without the NUL), or -EBADMSG when v is not a string. */
int kms_json_string_len(const struct kms_json *v, size_t *len);
/* Like kms_json_string, but a string that does not fit is cut (for messages). */
int kms_json_string_trunc(const struct kms_json *v, char *out, size_t outsz);
/* Whether v is a string equal to s once decoded. */
bool kms_json_string_eq(const struct kms_json *v, const char *s);
/* A non-negative integer without fraction or exponent, at most UINT64_MAX. With weak, a string
 * of decimal digits is accepted too (Vault's own parameter decoding is that lenient). */
int kms_json_u64(const struct kms_json *v, bool weak, uint64_t *out);
/* true or false; with weak, also the strings "true" and "false". */
int kms_json_bool(const struct kms_json *v, bool weak, bool *out);

/* ---- writer --------------------------------------------------------------------------- */

struct kms_jw {
	struct ecfs_secret *buf; /* capacity: ecfs_secret_len(buf) */
	size_t len;
	int err; /* the first failure; later calls do nothing */
	unsigned depth;
	bool need_comma[KMS_JSON_MAX_DEPTH + 1];
	char closer[KMS_JSON_MAX_DEPTH + 1]; /* '}' or ']' for each open level */
};

void kms_jw_init(struct kms_jw *w);
/* Wipes and frees the buffer. */
void kms_jw_free(struct kms_jw *w);
/* The NUL-terminated text (owned by w) and its length, or the first error. */
int kms_jw_finish(struct kms_jw *w, const char **text, size_t *len);
/* key is the member name inside an object, NULL at the top level and inside arrays. */
void kms_jw_object(struct kms_jw *w, const char *key);
void kms_jw_array(struct kms_jw *w, const char *key);
void kms_jw_end(struct kms_jw *w); /* closes the innermost object or array */
void kms_jw_string(struct kms_jw *w, const char *key, const char *s, size_t len);
void kms_jw_cstring(struct kms_jw *w, const char *key, const char *s);
void kms_jw_u64(struct kms_jw *w, const char *key, uint64_t v);
void kms_jw_i64(struct kms_jw *w, const char *key, int64_t v);
void kms_jw_bool(struct kms_jw *w, const char *key, bool v);
void kms_jw_null(struct kms_jw *w, const char *key);
/* A value given as JSON text that the caller has validated (kms_json_parse), copied as is. */
void kms_jw_raw(struct kms_jw *w, const char *key, const char *json, size_t len);
/* Standard padded base64 of bytes, written straight into the buffer as a string. */
void kms_jw_base64(struct kms_jw *w, const char *key, const uint8_t *bytes, size_t len);

#endif /* KMS_JSON_H */
