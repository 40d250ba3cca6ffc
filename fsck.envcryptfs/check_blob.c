/* SPDX-License-Identifier: MIT */
/*
 * check_blob.c - pass 3: every blob's header, size and chunks. The walking thread checks the
 * size and queues jobs (a file, or an 8 MiB piece of a large one) on a small bounded queue;
 * worker threads, each with its own crypto context, read in large sequential preads and
 * authenticate every stored chunk.
 */
#include "fsck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUEUE_CAP	  8	     /* jobs waiting: bounds memory and open files */
#define SEGMENT_BYTES	  (8u << 20) /* a larger file is split so both workers read it */
#define READ_BYTES	  (1u << 20) /* one pread; whole stored chunks */
#define MAX_CHUNK_REPORTS 10	     /* per file; the rest are counted in one line */
/* Up to this chunk size a failing chunk is tried at every shorter length, to find the chunk
 * it was before an interrupted write grew it in place (one decryption per length: about
 * 2 GiB of cipher work per failing chunk at 64 KiB). */
#define PREFIX_SEARCH_MAX (64u * 1024u)
#define NONCE_BYTES	  12

/* One regular file, shared by its jobs; the last job to finish releases it. */
struct blob {
	atomic_int refs;
	char *path, *backing;
	uint64_t size;	    /* backing size when queued (after a size repair) */
	uint64_t nchunks;   /* stored chunks to check */
	uint64_t zero_tail; /* unlisted zero chunks from here on are reported already */
	atomic_uint bad;    /* chunks that failed authentication */
};

struct job {
	struct blob *b;
	int fd;
	uint64_t first, count; /* stored chunks [first, first + count) */
};

struct blob_pool {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct job q[QUEUE_CAP];
	size_t head, n;
	bool closed;
	pthread_t *threads;
	int nthreads;
	struct fsck *f;
};

struct worker {
	struct fsck *f;
	struct ecfs_crypto *crypto; /* NULL: contents are not verified */
	uint8_t *buf, *plain;
	size_t buf_len;
};

/* ---- the queue ---------------------------------------------------------------------- */

static void pool_push(struct blob_pool *p, const struct job *j)
{
	pthread_mutex_lock(&p->mu);
	while (p->n == QUEUE_CAP)
		pthread_cond_wait(&p->not_full, &p->mu);
	p->q[(p->head + p->n) % QUEUE_CAP] = *j;
	p->n++;
	pthread_cond_signal(&p->not_empty);
	pthread_mutex_unlock(&p->mu);
}

