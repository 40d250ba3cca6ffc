/* test_volume.c - volume create/open/unlock, header damage and recovery, atomic-write faults. */
#include <criterion/criterion.h>

#include "fault_helpers.h"
#include "tmpdir_helpers.h"
#include "secret_helpers.h"
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PREFIX	      112 /* bytes before the JSON area */
#define OFF_VERSION   8
#define OFF_JSON_SIZE 12
#define OFF_CHECKSUM  80

static const enum ecfs_cipher ciphers[] = {ECFS_CIPHER_AES256_GCM, ECFS_CIPHER_AES256_XTS,
					   ECFS_CIPHER_AES128_XTS, ECFS_CIPHER_SM4_XTS};

/* ---- fixture: a scratch directory and a few keys ------------------------------------- */

static char tmp[64];
static char vol[256]; /* the volume directory under tmp */
static struct ecfs_secret *key_a, *key_b, *key_c, *pass_a, *pass_b;
static struct ecfs_credential KA, KB, KC, PA, PB;

static struct ecfs_credential cred(enum ecfs_slot_type t, const struct ecfs_secret *s,
				   const char *origin)
{
	return (struct ecfs_credential){.type = t, .secret = s, .origin = origin};
}

static void set_vol(const char *sub)
{
	snprintf(vol, sizeof(vol), "%s/%s", tmp, sub);
}

static void setup(void)
{
	tmpdir_make(tmp, sizeof(tmp), "volume");
	set_vol("vol");
	key_a = key_secret(1);
	key_b = key_secret(2);
	key_c = key_secret(3);
	pass_a = secret_of("correct horse", 13);
	pass_b = secret_of("battery staple", 14);
	KA = cred(ECFS_SLOT_KEYFILE, key_a, "key A");
	KB = cred(ECFS_SLOT_KEYFILE, key_b, "key B");
	KC = cred(ECFS_SLOT_KEYFILE, key_c, "key C");
	PA = cred(ECFS_SLOT_PASSPHRASE, pass_a, "passphrase A");
	PB = cred(ECFS_SLOT_PASSPHRASE, pass_b, "passphrase B");
}

static void teardown(void)
{
	ecfs_secret_free(key_a);
	ecfs_secret_free(key_b);
	ecfs_secret_free(key_c);
	ecfs_secret_free(pass_a);
	ecfs_secret_free(pass_b);
	tmpdir_remove(tmp);
}

TestSuite(volume, .init = setup, .fini = teardown);

/* ---- helpers: volumes ------------------------------------------------------------------ */

static struct ecfs_create_params fast_params(enum ecfs_cipher c, uint32_t chunk, const char *label)
{
	return (struct ecfs_create_params){
	    .cipher = c, .chunk_size = chunk, .label = label, .argon2 = {1, 8192, 1}};
}

/* Chunk size 16384, which the JSON edits below change to 4096. */
static void make_volume(enum ecfs_cipher c, const struct ecfs_credential *creds, size_t n)
{
	struct ecfs_create_params p = fast_params(c, 16384, NULL);
	struct ecfs_volume *v = NULL;
	int r = ecfs_volume_create(vol, &p, creds, n, &v);

	cr_assert_eq(r, 0, "create %s: %d (%s)", vol, r, ecfs_last_error());
	ecfs_volume_close(v);
}

static struct ecfs_volume *open_ok(void)
{
	struct ecfs_volume *v = NULL;
	int r = ecfs_volume_open(vol, &v);

	cr_assert_eq(r, 0, "open %s: %d (%s)", vol, r, ecfs_last_error());
	return v;
}

static int open_rc(void)
{
	struct ecfs_volume *v = NULL;
	int r = ecfs_volume_open(vol, &v);

	if (r == 0)
		ecfs_volume_close(v);
	return r;
}

static struct ecfs_volume *open_unlock(const struct ecfs_credential *c, int want_slot)
{
	struct ecfs_volume *v = open_ok();
	int slot = -2, r = ecfs_volume_unlock(v, c, 1, &slot);

	cr_assert_eq(r, 0, "unlock %s with %s: %d (%s)", vol, c->origin, r, ecfs_last_error());
	cr_assert_eq(slot, want_slot);
	return v;
}

static struct ecfs_volume_info info_of(const struct ecfs_volume *v)
{
	struct ecfs_volume_info i;

	ecfs_volume_get_info(v, &i);
	return i;
}

/* ---- helpers: header files ----------------------------------------------------------- */

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", vol, name);
}

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	struct stat st;
	uint8_t *p;
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_RDONLY);
	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	cr_assert_not_null(p);
	cr_assert_eq(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void spit(const char *name, const void *buf, size_t len)
{
	char path[512];
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void remove_file(const char *name)
{
	char path[512];

	path_of(path, sizeof(path), name);
	cr_assert_eq(unlink(path), 0, "unlink %s: %s", path, strerror(errno));
}

static bool file_exists(const char *name)
{
	char path[512];

	path_of(path, sizeof(path), name);
	return access(path, F_OK) == 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Recomputes the SHA-256 checksum: over the whole file with the checksum field zeroed. */
static void fix_checksum(uint8_t *buf, size_t len)
{
	uint8_t sum[32];

	memset(buf + OFF_CHECKSUM, 0, 32);
	cr_assert_eq(ecfs_sha256(buf, len, sum), 0);
	memcpy(buf + OFF_CHECKSUM, sum, 32);
}

static void flip_byte(const char *name, size_t off, bool checksum)
{
	size_t len;
	uint8_t *buf = slurp(name, &len);

	cr_assert(off < len);
	buf[off] ^= 0x01;
	if (checksum)
		fix_checksum(buf, len);
	spit(name, buf, len);
	free(buf);
}

static void truncate_file(const char *name, size_t len)
{
	char path[512];

	path_of(path, sizeof(path), name);
	cr_assert_eq(truncate(path, (off_t)len), 0);
}

static bool files_equal(const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *pa = slurp(a, &la), *pb = slurp(b, &lb);
	bool eq = la == lb && memcmp(pa, pb, la) == 0;

	free(pa);
	free(pb);
	return eq;
}

/* No temporary file of an atomic write is left behind in the volume directory. */
static void assert_no_tmp_files(void)
{
	DIR *d = opendir(vol);
	struct dirent *e;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		cr_assert(strncmp(e->d_name, ECFS_TMP_PREFIX, strlen(ECFS_TMP_PREFIX)) != 0,
			  "left behind: %s", e->d_name);
	closedir(d);
}

/* ---- helpers: JSON edits with a recomputed size and checksum --------------------------- */

typedef void (*json_edit_fn)(json_object *root);

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "missing JSON field '%s'", key);
	return v;
}

/* Rewrites the JSON area of a header file the way the library writes it, after fn edits it. */
static void edit_json(const char *name, json_edit_fn fn)
{
	size_t len, jlen;
	uint8_t *buf = slurp(name, &len), *out;
	json_tokener *tok = json_tokener_new();
	json_object *root;
	const char *text;

	cr_assert(len > PREFIX);
	root = json_tokener_parse_ex(tok, (const char *)buf + PREFIX, (int)(len - PREFIX));
	cr_assert_not_null(root, "the JSON area of %s does not parse", name);
	json_tokener_free(tok);
	fn(root);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	jlen = strlen(text);
	out = malloc(PREFIX + jlen);
	cr_assert_not_null(out);
	memcpy(out, buf, PREFIX);
	memcpy(out + PREFIX, text, jlen);
	put_be32(out + OFF_JSON_SIZE, (uint32_t)jlen);
	fix_checksum(out, PREFIX + jlen);
	spit(name, out, PREFIX + jlen);
	json_object_put(root);
	free(out);
	free(buf);
}

static void edit_both(json_edit_fn fn)
{
	edit_json(ECFS_HEADER_NAME, fn);
	edit_json(ECFS_HEADER_COPY_NAME, fn);
}

static void edit_nothing(json_object *root)
{
	(void)root;
}

static void edit_chunk_4096(json_object *root)
{
	cr_assert_eq(json_object_get_int64(jget(root, "chunk_size")), 16384);
	json_object_object_add(root, "chunk_size", json_object_new_int64(4096));
}

static void edit_cipher_xts(json_object *root)
{
	cr_assert_str_eq(json_object_get_string(jget(root, "cipher")), "aes-256-gcm");
	json_object_object_add(root, "cipher", json_object_new_string("aes-256-xts"));
}

static void edit_drop_slot_1(json_object *root)
{
	jget(jget(root, "slots"), "1");
	json_object_object_del(jget(root, "slots"), "1");
}

static void edit_incompat_zstd(json_object *root)
{
	json_object *a = json_object_new_array();

	json_object_array_add(a, json_object_new_string("zstd"));
	json_object_object_add(jget(root, "features"), "incompat", a);
}

static void edit_label_with_nul(json_object *root)
{
	json_object_object_add(root, "label", json_object_new_string_len("a\0b", 3));
}

static void edit_slot_type_unknown(json_object *root)
{
	json_object *slot = jget(jget(root, "slots"), "0");

	cr_assert_str_eq(json_object_get_string(jget(slot, "type")), "keyfile");
	json_object_object_add(slot, "type", json_object_new_string("fido2"));
}

/* Decodes a base64 field, flips one bit of byte at, re-encodes it. */
static void flip_b64_field(json_object *o, const char *key, size_t at)
{
	uint8_t bin[128];
	char text[256];
	const char *s = json_object_get_string(jget(o, key));
	int n = ecfs_b64_decode(s, strlen(s), bin, sizeof(bin));

	cr_assert(n > (int)at, "field '%s' decodes to %d bytes", key, n);
	bin[at] ^= 0x10;
	ecfs_b64_encode(bin, (size_t)n, text);
	json_object_object_add(o, key, json_object_new_string(text));
}

static void edit_flip_dek(json_object *root)
{
	flip_b64_field(jget(jget(jget(root, "slots"), "0"), "wrap"), "dek", 20);
}

static void edit_flip_canary(json_object *root)
{
	flip_b64_field(jget(root, "canary"), "data", 3);
}

/* ---- create, open, unlock for every cipher ---------------------------------------------- */

Test(volume, create_open_unlock_every_cipher)
{
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(ciphers); i++) {
		struct ecfs_volume *v;
		struct ecfs_volume_info info;
		int slot = -2, r;

		set_vol(ecfs_cipher_name(ciphers[i]));
		make_volume(ciphers[i], &KA, 1);
		v = open_ok();
		info = info_of(v);
		cr_assert_eq(info.cipher, ciphers[i]);
		cr_assert_not(info.unlocked);
		cr_assert_eq(info.unlocked_slot, -1);

		r = ecfs_volume_unlock(v, &KB, 1, &slot);
		cr_assert_eq(r, -EKEYREJECTED, "%s: wrong key gave %d", vol, r);
		cr_assert_eq(slot, -2, "slot set on failure");
		cr_assert(strstr(ecfs_last_error(), "wrong key"), "message: %s", ecfs_last_error());
		cr_assert(strstr(ecfs_last_error(), "key B"), "message: %s", ecfs_last_error());
		cr_assert_not(info_of(v).unlocked);

		r = ecfs_volume_unlock(v, &KA, 1, &slot);
		cr_assert_eq(r, 0, "%s: %d (%s)", vol, r, ecfs_last_error());
		cr_assert_eq(slot, 0);
		info = info_of(v);
		cr_assert(info.unlocked);
		cr_assert_eq(info.unlocked_slot, 0);
		cr_assert(info.header_mac_ok);
		ecfs_volume_close(v);
	}
}

