/* SPDX-License-Identifier: MIT */
/*
 * blob.c - a plaintext file as one blob: the size arithmetic, and ranged
 * reads and writes that turn byte ranges into whole-chunk crypto (man/envcryptfs.5, "Blobs").
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t ecfs_stored_chunk_size(const struct ecfs_volume *v)
{
	return (uint64_t)v->hdr.chunk_size + ecfs_chunk_overhead(v);
}

int64_t ecfs_plain_size(const struct ecfs_volume *v, uint64_t blob_size)
{
	uint64_t body, full, rest, over = ecfs_chunk_overhead(v), hdr = ecfs_blob_header_size(v);

	if (blob_size == 0)
		return 0; /* format 1: created, header not yet written; format 2: see the header */
	if (blob_size < hdr)
		return -EUCLEAN;
	body = blob_size - hdr;
	full = body / ecfs_stored_chunk_size(v);
	rest = body % ecfs_stored_chunk_size(v);
	if (rest != 0 && rest <= over)
		return -EUCLEAN; /* a stored chunk must carry at least one byte */
	if (full > (uint64_t)INT64_MAX / v->hdr.chunk_size - 1)
		return -EUCLEAN;
	return (int64_t)(full * v->hdr.chunk_size + (rest ? rest - over : 0));
}

uint64_t ecfs_blob_size(const struct ecfs_volume *v, uint64_t plain_size)
{
	uint64_t full = plain_size / v->hdr.chunk_size, rest = plain_size % v->hdr.chunk_size;

	return ecfs_blob_header_size(v) + full * ecfs_stored_chunk_size(v) +
	       (rest ? rest + ecfs_chunk_overhead(v) : 0);
}

uint64_t ecfs_chunk_offset(const struct ecfs_volume *v, uint64_t idx)
{
	return ecfs_blob_header_size(v) + idx * ecfs_stored_chunk_size(v);
}

/* Starts a change to the blob open as fd and finds its plaintext size. */
static int blob_begin(const struct ecfs_volume *v, int fd, struct ecfs_store *s, uint64_t *size)
{
	int64_t n;
	int r = ecfs_store_begin(s, fd);

	if (r < 0)
		return r;
	n = ecfs_plain_size(v, s->old_end);
	if (n < 0)
		return ecfs_fail((int)n, "blob size %llu is not a valid encrypted size",
				 (unsigned long long)s->old_end);
	*size = (uint64_t)n;
	return 0;
}

/* Decrypts chunks [first, first + n) from the stored bytes in scratch (got bytes of them)
 * into plain; returns the plaintext bytes produced. */
static ssize_t decrypt_run(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t first,
			   const uint8_t *stored, size_t got, uint8_t *plain, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	size_t sc = ecfs_stored_chunk_size(v), n = (got + sc - 1) / sc;
	struct ecfs_work w = {.k = k,
			      .first = first,
			      .n = n,
			      .cs = v->hdr.chunk_size,
			      .sc = sc,
			      .stored = (uint8_t *)stored,
			      .got = got,
			      .plain = plain};
	int r = ecfs_work_run(c, &w, bad);

	if (r < 0)
		return r == -EUCLEAN ? -EBADMSG : r;
	/* Every chunk but the last is whole; each gives its stored size less the overhead. */
	return (ssize_t)(got - n * ecfs_chunk_overhead(v));
}

/* Reads the stored chunks from chunk first on that cover n chunks into the scratch buffer;
 * returns the stored bytes read (short at the end of the blob). */
static ssize_t read_stored(struct ecfs_crypto *c, int fd, uint64_t first, uint64_t n,
			   uint8_t **stored)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	size_t want = (size_t)(n * ecfs_stored_chunk_size(v));

	*stored = ecfs_crypto_scratch(c, want);
	if (!*stored)
		return -ENOMEM;
	return ecfs_pread_full(fd, *stored, want, ecfs_chunk_offset(v, first));
}

/* Reads and decrypts the whole chunks covering [off, off + len) into plain, which must hold
 * n chunks; returns the plaintext bytes available from the first chunk's start. */
static ssize_t read_chunks(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			   uint64_t first, uint64_t n, uint8_t *plain, uint64_t *bad)
{
	uint8_t *stored;
	ssize_t got = read_stored(c, fd, first, n, &stored);

	if (got <= 0)
		return got;
	return decrypt_run(c, k, first, stored, (size_t)got, plain, bad);
}

