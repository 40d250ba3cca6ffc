/* SPDX-License-Identifier: MIT */
/* test_kat.c - known-answer tests of the crypto primitives against published test vectors. */
#include <criterion/criterion.h>

#include "internal.h"

#include <argon2.h>
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef ECFS_TESTVECTORS
#error "ECFS_TESTVECTORS must name the test vector directory"
#endif

/* ---- helpers: files, hex ------------------------------------------------------------- */

static void vec_path(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", ECFS_TESTVECTORS, name);

	cr_assert(n > 0 && (size_t)n < size, "path too long: %s", name);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex into a fresh buffer (never NULL, even for ""); bad hex fails the test. */
static uint8_t *unhex(const char *s, size_t *len)
{
	size_t n = strlen(s), i;
	uint8_t *p;

	cr_assert(n % 2 == 0, "odd-length hex: %s", s);
	p = malloc(n / 2 + 1);
	cr_assert_not_null(p);
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		cr_assert(hi >= 0 && lo >= 0, "bad hex: %s", s);
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return p;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	cr_assert_not_null(p);
	return p;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static void random_bytes(void *p, size_t n)
{
	cr_assert_eq(RAND_bytes(p, (int)n), 1);
}

/* ---- helpers: Wycheproof JSON ------------------------------------------------------- */

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "missing JSON field '%s'", key);
	return v;
}

static const char *jstr(json_object *o, const char *key)
{
	return json_object_get_string(jget(o, key));
}

static int jint(json_object *o, const char *key)
{
	return json_object_get_int(jget(o, key));
}

static uint8_t *jhex(json_object *o, const char *key, size_t *len)
{
	return unhex(jstr(o, key), len);
}

typedef void (*wp_test_fn)(json_object *group, json_object *test, void *arg);

/* Runs fn on every test of a Wycheproof file; checks none was missed. Returns the count. */
static size_t wp_each(const char *name, wp_test_fn fn, void *arg)
{
	json_object *root, *groups;
	char path[4096];
	size_t count = 0;

	vec_path(path, sizeof(path), name);
	root = json_object_from_file(path);
	cr_assert_not_null(root, "cannot read or parse %s", path);
	groups = jget(root, "testGroups");
	for (size_t g = 0; g < json_object_array_length(groups); g++) {
		json_object *grp = json_object_array_get_idx(groups, g);
		json_object *tests = jget(grp, "tests");

		for (size_t t = 0; t < json_object_array_length(tests); t++, count++)
			fn(grp, json_object_array_get_idx(tests, t), arg);
	}
	cr_assert_eq(count, (size_t)jint(root, "numberOfTests"), "%s: ran %zu tests", name, count);
	json_object_put(root);
	return count;
}

static int wp_valid(json_object *t)
{
	const char *r = jstr(t, "result");

	return strcmp(r, "valid") == 0;
}

/* ---- helpers: OpenSSL-style "Key = value" stanzas ----------------------------------- */

struct kv {
	char *key, *val;
};

struct stanza {
	struct kv *kv;
	size_t n;
};

struct stanzas {
	struct stanza *s;
	size_t n;
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void stanza_add(struct stanzas *f, int *open, const char *key, const char *val)
{
	struct stanza *st;

	if (!*open) {
		f->s = realloc(f->s, (f->n + 1) * sizeof(*f->s));
		cr_assert_not_null(f->s);
		f->s[f->n++] = (struct stanza){0};
		*open = 1;
	}
	st = &f->s[f->n - 1];
	st->kv = realloc(st->kv, (st->n + 1) * sizeof(*st->kv));
	cr_assert_not_null(st->kv);
	st->kv[st->n].key = strdup(key);
	st->kv[st->n].val = strdup(val);
	st->n++;
}

/* Blank lines end a stanza, '#' starts a comment, "[title]" is stored as Section. Any other
 * line without '=' fails the test, so a damaged file cannot pass by parsing to nothing. */
static void stanzas_load(const char *name, struct stanzas *f)
{
	char path[4096], *line = NULL;
	size_t cap = 0;
	int open = 0, lineno = 0;
	FILE *fp;

	*f = (struct stanzas){0};
	vec_path(path, sizeof(path), name);
	fp = fopen(path, "r");
	cr_assert_not_null(fp, "cannot open %s", path);
	while (getline(&line, &cap, fp) >= 0) {
		char *s = trim(line), *eq;

		lineno++;
		if (*s == '\0') {
			open = 0;
			continue;
		}
		if (*s == '#')
			continue;
		if (*s == '[') {
			s[strcspn(s, "]")] = '\0';
			stanza_add(f, &open, "Section", s + 1);
			continue;
		}
		eq = strchr(s, '=');
		cr_assert_not_null(eq, "%s:%d: no '=' in \"%s\"", name, lineno, s);
		*eq = '\0';
		stanza_add(f, &open, trim(s), trim(eq + 1));
	}
	free(line);
	fclose(fp);
	cr_assert_gt(f->n, 0, "%s: no stanzas", name);
}

static void stanzas_free(struct stanzas *f)
{
	for (size_t i = 0; i < f->n; i++) {
		for (size_t j = 0; j < f->s[i].n; j++) {
			free(f->s[i].kv[j].key);
			free(f->s[i].kv[j].val);
		}
		free(f->s[i].kv);
	}
	free(f->s);
}

static const char *st_get(const struct stanza *st, const char *key)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcasecmp(st->kv[i].key, key) == 0)
			return st->kv[i].val;
	return NULL;
}

/* A value that must be present, as hex. */
static uint8_t *st_hex(const struct stanza *st, const char *key, size_t *len)
{
	const char *v = st_get(st, key);

	cr_assert_not_null(v, "stanza lacks %s", key);
	return unhex(v, len);
}

/* The first value of key in any stanza of the file (for files of loose key = value lines). */
static const char *file_get(const struct stanzas *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++) {
		const char *v = st_get(&f->s[i], key);

		if (v)
			return v;
	}
	cr_assert_fail("no %s in file", key);
	return NULL;
}

/* ---- SHA-256, HKDF, HMAC --------------------------------------------------------------- */

Test(kat, sha256_fips180_abc)
{
	static const uint8_t want[32] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	uint8_t out[32];

	cr_assert_eq(ecfs_sha256("abc", 3, out), 0);
	cr_assert_arr_eq(out, want, 32);
}

struct tally {
	size_t valid, invalid, acceptable, skipped;
};

