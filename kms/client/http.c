/* SPDX-License-Identifier: MIT */
/*
 * http.c - one HTTP exchange with the KMS over libcurl: TLS always verified, no redirects,
 * the response read into locked memory of bounded size, and transport failures turned into
 * errno values with the cause spelled out.
 */
#include "client.h"
#include "ecfs_util.h"
#include "transit_json.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	/* curl's buffers hold the token header, request bodies and responses (the DEK in
	 * base64): they live in the locked, wiped heap too (lib/secheap.c). */
	global_rc =
	    curl_global_init_mem(CURL_GLOBAL_DEFAULT, ecfs_secheap_malloc, ecfs_secheap_free,
				 ecfs_secheap_realloc, ecfs_secheap_strdup, ecfs_secheap_calloc);
}

int kms_http_init(struct ecfs_kms *k)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return ecfs_fail(-EIO, "cannot initialize libcurl: %s",
				 curl_easy_strerror(global_rc));
	k->curl = curl_easy_init();
	return k->curl ? 0 : ecfs_fail(-ENOMEM, "cannot create a libcurl handle");
}

int64_t kms_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long kms_time_left_ms(const struct ecfs_kms *k)
{
	int64_t left;

	if (!k->deadline_ms)
		return k->timeout_ms;
	left = k->deadline_ms - kms_now_ms();
	return left > 0 ? (long)left : 0;
}

void kms_http_free(struct ecfs_kms *k)
{
	if (k->curl)
		curl_easy_cleanup(k->curl);
	k->curl = NULL;
}

void kms_http_resp_free(struct kms_http_resp *r)
{
	ecfs_secret_free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Where the body goes: locked memory, grown by copying (the old copy is wiped). */
struct sink {
	struct ecfs_secret *buf;
	size_t len;
	bool too_big;
};

static bool sink_grow(struct sink *s, size_t need)
{
	size_t cap = s->buf ? ecfs_secret_len(s->buf) : 0, want = cap ? cap * 2 : 16384;
	struct ecfs_secret *nb;

	if (need <= cap)
		return true;
	while (want < need)
		want *= 2;
	nb = ecfs_secret_new(want);
	if (!nb)
		return false;
	if (s->len)
		memcpy(ecfs_secret_data(nb), ecfs_secret_data(s->buf), s->len);
	ecfs_secret_free(s->buf);
	s->buf = nb;
	return true;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (n > KMS_BODY_MAX - s->len) {
		s->too_big = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (!sink_grow(s, s->len + n))
		return 0;
	memcpy(ecfs_secret_data(s->buf) + s->len, data, n);
	s->len += n;
	return n;
}

/* Wipes the header strings curl copied (the token among them) before freeing them. */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		ecfs_wipe(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

/* Appends "name: value" built in locked memory, so only curl's own copy exists outside. */
static int add_header(struct curl_slist **h, const char *name, const uint8_t *value, size_t len)
{
	size_t nlen = strlen(name);
	struct ecfs_secret *line = ecfs_secret_new(nlen + 2 + len + 1);
	struct curl_slist *n;
	char *p;

	if (!line)
		return -ENOMEM;
	p = (char *)ecfs_secret_data(line);
	memcpy(p, name, nlen);
	memcpy(p + nlen, ": ", 2);
	memcpy(p + nlen + 2, value, len);
	p[nlen + 2 + len] = '\0';
	n = curl_slist_append(*h, p);
	ecfs_secret_free(line);
	if (!n)
		return -ENOMEM;
	*h = n;
	return 0;
}

static int build_headers(struct ecfs_kms *k, bool with_body, bool with_token,
			 struct curl_slist **out)
{
	struct curl_slist *h = NULL;
	int r = 0;

	/* No "Expect: 100-continue" round trip before larger bodies. */
	h = curl_slist_append(h, "Expect:");
	if (h && with_body)
		h = curl_slist_append(h, "Content-Type: application/json");
	if (!h)
		r = -ENOMEM;
	if (r == 0 && k->namespace_)
		r = add_header(&h, "X-Vault-Namespace", (const uint8_t *)k->namespace_,
			       strlen(k->namespace_));
	if (r == 0 && with_token && k->token)
		r = add_header(&h, "X-Vault-Token", ecfs_secret_data(k->token),
			       ecfs_secret_len(k->token));
	if (r < 0) {
		free_headers(h);
		return ecfs_fail(r, "out of memory");
	}
	*out = h;
	return 0;
}

static void set_method(CURL *c, const char *method, const char *body, size_t body_len)
{
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "DELETE") != 0 || body) {
		/* The body is sent from our locked buffer; curl does not copy it. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
	}
}

static void set_tls(struct ecfs_kms *k, CURL *c)
{
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (k->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, k->cacert);
	if (k->cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, k->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, k->client_key);
	}
}

static int set_options(struct ecfs_kms *k, const char *url, long timeout_ms, struct sink *s,
		       char *errbuf)
{
	CURL *c = k->curl;

	curl_easy_reset(c); /* options only: live connections and TLS sessions stay */
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK)
		return ecfs_fail(-EINVAL, "libcurl refuses the URL");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* The whole exchange (connect, TLS, request, answer) ends by the call's deadline. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "envcryptfs/" ECFS_VERSION_STRING);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	set_tls(k, c);
	return 0;
}

static bool is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return true;
	default:
		return false;
	}
}

