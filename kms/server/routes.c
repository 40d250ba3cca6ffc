/* SPDX-License-Identifier: MIT */
/*
 * routes.c - the HTTP front of envcryptfs-kmsd: collects a request body (bounded, in locked
 * memory), checks a client certificate when asked to (403), then seal, namespace and token
 * as Vault does (sealed first: 503; then the namespace and the token: 403), dispatches to
 * sys.c, transit.c, the KV engine (kv.c) or the Kubernetes login (auth.c), and sends the JSON reply
 * from locked memory.
 */
#include "kmsd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct conn_state {
	struct ecfs_secret *body;
	size_t len;
	bool too_big;
};

void kmsd_reply_error(struct kmsd_reply *rp, unsigned status, const char *msg)
{
	kms_jw_free(&rp->body);
	kms_jw_init(&rp->body);
	rp->status = status;
	kms_transit_build_errors(msg, &rp->body);
}

/* Appends upload data; past KMS_BODY_MAX the body is dropped and the request refused. */
static void body_append(struct conn_state *st, const char *data, size_t n)
{
	size_t cap = st->body ? ecfs_secret_len(st->body) : 0, want;
	struct ecfs_secret *nb;

	if (st->too_big)
		return;
	if (n > KMS_BODY_MAX - st->len) {
		st->too_big = true;
		ecfs_secret_free(st->body);
		st->body = NULL;
		st->len = 0;
		return;
	}
	if (st->len + n > cap) {
		for (want = cap ? cap * 2 : 4096; want < st->len + n; want *= 2)
			;
		nb = ecfs_secret_new(want);
		if (!nb) {
			st->too_big = true;
			return;
		}
		if (st->len)
			memcpy(ecfs_secret_data(nb), ecfs_secret_data(st->body), st->len);
		ecfs_secret_free(st->body);
		st->body = nb;
	}
	memcpy(ecfs_secret_data(st->body) + st->len, data, n);
	st->len += n;
}

static bool token_ok(const struct kmsd_server *srv, struct MHD_Connection *c)
{
	const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Vault-Token");
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

	if (!t && auth && strncasecmp(auth, "Bearer ", 7) == 0)
		t = auth + 7;
	return t && kmsd_token_ok(srv, t);
}

/* Vault's order: a sealed server answers 503 before looking at the namespace and token. */
static bool gate(const struct kmsd_server *srv, struct MHD_Connection *c, bool need_token,
		 struct kmsd_reply *rp)
{
	if (srv->seal.sealed) {
		kmsd_reply_error(rp, 503, "Vault is sealed");
		return false;
	}
	/* A wrong or missing namespace is refused like a bad token: 403. */
	if (!kmsd_namespace_ok(srv, c) || (need_token && !token_ok(srv, c))) {
		kmsd_reply_error(rp, 403, "permission denied");
		return false;
	}
	return true;
}

static const char *version_arg(struct MHD_Connection *c)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "version");
}

static void route(struct kmsd_server *srv, struct MHD_Connection *c, const char *url,
		  const char *method, const char *body, size_t len, struct kmsd_reply *rp)
{
	size_t ml = strlen(srv->mount);
	const char *path;
	char msg[300];

	if (strncmp(url, "/v1/", 4) != 0) {
		kmsd_reply_error(rp, 404, NULL);
		return;
	}
	path = url + 4;
	if (strncmp(path, "sys/", 4) == 0) {
		/* The open sys paths (health, seal status, unseal) are the root namespace's. */
		if (kmsd_sys_is_open(path + 4) || gate(srv, c, true, rp))
			kmsd_sys(srv, method, path + 4, body, len, rp);
		return;
	}
	if (srv->k8s_role && strcmp(path, "auth/kubernetes/login") == 0) {
		if (gate(srv, c, false, rp))
			kmsd_k8s_login(srv, method, body, len, rp);
		return;
	}
	if (!gate(srv, c, true, rp))
		return;
	if (strncmp(path, srv->mount, ml) == 0 && path[ml] == '/') {
		kmsd_transit(srv, method, path + ml + 1, body, len, rp);
		return;
	}
	/* Every token may use the KV engine as it may use Transit: kmsd has no policies. */
	if (strncmp(path, KMSD_KV_MOUNT "/", sizeof(KMSD_KV_MOUNT)) == 0) {
		kmsd_kv(srv, method, path + sizeof(KMSD_KV_MOUNT), version_arg(c), body, len, rp);
		return;
	}
	snprintf(msg, sizeof(msg), "no handler for route \"%.200s\". route entry not found.", path);
	kmsd_reply_error(rp, 404, msg);
}

static void free_secret(void *cls)
{
	ecfs_secret_free(cls);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct kmsd_reply *rp)
{
	static const char fallback[] = "{\"errors\":[\"internal error\"]}";
	struct MHD_Response *resp = NULL;
	const char *text;
	size_t len;
	enum MHD_Result ret;

	if (rp->status == 204) {
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	} else if (kms_jw_finish(&rp->body, &text, &len) == 0) {
		/* The reply may hold a plaintext: it stays in locked memory, wiped when sent. */
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
		    len, (void *)text, free_secret, rp->body.buf);
		if (resp)
			rp->body.buf = NULL;
	} else {
		rp->status = 500;
		resp = MHD_create_response_from_buffer(sizeof(fallback) - 1, (void *)fallback,
						       MHD_RESPMEM_PERSISTENT);
	}
	kms_jw_free(&rp->body);
	if (!resp)
		return MHD_NO;
	if (rp->status != 204)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, rp->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void client_addr(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, size, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
			  (socklen_t)size);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  buf, (socklen_t)size);
}

/* Every request when verbose; refusals and server errors always (never bodies or tokens). */
static void log_request(const struct kmsd_server *srv, struct MHD_Connection *c, const char *method,
			const char *url, unsigned status)
{
	char addr[64];

	if (!srv->verbose && status != 403 && status < 500)
		return;
	client_addr(c, addr, sizeof(addr));
	kmsd_log("%s %s %.200s -> %u", addr, method, url, status);
}

enum MHD_Result kmsd_on_request(void *cls, struct MHD_Connection *c, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	struct kmsd_server *srv = cls;
	struct conn_state *st = *con_cls;
	struct kmsd_reply rp = {0};
	const char *body, *why;

	(void)version;
	if (!st) {
		st = calloc(1, sizeof(*st));
		*con_cls = st;
		return st ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		body_append(st, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	kms_jw_init(&rp.body);
	if (srv->client_certs && (why = kmsd_client_cert_problem(c))) {
		kmsd_reply_error(&rp, 403, why);
	} else if (st->too_big) {
		kmsd_reply_error(&rp, 413, "request body too large");
	} else {
		body = st->body ? (const char *)ecfs_secret_data(st->body) : "";
		pthread_mutex_lock(&srv->lock);
		route(srv, c, url, method, body, st->len, &rp);
		pthread_mutex_unlock(&srv->lock);
	}
	log_request(srv, c, method, url, rp.status);
	return send_reply(c, &rp);
}

void kmsd_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		       enum MHD_RequestTerminationCode toe)
{
	struct conn_state *st = *con_cls;

	(void)cls;
	(void)toe;
	kmsd_deadline_restart(c);
	if (st) {
		ecfs_secret_free(st->body);
		free(st);
		*con_cls = NULL;
	}
}
