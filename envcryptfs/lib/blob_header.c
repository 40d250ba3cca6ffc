/* SPDX-License-Identifier: MIT */
/*
 * blob_header.c - the header at the start of every blob (man/envcryptfs.5, "Blobs"). Format 1:
 * 24 bytes, magic, version and file ID. Format 2: 128 bytes that also hold the flags, the
 * authenticated plaintext size, the name tags and the XTS tail nonce, under a MAC bound to
 * the volume (a bind tag over the first 112 bytes).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

static const uint8_t blob_magic[4] = {'E', 'C', 'F', 'B'};

#define V2_SIZE	       ECFS_BLOB_HEADER_MAX
#define V2_MAC_AT      112
#define V2_RESERVED    88
#define V2_FLAGS_KNOWN (ECFS_BLOB_LINKED | ECFS_BLOB_SPARSE)
#define MAC_DOMAIN     "blob header"

static bool format2(const struct ecfs_volume *v)
{
	return ecfs_volume_format(v) >= 2;
}

size_t ecfs_blob_header_size(const struct ecfs_volume *v)
{
	return format2(v) ? V2_SIZE : ECFS_BLOB_HEADER_SIZE;
}

int ecfs_blob_header_new(uint8_t out[ECFS_BLOB_HEADER_SIZE])
{
	memcpy(out, blob_magic, 4);
	out[4] = 0;
	out[5] = 1;
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
	if (buf[4] != 0 || buf[5] != 1)
		return ecfs_fail(-EPROTONOSUPPORT, "blob header version %u is not supported",
				 (unsigned)(buf[4] << 8 | buf[5]));
	if (buf[6] != 0 || buf[7] != 0)
		return ecfs_fail(-EUCLEAN, "blob header reserved bytes are not zero");
	memcpy(file_id, buf + 8, ECFS_FILE_ID_SIZE);
	return 0;
}

static int v2_mac(const struct ecfs_volume *v, const uint8_t *buf, uint8_t mac[ECFS_BIND_TAG_SIZE])
{
	struct ecfs_iov part = {buf, V2_MAC_AT};

	return ecfs_bind_tag(v, MAC_DOMAIN, &part, 1, mac);
}

int ecfs_blob_header_encode(const struct ecfs_volume *v, const struct ecfs_blob_header *h,
			    uint8_t out[ECFS_BLOB_HEADER_MAX])
{
	if (!format2(v)) {
		memcpy(out, blob_magic, 4);
		ecfs_put_be(out + 4, 1, 2);
		ecfs_put_be(out + 6, 0, 2);
		memcpy(out + 8, h->file_id, ECFS_FILE_ID_SIZE);
		return 0;
	}
	memset(out, 0, V2_SIZE);
	memcpy(out, blob_magic, 4);
	ecfs_put_be(out + 4, 2, 2);
	ecfs_put_be(out + 6, h->flags, 2);
	memcpy(out + 8, h->file_id, ECFS_FILE_ID_SIZE);
	ecfs_put_be(out + 24, h->dek_generation, 4);
	ecfs_put_be(out + 28, h->holes_generation, 4);
	ecfs_put_be(out + 32, h->size, 8);
	memcpy(out + 40, h->name_tag, sizeof(h->name_tag));
	memcpy(out + 72, h->tail_nonce, sizeof(h->tail_nonce));
	return v2_mac(v, out, out + V2_MAC_AT);
}

/* Checks what the MAC does not say: a valid MAC over malformed fields is a bug or a key
 * compromise, still reported as damage rather than trusted. */
