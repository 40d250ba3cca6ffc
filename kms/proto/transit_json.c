/* SPDX-License-Identifier: MIT */
/* transit_json.c - Vault's Transit, sys and login messages: requests built, bodies parsed. */
#include "transit_json.h"
#include "ecfs_kms.h"
#include "ecfs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest "vault:v<20 digits>:" prefix. */
#define PREFIX_MAX 28

/* ---- helpers ---------------------------------------------------------------------------- */

static int response_object(const char *body, size_t len, struct kms_json *root)
{
	if (len > KMS_BODY_MAX)
		return ecfs_fail(-EBADMSG, "the response exceeds %u bytes", KMS_BODY_MAX);
	if (kms_json_parse(body, len, root) < 0)
		return ecfs_fail(-EBADMSG, "the response is not valid JSON");
	if (root->type != KMS_JSON_OBJECT)
		return ecfs_fail(-EBADMSG, "the response is not a JSON object");
	return 0;
}

/* Member name of obj with the given type; where names the field in messages. */
static int need(const struct kms_json *obj, const char *name, enum kms_json_type type,
		const char *where, struct kms_json *out)
{
	int r = kms_json_get(obj, name, out);

	if (r == -ENOENT)
		return ecfs_fail(-EBADMSG, "the response lacks %s", where);
	if (r < 0)
		return ecfs_fail(-EBADMSG, "the response holds %s twice", where);
	if (out->type != type)
		return ecfs_fail(-EBADMSG, "%s in the response has the wrong type", where);
	return 0;
}

/* The object in member name of a response's root (data or auth). */
static int response_section(const char *body, size_t len, const char *name, struct kms_json *sec)
{
	struct kms_json root;
	int r = response_object(body, len, &root);

	return r < 0 ? r : need(&root, name, KMS_JSON_OBJECT, name, sec);
}

/* A string field decoded into a fresh locked buffer of at most max bytes. */
static int string_secret(const struct kms_json *v, size_t max, const char *where,
			 struct ecfs_secret **out)
{
	struct ecfs_secret *s;
	size_t n;

	if (kms_json_string_len(v, &n) < 0 || n > max)
		return ecfs_fail(-EBADMSG, "%s is longer than %zu bytes", where, max);
	s = ecfs_secret_new(n + 1);
	if (!s)
		return ecfs_fail(-ENOMEM, "out of memory");
	kms_json_string(v, (char *)ecfs_secret_data(s), n + 1);
	ecfs_secret_truncate(s, n);
	*out = s;
	return 0;
}

/* Standard base64 text (in locked memory) decoded into a fresh locked buffer. */
static int base64_secret(const struct ecfs_secret *text, struct ecfs_secret **out)
{
	size_t n = ecfs_secret_len(text);
	struct ecfs_secret *s = ecfs_secret_new(n / 4 * 3);
	int r;

	if (!s)
		return -ENOMEM;
	r = ecfs_b64_decode((const char *)ecfs_secret_data(text), n, ecfs_secret_data(s),
			    ecfs_secret_len(s));
	if (r < 0) {
		ecfs_secret_free(s);
		return -EINVAL;
	}
	ecfs_secret_truncate(s, (size_t)r);
	*out = s;
	return 0;
}

static bool is_b64_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '+' || ch == '/' || ch == '=';
}

/* N of a "vault:vN:" prefix of s (len bytes), with *body at the text after it; 0 when
 * malformed. Leading zeros are refused so that each version has one spelling. */
static uint64_t prefix_version(const char *s, size_t len, size_t *body)
{
	uint64_t v = 0;
	size_t i = 7;

	if (len < 9 || memcmp(s, "vault:v", 7) != 0 || s[7] == '0')
		return 0;
	for (; i < len && i < PREFIX_MAX && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 7 || i >= len || s[i] != ':')
		return 0;
	*body = i + 1;
	return v;
}