Test(volume, wrong_type_and_empty_credentials_are_rejected)
{
	struct ecfs_credential as_pass = cred(ECFS_SLOT_PASSPHRASE, key_a, "key A as passphrase");
	struct ecfs_volume *v;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	v = open_ok();
	cr_assert_eq(ecfs_volume_unlock(v, &as_pass, 1, NULL), -EKEYREJECTED);
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 0, NULL), -EKEYREJECTED);
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0);
	ecfs_volume_close(v);
}

Test(volume, old_key_file_among_several)
{
	const struct ecfs_credential new_old[2] = {KC, KB};
	const struct ecfs_credential two[2] = {PA, KB};
	struct ecfs_volume *v;
	int slot = -2, r;

	/* One slot: the new key does not fit, the old one does. */
	set_vol("one");
	make_volume(ECFS_CIPHER_AES256_GCM, &KB, 1);
	v = open_ok();
	r = ecfs_volume_unlock(v, new_old, 2, &slot);
	cr_assert_eq(r, 0, "%d (%s)", r, ecfs_last_error());
	cr_assert_eq(slot, 0);
	ecfs_volume_close(v);

	/* Two slots (passphrase, old key file): the old key file's slot is returned. */
	set_vol("two");
	make_volume(ECFS_CIPHER_AES256_XTS, two, 2);
	v = open_ok();
	r = ecfs_volume_unlock(v, new_old, 2, &slot);
	cr_assert_eq(r, 0, "%d (%s)", r, ecfs_last_error());
	cr_assert_eq(slot, 1);
	cr_assert_eq(info_of(v).unlocked_slot, 1);
	ecfs_volume_close(v);

	/* Neither fits: "the keys given" in the message. */
	v = open_ok();
	r = ecfs_volume_unlock(v, (const struct ecfs_credential[]){KC, KA}, 2, &slot);
	cr_assert_eq(r, -EKEYREJECTED);
	cr_assert(strstr(ecfs_last_error(), "wrong key"), "message: %s", ecfs_last_error());
	ecfs_volume_close(v);
}

Test(volume, passphrase_slot_right_and_wrong)
{
	struct ecfs_volume *v;
	int slot = -2;

	make_volume(ECFS_CIPHER_SM4_XTS, &PA, 1);
	v = open_ok();
	cr_assert_eq(ecfs_volume_unlock(v, &PB, 1, &slot), -EKEYREJECTED);
	cr_assert(strstr(ecfs_last_error(), "wrong key"), "message: %s", ecfs_last_error());
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, &slot), -EKEYREJECTED);
	cr_assert_eq(ecfs_volume_unlock(v, &PA, 1, &slot), 0, "%s", ecfs_last_error());
	cr_assert_eq(slot, 0);
	ecfs_volume_close(v);
}

Test(volume, key_file_and_passphrase_slots_both_open)
{
	const struct ecfs_credential both[2] = {KA, PA};
	struct ecfs_volume *v;

	make_volume(ECFS_CIPHER_AES128_XTS, both, 2);
	v = open_unlock(&KA, 0);
	ecfs_volume_close(v);
	v = open_unlock(&PA, 1);
	ecfs_volume_close(v);
	v = open_ok();
	cr_assert_eq(ecfs_volume_unlock(v, &KB, 1, NULL), -EKEYREJECTED);
	cr_assert_eq(ecfs_volume_unlock(v, &PB, 1, NULL), -EKEYREJECTED);
	ecfs_volume_close(v);
}

Test(volume, info_round_trips)
{
	const struct ecfs_credential both[2] = {KA, PA};
	struct ecfs_create_params p = fast_params(ECFS_CIPHER_AES256_XTS, 65536, "my label");
	struct ecfs_volume *v = NULL;
	struct ecfs_volume_info made, info;
	time_t before = time(NULL);
	char uuid[37];
	const uint8_t *u;

	cr_assert_eq(ecfs_volume_create(vol, &p, both, 2, &v), 0, "%s", ecfs_last_error());
	made = info_of(v);
	cr_assert(made.unlocked);
	cr_assert_eq(made.unlocked_slot, 0);
	ecfs_volume_close(v);

	v = open_ok();
	info = info_of(v);
	cr_assert_str_eq(info.label, "my label");
	cr_assert_eq(info.format_version, ECFS_FORMAT_DEFAULT);
	cr_assert_eq(info.cipher, ECFS_CIPHER_AES256_XTS);
	cr_assert_eq(info.chunk_size, 65536);
	cr_assert_eq(memcmp(info.uuid, made.uuid, ECFS_UUID_SIZE), 0);
	u = info.uuid;
	snprintf(uuid, sizeof(uuid),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
	cr_assert_str_eq(info.uuid_str, uuid);
	cr_assert(info.created >= before && info.created <= time(NULL));
	cr_assert_eq(info.seqid, made.seqid);
	cr_assert(info.seqid >= 1);
	cr_assert_eq(info.nslots, 2);
	cr_assert_eq(info.slots[0].index, 0);
	cr_assert_eq(info.slots[0].type, ECFS_SLOT_KEYFILE);
	cr_assert_eq(info.slots[0].kek_generation, 1);
	cr_assert(info.slots[0].created >= before);
	cr_assert_eq(info.slots[1].index, 1);
	cr_assert_eq(info.slots[1].type, ECFS_SLOT_PASSPHRASE);
	cr_assert_eq(info.slots[1].kek_generation, 1);
	cr_assert_eq(info.slots[1].argon2.t_cost, 1);
	cr_assert_eq(info.slots[1].argon2.m_cost_kib, 8192);
	cr_assert_eq(info.slots[1].argon2.parallelism, 1);
	cr_assert_eq(info.primary_state, ECFS_HDR_OK);
	cr_assert_eq(info.copy_state, ECFS_HDR_OK);
	cr_assert_not(info.opened_from_copy);
	cr_assert_not(info.unlocked);
	cr_assert_eq(info.unlocked_slot, -1);
	cr_assert_not(info.header_mac_ok);
	cr_assert_eq(ecfs_volume_unlock(v, &PA, 1, NULL), 0);
	info = info_of(v);
	cr_assert(info.unlocked);
	cr_assert_eq(info.unlocked_slot, 1);
	cr_assert(info.header_mac_ok);
	ecfs_volume_close(v);
	cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME));
	cr_assert(file_exists(ECFS_DIR_ID_NAME));
}

