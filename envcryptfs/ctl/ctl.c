/* SPDX-License-Identifier: MIT */
/* ctl.c - envcryptfsctl: the action table, help, and dispatch to one command's handler. */
#include "ctl.h"

#include <errno.h>
#include <string.h>

#define UNLOCK_NEW (CTL_O_UNLOCK | CTL_O_NEWKEY | CTL_O_ARGON2 | CTL_O_KMS)
#define INFO_KMS   (CTL_O_JSON | CTL_O_KMS | CTL_O_KMS_CHECK)

static const struct ctl_action actions[] = {
    {"info", cmd_info, "DIR [--json] [--kms-check] [KMS]",
     "show the header: UUID, label, cipher, key slots, header copies (no key needed); with a "
     "KMS token or --kms-check, whether each KMS slot's KMS answers",
     INFO_KMS, 1},
    {"slot list", cmd_slot_list, "DIR [--json] [--kms-check] [KMS]",
     "list the key slots (no key needed)", INFO_KMS, 1},
    {"slot add", cmd_slot_add, "DIR UNLOCK-KEY NEW-KEY [ARGON2] [--wait S]",
     "add a key slot opened by NEW-KEY", UNLOCK_NEW | CTL_O_KMS_NEW | CTL_O_WAIT, 1},
    {"slot remove", cmd_slot_remove, "DIR N UNLOCK-KEY [--force] [--wait S]",
     "remove key slot N (the last one only with --force)",
     CTL_O_UNLOCK | CTL_O_FORCE | CTL_O_KMS | CTL_O_WAIT, 2},
    {"rotate", cmd_rotate, "DIR [--slot N] UNLOCK-KEY [NEW-KEY] [ARGON2] [--kms-rotate] [--wait S]",
     "replace slot N's key (default: the slot UNLOCK-KEY opens), bumping its KEK generation; "
     "a KMS slot without NEW-KEY is rewrapped to its KMS key's latest version, which becomes "
     "its KEK generation (--kms-rotate: the KMS key gets a new version first)",
     UNLOCK_NEW | CTL_O_SLOT | CTL_O_KMS_ROTATE | CTL_O_WAIT, 1},
    {"check-key", cmd_check_key, "DIR UNLOCK-KEY",
     "exit 0 when the key opens the volume, 3 when it does not", CTL_O_UNLOCK | CTL_O_KMS, 1},
    {"export", cmd_export, "DIR... UNLOCK-KEY --out FILE [PASSWORD] [ARGON2]",
     "write the key of each volume DIR, sealed under one password, to the new file FILE "
     "(the unlock options open every DIR; --unlock-key-file may instead be given once per "
     "DIR, in DIR order)",
     CTL_O_UNLOCK | CTL_O_EXPORT_PASS | CTL_O_ARGON2 | CTL_O_OUT | CTL_O_KMS, -1},
    {"header-backup", cmd_header_backup, "DIR FILE",
     "copy the header in use to the new file FILE (no key needed)", 0, 2},
    {"header-restore", cmd_header_restore, "DIR FILE [--force] [--wait S]",
     "replace both header copies with the backup in FILE", CTL_O_FORCE | CTL_O_WAIT, 2},
    {"upgrade", cmd_upgrade, "DIR UNLOCK-KEY",
     "convert a format-1 volume to format 2 in place (unmounted; an interrupted run is "
     "finished by running it again)",
     CTL_O_UNLOCK | CTL_O_KMS, 1},
    {"status", cmd_status, "MOUNTPOINT [--json | --prometheus] [--timeout S]",
     "check that MOUNTPOINT answers and ask its daemon how it is doing",
     CTL_O_JSON | CTL_O_TIMEOUT | CTL_O_PROMETHEUS, 1},
};

#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

