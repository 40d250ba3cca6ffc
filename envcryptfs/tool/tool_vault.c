/* SPDX-License-Identifier: MIT */
/*
 * tool_vault.c - key files kept as Vault secrets: "vault:MOUNT/PATH[#FIELD]" names field
 * FIELD (default "key") of the KV version 2 secret PATH under MOUNT, base64, read through
 * the KMS that local configuration names (the same URL, token, Kubernetes role and TLS
 * options as KMS slots). The bytes are those of a key file, in locked memory.
 */
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FIELD_DEFAULT "key"
#define SPEC_MAX      512

/* The parts of a vault: name, each NUL-terminated in buf. */
struct vault_name {
	char buf[SPEC_MAX + 1];
	const char *mount, *path, *field;
};

bool ecfs_tool_is_vault_key(const char *name)
{
	return name && strncmp(name, ECFS_VAULT_PREFIX, strlen(ECFS_VAULT_PREFIX)) == 0;
}

static bool field_ok(const char *f)
{
	size_t n = strlen(f);

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (f[i] <= ' ' || f[i] == '"' || f[i] == '\\' || f[i] == 0x7f)
			return false;
	return true;
}

/* Splits spec; false when it is not "vault:MOUNT/PATH[#FIELD]". */
static bool split_name(const char *spec, struct vault_name *n)
{
	const char *rest = spec + strlen(ECFS_VAULT_PREFIX);
	char *slash, *hash;

	if (strlen(rest) > SPEC_MAX)
		return false;
	memcpy(n->buf, rest, strlen(rest) + 1);
	hash = strchr(n->buf, '#');
	if (hash)
		*hash = '\0';
	slash = strchr(n->buf, '/');
	if (!slash)
		return false;
	*slash = '\0';
	n->mount = n->buf;
	n->path = slash + 1;
	n->field = hash ? hash + 1 : FIELD_DEFAULT;
	return n->mount[0] && n->path[0] && field_ok(n->field);
}

/* Why a secret's bytes cannot be a key file, or NULL. */
static const char *length_problem(size_t len)
{
	static __thread char why[160];

	if (len >= ECFS_KEYFILE_MIN && len <= ECFS_KEYFILE_MAX)
		return NULL;
	snprintf(why, sizeof(why), "it holds %zu bytes, and a key file holds %d to %d", len,
		 ECFS_KEYFILE_MIN, ECFS_KEYFILE_MAX);
	return why;
}

/* One attempt: the secret's field, or a negative errno with ecfs_last_error(). */
static int read_once(const struct ecfs_kms_opts *k, const struct vault_name *n,
		     struct ecfs_secret **s)
{
	struct ecfs_kms *kms = NULL;
	int r = ecfs_tool_kms_kv_new(k, &kms);

	if (r == 0)
		r = ecfs_kms_kv_read(kms, n->mount, n->path, n->field, ECFS_KEYFILE_MAX, s);
	ecfs_kms_free(kms);
	return r;
}

/* "key file 'SPEC': CAUSE: the client's words", without saying the cause twice. */
static void failure_line(const char *spec, int r, char *buf, size_t size)
{
	const char *cause = ecfs_tool_kms_cause(r);

	/* The client's line says "no such secret", and may name the cause itself. */
	if (r == -ENOKEY || (cause && strcasestr(ecfs_last_error(), cause)))
		cause = NULL;
	snprintf(buf, size, "key file '%s': %s%s%s", spec, cause ? cause : "", cause ? ": " : "",
		 ecfs_last_error());
}

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Reads the secret; a KMS that is down or sealed is asked again (1 s doubling to 30 s) until
 * wait_s seconds have passed, as kms_wait does for a KMS slot. */
static int read_waiting(const char *prog, const struct ecfs_kms_opts *k, unsigned wait_s,
			const char *spec, const struct vault_name *n, struct ecfs_secret **s)
{
	int64_t deadline = now_s() + wait_s, left;
	unsigned delay = 1, d;
	char line[1024];
	int r;

	for (;;) {
		r = read_once(k, n, s);
		left = deadline - now_s();
		if (r == 0 || !ecfs_tool_kms_retryable(r) || left <= 0)
			return r;
		d = (int64_t)delay < left ? delay : (unsigned)left;
		failure_line(spec, r, line, sizeof(line));
		ecfs_tool_warn(prog, "%s; asking again in %u s (kms_wait: %lld s left)", line, d,
			       (long long)left);
		sleep(d);
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
}

static int fetch(const char *prog, const struct ecfs_kms_opts *k, unsigned wait_s, const char *spec,
		 const struct vault_name *n, struct ecfs_secret **out)
{
	struct ecfs_secret *s = NULL;
	const char *why;
	char line[1024];
	int r = read_waiting(prog, k, wait_s, spec, n, &s);

	if (r < 0) {
		failure_line(spec, r, line, sizeof(line));
		ecfs_tool_error(prog, "%s", line);
		if (wait_s && ecfs_tool_kms_retryable(r))
			ecfs_tool_warn(prog, "the KMS did not come back within kms_wait=%u s",
				       wait_s);
		return r == -EINVAL ? ECFS_EXIT_USAGE : ECFS_EXIT_ERROR;
	}
	why = length_problem(ecfs_secret_len(s));
	if (why) {
		ecfs_tool_error(prog,
				"key file '%s': field '%s' of the secret is not a key file: %s",
				spec, n->field, why);
		ecfs_secret_free(s);
		return ECFS_EXIT_ERROR;
	}
	*out = s;
	return ECFS_EXIT_OK;
}

int ecfs_tool_read_vault_key(const char *prog, const struct ecfs_kms_opts *k, unsigned wait_s,
			     const char *spec, struct ecfs_secret **out)
{
	struct vault_name n;

	if (!split_name(spec, &n)) {
		ecfs_tool_error(
		    prog, "key file '%s' is not vault:MOUNT/PATH or vault:MOUNT/PATH#FIELD", spec);
		return ECFS_EXIT_USAGE;
	}
	/* The secret's address is ours to choose; the server must be too. */
	if (!ecfs_kms_opt(k, ECFS_KMS_URL)) {
		ecfs_tool_error(prog,
				"key file '%s' is a Vault secret, but no KMS is configured: give "
				"--kms-url (-o kms_url=) or kms_url= in %s",
				spec, k->conf_path ? k->conf_path : ECFS_KMS_CONFIG_FILE);
		return ECFS_EXIT_USAGE;
	}
	return fetch(prog, k, wait_s, spec, &n, out);
}
