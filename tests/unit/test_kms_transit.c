/* SPDX-License-Identifier: MIT */
/* test_kms_transit.c - the Vault JSON codec: exact request and response shapes, error bodies,
 * and malformed input refused with -EBADMSG (client) or -EINVAL (server). */
#include <criterion/criterion.h>

#include "ecfs_kms.h"
#include "internal.h"
#include "transit_json.h"

#include <stdlib.h>
#include <string.h>

/* The writer's text, which must equal want. */
static void expect_text(struct kms_jw *w, const char *want)
{
	const char *t;
	size_t n;

	cr_assert_eq(kms_jw_finish(w, &t, &n), 0);
	cr_assert_eq(n, strlen(want), "got %s", t);
	cr_assert_str_eq(t, want);
}

static int parse_ct(const char *body, char **ct, uint64_t *ver)
{
	*ct = NULL;
	return kms_transit_parse_ciphertext(body, strlen(body), ct, ver);
}

/* ---- client requests ------------------------------------------------------------------ */

Test(kms_transit, encrypt_request_shape)
{
	struct kms_jw w;

	kms_jw_init(&w);
	cr_assert_eq(kms_transit_encrypt_request((const uint8_t *)"hello", 5, &w), 0);
	expect_text(&w, "{\"plaintext\":\"aGVsbG8=\"}");
	kms_jw_free(&w);
	kms_jw_init(&w);
	cr_assert_eq(kms_transit_encrypt_request(NULL, 0, &w), 0);
	expect_text(&w, "{\"plaintext\":\"\"}");
	kms_jw_free(&w);
}

Test(kms_transit, ciphertext_request_shape)
{
	struct kms_jw w;

	kms_jw_init(&w);
	cr_assert_eq(kms_transit_ciphertext_request("vault:v3:YWJj", &w), 0);
	expect_text(&w, "{\"ciphertext\":\"vault:v3:YWJj\"}");
	kms_jw_free(&w);
	kms_jw_init(&w);
	cr_assert_eq(kms_transit_ciphertext_request("vault:v3:YW\"j", &w), -EINVAL);
	cr_assert_eq(kms_transit_ciphertext_request("v3:YWJj", &w), -EINVAL);
	cr_assert_eq(kms_transit_ciphertext_request(NULL, &w), -EINVAL);
	kms_jw_free(&w);
}

Test(kms_transit, login_request_escapes)
{
	struct kms_jw w;

	kms_jw_init(&w);
	cr_assert_eq(kms_transit_login_request("r\"o\\le\n", (const uint8_t *)"eyJ.a.b", 7, &w), 0);
	expect_text(&w, "{\"role\":\"r\\\"o\\\\le\\u000a\",\"jwt\":\"eyJ.a.b\"}");
	kms_jw_free(&w);
}

/* ---- client responses ---------------------------------------------------------------- */

static const char vault_encrypt[] =
    "{\"request_id\":\"2e1c0d0a-0000-0000-0000-000000000000\",\"lease_id\":\"\","
    "\"renewable\":false,\"lease_duration\":0,\"data\":{\"ciphertext\":"
    "\"vault:v2:RmVXjXzqS1Bp+Dq/ZUG4ZLEvXbCpd8EsPD5D4LSvrhjJNXEtqQ==\",\"key_version\":2},"
    "\"wrap_info\":null,\"warnings\":null,\"auth\":null}";

Test(kms_transit, parse_encrypt_response)
{
	uint64_t ver = 0;
	char *ct;

	cr_assert_eq(parse_ct(vault_encrypt, &ct, &ver), 0, "%s", ecfs_last_error());
	cr_assert_str_eq(ct, "vault:v2:RmVXjXzqS1Bp+Dq/ZUG4ZLEvXbCpd8EsPD5D4LSvrhjJNXEtqQ==");
	cr_assert_eq(ver, 2);
	free(ct);
	/* Older Vault sends no key_version: it comes from the ciphertext. */
	cr_assert_eq(parse_ct("{\"data\":{\"ciphertext\":\"vault:v7:YWJj\"}}", &ct, &ver), 0);
	cr_assert_eq(ver, 7);
	free(ct);
	/* An escaped '/' is still a '/'. */
	cr_assert_eq(parse_ct("{\"data\":{\"ciphertext\":\"vault:v1:\\/w==\"}}", &ct, &ver), 0);
	cr_assert_str_eq(ct, "vault:v1:/w==");
	free(ct);
}

