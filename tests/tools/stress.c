/* SPDX-License-Identifier: MIT */
/*
 * stress.c - concurrency stress for a mounted file system. Threads race each other in one
 * directory tree for a given time, then the tree is checked for consistency.
 *
 *   stress --dir D [--seconds N] [--seed N] [--writers N] [--readers N] [--seekers N]
 *          [--dirops N] [--files N] [--stall SECONDS] [--check-only]
 *
 * D/data holds --files files. Writers own the files (file i belongs to writer i % writers)
 * and write a pattern that depends on the file's identity, the offset and a generation, so
 * that a reader can tell for every byte it reads whether some write (or a hole) put it
 * there; they also truncate, punch holes, fsync, and now and then replace a file by renaming
 * a new one over it. Readers and seekers (lseek SEEK_DATA and SEEK_HOLE, which with a
 * write-back cache also make the kernel write back dirty pages) open the files by name at
 * random. Directory threads create, unlink, rename (plain, RENAME_NOREPLACE and
 * RENAME_EXCHANGE, between directories), hard-link, symlink, mkdir, rmdir, stat, readlink
 * and list short and long names (long ones need side files on envcryptfs) in D/ns0..ns3.
 *
 * Only the errors that these races explain are accepted (ENOENT, EEXIST, ENOTEMPTY and the
 * like, per operation); any other error, a byte no write could have left, or a thread stuck
 * in one operation for --stall seconds (default 60; watched in every phase: setup, run and
 * final check) fails the run: the tool prints the
 * operation and "stress: stalled" and exits 3 at once (its stuck threads stay until the
 * mount's connection is aborted; tests/integration/lib.sh's run_stress then prints the
 * daemon's threads with gdb and the kernel stacks, and aborts it).
 *
 * After the run (or alone with --check-only, e.g. after a remount) every directory is
 * listed: each entry must stat, directory link counts must be 2 plus the subdirectories, a
 * file's link count must be the number of its names, every data file must read back as
 * valid versions, and every other file and symlink must read as written.
 *
 * Prints "seed=N" first and a summary at the end. Exits 0 when all is well, 1 on a failed
 * check, 2 on a usage or setup error, 3 on a stall.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_FILES   256
#define NS_DIRS	    4
#define NS_NAMES    24
/* A file is replaced once it has seen this many generations, which keeps the check strong:
 * a byte is valid for only GEN_MAX of the 256 values at its offset (and for zero). */
#define GEN_MAX	  64
#define HDR_SIZE  8 /* a data file starts with its 64-bit identity */
#define SPAN	  (512 * 1024)
#define IO_MAX	  (96 * 1024)
#define CONTENT	  "stress file contents\n"
#define TARGET_PF "target-"

/* MAIN is the main thread, which makes the tree and checks it (no count, no entry). */
enum role { WRITER, READER, SEEKER, DIROPS, MAIN };
static const char *const role_name[] = {"writer", "reader", "seeker", "dirops", "main"};

struct thread {
	pthread_t tid;
	enum role role;
	int index;
	uint64_t rng;
	uint64_t ops;
	/* The operation under way and when it began (0: none), for the watchdog. */
	char op[PATH_MAX + 64];
	int64_t op_since_ms; /* atomic */
	bool done;	     /* atomic */
};

/* What readers need to know of each data file, published by its writer. */
struct slot {
	uint64_t id;  /* atomic: identity of the current incarnation */
	uint32_t gen; /* atomic: highest generation written (or being written) to it */
};

static const char *root;
static uint64_t seed;
static int seconds = 10, stall_s = 60, nfiles = 32;
static int nthreads, counts[4] = {2, 2, 2, 4};
static struct thread threads[MAX_THREADS];
static int nstarted; /* atomic: threads[0..nstarted) are watched */
static struct thread main_thread = {.role = MAIN};
static struct slot slots[MAX_FILES];
static volatile int stop, failed;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- small helpers --------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t rnd(struct thread *t)
{
	t->rng += 0x9e3779b97f4a7c15ull;
	return mix64(t->rng);
}

