/* SPDX-License-Identifier: MIT */
/*
 * test_kms_client.c - the KMS client against a real envcryptfs-kmsd over real TLS on
 * 127.0.0.1: a test CA and server certificate are made with openssl(1), the server is
 * initialized 3-of-5 and started on a free port, and every ecfs_kms_* call and error path is
 * exercised. The server is the envcryptfs-kmsd next to this test's build directory (or in
 * $ECFS_BIN); without it the tests are skipped.
 */
#include <criterion/criterion.h>

#include "ecfs_kms.h"
#include "internal.h"
#include "client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char kmsd[PATH_MAX];
static char dir[64];
static pid_t server = -1;
static int port;
static int starts;

/* ---- fixtures ---------------------------------------------------------------------------- */

static bool find_kmsd(void)
{
	const char *bin = getenv("ECFS_BIN");
	char self[PATH_MAX];
	ssize_t n;

	if (bin) {
		snprintf(kmsd, sizeof(kmsd), "%s/envcryptfs-kmsd", bin);
		return access(kmsd, X_OK) == 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	/* BUILD/tests/test_kms_client -> BUILD/envcryptfs-kmsd */
	snprintf(kmsd, sizeof(kmsd), "%s/../envcryptfs-kmsd", dirname(self));
	return access(kmsd, X_OK) == 0;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

static void path(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", dir, name);
}

/* A client certificate NAME.pem/NAME.key (clientAuth) signed by the CA CA.pem. */
static void make_client_cert(const char *name, const char *ca)
{
	sh("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	   "-keyout %s.key -out %s.csr -subj /CN=%s 2>/dev/null && "
	   "printf 'extendedKeyUsage=clientAuth\\n' >%s.ext && "
	   "openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -out %s.pem "
	   "-days 2 -extfile %s.ext 2>/dev/null",
	   dir, name, name, name, name, name, ca, ca, name, name);
}

/* A test CA, a server certificate for IP 127.0.0.1 signed by it, an unrelated CA, and a client
 * certificate from each CA. */
static void make_certs(void)
{
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

	sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -subj /CN=ecfs-test-ca "
	   "-days 2 2>/dev/null && "
	   "openssl req -x509 %s -keyout ca2.key -out ca2.pem -subj /CN=other-ca -days 2 "
	   "2>/dev/null && "
	   "openssl req %s -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null && "
	   "printf 'subjectAltName=IP:127.0.0.1\\n' >ext && "
	   "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
	   "-days 2 -extfile ext 2>/dev/null",
	   dir, ec, ec, ec);
	make_client_cert("cli", "ca");
	make_client_cert("cli2", "ca2");
}

static void setup(void)
{
	if (!find_kmsd())
		cr_skip_test("envcryptfs-kmsd is not built next to the tests");
	snprintf(dir, sizeof(dir), "/tmp/ecfs-kmsc.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	make_certs();
	sh("%s init --store %s/st --shares 5 --threshold 3 >/dev/null", kmsd, dir);
	unsetenv("VAULT_TOKEN");
}

/* Reads the port from the server's "listening on https://127.0.0.1:PORT" line. */
static int wait_listening(const char *log)
{
	for (int i = 0; i < 300; i++) {
		char buf[8192] = "", *p;
		FILE *f = fopen(log, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		p = strstr(buf, "listening on ");
		if (p && (p = strstr(p, "127.0.0.1:")))
			return atoi(p + 10);
		cr_assert_eq(waitpid(server, NULL, WNOHANG), 0, "the server exited: %s", buf);
		usleep(20000);
	}
	cr_assert_fail("the server did not start listening");
	return -1;
}

/* Starts envcryptfs-kmsd serve with the given unseal share numbers (0-terminated list) and
 * extra arguments (NULL-terminated; NULL: none). */
static void start_server_with(bool insecure, const int *shares, const char *const *extra)
{
	char *argv[32], log[PATH_MAX], st[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	char share[5][PATH_MAX];
	int n = 0;

	path(st, "st");
	path(cert, "srv.pem");
	path(key, "srv.key");
	snprintf(log, sizeof(log), "%s/log.%d", dir, ++starts);
	argv[n++] = kmsd;
	argv[n++] = "serve";
	argv[n++] = "--store";
	argv[n++] = st;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	if (insecure) {
		argv[n++] = "--insecure-http";
	} else {
		argv[n++] = "--tls-cert";
		argv[n++] = cert;
		argv[n++] = "--tls-key";
		argv[n++] = key;
	}
	for (int i = 0; shares && shares[i]; i++) {
		snprintf(share[i], PATH_MAX, "%s/st/share.%d", dir, shares[i]);
		argv[n++] = "--unseal-share";
		argv[n++] = share[i];
	}
	for (int i = 0; extra && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	server = fork();
	cr_assert(server >= 0);
	if (server == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 2);
		execv(kmsd, argv);
		_exit(127);
	}
	port = wait_listening(log);
}

static void start_server(bool insecure, const int *shares)
{
	start_server_with(insecure, shares, NULL);
}

/* SIGTERM must stop the server cleanly: exit 0 (under ASan, also no leak). */
static void stop_server(void)
{
	int status = 0;

	if (server <= 0)
		return;
	kill(server, SIGTERM);
	cr_assert_eq(waitpid(server, &status, 0), server);
	server = -1;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exit status %#x", status);
}

static void teardown(void)
{
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		server = -1;
	}
	if (dir[0])
		sh("rm -rf %s", dir);
}

TestSuite(kms_client, .init = setup, .fini = teardown, .timeout = 60);

/* ---- client helpers ----------------------------------------------------------------------- */

struct opts {
	const char *ca;	   /* file in dir; NULL: none */
	const char *token; /* file in dir; default st/token */
	bool http;
	int retries;
	const char *cert;	/* "NAME": NAME.pem and NAME.key in dir, for mTLS */
	const char *namespace_; /* X-Vault-Namespace */
	const char *role, *jwt; /* Kubernetes login (jwt: file in dir) instead of a token */
};

static struct ecfs_kms *client(struct opts o)
{
	char url[128], ca[PATH_MAX], token[PATH_MAX], jwt[PATH_MAX], cert[PATH_MAX], ckey[PATH_MAX];
	struct ecfs_kms_config cfg = {0};
	struct ecfs_kms *k = NULL;

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", o.http ? "http" : "https", port);
	path(ca, o.ca ? o.ca : "ca.pem");
	path(token, o.token ? o.token : "st/token");
	cfg.url = url;
	cfg.key = "vol1";
	cfg.token_file = token;
	cfg.cacert = o.ca || !o.http ? ca : NULL;
	if (o.ca && strcmp(o.ca, "-") == 0)
		cfg.cacert = NULL;
	cfg.timeout_ms = 5000;
	cfg.retries = o.retries;
	cfg.namespace_ = o.namespace_;
	if (o.role) {
		path(jwt, o.jwt);
		cfg.token_file = NULL;
		cfg.role = o.role;
		cfg.jwt_file = jwt;
	}
	if (o.cert) {
		snprintf(cert, sizeof(cert), "%s/%s.pem", dir, o.cert);
		snprintf(ckey, sizeof(ckey), "%s/%s.key", dir, o.cert);
		cfg.cert = cert;
		cfg.client_key = ckey;
	}
	cr_assert_eq(ecfs_kms_new(&cfg, &k), 0, "%s", ecfs_last_error());
	return k;
}

/* A raw request through the client's own HTTP path; returns the status. */
static long raw(struct ecfs_kms *k, const char *method, const char *p, const char *body,
		bool with_token)
{
	struct kms_http_resp rs = {0};
	long st;

	pthread_mutex_lock(&k->lock);
	cr_assert_eq(kms_call(k, "raw", method, p, body, body ? strlen(body) : 0,
			      KMS_RETRY_TRANSPORT, with_token, &rs),
		     0, "%s", ecfs_last_error());
	pthread_mutex_unlock(&k->lock);
	st = rs.status;
	kms_http_resp_free(&rs);
	return st;
}

/* PUT /v1/sys/unseal with share file number i. */
static long unseal_with(struct ecfs_kms *k, int i)
{
	char p[PATH_MAX], line[256] = "", body[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/st/share.%d", dir, i);
	f = fopen(p, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f) && line[0] == '#')
		;
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", line);
	return raw(k, "PUT", "/v1/sys/unseal", body, false);
}

static const int three[] = {1, 2, 3, 0};

static void create_key(struct ecfs_kms *k)
{
	cr_assert_eq(raw(k, "POST", "/v1/transit/keys/vol1", "{\"type\":\"aes256-gcm96\"}", true),
		     200);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests -------------------------------------------------------------------------------- */

Test(kms_client, sealed_until_threshold)
{
	struct ecfs_kms *k;
	uint64_t v;
	char *ct;

	start_server(false, NULL);
	k = client((struct opts){.retries = -1});
	cr_assert_eq(ecfs_kms_health(k), -EAGAIN);
	cr_assert(strstr(ecfs_last_error(), "sealed"), "%s", ecfs_last_error());
	cr_assert_eq(ecfs_kms_encrypt(k, (const uint8_t *)"x", 1, &ct, &v), -EAGAIN);
	cr_assert(strstr(ecfs_last_error(), "sealed"), "%s", ecfs_last_error());
	cr_assert_eq(unseal_with(k, 2), 200);
	cr_assert_eq(unseal_with(k, 5), 200);
	cr_assert_eq(ecfs_kms_health(k), -EAGAIN, "2 of 3 shares unsealed it");
	cr_assert_eq(unseal_with(k, 4), 200);
	cr_assert_eq(ecfs_kms_health(k), 0, "%s", ecfs_last_error());
	/* sys/seal seals again. */
	cr_assert_eq(raw(k, "PUT", "/v1/sys/seal", NULL, true), 204);
	cr_assert_eq(ecfs_kms_health(k), -EAGAIN);
	ecfs_kms_free(k);
	stop_server();
}

Test(kms_client, round_trip_and_errors)
{
	uint8_t plain[32];
	struct ecfs_secret *out;
	struct ecfs_kms *k, *bad;
	uint64_t v = 0, latest = 0, min = 0;
	char *ct, *tampered;

	start_server(false, three);
	k = client((struct opts){0});
	cr_assert_eq(ecfs_kms_health(k), 0, "%s", ecfs_last_error());
	create_key(k);
	cr_assert_eq(ecfs_random(plain, sizeof(plain)), 0);
	cr_assert_eq(ecfs_kms_encrypt(k, plain, sizeof(plain), &ct, &v), 0, "%s",
		     ecfs_last_error());
	cr_assert_eq(v, 1);
	cr_assert_eq(ecfs_kms_ciphertext_version(ct), 1);
	cr_assert_eq(ecfs_kms_decrypt(k, ct, &out), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_secret_len(out), sizeof(plain));
	cr_assert_eq(memcmp(ecfs_secret_data(out), plain, sizeof(plain)), 0);
	ecfs_secret_free(out);
	cr_assert_eq(ecfs_kms_key_info(k, &latest, &min), 0);
	cr_assert(latest == 1 && min == 1);

	/* A tampered ciphertext fails authentication at the server. */
	tampered = strdup(ct);
	tampered[12] = tampered[12] == 'A' ? 'B' : 'A';
	cr_assert_eq(ecfs_kms_decrypt(k, tampered, &out), -EBADMSG, "%s", ecfs_last_error());
	free(tampered);
	cr_assert_eq(ecfs_kms_decrypt(k, "not a ciphertext", &out), -EINVAL);

	/* A wrong token: 403, named as such, with the server's URL. */
	sh("printf 'ecfs.wrong-token-0123456789\\n' >%s/bad-token", dir);
	bad = client((struct opts){.token = "bad-token"});
	cr_assert_eq(ecfs_kms_decrypt(bad, ct, &out), -EACCES);
	cr_assert(strstr(ecfs_last_error(), "permission denied"), "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "https://127.0.0.1:"), "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "'vol1'"), "%s", ecfs_last_error());
	ecfs_kms_free(bad);
	free(ct);

	/* Empty plaintexts round-trip too. */
	cr_assert_eq(ecfs_kms_encrypt(k, NULL, 0, &ct, &v), 0);
	cr_assert_eq(ecfs_kms_decrypt(k, ct, &out), 0);
	cr_assert_eq(ecfs_secret_len(out), 0);
	ecfs_secret_free(out);
	free(ct);
	ecfs_kms_free(k);
	stop_server();
}

Test(kms_client, untrusted_certificate_is_eproto)
{
	struct ecfs_kms *k;
	uint64_t v;
	char *ct;

	start_server(false, three);
	k = client((struct opts){.ca = "ca2.pem", .retries = -1});
	cr_assert_eq(ecfs_kms_encrypt(k, (const uint8_t *)"x", 1, &ct, &v), -EPROTO);
	cr_assert(strstr(ecfs_last_error(), "certificate verify failed"), "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "cacert"), "%s", ecfs_last_error());
	ecfs_kms_free(k);
	/* No CA file: the system store does not know the test CA either. */
	k = client((struct opts){.ca = "-", .retries = -1});
	cr_assert_eq(ecfs_kms_health(k), -EPROTO);
	ecfs_kms_free(k);
	/* Plain HTTP to an HTTPS server fails, and not silently. */
	k = client((struct opts){.http = true, .retries = -1});
	cr_assert_lt(ecfs_kms_health(k), 0);
	ecfs_kms_free(k);
	stop_server();
}

Test(kms_client, rotate_rewrap_min_decryption)
{
	struct ecfs_secret *out;
	struct ecfs_kms *k;
	uint64_t v = 0, latest, min;
	char *ct1, *ct2;

	start_server(false, three);
	k = client((struct opts){0});
	create_key(k);
	cr_assert_eq(ecfs_kms_encrypt(k, (const uint8_t *)"secret", 6, &ct1, &v), 0);
	cr_assert_eq(ecfs_kms_rotate(k), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_kms_key_info(k, &latest, &min), 0);
	cr_assert(latest == 2 && min == 1);
	cr_assert_eq(ecfs_kms_rewrap(k, ct1, &ct2, &v), 0, "%s", ecfs_last_error());
	cr_assert_eq(v, 2);
	cr_assert_eq(ecfs_kms_ciphertext_version(ct2), 2);
	cr_assert_eq(
	    raw(k, "POST", "/v1/transit/keys/vol1/config", "{\"min_decryption_version\":2}", true),
	    200);
	cr_assert_eq(ecfs_kms_key_info(k, &latest, &min), 0);
	cr_assert(latest == 2 && min == 2);
	cr_assert_eq(ecfs_kms_decrypt(k, ct1, &out), -EKEYREVOKED);
	cr_assert(strstr(ecfs_last_error(), "disallowed"), "%s", ecfs_last_error());
	cr_assert_eq(ecfs_kms_rewrap(k, ct1, &ct2, &v), -EKEYREVOKED);
	cr_assert_eq(ecfs_kms_decrypt(k, ct2, &out), 0);
	cr_assert_eq(memcmp(ecfs_secret_data(out), "secret", 6), 0);
	ecfs_secret_free(out);
	free(ct1);
	free(ct2);
	ecfs_kms_free(k);
	stop_server();
}

Test(kms_client, deleted_key)
{
	struct ecfs_secret *out;
	struct ecfs_kms *k;
	uint64_t v, latest, min;
	char *ct;

	start_server(false, three);
	k = client((struct opts){0});
	create_key(k);
	cr_assert_eq(ecfs_kms_encrypt(k, (const uint8_t *)"x", 1, &ct, &v), 0);
	cr_assert_eq(raw(k, "DELETE", "/v1/transit/keys/vol1", NULL, true), 400,
		     "deleted without deletion_allowed");
	cr_assert_eq(
	    raw(k, "POST", "/v1/transit/keys/vol1/config", "{\"deletion_allowed\":true}", true),
	    200);
	cr_assert_eq(raw(k, "DELETE", "/v1/transit/keys/vol1", NULL, true), 204);
	cr_assert_eq(ecfs_kms_decrypt(k, ct, &out), -ENOKEY, "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "not found"), "%s", ecfs_last_error());
	cr_assert_eq(ecfs_kms_key_info(k, &latest, &min), -ENOKEY);
	cr_assert_eq(ecfs_kms_rotate(k), -ENOKEY);
	free(ct);
	ecfs_kms_free(k);
	stop_server();
}

Test(kms_client, restart_from_store)
{
	static const int other_three[] = {5, 3, 4, 0};
	struct ecfs_secret *out;
	struct ecfs_kms *k;
	uint64_t v;
	char *ct;

	start_server(false, three);
	k = client((struct opts){0});
	create_key(k);
	cr_assert_eq(ecfs_kms_encrypt(k, (const uint8_t *)"persist", 7, &ct, &v), 0);
	cr_assert_eq(ecfs_kms_rotate(k), 0);
	ecfs_kms_free(k);
	stop_server();
	start_server(false, other_three);
	k = client((struct opts){0});
	cr_assert_eq(ecfs_kms_decrypt(k, ct, &out), 0, "%s", ecfs_last_error());
	cr_assert_eq(memcmp(ecfs_secret_data(out), "persist", 7), 0);
	ecfs_secret_free(out);
	free(ct);
	cr_assert_eq(ecfs_kms_encrypt(k, (const uint8_t *)"x", 1, &ct, &v), 0);
	cr_assert_eq(v, 2);
	free(ct);
	ecfs_kms_free(k);
	stop_server();
}

Test(kms_client, stopped_server_is_econnrefused_after_retries)
{
	struct ecfs_kms *k;
	double t0, dt;
	uint64_t v;
	char *ct;

	start_server(false, three);
	k = client((struct opts){0}); /* the default 3 retries */
	stop_server();
	t0 = now();
	cr_assert_eq(ecfs_kms_encrypt(k, (const uint8_t *)"x", 1, &ct, &v), -ECONNREFUSED);
	dt = now() - t0;
	/* 200 + 400 + 800 ms of backoff, +-25% */
	cr_assert(dt > 1.0 && dt < 5.0, "took %.2f s", dt);
	cr_assert(strstr(ecfs_last_error(), "cannot connect"), "%s", ecfs_last_error());
	ecfs_kms_free(k);
}

Test(kms_client, silent_server_is_etimedout)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	struct ecfs_kms_config cfg = {0};
	struct ecfs_kms *k;
	char url[64], token[PATH_MAX];
	int s = socket(AF_INET, SOCK_STREAM, 0);

	/* Listens but never answers: the connection is accepted by the kernel, then nothing. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s, 8), 0);
	getsockname(s, (struct sockaddr *)&sa, &len);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	path(token, "st/token");
	cfg = (struct ecfs_kms_config){
	    .url = url, .key = "k", .token_file = token, .timeout_ms = 300, .retries = -1};
	cr_assert_eq(ecfs_kms_new(&cfg, &k), 0);
	cr_assert_eq(ecfs_kms_health(k), -ETIMEDOUT, "%s", ecfs_last_error());
	ecfs_kms_free(k);
	close(s);
}

/* A socket on 127.0.0.1 that the kernel accepts connections on and nobody answers; its URL. */
static int silent_listener(const char *scheme, char *url, size_t size)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s, 8), 0);
	getsockname(s, (struct sockaddr *)&sa, &len);
	snprintf(url, size, "%s://127.0.0.1:%d", scheme, ntohs(sa.sin_port));
	return s;
}

Test(kms_client, timeout_is_a_deadline_for_the_whole_call)
{
	struct ecfs_kms_config cfg = {0};
	struct ecfs_kms *k;
	struct ecfs_secret *plain = NULL;
	char url[64], token[PATH_MAX], ca[PATH_MAX];
	int s = silent_listener("https", url, sizeof(url));
	double t0, dt;

	/* Retries on: a timed-out attempt may be retried, but never past the call's deadline
	 * (before, each of the 4 attempts had the whole timeout: 8 s and more here). */
	path(token, "st/token");
	path(ca, "ca.pem");
	cfg = (struct ecfs_kms_config){
	    .url = url, .key = "k", .token_file = token, .cacert = ca, .timeout_ms = 2000};
	cr_assert_eq(ecfs_kms_new(&cfg, &k), 0);
	t0 = now();
	cr_assert_eq(ecfs_kms_decrypt(k, "vault:v1:AAAA", &plain), -ETIMEDOUT, "%s",
		     ecfs_last_error());
	dt = now() - t0;
	cr_assert(dt < 7.0, "took %.2f s with a 2 s deadline", dt);
	cr_assert(strstr(ecfs_last_error(), "timed out"), "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), url), "%s", ecfs_last_error());
	ecfs_kms_free(k);
	close(s);
}

Test(kms_client, plain_http_on_loopback)
{
	struct ecfs_kms *k;

	start_server(true, three);
	k = client((struct opts){.http = true});
	cr_assert_eq(ecfs_kms_health(k), 0, "%s", ecfs_last_error());
	ecfs_kms_free(k);
	stop_server();
}

/* Encrypts and decrypts "x" with k: 0 or the first failure. */
static int round_trip(struct ecfs_kms *k)
{
	struct ecfs_secret *out = NULL;
	uint64_t v;
	char *ct = NULL;
	int r = ecfs_kms_encrypt(k, (const uint8_t *)"x", 1, &ct, &v);

	if (r == 0)
		r = ecfs_kms_decrypt(k, ct, &out);
	if (r == 0)
		cr_assert(ecfs_secret_len(out) == 1 && *(char *)ecfs_secret_data(out) == 'x');
	ecfs_secret_free(out);
	free(ct);
	return r;
}

/* The login's error, and that it names the login. */
static void assert_login_fails(const char *role, const char *jwt, int err, const char *why)
{
	struct ecfs_kms *k = client((struct opts){.role = role, .jwt = jwt, .retries = -1});

	cr_assert_eq(round_trip(k), err, "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "Kubernetes login"), "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), why), "%s", ecfs_last_error());
	ecfs_kms_free(k);
}

Test(kms_client, kubernetes_login)
{
	char jwt[PATH_MAX];
	const char *args[] = {"--k8s-role", "envcryptfs", "--k8s-jwt-file", jwt, NULL};
	struct ecfs_kms *k;

	path(jwt, "jwt");
	sh("printf 'eyJhbGciOiJSUzI1NiJ9.e30.sig\\n' >%s && chmod 600 %s", jwt, jwt);
	sh("printf 'eyJhbGciOiJSUzI1NiJ9.e30.other\\n' >%s/jwt-bad", dir);
	start_server_with(false, three, args);
	/* No token file and no $VAULT_TOKEN: the token comes from the login alone. */
	k = client((struct opts){.role = "envcryptfs", .jwt = "jwt"});
	cr_assert_eq(round_trip(k), 0, "%s", ecfs_last_error());
	cr_assert(k->token && ecfs_secret_len(k->token) == 53);
	cr_assert_eq(memcmp(ecfs_secret_data(k->token), "kmsd.", 5), 0);
	ecfs_kms_free(k);
	assert_login_fails("envcryptfs", "jwt-bad", -EACCES, "permission denied");
	/* Vault answers an unknown role with 400 "invalid role name". */
	assert_login_fails("other", "jwt", -EINVAL, "invalid role name");
	stop_server();
}

Test(kms_client, kubernetes_login_without_k8s_auth_is_refused)
{
	char jwt[PATH_MAX];

	path(jwt, "jwt");
	sh("printf 'eyJhbGciOiJSUzI1NiJ9.e30.sig\\n' >%s", jwt);
	start_server(false, three);
	assert_login_fails("envcryptfs", "jwt", -EACCES, "permission denied");
	stop_server();
}

Test(kms_client, mtls_client_certificates)
{
	char ca[PATH_MAX];
	const char *args[] = {"--tls-client-ca", ca, NULL};
	struct ecfs_kms *k;

	path(ca, "ca.pem");
	start_server_with(false, three, args);
	k = client((struct opts){.cert = "cli"});
	cr_assert_eq(round_trip(k), 0, "%s", ecfs_last_error());
	ecfs_kms_free(k);
	/* microhttpd only asks for a certificate: kmsd refuses each request itself, with 403. */
	k = client((struct opts){.retries = -1});
	cr_assert_eq(round_trip(k), -EACCES, "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "client certificate required"), "%s",
		  ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "--kms-cert"), "%s", ecfs_last_error());
	cr_assert(!strstr(ecfs_last_error(), "token"), "%s", ecfs_last_error());
	ecfs_kms_free(k);
	k = client((struct opts){.cert = "cli2", .retries = -1});
	cr_assert_eq(round_trip(k), -EACCES, "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "client certificate not trusted"), "%s",
		  ecfs_last_error());
	ecfs_kms_free(k);
	stop_server();
}

/* openssl s_server on a free port that requires a client certificate signed by ca.pem and
 * refuses the handshake otherwise, as Vault with tls_require_and_verify_client_cert does
 * (kmsd itself answers 403); extra: "-tls1_2" or NULL. Returns its pid; sets port. */
static pid_t start_strict_tls_server(const char *extra)
{
	char url[64], cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX], accept[32];
	int s = silent_listener("https", url, sizeof(url)), c;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	pid_t pid;

	port = atoi(strrchr(url, ':') + 1);
	close(s); /* the port is free again for s_server */
	path(cert, "srv.pem");
	path(key, "srv.key");
	path(ca, "ca.pem");
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key",
		       key, "-CAfile", ca, "-Verify", "1", "-verify_return_error", "-www", "-quiet",
		       extra, (char *)NULL);
		_exit(127);
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	for (int i = 0; i < 500; i++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		c = connect(s, (struct sockaddr *)&sa, sizeof(sa));
		close(s);
		if (c == 0)
			return pid;
		cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "openssl s_server exited");
		usleep(20000);
	}
	cr_assert_fail("openssl s_server did not start listening");
	return -1;
}