/* Decrypts in place the n whole GCM chunks from chunk first on whose ciphertext is at plain
 * and whose nonces and tags are at meta. */
static int open_in_place(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t first,
			 uint64_t n, uint8_t *meta, uint8_t *plain, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	struct ecfs_work w = {.k = k,
			      .first = first,
			      .n = n,
			      .cs = v->hdr.chunk_size,
			      .sc = ecfs_stored_chunk_size(v),
			      .meta = meta,
			      .plain = plain};
	int r = ecfs_work_run(c, &w, bad);

	return r == -EUCLEAN ? -EBADMSG : r;
}

/* Decrypts the partial last chunk idx from the len stored bytes a scattered read left apart:
 * the nonce at meta, what follows from plain on (the chunk's place, where its plaintext goes;
 * the tag is among it), and the end of a tag that did not fit there at meta after the nonce.
 * They are gathered in scratch, which also held meta: so much of meta is saved first. */
static ssize_t decrypt_scattered_tail(struct ecfs_crypto *c, const struct ecfs_file_key *k,
				      uint64_t idx, const uint8_t *meta, uint8_t *plain, size_t len,
				      uint64_t *bad)
{
	size_t cs = ecfs_crypto_volume(c)->hdr.chunk_size;
	size_t nonce = len < ECFS_CANARY_NONCE ? len : ECFS_CANARY_NONCE;
	size_t body = len - nonce < cs ? len - nonce : cs, spill = len - nonce - body;
	uint8_t saved[ECFS_CANARY_NONCE + ECFS_GCM_TAG], *stored;

	/* spill is at most a tag's length less one: the chunk is partial. */
	memcpy(saved, meta, nonce + spill);
	stored = ecfs_crypto_scratch(c, len);
	if (!stored)
		return -ENOMEM;
	memcpy(stored, saved, nonce);
	memcpy(stored + nonce, plain, body);
	memcpy(stored + nonce + body, saved + nonce, spill);
	return decrypt_run(c, k, idx, stored, len, plain, bad);
}

/*
 * read_chunks for AES-256-GCM without a stored copy: the backing read scatters each chunk's
 * ciphertext to its place in plain and its nonce and tag to scratch, and the chunks are
 * decrypted where they lie. A 1 MiB read then moves through one megabyte of memory instead
 * of two. A partial last chunk (the end of the file) is gathered from where the read left it
 * and decrypted as usual, without reading it again.
 */
static ssize_t read_chunks_in_place(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
				    uint64_t first, uint64_t n, uint8_t *plain, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	size_t cs = v->hdr.chunk_size, over = ecfs_chunk_overhead(v), sc = cs + over;
	struct iovec *iov = (struct iovec *)ecfs_crypto_scratch(c, n * (3 * sizeof(*iov) + over));
	uint8_t *meta = (uint8_t *)(iov + 3 * n);
	uint64_t full;
	ssize_t got, tail;
	int r = 0;

	if (!iov)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		iov[3 * i] = (struct iovec){meta + i * over, ECFS_CANARY_NONCE};
		iov[3 * i + 1] = (struct iovec){plain + i * cs, cs};
		iov[3 * i + 2] = (struct iovec){meta + i * over + ECFS_CANARY_NONCE, ECFS_GCM_TAG};
	}
	got = ecfs_preadv_full(fd, iov, 3 * n, ecfs_chunk_offset(v, first));
	if (got <= 0)
		return got;
	full = (uint64_t)got / sc;
	if (full)
		r = open_in_place(c, k, first, full, meta, plain, bad);
	if (r < 0 || (uint64_t)got % sc == 0)
		return r < 0 ? r : (ssize_t)(full * cs);
	tail = decrypt_scattered_tail(c, k, first + full, meta + full * over, plain + full * cs,
				      (size_t)got % sc, bad);
	return tail < 0 ? tail : (ssize_t)(full * cs) + tail;
}

