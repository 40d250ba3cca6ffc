/* SPDX-License-Identifier: MIT */
/* util.c - what several envcryptfsctl commands need: messages, files, names, times. */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ctl_fail(const char *what, int err, int code)
{
	const char *why = ecfs_last_error();

	ecfs_tool_error(CTL_PROG, "%s: %s", what, *why ? why : strerror(-err));
	return code;
}

int ctl_check_absent(const char *path, const char *what)
{
	struct stat st;

	if (lstat(path, &st) == 0 || errno != ENOENT) {
		ecfs_tool_error(CTL_PROG, "%s: '%s' exists; it is never overwritten", what, path);
		return ECFS_EXIT_ERROR;
	}
	return ECFS_EXIT_OK;
}

int ctl_write_new_file(const char *path, const void *buf, size_t len, const char *what)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (fd < 0 && errno == EEXIST)
		return ctl_check_absent(path, what);
	if (fd < 0) {
		ecfs_tool_error(CTL_PROG, "%s: cannot create '%s': %s", what, path,
				strerror(errno));
		return ECFS_EXIT_ERROR;
	}
	/* The umask may only narrow 0600, but say exactly what the file is. */
	r = fchmod(fd, 0600) < 0 ? -errno : ecfs_write_full(fd, buf, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(path); /* ours: O_EXCL made it */
		ecfs_tool_error(CTL_PROG, "%s: cannot write '%s': %s", what, path, strerror(-r));
		return ECFS_EXIT_ERROR;
	}
	return ECFS_EXIT_OK;
}

/* Why path cannot be a header backup of at most max bytes, or NULL when it can be read. */
static const char *unreadable(int fd, size_t max, struct stat *st)
{
	if (fd < 0 || fstat(fd, st) < 0)
		return strerror(errno);
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if ((size_t)st->st_size > max)
		return "too large";
	return NULL;
}

int ctl_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	/* Not blocking on a FIFO; unreadable() then refuses anything but a regular file. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	const char *why = unreadable(fd, max, &st);
	uint8_t *p = why ? NULL : malloc((size_t)st.st_size + 1);
	ssize_t n = p ? read(fd, p, (size_t)st.st_size + 1) : -1;

	if (!why && n != st.st_size)
		why = n < 0 ? strerror(p ? errno : ENOMEM) : "it changed while being read";
	if (fd >= 0)
		close(fd);
	if (why) {
		ecfs_tool_error(CTL_PROG, "cannot read '%s': %s", path, why);
		free(p);
		return ECFS_EXIT_ERROR;
	}
	*buf = p;
	*len = (size_t)n;
	return ECFS_EXIT_OK;
}

const char *ctl_header_state_name(enum ecfs_header_state s)
{
	static const char *const names[] = {"ok", "missing", "damaged", "stale", "unsupported"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

int ctl_open_volume(const char *dir, struct ecfs_volume **v)
{
	int r = ecfs_volume_open(dir, v);

	if (r < 0) {
		ecfs_tool_error(CTL_PROG, "%s", ecfs_last_error());
		return ecfs_tool_exit_code(r) == ECFS_EXIT_USAGE ? ECFS_EXIT_ERROR
								 : ecfs_tool_exit_code(r);
	}
	if (*ecfs_last_error())
		ecfs_tool_warn(CTL_PROG, "%s", ecfs_last_error());
	return ECFS_EXIT_OK;
}

void ctl_report_outcome(enum ctl_outcome o)
{
	static const char *const says[] = {
	    [CTL_NOT_DONE] = "the change did not take effect; the volume is as it was",
	    [CTL_DONE] = "the change took effect in both header copies",
	    [CTL_DONE_COPY_STALE] = "the change took effect (the header copy could not be "
				    "updated); the next key operation or 'fsck.envcryptfs -p' "
				    "rewrites it",
	};

	ecfs_tool_warn(CTL_PROG, "%s", says[o]);
}

enum ctl_outcome ctl_report_update_failure(const char *dir, uint64_t seqid_before)
{
	struct ecfs_volume *v;
	struct ecfs_volume_info info;
	enum ctl_outcome o;

	if (ecfs_volume_open(dir, &v) < 0) {
		ecfs_tool_error(CTL_PROG, "the header of '%s' cannot be read back: %s", dir,
				ecfs_last_error());
		return CTL_NOT_DONE;
	}
	ecfs_volume_get_info(v, &info);
	ecfs_volume_close(v);
	if (info.seqid <= seqid_before)
		o = CTL_NOT_DONE;
	else if (info.primary_state == ECFS_HDR_OK && info.copy_state == ECFS_HDR_OK)
		o = CTL_DONE;
	else
		o = CTL_DONE_COPY_STALE;
	ctl_report_outcome(o);
	return o;
}

/* Refusals are decided before anything is written. ENOSPC is not one: besides "all slots
 * in use" it is a full disk part-way through the update, so the header is read back. */
static bool is_refusal(int err)
{
	return err == -ENOENT || err == -EBUSY || err == -EINVAL || err == -ENOKEY ||
	       err == -EXDEV || err == -ESTALE;
}

int ctl_lock_for_update(const char *what, struct ecfs_volume *v, const char *dir,
			struct ecfs_metalock **lock)
{
	int r = ecfs_metalock_acquire_at(ecfs_volume_dirfd(v), dir, lock);

	if (r == 0 && (r = ecfs_volume_refresh(v)) < 0) {
		ecfs_metalock_release(*lock);
		*lock = NULL;
	}
	if (r < 0)
		return ctl_fail(what, r, r == -EBUSY ? ECFS_EXIT_ERROR : ecfs_tool_exit_code(r));
	return ECFS_EXIT_OK;
}

bool ctl_took_effect(const struct ecfs_volume *v, int err)
{
	return err == 0 || ecfs_volume_copy_behind(v);
}

int ctl_update_result(const char *what, const struct ecfs_volume *v, const char *dir,
		      uint64_t seqid_before, int err)
{
	if (err == 0)
		return ECFS_EXIT_OK;
	if (!ecfs_volume_copy_behind(v))
		return ctl_update_failed(what, dir, seqid_before, err);
	ecfs_tool_warn(CTL_PROG,
		       "%s: the change took effect (the header copy could not be updated: %s); "
		       "the next key operation or 'fsck.envcryptfs -p' rewrites it",
		       what, strerror(-err));
	return ECFS_EXIT_COPY_BEHIND;
}

int ctl_update_failed(const char *what, const char *dir, uint64_t seqid_before, int err)
{
	int code = ecfs_tool_exit_code(err);

	ctl_fail(what, err, ECFS_EXIT_ERROR);
	/* The primary in place but not the copy (its directory's fsync failed, say): exit
	 * status 6, as when only the copy's write failed. */
	if (!is_refusal(err) && ctl_report_update_failure(dir, seqid_before) == CTL_DONE_COPY_STALE)
		return ECFS_EXIT_COPY_BEHIND;
	/* A slot that is not in use is a refusal here, not a damaged volume. */
	return err == -ENOENT || code == ECFS_EXIT_OK ? ECFS_EXIT_ERROR : code;
}