Test(volume, label_of_64_bytes_is_kept)
{
	char label[65];
	struct ecfs_create_params p;
	struct ecfs_volume *v = NULL;

	memset(label, 'x', 64);
	label[64] = '\0';
	p = fast_params(ECFS_CIPHER_AES256_GCM, 4096, label);
	cr_assert_eq(ecfs_volume_create(vol, &p, &KA, 1, &v), 0, "%s", ecfs_last_error());
	ecfs_volume_close(v);
	v = open_ok();
	cr_assert_str_eq(info_of(v).label, label);
	cr_assert_eq(info_of(v).chunk_size, 4096);
	ecfs_volume_close(v);
}

/* ---- mkfs refusals ------------------------------------------------------------------------ */

static int try_create(const struct ecfs_create_params *p, const struct ecfs_credential *c, size_t n)
{
	struct ecfs_volume *v = NULL;
	int r = ecfs_volume_create(vol, p, c, n, &v);

	if (r == 0)
		ecfs_volume_close(v);
	else
		cr_assert_null(v);
	return r;
}

Test(volume, create_refuses_non_empty_dir_without_force)
{
	struct ecfs_create_params p = fast_params(ECFS_CIPHER_AES256_GCM, 0, NULL);
	size_t len;
	uint8_t *b;

	cr_assert_eq(mkdir(vol, 0700), 0);
	spit("user-file", "keep me", 7);
	cr_assert_eq(try_create(&p, &KA, 1), -ENOTEMPTY);
	cr_assert(strstr(ecfs_last_error(), "not empty"), "message: %s", ecfs_last_error());
	cr_assert_not(file_exists(ECFS_HEADER_NAME));
	cr_assert_not(file_exists(ECFS_DIR_ID_NAME));
	p.force = true;
	cr_assert_eq(try_create(&p, &KA, 1), 0, "%s", ecfs_last_error());
	b = slurp("user-file", &len);
	cr_assert_eq(len, 7);
	cr_assert_eq(memcmp(b, "keep me", 7), 0);
	free(b);
	ecfs_volume_close(open_unlock(&KA, 0));
}

Test(volume, create_refuses_existing_volume_even_with_force)
{
	struct ecfs_create_params p = fast_params(ECFS_CIPHER_AES256_GCM, 0, NULL);
	size_t len1, len2;
	uint8_t *before, *after;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	before = slurp(ECFS_HEADER_NAME, &len1);
	cr_assert_eq(try_create(&p, &KB, 1), -EEXIST);
	p.force = true;
	cr_assert_eq(try_create(&p, &KB, 1), -EEXIST);
	cr_assert(strstr(ecfs_last_error(), "already holds a volume"), "message: %s",
		  ecfs_last_error());
	/* Only the copy left: still a volume. */
	remove_file(ECFS_HEADER_NAME);
	cr_assert_eq(try_create(&p, &KB, 1), -EEXIST);
	spit(ECFS_HEADER_NAME, before, len1);
	after = slurp(ECFS_HEADER_NAME, &len2);
	cr_assert(len1 == len2 && memcmp(before, after, len1) == 0);
	free(before);
	free(after);
	ecfs_volume_close(open_unlock(&KA, 0));
}

Test(volume, create_refuses_bad_parameters)
{
	static const uint32_t bad_chunks[] = {3000, 4095,    4097,    12288,	  2048,
					      1024, 2097152, 1048577, 0x80000000u};
	struct ecfs_create_params p;
	char label[66];

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad_chunks); i++) {
		p = fast_params(ECFS_CIPHER_AES256_GCM, bad_chunks[i], NULL);
		cr_assert_eq(try_create(&p, &KA, 1), -EINVAL, "chunk size %u", bad_chunks[i]);
		cr_assert_not(file_exists(ECFS_HEADER_NAME));
	}
	memset(label, 'y', 65);
	label[65] = '\0';
	p = fast_params(ECFS_CIPHER_AES256_GCM, 0, label);
	cr_assert_eq(try_create(&p, &KA, 1), -EINVAL);
	p = fast_params((enum ecfs_cipher)99, 0, NULL);
	cr_assert_eq(try_create(&p, &KA, 1), -EINVAL);
	p = fast_params(ECFS_CIPHER_AES256_GCM, 0, NULL);
	cr_assert_eq(try_create(&p, &KA, 0), -EINVAL);
	cr_assert_not(file_exists(ECFS_HEADER_NAME));
	cr_assert_not(file_exists(ECFS_HEADER_COPY_NAME));
	/* Each refusal left the directory usable. */
	cr_assert_eq(try_create(&p, &KA, 1), 0, "%s", ecfs_last_error());
}

Test(volume, open_without_volume)
{
	cr_assert_eq(open_rc(), -ENOENT);
	cr_assert_eq(mkdir(vol, 0700), 0);
	cr_assert_eq(open_rc(), -ENOENT);
	cr_assert(strstr(ecfs_last_error(), "no envcryptfs volume"), "message: %s",
		  ecfs_last_error());
}

/* ---- damaged copies: the checksum catches it, the other copy is used --------------------- */

struct saved {
	uint8_t *primary, *copy;
	size_t plen, clen;
};

static struct saved save_headers(void)
{
	struct saved s;

	s.primary = slurp(ECFS_HEADER_NAME, &s.plen);
	s.copy = slurp(ECFS_HEADER_COPY_NAME, &s.clen);
	return s;
}

static void restore_headers(const struct saved *s)
{
	spit(ECFS_HEADER_NAME, s->primary, s->plen);
	spit(ECFS_HEADER_COPY_NAME, s->copy, s->clen);
}

static void free_saved(struct saved *s)
{
	free(s->primary);
	free(s->copy);
}

/* The primary is unusable (state want) and the copy serves: open, message, info, unlock. */
static void expect_from_copy(enum ecfs_header_state want, const char *what)
{
	struct ecfs_volume *v = NULL;
	struct ecfs_volume_info info;
	int r = ecfs_volume_open(vol, &v);

	cr_assert_eq(r, 0, "%s: open gave %d (%s)", what, r, ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "using the copy"), "%s: message: '%s'", what,
		  ecfs_last_error());
	info = info_of(v);
	cr_assert(info.opened_from_copy, "%s", what);
	cr_assert_eq(info.primary_state, want, "%s: primary state %d", what, info.primary_state);
	cr_assert_eq(info.copy_state, ECFS_HDR_OK, "%s: copy state %d", what, info.copy_state);
	r = ecfs_volume_unlock(v, &KA, 1, NULL);
	cr_assert_eq(r, 0, "%s: unlock gave %d (%s)", what, r, ecfs_last_error());
	ecfs_volume_close(v);
}

/* The copy is unusable and the primary serves. */
static void expect_from_primary(enum ecfs_header_state want, const char *what)
{
	struct ecfs_volume *v = NULL;
	struct ecfs_volume_info info;
	int r = ecfs_volume_open(vol, &v);

	cr_assert_eq(r, 0, "%s: open gave %d (%s)", what, r, ecfs_last_error());
	info = info_of(v);
	cr_assert_not(info.opened_from_copy, "%s", what);
	cr_assert_eq(info.primary_state, ECFS_HDR_OK, "%s", what);
	cr_assert_eq(info.copy_state, want, "%s: copy state %d", what, info.copy_state);
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0, "%s: %s", what, ecfs_last_error());
	ecfs_volume_close(v);
}

struct field {
	const char *name;
	size_t off, len;
	enum ecfs_header_state state; /* what a flipped byte makes of the copy */
};