Test(kms_transit, parse_ciphertext_refusals)
{
	static const char *bad[] = {
	    "{\"data\":{\"ciphertext\":\"vault:v2:YWJj\",\"key_version\":3}}",
	    "{\"data\":{\"ciphertext\":\"vault:v2:YWJj\",\"key_version\":\"2\"}}",
	    "{\"data\":{\"ciphertext\":\"vault:v0:YWJj\"}}",
	    "{\"data\":{\"ciphertext\":\"vault:v1:YW J\"}}",
	    "{\"data\":{\"ciphertext\":\"vault:v1:\"}}",
	    "{\"data\":{\"ciphertext\":\"vault:v1:YWJ\"}}",
	    "{\"data\":{\"ciphertext\":\"plain:v1:YWJj\"}}",
	    "{\"data\":{\"ciphertext\":1}}",
	    "{\"data\":{}}",
	    "{\"data\":null}",
	    "{\"data\":[]}",
	    "{}",
	    "[]",
	    "{\"data\":{\"ciphertext\":\"vault:v1:YWJj\",\"ciphertext\":\"vault:v2:YWJj\"}}",
	};
	uint64_t ver;
	char *ct;

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad); i++) {
		cr_assert_eq(parse_ct(bad[i], &ct, &ver), -EBADMSG, "accepted %s", bad[i]);
		cr_assert_null(ct);
		cr_assert_str_neq(ecfs_last_error(), "");
	}
}

Test(kms_transit, parse_plaintext)
{
	struct ecfs_secret *p;
	const char *ok = "{\"data\":{\"plaintext\":\"aGVsbG8=\"}}";

	cr_assert_eq(kms_transit_parse_plaintext(ok, strlen(ok), &p), 0);
	cr_assert_eq(ecfs_secret_len(p), 5);
	cr_assert_eq(memcmp(ecfs_secret_data(p), "hello", 5), 0);
	ecfs_secret_free(p);
	ok = "{\"data\":{\"plaintext\":\"\\/w==\"}}";
	cr_assert_eq(kms_transit_parse_plaintext(ok, strlen(ok), &p), 0);
	cr_assert_eq(ecfs_secret_len(p), 1);
	cr_assert_eq(ecfs_secret_data(p)[0], 0xff);
	ecfs_secret_free(p);
	ok = "{\"data\":{\"plaintext\":\"\"}}";
	cr_assert_eq(kms_transit_parse_plaintext(ok, strlen(ok), &p), 0);
	cr_assert_eq(ecfs_secret_len(p), 0);
	ecfs_secret_free(p);
	static const char *bad[] = {
	    "{\"data\":{\"plaintext\":\"aGVsbG8\"}}",  "{\"data\":{\"plaintext\":\"a*==\"}}",
	    "{\"data\":{\"plaintext\":null}}",	       "{\"data\":{\"plain\":\"aGVsbG8=\"}}",
	    "{\"data\":{\"plaintext\":\"aGVsbG9=\"}}", "{\"plaintext\":\"aGVsbG8=\"}",
	};
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad); i++)
		cr_assert_eq(kms_transit_parse_plaintext(bad[i], strlen(bad[i]), &p), -EBADMSG,
			     "accepted %s", bad[i]);
}

Test(kms_transit, parse_key_info)
{
	const char *ok = "{\"data\":{\"type\":\"aes256-gcm96\",\"deletion_allowed\":false,"
			 "\"keys\":{\"2\":1700000000,\"3\":1700000100},\"latest_version\":3,"
			 "\"min_decryption_version\":2,\"name\":\"k\"}}";
	uint64_t latest = 0, min = 0;

	cr_assert_eq(kms_transit_parse_key_info(ok, strlen(ok), &latest, &min), 0);
	cr_assert_eq(latest, 3);
	cr_assert_eq(min, 2);
	static const char *bad[] = {
	    "{\"data\":{\"latest_version\":0,\"min_decryption_version\":1}}",
	    "{\"data\":{\"latest_version\":-1,\"min_decryption_version\":1}}",
	    "{\"data\":{\"latest_version\":1.5,\"min_decryption_version\":1}}",
	    "{\"data\":{\"latest_version\":1e3,\"min_decryption_version\":1}}",
	    "{\"data\":{\"latest_version\":\"3\",\"min_decryption_version\":1}}",
	    "{\"data\":{\"latest_version\":3}}",
	    "{\"data\":{\"latest_version\":18446744073709551616,\"min_decryption_version\":1}}",
	};
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad); i++)
		cr_assert_eq(kms_transit_parse_key_info(bad[i], strlen(bad[i]), &latest, &min),
			     -EBADMSG, "accepted %s", bad[i]);
}

