/* SPDX-License-Identifier: MIT */
/*
 * transit.c - the Transit endpoints under /v1/<mount>/, with Vault's shapes, status codes and
 * messages: encrypt (creating a missing key, as Vault does for a token that may create),
 * decrypt, rewrap, and keys/<name> (read, create, delete, rotate, config). Ciphertexts are
 * "vault:vN:" + base64(nonce[12] || AES-256-GCM ciphertext || tag[16]), as Vault's
 * aes256-gcm96 keys make them.
 */
#include "kmsd.h"
#include "ecfs_kms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_TOO_OLD "ciphertext or signature version is disallowed by policy (too old)"
#define MSG_UNABLE  "invalid ciphertext: unable to decrypt"

struct target {
	char verb[16];		      /* encrypt, decrypt, rewrap, keys */
	char name[KMSD_NAME_MAX + 1]; /* the key */
	char action[16];	      /* "" or, under keys, rotate or config */
};

/* Splits "verb/name[/action]"; false for any other shape or an invalid name. */
static bool parse_target(const char *path, struct target *t)
{
	const char *s1 = strchr(path, '/'), *s2;
	size_t vl, nl;

	memset(t, 0, sizeof(*t));
	if (!s1)
		return false;
	vl = (size_t)(s1 - path);
	s2 = strchr(s1 + 1, '/');
	nl = s2 ? (size_t)(s2 - s1 - 1) : strlen(s1 + 1);
	if (vl >= sizeof(t->verb) || !kmsd_valid_key_name(s1 + 1, nl))
		return false;
	memcpy(t->verb, path, vl);
	memcpy(t->name, s1 + 1, nl);
	if (s2) {
		if (strlen(s2 + 1) >= sizeof(t->action) || strchr(s2 + 1, '/'))
			return false;
		memcpy(t->action, s2 + 1, strlen(s2 + 1) + 1);
	}
	return true;
}

static bool is_write(const char *method)
{
	return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
}

static void internal_error(struct kmsd_reply *rp, const char *what)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "%s: %s", what, ecfs_last_error());
	kmsd_log("%s", msg);
	kmsd_reply_error(rp, 500, msg);
}

/* ---- ciphertexts ---------------------------------------------------------------------------- */

static int seal_text(const struct kmsd_key *k, const uint8_t *plain, size_t len, char **out)
{
	const struct kmsd_version *kv = kmsd_key_version(k, k->nversions);
	size_t blen = KMSD_NONCE_SIZE + len + KMSD_TAG_SIZE;
	uint8_t *blob = malloc(blen);
	char *text = malloc(32 + (blen + 2) / 3 * 4 + 1);
	int r = blob && text ? ecfs_random(blob, KMSD_NONCE_SIZE) : -ENOMEM;

	if (r == 0)
		r = kmsd_gcm_seal(kv->key, blob, NULL, 0, plain, len, blob + KMSD_NONCE_SIZE);
	if (r == 0) {
		int n = snprintf(text, 32, "vault:v%u:", k->nversions);

		ecfs_b64_encode(blob, blen, text + n);
		*out = text;
		text = NULL;
	}
	free(blob);
	free(text);
	return r < 0 ? ecfs_fail(r, "encryption failed") : 0;
}

