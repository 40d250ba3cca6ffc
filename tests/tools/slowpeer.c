/* SPDX-License-Identifier: MIT */
/*
 * slowpeer.c - the slow and silent peers of the KMS availability tests.
 *
 *   slowpeer listen [PORT]
 *       a server that takes connections and never answers: prints "port N" (PORT on
 *       127.0.0.1, default a free one), then accepts and holds every connection, silent,
 *       until killed.
 *
 *   slowpeer connect HOST:PORT --count N [--from ADDR[,ADDR...]] [--trickle] [--tls]
 *                    [--expect-closed M] [--seconds S]
 *       a client that opens N connections to HOST:PORT (a numeric IPv4 address), spread over
 *       the local source addresses given (127.0.0.2 and up are all local on Linux), prints
 *       "opened N", then keeps them open: idle, or with --trickle sending one byte of an
 *       endless request header per second on each (with --tls, of a TLS handshake record
 *       that announces 16 KiB and never ends). It counts the connections the server
 *       closes and exits 0 once M of them (default all N) are closed, or prints the counts
 *       and exits 1 after S seconds (default 60). Exit 2 on a usage or setup error.
 *
 * Only the test's own processes are involved; nothing here needs privileges.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS   4096
#define MAX_SOURCES 16

static const char request_head[] = "POST /v1/sys/health HTTP/1.1\r\nHost: kms\r\nX-Slow: ";
/* A TLS 1.0-framed handshake record of 16 KiB, then a ClientHello header of as much. */
static const char tls_head[] = "\x16\x03\x01\x40\x00\x01\x00\x3f\xfc\x03\x03";

struct head {
	const char *bytes;
	size_t len;
	char fill; /* sent once the head is out */
};

struct peer {
	int fd; /* -1 once the server closed it */
	size_t sent;
};

static void die(const char *what)
{
	fprintf(stderr, "slowpeer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: slowpeer listen [PORT]\n"
			"       slowpeer connect HOST:PORT --count N [--from ADDR[,ADDR...]] "
			"[--trickle] [--tls] [--expect-closed M] [--seconds S]\n");
	exit(2);
}

__attribute__((noreturn)) static void run_listen(const char *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)(port ? atoi(port) : 0));
	/* The port of a server just stopped, whose connections may linger in TIME_WAIT. */
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0)
		die("listen");
	printf("port %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	/* Accepted connections stay open (and unread) until the process is killed. */
	for (;;)
		if (accept(s, NULL, NULL) < 0 && errno != EINTR && errno != ECONNABORTED)
			sleep(1); /* out of descriptors: callers still wait in the backlog */
}

struct connect_opts {
	struct sockaddr_in to;
	struct in_addr from[MAX_SOURCES];
	int nfrom, count, expect_closed, seconds;
	bool trickle;
	struct head head;
};

static void parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		usage();
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		usage();
}

static void parse_sources(char *list, struct connect_opts *o)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		if (o->nfrom == MAX_SOURCES || inet_pton(AF_INET, tok, &o->from[o->nfrom]) != 1)
			usage();
		o->nfrom++;
	}
}

static void parse_connect(int argc, char **argv, struct connect_opts *o)
{
	if (argc < 3)
		usage();
	parse_addr(argv[2], &o->to);
	o->seconds = 60;
	o->head = (struct head){request_head, sizeof(request_head) - 1, 'a'};
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--trickle") == 0) {
			o->trickle = true;
			continue;
		}
		if (strcmp(a, "--tls") == 0) {
			o->head = (struct head){tls_head, sizeof(tls_head) - 1, '\0'};
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--count") == 0)
			o->count = atoi(v);
		else if (strcmp(a, "--from") == 0)
			parse_sources(argv[i], o);
		else if (strcmp(a, "--expect-closed") == 0)
			o->expect_closed = atoi(v);
		else if (strcmp(a, "--seconds") == 0)
			o->seconds = atoi(v);
		else
			usage();
	}
	if (o->count <= 0 || o->count > MAX_CONNS || o->seconds <= 0)
		usage();
	if (o->expect_closed <= 0 || o->expect_closed > o->count)
		o->expect_closed = o->count;
	if (o->nfrom == 0)
		o->from[o->nfrom++].s_addr = htonl(INADDR_LOOPBACK);
}

static int open_one(const struct connect_opts *o, int i)
{
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = o->from[i % o->nfrom]};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	/* A connect that the server's full backlog leaves hanging gives up, and counts. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		die("bind to the source address");
	if (connect(fd, (const struct sockaddr *)&o->to, sizeof(o->to)) < 0)
		die("connect");
	return fd;
}

/* Whether the server has closed p (reading and dropping anything it said first). */
static bool server_closed(struct peer *p)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* One more byte of a request that never ends. */
static bool trickle_one(const struct head *h, struct peer *p)
{
	char c = p->sent < h->len ? h->bytes[p->sent] : h->fill;

	if (send(p->fd, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
		p->sent++;
		return true;
	}
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

static int closed_count(struct peer *peers, int n)
{
	int closed = 0;

	for (int i = 0; i < n; i++) {
		if (peers[i].fd >= 0 && server_closed(&peers[i])) {
			close(peers[i].fd);
			peers[i].fd = -1;
		}
		closed += peers[i].fd < 0;
	}
	return closed;
}

static int run_connect(int argc, char **argv)
{
	struct connect_opts o = {0};
	static struct peer peers[MAX_CONNS];
	time_t end;
	int closed = 0;

	parse_connect(argc, argv, &o);
	for (int i = 0; i < o.count; i++)
		peers[i] = (struct peer){.fd = open_one(&o, i)};
	printf("opened %d\n", o.count);
	fflush(stdout);
	end = time(NULL) + o.seconds;
	while (time(NULL) < end) {
		closed = closed_count(peers, o.count);
		if (closed >= o.expect_closed) {
			printf("closed %d of %d\n", closed, o.count);
			return 0;
		}
		for (int i = 0; o.trickle && i < o.count; i++)
			if (peers[i].fd >= 0 && !trickle_one(&o.head, &peers[i])) {
				close(peers[i].fd);
				peers[i].fd = -1;
			}
		sleep(1);
	}
	printf("closed %d of %d; expected %d\n", closed, o.count, o.expect_closed);
	return 1;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "listen") == 0)
		run_listen(argc >= 3 ? argv[2] : NULL);
	if (argc >= 2 && strcmp(argv[1], "connect") == 0)
		return run_connect(argc, argv);
	usage();
	return 2;
}
