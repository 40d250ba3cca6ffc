/* SPDX-License-Identifier: MIT */
/*
 * tool_kms.h - the KMS options every tool spells alike (--kms-url on a command line, kms_url=
 * under -o) and KMS credentials: the callbacks that wrap and unwrap a volume's DEK with a
 * Vault Transit key through the client in kms/ (ecfs_kms.h).
 */
#ifndef ECFS_TOOL_KMS_H
#define ECFS_TOOL_KMS_H

#include "ecfs_kms.h"
#include "envcryptfs.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* ---- options (tool_kms.c) ----------------------------------------------------------------- */

enum ecfs_kms_opt {
	ECFS_KMS_URL,
	ECFS_KMS_MOUNT,
	ECFS_KMS_KEY,
	ECFS_KMS_TOKEN_FILE,
	ECFS_KMS_NAMESPACE,
	ECFS_KMS_CACERT,
	ECFS_KMS_CERT,
	ECFS_KMS_CLIENT_KEY,
	ECFS_KMS_ROLE,
	ECFS_KMS_JWT_FILE,
	ECFS_KMS_CONFIG,  /* the configuration file to read instead of ECFS_KMS_CONFIG_FILE */
	ECFS_KMS_TIMEOUT, /* seconds, checked when given */
	ECFS_KMS_NOPTS
};

/* The root-owned file naming the KMS when no option does (see tool_kmsconf.c). */
#ifndef ECFS_KMS_CONFIG_FILE
#define ECFS_KMS_CONFIG_FILE "/etc/envcryptfs/kms.conf"
#endif

/* The values given, indexed by enum ecfs_kms_opt (NULL: not given). URL, mount and key name
 * the key of a new slot; when unlocking they name the only KMS key a credential is sent to
 * (a slot's own URL is never contacted unless it is this one). The timeout bounds each KMS
 * request; the others are authentication and TLS. A token never comes from the command
 * line: a file or $VAULT_TOKEN. conf holds what the configuration file says, used where v is
 * NULL. */
struct ecfs_kms_opts {
	const char *v[ECFS_KMS_NOPTS];
	char *owned[ECFS_KMS_NOPTS]; /* copies of -o values, freed by ecfs_kms_opts_free */
	char *conf[ECFS_KMS_NOPTS];  /* from the configuration file, freed likewise */
	char *conf_path;	     /* the file read, NULL when there was none */
};

/* For getopt_long: copies base (NULL-terminated) into out and adds the --kms-* options, whose
 * val is first_val + their enum ecfs_kms_opt; out has room for ECFS_KMS_NOPTS more entries. */
void ecfs_kms_getopt_merge(const struct option *base, int first_val, struct option *out);
/* Takes getopt_long's answer c: 1 when it is a --kms-* option (value borrowed, not copied),
 * 0 when it is not, -1 after reporting an empty or repeated value. */
int ecfs_kms_getopt_set(const char *prog, struct ecfs_kms_opts *k, int first_val, int c,
			const char *value);
/* Takes one -o option "kms_NAME=VALUE" (a copy is kept): 1 when taken, 0 when it is not a KMS
 * option, -1 after reporting an error. */
int ecfs_kms_mount_opt(const char *prog, struct ecfs_kms_opts *k, const char *opt);
/* The option "kms_NAME=VALUE" names: its index with *value set, or -1. */
int ecfs_kms_opt_lookup(const char *opt, const char **value);
/* Makes the file options absolute (owned copies), for a daemon that leaves its directory:
 * the TLS files are read at every connection. 0, or -1 after a message. */
int ecfs_kms_opts_absolute(const char *prog, struct ecfs_kms_opts *k);
void ecfs_kms_opts_free(struct ecfs_kms_opts *k);
/* Whether any KMS option was given on the command line (the configuration file
 * and the timeout aside). */
bool ecfs_kms_opts_given(const struct ecfs_kms_opts *k);
/* Option i as given, else as the configuration file says, else NULL. */
const char *ecfs_kms_opt(const struct ecfs_kms_opts *k, enum ecfs_kms_opt i);

/* ---- the configuration file (tool_kmsconf.c) ---------------------------------------------- */

/* Reads the KMS configuration file (--kms-config, else ECFS_KMS_CONFIG_FILE when it exists)
 * into k->conf. It must be a regular file owned by root and writable by no one else: it
 * decides where credentials go. 0, or -1 after a message naming the file and the cause. */
int ecfs_kms_opts_load_config(const char *prog, struct ecfs_kms_opts *k);
/* Parses configuration text ("kms_url=URL" lines, '#' comments) into conf. 0, or -EINVAL
 * with a message naming the line in err. For the fuzzer and the loader. */
