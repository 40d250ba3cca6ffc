/* SPDX-License-Identifier: MIT */
/* test_kms_store.c - the kmsd key store and seal: changes persist across unseal, a wrong
 * master key or any tampered byte is refused, malformed contents are -EUCLEAN, and shares
 * unseal only at the threshold. */
#include <criterion/criterion.h>

#include "kmsd_store.h"
#include "tmpdir_helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static uint8_t master[KMSD_SECRET_SIZE];
static const uint8_t uuid[16] = {0xaa, 1, 2, 3, 4, 5, 0x46, 7, 0x88, 9, 10, 11, 12, 13, 14, 15};

static void setup(void)
{
	tmpdir_make(dir, sizeof(dir), "kstore");
	cr_assert_eq(ecfs_random(master, sizeof(master)), 0);
	cr_assert_eq(kmsd_store_create(dir, 5, 3, master, uuid), 0, "%s", ecfs_last_error());
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

static void store_path(char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", dir, KMSD_STORE_NAME);
}

/* Flips one bit of the store file at off. */
static void flip(long off)
{
	char path[128];
	uint8_t b;
	int fd;

	store_path(path, sizeof(path));
	fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

TestSuite(kms_store, .init = setup, .fini = teardown);

Test(kms_store, changes_persist)
{
	struct kmsd_store *s = open_unsealed();
	struct kmsd_key *k;
	uint8_t v1[KMSD_SECRET_SIZE];

	cr_assert_eq(s->n, 5);
	cr_assert_eq(s->t, 3);
	cr_assert_eq(s->nkeys, 0);
	cr_assert_eq(kmsd_store_create_key(s, "alpha", &k), 0);
	memcpy(v1, kmsd_key_version(k, 1)->key, sizeof(v1));
	cr_assert_eq(kmsd_store_rotate(s, k), 0);
	cr_assert_eq(kmsd_store_configure(s, k, 2, true), 0);
	cr_assert_eq(kmsd_store_create_key(s, "beta", &k), 0);
	cr_assert_eq(kmsd_store_create_key(s, "gamma", &k), 0);
	k = kmsd_store_find(s, "beta");
	cr_assert_eq(kmsd_store_delete(s, k), 0);
	cr_assert_eq(kmsd_store_configure(s, kmsd_store_find(s, "gamma"), 2, false), -EINVAL);
	kmsd_store_free(s);

	s = open_unsealed();
	cr_assert_eq(s->nkeys, 2);
	k = kmsd_store_find(s, "alpha");
	cr_assert_not_null(k);
	cr_assert_eq(k->nversions, 2);
	cr_assert_eq(k->min_decryption, 2);
	cr_assert(k->deletion_allowed);
	cr_assert_eq(memcmp(kmsd_key_version(k, 1)->key, v1, sizeof(v1)), 0);
	cr_assert_neq(memcmp(kmsd_key_version(k, 2)->key, v1, sizeof(v1)), 0);
	cr_assert_null(kmsd_store_find(s, "beta"));
	cr_assert_not_null(kmsd_store_find(s, "gamma"));
	cr_assert_null(kmsd_key_version(k, 3));
	kmsd_store_free(s);
}

Test(kms_store, no_key_bytes_in_the_file)
{
	struct kmsd_store *s = open_unsealed();
	struct kmsd_key *k;
	char path[128];
	uint8_t buf[4096];
	ssize_t n;
	int fd;

	cr_assert_eq(kmsd_store_create_key(s, "plainname", &k), 0);
	store_path(path, sizeof(path));
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	cr_assert(n > 0);
	cr_assert_null(memmem(buf, (size_t)n, kmsd_key_version(k, 1)->key, KMSD_SECRET_SIZE));
	cr_assert_null(memmem(buf, (size_t)n, "plainname", 9));
	cr_assert_null(memmem(buf, (size_t)n, master, sizeof(master)));
	kmsd_store_free(s);
}

Test(kms_store, wrong_master_refused)
{
	struct kmsd_store *s;
	uint8_t wrong[KMSD_SECRET_SIZE];

	memcpy(wrong, master, sizeof(wrong));
	wrong[7] ^= 1;
	cr_assert_eq(kmsd_store_open(dir, &s), 0);
	cr_assert_eq(kmsd_store_unseal(s, wrong), -EKEYREJECTED);
	cr_assert_null(s->store_key);
	cr_assert_eq(kmsd_store_unseal(s, master), 0);
	kmsd_store_free(s);
}

Test(kms_store, every_tampered_byte_refused)
{
	struct kmsd_store *s = open_unsealed();
	struct kmsd_key *k;
	struct stat st;
	char path[128];

	cr_assert_eq(kmsd_store_create_key(s, "k", &k), 0);
	kmsd_store_free(s);
	store_path(path, sizeof(path));
	cr_assert_eq(stat(path, &st), 0);
	for (long off = 0; off < st.st_size; off++) {
		int r = kmsd_store_open(dir, &s);

		flip(off);
		if (r == 0) {
			r = kmsd_store_unseal(s, master);
			kmsd_store_free(s);
		}
		cr_assert(r == -EKEYREJECTED || r == -EUCLEAN || r == -EPROTONOSUPPORT,
			  "byte %ld: %d", off, r);
		flip(off);
	}
	s = open_unsealed();
	kmsd_store_free(s);
}

Test(kms_store, malformed_contents_are_euclean)
{
	struct kmsd_store *s = open_unsealed();
	struct kmsd_key *k;
	struct ecfs_secret *p;
	size_t len;

	cr_assert_eq(kmsd_store_create_key(s, "one", &k), 0);
	cr_assert_eq(kmsd_store_rotate(s, k), 0);
	cr_assert_eq(kmsd_store_create_key(s, "two", &k), 0);
	cr_assert_eq(kmsd_store_encode(s, &p), 0);
	len = ecfs_secret_len(p);
	/* Every truncation, and one byte too many, is refused before anything is trusted. */
	for (size_t n = 0; n < len; n++)
		cr_assert_eq(kmsd_store_decode(s, ecfs_secret_data(p), n), -EUCLEAN, "len %zu", n);
	uint8_t *more = calloc(1, len + 1);
	memcpy(more, ecfs_secret_data(p), len);
	cr_assert_eq(kmsd_store_decode(s, more, len + 1), -EUCLEAN);
	/* A key count far beyond the bytes present, a bad name, a zero min version. */
	more[0] = 0xff;
	more[1] = 0xff;
	cr_assert_eq(kmsd_store_decode(s, more, len), -EUCLEAN);
	memcpy(more, ecfs_secret_data(p), len);
	more[6] = '/';
	cr_assert_eq(kmsd_store_decode(s, more, len), -EUCLEAN);
	memcpy(more, ecfs_secret_data(p), len);
	memset(more + 4 + 2 + 3 + 1, 0, 4);
	cr_assert_eq(kmsd_store_decode(s, more, len), -EUCLEAN);
	/* The good one still decodes, and left the keys as they were meanwhile. */
	cr_assert_eq(s->nkeys, 2);
	cr_assert_eq(kmsd_store_decode(s, ecfs_secret_data(p), len), 0);
	cr_assert_eq(s->nkeys, 2);
	free(more);
	ecfs_secret_free(p);
	kmsd_store_free(s);
}

Test(kms_store, create_refuses_existing)
{
	cr_assert_eq(kmsd_store_create(dir, 5, 3, master, uuid), -EEXIST);
}

/* ---- the seal ------------------------------------------------------------------------------- */

static void share_texts(char texts[5][KMSD_SHARE_HEX + 1])
{
	uint8_t ys[5 * KMSD_SECRET_SIZE];
	struct kmsd_share sh;

	cr_assert_eq(kmsd_shamir_split(master, KMSD_SECRET_SIZE, 5, 3, ys), 0);
	for (int i = 0; i < 5; i++) {
		sh.index = (uint8_t)(i + 1);
		memcpy(sh.y, ys + i * KMSD_SECRET_SIZE, KMSD_SECRET_SIZE);
		kmsd_share_encode(uuid, &sh, texts[i]);
	}
}

Test(kms_store, seal_opens_at_threshold)
{
	char t[5][KMSD_SHARE_HEX + 1];
	struct kmsd_store *s;
	struct kmsd_seal z;

	share_texts(t);
	cr_assert_eq(kmsd_store_open(dir, &s), 0);
	cr_assert_eq(kmsd_seal_init(&z, s), 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[4], KMSD_SHARE_HEX), 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[4], KMSD_SHARE_HEX), 0); /* again: ignored */
	cr_assert(z.sealed && z.progress == 1);
	cr_assert_eq(kmsd_seal_submit(&z, t[1], KMSD_SHARE_HEX), 0);
	cr_assert(z.sealed && z.progress == 2);
	cr_assert_eq(kmsd_seal_submit(&z, t[2], KMSD_SHARE_HEX), 0, "%s", ecfs_last_error());
	cr_assert(!z.sealed && z.progress == 0);
	cr_assert_not_null(s->store_key);
	kmsd_seal_close(&z);
	cr_assert(z.sealed);
	cr_assert_null(s->store_key);
	kmsd_seal_free(&z);
	kmsd_store_free(s);
}