static void help(FILE *f)
{
	fprintf(f, "usage: " CTL_PROG " COMMAND ARGUMENTS [OPTIONS]\n\n"
		   "Manages the keys of an envcryptfs volume. Every key change rewraps the volume "
		   "key\nin the header; no data is re-encrypted.\n\nCommands:\n");
	for (size_t i = 0; i < NACTIONS; i++)
		fprintf(f, "  %s %s\n      %s\n", actions[i].name, actions[i].usage,
			actions[i].help);
	fprintf(
	    f, "\nUNLOCK-KEY, the key that authorizes the command (none given: the volume's "
	       "KMS, PKCS#11\nor TPM2 slot, else a passphrase prompt):\n"
	       "  --unlock-key-file FILE        a key file that opens a slot\n"
	       "  --unlock-passphrase-file FILE a passphrase (with --unlock-export: the "
	       "export's password)\n"
	       "  --unlock-export FILE          an export file (written by '" CTL_PROG " export')\n"
	       "  --unlock-pkcs11               the volume's PKCS#11 slot, through "
	       "--pkcs11-module PATH\n"
	       "                                with the PIN in --pkcs11-pin-file FILE\n"
	       "  --unlock-tpm2                 the TPM (--tpm2-device TCTI; "
	       "default " ECFS_TPM2_DEVICE_DEFAULT ")\n"
	       "NEW-KEY, exactly one:\n"
	       "  --key-file FILE               a key file (32 bytes to 64 KiB)\n"
	       "  --passphrase-file FILE        the passphrase in FILE\n"
	       "  --passphrase                  a passphrase asked twice on the terminal\n"
	       "  --kms-url URL --kms-key NAME  a Vault Transit key (a KMS slot)\n"
	       "  --pkcs11-module PATH --pkcs11-token LABEL --pkcs11-key LABEL\n"
	       "  --pkcs11-pin-file FILE        an AES key on a PKCS#11 token (a PKCS#11 "
	       "slot);\n"
	       "                                --pkcs11-create-key makes a missing key\n"
	       "  --tpm2 [--tpm2-pcrs LIST]     a key sealed by the TPM at --tpm2-device, bound "
	       "to\n                                PCRs of the SHA-256 bank (\"7\", \"0,7\")\n"
	       "PASSWORD of an export: --passphrase-file FILE or --passphrase (the default)\n"
	       "ARGON2, costs for a new passphrase slot or an export (all three or none; "
	       "default:\ncalibrated to about 1 s): --argon2-time N, --argon2-memory KIB, "
	       "--argon2-parallel N\n"
	       "KMS, for KMS slots: the KMS's authentication and TLS; for unlocking, URL, "
	       "mount and key\noverride the slot's (a KMS that moved):\n");
	ecfs_kms_opts_help(f, false);
	fprintf(f, "  --kms-rotate           rotate: give the KMS key a new version first\n"
		   "  --kms-check            info: ask each KMS slot's KMS even without a token\n"
		   "  --wait SECONDS         how long a header change waits for another one to "
		   "finish\n                         (the metadata lock; default 30)\n"
		   "  --timeout SECONDS      status: answer within this time (default 10)\n"
		   "  --prometheus           status: the Prometheus text format\n\n"
		   "Exit status: 0 success, 1 error, 2 usage, 3 wrong key (check-key: the key does "
		   "not\nopen the volume), 4 damaged or unsupported header, 5 not an envcryptfs "
		   "mount or\nthe daemon does not answer, 6 the change took effect but the header "
		   "copy could not\nbe updated, 7 status: a dead mount (its daemon is gone), 8 "
		   "status: no answer\nwithin the timeout (a hung or stopped daemon). See "
		   "envcryptfsctl(8).\n");
}

/* Matches argv[1] (and argv[2] for two-word commands such as "slot add"). */
static const struct ctl_action *find_action(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < NACTIONS; i++) {
		const char *name = actions[i].name, *sp = strchr(name, ' ');

		if (!sp && strcmp(argv[1], name) == 0) {
			*words = 1;
			return &actions[i];
		}
		if (sp && argc > 2 && strncmp(argv[1], name, (size_t)(sp - name)) == 0 &&
		    argv[1][sp - name] == '\0' && strcmp(argv[2], sp + 1) == 0) {
			*words = 2;
			return &actions[i];
		}
	}
	return NULL;
}

/* What a command printed must have reached stdout (a full disk, a closed pipe): otherwise the
 * command did not do all it says, and exits 1. */
static int finish_output(int r)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return r;
	if (r == ECFS_EXIT_OK)
		ecfs_tool_error(CTL_PROG, "cannot write to standard output: %s",
				errno ? strerror(errno) : "write error");
	return r == ECFS_EXIT_OK ? ECFS_EXIT_ERROR : r;
}

int main(int argc, char **argv)
{
	const struct ctl_action *act;
	struct ctl_args a;
	int words = 0, r;

	ecfs_harden_process();
	if (argc < 2) {
		help(stderr);
		return ECFS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		help(stdout);
		return ECFS_EXIT_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf(CTL_PROG " %s\n", ECFS_VERSION_STRING);
		return ECFS_EXIT_OK;
	}
	act = find_action(argc, argv, &words);
	if (!act) {
		ecfs_tool_error(CTL_PROG, "unknown command '%s%s%s'; see --help", argv[1],
				argc > 2 && !strcmp(argv[1], "slot") ? " " : "",
				argc > 2 && !strcmp(argv[1], "slot") ? argv[2] : "");
		return ECFS_EXIT_USAGE;
	}
	r = ctl_parse_args(act, argc - words, argv + words, &a);
	if (r < 0 && ecfs_kms_opts_load_config(CTL_PROG, &a.kms) < 0)
		r = ECFS_EXIT_ERROR;
	if (r < 0) {
		/* The file's settings reach the unlocking key too (kms_roles copied the rest). */
		memcpy(a.unlock.kms.conf, a.kms.conf, sizeof(a.kms.conf));
		a.unlock.kms.conf_path = a.kms.conf_path;
		r = act->handler(&a);
	}
	ecfs_kms_opts_free(&a.kms);
	return finish_output(r);
}
