/* SPDX-License-Identifier: MIT */
/* tool_pkcs11.c - the one table of PKCS#11 options of mkfs.envcryptfs and envcryptfsctl. */
#include "tool.h"

#include <stdio.h>

static const struct {
	const char *name;
	int has_arg;
} descs[ECFS_PKCS11_NOPTS] = {
    [ECFS_PKCS11_MODULE] = {"pkcs11-module", required_argument},
    [ECFS_PKCS11_PIN_FILE] = {"pkcs11-pin-file", required_argument},
    [ECFS_PKCS11_TOKEN] = {"pkcs11-token", required_argument},
    [ECFS_PKCS11_KEY] = {"pkcs11-key", required_argument},
    [ECFS_PKCS11_CREATE_KEY] = {"pkcs11-create-key", no_argument},
};

void ecfs_pkcs11_getopt_merge(const struct option *base, int first_val, struct option *out)
{
	size_t n = 0;

	for (; base[n].name; n++)
		out[n] = base[n];
	for (int i = 0; i < ECFS_PKCS11_NOPTS; i++)
		out[n++] = (struct option){descs[i].name, descs[i].has_arg, NULL, first_val + i};
	out[n] = (struct option){NULL, 0, NULL, 0};
}

int ecfs_pkcs11_getopt_set(const char *prog, struct ecfs_pkcs11_opts *p, int first_val, int c,
			   const char *value)
{
	int i = c - first_val;

	if (i < 0 || i >= ECFS_PKCS11_NOPTS)
		return 0;
	if (descs[i].has_arg == no_argument)
		value = "";
	else if (!value || !*value) {
		ecfs_tool_error(prog, "--%s needs a value", descs[i].name);
		return -1;
	}
	if (p->v[i]) {
		ecfs_tool_error(prog, "--%s is given twice", descs[i].name);
		return -1;
	}
	p->v[i] = value;
	return 1;
}

bool ecfs_pkcs11_new_given(const struct ecfs_pkcs11_opts *p)
{
	return p->v[ECFS_PKCS11_TOKEN] || p->v[ECFS_PKCS11_KEY] || p->v[ECFS_PKCS11_CREATE_KEY];
}

const char *ecfs_pkcs11_new_problem(const struct ecfs_pkcs11_opts *p)
{
	static const enum ecfs_pkcs11_opt needed[] = {ECFS_PKCS11_MODULE, ECFS_PKCS11_TOKEN,
						      ECFS_PKCS11_KEY, ECFS_PKCS11_PIN_FILE};
	static __thread char why[160];

	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!p->v[needed[i]]) {
			snprintf(why, sizeof(why),
				 "a PKCS#11 key slot needs --pkcs11-module, --pkcs11-token, "
				 "--pkcs11-key and --pkcs11-pin-file (--%s is missing)",
				 descs[needed[i]].name);
			return why;
		}
	return NULL;
}

struct ecfs_pkcs11_cred ecfs_pkcs11_new_cred(const struct ecfs_pkcs11_opts *p)
{
	return (struct ecfs_pkcs11_cred){.module = p->v[ECFS_PKCS11_MODULE],
					 .token = p->v[ECFS_PKCS11_TOKEN],
					 .key = p->v[ECFS_PKCS11_KEY],
					 .create_key = p->v[ECFS_PKCS11_CREATE_KEY] != NULL};
}
