/* SPDX-License-Identifier: MIT */
/* digest.c - SHA-256, HMAC-SHA-256 and HKDF-SHA-256 (RFC 5869) through OpenSSL 3. */
#include "ecfs_util.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* OpenSSL rejects octet-string parameters whose data pointer is NULL, even for length 0. */
static const uint8_t empty_octets[1];

static void *octets(const uint8_t *p)
{
	return (void *)(p ? p : empty_octets);
}

int ecfs_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	OSSL_PARAM params[5];
	EVP_KDF_CTX *ctx;
	EVP_KDF *kdf;
	int ok;

	/* RFC 5869 caps the output at 255 hash blocks. */
	if (out_len == 0 || out_len > 255 * 32)
		return ecfs_fail(-EINVAL, "hkdf: output length %zu out of range", out_len);
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		return ecfs_fail(-EPROTONOSUPPORT, "hkdf: OpenSSL has no HKDF");
	ctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!ctx)
		return ecfs_fail(-ENOMEM, "hkdf: out of memory");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, octets(ikm), ikm_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, octets(salt), salt_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, octets(info), info_len);
	params[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(ctx, out, out_len, params);
	/* Freeing the context clears OpenSSL's copies of the key and PRK. */
	EVP_KDF_CTX_free(ctx);
	if (ok != 1) {
		ecfs_wipe(out, out_len);
		return ecfs_fail(-EIO, "hkdf: derivation failed");
	}
	return 0;
}

static int hmac_run(EVP_MAC_CTX *ctx, const uint8_t *key, size_t key_len,
		    const struct ecfs_iov *iov, size_t niov, uint8_t out[ECFS_HMAC_SIZE])
{
	OSSL_PARAM params[2];
	size_t i, n = 0;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, octets(key), key_len, params) != 1)
		return -EIO;
	for (i = 0; i < niov; i++)
		if (iov[i].len && EVP_MAC_update(ctx, iov[i].base, iov[i].len) != 1)
			return -EIO;
	if (EVP_MAC_final(ctx, out, &n, ECFS_HMAC_SIZE) != 1 || n != ECFS_HMAC_SIZE)
		return -EIO;
	return 0;
}

int ecfs_hmac_sha256(const uint8_t *key, size_t key_len, const struct ecfs_iov *iov, size_t niov,
		     uint8_t out[ECFS_HMAC_SIZE])
{
	EVP_MAC_CTX *ctx;
	EVP_MAC *mac;
	int err;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return ecfs_fail(-EPROTONOSUPPORT, "hmac: OpenSSL has no HMAC");
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!ctx)
		return ecfs_fail(-ENOMEM, "hmac: out of memory");
	err = hmac_run(ctx, key, key_len, iov, niov, out);
	/* Freeing the context clears the padded key blocks. */
	EVP_MAC_CTX_free(ctx);
	if (err) {
		ecfs_wipe(out, ECFS_HMAC_SIZE);
		return ecfs_fail(err, "hmac: computation failed");
	}
	return 0;
}

int ecfs_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return ecfs_fail(-EIO, "sha256: digest failed");
	return 0;
}