int ecfs_kms_conf_parse(const char *text, size_t len, char *conf[ECFS_KMS_NOPTS], char *err,
			size_t errlen);
/* Where the configured URL comes from, for messages: "--kms-url" or the file's path. */
const char *ecfs_kms_url_origin(const struct ecfs_kms_opts *k);
/* The timeout (option, else configuration file) in milliseconds; 0 when none is set. */
int ecfs_kms_opts_timeout_ms(const struct ecfs_kms_opts *k);
/* Seconds from 1 to 600 in value (90, 30s, 2m); 0 when malformed or out of range. */
int ecfs_kms_timeout_s(const char *value);
/* Whether a KMS key is named (URL, mount or key given). */
bool ecfs_kms_target_given(const struct ecfs_kms_opts *k);
/* The key of a new slot needs a URL and a key name: 0, or -1 after saying what is missing. */
int ecfs_kms_check_target(const char *prog, const struct ecfs_kms_opts *k);
/* One help line per option: "--kms-url URL" style, or "-o kms_url=URL" when mount_style. */
void ecfs_kms_opts_help(FILE *f, bool mount_style);

/* ---- clients and credentials (tool_kmscred.c) --------------------------------------------- */

/* Whether a credential may go to the KMS of slot s: only when the configured URL (option or
 * configuration file) is the slot's, and a configured mount and key are the slot's. 0, or
 * -EINVAL (no KMS configured) or -EPERM (another one) with a message naming both. */
int ecfs_tool_kms_allowed(const struct ecfs_kms_opts *k, const struct ecfs_kms_slot *s);
/* A client for the key of slot s (NULL: the key the options name), refused as by
 * ecfs_tool_kms_allowed. quick: at most a 3 s timeout and no retries (for reports). */
int ecfs_tool_kms_new(const struct ecfs_kms_opts *k, const struct ecfs_kms_slot *s, bool quick,
		      struct ecfs_kms **out);

/* A client for KV secrets (vault: key files) at the configured URL, with its authentication
 * and TLS options; no Transit key. */
int ecfs_tool_kms_kv_new(const struct ecfs_kms_opts *k, struct ecfs_kms **out);

/* ---- key files kept as Vault secrets (tool_vault.c) --------------------------------------- */

#define ECFS_VAULT_PREFIX "vault:"

/* Whether a key file name is "vault:MOUNT/PATH[#FIELD]". */
bool ecfs_tool_is_vault_key(const char *name);
/* Reads the key file's bytes from the KV version 2 secret that spec names (field "key"
 * unless #FIELD), through the KMS the options k configure, into locked memory; a KMS that is
 * down or sealed is asked again for up to wait_s seconds (kms_wait). An exit code: 0,
 * ECFS_EXIT_USAGE (a bad name, no KMS configured, a client option refused) or
 * ECFS_EXIT_ERROR (the KMS failed or refused, no such secret or field, not base64, not the
 * length of a key file), after one line naming the secret and the cause. */
int ecfs_tool_read_vault_key(const char *prog, const struct ecfs_kms_opts *k, unsigned wait_s,
			     const char *spec, struct ecfs_secret **out);

/* Errors a KMS that is down or starting gives: waiting may help (kms_wait). */
bool ecfs_tool_kms_retryable(int err);
/* The KMS no longer has the key, or refuses to use it: only an export file helps then. */
bool ecfs_tool_kms_key_gone(int err);
/* A short phrase for a KMS error ("connection refused"), or NULL when the client's own
 * message says it best. */
const char *ecfs_tool_kms_cause(int err);

/* What a KMS credential's callbacks need: the options, and the last failure for messages. */
struct ecfs_tool_kms;

int ecfs_tool_kms_ctx_new(const struct ecfs_kms_opts *k, struct ecfs_tool_kms **out);
void ecfs_tool_kms_ctx_free(struct ecfs_tool_kms *c);
/* Makes cred an ECFS_SLOT_KMS credential using c; for a new slot, its target is the key the
 * options name. */
void ecfs_tool_kms_credential(struct ecfs_tool_kms *c, struct ecfs_credential *cred);
/* The error of the last KMS request made through c that failed (0: none), and a one-line
 * message naming the URL, the key and the cause. */
int ecfs_tool_kms_last(const struct ecfs_tool_kms *c, const char **msg);
/* Forgets failures, so that the next unlock asks the KMS again. */
void ecfs_tool_kms_reset(struct ecfs_tool_kms *c);

#endif /* ECFS_TOOL_KMS_H */
