/* SPDX-License-Identifier: MIT */
/* fsck.c - fsck.envcryptfs: options, signals, the order of the passes and the exit code. */
#include "fsck.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Two workers keep a disk busy while one of them decrypts; more rarely helps, as reading,
 * not AES-GCM, is the limit. */
#define BLOB_WORKERS 2

volatile sig_atomic_t fsck_cancelled;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-n | -y | -p] [-f] [-v] [--json] [KEY OPTIONS] DIR\n"
		"  -n                     check only; open everything read-only\n"
		"  -p, -a                 repair what is safe without asking\n"
		"  -y                     repair everything, dropping unreadable bytes if needed\n"
		"                         (none of the three: ask on the terminal, or act as -n)\n"
		"  -f, --force            force a full check (every check is full)\n"
		"  -v, --verbose          list each file and directory checked\n"
		"  --json                 print a machine-readable report on stdout\n"
		"  --key-file FILE        unlock with this key file\n"
		"  --old-key-file FILE    also try this key file\n"
		"  --passphrase-file FILE unlock with the passphrase in FILE\n"
		"  --export-file FILE     unlock with an export file (its password as passphrase)\n"
		"  --pkcs11-module PATH   unlock the PKCS#11 slot through this module\n"
		"  --pkcs11-pin-file FILE with the token's user PIN in FILE\n"
		"  --no-key               check without a key, even on a terminal\n"
		"  --allow-open-key-file  accept key files that group or others may read or\n"
		"                         write, or that another user owns\n"
		"  -V, --version, -h, --help\n"
		"exit codes: 0 clean, 1 errors corrected, 4 errors left, 8 operational error,\n"
		"16 usage error, 32 cancelled (added together when several apply)\n",
		PROG);
	fprintf(f, "KMS options (a volume with a KMS slot and no other key option unlocks with "
		   "it):\n");
	ecfs_kms_opts_help(f, false);
}

enum {
	OPT_JSON = 256,
	OPT_KEYFILE,
	OPT_OLDKEY,
	OPT_PASSFILE,
	OPT_EXPORT,
	OPT_NOKEY,
	OPT_OPEN_KEY,
	OPT_P11_MODULE,
	OPT_P11_PIN,
	OPT_KMS
};

