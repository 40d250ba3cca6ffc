/* SPDX-License-Identifier: MIT */
/*
 * serve.c - envcryptfs-kmsd serve: opens the key store (sealed), applies any unseal shares
 * given as files, listens, and runs until SIGTERM or SIGINT, then seals (wiping every key)
 * and exits 0.
 */
#include "kmsd.h"
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_MIN 16

struct serve_opts {
	const char *store, *token_file, *mount;
	const char *k8s_role, *k8s_jwt_file, *namespace_;
	struct kmsd_listen listen;
	const char *shares[KMSD_MAX_SHARES];
	unsigned nshares;
	bool verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s serve --store DIR [options]\n"
		"  --store DIR            the key store made by '%s init'\n"
		"  --listen ADDR:PORT     numeric address (IPv6 in brackets; default "
		"127.0.0.1:8200; port 0 picks one)\n"
		"  --tls-cert FILE        PEM certificate (chain) for HTTPS\n"
		"  --tls-key FILE         PEM private key for HTTPS\n"
		"  --tls-client-ca FILE   require client certificates signed by this PEM CA\n"
		"  --insecure-http        plain HTTP, allowed on a loopback address only\n"
		"  --request-timeout SECS a whole request and its answer within SECS (default "
		"%d)\n"
		"  --max-connections N    connections open at once (default %d)\n"
		"  --max-per-client N     connections open at once per client address (default "
		"%d)\n"
		"  --threads N            threads serving connections (default %d)\n"
		"  --token-file FILE      the client token (default DIR/token)\n"
		"  --mount NAME           the Transit mount path (default transit)\n"
		"  --namespace NAME       require X-Vault-Namespace: NAME\n"
		"  --k8s-role NAME        accept Kubernetes logins for this role ...\n"
		"  --k8s-jwt-file FILE    ... with exactly this service account token\n"
		"  --unseal-share FILE    a share file; given threshold times, start unsealed\n"
		"  -v, --verbose          log every request (never bodies or tokens)\n"
		"  -h, --help\n",
		KMSD_PROG, KMSD_PROG, KMSD_DEFAULT_REQUEST_TIMEOUT, KMSD_DEFAULT_MAX_CONNECTIONS,
		KMSD_DEFAULT_MAX_PER_CLIENT, KMSD_DEFAULT_THREADS);
}

