/* SPDX-License-Identifier: MIT */
/*
 * cipher.c - the content cipher modes and the per-thread crypto context: one stored chunk in,
 * one stored chunk out (man/envcryptfs.5, "File contents").
 */
#include "internal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const struct ecfs_mode modes[] = {
    {ECFS_CIPHER_AES256_GCM, "aes-256-gcm", true, ECFS_BC_AES, 32, 64,
     ECFS_CANARY_NONCE + ECFS_GCM_TAG},
    {ECFS_CIPHER_AES256_XTS, "aes-256-xts", false, ECFS_BC_AES, 64, 64, 0},
    {ECFS_CIPHER_AES128_XTS, "aes-128-xts", false, ECFS_BC_AES, 32, 64, 0},
    {ECFS_CIPHER_SM4_XTS, "sm4-xts", false, ECFS_BC_SM4, 32, 32, 0},
};

const struct ecfs_mode *ecfs_mode_get(enum ecfs_cipher c)
{
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(modes); i++)
		if (modes[i].id == c)
			return &modes[i];
	return NULL;
}

const char *ecfs_cipher_name(enum ecfs_cipher c)
{
	const struct ecfs_mode *m = ecfs_mode_get(c);

	return m ? m->name : "unknown";
}

enum ecfs_cipher ecfs_cipher_from_name(const char *name)
{
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(modes); i++)
		if (strcmp(modes[i].name, name) == 0)
			return modes[i].id;
	return ECFS_CIPHER_NONE;
}

bool ecfs_cipher_is_authenticated(enum ecfs_cipher c)
{
	const struct ecfs_mode *m = ecfs_mode_get(c);

	return m && m->authenticated;
}

#define NONCE_POOL 4096

struct ecfs_crypto {
	const struct ecfs_volume *vol;
	const struct ecfs_mode *mode;
	EVP_CIPHER *gcm_cipher;
	EVP_CIPHER_CTX *gcm;
	struct ecfs_xts *xts;
	struct ecfs_siv *names;
	struct ecfs_siv *seal;
	uint8_t *scratch; /* stored chunks for ranged I/O (blob.c); mmap()ed when large */
	size_t scratch_len;
	time_t scratch_big_used; /* when a call last needed more than SCRATCH_SMALL */
	uint8_t *plain; /* two chunks of plaintext for partial chunks (blob.c), wiped after use */
	struct ecfs_helpers helpers; /* offer NULL: none */
	/* GCM nonces are drawn from RAND_bytes in batches: one call per chunk costs more than
	 * encrypting a 4 KiB chunk. Each byte of the pool is used once. */
	uint8_t *nonce_pool; /* NONCE_POOL bytes in nonce_mem */
	size_t nonce_pos;
	/* Secret memory, so MADV_WIPEONFORK: a forked child finds the pool all zeros, and as a
	 * nonce of zeros is never used, it skips them all and draws a pool of its own. (A
	 * getpid() per chunk did the same at the cost of a system call per 4 KiB.) */
	struct ecfs_secret *nonce_mem;
	/* The key the GCM context is set up with (in nonce_mem, after the pool), so that
	 * consecutive chunks of one file skip the key schedule. */
	uint8_t *gcm_key;
	bool gcm_keyed; /* protected by gcm_lock */
	/* Held while the GCM context is in use: when a file key is dropped, every context
	 * still keyed with it is cleared (forget_file_key), whichever thread owns it. */
	pthread_mutex_t gcm_lock;
	struct ecfs_crypto *next_gcm, *prev_gcm; /* protected by gcm_list_lock */
};

/* Every context with a GCM key schedule, so that a closed file's key is wiped from all. */
static pthread_mutex_t gcm_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ecfs_crypto *gcm_list; /* protected by gcm_list_lock */

struct ecfs_file_key {
	uint8_t file_id[ECFS_FILE_ID_SIZE];
	uint8_t key[32];
	/* Format 2, XTS: a short final chunk is decrypted under the blob header's tail nonce
	 * and encrypted under tail_next, a fresh one; tail_used says that happened since the
	 * last ecfs_file_key_tail_advance (the one field encryption writes: callers serialize
	 * the writes of a file). */
	uint8_t tail_nonce[16], tail_next[16];
	bool tail_used;
	/* Which all-zero stored chunks are holes: any (format 1), or those holes lists
	 * (format 2; NULL: none, a dense file). Not owned. */
	bool holes_any;
	const struct ecfs_holes *holes;
};

