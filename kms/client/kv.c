/* SPDX-License-Identifier: MIT */
/*
 * kv.c - reading one field of a secret from a KV version 2 engine (Vault, OpenBao or
 * envcryptfs-kmsd): the bytes of a key file kept as a secret. The answer holds the secret in
 * base64; it is decoded into locked memory and the body wiped.
 */
#include "client.h"
#include "ecfs_util.h"
#include "kv_json.h"

#include <stdio.h>
#include <string.h>

int ecfs_kms_kv_read(struct ecfs_kms *k, const char *mount, const char *path, const char *field,
		     size_t max, struct ecfs_secret **value)
{
	struct kms_http_resp rs = {0};
	char url_path[600], op[400];
	int r;

	if (!k || !mount || !path || !field || !value)
		return ecfs_fail(-EINVAL, "ecfs_kms_kv_read: bad arguments");
	if (!kms_kv_path_valid(mount, strlen(mount)) || !kms_kv_path_valid(path, strlen(path)))
		return ecfs_fail(-EINVAL,
				 "secret '%s/%s': a mount and path are segments of letters, "
				 "digits, '_', '-' and '.'",
				 mount, path);
	snprintf(url_path, sizeof(url_path), "/v1/%s/data/%s", mount, path);
	snprintf(op, sizeof(op), "read secret '%s/%s'", mount, path);
	pthread_mutex_lock(&k->lock);
	r = kms_call(k, op, "GET", url_path, NULL, 0, KMS_RETRY_IDEMPOTENT, true, &rs);
	if (r == -ENOKEY)
		r = ecfs_fail(-ENOKEY,
			      "KMS %s: %s: no such secret (HTTP 404; or no KV version 2 "
			      "engine at '%s')",
			      k->base, op, mount);
	else if (r == 0 &&
		 (r = kms_kv_parse_field(rs.body ? (const char *)ecfs_secret_data(rs.body) : NULL,
					 rs.len, field, max, value)) < 0)
		r = kms_fail_op(k, r, op);
	pthread_mutex_unlock(&k->lock);
	kms_http_resp_free(&rs); /* wipes the body, the secret in base64 among it */
	return r;
}
