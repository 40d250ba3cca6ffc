/* kms_rewrap.c - the daemon's KMS duties: a lock around the header, which the status thread
 * reads while the rewrap thread rewrites it, and the thread that keeps the KMS slot wrapped
 * under its key's latest version. The volume key stays in memory, so a failure here is
 * logged, shown by `envcryptfsctl status` and tried again at the next interval, never fatal.
 * envcryptfsctl may change the header of a mounted volume: each round re-reads it, and the
 * new ciphertext is recorded under the volume's metadata lock, on the header as it is then. */
#include "daemon.h"
#include "kms_rewrap.h"
#include "tool.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static pthread_mutex_t header_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	struct ecfs_kms *kms;
	int slot;
	uint64_t interval_s;
	bool started, running;
	pthread_t thread;
	pthread_cond_t wake;
	pthread_mutex_t lock; /* stop, last_check, last_error and header_error */
	bool stop;
	int64_t last_check;	/* 0: not asked since the unlock */
	char last_error[512];	/* the KMS's answer */
	char header_error[512]; /* recording the rewrap in the header */
} rw = {.lock = PTHREAD_MUTEX_INITIALIZER, .slot = -1};

void kms_header_info(struct ecfs_volume_info *info)
{
	pthread_mutex_lock(&header_lock);
	ecfs_volume_get_info(fs.vol, info);
	pthread_mutex_unlock(&header_lock);
}

static const struct ecfs_slot_info *find_slot(const struct ecfs_volume_info *info)
{
	for (int i = 0; i < info->nslots; i++)
		if (info->slots[i].index == rw.slot && info->slots[i].type == ECFS_SLOT_KMS)
			return &info->slots[i];
	return NULL;
}

/* Records the new ciphertext in both header copies (atomically, by the library). */
static int store(struct ecfs_kms_slot *s, const char *ciphertext)
{
	int r;

	if (strlen(ciphertext) >= sizeof(s->ciphertext))
		return -E2BIG;
	memcpy(s->ciphertext, ciphertext, strlen(ciphertext) + 1);
	pthread_mutex_lock(&header_lock);
	r = ecfs_volume_slot_set_kms(fs.vol, rw.slot, s);
	pthread_mutex_unlock(&header_lock);
	if (r == 0)
		fs_log(LOG_INFO, "KMS slot %d rewrapped to version %llu of key '%s'", rw.slot,
		       (unsigned long long)s->key_version, s->key);
	return r;
}

/* What went wrong, led by a short cause ("connection refused") unless the client said it. */
static void describe(int r, char *why, size_t len)
{
	const char *cause = ecfs_tool_kms_cause(r), *msg = ecfs_last_error();

	if (r == 0)
		why[0] = '\0';
	else if (!*msg)
		snprintf(why, len, "%s", strerror(-r));
	else if (cause && !strcasestr(msg, cause))
		snprintf(why, len, "%s: %s", cause, msg);
	else
		snprintf(why, len, "%s", msg);
}

/* Logs a failure when it is new (a KMS that is down would otherwise fill the log). */
static void record(int r)
{
	char why[sizeof(rw.last_error)];

	describe(r, why, sizeof(why));
	pthread_mutex_lock(&rw.lock);
	rw.last_check = (int64_t)time(NULL);
	if (r < 0 && strcmp(why, rw.last_error) != 0)
		fs_log(LOG_WARNING, "KMS rewrap of slot %d failed (trying again in %llu s): %s",
		       rw.slot, (unsigned long long)rw.interval_s, why);
	else if (r == 0 && rw.last_error[0])
		fs_log(LOG_NOTICE, "the KMS answers again");
	memcpy(rw.last_error, why, sizeof(why));
	pthread_mutex_unlock(&rw.lock);
}

/* The same for a rewrap the KMS made but the header could not take ("" once it could). */
static void record_header(const char *why)
{
	pthread_mutex_lock(&rw.lock);
	if (why[0] && strcmp(why, rw.header_error) != 0)
		fs_log(LOG_WARNING,
		       "cannot record the KMS rewrap of slot %d (trying again in %llu s): %s",
		       rw.slot, (unsigned long long)rw.interval_s, why);
	snprintf(rw.header_error, sizeof(rw.header_error), "%s", why);
	pthread_mutex_unlock(&rw.lock);
}

/* Re-reads the header into the daemon's volume: envcryptfsctl may have changed it. */
static int refresh(void)
{
	int r;

	pthread_mutex_lock(&header_lock);
	r = ecfs_volume_refresh(fs.vol);
	pthread_mutex_unlock(&header_lock);
	return r;
}

/* Records ct under the metadata lock, on the header as it is on disk then. -EAGAIN when the
 * slot no longer holds the ciphertext was, that was rewrapped (another writer changed it). */