static uint64_t below(struct thread *t, uint64_t n)
{
	return n ? rnd(t) % n : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "stress: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Reports a failed check and ends the run (the other threads stop at their next op). */
__attribute__((format(printf, 2, 3))) static void failure(struct thread *t, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&report_lock);
	if (t)
		fprintf(stderr, "stress: FAIL (%s %d, seed=%" PRIu64 "): ", role_name[t->role],
			t->index, seed);
	else
		fprintf(stderr, "stress: FAIL (check, seed=%" PRIu64 "): ", seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&report_lock);
	failed = 1;
	stop = 1;
}

/* Marks the start of an operation for the watchdog. */
__attribute__((format(printf, 2, 3))) static void begin(struct thread *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->op, sizeof(t->op), fmt, ap);
	va_end(ap);
	__atomic_store_n(&t->op_since_ms, now_ms(), __ATOMIC_RELEASE);
}

static void end(struct thread *t)
{
	__atomic_store_n(&t->op_since_ms, 0, __ATOMIC_RELEASE);
	t->ops++;
}

/* errno values an operation may fail with because of the races it is in, as a mask. */
#define E(x) (1ull << (x))
static bool expected(uint64_t mask, int err)
{
	return err > 0 && err < 64 && (mask & E(err));
}

/* Checks a result: a failure must be one of the expected errors. Returns r. */
static long check(struct thread *t, long r, uint64_t mask, const char *what)
{
	if (r < 0 && !expected(mask, errno))
		failure(t, "%s: unexpected error %s", what, strerror(errno));
	return r;
}

/* ---- data files ------------------------------------------------------------------------ */

static void data_path(char *buf, int slot, bool fresh)
{
	snprintf(buf, PATH_MAX, "%s/data/f%03d%s", root, slot, fresh ? ".new" : "");
}

static uint8_t base_byte(uint64_t id, uint64_t off)
{
	return (uint8_t)mix64(id * 0x100000001b3ull ^ (off + 1) * 0x9e3779b97f4a7c15ull);
}

static uint8_t pattern(uint64_t id, uint64_t off, uint32_t gen)
{
	return (uint8_t)(base_byte(id, off) + gen);
}

/* 0 when every byte of buf (read at off from the file with identity id) is zero or was
 * written by a generation in [1, maxgen]; else the offset of the first bad byte plus one. */
static uint64_t bad_byte(uint64_t id, uint32_t maxgen, const uint8_t *buf, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t o = off + i;
		uint8_t g;

		if (o < HDR_SIZE) {
			if (buf[i] != (uint8_t)(id >> (8 * o)))
				return o + 1;
			continue;
		}
		g = (uint8_t)(buf[i] - base_byte(id, o));
		if (buf[i] != 0 && (g == 0 || g > maxgen))
			return o + 1;
	}
	return 0;
}

/* The highest generation a file with identity id can hold: its slot's current one, or
 * GEN_MAX for an incarnation already replaced (or when the slots are unknown). */
static uint32_t max_gen(uint64_t id)
{
	uint64_t s = id >> 32;

	if (s < MAX_FILES && __atomic_load_n(&slots[s].id, __ATOMIC_ACQUIRE) == id)
		return __atomic_load_n(&slots[s].gen, __ATOMIC_ACQUIRE);
	return GEN_MAX;
}

/* Makes a new incarnation of slot s under its .new name and renames it into place; returns
 * its descriptor (O_RDWR), or -1 after a failure was reported. */
static int data_create(struct thread *t, int s)
{
	char fresh[PATH_MAX], path[PATH_MAX];
	uint64_t id = (uint64_t)s << 32 | ((slots[s].id + 1) & 0xffffffffu);
	uint8_t hdr[HDR_SIZE];
	int fd;

	data_path(fresh, s, true);
	data_path(path, s, false);
	for (int i = 0; i < HDR_SIZE; i++)
		hdr[i] = (uint8_t)(id >> (8 * i));
	begin(t, "create %s", fresh);
	fd = (int)check(t, open(fresh, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), 0, fresh);
	if (fd >= 0 && check(t, pwrite(fd, hdr, HDR_SIZE, 0), 0, "header write") != HDR_SIZE) {
		if (!failed)
			failure(t, "short header write to %s", fresh);
	}
	end(t);
	if (failed) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Published before the rename: a reader that finds the new file knows its bound. */
	__atomic_store_n(&slots[s].gen, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&slots[s].id, id, __ATOMIC_RELEASE);
	begin(t, "rename %s over %s", fresh, path);
	check(t, rename(fresh, path), 0, "rename of a data file into place");
	end(t);
	return fd;
}

