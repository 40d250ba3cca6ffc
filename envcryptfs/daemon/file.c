/* file.c - regular files as blobs: opening the backing file, the blob header and file key,
 * plaintext sizes, truncation, fallocate and SEEK_DATA/SEEK_HOLE through the chunk layout. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int file_open_backing(struct inode *inode, int flags)
{
	char proc[32];
	int pfd, fd, r;

	if (!S_ISREG(inode->type))
		return S_ISDIR(inode->type) ? -EISDIR : -EINVAL;
	pfd = inode_fd_get(inode);
	if (pfd < 0)
		return pfd;
	fs_proc_path(pfd, proc);
	/* Writes of partial chunks read the rest of the chunk: O_RDWR even for O_WRONLY. */
	fd = fs.read_only ? -1 : open(proc, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (fs.read_only || (flags & O_ACCMODE) == O_RDONLY))
		fd = open(proc, O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? -errno : fd;
	inode_fd_put(inode, pfd);
	return r;
}

/* Writes a new blob header to an empty blob, bound to place at (format 2); on a failure (a
 * full disk) the blob is left empty again, not holding part of a header. */
static int write_header(int fd, struct ecfs_blob_header *h, const struct ecfs_place *at)
{
	int r = ecfs_blob_header_init(fs.vol, h);

	if (r == 0 && at)
		r = bind_file_new(h, at);
	if (r == 0)
		r = ecfs_blob_header_write(fs.vol, fd, h);
	if (r < 0)
		(void)!ftruncate(fd, 0);
	return r;
}

/* Format 2: a blob size no plaintext has means bytes were cut or appended inside a chunk:
 * the header is not used. A header claiming more plaintext than the blob holds means the blob
 * was cut, or a power loss kept a raised size but not the data it covered (sizes are raised
 * at close without a sync): the file still opens, reads inside the blob succeed and reads
 * past it fail with EIO (file_read_check), stat shows the header's size. */
static int check_cut(struct inode *inode, const struct stat *st, const struct ecfs_blob_header *h)
{
	int64_t p = ecfs_plain_size(fs.vol, (uint64_t)st->st_size);

	if (p < 0)
		return ecfs_fail(-EUCLEAN, "a blob of %lld bytes is no whole number of chunks",
				 (long long)st->st_size);
	if (h->size > (uint64_t)p)
		file_log_cut(inode, h->size, (uint64_t)p);
	return 0;
}

static void note_header_locked(struct inode *inode, const struct ecfs_blob_header *h)
{
	inode->header_flags_known = true;
	inode->header_flags = h->flags;
}

void file_note_header(struct inode *inode, const struct ecfs_blob_header *h)
{
	pthread_mutex_lock(&inode->lock);
	note_header_locked(inode, h);
	pthread_mutex_unlock(&inode->lock);
}

/* Frees the file key and what goes with it; inode->lock held, and io exclusively or no
 * other user of the key. */
static void key_drop(struct inode *inode)
{
	if (!inode->content)
		return;
	ecfs_file_key_free(inode->content->key);
	inode->content->key = NULL;
	holes_drop(inode);
}

/* inode->content, made now if it is not yet; inode->lock held. NULL when out of memory. */
static struct inode_content *content_of(struct inode *inode)
{
	struct inode_content *c = inode->content;

	if (!c) {
		c = calloc(1, sizeof(*c));
		/* Published whole: inode_file_key reads it without the lock. */
		__atomic_store_n(&inode->content, c, __ATOMIC_RELEASE);
	}
	return c;
}

void file_content_free(struct inode *inode)
{
	if (!inode->content)
		return;
	ecfs_file_key_free(inode->content->key);
	ecfs_holes_free(&inode->content->holes);
	ecfs_holes_free(&inode->content->holes_filled);
	free(inode->content);
	inode->content = NULL;
}

/* What a 0-byte blob may become when its key is needed. */
enum key_need {
	KEY_READ,  /* reads: an empty format-1 file has no key yet */
	KEY_WRITE, /* writes: a format-1 file gets its header with the first write */
	KEY_NEW,   /* a file just made: it gets its header now */
};

/* What a caller of key_get knows and wants. */
struct key_req {
	enum key_need need;
	const struct ecfs_place *at; /* KEY_NEW: where the file was made */
	const struct stat *st;	     /* the blob's fstat under its io lock, when taken already */
	bool loaded;		     /* out: this call loaded the key */
};

/* Reads (or for a new file made at place q->at, writes) the header and derives the key;
 * inode->lock held. A format-2 blob always holds its header: without one it is damaged, not
 * empty. */
