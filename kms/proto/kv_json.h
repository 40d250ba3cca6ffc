/* SPDX-License-Identifier: MIT */
/*
 * kv_json.h - the messages of Vault's KV secrets engine, version 2, that envcryptfs speaks:
 * reading one field of a secret (the client, for vault: key files) and the read and write
 * answers of envcryptfs-kmsd's own engine. Pure functions, no I/O, fuzzed by
 * tests/fuzz/fuzz_kv.c.
 */
#ifndef KMS_KV_JSON_H
#define KMS_KV_JSON_H

#include "kms_json.h"

#include <stddef.h>
#include <stdint.h>

/* The largest "data" object a secret version may hold, as JSON text. */
#define KMS_KV_DATA_MAX (256u << 10)
/* A secret path: '/'-separated segments of letters, digits, '_', '-' and '.'. */
#define KMS_KV_PATH_MAX 256

/* Whether s (len bytes) is a secret path: segments of [A-Za-z0-9_.-], none empty, "." or
 * "..", at most KMS_KV_PATH_MAX bytes. */
bool kms_kv_path_valid(const char *s, size_t len);

/* ---- client ------------------------------------------------------------------------------ */

/* From a read answer {"data": {"data": {...}, "metadata": {...}}}: the string field of
 * data.data, base64-decoded into locked memory of at most max bytes. -EBADMSG when the body
 * is malformed (not JSON, no data.data object), -ENODATA when the field is missing or not a
 * string, -EILSEQ when it is not standard base64, -EMSGSIZE when it decodes to more than
 * max bytes; each with an ecfs_last_error() message that never quotes the value. */
int kms_kv_parse_field(const char *body, size_t len, const char *field, size_t max,
		       struct ecfs_secret **value);

/* ---- server ------------------------------------------------------------------------------ */

/* A write request {"data": {...}, "options": {"cas": N}}: *data spans the data object's
 * text; *has_cas and *cas the check-and-set option. -EINVAL with Vault's message otherwise. */
int kms_kv_parse_write_req(const char *body, size_t len, struct kms_json *data, bool *has_cas,
			   uint64_t *cas);

struct kms_kv_meta {
	int64_t created; /* seconds since the epoch */
	uint64_t version;
};

/* {"request_id", ..., "data": {"data": <data_json>, "metadata": {...}}} */
int kms_kv_build_read(const char *request_id, const char *data_json, size_t data_len,
		      const struct kms_kv_meta *m, struct kms_jw *w);
/* {"request_id", ..., "data": {"created_time", ..., "version"}} */
int kms_kv_build_write(const char *request_id, const struct kms_kv_meta *m, struct kms_jw *w);

#endif /* KMS_KV_JSON_H */
