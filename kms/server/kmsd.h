/* SPDX-License-Identifier: MIT */
/*
 * kmsd.h - what envcryptfs-kmsd's own files share: the HTTP routes (routes.c, sys.c,
 * transit.c), the listener (listen.c) and the subcommands (init.c, serve.c, main.c). The key
 * store, seal and Shamir sharing live in kms/store (kmsd_store.h, libecfskmsd.a), so that
 * unit tests link them.
 */
#ifndef KMSD_H
#define KMSD_H

#include "kmsd_store.h"

#include <microhttpd.h>
#include <pthread.h>

#define KMSD_PROG	   "envcryptfs-kmsd"
#define KMSD_TOKEN_NAME	   "token"
#define KMSD_LOCK_NAME	   "kmsd.lock" /* held with flock(2) by the serve of the store */
#define KMSD_EXIT_IN_USE   5	       /* the store is already served */
#define KMSD_DEFAULT_MOUNT "transit"
#define KMSD_KV_MOUNT	   "secret" /* the KV version 2 engine (kv.c) */
#define KMSD_MAX_ISSUED	   64	    /* tokens from Kubernetes logins kept; the oldest go first */
#define KMSD_ISSUED_LEN	   53	    /* "kmsd." and 48 hex digits */

/* ---- routes.c, sys.c, transit.c, kv.c
 * ------------------------------------------------------------- */

struct kmsd_server {
	struct kmsd_store *store;
	struct kmsd_seal seal;
	uint8_t token_hash[32];		     /* SHA-256 of the token: compared in constant time */
	uint8_t issued[KMSD_MAX_ISSUED][32]; /* SHA-256 of tokens from Kubernetes logins */
	size_t nissued, next_issued;
	const char *k8s_role;	  /* NULL: no Kubernetes login */
	uint8_t k8s_jwt_hash[32]; /* SHA-256 of the one accepted service-account JWT */
	const char *namespace_;	  /* NULL: X-Vault-Namespace is not checked */
	bool client_certs;	  /* every request needs a verified client certificate */
	const char *mount;
	char cluster_id[37];
	bool verbose;
	pthread_mutex_t lock; /* one request at a time touches the store and the seal */
};

/* What a handler answers: a status and, unless 204, a JSON body. */
struct kmsd_reply {
	unsigned status;
	struct kms_jw body;
};

/* Sets an error reply {"errors": [msg]} (no message: {"errors": []}). */
void kmsd_reply_error(struct kmsd_reply *rp, unsigned status, const char *msg);

/* path is what follows "/v1/sys/". */
void kmsd_sys(struct kmsd_server *srv, const char *method, const char *path, const char *body,
	      size_t len, struct kmsd_reply *rp);
/* Whether a sys path is answered without a token and while sealed. */
bool kmsd_sys_is_open(const char *path);
/* path is what follows "/v1/<mount>/". */
void kmsd_transit(struct kmsd_server *srv, const char *method, const char *path, const char *body,
		  size_t len, struct kmsd_reply *rp);

/* path is what follows "/v1/secret/"; version the ?version= argument (NULL: none). */
void kmsd_kv(struct kmsd_server *srv, const char *method, const char *path, const char *version,
	     const char *body, size_t len, struct kmsd_reply *rp);

/* ---- auth.c, mtls.c ------------------------------------------------------------------------- */

/* Whether token is the root token or one issued by a Kubernetes login. */
bool kmsd_token_ok(const struct kmsd_server *srv, const char *token);
/* Whether the request names the server's namespace (always true without one). */
bool kmsd_namespace_ok(const struct kmsd_server *srv, struct MHD_Connection *c);
/* POST /v1/auth/kubernetes/login. */
void kmsd_k8s_login(struct kmsd_server *srv, const char *method, const char *body, size_t len,
		    struct kmsd_reply *rp);
/* NULL when the connection has a client certificate verified against --tls-client-ca (for
 * TLS clients), else why not. */
const char *kmsd_client_cert_problem(struct MHD_Connection *c);

/* The microhttpd access handler (cls is the struct kmsd_server) and completion callback. */
enum MHD_Result kmsd_on_request(void *cls, struct MHD_Connection *c, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **con_cls);
void kmsd_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		       enum MHD_RequestTerminationCode toe);

/* ---- deadline.c --------------------------------------------------------------------------- */

struct kmsd_deadlines;

struct kmsd_deadlines *kmsd_deadlines_new(unsigned timeout_s);
/* After microhttpd has stopped. */
void kmsd_deadlines_free(struct kmsd_deadlines *d);
/* microhttpd's MHD_OPTION_NOTIFY_CONNECTION callback (cls is the struct kmsd_deadlines). */
void kmsd_deadline_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe);
/* A request on c is over: the next one has the whole timeout again. */
void kmsd_deadline_restart(struct MHD_Connection *c);
/* Shuts down every connection whose request has taken longer than the timeout. */
void kmsd_deadlines_sweep(struct kmsd_deadlines *d);

/* ---- listen.c ----------------------------------------------------------------------------- */

#define KMSD_DEFAULT_REQUEST_TIMEOUT 10 /* seconds */
#define KMSD_DEFAULT_MAX_CONNECTIONS 1024
#define KMSD_DEFAULT_MAX_PER_CLIENT  64 /* per client IP address */
#define KMSD_DEFAULT_THREADS	     4

struct kmsd_listen {
	const char *addr; /* HOST:PORT, [V6]:PORT */
	const char *tls_cert, *tls_key;
	const char *tls_client_ca; /* PEM CA bundle: client certificates are asked for */
	bool insecure_http;
	unsigned request_timeout; /* seconds for a whole request and its answer */
	unsigned max_connections, max_per_client, threads;
};

struct kmsd_daemon;

/* Starts serving srv; a plain-HTTP listener only on a loopback address. */
int kmsd_listen_start(const struct kmsd_listen *l, struct kmsd_server *srv,
		      struct kmsd_daemon **out);
/* Once a second: closes the connections that are past their request's deadline. */
void kmsd_listen_sweep(struct kmsd_daemon *d);
void kmsd_listen_stop(struct kmsd_daemon *d);

/* ---- main.c, init.c, serve.c -------------------------------------------------------------- */

void kmsd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kmsd_init_main(int argc, char **argv);
int kmsd_serve_main(int argc, char **argv);
/* storelock.c: takes the serve lock of the store in dir (kmsd.lock); *lockfd is kept open
 * while serving. Returns an exit code (KMSD_EXIT_IN_USE when another serve holds it). */
int kmsd_store_lock(const char *dir, int *lockfd);

#endif /* KMSD_H */
