/* SPDX-License-Identifier: MIT */
/* chunk.c - sealing one chunk: AES-256-GCM with a per-file key and a random nonce, or XTS with
 * the file ID and chunk index as tweak; the hole rule (man/envcryptfs.5, "File contents",
 * "Holes"). */
#include "crypto_ctx.h"

#include <string.h>

/* Format 2: a hole is zeros only where the file's holes map lists it (man/envcryptfs.5,
 * "Holes"); anywhere else an all-zero chunk was zeroed, punched out or appended by someone
 * without the key. */
static bool hole_allowed(const struct ecfs_file_key *k, uint64_t idx)
{
	return k->holes_any || (k->holes && ecfs_holes_contains(k->holes, idx));
}

uint32_t ecfs_chunk_overhead(const struct ecfs_volume *v)
{
	return ecfs_mode_get(v->hdr.cipher)->overhead;
}

uint32_t ecfs_chunk_size(const struct ecfs_volume *v)
{
	return v->hdr.chunk_size;
}

/* Stops at the first byte that is not zero: every stored chunk that is not a hole is checked
 * on each read, and its first bytes (a random nonce, or ciphertext) almost always end it. Only
 * public bytes (nonces, ciphertext) are checked, so the early exit leaks nothing. */
static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w)
			return false;
	}
	for (; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* A chunk stored as all zeros: a hole, or tampering where the file has none. */
static int hole_read(const struct ecfs_file_key *k, uint64_t idx)
{
	if (hole_allowed(k, idx))
		return 0;
	return ecfs_fail(-EBADMSG, "chunk %llu is all zeros where the file has no hole",
			 (unsigned long long)idx);
}

/* Associated data of a GCM chunk: volume UUID, file ID, chunk index (big-endian). */
static void gcm_ad(const struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		   uint8_t ad[40])
{
	memcpy(ad, c->vol->hdr.uuid, 16);
	memcpy(ad + 16, k->file_id, 16);
	for (int i = 0; i < 8; i++)
		ad[32 + i] = (uint8_t)(idx >> (56 - 8 * i));
}

/* Takes the next unused nonce from the pool. A nonce of all zeros is never used, so a stored
 * chunk is never all zeros (a hole). */
static int next_nonce(struct ecfs_crypto *c, uint8_t *out)
{
	do {
		if (c->nonce_pos + ECFS_CANARY_NONCE > NONCE_POOL) {
			int r = ecfs_random(c->nonce_pool, NONCE_POOL);

			if (r < 0)
				return r;
			c->nonce_pos = 0;
		}
		memcpy(out, c->nonce_pool + c->nonce_pos, ECFS_CANARY_NONCE);
		ecfs_wipe(c->nonce_pool + c->nonce_pos, ECFS_CANARY_NONCE);
		c->nonce_pos += ECFS_CANARY_NONCE;
	} while (all_zero(out, ECFS_CANARY_NONCE));
	return 0;
}

/* Sets up the GCM context for k and iv; the key schedule is redone only for another key. */
static int gcm_init(struct ecfs_crypto *c, const struct ecfs_file_key *k, const uint8_t *iv,
		    int enc)
{
	const uint8_t *key = NULL;

	if (!c->gcm_keyed || ecfs_memcmp_ct(c->gcm_key, k->key, 32) != 0) {
		memcpy(c->gcm_key, k->key, 32);
		c->gcm_keyed = true;
		key = k->key;
		if (EVP_CipherInit_ex2(c->gcm, c->gcm_cipher, key, iv, enc, NULL) != 1) {
			c->gcm_keyed = false;
			return -EIO;
		}
		return 0;
	}
	return EVP_CipherInit_ex2(c->gcm, NULL, NULL, iv, enc, NULL) == 1 ? 0 : -EIO;
}

/* Seals a GCM chunk under a new nonce, written to nonce; ct may be plain. */
static int gcm_seal(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		    uint8_t *nonce, const uint8_t *plain, size_t len, uint8_t *ct, uint8_t *tag)
{
	uint8_t ad[40];
	int n, ok, r = next_nonce(c, nonce);

	if (r < 0)
		return r;
	gcm_ad(c, k, idx, ad);
	pthread_mutex_lock(&c->gcm_lock);
	ok = gcm_init(c, k, nonce, 1) == 0 &&
	     EVP_EncryptUpdate(c->gcm, NULL, &n, ad, sizeof(ad)) == 1 &&
	     EVP_EncryptUpdate(c->gcm, ct, &n, plain, (int)len) == 1 &&
	     EVP_EncryptFinal_ex(c->gcm, ct + n, &n) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c->gcm, EVP_CTRL_AEAD_GET_TAG, ECFS_GCM_TAG, tag) == 1;
	pthread_mutex_unlock(&c->gcm_lock);
	return ok ? 0 : ecfs_fail(-EIO, "AES-256-GCM encryption failed");
}

static int gcm_encrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t *ct = out + ECFS_CANARY_NONCE;

	return gcm_seal(c, k, idx, out, plain, len, ct, ct + len);
}