/* Vault's checks, in Vault's order, each a 400 with Vault's message. */
static int open_text(const struct kmsd_key *k, const char *ct, struct ecfs_secret **plain)
{
	uint64_t ver = ecfs_kms_ciphertext_version(ct);
	const char *b64 = strchr(ct + (strncmp(ct, "vault:", 6) == 0 ? 6 : 0), ':');
	size_t blen, tlen;
	uint8_t *blob;
	int n, r = 0;

	if (strncmp(ct, "vault:", 6) != 0)
		return ecfs_fail(-EINVAL, "invalid ciphertext: no prefix");
	if (ver == 0 || !b64)
		return ecfs_fail(-EINVAL,
				 "invalid ciphertext: version number could not be decoded");
	if (ver > k->nversions)
		return ecfs_fail(-EINVAL, "invalid ciphertext: version is too new");
	if (ver < k->min_decryption)
		return ecfs_fail(-EINVAL, MSG_TOO_OLD);
	tlen = strlen(++b64);
	blob = malloc(tlen / 4 * 3 + 1);
	if (!blob)
		return ecfs_fail(-ENOMEM, "out of memory");
	n = ecfs_b64_decode(b64, tlen, blob, tlen / 4 * 3 + 1);
	if (n < 0)
		r = ecfs_fail(-EINVAL, "invalid ciphertext: could not decode base64");
	blen = n < 0 ? 0 : (size_t)n;
	if (r == 0 && blen < KMSD_NONCE_SIZE + KMSD_TAG_SIZE)
		r = ecfs_fail(-EINVAL, MSG_UNABLE);
	if (r == 0 && !(*plain = ecfs_secret_new(blen - KMSD_NONCE_SIZE - KMSD_TAG_SIZE)))
		r = ecfs_fail(-ENOMEM, "out of memory");
	if (r == 0 && kmsd_gcm_open(kmsd_key_version(k, (uint32_t)ver)->key, blob, NULL, 0,
				    blob + KMSD_NONCE_SIZE, blen - KMSD_NONCE_SIZE,
				    ecfs_secret_data(*plain)) < 0) {
		ecfs_secret_free(*plain);
		r = ecfs_fail(-EINVAL, MSG_UNABLE);
	}
	free(blob);
	return r;
}

static void reply_ciphertext(struct kmsd_reply *rp, const char *ct, uint32_t version)
{
	char rid[37];

	kmsd_request_id(rid);
	rp->status = 200;
	kms_transit_build_ciphertext(rid, ct, version, &rp->body);
}

static void reply_key_info(struct kmsd_reply *rp, const struct kmsd_key *k, const char *warning)
{
	int64_t *created = calloc(k->nversions, sizeof(*created));
	struct kms_key_info ki = {k->name, k->nversions, k->min_decryption, k->deletion_allowed,
				  created};
	char rid[37];

	if (!created) {
		kmsd_reply_error(rp, 500, "out of memory");
		return;
	}
	for (uint32_t v = 1; v <= k->nversions; v++)
		created[v - 1] = kmsd_key_version(k, v)->created;
	kmsd_request_id(rid);
	rp->status = 200;
	kms_transit_build_key_info(rid, &ki, warning, &rp->body);
	free(created);
}

/* ---- endpoints ---------------------------------------------------------------------------- */

static void do_encrypt(struct kmsd_server *srv, const char *name, const char *body, size_t len,
		       struct kmsd_reply *rp)
{
	struct ecfs_secret *plain = NULL;
	struct kmsd_key *k;
	char *ct = NULL;

	if (kms_transit_parse_encrypt_req(body, len, &plain) < 0) {
		kmsd_reply_error(rp, 400, ecfs_last_error());
		return;
	}
	k = kmsd_store_find(srv->store, name);
	if (!k && kmsd_store_create_key(srv->store, name, &k) < 0)
		internal_error(rp, "cannot create the key");
	else if (seal_text(k, ecfs_secret_data(plain), ecfs_secret_len(plain), &ct) < 0)
		internal_error(rp, "cannot encrypt");
	else
		reply_ciphertext(rp, ct, k->nversions);
	ecfs_secret_free(plain);
	free(ct);
}

/* Decrypt and rewrap both start by opening the ciphertext with the named key. */
static int open_request(struct kmsd_server *srv, const char *name, const char *body, size_t len,
			struct kmsd_reply *rp, struct kmsd_key **k, struct ecfs_secret **plain)
{
	char *ct = NULL;
	int r = kms_transit_parse_ciphertext_req(body, len, &ct);

