/* SPDX-License-Identifier: MIT */
/*
 * header.c - the volume header between its bytes on disk and struct ecfs_header: a fixed
 * big-endian prefix (magic, version, sizes, sequence number, UUID, MAC, checksum) followed by a
 * JSON area (man/envcryptfs.5, "Volume header"). Structure and checksum are checked before the
 * JSON is parsed; the MAC needs the DEK and is checked on unlock.
 */
#include "slot.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const uint8_t hdr_magic[8] = {'E', 'C', 'F', 'S', 'H', 'D', 'R', 0};

/* Byte offsets in the prefix. */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 8,
	OFF_PREFIX_SIZE = 10,
	OFF_JSON_SIZE = 12,
	OFF_SEQID = 16,
	OFF_UUID = 24,
	OFF_RESERVED = 40,
	OFF_MAC = 48,
	OFF_CHECKSUM = 80,
	PREFIX_SIZE = 112,
};

#define JSON_MAX (ECFS_HEADER_MAX - PREFIX_SIZE)

/* Feature flags this build understands; a header naming any other one is refused. */
/* An upgrade to format 2 under way (lib/upgrade.c): only the upgrade itself unlocks it. */
#define FEATURE_UPGRADING "upgrading-to-2"

static const char *const known_incompat[] = {FEATURE_UPGRADING, NULL};

static int prefix_checksum(const uint8_t *buf, size_t len, uint8_t out[32])
{
	uint8_t zero[32] = {0};
	uint8_t *copy = malloc(len);
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	memcpy(copy + OFF_CHECKSUM, zero, 32);
	r = ecfs_sha256(copy, len, out);
	free(copy);
	return r;
}

/* The MAC covers the prefix up to the MAC field and the JSON area. */
static int header_mac(const uint8_t *buf, size_t len, const uint8_t key[32], uint8_t out[32])
{
	struct ecfs_iov iov[2] = {{buf, OFF_MAC}, {buf + PREFIX_SIZE, len - PREFIX_SIZE}};

	return ecfs_hmac_sha256(key, 32, iov, 2, out);
}

/* ---- slots --------------------------------------------------------------------------------- */

static int parse_slots(json_object *root, struct ecfs_header *h)
{
	json_object *slots;
	int r = ecfs_json_field(root, "header", "slots", json_type_object, &slots);

	if (r < 0)
		return r;
	json_object_object_foreach(slots, key, val)
	{
		char *end;
		long i = strtol(key, &end, 10);

		if (*end || end == key || i < 0 || i >= ECFS_MAX_SLOTS || key[0] == '+' ||
		    (key[0] == '0' && key[1]) || h->slots[i].type != ECFS_SLOT_NONE)
			return ecfs_fail(-EUCLEAN, "key slot number '%s' is invalid", key);
		if (!json_object_is_type(val, json_type_object))
			return ecfs_fail(-EUCLEAN, "key slot %ld is not an object", i);
		r = ecfs_slot_parse(val, &h->slots[i]);
		if (r < 0)
			return r;
	}
	/* No slots is valid: such a volume opens only with an export file. */
	return 0;
}

/* ---- the body ----------------------------------------------------------------------------- */

static int parse_features(json_object *root, struct ecfs_header *h)
{
	json_object *feat, *inc;
	int r = ecfs_json_field(root, "header", "features", json_type_object, &feat);

	if (r == 0)
		r = ecfs_json_field(feat, "header", "incompat", json_type_array, &inc);
	for (size_t i = 0; r == 0 && i < json_object_array_length(inc); i++) {
		json_object *f = json_object_array_get_idx(inc, i);
		const char *name = json_object_get_string(f);
		bool known = false;

		if (!json_object_is_type(f, json_type_string) || !name)
			return ecfs_fail(-EUCLEAN, "the header's feature list holds a non-string");
		for (size_t j = 0; known_incompat[j]; j++)
			known |= strcmp(known_incompat[j], name) == 0;
		if (strcmp(name, FEATURE_UPGRADING) == 0)
			h->upgrading = true;
		if (!known)
			r = ecfs_fail(-EPROTONOSUPPORT,
				      "the volume uses feature '%s', which this version does not "
				      "support",
				      name);
	}
	return r;
}

