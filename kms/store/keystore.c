/* SPDX-License-Identifier: MIT */
/*
 * keystore.c - the key store: one file holding every transit key version, sealed with
 * AES-256-GCM under a key derived from the master key, and replaced atomically on every
 * change. While unsealed the keys live in locked memory.
 *
 * File: "ECFSKMSD" | u32 format (1) | uuid[16] | u8 n | u8 t | u16 0 | u64 generation |
 * nonce[12] | u32 sealed length | sealed payload (ciphertext || tag); the 56-byte header is
 * the associated data. Payload: u32 nkeys, then per key u16 name length | name | u8 flags
 * (bit 0: deletion allowed) | u32 min_decryption | u32 nversions | nversions x (i64 created |
 * key[32]); format 2 (written while the KV engine holds secrets) adds the secrets after the
 * keys (kvstore.c). Integers little-endian.
 */
#include "kmsd_store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC	     "ECFSKMSD"
#define FORMAT	     1u /* transit keys only */
#define FORMAT_KV    2u /* transit keys, then the KV engine's secrets (kvstore.c) */
#define HDR_SIZE     56
#define FILE_MAX     (64u << 20)
#define MAX_KEYS     100000u
#define MAX_VERSIONS 100000u
#define VERSION_SIZE (8 + KMSD_SECRET_SIZE)
#define STORE_LABEL  "envcryptfs-kmsd 1 store"

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* The versions array inside a secret. Secret data follows the secret's size_t header in a
 * page-aligned mapping, so it is aligned for int64_t. */
static struct kmsd_version *versions_in(const struct ecfs_secret *s)
{
	return (struct kmsd_version *)(void *)ecfs_secret_data(s);
}

/* ---- the plaintext header ---------------------------------------------------------------- */

static void header_encode(const struct kmsd_store *s, const uint8_t *nonce, uint32_t sealed_len,
			  uint8_t *out)
{
	memcpy(out, MAGIC, 8);
	put_u32(out + 8, s->format);
	memcpy(out + 12, s->uuid, ECFS_UUID_SIZE);
	out[28] = (uint8_t)s->n;
	out[29] = (uint8_t)s->t;
	put_u16(out + 30, 0);
	put_u64(out + 32, s->generation);
	memcpy(out + 40, nonce, KMSD_NONCE_SIZE);
	put_u32(out + 52, sealed_len);
}

static int header_decode(const uint8_t *buf, size_t len, struct kmsd_store *s)
{
	if (len < HDR_SIZE || memcmp(buf, MAGIC, 8) != 0)
		return ecfs_fail(-EUCLEAN, "'%s/%s' is not an envcryptfs-kmsd key store", s->dir,
				 KMSD_STORE_NAME);
	if (get_le(buf + 8, 4) != FORMAT && get_le(buf + 8, 4) != FORMAT_KV)
		return ecfs_fail(-EPROTONOSUPPORT, "key store format %u is not supported",
				 (unsigned)get_le(buf + 8, 4));
	if (get_le(buf + 52, 4) != len - HDR_SIZE || len - HDR_SIZE < KMSD_TAG_SIZE)
		return ecfs_fail(-EUCLEAN, "the key store is truncated or has trailing bytes");
	if (buf[29] < 1 || buf[29] > buf[28] || buf[28] > KMSD_MAX_SHARES || get_le(buf + 30, 2))
		return ecfs_fail(-EUCLEAN, "the key store header is corrupt");
	memcpy(s->uuid, buf + 12, ECFS_UUID_SIZE);
	s->format = (uint32_t)get_le(buf + 8, 4);
	s->n = buf[28];
	s->t = buf[29];
	s->generation = get_le(buf + 32, 8);
	return 0;
}

