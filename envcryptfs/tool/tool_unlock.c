/* SPDX-License-Identifier: MIT */
/* tool_unlock.c - unlocking a volume for a tool: which keys to offer (a KMS slot needs no key
 * option), waiting for a KMS that is down, and the message when nothing opens it. */
#include "tool.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

/* kms_wait: 1 s doubling to 30 s between attempts. */
#define WAIT_FIRST_S 1
#define WAIT_MAX_S   30

static bool has_slot(const struct ecfs_volume *v, enum ecfs_slot_type type)
{
	struct ecfs_volume_info info;

	ecfs_volume_get_info(v, &info);
	for (int i = 0; i < info.nslots; i++)
		if (info.slots[i].type == type)
			return true;
	return false;
}

static bool has_kms_slot(const struct ecfs_volume *v)
{
	return has_slot(v, ECFS_SLOT_KMS);
}

/* Nothing but a prompt would be tried, and no slot takes a passphrase: instead of asking for
 * one that cannot work, names the options that can. Returns an exit code, or -1 to go on. */
static int refuse_useless_prompt(const char *prog, const char *dir, const struct ecfs_keyopts *o,
				 const struct ecfs_volume *v)
{
	const struct ecfs_keyopt_names *n = o->names;
	bool other =
	    o->key_file || o->old_key_file || o->passphrase_file || o->export_file || o->pkcs11_use;
	char opts[512];
	int len = 0;

	if (!n || !o->prompt || other || o->kms_use || o->tpm2_use ||
	    has_slot(v, ECFS_SLOT_PASSPHRASE))
		return -1;
	if (has_slot(v, ECFS_SLOT_KEYFILE))
		len += snprintf(opts + len, sizeof(opts) - (size_t)len, "%s (its key-file slot), ",
				n->key_file);
	if (has_slot(v, ECFS_SLOT_KMS))
		len +=
		    snprintf(opts + len, sizeof(opts) - (size_t)len, "%s (its KMS slot), ", n->kms);
	if (has_slot(v, ECFS_SLOT_PKCS11) && n->pkcs11)
		len += snprintf(opts + len, sizeof(opts) - (size_t)len, "%s (its PKCS#11 slot), ",
				n->pkcs11);
	if (has_slot(v, ECFS_SLOT_TPM2) && n->tpm2)
		len += snprintf(opts + len, sizeof(opts) - (size_t)len, "%s (its TPM2 slot), ",
				n->tpm2);
	snprintf(opts + len, sizeof(opts) - (size_t)len, "or %s (an export file)", n->export_file);
	ecfs_tool_error(prog,
			"'%s' has no passphrase slot, so a passphrase cannot open it; give %s", dir,
			opts);
	return ECFS_EXIT_USAGE;
}

void ecfs_tool_keyopts_for_volume(struct ecfs_keyopts *o, const struct ecfs_volume *v)
{
	bool other, has_kms = has_kms_slot(v);
	bool has_tpm2 = o->tpm2_ops && has_slot(v, ECFS_SLOT_TPM2);

	/* The module is local configuration; the volume says whether there is a slot for it. A
	 * token unlocks without a terminal too, so it asks for no passphrase either. */
	o->pkcs11_use = o->pkcs11_module && has_slot(v, ECFS_SLOT_PKCS11);
	if (o->pkcs11_use && !o->export_file)
		o->prompt = false;
	other =
	    o->key_file || o->old_key_file || o->passphrase_file || o->export_file || o->pkcs11_use;
	o->kms_use = (!o->kms_only_auto && ecfs_kms_opts_given(&o->kms)) || (!other && has_kms);
	o->tpm2_use = o->tpm2_ops && (o->tpm2_unlock || (!other && has_tpm2));
	/* A KMS or TPM2 slot unlocks without anyone at a terminal: a prompt would only hold up
	 * a boot or a sidecar when the KMS or TPM fails. An export's password is still asked
	 * for. */
	if ((has_kms || has_tpm2) && !o->export_file)
		o->prompt = false;
}

void ecfs_tool_keyopts_for_dir(struct ecfs_keyopts *o, const char *dir)
{
	struct ecfs_volume *v;

	if (ecfs_volume_open(dir, &v) < 0)
		return;
	ecfs_tool_keyopts_for_volume(o, v);
	ecfs_volume_close(v);
}

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* The KMS's own line when a KMS request is why r failed, else NULL. */
static const char *kms_failure(const struct ecfs_creds *c, int r)
{
	const char *msg;

	return c->kms && r < 0 && ecfs_tool_kms_last(c->kms, &msg) == r ? msg : NULL;
}