	if (r == 0 && !(*k = kmsd_store_find(srv->store, name)))
		r = ecfs_fail(-ENOKEY, "encryption key not found");
	if (r == 0)
		r = open_text(*k, ct, plain);
	free(ct);
	if (r == -ENOMEM)
		internal_error(rp, "cannot decrypt");
	else if (r < 0)
		kmsd_reply_error(rp, 400, ecfs_last_error());
	return r;
}

static void do_decrypt(struct kmsd_server *srv, const char *name, const char *body, size_t len,
		       struct kmsd_reply *rp)
{
	struct ecfs_secret *plain = NULL;
	struct kmsd_key *k;
	char rid[37];

	if (open_request(srv, name, body, len, rp, &k, &plain) < 0)
		return;
	kmsd_request_id(rid);
	rp->status = 200;
	kms_transit_build_plaintext(rid, ecfs_secret_data(plain), ecfs_secret_len(plain),
				    &rp->body);
	ecfs_secret_free(plain);
}

static void do_rewrap(struct kmsd_server *srv, const char *name, const char *body, size_t len,
		      struct kmsd_reply *rp)
{
	struct ecfs_secret *plain = NULL;
	struct kmsd_key *k;
	char *ct = NULL;

	if (open_request(srv, name, body, len, rp, &k, &plain) < 0)
		return;
	if (seal_text(k, ecfs_secret_data(plain), ecfs_secret_len(plain), &ct) < 0)
		internal_error(rp, "cannot encrypt");
	else
		reply_ciphertext(rp, ct, k->nversions);
	ecfs_secret_free(plain);
	free(ct);
}

static void do_key_create(struct kmsd_server *srv, const char *name, const char *body, size_t len,
			  struct kmsd_reply *rp)
{
	struct kmsd_key *k = kmsd_store_find(srv->store, name);
	char type[64], msg[160];

	if (kms_transit_parse_key_create_req(body, len, type, sizeof(type)) < 0) {
		kmsd_reply_error(rp, 400, ecfs_last_error());
	} else if (strcmp(type, KMS_KEY_TYPE) != 0) {
		snprintf(msg, sizeof(msg), "unknown key type %s (envcryptfs-kmsd offers %s)", type,
			 KMS_KEY_TYPE);
		kmsd_reply_error(rp, 400, msg);
	} else if (k) {
		snprintf(msg, sizeof(msg), "key %s already existed", name);
		reply_key_info(rp, k, msg);
	} else if (kmsd_store_create_key(srv->store, name, &k) < 0) {
		internal_error(rp, "cannot create the key");
	} else {
		kmsd_log("created key '%s'", name);
		reply_key_info(rp, k, NULL);
	}
}

static void do_key_delete(struct kmsd_server *srv, const char *name, struct kmsd_reply *rp)
{
	struct kmsd_key *k = kmsd_store_find(srv->store, name);
	char msg[300];

	if (!k || !k->deletion_allowed) {
		snprintf(msg, sizeof(msg), "error deleting policy %s: %s", name,
			 k ? "deletion is not allowed for this key"
			   : "could not delete key; not found");
		kmsd_reply_error(rp, 400, msg);
	} else if (kmsd_store_delete(srv->store, k) < 0) {
		internal_error(rp, "cannot delete the key");
	} else {
		kmsd_log("deleted key '%s'", name);
		rp->status = 204;
	}
}

static void do_key_rotate(struct kmsd_server *srv, const char *name, struct kmsd_reply *rp)
{
	struct kmsd_key *k = kmsd_store_find(srv->store, name);

	if (!k) {
		kmsd_reply_error(rp, 400, "key not found");
	} else if (kmsd_store_rotate(srv->store, k) < 0) {
		internal_error(rp, "cannot rotate the key");
	} else {
		kmsd_log("rotated key '%s' to version %u", name, k->nversions);
		reply_key_info(rp, k, NULL);
	}
}