static int read_store_file(struct kmsd_store *s, uint8_t **buf, size_t *len)
{
	int fd = openat(s->dirfd, KMSD_STORE_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	ssize_t n;
	uint8_t *p;

	if (fd < 0)
		return ecfs_fail(-errno, "cannot open the key store '%s/%s': %s", s->dir,
				 KMSD_STORE_NAME, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		close(fd);
		return ecfs_fail(
		    -EUCLEAN, "the key store is not a regular file of at most %u bytes", FILE_MAX);
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		close(fd);
		return ecfs_fail(-ENOMEM, "out of memory");
	}
	n = pread(fd, p, (size_t)st.st_size + 1, 0);
	close(fd);
	if (n != st.st_size) {
		free(p);
		return ecfs_fail(-EIO, "cannot read the key store (or it changed while read)");
	}
	*buf = p;
	*len = (size_t)n;
	return 0;
}

/* ---- the payload ------------------------------------------------------------------------- */

static size_t payload_size(const struct kmsd_store *s, size_t skip)
{
	size_t n = 4;

	for (size_t i = 0; i < s->nkeys; i++)
		if (i != skip)
			n += 2 + strlen(s->keys[i].name) + 1 + 4 + 4 +
			     (size_t)s->keys[i].nversions * VERSION_SIZE;
	return n + (s->nsecrets ? kmsd_kv_encoded_size(s) : 0);
}

/* Serializes every key but keys[skip] into locked memory. */
static int encode(const struct kmsd_store *s, size_t skip, struct ecfs_secret **out)
{
	struct ecfs_secret *buf = ecfs_secret_new(payload_size(s, skip));
	uint8_t *p;

	if (!buf)
		return ecfs_fail(-ENOMEM, "out of memory");
	p = ecfs_secret_data(buf);
	put_u32(p, (uint32_t)(s->nkeys - (skip < s->nkeys)));
	p += 4;
	for (size_t i = 0; i < s->nkeys; i++) {
		const struct kmsd_key *k = &s->keys[i];
		size_t nl = strlen(k->name);

		if (i == skip)
			continue;
		put_u16(p, (uint16_t)nl);
		memcpy(p + 2, k->name, nl);
		p += 2 + nl;
		*p++ = k->deletion_allowed ? 1 : 0;
		put_u32(p, k->min_decryption);
		put_u32(p + 4, k->nversions);
		p += 8;
		for (uint32_t v = 1; v <= k->nversions; v++, p += VERSION_SIZE) {
			const struct kmsd_version *kv = kmsd_key_version(k, v);

			put_u64(p, (uint64_t)kv->created);
			memcpy(p + 8, kv->key, KMSD_SECRET_SIZE);
		}
	}
	if (s->nsecrets)
		kmsd_kv_encode(s, p);
	*out = buf;
	return 0;
}

int kmsd_store_encode(const struct kmsd_store *s, struct ecfs_secret **out)
{
	return encode(s, SIZE_MAX, out);
}

static void free_keys(struct kmsd_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ecfs_secret_free(keys[i].versions);
	free(keys);
}

/* One key at *p (at most *left bytes), every length checked before it is used. */
static int decode_key(const uint8_t **p, size_t *left, struct kmsd_key *k)
{
	size_t nl, need;
	uint32_t nv;

	if (*left < 2 || (nl = get_le(*p, 2)) > KMSD_NAME_MAX || *left - 2 < nl + 9)
		return -EUCLEAN;
	memcpy(k->name, *p + 2, nl);
	k->name[nl] = '\0';
	*p += 2 + nl;
	k->deletion_allowed = **p & 1;
	if (**p & ~1u)
		return -EUCLEAN;
	k->min_decryption = (uint32_t)get_le(*p + 1, 4);
	nv = (uint32_t)get_le(*p + 5, 4);
	*p += 9;
	*left -= 2 + nl + 9;
	if (!kmsd_valid_key_name(k->name, nl) || nv == 0 || nv > MAX_VERSIONS ||
	    k->min_decryption == 0 || k->min_decryption > nv)
		return -EUCLEAN;
	need = (size_t)nv * VERSION_SIZE;
	if (*left < need)
		return -EUCLEAN;
	k->versions = ecfs_secret_new((size_t)nv * sizeof(struct kmsd_version));
	if (!k->versions)
		return -ENOMEM;
	k->nversions = nv;
	for (uint32_t v = 0; v < nv; v++, *p += VERSION_SIZE) {
		struct kmsd_version *kv = versions_in(k->versions) + v;

		kv->created = (int64_t)get_le(*p, 8);
		memcpy(kv->key, *p + 8, KMSD_SECRET_SIZE);
	}
	*left -= need;
	return 0;
}

int kmsd_store_decode(struct kmsd_store *s, const uint8_t *p, size_t len)
{
	struct kmsd_kv_secret *secrets = NULL;
	struct kmsd_key *keys;
	size_t n, i, nsecrets = 0;
	int r = 0;

	/* Each key takes at least 2 + 1 + 9 + one version's bytes: a count the length cannot
	 * hold is refused before anything is allocated for it. */
	if (len < 4 || (n = get_le(p, 4)) > MAX_KEYS || n > (len - 4) / (12 + VERSION_SIZE))
		return ecfs_fail(-EUCLEAN, "the key store contents are corrupt");
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return ecfs_fail(-ENOMEM, "out of memory");
	p += 4;
	len -= 4;
	for (i = 0; i < n && r == 0; i++) {
		r = decode_key(&p, &len, &keys[i]);
		for (size_t j = 0; j < i && r == 0; j++)
			if (strcmp(keys[j].name, keys[i].name) == 0)
				r = -EUCLEAN;
	}
	/* Format 2 has the KV engine's section after the keys; format 1 ends with them. */
	if (r == 0 && s->format == FORMAT_KV)
		r = kmsd_kv_decode(p, len, &secrets, &nsecrets);
	else if (r == 0 && len != 0)
		r = -EUCLEAN;
	if (r < 0) {
		free_keys(keys, n);
		return ecfs_fail(r, "the key store contents are corrupt");
	}
	free_keys(s->keys, s->nkeys);
	kmsd_kv_free(s->secrets, s->nsecrets);
	s->keys = keys;
	s->nkeys = n;
	s->secrets = secrets;
	s->nsecrets = nsecrets;
	return 0;
}

/* ---- sealing the file --------------------------------------------------------------------- */

static int derive_store_key(const uint8_t *master, const uint8_t uuid[ECFS_UUID_SIZE],
			    struct ecfs_secret **out)
{
	struct ecfs_secret *k = ecfs_secret_new(KMSD_SECRET_SIZE);
	int r;

	if (!k)
		return ecfs_fail(-ENOMEM, "out of memory");
	r = ecfs_hkdf_sha256(master, KMSD_SECRET_SIZE, uuid, ECFS_UUID_SIZE,
			     (const uint8_t *)STORE_LABEL, sizeof(STORE_LABEL) - 1,
			     ecfs_secret_data(k), KMSD_SECRET_SIZE);
	if (r < 0) {
		ecfs_secret_free(k);
		return r;
	}
	*out = k;
	return 0;
}

/* The write counter of the store file on disk (0 when there is none yet). */
static int disk_generation(struct kmsd_store *s, uint64_t *gen)
{
	struct kmsd_store peek = {.dirfd = s->dirfd, .dir = s->dir};
	uint8_t *buf;
	size_t len;
	int r = read_store_file(s, &buf, &len);

	*gen = 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = header_decode(buf, len, &peek);
	free(buf);
	*gen = peek.generation;
	return r;
}

/* Another process that wrote the store since we read it would lose its keys to our copy:
 * refused, never overwritten. */
static int check_not_newer(struct kmsd_store *s)
{
	uint64_t gen;
	int r = disk_generation(s, &gen);

	if (r == 0 && gen != s->generation)
		r = ecfs_fail(-ESTALE,
			      "the key store '%s/%s' on disk is not the one this process read "
			      "(write counter %llu, ours %llu): another process wrote it; nothing "
			      "was saved, restart to read it again",
			      s->dir, KMSD_STORE_NAME, (unsigned long long)gen,
			      (unsigned long long)s->generation);
	return r;
}

/* Encrypts the payload of every key but keys[skip] and replaces the file. */
static int save(struct kmsd_store *s, size_t skip)
{
	struct ecfs_secret *plain = NULL;
	uint8_t nonce[KMSD_NONCE_SIZE], *file = NULL;
	uint64_t on_disk;
	size_t plen = 0;
	int r;

	if (!s->store_key)
		return ecfs_fail(-EPERM, "the key store is sealed");
	r = check_not_newer(s);
	if (r == 0)
		r = encode(s, skip, &plain);
	if (r == 0)
		r = ecfs_random(nonce, sizeof(nonce));
	if (r == 0) {
		plen = ecfs_secret_len(plain);
		file = malloc(HDR_SIZE + plen + KMSD_TAG_SIZE);
		if (!file)
			r = ecfs_fail(-ENOMEM, "out of memory");
	}
	if (r == 0 && plen + KMSD_TAG_SIZE > FILE_MAX - HDR_SIZE)
		r = ecfs_fail(-EFBIG, "the key store would exceed %u bytes", FILE_MAX);
	if (r == 0) {
		s->generation++;
		s->format = s->nsecrets ? FORMAT_KV : FORMAT;
		header_encode(s, nonce, (uint32_t)(plen + KMSD_TAG_SIZE), file);
		r = kmsd_gcm_seal(ecfs_secret_data(s->store_key), nonce, file, HDR_SIZE,
				  ecfs_secret_data(plain), plen, file + HDR_SIZE);
	}
	if (r == 0) {
		r = ecfs_write_file_atomic(s->dirfd, KMSD_STORE_NAME, file,
					   HDR_SIZE + plen + KMSD_TAG_SIZE, 0600);
		/* Unwritten, the counter stays what the file on disk holds. */
		if (r < 0 && disk_generation(s, &on_disk) == 0 && on_disk != s->generation)
			s->generation--;
	}
	ecfs_secret_free(plain);
	free(file);
	return r;
}

int kmsd_store_save(struct kmsd_store *s)
{
	return save(s, SIZE_MAX);
}

/* ---- opening and unsealing ------------------------------------------------------------------ */

static int store_alloc(const char *dir, struct kmsd_store **out)
{
	struct kmsd_store *s = calloc(1, sizeof(*s));

	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return ecfs_fail(-ENOMEM, "out of memory");
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		int e = errno;

		free(s->dir);
		free(s);
		return ecfs_fail(-e, "cannot open key store directory '%s': %s", dir, strerror(e));
	}
	*out = s;
	return 0;
}

