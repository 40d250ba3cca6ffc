/* SPDX-License-Identifier: MIT */
/* sys.c - /v1/sys: health, seal-status and unseal (open to all, as in Vault), and seal. */
#include "kmsd.h"

#include <string.h>
#include <time.h>

bool kmsd_sys_is_open(const char *path)
{
	return strcmp(path, "health") == 0 || strcmp(path, "seal-status") == 0 ||
	       strcmp(path, "unseal") == 0;
}

static void status_of(const struct kmsd_server *srv, struct kms_seal_status *st)
{
	*st = (struct kms_seal_status){
	    .sealed = srv->seal.sealed,
	    .t = srv->store->t,
	    .n = srv->store->n,
	    .progress = srv->seal.progress,
	    .version = ECFS_VERSION_STRING,
	    .cluster_name = KMSD_PROG,
	    .cluster_id = srv->cluster_id,
	    .server_time = (int64_t)time(NULL),
	};
}

static bool is_write(const char *method)
{
	return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
}

static bool is_read(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static void seal_status_reply(const struct kmsd_server *srv, unsigned status, struct kmsd_reply *rp,
			      bool health)
{
	struct kms_seal_status st;

	status_of(srv, &st);
	rp->status = status;
	if (health)
		kms_transit_build_health(&st, &rp->body);
	else
		kms_transit_build_seal_status(&st, &rp->body);
}

static void unseal(struct kmsd_server *srv, const char *body, size_t len, struct kmsd_reply *rp)
{
	struct ecfs_secret *key = NULL;
	bool reset = false, was_sealed = srv->seal.sealed;
	int r = kms_transit_parse_unseal_req(body, len, &key, &reset);

	if (r == 0 && reset)
		kmsd_seal_reset(&srv->seal);
	else if (r == 0)
		r = kmsd_seal_submit(&srv->seal, (const char *)ecfs_secret_data(key),
				     ecfs_secret_len(key));
	ecfs_secret_free(key);
	if (r == -EINVAL || r == -EBADMSG || r == -EKEYREJECTED) {
		kmsd_log("unseal refused: %s", ecfs_last_error());
		kmsd_reply_error(rp, 400, ecfs_last_error());
		return;
	}
	if (r < 0) {
		kmsd_log("unseal failed: %s", ecfs_last_error());
		kmsd_reply_error(rp, 500, ecfs_last_error());
		return;
	}
	if (was_sealed && !srv->seal.sealed)
		kmsd_log("unsealed over HTTP: %zu keys", srv->store->nkeys);
	seal_status_reply(srv, 200, rp, false);
}

void kmsd_sys(struct kmsd_server *srv, const char *method, const char *path, const char *body,
	      size_t len, struct kmsd_reply *rp)
{
	if (strcmp(path, "health") == 0 && is_read(method)) {
		seal_status_reply(srv, srv->seal.sealed ? 503 : 200, rp, true);
	} else if (strcmp(path, "seal-status") == 0 && is_read(method)) {
		seal_status_reply(srv, 200, rp, false);
	} else if (strcmp(path, "unseal") == 0 && is_write(method)) {
		unseal(srv, body, len, rp);
	} else if (strcmp(path, "seal") == 0 && is_write(method)) {
		kmsd_seal_close(&srv->seal);
		kmsd_log("sealed by request");
		rp->status = 204;
	} else if (kmsd_sys_is_open(path) || strcmp(path, "seal") == 0) {
		kmsd_reply_error(rp, 405, "unsupported operation");
	} else {
		kmsd_reply_error(rp, 404, "unsupported path");
	}
}