/*
 * File keys are made at every open of a file and dropped at its last close: a locked page
 * each (mmap, madvise, mlock, munmap) cost more than the key derivation. They live in slabs
 * of locked memory instead, one page of keys per slab; a freed key is wiped and its slot
 * reused. Slabs stay for the life of the process (as many as the most keys ever held at
 * once). The free list is ordinary memory: a forked child sees the slabs wiped, never a
 * broken list.
 */
#define KEY_SLAB_BYTES 4000 /* with the secret's own header, one page */
#define KEYS_PER_SLAB  (KEY_SLAB_BYTES / sizeof(struct ecfs_file_key))

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ecfs_file_key **key_free; /* protected by key_lock */
static size_t key_nfree, key_cap;	/* protected by key_lock */

/* Adds a slab's slots to the free list; key_lock held. */
static int key_slab_add(void)
{
	struct ecfs_secret *mem;
	struct ecfs_file_key *slab;

	if (key_nfree + KEYS_PER_SLAB > key_cap) {
		size_t cap = key_cap ? key_cap * 2 : 4 * KEYS_PER_SLAB;
		struct ecfs_file_key **f;

		while (cap < key_nfree + KEYS_PER_SLAB)
			cap *= 2;
		f = realloc(key_free, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		key_free = f;
		key_cap = cap;
	}
	mem = ecfs_secret_new(KEY_SLAB_BYTES);
	if (!mem)
		return -ENOMEM;
	slab = (struct ecfs_file_key *)ecfs_secret_data(mem);
	for (size_t i = KEYS_PER_SLAB; i-- > 0;)
		key_free[key_nfree++] = &slab[i];
	return 0;
}

static struct ecfs_file_key *key_alloc(void)
{
	struct ecfs_file_key *k = NULL;

	pthread_mutex_lock(&key_lock);
	if (key_nfree || key_slab_add() == 0)
		k = key_free[--key_nfree];
	pthread_mutex_unlock(&key_lock);
	return k;
}

static void forget_file_key(const struct ecfs_file_key *k);

static void key_release(struct ecfs_file_key *k)
{
	forget_file_key(k);
	ecfs_wipe(k, sizeof(*k));
	pthread_mutex_lock(&key_lock);
	/* There is always room: the list had a place for every slot of every slab. */
	key_free[key_nfree++] = k;
	pthread_mutex_unlock(&key_lock);
}

/* Clears c's GCM key schedule (OpenSSL's heap wipes it, lib/secheap.c); gcm_lock held. */
static void gcm_forget(struct ecfs_crypto *c)
{
	EVP_CIPHER_CTX_reset(c->gcm);
	ecfs_wipe(c->gcm_key, 32);
	c->gcm_keyed = false;
}

/* After a file's last close neither its key nor its key schedule stays in any context. */
static void forget_file_key(const struct ecfs_file_key *k)
{
	pthread_mutex_lock(&gcm_list_lock);
	for (struct ecfs_crypto *c = gcm_list; c; c = c->next_gcm) {
		pthread_mutex_lock(&c->gcm_lock);
		if (c->gcm_keyed && ecfs_memcmp_ct(c->gcm_key, k->key, 32) == 0)
			gcm_forget(c);
		pthread_mutex_unlock(&c->gcm_lock);
	}
	pthread_mutex_unlock(&gcm_list_lock);
}

static void gcm_register(struct ecfs_crypto *c)
{
	pthread_mutex_lock(&gcm_list_lock);
	c->next_gcm = gcm_list;
	if (gcm_list)
		gcm_list->prev_gcm = c;
	gcm_list = c;
	pthread_mutex_unlock(&gcm_list_lock);
}

static void gcm_unregister(struct ecfs_crypto *c)
{
	pthread_mutex_lock(&gcm_list_lock);
	if (c->prev_gcm)
		c->prev_gcm->next_gcm = c->next_gcm;
	else if (gcm_list == c)
		gcm_list = c->next_gcm;
	if (c->next_gcm)
		c->next_gcm->prev_gcm = c->prev_gcm;
	pthread_mutex_unlock(&gcm_list_lock);
}

static void scratch_drop(struct ecfs_crypto *c);

void ecfs_crypto_free(struct ecfs_crypto *c)
{
	if (!c)
		return;
	gcm_unregister(c);
	pthread_mutex_destroy(&c->gcm_lock);
	EVP_CIPHER_CTX_free(c->gcm);
	EVP_CIPHER_free(c->gcm_cipher);
	ecfs_xts_free(c->xts);
	ecfs_siv_free(c->names);
	ecfs_siv_free(c->seal);
	ecfs_secret_free(c->nonce_mem); /* wipes it */
	scratch_drop(c);
	if (c->plain)
		ecfs_wipe(c->plain, 2 * (size_t)c->vol->hdr.chunk_size);
	free(c->plain);
	ecfs_wipe(c, sizeof(*c));
	free(c);
}

int ecfs_crypto_new(const struct ecfs_volume *v, struct ecfs_crypto **out)
{
	const struct ecfs_keys *k = v->keys;
	struct ecfs_crypto *c;
	int r;

	if (!k)
		return ecfs_fail(-ENOKEY, "volume '%s' is locked", v->dir);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->vol = v;
	c->mode = ecfs_mode_get(v->hdr.cipher);
	c->nonce_pos = NONCE_POOL;
	pthread_mutex_init(&c->gcm_lock, NULL);
	r = ecfs_siv_new(c->mode->block, k->names, c->mode->siv_key_len, &c->names);
	if (r == 0)
		r = ecfs_siv_new(c->mode->block, k->seal, c->mode->siv_key_len, &c->seal);
	if (r == 0 && c->mode->authenticated) {
		c->gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
		c->gcm = EVP_CIPHER_CTX_new();
		c->nonce_mem = ecfs_secret_new(NONCE_POOL + 32);
		if (c->nonce_mem) {
			c->nonce_pool = ecfs_secret_data(c->nonce_mem);
			c->gcm_key = c->nonce_pool + NONCE_POOL;
		}
		if (!c->gcm_cipher || !c->gcm || !c->nonce_mem)
			r = ecfs_fail(-ENOMEM, "cannot set up AES-256-GCM");
		else
			gcm_register(c);
	} else if (r == 0) {
		r = ecfs_xts_new(c->mode->block, k->contents, c->mode->contents_key_len, &c->xts);
	}
	if (r < 0) {
		ecfs_crypto_free(c);
		return r;
	}
	*out = c;
	return 0;
}

const struct ecfs_volume *ecfs_crypto_volume(const struct ecfs_crypto *c)
{
	return c->vol;
}

struct ecfs_siv *ecfs_crypto_names(struct ecfs_crypto *c)
{
	return c->names;
}

struct ecfs_siv *ecfs_crypto_seal(struct ecfs_crypto *c)
{
	return c->seal;
}

/* The scratch buffer: up to SCRATCH_SMALL on the heap; larger ones mmap()ed, and given back
 * once no call has needed one for SCRATCH_IDLE seconds (a worker thread of the daemon keeps
 * its context for good: after a burst of 1 MiB requests each would hold a megabyte). */
#define SCRATCH_SMALL (132u * 1024u)
#define SCRATCH_IDLE  2

static void scratch_drop(struct ecfs_crypto *c)
{
	if (!c->scratch)
		return;
	ecfs_wipe(c->scratch, c->scratch_len);
	if (c->scratch_len > SCRATCH_SMALL)
		munmap(c->scratch, c->scratch_len);
	else
		free(c->scratch);
	c->scratch = NULL;
	c->scratch_len = 0;
}

uint8_t *ecfs_crypto_scratch(struct ecfs_crypto *c, size_t len)
{
	struct timespec ts;
	uint8_t *p;
	size_t want = len > SCRATCH_SMALL ? len : SCRATCH_SMALL;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (len > SCRATCH_SMALL)
		c->scratch_big_used = ts.tv_sec;
	else if (c->scratch_len > SCRATCH_SMALL && ts.tv_sec - c->scratch_big_used >= SCRATCH_IDLE)
		scratch_drop(c);
	if (len <= c->scratch_len)
		return c->scratch;
	if (want > SCRATCH_SMALL) {
		p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
	} else if (!(p = malloc(want))) {
		return NULL;
	}
	scratch_drop(c);
	c->scratch = p;
	c->scratch_len = want;
	return c->scratch;
}

const struct ecfs_helpers *ecfs_crypto_helpers(const struct ecfs_crypto *c)
{
	return c->helpers.offer ? &c->helpers : NULL;
}

void ecfs_crypto_set_helpers(struct ecfs_crypto *c, const struct ecfs_helpers *h)
{
	if (h && h->offer && h->withdraw)
		c->helpers = *h;
	else
		memset(&c->helpers, 0, sizeof(c->helpers));
}

uint8_t *ecfs_crypto_plain(struct ecfs_crypto *c)
{
	if (!c->plain)
		c->plain = malloc(2 * (size_t)c->vol->hdr.chunk_size);
	return c->plain;
}

int ecfs_file_key_new(const struct ecfs_volume *v, const uint8_t file_id[ECFS_FILE_ID_SIZE],
		      struct ecfs_file_key **out)
{
	struct ecfs_file_key *k;
	uint8_t info[sizeof(ECFS_LABEL_FILE) - 1 + ECFS_FILE_ID_SIZE];
	int r = 0;

	if (!v->keys)
		return ecfs_fail(-ENOKEY, "volume '%s' is locked", v->dir);
	k = key_alloc();
	if (!k)
		return -ENOMEM;
	memcpy(k->file_id, file_id, ECFS_FILE_ID_SIZE);
	memset(k->tail_nonce, 0, sizeof(k->tail_nonce));
	memset(k->tail_next, 0, sizeof(k->tail_next));
	k->tail_used = false;
	k->holes_any = v->hdr.version < 2;
	k->holes = NULL;
	if (v->hdr.version >= 2 && !ecfs_cipher_is_authenticated(v->hdr.cipher))
		r = ecfs_random(k->tail_next, sizeof(k->tail_next));
	/* Per-file keys give each file its own random-nonce budget (GCM); XTS keys are
	 * volume-wide and the file ID goes into the tweak instead. */
	if (r == 0 && ecfs_cipher_is_authenticated(v->hdr.cipher)) {
		memcpy(info, ECFS_LABEL_FILE, sizeof(ECFS_LABEL_FILE) - 1);
		memcpy(info + sizeof(ECFS_LABEL_FILE) - 1, file_id, ECFS_FILE_ID_SIZE);
		r = ecfs_hkdf_sha256(v->keys->contents, 32, NULL, 0, info, sizeof(info), k->key,
				     sizeof(k->key));
	}
	if (r < 0) {
		key_release(k);
		return r;
	}
	*out = k;
	return 0;
}

void ecfs_file_key_set_holes(struct ecfs_file_key *k, const struct ecfs_holes *map)
{
	k->holes = map;
}

void ecfs_file_key_holes_any(struct ecfs_file_key *k)
{
	k->holes_any = true;
}

/* Format 2: a hole is zeros only where the file's holes map lists it (man/envcryptfs.5,
 * "Holes"); anywhere else an all-zero chunk was zeroed, punched out or appended by someone
 * without the key. */
static bool hole_allowed(const struct ecfs_file_key *k, uint64_t idx)
{
	return k->holes_any || (k->holes && ecfs_holes_contains(k->holes, idx));
}

void ecfs_file_key_set_tail_nonce(struct ecfs_file_key *k, const uint8_t nonce[16])
{
	memcpy(k->tail_nonce, nonce, sizeof(k->tail_nonce));
	k->tail_used = false;
}

int ecfs_file_key_tail_advance(struct ecfs_file_key *k, uint8_t nonce[16])
{
	if (!k->tail_used)
		return 0;
	memcpy(k->tail_nonce, k->tail_next, sizeof(k->tail_nonce));
	memcpy(nonce, k->tail_nonce, sizeof(k->tail_nonce));
	k->tail_used = false;
	return ecfs_random(k->tail_next, sizeof(k->tail_next)) < 0 ? -EIO : 1;
}

void ecfs_file_key_free(struct ecfs_file_key *k)
{
	if (k)
		key_release(k);
}

const uint8_t *ecfs_file_key_material(const struct ecfs_file_key *k, size_t *len)
{
	*len = sizeof(k->key);
	return k->key;
}

uint32_t ecfs_chunk_overhead(const struct ecfs_volume *v)
{
	return ecfs_mode_get(v->hdr.cipher)->overhead;
}

uint32_t ecfs_chunk_size(const struct ecfs_volume *v)
{
	return v->hdr.chunk_size;
}

/* Stops at the first byte that is not zero: every stored chunk that is not a hole is checked
 * on each read, and its first bytes (a random nonce, or ciphertext) almost always end it. Only
 * public bytes (nonces, ciphertext) are checked, so the early exit leaks nothing. */
static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w)
			return false;
	}
	for (; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Associated data of a GCM chunk: volume UUID, file ID, chunk index (big-endian). */
static void gcm_ad(const struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		   uint8_t ad[40])
{
	memcpy(ad, c->vol->hdr.uuid, 16);
	memcpy(ad + 16, k->file_id, 16);
	for (int i = 0; i < 8; i++)
		ad[32 + i] = (uint8_t)(idx >> (56 - 8 * i));
}

/* Takes the next unused nonce from the pool. A nonce of all zeros is never used, so a stored
 * chunk is never all zeros (a hole). */
static int next_nonce(struct ecfs_crypto *c, uint8_t *out)
{
	do {
		if (c->nonce_pos + ECFS_CANARY_NONCE > NONCE_POOL) {
			int r = ecfs_random(c->nonce_pool, NONCE_POOL);

			if (r < 0)
				return r;
			c->nonce_pos = 0;
		}
		memcpy(out, c->nonce_pool + c->nonce_pos, ECFS_CANARY_NONCE);
		ecfs_wipe(c->nonce_pool + c->nonce_pos, ECFS_CANARY_NONCE);
		c->nonce_pos += ECFS_CANARY_NONCE;
	} while (all_zero(out, ECFS_CANARY_NONCE));
	return 0;
}

/* Sets up the GCM context for k and iv; the key schedule is redone only for another key. */
static int gcm_init(struct ecfs_crypto *c, const struct ecfs_file_key *k, const uint8_t *iv,
		    int enc)
{
	const uint8_t *key = NULL;

	if (!c->gcm_keyed || ecfs_memcmp_ct(c->gcm_key, k->key, 32) != 0) {
		memcpy(c->gcm_key, k->key, 32);
		c->gcm_keyed = true;
		key = k->key;
		if (EVP_CipherInit_ex2(c->gcm, c->gcm_cipher, key, iv, enc, NULL) != 1) {
			c->gcm_keyed = false;
			return -EIO;
		}
		return 0;
	}
	return EVP_CipherInit_ex2(c->gcm, NULL, NULL, iv, enc, NULL) == 1 ? 0 : -EIO;
}

static int gcm_encrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t ad[40];
	int n, ok, r = next_nonce(c, out);

	if (r < 0)
		return r;
	gcm_ad(c, k, idx, ad);
	pthread_mutex_lock(&c->gcm_lock);
	ok = gcm_init(c, k, out, 1) == 0 &&
	     EVP_EncryptUpdate(c->gcm, NULL, &n, ad, sizeof(ad)) == 1 &&
	     EVP_EncryptUpdate(c->gcm, out + ECFS_CANARY_NONCE, &n, plain, (int)len) == 1 &&
	     EVP_EncryptFinal_ex(c->gcm, out + ECFS_CANARY_NONCE + n, &n) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c->gcm, EVP_CTRL_AEAD_GET_TAG, ECFS_GCM_TAG,
				 out + ECFS_CANARY_NONCE + len) == 1;
	pthread_mutex_unlock(&c->gcm_lock);
	return ok ? 0 : ecfs_fail(-EIO, "AES-256-GCM encryption failed");
}

