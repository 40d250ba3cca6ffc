/* SPDX-License-Identifier: MIT */
/* newkey.c - the new-key and Argon2id cost options of mkfs.envcryptfs and envcryptfsctl. */
#include "newkey.h"
#include "tool.h"

#include <stddef.h>
#include <stdio.h>

/* Each option: its name, whether it takes a value, and for a cost, what it sets and its
 * limits (the library's, so that a tool accepts exactly what a header may hold). */
static const struct newkey_desc {
	const char *name;
	int has_arg;
	const char *what;
	size_t cost; /* offset in struct ecfs_argon2_params */
	uint32_t min, max;
} descs[ECFS_NEWKEY_NOPTS] = {
    [ECFS_NEWKEY_KEY_FILE] = {"key-file", required_argument, NULL, 0, 0, 0},
    [ECFS_NEWKEY_PASS_FILE] = {"passphrase-file", required_argument, NULL, 0, 0, 0},
    [ECFS_NEWKEY_PROMPT] = {"passphrase", no_argument, NULL, 0, 0, 0},
    [ECFS_NEWKEY_ARGON2_TIME] = {"argon2-time", required_argument, "Argon2 time cost",
				 offsetof(struct ecfs_argon2_params, t_cost), ECFS_ARGON2_TIME_MIN,
				 ECFS_ARGON2_TIME_MAX},
    [ECFS_NEWKEY_ARGON2_MEMORY] = {"argon2-memory", required_argument, "Argon2 memory (KiB)",
				   offsetof(struct ecfs_argon2_params, m_cost_kib),
				   ECFS_ARGON2_MEMORY_MIN_KIB, ECFS_ARGON2_MEMORY_MAX_KIB},
    [ECFS_NEWKEY_ARGON2_PARALLEL] = {"argon2-parallel", required_argument, "Argon2 parallelism",
				     offsetof(struct ecfs_argon2_params, parallelism),
				     ECFS_ARGON2_PARALLEL_MIN, ECFS_ARGON2_PARALLEL_MAX},
    [ECFS_NEWKEY_WEAK_KDF] = {"allow-weak-kdf", no_argument, NULL, 0, 0, 0},
    [ECFS_NEWKEY_TPM2] = {"tpm2", no_argument, NULL, 0, 0, 0},
    [ECFS_NEWKEY_TPM2_DEVICE] = {"tpm2-device", required_argument, NULL, 0, 0, 0},
    [ECFS_NEWKEY_TPM2_PCRS] = {"tpm2-pcrs", required_argument, NULL, 0, 0, 0},
};

void ecfs_newkey_getopt_merge(const struct option *base, int first_val, struct option *out)
{
	size_t n = 0;

	for (; base[n].name; n++)
		out[n] = base[n];
	for (int i = 0; i < ECFS_NEWKEY_NOPTS; i++)
		out[n++] = (struct option){descs[i].name, descs[i].has_arg, NULL, first_val + i};
	out[n] = (struct option){NULL, 0, NULL, 0};
}

bool ecfs_newkey_is_argon2(int first_val, int c)
{
	return c >= first_val + ECFS_NEWKEY_ARGON2_TIME && c <= first_val + ECFS_NEWKEY_WEAK_KDF;
}

static int set_cost(const char *prog, const struct newkey_desc *d, struct ecfs_argon2_params *a,
		    const char *value)
{
	uint64_t v;

	if (ecfs_tool_parse_size(value, &v) < 0 || v < d->min || v > d->max) {
		ecfs_tool_error(prog, "%s '%s' must be a number from %u to %u", d->what, value,
				d->min, d->max);
		return -1;
	}
	*(uint32_t *)((char *)a + d->cost) = (uint32_t)v;
	return 1;
}

static int add_file(const char *prog, const struct ecfs_newkey_opts *o, const char **list, int *n,
		    const char *name, const char *path)
{
	if (*n > 0 && !o->many) {
		ecfs_tool_error(prog, "--%s is given twice", name);
		return -1;
	}
	if (*n >= ECFS_MAX_SLOTS) {
		ecfs_tool_error(prog, "at most %d keys of one kind", ECFS_MAX_SLOTS);
		return -1;
	}
	list[(*n)++] = path;
	return 1;
}

