/* SPDX-License-Identifier: MIT */
/*
 * holes.c - format 2 holes maps: the chunk ranges of a SPARSE file that may be holes (all-zero
 * stored chunks), kept at the backing root as envcryptfs.holes.<base64url(file ID)>
 * (man/envcryptfs.5, "Holes"). Parsing checks every length and the order of the ranges
 * before the MAC, and the MAC binds the map to the file ID; the generation inside must match
 * the blob header's, whose MAC covers it, so an older map does not fit a newer header.
 *
 *   0          4   magic "ECFH"
 *   4          2   version 1
 *   6          2   reserved, zero
 *   8          4   generation
 *   12         4   n, the number of ranges (0 .. ECFS_HOLES_MAX)
 *   16         16n the ranges: first chunk, end chunk (8 bytes each), first < end, sorted,
 *                  apart (each starts after the previous one's end)
 *   16 + 16n   16  MAC: ecfs_bind_tag(v, "holes map", {file ID, bytes 0 .. 16 + 16n})
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOLES_MAGIC   "ECFH"
#define HOLES_VERSION 1
#define HOLES_FIXED   16
#define HOLES_DOMAIN  "holes map"
/* No chunk index reaches this: a plaintext of at most 2^63 bytes in chunks of >= 512. */
#define HOLES_END_MAX ECFS_HOLES_END_MAX

size_t ecfs_holes_size(uint32_t count)
{
	return HOLES_FIXED + (size_t)count * 16 + ECFS_BIND_TAG_SIZE;
}

void ecfs_holes_name(const uint8_t file_id[ECFS_FILE_ID_SIZE], char out[ECFS_HOLES_NAME_MAX])
{
	size_t pre = strlen(ECFS_HOLES_PREFIX);

	memcpy(out, ECFS_HOLES_PREFIX, pre);
	ecfs_b64url_encode(file_id, ECFS_FILE_ID_SIZE, out + pre);
}

static int holes_mac(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		     const uint8_t *body, size_t len, uint8_t mac[ECFS_BIND_TAG_SIZE])
{
	struct ecfs_iov parts[2] = {{file_id, ECFS_FILE_ID_SIZE}, {body, len}};

	return ecfs_bind_tag(v, HOLES_DOMAIN, parts, 2, mac);
}

/* Checks the ranges' order before anything trusts them (the MAC comes after). */
static int check_ranges(const uint8_t *p, uint32_t n)
{
	uint64_t prev_end = 0;

	for (uint32_t i = 0; i < n; i++, p += 16) {
		uint64_t first = ecfs_get_be(p, 8), end = ecfs_get_be(p + 8, 8);

		if (first >= end || end > HOLES_END_MAX || (i > 0 && first <= prev_end))
			return ecfs_fail(-EUCLEAN,
					 "holes map range %u is empty, out of order or "
					 "out of range",
					 i);
		prev_end = end;
	}
	return 0;
}

int ecfs_holes_parse(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		     const uint8_t *buf, size_t len, struct ecfs_holes *out)
{
	uint8_t mac[ECFS_BIND_TAG_SIZE];
	size_t body;
	uint32_t n;
	int r;

	memset(out, 0, sizeof(*out));
	if (len < HOLES_FIXED || memcmp(buf, HOLES_MAGIC, 4) != 0)
		return ecfs_fail(-EUCLEAN, "holes map has a bad magic number");
	if (ecfs_get_be(buf + 4, 2) != HOLES_VERSION)
		return ecfs_fail(-EPROTONOSUPPORT, "holes map version %u is not supported",
				 (unsigned)ecfs_get_be(buf + 4, 2));
	if (ecfs_get_be(buf + 6, 2) != 0)
		return ecfs_fail(-EUCLEAN, "holes map reserved bytes are not zero");
	n = (uint32_t)ecfs_get_be(buf + 12, 4);
	if (n > ECFS_HOLES_MAX || len != ecfs_holes_size(n))
		return ecfs_fail(-EUCLEAN, "holes map of %zu bytes cannot hold %u ranges", len, n);
	r = check_ranges(buf + HOLES_FIXED, n);
	if (r < 0)
		return r;
	body = len - ECFS_BIND_TAG_SIZE;
	r = holes_mac(v, file_id, buf, body, mac);
	if (r < 0)
		return r;
	if (ecfs_memcmp_ct(mac, buf + body, sizeof(mac)) != 0)
		return ecfs_fail(-EBADMSG, "holes map fails authentication (damaged, or another "
					   "file's)");
	out->generation = (uint32_t)ecfs_get_be(buf + 8, 4);
	if (n > 0 && !(out->r = malloc((size_t)n * sizeof(*out->r))))
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		out->r[i].first = ecfs_get_be(buf + HOLES_FIXED + 16 * i, 8);
		out->r[i].end = ecfs_get_be(buf + HOLES_FIXED + 16 * i + 8, 8);
	}
	out->count = out->cap = n;
	return 0;
}