static int load_key(struct inode *inode, int fd, const struct key_req *q)
{
	bool v2 = ecfs_volume_format(fs.vol) >= 2, fresh = q->need == KEY_NEW, written = false;
	const struct stat *st = q->st;
	struct ecfs_file_key *key;
	struct ecfs_blob_header h;
	struct stat own;
	/* A file made just now (O_EXCL) is empty: nothing to read. */
	int r = fresh ? -ENODATA : ecfs_blob_header_read(fs.vol, fd, &h);

	if (r == -ENODATA && q->need == KEY_READ && !v2)
		return 0; /* an empty file without a header yet */
	if (r == -ENODATA && (fresh || !v2)) {
		r = write_header(fd, &h, fresh ? q->at : NULL);
		written = true;
	} else if (r == -ENODATA) {
		r = ecfs_fail(-EUCLEAN, "the blob is empty: a format-2 blob holds at least its "
					"header");
	}
	/* A header written now claims no more than the blob holds. */
	if (r == 0 && v2 && !written && !st) {
		st = &own;
		if (fstat(fd, &own) < 0)
			r = -errno;
	}
	if (r == 0 && v2 && !written)
		r = check_cut(inode, st, &h);
	if (r == 0)
		r = ecfs_file_key_new(fs.vol, h.file_id, &key);
	if (r == 0) {
		ecfs_file_key_set_tail_nonce(key, h.tail_nonce);
		inode->content->blob = h;
		/* Set last: getattr (io held shared, no lock) takes the header's size once it
		 * sees a key. */
		__atomic_store_n(&inode->content->key, key, __ATOMIC_RELEASE);
		note_header_locked(inode, &h);
		r = holes_load(inode, &h);
		if (r < 0)
			key_drop(inode);
		return r;
	}
	if (r == -EUCLEAN || r == -EPROTONOSUPPORT || r == -EBADMSG)
		fs_log_damage(inode, FS_DAMAGE_HEADER, "blob header: %s", ecfs_last_error());
	return r;
}

/* The file key, loaded now unless kept. */
static int key_get(struct inode *inode, int fd, struct key_req *q, const struct ecfs_file_key **key)
{
	int r = 0;

	pthread_mutex_lock(&inode->lock);
	q->loaded = !inode_file_key(inode);
	if (!content_of(inode))
		r = -ENOMEM;
	else if (q->loaded)
		r = load_key(inode, fd, q);
	*key = inode_file_key(inode);
	pthread_mutex_unlock(&inode->lock);
	return r;
}

int file_key(struct inode *inode, int fd, bool create, const struct ecfs_file_key **key)
{
	struct key_req q = {.need = create ? KEY_WRITE : KEY_READ};

	return key_get(inode, fd, &q, key);
}

int file_check_open(struct inode *inode, int fd, struct stat *st, bool *cut)
{
	const struct ecfs_file_key *key;
	struct key_req q = {.need = KEY_READ, .st = st};
	int r;

	/* Under io: no write moves the blob's size between this stat and the checks. */
	*cut = false;
	pthread_rwlock_rdlock(&inode->io);
	r = fstat(fd, st) < 0 ? -errno : 0;
	if (r < 0 || ecfs_volume_format(fs.vol) < 2) {
		pthread_rwlock_unlock(&inode->io);
		return r;
	}
	r = key_get(inode, fd, &q, &key);
	/* A key kept from before (another handle, a truncate) skipped the check on loading. */
	if (r == 0 && !q.loaded) {
		r = check_cut(inode, st, &inode->content->blob);
		if (r < 0)
			fs_log_damage(inode, FS_DAMAGE_HEADER, "blob header: %s",
				      ecfs_last_error());
	}
	/* Against the place this open came through (the inode's last lookup), not a cached one. */
	if (r == 0)
		r = bind_file_check(inode, &inode->content->blob);
	if (r == 0)
		*cut = file_is_cut(inode, st);
	pthread_rwlock_unlock(&inode->io);
	return r;
}

