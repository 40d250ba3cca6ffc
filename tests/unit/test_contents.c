/* test_contents.c - file contents: chunk ciphers, blob size arithmetic, blob I/O, sealed values. */
#include <criterion/criterion.h>

#include "internal.h"
#include "tmpdir_helpers.h"

#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const enum ecfs_cipher ciphers[] = {ECFS_CIPHER_AES256_GCM, ECFS_CIPHER_AES256_XTS,
					   ECFS_CIPHER_AES128_XTS, ECFS_CIPHER_SM4_XTS};
static const uint32_t chunk_sizes[] = {4096, 65536};

/* ---- fixture: a scratch directory, one key ------------------------------------------- */

static char tmp[64];
static struct ecfs_secret *key;
static int nvol;
static uint32_t format; /* of the volumes vol_make makes; 0: the default */

static void setup(void)
{
	static const char bytes[] = "0123456789abcdef0123456789ABCDEF-contents";

	tmpdir_make(tmp, sizeof(tmp), "contents");
	key = ecfs_secret_new(sizeof(bytes));
	cr_assert_not_null(key);
	memcpy(ecfs_secret_data(key), bytes, sizeof(bytes));
}

static void teardown(void)
{
	ecfs_secret_free(key);
	tmpdir_remove(tmp);
}

TestSuite(contents, .init = setup, .fini = teardown);

/* ---- helpers: volumes, file keys, pseudo-random bytes ------------------------------------ */

struct vol {
	struct ecfs_volume *v;
	struct ecfs_crypto *c;
	uint32_t cs, over;
};

static void vol_make(struct vol *x, enum ecfs_cipher cipher, uint32_t chunk)
{
	struct ecfs_credential cred = {.type = ECFS_SLOT_KEYFILE, .secret = key, .origin = "key"};
	struct ecfs_create_params p = {.cipher = cipher,
				       .chunk_size = chunk,
				       .argon2 = {1, 8192, 1},
				       .format_version = format};
	char dir[128];
	int r;

	snprintf(dir, sizeof(dir), "%s/vol%d", tmp, nvol++);
	r = ecfs_volume_create(dir, &p, &cred, 1, &x->v);
	cr_assert_eq(r, 0, "create %s: %d (%s)", dir, r, ecfs_last_error());
	cr_assert_eq(ecfs_crypto_new(x->v, &x->c), 0);
	x->cs = ecfs_chunk_size(x->v);
	x->over = ecfs_chunk_overhead(x->v);
	cr_assert_eq(x->cs, chunk);
	cr_assert_eq(x->over, cipher == ECFS_CIPHER_AES256_GCM ? 28u : 0u);
}

static void vol_free(struct vol *x)
{
	ecfs_crypto_free(x->c);
	ecfs_volume_close(x->v);
}

static struct ecfs_file_key *new_file_key(const struct ecfs_volume *v, uint8_t id[16])
{
	uint8_t hdr[ECFS_BLOB_HEADER_SIZE];
	struct ecfs_file_key *k = NULL;

	cr_assert_eq(ecfs_blob_header_new(hdr), 0);
	cr_assert_eq(ecfs_blob_header_parse(hdr, sizeof(hdr), id), 0);
	cr_assert_eq(ecfs_file_key_new(v, id, &k), 0);
	return k;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	cr_assert_not_null(p);
	return p;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static const char *cname(const struct vol *x)
{
	return ecfs_cipher_name(x->v->hdr.cipher);
}

/* A file key lives in secret memory; the struct holds a pointer, so it must be aligned for
 * one (under UBSan a misaligned one fails every test that makes a file key). */
Test(contents, file_key_is_aligned)
{
	struct vol x;
	struct ecfs_file_key *k;
	uint8_t id[16];

	vol_make(&x, ECFS_CIPHER_AES256_XTS, 4096);
	k = new_file_key(x.v, id);
	cr_assert_eq((uintptr_t)k % _Alignof(void *), 0, "file key at %p", (void *)k);
	ecfs_file_key_free(k);
	vol_free(&x);
}

/* ---- single chunks ------------------------------------------------------------------------ */

Test(contents, chunk_round_trips)
{
	static const uint64_t idxs[] = {0, 1, 0xffffffffull, UINT64_MAX};

	/* Format 1's short XTS tails (format 2's: format2_xts_tail_known_answer_...). */
	format = 1;
	rng_state = 1;
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		for (size_t si = 0; si < ECFS_ARRAY_SIZE(chunk_sizes); si++) {
			struct vol x;
			struct ecfs_file_key *k;
			uint8_t id[16], *plain, *out, *back;
			uint32_t cs = chunk_sizes[si];
			size_t lens[] = {1,	    15,	       16,	  17,	    31,	    32,
					 33,	    cs - 17,   cs - 16,	  cs - 15,  cs - 1, cs,
					 8191 % cs, 8192 % cs, 8193 % cs, 8200 % cs};

			vol_make(&x, ciphers[ci], cs);
			k = new_file_key(x.v, id);
			plain = xmalloc(cs + 1);
			out = xmalloc(cs + 1 + x.over + 16);
			back = xmalloc(cs + 1);
			fill(plain, cs + 1);
			for (size_t li = 0; li < ECFS_ARRAY_SIZE(lens); li++) {
				size_t len = lens[li];

				if (len == 0)
					continue;
				for (size_t ii = 0; ii < ECFS_ARRAY_SIZE(idxs); ii++) {
					int r;

					memset(out, 0xa5, cs + 1 + x.over + 16);
					r = ecfs_chunk_encrypt(x.c, k, idxs[ii], plain, len, out);
					cr_assert_eq(r, 0, "%s/%u len %zu: encrypt %d", cname(&x),
						     cs, len, r);
					for (size_t j = len + x.over; j < len + x.over + 16; j++)
						cr_assert_eq(out[j], 0xa5,
							     "%s len %zu: wrote past %zu bytes",
							     cname(&x), len, len + x.over);
					cr_assert(memcmp(out + x.over / 28 * 12, plain, len) != 0 ||
						      len < 4,
						  "%s len %zu: stored chunk holds the plaintext",
						  cname(&x), len);
					memset(back, 0x5a, cs + 1);
					r = ecfs_chunk_decrypt(x.c, k, idxs[ii], out, len + x.over,
							       back);
					cr_assert_eq(
					    r, (int)len, "%s/%u len %zu idx %llu: decrypt %d",
					    cname(&x), cs, len, (unsigned long long)idxs[ii], r);
					cr_assert_eq(memcmp(back, plain, len), 0,
						     "%s/%u len %zu: round trip differs", cname(&x),
						     cs, len);
					cr_assert_eq(back[len], 0x5a, "%s len %zu: wrote past",
						     cname(&x), len);
				}
			}
			cr_assert_eq(ecfs_chunk_encrypt(x.c, k, 0, plain, cs + 1, out), -EINVAL);
			cr_assert_eq(ecfs_chunk_encrypt(x.c, k, 0, plain, 0, out), -EINVAL);
			cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 0, out, 0, back), -EUCLEAN);
			cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 0, out, x.over, back), -EUCLEAN);
			cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 0, out, cs + x.over + 1, back),
				     -EUCLEAN);
			ecfs_file_key_free(k);
			free(plain);
			free(out);
			free(back);
			vol_free(&x);
		}
	}
}

/* Every byte of a stored GCM chunk is authenticated; a failure leaves no plaintext. */
Test(contents, gcm_any_flipped_byte_fails)
{
	static const size_t lens[] = {1, 100, 4096};
	struct vol x;
	struct ecfs_file_key *k;
	uint8_t id[16], plain[4096], out[4096 + 28], back[4096];

	rng_state = 2;
	vol_make(&x, ECFS_CIPHER_AES256_GCM, 4096);
	k = new_file_key(x.v, id);
	fill(plain, sizeof(plain));
	for (size_t li = 0; li < ECFS_ARRAY_SIZE(lens); li++) {
		size_t len = lens[li], slen = len + 28;

		cr_assert_eq(ecfs_chunk_encrypt(x.c, k, 3, plain, len, out), 0);
		for (size_t pos = 0; pos < slen; pos++) {
			for (int bit = 0; bit < 8; bit += 7) {
				int r;

				out[pos] ^= (uint8_t)(1u << bit);
				memset(back, 0xee, sizeof(back));
				r = ecfs_chunk_decrypt(x.c, k, 3, out, slen, back);
				out[pos] ^= (uint8_t)(1u << bit);
				cr_assert_eq(r, -EBADMSG, "len %zu: flip at %zu bit %d gave %d",
					     len, pos, bit, r);
				cr_assert(all_zero(back, len),
					  "len %zu: plaintext left after failure", len);
			}
		}
		/* One byte short or long moves the tag. */
		cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 3, out, slen - 1, back),
			     len == 1 ? -EUCLEAN : -EBADMSG);
		cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 3, out, slen, back), (int)len);
	}
	ecfs_file_key_free(k);
	vol_free(&x);
}

