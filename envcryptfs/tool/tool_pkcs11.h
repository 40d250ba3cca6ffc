/* SPDX-License-Identifier: MIT */
/*
 * tool_pkcs11.h - the PKCS#11 options that mkfs.envcryptfs and envcryptfsctl spell alike
 * (--pkcs11-module, --pkcs11-pin-file, and for a new slot --pkcs11-token, --pkcs11-key,
 * --pkcs11-create-key), and loading a PKCS#11 credential: the module path and the PIN file
 * come from the command line or -o options only, never from a volume's header.
 */
#ifndef ECFS_TOOL_PKCS11_H
#define ECFS_TOOL_PKCS11_H

#include "envcryptfs.h"

#include <getopt.h>
#include <stdbool.h>

enum ecfs_pkcs11_opt {
	ECFS_PKCS11_MODULE,	/* --pkcs11-module PATH */
	ECFS_PKCS11_PIN_FILE,	/* --pkcs11-pin-file FILE */
	ECFS_PKCS11_TOKEN,	/* --pkcs11-token LABEL: a new slot's token */
	ECFS_PKCS11_KEY,	/* --pkcs11-key LABEL: a new slot's key */
	ECFS_PKCS11_CREATE_KEY, /* --pkcs11-create-key: make that key when it is missing */
	ECFS_PKCS11_NOPTS
};

/* The values given, indexed by enum ecfs_pkcs11_opt (NULL: not given; borrowed). */
struct ecfs_pkcs11_opts {
	const char *v[ECFS_PKCS11_NOPTS];
};

/* For getopt_long: copies base (NULL-terminated) into out and adds the --pkcs11-* options,
 * whose val is first_val + their enum ecfs_pkcs11_opt; out has room for ECFS_PKCS11_NOPTS
 * more entries. */
void ecfs_pkcs11_getopt_merge(const struct option *base, int first_val, struct option *out);
/* Takes getopt_long's answer c: 1 when it is a --pkcs11-* option, 0 when it is not, -1 after
 * reporting an empty or repeated value. */
int ecfs_pkcs11_getopt_set(const char *prog, struct ecfs_pkcs11_opts *p, int first_val, int c,
			   const char *value);
/* Whether the options ask for a new PKCS#11 slot (a token, a key or --pkcs11-create-key). */
bool ecfs_pkcs11_new_given(const struct ecfs_pkcs11_opts *p);
/* A new slot needs all of module, PIN file, token and key: NULL, or what is missing. */
const char *ecfs_pkcs11_new_problem(const struct ecfs_pkcs11_opts *p);
/* The new slot's credential the options name (its PIN not loaded). */
struct ecfs_pkcs11_cred ecfs_pkcs11_new_cred(const struct ecfs_pkcs11_opts *p);

#endif /* ECFS_TOOL_PKCS11_H */