ssize_t ecfs_blob_pread(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd, void *buf,
			size_t len, uint64_t off, uint64_t *bad_chunk)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size, first = off / cs, skip = off % cs, end = off + len;
	uint64_t n = (skip + len + cs - 1) / cs;
	size_t sc = ecfs_stored_chunk_size(v), pos = 0, out = 0;
	uint8_t *stored, *tmp = NULL, *dst = buf;
	ssize_t got;

	if (len == 0)
		return 0;
	/* Aligned whole-chunk reads decrypt straight into the caller's buffer. */
	if (skip == 0 && len % cs == 0)
		return ecfs_mode_get(v->hdr.cipher)->authenticated
			   ? read_chunks_in_place(c, k, fd, first, n, buf, bad_chunk)
			   : read_chunks(c, k, fd, first, n, buf, bad_chunk);
	/* Otherwise only the chunks the range covers in part go through a chunk of scratch:
	 * the others still decrypt in place. */
	got = read_stored(c, fd, first, n, &stored);
	if (got <= 0)
		return got;
	for (uint64_t idx = first; pos < (size_t)got; idx++) {
		uint64_t start = idx * cs, lo = off > start ? off - start : 0;
		uint64_t hi = end < start + cs ? end - start : cs;
		size_t slen = (size_t)got - pos < sc ? (size_t)got - pos : sc;
		bool whole = lo == 0 && hi == cs;
		int r;

		if (!whole && !tmp && !(tmp = ecfs_crypto_plain(c))) {
			out = 0;
			got = -ENOMEM;
			break;
		}
		r = ecfs_chunk_decrypt(c, k, idx, stored + pos, slen, whole ? dst + out : tmp);
		if (r < 0) {
			if (bad_chunk)
				*bad_chunk = idx;
			got = r == -EUCLEAN ? -EBADMSG : r;
			break;
		}
		if (whole) {
			out += (size_t)r;
		} else {
			if ((uint64_t)r > lo) {
				size_t part = (size_t)(((uint64_t)r < hi ? (uint64_t)r : hi) - lo);

				memcpy(dst + out, tmp + lo, part);
				out += part;
			}
			ecfs_wipe(tmp, (size_t)r);
		}
		if ((uint64_t)r < hi)
			break; /* the end of the file */
		pos += slen;
	}
	return got < 0 ? got : (ssize_t)out;
}

/* Encrypts plain (len bytes starting at chunk first's start) and stores it in one write. */
static int write_chunks(struct ecfs_crypto *c, const struct ecfs_file_key *k, struct ecfs_store *s,
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
	return ecfs_store_write(s, stored, out, ecfs_chunk_offset(v, first));
}

/* Decrypts chunk idx as the blob held it before the change (its stored bytes end at the old
 * end, whatever was written past it since) into plain. */
static ssize_t load_chunk(struct ecfs_crypto *c, const struct ecfs_file_key *k,
			  const struct ecfs_store *s, uint64_t idx, uint8_t *plain, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t start = ecfs_chunk_offset(v, idx), sc = ecfs_stored_chunk_size(v);
	size_t want =
	    s->old_end <= start ? 0 : (size_t)(s->old_end - start < sc ? s->old_end - start : sc);
	uint8_t *stored = ecfs_crypto_scratch(c, sc);
	ssize_t got;

	if (!stored)
		return -ENOMEM;
	if (want == 0)
		return 0;
	got = ecfs_pread_full(s->fd, stored, want, start);
	if (got <= 0)
		return got;
	return decrypt_run(c, k, idx, stored, (size_t)got, plain, bad);
}

/* Rewrites chunk idx to hold its first len plaintext bytes (zeros past its old end): grows a
 * partial last chunk when a write or truncate goes past it, or cuts one short. */
static int rewrite_chunk(struct ecfs_crypto *c, const struct ecfs_file_key *k, struct ecfs_store *s,
			 uint64_t idx, uint64_t len, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size;
	uint8_t *plain = ecfs_crypto_plain(c);
	ssize_t got;
	int r;

	if (!plain)
		return -ENOMEM;
	memset(plain, 0, cs);
	got = load_chunk(c, k, s, idx, plain, bad);
	r = got < 0 ? (int)got : write_chunks(c, k, s, idx, plain, (size_t)len);
	ecfs_wipe(plain, cs);
	return r;
}

/* The context of one ranged write: the plaintext run [first * cs, have) it stores again. */
struct write_run {
	uint64_t cs, off, end, size, have;
};