int file_header_read(struct inode *inode, struct ecfs_blob_header *h)
{
	char proc[32];
	int pfd = inode_fd_get(inode), fd, r;

	if (pfd < 0)
		return pfd;
	fs_proc_path(pfd, proc);
	fd = open(proc, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	inode_fd_put(inode, pfd);
	if (fd < 0)
		return -errno;
	r = ecfs_blob_header_read(fs.vol, fd, h);
	close(fd);
	return r;
}

/* Reads the file ID from the blob header of inode's backing file. */
static int read_file_id(struct inode *inode, uint8_t id[ECFS_FILE_ID_SIZE])
{
	struct ecfs_blob_header h;
	int r = file_header_read(inode, &h);

	if (r == 0)
		memcpy(id, h.file_id, ECFS_FILE_ID_SIZE);
	return r;
}

int file_id(struct inode *inode, uint8_t id[ECFS_FILE_ID_SIZE])
{
	int r = 0;

	/* Header updates hold io exclusively: never read one half written. */
	pthread_rwlock_rdlock(&inode->io);
	pthread_mutex_lock(&inode->lock);
	if (!inode->has_file_id) {
		r = read_file_id(inode, inode->file_id);
		inode->has_file_id = r == 0;
	}
	if (r == 0)
		memcpy(id, inode->file_id, ECFS_FILE_ID_SIZE);
	pthread_mutex_unlock(&inode->lock);
	pthread_rwlock_unlock(&inode->io);
	if (r == -ENODATA)
		r = ecfs_fail(-EUCLEAN, "a format-2 blob without a header");
	if (r == -EUCLEAN || r == -EPROTONOSUPPORT || r == -EBADMSG)
		fs_log_damage(inode, FS_DAMAGE_HEADER, "blob header: %s", ecfs_last_error());
	return r;
}

int file_opened(struct inode *inode)
{
	int r = 0;

	pthread_mutex_lock(&inode->lock);
	if (content_of(inode))
		inode->nopen++;
	else
		r = -ENOMEM;
	pthread_mutex_unlock(&inode->lock);
	return r;
}

/* Format 2: records size in the header of a file whose key (and header) is loaded; inode->io
 * held exclusively. */
static int set_header_size(struct inode *inode, int fd, uint64_t size)
{
	struct ecfs_blob_header h;
	int r;

	if (ecfs_volume_format(fs.vol) < 2 || !inode_file_key(inode) ||
	    inode->content->blob.size == size)
		return 0;
	h = inode->content->blob;
	/* A size that covers gaps skipped by writes comes after the map that lists them. */
	if (size > h.size && inode->content->holes_dirty) {
		r = holes_sync(inode, fd);
		if (r < 0)
			return r;
		h = inode->content->blob;
	}
	h.size = size;
	r = ecfs_blob_header_write(fs.vol, fd, &h);
	if (r == 0)
		inode->content->blob.size = size;
	return r;
}

/* Lowers the header's size to size and makes it durable before the blob is cut. */
static int shrink_header_size(struct inode *inode, int fd, uint64_t size)
{
	int r = set_header_size(inode, fd, size);

	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	return r;
}

int file_tail_sync(struct inode *inode, int fd)
{
	struct ecfs_blob_header h;
	uint8_t nonce[16];
	int r;

	if (!inode_file_key(inode))
		return 0;
	r = ecfs_file_key_tail_advance(inode->content->key, nonce);
	if (r <= 0)
		return r;
	h = inode->content->blob;
	memcpy(h.tail_nonce, nonce, sizeof(nonce));
	r = ecfs_blob_header_write(fs.vol, fd, &h);
	if (r == 0)
		inode->content->blob = h;
	else
		fs_log_damage(inode, FS_DAMAGE_HEADER, "cannot record the tail nonce: %s",
			      ecfs_strerror(r));
	return r;
}

/* Brings the header's size up to what a blob of blob_len bytes holds, through a descriptor
 * open for writing. */
static int raise_header_size(struct inode *inode, int fd, off_t blob_len)
{
	int64_t size;

	if (ecfs_volume_format(fs.vol) < 2 || !inode_file_key(inode))
		return 0;
	size = ecfs_plain_size(fs.vol, (uint64_t)blob_len);
	if (size < 0)
		return (int)size;
	/* Only up: a blob found shorter than its header says stays reported as cut. */
	if ((uint64_t)size > inode->content->blob.size)
		return set_header_size(inode, fd, (uint64_t)size);
	return 0;
}

int file_commit(struct inode *inode, int fd, bool writable)
{
	const struct ecfs_blob_header *h;
	struct kept_times times;
	uint64_t size;
	uint32_t generation;
	struct stat st;
	int r;

	/* Nothing to record: format 1, a file without a key, or a reader's close with no holes
	 * map to commit (which so costs no stat). */
	if (ecfs_volume_format(fs.vol) < 2 || !inode_file_key(inode) ||
	    (!writable && !holes_pending(inode)))
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	times_keep(&st, &times);
	h = &inode->content->blob;
	size = h->size;
	generation = h->holes_generation;
	/* The map first: the size then covers only gaps it lists. Only a handle open for
	 * writing can have grown the blob (the kernel writes back through those alone), and
	 * only it holds an O_RDWR descriptor (file_open_backing) to record the size with. The
	 * map's commit leaves the blob's length as it is. */
	r = holes_sync(inode, fd);
	if (r == 0 && writable)
		r = raise_header_size(inode, fd, st.st_size);
	/* The times go back when the header changed, or may have (a failure). */
	if (r < 0 || h->size != size || h->holes_generation != generation)
		times_put_back(fd, &times);
	return r;
}

void file_closed(struct inode *inode, int fd, bool writable)
{
	int r;

	pthread_rwlock_wrlock(&inode->io);
	r = file_commit(inode, fd, writable);
	if (r < 0 && writable)
		fs_log_damage(inode, FS_DAMAGE_SIZE, "cannot record the size at close: %s",
			      ecfs_strerror(r));
	pthread_mutex_lock(&inode->lock);
	if (--inode->nopen == 0)
		key_drop(inode);
	pthread_mutex_unlock(&inode->lock);
	pthread_rwlock_unlock(&inode->io);
}

int file_init_blob(struct inode *inode, int fd, const struct ecfs_place *at)
{
	const struct ecfs_file_key *key;
	int r;

	pthread_rwlock_wrlock(&inode->io);
	struct key_req q = {.need = KEY_NEW, .at = at};

	r = key_get(inode, fd, &q, &key);
	pthread_rwlock_unlock(&inode->io);
	return r;
}

int file_plain_size(int fd, uint64_t *size)
{
	struct stat st;
	int64_t s;

	if (fstat(fd, &st) < 0)
		return -errno;
	s = ecfs_plain_size(fs.vol, (uint64_t)st.st_size);
	if (s < 0)
		return (int)s;
	*size = (uint64_t)s;
	return 0;
}

/* A fresh header for inode's blob, bound to the place the inode was found at. */
static int fresh_header(struct inode *inode, struct ecfs_blob_header *h)
{
	char name[ECFS_ENCODED_NAME_MAX];
	struct ecfs_place at;
	int r = ecfs_blob_header_init(fs.vol, h);

	if (r == 0)
		r = names_get_place(inode, &at, name);
	if (r == 0)
		r = bind_file_new(h, &at);
	return r;
}

/* Makes a format-2 blob's header that of an empty file: size 0, no holes, no tail; the
 * file ID and names stay. A damaged header is replaced by a fresh one bound to the file's
 * place. */
static int empty_v2(struct inode *inode, int fd)
{
	struct ecfs_blob_header h;
	int r = ecfs_blob_header_read(fs.vol, fd, &h);
	bool sparse, shrink;

	if (r < 0)
		r = fresh_header(inode, &h);
	if (r < 0)
		return r;
	sparse = h.flags & ECFS_BLOB_SPARSE;
	shrink = h.size > 0;
	/* The holes generation moves past every map written for this file (one whose header
	 * write failed, or left by a crash, may be one ahead), so that no map saved before
	 * fits its header again once the file has holes again. */
	if (inode_file_key(inode) && inode->content->holes.generation > h.holes_generation)
		h.holes_generation = inode->content->holes.generation;
	if (inode->content && inode->content->holes_gen_floor > h.holes_generation)
		h.holes_generation = inode->content->holes_gen_floor;
	h.holes_generation++;
	h.flags &= ECFS_BLOB_LINKED;
	h.size = 0;
	memset(h.tail_nonce, 0, sizeof(h.tail_nonce));
	r = ecfs_blob_header_write(fs.vol, fd, &h);
	/* As in file_truncate: the smaller size is durable before the blob is cut. */
	if (r == 0 && shrink && fdatasync(fd) < 0)
		r = -errno;
	/* A map the header no longer names is only a leftover: fsck removes it. */
	if (r == 0 && sparse)
		(void)ecfs_holes_delete(fs.root->fd, h.file_id);
	return r;
}

int file_truncate(struct inode *inode, int fd, uint64_t size)
{
	const struct ecfs_file_key *key;
	struct ecfs_crypto *c = fs_crypto();
	uint64_t bad = 0, old = 0, cs = fs.chunk_size;
	int r;

	if (!c)
		return -ENOMEM;
	if (size == 0) {
		/* Back to an empty blob: the next write makes a new header and file ID, and a
		 * damaged header does not stand in the way of emptying a file. Format 2 keeps
		 * its header (a fresh one when it was damaged). */
		bool v2 = ecfs_volume_format(fs.vol) >= 2;

		r = v2 ? empty_v2(inode, fd) : 0;
		if (r == 0 && ftruncate(fd, v2 ? (off_t)ecfs_blob_header_size(fs.vol) : 0) < 0)
			r = -errno;
		if (r < 0)
			return r;
		pthread_mutex_lock(&inode->lock);
		key_drop(inode);
		pthread_mutex_unlock(&inode->lock);
		return 0;
	}
	r = file_key(inode, fd, true, &key);
	if (r == 0)
		r = file_plain_size(fd, &old);
	/* Growing: the chunks from the old end on are holes, the new partial last chunk too
	 * (the blob grows before it is written): it leaves the map at the next sync. */
	if (r == 0 && size > old)
		r = holes_allow(inode, fd, (old + cs - 1) / cs, (size + cs - 1) / cs);
	/* Format 2: the header's size comes down before the blob does, durably (a power loss
	 * must not keep the cut without the smaller size), and goes up after it, so that it
	 * never claims more than the blob holds. */
	if (r == 0 && size < inode->content->blob.size)
		r = shrink_header_size(inode, fd, size);
	/* Chunks to be cut off leave the map before the cut: zero chunks appended later must
	 * not be taken for listed holes. */
	if (r == 0 && size < old)
		r = holes_clip(inode, fd, (size + cs - 1) / cs);
	if (r == 0)
		r = ecfs_blob_truncate(c, key, fd, size, &bad);
	if (r == 0 && size > old && size % cs && size / cs >= (old + cs - 1) / cs)
		holes_note_written(inode, size / cs, size / cs + 1);
	if (r == 0)
		r = file_tail_sync(inode, fd);
	if (r == 0)
		r = set_header_size(inode, fd, size);
	if (r == -EBADMSG)
		fs_log_bad_chunk(inode, bad);
	return r;
}

/* Writes zeros over plaintext [off, end) through the chunk cipher. */
static int zero_range(struct inode *inode, int fd, uint64_t off, uint64_t end)
{
	const struct ecfs_file_key *key;
	struct ecfs_crypto *c = fs_crypto();
	uint64_t bad = 0;
	ssize_t n;
	void *zeros;
	int r;

	if (off >= end)
		return 0;
	if (!c)
		return -ENOMEM;
	r = file_key(inode, fd, true, &key);
	if (r < 0)
		return r;
	zeros = calloc(1, end - off);
	if (!zeros)
		return -ENOMEM;
	n = ecfs_blob_pwrite(c, key, fd, zeros, end - off, off, &bad);
	free(zeros);
	if (n >= 0)
		n = file_tail_sync(inode, fd);
	if (n == -EBADMSG)
		fs_log_bad_chunk(inode, bad);
	return n < 0 ? (int)n : 0;
}

/* Punches plaintext [off, off + len): the full chunks inside it become holes in the backing
 * file (an all-zero stored chunk reads as zeros), the ends are overwritten with zeros. A
 * partial last chunk is always written: a short XTS tail of zeros is not a hole. */
static int punch_hole(struct inode *inode, int fd, uint64_t off, uint64_t len)
{
	uint64_t cs = fs.chunk_size, size, end, first, last;
	int r = file_plain_size(fd, &size);

	if (r < 0 || off >= size)
		return r;
	end = len < size - off ? off + len : size;
	first = (off + cs - 1) / cs; /* first chunk starting inside the range */
	last = end / cs;	     /* chunks before it end inside the range */
	if (first >= last)
		return zero_range(inode, fd, off, end);
	r = file_key(inode, fd, true, &(const struct ecfs_file_key *){NULL});
	if (r == 0)
		r = holes_allow(inode, fd, first, last);
	if (r < 0)
		return r;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)ecfs_chunk_offset(fs.vol, first),
		      (off_t)(ecfs_chunk_offset(fs.vol, last) - ecfs_chunk_offset(fs.vol, first))) <
	    0)
		return -errno;
	r = zero_range(inode, fd, off, first * cs);
	if (r == 0)
		r = zero_range(inode, fd, last * cs, end);
	return r;
}