static const struct option long_opts[] = {
    {"store", required_argument, NULL, 's'},
    {"listen", required_argument, NULL, 'l'},
    {"tls-cert", required_argument, NULL, 'c'},
    {"tls-key", required_argument, NULL, 'k'},
    {"insecure-http", no_argument, NULL, 'i'},
    {"tls-client-ca", required_argument, NULL, 'C'},
    {"namespace", required_argument, NULL, 'n'},
    {"k8s-role", required_argument, NULL, 'r'},
    {"k8s-jwt-file", required_argument, NULL, 'j'},
    {"token-file", required_argument, NULL, 't'},
    {"mount", required_argument, NULL, 'm'},
    {"unseal-share", required_argument, NULL, 'u'},
    {"request-timeout", required_argument, NULL, 'T'},
    {"max-connections", required_argument, NULL, 'M'},
    {"max-per-client", required_argument, NULL, 'P'},
    {"threads", required_argument, NULL, 'N'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool valid_mount(const char *s)
{
	/* One or more '/'-separated key-name-like segments. */
	const char *seg = s;

	for (const char *p = s;; p++) {
		if (*p == '/' || *p == '\0') {
			if (!kmsd_valid_key_name(seg, (size_t)(p - seg)) || strchr("@", seg[0]))
				return false;
			if (!*p)
				return strcmp(s, "sys") != 0 && strncmp(s, "sys/", 4) != 0;
			seg = p + 1;
		}
	}
}

/* Visible ASCII, not ending in '/' (a request's trailing '/' is dropped before comparing). */
static bool valid_header_value(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return n && s[n - 1] != '/';
}

/* A whole number from min to max for the option named; -1 after a message. */
static int parse_count(const char *name, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(optarg, &end, 10);
	if (errno || end == optarg || *end || optarg[0] == '-' || v < min || v > max) {
		ecfs_tool_error(KMSD_PROG, "--%s needs a number from %u to %u, not '%s'", name, min,
				max, optarg);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* The options that bound what clients may hold: a table, as they are parsed alike. */
static int parse_limit(struct serve_opts *o, int c)
{
	static const struct {
		int c;
		const char *name;
		unsigned min, max;
		size_t off;
	} limits[] = {
	    {'T', "request-timeout", 1, 3600, offsetof(struct kmsd_listen, request_timeout)},
	    {'M', "max-connections", 1, 65536, offsetof(struct kmsd_listen, max_connections)},
	    {'P', "max-per-client", 1, 65536, offsetof(struct kmsd_listen, max_per_client)},
	    {'N', "threads", 1, 64, offsetof(struct kmsd_listen, threads)},
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (limits[i].c == c)
			return parse_count(limits[i].name, limits[i].min, limits[i].max,
					   (unsigned *)((char *)&o->listen + limits[i].off));
	return 1;
}

static int parse_one(struct serve_opts *o, int c)
{
	int r = parse_limit(o, c);

	if (r <= 0)
		return r;
	switch (c) {
	case 's':
		o->store = optarg;
		return 0;
	case 'l':
		o->listen.addr = optarg;
		return 0;
	case 'c':
		o->listen.tls_cert = optarg;
		return 0;
	case 'k':
		o->listen.tls_key = optarg;
		return 0;
	case 'i':
		o->listen.insecure_http = true;
		return 0;
	case 'C':
		o->listen.tls_client_ca = optarg;
		return 0;
	case 'n':
		o->namespace_ = optarg;
		return 0;
	case 'r':
		o->k8s_role = optarg;
		return 0;
	case 'j':
		o->k8s_jwt_file = optarg;
		return 0;
	case 't':
		o->token_file = optarg;
		return 0;
	case 'm':
		o->mount = optarg;
		return 0;
	case 'u':
		if (o->nshares == KMSD_MAX_SHARES) {
			ecfs_tool_error(KMSD_PROG, "at most %d --unseal-share", KMSD_MAX_SHARES);
			return -1;
		}
		o->shares[o->nshares++] = optarg;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	default:
		return -1;
	}
}

static int parse_args(int argc, char **argv, struct serve_opts *o)
{
	int c;

	o->listen.addr = "127.0.0.1:8200";
	o->listen.request_timeout = KMSD_DEFAULT_REQUEST_TIMEOUT;
	o->listen.max_connections = KMSD_DEFAULT_MAX_CONNECTIONS;
	o->listen.max_per_client = KMSD_DEFAULT_MAX_PER_CLIENT;
	o->listen.threads = KMSD_DEFAULT_THREADS;
	o->mount = KMSD_DEFAULT_MOUNT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(ECFS_EXIT_OK);
		}
		if (parse_one(o, c) < 0)
			return -1;
	}
	if (optind != argc || !o->store) {
		ecfs_tool_error(KMSD_PROG, "serve needs --store DIR and no other arguments");
		return -1;
	}
	if (!valid_mount(o->mount)) {
		ecfs_tool_error(KMSD_PROG, "invalid --mount '%s'", o->mount);
		return -1;
	}
	if (!o->k8s_role != !o->k8s_jwt_file) {
		ecfs_tool_error(KMSD_PROG, "--k8s-role and --k8s-jwt-file go together");
		return -1;
	}
	if (o->namespace_ && !valid_header_value(o->namespace_)) {
		ecfs_tool_error(KMSD_PROG, "invalid --namespace '%s'", o->namespace_);
		return -1;
	}
	if (o->listen.max_per_client > o->listen.max_connections) {
		ecfs_tool_error(KMSD_PROG, "--max-per-client %u is above --max-connections %u",
				o->listen.max_per_client, o->listen.max_connections);
		return -1;
	}
	if (o->listen.insecure_http && (o->listen.tls_cert || o->listen.tls_key)) {
		ecfs_tool_error(KMSD_PROG, "--insecure-http and --tls-cert/--tls-key exclude each "
					   "other");
		return -1;
	}
	return 0;
}

/* Reads a token file, drops trailing whitespace (as the client does), and keeps only its
 * hash. */
static int load_hash(const char *path, const char *what, size_t min, uint8_t hash[32])
{
	struct ecfs_secret *s;
	struct stat st;
	size_t n;
	const uint8_t *p;
	int r = ecfs_secret_read_file(path, 1, 64 * 1024, &s, &st);

	if (r < 0)
		return r;
	p = ecfs_secret_data(s);
	n = ecfs_secret_len(s);
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n < min)
		r = ecfs_fail(-EINVAL, "%s file '%s' holds fewer than %zu characters", what, path,
			      min);
	else
		ecfs_sha256(p, n, hash);
	if (r == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)))
		ecfs_tool_warn(KMSD_PROG, "%s file '%s' is readable by group or others", what,
			       path);
	ecfs_secret_free(s);
	return r;
}

static int exit_code(int r)
{
	switch (r) {
	case -EKEYREJECTED:
	case -EBADMSG:
		return ECFS_EXIT_WRONG_KEY;
	case -EUCLEAN:
	case -EPROTONOSUPPORT:
		return ECFS_EXIT_DAMAGED;
	case -EINVAL:
		return ECFS_EXIT_USAGE;
	default:
		return ECFS_EXIT_ERROR;
	}
}