/* A GCM chunk is bound to its index, its file and its volume (the UUID). */
Test(contents, gcm_chunk_is_bound_to_index_file_and_volume)
{
	struct vol x, y;
	struct ecfs_volume other_uuid;
	struct ecfs_crypto *c2;
	struct ecfs_file_key *k, *k2, *k3, *ky;
	uint8_t id[16], id2[16], idy[16], plain[500], out[528], back[500];

	rng_state = 3;
	vol_make(&x, ECFS_CIPHER_AES256_GCM, 4096);
	vol_make(&y, ECFS_CIPHER_AES256_GCM, 4096);
	k = new_file_key(x.v, id);
	k2 = new_file_key(x.v, id2);
	ky = new_file_key(y.v, idy);
	fill(plain, sizeof(plain));
	cr_assert_eq(ecfs_chunk_encrypt(x.c, k, 5, plain, sizeof(plain), out), 0);
	cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 5, out, sizeof(out), back), 500);
	cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 4, out, sizeof(out), back), -EBADMSG);
	cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 6, out, sizeof(out), back), -EBADMSG);
	cr_assert_eq(ecfs_chunk_decrypt(x.c, k, 5 + (1ull << 32), out, sizeof(out), back),
		     -EBADMSG);
	cr_assert_eq(ecfs_chunk_decrypt(x.c, k2, 5, out, sizeof(out), back), -EBADMSG);
	cr_assert_eq(ecfs_chunk_decrypt(y.c, ky, 5, out, sizeof(out), back), -EBADMSG);

	/* The same keys under another UUID: only the associated data differs. */
	other_uuid = *x.v;
	other_uuid.hdr.uuid[15] ^= 1;
	cr_assert_eq(ecfs_crypto_new(&other_uuid, &c2), 0);
	cr_assert_eq(ecfs_file_key_new(&other_uuid, id, &k3), 0);
	cr_assert_eq(ecfs_chunk_decrypt(c2, k3, 5, out, sizeof(out), back), -EBADMSG);
	other_uuid.hdr.uuid[15] ^= 1;
	cr_assert_eq(ecfs_chunk_decrypt(c2, k3, 5, out, sizeof(out), back), 500,
		     "control: the copied volume decrypts with its own UUID");
	cr_assert_eq(memcmp(back, plain, sizeof(plain)), 0);

	/* Two encryptions of the same chunk differ (random nonces). */
	{
		uint8_t out2[528];

		cr_assert_eq(ecfs_chunk_encrypt(x.c, k, 5, plain, sizeof(plain), out2), 0);
		cr_assert_neq(memcmp(out, out2, sizeof(out)), 0);
		cr_assert_neq(memcmp(out, out2, 12), 0, "nonce reused");
	}
	ecfs_crypto_free(c2);
	ecfs_file_key_free(k3);
	ecfs_file_key_free(k);
	ecfs_file_key_free(k2);
	ecfs_file_key_free(ky);
	vol_free(&x);
	vol_free(&y);
}

/* An all-zero stored chunk is a hole and reads as zeros; a short XTS tail is not a hole. */
Test(contents, zero_chunk_is_a_hole)
{
	/* Format 1's short XTS tails (format 2's: format2_xts_tail_known_answer_...). */
	format = 1;
	rng_state = 4;
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		struct vol x;
		struct ecfs_file_key *k;
		uint8_t id[16], zeros[4096 + 28] = {0}, back[4096], enc[4096 + 28];

		vol_make(&x, ciphers[ci], 4096);
		k = new_file_key(x.v, id);
		for (size_t len = 1; len <= 4096; len += len < 40 ? 1 : 509) {
			int r;

			memset(back, 0x77, sizeof(back));
			r = ecfs_chunk_decrypt(x.c, k, 9, zeros, len + x.over, back);
			cr_assert_eq(r, (int)len, "%s len %zu: %d", cname(&x), len, r);
			/* fsck's test for a hole agrees with the reader's. */
			cr_assert_eq(ecfs_chunk_is_hole(x.v, zeros, len + x.over),
				     x.over || len >= 16, "%s len %zu", cname(&x), len);
			cr_assert_eq(ecfs_chunk_encrypt(x.c, k, 9, zeros, len, enc), 0);
			cr_assert(!ecfs_chunk_is_hole(x.v, enc, len + x.over) ||
				      (!x.over && len < 16),
				  "%s len %zu: a sealed chunk taken for a hole", cname(&x), len);
			if (x.over || len >= 16) {
				cr_assert(all_zero(back, len), "%s len %zu: hole not zeros",
					  cname(&x), len);
				continue;
			}
			/* A short XTS tail is a keystream XOR: zeros decrypt to the keystream. */
			cr_assert_eq(ecfs_chunk_encrypt(x.c, k, 9, zeros, len, enc), 0);
			cr_assert_eq(memcmp(back, enc, len), 0, "%s len %zu", cname(&x), len);
		}
		ecfs_file_key_free(k);
		vol_free(&x);
	}
}

Test(contents, xts_ciphertext_depends_on_file_and_index)
{
	rng_state = 5;
	for (size_t ci = 1; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		static const size_t lens[] = {5, 16, 100, 4096};
		struct vol x;
		struct ecfs_file_key *k1, *k2;
		uint8_t id1[16], id2[16], plain[4096], a[4097], b[4097], c[4097];

		vol_make(&x, ciphers[ci], 4096);
		k1 = new_file_key(x.v, id1);
		k2 = new_file_key(x.v, id2);
		fill(plain, sizeof(plain));
		for (size_t li = 0; li < ECFS_ARRAY_SIZE(lens); li++) {
			size_t len = lens[li];

			a[len] = b[len] = c[len] = 0xcc;
			cr_assert_eq(ecfs_chunk_encrypt(x.c, k1, 2, plain, len, a), 0);
			cr_assert_eq(ecfs_chunk_encrypt(x.c, k2, 2, plain, len, b), 0);
			cr_assert_neq(memcmp(a, b, len), 0, "%s len %zu: two files alike",
				      cname(&x), len);
			cr_assert_eq(ecfs_chunk_encrypt(x.c, k1, 3, plain, len, c), 0);
			cr_assert_neq(memcmp(a, c, len), 0, "%s len %zu: two indexes alike",
				      cname(&x), len);
			cr_assert_eq(ecfs_chunk_encrypt(x.c, k1, 2, plain, len, c), 0);
			cr_assert_eq(memcmp(a, c, len), 0, "%s len %zu: not deterministic",
				     cname(&x), len);
			cr_assert(a[len] == 0xcc && b[len] == 0xcc && c[len] == 0xcc,
				  "%s len %zu: ciphertext longer than the plaintext", cname(&x),
				  len);
		}
		ecfs_file_key_free(k1);
		ecfs_file_key_free(k2);
		vol_free(&x);
	}
}

/* Whole-block XTS chunks are IEEE 1619 XTS with the tweak file ID ^ index (little-endian):
 * OpenSSL's own AES-XTS must give the same bytes. */
Test(contents, xts_chunks_match_openssl_aes_xts)
{
	static const enum ecfs_cipher aes[] = {ECFS_CIPHER_AES256_XTS, ECFS_CIPHER_AES128_XTS};
	static const size_t lens[] = {16,   17,	  31,	32,   33,    4095,  4096, 8191,
				      8192, 8193, 8208, 8210, 16400, 65535, 65536};

	rng_state = 6;
	for (size_t ai = 0; ai < ECFS_ARRAY_SIZE(aes); ai++) {
		struct vol x;
		struct ecfs_file_key *k;
		const struct ecfs_keys *keys;
		uint8_t id[16], tweak[16], *plain, *mine, *theirs;
		uint64_t idx = 0x0102030405060708ull;
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

		vol_make(&x, aes[ai], 65536);
		k = new_file_key(x.v, id);
		keys = x.v->keys;
		plain = xmalloc(65536);
		mine = xmalloc(65536);
		theirs = xmalloc(65536);
		fill(plain, 65536);
		memcpy(tweak, id, 16);
		for (int i = 0; i < 8; i++)
			tweak[i] ^= (uint8_t)(idx >> (8 * i));
		for (size_t li = 0; li < ECFS_ARRAY_SIZE(lens); li++) {
			int n = 0, n2 = 0;

			cr_assert_eq(ecfs_chunk_encrypt(x.c, k, idx, plain, lens[li], mine), 0);
			cr_assert_eq(EVP_EncryptInit_ex(ctx,
							aes[ai] == ECFS_CIPHER_AES256_XTS
							    ? EVP_aes_256_xts()
							    : EVP_aes_128_xts(),
							NULL, keys->contents, tweak),
				     1);
			cr_assert_eq(EVP_EncryptUpdate(ctx, theirs, &n, plain, (int)lens[li]), 1);
			cr_assert_eq(EVP_EncryptFinal_ex(ctx, theirs + n, &n2), 1);
			cr_assert_eq((size_t)(n + n2), lens[li]);
			cr_assert_eq(memcmp(mine, theirs, lens[li]), 0, "%s len %zu differs",
				     cname(&x), lens[li]);
		}
		EVP_CIPHER_CTX_free(ctx);
		free(plain);
		free(mine);
		free(theirs);
		ecfs_file_key_free(k);
		vol_free(&x);
	}
}