/* Gives back what a failed reservation may have left allocated past the blob's end [from,
 * to) (tmpfs undoes it itself, ext4 keeps what it got). */
static void give_back(int fd, uint64_t from, uint64_t to)
{
	if (to > from)
		(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from,
				(off_t)(to - from));
}

int file_fallocate(struct inode *inode, int fd, int mode, uint64_t off, uint64_t len)
{
	uint64_t size, end = off + len, b0, b1;
	int r;

	if (mode & FALLOC_FL_PUNCH_HOLE) {
		if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
			return -EOPNOTSUPP;
		return punch_hole(inode, fd, off, len);
	}
	if (mode & ~FALLOC_FL_KEEP_SIZE)
		return -EOPNOTSUPP;
	if (end < off || end > (uint64_t)INT64_MAX)
		return -EFBIG;
	r = file_plain_size(fd, &size);
	if (r < 0)
		return r;
	/* Reserve the stored chunks first, so that neither the growth below nor later writes
	 * run out of space, and a full disk fails the call before the size changes. A backing
	 * file system without fallocate only loses that guarantee. */
	b0 = ecfs_chunk_offset(fs.vol, off / fs.chunk_size);
	b1 = ecfs_blob_size(fs.vol, end);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)b0, (off_t)(b1 - b0)) < 0 &&
	    errno != EOPNOTSUPP) {
		r = -errno;
		give_back(fd, ecfs_blob_size(fs.vol, size), b1);
		return r;
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size)
		r = file_truncate(inode, fd, end);
	return r;
}

