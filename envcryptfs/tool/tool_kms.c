/* SPDX-License-Identifier: MIT */
/* tool_kms.c - the one table of KMS options, read by getopt_long users and by the daemon's -o. */
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kms_opt_desc {
	const char *name; /* the command-line spelling; under -o, '-' becomes '_' */
	const char *arg;
	const char *help;
};

static const struct kms_opt_desc descs[ECFS_KMS_NOPTS] = {
    [ECFS_KMS_URL] = {"kms-url", "URL", "the KMS (https://HOST:PORT; http:// only to loopback)"},
    [ECFS_KMS_MOUNT] = {"kms-mount", "PATH", "the Transit engine's mount (default transit)"},
    [ECFS_KMS_KEY] = {"kms-key", "NAME", "the Transit key's name"},
    [ECFS_KMS_TOKEN_FILE] = {"kms-token-file", "FILE", "the Vault token (else $VAULT_TOKEN)"},
    [ECFS_KMS_NAMESPACE] = {"kms-namespace", "NS", "a Vault namespace (X-Vault-Namespace)"},
    [ECFS_KMS_CACERT] = {"kms-cacert", "FILE", "the CA that signed the KMS's certificate"},
    [ECFS_KMS_CERT] = {"kms-cert", "FILE", "a client certificate for mutual TLS"},
    [ECFS_KMS_CLIENT_KEY] = {"kms-client-key", "FILE", "its private key"},
    [ECFS_KMS_ROLE] = {"kms-role", "ROLE", "Kubernetes auth with this role (no token given)"},
    [ECFS_KMS_JWT_FILE] = {"kms-jwt-file", "FILE",
			   "the service-account JWT (default: the pod's own)"},
    [ECFS_KMS_CONFIG] = {"kms-config", "FILE",
			 "the KMS configuration file (default " ECFS_KMS_CONFIG_FILE ")"},
    [ECFS_KMS_TIMEOUT] = {"kms-timeout", "SECONDS",
			  "a deadline per KMS request, retries included (default 10 s)"},
};

#define TIMEOUT_MAX_S 600

int ecfs_kms_timeout_s(const char *value)
{
	uint64_t s;

	if (ecfs_tool_parse_duration(value, &s) < 0 || s > TIMEOUT_MAX_S)
		return 0;
	return (int)s;
}

void ecfs_kms_getopt_merge(const struct option *base, int first_val, struct option *out)
{
	size_t n = 0;

	for (; base[n].name; n++)
		out[n] = base[n];
	for (int i = 0; i < ECFS_KMS_NOPTS; i++)
		out[n++] = (struct option){descs[i].name, required_argument, NULL, first_val + i};
	out[n] = (struct option){NULL, 0, NULL, 0};
}

static int set_value(const char *prog, struct ecfs_kms_opts *k, int i, const char *value,
		     const char *spelled)
{
	if (!value || !*value) {
		ecfs_tool_error(prog, "%s needs a value", spelled);
		return -1;
	}
	if (k->v[i]) {
		ecfs_tool_error(prog, "%s is given twice", spelled);
		return -1;
	}
	if (i == ECFS_KMS_TIMEOUT && !ecfs_kms_timeout_s(value)) {
		ecfs_tool_error(prog, "%s '%s' is not a number of seconds from 1 to %d", spelled,
				value, TIMEOUT_MAX_S);
		return -1;
	}
	k->v[i] = value;
	return 0;
}

int ecfs_kms_getopt_set(const char *prog, struct ecfs_kms_opts *k, int first_val, int c,
			const char *value)
{
	char spelled[40];
	int i = c - first_val;

	if (i < 0 || i >= ECFS_KMS_NOPTS)
		return 0;
	snprintf(spelled, sizeof(spelled), "--%s", descs[i].name);
	return set_value(prog, k, i, value, spelled) < 0 ? -1 : 1;
}

/* Whether opt starts with "kms_..." spelling descs[i].name with '_' for '-', then '='. */
static const char *mount_value(int i, const char *opt)
{
	const char *n = descs[i].name;

	for (; *n; n++, opt++)
		if (*opt != (*n == '-' ? '_' : *n))
			return NULL;
	return *opt == '=' ? opt + 1 : NULL;
}

int ecfs_kms_opt_lookup(const char *opt, const char **value)
{
	for (int i = 0; i < ECFS_KMS_NOPTS; i++) {
		*value = mount_value(i, opt);
		if (*value)
			return i;
	}
	return -1;
}

