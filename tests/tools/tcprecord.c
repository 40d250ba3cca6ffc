/* SPDX-License-Identifier: MIT */
/*
 * tcprecord.c - a listener that answers nothing and records everything, for the tests in which
 * an attacker's address is planted in a volume: it shows whether any connection, request or
 * token ever reached it.
 *
 *   tcprecord FILE     listens on 127.0.0.1 (a free port), prints "port N" on stdout, then
 *                      appends "connection" and every byte received to FILE, until killed
 *
 * Each connection is read until the peer closes it or is silent for 2 s, then closed unanswered.
 * Exits 2 on a usage error, 1 when it cannot listen.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int listen_loopback(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("tcprecord: listen");
		return -1;
	}
	printf("port %u\n", ntohs(a.sin_port));
	fflush(stdout);
	return fd;
}

/* Appends what the peer on c sends to out, with a marker line first. */
static void record(int c, int out)
{
	struct timeval tv = {.tv_sec = 2};
	char buf[4096];
	ssize_t n;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(out, "connection\n", 11) < 0)
		return;
	while ((n = read(c, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return;
	fsync(out);
}

int main(int argc, char **argv)
{
	int fd, out;

	if (argc != 2) {
		fprintf(stderr, "usage: tcprecord FILE\n");
		return 2;
	}
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (out < 0) {
		perror(argv[1]);
		return 1;
	}
	fd = listen_loopback();
	if (fd < 0)
		return 1;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			continue;
		record(c, out);
		close(c);
	}
}
