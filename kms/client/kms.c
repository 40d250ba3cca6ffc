/* SPDX-License-Identifier: MIT */
/*
 * kms.c - the public KMS client API: each operation is one Vault Transit request, retried
 * with backoff where that is safe, its HTTP status turned into an errno with a message that
 * names the server, the key and the cause.
 */
#include "client.h"
#include "ecfs_util.h"
#include "transit_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MS 200

int kms_fail_op(const struct ecfs_kms *k, int err, const char *op)
{
	char cause[400];

	snprintf(cause, sizeof(cause), "%s", ecfs_last_error());
	return ecfs_fail(err, "KMS %s: %s: %s", k->base, op, cause);
}

static bool contains(const char *haystack, const char *needle)
{
	return strcasestr(haystack, needle) != NULL;
}

/* A 400 says what went wrong only in its text; these are Vault's (and kmsd's) phrases. */
static int bad_request_errno(const char *msg)
{
	if (contains(msg, "not found"))
		return -ENOKEY;
	if (contains(msg, "disallowed by policy") || contains(msg, "too old") ||
	    contains(msg, "disabled") || contains(msg, "deleted"))
		return -EKEYREVOKED;
	if (contains(msg, "unable to decrypt") || contains(msg, "message authentication failed"))
		return -EBADMSG;
	return -EINVAL;
}

/* Why a server answers 403: it names a client certificate it wants; else one of the rest, which
 * it does not tell apart (as Vault does not). */
static const char *forbidden_cause(const char *msg)
{
	if (strstr(msg, "client certificate"))
		return "the KMS wants a client certificate it trusts (--kms-cert and "
		       "--kms-client-key)";
	return "a bad or expired token, a namespace the KMS does not serve (--kms-namespace), or "
	       "a policy without this path";
}

/* The errno and message for a non-2xx answer. */
static int status_error(const struct kms_http_resp *rs)
{
	char msg[300];
	long st = rs->status;
	const char *body = rs->body ? (const char *)ecfs_secret_data(rs->body) : NULL;

	if (kms_transit_parse_errors(body, rs->len, msg, sizeof(msg)) < 0 || !msg[0])
		snprintf(msg, sizeof(msg), "no error message");
	if (st == 400)
		return ecfs_fail(bad_request_errno(msg), "%s (HTTP 400)", msg);
	if (st == 403)
		return ecfs_fail(-EACCES, "permission denied (HTTP 403: %s): %s", msg,
				 forbidden_cause(msg));
	if (st == 404)
		return ecfs_fail(-ENOKEY, "key or mount not found (HTTP 404: %s)", msg);
	if (st == 503)
		return ecfs_fail(-EAGAIN, "the server is sealed or unavailable (HTTP 503: %s)",
				 msg);
	if (st == 429)
		return ecfs_fail(-EAGAIN, "rate limited (HTTP 429: %s)", msg);
	if (st >= 300 && st < 400)
		return ecfs_fail(-EREMOTEIO,
				 "redirected (HTTP %ld); give the URL of the active "
				 "node",
				 st);
	if (st >= 500)
		return ecfs_fail(-EREMOTEIO, "server error (HTTP %ld: %s)", st, msg);
	return ecfs_fail(-EREMOTEIO, "unexpected HTTP status %ld (%s)", st, msg);
}

/* Whether to try again after err (a transport errno) or status (when err is 0). */
static bool should_retry(int err, long status, enum kms_retry retry)
{
	bool unsent = err == -ECONNREFUSED || err == -EHOSTUNREACH;

	if (err < 0) {
		if (err == -EPROTO || err == -EBADMSG || err == -EINVAL || err == -ENOMEM)
			return false;
		return retry != KMS_RETRY_UNSENT || unsent;
	}
	if (retry == KMS_RETRY_TRANSPORT)
		return false;
	/* A sealed server acts on nothing, so even a rotation may be sent again. */
	if (status == 503)
		return true;
	return retry == KMS_RETRY_IDEMPOTENT && (status == 500 || status == 502 || status == 504);
}