uint64_t ecfs_kms_ciphertext_version(const char *ciphertext)
{
	size_t body;

	if (!ciphertext)
		return 0;
	return prefix_version(ciphertext, strnlen(ciphertext, PREFIX_MAX), &body);
}

bool kms_transit_ciphertext_valid(const char *s, size_t len)
{
	size_t body = 0;

	if (!s || len > KMS_CIPHERTEXT_MAX || prefix_version(s, len, &body) == 0)
		return false;
	if (body == len || (len - body) % 4 != 0)
		return false;
	for (size_t i = body; i < len; i++)
		if (!is_b64_char(s[i]))
			return false;
	return true;
}

/* ---- client requests -------------------------------------------------------------------- */

int kms_transit_encrypt_request(const uint8_t *plain, size_t len, struct kms_jw *w)
{
	const char *t;
	size_t n;

	if (len > KMS_PLAINTEXT_MAX)
		return ecfs_fail(-EINVAL, "plaintext of %zu bytes exceeds %u", len,
				 KMS_PLAINTEXT_MAX);
	kms_jw_object(w, NULL);
	kms_jw_base64(w, "plaintext", plain, len);
	kms_jw_end(w);
	return kms_jw_finish(w, &t, &n);
}

int kms_transit_ciphertext_request(const char *ciphertext, struct kms_jw *w)
{
	const char *t;
	size_t n;

	if (!ciphertext || !kms_transit_ciphertext_valid(ciphertext, strlen(ciphertext)))
		return ecfs_fail(-EINVAL, "not a vault:vN: ciphertext");
	kms_jw_object(w, NULL);
	kms_jw_cstring(w, "ciphertext", ciphertext);
	kms_jw_end(w);
	return kms_jw_finish(w, &t, &n);
}

int kms_transit_login_request(const char *role, const uint8_t *jwt, size_t jwt_len,
			      struct kms_jw *w)
{
	const char *t;
	size_t n;

	kms_jw_object(w, NULL);
	kms_jw_cstring(w, "role", role);
	kms_jw_string(w, "jwt", (const char *)jwt, jwt_len);
	kms_jw_end(w);
	return kms_jw_finish(w, &t, &n);
}

/* ---- client responses ------------------------------------------------------------------- */

int kms_transit_parse_ciphertext(const char *body, size_t len, char **ciphertext, uint64_t *version)
{
	struct kms_json data, v;
	uint64_t ver, from_text;
	size_t n;
	char *s;
	int r = response_section(body, len, "data", &data);

	if (r == 0)
		r = need(&data, "ciphertext", KMS_JSON_STRING, "data.ciphertext", &v);
	if (r < 0)
		return r;
	if (kms_json_string_len(&v, &n) < 0 || n > KMS_CIPHERTEXT_MAX)
		return ecfs_fail(-EBADMSG, "data.ciphertext is too long");
	s = malloc(n + 1);
	if (!s)
		return ecfs_fail(-ENOMEM, "out of memory");
	kms_json_string(&v, s, n + 1);
	if (!kms_transit_ciphertext_valid(s, n)) {
		free(s);
		return ecfs_fail(-EBADMSG, "data.ciphertext is not a vault:vN: ciphertext");
	}
	from_text = ecfs_kms_ciphertext_version(s);
	ver = from_text;
	r = kms_json_get(&data, "key_version", &v);
	if (r == -ENOENT)
		r = 0; /* older Vault does not send it */
	else if (r < 0)
		r = ecfs_fail(-EBADMSG, "the response holds data.key_version twice");
	else if (kms_json_u64(&v, false, &ver) < 0 || ver != from_text)
		r = ecfs_fail(-EBADMSG, "data.key_version does not match the ciphertext's v%llu",
			      (unsigned long long)from_text);
	if (r < 0) {
		free(s);
		return r;
	}
	*ciphertext = s;
	*version = ver;
	return 0;
}

