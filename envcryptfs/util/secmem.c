/* SPDX-License-Identifier: MIT */
/*
 * secmem.c - the one place secrets live: page-backed buffers that are mlock()ed, kept out of
 * core dumps, and wiped with OPENSSL_cleanse before they are unmapped.
 */
#include "ecfs_util.h"

#include <ctype.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

struct ecfs_secret {
	size_t len;		     /* visible length */
	size_t map_len;		     /* bytes mapped, this struct included */
	bool locked;		     /* mlock succeeded (it may not, without CAP_IPC_LOCK) */
	_Alignas(16) uint8_t data[]; /* callers keep structs here */
};

void ecfs_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

/* Deep enough for what libcurl and OpenSSL leave below the caller in one HTTPS exchange. */
#define STACK_SCRUB (128 * 1024)

/* Vector registers keep what memcpy and the ciphers last moved through them; a thread made
 * later starts with a copy of them, and glibc's lazy binding saves them all to its stack
 * (_dl_runtime_resolve_xsavec), as does the kernel for a signal. */
__attribute__((noinline)) static void wipe_vector_registers(void)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		__asm__ volatile(
		    "vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
		    "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
		    "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
		    "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
		    "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
		    "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
		    "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
		    "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31" ::
			: "memory");
	if (__builtin_cpu_supports("avx"))
		__asm__ volatile("vzeroall" ::: "memory");
	else
		__asm__ volatile(
		    "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
		    "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
		    "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
		    "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
		    "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\t"
		    "pxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15" ::
			: "memory");
#endif
}

__attribute__((noinline)) void ecfs_wipe_stack(void)
{
	uint8_t below[STACK_SCRUB];

	OPENSSL_cleanse(below, sizeof(below));
	wipe_vector_registers();
}

int ecfs_random(void *buf, size_t len)
{
	if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1)
		return ecfs_fail(-EIO, "random number generator failed");
	return 0;
}

int ecfs_memcmp_ct(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) ? 1 : 0;
}

void ecfs_harden_process(void)
{
	/* No core file, no /proc/PID/mem for others: key material stays in this process. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Something allocated through OpenSSL before main(): its key schedules would be in the
	 * ordinary heap. Not expected; say so rather than pretend. */
	if (!ecfs_secheap_installed())
		fputs("warning: OpenSSL's allocator could not be replaced: key schedules are not "
		      "in locked memory\n",
		      stderr);
}

struct ecfs_secret *ecfs_secret_new(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t need = sizeof(struct ecfs_secret) + len;
	size_t map_len = (need + (size_t)page - 1) / (size_t)page * (size_t)page;
	struct ecfs_secret *s;

	s = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	madvise(s, map_len, MADV_DONTDUMP);
	madvise(s, map_len, MADV_WIPEONFORK);
	s->locked = mlock(s, map_len) == 0;
	s->len = len;
	s->map_len = map_len;
	return s;
}

uint8_t *ecfs_secret_data(const struct ecfs_secret *s)
{
	return (uint8_t *)s->data;
}

size_t ecfs_secret_len(const struct ecfs_secret *s)
{
	return s->len;
}

void ecfs_secret_truncate(struct ecfs_secret *s, size_t len)
{
	if (len < s->len) {
		ecfs_wipe(s->data + len, s->len - len);
		s->len = len;
	}
}

void ecfs_secret_free(struct ecfs_secret *s)
{
	size_t map_len;

	if (!s)
		return;
	map_len = s->map_len;
	OPENSSL_cleanse(s, map_len);
	munlock(s, map_len);
	munmap(s, map_len);
}