static void data_write(struct thread *t, int s, int fd, uint8_t *buf)
{
	uint64_t id = slots[s].id, off = HDR_SIZE + below(t, SPAN);
	size_t n = 1 + (size_t)below(t, IO_MAX);
	uint32_t gen = slots[s].gen + 1;
	ssize_t r;

	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(id, off + i, gen);
	__atomic_store_n(&slots[s].gen, gen, __ATOMIC_RELEASE);
	begin(t, "pwrite f%03d %zu bytes at %" PRIu64, s, n, off);
	r = check(t, pwrite(fd, buf, n, (off_t)off), 0, "pwrite of a data file");
	if (r >= 0 && (size_t)r != n)
		failure(t, "short pwrite to f%03d: %zd of %zu bytes", s, r, n);
	end(t);
}

/* One step of a writer on its file s: mostly writes, sometimes a truncate, a punched hole
 * or an fsync; a file that has seen GEN_MAX generations is replaced. */
static void writer_step(struct thread *t, int s, int *fd, uint8_t *buf)
{
	uint64_t r = below(t, 20);

	if (*fd < 0 || slots[s].gen >= GEN_MAX) {
		if (*fd >= 0)
			close(*fd);
		*fd = data_create(t, s);
		return;
	}
	if (r < 14) {
		data_write(t, s, *fd, buf);
	} else if (r < 16) {
		off_t len = HDR_SIZE + (off_t)below(t, SPAN + IO_MAX);

		begin(t, "ftruncate f%03d to %lld", s, (long long)len);
		check(t, ftruncate(*fd, len), 0, "ftruncate of a data file");
		end(t);
	} else if (r < 18) {
		off_t off = HDR_SIZE + (off_t)below(t, SPAN), len = 1 + (off_t)below(t, IO_MAX);

		begin(t, "punch hole f%03d %lld+%lld", s, (long long)off, (long long)len);
		check(t, fallocate(*fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len), 0,
		      "fallocate(PUNCH_HOLE) of a data file");
		end(t);
	} else if (r < 19) {
		begin(t, "fsync f%03d", s);
		check(t, fsync(*fd), 0, "fsync of a data file");
		end(t);
	} else {
		close(*fd);
		*fd = -1;
		*fd = data_create(t, s);
	}
}

static void *writer(void *arg)
{
	struct thread *t = arg;
	int fds[MAX_FILES];
	uint8_t *buf = malloc(IO_MAX);
	int mine = 0, own[MAX_FILES];

	if (!buf)
		die("out of memory");
	for (int s = t->index; s < nfiles; s += counts[WRITER])
		own[mine++] = s;
	for (int i = 0; i < mine; i++) {
		char path[PATH_MAX];

		data_path(path, own[i], false);
		fds[i] = open(path, O_RDWR | O_CLOEXEC);
		check(t, fds[i], 0, path);
	}
	while (!stop && mine) {
		int i = (int)below(t, (uint64_t)mine);

		writer_step(t, own[i], &fds[i], buf);
	}
	for (int i = 0; i < mine; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(buf);
	return NULL;
}

/* Reads the identity of the data file open as fd. */
static bool read_id(struct thread *t, int fd, const char *path, uint64_t *id)
{
	uint8_t hdr[HDR_SIZE];
	ssize_t n = pread(fd, hdr, HDR_SIZE, 0);

	if (n != HDR_SIZE) {
		failure(t, "%s: header read returned %zd (%s)", path, n,
			n < 0 ? strerror(errno) : "short");
		return false;
	}
	*id = 0;
	for (int i = HDR_SIZE - 1; i >= 0; i--)
		*id = *id << 8 | hdr[i];
	return true;
}

/* Reads [off, off + len) of a data file and checks every byte. */
static void verify_range(struct thread *t, int fd, const char *path, uint64_t id, uint8_t *buf,
			 uint64_t off, size_t len)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);
	uint64_t bad;

	if (n < 0) {
		failure(t, "%s: pread of %zu bytes at %" PRIu64 ": %s", path, len, off,
			strerror(errno));
		return;
	}
	/* The bound is read after the data: it covers every write the read may have seen. */
	bad = bad_byte(id, max_gen(id), buf, (size_t)n, off);
	if (bad)
		failure(t,
			"%s (id %" PRIx64 "): byte at %" PRIu64 " is 0x%02x, which no write put "
			"there (read of %zu bytes at %" PRIu64 ")",
			path, id, bad - 1, buf[bad - 1 - off], len, off);
}

