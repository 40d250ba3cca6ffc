/* SPDX-License-Identifier: MIT */
/*
 * posixops.c - POSIX semantics checks for the integration tests, run against a mounted volume
 * or, to show that the checks themselves are right, against a plain directory.
 *
 *   posixops [--ecfs] [--allow-no-punch] DIR   run every check in DIR, which must be empty
 *   posixops --check-persist DIR               re-check what the first form left in DIR/persist
 *                                              (run it after a remount)
 *
 * --ecfs adds the checks that only hold on envcryptfs (a FUSE file system that rejects
 * extended attributes outside user.*). --allow-no-punch accepts EOPNOTSUPP from
 * FALLOC_FL_PUNCH_HOLE (for a backing file system that cannot punch holes).
 *
 * Prints one "ok N - name" or "not ok N - name" line per check (TAP), then "1..N"; exits 1
 * when any check failed, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define FUSE_MAGIC 0x65735546L
#define MiB	   (1024u * 1024u)

static int ntest, nfail;
static bool ecfs_mode, allow_no_punch;
static char base[PATH_MAX];

/* ---- reporting ------------------------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("#   ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((format(printf, 4, 5))) static void report(bool pass, int err, int line,
							 const char *fmt, ...)
{
	va_list ap;

	ntest++;
	printf("%s %d - ", pass ? "ok" : "not ok", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!pass) {
		nfail++;
		printf("#   failed at posixops.c line %d (errno %d: %s)\n", line, err,
		       err ? strerror(err) : "none");
	}
	fflush(stdout);
}

/* CHECK(cond, fmt, ...): one check; errno is captured right after cond is evaluated. */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		errno = 0;                                                                         \
		bool c_ = (cond);                                                                  \
		int e_ = errno;                                                                    \
		report(c_, e_, __LINE__, __VA_ARGS__);                                             \
	} while (0)

/* CHECK_ERR(expr, errno, fmt, ...): expr must fail (-1) with exactly that errno. */
#define CHECK_ERR(expr, want, ...)                                                                 \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(expr);                                                            \
		int e_ = errno;                                                                    \
		report(r_ == -1 && e_ == (want), e_, __LINE__, __VA_ARGS__);                       \
		if (r_ != -1 || e_ != (want))                                                      \
			diag("returned %ld, wanted -1 with errno %d (%s)", r_, (want),             \
			     strerror(want));                                                      \
	} while (0)

/* ---- helpers --------------------------------------------------------------------------- */

static char pbuf[16][PATH_MAX];
static int pidx;

/* A path built from a format, in one of 16 rotating buffers. */
__attribute__((format(printf, 1, 2))) static char *P(const char *fmt, ...)
{
	char *b = pbuf[pidx++ % 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, PATH_MAX, fmt, ap);
	va_end(ap);
	return b;
}

static char *kept[256];
static int nkept;

/* A copy of a path that stays valid until the end (P's buffers are reused). */
static char *K(const char *s)
{
	if (nkept == 256)
		abort();
	kept[nkept] = strdup(s);
	if (!kept[nkept])
		abort();
	return kept[nkept++];
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		perror("calloc");
		exit(2);
	}
	return p;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* The pattern byte at file offset off for a given seed. */
static uint8_t patb(uint64_t off, uint32_t seed)
{
	return (uint8_t)mix64(off * 0x9e3779b97f4a7c15ull + seed * 0xd1b54a32d192ed03ull + 1);
}

static void fill(uint8_t *b, size_t n, uint64_t off, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = patb(off + i, seed);
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return false;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return true;
}

/* Reads until len bytes or EOF; the count, or -1. */
static ssize_t pread_all(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static bool write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool ok;

	if (fd < 0)
		return false;
	ok = pwrite_all(fd, buf, len, 0);
	if (close(fd) != 0)
		ok = false;
	return ok;
}

static bool write_str(const char *path, const char *s)
{
	return write_file(path, s, strlen(s));
}

/* Compares the open file fd (size and every byte) with want; says what differs. */
static bool fd_is(int fd, const void *want, size_t len)
{
	struct stat st;
	uint8_t *got;
	ssize_t n;
	bool ok = true;

	if (fstat(fd, &st) != 0) {
		diag("fstat: %s", strerror(errno));
		return false;
	}
	if ((uint64_t)st.st_size != len) {
		diag("size is %lld, expected %zu", (long long)st.st_size, len);
		ok = false;
	}
	got = xmalloc(len + 1);
	n = pread_all(fd, got, len + 1, 0);
	if (n < 0) {
		diag("read: %s", strerror(errno));
		ok = false;
	} else if ((size_t)n != len) {
		diag("read %zd bytes, expected %zu", n, len);
		ok = false;
	} else {
		for (size_t i = 0; i < len; i++) {
			if (got[i] != ((const uint8_t *)want)[i]) {
				diag("first difference at offset %zu: 0x%02x, expected 0x%02x", i,
				     got[i], ((const uint8_t *)want)[i]);
				ok = false;
				break;
			}
		}
	}
	free(got);
	return ok;
}

static bool file_is(const char *path, const void *want, size_t len)
{
	int fd = open(path, O_RDONLY);
	bool ok;

	if (fd < 0) {
		diag("open: %s", strerror(errno));
		return false;
	}
	ok = fd_is(fd, want, len);
	close(fd);
	return ok;
}

static bool file_is_str(const char *path, const char *s)
{
	return file_is(path, s, strlen(s));
}

static void print_name(const char *what, const char *name)
{
	printf("#   %s '", what);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	printf("' (%zu bytes)\n", strlen(name));
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	char **v;
	size_t n;
};

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Every name in a directory but "." and "..", sorted; -1 on error. */
static int list_dir(const char *path, struct names *out)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t cap = 16;

	out->n = 0;
	out->v = xmalloc(cap * sizeof(char *));
	if (!d)
		return -1;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (out->n == cap) {
			cap *= 2;
			out->v = realloc(out->v, cap * sizeof(char *));
			if (!out->v)
				exit(2);
		}
		out->v[out->n++] = strdup(e->d_name);
	}
	if (errno) {
		int e2 = errno;
		closedir(d);
		errno = e2;
		return -1;
	}
	closedir(d);
	qsort(out->v, out->n, sizeof(char *), cmpstr);
	return 0;
}

/* The directory holds exactly the names in want (any order); prints the differences. */
static bool dir_is_quiet(const char *path, const char *const *want, size_t n, bool quiet)
{
	struct names l;
	const char **w = xmalloc((n + 1) * sizeof(char *));
	size_t i = 0, j = 0;
	bool ok = true;

	if (list_dir(path, &l) != 0) {
		if (!quiet)
			diag("readdir %s: %s", path, strerror(errno));
		names_free(&l);
		free(w);
		return false;
	}
	if (n)
		memcpy(w, want, n * sizeof(char *));
	qsort(w, n, sizeof(char *), cmpstr);
	while (i < l.n || j < n) {
		int c = i == l.n ? 1 : j == n ? -1 : strcmp(l.v[i], w[j]);
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		ok = false;
		if (quiet)
			break;
		if (c < 0)
			print_name("unexpected entry", l.v[i++]);
		else
			print_name("missing entry", w[j++]);
	}
	names_free(&l);
	free(w);
	return ok;
}

static bool dir_is(const char *path, const char *const *want, size_t n)
{
	return dir_is_quiet(path, want, n, false);
}

/* Like dir_is, but allows up to two seconds for asynchronous releases to finish. */
static bool dir_is_eventually(const char *path, const char *const *want, size_t n)
{
	for (int i = 0; i < 40; i++) {
		if (dir_is_quiet(path, want, n, true))
			return true;
		usleep(50000);
	}
	return dir_is(path, want, n);
}

static const char *mkd(const char *name)
{
	char *p = P("%s/%s", base, name);

	CHECK(mkdir(p, 0755) == 0, "mkdir %s", name);
	return K(p);
}

static off_t fsize(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return st.st_size;
}

/* ---- checks ---------------------------------------------------------------------------- */

static void t_start(void)
{
	struct statfs sf;

	CHECK(dir_is(base, NULL, 0), "the directory under test starts empty (no backing names)");
	if (ecfs_mode) {
		CHECK(statfs(base, &sf) == 0 && sf.f_type == FUSE_MAGIC,
		      "the directory under test is on a FUSE file system");
	}
}

static void t_basic(void)
{
	const char *d = mkd("basic");
	char *f = K(P("%s/hello", d));
	char buf[64];
	uint8_t *big, *got;
	size_t bigsz = 70001;
	struct stat st;
	int fd;

	fd = open(f, O_CREAT | O_EXCL | O_RDWR, 0644);
	CHECK(fd >= 0, "create with O_CREAT|O_EXCL");
	CHECK(write(fd, "hello world", 11) == 11, "write 11 bytes");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 11 && S_ISREG(st.st_mode),
	      "fstat: regular file of 11 bytes");
	memset(buf, 0, sizeof buf);
	CHECK(pread(fd, buf, sizeof buf, 6) == 5 && !memcmp(buf, "world", 5),
	      "pread at offset 6 returns 'world' (short read at EOF)");
	CHECK(pread(fd, buf, sizeof buf, 11) == 0, "pread at EOF returns 0");
	CHECK(pread(fd, buf, sizeof buf, 1000) == 0, "pread past EOF returns 0");
	CHECK(close(fd) == 0, "close");
	CHECK_ERR(open(f, O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST,
		  "O_EXCL on an existing file: EEXIST");
	fd = open(f, O_RDONLY);
	CHECK(fd >= 0, "reopen read-only");
	CHECK(read(fd, buf, 5) == 5 && !memcmp(buf, "hello", 5), "read 'hello' after reopen");
	CHECK_ERR(write(fd, "x", 1), EBADF, "write to an O_RDONLY descriptor: EBADF");
	close(fd);
	CHECK(file_is_str(f, "hello world"), "content is 'hello world'");

	/* A file spanning several chunks written and read in unaligned pieces. */
	big = xmalloc(bigsz);
	got = xmalloc(bigsz);
	fill(big, bigsz, 0, 11);
	f = K(P("%s/pieces", d));
	fd = open(f, O_CREAT | O_WRONLY, 0600);
	{
		bool ok = fd >= 0;
		for (size_t off = 0; ok && off < bigsz; off += 777) {
			size_t n = bigsz - off < 777 ? bigsz - off : 777;
			ok = write(fd, big + off, n) == (ssize_t)n;
		}
		CHECK(ok, "sequential 777-byte writes of 70001 bytes");
	}
	close(fd);
	fd = open(f, O_RDONLY);
	{
		bool ok = fd >= 0;
		size_t off = 0;
		while (ok && off < bigsz) {
			ssize_t n = read(fd, got + off, 1333);
			ok = n > 0;
			if (ok)
				off += (size_t)n;
		}
		ok = ok && off == bigsz && read(fd, got, 1) == 0 && !memcmp(got, big, bigsz);
		CHECK(ok, "sequential 1333-byte reads return the same 70001 bytes");
	}
	close(fd);
	CHECK(file_is(f, big, bigsz), "whole-file comparison of the pieced file");
	free(big);
	free(got);

	CHECK_ERR(open(P("%s/missing", d), O_RDONLY), ENOENT, "open of a missing file: ENOENT");
	CHECK_ERR(stat(P("%s/missing", d), &st), ENOENT, "stat of a missing file: ENOENT");
	CHECK_ERR(unlink(P("%s/missing", d)), ENOENT, "unlink of a missing file: ENOENT");
	CHECK_ERR(open(P("%s/nodir/x", d), O_CREAT | O_WRONLY, 0644), ENOENT,
		  "create in a missing directory: ENOENT");
	CHECK_ERR(open(P("%s/hello/x", d), O_CREAT | O_WRONLY, 0644), ENOTDIR,
		  "create under a regular file: ENOTDIR");
}