static void hkdf_one(json_object *g, json_object *t, void *arg)
{
	struct tally *c = arg;
	size_t ikm_len, salt_len, info_len, okm_len, size = (size_t)jint(t, "size");
	uint8_t *ikm = jhex(t, "ikm", &ikm_len), *salt = jhex(t, "salt", &salt_len);
	uint8_t *info = jhex(t, "info", &info_len), *okm = jhex(t, "okm", &okm_len);
	uint8_t *out = xmalloc(size);
	int r, id = jint(t, "tcId");

	(void)g;
	r = ecfs_hkdf_sha256(ikm, ikm_len, salt, salt_len, info, info_len, out, size);
	if (wp_valid(t)) {
		cr_assert_eq(r, 0, "tcId %d: %d", id, r);
		cr_assert_eq(okm_len, size);
		cr_assert_arr_eq(out, okm, size, "tcId %d: wrong OKM", id);
		c->valid++;
	} else {
		/* The only invalid case is an output longer than 255 * 32 bytes. */
		cr_assert_eq(r, -EINVAL, "tcId %d: accepted (%d)", id, r);
		c->invalid++;
	}
	free(ikm), free(salt), free(info), free(okm), free(out);
}

Test(kat, hkdf_sha256_wycheproof)
{
	struct tally c = {0};
	size_t n = wp_each("wycheproof/hkdf_sha256_test.json", hkdf_one, &c);

	cr_log_info("HKDF-SHA-256: %zu vectors, %zu valid matched, %zu invalid refused", n, c.valid,
		    c.invalid);
	cr_assert_eq(c.valid, 83);
	cr_assert_eq(c.invalid, 3);
}

static void hmac_one(json_object *g, json_object *t, void *arg)
{
	struct tally *c = arg;
	size_t key_len, msg_len, tag_len, tsize = (size_t)jint(g, "tagSize") / 8;
	uint8_t *key = jhex(t, "key", &key_len), *msg = jhex(t, "msg", &msg_len);
	uint8_t *tag = jhex(t, "tag", &tag_len);
	uint8_t out[ECFS_HMAC_SIZE], split[ECFS_HMAC_SIZE];
	struct ecfs_iov one = {msg, msg_len};
	/* The same message in three pieces, to exercise the iov path. */
	struct ecfs_iov three[3] = {
	    {msg, msg_len / 3},
	    {msg + msg_len / 3, msg_len / 2 - msg_len / 3},
	    {msg + msg_len / 2, msg_len - msg_len / 2},
	};
	int id = jint(t, "tcId");

	cr_assert(tsize > 0 && tsize <= ECFS_HMAC_SIZE && tag_len == tsize, "tcId %d", id);
	cr_assert_eq(ecfs_hmac_sha256(key, key_len, &one, 1, out), 0, "tcId %d", id);
	cr_assert_eq(ecfs_hmac_sha256(key, key_len, three, 3, split), 0, "tcId %d", id);
	cr_assert_arr_eq(out, split, ECFS_HMAC_SIZE, "tcId %d: iov split differs", id);
	/* Tags are compared truncated to the group's tagSize. */
	if (wp_valid(t)) {
		cr_assert_arr_eq(out, tag, tsize, "tcId %d: wrong tag", id);
		c->valid++;
	} else {
		cr_assert_arr_neq(out, tag, tsize, "tcId %d: modified tag verified", id);
		c->invalid++;
	}
	free(key), free(msg), free(tag);
}

Test(kat, hmac_sha256_wycheproof)
{
	struct tally c = {0};
	size_t n = wp_each("wycheproof/hmac_sha256_test.json", hmac_one, &c);

	cr_log_info("HMAC-SHA-256: %zu vectors, %zu valid matched, %zu invalid rejected", n,
		    c.valid, c.invalid);
	cr_assert_eq(c.valid, 66);
	cr_assert_eq(c.invalid, 108);
}

/* ---- AES key wrap ----------------------------------------------------------------------- */

static void kw_one(json_object *g, json_object *t, void *arg)
{
	struct tally *c = arg;
	size_t key_len, msg_len, ct_len;
	uint8_t *key = jhex(t, "key", &key_len), *msg = jhex(t, "msg", &msg_len);
	uint8_t *ct = jhex(t, "ct", &ct_len);
	uint8_t *out = xmalloc(msg_len + ct_len + 8);
	int r, id = jint(t, "tcId");

	(void)g;
	if (wp_valid(t)) {
		cr_assert_eq(ecfs_keywrap(key, key_len, msg, msg_len, out), 0, "tcId %d", id);
		cr_assert_eq(ct_len, msg_len + 8);
		cr_assert_arr_eq(out, ct, ct_len, "tcId %d: wrong wrap", id);
		cr_assert_eq(ecfs_keyunwrap(key, key_len, ct, ct_len, out), 0, "tcId %d", id);
		cr_assert_arr_eq(out, msg, msg_len, "tcId %d: wrong unwrap", id);
		c->valid++;
	} else {
		/* "acceptable" is an 8-byte key, which RFC 3394 (n >= 2) and we refuse. */
		memset(out, 0xa5, msg_len + ct_len + 8);
		r = ecfs_keyunwrap(key, key_len, ct, ct_len, out);
		cr_assert_lt(r, 0, "tcId %d: unwrap accepted", id);
		if (ct_len >= 24 && ct_len % 8 == 0) {
			cr_assert_eq(r, -EBADMSG, "tcId %d: %d", id, r);
			cr_assert(all_zero(out, ct_len - 8), "tcId %d: output not wiped", id);
		}
		if (msg_len < 16 || msg_len % 8)
			cr_assert_eq(ecfs_keywrap(key, key_len, msg, msg_len, out), -EINVAL,
				     "tcId %d: wrapped a bad length", id);
		if (strcmp(jstr(t, "result"), "acceptable") == 0)
			c->acceptable++;
		else
			c->invalid++;
	}
	free(key), free(msg), free(ct), free(out);
}

Test(kat, aes_keywrap_wycheproof)
{
	struct tally c = {0};
	size_t n = wp_each("wycheproof/aes_wrap_test.json", kw_one, &c);

	cr_log_info("AES-KW: %zu vectors, %zu valid wrapped+unwrapped, %zu invalid and %zu "
		    "acceptable (8-byte keys) refused",
		    n, c.valid, c.invalid, c.acceptable);
	cr_assert_eq(c.valid, 36);
	cr_assert_eq(c.invalid, 126);
	cr_assert_eq(c.acceptable, 3);
}

/* ---- AES-256-GCM (util/aead.c), the groups of its shape: 256-bit key, 96-bit nonce ------ */