static bool pool_pop(struct blob_pool *p, struct job *j)
{
	pthread_mutex_lock(&p->mu);
	while (p->n == 0 && !p->closed)
		pthread_cond_wait(&p->not_empty, &p->mu);
	if (p->n == 0) {
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	*j = p->q[p->head];
	p->head = (p->head + 1) % QUEUE_CAP;
	p->n--;
	pthread_cond_signal(&p->not_full);
	pthread_mutex_unlock(&p->mu);
	return true;
}

/* ---- blobs ---------------------------------------------------------------------------- */

static struct blob *blob_new(const char *path, const char *backing, uint64_t size)
{
	struct blob *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->path = strdup(path);
	b->backing = strdup(backing);
	b->size = size;
	b->zero_tail = UINT64_MAX;
	atomic_init(&b->refs, 1);
	if (!b->path || !b->backing) {
		free(b->path);
		free(b->backing);
		free(b);
		return NULL;
	}
	return b;
}

static void more_bad_chunks(struct fsck *f, struct blob *b, unsigned extra)
{
	char detail[128];

	snprintf(detail, sizeof(detail), "%u more after the first %d", extra, MAX_CHUNK_REPORTS);
	fsck_problem(f,
		     problem_of(PASS_BLOB, b->path, b->backing, "chunk-auth",
				"chunks fail authentication", detail),
		     NULL);
}

static void blob_put(struct fsck *f, struct blob *b)
{
	unsigned bad;

	if (atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	bad = atomic_load(&b->bad);
	if (bad > MAX_CHUNK_REPORTS)
		more_bad_chunks(f, b, bad - MAX_CHUNK_REPORTS);
	atomic_fetch_add(&f->n.files, 1);
	report_checked(f, b->path);
	free(b->path);
	free(b->backing);
	free(b);
}

/* ---- a worker's checks ---------------------------------------------------------------- */

static void truncated_tail(struct worker *w, struct job *j, uint64_t idx, size_t len)
{
	struct fsck *f = w->f;
	bool v2 = ecfs_volume_format(f->vol) >= 2;
	struct fix_at at = {
	    .fd = j->fd, .size = ecfs_chunk_offset(f->vol, idx), .vol = v2 ? f->vol : NULL};
	uint64_t off = idx * ecfs_chunk_size(f->vol);
	char detail[300], done[100];
	struct fix fx;

	snprintf(detail, sizeof(detail),
		 "chunk %llu at plaintext offset %llu has %zu of %llu stored bytes and does "
		 "not authenticate: the blob was cut inside a stored chunk",
		 (unsigned long long)idx, (unsigned long long)off, len,
		 (unsigned long long)ecfs_stored_chunk_size(f->vol));
	snprintf(done, sizeof(done), "truncated to the last whole chunk (plaintext size %llu)",
		 (unsigned long long)off);
	fx = fix_of(FIX_LOSSY, "Truncate it to the last whole chunk", done, fix_truncate, &at);
	fsck_problem(f,
		     problem_chunk(PASS_BLOB, j->b->path, j->b->backing, "blob-truncated",
				   "blob is truncated", detail, (int64_t)idx, (int64_t)off),
		     &fx);
}

/* The stored length shorter than n at which stored chunk idx authenticates, its plaintext
 * left in w->plain: the chunk as it was before a write that grew it was interrupted (the
 * daemon writes the new bytes past the old ones first). 0 when there is none. */
static size_t old_length(struct worker *w, const struct ecfs_file_key *k, uint64_t idx,
			 const uint8_t *stored, size_t n)
{
	static const uint8_t zero_nonce[NONCE_BYTES];
	size_t over = ecfs_chunk_overhead(w->f->vol);

	/* XTS chunks do not authenticate; a zero nonce is a hole, not a chunk. */
	if (over <= NONCE_BYTES || ecfs_chunk_size(w->f->vol) > PREFIX_SEARCH_MAX ||
	    memcmp(stored, zero_nonce, NONCE_BYTES) == 0)
		return 0;
	for (size_t len = over + 1; len < n; len++)
		if (ecfs_chunk_decrypt(w->crypto, k, idx, stored, len, w->plain) >= 0)
			return len;
	return 0;
}

/* Rewriting a chunk that holds an interrupted write: its old plaintext, zeros after it. */
struct interrupted {
	struct ecfs_crypto *crypto;
	const struct ecfs_file_key *k;
	int fd;
	uint64_t idx, at; /* chunk index and backing offset */
	uint8_t *plain;	  /* old plaintext (keep bytes), room for len */
	size_t keep, len; /* plaintext kept, plaintext length */
	size_t sc, over;  /* stored chunk size, bytes a stored chunk adds */
};

static int fix_interrupted(void *arg)
{
	struct interrupted *in = arg;
	uint8_t *out = malloc(in->sc);
	int r;

	if (!out)
		return -ENOMEM;
	memset(in->plain + in->keep, 0, in->len - in->keep);
	r = ecfs_chunk_encrypt(in->crypto, in->k, in->idx, in->plain, in->len, out);
	if (r == 0)
		r = ecfs_pwrite_full(in->fd, out, in->len + in->over, in->at);
	if (r == 0 && fsync(in->fd) < 0)
		r = -errno;
	free(out);
	return r;
}

/* Chunk idx (n stored bytes) authenticates at the shorter length old: reports an interrupted
 * write and offers to keep the old bytes, zeros standing for the unfinished ones. */
static void interrupted_write(struct worker *w, struct job *j, const struct ecfs_file_key *k,
			      uint64_t idx, size_t old, size_t n)
{
	struct fsck *f = w->f;
	size_t over = ecfs_chunk_overhead(f->vol);
	uint64_t off = idx * ecfs_chunk_size(f->vol);
	struct interrupted in = {.crypto = w->crypto,
				 .k = k,
				 .fd = j->fd,
				 .idx = idx,
				 .at = ecfs_chunk_offset(f->vol, idx),
				 .plain = w->plain,
				 .keep = old - over,
				 .len = n - over,
				 .sc = (size_t)ecfs_stored_chunk_size(f->vol),
				 .over = over};
	char detail[300];
	struct fix fx;

	snprintf(detail, sizeof(detail),
		 "chunk %llu at plaintext offset %llu: plaintext bytes %llu-%llu are as stored "
		 "before, bytes %llu-%llu belong to a write that did not finish",
		 (unsigned long long)idx, (unsigned long long)off, (unsigned long long)off,
		 (unsigned long long)(off + in.keep - 1), (unsigned long long)(off + in.keep),
		 (unsigned long long)(off + in.len - 1));
	fx = fix_of(FIX_SAFE, "Keep the stored bytes and zero the unfinished ones",
		    "rewritten with the stored bytes and zeros", fix_interrupted, &in);
	fx.needs_key = true;
	fsck_problem(f,
		     problem_chunk(PASS_BLOB, j->b->path, j->b->backing, "interrupted-write",
				   "chunk holds an interrupted write", detail, (int64_t)idx,
				   (int64_t)off),
		     &fx);
}

static void bad_chunk(struct worker *w, struct job *j, uint64_t idx)
{
	uint64_t off = idx * ecfs_chunk_size(w->f->vol);
	char detail[160];

	if (atomic_fetch_add(&j->b->bad, 1) >= MAX_CHUNK_REPORTS)
		return;
	snprintf(detail, sizeof(detail),
		 "chunk %llu at plaintext offset %llu (backing offset %llu)",
		 (unsigned long long)idx, (unsigned long long)off,
		 (unsigned long long)ecfs_chunk_offset(w->f->vol, idx));
	fsck_problem(w->f,
		     problem_chunk(PASS_BLOB, j->b->path, j->b->backing, "chunk-auth",
				   "chunk fails authentication", detail, (int64_t)idx,
				   (int64_t)off),
		     NULL);
}

/* Authenticates the stored chunks in buf (len bytes from chunk first). */
static void verify_buffer(struct worker *w, struct job *j, const struct ecfs_file_key *k,
			  uint64_t first, size_t len)
{
	size_t sc = (size_t)ecfs_stored_chunk_size(w->f->vol);

	for (size_t o = 0; o < len; o += sc) {
		uint64_t idx = first + o / sc;
		size_t n = len - o < sc ? len - o : sc;
		int r = ecfs_chunk_decrypt(w->crypto, k, idx, w->buf + o, n, w->plain);
		size_t old;

		if (r >= 0 ||
		    (idx >= j->b->zero_tail && ecfs_chunk_is_hole(w->f->vol, w->buf + o, n)))
			continue;
		if (r != -EBADMSG && r != -EUCLEAN)
			fsck_operr(w->f, PASS_BLOB, j->b->path, j->b->backing,
				   "chunk %llu cannot be checked: %s", (unsigned long long)idx,
				   ecfs_strerror(r));
		else if (atomic_load(&j->b->bad) < MAX_CHUNK_REPORTS &&
			 (old = old_length(w, k, idx, w->buf + o, n)) != 0)
			interrupted_write(w, j, k, idx, old, n);
		else if (idx == j->b->nchunks - 1 && n < sc)
			truncated_tail(w, j, idx, n);
		else
			bad_chunk(w, j, idx);
	}
}

/* Reads the job's chunks in large sequential preads. One hint that the range is read in
 * order (a larger readahead window) measured faster than asking for each next piece. */
static void verify_chunks(struct worker *w, struct job *j, const struct ecfs_file_key *k)
{
	struct fsck *f = w->f;
	uint64_t sc = ecfs_stored_chunk_size(f->vol), pos = ecfs_chunk_offset(f->vol, j->first);
	uint64_t stop = ecfs_chunk_offset(f->vol, j->first + j->count);

	if (stop > j->b->size)
		stop = j->b->size;
	posix_fadvise(j->fd, (off_t)pos, (off_t)(stop - pos), POSIX_FADV_SEQUENTIAL);
	while (pos < stop && !fsck_cancelled) {
		size_t len = stop - pos < w->buf_len ? (size_t)(stop - pos) : w->buf_len;
		ssize_t got = ecfs_pread_full(j->fd, w->buf, len, pos);

		if (got != (ssize_t)len) {
			fsck_operr(f, PASS_BLOB, j->b->path, j->b->backing, "cannot read: %s",
				   got < 0 ? ecfs_strerror((int)got)
					   : "it shrank during the check");
			return;
		}
		verify_buffer(w, j, k, (pos - ecfs_blob_header_size(f->vol)) / sc, len);
		atomic_fetch_add(&f->n.bytes, len);
		pos += len;
	}
}

static void bad_header(struct worker *w, struct job *j, const char *why)
{
	fsck_problem(w->f,
		     problem_of(PASS_BLOB, j->b->path, j->b->backing, "blob-header",
				"blob header is damaged", why),
		     NULL);
}

/* The holes map of a SPARSE format-2 file; its problems are reported once, by the job that
 * checks the file's first chunks. */
static int load_holes(struct worker *w, struct job *j, const struct ecfs_blob_header *h,
		      struct ecfs_holes *out)
{
	char detail[300];
	int r;

	if (ecfs_volume_format(w->f->vol) < 2 || !(h->flags & ECFS_BLOB_SPARSE))
		return -ENOENT;
	r = ecfs_holes_load(w->f->vol, ecfs_volume_dirfd(w->f->vol), h, out);
	if (r < 0 && j->first == 0) {
		snprintf(detail, sizeof(detail), "%s; its holes read as damage", ecfs_last_error());
		fsck_problem(w->f,
			     problem_of(PASS_BLOB, j->b->path, j->b->backing, "holes-map",
					"holes map is missing or damaged", detail),
			     NULL);
	}
	return r;
}

/* Format 2: a header whose size runs past what the blob holds (a cut blob, or a power loss
 * that kept a raised size but not the data). The mount reads such a file up to where the
 * blob ends and fails past it; -y accepts the loss and records the size the blob holds. */
static void check_cut(struct worker *w, struct job *j, const struct ecfs_blob_header *h)
{
	struct fsck *f = w->f;
	int64_t p = ecfs_plain_size(f->vol, j->b->size);
	struct fix_at at = {.fd = j->fd, .vol = f->vol};
	char detail[300], done[100];
	struct fix fx;

	if (p < 0 || h->size <= (uint64_t)p)
		return;
	at.size = (uint64_t)p;
	snprintf(detail, sizeof(detail),
		 "the header says %llu bytes, the blob holds %lld (cut, or a power loss kept the "
		 "size but not the data); bytes %lld-%llu are lost",
		 (unsigned long long)h->size, (long long)p, (long long)p,
		 (unsigned long long)h->size - 1);
	snprintf(done, sizeof(done), "size set to %lld bytes, what the blob holds", (long long)p);
	fx = fix_of(FIX_LOSSY, "Set the size to what the blob holds", done, fix_blob_size, &at);
	fx.needs_key = true;
	fsck_problem(f,
		     problem_of(PASS_BLOB, j->b->path, j->b->backing, "blob-cut",
				"file is cut short", detail),
		     &fx);
}

static void check_job(struct worker *w, struct job *j)
{
	struct fsck *f = w->f;
	uint8_t hdr[ECFS_BLOB_HEADER_MAX];
	struct ecfs_blob_header h;
	struct ecfs_holes holes = {0};
	struct ecfs_file_key *k = NULL;
	uint64_t start = ecfs_chunk_offset(f->vol, j->first);
	uint64_t stop = ecfs_chunk_offset(f->vol, j->first + j->count);
	ssize_t got = ecfs_pread_full(j->fd, hdr, ecfs_blob_header_size(f->vol), 0);
	int r = got < 0 ? (int)got : ecfs_blob_header_decode(f->vol, hdr, (size_t)got, &h);

	if (got >= 0 && r < 0 && j->first == 0)
		bad_header(w, j, ecfs_last_error());
	else if (got < 0 && j->first == 0)
		fsck_operr(f, PASS_BLOB, j->b->path, j->b->backing, "cannot read: %s",
			   ecfs_strerror((int)got));
	if (r == 0 && j->first == 0 && f->have_key && ecfs_volume_format(f->vol) >= 2)
		check_cut(w, j, &h);
	if (r == 0 && w->crypto) {
		r = ecfs_file_key_new(f->vol, h.file_id, &k);
		if (r < 0)
			fsck_operr(f, PASS_BLOB, j->b->path, j->b->backing,
				   "cannot derive the file key: %s", ecfs_strerror(r));
	}
	if (r == 0 && k) {
		/* Without a usable map no hole is allowed: each reads as damage, as it does
		 * through the mount. */
		if (load_holes(w, j, &h, &holes) == 0)
			ecfs_file_key_set_holes(k, &holes);
		verify_chunks(w, j, k);
		ecfs_file_key_free(k);
		ecfs_holes_free(&holes);
		return;
	}
	/* Nothing to decrypt: the range counts as examined. */
	if (stop > j->b->size)
		stop = j->b->size;
	atomic_fetch_add(&f->n.bytes, stop > start ? stop - start : 0);
}

static int worker_init(struct worker *w, struct fsck *f)
{
	uint64_t sc = ecfs_stored_chunk_size(f->vol);

	memset(w, 0, sizeof(*w));
	w->f = f;
	w->buf_len = (size_t)((READ_BYTES / sc ? READ_BYTES / sc : 1) * sc);
	w->buf = malloc(w->buf_len);
	w->plain = malloc(ecfs_chunk_size(f->vol));
	if (!w->buf || !w->plain)
		return -ENOMEM;
	return f->verify_chunks ? ecfs_crypto_new(f->vol, &w->crypto) : 0;
}

static void *worker_main(void *arg)
{
	struct blob_pool *p = arg;
	struct worker w;
	struct job j;
	int r = worker_init(&w, p->f);

	if (r < 0)
		fsck_operr(p->f, PASS_BLOB, p->f->o.dir, p->f->o.dir,
			   "a checking thread cannot start: %s", ecfs_strerror(r));
	/* After a cancel the queue is still drained, so that the walker never waits. */
	while (pool_pop(p, &j)) {
		if (r == 0 && !fsck_cancelled)
			check_job(&w, &j);
		close(j.fd);
		blob_put(p->f, j.b);
	}
	ecfs_crypto_free(w.crypto);
	free(w.buf);
	free(w.plain);
	return NULL;
}

/* ---- the walking thread's side -------------------------------------------------------- */

/* Checks that the size fits the chunking; offers to cut a cut-off tail (-y). Returns the
 * size after any repair and sets *whole to the stored chunks to check. */
static uint64_t check_size(struct fsck *f, struct blob *b, int fd, uint64_t size, uint64_t *whole)
{
	uint64_t sc = ecfs_stored_chunk_size(f->vol), hdr = ecfs_blob_header_size(f->vol);
	uint64_t body = size > hdr ? size - hdr : 0;
	uint64_t keep = size < hdr ? 0 : ecfs_chunk_offset(f->vol, body / sc);
	struct fix_at at = {.fd = fd, .size = keep};
	char detail[300], done[100];
	struct fix fx;

	*whole = (body + sc - 1) / sc;
	if (size == 0 || ecfs_plain_size(f->vol, size) >= 0)
		return size;
	*whole = body / sc;
	if (size < hdr)
		snprintf(detail, sizeof(detail), "%llu bytes, less than the %llu-byte blob header",
			 (unsigned long long)size, (unsigned long long)hdr);
	else
		snprintf(detail, sizeof(detail),
			 "%llu bytes: %llu bytes after the last whole stored chunk, too few for a "
			 "chunk (more than %u)",
			 (unsigned long long)size, (unsigned long long)(size - keep),
			 ecfs_chunk_overhead(f->vol));
	snprintf(done, sizeof(done), "truncated to %llu bytes", (unsigned long long)keep);
	fx = fix_of(FIX_LOSSY, "Truncate it to the last whole chunk", done, fix_truncate, &at);
	if (fsck_problem(f,
			 problem_of(PASS_BLOB, b->path, b->backing, "blob-size",
				    "blob size is not a valid encrypted size", detail),
			 &fx))
		return keep;
	/* The cut-off tail is examined, not decrypted; a runt under a header counts as one. */
	if (size >= hdr)
		atomic_fetch_add(&f->n.bytes, size - keep);
	return size;
}

/* Queues the jobs of b, the first on fd and each further piece on its own descriptor, so
 * that each keeps its own readahead. */
static void queue_jobs(struct fsck *f, struct blob *b, int fd, int dirfd, const char *disk,
		       bool writable)
{
	uint64_t seg = SEGMENT_BYTES / ecfs_stored_chunk_size(f->vol)
			   ? SEGMENT_BYTES / ecfs_stored_chunk_size(f->vol)
			   : 1;
	uint64_t first = 0;

	do {
		struct job j = {b, fd, first, b->nchunks - first < seg ? b->nchunks - first : seg};

		if (first > 0)
			j.fd = open_entry(dirfd, disk, 0, writable, NULL);
		if (j.fd < 0) {
			fsck_operr(f, PASS_BLOB, b->path, b->backing, "cannot open: %s",
				   strerror(-j.fd));
			return;
		}
		atomic_fetch_add(&b->refs, 1);
		pool_push(f->pool, &j);
		first += j.count;
	} while (first < b->nchunks && !fsck_cancelled);
}

void blob_submit(struct fsck *f, int dirfd, const char *disk, const char *path, const char *backing)
{
	bool want_write = f->o.mode != MODE_NO, writable;
	int fd = open_entry(dirfd, disk, 0, want_write, &writable);
	uint64_t hdr = ecfs_blob_header_size(f->vol), size;
	struct blob *b;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fsck_operr(f, PASS_BLOB, path, backing, "cannot open: %s",
			   strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	b = blob_new(path, backing, (uint64_t)st.st_size);
	if (!b) {
		close(fd);
		fsck_operr(f, PASS_BLOB, path, backing, "out of memory");
		return;
	}
	b->size = check_size(f, b, fd, b->size, &b->nchunks);
	size = tail_check(f, fd, path, backing, b->size, &b->zero_tail);
	if (size != b->size) /* cut back at a chunk boundary */
		b->nchunks = (size - hdr) / ecfs_stored_chunk_size(f->vol);
	b->size = size;
	atomic_fetch_add(&f->n.bytes, b->size < hdr ? b->size : hdr);
	if (b->size >= hdr)
		queue_jobs(f, b, fd, dirfd, disk, writable);
	else
		close(fd);
	blob_put(f, b);
}

int blob_pool_start(struct fsck *f, int nthreads)
{
	struct blob_pool *p = calloc(1, sizeof(*p));
	sigset_t all, old;

	if (!p)
		return -ENOMEM;
	p->f = f;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->not_empty, NULL);
	pthread_cond_init(&p->not_full, NULL);
	p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
	f->pool = p;
	if (!p->threads)
		return -ENOMEM;
	/* Signals go to the walking thread, whose blocking calls they must interrupt. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; p->nthreads < nthreads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, p) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p->nthreads > 0 ? 0 : -EAGAIN;
}

void blob_pool_finish(struct fsck *f)
{
	struct blob_pool *p = f->pool;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->closed = true;
	pthread_cond_broadcast(&p->not_empty);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->not_empty);
	pthread_cond_destroy(&p->not_full);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
	f->pool = NULL;
}