/* truncate/ftruncate and writes against an in-memory model, checked after every step. */
static void t_truncate(void)
{
	const char *d = mkd("truncate");
	char *f = K(P("%s/t", d));
	static const struct {
		char kind; /* w: pwrite a,b (offset, length); t: truncate(path); f: ftruncate */
		size_t a, b;
	} steps[] = {
	    {'w', 0, 10000},  {'t', 6000, 0},	 {'t', 9000, 0},   {'f', 5000, 0},
	    {'f', 70123, 0},  {'w', 69000, 100}, {'f', 69050, 0},  {'f', 0, 0},
	    {'t', 100, 0},    {'w', 1, 4094},	 {'w', 0, 200000}, {'f', 100000, 0},
	    {'t', 70000, 0},  {'t', 90000, 0},	 {'f', 65537, 0},  {'f', 65535, 0},
	    {'f', 131089, 0}, {'w', 131082, 30}, {'t', 4096, 0},   {'t', 8191, 0},
	    {'t', 4097, 0},   {'w', 4000, 200},	 {'f', 4050, 0},   {'f', 4150, 0},
	    {'w', 300000, 5}, {'t', 299999, 0},	 {'f', 1, 0},	   {'f', 2, 0},
	};
	size_t cap = 400000, msize = 0;
	uint8_t *model = xmalloc(cap), *tmp = xmalloc(cap);
	int fd = open(f, O_CREAT | O_RDWR | O_EXCL, 0644);

	CHECK(fd >= 0, "create the truncate test file");
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		size_t a = steps[i].a, b = steps[i].b;
		bool ok;

		switch (steps[i].kind) {
		case 'w':
			fill(tmp, b, a, (uint32_t)i);
			ok = pwrite_all(fd, tmp, b, (off_t)a);
			if (a > msize)
				memset(model + msize, 0, a - msize);
			memcpy(model + a, tmp, b);
			if (a + b > msize)
				msize = a + b;
			break;
		case 't':
		case 'f':
			ok = (steps[i].kind == 't' ? truncate(f, (off_t)a)
						   : ftruncate(fd, (off_t)a)) == 0;
			if (a > msize)
				memset(model + msize, 0, a - msize);
			msize = a;
			break;
		default:
			abort();
		}
		CHECK(
		    ok && fd_is(fd, model, msize) && fsize(f) == (off_t)msize,
		    "truncate step %zu (%s %zu, %zu): size and content match, zeros in grown areas",
		    i,
		    steps[i].kind == 'w'   ? "pwrite at offset, length"
		    : steps[i].kind == 't' ? "truncate to"
					   : "ftruncate to",
		    a, b);
	}
	close(fd);
	CHECK(file_is(f, model, msize), "truncate test file content after close");
	free(model);
	free(tmp);
}

static void t_append_trunc(void)
{
	const char *d = mkd("append");
	char *f = K(P("%s/a", d));
	uint8_t want[5006];
	struct stat st;
	int fd;

	CHECK(write_str(f, "abc"), "create a 3-byte file");
	fd = open(f, O_WRONLY | O_APPEND);
	CHECK(fd >= 0, "open O_APPEND");
	CHECK(lseek(fd, 0, SEEK_SET) == 0 && write(fd, "def", 3) == 3,
	      "write after lseek(0) on an O_APPEND descriptor");
	fill(want + 6, 5000, 6, 3);
	CHECK(write(fd, want + 6, 5000) == 5000, "append 5000 more bytes");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 5006, "size is 5006 after appends");
	close(fd);
	memcpy(want, "abcdef", 6);
	CHECK(file_is(f, want, sizeof want), "O_APPEND wrote at the end, not at offset 0");

	fd = open(f, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC empties the file");
	CHECK(write(fd, "x", 1) == 1, "write after O_TRUNC");
	close(fd);
	CHECK(file_is_str(f, "x"), "content after O_TRUNC and a write is 'x'");
	CHECK_ERR(open(f, O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST,
		  "O_CREAT|O_EXCL on an existing file: EEXIST");
	CHECK(write_str(f, ""), "O_TRUNC on open for writing an empty file");
	CHECK(fsize(f) == 0, "file is empty");
}

static void t_fallocate(void)
{
	const char *d = mkd("fallocate");
	char *f = K(P("%s/fa", d));
	size_t n1 = 10000, n2 = 3 * 65536 + 100;
	uint8_t *want = xmalloc(3 * MiB), *buf = xmalloc(n2);
	int fd, r;

	fill(want, n1, 0, 21);
	CHECK(write_file(f, want, n1), "write 10000 bytes");
	fd = open(f, O_RDWR);
	CHECK(fd >= 0 && fallocate(fd, 0, 8000, 100000) == 0, "fallocate mode 0 at 8000+100000");
	CHECK(fd_is(fd, want, 108000), "size grew to 108000, old data intact, zeros after 10000");
	CHECK(fallocate(fd, 0, 0, 50) == 0 && fd_is(fd, want, 108000),
	      "fallocate inside the file changes nothing");
	CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 100000, 200000) == 0 && fd_is(fd, want, 108000),
	      "fallocate KEEP_SIZE past EOF keeps size and content");
	close(fd);

	/* Punching holes: unaligned across chunk boundaries, aligned on whole 64k chunks, and
	 * past EOF. */
	f = K(P("%s/punch", d));
	fill(want, n2, 0, 22);
	CHECK(write_file(f, want, n2), "write 3*65536+100 bytes for punching");
	fd = open(f, O_RDWR);
	errno = 0;
	r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5000, 70000);
	if (r != 0 && errno == EOPNOTSUPP && allow_no_punch) {
		printf("ok %d - # SKIP punch hole: EOPNOTSUPP (allowed by --allow-no-punch)\n",
		       ++ntest);
		close(fd);
		free(want);
		free(buf);
		return;
	}
	CHECK(r == 0, "punch hole 5000+70000 (unaligned, crossing chunk boundaries)");
	memset(want + 5000, 0, 70000);
	CHECK(fd_is(fd, want, n2), "punched range reads zeros, size and the rest intact");
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 131072, 65536) == 0,
	      "punch hole on the aligned chunk 131072+65536");
	memset(want + 131072, 0, 65536);
	CHECK(fd_is(fd, want, n2), "aligned punched chunk reads zeros, rest intact");
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)n2 - 10, 5000) ==
		      0 &&
		  (memset(want + n2 - 10, 0, 10), fd_is(fd, want, n2)),
	      "punch hole across EOF zeroes the tail and keeps the size");
	CHECK(pwrite_all(fd, "Z", 1, 6000) && (want[6000] = 'Z', fd_is(fd, want, n2)),
	      "write one byte into a punched range");
	close(fd);
	CHECK(file_is(f, want, n2), "punched file content after close");
	free(want);
	free(buf);
}

static void t_seek_sparse(void)
{
	char *f = K(P("%s/persist/sparse", base));
	off_t size = 10 * MiB + 4096, h, dd;
	int fd = open(f, O_RDONLY);

	CHECK(fd >= 0, "open the sparse file");
	CHECK(lseek(fd, 0, SEEK_DATA) == 0, "SEEK_DATA from 0 is 0");
	errno = 0;
	h = lseek(fd, 0, SEEK_HOLE);
	CHECK(h >= 4096 && h < 10 * (off_t)MiB, "SEEK_HOLE from 0 is in [4096, 10 MiB)");
	diag("SEEK_HOLE from 0 = %lld", (long long)h);
	errno = 0;
	dd = h >= 0 ? lseek(fd, h, SEEK_DATA) : -1;
	CHECK(dd >= h && dd <= 10 * (off_t)MiB, "SEEK_DATA from the hole is in [hole, 10 MiB]");
	diag("SEEK_DATA from %lld = %lld", (long long)h, (long long)dd);
	CHECK(lseek(fd, 10 * (off_t)MiB, SEEK_HOLE) == size, "SEEK_HOLE from 10 MiB is EOF");
	CHECK_ERR(lseek(fd, size, SEEK_DATA), ENXIO, "SEEK_DATA at EOF: ENXIO");
	CHECK_ERR(lseek(fd, size + 100000, SEEK_DATA), ENXIO, "SEEK_DATA beyond EOF: ENXIO");
	CHECK_ERR(lseek(fd, size + 1, SEEK_HOLE), ENXIO, "SEEK_HOLE beyond EOF: ENXIO");
	close(fd);
}

