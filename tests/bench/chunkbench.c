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

/* The process's CPU time, user and system: chunkbench is one thread, and on tmpfs every byte
 * it moves is CPU work of its own, so this is its cost whatever else the machine runs
 * (wall-clock figures moved by a factor of 4 under a shared machine's load). */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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
	struct ecfs_credential cred = {.type = ECFS_SLOT_KEYFILE, .secret = key, .origin = "bench"};
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
	if (!quiet) {
		printf("%-12s %7u  seq-write %6.0f MB/s  seq-read %6.0f MB/s  rand-4k-write %7.0f "
		       "IOPS  "
		       "rand-4k-read %7.0f IOPS\n",
		       ecfs_cipher_name(cipher), chunk, seqw, seqr, rndw, rndr);
		fflush(stdout);
	}
	close(fd);
	unlink(blob);
	ecfs_file_key_free(fk);
	ecfs_crypto_free(c);
	ecfs_volume_close(v);
	ecfs_secret_free(key);
	free(buf);
}

/* One measurement: a cipher at one chunk size, or (chunk 0) at every size. */
struct job {
	enum ecfs_cipher cipher;
	uint32_t chunk;
};

/* NAME or NAME:CHUNK, e.g. sm4-xts:4096. */
static bool parse_job(const char *arg, struct job *j)
{
	char name[64];
	const char *colon = strchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
	char *end;

	if (n >= sizeof(name))
		return false;
	memcpy(name, arg, n);
	name[n] = 0;
	j->cipher = ecfs_cipher_from_name(name);
	j->chunk = 0;
	if (colon) {
		unsigned long c = strtoul(colon + 1, &end, 10);

		if (*end || c < 4096 || c > 1048576 || (c & (c - 1)))
			return false;
		j->chunk = (uint32_t)c;
	}
	return j->cipher != ECFS_CIPHER_NONE;
}

int main(int argc, char **argv)
{
	static const uint32_t chunks[] = {4096, 8192, 16384, 32768, 65536, 1048576};
	struct job jobs[16] = {
	    {ECFS_CIPHER_AES256_GCM, 0}, {ECFS_CIPHER_AES256_XTS, 0}, {ECFS_CIPHER_SM4_XTS, 0}};
	size_t njobs = 3;

	if (argc < 2 || argc > 2 + (int)(sizeof(jobs) / sizeof(jobs[0]))) {
		fprintf(stderr,
			"usage: chunkbench DIR [CIPHER[:CHUNK]...] (DIR: a scratch directory, "
			"e.g. on tmpfs; by default aes-256-gcm, aes-256-xts and sm4-xts at "
			"every chunk size)\n");
		return 2;
	}
	if (argc > 2) {
		for (njobs = 0; njobs < (size_t)argc - 2; njobs++) {
			if (!parse_job(argv[njobs + 2], &jobs[njobs])) {
				fprintf(stderr, "chunkbench: bad cipher or chunk size '%s'\n",
					argv[njobs + 2]);
				return 2;
			}
		}
	}
	/* A first run, not shown: on a VM the first writes to fresh tmpfs pages (and a cold
	 * CPU) made whichever size came first look slower by up to half. */
	run(argv[1], jobs[0].cipher, chunks[0], true);
	for (size_t i = 0; i < njobs; i++)
		for (size_t j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++)
			if (!jobs[i].chunk || jobs[i].chunk == chunks[j])
				run(argv[1], jobs[i].cipher, chunks[j], false);
	return 0;
}
