/* uring.c - FUSE over io_uring (-o io_uring): requests arrive in ring entries registered on
 * the /dev/fuse descriptor instead of through read(2), and a reply goes back together with
 * the fetch of the next request in one io_uring_enter(2). The kernel's rules are in
 * fuse_uring_abi.h.
 *
 * libfuse 3.14 knows nothing of this, so the INIT exchange (on /dev/fuse) is amended through
 * the custom-I/O hooks of killpriv.c, and libfuse still handles every request: an entry's
 * request is laid out as /dev/fuse would deliver it (header, opcode argument, payload, in one
 * buffer, the payload not moved) and handed to fuse_session_process_buf; the reply libfuse
 * then writes through the writev hook is caught here and put into the entry. FORGET,
 * INTERRUPT and notifications stay on /dev/fuse, where libfuse's own loop keeps serving.
 *
 * WORKERS_PER_QUEUE workers per CPU queue let that many requests from one CPU run at once,
 * as libfuse's worker threads would. Each worker is a thread with a ring of its own and
 * starts with one entry. The kernel copies a request into an entry in the context of the
 * thread that submitted the entry's last command, so only the worker ever submits for its
 * entries: a reply made on another thread (seek.c answers LSEEK on its own, after write-backs
 * that need other requests served) is stored in the entry, and the worker, woken through an
 * eventfd, commits it. Meanwhile the worker registers another entry, so that requests parked
 * that way never leave a queue without entries (which would hang the write-backs they wait
 * for).
 */
#include "daemon.h"
#include "fuse_uring_abi.h"

#include <errno.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define WORKERS_PER_QUEUE 4
/* Entries of one worker: the one it serves, and those parked waiting for a reply. */
#define MAX_ENTS     16
#define RING_SIZE    32 /* submissions at once: every entry's commit, and the two polls */
#define MAX_QUEUES   1024
#define ENABLE_PARAM "/sys/module/fuse/parameters/enable_uring"
/* The request's header and opcode argument are put right before the payload: this much
 * room there keeps the payload page-aligned. */
#define PREFIX 4096u
_Static_assert(PREFIX >= sizeof(struct ecfs_fuse_uring_req_header) + sizeof(struct fuse_in_header) +
			     ECFS_FUSE_URING_OP_IN_OUT_SZ,
	       "the header page holds the ring header and the rebuilt request header");
_Static_assert(RING_SIZE >= MAX_ENTS + 2, "the ring holds every entry's commit");

/* user_data of the polls; any other is the address of an entry */
enum { TAG_STOP = 1, TAG_WAKE = 2 };

enum ent_state {
	ENT_KERNEL,  /* waiting in the kernel for a request */
	ENT_SERVING, /* its worker has it in libfuse */
	ENT_PARKED,  /* libfuse returned without a reply: another thread will give it */
	ENT_REPLIED, /* the reply is in the entry, to be committed by its worker */
	ENT_DEAD,    /* the kernel refused or ended it */
};

struct worker;

struct ent {
	struct worker *w;
	char *mem; /* PREFIX bytes (the ring header first), then the payload */
	struct ecfs_fuse_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2];
	/* protected by ur.lock */
	enum ent_state state;
	uint64_t unique; /* of the request in the entry, which is also its commit ID */
};

struct worker {
	struct io_uring ring;
	bool ring_ok, thread_ok;
	bool registered; /* protected by ur.lock */
	pthread_t tid;
	uint16_t qid;
	int wake_fd; /* an eventfd: a parked entry got its reply */
	struct ent ents[MAX_ENTS];
	unsigned nents; /* protected by ur.lock; only the worker adds */
};

