/* SPDX-License-Identifier: MIT */
/*
 * secheap.c - the heap of OpenSSL and libcurl: every allocation they make lives in mlock()ed,
 * MADV_DONTDUMP pages and is wiped when it is freed.
 *
 * OpenSSL keeps key schedules (AES round keys, GCM's hash key, CMAC and HKDF state) in
 * contexts it allocates itself with OPENSSL_zalloc, not on its secure heap; libcurl builds the
 * request (with the token header and, for small bodies, the body) and receives the response
 * (the base64 DEK of a decrypt) in buffers of its own. Neither can be told which of its
 * allocations are secret, so all of them go here. A constructor installs the allocator
 * before main(), while OpenSSL has allocated nothing (it refuses a new allocator after its
 * first allocation); libcurl takes it in curl_global_init_mem (kms/client/http.c).
 *
 * Small blocks come from 1 MiB slabs in power-of-two size classes (16 bytes to 64 KiB), with a
 * free list per class; larger ones get a mapping each. A freed block is wiped (as far as it
 * was ever used) before it goes on its free list, so free blocks hold only zeros and a list
 * pointer. Slabs are never given back: the heap is as large as the most ever used at once.
 * One mutex guards it all; the hot paths (a chunk's encryption) allocate nothing.
 */
#include "ecfs_util.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIN_SHIFT  4  /* 16 bytes */
#define MAX_SHIFT  16 /* 64 KiB */
#define NCLASS	   (MAX_SHIFT - MIN_SHIFT + 1)
#define SLAB_BYTES (1u << 20)
#define LARGE	   0xffu
#define MAGIC	   0xec5ecu

/* 16 bytes before each block, so blocks stay 16-byte aligned. */
struct blk {
	uint32_t magic;
	uint32_t cls; /* size class (shift), or LARGE */
	size_t used;  /* the most bytes ever asked of this block: what free wipes */
};

struct free_blk {
	struct free_blk *next;
};

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct free_blk *free_list[NCLASS]; /* protected by heap_lock */
static uint8_t *slab_pos, *slab_end;	   /* protected by heap_lock */
static bool installed;

/* A fresh anonymous mapping kept out of core dumps and (when the limit allows) locked. */
static void *secure_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_DONTDUMP);
	mlock(p, len);
	return p;
}

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (n + page - 1) / page * page;
}

static unsigned class_of(size_t n)
{
	unsigned c = MIN_SHIFT;

	while (((size_t)1 << c) < n)
		c++;
	return c;
}

/* Carves a block of class c from the current slab, starting a new slab when it is used up;
 * heap_lock held. */
static struct blk *carve(unsigned c)
{
	size_t need = sizeof(struct blk) + ((size_t)1 << c);

	if (!slab_pos || (size_t)(slab_end - slab_pos) < need) {
		uint8_t *s = secure_map(SLAB_BYTES);

		if (!s)
			return NULL;
		/* The rest of the old slab stays unused: at most one block of waste. */
		slab_pos = s;
		slab_end = s + SLAB_BYTES;
	}
	slab_pos += need;
	return (struct blk *)(slab_pos - need);
}

static void *large_alloc(size_t n)
{
	struct blk *b;

	if (n > SIZE_MAX - sizeof(*b) - 4096)
		return NULL;
	b = secure_map(page_round(sizeof(*b) + n));
	if (!b)
		return NULL;
	*b = (struct blk){MAGIC, LARGE, n};
	return b + 1;
}

static void *heap_alloc(size_t n)
{
	unsigned c;
	struct blk *b;

	if (n > ((size_t)1 << MAX_SHIFT))
		return large_alloc(n);
	c = class_of(n ? n : 1);
	pthread_mutex_lock(&heap_lock);
	b = (struct blk *)free_list[c - MIN_SHIFT];
	if (b) {
		free_list[c - MIN_SHIFT] = ((struct free_blk *)b)->next;
	} else {
		b = carve(c);
	}
	pthread_mutex_unlock(&heap_lock);
	if (!b)
		return NULL;
	*b = (struct blk){MAGIC, c, n};
	return b + 1;
}

static struct blk *header_of(void *p)
{
	struct blk *b = (struct blk *)p - 1;

	/* Memory from elsewhere handed to this free is a bug worth stopping at once. */
	if (b->magic != MAGIC)
		abort();
	return b;
}

static void heap_free(void *p)
{
	struct blk *b;
	unsigned cls;

	if (!p)
		return;
	b = header_of(p);
	if (b->cls == LARGE) {
		size_t len = page_round(sizeof(*b) + b->used);

		OPENSSL_cleanse(b, len);
		munlock(b, len);
		munmap(b, len);
		return;
	}
	cls = b->cls - MIN_SHIFT; /* the list pointer below overwrites the header */
	OPENSSL_cleanse(p, b->used);
	/* Reused by the free list: the block header itself, as free blocks are found by it. */
	pthread_mutex_lock(&heap_lock);
	((struct free_blk *)b)->next = free_list[cls];
	free_list[cls] = (struct free_blk *)b;
	pthread_mutex_unlock(&heap_lock);
}

static void *heap_realloc(void *p, size_t n)
{
	struct blk *b;
	void *q;

	if (!p)
		return heap_alloc(n);
	b = header_of(p);
	if (b->cls != LARGE && n <= ((size_t)1 << b->cls)) {
		if (n > b->used)
			b->used = n;
		return p;
	}
	q = heap_alloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, n < b->used ? n : b->used);
	heap_free(p);
	return q;
}

/* OpenSSL's signatures. */
static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return heap_alloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	if (p && n == 0) {
		heap_free(p);
		return NULL;
	}
	return heap_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	heap_free(p);
}

__attribute__((constructor)) static void secheap_install(void)
{
	installed = CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) == 1;
}

bool ecfs_secheap_installed(void)
{
	return installed;
}

/* libcurl's signatures (curl_global_init_mem). */
void *ecfs_secheap_malloc(size_t n)
{
	return heap_alloc(n);
}

void ecfs_secheap_free(void *p)
{
	heap_free(p);
}

void *ecfs_secheap_realloc(void *p, size_t n)
{
	return heap_realloc(p, n);
}

char *ecfs_secheap_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = heap_alloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void *ecfs_secheap_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	p = heap_alloc(nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}