Test(kms_transit, parse_health)
{
	const char *ok = "{\"initialized\":true,\"sealed\":false,\"standby\":false,"
			 "\"performance_standby\":false,\"replication_performance_mode\":"
			 "\"disabled\",\"replication_dr_mode\":\"disabled\",\"server_time_utc\":"
			 "1516639589,\"version\":\"1.15.0\",\"cluster_name\":\"c\",\"cluster_id\":"
			 "\"x\"}";
	bool init = false, sealed = true;

	cr_assert_eq(kms_transit_parse_health(ok, strlen(ok), &init, &sealed), 0);
	cr_assert(init && !sealed);
	ok = "{\"initialized\":true,\"sealed\":\"false\"}";
	cr_assert_eq(kms_transit_parse_health(ok, strlen(ok), &init, &sealed), -EBADMSG);
	ok = "{\"initialized\":true}";
	cr_assert_eq(kms_transit_parse_health(ok, strlen(ok), &init, &sealed), -EBADMSG);
}

Test(kms_transit, parse_login)
{
	const char *ok = "{\"auth\":{\"client_token\":\"hvs.CAESIJ\",\"accessor\":\"a\","
			 "\"policies\":[\"default\"],\"lease_duration\":3600,\"renewable\":true}}";
	struct ecfs_secret *t;

	cr_assert_eq(kms_transit_parse_login(ok, strlen(ok), &t), 0);
	cr_assert_eq(ecfs_secret_len(t), 10);
	cr_assert_eq(memcmp(ecfs_secret_data(t), "hvs.CAESIJ", 10), 0);
	ecfs_secret_free(t);
	static const char *bad[] = {
	    "{\"auth\":{\"client_token\":\"hvs.a\\nX-Evil: 1\"}}",
	    "{\"auth\":{\"client_token\":\"\"}}",
	    "{\"auth\":null,\"errors\":[\"denied\"]}",
	    "{\"auth\":{\"client_token\":\"a b\"}}",
	};
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad); i++)
		cr_assert_eq(kms_transit_parse_login(bad[i], strlen(bad[i]), &t), -EBADMSG,
			     "accepted %s", bad[i]);
}

Test(kms_transit, parse_errors)
{
	char msg[64];
	const char *b = "{\"errors\":[\"permission denied\"]}";

	cr_assert_eq(kms_transit_parse_errors(b, strlen(b), msg, sizeof(msg)), 0);
	cr_assert_str_eq(msg, "permission denied");
	b = "{\"errors\":[\"1 error occurred:\\n\\t* deletion is not allowed\\n\\n\"]}";
	cr_assert_eq(kms_transit_parse_errors(b, strlen(b), msg, sizeof(msg)), 0);
	cr_assert_str_eq(msg, "1 error occurred: * deletion is not allowed");
	b = "{\"errors\":[\"a\",\"b\\u0007c\"]}";
	cr_assert_eq(kms_transit_parse_errors(b, strlen(b), msg, sizeof(msg)), 0);
	cr_assert_str_eq(msg, "a; b?c");
	b = "{\"errors\":[]}";
	cr_assert_eq(kms_transit_parse_errors(b, strlen(b), msg, sizeof(msg)), 0);
	cr_assert_str_eq(msg, "");
	b = "{\"errors\":["
	    "\"0123456789012345678901234567890123456789012345678901234567890123456789\"]}";
	cr_assert_eq(kms_transit_parse_errors(b, strlen(b), msg, sizeof(msg)), 0);
	cr_assert_eq(strlen(msg), sizeof(msg) - 1);
	b = "<html>bad gateway</html>";
	cr_assert_eq(kms_transit_parse_errors(b, strlen(b), msg, sizeof(msg)), -EBADMSG);
	cr_assert_str_eq(msg, "");
	cr_assert_eq(kms_transit_parse_errors(NULL, 0, msg, sizeof(msg)), -EBADMSG);
}