/* A flip in the version field reads as an unknown version, which is checked first. */
static const struct field prefix_fields[] = {
    {"magic", 0, 8, ECFS_HDR_DAMAGED},	      {"version", 8, 2, ECFS_HDR_UNSUPPORTED},
    {"prefix size", 10, 2, ECFS_HDR_DAMAGED}, {"json size", 12, 4, ECFS_HDR_DAMAGED},
    {"seqid", 16, 8, ECFS_HDR_DAMAGED},	      {"uuid", 24, 16, ECFS_HDR_DAMAGED},
    {"reserved", 40, 8, ECFS_HDR_DAMAGED},    {"mac", 48, 32, ECFS_HDR_DAMAGED},
    {"checksum", 80, 32, ECFS_HDR_DAMAGED},
};

Test(volume, flipped_prefix_byte_uses_other_copy)
{
	struct saved s;
	char what[96];

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	s = save_headers();
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(prefix_fields); i++) {
		const struct field *f = &prefix_fields[i];
		size_t at[3] = {f->off, f->off + f->len / 2, f->off + f->len - 1};

		for (size_t j = 0; j < 3; j++) {
			snprintf(what, sizeof(what), "%s byte %zu", f->name, at[j]);
			restore_headers(&s);
			flip_byte(ECFS_HEADER_NAME, at[j], false);
			expect_from_copy(f->state, what);
			restore_headers(&s);
			flip_byte(ECFS_HEADER_COPY_NAME, at[j], false);
			expect_from_primary(f->state, what);
			restore_headers(&s);
			flip_byte(ECFS_HEADER_NAME, at[j], false);
			flip_byte(ECFS_HEADER_COPY_NAME, at[j], false);
			cr_assert_eq(open_rc(),
				     f->state == ECFS_HDR_UNSUPPORTED ? -EPROTONOSUPPORT : -EUCLEAN,
				     "%s in both copies", what);
		}
	}
	free_saved(&s);
}

Test(volume, flipped_json_byte_uses_other_copy)
{
	struct saved s;
	char what[64];
	size_t at[6];

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	s = save_headers();
	at[0] = PREFIX;
	at[1] = PREFIX + 1;
	at[2] = PREFIX + (s.plen - PREFIX) / 3;
	at[3] = PREFIX + (s.plen - PREFIX) / 2;
	at[4] = (size_t)((uint8_t *)memmem(s.primary, s.plen, "\"dek\":\"", 7) - s.primary) + 9;
	at[5] = s.plen - 1;
	for (size_t j = 0; j < ECFS_ARRAY_SIZE(at); j++) {
		snprintf(what, sizeof(what), "JSON byte %zu of %zu", at[j], s.plen);
		restore_headers(&s);
		flip_byte(ECFS_HEADER_NAME, at[j], false);
		expect_from_copy(ECFS_HDR_DAMAGED, what);
		restore_headers(&s);
		flip_byte(ECFS_HEADER_COPY_NAME, at[j], false);
		expect_from_primary(ECFS_HDR_DAMAGED, what);
		restore_headers(&s);
		flip_byte(ECFS_HEADER_NAME, at[j], false);
		flip_byte(ECFS_HEADER_COPY_NAME, at[j], false);
		cr_assert_eq(open_rc(), -EUCLEAN, "%s in both copies", what);
		cr_assert(strstr(ecfs_last_error(), "checksum"), "message: %s", ecfs_last_error());
	}
	free_saved(&s);
}

Test(volume, truncated_header)
{
	struct saved s;
	char what[64];
	size_t lens[5];

	make_volume(ECFS_CIPHER_AES256_XTS, &KA, 1);
	s = save_headers();
	lens[0] = 0;
	lens[1] = 50;
	lens[2] = 111;
	lens[3] = 112;
	lens[4] = s.plen - 1;
	for (size_t j = 0; j < ECFS_ARRAY_SIZE(lens); j++) {
		snprintf(what, sizeof(what), "truncated to %zu of %zu", lens[j], s.plen);
		restore_headers(&s);
		truncate_file(ECFS_HEADER_NAME, lens[j]);
		expect_from_copy(ECFS_HDR_DAMAGED, what);
		restore_headers(&s);
		truncate_file(ECFS_HEADER_COPY_NAME, lens[j]);
		expect_from_primary(ECFS_HDR_DAMAGED, what);
		restore_headers(&s);
		truncate_file(ECFS_HEADER_NAME, lens[j]);
		truncate_file(ECFS_HEADER_COPY_NAME, lens[j]);
		cr_assert_eq(open_rc(), -EUCLEAN, "%s in both copies", what);
	}
	/* One byte too many is as bad as one too few. */
	restore_headers(&s);
	truncate_file(ECFS_HEADER_NAME, s.plen + 1);
	expect_from_copy(ECFS_HDR_DAMAGED, "one byte appended");
	free_saved(&s);
}

Test(volume, bad_magic)
{
	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	/* The checksum is recomputed, so the magic check alone must catch it. */
	flip_byte(ECFS_HEADER_NAME, 3, true);
	expect_from_copy(ECFS_HDR_DAMAGED, "bad magic");
	flip_byte(ECFS_HEADER_COPY_NAME, 0, true);
	cr_assert_eq(open_rc(), -EUCLEAN);
	cr_assert(strstr(ecfs_last_error(), "magic"), "message: %s", ecfs_last_error());
}

/* A version newer than this build knows. */
#define NEXT_VERSION (ECFS_FORMAT_VERSION + 1)

static void set_next_version(const char *name)
{
	size_t len;
	uint8_t *buf = slurp(name, &len);

	buf[OFF_VERSION] = (uint8_t)(NEXT_VERSION >> 8);
	buf[OFF_VERSION + 1] = (uint8_t)NEXT_VERSION;
	fix_checksum(buf, len);
	spit(name, buf, len);
	free(buf);
}

Test(volume, unknown_version)
{
	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	char want[32];

	set_next_version(ECFS_HEADER_NAME);
	expect_from_copy(ECFS_HDR_UNSUPPORTED, "newer version primary");
	set_next_version(ECFS_HEADER_COPY_NAME);
	cr_assert_eq(open_rc(), -EPROTONOSUPPORT);
	snprintf(want, sizeof(want), "version %d", NEXT_VERSION);
	cr_assert(strstr(ecfs_last_error(), want), "message: %s", ecfs_last_error());
}

Test(volume, missing_copies)
{
	struct saved s;
	struct ecfs_volume *v;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	s = save_headers();
	remove_file(ECFS_HEADER_NAME);
	expect_from_copy(ECFS_HDR_MISSING, "primary missing");
	remove_file(ECFS_HEADER_COPY_NAME);
	cr_assert_eq(open_rc(), -ENOENT);
	cr_assert(strstr(ecfs_last_error(), "no envcryptfs volume"), "message: %s",
		  ecfs_last_error());

	/* Copy missing: the primary serves, and repair puts the copy back. */
	spit(ECFS_HEADER_NAME, s.primary, s.plen);
	expect_from_primary(ECFS_HDR_MISSING, "copy missing");
	v = open_unlock(&KA, 0);
	cr_assert_eq(ecfs_volume_repair_header(v), 1, "%s", ecfs_last_error());
	ecfs_volume_close(v);
	cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME));
	expect_from_primary(ECFS_HDR_OK, "after repair");

	/* Primary missing: repair puts it back too. */
	remove_file(ECFS_HEADER_NAME);
	v = open_unlock(&KA, 0);
	cr_assert_eq(ecfs_volume_repair_header(v), 1, "%s", ecfs_last_error());
	ecfs_volume_close(v);
	cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME));
	expect_from_primary(ECFS_HDR_OK, "after repair");
	free_saved(&s);
}

Test(volume, repair_of_damaged_primary)
{
	struct ecfs_volume *v;
	struct ecfs_volume_info info;
	uint64_t seq;

	make_volume(ECFS_CIPHER_SM4_XTS, &KA, 1);
	v = open_unlock(&KA, 0);
	seq = info_of(v).seqid;
	cr_assert_eq(ecfs_volume_repair_header(v), 0, "nothing to repair");
	ecfs_volume_close(v);
	flip_byte(ECFS_HEADER_NAME, 200, false);
	v = open_ok();
	cr_assert_eq(ecfs_volume_repair_header(v), -ENOKEY, "repair needs the key");
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0);
	cr_assert_eq(ecfs_volume_repair_header(v), 1, "%s", ecfs_last_error());
	info = info_of(v);
	cr_assert_not(info.opened_from_copy);
	cr_assert_eq(info.primary_state, ECFS_HDR_OK);
	cr_assert_eq(info.copy_state, ECFS_HDR_OK);
	cr_assert_eq(info.seqid, seq + 1);
	cr_assert_eq(ecfs_volume_repair_header(v), 0);
	ecfs_volume_close(v);
	cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME));
	v = open_unlock(&KA, 0);
	info = info_of(v);
	cr_assert_eq(info.seqid, seq + 1);
	cr_assert_not(info.opened_from_copy);
	cr_assert_eq(info.primary_state, ECFS_HDR_OK);
	cr_assert_eq(info.copy_state, ECFS_HDR_OK);
	ecfs_volume_close(v);
	assert_no_tmp_files();
}