static int gcm_decrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *stored, size_t len, uint8_t *plain)
{
	uint8_t ad[40];
	int n, ok;

	gcm_ad(c, k, idx, ad);
	pthread_mutex_lock(&c->gcm_lock);
	ok = gcm_init(c, k, stored, 0) == 0 &&
	     EVP_DecryptUpdate(c->gcm, NULL, &n, ad, sizeof(ad)) == 1 &&
	     EVP_DecryptUpdate(c->gcm, plain, &n, stored + ECFS_CANARY_NONCE, (int)len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c->gcm, EVP_CTRL_AEAD_SET_TAG, ECFS_GCM_TAG,
				 (void *)(stored + ECFS_CANARY_NONCE + len)) == 1 &&
	     EVP_DecryptFinal_ex(c->gcm, plain + n, &n) == 1;
	pthread_mutex_unlock(&c->gcm_lock);
	if (!ok) {
		ecfs_wipe(plain, len);
		return -EBADMSG;
	}
	return 0;
}

/* XTS tweak: the file ID with the chunk index (little-endian) XORed into its first 8 bytes,
 * so equal plaintext at equal offsets of two files encrypts differently. */
static void xts_tweak(const struct ecfs_file_key *k, uint64_t idx, uint8_t tweak[16])
{
	memcpy(tweak, k->file_id, 16);
	for (int i = 0; i < 8; i++)
		tweak[i] ^= (uint8_t)(idx >> (8 * i));
}

