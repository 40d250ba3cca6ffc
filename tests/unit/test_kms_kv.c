/* SPDX-License-Identifier: MIT */
/* test_kms_kv.c - the KV version 2 engine: one field of a read answer (base64 into locked
 * memory, every refusal with its own code), kmsd's answers, and secrets kept in the sealed
 * store with their newest versions, strictly decoded. */
#include <criterion/criterion.h>

#include "kmsd_store.h"
#include "tmpdir_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static uint8_t master[KMSD_SECRET_SIZE];
static const uint8_t uuid[16] = {0xbb, 1, 2, 3, 4, 5, 0x46, 7, 0x88, 9, 10, 11, 12, 13, 14, 15};

static void setup(void)
{
	tmpdir_make(dir, sizeof(dir), "kvstore");
	cr_assert_eq(ecfs_random(master, sizeof(master)), 0);
	cr_assert_eq(kmsd_store_create(dir, 1, 1, master, uuid), 0, "%s", ecfs_last_error());
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

static struct kmsd_store *open_unsealed(void)
{
	struct kmsd_store *s;

	cr_assert_eq(kmsd_store_open(dir, &s), 0, "%s", ecfs_last_error());
	cr_assert_eq(kmsd_store_unseal(s, master), 0, "%s", ecfs_last_error());
	return s;
}

static int field(const char *body, const char *name, size_t max, struct ecfs_secret **v)
{
	*v = NULL;
	return kms_kv_parse_field(body, strlen(body), name, max, v);
}

Test(kms_kv, parse_field)
{
	struct ecfs_secret *v;

	cr_assert_eq(field("{\"data\":{\"data\":{\"key\":\"aGVsbG8=\",\"k2\":\"eA==\"},"
			   "\"metadata\":{\"version\":3}}}",
			   "key", 64, &v),
		     0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_secret_len(v), 5);
	cr_assert_eq(memcmp(ecfs_secret_data(v), "hello", 5), 0);
	ecfs_secret_free(v);
	/* An escaped slash decodes before base64 does. */
	cr_assert_eq(field("{\"data\":{\"data\":{\"k\":\"\\/w==\"}}}", "k", 64, &v), 0);
	cr_assert_eq(ecfs_secret_len(v), 1);
	cr_assert_eq(ecfs_secret_data(v)[0], 0xff);
	ecfs_secret_free(v);

	cr_assert_eq(field("{\"data\":{\"data\":{\"key\":\"aGVsbG8=\"}}}", "nope", 64, &v),
		     -ENODATA);
	cr_assert(strstr(ecfs_last_error(), "no field 'nope'"));
	cr_assert_eq(field("{\"data\":{\"data\":{\"key\":5}}}", "key", 64, &v), -ENODATA);
	cr_assert_eq(field("{\"data\":{\"data\":{\"key\":\"not base64!\"}}}", "key", 64, &v),
		     -EILSEQ);
	cr_assert_null(strstr(ecfs_last_error(), "not base64!"), "the value is never quoted");
	cr_assert_eq(field("{\"data\":{\"data\":{\"key\":\"aGVsbG8=\"}}}", "key", 4, &v),
		     -EMSGSIZE);
	cr_assert_eq(
	    field("{\"data\":{\"data\":{\"key\":\"eA==\",\"key\":\"eA==\"}}}", "key", 4, &v),
	    -EBADMSG);
	cr_assert_eq(field("{\"data\":{\"data\":null}}", "key", 64, &v), -EBADMSG);
	cr_assert_eq(field("{\"data\":{\"ciphertext\":\"x\"}}", "key", 64, &v), -EBADMSG);
	cr_assert_eq(field("{\"data\":", "key", 64, &v), -EBADMSG);
	cr_assert_eq(field("[]", "key", 64, &v), -EBADMSG);
	cr_assert_null(v);
}

Test(kms_kv, paths)
{
	static const char *const good[] = {"a", "volumes/db1", "a.b/c-d_e", "x/.y"};
	static const char *const bad[] = {"",	"/a",  "a/",	      "a//b", "a/../b", ".",
					  "..", "a b", "a?version=2", "a#b",  "ä"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(kms_kv_path_valid(good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!kms_kv_path_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
}

Test(kms_kv, write_request_and_answers)
{
	struct kms_json data;
	struct kms_jw w;
	const char *t;
	size_t n;
	uint64_t cas = 7;
	bool has_cas = true;
	const char *req = "{\"data\":{\"key\":\"eA==\"}}";

	cr_assert_eq(kms_kv_parse_write_req(req, strlen(req), &data, &has_cas, &cas), 0);
	cr_assert(!has_cas);
	cr_assert_eq(data.len, strlen("{\"key\":\"eA==\"}"));
	req = "{\"data\":{},\"options\":{\"cas\":2}}";
	cr_assert_eq(kms_kv_parse_write_req(req, strlen(req), &data, &has_cas, &cas), 0);
	cr_assert(has_cas);
	cr_assert_eq(cas, 2);
	req = "{\"data\":\"x\"}";
	cr_assert_eq(kms_kv_parse_write_req(req, strlen(req), &data, &has_cas, &cas), -EINVAL);
	req = "{\"key\":\"eA==\"}";
	cr_assert_eq(kms_kv_parse_write_req(req, strlen(req), &data, &has_cas, &cas), -EINVAL);
	req = "{\"data\":{},\"options\":{\"cas\":-1}}";
	cr_assert_eq(kms_kv_parse_write_req(req, strlen(req), &data, &has_cas, &cas), -EINVAL);

	kms_jw_init(&w);
	cr_assert_eq(kms_kv_build_read("rid", "{\"key\":\"eA==\"}", 14,
				       &(struct kms_kv_meta){.created = 0, .version = 4}, &w),
		     0);
	cr_assert_eq(kms_jw_finish(&w, &t, &n), 0);
	cr_assert(strstr(t, "\"data\":{\"data\":{\"key\":\"eA==\"},\"metadata\":{\"created_time\":"
			    "\"1970-01-01T00:00:00Z\""),
		  "%s", t);
	cr_assert(strstr(t, "\"version\":4}"), "%s", t);
	/* What the server answers, the client reads. */
	{
		struct ecfs_secret *v = NULL;

		cr_assert_eq(kms_kv_parse_field(t, n, "key", 16, &v), 0);
		cr_assert_eq(ecfs_secret_len(v), 1);
		ecfs_secret_free(v);
	}
	kms_jw_free(&w);
	kms_jw_init(&w);
	cr_assert_eq(kms_kv_build_write("rid", &(struct kms_kv_meta){.version = 9}, &w), 0);
	cr_assert_eq(kms_jw_finish(&w, &t, &n), 0);
	cr_assert(strstr(t, "\"data\":{\"created_time\":"), "%s", t);
	cr_assert(strstr(t, "\"version\":9}"), "%s", t);
	kms_jw_free(&w);
}

static void put(struct kmsd_store *s, const char *path, const char *data, uint32_t want)
{
	uint32_t v = 0;

	cr_assert_eq(kmsd_kv_put(s, path, data, strlen(data), false, 0, &v), 0, "%s",
		     ecfs_last_error());
	cr_assert_eq(v, want);
}

static const char *text_of(const struct kmsd_kv_version *v)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%.*s", (int)ecfs_secret_len(v->data),
		 (const char *)ecfs_secret_data(v->data));
	return buf;
}

TestSuite(kms_kv_store, .init = setup, .fini = teardown);

Test(kms_kv_store, versions_persist_sealed)
{
	struct kmsd_store *s = open_unsealed();
	const struct kmsd_kv_secret *k;
	char data[64];
	uint32_t v;

	for (uint32_t i = 1; i <= 12; i++) {
		snprintf(data, sizeof(data), "{\"n\":%u}", i);
		put(s, "volumes/db1", data, i);
	}
	put(s, "other", "{}", 1);
	/* Check-and-set: only on top of the current version; 0 means "must not exist". */
	cr_assert_eq(kmsd_kv_put(s, "other", "{}", 2, true, 5, &v), -EEXIST);
	cr_assert_eq(kmsd_kv_put(s, "fresh", "{}", 2, true, 0, &v), 0);
	cr_assert_eq(kmsd_kv_put(s, "fresh", "{}", 2, true, 0, &v), -EEXIST);
	cr_assert_eq(kmsd_kv_put(s, "a/../b", "{}", 2, false, 0, &v), -EINVAL);
	kmsd_store_free(s);

	s = open_unsealed();
	cr_assert_eq(s->nsecrets, 3);
	k = kmsd_kv_find(s, "volumes/db1");
	cr_assert_not_null(k);
	cr_assert_eq(k->current, 12);
	cr_assert_eq(k->nkept, KMSD_KV_MAX_VERSIONS);
	cr_assert_null(kmsd_kv_version(k, 2), "the oldest versions are dropped");
	cr_assert_null(kmsd_kv_version(k, 13));
	cr_assert_null(kmsd_kv_version(k, 0));
	cr_assert_str_eq(text_of(kmsd_kv_version(k, 3)), "{\"n\":3}");
	cr_assert_str_eq(text_of(kmsd_kv_version(k, 12)), "{\"n\":12}");
	cr_assert_null(kmsd_kv_find(s, "volumes"));
	kmsd_store_free(s);
}

Test(kms_kv_store, malformed_section_is_euclean)
{
	struct kmsd_store *s = open_unsealed();
	struct ecfs_secret *p;
	uint8_t *more;
	size_t len;

	put(s, "a", "{\"k\":\"v\"}", 1);
	put(s, "a", "{\"k\":\"w\"}", 2);
	put(s, "b/c", "{}", 1);
	cr_assert_eq(kmsd_store_encode(s, &p), 0);
	len = ecfs_secret_len(p);
	for (size_t n = 0; n < len; n++)
		cr_assert_eq(kmsd_store_decode(s, ecfs_secret_data(p), n), -EUCLEAN, "len %zu", n);
	more = calloc(1, len + 1);
	memcpy(more, ecfs_secret_data(p), len);
	cr_assert_eq(kmsd_store_decode(s, more, len + 1), -EUCLEAN);
	/* The last version's data is "{}": made not JSON, it is refused. */
	more[len - 1] = 'x';
	cr_assert_eq(kmsd_store_decode(s, more, len), -EUCLEAN);
	cr_assert_eq(s->nsecrets, 2, "a refused decode leaves the secrets as they were");
	cr_assert_eq(kmsd_store_decode(s, ecfs_secret_data(p), len), 0);
	cr_assert_eq(s->nsecrets, 2);
	free(more);
	ecfs_secret_free(p);
	kmsd_store_free(s);
}
