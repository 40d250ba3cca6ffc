/* SPDX-License-Identifier: MIT */
/*
 * listen.c - the listening socket and TLS: HTTPS (TLS 1.2+, libmicrohttpd over GnuTLS) with
 * the given PEM certificate and key, or plain HTTP only when asked for and only on a loopback
 * address, so that tokens and plaintexts never cross a network in clear. With a client CA,
 * client certificates are asked for (and verified per request by mtls.c).
 */
#include "kmsd.h"
#include "loopback.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

struct kmsd_daemon {
	struct MHD_Daemon *mhd;
	struct kmsd_deadlines *deadlines;
	char *cert;		 /* PEM, NUL-terminated */
	char *client_ca;	 /* PEM, NUL-terminated; NULL: no client certificates */
	struct ecfs_secret *key; /* PEM, NUL-terminated, locked */
};

struct addr {
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
	bool v6;
	char host[64]; /* as in a URL: IPv6 in brackets */
};

/* HOST:PORT with a numeric IPv4 host, or [IPv6]:PORT. */
static int parse_addr(const char *s, struct addr *a)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (!colon || colon == s || (hl = (size_t)(colon - s)) >= sizeof(a->host))
		return ecfs_fail(-EINVAL, "listen address '%s' is not HOST:PORT", s);
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return ecfs_fail(-EINVAL, "listen address '%s' has a bad port", s);
	memcpy(a->host, s, hl);
	a->host[hl] = '\0';
	if (a->host[0] == '[' && a->host[hl - 1] == ']') {
		char v6[64];

		memcpy(v6, a->host + 1, hl - 2);
		v6[hl - 2] = '\0';
		a->v6 = true;
		a->sa.v6.sin6_family = AF_INET6;
		a->sa.v6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, v6, &a->sa.v6.sin6_addr) == 1)
			return 0;
	} else {
		a->sa.v4.sin_family = AF_INET;
		a->sa.v4.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, a->host, &a->sa.v4.sin_addr) == 1)
			return 0;
	}
	return ecfs_fail(-EINVAL,
			 "listen address '%s' needs a numeric IP address (IPv6 in "
			 "brackets)",
			 s);
}

static int read_pem(const char *path, const char *what, struct ecfs_secret **out)
{
	struct ecfs_secret *s;
	int r = ecfs_secret_read_file(path, 1, 1 << 20, &s, NULL);

	if (r < 0)
		return ecfs_fail(r, "cannot read the TLS %s: %s", what, ecfs_last_error());
	/* GnuTLS wants a NUL-terminated string. */
	*out = ecfs_secret_new(ecfs_secret_len(s) + 1);
	if (*out)
		memcpy(ecfs_secret_data(*out), ecfs_secret_data(s), ecfs_secret_len(s));
	ecfs_secret_free(s);
	return *out ? 0 : ecfs_fail(-ENOMEM, "out of memory");
}

static int load_tls(const struct kmsd_listen *l, struct kmsd_daemon *d)
{
	struct ecfs_secret *cert;
	int r;

	if (!l->tls_cert || !l->tls_key)
		return ecfs_fail(-EINVAL, "HTTPS needs --tls-cert and --tls-key (or, on a loopback "
					  "address only, --insecure-http)");
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return ecfs_fail(-ENOTSUP, "this libmicrohttpd was built without TLS");
	r = read_pem(l->tls_cert, "certificate", &cert);
	if (r < 0)
		return r;
	d->cert = strdup((const char *)ecfs_secret_data(cert));
	ecfs_secret_free(cert);
	if (!d->cert)
		return ecfs_fail(-ENOMEM, "out of memory");
	if (l->tls_client_ca) {
		r = read_pem(l->tls_client_ca, "client CA", &cert);
		if (r < 0)
			return r;
		d->client_ca = strdup((const char *)ecfs_secret_data(cert));
		ecfs_secret_free(cert);
		if (!d->client_ca)
			return ecfs_fail(-ENOMEM, "out of memory");
	}
	return read_pem(l->tls_key, "key", &d->key);
}

/* microhttpd logs a line for each connection it drops: a few hundred slow clients would
 * bury the log. At most LOG_PER_SECOND lines a second, then how many were left out. */
#define LOG_PER_SECOND 5

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t log_second;		      /* protected by log_lock */
static unsigned long log_lines, log_left_out; /* protected by log_lock */

