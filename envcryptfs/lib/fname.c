/* SPDX-License-Identifier: MIT */
/*
 * fname.c - file-name encryption: SIV under the directory's ID, padding to 16 bytes, base64url,
 * and hashed long names with side files (man/envcryptfs.5, "Names").
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_PAD 16
/* Encoded names longer than this are stored as a hash plus a side file. */
#define DISK_NAME_LIMIT 255
#define HASH_B64_LEN	43

bool ecfs_name_well_formed(const char *encoded)
{
	uint8_t buf[ECFS_ENCODED_NAME_MAX];
	size_t len = strlen(encoded);
	int n;

	/* A 16-byte SIV, then whole 16-byte blocks of the padded name: 2 to 17 blocks. */
	if (len < ecfs_b64_encoded_len(32) || len >= ECFS_ENCODED_NAME_MAX)
		return false;
	n = ecfs_b64url_decode(encoded, len, buf, sizeof(buf));
	return n >= 32 && n <= ECFS_SIV_TAG_SIZE + ECFS_NAME_MAX + 1 && n % 16 == 0;
}

enum ecfs_name_kind ecfs_name_classify(const char *n)
{
	size_t len = strlen(n), pre = strlen(ECFS_LONG_PREFIX), suf = strlen(ECFS_LONG_SIDE_SUFFIX);

	if (!strcmp(n, ECFS_HEADER_NAME) || !strcmp(n, ECFS_HEADER_COPY_NAME) ||
	    !strcmp(n, ECFS_DIR_ID_NAME) || !strcmp(n, ECFS_LOCK_NAME) ||
	    !strcmp(n, ECFS_METALOCK_NAME) ||
	    !strncmp(n, ECFS_TMP_PREFIX, strlen(ECFS_TMP_PREFIX)) ||
	    !strncmp(n, ECFS_LINKS_PREFIX, strlen(ECFS_LINKS_PREFIX)) ||
	    !strncmp(n, ECFS_HOLES_PREFIX, strlen(ECFS_HOLES_PREFIX)))
		return ECFS_NAME_RESERVED;
	if (!strncmp(n, ECFS_LONG_PREFIX, pre)) {
		if (len == pre + HASH_B64_LEN)
			return ECFS_NAME_LONG;
		if (len == pre + HASH_B64_LEN + suf &&
		    !strcmp(n + len - suf, ECFS_LONG_SIDE_SUFFIX))
			return ECFS_NAME_LONG_SIDE;
		return ECFS_NAME_INVALID;
	}
	if (ecfs_link_is_ref(n))
		return ECFS_NAME_LINK_SIDE;
	return ecfs_name_well_formed(n) ? ECFS_NAME_ENCRYPTED : ECFS_NAME_INVALID;
}

void ecfs_name_long_hash(const char *full, char disk[ECFS_DISK_NAME_MAX])
{
	uint8_t hash[32];
	size_t pre = strlen(ECFS_LONG_PREFIX);

	ecfs_sha256(full, strlen(full), hash);
	memcpy(disk, ECFS_LONG_PREFIX, pre);
	ecfs_b64url_encode(hash, sizeof(hash), disk + pre);
}