static void gcm_one(json_object *g, json_object *t, void *arg)
{
	struct tally *c = arg;
	size_t key_len, iv_len, aad_len, msg_len, ct_len, tag_len;
	uint8_t *key, *iv, *aad, *msg, *ct, *tag, *out;
	int id = jint(t, "tcId");

	if (jint(g, "keySize") != 256 || jint(g, "ivSize") != 96 || jint(g, "tagSize") != 128)
		return;
	key = jhex(t, "key", &key_len), iv = jhex(t, "iv", &iv_len);
	aad = jhex(t, "aad", &aad_len), msg = jhex(t, "msg", &msg_len);
	ct = jhex(t, "ct", &ct_len), tag = jhex(t, "tag", &tag_len);
	out = malloc(msg_len + ct_len + 1);
	cr_assert(key_len == 32 && iv_len == ECFS_GCM_NONCE_SIZE && tag_len == 16 && out, "tcId %d",
		  id);
	if (wp_valid(t)) {
		uint8_t got[ECFS_GCM_TAG_SIZE];

		cr_assert_eq(ecfs_gcm_seal(key, iv, aad, aad_len, msg, msg_len, out, got), 0,
			     "tcId %d", id);
		cr_assert_arr_eq(out, ct, ct_len, "tcId %d: wrong ciphertext", id);
		cr_assert_arr_eq(got, tag, sizeof(got), "tcId %d: wrong tag", id);
		cr_assert_eq(ecfs_gcm_open(key, iv, aad, aad_len, ct, ct_len, out, tag), 0,
			     "tcId %d", id);
		cr_assert_arr_eq(out, msg, msg_len, "tcId %d: wrong plaintext", id);
		c->valid++;
	} else {
		memset(out, 0xa5, ct_len + 1);
		cr_assert_eq(ecfs_gcm_open(key, iv, aad, aad_len, ct, ct_len, out, tag), -EBADMSG,
			     "tcId %d: a modified message opened", id);
		cr_assert(all_zero(out, ct_len), "tcId %d: output not wiped", id);
		c->invalid++;
	}
	free(key), free(iv), free(aad), free(msg), free(ct), free(tag), free(out);
}

Test(kat, aes_256_gcm_wycheproof)
{
	struct tally c = {0};
	size_t n = wp_each("wycheproof/aes_gcm_test.json", gcm_one, &c);

	cr_log_info("AES-256-GCM: %zu vectors, %zu valid sealed+opened, %zu invalid refused", n,
		    c.valid, c.invalid);
	cr_assert_eq(c.valid, 39);
	cr_assert_eq(c.invalid, 27);
}

/* ---- XTS ------------------------------------------------------------------------------- */

/* The SM4 path the SM4-XTS vectors go through: NULL for OpenSSL, else an implementation of
 * sm4.c (every one this CPU runs is tried in turn). */
static const struct ecfs_sm4_impl *kat_sm4;

static int xts_new(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		   struct ecfs_xts **x)
{
	return ecfs_xts_new_with(bc, key, key_len, bc == ECFS_BC_SM4 ? kat_sm4 : NULL, x);
}

static const char *kat_sm4_name(void)
{
	return kat_sm4 ? kat_sm4->name : "openssl";
}

/* Checks one XTS vector; enc/dec pick the directions. Also runs both in place. */
static void xts_check(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		      const uint8_t tweak[16], const uint8_t *pt, const uint8_t *ct, size_t len,
		      int enc, int dec, const char *what)
{
	struct ecfs_xts *x;
	uint8_t *buf = xmalloc(len);

	cr_assert_eq(xts_new(bc, key, key_len, &x), 0, "%s: new", what);
	if (enc) {
		cr_assert_eq(ecfs_xts_encrypt(x, tweak, pt, buf, len), 0, "%s", what);
		cr_assert_arr_eq(buf, ct, len, "%s: wrong ciphertext", what);
		memcpy(buf, pt, len);
		cr_assert_eq(ecfs_xts_encrypt(x, tweak, buf, buf, len), 0, "%s", what);
		cr_assert_arr_eq(buf, ct, len, "%s: wrong ciphertext in place", what);
	}
	if (dec) {
		cr_assert_eq(ecfs_xts_decrypt(x, tweak, ct, buf, len), 0, "%s", what);
		cr_assert_arr_eq(buf, pt, len, "%s: wrong plaintext", what);
		memcpy(buf, ct, len);
		cr_assert_eq(ecfs_xts_decrypt(x, tweak, buf, buf, len), 0, "%s", what);
		cr_assert_arr_eq(buf, pt, len, "%s: wrong plaintext in place", what);
	}
	ecfs_xts_free(x);
	free(buf);
}

static void xts_wp_one(json_object *g, json_object *t, void *arg)
{
	struct tally *c = arg;
	size_t key_len, iv_len, msg_len, ct_len;
	uint8_t *key = jhex(t, "key", &key_len), *iv = jhex(t, "iv", &iv_len);
	uint8_t *msg = jhex(t, "msg", &msg_len), *ct = jhex(t, "ct", &ct_len);
	uint8_t tweak[16] = {0};
	struct ecfs_xts *x = NULL;
	char what[64];

	snprintf(what, sizeof(what), "tcId %d", jint(t, "tcId"));
	cr_assert(wp_valid(t) && iv_len <= 16 && msg_len == ct_len, "%s", what);
	if (jint(g, "keySize") == 384) {
		/* AES-192-XTS: the library supports AES-128 and AES-256 only. */
		cr_assert_eq(ecfs_xts_new(ECFS_BC_AES, key, key_len, &x), -EINVAL, "%s", what);
		c->skipped++;
	} else {
		/* The short IV is the data unit number's low bytes (little-endian). */
		memcpy(tweak, iv, iv_len);
		xts_check(ECFS_BC_AES, key, key_len, tweak, msg, ct, msg_len, 1, 1, what);
		c->valid++;
	}
	free(key), free(iv), free(msg), free(ct);
}

Test(kat, aes_xts_wycheproof)
{
	struct tally c = {0};
	size_t n = wp_each("wycheproof/aes_xts_test.json", xts_wp_one, &c);

	cr_log_info("AES-XTS (Wycheproof): %zu vectors, %zu checked both ways, %zu AES-192 "
		    "refused",
		    n, c.valid, c.skipped);
	cr_assert_eq(c.valid, 82);
	cr_assert_eq(c.skipped, 41);
}

struct xts_file_tally {
	size_t checked, refused, gb_partial;
};