/* ---- size arithmetic --------------------------------------------------------------------- */

static void sizes_are_inverse(void)
{
	for (size_t ci = 0; ci < 2; ci++) {
		for (size_t si = 0; si < ECFS_ARRAY_SIZE(chunk_sizes); si++) {
			struct vol x;
			uint64_t cs, sc, end, prev = 0, bad = 0, hs;

			vol_make(&x, ciphers[ci], chunk_sizes[si]);
			hs = ecfs_blob_header_size(x.v);
			cr_assert_eq(hs, format == 2 ? 128u : 24u);
			cs = x.cs;
			sc = cs + x.over;
			end = 3 * cs + 17;
			cr_assert_eq(ecfs_blob_size(x.v, 0), hs);
			for (uint64_t p = 0; p <= end; p++) {
				uint64_t b = ecfs_blob_size(x.v, p);

				cr_assert_eq(ecfs_plain_size(x.v, b), (int64_t)p,
					     "%s/%llu: plain size of blob %llu", cname(&x),
					     (unsigned long long)cs, (unsigned long long)b);
				if (p > 0)
					cr_assert_eq(b - prev, (p - 1) % cs == 0 ? 1 + x.over : 1,
						     "%s: blob size step at %llu", cname(&x),
						     (unsigned long long)p);
				prev = b;
			}
			for (uint64_t i = 0; i <= 4; i++)
				cr_assert_eq(ecfs_chunk_offset(x.v, i), hs + i * sc);
			cr_assert_eq(ecfs_plain_size(x.v, 0), 0, "an empty file shows as empty");
			for (uint64_t b = 1; b < hs; b++)
				cr_assert_eq(ecfs_plain_size(x.v, b), -EUCLEAN, "blob size %llu",
					     (unsigned long long)b);
			for (uint64_t b = hs; b <= prev; b++) {
				int64_t p = ecfs_plain_size(x.v, b);
				uint64_t rest = (b - hs) % sc;

				if (rest != 0 && rest <= x.over) {
					cr_assert_eq(p, -EUCLEAN, "%s: blob size %llu", cname(&x),
						     (unsigned long long)b);
					bad++;
					continue;
				}
				cr_assert(p >= 0, "%s: blob size %llu gave %lld", cname(&x),
					  (unsigned long long)b, (long long)p);
				cr_assert_eq(ecfs_blob_size(x.v, (uint64_t)p), b);
			}
			cr_assert_eq(bad, 4 * (uint64_t)x.over, "%s: invalid sizes", cname(&x));
			/* Huge sizes: an error, or a size that maps back (no overflow). */
			cr_assert_eq(ecfs_plain_size(x.v, UINT64_MAX), -EUCLEAN);
			for (int i = -3; i <= 3; i++) {
				uint64_t huge[3] = {(uint64_t)INT64_MAX + (uint64_t)(i * 1009),
						    UINT64_MAX / 2 / sc * sc + (uint64_t)(i * 7),
						    UINT64_MAX - 100 + (uint64_t)(i * 5)};

				for (int j = 0; j < 3; j++) {
					int64_t p = ecfs_plain_size(x.v, huge[j]);

					cr_assert(p == -EUCLEAN ||
						      (p >= 0 &&
						       ecfs_blob_size(x.v, (uint64_t)p) == huge[j]),
						  "%s: blob size %llu gave %lld", cname(&x),
						  (unsigned long long)huge[j], (long long)p);
				}
			}
			vol_free(&x);
		}
	}
}

Test(contents, plain_and_blob_sizes_are_inverse)
{
	format = 1;
	sizes_are_inverse();
}

Test(contents, plain_and_blob_sizes_are_inverse_format2)
{
	format = 2;
	sizes_are_inverse();
}

/* ---- blob I/O against an in-memory model -------------------------------------------------- */

struct blob {
	struct vol x;
	struct ecfs_file_key *k;
	int fd;
	uint8_t *model;
	size_t size, cap;
	uint8_t *buf; /* scratch for reads and writes */
	size_t bufcap;
};

static void blob_open(struct blob *b, enum ecfs_cipher cipher, uint32_t chunk)
{
	struct ecfs_blob_header h;
	char path[128];

	memset(b, 0, sizeof(*b));
	vol_make(&b->x, cipher, chunk);
	snprintf(path, sizeof(path), "%s/blob%d", tmp, nvol);
	b->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert(b->fd >= 0);
	cr_assert_eq(ecfs_blob_header_init(b->x.v, &h), 0);
	cr_assert_eq(ecfs_blob_header_write(b->x.v, b->fd, &h), 0);
	cr_assert_eq(ecfs_file_key_new(b->x.v, h.file_id, &b->k), 0);
	/* The ranged I/O makes holes without a holes map (the daemon keeps that): any hole
	 * reads as zeros here. */
	ecfs_file_key_holes_any(b->k);
	b->cap = 8 * (size_t)chunk;
	b->model = xmalloc(b->cap);
	b->bufcap = 8 * (size_t)chunk;
	b->buf = xmalloc(b->bufcap);
}

static void blob_close(struct blob *b)
{
	close(b->fd);
	ecfs_file_key_free(b->k);
	vol_free(&b->x);
	free(b->model);
	free(b->buf);
}

static void model_resize(struct blob *b, size_t size)
{
	cr_assert(size <= b->cap, "model too small for %zu", size);
	if (size > b->size)
		memset(b->model + b->size, 0, size - b->size);
	b->size = size;
}

/* What the daemon does after a write or truncate (format 2, XTS): a short tail written under
 * the key's next nonce makes that nonce the current one (the daemon then stores it). */
static void tail_advance(struct ecfs_file_key *k)
{
	uint8_t nonce[16];

	cr_assert_geq(ecfs_file_key_tail_advance(k, nonce), 0);
}

/* Every other write goes through ecfs_blob_pwrite_in_place, with a copy of the data it may
 * spend. */
static void bwrite(struct blob *b, uint64_t off, size_t len, const char *ctx)
{
	static unsigned writes;
	uint8_t *data = xmalloc(len), *spend = xmalloc(len);
	uint64_t bad = UINT64_MAX;
	ssize_t r;

	fill(data, len);
	memcpy(spend, data, len);
	if (writes++ % 2)
		r = ecfs_blob_pwrite_in_place(b->x.c, b->k, b->fd, spend, len, off, &bad);
	else
		r = ecfs_blob_pwrite(b->x.c, b->k, b->fd, data, len, off, &bad);
	free(spend);
	cr_assert_eq(r, (ssize_t)len, "%s: %s/%u: write %zu at %llu gave %zd (bad chunk %llu; %s)",
		     ctx, cname(&b->x), b->x.cs, len, (unsigned long long)off, r,
		     (unsigned long long)bad, ecfs_last_error());
	if (off + len > b->size)
		model_resize(b, off + len);
	memcpy(b->model + off, data, len);
	free(data);
	tail_advance(b->k);
}

static void btruncate(struct blob *b, uint64_t size, const char *ctx)
{
	int r = ecfs_blob_truncate(b->x.c, b->k, b->fd, size, NULL);

	cr_assert_eq(r, 0, "%s: %s/%u: truncate %zu -> %llu gave %d (%s)", ctx, cname(&b->x),
		     b->x.cs, b->size, (unsigned long long)size, r, ecfs_last_error());
	model_resize(b, size);
	tail_advance(b->k);
}

static void bread(struct blob *b, uint64_t off, size_t len, const char *ctx)
{
	size_t want = off >= b->size ? 0 : (b->size - off < len ? b->size - off : len);
	uint64_t bad = UINT64_MAX;
	ssize_t r;

	cr_assert(len <= b->bufcap);
	r = ecfs_blob_pread(b->x.c, b->k, b->fd, b->buf, len, off, &bad);
	cr_assert_eq(r, (ssize_t)want, "%s: %s/%u: read %zu at %llu of %zu gave %zd (bad %llu)",
		     ctx, cname(&b->x), b->x.cs, len, (unsigned long long)off, b->size, r,
		     (unsigned long long)bad);
	if (want)
		cr_assert_eq(memcmp(b->buf, b->model + off, want), 0,
			     "%s: %s/%u: read %zu at %llu differs from the model", ctx,
			     cname(&b->x), b->x.cs, len, (unsigned long long)off);
}

