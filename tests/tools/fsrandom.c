/* SPDX-License-Identifier: MIT */
/*
 * fsrandom.c - a seedable random-operation tester. It applies the same random operations to
 * a small set of files in directory A (the file system under test) and directory B (a plain
 * reference directory) and requires identical results: return values, errno, sizes, data.
 *
 *   fsrandom --seed N --ops N --dir-a A --dir-b B [--check-every N] [--files N]
 *            [--max-size BYTES] [--verify-only]
 *
 * Operations: pwrite at random offsets and sizes (0..300 KiB, unaligned, around chunk
 * boundaries, far past EOF to make holes), reads compared between A and B, truncate and
 * ftruncate (grow and shrink), fallocate (mode 0 and PUNCH_HOLE|KEEP_SIZE), rename between
 * the names, unlink, recreate with O_TRUNC, close/reopen, fsync. Every --check-every ops and
 * at the end the listings, sizes and full contents of both directories are compared.
 * --verify-only does only that comparison (for use after a remount).
 *
 * Prints "seed=N" first. On a mismatch prints the seed, the op number, the op and the last
 * few ops before it, and exits 1. Exits 2 on a usage or setup error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

#define MAXFILES 16
#define MAXIO	 (300 * 1024)
#define HISTORY	 8

static uint64_t seed, rng;
static long nops = 1000, check_every = 250, opno;
static int nfiles = 5;
static uint64_t max_size = 4 * 1024 * 1024;
static const char *dira, *dirb;
static int fda[MAXFILES], fdb[MAXFILES];
static char history[HISTORY][200];
static char desc[200];
static uint8_t *wbuf, *ra, *rb;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t rnd(void)
{
	rng += 0x9e3779b97f4a7c15ull;
	return mix64(rng);
}

/* Uniform in [0, n). */
static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

__attribute__((noreturn, format(printf, 1, 2))) static void mismatch(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "fsrandom: MISMATCH seed=%" PRIu64 " op=%ld: %s: ", seed, opno, desc);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fprintf(stderr, "fsrandom: the ops before it, oldest first:\n");
	for (long i = opno - HISTORY; i < opno; i++)
		if (i >= 0 && history[i % HISTORY][0])
			fprintf(stderr, "  op %ld: %s\n", i, history[i % HISTORY]);
	fprintf(stderr, "fsrandom: reproduce with --seed %" PRIu64 " --ops %ld\n", seed, nops);
	exit(1);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsrandom: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void pathof(char *buf, const char *dir, int i)
{
	snprintf(buf, PATH_MAX, "%s/f%d", dir, i);
}

/* Two results agree: the same return value, and the same errno when both failed. */
static void same(const char *what, long r1, int e1, long r2, int e2)
{
	if (r1 != r2 || (r1 < 0 && e1 != e2))
		mismatch("%s: A returned %ld (%s), B returned %ld (%s)", what, r1,
			 r1 < 0 ? strerror(e1) : "ok", r2, r2 < 0 ? strerror(e2) : "ok");
}

static bool exists_b(int i)
{
	char p[PATH_MAX];
	struct stat st;

	pathof(p, dirb, i);
	return stat(p, &st) == 0;
}

static void close_fds(int i)
{
	if (fda[i] >= 0) {
		if (close(fda[i]) != 0)
			mismatch("close of f%d in A failed: %s", i, strerror(errno));
		fda[i] = -1;
	}
	if (fdb[i] >= 0) {
		if (close(fdb[i]) != 0)
			die("close in B: %s", strerror(errno));
		fdb[i] = -1;
	}
}

