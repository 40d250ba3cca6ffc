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
	OPT_KEYFILE,
	OPT_PASSFILE,
	OPT_PASS,
	OPT_AT,
	OPT_AM,
	OPT_AP,
	OPT_SLOT,
	OPT_OUT,
	OPT_FORCE,
	OPT_JSON,
	OPT_KMS_ROTATE,
	OPT_KMS_CHECK,
	OPT_WAIT,
	OPT_TIMEOUT,
	OPT_KMS /* the first of ECFS_KMS_NOPTS */
};

static const struct option long_opts[] = {
    {"unlock-key-file", required_argument, NULL, OPT_UNLOCK_KEY},
    {"unlock-passphrase-file", required_argument, NULL, OPT_UNLOCK_PASS},
    {"unlock-export", required_argument, NULL, OPT_UNLOCK_EXPORT},
    {"key-file", required_argument, NULL, OPT_KEYFILE},
    {"passphrase-file", required_argument, NULL, OPT_PASSFILE},
    {"passphrase", no_argument, NULL, OPT_PASS},
    {"argon2-time", required_argument, NULL, OPT_AT},
    {"argon2-memory", required_argument, NULL, OPT_AM},
    {"argon2-parallel", required_argument, NULL, OPT_AP},
    {"slot", required_argument, NULL, OPT_SLOT},
    {"out", required_argument, NULL, OPT_OUT},
    {"force", no_argument, NULL, OPT_FORCE},
    {"json", no_argument, NULL, OPT_JSON},
    {"kms-rotate", no_argument, NULL, OPT_KMS_ROTATE},
    {"kms-check", no_argument, NULL, OPT_KMS_CHECK},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
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
		return CTL_O_UNLOCK;
	case OPT_KEYFILE:
		return CTL_O_NEWKEY;
	case OPT_PASSFILE:
	case OPT_PASS:
		return CTL_O_NEWKEY | CTL_O_EXPORT_PASS;
	case OPT_AT:
	case OPT_AM:
	case OPT_AP:
		return CTL_O_ARGON2;
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
	default:
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
	switch (c) {
	case OPT_UNLOCK_KEY:
		return set_once(&a->unlock.key_file, optarg, name);
	case OPT_UNLOCK_PASS:
		return set_once(&a->unlock.passphrase_file, optarg, name);
	case OPT_UNLOCK_EXPORT:
		return set_once(&a->unlock.export_file, optarg, name);
	case OPT_KEYFILE:
		a->newkey.count++;
		return set_once(&a->newkey.key_file, optarg, name);
	case OPT_PASSFILE:
		a->newkey.count++;
		return set_once(&a->newkey.passphrase_file, optarg, name);
	case OPT_PASS:
		a->newkey.count += !a->newkey.prompt;
		a->newkey.prompt = true;
		return 0;
	case OPT_AT:
		return parse_u32("Argon2 time cost", optarg, 1, 1000, &a->argon2.t_cost);
	case OPT_AM:
		return parse_u32("Argon2 memory (KiB)", optarg, 8, 1u << 24, &a->argon2.m_cost_kib);
	case OPT_AP:
		return parse_u32("Argon2 parallelism", optarg, 1, 64, &a->argon2.parallelism);
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
	default:
		return ecfs_kms_getopt_set(CTL_PROG, &a->kms, OPT_KMS, c, optarg) > 0 ? 0 : -1;
	}
}

/* The KMS options name a new key where the command installs one; they authorize as well,
 * but only through a KMS slot the volume has (no other unlock option given). For `slot add`
 * the named key and mount are the new slot's alone, while the URL still names the one KMS a
 * credential may go to; rotate may record a KMS that moved (unlocked by another key). */
static void kms_roles(const struct ctl_action *act, struct ctl_args *a)
{
	a->unlock.kms = a->kms;
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

/* Checks that belong to the whole command line rather than to one option. */
static int check_combination(const struct ctl_action *act, const struct ctl_args *a)
{
	const struct ecfs_argon2_params *p = &a->argon2;
	const char *msg = NULL;

	if ((p->t_cost || p->m_cost_kib || p->parallelism) &&
	    !(p->t_cost && p->m_cost_kib && p->parallelism))
		msg = "give all three Argon2 costs or none";
	else if (a->newkey.count > 1)
		msg = "give one new key: --key-file, --passphrase-file, --passphrase or --kms-key";
	else if ((act->opts & CTL_O_NEWKEY) && !(act->opts & CTL_O_KMS_ROTATE) &&
		 a->newkey.count == 0)
		msg = "no new key given: use --key-file, --passphrase-file, --passphrase or "
		      "--kms-url with --kms-key";
	else if ((act->opts & CTL_O_KMS_NEW) && a->newkey.kms &&
		 !(a->kms.v[ECFS_KMS_URL] && a->kms.v[ECFS_KMS_KEY]))
		msg = "a KMS key slot needs --kms-url and --kms-key";
	else if ((act->opts & CTL_O_OUT) && !a->out)
		msg = "--out FILE is required";
	if (msg)
		ecfs_tool_error(CTL_PROG, "%s: %s", act->name, msg);
	return msg ? -1 : 0;
}

static const struct ecfs_keyopt_names unlock_option_names = {
    .key_file = "--unlock-key-file FILE",
    .kms = "--kms-url URL --kms-key NAME",
    .export_file = "--unlock-export FILE",
};

/* The option that getopt_long could not take, for the message. */
static const char *bad_option(char **argv)
{
	return optind > 0 ? argv[optind - 1] : "?";
}

int ctl_parse_args(const struct ctl_action *act, int argc, char **argv, struct ctl_args *out)
{
	struct option opts[sizeof(long_opts) / sizeof(long_opts[0]) + ECFS_KMS_NOPTS];
	int c, idx;

	ecfs_kms_getopt_merge(long_opts, OPT_KMS, opts);
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
		if (parse_one(out, c, opts[idx].name) < 0)
			return ECFS_EXIT_USAGE;
	}
	if (argc - optind != act->npos) {
		ecfs_tool_error(CTL_PROG, "%s: expected %d argument%s, got %d", act->name,
				act->npos, act->npos == 1 ? "" : "s", argc - optind);
		ctl_action_usage(stderr, act);
		return ECFS_EXIT_USAGE;
	}
	for (int i = 0; i < act->npos; i++)
		out->pos[out->npos++] = argv[optind + i];
	kms_roles(act, out);
	return check_combination(act, out) < 0 ? ECFS_EXIT_USAGE : -1;
}