/* The whole file equals the model, and the blob has the size the arithmetic says. */
static void bcheck(struct blob *b, const char *ctx)
{
	struct stat st;

	cr_assert_eq(fstat(b->fd, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, ecfs_blob_size(b->x.v, b->size),
		     "%s: %s/%u: blob of %lld bytes for %zu plaintext bytes", ctx, cname(&b->x),
		     b->x.cs, (long long)st.st_size, b->size);
	bread(b, 0, b->size + b->x.cs + 3 <= b->bufcap ? b->size + b->x.cs + 3 : b->size, ctx);
}

/* Writes at and around every chunk boundary into files of a few sizes (empty, a short tail,
 * several chunks), each checked in full against the model. */
static void writes_at_boundaries(uint64_t cs, const size_t *prefill, size_t nprefill)
{
	const uint64_t pts[] = {0, 1, 15, 16, 17, cs - 1, cs, cs + 1, 2 * cs + 7};
	char ctx[96];

	rng_state = 7;
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		struct blob b;

		blob_open(&b, ciphers[ci], (uint32_t)cs);
		for (size_t pi = 0; pi < nprefill; pi++) {
			for (size_t oi = 0; oi < ECFS_ARRAY_SIZE(pts); oi++) {
				for (size_t li = 1; li < ECFS_ARRAY_SIZE(pts); li++) {
					uint64_t off = pts[oi];
					size_t len = (size_t)pts[li];

					snprintf(ctx, sizeof(ctx), "file of %zu, write %zu at %llu",
						 prefill[pi], len, (unsigned long long)off);
					btruncate(&b, 0, ctx);
					if (prefill[pi])
						bwrite(&b, 0, prefill[pi], ctx);
					bwrite(&b, off, len, ctx);
					bcheck(&b, ctx);
					bread(&b, off ? off - 1 : 0, len + 2, ctx);
				}
			}
		}
		blob_close(&b);
	}
}

Test(contents, blob_writes_at_boundaries_4k)
{
	const size_t prefill[] = {0, 5, 4096 + 20, 2 * 4096 + 11};

	writes_at_boundaries(4096, prefill, ECFS_ARRAY_SIZE(prefill));
}

Test(contents, blob_writes_at_boundaries_64k)
{
	const size_t prefill[] = {0, 2 * 65536 + 11};

	writes_at_boundaries(65536, prefill, ECFS_ARRAY_SIZE(prefill));
}

Test(contents, blob_reads_at_boundaries)
{
	rng_state = 8;
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		for (size_t si = 0; si < ECFS_ARRAY_SIZE(chunk_sizes); si++) {
			struct blob b;
			uint64_t cs = chunk_sizes[si], size = 3 * cs + 17;
			const uint64_t pts[] = {0,	1,	  15,	  16,	      17,
						cs - 1, cs,	  cs + 1, 2 * cs + 7, size - 1,
						size,	size + 1, 10 * cs};

			blob_open(&b, ciphers[ci], (uint32_t)cs);
			bwrite(&b, 0, size, "fill");
			for (size_t oi = 0; oi < ECFS_ARRAY_SIZE(pts); oi++) {
				for (size_t li = 0; li < ECFS_ARRAY_SIZE(pts) - 1; li++)
					bread(&b, pts[oi], (size_t)pts[li], "boundaries");
			}
			blob_close(&b);
		}
	}
}

/* Chunks a write skips over are holes: zeros on disk that read as zeros. */
Test(contents, write_past_eof_leaves_holes)
{
	rng_state = 9;
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		struct blob b;
		uint8_t raw[4096 + 28];

		blob_open(&b, ciphers[ci], 4096);
		bwrite(&b, 3 * 4096 + 100, 50, "past EOF");
		bcheck(&b, "past EOF");
		for (uint64_t i = 0; i < 3; i++) {
			cr_assert_eq(
			    pread(b.fd, raw, 4096 + b.x.over, (off_t)ecfs_chunk_offset(b.x.v, i)),
			    (ssize_t)(4096 + b.x.over));
			cr_assert(all_zero(raw, 4096 + b.x.over), "%s: chunk %llu is not a hole",
				  cname(&b.x), (unsigned long long)i);
		}
		/* A write into a hole fills just that chunk. */
		bwrite(&b, 4096 + 10, 5, "into a hole");
		bcheck(&b, "into a hole");
		cr_assert_eq(pread(b.fd, raw, 4096 + b.x.over, (off_t)ecfs_chunk_offset(b.x.v, 2)),
			     (ssize_t)(4096 + b.x.over));
		cr_assert(all_zero(raw, 4096 + b.x.over));
		blob_close(&b);
	}
}

Test(contents, truncate_grows_and_shrinks)
{
	rng_state = 10;
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		for (size_t si = 0; si < ECFS_ARRAY_SIZE(chunk_sizes); si++) {
			struct blob b;
			uint64_t cs = chunk_sizes[si];
			const uint64_t steps[] = {
			    5,	0,	    cs + 5, 0,	    cs,		cs + 1, 15, 16,
			    17, 2 * cs + 3, cs - 1, 3 * cs, 3 * cs - 1, 2 * cs, 1,  0};
			char ctx[64];

			blob_open(&b, ciphers[ci], (uint32_t)cs);
			/* From nothing: zeros, including short tails (fewer than 16 bytes). */
			for (size_t i = 0; i < ECFS_ARRAY_SIZE(steps); i++) {
				snprintf(ctx, sizeof(ctx), "truncate to %llu",
					 (unsigned long long)steps[i]);
				btruncate(&b, steps[i], ctx);
				bcheck(&b, ctx);
			}
			/* With data: every cut and growth keeps the bytes before it. */
			bwrite(&b, 0, 3 * cs + 9, "fill");
			for (size_t i = 0; i < ECFS_ARRAY_SIZE(steps); i++) {
				snprintf(ctx, sizeof(ctx), "data, truncate to %llu",
					 (unsigned long long)steps[i]);
				btruncate(&b, steps[i], ctx);
				bcheck(&b, ctx);
				bwrite(&b, steps[i] / 2, (size_t)(steps[i] / 3 + 1), ctx);
				bcheck(&b, ctx);
			}
			blob_close(&b);
		}
	}
}

/* Caps the size any write may give a file at limit bytes (RLIM_INFINITY: none): a write
 * across it is cut short and the next fails with EFBIG, as a write on a disk that fills up. */
static void cap_file_size(rlim_t limit)
{
	struct rlimit rl;

	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = limit;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static uint64_t blob_bytes(const struct blob *b)
{
	struct stat st;

	cr_assert_eq(fstat(b->fd, &st), 0);
	return (uint64_t)st.st_size;
}

/* A write, append or extending truncate that runs out of room part way (a short write, then
 * an error) leaves the blob as it was: its size, and every byte stored before. */
/* A write of a copy of data, through ecfs_blob_pwrite_in_place when in_place is set. */
static ssize_t bwrite_copy(struct blob *b, const uint8_t *data, size_t len, uint64_t off,
			   bool in_place)
{
	uint8_t *spend = xmalloc(len);
	ssize_t r;

	memcpy(spend, data, len);
	r = in_place ? ecfs_blob_pwrite_in_place(b->x.c, b->k, b->fd, spend, len, off, NULL)
		     : ecfs_blob_pwrite(b->x.c, b->k, b->fd, spend, len, off, NULL);
	free(spend);
	return r;
}

Test(contents, failed_writes_keep_stored_bytes)
{
	const uint64_t room[] = {0, 1, 100, 903, 2000, 4200, 9000};
	uint8_t *data = xmalloc(20000);

	signal(SIGXFSZ, SIG_IGN);
	rng_state = 11;
	fill(data, 20000);
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		for (size_t ri = 0; ri < ECFS_ARRAY_SIZE(room); ri++) {
			struct blob b;
			uint64_t cs = 4096, old;
			ssize_t r;

			blob_open(&b, ciphers[ci], (uint32_t)cs);
			bwrite(&b, 0, 5000, "before");
			old = blob_bytes(&b);
			cap_file_size((rlim_t)(old + room[ri]));
			r = bwrite_copy(&b, data, 20000, 5000, ri % 2);
			cr_assert_lt(r, 0, "%s: append past a cap %llu bytes away succeeded",
				     cname(&b.x), (unsigned long long)room[ri]);
			bcheck(&b, "after a failed append");
			r = bwrite_copy(&b, data, 20000, 3 * cs + 10, ri % 2);
			cr_assert_lt(r, 0);
			bcheck(&b, "after a failed write past the end");
			cr_assert_lt(ecfs_blob_truncate(b.x.c, b.k, b.fd, 60000, NULL), 0);
			bcheck(&b, "after a failed extending truncate");
			cap_file_size(RLIM_INFINITY);
			bwrite(&b, 5000, 20000, "with room again");
			bcheck(&b, "with room again");
			blob_close(&b);
		}
	}
	free(data);
}

/* Grown from empty on XTS: a 5-byte tail is written out, since zeros on disk would not read
 * back as zeros there. */