int kms_transit_parse_plaintext(const char *body, size_t len, struct ecfs_secret **plain)
{
	struct kms_json data, v;
	struct ecfs_secret *text = NULL;
	int r = response_section(body, len, "data", &data);

	if (r == 0)
		r = need(&data, "plaintext", KMS_JSON_STRING, "data.plaintext", &v);
	if (r == 0)
		r = string_secret(&v, KMS_BODY_MAX, "data.plaintext", &text);
	if (r == 0 && base64_secret(text, plain) < 0)
		r = ecfs_fail(-EBADMSG, "data.plaintext is not base64");
	ecfs_secret_free(text);
	return r;
}

int kms_transit_parse_key_info(const char *body, size_t len, uint64_t *latest,
			       uint64_t *min_decryption)
{
	struct kms_json data, v;
	int r = response_section(body, len, "data", &data);

	if (r == 0)
		r = need(&data, "latest_version", KMS_JSON_NUMBER, "data.latest_version", &v);
	if (r == 0 && (kms_json_u64(&v, false, latest) < 0 || *latest == 0))
		r = ecfs_fail(-EBADMSG, "data.latest_version is not a version number");
	if (r == 0)
		r = need(&data, "min_decryption_version", KMS_JSON_NUMBER,
			 "data.min_decryption_version", &v);
	if (r == 0 && kms_json_u64(&v, false, min_decryption) < 0)
		r = ecfs_fail(-EBADMSG, "data.min_decryption_version is not a version number");
	return r;
}

int kms_transit_parse_health(const char *body, size_t len, bool *initialized, bool *sealed)
{
	struct kms_json root, v;
	int r = response_object(body, len, &root);

	if (r == 0)
		r = need(&root, "initialized", KMS_JSON_BOOL, "initialized", &v);
	if (r == 0)
		kms_json_bool(&v, false, initialized);
	if (r == 0)
		r = need(&root, "sealed", KMS_JSON_BOOL, "sealed", &v);
	if (r == 0)
		kms_json_bool(&v, false, sealed);
	return r;
}

int kms_transit_parse_login(const char *body, size_t len, struct ecfs_secret **token)
{
	struct kms_json auth, v;
	struct ecfs_secret *s;
	const uint8_t *p;
	int r = response_section(body, len, "auth", &auth);

	if (r == 0)
		r = need(&auth, "client_token", KMS_JSON_STRING, "auth.client_token", &v);
	if (r == 0)
		r = string_secret(&v, 4096, "auth.client_token", &s);
	if (r < 0)
		return r;
	p = ecfs_secret_data(s);
	/* It goes into a header: visible ASCII only, so it cannot end the header early. */
	for (size_t i = 0; i < ecfs_secret_len(s); i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f) {
			ecfs_secret_free(s);
			return ecfs_fail(-EBADMSG, "auth.client_token holds invalid characters");
		}
	}
	if (ecfs_secret_len(s) == 0) {
		ecfs_secret_free(s);
		return ecfs_fail(-EBADMSG, "auth.client_token is empty");
	}
	*token = s;
	return 0;
}

/* Appends an error text as one line of printable ASCII: Vault's multi-line errors ("1 error
 * occurred:\n\t* ...") become single-spaced, anything else unprintable becomes '?'. */
static void append_clean(char *msg, size_t msgsz, size_t *n, const char *s)
{
	bool space = *n == 0 || msg[*n - 1] == ' ';

	for (; *s && *n + 1 < msgsz; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') {
			if (!space)
				msg[(*n)++] = ' ';
			space = true;
			continue;
		}
		msg[(*n)++] = ch >= 0x21 && ch < 0x7f ? (char)ch : '?';
		space = false;
	}
	while (*n && msg[*n - 1] == ' ')
		(*n)--;
	msg[*n] = '\0';
}