/* Opens (creating if needed) file i in both directories. */
static void open_fds(int i, int extra)
{
	char p[PATH_MAX];
	int ea, eb;

	if (fda[i] >= 0 && fdb[i] >= 0 && !extra)
		return;
	close_fds(i);
	pathof(p, dira, i);
	errno = 0;
	fda[i] = open(p, O_RDWR | O_CREAT | extra, 0644);
	ea = errno;
	pathof(p, dirb, i);
	errno = 0;
	fdb[i] = open(p, O_RDWR | O_CREAT | extra, 0644);
	eb = errno;
	if (fdb[i] < 0)
		die("open %s: %s", p, strerror(eb));
	if (fda[i] < 0)
		mismatch("open of f%d in A failed: %s", i, strerror(ea));
}

static uint64_t size_b(int i)
{
	struct stat st;

	if (fdb[i] < 0 || fstat(fdb[i], &st) != 0)
		die("fstat in B: %s", strerror(errno));
	return (uint64_t)st.st_size;
}

static void fill_random(uint8_t *b, size_t n)
{
	uint64_t x = rnd();
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		x = mix64(x + 0x9e3779b97f4a7c15ull);
		memcpy(b + i, &x, 8);
	}
	x = mix64(x + 1);
	for (; i < n; i++, x >>= 8)
		b[i] = (uint8_t)x;
	/* Make some writes compressible-looking or zero-filled, to hit zero detection. */
	if (n && below(10) == 0) {
		size_t s = (size_t)below(n);
		memset(b + s, 0, (size_t)below(n - s + 1));
	}
}

/* An offset: uniformly inside or a bit past the file, near a chunk boundary, or far past
 * EOF (a hole). */
static uint64_t pick_offset(uint64_t size)
{
	uint64_t off;

	switch (below(6)) {
	case 0:
	case 1:
		off = below(size + 1);
		break;
	case 2: { /* around a 4 KiB / 64 KiB / 1 MiB boundary */
		static const uint64_t units[] = {4096, 65536, 1048576};
		uint64_t u = units[below(3)], k = below((size + 2 * u) / u + 1);
		off = k * u + below(200);
		off = off >= 100 ? off - 100 : 0;
		break;
	}
	case 3:
		off = size; /* append */
		break;
	case 4:
		off = size + below(70000);
		break;
	default:
		off = size + below(1536 * 1024); /* far past EOF: a hole */
		break;
	}
	if (off > max_size)
		off = below(max_size);
	return off;
}

static size_t pick_len(void)
{
	switch (below(4)) {
	case 0:
		return (size_t)below(64);
	case 1:
		return (size_t)below(9000);
	case 2:
		return (size_t)below(70000);
	default:
		return (size_t)below(MAXIO + 1);
	}
}

static void op_pwrite(int i)
{
	uint64_t off;
	size_t len;
	ssize_t r1, r2;
	int e1, e2;

	open_fds(i, 0);
	off = pick_offset(size_b(i));
	len = pick_len();
	if (off + len > max_size + MAXIO)
		len = 0;
	snprintf(desc, sizeof desc, "pwrite f%d off=%" PRIu64 " len=%zu", i, off, len);
	fill_random(wbuf, len);
	errno = 0;
	r1 = pwrite(fda[i], wbuf, len, (off_t)off);
	e1 = errno;
	errno = 0;
	r2 = pwrite(fdb[i], wbuf, len, (off_t)off);
	e2 = errno;
	same("pwrite", r1, e1, r2, e2);
}

static void op_read(int i)
{
	uint64_t off, size;
	size_t len;
	ssize_t r1, r2;
	int e1, e2;

	open_fds(i, 0);
	size = size_b(i);
	off = below(4) == 0 ? size + below(100000) - 50000 : below(size + 1);
	if ((int64_t)off < 0)
		off = 0;
	len = pick_len();
	snprintf(desc, sizeof desc, "pread f%d off=%" PRIu64 " len=%zu (size %" PRIu64 ")", i, off,
		 len, size);
	errno = 0;
	r1 = pread(fda[i], ra, len, (off_t)off);
	e1 = errno;
	errno = 0;
	r2 = pread(fdb[i], rb, len, (off_t)off);
	e2 = errno;
	/* A short read is allowed only at EOF, which B tells; FUSE reads are whole. */
	same("pread", r1, e1, r2, e2);
	if (r1 > 0 && memcmp(ra, rb, (size_t)r1)) {
		size_t k = 0;
		while (ra[k] == rb[k])
			k++;
		mismatch("pread data differs first at file offset %" PRIu64 " (A 0x%02x, B 0x%02x)",
			 off + k, ra[k], rb[k]);
	}
}

