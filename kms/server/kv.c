/* SPDX-License-Identifier: MIT */
/*
 * kv.c - a minimal KV version 2 secrets engine under /v1/secret/, with Vault's request and
 * answer shapes: GET data/PATH (the newest version, or ?version=N) and POST or PUT data/PATH
 * {"data": {...}, "options": {"cas": N}}, which makes a new version. The newest
 * KMSD_KV_MAX_VERSIONS versions are kept, in the sealed store (kvstore.c).
 */
#include "kmsd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_write(const char *method)
{
	return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
}

/* ?version=N: 0 (or absent) is the newest; anything else that is not a number is a 400. */
static bool parse_version(const char *s, uint32_t *v)
{
	char *end;
	unsigned long n;

	*v = 0;
	if (!s || !*s)
		return true;
	if (*s < '0' || *s > '9')
		return false;
	n = strtoul(s, &end, 10);
	if (*end || n > UINT32_MAX)
		return false;
	*v = (uint32_t)n;
	return true;
}

static void read_secret(struct kmsd_server *srv, const char *path, const char *version,
			struct kmsd_reply *rp)
{
	const struct kmsd_kv_secret *k = kmsd_kv_find(srv->store, path);
	const struct kmsd_kv_version *kv;
	char rid[37] = "";
	uint32_t v;

	if (!parse_version(version, &v)) {
		kmsd_reply_error(rp, 400, "invalid version");
		return;
	}
	if (k && v == 0)
		v = k->current;
	/* Vault answers a secret or version it does not have with an empty 404. */
	kv = k ? kmsd_kv_version(k, v) : NULL;
	if (!kv) {
		kmsd_reply_error(rp, 404, NULL);
		return;
	}
	kmsd_request_id(rid);
	rp->status = 200;
	kms_kv_build_read(rid, (const char *)ecfs_secret_data(kv->data), ecfs_secret_len(kv->data),
			  &(struct kms_kv_meta){.created = kv->created, .version = v}, &rp->body);
}

static void write_secret(struct kmsd_server *srv, const char *path, const char *body, size_t len,
			 struct kmsd_reply *rp)
{
	const struct kmsd_kv_secret *k;
	struct kms_json data;
	char rid[37] = "", msg[600];
	uint64_t cas = 0;
	uint32_t v = 0;
	bool has_cas;
	int r = kms_kv_parse_write_req(body, len, &data, &has_cas, &cas);

	if (r < 0) {
		kmsd_reply_error(rp, 400, ecfs_last_error());
		return;
	}
	r = kmsd_kv_put(srv->store, path, data.p, data.len, has_cas, cas, &v);
	if (r == -EEXIST || r == -EOVERFLOW || r == -EINVAL) {
		kmsd_reply_error(rp, 400, ecfs_last_error());
		return;
	}
	if (r < 0) {
		snprintf(msg, sizeof(msg), "cannot save the secret: %s", ecfs_last_error());
		kmsd_log("%s", msg);
		kmsd_reply_error(rp, 500, msg);
		return;
	}
	k = kmsd_kv_find(srv->store, path);
	kmsd_request_id(rid);
	rp->status = 200;
	kms_kv_build_write(
	    rid, &(struct kms_kv_meta){.created = k->kept[k->nkept - 1].created, .version = v},
	    &rp->body);
}

void kmsd_kv(struct kmsd_server *srv, const char *method, const char *path, const char *version,
	     const char *body, size_t len, struct kmsd_reply *rp)
{
	char msg[400];

	if (strncmp(path, "data/", 5) != 0 || !kms_kv_path_valid(path + 5, strlen(path + 5))) {
		snprintf(msg, sizeof(msg), "no handler for route \"secret/%.200s\"", path);
		kmsd_reply_error(rp, 404, msg);
		return;
	}
	if (strcmp(method, "GET") == 0)
		read_secret(srv, path + 5, version, rp);
	else if (is_write(method))
		write_secret(srv, path + 5, body, len, rp);
	else
		kmsd_reply_error(rp, 405, NULL);
}