Test(contents, xts_grow_from_empty_reads_zeros)
{
	/* Format 1's short XTS tails (format 2's: format2_xts_tail_known_answer_...). */
	format = 1;
	for (size_t ci = 1; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		struct blob b;
		uint8_t buf[16];

		blob_open(&b, ciphers[ci], 4096);
		cr_assert_eq(ecfs_blob_truncate(b.x.c, b.k, b.fd, 5, NULL), 0);
		memset(buf, 0xff, sizeof(buf));
		cr_assert_eq(ecfs_blob_pread(b.x.c, b.k, b.fd, buf, sizeof(buf), 0, NULL), 5);
		cr_assert(all_zero(buf, 5), "%s: grown 5-byte file is not zeros", cname(&b.x));
		cr_assert_eq(ecfs_blob_truncate(b.x.c, b.k, b.fd, 0, NULL), 0);
		cr_assert_eq(ecfs_blob_truncate(b.x.c, b.k, b.fd, 4096 + 5, NULL), 0);
		memset(buf, 0xff, sizeof(buf));
		cr_assert_eq(ecfs_blob_pread(b.x.c, b.k, b.fd, buf, sizeof(buf), 4096, NULL), 5);
		cr_assert(all_zero(buf, 5), "%s: grown tail is not zeros", cname(&b.x));
		blob_close(&b);
	}
}

/* 2000 random writes, truncates and reads (offsets biased to chunk boundaries), the whole
 * file checked against the model after each; the seed is in every failure message. */
static void random_operations(enum ecfs_cipher cipher, uint64_t seed)
{
	const uint64_t cs = 4096;
	struct blob b;
	char ctx[96];

	rng_state = seed;
	blob_open(&b, cipher, (uint32_t)cs);
	for (int op = 0; op < 2000; op++) {
		uint64_t kind = rnd() % 10, r1 = rnd(), r2 = rnd();
		/* Half the offsets sit within 20 bytes of a chunk boundary. */
		uint64_t off =
		    r1 & 1 ? (r1 >> 8) % (5 * cs) : ((r1 >> 8) % 6) * cs + (r1 >> 16) % 41 - 20;
		size_t len = (size_t)(r2 & 1 ? (r2 >> 8) % (2 * cs) + 1 : (r2 >> 8) % 40 + 1);

		if (off > 5 * cs)
			off = 0;
		snprintf(ctx, sizeof(ctx), "seed %#llx op %d kind %llu", (unsigned long long)seed,
			 op, (unsigned long long)kind);
		if (kind < 5)
			bwrite(&b, off, len, ctx);
		else if (kind < 7)
			btruncate(&b, off, ctx);
		else
			bread(&b, off, len, ctx);
		bcheck(&b, ctx);
	}
	blob_close(&b);
}

Test(contents, random_operations_aes256_gcm)
{
	random_operations(ECFS_CIPHER_AES256_GCM, 0xecf50001);
}

Test(contents, random_operations_aes256_xts)
{
	random_operations(ECFS_CIPHER_AES256_XTS, 0xecf50002);
}

Test(contents, random_operations_aes128_xts)
{
	random_operations(ECFS_CIPHER_AES128_XTS, 0xecf50003);
}

Test(contents, random_operations_sm4_xts)
{
	random_operations(ECFS_CIPHER_SM4_XTS, 0xecf50004);
}

Test(contents, random_operations_format2_aes256_gcm)
{
	format = 2;
	random_operations(ECFS_CIPHER_AES256_GCM, 0xecf50005);
}

Test(contents, random_operations_format2_aes256_xts)
{
	format = 2;
	random_operations(ECFS_CIPHER_AES256_XTS, 0xecf50006);
}

/* A modified stored chunk fails authentication, and the error names the chunk. */
Test(contents, gcm_damaged_chunk_is_reported)
{
	struct blob b;
	uint64_t cs = 4096, bad;
	uint8_t byte;
	off_t at;

	rng_state = 11;
	blob_open(&b, ECFS_CIPHER_AES256_GCM, (uint32_t)cs);
	bwrite(&b, 0, 3 * cs + 100, "fill");
	at = (off_t)ecfs_chunk_offset(b.x.v, 2) + 40;
	cr_assert_eq(pread(b.fd, &byte, 1, at), 1);
	byte ^= 0x04;
	cr_assert_eq(pwrite(b.fd, &byte, 1, at), 1);

	bad = UINT64_MAX;
	cr_assert_eq(ecfs_blob_pread(b.x.c, b.k, b.fd, b.buf, 4 * cs, 0, &bad), -EBADMSG);
	cr_assert_eq(bad, 2);
	bad = UINT64_MAX;
	cr_assert_eq(ecfs_blob_pread(b.x.c, b.k, b.fd, b.buf, 10, 2 * cs + 5, &bad), -EBADMSG);
	cr_assert_eq(bad, 2);
	bread(&b, 0, 2 * (size_t)cs, "undamaged chunks");
	bread(&b, 3 * cs, 100, "undamaged tail");
	bad = UINT64_MAX;
	cr_assert_eq(ecfs_blob_pwrite(b.x.c, b.k, b.fd, "x", 1, 2 * cs + 1, &bad), -EBADMSG,
		     "a partial write must not re-encrypt a damaged chunk");
	cr_assert_eq(bad, 2);
	bad = UINT64_MAX;
	cr_assert_eq(ecfs_blob_truncate(b.x.c, b.k, b.fd, 2 * cs + 7, &bad), -EBADMSG);
	cr_assert_eq(bad, 2);

	/* Damage in the last, partial chunk. */
	byte ^= 0x04;
	cr_assert_eq(pwrite(b.fd, &byte, 1, at), 1);
	at = (off_t)ecfs_chunk_offset(b.x.v, 3) + 3;
	cr_assert_eq(pread(b.fd, &byte, 1, at), 1);
	byte ^= 0x80;
	cr_assert_eq(pwrite(b.fd, &byte, 1, at), 1);
	bad = UINT64_MAX;
	cr_assert_eq(ecfs_blob_pread(b.x.c, b.k, b.fd, b.buf, 4 * cs, 0, &bad), -EBADMSG);
	cr_assert_eq(bad, 3);

	/* A torn last chunk (too short to hold a tag, or even a nonce) is damage too, to a
	 * whole-chunk read and to one that ends inside it. */
	for (size_t i = 0; i < 4; i++) {
		const off_t torn[] = {20, 5, 12, 28};

		cr_assert_eq(ftruncate(b.fd, (off_t)ecfs_chunk_offset(b.x.v, 3) + torn[i]), 0);
		bad = UINT64_MAX;
		cr_assert_eq(ecfs_blob_pread(b.x.c, b.k, b.fd, b.buf, 4 * cs, 0, &bad), -EBADMSG,
			     "torn to %lld", (long long)torn[i]);
		cr_assert_eq(bad, 3);
		bad = UINT64_MAX;
		cr_assert_eq(ecfs_blob_pread(b.x.c, b.k, b.fd, b.buf, cs + 10, 2 * cs, &bad),
			     -EBADMSG, "torn to %lld", (long long)torn[i]);
		cr_assert_eq(bad, 3);
	}
	blob_close(&b);
}

/* Whole-chunk reads scatter each stored chunk's nonce and tag apart from its ciphertext:
 * every file length ending at or inside a chunk reads back, and a changed nonce or tag of
 * any whole chunk, or of the partial last one, fails it (and names it). */
Test(contents, gcm_whole_chunk_reads_check_nonce_and_tag)
{
	const size_t lens[] = {4096, 2 * 4096, 3 * 4096 + 1, 3 * 4096 + 100, 4 * 4096 - 1};
	const size_t spots[] = {0, 11, 4096 + 12, 4096 + 27}; /* nonce, tag: first and last */
	uint64_t cs = 4096, bad;
	struct blob b;

	rng_state = 12;
	blob_open(&b, ECFS_CIPHER_AES256_GCM, (uint32_t)cs);
	for (size_t li = 0; li < ECFS_ARRAY_SIZE(lens); li++) {
		uint64_t last = (lens[li] - 1) / cs;

		btruncate(&b, 0, "empty");
		bwrite(&b, 0, lens[li], "fill");
		bread(&b, 0, 4 * cs, "whole chunks past the end");
		bread(&b, cs, 3 * cs, "whole chunks from the second");
		for (uint64_t idx = 0; idx <= last; idx++) {
			for (size_t si = 0; si < ECFS_ARRAY_SIZE(spots); si++) {
				uint64_t len = idx == last ? lens[li] - idx * cs : cs;
				size_t spot = spots[si] > 11 ? spots[si] - cs + len : spots[si];
				off_t at = (off_t)(ecfs_chunk_offset(b.x.v, idx) + spot);
				uint8_t byte;

				cr_assert_eq(pread(b.fd, &byte, 1, at), 1);
				byte ^= 0x10;
				cr_assert_eq(pwrite(b.fd, &byte, 1, at), 1);
				bad = UINT64_MAX;
				cr_assert_eq(
				    ecfs_blob_pread(b.x.c, b.k, b.fd, b.buf, 4 * cs, 0, &bad),
				    -EBADMSG, "length %zu, chunk %llu, byte %zu", lens[li],
				    (unsigned long long)idx, spot);
				cr_assert_eq(bad, idx);
				byte ^= 0x10;
				cr_assert_eq(pwrite(b.fd, &byte, 1, at), 1);
			}
		}
		bread(&b, 0, 4 * cs, "undamaged again");
	}
	blob_close(&b);
}

