/* SPDX-License-Identifier: MIT */
/*
 * crashload.c - a seeded random file-system workload for crash tests, and its checker.
 *
 *   crashload run DIR JOURNAL SEED [OPS]
 *   crashload verify DIR JOURNAL
 *
 * run makes DIR (and DIR/sub) and then creates, writes, appends, truncates, renames, hard
 * links, unlinks, sets an xattr on and fsyncs a small set of names, OPS operations (then it
 * syncs everything) or until the file system goes away (the daemon was killed). JOURNAL, which must
 * be outside the file system under test, says what may be expected of each name afterwards, one
 * line per change, fsynced before the change is made (D) or once it is durable (S, A):
 *
 *   D NAME                       NAME is in flight: the change made next is not yet synced
 *   S NAME SIZE HASH XATTR       NAME's contents and xattr are durable (fsync of the file and
 *                                of both directories)
 *   A NAME                       NAME's absence is durable
 *
 * verify checks DIR against the last line for each name: S names read exactly, A names are
 * absent, D names are absent or read as blocks some write put at that offset (or zeros),
 * or fail with a clear error; nothing else is in DIR. Every write and truncate is in whole
 * blocks, and each block names its offset and carries its own checksum, so bytes from
 * anywhere else (a torn or misplaced chunk, garbage) are caught.
 *
 * Exit status: 0 all is well (run: the operations are done, or the file system went away
 * with ENOTCONN or ECONNABORTED), 1 a check failed or an unexpected error, 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define BLOCK	   256	       /* every write and truncate is in whole blocks */
#define MAX_SIZE   (64 * 1024) /* a file's largest size */
#define MAX_INODES 4096	       /* files created in one run */
#define XATTR	   "user.crashload"

static const char *const names[] = {"a",     "b",     "c",     "d",	"e",	 "f",
				    "sub/g", "sub/h", "sub/i", "sub/j", "sub/k", "sub/l"};
#define NNAMES (sizeof(names) / sizeof(names[0]))

/* ---- blocks and xattr values that check themselves ---------------------------------------- */

