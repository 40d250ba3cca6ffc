/* SPDX-License-Identifier: MIT */
/*
 * verifiers.c - the share verifiers file, written at init beside the store: for each share,
 * SHA-256 of the share bound to the store and its index. The 4-byte check inside a share is
 * computed from public data, so anyone who can reach the unseal endpoint could forge a share
 * that passes it and make the real shares' combination fail; a share whose verifier differs
 * is refused at once instead, and the progress made with real shares is kept. A verifier
 * reveals nothing usable: a share is 32 bytes that no fewer than T shares narrow down.
 *
 * File "kmsd.verify": "ECFSKMSV" | u32 format (1) | uuid[16] | u8 n | 3 zero bytes |
 * n x verifier[32], verifier i for share index i + 1. Integers little-endian.
 */
#include "kmsd_store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC	 "ECFSKMSV"
#define FORMAT	 1u
#define HDR_SIZE (8 + 4 + ECFS_UUID_SIZE + 4)
#define LABEL	 "envcryptfs-kmsd share verifier 1"

void kmsd_share_verifier(const uint8_t uuid[ECFS_UUID_SIZE], const struct kmsd_share *s,
			 uint8_t out[KMSD_VERIFIER_SIZE])
{
	uint8_t buf[sizeof(LABEL) - 1 + ECFS_UUID_SIZE + 1 + KMSD_SECRET_SIZE];
	size_t n = sizeof(LABEL) - 1;

	memcpy(buf, LABEL, n);
	memcpy(buf + n, uuid, ECFS_UUID_SIZE);
	buf[n + ECFS_UUID_SIZE] = s->index;
	memcpy(buf + n + ECFS_UUID_SIZE + 1, s->y, KMSD_SECRET_SIZE);
	ecfs_sha256(buf, sizeof(buf), out);
	ecfs_wipe(buf, sizeof(buf));
}

int kmsd_verifiers_write(const char *dir, const uint8_t uuid[ECFS_UUID_SIZE], const uint8_t *ys,
			 unsigned n)
{
	size_t len = HDR_SIZE + (size_t)n * KMSD_VERIFIER_SIZE;
	uint8_t *buf = calloc(1, len);
	struct kmsd_share sh;
	int dirfd, fd = -1, r = 0;

	if (!buf)
		return ecfs_fail(-ENOMEM, "out of memory");
	memcpy(buf, MAGIC, 8);
	buf[8] = FORMAT;
	memcpy(buf + 12, uuid, ECFS_UUID_SIZE);
	buf[12 + ECFS_UUID_SIZE] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		sh.index = (uint8_t)(i + 1);
		memcpy(sh.y, ys + (size_t)i * KMSD_SECRET_SIZE, KMSD_SECRET_SIZE);
		kmsd_share_verifier(uuid, &sh, buf + HDR_SIZE + (size_t)i * KMSD_VERIFIER_SIZE);
	}
	ecfs_wipe(&sh, sizeof(sh));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0)
		fd = ecfs_open_typed(dirfd, KMSD_VERIFY_NAME, O_WRONLY | O_CREAT | O_EXCL, 0600,
				     S_IFREG);
	if (dirfd < 0 || fd < 0)
		r = ecfs_fail(dirfd < 0 ? -errno : fd, "cannot create '%s/%s': %s", dir,
			      KMSD_VERIFY_NAME, dirfd < 0 ? strerror(errno) : ecfs_strerror(fd));
	if (r == 0 && (ecfs_write_full(fd, buf, len) < 0 || fsync(fd) < 0))
		r = ecfs_fail(-EIO, "cannot write '%s/%s'", dir, KMSD_VERIFY_NAME);
	if (fd >= 0)
		close(fd);
	if (r < 0 && fd >= 0)
		unlinkat(dirfd, KMSD_VERIFY_NAME, 0);
	if (dirfd >= 0)
		close(dirfd);
	free(buf);
	return r;
}

/* Checks the file's header against the store's. */
static int check_header(const struct kmsd_store *s, const uint8_t *buf, size_t len)
{
	if (len < HDR_SIZE || memcmp(buf, MAGIC, 8) != 0 || buf[8] != FORMAT || buf[9] || buf[10] ||
	    buf[11] || buf[13 + ECFS_UUID_SIZE] || buf[14 + ECFS_UUID_SIZE] ||
	    buf[15 + ECFS_UUID_SIZE])
		return ecfs_fail(-EUCLEAN, "'%s/%s' is not a share verifiers file", s->dir,
				 KMSD_VERIFY_NAME);
	if (memcmp(buf + 12, s->uuid, ECFS_UUID_SIZE) != 0 || buf[12 + ECFS_UUID_SIZE] != s->n ||
	    len != HDR_SIZE + (size_t)s->n * KMSD_VERIFIER_SIZE)
		return ecfs_fail(-EUCLEAN, "'%s/%s' belongs to another key store", s->dir,
				 KMSD_VERIFY_NAME);
	return 0;
}

int kmsd_verifiers_parse(struct kmsd_store *s, const uint8_t *buf, size_t len)
{
	int r = check_header(s, buf, len);

	if (r < 0)
		return r;
	free(s->verifiers);
	s->verifiers = malloc((size_t)s->n * KMSD_VERIFIER_SIZE + 1);
	if (!s->verifiers)
		return ecfs_fail(-ENOMEM, "out of memory");
	memcpy(s->verifiers, buf + HDR_SIZE, (size_t)s->n * KMSD_VERIFIER_SIZE);
	return 0;
}

int kmsd_verifiers_load(struct kmsd_store *s)
{
	size_t want = HDR_SIZE + (size_t)s->n * KMSD_VERIFIER_SIZE;
	uint8_t *buf = NULL;
	ssize_t got;
	int r, fd = ecfs_open_typed(s->dirfd, KMSD_VERIFY_NAME, O_RDONLY, 0, S_IFREG);

	if (fd == -ENOENT)
		return 0; /* a store made before verifiers: shares are only checked for typos */
	if (fd < 0)
		return ecfs_fail(fd, "cannot open '%s/%s': %s", s->dir, KMSD_VERIFY_NAME,
				 fd == -EUCLEAN ? ecfs_last_error() : ecfs_strerror(fd));
	buf = malloc(want + 1);
	got = buf ? ecfs_pread_full(fd, buf, want + 1, 0) : -ENOMEM;
	close(fd);
	r = got < 0 ? ecfs_fail((int)got, "cannot read '%s/%s'", s->dir, KMSD_VERIFY_NAME)
		    : kmsd_verifiers_parse(s, buf, (size_t)got);
	free(buf);
	return r;
}

int kmsd_verifiers_check(const struct kmsd_store *s, const struct kmsd_share *sh)
{
	uint8_t v[KMSD_VERIFIER_SIZE];
	int r;

	if (!s->verifiers)
		return 0;
	kmsd_share_verifier(s->uuid, sh, v);
	r = ecfs_memcmp_ct(v, s->verifiers + (size_t)(sh->index - 1) * KMSD_VERIFIER_SIZE,
			   KMSD_VERIFIER_SIZE);
	return r == 0 ? 0 : -EKEYREJECTED;
}
