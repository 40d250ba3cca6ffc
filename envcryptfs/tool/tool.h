/* SPDX-License-Identifier: MIT */
/*
 * tool.h - what the command-line tools share: key options, unlocking with messages, and the
 * documented exit codes. Only the tools use this; the library never prints.
 */
#ifndef ECFS_TOOL_H
#define ECFS_TOOL_H

#include "envcryptfs.h"
#include "tool_kms.h"
#include "tool_pkcs11.h"
#include <sys/stat.h>

/* Exit codes shared by mkfs.envcryptfs, envcryptfs and envcryptfsctl (see their man pages). */
enum ecfs_exit {
	ECFS_EXIT_OK = 0,
	ECFS_EXIT_ERROR = 1,	 /* an operational error: I/O, memory, a system call */
	ECFS_EXIT_USAGE = 2,	 /* a bad option or argument */
	ECFS_EXIT_WRONG_KEY = 3, /* no key slot opens with the key given */
	ECFS_EXIT_DAMAGED = 4,	 /* the volume is damaged, or of an unsupported version */
	ECFS_EXIT_MOUNT = 5,	 /* mounting failed, or the volume is already mounted */
	/* The header change took effect, but the second header copy could not be updated. */
	ECFS_EXIT_COPY_BEHIND = 6,
};

/* What a tool does, once unlocked, about a header copy that is missing, damaged, stale or
 * fails the header MAC; each first says so in one line. */
enum ecfs_tool_header_policy {
	ECFS_TOOL_HDR_REPAIR = 0, /* rewrite both copies from the authenticated one (read-write) */
	ECFS_TOOL_HDR_REFUSE,	  /* refuse (read-only use, not allowed by an option) */
	ECFS_TOOL_HDR_WARN,	  /* go on with the authenticated copy (read-only, allowed) */
	ECFS_TOOL_HDR_LATER,	  /* nothing: the caller calls ecfs_tool_header_check itself */
};

/* Where keys come from; each non-NULL member is tried, in this order. With export_file, the
 * passphrase (from passphrase_file or the prompt) is the export's password instead. */
struct ecfs_keyopts {
	const char *key_file;
	const char *old_key_file;
	const char *passphrase_file;
	const char *export_file;
	bool prompt; /* ask on the terminal when nothing else is given */
	/* The KMS options; any of them asks for a KMS credential unless kms_only_auto (they
	 * name a new slot), and ecfs_tool_keyopts_for_volume sets kms_use. */
	struct ecfs_kms_opts kms;
	bool kms_only_auto;
	bool kms_use; /* offer a KMS credential (tried after the others) */
	/* The TPM: the tools that can talk to one give tpm2_ops. Its credential is offered when
	 * tpm2_unlock asks for it, or when no other key is given and the volume has a TPM2 slot
	 * (ecfs_tool_keyopts_for_volume sets tpm2_use). tpm2_device NULL: the default. */
	const struct ecfs_tpm2_ops *tpm2_ops;
	const char *tpm2_device;
	bool tpm2_unlock;
	bool tpm2_use;
	unsigned kms_wait; /* seconds to wait for a KMS that is down or sealed (the daemon) */
	enum ecfs_tool_header_policy header; /* after unlocking (ecfs_tool_header_check) */
	/* Key, passphrase and export files that group or others may read or write, or that
	 * another user owns, are loaded anyway (ecfs_tool_check_secret_file). */
	bool allow_open_key_file;
	/* A PKCS#11 module (and the PIN file) given locally; ecfs_tool_keyopts_for_volume sets
	 * pkcs11_use when the volume has a PKCS#11 slot. */
	const char *pkcs11_module, *pkcs11_pin_file;
	bool pkcs11_use;
	bool upgrade; /* the upgrade: a volume an interrupted upgrade marked may unlock */
	/* How the tool spells its key options: with them, a prompt that no slot could accept
	 * (the volume has no passphrase slot) is refused with the options that would open it. */
	const struct ecfs_keyopt_names *names;
};

/* One tool's spelling of its unlock options, for messages ("-o key_file=FILE"). */
struct ecfs_keyopt_names {
	const char *key_file, *kms, *export_file;
	const char *pkcs11;		 /* the module and PIN file options */
	const char *tpm2;		 /* NULL: the tool has no TPM option */
	const char *allow_open_key_file; /* NULL: "--allow-open-key-file" */
};