static void do_key_config(struct kmsd_server *srv, const char *name, const char *body, size_t len,
			  struct kmsd_reply *rp)
{
	struct kmsd_key *k = kmsd_store_find(srv->store, name);
	struct kms_key_config_req c;
	const char *warning = NULL;
	char msg[200];

	if (!k) {
		snprintf(msg, sizeof(msg), "no existing key named %s could be found", name);
		kmsd_reply_error(rp, 400, msg);
		return;
	}
	if (kms_transit_parse_key_config_req(body, len, &c) < 0) {
		kmsd_reply_error(rp, 400, ecfs_last_error());
		return;
	}
	if (c.has_min_decryption && c.min_decryption == 0) {
		c.min_decryption = 1;
		warning =
		    "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1";
	}
	if (c.has_min_decryption && c.min_decryption > k->nversions) {
		snprintf(msg, sizeof(msg),
			 "cannot set min decryption version of %llu, latest key version is %u",
			 (unsigned long long)c.min_decryption, k->nversions);
		kmsd_reply_error(rp, 400, msg);
		return;
	}
	if (kmsd_store_configure(
		srv->store, k,
		c.has_min_decryption ? (uint32_t)c.min_decryption : k->min_decryption,
		c.has_deletion_allowed ? c.deletion_allowed : k->deletion_allowed) < 0) {
		internal_error(rp, "cannot configure the key");
		return;
	}
	reply_key_info(rp, k, warning);
}

static void do_keys(struct kmsd_server *srv, const char *method, const struct target *t,
		    const char *body, size_t len, struct kmsd_reply *rp)
{
	struct kmsd_key *k;

	if (!t->action[0] && strcmp(method, "GET") == 0) {
		k = kmsd_store_find(srv->store, t->name);
		if (k)
			reply_key_info(rp, k, NULL);
		else
			kmsd_reply_error(rp, 404, NULL); /* Vault: 404 with no errors */
	} else if (!t->action[0] && is_write(method)) {
		do_key_create(srv, t->name, body, len, rp);
	} else if (!t->action[0] && strcmp(method, "DELETE") == 0) {
		do_key_delete(srv, t->name, rp);
	} else if (strcmp(t->action, "rotate") == 0 && is_write(method)) {
		do_key_rotate(srv, t->name, rp);
	} else if (strcmp(t->action, "config") == 0 && is_write(method)) {
		do_key_config(srv, t->name, body, len, rp);
	} else if (!t->action[0] || strcmp(t->action, "rotate") == 0 ||
		   strcmp(t->action, "config") == 0) {
		kmsd_reply_error(rp, 405, "unsupported operation");
	} else {
		kmsd_reply_error(rp, 404, "unsupported path");
	}
}

void kmsd_transit(struct kmsd_server *srv, const char *method, const char *path, const char *body,
		  size_t len, struct kmsd_reply *rp)
{
	struct target t;
	bool w = is_write(method);

	if (!parse_target(path, &t))
		kmsd_reply_error(rp, 404, "unsupported path");
	else if (strcmp(t.verb, "keys") == 0)
		do_keys(srv, method, &t, body, len, rp);
	else if (t.action[0])
		kmsd_reply_error(rp, 404, "unsupported path");
	else if (strcmp(t.verb, "encrypt") == 0 && w)
		do_encrypt(srv, t.name, body, len, rp);
	else if (strcmp(t.verb, "decrypt") == 0 && w)
		do_decrypt(srv, t.name, body, len, rp);
	else if (strcmp(t.verb, "rewrap") == 0 && w)
		do_rewrap(srv, t.name, body, len, rp);
	else if (!strcmp(t.verb, "encrypt") || !strcmp(t.verb, "decrypt") ||
		 !strcmp(t.verb, "rewrap"))
		kmsd_reply_error(rp, 405, "unsupported operation");
	else
		kmsd_reply_error(rp, 404, "unsupported path");
}