static void *reader(void *arg)
{
	struct thread *t = arg;
	uint8_t *buf = malloc(IO_MAX);

	if (!buf)
		die("out of memory");
	while (!stop) {
		char path[PATH_MAX];
		uint64_t id, off = below(t, SPAN + IO_MAX);
		int s = (int)below(t, (uint64_t)nfiles), fd;

		data_path(path, s, false);
		begin(t, "read %s at %" PRIu64, path, off);
		fd = (int)check(t, open(path, O_RDONLY | O_CLOEXEC), 0, path);
		if (fd >= 0) {
			if (read_id(t, fd, path, &id))
				verify_range(t, fd, path, id, buf, off,
					     1 + (size_t)below(t, IO_MAX));
			close(fd);
		}
		end(t);
	}
	free(buf);
	return NULL;
}

static void *seeker(void *arg)
{
	struct thread *t = arg;

	while (!stop) {
		char path[PATH_MAX];
		int s = (int)below(t, (uint64_t)nfiles), fd,
		    whence = below(t, 2) ? SEEK_DATA : SEEK_HOLE;
		off_t off = (off_t)below(t, SPAN + IO_MAX), r;

		data_path(path, s, false);
		begin(t, "lseek %s %lld %s", path, (long long)off,
		      whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE");
		fd = (int)check(t, open(path, O_RDONLY | O_CLOEXEC), 0, path);
		if (fd >= 0) {
			r = check(t, lseek(fd, off, whence), E(ENXIO), "lseek");
			if (r >= 0 && r < off)
				failure(t, "%s: lseek from %lld returned %lld", path,
					(long long)off, (long long)r);
			close(fd);
		}
		end(t);
	}
	return NULL;
}

/* ---- directory operations ---------------------------------------------------------------- */

/* A name in one of the shared directories: a quarter of them long (side files). */
static void ns_path(struct thread *t, char *buf)
{
	int d = (int)below(t, NS_DIRS), i = (int)below(t, NS_NAMES);

	if (i % 4 == 3)
		snprintf(buf, PATH_MAX, "%s/ns%d/%0200d", root, d, i);
	else
		snprintf(buf, PATH_MAX, "%s/ns%d/n%02d", root, d, i);
}

static void op_create(struct thread *t, const char *p)
{
	int fd = (int)check(t, open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644), E(EEXIST),
			    "create");

	if (fd >= 0) {
		check(t, write(fd, CONTENT, strlen(CONTENT)), 0, "write of a new file");
		check(t, close(fd), 0, "close of a new file");
	}
}

/* Reads a file made by op_create: empty (still being written) or CONTENT. */
static void op_read(struct thread *t, const char *p)
{
	char buf[64];
	int fd =
	    (int)check(t, open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), E(ENOENT) | E(ELOOP), "open");
	ssize_t n;

	if (fd < 0)
		return;
	n = check(t, read(fd, buf, sizeof(buf)), E(EISDIR), "read");
	if (n > 0 && ((size_t)n != strlen(CONTENT) || memcmp(buf, CONTENT, (size_t)n) != 0))
		failure(t, "%s reads as %zd bytes other than what was written", p, n);
	close(fd);
}

