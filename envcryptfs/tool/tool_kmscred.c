/* SPDX-License-Identifier: MIT */
/* tool_kmscred.c - KMS credentials: the wrap and unwrap callbacks the library calls for KMS
 * slots, the clients they use, and one-line messages for what the KMS answered. */
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QUICK_TIMEOUT_MS 3000

struct ecfs_tool_kms {
	struct ecfs_kms_opts opts;   /* borrowed values; owned stays empty */
	struct ecfs_kms_slot target; /* a new slot's key, from the options */
	int err;		     /* the last failure, 0 when none */
	char msg[768];
	/* The slot that failed, so that the other header copy's identical slot is answered
	 * without asking an unreachable KMS twice. */
	char failed_url[512];
	char failed_ciphertext[1024];
};

/* URLs compare without a trailing '/' and without regard to case (scheme and host are
 * case-blind; a path in a KMS URL is not expected). */
static bool same_url(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

int ecfs_tool_kms_allowed(const struct ecfs_kms_opts *k, const struct ecfs_kms_slot *s)
{
	const char *url = ecfs_kms_opt(k, ECFS_KMS_URL), *mount = ecfs_kms_opt(k, ECFS_KMS_MOUNT);
	const char *key = ecfs_kms_opt(k, ECFS_KMS_KEY);

	if (!url)
		return ecfs_fail(
		    -EINVAL,
		    "the volume's KMS slot names %s, but no KMS is configured here: a "
		    "credential only goes to a KMS named by --kms-url (-o kms_url=) or by "
		    "kms_url= in %s, never to an address read from the volume",
		    s->url, k->conf_path ? k->conf_path : ECFS_KMS_CONFIG_FILE);
	if (!same_url(url, s->url))
		return ecfs_fail(
		    -EPERM,
		    "the volume's KMS slot names %s, but the configured KMS is %s (%s): "
		    "not contacted",
		    s->url, url, ecfs_kms_url_origin(k));
	if (mount && strcmp(mount, s->mount) != 0)
		return ecfs_fail(
		    -EPERM,
		    "the volume's KMS slot uses Transit mount '%s', but the configured "
		    "one is '%s': not contacted",
		    s->mount, mount);
	if (key && strcmp(key, s->key) != 0)
		return ecfs_fail(-EPERM,
				 "the volume's KMS slot uses key '%s', but the configured key is "
				 "'%s': not contacted",
				 s->key, key);
	return 0;
}

/* The client configuration the options give: the server, authentication and TLS. */
static struct ecfs_kms_config client_config(const struct ecfs_kms_opts *k, bool quick)
{
	int timeout_ms = ecfs_kms_opts_timeout_ms(k);

	return (struct ecfs_kms_config){
	    .url = ecfs_kms_opt(k, ECFS_KMS_URL),
	    .token_file = ecfs_kms_opt(k, ECFS_KMS_TOKEN_FILE),
	    .namespace_ = ecfs_kms_opt(k, ECFS_KMS_NAMESPACE),
	    .cacert = ecfs_kms_opt(k, ECFS_KMS_CACERT),
	    .cert = ecfs_kms_opt(k, ECFS_KMS_CERT),
	    .client_key = ecfs_kms_opt(k, ECFS_KMS_CLIENT_KEY),
	    .role = ecfs_kms_opt(k, ECFS_KMS_ROLE),
	    .jwt_file = ecfs_kms_opt(k, ECFS_KMS_JWT_FILE),
	    .timeout_ms = quick && (!timeout_ms || timeout_ms > QUICK_TIMEOUT_MS) ? QUICK_TIMEOUT_MS
										  : timeout_ms,
	    .retries = quick ? -1 : 0,
	};
}

int ecfs_tool_kms_new(const struct ecfs_kms_opts *k, const struct ecfs_kms_slot *s, bool quick,
		      struct ecfs_kms **out)
{
	struct ecfs_kms_config cfg = client_config(k, quick);
	int r = s ? ecfs_tool_kms_allowed(k, s) : 0;

	cfg.mount = s && s->mount[0] ? s->mount : ecfs_kms_opt(k, ECFS_KMS_MOUNT);
	cfg.key = s && s->key[0] ? s->key : ecfs_kms_opt(k, ECFS_KMS_KEY);
	return r < 0 ? r : ecfs_kms_new(&cfg, out);
}

int ecfs_tool_kms_kv_new(const struct ecfs_kms_opts *k, struct ecfs_kms **out)
{
	struct ecfs_kms_config cfg = client_config(k, false);

	cfg.kv_only = true;
	return ecfs_kms_new(&cfg, out);
}

bool ecfs_tool_kms_retryable(int err)
{
	return err == -ECONNREFUSED || err == -EHOSTUNREACH || err == -ETIMEDOUT ||
	       err == -ECONNRESET || err == -EAGAIN || err == -EREMOTEIO;
}

bool ecfs_tool_kms_key_gone(int err)
{
	return err == -ENOKEY || err == -EKEYREVOKED;
}

const char *ecfs_tool_kms_cause(int err)
{
	switch (err) {
	case -ECONNREFUSED:
		return "connection refused";
	case -EHOSTUNREACH:
		return "host unreachable";
	case -ETIMEDOUT:
		return "timed out";
	case -ECONNRESET:
		return "connection reset";
	case -EAGAIN:
		return "sealed or unavailable";
	case -EREMOTEIO:
		return "server error";
	case -EACCES:
		return "permission denied";
	case -ENOKEY:
		return "the key is deleted or missing";
	case -EKEYREVOKED:
		return "the key is disabled, deleted or refuses this ciphertext";
	case -EPROTO:
		return "TLS failed";
	case -EBADMSG:
		return "bad answer";
	default:
		return NULL;
	}
}

/* The client's message without its "KMS URL: decrypt with key 'K': " prefix, which our own
 * line already says. */
static const char *detail_of(const char *msg)
{
	const char *p = strstr(msg, "with key '"), *q = p ? strstr(p, "': ") : NULL;

	return q ? q + 3 : msg;
}

/* Keeps err with a line naming the URL and key of s, the cause, and the client's words. */
static int note_failure(struct ecfs_tool_kms *c, const struct ecfs_kms_slot *s, int err)
{
	const char *url = s->url[0] ? s->url : NULL, *key = s->key[0] ? s->key : NULL;
	const char *cause = ecfs_tool_kms_cause(err), *detail = detail_of(ecfs_last_error());

	if (!*detail)
		detail = strerror(-err);
	if (cause && !strcasestr(detail, cause))
		snprintf(c->msg, sizeof(c->msg), "KMS %s key '%s': %s: %s", url ? url : "?",
			 key ? key : "?", cause, detail);
	else
		snprintf(c->msg, sizeof(c->msg), "KMS %s key '%s': %s", url ? url : "?",
			 key ? key : "?", detail);
	c->err = err;
	return err;
}

static bool failed_before(const struct ecfs_tool_kms *c, const struct ecfs_kms_slot *s)
{
	return c->err && strcmp(c->failed_url, s->url) == 0 &&
	       strcmp(c->failed_ciphertext, s->ciphertext) == 0;
}

static int decrypt_into(struct ecfs_kms *k, const char *ciphertext, uint8_t *dek, size_t len)
{
	struct ecfs_secret *plain = NULL;
	int r = ecfs_kms_decrypt(k, ciphertext, &plain);

	if (r == 0 && ecfs_secret_len(plain) != len)
		r = -EKEYREJECTED; /* a secret, but not a volume key: no slot of ours wrapped it */
	if (r == 0)
		memcpy(dek, ecfs_secret_data(plain), len);
	ecfs_secret_free(plain); /* wipes */
	return r;
}

/* A slot whose KMS is not the configured one is never asked. The refusal is what unlocking
 * reports unless a KMS that was asked failed: that failure says more (and may be waited
 * for). */
static int refused(struct ecfs_tool_kms *c, int err)
{
	if (c->err)
		return c->err;
	snprintf(c->msg, sizeof(c->msg), "%s", ecfs_last_error());
	c->err = err;
	return err;
}

static int kms_unwrap(void *arg, const struct ecfs_kms_slot *s, uint8_t *dek, size_t len)
{
	struct ecfs_tool_kms *c = arg;
	struct ecfs_kms *k = NULL;
	int r;

	if (failed_before(c, s))
		return c->err;
	r = ecfs_tool_kms_allowed(&c->opts, s);
	if (r < 0)
		return refused(c, r);
	r = ecfs_tool_kms_new(&c->opts, s, false, &k);
	if (r == 0)
		r = decrypt_into(k, s->ciphertext, dek, len);
	ecfs_kms_free(k);
	if (r < 0 && r != -EKEYREJECTED) {
		snprintf(c->failed_url, sizeof(c->failed_url), "%s", s->url);
		snprintf(c->failed_ciphertext, sizeof(c->failed_ciphertext), "%s", s->ciphertext);
		return note_failure(c, s, r);
	}
	return r;
}

static int kms_wrap(void *arg, const uint8_t *dek, size_t len, struct ecfs_kms_slot *s)
{
	struct ecfs_tool_kms *c = arg;
	struct ecfs_kms *k = NULL;
	char *ct = NULL;
	int r = ecfs_tool_kms_new(&c->opts, s, false, &k);

	if (r == 0)
		r = ecfs_kms_encrypt(k, dek, len, &ct, &s->key_version);
	if (r == 0 && strlen(ct) >= sizeof(s->ciphertext))
		r = -E2BIG;
	if (r == 0)
		memcpy(s->ciphertext, ct, strlen(ct) + 1);
	free(ct);
	ecfs_kms_free(k);
	return r < 0 ? note_failure(c, s, r) : 0;
}

static const struct ecfs_kms_ops ops = {.wrap = kms_wrap, .unwrap = kms_unwrap};

int ecfs_tool_kms_ctx_new(const struct ecfs_kms_opts *k, struct ecfs_tool_kms **out)
{
	struct ecfs_tool_kms *c = calloc(1, sizeof(*c));
	const char *const *v = k->v;

	if (!c)
		return -ENOMEM;
	c->opts = *k; /* borrowed: owned stays theirs, to be freed by them */
	memset(c->opts.owned, 0, sizeof(c->opts.owned));
	snprintf(c->target.url, sizeof(c->target.url), "%s",
		 v[ECFS_KMS_URL] ? v[ECFS_KMS_URL] : "");
	/* A new slot's URL and key are named on the command line; its mount may be the
	 * configuration file's, which every later unlock will also require. */
	snprintf(c->target.mount, sizeof(c->target.mount), "%s",
		 ecfs_kms_opt(k, ECFS_KMS_MOUNT) ? ecfs_kms_opt(k, ECFS_KMS_MOUNT) : "transit");
	snprintf(c->target.key, sizeof(c->target.key), "%s",
		 v[ECFS_KMS_KEY] ? v[ECFS_KMS_KEY] : "");
	*out = c;
	return 0;
}

void ecfs_tool_kms_ctx_free(struct ecfs_tool_kms *c)
{
	free(c);
}

void ecfs_tool_kms_credential(struct ecfs_tool_kms *c, struct ecfs_credential *cred)
{
	*cred = (struct ecfs_credential){.type = ECFS_SLOT_KMS,
					 .origin = "the KMS",
					 .kms = &ops,
					 .kms_arg = c,
					 .kms_target = &c->target};
}

int ecfs_tool_kms_last(const struct ecfs_tool_kms *c, const char **msg)
{
	*msg = c->msg;
	return c->err;
}

void ecfs_tool_kms_reset(struct ecfs_tool_kms *c)
{
	c->err = 0;
	c->msg[0] = '\0';
	c->failed_url[0] = c->failed_ciphertext[0] = '\0';
}
