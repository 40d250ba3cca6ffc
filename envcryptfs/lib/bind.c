/* SPDX-License-Identifier: MIT */
/*
 * bind.c - tags that bind an object to its place (format 2). Each part is length-prefixed so
 * that no two different lists of parts hash the same bytes.
 */
#include "internal.h"

#include <string.h>

#define BIND_MAX_PARTS 6

int ecfs_bind_tag(const struct ecfs_volume *v, const char *domain, const struct ecfs_iov *parts,
		  size_t nparts, uint8_t tag[ECFS_BIND_TAG_SIZE])
{
	struct ecfs_iov iov[1 + 2 * BIND_MAX_PARTS];
	uint8_t lens[BIND_MAX_PARTS][4], mac[ECFS_HMAC_SIZE];
	size_t n = 0;
	int r;

	if (!v->keys || v->hdr.version < 2 || nparts > BIND_MAX_PARTS)
		return -EINVAL;
	iov[n++] = (struct ecfs_iov){domain, strlen(domain) + 1};
	for (size_t i = 0; i < nparts; i++) {
		uint32_t len = (uint32_t)parts[i].len;

		lens[i][0] = (uint8_t)(len >> 24);
		lens[i][1] = (uint8_t)(len >> 16);
		lens[i][2] = (uint8_t)(len >> 8);
		lens[i][3] = (uint8_t)len;
		iov[n++] = (struct ecfs_iov){lens[i], 4};
		iov[n++] = parts[i];
	}
	r = ecfs_hmac_sha256(v->keys->bind, sizeof(v->keys->bind), iov, n, mac);
	if (r == 0)
		memcpy(tag, mac, ECFS_BIND_TAG_SIZE);
	ecfs_wipe(mac, sizeof(mac));
	return r;
}

bool ecfs_bind_check(const struct ecfs_volume *v, const char *domain, const struct ecfs_iov *parts,
		     size_t nparts, const uint8_t tag[ECFS_BIND_TAG_SIZE])
{
	uint8_t want[ECFS_BIND_TAG_SIZE];
	bool ok = ecfs_bind_tag(v, domain, parts, nparts, want) == 0 &&
		  ecfs_memcmp_ct(want, tag, ECFS_BIND_TAG_SIZE) == 0;

	ecfs_wipe(want, sizeof(want));
	return ok;
}