/* Reads at most max bytes (plus one, to detect an oversize file) straight into locked memory. */
static int read_all(int fd, struct ecfs_secret *s, size_t max, size_t *got)
{
	size_t n = 0;

	while (n < max + 1) {
		ssize_t r = read(fd, s->data + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

/* what names the file in messages ("key file", "passphrase file"). */
static int read_secret_file(const char *path, const char *what, size_t min, size_t max,
			    struct ecfs_secret **out, struct stat *st_out)
{
	struct ecfs_secret *s;
	struct stat st;
	size_t got = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return ecfs_fail(-errno, "cannot open %s '%s': %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		close(fd);
		return ecfs_fail(-EISDIR, "%s '%s' is a directory", what, path);
	}
	if (st_out)
		*st_out = st;
	s = ecfs_secret_new(max + 1);
	if (!s) {
		close(fd);
		return ecfs_fail(-ENOMEM, "out of memory reading '%s'", path);
	}
	r = read_all(fd, s, max, &got);
	close(fd);
	if (r < 0) {
		ecfs_secret_free(s);
		return ecfs_fail(r, "cannot read %s '%s': %s", what, path, strerror(-r));
	}
	if (got > max || got < min) {
		ecfs_secret_free(s);
		return ecfs_fail(-EINVAL, "%s '%s' has %s%zu bytes; it must have %zu to %zu", what,
				 path, got > max ? "more than " : "", got > max ? max : got, min,
				 max);
	}
	ecfs_secret_truncate(s, got);
	*out = s;
	return 0;
}

int ecfs_secret_read_file(const char *path, size_t min, size_t max, struct ecfs_secret **out,
			  struct stat *st_out)
{
	return read_secret_file(path, "key file", min, max, out, st_out);
}

#define PASSPHRASE_MAX 4096

int ecfs_secret_read_passphrase_file(const char *path, struct ecfs_secret **out, struct stat *st)
{
	struct ecfs_secret *s;
	/* An empty file is refused below, as a passphrase file that is empty. */
	int r = read_secret_file(path, "passphrase file", 0, PASSPHRASE_MAX, &s, st);
	size_t len;

	if (r < 0)
		return r;
	len = s->len;
	if (len && s->data[len - 1] == '\n')
		len--;
	if (len && s->data[len - 1] == '\r')
		len--;
	if (len == 0) {
		ecfs_secret_free(s);
		return ecfs_fail(-EINVAL, "passphrase file '%s' is empty", path);
	}
	ecfs_secret_truncate(s, len);
	*out = s;
	return 0;
}

/* The second prompt names what the first asked for: "Export password: " is followed by
 * "Repeat the export password: ". */
static void repeat_prompt(const char *prompt, char *buf, size_t len)
{
	if (!*prompt)
		snprintf(buf, len, "Repeat it: ");
	else
		snprintf(buf, len, "Repeat the %c%s", tolower((unsigned char)prompt[0]),
			 prompt + 1);
}

/* Reads one line from the terminal with echo off into s; returns its length or -errno. */
static int read_tty_line(int fd, const char *prompt, struct ecfs_secret *s)
{
	struct termios old, quiet;
	size_t n = 0;
	int r = 0;

	if (tcgetattr(fd, &old) < 0)
		return -ENOTTY;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
		return -errno;
	while (n < PASSPHRASE_MAX) {
		char ch;
		ssize_t got = read(fd, &ch, 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || ch == '\n')
			break;
		s->data[n++] = (uint8_t)ch;
	}
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		r = -errno;
	return r < 0 ? r : (int)n;
}

int ecfs_secret_read_passphrase_tty(const char *prompt, bool confirm, struct ecfs_secret **out)
{
	struct ecfs_secret *a = ecfs_secret_new(PASSPHRASE_MAX), *b = NULL;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY), la, lb, r = 0;
	char again[128];

	if (fd < 0 || !a) {
		r = ecfs_fail(fd < 0 ? -ENOTTY : -ENOMEM,
			      "no terminal to ask for a passphrase; give a passphrase file");
		goto out;
	}
	la = read_tty_line(fd, prompt, a);
	if (la <= 0) {
		r = ecfs_fail(la < 0 ? la : -EINVAL, "no passphrase was entered");
		goto out;
	}
	if (confirm) {
		b = ecfs_secret_new(PASSPHRASE_MAX);
		repeat_prompt(prompt, again, sizeof(again));
		lb = b ? read_tty_line(fd, again, b) : -ENOMEM;
		if (lb != la || ecfs_memcmp_ct(a->data, b->data, (size_t)la)) {
			r = ecfs_fail(-EINVAL, "the passphrases do not match");
			goto out;
		}
	}
	ecfs_secret_truncate(a, (size_t)la);
	*out = a;
	a = NULL;
out:
	if (fd >= 0)
		close(fd);
	ecfs_secret_free(a);
	ecfs_secret_free(b);
	return r;
}