/* ---- JSON edits with a valid checksum: only the MAC can tell --------------------------------- */

Test(volume, json_edit_helper_is_faithful)
{
	size_t l1, l2;
	uint8_t *before, *after;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	before = slurp(ECFS_HEADER_NAME, &l1);
	edit_both(edit_nothing);
	after = slurp(ECFS_HEADER_NAME, &l2);
	cr_assert(l1 == l2 && memcmp(before, after, l1) == 0,
		  "re-serializing the JSON area changed the header");
	free(before);
	free(after);
	ecfs_volume_close(open_unlock(&KA, 0));
}

struct edit_case {
	const char *name;
	json_edit_fn fn;
};

static const struct edit_case mac_edits[] = {
    {"chunk_size 16384 -> 4096", edit_chunk_4096},
    {"cipher aes-256-gcm -> aes-256-xts", edit_cipher_xts},
    {"slot 1 removed", edit_drop_slot_1},
};

Test(volume, json_edit_on_both_copies_fails_the_mac)
{
	const struct ecfs_credential two[2] = {KA, KB};

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(mac_edits); i++) {
		struct ecfs_volume *v;
		char sub[16];
		int r;

		snprintf(sub, sizeof(sub), "v%zu", i);
		set_vol(sub);
		make_volume(ECFS_CIPHER_AES256_GCM, two, 2);
		edit_both(mac_edits[i].fn);
		v = open_ok();
		cr_assert_not(info_of(v).opened_from_copy, "%s", mac_edits[i].name);
		r = ecfs_volume_unlock(v, &KA, 1, NULL);
		cr_assert_eq(r, -EBADMSG, "%s: unlock gave %d (%s)", mac_edits[i].name, r,
			     ecfs_last_error());
		cr_assert_not(info_of(v).unlocked);
		ecfs_volume_close(v);
	}
}

/* The message of a failed unlock keeps the cause: "header MAC mismatch ...". */
Test(volume, mac_failure_message_names_the_mac)
{
	struct ecfs_volume *v;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	edit_both(edit_chunk_4096);
	v = open_ok();
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), -EBADMSG);
	cr_assert(strstr(ecfs_last_error(), "header MAC mismatch"), "message: %s",
		  ecfs_last_error());
	ecfs_volume_close(v);
}

Test(volume, json_edit_on_primary_uses_intact_copy)
{
	const struct ecfs_credential two[2] = {KA, KB};

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(mac_edits); i++) {
		const char *what = mac_edits[i].name;
		struct ecfs_volume *v;
		struct ecfs_volume_info info;
		char sub[16];
		int slot = -2, r;

		snprintf(sub, sizeof(sub), "v%zu", i);
		set_vol(sub);
		make_volume(ECFS_CIPHER_AES256_GCM, two, 2);
		edit_json(ECFS_HEADER_NAME, mac_edits[i].fn);
		v = open_ok();
		r = ecfs_volume_unlock(v, &KA, 1, &slot);
		cr_assert_eq(r, 0, "%s: unlock gave %d (%s)", what, r, ecfs_last_error());
		cr_assert_eq(slot, 0);
		info = info_of(v);
		cr_assert(info.opened_from_copy, "%s", what);
		cr_assert_eq(info.cipher, ECFS_CIPHER_AES256_GCM, "%s", what);
		cr_assert_eq(info.chunk_size, 16384, "%s", what);
		cr_assert_eq(info.nslots, 2, "%s", what);
		cr_assert(info.header_mac_ok, "%s", what);
		cr_assert_eq(info.primary_state, ECFS_HDR_DAMAGED, "%s: primary state %d", what,
			     info.primary_state);
		r = ecfs_volume_repair_header(v);
		cr_assert_eq(r, 1, "%s: repair gave %d (%s)", what, r, ecfs_last_error());
		ecfs_volume_close(v);
		cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME), "%s", what);
		v = open_unlock(&KA, 0);
		info = info_of(v);
		cr_assert_not(info.opened_from_copy, "%s", what);
		cr_assert_eq(info.primary_state, ECFS_HDR_OK, "%s", what);
		cr_assert_eq(info.copy_state, ECFS_HDR_OK, "%s", what);
		cr_assert_eq(info.chunk_size, 16384, "%s", what);
		cr_assert_eq(info.nslots, 2, "%s", what);
		cr_assert_eq(ecfs_volume_repair_header(v), 0, "%s", what);
		ecfs_volume_close(v);
		ecfs_volume_close(open_unlock(&KB, 1));
	}
}

/* After falling back to the copy for a MAC failure of the primary, the states describe each
 * file: the primary DAMAGED, the copy (now in use) OK. */
Test(volume, mac_fallback_reports_the_state_of_each_copy)
{
	struct ecfs_volume *v;
	struct ecfs_volume_info info;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	edit_json(ECFS_HEADER_NAME, edit_chunk_4096);
	v = open_ok();
	info = info_of(v);
	cr_assert_eq(info.primary_state, ECFS_HDR_OK, "before unlock");
	cr_assert_eq(info.copy_state, ECFS_HDR_DAMAGED, "before unlock: same seqid, other bytes");
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0, "%s", ecfs_last_error());
	info = info_of(v);
	ecfs_volume_close(v);
	cr_assert(info.opened_from_copy);
	cr_assert_eq(info.primary_state, ECFS_HDR_DAMAGED, "primary state %d", info.primary_state);
	cr_assert_eq(info.copy_state, ECFS_HDR_OK, "the copy in use is reported as state %d",
		     info.copy_state);
}

/* Once unlocked, the copy not in use is held to the MAC too: an edit of the copy alone (its
 * checksum recomputed) is reported, in one line naming the file and the cause, and repaired. */
Test(volume, copy_failing_the_mac_is_reported_after_unlock)
{
	struct ecfs_volume *v;
	struct ecfs_volume_info info;
	char line[512];

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	edit_json(ECFS_HEADER_COPY_NAME, edit_chunk_4096);
	v = open_ok();
	cr_assert(ecfs_volume_header_problem(v, line, sizeof(line)), "same seqid, other bytes");
	cr_assert(strstr(line, "not yet authenticated"), "%s", line);
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0, "%s", ecfs_last_error());
	info = info_of(v);
	cr_assert_not(info.opened_from_copy);
	cr_assert_eq(info.copy_state, ECFS_HDR_DAMAGED);
	cr_assert(ecfs_volume_header_problem(v, line, sizeof(line)));
	cr_assert(strstr(line, "'" ECFS_HEADER_COPY_NAME "' is damaged (it fails the header MAC"),
		  "%s", line);
	cr_assert(strstr(line, "using '" ECFS_HEADER_NAME "', which authenticates"), "%s", line);
	cr_assert_eq(ecfs_volume_repair_header(v), 1, "%s", ecfs_last_error());
	cr_assert_not(ecfs_volume_header_problem(v, line, sizeof(line)), "%s", line);
	ecfs_volume_close(v);
	cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME));
}

/* A header re-read under the metadata lock is judged as at unlock: a copy changed meanwhile
 * without the key is named by its MAC, not merely as different. */
Test(volume, refresh_holds_the_other_copy_to_the_mac)
{
	struct ecfs_volume *v;
	char line[512];

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	v = open_unlock(&KA, 0);
	cr_assert_not(ecfs_volume_header_problem(v, line, sizeof(line)), "%s", line);
	edit_json(ECFS_HEADER_COPY_NAME, edit_chunk_4096);
	cr_assert_eq(ecfs_volume_refresh(v), 0, "%s", ecfs_last_error());
	cr_assert_eq(info_of(v).copy_state, ECFS_HDR_DAMAGED);
	cr_assert(ecfs_volume_header_problem(v, line, sizeof(line)));
	cr_assert(strstr(line, "fails the header MAC"), "%s", line);
	ecfs_volume_close(v);
}

Test(volume, unknown_incompat_feature)
{
	struct ecfs_volume *v;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	edit_json(ECFS_HEADER_NAME, edit_incompat_zstd);
	expect_from_copy(ECFS_HDR_UNSUPPORTED, "zstd in the primary");
	v = open_ok();
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0);
	cr_assert_eq(ecfs_volume_repair_header(v), 1);
	ecfs_volume_close(v);
	edit_both(edit_incompat_zstd);
	cr_assert_eq(open_rc(), -EPROTONOSUPPORT);
	cr_assert(strstr(ecfs_last_error(), "'zstd'"), "message: %s", ecfs_last_error());
}

