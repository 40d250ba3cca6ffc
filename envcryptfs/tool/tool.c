/* SPDX-License-Identifier: MIT */
/* tool.c - key options, unlocking with messages, and exit codes shared by every tool. */
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void (*log_hook)(int is_error, const char *line);

void ecfs_tool_set_log(void (*fn)(int is_error, const char *line))
{
	log_hook = fn;
}

static void emit(int is_error, const char *prog, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s: %s", prog, is_error ? "" : "warning: ");

	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (log_hook)
		log_hook(is_error, line);
	else
		fprintf(stderr, "%s\n", line);
}

void ecfs_tool_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(1, prog, fmt, ap);
	va_end(ap);
}

void ecfs_tool_warn(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(0, prog, fmt, ap);
	va_end(ap);
}

/* The library's errors that mean something to a user, and the exit status each gets; any
 * other error is ECFS_EXIT_ERROR (envcryptfs(8), EXIT STATUS). */
static const struct {
	int err;
	int code;
} exit_codes[] = {
    {0, ECFS_EXIT_OK},
    {-EKEYREJECTED, ECFS_EXIT_WRONG_KEY},
    {-EKEYEXPIRED, ECFS_EXIT_WRONG_KEY}, /* a TPM refused to unseal: PCRs changed, cleared */
    {-EUCLEAN, ECFS_EXIT_DAMAGED},
    {-EBADMSG, ECFS_EXIT_DAMAGED},
    {-EPROTONOSUPPORT, ECFS_EXIT_DAMAGED},
    {-ENOENT, ECFS_EXIT_DAMAGED},
    {-EINVAL, ECFS_EXIT_USAGE},
};

int ecfs_tool_exit_code(int err)
{
	for (size_t i = 0; i < ECFS_ARRAY_SIZE(exit_codes); i++)
		if (exit_codes[i].err == err)
			return exit_codes[i].code;
	return ECFS_EXIT_ERROR;
}

static int add_cred(struct ecfs_creds *c, enum ecfs_slot_type t, struct ecfs_secret *s,
		    const char *origin)
{
	if (c->n == ECFS_TOOL_MAX_CREDS) {
		ecfs_secret_free(s);
		return -E2BIG;
	}
	c->secret[c->n] = s;
	c->cred[c->n] = (struct ecfs_credential){.type = t, .secret = s, .origin = origin};
	c->n++;
	return 0;
}

int ecfs_tool_check_secret_file(const char *what, const char *path, const struct stat *st,
				const char *allow)
{
	if (!S_ISREG(st->st_mode))
		return 0; /* a pipe (<(command), /dev/stdin) or a device: no file to leave open */
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		return ecfs_fail(-EPERM,
				 "%s '%s' has mode %04o: group or others may read or change it "
				 "(chmod 600 it, or accept it with %s)",
				 what, path, (unsigned)(st->st_mode & 07777), allow);
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return ecfs_fail(-EPERM,
				 "%s '%s' belongs to user %u, not to you or root (chown it, or "
				 "accept it with %s)",
				 what, path, (unsigned)st->st_uid, allow);
	return 0;
}

static const char *allow_option(const struct ecfs_keyopts *o)
{
	return o->names && o->names->allow_open_key_file ? o->names->allow_open_key_file
							 : "--allow-open-key-file";
}

/* After reading a secret file: its mode and owner must keep it to us (unless allowed). A
 * refused secret is freed. Exit code 0, or 1 after the message. */
static int secret_file_ok(const char *prog, const struct ecfs_keyopts *o, const char *what,
			  const char *path, const struct stat *st, struct ecfs_secret **s)
{
	if (o->allow_open_key_file ||
	    ecfs_tool_check_secret_file(what, path, st, allow_option(o)) == 0)
		return 0;
	ecfs_tool_error(prog, "%s", ecfs_last_error());
	ecfs_secret_free(*s);
	*s = NULL;
	return ECFS_EXIT_ERROR;
}

/* The passphrase from a file, or else from the terminal when prompting is allowed. */
static int load_passphrase(const char *prog, const struct ecfs_keyopts *o, bool confirm,
			   const char *prompt, struct ecfs_secret **s)
{
	struct stat st;

	if (o->passphrase_file) {
		if (ecfs_secret_read_passphrase_file(o->passphrase_file, s, &st) == 0)
			return secret_file_ok(prog, o, "passphrase file", o->passphrase_file, &st,
					      s);
		ecfs_tool_error(prog, "%s", ecfs_last_error());
		return ECFS_EXIT_ERROR;
	}
	if (ecfs_secret_read_passphrase_tty(prompt, confirm, s) == 0)
		return 0;
	ecfs_tool_error(prog, "%s", ecfs_last_error());
	return ECFS_EXIT_USAGE;
}

