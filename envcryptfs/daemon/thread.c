/* thread.c - per-worker-thread state: a crypto context (not thread-safe, so one per thread)
 * and a buffer for decrypted reads, made on first use and freed when the thread ends; and the
 * helper threads that take pieces of the cipher work of large reads and writes. */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct fs_thread {
	struct ecfs_crypto *crypto;
	void *buf; /* mmap()ed, bufsize bytes */
	size_t bufsize;
	time_t big_used; /* when a request last needed a buffer larger than BUF_SMALL */
	/* protected by threads_lock */
	struct fs_thread *prev, *next;
};

static pthread_key_t thread_key;
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every live state, so that those of threads that never exit (the main thread) are freed at
 * unmount too. protected by threads_lock */
static struct fs_thread threads = {.prev = &threads, .next = &threads};

/*
 * Read buffers: requests up to BUF_SMALL get a buffer of that size, larger ones one of the
 * largest request size (so that it grows once). A thread gives its large buffer back once
 * it has gone BUF_IDLE seconds without a large request: after a burst of large I/O, every
 * worker would otherwise keep a megabyte (and its crypto context another) for good, which
 * a daemon then serving lookups of 100,000 files pays in resident memory. mmap, so that
 * giving it back really returns the memory.
 */
#define BUF_SMALL (128u * 1024u)
#define BUF_IDLE  2

static void buf_drop(struct fs_thread *t)
{
	if (t->buf) {
		explicit_bzero(t->buf, t->bufsize); /* plaintext */
		munmap(t->buf, t->bufsize);
	}
	t->buf = NULL;
	t->bufsize = 0;
}

static time_t coarse_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static void thread_free(struct fs_thread *t)
{
	ecfs_crypto_free(t->crypto);
	buf_drop(t);
	free(t);
}

static void thread_unlink(struct fs_thread *t)
{
	pthread_mutex_lock(&threads_lock);
	t->prev->next = t->next;
	t->next->prev = t->prev;
	pthread_mutex_unlock(&threads_lock);
}

static void thread_destructor(void *p)
{
	thread_unlink(p);
	thread_free(p);
}

int fs_thread_init(void)
{
	return -pthread_key_create(&thread_key, thread_destructor);
}

void fs_thread_cleanup(void)
{
	pthread_mutex_lock(&threads_lock);
	while (threads.next != &threads) {
		struct fs_thread *t = threads.next;

		threads.next = t->next;
		thread_free(t);
	}
	threads.prev = &threads;
	pthread_mutex_unlock(&threads_lock);
	pthread_setspecific(thread_key, NULL);
	pthread_key_delete(thread_key);
}

/* ---- helpers --------------------------------------------------------------------------- */

/*
 * One request's chunks are encrypted or decrypted by one thread unless others help: a 1 MiB
 * write is one request, and the kernel's writes of one file wait for each other (io lock).
 * With N cores, N - 1 helpers wait for work offered by the library (ecfs_helpers) and take
 * pieces of it with their own crypto contexts while the offering thread works on it too.
 */
#define MAX_HELPERS 3
#define MAX_OFFERS  16

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more, idle;
	/* protected by lock */
	struct ecfs_work *queue[MAX_OFFERS]; /* offered, not yet taken */
	unsigned nq;
	struct ecfs_work *on[MAX_HELPERS]; /* what each helper works on */
	bool stop;
	/* set before the helpers start, then read-only */
	pthread_t tid[MAX_HELPERS];
	unsigned n;
} hp = {.lock = PTHREAD_MUTEX_INITIALIZER,
	.more = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER};

static __thread bool is_helper;

static void helpers_offer(void *arg, struct ecfs_work *w)
{
	(void)arg;
	pthread_mutex_lock(&hp.lock);
	if (hp.nq < MAX_OFFERS) { /* else the offering thread does it all */
		hp.queue[hp.nq++] = w;
		pthread_cond_signal(&hp.more);
	}
	pthread_mutex_unlock(&hp.lock);
}