int kmsd_store_create(const char *dir, unsigned n, unsigned t, const uint8_t *master,
		      const uint8_t uuid[ECFS_UUID_SIZE])
{
	struct kmsd_store *s;
	int r = store_alloc(dir, &s);

	if (r < 0)
		return r;
	if (faccessat(s->dirfd, KMSD_STORE_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		kmsd_store_free(s);
		return ecfs_fail(-EEXIST, "'%s' already holds a key store", dir);
	}
	memcpy(s->uuid, uuid, ECFS_UUID_SIZE);
	s->n = n;
	s->t = t;
	r = derive_store_key(master, uuid, &s->store_key);
	if (r == 0)
		r = kmsd_store_save(s);
	kmsd_store_free(s);
	return r;
}

int kmsd_store_open(const char *dir, struct kmsd_store **out)
{
	struct kmsd_store *s;
	uint8_t *buf;
	size_t len;
	int r = store_alloc(dir, &s);

	if (r < 0)
		return r;
	r = read_store_file(s, &buf, &len);
	if (r == 0) {
		r = header_decode(buf, len, s);
		free(buf);
	}
	if (r == 0)
		r = kmsd_verifiers_load(s);
	if (r < 0) {
		kmsd_store_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int kmsd_store_unseal(struct kmsd_store *s, const uint8_t *master)
{
	struct ecfs_secret *key = NULL, *plain = NULL;
	uint8_t uuid[ECFS_UUID_SIZE], *buf = NULL;
	size_t len = 0;
	int r;

	memcpy(uuid, s->uuid, sizeof(uuid));
	/* Read afresh: the file is the truth, and its header must still be this store's. */
	r = read_store_file(s, &buf, &len);
	if (r == 0)
		r = header_decode(buf, len, s);
	if (r == 0 && memcmp(uuid, s->uuid, sizeof(uuid)) != 0)
		r = ecfs_fail(-EUCLEAN, "the key store file was replaced by another store");
	if (r == 0)
		r = derive_store_key(master, s->uuid, &key);
	if (r == 0 && !(plain = ecfs_secret_new(len - HDR_SIZE - KMSD_TAG_SIZE)))
		r = ecfs_fail(-ENOMEM, "out of memory");
	if (r == 0 && kmsd_gcm_open(ecfs_secret_data(key), buf + 40, buf, HDR_SIZE, buf + HDR_SIZE,
				    len - HDR_SIZE, ecfs_secret_data(plain)) < 0)
		r = ecfs_fail(-EKEYREJECTED, "the master key does not open the key store (wrong "
					     "shares, or the store was tampered with)");
	if (r == 0)
		r = kmsd_store_decode(s, ecfs_secret_data(plain), ecfs_secret_len(plain));
	ecfs_secret_free(plain);
	free(buf);
	if (r < 0) {
		ecfs_secret_free(key);
		return r;
	}
	ecfs_secret_free(s->store_key);
	s->store_key = key;
	return 0;
}

void kmsd_store_seal(struct kmsd_store *s)
{
	free_keys(s->keys, s->nkeys);
	s->keys = NULL;
	s->nkeys = 0;
	kmsd_kv_free(s->secrets, s->nsecrets);
	s->secrets = NULL;
	s->nsecrets = 0;
	ecfs_secret_free(s->store_key);
	s->store_key = NULL;
}

void kmsd_store_free(struct kmsd_store *s)
{
	if (!s)
		return;
	kmsd_store_seal(s);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->verifiers);
	free(s->dir);
	free(s);
}

/* ---- keys ----------------------------------------------------------------------------------- */

const struct kmsd_version *kmsd_key_version(const struct kmsd_key *k, uint32_t v)
{
	if (v < 1 || v > k->nversions)
		return NULL;
	return versions_in(k->versions) + (v - 1);
}

struct kmsd_key *kmsd_store_find(struct kmsd_store *s, const char *name)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].name, name) == 0)
			return &s->keys[i];
	return NULL;
}