/* One OpenSSL XTS stanza; equal key halves must be refused whatever OpenSSL does. */
static void xts_stanza(const struct stanza *st, enum ecfs_block_cipher bc, struct xts_file_tally *c)
{
	size_t key_len, iv_len, pt_len, ct_len;
	uint8_t *key = st_hex(st, "Key", &key_len), *iv = st_hex(st, "IV", &iv_len);
	uint8_t *pt = st_hex(st, "Plaintext", &pt_len), *ct = st_hex(st, "Ciphertext", &ct_len);
	const char *op = st_get(st, "Operation");
	struct ecfs_xts *x = NULL;
	char what[128];

	snprintf(what, sizeof(what), "%s (%s) key %.16s... len %zu", st_get(st, "Cipher"),
		 bc == ECFS_BC_SM4 ? kat_sm4_name() : "openssl", st_get(st, "Key"), pt_len);
	cr_assert(iv_len == 16 && pt_len == ct_len, "%s", what);
	if (memcmp(key, key + key_len / 2, key_len / 2) == 0) {
		cr_assert_eq(xts_new(bc, key, key_len, &x), -EINVAL, "%s: accepted", what);
		c->refused++;
	} else {
		xts_check(bc, key, key_len, iv, pt, ct, pt_len, !op || !strcasecmp(op, "ENCRYPT"),
			  !op || !strcasecmp(op, "DECRYPT"), what);
		c->checked++;
	}
	free(key), free(iv), free(pt), free(ct);
}

Test(kat, aes_xts_openssl_ieee1619)
{
	struct xts_file_tally c = {0};
	struct stanzas f;

	stanzas_load("openssl/evpciph_aes_common.txt", &f);
	for (size_t i = 0; i < f.n; i++) {
		const char *cipher = st_get(&f.s[i], "Cipher");

		if (cipher &&
		    (!strcasecmp(cipher, "aes-128-xts") || !strcasecmp(cipher, "aes-256-xts"))) {
			cr_assert_null(st_get(&f.s[i], "XTSStandard"));
			xts_stanza(&f.s[i], ECFS_BC_AES, &c);
		}
	}
	stanzas_free(&f);
	cr_log_info("AES-XTS (OpenSSL IEEE 1619): %zu stanzas checked, %zu equal-key refused",
		    c.checked, c.refused);
	cr_assert_eq(c.checked, 45);
	cr_assert_eq(c.refused, 3);
}

/*
 * A GB/T 17964 stanza: the variants share T_0 and differ from T_1 on, so only bytes made
 * under T_0 alone can match: block 0, or for one block plus a tail the stolen tail.
 */
static void xts_gb_partial(const struct stanza *st, struct xts_file_tally *c)
{
	size_t key_len, iv_len, pt_len, ct_len, off, n;
	uint8_t *key = st_hex(st, "Key", &key_len), *iv = st_hex(st, "IV", &iv_len);
	uint8_t *pt = st_hex(st, "Plaintext", &pt_len), *ct = st_hex(st, "Ciphertext", &ct_len);
	uint8_t *buf = xmalloc(pt_len);
	struct ecfs_xts *x;

	cr_assert(iv_len == 16 && pt_len == ct_len && pt_len > 16);
	cr_assert_eq(xts_new(ECFS_BC_SM4, key, key_len, &x), 0);
	cr_assert_eq(ecfs_xts_encrypt(x, iv, pt, buf, pt_len), 0);
	off = pt_len < 32 ? 16 : 0;
	n = pt_len < 32 ? pt_len - 16 : 16;
	cr_assert_arr_eq(buf + off, ct + off, n, "GB stanza (%s): T_0 bytes differ",
			 kat_sm4_name());
	cr_assert_arr_neq(buf + (16 - off), ct + (16 - off), 16, "GB stanza matched IEEE");
	ecfs_xts_free(x);
	free(key), free(iv), free(pt), free(ct), free(buf);
	c->gb_partial++;
}

/* The SM4-XTS stanzas through one SM4 path (kat_sm4). */
static void sm4_xts_stanzas(const struct stanzas *f)
{
	struct xts_file_tally c = {0};

	for (size_t i = 0; i < f->n; i++) {
		const char *cipher = st_get(&f->s[i], "Cipher"), *std;

		if (!cipher || strcasecmp(cipher, "SM4-XTS"))
			continue;
		/* OpenSSL's default standard is GB; only IEEE stanzas are full answers here. */
		std = st_get(&f->s[i], "XTSStandard");
		if (std && !strcasecmp(std, "IEEE"))
			xts_stanza(&f->s[i], ECFS_BC_SM4, &c);
		else
			xts_gb_partial(&f->s[i], &c);
	}
	cr_log_info("SM4-XTS (OpenSSL) through %s: %zu IEEE stanzas checked both ways, %zu GB "
		    "stanzas checked on the T_0 bytes",
		    kat_sm4_name(), c.checked, c.gb_partial);
	cr_assert_eq(c.checked, 1);
	cr_assert_eq(c.gb_partial, 3);
}

Test(kat, sm4_xts_openssl)
{
	struct stanzas f;

	stanzas_load("openssl/evpciph_sm4.txt", &f);
	kat_sm4 = NULL;
	sm4_xts_stanzas(&f);
	for (kat_sm4 = ecfs_sm4_impls; kat_sm4->name; kat_sm4++) {
		if (kat_sm4->usable())
			sm4_xts_stanzas(&f);
		else
			cr_log_warn("SM4 implementation %s: not on this CPU, not tested",
				    kat_sm4->name);
	}
	kat_sm4 = NULL;
	stanzas_free(&f);
}

/* The example of GB/T 32907-2016 appendix A (also RFC 8998 appendix A.1) through every
 * implementation: the block in each position of a set of 1 to 24 blocks (the 16- and
 * 8-block paths and the short tail), then the 1,000,000-fold encryption in all 16 positions
 * of the widest path at once. */