static uint64_t fnv64(const void *p, size_t len, uint64_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A block: "ECLB", file id, offset, generation, filler from those, then a checksum. */
struct block_head {
	char magic[4];
	uint32_t id;
	uint64_t offset;
	uint32_t gen;
	uint32_t pad;
};

static void make_block(uint8_t *b, uint32_t id, uint64_t offset, uint32_t gen)
{
	struct block_head h = {{'E', 'C', 'L', 'B'}, id, offset, gen, 0};
	uint64_t s = fnv64(&h, sizeof(h), FNV_INIT) | 1, sum;

	memcpy(b, &h, sizeof(h));
	for (size_t i = sizeof(h); i < BLOCK - 8; i += 8) {
		uint64_t r = xorshift(&s);

		memcpy(b + i, &r, 8);
	}
	sum = fnv64(b, BLOCK - 8, FNV_INIT);
	memcpy(b + BLOCK - 8, &sum, 8);
}

/* Whether b is a block some write put at offset, or a hole's zeros. */
static bool block_plausible(const uint8_t *b, uint64_t offset)
{
	static const uint8_t zero[BLOCK];
	struct block_head h;
	uint64_t sum;

	if (memcmp(b, zero, BLOCK) == 0)
		return true;
	memcpy(&h, b, sizeof(h));
	memcpy(&sum, b + BLOCK - 8, 8);
	return memcmp(h.magic, "ECLB", 4) == 0 && h.offset == offset &&
	       sum == fnv64(b, BLOCK - 8, FNV_INIT);
}

struct xval {
	uint32_t id, gen;
	uint64_t sum;
};

static struct xval make_xval(uint32_t id, uint32_t gen)
{
	struct xval x = {id, gen, 0};

	x.sum = fnv64(&x, 8, FNV_INIT);
	return x;
}

/* ---- errors ------------------------------------------------------------------------------- */

static long ops_done; /* by run, for its last words */

static bool gone(int err)
{
	return err == ENOTCONN || err == ECONNABORTED;
}

static int dirfd_top = -1;

/* Whether the file system under test still answers: statfs always reaches the daemon. */
static bool fs_gone(void)
{
	struct statfs sf;

	return dirfd_top >= 0 && fstatfs(dirfd_top, &sf) < 0 && gone(errno);
}

/* A failure of a system call on the file system under test: exit 0 when the file system went
 * away (the crash the test made), else 1. Writes the kernel had cached fail with EIO when the
 * daemon dies before they reach it, so any error is first checked against a dead daemon. */
static void __attribute__((noreturn)) die_errno(const char *what, const char *name)
{
	int e = errno;

	if (gone(e) || fs_gone()) {
		printf("crashload: the file system went away after %ld operations, during %s of "
		       "'%s' (%s)\n",
		       ops_done, what, name, strerror(e));
		exit(0);
	}
	fprintf(stderr, "crashload: %s '%s': %s\n", what, name, strerror(e));
	exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("crashload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- the model of what run has done ------------------------------------------------------- */

struct inode {
	uint8_t *data;
	size_t size;
	uint32_t xgen; /* 0: no xattr */
	int nlink;
	bool dirty; /* contents or xattr changed since its last fsync */
};

static struct inode inodes[MAX_INODES];
static int ninodes;
static int name_ino[NNAMES];	   /* -1: absent */
static bool entry_dirty[NNAMES];   /* created, renamed, linked or unlinked since the last sync */
static bool journal_clean[NNAMES]; /* the journal's last line for the name is S or A */
static int dirfd_sub, journal_fd;
static uint64_t rng;

static uint32_t pick(uint32_t n)
{
	return (uint32_t)(xorshift(&rng) % n);
}

static void journal(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(journal_fd, line, (size_t)n) != n || fdatasync(journal_fd) < 0)
		die("cannot write the journal: %s", strerror(errno));
}

static bool name_clean(size_t n)
{
	return !entry_dirty[n] && (name_ino[n] < 0 || !inodes[name_ino[n]].dirty);
}

/* Before a change: every name it touches goes in flight in the journal first. */
static void mark_entry(size_t n)
{
	if (journal_clean[n])
		journal("D %s\n", names[n]);
	journal_clean[n] = false;
	entry_dirty[n] = true;
}

static void mark_inode(int ino)
{
	for (size_t n = 0; n < NNAMES; n++)
		if (name_ino[n] == ino && journal_clean[n]) {
			journal("D %s\n", names[n]);
			journal_clean[n] = false;
		}
	inodes[ino].dirty = true;
}

static uint64_t xattr_hash(const struct inode *i, uint32_t id)
{
	struct xval x;

	if (!i->xgen)
		return 0;
	x = make_xval(id, i->xgen);
	return fnv64(&x, sizeof(x), FNV_INIT);
}

/* After a sync: the names that are now clean say so, with what they hold. */
static void journal_clean_names(void)
{
	for (size_t n = 0; n < NNAMES; n++) {
		int ino = name_ino[n];

		if (journal_clean[n] || !name_clean(n))
			continue;
		if (ino < 0)
			journal("A %s\n", names[n]);
		else
			journal("S %s %zu %016" PRIx64 " %016" PRIx64 "\n", names[n],
				inodes[ino].size,
				fnv64(inodes[ino].data, inodes[ino].size, FNV_INIT),
				xattr_hash(&inodes[ino], (uint32_t)ino + 1));
		journal_clean[n] = true;
	}
}

static int dirfd_of(size_t n)
{
	return strncmp(names[n], "sub/", 4) == 0 ? dirfd_sub : dirfd_top;
}

static const char *base_of(size_t n)
{
	return strncmp(names[n], "sub/", 4) == 0 ? names[n] + 4 : names[n];
}

/* ---- operations --------------------------------------------------------------------------- */

static int open_name(size_t n, int flags)
{
	int fd = openat(dirfd_of(n), base_of(n), flags | O_CLOEXEC, 0600);

	if (fd < 0)
		die_errno("open", names[n]);
	return fd;
}

static void drop_link(int ino)
{
	if (ino >= 0 && --inodes[ino].nlink == 0) {
		free(inodes[ino].data);
		inodes[ino].data = NULL;
	}
}

/* Creates the absent name n. */
static void op_create(size_t n)
{
	int fd;

	if (ninodes == MAX_INODES)
		return;
	mark_entry(n);
	fd = open_name(n, O_WRONLY | O_CREAT | O_EXCL);
	inodes[ninodes] = (struct inode){.data = calloc(1, MAX_SIZE), .nlink = 1, .dirty = true};
	if (!inodes[ninodes].data)
		die("out of memory");
	name_ino[n] = ninodes++;
	close(fd);
}

/* Writes count blocks at block index at (append: at the end). */
static void op_write(size_t n, bool append)
{
	int ino = name_ino[n];
	struct inode *i = &inodes[ino];
	size_t at = append ? i->size / BLOCK : pick((uint32_t)(i->size / BLOCK) + 1);
	size_t count = 1 + pick(16), len;
	uint8_t buf[16 * BLOCK];
	int fd;

	if ((at + count) * BLOCK > MAX_SIZE)
		return;
	len = count * BLOCK;
	for (size_t k = 0; k < count; k++)
		make_block(buf + k * BLOCK, (uint32_t)ino + 1, (at + k) * BLOCK,
			   (uint32_t)xorshift(&rng));
	mark_inode(ino);
	fd = open_name(n, O_WRONLY);
	if (pwrite(fd, buf, len, (off_t)(at * BLOCK)) != (ssize_t)len)
		die_errno("write", names[n]);
	if (close(fd) < 0)
		die_errno("close", names[n]);
	memcpy(i->data + at * BLOCK, buf, len);
	if ((at + count) * BLOCK > i->size)
		i->size = (at + count) * BLOCK;
}

/* Truncates to a random size (to zero: an overwrite from scratch begins). */
static void op_truncate(size_t n, bool to_zero)
{
	struct inode *i = &inodes[name_ino[n]];
	size_t size = to_zero ? 0 : pick(MAX_SIZE / BLOCK + 1) * BLOCK;
	int fd;

	mark_inode(name_ino[n]);
	fd = open_name(n, O_WRONLY);
	if (ftruncate(fd, (off_t)size) < 0)
		die_errno("truncate", names[n]);
	close(fd);
	if (size < i->size)
		memset(i->data + size, 0, i->size - size);
	i->size = size;
}

static void op_rename(size_t from, size_t to)
{
	/* rename(2) between two links of one file does nothing */
	if (from == to || name_ino[to] == name_ino[from])
		return;
	mark_entry(from);
	mark_entry(to);
	if (renameat(dirfd_of(from), base_of(from), dirfd_of(to), base_of(to)) < 0)
		die_errno("rename", names[from]);
	drop_link(name_ino[to]);
	name_ino[to] = name_ino[from];
	name_ino[from] = -1;
}

static void op_link(size_t from, size_t to)
{
	if (name_ino[to] >= 0)
		return;
	mark_entry(to);
	if (linkat(dirfd_of(from), base_of(from), dirfd_of(to), base_of(to), 0) < 0)
		die_errno("link", names[from]);
	name_ino[to] = name_ino[from];
	inodes[name_ino[to]].nlink++;
}

static void op_unlink(size_t n)
{
	mark_entry(n);
	if (unlinkat(dirfd_of(n), base_of(n), 0) < 0)
		die_errno("unlink", names[n]);
	drop_link(name_ino[n]);
	name_ino[n] = -1;
}

static void op_setxattr(size_t n)
{
	int ino = name_ino[n];
	struct xval x = make_xval((uint32_t)ino + 1, inodes[ino].xgen + 1);
	int fd;

	mark_inode(ino);
	fd = open_name(n, O_RDONLY);
	if (fsetxattr(fd, XATTR, &x, sizeof(x), 0) < 0)
		die_errno("setxattr", names[n]);
	close(fd);
	inodes[ino].xgen++;
}

/* fsync of the file and of both directories: the file's contents and every name are durable. */
static void op_sync(size_t n)
{
	int fd = open_name(n, O_RDONLY);

	if (fsync(fd) < 0)
		die_errno("fsync", names[n]);
	close(fd);
	if (fsync(dirfd_top) < 0 || fsync(dirfd_sub) < 0)
		die_errno("directory fsync", names[n]);
	inodes[name_ino[n]].dirty = false;
	memset(entry_dirty, 0, sizeof(entry_dirty));
	journal_clean_names();
}

/* One random operation on a random name; absent names are created first. */
static void one_op(void)
{
	size_t n = pick(NNAMES), other = pick(NNAMES);
	uint32_t w = pick(100);

	if (name_ino[n] < 0)
		op_create(n);
	else if (w < 25)
		op_write(n, false);
	else if (w < 40)
		op_write(n, true);
	else if (w < 46)
		op_truncate(n, true);
	else if (w < 54)
		op_truncate(n, false);
	else if (w < 62)
		op_rename(n, other);
	else if (w < 67)
		op_link(n, other);
	else if (w < 72)
		op_unlink(n);
	else if (w < 78)
		op_setxattr(n);
	else
		op_sync(n);
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die_errno("open", path);
	return fd;
}

static int cmd_run(const char *dir, const char *jpath, uint64_t seed, long ops)
{
	char sub[4096];

	rng = seed * 2654435761ULL + 1;
	if (mkdir(dir, 0755) < 0)
		die_errno("mkdir", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	if (mkdir(sub, 0755) < 0)
		die_errno("mkdir", sub);
	dirfd_top = open_dir(dir);
	dirfd_sub = open_dir(sub);
	if (fsync(dirfd_top) < 0)
		die_errno("fsync", dir);
	journal_fd = open(jpath, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (journal_fd < 0)
		die("cannot create the journal '%s': %s", jpath, strerror(errno));
	for (size_t n = 0; n < NNAMES; n++)
		name_ino[n] = -1;
	for (ops_done = 0; ops < 0 || ops_done < ops; ops_done++)
		one_op();
	/* A run that ends by itself syncs everything, so verify checks every name exactly. */
	for (size_t n = 0; n < NNAMES; n++)
		if (name_ino[n] >= 0)
			op_sync(n);
	if (fsync(dirfd_top) < 0 || fsync(dirfd_sub) < 0)
		die_errno("fsync", dir);
	memset(entry_dirty, 0, sizeof(entry_dirty));
	journal_clean_names();
	printf("crashload: %ld operations done, all synced\n", ops);
	return 0;
}

/* ---- verify ------------------------------------------------------------------------------- */

struct expect {
	char kind; /* 0: never journaled, else D, S or A */
	size_t size;
	uint64_t hash, xhash;
};

static void read_journal(const char *jpath, struct expect *e)
{
	FILE *f = fopen(jpath, "r");
	char line[256], kind, name[64];
	int lineno = 0;

	if (!f)
		die("cannot open the journal '%s': %s", jpath, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		struct expect x = {0};
		size_t n;

		lineno++;
		if (sscanf(line, "%c %63s %zu %" SCNx64 " %" SCNx64, &kind, name, &x.size, &x.hash,
			   &x.xhash) < 2)
			die("%s:%d: a line that does not parse", jpath, lineno);
		for (n = 0; n < NNAMES && strcmp(names[n], name) != 0; n++)
			;
		if (n == NNAMES || !strchr("DSA", kind))
			die("%s:%d: unknown record '%c %s'", jpath, lineno, kind, name);
		x.kind = kind;
		e[n] = x;
	}
	fclose(f);
}

/* Reads all of path into *buf (malloc()ed); -errno on failure. */
static int read_whole(const char *path, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *p = malloc(MAX_SIZE + 1);
	ssize_t r = 0;
	size_t got = 0;

	if (fd < 0 || !p) {
		r = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while (got <= MAX_SIZE && (r = read(fd, p + got, MAX_SIZE + 1 - got)) > 0)
		got += (size_t)r;
	if (r < 0)
		r = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		free(p);
		return (int)r;
	}
	*buf = p;
	*len = got;
	return 0;
}

static uint64_t read_xattr_hash(const char *path, bool *plausible)
{
	struct xval x;
	ssize_t r = getxattr(path, XATTR, &x, sizeof(x));

	/* in flight, an xattr may also fail as its file's contents may: with a clear error */
	*plausible = r < 0 ? errno == ENODATA || errno == EIO || errno == EBADMSG
			   : r == sizeof(x) && x.sum == fnv64(&x, 8, FNV_INIT);
	return r == sizeof(x) ? fnv64(&x, sizeof(x), FNV_INIT) : 0;
}

static int check_synced(const char *path, const struct expect *e)
{
	uint8_t *buf;
	size_t len;
	bool ok;
	int r = read_whole(path, &buf, &len);

	if (r < 0) {
		fprintf(stderr, "crashload: '%s' was synced but cannot be read: %s\n", path,
			strerror(-r));
		return 1;
	}
	r = len != e->size || fnv64(buf, len, FNV_INIT) != e->hash;
	free(buf);
	if (r)
		fprintf(stderr,
			"crashload: '%s' was synced with %zu bytes, but reads otherwise "
			"(%zu bytes)\n",
			path, e->size, len);
	if (read_xattr_hash(path, &ok) != e->xhash) {
		fprintf(stderr, "crashload: '%s': the synced xattr reads otherwise\n", path);
		r = 1;
	}
	return r;
}

static int check_in_flight(const char *path)
{
	uint8_t *buf;
	size_t len;
	bool ok;
	int r = read_whole(path, &buf, &len);

	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		printf("crashload: '%s' (in flight) fails to read: %s\n", path, strerror(-r));
		return r == -EIO || r == -EBADMSG ? 0 : 1;
	}
	for (size_t off = 0; off < len && r == 0; off += BLOCK)
		if (len - off < BLOCK || !block_plausible(buf + off, off)) {
			fprintf(stderr,
				"crashload: '%s' (in flight) holds bytes no write put at "
				"offset %zu\n",
				path, off);
			r = 1;
		}
	free(buf);
	read_xattr_hash(path, &ok);
	if (!ok) {
		fprintf(stderr, "crashload: '%s' (in flight): the xattr is garbage\n", path);
		r = 1;
	}
	return r;
}

/* Everything in dir (and dir/sub) is one of names[]. */
static int check_no_strangers(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int bad = 0;

	if (!d)
		die_errno("opendir", dir);
	while ((de = readdir(d))) {
		char name[300];
		size_t n;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (!*prefix && !strcmp(de->d_name, "sub")))
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, de->d_name);
		for (n = 0; n < NNAMES && strcmp(names[n], name) != 0; n++)
			;
		if (n == NNAMES) {
			fprintf(stderr, "crashload: '%s/%s' was never made\n", dir, de->d_name);
			bad = 1;
		}
	}
	closedir(d);
	return bad;
}

static int cmd_verify(const char *dir, const char *jpath)
{
	struct expect e[NNAMES] = {{0}};
	char path[4096];
	int bad = 0, synced = 0, absent = 0, flying = 0;

	read_journal(jpath, e);
	for (size_t n = 0; n < NNAMES; n++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[n]);
		switch (e[n].kind) {
		case 'S':
			bad |= check_synced(path, &e[n]);
			synced++;
			break;
		case 'A':
			if (lstat(path, &st) == 0 || errno != ENOENT) {
				fprintf(stderr,
					"crashload: '%s' was removed for good, yet is there\n",
					path);
				bad = 1;
			}
			absent++;
			break;
		default: /* in flight, or never synced */
			bad |= check_in_flight(path);
			flying++;
		}
	}
	bad |= check_no_strangers(dir, "");
	snprintf(path, sizeof(path), "%s/sub", dir);
	bad |= check_no_strangers(path, "sub/");
	printf("crashload: %s: %d synced, %d removed, %d in flight: %s\n", dir, synced, absent,
	       flying, bad ? "FAILED" : "ok");
	return bad;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 5 && argc <= 6 && strcmp(argv[1], "run") == 0)
		return cmd_run(argv[2], argv[3], strtoull(argv[4], NULL, 0),
			       argc == 6 ? strtol(argv[5], NULL, 0) : -1);
	if (argc == 4 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argv[2], argv[3]);
	fprintf(stderr, "usage: crashload run DIR JOURNAL SEED [OPS]\n"
			"       crashload verify DIR JOURNAL\n");
	return 2;
}