/* A run of more chunks than one preadv or pwritev takes (IOV_MAX buffers, three a chunk):
 * written in place past the end and over stored chunks, and read whole, it round-trips. */
Test(contents, gcm_runs_longer_than_iov_max_round_trip)
{
	const size_t cs = 4096, chunks = 700;
	struct blob b;

	rng_state = 13;
	blob_open(&b, ECFS_CIPHER_AES256_GCM, (uint32_t)cs);
	free(b.model);
	free(b.buf);
	b.cap = b.bufcap = (chunks + 2) * cs;
	b.model = xmalloc(b.cap);
	b.buf = xmalloc(b.bufcap);
	for (int round = 0; round < 2; round++) { /* bwrite alternates in place and copied */
		btruncate(&b, 0, "empty");
		bwrite(&b, 0, 400 * cs + 100, "past the end");
		bwrite(&b, 10 * cs, (chunks - 10) * cs + 5, "over stored chunks and past them");
		bwrite(&b, 3 * cs + 1, 500 * cs, "over stored chunks, merged at both ends");
		bread(&b, 0, (chunks + 2) * cs, "all of it, whole chunks");
		bcheck(&b, "the file");
	}
	blob_close(&b);
}

/* Without authentication, a flipped byte garbles exactly one 16-byte block. */
Test(contents, xts_damage_stays_in_its_block)
{
	for (size_t ci = 1; ci < ECFS_ARRAY_SIZE(ciphers); ci++) {
		struct blob b;
		uint8_t byte;
		off_t at;

		rng_state = 12;
		blob_open(&b, ciphers[ci], 4096);
		bwrite(&b, 0, 2 * 4096, "fill");
		at = (off_t)ecfs_chunk_offset(b.x.v, 1) + 100;
		cr_assert_eq(pread(b.fd, &byte, 1, at), 1);
		byte ^= 1;
		cr_assert_eq(pwrite(b.fd, &byte, 1, at), 1);
		cr_assert_eq(ecfs_blob_pread(b.x.c, b.k, b.fd, b.buf, 2 * 4096, 0, NULL), 2 * 4096);
		for (size_t i = 0; i < 2 * 4096; i += 16) {
			bool same = memcmp(b.buf + i, b.model + i, 16) == 0;

			cr_assert_eq(same, i != 4096 + 96, "%s: block at %zu", cname(&b.x), i);
		}
		blob_close(&b);
	}
}

/* ---- blob header ------------------------------------------------------------------------- */

Test(contents, blob_header)
{
	uint8_t h1[ECFS_BLOB_HEADER_SIZE + 8], h2[ECFS_BLOB_HEADER_SIZE], id[16], id2[16], bad[24];

	cr_assert_eq(ecfs_blob_header_new(h1), 0);
	cr_assert_eq(ecfs_blob_header_new(h2), 0);
	cr_assert_eq(memcmp(h1, "ECFB\0\1\0\0", 8), 0);
	cr_assert_eq(ecfs_blob_header_parse(h1, ECFS_BLOB_HEADER_SIZE, id), 0);
	cr_assert_eq(memcmp(id, h1 + 8, 16), 0);
	cr_assert_eq(ecfs_blob_header_parse(h2, sizeof(h2), id2), 0);
	cr_assert_neq(memcmp(id, id2, 16), 0, "two files with one ID");
	cr_assert_eq(ecfs_blob_header_parse(h1, sizeof(h1), id2), 0, "longer input is fine");
	for (size_t n = 0; n < ECFS_BLOB_HEADER_SIZE; n++)
		cr_assert_eq(ecfs_blob_header_parse(h1, n, id), -EUCLEAN, "%zu bytes", n);
	for (size_t i = 0; i < 4; i++) {
		memcpy(bad, h1, 24);
		bad[i] ^= 0x20;
		cr_assert_eq(ecfs_blob_header_parse(bad, 24, id), -EUCLEAN, "magic byte %zu", i);
	}
	memcpy(bad, h1, 24);
	bad[5] = 2;
	cr_assert_eq(ecfs_blob_header_parse(bad, 24, id), -EPROTONOSUPPORT);
	cr_assert(strstr(ecfs_last_error(), "version 2"), "%s", ecfs_last_error());
	memcpy(bad, h1, 24);
	bad[4] = 1;
	cr_assert_eq(ecfs_blob_header_parse(bad, 24, id), -EPROTONOSUPPORT);
	memcpy(bad, h1, 24);
	bad[5] = 0;
	cr_assert_eq(ecfs_blob_header_parse(bad, 24, id), -EPROTONOSUPPORT);
	for (size_t i = 6; i < 8; i++) {
		memcpy(bad, h1, 24);
		bad[i] = 1;
		cr_assert_eq(ecfs_blob_header_parse(bad, 24, id), -EUCLEAN, "reserved byte %zu", i);
	}
}

/* Writes a fresh format-2 header to a new file of x's volume; returns its descriptor. */
static int v2_header_file(struct vol *x, struct ecfs_blob_header *h)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/hdr%d", tmp, nvol++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(ecfs_blob_header_init(x->v, h), 0);
	h->flags = ECFS_BLOB_LINKED | ECFS_BLOB_SPARSE;
	h->holes_generation = 7;
	h->size = 0x0102030405060708ull;
	memset(h->name_tag[0], 0xa1, 16);
	memset(h->name_tag[1], 0xb2, 16);
	memset(h->tail_nonce, 0xc3, 16);
	cr_assert_eq(ecfs_blob_header_write(x->v, fd, h), 0);
	return fd;
}

Test(contents, blob_header_format2)
{
	struct ecfs_blob_header h, got;
	uint8_t raw[128], bad[128];
	struct vol x, other;
	int fd;

	format = 2;
	vol_make(&x, ECFS_CIPHER_AES256_GCM, 4096);
	vol_make(&other, ECFS_CIPHER_AES256_GCM, 4096);
	cr_assert_eq(ecfs_blob_header_size(x.v), 128);
	fd = v2_header_file(&x, &h);
	cr_assert_eq(ecfs_blob_header_read(x.v, fd, &got), 0, "%s", ecfs_last_error());
	cr_assert_eq(memcmp(&got, &h, sizeof(h)), 0, "a header reads back as written");
	cr_assert_eq(pread(fd, raw, sizeof(raw), 0), 128);
	cr_assert_eq(memcmp(raw, "ECFB\0\2\0\3", 8), 0);
	cr_assert_eq(memcmp(raw + 32, "\1\2\3\4\5\6\7\10", 8), 0, "size big-endian at 32");
	/* Bound to its volume: another volume's bind key does not accept it. */
	cr_assert_eq(ecfs_blob_header_read(other.v, fd, &got), -EBADMSG);
	/* Every flipped bit of the MAC-covered bytes or of the MAC fails. */
	for (size_t i = 0; i < 128; i++) {
		int want = i < 6 ? -EUCLEAN : -EBADMSG;

		memcpy(bad, raw, sizeof(raw));
		bad[i] ^= 0x01;
		cr_assert_eq(ecfs_blob_header_decode(x.v, bad, sizeof(bad), &got), want,
			     "byte %zu: %s", i, ecfs_last_error());
	}
	for (size_t n = 0; n < 128; n++)
		cr_assert_eq(ecfs_blob_header_decode(x.v, raw, n, &got), -EUCLEAN, "%zu bytes", n);
	/* A 0-byte blob: -ENODATA, which the caller reads as damage on format 2. */
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(ecfs_blob_header_read(x.v, fd, &got), -ENODATA);
	/* A format-1 header on a format-2 volume is not taken. */
	cr_assert_eq(ecfs_blob_header_new(bad), 0);
	cr_assert_eq(ecfs_blob_header_decode(x.v, bad, sizeof(bad), &got), -EUCLEAN);
	close(fd);
	vol_free(&x);
	vol_free(&other);
}

