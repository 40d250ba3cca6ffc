/* SPDX-License-Identifier: MIT */
/*
 * fuzz_volume.h - for fuzz targets that need an unlocked volume: one is created under /tmp,
 * its files removed, and its DEK and UUID pinned so that seeds holding valid ciphertext stay
 * valid from run to run. Define FUZZ_NAME before including it.
 */
#ifndef ECFS_FUZZ_VOLUME_H
#define ECFS_FUZZ_VOLUME_H

#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "%s: %s (last error: %s)\n", FUZZ_NAME, what, ecfs_last_error());
	abort();
}

static struct ecfs_volume *pinned_volume_format(enum ecfs_cipher cipher, uint32_t format)
{
	static const char keyfile[] = "fuzz key file: at least 32 bytes long";
	struct ecfs_secret *key = ecfs_secret_new(sizeof(keyfile));
	struct ecfs_credential cred = {.type = ECFS_SLOT_KEYFILE, .secret = key, .origin = "k"};
	struct ecfs_create_params p = {
	    .cipher = cipher, .chunk_size = 4096, .format_version = format};
	struct ecfs_volume *v = NULL;
	struct ecfs_keys *k;
	char dir[64], path[128];
	static const char *const files[] = {ECFS_HEADER_NAME, ECFS_HEADER_COPY_NAME,
					    ECFS_DIR_ID_NAME};

	snprintf(dir, sizeof(dir), "/tmp/ecfs-%s.XXXXXX", FUZZ_NAME);
	if (!key || !mkdtemp(dir))
		die("setup");
	memcpy(ecfs_secret_data(key), keyfile, sizeof(keyfile));
	strcat(dir, "/v");
	if (ecfs_volume_create(dir, &p, &cred, 1, &v) != 0)
		die("cannot create a volume");
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
	ecfs_secret_free(key);
	k = (struct ecfs_keys *)ecfs_secret_data(v->key_secret);
	memset(k->dek, 0x42, sizeof(k->dek));
	memset(v->hdr.uuid, 0x24, sizeof(v->hdr.uuid));
	if (ecfs_keys_derive(k, &v->hdr) != 0)
		die("cannot derive keys");
	return v;
}

static inline struct ecfs_volume *pinned_volume(enum ecfs_cipher cipher)
{
	return pinned_volume_format(cipher, 1);
}

#endif /* ECFS_FUZZ_VOLUME_H */
