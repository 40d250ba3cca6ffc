/* SPDX-License-Identifier: MIT */
/*
 * ecfs_kms.h - a client for the Transit secrets engine of HashiCorp Vault, OpenBao and
 * envcryptfs-kmsd(8): wrap and unwrap small secrets under a named key held by the server.
 *
 * Every function returning int gives 0 on success and a negative errno on failure, with a
 * one-line description (naming the server URL, the key and the cause) in ecfs_last_error():
 *   -EINVAL        a bad configuration or argument (also a 400 the server gives for a bad
 *                  request other than those below)
 *   -EACCES        403: permission denied (a bad or expired token, a wrong namespace, a missing
 *                  or untrusted client certificate, or a policy refusal)
 *   -ENOKEY        the key does not exist (404, or a 400 saying so)
 *   -EKEYREVOKED   the key refuses this ciphertext: its version is below the key's
 *                  min_decryption_version, or the key is disabled or deleted
 *   -EBADMSG       the server's response is malformed, misses a field or exceeds 1 MiB; or
 *                  the server says the ciphertext fails authentication
 *   -EAGAIN        503: the server is sealed
 *   -EREMOTEIO     another 5xx, or a redirect (point the client at the active node)
 *   -ECONNREFUSED  nothing listens at the URL
 *   -ECONNRESET    the connection broke during the exchange
 *   -EHOSTUNREACH  the host name does not resolve or the host cannot be reached
 *   -ETIMEDOUT     no answer within timeout_ms
 *   -EPROTO        TLS failed (an untrusted server certificate; a client certificate that
 *                  cannot be read or that the server refuses)
 * Connection errors and 500/502/503/504 are retried (retries times, 200 ms doubling, with
 * jitter) while the call's timeout_ms allows; 4xx and TLS failures never are. Rotation, which is
 * not idempotent, is retried only when the request cannot have reached the server (refused,
 * unreachable, 503 sealed).
 *
 * A struct ecfs_kms may be shared between threads: requests on it are serialized.
 */
#ifndef ECFS_KMS_H
#define ECFS_KMS_H

#include "envcryptfs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ecfs_kms_config {
	const char *url;	       /* https://host:port, or http:// only for a loopback address
					* (127.0.0.0/8, ::1, localhost) */
	const char *mount;	       /* default "transit" */
	const char *key;	       /* key name (NULL with kv_only) */
	const char *token_file;	       /* else $VAULT_TOKEN, else Kubernetes auth if role is set */
	const char *namespace_;	       /* X-Vault-Namespace, optional */
	const char *cacert;	       /* CA file; TLS verification is always on */
	const char *cert, *client_key; /* mTLS, optional (both or neither) */
	const char *role;	       /* Kubernetes auth role */
	const char *jwt_file; /* default /var/run/secrets/kubernetes.io/serviceaccount/token */
	int timeout_ms;	      /* per call, a deadline for all of it: every attempt, retry, backoff
			       * and login ends within it; default (0) 10000 */
	int retries;	      /* on connection errors and 5xx (not 4xx); 0 means the default 3, a
			       * negative value none; backoff 200 ms doubling, with jitter */
	bool kv_only;	      /* a client for ecfs_kms_kv_read alone: no Transit key named */
};

struct ecfs_kms;

/* Validates the configuration (URL scheme rule, cert/key pairing, names) and reads the token
 * (file or $VAULT_TOKEN) into locked memory. No network. */
int ecfs_kms_new(const struct ecfs_kms_config *cfg, struct ecfs_kms **out);
/* Wipes the token and frees; NULL is fine. */
void ecfs_kms_free(struct ecfs_kms *k);

/* Encrypts len bytes (at most 512 KiB); *ciphertext is malloc()ed "vault:vN:..." text. */
int ecfs_kms_encrypt(struct ecfs_kms *k, const uint8_t *plain, size_t len, char **ciphertext,
		     uint64_t *key_version);
/* Decrypts straight into locked memory; every intermediate buffer is wiped. */
int ecfs_kms_decrypt(struct ecfs_kms *k, const char *ciphertext, struct ecfs_secret **plain);
/* Adds a new key version; later encryptions use it. */
int ecfs_kms_rotate(struct ecfs_kms *k);
/* Re-encrypts a ciphertext under the latest key version without revealing the plaintext. */
int ecfs_kms_rewrap(struct ecfs_kms *k, const char *ciphertext, char **new_ciphertext,
		    uint64_t *key_version);
int ecfs_kms_key_info(struct ecfs_kms *k, uint64_t *latest_version,
		      uint64_t *min_decryption_version);
/* 0 when the server is reachable, initialized and unsealed (a standby counts as unsealed);
 * -EAGAIN when sealed. HTTP answers are not retried, connection errors are. */
int ecfs_kms_health(struct ecfs_kms *k);
/* Reads field of the newest version of the KV version 2 secret at mount/path (GET
 * /v1/<mount>/data/<path>), base64-decoded into locked memory of at most max bytes; the
 * response body is wiped. Besides the errors above (-ENOKEY: no such secret or mount):
 * -ENODATA the field is missing or not a string, -EILSEQ it is not base64, -EMSGSIZE it is
 * longer than max; -EINVAL for a mount or path outside [A-Za-z0-9_.-/]. */
int ecfs_kms_kv_read(struct ecfs_kms *k, const char *mount, const char *path, const char *field,
		     size_t max, struct ecfs_secret **value);
/* N from "vault:vN:...", 0 if malformed. */
uint64_t ecfs_kms_ciphertext_version(const char *ciphertext);

#endif /* ECFS_KMS_H */