/* An export file and its password become one credential; the password takes the place of
 * the passphrase options. */
static int load_export(const char *prog, const struct ecfs_keyopts *o, struct ecfs_creds *out)
{
	struct ecfs_secret *file, *pass;
	struct stat st;
	int r;

	if (ecfs_secret_read_file(o->export_file, 1, ECFS_EXPORT_FILE_MAX, &file, &st) < 0) {
		ecfs_tool_error(prog, "%s", ecfs_last_error());
		return ECFS_EXIT_ERROR;
	}
	r = secret_file_ok(prog, o, "export file", o->export_file, &st, &file);
	if (r != 0)
		return r;
	r = load_passphrase(prog, o, false, "Export password: ", &pass);
	if (r != 0) {
		ecfs_secret_free(file);
		return r;
	}
	r = add_cred(out, ECFS_KEY_EXPORT, file, o->export_file);
	if (r == 0) {
		out->cred[out->n - 1].password = pass;
		out->password[out->n - 1] = pass;
	} else {
		ecfs_secret_free(pass);
	}
	return r == 0 ? 0 : ECFS_EXIT_USAGE;
}

static int load_key_file(const char *prog, const struct ecfs_keyopts *o, const char *path,
			 struct ecfs_creds *out)
{
	struct ecfs_secret *s;
	struct stat st;
	int r;

	/* A key file kept as a Vault secret: no file to check. */
	if (ecfs_tool_is_vault_key(path)) {
		r = ecfs_tool_read_vault_key(prog, &o->kms, o->kms_wait, path, &s);
		if (r == 0)
			add_cred(out, ECFS_SLOT_KEYFILE, s, path);
		return r;
	}
	r = ecfs_secret_read_file(path, ECFS_KEYFILE_MIN, ECFS_KEYFILE_MAX, &s, &st);
	if (r < 0) {
		ecfs_tool_error(prog, "%s", ecfs_last_error());
		return ECFS_EXIT_ERROR;
	}
	r = secret_file_ok(prog, o, "key file", path, &st, &s);
	if (r == 0)
		add_cred(out, ECFS_SLOT_KEYFILE, s, path);
	return r;
}

/* The TPM needs nothing loaded: the credential names it and how to reach it. */
static int add_tpm2(const struct ecfs_keyopts *o, struct ecfs_creds *out)
{
	if (add_cred(out, ECFS_SLOT_TPM2, NULL, "the TPM") < 0)
		return ECFS_EXIT_USAGE;
	out->cred[out->n - 1].tpm2 = o->tpm2_ops;
	out->cred[out->n - 1].tpm2_device =
	    o->tpm2_device ? o->tpm2_device : ECFS_TPM2_DEVICE_DEFAULT;
	return 0;
}

int ecfs_tool_load_creds(const char *prog, const struct ecfs_keyopts *o, bool confirm,
			 struct ecfs_creds *out)
{
	struct ecfs_secret *s;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (o->key_file)
		r = load_key_file(prog, o, o->key_file, out);
	if (r == 0 && o->old_key_file)
		r = load_key_file(prog, o, o->old_key_file, out);
	if (r == 0 && o->export_file) {
		r = load_export(prog, o, out);
	} else if (r == 0 && (o->passphrase_file || (o->prompt && out->n == 0 && !o->kms_use &&
						     !o->pkcs11_use && !o->tpm2_use))) {
		r = load_passphrase(prog, o, confirm, "Passphrase: ", &s);
		if (r == 0)
			add_cred(out, ECFS_SLOT_PASSPHRASE, s,
				 o->passphrase_file ? o->passphrase_file
						    : "the passphrase entered");
	}
	if (r == 0 && o->pkcs11_use) {
		struct ecfs_pkcs11_cred c = {.module = o->pkcs11_module};

		r = ecfs_tool_load_pkcs11(prog, &c, o->pkcs11_pin_file, o->allow_open_key_file,
					  allow_option(o), out);
	}
	if (r == 0 && o->tpm2_use)
		r = add_tpm2(o, out);
	/* Last: local keys open the volume without waiting for a KMS that is down. */
	if (r == 0 && o->kms_use)
		r = ecfs_tool_load_kms(prog, &o->kms, out);
	if (r == 0 && out->n == 0) {
		ecfs_tool_error(prog,
				"no key given (use a key file, a passphrase file, a KMS, a "
				"PKCS#11 module, a TPM, or a terminal for a passphrase prompt)");
		r = ECFS_EXIT_USAGE;
	}
	if (r != 0)
		ecfs_tool_free_creds(out);
	return r;
}