/* Unlocks, asking a KMS that is down again until wait_s seconds have passed. */
static int unlock_waiting(const char *prog, struct ecfs_volume *v, struct ecfs_creds *c,
			  unsigned wait_s, int *slot)
{
	int64_t deadline = now_s() + wait_s, left;
	unsigned delay = WAIT_FIRST_S, d;
	const char *msg;
	int r;

	for (;;) {
		r = ecfs_volume_unlock(v, c->cred, c->n, slot);
		msg = kms_failure(c, r);
		left = deadline - now_s();
		if (!msg || !ecfs_tool_kms_retryable(r) || left <= 0)
			break;
		d = (int64_t)delay < left ? delay : (unsigned)left;
		ecfs_tool_warn(prog, "%s; asking again in %u s (kms_wait: %lld s left)", msg, d,
			       (long long)left);
		sleep(d);
		delay = delay * 2 > WAIT_MAX_S ? WAIT_MAX_S : delay * 2;
		ecfs_tool_kms_reset(c->kms);
	}
	if (msg && wait_s && ecfs_tool_kms_retryable(r))
		ecfs_tool_warn(prog, "the KMS did not come back within kms_wait=%u s", wait_s);
	return r;
}

static void report_failure(const char *prog, const struct ecfs_creds *c, int r)
{
	const char *msg = kms_failure(c, r);

	ecfs_tool_error(prog, "%s", msg ? msg : ecfs_last_error());
	if (msg && ecfs_tool_kms_key_gone(r))
		ecfs_tool_error(prog, "the KMS no longer unwraps this volume's key: an export file "
				      "made earlier with 'envcryptfsctl export' recovers it (mount "
				      "-o key_export=FILE,passphrase_file=P, or --unlock-export "
				      "FILE)");
}

/* Loads the keys of o and unlocks v with them: 0, a negative errno after its message, or the
 * exit code of a key that could not be loaded (after its message). */
static int unlock_with(const char *prog, struct ecfs_volume *v, const struct ecfs_keyopts *o,
		       int *slot)
{
	struct ecfs_creds creds;
	int r = ecfs_tool_load_creds(prog, o, false, &creds);

	if (r != 0)
		return r;
	r = unlock_waiting(prog, v, &creds, o->kms_wait, slot);
	if (r < 0)
		report_failure(prog, &creds, r);
	ecfs_tool_free_creds(&creds);
	return r;
}

int ecfs_tool_unlock_key_file_alone(const char *prog, struct ecfs_volume *v,
				    const struct ecfs_keyopts *o, int *slot)
{
	struct ecfs_keyopts first = {.key_file = o->key_file,
				     .kms = o->kms, /* for a key file kept in Vault */
				     .kms_wait = o->kms_wait,
				     .allow_open_key_file = o->allow_open_key_file,
				     .names = o->names};
	struct ecfs_creds creds;
	int r;

	if (!o->key_file || !o->old_key_file)
		return -ENOKEY;
	r = ecfs_tool_load_creds(prog, &first, false, &creds);
	if (r != 0)
		return r;
	r = ecfs_volume_unlock(v, creds.cred, creds.n, slot);
	ecfs_tool_free_creds(&creds);
	return r;
}

/* The key file alone first, so that the old key file of a finished rotation need not exist;
 * then every other key. The key file is read once (a Vault secret is fetched once). */
static int unlock_key_first(const char *prog, struct ecfs_volume *v, const struct ecfs_keyopts *o,
			    int *slot)
{
	struct ecfs_keyopts rest = *o;
	int r = ecfs_tool_unlock_key_file_alone(prog, v, o, slot);

	if (r >= 0)
		return r;
	if (o->key_file && o->old_key_file)
		rest.key_file = NULL; /* tried alone, and it did not open v */
	return unlock_with(prog, v, &rest, slot);
}

int ecfs_tool_open_unlocked(const char *prog, const char *dir, const struct ecfs_keyopts *o,
			    struct ecfs_volume **out, int *slot)
{
	struct ecfs_keyopts k = *o;
	struct ecfs_volume *v;
	int r = ecfs_volume_open(dir, &v);

	if (r < 0) {
		ecfs_tool_error(prog, "%s", ecfs_last_error());
		return ecfs_tool_exit_code(r);
	}
	ecfs_tool_keyopts_for_volume(&k, v);
	if (o->upgrade)
		ecfs_volume_allow_upgrading(v);
	r = refuse_useless_prompt(prog, dir, &k, v);
	if (r < 0)
		r = unlock_key_first(prog, v, &k, slot);
	if (r != 0) {
		ecfs_volume_close(v);
		return r > 0 ? r : ecfs_tool_exit_code(r);
	}
	r = ecfs_tool_header_check(prog, v, o->header);
	if (r != ECFS_EXIT_OK) {
		ecfs_volume_close(v);
		return r;
	}
	*out = v;
	return ECFS_EXIT_OK;
}
