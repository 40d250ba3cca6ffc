/* SPDX-License-Identifier: MIT */
/* status.c - the status socket: the daemon's one-thread server and envcryptfsctl's client. */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX (64 * 1024)

struct ecfs_status_server {
	pthread_t thread;
	int listen_fd;
	int stop[2]; /* a byte written to stop[1] ends the thread */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	int (*fill)(void *arg, struct ecfs_status *st);
	void *arg;
	char uuid[37];
};

/* ---- paths ------------------------------------------------------------------------------- */

/* The directory a daemon running as the current user puts its socket in. */
static int server_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, len, "/run/envcryptfs");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/envcryptfs", xdg);
	else
		n = snprintf(buf, len, "/tmp/envcryptfs-%u", (unsigned)geteuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Makes dir 0700, or accepts it when it is a real directory of ours (in /tmp another user
 * could have made it first, to read our socket). */
static int ensure_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	if ((st.st_mode & 077) && chmod(dir, 0700) < 0)
		return -errno;
	return 0;
}

static int socket_path(const char *dir, const char *uuid, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.sock", dir, uuid);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* ---- the wire format --------------------------------------------------------------------- */

/* Fields added after version 1 shipped: old clients ignore them, new ones find them absent
 * in an old daemon's answer. */
static void add_kms(json_object *o, const struct ecfs_status *st)
{
	json_object_object_add(o, "kms_url", json_object_new_string(st->kms_url));
	json_object_object_add(o, "kms_key", json_object_new_string(st->kms_key));
	json_object_object_add(o, "kms_key_version", json_object_new_uint64(st->kms_key_version));
	json_object_object_add(o, "kms_last_rewrap", json_object_new_int64(st->kms_last_rewrap));
	json_object_object_add(o, "kms_last_check", json_object_new_int64(st->kms_last_check));
	json_object_object_add(o, "kms_last_error", json_object_new_string(st->kms_last_error));
	json_object_object_add(o, "kms_rewrap_error", json_object_new_string(st->kms_rewrap_error));
}

static char *status_json(const struct ecfs_status *st)
{
	json_object *o = json_object_new_object();
	char *text;

	json_object_object_add(o, "version", json_object_new_int(ECFS_STATUS_VERSION));
	json_object_object_add(o, "uuid", json_object_new_string(st->uuid));
	json_object_object_add(o, "pid", json_object_new_int64(st->pid));
	json_object_object_add(o, "cipher", json_object_new_string(st->cipher));
	json_object_object_add(o, "unlocked_slot", json_object_new_int(st->unlocked_slot));
	json_object_object_add(o, "kek_generation", json_object_new_uint64(st->kek_generation));
	json_object_object_add(o, "started", json_object_new_int64(st->started));
	json_object_object_add(o, "bytes_read", json_object_new_uint64(st->bytes_read));
	json_object_object_add(o, "bytes_written", json_object_new_uint64(st->bytes_written));
	json_object_object_add(o, "auth_failures", json_object_new_uint64(st->auth_failures));
	json_object_object_add(o, "read_ops", json_object_new_uint64(st->read_ops));
	json_object_object_add(o, "write_ops", json_object_new_uint64(st->write_ops));
	json_object_object_add(o, "backing_dir", json_object_new_string(st->backing_dir));
	json_object_object_add(o, "mountpoint", json_object_new_string(st->mountpoint));
	if (st->kms_url[0])
		add_kms(o, st);
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

static bool get_num(json_object *o, const char *key, int64_t *out)
{
	json_object *f;

	if (!json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_int))
		return false;
	*out = json_object_get_int64(f);
	return true;
}

static bool get_u64(json_object *o, const char *key, uint64_t *out)
{
	json_object *f;

	if (!json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_int))
		return false;
	*out = json_object_get_uint64(f);
	return true;
}

static bool get_str(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *f;

	if (!json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_string))
		return false;
	snprintf(buf, len, "%s", json_object_get_string(f));
	return true;
}