Test(kms_transit, malformed_json_is_ebadmsg)
{
	static const char *bad[] = {
	    "",
	    " ",
	    "{",
	    "{\"data\":",
	    "[1,]",
	    "{\"a\":1,}",
	    "{'a':1}",
	    "{\"a\" 1}",
	    "\"\\x\"",
	    "01",
	    "1.",
	    "-",
	    "1e",
	    "nul",
	    "tru",
	    "{\"a\":\"\x01\"}",
	    "\"\xff\"",
	    "\"\xc0\xaf\"",
	    "\"\xed\xa0\x80\"",
	    "\"\\ud800\"",
	    "\"\\udc00\"",
	    "\"\\ud800\\u0041\"",
	    "{} x",
	    "{}{}",
	    "{\"a\":1}}",
	    "[\"a\"",
	    "{\"a\"}",
	    "{1:2}",
	    "\"abc",
	};
	struct kms_json root;
	char *ct;
	uint64_t v;

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad); i++) {
		cr_assert_eq(kms_json_parse(bad[i], strlen(bad[i]), &root), -EBADMSG,
			     "accepted '%s'", bad[i]);
		cr_assert_eq(parse_ct(bad[i], &ct, &v), -EBADMSG);
	}
	/* Nesting deeper than the limit is refused; at the limit it is fine. */
	char deep[2 * KMS_JSON_MAX_DEPTH + 3];
	for (int d = KMS_JSON_MAX_DEPTH; d <= KMS_JSON_MAX_DEPTH + 1; d++) {
		memset(deep, '[', (size_t)d);
		memset(deep + d, ']', (size_t)d);
		cr_assert_eq(kms_json_parse(deep, 2 * (size_t)d, &root),
			     d <= KMS_JSON_MAX_DEPTH ? 0 : -EBADMSG, "depth %d", d);
	}
	/* Valid UTF-8 and escaped surrogate pairs pass. */
	const char *good = "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\\ud83d\\ude00\"}";
	cr_assert_eq(kms_json_parse(good, strlen(good), &root), 0);
}

Test(kms_transit, oversized_response_is_ebadmsg)
{
	size_t n = KMS_BODY_MAX + 10;
	char *big = malloc(n);
	char *ct;
	uint64_t v;

	cr_assert_not_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"data\":{\"ciphertext\":\"vault:v1:YWJj\"}}",
	       strlen("{\"data\":{\"ciphertext\":\"vault:v1:YWJj\"}}"));
	cr_assert_eq(kms_transit_parse_ciphertext(big, n, &ct, &v), -EBADMSG);
	free(big);
}

Test(kms_transit, escaped_member_names_match)
{
	const char *b = "{\"d\\u0061ta\":{\"ciphertext\":\"vault:v1:YWJj\"}}";
	char *ct;
	uint64_t v;

	cr_assert_eq(parse_ct(b, &ct, &v), 0);
	free(ct);
}

Test(kms_transit, ciphertext_version)
{
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:v1:YWJj"), 1);
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:v12:x"), 12);
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:v18446744073709551615:x"), UINT64_MAX);
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:v18446744073709551616:x"), 0);
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:v0:x"), 0);
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:v01:x"), 0);
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:v:x"), 0);
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:v1"), 0);
	cr_assert_eq(ecfs_kms_ciphertext_version("vault:vx:YWJj"), 0);
	cr_assert_eq(ecfs_kms_ciphertext_version("v1:YWJj"), 0);
	cr_assert_eq(ecfs_kms_ciphertext_version(""), 0);
	cr_assert_eq(ecfs_kms_ciphertext_version(NULL), 0);
}

/* ---- server side: exact shapes, and what the client makes of them ------------------------ */

