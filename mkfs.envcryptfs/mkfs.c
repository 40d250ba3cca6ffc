/* SPDX-License-Identifier: MIT */
/* mkfs.c - mkfs.envcryptfs: creates a volume in a directory, one key slot per key given. */
#include "envcryptfs.h"
#include "newkey.h"
#include "tool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "mkfs.envcryptfs";

struct mkfs_opts {
	struct ecfs_create_params p;
	struct ecfs_newkey_opts keys;	/* --key-file, --passphrase, --argon2-* ... */
	struct ecfs_kms_opts kms;	/* --kms-url and --kms-key: a KMS slot */
	struct ecfs_pkcs11_opts pkcs11; /* --pkcs11-token and --pkcs11-key: a PKCS#11 slot */
	bool quiet;
	bool allow_open_key_file; /* key and passphrase files others may read */
	const char *dir;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: %s [options] DIR\n"
	    "  --cipher NAME          aes-256-gcm (default), aes-256-xts, aes-128-xts, sm4-xts\n"
	    "  --chunk-size SIZE      a power of two from 4k to 1M (default %uk)\n"
	    "  --label TEXT           a label of up to %d bytes\n"
	    "  --key-file FILE        a key slot opened by this key file (32+ bytes)\n"
	    "  --passphrase-file FILE a key slot opened by the passphrase in FILE\n"
	    "  --passphrase           a key slot opened by a passphrase asked on the terminal\n"
	    "  --tpm2 [--tpm2-device TCTI] [--tpm2-pcrs LIST]\n"
	    "                         a key slot opened by the TPM (default device\n"
	    "                         " ECFS_TPM2_DEVICE_DEFAULT "), bound to PCRs (\"0,7\")\n"
	    "  --kms-url URL --kms-key NAME [KMS options]\n"
	    "                         a key slot opened by a Vault Transit key\n"
	    "  --pkcs11-module PATH --pkcs11-token LABEL --pkcs11-key LABEL\n"
	    "  --pkcs11-pin-file FILE [--pkcs11-create-key]\n"
	    "                         a key slot opened by an AES key on a PKCS#11 token\n"
	    "                         (made on the token with --pkcs11-create-key)\n"
	    "  --argon2-time N, --argon2-memory KIB, --argon2-parallel N\n"
	    "                         Argon2id costs (default: calibrated to about 1 s;\n"
	    "                         at least time %u and memory %u KiB)\n"
	    "  --allow-weak-kdf       accept Argon2 costs below that floor (tests only)\n"
	    "  --allow-open-key-file  accept key and passphrase files that group or others\n"
	    "                         may read or write, or that another user owns\n"
	    "  --format-version N     write format N (%d to %d; default %d): an older\n"
	    "                         format, only to test readers and upgrades\n"
	    "  --force                use a non-empty directory (nothing of its own is\n"
	    "                         deleted; what an interrupted mkfs left is)\n"
	    "  -q, --quiet            print nothing but errors\n"
	    "  -V, --version, -h, --help\n",
	    prog, ECFS_DEFAULT_CHUNK / 1024, ECFS_LABEL_MAX, ECFS_ARGON2_FLOOR_TIME,
	    ECFS_ARGON2_FLOOR_MEMORY_KIB, ECFS_FORMAT_VERSION_MIN, ECFS_FORMAT_VERSION,
	    ECFS_FORMAT_DEFAULT);
	fprintf(f, "KMS options:\n");
	ecfs_kms_opts_help(f, false);
}

enum {
	OPT_CIPHER = 256,
	OPT_CHUNK,
	OPT_LABEL,
	OPT_FORCE,
	OPT_FORMAT,
	OPT_OPEN_KEY,
	OPT_NEWKEY,				  /* the first of ECFS_NEWKEY_NOPTS */
	OPT_KMS = OPT_NEWKEY + ECFS_NEWKEY_NOPTS, /* the first of ECFS_KMS_NOPTS */
	OPT_PKCS11 = OPT_KMS + ECFS_KMS_NOPTS,	  /* the first of ECFS_PKCS11_NOPTS */
};