static void t_sync(void)
{
	const char *d = mkd("sync");
	char *f = K(P("%s/s", d));
	int fd = open(f, O_CREAT | O_RDWR, 0644), dfd;

	CHECK(fd >= 0 && write(fd, "data", 4) == 4, "write before fsync");
	CHECK(fsync(fd) == 0, "fsync");
	CHECK(pwrite(fd, "more", 4, 4) == 4 && fdatasync(fd) == 0, "fdatasync");
	close(fd);
	dfd = open(d, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0 && fsync(dfd) == 0, "fsync on a directory descriptor");
	close(dfd);
	dfd = open(base, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0 && fsync(dfd) == 0 && fdatasync(dfd) == 0, "fsync/fdatasync on the root");
	close(dfd);
	CHECK(file_is_str(f, "datamore"), "content after syncs");
}

static void t_dirs(void)
{
	const char *d = mkd("dirs");
	struct stat st;
	int fd;

	CHECK(mkdir(P("%s/d1", d), 0750) == 0, "mkdir d1");
	CHECK(stat(P("%s/d1", d), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750,
	      "d1 is a directory of mode 0750");
	CHECK_ERR(mkdir(P("%s/d1", d), 0755), EEXIST, "mkdir of an existing directory: EEXIST");
	CHECK(write_str(P("%s/d1/f", d), "in d1"), "create d1/f");
	CHECK_ERR(mkdir(P("%s/d1/f", d), 0755), EEXIST, "mkdir of an existing file name: EEXIST");
	CHECK_ERR(rmdir(P("%s/d1", d)), ENOTEMPTY, "rmdir of a non-empty directory: ENOTEMPTY");
	CHECK_ERR(rmdir(P("%s/d1/f", d)), ENOTDIR, "rmdir of a file: ENOTDIR");
	CHECK_ERR(unlink(P("%s/d1", d)), EISDIR, "unlink of a directory: EISDIR");
	CHECK_ERR(open(P("%s/d1", d), O_WRONLY), EISDIR, "open a directory for writing: EISDIR");
	CHECK_ERR(mkdir(P("%s/d1/f/x", d), 0755), ENOTDIR, "mkdir under a file: ENOTDIR");
	CHECK(unlink(P("%s/d1/f", d)) == 0, "unlink d1/f");
	CHECK(rmdir(P("%s/d1", d)) == 0, "rmdir of the now empty d1");
	CHECK_ERR(stat(P("%s/d1", d), &st), ENOENT, "d1 is gone");
	CHECK_ERR(rmdir(P("%s/d1", d)), ENOENT, "rmdir of a missing directory: ENOENT");
	CHECK(mkdir(P("%s/a", d), 0755) == 0 && mkdir(P("%s/a/b", d), 0755) == 0 &&
		  mkdir(P("%s/a/b/c", d), 0755) == 0 && write_str(P("%s/a/b/c/deep", d), "deep"),
	      "nested directories a/b/c with a file");
	CHECK(file_is_str(P("%s/a/b/c/deep", d), "deep"), "read a/b/c/deep");
	{
		const char *w1[] = {"b"}, *w2[] = {"c"}, *w3[] = {"deep"}, *w0[] = {"a"};
		CHECK(dir_is(d, w0, 1) && dir_is(P("%s/a", d), w1, 1) &&
			  dir_is(P("%s/a/b", d), w2, 1) && dir_is(P("%s/a/b/c", d), w3, 1),
		      "each nested directory lists exactly its one entry");
	}
	fd = open(P("%s/a/b", d), O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0 && fstatat(fd, "c/deep", &st, 0) == 0 && st.st_size == 4,
	      "fstatat relative to a directory descriptor");
	CHECK(fd >= 0 && mkdirat(fd, "viafd", 0700) == 0 && fstatat(fd, "viafd", &st, 0) == 0 &&
		  S_ISDIR(st.st_mode),
	      "mkdirat relative to a directory descriptor");
	CHECK(fd >= 0 && unlinkat(fd, "viafd", AT_REMOVEDIR) == 0, "unlinkat AT_REMOVEDIR");
	if (fd >= 0)
		close(fd);
}

static void t_readdir(void)
{
	const char *d = mkd("readdir");
	enum { N = 300 };
	char *names[N + 4];
	struct names l1, l2;
	DIR *dir;
	struct dirent *e;
	long pos = -1;
	size_t i, seen = 0;
	bool ok = true, types = true;

	for (i = 0; i < N; i++) {
		char nm[256];
		/* every tenth name is long, so that entries span several getdents buffers */
		if (i % 10 == 0)
			snprintf(nm, sizeof nm, "%03zu-%0200d", i, 7);
		else
			snprintf(nm, sizeof nm, "n%03zu", i);
		names[i] = strdup(nm);
		if (!write_str(P("%s/%s", d, nm), nm))
			ok = false;
	}
	CHECK(ok, "create 300 files");
	names[N] = ".hidden";
	names[N + 1] = "sub";
	names[N + 2] = "lnk";
	names[N + 3] = "fifo";
	CHECK(write_str(P("%s/.hidden", d), "h") && mkdir(P("%s/sub", d), 0755) == 0 &&
		  symlink("n001", P("%s/lnk", d)) == 0 && mkfifo(P("%s/fifo", d), 0600) == 0,
	      "create a dot file, a directory, a symlink and a FIFO");
	CHECK(dir_is(d, (const char *const *)names, N + 4),
	      "readdir lists exactly the 304 created names");
	CHECK(dir_is(P("%s/sub", d), NULL, 0), "a new subdirectory lists nothing");

	dir = opendir(d);
	CHECK(dir != NULL, "opendir");
	if (!dir)
		return;
	while ((e = readdir(dir)) != NULL) {
		unsigned char want = DT_REG;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			want = DT_DIR;
		else if (!strcmp(e->d_name, "sub"))
			want = DT_DIR;
		else if (!strcmp(e->d_name, "lnk"))
			want = DT_LNK;
		else if (!strcmp(e->d_name, "fifo"))
			want = DT_FIFO;
		if (e->d_type != DT_UNKNOWN && e->d_type != want) {
			types = false;
			print_name("wrong d_type for", e->d_name);
		}
		if (++seen == 100)
			pos = telldir(dir);
	}
	CHECK(types, "d_type is right (or DT_UNKNOWN) for every entry");
	rewinddir(dir);
	l1.n = 0;
	l1.v = xmalloc((N + 10) * sizeof(char *));
	while ((e = readdir(dir)) != NULL && l1.n < N + 10)
		l1.v[l1.n++] = strdup(e->d_name);
	CHECK(l1.n == N + 6,
	      "rewinddir then readdir returns all 306 entries again (with . and ..)");
	CHECK(pos >= 0, "telldir after 100 entries");
	seekdir(dir, pos);
	l2.n = 0;
	l2.v = xmalloc((N + 10) * sizeof(char *));
	while ((e = readdir(dir)) != NULL && l2.n < N + 10)
		l2.v[l2.n++] = strdup(e->d_name);
	ok = l2.n == l1.n - 100;
	for (i = 0; ok && i < l2.n; i++)
		ok = !strcmp(l2.v[i], l1.v[i + 100]);
	CHECK(ok, "seekdir to the telldir position resumes with entry 101");
	names_free(&l1);
	names_free(&l2);
	closedir(dir);
	for (i = 0; i < N; i++)
		free(names[i]);
}

static void t_rename(void)
{
	const char *d = mkd("rename");
	struct stat st;
	int fd;

	CHECK(mkdir(P("%s/r1", d), 0755) == 0 && mkdir(P("%s/r2", d), 0755) == 0, "mkdir r1 r2");
	CHECK(write_str(P("%s/a", d), "AAAA") && write_str(P("%s/b", d), "BB"), "create a and b");
	CHECK(rename(P("%s/a", d), P("%s/b", d)) == 0, "rename a over the existing b");
	CHECK(file_is_str(P("%s/b", d), "AAAA"), "b now has a's content");
	CHECK_ERR(stat(P("%s/a", d), &st), ENOENT, "a is gone");
	CHECK(rename(P("%s/b", d), P("%s/r1/x", d)) == 0, "rename b to r1/x (across directories)");
	CHECK(file_is_str(P("%s/r1/x", d), "AAAA"), "r1/x has the content");
	CHECK(rename(P("%s/r1/x", d), P("%s/r2/y", d)) == 0 && file_is_str(P("%s/r2/y", d), "AAAA"),
	      "rename r1/x to r2/y");
	{
		const char *w[] = {"y"};
		CHECK(dir_is(P("%s/r1", d), NULL, 0) && dir_is(P("%s/r2", d), w, 1),
		      "r1 is empty and r2 holds y");
	}
	CHECK(rename(P("%s/r2/y", d), P("%s/r2/y", d)) == 0 && file_is_str(P("%s/r2/y", d), "AAAA"),
	      "rename to itself is a no-op");

	/* Directories with contents move across directories and keep their entries. */
	CHECK(mkdir(P("%s/r1/sub", d), 0755) == 0 && write_str(P("%s/r1/sub/f", d), "subf") &&
		  mkdir(P("%s/r1/sub/inner", d), 0755) == 0 &&
		  write_str(P("%s/r1/sub/inner/g", d), "inner g"),
	      "make r1/sub with a file and a subdirectory");
	CHECK(rename(P("%s/r1/sub", d), P("%s/r2/sub2", d)) == 0,
	      "rename directory r1/sub to r2/sub2");
	CHECK(file_is_str(P("%s/r2/sub2/f", d), "subf") &&
		  file_is_str(P("%s/r2/sub2/inner/g", d), "inner g"),
	      "files inside the moved directory read back");
	{
		const char *w[] = {"f", "inner"};
		CHECK(dir_is(P("%s/r2/sub2", d), w, 2), "the moved directory lists f and inner");
	}
	CHECK(write_str(P("%s/r2/sub2/new", d), "new") &&
		  file_is_str(P("%s/r2/sub2/new", d), "new"),
	      "create a file in the moved directory");

	/* renameat2 flags */
	CHECK(write_str(P("%s/x", d), "XXX") && write_str(P("%s/y", d), "yyyyyy"),
	      "create x and y");
	CHECK_ERR(renameat2(AT_FDCWD, P("%s/x", d), AT_FDCWD, P("%s/y", d), RENAME_NOREPLACE),
		  EEXIST, "RENAME_NOREPLACE onto an existing name: EEXIST");
	CHECK(file_is_str(P("%s/x", d), "XXX") && file_is_str(P("%s/y", d), "yyyyyy"),
	      "both files unchanged after the refused rename");
	CHECK(renameat2(AT_FDCWD, P("%s/x", d), AT_FDCWD, P("%s/z", d), RENAME_NOREPLACE) == 0 &&
		  file_is_str(P("%s/z", d), "XXX") && stat(P("%s/x", d), &st) != 0,
	      "RENAME_NOREPLACE to a new name works");
	CHECK(renameat2(AT_FDCWD, P("%s/z", d), AT_FDCWD, P("%s/y", d), RENAME_EXCHANGE) == 0,
	      "RENAME_EXCHANGE z and y");
	CHECK(file_is_str(P("%s/z", d), "yyyyyy") && file_is_str(P("%s/y", d), "XXX"),
	      "RENAME_EXCHANGE swapped the contents");
	CHECK(renameat2(AT_FDCWD, P("%s/y", d), AT_FDCWD, P("%s/r2/sub2", d), RENAME_EXCHANGE) ==
		      0 &&
		  file_is_str(P("%s/r2/sub2", d), "XXX") &&
		  file_is_str(P("%s/y/inner/g", d), "inner g"),
	      "RENAME_EXCHANGE of a file and a directory across directories");
	CHECK(renameat2(AT_FDCWD, P("%s/y", d), AT_FDCWD, P("%s/r2/sub2", d), RENAME_EXCHANGE) ==
		      0 &&
		  file_is_str(P("%s/y", d), "XXX"),
	      "and back");

	/* directory rename rules */
	CHECK(mkdir(P("%s/full", d), 0755) == 0 && write_str(P("%s/full/f", d), "f") &&
		  mkdir(P("%s/empty", d), 0755) == 0 && mkdir(P("%s/empty2", d), 0755) == 0,
	      "make directories full, empty, empty2");
	errno = 0;
	{
		int r = rename(P("%s/empty", d), P("%s/full", d));
		int e = errno;
		CHECK(r == -1 && (e == ENOTEMPTY || e == EEXIST),
		      "rename a directory over a non-empty one: ENOTEMPTY or EEXIST");
	}
	CHECK(rename(P("%s/empty", d), P("%s/empty2", d)) == 0 &&
		  stat(P("%s/empty", d), &st) != 0 && stat(P("%s/empty2", d), &st) == 0 &&
		  S_ISDIR(st.st_mode),
	      "rename a directory over an empty one");
	CHECK_ERR(rename(P("%s/y", d), P("%s/empty2", d)), EISDIR,
		  "rename a file over a directory: EISDIR");
	CHECK_ERR(rename(P("%s/empty2", d), P("%s/y", d)), ENOTDIR,
		  "rename a directory over a file: ENOTDIR");
	CHECK_ERR(rename(P("%s/full", d), P("%s/full/in", d)), EINVAL,
		  "rename a directory into itself: EINVAL");
	CHECK_ERR(rename(P("%s/nothere", d), P("%s/q", d)), ENOENT,
		  "rename a missing file: ENOENT");

	/* A file renamed while open keeps working through its descriptor. */
	fd = open(P("%s/open", d), O_CREAT | O_RDWR, 0644);
	CHECK(fd >= 0 && write(fd, "12345", 5) == 5, "create and write an open file");
	CHECK(rename(P("%s/open", d), P("%s/r1/moved", d)) == 0, "rename it while open");
	CHECK(pwrite(fd, "67890", 5, 5) == 5 && fsync(fd) == 0, "write through the old descriptor");
	close(fd);
	CHECK(file_is_str(P("%s/r1/moved", d), "1234567890"),
	      "the renamed file holds the writes made before and after the rename");
}

static void t_links(void)
{
	const char *d = mkd("links");
	struct stat s1, s2;
	int fd;

	CHECK(write_str(P("%s/l1", d), "linked content") && mkdir(P("%s/sub", d), 0755) == 0,
	      "create l1 and sub");
	CHECK(link(P("%s/l1", d), P("%s/l2", d)) == 0, "link l1 l2");
	CHECK(stat(P("%s/l1", d), &s1) == 0 && stat(P("%s/l2", d), &s2) == 0 && s1.st_nlink == 2 &&
		  s2.st_nlink == 2,
	      "both names have link count 2");
	CHECK(s1.st_ino == s2.st_ino, "both names have the same inode number");
	CHECK(file_is_str(P("%s/l2", d), "linked content"), "l2 has the same content");
	fd = open(P("%s/l2", d), O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "LINKED", 6, 0) == 6, "write through l2");
	close(fd);
	CHECK(file_is_str(P("%s/l1", d), "LINKED content"), "the write shows through l1");
	CHECK(link(P("%s/l1", d), P("%s/sub/l3", d)) == 0, "link into another directory");
	CHECK(stat(P("%s/l1", d), &s1) == 0 && s1.st_nlink == 3 &&
		  file_is_str(P("%s/sub/l3", d), "LINKED content"),
	      "link count 3, content through sub/l3");
	CHECK_ERR(link(P("%s/l1", d), P("%s/l2", d)), EEXIST, "link onto an existing name: EEXIST");
	CHECK_ERR(link(P("%s/sub", d), P("%s/subl", d)), EPERM, "link of a directory: EPERM");
	CHECK(unlink(P("%s/l1", d)) == 0, "unlink l1");
	CHECK(stat(P("%s/l2", d), &s2) == 0 && s2.st_nlink == 2 &&
		  file_is_str(P("%s/l2", d), "LINKED content"),
	      "l2 still has the content, link count 2");
	CHECK(unlink(P("%s/sub/l3", d)) == 0 && stat(P("%s/l2", d), &s2) == 0 && s2.st_nlink == 1,
	      "after unlinking sub/l3, link count 1");
}