static int store_locked(const struct ecfs_kms_slot *was, struct ecfs_kms_slot *s, const char *ct,
			char *why, size_t len)
{
	struct ecfs_volume_info info;
	const struct ecfs_slot_info *si;
	struct ecfs_metalock *lock;
	int r = ecfs_metalock_acquire_at(ecfs_volume_dirfd(fs.vol), fs.backing_dir, &lock);

	if (r == 0 && (r = refresh()) == 0) {
		kms_header_info(&info);
		si = find_slot(&info);
		if (!si)
			r = -ENOENT;
		else if (strcmp(si->kms.ciphertext, was->ciphertext) != 0)
			r = -EAGAIN;
		else
			r = store(s, ct);
	}
	if (r == -ENOENT)
		snprintf(why, len, "key slot %d is no longer a KMS slot", rw.slot);
	else if (r < 0)
		snprintf(why, len, "%s", ecfs_error_text(r));
	ecfs_metalock_release(lock);
	return r;
}

/* One round: the header as it is now, the KMS asked for a newer version, the result stored.
 * A slot another writer changed meanwhile is rewrapped again from its new state. */
static void rewrap_once(void)
{
	struct ecfs_volume_info info;
	const struct ecfs_slot_info *si;
	struct ecfs_kms_slot s, was;
	char why[sizeof(rw.header_error)] = "";
	int r, kms = 0, attempt = 0;
	bool asked = false;

	do {
		char *ct = NULL;
		uint64_t latest = 0;

		why[0] = '\0';
		r = refresh();
		if (r < 0) {
			snprintf(why, sizeof(why), "cannot re-read the header: %s",
				 ecfs_error_text(r));
			break;
		}
		kms_header_info(&info);
		si = find_slot(&info);
		if (!si) {
			snprintf(why, sizeof(why), "key slot %d is no longer a KMS slot", rw.slot);
			break;
		}
		was = s = si->kms;
		asked = true;
		kms = ecfs_kms_key_info(rw.kms, &latest, NULL);
		if (kms == 0 && latest > s.key_version)
			kms = ecfs_kms_rewrap(rw.kms, s.ciphertext, &ct, &s.key_version);
		if (kms == 0 && ct)
			r = store_locked(&was, &s, ct, why, sizeof(why));
		free(ct);
	} while (r == -EAGAIN && ++attempt < 3);
	if (asked)
		record(kms);
	record_header(why);
}

/* Sleeps one interval; true when asked to stop meanwhile. Called with rw.lock held. */
static bool wait_interval(void)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)rw.interval_s;
	while (!rw.stop && pthread_cond_timedwait(&rw.wake, &rw.lock, &until) == 0)
		;
	return rw.stop;
}

static void *rewrap_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rw.lock);
	while (!wait_interval()) {
		pthread_mutex_unlock(&rw.lock);
		rewrap_once();
		pthread_mutex_lock(&rw.lock);
	}
	pthread_mutex_unlock(&rw.lock);
	return NULL;
}

/* The thread blocks every signal: the daemon's handlers belong to the session loop. */
static int start_thread(void)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rw.wake, &ca);
	pthread_condattr_destroy(&ca);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&rw.thread, NULL, rewrap_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		pthread_cond_destroy(&rw.wake);
	rw.running = r == 0;
	return -r;
}

int kms_rewrap_start(struct ecfs_kms *k, int slot, uint64_t interval_s)
{
	rw.kms = k;
	rw.slot = slot;
	rw.interval_s = interval_s;
	rw.started = true;
	/* A lock held longer than an interval is tried again at the next one, not waited for. */
	if (interval_s)
		ecfs_metalock_set_wait(interval_s < ECFS_METALOCK_WAIT ? (unsigned)interval_s
								       : ECFS_METALOCK_WAIT);
	return interval_s ? start_thread() : 0;
}

void kms_rewrap_stop(void)
{
	if (rw.running) {
		pthread_mutex_lock(&rw.lock);
		rw.stop = true;
		pthread_cond_signal(&rw.wake);
		pthread_mutex_unlock(&rw.lock);
		pthread_join(rw.thread, NULL);
		pthread_cond_destroy(&rw.wake);
		rw.running = false;
	}
	ecfs_kms_free(rw.kms);
	rw.kms = NULL;
	rw.started = false;
}

void kms_rewrap_fill(const struct ecfs_volume_info *info, struct ecfs_status *st)
{
	const struct ecfs_slot_info *s = rw.started ? find_slot(info) : NULL;

	if (rw.started) {
		pthread_mutex_lock(&rw.lock);
		snprintf(st->kms_rewrap_error, sizeof(st->kms_rewrap_error), "%s", rw.header_error);
		pthread_mutex_unlock(&rw.lock);
	}
	if (!s)
		return;
	snprintf(st->kms_url, sizeof(st->kms_url), "%s", s->kms.url);
	snprintf(st->kms_key, sizeof(st->kms_key), "%s", s->kms.key);
	st->kms_key_version = s->kms.key_version;
	st->kms_last_rewrap = s->kms.rewrapped;
	pthread_mutex_lock(&rw.lock);
	st->kms_last_check = rw.last_check;
	snprintf(st->kms_last_error, sizeof(st->kms_last_error), "%s", rw.last_error);
	pthread_mutex_unlock(&rw.lock);
}