/* The plaintext length of chunk idx after the write. */
static uint64_t run_chunk_len(const struct write_run *w, uint64_t idx)
{
	uint64_t left = w->have - idx * w->cs;

	return left < w->cs ? left : w->cs;
}

/* True when the write covers chunk idx's new contents only in part. */
static bool run_partial(const struct write_run *w, uint64_t idx)
{
	uint64_t start = idx * w->cs;

	return w->off > start || w->end < start + run_chunk_len(w, idx);
}

/* Fills tmp (one chunk) with chunk idx's contents after the write: its old plaintext where it
 * has one (zeros past it), with the written bytes over it. */
static int merge_chunk(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
		       const struct write_run *w, uint64_t idx, const uint8_t *buf, uint8_t *tmp,
		       uint64_t *bad)
{
	uint64_t start = idx * w->cs, lo = w->off > start ? w->off : start;
	uint64_t hi = w->end < start + w->cs ? w->end : start + w->cs;

	memset(tmp, 0, w->cs);
	if (start < w->size) {
		ssize_t got = read_chunks(c, k, fd, idx, 1, tmp, bad);

		if (got < 0)
			return (int)got;
	}
	memcpy(tmp + (lo - start), buf + (lo - w->off), hi - lo);
	return 0;
}

/* Encrypts the chunks of wk into scratch and stores them in one write. */
static int seal_copied(struct ecfs_crypto *c, struct ecfs_work *wk, struct ecfs_store *s,
		       size_t len)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	int r;

	wk->stored = ecfs_crypto_scratch(c, (size_t)wk->n * wk->sc);
	if (!wk->stored)
		return -ENOMEM;
	r = ecfs_work_run(c, wk, NULL);
	return r < 0 ? r : ecfs_store_write(s, wk->stored, len, ecfs_chunk_offset(v, wk->first));
}

/* AES-256-GCM: encrypts each chunk of wk where its plaintext lies (the caller's buffer, or
 * the merged first and last chunk), its nonce and tag going to scratch, and stores them all
 * in one gathered write: no stored copy of the request. */
static int seal_in_place(struct ecfs_crypto *c, struct ecfs_work *wk, struct ecfs_store *s,
			 size_t len)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	size_t over = wk->sc - wk->cs;
	struct iovec *iov =
	    (struct iovec *)ecfs_crypto_scratch(c, wk->n * (3 * sizeof(*iov) + over));
	int r;

	if (!iov)
		return -ENOMEM;
	wk->meta = (uint8_t *)(iov + 3 * wk->n);
	r = ecfs_work_run(c, wk, NULL);
	if (r < 0)
		return r;
	for (uint64_t i = 0; i < wk->n; i++) {
		uint64_t left = wk->have - (wk->first + i) * wk->cs;
		uint8_t *m = wk->meta + i * over;

		iov[3 * i] = (struct iovec){m, ECFS_CANARY_NONCE};
		iov[3 * i + 1] = (struct iovec){(uint8_t *)ecfs_work_plain(wk, i),
						left < wk->cs ? left : wk->cs};
		iov[3 * i + 2] = (struct iovec){m + ECFS_CANARY_NONCE, ECFS_GCM_TAG};
	}
	return ecfs_store_writev(s, iov, 3 * wk->n, len, ecfs_chunk_offset(v, wk->first));
}