Test(contents, blob_header_format2_rejects_malformed_fields_under_a_valid_mac)
{
	static const struct {
		size_t at;
		uint8_t val;
	} cases[] = {{7, 0x04}, {6, 0x80}, {27, 1}, {100, 1}, {111, 1}, {32, 0x80}};
	struct ecfs_blob_header h, got;
	uint8_t raw[128];
	struct vol x;
	int fd;

	format = 2;
	vol_make(&x, ECFS_CIPHER_AES256_XTS, 4096);
	fd = v2_header_file(&x, &h);
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(cases); i++) {
		struct ecfs_iov part;

		cr_assert_eq(pread(fd, raw, sizeof(raw), 0), 128);
		raw[cases[i].at] |= cases[i].val;
		part = (struct ecfs_iov){raw, 112};
		cr_assert_eq(ecfs_bind_tag(x.v, "blob header", &part, 1, raw + 112), 0);
		cr_assert_eq(ecfs_blob_header_decode(x.v, raw, sizeof(raw), &got), -EUCLEAN,
			     "byte %zu", cases[i].at);
	}
	/* A holes generation without the SPARSE flag: a file that had holes keeps counting, so
	 * that a holes map saved before never fits its header again. */
	h.flags = 0;
	h.holes_generation = 3;
	cr_assert_eq(ecfs_blob_header_write(x.v, fd, &h), 0);
	cr_assert_eq(ecfs_blob_header_read(x.v, fd, &got), 0);
	cr_assert_eq(got.holes_generation, 3);
	close(fd);
	vol_free(&x);
}

Test(contents, blob_header_format1_api)
{
	struct ecfs_blob_header h, got;
	uint8_t raw[ECFS_BLOB_HEADER_SIZE], id[16];
	char path[128];
	struct vol x;
	int fd;

	format = 1;
	vol_make(&x, ECFS_CIPHER_AES256_GCM, 4096);
	cr_assert_eq(ecfs_blob_header_size(x.v), ECFS_BLOB_HEADER_SIZE);
	snprintf(path, sizeof(path), "%s/hdr%d", tmp, nvol++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(ecfs_blob_header_read(x.v, fd, &got), -ENODATA);
	cr_assert_eq(ecfs_blob_header_init(x.v, &h), 0);
	cr_assert_eq(ecfs_blob_header_write(x.v, fd, &h), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_END), ECFS_BLOB_HEADER_SIZE);
	cr_assert_eq(pread(fd, raw, sizeof(raw), 0), (ssize_t)sizeof(raw));
	cr_assert_eq(ecfs_blob_header_parse(raw, sizeof(raw), id), 0, "the old parser reads it");
	cr_assert_eq(memcmp(id, h.file_id, 16), 0);
	cr_assert_eq(ecfs_blob_header_read(x.v, fd, &got), 0);
	cr_assert_eq(got.version, 1);
	cr_assert_eq(memcmp(got.file_id, h.file_id, 16), 0);
	close(fd);
	vol_free(&x);
}

/* ---- upgrade of a blob from format 1 --------------------------------------------------- */

static int new_file(const char *what)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s%d", tmp, what, nvol++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	return fd;
}

/* Writes a format-1 blob of n bytes of data on x's format-2 volume, by setting its format to 1
 * in memory meanwhile (the mirror of an upgrade); returns its descriptor. */
static int v1_blob(struct vol *x, const uint8_t *data, size_t n, uint8_t id[16])
{
	struct ecfs_blob_header h;
	struct ecfs_file_key *k;
	int fd = new_file("v1blob");

	x->v->hdr.version = 1;
	if (n > 0) {
		cr_assert_eq(ecfs_blob_header_init(x->v, &h), 0);
		cr_assert_eq(ecfs_blob_header_write(x->v, fd, &h), 0);
		cr_assert_eq(ecfs_file_key_new(x->v, h.file_id, &k), 0);
		cr_assert_eq(ecfs_blob_pwrite(x->c, k, fd, data, n, 0, NULL), (ssize_t)n);
		ecfs_file_key_free(k);
		memcpy(id, h.file_id, 16);
	}
	x->v->hdr.version = 2;
	return fd;
}

static void convert_one(struct vol *x, size_t n)
{
	uint8_t id[16], *data = xmalloc(n + 1), *back = xmalloc(n + 1), st1[16], st2[16];
	struct ecfs_blob_header h, got;
	struct ecfs_file_key *k;
	int src, dst = new_file("v2blob");
	bool xts_tail = x->over == 0 && n % x->cs != 0 && n % x->cs < 16;
	struct stat st;

	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)rnd();
	src = v1_blob(x, data, n, id);
	memset(&h, 0, sizeof(h));
	h.flags = ECFS_BLOB_LINKED;
	memset(h.name_tag[0], 0x5a, 16);
	cr_assert_eq(ecfs_blob_convert_v1(x->v, x->c, src, dst, ecfs_volume_dirfd(x->v), &h), 0,
		     "%zu bytes: %s", n, ecfs_last_error());
	cr_assert_eq(h.size, n);
	cr_assert_eq(h.flags, ECFS_BLOB_LINKED, "the caller's flags stay");
	cr_assert_eq(h.name_tag[0][7], 0x5a, "the caller's name tags stay");
	if (n > 0)
		cr_assert_eq(memcmp(h.file_id, id, 16), 0, "the file ID stays");
	cr_assert_eq(fstat(dst, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, ecfs_blob_size(x->v, n), "%zu bytes", n);
	cr_assert_eq(ecfs_blob_header_read(x->v, dst, &got), 0, "%s", ecfs_last_error());
	cr_assert_eq(memcmp(&got, &h, sizeof(h)), 0, "h is what was written");
	cr_assert_eq(ecfs_file_key_new(x->v, got.file_id, &k), 0);
	ecfs_file_key_set_tail_nonce(k, got.tail_nonce);
	cr_assert_eq(ecfs_blob_pread(x->c, k, dst, back, n + 1, 0, NULL), (ssize_t)n);
	cr_assert_eq(memcmp(back, data, n), 0, "%zu bytes read back wrong", n);
	if (xts_tail) {
		size_t t = n % x->cs;

		cr_assert_eq(pread(src, st1, t, (off_t)(24 + n / x->cs * x->cs)), (ssize_t)t);
		cr_assert_eq(pread(dst, st2, t, (off_t)(128 + n / x->cs * x->cs)), (ssize_t)t);
		/* A 1-byte tail matches its old bytes by chance once in 256 runs; from 4 bytes on
		 * the chance is 2^-32. */
		if (t >= 4)
			cr_assert_neq(memcmp(st1, st2, t), 0, "the short tail is re-encrypted");
		cr_assert_neq(memcmp(got.tail_nonce, (uint8_t[16]){0}, 16), 0);
	} else {
		cr_assert_eq(memcmp(got.tail_nonce, (uint8_t[16]){0}, 16), 0);
	}
	ecfs_file_key_free(k);
	close(src);
	close(dst);
	free(data);
	free(back);
}

Test(contents, convert_v1_blobs_read_back_as_format2)
{
	static const size_t sizes[] = {0, 1, 5, 15, 16, 4095, 4096, 4096 + 7, 3 * 4096 + 100, 8192};

	format = 2;
	rng_state = 0xecf5c0;
	for (size_t ci = 0; ci < 2; ci++) {
		struct vol x;

		vol_make(&x, ciphers[ci], 4096);
		for (size_t i = 0; i < ECFS_ARRAY_SIZE(sizes); i++)
			convert_one(&x, sizes[i]);
		vol_free(&x);
	}
}

Test(contents, convert_v1_rejects_a_damaged_blob)
{
	struct ecfs_blob_header h;
	struct vol x;
	int src, dst;

	format = 2;
	vol_make(&x, ECFS_CIPHER_AES256_GCM, 4096);
	src = new_file("bad");
	dst = new_file("out");
	cr_assert_eq(ftruncate(src, 10), 0);
	memset(&h, 0, sizeof(h));
	cr_assert_eq(ecfs_blob_convert_v1(x.v, x.c, src, dst, ecfs_volume_dirfd(x.v), &h),
		     -EUCLEAN);
	cr_assert_eq(ftruncate(src, 24 + 10), 0); /* a remainder no chunk can have */
	cr_assert_eq(ecfs_blob_convert_v1(x.v, x.c, src, dst, ecfs_volume_dirfd(x.v), &h),
		     -EUCLEAN);
	close(src);
	close(dst);
	vol_free(&x);
}

/* ---- format 2: XTS short tails under a fresh tail nonce ------------------------------------ */

/* The short-tail keystream computed here from AES-256-ECB: E_K1(E_K2(T')), T' = tweak with its
 * last byte XORed with 0x80, then XORed with the nonce. */
static void tail_keystream(const struct ecfs_keys *keys, const uint8_t id[16], uint64_t idx,
			   const uint8_t nonce[16], uint8_t pad[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t t[16], mid[16];
	int n = 0;

	memcpy(t, id, 16);
	for (int i = 0; i < 8; i++)
		t[i] ^= (uint8_t)(idx >> (8 * i));
	t[15] ^= 0x80;
	for (int i = 0; i < 16; i++)
		t[i] ^= nonce[i];
	cr_assert_eq(EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), NULL, keys->contents + 32, NULL),
		     1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	cr_assert_eq(EVP_EncryptUpdate(ctx, mid, &n, t, 16), 1);
	cr_assert_eq(EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), NULL, keys->contents, NULL), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	cr_assert_eq(EVP_EncryptUpdate(ctx, pad, &n, mid, 16), 1);
	EVP_CIPHER_CTX_free(ctx);
}