static int parse_body(json_object *root, struct ecfs_header *h)
{
	json_object *f, *canary;
	uint64_t v = 0;
	uint8_t uuid[ECFS_UUID_SIZE];
	int r = parse_features(root, h);

	if (r == 0)
		r = ecfs_json_field(root, "header", "cipher", json_type_string, &f);
	if (r == 0) {
		h->cipher = ecfs_cipher_from_name(json_object_get_string(f));
		if (h->cipher == ECFS_CIPHER_NONE)
			return ecfs_fail(-EPROTONOSUPPORT, "cipher '%s' is not supported",
					 json_object_get_string(f));
		r = ecfs_json_u64(root, "header", "chunk_size", ECFS_MIN_CHUNK, ECFS_MAX_CHUNK, &v);
	}
	if (r == 0 && (v & (v - 1)))
		r = ecfs_fail(-EUCLEAN, "chunk size %llu is not a power of two",
			      (unsigned long long)v);
	h->chunk_size = (uint32_t)v;
	if (r == 0)
		r = ecfs_json_u64(root, "header", "created", 0, INT64_MAX, &v);
	h->created = (int64_t)v;
	if (r == 0)
		r = ecfs_json_field(root, "header", "label", json_type_string, &f);
	if (r == 0 && json_object_get_string_len(f) > ECFS_LABEL_MAX)
		r = ecfs_fail(-EUCLEAN, "the label is longer than %d bytes", ECFS_LABEL_MAX);
	if (r == 0 && strlen(json_object_get_string(f)) != (size_t)json_object_get_string_len(f))
		r = ecfs_fail(-EUCLEAN, "the label contains a NUL byte");
	if (r == 0)
		memcpy(h->label, json_object_get_string(f),
		       (size_t)json_object_get_string_len(f) + 1);
	if (r == 0)
		r = ecfs_json_b64(root, "header", "uuid", uuid, ECFS_UUID_SIZE);
	if (r == 0 && memcmp(uuid, h->uuid, ECFS_UUID_SIZE) != 0)
		r = ecfs_fail(-EUCLEAN, "the UUID in the JSON area differs from the prefix");
	if (r == 0)
		r = ecfs_json_field(root, "header", "canary", json_type_object, &canary);
	if (r == 0)
		r = ecfs_json_b64(canary, "header", "nonce", h->canary_nonce, ECFS_CANARY_NONCE);
	if (r == 0)
		r = ecfs_json_b64(canary, "header", "data", h->canary, sizeof(h->canary));
	return r == 0 ? parse_slots(root, h) : r;
}

static int parse_json(const uint8_t *text, size_t len, struct ecfs_header *h)
{
	json_tokener *tok = json_tokener_new_ex(16);
	json_object *root;
	int r;

	if (!tok)
		return -ENOMEM;
	if (memchr(text, '\0', len)) {
		json_tokener_free(tok);
		return ecfs_fail(-EUCLEAN, "the header's JSON area contains a NUL byte");
	}
	root = json_tokener_parse_ex(tok, (const char *)text, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(root, json_type_object))
		r = ecfs_fail(-EUCLEAN, "the header's JSON area does not parse");
	else
		r = parse_body(root, h);
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}

static int check_prefix(const uint8_t *buf, size_t len, size_t *json_len)
{
	uint8_t sum[32];
	uint64_t version, psize, jsize;
	int r;

	if (len < PREFIX_SIZE)
		return ecfs_fail(-EUCLEAN, "header is truncated (%zu bytes)", len);
	if (memcmp(buf + OFF_MAGIC, hdr_magic, sizeof(hdr_magic)) != 0)
		return ecfs_fail(-EUCLEAN, "header has a bad magic number");
	version = ecfs_get_be(buf + OFF_VERSION, 2);
	if (version < ECFS_FORMAT_VERSION_MIN || version > ECFS_FORMAT_VERSION)
		return ecfs_fail(-EPROTONOSUPPORT, "header format version %llu is not supported",
				 (unsigned long long)version);
	psize = ecfs_get_be(buf + OFF_PREFIX_SIZE, 2);
	jsize = ecfs_get_be(buf + OFF_JSON_SIZE, 4);
	if (psize != PREFIX_SIZE || jsize == 0 || jsize > JSON_MAX || len != PREFIX_SIZE + jsize)
		return ecfs_fail(-EUCLEAN,
				 "header sizes are inconsistent (prefix %llu, json %llu, "
				 "file %zu)",
				 (unsigned long long)psize, (unsigned long long)jsize, len);
	if (ecfs_get_be(buf + OFF_RESERVED, 8) != 0)
		return ecfs_fail(-EUCLEAN, "header reserved bytes are not zero");
	r = prefix_checksum(buf, len, sum);
	if (r == 0 && ecfs_memcmp_ct(sum, buf + OFF_CHECKSUM, 32) != 0)
		r = ecfs_fail(-EUCLEAN, "header checksum mismatch");
	*json_len = (size_t)jsize;
	return r;
}