static void long_target(char *buf, size_t len)
{
	/* 1000 bytes: path components of at most 99 bytes with varied characters */
	for (size_t i = 0; i < len; i++)
		buf[i] = (i % 100 == 99) ? '/' : (char)('a' + (i * 7) % 26);
	buf[len] = 0;
}

static void t_symlink(void)
{
	const char *d = mkd("symlink");
	char buf[4096], tgt[1001];
	struct stat st;
	ssize_t n;

	CHECK(symlink("target/short", P("%s/s1", d)) == 0, "symlink s1 -> target/short");
	n = readlink(P("%s/s1", d), buf, sizeof buf);
	CHECK(n == 12 && !memcmp(buf, "target/short", 12), "readlink s1 is exactly 'target/short'");
	CHECK(lstat(P("%s/s1", d), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 12,
	      "lstat: a symlink whose size is the target length");
	CHECK_ERR(stat(P("%s/s1", d), &st), ENOENT, "stat through a dangling symlink: ENOENT");
	long_target(tgt, 1000);
	CHECK(symlink(tgt, P("%s/long", d)) == 0, "symlink with a 1000-byte target");
	n = readlink(P("%s/long", d), buf, sizeof buf);
	CHECK(n == 1000 && !memcmp(buf, tgt, 1000), "readlink returns the 1000-byte target");
	CHECK(lstat(P("%s/long", d), &st) == 0 && st.st_size == 1000, "lstat size 1000");
	n = readlink(P("%s/long", d), buf, 10);
	CHECK(n == 10 && !memcmp(buf, tgt, 10), "readlink into a 10-byte buffer truncates");
	CHECK(write_str(P("%s/file", d), "through link") && symlink("file", P("%s/tofile", d)) == 0,
	      "symlink to a file");
	CHECK(file_is_str(P("%s/tofile", d), "through link"), "open follows the symlink");
	CHECK_ERR(symlink("x", P("%s/file", d)), EEXIST, "symlink onto an existing name: EEXIST");
	CHECK_ERR(readlink(P("%s/file", d), buf, sizeof buf), EINVAL, "readlink of a file: EINVAL");
	{
		/* The longest target Linux takes (PATH_MAX - 1); envcryptfs keeps it in a side
		 * file at the volume root. */
		char *max = xmalloc(PATH_MAX), *back = xmalloc(PATH_MAX + 1);

		long_target(max, PATH_MAX - 1);
		CHECK(symlink(max, P("%s/max", d)) == 0, "symlink with a 4095-byte target");
		n = readlink(P("%s/max", d), back, PATH_MAX + 1);
		CHECK(n == PATH_MAX - 1 && !memcmp(back, max, PATH_MAX - 1),
		      "readlink returns the 4095-byte target");
		CHECK(lstat(P("%s/max", d), &st) == 0 && st.st_size == PATH_MAX - 1,
		      "lstat size 4095");
		CHECK(unlink(P("%s/max", d)) == 0, "unlink the 4095-byte symlink");
		free(max);
		free(back);
	}
	CHECK(rename(P("%s/long", d), P("%s/long2", d)) == 0 &&
		  readlink(P("%s/long2", d), buf, sizeof buf) == 1000 && !memcmp(buf, tgt, 1000),
	      "a renamed symlink keeps its target");
	CHECK(unlink(P("%s/long2", d)) == 0 && lstat(P("%s/long2", d), &st) != 0,
	      "unlink a symlink");
	CHECK(stat(P("%s/file", d), &st) == 0, "unlinking the link left its target alone");
}

static void t_mknod(void)
{
	const char *d = mkd("mknod");
	struct stat st;

	CHECK(mknod(P("%s/fifo", d), S_IFIFO | 0640, 0) == 0, "mknod FIFO");
	CHECK(lstat(P("%s/fifo", d), &st) == 0 && S_ISFIFO(st.st_mode) &&
		  (st.st_mode & 0777) == 0640,
	      "S_ISFIFO, mode 0640");
	CHECK(mkfifo(P("%s/fifo2", d), 0600) == 0 && lstat(P("%s/fifo2", d), &st) == 0 &&
		  S_ISFIFO(st.st_mode),
	      "mkfifo");
	CHECK(mknod(P("%s/sock", d), S_IFSOCK | 0600, 0) == 0, "mknod socket");
	CHECK(lstat(P("%s/sock", d), &st) == 0 && S_ISSOCK(st.st_mode) &&
		  (st.st_mode & 0777) == 0600,
	      "S_ISSOCK, mode 0600");
	CHECK(mknod(P("%s/reg", d), S_IFREG | 0604, 0) == 0 && lstat(P("%s/reg", d), &st) == 0 &&
		  S_ISREG(st.st_mode) && st.st_size == 0 && (st.st_mode & 0777) == 0604,
	      "mknod S_IFREG makes an empty regular file");
	CHECK(write_str(P("%s/reg", d), "now data") && file_is_str(P("%s/reg", d), "now data"),
	      "the mknod-made regular file takes data");
	{
		const char *w[] = {"fifo", "fifo2", "sock", "reg"};
		CHECK(dir_is(d, w, 4), "directory lists the special files");
	}
	CHECK(rename(P("%s/fifo", d), P("%s/fifo3", d)) == 0 && lstat(P("%s/fifo3", d), &st) == 0 &&
		  S_ISFIFO(st.st_mode),
	      "rename a FIFO");
	CHECK(unlink(P("%s/fifo3", d)) == 0 && unlink(P("%s/sock", d)) == 0,
	      "unlink FIFO and socket");
}

static void t_attrs(void)
{
	const char *d = mkd("attrs");
	char *f = K(P("%s/f", d));
	struct stat st;
	struct timespec ts[2];
	time_t before, after;
	int fd;

	CHECK(write_str(f, "attr test"), "create f");
	CHECK(chmod(f, 0751) == 0 && stat(f, &st) == 0 && (st.st_mode & 07777) == 0751,
	      "chmod 0751");
	fd = open(f, O_RDONLY);
	CHECK(fd >= 0 && fchmod(fd, 0600) == 0 && fstat(fd, &st) == 0 &&
		  (st.st_mode & 07777) == 0600,
	      "fchmod 0600");
	close(fd);
	CHECK(stat(f, &st) == 0 && (st.st_mode & 07777) == 0600 && S_ISREG(st.st_mode),
	      "stat sees mode 0600");
	CHECK(chmod(f, 04755) == 0 && stat(f, &st) == 0 && (st.st_mode & 07777) == 04755,
	      "chmod 04755 keeps the set-user-ID bit");
	CHECK(chmod(d, 0700) == 0 && stat(d, &st) == 0 && (st.st_mode & 07777) == 0700 &&
		  chmod(d, 0755) == 0,
	      "chmod on a directory");

	if (geteuid() == 0) {
		CHECK(chown(f, 1234, 5678) == 0 && stat(f, &st) == 0 && st.st_uid == 1234 &&
			  st.st_gid == 5678,
		      "chown 1234:5678");
		CHECK(chown(f, (uid_t)-1, 42) == 0 && stat(f, &st) == 0 && st.st_uid == 1234 &&
			  st.st_gid == 42,
		      "chown -1:42 changes only the group");
		CHECK(symlink("f", P("%s/lnk", d)) == 0 && lchown(P("%s/lnk", d), 4321, 8765) == 0,
		      "lchown a symlink");
		CHECK(lstat(P("%s/lnk", d), &st) == 0 && st.st_uid == 4321 && st.st_gid == 8765 &&
			  stat(f, &st) == 0 && st.st_uid == 1234,
		      "lchown changed the link, not its target");
		CHECK(chown(f, 0, 0) == 0, "chown back to root");
	} else {
		CHECK(chown(f, geteuid(), getegid()) == 0 && stat(f, &st) == 0 &&
			  st.st_uid == geteuid(),
		      "chown to oneself");
	}

	ts[0] = (struct timespec){.tv_sec = 1000000000, .tv_nsec = 123456789};
	ts[1] = (struct timespec){.tv_sec = 1200000000, .tv_nsec = 987654321};
	CHECK(utimensat(AT_FDCWD, f, ts, 0) == 0, "utimensat with explicit times");
	CHECK(stat(f, &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
		  st.st_atim.tv_nsec == 123456789 && st.st_mtim.tv_sec == 1200000000 &&
		  st.st_mtim.tv_nsec == 987654321,
	      "stat returns exactly those times (nanoseconds included)");
	ts[0] = (struct timespec){.tv_sec = 1300000000, .tv_nsec = 5};
	ts[1] = (struct timespec){.tv_sec = 0, .tv_nsec = UTIME_OMIT};
	CHECK(utimensat(AT_FDCWD, f, ts, 0) == 0 && stat(f, &st) == 0 &&
		  st.st_atim.tv_sec == 1300000000 && st.st_atim.tv_nsec == 5 &&
		  st.st_mtim.tv_sec == 1200000000 && st.st_mtim.tv_nsec == 987654321,
	      "UTIME_OMIT for mtime: atime set, mtime unchanged");
	ts[0] = (struct timespec){.tv_sec = 0, .tv_nsec = UTIME_OMIT};
	ts[1] = (struct timespec){.tv_sec = 1100000000, .tv_nsec = 0};
	CHECK(utimensat(AT_FDCWD, f, ts, 0) == 0 && stat(f, &st) == 0 &&
		  st.st_atim.tv_sec == 1300000000 && st.st_mtim.tv_sec == 1100000000 &&
		  st.st_mtim.tv_nsec == 0,
	      "UTIME_OMIT for atime: mtime set, atime unchanged");
	before = time(NULL);
	ts[0] = (struct timespec){.tv_sec = 0, .tv_nsec = UTIME_NOW};
	ts[1] = (struct timespec){.tv_sec = 0, .tv_nsec = UTIME_NOW};
	CHECK(utimensat(AT_FDCWD, f, ts, 0) == 0, "utimensat UTIME_NOW");
	after = time(NULL);
	CHECK(stat(f, &st) == 0 && st.st_mtim.tv_sec >= before - 1 &&
		  st.st_mtim.tv_sec <= after + 1 && st.st_atim.tv_sec >= before - 1 &&
		  st.st_atim.tv_sec <= after + 1,
	      "UTIME_NOW set both times to the current time");
	fd = open(f, O_WRONLY);
	ts[0] = (struct timespec){.tv_sec = 1000, .tv_nsec = 0};
	ts[1] = (struct timespec){.tv_sec = 2000, .tv_nsec = 0};
	CHECK(fd >= 0 && futimens(fd, ts) == 0 && fstat(fd, &st) == 0 &&
		  st.st_mtim.tv_sec == 2000 && st.st_atim.tv_sec == 1000,
	      "futimens");
	CHECK(fd >= 0 && pwrite(fd, "A", 1, 0) == 1 && close(fd) == 0 && stat(f, &st) == 0 &&
		  st.st_mtim.tv_sec >= before - 1,
	      "a write updates mtime");
	if (symlink("f", P("%s/lnk2", d)) == 0) {
		ts[0] = (struct timespec){.tv_sec = 3000, .tv_nsec = 0};
		ts[1] = (struct timespec){.tv_sec = 4000, .tv_nsec = 0};
		CHECK(utimensat(AT_FDCWD, P("%s/lnk2", d), ts, AT_SYMLINK_NOFOLLOW) == 0 &&
			  lstat(P("%s/lnk2", d), &st) == 0 && st.st_mtim.tv_sec == 4000 &&
			  stat(f, &st) == 0 && st.st_mtim.tv_sec != 4000,
		      "utimensat AT_SYMLINK_NOFOLLOW sets the link's times, not the target's");
	} else {
		CHECK(false, "symlink lnk2");
	}
}

static void t_statfs_access(void)
{
	const char *d = mkd("access");
	char *f = K(P("%s/f", d));
	struct statvfs sv;
	struct statfs sf;
	static const mode_t modes[] = {0000, 0400, 0200, 0100, 0644, 0755, 0070, 0001};
	bool root = geteuid() == 0;

	CHECK(statvfs(base, &sv) == 0 && sv.f_namemax >= 255 && sv.f_bsize > 0 && sv.f_blocks > 0,
	      "statvfs: f_namemax >= 255, block size and count set");
	diag("f_namemax %lu f_bsize %lu f_blocks %llu", (unsigned long)sv.f_namemax,
	     (unsigned long)sv.f_bsize, (unsigned long long)sv.f_blocks);
	CHECK(statfs(d, &sf) == 0 && sf.f_namelen >= 255, "statfs: f_namelen >= 255");

	CHECK(write_str(f, "x"), "create f");
	CHECK(access(f, F_OK) == 0, "access F_OK on an existing file");
	CHECK_ERR(access(P("%s/missing", d), F_OK), ENOENT,
		  "access F_OK on a missing file: ENOENT");
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		mode_t m = modes[i];
		bool wr = root || (m & 0400), ww = root || (m & 0200),
		     wx = root ? (m & 0111) != 0 : (m & 0100) != 0;
		int r, w, x;

		if (chmod(f, m) != 0) {
			CHECK(false, "chmod %04o", (unsigned)m);
			continue;
		}
		r = access(f, R_OK);
		w = access(f, W_OK);
		x = access(f, X_OK);
		CHECK((r == 0) == wr && (w == 0) == ww && (x == 0) == wx,
		      "mode %04o: access R_OK %s, W_OK %s, X_OK %s (%s)", (unsigned)m,
		      wr ? "ok" : "denied", ww ? "ok" : "denied", wx ? "ok" : "denied",
		      root ? "root" : "owner");
		if (!((r == 0) == wr && (w == 0) == ww && (x == 0) == wx))
			diag("got R %d W %d X %d", r, w, x);
	}
	CHECK(chmod(f, 0644) == 0, "chmod back to 0644");
	CHECK(access(d, R_OK | W_OK | X_OK) == 0, "access rwx on a 0755 directory");
}

static void t_xattr(void)
{
	const char *d = mkd("xattr");
	char *f = K(P("%s/f", d));
	uint8_t val[256], got[1100], big[1000];
	char list[256];
	ssize_t n;

	for (int i = 0; i < 256; i++)
		val[i] = (uint8_t)i;
	fill(big, sizeof big, 0, 31);
	CHECK(write_str(f, "xattr file"), "create f");
	CHECK(setxattr(f, "user.bin", val, 256, 0) == 0, "setxattr user.bin (256 bytes, 0..255)");
	CHECK(getxattr(f, "user.bin", NULL, 0) == 256, "getxattr size query returns 256");
	n = getxattr(f, "user.bin", got, sizeof got);
	CHECK(n == 256 && !memcmp(got, val, 256), "getxattr returns the binary value");
	CHECK_ERR(getxattr(f, "user.bin", got, 10), ERANGE, "getxattr into a short buffer: ERANGE");
	CHECK(setxattr(f, "user.empty", "", 0, 0) == 0 &&
		  getxattr(f, "user.empty", got, sizeof got) == 0,
	      "an empty value");
	CHECK(setxattr(f, "user.big", big, sizeof big, 0) == 0 &&
		  getxattr(f, "user.big", got, sizeof got) == (ssize_t)sizeof big &&
		  !memcmp(got, big, sizeof big),
	      "a 1000-byte value");
	CHECK_ERR(setxattr(f, "user.bin", "x", 1, XATTR_CREATE), EEXIST,
		  "XATTR_CREATE on an existing name: EEXIST");
	CHECK_ERR(setxattr(f, "user.nothere", "x", 1, XATTR_REPLACE), ENODATA,
		  "XATTR_REPLACE on a missing name: ENODATA");
	CHECK(setxattr(f, "user.bin", "\0\1\0", 3, XATTR_REPLACE) == 0 &&
		  getxattr(f, "user.bin", got, sizeof got) == 3 && !memcmp(got, "\0\1\0", 3),
	      "XATTR_REPLACE changes the value");
	CHECK_ERR(getxattr(f, "user.nothere", got, sizeof got), ENODATA,
		  "getxattr of a missing name: ENODATA");
	n = listxattr(f, list, sizeof list);
	{
		/* the list is NUL-separated names in any order */
		const char *want = "user.big", *w2 = "user.bin", *w3 = "user.empty";
		size_t wantlen = strlen(want) + strlen(w2) + strlen(w3) + 3;
		bool ok = n == (ssize_t)wantlen;
		int found = 0;
		for (ssize_t i = 0; ok && i < n; i += (ssize_t)strlen(list + i) + 1) {
			if (!strcmp(list + i, want) || !strcmp(list + i, w2) ||
			    !strcmp(list + i, w3))
				found++;
			else
				print_name("unexpected xattr", list + i);
		}
		CHECK(ok && found == 3, "listxattr lists exactly user.big, user.bin, user.empty");
		if (!ok)
			diag("listxattr returned %zd, expected %zu", n, wantlen);
	}
	CHECK(listxattr(f, NULL, 0) == n, "listxattr size query");
	CHECK_ERR(listxattr(f, list, 3), ERANGE, "listxattr into a short buffer: ERANGE");
	CHECK(removexattr(f, "user.bin") == 0, "removexattr user.bin");
	CHECK_ERR(getxattr(f, "user.bin", got, sizeof got), ENODATA, "removed name: ENODATA");
	CHECK_ERR(removexattr(f, "user.bin"), ENODATA, "removexattr of a missing name: ENODATA");
	n = listxattr(f, list, sizeof list);
	CHECK(n == (ssize_t)(strlen("user.big") + strlen("user.empty") + 2), "list after removal");
	CHECK(setxattr(d, "user.dir", "on a dir", 8, 0) == 0 &&
		  getxattr(d, "user.dir", got, sizeof got) == 8 && !memcmp(got, "on a dir", 8),
	      "user xattr on a directory");
	CHECK(rename(f, P("%s/g", d)) == 0 &&
		  getxattr(P("%s/g", d), "user.big", got, sizeof got) == (ssize_t)sizeof big &&
		  !memcmp(got, big, sizeof big),
	      "xattrs move with a renamed file");
	if (ecfs_mode) {
		CHECK_ERR(setxattr(P("%s/g", d), "trusted.x", "v", 1, 0), EOPNOTSUPP,
			  "trusted.* rejected: EOPNOTSUPP");
		CHECK_ERR(setxattr(P("%s/g", d), "security.x", "v", 1, 0), EOPNOTSUPP,
			  "security.* rejected: EOPNOTSUPP");
		CHECK_ERR(setxattr(P("%s/g", d), "envcryptfs.x", "v", 1, 0), EOPNOTSUPP,
			  "an unknown namespace rejected: EOPNOTSUPP");
		n = listxattr(P("%s/g", d), list, sizeof list);
		CHECK(n == (ssize_t)(strlen("user.big") + strlen("user.empty") + 2),
		      "the rejected names are not listed");
	}
}

static void t_unlinked_open(void)
{
	const char *d = mkd("unlinked");
	char *f = K(P("%s/u", d));
	uint8_t want[14000];
	struct stat st;
	int fd, fd2;

	fill(want, 10000, 0, 41);
	fd = open(f, O_CREAT | O_RDWR, 0644);
	CHECK(fd >= 0 && pwrite_all(fd, want, 10000, 0), "create and write 10000 bytes");
	fd2 = open(f, O_RDWR);
	CHECK(fd2 >= 0, "open a second descriptor");
	CHECK(unlink(f) == 0, "unlink while open");
	CHECK_ERR(stat(f, &st), ENOENT, "the name is gone");
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_nlink == 0 && st.st_size == 10000,
	      "fstat of the unlinked file: nlink 0, size 10000");
	fill(want + 9000, 5000, 9000, 42);
	CHECK(pwrite_all(fd, want + 9000, 5000, 9000), "write to the unlinked file");
	CHECK(fd_is(fd2, want, 14000), "read the unlinked file through the other descriptor");
	CHECK(ftruncate(fd2, 12000) == 0 && fstat(fd, &st) == 0 && st.st_size == 12000 &&
		  fd_is(fd, want, 12000),
	      "ftruncate the unlinked file");
	close(fd);
	CHECK(fd_is(fd2, want, 12000), "still readable after the first close");
	close(fd2);
	CHECK(dir_is_eventually(d, NULL, 0), "after the last close the directory is empty");
}

