/* SPDX-License-Identifier: MIT */
/* keyargs.c - the key that authorizes a command and the new key it installs, alike for all. */
#include "ctl.h"

#include <string.h>

int ctl_open_unlocked(const struct ctl_args *a, const char *dir, bool writes,
		      struct ecfs_volume **v, int *slot)
{
	struct ecfs_keyopts k = a->unlock;

	/* A command that only reads (check-key, export) reports a header copy that disagrees
	 * and leaves it: a check must not change what it checks. */
	k.header = writes ? ECFS_TOOL_HDR_REPAIR : ECFS_TOOL_HDR_WARN;
	return ecfs_tool_open_unlocked(CTL_PROG, dir, &k, v, slot);
}

/* A passphrase typed twice; the prompt says which key it is, since the authorizing key may
 * have been asked for just before. */
static int prompt_new(const char *prompt, struct ecfs_creds *out)
{
	struct ecfs_secret *s;

	if (ecfs_secret_read_passphrase_tty(prompt, true, &s) < 0) {
		ecfs_tool_error(CTL_PROG, "%s", ecfs_last_error());
		return ECFS_EXIT_USAGE;
	}
	out->secret[0] = s;
	out->cred[0] = (struct ecfs_credential){
	    .type = ECFS_SLOT_PASSPHRASE, .secret = s, .origin = "the new passphrase"};
	out->n = 1;
	return ECFS_EXIT_OK;
}

int ctl_load_new_key(const struct ctl_args *a, const char *prompt, struct ecfs_creds *out)
{
	const struct ecfs_newkey_opts *n = &a->newkey.keys;
	struct ecfs_keyopts k = {.key_file = n->nkey_files ? n->key_files[0] : NULL,
				 .passphrase_file = n->npass_files ? n->pass_files[0] : NULL,
				 .allow_open_key_file = a->unlock.allow_open_key_file,
				 .kms = a->kms}; /* for a key file kept in Vault */

	memset(out, 0, sizeof(*out));
	if (a->newkey.kms)
		return ecfs_tool_load_kms(CTL_PROG, &a->kms, out);
	if (a->newkey.pkcs11) {
		struct ecfs_pkcs11_cred c = ecfs_pkcs11_new_cred(&a->pkcs11);

		return ecfs_tool_load_pkcs11(CTL_PROG, &c, a->pkcs11.v[ECFS_PKCS11_PIN_FILE],
					     a->unlock.allow_open_key_file, "--allow-open-key-file",
					     out);
	}
	if (n->tpm2) {
		ecfs_newkey_tpm2_credential(n, &out->cred[0]);
		out->n = 1;
		return ECFS_EXIT_OK;
	}
	if (k.key_file || k.passphrase_file)
		return ecfs_tool_load_creds(CTL_PROG, &k, true, out);
	return prompt_new(prompt, out);
}

const struct ecfs_argon2_params *ctl_argon2(const struct ctl_args *a)
{
	return ecfs_newkey_argon2(&a->newkey.keys);
}
