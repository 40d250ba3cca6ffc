/* SPDX-License-Identifier: MIT */
/*
 * chunkbench.c - library-level cost of each chunk size: sequential 1 MiB writes and reads, and
 * random 4 KiB writes and reads, through ecfs_blob_pwrite/pread on a file in a given directory.
 * Used to pick the default chunk size (README, "Performance").
 */
#include "envcryptfs.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "chunkbench: %s: %s\n", what, ecfs_last_error());
	exit(1);
}

static void run(const char *dir, enum ecfs_cipher cipher, uint32_t chunk, bool quiet)
{
	char vdir[4096], blob[4200];
	struct ecfs_create_params p = {.cipher = cipher, .chunk_size = chunk, .force = true};
	struct ecfs_secret *key = ecfs_secret_new(32);
	struct ecfs_credential cred = {ECFS_SLOT_KEYFILE, key, "bench"};
	struct ecfs_volume *v;
	struct ecfs_crypto *c;
	struct ecfs_file_key *fk;
	struct ecfs_blob_header hdr;
	const size_t total = 256u << 20, big = 1u << 20, small = 4096;
	uint8_t *buf = malloc(big);
	double t, seqw, seqr, rndw, rndr;
	int fd, nrand = 20000;

	memset(buf, 0xa5, big);
	snprintf(vdir, sizeof(vdir), "%s/vol-%s-%u%s", dir, ecfs_cipher_name(cipher), chunk,
		 quiet ? "-warmup" : "");
	if (ecfs_volume_create(vdir, &p, &cred, 1, &v) < 0 || ecfs_crypto_new(v, &c) < 0)
		die("create");
	snprintf(blob, sizeof(blob), "%s/blob", vdir);
	fd = open(blob, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ecfs_blob_header_init(v, &hdr) < 0 || ecfs_blob_header_write(v, fd, &hdr) < 0)
		die("blob");
	ecfs_file_key_new(v, hdr.file_id, &fk);
	t = now();
	for (size_t off = 0; off < total; off += big)
		if (ecfs_blob_pwrite(c, fk, fd, buf, big, off, NULL) < 0)
			die("write");
	fsync(fd);
	seqw = total / (now() - t) / 1e6;
	t = now();
	for (size_t off = 0; off < total; off += big)
		if (ecfs_blob_pread(c, fk, fd, buf, big, off, NULL) < 0)
			die("read");
	seqr = total / (now() - t) / 1e6;
	srand(1);
	t = now();
	for (int i = 0; i < nrand; i++)
		if (ecfs_blob_pwrite(c, fk, fd, buf, small,
				     (uint64_t)(rand() % (int)(total / small)) * small, NULL) < 0)
			die("rwrite");
	rndw = nrand / (now() - t);
	t = now();
	for (int i = 0; i < nrand; i++)
		if (ecfs_blob_pread(c, fk, fd, buf, small,
				    (uint64_t)(rand() % (int)(total / small)) * small, NULL) < 0)
			die("rread");
	rndr = nrand / (now() - t);
	if (!quiet)
		printf("%-12s %7u  seq-write %6.0f MB/s  seq-read %6.0f MB/s  rand-4k-write %7.0f "
		       "IOPS  "
		       "rand-4k-read %7.0f IOPS\n",
		       ecfs_cipher_name(cipher), chunk, seqw, seqr, rndw, rndr);
	close(fd);
	unlink(blob);
	ecfs_file_key_free(fk);
	ecfs_crypto_free(c);
	ecfs_volume_close(v);
	ecfs_secret_free(key);
	free(buf);
}

int main(int argc, char **argv)
{
	static const uint32_t chunks[] = {4096, 8192, 16384, 32768, 65536, 1048576};
	enum ecfs_cipher ciphers[8] = {ECFS_CIPHER_AES256_GCM, ECFS_CIPHER_AES256_XTS,
				       ECFS_CIPHER_SM4_XTS};
	size_t nciphers = 3;

	if (argc < 2 || argc > 2 + (int)(sizeof(ciphers) / sizeof(ciphers[0]))) {
		fprintf(stderr, "usage: chunkbench DIR [CIPHER...] (DIR: a scratch directory, e.g. "
				"on tmpfs; default ciphers: aes-256-gcm aes-256-xts sm4-xts)\n");
		return 2;
	}
	if (argc > 2) {
		for (nciphers = 0; nciphers < (size_t)argc - 2; nciphers++) {
			ciphers[nciphers] = ecfs_cipher_from_name(argv[nciphers + 2]);
			if (ciphers[nciphers] == ECFS_CIPHER_NONE) {
				fprintf(stderr, "chunkbench: unknown cipher '%s'\n",
					argv[nciphers + 2]);
				return 2;
			}
		}
	}
	/* A first run, not shown: on a VM the first writes to fresh tmpfs pages (and a cold
	 * CPU) made whichever size came first look slower by up to half. */
	run(argv[1], ciphers[0], chunks[0], true);
	for (size_t i = 0; i < nciphers; i++)
		for (size_t j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++)
			run(argv[1], ciphers[i], chunks[j], false);
	return 0;
}