Test(kms_transit, server_replies_round_trip)
{
	struct kms_jw w;
	struct ecfs_secret *p;
	const char *t;
	size_t n;
	char *ct;
	uint64_t v;

	kms_jw_init(&w);
	cr_assert_eq(kms_transit_build_ciphertext("rid", "vault:v4:YWJj", 4, &w), 0);
	expect_text(&w, "{\"request_id\":\"rid\",\"lease_id\":\"\",\"renewable\":false,"
			"\"lease_duration\":0,\"data\":{\"ciphertext\":\"vault:v4:YWJj\","
			"\"key_version\":4},\"wrap_info\":null,\"warnings\":null,\"auth\":null}");
	kms_jw_finish(&w, &t, &n);
	cr_assert_eq(kms_transit_parse_ciphertext(t, n, &ct, &v), 0);
	cr_assert_eq(v, 4);
	free(ct);
	kms_jw_free(&w);

	kms_jw_init(&w);
	cr_assert_eq(kms_transit_build_plaintext("rid", (const uint8_t *)"\xff\x00", 2, &w), 0);
	kms_jw_finish(&w, &t, &n);
	cr_assert_eq(kms_transit_parse_plaintext(t, n, &p), 0);
	cr_assert_eq(ecfs_secret_len(p), 2);
	cr_assert_eq(memcmp(ecfs_secret_data(p), "\xff\x00", 2), 0);
	ecfs_secret_free(p);
	kms_jw_free(&w);

	kms_jw_init(&w);
	cr_assert_eq(kms_transit_build_errors(NULL, &w), 0);
	expect_text(&w, "{\"errors\":[]}");
	kms_jw_free(&w);
	kms_jw_init(&w);
	cr_assert_eq(kms_transit_build_errors("Vault is sealed", &w), 0);
	expect_text(&w, "{\"errors\":[\"Vault is sealed\"]}");
	kms_jw_free(&w);
}

Test(kms_transit, server_key_info_shape)
{
	int64_t created[3] = {100, 200, 300};
	struct kms_key_info ki = {"k", 3, 2, true, created};
	struct kms_jw w;
	uint64_t latest, min;
	const char *t;
	size_t n;

	kms_jw_init(&w);
	cr_assert_eq(kms_transit_build_key_info("rid", &ki, NULL, &w), 0);
	expect_text(&w,
		    "{\"request_id\":\"rid\",\"lease_id\":\"\",\"renewable\":false,"
		    "\"lease_duration\":0,\"data\":{\"allow_plaintext_backup\":false,"
		    "\"auto_rotate_period\":0,\"deletion_allowed\":true,\"derived\":false,"
		    "\"exportable\":false,\"imported_key\":false,\"keys\":{\"2\":200,\"3\":300},"
		    "\"latest_version\":3,\"min_available_version\":0,"
		    "\"min_decryption_version\":2,\"min_encryption_version\":0,\"name\":\"k\","
		    "\"supports_decryption\":true,\"supports_derivation\":true,"
		    "\"supports_encryption\":true,\"supports_signing\":false,\"type\":"
		    "\"aes256-gcm96\"},\"wrap_info\":null,\"warnings\":null,\"auth\":null}");
	kms_jw_finish(&w, &t, &n);
	cr_assert_eq(kms_transit_parse_key_info(t, n, &latest, &min), 0);
	cr_assert(latest == 3 && min == 2);
	kms_jw_free(&w);
}

Test(kms_transit, server_seal_status_shapes)
{
	struct kms_seal_status s = {true, 3, 5, 2, "0.1.0", "c", "id", 7};
	struct kms_jw w;

	kms_jw_init(&w);
	cr_assert_eq(kms_transit_build_seal_status(&s, &w), 0);
	expect_text(&w, "{\"type\":\"shamir\",\"initialized\":true,\"sealed\":true,\"t\":3,"
			"\"n\":5,\"progress\":2,\"nonce\":\"\",\"version\":\"0.1.0\","
			"\"migration\":false,\"recovery_seal\":false,\"storage_type\":\"file\"}");
	kms_jw_free(&w);
	s.sealed = false;
	kms_jw_init(&w);
	cr_assert_eq(kms_transit_build_health(&s, &w), 0);
	expect_text(&w, "{\"initialized\":true,\"sealed\":false,\"standby\":false,"
			"\"performance_standby\":false,\"replication_performance_mode\":"
			"\"disabled\",\"replication_dr_mode\":\"disabled\",\"server_time_utc\":7,"
			"\"version\":\"0.1.0\",\"cluster_name\":\"c\",\"cluster_id\":\"id\"}");
	kms_jw_free(&w);
}

