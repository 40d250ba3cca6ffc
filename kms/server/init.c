/* SPDX-License-Identifier: MIT */
/*
 * init.c - envcryptfs-kmsd init: a new key store sealed under a random master key that is
 * split into share files at once and never written whole, plus a random token file.
 */
#include "kmsd.h"
#include "tool.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_BYTES 32

struct init_opts {
	const char *store, *prefix, *token_file;
	unsigned n, t;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s init --store DIR [options]\n"
		"  --store DIR          the key store directory (made, mode 0700, if missing)\n"
		"  --shares N           unseal shares to make, 1 to %d (default 5)\n"
		"  --threshold T        shares needed to unseal, 2 to N, or 1 when N is 1 "
		"(default 3)\n"
		"  --share-prefix PATH  share files are PATH.1 .. PATH.N (default DIR/share)\n"
		"  --token-file FILE    the client token file to create (default DIR/token)\n"
		"  -h, --help\n",
		KMSD_PROG, KMSD_MAX_SHARES);
}

static const struct option long_opts[] = {
    {"store", required_argument, NULL, 's'},
    {"shares", required_argument, NULL, 'n'},
    {"threshold", required_argument, NULL, 't'},
    {"share-prefix", required_argument, NULL, 'p'},
    {"token-file", required_argument, NULL, 'k'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_count(const char *what, const char *s, unsigned *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 1 || v > KMSD_MAX_SHARES) {
		ecfs_tool_error(KMSD_PROG, "%s '%s' must be a number from 1 to %d", what, s,
				KMSD_MAX_SHARES);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct init_opts *o)
{
	int c;

	o->n = 5;
	o->t = 3;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(ECFS_EXIT_OK);
		}
		if ((c == 'n' && parse_count("--shares", optarg, &o->n) < 0) ||
		    (c == 't' && parse_count("--threshold", optarg, &o->t) < 0) || c == '?')
			return -1;
		if (c == 's')
			o->store = optarg;
		else if (c == 'p')
			o->prefix = optarg;
		else if (c == 'k')
			o->token_file = optarg;
	}
	if (optind != argc || !o->store) {
		ecfs_tool_error(KMSD_PROG, "init needs --store DIR and no other arguments");
		return -1;
	}
	if (o->t > o->n || (o->t < 2 && o->n > 1)) {
		ecfs_tool_error(KMSD_PROG,
				"--threshold must be from 2 to --shares (%u), or 1 with "
				"one share",
				o->n);
		return -1;
	}
	return 0;
}

/* A random token "ecfs." + base64url(32 bytes), written O_EXCL, mode 0600. */
static int write_token(const char *path)
{
	uint8_t raw[TOKEN_BYTES];
	char text[8 + TOKEN_BYTES * 2];
	size_t n = 5;
	int fd, r = ecfs_random(raw, sizeof(raw));

	if (r < 0)
		return r;
	memcpy(text, "ecfs.", 5);
	n += ecfs_b64url_encode(raw, sizeof(raw), text + 5);
	text[n++] = '\n';
	ecfs_wipe(raw, sizeof(raw));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		r = ecfs_fail(-errno, "cannot create token file '%s': %s", path, strerror(errno));
	else if (write(fd, text, n) != (ssize_t)n || fsync(fd) < 0)
		r = ecfs_fail(-EIO, "cannot write token file '%s'", path);
	if (fd >= 0)
		close(fd);
	ecfs_wipe(text, sizeof(text));
	return r;
}

/* Shares go out first: if any of them cannot be written, no store exists that nobody could
 * unseal. Files made before a failure are removed. */
static int write_shares(const struct init_opts *o, const uint8_t uuid[ECFS_UUID_SIZE],
			const uint8_t *ys, char paths[][4096])
{
	struct kmsd_share sh;
	unsigned i;
	int r = 0;

	for (i = 0; i < o->n && r == 0; i++) {
		if (snprintf(paths[i], 4096, "%s.%u", o->prefix, i + 1) >= 4096) {
			r = ecfs_fail(-ENAMETOOLONG, "--share-prefix is too long");
			i++;
			break;
		}
		sh.index = (uint8_t)(i + 1);
		memcpy(sh.y, ys + (size_t)i * KMSD_SECRET_SIZE, KMSD_SECRET_SIZE);
		r = kmsd_share_write_file(paths[i], uuid, &sh, o->n, o->t);
	}
	ecfs_wipe(&sh, sizeof(sh));
	if (r < 0)
		for (unsigned j = 0; j + 1 < i; j++)
			unlink(paths[j]);
	return r;
}