/* Opens a GCM chunk whose nonce, ciphertext and tag may lie apart; plain may be in. */
static int gcm_open(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		    const uint8_t *nonce, const uint8_t *in, size_t len, const uint8_t *tag,
		    uint8_t *plain)
{
	uint8_t ad[40];
	int n, ok;

	gcm_ad(c, k, idx, ad);
	pthread_mutex_lock(&c->gcm_lock);
	ok = gcm_init(c, k, nonce, 0) == 0 &&
	     EVP_DecryptUpdate(c->gcm, NULL, &n, ad, sizeof(ad)) == 1 &&
	     EVP_DecryptUpdate(c->gcm, plain, &n, in, (int)len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c->gcm, EVP_CTRL_AEAD_SET_TAG, ECFS_GCM_TAG, (void *)tag) == 1 &&
	     EVP_DecryptFinal_ex(c->gcm, plain + n, &n) == 1;
	pthread_mutex_unlock(&c->gcm_lock);
	if (!ok) {
		ecfs_wipe(plain, len);
		return -EBADMSG;
	}
	return 0;
}

static int gcm_decrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *stored, size_t len, uint8_t *plain)
{
	const uint8_t *ct = stored + ECFS_CANARY_NONCE;

	return gcm_open(c, k, idx, stored, ct, len, ct + len, plain);
}

/* XTS tweak: the file ID with the chunk index (little-endian) XORed into its first 8 bytes,
 * so equal plaintext at equal offsets of two files encrypts differently. */
static void xts_tweak(const struct ecfs_file_key *k, uint64_t idx, uint8_t tweak[16])
{
	memcpy(tweak, k->file_id, 16);
	for (int i = 0; i < 8; i++)
		tweak[i] ^= (uint8_t)(idx >> (8 * i));
}

/* A final chunk shorter than one block cannot use XTS; it is XORed with a keystream block
 * E_K1(E_K2(T')) where T' is the chunk's tweak with its top bit flipped and, in format 2,
 * XORed with the file's tail nonce, fresh at every such write: two versions of a tail then
 * use different keystreams. */
static int xts_short(struct ecfs_crypto *c, const struct ecfs_file_key *k, bool enc,
		     const uint8_t tweak[16], const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t t[16], pad[16];
	int r;

	memcpy(t, tweak, 16);
	t[15] ^= 0x80;
	if (ecfs_volume_format(c->vol) >= 2) {
		const uint8_t *nonce = enc ? k->tail_next : k->tail_nonce;

		for (int i = 0; i < 16; i++)
			t[i] ^= nonce[i];
		if (enc)
			((struct ecfs_file_key *)k)->tail_used = true;
	}
	r = ecfs_xts_encrypt_tweak(c->xts, t, pad);
	if (r == 0)
		r = ecfs_xts_encrypt_block_k1(c->xts, pad, pad);
	for (size_t i = 0; r == 0 && i < len; i++)
		out[i] = in[i] ^ pad[i];
	ecfs_wipe(pad, sizeof(pad));
	return r;
}

int ecfs_chunk_encrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t tweak[16];

	if (len == 0 || len > c->vol->hdr.chunk_size)
		return -EINVAL;
	if (c->mode->authenticated)
		return gcm_encrypt(c, k, idx, plain, len, out);
	xts_tweak(k, idx, tweak);
	if (len < 16)
		return xts_short(c, k, true, tweak, plain, len, out);
	return ecfs_xts_encrypt(c->xts, tweak, plain, out, len);
}

bool ecfs_chunk_is_hole(const struct ecfs_volume *v, const uint8_t *stored, size_t stored_len)
{
	const struct ecfs_mode *m = ecfs_mode_get(v->hdr.cipher);

	/* A short XTS tail is exempt because its ciphertext may legitimately be all zeros. */
	return (m->authenticated || stored_len >= m->overhead + 16) && all_zero(stored, stored_len);
}

int ecfs_chunk_decrypt(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
		       const uint8_t *stored, size_t stored_len, uint8_t *plain)
{
	size_t len;
	uint8_t tweak[16];
	int r;

	if (stored_len <= c->mode->overhead ||
	    stored_len > c->vol->hdr.chunk_size + c->mode->overhead)
		return -EUCLEAN;
	len = stored_len - c->mode->overhead;
	/* A never-written chunk is a hole: all zeros on disk, zeros to the reader. */
	if (ecfs_chunk_is_hole(c->vol, stored, stored_len)) {
		r = hole_read(k, idx);
		if (r == 0)
			memset(plain, 0, len);
		return r < 0 ? r : (int)len;
	}
	if (c->mode->authenticated) {
		r = gcm_decrypt(c, k, idx, stored, len, plain);
	} else {
		xts_tweak(k, idx, tweak);
		r = len < 16 ? xts_short(c, k, false, tweak, stored, len, plain)
			     : ecfs_xts_decrypt(c->xts, tweak, stored, plain, len);
	}
	return r < 0 ? r : (int)len;
}

int ecfs_chunk_open_in_place(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
			     const uint8_t *meta, uint8_t *data, size_t len)
{
	int r;

	if (!c->mode->authenticated || len == 0 || len > c->vol->hdr.chunk_size)
		return -EINVAL;
	/* The nonce comes first, so a stored chunk almost always stops the check there. */
	if (all_zero(meta, c->mode->overhead) && all_zero(data, len)) {
		r = hole_read(k, idx); /* data holds the zeros already */
		return r < 0 ? r : (int)len;
	}
	r = gcm_open(c, k, idx, meta, data, len, meta + ECFS_CANARY_NONCE, data);
	return r < 0 ? r : (int)len;
}

int ecfs_chunk_seal_in_place(struct ecfs_crypto *c, const struct ecfs_file_key *k, uint64_t idx,
			     uint8_t *data, size_t len, uint8_t *meta)
{
	if (!c->mode->authenticated || len == 0 || len > c->vol->hdr.chunk_size)
		return -EINVAL;
	return gcm_seal(c, k, idx, meta, data, len, data, meta + ECFS_CANARY_NONCE);
}