/* A final chunk shorter than one block cannot use XTS; it is XORed with a keystream block
 * E_K1(E_K2(T')) where T' is the chunk's tweak with its top bit flipped and, in format 2,
 * XORed with the file's tail nonce, fresh at every such write: two versions of a tail then
 * use different keystreams. */
static int xts_short(struct ecfs_crypto *c, const struct ecfs_file_key *k, bool enc,
		     const uint8_t tweak[16], const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t t[16], pad[16];
	int r;

	memcpy(t, tweak, 16);
	t[15] ^= 0x80;
	if (ecfs_volume_format(c->vol) >= 2) {
		const uint8_t *nonce = enc ? k->tail_next : k->tail_nonce;

		for (int i = 0; i < 16; i++)
			t[i] ^= nonce[i];
		if (enc)
			((struct ecfs_file_key *)k)->tail_used = true;
	}
	r = ecfs_xts_encrypt_tweak(c->xts, t, pad);
	if (r == 0)
		r = ecfs_xts_encrypt_block_k1(c->xts, pad, pad);
	for (size_t i = 0; r == 0 && i < len; i++)
		out[i] = in[i] ^ pad[i];
	ecfs_wipe(pad, sizeof(pad));
	return r;
}

int ecfs_chunk_encrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t tweak[16];

	if (len == 0 || len > c->vol->hdr.chunk_size)
		return -EINVAL;
	if (c->mode->authenticated)
		return gcm_encrypt(c, k, idx, plain, len, out);
	xts_tweak(k, idx, tweak);
	if (len < 16)
		return xts_short(c, k, true, tweak, plain, len, out);
	return ecfs_xts_encrypt(c->xts, tweak, plain, out, len);
}

int ecfs_chunk_decrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *stored, size_t stored_len, uint8_t *plain)
{
	size_t len;
	uint8_t tweak[16];
	int r;

	if (stored_len <= c->mode->overhead ||
	    stored_len > c->vol->hdr.chunk_size + c->mode->overhead)
		return -EUCLEAN;
	len = stored_len - c->mode->overhead;
	/* A never-written chunk is a hole: all zeros on disk, zeros to the reader. A short XTS
	 * tail is exempt because its ciphertext may legitimately be all zeros. */
	if ((c->mode->authenticated || len >= 16) && all_zero(stored, stored_len)) {
		if (!hole_allowed(k, idx))
			return ecfs_fail(-EBADMSG,
					 "chunk %llu is all zeros where the file has no "
					 "hole",
					 (unsigned long long)idx);
		memset(plain, 0, len);
		return (int)len;
	}
	if (c->mode->authenticated) {
		r = gcm_decrypt(c, k, idx, stored, len, plain);
	} else {
		xts_tweak(k, idx, tweak);
		r = len < 16 ? xts_short(c, k, false, tweak, stored, len, plain)
			     : ecfs_xts_decrypt(c->xts, tweak, stored, plain, len);
	}
	return r < 0 ? r : (int)len;
}
