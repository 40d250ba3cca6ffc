/* SPDX-License-Identifier: MIT */
/* repair.c - whether to repair a problem (-n, -p, -y or a question), and the repairs. */
#include "fsck.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum decision { NO_FIX, DO_FIX, ASK_FIX, SKIP_FIX };

/* What the mode allows for fix; *why says why not when it is SKIP_FIX. */
static enum decision decide(const struct fsck *f, const struct fix *fix, const char **why)
{
	*why = NULL;
	if (!fix)
		return NO_FIX;
	if (fix->needs_key && !f->have_key)
		*why = "not repaired: needs the key";
	else if (f->o.mode == MODE_NO)
		*why = f->o.explicit_n ? "not repaired (-n)"
				       : "not repaired (no terminal to ask on: use -p or -y)";
	else if (f->o.mode == MODE_PREEN && fix->safety == FIX_LOSSY)
		*why = "not repaired: drops unreadable data, so only -y or a yes does it";
	else if (f->o.mode == MODE_ASK)
		return ASK_FIX;
	return *why ? SKIP_FIX : DO_FIX;
}

/* Reads one character of an answer; 0 at the end of input or on a cancel. Polls, because a
 * signal interrupts only the walking thread, and a worker may be the one asking. */
static int read_answer(char *c)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

	while (!fsck_cancelled) {
		int r = poll(&p, 1, 200);

		if (r > 0)
			return read(STDIN_FILENO, c, 1) == 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
	return 0;
}

/* Asks on the terminal (stdin); end of input or a signal means no. */
static bool ask(const char *question)
{
	char c, first;
	int r;

	for (;;) {
		fprintf(stderr, "%s? [y/n] ", question);
		fflush(stderr);
		first = 0;
		while ((r = read_answer(&c)) == 1 && c != '\n')
			if (!first && c != ' ' && c != '\t')
				first = c;
		if (r != 1) {
			fputc('\n', stderr);
			return false;
		}
		if (first == 'y' || first == 'Y')
			return true;
		if (first == 'n' || first == 'N')
			return false;
	}
}

static void print_problem(struct report *r, const struct problem *p, const char *outcome)
{
	report_line_locked(r, "%s: %s: %s: %s%s%s", PROG, p->path, p->what, p->detail,
			   outcome ? "; " : "", outcome ? outcome : "");
}

/* Runs the fix; prints the outcome and returns the exit bits. */
static int run_fix(struct report *r, const struct problem *p, const struct fix *fix,
		   bool separate_line)
{
	char failed[300];
	int err = fix->fn(fix->arg);

	if (err < 0)
		snprintf(failed, sizeof(failed), "repair failed: %s", ecfs_strerror(err));
	if (separate_line)
		report_line_locked(r, "%s: %s: %s", PROG, p->path, err < 0 ? failed : fix->done);
	else
		print_problem(r, p, err < 0 ? failed : fix->done);
	return err < 0 ? FSCK_UNCORRECTED | FSCK_OPERROR : FSCK_CORRECTED;
}

struct problem problem_of(enum fsck_pass pass, const char *path, const char *backing,
			  const char *kind, const char *what, const char *detail)
{
	return problem_chunk(pass, path, backing, kind, what, detail, -1, -1);
}

struct problem problem_chunk(enum fsck_pass pass, const char *path, const char *backing,
			     const char *kind, const char *what, const char *detail, int64_t chunk,
			     int64_t offset)
{
	return (struct problem){pass, path, backing, kind, what, detail, chunk, offset};
}

struct fix fix_of(enum fix_safety safety, const char *question, const char *done,
		  int (*fn)(void *arg), void *arg)
{
	return (struct fix){safety, false, question, done, fn, arg};
}

