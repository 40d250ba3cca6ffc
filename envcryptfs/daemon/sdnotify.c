/* sdnotify.c - the systemd readiness protocol (sd_notify(3)) without libsystemd: READY=1
 * once the mount answers, STOPPING=1 when the daemon begins to unmount. Each message is one
 * datagram to the AF_UNIX socket named by $NOTIFY_SOCKET ('@' for the abstract namespace). */
#include "daemon.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546

/* How long the unmount waits for the thread that checks readiness: its stat may still wait
 * for an answer the session will never give, until the kernel drops the connection. */
#define READY_JOIN_WAIT 5

static struct {
	struct sockaddr_un addr;
	socklen_t len;	    /* 0: no NOTIFY_SOCKET, nothing to send */
	pthread_t ready;    /* the thread that waits for the mount to answer */
	bool ready_started; /* ready is joinable */
} notify;

void sdnotify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n = path ? strlen(path) : 0;

	/* Only for us: nothing the daemon runs (fusermount3) may answer in our name. */
	unsetenv("NOTIFY_SOCKET");
	if (n < 2 || n >= sizeof(notify.addr.sun_path) || (path[0] != '/' && path[0] != '@')) {
		if (n)
			fs_log(LOG_WARNING, "NOTIFY_SOCKET '%s' is not a socket path; ignored",
			       path);
		return;
	}
	notify.addr.sun_family = AF_UNIX;
	memcpy(notify.addr.sun_path, path, n);
	if (path[0] == '@')
		notify.addr.sun_path[0] = '\0'; /* abstract: the name's length, no NUL */
	notify.len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/' ? 1 : 0));
}

/* Sends msg (READY=1, STOPPING=1); a failure is logged, never fatal. */
static void sdnotify_send(const char *msg)
{
	int fd;

	if (!notify.len)
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&notify.addr,
			     notify.len) < 0)
		fs_log(LOG_WARNING, "cannot send %s to NOTIFY_SOCKET: %m", msg);
	if (fd >= 0)
		close(fd);
}

/* The kernel's INIT is done once the session serves; the mount answers once a statfs of the
 * mount point reaches this daemon (a FUSE file system) and a stat of its root succeeds. Both
 * go through the session loop, which is why this runs on its own thread. arg: the mount
 * point, which the thread frees (it may outlive the session, detached). */
static void *ready_when_answering(void *arg)
{
	char *mnt = arg;
	struct statfs sfs;
	struct stat st;

	if (statfs(mnt, &sfs) < 0 || stat(mnt, &st) < 0)
		fs_log(LOG_WARNING, "not ready: the mount '%s' does not answer: %m", mnt);
	else if (sfs.f_type != FUSE_SUPER_MAGIC)
		fs_log(LOG_WARNING, "not ready: '%s' is no longer mounted", mnt);
	else
		sdnotify_send("READY=1");
	free(mnt);
	return NULL;
}

void sdnotify_ready_start(const char *mnt)
{
	char *copy;

	if (!notify.len)
		return;
	/* No mount point to look at (a passed descriptor): INIT is done, which is all a parent
	 * that mounted can wait for here. */
	if (!mnt) {
		sdnotify_send("READY=1");
		return;
	}
	copy = strdup(mnt);
	if (!copy || pthread_create(&notify.ready, NULL, ready_when_answering, copy) != 0) {
		free(copy);
		fs_log(LOG_WARNING, "cannot wait for the mount to answer; READY=1 not sent");
		return;
	}
	notify.ready_started = true;
}

void sdnotify_stopping(void)
{
	sdnotify_send("STOPPING=1");
}

void sdnotify_ready_join(void)
{
	struct timespec deadline;

	if (!notify.ready_started)
		return;
	notify.ready_started = false;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += READY_JOIN_WAIT;
	if (pthread_timedjoin_np(notify.ready, NULL, &deadline) != 0)
		pthread_detach(notify.ready); /* never sends: the mount is gone */
}