static void mmap_expected(uint8_t *b, size_t size)
{
	memset(b, 0, size);
	fill(b + 100, size - 150, 100, 77);
	memcpy(b + 70000, "written with write()", 20);
}

#define MMAP_SIZE (3 * 65536 + 4321)

static void t_mmap(void)
{
	char *f = K(P("%s/persist/mmap.dat", base));
	size_t size = MMAP_SIZE;
	uint8_t *want = xmalloc(size), *p;
	int fd = open(f, O_CREAT | O_RDWR | O_TRUNC, 0644);

	mmap_expected(want, size);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0, "create mmap.dat of %zu bytes", size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap MAP_SHARED read-write");
	if (p == MAP_FAILED) {
		close(fd);
		free(want);
		return;
	}
	CHECK(all_zero(p, size), "a fresh mapping of the truncated file reads zeros");
	fill(p + 100, size - 150, 100, 77);
	CHECK(msync(p, size, MS_SYNC) == 0, "msync MS_SYNC");
	CHECK(munmap(p, size) == 0, "munmap");
	CHECK(close(fd) == 0, "close");
	fd = open(f, O_RDWR);
	CHECK(fd >= 0 && pwrite_all(fd, "written with write()", 20, 70000),
	      "write() into the file");
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED && !memcmp(p, want, size),
	      "a new mapping sees the mmap-written data and the write()");
	if (p != MAP_FAILED)
		munmap(p, size);
	close(fd);
	CHECK(file_is(f, want, size), "read() returns what was written through the mapping");
	free(want);
}

