/* stop.c - the orderly stop on SIGTERM, SIGINT and SIGHUP: the mount is flushed first (with
 * the writeback cache the kernel holds written data that it has not yet sent; a session that
 * ended before asking for it would lose it), then the session loop ends and the daemon
 * unmounts, lazily when files are still open. The flush needs the loop to serve it, so it runs
 * on a thread of its own; a second signal ends the loop without waiting for it. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546
/* How often the main thread is woken until its loop has seen the end of the session. */
#define WAKE_INTERVAL_NS (100 * 1000 * 1000)
/* How long the end of the session waits for a flush still under way (after a second signal). */
#define FLUSH_JOIN_WAIT 5

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

static struct {
	struct fuse_session *se;
	char *mnt;
	pthread_t main_thread, thread;
	bool started;
	sem_t wake; /* posted by the first signal, and once the loop has returned */
	volatile sig_atomic_t requested;
	int loop_done; /* atomic: the session loop has returned */
} stop;

static void on_stop_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP && fs_log_reopen_on_hup()) {
		errno = saved;
		return;
	}
	if (!stop.requested) {
		stop.requested = 1;
		sem_post(&stop.wake);
	} else {
		/* A second signal (or the stop thread's wake-up call) ends the loop now. */
		fuse_session_exit(stop.se);
		if (!pthread_equal(pthread_self(), stop.main_thread))
			pthread_kill(stop.main_thread, SIGTERM);
	}
	errno = saved;
}

/* Writes back what the kernel holds for the mount (served by the still running loop). */
static void flush_mount(const char *mnt)
{
	int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs sfs;

	if (fd < 0) {
		fs_log(LOG_WARNING, "cannot flush '%s' before unmounting: %m", mnt);
		return;
	}
	/* Unmounted from outside meanwhile: the path names the directory below. */
	if (fstatfs(fd, &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC && syncfs(fd) < 0)
		fs_log(LOG_ERR,
		       "flushing '%s' before unmounting failed: %m; data written through it "
		       "may be lost",
		       mnt);
	close(fd);
}

static bool loop_done(void)
{
	return __atomic_load_n(&stop.loop_done, __ATOMIC_ACQUIRE);
}

static void *stop_thread(void *arg)
{
	const struct timespec pause = {0, WAKE_INTERVAL_NS};

	(void)arg;
	while (sem_wait(&stop.wake) < 0 && errno == EINTR)
		;
	if (loop_done())
		return NULL; /* unmounted from outside: nothing to do */
	/* Without a mount point (a passed descriptor) there is nothing to sync through: the
	 * writeback cache is off there unless asked for (envcryptfs(8)). */
	if (stop.mnt)
		flush_mount(stop.mnt);
	fuse_session_exit(stop.se);
	/* The main thread waits in a system call that only a signal interrupts; one that
	 * arrives just before it starts waiting is missed, hence the repeats. */
	while (!loop_done()) {
		pthread_kill(stop.main_thread, SIGTERM);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

static void set_handlers(void (*handler)(int))
{
	struct sigaction sa = {.sa_handler = handler};

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the loop's read and wait must return EINTR. */
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaction(stop_signals[i], &sa, NULL);
}

void fs_stop_start(struct fuse_session *se, const char *mnt)
{
	sigset_t all, old;

	stop.se = se;
	stop.main_thread = pthread_self();
	stop.mnt = mnt ? strdup(mnt) : NULL;
	if ((mnt && !stop.mnt) || sem_init(&stop.wake, 0, 0) < 0) {
		fs_log(LOG_WARNING, "no flush on SIGTERM: %m");
		return;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	stop.started = pthread_create(&stop.thread, NULL, stop_thread, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!stop.started) {
		fs_log(LOG_WARNING, "no flush on SIGTERM: cannot start its thread");
		sem_destroy(&stop.wake);
		return;
	}
	set_handlers(on_stop_signal); /* over libfuse's, which end the loop at once */
}

void fs_stop_finish(void)
{
	struct timespec deadline;

	if (!stop.started)
		return;
	/* The daemon is ending anyway: later signals change nothing. */
	set_handlers(SIG_IGN);
	__atomic_store_n(&stop.loop_done, 1, __ATOMIC_RELEASE);
	sem_post(&stop.wake);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += FLUSH_JOIN_WAIT;
	stop.started = false;
	if (pthread_timedjoin_np(stop.thread, NULL, &deadline) != 0) {
		/* Still flushing: the unmount ends that; the thread keeps its copy of mnt. */
		pthread_detach(stop.thread);
		return;
	}
	sem_destroy(&stop.wake);
	free(stop.mnt);
	stop.mnt = NULL;
}