static struct {
	/* set before the workers start, then read-only */
	struct fuse_session *se;
	int dev_fd;
	int stop_fd;		 /* an eventfd: readable once the transport stops */
	struct io_uring decline; /* for the refusal that makes the kernel give up (decline) */
	bool decline_ok;
	unsigned queues;
	struct worker *workers;
	unsigned nalloc; /* workers set up (or being set up) */
	size_t payload_len;
	/* set while INIT is served alone (serve_init), read-only afterwards */
	bool wanted, offered, accepted;
	int setup_err; /* why the rings could not be made, or 0 */
	size_t max_payload;
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a registration result came */
	/* protected by lock; n is also read with atomic loads */
	unsigned
	    n; /* workers whose entries may hold requests: 0 before the start, after the stop */
	unsigned reported, registered;
	int reg_err;
	bool spare_failed_logged;
} ur = {.stop_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

/* The entry whose request this thread is handing to libfuse. */
static __thread struct ent *serving;

/* ---- INIT -------------------------------------------------------------------------------- */

void fs_uring_want(bool on)
{
	ur.wanted = on;
}

void fs_uring_init_request(const struct fuse_init_in *in, size_t len)
{
	ur.offered = len >= offsetof(struct fuse_init_in, flags2) + sizeof(in->flags2) &&
		     (in->flags & ECFS_FUSE_INIT_EXT) &&
		     (in->flags2 & ECFS_FUSE_OVER_IO_URING_FLAGS2);
}

static int setup_all(int dev_fd);
static void workers_free(void);

/* The payload buffer of an entry: the kernel wants every entry to hold the connection's
 * largest request (at least 8 KiB). */
static size_t payload_size(const struct fuse_init_out *out)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = out->max_pages ? out->max_pages : 32, len;

	len = pages * (size_t)(page > 0 ? page : 4096);
	if (len < out->max_write)
		len = out->max_write;
	return len < 8192 ? 8192 : len;
}

void fs_uring_init_reply(struct fuse_init_out *out, size_t len, int dev_fd)
{
	if (!ur.wanted || !ur.offered ||
	    len < offsetof(struct fuse_init_out, flags2) + sizeof(out->flags2))
		return;
	/* Once accepted, the kernel holds every request until each CPU queue has a ring entry:
	 * the rings are made first, and a daemon that cannot make them declines. */
	ur.max_payload = payload_size(out);
	ur.setup_err = setup_all(dev_fd);
	if (ur.setup_err < 0) {
		workers_free();
		return;
	}
	out->flags |= ECFS_FUSE_INIT_EXT;
	out->flags2 |= ECFS_FUSE_OVER_IO_URING_FLAGS2;
	ur.accepted = true;
}

/* ---- replies ------------------------------------------------------------------------------ */

/* Copies a reply (the fuse_out_header, then its arguments, spread over iov) into e. */
static ssize_t reply_store(struct ent *e, const struct iovec *iov, int count)
{
	size_t total = 0, hdr_left = sizeof(struct fuse_out_header), off = 0;
	char *h = e->hdr->in_out;

	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	if (total < sizeof(struct fuse_out_header) ||
	    total - sizeof(struct fuse_out_header) > ur.payload_len) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < count; i++) {
		const char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len, take = len < hdr_left ? len : hdr_left;

		memcpy(h + sizeof(struct fuse_out_header) - hdr_left, p, take);
		hdr_left -= take;
		/* memmove: a reply may quote the request's own payload */
		if (len > take)
			memmove(e->payload + off, p + take, len - take);
		off += len - take;
	}
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)off;
	return (ssize_t)total;
}

/* A request that cannot be handed on, or whose reply does not fit, is answered with EIO. */
static void reply_error(struct ent *e)
{
	struct fuse_out_header o = {.len = sizeof(o), .error = -EIO, .unique = e->unique};
	struct iovec iov = {.iov_base = &o, .iov_len = sizeof(o)};

	reply_store(e, &iov, 1);
}

/* Stores a reply in e; one that does not fit (writev would fail with EINVAL) leaves EIO
 * there instead, so that the kernel's request still ends. */
static ssize_t reply_store_or_error(struct ent *e, const struct iovec *iov, int count)
{
	ssize_t r = reply_store(e, iov, count);

	if (r < 0)
		reply_error(e);
	return r;
}

