/* SPDX-License-Identifier: MIT */
/* kv_json.c - KV version 2 messages: one field of a read answer, and kmsd's answers. */
#include "kv_json.h"
#include "transit_json.h"
#include "ecfs_util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool path_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.';
}

bool kms_kv_path_valid(const char *s, size_t len)
{
	size_t seg = 0;

	if (!s || len == 0 || len > KMS_KV_PATH_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			size_t n = i - seg;

			if (n == 0 || (n == 1 && s[seg] == '.') ||
			    (n == 2 && s[seg] == '.' && s[seg + 1] == '.'))
				return false;
			seg = i + 1;
		} else if (!path_char(s[i])) {
			return false;
		}
	}
	return true;
}

/* ---- client ------------------------------------------------------------------------------ */

/* data.data of a read answer. */
static int secret_data(const char *body, size_t len, struct kms_json *data)
{
	struct kms_json root, outer;

	if (!body || len > KMS_BODY_MAX || kms_json_parse(body, len, &root) < 0 ||
	    root.type != KMS_JSON_OBJECT)
		return ecfs_fail(-EBADMSG, "the answer is not a JSON object");
	if (kms_json_get(&root, "data", &outer) < 0 || outer.type != KMS_JSON_OBJECT)
		return ecfs_fail(-EBADMSG, "the answer has no \"data\" object (is the mount a KV "
					   "version 2 engine?)");
	if (kms_json_get(&outer, "data", data) < 0 || data->type != KMS_JSON_OBJECT)
		return ecfs_fail(-EBADMSG, "the answer has no data.data object (a deleted or "
					   "destroyed version, or not a KV version 2 engine)");
	return 0;
}

/* The field's text in a fresh locked buffer (escapes decoded). */
static int field_text(const struct kms_json *v, const char *field, struct ecfs_secret **out)
{
	struct ecfs_secret *s;
	size_t n = 0;

	if (kms_json_string_len(v, &n) < 0 || n > KMS_BODY_MAX)
		return ecfs_fail(-EBADMSG, "field '%s' cannot be decoded", field);
	s = ecfs_secret_new(n + 1);
	if (!s)
		return ecfs_fail(-ENOMEM, "out of memory");
	kms_json_string(v, (char *)ecfs_secret_data(s), n + 1);
	ecfs_secret_truncate(s, n);
	*out = s;
	return 0;
}

int kms_kv_parse_field(const char *body, size_t len, const char *field, size_t max,
		       struct ecfs_secret **value)
{
	struct ecfs_secret *text = NULL, *bytes;
	struct kms_json data, v;
	size_t n;
	int r = secret_data(body, len, &data);

	if (r < 0)
		return r;
	r = kms_json_get(&data, field, &v);
	if (r == -ENOENT)
		return ecfs_fail(-ENODATA, "the secret has no field '%s'", field);
	if (r < 0)
		return ecfs_fail(-EBADMSG, "the secret holds field '%s' twice", field);
	if (v.type != KMS_JSON_STRING)
		return ecfs_fail(-ENODATA, "field '%s' of the secret is not a string", field);
	r = field_text(&v, field, &text);
	if (r < 0)
		return r;
	n = ecfs_secret_len(text);
	bytes = ecfs_secret_new(n / 4 * 3 + 1);
	if (!bytes) {
		ecfs_secret_free(text);
		return ecfs_fail(-ENOMEM, "out of memory");
	}
	r = ecfs_b64_decode((const char *)ecfs_secret_data(text), n, ecfs_secret_data(bytes),
			    ecfs_secret_len(bytes));
	ecfs_secret_free(text); /* wipes the base64 text */
	if (r < 0 || (size_t)r > max) {
		ecfs_secret_free(bytes);
		if (r < 0)
			return ecfs_fail(-EILSEQ, "field '%s' of the secret is not standard base64",
					 field);
		return ecfs_fail(-EMSGSIZE,
				 "field '%s' of the secret decodes to %d bytes, over %zu", field, r,
				 max);
	}
	ecfs_secret_truncate(bytes, (size_t)r);
	*value = bytes;
	return 0;
}

/* ---- server ------------------------------------------------------------------------------ */

int kms_kv_parse_write_req(const char *body, size_t len, struct kms_json *data, bool *has_cas,
			   uint64_t *cas)
{
	struct kms_json root, opts, c;
	int r;

	*has_cas = false;
	if (len > KMS_BODY_MAX || kms_json_parse(body, len, &root) < 0 ||
	    root.type != KMS_JSON_OBJECT)
		return ecfs_fail(-EINVAL, "failed to parse JSON input");
	r = kms_json_get(&root, "data", data);
	if (r < 0 || data->type != KMS_JSON_OBJECT)
		return ecfs_fail(-EINVAL, "no data provided");
	if (data->len > KMS_KV_DATA_MAX)
		return ecfs_fail(-EINVAL, "data is larger than %u bytes", KMS_KV_DATA_MAX);
	r = kms_json_get(&root, "options", &opts);
	if (r == -ENOENT || (r == 0 && opts.type == KMS_JSON_NULL))
		return 0;
	if (r < 0 || opts.type != KMS_JSON_OBJECT)
		return ecfs_fail(-EINVAL, "options must be an object");
	r = kms_json_get(&opts, "cas", &c);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || kms_json_u64(&c, true, cas) < 0)
		return ecfs_fail(-EINVAL, "options.cas must be a non-negative integer");
	*has_cas = true;
	return 0;
}

/* RFC 3339 in UTC, as Vault writes created_time (without its nanoseconds). */
static void rfc3339(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, size, "1970-01-01T00:00:00Z");
}

static void metadata_fields(struct kms_jw *w, const struct kms_kv_meta *m)
{
	char when[32];

	rfc3339(m->created, when, sizeof(when));
	kms_jw_cstring(w, "created_time", when);
	kms_jw_null(w, "custom_metadata");
	kms_jw_cstring(w, "deletion_time", "");
	kms_jw_bool(w, "destroyed", false);
	kms_jw_u64(w, "version", m->version);
}

int kms_kv_build_read(const char *request_id, const char *data_json, size_t data_len,
		      const struct kms_kv_meta *m, struct kms_jw *w)
{
	kms_transit_envelope_open(w, request_id);
	kms_jw_raw(w, "data", data_json, data_len);
	kms_jw_object(w, "metadata");
	metadata_fields(w, m);
	kms_jw_end(w);
	return kms_transit_envelope_close(w, NULL);
}

int kms_kv_build_write(const char *request_id, const struct kms_kv_meta *m, struct kms_jw *w)
{
	kms_transit_envelope_open(w, request_id);
	metadata_fields(w, m);
	return kms_transit_envelope_close(w, NULL);
}
