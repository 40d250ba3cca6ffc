/* SPDX-License-Identifier: MIT */
/*
 * links.c - format 2 link files: the name tags of a file with more than one name (hard
 * links), kept at the backing root as envcryptfs.links.<base64url(file ID)>
 * (man/envcryptfs.5, "Binding"). Parsing checks every length before the MAC, and the MAC
 * binds the list to the file ID, so a link file cannot be moved to another file.
 *
 *   0          4   magic "ECFL"
 *   4          2   version 1
 *   6          2   n, the number of tags (1 .. ECFS_LINKS_MAX)
 *   8          16n the tags, each ecfs_file_name_tag of one name, no two equal
 *   8 + 16n    16  MAC: ecfs_bind_tag(v, "link file", {file ID, bytes 0 .. 8 + 16n})
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINKS_MAGIC   "ECFL"
#define LINKS_VERSION 1
#define LINKS_FIXED   8
#define LINKS_DOMAIN  "link file"

size_t ecfs_links_size(uint32_t count)
{
	return LINKS_FIXED + (size_t)count * ECFS_BIND_TAG_SIZE + ECFS_BIND_TAG_SIZE;
}

void ecfs_links_name(const uint8_t file_id[ECFS_FILE_ID_SIZE], char out[ECFS_LINKS_NAME_MAX])
{
	size_t pre = strlen(ECFS_LINKS_PREFIX);

	memcpy(out, ECFS_LINKS_PREFIX, pre);
	ecfs_b64url_encode(file_id, ECFS_FILE_ID_SIZE, out + pre);
}

static bool has_duplicates(const struct ecfs_links *l);

static int links_mac(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		     const uint8_t *body, size_t len, uint8_t mac[ECFS_BIND_TAG_SIZE])
{
	struct ecfs_iov parts[2] = {{file_id, ECFS_FILE_ID_SIZE}, {body, len}};

	return ecfs_bind_tag(v, LINKS_DOMAIN, parts, 2, mac);
}

int ecfs_links_find(const struct ecfs_links *l, const uint8_t tag[ECFS_BIND_TAG_SIZE])
{
	for (uint32_t i = 0; i < l->count; i++)
		if (ecfs_memcmp_ct(l->tags[i], tag, ECFS_BIND_TAG_SIZE) == 0)
			return (int)i;
	return -1;
}

int ecfs_links_parse(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		     const uint8_t *buf, size_t len, struct ecfs_links *out)
{
	uint8_t mac[ECFS_BIND_TAG_SIZE];
	uint32_t n;
	size_t body;
	int r;

	memset(out, 0, sizeof(*out));
	if (len < LINKS_FIXED || memcmp(buf, LINKS_MAGIC, 4) != 0)
		return ecfs_fail(-EUCLEAN, "link file has a bad magic number");
	if ((buf[4] << 8 | buf[5]) != LINKS_VERSION)
		return ecfs_fail(-EPROTONOSUPPORT, "link file version %u is not supported",
				 (unsigned)(buf[4] << 8 | buf[5]));
	n = (uint32_t)(buf[6] << 8 | buf[7]);
	if (n == 0 || len != ecfs_links_size(n))
		return ecfs_fail(-EUCLEAN, "link file of %zu bytes cannot hold %u tags", len, n);
	body = len - ECFS_BIND_TAG_SIZE;
	r = links_mac(v, file_id, buf, body, mac);
	if (r < 0)
		return r;
	if (ecfs_memcmp_ct(mac, buf + body, sizeof(mac)) != 0)
		return ecfs_fail(-EBADMSG, "link file fails authentication (damaged, or another "
					   "file's)");
	out->tags = malloc((size_t)n * ECFS_BIND_TAG_SIZE);
	if (!out->tags)
		return -ENOMEM;
	memcpy(out->tags, buf + LINKS_FIXED, (size_t)n * ECFS_BIND_TAG_SIZE);
	out->count = n;
	if (has_duplicates(out)) {
		ecfs_links_free(out);
		return ecfs_fail(-EUCLEAN, "link file names one place twice");
	}
	return 0;
}

static int tag_cmp(const void *a, const void *b)
{
	return memcmp(a, b, ECFS_BIND_TAG_SIZE);
}

/* True when two tags of l are equal (sorted on a copy: n may be 65535). */
static bool has_duplicates(const struct ecfs_links *l)
{
	uint8_t(*sorted)[ECFS_BIND_TAG_SIZE];
	bool dup = false;

	if (l->count < 2)
		return false;
	sorted = malloc((size_t)l->count * ECFS_BIND_TAG_SIZE);
	if (!sorted)
		return true; /* refused: cannot be checked */
	memcpy(sorted, l->tags, (size_t)l->count * ECFS_BIND_TAG_SIZE);
	qsort(sorted, l->count, ECFS_BIND_TAG_SIZE, tag_cmp);
	for (uint32_t i = 1; i < l->count && !dup; i++)
		dup = memcmp(sorted[i - 1], sorted[i], ECFS_BIND_TAG_SIZE) == 0;
	free(sorted);
	return dup;
}

