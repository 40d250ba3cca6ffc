/* SPDX-License-Identifier: MIT */
/* fuzz_b64.c - libFuzzer target: both base64 decoders on any input, and encode/decode round
 * trips, including that every accepted text is the one canonical spelling of its bytes. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef size_t (*enc_fn)(const uint8_t *in, size_t len, char *out);
typedef int (*dec_fn)(const char *in, size_t len, uint8_t *out, size_t outsz);

/* Room for the padded encoding, which is never shorter than the unpadded one. */
static size_t enc_room(size_t len)
{
	return (len + 2) / 3 * 4 + 1;
}

/* Decoding data as text: a success must re-encode to exactly the same text. */
static void check_decode(const uint8_t *data, size_t size, enc_fn enc, dec_fn dec)
{
	uint8_t *out = malloc(size + 1);
	char *again;
	int n;

	if (!out)
		abort();
	n = dec((const char *)data, size, out, size);
	if (n >= 0) {
		if ((size_t)n > size)
			abort();
		again = malloc(enc_room((size_t)n));
		if (!again)
			abort();
		if (enc(out, (size_t)n, again) != size || memcmp(again, data, size) != 0)
			abort();
		free(again);
	} else if (n != -EINVAL) {
		abort();
	}
	/* A buffer one byte short must be refused, not overrun. */
	if (n > 0 && dec((const char *)data, size, out, (size_t)n - 1) != -EINVAL)
		abort();
	free(out);
}

/* Encoding data as bytes: decoding gives them back. */
static void check_round_trip(const uint8_t *data, size_t size, enc_fn enc, dec_fn dec)
{
	char *text = malloc(enc_room(size));
	uint8_t *back = malloc(size + 1);
	size_t len;

	if (!text || !back)
		abort();
	len = enc(data, size, text);
	if (strlen(text) != len)
		abort();
	if (dec(text, len, back, size) != (int)size || memcmp(back, data, size) != 0)
		abort();
	free(text);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size, ecfs_b64url_encode, ecfs_b64url_decode);
	check_decode(data, size, ecfs_b64_encode, ecfs_b64_decode);
	check_round_trip(data, size, ecfs_b64url_encode, ecfs_b64url_decode);
	check_round_trip(data, size, ecfs_b64_encode, ecfs_b64_decode);
	if (ecfs_b64_encoded_len(size) != (size * 4 + 2) / 3)
		abort();
	return 0;
}
