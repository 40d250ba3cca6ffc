/* thread.c - per-worker-thread state: a crypto context (not thread-safe, so one per thread)
 * and a buffer for decrypted reads, made on first use and freed when the thread ends. */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
