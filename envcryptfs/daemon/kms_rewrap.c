/* kms_rewrap.c - the daemon's KMS duties: a lock around the header, which the status thread
 * reads while the rewrap thread rewrites it, and the thread that keeps the KMS slot wrapped
 * under its key's latest version. The volume key stays in memory, so a KMS failure here is
 * logged and tried again at the next interval, never fatal. */
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
	bool stale_logged; /* the rewrap thread's own */
	pthread_t thread;
	pthread_cond_t wake;
	pthread_mutex_t lock; /* stop, last_check and last_error */
	bool stop;
	int64_t last_check; /* 0: not asked since the unlock */
	char last_error[512];
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

/* Whether the header on disk is still the one this daemon holds: envcryptfsctl may change
 * a mounted volume's header, and writing ours would undo that. -ESTALE when it moved on. */
static int header_unchanged(const struct ecfs_volume_info *mine)
{
	struct ecfs_volume_info *disk = malloc(sizeof(*disk));
	struct ecfs_volume *v;
	int r = disk ? ecfs_volume_open(fs.backing_dir, &v) : -ENOMEM;

	if (r == 0) {
		ecfs_volume_get_info(v, disk);
		ecfs_volume_close(v);
		r = disk->seqid == mine->seqid ? 0 : -ESTALE;
	}
	free(disk);
	return r;
}

/* Stores the new ciphertext unless the header on disk moved on; that is no KMS failure. */
static int store_if_ours(const struct ecfs_volume_info *info, struct ecfs_kms_slot *s,
			 const char *ct)
{
	int r = header_unchanged(info);

	if (r == 0)
		return store(s, ct);
	if (r == -ESTALE && !rw.stale_logged)
		fs_log(LOG_WARNING,
		       "not rewrapping KMS slot %d: the header changed on disk since the mount "
		       "(envcryptfsctl?); remount to pick it up",
		       rw.slot);
	rw.stale_logged = rw.stale_logged || r == -ESTALE;
	return r == -ESTALE ? 0 : r;
}

static void rewrap_once(void)
{
	struct ecfs_volume_info info;
	const struct ecfs_slot_info *si;
	struct ecfs_kms_slot s;
	uint64_t latest = 0;
	char *ct = NULL;
	int r;

	kms_header_info(&info);
	si = find_slot(&info);
	if (!si)
		return; /* only this process changes the header it holds */
	s = si->kms;
	r = ecfs_kms_key_info(rw.kms, &latest, NULL);
	if (r == 0 && latest > s.key_version)
		r = ecfs_kms_rewrap(rw.kms, s.ciphertext, &ct, &s.key_version);
	if (r == 0 && ct)
		r = store_if_ours(&info, &s, ct);
	free(ct);
	record(r);
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
