/* SPDX-License-Identifier: MIT */
/*
 * transit_json.h - the JSON messages of Vault's HTTP API that envcryptfs speaks: Transit
 * encrypt/decrypt/rewrap/keys, sys/health, sys/seal-status, sys/unseal, Kubernetes login and
 * the {"errors": [...]} body. Client requests and server responses are built here, and both
 * sides' bodies parsed here, as pure functions (no I/O) so that they can be fuzzed.
 *
 * Parsers return -EBADMSG with an ecfs_last_error() message for a malformed or incomplete
 * response, and -EINVAL with a Vault-style message for a bad request body (server side).
 */
#ifndef KMS_TRANSIT_JSON_H
#define KMS_TRANSIT_JSON_H

#include "kms_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bodies larger than this are refused on both sides. */
#define KMS_BODY_MAX (1u << 20)
/* Largest plaintext: its base64 in a request stays well under KMS_BODY_MAX. */
#define KMS_PLAINTEXT_MAX (512u << 10)
/* Longest ciphertext text accepted anywhere. */
#define KMS_CIPHERTEXT_MAX (KMS_BODY_MAX - 1024)
/* The only key type envcryptfs-kmsd offers, and the one envcryptfs asks Vault for. */
#define KMS_KEY_TYPE "aes256-gcm96"

/* ---- client requests -------------------------------------------------------------------- */

/* {"plaintext": base64} */
int kms_transit_encrypt_request(const uint8_t *plain, size_t len, struct kms_jw *w);
/* {"ciphertext": ciphertext}, for decrypt and rewrap. */
int kms_transit_ciphertext_request(const char *ciphertext, struct kms_jw *w);
/* {"role": role, "jwt": jwt} */
int kms_transit_login_request(const char *role, const uint8_t *jwt, size_t jwt_len,
			      struct kms_jw *w);

/* ---- client responses ------------------------------------------------------------------- */

/* data.ciphertext (a valid "vault:vN:base64" text, malloc()ed) and data.key_version (taken
 * from the ciphertext when absent, as older Vault omits it; -EBADMSG when they disagree). */
int kms_transit_parse_ciphertext(const char *body, size_t len, char **ciphertext,
				 uint64_t *version);
/* data.plaintext, base64-decoded straight into locked memory. */
int kms_transit_parse_plaintext(const char *body, size_t len, struct ecfs_secret **plain);
/* data.latest_version (>= 1) and data.min_decryption_version. */
int kms_transit_parse_key_info(const char *body, size_t len, uint64_t *latest,
			       uint64_t *min_decryption);
/* initialized and sealed from a sys/health body. */
int kms_transit_parse_health(const char *body, size_t len, bool *initialized, bool *sealed);
/* auth.client_token, into locked memory. */
int kms_transit_parse_login(const char *body, size_t len, struct ecfs_secret **token);
/* The "errors" strings joined with "; ", cut to printable ASCII and to msgsz; -EBADMSG (msg
 * then "") when the body is not an error body. */
int kms_transit_parse_errors(const char *body, size_t len, char *msg, size_t msgsz);

/* Whether s (len bytes) is "vault:vN:" with N >= 1 followed by standard base64. */
bool kms_transit_ciphertext_valid(const char *s, size_t len);

/* ---- server requests -------------------------------------------------------------------- */

/* An empty body counts as {}. */
int kms_transit_parse_encrypt_req(const char *body, size_t len, struct ecfs_secret **plain);
/* "ciphertext" (malloc()ed); what the text holds is checked by the caller. */
int kms_transit_parse_ciphertext_req(const char *body, size_t len, char **ciphertext);
/* "type", default KMS_KEY_TYPE. */
int kms_transit_parse_key_create_req(const char *body, size_t len, char *type, size_t typesz);

struct kms_key_config_req {
	bool has_min_decryption;
	uint64_t min_decryption;
	bool has_deletion_allowed;
	bool deletion_allowed;
};
int kms_transit_parse_key_config_req(const char *body, size_t len, struct kms_key_config_req *c);
/* "key" (the unseal share text, into locked memory; NULL when absent) and "reset". */
int kms_transit_parse_unseal_req(const char *body, size_t len, struct ecfs_secret **key,
				 bool *reset);

/* ---- server responses ------------------------------------------------------------------- */

/* {"errors": [msg]}, or {"errors": []} when msg is NULL (Vault's 404). */
int kms_transit_build_errors(const char *msg, struct kms_jw *w);
/* The envelope of a logical response: {"request_id": id, "lease_id": "", "renewable": false,
 * "lease_duration": 0, "data": {...}, "wrap_info": null, "warnings": null | [warning],
 * "auth": null}. open writes up to and including "data": {, close the rest. */
void kms_transit_envelope_open(struct kms_jw *w, const char *request_id);
int kms_transit_envelope_close(struct kms_jw *w, const char *warning);

int kms_transit_build_ciphertext(const char *request_id, const char *ciphertext, uint64_t version,
				 struct kms_jw *w);
int kms_transit_build_plaintext(const char *request_id, const uint8_t *plain, size_t len,
				struct kms_jw *w);

struct kms_key_info {
	const char *name;
	uint64_t latest_version;
	uint64_t min_decryption_version;
	bool deletion_allowed;
	const int64_t *created; /* creation time of versions 1..latest_version */
};
int kms_transit_build_key_info(const char *request_id, const struct kms_key_info *ki,
			       const char *warning, struct kms_jw *w);

struct kms_seal_status {
	bool sealed;
	unsigned t, n, progress;
	const char *version;
	const char *cluster_name, *cluster_id;
	int64_t server_time;
};
int kms_transit_build_health(const struct kms_seal_status *s, struct kms_jw *w);
int kms_transit_build_seal_status(const struct kms_seal_status *s, struct kms_jw *w);

#endif /* KMS_TRANSIT_JSON_H */
