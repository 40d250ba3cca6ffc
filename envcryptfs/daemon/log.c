/* log.c - the daemon's messages: to -o log_file= once mounted; else stderr in the foreground
 * and syslog in the background, or stderr when no syslog listens (a container without
 * /dev/log), never dropped silently; and damage reported once per file or name rather than
 * on every access. */
#include "daemon.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SYSLOG_SOCKET "/dev/log"

enum log_sink { SINK_STDERR, SINK_SYSLOG, SINK_FILE };

static enum log_sink sink = SINK_STDERR;
/* The log file: its descriptor keeps its number across a reopen (dup2), so that writers need
 * no lock; the path is absolute (the daemon changes to /). */
static int log_fd = -1;
static char log_path[PATH_MAX];

static const char *level_name(int level)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "error",
					    "warning", "notice", "info", "debug"};

	return level >= 0 && level < 8 ? names[level] : "info";
}

/* One line, written at once (O_APPEND: lines of concurrent writers do not mix). */
static void file_line(int level, const char *msg)
{
	char line[1200], when[32];
	struct tm tm;
	time_t now = time(NULL);
	size_t len = strlen(msg);
	int n;

	while (len && msg[len - 1] == '\n')
		len--; /* libfuse's messages end with one */
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s envcryptfs[%d]: %s: %.*s\n", when, (int)getpid(),
		     level_name(level), (int)len, msg);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (n > 0 && write(log_fd, line, (size_t)n) < 0)
		(void)0; /* nowhere left to report it */
}

static void vlog(int level, const char *fmt, va_list ap)
{
	char line[1024];

	if (sink == SINK_SYSLOG) {
		vsyslog(level, fmt, ap);
		return;
	}
	vsnprintf(line, sizeof(line), fmt, ap);
	if (sink == SINK_FILE)
		file_line(level, line);
	else
		fprintf(stderr, "envcryptfs: %s\n", line);
}

static void fuse_log_hook(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vlog((int)level, fmt, ap);
}

static void tool_log_hook(int is_error, const char *line)
{
	fs_log(is_error ? LOG_ERR : LOG_WARNING, "%s", line);
}

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	struct stat st;

	if (fd < 0)
		return -errno;
	/* It names files and directories: for root and the daemon's user alone. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		(void)fchmod(fd, st.st_mode & 0700);
	return fd;
}

int fs_log_open_file(const char *path)
{
	char cwd[PATH_MAX];
	int fd, n;

	if (path[0] == '/')
		n = snprintf(log_path, sizeof(log_path), "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(log_path, sizeof(log_path), "%s/%s", cwd, path);
	else
		return -errno;
	if (n < 0 || (size_t)n >= sizeof(log_path))
		return -ENAMETOOLONG;
	fd = open_log(log_path);
	if (fd < 0)
		return fd;
	log_fd = fd;
	return 0;
}

bool fs_log_reopen_on_hup(void)
{
	int fd;

	if (log_fd < 0)
		return false;
	fd = open_log(log_path);
	if (fd >= 0) {
		dup2(fd, log_fd);
		close(fd);
	}
	return true;
}

/* Whether a syslog daemon listens on /dev/log (glibc's syslog() drops messages otherwise). */
static bool syslog_listens(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = SYSLOG_SOCKET};
	int types[] = {SOCK_DGRAM, SOCK_STREAM};

	for (size_t i = 0; i < 2; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		int err = errno;

		if (fd >= 0)
			close(fd);
		if (ok)
			return true;
		if (err != EPROTOTYPE)
			return false;
	}
	return false;
}

bool fs_log_mounted(bool background)
{
	if (log_fd >= 0) {
		sink = SINK_FILE;
	} else if (!background) {
		return true;
	} else if (syslog_listens()) {
		openlog("envcryptfs", LOG_PID, LOG_DAEMON);
		sink = SINK_SYSLOG;
	} else {
		fs_log(LOG_WARNING, "no syslog listens on " SYSLOG_SOCKET
				    ": messages go to standard error (or give -o log_file=)");
		return true;
	}
	fuse_set_log_func(fuse_log_hook);
	ecfs_tool_set_log(tool_log_hook);
	return false;
}

