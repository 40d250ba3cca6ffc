/* SPDX-License-Identifier: MIT */
/*
 * fuzz_transit.c - libFuzzer target: every Vault message parser (client responses and server
 * requests) and the JSON reader on any input, with invariants: what a parser accepts is what
 * it claims, strings decode no longer than their text, and re-encoded strings read back.
 */
#include "ecfs_kms.h"
#include "internal.h"
#include "transit_json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const struct kms_json *v)
{
	size_t n = 0;
	char *buf;
	struct kms_jw w;
	struct kms_json again;
	const char *t;
	size_t tl;

	if (kms_json_string_len(v, &n) < 0 || n > v->len)
		abort();
	buf = malloc(n + 1);
	if (!buf || kms_json_string(v, buf, n + 1) != (int)n)
		abort();
	/* Written out again and read back, it decodes to the same bytes. */
	kms_jw_init(&w);
	kms_jw_string(&w, NULL, buf, n);
	if (kms_jw_finish(&w, &t, &tl) == 0) {
		char *back = malloc(n + 1);

		if (!back || kms_json_parse(t, tl, &again) != 0 ||
		    kms_json_string(&again, back, n + 1) != (int)n || memcmp(back, buf, n) != 0)
			abort();
		free(back);
	}
	kms_jw_free(&w);
	if (n > 0 && kms_json_string(v, buf, n) != -ENOSPC)
		abort();
	free(buf);
}

/* Walks every value (depth is bounded by the parser's limit). */
static void walk(const struct kms_json *v)
{
	struct kms_json name, item, found;
	size_t pos = 0;
	uint64_t u;
	bool b;
	int r;

	if (v->type == KMS_JSON_STRING)
		check_string(v);
	if (v->type == KMS_JSON_NUMBER)
		kms_json_u64(v, false, &u);
	if (v->type == KMS_JSON_BOOL && kms_json_bool(v, false, &b) != 0)
		abort();
	if (v->type != KMS_JSON_OBJECT && v->type != KMS_JSON_ARRAY)
		return;
	while ((r = kms_json_next(v, &pos, &name, &item)) == 1) {
		if (pos > v->len || item.p < v->p || item.p + item.len > v->p + v->len)
			abort();
		if (v->type == KMS_JSON_OBJECT) {
			check_string(&name);
			kms_json_get(v, "data", &found);
		}
		walk(&item);
	}
	if (r < 0)
		abort(); /* a validated text always iterates */
}

static void client_parsers(const char *s, size_t n)
{
	struct ecfs_secret *sec = NULL;
	char *ct = NULL, msg[128];
	uint64_t a, b;
	bool x, y;

	if (kms_transit_parse_ciphertext(s, n, &ct, &a) == 0) {
		if (!kms_transit_ciphertext_valid(ct, strlen(ct)) ||
		    ecfs_kms_ciphertext_version(ct) != a || a == 0)
			abort();
		free(ct);
	}
	if (kms_transit_parse_plaintext(s, n, &sec) == 0)
		ecfs_secret_free(sec);
	if (kms_transit_parse_key_info(s, n, &a, &b) == 0 && a == 0)
		abort();
	kms_transit_parse_health(s, n, &x, &y);
	if (kms_transit_parse_login(s, n, &sec) == 0) {
		if (ecfs_secret_len(sec) == 0)
			abort();
		ecfs_secret_free(sec);
	}
	if (kms_transit_parse_errors(s, n, msg, sizeof(msg)) == 0 && strlen(msg) >= sizeof(msg))
		abort();
}

static void server_parsers(const char *s, size_t n)
{
	struct ecfs_secret *sec = NULL;
	struct kms_key_config_req c;
	char *ct = NULL, type[64];
	bool reset;

	if (kms_transit_parse_encrypt_req(s, n, &sec) == 0) {
		if (ecfs_secret_len(sec) > KMS_PLAINTEXT_MAX)
			abort();
		ecfs_secret_free(sec);
	}
	if (kms_transit_parse_ciphertext_req(s, n, &ct) == 0)
		free(ct);
	kms_transit_parse_key_create_req(s, n, type, sizeof(type));
	kms_transit_parse_key_config_req(s, n, &c);
	if (kms_transit_parse_unseal_req(s, n, &sec, &reset) == 0)
		ecfs_secret_free(sec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct kms_json root;
	char *z = malloc(size + 1);

	if (!z)
		abort();
	if (kms_json_parse(s, size, &root) == 0)
		walk(&root);
	client_parsers(s, size);
	server_parsers(s, size);
	/* As a NUL-terminated ciphertext text. */
	memcpy(z, data, size);
	z[size] = '\0';
	if (kms_transit_ciphertext_valid(z, strlen(z)) && ecfs_kms_ciphertext_version(z) == 0)
		abort();
	free(z);
	return 0;
}