Test(kat, sm4_gbt32907)
{
	static const uint8_t key[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
	static const uint8_t once[16] = {0x68, 0x1e, 0xdf, 0x34, 0xd2, 0x06, 0x96, 0x5e,
					 0x86, 0xb3, 0xe9, 0x4f, 0x53, 0x6e, 0x42, 0x46};
	static const uint8_t million[16] = {0x59, 0x52, 0x98, 0xc7, 0xc6, 0xfd, 0x27, 0x1f,
					    0x04, 0x02, 0xf8, 0x04, 0xc3, 0x3d, 0x3f, 0x66};
	struct ecfs_sm4_key enc, dec;
	uint8_t buf[24 * 16];
	size_t tested = 0;

	ecfs_sm4_expand(key, &enc, &dec);
	for (const struct ecfs_sm4_impl *m = ecfs_sm4_impls; m->name; m++) {
		if (!m->usable())
			continue;
		for (size_t n = 1; n <= 24; n++) {
			for (size_t i = 0; i < n; i++)
				memcpy(buf + 16 * i, key, 16);
			m->blocks(&enc, buf, buf, n);
			for (size_t i = 0; i < n; i++)
				cr_assert_arr_eq(buf + 16 * i, once, 16, "%s: block %zu of %zu",
						 m->name, i, n);
			m->blocks(&dec, buf, buf, n);
			for (size_t i = 0; i < n; i++)
				cr_assert_arr_eq(buf + 16 * i, key, 16, "%s: decrypting %zu of %zu",
						 m->name, i, n);
		}
		for (size_t i = 0; i < 16; i++)
			memcpy(buf + 16 * i, key, 16);
		for (int r = 0; r < 1000000; r++)
			m->blocks(&enc, buf, buf, 16);
		for (size_t i = 0; i < 16; i++)
			cr_assert_arr_eq(buf + 16 * i, million, 16, "%s: 10^6-fold, block %zu",
					 m->name, i);
		tested++;
	}
	cr_log_info("SM4 (GB/T 32907-2016): %zu implementations checked", tested);
}

Test(kat, xts_refuses_bad_keys_and_lengths)
{
	uint8_t key[64] = {0}, buf[16] = {0}, tw[16] = {0};
	struct ecfs_xts *x = (struct ecfs_xts *)1;

	/* Equal halves, for each key size, including a non-zero key. */
	memset(key, 0x5c, sizeof(key));
	cr_assert_eq(ecfs_xts_new(ECFS_BC_AES, key, 32, &x), -EINVAL);
	cr_assert_null(x);
	cr_assert_eq(ecfs_xts_new(ECFS_BC_AES, key, 64, &x), -EINVAL);
	cr_assert_eq(ecfs_xts_new(ECFS_BC_SM4, key, 32, &x), -EINVAL);
	/* Differing only in the last byte is fine. */
	key[31] ^= 1;
	cr_assert_eq(ecfs_xts_new(ECFS_BC_AES, key, 32, &x), 0);
	cr_assert_eq(ecfs_xts_encrypt(x, tw, buf, buf, 15), -EINVAL);
	cr_assert_eq(ecfs_xts_decrypt(x, tw, buf, buf, 0), -EINVAL);
	ecfs_xts_free(x);
	cr_assert_eq(ecfs_xts_new(ECFS_BC_AES, key, 48, &x), -EINVAL);
	cr_assert_eq(ecfs_xts_new(ECFS_BC_SM4, key, 64, &x), -EINVAL);
	cr_assert_eq(ecfs_xts_new(ECFS_BC_AES, key, 33, &x), -EINVAL);
}

/* Runs OpenSSL's own AES-XTS over one unit, as an independent reference. */
static void native_xts(const uint8_t *key, size_t key_len, const uint8_t tw[16], const uint8_t *in,
		       uint8_t *out, size_t len, int enc)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, key_len == 32 ? "AES-128-XTS" : "AES-256-XTS", NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n;

	cr_assert(c && ctx);
	cr_assert_eq(EVP_CipherInit_ex2(ctx, c, key, tw, enc, NULL), 1);
	cr_assert_eq(EVP_CipherUpdate(ctx, out, &n, in, (int)len), 1);
	cr_assert_eq((size_t)n, len);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
}

/* The two single-block helpers are plain ECB under K2 and K1. */
static void check_block_helpers(struct ecfs_xts *x, const uint8_t *key, size_t key_len,
				const uint8_t tw[16])
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, key_len == 32 ? "AES-128-ECB" : "AES-256-ECB", NULL);
	EVP_CIPHER_CTX *ecb = EVP_CIPHER_CTX_new();
	uint8_t blk[16], want[16];
	int n;

	cr_assert(ecb && c);
	cr_assert_eq(ecfs_xts_encrypt_tweak(x, tw, blk), 0);
	cr_assert_eq(EVP_EncryptInit_ex2(ecb, c, key + key_len / 2, NULL, NULL), 1);
	cr_assert_eq(EVP_EncryptUpdate(ecb, want, &n, tw, 16), 1);
	cr_assert_arr_eq(blk, want, 16, "E_K2(tweak)");
	cr_assert_eq(ecfs_xts_encrypt_block_k1(x, tw, blk), 0);
	cr_assert_eq(EVP_EncryptInit_ex2(ecb, c, key, NULL, NULL), 1);
	cr_assert_eq(EVP_EncryptUpdate(ecb, want, &n, tw, 16), 1);
	cr_assert_arr_eq(blk, want, 16, "E_K1(block)");
	EVP_CIPHER_CTX_free(ecb);
	EVP_CIPHER_free(c);
}

Test(kat, aes_xts_matches_openssl_native)
{
	static const size_t lens[] = {16,   17,	   31,	    32,	     33,     47,    48,
				      100,  255,   4095,    4096,    4097,   16384, 16399,
				      1024, 65536, 1048576, 1048575, 1048561};
	static const size_t key_lens[] = {32, 64};
	const size_t max = 1048576;
	uint8_t *pt = xmalloc(max), *ct = xmalloc(max), *ref = xmalloc(max);
	uint8_t key[64], tw[16];
	size_t checked = 0;
	struct ecfs_xts *x;

	random_bytes(pt, max);
	for (size_t k = 0; k < ECFS_ARRAY_SIZE(key_lens); k++) {
		random_bytes(key, sizeof(key));
		cr_assert_eq(ecfs_xts_new(ECFS_BC_AES, key, key_lens[k], &x), 0);
		/* One object for all lengths: the scratch buffer grows and shrinks in use. */
		for (size_t i = 0; i < ECFS_ARRAY_SIZE(lens); i++, checked++) {
			size_t len = lens[i];

			random_bytes(tw, sizeof(tw));
			native_xts(key, key_lens[k], tw, pt, ref, len, 1);
			cr_assert_eq(ecfs_xts_encrypt(x, tw, pt, ct, len), 0);
			cr_assert_arr_eq(ct, ref, len, "key %zu len %zu", key_lens[k], len);
			cr_assert_eq(ecfs_xts_decrypt(x, tw, ct, ct, len), 0);
			cr_assert_arr_eq(ct, pt, len, "key %zu len %zu: round trip", key_lens[k],
					 len);
		}
		check_block_helpers(x, key, key_lens[k], tw);
		ecfs_xts_free(x);
	}
	cr_log_info("AES-XTS vs OpenSSL native: %zu units checked", checked);
	free(pt), free(ct), free(ref);
}

/* ---- SIV ------------------------------------------------------------------------------- */

/* Encrypts and decrypts one SIV vector; output is V || C. */
static void siv_check(enum ecfs_block_cipher bc, const uint8_t *key, size_t key_len,
		      const struct ecfs_iov *ad, size_t nad, const uint8_t *pt, size_t len,
		      const uint8_t *want, const char *what)
{
	uint8_t *out = xmalloc(len + 16), *back = xmalloc(len);
	struct ecfs_siv *s;

	cr_assert_eq(ecfs_siv_new(bc, key, key_len, &s), 0, "%s", what);
	cr_assert_eq(ecfs_siv_encrypt(s, ad, nad, pt, len, out), 0, "%s", what);
	cr_assert_arr_eq(out, want, len + 16, "%s: wrong output", what);
	cr_assert_eq(ecfs_siv_decrypt(s, ad, nad, want, len + 16, back), 0, "%s", what);
	cr_assert_arr_eq(back, pt, len, "%s: wrong plaintext", what);
	ecfs_siv_free(s);
	free(out), free(back);
}

