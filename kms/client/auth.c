/* SPDX-License-Identifier: MIT */
/*
 * auth.c - where the Vault token comes from: a token file, $VAULT_TOKEN, or a Kubernetes
 * service-account login. The token only ever lives in locked memory.
 */
#include "client.h"
#include "ecfs_util.h"
#include "transit_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drops trailing whitespace (a token file usually ends in a newline) and checks that what
 * is left is visible ASCII, so it cannot break the header it goes into. */
static int clean_token(struct ecfs_secret *s, const char *origin)
{
	const uint8_t *p = ecfs_secret_data(s);
	size_t n = ecfs_secret_len(s);

	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	ecfs_secret_truncate(s, n);
	if (n == 0)
		return ecfs_fail(-EINVAL, "%s is empty", origin);
	for (size_t i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return ecfs_fail(-EINVAL, "%s holds characters a token cannot have",
					 origin);
	return 0;
}

static int token_from_file(const char *path, struct ecfs_secret **out)
{
	char origin[300];
	int r = ecfs_secret_read_file(path, 1, KMS_TOKEN_MAX, out, NULL);

	if (r < 0)
		return ecfs_fail(r, "cannot read the KMS token: %s", ecfs_last_error());
	snprintf(origin, sizeof(origin), "token file '%s'", path);
	r = clean_token(*out, origin);
	if (r < 0) {
		ecfs_secret_free(*out);
		*out = NULL;
	}
	return r;
}

static int token_from_env(const char *value, struct ecfs_secret **out)
{
	size_t n = strlen(value);
	int r;

	if (n > KMS_TOKEN_MAX)
		return ecfs_fail(-EINVAL, "VAULT_TOKEN is longer than %d bytes", KMS_TOKEN_MAX);
	*out = ecfs_secret_new(n);
	if (!*out)
		return ecfs_fail(-ENOMEM, "out of memory");
	memcpy(ecfs_secret_data(*out), value, n);
	r = clean_token(*out, "VAULT_TOKEN");
	if (r < 0) {
		ecfs_secret_free(*out);
		*out = NULL;
	}
	return r;
}

int kms_auth_init(struct ecfs_kms *k, const struct ecfs_kms_config *cfg)
{
	const char *env = getenv("VAULT_TOKEN");

	if (cfg->token_file)
		return token_from_file(cfg->token_file, &k->token);
	if (env && env[0])
		return token_from_env(env, &k->token);
	if (cfg->role) {
		k->k8s = true; /* logs in at the first request: ecfs_kms_new stays offline */
		return 0;
	}
	return ecfs_fail(-EINVAL, "no KMS token: give a token file, set VAULT_TOKEN, or give a "
				  "Kubernetes auth role");
}

/* POST /v1/auth/kubernetes/login {"role", "jwt"} -> auth.client_token. */
static int k8s_login(struct ecfs_kms *k)
{
	struct ecfs_secret *jwt = NULL;
	struct kms_http_resp rs = {0};
	struct kms_jw w;
	const char *body;
	size_t len;
	int r = ecfs_secret_read_file(k->jwt_file, 1, 64 * 1024, &jwt, NULL);

	if (r < 0)
		return ecfs_fail(r, "Kubernetes login: cannot read the service account token: %s",
				 ecfs_last_error());
	r = clean_token(jwt, "the service account token");
	kms_jw_init(&w);
	if (r == 0)
		r = kms_transit_login_request(k->role, ecfs_secret_data(jwt), ecfs_secret_len(jwt),
					      &w);
	ecfs_secret_free(jwt);
	if (r == 0)
		r = kms_jw_finish(&w, &body, &len);
	if (r == 0)
		r = kms_call(k, "Kubernetes login", "POST", "/v1/auth/kubernetes/login", body, len,
			     KMS_RETRY_IDEMPOTENT, false, &rs);
	kms_jw_free(&w);
	if (r == 0) {
		r = kms_transit_parse_login(
		    rs.body ? (const char *)ecfs_secret_data(rs.body) : NULL, rs.len, &k->token);
		if (r < 0)
			r = kms_fail_op(k, r, "Kubernetes login");
	}
	kms_http_resp_free(&rs);
	return r;
}

int kms_auth_ensure(struct ecfs_kms *k)
{
	if (k->token)
		return 0;
	if (!k->k8s)
		return ecfs_fail(-EACCES, "no KMS token");
	return k8s_login(k);
}

bool kms_auth_expire(struct ecfs_kms *k)
{
	if (!k->k8s || !k->token)
		return false;
	ecfs_secret_free(k->token);
	k->token = NULL;
	return true;
}