/* Names: length limits, every byte value but '/', reserved-looking names. */
static void t_names(void)
{
	const char *d = mkd("names");
	char n255[256], k255[256], n256[257], u255[256];
	char *nm[16];
	size_t nn = 0, i;
	struct stat st;
	static const char *const special[] = {
	    "with space", " leading space", "trailing space ", "new\nline", "\n",
	    "tab\there",  "-dash",	    "a.b.c",	       ".hidden",   "...",
	    "x=y%s%n",	  "back\\slash",    "quote\"'`",       "\xff\xfe",  "*?[]",
	    "..x",
	};
	static const char *const reserved[] = {
	    "envcryptfs.header", "envcryptfs.header.copy", "envcryptfs.dirid",
	    "envcryptfs.lock",	 "envcryptfs.long.abc",	   "envcryptfs.long.abc.name",
	    "envcryptfs.tmp.1",
	};
	const size_t nspecial = sizeof special / sizeof special[0];
	const size_t nreserved = sizeof reserved / sizeof reserved[0];
	const char *all[32];

	memset(n255, 'L', 255);
	n255[255] = 0;
	memset(k255, 'K', 254);
	k255[254] = 'z';
	k255[255] = 0;
	memset(n256, 'M', 256);
	n256[256] = 0;
	for (i = 0; i < 85; i++)
		memcpy(u255 + 3 * i, "\xe2\x82\xac", 3); /* the euro sign, 3 bytes */
	u255[255] = 0;

	CHECK_ERR(open(P("%s/%s", d, n256), O_CREAT | O_WRONLY, 0644), ENAMETOOLONG,
		  "create a 256-byte name: ENAMETOOLONG");
	CHECK_ERR(mkdir(P("%s/%s", d, n256), 0755), ENAMETOOLONG,
		  "mkdir a 256-byte name: ENAMETOOLONG");
	CHECK_ERR(symlink("x", P("%s/%s", d, n256)), ENAMETOOLONG,
		  "symlink a 256-byte name: ENAMETOOLONG");
	CHECK_ERR(stat(P("%s/%s", d, n256), &st), ENAMETOOLONG,
		  "stat a 256-byte name: ENAMETOOLONG");

	CHECK(write_str(P("%s/%s", d, n255), "two-five-five"), "create a 255-byte name");
	CHECK(stat(P("%s/%s", d, n255), &st) == 0 && st.st_size == 13, "stat the 255-byte name");
	{
		const char *w[] = {n255};
		CHECK(dir_is(d, w, 1), "readdir shows the 255-byte name");
	}
	CHECK(rename(P("%s/%s", d, n255), P("%s/%s", d, k255)) == 0,
	      "rename to another 255-byte name");
	CHECK_ERR(stat(P("%s/%s", d, n255), &st), ENOENT, "the old 255-byte name is gone");
	CHECK(file_is_str(P("%s/%s", d, k255), "two-five-five"), "content under the new name");
	{
		const char *w[] = {k255};
		CHECK(dir_is(d, w, 1), "readdir shows only the new 255-byte name");
	}
	CHECK_ERR(rename(P("%s/%s", d, k255), P("%s/%s", d, n256)), ENAMETOOLONG,
		  "rename to a 256-byte name: ENAMETOOLONG");
	CHECK_ERR(link(P("%s/%s", d, k255), P("%s/%s", d, n256)), ENAMETOOLONG,
		  "link to a 256-byte name: ENAMETOOLONG");
	CHECK(unlink(P("%s/%s", d, k255)) == 0, "unlink the 255-byte name");
	CHECK(dir_is(d, NULL, 0), "directory empty again");

	CHECK(mkdir(P("%s/%s", d, n255), 0755) == 0 &&
		  mkdir(P("%s/%s/%s", d, n255, k255), 0755) == 0 &&
		  write_str(P("%s/%s/%s/%s", d, n255, k255, u255), "nested long"),
	      "nested 255-byte directory names with a 255-byte UTF-8 file name");
	CHECK(file_is_str(P("%s/%s/%s/%s", d, n255, k255, u255), "nested long"),
	      "read the nested long-named file");
	{
		const char *w[] = {u255};
		CHECK(dir_is(P("%s/%s/%s", d, n255, k255), w, 1), "readdir shows the UTF-8 name");
	}
	CHECK(rename(P("%s/%s", d, n255), P("%s/short", d)) == 0 &&
		  file_is_str(P("%s/short/%s/%s", d, k255, u255), "nested long"),
	      "rename the long-named directory to a short name");
	CHECK(unlink(P("%s/short/%s/%s", d, k255, u255)) == 0 &&
		  rmdir(P("%s/short/%s", d, k255)) == 0 && rmdir(P("%s/short", d)) == 0,
	      "remove the nested long names");

	/* Every byte value 1..255 but '/', in groups of up to 50. */
	{
		bool ok = true;
		for (int start = 1; start <= 255; start += 50) {
			char name[64];
			size_t len = 0;
			for (int b = start; b < start + 50 && b <= 255; b++)
				if (b != '/')
					name[len++] = (char)b;
			name[len] = 0;
			nm[nn] = strdup(name);
			if (!write_str(P("%s/%s", d, name), name))
				ok = false;
			all[nn] = nm[nn];
			nn++;
		}
		CHECK(ok, "create %zu names covering byte values 1..255 except '/'", nn);
	}
	{
		bool ok = true;
		for (i = 0; i < nspecial; i++) {
			if (!write_str(P("%s/%s", d, special[i]), special[i])) {
				ok = false;
				print_name("cannot create", special[i]);
			}
			all[nn + i] = special[i];
		}
		CHECK(ok, "create names with spaces, newlines, dots and shell characters");
	}
	CHECK(dir_is(d, all, nn + nspecial), "readdir lists exactly those names");
	{
		bool ok = true;
		for (i = 0; i < nn + nspecial; i++) {
			struct stat s2;
			if (stat(P("%s/%s", d, all[i]), &s2) != 0 ||
			    !file_is_str(P("%s/%s", d, all[i]), all[i])) {
				ok = false;
				print_name("bad lookup or content for", all[i]);
			}
		}
		CHECK(ok, "every name looks up and holds its own name as content");
		for (i = 0; i < nn + nspecial; i++)
			if (unlink(P("%s/%s", d, all[i])) != 0)
				ok = false;
		CHECK(ok, "unlink them all");
	}
	CHECK(dir_is(d, NULL, 0), "directory empty again");
	for (i = 0; i < nn; i++)
		free(nm[i]);

	/* User names that look like the volume's own reserved names are ordinary names, in the
	 * root and in a subdirectory. */
	{
		bool ok = true;
		for (i = 0; i < nreserved; i++)
			if (!write_str(P("%s/%s", base, reserved[i]), reserved[i]) ||
			    !write_str(P("%s/%s", d, reserved[i]), reserved[i]))
				ok = false;
		CHECK(ok, "create files named like the reserved backing names");
		ok = true;
		for (i = 0; i < nreserved; i++)
			if (!file_is_str(P("%s/%s", base, reserved[i]), reserved[i]) ||
			    !file_is_str(P("%s/%s", d, reserved[i]), reserved[i]))
				ok = false;
		CHECK(ok, "they read back their own content");
		CHECK(dir_is(d, reserved, nreserved), "a subdirectory lists exactly them");
		ok = true;
		for (i = 0; i < nreserved; i++)
			if (unlink(P("%s/%s", base, reserved[i])) != 0 ||
			    unlink(P("%s/%s", d, reserved[i])) != 0)
				ok = false;
		CHECK(ok, "unlink them");
		CHECK(dir_is(d, NULL, 0), "directory empty again");
	}
}