/* The entry holding the request this reply answers, under ur.lock. */
static struct ent *ent_of_reply(uint64_t unique)
{
	for (unsigned i = 0; i < ur.n; i++) {
		struct worker *w = &ur.workers[i];

		for (unsigned j = 0; j < w->nents; j++) {
			struct ent *e = &w->ents[j];

			if ((e->state == ENT_SERVING || e->state == ENT_PARKED) &&
			    e->unique == unique)
				return e;
		}
	}
	return NULL;
}

bool fs_uring_capture(const struct iovec *iov, int count, ssize_t *res)
{
	const struct fuse_out_header *o = iov[0].iov_base;
	uint64_t one = 1;
	struct ent *e;

	if (!__atomic_load_n(&ur.n, __ATOMIC_ACQUIRE) || count < 1 || iov[0].iov_len < sizeof(*o) ||
	    o->unique == 0)
		return false;
	e = serving;
	if (e && e->unique == o->unique) { /* answered on the entry's own worker */
		*res = reply_store_or_error(e, iov, count);
		pthread_mutex_lock(&ur.lock);
		e->state = ENT_REPLIED;
		pthread_mutex_unlock(&ur.lock);
		return true;
	}
	pthread_mutex_lock(&ur.lock);
	e = ent_of_reply(o->unique);
	if (e) {
		*res = reply_store_or_error(e, iov, count);
		/* A parked entry's worker may be waiting in the kernel: wake it to commit. */
		if (e->state == ENT_PARKED &&
		    write(e->w->wake_fd, &one, sizeof(one)) != sizeof(one))
			fs_log(LOG_ERR, "io_uring: cannot wake a worker: %m");
		e->state = ENT_REPLIED;
	}
	pthread_mutex_unlock(&ur.lock);
	return e != NULL;
}

/* ---- a worker ----------------------------------------------------------------------------- */

/* A submission slot. A round prepares fewer than RING_SIZE, so the ring is never full; if
 * it were, what is prepared goes first. */
static struct io_uring_sqe *sqe_get(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	if (!sqe) /* an empty ring has room: cannot be */
		abort();
	return sqe;
}

static void cmd_prep(struct ent *e, uint32_t op)
{
	struct io_uring_sqe *sqe = sqe_get(e->w);
	struct ecfs_fuse_uring_cmd_req *req;

	memset(sqe, 0, 2 * sizeof(*sqe)); /* SQE128: the command lives in the second half */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = ur.dev_fd;
	sqe->cmd_op = op;
	sqe->user_data = (uint64_t)(uintptr_t)e;
	req = (struct ecfs_fuse_uring_cmd_req *)sqe->cmd;
	req->qid = e->w->qid;
	if (op == ECFS_FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	} else {
		req->commit_id = e->unique;
	}
}

static void poll_prep(struct worker *w, int fd, uint64_t tag)
{
	struct io_uring_sqe *sqe = sqe_get(w);

	io_uring_prep_poll_add(sqe, fd, POLLIN);
	sqe->user_data = tag;
}

/* Adds an entry to w (its buffers), not yet registered. NULL when there is no room. */
static struct ent *ent_add(struct worker *w)
{
	struct ent *e;
	char *mem;