Test(kms_transit, server_request_parsers)
{
	struct ecfs_secret *p, *key;
	struct kms_key_config_req c;
	char *ct, type[32];
	bool reset;
	const char *b;

	b = "{\"plaintext\":\"aGVsbG8=\",\"context\":\"\"}";
	cr_assert_eq(kms_transit_parse_encrypt_req(b, strlen(b), &p), 0);
	cr_assert_eq(ecfs_secret_len(p), 5);
	ecfs_secret_free(p);
	cr_assert_eq(kms_transit_parse_encrypt_req("", 0, &p), -EINVAL);
	cr_assert_str_eq(ecfs_last_error(), "missing plaintext to encrypt");
	b = "{\"plaintext\":\"aGVsbG8\"}";
	cr_assert_eq(kms_transit_parse_encrypt_req(b, strlen(b), &p), -EINVAL);
	cr_assert_str_eq(ecfs_last_error(), "failed to base64-decode plaintext");
	b = "not json";
	cr_assert_eq(kms_transit_parse_encrypt_req(b, strlen(b), &p), -EINVAL);

	b = "{\"ciphertext\":\"vault:v1:YWJj\"}";
	cr_assert_eq(kms_transit_parse_ciphertext_req(b, strlen(b), &ct), 0);
	cr_assert_str_eq(ct, "vault:v1:YWJj");
	free(ct);
	b = "{\"ciphertext\":\"\"}";
	cr_assert_eq(kms_transit_parse_ciphertext_req(b, strlen(b), &ct), -EINVAL);

	cr_assert_eq(kms_transit_parse_key_create_req("", 0, type, sizeof(type)), 0);
	cr_assert_str_eq(type, "aes256-gcm96");
	b = "{\"type\":\"rsa-4096\"}";
	cr_assert_eq(kms_transit_parse_key_create_req(b, strlen(b), type, sizeof(type)), 0);
	cr_assert_str_eq(type, "rsa-4096");

	b = "{\"min_decryption_version\":\"2\",\"deletion_allowed\":\"true\"}";
	cr_assert_eq(kms_transit_parse_key_config_req(b, strlen(b), &c), 0);
	cr_assert(c.has_min_decryption && c.min_decryption == 2);
	cr_assert(c.has_deletion_allowed && c.deletion_allowed);
	b = "{\"deletion_allowed\":false}";
	cr_assert_eq(kms_transit_parse_key_config_req(b, strlen(b), &c), 0);
	cr_assert(!c.has_min_decryption && c.has_deletion_allowed && !c.deletion_allowed);
	b = "{\"min_decryption_version\":-1}";
	cr_assert_eq(kms_transit_parse_key_config_req(b, strlen(b), &c), -EINVAL);

	b = "{\"reset\":true}";
	cr_assert_eq(kms_transit_parse_unseal_req(b, strlen(b), &key, &reset), 0);
	cr_assert(reset && !key);
	b = "{\"key\":\"abcd\"}";
	cr_assert_eq(kms_transit_parse_unseal_req(b, strlen(b), &key, &reset), 0);
	cr_assert(!reset && ecfs_secret_len(key) == 4);
	ecfs_secret_free(key);
	cr_assert_eq(kms_transit_parse_unseal_req("{}", 2, &key, &reset), -EINVAL);
}

Test(kms_transit, writer_escapes_and_nesting)
{
	struct kms_jw w;

	kms_jw_init(&w);
	kms_jw_object(&w, NULL);
	kms_jw_string(&w, "s", "a\"b\\c\x01\x7f", 7);
	kms_jw_array(&w, "a");
	kms_jw_u64(&w, NULL, UINT64_MAX);
	kms_jw_i64(&w, NULL, INT64_MIN);
	kms_jw_bool(&w, NULL, true);
	kms_jw_null(&w, NULL);
	kms_jw_end(&w);
	kms_jw_end(&w);
	expect_text(&w, "{\"s\":\"a\\\"b\\\\c\\u0001\\u007f\",\"a\":[18446744073709551615,"
			"-9223372036854775808,true,null]}");
	kms_jw_free(&w);
	/* An unbalanced document is an error, not half a text. */
	kms_jw_init(&w);
	kms_jw_object(&w, NULL);
	const char *t;
	size_t n;
	cr_assert_eq(kms_jw_finish(&w, &t, &n), -EINVAL);
	kms_jw_free(&w);
}