static int set_pcrs(const char *prog, struct ecfs_newkey_opts *o, const char *value)
{
	if (ecfs_tpm2_parse_pcrs(value, &o->tpm2_pcr_mask) < 0) {
		ecfs_tool_error(prog,
				"--tpm2-pcrs '%s' is not a list of PCRs 0 to 23 (\"7\", "
				"\"0,7\", \"0-3,7\")",
				value);
		return -1;
	}
	o->tpm2_pcrs = value;
	return 1;
}

int ecfs_newkey_getopt_set(const char *prog, struct ecfs_newkey_opts *o, int first_val, int c,
			   const char *value)
{
	int i = c - first_val;

	if (i < 0 || i >= ECFS_NEWKEY_NOPTS)
		return 0;
	switch (i) {
	case ECFS_NEWKEY_KEY_FILE:
		return add_file(prog, o, o->key_files, &o->nkey_files, descs[i].name, value);
	case ECFS_NEWKEY_PASS_FILE:
		return add_file(prog, o, o->pass_files, &o->npass_files, descs[i].name, value);
	case ECFS_NEWKEY_PROMPT:
		o->prompt = true;
		return 1;
	case ECFS_NEWKEY_WEAK_KDF:
		o->allow_weak_kdf = true;
		return 1;
	case ECFS_NEWKEY_TPM2:
		if (o->tpm2) {
			ecfs_tool_error(prog, "--tpm2 is given twice");
			return -1;
		}
		o->tpm2 = true;
		return 1;
	case ECFS_NEWKEY_TPM2_DEVICE:
		o->tpm2_device = value;
		return 1;
	case ECFS_NEWKEY_TPM2_PCRS:
		return set_pcrs(prog, o, value);
	default:
		return set_cost(prog, &descs[i], &o->argon2, value);
	}
}

int ecfs_newkey_count(const struct ecfs_newkey_opts *o)
{
	return o->nkey_files + o->npass_files + o->prompt + o->tpm2;
}

void ecfs_newkey_tpm2_credential(const struct ecfs_newkey_opts *o, struct ecfs_credential *c)
{
	*c = (struct ecfs_credential){
	    .type = ECFS_SLOT_TPM2,
	    .origin = "the TPM",
	    .tpm2 = &ecfs_tpm2_esys,
	    .tpm2_device = o->tpm2_device ? o->tpm2_device : ECFS_TPM2_DEVICE_DEFAULT,
	    .tpm2_pcrs = o->tpm2_pcr_mask,
	};
}

const char *ecfs_newkey_problem(const struct ecfs_newkey_opts *o)
{
	static __thread char why[400];
	const struct ecfs_argon2_params *a = &o->argon2;

	if ((a->t_cost || a->m_cost_kib || a->parallelism) &&
	    !(a->t_cost && a->m_cost_kib && a->parallelism))
		return "give all three Argon2 costs or none";
	if (o->tpm2_pcrs && !o->tpm2)
		return "--tpm2-pcrs binds a new TPM2 slot: give --tpm2 too";
	if (!a->t_cost)
		return NULL;
	/* Over the cap, no slot made here would open; below the floor, a guessed passphrase
	 * is cheap to try. */
	if (ecfs_argon2_check_cap(a) < 0)
		snprintf(why, sizeof(why), "the Argon2 costs given: %s", ecfs_last_error());
	else if (!o->allow_weak_kdf && ecfs_argon2_check_floor(a) < 0)
		snprintf(why, sizeof(why), "%s (--allow-weak-kdf accepts a weaker cost)",
			 ecfs_last_error());
	else
		return NULL;
	return why;
}

const struct ecfs_argon2_params *ecfs_newkey_argon2(const struct ecfs_newkey_opts *o)
{
	return o->argon2.t_cost ? &o->argon2 : NULL;
}
