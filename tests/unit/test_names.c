/* test_names.c - file-name encryption, long names, name classification and directory IDs. */
#include <criterion/criterion.h>

#include "internal.h"
#include "tmpdir_helpers.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* ---- fixture: a scratch directory, an AES and an SM4 volume ------------------------------ */

static char tmp[64];
static struct ecfs_secret *key;
static struct ecfs_volume *vols[2];
static struct ecfs_crypto *cryptos[2];
static const enum ecfs_cipher vol_ciphers[2] = {ECFS_CIPHER_AES256_GCM, ECFS_CIPHER_SM4_XTS};
static const uint8_t dir1[ECFS_DIR_ID_SIZE] = {1, 2,  3,  4,  5,  6,  7,  8,
					       9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t dir2[ECFS_DIR_ID_SIZE] = {1, 2,  3,  4,  5,  6,  7,  8,
					       9, 10, 11, 12, 13, 14, 15, 17};

static void setup(void)
{
	static const char bytes[] = "names test key: thirty-two bytes or more";
	struct ecfs_credential cred = {.type = ECFS_SLOT_KEYFILE, .origin = "key"};

	tmpdir_make(tmp, sizeof(tmp), "names");
	key = ecfs_secret_new(sizeof(bytes));
	cr_assert_not_null(key);
	memcpy(ecfs_secret_data(key), bytes, sizeof(bytes));
	cred.secret = key;
	for (int i = 0; i < 2; i++) {
		struct ecfs_create_params p = {.cipher = vol_ciphers[i], .argon2 = {1, 8192, 1}};
		char dir[128];
		int r;

		snprintf(dir, sizeof(dir), "%s/vol%d", tmp, i);
		r = ecfs_volume_create(dir, &p, &cred, 1, &vols[i]);
		cr_assert_eq(r, 0, "create %s: %d (%s)", dir, r, ecfs_last_error());
		cr_assert_eq(ecfs_crypto_new(vols[i], &cryptos[i]), 0);
	}
}

static void teardown(void)
{
	for (int i = 0; i < 2; i++) {
		ecfs_crypto_free(cryptos[i]);
		ecfs_volume_close(vols[i]);
	}
	ecfs_secret_free(key);
	tmpdir_remove(tmp);
}

TestSuite(names, .init = setup, .fini = teardown);

/* ---- helpers ------------------------------------------------------------------------------- */

static const char *cname(int vi)
{
	return ecfs_cipher_name(vol_ciphers[vi]);
}

/* Encrypts name, checks the shape of the result and that it decrypts back. */
static void round_trip(int vi, const uint8_t *dir, const char *name, size_t len,
		       struct ecfs_disk_name *dn)
{
	char back[ECFS_NAME_MAX + 1], hash[ECFS_DISK_NAME_MAX];
	size_t flen, want = ecfs_b64_encoded_len(ECFS_SIV_TAG_SIZE + (len / 16 + 1) * 16);
	int r = ecfs_name_encrypt(cryptos[vi], dir, name, len, dn);

	cr_assert_eq(r, 0, "%s: encrypt of %zu bytes gave %d", cname(vi), len, r);
	flen = strlen(dn->full);
	cr_assert_eq(flen, want, "%s: %zu bytes encode to %zu chars", cname(vi), len, flen);
	cr_assert_eq(strspn(dn->full, B64URL), flen, "not base64url: %s", dn->full);
	cr_assert(ecfs_name_well_formed(dn->full), "%s", dn->full);
	cr_assert_eq(dn->is_long, flen > 255, "%s: %zu chars, is_long %d", cname(vi), flen,
		     dn->is_long);
	if (dn->is_long) {
		cr_assert_eq(strlen(dn->disk), strlen(ECFS_LONG_PREFIX) + 43, "%s", dn->disk);
		cr_assert_eq(strncmp(dn->disk, ECFS_LONG_PREFIX, strlen(ECFS_LONG_PREFIX)), 0);
		cr_assert_eq(strspn(dn->disk + strlen(ECFS_LONG_PREFIX), B64URL), 43);
		cr_assert_eq(ecfs_name_classify(dn->disk), ECFS_NAME_LONG, "%s", dn->disk);
		snprintf(hash, sizeof(hash), "%s%s", dn->disk, ECFS_LONG_SIDE_SUFFIX);
		cr_assert_eq(ecfs_name_classify(hash), ECFS_NAME_LONG_SIDE, "%s", hash);
		memset(hash, 0, sizeof(hash));
		ecfs_name_long_hash(dn->full, hash);
		cr_assert_str_eq(hash, dn->disk);
	} else {
		cr_assert_str_eq(dn->disk, dn->full);
		cr_assert_eq(ecfs_name_classify(dn->disk), ECFS_NAME_ENCRYPTED, "%s", dn->disk);
		cr_assert_null(strchr(dn->disk, '.'), "%s", dn->disk);
	}
	memset(back, 0x55, sizeof(back));
	r = ecfs_name_decrypt(cryptos[vi], dir, dn->full, back);
	cr_assert_eq(r, (int)len, "%s: decrypt of a %zu-byte name gave %d", cname(vi), len, r);
	cr_assert_eq(memcmp(back, name, len), 0, "%s: %zu-byte name differs", cname(vi), len);
	cr_assert_eq(back[len], '\0');
}

/* Decryption must fail with -EBADMSG and leave out untouched. */
static void expect_bad(int vi, const uint8_t *dir, const char *encoded, const char *what)
{
	char out[ECFS_NAME_MAX + 1];
	int r;

	memset(out, 0x55, sizeof(out));
	r = ecfs_name_decrypt(cryptos[vi], dir, encoded, out);
	cr_assert_eq(r, -EBADMSG, "%s: %s: decrypt of '%s' gave %d", cname(vi), what, encoded, r);
	for (size_t i = 0; i < sizeof(out); i++)
		cr_assert_eq((uint8_t)out[i], 0x55, "%s: %s: output written", cname(vi), what);
}

/* ---- round trips ---------------------------------------------------------------------- */

Test(names, every_length_round_trips)
{
	char name[ECFS_NAME_MAX + 2];
	struct ecfs_disk_name dn;
	int longs = 0;

	for (size_t i = 0; i < sizeof(name); i++)
		name[i] = (char)('a' + i % 26);
	for (int vi = 0; vi < 2; vi++) {
		for (size_t len = 1; len <= ECFS_NAME_MAX; len++) {
			round_trip(vi, dir1, name, len, &dn);
			longs += dn.is_long;
			/* Padding hides the exact length within 16 bytes. */
			cr_assert_eq(dn.is_long, len >= 160, "%zu bytes", len);
		}
		cr_assert_eq(ecfs_name_encrypt(cryptos[vi], dir1, name, ECFS_NAME_MAX + 1, &dn),
			     -ENAMETOOLONG);
	}
	cr_assert_eq(longs, 2 * 96);
}

Test(names, invalid_names_are_refused)
{
	static const struct {
		const char *name;
		size_t len;
	} bad[] = {{"", 0},  {".", 1},	  {"..", 2},   {"a/b", 3},
		   {"/", 1}, {"abc/", 4}, {"a\0b", 3}, {"\0", 1}};
	char big[1000];
	struct ecfs_disk_name dn;

	memset(big, 'n', sizeof(big));
	for (int vi = 0; vi < 2; vi++) {
		for (size_t i = 0; i < ECFS_ARRAY_SIZE(bad); i++)
			cr_assert_eq(
			    ecfs_name_encrypt(cryptos[vi], dir1, bad[i].name, bad[i].len, &dn),
			    -EINVAL, "name %zu", i);
		cr_assert_eq(ecfs_name_encrypt(cryptos[vi], dir1, big, 256, &dn), -ENAMETOOLONG);
		cr_assert_eq(ecfs_name_encrypt(cryptos[vi], dir1, big, sizeof(big), &dn),
			     -ENAMETOOLONG);
		/* Dots are fine in a longer name. */
		round_trip(vi, dir1, "...", 3, &dn);
		round_trip(vi, dir1, ".hidden", 7, &dn);
		round_trip(vi, dir1, "a..", 3, &dn);
	}
}

Test(names, every_byte_value_round_trips)
{
	char all[254];
	struct ecfs_disk_name dn;
	size_t n = 0;

	for (int b = 1; b < 256; b++)
		if (b != '/')
			all[n++] = (char)b;
	cr_assert_eq(n, sizeof(all));
	for (int vi = 0; vi < 2; vi++) {
		for (int b = 1; b < 256; b++) {
			char name[3] = {'x', (char)b, 'y'};
			char one[1] = {(char)b};

			if (b == '/')
				continue;
			round_trip(vi, dir1, name, 2, &dn);
			round_trip(vi, dir1, name, 3, &dn);
			if (b != '.')
				round_trip(vi, dir1, one, 1, &dn);
		}
		round_trip(vi, dir1, all, sizeof(all), &dn);
		round_trip(vi, dir1, all + 200, sizeof(all) - 200, &dn);
	}
}

Test(names, directory_id_binds_the_name)
{
	struct ecfs_disk_name a, b, c, other;

	for (int vi = 0; vi < 2; vi++) {
		round_trip(vi, dir1, "report.pdf", 10, &a);
		round_trip(vi, dir1, "report.pdf", 10, &b);
		round_trip(vi, dir2, "report.pdf", 10, &c);
		cr_assert_str_eq(a.full, b.full, "%s: not deterministic", cname(vi));
		cr_assert_str_neq(a.full, c.full, "%s: two directories alike", cname(vi));
		expect_bad(vi, dir2, a.full, "other directory");
		expect_bad(vi, dir1, c.full, "other directory");
		round_trip(vi, dir1, "report.pdg", 10, &other);
		cr_assert_str_neq(a.full, other.full);
	}
	round_trip(0, dir1, "report.pdf", 10, &a);
	round_trip(1, dir1, "report.pdf", 10, &b);
	cr_assert_str_neq(a.full, b.full, "two volumes alike");
	expect_bad(1, dir1, a.full, "other volume");
}

/* ---- damaged encodings --------------------------------------------------------------------- */

static void tamper_all(int vi, const char *full)
{
	char buf[ECFS_ENCODED_NAME_MAX + 2], what[64];
	size_t len = strlen(full);

	/* Every position, replaced by a few other characters of the alphabet. */
	for (size_t pos = 0; pos < len; pos++) {
		static const char subst[] = "AQgw-_9";

		for (size_t k = 0; k < sizeof(subst) - 1; k++) {
			if (full[pos] == subst[k])
				continue;
			memcpy(buf, full, len + 1);
			buf[pos] = subst[k];
			snprintf(what, sizeof(what), "'%c' at %zu of %zu", subst[k], pos, len);
			expect_bad(vi, dir1, buf, what);
		}
	}
	/* Every truncation, and one character more. */
	for (size_t n = 0; n < len; n++) {
		memcpy(buf, full, n);
		buf[n] = '\0';
		snprintf(what, sizeof(what), "first %zu of %zu", n, len);
		expect_bad(vi, dir1, buf, what);
	}
	memcpy(buf, full, len);
	memcpy(buf + len, "A", 2);
	expect_bad(vi, dir1, buf, "one more character");
}

Test(names, modified_or_truncated_encodings_fail)
{
	char name[200];
	struct ecfs_disk_name dn;

	memset(name, 'q', sizeof(name));
	for (int vi = 0; vi < 2; vi++) {
		round_trip(vi, dir1, "a", 1, &dn);
		tamper_all(vi, dn.full);
		round_trip(vi, dir1, name, 15, &dn);
		tamper_all(vi, dn.full);
		round_trip(vi, dir1, name, 16, &dn);
		tamper_all(vi, dn.full);
		round_trip(vi, dir1, name, sizeof(name), &dn);
		cr_assert(dn.is_long);
		tamper_all(vi, dn.full);
	}
}

Test(names, garbage_fails)
{
	char buf[400], enc[400];
	uint8_t raw[288];
	static const char *const junk[] = {
	    "",
	    "a",
	    "envcryptfs.header",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.A",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/A",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xff",
	    "..",
	};

	for (int vi = 0; vi < 2; vi++) {
		for (size_t i = 0; i < ECFS_ARRAY_SIZE(junk); i++)
			expect_bad(vi, dir1, junk[i], "junk");
		/* Any length, all one character. */
		for (size_t n = 1; n < sizeof(buf); n++) {
			memset(buf, n % 2 ? 'A' : '_', n);
			buf[n] = '\0';
			expect_bad(vi, dir1, buf, "repeated character");
		}
		/* Well-formed base64url of random bytes of every length up to the largest. */
		for (size_t n = 1; n <= sizeof(raw); n++) {
			cr_assert_eq(ecfs_random(raw, n), 0);
			ecfs_b64url_encode(raw, n, enc);
			expect_bad(vi, dir1, enc, "random bytes");
		}
	}
}

/* ---- classification ---------------------------------------------------------------------- */

Test(names, classify_reserved_and_invalid)
{
	char longname[128], h43[44];
	static const char *const reserved[] = {ECFS_HEADER_NAME,
					       ECFS_HEADER_COPY_NAME,
					       ECFS_DIR_ID_NAME,
					       ECFS_LOCK_NAME,
					       ECFS_TMP_PREFIX "0123456789abcdef",
					       ECFS_TMP_PREFIX};
	static const char *const invalid[] = {"",
					      ".",
					      "..",
					      "foo",
					      "a.b",
					      "envcryptfs.",
					      "envcryptfs.long.",
					      "envcryptfs.long.abc",
					      "envcryptfs.headers",
					      "envcryptfs.header.copy2",
					      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
					      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.A"};

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(reserved); i++)
		cr_assert_eq(ecfs_name_classify(reserved[i]), ECFS_NAME_RESERVED, "%s",
			     reserved[i]);
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(invalid); i++)
		cr_assert_eq(ecfs_name_classify(invalid[i]), ECFS_NAME_INVALID, "'%s'", invalid[i]);

	memset(h43, 'h', 43);
	h43[43] = '\0';
	snprintf(longname, sizeof(longname), "%s%s", ECFS_LONG_PREFIX, h43);
	cr_assert_eq(ecfs_name_classify(longname), ECFS_NAME_LONG);
	snprintf(longname, sizeof(longname), "%s%s.name", ECFS_LONG_PREFIX, h43);
	cr_assert_eq(ecfs_name_classify(longname), ECFS_NAME_LONG_SIDE);
	snprintf(longname, sizeof(longname), "%s%s.nam", ECFS_LONG_PREFIX, h43);
	cr_assert_eq(ecfs_name_classify(longname), ECFS_NAME_INVALID);
	snprintf(longname, sizeof(longname), "%s%s.namex", ECFS_LONG_PREFIX, h43);
	cr_assert_eq(ecfs_name_classify(longname), ECFS_NAME_INVALID);
	snprintf(longname, sizeof(longname), "%s%sh", ECFS_LONG_PREFIX, h43);
	cr_assert_eq(ecfs_name_classify(longname), ECFS_NAME_INVALID);
	h43[42] = '\0';
	snprintf(longname, sizeof(longname), "%s%s", ECFS_LONG_PREFIX, h43);
	cr_assert_eq(ecfs_name_classify(longname), ECFS_NAME_INVALID);
}