static int parse_fields(json_object *o, struct ecfs_status *st)
{
	int64_t version = 0, slot = 0;
	char err[64];

	if (get_str(o, "error", err, sizeof(err)))
		return strcmp(err, "permission denied") == 0 ? -EACCES : -EIO;
	if (!get_num(o, "version", &version) || version != ECFS_STATUS_VERSION)
		return -EPROTO;
	if (!get_str(o, "uuid", st->uuid, sizeof(st->uuid)) ||
	    !get_str(o, "cipher", st->cipher, sizeof(st->cipher)) ||
	    !get_num(o, "unlocked_slot", &slot) ||
	    !get_u64(o, "kek_generation", &st->kek_generation) ||
	    !get_num(o, "started", &st->started) || !get_u64(o, "bytes_read", &st->bytes_read) ||
	    !get_u64(o, "bytes_written", &st->bytes_written) ||
	    !get_u64(o, "auth_failures", &st->auth_failures))
		return -EPROTO;
	st->unlocked_slot = (int)slot;
	get_num(o, "pid", &st->pid);
	get_u64(o, "read_ops", &st->read_ops);
	get_u64(o, "write_ops", &st->write_ops);
	get_str(o, "backing_dir", st->backing_dir, sizeof(st->backing_dir));
	get_str(o, "mountpoint", st->mountpoint, sizeof(st->mountpoint));
	get_str(o, "kms_url", st->kms_url, sizeof(st->kms_url));
	get_str(o, "kms_key", st->kms_key, sizeof(st->kms_key));
	get_u64(o, "kms_key_version", &st->kms_key_version);
	get_num(o, "kms_last_rewrap", &st->kms_last_rewrap);
	get_num(o, "kms_last_check", &st->kms_last_check);
	get_str(o, "kms_last_error", st->kms_last_error, sizeof(st->kms_last_error));
	get_str(o, "kms_rewrap_error", st->kms_rewrap_error, sizeof(st->kms_rewrap_error));
	return 0;
}

int ecfs_status_parse(const char *text, size_t len, struct ecfs_status *st)
{
	json_tokener *tok = json_tokener_new();
	json_object *o;
	int r = -EPROTO;

	if (!tok)
		return -ENOMEM;
	memset(st, 0, sizeof(*st));
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (o && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(o, json_type_object))
		r = parse_fields(o, st);
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

/* ---- server ------------------------------------------------------------------------------ */

static void send_line(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the client went away or stalled past SO_SNDTIMEO */
		off += (size_t)n;
	}
	while (send(fd, "\n", 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void answer(struct ecfs_status_server *s, int fd)
{
	/* A client that never reads must not hold up the daemon's only status thread. */
	struct timeval tv = {.tv_sec = 1};
	struct ecfs_status *st;
	char *text = NULL, err[160];
	int r;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!peer_allowed(fd)) {
		send_line(fd, "{\"error\":\"permission denied\"}");
		return;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return;
	snprintf(st->uuid, sizeof(st->uuid), "%s", s->uuid);
	st->pid = getpid();
	r = s->fill(s->arg, st);
	if (r == 0)
		text = status_json(st);
	if (text) {
		send_line(fd, text);
	} else {
		snprintf(err, sizeof(err), "{\"error\":\"%s\"}", strerror(r < 0 ? -r : ENOMEM));
		send_line(fd, err);
	}
	free(text);
	free(st);
}

static void *serve(void *arg)
{
	struct ecfs_status_server *s = arg;
	struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->stop[0], POLLIN, 0}};

	for (;;) {
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* the client gave up already, or we are short of descriptors */
		answer(s, fd);
		close(fd);
	}
	return NULL;
}

/* Whether a daemon answers at path (then the volume is served twice, which the volume lock
 * should make impossible). */
static bool someone_listens(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

/* A socket bound this long ago listens by now, unless its daemon died: a daemon binds and
 * listens in two steps, and one caught between them must not lose its socket. */
#define STALE_AFTER_S 2

/* Removes the socket at path when nobody listens on it (a killed daemon's). */
static void remove_if_stale(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    time(NULL) - st.st_ctime < STALE_AFTER_S || make_addr(path, &sa) < 0)
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED)
		unlink(path);
	close(fd);
}

/* Removes the sockets of dead daemons (of any volume) from dir. */
static void sweep_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		int len = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);

		if (n > 5 && !strcmp(e->d_name + n - 5, ".sock") && len > 0 &&
		    (size_t)len < sizeof(path))
			remove_if_stale(path);
	}
	closedir(d);
}

static int listen_at(struct ecfs_status_server *s)
{
	struct sockaddr_un sa;
	struct stat st;
	int r = make_addr(s->path, &sa);

	if (r < 0)
		return r;
	if (someone_listens(&sa))
		return -EADDRINUSE;
	if (unlink(s->path) < 0 && errno != ENOENT)
		return -errno;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return -errno;
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->listen_fd, 8) < 0 || stat(s->path, &st) < 0)
		return -errno;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

/* Starts the thread with every signal blocked: the daemon's handlers belong to its loop. */
static int start_thread(struct ecfs_status_server *s)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&s->thread, NULL, serve, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

/* Removes the socket unless another process has put its own at the path since. */
static void remove_socket(const struct ecfs_status_server *s)
{
	struct stat st;

	if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
}