Test(contents, format2_xts_tail_known_answer_and_fresh_nonces)
{
	static const uint8_t zero[16];
	uint8_t a[8] = "AAAAAAAA", bb[8] = "BBBBBBBB", s1[8], s2[8], n1[16], n2[16], pad[16];
	uint8_t back[8];
	struct ecfs_file_key *k;
	struct vol x;
	uint8_t id[16];
	int fd;

	format = 2;
	vol_make(&x, ECFS_CIPHER_AES256_XTS, 4096);
	k = new_file_key(x.v, id);
	fd = new_file("tail");
	for (int round = 0; round < 2; round++) {
		const uint8_t *p = round ? bb : a;
		uint8_t *st = round ? s2 : s1, *nonce = round ? n2 : n1;

		cr_assert_eq(ecfs_blob_pwrite(x.c, k, fd, p, 8, 0, NULL), 8);
		cr_assert_eq(ecfs_file_key_tail_advance(k, nonce), 1, "a short tail was written");
		cr_assert_eq(ecfs_file_key_tail_advance(k, nonce + 0), 0, "and only once");
		cr_assert_eq(pread(fd, st, 8, 128), 8);
		tail_keystream(x.v->keys, id, 0, nonce, pad);
		for (int i = 0; i < 8; i++)
			cr_assert_eq(st[i], p[i] ^ pad[i], "round %d byte %d", round, i);
		cr_assert_eq(ecfs_blob_pread(x.c, k, fd, back, 8, 0, NULL), 8);
		cr_assert_eq(memcmp(back, p, 8), 0);
	}
	cr_assert_neq(memcmp(n1, zero, 16), 0);
	cr_assert_neq(memcmp(n1, n2, 16), 0, "every short-tail write has its own nonce");
	{
		bool same = true;

		for (int i = 0; i < 8; i++)
			same = same && (s1[i] ^ s2[i]) == (a[i] ^ bb[i]);
		cr_assert(!same, "two versions of a tail XOR to the XOR of their plaintexts");
	}
	/* A full block or more is plain XTS: no nonce is used. */
	cr_assert_eq(ecfs_blob_pwrite(x.c, k, fd, "0123456789abcdef", 16, 0, NULL), 16);
	cr_assert_eq(ecfs_file_key_tail_advance(k, n1), 0);
	ecfs_file_key_free(k);
	close(fd);
	vol_free(&x);
}

Test(contents, format1_xts_tail_ignores_the_nonce)
{
	static const uint8_t zero[16];
	uint8_t st[5], pad[16], n[16];
	struct ecfs_file_key *k;
	struct vol x;
	uint8_t id[16];
	int fd;

	format = 1;
	vol_make(&x, ECFS_CIPHER_AES256_XTS, 4096);
	k = new_file_key(x.v, id);
	fd = new_file("tail1");
	cr_assert_eq(ecfs_blob_pwrite(x.c, k, fd, "hello", 5, 0, NULL), 5);
	cr_assert_eq(ecfs_file_key_tail_advance(k, n), 0);
	cr_assert_eq(pread(fd, st, 5, 24), 5);
	tail_keystream(x.v->keys, id, 0, zero, pad);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(st[i], (uint8_t) "hello"[i] ^ pad[i]);
	ecfs_file_key_free(k);
	close(fd);
	vol_free(&x);
}

/* ---- sealed values and symlink targets --------------------------------------------------- */

Test(contents, seal_round_trips_and_tamper)
{
	static const size_t lens[] = {0, 1, 15, 16, 17, 100, 65536};

	rng_state = 13;
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci += 3) {
		struct vol x;

		vol_make(&x, ciphers[ci], 4096);
		for (size_t li = 0; li < ECFS_ARRAY_SIZE(lens); li++) {
			size_t len = lens[li], slen = len + ECFS_SEAL_OVERHEAD;
			uint8_t *in = xmalloc(len), *s1 = xmalloc(slen), *s2 = xmalloc(slen);
			uint8_t *back = xmalloc(len);

			fill(in, len);
			cr_assert_eq(ecfs_seal(x.c, "xattr:user.a", in, len, s1), (int)slen);
			cr_assert_eq(ecfs_seal(x.c, "xattr:user.a", in, len, s2), (int)slen);
			cr_assert_neq(memcmp(s1, s2, slen), 0, "two seals of one value are equal");
			cr_assert_eq(ecfs_unseal(x.c, "xattr:user.a", s1, slen, back), (int)len);
			cr_assert_eq(memcmp(back, in, len), 0);
			cr_assert_eq(ecfs_unseal(x.c, "xattr:user.a", s2, slen, back), (int)len);
			cr_assert_eq(ecfs_unseal(x.c, "xattr:user.b", s1, slen, back), -EBADMSG);
			cr_assert_eq(ecfs_unseal(x.c, "symlink", s1, slen, back), -EBADMSG);
			cr_assert_eq(ecfs_unseal(x.c, "xattr:user.a", s1, slen - 1, back),
				     -EBADMSG);
			for (size_t pos = 0; pos<slen; pos += len> 100 ? 997 : 1) {
				s1[pos] ^= 0x40;
				cr_assert_eq(ecfs_unseal(x.c, "xattr:user.a", s1, slen, back),
					     -EBADMSG, "%s len %zu: flip at %zu", cname(&x), len,
					     pos);
				s1[pos] ^= 0x40;
			}
			free(in);
			free(s1);
			free(s2);
			free(back);
		}
		{
			uint8_t *big = calloc(1, 65537 + ECFS_SEAL_OVERHEAD);

			cr_assert_not_null(big);
			cr_assert_eq(ecfs_seal(x.c, "xattr:user.a", big, 65537, big), -E2BIG);
			cr_assert_eq(ecfs_unseal(x.c, "xattr:user.a", big, 31, big), -EBADMSG);
			cr_assert_eq(ecfs_unseal(x.c, "xattr:user.a", big, 65537 + 32, big),
				     -EBADMSG);
			free(big);
		}
		vol_free(&x);
	}
}

Test(contents, symlink_round_trips_and_tamper)
{
	char target[4097], enc[6000], enc2[6000], back[4097];

	memset(target, 'a', 4096);
	target[4096] = '\0';
	for (size_t ci = 0; ci < ECFS_ARRAY_SIZE(ciphers); ci += 3) {
		static const char *const targets[] = {"", "a", "../x/y", "/etc/passwd",
						      "d\xc3\xa9j\xc3\xa0 vu"};
		struct vol x;
		int n;

		vol_make(&x, ciphers[ci], 4096);
		for (size_t i = 0; i <= ECFS_ARRAY_SIZE(targets); i++) {
			const char *t = i < ECFS_ARRAY_SIZE(targets) ? targets[i] : target;
			size_t len = strlen(t),
			       elen = ecfs_b64_encoded_len(len + ECFS_SEAL_OVERHEAD);

			n = ecfs_symlink_encrypt(x.c, t, enc, sizeof(enc));
			cr_assert_eq(n, (int)elen, "target of %zu bytes", len);
			cr_assert_eq(strlen(enc), elen);
			cr_assert_eq(strspn(enc,
					    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					    "0123456789-_"),
				     elen, "not base64url: %s", enc);
			cr_assert_eq(ecfs_symlink_encrypt(x.c, t, enc2, elen + 1), (int)elen);
			cr_assert_str_neq(enc, enc2, "two encryptions of one target are equal");
			cr_assert_eq(ecfs_symlink_encrypt(x.c, t, enc2, elen), -ENAMETOOLONG);
			memset(back, 'z', sizeof(back));
			cr_assert_eq(ecfs_symlink_decrypt(x.c, enc, back, sizeof(back)), (int)len);
			cr_assert_str_eq(back, t);
			cr_assert_eq(ecfs_symlink_decrypt(x.c, enc, back, len + 1), (int)len);
			cr_assert_eq(ecfs_symlink_decrypt(x.c, enc, back, len), -ENAMETOOLONG);
			/* Another character anywhere: -EBADMSG, never a target. */
			for (size_t pos = 0; pos<elen; pos += elen> 200 ? 101 : 1) {
				char was = enc[pos];

				enc[pos] = was == 'A' ? 'B' : 'A';
				cr_assert_eq(ecfs_symlink_decrypt(x.c, enc, back, sizeof(back)),
					     -EBADMSG, "len %zu: change at %zu", len, pos);
				enc[pos] = was;
			}
			enc[elen - 1] = '\0';
			cr_assert_eq(ecfs_symlink_decrypt(x.c, enc, back, sizeof(back)), -EBADMSG);
		}
		cr_assert_eq(ecfs_symlink_decrypt(x.c, "", back, sizeof(back)), -EBADMSG);
		cr_assert_eq(ecfs_symlink_decrypt(x.c, "not base64!", back, sizeof(back)),
			     -EBADMSG);
		cr_assert_eq(ecfs_symlink_decrypt(x.c,
						  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
						  back, sizeof(back)),
			     -EBADMSG);
		vol_free(&x);
	}
}
