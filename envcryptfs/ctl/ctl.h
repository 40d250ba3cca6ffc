/* SPDX-License-Identifier: MIT */
/* ctl.h - envcryptfsctl's parsed command line, its commands, and the helpers they share. */
#ifndef ECFS_CTL_H
#define ECFS_CTL_H

#include "envcryptfs.h"
#include "newkey.h"
#include "tool.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_PROG "envcryptfsctl"

/* Option groups a command may accept (struct ctl_action.opts). */
enum {
	CTL_O_UNLOCK = 1u << 0, /* --unlock-key-file, --unlock-passphrase-file, --unlock-export */
	CTL_O_NEWKEY = 1u << 1, /* --key-file, --passphrase-file, --passphrase */
	CTL_O_EXPORT_PASS = 1u << 2, /* --passphrase-file, --passphrase (an export's password) */
	CTL_O_ARGON2 = 1u << 3,	     /* --argon2-time, --argon2-memory, --argon2-parallel */
	CTL_O_JSON = 1u << 4,
	CTL_O_FORCE = 1u << 5,
	CTL_O_SLOT = 1u << 6,
	CTL_O_OUT = 1u << 7,
	CTL_O_KMS = 1u << 8,	     /* --kms-url ... --kms-jwt-file (tool_kms.h) */
	CTL_O_KMS_NEW = 1u << 9,     /* --kms-url, --kms-mount, --kms-key name the new slot's key */
	CTL_O_KMS_ROTATE = 1u << 10, /* --kms-rotate; a KMS slot is rotated without a new key */
	CTL_O_KMS_CHECK = 1u << 11,  /* --kms-check */
	CTL_O_WAIT = 1u << 12,	     /* --wait SECONDS for the metadata lock */
	CTL_O_TIMEOUT = 1u << 13,    /* status: --timeout SECONDS for the whole probe */
	CTL_O_PROMETHEUS = 1u << 14, /* status: --prometheus */
};

/* The key that a new slot (or an export's password) comes from; at most one is set. */
struct ctl_newkey {
	/* --key-file, --passphrase-file, --passphrase, and the Argon2id costs (all zero: not
	 * given) */
	struct ecfs_newkey_opts keys;
	bool kms;    /* a KMS key (--kms-url, --kms-mount or --kms-key) */
	bool pkcs11; /* a key on a PKCS#11 token (--pkcs11-token, --pkcs11-key) */
	int count;   /* how many of the four were given */
};

/* The most positional arguments (export DIR...). */
#define CTL_MAX_POS ECFS_EXPORT_MAX_VOLUMES

struct ctl_args {
	const char *pos[CTL_MAX_POS]; /* positional arguments after the command name */
	int npos;
	/* A command of several DIRs takes --unlock-key-file once for all of them, or once per
	 * DIR in DIR order (then unlock.key_file is the first). */
	const char *unlock_keys[CTL_MAX_POS];
	int nunlock_keys;
	struct ecfs_keyopts unlock;
	struct ctl_newkey newkey;
	int slot; /* --slot, -1 when not given */
	const char *out;
	bool force, json, prometheus;
	struct ecfs_kms_opts kms;	/* the KMS options as given (unlock.kms may hold fewer) */
	struct ecfs_pkcs11_opts pkcs11; /* the PKCS#11 options as given */
	bool unlock_pkcs11;		/* --unlock-pkcs11: they unlock too */
	bool kms_rotate, kms_check;
	uint32_t wait;	  /* --wait: seconds to wait for the metadata lock */
	uint32_t timeout; /* status --timeout: seconds for the whole probe, 0 when not given */
};

struct ctl_action {
	const char *name; /* "info", "slot add", ... */
	int (*handler)(const struct ctl_args *a);
	const char *usage; /* what follows the name */
	const char *help;  /* one line */
	unsigned opts;	   /* CTL_O_* groups it accepts */
	int npos;	   /* positional arguments it needs; -1: one or more (DIR...) */
};

/* args.c: parses argv (argv[0] is the command name) for act. Returns -1 to go on, or an exit
 * code (after --help, or a usage error that has been reported). */
int ctl_parse_args(const struct ctl_action *act, int argc, char **argv, struct ctl_args *out);
void ctl_action_usage(FILE *f, const struct ctl_action *act);
/* Parses a slot index 0..ECFS_MAX_SLOTS-1; -1 when s is not one. */
int ctl_parse_slot(const char *s);