static void op_truncate(int i)
{
	uint64_t size, ns;
	char pa[PATH_MAX], pb[PATH_MAX];
	bool by_path = below(2);
	long r1, r2;
	int e1, e2;

	open_fds(i, 0);
	size = size_b(i);
	switch (below(4)) {
	case 0:
		ns = below(size + 1); /* shrink */
		break;
	case 1:
		ns = size + below(300000); /* grow */
		break;
	case 2:
		ns = size > 5000 ? size - below(5000) : size + below(5000); /* a little */
		break;
	default: { /* to just around a chunk boundary */
		uint64_t u = below(2) ? 4096 : 65536;
		ns = below(size / u + 2) * u + below(3);
		ns = ns > 1 ? ns - 1 : 0;
		break;
	}
	}
	if (ns > max_size)
		ns = below(max_size);
	snprintf(desc, sizeof desc, "%s f%d from %" PRIu64 " to %" PRIu64,
		 by_path ? "truncate" : "ftruncate", i, size, ns);
	pathof(pa, dira, i);
	pathof(pb, dirb, i);
	errno = 0;
	r1 = by_path ? truncate(pa, (off_t)ns) : ftruncate(fda[i], (off_t)ns);
	e1 = errno;
	errno = 0;
	r2 = by_path ? truncate(pb, (off_t)ns) : ftruncate(fdb[i], (off_t)ns);
	e2 = errno;
	same(by_path ? "truncate" : "ftruncate", r1, e1, r2, e2);
}

static void op_fallocate(int i, bool punch)
{
	uint64_t size, off, len;
	int mode = punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : 0;
	long r1, r2;
	int e1, e2;

	open_fds(i, 0);
	size = size_b(i);
	off = punch ? below(size + 10000) : pick_offset(size);
	len = 1 + below(punch ? 200000 : 100000);
	if (off + len > max_size + MAXIO)
		off = 0;
	snprintf(desc, sizeof desc,
		 "fallocate f%d %s off=%" PRIu64 " len=%" PRIu64 " (size %" PRIu64 ")", i,
		 punch ? "PUNCH_HOLE|KEEP_SIZE" : "mode 0", off, len, size);
	errno = 0;
	r1 = fallocate(fda[i], mode, (off_t)off, (off_t)len);
	e1 = errno;
	errno = 0;
	r2 = fallocate(fdb[i], mode, (off_t)off, (off_t)len);
	e2 = errno;
	same("fallocate", r1, e1, r2, e2);
}

static void op_rename(void)
{
	int s = (int)below((uint64_t)nfiles), d = (int)below((uint64_t)nfiles - 1);
	char a1[PATH_MAX], a2[PATH_MAX], b1[PATH_MAX], b2[PATH_MAX];
	long r1, r2;
	int e1, e2;

	if (d >= s)
		d++;
	snprintf(desc, sizeof desc, "rename f%d -> f%d (f%d %s, f%d %s)", s, d, s,
		 exists_b(s) ? "exists" : "missing", d, exists_b(d) ? "exists" : "missing");
	pathof(a1, dira, s);
	pathof(a2, dira, d);
	pathof(b1, dirb, s);
	pathof(b2, dirb, d);
	errno = 0;
	r1 = rename(a1, a2);
	e1 = errno;
	errno = 0;
	r2 = rename(b1, b2);
	e2 = errno;
	same("rename", r1, e1, r2, e2);
	if (r2 == 0) {
		/* descriptors follow the file; the replaced file's descriptors are dropped */
		close_fds(d);
		fda[d] = fda[s];
		fdb[d] = fdb[s];
		fda[s] = fdb[s] = -1;
	}
}