int ecfs_header_parse(const uint8_t *buf, size_t len, struct ecfs_header *h)
{
	size_t json_len = 0;
	int r = check_prefix(buf, len, &json_len);

	if (r < 0)
		return r;
	memset(h, 0, sizeof(*h));
	h->version = (uint32_t)ecfs_get_be(buf + OFF_VERSION, 2);
	h->seqid = ecfs_get_be(buf + OFF_SEQID, 8);
	memcpy(h->uuid, buf + OFF_UUID, ECFS_UUID_SIZE);
	return parse_json(buf + PREFIX_SIZE, json_len, h);
}

static json_object *body_json(const struct ecfs_header *h)
{
	json_object *root = json_object_new_object(), *feat = json_object_new_object();
	json_object *canary = json_object_new_object(), *slots = json_object_new_object();
	json_object *incompat = json_object_new_array();

	json_object_object_add(root, "uuid", ecfs_json_b64_string(h->uuid, ECFS_UUID_SIZE));
	json_object_object_add(root, "label", json_object_new_string(h->label));
	json_object_object_add(root, "created", json_object_new_int64(h->created));
	if (h->upgrading)
		json_object_array_add(incompat, json_object_new_string(FEATURE_UPGRADING));
	json_object_object_add(feat, "incompat", incompat);
	json_object_object_add(root, "features", feat);
	json_object_object_add(root, "cipher", json_object_new_string(ecfs_cipher_name(h->cipher)));
	json_object_object_add(root, "chunk_size", json_object_new_int64(h->chunk_size));
	json_object_object_add(canary, "nonce",
			       ecfs_json_b64_string(h->canary_nonce, ECFS_CANARY_NONCE));
	json_object_object_add(canary, "data", ecfs_json_b64_string(h->canary, sizeof(h->canary)));
	json_object_object_add(root, "canary", canary);
	for (int i = 0; i < ECFS_MAX_SLOTS; i++) {
		char key[4];

		if (h->slots[i].type == ECFS_SLOT_NONE)
			continue;
		snprintf(key, sizeof(key), "%d", i);
		json_object_object_add(slots, key, ecfs_slot_write(&h->slots[i]));
	}
	json_object_object_add(root, "slots", slots);
	return root;
}

int ecfs_header_serialize(const struct ecfs_header *h, const uint8_t mac_key[32], uint8_t **out,
			  size_t *out_len)
{
	json_object *root = body_json(h);
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t jlen = strlen(text), len = PREFIX_SIZE + jlen;
	uint8_t *buf = calloc(1, len);
	int r;

	if (!buf || jlen > JSON_MAX) {
		json_object_put(root);
		free(buf);
		return buf ? ecfs_fail(-E2BIG, "the header is too large") : -ENOMEM;
	}
	memcpy(buf + OFF_MAGIC, hdr_magic, sizeof(hdr_magic));
	ecfs_put_be(buf + OFF_VERSION, h->version, 2);
	ecfs_put_be(buf + OFF_PREFIX_SIZE, PREFIX_SIZE, 2);
	ecfs_put_be(buf + OFF_JSON_SIZE, jlen, 4);
	ecfs_put_be(buf + OFF_SEQID, h->seqid, 8);
	memcpy(buf + OFF_UUID, h->uuid, ECFS_UUID_SIZE);
	memcpy(buf + PREFIX_SIZE, text, jlen);
	json_object_put(root);
	r = header_mac(buf, len, mac_key, buf + OFF_MAC);
	if (r == 0)
		r = prefix_checksum(buf, len, buf + OFF_CHECKSUM);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int ecfs_header_verify_mac(const uint8_t *buf, size_t len, const uint8_t mac_key[32])
{
	uint8_t mac[32];
	int r;

	if (len < PREFIX_SIZE)
		return -EUCLEAN;
	r = header_mac(buf, len, mac_key, mac);
	if (r == 0 && ecfs_memcmp_ct(mac, buf + OFF_MAC, sizeof(mac)) != 0)
		r = ecfs_fail(-EBADMSG, "header MAC mismatch: the header was modified");
	ecfs_wipe(mac, sizeof(mac));
	return r;
}