/* The errno for a failed connect, from the socket error curl saw. */
static int connect_errno(CURL *c)
{
	long os = 0;

	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os);
	switch (os) {
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EADDRNOTAVAIL:
		return -EHOSTUNREACH;
	case ETIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -ECONNREFUSED;
	}
}

/* TLS alerts a server sends when it refuses the client's certificate (or the lack of one):
 * in the handshake with TLS 1.2, on the first read after it with TLS 1.3 (OpenSSL's words). */
static bool refuses_client_cert(const char *why)
{
	static const char *const alerts[] = {"alert bad certificate", "alert certificate",
					     "alert unknown ca", "alert access denied",
					     "alert unsupported certificate"};

	for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++)
		if (strcasestr(why, alerts[i]))
			return true;
	return false;
}

/* A TLS failure that concerns the client certificate: one line that names the option. */
static int client_cert_error(struct ecfs_kms *k, CURLcode rc, const char *why)
{
	if (rc == CURLE_SSL_CERTPROBLEM)
		return ecfs_fail(-EPROTO,
				 "TLS failed: cannot use the client certificate '%s' or its key "
				 "(--kms-cert, --kms-client-key): %s",
				 k->cert ? k->cert : "", why);
	if (k->cert)
		return ecfs_fail(-EPROTO,
				 "TLS failed: the server refused the client certificate '%s' "
				 "(--kms-cert): %s",
				 k->cert, why);
	return ecfs_fail(-EPROTO,
			 "TLS failed: the server wants a client certificate (--kms-cert and "
			 "--kms-client-key): %s",
			 why);
}

static int transport_error(struct ecfs_kms *k, CURLcode rc, const struct sink *s,
			   const char *errbuf)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	if (rc == CURLE_WRITE_ERROR && s->too_big)
		return ecfs_fail(-EBADMSG, "the response exceeds %u bytes", KMS_BODY_MAX);
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return ecfs_fail(-EPROTO, "TLS certificate verify failed (%s); %s", why,
				 k->cacert
				     ? "is the cacert file the CA that signed the server's "
				       "certificate?"
				     : "give the CA file that signed it with the cacert option");
	if (rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CLIENTCERT || refuses_client_cert(why))
		return client_cert_error(k, rc, why);
	/* Any other alert from the server ends the exchange for a reason a retry keeps. */
	if (is_tls_error(rc) || strcasestr(why, " alert "))
		return ecfs_fail(-EPROTO, "TLS failed: %s", why);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return ecfs_fail(-EHOSTUNREACH, "cannot resolve the host: %s", why);
	case CURLE_COULDNT_CONNECT: {
		int e = connect_errno(k->curl);

		return ecfs_fail(e, "cannot connect: %s", why);
	}
	case CURLE_OPERATION_TIMEDOUT:
		return ecfs_fail(-ETIMEDOUT,
				 "timed out: no answer within %d ms (--kms-timeout): %s",
				 k->timeout_ms, why);
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return ecfs_fail(-ECONNRESET, "the connection broke: %s", why);
	case CURLE_OUT_OF_MEMORY:
		return ecfs_fail(-ENOMEM, "out of memory: %s", why);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return ecfs_fail(-EINVAL, "bad URL: %s", why);
	default:
		return ecfs_fail(-EIO, "HTTP request failed: %s", why);
	}
}

int kms_http_once(struct ecfs_kms *k, const char *method, const char *path, const char *body,
		  size_t body_len, bool with_token, struct kms_http_resp *resp)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct sink s = {0};
	long left = kms_time_left_ms(k);
	CURLcode rc;
	char *url;
	int r;

	memset(resp, 0, sizeof(*resp));
	if (left <= 0)
		return ecfs_fail(-ETIMEDOUT, "timed out: no answer within %d ms (--kms-timeout)",
				 k->timeout_ms);
	if (asprintf(&url, "%s%s", k->base, path) < 0)
		return ecfs_fail(-ENOMEM, "out of memory");
	r = set_options(k, url, left, &s, errbuf);
	if (r == 0)
		r = build_headers(k, body != NULL, with_token, &hdrs);
	if (r == 0) {
		curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, hdrs);
		set_method(k->curl, method, body, body_len);
		rc = curl_easy_perform(k->curl);
		/* libcurl and OpenSSL leave pieces of the request (the token header) and of
		 * the response on the stack below this frame. */
		ecfs_wipe_stack();
		if (rc != CURLE_OK)
			r = transport_error(k, rc, &s, errbuf);
		else
			curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	}
	/* Drop the header list from the handle before it is wiped and freed. */
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, NULL);
	free_headers(hdrs);
	free(url);
	if (r < 0) {
		ecfs_secret_free(s.buf);
		return r;
	}
	resp->body = s.buf;
	resp->len = s.len;
	return 0;
}