static uint64_t stored_chunk(void)
{
	return fs.chunk_size + ecfs_chunk_overhead(fs.vol);
}

/* The chunk holding backing offset b (the header counts as chunk 0). */
static uint64_t chunk_at(uint64_t b)
{
	uint64_t hdr = ecfs_blob_header_size(fs.vol);

	return b < hdr ? 0 : (b - hdr) / stored_chunk();
}

/* Where stored chunk idx of a plaintext of size bytes ends. */
static uint64_t chunk_end(uint64_t idx, uint64_t size)
{
	uint64_t next = ecfs_chunk_offset(fs.vol, idx + 1), blob = ecfs_blob_size(fs.vol, size);

	return next < blob ? next : blob;
}

static int seek_data(int fd, uint64_t off, uint64_t size, uint64_t *out)
{
	uint64_t idx = off / fs.chunk_size, k, p;
	off_t d = lseek(fd, (off_t)ecfs_chunk_offset(fs.vol, idx), SEEK_DATA);

	if (d < 0)
		return -errno; /* ENXIO: only holes from here on */
	/* Data anywhere in a stored chunk makes the whole chunk data. */
	k = chunk_at((uint64_t)d);
	p = k > idx ? k * fs.chunk_size : off;
	if (p >= size)
		return -ENXIO;
	*out = p;
	return 0;
}

