/* SPDX-License-Identifier: MIT */
/* args.c - envcryptfsctl's options: one table for every command, checked per command. */
#include "ctl.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_UNLOCK_KEY = 256,
	OPT_UNLOCK_PASS,
	OPT_UNLOCK_EXPORT,
	OPT_UNLOCK_PKCS11,
	OPT_UNLOCK_TPM2,
	OPT_SLOT,
	OPT_OUT,
	OPT_FORCE,
	OPT_JSON,
	OPT_KMS_ROTATE,
	OPT_KMS_CHECK,
	OPT_WAIT,
	OPT_TIMEOUT,
	OPT_PROMETHEUS,
	OPT_OPEN_KEY,
	OPT_NEWKEY,				  /* the first of ECFS_NEWKEY_NOPTS */
	OPT_KMS = OPT_NEWKEY + ECFS_NEWKEY_NOPTS, /* the first of ECFS_KMS_NOPTS */
	OPT_PKCS11 = OPT_KMS + ECFS_KMS_NOPTS,	  /* the first of ECFS_PKCS11_NOPTS */
};

static const struct option long_opts[] = {
    {"unlock-key-file", required_argument, NULL, OPT_UNLOCK_KEY},
    {"unlock-passphrase-file", required_argument, NULL, OPT_UNLOCK_PASS},
    {"unlock-export", required_argument, NULL, OPT_UNLOCK_EXPORT},
    {"unlock-pkcs11", no_argument, NULL, OPT_UNLOCK_PKCS11},
    {"unlock-tpm2", no_argument, NULL, OPT_UNLOCK_TPM2},
    {"slot", required_argument, NULL, OPT_SLOT},
    {"out", required_argument, NULL, OPT_OUT},
    {"force", no_argument, NULL, OPT_FORCE},
    {"json", no_argument, NULL, OPT_JSON},
    {"kms-rotate", no_argument, NULL, OPT_KMS_ROTATE},
    {"kms-check", no_argument, NULL, OPT_KMS_CHECK},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"prometheus", no_argument, NULL, OPT_PROMETHEUS},
    {"allow-open-key-file", no_argument, NULL, OPT_OPEN_KEY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void ctl_action_usage(FILE *f, const struct ctl_action *act)
{
	fprintf(f, "usage: " CTL_PROG " %s %s\n  %s\n(see " CTL_PROG " --help for the options)\n",
		act->name, act->usage, act->help);
}

int ctl_parse_slot(const char *s)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	return *end || v >= ECFS_MAX_SLOTS ? -1 : (int)v;
}

/* The option group c belongs to. */
static unsigned group_of(int c)
{
	switch (c) {
	case OPT_UNLOCK_KEY:
	case OPT_UNLOCK_PASS:
	case OPT_UNLOCK_EXPORT:
	case OPT_UNLOCK_PKCS11:
	case OPT_PKCS11 + ECFS_PKCS11_MODULE: /* the module and PIN serve a new slot too */
	case OPT_PKCS11 + ECFS_PKCS11_PIN_FILE:
		return CTL_O_UNLOCK | CTL_O_NEWKEY;
	case OPT_UNLOCK_TPM2:
		return CTL_O_UNLOCK;
	case OPT_NEWKEY + ECFS_NEWKEY_KEY_FILE:
	case OPT_NEWKEY + ECFS_NEWKEY_TPM2:
	case OPT_NEWKEY + ECFS_NEWKEY_TPM2_PCRS:
		return CTL_O_NEWKEY;
	case OPT_NEWKEY + ECFS_NEWKEY_TPM2_DEVICE:
		return CTL_O_NEWKEY | CTL_O_UNLOCK;
	case OPT_NEWKEY + ECFS_NEWKEY_PASS_FILE:
	case OPT_NEWKEY + ECFS_NEWKEY_PROMPT:
		return CTL_O_NEWKEY | CTL_O_EXPORT_PASS;
	case OPT_SLOT:
		return CTL_O_SLOT;
	case OPT_OUT:
		return CTL_O_OUT;
	case OPT_FORCE:
		return CTL_O_FORCE;
	case OPT_JSON:
		return CTL_O_JSON;
	case OPT_KMS_ROTATE:
		return CTL_O_KMS_ROTATE;
	case OPT_KMS_CHECK:
		return CTL_O_KMS_CHECK;
	case OPT_WAIT:
		return CTL_O_WAIT;
	case OPT_TIMEOUT:
		return CTL_O_TIMEOUT;
	case OPT_PROMETHEUS:
		return CTL_O_PROMETHEUS;
	case OPT_OPEN_KEY:
		return CTL_O_UNLOCK | CTL_O_NEWKEY | CTL_O_EXPORT_PASS;
	default:
		if (ecfs_newkey_is_argon2(OPT_NEWKEY, c))
			return CTL_O_ARGON2;
		if (c >= OPT_PKCS11 && c < OPT_PKCS11 + ECFS_PKCS11_NOPTS)
			return CTL_O_NEWKEY;
		return c >= OPT_KMS && c < OPT_KMS + ECFS_KMS_NOPTS ? CTL_O_KMS : 0;
	}
}