/* ---- long symlink targets ----------------------------------------------------------------- */

Test(names, link_reference_names_a_side_file)
{
	char ref[ECFS_LINK_REF_LEN + 1], other[ECFS_LINK_REF_LEN + 1], bad[ECFS_LINK_REF_LEN + 2];

	ecfs_link_ref_name("AAAAstoredtext", ref);
	ecfs_link_ref_name("AAAAstoredtexu", other);
	cr_assert_eq(strlen(ref), ECFS_LINK_REF_LEN);
	cr_assert_str_neq(ref, other);
	cr_assert(ecfs_link_is_ref(ref));
	cr_assert_eq(ecfs_name_classify(ref), ECFS_NAME_LINK_SIDE);
	/* No stored target (unpadded base64url) has a reference's length, 1 mod 4. */
	cr_assert_eq(ECFS_LINK_REF_LEN % 4, 1);
	cr_assert(!ecfs_name_well_formed(ref));
	snprintf(bad, sizeof(bad), "%s", ref);
	bad[ECFS_LINK_REF_LEN - 1] = '.';
	cr_assert(!ecfs_link_is_ref(bad));
	cr_assert_eq(ecfs_name_classify(bad), ECFS_NAME_INVALID);
	snprintf(bad, sizeof(bad), "%sA", ref);
	cr_assert(!ecfs_link_is_ref(bad));
	cr_assert(!ecfs_link_is_ref(ref + 1));
	cr_assert(!ecfs_link_is_ref(""));
}

