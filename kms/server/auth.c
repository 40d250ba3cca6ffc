/* SPDX-License-Identifier: MIT */
/*
 * auth.c - who may call envcryptfs-kmsd: the root token, tokens issued by a Kubernetes login
 * (one role, one service-account JWT given as a file: for tests and single-node use, not a
 * TokenReview against a cluster), and the namespace a request names. Only SHA-256 hashes of
 * tokens and of the JWT are kept, and compared in constant time.
 */
#include "kmsd.h"

#include <stdio.h>
#include <string.h>

#define ISSUED_PREFIX "kmsd."

/* Compares against every stored hash, whatever matches first, so timing says nothing. */
bool kmsd_token_ok(const struct kmsd_server *srv, const char *token)
{
	uint8_t h[32];
	bool ok;

	ecfs_sha256(token, strlen(token), h);
	ok = ecfs_memcmp_ct(h, srv->token_hash, sizeof(h)) == 0;
	for (size_t i = 0; i < srv->nissued; i++)
		ok |= ecfs_memcmp_ct(h, srv->issued[i], sizeof(h)) == 0;
	ecfs_wipe(h, sizeof(h));
	return ok;
}

/* Vault lets the namespace header end in '/'. */
bool kmsd_namespace_ok(const struct kmsd_server *srv, struct MHD_Connection *c)
{
	const char *ns = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Vault-Namespace");
	size_t n;

	if (!srv->namespace_)
		return true;
	if (!ns)
		return false;
	n = strlen(ns);
	if (n && ns[n - 1] == '/')
		n--;
	return n == strlen(srv->namespace_) && strncmp(ns, srv->namespace_, n) == 0;
}

/* A random token; its hash joins the ring, the oldest one leaving when it is full. */
static int issue_token(struct kmsd_server *srv, char out[KMSD_ISSUED_LEN + 1])
{
	uint8_t raw[24];
	size_t p = sizeof(ISSUED_PREFIX) - 1;
	int r = ecfs_random(raw, sizeof(raw));

	if (r < 0)
		return r;
	memcpy(out, ISSUED_PREFIX, p);
	for (size_t i = 0; i < sizeof(raw); i++, p += 2)
		snprintf(out + p, 3, "%02x", raw[i]);
	ecfs_wipe(raw, sizeof(raw));
	ecfs_sha256(out, p, srv->issued[srv->next_issued]);
	srv->next_issued = (srv->next_issued + 1) % KMSD_MAX_ISSUED;
	if (srv->nissued < KMSD_MAX_ISSUED)
		srv->nissued++;
	return 0;
}

/* Vault's login answer: the token under "auth", no "data". */
static void login_reply(const char *token, struct kmsd_reply *rp)
{
	char rid[37] = "";

	kmsd_request_id(rid);
	rp->status = 200;
	kms_jw_object(&rp->body, NULL);
	kms_jw_cstring(&rp->body, "request_id", rid);
	kms_jw_cstring(&rp->body, "lease_id", "");
	kms_jw_bool(&rp->body, "renewable", false);
	kms_jw_u64(&rp->body, "lease_duration", 0);
	kms_jw_null(&rp->body, "data");
	kms_jw_null(&rp->body, "wrap_info");
	kms_jw_null(&rp->body, "warnings");
	kms_jw_object(&rp->body, "auth");
	kms_jw_cstring(&rp->body, "client_token", token);
	kms_jw_array(&rp->body, "policies");
	kms_jw_cstring(&rp->body, NULL, "default");
	kms_jw_end(&rp->body);
	kms_jw_u64(&rp->body, "lease_duration", 3600);
	kms_jw_bool(&rp->body, "renewable", false);
	kms_jw_end(&rp->body);
	kms_jw_end(&rp->body);
}

/* Whether the request's jwt string hashes to the configured one (decoded in locked memory). */
static bool jwt_ok(const struct kmsd_server *srv, const struct kms_json *jwt)
{
	struct ecfs_secret *s;
	size_t n = 0;
	uint8_t h[32];
	bool ok = false;

	if (kms_json_string_len(jwt, &n) < 0 || !(s = ecfs_secret_new(n + 1)))
		return false;
	if (kms_json_string(jwt, (char *)ecfs_secret_data(s), n + 1) == (int)n) {
		ecfs_sha256(ecfs_secret_data(s), n, h);
		ok = ecfs_memcmp_ct(h, srv->k8s_jwt_hash, sizeof(h)) == 0;
		ecfs_wipe(h, sizeof(h));
	}
	ecfs_secret_free(s);
	return ok;
}

/* POST /v1/auth/kubernetes/login {"role", "jwt"}, with Vault's messages. */
void kmsd_k8s_login(struct kmsd_server *srv, const char *method, const char *body, size_t len,
		    struct kmsd_reply *rp)
{
	struct kms_json root, role, jwt;
	char token[KMSD_ISSUED_LEN + 1], name[128];

	if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0) {
		kmsd_reply_error(rp, 405, NULL);
		return;
	}
	if (kms_json_parse(body, len, &root) < 0 || root.type != KMS_JSON_OBJECT) {
		kmsd_reply_error(rp, 400, "failed to parse JSON input");
		return;
	}
	if (kms_json_get(&root, "role", &role) < 0 || role.type != KMS_JSON_STRING) {
		kmsd_reply_error(rp, 400, "missing role");
		return;
	}
	if (kms_json_get(&root, "jwt", &jwt) < 0 || jwt.type != KMS_JSON_STRING) {
		kmsd_reply_error(rp, 400, "missing jwt");
		return;
	}
	if (!kms_json_string_eq(&role, srv->k8s_role)) {
		char msg[200];

		kms_json_string_trunc(&role, name, sizeof(name));
		snprintf(msg, sizeof(msg), "invalid role name \"%s\"", name);
		kmsd_reply_error(rp, 400, msg);
		return;
	}
	if (!jwt_ok(srv, &jwt)) {
		kmsd_reply_error(rp, 403, "permission denied");
		return;
	}
	if (issue_token(srv, token) < 0) {
		kmsd_reply_error(rp, 500, "cannot make a token");
		return;
	}
	login_reply(token, rp);
	ecfs_wipe(token, sizeof(token));
}
