/* SPDX-License-Identifier: MIT */
/*
 * roundtrip.c - the machine's floor under every FUSE request, printed in the header of
 * `make bench`: what a system call costs, and what one wake-up of another process and back
 * costs (a byte sent over a pipe to a child that sends it back), which a synchronous FUSE
 * request pays at least once (the caller sleeps, a daemon thread wakes, then the caller).
 * On a virtual machine whose scheduler or hypervisor makes wake-ups slow this floor, not the
 * file system, bounds creates, deletes and small random reads. Medians of several rounds.
 * usage: roundtrip [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRIPS 20000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Microseconds per system call (getppid: nothing to do but enter and leave the kernel). */
static double syscall_us(void)
{
	double t0 = now();

	for (int i = 0; i < TRIPS; i++)
		syscall(SYS_getppid);
	return (now() - t0) / TRIPS * 1e6;
}

static void echo_loop(int in, int out)
{
	char c;

	while (read(in, &c, 1) == 1)
		if (write(out, &c, 1) != 1)
			break;
	_exit(0);
}

/* Microseconds per round trip to another process and back. */
static double process_trip_us(void)
{
	int to[2], from[2];
	char c = 'x';
	double t0, t;
	pid_t pid;

	if (pipe(to) < 0 || pipe(from) < 0)
		die("roundtrip: pipe");
	pid = fork();
	if (pid < 0)
		die("roundtrip: fork");
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		echo_loop(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	t0 = now();
	for (int i = 0; i < TRIPS; i++)
		if (write(to[1], &c, 1) != 1 || read(from[0], &c, 1) != 1)
			die("roundtrip: pipe I/O");
	t = (now() - t0) / TRIPS * 1e6;
	close(to[1]);
	close(from[0]);
	waitpid(pid, NULL, 0);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	double sys[64], trip[64];

	if (rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: roundtrip [ROUNDS (1-64)]\n");
		return 2;
	}
	for (int i = 0; i < rounds; i++) {
		sys[i] = syscall_us();
		trip[i] = process_trip_us();
	}
	qsort(sys, (size_t)rounds, sizeof(double), cmp_double);
	qsort(trip, (size_t)rounds, sizeof(double), cmp_double);
	printf("system call %.2f us, round trip to another process %.1f us\n", sys[rounds / 2],
	       trip[rounds / 2]);
	return 0;
}