/* A label is a C string: one with a NUL inside ("a\u0000b" in the JSON) cannot be shown or
 * written back as it was, so the header is refused as damaged. */
Test(volume, label_with_nul_is_refused)
{
	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	edit_both(edit_label_with_nul);
	cr_assert_eq(open_rc(), -EUCLEAN, "a label with a NUL byte was accepted");
}

Test(volume, unknown_slot_type)
{
	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	edit_both(edit_slot_type_unknown);
	cr_assert_eq(open_rc(), -EPROTONOSUPPORT);
	cr_assert(strstr(ecfs_last_error(), "fido2"), "message: %s", ecfs_last_error());
}

Test(volume, flipped_wrapped_dek)
{
	struct ecfs_volume *v;
	int r;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	edit_both(edit_flip_dek);
	v = open_ok();
	r = ecfs_volume_unlock(v, &KA, 1, NULL);
	cr_assert_eq(r, -EKEYREJECTED, "unlock gave %d (%s)", r, ecfs_last_error());
	cr_assert_not(info_of(v).unlocked);
	ecfs_volume_close(v);
}

Test(volume, modified_canary)
{
	struct ecfs_volume *v;
	int r;

	make_volume(ECFS_CIPHER_AES128_XTS, &KA, 1);
	edit_both(edit_flip_canary);
	v = open_ok();
	r = ecfs_volume_unlock(v, &KA, 1, NULL);
	cr_assert(r == -EKEYREJECTED || r == -EBADMSG, "unlock gave %d (%s)", r, ecfs_last_error());
	cr_assert_not(info_of(v).unlocked);
	ecfs_volume_close(v);
}

/* ---- stale copies: the higher sequence number wins ------------------------------------------ */

Test(volume, stale_copy)
{
	struct saved old;
	struct ecfs_volume *v;
	struct ecfs_volume_info info;
	uint64_t seq;

	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	old = save_headers();
	v = open_unlock(&KA, 0);
	seq = info_of(v).seqid;
	cr_assert_eq(ecfs_header_store(v), 0, "%s", ecfs_last_error());
	ecfs_volume_close(v);
	spit(ECFS_HEADER_COPY_NAME, old.copy, old.clen);

	v = open_ok();
	info = info_of(v);
	cr_assert_eq(info.seqid, seq + 1);
	cr_assert_not(info.opened_from_copy);
	cr_assert_eq(info.primary_state, ECFS_HDR_OK);
	cr_assert_eq(info.copy_state, ECFS_HDR_STALE);
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_volume_repair_header(v), 1);
	ecfs_volume_close(v);
	cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME));
	expect_from_primary(ECFS_HDR_OK, "after repair");

	/* The other way round: an older primary loses to a newer copy. */
	spit(ECFS_HEADER_NAME, old.primary, old.plen);
	v = open_ok();
	info = info_of(v);
	cr_assert_eq(info.seqid, seq + 2);
	cr_assert_eq(info.primary_state, ECFS_HDR_STALE);
	cr_assert_eq(info.copy_state, ECFS_HDR_OK);
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_volume_repair_header(v), 1);
	ecfs_volume_close(v);
	cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME));
	v = open_ok();
	cr_assert_eq(info_of(v).seqid, seq + 3);
	ecfs_volume_close(v);
	free_saved(&old);
}

/* ---- atomic writes: a failure at any step leaves a volume that opens -------------------- */

/* A failed write names the file and keeps the cause (each test runs in its own process, so
 * the environment and the hook's step counter are this test's own). */
Test(volume, write_failure_message_names_the_cause)
{
	struct ecfs_volume *v;

	NEED_FAULT_INJECTION();
	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	v = open_unlock(&KA, 0);
	setenv("ECFS_FAULT_AFTER", "0", 1);
	cr_assert_eq(ecfs_header_store(v), -EIO);
	unsetenv("ECFS_FAULT_AFTER");
	cr_assert(strstr(ecfs_last_error(), "cannot write 'envcryptfs.header'"), "message: %s",
		  ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "fault injected at step 0 (write of"), "message: %s",
		  ecfs_last_error());
	ecfs_volume_close(v);
	assert_no_tmp_files();
}

/* In a child: open, unlock, then store the header with ECFS_FAULT_AFTER=n. Secrets are made
 * here: memory from ecfs_secret_new is wiped in a forked child (MADV_WIPEONFORK). */
static int faulty_store(int n, bool repair)
{
	struct ecfs_secret *k = key_secret(1);
	struct ecfs_credential c = cred(ECFS_SLOT_KEYFILE, k, "key A");
	struct ecfs_volume *v = NULL;
	char env[16];
	int r, want = n < 8 ? -EIO : (repair ? 1 : 0);

	if (ecfs_volume_open(vol, &v) < 0 || ecfs_volume_unlock(v, &c, 1, NULL) < 0)
		return 10;
	snprintf(env, sizeof(env), "%d", n);
	setenv("ECFS_FAULT_AFTER", env, 1);
	r = repair ? ecfs_volume_repair_header(v) : ecfs_header_store(v);
	unsetenv("ECFS_FAULT_AFTER");
	if (r != want) {
		fprintf(stderr, "fault after %d: got %d, want %d (%s)\n", n, r, want,
			ecfs_last_error());
		return 11;
	}
	ecfs_volume_close(v);
	ecfs_secret_free(k);
	return 0;
}

static void run_faulty_store(int n, bool repair)
{
	int status = 0;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(faulty_store(n, repair));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child for fault %d (repair %d) ended with status %#x", n, repair, status);
}

Test(volume, fault_during_header_store)
{
	NEED_FAULT_INJECTION();
	make_volume(ECFS_CIPHER_AES256_GCM, &KA, 1);
	/* Four steps per copy (write, fsync, rename, directory fsync); 8 is past the last. */
	for (int n = 0; n <= 8; n++) {
		struct ecfs_volume *v;

		run_faulty_store(n, false);
		assert_no_tmp_files();
		v = open_unlock(&KA, 0);
		cr_assert_not(info_of(v).opened_from_copy, "fault %d", n);
		ecfs_volume_close(v);
	}
}

Test(volume, fault_during_repair)
{
	NEED_FAULT_INJECTION();
	for (int n = 0; n <= 8; n++) {
		struct ecfs_volume *v;
		struct ecfs_volume_info info;
		char sub[16];

		snprintf(sub, sizeof(sub), "v%d", n);
		set_vol(sub);
		make_volume(ECFS_CIPHER_AES256_XTS, &KA, 1);
		flip_byte(ECFS_HEADER_NAME, 300, false);
		run_faulty_store(n, true);
		assert_no_tmp_files();
		v = open_unlock(&KA, 0);
		info = info_of(v);
		/* Until the primary is renamed into place (step 2) the copy serves; until the
		 * copy is (step 6) the copy is stale. */
		cr_assert_eq(info.opened_from_copy, n < 3, "fault %d", n);
		cr_assert_eq(ecfs_volume_repair_header(v), n < 7 ? 1 : 0, "fault %d", n);
		ecfs_volume_close(v);
		cr_assert(files_equal(ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME), "fault %d", n);
		ecfs_volume_close(open_unlock(&KA, 0));
	}
}

/* Format 2 binds objects with tags: deterministic, separated by domain and by how the bytes
 * are split into parts, and refused on a format-1 volume. */
Test(volume, bind_tags)
{
	struct ecfs_create_params p = fast_params(ECFS_CIPHER_AES256_GCM, 16384, NULL);
	struct ecfs_volume *v = NULL;
	uint8_t a[ECFS_BIND_TAG_SIZE], b[ECFS_BIND_TAG_SIZE];
	const struct ecfs_iov ab[] = {{"ab", 2}, {"c", 1}}, a_bc[] = {{"a", 1}, {"bc", 2}};

	p.format_version = 2;
	cr_assert_eq(ecfs_volume_create(vol, &p, &KA, 1, &v), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_volume_format(v), 2);
	cr_assert_eq(ecfs_bind_tag(v, "file", ab, 2, a), 0);
	cr_assert_eq(ecfs_bind_tag(v, "file", ab, 2, b), 0);
	cr_assert_arr_eq(a, b, sizeof(a));
	cr_assert(ecfs_bind_check(v, "file", ab, 2, a));
	cr_assert_not(ecfs_bind_check(v, "dir", ab, 2, a));
	cr_assert_not(ecfs_bind_check(v, "file", a_bc, 2, a));
	a[0] ^= 1;
	cr_assert_not(ecfs_bind_check(v, "file", ab, 2, a));
	ecfs_volume_close(v);

	v = open_ok();
	cr_assert_eq(ecfs_volume_unlock(v, &KA, 1, NULL), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_volume_format(v), 2);
	cr_assert(ecfs_bind_check(v, "file", ab, 2, b), "a reopened volume makes the same tags");
	ecfs_volume_close(v);

	p.format_version = 1;
	p.force = true;
	remove_file(ECFS_HEADER_NAME);
	remove_file(ECFS_HEADER_COPY_NAME);
	cr_assert_eq(ecfs_volume_create(vol, &p, &KA, 1, &v), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_bind_tag(v, "file", ab, 2, a), -EINVAL);
	ecfs_volume_close(v);
}