static int check_plain_name(const char *name, size_t len)
{
	if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)) ||
	    memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	if (len > ECFS_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int ecfs_name_encrypt(struct ecfs_crypto *c, const uint8_t dir_id[ECFS_DIR_ID_SIZE],
		      const char *name, size_t len, struct ecfs_disk_name *out)
{
	uint8_t padded[ECFS_NAME_MAX + NAME_PAD], sealed[sizeof(padded) + ECFS_SIV_TAG_SIZE];
	struct ecfs_iov ad = {dir_id, ECFS_DIR_ID_SIZE};
	size_t plen = (len / NAME_PAD + 1) * NAME_PAD;
	int r = check_plain_name(name, len);

	if (r < 0)
		return r;
	/* PKCS#7-style padding hides the exact length within 16 bytes. */
	memcpy(padded, name, len);
	memset(padded + len, (int)(plen - len), plen - len);
	r = ecfs_siv_encrypt(ecfs_crypto_names(c), &ad, 1, padded, plen, sealed);
	if (r < 0)
		return r;
	ecfs_b64url_encode(sealed, plen + ECFS_SIV_TAG_SIZE, out->full);
	out->is_long = strlen(out->full) > DISK_NAME_LIMIT;
	if (out->is_long)
		ecfs_name_long_hash(out->full, out->disk);
	else
		memcpy(out->disk, out->full, strlen(out->full) + 1);
	return 0;
}

int ecfs_name_decrypt(struct ecfs_crypto *c, const uint8_t dir_id[ECFS_DIR_ID_SIZE],
		      const char *encoded, char *out)
{
	uint8_t sealed[ECFS_NAME_MAX + NAME_PAD + ECFS_SIV_TAG_SIZE];
	uint8_t padded[sizeof(sealed)];
	struct ecfs_iov ad = {dir_id, ECFS_DIR_ID_SIZE};
	size_t plen, pad, elen = strlen(encoded);
	int n, r;

	if (elen > ECFS_ENCODED_NAME_MAX - 1)
		return -EBADMSG;
	n = ecfs_b64url_decode(encoded, elen, sealed, sizeof(sealed));
	if (n < ECFS_SIV_TAG_SIZE + NAME_PAD || (n - ECFS_SIV_TAG_SIZE) % NAME_PAD)
		return -EBADMSG;
	plen = (size_t)n - ECFS_SIV_TAG_SIZE;
	r = ecfs_siv_decrypt(ecfs_crypto_names(c), &ad, 1, sealed, (size_t)n, padded);
	if (r < 0)
		return -EBADMSG;
	pad = padded[plen - 1];
	r = pad >= 1 && pad <= NAME_PAD ? 0 : -EBADMSG;
	for (size_t i = plen - pad; r == 0 && i < plen; i++)
		r = padded[i] == pad ? 0 : -EBADMSG;
	if (r == 0)
		r = check_plain_name((const char *)padded, plen - pad) ? -EBADMSG : 0;
	if (r == 0) {
		memcpy(out, padded, plen - pad);
		out[plen - pad] = '\0';
	}
	ecfs_wipe(padded, sizeof(padded));
	return r < 0 ? r : (int)(plen - pad);
}

int ecfs_dirid_create(int dirfd, uint8_t id[ECFS_DIR_ID_SIZE])
{
	int fd, r = ecfs_random(id, ECFS_DIR_ID_SIZE);

	if (r < 0)
		return r;
	fd = ecfs_open_typed(dirfd, ECFS_DIR_ID_NAME, O_WRONLY | O_CREAT | O_EXCL, 0444, S_IFREG);
	if (fd < 0)
		return fd;
	if (write(fd, id, ECFS_DIR_ID_SIZE) != ECFS_DIR_ID_SIZE || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (r < 0)
		unlinkat(dirfd, ECFS_DIR_ID_NAME, 0);
	return r;
}

int ecfs_dirid_read(int dirfd, uint8_t id[ECFS_DIR_ID_SIZE])
{
	uint8_t buf[ECFS_DIR_ID_SIZE + 1];
	int fd = ecfs_open_typed(dirfd, ECFS_DIR_ID_NAME, O_RDONLY, 0, S_IFREG);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	if (n != ECFS_DIR_ID_SIZE)
		return ecfs_fail(-EUCLEAN, "directory ID file has %zd bytes, not %d", n,
				 ECFS_DIR_ID_SIZE);
	memcpy(id, buf, ECFS_DIR_ID_SIZE);
	return 0;
}

void ecfs_name_side_of(const char *disk, char side[ECFS_SIDE_NAME_MAX])
{
	snprintf(side, ECFS_SIDE_NAME_MAX, "%s%s", disk, ECFS_LONG_SIDE_SUFFIX);
}

int ecfs_name_side_read(int dirfd, const char *disk, char full[ECFS_ENCODED_NAME_MAX])
{
	char side[ECFS_SIDE_NAME_MAX];
	ssize_t n;
	int fd;

	ecfs_name_side_of(disk, side);
	fd = ecfs_open_typed(dirfd, side, O_RDONLY, 0, S_IFREG);
	if (fd < 0)
		return fd == -ENOENT ? -ENOENT : -EUCLEAN;
	n = ecfs_pread_full(fd, full, ECFS_ENCODED_NAME_MAX, 0);
	close(fd);
	if (n < 0)
		return (int)n;
	if (n == 0 || n >= ECFS_ENCODED_NAME_MAX)
		return -EUCLEAN;
	full[n] = '\0';
	return strlen(full) == (size_t)n && ecfs_name_well_formed(full) ? 0 : -EUCLEAN;
}