/* The first chunk from idx on whose stored bytes lie entirely in a backing hole. */
static int seek_hole(int fd, uint64_t off, uint64_t size, uint64_t *out)
{
	uint64_t idx = off / fs.chunk_size, n = (size + fs.chunk_size - 1) / fs.chunk_size;
	uint64_t sc = stored_chunk(), blob = ecfs_blob_size(fs.vol, size), j;
	uint64_t hdr = ecfs_blob_header_size(fs.vol);
	off_t h, d;

	while (idx < n) {
		h = lseek(fd, (off_t)ecfs_chunk_offset(fs.vol, idx), SEEK_HOLE);
		if (h < 0)
			return -errno;
		if ((uint64_t)h >= blob)
			break;
		d = lseek(fd, h, SEEK_DATA);
		if (d < 0 && errno != ENXIO)
			return -errno;
		if (d < 0)
			d = INT64_MAX;
		j = (uint64_t)h <= hdr ? 0 : ((uint64_t)h - hdr + sc - 1) / sc;
		if (j < n && chunk_end(j, size) <= (uint64_t)d) {
			*out = j * fs.chunk_size > off ? j * fs.chunk_size : off;
			return 0;
		}
		if (d == INT64_MAX)
			break;
		idx = chunk_at((uint64_t)d) > idx ? chunk_at((uint64_t)d) : idx + 1;
	}
	*out = size; /* the hole every file has at its end */
	return 0;
}

int file_seek(struct inode *inode, int fd, uint64_t off, int whence, uint64_t *out)
{
	uint64_t size;
	int r = file_plain_size(fd, &size);

	(void)inode;
	if (r < 0)
		return r;
	if (off >= size)
		return -ENXIO;
	return whence == SEEK_DATA ? seek_data(fd, off, size, out) : seek_hole(fd, off, size, out);
}