	if (w->nents == MAX_ENTS)
		return NULL;
	mem = mmap(NULL, PREFIX + ur.payload_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	madvise(mem, PREFIX + ur.payload_len, MADV_DONTDUMP); /* plaintext: not in core dumps */
	e = &w->ents[w->nents];
	*e = (struct ent){.w = w, .mem = mem, .state = ENT_KERNEL};
	e->hdr = (struct ecfs_fuse_uring_req_header *)mem;
	e->payload = mem + PREFIX;
	e->iov[0] = (struct iovec){.iov_base = e->hdr, .iov_len = sizeof(*e->hdr)};
	e->iov[1] = (struct iovec){.iov_base = e->payload, .iov_len = ur.payload_len};
	pthread_mutex_lock(&ur.lock);
	w->nents++;
	pthread_mutex_unlock(&ur.lock);
	return e;
}

static void report_registration(struct worker *w, int err)
{
	pthread_mutex_lock(&ur.lock);
	ur.reported++;
	w->registered = !err;
	if (err)
		ur.reg_err = err;
	else
		ur.registered++;
	pthread_cond_broadcast(&ur.changed);
	pthread_mutex_unlock(&ur.lock);
}

/* Registers w's first entry and arms the polls. A refused registration completes at once,
 * before io_uring_submit returns. 0 or -errno. */
static int worker_register(struct worker *w)
{
	struct io_uring_cqe *cqe;
	int r;

	cmd_prep(&w->ents[0], ECFS_FUSE_IO_URING_CMD_REGISTER);
	poll_prep(w, ur.stop_fd, TAG_STOP);
	poll_prep(w, w->wake_fd, TAG_WAKE);
	r = io_uring_submit(&w->ring);
	if (r < 0)
		return r;
	if (io_uring_peek_cqe(&w->ring, &cqe) == 0 &&
	    cqe->user_data == (uint64_t)(uintptr_t)&w->ents[0] && cqe->res < 0) {
		r = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		return r;
	}
	return 0;
}

/* The request the kernel put into e, as one buffer in /dev/fuse's layout: false when its
 * lengths do not add up. */
static bool request_rebuild(struct ent *e, struct fuse_buf *buf)
{
	const struct fuse_in_header *in = (const void *)e->hdr->in_out;
	uint32_t payload = e->hdr->ring_ent_in_out.payload_sz;
	size_t op_len;
	char *start;

	if (payload > ur.payload_len || in->len < sizeof(*in) + (size_t)payload)
		return false;
	op_len = in->len - sizeof(*in) - payload;
	if (op_len > ECFS_FUSE_URING_OP_IN_OUT_SZ)
		return false;
	start = e->payload - op_len - sizeof(*in);
	memcpy(start, in, sizeof(*in));
	memcpy(start + sizeof(*in), e->hdr->op_in, op_len);
	*buf = (struct fuse_buf){.mem = start, .size = in->len};
	return true;
}

/* A request was parked: unless w still has an entry waiting in the kernel, it registers
 * another (its queue must not run out of entries while the reply waits). */
static void spare_entry(struct worker *w)
{
	struct ent *e;
	bool waiting = false;

	pthread_mutex_lock(&ur.lock);
	for (unsigned i = 0; i < w->nents; i++)
		waiting |= w->ents[i].state == ENT_KERNEL;
	pthread_mutex_unlock(&ur.lock);
	if (waiting)
		return;
	e = ent_add(w);
	if (e) {
		cmd_prep(e, ECFS_FUSE_IO_URING_CMD_REGISTER);
		return;
	}
	if (!ur.spare_failed_logged) { /* benign race: at worst logged twice */
		ur.spare_failed_logged = true;
		fs_log(LOG_WARNING,
		       "io_uring: a worker has %u requests waiting for replies and "
		       "cannot take another entry",
		       w->nents);
	}
}

/* Hands e's request to libfuse; prepares the commit when the reply came, else parks e. */
static void ent_serve(struct ent *e)
{
	struct fuse_buf buf;
	bool replied;

	pthread_mutex_lock(&ur.lock);
	e->unique = e->hdr->ring_ent_in_out.commit_id;
	e->state = ENT_SERVING;
	pthread_mutex_unlock(&ur.lock);
	if (request_rebuild(e, &buf)) {
		fs_killpriv_request(buf.mem, buf.size);
		serving = e;
		fuse_session_process_buf(ur.se, &buf);
		serving = NULL;
	} else {
		fs_log(LOG_ERR, "io_uring: a request with inconsistent lengths; answered EIO");
		reply_error(e);
		pthread_mutex_lock(&ur.lock);
		e->state = ENT_REPLIED;
		pthread_mutex_unlock(&ur.lock);
	}
	pthread_mutex_lock(&ur.lock);
	replied = e->state == ENT_REPLIED;
	e->state = replied ? ENT_KERNEL : ENT_PARKED;
	pthread_mutex_unlock(&ur.lock);
	if (replied)
		cmd_prep(e, ECFS_FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
	else
		spare_entry(e->w);
}

/* The wake-up: commits every entry whose reply came from elsewhere, re-arms the poll. */
static void commit_replied(struct worker *w)
{
	uint64_t v;

	if (read(w->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		fs_log(LOG_ERR, "io_uring: cannot read a worker's wake-up: %m");
	poll_prep(w, w->wake_fd, TAG_WAKE);
	pthread_mutex_lock(&ur.lock);
	for (unsigned i = 0; i < w->nents; i++) {
		struct ent *e = &w->ents[i];

		if (e->state ==
		    ENT_REPLIED) { /* none is being served now: all came from elsewhere */
			e->state = ENT_KERNEL;
			cmd_prep(e, ECFS_FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
		}
	}
	pthread_mutex_unlock(&ur.lock);
}

/* An entry the kernel ended. False when the whole connection has (the worker ends). */
static bool ent_ended(struct ent *e, int res)
{
	pthread_mutex_lock(&ur.lock);
	e->state = ENT_DEAD;
	pthread_mutex_unlock(&ur.lock);
	if (res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED || res == -ENODEV)
		return false;
	fs_log(LOG_WARNING, "io_uring: the kernel ended a ring entry: %s", strerror(-res));
	return true;
}

/* Submits what the last round prepared and waits for a completion. Test builds:
 * ECFS_FAULT_URING_ENTER=N makes the Nth call of all workers (0 = the first) fail with
 * EAGAIN, as io_uring_enter(2) does when the kernel is short of memory. */
static int ring_enter(struct worker *w)
{
#ifdef ECFS_FAULT_INJECTION
	static unsigned calls;
	const char *env = getenv("ECFS_FAULT_URING_ENTER");

	if (env && __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED) == strtoul(env, NULL, 10))
		return -EAGAIN;
#endif
	return io_uring_submit_and_wait(&w->ring, 1);
}

/* io_uring_enter errors that pass: the kernel short of memory (EAGAIN, ENOMEM) or with
 * completions to reap first (EBUSY). What was prepared stays in the ring and goes with the
 * next call; ending the worker instead would leave its entries registered, and the requests
 * the kernel gives them (or the replies not yet committed) waiting for ever. */
static bool enter_error_passes(int r)
{
	static bool logged; /* benign race: at worst logged twice */
	const struct timespec pause = {0, 1000000};

	if (r != -EAGAIN && r != -ENOMEM && r != -EBUSY)
		return false;
	if (!logged) {
		logged = true;
		fs_log(LOG_WARNING, "io_uring: the kernel is short of resources (%s); retrying",
		       strerror(-r));
	}
	nanosleep(&pause, NULL);
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int r = worker_register(w);

	report_registration(w, r);
	while (r == 0) {
		struct io_uring_cqe *cqe;
		uint64_t tag;
		int res;

		/* What the last round prepared goes, and the wait begins, in one call. */
		r = ring_enter(w);
		if (r == -EINTR || r >= 0 || enter_error_passes(r))
			r = 0;
		else
			fs_log(LOG_ERR, "io_uring: a worker ends: %s", strerror(-r));
		if (r < 0 || io_uring_peek_cqe(&w->ring, &cqe) != 0)
			continue;
		tag = cqe->user_data;
		res = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		if (tag == TAG_STOP)
			break;
		if (tag == TAG_WAKE)
			commit_replied(w);
		else if (res < 0 && !ent_ended((struct ent *)(uintptr_t)tag, res))
			break;
		else if (res >= 0)
			ent_serve((struct ent *)(uintptr_t)tag);
	}
	return NULL;
}

/* ---- start and stop ----------------------------------------------------------------------- */

/* The number of possible CPUs, which is the number of queues the kernel makes: the count of
 * /sys/devices/system/cpu/possible ("0-3", "0,2-5"). */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned n = 0, a, b;
	int c;

	if (!f)
		return 0;
	for (;;) {
		if (fscanf(f, "%u", &a) != 1)
			break;
		b = a;
		c = fgetc(f);
		if (c == '-') {
			if (fscanf(f, "%u", &b) != 1 || b < a)
				break;
			c = fgetc(f);
		}
		n += b - a + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	return n <= MAX_QUEUES ? n : 0;
}

static int worker_setup(struct worker *w, uint16_t qid)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SQE128 | IORING_SETUP_COOP_TASKRUN};
	int r;

	w->qid = qid;
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0)
		return -errno;
	if (!ent_add(w))
		return -ENOMEM;
	r = io_uring_queue_init_params(RING_SIZE, &w->ring, &p);
	if (r == -EINVAL) { /* a kernel without COOP_TASKRUN */
		p = (struct io_uring_params){.flags = IORING_SETUP_SQE128};
		r = io_uring_queue_init_params(RING_SIZE, &w->ring, &p);
	}
	w->ring_ok = r == 0;
	return r;
}

static void workers_free(void)
{
	pthread_mutex_lock(&ur.lock); /* no reply looks for an entry from now on */
	__atomic_store_n(&ur.n, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ur.lock);
	for (unsigned i = 0; i < ur.nalloc; i++) {
		struct worker *w = &ur.workers[i];

		if (w->ring_ok)
			io_uring_queue_exit(&w->ring); /* cancels what the kernel still holds */
		for (unsigned j = 0; j < w->nents; j++) {
			explicit_bzero(w->ents[j].mem, PREFIX + ur.payload_len); /* plaintext */
			munmap(w->ents[j].mem, PREFIX + ur.payload_len);
		}
		if (w->wake_fd >= 0)
			close(w->wake_fd);
	}
	free(ur.workers);
	ur.workers = NULL;
	ur.nalloc = 0;
	if (ur.decline_ok)
		io_uring_queue_exit(&ur.decline);
	ur.decline_ok = false;
	if (ur.stop_fd >= 0)
		close(ur.stop_fd);
	ur.stop_fd = -1;
}

/* Starts the workers with the stop signals blocked (they go to the main thread). */
static void threads_start(void)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (unsigned i = 0; i < ur.nalloc; i++) {
		struct worker *w = &ur.workers[i];

		w->thread_ok = pthread_create(&w->tid, NULL, worker_main, w) == 0;
		if (!w->thread_ok)
			report_registration(w, -EAGAIN);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Why the kernel did not offer the transport, for the log. */
static const char *why_not_offered(void)
{
	FILE *f = fopen(ENABLE_PARAM, "re");
	int c;

	if (!f)
		return "this kernel has no FUSE over io_uring (no " ENABLE_PARAM ")";
	c = fgetc(f);
	fclose(f);
	return c == 'Y' ? "the kernel did not offer it" : "it is disabled (" ENABLE_PARAM " is N)";
}

/* The rings, buffers and eventfds of every worker (no thread yet). 0 or -errno. */
static int setup_all(int dev_fd)
{
	unsigned queues = possible_cpus();
	int r = 0;

	if (!queues)
		return -ENODEV;
	ur.dev_fd = dev_fd;
	ur.payload_len = ur.max_payload;
	ur.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (ur.stop_fd < 0)
		return -errno;
	r = io_uring_queue_init(2, &ur.decline, IORING_SETUP_SQE128);
	if (r < 0)
		return r;
	ur.decline_ok = true;
	ur.queues = queues;
	ur.workers = calloc((size_t)queues * WORKERS_PER_QUEUE, sizeof(*ur.workers));
	if (!ur.workers)
		return -ENOMEM;
	for (unsigned q = 0; q < queues && r == 0; q++)
		for (unsigned i = 0; i < WORKERS_PER_QUEUE && r == 0; i++) {
			ur.workers[ur.nalloc].wake_fd = -1;
			r = worker_setup(&ur.workers[ur.nalloc++], (uint16_t)q);
		}
	return r;
}

/* Why the transport is not used, for the log. */
static const char *why_not_used(void)
{
	static char why[128];

	if (!ur.offered)
		return why_not_offered();
	if (ur.setup_err < 0) {
		snprintf(why, sizeof(why), "cannot set up a ring: %s", strerror(-ur.setup_err));
		return why;
	}
	return "the INIT reply was not sent";
}

/* Whether every CPU queue got at least one entry (the kernel then switches to the rings). */
static bool queues_covered(void)
{
	for (unsigned q = 0; q < ur.queues; q++) {
		bool any = false;

		for (unsigned i = 0; i < ur.nalloc; i++)
			any |= ur.workers[i].qid == q && ur.workers[i].registered;
		if (!any)
			return false;
	}
	return true;
}

/* Some queue got no entry (a worker's thread or submission failed): the kernel, holding
 * every request until each queue has one, gives the transport up only on a refused
 * registration, so one is made: an entry without its two buffers. False when the kernel
 * did not refuse it. */
static bool decline(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ur.decline);
	struct io_uring_cqe *cqe;
	int r;

	if (!sqe)
		return false;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = ur.dev_fd;
	sqe->cmd_op = ECFS_FUSE_IO_URING_CMD_REGISTER;
	sqe->len = 0; /* not the header and payload iovecs */
	r = io_uring_submit_and_wait(&ur.decline, 1);
	if (r < 0 || io_uring_peek_cqe(&ur.decline, &cqe) != 0)
		return false;
	r = cqe->res;
	io_uring_cqe_seen(&ur.decline, cqe);
	return r < 0;
}

void fs_uring_start(struct fuse_session *se)
{
	if (!ur.wanted)
		return;
	if (!ur.accepted) {
		fs_log(ur.setup_err < 0 ? LOG_WARNING : LOG_NOTICE,
		       "io_uring not used, serving through /dev/fuse: %s", why_not_used());
		return;
	}
	ur.se = se;
	/* Published before any entry registers: its first request may come at once. */
	pthread_mutex_lock(&ur.lock);
	__atomic_store_n(&ur.n, ur.nalloc, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ur.lock);
	threads_start();
	pthread_mutex_lock(&ur.lock);
	while (ur.reported < ur.nalloc)
		pthread_cond_wait(&ur.changed, &ur.lock);
	pthread_mutex_unlock(&ur.lock);
	if (ur.registered == ur.nalloc)
		fs_log(LOG_INFO, "serving through io_uring: %u queues of %u workers",
		       ur.nalloc / WORKERS_PER_QUEUE, WORKERS_PER_QUEUE);
	else if (queues_covered())
		fs_log(LOG_WARNING, "serving through io_uring with %u of %u workers: %s",
		       ur.registered, ur.nalloc, strerror(-ur.reg_err));
	else if (decline())
		fs_log(LOG_WARNING,
		       "io_uring not used, serving through /dev/fuse: %u of %u ring entries "
		       "failed: %s",
		       ur.nalloc - ur.registered, ur.nalloc, strerror(-ur.reg_err));
	else
		fs_log(LOG_ERR,
		       "io_uring: %u of %u ring entries failed (%s) and the kernel does not "
		       "give the transport up: requests may wait until the unmount",
		       ur.nalloc - ur.registered, ur.nalloc, strerror(-ur.reg_err));
}

void fs_uring_stop(void)
{
	uint64_t one = 1;

	if (!ur.nalloc)
		return;
	if (write(ur.stop_fd, &one, sizeof(one)) != sizeof(one))
		fs_log(LOG_WARNING, "io_uring: cannot stop the workers: %m");
	for (unsigned i = 0; i < ur.nalloc; i++)
		if (ur.workers[i].thread_ok)
			pthread_join(ur.workers[i].tid, NULL);
	workers_free();
}
