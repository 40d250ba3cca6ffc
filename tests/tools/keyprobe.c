/* SPDX-License-Identifier: MIT */
/*
 * keyprobe.c - prints the key material of a volume, so that a test can look for it in the
 * memory of a running daemon (t6100). Links the library and its internals.
 *
 *   keyprobe VOLUME KEYFILE [BLOB...]
 *
 * One line per secret, "NAME HEX": the DEK and every subkey; for each BLOB (a backing file;
 * those that are not blobs are skipped) its per-file key, and for GCM volumes the hash key H =
 * E_K(0) that OpenSSL's GCM context derives from it. AES key schedules begin with the key
 * itself (FIPS 197, 5.2), so the keys also stand for their schedules. Exit 0, 1 on a failure,
 * 2 on a usage error.
 */
#include "internal.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A key of all zeros is one the volume does not use (the bind key of a format-1 volume). */
static void print_hex(const char *name, const uint8_t *p, size_t len)
{
	size_t nz = 0;

	for (size_t i = 0; i < len; i++)
		nz += p[i] != 0;
	if (nz == 0)
		return;
	printf("%s ", name);
	for (size_t i = 0; i < len; i++)
		printf("%02x", p[i]);
	printf("\n");
}

/* GCM's hash key: the block of zeros encrypted under key. */
static int gcm_hash_key(const uint8_t key[32], uint8_t h[16])
{
	static const uint8_t zero[16];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), NULL, key, NULL) == 1 &&
	     EVP_EncryptUpdate(ctx, h, &n, zero, 16) == 1 && n == 16;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

static int probe_blob(const struct ecfs_volume *v, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct ecfs_blob_header bh;
	struct ecfs_file_key *k;
	const uint8_t *key;
	size_t key_len;
	uint8_t h[16];
	char name[300];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK), r;
	struct stat st;

	if (fd < 0)
		return 0;
	r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? ecfs_blob_header_read(v, fd, &bh) : -1;
	close(fd);
	if (r < 0)
		return 0; /* not a blob */
	r = ecfs_file_key_new(v, bh.file_id, &k);
	if (r < 0)
		return r;
	key = ecfs_file_key_material(k, &key_len);
	if (ecfs_cipher_is_authenticated(v->hdr.cipher)) {
		snprintf(name, sizeof(name), "file-key:%s", base);
		print_hex(name, key, key_len);
		snprintf(name, sizeof(name), "file-hash-key:%s", base);
		if (gcm_hash_key(key, h) == 0)
			print_hex(name, h, sizeof(h));
	}
	ecfs_file_key_free(k);
	return 0;
}

int main(int argc, char *argv[])
{
	const struct ecfs_mode *m;
	struct ecfs_credential cred = {.type = ECFS_SLOT_KEYFILE};
	struct ecfs_secret *key = NULL;
	struct ecfs_volume *v = NULL;
	const struct ecfs_keys *k;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: keyprobe VOLUME KEYFILE [BLOB...]\n");
		return 2;
	}
	r = ecfs_secret_read_file(argv[2], 1, 4096, &key, NULL);
	cred.secret = key;
	cred.origin = argv[2];
	if (r == 0)
		r = ecfs_volume_open(argv[1], &v);
	if (r == 0)
		r = ecfs_volume_unlock(v, &cred, 1, NULL);
	if (r < 0) {
		fprintf(stderr, "keyprobe: %s\n", ecfs_last_error());
		return 1;
	}
	k = v->keys;
	m = ecfs_mode_get(v->hdr.cipher);
	print_hex("dek", k->dek, sizeof(k->dek));
	print_hex("contents", k->contents, m->contents_key_len);
	if (!m->authenticated) {
		/* XTS: K1 and K2, each the start of its own key schedule. */
		print_hex("contents-k1", k->contents, m->contents_key_len / 2);
		print_hex("contents-k2", k->contents + m->contents_key_len / 2,
			  m->contents_key_len / 2);
	}
	print_hex("names", k->names, m->siv_key_len);
	print_hex("names-k1", k->names, m->siv_key_len / 2);
	print_hex("names-k2", k->names + m->siv_key_len / 2, m->siv_key_len / 2);
	print_hex("seal", k->seal, m->siv_key_len);
	print_hex("seal-k1", k->seal, m->siv_key_len / 2);
	print_hex("seal-k2", k->seal + m->siv_key_len / 2, m->siv_key_len / 2);
	print_hex("canary", k->canary, sizeof(k->canary));
	print_hex("header-mac", k->header_mac, sizeof(k->header_mac));
	print_hex("bind", k->bind, sizeof(k->bind));
	for (int i = 3; i < argc && r == 0; i++)
		r = probe_blob(v, argv[i]);
	ecfs_volume_close(v);
	ecfs_secret_free(key);
	if (r < 0)
		fprintf(stderr, "keyprobe: %s\n", ecfs_last_error());
	return r < 0 ? 1 : 0;
}