/* Undoes a failed init: the share files, and the store when it made it (a store without its
 * verifiers file would take forged shares). */
static void remove_made(const struct init_opts *o, char paths[][4096], bool store)
{
	char path[4096];

	for (unsigned i = 0; i < o->n; i++)
		unlink(paths[i]);
	if (store &&
	    snprintf(path, sizeof(path), "%s/%s", o->store, KMSD_STORE_NAME) < (int)sizeof(path))
		unlink(path);
}

static int make_store(const struct init_opts *o, uint8_t uuid[ECFS_UUID_SIZE], char paths[][4096])
{
	struct ecfs_secret *master = ecfs_secret_new(KMSD_SECRET_SIZE);
	struct ecfs_secret *ys = ecfs_secret_new((size_t)o->n * KMSD_SECRET_SIZE);
	int r = master && ys ? 0 : ecfs_fail(-ENOMEM, "out of memory");

	if (r == 0)
		r = ecfs_random(uuid, ECFS_UUID_SIZE);
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	if (r == 0)
		r = ecfs_random(ecfs_secret_data(master), KMSD_SECRET_SIZE);
	if (r == 0)
		r = kmsd_shamir_split(ecfs_secret_data(master), KMSD_SECRET_SIZE, o->n, o->t,
				      ecfs_secret_data(ys));
	if (r == 0)
		r = write_shares(o, uuid, ecfs_secret_data(ys), paths);
	if (r == 0) {
		bool made_store;

		r = kmsd_store_create(o->store, o->n, o->t, ecfs_secret_data(master), uuid);
		made_store = r == 0;
		if (r == 0)
			r = kmsd_verifiers_write(o->store, uuid, ecfs_secret_data(ys), o->n);
		if (r < 0)
			remove_made(o, paths, made_store);
	}
	ecfs_secret_free(master);
	ecfs_secret_free(ys);
	return r;
}

static void report(const struct init_opts *o, const uint8_t uuid[ECFS_UUID_SIZE])
{
	char id[37];

	kmsd_uuid_str(uuid, id);
	printf("initialized key store %s in %s\n", id, o->store);
	if (o->n == 1)
		printf("share file: %s.1 (it alone unseals)\n", o->prefix);
	else
		printf("share files: %s.1 .. %s.%u (any %u of %u unseal)\n", o->prefix, o->prefix,
		       o->n, o->t, o->n);
	printf("token file: %s\n"
	       "Give each share file to a different custodian and remove it from this machine;\n"
	       "the master key exists nowhere else.\n",
	       o->token_file);
}

int kmsd_init_main(int argc, char **argv)
{
	struct init_opts o = {0};
	char prefix[4096], token[4096], store_file[4096], (*paths)[4096];
	uint8_t uuid[ECFS_UUID_SIZE];
	int r;

	ecfs_harden_process();
	if (parse_args(argc, argv, &o) < 0)
		return ECFS_EXIT_USAGE;
	snprintf(prefix, sizeof(prefix), "%s/share", o.store);
	snprintf(token, sizeof(token), "%s/%s", o.store, KMSD_TOKEN_NAME);
	snprintf(store_file, sizeof(store_file), "%s/%s", o.store, KMSD_STORE_NAME);
	o.prefix = o.prefix ? o.prefix : prefix;
	o.token_file = o.token_file ? o.token_file : token;
	if (mkdir(o.store, 0700) < 0 && errno != EEXIST) {
		ecfs_tool_error(KMSD_PROG, "cannot create '%s': %s", o.store, strerror(errno));
		return ECFS_EXIT_ERROR;
	}
	if (access(store_file, F_OK) == 0) {
		ecfs_tool_error(KMSD_PROG, "'%s' already holds a key store", o.store);
		return ECFS_EXIT_ERROR;
	}
	if (access(o.token_file, F_OK) == 0) {
		ecfs_tool_error(KMSD_PROG, "token file '%s' already exists", o.token_file);
		return ECFS_EXIT_ERROR;
	}
	paths = calloc(o.n, sizeof(*paths));
	r = paths ? make_store(&o, uuid, paths) : ecfs_fail(-ENOMEM, "out of memory");
	if (r == 0 && (r = write_token(o.token_file)) < 0) {
		/* Without a token the store is unusable: undo everything. */
		for (unsigned i = 0; i < o.n; i++)
			unlink(paths[i]);
		unlink(store_file);
	}
	free(paths);
	if (r < 0) {
		ecfs_tool_error(KMSD_PROG, "%s", ecfs_last_error());
		return ECFS_EXIT_ERROR;
	}
	report(&o, uuid);
	return ECFS_EXIT_OK;
}