static const struct option long_opts[] = {
    {"force", no_argument, NULL, 'f'},
    {"verbose", no_argument, NULL, 'v'},
    {"json", no_argument, NULL, OPT_JSON},
    {"key-file", required_argument, NULL, OPT_KEYFILE},
    {"old-key-file", required_argument, NULL, OPT_OLDKEY},
    {"passphrase-file", required_argument, NULL, OPT_PASSFILE},
    {"export-file", required_argument, NULL, OPT_EXPORT},
    {"no-key", no_argument, NULL, OPT_NOKEY},
    {"pkcs11-module", required_argument, NULL, OPT_P11_MODULE},
    {"pkcs11-pin-file", required_argument, NULL, OPT_P11_PIN},
    {"allow-open-key-file", no_argument, NULL, OPT_OPEN_KEY},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int set_mode(struct fsck_opts *o, enum fsck_mode m, bool *given)
{
	if (*given && o->mode != m) {
		ecfs_tool_error(PROG, "only one of -n, -p and -y may be given");
		return -1;
	}
	*given = true;
	o->mode = m;
	return 0;
}

static int parse_one(struct fsck_opts *o, int c, bool *mode_given)
{
	switch (c) {
	case 'n':
		o->explicit_n = true;
		return set_mode(o, MODE_NO, mode_given);
	case 'p':
	case 'a':
		return set_mode(o, MODE_PREEN, mode_given);
	case 'y':
		return set_mode(o, MODE_YES, mode_given);
	case 'f':
		o->force = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_KEYFILE:
		o->keys.key_file = optarg;
		return 0;
	case OPT_OLDKEY:
		o->keys.old_key_file = optarg;
		return 0;
	case OPT_PASSFILE:
		o->keys.passphrase_file = optarg;
		return 0;
	case OPT_EXPORT:
		o->keys.export_file = optarg;
		return 0;
	case OPT_NOKEY:
		o->no_key = true;
		return 0;
	case OPT_P11_MODULE:
		o->keys.pkcs11_module = optarg;
		return 0;
	case OPT_P11_PIN:
		o->keys.pkcs11_pin_file = optarg;
		return 0;
	case OPT_OPEN_KEY:
		o->keys.allow_open_key_file = true;
		return 0;
	default:
		return ecfs_kms_getopt_set(PROG, &o->keys.kms, OPT_KMS, c, optarg) > 0 ? 0 : -1;
	}
}

static bool key_given(const struct ecfs_keyopts *k)
{
	return k->key_file || k->old_key_file || k->passphrase_file || k->export_file ||
	       k->pkcs11_module || ecfs_kms_opts_given(&k->kms);
}

/* Whether to unlock, and with what: a KMS slot unlocks with no key option, and then nothing
 * is prompted for. keys.prompt also tells volume_open_unlock that a key is wanted; with a
 * KMS credential loaded the tool never prompts. */
static void choose_keys(struct fsck_opts *o)
{
	o->keys.prompt = !o->no_key && !key_given(&o->keys) && isatty(STDIN_FILENO);
	if (o->no_key)
		return;
	ecfs_tool_keyopts_for_dir(&o->keys, o->dir);
	o->keys.prompt = o->keys.prompt || o->keys.kms_use || o->keys.pkcs11_use;
}

/* Returns 0 to go on, 1 after --help or --version, -1 on a usage error. */
static int parse_args(int argc, char **argv, struct fsck_opts *o)
{
	struct option opts[sizeof(long_opts) / sizeof(long_opts[0]) + ECFS_KMS_NOPTS];
	bool mode_given = false;
	int c;

	ecfs_kms_getopt_merge(long_opts, OPT_KMS, opts);
	while ((c = getopt_long(argc, argv, "nypafvVh", opts, NULL)) != -1) {
		if (c == 'h' || c == 'V') {
			if (c == 'h')
				usage(stdout);
			else
				printf("%s %s\n", PROG, ECFS_VERSION_STRING);
			return 1;
		}
		if (parse_one(o, c, &mode_given) < 0)
			return -1;
	}
	if (optind != argc - 1) {
		ecfs_tool_error(PROG, "expected one directory; see --help");
		return -1;
	}
	if (o->no_key && key_given(&o->keys)) {
		ecfs_tool_error(PROG, "--no-key cannot be combined with a key option");
		return -1;
	}
	/* Without a terminal to ask on, nothing may be repaired: behave as -n. */
	if (!mode_given && !isatty(STDIN_FILENO))
		o->mode = MODE_NO;
	o->dir = argv[optind];
	/* A prompt only when the user can answer it; otherwise check without a key. */
	choose_keys(o);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	fsck_cancelled = 1;
}

/* No SA_RESTART: a blocking read of a terminal answer returns EINTR and the check stops. */
static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void run_checks(struct fsck *f)
{
	check_header(f);
	if (fsck_cancelled)
		return;
	if (progress_start(f) < 0 || blob_pool_start(f, BLOB_WORKERS) < 0) {
		report_fatal(f, FSCK_OPERROR,
			     "%s: cannot start the check: out of memory or threads", f->o.dir);
		blob_pool_finish(f);
		progress_stop(f);
		return;
	}
	check_tree(f);
	blob_pool_finish(f);
	progress_stop(f);
}

static void cleanup(struct fsck *f)
{
	ecfs_crypto_free(f->crypto);
	ecfs_volume_close(f->vol);
	lock_release(f);
	report_free(f->rep);
	ecfs_kms_opts_free(&f->o.keys.kms);
}

int main(int argc, char **argv)
{
	struct fsck f = {.lock_fd = -1};
	int r = parse_args(argc, argv, &f.o);

	if (r != 0) {
		ecfs_kms_opts_free(&f.o.keys.kms);
		return r > 0 ? FSCK_OK : FSCK_USAGE;
	}
	if (!f.o.no_key && ecfs_kms_opts_load_config(PROG, &f.o.keys.kms) < 0) {
		ecfs_kms_opts_free(&f.o.keys.kms);
		return FSCK_OPERROR;
	}
	ecfs_harden_process();
	install_signals();
	if (report_new(&f) < 0) {
		ecfs_tool_error(PROG, "out of memory");
		return FSCK_OPERROR;
	}
	if (lock_check(&f) == 0 && volume_open_unlock(&f) == 0)
		run_checks(&f);
	if (fsck_cancelled)
		report_add_exit(f.rep, FSCK_CANCELLED);
	r = report_finish(&f);
	cleanup(&f);
	return r;
}
