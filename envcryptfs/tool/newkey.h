/* SPDX-License-Identifier: MIT */
/*
 * newkey.h - the options that name the keys of new slots and their Argon2id costs, spelled
 * and checked alike by mkfs.envcryptfs and envcryptfsctl (newkey.c).
 */
#ifndef ECFS_NEWKEY_H
#define ECFS_NEWKEY_H

#include "envcryptfs.h"

#include <getopt.h>

enum ecfs_newkey_opt {
	ECFS_NEWKEY_KEY_FILE,	     /* --key-file FILE */
	ECFS_NEWKEY_PASS_FILE,	     /* --passphrase-file FILE */
	ECFS_NEWKEY_PROMPT,	     /* --passphrase */
	ECFS_NEWKEY_ARGON2_TIME,     /* --argon2-time N */
	ECFS_NEWKEY_ARGON2_MEMORY,   /* --argon2-memory KIB */
	ECFS_NEWKEY_ARGON2_PARALLEL, /* --argon2-parallel N */
	ECFS_NEWKEY_WEAK_KDF,	     /* --allow-weak-kdf: costs below the floor */
	ECFS_NEWKEY_TPM2,	     /* --tpm2: a key sealed by the TPM */
	ECFS_NEWKEY_TPM2_DEVICE,     /* --tpm2-device TCTI */
	ECFS_NEWKEY_TPM2_PCRS,	     /* --tpm2-pcrs LIST */
	ECFS_NEWKEY_NOPTS
};

struct ecfs_newkey_opts {
	bool many; /* each key option may be repeated (mkfs); else a repeat is refused */
	const char *key_files[ECFS_MAX_SLOTS];
	const char *pass_files[ECFS_MAX_SLOTS];
	int nkey_files, npass_files;
	bool prompt;
	struct ecfs_argon2_params argon2; /* all zero: not given */
	bool allow_weak_kdf;		  /* costs below ECFS_ARGON2_FLOOR_* */
	bool tpm2;			  /* a TPM2 slot */
	const char *tpm2_device;	  /* NULL: ECFS_TPM2_DEVICE_DEFAULT */
	const char *tpm2_pcrs;		  /* as given; NULL: no PCR policy */
	uint32_t tpm2_pcr_mask;
};

/* out = base followed by the options, each with val first_val + its enum ecfs_newkey_opt; out
 * has room for ECFS_NEWKEY_NOPTS more entries. */
void ecfs_newkey_getopt_merge(const struct option *base, int first_val, struct option *out);
/* Takes getopt_long's answer c: 1 when it is one of these options (value borrowed), 0 when
 * it is not, -1 after reporting a bad or repeated value. */
int ecfs_newkey_getopt_set(const char *prog, struct ecfs_newkey_opts *o, int first_val, int c,
			   const char *value);
/* Whether c (from getopt_long) is an Argon2id cost option (or --allow-weak-kdf). */
bool ecfs_newkey_is_argon2(int first_val, int c);
/* How many keys the options name (a prompt counts once, --tpm2 too). */
int ecfs_newkey_count(const struct ecfs_newkey_opts *o);
/* What is wrong with the options as a whole (for the caller to print), NULL when nothing:
 * also costs over the cap, or below the floor without --allow-weak-kdf. */
const char *ecfs_newkey_problem(const struct ecfs_newkey_opts *o);
/* The credential of the TPM2 slot the options ask for (a key that needs no loading). */
void ecfs_newkey_tpm2_credential(const struct ecfs_newkey_opts *o, struct ecfs_credential *c);
/* The costs given, or NULL to calibrate. */
const struct ecfs_argon2_params *ecfs_newkey_argon2(const struct ecfs_newkey_opts *o);

#endif /* ECFS_NEWKEY_H */