/* A copy of k's versions with one more, fresh, at the end. */
static int grow_versions(const struct kmsd_key *k, struct ecfs_secret **out)
{
	struct ecfs_secret *nv;
	struct kmsd_version *v;
	int r;

	if (k->nversions >= MAX_VERSIONS)
		return ecfs_fail(-EOVERFLOW, "key '%s' has %u versions, the most allowed", k->name,
				 MAX_VERSIONS);
	nv = ecfs_secret_new(((size_t)k->nversions + 1) * sizeof(*v));
	if (!nv)
		return ecfs_fail(-ENOMEM, "out of memory");
	v = versions_in(nv);
	if (k->nversions)
		memcpy(v, ecfs_secret_data(k->versions), k->nversions * sizeof(*v));
	v[k->nversions].created = (int64_t)time(NULL);
	r = ecfs_random(v[k->nversions].key, KMSD_SECRET_SIZE);
	if (r < 0) {
		ecfs_secret_free(nv);
		return r;
	}
	*out = nv;
	return 0;
}

int kmsd_store_create_key(struct kmsd_store *s, const char *name, struct kmsd_key **out)
{
	struct kmsd_key *keys, *k;
	int r;

	if (s->nkeys >= MAX_KEYS)
		return ecfs_fail(-EOVERFLOW, "the key store holds %u keys, the most allowed",
				 MAX_KEYS);
	keys = realloc(s->keys, (s->nkeys + 1) * sizeof(*keys));
	if (!keys)
		return ecfs_fail(-ENOMEM, "out of memory");
	s->keys = keys;
	k = &keys[s->nkeys];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->min_decryption = 1;
	r = grow_versions(k, &k->versions);
	if (r < 0)
		return r;
	k->nversions = 1;
	s->nkeys++;
	r = kmsd_store_save(s);
	if (r < 0) {
		s->nkeys--;
		ecfs_secret_free(k->versions);
		return r;
	}
	*out = k;
	return 0;
}

