/* SPDX-License-Identifier: MIT */
/*
 * place.c - format 2: directory ID files bound to the directory's place (parent directory ID
 * and full encoded name), and sealed values whose associated data names their place
 * (man/envcryptfs.5, "Binding").
 */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIR_TAG_DOMAIN	"dir name"
#define FILE_TAG_DOMAIN "file name"
#define XATTR_DOMAIN_2	"xattr 2"

static bool bound_format(const struct ecfs_volume *v)
{
	return ecfs_volume_format(v) >= 2;
}

static int dir_tag(const struct ecfs_volume *v, const uint8_t id[ECFS_DIR_ID_SIZE],
		   const struct ecfs_place *at, uint8_t tag[ECFS_BIND_TAG_SIZE])
{
	struct ecfs_iov parts[3] = {{id, ECFS_DIR_ID_SIZE},
				    {at->parent_id, ECFS_DIR_ID_SIZE},
				    {at->name, strlen(at->name)}};

	return ecfs_bind_tag(v, DIR_TAG_DOMAIN, parts, 3, tag);
}

/* ID || tag of a || tag of b (zeros when b is NULL). */
static int dirid_build(const struct ecfs_volume *v, const uint8_t id[ECFS_DIR_ID_SIZE],
		       const struct ecfs_place *a, const struct ecfs_place *b,
		       uint8_t out[ECFS_DIRID_FILE_SIZE])
{
	int r;

	memset(out, 0, ECFS_DIRID_FILE_SIZE);
	memcpy(out, id, ECFS_DIR_ID_SIZE);
	r = dir_tag(v, id, a, out + ECFS_DIR_ID_SIZE);
	if (r == 0 && b)
		r = dir_tag(v, id, b, out + ECFS_DIR_ID_SIZE + ECFS_BIND_TAG_SIZE);
	return r;
}