#define ECFS_TOOL_MAX_CREDS 4

struct ecfs_creds {
	struct ecfs_credential cred[ECFS_TOOL_MAX_CREDS];
	struct ecfs_secret *secret[ECFS_TOOL_MAX_CREDS];
	struct ecfs_secret *password[ECFS_TOOL_MAX_CREDS]; /* export passwords */
	struct ecfs_tool_kms *kms;	/* the KMS credential's context, when there is one */
	struct ecfs_pkcs11_cred pkcs11; /* the PKCS#11 credential's, when there is one */
	bool pkcs11_pin_refused;
	size_t n;
};

/* Prints "prog: message" to stderr (or to the log hook when one is set). */
void ecfs_tool_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ecfs_tool_warn(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces stderr as the destination of errors and warnings (the daemon's syslog). */
void ecfs_tool_set_log(void (*fn)(int is_error, const char *line));

/* The exit code for a library error. */
int ecfs_tool_exit_code(int err);

/* Decides whether o offers a KMS credential for volume v: when KMS options ask for one, or
 * when no other key is given and v has a KMS slot. A volume with a KMS slot is never asked a
 * passphrase for on the terminal. */
void ecfs_tool_keyopts_for_volume(struct ecfs_keyopts *o, const struct ecfs_volume *v);
/* The same for the volume in dir, read without a key; a volume that does not open changes
 * nothing (the caller reports that). */
void ecfs_tool_keyopts_for_dir(struct ecfs_keyopts *o, const char *dir);
/* Adds a KMS credential for the options k to out (a new slot's key when k names one). Exit
 * code. */
int ecfs_tool_load_kms(const char *prog, const struct ecfs_kms_opts *k, struct ecfs_creds *out);

/* Adds a PKCS#11 credential for c (module, and token and key for a new slot) to out, its PIN
 * read from pin_file, which must be kept to its owner unless allow_open (allow names the
 * option that allows it, for the message). Exit code. */
int ecfs_tool_load_pkcs11(const char *prog, const struct ecfs_pkcs11_cred *c, const char *pin_file,
			  bool allow_open, const char *allow, struct ecfs_creds *out);

/* Loads the keys named in o (reading files, or prompting; confirm asks twice). Warns about
 * key files readable by group or others. Returns an exit code. */
int ecfs_tool_load_creds(const char *prog, const struct ecfs_keyopts *o, bool confirm,
			 struct ecfs_creds *out);
void ecfs_tool_free_creds(struct ecfs_creds *c);
/* Refuses (-EPERM, with a message naming path, its mode or owner, and the option allow that
 * would accept it) a regular file that group or others may read or write, or that a user
 * other than the caller and root owns, as ssh refuses such private keys. */
int ecfs_tool_check_secret_file(const char *what, const char *path, const struct stat *st,
				const char *allow);

/* An old key file is read only when the key file does not open the volume: with both in o,
 * this tries the key file alone. 0 when it unlocked v; the exit code of a key file that could
 * not be loaded (after its message); a negative errno when it did not open v, or when o does
 * not name both (then every key is to be tried, the old key file among them). */
int ecfs_tool_unlock_key_file_alone(const char *prog, struct ecfs_volume *v,
				    const struct ecfs_keyopts *o, int *slot);

/* Opens the volume in dir and unlocks it with the keys in o, printing one line on failure;
 * then ecfs_tool_header_check with o->header. With o->kms_wait, a KMS that is down is asked
 * again with backoff until it answers or the time is up. Returns an exit code. */
int ecfs_tool_open_unlocked(const char *prog, const char *dir, const struct ecfs_keyopts *o,
			    struct ecfs_volume **out, int *slot);

/* Applies policy to the header copies of unlocked volume v: nothing to say, or one line
 * naming the copy and why, then the repair, the refusal (with the options that help) or a
 * warning. Returns an exit code. */
int ecfs_tool_header_check(const char *prog, struct ecfs_volume *v,
			   enum ecfs_tool_header_policy policy);

/* Parses a size such as 4096, 64k, 64KiB, 1M; -EINVAL when malformed. */
int ecfs_tool_parse_size(const char *s, uint64_t *out);
/* Parses a duration in seconds: 90, 30s, 10m, 12h, 7d; -EINVAL when malformed or zero. */
int ecfs_tool_parse_duration(const char *s, uint64_t *seconds);

#endif /* ECFS_TOOL_H */
