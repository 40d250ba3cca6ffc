/* SPDX-License-Identifier: MIT */
/*
 * blob_convert.c - turns a format-1 blob into a format-2 blob (the upgrade of one file's
 * contents): the 128-byte header, the stored chunks copied unchanged behind it, and an XTS
 * tail shorter than one block re-encrypted under a fresh tail nonce.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The plaintext size of a format-1 blob of b bytes (format-1 arithmetic, whatever v's
 * in-memory format), or -EUCLEAN. */
static int64_t v1_plain_size(const struct ecfs_volume *v, uint64_t b)
{
	uint64_t cs = v->hdr.chunk_size, over = ecfs_chunk_overhead(v), sc = cs + over;
	uint64_t body, rest;

	if (b == 0)
		return 0;
	if (b < ECFS_BLOB_HEADER_SIZE)
		return ecfs_fail(-EUCLEAN,
				 "a format-1 blob of %llu bytes is shorter than its header",
				 (unsigned long long)b);
	body = b - ECFS_BLOB_HEADER_SIZE;
	rest = body % sc;
	if (rest != 0 && rest <= over)
		return ecfs_fail(-EUCLEAN, "a format-1 blob of %llu bytes ends in a partial chunk",
				 (unsigned long long)b);
	return (int64_t)(body / sc * cs + (rest ? rest - over : 0));
}

/* Re-encrypts a short XTS tail (len < 16) from the format-1 rule (a zero nonce, as the key
 * starts) to the key's fresh next nonce, which goes into h. */
static int retail(struct ecfs_crypto *c, struct ecfs_file_key *k, uint64_t idx, uint8_t *buf,
		  size_t len, struct ecfs_blob_header *h)
{
	uint8_t plain[16];
	int r = ecfs_chunk_decrypt(c, k, idx, buf, len, plain);

	if (r >= 0)
		r = ecfs_chunk_encrypt(c, k, idx, plain, len, buf);
	if (r == 0 && ecfs_file_key_tail_advance(k, h->tail_nonce) != 1)
		r = ecfs_fail(-EIO, "cannot draw a tail nonce");
	ecfs_wipe(plain, sizeof(plain));
	return r;
}

/* A format-1 hole: an all-zero stored chunk (a short XTS tail is never one). */
static bool is_hole(const struct ecfs_volume *v, const uint8_t *p, size_t len)
{
	if (!ecfs_cipher_is_authenticated(v->hdr.cipher) && len < 16)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Copies one stored chunk: verified (decrypted) first, a short XTS tail re-encrypted. */
static int copy_chunk(const struct ecfs_volume *v, struct ecfs_crypto *c, struct ecfs_file_key *k,
		      uint64_t idx, uint8_t *buf, size_t len, bool last, int dst,
		      struct ecfs_blob_header *h, uint8_t *plain)
{
	int r = ecfs_chunk_decrypt(c, k, idx, buf, len, plain);

	if (r == -EBADMSG)
		return ecfs_fail(-EBADMSG,
				 "chunk %llu of the format-1 blob fails authentication (run "
				 "fsck.envcryptfs)",
				 (unsigned long long)idx);
	if (r < 0)
		return r;
	r = 0;
	if (last && !ecfs_cipher_is_authenticated(v->hdr.cipher) && len < 16)
		r = retail(c, k, idx, buf, len, h);
	if (r == 0)
		r = ecfs_pwrite_full(dst, buf, len, ecfs_chunk_offset(v, idx));
	return r;
}

/* Copies the stored chunks from behind the 24-byte header to behind the 128-byte one; an
 * all-zero chunk (a hole) stays a hole in the new blob and goes into map. */
static int copy_chunks(const struct ecfs_volume *v, struct ecfs_crypto *c, int src, int dst,
		       uint64_t plain, struct ecfs_blob_header *h, struct ecfs_holes *map)
{
	uint64_t cs = v->hdr.chunk_size, sc = cs + ecfs_chunk_overhead(v);
	uint64_t n = (plain + cs - 1) / cs;
	struct ecfs_file_key *k = NULL;
	uint8_t *buf = malloc(sc), *out = malloc(cs);
	int r = buf && out ? 0 : -ENOMEM;

	if (r == 0)
		r = ecfs_file_key_new(v, h->file_id, &k);
	for (uint64_t i = 0; r == 0 && i < n; i++) {
		size_t len = (size_t)(i + 1 < n || plain % cs == 0 ? sc : plain % cs + sc - cs);
		ssize_t got = ecfs_pread_full(src, buf, len, ECFS_BLOB_HEADER_SIZE + i * sc);

		if (got >= 0 && (size_t)got != len)
			got = ecfs_fail(-EUCLEAN, "the format-1 blob shrank while it was copied");
		r = got < 0 ? (int)got : 0;
		if (r == 0 && is_hole(v, buf, len))
			r = ecfs_holes_add(map, i, i + 1);
		else if (r == 0)
			r = copy_chunk(v, c, k, i, buf, len, i + 1 == n, dst, h, out);
	}
	/* Holes at the end exist only as the blob's length. */
	if (r == 0 && ftruncate(dst, (off_t)ecfs_blob_size(v, plain)) < 0)
		r = ecfs_fail(-errno, "cannot size the new blob: %s", strerror(errno));
	ecfs_file_key_free(k);
	if (buf)
		ecfs_wipe(buf, sc);
	if (out)
		ecfs_wipe(out, cs);
	free(buf);
	free(out);
	return r;
}

int ecfs_blob_convert_v1(const struct ecfs_volume *v, struct ecfs_crypto *c, int src_fd, int dst_fd,
			 int rootfd, struct ecfs_blob_header *h)
{
	struct ecfs_holes map = {0};
	uint8_t raw[ECFS_BLOB_HEADER_SIZE];
	struct stat st;
	int64_t plain;
	int r;

	if (ecfs_volume_format(v) < 2)
		return ecfs_fail(-EINVAL,
				 "converting a blob needs the volume's format 2 in memory");
	if (fstat(src_fd, &st) < 0) {
		r = -errno;
		return ecfs_fail(r, "cannot stat the format-1 blob: %s", ecfs_strerror(r));
	}
	plain = v1_plain_size(v, (uint64_t)st.st_size);
	if (plain < 0)
		return (int)plain;
	h->version = 2;
	h->dek_generation = 0;
	h->holes_generation = 0;
	h->flags &= (uint16_t)~ECFS_BLOB_SPARSE;
	h->size = (uint64_t)plain;
	memset(h->tail_nonce, 0, sizeof(h->tail_nonce));
	if (st.st_size == 0) {
		r = ecfs_random(h->file_id, sizeof(h->file_id));
	} else {
		ssize_t got = ecfs_pread_full(src_fd, raw, sizeof(raw), 0);

		r = got < 0 ? (int)got : ecfs_blob_header_parse(raw, (size_t)got, h->file_id);
	}
	if (r == 0)
		r = copy_chunks(v, c, src_fd, dst_fd, (uint64_t)plain, h, &map);
	/* A sparse file stays sparse: its holes go into its first holes map (an interrupted
	 * run's map of the same file ID is replaced; one the file no longer needs, removed). */
	if (r == 0 && map.count) {
		map.generation = 1;
		r = ecfs_holes_commit(v, rootfd, dst_fd, h, &map);
	} else if (r == 0) {
		r = ecfs_blob_header_write(v, dst_fd, h);
		if (r == 0)
			r = ecfs_holes_delete(rootfd, h->file_id);
	}
	ecfs_holes_free(&map);
	return r;
}