int kmsd_store_rotate(struct kmsd_store *s, struct kmsd_key *k)
{
	struct ecfs_secret *old = k->versions, *nv;
	int r = grow_versions(k, &nv);

	if (r < 0)
		return r;
	k->versions = nv;
	k->nversions++;
	r = kmsd_store_save(s);
	if (r < 0) {
		k->versions = old;
		k->nversions--;
		ecfs_secret_free(nv);
		return r;
	}
	ecfs_secret_free(old);
	return 0;
}

int kmsd_store_configure(struct kmsd_store *s, struct kmsd_key *k, uint32_t min_decryption,
			 bool deletion_allowed)
{
	uint32_t old_min = k->min_decryption;
	bool old_del = k->deletion_allowed;
	int r;

	if (min_decryption < 1 || min_decryption > k->nversions)
		return ecfs_fail(-EINVAL, "min_decryption_version %u is out of range",
				 min_decryption);
	k->min_decryption = min_decryption;
	k->deletion_allowed = deletion_allowed;
	r = kmsd_store_save(s);
	if (r < 0) {
		k->min_decryption = old_min;
		k->deletion_allowed = old_del;
	}
	return r;
}

int kmsd_store_delete(struct kmsd_store *s, struct kmsd_key *k)
{
	size_t i = (size_t)(k - s->keys);
	int r;

	if (i >= s->nkeys)
		return -EINVAL;
	/* Written without the key first, so a failed write leaves memory and disk alike. */
	r = save(s, i);
	if (r < 0)
		return r;
	ecfs_secret_free(k->versions);
	memmove(&s->keys[i], &s->keys[i + 1], (s->nkeys - i - 1) * sizeof(*k));
	s->nkeys--;
	return 0;
}