int kms_transit_parse_errors(const char *body, size_t len, char *msg, size_t msgsz)
{
	struct kms_json root, errs, v;
	char one[256];
	size_t pos = 0, n = 0;
	int r;

	if (msgsz == 0)
		return -EINVAL;
	msg[0] = '\0';
	if (len > KMS_BODY_MAX || kms_json_parse(body, len, &root) < 0 ||
	    kms_json_get(&root, "errors", &errs) < 0 || errs.type != KMS_JSON_ARRAY)
		return -EBADMSG;
	while ((r = kms_json_next(&errs, &pos, NULL, &v)) == 1) {
		if (v.type != KMS_JSON_STRING)
			continue;
		kms_json_string_trunc(&v, one, sizeof(one));
		if (n && n + 3 < msgsz) {
			memcpy(msg + n, "; ", 3);
			n += 2;
		}
		append_clean(msg, msgsz, &n, one);
	}
	return r < 0 ? -EBADMSG : 0;
}

/* ---- server requests -------------------------------------------------------------------- */

static int request_object(const char *body, size_t len, struct kms_json *root)
{
	static const char empty[] = "{}";

	if (len == 0) {
		body = empty;
		len = 2;
	}
	if (len > KMS_BODY_MAX || kms_json_parse(body, len, root) < 0 ||
	    root->type != KMS_JSON_OBJECT)
		return ecfs_fail(-EINVAL, "failed to parse JSON input: not a JSON object");
	return 0;
}

/* Optional member name: -ENOENT when absent, -EINVAL when not of type. */
static int optional(const struct kms_json *obj, const char *name, struct kms_json *out)
{
	int r = kms_json_get(obj, name, out);

	if (r == -EBADMSG)
		return ecfs_fail(-EINVAL, "'%s' is given twice", name);
	return r;
}

int kms_transit_parse_encrypt_req(const char *body, size_t len, struct ecfs_secret **plain)
{
	struct kms_json root, v;
	struct ecfs_secret *text = NULL;
	int r = request_object(body, len, &root);

	if (r == 0 && (r = optional(&root, "plaintext", &v)) == -ENOENT)
		r = ecfs_fail(-EINVAL, "missing plaintext to encrypt");
	if (r == 0 && v.type != KMS_JSON_STRING)
		r = ecfs_fail(-EINVAL, "plaintext must be a string");
	if (r == 0 && string_secret(&v, KMS_BODY_MAX, "plaintext", &text) < 0)
		r = ecfs_fail(-EINVAL, "plaintext is too long");
	if (r == 0 && base64_secret(text, plain) < 0)
		r = ecfs_fail(-EINVAL, "failed to base64-decode plaintext");
	if (r == 0 && ecfs_secret_len(*plain) > KMS_PLAINTEXT_MAX) {
		ecfs_secret_free(*plain);
		r = ecfs_fail(-EINVAL, "plaintext exceeds %u bytes", KMS_PLAINTEXT_MAX);
	}
	ecfs_secret_free(text);
	return r;
}

int kms_transit_parse_ciphertext_req(const char *body, size_t len, char **ciphertext)
{
	struct kms_json root, v;
	size_t n;
	char *s;
	int r = request_object(body, len, &root);

	if (r == 0 && (r = optional(&root, "ciphertext", &v)) == -ENOENT)
		r = ecfs_fail(-EINVAL, "missing ciphertext to decrypt");
	if (r == 0 && v.type != KMS_JSON_STRING)
		r = ecfs_fail(-EINVAL, "ciphertext must be a string");
	if (r < 0)
		return r;
	kms_json_string_len(&v, &n);
	if (n == 0)
		return ecfs_fail(-EINVAL, "missing ciphertext to decrypt");
	if (n > KMS_CIPHERTEXT_MAX)
		return ecfs_fail(-EINVAL, "invalid ciphertext: too long");
	s = malloc(n + 1);
	if (!s)
		return ecfs_fail(-ENOMEM, "out of memory");
	kms_json_string(&v, s, n + 1);
	*ciphertext = s;
	return 0;
}

