/* SPDX-License-Identifier: MIT */
/*
 * client.h - what the KMS client's files share: the handle, the HTTP exchange (http.c),
 * token sources (auth.c), configuration checks (config.c) and the retrying call (kms.c).
 * Tests include it to reach endpoints the public API does not wrap.
 */
#ifndef KMS_CLIENT_H
#define KMS_CLIENT_H

#include "ecfs_kms.h"
#include "loopback.h"

#include <pthread.h>
#include <stdbool.h>

#define KMS_DEFAULT_MOUNT      "transit"
#define KMS_DEFAULT_JWT_FILE   "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define KMS_DEFAULT_TIMEOUT_MS 10000
#define KMS_DEFAULT_RETRIES    3
#define KMS_TOKEN_MAX	       4096

struct ecfs_kms {
	char *base; /* scheme://host[:port][/prefix], no trailing slash */
	char *mount, *key, *namespace_, *cacert, *cert, *client_key, *role, *jwt_file;
	int timeout_ms, retries;
	int64_t deadline_ms;	   /* CLOCK_MONOTONIC: the call under way ends by then; 0: none */
	struct ecfs_secret *token; /* NULL until a Kubernetes login */
	bool k8s;		   /* the token comes from a Kubernetes login (renewable) */
	void *curl;		   /* one easy handle, so connections and TLS sessions are reused */
	pthread_mutex_t lock;	   /* one request at a time on the handle */
};

/* ---- config.c --------------------------------------------------------------------------- */

/* Checks cfg and copies it into k (defaults filled in). */
int kms_config_load(const struct ecfs_kms_config *cfg, struct ecfs_kms *k);

/* ---- http.c ----------------------------------------------------------------------------- */

struct kms_http_resp {
	long status;
	struct ecfs_secret *body; /* locked; NULL when empty */
	size_t len;
};

int kms_http_init(struct ecfs_kms *k);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t kms_now_ms(void);
/* What is left of the call's deadline (timeout_ms outside a call); 0 when it has passed. */
long kms_time_left_ms(const struct ecfs_kms *k);
void kms_http_free(struct ecfs_kms *k);
/* One exchange with k->base + path, within what is left of the call's deadline. 0 with the status
 * and body for any HTTP answer; a negative errno (and a message giving the cause) when none came:
 * -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -ECONNRESET, -EPROTO (TLS), -EBADMSG (over
 * KMS_BODY_MAX). */
int kms_http_once(struct ecfs_kms *k, const char *method, const char *path, const char *body,
		  size_t body_len, bool with_token, struct kms_http_resp *resp);
/* Wipes and frees the body. */
void kms_http_resp_free(struct kms_http_resp *r);

/* ---- auth.c ----------------------------------------------------------------------------- */

/* The token from token_file or $VAULT_TOKEN, or notes that Kubernetes auth is to be used. */
int kms_auth_init(struct ecfs_kms *k, const struct ecfs_kms_config *cfg);
/* Logs in with the service account JWT when no token is held yet (Kubernetes auth). */
int kms_auth_ensure(struct ecfs_kms *k);
/* Drops a Kubernetes token so that the next request logs in again; false if not renewable. */
bool kms_auth_expire(struct ecfs_kms *k);

/* ---- kms.c ------------------------------------------------------------------------------ */

enum kms_retry {
	KMS_RETRY_IDEMPOTENT, /* connection errors, 500, 502, 503, 504 */
	KMS_RETRY_UNSENT,     /* only when the request cannot have been acted on */
	KMS_RETRY_TRANSPORT,  /* connection errors only; every HTTP answer is returned */
};

/* A request with retries, all of it within timeout_ms (a call made inside another, such as a
 * Kubernetes login, shares the outer call's deadline); with KMS_RETRY_TRANSPORT any HTTP answer is
 * returned as is, otherwise a non-2xx status becomes a negative errno. op names the operation in
 * messages
 * ("decrypt with key 'k'"). Callers hold k->lock. */
int kms_call(struct ecfs_kms *k, const char *op, const char *method, const char *path,
	     const char *body, size_t body_len, enum kms_retry retry, bool with_token,
	     struct kms_http_resp *resp);
/* Prefixes ecfs_last_error() with the server and the operation. */
int kms_fail_op(const struct ecfs_kms *k, int err, const char *op);

#endif /* KMS_CLIENT_H */