static void server_free(struct ecfs_status_server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop[0] >= 0)
		close(s->stop[0]);
	if (s->stop[1] >= 0)
		close(s->stop[1]);
	free(s);
}

int ecfs_status_server_start(const char *uuid_str, int (*fill)(void *arg, struct ecfs_status *st),
			     void *arg, struct ecfs_status_server **out)
{
	struct ecfs_status_server *s = calloc(1, sizeof(*s));
	char dir[sizeof(s->path)];
	int r;

	if (!s)
		return -ENOMEM;
	s->listen_fd = s->stop[0] = s->stop[1] = -1;
	s->fill = fill;
	s->arg = arg;
	snprintf(s->uuid, sizeof(s->uuid), "%s", uuid_str);
	r = server_dir(dir, sizeof(dir));
	if (r == 0)
		r = ensure_dir(dir);
	if (r == 0)
		sweep_stale(dir);
	if (r == 0)
		r = socket_path(dir, uuid_str, s->path, sizeof(s->path));
	if (r == 0 && pipe2(s->stop, O_CLOEXEC) < 0)
		r = -errno;
	if (r == 0)
		r = listen_at(s);
	if (r == 0)
		r = start_thread(s);
	if (r < 0) {
		if (s->ino)
			remove_socket(s);
		server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void ecfs_status_server_stop(struct ecfs_status_server *s)
{
	if (!s)
		return;
	while (write(s->stop[1], "", 1) < 0 && errno == EINTR)
		;
	pthread_join(s->thread, NULL);
	remove_socket(s);
	server_free(s);
}

/* ---- client ------------------------------------------------------------------------------ */

/* The directories a daemon run by owner may have used, most likely first. */
static int candidate_dirs(uid_t owner, char dirs[3][108])
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n = 0;

	if (owner == 0) {
		snprintf(dirs[n++], 108, "/run/envcryptfs");
		return n;
	}
	if (owner == geteuid() && xdg && xdg[0] == '/' && strlen(xdg) < 80)
		snprintf(dirs[n++], 108, "%s/envcryptfs", xdg);
	snprintf(dirs[n++], 108, "/run/user/%u/envcryptfs", (unsigned)owner);
	snprintf(dirs[n++], 108, "/tmp/envcryptfs-%u", (unsigned)owner);
	return n;
}

/* The socket of uuid in the first candidate directory that has one (else the first path). */
static int find_socket(const char *uuid, uid_t owner, char *path, size_t len)
{
	char dirs[3][108], p[108];
	int n = candidate_dirs(owner, dirs), r;
	struct stat st;

	r = socket_path(dirs[0], uuid, path, len);
	for (int i = 0; r == 0 && i < n; i++) {
		if (socket_path(dirs[i], uuid, p, sizeof(p)) == 0 && stat(p, &st) == 0) {
			snprintf(path, len, "%s", p);
			return S_ISSOCK(st.st_mode) ? 0 : -ENOTSOCK;
		}
	}
	return r < 0 ? r : -ENOENT;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads until a newline or EOF, at most REPLY_MAX bytes, within the deadline. */
static int read_reply(int fd, int64_t deadline, char *buf, size_t *len)
{
	struct pollfd p = {fd, POLLIN, 0};
	size_t got = 0;

	while (got < REPLY_MAX - 1 && !memchr(buf, '\n', got)) {
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (!p.revents)
			continue;
		n = read(fd, buf + got, REPLY_MAX - 1 - got);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	*len = got;
	return got ? 0 : -EPROTO;
}

static int ask(const char *path, int timeout_ms, struct ecfs_status *st)
{
	struct sockaddr_un sa;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};
	int64_t deadline = now_ms() + timeout_ms;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r = make_addr(path, &sa);

	if (r == 0)
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r == 0 && fd < 0)
		r = -errno;
	/* SO_SNDTIMEO bounds connect() on a Unix socket whose backlog is full. */
	if (r == 0 && (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
		       connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0))
		r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
	if (r == 0 && !(buf = calloc(1, REPLY_MAX)))
		r = -ENOMEM;
	if (r == 0)
		r = read_reply(fd, deadline, buf, &len);
	if (r == 0)
		r = ecfs_status_parse(buf, len, st);
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

int ecfs_status_query(const char *uuid_str, uid_t owner, int timeout_ms, struct ecfs_status *st,
		      char *path, size_t pathlen)
{
	int r = find_socket(uuid_str, owner, path, pathlen);

	if (r == 0)
		r = ask(path, timeout_ms, st);
	if (r == -ECONNREFUSED)
		remove_if_stale(path);
	return r;
}