/* keyargs.c: the authorizing key and the new key, the same for every command. */
/* Opens and unlocks dir with the authorizing key; a header copy that disagrees is named, and
 * repaired when the command writes. Exit code. */
int ctl_open_unlocked(const struct ctl_args *a, const char *dir, bool writes,
		      struct ecfs_volume **v, int *slot);
/* Loads the new key into out->cred[0] (confirming a prompted passphrase; a KMS key from the
 * KMS options). Exit code. */
int ctl_load_new_key(const struct ctl_args *a, const char *prompt, struct ecfs_creds *out);
/* The Argon2 costs given, or NULL to let the library calibrate. */
const struct ecfs_argon2_params *ctl_argon2(const struct ctl_args *a);

/* util.c */
/* Prints "envcryptfsctl: what: why" from err and the library's last error; returns code. */
int ctl_fail(const char *what, int err, int code);
/* Writes buf to a new file (O_EXCL, mode 0600); never replaces one. Exit code. */
int ctl_write_new_file(const char *path, const void *buf, size_t len, const char *what);
/* Fails (exit 1) when path exists, before any expensive work is done for it. */
int ctl_check_absent(const char *path, const char *what);
/* Reads a whole regular file of at most max bytes. Exit code. */
int ctl_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
const char *ctl_header_state_name(enum ecfs_header_state s);
/* Opens dir without a key, warning when the header copy had to be used. Exit code. */
int ctl_open_volume(const char *dir, struct ecfs_volume **v);
/* What a header update that failed part-way did; each has one message. */
enum ctl_outcome { CTL_NOT_DONE, CTL_DONE, CTL_DONE_COPY_STALE };
void ctl_report_outcome(enum ctl_outcome o);
/* After a header update failed: says whether it took effect (the seqid on disk moved), and
 * returns which of the outcomes it was. */
enum ctl_outcome ctl_report_update_failure(const char *dir, uint64_t seqid_before);
/* Reports a failed key operation what on dir and, unless it was refused before anything was
 * written, whether it took effect. Returns the exit code. */
int ctl_update_failed(const char *what, const char *dir, uint64_t seqid_before, int err);
/* Takes the metadata lock of v's volume (waiting as --wait says) and re-reads the header under
 * it, so that the change about to be made builds on every change made before. Exit code. */
int ctl_lock_for_update(const char *what, struct ecfs_volume *v, const char *dir,
			struct ecfs_metalock **lock);
/* Whether a header update that returned err took effect: it succeeded, or reached the primary
 * copy and only the second copy failed. */
bool ctl_took_effect(const struct ecfs_volume *v, int err);
/* The exit code of a header update that returned err; says what happened when it failed or
 * only the copy was left behind (exit ECFS_EXIT_COPY_BEHIND). */
int ctl_update_result(const char *what, const struct ecfs_volume *v, const char *dir,
		      uint64_t seqid_before, int err);

/* The commands. */
int cmd_info(const struct ctl_args *a);
int cmd_slot_list(const struct ctl_args *a);
int cmd_slot_add(const struct ctl_args *a);
int cmd_slot_remove(const struct ctl_args *a);
int cmd_rotate(const struct ctl_args *a);
/* cmd_rotate_kms.c: rotate of KMS slot s without a new key: the KMS key rotated (with
 * --kms-rotate), then the slot rewrapped to its latest version. */
int ctl_rotate_kms(const struct ctl_args *a, struct ecfs_volume *v, const struct ecfs_slot_info *s);
/* cmd_info_kms.c: what the KMS of slot s says (reachability, latest key version), when a
 * token is at hand or --kms-check asks; never fails. */
void ctl_info_kms_text(const struct ctl_args *a, const struct ecfs_slot_info *s);
struct ecfs_status;
/* status_prometheus.c: st in the Prometheus text format, labelled with mnt and the UUID. */
void ctl_print_prometheus(const char *mnt, const struct ecfs_status *st);

struct json_object;
struct json_object *ctl_info_kms_json(const struct ctl_args *a, const struct ecfs_slot_info *s);
int cmd_check_key(const struct ctl_args *a);
int cmd_export(const struct ctl_args *a);
int cmd_header_backup(const struct ctl_args *a);
int cmd_header_restore(const struct ctl_args *a);
int cmd_status(const struct ctl_args *a);
int cmd_upgrade(const struct ctl_args *a);

#endif /* ECFS_CTL_H */
