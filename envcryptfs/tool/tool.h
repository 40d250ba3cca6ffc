/* SPDX-License-Identifier: MIT */
/*
 * tool.h - what the command-line tools share: key options, unlocking with messages, and the
 * documented exit codes. Only the tools use this; the library never prints.
 */
#ifndef ECFS_TOOL_H
#define ECFS_TOOL_H

#include "envcryptfs.h"

/* Exit codes shared by mkfs.envcryptfs, envcryptfs and envcryptfsctl (see their man pages). */
enum ecfs_exit {
	ECFS_EXIT_OK = 0,
	ECFS_EXIT_ERROR = 1,	 /* an operational error: I/O, memory, a system call */
	ECFS_EXIT_USAGE = 2,	 /* a bad option or argument */
	ECFS_EXIT_WRONG_KEY = 3, /* no key slot opens with the key given */
	ECFS_EXIT_DAMAGED = 4,	 /* the volume is damaged, or of an unsupported version */
	ECFS_EXIT_MOUNT = 5,	 /* mounting failed, or the volume is already mounted */
};

/* Where keys come from; each non-NULL member is tried, in this order. With export_file, the
 * passphrase (from passphrase_file or the prompt) is the export's password instead. */
struct ecfs_keyopts {
	const char *key_file;
	const char *old_key_file;
	const char *passphrase_file;
	const char *export_file;
	bool prompt; /* ask on the terminal when nothing else is given */
};

#define ECFS_TOOL_MAX_CREDS 4

struct ecfs_creds {
	struct ecfs_credential cred[ECFS_TOOL_MAX_CREDS];
	struct ecfs_secret *secret[ECFS_TOOL_MAX_CREDS];
	struct ecfs_secret *password[ECFS_TOOL_MAX_CREDS]; /* export passwords */
	size_t n;
};

/* Prints "prog: message" to stderr (or to the log hook when one is set). */
void ecfs_tool_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ecfs_tool_warn(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces stderr as the destination of errors and warnings (the daemon's syslog). */
void ecfs_tool_set_log(void (*fn)(int is_error, const char *line));

/* The exit code for a library error. */
int ecfs_tool_exit_code(int err);

/* Loads the keys named in o (reading files, or prompting; confirm asks twice). Warns about
 * key files readable by group or others. Returns an exit code. */
int ecfs_tool_load_creds(const char *prog, const struct ecfs_keyopts *o, bool confirm,
			 struct ecfs_creds *out);
void ecfs_tool_free_creds(struct ecfs_creds *c);

/* Opens the volume in dir and unlocks it with the keys in o, printing one line on failure
 * and a note when the header copy was used. Returns an exit code. */
int ecfs_tool_open_unlocked(const char *prog, const char *dir, const struct ecfs_keyopts *o,
			    struct ecfs_volume **out, int *slot);

/* Parses a size such as 4096, 64k, 64KiB, 1M; -EINVAL when malformed. */
int ecfs_tool_parse_size(const char *s, uint64_t *out);

#endif /* ECFS_TOOL_H */