void ecfs_tool_free_creds(struct ecfs_creds *c)
{
	for (size_t i = 0; i < c->n; i++) {
		ecfs_secret_free(c->secret[i]);
		ecfs_secret_free(c->password[i]);
		c->secret[i] = c->password[i] = NULL;
	}
	ecfs_tool_kms_ctx_free(c->kms);
	c->kms = NULL;
	memset(&c->pkcs11, 0, sizeof(c->pkcs11));
	c->n = 0;
}

int ecfs_tool_load_kms(const char *prog, const struct ecfs_kms_opts *k, struct ecfs_creds *out)
{
	if (out->kms || out->n == ECFS_TOOL_MAX_CREDS) {
		ecfs_tool_error(prog, "too many keys at once");
		return ECFS_EXIT_USAGE;
	}
	if (ecfs_tool_kms_ctx_new(k, &out->kms) < 0) {
		ecfs_tool_error(prog, "out of memory");
		return ECFS_EXIT_ERROR;
	}
	ecfs_tool_kms_credential(out->kms, &out->cred[out->n]);
	out->secret[out->n] = out->password[out->n] = NULL;
	out->n++;
	return ECFS_EXIT_OK;
}

int ecfs_tool_load_pkcs11(const char *prog, const struct ecfs_pkcs11_cred *c, const char *pin_file,
			  bool allow_open, const char *allow, struct ecfs_creds *out)
{
	struct ecfs_secret *pin;
	struct stat st;

	if (out->pkcs11.module || out->n == ECFS_TOOL_MAX_CREDS) {
		ecfs_tool_error(prog, "too many keys at once");
		return ECFS_EXIT_USAGE;
	}
	if (!pin_file) {
		ecfs_tool_error(prog, "no PIN file given for the PKCS#11 module '%s'", c->module);
		return ECFS_EXIT_USAGE;
	}
	if (ecfs_secret_read_passphrase_file(pin_file, &pin, &st) < 0) {
		ecfs_tool_error(prog, "%s", ecfs_last_error());
		return ECFS_EXIT_ERROR;
	}
	if (!allow_open && ecfs_tool_check_secret_file("PIN file", pin_file, &st, allow) < 0) {
		ecfs_tool_error(prog, "%s", ecfs_last_error());
		ecfs_secret_free(pin);
		return ECFS_EXIT_ERROR;
	}
	out->pkcs11 = *c;
	out->pkcs11.pin = pin;
	out->pkcs11.pin_origin = pin_file;
	out->pkcs11_pin_refused = false;
	out->pkcs11.pin_refused = &out->pkcs11_pin_refused;
	out->secret[out->n] = pin; /* freed with the credentials */
	out->password[out->n] = NULL;
	out->cred[out->n++] = (struct ecfs_credential){
	    .type = ECFS_SLOT_PKCS11, .origin = "a PKCS#11 token", .pkcs11 = &out->pkcs11};
	return ECFS_EXIT_OK;
}

int ecfs_tool_parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v, mul = 1;

	errno = 0;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (!strcasecmp(end, "k") || !strcasecmp(end, "kib") || !strcasecmp(end, "kb"))
		mul = 1024;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "mib") || !strcasecmp(end, "mb"))
		mul = 1024 * 1024;
	else if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

int ecfs_tool_parse_duration(const char *s, uint64_t *seconds)
{
	static const struct {
		char unit;
		uint64_t mul;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	uint64_t v, mul = 0;
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (errno || end == s || (end[0] && end[1]))
		return -EINVAL;
	if (!end[0])
		mul = 1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].unit)
			mul = units[i].mul;
	if (!mul || v == 0 || v > UINT64_MAX / mul / 1000)
		return -EINVAL;
	*seconds = v * mul;
	return 0;
}