/* A refused client certificate fails at once as a TLS error that names the option. */
static void assert_cert_refused(const char *cert, const char *phrase)
{
	struct ecfs_kms *k = client((struct opts){.cert = cert}); /* the default retries */

	cr_assert_eq(ecfs_kms_health(k), -EPROTO, "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "--kms-cert"), "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), phrase), "%s", ecfs_last_error());
	ecfs_kms_free(k);
}

Test(kms_client, refused_client_certificate_is_a_tls_error)
{
	const char *versions[] = {NULL, "-tls1_2"};

	for (size_t i = 0; i < 2; i++) {
		pid_t pid = start_strict_tls_server(versions[i]);

		/* TLS 1.3 refuses after the handshake, on the first read; TLS 1.2 during it,
		 * where a missing certificate is only a "handshake failure". */
		assert_cert_refused("cli2", "refused the client certificate");
		if (!versions[i])
			assert_cert_refused(NULL, "wants a client certificate");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

Test(kms_client, namespace_is_required)
{
	const char *args[] = {"--namespace", "team1", NULL};
	struct ecfs_kms *k;

	start_server_with(false, three, args);
	k = client((struct opts){.namespace_ = "team1"});
	cr_assert_eq(round_trip(k), 0, "%s", ecfs_last_error());
	cr_assert_eq(ecfs_kms_health(k), 0, "%s", ecfs_last_error());
	ecfs_kms_free(k);
	k = client((struct opts){.retries = -1});
	cr_assert_eq(round_trip(k), -EACCES, "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "permission denied"), "%s", ecfs_last_error());
	cr_assert(strstr(ecfs_last_error(), "--kms-namespace"), "%s", ecfs_last_error());
	ecfs_kms_free(k);
	k = client((struct opts){.namespace_ = "team2", .retries = -1});
	cr_assert_eq(round_trip(k), -EACCES, "%s", ecfs_last_error());
	ecfs_kms_free(k);
	stop_server();
}

/* ---- configuration (no server) -------------------------------------------------------------- */

static int try_new(const char *url, const char *key, const char *cert, const char *ckey)
{
	char token[PATH_MAX];
	struct ecfs_kms_config cfg = {0};
	struct ecfs_kms *k = NULL;
	int r;

	path(token, "st/token");
	cfg = (struct ecfs_kms_config){
	    .url = url, .key = key, .token_file = token, .cert = cert, .client_key = ckey};
	r = ecfs_kms_new(&cfg, &k);
	ecfs_kms_free(k);
	return r;
}

Test(kms_client, config_rules)
{
	struct ecfs_kms_config cfg = {0};
	struct ecfs_kms *k;

	cr_assert_eq(try_new("http://10.0.0.1:8200", "k", NULL, NULL), -EINVAL);
	cr_assert(strstr(ecfs_last_error(), "loopback"), "%s", ecfs_last_error());
	cr_assert_eq(try_new("http://127.0.0.1.example.com:8200", "k", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("http://[::2]:8200", "k", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("http://127.0.0.1:8200", "k", NULL, NULL), 0);
	cr_assert_eq(try_new("http://127.9.8.7:8200/", "k", NULL, NULL), 0);
	cr_assert_eq(try_new("http://[::1]:8200", "k", NULL, NULL), 0);
	cr_assert_eq(try_new("http://LOCALHOST:8200", "k", NULL, NULL), 0);
	cr_assert_eq(try_new("https://vault.example.com:8200/prefix", "k", NULL, NULL), 0);
	cr_assert_eq(try_new("ftp://127.0.0.1", "k", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("https://u:p@vault.example.com", "k", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("https://vault.example.com/?x=1", "k", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("not a url", "k", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("https://h", "k", "c.pem", NULL), -EINVAL);
	cr_assert_eq(try_new("https://h", "k", NULL, "c.key"), -EINVAL);
	cr_assert_eq(try_new("https://h", "k", "c.pem", "c.key"), 0);
	cr_assert_eq(try_new("https://h", "../k", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("https://h", "k/rotate", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("https://h", "-k", NULL, NULL), -EINVAL);
	cr_assert_eq(try_new("https://h", "a.b@c-d_e", NULL, NULL), 0);
	cr_assert_eq(try_new("https://h", NULL, NULL, NULL), -EINVAL);

	/* Token sources: none at all is an error; $VAULT_TOKEN; a bad token file. */
	cfg = (struct ecfs_kms_config){.url = "https://h", .key = "k"};
	cr_assert_eq(ecfs_kms_new(&cfg, &k), -EINVAL);
	cr_assert(strstr(ecfs_last_error(), "no KMS token"), "%s", ecfs_last_error());
	setenv("VAULT_TOKEN", "hvs.from-env", 1);
	cr_assert_eq(ecfs_kms_new(&cfg, &k), 0);
	cr_assert_eq(ecfs_secret_len(k->token), 12);
	ecfs_kms_free(k);
	setenv("VAULT_TOKEN", "hvs.a\r\nX-Evil: 1", 1);
	cr_assert_eq(ecfs_kms_new(&cfg, &k), -EINVAL);
	unsetenv("VAULT_TOKEN");
	cfg.token_file = "/nonexistent/token";
	cr_assert_eq(ecfs_kms_new(&cfg, &k), -ENOENT);
	cfg.token_file = NULL;
	cfg.mount = "transit/../sys";
	cfg.role = "r";
	cr_assert_eq(ecfs_kms_new(&cfg, &k), -EINVAL);
	cfg.mount = "team-a/transit";
	cr_assert_eq(ecfs_kms_new(&cfg, &k), 0);
	ecfs_kms_free(k);
	cfg.timeout_ms = -1;
	cr_assert_eq(ecfs_kms_new(&cfg, &k), -EINVAL);
}
