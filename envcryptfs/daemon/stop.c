/* stop.c - the orderly stop on SIGTERM, SIGINT and SIGHUP: the mount is flushed first (with
 * the writeback cache the kernel holds written data that it has not yet sent; a session that
 * ended before serving it would lose it), then the session loop ends and the daemon
 * unmounts, lazily when files are still open. The flush needs the loop to serve it, so it runs
 * on a thread of its own; a second signal ends the loop without waiting for it. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546
/* How often the main thread is woken until its loop has seen the end of the session. */
#define WAKE_INTERVAL_NS (100 * 1000 * 1000)
/* How long the end of the session waits for a flush still under way (after a second signal). */
#define FLUSH_JOIN_WAIT 5
/* How long a flush waits for the kernel's queued writes to be served, and how often it looks. */
#define FLUSH_WAIT 45
#define POLL_NS	   (10 * 1000 * 1000)
/* Without fusectl, writes are taken as served after this long with none under way. */
#define QUIET_NS (500 * 1000 * 1000)

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

static bool loop_done(void)
{
	return __atomic_load_n(&stop.loop_done, __ATOMIC_ACQUIRE);
}

/* Where the kernel counts the requests it has sent this mount's daemon (or queued for it)
 * and not had answered: fusectl's "waiting" file, which counts the writes of the writeback
 * cache too. */
static int waiting_count_path(int mnt_fd, char path[64])
{
	struct stat st;

	if (fstat(mnt_fd, &st) < 0)
		return -errno;
	snprintf(path, 64, "/sys/fs/fuse/connections/%u/waiting",
		 (major(st.st_dev) << 20) | minor(st.st_dev));
	return 0;
}

/* The count, or -1 when it cannot be read (fusectl not mounted). The file cannot seek: it is
 * opened for each look. */
static long read_count(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[24];
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void pause_ns(long ns)
{
	const struct timespec pause = {0, ns};

	nanosleep(&pause, NULL);
}

static uint64_t writes_answered(void)
{
	return __atomic_load_n(&fs.write_ops, __ATOMIC_RELAXED) +
	       __atomic_load_n(&fs.write_errors, __ATOMIC_RELAXED);
}

/* A write taken up and not yet answered: one that waits for its file's lock, or a slow disk. */
static bool write_under_way(uint64_t answered)
{
	return __atomic_load_n(&fs.writes_taken, __ATOMIC_RELAXED) != answered;
}

static void deadline_in(struct timespec *t, time_t sec, long ns)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += sec + (t->tv_nsec + ns) / 1000000000;
	t->tv_nsec = (t->tv_nsec + ns) % 1000000000;
}

/* Waits, after a sync, until the writes it queued are served: until the kernel counts no
 * request to the mount unanswered, on two looks in a row (a truncate holds the writes it
 * queued back until its own reply is in), however long a slow write takes. Without the
 * kernel's count, until for QUIET_NS no write has been under way or answered: the kernel
 * hands a queued write to the first free worker at once, so one still queued is taken up
 * well within that time, however long each write takes. 1 when writes were answered
 * meanwhile (a new sync may find pages dirtied since), 0 when none were, -ETIMEDOUT, or
 * -ECANCELED when the loop ended (a second signal). */
static int writes_served(const char *count, const struct timespec *deadline)
{
	uint64_t start = writes_answered(), last = start, now;
	struct timespec quiet_end;
	int zeros = 0;
	long n;

	deadline_in(&quiet_end, 0, QUIET_NS);
	for (;;) {
		now = writes_answered();
		if (count && (n = read_count(count)) >= 0) {
			zeros = n == 0 ? zeros + 1 : 0;
			if (zeros == 2)
				return writes_answered() != start;
		} else if (now != last || write_under_way(now)) {
			last = now;
			deadline_in(&quiet_end, 0, QUIET_NS);
		} else if (past(&quiet_end)) {
			return now != start;
		}
		if (loop_done())
			return -ECANCELED;
		if (past(deadline))
			return -ETIMEDOUT;
		pause_ns(POLL_NS);
	}
}

/* Writes back what the kernel holds for the mount, and waits until the loop has served it:
 * syncfs(2) on FUSE only queues the writes and returns (a daemon that stopped reading then
 * would lose them). Served by the still running loop. */
static void flush_mount(const char *mnt)
{
	int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 1;
	char count[64];
	bool counted;
	struct timespec deadline;
	struct statfs sfs;

	if (fd < 0) {
		fs_log(LOG_WARNING, "cannot flush '%s' before unmounting: %m", mnt);
		return;
	}
	/* Unmounted from outside meanwhile: the path names the directory below. */
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != FUSE_SUPER_MAGIC) {
		close(fd);
		return;
	}
	counted = waiting_count_path(fd, count) == 0;
	deadline_in(&deadline, FLUSH_WAIT, 0);
	while (r == 1) {
		/* Once the loop is over, a sync would wait for answers that never come. */
		if (loop_done())
			break;
		if (syncfs(fd) < 0) {
			if (loop_done())
				break;
			fs_log(LOG_ERR,
			       "flushing '%s' before unmounting failed: %m; data written "
			       "through it may be lost",
			       mnt);
			break;
		}
		r = writes_served(counted ? count : NULL, &deadline);
	}
	if (r == -ETIMEDOUT)
		fs_log(LOG_ERR,
		       "requests to '%s' still unanswered %d s after the flush began; stopping "
		       "anyway: data written through it may be lost",
		       mnt, FLUSH_WAIT);
	close(fd);
}

static void *stop_thread(void *arg)
{
	(void)arg;
	while (sem_wait(&stop.wake) < 0 && errno == EINTR)
		;
	if (loop_done())
		return NULL; /* unmounted from outside: nothing to do */
	/* Without a mount point (a passed descriptor) there is nothing to sync through: the
	 * writeback cache is off there unless asked for (envcryptfs(8)). */
	if (stop.mnt)
		flush_mount(stop.mnt);
	/* Ended meanwhile (a second signal): the session may be gone already. */
	if (loop_done())
		return NULL;
	fuse_session_exit(stop.se);
	/* The main thread waits in a system call that only a signal interrupts; one that
	 * arrives just before it starts waiting is missed, hence the repeats. */
	while (!loop_done()) {
		pthread_kill(stop.main_thread, SIGTERM);
		pause_ns(WAKE_INTERVAL_NS);
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
