/* fuzz_header.c - libFuzzer target: ecfs_header_parse on any bytes; what parses must round-trip. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The first input byte picks the mode, the rest is the header file:
 *   even: parsed as it is (prefix checks, checksum);
 *   odd:  the JSON size field and the checksum are fixed up first, so that mutations of the
 *         JSON area reach the JSON parser instead of stopping at the checksum.
 * A header that parses is serialized with a fixed MAC key and parsed again: both structs must
 * be equal field by field, the MAC must verify, and serializing again gives the same bytes.
 */

#define PREFIX	     112
#define OFF_JSON_LEN 12
#define OFF_CHECKSUM 80

static const uint8_t mac_key[32] = "fuzz_header fixed MAC key.......";

static void die(const char *what)
{
	fprintf(stderr, "fuzz_header: %s (last error: %s)\n", what, ecfs_last_error());
	abort();
}

static void fix_up(uint8_t *buf, size_t len)
{
	uint32_t jlen = (uint32_t)(len - PREFIX);
	uint8_t sum[32];

	buf[OFF_JSON_LEN] = (uint8_t)(jlen >> 24);
	buf[OFF_JSON_LEN + 1] = (uint8_t)(jlen >> 16);
	buf[OFF_JSON_LEN + 2] = (uint8_t)(jlen >> 8);
	buf[OFF_JSON_LEN + 3] = (uint8_t)jlen;
	memset(buf + OFF_CHECKSUM, 0, 32);
	if (ecfs_sha256(buf, len, sum) == 0)
		memcpy(buf + OFF_CHECKSUM, sum, 32);
}

#define SAME(field)                                                                                \
	do {                                                                                       \
		if (memcmp(&a->field, &b->field, sizeof(a->field)) != 0)                           \
			die("round trip changed " #field);                                         \
	} while (0)

static void same_header(const struct ecfs_header *a, const struct ecfs_header *b)
{
	SAME(version);
	SAME(seqid);
	SAME(uuid);
	SAME(label);
	SAME(created);
	SAME(cipher);
	SAME(chunk_size);
	SAME(canary_nonce);
	SAME(canary);
	for (int i = 0; i < ECFS_MAX_SLOTS; i++) {
		SAME(slots[i].type);
		SAME(slots[i].kek_generation);
		SAME(slots[i].created);
		SAME(slots[i].salt);
		SAME(slots[i].argon2);
		SAME(slots[i].wrapped_dek);
		SAME(slots[i].pkcs11);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecfs_header h, h2;
	uint8_t *buf, *out = NULL, *out2 = NULL;
	size_t len, out_len = 0, out2_len = 0;
	int r;

	if (size == 0)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	if ((data[0] & 1) && len > PREFIX)
		fix_up(buf, len);
	r = ecfs_header_parse(buf, len, &h);
	if (r != 0 && r != -EUCLEAN && r != -EPROTONOSUPPORT)
		die("unexpected error code");
	if (r == 0) {
		r = ecfs_header_serialize(&h, mac_key, &out, &out_len);
		if (r == -E2BIG) {
			free(buf);
			return 0;
		}
		if (r != 0)
			die("serialize failed");
		if (ecfs_header_parse(out, out_len, &h2) != 0)
			die("a serialized header does not parse");
		same_header(&h, &h2);
		if (ecfs_header_verify_mac(out, out_len, mac_key) != 0)
			die("the MAC of a serialized header does not verify");
		if (ecfs_header_serialize(&h2, mac_key, &out2, &out2_len) != 0)
			die("serialize of the re-parsed header failed");
		if (out_len != out2_len || memcmp(out, out2, out_len) != 0)
			die("serializing twice gives different bytes");
	}
	free(out);
	free(out2);
	free(buf);
	return 0;
}
