/* log.c - the daemon's messages: stderr in the foreground, syslog in the background, and
 * damage reported once per file or name rather than on every access. */
#include "daemon.h"
#include "tool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static bool use_syslog;

static void fuse_log_hook(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

static void tool_log_hook(int is_error, const char *line)
{
	syslog(is_error ? LOG_ERR : LOG_WARNING, "%s", line);
}

void fs_log_to_syslog(void)
{
	openlog("envcryptfs", LOG_PID, LOG_DAEMON);
	use_syslog = true;
	fuse_set_log_func(fuse_log_hook);
	ecfs_tool_set_log(tool_log_hook);
}

void fs_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		char line[1024];

		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "envcryptfs: %s\n", line);
	}
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