static bool helper_on(const struct ecfs_work *w)
{
	for (unsigned i = 0; i < hp.n; i++)
		if (hp.on[i] == w)
			return true;
	return false;
}

static void helpers_withdraw(void *arg, struct ecfs_work *w)
{
	(void)arg;
	pthread_mutex_lock(&hp.lock);
	for (unsigned i = 0; i < hp.nq; i++)
		if (hp.queue[i] == w) {
			hp.queue[i] = hp.queue[--hp.nq];
			break;
		}
	while (helper_on(w))
		pthread_cond_wait(&hp.idle, &hp.lock);
	pthread_mutex_unlock(&hp.lock);
}

static const struct ecfs_helpers helpers = {
    .offer = helpers_offer, .withdraw = helpers_withdraw, .arg = NULL};

static void *helper_main(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	struct ecfs_crypto *c;

	is_helper = true;
	c = fs_crypto();
	pthread_mutex_lock(&hp.lock);
	for (;;) {
		struct ecfs_work *w;

		while (!hp.nq && !hp.stop)
			pthread_cond_wait(&hp.more, &hp.lock);
		if (hp.stop)
			break;
		w = hp.queue[--hp.nq];
		hp.on[me] = w;
		pthread_mutex_unlock(&hp.lock);
		if (c)
			ecfs_work_help(c, w);
		pthread_mutex_lock(&hp.lock);
		hp.on[me] = NULL;
		pthread_cond_broadcast(&hp.idle);
	}
	pthread_mutex_unlock(&hp.lock);
	return NULL;
}

void fs_helpers_start(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus > 1 ? (unsigned)(cpus - 1) : 0;

	if (want > MAX_HELPERS)
		want = MAX_HELPERS;
	while (hp.n < want &&
	       pthread_create(&hp.tid[hp.n], NULL, helper_main, (void *)(uintptr_t)hp.n) == 0)
		hp.n++;
}

void fs_helpers_stop(void)
{
	pthread_mutex_lock(&hp.lock);
	hp.stop = true;
	pthread_cond_broadcast(&hp.more);
	pthread_mutex_unlock(&hp.lock);
	for (unsigned i = 0; i < hp.n; i++)
		pthread_join(hp.tid[i], NULL);
	hp.n = 0;
}

/* ---- per-thread state ------------------------------------------------------------------- */

static struct fs_thread *thread_get(void)
{
	struct fs_thread *t = pthread_getspecific(thread_key);

	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (ecfs_crypto_new(fs.vol, &t->crypto) < 0 || pthread_setspecific(thread_key, t)) {
		thread_free(t);
		return NULL;
	}
	if (hp.n && !is_helper)
		ecfs_crypto_set_helpers(t->crypto, &helpers);
	pthread_mutex_lock(&threads_lock);
	t->next = &threads;
	t->prev = threads.prev;
	threads.prev->next = t;
	threads.prev = t;
	pthread_mutex_unlock(&threads_lock);
	return t;
}

struct ecfs_crypto *fs_crypto(void)
{
	struct fs_thread *t = thread_get();

	return t ? t->crypto : NULL;
}

void *fs_buffer(size_t len)
{
	struct fs_thread *t = thread_get();

	time_t now = coarse_now();
	size_t want;
	void *b;

	if (!t)
		return NULL;
	if (len > BUF_SMALL) {
		t->big_used = now;
		want = len > fs.max_write ? len : fs.max_write;
	} else if (t->bufsize > BUF_SMALL && now - t->big_used >= BUF_IDLE) {
		buf_drop(t);
		want = BUF_SMALL;
	} else {
		want = BUF_SMALL;
	}
	if (t->bufsize >= len)
		return t->buf;
	b = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	buf_drop(t);
	t->buf = b;
	t->bufsize = want;
	return t->buf;
}
