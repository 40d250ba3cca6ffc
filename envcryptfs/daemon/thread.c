/* thread.c - per-worker-thread state: a crypto context (not thread-safe, so one per thread)
 * and a buffer for decrypted reads, made on first use and freed when the thread ends; and the
 * helper threads that take pieces of the cipher work of large reads and writes. */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fs_thread {
	struct ecfs_crypto *crypto;
	void *buf;
	size_t bufsize;
	/* protected by threads_lock */
	struct fs_thread *prev, *next;
};

static pthread_key_t thread_key;
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every live state, so that those of threads that never exit (the main thread) are freed at
 * unmount too. protected by threads_lock */
static struct fs_thread threads = {.prev = &threads, .next = &threads};

static void thread_free(struct fs_thread *t)
{
	ecfs_crypto_free(t->crypto);
	if (t->buf) {
		explicit_bzero(t->buf, t->bufsize); /* plaintext */
		free(t->buf);
	}
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

	if (!t)
		return NULL;
	if (t->bufsize < len) {
		/* Grow straight to the largest request so that this happens once per thread. */
		size_t want = len > fs.max_write ? len : fs.max_write;
		void *b = malloc(want);

		if (!b)
			return NULL;
		if (t->buf) {
			explicit_bzero(t->buf, t->bufsize);
			free(t->buf);
		}
		t->buf = b;
		t->bufsize = want;
	}
	return t->buf;
}