Test(kms_store, seal_refuses_bad_shares)
{
	char t[5][KMSD_SHARE_HEX + 1], forged[KMSD_SHARE_HEX + 1];
	struct kmsd_share sh = {.index = 4};
	struct kmsd_store *s;
	struct kmsd_seal z;

	share_texts(t);
	cr_assert_eq(kmsd_store_open(dir, &s), 0);
	cr_assert_eq(kmsd_seal_init(&z, s), 0);
	t[0][20] = t[0][20] == 'a' ? 'b' : 'a';
	cr_assert_eq(kmsd_seal_submit(&z, t[0], KMSD_SHARE_HEX), -EBADMSG);
	cr_assert_eq(z.progress, 0);
	/* A share with a valid check but wrong bytes passes alone, and the combination is then
	 * refused by the store's authentication; the count starts over. */
	cr_assert_eq(ecfs_random(sh.y, sizeof(sh.y)), 0);
	kmsd_share_encode(uuid, &sh, forged);
	cr_assert_eq(kmsd_seal_submit(&z, t[1], KMSD_SHARE_HEX), 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[2], KMSD_SHARE_HEX), 0);
	cr_assert_eq(kmsd_seal_submit(&z, forged, KMSD_SHARE_HEX), -EKEYREJECTED);
	cr_assert(z.sealed && z.progress == 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[1], KMSD_SHARE_HEX), 0);
	kmsd_seal_reset(&z);
	cr_assert_eq(z.progress, 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[3], KMSD_SHARE_HEX), 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[4], KMSD_SHARE_HEX), 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[2], KMSD_SHARE_HEX), 0);
	cr_assert(!z.sealed);
	kmsd_seal_free(&z);
	kmsd_store_free(s);
}

