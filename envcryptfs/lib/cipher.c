/* SPDX-License-Identifier: MIT */
/*
 * cipher.c - the content cipher modes and the per-thread crypto contexts, with the registry
 * that wipes a closed file's key schedule from every context. Chunk sealing is in chunk.c,
 * per-file keys in filekey.c (man/envcryptfs.5, "File contents").
 */
#include "crypto_ctx.h"

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

/* Every context with a GCM key schedule, so that a closed file's key is wiped from all. */
static pthread_mutex_t gcm_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ecfs_crypto *gcm_list; /* protected by gcm_list_lock */

/* Clears c's GCM key schedule (OpenSSL's heap wipes it, lib/secheap.c); gcm_lock held. */
static void gcm_forget(struct ecfs_crypto *c)
{
	EVP_CIPHER_CTX_reset(c->gcm);
	ecfs_wipe(c->gcm_key, 32);
	c->gcm_keyed = false;
}

void ecfs_crypto_forget_key(const uint8_t key[32])
{
	pthread_mutex_lock(&gcm_list_lock);
	for (struct ecfs_crypto *c = gcm_list; c; c = c->next_gcm) {
		pthread_mutex_lock(&c->gcm_lock);
		if (c->gcm_keyed && ecfs_memcmp_ct(c->gcm_key, key, 32) == 0)
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