int ecfs_holes_serialize(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
			 const struct ecfs_holes *m, uint8_t **out, size_t *len)
{
	size_t size = ecfs_holes_size(m->count), body = size - ECFS_BIND_TAG_SIZE;
	uint8_t *buf;
	int r;

	if (m->count > ECFS_HOLES_MAX)
		return -EINVAL;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, HOLES_MAGIC, 4);
	ecfs_put_be(buf + 4, HOLES_VERSION, 2);
	ecfs_put_be(buf + 6, 0, 2);
	ecfs_put_be(buf + 8, m->generation, 4);
	ecfs_put_be(buf + 12, m->count, 4);
	for (uint32_t i = 0; i < m->count; i++) {
		ecfs_put_be(buf + HOLES_FIXED + 16 * i, m->r[i].first, 8);
		ecfs_put_be(buf + HOLES_FIXED + 16 * i + 8, m->r[i].end, 8);
	}
	r = holes_mac(v, file_id, buf, body, buf + body);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = size;
	return 0;
}

/* The index of the first range whose end is above idx (count when none). */
static uint32_t first_ending_after(const struct ecfs_holes *m, uint64_t idx)
{
	uint32_t lo = 0, hi = m->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (m->r[mid].end <= idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool ecfs_holes_contains(const struct ecfs_holes *m, uint64_t idx)
{
	uint32_t i = first_ending_after(m, idx);

	return i < m->count && m->r[i].first <= idx;
}

bool ecfs_holes_covers(const struct ecfs_holes *m, uint64_t first, uint64_t end)
{
	uint32_t i = first_ending_after(m, first);

	return first >= end || (i < m->count && m->r[i].first <= first && m->r[i].end >= end);
}

bool ecfs_holes_meets(const struct ecfs_holes *m, uint64_t first, uint64_t end)
{
	uint32_t i = first_ending_after(m, first);

	return first < end && i < m->count && m->r[i].first < end;
}

/* Room for one more range. The room doubles, so that building a map of n ranges one at a
 * time copies O(n) ranges, not O(n^2). */
static int holes_reserve(struct ecfs_holes *m)
{
	struct ecfs_hole_range *r;
	uint32_t cap;

	if (m->count < m->cap)
		return 0;
	cap = m->cap ? 2 * m->cap : 16;
	if (cap > ECFS_HOLES_MAX + 1)
		cap = ECFS_HOLES_MAX + 1; /* add goes one over, then joins */
	if (cap <= m->count)
		return -ENOMEM;
	r = realloc(m->r, (size_t)cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	m->r = r;
	m->cap = cap;
	return 0;
}

/* Joins the two neighbouring ranges with the smallest gap: the map stays a superset of the
 * holes, and detection only weakens for the chunks in that gap. */
static void join_closest(struct ecfs_holes *m)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i + 1 < m->count; i++)
		if (m->r[i + 1].first - m->r[i].end < m->r[best + 1].first - m->r[best].end)
			best = i;
	m->r[best].end = m->r[best + 1].end;
	memmove(&m->r[best + 1], &m->r[best + 2], (m->count - best - 2) * sizeof(*m->r));
	m->count--;
}

int ecfs_holes_add(struct ecfs_holes *m, uint64_t first, uint64_t end)
{
	uint32_t i, j;

	if (first >= end)
		return 0;
	if (end > HOLES_END_MAX)
		return -EFBIG;
	/* Ranges [i, j) touch or overlap [first, end) and merge with it. */
	i = first_ending_after(m, first ? first - 1 : 0);
	for (j = i; j < m->count && m->r[j].first <= end; j++) {
		first = m->r[j].first < first ? m->r[j].first : first;
		end = m->r[j].end > end ? m->r[j].end : end;
	}
	if (i == j) {
		if (holes_reserve(m) < 0)
			return -ENOMEM;
		memmove(&m->r[i + 1], &m->r[i], (m->count - i) * sizeof(*m->r));
		m->count++;
	} else if (j > i + 1) {
		memmove(&m->r[i + 1], &m->r[j], (m->count - j) * sizeof(*m->r));
		m->count -= j - i - 1;
	}
	m->r[i] = (struct ecfs_hole_range){first, end};
	if (m->count > ECFS_HOLES_MAX)
		join_closest(m);
	return 0;
}

int ecfs_holes_remove(struct ecfs_holes *m, uint64_t first, uint64_t end)
{
	uint32_t i = first_ending_after(m, first);

	if (first >= end || i >= m->count || m->r[i].first >= end)
		return 0;
	/* A range sticking out on both sides splits in two. */
	if (m->r[i].first < first && m->r[i].end > end) {
		if (holes_reserve(m) < 0)
			return -ENOMEM;
		memmove(&m->r[i + 1], &m->r[i], (m->count - i) * sizeof(*m->r));
		m->count++;
		m->r[i].end = first;
		m->r[i + 1].first = end;
		return 0;
	}
	if (m->r[i].first < first) {
		m->r[i].end = first;
		i++;
	}
	while (i < m->count && m->r[i].end <= end) {
		memmove(&m->r[i], &m->r[i + 1], (m->count - i - 1) * sizeof(*m->r));
		m->count--;
	}
	if (i < m->count && m->r[i].first < end)
		m->r[i].first = end;
	return 0;
}

int ecfs_holes_add_unjoined(struct ecfs_holes *m, uint64_t first, uint64_t end)
{
	/* Below the limit before, at most at it after: ecfs_holes_add joins nothing. */
	if (m->count >= ECFS_HOLES_MAX)
		return ecfs_holes_covers(m, first, end) ? 0 : 1;
	return ecfs_holes_add(m, first, end);
}

int ecfs_holes_subtract(struct ecfs_holes *m, const struct ecfs_holes *sub)
{
	int r = 0;

	/* Each removal adds at most one range (a split). */
	for (uint32_t i = 0; r == 0 && i < sub->count && m->count < ECFS_HOLES_MAX; i++)
		r = ecfs_holes_remove(m, sub->r[i].first, sub->r[i].end);
	return r;
}

int ecfs_holes_copy(struct ecfs_holes *dst, const struct ecfs_holes *src)
{
	*dst = (struct ecfs_holes){.generation = src->generation};
	if (src->count == 0)
		return 0;
	dst->r = malloc((size_t)src->count * sizeof(*dst->r));
	if (!dst->r)
		return -ENOMEM;
	memcpy(dst->r, src->r, (size_t)src->count * sizeof(*dst->r));
	dst->count = dst->cap = src->count;
	return 0;
}

void ecfs_holes_free(struct ecfs_holes *m)
{
	free(m->r);
	m->r = NULL;
	m->count = m->cap = 0;
}

int ecfs_holes_read(const struct ecfs_volume *v, int rootfd,
		    const uint8_t file_id[ECFS_FILE_ID_SIZE], struct ecfs_holes *out)
{
	char name[ECFS_HOLES_NAME_MAX];
	uint8_t *buf;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	ecfs_holes_name(file_id, name);
	r = ecfs_read_whole(rootfd, name, ecfs_holes_size(ECFS_HOLES_MAX), &buf, &n);
	if (r == -EFBIG)
		return ecfs_fail(-EUCLEAN, "holes map %s is larger than any map", name);
	if (r < 0)
		return r;
	r = ecfs_holes_parse(v, file_id, buf, n, out);
	free(buf);
	return r;
}

int ecfs_holes_load(const struct ecfs_volume *v, int rootfd, const struct ecfs_blob_header *h,
		    struct ecfs_holes *out)
{
	int r = ecfs_holes_read(v, rootfd, h->file_id, out);

	if (r == -ENOENT)
		return ecfs_fail(-EUCLEAN, "the holes map of a sparse file is missing");
	if (r < 0)
		return r;
	/* The map is written before the header that names its generation: a crash between the
	 * two leaves a map one ahead. */
	if (out->generation != h->holes_generation && out->generation != h->holes_generation + 1u) {
		uint32_t g = out->generation;

		ecfs_holes_free(out);
		return ecfs_fail(-EBADMSG,
				 "holes map of generation %u does not fit the header's %u (an "
				 "older map?)",
				 g, h->holes_generation);
	}
	return 0;
}

int ecfs_holes_write(const struct ecfs_volume *v, int rootfd,
		     const uint8_t file_id[ECFS_FILE_ID_SIZE], const struct ecfs_holes *m)
{
	char name[ECFS_HOLES_NAME_MAX];
	uint8_t *buf;
	size_t len;
	int r = ecfs_holes_serialize(v, file_id, m, &buf, &len);

	if (r < 0)
		return r;
	ecfs_holes_name(file_id, name);
	r = ecfs_write_file_atomic(rootfd, name, buf, len, 0600);
	free(buf);
	return r;
}

int ecfs_holes_delete(int rootfd, const uint8_t file_id[ECFS_FILE_ID_SIZE])
{
	char name[ECFS_HOLES_NAME_MAX];

	ecfs_holes_name(file_id, name);
	return unlinkat(rootfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

int ecfs_holes_commit(const struct ecfs_volume *v, int rootfd, int fd, struct ecfs_blob_header *h,
		      const struct ecfs_holes *m)
{
	struct ecfs_blob_header next = *h;
	int r = ecfs_holes_write(v, rootfd, h->file_id, m);

	/* A crash here leaves the map one generation ahead of the header: still accepted. */
	if (r == 0)
		r = ecfs_fault_at(ECFS_STEP_WRITE, "blob header");
	if (r == 0) {
		next.flags |= ECFS_BLOB_SPARSE;
		next.holes_generation = m->generation;
		r = ecfs_blob_header_write(v, fd, &next);
	}
	if (r == 0 && fdatasync(fd) < 0)
		r = ecfs_fail(-errno, "cannot sync the blob header: %s", strerror(errno));
	if (r == 0)
		*h = next;
	return r;
}
