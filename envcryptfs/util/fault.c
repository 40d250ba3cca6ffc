/* SPDX-License-Identifier: MIT */
/*
 * fault.c - fault injection at each step of a header or key update, so that tests can prove
 * every intermediate state opens. Compiled only into test builds (make FAULT_INJECTION=1,
 * the default with SANITIZE=1); release builds get the empty inline in internal.h instead.
 *
 * ECFS_FAULT_AFTER=N lets N steps pass and injects the fault at the next one (0 = the first);
 * ECFS_FAULT_KIND says which: eio (the default), enospc, short (at a write step: half the
 * data, then ENOSPC, as on a full disk; elsewhere as eio) or crash (_exit with
 * ECFS_FAULT_CRASH_STATUS before the step, as if the process had been killed).
 * ECFS_FAULT_WRITE_DELAY_MS=N makes each write take the daemon N ms more under the file's io
 * lock, as on a slow disk: the kernel's queue of written-back pages then outlasts a sync of
 * the mount.
 * ECFS_FAULT_LOOKUP_DELAY_MS=N makes the daemon's lookups of regular files pause N ms between
 * opening the entry and recording where it was found, so that tests can race a rename or
 * an unlink with a lookup the kernel sends without the directory lock.
 * ECFS_FAULT_RENAME_DELAY_MS=N makes the daemon's renames of regular files pause N ms with
 * the moved file's io lock held, before the name they replace is looked at, so that tests can
 * change the backing directory under a rename as an attacker would.
 * ECFS_FAULT_BIND_CHECK_DELAY_MS=N makes the daemon's check at open of a hard-linked file
 * whose link file does not name the place it recorded pause N ms before it decides, so that
 * tests can race a lookup that records another place with it.
 * ECFS_FAULT_TPM2_DEADLINE_S=N shortens the deadline of TPM calls, so that a test of a TPM
 * that never answers does not wait the full 20 s.
 */
#include "ecfs_util.h"

#ifdef ECFS_FAULT_INJECTION

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const step_names[] = {
    [ECFS_STEP_WRITE] = "write",
    [ECFS_STEP_FSYNC] = "fsync",
    [ECFS_STEP_RENAME] = "rename",
    [ECFS_STEP_DIR_FSYNC] = "directory fsync",
};

/* A result of kinds[] that is no errno: end the process. */
#define FAULT_CRASH 2

static const struct {
	const char *name;
	int result;
} kinds[] = {
    {"eio", -EIO},
    {"enospc", -ENOSPC},
    {"short", ECFS_FAULT_SHORT},
    {"crash", FAULT_CRASH},
};

/* The index in kinds[] that ECFS_FAULT_KIND names; an unknown kind is a broken test. */
static size_t fault_kind(void)
{
	const char *env = getenv("ECFS_FAULT_KIND");

	for (size_t i = 0; env && i < ECFS_ARRAY_SIZE(kinds); i++)
		if (strcmp(env, kinds[i].name) == 0)
			return i;
	if (env) {
		(void)!write(STDERR_FILENO, "ECFS_FAULT_KIND: unknown kind\n", 30);
		_exit(ECFS_FAULT_CRASH_STATUS);
	}
	return 0;
}

int ecfs_fault_at(enum ecfs_step step, const char *name)
{
	static atomic_int steps;
	const char *env = getenv("ECFS_FAULT_AFTER");
	int n, after;
	size_t k;

	if (!env)
		return 0;
	after = (int)strtol(env, NULL, 10);
	n = atomic_fetch_add(&steps, 1);
	if (n != after)
		return 0;
	k = fault_kind();
	if (kinds[k].result == FAULT_CRASH)
		_exit(ECFS_FAULT_CRASH_STATUS);
	if (kinds[k].result == ECFS_FAULT_SHORT && step != ECFS_STEP_WRITE)
		k = 0; /* only a write can be short */
	if (kinds[k].result == ECFS_FAULT_SHORT)
		return ECFS_FAULT_SHORT;
	return ecfs_fail(kinds[k].result, "fault injected at step %d (%s of '%s'): %s", n,
			 step_names[step], name, strerror(-kinds[k].result));
}

/* Sleeps for the milliseconds environment variable var says (none when unset). */
static void delay_by(const char *var)
{
	const char *env = getenv(var);
	long ms = env ? strtol(env, NULL, 10) : 0;
	struct timespec pause = {ms / 1000, (ms % 1000) * 1000 * 1000};

	if (ms > 0)
		nanosleep(&pause, NULL);
}

void ecfs_fault_write_delay(void)
{
	delay_by("ECFS_FAULT_WRITE_DELAY_MS");
}

void ecfs_fault_lookup_delay(void)
{
	delay_by("ECFS_FAULT_LOOKUP_DELAY_MS");
}

void ecfs_fault_rename_delay(void)
{
	delay_by("ECFS_FAULT_RENAME_DELAY_MS");
}

void ecfs_fault_bind_check_delay(void)
{
	delay_by("ECFS_FAULT_BIND_CHECK_DELAY_MS");
}

int ecfs_fault_tpm2_deadline(int normal)
{
	const char *env = getenv("ECFS_FAULT_TPM2_DEADLINE_S");
	long s = env ? strtol(env, NULL, 10) : 0;

	return s > 0 && s < normal ? (int)s : normal;
}

#else
typedef int ecfs_fault_injection_disabled;
#endif
