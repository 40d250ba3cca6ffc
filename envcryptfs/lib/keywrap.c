/* SPDX-License-Identifier: MIT */
/* keywrap.c - AES key wrap (RFC 3394) through OpenSSL's AES-xxx-WRAP ciphers. */
#include "internal.h"

#include <limits.h>
#include <openssl/evp.h>

static const char *wrap_name(size_t kek_len)
{
	switch (kek_len) {
	case 16:
		return "AES-128-WRAP";
	case 24:
		return "AES-192-WRAP";
	case 32:
		return "AES-256-WRAP";
	}
	return NULL;
}

/* One pass of the wrap cipher; returns the output length or a negative errno. */
static int wrap_run(const char *name, int enc, const uint8_t *kek, const uint8_t *in, size_t in_len,
		    uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	EVP_CIPHER *c;
	int n = -1, fin = 0, ret = -EIO;

	c = EVP_CIPHER_fetch(NULL, name, NULL);
	if (!c)
		return -EPROTONOSUPPORT;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	/* Only legacy EVP_CIPHERs check this flag, but it costs nothing to be explicit. */
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex2(ctx, c, kek, NULL, enc, NULL) != 1)
		goto out;
	/* A failed integrity check shows up here (unwrap is a single update). */
	if (EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1 || n < 0)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1)
		goto out;
	ret = n + fin;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
	return ret;
}

int ecfs_keywrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
	const char *name = wrap_name(kek_len);
	int n;

	if (!name)
		return ecfs_fail(-EINVAL, "keywrap: bad KEK length %zu", kek_len);
	/* RFC 3394 needs at least two 64-bit blocks. */
	if (in_len < 16 || in_len % 8 || in_len > INT_MAX - 8)
		return ecfs_fail(-EINVAL, "keywrap: bad key length %zu", in_len);
	n = wrap_run(name, 1, kek, in, in_len, out);
	if (n != (int)in_len + 8) {
		ecfs_wipe(out, in_len + 8);
		return ecfs_fail(n < 0 ? n : -EIO, "keywrap: wrapping failed");
	}
	return 0;
}

int ecfs_keyunwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
		   uint8_t *out)
{
	const char *name = wrap_name(kek_len);
	int n;

	if (!name)
		return ecfs_fail(-EINVAL, "keyunwrap: bad KEK length %zu", kek_len);
	if (in_len < 24 || in_len % 8 || in_len > INT_MAX)
		return ecfs_fail(-EINVAL, "keyunwrap: bad wrapped key length %zu", in_len);
	n = wrap_run(name, 0, kek, in, in_len, out);
	if (n == (int)in_len - 8)
		return 0;
	/* OpenSSL may have written unverified plaintext before checking the IV. */
	ecfs_wipe(out, in_len - 8);
	if (n == -EPROTONOSUPPORT || n == -ENOMEM)
		return ecfs_fail(n, "keyunwrap: cannot set up AES key wrap");
	return ecfs_fail(-EBADMSG, "keyunwrap: integrity check failed");
}