/* Independent S2V + CTR straight from the RFC on raw OpenSSL calls, for checking SM4-SIV. */
static void ref_dbl(uint8_t b[16])
{
	uint8_t top = b[0] & 0x80;

	for (int i = 0; i < 15; i++)
		b[i] = (uint8_t)((b[i] << 1) | (b[i + 1] >> 7));
	b[15] = (uint8_t)(b[15] << 1);
	if (top)
		b[15] ^= 0x87;
}

static void ref_cmac(const char *cbc, const uint8_t *key, const uint8_t *m, size_t len,
		     uint8_t out[16])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM p[] = {OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)cbc, 0),
			  OSSL_PARAM_END};
	size_t n;

	cr_assert_not_null(ctx);
	cr_assert_eq(EVP_MAC_init(ctx, key, 16, p), 1);
	cr_assert_eq(EVP_MAC_update(ctx, m, len), 1);
	cr_assert_eq(EVP_MAC_final(ctx, out, &n, 16), 1);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

/* 128-bit-key SIV (AES-128 or SM4): out = V || C. */
static void ref_siv(const char *cbc, const char *ctr, const uint8_t key[32],
		    const struct ecfs_iov *ad, size_t nad, const uint8_t *pt, size_t len,
		    uint8_t *out)
{
	uint8_t d[16], t[16], q[16], *last = xmalloc(len > 16 ? len : 16);
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, ctr, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n;

	memset(t, 0, 16);
	ref_cmac(cbc, key, t, 16, d);
	for (size_t i = 0; i < nad; i++) {
		ref_dbl(d);
		ref_cmac(cbc, key, ad[i].base, ad[i].len, t);
		for (int j = 0; j < 16; j++)
			d[j] ^= t[j];
	}
	if (len >= 16) {
		memcpy(last, pt, len);
		for (int j = 0; j < 16; j++)
			last[len - 16 + j] ^= d[j];
		ref_cmac(cbc, key, last, len, out);
	} else {
		ref_dbl(d);
		memset(last, 0, 16);
		memcpy(last, pt, len);
		last[len] = 0x80;
		for (int j = 0; j < 16; j++)
			last[j] ^= d[j];
		ref_cmac(cbc, key, last, 16, out);
	}
	memcpy(q, out, 16);
	q[8] &= 0x7f;
	q[12] &= 0x7f;
	cr_assert(c && ctx);
	cr_assert_eq(EVP_EncryptInit_ex2(ctx, c, key + 16, q, NULL), 1);
	cr_assert_eq(EVP_EncryptUpdate(ctx, out + 16, &n, pt, (int)len), 1);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
	free(last);
}

/* Collects the AD components of an RFC 5297 section: AD, AD1, AD2, ..., then Nonce. */
static size_t rfc_ads(const struct stanza *st, struct ecfs_iov *ad, uint8_t **bufs)
{
	size_t nad = 0, len;

	for (size_t i = 0; i < st->n; i++) {
		const char *k = st->kv[i].key;

		if (!strncmp(k, "AD", 2) && strlen(k) <= 3) {
			bufs[nad] = unhex(st->kv[i].val, &len);
			ad[nad] = (struct ecfs_iov){bufs[nad], len};
			nad++;
		}
	}
	if (st_get(st, "Nonce")) {
		bufs[nad] = st_hex(st, "Nonce", &len);
		ad[nad] = (struct ecfs_iov){bufs[nad], len};
		nad++;
	}
	return nad;
}

Test(kat, aes_siv_rfc5297)
{
	struct stanzas f;
	size_t checked = 0;

	stanzas_load("rfc/rfc5297_aes_siv.txt", &f);
	for (size_t i = 0; i < f.n; i++) {
		const struct stanza *st = &f.s[i];
		size_t key_len, pt_len, out_len, nad;
		uint8_t *bufs[8], *key, *pt, *want, *ref;
		struct ecfs_iov ad[8];
		const char *sec = st_get(st, "Section");

		if (!sec || !st_get(st, "output"))
			continue;
		key = st_hex(st, "Key", &key_len);
		pt = st_hex(st, "Plaintext", &pt_len);
		want = st_hex(st, "output", &out_len);
		nad = rfc_ads(st, ad, bufs);
		cr_assert(nad >= 1 && out_len == pt_len + 16, "%s", sec);
		siv_check(ECFS_BC_AES, key, key_len, ad, nad, pt, pt_len, want, sec);
		/* The test's own reference must agree too, before it is trusted for SM4. */
		ref = xmalloc(out_len);
		ref_siv("AES-128-CBC", "AES-128-CTR", key, ad, nad, pt, pt_len, ref);
		cr_assert_arr_eq(ref, want, out_len, "%s: test reference is wrong", sec);
		for (size_t j = 0; j < nad; j++)
			free(bufs[j]);
		free(key), free(pt), free(want), free(ref);
		checked++;
	}
	stanzas_free(&f);
	cr_log_info("AES-SIV (RFC 5297 A.1, A.2): %zu vectors checked", checked);
	cr_assert_eq(checked, 2);
}

static void siv_wp_one(json_object *g, json_object *t, void *arg)
{
	struct tally *c = arg;
	size_t key_len, aad_len, msg_len, ct_len;
	uint8_t *key = jhex(t, "key", &key_len), *aad = jhex(t, "aad", &aad_len);
	uint8_t *msg = jhex(t, "msg", &msg_len), *ct = jhex(t, "ct", &ct_len);
	struct ecfs_iov ad = {aad, aad_len};
	struct ecfs_siv *s = NULL;
	uint8_t *out;
	char what[32];

	snprintf(what, sizeof(what), "tcId %d", jint(t, "tcId"));
	if (jint(g, "keySize") == 384) {
		/* AES-192-SIV: the library supports 2 x AES-128 and 2 x AES-256 only. */
		cr_assert_eq(ecfs_siv_new(ECFS_BC_AES, key, key_len, &s), -EINVAL, "%s", what);
		c->skipped++;
	} else if (wp_valid(t)) {
		cr_assert_eq(ct_len, msg_len + 16, "%s", what);
		siv_check(ECFS_BC_AES, key, key_len, &ad, 1, msg, msg_len, ct, what);
		c->valid++;
	} else {
		out = xmalloc(ct_len);
		memset(out, 0xa5, ct_len);
		cr_assert_eq(ecfs_siv_new(ECFS_BC_AES, key, key_len, &s), 0, "%s", what);
		cr_assert_eq(ecfs_siv_decrypt(s, &ad, 1, ct, ct_len, out), -EBADMSG, "%s", what);
		cr_assert(all_zero(out, ct_len - 16), "%s: output not wiped", what);
		ecfs_siv_free(s);
		free(out);
		c->invalid++;
	}
	free(key), free(aad), free(msg), free(ct);
}

