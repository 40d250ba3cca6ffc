/* SPDX-License-Identifier: MIT */
/*
 * blob.c - a plaintext file as one blob: the blob header, the size arithmetic, and ranged
 * reads and writes that turn byte ranges into whole-chunk crypto (man/envcryptfs.5, "Blobs").
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t blob_magic[4] = { 'E', 'C', 'F', 'B' };
#define BLOB_VERSION 1

const struct ecfs_volume *ecfs_crypto_volume(const struct ecfs_crypto *c);
uint8_t *ecfs_crypto_scratch(struct ecfs_crypto *c, size_t len);

int ecfs_blob_header_new(uint8_t out[ECFS_BLOB_HEADER_SIZE])
{
	memcpy(out, blob_magic, 4);
	out[4] = 0;
	out[5] = BLOB_VERSION;
	out[6] = out[7] = 0;
	return ecfs_random(out + 8, ECFS_FILE_ID_SIZE);
}

int ecfs_blob_header_parse(const uint8_t *buf, size_t len, uint8_t file_id[ECFS_FILE_ID_SIZE])
{
	if (len < ECFS_BLOB_HEADER_SIZE)
		return ecfs_fail(-EUCLEAN, "blob header truncated (%zu of %d bytes)", len,
				 ECFS_BLOB_HEADER_SIZE);
	if (memcmp(buf, blob_magic, 4) != 0)
		return ecfs_fail(-EUCLEAN, "blob header has a bad magic number");
	if (buf[4] != 0 || buf[5] != BLOB_VERSION)
		return ecfs_fail(-EPROTONOSUPPORT, "blob header version %u is not supported",
				 (unsigned)(buf[4] << 8 | buf[5]));
	if (buf[6] != 0 || buf[7] != 0)
		return ecfs_fail(-EUCLEAN, "blob header reserved bytes are not zero");
	memcpy(file_id, buf + 8, ECFS_FILE_ID_SIZE);
	return 0;
}

static uint64_t stored_chunk(const struct ecfs_volume *v)
{
	return (uint64_t)v->hdr.chunk_size + ecfs_chunk_overhead(v);
}

int64_t ecfs_plain_size(const struct ecfs_volume *v, uint64_t blob_size)
{
	uint64_t body, full, rest, over = ecfs_chunk_overhead(v);

	if (blob_size == 0)
		return 0; /* created, header not yet written */
	if (blob_size < ECFS_BLOB_HEADER_SIZE)
		return -EUCLEAN;
	body = blob_size - ECFS_BLOB_HEADER_SIZE;
	full = body / stored_chunk(v);
	rest = body % stored_chunk(v);
	if (rest != 0 && rest <= over)
		return -EUCLEAN; /* a stored chunk must carry at least one byte */
	if (full > (uint64_t)INT64_MAX / v->hdr.chunk_size - 1)
		return -EUCLEAN;
	return (int64_t)(full * v->hdr.chunk_size + (rest ? rest - over : 0));
}

uint64_t ecfs_blob_size(const struct ecfs_volume *v, uint64_t plain_size)
{
	uint64_t full = plain_size / v->hdr.chunk_size, rest = plain_size % v->hdr.chunk_size;

	return ECFS_BLOB_HEADER_SIZE + full * stored_chunk(v) +
	       (rest ? rest + ecfs_chunk_overhead(v) : 0);
}

uint64_t ecfs_chunk_offset(const struct ecfs_volume *v, uint64_t idx)
{
	return ECFS_BLOB_HEADER_SIZE + idx * stored_chunk(v);
}