int kms_transit_parse_key_create_req(const char *body, size_t len, char *type, size_t typesz)
{
	struct kms_json root, v;
	int r = request_object(body, len, &root);

	if (r < 0)
		return r;
	r = optional(&root, "type", &v);
	if (r == -ENOENT) {
		if (strlen(KMS_KEY_TYPE) >= typesz)
			return -ENOSPC;
		memcpy(type, KMS_KEY_TYPE, sizeof(KMS_KEY_TYPE));
		return 0;
	}
	if (r == 0 && (v.type != KMS_JSON_STRING || kms_json_string(&v, type, typesz) < 0))
		r = ecfs_fail(-EINVAL, "unknown key type");
	return r;
}

int kms_transit_parse_key_config_req(const char *body, size_t len, struct kms_key_config_req *c)
{
	struct kms_json root, v;
	int r = request_object(body, len, &root);

	memset(c, 0, sizeof(*c));
	if (r < 0)
		return r;
	r = optional(&root, "min_decryption_version", &v);
	if (r == 0 && kms_json_u64(&v, true, &c->min_decryption) < 0)
		return ecfs_fail(-EINVAL, "min_decryption_version must be a non-negative integer");
	if (r < 0 && r != -ENOENT)
		return r;
	c->has_min_decryption = r == 0;
	r = optional(&root, "deletion_allowed", &v);
	if (r == 0 && kms_json_bool(&v, true, &c->deletion_allowed) < 0)
		return ecfs_fail(-EINVAL, "deletion_allowed must be a boolean");
	if (r < 0 && r != -ENOENT)
		return r;
	c->has_deletion_allowed = r == 0;
	return 0;
}

int kms_transit_parse_unseal_req(const char *body, size_t len, struct ecfs_secret **key,
				 bool *reset)
{
	struct kms_json root, v;
	int r = request_object(body, len, &root);

	*key = NULL;
	*reset = false;
	if (r < 0)
		return r;
	r = optional(&root, "reset", &v);
	if (r == 0 && kms_json_bool(&v, true, reset) < 0)
		return ecfs_fail(-EINVAL, "reset must be a boolean");
	if (r < 0 && r != -ENOENT)
		return r;
	r = optional(&root, "key", &v);
	if (r == 0 && (v.type != KMS_JSON_STRING || string_secret(&v, 512, "key", key) < 0))
		return ecfs_fail(-EINVAL, "key must be a string of at most 512 bytes");
	if (r < 0 && r != -ENOENT)
		return r;
	if (!*key && !*reset)
		return ecfs_fail(-EINVAL, "'key' must be specified in request body as JSON, or "
					  "'reset' set to true");
	return 0;
}

/* ---- server responses ------------------------------------------------------------------- */

static int finish(struct kms_jw *w)
{
	const char *t;
	size_t n;

	return kms_jw_finish(w, &t, &n);
}

int kms_transit_build_errors(const char *msg, struct kms_jw *w)
{
	kms_jw_object(w, NULL);
	kms_jw_array(w, "errors");
	if (msg)
		kms_jw_cstring(w, NULL, msg);
	kms_jw_end(w);
	kms_jw_end(w);
	return finish(w);
}

void kms_transit_envelope_open(struct kms_jw *w, const char *request_id)
{
	kms_jw_object(w, NULL);
	kms_jw_cstring(w, "request_id", request_id);
	kms_jw_cstring(w, "lease_id", "");
	kms_jw_bool(w, "renewable", false);
	kms_jw_u64(w, "lease_duration", 0);
	kms_jw_object(w, "data");
}

int kms_transit_envelope_close(struct kms_jw *w, const char *warning)
{
	kms_jw_end(w);
	kms_jw_null(w, "wrap_info");
	if (warning) {
		kms_jw_array(w, "warnings");
		kms_jw_cstring(w, NULL, warning);
		kms_jw_end(w);
	} else {
		kms_jw_null(w, "warnings");
	}
	kms_jw_null(w, "auth");
	kms_jw_end(w);
	return finish(w);
}

int kms_transit_build_ciphertext(const char *request_id, const char *ciphertext, uint64_t version,
				 struct kms_jw *w)
{
	kms_transit_envelope_open(w, request_id);
	kms_jw_cstring(w, "ciphertext", ciphertext);
	kms_jw_u64(w, "key_version", version);
	return kms_transit_envelope_close(w, NULL);
}