/* With the verifiers init writes, a share forged with a valid check is refused on its own,
 * before it counts: the real shares' progress is kept and they still unseal. */
Test(kms_store, verifiers_refuse_forged_shares_at_once)
{
	uint8_t ys[5 * KMSD_SECRET_SIZE];
	char t[5][KMSD_SHARE_HEX + 1], forged[KMSD_SHARE_HEX + 1];
	struct kmsd_share sh = {.index = 1};
	struct kmsd_store *s;
	struct kmsd_seal z;

	cr_assert_eq(kmsd_shamir_split(master, KMSD_SECRET_SIZE, 5, 3, ys), 0);
	for (int i = 0; i < 5; i++) {
		struct kmsd_share real = {.index = (uint8_t)(i + 1)};

		memcpy(real.y, ys + i * KMSD_SECRET_SIZE, KMSD_SECRET_SIZE);
		kmsd_share_encode(uuid, &real, t[i]);
	}
	cr_assert_eq(kmsd_verifiers_write(dir, uuid, ys, 5), 0, "%s", ecfs_last_error());
	cr_assert_eq(kmsd_verifiers_write(dir, uuid, ys, 5), -EEXIST);
	cr_assert_eq(kmsd_store_open(dir, &s), 0, "%s", ecfs_last_error());
	cr_assert_not_null(s->verifiers);
	cr_assert_eq(kmsd_seal_init(&z, s), 0);
	cr_assert_eq(ecfs_random(sh.y, sizeof(sh.y)), 0);
	kmsd_share_encode(uuid, &sh, forged);
	/* Before the real share 1: not taken for it. */
	cr_assert_eq(kmsd_seal_submit(&z, forged, KMSD_SHARE_HEX), -EKEYREJECTED);
	cr_assert_eq(z.progress, 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[0], KMSD_SHARE_HEX), 0);
	cr_assert_eq(kmsd_seal_submit(&z, t[3], KMSD_SHARE_HEX), 0);
	sh.index = 3;
	kmsd_share_encode(uuid, &sh, forged);
	cr_assert_eq(kmsd_seal_submit(&z, forged, KMSD_SHARE_HEX), -EKEYREJECTED);
	cr_assert(z.sealed && z.progress == 2);
	cr_assert_eq(kmsd_seal_submit(&z, t[2], KMSD_SHARE_HEX), 0, "%s", ecfs_last_error());
	cr_assert(!z.sealed);
	kmsd_seal_close(&z);
	kmsd_seal_free(&z);
	kmsd_store_free(s);
	ecfs_wipe(ys, sizeof(ys));
}