Test(kat, aes_siv_wycheproof)
{
	struct tally c = {0};
	size_t n = wp_each("wycheproof/aes_siv_cmac_test.json", siv_wp_one, &c);

	cr_log_info("AES-SIV (Wycheproof): %zu vectors, %zu valid both ways, %zu invalid "
		    "rejected, %zu AES-192 refused",
		    n, c.valid, c.invalid, c.skipped);
	cr_assert_eq(c.valid, 79);
	cr_assert_eq(c.invalid, 216);
	cr_assert_eq(c.skipped, 147);
}

Test(kat, sm4_siv_reference_roundtrip_tamper)
{
	uint8_t key[32], pt[80], adbuf[3][20], out[96], back[80], ref[96];
	struct ecfs_iov ad[9];
	struct ecfs_siv *s;
	size_t checked = 0;

	random_bytes(key, sizeof(key));
	random_bytes(pt, sizeof(pt));
	random_bytes(adbuf, sizeof(adbuf));
	for (int i = 0; i < 3; i++)
		ad[i] = (struct ecfs_iov){adbuf[i], (size_t)(i * 9)}; /* lengths 0, 9, 18 */
	/* One object for every call: state must not carry over between messages. */
	cr_assert_eq(ecfs_siv_new(ECFS_BC_SM4, key, 32, &s), 0);
	for (size_t len = 0; len <= sizeof(pt); len++) {
		size_t nad = len % 4;

		cr_assert_eq(ecfs_siv_encrypt(s, ad, nad, pt, len, out), 0);
		ref_siv("SM4-CBC", "SM4-CTR", key, ad, nad, pt, len, ref);
		cr_assert_arr_eq(out, ref, len + 16, "len %zu: differs from CMAC-SM4 reference",
				 len);
		cr_assert_eq(ecfs_siv_decrypt(s, ad, nad, out, len + 16, back), 0);
		cr_assert_arr_eq(back, pt, len);
		/* A flipped bit anywhere in V or C must fail, and leave nothing behind. */
		for (size_t bit = 0; bit < (len + 16) * 8; bit += 7) {
			out[bit / 8] ^= (uint8_t)(1u << bit % 8);
			memset(back, 0xa5, sizeof(back));
			cr_assert_eq(ecfs_siv_decrypt(s, ad, nad, out, len + 16, back), -EBADMSG,
				     "len %zu bit %zu", len, bit);
			cr_assert(all_zero(back, len));
			out[bit / 8] ^= (uint8_t)(1u << bit % 8);
		}
		/* So must changed associated data. */
		if (nad > 1) {
			adbuf[1][0] ^= 1;
			cr_assert_eq(ecfs_siv_decrypt(s, ad, nad, out, len + 16, back), -EBADMSG);
			adbuf[1][0] ^= 1;
		}
		checked++;
	}
	for (int i = 0; i < 9; i++)
		ad[i] = (struct ecfs_iov){NULL, 0};
	cr_assert_eq(ecfs_siv_encrypt(s, ad, 8, pt, 16, out), 0);
	cr_assert_eq(ecfs_siv_encrypt(s, ad, 9, pt, 16, out), -EINVAL);
	cr_assert_eq(ecfs_siv_decrypt(s, ad, 0, out, 15, back), -EINVAL);
	ecfs_siv_free(s);
	cr_assert_eq(ecfs_siv_new(ECFS_BC_SM4, key, 64, &s), -EINVAL);
	cr_log_info("SM4-SIV: %zu lengths matched the reference and resisted tampering", checked);
	cr_assert_eq(checked, 81);
}

/* ---- Argon2id --------------------------------------------------------------------------- */

Test(kat, argon2id_rfc9106_via_libargon2)
{
	size_t pw_len, salt_len, secret_len, ad_len, tag_len;
	struct stanzas f;
	uint8_t *pw, *salt, *secret, *ad, *tag, out[32];
	argon2_context ctx;

	stanzas_load("argon2/argon2id_rfc9106.txt", &f);
	cr_assert_str_eq(file_get(&f, "type"), "Argon2id");
	cr_assert_eq(strtoul(file_get(&f, "version"), NULL, 0), 0x13);
	pw = unhex(file_get(&f, "password"), &pw_len);
	salt = unhex(file_get(&f, "salt"), &salt_len);
	secret = unhex(file_get(&f, "secret"), &secret_len);
	ad = unhex(file_get(&f, "ad"), &ad_len);
	tag = unhex(file_get(&f, "tag"), &tag_len);
	cr_assert_eq(tag_len, sizeof(out));
	/* Our wrapper has no secret or AD, so this checks the library it wraps. */
	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	ctx.outlen = (uint32_t)tag_len;
	ctx.pwd = pw;
	ctx.pwdlen = (uint32_t)pw_len;
	ctx.salt = salt;
	ctx.saltlen = (uint32_t)salt_len;
	ctx.secret = secret;
	ctx.secretlen = (uint32_t)secret_len;
	ctx.ad = ad;
	ctx.adlen = (uint32_t)ad_len;
	ctx.t_cost = (uint32_t)strtoul(file_get(&f, "passes"), NULL, 10);
	ctx.m_cost = (uint32_t)strtoul(file_get(&f, "memory_kib"), NULL, 10);
	ctx.lanes = ctx.threads = (uint32_t)strtoul(file_get(&f, "lanes"), NULL, 10);
	ctx.version = ARGON2_VERSION_13;
	ctx.flags = ARGON2_DEFAULT_FLAGS;
	cr_assert_eq(argon2_ctx(&ctx, Argon2_id), ARGON2_OK);
	cr_assert_arr_eq(out, tag, tag_len, "RFC 9106 tag mismatch");
	free(pw), free(salt), free(secret), free(ad), free(tag);
	stanzas_free(&f);
	cr_log_info("Argon2id RFC 9106 5.3: 1 vector checked through argon2_ctx");
}

