/* fuzz_name.c - libFuzzer target: decrypting and classifying names, decrypting symlink targets. */
#define FUZZ_NAME "fuzz_name"
#include "fuzz_volume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The first input byte picks what the rest (up to its first NUL) is:
 *   0, 1: an encoded name for ecfs_name_decrypt on an aes-256-gcm (0) or sm4-xts (1) volume;
 *         a name that decrypts must encrypt back to the same text (one encoding per name);
 *   2:    a backing-directory entry name for ecfs_name_classify and friends (long names,
 *         symlink side files);
 *   3, 4: a stored symlink target for ecfs_symlink_decrypt (3: a roomy output buffer, 4: one
 *         of the size the second input byte gives).
 * The volumes are created once under /tmp, then their DEK and UUID are pinned so that
 * seeds holding valid encodings stay valid from run to run.
 */

static struct ecfs_volume *vols[2];
static struct ecfs_crypto *cryptos[2];
static const enum ecfs_cipher vol_ciphers[2] = {ECFS_CIPHER_AES256_GCM, ECFS_CIPHER_SM4_XTS};
static const uint8_t dir_id[ECFS_DIR_ID_SIZE] = "fuzz dir id 16 b";

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (int i = 0; i < 2; i++) {
		vols[i] = pinned_volume(vol_ciphers[i]);
		if (ecfs_crypto_new(vols[i], &cryptos[i]) != 0)
			die("cannot set up the crypto context");
	}
	return 0;
}

static void fuzz_decrypt(int vi, const char *s)
{
	char *out = malloc(ECFS_NAME_MAX + 1);
	struct ecfs_disk_name dn;
	int r;

	if (!out)
		die("out of memory");
	r = ecfs_name_decrypt(cryptos[vi], dir_id, s, out);
	if (r != -EBADMSG && (r < 1 || r > ECFS_NAME_MAX))
		die("unexpected result from ecfs_name_decrypt");
	if (r > 0) {
		if (strlen(out) != (size_t)r || strchr(out, '/') || !strcmp(out, ".") ||
		    !strcmp(out, ".."))
			die("a decrypted name is not a valid name");
		if (ecfs_name_encrypt(cryptos[vi], dir_id, out, (size_t)r, &dn) != 0 ||
		    strcmp(dn.full, s) != 0)
			die("a name has a second encoding");
		if (!ecfs_name_well_formed(s))
			die("a name that decrypts is not well formed");
	}
	free(out);
}

static void fuzz_classify(const char *s)
{
	char disk[ECFS_DISK_NAME_MAX];
	enum ecfs_name_kind kind = ecfs_name_classify(s);
	bool wf = ecfs_name_well_formed(s);
	size_t pre = strlen(ECFS_LONG_PREFIX);

	switch (kind) {
	case ECFS_NAME_ENCRYPTED:
		if (!wf || strchr(s, '.'))
			die("an encrypted name that is not well formed");
		break;
	case ECFS_NAME_LONG:
	case ECFS_NAME_LONG_SIDE:
		if (strncmp(s, ECFS_LONG_PREFIX, pre) != 0 ||
		    strlen(s) != pre + 43 + (kind == ECFS_NAME_LONG_SIDE ? 5 : 0))
			die("a long name of the wrong shape");
		break;
	case ECFS_NAME_LINK_SIDE:
		if (!ecfs_link_is_ref(s) || strlen(s) != ECFS_LINK_REF_LEN)
			die("a symlink side file name of the wrong shape");
		break;
	case ECFS_NAME_RESERVED:
	case ECFS_NAME_INVALID:
		break;
	default:
		die("unknown name kind");
	}
	if (wf && strchr(s, '.'))
		die("a well-formed name with a dot");
	ecfs_name_long_hash(s, disk);
	if (ecfs_name_classify(disk) != ECFS_NAME_LONG)
		die("a long-name hash does not classify as one");
}

static void fuzz_symlink(const char *s, size_t outsz)
{
	char *out = malloc(outsz ? outsz : 1);
	int r;

	if (!out)
		die("out of memory");
	r = ecfs_symlink_decrypt(cryptos[0], s, out, outsz);
	if (r != -EBADMSG && r != -ENAMETOOLONG && r < 0)
		die("unexpected error from ecfs_symlink_decrypt");
	if (r >= 0 && ((size_t)r >= outsz || out[r] != '\0'))
		die("a symlink target overran its buffer");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 2)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
	case 1:
		fuzz_decrypt(data[0] % 5, s);
		break;
	case 2:
		fuzz_classify(s);
		break;
	case 3:
		fuzz_symlink(s, 8192);
		break;
	default:
		fuzz_symlink(s + 1, (uint8_t)s[0]);
		break;
	}
	free(s);
	return 0;
}