static void op_unlink(int i)
{
	char pa[PATH_MAX], pb[PATH_MAX];
	long r1, r2;
	int e1, e2;

	snprintf(desc, sizeof desc, "unlink f%d (%s)", i, exists_b(i) ? "exists" : "missing");
	close_fds(i);
	pathof(pa, dira, i);
	pathof(pb, dirb, i);
	errno = 0;
	r1 = unlink(pa);
	e1 = errno;
	errno = 0;
	r2 = unlink(pb);
	e2 = errno;
	same("unlink", r1, e1, r2, e2);
}

/* Full comparison of one file through fresh descriptors. */
static void compare_file(int i)
{
	char pa[PATH_MAX], pb[PATH_MAX];
	struct stat sa, sb;
	int ra_ = 0, rb_ = 0, ea, eb, fa, fb;
	uint64_t off = 0;

	pathof(pa, dira, i);
	pathof(pb, dirb, i);
	errno = 0;
	ra_ = stat(pa, &sa);
	ea = errno;
	errno = 0;
	rb_ = stat(pb, &sb);
	eb = errno;
	if (ra_ != rb_ || (ra_ && ea != eb))
		mismatch("stat f%d: A %s, B %s", i, ra_ ? strerror(ea) : "exists",
			 rb_ ? strerror(eb) : "exists");
	if (rb_)
		return;
	if (sa.st_size != sb.st_size)
		mismatch("f%d size: A %lld, B %lld", i, (long long)sa.st_size,
			 (long long)sb.st_size);
	if (fda[i] >= 0) {
		struct stat fs;
		if (fstat(fda[i], &fs) != 0 || fs.st_size != sb.st_size)
			mismatch("f%d size through the open descriptor: %lld, expected %lld", i,
				 (long long)fs.st_size, (long long)sb.st_size);
	}
	fa = open(pa, O_RDONLY);
	if (fa < 0)
		mismatch("open f%d in A: %s", i, strerror(errno));
	fb = open(pb, O_RDONLY);
	if (fb < 0)
		die("open %s: %s", pb, strerror(errno));
	for (;;) {
		ssize_t n1 = pread(fa, ra, 1 << 20, (off_t)off), n2;
		int e1 = errno;
		n2 = pread(fb, rb, 1 << 20, (off_t)off);
		if (n1 < 0)
			mismatch("read f%d at %" PRIu64 " in A: %s", i, off, strerror(e1));
		if (n2 < 0)
			die("read %s: %s", pb, strerror(errno));
		if (n1 != n2)
			mismatch("read f%d at %" PRIu64 ": A gave %zd bytes, B %zd", i, off, n1,
				 n2);
		if (memcmp(ra, rb, (size_t)n1)) {
			size_t k = 0;
			while (ra[k] == rb[k])
				k++;
			mismatch("f%d content differs first at offset %" PRIu64
				 " (A 0x%02x, B 0x%02x)",
				 i, off + k, ra[k], rb[k]);
		}
		if (n1 == 0)
			break;
		off += (uint64_t)n1;
	}
	close(fa);
	close(fb);
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir (without . and ..) into v, at most max; the count. */
static size_t listdir(const char *dir, char **v, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		mismatch("opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == max)
			mismatch("%s has more than %zu entries", dir, max);
		v[n] = strdup(e->d_name);
		if (!v[n])
			die("out of memory");
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(char *), cmpstr);
	return n;
}

static void verify_all(const char *why)
{
	char *la[MAXFILES + 8], *lb[MAXFILES + 8];
	size_t na, nb;

	snprintf(desc, sizeof desc, "full comparison (%s)", why);
	na = listdir(dira, la, MAXFILES + 8);
	nb = listdir(dirb, lb, MAXFILES + 8);
	for (size_t k = 0; k < na || k < nb; k++) {
		if (k >= na || k >= nb || strcmp(la[k], lb[k]))
			mismatch("directory listings differ at entry %zu: A '%s', B '%s'", k,
				 k < na ? la[k] : "(none)", k < nb ? lb[k] : "(none)");
	}
	for (size_t k = 0; k < na; k++)
		free(la[k]);
	for (size_t k = 0; k < nb; k++)
		free(lb[k]);
	for (int i = 0; i < nfiles; i++)
		compare_file(i);
}

static void one_op(void)
{
	int i = (int)below((uint64_t)nfiles);
	uint64_t w = below(100);

	desc[0] = 0;
	if (w < 34) {
		op_pwrite(i);
	} else if (w < 50) {
		op_read(i);
	} else if (w < 62) {
		op_truncate(i);
	} else if (w < 70) {
		op_fallocate(i, true);
	} else if (w < 73) {
		op_fallocate(i, false);
	} else if (w < 79) {
		op_rename();
	} else if (w < 83) {
		op_unlink(i);
	} else if (w < 86) {
		snprintf(desc, sizeof desc, "recreate f%d with O_TRUNC", i);
		open_fds(i, O_TRUNC);
	} else if (w < 92) {
		snprintf(desc, sizeof desc, "close f%d", i);
		close_fds(i);
	} else if (w < 95) {
		snprintf(desc, sizeof desc, "fsync f%d", i);
		open_fds(i, 0);
		if (fsync(fda[i]) != 0)
			mismatch("fsync in A: %s", strerror(errno));
	} else {
		snprintf(desc, sizeof desc, "compare f%d", i);
		compare_file(i);
	}
}

static uint64_t num(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end)
		die("%s: not a number: %s", opt, s);
	return (uint64_t)v;
}