Test(names, symlink_plain_len_inverts_the_stored_length)
{
	struct ecfs_crypto *c = cryptos[0];
	char target[4096], stored[ECFS_SYMLINK_STORED_MAX];
	size_t lens[] = {1, 2, 3, 4, 100, 3039, 3040, 4094, 4095};

	for (size_t i = 0; i < ECFS_ARRAY_SIZE(lens); i++) {
		size_t n = lens[i];
		int r;

		memset(target, 'x', n);
		target[n] = '\0';
		r = ecfs_symlink_encrypt(c, target, stored, sizeof(stored));
		cr_assert_eq(r, (int)strlen(stored), "length %zu", n);
		cr_assert_eq(ecfs_symlink_plain_len(strlen(stored)), n, "length %zu", n);
		cr_assert_eq(strlen(stored) <= ECFS_LINK_INLINE_MAX, n <= 3039, "length %zu", n);
		cr_assert_neq(strlen(stored) % 4, 1);
	}
	cr_assert_eq(ecfs_symlink_plain_len(0), 0);
	cr_assert_eq(ecfs_symlink_plain_len(ECFS_LINK_REF_LEN - 30), 0);
}

/* ---- directory IDs ------------------------------------------------------------------------ */

static int open_dir(const char *sub)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, sub);
	cr_assert_eq(mkdir(path, 0700), 0);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	return fd;
}