static int v2_check_fields(const uint8_t *buf)
{
	static const uint8_t zero[V2_MAC_AT - V2_RESERVED];
	uint64_t flags = ecfs_get_be(buf + 6, 2);

	if (flags & ~(uint64_t)V2_FLAGS_KNOWN)
		return ecfs_fail(-EUCLEAN, "blob header has unknown flags 0x%04llx",
				 (unsigned long long)flags);
	if (ecfs_get_be(buf + 24, 4) != 0)
		return ecfs_fail(-EUCLEAN, "blob header has a DEK generation this build lacks");
	if (ecfs_get_be(buf + 32, 8) > (uint64_t)INT64_MAX)
		return ecfs_fail(-EUCLEAN, "blob header size is out of range");
	if (memcmp(buf + V2_RESERVED, zero, sizeof(zero)) != 0)
		return ecfs_fail(-EUCLEAN, "blob header reserved bytes are not zero");
	return 0;
}

static int v2_decode(const struct ecfs_volume *v, const uint8_t *buf, size_t len,
		     struct ecfs_blob_header *h)
{
	uint64_t version;
	int r;

	if (len < V2_SIZE)
		return ecfs_fail(-EUCLEAN, "blob header truncated (%zu of %d bytes)", len, V2_SIZE);
	if (memcmp(buf, blob_magic, 4) != 0)
		return ecfs_fail(-EUCLEAN, "blob header has a bad magic number");
	version = ecfs_get_be(buf + 4, 2);
	if (version != 2)
		return ecfs_fail(-EUCLEAN, "blob header version %llu on a format-2 volume",
				 (unsigned long long)version);
	/* A locked volume (fsck without a key) can check the layout only. */
	if (v->keys &&
	    !ecfs_bind_check(v, MAC_DOMAIN, &(struct ecfs_iov){buf, V2_MAC_AT}, 1, buf + V2_MAC_AT))
		return ecfs_fail(-EBADMSG, "blob header fails authentication");
	r = v2_check_fields(buf);
	if (r < 0)
		return r;
	*h = (struct ecfs_blob_header){.version = 2,
				       .flags = (uint16_t)ecfs_get_be(buf + 6, 2),
				       .holes_generation = (uint32_t)ecfs_get_be(buf + 28, 4),
				       .size = ecfs_get_be(buf + 32, 8)};
	memcpy(h->file_id, buf + 8, ECFS_FILE_ID_SIZE);
	memcpy(h->name_tag, buf + 40, sizeof(h->name_tag));
	memcpy(h->tail_nonce, buf + 72, sizeof(h->tail_nonce));
	return 0;
}

int ecfs_blob_header_decode(const struct ecfs_volume *v, const uint8_t *buf, size_t len,
			    struct ecfs_blob_header *h)
{
	int r;

	if (format2(v))
		return v2_decode(v, buf, len, h);
	*h = (struct ecfs_blob_header){.version = 1};
	r = ecfs_blob_header_parse(buf, len, h->file_id);
	return r;
}

int ecfs_blob_header_read(const struct ecfs_volume *v, int fd, struct ecfs_blob_header *h)
{
	uint8_t buf[ECFS_BLOB_HEADER_MAX];
	ssize_t n = ecfs_pread_full(fd, buf, ecfs_blob_header_size(v), 0);

	if (n < 0)
		return ecfs_fail((int)n, "cannot read the blob header: %s", ecfs_strerror((int)n));
	if (n == 0) /* format 1: not yet written; format 2: damage, the caller's call */
		return -ENODATA;
	return ecfs_blob_header_decode(v, buf, (size_t)n, h);
}

int ecfs_blob_header_write(const struct ecfs_volume *v, int fd, const struct ecfs_blob_header *h)
{
	uint8_t buf[ECFS_BLOB_HEADER_MAX];
	int r = ecfs_blob_header_encode(v, h, buf);

	if (r == 0)
		r = ecfs_pwrite_full(fd, buf, ecfs_blob_header_size(v), 0);
	return r < 0 ? ecfs_fail(r, "cannot write the blob header: %s", ecfs_strerror(r)) : 0;
}

int ecfs_blob_header_init(const struct ecfs_volume *v, struct ecfs_blob_header *h)
{
	*h = (struct ecfs_blob_header){.version = format2(v) ? 2 : 1};
	return ecfs_random(h->file_id, ECFS_FILE_ID_SIZE);
}