/* Format 2 directory ID files name their place (two while a rename is under way); symlink
 * targets and sealed values are bound to the associated data they were sealed with. */
Test(volume, places)
{
	struct ecfs_create_params p = fast_params(ECFS_CIPHER_AES256_GCM, 16384, NULL);
	const struct ecfs_place root = {.name = ""}, a = {{1}, "nameA"}, b = {{2}, "nameA"};
	const struct ecfs_place c2 = {{1}, "nameC"};
	const struct ecfs_iov p1[] = {{"x", 1}}, p2[] = {{"y", 1}}, many[6] = {{0}};
	struct ecfs_volume *v = NULL;
	struct ecfs_crypto *c;
	uint8_t id[ECFS_DIR_ID_SIZE], back[ECFS_DIR_ID_SIZE], sealed[64], plain[64];
	char stored[256], target[64];
	struct stat st;
	int dfd, sub;

	p.format_version = 2;
	cr_assert_eq(ecfs_volume_create(vol, &p, &KA, 1, &v), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_crypto_new(v, &c), 0);
	dfd = open(vol, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(fstatat(dfd, ECFS_DIR_ID_NAME, &st, 0), 0);
	cr_assert_eq(st.st_size, ECFS_DIRID_FILE_SIZE);
	cr_assert_eq(ecfs_dirid_read_at(v, dfd, &root, back), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_dirid_read_at(v, dfd, &a, back), -EBADMSG);
	cr_assert_eq(ecfs_dirid_read_at(v, dfd, NULL, back), 0);
	cr_assert_eq(ecfs_dirid_read(dfd, back), -EUCLEAN, "a format-2 ID file is not format 1's");

	cr_assert_eq(mkdirat(dfd, "sub", 0700), 0);
	sub = openat(dfd, "sub", O_RDONLY | O_DIRECTORY);
	cr_assert_eq(ecfs_dirid_create_at(v, sub, &a, id), 0);
	cr_assert_eq(ecfs_dirid_read_at(v, sub, &a, back), 0);
	cr_assert_arr_eq(id, back, sizeof(id));
	cr_assert_eq(ecfs_dirid_read_at(v, sub, &b, back), -EBADMSG, "another parent");
	cr_assert_eq(ecfs_dirid_read_at(v, sub, &c2, back), -EBADMSG, "another name");
	cr_assert_eq(ecfs_dirid_rebind(v, sub, id, &a, &b), 0);
	cr_assert_eq(ecfs_dirid_read_at(v, sub, &a, back), 0, "mid-rename: the old place");
	cr_assert_eq(ecfs_dirid_read_at(v, sub, &b, back), 0, "mid-rename: the new place");
	cr_assert_eq(ecfs_dirid_rebind(v, sub, id, &b, NULL), 0);
	cr_assert_eq(ecfs_dirid_read_at(v, sub, &a, back), -EBADMSG);
	cr_assert_eq(ecfs_dirid_read_at(v, sub, &b, back), 0);
	cr_assert_arr_eq(id, back, sizeof(id));

	cr_assert_gt(ecfs_symlink_encrypt_at(c, &a, "target", stored, sizeof(stored)), 0);
	cr_assert_eq(ecfs_symlink_decrypt_at(c, &a, stored, target, sizeof(target)), 6);
	cr_assert_str_eq(target, "target");
	cr_assert_eq(ecfs_symlink_decrypt_at(c, &b, stored, target, sizeof(target)), -EBADMSG);
	cr_assert_eq(ecfs_symlink_decrypt_at(c, &c2, stored, target, sizeof(target)), -EBADMSG);
	cr_assert_eq(ecfs_symlink_decrypt_at(c, NULL, stored, target, sizeof(target)), -EBADMSG);

	cr_assert_eq(ecfs_seal_ad(c, "d", p1, 1, (const uint8_t *)"v", 1, sealed), 33);
	cr_assert_eq(ecfs_unseal_ad(c, "d", p1, 1, sealed, 33, plain), 1);
	cr_assert_eq(ecfs_unseal_ad(c, "d", p2, 1, sealed, 33, plain), -EBADMSG);
	cr_assert_eq(ecfs_unseal_ad(c, "e", p1, 1, sealed, 33, plain), -EBADMSG);
	cr_assert_eq(ecfs_unseal(c, "d", sealed, 33, plain), -EBADMSG);
	cr_assert_eq(ecfs_seal_ad(c, "d", many, 6, (const uint8_t *)"v", 1, sealed), -EINVAL);

	uint8_t t1[ECFS_BIND_TAG_SIZE], t2[ECFS_BIND_TAG_SIZE], fid[ECFS_FILE_ID_SIZE] = {7};
	cr_assert_eq(ecfs_file_name_tag(v, fid, &a, t1), 0);
	cr_assert_eq(ecfs_file_name_tag(v, fid, &b, t2), 0);
	cr_assert_arr_neq(t1, t2, sizeof(t1), "another parent, another tag");
	cr_assert_eq(ecfs_xattr_seal_at(c, fid, "encA", (const uint8_t *)"v", 1, sealed), 33);
	cr_assert_eq(ecfs_xattr_unseal_at(c, fid, "encA", sealed, 33, plain), 1);
	cr_assert_eq(ecfs_xattr_unseal_at(c, fid, "encB", sealed, 33, plain), -EBADMSG,
		     "another attribute name");
	fid[0] ^= 1;
	cr_assert_eq(ecfs_xattr_unseal_at(c, fid, "encA", sealed, 33, plain), -EBADMSG,
		     "another object");

	struct ecfs_links l = {0}, back_l;
	uint8_t *lf;
	size_t lflen;
	char lname[ECFS_LINKS_NAME_MAX];
	cr_assert_eq(ecfs_links_add(&l, t1), 0);
	cr_assert_eq(ecfs_links_add(&l, t2), 0);
	cr_assert_eq(ecfs_links_add(&l, t1), 0, "a tag is listed once");
	cr_assert_eq(l.count, 2);
	cr_assert_eq(ecfs_links_serialize(v, fid, &l, &lf, &lflen), 0);
	cr_assert_eq(lflen, ecfs_links_size(2));
	cr_assert_eq(ecfs_links_parse(v, fid, lf, lflen, &back_l), 0, "%s", ecfs_last_error());
	cr_assert_eq(back_l.count, 2);
	cr_assert_eq(ecfs_links_find(&back_l, t2), 1);
	cr_assert(ecfs_links_remove(&back_l, t1));
	cr_assert_not(ecfs_links_remove(&back_l, t1));
	cr_assert_eq(ecfs_links_find(&back_l, t2), 0);
	ecfs_links_free(&back_l);
	fid[0] ^= 1;
	cr_assert_eq(ecfs_links_parse(v, fid, lf, lflen, &back_l), -EBADMSG, "another file");
	fid[0] ^= 1;
	cr_assert_eq(ecfs_links_parse(v, fid, lf, lflen - 1, &back_l), -EUCLEAN);
	lf[7] = 3;
	cr_assert_eq(ecfs_links_parse(v, fid, lf, lflen, &back_l), -EUCLEAN, "count and size");
	ecfs_links_name(fid, lname);
	cr_assert_eq(strlen(lname), strlen(ECFS_LINKS_PREFIX) + 22);
	free(lf);
	/* A list naming one place twice is refused even with a valid MAC. */
	memcpy(l.tags[1], l.tags[0], ECFS_BIND_TAG_SIZE);
	cr_assert_eq(ecfs_links_serialize(v, fid, &l, &lf, &lflen), 0);
	cr_assert_eq(ecfs_links_parse(v, fid, lf, lflen, &back_l), -EUCLEAN, "a duplicate tag");
	free(lf);
	/* Read and write at the root; a missing one is -ENOENT, deleting it twice is fine. */
	memcpy(l.tags[1], t2, ECFS_BIND_TAG_SIZE);
	cr_assert_eq(ecfs_links_read(v, dfd, fid, &back_l), -ENOENT);
	cr_assert_eq(ecfs_links_write(v, dfd, fid, &l), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_links_read(v, dfd, fid, &back_l), 0, "%s", ecfs_last_error());
	cr_assert_eq(back_l.count, 2);
	cr_assert_eq(ecfs_links_find(&back_l, t2), 1);
	ecfs_links_free(&back_l);
	cr_assert_eq(ecfs_links_delete(dfd, fid), 0);
	cr_assert_eq(ecfs_links_delete(dfd, fid), 0);
	cr_assert_eq(ecfs_links_read(v, dfd, fid, &back_l), -ENOENT);
	ecfs_links_free(&l);
	close(sub);
	close(dfd);
	ecfs_crypto_free(c);
	ecfs_volume_close(v);
}

/* Holes maps: range arithmetic, the file's chunk rule, parse checks, and the generation rule
 * that keeps an older map from fitting a newer header. */
/* A set of written chunks never joins ranges (that would count unwritten chunks as written),
 * and unlisting written chunks never takes a map past ECFS_HOLES_MAX ranges. */
Test(volume, holes_sets_stay_bounded)
{
	struct ecfs_holes full = {0}, sub = {0}, m = {0};

	for (uint64_t i = 0; i < ECFS_HOLES_MAX; i++)
		cr_assert_eq(ecfs_holes_add(&full, 4 * i, 4 * i + 3), 0);
	cr_assert_eq(full.count, ECFS_HOLES_MAX);
	cr_assert_eq(ecfs_holes_add_unjoined(&full, 1, 2), 0, "covered: nothing to add");
	cr_assert_eq(ecfs_holes_add_unjoined(&full, 3, 4), 1, "a new range is dropped");
	cr_assert_eq(full.count, ECFS_HOLES_MAX);
	cr_assert_eq(full.r[0].end, 3);
	cr_assert_not(ecfs_holes_contains(&full, 3));
	for (uint64_t i = 0; i < 8; i++)
		cr_assert_eq(ecfs_holes_add(&sub, 4 * i + 1, 4 * i + 2), 0);
	cr_assert_eq(ecfs_holes_subtract(&full, &sub), 0);
	cr_assert_leq(full.count, ECFS_HOLES_MAX);
	cr_assert(ecfs_holes_contains(&full, 1), "what is not unlisted stays listed");
	/* Below the limit everything leaves. */
	cr_assert_eq(ecfs_holes_add(&m, 0, 100), 0);
	cr_assert_eq(ecfs_holes_add_unjoined(&m, 200, 300), 0);
	cr_assert_eq(ecfs_holes_subtract(&m, &sub), 0);
	cr_assert_eq(m.count, 2 + 8);
	for (uint64_t i = 0; i < 8; i++)
		cr_assert_not(ecfs_holes_contains(&m, 4 * i + 1));
	cr_assert(ecfs_holes_contains(&m, 250));
	ecfs_holes_free(&full);
	ecfs_holes_free(&sub);
	ecfs_holes_free(&m);
}

Test(volume, holes_maps)
{
	struct ecfs_create_params p = fast_params(ECFS_CIPHER_AES256_GCM, 16384, NULL);
	struct ecfs_holes m = {0}, back = {0};
	struct ecfs_blob_header h = {0};
	struct ecfs_volume *v = NULL;
	struct ecfs_file_key *k;
	struct ecfs_crypto *c;
	uint8_t fid[ECFS_FILE_ID_SIZE] = "holes file id 16", *buf;
	uint8_t zeros[64] = {0}, plain[64];
	size_t len;
	int dfd;

	p.format_version = 2;
	cr_assert_eq(ecfs_volume_create(vol, &p, &KA, 1, &v), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_crypto_new(v, &c), 0);
	dfd = open(vol, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
	/* Ranges merge when they touch, split when a middle part leaves. */
	cr_assert_eq(ecfs_holes_add(&m, 10, 20), 0);
	cr_assert_eq(ecfs_holes_add(&m, 30, 40), 0);
	cr_assert_eq(ecfs_holes_add(&m, 20, 25), 0);
	cr_assert_eq(m.count, 2);
	cr_assert(ecfs_holes_covers(&m, 10, 25));
	cr_assert_not(ecfs_holes_covers(&m, 10, 26));
	cr_assert(ecfs_holes_meets(&m, 0, 11));
	cr_assert_not(ecfs_holes_meets(&m, 25, 30));
	cr_assert_eq(ecfs_holes_add(&m, 24, 31), 0);
	cr_assert_eq(m.count, 1);
	cr_assert_eq(ecfs_holes_remove(&m, 15, 17), 0);
	cr_assert_eq(m.count, 2);
	cr_assert(ecfs_holes_contains(&m, 14));
	cr_assert_not(ecfs_holes_contains(&m, 15));
	cr_assert_not(ecfs_holes_contains(&m, 16));
	cr_assert(ecfs_holes_contains(&m, 17));
	cr_assert(ecfs_holes_contains(&m, 39));
	cr_assert_not(ecfs_holes_contains(&m, 40));
	cr_assert_eq(ecfs_holes_remove(&m, 0, 12), 0);
	cr_assert_eq(ecfs_holes_remove(&m, 38, ECFS_HOLES_END_MAX), 0);
	cr_assert_eq(m.count, 2);
	cr_assert_eq(m.r[0].first, 12);
	cr_assert_eq(m.r[1].end, 38);
	/* A dense format-2 file has no holes; the map lets listed chunks be zeros. */
	cr_assert_eq(ecfs_file_key_new(v, fid, &k), 0);
	cr_assert_eq(ecfs_chunk_decrypt(c, k, 20, zeros, sizeof(zeros), plain), -EBADMSG);
	ecfs_file_key_set_holes(k, &m);
	cr_assert_eq(ecfs_chunk_decrypt(c, k, 20, zeros, sizeof(zeros), plain), 64 - 28);
	cr_assert_eq(ecfs_chunk_decrypt(c, k, 16, zeros, sizeof(zeros), plain), -EBADMSG);
	ecfs_file_key_holes_any(k);
	cr_assert_eq(ecfs_chunk_decrypt(c, k, 16, zeros, sizeof(zeros), plain), 64 - 28);
	ecfs_file_key_free(k);
	/* Serialized, bound to the file ID; damage is refused. */
	m.generation = 7;
	cr_assert_eq(ecfs_holes_serialize(v, fid, &m, &buf, &len), 0);
	cr_assert_eq(len, ecfs_holes_size(2));
	cr_assert_eq(ecfs_holes_parse(v, fid, buf, len, &back), 0, "%s", ecfs_last_error());
	cr_assert_eq(back.generation, 7);
	cr_assert_eq(back.count, 2);
	cr_assert_eq(back.r[1].first, 17);
	ecfs_holes_free(&back);
	fid[0] ^= 1;
	cr_assert_eq(ecfs_holes_parse(v, fid, buf, len, &back), -EBADMSG, "another file");
	fid[0] ^= 1;
	cr_assert_eq(ecfs_holes_parse(v, fid, buf, len - 1, &back), -EUCLEAN);
	buf[16 + 7] = 200; /* the first range's first above its end */
	cr_assert_eq(ecfs_holes_parse(v, fid, buf, len, &back), -EUCLEAN, "range order");
	free(buf);
	/* On disk: the map of the header's generation or the next one fits, no other. */
	memcpy(h.file_id, fid, sizeof(fid));
	h.flags = ECFS_BLOB_SPARSE;
	cr_assert_eq(ecfs_holes_load(v, dfd, &h, &back), -EUCLEAN, "missing");
	cr_assert_eq(ecfs_holes_write(v, dfd, fid, &m), 0, "%s", ecfs_last_error());
	for (uint32_t g = 5; g <= 8; g++) {
		h.holes_generation = g;
		cr_assert_eq(ecfs_holes_load(v, dfd, &h, &back), g == 6 || g == 7 ? 0 : -EBADMSG,
			     "header generation %u", g);
		ecfs_holes_free(&back);
	}
	cr_assert_eq(ecfs_holes_delete(dfd, fid), 0);
	cr_assert_eq(ecfs_holes_delete(dfd, fid), 0);
	cr_assert_eq(ecfs_holes_read(v, dfd, fid, &back), -ENOENT);
	ecfs_holes_free(&m);
	close(dfd);
	ecfs_crypto_free(c);
	ecfs_volume_close(v);
}