static void put_dirid_file(int dfd, size_t len)
{
	uint8_t bytes[32] = {0};
	int fd;

	unlinkat(dfd, ECFS_DIR_ID_NAME, 0);
	fd = openat(dfd, ECFS_DIR_ID_NAME, O_WRONLY | O_CREAT | O_EXCL, 0444);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
	close(fd);
}

Test(names, dirid_create_and_read)
{
	uint8_t id[ECFS_DIR_ID_SIZE], id2[ECFS_DIR_ID_SIZE], back[ECFS_DIR_ID_SIZE];
	struct stat st;
	int d1 = open_dir("d1"), d2 = open_dir("d2");

	cr_assert_eq(ecfs_dirid_read(d1, back), -ENOENT);
	cr_assert_eq(ecfs_dirid_create(d1, id), 0);
	cr_assert_eq(ecfs_dirid_create(d2, id2), 0);
	cr_assert_neq(memcmp(id, id2, sizeof(id)), 0, "two directories, one ID");
	memset(back, 0, sizeof(back));
	cr_assert_eq(ecfs_dirid_read(d1, back), 0);
	cr_assert_eq(memcmp(id, back, sizeof(id)), 0);
	cr_assert_eq(fstatat(d1, ECFS_DIR_ID_NAME, &st, 0), 0);
	cr_assert_eq(st.st_size, ECFS_DIR_ID_SIZE);
	cr_assert_eq(st.st_mode & 0777, 0444);
	/* An existing ID is never replaced. */
	cr_assert_eq(ecfs_dirid_create(d1, id2), -EEXIST);
	cr_assert_eq(ecfs_dirid_read(d1, back), 0);
	cr_assert_eq(memcmp(id, back, sizeof(id)), 0);

	put_dirid_file(d1, 15);
	cr_assert_eq(ecfs_dirid_read(d1, back), -EUCLEAN);
	put_dirid_file(d1, 17);
	cr_assert_eq(ecfs_dirid_read(d1, back), -EUCLEAN);
	put_dirid_file(d1, 0);
	cr_assert_eq(ecfs_dirid_read(d1, back), -EUCLEAN);
	put_dirid_file(d1, 32);
	cr_assert_eq(ecfs_dirid_read(d1, back), -EUCLEAN);
	put_dirid_file(d1, 16);
	cr_assert_eq(ecfs_dirid_read(d1, back), 0);
	close(d1);
	close(d2);
}

