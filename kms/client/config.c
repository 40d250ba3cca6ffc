/* SPDX-License-Identifier: MIT */
/* config.c - checking a KMS client configuration: the URL scheme rule, names, mTLS pairing. */
#include "client.h"
#include "ecfs_util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 128

static bool word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

/* Vault's name pattern, \w(([\w-.@]+)?\w)?, so a name never needs escaping in a path. */
static bool valid_key_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || !word_char(s[0]) || !word_char(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!word_char(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '@')
			return false;
	return true;
}

/* A mount path: '/'-separated segments of [\w.-], none empty, "." or "..". */
static bool valid_path(const char *s, size_t max)
{
	const char *seg = s;
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (const char *p = s;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - seg);

			if (len == 0 || (len == 1 && seg[0] == '.') ||
			    (len == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (*p == '\0')
				return true;
			seg = p + 1;
		} else if (!word_char(*p) && *p != '-' && *p != '.') {
			return false;
		}
	}
}

/* A namespace is a path too, and Vault accepts it with a trailing '/'. */
static bool valid_namespace(const char *s)
{
	char buf[258];
	size_t n = strlen(s);

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	if (n > 1 && buf[n - 1] == '/')
		buf[n - 1] = '\0';
	return valid_path(buf, 256);
}

static int copy_str(const char *s, const char *dflt, char **out)
{
	if (!s)
		s = dflt;
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : ecfs_fail(-ENOMEM, "out of memory");
}

static int url_part(CURLU *u, CURLUPart part, char **out)
{
	CURLUcode rc = curl_url_get(u, part, out, 0);

	if (rc == CURLUE_OK)
		return 1;
	*out = NULL;
	return 0;
}

/* The scheme rule: https anywhere, http only to a loopback address. The base keeps any path
 * prefix (a Vault behind a reverse proxy) but no credentials, query or fragment. */
static int check_url(const char *url, char **base)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *extra = NULL, *full = NULL;
	int r = 0;

	if (!u)
		return ecfs_fail(-ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    !url_part(u, CURLUPART_SCHEME, &scheme) || !url_part(u, CURLUPART_HOST, &host))
		r = ecfs_fail(-EINVAL, "KMS URL '%s' is not a valid URL", url);
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		r = ecfs_fail(-EINVAL, "KMS URL '%s': the scheme must be https", url);
	else if (strcmp(scheme, "http") == 0 && !kms_host_is_loopback(host))
		r = ecfs_fail(-EINVAL,
			      "KMS URL '%s': plain http is allowed only to a loopback address "
			      "(127.0.0.0/8, ::1, localhost); use https",
			      url);
	else if (url_part(u, CURLUPART_USER, &extra) || url_part(u, CURLUPART_QUERY, &extra) ||
		 url_part(u, CURLUPART_FRAGMENT, &extra))
		r = ecfs_fail(-EINVAL,
			      "KMS URL '%s' must not hold credentials, a query or a fragment", url);
	else if (!url_part(u, CURLUPART_URL, &full))
		r = ecfs_fail(-EINVAL, "KMS URL '%s' is not a valid URL", url);
	if (r == 0) {
		size_t n = strlen(full);

		while (n && full[n - 1] == '/')
			full[--n] = '\0';
		*base = strdup(full);
		if (!*base)
			r = ecfs_fail(-ENOMEM, "out of memory");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(extra);
	curl_free(full);
	curl_url_cleanup(u);
	return r;
}

static int check_names(const struct ecfs_kms_config *cfg)
{
	const char *mount = cfg->mount ? cfg->mount : KMS_DEFAULT_MOUNT;

	/* A KV client may name no Transit key. */
	if ((cfg->key || !cfg->kv_only) && (!cfg->key || !valid_key_name(cfg->key)))
		return ecfs_fail(-EINVAL,
				 "KMS key name '%s' is invalid (letters, digits, '_', "
				 "'-', '.', '@'; up to %d)",
				 cfg->key ? cfg->key : "", NAME_MAX_LEN);
	if (!valid_path(mount, NAME_MAX_LEN))
		return ecfs_fail(-EINVAL, "KMS mount '%s' is invalid", mount);
	if (cfg->namespace_ && cfg->namespace_[0] && !valid_namespace(cfg->namespace_))
		return ecfs_fail(-EINVAL, "KMS namespace '%s' is invalid", cfg->namespace_);
	if (cfg->role && (!cfg->role[0] || strlen(cfg->role) > 256))
		return ecfs_fail(-EINVAL, "Kubernetes role must be 1 to 256 bytes");
	return 0;
}

static int check_numbers(const struct ecfs_kms_config *cfg)
{
	if (cfg->timeout_ms < 0 || cfg->timeout_ms > 600000)
		return ecfs_fail(-EINVAL,
				 "KMS timeout %d ms is out of range (0 for the default, "
				 "up to 600000)",
				 cfg->timeout_ms);
	if (cfg->retries > 10)
		return ecfs_fail(-EINVAL, "KMS retries %d is out of range (at most 10)",
				 cfg->retries);
	return 0;
}

int kms_config_load(const struct ecfs_kms_config *cfg, struct ecfs_kms *k)
{
	int r;

	if (!cfg || !cfg->url)
		return ecfs_fail(-EINVAL, "no KMS URL given");
	if (!cfg->cert != !cfg->client_key)
		return ecfs_fail(-EINVAL, "a KMS client certificate and its key go together: "
					  "give both or neither");
	r = check_names(cfg);
	if (r == 0)
		r = check_numbers(cfg);
	if (r == 0)
		r = check_url(cfg->url, &k->base);
	if (r == 0)
		r = copy_str(cfg->mount, KMS_DEFAULT_MOUNT, &k->mount);
	if (r == 0)
		r = copy_str(cfg->key, NULL, &k->key);
	if (r == 0 && cfg->namespace_ && cfg->namespace_[0])
		r = copy_str(cfg->namespace_, NULL, &k->namespace_);
	if (r == 0)
		r = copy_str(cfg->cacert, NULL, &k->cacert);
	if (r == 0)
		r = copy_str(cfg->cert, NULL, &k->cert);
	if (r == 0)
		r = copy_str(cfg->client_key, NULL, &k->client_key);
	if (r == 0)
		r = copy_str(cfg->role, NULL, &k->role);
	if (r == 0)
		r = copy_str(cfg->jwt_file, KMS_DEFAULT_JWT_FILE, &k->jwt_file);
	k->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : KMS_DEFAULT_TIMEOUT_MS;
	/* Zero is the default, so that a zeroed config is a sensible one; negative: none. */
	k->retries = cfg->retries == 0 ? KMS_DEFAULT_RETRIES : cfg->retries < 0 ? 0 : cfg->retries;
	return r;
}