int ecfs_dirid_create_at(const struct ecfs_volume *v, int dirfd, const struct ecfs_place *at,
			 uint8_t id[ECFS_DIR_ID_SIZE])
{
	uint8_t buf[ECFS_DIRID_FILE_SIZE];
	int fd, r;

	if (!bound_format(v))
		return ecfs_dirid_create(dirfd, id);
	r = ecfs_random(id, ECFS_DIR_ID_SIZE);
	if (r == 0)
		r = dirid_build(v, id, at, NULL, buf);
	if (r < 0)
		return r;
	fd = openat(dirfd, ECFS_DIR_ID_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	r = ecfs_write_full(fd, buf, sizeof(buf));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		unlinkat(dirfd, ECFS_DIR_ID_NAME, 0);
	return r;
}

int ecfs_dirid_read_at(const struct ecfs_volume *v, int dirfd, const struct ecfs_place *at,
		       uint8_t id[ECFS_DIR_ID_SIZE])
{
	uint8_t buf[ECFS_DIRID_FILE_SIZE + 1], tag[ECFS_BIND_TAG_SIZE];
	const uint8_t *tags = buf + ECFS_DIR_ID_SIZE;
	ssize_t n;
	int fd, r;

	if (!bound_format(v))
		return ecfs_dirid_read(dirfd, id);
	fd = ecfs_open_typed(dirfd, ECFS_DIR_ID_NAME, O_RDONLY, 0, S_IFREG);
	if (fd < 0)
		return fd;
	n = ecfs_pread_full(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return (int)n;
	if (n != ECFS_DIRID_FILE_SIZE)
		return ecfs_fail(-EUCLEAN, "directory ID file has %zd bytes, not %d", n,
				 ECFS_DIRID_FILE_SIZE);
	if (at) {
		r = dir_tag(v, buf, at, tag);
		if (r < 0)
			return r;
		/* Tag B is set only while a rename is under way: either name is right. */
		if (ecfs_memcmp_ct(tag, tags, sizeof(tag)) != 0 &&
		    ecfs_memcmp_ct(tag, tags + ECFS_BIND_TAG_SIZE, sizeof(tag)) != 0)
			return ecfs_fail(-EBADMSG, "directory ID is bound to another place "
						   "(moved or swapped?)");
	}
	memcpy(id, buf, ECFS_DIR_ID_SIZE);
	return 0;
}

int ecfs_dirid_rebind(const struct ecfs_volume *v, int dirfd, const uint8_t id[ECFS_DIR_ID_SIZE],
		      const struct ecfs_place *a, const struct ecfs_place *b)
{
	uint8_t buf[ECFS_DIRID_FILE_SIZE];
	int r;

	if (!bound_format(v))
		return 0;
	r = dirid_build(v, id, a, b, buf);
	if (r == 0)
		r = ecfs_write_file_atomic(dirfd, ECFS_DIR_ID_NAME, buf, sizeof(buf), 0444);
	return r;
}

/* The associated data of a value sealed at a place: the place's parent ID and name. */
static void place_parts(const struct ecfs_place *at, struct ecfs_iov parts[2])
{
	parts[0] = (struct ecfs_iov){at->parent_id, ECFS_DIR_ID_SIZE};
	parts[1] = (struct ecfs_iov){at->name, strlen(at->name)};
}

int ecfs_symlink_encrypt_at(struct ecfs_crypto *c, const struct ecfs_place *at, const char *target,
			    char *out, size_t outsz)
{
	struct ecfs_iov parts[2];
	size_t len = strlen(target);
	uint8_t *sealed;
	int r;

	if (!at)
		return ecfs_symlink_encrypt(c, target, out, outsz);
	sealed = malloc(len + ECFS_SEAL_OVERHEAD);
	if (!sealed)
		return -ENOMEM;
	place_parts(at, parts);
	r = ecfs_seal_ad(c, ECFS_SYMLINK_DOMAIN_2, parts, 2, (const uint8_t *)target, len, sealed);
	if (r >= 0 && ecfs_b64_encoded_len((size_t)r) + 1 > outsz)
		r = -ENAMETOOLONG;
	if (r >= 0)
		r = (int)ecfs_b64url_encode(sealed, (size_t)r, out);
	free(sealed);
	return r;
}

int ecfs_symlink_decrypt_at(struct ecfs_crypto *c, const struct ecfs_place *at, const char *stored,
			    char *out, size_t outsz)
{
	struct ecfs_iov parts[2];
	size_t slen = strlen(stored);
	uint8_t *sealed;
	int n, r;

	if (!at)
		return ecfs_symlink_decrypt(c, stored, out, outsz);
	sealed = malloc(slen + 1);
	if (!sealed)
		return -ENOMEM;
	n = ecfs_b64url_decode(stored, slen, sealed, slen);
	if (n < ECFS_SEAL_OVERHEAD || (size_t)n - ECFS_SEAL_OVERHEAD + 1 > outsz) {
		free(sealed);
		return n < ECFS_SEAL_OVERHEAD ? -EBADMSG : -ENAMETOOLONG;
	}
	place_parts(at, parts);
	r = ecfs_unseal_ad(c, ECFS_SYMLINK_DOMAIN_2, parts, 2, sealed, (size_t)n, (uint8_t *)out);
	if (r >= 0)
		out[r] = '\0';
	free(sealed);
	return r;
}

int ecfs_file_name_tag(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		       const struct ecfs_place *at, uint8_t tag[ECFS_BIND_TAG_SIZE])
{
	struct ecfs_iov parts[3] = {{file_id, ECFS_FILE_ID_SIZE},
				    {at->parent_id, ECFS_DIR_ID_SIZE},
				    {at->name, strlen(at->name)}};

	return ecfs_bind_tag(v, FILE_TAG_DOMAIN, parts, 3, tag);
}

/* An attribute value's associated data: the object's ID and the encoded attribute name. */
static void xattr_parts(const uint8_t oid[ECFS_FILE_ID_SIZE], const char *encoded,
			struct ecfs_iov parts[2])
{
	parts[0] = (struct ecfs_iov){oid, ECFS_FILE_ID_SIZE};
	parts[1] = (struct ecfs_iov){encoded, strlen(encoded)};
}

int ecfs_xattr_seal_at(struct ecfs_crypto *c, const uint8_t oid[ECFS_FILE_ID_SIZE],
		       const char *encoded, const uint8_t *in, size_t len, uint8_t *out)
{
	struct ecfs_iov parts[2];

	xattr_parts(oid, encoded, parts);
	return ecfs_seal_ad(c, XATTR_DOMAIN_2, parts, 2, in, len, out);
}

int ecfs_xattr_unseal_at(struct ecfs_crypto *c, const uint8_t oid[ECFS_FILE_ID_SIZE],
			 const char *encoded, const uint8_t *in, size_t len, uint8_t *out)
{
	struct ecfs_iov parts[2];

	xattr_parts(oid, encoded, parts);
	return ecfs_unseal_ad(c, XATTR_DOMAIN_2, parts, 2, in, len, out);
}