/* ---- concurrency ----------------------------------------------------------------------- */

/* Byte of version k at offset o: k = 0 is the initial fill, 1.. the later versions. Each
 * byte value decodes back to a unique k, so a reader can tell garbage from a real version. */
static uint8_t vbyte(uint64_t o, unsigned k)
{
	return (uint8_t)(patb(o, 5) + 37u * k + 1u);
}

static unsigned inv37;

static unsigned vdecode(uint64_t o, uint8_t b)
{
	return ((unsigned)(uint8_t)(b - patb(o, 5) - 1u) * inv37) & 0xffu;
}

#define NSTRIPE	 320
#define STRIPE	 1000
#define STRIPE0	 123
#define TFILE_SZ (STRIPE0 + NSTRIPE * STRIPE)
#define NREGION	 40
#define REGION	 3000
#define REGION0	 7
#define OFILE_SZ (REGION0 + NREGION * REGION)

struct worker {
	pthread_t th;
	int fd, id, nthreads,
	    mode; /* mode: 0 disjoint writer, 1 rounds writer, 2 overlap writer, 3 reader */
	unsigned maxk;
	size_t fsz;
	int *stop;
	uint64_t rng;
	int err;
	char msg[200];
};

static uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

static void shuffle(int *v, int n, uint64_t *s)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(rnd(s) % (uint64_t)(i + 1)), t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static void wfail(struct worker *w, const char *what, uint64_t off)
{
	if (!w->err) {
		w->err = errno ? errno : -1;
		snprintf(w->msg, sizeof w->msg, "thread %d: %s at offset %llu (%s)", w->id, what,
			 (unsigned long long)off, errno ? strerror(errno) : "bad data");
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = xmalloc(10000);
	int order[NSTRIPE];
	int n = 0;

	if (w->mode == 0 || w->mode == 1) {
		for (int i = w->id; i < NSTRIPE; i += w->nthreads)
			order[n++] = i;
		for (unsigned round = 1; round <= (w->mode == 0 ? 1u : w->maxk); round++) {
			shuffle(order, n, &w->rng);
			for (int j = 0; j < n && !w->err; j++) {
				uint64_t off = STRIPE0 + (uint64_t)order[j] * STRIPE;
				for (int b = 0; b < STRIPE; b++)
					buf[b] = w->mode == 0 ? patb(off + (uint64_t)b, 1000)
							      : vbyte(off + (uint64_t)b, round);
				errno = 0;
				if (pwrite(w->fd, buf, STRIPE, (off_t)off) != STRIPE)
					wfail(w, "pwrite", off);
			}
		}
	} else if (w->mode == 2) {
		for (int i = 0; i < NREGION; i++)
			order[n++] = i;
		for (int pass = 0; pass < 2; pass++) {
			shuffle(order, n, &w->rng);
			for (int j = 0; j < n && !w->err; j++) {
				uint64_t off = REGION0 + (uint64_t)order[j] * REGION;
				for (int b = 0; b < REGION; b++)
					buf[b] = vbyte(off + (uint64_t)b, (unsigned)w->id);
				errno = 0;
				if (pwrite(w->fd, buf, REGION, (off_t)off) != REGION)
					wfail(w, "pwrite", off);
			}
		}
	} else {
		while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED) && !w->err) {
			uint64_t off = rnd(&w->rng) % w->fsz;
			size_t len = 1 + rnd(&w->rng) % 9000;
			ssize_t got;
			if (off + len > w->fsz)
				len = w->fsz - off;
			errno = 0;
			got = pread(w->fd, buf, len, (off_t)off);
			if (got != (ssize_t)len) {
				wfail(w, got < 0 ? "pread failed" : "short pread", off);
				break;
			}
			for (size_t b = 0; b < len; b++) {
				if (vdecode(off + b, buf[b]) > w->maxk) {
					errno = 0;
					wfail(w, "pread returned a byte no writer wrote", off + b);
					break;
				}
			}
		}
	}
	free(buf);
	return NULL;
}

static bool run_workers(struct worker *w, int nw, int nreaders_first)
{
	int stop = 0;
	bool ok = true;

	for (int i = 0; i < nw; i++) {
		w[i].stop = &stop;
		w[i].rng = 0x1234567ull * (uint64_t)(i + 1);
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			exit(2);
		}
	}
	/* writers are w[nreaders_first..], readers w[0..nreaders_first) */
	for (int i = nreaders_first; i < nw; i++)
		pthread_join(w[i].th, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < nreaders_first; i++)
		pthread_join(w[i].th, NULL);
	for (int i = 0; i < nw; i++) {
		if (w[i].err) {
			diag("%s", w[i].msg);
			ok = false;
		}
	}
	return ok;
}

