/* SPDX-License-Identifier: MIT */
/*
 * linkref.c - long symlink targets: the reference a backing symlink holds when the stored
 * target lives in a side file at the volume root (man/envcryptfs.5, "Symbolic links"): its
 * name, and the checked read of a side file the daemon and fsck share.
 */
#include "internal.h"
#include "ecfs_util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_B64_LEN 43

_Static_assert(sizeof(ECFS_LINK_PREFIX) - 1 + HASH_B64_LEN == ECFS_LINK_REF_LEN,
	       "a reference is the prefix and a base64url SHA-256");
_Static_assert(ECFS_LINK_REF_LEN % 4 == 1, "no base64url text has a reference's length");
_Static_assert(ECFS_SYMLINK_STORED_MAX == ((4095 + ECFS_SEAL_OVERHEAD) * 4 + 2) / 3 + 1,
	       "room for the stored form of a 4095-byte target");

void ecfs_link_ref_name(const char *stored, char ref[ECFS_LINK_REF_LEN + 1])
{
	uint8_t hash[32];
	size_t pre = strlen(ECFS_LINK_PREFIX);

	ecfs_sha256(stored, strlen(stored), hash);
	memcpy(ref, ECFS_LINK_PREFIX, pre);
	ecfs_b64url_encode(hash, sizeof(hash), ref + pre);
}

int ecfs_link_side_read(int rootfd, const char *ref, char stored[ECFS_SYMLINK_STORED_MAX])
{
	char check[ECFS_LINK_REF_LEN + 1];
	int fd = ecfs_open_typed(rootfd, ref, O_RDONLY, 0, S_IFREG);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = ecfs_pread_full(fd, stored, ECFS_SYMLINK_STORED_MAX, 0);
	close(fd);
	if (n < 0)
		return (int)n;
	if (n == 0 || n >= ECFS_SYMLINK_STORED_MAX)
		return -EBADMSG;
	stored[n] = '\0';
	/* A NUL inside would let the hash cover less than the file. */
	if (strlen(stored) != (size_t)n)
		return -EBADMSG;
	ecfs_link_ref_name(stored, check);
	return strcmp(check, ref) == 0 ? 0 : -EBADMSG;
}

bool ecfs_link_is_ref(const char *s)
{
	size_t pre = strlen(ECFS_LINK_PREFIX);

	if (strlen(s) != ECFS_LINK_REF_LEN || strncmp(s, ECFS_LINK_PREFIX, pre) != 0)
		return false;
	return strspn(s + pre,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
	       HASH_B64_LEN;
}

size_t ecfs_symlink_plain_len(size_t stored_len)
{
	/* Unpadded base64url: 4 characters per 3 bytes, and 2 or 3 for a last 1 or 2. */
	size_t sealed = stored_len / 4 * 3 + (stored_len % 4 ? stored_len % 4 - 1 : 0);

	return sealed >= ECFS_SEAL_OVERHEAD ? sealed - ECFS_SEAL_OVERHEAD : 0;
}