void fs_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

/* Keys already reported, in an open-addressed set. Past its capacity everything is reported:
 * a flood of damage is itself worth seeing. */
#define SEEN_CAP 65536
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *seen;	  /* protected by seen_lock */
static size_t seen_count; /* protected by seen_lock */

bool fs_log_first(uint64_t key)
{
	bool first = true;
	size_t i;

	key |= 1; /* 0 marks a free slot */
	pthread_mutex_lock(&seen_lock);
	if (!seen)
		seen = calloc(SEEN_CAP, sizeof(*seen));
	if (seen && seen_count < SEEN_CAP / 2) {
		for (i = key % SEEN_CAP; seen[i] && seen[i] != key; i = (i + 1) % SEEN_CAP)
			;
		first = seen[i] == 0;
		if (first) {
			seen[i] = key;
			seen_count++;
		}
	}
	pthread_mutex_unlock(&seen_lock);
	return first;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h * 0xBF58476D1CE4E5B9ull;
}

static uint64_t inode_key(const struct inode *inode, uint64_t kind)
{
	return mix(mix(kind, (uint64_t)inode->dev), (uint64_t)inode->ino);
}

/* The backing path of an inode, from its descriptor. */
static void backing_path(const struct inode *inode, char *out, size_t outsz)
{
	char proc[32];
	int fd = inode_fd_get(inode);
	ssize_t n = -1;

	if (fd >= 0) {
		fs_proc_path(fd, proc);
		n = readlink(proc, out, outsz - 1);
		inode_fd_put(inode, fd);
	}
	if (n < 0)
		n = snprintf(out, outsz, "?");
	out[n] = '\0';
}

void fs_log_damage(struct inode *inode, enum fs_damage kind, const char *fmt, ...)
{
	char plain[1024], path[1024], what[512];
	va_list ap;

	__atomic_add_fetch(&fs.auth_failures, 1, __ATOMIC_RELAXED);
	if (!fs_log_first(inode_key(inode, 16 + (uint64_t)kind)))
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (names_describe(inode, plain, sizeof(plain)) < 0)
		snprintf(plain, sizeof(plain), "?");
	backing_path(inode, path, sizeof(path));
	fs_log(LOG_ERR, "'%s' (backing '%s'): %s", plain, path, what);
}

void fs_log_bad_chunk(struct inode *inode, uint64_t bad_chunk)
{
	fs_log_damage(inode, FS_DAMAGE_CHUNK,
		      "chunk %llu at byte offset %llu failed authentication; reading it fails "
		      "with EIO",
		      (unsigned long long)bad_chunk,
		      (unsigned long long)(bad_chunk * fs.chunk_size));
}

void fs_log_bad_name(struct inode *dir, const char *disk_name, const char *why)
{
	char plain[1024], path[1024];
	uint64_t key = inode_key(dir, 2);

	__atomic_add_fetch(&fs.auth_failures, 1, __ATOMIC_RELAXED);
	for (const char *p = disk_name; *p; p++)
		key = mix(key, (uint8_t)*p);
	if (!fs_log_first(key))
		return;
	if (names_describe(dir, plain, sizeof(plain)) < 0)
		snprintf(plain, sizeof(plain), "?");
	backing_path(dir, path, sizeof(path));
	fs_log(LOG_ERR, "directory '%s' (backing '%s'): '%s' %s", plain, path, disk_name, why);
}

#define FULL_LOG_INTERVAL 60 /* seconds */

void fs_log_full(int err)
{
	static time_t last; /* atomic */
	time_t now = time(NULL), prev = __atomic_load_n(&last, __ATOMIC_RELAXED);

	if (prev && now >= prev && now - prev < FULL_LOG_INTERVAL)
		return;
	if (!__atomic_compare_exchange_n(&last, &prev, now, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return; /* another thread logs it */
	fs_log(LOG_ERR, "backing file system full (%s): %s; the failed write was not stored",
	       fs.backing_dir, strerror(-err));
}