Test(kat, argon2id_phc_reference_wrapper, .timeout = 120)
{
	char path[4096], *line = NULL, pw[64], salt[64], taghex[65];
	size_t cap = 0, checked = 0, skipped = 0, tag_len;
	unsigned int t, m, p;
	uint8_t out[32], *tag;
	FILE *fp;

	vec_path(path, sizeof(path), "argon2/argon2id_phc_reference_tests.txt");
	fp = fopen(path, "r");
	cr_assert_not_null(fp, "cannot open %s", path);
	while (getline(&line, &cap, fp) >= 0) {
		struct ecfs_argon2_params ap;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		cr_assert_eq(sscanf(line, "%u %u %u %63s %63s %64s", &t, &m, &p, pw, salt, taghex),
			     6, "bad line: %s", line);
		if (m > 64 * 1024) {
			skipped++; /* more memory than a unit test should take */
			continue;
		}
		ap = (struct ecfs_argon2_params){t, m, p};
		tag = unhex(taghex, &tag_len);
		cr_assert_eq(tag_len, sizeof(out));
		cr_assert_eq(ecfs_argon2id((uint8_t *)pw, strlen(pw), (uint8_t *)salt, strlen(salt),
					   &ap, out, sizeof(out)),
			     0);
		cr_assert_arr_eq(out, tag, sizeof(out), "t=%u m=%u p=%u %s %s", t, m, p, pw, salt);
		free(tag);
		checked++;
	}
	free(line);
	fclose(fp);
	cr_log_info("Argon2id (PHC reference): %zu vectors checked, %zu over 64 MiB skipped",
		    checked, skipped);
	cr_assert_eq(checked, 7);
	cr_assert_eq(skipped, 1);
}

Test(kat, argon2id_errors)
{
	struct ecfs_argon2_params ap = {1, 64, 1};
	uint8_t out[32];

	/* libargon2 needs a salt of at least 8 bytes and 8 KiB per lane. */
	cr_assert_eq(ecfs_argon2id((const uint8_t *)"pw", 2, (const uint8_t *)"salt", 4, &ap, out,
				   sizeof(out)),
		     -EINVAL);
	cr_assert(all_zero(out, sizeof(out)));
	ap = (struct ecfs_argon2_params){1, 4, 1};
	cr_assert_eq(ecfs_argon2id((const uint8_t *)"pw", 2, (const uint8_t *)"saltsalt", 8, &ap,
				   out, sizeof(out)),
		     -EINVAL);
}

/* ---- base64 ----------------------------------------------------------------------------- */

/* OpenSSL's encoder, turned into base64url without padding, as a reference. */
static size_t ref_b64(const uint8_t *in, size_t len, char *out, int url)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);

	for (int i = 0; url && i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
		else if (out[i] == '=')
			out[n = i] = '\0';
	}
	return (size_t)n;
}

Test(kat, b64_round_trips)
{
	uint8_t in[64], back[64];
	char enc[100], ref[100];
	size_t n;

	for (size_t len = 0; len <= 64; len++) {
		random_bytes(in, sizeof(in));
		n = ecfs_b64url_encode(in, len, enc);
		cr_assert_eq(n, ecfs_b64_encoded_len(len));
		cr_assert_eq(strlen(enc), n);
		cr_assert_eq(ref_b64(in, len, ref, 1), n);
		cr_assert_str_eq(enc, ref, "url len %zu", len);
		cr_assert_eq(ecfs_b64url_decode(enc, n, back, len), (int)len);
		cr_assert_arr_eq(back, in, len);
		if (len)
			cr_assert_eq(ecfs_b64url_decode(enc, n, back, len - 1), -EINVAL);

		n = ecfs_b64_encode(in, len, enc);
		cr_assert_eq(n, (len + 2) / 3 * 4);
		cr_assert_eq(ref_b64(in, len, ref, 0), n);
		cr_assert_str_eq(enc, ref, "std len %zu", len);
		cr_assert_eq(ecfs_b64_decode(enc, n, back, len), (int)len);
		cr_assert_arr_eq(back, in, len);
	}
	/* RFC 4648 section 10. */
	cr_assert_eq(ecfs_b64_encode((const uint8_t *)"foobar", 6, enc), 8);
	cr_assert_str_eq(enc, "Zm9vYmFy");
	cr_assert_eq(ecfs_b64_encode((const uint8_t *)"fooba", 5, enc), 8);
	cr_assert_str_eq(enc, "Zm9vYmE=");
	cr_assert_eq(ecfs_b64url_encode((const uint8_t *)"foob", 4, enc), 6);
	cr_assert_str_eq(enc, "Zm9vYg");
	cr_assert_eq(ecfs_b64url_encode((const uint8_t *)"\xfb\xff", 2, enc), 3);
	cr_assert_str_eq(enc, "-_8");
}

Test(kat, b64_rejects_bad_input)
{
	/* Bad length, padding, characters of the other alphabet, spaces, and non-zero unused
	 * bits ("Zh", "Zm9", "-_9" are one bit off the canonical "Zg", "Zm8", "-_8"). */
	static const char *const bad_url[] = {
	    "A",    "AAAAA", "Zg=",   "Zg==", "Zh",	  "Zm9=",  "Zm9", "Zm+v",
	    "Zm/v", "Zm v",  "Zm\nv", "Zm.v", "Zm9vYmE=", "Zm9vY", "-_9",
	};
	static const char *const bad_std[] = {
	    "A",    "AA",   "AAA",  "AAAAA", "Zh==",	 "Zm9=",   "Zm-v",
	    "Zm_v", "Z===", "====", "Zg=A",  "Zg==Zg==", "Zm9v\n", "Zm 9v",
	};
	uint8_t out[16];

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad_url); i++)
		cr_assert_eq(ecfs_b64url_decode(bad_url[i], strlen(bad_url[i]), out, sizeof(out)),
			     -EINVAL, "accepted url \"%s\"", bad_url[i]);
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad_std); i++)
		cr_assert_eq(ecfs_b64_decode(bad_std[i], strlen(bad_std[i]), out, sizeof(out)),
			     -EINVAL, "accepted std \"%s\"", bad_std[i]);
	/* An embedded NUL is just another bad character. */
	cr_assert_eq(ecfs_b64url_decode("AAA\0", 4, out, sizeof(out)), -EINVAL);
	cr_assert_eq(ecfs_b64_decode("AA\0=", 4, out, sizeof(out)), -EINVAL);
	/* The canonical spellings of the same bytes are accepted. */
	cr_assert_eq(ecfs_b64url_decode("Zg", 2, out, sizeof(out)), 1);
	cr_assert_eq(ecfs_b64url_decode("Zm8", 3, out, sizeof(out)), 2);
	cr_assert_eq(ecfs_b64url_decode("-_8", 3, out, sizeof(out)), 2);
	cr_assert_eq(ecfs_b64_decode("Zg==", 4, out, sizeof(out)), 1);
	cr_assert_eq(ecfs_b64_decode("", 0, out, 0), 0);
	cr_assert_eq(ecfs_b64url_decode("", 0, out, 0), 0);
}