static int apply_shares(const struct serve_opts *o, struct kmsd_server *srv)
{
	for (unsigned i = 0; i < o->nshares; i++) {
		struct ecfs_secret *text;
		int r = kmsd_share_read_file(o->shares[i], &text);

		if (r == 0) {
			r = kmsd_seal_submit(&srv->seal, (const char *)ecfs_secret_data(text),
					     ecfs_secret_len(text));
			ecfs_secret_free(text);
		}
		if (r < 0) {
			ecfs_tool_error(KMSD_PROG, "unseal share '%s': %s", o->shares[i],
					ecfs_last_error());
			return r == -EINVAL ? -EBADMSG : r;
		}
	}
	if (srv->seal.sealed && o->nshares)
		kmsd_log("still sealed: %u of %u shares given; unseal with PUT /v1/sys/unseal",
			 srv->seal.progress, srv->store->t);
	else if (!srv->seal.sealed)
		kmsd_log("unsealed: %zu keys", srv->store->nkeys);
	return 0;
}

/* Waits for a stop signal (blocked in every thread: microhttpd's inherit the mask), closing
 * the connections past their request's deadline once a second meanwhile. */
static void wait_for_stop(const sigset_t *set, struct kmsd_daemon *d)
{
	const struct timespec second = {.tv_sec = 1};
	int sig;

	while ((sig = sigtimedwait(set, NULL, &second)) < 0)
		if (errno == EAGAIN)
			kmsd_listen_sweep(d);
	kmsd_log("stopping on signal %d", sig);
}

static int run(struct serve_opts *o, struct kmsd_server *srv)
{
	char default_token[4096];
	struct kmsd_daemon *d = NULL;
	sigset_t set;
	int r;

	snprintf(default_token, sizeof(default_token), "%s/%s", o->store, KMSD_TOKEN_NAME);
	r = load_hash(o->token_file ? o->token_file : default_token, "token", TOKEN_MIN,
		      srv->token_hash);
	if (r == 0 && o->k8s_jwt_file)
		r = load_hash(o->k8s_jwt_file, "Kubernetes JWT", 1, srv->k8s_jwt_hash);
	if (r < 0) {
		ecfs_tool_error(KMSD_PROG, "%s", ecfs_last_error());
		return r == -EINVAL ? ECFS_EXIT_USAGE : ECFS_EXIT_ERROR;
	}
	kmsd_uuid_str(srv->store->uuid, srv->cluster_id);
	if (!srv->store->verifiers)
		kmsd_log("warning: the key store has no share verifiers (%s, made by init since "
			 "they exist): a share forged from the store ID is caught only when the "
			 "combination fails",
			 KMSD_VERIFY_NAME);
	r = apply_shares(o, srv);
	if (r < 0)
		return exit_code(r);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = kmsd_listen_start(&o->listen, srv, &d);
	if (r < 0) {
		ecfs_tool_error(KMSD_PROG, "%s", ecfs_last_error());
		return r == -EINVAL ? ECFS_EXIT_USAGE : ECFS_EXIT_ERROR;
	}
	wait_for_stop(&set, d);
	kmsd_listen_stop(d);
	return ECFS_EXIT_OK;
}

int kmsd_serve_main(int argc, char **argv)
{
	struct serve_opts o = {0};
	struct kmsd_server srv = {0};
	int r, lockfd;

	ecfs_harden_process();
	if (parse_args(argc, argv, &o) < 0)
		return ECFS_EXIT_USAGE;
	r = kmsd_store_lock(o.store, &lockfd);
	if (r != ECFS_EXIT_OK)
		return r;
	r = kmsd_store_open(o.store, &srv.store);
	if (r < 0) {
		ecfs_tool_error(KMSD_PROG, "%s", ecfs_last_error());
		close(lockfd);
		return r == -EUCLEAN || r == -EPROTONOSUPPORT ? ECFS_EXIT_DAMAGED : ECFS_EXIT_ERROR;
	}
	srv.mount = o.mount;
	srv.verbose = o.verbose;
	srv.k8s_role = o.k8s_role;
	srv.namespace_ = o.namespace_;
	srv.client_certs = o.listen.tls_client_ca != NULL;
	pthread_mutex_init(&srv.lock, NULL);
	r = kmsd_seal_init(&srv.seal, srv.store);
	if (r == 0)
		r = run(&o, &srv);
	else
		r = ECFS_EXIT_ERROR;
	/* Sealing wipes every key before the process goes. */
	kmsd_seal_close(&srv.seal);
	kmsd_seal_free(&srv.seal);
	kmsd_store_free(srv.store);
	ecfs_wipe(srv.token_hash, sizeof(srv.token_hash));
	ecfs_wipe(srv.issued, sizeof(srv.issued));
	pthread_mutex_destroy(&srv.lock);
	close(lockfd); /* after the last save */
	return r;
}