static void op_readdir(struct thread *t, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		failure(t, "opendir %s: %s", dir, strerror(errno));
		return;
	}
	for (;;) {
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		/* Entries may go between readdir and the stat; nothing else may fail. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			failure(t, "stat of %s/%s listed by readdir: %s", dir, de->d_name,
				strerror(errno));
	}
	if (errno)
		failure(t, "readdir %s: %s", dir, strerror(errno));
	closedir(d);
}

/* Errors of a rename the races explain: either name missing, types that do not fit, a
 * non-empty target directory, or an existing target with RENAME_NOREPLACE. */
#define RENAME_ERRS (E(ENOENT) | E(EISDIR) | E(ENOTDIR) | E(ENOTEMPTY) | E(EEXIST))

static void dirops_step(struct thread *t)
{
	char a[PATH_MAX], b[PATH_MAX], inner[PATH_MAX + 8], target[64];
	struct stat st;
	unsigned flags;

	ns_path(t, a);
	ns_path(t, b);
	snprintf(inner, sizeof(inner), "%s/inner", a);
	switch (below(t, 16)) {
	case 0:
	case 1:
		begin(t, "create %s", a);
		op_create(t, a);
		break;
	case 2:
		begin(t, "mkdir %s", a);
		check(t, mkdir(a, 0755), E(EEXIST), "mkdir");
		break;
	case 3:
		begin(t, "rmdir %s", a);
		check(t, rmdir(a), E(ENOENT) | E(ENOTDIR) | E(ENOTEMPTY), "rmdir");
		break;
	case 4:
	case 5:
		begin(t, "unlink %s", a);
		check(t, unlink(a), E(ENOENT) | E(EISDIR), "unlink");
		break;
	case 6:
	case 7:
		flags = below(t, 3) == 0   ? RENAME_NOREPLACE
			: below(t, 4) == 0 ? RENAME_EXCHANGE
					   : 0;
		begin(t, "rename %s -> %s (flags %u)", a, b, flags);
		check(t, renameat2(AT_FDCWD, a, AT_FDCWD, b, flags), RENAME_ERRS, "rename");
		break;
	case 8:
		begin(t, "link %s -> %s", a, b);
		check(t, link(a, b), E(ENOENT) | E(EEXIST) | E(EPERM), "link");
		break;
	case 9:
		snprintf(target, sizeof(target), TARGET_PF "%d", (int)below(t, 1000));
		begin(t, "symlink %s -> %s", a, target);
		check(t, symlink(target, a), E(EEXIST), "symlink");
		break;
	case 10:
	case 11:
		begin(t, "lstat %s", a);
		check(t, lstat(a, &st), E(ENOENT), "lstat");
		break;
	case 12:
		begin(t, "readlink %s", a);
		check(t, readlink(a, target, sizeof(target)), E(ENOENT) | E(EINVAL), "readlink");
		break;
	case 13:
		begin(t, "read %s", a);
		op_read(t, a);
		break;
	case 14:
		/* Files inside the directories made here make rmdir and renames meet
		 * ENOTEMPTY. */
		if (below(t, 2)) {
			int fd;

			begin(t, "create %s", inner);
			fd = (int)check(t, open(inner, O_CREAT | O_WRONLY | O_CLOEXEC, 0644),
					E(ENOENT) | E(ENOTDIR), "create inside a directory");
			if (fd >= 0)
				close(fd);
		} else {
			begin(t, "unlink %s", inner);
			check(t, unlink(inner), E(ENOENT) | E(ENOTDIR),
			      "unlink inside a directory");
		}
		break;
	default:
		snprintf(b, sizeof(b), "%s/ns%d", root, (int)below(t, NS_DIRS));
		begin(t, "readdir %s", b);
		op_readdir(t, b);
		break;
	}
	end(t);
}

static void *dirops(void *arg)
{
	struct thread *t = arg;

	while (!stop)
		dirops_step(t);
	return NULL;
}

/* ---- the final check --------------------------------------------------------------------- */

struct seen {
	dev_t dev;
	ino_t ino;
	nlink_t nlink;
	unsigned names;
	char path[PATH_MAX];
};

static struct seen *seen;
static size_t nseen, seen_cap;

static void note_name(const struct stat *st, const char *path)
{
	for (size_t i = 0; i < nseen; i++)
		if (seen[i].dev == st->st_dev && seen[i].ino == st->st_ino) {
			seen[i].names++;
			return;
		}
	if (nseen == seen_cap) {
		seen_cap = seen_cap ? 2 * seen_cap : 256;
		seen = realloc(seen, seen_cap * sizeof(*seen));
		if (!seen)
			die("out of memory");
	}
	seen[nseen] = (struct seen){st->st_dev, st->st_ino, st->st_nlink, 1, ""};
	snprintf(seen[nseen].path, PATH_MAX, "%s", path);
	nseen++;
}

/* Reads a whole data file and checks every byte and its identity. */
static void check_data_file(const char *path, bool in_data)
{
	static uint8_t buf[IO_MAX];
	uint64_t id, off = 0;
	ssize_t n;
	int fd;

	begin(&main_thread, "open %s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	end(&main_thread);
	if (fd < 0) {
		failure(NULL, "open %s: %s", path, strerror(errno));
		return;
	}
	if (read_id(NULL, fd, path, &id)) {
		if (in_data && (id >> 32) >= (uint64_t)MAX_FILES)
			failure(NULL, "%s holds the identity %" PRIx64 " of no file", path, id);
		while ((begin(&main_thread, "pread %s at %" PRIu64, path, off),
			n = pread(fd, buf, sizeof(buf), (off_t)off)) > 0) {
			end(&main_thread);
			uint64_t bad = bad_byte(id, max_gen(id), buf, (size_t)n, off);

			if (bad) {
				failure(NULL,
					"%s: byte at %" PRIu64 " is 0x%02x, which no write "
					"put there",
					path, bad - 1, buf[bad - 1 - off]);
				break;
			}
			off += (uint64_t)n;
		}
		end(&main_thread);
		if (n < 0)
			failure(NULL, "read %s at %" PRIu64 ": %s", path, off, strerror(errno));
	}
	begin(&main_thread, "close %s", path);
	close(fd);
	end(&main_thread);
}

static void check_entry(const char *path, const struct stat *st, bool in_data)
{
	char target[PATH_MAX];
	ssize_t n;

	if (S_ISREG(st->st_mode)) {
		note_name(st, path);
		if (in_data) {
			check_data_file(path, true);
		} else {
			begin(&main_thread, "open and read %s", path);
			op_read(NULL, path);
			end(&main_thread);
		}
	} else if (S_ISLNK(st->st_mode)) {
		note_name(st, path);
		begin(&main_thread, "readlink %s", path);
		n = readlink(path, target, sizeof(target) - 1);
		end(&main_thread);
		if (n < 0)
			failure(NULL, "readlink %s: %s", path, strerror(errno));
		else if ((size_t)n != (size_t)st->st_size ||
			 strncmp(target, TARGET_PF, strlen(TARGET_PF)) != 0)
			failure(NULL, "%s: symlink target of %zd bytes (size %lld) is wrong", path,
				n, (long long)st->st_size);
	} else if (!S_ISDIR(st->st_mode)) {
		failure(NULL, "%s: unexpected file type 0%o", path, st->st_mode & S_IFMT);
	}
}

/* Lists dir: every entry must stat, with the type readdir gave; recurses into directories.
 * Returns the number of subdirectories. */
static unsigned check_dir(const char *dir, bool in_data)
{
	struct dirent *de;
	unsigned subdirs = 0;
	DIR *d;

	begin(&main_thread, "opendir %s", dir);
	d = opendir(dir);
	end(&main_thread);
	if (!d) {
		failure(NULL, "opendir %s: %s", dir, strerror(errno));
		return 0;
	}
	while ((begin(&main_thread, "readdir %s", dir), errno = 0, de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;

		end(&main_thread);
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		begin(&main_thread, "lstat %s", path);
		if (lstat(path, &st) < 0) {
			end(&main_thread);
			failure(NULL, "%s is listed but does not stat: %s", path, strerror(errno));
			continue;
		}
		end(&main_thread);
		if (de->d_type != DT_UNKNOWN && (mode_t)DTTOIF(de->d_type) != (st.st_mode & S_IFMT))
			failure(NULL, "%s: readdir says type %d, stat says 0%o", path, de->d_type,
				st.st_mode & S_IFMT);
		if (S_ISDIR(st.st_mode)) {
			unsigned sub = check_dir(path, false);

			subdirs++;
			if (st.st_nlink != 2 + sub)
				failure(NULL, "%s: link count %lu, but it has %u subdirectories",
					path, (unsigned long)st.st_nlink, sub);
		} else {
			check_entry(path, &st, in_data);
		}
	}
	end(&main_thread);
	if (errno)
		failure(NULL, "readdir %s: %s", dir, strerror(errno));
	begin(&main_thread, "closedir %s", dir);
	closedir(d);
	end(&main_thread);
	return subdirs;
}

static void final_check(void)
{
	char data[PATH_MAX];

	nseen = 0;
	snprintf(data, sizeof(data), "%s/data", root);
	check_dir(data, true);
	for (int i = 0; i < NS_DIRS; i++) {
		char ns[PATH_MAX];

		snprintf(ns, sizeof(ns), "%s/ns%d", root, i);
		check_dir(ns, false);
	}
	for (size_t i = 0; i < nseen; i++)
		if (seen[i].nlink != seen[i].names)
			failure(NULL, "%s: link count %lu, but %u names were found", seen[i].path,
				(unsigned long)seen[i].nlink, seen[i].names);
	printf("checked %zu files and symlinks\n", nseen);
}

/* ---- setup, watchdog, main --------------------------------------------------------------- */

static void setup(void)
{
	struct thread *t = &main_thread;
	char p[PATH_MAX];

	for (int i = -1; i < NS_DIRS; i++) {
		if (i < 0)
			snprintf(p, sizeof(p), "%s/data", root);
		else
			snprintf(p, sizeof(p), "%s/ns%d", root, i);
		begin(t, "mkdir %s", p);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			die("mkdir %s: %s", p, strerror(errno));
		end(t);
	}
	for (int s = 0; s < nfiles; s++) {
		int fd = data_create(t, s);

		if (fd < 0)
			die("cannot make the data files");
		begin(t, "close of a new data file");
		close(fd);
		end(t);
	}
}

/* Prints the kernel stacks of this process's threads (where they wait in the file system);
 * reading them needs no lock a stuck thread holds. */
static void print_own_stacks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char p[PATH_MAX], buf[4096];
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/stack", de->d_name);
		fprintf(stderr, "-- stress thread %s:\n", de->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)n, stderr);
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
}

/* A thread stuck in one operation for stall_s seconds: report it with the kernel stacks and
 * exit 3 at once (the stuck threads could not be joined). Nothing is run from here: a process
 * whose threads hang in the file system may hang whatever it starts (the caller prints the
 * daemon's threads). */
static void watchdog_tick(void)
{
	int64_t now = now_ms();
	int n = __atomic_load_n(&nstarted, __ATOMIC_ACQUIRE);

	for (int i = -1; i < n; i++) {
		struct thread *t = i < 0 ? &main_thread : &threads[i];
		int64_t since = __atomic_load_n(&t->op_since_ms, __ATOMIC_ACQUIRE);

		if (since && now - since >= (int64_t)stall_s * 1000) {
			fprintf(stderr,
				"stress: FAIL (seed=%" PRIu64 "): no progress for %d s: %s %d is "
				"stuck in: %s\n",
				seed, stall_s, role_name[t->role], t->index, t->op);
			print_own_stacks();
			fprintf(stderr, "stress: stalled\n");
			fflush(NULL);
			_exit(3);
		}
	}
}

/* Watches every phase (setup, run, final check) from its own thread, so that a main thread
 * stuck in the file system is reported too. */
static void *watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(200 * 1000);
		watchdog_tick();
	}
	return NULL;
}

