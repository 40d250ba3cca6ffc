/* seek.c - SEEK_DATA and SEEK_HOLE (the LSEEK request).
 *
 * With the write-back cache the kernel sends LSEEK without writing the file's dirty pages back
 * first, so the daemon has it do so (invalidating the file's pages waits for their
 * write-back); otherwise holes that cached writes have filled would be reported. That wait
 * must not happen on a worker thread: the writes it waits for are WRITE requests, which only
 * workers serve, and libfuse runs at most ten workers. Ten lseeks at once (the kernel holds
 * each file's inode lock meanwhile) took every worker, and the mount hung. So workers hand
 * LSEEK to one thread of its own, which invalidates, answers, and takes the next. Without the
 * write-back cache there is nothing to write back, and the worker answers at once.
 */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* How long an unmount waits for an lseek whose write-back the kernel still owes. */
#define SEEK_STOP_WAIT 5

struct seek_req {
	fuse_req_t req;
	fuse_ino_t ino;
	struct open_file *fh; /* the kernel holds the file open until the answer */
	off_t off;
	int whence;
	struct seek_req *next;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_wake = PTHREAD_COND_INITIALIZER;
/* protected by queue_lock */
static struct seek_req *queue_head, **queue_tail = &queue_head;
static bool stopping;
/* Answers are sent under reply_lock: a stop that gives up on the thread sets abandoned, after
 * which the thread answers nothing (the session may be gone). */
static pthread_mutex_t reply_lock = PTHREAD_MUTEX_INITIALIZER;
static bool abandoned; /* protected by reply_lock */
static pthread_t seek_thread;
static bool started;

static void seek_answer(fuse_req_t req, struct open_file *fh, off_t off, int whence)
{
	uint64_t pos = 0;
	int r;

	pthread_rwlock_rdlock(&fh->inode->io);
	r = file_seek(fh->inode, fh->fd, (uint64_t)off, whence, &pos);
	pthread_rwlock_unlock(&fh->inode->io);
	if (r < 0)
		fuse_reply_err(req, fs_errno(r));
	else
		fuse_reply_lseek(req, (off_t)pos);
}

static struct seek_req *queue_pop(bool *flush)
{
	struct seek_req *q;

	pthread_mutex_lock(&queue_lock);
	while (!queue_head && !stopping)
		pthread_cond_wait(&queue_wake, &queue_lock);
	q = queue_head;
	if (q) {
		queue_head = q->next;
		if (!queue_head)
			queue_tail = &queue_head;
	}
	/* Once the session ends no worker is left to serve the writes. */
	*flush = !stopping;
	pthread_mutex_unlock(&queue_lock);
	return q;
}

static void *seek_main(void *arg)
{
	struct seek_req *q;
	bool flush;

	(void)arg;
	while ((q = queue_pop(&flush))) {
		if (flush)
			fuse_lowlevel_notify_inval_inode(fs.se, q->ino, 0, 0);
		pthread_mutex_lock(&reply_lock);
		if (!abandoned)
			seek_answer(q->req, q->fh, q->off, q->whence);
		pthread_mutex_unlock(&reply_lock);
		free(q);
	}
	return NULL;
}

void fs_seek_start(void)
{
	stopping = false;
	started = pthread_create(&seek_thread, NULL, seek_main, NULL) == 0;
	if (!started)
		fs_log(LOG_WARNING, "cannot start the lseek thread; lseek answers without "
				    "writing cached data back first");
}

bool fs_seek_stop(void)
{
	struct timespec deadline;

	if (!started)
		return true;
	started = false;
	pthread_mutex_lock(&queue_lock);
	stopping = true;
	pthread_cond_broadcast(&queue_wake);
	pthread_mutex_unlock(&queue_lock);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += SEEK_STOP_WAIT;
	if (pthread_timedjoin_np(seek_thread, NULL, &deadline) == 0)
		return true;
	fs_log(LOG_WARNING, "an lseek still waits for the kernel to write cached data back; "
			    "it is left unanswered");
	pthread_mutex_lock(&reply_lock);
	abandoned = true;
	pthread_mutex_unlock(&reply_lock);
	pthread_detach(seek_thread);
	return false;
}

void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct seek_req *q;

	if ((whence != SEEK_DATA && whence != SEEK_HOLE) || off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!fs.writeback || !started) {
		seek_answer(req, fh_of(fi), off, whence);
		return;
	}
	q = malloc(sizeof(*q));
	if (!q) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*q = (struct seek_req){
	    .req = req, .ino = ino, .fh = fh_of(fi), .off = off, .whence = whence};
	pthread_mutex_lock(&queue_lock);
	*queue_tail = q;
	queue_tail = &q->next;
	pthread_cond_signal(&queue_wake);
	pthread_mutex_unlock(&queue_lock);
}