static int set_once(const char **field, const char *value, const char *opt)
{
	if (*field) {
		ecfs_tool_error(CTL_PROG, "--%s is given twice", opt);
		return -1;
	}
	*field = value;
	return 0;
}

static int parse_u32(const char *what, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (ecfs_tool_parse_size(s, &v) < 0 || v < min || v > max) {
		ecfs_tool_error(CTL_PROG, "%s '%s' must be a number from %u to %u", what, s, min,
				max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_one(struct ctl_args *a, int c, const char *name)
{
	int r;

	switch (c) {
	case OPT_UNLOCK_KEY:
		return set_once(&a->unlock.key_file, optarg, name);
	case OPT_UNLOCK_PASS:
		return set_once(&a->unlock.passphrase_file, optarg, name);
	case OPT_UNLOCK_EXPORT:
		return set_once(&a->unlock.export_file, optarg, name);
	case OPT_UNLOCK_PKCS11:
		a->unlock_pkcs11 = true;
		return 0;
	case OPT_UNLOCK_TPM2:
		a->unlock.tpm2_unlock = true;
		return 0;
	case OPT_OPEN_KEY:
		a->unlock.allow_open_key_file = true;
		return 0;
	case OPT_SLOT:
		a->slot = ctl_parse_slot(optarg);
		if (a->slot < 0)
			ecfs_tool_error(CTL_PROG, "--slot '%s' is not a slot number (0 to %d)",
					optarg, ECFS_MAX_SLOTS - 1);
		return a->slot < 0 ? -1 : 0;
	case OPT_OUT:
		return set_once(&a->out, optarg, name);
	case OPT_FORCE:
		a->force = true;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_KMS_ROTATE:
		a->kms_rotate = true;
		return 0;
	case OPT_KMS_CHECK:
		a->kms_check = true;
		return 0;
	case OPT_WAIT:
		if (parse_u32("--wait", optarg, 0, 86400, &a->wait) < 0)
			return -1;
		ecfs_metalock_set_wait(a->wait);
		return 0;
	case OPT_TIMEOUT:
		return parse_u32("--timeout", optarg, 1, 3600, &a->timeout);
	case OPT_PROMETHEUS:
		a->prometheus = true;
		return 0;
	default:
		r = ecfs_newkey_getopt_set(CTL_PROG, &a->newkey.keys, OPT_NEWKEY, c, optarg);
		if (r == 0)
			r = ecfs_kms_getopt_set(CTL_PROG, &a->kms, OPT_KMS, c, optarg);
		if (r == 0)
			r = ecfs_pkcs11_getopt_set(CTL_PROG, &a->pkcs11, OPT_PKCS11, c, optarg);
		return r > 0 ? 0 : -1;
	}
}

/* The KMS options name a new key where the command installs one; they authorize as well,
 * but only through a KMS slot the volume has (no other unlock option given). For `slot add`
 * the named key and mount are the new slot's alone, while the URL still names the one KMS a
 * credential may go to; rotate may record a KMS that moved (unlocked by another key). */
static void kms_roles(const struct ctl_action *act, struct ctl_args *a)
{
	/* --tpm2-device names the TPM both to unlock with and to seal a new slot's key. */
	a->unlock.tpm2_ops = &ecfs_tpm2_esys;
	a->unlock.tpm2_device = a->newkey.keys.tpm2_device;
	a->unlock.kms = a->kms;
	a->newkey.count = ecfs_newkey_count(&a->newkey.keys);
	/* --pkcs11-module and --pkcs11-pin-file unlock only with --unlock-pkcs11. */
	if (a->unlock_pkcs11) {
		a->unlock.pkcs11_module = a->pkcs11.v[ECFS_PKCS11_MODULE];
		a->unlock.pkcs11_pin_file = a->pkcs11.v[ECFS_PKCS11_PIN_FILE];
	}
	a->newkey.pkcs11 = ecfs_pkcs11_new_given(&a->pkcs11);
	a->newkey.count += a->newkey.pkcs11;
	if (!(act->opts & CTL_O_NEWKEY))
		return;
	a->unlock.kms_only_auto = true;
	/* A key name makes a new KMS key; a URL alone names the KMS that may unlock. */
	if (a->kms.v[ECFS_KMS_KEY]) {
		a->newkey.kms = true;
		a->newkey.count++;
	}
	if (act->opts & CTL_O_KMS_NEW)
		a->unlock.kms.v[ECFS_KMS_MOUNT] = a->unlock.kms.v[ECFS_KMS_KEY] = NULL;
}

/* What is wrong with the command line as a whole, NULL when nothing is. */
static const char *combination_problem(const struct ctl_action *act, const struct ctl_args *a)
{
	const char *msg = ecfs_newkey_problem(&a->newkey.keys);

	if (msg)
		return msg;
	if (a->newkey.count > 1)
		return "give one new key: --key-file, --passphrase-file, --passphrase, --kms-key, "
		       "--pkcs11-key or --tpm2";
	if ((act->opts & CTL_O_NEWKEY) && !(act->opts & CTL_O_KMS_ROTATE) && a->newkey.count == 0)
		return "no new key given: use --key-file, --passphrase-file, --passphrase, "
		       "--kms-url with --kms-key, --pkcs11-key or --tpm2";
	if (a->newkey.pkcs11 && ecfs_pkcs11_new_problem(&a->pkcs11))
		return ecfs_pkcs11_new_problem(&a->pkcs11);
	if (a->unlock_pkcs11 && !a->pkcs11.v[ECFS_PKCS11_MODULE])
		return "--unlock-pkcs11 needs --pkcs11-module PATH and --pkcs11-pin-file FILE";
	if ((act->opts & CTL_O_KMS_NEW) && a->newkey.kms &&
	    !(a->kms.v[ECFS_KMS_URL] && a->kms.v[ECFS_KMS_KEY]))
		return "a KMS key slot needs --kms-url and --kms-key";
	if ((act->opts & CTL_O_OUT) && !a->out)
		return "--out FILE is required";
	if (a->nunlock_keys > 1 && a->nunlock_keys != a->npos)
		return "give --unlock-key-file once for every DIR, or once per DIR in DIR order";
	if (a->json && a->prometheus)
		return "give --json or --prometheus, not both";
	return NULL;
}

static int check_combination(const struct ctl_action *act, const struct ctl_args *a)
{
	const char *msg = combination_problem(act, a);

	if (msg)
		ecfs_tool_error(CTL_PROG, "%s: %s", act->name, msg);
	return msg ? -1 : 0;
}

static const struct ecfs_keyopt_names unlock_option_names = {
    .key_file = "--unlock-key-file FILE",
    .kms = "--kms-url URL --kms-key NAME",
    .export_file = "--unlock-export FILE",
    .pkcs11 = "--unlock-pkcs11 --pkcs11-module PATH --pkcs11-pin-file FILE",
    .tpm2 = "--unlock-tpm2",
};

/* --unlock-key-file of a command of several DIRs: once for all, or once per DIR. */
static int add_unlock_key(struct ctl_args *a, const char *file)
{
	if (a->nunlock_keys == CTL_MAX_POS) {
		ecfs_tool_error(CTL_PROG, "at most %d --unlock-key-file", CTL_MAX_POS);
		return -1;
	}
	a->unlock_keys[a->nunlock_keys++] = file;
	if (!a->unlock.key_file)
		a->unlock.key_file = file;
	return 0;
}

/* The number of positional arguments given fits act. */
static int check_count(const struct ctl_action *act, int got)
{
	if (act->npos < 0 ? got >= 1 && got <= CTL_MAX_POS : got == act->npos)
		return 0;
	if (act->npos < 0)
		ecfs_tool_error(CTL_PROG, "%s: expected 1 to %d arguments, got %d", act->name,
				CTL_MAX_POS, got);
	else
		ecfs_tool_error(CTL_PROG, "%s: expected %d argument%s, got %d", act->name,
				act->npos, act->npos == 1 ? "" : "s", got);
	ctl_action_usage(stderr, act);
	return -1;
}

/* The option that getopt_long could not take, for the message. */
static const char *bad_option(char **argv)
{
	return optind > 0 ? argv[optind - 1] : "?";
}

int ctl_parse_args(const struct ctl_action *act, int argc, char **argv, struct ctl_args *out)
{
	struct option keyopts[sizeof(long_opts) / sizeof(long_opts[0]) + ECFS_NEWKEY_NOPTS];
	struct option kmsopts[sizeof(keyopts) / sizeof(keyopts[0]) + ECFS_KMS_NOPTS];
	struct option opts[sizeof(kmsopts) / sizeof(kmsopts[0]) + ECFS_PKCS11_NOPTS];
	int c, idx;

	ecfs_newkey_getopt_merge(long_opts, OPT_NEWKEY, keyopts);
	ecfs_kms_getopt_merge(keyopts, OPT_KMS, kmsopts);
	ecfs_pkcs11_getopt_merge(kmsopts, OPT_PKCS11, opts);
	memset(out, 0, sizeof(*out));
	out->slot = -1;
	out->unlock.prompt = true;
	out->unlock.names = &unlock_option_names;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (c == 'h') {
			ctl_action_usage(stdout, act);
			return ECFS_EXIT_OK;
		}
		if (c == '?' || c == ':') {
			ecfs_tool_error(CTL_PROG, "%s: unknown option or missing argument '%s'",
					act->name, bad_option(argv));
			return ECFS_EXIT_USAGE;
		}
		if (!(group_of(c) & act->opts)) {
			ecfs_tool_error(CTL_PROG, "%s: option --%s does not apply", act->name,
					opts[idx].name);
			return ECFS_EXIT_USAGE;
		}
		if (act->npos < 0 && c == OPT_UNLOCK_KEY) {
			if (add_unlock_key(out, optarg) < 0)
				return ECFS_EXIT_USAGE;
		} else if (parse_one(out, c, opts[idx].name) < 0) {
			return ECFS_EXIT_USAGE;
		}
	}
	if (check_count(act, argc - optind) < 0)
		return ECFS_EXIT_USAGE;
	for (int i = optind; i < argc; i++)
		out->pos[out->npos++] = argv[i];
	kms_roles(act, out);
	return check_combination(act, out) < 0 ? ECFS_EXIT_USAGE : -1;
}
