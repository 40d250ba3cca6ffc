/* SPDX-License-Identifier: MIT */
/* cmd_status.c - `status`: find the mount, check that it answers through the kernel, then ask
 * its daemon over the status socket, all within --timeout: a probe for health checks. */
#include "ctl.h"
#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FSTYPE		  "fuse.envcryptfs"
#define FSNAME_PREFIX	  "envcryptfs-"
#define DEFAULT_TIMEOUT_S 10

/* Exit codes of status beyond the common ones (envcryptfsctl(8), EXIT STATUS). */
enum {
	STATUS_EXIT_DEAD = 7, /* the mount answers ENOTCONN: its daemon is gone */
	STATUS_EXIT_HUNG = 8, /* no answer within the timeout: a stopped or hung daemon */
};

struct mount_entry {
	char path[PATH_MAX]; /* the mount point, canonical */
	char fstype[64];
	char source[PATH_MAX];
	uid_t owner; /* user_id= of a FUSE mount: who runs the daemon */
	bool found;
};

/* Undoes the kernel's octal escapes in mountinfo (\040 for a space, \134 for '\'). */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static uid_t owner_of(const char *superopts)
{
	const char *p = strstr(superopts, "user_id=");

	return p ? (uid_t)strtoul(p + 8, NULL, 10) : 0;
}

/* One mountinfo line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPER. */
static void match_line(char *line, const char *path, struct mount_entry *m)
{
	char *save = NULL, *f[5], *tok, *fstype, *source, *super;
	int i;

	for (i = 0; i < 5 && (f[i] = strtok_r(i ? NULL : line, " \n", &save)); i++)
		;
	if (i < 5)
		return;
	unescape(f[4]);
	if (strcmp(f[4], path) != 0)
		return;
	while ((tok = strtok_r(NULL, " \n", &save)) && strcmp(tok, "-") != 0)
		;
	fstype = strtok_r(NULL, " \n", &save);
	source = strtok_r(NULL, " \n", &save);
	super = strtok_r(NULL, " \n", &save);
	if (!tok || !fstype || !source)
		return;
	unescape(source);
	/* The last mount at a path is the one on top, the one a path lookup reaches. */
	snprintf(m->fstype, sizeof(m->fstype), "%s", fstype);
	snprintf(m->source, sizeof(m->source), "%s", source);
	m->owner = super ? owner_of(super) : 0;
	m->found = true;
}

static int find_mount(const char *path, struct mount_entry *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0)
		match_line(line, path, m);
	free(line);
	fclose(f);
	return 0;
}

/* The mount point as mountinfo spells it. A dead daemon's mount point cannot be resolved
 * (ENOTCONN), so then the path is only made absolute. */