static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pwrite(fd, (const uint8_t *)buf + done, len - done,
				   (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

static int blob_plain_size(const struct ecfs_volume *v, int fd, uint64_t *size)
{
	struct stat st;
	int64_t s;

	if (fstat(fd, &st) < 0)
		return -errno;
	s = ecfs_plain_size(v, (uint64_t)st.st_size);
	if (s < 0)
		return ecfs_fail((int)s, "blob size %lld is not a valid encrypted size",
				 (long long)st.st_size);
	*size = (uint64_t)s;
	return 0;
}

/* Decrypts chunks [first, first + n) from the stored bytes in scratch (got bytes of them)
 * into plain; returns the plaintext bytes produced. */
static ssize_t decrypt_run(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t first,
			   const uint8_t *stored, size_t got, uint8_t *plain, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	size_t sc = stored_chunk(v), pos = 0, out = 0;

	for (uint64_t idx = first; pos < got; idx++) {
		size_t n = got - pos < sc ? got - pos : sc;
		int r = ecfs_chunk_decrypt(c, k, idx, stored + pos, n, plain + out);

		if (r < 0) {
			if (bad)
				*bad = idx;
			return r == -EUCLEAN ? -EBADMSG : r;
		}
		pos += n;
		out += (size_t)r;
	}
	return (ssize_t)out;
}

/* Reads and decrypts the whole chunks covering [off, off + len) into plain, which must hold
 * n chunks; returns the plaintext bytes available from the first chunk's start. */
static ssize_t read_chunks(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			   uint64_t first, uint64_t n, uint8_t *plain, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	size_t want = (size_t)(n * stored_chunk(v));
	uint8_t *stored = ecfs_crypto_scratch(c, want);
	ssize_t got;

	if (!stored)
		return -ENOMEM;
	got = pread_full(fd, stored, want, ecfs_chunk_offset(v, first));
	if (got <= 0)
		return got;
	return decrypt_run(c, k, first, stored, (size_t)got, plain, bad);
}

ssize_t ecfs_blob_pread(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd, void *buf,
			size_t len, uint64_t off, uint64_t *bad_chunk)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size, first = off / cs, skip = off % cs;
	uint64_t n = (skip + len + cs - 1) / cs;
	uint8_t *plain;
	ssize_t got;

	if (len == 0)
		return 0;
	/* Aligned whole-chunk reads decrypt straight into the caller's buffer. */
	if (skip == 0 && len % cs == 0) {
		got = read_chunks(c, k, fd, first, n, buf, bad_chunk);
		return got;
	}
	plain = malloc(n * cs);
	if (!plain)
		return -ENOMEM;
	got = read_chunks(c, k, fd, first, n, plain, bad_chunk);
	if (got > (ssize_t)skip) {
		got -= (ssize_t)skip;
		if ((size_t)got > len)
			got = (ssize_t)len;
		memcpy(buf, plain + skip, (size_t)got);
	} else if (got >= 0) {
		got = 0;
	}
	ecfs_wipe(plain, n * cs);
	free(plain);
	return got;
}

/* Encrypts plain (len bytes starting at chunk first's start) and writes it in one pwrite. */
static int write_chunks(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			uint64_t first, const uint8_t *plain, size_t len)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	size_t cs = v->hdr.chunk_size, over = ecfs_chunk_overhead(v);
	size_t n = (len + cs - 1) / cs, pos = 0, out = 0;
	uint8_t *stored = ecfs_crypto_scratch(c, n * (cs + over));
	int r;

	if (!stored)
		return -ENOMEM;
	for (uint64_t idx = first; pos < len; idx++) {
		size_t part = len - pos < cs ? len - pos : cs;

		r = ecfs_chunk_encrypt(c, k, idx, plain + pos, part, stored + out);
		if (r < 0)
			return r;
		pos += part;
		out += part + over;
	}
	return pwrite_full(fd, stored, out, ecfs_chunk_offset(v, first));
}

/* Rewrites chunk idx to hold its first len plaintext bytes (zeros past its old end): grows a
 * partial last chunk before a write or truncate goes past it, or cuts one short. */