/* A FIFO or a symbolic link in place of the ID file is refused at once, named for what it is:
 * opening the FIFO must not wait for a writer, the link must not be followed. */
Test(names, dirid_hostile_objects)
{
	uint8_t id[ECFS_DIR_ID_SIZE], back[ECFS_DIR_ID_SIZE];
	int d1 = open_dir("h1"), d2 = open_dir("h2");

	cr_assert_eq(ecfs_dirid_create(d2, id), 0);
	cr_assert_eq(mkfifoat(d1, ECFS_DIR_ID_NAME, 0600), 0);
	cr_assert_eq(ecfs_dirid_read(d1, back), -EUCLEAN);
	cr_assert(strstr(ecfs_last_error(), "is a FIFO, not a regular file"), "%s",
		  ecfs_last_error());
	cr_assert_eq(unlinkat(d1, ECFS_DIR_ID_NAME, 0), 0);
	cr_assert_eq(symlinkat("../h2/" ECFS_DIR_ID_NAME, d1, ECFS_DIR_ID_NAME), 0);
	cr_assert_eq(ecfs_dirid_read(d1, back), -EUCLEAN);
	cr_assert(strstr(ecfs_last_error(), "is a symbolic link, not a regular file"), "%s",
		  ecfs_last_error());
	cr_assert_eq(unlinkat(d1, ECFS_DIR_ID_NAME, 0), 0);
	cr_assert_eq(mkdirat(d1, ECFS_DIR_ID_NAME, 0700), 0);
	cr_assert_eq(ecfs_dirid_read(d1, back), -EUCLEAN);
	cr_assert(strstr(ecfs_last_error(), "is a directory, not a regular file"), "%s",
		  ecfs_last_error());
	close(d1);
	close(d2);
}