int kms_transit_build_plaintext(const char *request_id, const uint8_t *plain, size_t len,
				struct kms_jw *w)
{
	kms_transit_envelope_open(w, request_id);
	kms_jw_base64(w, "plaintext", plain, len);
	return kms_transit_envelope_close(w, NULL);
}

int kms_transit_build_key_info(const char *request_id, const struct kms_key_info *ki,
			       const char *warning, struct kms_jw *w)
{
	/* Like Vault, "keys" lists the versions that can still decrypt. */
	uint64_t first = ki->min_decryption_version ? ki->min_decryption_version : 1;

	kms_transit_envelope_open(w, request_id);
	kms_jw_bool(w, "allow_plaintext_backup", false);
	kms_jw_u64(w, "auto_rotate_period", 0);
	kms_jw_bool(w, "deletion_allowed", ki->deletion_allowed);
	kms_jw_bool(w, "derived", false);
	kms_jw_bool(w, "exportable", false);
	kms_jw_bool(w, "imported_key", false);
	kms_jw_object(w, "keys");
	for (uint64_t v = first; v <= ki->latest_version; v++) {
		char num[24];

		snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
		kms_jw_i64(w, num, ki->created[v - 1]);
	}
	kms_jw_end(w);
	kms_jw_u64(w, "latest_version", ki->latest_version);
	kms_jw_u64(w, "min_available_version", 0);
	kms_jw_u64(w, "min_decryption_version", ki->min_decryption_version);
	kms_jw_u64(w, "min_encryption_version", 0);
	kms_jw_cstring(w, "name", ki->name);
	kms_jw_bool(w, "supports_decryption", true);
	kms_jw_bool(w, "supports_derivation", true);
	kms_jw_bool(w, "supports_encryption", true);
	kms_jw_bool(w, "supports_signing", false);
	kms_jw_cstring(w, "type", KMS_KEY_TYPE);
	return kms_transit_envelope_close(w, warning);
}

static void cluster_fields(const struct kms_seal_status *s, struct kms_jw *w)
{
	/* Vault names the cluster only once unsealed. */
	if (!s->sealed) {
		kms_jw_cstring(w, "cluster_name", s->cluster_name);
		kms_jw_cstring(w, "cluster_id", s->cluster_id);
	}
}

int kms_transit_build_health(const struct kms_seal_status *s, struct kms_jw *w)
{
	kms_jw_object(w, NULL);
	kms_jw_bool(w, "initialized", true);
	kms_jw_bool(w, "sealed", s->sealed);
	kms_jw_bool(w, "standby", false);
	kms_jw_bool(w, "performance_standby", false);
	kms_jw_cstring(w, "replication_performance_mode", "disabled");
	kms_jw_cstring(w, "replication_dr_mode", "disabled");
	kms_jw_i64(w, "server_time_utc", s->server_time);
	kms_jw_cstring(w, "version", s->version);
	cluster_fields(s, w);
	kms_jw_end(w);
	return finish(w);
}

int kms_transit_build_seal_status(const struct kms_seal_status *s, struct kms_jw *w)
{
	kms_jw_object(w, NULL);
	kms_jw_cstring(w, "type", "shamir");
	kms_jw_bool(w, "initialized", true);
	kms_jw_bool(w, "sealed", s->sealed);
	kms_jw_u64(w, "t", s->t);
	kms_jw_u64(w, "n", s->n);
	kms_jw_u64(w, "progress", s->progress);
	kms_jw_cstring(w, "nonce", "");
	kms_jw_cstring(w, "version", s->version);
	kms_jw_bool(w, "migration", false);
	kms_jw_bool(w, "recovery_seal", false);
	kms_jw_cstring(w, "storage_type", "file");
	cluster_fields(s, w);
	kms_jw_end(w);
	return finish(w);
}