static void start_watchdog(void)
{
	pthread_t tid;

	if (pthread_create(&tid, NULL, watchdog, NULL) != 0)
		die("pthread_create failed");
	pthread_detach(tid);
}

static void *(*const entry[])(void *) = {writer, reader, seeker, dirops};

static void *run_thread(void *arg)
{
	struct thread *t = arg;

	entry[t->role](t);
	__atomic_store_n(&t->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void run(void)
{
	int64_t end_ms = now_ms() + (int64_t)seconds * 1000;
	bool all_done = false;

	for (int r = 0; r < 4; r++)
		for (int i = 0; i < counts[r]; i++) {
			struct thread *t = &threads[nthreads++];

			t->role = (enum role)r;
			t->index = i;
			t->rng = mix64(seed ^ (uint64_t)(nthreads * 7919));
			if (pthread_create(&t->tid, NULL, run_thread, t) != 0)
				die("pthread_create failed");
			__atomic_store_n(&nstarted, nthreads, __ATOMIC_RELEASE);
		}
	while (!all_done) {
		usleep(200 * 1000);
		if (now_ms() >= end_ms)
			stop = 1;
		all_done = stop;
		for (int i = 0; i < nthreads && all_done; i++)
			all_done = __atomic_load_n(&threads[i].done, __ATOMIC_ACQUIRE);
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i].tid, NULL);
	for (int r = 0; r < 4; r++) {
		uint64_t n = 0;

		for (int i = 0; i < nthreads; i++)
			if (threads[i].role == (enum role)r)
				n += threads[i].ops;
		printf("%s ops: %" PRIu64 "\n", role_name[r], n);
	}
}

static int int_arg(const char *opt, const char *v, int lo, int hi)
{
	char *e;
	long n = strtol(v, &e, 10);

	if (*e || n < lo || n > hi)
		die("%s: %s is not a number from %d to %d", opt, v, lo, hi);
	return (int)n;
}

int main(int argc, char **argv)
{
	bool check_only = false;
	int total = 0;

	seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--check-only") == 0) {
			check_only = true;
			continue;
		}
		if (!v)
			die("%s needs a value (or is unknown)", o);
		i++;
		if (strcmp(o, "--dir") == 0)
			root = v;
		else if (strcmp(o, "--seed") == 0)
			seed = strtoull(v, NULL, 10);
		else if (strcmp(o, "--seconds") == 0)
			seconds = int_arg(o, v, 0, 1000000);
		else if (strcmp(o, "--stall") == 0)
			stall_s = int_arg(o, v, 1, 3600);
		else if (strcmp(o, "--files") == 0)
			nfiles = int_arg(o, v, 1, MAX_FILES);
		else if (strcmp(o, "--writers") == 0)
			counts[WRITER] = int_arg(o, v, 0, MAX_THREADS);
		else if (strcmp(o, "--readers") == 0)
			counts[READER] = int_arg(o, v, 0, MAX_THREADS);
		else if (strcmp(o, "--seekers") == 0)
			counts[SEEKER] = int_arg(o, v, 0, MAX_THREADS);
		else if (strcmp(o, "--dirops") == 0)
			counts[DIROPS] = int_arg(o, v, 0, MAX_THREADS);
		else
			die("unknown option %s", o);
	}
	if (!root)
		die("usage: stress --dir D [--seconds N] [--seed N] [--writers N] [--readers N] "
		    "[--seekers N] [--dirops N] [--files N] [--stall S] [--check-only]");
	for (int r = 0; r < 4; r++)
		total += counts[r];
	if (total > MAX_THREADS)
		die("at most %d threads", MAX_THREADS);
	if (counts[WRITER] == 0)
		counts[WRITER] = 1; /* the files need an owner; it may do little */
	printf("seed=%" PRIu64 "\n", seed);
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	start_watchdog();
	if (!check_only) {
		setup();
		run();
	}
	if (!failed)
		final_check();
	if (failed)
		return 1;
	printf("stress: all checks passed\n");
	return 0;
}