static int rewrite_chunk(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			 uint64_t idx, uint64_t len, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size;
	uint8_t *plain = calloc(1, cs);
	ssize_t got;
	int r;

	if (!plain)
		return -ENOMEM;
	got = read_chunks(c, k, fd, idx, 1, plain, bad);
	r = got < 0 ? (int)got : write_chunks(c, k, fd, idx, plain, (size_t)len);
	ecfs_wipe(plain, cs);
	free(plain);
	return r;
}

/* Fills plain (chunks first..last) with the existing contents of the chunks the write
 * [off, end) covers only in part; fully covered chunks are not read. */
static int read_partial_ends(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			     uint64_t off, uint64_t end, uint64_t size, uint8_t *plain,
			     uint64_t *bad)
{
	uint64_t cs = ecfs_crypto_volume(c)->hdr.chunk_size, first = off / cs;
	uint64_t last = (end - 1) / cs;
	bool head = (off % cs || (first == last && end % cs)) && first * cs < size;
	bool tail = last != first && end % cs && last * cs < size;
	ssize_t got = 0;

	if (head)
		got = read_chunks(c, k, fd, first, 1, plain, bad);
	if (got >= 0 && tail)
		got = read_chunks(c, k, fd, last, 1, plain + (last - first) * cs, bad);
	return got < 0 ? (int)got : 0;
}

ssize_t ecfs_blob_pwrite(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			 const void *buf, size_t len, uint64_t off, uint64_t *bad_chunk)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size, first = off / cs, end = off + len, size, have;
	uint64_t last, n;
	uint8_t *plain;
	int r;

	if (len == 0)
		return 0;
	if (end < off || end > (uint64_t)INT64_MAX)
		return -EFBIG;
	last = (end - 1) / cs;
	n = last - first + 1;
	r = blob_plain_size(v, fd, &size);
	if (r < 0)
		return r;
	/* A partial last chunk before the written range must grow to a full chunk first. */
	if (size % cs && size / cs < first) {
		r = rewrite_chunk(c, k, fd, size / cs, cs, bad_chunk);
		if (r < 0)
			return r;
	}
	plain = calloc(n, cs);
	if (!plain)
		return -ENOMEM;
	r = read_partial_ends(c, k, fd, off, end, size, plain, bad_chunk);
	if (r == 0) {
		memcpy(plain + off % cs, buf, len);
		have = size > end ? (size < (last + 1) * cs ? size : (last + 1) * cs) : end;
		r = write_chunks(c, k, fd, first, plain, (size_t)(have - first * cs));
	}
	ecfs_wipe(plain, n * cs);
	free(plain);
	return r < 0 ? r : (ssize_t)len;
}

int ecfs_blob_truncate(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
		       uint64_t new_size, uint64_t *bad_chunk)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size, size, tail = new_size % cs;
	bool same_chunk;
	int r = blob_plain_size(v, fd, &size);

	if (r < 0 || new_size == size)
		return r;
	same_chunk = new_size / cs == size / cs;
	if (new_size > size && size % cs) {
		/* Grow the old partial last chunk in place, up to the new size or a full chunk. */
		r = rewrite_chunk(c, k, fd, size / cs, same_chunk ? tail : cs, bad_chunk);
	} else if (new_size < size && tail) {
		/* Cut the new last chunk mid-way: re-encrypt its remaining bytes. */
		r = rewrite_chunk(c, k, fd, new_size / cs, tail, bad_chunk);
	}
	if (r == 0 && ftruncate(fd, (off_t)ecfs_blob_size(v, new_size)) < 0)
		r = -errno;
	/* A new partial last chunk is written out, not left as a hole: a short XTS tail of
	 * zeros on disk would not read back as zeros. */
	if (r == 0 && new_size > size && tail && !(same_chunk && size % cs)) {
		uint8_t *zeros = calloc(1, tail);

		r = zeros ? write_chunks(c, k, fd, new_size / cs, zeros, (size_t)tail) : -ENOMEM;
		free(zeros);
	}
	return r;
}