bool fsck_problem(struct fsck *f, struct problem pr, const struct fix *fix)
{
	const struct problem *p = &pr;
	const char *why;
	enum decision d = decide(f, fix, &why);
	int bits = FSCK_UNCORRECTED;

	report_lock(f->rep);
	if (d == DO_FIX) {
		bits = run_fix(f->rep, p, fix, false);
	} else if (d == ASK_FIX) {
		print_problem(f->rep, p, NULL);
		if (ask(fix->question))
			bits = run_fix(f->rep, p, fix, true);
		else
			report_line_locked(f->rep, "%s: %s: not repaired", PROG, p->path);
	} else {
		print_problem(f->rep, p, why);
	}
	report_record_locked(f->rep, p, bits == FSCK_CORRECTED, bits);
	report_unlock(f->rep);
	return bits == FSCK_CORRECTED;
}

void fsck_operr(struct fsck *f, enum fsck_pass pass, const char *path, const char *backing,
		const char *fmt, ...)
{
	struct problem p;
	char detail[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	p = problem_of(pass, path, backing, "io-error", "operational error", detail);
	if (pass == PASS_TREE)
		atomic_store(&f->tree_incomplete, true);
	report_lock(f->rep);
	report_line_locked(f->rep, "%s: %s: %s", PROG, path, detail);
	report_record_locked(f->rep, &p, false, FSCK_OPERROR);
	report_unlock(f->rep);
}

/* ---- the repairs ------------------------------------------------------------------------ */

int fix_unlink(void *arg)
{
	struct fix_at *at = arg;

	if (unlinkat(at->dirfd, at->name, 0) < 0)
		return -errno;
	return fsync(at->dirfd) < 0 ? -errno : 0;
}

int fix_rename(void *arg)
{
	struct fix_at *at = arg;

	if (renameat(at->dirfd, at->name, at->dirfd, at->new_name) < 0)
		return -errno;
	return fsync(at->dirfd) < 0 ? -errno : 0;
}

int fix_rmdir_tmp(void *arg)
{
	struct fix_at *at = arg;
	int fd = openat(at->dirfd, at->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* rmdir below fails if anything but the ID was there, so nothing else is lost. */
	if (unlinkat(fd, ECFS_DIR_ID_NAME, 0) < 0 && errno != ENOENT) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	if (unlinkat(at->dirfd, at->name, AT_REMOVEDIR) < 0)
		return -errno;
	return fsync(at->dirfd) < 0 ? -errno : 0;
}

/* Format 2: a header size past plaintext p comes down to p, durably, before the blob is cut
 * (as the daemon does it), so that the cut leaves no file cut short. */
static int lower_header_size(const struct ecfs_volume *v, int fd, uint64_t p)
{
	struct ecfs_blob_header h;
	int r = ecfs_blob_header_read(v, fd, &h);

	if (r < 0 || h.size <= p)
		return r;
	h.size = p;
	r = ecfs_blob_header_write(v, fd, &h);
	return r < 0 ? r : (fdatasync(fd) < 0 ? -errno : 0);
}

int fix_truncate(void *arg)
{
	struct fix_at *at = arg;
	int64_t p = at->vol ? ecfs_plain_size(at->vol, at->size) : -1;
	int r = p >= 0 ? lower_header_size(at->vol, at->fd, (uint64_t)p) : 0;

	if (r < 0)
		return r;
	if (ftruncate(at->fd, (off_t)at->size) < 0)
		return -errno;
	return fsync(at->fd) < 0 ? -errno : 0;
}

int fix_dirid(void *arg)
{
	struct fix_at *at = arg;
	uint8_t id[ECFS_DIR_ID_SIZE];
	int r = at->place ? ecfs_dirid_create_at(at->vol, at->dirfd, at->place, id)
			  : ecfs_dirid_create(at->dirfd, id);

	return r < 0 ? r : (fsync(at->dirfd) < 0 ? -errno : 0);
}

int fix_blob_size(void *arg)
{
	struct fix_at *at = arg;
	struct ecfs_blob_header h;
	int r = ecfs_blob_header_read(at->vol, at->fd, &h);

	if (r == 0) {
		h.size = at->size;
		r = ecfs_blob_header_write(at->vol, at->fd, &h);
	}
	return r < 0 ? r : (fdatasync(at->fd) < 0 ? -errno : 0);
}

int fix_header(void *vol)
{
	int r = ecfs_volume_repair_header(vol);

	return r < 0 ? r : 0;
}