int ecfs_links_serialize(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
			 const struct ecfs_links *l, uint8_t **out, size_t *len)
{
	size_t n = l->count, size = ecfs_links_size(l->count), body = size - ECFS_BIND_TAG_SIZE;
	uint8_t *buf;
	int r;

	if (n == 0 || n > ECFS_LINKS_MAX)
		return -EINVAL;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, LINKS_MAGIC, 4);
	buf[4] = 0;
	buf[5] = LINKS_VERSION;
	buf[6] = (uint8_t)(n >> 8);
	buf[7] = (uint8_t)n;
	memcpy(buf + LINKS_FIXED, l->tags, n * ECFS_BIND_TAG_SIZE);
	r = links_mac(v, file_id, buf, body, buf + body);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = size;
	return 0;
}

int ecfs_links_add(struct ecfs_links *l, const uint8_t tag[ECFS_BIND_TAG_SIZE])
{
	uint8_t(*tags)[ECFS_BIND_TAG_SIZE];

	if (ecfs_links_find(l, tag) >= 0)
		return 0;
	if (l->count >= ECFS_LINKS_MAX)
		return -EMLINK;
	tags = realloc(l->tags, ((size_t)l->count + 1) * ECFS_BIND_TAG_SIZE);
	if (!tags)
		return -ENOMEM;
	memcpy(tags[l->count], tag, ECFS_BIND_TAG_SIZE);
	l->tags = tags;
	l->count++;
	return 0;
}

bool ecfs_links_remove(struct ecfs_links *l, const uint8_t tag[ECFS_BIND_TAG_SIZE])
{
	int i = ecfs_links_find(l, tag);

	if (i < 0)
		return false;
	memmove(l->tags[i], l->tags[i + 1], (l->count - (uint32_t)i - 1) * ECFS_BIND_TAG_SIZE);
	l->count--;
	return true;
}

void ecfs_links_free(struct ecfs_links *l)
{
	free(l->tags);
	l->tags = NULL;
	l->count = 0;
}

int ecfs_links_read(const struct ecfs_volume *v, int rootfd,
		    const uint8_t file_id[ECFS_FILE_ID_SIZE], struct ecfs_links *out)
{
	char name[ECFS_LINKS_NAME_MAX];
	uint8_t *buf;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	ecfs_links_name(file_id, name);
	r = ecfs_read_whole(rootfd, name, ecfs_links_size(ECFS_LINKS_MAX), &buf, &n);
	if (r == -EFBIG)
		return ecfs_fail(-EUCLEAN, "link file %s is larger than any link file", name);
	if (r < 0)
		return r;
	r = ecfs_links_parse(v, file_id, buf, n, out);
	free(buf);
	return r;
}

int ecfs_links_write(const struct ecfs_volume *v, int rootfd,
		     const uint8_t file_id[ECFS_FILE_ID_SIZE], const struct ecfs_links *l)
{
	char name[ECFS_LINKS_NAME_MAX];
	uint8_t *buf;
	size_t len;
	int r = ecfs_links_serialize(v, file_id, l, &buf, &len);

	if (r < 0)
		return r;
	ecfs_links_name(file_id, name);
	r = ecfs_write_file_atomic(rootfd, name, buf, len, 0600);
	free(buf);
	return r;
}

int ecfs_links_delete(int rootfd, const uint8_t file_id[ECFS_FILE_ID_SIZE])
{
	char name[ECFS_LINKS_NAME_MAX];

	ecfs_links_name(file_id, name);
	return unlinkat(rootfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}