static void t_threads(void)
{
	const char *d = mkd("threads");
	struct worker w[8];
	uint8_t *want = xmalloc(TFILE_SZ > OFILE_SZ ? TFILE_SZ : OFILE_SZ), *got;
	int fd;
	bool ok;

	for (inv37 = 1; (inv37 * 37u) % 256u != 1u; inv37 += 2)
		;

	/* 8 writers of disjoint unaligned 1000-byte stripes into an initially empty file. */
	fd = open(P("%s/disjoint", d), O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(fd >= 0, "create the file for concurrent writers");
	memset(w, 0, sizeof w);
	for (int i = 0; i < 8; i++)
		w[i] = (struct worker){.fd = fd, .id = i, .nthreads = 8, .mode = 0};
	CHECK(run_workers(w, 8, 0), "8 threads write disjoint unaligned stripes concurrently");
	memset(want, 0, STRIPE0);
	fill(want + STRIPE0, NSTRIPE * STRIPE, STRIPE0, 1000);
	CHECK(fd_is(fd, want, TFILE_SZ), "the whole file holds every stripe");
	close(fd);
	CHECK(file_is(P("%s/disjoint", d), want, TFILE_SZ), "same after close and reopen");

	/* 6 writers rewriting their stripes in 3 rounds while 2 readers check that every byte
	 * they see is one some writer wrote (or the initial fill). */
	fd = open(P("%s/rounds", d), O_CREAT | O_RDWR | O_TRUNC, 0644);
	for (size_t o = 0; o < TFILE_SZ; o++)
		want[o] = vbyte(o, 0);
	CHECK(fd >= 0 && pwrite_all(fd, want, TFILE_SZ, 0),
	      "prefill the file for readers and writers");
	memset(w, 0, sizeof w);
	for (int i = 0; i < 8; i++)
		w[i] = (struct worker){.fd = fd,
				       .id = i < 2 ? i : i - 2,
				       .nthreads = 6,
				       .mode = i < 2 ? 3 : 1,
				       .maxk = 3,
				       .fsz = TFILE_SZ};
	CHECK(run_workers(w, 8, 2),
	      "6 writers (3 rounds of disjoint stripes) and 2 concurrent readers: no errors, "
	      "no torn or garbage bytes");
	for (size_t o = STRIPE0; o < TFILE_SZ; o++)
		want[o] = vbyte(o, 3);
	CHECK(fd_is(fd, want, TFILE_SZ), "the file holds the last round everywhere");
	close(fd);

	/* 4 writers writing the same 3000-byte regions, 2 readers: each region ends up as
	 * exactly one writer's data. */
	fd = open(P("%s/overlap", d), O_CREAT | O_RDWR | O_TRUNC, 0644);
	for (size_t o = 0; o < OFILE_SZ; o++)
		want[o] = vbyte(o, 0);
	CHECK(fd >= 0 && pwrite_all(fd, want, OFILE_SZ, 0), "prefill the overlap file");
	memset(w, 0, sizeof w);
	for (int i = 0; i < 6; i++)
		w[i] = (struct worker){.fd = fd,
				       .id = i < 2 ? i : i - 1, /* writers are ids 1..4 */
				       .mode = i < 2 ? 3 : 2,
				       .maxk = 4,
				       .fsz = OFILE_SZ};
	CHECK(run_workers(w, 6, 2), "4 writers of overlapping regions and 2 readers: no errors");
	got = xmalloc(OFILE_SZ);
	ok = pread_all(fd, got, OFILE_SZ, 0) == OFILE_SZ;
	for (size_t o = 0; ok && o < REGION0; o++)
		ok = got[o] == vbyte(o, 0);
	for (int r = 0; ok && r < NREGION; r++) {
		uint64_t off = REGION0 + (uint64_t)r * REGION;
		unsigned k = vdecode(off, got[off]);
		if (k < 1 || k > 4) {
			diag("region %d starts with a byte of version %u", r, k);
			ok = false;
		}
		for (uint64_t b = 0; ok && b < REGION; b++) {
			if (got[off + b] != vbyte(off + b, k)) {
				diag("region %d: byte %llu is not writer %u's", r,
				     (unsigned long long)b, k);
				ok = false;
			}
		}
	}
	CHECK(ok, "each overlapping region holds exactly one writer's data");
	close(fd);
	free(got);
	free(want);
}

/* ---- what persists across a remount --------------------------------------------------- */

static void make_persist(void)
{
	const char *d = K(P("%s/persist", base));
	uint8_t val[256], *buf = xmalloc(4096);
	char tgt[1001];
	struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
	char n255[256];
	int fd;

	CHECK(mkdir(d, 0755) == 0, "mkdir persist");
	memset(buf, 'A', 4096);
	fd = open(P("%s/sparse", d), O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && pwrite_all(fd, buf, 4096, 0), "sparse: write 4 KiB at 0");
	memset(buf, 'B', 4096);
	CHECK(pwrite_all(fd, buf, 4096, 10 * (off_t)MiB), "sparse: write 4 KiB at 10 MiB");
	close(fd);
	for (int i = 0; i < 256; i++)
		val[i] = (uint8_t)i;
	CHECK(write_str(P("%s/xattr.f", d), "x") &&
		  setxattr(P("%s/xattr.f", d), "user.bin", val, 256, 0) == 0 &&
		  setxattr(P("%s/xattr.f", d), "user.empty", "", 0, 0) == 0,
	      "persist: xattrs");
	long_target(tgt, 1000);
	CHECK(symlink(tgt, P("%s/sym.long", d)) == 0 &&
		  symlink("mmap.dat", P("%s/sym.short", d)) == 0,
	      "persist: symlinks");
	CHECK(write_str(P("%s/hl.a", d), "linked") && link(P("%s/hl.a", d), P("%s/hl.b", d)) == 0,
	      "persist: hard link");
	CHECK(write_str(P("%s/mode.f", d), "mode") && chmod(P("%s/mode.f", d), 0640) == 0 &&
		  (geteuid() != 0 || chown(P("%s/mode.f", d), 1234, 5678) == 0) &&
		  utimensat(AT_FDCWD, P("%s/mode.f", d), ts, 0) == 0,
	      "persist: mode, owner, times");
	memset(n255, 'N', 255);
	n255[255] = 0;
	CHECK(write_str(P("%s/%s", d, n255), "long name"), "persist: a 255-byte name");
	CHECK(mkfifo(P("%s/fifo", d), 0600) == 0, "persist: FIFO");
	CHECK(mkdir(P("%s/sub", d), 0711) == 0 && mkdir(P("%s/sub/deeper", d), 0755) == 0 &&
		  write_str(P("%s/sub/deeper/f", d), "deep"),
	      "persist: nested directories");
	free(buf);
}

static void check_persist(void)
{
	const char *d = K(P("%s/persist", base));
	uint8_t *want = xmalloc(10 * MiB + 4096), val[256], got[300];
	char tgt[1001], buf[2000], n255[256];
	struct stat st, st2;
	ssize_t n;

	memset(n255, 'N', 255);
	n255[255] = 0;
	{
		const char *w[] = {"sparse", "xattr.f", "sym.long", "sym.short", "hl.a",    "hl.b",
				   "mode.f", n255,	"fifo",	    "sub",	 "mmap.dat"};
		CHECK(dir_is(d, w, sizeof w / sizeof w[0]), "persist lists exactly its entries");
	}
	mmap_expected(want, MMAP_SIZE);
	CHECK(file_is(P("%s/mmap.dat", d), want, MMAP_SIZE), "persist: mmap-written data");
	memset(want, 0, 10 * MiB + 4096);
	memset(want, 'A', 4096);
	memset(want + 10 * MiB, 'B', 4096);
	CHECK(file_is(P("%s/sparse", d), want, 10 * MiB + 4096),
	      "persist: sparse file reads A, zeros, B");
	for (int i = 0; i < 256; i++)
		val[i] = (uint8_t)i;
	CHECK(getxattr(P("%s/xattr.f", d), "user.bin", got, sizeof got) == 256 &&
		  !memcmp(got, val, 256) &&
		  getxattr(P("%s/xattr.f", d), "user.empty", got, sizeof got) == 0,
	      "persist: xattr values");
	long_target(tgt, 1000);
	n = readlink(P("%s/sym.long", d), buf, sizeof buf);
	CHECK(n == 1000 && !memcmp(buf, tgt, 1000), "persist: long symlink target");
	n = readlink(P("%s/sym.short", d), buf, sizeof buf);
	CHECK(n == 8 && !memcmp(buf, "mmap.dat", 8), "persist: short symlink target");
	CHECK(stat(P("%s/hl.a", d), &st) == 0 && stat(P("%s/hl.b", d), &st2) == 0 &&
		  st.st_nlink == 2 && st2.st_nlink == 2 && st.st_ino == st2.st_ino &&
		  file_is_str(P("%s/hl.b", d), "linked"),
	      "persist: hard links");
	CHECK(stat(P("%s/mode.f", d), &st) == 0 && (st.st_mode & 07777) == 0640 &&
		  (geteuid() != 0 || (st.st_uid == 1234 && st.st_gid == 5678)) &&
		  st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789 &&
		  st.st_mtim.tv_sec == 1200000000 && st.st_mtim.tv_nsec == 987654321,
	      "persist: mode 0640, owner 1234:5678, exact times");
	CHECK(file_is_str(P("%s/%s", d, n255), "long name"), "persist: 255-byte name");
	CHECK(lstat(P("%s/fifo", d), &st) == 0 && S_ISFIFO(st.st_mode) &&
		  (st.st_mode & 0777) == 0600,
	      "persist: FIFO");
	CHECK(stat(P("%s/sub", d), &st) == 0 && S_ISDIR(st.st_mode) &&
		  (st.st_mode & 07777) == 0711 && file_is_str(P("%s/sub/deeper/f", d), "deep"),
	      "persist: nested directories");
	free(want);
}

static void t_final(void)
{
	static const char *const top[] = {
	    "basic",   "truncate", "append",   "fallocate", "sync",    "dirs",
	    "readdir", "rename",   "links",    "symlink",   "mknod",   "attrs",
	    "access",  "xattr",	   "unlinked", "names",	    "threads", "persist",
	};
	CHECK(dir_is_eventually(base, top, sizeof top / sizeof top[0]),
	      "the top directory lists exactly the test directories");
}

int main(int argc, char **argv)
{
	bool persist_only = false;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--ecfs"))
			ecfs_mode = true;
		else if (!strcmp(argv[i], "--allow-no-punch"))
			allow_no_punch = true;
		else if (!strcmp(argv[i], "--check-persist"))
			persist_only = true;
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: posixops [--ecfs] [--allow-no-punch] DIR\n"
				"       posixops --check-persist DIR\n");
		return 2;
	}
	if (!realpath(argv[i], base)) {
		perror(argv[i]);
		return 2;
	}
	umask(022);
	if (persist_only) {
		check_persist();
	} else {
		t_start();
		make_persist();
		t_mmap();
		check_persist();
		t_seek_sparse();
		t_basic();
		t_truncate();
		t_append_trunc();
		t_fallocate();
		t_sync();
		t_dirs();
		t_readdir();
		t_rename();
		t_links();
		t_symlink();
		t_mknod();
		t_attrs();
		t_statfs_access();
		t_xattr();
		t_unlinked_open();
		t_names();
		t_threads();
		t_final();
	}
	for (i = 0; i < nkept; i++)
		free(kept[i]);
	printf("1..%d\n", ntest);
	if (nfail)
		printf("# %d of %d checks failed\n", nfail, ntest);
	return nfail ? 1 : 0;
}
