/* fuzz_blob.c - libFuzzer target: blob headers, blob size arithmetic, decryption of any chunk. */
#define FUZZ_NAME "fuzz_blob"
#include "fuzz_volume.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The first input byte picks what the rest is:
 *   0: a blob header for ecfs_blob_header_parse;
 *   1: a chunk-size shift, a cipher and a 64-bit size for ecfs_plain_size/ecfs_blob_size over
 *      a volume struct holding just those (any valid header gives such a volume);
 *   2, 3: an 8-byte chunk index and a stored chunk for ecfs_chunk_decrypt, on an
 *      aes-256-gcm (2, also opened in place as whole-chunk reads do) or an aes-256-xts (3)
 *      volume with 4 KiB chunks; a hole (all zeros)
 *      is checked on a format-2 volume too, where only a holes map lets it read as zeros;
 *   4: a format-2 blob header for ecfs_blob_header_decode, as it is (its MAC must hold);
 *   5: the same with its MAC made valid first, so that the checks behind it are reached and
 *      whatever decodes must encode back to the same bytes;
 *   6 exactly (other bytes pick the mode of their value modulo 6): as 3 on an sm4-xts volume
 *      (the bulk SM4 of sm4.c where the CPU runs one).
 * In 1, a size byte of 128 or more picks a format-2 volume (128-byte headers).
 * The volumes are created once under /tmp, then their DEK and UUID are pinned so that
 * seeds holding valid chunks stay valid from run to run.
 */

#define NVOLS 3
static struct ecfs_volume *vols[NVOLS], *vol2;
static struct ecfs_crypto *cryptos[NVOLS], *crypto2;
static struct ecfs_file_key *fkeys[NVOLS], *fkey2;
static const enum ecfs_cipher vol_ciphers[NVOLS] = {ECFS_CIPHER_AES256_GCM, ECFS_CIPHER_AES256_XTS,
						    ECFS_CIPHER_SM4_XTS};

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t file_id[ECFS_FILE_ID_SIZE] = "fuzz file id 16b";

	(void)argc;
	(void)argv;
	for (int i = 0; i < NVOLS; i++) {
		vols[i] = pinned_volume(vol_ciphers[i]);
		if (ecfs_crypto_new(vols[i], &cryptos[i]) != 0 ||
		    ecfs_file_key_new(vols[i], file_id, &fkeys[i]) != 0)
			die("cannot set up the crypto context");
	}
	vol2 = pinned_volume_format(ECFS_CIPHER_AES256_GCM, 2);
	if (ecfs_crypto_new(vol2, &crypto2) != 0 || ecfs_file_key_new(vol2, file_id, &fkey2) != 0)
		die("cannot set up the format-2 crypto context");
	return 0;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void fuzz_blob_header(const uint8_t *data, size_t size)
{
	uint8_t id[ECFS_FILE_ID_SIZE];
	int r = ecfs_blob_header_parse(data, size, id);

	if (r != 0 && r != -EUCLEAN && r != -EPROTONOSUPPORT)
		die("unexpected error code from ecfs_blob_header_parse");
	if (r == 0 && (size < ECFS_BLOB_HEADER_SIZE || memcmp(id, data + 8, sizeof(id)) != 0))
		die("a blob header parsed to another file ID");
}

static void fuzz_blob_header_v2(const uint8_t *data, size_t size, bool fix_mac)
{
	uint8_t buf[ECFS_BLOB_HEADER_MAX], again[ECFS_BLOB_HEADER_MAX];
	struct ecfs_blob_header h;
	size_t n = size < sizeof(buf) ? size : sizeof(buf);
	int r;

	memcpy(buf, data, n);
	if (fix_mac && n == sizeof(buf) &&
	    ecfs_bind_tag(vol2, "blob header", &(struct ecfs_iov){buf, 112}, 1, buf + 112) != 0)
		die("cannot make a MAC");
	r = ecfs_blob_header_decode(vol2, buf, n, &h);
	if (r != 0 && r != -EUCLEAN && r != -EBADMSG)
		die("unexpected error code from ecfs_blob_header_decode");
	if (r == 0 && n < ECFS_BLOB_HEADER_MAX)
		die("a short format-2 blob header was accepted");
	if (r == 0 &&
	    (ecfs_blob_header_encode(vol2, &h, again) != 0 || memcmp(again, buf, sizeof(buf)) != 0))
		die("a format-2 blob header does not encode back to its bytes");
	if (r == -EBADMSG && fix_mac && n == sizeof(buf))
		die("a header with a valid MAC failed authentication");
}

static void fuzz_sizes(const uint8_t *data, size_t size)
{
	struct ecfs_volume v;
	uint64_t b, plain, b2;
	int64_t p;

	if (size < 10)
		return;
	memset(&v, 0, sizeof(v));
	v.hdr.chunk_size = ECFS_MIN_CHUNK << (data[0] % 9);
	v.hdr.cipher = (enum ecfs_cipher)(data[1] % 4 + 1);
	v.hdr.version = data[0] >= 128 ? 2 : 1;
	b = get_be64(data + 2);
	p = ecfs_plain_size(&v, b);
	if (p < 0 && p != -EUCLEAN)
		die("unexpected error code from ecfs_plain_size");
	if (b == 0 && p != 0)
		die("an empty blob is not empty");
	if (p >= 0 && b != 0 && ecfs_blob_size(&v, (uint64_t)p) != b)
		die("ecfs_blob_size(ecfs_plain_size(b)) != b");
	if (p >= 0 && (uint64_t)p > b)
		die("more plaintext than blob");
	/* The other way round, for sizes far from overflow. */
	plain = b >> 2;
	b2 = ecfs_blob_size(&v, plain);
	if (b2 < plain || ecfs_plain_size(&v, b2) != (int64_t)plain)
		die("ecfs_plain_size(ecfs_blob_size(p)) != p");
}