int main(int argc, char **argv)
{
	bool verify_only = false, have_seed = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--verify-only")) {
			verify_only = true;
			continue;
		}
		if (!v)
			die("usage: fsrandom --seed N --ops N --dir-a A --dir-b B [--check-every "
			    "N] "
			    "[--files N] [--max-size BYTES] [--verify-only]");
		i++;
		if (!strcmp(a, "--seed")) {
			seed = num(a, v);
			have_seed = true;
		} else if (!strcmp(a, "--ops")) {
			nops = (long)num(a, v);
		} else if (!strcmp(a, "--check-every")) {
			check_every = (long)num(a, v);
		} else if (!strcmp(a, "--files")) {
			nfiles = (int)num(a, v);
		} else if (!strcmp(a, "--max-size")) {
			max_size = num(a, v);
		} else if (!strcmp(a, "--dir-a")) {
			dira = v;
		} else if (!strcmp(a, "--dir-b")) {
			dirb = v;
		} else {
			die("unknown option %s", a);
		}
	}
	if (!dira || !dirb)
		die("--dir-a and --dir-b are required");
	if (nfiles < 2 || nfiles > MAXFILES)
		die("--files must be 2..%d", MAXFILES);
	if (!have_seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	rng = seed;
	printf("seed=%" PRIu64 "\n", seed);
	fflush(stdout);
	for (int i = 0; i < MAXFILES; i++)
		fda[i] = fdb[i] = -1;
	wbuf = malloc(MAXIO + 1);
	ra = malloc(1 << 20);
	rb = malloc(1 << 20);
	if (!wbuf || !ra || !rb)
		die("out of memory");
	if (verify_only) {
		opno = 0;
		verify_all("--verify-only");
	} else {
		for (opno = 0; opno < nops; opno++) {
			one_op();
			snprintf(history[opno % HISTORY], sizeof history[0], "%s", desc);
			if (check_every > 0 && (opno + 1) % check_every == 0)
				verify_all("periodic");
		}
		for (int i = 0; i < nfiles; i++)
			close_fds(i);
		verify_all("at the end");
	}
	printf("fsrandom: %ld ops, all comparisons equal\n", verify_only ? 0 : nops);
	free(wbuf);
	free(ra);
	free(rb);
	return 0;
}