int ecfs_kms_mount_opt(const char *prog, struct ecfs_kms_opts *k, const char *opt)
{
	for (int i = 0; i < ECFS_KMS_NOPTS; i++) {
		const char *value = mount_value(i, opt);
		char spelled[40];
		char *copy;

		if (!value)
			continue;
		snprintf(spelled, sizeof(spelled), "%.*s", (int)(value - opt - 1), opt);
		copy = strdup(value);
		if (!copy || set_value(prog, k, i, copy, spelled) < 0) {
			free(copy);
			return -1;
		}
		k->owned[i] = copy;
		return 1;
	}
	return 0;
}

static bool is_file_opt(int i)
{
	return i == ECFS_KMS_TOKEN_FILE || i == ECFS_KMS_CACERT || i == ECFS_KMS_CERT ||
	       i == ECFS_KMS_CLIENT_KEY || i == ECFS_KMS_JWT_FILE || i == ECFS_KMS_CONFIG;
}

/* path made absolute against the current directory; NULL when out of memory. */
static char *absolute(const char *path)
{
	char *cwd, *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (cwd && asprintf(&out, "%s/%s", cwd, path) < 0)
		out = NULL;
	free(cwd);
	return out;
}

int ecfs_kms_opts_absolute(const char *prog, struct ecfs_kms_opts *k)
{
	for (int i = 0; i < ECFS_KMS_NOPTS; i++) {
		char *abs;

		if (!k->v[i] || !is_file_opt(i) || k->v[i][0] == '/')
			continue;
		abs = absolute(k->v[i]);
		if (!abs) {
			ecfs_tool_error(prog, "cannot resolve '%s': %s", k->v[i], strerror(errno));
			return -1;
		}
		free(k->owned[i]);
		k->owned[i] = abs;
		k->v[i] = abs;
	}
	return 0;
}

void ecfs_kms_opts_free(struct ecfs_kms_opts *k)
{
	for (int i = 0; i < ECFS_KMS_NOPTS; i++) {
		if (k->owned[i] && k->v[i] == k->owned[i])
			k->v[i] = NULL;
		free(k->owned[i]);
		free(k->conf[i]);
		k->owned[i] = k->conf[i] = NULL;
	}
	free(k->conf_path);
	k->conf_path = NULL;
}

bool ecfs_kms_opts_given(const struct ecfs_kms_opts *k)
{
	for (int i = 0; i < ECFS_KMS_NOPTS; i++)
		if (k->v[i] && i != ECFS_KMS_CONFIG && i != ECFS_KMS_TIMEOUT)
			return true;
	return false;
}

const char *ecfs_kms_opt(const struct ecfs_kms_opts *k, enum ecfs_kms_opt i)
{
	return k->v[i] ? k->v[i] : k->conf[i];
}

const char *ecfs_kms_url_origin(const struct ecfs_kms_opts *k)
{
	return k->v[ECFS_KMS_URL] || !k->conf_path ? "--kms-url" : k->conf_path;
}

int ecfs_kms_opts_timeout_ms(const struct ecfs_kms_opts *k)
{
	const char *t = ecfs_kms_opt(k, ECFS_KMS_TIMEOUT);

	return t ? ecfs_kms_timeout_s(t) * 1000 : 0;
}

bool ecfs_kms_target_given(const struct ecfs_kms_opts *k)
{
	return k->v[ECFS_KMS_URL] || k->v[ECFS_KMS_MOUNT] || k->v[ECFS_KMS_KEY];
}

int ecfs_kms_check_target(const char *prog, const struct ecfs_kms_opts *k)
{
	if (k->v[ECFS_KMS_URL] && k->v[ECFS_KMS_KEY])
		return 0;
	ecfs_tool_error(prog, "a KMS key slot needs --kms-url and --kms-key");
	return -1;
}

void ecfs_kms_opts_help(FILE *f, bool mount_style)
{
	for (int i = 0; i < ECFS_KMS_NOPTS; i++) {
		char opt[48];

		if (mount_style) {
			int n = snprintf(opt, sizeof(opt), "kms_%s=%s", descs[i].name + 4,
					 descs[i].arg);

			for (int j = 0; j < n && opt[j] != '='; j++)
				opt[j] = opt[j] == '-' ? '_' : opt[j];
			fprintf(f, "    -o %-21s%s\n", opt, descs[i].help);
		} else {
			snprintf(opt, sizeof(opt), "--%s %s", descs[i].name, descs[i].arg);
			fprintf(f, "  %-23s%s\n", opt, descs[i].help);
		}
	}
}