/* Format 2: a hole reads as zeros only where the file's holes map lists it. */
static void fuzz_hole_format2(uint64_t idx, const uint8_t *stored, size_t len, uint8_t *plain)
{
	struct ecfs_holes m = {0};
	int r = ecfs_chunk_decrypt(crypto2, fkey2, idx, stored, len, plain);

	if (r != -EBADMSG)
		die("a format-2 hole the file has no map for was accepted");
	if (idx >= ECFS_HOLES_END_MAX)
		return;
	if (ecfs_holes_add(&m, idx, idx + 1) != 0)
		die("cannot list a hole");
	ecfs_file_key_set_holes(fkey2, &m);
	r = ecfs_chunk_decrypt(crypto2, fkey2, idx, stored, len, plain);
	ecfs_file_key_set_holes(fkey2, NULL);
	ecfs_holes_free(&m);
	if (r != (int)(len - ecfs_chunk_overhead(vol2)))
		die("a listed format-2 hole was refused");
}

/* GCM: the chunk opened in place, its nonce and tag apart (the daemon's whole-chunk reads),
 * gives what ecfs_chunk_decrypt gave (r, plain), and nothing of it on failure. */
static void check_in_place(int vi, uint64_t idx, const uint8_t *stored, size_t len, int r,
			   const uint8_t *plain)
{
	size_t n = len - ECFS_CANARY_NONCE - ECFS_GCM_TAG;
	uint8_t meta[ECFS_CANARY_NONCE + ECFS_GCM_TAG], *data = malloc(n);
	int r2;

	if (!data)
		die("out of memory");
	memcpy(meta, stored, ECFS_CANARY_NONCE);
	memcpy(meta + ECFS_CANARY_NONCE, stored + len - ECFS_GCM_TAG, ECFS_GCM_TAG);
	memcpy(data, stored + ECFS_CANARY_NONCE, n);
	r2 = ecfs_chunk_open_in_place(cryptos[vi], fkeys[vi], idx, meta, data, n);
	if (r2 != r)
		die("a chunk opened in place gave another result");
	for (size_t i = 0; i < n; i++)
		if (data[i] != (r >= 0 ? plain[i] : 0))
			die("a chunk opened in place differs, or left bytes after failing");
	free(data);
}

static void fuzz_chunk(int vi, const uint8_t *data, size_t size)
{
	struct ecfs_crypto *c = cryptos[vi];
	uint32_t over = ecfs_chunk_overhead(vols[vi]), cs = ecfs_chunk_size(vols[vi]);
	uint64_t idx;
	const uint8_t *stored;
	uint8_t *plain, *again;
	size_t len, n;
	bool zero = true;
	int r;

	if (size < 8)
		return;
	idx = get_be64(data);
	stored = data + 8;
	len = size - 8;
	plain = malloc(len ? len : 1);
	again = malloc(len + 64);
	if (!plain || !again)
		die("out of memory");
	r = ecfs_chunk_decrypt(c, fkeys[vi], idx, stored, len, plain);
	if (len <= over || len > cs + over) {
		if (r != -EUCLEAN)
			die("a stored chunk of impossible length was accepted");
		goto out;
	}
	n = len - over;
	if (over)
		check_in_place(vi, idx, stored, len, r, plain);
	if (r == -EBADMSG && over) {
		for (size_t i = 0; i < n; i++)
			if (plain[i])
				die("plaintext left behind after a failed decryption");
		goto out;
	}
	if (r != (int)n)
		die("unexpected result from ecfs_chunk_decrypt");
	for (size_t i = 0; i < len; i++)
		zero &= stored[i] == 0;
	if (zero && (over || n >= 16)) {
		for (size_t i = 0; i < n; i++)
			if (plain[i])
				die("a hole did not read as zeros");
		if (over)
			fuzz_hole_format2(idx, stored, len, plain);
		goto out;
	}
	if (!over) {
		/* XTS is a permutation: encrypting the plaintext gives the stored bytes back. */
		if (ecfs_chunk_encrypt(c, fkeys[vi], idx, plain, n, again) != 0 ||
		    memcmp(again, stored, len) != 0)
			die("XTS decrypt then encrypt is not the identity");
	} else if (ecfs_chunk_decrypt(c, fkeys[vi], idx, stored, len, again) != (int)n ||
		   memcmp(again, plain, n) != 0) {
		die("decrypting a chunk twice differs");
	}
out:
	free(plain);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] == 6) {
		fuzz_chunk(2, data + 1, size - 1);
		return 0;
	}
	switch (data[0] % 6) {
	case 0:
		fuzz_blob_header(data + 1, size - 1);
		break;
	case 1:
		fuzz_sizes(data + 1, size - 1);
		break;
	case 2:
	case 3:
		fuzz_chunk(data[0] % 6 - 2, data + 1, size - 1);
		break;
	default:
		fuzz_blob_header_v2(data + 1, size - 1, data[0] % 6 == 5);
		break;
	}
	return 0;
}