static const struct option long_opts[] = {
    {"cipher", required_argument, NULL, OPT_CIPHER},
    {"chunk-size", required_argument, NULL, OPT_CHUNK},
    {"label", required_argument, NULL, OPT_LABEL},
    {"force", no_argument, NULL, OPT_FORCE},
    {"format-version", required_argument, NULL, OPT_FORMAT},
    {"allow-open-key-file", no_argument, NULL, OPT_OPEN_KEY},
    {"quiet", no_argument, NULL, 'q'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_u32(const char *what, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (ecfs_tool_parse_size(s, &v) < 0 || v < min || v > max) {
		ecfs_tool_error(prog, "%s '%s' must be a number from %u to %u", what, s, min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_one(struct mkfs_opts *o, int c)
{
	int r;

	switch (c) {
	case OPT_CIPHER:
		o->p.cipher = ecfs_cipher_from_name(optarg);
		if (o->p.cipher == ECFS_CIPHER_NONE)
			ecfs_tool_error(prog,
					"unknown cipher '%s' (aes-256-gcm, aes-256-xts, "
					"aes-128-xts, sm4-xts)",
					optarg);
		return o->p.cipher == ECFS_CIPHER_NONE ? -1 : 0;
	case OPT_CHUNK:
		if (parse_u32("chunk size", optarg, ECFS_MIN_CHUNK, ECFS_MAX_CHUNK,
			      &o->p.chunk_size) < 0)
			return -1;
		if (o->p.chunk_size & (o->p.chunk_size - 1)) {
			ecfs_tool_error(
			    prog, "chunk size '%s' is not a power of two (4k, 8k, ... 1M)", optarg);
			return -1;
		}
		return 0;
	case OPT_LABEL:
		o->p.label = optarg;
		return 0;
	case OPT_FORCE:
		o->p.force = true;
		return 0;
	case OPT_FORMAT:
		return parse_u32("format version", optarg, ECFS_FORMAT_VERSION_MIN,
				 ECFS_FORMAT_VERSION, &o->p.format_version);
	case OPT_OPEN_KEY:
		o->allow_open_key_file = true;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	default:
		r = ecfs_newkey_getopt_set(prog, &o->keys, OPT_NEWKEY, c, optarg);
		if (r == 0)
			r = ecfs_kms_getopt_set(prog, &o->kms, OPT_KMS, c, optarg);
		if (r == 0)
			r = ecfs_pkcs11_getopt_set(prog, &o->pkcs11, OPT_PKCS11, c, optarg);
		return r > 0 ? 0 : -1;
	}
}

static bool vault_key_given(const struct mkfs_opts *o)
{
	for (int i = 0; i < o->keys.nkey_files; i++)
		if (ecfs_tool_is_vault_key(o->keys.key_files[i]))
			return true;
	return false;
}

/* Whether the KMS options ask for a KMS slot: with a key file kept in Vault they may only
 * name the server it is read from, and a slot needs --kms-key then. */
static bool kms_slot_wanted(const struct mkfs_opts *o)
{
	return ecfs_kms_opts_given(&o->kms) && (o->kms.v[ECFS_KMS_KEY] || !vault_key_given(o));
}

/* How many slots the command line asks for. */
static int nkeys(const struct mkfs_opts *o)
{
	return ecfs_newkey_count(&o->keys) + kms_slot_wanted(o) + ecfs_pkcs11_new_given(&o->pkcs11);
}

static int parse_args(int argc, char **argv, struct mkfs_opts *o)
{
	struct option keyopts[sizeof(long_opts) / sizeof(long_opts[0]) + ECFS_NEWKEY_NOPTS];
	struct option kmsopts[sizeof(keyopts) / sizeof(keyopts[0]) + ECFS_KMS_NOPTS];
	struct option opts[sizeof(kmsopts) / sizeof(kmsopts[0]) + ECFS_PKCS11_NOPTS];
	const char *problem;
	int c;

	o->keys.many = true;
	ecfs_newkey_getopt_merge(long_opts, OPT_NEWKEY, keyopts);
	ecfs_kms_getopt_merge(keyopts, OPT_KMS, kmsopts);
	ecfs_pkcs11_getopt_merge(kmsopts, OPT_PKCS11, opts);
	while ((c = getopt_long(argc, argv, "qVh", opts, NULL)) != -1) {
		if (c == 'h' || c == 'V') {
			if (c == 'h')
				usage(stdout);
			else
				printf("%s %s\n", prog, ECFS_VERSION_STRING);
			exit(0);
		}
		if (parse_one(o, c) < 0)
			return -1;
	}
	if (optind != argc - 1) {
		ecfs_tool_error(prog, "expected one directory; see --help");
		return -1;
	}
	problem = ecfs_newkey_problem(&o->keys);
	if (problem) {
		ecfs_tool_error(prog, "%s", problem);
		return -1;
	}
	o->p.argon2 = o->keys.argon2;
	if (nkeys(o) == 0) {
		ecfs_tool_error(prog,
				"no key given: use --key-file, --passphrase-file, "
				"--passphrase, --kms-url with --kms-key, --pkcs11-key or --tpm2");
		return -1;
	}
	if (o->keys.tpm2_device && !o->keys.tpm2) {
		ecfs_tool_error(prog, "--tpm2-device names the TPM of a --tpm2 slot: give --tpm2");
		return -1;
	}
	if (kms_slot_wanted(o) && ecfs_kms_check_target(prog, &o->kms) < 0)
		return -1;
	if ((ecfs_pkcs11_new_given(&o->pkcs11) || o->pkcs11.v[ECFS_PKCS11_MODULE]) &&
	    (problem = ecfs_pkcs11_new_problem(&o->pkcs11))) {
		ecfs_tool_error(prog, "%s", problem);
		return -1;
	}
	if (nkeys(o) > ECFS_MAX_SLOTS) {
		ecfs_tool_error(prog, "at most %d keys", ECFS_MAX_SLOTS);
		return -1;
	}
	o->dir = argv[optind];
	return 0;
}

/* Loads every key named on the command line, one credential per slot. */
static int load_keys(const struct mkfs_opts *o, struct ecfs_creds *all)
{
	const struct ecfs_newkey_opts *n = &o->keys;
	int r = 0;

	memset(all, 0, sizeof(*all));
	for (int i = 0; r == 0 && i < ecfs_newkey_count(n) - n->tpm2; i++) {
		struct ecfs_keyopts k = {.allow_open_key_file = o->allow_open_key_file,
					 .kms = o->kms}; /* for a key file kept in Vault */
		struct ecfs_creds one;

		if (i < n->nkey_files)
			k.key_file = n->key_files[i];
		else if (i < n->nkey_files + n->npass_files)
			k.passphrase_file = n->pass_files[i - n->nkey_files];
		else
			k.prompt = true;
		r = ecfs_tool_load_creds(prog, &k, true, &one);
		if (r == 0) {
			all->cred[all->n] = one.cred[0];
			all->secret[all->n++] = one.secret[0];
		}
	}
	if (r == 0 && n->tpm2)
		ecfs_newkey_tpm2_credential(n, &all->cred[all->n++]);
	return r;
}

/* The KMS's own line when wrapping the key with it failed, else the library's. */
static void report_create_failure(const char *dir, const struct ecfs_creds *creds, int r)
{
	const char *msg = NULL;

	if (creds->kms && ecfs_tool_kms_last(creds->kms, &msg) == r)
		ecfs_tool_error(prog, "%s", msg);
	else if (*ecfs_last_error())
		ecfs_tool_error(prog, "%s", ecfs_last_error());
	else
		ecfs_tool_error(prog, "cannot create a volume in '%s': %s", dir, strerror(-r));
}

/* The primary header is on disk and the update failed after it: the volume exists and opens
 * with the keys given; says which part did not complete, as read back from disk. */
static void report_copy_behind(const char *dir, int r)
{
	struct ecfs_volume *v;
	struct ecfs_volume_info in = {.copy_state = ECFS_HDR_MISSING};
	const char *what = "its header copy could not be written";

	if (ecfs_volume_open(dir, &v) == 0) {
		ecfs_volume_get_info(v, &in);
		ecfs_volume_close(v);
	}
	if (in.primary_state == ECFS_HDR_OK && in.copy_state == ECFS_HDR_OK)
		what = "its header could not be synced to disk";
	ecfs_tool_error(prog,
			"created the volume in '%s', which opens with the keys given, but %s "
			"(%s); 'fsck.envcryptfs -p %s' finishes it",
			dir, what, strerror(-r), dir);
}

static int make(struct mkfs_opts *o)
{
	struct ecfs_creds creds = {0};
	struct ecfs_credential cred[ECFS_MAX_SLOTS];
	struct ecfs_volume *v = NULL;
	struct ecfs_volume_info info;
	int r, code = ECFS_EXIT_OK;

	/* ecfs_creds holds at most 4; a volume made by mkfs with more keys is rare enough to
	 * load them in two batches of credentials. */
	if (nkeys(o) > ECFS_TOOL_MAX_CREDS) {
		ecfs_tool_error(prog, "at most %d keys at creation; add more with envcryptfsctl",
				ECFS_TOOL_MAX_CREDS);
		return ECFS_EXIT_USAGE;
	}
	r = load_keys(o, &creds);
	if (r == 0 && kms_slot_wanted(o))
		r = ecfs_tool_load_kms(prog, &o->kms, &creds);
	if (r == 0 && ecfs_pkcs11_new_given(&o->pkcs11)) {
		struct ecfs_pkcs11_cred c = ecfs_pkcs11_new_cred(&o->pkcs11);

		r = ecfs_tool_load_pkcs11(prog, &c, o->pkcs11.v[ECFS_PKCS11_PIN_FILE],
					  o->allow_open_key_file, "--allow-open-key-file", &creds);
	}
	if (r != 0) {
		ecfs_tool_free_creds(&creds);
		return r;
	}
	memcpy(cred, creds.cred, creds.n * sizeof(cred[0]));
	r = ecfs_volume_create(o->dir, &o->p, cred, creds.n, &v);
	if (r < 0 && !v)
		report_create_failure(o->dir, &creds, r);
	ecfs_tool_free_creds(&creds);
	if (r < 0 && !v)
		return ecfs_tool_exit_code(r) == ECFS_EXIT_USAGE ? ECFS_EXIT_USAGE
								 : ECFS_EXIT_ERROR;
	if (r < 0) {
		report_copy_behind(o->dir, r);
		code = ECFS_EXIT_COPY_BEHIND;
	}
	ecfs_volume_get_info(v, &info);
	if (!o->quiet)
		printf("created envcryptfs volume in %s\nUUID: %s\ncipher: %s, chunk size: %u, "
		       "key slots: %d\n",
		       o->dir, info.uuid_str, ecfs_cipher_name(info.cipher), info.chunk_size,
		       info.nslots);
	else
		printf("%s\n", info.uuid_str);
	ecfs_volume_close(v);
	return code;
}

int main(int argc, char **argv)
{
	struct mkfs_opts o = {0};
	int r;

	ecfs_harden_process();
	if (parse_args(argc, argv, &o) < 0)
		return ECFS_EXIT_USAGE;
	/* A new KMS slot's URL is the one given; the file may add TLS and token settings, and
	 * name the KMS a key file kept in Vault is read from. */
	r = (ecfs_kms_opts_given(&o.kms) || vault_key_given(&o)) &&
		    ecfs_kms_opts_load_config(prog, &o.kms) < 0
		? ECFS_EXIT_ERROR
		: make(&o);
	ecfs_kms_opts_free(&o.kms);
	return r;
}