/* Whether a line may go out now; *left_out: lines left out in earlier seconds, to report. */
static bool log_allowed(unsigned long *left_out)
{
	time_t now = time(NULL);
	bool ok;

	pthread_mutex_lock(&log_lock);
	*left_out = 0;
	if (now != log_second) {
		*left_out = log_left_out;
		log_left_out = log_lines = 0;
		log_second = now;
	}
	ok = log_lines < LOG_PER_SECOND;
	if (ok)
		log_lines++;
	else
		log_left_out++;
	pthread_mutex_unlock(&log_lock);
	return ok;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	unsigned long left_out;
	size_t n;

	(void)cls;
	if (!log_allowed(&left_out))
		return;
	if (left_out)
		kmsd_log("microhttpd: %lu more messages left out", left_out);
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	kmsd_log("microhttpd: %s", line);
}

/* Room for every connection allowed, and some for the store, logs and listeners. */
static void raise_fd_limit(unsigned max_connections)
{
	rlim_t want = (rlim_t)max_connections + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		kmsd_log("warning: only %llu file descriptors for --max-connections %u",
			 (unsigned long long)rl.rlim_cur, max_connections);
}

/* The limits that keep the server answering while slow or idle clients hold connections. */
static size_t limit_opts(const struct kmsd_listen *l, struct kmsd_daemon *d,
			 struct MHD_OptionItem *o)
{
	size_t n = 0;

	/* Idle time only; deadline.c bounds a whole request however slowly it comes. */
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, l->request_timeout, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
					 (intptr_t)kmsd_deadline_notify, d->deadlines};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, l->max_connections, NULL};
	o[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, l->max_per_client, NULL};
	if (l->threads > 1)
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, l->threads, NULL};
	return n;
}

static struct MHD_Daemon *start(const struct kmsd_listen *l, const struct addr *a, bool tls,
				struct kmsd_daemon *d, struct kmsd_server *srv)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[16];
	size_t n = 0;

	/* The logger first, or microhttpd logs the options before it to stderr itself. */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)&a->sa};
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)kmsd_on_completed, NULL};
	n += limit_opts(l, d, opts + n);
	if (tls) {
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, d->cert};
		opts[n++] =
		    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, ecfs_secret_data(d->key)};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
		/* Makes microhttpd ask for a client certificate; mtls.c verifies it. */
		if (d->client_ca)
			opts[n++] =
			    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, d->client_ca};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	if (a->v6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, 0, NULL, NULL, kmsd_on_request, srv, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
}

int kmsd_listen_start(const struct kmsd_listen *l, struct kmsd_server *srv,
		      struct kmsd_daemon **out)
{
	struct kmsd_daemon *d;
	const union MHD_DaemonInfo *info;
	struct addr a;
	int r = parse_addr(l->addr, &a);

	if (r < 0)
		return r;
	if (l->insecure_http && l->tls_client_ca)
		return ecfs_fail(-EINVAL, "--tls-client-ca needs HTTPS, not --insecure-http");
	if (l->insecure_http && !kms_host_is_loopback(a.host))
		return ecfs_fail(-EINVAL,
				 "--insecure-http is allowed only on a loopback address, "
				 "not %s",
				 a.host);
	d = calloc(1, sizeof(*d));
	if (!d)
		return ecfs_fail(-ENOMEM, "out of memory");
	if (!l->insecure_http && (r = load_tls(l, d)) < 0) {
		kmsd_listen_stop(d);
		return r;
	}
	d->deadlines = kmsd_deadlines_new(l->request_timeout);
	if (!d->deadlines) {
		kmsd_listen_stop(d);
		return ecfs_fail(-ENOMEM, "out of memory");
	}
	raise_fd_limit(l->max_connections);
	d->mhd = start(l, &a, !l->insecure_http, d, srv);
	if (!d->mhd) {
		kmsd_listen_stop(d);
		return ecfs_fail(-EADDRNOTAVAIL,
				 "cannot listen on %s (in use, not local, or a bad "
				 "TLS certificate or key)",
				 l->addr);
	}
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	kmsd_log("listening on %s://%s:%u (%s; %u threads, at most %u connections, %u per "
		 "client, %u s per request)",
		 l->insecure_http ? "http" : "https", a.host, info ? (unsigned)info->port : 0u,
		 srv->seal.sealed ? "sealed" : "unsealed", l->threads > 1 ? l->threads : 1,
		 l->max_connections, l->max_per_client, l->request_timeout);
	*out = d;
	return 0;
}

void kmsd_listen_sweep(struct kmsd_daemon *d)
{
	kmsd_deadlines_sweep(d->deadlines);
}

void kmsd_listen_stop(struct kmsd_daemon *d)
{
	if (!d)
		return;
	if (d->mhd)
		MHD_stop_daemon(d->mhd);
	kmsd_deadlines_free(d->deadlines);
	free(d->cert);
	free(d->client_ca);
	ecfs_secret_free(d->key);
	free(d);
}