static int canonical(const char *path, char *out)
{
	char cwd[PATH_MAX];

	if (realpath(path, out))
		return 0;
	if (errno != ENOTCONN)
		return -errno;
	if (path[0] == '/')
		return snprintf(out, PATH_MAX, "%s", path) < PATH_MAX ? 0 : -ENAMETOOLONG;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return snprintf(out, PATH_MAX, "%s/%s", cwd, path) < PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* The backing directory of an envcryptfs mount at mnt (the daemon's fsname). */
static int backing_dir(const char *mnt, struct mount_entry *m, const char **dir)
{
	int r;

	memset(m, 0, sizeof(*m));
	r = canonical(mnt, m->path);
	if (r == 0)
		r = find_mount(m->path, m);
	if (r < 0) {
		ecfs_tool_error(CTL_PROG, "status: '%s': %s", mnt, strerror(-r));
		return ECFS_EXIT_MOUNT;
	}
	if (!m->found || strcmp(m->fstype, FSTYPE) != 0) {
		ecfs_tool_error(CTL_PROG, "status: '%s' is not an envcryptfs mount point%s%s%s",
				mnt, m->found ? " (it is " : "", m->found ? m->fstype : "",
				m->found ? ")" : "");
		return ECFS_EXIT_MOUNT;
	}
	*dir = m->source;
	if (!strncmp(*dir, FSNAME_PREFIX, strlen(FSNAME_PREFIX)))
		*dir += strlen(FSNAME_PREFIX);
	if (**dir != '/') {
		ecfs_tool_error(CTL_PROG,
				"status: the mount's source '%s' names no backing directory "
				"(was it mounted with fsname=?)",
				m->source);
		return ECFS_EXIT_MOUNT;
	}
	return ECFS_EXIT_OK;
}

static const char *why_no_answer(int err)
{
	switch (err) {
	case -ENOENT:
		return "no status socket: the daemon runs no status server";
	case -ECONNREFUSED:
		return "nobody listens on the socket (a daemon that died; its socket is removed)";
	case -EACCES:
		return "the daemon refused: ask as root or as the user who mounted it";
	case -ETIMEDOUT:
		return "no answer within the timeout";
	case -EPROTO:
		return "the answer does not parse";
	default:
		return strerror(-err);
	}
}

/* The daemon's view of its KMS: it last asked at kms_last_check (0: only to unlock). */
static void print_kms_text(const struct ecfs_status *st)
{
	char when[32], checked[32];

	ecfs_format_time(st->kms_last_rewrap, when, sizeof(when));
	ecfs_format_time(st->kms_last_check, checked, sizeof(checked));
	printf("KMS: %s key '%s'\nKMS key version: %llu\nKMS last rewrap: %s\n", st->kms_url,
	       st->kms_key, (unsigned long long)st->kms_key_version,
	       st->kms_last_rewrap ? when : "never");
	if (!st->kms_last_check)
		printf("KMS reachable: yes, at mount (not asked since: no kms_rewrap_interval)\n");
	else if (st->kms_last_error[0])
		printf("KMS reachable: no: %s (asked %s)\n", st->kms_last_error, checked);
	else
		printf("KMS reachable: yes (asked %s)\n", checked);
}

static json_object *kms_json(const struct ecfs_status *st)
{
	json_object *o = json_object_new_object();
	char when[32];

	json_object_object_add(o, "url", json_object_new_string(st->kms_url));
	json_object_object_add(o, "key", json_object_new_string(st->kms_key));
	json_object_object_add(o, "key_version", json_object_new_uint64(st->kms_key_version));
	ecfs_format_time(st->kms_last_rewrap, when, sizeof(when));
	json_object_object_add(o, "last_rewrap",
			       st->kms_last_rewrap ? json_object_new_string(when) : NULL);
	ecfs_format_time(st->kms_last_check, when, sizeof(when));
	json_object_object_add(o, "last_check",
			       st->kms_last_check ? json_object_new_string(when) : NULL);
	json_object_object_add(o, "reachable", json_object_new_boolean(!st->kms_last_error[0]));
	json_object_object_add(o, "last_error",
			       st->kms_last_error[0] ? json_object_new_string(st->kms_last_error)
						     : NULL);
	return o;
}

static void print_text(const char *mnt, const struct ecfs_status *st)
{
	char when[32];
	int64_t up = (int64_t)time(NULL) - st->started;

	ecfs_format_time(st->started, when, sizeof(when));
	printf("mount point: %s\nbacking directory: %s\nUUID: %s\ncipher: %s\n", mnt,
	       st->backing_dir, st->uuid, st->cipher);
	if (st->unlocked_slot == ECFS_UNLOCKED_BY_EXPORT)
		printf("unlocked by: export file\n");
	else
		printf("unlocked by: slot %d (KEK generation %llu)\n", st->unlocked_slot,
		       (unsigned long long)st->kek_generation);
	printf("daemon pid: %lld\nstarted: %s\nuptime: %lld s\nbytes read: %llu\n"
	       "bytes written: %llu\nread operations: %llu\nwrite operations: %llu\n"
	       "authentication failures: %llu\n",
	       (long long)st->pid, when, (long long)(up < 0 ? 0 : up),
	       (unsigned long long)st->bytes_read, (unsigned long long)st->bytes_written,
	       (unsigned long long)st->read_ops, (unsigned long long)st->write_ops,
	       (unsigned long long)st->auth_failures);
	if (st->kms_url[0])
		print_kms_text(st);
	if (st->kms_rewrap_error[0])
		printf("KMS rewrap: failed: %s\n", st->kms_rewrap_error);
}

static void print_json(const char *mnt, const struct ecfs_status *st)
{
	json_object *o = json_object_new_object();
	bool exp = st->unlocked_slot == ECFS_UNLOCKED_BY_EXPORT;
	int64_t up = (int64_t)time(NULL) - st->started;
	char when[32];

	ecfs_format_time(st->started, when, sizeof(when));
	json_object_object_add(o, "mountpoint", json_object_new_string(mnt));
	json_object_object_add(o, "backing_dir", json_object_new_string(st->backing_dir));
	json_object_object_add(o, "uuid", json_object_new_string(st->uuid));
	json_object_object_add(o, "cipher", json_object_new_string(st->cipher));
	json_object_object_add(o, "unlocked_by", json_object_new_string(exp ? "export" : "slot"));
	json_object_object_add(o, "unlocked_slot",
			       exp ? NULL : json_object_new_int(st->unlocked_slot));
	json_object_object_add(o, "kek_generation", json_object_new_uint64(st->kek_generation));
	json_object_object_add(o, "pid", json_object_new_int64(st->pid));
	json_object_object_add(o, "started", json_object_new_string(when));
	json_object_object_add(o, "uptime_seconds", json_object_new_int64(up < 0 ? 0 : up));
	json_object_object_add(o, "bytes_read", json_object_new_uint64(st->bytes_read));
	json_object_object_add(o, "bytes_written", json_object_new_uint64(st->bytes_written));
	json_object_object_add(o, "read_ops", json_object_new_uint64(st->read_ops));
	json_object_object_add(o, "write_ops", json_object_new_uint64(st->write_ops));
	json_object_object_add(o, "auth_failures", json_object_new_uint64(st->auth_failures));
	if (st->kms_url[0])
		json_object_object_add(o, "kms", kms_json(st));
	if (st->kms_rewrap_error[0])
		json_object_object_add(o, "kms_rewrap_error",
				       json_object_new_string(st->kms_rewrap_error));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* The mount answers and decrypts: its root's attributes come back and its listing (every
 * name decrypted by the daemon) reads to the end. On a stopped daemon this blocks in the
 * kernel, which is why it runs in a child the parent can give up on. */
static int probe_mount(const char *mnt)
{
	struct stat st;
	DIR *d;
	int r = 0;

	if (stat(mnt, &st) < 0)
		return -errno;
	d = opendir(mnt);
	if (!d)
		return -errno;
	errno = 0;
	while (readdir(d))
		;
	if (errno)
		r = -errno;
	closedir(d);
	return r;
}

/* The volume's UUID, from the header in the backing directory. Exit code. */
static int volume_uuid(const char *dir, char uuid[37])
{
	struct ecfs_volume *v;
	struct ecfs_volume_info in;
	int r = ctl_open_volume(dir, &v);

	if (r != ECFS_EXIT_OK)
		return r;
	ecfs_volume_get_info(v, &in);
	ecfs_volume_close(v);
	snprintf(uuid, 37, "%s", in.uuid_str);
	return ECFS_EXIT_OK;
}

/* A dead mount's daemon left its status socket: asking there removes it. */
static void forget_dead_socket(const char *dir, uid_t owner)
{
	struct ecfs_status *st = calloc(1, sizeof(*st));
	char uuid[37], sock[128];

	if (st && volume_uuid(dir, uuid) == ECFS_EXIT_OK)
		ecfs_status_query(uuid, owner, 1000, st, sock, sizeof(sock));
	free(st);
}

static int probe_failed(const char *mnt, int err)
{
	if (err == -ENOTCONN) {
		ecfs_tool_error(CTL_PROG,
				"status: '%s' is a dead mount: its daemon is gone (%s); mounting "
				"the volume there again replaces it, 'fusermount3 -u -z %s' "
				"clears it",
				mnt, strerror(-err), mnt);
		return STATUS_EXIT_DEAD;
	}
	ecfs_tool_error(CTL_PROG, "status: '%s' does not read: %s", mnt, strerror(-err));
	return ECFS_EXIT_MOUNT;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The whole check, before deadline (CLOCK_MONOTONIC, ms). Exit code. */
static int status_check(const struct ctl_args *a, int64_t deadline)
{
	const char *mnt = a->pos[0], *dir = NULL;
	struct mount_entry m;
	struct ecfs_status *st;
	char sock[128], uuid[37];
	int64_t left;
	int e, r = backing_dir(mnt, &m, &dir);

	if (r != ECFS_EXIT_OK)
		return r;
	e = probe_mount(m.path);
	if (e == -ENOTCONN)
		forget_dead_socket(dir, m.owner);
	if (e < 0)
		return probe_failed(m.path, e);
	r = volume_uuid(dir, uuid);
	if (r != ECFS_EXIT_OK)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st)
		return ctl_fail("status", -ENOMEM, ECFS_EXIT_ERROR);
	left = deadline - now_ms();
	e = ecfs_status_query(uuid, m.owner, left > 1 ? (int)left : 1, st, sock, sizeof(sock));
	/* The daemon's own idea of its backing directory wins; ours is the fsname. */
	if (e == 0 && !st->backing_dir[0])
		snprintf(st->backing_dir, sizeof(st->backing_dir), "%s", dir);
	if (e < 0) {
		ecfs_tool_error(CTL_PROG,
				"status: the daemon of '%s' (volume %s) does not answer on "
				"%s: %s",
				mnt, uuid, sock, why_no_answer(e));
		r = e == -ETIMEDOUT ? STATUS_EXIT_HUNG : ECFS_EXIT_MOUNT;
	} else if (a->prometheus) {
		ctl_print_prometheus(m.path, st);
	} else if (a->json) {
		print_json(m.path, st);
	} else {
		print_text(m.path, st);
	}
	free(st);
	return r;
}

/* In the child: the check, its output flushed, its exit code sent up the pipe. */
static void __attribute__((noreturn))
child_check(const struct ctl_args *a, int64_t deadline, int out)
{
	unsigned char code = (unsigned char)status_check(a, deadline);

	fflush(stdout);
	fflush(stderr);
	while (write(out, &code, 1) < 0 && errno == EINTR)
		;
	_exit(code);
}

/* Waits for the child's exit code until deadline; -1 when the time is up. */
static int wait_code(int in, pid_t pid, int64_t deadline)
{
	struct pollfd p = {in, POLLIN, 0};
	unsigned char code;
	ssize_t n;
	int st;

	for (;;) {
		int64_t left = deadline - now_ms();

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) > 0)
			break;
	}
	n = read(in, &code, 1);
	if (waitpid(pid, &st, 0) < 0)
		return ECFS_EXIT_ERROR;
	if (n == 1)
		return code;
	ecfs_tool_error(CTL_PROG, "status: the check ended without a result (%s %d)",
			WIFSIGNALED(st) ? "signal" : "status",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return ECFS_EXIT_ERROR;
}

int cmd_status(const struct ctl_args *a)
{
	unsigned secs = a->timeout ? a->timeout : DEFAULT_TIMEOUT_S;
	int64_t deadline = now_ms() + (int64_t)secs * 1000;
	int p[2], code;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe2(p, O_CLOEXEC) < 0)
		return ctl_fail("status", -errno, ECFS_EXIT_ERROR);
	pid = fork();
	if (pid < 0) {
		code = ctl_fail("status", -errno, ECFS_EXIT_ERROR);
		close(p[0]);
		close(p[1]);
		return code;
	}
	if (pid == 0) {
		close(p[0]);
		child_check(a, deadline, p[1]);
	}
	close(p[1]);
	code = wait_code(p[0], pid, deadline);
	close(p[0]);
	if (code >= 0)
		return code;
	/* A stat of a stopped daemon's mount waits killably: the child goes, and if it could
	 * not, this process still ends. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
	ecfs_tool_error(CTL_PROG,
			"status: '%s' did not answer within %u s: its daemon is stopped or hung",
			a->pos[0], secs);
	return STATUS_EXIT_HUNG;
}