/* ecfs_blob_pwrite; in_place: buf may be spent (GCM encrypts its whole chunks there). */
static ssize_t blob_write(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			  const void *buf, size_t len, uint64_t off, uint64_t *bad_chunk,
			  bool in_place)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size, first = off / cs, end = off + len, size = 0;
	uint64_t last, n;
	size_t over = ecfs_chunk_overhead(v), out;
	uint8_t *tmp = NULL;
	struct ecfs_store s;
	struct write_run w;
	bool head, tail;
	int r;

	if (len == 0)
		return 0;
	if (end < off || end > (uint64_t)INT64_MAX)
		return -EFBIG;
	last = (end - 1) / cs;
	n = last - first + 1;
	r = blob_begin(v, fd, &s, &size);
	if (r < 0)
		return r;
	w = (struct write_run){.cs = cs, .off = off, .end = end, .size = size};
	w.have = size > end ? (size < (last + 1) * cs ? size : (last + 1) * cs) : end;
	/* Only the first and the last chunk can be covered in part: they are merged with their
	 * old contents (read before anything is written), every other chunk is encrypted
	 * straight from buf. */
	head = run_partial(&w, first);
	tail = last != first && run_partial(&w, last);
	if ((head || tail) && !(tmp = ecfs_crypto_plain(c)))
		return -ENOMEM;
	if (head)
		r = merge_chunk(c, k, fd, &w, first, buf, tmp, bad_chunk);
	if (r == 0 && tail)
		r = merge_chunk(c, k, fd, &w, last, buf, tmp + cs, bad_chunk);
	/* All chunks but the last are whole. */
	out = (size_t)(w.have - first * cs) + (size_t)n * over;
	if (r == 0) {
		struct ecfs_work wk = {.k = k,
				       .enc = true,
				       .first = first,
				       .n = n,
				       .cs = cs,
				       .sc = cs + over,
				       .buf = buf,
				       .head = head ? tmp : NULL,
				       .tail = tail ? tmp + cs : NULL,
				       .off = off,
				       .have = w.have};

		r = in_place && ecfs_mode_get(v->hdr.cipher)->authenticated
			? seal_in_place(c, &wk, &s, out)
			: seal_copied(c, &wk, &s, out);
	}
	if (head)
		ecfs_wipe(tmp, cs);
	if (tail)
		ecfs_wipe(tmp + cs, cs);
	/* A partial last chunk before the written range grows to a full chunk: last, as it is
	 * rewritten in place. */
	if (r == 0 && size % cs && size / cs < first)
		r = rewrite_chunk(c, k, &s, size / cs, cs, bad_chunk);
	return r < 0 ? ecfs_store_undo(&s, r) : (ssize_t)len;
}

ssize_t ecfs_blob_pwrite(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
			 const void *buf, size_t len, uint64_t off, uint64_t *bad_chunk)
{
	return blob_write(c, k, fd, buf, len, off, bad_chunk, false);
}

ssize_t ecfs_blob_pwrite_in_place(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
				  void *buf, size_t len, uint64_t off, uint64_t *bad_chunk)
{
	return blob_write(c, k, fd, buf, len, off, bad_chunk, true);
}

/* Cuts the blob to new_size: the new last chunk is re-encrypted shorter (in place) first. */
static int shrink(struct ecfs_crypto *c, const struct ecfs_file_key *k, struct ecfs_store *s,
		  uint64_t new_size, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size, tail = new_size % cs;
	int r = tail ? rewrite_chunk(c, k, s, new_size / cs, tail, bad) : 0;

	return r < 0 ? r : ecfs_store_resize(s, ecfs_blob_size(v, new_size));
}

/* Grows the blob from size to new_size: the new size first, then the new partial last chunk,
 * then the old partial last chunk in place, so that a failure is undone by cutting back. */
static int grow(struct ecfs_crypto *c, const struct ecfs_file_key *k, struct ecfs_store *s,
		uint64_t size, uint64_t new_size, uint64_t *bad)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	uint64_t cs = v->hdr.chunk_size, tail = new_size % cs;
	bool same_chunk = new_size / cs == size / cs;
	int r = ecfs_store_resize(s, ecfs_blob_size(v, new_size));

	/* A new partial last chunk is written out, not left as a hole: a short XTS tail of
	 * zeros on disk would not read back as zeros. */
	if (r == 0 && tail && !(same_chunk && size % cs)) {
		uint8_t *zeros = calloc(1, tail);

		r = zeros ? write_chunks(c, k, s, new_size / cs, zeros, (size_t)tail) : -ENOMEM;
		free(zeros);
	}
	if (r == 0 && size % cs)
		r = rewrite_chunk(c, k, s, size / cs, same_chunk ? tail : cs, bad);
	return r < 0 ? ecfs_store_undo(s, r) : 0;
}

int ecfs_blob_truncate(struct ecfs_crypto *c, const struct ecfs_file_key *k, int fd,
		       uint64_t new_size, uint64_t *bad_chunk)
{
	const struct ecfs_volume *v = ecfs_crypto_volume(c);
	struct ecfs_store s;
	uint64_t size = 0;
	int r = blob_begin(v, fd, &s, &size);

	if (r < 0 || new_size == size)
		return r;
	return new_size < size ? shrink(c, k, &s, new_size, bad_chunk)
			       : grow(c, k, &s, size, new_size, bad_chunk);
}