/* 200 ms doubling per attempt, with +-25% jitter so that many clients do not retry in step. */
static long backoff_ms(int attempt)
{
	long ms = (long)BACKOFF_MS << (attempt < 10 ? attempt : 10);
	uint16_t rnd = 0;

	ecfs_random(&rnd, sizeof(rnd));
	return ms * 3 / 4 + (long)((uint64_t)rnd * (uint64_t)ms / 2 / 65536);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int call_with_retries(struct ecfs_kms *k, const char *op, const char *method,
			     const char *path, const char *body, size_t body_len,
			     enum kms_retry retry, bool with_token, struct kms_http_resp *resp)
{
	bool relogged = false;
	long delay;
	int r;

	for (int attempt = 0;; attempt++) {
		if (with_token && (r = kms_auth_ensure(k)) < 0)
			return r; /* the login failure already names the server */
		r = kms_http_once(k, method, path, body, body_len, with_token, resp);
		if (r == 0 &&
		    (retry == KMS_RETRY_TRANSPORT || (resp->status >= 200 && resp->status < 300)))
			return 0;
		/* A Kubernetes token may have expired: log in again once. */
		if (r == 0 && resp->status == 403 && with_token && !relogged &&
		    kms_auth_expire(k)) {
			relogged = true;
			kms_http_resp_free(resp);
			attempt--;
			continue;
		}
		if (attempt >= k->retries || !should_retry(r, r == 0 ? resp->status : 0, retry))
			break;
		/* No retry that the deadline would cut short: the last failure is the answer. */
		delay = backoff_ms(attempt);
		if (delay >= kms_time_left_ms(k))
			break;
		kms_http_resp_free(resp);
		sleep_ms(delay);
	}
	if (r == 0) {
		r = status_error(resp);
		kms_http_resp_free(resp);
	}
	return kms_fail_op(k, r, op);
}

int kms_call(struct ecfs_kms *k, const char *op, const char *method, const char *path,
	     const char *body, size_t body_len, enum kms_retry retry, bool with_token,
	     struct kms_http_resp *resp)
{
	/* The outermost call sets the deadline; a login inside it shares that deadline. */
	bool outer = k->deadline_ms == 0;
	int r;

	if (outer)
		k->deadline_ms = kms_now_ms() + k->timeout_ms;
	r = call_with_retries(k, op, method, path, body, body_len, retry, with_token, resp);
	if (outer)
		k->deadline_ms = 0;
	return r;
}

/* ---- the API ---------------------------------------------------------------------------- */

int ecfs_kms_new(const struct ecfs_kms_config *cfg, struct ecfs_kms **out)
{
	struct ecfs_kms *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return ecfs_fail(-ENOMEM, "out of memory");
	pthread_mutex_init(&k->lock, NULL);
	r = kms_config_load(cfg, k);
	if (r == 0)
		r = kms_auth_init(k, cfg);
	if (r == 0)
		r = kms_http_init(k);
	if (r < 0) {
		ecfs_kms_free(k);
		return r;
	}
	*out = k;
	return 0;
}

void ecfs_kms_free(struct ecfs_kms *k)
{
	if (!k)
		return;
	kms_http_free(k);
	ecfs_secret_free(k->token);
	free(k->base);
	free(k->mount);
	free(k->key);
	free(k->namespace_);
	free(k->cacert);
	free(k->cert);
	free(k->client_key);
	free(k->role);
	free(k->jwt_file);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* "/v1/<mount>/<what>/<key><suffix>" */
static void key_path(const struct ecfs_kms *k, const char *what, const char *suffix, char *buf,
		     size_t size)
{
	snprintf(buf, size, "/v1/%s/%s/%s%s", k->mount, what, k->key, suffix);
}

static void op_name(const struct ecfs_kms *k, const char *verb, char *buf, size_t size)
{
	snprintf(buf, size, "%s with key '%s'", verb, k->key);
}

static const char *body_of(const struct kms_http_resp *rs)
{
	return rs->body ? (const char *)ecfs_secret_data(rs->body) : NULL;
}

/* POST a request built by build; the 2xx answer is left in rs. */
static int post(struct ecfs_kms *k, const char *op, const char *path, const struct kms_jw *w,
		enum kms_retry retry, struct kms_http_resp *rs)
{
	const char *body = w && w->buf ? (const char *)ecfs_secret_data(w->buf) : NULL;

	return kms_call(k, op, "POST", path, body, w ? w->len : 0, retry, true, rs);
}

/* Encrypt and rewrap share one shape: a request body in, a ciphertext out. */
static int ciphertext_op(struct ecfs_kms *k, const char *verb, struct kms_jw *w, char **ciphertext,
			 uint64_t *key_version)
{
	struct kms_http_resp rs = {0};
	char path[512], op[256];
	uint64_t ver = 0;
	int r;

	key_path(k, verb, "", path, sizeof(path));
	op_name(k, verb, op, sizeof(op));
	pthread_mutex_lock(&k->lock);
	r = post(k, op, path, w, KMS_RETRY_IDEMPOTENT, &rs);
	if (r == 0 &&
	    (r = kms_transit_parse_ciphertext(body_of(&rs), rs.len, ciphertext, &ver)) < 0)
		r = kms_fail_op(k, r, op);
	pthread_mutex_unlock(&k->lock);
	kms_http_resp_free(&rs);
	if (r == 0 && key_version)
		*key_version = ver;
	return r;
}

int ecfs_kms_encrypt(struct ecfs_kms *k, const uint8_t *plain, size_t len, char **ciphertext,
		     uint64_t *key_version)
{
	struct kms_jw w;
	int r;

	if (!k || !k->key || (!plain && len) || !ciphertext)
		return ecfs_fail(-EINVAL, "ecfs_kms_encrypt: bad arguments");
	kms_jw_init(&w);
	r = kms_transit_encrypt_request(plain, len, &w);
	if (r < 0)
		r = kms_fail_op(k, r, "encrypt");
	else
		r = ciphertext_op(k, "encrypt", &w, ciphertext, key_version);
	kms_jw_free(&w);
	return r;
}

int ecfs_kms_rewrap(struct ecfs_kms *k, const char *ciphertext, char **new_ciphertext,
		    uint64_t *key_version)
{
	struct kms_jw w;
	int r;

	if (!k || !k->key || !new_ciphertext)
		return ecfs_fail(-EINVAL, "ecfs_kms_rewrap: bad arguments");
	kms_jw_init(&w);
	r = kms_transit_ciphertext_request(ciphertext, &w);
	if (r < 0)
		r = kms_fail_op(k, r, "rewrap");
	else
		r = ciphertext_op(k, "rewrap", &w, new_ciphertext, key_version);
	kms_jw_free(&w);
	return r;
}

int ecfs_kms_decrypt(struct ecfs_kms *k, const char *ciphertext, struct ecfs_secret **plain)
{
	struct kms_http_resp rs = {0};
	char path[512], op[256];
	struct kms_jw w;
	int r;

	if (!k || !k->key || !plain)
		return ecfs_fail(-EINVAL, "ecfs_kms_decrypt: bad arguments");
	key_path(k, "decrypt", "", path, sizeof(path));
	op_name(k, "decrypt", op, sizeof(op));
	kms_jw_init(&w);
	r = kms_transit_ciphertext_request(ciphertext, &w);
	if (r < 0) {
		kms_jw_free(&w);
		return kms_fail_op(k, r, op);
	}
	pthread_mutex_lock(&k->lock);
	r = post(k, op, path, &w, KMS_RETRY_IDEMPOTENT, &rs);
	if (r == 0 && (r = kms_transit_parse_plaintext(body_of(&rs), rs.len, plain)) < 0)
		r = kms_fail_op(k, r, op);
	pthread_mutex_unlock(&k->lock);
	kms_http_resp_free(&rs); /* wipes the body, base64 plaintext and all */
	kms_jw_free(&w);
	return r;
}

int ecfs_kms_rotate(struct ecfs_kms *k)
{
	struct kms_http_resp rs = {0};
	char path[512], op[256];
	int r;

	if (!k || !k->key)
		return ecfs_fail(-EINVAL, "ecfs_kms_rotate: bad arguments");
	key_path(k, "keys", "/rotate", path, sizeof(path));
	op_name(k, "rotate", op, sizeof(op));
	pthread_mutex_lock(&k->lock);
	/* Sending a rotation twice would skip a version: retry only what cannot have arrived. */
	r = post(k, op, path, NULL, KMS_RETRY_UNSENT, &rs);
	pthread_mutex_unlock(&k->lock);
	kms_http_resp_free(&rs);
	return r;
}

int ecfs_kms_key_info(struct ecfs_kms *k, uint64_t *latest_version,
		      uint64_t *min_decryption_version)
{
	struct kms_http_resp rs = {0};
	char path[512], op[256];
	uint64_t latest = 0, min_dec = 0;
	int r;

	if (!k || !k->key)
		return ecfs_fail(-EINVAL, "ecfs_kms_key_info: bad arguments");
	key_path(k, "keys", "", path, sizeof(path));
	op_name(k, "read", op, sizeof(op));
	pthread_mutex_lock(&k->lock);
	r = kms_call(k, op, "GET", path, NULL, 0, KMS_RETRY_IDEMPOTENT, true, &rs);
	if (r == 0 && (r = kms_transit_parse_key_info(body_of(&rs), rs.len, &latest, &min_dec)) < 0)
		r = kms_fail_op(k, r, op);
	pthread_mutex_unlock(&k->lock);
	kms_http_resp_free(&rs);
	if (r == 0 && latest_version)
		*latest_version = latest;
	if (r == 0 && min_decryption_version)
		*min_decryption_version = min_dec;
	return r;
}

/* A sys/health answer: the status says most; the body must agree. */
static int health_status(struct ecfs_kms *k, const struct kms_http_resp *rs)
{
	bool initialized = false, sealed = true;
	int r;

	switch (rs->status) {
	case 503:
		return ecfs_fail(-EAGAIN, "KMS %s: the server is sealed (HTTP 503)", k->base);
	case 501:
		return ecfs_fail(-EREMOTEIO, "KMS %s: the server is not initialized (HTTP 501)",
				 k->base);
	case 200:
	case 429: /* standby */
	case 472: /* disaster-recovery secondary */
	case 473: /* performance standby */
		break;
	default:
		r = status_error(rs);
		return kms_fail_op(k, r == -EAGAIN ? -EREMOTEIO : r, "health check");
	}
	r = kms_transit_parse_health(body_of(rs), rs->len, &initialized, &sealed);
	if (r < 0)
		return kms_fail_op(k, r, "health check");
	if (!initialized)
		return ecfs_fail(-EREMOTEIO, "KMS %s: the server is not initialized", k->base);
	if (sealed)
		return ecfs_fail(-EAGAIN, "KMS %s: the server is sealed", k->base);
	return 0;
}

int ecfs_kms_health(struct ecfs_kms *k)
{
	struct kms_http_resp rs = {0};
	int r;

	if (!k)
		return ecfs_fail(-EINVAL, "ecfs_kms_health: bad arguments");
	pthread_mutex_lock(&k->lock);
	/* No token: health is unauthenticated, and the token is sent nowhere it is not needed. */
	r = kms_call(k, "health check", "GET", "/v1/sys/health?standbyok=true&perfstandbyok=true",
		     NULL, 0, KMS_RETRY_TRANSPORT, false, &rs);
	if (r == 0)
		r = health_status(k, &rs);
	pthread_mutex_unlock(&k->lock);
	kms_http_resp_free(&rs);
	return r;
}
